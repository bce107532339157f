/* Philox4x32-10 (Salmon, Moraes, Dror, Shaw, SC 2011) and the public word API. */
#include "kernels.h"

static inline void philox_round(uint32_t c[4], const uint32_t k[2])
{
    const uint64_t p0 = (uint64_t)GD_PHILOX_M0 * c[0];
    const uint64_t p1 = (uint64_t)GD_PHILOX_M1 * c[2];
    const uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    const uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    c[0] = hi1 ^ c[1] ^ k[0];
    c[1] = lo1;
    c[2] = hi0 ^ c[3] ^ k[1];
    c[3] = lo0;
}

static void philox10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
    uint32_t k[2] = {key[0], key[1]};
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k[0] += GD_PHILOX_W0;
            k[1] += GD_PHILOX_W1;
        }
        philox_round(c, k);
    }
    out[0] = c[0];
    out[1] = c[1];
    out[2] = c[2];
    out[3] = c[3];
}

void gd_philox_block(uint64_t block, const gd_keyctx *k, uint32_t out[4])
{
    const uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), k->stream[0],
                             k->stream[1]};
    philox10(ctr, k->key, out);
}

int gd_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    if (!ctr || !key || !out)
        return GD_EINVAL;
    uint32_t tmp[4]; /* out may alias ctr */
    philox10(ctr, key, tmp);
    for (int i = 0; i < 4; i++)
        out[i] = tmp[i];
    return GD_OK;
}

int gd_random_u32(uint32_t *r, size_t n, const gd_stream *s)
{
    if (n == 0)
        return GD_OK;
    if (!gd_count_ok(n))
        return GD_EOVERFLOW;
    if (!r || !s)
        return GD_EINVAL;
    if (!gd_range_ok(s->offset, n))
        return GD_EOVERFLOW;
    const gd_keyctx k = gd_keyctx_from(s);
    gd_kernels_get()->words(r, n, s->offset, &k);
    return GD_OK;
}

int gd_random_normal(float *z, size_t n, const gd_stream *s)
{
    if (n == 0)
        return GD_OK;
    if (!gd_count_ok(n))
        return GD_EOVERFLOW;
    if (!z || !s)
        return GD_EINVAL;
    if (!gd_range_ok(s->offset, n))
        return GD_EOVERFLOW;
    const gd_keyctx k = gd_keyctx_from(s);
    gd_kernels_get()->normal(z, n, s->offset, &k);
    return GD_OK;
}

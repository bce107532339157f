/*
 * The scalar kernels: the reference every SIMD path must match bit for bit.
 *
 * Each kernel walks the call in chunks of CHUNK elements (a multiple of 8, so
 * chunks start on mask byte boundaries): it draws the chunk's stream words
 * into a stack buffer, then applies a branch-free element loop.
 */
#include "kernels.h"

#include <string.h>

enum { CHUNK = 256 };

static void words_scalar(uint32_t *w, size_t n, uint64_t first, const gd_keyctx *k)
{
    size_t j = 0;
    uint64_t block = first >> 2;
    unsigned lane = (unsigned)(first & 3);
    while (j < n) {
        uint32_t out[4];
        gd_philox_block(block, k, out);
        for (; lane < 4 && j < n; lane++)
            w[j++] = out[lane];
        lane = 0;
        block++;
    }
}

/* keep bit of one word: (uint64)w >= thr, where thr may be 2^32. */
static inline unsigned keep_bit(uint32_t w, uint64_t thr)
{
    return (uint64_t)w >= thr;
}

static inline size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Packs the keep bits of words w[0..len) into mask bytes (len <= CHUNK,
 * zero padding in the last byte). */
static void pack_bits(uint8_t *mask, const uint32_t *w, size_t len, uint64_t thr)
{
    for (size_t b = 0; b * 8 < len; b++) {
        unsigned byte = 0;
        const size_t end = min_size(len, b * 8 + 8);
        for (size_t j = b * 8; j < end; j++)
            byte |= keep_bit(w[j], thr) << (j & 7);
        mask[b] = (uint8_t)byte;
    }
}

static void mask_scalar(uint8_t *mask, size_t n, uint64_t first, uint64_t thr,
                        const gd_keyctx *k)
{
    uint32_t w[CHUNK];
    for (size_t j0 = 0; j0 < n; j0 += CHUNK) {
        const size_t len = min_size(CHUNK, n - j0);
        words_scalar(w, len, first + j0, k);
        pack_bits(mask + j0 / 8, w, len, thr);
    }
}

static void fwd_scalar(float *y, const float *x, uint8_t *mask, size_t n, uint64_t first,
                       uint64_t thr, float s, const gd_keyctx *k)
{
    uint32_t w[CHUNK];
    for (size_t j0 = 0; j0 < n; j0 += CHUNK) {
        const size_t len = min_size(CHUNK, n - j0);
        words_scalar(w, len, first + j0, k);
        for (size_t j = 0; j < len; j++)
            y[j0 + j] = keep_bit(w[j], thr) ? x[j0 + j] * s : 0.0f;
        if (mask)
            pack_bits(mask + j0 / 8, w, len, thr);
    }
}

static inline unsigned mask_bit(const uint8_t *mask, size_t j)
{
    return (mask[j >> 3] >> (j & 7)) & 1u;
}

static void bwd_mask_scalar(float *dx, const float *dy, const uint8_t *mask, size_t n, float s)
{
    for (size_t j = 0; j < n; j++)
        dx[j] = mask_bit(mask, j) ? dy[j] * s : 0.0f;
}

static void fwd_cols_scalar(float *y, const float *x, uint8_t *mask, size_t rows, size_t cols,
                            const float *p_cols, uint64_t first, const gd_keyctx *k)
{
    const size_t n = rows * cols;
    uint32_t w[CHUNK];
    size_t c = 0;
    for (size_t j0 = 0; j0 < n; j0 += CHUNK) {
        const size_t len = min_size(CHUNK, n - j0);
        words_scalar(w, len, first + j0, k);
        if (mask)
            memset(mask + j0 / 8, 0, gd_mask_bytes(len));
        for (size_t j = 0; j < len; j++) {
            const float p = p_cols[c];
            const unsigned keep = keep_bit(w[j], gd_threshold(p));
            y[j0 + j] = keep ? x[j0 + j] * gd_keep_scale(p) : 0.0f;
            if (mask)
                mask[(j0 + j) >> 3] |= (uint8_t)(keep << (j & 7));
            c = c + 1 == cols ? 0 : c + 1;
        }
    }
}

static void bwd_mask_cols_scalar(float *dx, const float *dy, const uint8_t *mask, size_t rows,
                                 size_t cols, const float *p_cols)
{
    size_t j = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++, j++)
            dx[j] = mask_bit(mask, j) ? dy[j] * gd_keep_scale(p_cols[c]) : 0.0f;
}

static void add_fwd_scalar(float *y, const float *x, const float *bias, const float *residual,
                           uint8_t *mask, size_t rows, size_t cols, uint64_t first, uint64_t thr,
                           float s, const gd_keyctx *k)
{
    const size_t n = rows * cols;
    uint32_t w[CHUNK];
    size_t c = 0;
    for (size_t j0 = 0; j0 < n; j0 += CHUNK) {
        const size_t len = min_size(CHUNK, n - j0);
        words_scalar(w, len, first + j0, k);
        for (size_t j = 0; j < len; j++) {
            float v = x[j0 + j];
            if (bias)
                v = v + bias[c];
            v = keep_bit(w[j], thr) ? v * s : 0.0f;
            if (residual)
                v = residual[j0 + j] + v;
            y[j0 + j] = v;
            c = c + 1 == cols ? 0 : c + 1;
        }
        if (mask)
            pack_bits(mask + j0 / 8, w, len, thr);
    }
}

/* Fills z[0..len) for absolute indices first.. from their Philox blocks. */
static void normal_scalar(float *z, size_t n, uint64_t first, const gd_keyctx *k)
{
    size_t j = 0;
    uint64_t block = first >> 2;
    unsigned lane = (unsigned)(first & 3);
    while (j < n) {
        uint32_t w[4];
        float zz[4];
        gd_philox_block(block, k, w);
        gd_normal_pair(w[0], w[1], zz);
        gd_normal_pair(w[2], w[3], zz + 2);
        for (; lane < 4 && j < n; lane++)
            z[j++] = zz[lane];
        lane = 0;
        block++;
    }
}

static void gauss_scalar(float *y, const float *x, size_t n, float sigma, uint64_t first,
                         const gd_keyctx *k)
{
    float z[CHUNK];
    for (size_t j0 = 0; j0 < n; j0 += CHUNK) {
        const size_t len = min_size(CHUNK, n - j0);
        normal_scalar(z, len, first + j0, k);
        for (size_t j = 0; j < len; j++)
            y[j0 + j] = x[j0 + j] * (1.0f + sigma * z[j]);
    }
}

static void normal_words_scalar(float *z, const uint32_t *w, size_t nblocks)
{
    for (size_t b = 0; b < nblocks; b++) {
        gd_normal_pair(w[4 * b], w[4 * b + 1], z + 4 * b);
        gd_normal_pair(w[4 * b + 2], w[4 * b + 3], z + 4 * b + 2);
    }
}

/* The reference of the Fisher passes: what fisher.c and fisher_dense.c
 * did before they went through the table. */
static bool finite_scalar(float *sq, const float *x, size_t n, float *amax)
{
    float m = 0.0f;
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        const float a = fabsf(x[i]);
        if (!(a <= 3.402823466e38f)) /* NaN or Inf */
            ok = false;
        else
            m = a > m ? a : m;
        if (sq)
            sq[i] = x[i] * x[i];
    }
    if (ok && amax)
        *amax = m;
    return ok;
}

static void acc_add_scalar(double *acc, const float *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        acc[i] += (double)g[i];
}

static void acc_add_sq_scalar(double *acc, const float *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        acc[i] += (double)g[i] * (double)g[i];
}

/* Row by row in order, each column's sum in double (the families' order). */
static bool acc_rows_scalar(double *acc, const void *x, size_t rows, size_t cols, size_t ld,
                            int dt)
{
    if (dt != GD_F32)
        return false;
    for (size_t r = 0; r < rows; r++) {
        const float *row = (const float *)x + r * ld;
        for (size_t c = 0; c < cols; c++)
            acc[c] += (double)row[c];
    }
    return true;
}

const gd_kernels gd_kernels_scalar = {
    .name = "scalar",
    .words = words_scalar,
    .mask = mask_scalar,
    .fwd = fwd_scalar,
    .bwd_mask = bwd_mask_scalar,
    .fwd_cols = fwd_cols_scalar,
    .bwd_mask_cols = bwd_mask_cols_scalar,
    .add_fwd = add_fwd_scalar,
    .normal = normal_scalar,
    .gauss = gauss_scalar,
    .normal_words = normal_words_scalar,
    .finite = finite_scalar,
    .acc_add = acc_add_scalar,
    .acc_add_sq = acc_add_sq_scalar,
    .acc_rows = acc_rows_scalar,
    .acc_prod = NULL, /* see kernels.h */
};

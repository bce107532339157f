/*
 * libgdropout internals shared by the implementation files.  Never installed.
 */
#ifndef GDROPOUT_INTERNAL_H
#define GDROPOUT_INTERNAL_H

#include <gdropout/gdropout.h>

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- checked size arithmetic ------------------------------------------ */

static inline bool gd_mul_ok(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

static inline bool gd_add_ok(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/* Bytes of a bit mask for n elements; cannot overflow. */
static inline size_t gd_mask_bytes(size_t n)
{
    return n / 8 + (n % 8 != 0);
}

/* A call on n elements from absolute index offset must stay below 2^64. */
static inline bool gd_range_ok(uint64_t offset, size_t n)
{
    uint64_t last;
    return n == 0 || !__builtin_add_overflow(offset, (uint64_t)n - 1, &last);
}

/* ---- probabilities ---------------------------------------------------- */

static inline bool gd_prob_ok(float p)
{
    return p >= 0.0f && p <= 1.0f; /* false for NaN */
}

/* t(p) of the drop rule: element dropped iff (uint64)word < t. */
static inline uint64_t gd_threshold(float p)
{
    if (p >= 1.0f)
        return UINT64_C(1) << 32;
    return (uint64_t)floor((double)p * 4294967296.0);
}

static inline float gd_keep_scale(float p)
{
    return (float)(1.0 / (1.0 - (double)p));
}

/* ---- Philox ----------------------------------------------------------- */

/* Multipliers and Weyl key increments of Philox4x32 (docs/SPEC.md). */
static const uint32_t GD_PHILOX_M0 = 0xD2511F53u;
static const uint32_t GD_PHILOX_M1 = 0xCD9E8D57u;
static const uint32_t GD_PHILOX_W0 = 0x9E3779B9u;
static const uint32_t GD_PHILOX_W1 = 0xBB67AE85u;

/* The key and stream words of a gd_stream, unpacked once per call. */
typedef struct gd_keyctx {
    uint32_t key[2];
    uint32_t stream[2];
    /* round r's key, key + r * (W0, W1): the SIMD generator reads each as
     * a broadcast operand of its XOR (no register, no instruction of its
     * own), where a key bumped in a register and broadcast took 20
     * instructions a batch; the words alone took 0.92-0.93x the time in
     * cache, gd_dropout_fwd 0.97-0.98x (Zen 5, 2026-12-07) */
    uint32_t round[10][2];
} gd_keyctx;

static inline gd_keyctx gd_keyctx_from(const gd_stream *s)
{
    gd_keyctx k;
    k.key[0] = (uint32_t)s->seed;
    k.key[1] = (uint32_t)(s->seed >> 32);
    k.stream[0] = (uint32_t)s->stream;
    k.stream[1] = (uint32_t)(s->stream >> 32);
    for (uint32_t r = 0; r < 10; r++) {
        k.round[r][0] = k.key[0] + r * GD_PHILOX_W0;
        k.round[r][1] = k.key[1] + r * GD_PHILOX_W1;
    }
    return k;
}

/* One Philox4x32-10 block for block index `block` (= element index / 4). */
void gd_philox_block(uint64_t block, const gd_keyctx *k, uint32_t out[4]);

/* ---- the normal transform --------------------------------------------- */

/* z for the two elements of one Box-Muller pair from words (a, b):
 * z[0] for the even element (cos), z[1] for the odd one (sin). */
void gd_normal_pair(uint32_t a, uint32_t b, float z[2]);

/* ---- allocation ------------------------------------------------------- */

/* All library allocations go through these, so tests can fail the k-th one. */
void *gd_malloc(size_t size);
void *gd_calloc(size_t count, size_t size);
void *gd_realloc(void *ptr, size_t size);
void gd_free(void *ptr);

/* Test hook, not part of the ABI (hidden in the shared object): the k-th
 * allocation from now on in this thread fails (k = 1 is the next one);
 * k <= 0 disables failing.  Returns how many allocations were made since the
 * last call. */
long gd_test_fail_alloc_after(long k);

#endif /* GDROPOUT_INTERNAL_H */

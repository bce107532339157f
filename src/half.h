/*
 * Mixed precision and the 16-bit mask rule (<gdropout/mixed.h>): the
 * conversion and 16-bit-draw ops each level provides, and the scalar
 * conversions every level must match bit for bit.  Never installed.
 *
 * The kernels of mixed.h are one level-independent driver (src/half.c)
 * over this table: it walks a call in chunks that live in L1, draws keep
 * bits with the float family's generator (or the 16-bit ops below),
 * converts the chunk's half inputs to float, runs the float family's own
 * ops or the driver's element loops, and rounds back.  So a level differs
 * from another only in the ops of this table and of its float family,
 * each held to the scalar ones by tests/test_half.c.
 */
#ifndef GDROPOUT_HALF_H
#define GDROPOUT_HALF_H

#include "kernels.h"

#include <string.h>

typedef struct gd_half_kernels {
    const char *name;
    const gd_kernels *f32; /* the float family of the same level */
    void (*bf16_to_f32)(float *dst, const uint16_t *src, size_t n);
    void (*f32_to_bf16)(uint16_t *dst, const float *src, size_t n);
    void (*f16_to_f32)(float *dst, const uint16_t *src, size_t n);
    void (*f32_to_f16)(uint16_t *dst, const float *src, size_t n);
    /* Keep bits of n elements under the 16-bit rule: element j's draw is
     * gd_draw16(w, h + j), bit j = draw >= k, packed LSB first from a byte
     * boundary, padding bits 0; w holds the words of the elements' word
     * indices (element index / 2) from the first one's on, h (0 or 1) is
     * the first element's half; k is k(p), 0 .. 65536. */
    void (*mask16)(uint8_t *mask, const uint32_t *w, unsigned h, size_t n, uint32_t k);
    /* The 16-bit rule's float forward in one pass: y[j] = draw j >= k ?
     * x[j] * s : +0.0f (draws as for mask16), and, if mask is not NULL, its
     * bits as mask16 writes them.  y may be x. */
    void (*fwd16)(float *y, const float *x, uint8_t *mask, const uint32_t *w, unsigned h,
                  size_t n, uint32_t k, float s);
    /* Per-element rules (the per-column kernels): bit j = d[j] >= t[j] &&
     * sc[j] != 0, packed as mask16's; and out[j] = bit j ? in[j] * sc[j] :
     * +0.0f (out may be in). */
    void (*keep_bits)(uint8_t *mask, const uint32_t *d, const uint32_t *t, const float *sc,
                      size_t n);
    void (*scale_bits)(float *out, const float *in, const uint8_t *mask, const float *sc,
                       size_t n);
} gd_half_kernels;

extern const gd_half_kernels gd_half_scalar;
/* x86-64 builds only; reach them through gd_half_level. */
extern const gd_half_kernels gd_half_avx2;       /* AVX2 + F16C */
extern const gd_half_kernels gd_half_avx512;     /* AVX-512F */
extern const gd_half_kernels gd_half_avx512bf16; /* AVX-512F + AVX512_BF16 */

enum {
    GD_HALF_SCALAR = 0,
    GD_HALF_AVX2 = 1,
    GD_HALF_AVX512 = 2,
    GD_HALF_AVX512BF16 = 3,
    GD_HALF_LEVELS = 4
};

/* The table of a level if this build has it and this CPU and OS can run it,
 * else NULL (GDROPOUT_DISPATCH does not apply).  Tests hold every level to
 * the scalar one. */
const gd_half_kernels *gd_half_level(int level);

/* The table for this CPU: the best level whose float family is the one
 * gd_kernels_get() chose (so GDROPOUT_DISPATCH caps it too); never NULL. */
const gd_half_kernels *gd_half_get(void);

/* Test hook, not part of the ABI (hidden in the shared object): makes
 * gd_half_get return k from now on (NULL: choose again).  Tests hold the
 * public functions to the float kernels at every level with it. */
void gd_half_test_force(const gd_half_kernels *k);

/* ---- the reference conversions ------------------------------------------ */

static inline uint32_t gd_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float gd_f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* bf16 -> float: the top half of the float's bits, exact. */
static inline float gd_bf16_to_f32(uint16_t h)
{
    return gd_f32_from_bits((uint32_t)h << 16);
}

/* float -> bf16, round to nearest even on the bits (subnormals too); NaN
 * keeps its sign and top payload bits and is made quiet (bit 6), as
 * VCVTNEPS2BF16 does. */
static inline uint16_t gd_f32_to_bf16(float f)
{
    const uint32_t u = gd_f32_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u)
        return (uint16_t)(u >> 16 | 0x0040u);
    return (uint16_t)((u + 0x7FFFu + (u >> 16 & 1u)) >> 16);
}

/* binary16 -> float, exact (subnormals and Inf too); a NaN keeps its sign
 * and payload and is made quiet (bit 22), as VCVTPH2PS does. */
static inline float gd_f16_to_f32(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t e = h >> 10 & 0x1Fu, m = h & 0x3FFu;
    if (e == 0x1F)
        return gd_f32_from_bits(sign | 0x7F800000u | (m ? 0x400000u : 0u) | m << 13);
    if (e != 0)
        return gd_f32_from_bits(sign | (e + 112u) << 23 | m << 13);
    /* zero or subnormal: m * 2^-24, exact in float */
    const float v = (float)m * 0x1p-24f;
    return sign ? -v : v;
}

/* float -> binary16, round to nearest even, gradual underflow; beyond
 * 65520 (the midpoint above 65504) Inf; NaN keeps its sign and top payload
 * bits and is made quiet (bit 9), as VCVTPS2PH does. */
static inline uint16_t gd_f32_to_f16(float f)
{
    const uint32_t u = gd_f32_bits(f);
    const uint16_t sign = (uint16_t)(u >> 16 & 0x8000u);
    const uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u)
        return (uint16_t)(sign | 0x7E00u | (a >> 13 & 0x3FFu));
    if (a >= 0x477FF000u) /* >= 65520, Inf included */
        return (uint16_t)(sign | 0x7C00u);
    if (a >= 0x38800000u) { /* >= 2^-14: a normal binary16 */
        const uint32_t r = a + 0xFFFu + (a >> 13 & 1u) - (112u << 23);
        return (uint16_t)(sign | r >> 13);
    }
    if (a <= 0x33000000u) /* <= 2^-25: the tie at 2^-25 goes to even 0 */
        return sign;
    /* subnormal binary16: round m * 2^(e-150) to a multiple of 2^-24 */
    const uint32_t e = a >> 23, m = (a & 0x7FFFFFu) | 0x800000u;
    const unsigned sh = 126u - e; /* 14 .. 24 */
    uint32_t r = m >> sh;
    const uint32_t rem = m & ((1u << sh) - 1u), half = 1u << (sh - 1u);
    r += rem > half || (rem == half && (r & 1u));
    return (uint16_t)(sign | r);
}

/* ---- the 16-bit rule -------------------------------------------------- */

/* The 16-bit draw at position j of words w: the low half of w[j / 2] for
 * even j, its high half for odd j. */
static inline uint32_t gd_draw16(const uint32_t *w, size_t j)
{
    return w[j >> 1] >> (16u * (unsigned)(j & 1)) & 0xFFFFu;
}

/* The fused epilogue's backward (gd_dropout_add_bwd and _ex) after their
 * checks, n = rows * cols > 0: dx from dy by the mask, or regenerated from
 * s when mask is NULL, and, if dbias is not NULL, its column sums of dx as
 * stored (src/half.c: block by block, the sums while a block is in cache). */
void gd_add_bwd_run(int dtype, int rule, void *dx, float *dbias, const void *dy, size_t rows,
                    size_t cols, float p, const gd_stream *s, const uint8_t *mask);

/* gd_sum_cols on x of type dtype, arguments checked (x may be NULL only
 * when rows is 0). */
void gd_sum_cols_run(float *out, const void *x, size_t rows, size_t cols, int dtype);

/* k(p) = floor(p * 65536 + 0.5) for a valid p, 0 .. 65536. */
static inline uint32_t gd_k16(float p)
{
    return (uint32_t)floor((double)p * 65536.0 + 0.5);
}

/* The keep scale of the quantised rate; 0 at k = 65536 (nothing kept). */
static inline float gd_keep_scale16(uint32_t k)
{
    return k >= 65536u ? 0.0f : (float)(1.0 / (1.0 - (double)k / 65536.0));
}

#endif /* GDROPOUT_HALF_H */

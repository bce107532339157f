/*
 * The kernel families and their run-time dispatch: the table every family
 * fills (scalar reference in kernels_scalar.c, AVX2 and AVX-512 through the
 * template kernels_simd_impl.h), and how callers pick one (dispatch.c).
 * Never installed.
 */
#ifndef GDROPOUT_KERNELS_H
#define GDROPOUT_KERNELS_H

#include "internal.h"

/* ---- sizes ------------------------------------------------------------- */

/* The most elements one call may name: n floats (or n uint32 words) must have
 * a byte size that fits size_t.  A larger n cannot describe any buffer (a
 * host's int -1 becomes SIZE_MAX), so every entry point refuses it with
 * GD_EOVERFLOW before touching memory; a mask of n bits is the mask of such a
 * float tensor, so the same bound holds for it. */
static inline bool gd_count_ok(size_t n)
{
    return n <= SIZE_MAX / sizeof(float);
}

/* ---- kernel table ----------------------------------------------------- */

/* Every op assumes validated arguments and n > 0 (rows, cols > 0); `first` is
 * the absolute index of element 0.  thr is t(p) and may be 2^32. */
typedef struct gd_kernels {
    const char *name;
    void (*words)(uint32_t *w, size_t n, uint64_t first, const gd_keyctx *k);
    void (*mask)(uint8_t *mask, size_t n, uint64_t first, uint64_t thr, const gd_keyctx *k);
    /* y = keep ? x * s : 0, mask written when not NULL. */
    void (*fwd)(float *y, const float *x, uint8_t *mask, size_t n, uint64_t first,
                uint64_t thr, float s, const gd_keyctx *k);
    /* dx = bit ? dy * s : 0 from a stored mask. */
    void (*bwd_mask)(float *dx, const float *dy, const uint8_t *mask, size_t n, float s);
    /* per-column variants; p_cols validated. */
    void (*fwd_cols)(float *y, const float *x, uint8_t *mask, size_t rows, size_t cols,
                     const float *p_cols, uint64_t first, const gd_keyctx *k);
    void (*bwd_mask_cols)(float *dx, const float *dy, const uint8_t *mask, size_t rows,
                          size_t cols, const float *p_cols);
    /* y = (residual or 0) + (keep ? (x + (bias or 0)) * s : 0). */
    void (*add_fwd)(float *y, const float *x, const float *bias, const float *residual,
                    uint8_t *mask, size_t rows, size_t cols, uint64_t first, uint64_t thr,
                    float s, const gd_keyctx *k);
    void (*normal)(float *z, size_t n, uint64_t first, const gd_keyctx *k);
    /* y = x * (1 + sigma * z) */
    void (*gauss)(float *y, const float *x, size_t n, float sigma, uint64_t first,
                  const gd_keyctx *k);
    /* Test hook: the normal transform of given words, as if they were the
     * Philox output of nblocks blocks (4 words in, 4 normals out a block),
     * through the same code the family's normal and gauss ops use. */
    void (*normal_words)(float *z, const uint32_t *w, size_t nblocks);
    /* The passes of the Fisher accumulators (fisher.c, fisher_dense.c), all
     * elementwise, so every family gives the same bits.  finite: whether
     * x[0 .. n) holds no NaN or Inf; if so *amax (may be NULL) = max |x|
     * (0 for n == 0); sq, if not NULL, gets x[i] * x[i] (float) either way. */
    bool (*finite)(float *sq, const float *x, size_t n, float *amax);
    /* acc[i] += (double)g[i] */
    void (*acc_add)(double *acc, const float *g, size_t n);
    /* acc[i] += (double)g[i] * (double)g[i] (the product is exact) */
    void (*acc_add_sq)(double *acc, const float *g, size_t n);
} gd_kernels;

extern const gd_kernels gd_kernels_scalar;
/* The SIMD families (src/kernels_avx2.c, src/kernels_avx512.c); they exist
 * only in x86-64 builds, so reach them through gd_kernels_level. */
extern const gd_kernels gd_kernels_avx2;
extern const gd_kernels gd_kernels_avx512;

enum { GD_LEVEL_SCALAR = 0, GD_LEVEL_AVX2 = 1, GD_LEVEL_AVX512 = 2 };

/* The table of a level if this build has it and this CPU and OS can run it
 * (cpuid and xgetbv), else NULL; GDROPOUT_DISPATCH does not apply.  Tests
 * use it to hold every family to the scalar reference. */
const gd_kernels *gd_kernels_level(int level);

/* The table for this CPU (capped by GDROPOUT_DISPATCH); never NULL. */
const gd_kernels *gd_kernels_get(void);

#endif /* GDROPOUT_KERNELS_H */

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

/* ---- argument checks --------------------------------------------------- */

/* The checks of the float API (dropout.c) and the mixed one (half.c), once.
 * Each returns GD_OK or the error code of the header's contract; the entry
 * points call them in the contract's order (size, buffers, values, stream)
 * before touching memory, so a refused call writes nothing. */

/* rows * cols into *n, or GD_EOVERFLOW when it or its float byte size
 * overflows. */
static inline int gd_matrix_size(size_t rows, size_t cols, size_t *n)
{
    return gd_mul_ok(rows, cols, n) && gd_count_ok(*n) ? GD_OK : GD_EOVERFLOW;
}

/* A [rows x cols] kernel's size, then its output and input; GD_OK with
 * *n == 0 means nothing to do. */
static inline int gd_check_matrix(size_t rows, size_t cols, const void *out, const void *in,
                                  size_t *n)
{
    const int rc = gd_matrix_size(rows, cols, n);
    if (rc || *n == 0)
        return rc;
    return out && in ? GD_OK : GD_EINVAL;
}

/* A kernel on n > 0 elements: the size, then its output and input. */
static inline int gd_check_buffers(size_t n, const void *out, const void *in)
{
    if (!gd_count_ok(n))
        return GD_EOVERFLOW;
    return out && in ? GD_OK : GD_EINVAL;
}

/* A kernel on n > 0 elements at one p: the size, the buffers, p. */
static inline int gd_check_vec(size_t n, const void *out, const void *in, float p)
{
    const int rc = gd_check_buffers(n, out, in);
    if (rc)
        return rc;
    return gd_prob_ok(p) ? GD_OK : GD_EDOMAIN;
}

/* The stream, and elements offset .. offset+n-1 within its 2^64. */
static inline int gd_check_stream(const gd_stream *s, size_t n)
{
    if (!s)
        return GD_EINVAL;
    return gd_range_ok(s->offset, n) ? GD_OK : GD_EOVERFLOW;
}

/* Per-column rates: present, each in [0, 1]. */
static inline int gd_check_cols(const float *p_cols, size_t cols)
{
    if (!p_cols)
        return GD_EINVAL;
    for (size_t c = 0; c < cols; c++)
        if (!gd_prob_ok(p_cols[c]))
            return GD_EDOMAIN;
    return GD_OK;
}

/* A Gaussian multiplier's sigma: finite, not negative. */
static inline int gd_check_sigma(float sigma)
{
    return sigma >= 0.0f && sigma <= 3.402823466e38f ? GD_OK : GD_EDOMAIN;
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
    /* The 1.2 ops in one pass (dt GD_BF16 or GD_F16 under either rule, or
     * GD_F32 under GD_MASK_16; half elements widened exactly, computed as
     * the float op, rounded to nearest even as src/half.h's references;
     * under GD_MASK_16 thr is k(p) and the draws are gd_draw16's); NULL in
     * a family without them (src/half.c then goes chunk by chunk through
     * float).  fwd as fwd above; gauss_h (bf16, fp16) as gauss. */
    void (*fwd_ex)(void *y, const void *x, uint8_t *mask, size_t n, uint64_t first, uint64_t thr,
                   float s, const gd_keyctx *k, int dt, int rule);
    void (*gauss_h)(uint16_t *y, const uint16_t *x, size_t n, float sigma, uint64_t first,
                    const gd_keyctx *k, int dt);
    /* bwd_mask on bf16 or fp16 tensors the same way. */
    void (*bwd_mask_h)(uint16_t *dx, const uint16_t *dy, const uint8_t *mask, size_t n, float s,
                       int dt);
    /* add_fwd and fwd_cols the same way; false, with nothing done, for
     * shapes they do not take (a bias row wider than the family's table, a
     * mask on rows wider than its column table that do not start on mask
     * bytes). */
    bool (*add_fwd_ex)(void *y, const void *x, const void *bias, const void *residual,
                       uint8_t *mask, size_t rows, size_t cols, uint64_t first, uint64_t thr,
                       float s, const gd_keyctx *k, int dt, int rule);
    bool (*fwd_cols_ex)(void *y, const void *x, uint8_t *mask, size_t rows, size_t cols,
                        const float *p_cols, uint64_t first, const gd_keyctx *k, int dt, int rule);
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
    /* Column sums (gd_sum_cols, the fused epilogue's dbias): acc[c] +=
     * (double)x[r * ld + c] for each row r in order, c < cols, x of type
     * dt; the same bits in every family.  False, with nothing done, for a
     * dt the family has no conversions for (every family takes GD_F32). */
    bool (*acc_rows)(double *acc, const void *x, size_t rows, size_t cols, size_t ld, int dt);
    /* The product of the dense Fisher paths (fisher_dense.c, without a host
     * sgemm), added: for o < out, i < in,
     *   g = a[0*out+o] b[0*in+i] + ... + a[(k-1)*out+o] b[(k-1)*in+i]
     * summed in float from +0 with one fused multiply-add a term (fmaf), t
     * ascending, then acc[o*in+i] += (double)g, or (double)g * (double)g
     * with square (one sequence's gradient: a = dy, b = x).  Fixing the
     * order makes the families give the same bits; forming g a tile at a
     * time in registers means it never goes to memory and back (what an
     * sgemm into scratch followed by acc_add(_sq) costs: 1.6-2x the time on
     * sequences).  The caller bounds |g| (dense_bounds), so nothing
     * overflows.  NULL in the scalar family, whose callers take the sgemm
     * path: on x86-64 without FMA fmaf is a library call, and a loop of them
     * measured 60x the sgemm path's time (16 x 128 by 16 x 512).  pack,
     * if not NULL, is scratch of gd_prod_pack_bytes(k) bytes (its
     * contents on return unspecified) where a and b are copied into the
     * order the tiles read them (from 256 columns on); NULL reads them in
     * place (same bits; 1.15-1.6x the time on layers of 768 x 768 and
     * more, bench/README.md round 10). */
    void (*acc_prod)(double *acc, const float *a, const float *b, size_t k, size_t in,
                     size_t out, float *pack, bool square);
} gd_kernels;

/* acc_prod's packed blocks (src/kernels_simd_impl.h, prod_packed): of a,
 * k terms of about GD_PROD_A_FLOATS / k rows (L2-sized), of b, k terms of
 * about GD_PROD_B_FLOATS / k columns (L1-sized), each at least one tile
 * (GD_PROD_PACK_COLS bounds a family's tile height and width).  The bytes
 * of scratch that holds both for k terms; false if that overflows size_t. */
enum { GD_PROD_A_FLOATS = 65536, GD_PROD_B_FLOATS = 8192, GD_PROD_PACK_COLS = 32 };
/* Whether acc_prod packs a product of `in` columns (given scratch): the
 * copy costs what it saves when few tiles of columns read the copied rows
 * of a; 128 columns took 1.01-1.08x the time in place at k 16-64 (AVX-512
 * and AVX2 alike), 256 columns 0.96-0.99x (Zen 5, 2026-12-07,
 * interleaved).  Callers that would give scratch below it need not. */
enum { GD_PROD_PACK_MIN_COLS = 256 };
static inline bool gd_prod_packs(size_t in)
{
    return in >= GD_PROD_PACK_MIN_COLS;
}
static inline bool gd_prod_pack_bytes(size_t k, size_t *bytes)
{
    if (k == 0)
        return *bytes = 0, true;
    const size_t ma = GD_PROD_A_FLOATS / k, mb = GD_PROD_B_FLOATS / k;
    size_t per, floats;
    return gd_add_ok(ma > GD_PROD_PACK_COLS ? ma : GD_PROD_PACK_COLS,
                     mb > GD_PROD_PACK_COLS ? mb : GD_PROD_PACK_COLS, &per) &&
           gd_mul_ok(k, per, &floats) && gd_mul_ok(floats, sizeof(float), bytes);
}

/* A per-column table too big for a stack frame (src/coltab.c): thresholds
 * t and scales s of up to GD_WIDE_COLS columns, with GD_COLTAB_PAD entries
 * past them for a cyclic repetition (a generator batch's worth). */
enum { GD_WIDE_COLS = 16384, GD_COLTAB_PAD = 1024 };
typedef struct gd_coltab {
    _Alignas(64) uint32_t t[GD_WIDE_COLS + GD_COLTAB_PAD];
    _Alignas(64) float s[GD_WIDE_COLS + GD_COLTAB_PAD];
} gd_coltab;

/* One of the shared tables, now this thread's alone, or NULL when every one
 * is taken; never waits.  Give it back with gd_coltab_give. */
gd_coltab *gd_coltab_take(void);
void gd_coltab_give(gd_coltab *tb);

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

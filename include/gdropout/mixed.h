/*
 * libgdropout: mixed precision and the 16-bit mask rule (since 1.2).
 *
 * Include <gdropout/gdropout.h> rather than this file directly.
 *
 * Every dropout kernel of <gdropout/dropout.h> again, for three element
 * types and two mask rules, chosen by the first two arguments:
 *
 *   dtype      GD_F32   float
 *              GD_BF16  bfloat16 (8-bit exponent, 7-bit mantissa) in uint16_t
 *              GD_F16   IEEE 754 binary16 in uint16_t
 *   mask_rule  GD_MASK_32  the drop rule of every 1.0 kernel (32-bit draws)
 *              GD_MASK_16  16-bit draws, two elements per word (below)
 *
 * Why one function per operation with (dtype, mask_rule) rather than a name per
 * type (gd_dropout_fwd_bf16, ...): bf16 and fp16 are both uint16_t in C, so
 * typed names would not let the compiler catch a mix-up between them
 * anyway; one function per operation keeps the interface at 9 functions
 * instead of 23 (8 operations x 2 half types, plus 7 for the 16-bit rule
 * on float), a binding maps its array's dtype to a code, and a bad code is
 * GD_EINVAL rather than a wrong overload.  After (dtype, mask_rule) the
 * arguments are those of the 1.0 function of the same name without _ex,
 * with void pointers for the tensors (float or uint16_t elements, per
 * dtype).  With GD_F32 and GD_MASK_32 each is exactly its 1.0 function.
 *
 * Half precision, bit-exact: each element is converted to float (exact for
 * both types, subnormals included; an fp16 signalling NaN becomes quiet),
 * the float kernel of the same rule
 * runs, and its result is rounded to the half type to nearest, ties to
 * even.  So for the same (seed, stream, offset, p, mask_rule) a half kernel
 * keeps exactly the elements the float kernel keeps (a trainer can change
 * precision without changing its masks), and its output is the float
 * kernel's output on the converted input, rounded.  Inputs that are
 * several tensors (bias, residual) are all of the dtype; dbias alone is
 * float (column sums of many rows keep their bits there).
 *   - NaN: a dropped element is +0 whatever x is; a kept NaN stays NaN
 *     (quiet, same sign, the payload's top bits);
 *   - Inf, and finite results beyond the type's range, become Inf of that
 *     sign (fp16's largest finite value is 65504: x * s of a kept element
 *     near it may overflow to Inf);
 *   - subnormal inputs are used as they are and subnormal results are
 *     rounded like any other value: nothing is flushed to zero (under the
 *     default floating-point environment, as for the float kernels).
 * The conversions are those of PyTorch's torch.bfloat16 and torch.float16
 * and of numpy's float16 (round to nearest even).
 *
 * The 16-bit rule, bit-exact (docs/SPEC.md, "The 16-bit rule"): element i
 * uses d_i, the 16 bits of the stream's 32-bit word of index i / 2 (see
 * gd_stream) that are its low half for even i and its high half for odd i,
 * so one Philox block serves 8 elements.  The rate is quantised to
 *   k(p) = (uint32)floor((double)p * 65536 + 0.5)        (0 .. 65536)
 * and element i is dropped iff d_i < k(p); the keep scale is that of the
 * quantised rate, s = (float)(1.0 / (1.0 - k(p) / 65536.0)) (1.0f at
 * k = 0; no element is kept at k = 65536), so E[y] = x as with the 32-bit
 * rule.  The rate actually used, k(p) / 65536, is within 2^-17 (7.6e-6) of
 * p; a p below 2^-17 drops nothing.  Masks have the 1.0 layout; a mask of
 * one rule means nothing under the other, so backward must be given the
 * forward's rule.  The 32-bit rule is never changed by any of this: a
 * 1.0 caller's masks are what they were.
 *
 * Common contract: that of <gdropout/dropout.h> (aliasing, n == 0, error
 * order, outputs untouched on error, thread-safety, no allocation), with
 * one check first: GD_EINVAL for a dtype or mask_rule that is none of the
 * codes above, even when n == 0.
 */
#ifndef GDROPOUT_MIXED_H
#define GDROPOUT_MIXED_H

#include <gdropout/common.h>
#include <gdropout/random.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Element types (dtype arguments).  The values are part of the ABI. */
enum {
    GD_F32 = 0,  /* float */
    GD_BF16 = 1, /* bfloat16 in uint16_t */
    GD_F16 = 2   /* IEEE 754 binary16 in uint16_t */
};

/* Mask rules (mask_rule arguments).  The values are part of the ABI.  (The
 * plan's schedule rules, GD_RULE_*, are another thing: <gdropout/plan.h>.) */
enum {
    GD_MASK_32 = 0, /* 32-bit draws: the rule of every 1.0 kernel */
    GD_MASK_16 = 1  /* 16-bit draws, two elements per word */
};

/* Writes the keep mask of n elements at probability p under a mask rule
 * (GD_MASK_32: gd_mask_bernoulli's mask; GD_MASK_16: the 16-bit rule).
 * Errors as gd_mask_bernoulli, and GD_EINVAL for a bad mask_rule.  Thread-safe;
 * since 1.2. */
GD_NODISCARD GD_API int gd_mask_bernoulli_ex(int mask_rule, uint8_t *mask, size_t n, float p,
                                             const gd_stream *s);

/* Dropout forward of n elements of type dtype under a mask rule: y = x * s
 * where kept, +0 where dropped, rounded to dtype.  mask_out as for
 * gd_dropout_fwd.  Thread-safe on distinct buffers; since 1.2. */
GD_NODISCARD GD_API int gd_dropout_fwd_ex(int dtype, int mask_rule, void *y, const void *x,
                                          size_t n, float p, const gd_stream *s,
                                          uint8_t *mask_out);

/* Dropout backward of n elements of type dtype: dx = dy * s where kept, +0
 * where dropped.  mask NULL regenerates the mask from s under mask_rule (s must
 * be the forward's stream); with a mask (made under the same rule), s is
 * not read and may be NULL, and p and mask_rule only set the scale.
 * Thread-safe on distinct buffers; since 1.2. */
GD_NODISCARD GD_API int gd_dropout_bwd_ex(int dtype, int mask_rule, void *dx, const void *dy,
                                          size_t n, float p, const gd_stream *s,
                                          const uint8_t *mask);

/* Per-unit dropout of a [rows x cols] activation of type dtype: column c
 * at probability p_cols[c] (float), element (r, c) at absolute index
 * offset + r*cols + c, as gd_dropout_fwd_cols.  Thread-safe on distinct
 * buffers; since 1.2. */
GD_NODISCARD GD_API int gd_dropout_fwd_cols_ex(int dtype, int mask_rule, void *y, const void *x,
                                               size_t rows, size_t cols, const float *p_cols,
                                               const gd_stream *s, uint8_t *mask_out);

/* Backward of gd_dropout_fwd_cols_ex; mask NULL regenerates it from s.
 * Thread-safe on distinct buffers; since 1.2. */
GD_NODISCARD GD_API int gd_dropout_bwd_cols_ex(int dtype, int mask_rule, void *dx, const void *dy,
                                               size_t rows, size_t cols, const float *p_cols,
                                               const gd_stream *s, const uint8_t *mask);

/* The fused epilogue of gd_dropout_add_fwd for type dtype:
 *   y[r,c] = residual[r,c] + (kept ? (x[r,c] + bias[c]) * s : 0)
 * in float, rounded in that order, then rounded once to dtype.  bias
 * (cols elements) and residual (rows*cols) are of type dtype and may be
 * NULL; y may alias x or residual.  Thread-safe on distinct buffers; since
 * 1.2. */
GD_NODISCARD GD_API int gd_dropout_add_fwd_ex(int dtype, int mask_rule, void *y, const void *x,
                                              const void *bias, const void *residual,
                                              size_t rows, size_t cols, float p,
                                              const gd_stream *s, uint8_t *mask_out);

/* Backward of gd_dropout_add_fwd_ex: dx = gd_dropout_bwd_ex(dy) (type
 * dtype); dbias, if not NULL, receives cols floats, the column sums of dx
 * as stored (after its rounding to dtype), summed in double and rounded
 * once.  dx may alias dy.  Thread-safe on distinct buffers; since 1.2. */
GD_NODISCARD GD_API int gd_dropout_add_bwd_ex(int dtype, int mask_rule, void *dx, float *dbias,
                                              const void *dy, size_t rows, size_t cols, float p,
                                              const gd_stream *s, const uint8_t *mask);

/* Gaussian dropout of n elements of type dtype: y = x * (1.0f + sigma * z)
 * in float (z as gd_gaussian_dropout_fwd), rounded to dtype.  Gaussian
 * noise uses whole words, so there is no rule argument.  Errors as
 * gd_gaussian_dropout_fwd, and GD_EINVAL for a bad dtype.  Thread-safe on
 * distinct buffers; since 1.2. */
GD_NODISCARD GD_API int gd_gaussian_dropout_fwd_ex(int dtype, void *y, const void *x, size_t n,
                                                   float sigma, const gd_stream *s);

/* Backward of gd_gaussian_dropout_fwd_ex: dx = dy * m with the forward's m
 * regenerated from s, rounded to dtype.  Thread-safe on distinct buffers;
 * since 1.2. */
GD_NODISCARD GD_API int gd_gaussian_dropout_bwd_ex(int dtype, void *dx, const void *dy,
                                                   size_t n, float sigma, const gd_stream *s);

#ifdef __cplusplus
}
#endif

#endif /* GDROPOUT_MIXED_H */

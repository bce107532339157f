/*
 * libgdropout: dropout kernels (Bernoulli, per-column, fused, Gaussian).
 *
 * Include <gdropout/gdropout.h> rather than this file directly.
 *
 * Drop rule, bit-exact: with r_i the stream word of absolute element index i
 * (see gd_stream) and t(p) = p >= 1 ? 2^32 : (uint64)floor((double)p * 2^32),
 * element i is dropped iff (uint64)r_i < t(p).  The keep scale is
 * s = (float)(1.0 / (1.0 - (double)p)).  Kept: y = x * s (float multiply);
 * dropped: y = 0.0f, whatever x is (NaN and Inf included).  p == 0 is the
 * identity, p == 1 gives zeros.
 *
 * Mask layout: bit j of a mask is bit (j % 8) of byte (j / 8), LSB first,
 * 1 = kept, for the call's element j (absolute index offset + j); a mask for
 * n elements has ceil(n / 8) bytes and the padding bits of its last byte
 * are 0.
 *
 * Common contract of every kernel here:
 *   - data is contiguous row-major float; y == x (dx == dy) is allowed, any
 *     other overlap is not;
 *   - n == 0 (rows == 0 or cols == 0) is a no-op that returns GD_OK (but
 *     gd_sum_cols over zero rows writes cols zeros: the empty sum);
 *   - errors leave every output untouched: GD_EINVAL for a NULL pointer that
 *     must hold data, GD_EDOMAIN for p outside [0, 1] or NaN (sigma < 0,
 *     NaN or Inf), GD_EOVERFLOW when n (rows * cols) or its float
 *     buffer's byte size, n * sizeof(float), overflows size_t (masks too:
 *     n = SIZE_MAX, a host's -1, is refused, not run) or the call's last
 *     element index, offset + n - 1, would pass 2^64 - 1 (so offset
 *     2^64 - 1 with n = 1 is fine; see gd_stream);
 *   - the checks run in this order, each O(1) before any that reads a
 *     whole array: sizes, data pointers, p or sigma, the stream (NULL, or
 *     its range), then p_cols (NULL, or any element invalid); the first
 *     failing one gives the result;
 *   - thread-safe on distinct buffers, no allocation; the result depends only
 *     on (seed, stream, element index, p), never on the split into calls, so
 *     host threads may share one tensor by giving each its own offset range.
 */
#ifndef GDROPOUT_DROPOUT_H
#define GDROPOUT_DROPOUT_H

#include <gdropout/common.h>
#include <gdropout/random.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the keep mask of n elements at probability p into mask
 * (ceil(n/8) bytes). */
GD_NODISCARD GD_API int gd_mask_bernoulli(uint8_t *mask, size_t n, float p, const gd_stream *s);

/* y = dropout(x) at probability p.  mask_out, if not NULL, receives the mask
 * (ceil(n/8) bytes) for the backward pass. */
GD_NODISCARD GD_API int gd_dropout_fwd(float *y, const float *x, size_t n, float p,
                                       const gd_stream *s, uint8_t *mask_out);

/* dx = dy * s where kept, 0 where dropped.  With mask == NULL the mask is
 * regenerated from s (which must then be the forward's stream); with a mask,
 * s is not read and may be NULL, and p only sets the scale. */
GD_NODISCARD GD_API int gd_dropout_bwd(float *dx, const float *dy, size_t n, float p,
                                       const gd_stream *s, const uint8_t *mask);

/* Per-unit dropout of a [rows x cols] activation: column c is dropped at
 * probability p_cols[c]; element (r, c) has absolute index
 * offset + r*cols + c and scale s(p_cols[c]).  The mask bits are in the
 * same element order.  Any invalid p_cols[c] gives GD_EDOMAIN. */
GD_NODISCARD GD_API int gd_dropout_fwd_cols(float *y, const float *x, size_t rows, size_t cols,
                                            const float *p_cols, const gd_stream *s,
                                            uint8_t *mask_out);

/* Backward of gd_dropout_fwd_cols; mask NULL regenerates it from s. */
GD_NODISCARD GD_API int gd_dropout_bwd_cols(float *dx, const float *dy, size_t rows, size_t cols,
                                            const float *p_cols, const gd_stream *s,
                                            const uint8_t *mask);

/* The fused epilogue of a transformer block:
 *   y[r,c] = residual[r,c] + (kept ? (x[r,c] + bias[c]) * s : 0.0f)
 * rounded in that order (x + bias, then * s, then + residual).  bias (cols
 * floats) and residual (rows*cols floats) may each be NULL (treated as 0,
 * and then no addition is performed).  y may alias x or residual.  The mask
 * is the mask of gd_dropout_fwd on rows*cols elements. */
GD_NODISCARD GD_API int gd_dropout_add_fwd(float *y, const float *x, const float *bias,
                                           const float *residual, size_t rows, size_t cols,
                                           float p, const gd_stream *s, uint8_t *mask_out);

/* Backward of gd_dropout_add_fwd.  The residual's gradient is dy itself.
 * dx = gd_dropout_bwd(dy); dbias, if not NULL, receives the column sums of
 * dx (summed in double, rounded once).  dx may alias dy. */
GD_NODISCARD GD_API int gd_dropout_add_bwd(float *dx, float *dbias, const float *dy,
                                           size_t rows, size_t cols, float p,
                                           const gd_stream *s, const uint8_t *mask);

/* out[c] = sum over r of x[r, c] (in double, rounded once): the gradient of
 * a bias broadcast over rows.  out may not alias x.  out's cols floats are
 * written over zero rows too, so a cols whose byte size overflows size_t
 * is GD_EOVERFLOW whatever rows is. */
GD_NODISCARD GD_API int gd_sum_cols(float *out, const float *x, size_t rows, size_t cols);

/* Gaussian dropout: y = x * m, m = 1.0f + sigma * z, z from
 * gd_random_normal on the same stream and indices.  sigma >= 0, finite. */
GD_NODISCARD GD_API int gd_gaussian_dropout_fwd(float *y, const float *x, size_t n, float sigma,
                                                const gd_stream *s);

/* dx = dy * m with the forward's m regenerated from s. */
GD_NODISCARD GD_API int gd_gaussian_dropout_bwd(float *dx, const float *dy, size_t n, float sigma,
                                                const gd_stream *s);

/* The sigma whose multiplicative noise has Bernoulli dropout's variance at
 * rate p: sigma = sqrt(p / (1 - p)), computed in double, rounded once.
 * (The paper's reference code used p / (1 - p); pass that as sigma to
 * reproduce it.)  p in [0, 1); GD_EDOMAIN otherwise, GD_EINVAL for a NULL
 * sigma.  Thread-safe. */
GD_NODISCARD GD_API int gd_gaussian_sigma(float p, float *sigma);

#ifdef __cplusplus
}
#endif

#endif /* GDROPOUT_DROPOUT_H */

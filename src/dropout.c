/*
 * The dropout API: argument checks, then one call into the kernel family.
 *
 * Every check runs before any output is written, so a refused call leaves
 * the caller's buffers exactly as they were.
 */
#include "half.h" /* gd_add_bwd_run, gd_sum_cols_run: one driver for every type */

int gd_mask_bernoulli(uint8_t *mask, size_t n, float p, const gd_stream *s)
{
    if (n == 0)
        return GD_OK;
    int rc = gd_check_vec(n, mask, mask, p);
    if (rc || (rc = gd_check_stream(s, n)))
        return rc;
    const gd_keyctx k = gd_keyctx_from(s);
    gd_kernels_get()->mask(mask, n, s->offset, gd_threshold(p), &k);
    return GD_OK;
}

int gd_dropout_fwd(float *y, const float *x, size_t n, float p, const gd_stream *s,
                   uint8_t *mask_out)
{
    if (n == 0)
        return GD_OK;
    int rc = gd_check_vec(n, y, x, p);
    if (rc || (rc = gd_check_stream(s, n)))
        return rc;
    const gd_keyctx k = gd_keyctx_from(s);
    gd_kernels_get()->fwd(y, x, mask_out, n, s->offset, gd_threshold(p), gd_keep_scale(p), &k);
    return GD_OK;
}

int gd_dropout_bwd(float *dx, const float *dy, size_t n, float p, const gd_stream *s,
                   const uint8_t *mask)
{
    if (n == 0)
        return GD_OK;
    int rc = gd_check_vec(n, dx, dy, p);
    if (rc)
        return rc;
    if (mask) {
        gd_kernels_get()->bwd_mask(dx, dy, mask, n, gd_keep_scale(p));
        return GD_OK;
    }
    if ((rc = gd_check_stream(s, n)))
        return rc;
    const gd_keyctx k = gd_keyctx_from(s);
    gd_kernels_get()->fwd(dx, dy, NULL, n, s->offset, gd_threshold(p), gd_keep_scale(p), &k);
    return GD_OK;
}

int gd_dropout_fwd_cols(float *y, const float *x, size_t rows, size_t cols, const float *p_cols,
                        const gd_stream *s, uint8_t *mask_out)
{
    size_t n;
    int rc = gd_check_matrix(rows, cols, y, x, &n);
    if (rc || n == 0)
        return rc;
    /* the O(1) stream check before the O(cols) scan of p_cols */
    if ((rc = gd_check_stream(s, n)) || (rc = gd_check_cols(p_cols, cols)))
        return rc;
    const gd_keyctx k = gd_keyctx_from(s);
    gd_kernels_get()->fwd_cols(y, x, mask_out, rows, cols, p_cols, s->offset, &k);
    return GD_OK;
}

int gd_dropout_bwd_cols(float *dx, const float *dy, size_t rows, size_t cols,
                        const float *p_cols, const gd_stream *s, const uint8_t *mask)
{
    size_t n;
    int rc = gd_check_matrix(rows, cols, dx, dy, &n);
    if (rc || n == 0)
        return rc;
    if (!mask && (rc = gd_check_stream(s, n)))
        return rc; /* O(1) before the O(cols) scan, as in gd_dropout_fwd_cols */
    if ((rc = gd_check_cols(p_cols, cols)))
        return rc;
    if (mask) {
        gd_kernels_get()->bwd_mask_cols(dx, dy, mask, rows, cols, p_cols);
        return GD_OK;
    }
    const gd_keyctx k = gd_keyctx_from(s);
    gd_kernels_get()->fwd_cols(dx, dy, NULL, rows, cols, p_cols, s->offset, &k);
    return GD_OK;
}

int gd_dropout_add_fwd(float *y, const float *x, const float *bias, const float *residual,
                       size_t rows, size_t cols, float p, const gd_stream *s, uint8_t *mask_out)
{
    size_t n;
    int rc = gd_check_matrix(rows, cols, y, x, &n);
    if (rc || n == 0)
        return rc;
    if (!gd_prob_ok(p))
        return GD_EDOMAIN;
    if ((rc = gd_check_stream(s, n)))
        return rc;
    const gd_keyctx k = gd_keyctx_from(s);
    gd_kernels_get()->add_fwd(y, x, bias, residual, mask_out, rows, cols, s->offset,
                              gd_threshold(p), gd_keep_scale(p), &k);
    return GD_OK;
}

int gd_sum_cols(float *out, const float *x, size_t rows, size_t cols)
{
    size_t n;
    int rc = gd_matrix_size(rows, cols, &n);
    if (rc)
        return rc;
    /* out holds cols floats even over zero rows, where rows * cols is 0
     * and said nothing of cols: SIZE_MAX there wrapped memset's size */
    if (!gd_count_ok(cols))
        return GD_EOVERFLOW;
    if (cols == 0)
        return GD_OK;
    if (!out || (rows > 0 && !x))
        return GD_EINVAL;
    gd_sum_cols_run(out, x, rows, cols, GD_F32);
    return GD_OK;
}

int gd_dropout_add_bwd(float *dx, float *dbias, const float *dy, size_t rows, size_t cols,
                       float p, const gd_stream *s, const uint8_t *mask)
{
    size_t n;
    int rc = gd_check_matrix(rows, cols, dx, dy, &n);
    if (rc || n == 0)
        return rc;
    if (!gd_prob_ok(p))
        return GD_EDOMAIN;
    if (!mask && (rc = gd_check_stream(s, n)))
        return rc;
    gd_add_bwd_run(GD_F32, GD_MASK_32, dx, dbias, dy, rows, cols, p, s, mask);
    return GD_OK;
}

int gd_gaussian_dropout_fwd(float *y, const float *x, size_t n, float sigma, const gd_stream *s)
{
    if (n == 0)
        return GD_OK;
    int rc = gd_check_buffers(n, y, x);
    if (rc || (rc = gd_check_sigma(sigma)) || (rc = gd_check_stream(s, n)))
        return rc;
    const gd_keyctx k = gd_keyctx_from(s);
    gd_kernels_get()->gauss(y, x, n, sigma, s->offset, &k);
    return GD_OK;
}

int gd_gaussian_dropout_bwd(float *dx, const float *dy, size_t n, float sigma,
                            const gd_stream *s)
{
    /* The multiplier is symmetric: dx = dy * m with the forward's m. */
    return gd_gaussian_dropout_fwd(dx, dy, n, sigma, s);
}

int gd_gaussian_sigma(float p, float *sigma)
{
    if (!sigma)
        return GD_EINVAL;
    if (!(p >= 0.0f && p < 1.0f))
        return GD_EDOMAIN;
    *sigma = (float)sqrt((double)p / (1.0 - (double)p));
    return GD_OK;
}

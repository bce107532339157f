/*
 * Per-example squared gradients of a dense layer y = x W^T + b through
 * sgemm (OpenBLAS's, or the host's own: gd_fisher_set_sgemm), without
 * forming the per-example gradients one by one.
 *
 * Single examples: the gradient of example b is the outer product
 * dy_b x_b^T, so its square is (dy_b^2)(x_b^2)^T elementwise, and summing
 * over the batch is one GEMM on the squared operands:
 *   sum_b (dy_b x_b^T)^2 = (dy*dy)^T (x*x)      [out x in]
 * Sequences: G_b = dy_b^T x_b sums over positions before squaring, so it is
 * formed per example (one GEMM each) and squared.
 *
 * Products are float (sgemm); they are added into the double accumulators.
 * Inputs are checked before anything is added: NaN/Inf, and magnitudes so
 * large that a float product or sum could overflow, are GD_EDOMAIN.
 */
#include "fisher_internal.h"
#include "kernels.h"

#include <cblas.h>
#include <limits.h>

/* Examples squared and multiplied per sgemm call: a batch up to this size
 * is exactly one sgemm; larger batches go in chunks, which bounds the
 * scratch memory to CHUNK*(in+out) + out*in floats and keeps each float
 * GEMM sum short before it reaches the double accumulators. */
enum { DENSE_CHUNK = 1024 };

/* Largest value a float sum may approach; half of FLT_MAX leaves room for
 * the rounding of the GEMM's partial sums. */
static const double FLOAT_SAFE = 1.7014117331926443e38;

typedef struct dense_call {
    gd_tensor *w, *b; /* b may be NULL */
    const float *x, *dy;
    size_t batch, seq, in, out; /* seq = 1 for single examples */
    bool sequence;              /* gd_fisher_accumulate_dense_seq */
    size_t nx, ndy;             /* elements of x and dy (dense_shape) */
} dense_call;

/* Resolves ids and checks the shapes and pointers of a dense call; nothing
 * is changed.  GD_OK with batch == 0 means nothing to do. */
static int dense_shape(gd_fisher *f, size_t w_id, size_t b_id, dense_call *c)
{
    size_t w_numel, rows, nx, ndy;
    if (!f || w_id == b_id)
        return GD_EINVAL;
    c->w = gd_fisher_tensor(f, w_id);
    c->b = b_id == GD_NONE ? NULL : gd_fisher_tensor(f, b_id);
    if (!c->w || (b_id != GD_NONE && !c->b))
        return GD_ENOTFOUND;
    if (!gd_mul_ok(c->out, c->in, &w_numel) || !gd_mul_ok(c->batch, c->seq, &rows) ||
        !gd_mul_ok(rows, c->in, &nx) || !gd_mul_ok(rows, c->out, &ndy))
        return GD_EOVERFLOW;
    if (c->in == 0 || c->out == 0 || c->seq == 0 || w_numel != c->w->numel || (c->b && c->b->numel != c->out))
        return GD_ESHAPE;
    if (c->batch == 0)
        return GD_OK;
    if (!c->x || !c->dy)
        return GD_EINVAL;
    if (c->in > INT_MAX || c->out > INT_MAX || c->seq > INT_MAX)
        return GD_EOVERFLOW; /* blasint is int in Debian's OpenBLAS; gd_sgemm_fn promises
                                it to a host's sgemm too */
    c->nx = nx;
    c->ndy = ndy;
    return GD_OK;
}

/* The bounds on every float intermediate, from max |x| and max |dy|: a
 * sequence gradient is a sum of seq products (squared later in double); the
 * single-example path squares x and dy in float and sums up to DENSE_CHUNK
 * squared products. */
static int dense_bounds(const dense_call *c, float ax, float ady)
{
    const double prod = (double)ax * (double)ady;
    if (c->sequence) { /* G_b and the bias's sum over positions are squared in double */
        const double g = prod * (double)c->seq, gb = (double)ady * (double)c->seq;
        return g * g < GD_ESTIMATE_MAX && gb * gb < GD_ESTIMATE_MAX ? GD_OK : GD_EDOMAIN;
    }
    const double x2 = (double)ax * ax, dy2 = (double)ady * ady;
    if (x2 >= FLOAT_SAFE || dy2 >= FLOAT_SAFE || prod * prod * DENSE_CHUNK >= FLOAT_SAFE)
        return GD_EDOMAIN;
    return GD_OK;
}

/* The values of x and dy: finite and within dense_bounds.  With x2 and dy2
 * (scratch for all of x and dy) their squares are written in the same pass,
 * which is what the single-example path needs next. */
static int dense_values(const dense_call *c, float *x2, float *dy2)
{
    const gd_kernels *kf = gd_kernels_get();
    float ax, ady;
    if (!kf->finite(x2, c->x, c->nx, &ax) || !kf->finite(dy2, c->dy, c->ndy, &ady))
        return GD_EDOMAIN;
    return dense_bounds(c, ax, ady);
}

/* ---- the sgemm: OpenBLAS's or the host's ------------------------------ */

/* The default, with gd_sgemm_fn's contract.  The library only passes sizes
 * <= INT_MAX (dense_check), so the casts to blasint (int) are exact. */
static void openblas_sgemm(void *user, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                           float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                           float beta, float *c, size_t ldc)
{
    (void)user;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, alpha,
                a, (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
}

int gd_fisher_set_sgemm(gd_fisher *f, gd_sgemm_fn sgemm, void *user)
{
    if (!f)
        return GD_EINVAL;
    f->sgemm = sgemm;
    f->sgemm_user = sgemm ? user : NULL;
    return GD_OK;
}

/* c[out x in] = a^T b for a[k x out], b[k x in], both row-major and packed:
 * the one product both dense paths need, through f's sgemm. */
static void product_at_b(const gd_fisher *f, size_t out, size_t in, size_t k, const float *a,
                         const float *b, float *c)
{
    if (f->sgemm)
        f->sgemm(f->sgemm_user, 1, 0, out, in, k, 1.0f, a, out, b, in, 0.0f, c, in);
    else
        openblas_sgemm(NULL, 1, 0, out, in, k, 1.0f, a, out, b, in, 0.0f, c, in);
}

/* ---- the two paths ----------------------------------------------------- */

/* acc_prod's copies for k terms of `in` columns (kernels.h,
 * gd_prod_pack_bytes), or NULL: too few columns to pack (gd_prod_packs), a
 * size past size_t, or no memory.  acc_prod then reads its operands in
 * place, to the same bits, so the call still succeeds, more slowly in the
 * last two cases (bench/README.md round 10). */
static float *pack_scratch(size_t k, size_t in)
{
    size_t bytes;
    return gd_prod_packs(in) && gd_prod_pack_bytes(k, &bytes) && bytes ? gd_malloc(bytes) : NULL;
}

/* Bias of single examples: sum_b dy_b^2, in double. */
static void bias_single(const gd_kernels *kf, double *acc, const float *dy, size_t batch,
                        size_t out)
{
    for (size_t b = 0; b < batch; b++)
        kf->acc_add_sq(acc, dy + b * out, out);
}

/* Bias of sequences: sum_b (sum_t dy_bt)^2, in double; g is out doubles of
 * scratch.  Each example's sums go row by row (t outer), so the loads are
 * sequential and the adds of one row independent; each g[o] still adds
 * dy_b0o, dy_b1o, ... in order from 0.0. */
static void bias_seq(const gd_kernels *kf, double *acc, double *g, const float *dy, size_t batch,
                     size_t seq, size_t out)
{
    for (size_t b = 0; b < batch; b++) {
        for (size_t o = 0; o < out; o++)
            g[o] = 0.0;
        for (size_t t = 0; t < seq; t++)
            kf->acc_add(g, dy + (b * seq + t) * out, out);
        for (size_t o = 0; o < out; o++)
            acc[o] += g[o] * g[o];
    }
}

/* The single-example path's squaring and the checks are one pass over x and
 * dy when the batch is one chunk (the usual case): the checks still come
 * before anything is added, since the squares only go to scratch.  Larger
 * batches are checked whole first, then squared chunk by chunk.  When the
 * scratch cannot be had, the checks still run, so bad input gives
 * GD_EDOMAIN whatever the memory. */
int gd_fisher_accumulate_dense(gd_fisher *f, size_t w_id, size_t b_id, const float *x,
                               const float *dy, size_t batch, size_t in, size_t out)
{
    dense_call c = {NULL, NULL, x, dy, batch, 1, in, out, false, 0, 0};
    int rc = dense_shape(f, w_id, b_id, &c);
    if (rc != GD_OK || batch == 0)
        return rc;
    const gd_kernels *kf = gd_kernels_get();
    const bool fused = !f->sgemm && kf->acc_prod; /* as in the sequence path */
    const size_t chunk = batch < DENSE_CHUNK ? batch : DENSE_CHUNK;
    /* sizes cannot overflow: chunk*in <= batch*in and out*in were checked */
    float *x2 = gd_malloc(chunk * in * sizeof(float));
    float *dy2 = gd_malloc(chunk * out * sizeof(float));
    float *g2 = fused ? NULL : gd_malloc(out * in * sizeof(float));
    float *pack = fused ? pack_scratch(chunk, in) : NULL;
    const bool have = x2 && dy2 && (fused || g2);
    const bool one_chunk = chunk == batch && have;
    rc = one_chunk ? dense_values(&c, x2, dy2) : dense_values(&c, NULL, NULL);
    if (rc == GD_OK && !have)
        rc = GD_ENOMEM;
    if (rc == GD_OK) {
        for (size_t b0 = 0; b0 < batch; b0 += chunk) {
            const size_t k = batch - b0 < chunk ? batch - b0 : chunk;
            if (!one_chunk) {
                kf->finite(x2, x + b0 * in, k * in, NULL);
                kf->finite(dy2, dy + b0 * out, k * out, NULL);
            }
            if (fused) { /* acc += dy2^T x2, a tile at a time (kernels.h) */
                kf->acc_prod(c.w->sums, dy2, x2, k, in, out, pack, false);
            } else { /* g2[out x in] = dy2^T [out x k] * x2 [k x in] */
                product_at_b(f, out, in, k, dy2, x2, g2);
                kf->acc_add(c.w->sums, g2, out * in);
            }
        }
        c.w->weight += (double)batch;
        if (c.b) {
            bias_single(kf, c.b->sums, dy, batch, out);
            c.b->weight += (double)batch;
        }
    }
    gd_free(x2);
    gd_free(dy2);
    gd_free(g2);
    gd_free(pack);
    return rc;
}

int gd_fisher_accumulate_dense_seq(gd_fisher *f, size_t w_id, size_t b_id, const float *x,
                                   const float *dy, size_t batch, size_t seq, size_t in,
                                   size_t out)
{
    dense_call c = {NULL, NULL, x, dy, batch, seq, in, out, true, 0, 0};
    int rc = dense_shape(f, w_id, b_id, &c);
    if (rc != GD_OK || batch == 0 || (rc = dense_values(&c, NULL, NULL)) != GD_OK)
        return rc;
    /* the only scratch, one allocation: for the sgemm path one example's
     * gradient (out*in floats, a size add_tensor's doubles bound), then the
     * bias's sums over positions (out doubles), at an 8-byte boundary.
     * Without a host's sgemm, a SIMD family forms g in registers instead. */
    const gd_kernels *kf = gd_kernels_get();
    const bool fused = !f->sgemm && kf->acc_prod;
    const size_t g_bytes = fused ? 0 : (out * in * sizeof(float) + 7) / 8 * 8;
    size_t bytes;
    if (!gd_add_ok(g_bytes, out * sizeof(double), &bytes))
        return GD_ENOMEM;
    float *g = gd_malloc(bytes);
    if (!g)
        return GD_ENOMEM;
    float *pack = fused ? pack_scratch(seq, in) : NULL;
    for (size_t b = 0; b < batch; b++) {
        const float *dy_b = dy + b * seq * out, *x_b = x + b * seq * in;
        if (fused) { /* acc += (dy_b^T x_b)^2, a tile at a time (kernels.h) */
            kf->acc_prod(c.w->sums, dy_b, x_b, seq, in, out, pack, true);
        } else { /* g[out x in] = dy_b^T [out x seq] * x_b [seq x in] */
            product_at_b(f, out, in, seq, dy_b, x_b, g);
            kf->acc_add_sq(c.w->sums, g, out * in);
        }
    }
    c.w->weight += (double)batch;
    if (c.b) {
        bias_seq(kf, c.b->sums, (double *)(void *)((char *)g + g_bytes), dy, batch, seq, out);
        c.b->weight += (double)batch;
    }
    gd_free(g);
    gd_free(pack);
    return GD_OK;
}

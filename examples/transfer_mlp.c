/*
 * gdropout-transfer, model: a multi-layer perceptron in the spirit of llm.c.
 *
 * Buffers are allocated once; each piece (dense layer, ReLU, dropout site,
 * softmax cross-entropy) has its forward and its backward side by side.
 * Matrices are row-major, dense weights W[out x in] with y = x W^T + b (the
 * convention of libgdropout's Fisher accumulators).
 */
#include "transfer.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- allocation ------------------------------------------------------ */

static float *alloc_floats(size_t n)
{
    return calloc(n ? n : 1, sizeof(float));
}

static void layer_free(gdx_layer *l)
{
    float **bufs[] = { &l->w, &l->b, &l->dw, &l->db, &l->mw, &l->vw, &l->mb, &l->vb };
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) {
        free(*bufs[i]);
        *bufs[i] = NULL;
    }
}

static int layer_alloc(gdx_layer *l, size_t in, size_t out)
{
    l->in = in;
    l->out = out;
    l->w = alloc_floats(in * out);
    l->dw = alloc_floats(in * out);
    l->mw = alloc_floats(in * out);
    l->vw = alloc_floats(in * out);
    l->b = alloc_floats(out);
    l->db = alloc_floats(out);
    l->mb = alloc_floats(out);
    l->vb = alloc_floats(out);
    return l->w && l->dw && l->mw && l->vw && l->b && l->db && l->mb && l->vb ? 0 : -1;
}

void gdx_mlp_free(gdx_mlp *m)
{
    for (size_t k = 0; k < GDX_LAYERS; k++) {
        layer_free(&m->layer[k]);
        free(m->z[k]);
        free(m->dz[k]);
    }
    for (size_t k = 0; k < GDX_SITES; k++) {
        free(m->act[k]);
        free(m->in[k]);
        free(m->mask[k]);
    }
    free(m->din);
    memset(m, 0, sizeof *m);
}

int gdx_mlp_create(gdx_mlp *m, const size_t width[GDX_LAYERS + 1], size_t cap)
{
    memset(m, 0, sizeof *m);
    m->cap = cap;
    int ok = 1;
    size_t widest = 0;
    for (size_t k = 0; k < GDX_LAYERS; k++) {
        ok &= layer_alloc(&m->layer[k], width[k], width[k + 1]) == 0;
        m->act[k] = alloc_floats(cap * width[k]);
        m->in[k] = alloc_floats(cap * width[k]);
        m->mask[k] = malloc((cap * width[k] + 7) / 8);
        m->z[k] = alloc_floats(cap * width[k + 1]);
        m->dz[k] = alloc_floats(cap * width[k + 1]);
        ok &= m->act[k] && m->in[k] && m->mask[k] && m->z[k] && m->dz[k];
        widest = width[k] > widest ? width[k] : widest;
    }
    m->din = alloc_floats(cap * widest);
    if (!ok || !m->din) {
        gdx_mlp_free(m);
        return -1;
    }
    return 0;
}

static void adam_reset(gdx_mlp *m)
{
    for (size_t k = 0; k < GDX_LAYERS; k++) {
        gdx_layer *l = &m->layer[k];
        memset(l->mw, 0, l->in * l->out * sizeof(float));
        memset(l->vw, 0, l->in * l->out * sizeof(float));
        memset(l->mb, 0, l->out * sizeof(float));
        memset(l->vb, 0, l->out * sizeof(float));
    }
    m->adam_t = 0;
}

void gdx_mlp_copy_weights(gdx_mlp *dst, const gdx_mlp *src)
{
    for (size_t k = 0; k < GDX_LAYERS; k++) {
        const gdx_layer *s = &src->layer[k];
        memcpy(dst->layer[k].w, s->w, s->in * s->out * sizeof(float));
        memcpy(dst->layer[k].b, s->b, s->out * sizeof(float));
    }
    adam_reset(dst);
}

int gdx_mlp_init(gdx_mlp *m, size_t first, uint64_t seed)
{
    for (size_t k = first; k < GDX_LAYERS; k++) {
        gdx_layer *l = &m->layer[k];
        const gd_stream s = { .seed = seed, .stream = GDX_STREAM_INIT | k, .offset = 0 };
        const int rc = gd_random_normal(l->w, l->in * l->out, &s);
        if (rc != GD_OK)
            return rc;
        const float scale = sqrtf(2.0f / (float)l->in);
        for (size_t i = 0; i < l->in * l->out; i++)
            l->w[i] *= scale;
        memset(l->b, 0, l->out * sizeof(float));
    }
    adam_reset(m);
    return GD_OK;
}

/* ---- dense layer: z = x W^T + b ------------------------------------- */

static void dense_fwd(const gdx_layer *l, float *z, const float *x, size_t n)
{
    for (size_t r = 0; r < n; r++)
        memcpy(z + r * l->out, l->b, l->out * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)l->out, (int)l->in, 1.0f,
                x, (int)l->in, l->w, (int)l->in, 1.0f, z, (int)l->out);
}

/* dW = dz^T x, db = column sums of dz, and dx = dz W when dx is wanted. */
static int dense_bwd(gdx_layer *l, float *dx, const float *dz, const float *x, size_t n)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)l->out, (int)l->in, (int)n, 1.0f,
                dz, (int)l->out, x, (int)l->in, 0.0f, l->dw, (int)l->in);
    const int rc = gd_sum_cols(l->db, dz, n, l->out);
    if (rc != GD_OK)
        return rc;
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)l->in, (int)l->out,
                    1.0f, dz, (int)l->out, l->w, (int)l->in, 0.0f, dx, (int)l->in);
    return GD_OK;
}

/* ---- ReLU ------------------------------------------------------------ */

static void relu_fwd(float *a, const float *z, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = z[i] > 0.0f ? z[i] : 0.0f;
}

/* dz = da where the unit was active (a > 0 exactly when z > 0). */
static void relu_bwd(float *dz, const float *da, const float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dz[i] = a[i] > 0.0f ? da[i] : 0.0f;
}

/* ---- dropout site ---------------------------------------------------- */

/* y = the site's dropout of x[rows x cols].  Bernoulli keeps its mask for
 * the backward pass; the per-unit and Gaussian kinds regenerate theirs from
 * the stream, as a host short of memory would. */
static int site_fwd(const gdx_site *s, float *y, const float *x, size_t rows, size_t cols,
                    const gd_stream *st, uint8_t *mask)
{
    const size_t n = rows * cols;
    switch (s->kind) {
    case GDX_DROP_BERNOULLI:
        return gd_dropout_fwd(y, x, n, s->p, st, mask);
    case GDX_DROP_GAUSSIAN:
        return gd_gaussian_dropout_fwd(y, x, n, s->sigma, st);
    case GDX_DROP_COLS:
        return gd_dropout_fwd_cols(y, x, rows, cols, s->p_cols, st, NULL);
    case GDX_DROP_NONE:
    default:
        memcpy(y, x, n * sizeof *y);
        return GD_OK;
    }
}

/* d in place: the gradient at the site's output becomes the gradient at its
 * input. */
static int site_bwd(const gdx_site *s, float *d, size_t rows, size_t cols, const gd_stream *st,
                    const uint8_t *mask)
{
    const size_t n = rows * cols;
    switch (s->kind) {
    case GDX_DROP_BERNOULLI:
        return gd_dropout_bwd(d, d, n, s->p, NULL, mask);
    case GDX_DROP_GAUSSIAN:
        return gd_gaussian_dropout_bwd(d, d, n, s->sigma, st);
    case GDX_DROP_COLS:
        return gd_dropout_bwd_cols(d, d, rows, cols, s->p_cols, st, NULL);
    case GDX_DROP_NONE:
    default:
        return GD_OK;
    }
}

static gd_stream site_stream(uint64_t seed, uint64_t step, size_t site)
{
    const gd_stream s = { .seed = seed, .stream = gdx_dropout_stream(step, site), .offset = 0 };
    return s;
}

/* ---- softmax cross-entropy ------------------------------------------ */

/* dz = (softmax(z) - onehot(y)) * scale per row; returns the mean loss. */
static double xent(float *dz, const float *z, const int *y, size_t n, size_t classes,
                   float scale)
{
    double total = 0.0;
    for (size_t r = 0; r < n; r++) {
        const float *zr = z + r * classes;
        float *dr = dz + r * classes;
        float mx = zr[0];
        for (size_t c = 1; c < classes; c++)
            mx = zr[c] > mx ? zr[c] : mx;
        double sum = 0.0;
        for (size_t c = 0; c < classes; c++)
            sum += exp((double)(zr[c] - mx));
        for (size_t c = 0; c < classes; c++) {
            const double prob = exp((double)(zr[c] - mx)) / sum;
            dr[c] = (float)(prob - (c == (size_t)y[r] ? 1.0 : 0.0)) * scale;
        }
        total += log(sum) - (double)(zr[y[r]] - mx);
    }
    return total / (double)n;
}

/* ---- whole network --------------------------------------------------- */

static int forward(gdx_mlp *m, const float *x, size_t n, const gdx_site site[GDX_SITES],
                   uint64_t seed, uint64_t step)
{
    memcpy(m->act[0], x, n * GDX_PIXELS * sizeof *x);
    for (size_t k = 0; k < GDX_LAYERS; k++) {
        const gdx_layer *l = &m->layer[k];
        const gd_stream st = site_stream(seed, step, k);
        const int rc = site_fwd(&site[k], m->in[k], m->act[k], n, l->in, &st, m->mask[k]);
        if (rc != GD_OK)
            return rc;
        dense_fwd(l, m->z[k], m->in[k], n);
        if (k + 1 < GDX_LAYERS)
            relu_fwd(m->act[k + 1], m->z[k], n * l->out);
    }
    return GD_OK;
}

/* From dz[last] (set by xent) down to dz[0], filling every layer's dW, db. */
static int backward(gdx_mlp *m, size_t n, const gdx_site site[GDX_SITES], uint64_t seed,
                    uint64_t step)
{
    for (size_t k = GDX_LAYERS; k-- > 0;) {
        gdx_layer *l = &m->layer[k];
        int rc = dense_bwd(l, k ? m->din : NULL, m->dz[k], m->in[k], n);
        if (rc != GD_OK || k == 0)
            return rc;
        const gd_stream st = site_stream(seed, step, k);
        rc = site_bwd(&site[k], m->din, n, l->in, &st, m->mask[k]);
        if (rc != GD_OK)
            return rc;
        relu_bwd(m->dz[k - 1], m->din, m->act[k], n * l->in);
    }
    return GD_OK;
}

static void adam_update(float *w, float *mom, float *vel, const float *g, size_t n, float lr,
                        float c1, float c2)
{
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    for (size_t i = 0; i < n; i++) {
        mom[i] = b1 * mom[i] + (1.0f - b1) * g[i];
        vel[i] = b2 * vel[i] + (1.0f - b2) * g[i] * g[i];
        w[i] -= lr * (mom[i] / c1) / (sqrtf(vel[i] / c2) + eps);
    }
}

static void adam_step(gdx_mlp *m, float lr)
{
    m->adam_t++;
    const float c1 = (float)(1.0 - pow(0.9, (double)m->adam_t));
    const float c2 = (float)(1.0 - pow(0.999, (double)m->adam_t));
    for (size_t k = 0; k < GDX_LAYERS; k++) {
        gdx_layer *l = &m->layer[k];
        adam_update(l->w, l->mw, l->vw, l->dw, l->in * l->out, lr, c1, c2);
        adam_update(l->b, l->mb, l->vb, l->db, l->out, lr, c1, c2);
    }
}

int gdx_mlp_train_step(gdx_mlp *m, const float *x, const int *y, size_t n,
                       const gdx_site site[GDX_SITES], uint64_t seed, uint64_t step, float lr,
                       float *loss)
{
    int rc = forward(m, x, n, site, seed, step);
    if (rc != GD_OK)
        return rc;
    const size_t last = GDX_LAYERS - 1, classes = m->layer[last].out;
    *loss = (float)xent(m->dz[last], m->z[last], y, n, classes, 1.0f / (float)n);
    rc = backward(m, n, site, seed, step);
    if (rc != GD_OK)
        return rc;
    adam_step(m, lr);
    return GD_OK;
}

static const gdx_site no_dropout[GDX_SITES];

double gdx_mlp_accuracy(gdx_mlp *m, const gdx_set *s)
{
    const size_t last = GDX_LAYERS - 1, classes = m->layer[last].out;
    size_t right = 0;
    for (size_t at = 0; at < s->n; at += m->cap) {
        const size_t n = s->n - at < m->cap ? s->n - at : m->cap;
        if (forward(m, s->x + at * GDX_PIXELS, n, no_dropout, 0, 0) != GD_OK)
            return 0.0; /* identity sites cannot fail */
        for (size_t r = 0; r < n; r++) {
            const float *zr = m->z[last] + r * classes;
            size_t best = 0;
            for (size_t c = 1; c < classes; c++)
                best = zr[c] > zr[best] ? c : best;
            right += (int)best == s->y[at + r];
        }
    }
    return s->n ? (double)right / (double)s->n : 0.0;
}

int gdx_mlp_fisher(gdx_mlp *m, const gdx_set *s, gd_fisher *f, const size_t w_id[GDX_LAYERS],
                   const size_t b_id[GDX_LAYERS])
{
    const size_t last = GDX_LAYERS - 1, classes = m->layer[last].out;
    for (size_t at = 0; at < s->n; at += m->cap) {
        const size_t n = s->n - at < m->cap ? s->n - at : m->cap;
        int rc = forward(m, s->x + at * GDX_PIXELS, n, no_dropout, 0, 0);
        if (rc != GD_OK)
            return rc;
        /* scale 1, not 1/n: row r of every dz is then the gradient of
         * example r's own loss, which is what the accumulator wants. */
        (void)xent(m->dz[last], m->z[last], s->y + at, n, classes, 1.0f);
        rc = backward(m, n, no_dropout, 0, 0);
        for (size_t k = 0; k < GDX_LAYERS && rc == GD_OK; k++) {
            const gdx_layer *l = &m->layer[k];
            rc = gd_fisher_accumulate_dense(f, w_id[k], b_id[k], m->in[k], m->dz[k], n, l->in,
                                            l->out);
        }
        if (rc != GD_OK)
            return rc;
    }
    return GD_OK;
}

/*
 * The encoder's forward and backward passes, layer by layer (see model.h for
 * the shapes).  Each layer's forward and backward sit side by side; every
 * matrix product is enc_sgemm (cblas_sgemm, row-major), every dropout and
 * bias gradient a libgdropout call.
 */
#include "model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gdropout/gdropout.h>

#include "fastmath.h"
#include "util.h"

/* ==== configuration and parameter layout ================================ */

int enc_config_check(const enc_config *c, char *err, size_t n)
{
    const char *why = NULL;
    if (c->layers == 0 || c->layers > ENC_MAX_LAYERS)
        why = "--layers must be 1..64";
    else if (c->hidden == 0 || c->hidden > 8192)
        why = "--hidden must be 1..8192";
    else if (c->heads == 0 || c->hidden % c->heads != 0)
        why = "--heads must divide --hidden";
    else if (c->ffn == 0 || c->ffn > 65536)
        why = "--ffn must be 1..65536";
    else if (c->max_len < 4 || c->max_len > 4096)
        why = "--max-len must be 4..4096";
    else if (c->vocab <= 5 || c->vocab > (1u << 24))
        why = "the vocabulary must have 6..2^24 entries";
    else if (c->classes > 4096)
        why = "at most 4096 classes";
    else if (c->pool < 0 || c->pool >= ENC_POOL_N)
        why = "unknown pooling";
    if (why != NULL)
        snprintf(err, n, "%s", why);
    return why ? -1 : 0;
}

static const char *const pool_names[ENC_POOL_N] = {"cls", "mean", "pair"};

const char *enc_pool_name(int pool)
{
    return pool >= 0 && pool < ENC_POOL_N ? pool_names[pool] : "?";
}

int enc_pool_parse(const char *name)
{
    return enc_name_index(pool_names, ENC_POOL_N, name);
}

void enc_site_name(size_t site, char *buf, size_t len)
{
    static const char *const kind[3] = {"attention.self.dropout", "attention.output.dropout",
                                        "output.dropout"};
    if (site == 0)
        snprintf(buf, len, "embeddings.dropout");
    else
        snprintf(buf, len, "encoder.layer.%zu.%s", (site - 1) / 3, kind[(site - 1) % 3]);
}

size_t enc_tensor_site(const enc_model *m, size_t tensor, int rule)
{
    const enc_tensor *t = &m->tensor[tensor];
    size_t l;
    int at = 0;
    if (rule == ENC_RULE_MODULE || t->site == SIZE_MAX || t->site == 0 ||
        sscanf(t->name, "encoder.layer.%zu.%n", &l, &at) != 1 || at == 0)
        return t->site;
    const char *rest = t->name + at;
    if (strncmp(rest, "attention.self.value.", 21) == 0 ||
        strncmp(rest, "attention.output.dense.", 23) == 0)
        return 2 + 3 * l;
    if (strncmp(rest, "attention.output.LayerNorm.", 27) == 0)
        return 3 + 3 * l;
    if (strncmp(rest, "output.LayerNorm.", 17) == 0)
        return l + 1 < m->cfg.layers ? 1 + 3 * (l + 1) : SIZE_MAX;
    return t->site; /* query and key; the feed-forward's dense layers */
}

/* Declares the tensors in BERT's order.  With base == NULL only the table is
 * filled; otherwise the pointers of *p are bound into base. */
typedef struct layout {
    enc_model *m;
    float *base;
    size_t offset;
} layout;

static float *decl(layout *lo, size_t *id, size_t rows, size_t cols, size_t site, int decay,
                   const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static float *decl(layout *lo, size_t *id, size_t rows, size_t cols, size_t site, int decay,
                   const char *fmt, ...)
{
    enc_model *m = lo->m;
    enc_tensor *t = &m->tensor[m->n_tensors];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->rows = rows;
    t->cols = cols;
    t->offset = lo->offset;
    t->site = site;
    t->decay = decay;
    if (id != NULL)
        *id = m->n_tensors;
    m->n_tensors++;
    lo->offset += enc_mul(rows, cols);
    return lo->base ? lo->base + t->offset : NULL;
}

static void decl_linear(layout *lo, enc_linear *l, size_t in, size_t out, size_t site,
                        const char *prefix)
{
    l->in = in;
    l->out = out;
    l->w = decl(lo, &l->w_id, out, in, site, 1, "%s.weight", prefix);
    l->b = decl(lo, &l->b_id, out, 1, site, 0, "%s.bias", prefix);
}

static void decl_norm(layout *lo, enc_norm *n, size_t H, size_t site, const char *prefix)
{
    n->g = decl(lo, NULL, H, 1, site, 0, "%s.weight", prefix);
    n->b = decl(lo, NULL, H, 1, site, 0, "%s.bias", prefix);
}

/* The mapping of tensors to the sites whose output they feed: embeddings ->
 * embeddings.dropout; Q, K, V -> attention.self.dropout; the attention
 * output dense and its LayerNorm -> attention.output.dropout; the
 * intermediate and output dense and their LayerNorm -> output.dropout.  The
 * heads feed no site. */
static void lay_out(enc_model *m, float *base, enc_params *p)
{
    const enc_config *c = &m->cfg;
    const size_t H = c->hidden, none = SIZE_MAX;
    layout lo = {m, base, 0};
    char pre[96];
    m->n_tensors = 0;
    p->wte = decl(&lo, NULL, c->vocab, H, 0, 1, "embeddings.word_embeddings.weight");
    p->wpe = decl(&lo, NULL, c->max_len, H, 0, 1, "embeddings.position_embeddings.weight");
    p->wtt = decl(&lo, NULL, ENC_TYPES, H, 0, 1, "embeddings.token_type_embeddings.weight");
    decl_norm(&lo, &p->ln_e, H, 0, "embeddings.LayerNorm");
    for (size_t l = 0; l < c->layers; l++) {
        enc_layer_params *L = &p->layer[l];
        const size_t s = 1 + 3 * l;
        snprintf(pre, sizeof pre, "encoder.layer.%zu.attention.self.query", l);
        decl_linear(&lo, &L->q, H, H, s, pre);
        snprintf(pre, sizeof pre, "encoder.layer.%zu.attention.self.key", l);
        decl_linear(&lo, &L->k, H, H, s, pre);
        snprintf(pre, sizeof pre, "encoder.layer.%zu.attention.self.value", l);
        decl_linear(&lo, &L->v, H, H, s, pre);
        snprintf(pre, sizeof pre, "encoder.layer.%zu.attention.output.dense", l);
        decl_linear(&lo, &L->ao, H, H, s + 1, pre);
        snprintf(pre, sizeof pre, "encoder.layer.%zu.attention.output.LayerNorm", l);
        decl_norm(&lo, &L->ln1, H, s + 1, pre);
        snprintf(pre, sizeof pre, "encoder.layer.%zu.intermediate.dense", l);
        decl_linear(&lo, &L->fi, H, c->ffn, s + 2, pre);
        snprintf(pre, sizeof pre, "encoder.layer.%zu.output.dense", l);
        decl_linear(&lo, &L->fo, c->ffn, H, s + 2, pre);
        snprintf(pre, sizeof pre, "encoder.layer.%zu.output.LayerNorm", l);
        decl_norm(&lo, &L->ln2, H, s + 2, pre);
    }
    decl_linear(&lo, &p->mlm, H, H, none, "cls.predictions.transform.dense");
    decl_norm(&lo, &p->mlm_ln, H, none, "cls.predictions.transform.LayerNorm");
    p->mlm_bias = decl(&lo, NULL, c->vocab, 1, none, 0, "cls.predictions.bias");
    if (c->classes > 0)
        decl_linear(&lo, &p->cls, enc_cls_in(c), c->classes, none, "classifier");
    m->n_params = lo.offset;
}

static void acts_free(enc_acts *a);

void enc_model_create(enc_model *m, const enc_config *cfg)
{
    char err[128];
    if (enc_config_check(cfg, err, sizeof err) != 0)
        enc_die("%s", err);
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->tensor = enc_alloc(16 * cfg->layers + 16, sizeof *m->tensor, "tensor table"); /* 16 a layer */
    enc_params unbound;
    lay_out(m, NULL, &unbound);
    m->param = enc_alloc(m->n_params, sizeof(float), "parameters");
    m->grad = enc_alloc(m->n_params, sizeof(float), "gradients");
    lay_out(m, m->param, &m->P);
    lay_out(m, m->grad, &m->G);
}

void enc_model_free(enc_model *m)
{
    if (m->acts != NULL)
        acts_free(m->acts);
    free(m->tensor);
    free(m->param);
    free(m->grad);
    memset(m, 0, sizeof *m);
}

void enc_model_init(enc_model *m, uint64_t seed, uint64_t stream)
{
    enc_rng r = enc_rng_make(seed, stream);
    for (size_t i = 0; i < m->n_tensors; i++) {
        const enc_tensor *t = &m->tensor[i];
        float *w = m->param + t->offset;
        size_t n = t->rows * t->cols;
        int is_norm_gain = strstr(t->name, "LayerNorm.weight") != NULL;
        for (size_t j = 0; j < n; j++) {
            if (is_norm_gain)
                w[j] = 1.0f;
            else if (t->cols > 1)
                w[j] = (float)(0.02 * enc_rng_normal(&r));
            else
                w[j] = 0.0f;
        }
    }
}

size_t enc_model_find(const enc_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensor[i].name, name) == 0)
            return i;
    return SIZE_MAX;
}

/* ==== activations ====================================================== */

typedef struct layer_acts {
    float *q, *k, *v;           /* [BT,H] */
    float *att, *attd;          /* [B,nh,T,T] softmax, after dropout */
    float *ctx, *ao, *r1;       /* [BT,H] */
    float *h, *h_mean, *h_rstd; /* LayerNorm 1: [BT,H], [BT], [BT] */
    float *fi, *g, *cdf, *pdf;  /* [BT,F] before and after GELU, Phi(fi), phi(fi) */
    float *fo, *r2;             /* [BT,H] */
    float *out, *o_mean, *o_rstd;
    uint8_t *ma, *m1, *m2;      /* masks: attention (ceil(B*nh*T*T/8)), residual sites */
} layer_acts;

enum { MODE_NONE = 0, MODE_MLM = 1, MODE_CLS = 2 };

struct enc_acts {
    size_t bt, att, mk, b; /* capacities: B*T, B*nh*T*T, masked tokens, B */
    int mode;              /* the objective of the last forward */
    float *e, *e_ln, *e_mean, *e_rstd, *x0;
    uint8_t *m0;
    layer_acts L[ENC_MAX_LAYERS];
    float *hm, *t, *tg, *tcdf, *tpdf, *z, *z_mean, *z_rstd, *logits; /* MLM head */
    float *pooled, *pooled_d, *clogits;                /* classifier */
    /* backward scratch */
    float *d_out, *d_r, *d_ln, *d_h, *d_f, *d_ctx, *dq, *dk, *dv, *d_att;
    float *d_hm, *d_t, *dbias, *d_pool;
    float *ones; /* B*T ones, for bias gradients */
};

enum { SZ_BTH, SZ_BTF, SZ_ATT, SZ_BT, SZ_MH, SZ_MV, SZ_M, SZ_BP, SZ_BC, SZ_BIAS };

/* Every float buffer with its size class: one list for allocation and
 * freeing, so a new buffer cannot be forgotten in either. */
typedef struct buf_ref {
    float **p;
    int size;
} buf_ref;

static size_t list_buffers(enc_acts *a, size_t layers, buf_ref *out)
{
    size_t n = 0;
#define BUF(ptr, sz) (out[n].p = &(ptr), out[n].size = (sz), n++)
    BUF(a->e, SZ_BTH), BUF(a->e_ln, SZ_BTH), BUF(a->e_mean, SZ_BT), BUF(a->e_rstd, SZ_BT);
    BUF(a->x0, SZ_BTH);
    for (size_t l = 0; l < layers; l++) {
        layer_acts *L = &a->L[l];
        BUF(L->q, SZ_BTH), BUF(L->k, SZ_BTH), BUF(L->v, SZ_BTH);
        BUF(L->att, SZ_ATT), BUF(L->attd, SZ_ATT);
        BUF(L->ctx, SZ_BTH), BUF(L->ao, SZ_BTH), BUF(L->r1, SZ_BTH);
        BUF(L->h, SZ_BTH), BUF(L->h_mean, SZ_BT), BUF(L->h_rstd, SZ_BT);
        BUF(L->fi, SZ_BTF), BUF(L->g, SZ_BTF), BUF(L->cdf, SZ_BTF), BUF(L->pdf, SZ_BTF);
        BUF(L->fo, SZ_BTH), BUF(L->r2, SZ_BTH);
        BUF(L->out, SZ_BTH), BUF(L->o_mean, SZ_BT), BUF(L->o_rstd, SZ_BT);
    }
    BUF(a->hm, SZ_MH), BUF(a->t, SZ_MH), BUF(a->tg, SZ_MH), BUF(a->tcdf, SZ_MH);
    BUF(a->tpdf, SZ_MH);
    BUF(a->z, SZ_MH);
    BUF(a->z_mean, SZ_M), BUF(a->z_rstd, SZ_M), BUF(a->logits, SZ_MV);
    BUF(a->pooled, SZ_BP), BUF(a->pooled_d, SZ_BP), BUF(a->clogits, SZ_BC);
    BUF(a->d_out, SZ_BTH), BUF(a->d_r, SZ_BTH), BUF(a->d_ln, SZ_BTH), BUF(a->d_h, SZ_BTH);
    BUF(a->d_f, SZ_BTF), BUF(a->d_ctx, SZ_BTH), BUF(a->dq, SZ_BTH), BUF(a->dk, SZ_BTH);
    BUF(a->dv, SZ_BTH), BUF(a->d_att, SZ_ATT), BUF(a->d_hm, SZ_MH), BUF(a->d_t, SZ_MH);
    BUF(a->dbias, SZ_BIAS), BUF(a->d_pool, SZ_BP), BUF(a->ones, SZ_BT);
#undef BUF
    return n;
}

/* The masks, NULL-terminated, with their size classes (bits per element). */
static void list_masks(enc_acts *a, size_t layers, uint8_t **out[], int *size)
{
    size_t n = 0;
    out[n] = &a->m0, size[n++] = SZ_BTH;
    for (size_t l = 0; l < layers; l++) {
        out[n] = &a->L[l].ma, size[n++] = SZ_ATT;
        out[n] = &a->L[l].m1, size[n++] = SZ_BTH;
        out[n] = &a->L[l].m2, size[n++] = SZ_BTH;
    }
    out[n] = NULL;
}

static void acts_free(enc_acts *a)
{
    buf_ref refs[40 + 20 * ENC_MAX_LAYERS];
    size_t n = list_buffers(a, ENC_MAX_LAYERS, refs);
    for (size_t i = 0; i < n; i++)
        free(*refs[i].p);
    uint8_t **masks[4 * ENC_MAX_LAYERS + 4];
    int sizes[4 * ENC_MAX_LAYERS + 4];
    list_masks(a, ENC_MAX_LAYERS, masks, sizes);
    for (size_t i = 0; masks[i] != NULL; i++)
        free(*masks[i]);
    free(a);
}

/* Makes the activations hold a batch of B x T with M masked tokens. */
static enc_acts *acts_reserve(enc_model *m, size_t B, size_t T, size_t M)
{
    const enc_config *c = &m->cfg;
    T = c->max_len; /* reserve the longest batch at once: no regrowth as T varies */
    size_t bt = enc_mul(B, T), att = enc_mul(enc_mul(bt, T), c->heads);
    M = M ? M : 1;
    enc_acts *a = m->acts;
    if (a != NULL && a->bt >= bt && a->att >= att && a->mk >= M && a->b >= B)
        return a;
    if (a != NULL) {
        bt = bt > a->bt ? bt : a->bt, att = att > a->att ? att : a->att;
        M = M > a->mk ? M : a->mk, B = B > a->b ? B : a->b;
        acts_free(a);
    }
    a = enc_alloc(1, sizeof *a, "activations");
    a->bt = bt, a->att = att, a->mk = M, a->b = B;
    size_t bias = c->vocab > c->ffn ? c->vocab : c->ffn;
    const size_t count[] = {
        [SZ_BTH] = enc_mul(bt, c->hidden), [SZ_BTF] = enc_mul(bt, c->ffn), [SZ_ATT] = att,
        [SZ_BT] = bt, [SZ_MH] = enc_mul(M, c->hidden), [SZ_MV] = enc_mul(M, c->vocab),
        [SZ_M] = M, [SZ_BP] = enc_mul(B, enc_cls_in(c)), [SZ_BC] = enc_mul(B, c->classes + 1),
        [SZ_BIAS] = bias > c->hidden ? bias : c->hidden};
    buf_ref refs[40 + 20 * ENC_MAX_LAYERS];
    size_t n = list_buffers(a, c->layers, refs);
    for (size_t i = 0; i < n; i++)
        *refs[i].p = enc_alloc(count[refs[i].size], sizeof(float), "activations");
    for (size_t i = 0; i < bt; i++)
        a->ones[i] = 1.0f;
    uint8_t **masks[4 * ENC_MAX_LAYERS + 4];
    int sizes[4 * ENC_MAX_LAYERS + 4];
    list_masks(a, c->layers, masks, sizes);
    for (size_t i = 0; masks[i] != NULL; i++)
        *masks[i] = enc_alloc(count[sizes[i]] / 8 + 1, 1, "dropout masks");
    m->acts = a;
    return a;
}

/* ==== small kernels ===================================================== */

/* GELU(x) = x Phi(x) with Phi the normal CDF (erf's, as BERT); forward
 * keeps Phi(x) and the density phi(x), so backward is one multiply-add:
 * GELU'(x) = Phi(x) + x phi(x). */
ENC_VECTOR_CLONES
static void gelu_fwd(float *restrict y, float *restrict cdf, float *restrict pdf,
                     const float *restrict x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        enc_normal_cdf_pdf(x[i], &cdf[i], &pdf[i]);
        y[i] = x[i] * cdf[i];
    }
}

/* dx *= GELU'(x), in place. */
ENC_VECTOR_CLONES
static void gelu_bwd(float *restrict dx, const float *restrict x, const float *restrict cdf,
                     const float *restrict pdf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dx[i] *= cdf[i] + x[i] * pdf[i];
}

static void add_rows(float *y, const float *bias, size_t rows, size_t cols)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            y[r * cols + c] += bias[c];
}

/* g[c] += sum over rows of dy[r, c]: dy^T times a vector of ones (BLAS). */
static void bias_grad(float *g, const float *ones, const float *dy, size_t rows, size_t cols)
{
    enc_sgemv_t(rows, cols, dy, ones, g);
}

/* ---- dense: y = x W^T (+ b) ------------------------------------------- */

static void dense_fwd(float *y, const float *x, const enc_linear *l, size_t rows, int with_bias)
{
    enc_sgemm(0, 1, rows, l->out, l->in, 1.0f, x, l->in, l->w, l->in, 0.0f, y, l->out);
    if (with_bias)
        add_rows(y, l->b, rows, l->out);
}

/* dW += dy^T x; db += colsum(dy) when with_bias; dx = dy W (+ dx when
 * accumulate; dx NULL skips it).  ones: at least rows ones. */
static void dense_bwd(float *dx, const float *dy, const float *x, const enc_linear *l,
                      const enc_linear *g, size_t rows, int with_bias, int accumulate,
                      const float *ones)
{
    enc_sgemm(1, 0, l->out, l->in, rows, 1.0f, dy, l->out, x, l->in, 1.0f, g->w, l->in);
    if (with_bias)
        bias_grad(g->b, ones, dy, rows, l->out);
    if (dx != NULL)
        enc_sgemm(0, 0, rows, l->in, l->out, 1.0f, dy, l->out, l->w, l->in,
                  accumulate ? 1.0f : 0.0f, dx, l->in);
}

/* ---- LayerNorm ---------------------------------------------------------- */

static const float ln_eps = 1e-12f;

static void norm_fwd(float *y, float *mean, float *rstd, const float *x, const enc_norm *n,
                     size_t rows, size_t H)
{
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * H;
        double s = 0.0, ss = 0.0;
        for (size_t c = 0; c < H; c++)
            s += xr[c];
        double mu = s / (double)H;
        for (size_t c = 0; c < H; c++)
            ss += (xr[c] - mu) * (xr[c] - mu);
        float rs = (float)(1.0 / sqrt(ss / (double)H + ln_eps));
        mean[r] = (float)mu;
        rstd[r] = rs;
        for (size_t c = 0; c < H; c++)
            y[r * H + c] = (xr[c] - (float)mu) * rs * n->g[c] + n->b[c];
    }
}

/* dx = LayerNorm backward of dy (overwrites dx); dg, db accumulate. */
static void norm_bwd(float *dx, const float *dy, const float *x, const float *mean,
                     const float *rstd, const enc_norm *n, const enc_norm *g, size_t rows,
                     size_t H)
{
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * H, *dyr = dy + r * H;
        float mu = mean[r], rs = rstd[r];
        double sd = 0.0, sdx = 0.0;
        for (size_t c = 0; c < H; c++) {
            float xhat = (xr[c] - mu) * rs;
            float dxhat = dyr[c] * n->g[c];
            g->g[c] += dyr[c] * xhat;
            g->b[c] += dyr[c];
            sd += dxhat;
            sdx += dxhat * xhat;
        }
        float md = (float)(sd / (double)H), mdx = (float)(sdx / (double)H);
        for (size_t c = 0; c < H; c++) {
            float xhat = (xr[c] - mu) * rs;
            dx[r * H + c] = rs * (dyr[c] * n->g[c] - md - xhat * mdx);
        }
    }
}

/* ---- dropout sites ------------------------------------------------------ */

static gd_stream site_stream(const enc_dropout *d, size_t site)
{
    gd_stream s = {d->seed, ((uint64_t)d->step << 16) | site, 0};
    return s;
}

static float site_rate(const enc_dropout *d, size_t site, size_t n_sites)
{
    if (!d->train)
        return 0.0f;
    return site < n_sites ? d->rate[site] : d->cls_p;
}

/* y = dropout(x) on n elements; mask stored when not NULL. */
static void drop_fwd(const enc_dropout *d, size_t site, size_t n_sites, float *y, const float *x,
                     size_t n, uint8_t *mask)
{
    float r = site_rate(d, site, n_sites);
    gd_stream s = site_stream(d, site);
    double t0 = enc_prof_begin();
    if (d->gaussian && site < n_sites)
        enc_gd(gd_gaussian_dropout_fwd(y, x, n, r, &s), "gd_gaussian_dropout_fwd");
    else
        enc_gd(gd_dropout_fwd(y, x, n, r, &s, mask), "gd_dropout_fwd");
    enc_prof_end(ENC_PROF_GD, t0);
}

/* dx = dropout backward of dy; mask NULL regenerates it. */
static void drop_bwd(const enc_dropout *d, size_t site, size_t n_sites, float *dx,
                     const float *dy, size_t n, const uint8_t *mask)
{
    float r = site_rate(d, site, n_sites);
    gd_stream s = site_stream(d, site);
    double t0 = enc_prof_begin();
    if (d->gaussian && site < n_sites)
        enc_gd(gd_gaussian_dropout_bwd(dx, dy, n, r, &s), "gd_gaussian_dropout_bwd");
    else
        enc_gd(gd_dropout_bwd(dx, dy, n, r, &s, mask), "gd_dropout_bwd");
    enc_prof_end(ENC_PROF_GD, t0);
}

/* The residual epilogue: y = residual + dropout(x + bias), fused. */
static void drop_add_fwd(const enc_dropout *d, size_t site, size_t n_sites, float *y,
                         const float *x, const float *bias, const float *residual, size_t rows,
                         size_t cols, uint8_t *mask)
{
    float r = site_rate(d, site, n_sites);
    gd_stream s = site_stream(d, site);
    double t0 = enc_prof_begin();
    if (d->gaussian) {
        /* No fused Gaussian kernel: bias, noise, then the residual. */
        for (size_t i = 0; i < rows; i++)
            for (size_t c = 0; c < cols; c++)
                y[i * cols + c] = x[i * cols + c] + bias[c];
        enc_gd(gd_gaussian_dropout_fwd(y, y, rows * cols, r, &s), "gd_gaussian_dropout_fwd");
        for (size_t i = 0; i < rows * cols; i++)
            y[i] += residual[i];
    } else {
        enc_gd(gd_dropout_add_fwd(y, x, bias, residual, rows, cols, r, &s, mask),
               "gd_dropout_add_fwd");
    }
    enc_prof_end(ENC_PROF_GD, t0);
}

/* dx = dropout backward of dy; dbias += its column sums. */
static void drop_add_bwd(const enc_dropout *d, size_t site, size_t n_sites, float *dx,
                         float *dbias, float *scratch, const float *dy, size_t rows, size_t cols,
                         const uint8_t *mask)
{
    float r = site_rate(d, site, n_sites);
    gd_stream s = site_stream(d, site);
    double t0 = enc_prof_begin();
    if (d->gaussian) {
        enc_gd(gd_gaussian_dropout_bwd(dx, dy, rows * cols, r, &s), "gd_gaussian_dropout_bwd");
        enc_gd(gd_sum_cols(scratch, dx, rows, cols), "gd_sum_cols");
    } else {
        enc_gd(gd_dropout_add_bwd(dx, scratch, dy, rows, cols, r, &s, mask),
               "gd_dropout_add_bwd");
    }
    enc_prof_end(ENC_PROF_GD, t0);
    for (size_t c = 0; c < cols; c++)
        dbias[c] += scratch[c];
}

/* ==== embeddings ======================================================== */

static void embed_fwd(enc_model *m, enc_acts *a, const enc_batch *b, const enc_dropout *d)
{
    const size_t H = m->cfg.hidden, BT = b->B * b->T;
    const enc_params *P = &m->P;
    for (size_t i = 0; i < BT; i++) {
        size_t t = i % b->T;
        const float *w = P->wte + (size_t)b->ids[i] * H, *p = P->wpe + t * H,
                    *s = P->wtt + (size_t)b->seg[i] * H;
        for (size_t c = 0; c < H; c++)
            a->e[i * H + c] = w[c] + p[c] + s[c];
    }
    norm_fwd(a->e_ln, a->e_mean, a->e_rstd, a->e, &P->ln_e, BT, H);
    drop_fwd(d, 0, enc_n_sites(&m->cfg), a->x0, a->e_ln, BT * H, a->m0);
}

/* dx0 [BT,H] -> embedding gradients (padded positions get none: their
 * gradient is exactly zero, since no real token attends to them). */
static void embed_bwd(enc_model *m, enc_acts *a, const enc_batch *b, const enc_dropout *d,
                      float *dx0)
{
    const size_t H = m->cfg.hidden, BT = b->B * b->T;
    enc_params *G = &m->G;
    drop_bwd(d, 0, enc_n_sites(&m->cfg), a->d_r, dx0, BT * H, a->m0);
    norm_bwd(a->d_ln, a->d_r, a->e, a->e_mean, a->e_rstd, &m->P.ln_e, &G->ln_e, BT, H);
    for (size_t i = 0; i < BT; i++) {
        size_t t = i % b->T;
        if (t >= b->len[i / b->T])
            continue;
        float *w = G->wte + (size_t)b->ids[i] * H, *p = G->wpe + t * H,
              *s = G->wtt + (size_t)b->seg[i] * H;
        const float *g = a->d_ln + i * H;
        for (size_t c = 0; c < H; c++) {
            w[c] += g[c];
            p[c] += g[c];
            s[c] += g[c];
        }
    }
}

/* ==== self-attention ===================================================== */

/* att[b,h] = softmax(q_bh k_bh^T / sqrt(d)) over keys < len[b] (others 0);
 * attd = dropout(att); ctx_bh = attd_bh v_bh.  q, k, v, ctx are [BT,H]
 * with head h in columns h*d .. h*d+d-1 (leading dimension H). */
static void attention_fwd(const enc_model *m, layer_acts *L, const enc_batch *b,
                          const enc_dropout *d, size_t layer)
{
    const size_t H = m->cfg.hidden, nh = m->cfg.heads, hd = H / nh, T = b->T;
    const float scale = 1.0f / sqrtf((float)hd);
    for (size_t s = 0; s < b->B; s++) {
        const size_t n = b->len[s];
        for (size_t h = 0; h < nh; h++) {
            const size_t qo = s * T * H + h * hd;
            float *S = L->att + (s * nh + h) * T * T;
            enc_sgemm(0, 1, T, n, hd, scale, L->q + qo, H, L->k + qo, H, 0.0f, S, T);
            for (size_t i = 0; i < T; i++) {
                float *row = S + i * T, mx = row[0];
                for (size_t j = 1; j < n; j++)
                    mx = row[j] > mx ? row[j] : mx;
                float sum = 0.0f;
                for (size_t j = 0; j < n; j++)
                    row[j] = enc_exp(row[j] - mx);
                for (size_t j = 0; j < n; j++)
                    sum += row[j];
                float inv = 1.0f / sum;
                for (size_t j = 0; j < n; j++)
                    row[j] *= inv;
                for (size_t j = n; j < T; j++)
                    row[j] = 0.0f;
            }
        }
    }
    const size_t n_att = b->B * nh * T * T;
    drop_fwd(d, 1 + 3 * layer, enc_n_sites(&m->cfg), L->attd, L->att, n_att, L->ma);
    for (size_t s = 0; s < b->B; s++)
        for (size_t h = 0; h < nh; h++) {
            const size_t qo = s * T * H + h * hd;
            enc_sgemm(0, 0, T, hd, b->len[s], 1.0f, L->attd + (s * nh + h) * T * T, T,
                      L->v + qo, H, 0.0f, L->ctx + qo, H);
        }
}

/* From dctx [BT,H]: dq, dk, dv [BT,H] (overwritten). */
static void attention_bwd(const enc_model *m, enc_acts *a, layer_acts *L, const enc_batch *b,
                          const enc_dropout *d, size_t layer)
{
    const size_t H = m->cfg.hidden, nh = m->cfg.heads, hd = H / nh, T = b->T;
    const float scale = 1.0f / sqrtf((float)hd);
    const size_t BTH = b->B * T * H, n_att = b->B * nh * T * T;
    memset(a->dv, 0, BTH * sizeof(float));
    memset(a->dk, 0, BTH * sizeof(float));
    memset(a->d_att, 0, n_att * sizeof(float));
    for (size_t s = 0; s < b->B; s++)
        for (size_t h = 0; h < nh; h++) {
            const size_t qo = s * T * H + h * hd, n = b->len[s];
            const float *Pd = L->attd + (s * nh + h) * T * T;
            float *dP = a->d_att + (s * nh + h) * T * T;
            /* dattd = dctx v^T [T,n];  dv = attd^T dctx [n,hd] */
            enc_sgemm(0, 1, T, n, hd, 1.0f, a->d_ctx + qo, H, L->v + qo, H, 0.0f, dP, T);
            enc_sgemm(1, 0, n, hd, T, 1.0f, Pd, T, a->d_ctx + qo, H, 0.0f, a->dv + qo, H);
        }
    /* d_att becomes the gradient of att (before dropout). */
    drop_bwd(d, 1 + 3 * layer, enc_n_sites(&m->cfg), a->d_att, a->d_att, n_att, L->ma);
    for (size_t s = 0; s < b->B; s++)
        for (size_t h = 0; h < nh; h++) {
            const size_t qo = s * T * H + h * hd, n = b->len[s];
            const float *P = L->att + (s * nh + h) * T * T;
            float *dS = a->d_att + (s * nh + h) * T * T;
            for (size_t i = 0; i < T; i++) {
                const float *p = P + i * T;
                float *g = dS + i * T, dot = 0.0f;
                for (size_t j = 0; j < n; j++)
                    dot += p[j] * g[j];
                for (size_t j = 0; j < n; j++)
                    g[j] = p[j] * (g[j] - dot);
            }
            /* dq = scale dS k [T,hd];  dk = scale dS^T q [n,hd] */
            enc_sgemm(0, 0, T, hd, n, scale, dS, T, L->k + qo, H, 0.0f, a->dq + qo, H);
            enc_sgemm(1, 0, n, hd, T, scale, dS, T, L->q + qo, H, 0.0f, a->dk + qo, H);
        }
}

/* ==== one transformer layer ============================================= */

static void layer_fwd(enc_model *m, enc_acts *a, const enc_batch *b, const enc_dropout *d,
                      size_t l, const float *x)
{
    const size_t H = m->cfg.hidden, F = m->cfg.ffn, BT = b->B * b->T, ns = enc_n_sites(&m->cfg);
    const enc_layer_params *P = &m->P.layer[l];
    layer_acts *L = &a->L[l];
    dense_fwd(L->q, x, &P->q, BT, 1);
    dense_fwd(L->k, x, &P->k, BT, 1);
    dense_fwd(L->v, x, &P->v, BT, 1);
    attention_fwd(m, L, b, d, l);
    dense_fwd(L->ao, L->ctx, &P->ao, BT, 0);
    drop_add_fwd(d, 2 + 3 * l, ns, L->r1, L->ao, P->ao.b, x, BT, H, L->m1);
    norm_fwd(L->h, L->h_mean, L->h_rstd, L->r1, &P->ln1, BT, H);
    dense_fwd(L->fi, L->h, &P->fi, BT, 1);
    gelu_fwd(L->g, L->cdf, L->pdf, L->fi, BT * F);
    dense_fwd(L->fo, L->g, &P->fo, BT, 0);
    drop_add_fwd(d, 3 + 3 * l, ns, L->r2, L->fo, P->fo.b, L->h, BT, H, L->m2);
    norm_fwd(L->out, L->o_mean, L->o_rstd, L->r2, &P->ln2, BT, H);
}

/* In: a->d_out = dL/d(layer output).  Out: a->d_out = dL/dx (layer input). */
static void layer_bwd(enc_model *m, enc_acts *a, const enc_batch *b, const enc_dropout *d,
                      size_t l, const float *x, enc_dense_hook hook, void *user)
{
    const size_t H = m->cfg.hidden, F = m->cfg.ffn, BT = b->B * b->T, ns = enc_n_sites(&m->cfg);
    const enc_layer_params *P = &m->P.layer[l];
    enc_layer_params *G = &m->G.layer[l];
    layer_acts *L = &a->L[l];
    /* x' = LayerNorm(r2);  r2 = h + dropout(fo + bf) */
    norm_bwd(a->d_r, a->d_out, L->r2, L->o_mean, L->o_rstd, &P->ln2, &G->ln2, BT, H);
    drop_add_bwd(d, 3 + 3 * l, ns, a->d_h, G->fo.b, a->dbias, a->d_r, BT, H, L->m2);
    memcpy(a->d_ln, a->d_r, BT * H * sizeof(float)); /* the residual branch */
    /* fo = g Wf^T;  g = gelu(fi);  fi = h Wi^T + bi */
    dense_bwd(a->d_f, a->d_h, L->g, &P->fo, &G->fo, BT, 0, 0, a->ones);
    if (hook)
        hook(user, &P->fo, L->g, a->d_h, BT);
    gelu_bwd(a->d_f, L->fi, L->cdf, L->pdf, BT * F);
    dense_bwd(a->d_ln, a->d_f, L->h, &P->fi, &G->fi, BT, 1, 1, a->ones);
    if (hook)
        hook(user, &P->fi, L->h, a->d_f, BT);
    /* h = LayerNorm(r1);  r1 = x + dropout(ao + bo);  ao = ctx Wo^T */
    norm_bwd(a->d_r, a->d_ln, L->r1, L->h_mean, L->h_rstd, &P->ln1, &G->ln1, BT, H);
    drop_add_bwd(d, 2 + 3 * l, ns, a->d_h, G->ao.b, a->dbias, a->d_r, BT, H, L->m1);
    dense_bwd(a->d_ctx, a->d_h, L->ctx, &P->ao, &G->ao, BT, 0, 0, a->ones);
    if (hook)
        hook(user, &P->ao, L->ctx, a->d_h, BT);
    attention_bwd(m, a, L, b, d, l);
    /* dx = dr1 (residual) + dq Wq + dk Wk + dv Wv */
    memcpy(a->d_out, a->d_r, BT * H * sizeof(float));
    dense_bwd(a->d_out, a->dq, x, &P->q, &G->q, BT, 1, 1, a->ones);
    dense_bwd(a->d_out, a->dk, x, &P->k, &G->k, BT, 1, 1, a->ones);
    dense_bwd(a->d_out, a->dv, x, &P->v, &G->v, BT, 1, 1, a->ones);
    if (hook) {
        hook(user, &P->q, x, a->dq, BT);
        hook(user, &P->k, x, a->dk, BT);
        hook(user, &P->v, x, a->dv, BT);
    }
}

/* ==== the encoder stack ================================================= */

static const float *layer_input(const enc_acts *a, size_t l)
{
    return l == 0 ? a->x0 : a->L[l - 1].out;
}

static const float *encode(enc_model *m, enc_acts *a, const enc_batch *b, const enc_dropout *d)
{
    embed_fwd(m, a, b, d);
    for (size_t l = 0; l < m->cfg.layers; l++)
        layer_fwd(m, a, b, d, l, layer_input(a, l));
    return a->L[m->cfg.layers - 1].out;
}

static void encode_bwd(enc_model *m, enc_acts *a, const enc_batch *b, const enc_dropout *d,
                       enc_dense_hook hook, void *user)
{
    for (size_t l = m->cfg.layers; l-- > 0;)
        layer_bwd(m, a, b, d, l, layer_input(a, l), hook, user);
    embed_bwd(m, a, b, d, a->d_out);
}

static void check_batch(const enc_model *m, const enc_batch *b)
{
    if (b->B == 0 || b->T == 0 || b->T > m->cfg.max_len)
        enc_die("batch of %zu x %zu tokens does not fit --max-len %zu", b->B, b->T,
                m->cfg.max_len);
    for (size_t s = 0; s < b->B; s++)
        if (b->len[s] == 0 || b->len[s] > b->T)
            enc_die("sequence %zu has length %zu in a batch padded to %zu", s, b->len[s], b->T);
}

/* ==== MLM head ========================================================== */

/* Cross-entropy of one row of logits, which it turns into the softmax in
 * place (one exp per element, the sum in double); returns -log p[label]
 * and sets *hit when the argmax is the label. */
static double softmax_xent(float *row, size_t n, size_t label, int *hit)
{
    float mx = row[0];
    size_t arg = 0;
    for (size_t j = 1; j < n; j++)
        if (row[j] > mx)
            mx = row[j], arg = j;
    const float z_label = row[label] - mx;
    for (size_t j = 0; j < n; j++)
        row[j] = enc_exp(row[j] - mx);
    double sum = 0.0;
    for (size_t j = 0; j < n; j++)
        sum += row[j];
    const float inv = (float)(1.0 / sum);
    for (size_t j = 0; j < n; j++)
        row[j] *= inv;
    *hit = arg == label;
    return log(sum) - (double)z_label;
}

enc_result enc_forward_mlm(enc_model *m, const enc_batch *b, const enc_dropout *d)
{
    check_batch(m, b);
    const size_t H = m->cfg.hidden, V = m->cfg.vocab, M = b->n_mask;
    enc_acts *a = acts_reserve(m, b->B, b->T, M);
    a->mode = MODE_MLM;
    const float *x = encode(m, a, b, d);
    enc_result r = {0.0, 0, M};
    if (M == 0)
        return r;
    for (size_t i = 0; i < M; i++)
        memcpy(a->hm + i * H, x + b->mpos[i] * H, H * sizeof(float));
    dense_fwd(a->t, a->hm, &m->P.mlm, M, 1);
    gelu_fwd(a->tg, a->tcdf, a->tpdf, a->t, M * H);
    norm_fwd(a->z, a->z_mean, a->z_rstd, a->tg, &m->P.mlm_ln, M, H);
    enc_sgemm(0, 1, M, V, H, 1.0f, a->z, H, m->P.wte, H, 0.0f, a->logits, V);
    add_rows(a->logits, m->P.mlm_bias, M, V);
    if (m->logits_out)
        memcpy(m->logits_out, a->logits, M * V * sizeof(float));
    double loss = 0.0;
    for (size_t i = 0; i < M; i++) {
        int hit;
        loss += softmax_xent(a->logits + i * V, V, b->mlabel[i], &hit);
        r.correct += (size_t)hit;
    }
    r.loss = loss / (double)M;
    return r;
}

static void mlm_bwd(enc_model *m, enc_acts *a, const enc_batch *b)
{
    const size_t H = m->cfg.hidden, V = m->cfg.vocab, M = b->n_mask, BT = b->B * b->T;
    enc_params *G = &m->G;
    /* logits hold the softmax: dlogits = (p - onehot) / M */
    const float inv = 1.0f / (float)M;
    for (size_t i = 0; i < M; i++) {
        float *row = a->logits + i * V;
        row[b->mlabel[i]] -= 1.0f;
        for (size_t j = 0; j < V; j++)
            row[j] *= inv;
    }
    bias_grad(G->mlm_bias, a->ones, a->logits, M, V);
    /* logits = z wte^T: dwte += dlogits^T z;  dz = dlogits wte */
    enc_sgemm(1, 0, V, H, M, 1.0f, a->logits, V, a->z, H, 1.0f, G->wte, H);
    enc_sgemm(0, 0, M, H, V, 1.0f, a->logits, V, m->P.wte, H, 0.0f, a->d_t, H);
    norm_bwd(a->d_hm, a->d_t, a->tg, a->z_mean, a->z_rstd, &m->P.mlm_ln, &G->mlm_ln, M, H);
    gelu_bwd(a->d_hm, a->t, a->tcdf, a->tpdf, M * H);
    dense_bwd(a->d_t, a->d_hm, a->hm, &m->P.mlm, &G->mlm, M, 1, 0, a->ones);
    memset(a->d_out, 0, BT * H * sizeof(float));
    for (size_t i = 0; i < M; i++) {
        float *dst = a->d_out + b->mpos[i] * H;
        for (size_t c = 0; c < H; c++)
            dst[c] += a->d_t[i * H + c];
    }
}

/* ==== classifier head =================================================== */

/* Sums x[T,H] over sequence s's tokens whose segment is seg (-1: every
 * token) into u[H] and divides by their count, which it returns (u = 0
 * when there are none). */
static size_t seg_mean(float *u, const float *x, const enc_batch *b, size_t s, int seg, size_t H)
{
    const size_t T = b->T;
    size_t n = 0;
    for (size_t c = 0; c < H; c++)
        u[c] = 0.0f;
    for (size_t t = 0; t < b->len[s]; t++) {
        if (seg >= 0 && b->seg[s * T + t] != seg)
            continue;
        n++;
        for (size_t c = 0; c < H; c++)
            u[c] += x[(s * T + t) * H + c];
    }
    for (size_t c = 0; c < H && n > 0; c++)
        u[c] /= (float)n;
    return n;
}

/* pooled[B,P] from the last layer's x[B*T,H] (P = enc_cls_in, ENC_POOL_*). */
static void pool_fwd(float *pooled, const float *x, const enc_batch *b, size_t H, int pool)
{
    const size_t T = b->T, P = pool == ENC_POOL_PAIR ? 4 * H : H;
    for (size_t s = 0; s < b->B; s++) {
        float *p = pooled + s * P;
        if (pool == ENC_POOL_CLS) {
            memcpy(p, x + s * T * H, H * sizeof(float));
        } else if (pool == ENC_POOL_MEAN) {
            seg_mean(p, x, b, s, -1, H);
        } else { /* [u, v, |u - v|, u * v] */
            float *u = p, *v = p + H;
            seg_mean(u, x, b, s, 0, H);
            seg_mean(v, x, b, s, 1, H);
            for (size_t c = 0; c < H; c++) {
                p[2 * H + c] = fabsf(u[c] - v[c]);
                p[3 * H + c] = u[c] * v[c];
            }
        }
    }
}

/* d_out[B*T,H] (zero at padding) from the pooled vectors' gradient g[B,P];
 * pooled is the forward's (for PAIR, u and v are its first 2H of a row).
 * g is overwritten. */
static void pool_bwd(float *d_out, float *g, const float *pooled, const enc_batch *b, size_t H,
                     int pool)
{
    const size_t T = b->T, P = pool == ENC_POOL_PAIR ? 4 * H : H;
    memset(d_out, 0, b->B * T * H * sizeof(float));
    for (size_t s = 0; s < b->B; s++) {
        float *gs = g + s * P;
        if (pool == ENC_POOL_CLS) {
            memcpy(d_out + s * T * H, gs, H * sizeof(float));
            continue;
        }
        size_t n[2] = {b->len[s], 0};
        if (pool == ENC_POOL_PAIR) {
            /* du = g_u + g_abs sign(u - v) + g_prod v; dv likewise: written
             * over g_u and g_v (each c reads its own four entries first). */
            const float *u = pooled + s * P, *v = u + H;
            for (size_t c = 0; c < H; c++) {
                float diff = u[c] - v[c];
                float sg = diff > 0.0f ? 1.0f : diff < 0.0f ? -1.0f : 0.0f;
                float ga = gs[2 * H + c] * sg, gp = gs[3 * H + c];
                float du = gs[c] + ga + gp * v[c], dv = gs[H + c] - ga + gp * u[c];
                gs[c] = du, gs[H + c] = dv;
            }
            n[0] = n[1] = 0;
            for (size_t t = 0; t < b->len[s]; t++)
                n[b->seg[s * T + t] != 0]++;
        }
        for (size_t t = 0; t < b->len[s]; t++) {
            int k = pool == ENC_POOL_PAIR && b->seg[s * T + t] != 0;
            float w = 1.0f / (float)n[k];
            const float *gk = gs + (size_t)k * H;
            for (size_t c = 0; c < H; c++)
                d_out[(s * T + t) * H + c] = gk[c] * w;
        }
    }
}

enc_result enc_forward_cls(enc_model *m, const enc_batch *b, const enc_dropout *d, int *pred,
                           float *score)
{
    check_batch(m, b);
    const size_t H = m->cfg.hidden, C = m->cfg.classes, B = b->B, T = b->T;
    const size_t P = enc_cls_in(&m->cfg);
    if (C == 0)
        enc_die("the model has no classifier head");
    enc_acts *a = acts_reserve(m, B, T, 1);
    a->mode = MODE_CLS;
    const float *x = encode(m, a, b, d);
    pool_fwd(a->pooled, x, b, H, m->cfg.pool);
    drop_fwd(d, enc_n_sites(&m->cfg), enc_n_sites(&m->cfg), a->pooled_d, a->pooled, B * P, NULL);
    dense_fwd(a->clogits, a->pooled_d, &m->P.cls, B, 1);
    if (m->logits_out)
        memcpy(m->logits_out, a->clogits, B * C * sizeof(float));
    enc_result r = {0.0, 0, B};
    for (size_t s = 0; s < B; s++) {
        float *row = a->clogits + s * C;
        if (C == 1) {
            double e = (double)row[0] - (double)b->target[s];
            r.loss += e * e;
            if (score)
                score[s] = row[0];
            continue;
        }
        int hit;
        r.loss += softmax_xent(row, C, (size_t)b->label[s], &hit);
        r.correct += (size_t)hit;
        if (pred) {
            size_t arg = 0;
            for (size_t j = 1; j < C; j++)
                arg = row[j] > row[arg] ? j : arg;
            pred[s] = (int)arg;
        }
    }
    r.loss /= (double)B;
    return r;
}

static void cls_bwd(enc_model *m, enc_acts *a, const enc_batch *b, const enc_dropout *d)
{
    const size_t H = m->cfg.hidden, C = m->cfg.classes, B = b->B, P = enc_cls_in(&m->cfg);
    const float inv = 1.0f / (float)B;
    for (size_t s = 0; s < B; s++) {
        float *row = a->clogits + s * C;
        if (C == 1) {
            row[0] = 2.0f * (row[0] - b->target[s]) * inv;
            continue;
        }
        row[b->label[s]] -= 1.0f;
        for (size_t j = 0; j < C; j++)
            row[j] *= inv;
    }
    dense_bwd(a->d_pool, a->clogits, a->pooled_d, &m->P.cls, &m->G.cls, B, 1, 0, a->ones);
    /* The classifier's mask is regenerated from its stream: B x P words. */
    drop_bwd(d, enc_n_sites(&m->cfg), enc_n_sites(&m->cfg), a->d_pool, a->d_pool, B * P, NULL);
    pool_bwd(a->d_out, a->d_pool, a->pooled, b, H, m->cfg.pool);
}

void enc_backward(enc_model *m, const enc_batch *b, const enc_dropout *d, enc_dense_hook hook,
                  void *user)
{
    enc_acts *a = m->acts;
    if (a == NULL || a->mode == MODE_NONE)
        enc_die("backward without a forward");
    memset(m->grad, 0, m->n_params * sizeof(float));
    if (a->mode == MODE_CLS) {
        cls_bwd(m, a, b, d);
    } else {
        if (b->n_mask == 0)
            return; /* nothing masked: the loss is 0 and so is its gradient */
        mlm_bwd(m, a, b);
        if (hook)
            hook(user, &m->P.mlm, a->hm, a->d_hm, b->n_mask);
    }
    encode_bwd(m, a, b, d, hook, user);
}

/*
 * gd_fisher: the tensor registry and the double-precision accumulators
 * (per-example gradients, Adam's second moment, raw sums, merging).
 *
 * Every function validates all of its input before it changes anything, so
 * a refused call leaves the object exactly as it was.
 */
#include "fisher_internal.h"
#include "kernels.h"
#include "text.h"

#include <string.h>

/* Through the kernel family: the scan is a pass over every gradient. */
bool gd_all_finite(const float *x, size_t n, float *amax)
{
    return gd_kernels_get()->finite(NULL, x, n, amax);
}

/* ---- the name hash ---------------------------------------------------- */

static size_t name_hash(const char *s)
{
    uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
    return (size_t)(h ^ (h >> 29));
}

/* The slot holding name, or the empty slot where it would go. */
static size_t *find_slot(size_t *slots, size_t n_slots, const gd_tensor *t, const char *name)
{
    size_t i = name_hash(name) & (n_slots - 1);
    while (slots[i] != GD_NONE && strcmp(t[slots[i]].name, name) != 0)
        i = (i + 1) & (n_slots - 1);
    return &slots[i];
}

/* Makes room in the hash for one more name. */
static int reserve_slot(gd_fisher *f)
{
    size_t need, n_slots = f->n_slots ? f->n_slots : 16, bytes;
    if (!gd_add_ok(f->n, 1, &need) || !gd_mul_ok(need, 2, &need))
        return GD_EOVERFLOW;
    if (need <= f->n_slots)
        return GD_OK;
    while (n_slots < need)
        if (!gd_mul_ok(n_slots, 2, &n_slots))
            return GD_EOVERFLOW;
    if (!gd_mul_ok(n_slots, sizeof(size_t), &bytes))
        return GD_EOVERFLOW;
    size_t *slots = gd_malloc(bytes);
    if (!slots)
        return GD_ENOMEM;
    memset(slots, 0xff, bytes); /* every slot GD_NONE */
    for (size_t id = 0; id < f->n; id++)
        *find_slot(slots, n_slots, f->t, f->t[id].name) = id;
    gd_free(f->slots);
    f->slots = slots;
    f->n_slots = n_slots;
    return GD_OK;
}

/* Makes room in the tensor array for one more tensor. */
static int reserve_tensor(gd_fisher *f)
{
    if (f->n < f->cap)
        return GD_OK;
    size_t cap = f->cap ? f->cap : 8, bytes;
    if (!gd_mul_ok(cap, 2, &cap) || !gd_mul_ok(cap, sizeof *f->t, &bytes))
        return GD_EOVERFLOW;
    gd_tensor *t = gd_realloc(f->t, bytes);
    if (!t)
        return GD_ENOMEM;
    f->t = t;
    f->cap = cap;
    return GD_OK;
}

/* ---- life cycle and registry ----------------------------------------- */

int gd_fisher_create(gd_fisher **out)
{
    if (!out)
        return GD_EINVAL;
    gd_fisher *f = gd_calloc(1, sizeof *f);
    if (!f)
        return GD_ENOMEM;
    *out = f;
    return GD_OK;
}

void gd_fisher_destroy(gd_fisher *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        gd_free(f->t[i].name);
        gd_free(f->t[i].sums);
    }
    gd_free(f->t);
    gd_free(f->slots);
    gd_free(f);
}

static int lookup(const gd_fisher *f, const char *name, size_t *id)
{
    if (f->n_slots == 0)
        return GD_ENOTFOUND;
    const size_t slot = *find_slot(f->slots, f->n_slots, f->t, name);
    if (slot == GD_NONE)
        return GD_ENOTFOUND;
    *id = slot;
    return GD_OK;
}

/* A tensor name: gd_name_ok with spaces allowed, and not the key the file
 * format keeps for itself. */
static bool tensor_name_ok(const char *name)
{
    return gd_name_ok(name, true, false) && strcmp(name, "__metadata__") != 0;
}

int gd_fisher_add_tensor(gd_fisher *f, const char *name, size_t numel, size_t site,
                         size_t *id_out)
{
    size_t id, bytes;
    if (!f || !tensor_name_ok(name) || numel == 0)
        return GD_EINVAL;
    if (lookup(f, name, &id) == GD_OK)
        return GD_EEXIST;
    if (!gd_mul_ok(numel, sizeof(double), &bytes))
        return GD_EOVERFLOW;
    int rc = reserve_tensor(f);
    if (rc == GD_OK)
        rc = reserve_slot(f);
    if (rc != GD_OK)
        return rc;
    const size_t len = strlen(name) + 1;
    char *copy = gd_malloc(len);
    double *sums = gd_calloc(numel, sizeof(double));
    if (!copy || !sums) {
        gd_free(copy);
        gd_free(sums);
        return GD_ENOMEM;
    }
    memcpy(copy, name, len);
    id = f->n++;
    f->t[id] = (gd_tensor){copy, numel, site, sums, 0.0};
    *find_slot(f->slots, f->n_slots, f->t, copy) = id;
    if (id_out)
        *id_out = id;
    return GD_OK;
}

int gd_fisher_count(const gd_fisher *f, size_t *n)
{
    if (!f || !n)
        return GD_EINVAL;
    *n = f->n;
    return GD_OK;
}

int gd_fisher_find(const gd_fisher *f, const char *name, size_t *id)
{
    if (!f || !name || !id)
        return GD_EINVAL;
    return lookup(f, name, id);
}

int gd_fisher_info(const gd_fisher *f, size_t id, const char **name, size_t *numel, size_t *site)
{
    if (!f)
        return GD_EINVAL;
    const gd_tensor *t = gd_fisher_tensor(f, id);
    if (!t)
        return GD_ENOTFOUND;
    if (name)
        *name = t->name;
    if (numel)
        *numel = t->numel;
    if (site)
        *site = t->site;
    return GD_OK;
}

int gd_fisher_site_count(const gd_fisher *f, size_t *n_sites)
{
    if (!f || !n_sites)
        return GD_EINVAL;
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++)
        if (f->t[i].site != GD_NONE && f->t[i].site >= n)
            n = f->t[i].site + 1;
    *n_sites = n;
    return GD_OK;
}

/* ---- accumulation ------------------------------------------------------ */

/* The tensor for a call on it, or NULL with *rc set. */
static gd_tensor *tensor_for(gd_fisher *f, size_t id, int *rc)
{
    gd_tensor *t = f ? gd_fisher_tensor(f, id) : NULL;
    *rc = !f ? GD_EINVAL : t ? GD_OK : GD_ENOTFOUND;
    return t;
}

static void add_squares(double *sums, const float *g, size_t n, double w)
{
    if (w == 1.0) { /* 1.0 * s is s: the same bits through the kernel family */
        gd_kernels_get()->acc_add_sq(sums, g, n);
        return;
    }
    for (size_t j = 0; j < n; j++)
        sums[j] += w * ((double)g[j] * (double)g[j]);
}

int gd_fisher_accumulate(gd_fisher *f, size_t id, const float *grad, float w)
{
    int rc;
    gd_tensor *t = tensor_for(f, id, &rc);
    if (!t)
        return rc;
    if (!grad)
        return GD_EINVAL;
    float amax;
    if (!(w >= 0.0f && w <= 3.402823466e38f) || !gd_all_finite(grad, t->numel, &amax) ||
        !gd_square_ok(amax) || !gd_weight_ok(t->weight + (double)w))
        return GD_EDOMAIN;
    add_squares(t->sums, grad, t->numel, (double)w);
    t->weight += (double)w;
    return GD_OK;
}

int gd_fisher_accumulate_batch(gd_fisher *f, size_t id, const float *grads, size_t batch)
{
    int rc;
    size_t total;
    gd_tensor *t = tensor_for(f, id, &rc);
    if (!t)
        return rc;
    if (batch == 0)
        return GD_OK;
    if (!grads)
        return GD_EINVAL;
    if (!gd_mul_ok(batch, t->numel, &total))
        return GD_EOVERFLOW;
    float amax;
    if (!gd_all_finite(grads, total, &amax) || !gd_square_ok(amax) ||
        !gd_weight_ok(t->weight + (double)batch))
        return GD_EDOMAIN;
    for (size_t b = 0; b < batch; b++)
        add_squares(t->sums, grads + b * t->numel, t->numel, 1.0);
    t->weight += (double)batch;
    return GD_OK;
}

/*
 * Adam keeps v_t = beta2 v_{t-1} + (1 - beta2) m_t^2 with m_t the gradient
 * of the batch-mean loss, so v_t / (1 - beta2^t) is an average of m^2 over
 * recent steps.  For B independent per-example gradients g_b with
 * E[g] = mu, Var[g] = F - mu^2, E[m^2] = mu^2 + (F - mu^2)/B, hence
 * B * E[m^2] = F + (B - 1) mu^2 ~= F when mu^2 << F / B.  The parameters
 * drift while v is built up, so this is a smoothed estimate of F over the
 * last ~1/(1 - beta2) steps, not a measurement at one point.
 */
int gd_fisher_from_adam(gd_fisher *f, size_t id, const float *v, float beta2, uint64_t step,
                        size_t batch)
{
    int rc;
    gd_tensor *t = tensor_for(f, id, &rc);
    if (!t)
        return rc;
    if (!v)
        return GD_EINVAL;
    if (!(beta2 >= 0.0f && beta2 < 1.0f) || step == 0 || batch == 0)
        return GD_EDOMAIN;
    const double correction = 1.0 - pow((double)beta2, (double)step); /* > 0 */
    const double scale = (double)batch / correction;
    for (size_t j = 0; j < t->numel; j++)
        if (!(v[j] >= 0.0f && scale * (double)v[j] <= GD_ESTIMATE_MAX))
            return GD_EDOMAIN;
    for (size_t j = 0; j < t->numel; j++)
        t->sums[j] = scale * (double)v[j];
    t->weight = 1.0;
    return GD_OK;
}

/* ---- reading and replacing the accumulators ---------------------------- */

/* The tensor for a call passing numel elements through buf, or NULL with
 * *rc set. */
static gd_tensor *tensor_sized(const gd_fisher *f, size_t id, const void *buf, size_t numel,
                               int *rc)
{
    gd_tensor *t = f ? gd_fisher_tensor(f, id) : NULL;
    *rc = !f || !buf ? GD_EINVAL : !t ? GD_ENOTFOUND : numel != t->numel ? GD_ESHAPE : GD_OK;
    return *rc == GD_OK ? t : NULL;
}

int gd_fisher_read(const gd_fisher *f, size_t id, float *estimate, size_t numel, double *samples)
{
    int rc;
    const gd_tensor *t = tensor_sized(f, id, estimate, numel, &rc);
    if (!t)
        return rc;
    if (!(t->weight > 0.0))
        return GD_ESTATE;
    for (size_t j = 0; j < numel; j++)
        estimate[j] = gd_tensor_estimate(t, j);
    if (samples)
        *samples = t->weight;
    return GD_OK;
}

int gd_fisher_sums(const gd_fisher *f, size_t id, double *sums, size_t numel, double *weight)
{
    int rc;
    const gd_tensor *t = tensor_sized(f, id, sums, numel, &rc);
    if (!t)
        return rc;
    memcpy(sums, t->sums, numel * sizeof *sums);
    if (weight)
        *weight = t->weight;
    return GD_OK;
}

int gd_fisher_set_sums(gd_fisher *f, size_t id, const double *sums, size_t numel, double weight)
{
    int rc;
    gd_tensor *t = tensor_sized(f, id, sums, numel, &rc);
    if (!t)
        return rc;
    if (!gd_weight_ok(weight))
        return GD_EDOMAIN;
    for (size_t j = 0; j < numel; j++)
        if (!gd_sum_ok(sums[j], weight))
            return GD_EDOMAIN;
    memmove(t->sums, sums, numel * sizeof *sums);
    t->weight = weight;
    return GD_OK;
}

static bool same_tensor(const gd_tensor *a, const gd_tensor *b)
{
    return a->numel == b->numel && a->site == b->site && strcmp(a->name, b->name) == 0;
}

/* d + s is what gd_fisher_set_sums would accept. */
static bool merge_ok(const gd_tensor *d, const gd_tensor *s)
{
    const double w = d->weight + s->weight;
    if (!gd_weight_ok(w))
        return false;
    for (size_t j = 0; j < d->numel; j++)
        if (!gd_sum_ok(d->sums[j] + s->sums[j], w))
            return false;
    return true;
}

int gd_fisher_merge(gd_fisher *dst, const gd_fisher *src)
{
    if (!dst || !src)
        return GD_EINVAL;
    if (dst->n != src->n)
        return GD_ESHAPE;
    for (size_t i = 0; i < dst->n; i++)
        if (!same_tensor(&dst->t[i], &src->t[i]))
            return GD_ESHAPE;
    for (size_t i = 0; i < dst->n; i++)
        if (!merge_ok(&dst->t[i], &src->t[i]))
            return GD_EDOMAIN;
    for (size_t i = 0; i < dst->n; i++) {
        gd_tensor *d = &dst->t[i];
        const gd_tensor *s = &src->t[i];
        for (size_t j = 0; j < d->numel; j++)
            d->sums[j] += s->sums[j];
        d->weight += s->weight;
    }
    return GD_OK;
}

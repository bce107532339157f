/*
 * gd_plan: per-site scores in, per-site dropout probabilities out.
 *
 * Probabilities are computed in double and rounded once to float, then
 * clamped to [p_min, p_max] so double rounding at the ends can never leave
 * the range (e.g. p_min = 0 must give exactly 0, never -1e-18).
 */
#include "plan_internal.h"
#include "text.h"

#include <string.h>

bool gd_plan_name_ok(const char *name)
{
    return gd_name_ok(name, false, true) && strcmp(name, "-") != 0;
}

int gd_plan_create(gd_plan **out, size_t n_sites)
{
    size_t bytes;
    if (!out || n_sites == 0)
        return GD_EINVAL;
    if (!gd_mul_ok(n_sites, sizeof(size_t), &bytes) || !gd_mul_ok(n_sites, sizeof(char *), &bytes))
        return GD_EOVERFLOW;
    gd_plan *p = gd_calloc(1, sizeof *p);
    if (!p)
        return GD_ENOMEM;
    p->n = n_sites;
    p->names = gd_calloc(n_sites, sizeof *p->names);
    p->scores = gd_malloc(n_sites * sizeof *p->scores);
    p->probs = gd_calloc(n_sites, sizeof *p->probs);
    p->order = gd_malloc(n_sites * sizeof *p->order);
    if (!p->names || !p->scores || !p->probs || !p->order) {
        gd_plan_destroy(p);
        return GD_ENOMEM;
    }
    for (size_t i = 0; i < n_sites; i++)
        p->scores[i] = nanf("");
    *out = p;
    return GD_OK;
}

void gd_plan_destroy(gd_plan *p)
{
    if (!p)
        return;
    if (p->names)
        for (size_t i = 0; i < p->n; i++)
            gd_free(p->names[i]);
    gd_free(p->names);
    gd_free(p->scores);
    gd_free(p->probs);
    gd_free(p->order);
    gd_free(p);
}

int gd_plan_size(const gd_plan *p, size_t *n_sites)
{
    if (!p || !n_sites)
        return GD_EINVAL;
    *n_sites = p->n;
    return GD_OK;
}

static bool finite_f(float x)
{
    return fabsf(x) <= 3.402823466e38f;
}

static void set_score(gd_plan *p, size_t site, float score)
{
    if (!(p->scores[site] == score))
        p->computed = false;
    p->scores[site] = score;
}

int gd_plan_set_site(gd_plan *p, size_t site, const char *name, float score)
{
    if (!p || (name && !gd_plan_name_ok(name)))
        return GD_EINVAL;
    if (site >= p->n)
        return GD_ENOTFOUND;
    if (!finite_f(score))
        return GD_EDOMAIN;
    if (name) {
        char *copy = NULL;
        const size_t len = strlen(name);
        if (len > 0) {
            copy = gd_malloc(len + 1);
            if (!copy)
                return GD_ENOMEM;
            memcpy(copy, name, len + 1);
        }
        gd_free(p->names[site]);
        p->names[site] = copy;
    }
    set_score(p, site, score);
    return GD_OK;
}

int gd_plan_set_scores(gd_plan *p, const float *scores, size_t n)
{
    if (!p || !scores)
        return GD_EINVAL;
    if (n != p->n)
        return GD_ESHAPE;
    for (size_t i = 0; i < n; i++)
        if (!finite_f(scores[i]))
            return GD_EDOMAIN;
    for (size_t i = 0; i < n; i++)
        set_score(p, i, scores[i]);
    return GD_OK;
}

/* ---- the rank sort: heapsort on site indices, no allocation ----------- */

/* Site a ranks before site b: lower score, ties by lower index. */
static bool ranks_before(const float *score, size_t a, size_t b)
{
    return score[a] < score[b] || (score[a] == score[b] && a < b);
}

static void sift_down(size_t *h, size_t root, size_t n, const float *score)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && ranks_before(score, h[child], h[child + 1]))
            child++;
        if (!ranks_before(score, h[root], h[child]))
            return;
        const size_t t = h[root];
        h[root] = h[child];
        h[child] = t;
        root = child;
    }
}

/* order = site indices sorted by (score, index) ascending. */
static void rank_sites(size_t *order, size_t n, const float *score)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n / 2; i-- > 0;)
        sift_down(order, i, n, score);
    for (size_t end = n; end-- > 1;) {
        const size_t t = order[0];
        order[0] = order[end];
        order[end] = t;
        sift_down(order, 0, end, score);
    }
}

/* ---- rules ---------------------------------------------------------------- */

/* p_max - (p_max - p_min) * frac, rounded once and kept in range. */
static float interpolate(float p_max, float p_min, double num, double den)
{
    const double p = (double)p_max - ((double)p_max - (double)p_min) * num / den;
    float r = (float)p;
    r = r > p_max ? p_max : r;
    return r < p_min ? p_min : r;
}

static void rule_rank_linear(gd_plan *p, float p_max, float p_min)
{
    rank_sites(p->order, p->n, p->scores);
    for (size_t r = 0; r < p->n; r++)
        p->probs[p->order[r]] =
            p->n == 1 ? p_max : interpolate(p_max, p_min, (double)r, (double)(p->n - 1));
}

/* Linear in score (or log score): min score gets p_max, max gets p_min. */
static void rule_score_linear(gd_plan *p, float p_max, float p_min, bool use_log)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < p->n; i++) {
        const double v = use_log ? log((double)p->scores[i]) : (double)p->scores[i];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    for (size_t i = 0; i < p->n; i++) {
        const double v = use_log ? log((double)p->scores[i]) : (double)p->scores[i];
        p->probs[i] = hi > lo ? interpolate(p_max, p_min, v - lo, hi - lo) : p_max;
    }
}

static int compute_check(const gd_plan *p, int rule, float p_max, float p_min)
{
    if (!p || rule < GD_RULE_UNIFORM || rule > GD_RULE_LOG_SCORE_LINEAR)
        return GD_EINVAL;
    if (!gd_prob_ok(p_max) || !gd_prob_ok(p_min) || p_min > p_max)
        return GD_EDOMAIN;
    for (size_t i = 0; i < p->n; i++)
        if (isnan(p->scores[i]))
            return GD_ESTATE;
    if (rule == GD_RULE_LOG_SCORE_LINEAR)
        for (size_t i = 0; i < p->n; i++)
            if (!(p->scores[i] > 0.0f))
                return GD_EDOMAIN;
    return GD_OK;
}

int gd_plan_compute(gd_plan *p, int rule, float p_max, float p_min)
{
    const int rc = compute_check(p, rule, p_max, p_min);
    if (rc != GD_OK)
        return rc;
    switch (rule) {
    case GD_RULE_UNIFORM:
        for (size_t i = 0; i < p->n; i++)
            p->probs[i] = p_max;
        break;
    case GD_RULE_RANK_LINEAR:
        rule_rank_linear(p, p_max, p_min);
        break;
    default:
        rule_score_linear(p, p_max, p_min, rule == GD_RULE_LOG_SCORE_LINEAR);
        break;
    }
    p->computed = true;
    return GD_OK;
}

/* ---- controls ---------------------------------------------------------- */

/* Compares the names of sites a and b with every decimal digit removed, as
 * strcmp does (byte order). */
static int kind_cmp(const gd_plan *p, size_t a, size_t b)
{
    const char *x = p->names[a] ? p->names[a] : "", *y = p->names[b] ? p->names[b] : "";
    for (;;) {
        while (*x >= '0' && *x <= '9')
            x++;
        while (*y >= '0' && *y <= '9')
            y++;
        if (*x != *y || *x == '\0')
            return (int)(unsigned char)*x - (int)(unsigned char)*y;
        x++, y++;
    }
}

/* Sorting by (kind, index) makes each kind a run of sites in index order. */
static bool kind_before(const gd_plan *p, size_t a, size_t b)
{
    const int c = kind_cmp(p, a, b);
    return c < 0 || (c == 0 && a < b);
}

static void kind_sift(const gd_plan *p, size_t *h, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && kind_before(p, h[child], h[child + 1]))
            child++;
        if (!kind_before(p, h[root], h[child]))
            return;
        const size_t t = h[root];
        h[root] = h[child];
        h[child] = t;
        root = child;
    }
}

/* p->order = sites sorted by (kind, index): heapsort, no allocation. */
static void sort_by_kind(gd_plan *p)
{
    size_t *o = p->order;
    for (size_t i = 0; i < p->n; i++)
        o[i] = i;
    for (size_t i = p->n / 2; i-- > 0;)
        kind_sift(p, o, i, p->n);
    for (size_t end = p->n; end-- > 1;) {
        const size_t t = o[0];
        o[0] = o[end];
        o[end] = t;
        kind_sift(p, o, 0, end);
    }
}

/* Fisher-Yates over the probabilities of sites g[0..m), drawing from the
 * control stream at *offset (advanced). */
static void shuffle_group(gd_plan *p, const size_t *g, size_t m, uint64_t seed, uint64_t *offset)
{
    for (size_t i = m; i-- > 1;) {
        uint32_t u;
        const gd_stream s = {seed, GD_CONTROL_STREAM, (*offset)++};
        (void)gd_random_u32(&u, 1, &s); /* cannot fail: one word, valid pointers */
        const size_t j = (size_t)(((uint64_t)u * (uint64_t)(i + 1)) >> 32);
        const float t = p->probs[g[i]];
        p->probs[g[i]] = p->probs[g[j]];
        p->probs[g[j]] = t;
    }
}

int gd_plan_control(gd_plan *p, int control, uint64_t seed)
{
    if (!p || control < GD_CONTROL_REVERSED || control > GD_CONTROL_MATCHED)
        return GD_EINVAL;
    if (!p->computed)
        return GD_ESTATE;
    uint64_t offset = 0;
    switch (control) {
    case GD_CONTROL_REVERSED:
        rank_sites(p->order, p->n, p->probs);
        for (size_t r = 0; r < p->n / 2; r++) {
            const size_t a = p->order[r], b = p->order[p->n - 1 - r];
            const float t = p->probs[a];
            p->probs[a] = p->probs[b];
            p->probs[b] = t;
        }
        break;
    case GD_CONTROL_PERMUTED:
        for (size_t i = 0; i < p->n; i++)
            p->order[i] = i;
        shuffle_group(p, p->order, p->n, seed, &offset);
        break;
    case GD_CONTROL_KIND:
        sort_by_kind(p);
        for (size_t at = 0; at < p->n;) {
            size_t end = at + 1;
            while (end < p->n && kind_cmp(p, p->order[at], p->order[end]) == 0)
                end++;
            shuffle_group(p, p->order + at, end - at, seed, &offset);
            at = end;
        }
        break;
    default: {
        double sum = 0.0;
        for (size_t i = 0; i < p->n; i++)
            sum += (double)p->probs[i];
        const float mean = (float)(sum / (double)p->n);
        for (size_t i = 0; i < p->n; i++)
            p->probs[i] = mean;
        break;
    }
    }
    return GD_OK;
}

/* ---- reading ---------------------------------------------------------------- */

int gd_plan_get(const gd_plan *p, size_t site, float *prob)
{
    if (!p || !prob)
        return GD_EINVAL;
    if (site >= p->n)
        return GD_ENOTFOUND;
    if (!p->computed)
        return GD_ESTATE;
    *prob = p->probs[site];
    return GD_OK;
}

int gd_plan_get_all(const gd_plan *p, float *probs, size_t n)
{
    if (!p || !probs)
        return GD_EINVAL;
    if (n != p->n)
        return GD_ESHAPE;
    if (!p->computed)
        return GD_ESTATE;
    memcpy(probs, p->probs, n * sizeof *probs);
    return GD_OK;
}

int gd_plan_site_info(const gd_plan *p, size_t site, const char **name, float *score,
                      float *prob)
{
    if (!p)
        return GD_EINVAL;
    if (site >= p->n)
        return GD_ENOTFOUND;
    if (name)
        *name = p->names[site] ? p->names[site] : "";
    if (score)
        *score = p->scores[site];
    if (prob)
        *prob = p->computed ? p->probs[site] : nanf("");
    return GD_OK;
}

/*
 * Reductions of the Fisher estimates: one score per dropout site (what the
 * guided schedule ranks) and one per unit (row or column) of a tensor.
 * Everything is summed in double from the accumulators and rounded once.
 * No scratch memory: a site's tensors are found by scanning the registry
 * once per site, which is cheap next to touching the elements.
 */
#include "fisher_internal.h"

/* The reduction of one tensor's estimates under reduce; element mean for
 * GD_REDUCE_TENSOR_MEAN and GD_REDUCE_ELEMENT_MEAN both start from the sum. */
static double tensor_reduce(const gd_tensor *t, int reduce)
{
    double acc = 0.0;
    for (size_t j = 0; j < t->numel; j++) {
        const double e = t->sums[j] / t->weight;
        acc = reduce == GD_REDUCE_MAX ? (e > acc ? e : acc) : acc + e;
    }
    return acc;
}

/* Score of site s in double: NaN when no tensor feeds it. */
static double site_score(const gd_fisher *f, size_t s, int reduce)
{
    double acc = 0.0, count = 0.0;
    size_t fed = 0;
    for (size_t i = 0; i < f->n; i++) {
        const gd_tensor *t = &f->t[i];
        if (t->site != s)
            continue;
        const double r = tensor_reduce(t, reduce);
        fed++;
        switch (reduce) {
        case GD_REDUCE_TENSOR_MEAN:
            acc += r / (double)t->numel;
            count += 1.0;
            break;
        case GD_REDUCE_ELEMENT_MEAN:
            acc += r;
            count += (double)t->numel;
            break;
        case GD_REDUCE_SUM:
            acc += r;
            break;
        default: /* GD_REDUCE_MAX */
            acc = r > acc ? r : acc;
            break;
        }
    }
    if (fed == 0)
        return nan("");
    return count > 0.0 ? acc / count : acc;
}

/* Largest double that rounds to a finite float (below the midpoint between
 * FLT_MAX and 2^128). */
static const double FLOAT_ROUNDS_FINITE = 0x1.ffffffp127;

int gd_fisher_site_scores(const gd_fisher *f, int reduce, float *scores, size_t n_sites)
{
    if (!f || !scores || n_sites == 0 || reduce < GD_REDUCE_TENSOR_MEAN || reduce > GD_REDUCE_MAX)
        return GD_EINVAL;
    for (size_t i = 0; i < f->n; i++) {
        if (f->t[i].site == GD_NONE)
            continue;
        if (f->t[i].site >= n_sites)
            return GD_ESHAPE;
        if (!(f->t[i].weight > 0.0))
            return GD_ESTATE;
    }
    /* Means and maxima stay below the estimates' limit (2^127); a sum over
     * many large estimates can pass the float range: checked first, so a
     * refusal leaves scores untouched. */
    if (reduce == GD_REDUCE_SUM)
        for (size_t s = 0; s < n_sites; s++)
            if (site_score(f, s, reduce) >= FLOAT_ROUNDS_FINITE)
                return GD_EDOMAIN;
    for (size_t s = 0; s < n_sites; s++)
        scores[s] = (float)site_score(f, s, reduce);
    return GD_OK;
}

int gd_fisher_unit_scores(const gd_fisher *f, size_t id, size_t rows, size_t cols, int axis,
                          float *scores)
{
    size_t numel;
    if (!f || !scores || (axis != GD_AXIS_ROWS && axis != GD_AXIS_COLS))
        return GD_EINVAL;
    const gd_tensor *t = gd_fisher_tensor(f, id);
    if (!t)
        return GD_ENOTFOUND;
    if (!gd_mul_ok(rows, cols, &numel))
        return GD_EOVERFLOW;
    if (numel != t->numel)
        return GD_ESHAPE;
    if (!(t->weight > 0.0))
        return GD_ESTATE;
    /* one unit = a row (stride 1, length cols) or a column (stride cols) */
    const bool by_row = axis == GD_AXIS_ROWS;
    const size_t units = by_row ? rows : cols, len = by_row ? cols : rows;
    const size_t unit_step = by_row ? cols : 1, elem_step = by_row ? 1 : cols;
    for (size_t u = 0; u < units; u++) {
        double acc = 0.0;
        const double *x = t->sums + u * unit_step;
        for (size_t k = 0; k < len; k++)
            acc += x[k * elem_step] / t->weight;
        scores[u] = (float)(acc / (double)len);
    }
    return GD_OK;
}

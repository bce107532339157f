/*
 * The gd_fisher object, shared by fisher.c (registry and accumulators),
 * fisher_dense.c (the sgemm paths), fisher_scores.c and safetensors.c.
 */
#ifndef GDROPOUT_FISHER_INTERNAL_H
#define GDROPOUT_FISHER_INTERNAL_H

#include "internal.h"

typedef struct gd_tensor {
    char *name;
    size_t numel;
    size_t site;    /* or GD_NONE */
    double *sums;   /* sum_n w_n g_{n,j}^2, numel of them */
    double weight;  /* W = sum_n w_n */
} gd_tensor;

struct gd_fisher {
    gd_tensor *t; /* by id */
    size_t n, cap;
    size_t *slots; /* open-addressing hash of names to ids; GD_NONE = empty */
    size_t n_slots; /* a power of two, at least twice n */
    gd_sgemm_fn sgemm; /* the host's (gd_fisher_set_sgemm), or NULL: OpenBLAS */
    void *sgemm_user;
};

/* Tensor id of f, or NULL (f must not be NULL). */
static inline gd_tensor *gd_fisher_tensor(const gd_fisher *f, size_t id)
{
    return id < f->n ? &f->t[id] : NULL;
}

/* The estimate F_j as gd_fisher_read and gd_fisher_save give it. */
static inline float gd_tensor_estimate(const gd_tensor *t, size_t j)
{
    return (float)(t->sums[j] / t->weight);
}

/*
 * What an object may hold, so that everything GD_OK accepts saves and loads
 * back bit for bit (safetensors.c stores e = (float)(S/W) and W, and loads
 * S = e * W):
 *   - a weight W is 0 or in [GD_WEIGHT_MIN, GD_WEIGHT_MAX]: then e * W is a
 *     normal double for every float e in [2^-149, GD_ESTIMATE_MAX] (no
 *     subnormal loss, no overflow), and ((e * W) / W) rounds back to e;
 *   - an estimate S/W is at most GD_ESTIMATE_MAX (half of the float range,
 *     so rounding never reaches Inf), and W == 0 holds only zero sums.
 * set_sums, merge and the loader check these exactly; the accumulators keep
 * them by refusing squared gradients >= GD_ESTIMATE_MAX (an estimate is a
 * weighted mean of the squares, so it stays below the largest of them).
 */
#define GD_ESTIMATE_MAX 0x1p127
#define GD_WEIGHT_MIN 0x1p-512
#define GD_WEIGHT_MAX 0x1p512

static inline bool gd_weight_ok(double w)
{
    return w == 0.0 || (w >= GD_WEIGHT_MIN && w <= GD_WEIGHT_MAX);
}

/* Sum s over weight w (gd_weight_ok) is something a tensor may hold. */
static inline bool gd_sum_ok(double s, double w)
{
    if (w == 0.0)
        return s == 0.0;
    return s >= 0.0 && s / w <= GD_ESTIMATE_MAX; /* false for NaN; Inf / w is Inf */
}

/* A squared gradient a * a (a = max |g|) that keeps every estimate in range. */
static inline bool gd_square_ok(float a)
{
    return (double)a * (double)a < GD_ESTIMATE_MAX;
}

/* x[0 .. n) holds no NaN or Inf; *amax (may be NULL) gets max |x|. */
bool gd_all_finite(const float *x, size_t n, float *amax);

#endif /* GDROPOUT_FISHER_INTERNAL_H */

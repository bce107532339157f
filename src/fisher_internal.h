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

/* x[0 .. n) holds no NaN or Inf; *amax (may be NULL) gets max |x|. */
bool gd_all_finite(const float *x, size_t n, float *amax);

#endif /* GDROPOUT_FISHER_INTERNAL_H */

/*
 * gdropout-transfer: the pieces of the example trainer, by concern.
 *
 *   transfer_data.c   reading digits.csv(.gz), task splits, permutations
 *   transfer_mlp.c    the MLP: forward/backward (cblas_sgemm), dropout sites,
 *                     Adam, per-example Fisher
 *   transfer_stats.c  mean, standard deviation, paired t intervals
 *   gdropout_transfer.c  flags, the experiment and the report
 *
 * Not part of libgdropout: this is what a host trainer looks like.
 */
#ifndef GDX_TRANSFER_H
#define GDX_TRANSFER_H

#include <stddef.h>
#include <stdint.h>

#include <gdropout/gdropout.h>

/* ---- flag values ----------------------------------------------------- */

/* A decimal integer in [lo, hi], the whole string (no sign, no trailing
 * text, no overflow).  Returns 0 and sets *out, or -1 leaving it alone. */
int gdx_parse_size(const char *s, size_t lo, size_t hi, size_t *out);
/* A finite number in [lo, hi], or (lo, hi] when lo_open, the whole string.
 * Returns 0 and sets *out, or -1 leaving it alone. */
int gdx_parse_real(const char *s, double lo, double hi, int lo_open, double *out);

/* ---- data ------------------------------------------------------------ */

enum { GDX_PIXELS = 64, GDX_CLASSES = 10 };

/* Every row of the file: x[n x 64] scaled to [0, 1], label[n] in 0..9. */
typedef struct gdx_digits {
    float *x;
    int *label;
    size_t n;
} gdx_digits;

/* A labelled set gathered from some rows: x[n x 64], y[n] in 0..classes-1. */
typedef struct gdx_set {
    float *x;
    int *y;
    size_t n;
} gdx_set;

/* Reads path (gzip'ed through `gzip -dc` when it ends in ".gz").  On error
 * prints why to stderr and returns -1. */
int gdx_digits_read(gdx_digits *d, const char *path);
void gdx_digits_free(gdx_digits *d);

/* A uniformly random permutation of 0..n-1 from Philox (seed, stream).
 * Returns -1 on allocation failure. */
int gdx_permutation(size_t *perm, size_t n, uint64_t seed, uint64_t stream);

/* Copies the rows whose label is in [lo, hi] (relabelled label - lo), in the
 * order of perm, skipping the first `skip` matches and taking at most
 * `take`.  Returns -1 on allocation failure. */
int gdx_set_take(gdx_set *out, const gdx_digits *d, const size_t *perm, int lo, int hi,
                 size_t skip, size_t take);
/* The first k rows of s: a view into s, never passed to gdx_set_free. */
gdx_set gdx_set_head(const gdx_set *s, size_t k);
void gdx_set_free(gdx_set *s);

/* ---- model ----------------------------------------------------------- */

/* 64 -> 128 -> 128 -> 64 -> classes, ReLU after each hidden layer.  Dropout
 * site k acts on the input of layer k: site 0 on the pixels, sites 1..3 on
 * the ReLU outputs of layers 0..2. */
enum { GDX_LAYERS = 4, GDX_SITES = 4 };

/* Philox stream namespaces, so that no two uses of one seed share words:
 * dropout masks use (step << 8) | site with step < 2^54; weight init and
 * data permutations set one of the two top bits. */
#define GDX_STREAM_INIT (UINT64_C(1) << 63)
#define GDX_STREAM_DATA (UINT64_C(1) << 62)
static inline uint64_t gdx_dropout_stream(uint64_t step, size_t site)
{
    return step << 8 | (uint64_t)site;
}

typedef struct gdx_layer {
    size_t in, out;
    float *w, *b;   /* W[out x in] row-major (y = x W^T + b), b[out] */
    float *dw, *db; /* gradients of the batch-mean loss */
    float *mw, *vw, *mb, *vb; /* Adam moments */
} gdx_layer;

/* What one dropout site does in a regime. */
typedef enum {
    GDX_DROP_NONE = 0,  /* identity */
    GDX_DROP_BERNOULLI, /* gd_dropout_fwd/bwd at p, mask stored in forward */
    GDX_DROP_GAUSSIAN,  /* gd_gaussian_dropout_fwd/bwd at sigma, regenerated */
    GDX_DROP_COLS       /* gd_dropout_fwd_cols/bwd_cols, mask regenerated */
} gdx_drop_kind;

typedef struct gdx_site {
    gdx_drop_kind kind;
    float p;             /* GDX_DROP_BERNOULLI */
    float sigma;         /* GDX_DROP_GAUSSIAN */
    const float *p_cols; /* GDX_DROP_COLS: one p per unit of the site */
} gdx_site;

typedef struct gdx_mlp {
    gdx_layer layer[GDX_LAYERS];
    size_t cap; /* rows the activation buffers hold */
    /* act[k]: what enters site k (act[0] = the pixels); in[k]: what leaves
     * it (the input of layer k); z[k]: layer k's output (z[3] = logits);
     * dz[k]: the loss gradient at z[k]; din: scratch for the gradient at
     * in[k]. */
    float *act[GDX_SITES], *in[GDX_SITES], *z[GDX_LAYERS], *dz[GDX_LAYERS], *din;
    uint8_t *mask[GDX_SITES];
    uint64_t adam_t;
} gdx_mlp;

/* Allocates a network of the given widths (width[0] = 64 pixels,
 * width[GDX_LAYERS] = classes) whose buffers hold `cap` rows; weights zero.
 * Returns -1 on allocation failure (and frees what it took). */
int gdx_mlp_create(gdx_mlp *m, const size_t width[GDX_LAYERS + 1], size_t cap);
void gdx_mlp_free(gdx_mlp *m);
/* Copies dst's weights from src (same shapes) and resets Adam. */
void gdx_mlp_copy_weights(gdx_mlp *dst, const gdx_mlp *src);
/* He-normal weights, zero biases, for layers first..GDX_LAYERS-1, from
 * gd_random_normal on (seed, stream = GDX_STREAM_INIT | layer).  Returns a
 * GD_* code. */
int gdx_mlp_init(gdx_mlp *m, size_t first, uint64_t seed);

/* One training step on x[n x 64], y[n]: forward through the sites (stream
 * (step << 8) | site under `seed`), softmax cross-entropy averaged over the
 * batch, backward, one Adam update at learning rate lr.  *loss receives the
 * batch-mean loss.  Returns a GD_* code (a dropout call's failure). */
int gdx_mlp_train_step(gdx_mlp *m, const float *x, const int *y, size_t n,
                       const gdx_site site[GDX_SITES], uint64_t seed, uint64_t step, float lr,
                       float *loss);

/* Fraction of s classified right, with every site the identity (inverted
 * dropout needs no rescaling at test time). */
double gdx_mlp_accuracy(gdx_mlp *m, const gdx_set *s);

/* Accumulates the diagonal empirical Fisher of the dropout-free network's
 * loss on s, exactly per example: layer k's W and b are tensors w_id[k],
 * b_id[k] of f, fed to gd_fisher_accumulate_dense with each example's own
 * loss gradient (batch loss not divided by the batch size).  Returns a GD_*
 * code. */
int gdx_mlp_fisher(gdx_mlp *m, const gdx_set *s, gd_fisher *f, const size_t w_id[GDX_LAYERS],
                   const size_t b_id[GDX_LAYERS]);

/* ---- statistics ------------------------------------------------------ */

typedef struct gdx_summary {
    double mean, sd;  /* sample standard deviation (n - 1); 0 for n < 2 */
    double lo, hi;    /* 95% t interval of the mean; = mean for n < 2 */
} gdx_summary;

/* Two-sided 95% quantile of Student's t with df degrees of freedom
 * (df >= 1; for df past the table, the nearest smaller tabulated df, which
 * is conservative). */
double gdx_t975(size_t df);
gdx_summary gdx_summarize(const double *v, size_t n);
/* Summary of the paired differences a[i] - b[i]. */
gdx_summary gdx_summarize_paired(const double *a, const double *b, size_t n);

#endif /* GDX_TRANSFER_H */

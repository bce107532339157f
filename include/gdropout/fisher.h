/*
 * libgdropout: diagonal empirical Fisher information.
 *
 * Include <gdropout/gdropout.h> rather than this file directly.
 *
 *   F_j = (1 / W) * sum_n w_n * g_{n,j}^2,   W = sum_n w_n
 *
 * where g_n is the gradient of example n's *own* loss (a framework that
 * divides a batch loss by the batch size must multiply back) with respect to
 * parameter j.  Parameters are registered as named tensors, each feeding one
 * dropout site (the dropout layer that follows it); site scores reduce the
 * tensors of a site to one number for the guided schedule.
 *
 * Accumulators are double.  What an object holds always saves and loads
 * back bit for bit, so every call keeps two limits and refuses (GD_EDOMAIN,
 * object untouched) what would break them:
 *   - each estimate F_j is at most 2^127 (half the float range): the
 *     accumulators refuse gradients whose square is >= 2^127
 *     (|g| >= ~1.3e19), the Adam path v scaled above 2^127;
 *   - the weight W is 0 (then every sum is 0) or in [2^-512, 2^512]
 *     (~7.5e-155 .. ~1.3e154), so that estimate * W is an exact-enough
 *     normal double.
 * A gd_fisher is used by one thread at a time;
 * distinct objects may be used from distinct threads concurrently.
 * Dense matrices are row-major W[out x in], y = x W^T + b (PyTorch's Linear).
 */
#ifndef GDROPOUT_FISHER_H
#define GDROPOUT_FISHER_H

#include <gdropout/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gd_fisher gd_fisher;

/* Site reductions for gd_fisher_site_scores. */
enum {
    GD_REDUCE_TENSOR_MEAN = 0,  /* the paper's: mean over the site's tensors of
                                   each tensor's element mean, tensors weighted
                                   equally */
    GD_REDUCE_ELEMENT_MEAN = 1, /* mean over every element of the site */
    GD_REDUCE_SUM = 2,          /* sum over every element of the site */
    GD_REDUCE_MAX = 3           /* largest element of the site */
};

/* Axes for gd_fisher_unit_scores. */
enum {
    GD_AXIS_ROWS = 0, /* one score per row: mean over the row (for W[out x in],
                         one per output unit) */
    GD_AXIS_COLS = 1  /* one score per column: mean over the column */
};

/* Creates an empty accumulator in *out.  Errors: GD_EINVAL (NULL out),
 * GD_ENOMEM. */
GD_NODISCARD GD_API int gd_fisher_create(gd_fisher **out);

/* Frees f and everything it owns.  NULL is a no-op. */
GD_API void gd_fisher_destroy(gd_fisher *f);

/* Registers a parameter tensor of numel elements feeding dropout site `site`
 * (GD_NONE: tracked but part of no site).  Ids are 0, 1, 2, ... in
 * registration order; *id_out receives it (id_out may be NULL).  name is a
 * non-empty UTF-8 string of at most 255 bytes with no control characters,
 * copied; "__metadata__" is reserved (the file format's own key).
 * Errors: GD_EINVAL (NULL f or name, bad name, numel == 0),
 * GD_EEXIST (name taken), GD_EOVERFLOW, GD_ENOMEM. */
GD_NODISCARD GD_API int gd_fisher_add_tensor(gd_fisher *f, const char *name, size_t numel,
                                             size_t site, size_t *id_out);

/* Number of registered tensors.  Errors: GD_EINVAL. */
GD_NODISCARD GD_API int gd_fisher_count(const gd_fisher *f, size_t *n);

/* The id of the tensor called name.  Errors: GD_EINVAL, GD_ENOTFOUND. */
GD_NODISCARD GD_API int gd_fisher_find(const gd_fisher *f, const char *name, size_t *id);

/* What tensor id is: its name (owned by f, valid until f is destroyed),
 * element count and site.  Any output pointer may be NULL.
 * Errors: GD_EINVAL, GD_ENOTFOUND. */
GD_NODISCARD GD_API int gd_fisher_info(const gd_fisher *f, size_t id, const char **name,
                                       size_t *numel, size_t *site);

/* F += w * grad^2 for one example's gradient (numel floats), adding w to the
 * tensor's sample weight.  w finite and >= 0.  GD_EDOMAIN, with nothing
 * added, for a negative, NaN or Inf w, a gradient holding NaN or Inf or an
 * element whose square is >= 2^127, or a weight that would pass 2^512.
 * Errors: GD_EINVAL, GD_ENOTFOUND, GD_EDOMAIN. */
GD_NODISCARD GD_API int gd_fisher_accumulate(gd_fisher *f, size_t id, const float *grad, float w);

/* The same for `batch` examples at once, grads[batch x numel], weight 1
 * each.  Errors as gd_fisher_accumulate, plus GD_EOVERFLOW. */
GD_NODISCARD GD_API int gd_fisher_accumulate_batch(gd_fisher *f, size_t id, const float *grads,
                                                   size_t batch);

/* Exact per-example squared gradients of a dense layer from its inputs
 * x[batch x in] and its per-example output gradients dy[batch x out],
 * without forming per-example gradients:
 *   sum_b (dy_b x_b^T)^2 = (dy*dy)^T (x*x)   (one sgemm on squares),
 *   bias: sum_b dy_b^2.
 * w_id must have out*in elements, b_id (or GD_NONE, never w_id) out
 * elements; each counts batch samples of weight 1.  The products are float
 * added into the double accumulators; a batch of up to 1024 examples is
 * one product, larger batches go in chunks of 1024, so scratch memory
 * (gd_malloc'ed, freed before return) is at most 1024*(in+out) + out*in
 * floats.  The product is an sgemm, OpenBLAS's unless the host set its own
 * (gd_fisher_set_sgemm); OpenBLAS threads are the host's business
 * (OPENBLAS_NUM_THREADS / openblas_set_num_threads).  Since 1.2, without
 * a host's sgemm and on a CPU with AVX2 and FMA or AVX-512, the library
 * forms it a tile at a time in registers instead (each element summed in
 * float over the examples in order by fused multiply-adds, the same bits
 * on both; no out*in scratch), one thread; from 256 columns (in) on it
 * first copies blocks of the squares into the order its tiles read them
 * (at most 64*k + 73728 floats more, k the examples of a chunk; without
 * them it reads in place, to the same bits, more slowly).  batch == 0 is a no-op.
 * Everything is checked before anything is added: NaN or Inf in x or dy,
 * or magnitudes whose float squares or sums could overflow
 * (max|x|^2 or max|dy|^2 >= 2^127, or max|x|^2 max|dy|^2 * 1024 >= 2^127),
 * give GD_EDOMAIN with the accumulators untouched.
 * Errors: GD_EINVAL, GD_ENOTFOUND, GD_ESHAPE, GD_EDOMAIN, GD_EOVERFLOW
 * (sizes, or in/out above INT_MAX for BLAS), GD_ENOMEM (scratch). */
GD_NODISCARD GD_API int gd_fisher_accumulate_dense(gd_fisher *f, size_t w_id, size_t b_id,
                                                   const float *x, const float *dy, size_t batch,
                                                   size_t in, size_t out);

/* The same when each example is a sequence: x[batch x seq x in],
 * dy[batch x seq x out].  An example's gradient sums over its positions,
 * G_b = dy_b^T x_b, so it is formed per example and then squared in
 * double; the bias gets (sum_t dy_bt)^2.  Since 1.2, without a host's sgemm
 * and on a CPU with AVX2 and FMA or AVX-512, G_b is formed a tile at a time
 * in registers, each element summed in float over t ascending by fused
 * multiply-adds (the same bits on both), and never stored (bench/README.md
 * has its time against one sgemm), with the copies of the single-example
 * form for k = seq terms.  Otherwise it is
 * one sgemm (OpenBLAS's, or the host's) into a scratch buffer of out*in
 * floats.  Its only allocations are that buffer (or the copies) and out
 * doubles.  seq == 0
 * is GD_ESHAPE; GD_EDOMAIN also when (max|x| max|dy| seq)^2 or
 * (max|dy| seq)^2 >= 2^127 (an estimate could pass the limit above).
 * Errors as gd_fisher_accumulate_dense. */
GD_NODISCARD GD_API int gd_fisher_accumulate_dense_seq(gd_fisher *f, size_t w_id, size_t b_id,
                                                       const float *x, const float *dy,
                                                       size_t batch, size_t seq, size_t in,
                                                       size_t out);

/* A host's own sgemm for the dense paths above (since 1.1, GDROPOUT_1.1).
 * Row-major, as cblas_sgemm(CblasRowMajor, ...) with the same arguments:
 *   C[m x n] = alpha * op(A) * op(B) + beta * C
 * op(A) is m x k: A itself (trans_a == 0; A holds m rows of k floats, row
 * i at a + i*lda) or A^T (trans_a == 1; A holds k rows of m floats, row
 * p at a + p*lda).  op(B) is k x n the same way (trans_b == 0: k rows of n,
 * == 1: n rows of k; row stride ldb).  Row i of C is at c + i*ldc.  With
 * beta == 0, C is write-only: its old contents (possibly NaN) must not be
 * read.  A column-major BLAS computes the same by swapping operands:
 * C^T = op(B)^T op(A)^T, i.e. sgemm_(tb, ta, n, m, k, alpha, b, ldb, a, lda,
 * beta, c, ldc) with 'T' for a flag that is 1 and 'N' for 0.
 * What the library passes: 1 <= m, n, k; every size and stride <= INT_MAX
 * (so it fits a 32-bit-int BLAS); lda, ldb, ldc at least the row lengths;
 * A and B never overlap C; C is library scratch.  1.1 calls it with
 * trans_a == 1, trans_b == 0, alpha == 1, beta == 0, but a callback must
 * honour every argument.  It cannot report failure (a host whose BLAS can
 * fail falls back inside the callback), must not call into f, and is
 * called only from inside gd_fisher_accumulate_dense(_seq) on f, on the
 * calling thread, before that call returns (it may use threads of its own
 * within the call); user is passed through as is.
 * The callback must compute the product to float accuracy (a different
 * summation order is fine, the results then differ from OpenBLAS's in the
 * last bits). */
typedef void (*gd_sgemm_fn)(void *user, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                            float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                            float beta, float *c, size_t ldc);

/* Makes f's dense paths call sgemm(user, ...) instead of OpenBLAS's
 * cblas_sgemm (the default); sgemm == NULL restores the default (user is
 * then ignored).  Why: a host that already has a BLAS (MKL, PyTorch's,
 * an accelerator) need not run a second BLAS thread pool for these calls.
 * The setting belongs to f alone: a new object (gd_fisher_create,
 * gd_fisher_load) starts with the default, and gd_fisher_merge leaves
 * dst's setting as it was and ignores src's.  f is used by one thread at
 * a time, this call included; a callback set on several objects used from
 * several threads must be reentrant.  user must stay valid while it is set.
 * Errors: GD_EINVAL (NULL f). */
GD_NODISCARD GD_API int gd_fisher_set_sgemm(gd_fisher *f, gd_sgemm_fn sgemm, void *user);

/* "Fisher for free" from Adam's second moment v (numel floats) after `step`
 * updates with decay beta2, on a loss averaged over `batch` examples
 * (batch = 1 for a summed loss):
 *   F ~= batch * v / (1 - beta2^step)
 * computed in double.  Why: Adam keeps v_t = beta2 v_{t-1} + (1-beta2) m_t^2
 * with m_t the gradient of the batch-mean loss; divided by (1 - beta2^t)
 * it is a weighted average of m^2 over the recent steps.  For B independent
 * per-example gradients with mean mu and E[g^2] = F,
 * E[m^2] = mu^2 + (F - mu^2)/B, so B E[m^2] = F + (B-1) mu^2 ~= F when
 * mu^2 << F/B (near a minimum, or early in pretraining-objective
 * gradients).  The parameters move while v builds up, so this is F
 * smoothed over the last ~1/(1-beta2) steps.  Replaces the tensor's
 * accumulators with this estimate at weight 1.  beta2 in [0, 1), step >= 1,
 * batch >= 1, v >= 0 and batch * v / (1 - beta2^step) <= 2^127 (all checked
 * before anything changes; GD_EDOMAIN otherwise).
 * Errors: GD_EINVAL, GD_ENOTFOUND, GD_EDOMAIN. */
GD_NODISCARD GD_API int gd_fisher_from_adam(gd_fisher *f, size_t id, const float *v, float beta2,
                                            uint64_t step, size_t batch);

/* estimate[j] = F_j of tensor id (numel must be its element count);
 * *samples (may be NULL) = its total sample weight W.
 * Errors: GD_EINVAL, GD_ENOTFOUND, GD_ESHAPE, GD_ESTATE (W == 0). */
GD_NODISCARD GD_API int gd_fisher_read(const gd_fisher *f, size_t id, float *estimate,
                                       size_t numel, double *samples);

/* The raw accumulators, sums[j] = sum_n w_n g_{n,j}^2 and *weight = W, for
 * reducing across processes (e.g. MPI_Allreduce with MPI_SUM, then
 * gd_fisher_set_sums).  Errors: GD_EINVAL, GD_ENOTFOUND, GD_ESHAPE. */
GD_NODISCARD GD_API int gd_fisher_sums(const gd_fisher *f, size_t id, double *sums, size_t numel,
                                       double *weight);

/* Replaces tensor id's accumulators.  weight 0 (then every sum 0) or in
 * [2^-512, 2^512]; sums >= 0 with sums[j] / weight <= 2^127.  Anything else
 * (NaN, Inf, negative, out of range) is GD_EDOMAIN.
 * Errors: GD_EINVAL, GD_ENOTFOUND, GD_ESHAPE, GD_EDOMAIN. */
GD_NODISCARD GD_API int gd_fisher_set_sums(gd_fisher *f, size_t id, const double *sums,
                                           size_t numel, double weight);

/* dst += src: both must hold the same tensors (names, sizes, sites) in the
 * same order.  A sum gd_fisher_set_sums would refuse (a weight above 2^512)
 * is GD_EDOMAIN.  On any error both objects are unchanged.
 * Errors: GD_EINVAL, GD_ESHAPE, GD_EDOMAIN. */
GD_NODISCARD GD_API int gd_fisher_merge(gd_fisher *dst, const gd_fisher *src);

/* Number of sites: 1 + the largest site any tensor feeds (0 if none). */
GD_NODISCARD GD_API int gd_fisher_site_count(const gd_fisher *f, size_t *n_sites);

/* One score per site for sites 0 .. n_sites-1 under `reduce` (GD_REDUCE_*),
 * computed in double and rounded once.  A site that no tensor feeds gets a
 * quiet NaN (the host leaves it at its standard rate; gd_plan refuses NaN).
 * Errors: GD_EINVAL (NULL, unknown reduce, n_sites == 0), GD_ESHAPE (a tensor
 * feeds a site >= n_sites), GD_ESTATE (a scored tensor has no samples),
 * GD_EDOMAIN (GD_REDUCE_SUM only: a site's sum is too large for a float). */
GD_NODISCARD GD_API int gd_fisher_site_scores(const gd_fisher *f, int reduce, float *scores,
                                              size_t n_sites);

/* Per-unit scores of tensor id viewed as [rows x cols] (rows * cols must be
 * its element count): axis GD_AXIS_ROWS gives rows scores (row means),
 * GD_AXIS_COLS gives cols scores (column means).
 * Errors: GD_EINVAL, GD_ENOTFOUND, GD_ESHAPE, GD_EOVERFLOW, GD_ESTATE. */
GD_NODISCARD GD_API int gd_fisher_unit_scores(const gd_fisher *f, size_t id, size_t rows,
                                              size_t cols, int axis, float *scores);

/* Writes the estimates as a safetensors file: one F32 tensor per registered
 * tensor, under its name, shape [numel], in id order; __metadata__ holds
 * "gdropout.format" = "fisher-1" and, per tensor, "gdropout.site.<name>"
 * (decimal, or "none") and "gdropout.weight.<name>" (W, "%.17g").  Written
 * to a temporary file in the same folder, flushed, fsync'ed and renamed, so
 * the target is either the old file or the whole new one.  Tensors without
 * samples are written as zeros with weight 0.  path must name a regular
 * file (replaced; it keeps its mode) or nothing (created with mode 0666 less
 * the umask, as open(2) would); a symlink (even to a regular file), a
 * dangling symlink, a directory, FIFO, socket or device at path is GD_EIO
 * and stays as it was.
 * Errors: GD_EINVAL, GD_EIO, GD_ENOMEM. */
GD_NODISCARD GD_API int gd_fisher_save(const gd_fisher *f, const char *path);

/* Reads a file written by gd_fisher_save (or any safetensors file of F32
 * tensors: missing metadata means site GD_NONE and weight 1) into a new
 * object in *out; ids follow the order of the tensors' data offsets.  Every
 * byte is validated; anything malformed gives GD_EFORMAT and *out untouched:
 * the header length against the file, JSON syntax (nesting depth <= 64),
 * names (as gd_fisher_add_tensor, unique), dtype F32 only, shape product
 * against the offsets, offsets tiling the data section exactly (no overlap,
 * no gap, nothing after), metadata values ("gdropout.format" must be
 * "fisher-1"; sites decimal or "none"; weights 0 or in [2^-512, 2^512]),
 * and estimates in [0, 2^127] (all 0 when the weight is 0): the object's
 * limits above, so a foreign file cannot hold what would not read back as
 * written.  Headers above 16 MiB or 2^20 JSON values are refused as absurd;
 * tensor data is read in chunks, never all at once.  path must be a regular
 * file (or a symlink to one): it is opened non-blocking and checked before
 * anything is read, so a FIFO or device is GD_EIO at once, never a hang.
 * Reading back a saved file gives the same estimates bit for bit.
 * Errors: GD_EINVAL, GD_EIO, GD_EFORMAT, GD_ENOMEM. */
GD_NODISCARD GD_API int gd_fisher_load(gd_fisher **out, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* GDROPOUT_FISHER_H */

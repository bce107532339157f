/*
 * gdropout-fisher-mpi: the Fisher pass of a data-parallel trainer, sharded
 * over MPI ranks, on the digits MLP of gdropout-transfer.
 *
 *   mpirun -np 3 gdropout-fisher-mpi --fisher-out fisher.safetensors --plan-out plan.txt
 *
 *  1. every rank reads the digits (--data; "{rank}" in the path becomes the
 *     rank's number, for node-local copies) and checks that it holds the
 *     same rows as rank 0;
 *  2. rank 0 pretrains the MLP 64-128-128-64-10 on all ten digits (a real
 *     trainer would load its checkpoint) and broadcasts the weights, so that
 *     every rank scores the same network;
 *  3. the Fisher examples, the first --fisher-n rows of a fixed permutation,
 *     are cut into batches of --batch; rank r of R takes the whole batches
 *     [r*nb/R, (r+1)*nb/R) of the nb, uneven when R does not divide nb, and
 *     accumulates their exact per-example squared gradients into its own
 *     gd_fisher;
 *  4. gdx_fisher_allreduce adds the raw sums and sample weights over the
 *     ranks (every rank, or --root only);
 *  5. each rank holding the totals scores the sites and plans dropout rates
 *     (RANK_LINEAR from --p down to 0, as gdropout-transfer's per-site plan);
 *     rank 0 (the root with --root) saves the Fisher file (gd_fisher_save)
 *     and the plan (gd_plan_save).
 *
 * Shards are whole batches so that every sgemm sees the same rows as in a
 * single process: the only difference from --serial, the same pass in one
 * process without any MPI call, is then the order in which the ranks'
 * double sums are added.
 *
 * Every phase ends with gdx_mpi_agree: a rank that fails (say its --data is
 * not digits) prints why, and every rank stops at the end of that phase
 * and exits non-zero, so mpirun ends instead of waiting.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include "common/fisher_mpi.h"
#include "transfer.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef GDX_DEFAULT_DATA
#define GDX_DEFAULT_DATA "data/digits.csv.gz"
#endif

static const char prog[] = "gdropout-fisher-mpi";

/* Fixed by design: the row order, and the pretraining (standard dropout 0.1
 * at every site, Adam). */
static const uint64_t data_seed = 20240620;
static const uint64_t pretrain_seed = 7;
static const float pretrain_p = 0.1f;
static const float pretrain_lr = 1e-3f;

enum { MAX_BATCH = 1024, EXIT_USAGE = 2 };
static const size_t width[GDX_LAYERS + 1] = { GDX_PIXELS, 128, 128, 64, GDX_CLASSES };
static const char *const site_name[GDX_SITES] = { "input", "relu1", "relu2", "relu3" };

typedef struct options {
    const char *data, *fisher_out, *plan_out;
    size_t pretrain_steps, batch, fisher_n, chunk_bytes;
    float p;
    int root; /* GDX_FISHER_ALL_RANKS or a rank */
    int serial;
} options;

typedef struct run {
    options opt;
    int rank, size; /* 0 and 1 with --serial */
    char *data_path; /* --data with "{rank}" replaced */
    gdx_digits digits;
    gdx_set rows; /* every row, in the fixed permutation */
    gdx_mlp mlp;  /* buffers of --batch rows: one Fisher batch, one sgemm */
    gd_fisher *f;
    size_t w_id[GDX_LAYERS], b_id[GDX_LAYERS];
    float score[GDX_SITES], site_p[GDX_SITES];
} run;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* "gdropout-fisher-mpi: rank R: <message>" on stderr, in one write: stderr
 * is unbuffered, so three calls would be three writes, and mpirun forwards
 * each rank's writes as they come -- another rank's line could land in the
 * middle of this one (CI saw exactly that).  A write of at most PIPE_BUF
 * (4096) bytes to a pipe is atomic; a longer message is cut. */
static void fail_msg(const run *r, const char *fmt, ...)
{
    char line[4096];
    /* prog is a short constant: the prefix always fits. */
    const int head = snprintf(line, sizeof line, "%s: rank %d: ", prog, r->rank);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + head, sizeof line - (size_t)head, fmt, ap);
    va_end(ap);
    size_t len = strnlen(line, sizeof line - 1); /* room for the newline */
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

/* Ends a phase on every rank together: 0 if no rank failed.  Rank 0, when
 * it did not fail itself, says which rank did; the failing rank has already
 * said why. */
static int phase_end(const run *r, int failed, const char *phase)
{
    if (r->opt.serial)
        return failed ? -1 : 0;
    int first = -1;
    if (gdx_mpi_agree(MPI_COMM_WORLD, failed, &first) == 0)
        return 0;
    if (r->rank == 0 && !failed)
        fail_msg(r, "stopping after %s: rank %d failed (its message is above)", phase, first);
    return -1;
}

/* ---- flags ----------------------------------------------------------- */

static void usage(FILE *to)
{
    fprintf(to,
            "usage: mpirun -np N %s [options]\n"
            "       %s --serial [options]\n"
            "Pretrains the digits MLP, shards its Fisher pass over the MPI ranks in whole\n"
            "batches, adds the ranks' raw Fisher sums and weights, and writes the Fisher\n"
            "file and the guided per-site dropout plan from rank 0.\n"
            "\n"
            "  --data FILE          digits CSV, gzip'ed if it ends in .gz; \"{rank}\" is\n"
            "                       replaced by the rank (default %s)\n"
            "  --pretrain-steps N   pretraining steps (default 300)\n"
            "  --batch N            batch size of pretraining and of the Fisher pass, the\n"
            "                       unit of sharding (default 64, 1..%d)\n"
            "  --fisher-n N         Fisher examples: the first N rows of a fixed\n"
            "                       permutation (default 0: every row)\n"
            "  --p P                dropout of the least informative site (default 0.2)\n"
            "  --fisher-out FILE    the Fisher file (default fisher.safetensors)\n"
            "  --plan-out FILE      the plan file (default plan.txt)\n"
            "  --root R             reduce to rank R only, which writes the files\n"
            "                       (default: every rank gets the totals and checks that\n"
            "                       its plan is rank 0's; rank 0 writes the files)\n"
            "  --chunk-bytes N      largest payload of one MPI call (default %zu)\n"
            "  --serial             the same pass in one process, without MPI\n"
            "  --help               this text\n",
            prog, prog, GDX_DEFAULT_DATA, MAX_BATCH, (size_t)GDX_FISHER_CHUNK_DEFAULT);
}

/* 0 parsed, -1 bad value, -2 unknown flag. */
static int parse_flag(options *o, const char *flag, const char *val)
{
    size_t z;
    if (!strcmp(flag, "--data"))
        return *(o->data = val) ? 0 : -1;
    if (!strcmp(flag, "--fisher-out"))
        return *(o->fisher_out = val) ? 0 : -1;
    if (!strcmp(flag, "--plan-out"))
        return *(o->plan_out = val) ? 0 : -1;
    if (!strcmp(flag, "--pretrain-steps"))
        return gdx_parse_size(val, 1, 1000000, &o->pretrain_steps);
    if (!strcmp(flag, "--batch"))
        return gdx_parse_size(val, 1, MAX_BATCH, &o->batch);
    if (!strcmp(flag, "--fisher-n"))
        return gdx_parse_size(val, 0, SIZE_MAX, &o->fisher_n);
    if (!strcmp(flag, "--chunk-bytes"))
        return gdx_parse_size(val, sizeof(double), SIZE_MAX, &o->chunk_bytes);
    if (!strcmp(flag, "--root")) {
        if (gdx_parse_size(val, 0, 1 << 20, &z) != 0)
            return -1;
        o->root = (int)z;
        return 0;
    }
    if (!strcmp(flag, "--p")) {
        double d;
        if (gdx_parse_real(val, 0.0, 0.95, 1, &d) != 0)
            return -1;
        o->p = (float)d;
        return 0;
    }
    return -2;
}

/* 0: run; 1: --help printed; -1: bad flags (message printed when loud). */
static int parse_options(options *o, int argc, char **argv, int loud)
{
    const options defaults = { .data = GDX_DEFAULT_DATA, .fisher_out = "fisher.safetensors",
                               .plan_out = "plan.txt", .pretrain_steps = 300, .batch = 64,
                               .fisher_n = 0, .chunk_bytes = GDX_FISHER_CHUNK_DEFAULT,
                               .p = 0.2f, .root = GDX_FISHER_ALL_RANKS, .serial = 0 };
    *o = defaults;
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        if (!strcmp(flag, "--help") || !strcmp(flag, "-h")) {
            if (loud)
                usage(stdout);
            return 1;
        }
        if (!strcmp(flag, "--serial")) {
            o->serial = 1;
            continue;
        }
        options scratch = *o;
        if (parse_flag(&scratch, flag, "") == -2) {
            if (loud)
                fprintf(stderr, "%s: unknown option '%s' (try --help)\n", prog, flag);
            return -1;
        }
        const char *val = i + 1 < argc ? argv[++i] : NULL;
        if (!val || parse_flag(o, flag, val) != 0) {
            if (loud)
                fprintf(stderr, "%s: %s needs a valid value%s%s%s (try --help)\n", prog, flag,
                        val ? ", not '" : "", val ? val : "", val ? "'" : "");
            return -1;
        }
    }
    return 0;
}

static int has_flag(int argc, char **argv, const char *flag)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], flag))
            return 1;
    return 0;
}

/* ---- data ------------------------------------------------------------ */

/* path with every "{rank}" replaced by the rank; NULL when out of memory. */
static char *rank_path(const char *path, int rank)
{
    static const char key[] = "{rank}";
    const size_t klen = sizeof key - 1;
    char num[16];
    const size_t nlen = (size_t)snprintf(num, sizeof num, "%d", rank);
    size_t hits = 0;
    for (const char *c = strstr(path, key); c; c = strstr(c + klen, key))
        hits++;
    char *out = malloc(strlen(path) + hits * nlen + 1);
    if (!out)
        return NULL;
    char *o = out;
    for (const char *c = path; *c;) {
        if (!strncmp(c, key, klen)) {
            memcpy(o, num, nlen);
            o += nlen;
            c += klen;
        } else {
            *o++ = *c++;
        }
    }
    *o = '\0';
    return out;
}

/* FNV-1a over the rows, to compare the ranks' data without sending it. */
static uint64_t digits_hash(const gdx_digits *d)
{
    uint64_t h = UINT64_C(14695981039346656037);
    const unsigned char *bytes[2] = { (const unsigned char *)d->x,
                                      (const unsigned char *)d->label };
    const size_t len[2] = { d->n * GDX_PIXELS * sizeof *d->x, d->n * sizeof *d->label };
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i < len[k]; i++)
            h = (h ^ bytes[k][i]) * UINT64_C(1099511628211);
    return h;
}

static int read_data(run *r)
{
    char *path = r->data_path = rank_path(r->opt.data, r->rank);
    if (!path) {
        fail_msg(r, "out of memory");
        return -1;
    }
    int rc = gdx_digits_read(&r->digits, path);
    if (rc != 0)
        fail_msg(r, "cannot load the digits from %s (see above)", path);
    size_t *perm = rc == 0 ? malloc(r->digits.n * sizeof *perm) : NULL;
    if (rc == 0 && (!perm || gdx_permutation(perm, r->digits.n, data_seed, GDX_STREAM_DATA) != 0 ||
                    gdx_set_take(&r->rows, &r->digits, perm, 0, GDX_CLASSES - 1, 0,
                                 r->digits.n) != 0)) {
        fail_msg(r, "out of memory for %zu rows", r->digits.n);
        rc = -1;
    }
    if (rc == 0 && r->opt.fisher_n > r->rows.n) {
        fail_msg(r, "--fisher-n %zu, but %s has %zu rows", r->opt.fisher_n, path, r->rows.n);
        rc = -1;
    }
    free(perm);
    return rc;
}

/* Every rank must hold rank 0's rows, or the shards are not one data set. */
static int check_same_data(const run *r)
{
    unsigned long long mine[2] = { r->digits.n, digits_hash(&r->digits) }, ref[2];
    memcpy(ref, mine, sizeof ref);
    if (MPI_Bcast(ref, 2, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
        MPI_Abort(MPI_COMM_WORLD, 1);
    const int differs = mine[0] != ref[0] || mine[1] != ref[1];
    if (differs)
        fail_msg(r, "%s holds other rows than rank 0's (%llu rows here, %llu there)",
                 r->data_path, mine[0], ref[0]);
    return differs ? -1 : 0;
}

/* ---- the model ------------------------------------------------------- */

static int pretrain(run *r)
{
    gdx_mlp *m = &r->mlp;
    const size_t n = r->rows.n, b = r->opt.batch;
    float *xb = malloc(b * GDX_PIXELS * sizeof *xb);
    int *yb = malloc(b * sizeof *yb);
    size_t *order = malloc(n * sizeof *order);
    int rc = xb && yb && order ? gdx_mlp_init(m, 0, pretrain_seed) : GD_ENOMEM;
    gdx_site site[GDX_SITES];
    for (size_t k = 0; k < GDX_SITES; k++) {
        const gdx_site s = { GDX_DROP_BERNOULLI, pretrain_p, 0.0f, NULL };
        site[k] = s;
    }
    size_t pos = 0;
    uint64_t epoch = 0;
    float loss = 0.0f;
    for (size_t t = 0; t < r->opt.pretrain_steps && rc == GD_OK; t++) {
        for (size_t i = 0; i < b && rc == GD_OK; i++) {
            if (pos == 0 && gdx_permutation(order, n, pretrain_seed,
                                            GDX_STREAM_DATA | 1 | epoch << 20) != 0) {
                rc = GD_ENOMEM;
                break;
            }
            const size_t row = order[pos];
            memcpy(xb + i * GDX_PIXELS, r->rows.x + row * GDX_PIXELS, GDX_PIXELS * sizeof *xb);
            yb[i] = r->rows.y[row];
            if (++pos == n) {
                pos = 0;
                epoch++;
            }
        }
        if (rc == GD_OK)
            rc = gdx_mlp_train_step(m, xb, yb, b, site, pretrain_seed, t, pretrain_lr, &loss);
    }
    free(xb);
    free(yb);
    free(order);
    if (rc != GD_OK) {
        fail_msg(r, "pretraining: %s (%s)", gd_strerror(rc), gd_error_name(rc));
        return -1;
    }
    printf("rank 0: pretrained on %zu digits, %zu steps of %zu: loss %.4f, accuracy %.2f %%\n", n,
           r->opt.pretrain_steps, b, (double)loss, 100.0 * gdx_mlp_accuracy(m, &r->rows));
    return 0;
}

/* Rank 0's weights to every rank.  The layers are small (at most 128 x 128
 * floats), far below any count limit. */
static void share_weights(run *r)
{
    for (size_t k = 0; k < GDX_LAYERS; k++) {
        gdx_layer *l = &r->mlp.layer[k];
        if (MPI_Bcast(l->w, (int)(l->in * l->out), MPI_FLOAT, 0, MPI_COMM_WORLD) != MPI_SUCCESS ||
            MPI_Bcast(l->b, (int)l->out, MPI_FLOAT, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
            MPI_Abort(MPI_COMM_WORLD, 1);
    }
}

/* ---- Fisher ------------------------------------------------------------ */

/* As gdropout-transfer: layer k's W and b feed the site after its ReLU
 * (site k + 1); the head feeds none, nor does anything feed the input
 * site. */
static int register_tensors(run *r)
{
    int rc = gd_fisher_create(&r->f);
    for (size_t k = 0; k < GDX_LAYERS && rc == GD_OK; k++) {
        const size_t site = k + 1 < GDX_SITES ? k + 1 : GD_NONE;
        char name[32];
        snprintf(name, sizeof name, "fc%zu.weight", k);
        rc = gd_fisher_add_tensor(r->f, name, width[k + 1] * width[k], site, &r->w_id[k]);
        snprintf(name, sizeof name, "fc%zu.bias", k);
        if (rc == GD_OK)
            rc = gd_fisher_add_tensor(r->f, name, width[k + 1], site, &r->b_id[k]);
    }
    return rc;
}

/* This rank's shard: whole batches [b0, b1) of the nb, rows [lo, hi). */
static int fisher_pass(run *r)
{
    const size_t total = r->opt.fisher_n ? r->opt.fisher_n : r->rows.n, b = r->opt.batch;
    const size_t nb = (total + b - 1) / b;
    const size_t b0 = nb * (size_t)r->rank / (size_t)r->size;
    const size_t b1 = nb * ((size_t)r->rank + 1) / (size_t)r->size;
    const size_t lo = b0 * b, hi = b1 * b < total ? b1 * b : total;
    const gdx_set shard = { r->rows.x + lo * GDX_PIXELS, r->rows.y + lo, hi - lo };
    const double t0 = now_seconds();
    int rc = register_tensors(r);
    if (rc == GD_OK)
        rc = gdx_mlp_fisher(&r->mlp, &shard, r->f, r->w_id, r->b_id);
    if (rc != GD_OK) {
        fail_msg(r, "Fisher pass: %s (%s)", gd_strerror(rc), gd_error_name(rc));
        return -1;
    }
    printf("rank %d: batches [%zu, %zu) of %zu, rows [%zu, %zu): %zu examples, %.3f s\n", r->rank,
           b0, b1, nb, lo, hi, hi - lo, now_seconds() - t0);
    fflush(stdout);
    return 0;
}

/* Site scores, and the per-site plan over the scored sites 1..3 (RANK_LINEAR
 * from p down to 0); the input site keeps p.  Saves the plan when path is
 * set. */
static int plan_sites(run *r, const char *path)
{
    gd_plan *plan = NULL;
    int rc = gd_fisher_site_scores(r->f, GD_REDUCE_TENSOR_MEAN, r->score, GDX_SITES);
    if (rc == GD_OK)
        rc = gd_plan_create(&plan, GDX_SITES - 1);
    for (size_t k = 1; k < GDX_SITES && rc == GD_OK; k++)
        rc = gd_plan_set_site(plan, k - 1, site_name[k], r->score[k]);
    if (rc == GD_OK)
        rc = gd_plan_compute(plan, GD_RULE_RANK_LINEAR, r->opt.p, 0.0f);
    if (rc == GD_OK)
        rc = gd_plan_get_all(plan, r->site_p + 1, GDX_SITES - 1);
    r->site_p[0] = r->opt.p;
    if (rc == GD_OK && path)
        rc = gd_plan_save(plan, path);
    gd_plan_destroy(plan);
    if (rc != GD_OK)
        fail_msg(r, "plan%s%s: %s (%s)", path ? " " : "", path ? path : "", gd_strerror(rc),
                 gd_error_name(rc));
    return rc == GD_OK ? 0 : -1;
}

/* With the totals on every rank, every rank's plan must be rank 0's. */
static int check_same_plan(const run *r)
{
    float ref[GDX_SITES];
    memcpy(ref, r->site_p, sizeof ref);
    if (MPI_Bcast(ref, GDX_SITES, MPI_FLOAT, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
        MPI_Abort(MPI_COMM_WORLD, 1);
    const int differs = memcmp(ref, r->site_p, sizeof ref) != 0;
    if (differs)
        fail_msg(r, "the plan from the reduced Fisher differs from rank 0's");
    return differs ? -1 : 0;
}

static int save_and_report(run *r)
{
    int rc = gd_fisher_save(r->f, r->opt.fisher_out);
    if (rc != GD_OK) {
        fail_msg(r, "cannot write %s: %s (%s)", r->opt.fisher_out, gd_strerror(rc),
                 gd_error_name(rc));
        return -1;
    }
    if (plan_sites(r, r->opt.plan_out) != 0)
        return -1;
    /* Every tensor counts every example once: any tensor's weight says how
     * many examples the file is about. */
    float bias[128];
    double w = 0.0;
    if (gd_fisher_read(r->f, r->b_id[0], bias, width[1], &w) != GD_OK)
        w = NAN;
    for (size_t k = 0; k < GDX_SITES; k++)
        printf("  site %zu %-6s score %-12.6g p %.4f%s\n", k, site_name[k], (double)r->score[k],
               (double)r->site_p[k], k ? "" : " (no tensor feeds it: keeps p)");
    printf("wrote %s (%d tensors, %.0f examples) and %s\n", r->opt.fisher_out, 2 * GDX_LAYERS,
           w, r->opt.plan_out);
    return 0;
}

/* ---- main -------------------------------------------------------------- */

static int run_all(run *r)
{
    int failed = read_data(r) != 0;
    if (phase_end(r, failed, "reading the data") != 0)
        return -1;
    if (!r->opt.serial && phase_end(r, check_same_data(r) != 0, "comparing the data") != 0)
        return -1;
    failed = gdx_mlp_create(&r->mlp, width, r->opt.batch) != 0;
    if (failed)
        fail_msg(r, "out of memory for the network");
    if (phase_end(r, failed, "allocating the network") != 0)
        return -1;
    if (phase_end(r, r->rank == 0 && pretrain(r) != 0, "pretraining") != 0)
        return -1;
    if (!r->opt.serial)
        share_weights(r);
    if (phase_end(r, fisher_pass(r) != 0, "the Fisher pass") != 0)
        return -1;
    const double t0 = now_seconds();
    if (!r->opt.serial) {
        if (gdx_fisher_allreduce(r->f, MPI_COMM_WORLD, r->opt.root, r->opt.chunk_bytes) != 0)
            return -1;
        if (r->rank == 0)
            printf("reduced over %d rank%s (%s, messages of at most %zu bytes) in %.3f s\n",
                   r->size, r->size == 1 ? "" : "s",
                   r->opt.root < 0 ? "MPI_Allreduce" : "MPI_Reduce", r->opt.chunk_bytes,
                   now_seconds() - t0);
    }
    const int all_hold = !r->opt.serial && r->opt.root < 0;
    if (all_hold) {
        if (phase_end(r, plan_sites(r, NULL) != 0, "planning") != 0 ||
            phase_end(r, check_same_plan(r) != 0, "comparing the plans") != 0)
            return -1;
    }
    const int saver = r->opt.serial || r->rank == (r->opt.root < 0 ? 0 : r->opt.root);
    return phase_end(r, saver && save_and_report(r) != 0, "saving");
}

static void teardown(run *r)
{
    gd_fisher_destroy(r->f);
    gdx_mlp_free(&r->mlp);
    gdx_set_free(&r->rows);
    gdx_digits_free(&r->digits);
    free(r->data_path);
}

int main(int argc, char **argv)
{
    run r;
    memset(&r, 0, sizeof r);
    r.size = 1;
    const int serial = has_flag(argc, argv, "--serial");
    if (!serial) {
        MPI_Init(&argc, &argv);
        MPI_Comm_rank(MPI_COMM_WORLD, &r.rank);
        MPI_Comm_size(MPI_COMM_WORLD, &r.size);
    }
    /* Every rank parses the same argv; only rank 0 speaks. */
    const int parsed = parse_options(&r.opt, argc, argv, r.rank == 0);
    int status = parsed == 0 ? 0 : parsed > 0 ? 0 : EXIT_USAGE;
    if (parsed == 0 && r.opt.root >= r.size) {
        if (r.rank == 0)
            fprintf(stderr, "%s: --root %d, but the job has %d ranks\n", prog, r.opt.root, r.size);
        status = EXIT_USAGE;
    }
    if (parsed == 0 && status == 0) {
        /* Small matrices: OpenBLAS threads cost more than they give, and
         * one thread keeps each sgemm's sums in a fixed order. */
        if (!getenv("OPENBLAS_NUM_THREADS"))
            openblas_set_num_threads(1);
        const double t0 = now_seconds();
        if (r.rank == 0)
            printf("libgdropout %s (%s kernels); %s over %d %s\n", gd_version_string(),
                   gd_dispatch_name(), serial ? "one process" : "MPI", r.size,
                   r.size == 1 ? "rank" : "ranks");
        status = run_all(&r) == 0 ? 0 : 1;
        if (status == 0 && r.rank == 0)
            printf("total %.1f s\n", now_seconds() - t0);
    }
    teardown(&r);
    if (!serial)
        MPI_Finalize();
    return status;
}

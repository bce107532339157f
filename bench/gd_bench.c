/*
 * gd_bench: speed of the dropout kernels as ratios to plain loops over the
 * same buffers, measured in the same run, so the figures carry over between
 * machines better than times: --reps rounds, each timing every op of a row
 * once, a time the median over the rounds and a ratio the median of the
 * rounds' own ratios (bench/timing.h).
 *
 *   gd_bench [--quick] [--n N] [--small N] [--reps R] [--tsv FILE] [--only SECTION]
 *
 * --n is the large (memory-bound) size, --small the in-cache one; --tsv
 * writes "name<TAB>n<TAB>ms" lines that bench/torch_bench.py compares with
 * PyTorch; --only runs one section (large, small, threads, family, fisher).
 * Prints the host (kernel family, OpenBLAS core, memory bandwidth of the
 * scale loop) and markdown tables of ratios; the goals are data
 * (bench/goals.tsv), checked against this output by bench/goals.py.
 * One-thread rows are timed in the thread's CPU time, the two-thread rows
 * in wall time, which is what a split buys.
 */
#define _POSIX_C_SOURCE 200809L
#include "kernels.h"
#include "timing.h"

#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void bench_scale(float *restrict y, const float *restrict x, size_t n, float a);
void bench_add3(float *restrict y, const float *restrict r, const float *restrict x,
                const float *restrict b, size_t rows, size_t cols);

/* Everything an op may touch; ops read what they need. */
typedef struct ctx {
    float *x, *y, *r, *b, *pc;
    uint8_t *m;
    size_t n, rows, cols;
    const gd_kernels *fam;
} ctx;

typedef void (*op_fn)(const ctx *);

static ctx make_ctx(size_t n, size_t cols);
enum { MAX_COLS = 16384 }; /* the widest per-unit schedule timed */
static void free_ctx(ctx *c);
static void *xalloc(size_t bytes);

static const gd_stream STREAM = {UINT64_C(0x5eed), UINT64_C(3) << 16 | 7, 0};
static const float P = 0.1f;
enum { SITES = 12 }; /* per-layer schedule: a BERT-like stack of 12 sites */

static void ok(int rc)
{
    if (rc != GD_OK) {
        fprintf(stderr, "gd_bench: %s\n", gd_strerror(rc));
        exit(1);
    }
}

static void op_scale(const ctx *c) { bench_scale(c->y, c->x, c->n, 1.1111112f); }
static void op_fwd_mask(const ctx *c) { ok(gd_dropout_fwd(c->y, c->x, c->n, P, &STREAM, c->m)); }
static void op_fwd(const ctx *c) { ok(gd_dropout_fwd(c->y, c->x, c->n, P, &STREAM, NULL)); }
static void op_bwd_regen(const ctx *c) { ok(gd_dropout_bwd(c->y, c->x, c->n, P, &STREAM, NULL)); }
static void op_bwd_mask(const ctx *c) { ok(gd_dropout_bwd(c->y, c->x, c->n, P, NULL, c->m)); }

static void op_fwd_cols(const ctx *c)
{
    ok(gd_dropout_fwd_cols(c->y, c->x, c->rows, c->cols, c->pc, &STREAM, c->m));
}

static void op_add_fwd(const ctx *c)
{
    ok(gd_dropout_add_fwd(c->y, c->x, c->b, c->r, c->rows, c->cols, P, &STREAM, c->m));
}

static void op_add3(const ctx *c) { bench_add3(c->y, c->r, c->x, c->b, c->rows, c->cols); }

static void op_gauss(const ctx *c)
{
    ok(gd_gaussian_dropout_fwd(c->y, c->x, c->n, 0.33333334f, &STREAM));
}

static void op_gauss_bwd(const ctx *c)
{
    ok(gd_gaussian_dropout_bwd(c->y, c->x, c->n, 0.33333334f, &STREAM));
}

/* The same tensor as SITES layers, each its own stream, at the paper's
 * rank-linear rates (p_max 0.1 down to p_min 0) or all at 0.1. */
static void layers(const ctx *c, bool guided)
{
    const size_t per = c->n / SITES / 8 * 8; /* whole mask bytes per layer */
    for (size_t l = 0; l < SITES; l++) {
        const float p = guided ? 0.1f - 0.1f * (float)l / (SITES - 1) : P;
        const gd_stream s = {STREAM.seed, STREAM.stream + l, 0};
        ok(gd_dropout_fwd(c->y + l * per, c->x + l * per, per, p, &s, c->m + l * per / 8));
    }
}
static void op_layers_guided(const ctx *c) { layers(c, true); }
static void op_layers_uniform(const ctx *c) { layers(c, false); }

/* The generator alone: the Philox words of n elements, GEN_CHUNK at a time
 * into one buffer that stays in L1, through the family's `words` op (which
 * fills its own batch buffer and copies it out: a little more than the bare
 * generator).  A call through a function pointer into another translation
 * unit: the compiler cannot drop it.  Every random kernel needs at least
 * this, so a kernel's floor is max(scale loop, generator), not the scale
 * loop alone. */
enum { GEN_CHUNK = 1024 };

static void op_generator(const ctx *c)
{
    static _Alignas(64) uint32_t sink[GEN_CHUNK];
    const gd_kernels *fam = c->fam ? c->fam : gd_kernels_get();
    const gd_keyctx k = gd_keyctx_from(&STREAM);
    for (size_t j = 0; j < c->n; j += GEN_CHUNK)
        fam->words(sink, c->n - j < GEN_CHUNK ? c->n - j : GEN_CHUNK, j, &k);
}

/* The Gaussian kernels' generator: the normals of n elements (Philox words
 * and the normal transform), GEN_CHUNK at a time into an L1 buffer, through
 * the family's `normal` op; their floor is max(scale loop, this). */
static void op_normals(const ctx *c)
{
    static _Alignas(64) float sink[GEN_CHUNK];
    const gd_kernels *fam = c->fam ? c->fam : gd_kernels_get();
    const gd_keyctx k = gd_keyctx_from(&STREAM);
    for (size_t j = 0; j < c->n; j += GEN_CHUNK)
        fam->normal(sink, c->n - j < GEN_CHUNK ? c->n - j : GEN_CHUNK, j, &k);
}

static void op_family_fwd(const ctx *c)
{
    const gd_keyctx k = gd_keyctx_from(&STREAM);
    c->fam->fwd(c->y, c->x, c->m, c->n, 0, gd_threshold(P), gd_keep_scale(P), &k);
}

/* ---- timing (bench/timing.h) ---------------------------------------------- */

/* A row's ops and the buffers each runs on, for bench_measure. */
typedef struct row_ops {
    const op_fn *op;
    const ctx *const *c;
} row_ops;

static void call_op(int i, const void *env)
{
    const row_ops *o = env;
    o->op[i](o->c[i]);
}

/* Median seconds per call of each of k ops, timed in rounds; the rounds'
 * samples stay for bench_paired. */
static void measure_k(int k, const op_fn op[], const ctx *const c[], int reps, double t[])
{
    const row_ops o = {op, c};
    bench_measure(k, call_op, &o, reps, t);
}

static void measure(op_fn a, const ctx *ca, op_fn b, const ctx *cb, int reps, double *ta,
                    double *tb)
{
    const op_fn op[2] = {a, b};
    const ctx *const c[2] = {ca, cb};
    double t[2];
    measure_k(2, op, c, reps, t);
    *ta = t[0];
    *tb = t[1];
}

/* ---- report --------------------------------------------------------------- */

static FILE *tsv;
static int reps = 11;
static bool bits_differ; /* the two-thread split gave other bits: the run fails */

/* One table row: op against its baseline and, when gen is not NULL, against
 * its generator alone too (Philox words, or normals for the Gaussian
 * kernels), all three interleaved in the same samples. */
static void row_k(const char *what, const char *tag, op_fn op, const ctx *c,
                  const char *base_name, op_fn base, const ctx *cb, op_fn gen)
{
    const op_fn ops[BENCH_MAX_OPS] = {op, base, gen};
    const ctx *const cs[BENCH_MAX_OPS] = {c, cb, c};
    double t[BENCH_MAX_OPS];
    measure_k(gen ? 3 : 2, ops, cs, reps, t);
    const double ratio = bench_paired(0, 1, 1);
    char gen_s[32] = "", floor_s[32] = "";
    if (gen) {
        snprintf(gen_s, sizeof gen_s, "%.3f", t[2] * 1e3);
        snprintf(floor_s, sizeof floor_s, "%.2f", bench_paired(0, 1, 2));
    }
    printf("| %s | %zu | %.3f | %s | %.3f | %s | %.2f | %s |\n", what, c->n, t[0] * 1e3,
           base_name, t[1] * 1e3, gen_s, ratio, floor_s);
    fflush(stdout);
    if (tsv && tag)
        fprintf(tsv, "%s\t%zu\t%.6f\n", tag, c->n, t[0] * 1e3);
}

static void row(const char *what, const char *tag, op_fn op, const ctx *c, const char *base_name,
                op_fn base, const ctx *cb)
{
    row_k(what, tag, op, c, base_name, base, cb, NULL);
}

/* A Bernoulli kernel: also against the Philox words alone. */
static void row_gen(const char *what, const char *tag, op_fn op, const ctx *c,
                    const char *base_name, op_fn base)
{
    row_k(what, tag, op, c, base_name, base, c, op_generator);
}

/* A Gaussian kernel: also against the normals alone. */
static void row_normals(const char *what, const char *tag, op_fn op, const ctx *c,
                        const char *base_name, op_fn base)
{
    row_k(what, tag, op, c, base_name, base, c, op_normals);
}

/* Table titles start with the section name bench/goals.tsv uses. */
static void table_head(const char *title)
{
    printf("\n### %s\n\n", title);
    printf("| op | n | ms | baseline | baseline ms | generator ms | ratio | ratio to floor |\n");
    printf("|---|---:|---:|---|---:|---:|---:|---:|\n");
}

/* ---- threads: split by offset ---------------------------------------------- */

typedef struct part {
    const ctx *c;
    size_t begin, end;
} part;

static void *run_part(void *arg)
{
    const part *p = arg;
    const gd_stream s = {STREAM.seed, STREAM.stream, STREAM.offset + p->begin};
    ok(gd_dropout_fwd(p->c->y + p->begin, p->c->x + p->begin, p->end - p->begin, P, &s,
                      p->c->m + p->begin / 8));
    return NULL;
}

/* Two threads, the split point a multiple of 8 so each owns whole mask
 * bytes. */
static void op_two_threads(const ctx *c)
{
    const size_t mid = c->n / 2 / 8 * 8;
    part parts[2] = {{c, 0, mid}, {c, mid, c->n}};
    pthread_t t;
    if (pthread_create(&t, NULL, run_part, &parts[1]) != 0) {
        fprintf(stderr, "gd_bench: pthread_create failed\n");
        exit(1);
    }
    run_part(&parts[0]);
    pthread_join(t, NULL);
}

static void threads_check(const ctx *c1, const ctx *c2)
{
    op_fwd_mask(c1);
    op_two_threads(c2);
    const bool same = memcmp(c1->y, c2->y, c1->n * sizeof(float)) == 0 &&
                      memcmp(c1->m, c2->m, gd_mask_bytes(c1->n)) == 0;
    double t1, t2;
    bench_clock = CLOCK_MONOTONIC;
    measure(op_fwd_mask, c1, op_two_threads, c2, reps, &t1, &t2);
    bench_clock = CLOCK_THREAD_CPUTIME_ID;
    printf("\n### Threads: one tensor split by offset\n\n");
    printf("gd_dropout_fwd with mask, n = %zu: two threads (offsets 0 and %zu) give %s output "
           "and mask as one call; wall time one thread %.3f ms, two threads %.3f ms, "
           "speed-up %.2fx.\n",
           c1->n, c1->n / 2 / 8 * 8, same ? "bitwise the same" : "**DIFFERENT**", t1 * 1e3,
           t2 * 1e3, bench_paired(0, 1, 1));
    if (!same)
        bits_differ = true;
}

/* In cache, where the kernel is compute-bound: each thread owns a buffer of
 * n/2 floats and calls gd_dropout_fwd on it `calls` times; one thread does
 * both halves.  Threads are started once per sample, not per call. */
typedef struct loop_arg {
    const ctx *c;
    size_t begin, end;
    int calls;
} loop_arg;

static void *run_loop(void *arg)
{
    const loop_arg *a = arg;
    for (int i = 0; i < a->calls; i++) {
        const gd_stream s = {STREAM.seed, STREAM.stream + (uint64_t)i, a->begin};
        ok(gd_dropout_fwd(a->c->y + a->begin, a->c->x + a->begin, a->end - a->begin, P, &s,
                          a->c->m + a->begin / 8));
    }
    return NULL;
}

enum { LOOP_CALLS = 64 };

static void op_loop_one(const ctx *c)
{
    const size_t mid = c->n / 2 / 8 * 8;
    loop_arg a = {c, 0, mid, LOOP_CALLS}, b = {c, mid, c->n, LOOP_CALLS};
    run_loop(&a);
    run_loop(&b);
}

static void op_loop_two(const ctx *c)
{
    const size_t mid = c->n / 2 / 8 * 8;
    loop_arg a = {c, 0, mid, LOOP_CALLS}, b = {c, mid, c->n, LOOP_CALLS};
    pthread_t t;
    if (pthread_create(&t, NULL, run_loop, &b) != 0) {
        fprintf(stderr, "gd_bench: pthread_create failed\n");
        exit(1);
    }
    run_loop(&a);
    pthread_join(t, NULL);
}

static void threads_in_cache(const size_t *sizes, int count)
{
    printf("\n### Threads in cache: two halves, %d calls each, wall time\n\n", LOOP_CALLS);
    printf("| n | one thread ms | two threads ms | speed-up |\n|---:|---:|---:|---:|\n");
    bench_clock = CLOCK_MONOTONIC;
    for (int i = 0; i < count; i++) {
        ctx c = make_ctx(sizes[i], 1024);
        double t1, t2;
        measure(op_loop_one, &c, op_loop_two, &c, reps, &t1, &t2);
        printf("| %zu | %.3f | %.3f | %.2fx |\n", c.n, t1 * 1e3, t2 * 1e3, bench_paired(0, 1, 1));
        free_ctx(&c);
    }
    bench_clock = CLOCK_THREAD_CPUTIME_ID;
}

/* ---- Fisher: dense layers against their sgemms ------------------------------ */

typedef struct fisher_ctx {
    gd_fisher *f;
    size_t w, b, batch, seq, in, out;
    float *x, *dy, *g;
} fisher_ctx;

static fisher_ctx *fisher_arg; /* op_fn takes a ctx; the Fisher ops read this */

static void op_fisher_dense(const ctx *c)
{
    (void)c;
    const fisher_ctx *f = fisher_arg;
    ok(gd_fisher_accumulate_dense(f->f, f->w, f->b, f->x, f->dy, f->batch, f->in, f->out));
}

static void op_fisher_dense_nobias(const ctx *c)
{
    (void)c;
    const fisher_ctx *f = fisher_arg;
    ok(gd_fisher_accumulate_dense(f->f, f->w, GD_NONE, f->x, f->dy, f->batch, f->in, f->out));
}

static void op_fisher_seq(const ctx *c)
{
    (void)c;
    const fisher_ctx *f = fisher_arg;
    ok(gd_fisher_accumulate_dense_seq(f->f, f->w, f->b, f->x, f->dy, f->batch, f->seq, f->in,
                                      f->out));
}

static void op_fisher_seq_nobias(const ctx *c)
{
    (void)c;
    const fisher_ctx *f = fisher_arg;
    ok(gd_fisher_accumulate_dense_seq(f->f, f->w, GD_NONE, f->x, f->dy, f->batch, f->seq, f->in,
                                      f->out));
}

/* g[out x in] = dy^T x over k rows: the weight gradient's GEMM, the same
 * shape as the Fisher's GEMM on squares. */
static void sgemm_at_b(const fisher_ctx *f, const float *dy, const float *x, size_t k)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)f->out, (blasint)f->in,
                (blasint)k, 1.0f, dy, (blasint)f->out, x, (blasint)f->in, 0.0f, f->g,
                (blasint)f->in);
}

static void op_sgemm(const ctx *c)
{
    (void)c;
    sgemm_at_b(fisher_arg, fisher_arg->dy, fisher_arg->x, fisher_arg->batch);
}

/* The per-sequence path's floor: one sgemm per example, over its positions. */
static void op_sgemm_seq(const ctx *c)
{
    (void)c;
    const fisher_ctx *f = fisher_arg;
    for (size_t b = 0; b < f->batch; b++)
        sgemm_at_b(f, f->dy + b * f->seq * f->out, f->x + b * f->seq * f->in, f->seq);
}

static fisher_ctx fisher_make(size_t batch, size_t seq, size_t in, size_t out)
{
    fisher_ctx f = {NULL, 0, 0, batch, seq, in, out, NULL, NULL, NULL};
    ok(gd_fisher_create(&f.f));
    ok(gd_fisher_add_tensor(f.f, "w", out * in, 0, &f.w));
    ok(gd_fisher_add_tensor(f.f, "b", out, 0, &f.b));
    const size_t rows = batch * seq;
    f.x = xalloc(rows * in * sizeof(float));
    f.dy = xalloc(rows * out * sizeof(float));
    f.g = xalloc(out * in * sizeof(float));
    uint32_t st = 99;
    for (size_t j = 0; j < rows * in; j++, st = st * 1664525u + 1013904223u)
        f.x[j] = (float)(st >> 8) * 0x1p-24f - 0.5f;
    for (size_t j = 0; j < rows * out; j++, st = st * 1664525u + 1013904223u)
        f.dy[j] = ((float)(st >> 8) * 0x1p-24f - 0.5f) * 0.01f;
    return f;
}

static void fisher_free(fisher_ctx *f)
{
    gd_fisher_destroy(f->f);
    free(f->x);
    free(f->dy);
    free(f->g);
}

/* One row: the path with and without its bias against its sgemm floor, all
 * three interleaved. */
static void fisher_row(fisher_ctx *f, op_fn with_bias, op_fn no_bias, op_fn floor)
{
    fisher_arg = f;
    const op_fn ops[BENCH_MAX_OPS] = {with_bias, no_bias, floor};
    const ctx *const cs[BENCH_MAX_OPS] = {NULL, NULL, NULL};
    double t[BENCH_MAX_OPS];
    measure_k(3, ops, cs, reps, t);
    char what[96];
    if (f->seq > 1)
        snprintf(what, sizeof what, "batch %zu, seq %zu, in %zu, out %zu", f->batch, f->seq,
                 f->in, f->out);
    else
        snprintf(what, sizeof what, "batch %zu, in %zu, out %zu", f->batch, f->in, f->out);
    printf("| %s | %.3f | %.3f | %.3f | %.2f |\n", what, t[0] * 1e3, t[1] * 1e3, t[2] * 1e3,
           bench_paired(0, 2, 2));
    fflush(stdout);
}

static void fisher_tables(bool quick)
{
    static const size_t shapes[][3] = {{64, 256, 256},   {64, 1024, 1024}, {64, 256, 1024},
                                       {512, 256, 256},  {512, 1024, 1024}, {512, 1024, 256}};
    /* per sequence: the example encoder's layers (hidden 128, FFN 512, up
     * to 64 positions, one sequence a call) and BERT-base's (768, 3072) */
    static const size_t seq_shapes[][4] = {{1, 64, 128, 128}, {1, 64, 128, 512},
                                           {1, 64, 512, 128}, {1, 16, 128, 512},
                                           {1, 128, 768, 768}, {4, 128, 768, 3072}};
    const int count = quick ? 2 : (int)(sizeof shapes / sizeof shapes[0]);
    const int seq_count = quick ? 2 : (int)(sizeof seq_shapes / sizeof seq_shapes[0]);
    openblas_set_num_threads(1);
    printf("\n### fisher: gd_fisher_accumulate_dense against one sgemm of the same shape "
           "(OpenBLAS, 1 thread)\n\n");
    printf("| op | dense ms | dense, no bias ms | sgemm ms | ratio |\n");
    printf("|---|---:|---:|---:|---:|\n");
    for (int i = 0; i < count; i++) {
        fisher_ctx f = fisher_make(shapes[i][0], 1, shapes[i][1], shapes[i][2]);
        fisher_row(&f, op_fisher_dense, op_fisher_dense_nobias, op_sgemm);
        fisher_free(&f);
    }
    printf("\n### fisher-seq: gd_fisher_accumulate_dense_seq against its sgemms, one per "
           "example (OpenBLAS, 1 thread)\n\n");
    printf("| op | dense ms | dense, no bias ms | sgemm ms | ratio |\n");
    printf("|---|---:|---:|---:|---:|\n");
    for (int i = 0; i < seq_count; i++) {
        fisher_ctx f = fisher_make(seq_shapes[i][0], seq_shapes[i][1], seq_shapes[i][2],
                                   seq_shapes[i][3]);
        fisher_row(&f, op_fisher_seq, op_fisher_seq_nobias, op_sgemm_seq);
        fisher_free(&f);
    }
}

/* ---- main ------------------------------------------------------------------ */

static void *xalloc(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "gd_bench: out of memory\n");
        exit(1);
    }
    memset(p, 0, bytes); /* touch every page before timing */
    return p;
}

static ctx make_ctx(size_t n, size_t cols)
{
    ctx c = {0};
    c.n = n;
    c.cols = cols;
    c.rows = n / cols;
    c.x = xalloc(n * sizeof(float));
    c.y = xalloc(n * sizeof(float));
    c.r = xalloc(n * sizeof(float));
    const size_t tab = cols > MAX_COLS ? cols : MAX_COLS; /* cols_rows widens c */
    c.b = xalloc(tab * sizeof(float));
    c.pc = xalloc(tab * sizeof(float));
    c.m = xalloc(gd_mask_bytes(n));
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        c.x[i] = (float)(s >> 8) * 0x1p-23f - 1.0f;
        c.r[i] = 0.5f * c.x[i];
    }
    for (size_t j = 0; j < tab; j++) {
        c.b[j] = 0.01f * (float)j;
        c.pc[j] = 0.2f * (float)(j % 97) / 96.0f; /* a per-unit schedule in [0, 0.2] */
    }
    return c;
}

static void free_ctx(ctx *c)
{
    free(c->x);
    free(c->y);
    free(c->r);
    free(c->b);
    free(c->pc);
    free(c->m);
}

static size_t arg_size(const char *s)
{
    char *end;
    const unsigned long long v = strtoull(s, &end, 10);
    if (*end || v < 1024) {
        fprintf(stderr, "gd_bench: sizes are integers >= 1024\n");
        exit(2);
    }
    return (size_t)v;
}

/* The per-unit widths timed: 64 to 16384 columns, the BERT widths among
 * them (768, 3072), through one tensor (x, y and the mask are shared; the
 * column schedule is the first cols entries of a 16384-entry one). */
static const size_t COL_WIDTHS[] = {64, 128, 256, 512, 768, 1024, 2048, 3072, 4096, 8192, 16384};

static void cols_rows(const ctx *c, bool quick)
{
    for (size_t i = 0; i < sizeof COL_WIDTHS / sizeof COL_WIDTHS[0]; i++) {
        const size_t cols = COL_WIDTHS[i];
        if (quick && cols != 768 && cols != 4096 && cols != 16384)
            continue;
        ctx w = *c; /* whole rows, the op and its baseline on the same n */
        w.cols = cols;
        w.rows = c->n / cols;
        w.n = w.rows * cols;
        char what[64];
        snprintf(what, sizeof what, "gd_dropout_fwd_cols %zu cols + mask", cols);
        row(what, cols == 1024 ? "fwd_cols" : NULL, op_fwd_cols, &w, "gd_dropout_fwd + mask",
            op_fwd_mask, &w);
    }
}

static void large_tables(size_t n, bool quick)
{
    ctx c = make_ctx(n, 1024);
    table_head("large: memory-bound, n large");
    row("generator: Philox words of n elements", NULL, op_generator, &c, "scale loop", op_scale,
        &c);
    row("generator: normals of n elements", NULL, op_normals, &c, "scale loop", op_scale, &c);
    row_gen("gd_dropout_fwd p=0.1 + mask", "fwd_mask", op_fwd_mask, &c, "scale loop", op_scale);
    row_gen("gd_dropout_fwd p=0.1, no mask", "fwd", op_fwd, &c, "scale loop", op_scale);
    row_gen("gd_dropout_bwd regenerated", "bwd_regen", op_bwd_regen, &c, "scale loop", op_scale);
    row("gd_dropout_bwd stored mask", "bwd_mask", op_bwd_mask, &c, "scale loop", op_scale, &c);
    cols_rows(&c, quick);
    row("12 layers, guided p (0.1..0)", NULL, op_layers_guided, &c, "12 layers, p = 0.1",
        op_layers_uniform, &c);
    row_gen("gd_dropout_add_fwd bias+residual+mask", "add_fwd", op_add_fwd, &c, "r + x + b loop",
            op_add3);
    row_normals("gd_gaussian_dropout_fwd", "gauss_fwd", op_gauss, &c, "scale loop", op_scale);
    row_normals("gd_gaussian_dropout_bwd", "gauss_bwd", op_gauss_bwd, &c, "scale loop", op_scale);
    row("scale loop", "scale", op_scale, &c, "scale loop", op_scale, &c);
    ctx c2 = c;
    c2.y = xalloc(n * sizeof(float));
    c2.m = xalloc(gd_mask_bytes(n));
    threads_check(&c, &c2);
    free(c2.y);
    free(c2.m);
    free_ctx(&c);
}

static void small_tables(size_t n)
{
    ctx c = make_ctx(n, 1024);
    table_head("small: in cache, n small");
    row("generator: Philox words of n elements", NULL, op_generator, &c, "scale loop", op_scale,
        &c);
    row("generator: normals of n elements", NULL, op_normals, &c, "scale loop", op_scale, &c);
    row_gen("gd_dropout_fwd p=0.1 + mask", "fwd_mask", op_fwd_mask, &c, "scale loop", op_scale);
    row_gen("gd_dropout_bwd regenerated", "bwd_regen", op_bwd_regen, &c, "scale loop", op_scale);
    row("gd_dropout_bwd stored mask", "bwd_mask", op_bwd_mask, &c, "scale loop", op_scale, &c);
    row("gd_dropout_fwd_cols 1024 cols + mask", "fwd_cols", op_fwd_cols, &c,
        "gd_dropout_fwd + mask", op_fwd_mask, &c);
    row_gen("gd_dropout_add_fwd bias+residual+mask", "add_fwd", op_add_fwd, &c, "r + x + b loop",
            op_add3);
    row_normals("gd_gaussian_dropout_fwd", "gauss_fwd", op_gauss, &c, "scale loop", op_scale);
    row("scale loop", "scale", op_scale, &c, "scale loop", op_scale, &c);
    free_ctx(&c);
}

/* gd_dropout_fwd + mask through each family's table directly. */
static void family_table(size_t big, size_t small)
{
    table_head("family: gd_dropout_fwd p=0.1 + mask by kernel family");
    const size_t sizes[2] = {small, big};
    for (int s = 0; s < 2; s++) {
        ctx c = make_ctx(sizes[s], 1024);
        for (int l = GD_LEVEL_SCALAR; l <= GD_LEVEL_AVX512; l++) {
            c.fam = gd_kernels_level(l);
            if (!c.fam)
                continue;
            char what[64];
            snprintf(what, sizeof what, "fwd + mask, %s", c.fam->name);
            row_gen(what, NULL, op_family_fwd, &c, "scale loop", op_scale);
        }
        free_ctx(&c);
    }
}

/* What a reader needs to tell a slow host from a slow kernel: the kernel
 * family, the OpenBLAS core the Fisher rows ran on, and the memory
 * bandwidth of the scale loop over 16M floats (8 bytes an element: x read, y
 * written; the write-allocate read of y is not counted). */
static void host_lines(void)
{
    const size_t n = (size_t)16 << 20; /* 128 MB moved: past any cache, --quick too */
    printf("host: kernel family `%s`; OpenBLAS core `%s` (%s)\n", gd_dispatch_name(),
           openblas_get_corename(), openblas_get_config());
    ctx c = make_ctx(n, 1024);
    const op_fn ops[1] = {op_scale};
    const ctx *const cs[1] = {&c};
    double t;
    measure_k(1, ops, cs, reps, &t);
    printf("memory: scale loop y = a * x over %zu floats: %.3f ms, %.1f GB/s\n", n, t * 1e3,
           8.0 * (double)n / t * 1e-9);
    free_ctx(&c);
}

int main(int argc, char **argv)
{
    size_t n = (size_t)16 << 20, small = (size_t)64 << 10;
    const char *tsv_path = NULL, *only = NULL;
    bool quick = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            n = (size_t)1 << 20;
            reps = 5;
            quick = true;
        } else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
            n = arg_size(argv[++i]);
        } else if (strcmp(argv[i], "--small") == 0 && i + 1 < argc) {
            small = arg_size(argv[++i]);
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--tsv") == 0 && i + 1 < argc) {
            tsv_path = argv[++i];
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else {
            fprintf(stderr, "usage: gd_bench [--quick] [--n N] [--small N] [--reps R] "
                            "[--tsv FILE] [--only SECTION]\n");
            return 2;
        }
    }
    if (reps < 5 || reps > BENCH_MAX_REPS) {
        fprintf(stderr, "gd_bench: --reps between 5 and %d\n", BENCH_MAX_REPS);
        return 2;
    }
    if (tsv_path && !(tsv = fopen(tsv_path, "w"))) {
        perror(tsv_path);
        return 1;
    }
    printf("## gd_bench: kernel family `%s`, one thread, median of %d samples\n\n",
           gd_dispatch_name(), reps);
    host_lines();
    printf("\nratio = op time / baseline time over the same buffers; generator = what the "
           "op must generate alone (Philox words, or normals for the Gaussian kernels; "
           "same family), timed in the same rounds; ratio to floor = op time / "
           "max(baseline, generator).  Times are medians over the rounds, ratios the "
           "medians of each round's ratio.  Goals: bench/goals.tsv.\n");
    if (!only || strcmp(only, "large") == 0)
        large_tables(n, quick);
    if (!only || strcmp(only, "small") == 0)
        small_tables(small);
    if (!only || strcmp(only, "threads") == 0) {
        const size_t in_cache[3] = {small, (size_t)256 << 10, (size_t)1 << 20};
        threads_in_cache(in_cache, quick ? 1 : 3);
    }
    if (!only || strcmp(only, "family") == 0)
        family_table(n, small);
    if (!only || strcmp(only, "fisher") == 0)
        fisher_tables(quick);
    if (tsv)
        fclose(tsv);
    return bits_differ ? 1 : 0;
}

/*
 * gd_bench_half: speed of the 1.2 kernels (<gdropout/mixed.h>) as ratios
 * to plain loops over the same buffers, measured in the same run
 * (--reps rounds, paired ratios, thread CPU time: bench/timing.h), as
 * gd_bench does for the float kernels (bench/README.md says why these
 * baselines).
 *
 *   gd_bench_half [--n N] [--small N] [--reps R]
 *
 * For bf16 and fp16, every kernel against its own half-precision loop
 * (bench/baselines_half.c: widen, scale or add, round: the same memory and
 * conversions without the generator) and against its generator alone (the
 * Philox words of n elements under the 32-bit rule, of n/2 under the
 * 16-bit rule, the normals for Gaussian dropout), giving the ratio to the
 * floor max(baseline, generator); the per-column forward twice, on rows
 * of 768 and of 3072 columns (the wide rows' tiles: BERT-base's FFN).
 * Then the 16-bit rule's float forward
 * against the 32-bit rule's (gd_dropout_fwd), interleaved.
 */
#define _POSIX_C_SOURCE 200809L
#include "half.h"
#include "timing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void bench_scale(float *restrict y, const float *restrict x, size_t n, float a);
void bench_scale_bf16(uint16_t *restrict y, const uint16_t *restrict x, size_t n, float a);
void bench_scale_f16(uint16_t *restrict y, const uint16_t *restrict x, size_t n, float a);
void bench_add3_bf16(uint16_t *restrict y, const uint16_t *restrict r, const uint16_t *restrict x,
                     const uint16_t *restrict b, size_t rows, size_t cols);
void bench_add3_f16(uint16_t *restrict y, const uint16_t *restrict r, const uint16_t *restrict x,
                    const uint16_t *restrict b, size_t rows, size_t cols);

typedef struct ctx {
    int dt;
    uint16_t *x, *y, *r, *b;
    float *xf, *yf, *pc, *pcw, *db;
    uint8_t *m;
    size_t n, rows, cols;
} ctx;

typedef void (*op_fn)(const ctx *);

static const gd_stream STREAM = {UINT64_C(0x5eed), UINT64_C(3) << 16 | 7, 0};
static const float P = 0.1f;
enum { COLS = 768, WIDE = 3072 }; /* BERT-base's hidden and FFN widths */

static void ok(int rc)
{
    if (rc != GD_OK) {
        fprintf(stderr, "gd_bench_half: %s\n", gd_strerror(rc));
        exit(1);
    }
}

static void *xalloc(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "gd_bench_half: out of memory\n");
        exit(1);
    }
    memset(p, 0, bytes);
    return p;
}

/* ---- the ops ------------------------------------------------------------------ */

static void op_scale(const ctx *c)
{
    if (c->dt == GD_BF16)
        bench_scale_bf16(c->y, c->x, c->n, 1.1111112f);
    else
        bench_scale_f16(c->y, c->x, c->n, 1.1111112f);
}
static void op_add3(const ctx *c)
{
    if (c->dt == GD_BF16)
        bench_add3_bf16(c->y, c->r, c->x, c->b, c->rows, c->cols);
    else
        bench_add3_f16(c->y, c->r, c->x, c->b, c->rows, c->cols);
}
static void op_fwd_mask32(const ctx *c)
{
    ok(gd_dropout_fwd_ex(c->dt, GD_MASK_32, c->y, c->x, c->n, P, &STREAM, c->m));
}
static void op_fwd32(const ctx *c)
{
    ok(gd_dropout_fwd_ex(c->dt, GD_MASK_32, c->y, c->x, c->n, P, &STREAM, NULL));
}
static void op_bwd_mask32(const ctx *c)
{
    ok(gd_dropout_bwd_ex(c->dt, GD_MASK_32, c->y, c->x, c->n, P, NULL, c->m));
}
static void op_bwd_regen32(const ctx *c)
{
    ok(gd_dropout_bwd_ex(c->dt, GD_MASK_32, c->y, c->x, c->n, P, &STREAM, NULL));
}
static void op_cols32(const ctx *c)
{
    ok(gd_dropout_fwd_cols_ex(c->dt, GD_MASK_32, c->y, c->x, c->rows, c->cols, c->pc, &STREAM,
                              c->m));
}
/* the same elements as rows of WIDE columns (the tiles of the wide path) */
static void op_cols32_wide(const ctx *c)
{
    ok(gd_dropout_fwd_cols_ex(c->dt, GD_MASK_32, c->y, c->x, c->n / WIDE, WIDE, c->pcw, &STREAM,
                              c->m));
}
static void op_cols16_wide(const ctx *c)
{
    ok(gd_dropout_fwd_cols_ex(c->dt, GD_MASK_16, c->y, c->x, c->n / WIDE, WIDE, c->pcw, &STREAM,
                              c->m));
}
static void op_add_fwd32(const ctx *c)
{
    ok(gd_dropout_add_fwd_ex(c->dt, GD_MASK_32, c->y, c->x, c->b, c->r, c->rows, c->cols, P,
                             &STREAM, c->m));
}
static void op_add_bwd32(const ctx *c)
{
    ok(gd_dropout_add_bwd_ex(c->dt, GD_MASK_32, c->y, c->db, c->x, c->rows, c->cols, P, NULL,
                             c->m));
}
static void op_gauss(const ctx *c)
{
    ok(gd_gaussian_dropout_fwd_ex(c->dt, c->y, c->x, c->n, 0.33333334f, &STREAM));
}
static void op_fwd_mask16(const ctx *c)
{
    ok(gd_dropout_fwd_ex(c->dt, GD_MASK_16, c->y, c->x, c->n, P, &STREAM, c->m));
}
static void op_bwd_regen16(const ctx *c)
{
    ok(gd_dropout_bwd_ex(c->dt, GD_MASK_16, c->y, c->x, c->n, P, &STREAM, NULL));
}
static void op_cols16(const ctx *c)
{
    ok(gd_dropout_fwd_cols_ex(c->dt, GD_MASK_16, c->y, c->x, c->rows, c->cols, c->pc, &STREAM,
                              c->m));
}
static void op_add_fwd16(const ctx *c)
{
    ok(gd_dropout_add_fwd_ex(c->dt, GD_MASK_16, c->y, c->x, c->b, c->r, c->rows, c->cols, P,
                             &STREAM, c->m));
}

/* float32: the two rules' forwards with mask, and their scale loop */
static void op_f32_scale(const ctx *c)
{
    bench_scale(c->yf, c->xf, c->n, 1.1111112f);
}
static void op_f32_fwd32(const ctx *c)
{
    ok(gd_dropout_fwd(c->yf, c->xf, c->n, P, &STREAM, c->m));
}
static void op_f32_fwd16(const ctx *c)
{
    ok(gd_dropout_fwd_ex(GD_F32, GD_MASK_16, c->yf, c->xf, c->n, P, &STREAM, c->m));
}

/* The generators alone, GEN words at a time into an L1 buffer through the
 * chosen family's ops (as gd_bench's): n words (32-bit rule), n/2 words
 * (16-bit rule), n normals (Gaussian). */
enum { GEN = 1024 };

static void gen_words(size_t count)
{
    static _Alignas(64) uint32_t sink[GEN];
    const gd_kernels *fam = gd_half_get()->f32;
    const gd_keyctx k = gd_keyctx_from(&STREAM);
    for (size_t j = 0; j < count; j += GEN)
        fam->words(sink, count - j < GEN ? count - j : GEN, j, &k);
}
static void op_gen32(const ctx *c)
{
    gen_words(c->n);
}
static void op_gen16(const ctx *c)
{
    gen_words((c->n + 1) / 2);
}
static void op_gen_normal(const ctx *c)
{
    static _Alignas(64) float sink[GEN];
    const gd_kernels *fam = gd_half_get()->f32;
    const gd_keyctx k = gd_keyctx_from(&STREAM);
    for (size_t j = 0; j < c->n; j += GEN)
        fam->normal(sink, c->n - j < GEN ? c->n - j : GEN, j, &k);
}

/* ---- timing (bench/timing.h, as gd_bench) ----------------------------------------- */

static int reps = 11;

/* A row's ops, all on the same buffers, for bench_measure. */
typedef struct row_ops {
    const op_fn *op;
    const ctx *c;
} row_ops;

static void call_op(int i, const void *env)
{
    const row_ops *o = env;
    o->op[i](o->c);
}

static void measure_k(int k, const op_fn op[], const ctx *c, double t[])
{
    const row_ops o = {op, c};
    bench_measure(k, call_op, &o, reps, t);
}

/* One row: op, its baseline and (if gen) its generator, interleaved. */
static void row(const char *what, const ctx *c, op_fn op, const char *base_name, op_fn base,
                op_fn gen)
{
    const op_fn ops[BENCH_MAX_OPS] = {op, base, gen};
    double t[BENCH_MAX_OPS];
    measure_k(gen ? 3 : 2, ops, c, t);
    char gen_s[32] = "", floor_s[32] = "";
    if (gen) {
        snprintf(gen_s, sizeof gen_s, "%.3f", t[2] * 1e3);
        snprintf(floor_s, sizeof floor_s, "%.2f", bench_paired(0, 1, 2));
    }
    printf("| %s | %zu | %.3f | %s | %.3f | %s | %.2f | %s |\n", what, c->n, t[0] * 1e3, base_name,
           t[1] * 1e3, gen_s, bench_paired(0, 1, 1), floor_s);
}

static void table_head(const char *title)
{
    printf("\n### %s\n\n", title);
    printf("| op | n | ms | baseline | baseline ms | generator ms | ratio | ratio to floor |\n");
    printf("|---|---:|---:|---|---:|---:|---:|---:|\n");
}

/* ---- the run ------------------------------------------------------------------ */

static ctx make_ctx(int dt, size_t n)
{
    ctx c = {.dt = dt, .n = n, .cols = COLS, .rows = n / COLS};
    c.n = c.rows * c.cols;
    c.x = xalloc(c.n * 2), c.y = xalloc(c.n * 2), c.r = xalloc(c.n * 2), c.b = xalloc(COLS * 2);
    c.xf = xalloc(c.n * 4), c.yf = xalloc(c.n * 4), c.pc = xalloc(COLS * 4);
    c.db = xalloc(COLS * 4), c.m = xalloc(gd_mask_bytes(c.n)), c.pcw = xalloc(WIDE * 4);
    uint32_t s = 12345;
    for (size_t i = 0; i < c.n; i++) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        const float v = (float)(int32_t)s * 0x1p-28f;
        c.xf[i] = v;
        c.x[i] = dt == GD_BF16 ? gd_f32_to_bf16(v) : gd_f32_to_f16(v);
        c.r[i] = c.x[(i * 7) % (i + 1)];
    }
    for (size_t j = 0; j < COLS; j++) {
        c.b[j] = c.x[j];
        c.pc[j] = 0.1f * (float)(j % 11) / 10.0f;
    }
    for (size_t j = 0; j < WIDE; j++)
        c.pcw[j] = 0.1f * (float)(j % 11) / 10.0f;
    return c;
}

static void free_ctx(ctx *c)
{
    free(c->x), free(c->y), free(c->r), free(c->b), free(c->xf), free(c->yf), free(c->pc);
    free(c->pcw);
    free(c->db), free(c->m);
}

static void half_table(int dt, size_t n)
{
    ctx c = make_ctx(dt, n);
    char title[96];
    const char *name = dt == GD_BF16 ? "bf16" : "fp16";
    snprintf(title, sizeof title, "%s, n = %zu ([%zu x %d])", name, c.n, c.rows, COLS);
    table_head(title);
    char base[32], add[32];
    snprintf(base, sizeof base, "%s scale loop", name);
    snprintf(add, sizeof add, "%s r + (x + b)", name);
    row("fwd_ex + mask, 32-bit rule", &c, op_fwd_mask32, base, op_scale, op_gen32);
    row("fwd_ex, 32-bit rule", &c, op_fwd32, base, op_scale, op_gen32);
    row("bwd_ex from mask", &c, op_bwd_mask32, base, op_scale, NULL);
    row("bwd_ex regenerated, 32-bit rule", &c, op_bwd_regen32, base, op_scale, op_gen32);
    row("fwd_cols_ex + mask, 32-bit rule", &c, op_cols32, base, op_scale, op_gen32);
    row("fwd_cols_ex + mask, 32-bit rule, 3072 cols", &c, op_cols32_wide, base, op_scale, op_gen32);
    row("add_fwd_ex + mask, 32-bit rule", &c, op_add_fwd32, add, op_add3, op_gen32);
    row("add_bwd_ex from mask, dbias", &c, op_add_bwd32, base, op_scale, NULL);
    row("gaussian_dropout_fwd_ex", &c, op_gauss, base, op_scale, op_gen_normal);
    row("fwd_ex + mask, 16-bit rule", &c, op_fwd_mask16, base, op_scale, op_gen16);
    row("bwd_ex regenerated, 16-bit rule", &c, op_bwd_regen16, base, op_scale, op_gen16);
    row("fwd_cols_ex + mask, 16-bit rule", &c, op_cols16, base, op_scale, op_gen16);
    row("fwd_cols_ex + mask, 16-bit rule, 3072 cols", &c, op_cols16_wide, base, op_scale, op_gen16);
    row("add_fwd_ex + mask, 16-bit rule", &c, op_add_fwd16, add, op_add3, op_gen16);
    free_ctx(&c);
}

static void rule_table(size_t n)
{
    ctx c = make_ctx(GD_BF16, n);
    char title[96];
    snprintf(title, sizeof title, "float32: the 16-bit rule against the 32-bit rule, n = %zu",
             c.n);
    table_head(title);
    row("gd_dropout_fwd + mask (32-bit rule)", &c, op_f32_fwd32, "float scale loop",
        op_f32_scale, op_gen32);
    row("fwd_ex F32 + mask, 16-bit rule", &c, op_f32_fwd16, "float scale loop", op_f32_scale,
        op_gen16);
    row("fwd_ex F32 + mask, 16-bit rule", &c, op_f32_fwd16, "gd_dropout_fwd + mask",
        op_f32_fwd32, NULL);
    free_ctx(&c);
}

int main(int argc, char **argv)
{
    size_t n = (size_t)1 << 24, small = (size_t)1 << 16;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--small") == 0 && i + 1 < argc)
            small = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: gd_bench_half [--n N] [--small N] [--reps R]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > BENCH_MAX_REPS || n < COLS || small < COLS) {
        fprintf(stderr, "gd_bench_half: --reps 1..%d, sizes >= %d\n", BENCH_MAX_REPS, COLS);
        return 2;
    }
    printf("gd_bench_half: libgdropout %s, float family %s, half level %s, median of %d\n",
           gd_version_string(), gd_dispatch_name(), gd_half_get()->name, reps);
    for (int pass = 0; pass < 2; pass++) {
        const size_t size = pass ? small : n;
        half_table(GD_BF16, size);
        half_table(GD_F16, size);
        rule_table(size);
    }
    return 0;
}

/*
 * Kernels from several threads at once on disjoint parts of one shared
 * tensor, split by offset: the result is bitwise the single-threaded one.
 * Run under ThreadSanitizer by .ci/steps/25-tsan.sh, where a data race in
 * the library (shared scratch, a non-atomic cache) would be reported.
 *
 * The split points are deliberately odd (not multiples of 4, 8 or 256), so a
 * thread starts inside a Philox block and inside a mask byte; each thread
 * therefore writes its mask bits to its own buffer and the bits are compared
 * one by one.  GD_TEST_QUICK=1 shrinks the tensor (valgrind).
 */

#include "test_util.h"

#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { THREADS = 4, ROUNDS = 3 };

static size_t rows_total, cols_total, n_total;
static float *x, *bias, *res, *p_cols;
/* single-threaded references */
static float *y_ref, *dx_ref, *yc_ref, *ya_ref, *yg_ref, *z_ref;
static uint8_t *m_ref, *mc_ref;
/* written by the threads, each its own range */
static float *y_mt, *dx_mt, *yc_mt, *ya_mt, *yg_mt, *z_mt;

static const gd_stream S0 = {UINT64_C(0xdeadbeefcafef00d), UINT64_C(0x0000000100000002), 1000};
static const float P = 0.3f, SIGMA = 0.4f;

typedef struct job {
    size_t j0, j1; /* element range of the 1-D kernels */
    size_t r0, r1; /* row range of the 2-D kernels */
    uint8_t *mask, *mask_cols;
    bool ok;
} job;

static void sizes(void)
{
    const char *q = getenv("GD_TEST_QUICK");
    const bool quick = q && *q && strcmp(q, "0") != 0;
    rows_total = quick ? 61 : 509;
    cols_total = 67;
    n_total = rows_total * cols_total;
}

static uint8_t *alloc_mask(size_t n)
{
    uint8_t *m = calloc(n / 8 + 1, 1);
    if (!m)
        abort();
    return m;
}

static gd_stream at(size_t j)
{
    gd_stream s = S0;
    s.offset += j;
    return s;
}

/* One thread's share: every kernel on [j0, j1) (rows [r0, r1)). */
static bool run_range(const job *jb)
{
    const size_t n = jb->j1 - jb->j0, j0 = jb->j0;
    const gd_stream s = at(j0);
    bool ok = gd_dropout_fwd(y_mt + j0, x + j0, n, P, &s, jb->mask) == GD_OK;
    /* backward regenerated, in place on a copy of the forward input */
    memcpy(dx_mt + j0, x + j0, n * sizeof *x);
    ok = ok && gd_dropout_bwd(dx_mt + j0, dx_mt + j0, n, P, &s, NULL) == GD_OK;
    ok = ok && gd_gaussian_dropout_fwd(yg_mt + j0, x + j0, n, SIGMA, &s) == GD_OK;
    ok = ok && gd_random_normal(z_mt + j0, n, &s) == GD_OK;

    const size_t rows = jb->r1 - jb->r0, e0 = jb->r0 * cols_total;
    const gd_stream sr = at(e0);
    ok = ok && gd_dropout_fwd_cols(yc_mt + e0, x + e0, rows, cols_total, p_cols, &sr,
                                   jb->mask_cols) == GD_OK;
    ok = ok && gd_dropout_add_fwd(ya_mt + e0, x + e0, bias, res + e0, rows, cols_total, P, &sr,
                                  NULL) == GD_OK;
    return ok;
}

static void *worker(void *arg)
{
    job *jb = arg;
    jb->ok = true;
    for (int r = 0; r < ROUNDS; r++)
        jb->ok = run_range(jb) && jb->ok;
    return NULL;
}

static float *alloc_fill(size_t n, uint32_t seed)
{
    float *p = tu_alloc_f(n);
    tu_fill_data(p, n, seed);
    return p;
}

static void setup(void)
{
    sizes();
    x = alloc_fill(n_total, 1);
    bias = alloc_fill(cols_total, 2);
    res = alloc_fill(n_total, 3);
    p_cols = tu_alloc_f(cols_total);
    for (size_t c = 0; c < cols_total; c++)
        p_cols[c] = (float)(c % 11) / 10.0f; /* 0 .. 1, both ends included */
    float **bufs[] = {&y_ref, &dx_ref, &yc_ref, &ya_ref, &yg_ref, &z_ref,
                      &y_mt,  &dx_mt,  &yc_mt,  &ya_mt,  &yg_mt,  &z_mt};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        *bufs[i] = alloc_fill(n_total, 100 + (uint32_t)i); /* garbage until written */
    m_ref = alloc_mask(n_total);
    mc_ref = alloc_mask(n_total);

    /* the single-threaded reference, one call per kernel on the whole tensor */
    const gd_stream s = S0;
    ck_assert_int_eq(gd_dropout_fwd(y_ref, x, n_total, P, &s, m_ref), GD_OK);
    ck_assert_int_eq(gd_dropout_bwd(dx_ref, x, n_total, P, &s, NULL), GD_OK);
    ck_assert_int_eq(gd_gaussian_dropout_fwd(yg_ref, x, n_total, SIGMA, &s), GD_OK);
    ck_assert_int_eq(gd_random_normal(z_ref, n_total, &s), GD_OK);
    ck_assert_int_eq(
        gd_dropout_fwd_cols(yc_ref, x, rows_total, cols_total, p_cols, &s, mc_ref), GD_OK);
    ck_assert_int_eq(
        gd_dropout_add_fwd(ya_ref, x, bias, res, rows_total, cols_total, P, &s, NULL), GD_OK);
}

static void teardown(void)
{
    float *bufs[] = {x,     bias,  res,   p_cols, y_ref, dx_ref, yc_ref, ya_ref,
                     yg_ref, z_ref, y_mt, dx_mt,  yc_mt, ya_mt,  yg_mt,  z_mt};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    free(m_ref);
    free(mc_ref);
}

static void assert_same(const float *a, const float *b, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(tu_f32_bits(a[i]) == tu_f32_bits(b[i]), "%s differs at %zu", what, i);
}

/* Bits [from, from+n) of the whole-tensor mask equal bits [0, n) of part. */
static void assert_mask_bits(const uint8_t *whole, size_t from, const uint8_t *part, size_t n)
{
    for (size_t j = 0; j < n; j++)
        ck_assert_msg(tu_ref_bit(whole, from + j) == tu_ref_bit(part, j), "mask bit %zu", from + j);
}

START_TEST(kernels_split_across_threads)
{
    job jobs[THREADS];
    pthread_t tid[THREADS];
    for (size_t t = 0; t < THREADS; t++) {
        /* odd split points: inside Philox blocks and mask bytes */
        jobs[t].j0 = t == 0 ? 0 : n_total * t / THREADS + 3;
        jobs[t].j1 = t + 1 == THREADS ? n_total : n_total * (t + 1) / THREADS + 3;
        jobs[t].r0 = rows_total * t / THREADS;
        jobs[t].r1 = rows_total * (t + 1) / THREADS;
        jobs[t].mask = alloc_mask(jobs[t].j1 - jobs[t].j0);
        jobs[t].mask_cols = alloc_mask((jobs[t].r1 - jobs[t].r0) * cols_total);
    }
    for (size_t t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_create(&tid[t], NULL, worker, &jobs[t]), 0);
    for (size_t t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_join(tid[t], NULL), 0);

    for (size_t t = 0; t < THREADS; t++) {
        ck_assert_msg(jobs[t].ok, "thread %zu: a kernel failed", t);
        assert_mask_bits(m_ref, jobs[t].j0, jobs[t].mask, jobs[t].j1 - jobs[t].j0);
        assert_mask_bits(mc_ref, jobs[t].r0 * cols_total, jobs[t].mask_cols,
                         (jobs[t].r1 - jobs[t].r0) * cols_total);
        free(jobs[t].mask);
        free(jobs[t].mask_cols);
    }
    assert_same(y_ref, y_mt, n_total, "dropout_fwd");
    assert_same(dx_ref, dx_mt, n_total, "dropout_bwd");
    assert_same(yg_ref, yg_mt, n_total, "gaussian_dropout_fwd");
    assert_same(z_ref, z_mt, n_total, "random_normal");
    assert_same(yc_ref, yc_mt, n_total, "dropout_fwd_cols");
    assert_same(ya_ref, ya_mt, n_total, "dropout_add_fwd");
}
END_TEST

/* Wide rows (past 4096 columns) from more threads than the library has
 * shared tables (src/coltab.c): each call takes a free table or, finding
 * none, goes by the strips, and every thread's rows are still the
 * single-threaded call's bits.  Each thread has rates of its own, so two
 * calls filling one table would show; rows of 8192 columns, a row a call,
 * many rounds, so that the threads contend for the tables. */
enum { WIDE_THREADS = 8, WIDE_COLS = 8192, WIDE_ROWS = 16, WIDE_ROUNDS = 40 };

typedef struct wide_job {
    const float *x, *pc;
    float *y;
    size_t t;
    bool ok;
} wide_job;

static bool wide_row(float *y, const float *xw, const float *pc, size_t row)
{
    const gd_stream s = at(row * WIDE_COLS);
    return gd_dropout_fwd_cols(y + row * WIDE_COLS, xw + row * WIDE_COLS, 1, WIDE_COLS, pc, &s,
                               NULL) == GD_OK;
}

static void *wide_worker(void *arg)
{
    wide_job *jb = arg;
    jb->ok = true;
    for (int r = 0; r < WIDE_ROUNDS; r++)
        for (size_t row = jb->t; row < WIDE_ROWS; row += WIDE_THREADS)
            jb->ok = wide_row(jb->y, jb->x, jb->pc, row) && jb->ok;
    return NULL;
}

START_TEST(wide_cols_from_many_threads)
{
    const size_t n = (size_t)WIDE_ROWS * WIDE_COLS;
    float *xw = alloc_fill(n, 21), *ref = tu_alloc_f(n), *mt = tu_alloc_f(n);
    float *pc = tu_alloc_f((size_t)WIDE_THREADS * WIDE_COLS);
    for (size_t t = 0; t < WIDE_THREADS; t++)
        for (size_t c = 0; c < WIDE_COLS; c++)
            pc[t * WIDE_COLS + c] = 0.9f * (float)((c + 7 * t) % 61) / 60.0f;
    for (size_t row = 0; row < WIDE_ROWS; row++)
        ck_assert(wide_row(ref, xw, pc + row % WIDE_THREADS * WIDE_COLS, row));
    wide_job jobs[WIDE_THREADS];
    pthread_t tid[WIDE_THREADS];
    for (size_t t = 0; t < WIDE_THREADS; t++) {
        jobs[t] = (wide_job){.x = xw, .pc = pc + t * WIDE_COLS, .y = mt, .t = t};
        ck_assert_int_eq(pthread_create(&tid[t], NULL, wide_worker, &jobs[t]), 0);
    }
    for (size_t t = 0; t < WIDE_THREADS; t++)
        ck_assert_int_eq(pthread_join(tid[t], NULL), 0);
    for (size_t t = 0; t < WIDE_THREADS; t++)
        ck_assert_msg(jobs[t].ok, "thread %zu: a call failed", t);
    assert_same(ref, mt, n, "dropout_fwd_cols, 8192 columns");
    free(xw);
    free(ref);
    free(mt);
    free(pc);
}
END_TEST

/* Many threads racing on the first call of the process (dispatch choice). */
static void *first_use(void *arg)
{
    const char **name = arg;
    *name = gd_dispatch_name();
    return NULL;
}

START_TEST(dispatch_from_many_threads)
{
    pthread_t tid[8];
    const char *names[8];
    for (size_t t = 0; t < 8; t++)
        ck_assert_int_eq(pthread_create(&tid[t], NULL, first_use, &names[t]), 0);
    for (size_t t = 0; t < 8; t++)
        ck_assert_int_eq(pthread_join(tid[t], NULL), 0);
    for (size_t t = 1; t < 8; t++)
        ck_assert_str_eq(names[t], names[0]);
}
END_TEST

static void add_dispatch_tests(TCase *tc)
{
    tcase_add_test(tc, dispatch_from_many_threads);
}

static void add_kernel_tests(TCase *tc)
{
    tcase_add_test(tc, kernels_split_across_threads);
    tcase_add_test(tc, wide_cols_from_many_threads);
}

int main(void)
{
    const tu_case cases[] = {
        /* first, before any kernel ran in this process */
        {.name = "dispatch", .add_tests = add_dispatch_tests},
        {.name = "kernels", .add_tests = add_kernel_tests, .timeout = 120, .setup_once = setup,
         .teardown_once = teardown},
    };
    return tu_run_cases("threads", cases, sizeof cases / sizeof cases[0]);
}

/*
 * Separate gd_fisher and gd_plan objects from several threads at once: each
 * thread runs the whole workflow (register, per-example, batch, dense GEMM
 * and sequence accumulators, Adam, merge, scores, save and load its own
 * file, a plan computed, saved and loaded) and its results must equal,
 * bit for bit, the same workflow run alone on the main thread first.
 * The dense paths call OpenBLAS from every thread concurrently.  Run under
 * ThreadSanitizer by .ci/steps/25-tsan.sh.  GD_TEST_QUICK=1 shrinks it.
 */
#include "test_util.h"

#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { THREADS = 4, MAX_SITES = 8, MAX_UNITS = 256, MAX_W = 96 * 64 };

static size_t in_dim, out_dim, batch, seq;
static char dir[64];

typedef struct result {
    float site_scores[4][MAX_SITES];
    float units[MAX_UNITS];
    float loaded_est[MAX_W];
    float merged_est[MAX_W];
    float probs[MAX_SITES];
    float loaded_probs[MAX_SITES];
    double weight;
    bool ok;
} result;

#define TRY(call)                          \
    do {                                   \
        if ((call) != GD_OK) {             \
            r->ok = false;                 \
            goto out;                      \
        }                                  \
    } while (0)

/* The workflow for one seed; every result goes into r. */
static void workflow(uint32_t seed, result *r)
{
    gd_fisher *f = NULL, *back = NULL;
    gd_plan *p = NULL, *pb = NULL;
    const size_t n_x = batch * seq * in_dim, n_dy = batch * seq * out_dim;
    float *x = tu_alloc_f(n_x), *dy = tu_alloc_f(n_dy), *grad = tu_alloc_f(in_dim * out_dim * 2);
    char fpath[128], ppath[128];
    snprintf(fpath, sizeof fpath, "%s/f%u.safetensors", dir, seed);
    snprintf(ppath, sizeof ppath, "%s/p%u.plan", dir, seed);
    memset(r, 0, sizeof *r);
    r->ok = true;
    tu_fill_data(x, n_x, seed);
    tu_fill_data(dy, n_dy, seed + 1);
    tu_fill_data(grad, in_dim * out_dim * 2, seed + 2);

    TRY(gd_fisher_create(&f));
    TRY(gd_fisher_add_tensor(f, "l0.w", out_dim * in_dim, 0, NULL)); /* id 0 */
    TRY(gd_fisher_add_tensor(f, "l0.b", out_dim, 0, NULL));          /* id 1 */
    TRY(gd_fisher_add_tensor(f, "l1.w", out_dim * in_dim, 1, NULL)); /* id 2 */
    TRY(gd_fisher_add_tensor(f, "l1.b", out_dim, 1, NULL));          /* id 3 */
    TRY(gd_fisher_add_tensor(f, "norm", in_dim, 2, NULL));           /* id 4 */
    TRY(gd_fisher_add_tensor(f, "adam", in_dim, 3, NULL));           /* id 5 */
    TRY(gd_fisher_accumulate_dense(f, 0, 1, x, dy, batch * seq, in_dim, out_dim));
    TRY(gd_fisher_accumulate_dense_seq(f, 2, 3, x, dy, batch, seq, in_dim, out_dim));
    TRY(gd_fisher_accumulate_batch(f, 4, grad, 2));
    TRY(gd_fisher_accumulate(f, 4, grad + in_dim, 0.5f));
    for (size_t j = 0; j < in_dim; j++)
        grad[j] = grad[j] * grad[j];
    TRY(gd_fisher_from_adam(f, 5, grad, 0.999f, 1000, 16));
    /* a copy of itself through a file, then merged with it */
    TRY(gd_fisher_save(f, fpath));
    TRY(gd_fisher_load(&back, fpath));
    TRY(gd_fisher_read(back, 0, r->loaded_est, out_dim * in_dim, NULL));
    TRY(gd_fisher_merge(back, f));
    TRY(gd_fisher_read(back, 2, r->merged_est, out_dim * in_dim, &r->weight));
    for (int red = GD_REDUCE_TENSOR_MEAN; red <= GD_REDUCE_MAX; red++)
        TRY(gd_fisher_site_scores(f, red, r->site_scores[red], 4));
    TRY(gd_fisher_unit_scores(f, 0, out_dim, in_dim, GD_AXIS_ROWS, r->units));

    TRY(gd_plan_create(&p, 4));
    TRY(gd_plan_set_scores(p, r->site_scores[GD_REDUCE_TENSOR_MEAN], 4));
    TRY(gd_plan_set_site(p, 0, "layer0", r->site_scores[0][0]));
    TRY(gd_plan_compute(p, GD_RULE_RANK_LINEAR, 0.1f, 0.0f));
    TRY(gd_plan_get_all(p, r->probs, 4));
    TRY(gd_plan_save(p, ppath));
    TRY(gd_plan_load(&pb, ppath));
    TRY(gd_plan_get_all(pb, r->loaded_probs, 4));
out:
    gd_fisher_destroy(f);
    gd_fisher_destroy(back);
    gd_plan_destroy(p);
    gd_plan_destroy(pb);
    free(x);
    free(dy);
    free(grad);
}

typedef struct job {
    uint32_t seed;
    result r;
} job;

static void *worker(void *arg)
{
    job *j = arg;
    workflow(j->seed, &j->r);
    return NULL;
}

static void setup(void)
{
    const char *q = getenv("GD_TEST_QUICK");
    const bool quick = q && *q && strcmp(q, "0") != 0;
    in_dim = quick ? 24 : 96;
    out_dim = quick ? 16 : 64;
    batch = quick ? 8 : 40;
    seq = 3;
    ck_assert_uint_le(out_dim * in_dim, MAX_W);
    tu_tmpdir_make(dir, sizeof dir, "gd_threads");
}

static void teardown(void)
{
    tu_tmpdir_remove(dir);
}

START_TEST(objects_in_threads_match_alone)
{
    static result alone[THREADS];
    static job jobs[THREADS];
    pthread_t tid[THREADS];
    for (size_t t = 0; t < THREADS; t++) {
        /* alone first, with a seed the thread will use again */
        workflow(1000 + 17 * (uint32_t)t, &alone[t]);
        ck_assert_msg(alone[t].ok, "workflow %zu failed on its own", t);
        jobs[t].seed = 1000 + 17 * (uint32_t)t;
    }
    for (int round = 0; round < 2; round++) {
        for (size_t t = 0; t < THREADS; t++)
            ck_assert_int_eq(pthread_create(&tid[t], NULL, worker, &jobs[t]), 0);
        for (size_t t = 0; t < THREADS; t++)
            ck_assert_int_eq(pthread_join(tid[t], NULL), 0);
        for (size_t t = 0; t < THREADS; t++) {
            const result *a = &alone[t], *b = &jobs[t].r;
            ck_assert_msg(b->ok, "thread %zu: a call failed", t);
            ck_assert_int_eq(memcmp(a->site_scores, b->site_scores, sizeof a->site_scores), 0);
            ck_assert_int_eq(memcmp(a->units, b->units, sizeof a->units), 0);
            ck_assert_int_eq(memcmp(a->loaded_est, b->loaded_est, sizeof a->loaded_est), 0);
            ck_assert_int_eq(memcmp(a->merged_est, b->merged_est, sizeof a->merged_est), 0);
            ck_assert_int_eq(memcmp(a->probs, b->probs, sizeof a->probs), 0);
            ck_assert_int_eq(memcmp(a->loaded_probs, b->loaded_probs, sizeof a->probs), 0);
            ck_assert(a->weight == b->weight);
        }
    }
    /* and the results are not trivially equal: different seeds differ */
    ck_assert_int_ne(memcmp(alone[0].units, alone[1].units, sizeof alone[0].units), 0);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, objects_in_threads_match_alone);
}

int main(void)
{
    const tu_case objects = {.name = "objects", .add_tests = add_tests, .timeout = 300,
                             .setup_once = setup, .teardown_once = teardown};
    return tu_run_cases("threads_fisher", &objects, 1);
}

/*
 * Allocation failure: every call that allocates is run once to count its
 * allocations (N), then once per k = 1 .. N with the k-th allocation failing
 * (gd_test_fail_alloc_after, src/internal.h).  Each run must return GD_OK or
 * GD_ENOMEM; on GD_ENOMEM every output and object is exactly as before (and
 * no file or temporary file changed), and the same call then succeeds on the
 * same object, so a failure never leaves it half-updated.  Leaks on any of
 * these paths are caught by ASan (10-sanitizers) and valgrind (20-valgrind).
 *
 * The calls that must not allocate at all (kernels, accumulators, reads,
 * scores, the plan's compute and getters) are run with the very first
 * allocation armed to fail: they must succeed and count zero allocations.
 */
#include "test_util.h"
#include "internal.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One allocating call with fresh state per run. */
typedef struct alloc_case {
    const char *name;
    void (*setup)(void);
    int (*call)(void);
    void (*failed)(void);    /* state after GD_ENOMEM: exactly as set up */
    void (*succeeded)(void); /* state after GD_OK */
    void (*teardown)(void);
} alloc_case;

static void sweep(const alloc_case *c)
{
    c->setup();
    gd_test_fail_alloc_after(0);
    int rc = c->call();
    const long total = gd_test_fail_alloc_after(0);
    ck_assert_msg(rc == GD_OK, "%s: %s without failures", c->name, gd_error_name(rc));
    ck_assert_msg(total > 0, "%s: expected to allocate", c->name);
    c->succeeded();
    c->teardown();
    long failures = 0;
    for (long k = 1; k <= total; k++) {
        c->setup();
        gd_test_fail_alloc_after(k);
        rc = c->call();
        const long made = gd_test_fail_alloc_after(0);
        if (rc == GD_OK) {
            c->succeeded(); /* a failure it could live without */
        } else {
            ck_assert_msg(rc == GD_ENOMEM, "%s, allocation %ld of %ld failing: %s", c->name, k,
                          total, gd_error_name(rc));
            ck_assert_msg(made >= k, "%s: failed before allocation %ld", c->name, k);
            failures++;
            c->failed();
            /* still usable: the same call now succeeds */
            ck_assert_int_eq(c->call(), GD_OK);
            gd_test_fail_alloc_after(0);
            c->succeeded();
        }
        c->teardown();
    }
    ck_assert_msg(failures > 0, "%s: no injected failure was reported", c->name);
}

/* ---- files ------------------------------------------------------------- */

static char dir[64];
static char target[160];

static void make_dir(void)
{
    tu_tmpdir_make(dir, sizeof dir, "gd_alloc");
    snprintf(target, sizeof target, "%s/target", dir);
}

static void remove_dir(void)
{
    tu_tmpdir_remove(dir);
}

static const char OLD[] = "the old file, which a failed save must leave alone\n";

static void write_old(void)
{
    FILE *fp = fopen(target, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(OLD, 1, sizeof OLD - 1, fp), sizeof OLD - 1);
    ck_assert_int_eq(fclose(fp), 0);
}

static void assert_old(void)
{
    char buf[sizeof OLD + 16];
    FILE *fp = fopen(target, "rb");
    ck_assert_ptr_nonnull(fp);
    const size_t got = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    ck_assert_uint_eq(got, sizeof OLD - 1);
    ck_assert_int_eq(memcmp(buf, OLD, got), 0);
    ck_assert_uint_eq(tu_dir_entries(dir), 1); /* no temporary file left behind */
}

/* ---- Fisher ------------------------------------------------------------ */

static gd_fisher *F, *OUT_F;
static gd_fisher *const SENTINEL_F = (gd_fisher *)&F;
static tu_fisher_snap SNAP;
static size_t ID;
static size_t n_before; /* tensors before add_tensor */

enum { IN = 5, OUT = 3, BATCH = 1030 /* > one 1024-example chunk */, SEQ = 4 };

static void add_named(gd_fisher *f, size_t i)
{
    char name[48];
    snprintf(name, sizeof name, "layer%zu.weight", i);
    ck_assert_int_eq(gd_fisher_add_tensor(f, name, 1 + i % 5, i % 3, NULL), GD_OK);
}

/* A Fisher with a dense layer (w, b), samples in every tensor. */
static gd_fisher *dense_fisher(void)
{
    gd_fisher *f = NULL;
    ck_assert_int_eq(gd_fisher_create(&f), GD_OK);
    ck_assert_int_eq(gd_fisher_add_tensor(f, "fc.w", OUT * IN, 0, NULL), GD_OK);
    ck_assert_int_eq(gd_fisher_add_tensor(f, "fc.b", OUT, 0, NULL), GD_OK);
    ck_assert_int_eq(gd_fisher_add_tensor(f, "norm", 7, GD_NONE, NULL), GD_OK);
    float g[OUT * IN];
    for (size_t id = 0; id < 3; id++) {
        tu_fill_data(g, OUT * IN, 30 + (uint32_t)id);
        ck_assert_int_eq(gd_fisher_accumulate(f, id, g, 0.5f), GD_OK);
    }
    return f;
}

static void create_setup(void)
{
    OUT_F = SENTINEL_F;
}
static int create_call(void)
{
    return gd_fisher_create(&OUT_F);
}
static void create_failed(void)
{
    ck_assert_ptr_eq(OUT_F, SENTINEL_F);
}
static void create_succeeded(void)
{
    size_t n;
    ck_assert_ptr_ne(OUT_F, SENTINEL_F);
    ck_assert_int_eq(gd_fisher_count(OUT_F, &n), GD_OK);
    ck_assert_uint_eq(n, 0);
}
static void create_teardown(void)
{
    if (OUT_F != SENTINEL_F)
        gd_fisher_destroy(OUT_F);
}

/* add_tensor on objects of n_before tensors: the growth points of the
 * tensor array and the name hash fall at different sizes. */
static void add_setup(void)
{
    ck_assert_int_eq(gd_fisher_create(&F), GD_OK);
    for (size_t i = 0; i < n_before; i++)
        add_named(F, i);
    tu_fisher_snap_take(F, &SNAP);
    ID = 12345;
}
static int add_call(void)
{
    return gd_fisher_add_tensor(F, "the.new.one", 9, 2, &ID);
}
static void add_failed(void)
{
    tu_fisher_assert_same(F, &SNAP);
    ck_assert_uint_eq(ID, 12345);
    size_t id;
    ck_assert_int_eq(gd_fisher_find(F, "the.new.one", &id), GD_ENOTFOUND);
}
static void add_succeeded(void)
{
    ck_assert_uint_eq(ID, n_before);
    for (size_t i = 0; i < n_before; i++) { /* the hash still finds every old name */
        char name[48];
        size_t id;
        snprintf(name, sizeof name, "layer%zu.weight", i);
        ck_assert_int_eq(gd_fisher_find(F, name, &id), GD_OK);
        ck_assert_uint_eq(id, i);
    }
    size_t id;
    ck_assert_int_eq(gd_fisher_find(F, "the.new.one", &id), GD_OK);
    ck_assert_uint_eq(id, n_before);
}
static void fisher_teardown(void)
{
    tu_fisher_snap_free(&SNAP);
    gd_fisher_destroy(F);
    F = NULL;
}

static float *X, *DY;
static int seq_form;

static void dense_setup(void)
{
    F = dense_fisher();
    tu_fisher_snap_take(F, &SNAP);
}
static int dense_call(void)
{
    return seq_form ? gd_fisher_accumulate_dense_seq(F, 0, 1, X, DY, BATCH / SEQ, SEQ, IN, OUT)
                    : gd_fisher_accumulate_dense(F, 0, 1, X, DY, BATCH, IN, OUT);
}
static void dense_failed(void)
{
    tu_fisher_assert_same(F, &SNAP);
}
static void dense_succeeded(void)
{
    double w, sums[OUT * IN];
    ck_assert_int_eq(gd_fisher_sums(F, 0, sums, OUT * IN, &w), GD_OK);
    ck_assert(w == 0.5 + (seq_form ? BATCH / SEQ : BATCH));
    ck_assert(sums[0] > SNAP.sums[0][0]);
}

static char fisher_file[160];
static gd_fisher *REFERENCE; /* what fisher_file holds */

static void load_setup(void)
{
    OUT_F = SENTINEL_F;
}
static int load_call(void)
{
    return gd_fisher_load(&OUT_F, fisher_file);
}
/* The loaded object holds the reference's tensors, weights and estimates
 * (bit for bit: the file stores estimates, not raw sums). */
static void load_succeeded(void)
{
    ck_assert_ptr_ne(OUT_F, SENTINEL_F);
    tu_fisher_snap want, got;
    tu_fisher_snap_take(REFERENCE, &want);
    tu_fisher_snap_take(OUT_F, &got);
    ck_assert_uint_eq(got.count, want.count);
    for (size_t id = 0; id < want.count; id++) {
        ck_assert_str_eq(got.names[id], want.names[id]);
        ck_assert_uint_eq(got.numel[id], want.numel[id]);
        ck_assert_uint_eq(got.site[id], want.site[id]);
        ck_assert(got.weight[id] == want.weight[id]);
        if (want.weight[id] == 0.0)
            continue;
        float a[OUT * IN * 2], b[OUT * IN * 2];
        ck_assert_int_eq(gd_fisher_read(REFERENCE, id, a, want.numel[id], NULL), GD_OK);
        ck_assert_int_eq(gd_fisher_read(OUT_F, id, b, want.numel[id], NULL), GD_OK);
        ck_assert_int_eq(memcmp(a, b, want.numel[id] * sizeof(float)), 0);
    }
    tu_fisher_snap_free(&want);
    tu_fisher_snap_free(&got);
}

static void save_setup(void)
{
    F = dense_fisher();
    write_old();
}
static int save_call(void)
{
    return gd_fisher_save(F, target);
}
static void save_failed(void)
{
    assert_old();
}
static void save_succeeded(void)
{
    ck_assert_uint_eq(tu_dir_entries(dir), 1);
    gd_fisher *back = NULL;
    ck_assert_int_eq(gd_fisher_load(&back, target), GD_OK);
    size_t n;
    ck_assert_int_eq(gd_fisher_count(back, &n), GD_OK);
    ck_assert_uint_eq(n, 3);
    gd_fisher_destroy(back);
}
static void save_teardown(void)
{
    gd_fisher_destroy(F);
    F = NULL;
    unlink(target);
}

START_TEST(fisher_create)
{
    const alloc_case c = {"gd_fisher_create", create_setup,    create_call,
                          create_failed,      create_succeeded, create_teardown};
    sweep(&c);
}
END_TEST

START_TEST(fisher_add_tensor)
{
    const size_t sizes[] = {0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 63};
    const alloc_case c = {"gd_fisher_add_tensor", add_setup,     add_call,
                          add_failed,             add_succeeded, fisher_teardown};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        n_before = sizes[i];
        sweep(&c);
    }
}
END_TEST

START_TEST(fisher_dense)
{
    X = tu_alloc_f(BATCH * IN);
    DY = tu_alloc_f(BATCH * OUT);
    tu_fill_data(X, BATCH * IN, 1);
    tu_fill_data(DY, BATCH * OUT, 2);
    const alloc_case c = {"gd_fisher_accumulate_dense[_seq]", dense_setup,     dense_call,
                          dense_failed,                       dense_succeeded, fisher_teardown};
    for (seq_form = 0; seq_form < 2; seq_form++)
        sweep(&c);
    free(X);
    free(DY);
}
END_TEST

START_TEST(fisher_load)
{
    make_dir();
    snprintf(fisher_file, sizeof fisher_file, "%s/ref.safetensors", dir);
    REFERENCE = dense_fisher();
    for (size_t i = 0; i < 20; i++) /* enough tensors for the loader to grow its tables */
        add_named(REFERENCE, i);
    ck_assert_int_eq(gd_fisher_save(REFERENCE, fisher_file), GD_OK);
    const alloc_case c = {"gd_fisher_load", load_setup,      load_call,
                          create_failed,    load_succeeded, create_teardown};
    sweep(&c);
    gd_fisher_destroy(REFERENCE);
    remove_dir();
}
END_TEST

START_TEST(fisher_save)
{
    make_dir();
    const alloc_case c = {"gd_fisher_save", save_setup,     save_call,
                          save_failed,      save_succeeded, save_teardown};
    sweep(&c);
    remove_dir();
}
END_TEST

/* ---- plans ------------------------------------------------------------- */

static gd_plan *P, *OUT_P;
static gd_plan *const SENTINEL_P = (gd_plan *)&P;
static tu_plan_snap PSNAP;
static size_t plan_sites;

static gd_plan *named_plan(void)
{
    gd_plan *p = NULL;
    ck_assert_int_eq(gd_plan_create(&p, 6), GD_OK);
    const char *names[6] = {"emb", "", "l1.attn", "l1.ffn", "l2.attn", "head"};
    for (size_t i = 0; i < 6; i++)
        ck_assert_int_eq(gd_plan_set_site(p, i, names[i], (float)((i * 5) % 6)), GD_OK);
    ck_assert_int_eq(gd_plan_compute(p, GD_RULE_RANK_LINEAR, 0.1f, 0.0f), GD_OK);
    return p;
}

static void pcreate_setup(void)
{
    OUT_P = SENTINEL_P;
}
static int pcreate_call(void)
{
    return gd_plan_create(&OUT_P, plan_sites);
}
static void pcreate_failed(void)
{
    ck_assert_ptr_eq(OUT_P, SENTINEL_P);
}
static void pcreate_succeeded(void)
{
    size_t n;
    ck_assert_ptr_ne(OUT_P, SENTINEL_P);
    ck_assert_int_eq(gd_plan_size(OUT_P, &n), GD_OK);
    ck_assert_uint_eq(n, plan_sites);
}
static void pcreate_teardown(void)
{
    if (OUT_P != SENTINEL_P)
        gd_plan_destroy(OUT_P);
}

static void pset_setup(void)
{
    P = named_plan();
    tu_plan_snap_take(P, &PSNAP);
}
static int pset_call(void)
{
    return gd_plan_set_site(P, 1, "a.brand.new.name", 2.5f);
}
static void pset_failed(void)
{
    tu_plan_assert_same(P, &PSNAP); /* name, score and probabilities */
}
static void pset_succeeded(void)
{
    const char *name;
    float score, prob;
    ck_assert_int_eq(gd_plan_site_info(P, 1, &name, &score, &prob), GD_OK);
    ck_assert_str_eq(name, "a.brand.new.name");
    ck_assert(score == 2.5f);
}
static void pset_teardown(void)
{
    tu_plan_snap_free(&PSNAP);
    gd_plan_destroy(P);
    P = NULL;
}

static char plan_file[160];

static int pload_call(void)
{
    return gd_plan_load(&OUT_P, plan_file);
}
static void pload_succeeded(void)
{
    ck_assert_ptr_ne(OUT_P, SENTINEL_P);
    gd_plan *want = named_plan();
    tu_plan_snap s;
    tu_plan_snap_take(want, &s);
    tu_plan_assert_same(OUT_P, &s);
    tu_plan_snap_free(&s);
    gd_plan_destroy(want);
}

static void psave_setup(void)
{
    P = named_plan();
    write_old();
}
static int psave_call(void)
{
    return gd_plan_save(P, target);
}
static void psave_succeeded(void)
{
    ck_assert_uint_eq(tu_dir_entries(dir), 1);
    gd_plan *back = NULL;
    ck_assert_int_eq(gd_plan_load(&back, target), GD_OK);
    tu_plan_snap s;
    tu_plan_snap_take(P, &s);
    tu_plan_assert_same(back, &s);
    tu_plan_snap_free(&s);
    gd_plan_destroy(back);
}
static void psave_teardown(void)
{
    gd_plan_destroy(P);
    P = NULL;
    unlink(target);
}

START_TEST(plan_create)
{
    const alloc_case c = {"gd_plan_create", pcreate_setup,     pcreate_call,
                          pcreate_failed,   pcreate_succeeded, pcreate_teardown};
    const size_t sizes[] = {1, 2, 37, 1000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        plan_sites = sizes[i];
        sweep(&c);
    }
}
END_TEST

START_TEST(plan_set_site)
{
    const alloc_case c = {"gd_plan_set_site", pset_setup,     pset_call,
                          pset_failed,        pset_succeeded, pset_teardown};
    sweep(&c);
}
END_TEST

START_TEST(plan_load)
{
    make_dir();
    snprintf(plan_file, sizeof plan_file, "%s/ref.plan", dir);
    gd_plan *p = named_plan();
    ck_assert_int_eq(gd_plan_save(p, plan_file), GD_OK);
    gd_plan_destroy(p);
    const alloc_case c = {"gd_plan_load", pcreate_setup,   pload_call,
                          pcreate_failed, pload_succeeded, pcreate_teardown};
    sweep(&c);
    remove_dir();
}
END_TEST

START_TEST(plan_save)
{
    make_dir();
    const alloc_case c = {"gd_plan_save", psave_setup,     psave_call,
                          save_failed,    psave_succeeded, psave_teardown};
    sweep(&c);
    remove_dir();
}
END_TEST

/* ---- calls that must not allocate -------------------------------------- */

/* Arms the first allocation to fail; the call must succeed without one. */
#define NO_ALLOC(call)                                                               \
    do {                                                                             \
        gd_test_fail_alloc_after(1);                                                 \
        const int rc_ = (call);                                                      \
        const long made_ = gd_test_fail_alloc_after(0);                              \
        ck_assert_msg(rc_ == GD_OK && made_ == 0, "%s: %s, %ld allocations", #call, \
                      gd_error_name(rc_), made_);                                    \
    } while (0)

START_TEST(no_allocation_elsewhere)
{
    enum { N = 300, R = 3, C = 100 };
    float *x = tu_alloc_f(N), *y = tu_alloc_f(N), *z = tu_alloc_f(N), p_cols[C], bias[C];
    uint8_t mask[N / 8 + 1];
    uint32_t words[N];
    tu_fill_data(x, N, 3);
    for (size_t c = 0; c < C; c++) {
        p_cols[c] = (float)c / C;
        bias[c] = (float)c;
    }
    const gd_stream s = {1, 2, 3};
    float sigma;
    NO_ALLOC(gd_random_u32(words, N, &s));
    NO_ALLOC(gd_random_normal(z, N, &s));
    NO_ALLOC(gd_mask_bernoulli(mask, N, 0.3f, &s));
    NO_ALLOC(gd_dropout_fwd(y, x, N, 0.3f, &s, mask));
    NO_ALLOC(gd_dropout_bwd(z, y, N, 0.3f, &s, NULL));
    NO_ALLOC(gd_dropout_bwd(z, y, N, 0.3f, NULL, mask));
    NO_ALLOC(gd_dropout_fwd_cols(y, x, R, C, p_cols, &s, mask));
    NO_ALLOC(gd_dropout_bwd_cols(z, y, R, C, p_cols, &s, NULL));
    NO_ALLOC(gd_dropout_add_fwd(y, x, bias, x, R, C, 0.3f, &s, mask));
    NO_ALLOC(gd_dropout_add_bwd(z, bias, y, R, C, 0.3f, &s, NULL));
    NO_ALLOC(gd_sum_cols(bias, x, R, C));
    NO_ALLOC(gd_gaussian_dropout_fwd(y, x, N, 0.5f, &s));
    NO_ALLOC(gd_gaussian_dropout_bwd(z, y, N, 0.5f, &s));
    NO_ALLOC(gd_gaussian_sigma(0.1f, &sigma));

    gd_fisher *f = dense_fisher(), *g = dense_fisher();
    float grads[2 * OUT * IN], est[OUT * IN], scores[4];
    double sums[OUT * IN], w;
    size_t n, id;
    const char *name;
    tu_fill_data(grads, 2 * OUT * IN, 9);
    float v[7];
    for (size_t j = 0; j < 7; j++)
        v[j] = 1e-4f * (float)(j + 1);
    NO_ALLOC(gd_fisher_accumulate(f, 0, grads, 1.0f));
    NO_ALLOC(gd_fisher_accumulate_batch(f, 0, grads, 2));
    NO_ALLOC(gd_fisher_from_adam(f, 2, v, 0.999f, 100, 8));
    NO_ALLOC(gd_fisher_read(f, 0, est, OUT * IN, &w));
    NO_ALLOC(gd_fisher_sums(f, 0, sums, OUT * IN, &w));
    NO_ALLOC(gd_fisher_set_sums(f, 1, sums, OUT, w));
    NO_ALLOC(gd_fisher_merge(f, g));
    NO_ALLOC(gd_fisher_count(f, &n));
    NO_ALLOC(gd_fisher_find(f, "fc.b", &id));
    NO_ALLOC(gd_fisher_info(f, 1, &name, &n, &id));
    NO_ALLOC(gd_fisher_site_count(f, &n));
    for (int r = GD_REDUCE_TENSOR_MEAN; r <= GD_REDUCE_MAX; r++)
        NO_ALLOC(gd_fisher_site_scores(f, r, scores, 2));
    NO_ALLOC(gd_fisher_unit_scores(f, 0, OUT, IN, GD_AXIS_ROWS, est));
    NO_ALLOC(gd_fisher_unit_scores(f, 0, OUT, IN, GD_AXIS_COLS, est));
    gd_fisher_destroy(f);
    gd_fisher_destroy(g);

    gd_plan *p = named_plan();
    float probs[6], prob, score;
    const float new_scores[6] = {6, 5, 4, 3, 2, 1};
    NO_ALLOC(gd_plan_size(p, &n));
    NO_ALLOC(gd_plan_set_scores(p, new_scores, 6));
    NO_ALLOC(gd_plan_set_site(p, 2, NULL, 7.0f)); /* no name: nothing to copy */
    for (int rule = GD_RULE_UNIFORM; rule <= GD_RULE_LOG_SCORE_LINEAR; rule++)
        NO_ALLOC(gd_plan_compute(p, rule, 0.2f, 0.05f));
    NO_ALLOC(gd_plan_get(p, 3, &prob));
    NO_ALLOC(gd_plan_get_all(p, probs, 6));
    NO_ALLOC(gd_plan_site_info(p, 4, &name, &score, &prob));
    gd_plan_destroy(p);
    free(x);
    free(y);
    free(z);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, fisher_create);
    tcase_add_test(tc, fisher_add_tensor);
    tcase_add_test(tc, fisher_dense);
    tcase_add_test(tc, fisher_load);
    tcase_add_test(tc, fisher_save);
    tcase_add_test(tc, plan_create);
    tcase_add_test(tc, plan_set_site);
    tcase_add_test(tc, plan_load);
    tcase_add_test(tc, plan_save);
    tcase_add_test(tc, no_allocation_elsewhere);
}

int main(void)
{
    return tu_run("alloc", add_tests, 300);
}

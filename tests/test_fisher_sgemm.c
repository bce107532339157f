/* A host's own sgemm (gd_fisher_set_sgemm, GDROPOUT_1.1): a counting
 * wrapper around OpenBLAS gives results identical to the default bit for
 * bit with exactly the calls the contract describes; the column-major
 * recipe of fisher.h and a plain-C sgemm agree with the double reference;
 * NULL restores the default; load and merge keep the setting per object. */
#include "test_util.h"

#include <cblas.h>
#include <check.h>
#ifdef GD_HAVE_BLIS
#include <blis.h>
#include <dlfcn.h>
#endif

/* What the counting wrapper saw. */
typedef struct sgemm_log {
    unsigned calls;
    int trans_a, trans_b;
    size_t m, n, k_max, lda, ldb, ldc;
    float alpha, beta;
} sgemm_log;

/* The host's sgemm: OpenBLAS with the same arguments, counted. */
static void counting_sgemm(void *user, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                           float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                           float beta, float *c, size_t ldc)
{
    sgemm_log *log = user;
    log->calls++;
    log->trans_a = trans_a, log->trans_b = trans_b;
    log->m = m, log->n = n, log->lda = lda, log->ldb = ldb, log->ldc = ldc;
    log->k_max = k > log->k_max ? k : log->k_max;
    log->alpha = alpha, log->beta = beta;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a, (int)lda,
                b, (int)ldb, beta, c, (int)ldc);
}

/* Fortran's column-major sgemm, as fisher.h tells a host to call it. */
void sgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
            const float *alpha, const float *a, const int *lda, const float *b, const int *ldb,
            const float *beta, float *c, const int *ldc);

static void colmajor_sgemm(void *user, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                           float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                           float beta, float *c, size_t ldc)
{
    (*(unsigned *)user)++;
    const int im = (int)m, in = (int)n, ik = (int)k, ia = (int)lda, ib = (int)ldb,
              ic = (int)ldc;
    /* C^T = op(B)^T op(A)^T: operands swapped, flags kept */
    sgemm_(trans_b ? "T" : "N", trans_a ? "T" : "N", &in, &im, &ik, &alpha, b, &ib, a, &ia,
           &beta, c, &ic);
}

/* A plain-C sgemm honouring every argument, summing in double; it writes C
 * without reading it when beta == 0, as the contract allows. */
static void plain_sgemm(void *user, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                        float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                        float beta, float *c, size_t ldc)
{
    (*(unsigned *)user)++;
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double s = 0.0;
            for (size_t p = 0; p < k; p++) {
                const float av = trans_a ? a[p * lda + i] : a[i * lda + p];
                const float bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
                s += (double)av * (double)bv;
            }
            const double old = beta == 0.0f ? 0.0 : (double)beta * c[i * ldc + j];
            c[i * ldc + j] = (float)((double)alpha * s + old);
        }
    }
}

/* Shapes: single examples over two chunks of 1024, and sequences. */
enum { B = 1500, IN = 7, OUT = 5, SB = 6, T = 9 };

typedef struct inputs {
    float x[B * IN], dy[B * OUT], sx[SB * T * IN], sdy[SB * T * OUT];
} inputs;

static const inputs *the_inputs(void)
{
    static inputs in;
    static int ready;
    if (!ready) {
        tu_fill_normal(in.x, B * IN, 41, 1.0);
        tu_fill_normal(in.dy, B * OUT, 42, 0.01);
        tu_fill_normal(in.sx, SB * T * IN, 43, 1.0);
        tu_fill_normal(in.sdy, SB * T * OUT, 44, 0.1);
        ready = 1;
    }
    return &in;
}

/* A fisher with w/b (single examples) and sw/sb (sequences), both paths run. */
static gd_fisher *run_dense(gd_sgemm_fn fn, void *user)
{
    const inputs *in = the_inputs();
    gd_fisher *f = NULL;
    ck_assert_int_eq(gd_fisher_create(&f), GD_OK);
    ck_assert_int_eq(gd_fisher_add_tensor(f, "w", OUT * IN, 0, NULL), GD_OK);
    ck_assert_int_eq(gd_fisher_add_tensor(f, "b", OUT, 0, NULL), GD_OK);
    ck_assert_int_eq(gd_fisher_add_tensor(f, "sw", OUT * IN, 1, NULL), GD_OK);
    ck_assert_int_eq(gd_fisher_add_tensor(f, "sb", OUT, 1, NULL), GD_OK);
    if (fn)
        ck_assert_int_eq(gd_fisher_set_sgemm(f, fn, user), GD_OK);
    ck_assert_int_eq(gd_fisher_accumulate_dense(f, 0, 1, in->x, in->dy, B, IN, OUT), GD_OK);
    ck_assert_int_eq(gd_fisher_accumulate_dense_seq(f, 2, 3, in->sx, in->sdy, SB, T, IN, OUT),
                     GD_OK);
    return f;
}

/* Largest relative difference of tensor id's sums between f and g. */
static double max_rel_diff(const gd_fisher *f, const gd_fisher *g, size_t id, size_t n)
{
    double a[OUT * IN], b[OUT * IN], m = 0.0;
    ck_assert_int_eq(gd_fisher_sums(f, id, a, n, NULL), GD_OK);
    ck_assert_int_eq(gd_fisher_sums(g, id, b, n, NULL), GD_OK);
    for (size_t j = 0; j < n; j++) {
        ck_assert(b[j] > 0.0);
        const double e = fabs(a[j] - b[j]) / b[j];
        m = e > m ? e : m;
    }
    return m;
}

/* A host's sgemm that is OpenBLAS itself, counted: the calls carry the
 * documented arguments, and the estimates are the default's bit for bit
 * where the default is that sgemm (the scalar family); above it the
 * default forms the products in registers (fisher.h), within the tolerance
 * other_sgemms_match_the_reference gives two sgemms. */
START_TEST(counting_wrapper_matches_default)
{
    gd_fisher *def = run_dense(NULL, NULL);
    sgemm_log log = {0};
    gd_fisher *host = run_dense(counting_sgemm, &log);
    /* two chunks (1024 + 476) for the single examples, one call per sequence */
    ck_assert_uint_eq(log.calls, 2 + SB);
    ck_assert_int_eq(log.trans_a, 1);
    ck_assert_int_eq(log.trans_b, 0);
    ck_assert_uint_eq(log.m, OUT);
    ck_assert_uint_eq(log.n, IN);
    ck_assert_uint_eq(log.k_max, 1024);
    ck_assert_uint_eq(log.lda, OUT);
    ck_assert_uint_eq(log.ldb, IN);
    ck_assert_uint_eq(log.ldc, IN);
    ck_assert(log.alpha == 1.0f && log.beta == 0.0f);
    if (strcmp(gd_dispatch_name(), "scalar") == 0) {
        tu_fisher_snap a;
        tu_fisher_snap_take(def, &a);
        tu_fisher_assert_same(host, &a); /* every sum and weight, bit for bit */
        tu_fisher_snap_free(&a);
    } else {
        const double e = max_rel_diff(host, def, 0, OUT * IN), es = max_rel_diff(host, def, 2, OUT * IN);
        fprintf(stderr, "OpenBLAS as the host's sgemm vs the registers: %.3g / %.3g\n", e, es);
        ck_assert(e <= 2e-5 && es <= 2e-4);
        ck_assert(max_rel_diff(host, def, 1, OUT) == 0.0 && max_rel_diff(host, def, 3, OUT) == 0.0);
    }
    gd_fisher_destroy(def);
    gd_fisher_destroy(host);
}
END_TEST

START_TEST(other_sgemms_match_the_reference)
{
    gd_fisher *def = run_dense(NULL, NULL);
    unsigned calls = 0;
    gd_fisher *col = run_dense(colmajor_sgemm, &calls);
    ck_assert_uint_eq(calls, 2 + SB);
    calls = 0;
    gd_fisher *plain = run_dense(plain_sgemm, &calls);
    ck_assert_uint_eq(calls, 2 + SB);
    /* OpenBLAS sums floats in its own order (and the default sequence
     * path, with SIMD, in registers by fmaf); plain_sgemm in double.  The
     * dense tests hold the defaults to 1e-5 (single) and 1e-4 (sequences)
     * of a double reference, so two products differ by at most twice that. */
    const double ec = max_rel_diff(col, def, 0, OUT * IN), ecs = max_rel_diff(col, def, 2, OUT * IN);
    const double ep = max_rel_diff(plain, def, 0, OUT * IN),
                 eps = max_rel_diff(plain, def, 2, OUT * IN);
    fprintf(stderr, "col-major sgemm_ vs default: %.3g / %.3g; plain C: %.3g / %.3g\n", ec, ecs,
            ep, eps);
    ck_assert(ec <= 2e-5 && ep <= 2e-5);
    ck_assert(ecs <= 2e-4 && eps <= 2e-4);
    /* the bias never goes through sgemm: identical */
    ck_assert(max_rel_diff(plain, def, 1, OUT) == 0.0 && max_rel_diff(plain, def, 3, OUT) == 0.0);
    gd_fisher_destroy(def);
    gd_fisher_destroy(col);
    gd_fisher_destroy(plain);
}
END_TEST

START_TEST(null_restores_default_and_errors)
{
    ck_assert_int_eq(gd_fisher_set_sgemm(NULL, counting_sgemm, NULL), GD_EINVAL);
    ck_assert_int_eq(gd_fisher_set_sgemm(NULL, NULL, NULL), GD_EINVAL);
    const inputs *in = the_inputs();
    gd_fisher *f = NULL;
    ck_assert_int_eq(gd_fisher_create(&f), GD_OK);
    ck_assert_int_eq(gd_fisher_add_tensor(f, "w", OUT * IN, 0, NULL), GD_OK);
    sgemm_log log = {0};
    ck_assert_int_eq(gd_fisher_set_sgemm(f, counting_sgemm, &log), GD_OK);
    /* a refused call never reaches the host's sgemm */
    float bad[IN * 2];
    memcpy(bad, in->x, sizeof bad);
    bad[3] = NAN;
    TU_FISHER_FAILS(f, GD_EDOMAIN, gd_fisher_accumulate_dense(f, 0, GD_NONE, bad, in->dy, 2, IN, OUT));
    TU_FISHER_FAILS(f, GD_ESHAPE, gd_fisher_accumulate_dense(f, 0, GD_NONE, in->x, in->dy, 2, IN, 4));
    ck_assert_uint_eq(log.calls, 0);
    ck_assert_int_eq(gd_fisher_accumulate_dense(f, 0, GD_NONE, in->x, in->dy, 3, IN, OUT), GD_OK);
    ck_assert_uint_eq(log.calls, 1);
    /* NULL: back to OpenBLAS, the counter stays */
    ck_assert_int_eq(gd_fisher_set_sgemm(f, NULL, &log), GD_OK);
    ck_assert_int_eq(gd_fisher_accumulate_dense(f, 0, GD_NONE, in->x, in->dy, 3, IN, OUT), GD_OK);
    ck_assert_int_eq(gd_fisher_accumulate_dense_seq(f, 0, GD_NONE, in->sx, in->sdy, 2, T, IN, OUT),
                     GD_OK);
    ck_assert_uint_eq(log.calls, 1);
    gd_fisher_destroy(f);
}
END_TEST

START_TEST(setting_is_per_object)
{
    char dir[64], path[96];
    tu_tmpdir_make(dir, sizeof dir, "gd_sgemm");
    snprintf(path, sizeof path, "%s/f.safetensors", dir);
    sgemm_log log_a = {0}, log_b = {0};
    gd_fisher *a = run_dense(counting_sgemm, &log_a);
    gd_fisher *b = run_dense(counting_sgemm, &log_b);
    ck_assert_uint_eq(log_a.calls, 2 + SB);
    ck_assert_uint_eq(log_b.calls, 2 + SB);
    /* merge: dst keeps its own sgemm, src's is not taken */
    ck_assert_int_eq(gd_fisher_set_sgemm(b, NULL, NULL), GD_OK);
    ck_assert_int_eq(gd_fisher_merge(b, a), GD_OK);
    const inputs *in = the_inputs();
    ck_assert_int_eq(gd_fisher_accumulate_dense(b, 0, 1, in->x, in->dy, 3, IN, OUT), GD_OK);
    ck_assert_uint_eq(log_b.calls, 2 + SB);
    ck_assert_int_eq(gd_fisher_merge(a, b), GD_OK);
    ck_assert_int_eq(gd_fisher_accumulate_dense(a, 0, 1, in->x, in->dy, 3, IN, OUT), GD_OK);
    ck_assert_uint_eq(log_a.calls, 2 + SB + 1);
    /* load: a new object, with the default */
    ck_assert_int_eq(gd_fisher_save(a, path), GD_OK);
    gd_fisher *c = NULL;
    ck_assert_int_eq(gd_fisher_load(&c, path), GD_OK);
    ck_assert_int_eq(gd_fisher_accumulate_dense(c, 0, 1, in->x, in->dy, 3, IN, OUT), GD_OK);
    ck_assert_uint_eq(log_a.calls, 2 + SB + 1);
    gd_fisher_destroy(a);
    gd_fisher_destroy(b);
    gd_fisher_destroy(c);
    tu_tmpdir_remove(dir);
}
END_TEST

#ifdef GD_HAVE_BLIS
/* BLIS, a second BLAS beside OpenBLAS.  Its typed API is reached through
 * dlopen(RTLD_LOCAL): linked normally, its cblas_sgemm and sgemm_ would
 * interpose OpenBLAS's and the "default" side would be BLIS too. */
typedef void (*bli_sgemm_fn)(trans_t, trans_t, dim_t, dim_t, dim_t, float *, float *, inc_t,
                             inc_t, float *, inc_t, inc_t, float *, float *, inc_t, inc_t);
typedef struct blis_host {
    bli_sgemm_fn sgemm;
    unsigned calls;
} blis_host;

static blis_host blis;

static void blis_sgemm(void *user, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                       float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                       float beta, float *c, size_t ldc)
{
    blis_host *h = user;
    h->calls++;
    /* BLIS takes any strides: row-major is row stride ld, column stride 1;
     * it reads but never writes A and B */
    h->sgemm(trans_a ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
             trans_b ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, (dim_t)m, (dim_t)n, (dim_t)k, &alpha,
             (float *)a, (inc_t)lda, 1, (float *)b, (inc_t)ldb, 1, &beta, c, (inc_t)ldc, 1);
}

START_TEST(blis_matches_openblas)
{
    gd_fisher *def = run_dense(NULL, NULL);
    gd_fisher *host = run_dense(blis_sgemm, &blis);
    ck_assert_uint_eq(blis.calls, 2 + SB);
    /* the bound of other_sgemms_match_the_reference */
    const double e = max_rel_diff(host, def, 0, OUT * IN), es = max_rel_diff(host, def, 2, OUT * IN);
    fprintf(stderr, "BLIS vs OpenBLAS: max rel diff W %.3g, sequences %.3g\n", e, es);
    ck_assert(e <= 2e-5 && es <= 2e-4);
    ck_assert(max_rel_diff(host, def, 1, OUT) == 0.0);
    gd_fisher_destroy(def);
    gd_fisher_destroy(host);
}
END_TEST

static void add_blis_test(TCase *tc)
{
    tcase_add_test(tc, blis_matches_openblas);
}

static int run_blis(void)
{
    void *lib = dlopen("libblis.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        printf("test_fisher_sgemm: no libblis.so.4 (%s), skipped\n", dlerror());
        return 77;
    }
    /* POSIX: a data pointer from dlsym converts to a function pointer */
    void *sym = dlsym(lib, "bli_sgemm");
    if (!sym) {
        fprintf(stderr, "test_fisher_sgemm: libblis.so.4 has no bli_sgemm: %s\n", dlerror());
        return 1;
    }
    memcpy(&blis.sgemm, &sym, sizeof blis.sgemm);
    /* never dlclose'd: BLIS's and libgomp's globals keep their memory
     * reachable, which LeakSanitizer would report once they were unmapped */
    return tu_run("fisher_sgemm_blis", add_blis_test, 120);
}
#endif

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, counting_wrapper_matches_default);
    tcase_add_test(tc, other_sgemms_match_the_reference);
    tcase_add_test(tc, null_restores_default_and_errors);
    tcase_add_test(tc, setting_is_per_object);
}

/* No argument: the tests above.  "blis": the same against BLIS, exit 77
 * (skipped) when the build has no blis.h or the machine no libblis.so.4. */
int main(int argc, char **argv)
{
    if (argc < 2)
        return tu_run("fisher_sgemm", add_tests, 120);
    if (strcmp(argv[1], "blis") != 0) {
        fprintf(stderr, "usage: test_fisher_sgemm [blis]\n");
        return 2;
    }
#ifdef GD_HAVE_BLIS
    return run_blis();
#else
    printf("test_fisher_sgemm: built without blis.h, skipped\n");
    return 77;
#endif
}

/* Fisher accumulators: registry, per-example, dense GEMM paths against naive
 * double references, merging, sums, the Adam estimate, site/unit scores. */
#include "test_util.h"
#include "internal.h"
#include "kernels.h" /* gd_prod_packs */

#include <check.h>

static gd_fisher *new_fisher(void)
{
    gd_fisher *f = NULL;
    ck_assert_int_eq(gd_fisher_create(&f), GD_OK);
    return f;
}

static size_t add(gd_fisher *f, const char *name, size_t numel, size_t site)
{
    size_t id = 99;
    ck_assert_int_eq(gd_fisher_add_tensor(f, name, numel, site, &id), GD_OK);
    return id;
}

static double *get_sums(const gd_fisher *f, size_t id, size_t numel, double *w)
{
    double *s = malloc(numel * sizeof *s);
    ck_assert_int_eq(gd_fisher_sums(f, id, s, numel, w), GD_OK);
    return s;
}

START_TEST(registry)
{
    gd_fisher *f = new_fisher();
    size_t id, n, numel, site;
    const char *name;
    ck_assert_int_eq(add(f, "a.weight", 6, 0), 0);
    ck_assert_int_eq(add(f, "a.bias", 3, 0), 1);
    ck_assert_int_eq(add(f, "gamma beta \xc3\xa9", 2, GD_NONE), 2); /* spaces, UTF-8 ok */
    ck_assert_int_eq(gd_fisher_add_tensor(f, "a.bias", 3, 0, &id), GD_EEXIST);
    ck_assert_int_eq(gd_fisher_add_tensor(f, "", 3, 0, &id), GD_EINVAL);
    ck_assert_int_eq(gd_fisher_add_tensor(f, "x", 0, 0, &id), GD_EINVAL);
    ck_assert_int_eq(gd_fisher_add_tensor(f, "tab\there", 1, 0, &id), GD_EINVAL);
    ck_assert_int_eq(gd_fisher_add_tensor(f, "bad\xff", 1, 0, &id), GD_EINVAL);
    ck_assert_int_eq(gd_fisher_add_tensor(f, "c1\xc2\x85", 1, 0, &id), GD_EINVAL);
    ck_assert_int_eq(gd_fisher_add_tensor(f, "x", SIZE_MAX / 4, 0, &id), GD_EOVERFLOW);
    ck_assert_int_eq(gd_fisher_add_tensor(NULL, "x", 1, 0, &id), GD_EINVAL);
    char longname[300];
    memset(longname, 'n', sizeof longname);
    longname[255] = '\0';
    ck_assert_int_eq(gd_fisher_add_tensor(f, longname, 1, 1, NULL), GD_OK);
    longname[255] = 'n';
    longname[256] = '\0';
    ck_assert_int_eq(gd_fisher_add_tensor(f, longname, 1, 1, NULL), GD_EINVAL);
    ck_assert_int_eq(gd_fisher_count(f, &n), GD_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(gd_fisher_find(f, "a.bias", &id), GD_OK);
    ck_assert_uint_eq(id, 1);
    ck_assert_int_eq(gd_fisher_find(f, "nope", &id), GD_ENOTFOUND);
    ck_assert_int_eq(gd_fisher_info(f, 2, &name, &numel, &site), GD_OK);
    ck_assert_str_eq(name, "gamma beta \xc3\xa9");
    ck_assert_uint_eq(numel, 2);
    ck_assert_uint_eq(site, GD_NONE);
    ck_assert_int_eq(gd_fisher_info(f, 4, &name, NULL, NULL), GD_ENOTFOUND);
    ck_assert_int_eq(gd_fisher_site_count(f, &n), GD_OK);
    ck_assert_uint_eq(n, 2);
    gd_fisher_destroy(f);
    gd_fisher_destroy(NULL);
}
END_TEST

/* Many names: the hash table grows and every name is still found. */
START_TEST(many_names)
{
    gd_fisher *f = new_fisher();
    char name[32];
    for (size_t i = 0; i < 3000; i++) {
        snprintf(name, sizeof name, "layer.%zu.w", i);
        ck_assert_uint_eq(add(f, name, 1, i % 7), i);
    }
    for (size_t i = 0; i < 3000; i += 7) {
        size_t id;
        snprintf(name, sizeof name, "layer.%zu.w", i);
        ck_assert_int_eq(gd_fisher_find(f, name, &id), GD_OK);
        ck_assert_uint_eq(id, i);
    }
    gd_fisher_destroy(f);
}
END_TEST

START_TEST(accumulate_by_hand)
{
    gd_fisher *f = new_fisher();
    const size_t id = add(f, "w", 3, 0);
    const float g1[3] = {1.0f, -2.0f, 0.5f}, g2[3] = {3.0f, 0.0f, -1.0f};
    float e[3] = {7, 7, 7};
    double w;
    ck_assert_int_eq(gd_fisher_read(f, id, e, 3, &w), GD_ESTATE);
    ck_assert(e[0] == 7.0f);
    ck_assert_int_eq(gd_fisher_accumulate(f, id, g1, 1.0f), GD_OK);
    ck_assert_int_eq(gd_fisher_accumulate(f, id, g2, 3.0f), GD_OK);
    ck_assert_int_eq(gd_fisher_read(f, id, e, 3, &w), GD_OK);
    ck_assert(w == 4.0);
    ck_assert(e[0] == (float)((1.0 + 27.0) / 4.0));
    ck_assert(e[1] == 1.0f);
    ck_assert(e[2] == (float)((0.25 + 3.0) / 4.0));
    /* refused input changes nothing */
    const float bad[3] = {1.0f, NAN, 1.0f}, inf[3] = {INFINITY, 0, 0};
    ck_assert_int_eq(gd_fisher_accumulate(f, id, bad, 1.0f), GD_EDOMAIN);
    ck_assert_int_eq(gd_fisher_accumulate(f, id, inf, 1.0f), GD_EDOMAIN);
    ck_assert_int_eq(gd_fisher_accumulate(f, id, g1, -1.0f), GD_EDOMAIN);
    ck_assert_int_eq(gd_fisher_accumulate(f, id, g1, NAN), GD_EDOMAIN);
    ck_assert_int_eq(gd_fisher_accumulate(f, id, NULL, 1.0f), GD_EINVAL);
    ck_assert_int_eq(gd_fisher_accumulate(f, 5, g1, 1.0f), GD_ENOTFOUND);
    ck_assert_int_eq(gd_fisher_accumulate_batch(f, id, bad, 1), GD_EDOMAIN);
    ck_assert_int_eq(gd_fisher_accumulate_batch(f, id, g1, SIZE_MAX / 2), GD_EOVERFLOW);
    ck_assert_int_eq(gd_fisher_accumulate_batch(f, id, NULL, 0), GD_OK);
    ck_assert_int_eq(gd_fisher_read(f, id, e, 2, &w), GD_ESHAPE);
    ck_assert_int_eq(gd_fisher_read(f, id, e, 3, &w), GD_OK);
    ck_assert(w == 4.0 && e[1] == 1.0f);
    gd_fisher_destroy(f);
}
END_TEST

/* A batch call equals one accumulate per row, bit for bit. */
START_TEST(batch_equals_per_sample)
{
    enum { B = 9, N = 17 };
    float g[B * N];
    tu_fill_data(g, B * N, 3);
    gd_fisher *f = new_fisher();
    const size_t a = add(f, "a", N, 0), b = add(f, "b", N, 0);
    ck_assert_int_eq(gd_fisher_accumulate_batch(f, a, g, B), GD_OK);
    for (size_t i = 0; i < B; i++)
        ck_assert_int_eq(gd_fisher_accumulate(f, b, g + i * N, 1.0f), GD_OK);
    double wa, wb, *sa = get_sums(f, a, N, &wa), *sb = get_sums(f, b, N, &wb);
    ck_assert(wa == B && wb == B);
    ck_assert_mem_eq(sa, sb, N * sizeof *sa);
    free(sa);
    free(sb);
    gd_fisher_destroy(f);
}
END_TEST

/* Naive double reference for a dense layer: per example G = dy x^T (summed
 * over positions for sequences), then squared. */
static void naive_dense(const float *x, const float *dy, size_t batch, size_t seq, size_t in,
                        size_t out, double *w_ref, double *b_ref)
{
    memset(w_ref, 0, out * in * sizeof *w_ref);
    memset(b_ref, 0, out * sizeof *b_ref);
    double *g = malloc(out * in * sizeof *g), *gb = malloc(out * sizeof *gb);
    for (size_t b = 0; b < batch; b++) {
        memset(g, 0, out * in * sizeof *g);
        memset(gb, 0, out * sizeof *gb);
        for (size_t t = 0; t < seq; t++) {
            const float *xt = x + (b * seq + t) * in, *dyt = dy + (b * seq + t) * out;
            for (size_t o = 0; o < out; o++) {
                gb[o] += dyt[o];
                for (size_t i = 0; i < in; i++)
                    g[o * in + i] += (double)dyt[o] * (double)xt[i];
            }
        }
        for (size_t k = 0; k < out * in; k++)
            w_ref[k] += g[k] * g[k];
        for (size_t o = 0; o < out; o++)
            b_ref[o] += gb[o] * gb[o];
    }
    free(g);
    free(gb);
}

/* Largest relative error of sums against ref. */
static double max_rel_err(const double *sums, const double *ref, size_t n)
{
    double m = 0.0;
    for (size_t k = 0; k < n; k++) {
        const double e = fabs(sums[k] - ref[k]) / fabs(ref[k]);
        m = e > m ? e : m;
    }
    return m;
}

static void check_dense(size_t batch, size_t in, size_t out, uint64_t seed)
{
    float *x = tu_alloc_f(batch * in), *dy = tu_alloc_f(batch * out);
    tu_fill_normal(x, batch * in, seed, 1.0);
    tu_fill_normal(dy, batch * out, seed + 1, 0.01);
    double *wr = malloc(out * in * sizeof *wr), *br = malloc(out * sizeof *br);
    naive_dense(x, dy, batch, 1, in, out, wr, br);
    gd_fisher *f = new_fisher();
    const size_t w = add(f, "w", out * in, 0), b = add(f, "b", out, 0);
    ck_assert_int_eq(gd_fisher_accumulate_dense(f, w, b, x, dy, batch, in, out), GD_OK);
    double ww, wb, *sw = get_sums(f, w, out * in, &ww), *sb = get_sums(f, b, out, &wb);
    ck_assert(ww == (double)batch && wb == (double)batch);
    const double ew = max_rel_err(sw, wr, out * in), eb = max_rel_err(sb, br, out);
    fprintf(stderr, "dense batch %zu in %zu out %zu: max rel err W %.3g bias %.3g\n", batch, in,
            out, ew, eb);
    ck_assert(ew <= 1e-5);
    ck_assert(eb <= 1e-12);
    free(sw), free(sb), free(wr), free(br), free(x), free(dy);
    gd_fisher_destroy(f);
}

START_TEST(dense_vs_naive)
{
    check_dense(37, 19, 23, 11);
    check_dense(1, 5, 3, 12);
    check_dense(1500, 7, 5, 13); /* more than one chunk of 1024 examples */
}
END_TEST

/* The dense path equals per-example gradients fed one by one. */
START_TEST(dense_equals_per_sample)
{
    enum { B = 16, IN = 8, OUT = 6 };
    float x[B * IN], dy[B * OUT], g[OUT * IN], gb[OUT];
    tu_fill_normal(x, B * IN, 21, 1.0);
    tu_fill_normal(dy, B * OUT, 22, 1.0);
    gd_fisher *f = new_fisher();
    const size_t w1 = add(f, "w1", OUT * IN, 0), b1 = add(f, "b1", OUT, 0);
    const size_t w2 = add(f, "w2", OUT * IN, 1), b2 = add(f, "b2", OUT, 1);
    ck_assert_int_eq(gd_fisher_accumulate_dense(f, w1, b1, x, dy, B, IN, OUT), GD_OK);
    for (size_t b = 0; b < B; b++) {
        for (size_t o = 0; o < OUT; o++) {
            gb[o] = dy[b * OUT + o];
            for (size_t i = 0; i < IN; i++)
                g[o * IN + i] = dy[b * OUT + o] * x[b * IN + i];
        }
        ck_assert_int_eq(gd_fisher_accumulate(f, w2, g, 1.0f), GD_OK);
        ck_assert_int_eq(gd_fisher_accumulate(f, b2, gb, 1.0f), GD_OK);
    }
    double s1w, s2w, *a = get_sums(f, w1, OUT * IN, &s1w), *b = get_sums(f, w2, OUT * IN, &s2w);
    ck_assert(s1w == s2w);
    ck_assert(max_rel_err(a, b, OUT * IN) <= 1e-5);
    free(a), free(b);
    a = get_sums(f, b1, OUT, NULL), b = get_sums(f, b2, OUT, NULL);
    ck_assert_mem_eq(a, b, OUT * sizeof *a); /* both exact double squares */
    free(a), free(b);
    gd_fisher_destroy(f);
}
END_TEST

/* Sequences of shapes that fill whole SIMD tiles, leave rows and columns
 * over, and span several column blocks, against a double reference with a
 * rigorous bound for each estimate: a float sum of seq terms, in any order
 * and fused or not, is within e = gamma(seq) sum_t |dy_t x_t| of the exact
 * sum g (gamma(n) = n u / (1 - n u), u = 2^-24), so its square is within
 * 2|g| e + e^2, summed over the examples (the double work adds ~1e-16). */
static void check_dense_seq_bound(size_t batch, size_t seq, size_t in, size_t out, uint64_t seed)
{
    const size_t rows = batch * seq;
    float *x = tu_alloc_f(rows * in), *dy = tu_alloc_f(rows * out);
    tu_fill_normal(x, rows * in, seed, 1.0);
    tu_fill_normal(dy, rows * out, seed + 1, 0.1);
    for (size_t k = 0; k < rows * in; k += 7)
        x[k] = 0.0f; /* exact zeros among the terms */
    double *want = calloc(out * in, sizeof *want), *tol = calloc(out * in, sizeof *tol);
    for (size_t b = 0; b < batch; b++)
        for (size_t o = 0; o < out; o++)
            for (size_t i = 0; i < in; i++) {
                double e;
                const double g =
                    tu_ref_seq_grad(x + b * seq * in, dy + b * seq * out, seq, in, out, o, i, &e);
                want[o * in + i] += g * g;
                tol[o * in + i] += 2.0 * fabs(g) * e + e * e;
            }
    gd_fisher *f = new_fisher();
    const size_t w = add(f, "w", out * in, 0);
    ck_assert_int_eq(gd_fisher_accumulate_dense_seq(f, w, GD_NONE, x, dy, batch, seq, in, out),
                     GD_OK);
    double ww, *sw = get_sums(f, w, out * in, &ww);
    ck_assert(ww == (double)batch);
    double worst = 0.0;
    for (size_t k = 0; k < out * in; k++) {
        const double d = fabs(sw[k] - want[k]), lim = tol[k] + 1e-12 * want[k];
        ck_assert_msg(d <= lim, "seq %zu in %zu out %zu: [%zu] %.17g, want %.17g +- %.3g", seq,
                      in, out, k, sw[k], want[k], lim);
        worst = d / lim > worst ? d / lim : worst;
    }
    fprintf(stderr, "dense_seq batch %zu seq %zu in %zu out %zu: worst error %.2f of its bound\n",
            batch, seq, in, out, worst);
    free(sw), free(want), free(tol), free(x), free(dy);
    gd_fisher_destroy(f);
}

START_TEST(dense_seq_tiles)
{
    check_dense_seq_bound(3, 21, 70, 19, 41);  /* rows and columns over a tile */
    check_dense_seq_bound(2, 64, 300, 11, 43); /* several column blocks */
    check_dense_seq_bound(1, 1, 129, 17, 45);  /* one position */
    check_dense_seq_bound(1, 300, 40, 9, 47);  /* blocks narrower than a tile's x */
    check_dense_seq_bound(2, 16, 128, 64, 49); /* the encoder's shape, whole tiles */
}
END_TEST

START_TEST(dense_seq_vs_naive)
{
    enum { B = 5, T = 13, IN = 11, OUT = 9 };
    float *x = tu_alloc_f(B * T * IN), *dy = tu_alloc_f(B * T * OUT);
    tu_fill_normal(x, B * T * IN, 31, 1.0);
    tu_fill_normal(dy, B * T * OUT, 32, 0.1);
    double wr[OUT * IN], br[OUT];
    naive_dense(x, dy, B, T, IN, OUT, wr, br);
    gd_fisher *f = new_fisher();
    const size_t w = add(f, "w", OUT * IN, 0), b = add(f, "b", OUT, 0);
    ck_assert_int_eq(gd_fisher_accumulate_dense_seq(f, w, b, x, dy, B, T, IN, OUT), GD_OK);
    double ww, *sw = get_sums(f, w, OUT * IN, &ww), *sb = get_sums(f, b, OUT, NULL);
    ck_assert(ww == B);
    const double ew = max_rel_err(sw, wr, OUT * IN), eb = max_rel_err(sb, br, OUT);
    fprintf(stderr, "dense_seq: max rel err W %.3g bias %.3g\n", ew, eb);
    ck_assert(ew <= 1e-4);
    ck_assert(eb <= 1e-12);
    /* seq = 1 is the single-example case */
    gd_fisher *g = new_fisher();
    const size_t w1 = add(g, "w", OUT * IN, 0), w2 = add(g, "w2", OUT * IN, 0);
    ck_assert_int_eq(gd_fisher_accumulate_dense_seq(g, w1, GD_NONE, x, dy, B, 1, IN, OUT), GD_OK);
    ck_assert_int_eq(gd_fisher_accumulate_dense(g, w2, GD_NONE, x, dy, B, IN, OUT), GD_OK);
    double *s1 = get_sums(g, w1, OUT * IN, NULL), *s2 = get_sums(g, w2, OUT * IN, NULL);
    ck_assert(max_rel_err(s1, s2, OUT * IN) <= 1e-5);
    free(s1), free(s2), free(sw), free(sb), free(x), free(dy);
    gd_fisher_destroy(f);
    gd_fisher_destroy(g);
}
END_TEST

/* The fused paths' pack scratch (src/kernels.h, gd_prod_packs): allocated
 * last, and only from GD_PROD_PACK_MIN_COLS columns on; when it cannot be had
 * the call still succeeds, to the same bits.  Allocations counted through
 * the test hook: dense takes x^2 and dy^2 (and the product's buffer at the
 * scalar level, which never packs), seq one buffer. */
static void check_pack_scratch(size_t in, bool seq)
{
    enum { B = 3, T = 5, OUT = 7 };
    const size_t rows = seq ? B * T : B;
    float *x = tu_alloc_f(rows * in), *dy = tu_alloc_f(rows * OUT);
    tu_fill_normal(x, rows * in, 61 + in, 1.0);
    tu_fill_normal(dy, rows * OUT, 62 + in, 0.5);
    const bool scalar = strcmp(gd_dispatch_name(), "scalar") == 0;
    const bool packs = !scalar && gd_prod_packs(in);
    const long want = (seq ? 1 : scalar ? 3 : 2) + (packs ? 1 : 0);
    double *sums[2];
    for (int fail = 0; fail < 2; fail++) {
        gd_fisher *f = new_fisher();
        const size_t w = add(f, "w", OUT * in, 0);
        gd_test_fail_alloc_after(fail && packs ? want : 0);
        const int rc = seq ? gd_fisher_accumulate_dense_seq(f, w, GD_NONE, x, dy, B, T, in, OUT)
                           : gd_fisher_accumulate_dense(f, w, GD_NONE, x, dy, B, in, OUT);
        const long made = gd_test_fail_alloc_after(0);
        ck_assert_int_eq(rc, GD_OK);
        ck_assert_msg(made == want, "%s in %zu: %ld allocations, want %ld",
                      seq ? "seq" : "dense", in, made, want);
        sums[fail] = get_sums(f, w, OUT * in, NULL);
        gd_fisher_destroy(f);
    }
    ck_assert_mem_eq(sums[0], sums[1], OUT * in * sizeof *sums[0]);
    free(sums[0]), free(sums[1]), free(x), free(dy);
}

START_TEST(dense_pack_scratch)
{
    ck_assert(!gd_prod_packs(GD_PROD_PACK_MIN_COLS - 1) && gd_prod_packs(GD_PROD_PACK_MIN_COLS));
    for (int seq = 0; seq < 2; seq++) {
        check_pack_scratch(GD_PROD_PACK_MIN_COLS - 1, seq);
        check_pack_scratch(GD_PROD_PACK_MIN_COLS, seq);
        check_pack_scratch(GD_PROD_PACK_MIN_COLS + 33, seq);
    }
}
END_TEST

/* Every refused dense call leaves the accumulators as they were. */
START_TEST(dense_errors)
{
    enum { B = 4, IN = 3, OUT = 2 };
    float x[B * IN], dy[B * OUT];
    tu_fill_data(x, B * IN, 5);
    tu_fill_data(dy, B * OUT, 6);
    gd_fisher *f = new_fisher();
    const size_t w = add(f, "w", OUT * IN, 0), b = add(f, "b", OUT, 0), o = add(f, "o", 5, 0);
    ck_assert_int_eq(gd_fisher_accumulate_dense(f, w, b, x, dy, B, IN, OUT), GD_OK);
    double w0, *s0 = get_sums(f, w, OUT * IN, &w0);
    ck_assert_int_eq(gd_fisher_accumulate_dense(f, w, w, x, dy, B, IN, OUT), GD_EINVAL);
    ck_assert_int_eq(gd_fisher_accumulate_dense(f, o, b, x, dy, B, IN, OUT), GD_ESHAPE);
    ck_assert_int_eq(gd_fisher_accumulate_dense(f, w, o, x, dy, B, IN, OUT), GD_ESHAPE);
    ck_assert_int_eq(gd_fisher_accumulate_dense(f, w, 9, x, dy, B, IN, OUT), GD_ENOTFOUND);
    ck_assert_int_eq(gd_fisher_accumulate_dense(f, w, b, NULL, dy, B, IN, OUT), GD_EINVAL);
    ck_assert_int_eq(gd_fisher_accumulate_dense(f, w, b, x, dy, SIZE_MAX, IN, OUT), GD_EOVERFLOW);
    ck_assert_int_eq(gd_fisher_accumulate_dense_seq(f, w, b, x, dy, B, 0, IN, OUT), GD_ESHAPE);
    x[7] = NAN;
    ck_assert_int_eq(gd_fisher_accumulate_dense(f, w, b, x, dy, B, IN, OUT), GD_EDOMAIN);
    ck_assert_int_eq(gd_fisher_accumulate_dense_seq(f, w, b, x, dy, 2, 2, IN, OUT), GD_EDOMAIN);
    x[7] = 3e19f; /* its square overflows float */
    ck_assert_int_eq(gd_fisher_accumulate_dense(f, w, b, x, dy, B, IN, OUT), GD_EDOMAIN);
    x[7] = 1e19f, dy[0] = 1e19f; /* a sum of two such products overflows */
    ck_assert_int_eq(gd_fisher_accumulate_dense_seq(f, w, b, x, dy, 2, 2, IN, OUT), GD_EDOMAIN);
    x[7] = 1.0f, dy[0] = 1.0f;
    /* each scratch buffer: x^2, dy^2 and, at the scalar level (the sgemm
     * path), the product; above it the product stays in registers */
    const long buffers = strcmp(gd_dispatch_name(), "scalar") == 0 ? 3 : 2;
    for (long k = 1; k <= buffers; k++) {
        gd_test_fail_alloc_after(k);
        ck_assert_int_eq(gd_fisher_accumulate_dense(f, w, b, x, dy, B, IN, OUT), GD_ENOMEM);
        gd_test_fail_alloc_after(0);
    }
    gd_test_fail_alloc_after(1);
    ck_assert_int_eq(gd_fisher_accumulate_dense_seq(f, w, b, x, dy, 2, 2, IN, OUT), GD_ENOMEM);
    gd_test_fail_alloc_after(0);
    ck_assert_int_eq(gd_fisher_accumulate_dense(f, w, b, x, dy, 0, IN, OUT), GD_OK);
    double w1, *s1 = get_sums(f, w, OUT * IN, &w1);
    ck_assert(w0 == w1);
    ck_assert_mem_eq(s0, s1, OUT * IN * sizeof *s0);
    free(s0), free(s1);
    gd_fisher_destroy(f);
}
END_TEST

/* Two workers' halves merged equal one pass over everything. */
START_TEST(merge_halves)
{
    enum { B = 20, IN = 6, OUT = 4 };
    float x[B * IN], dy[B * OUT];
    tu_fill_normal(x, B * IN, 41, 1.0);
    tu_fill_normal(dy, B * OUT, 42, 1.0);
    gd_fisher *all = new_fisher(), *h1 = new_fisher(), *h2 = new_fisher();
    gd_fisher *fs[3] = {all, h1, h2};
    for (int i = 0; i < 3; i++) {
        add(fs[i], "w", OUT * IN, 0);
        add(fs[i], "b", OUT, 1);
    }
    for (size_t b = 0; b < B; b++) {
        gd_fisher *h = b < B / 2 ? h1 : h2;
        ck_assert_int_eq(gd_fisher_accumulate(all, 1, dy + b * OUT, 1.0f), GD_OK);
        ck_assert_int_eq(gd_fisher_accumulate(h, 1, dy + b * OUT, 1.0f), GD_OK);
    }
    ck_assert_int_eq(gd_fisher_accumulate_dense(all, 0, GD_NONE, x, dy, B, IN, OUT), GD_OK);
    ck_assert_int_eq(gd_fisher_accumulate_dense(h1, 0, GD_NONE, x, dy, B / 2, IN, OUT), GD_OK);
    ck_assert_int_eq(gd_fisher_accumulate_dense(h2, 0, GD_NONE, x + B / 2 * IN,
                                                 dy + B / 2 * OUT, B / 2, IN, OUT),
                     GD_OK);
    ck_assert_int_eq(gd_fisher_merge(h1, h2), GD_OK);
    for (size_t id = 0; id < 2; id++) {
        const size_t n = id == 0 ? OUT * IN : OUT;
        double wa, wm, *sa = get_sums(all, id, n, &wa), *sm = get_sums(h1, id, n, &wm);
        ck_assert(wa == B && wm == B);
        ck_assert(max_rel_err(sm, sa, n) <= (id == 0 ? 1e-6 : 1e-14));
        free(sa), free(sm);
    }
    /* different tensors: refused, dst unchanged */
    gd_fisher *other = new_fisher();
    add(other, "w", OUT * IN, 0);
    add(other, "b", OUT, 2); /* another site */
    double w0, w1;
    double *s0 = get_sums(h1, 1, OUT, &w0);
    ck_assert_int_eq(gd_fisher_merge(h1, other), GD_ESHAPE);
    ck_assert_int_eq(gd_fisher_merge(h1, NULL), GD_EINVAL);
    double *s1 = get_sums(h1, 1, OUT, &w1);
    ck_assert(w0 == w1);
    ck_assert_mem_eq(s0, s1, OUT * sizeof *s0);
    free(s0), free(s1);
    gd_fisher_destroy(all), gd_fisher_destroy(h1), gd_fisher_destroy(h2);
    gd_fisher_destroy(other);
}
END_TEST

START_TEST(sums_round_trip)
{
    gd_fisher *f = new_fisher();
    const size_t id = add(f, "t", 4, 0);
    const double in[4] = {1.5, 0.0, 1e-300, 7.25};
    double out[4], w;
    float e[4];
    ck_assert_int_eq(gd_fisher_set_sums(f, id, in, 4, 2.5), GD_OK);
    ck_assert_int_eq(gd_fisher_sums(f, id, out, 4, &w), GD_OK);
    ck_assert_mem_eq(in, out, sizeof in);
    ck_assert(w == 2.5);
    ck_assert_int_eq(gd_fisher_read(f, id, e, 4, NULL), GD_OK);
    ck_assert(e[0] == (float)(1.5 / 2.5) && e[3] == (float)(7.25 / 2.5));
    const double neg[4] = {1, -1, 0, 0}, nan4[4] = {1, NAN, 0, 0};
    ck_assert_int_eq(gd_fisher_set_sums(f, id, neg, 4, 1.0), GD_EDOMAIN);
    ck_assert_int_eq(gd_fisher_set_sums(f, id, nan4, 4, 1.0), GD_EDOMAIN);
    ck_assert_int_eq(gd_fisher_set_sums(f, id, in, 4, -1.0), GD_EDOMAIN);
    ck_assert_int_eq(gd_fisher_set_sums(f, id, in, 4, INFINITY), GD_EDOMAIN);
    ck_assert_int_eq(gd_fisher_set_sums(f, id, in, 3, 1.0), GD_ESHAPE);
    ck_assert_int_eq(gd_fisher_sums(f, id, out, 3, &w), GD_ESHAPE);
    ck_assert_int_eq(gd_fisher_sums(f, 7, out, 4, &w), GD_ENOTFOUND);
    ck_assert_int_eq(gd_fisher_sums(f, id, out, 4, &w), GD_OK);
    ck_assert_mem_eq(in, out, sizeof in);
    gd_fisher_destroy(f);
}
END_TEST

START_TEST(adam_by_hand)
{
    const float v[4] = {0.0f, 1e-8f, 2.5e-3f, 3.0f};
    const float beta2 = 0.999f;
    const uint64_t step = 10;
    const size_t batch = 32;
    gd_fisher *f = new_fisher();
    const size_t id = add(f, "t", 4, 0);
    const float g[4] = {1, 1, 1, 1};
    ck_assert_int_eq(gd_fisher_accumulate(f, id, g, 5.0f), GD_OK); /* replaced below */
    ck_assert_int_eq(gd_fisher_from_adam(f, id, v, beta2, step, batch), GD_OK);
    double bc = 1.0;
    for (uint64_t t = 0; t < step; t++)
        bc *= (double)beta2;
    bc = 1.0 - bc;
    float e[4];
    double w;
    ck_assert_int_eq(gd_fisher_read(f, id, e, 4, &w), GD_OK);
    ck_assert(w == 1.0);
    for (int j = 0; j < 4; j++) {
        const double ref = 32.0 * (double)v[j] / bc;
        ck_assert_msg(tu_rel_ok(e[j], ref, 1e-7) || ref == e[j], "j %d: %g vs %g", j, e[j], ref);
    }
    /* beta2 = 0: no correction; step huge: correction 1 */
    ck_assert_int_eq(gd_fisher_from_adam(f, id, v, 0.0f, 1, 2), GD_OK);
    ck_assert_int_eq(gd_fisher_read(f, id, e, 4, NULL), GD_OK);
    ck_assert(e[3] == 6.0f);
    ck_assert_int_eq(gd_fisher_from_adam(f, id, v, 0.5f, UINT64_MAX, 1), GD_OK);
    ck_assert_int_eq(gd_fisher_read(f, id, e, 4, NULL), GD_OK);
    ck_assert(e[3] == 3.0f);
    /* refused: nothing changes */
    const float bad[4] = {0, -1, 0, 0}, nanv[4] = {0, NAN, 0, 0};
    ck_assert_int_eq(gd_fisher_from_adam(f, id, v, 1.0f, 1, 1), GD_EDOMAIN);
    ck_assert_int_eq(gd_fisher_from_adam(f, id, v, -0.1f, 1, 1), GD_EDOMAIN);
    ck_assert_int_eq(gd_fisher_from_adam(f, id, v, NAN, 1, 1), GD_EDOMAIN);
    ck_assert_int_eq(gd_fisher_from_adam(f, id, v, 0.9f, 0, 1), GD_EDOMAIN);
    ck_assert_int_eq(gd_fisher_from_adam(f, id, v, 0.9f, 1, 0), GD_EDOMAIN);
    ck_assert_int_eq(gd_fisher_from_adam(f, id, bad, 0.9f, 1, 1), GD_EDOMAIN);
    ck_assert_int_eq(gd_fisher_from_adam(f, id, nanv, 0.9f, 1, 1), GD_EDOMAIN);
    ck_assert_int_eq(gd_fisher_from_adam(f, id, NULL, 0.9f, 1, 1), GD_EINVAL);
    ck_assert_int_eq(gd_fisher_from_adam(f, 3, v, 0.9f, 1, 1), GD_ENOTFOUND);
    ck_assert_int_eq(gd_fisher_read(f, id, e, 4, NULL), GD_OK);
    ck_assert(e[3] == 3.0f);
    gd_fisher_destroy(f);
}
END_TEST

/*
 * Adam on synthetic gradients with a known Fisher: per-example gradients
 * g ~ N(0, F_j), Adam's v (in float, as a trainer keeps it) on batch means.
 * The bias-corrected v * B is then an unbiased estimate of F_j whose
 * relative standard deviation is about sqrt(2 (1 - beta2) / (1 + beta2))
 * (an EMA of chi-square(1) variables), 0.032 for beta2 = 0.999.
 */
START_TEST(adam_synthetic)
{
    enum { J = 32, B = 16, STEPS = 20000 };
    const float beta2 = 0.999f;
    float v[J] = {0};
    double sd[J];
    for (int j = 0; j < J; j++)
        sd[j] = sqrt(pow(10.0, (double)j / 8.0 - 2.0)); /* F from 1e-2 to ~7.5e1 */
    uint64_t s = 77;
    for (int t = 0; t < STEPS; t++) {
        for (int j = 0; j < J; j++) {
            double m = 0.0;
            for (int b = 0; b < B; b++)
                m += sd[j] * tu_normal(&s);
            const float mf = (float)(m / B);
            v[j] = beta2 * v[j] + (1.0f - beta2) * mf * mf;
        }
    }
    gd_fisher *f = new_fisher();
    const size_t id = add(f, "t", J, 0);
    ck_assert_int_eq(gd_fisher_from_adam(f, id, v, beta2, STEPS, B), GD_OK);
    float e[J];
    ck_assert_int_eq(gd_fisher_read(f, id, e, J, NULL), GD_OK);
    const double rel_sd = sqrt(2.0 * (1.0 - beta2) / (1.0 + beta2));
    double mean_ratio = 0.0, worst = 0.0;
    for (int j = 0; j < J; j++) {
        const double ratio = e[j] / (sd[j] * sd[j]);
        mean_ratio += ratio / J;
        worst = fabs(ratio - 1.0) > worst ? fabs(ratio - 1.0) : worst;
        ck_assert_msg(fabs(ratio - 1.0) < 5.0 * rel_sd, "j %d ratio %g", j, ratio);
    }
    fprintf(stderr, "adam: mean ratio %.4f (5 sd bound %.4f), worst |ratio-1| %.4f\n", mean_ratio,
            5.0 * rel_sd / sqrt(J), worst);
    ck_assert(fabs(mean_ratio - 1.0) < 5.0 * rel_sd / sqrt(J));
    gd_fisher_destroy(f);
}
END_TEST

/* Sites by hand: site 0 = {a: 2 elements, b: 1}, site 1 unfed, site 2 = {c},
 * plus d on no site and without samples (ignored). */
START_TEST(site_scores_by_hand)
{
    gd_fisher *f = new_fisher();
    const size_t a = add(f, "a", 2, 0), b = add(f, "b", 1, 0), c = add(f, "c", 3, 2);
    add(f, "d", 2, GD_NONE);
    const double sa[2] = {2.0, 6.0}, sb[1] = {10.0}, sc[3] = {1.0, 2.0, 6.0};
    ck_assert_int_eq(gd_fisher_set_sums(f, a, sa, 2, 2.0), GD_OK); /* estimates 1, 3 */
    ck_assert_int_eq(gd_fisher_set_sums(f, b, sb, 1, 1.0), GD_OK); /* 10 */
    ck_assert_int_eq(gd_fisher_set_sums(f, c, sc, 3, 1.0), GD_OK); /* 1, 2, 6 */
    size_t n;
    ck_assert_int_eq(gd_fisher_site_count(f, &n), GD_OK);
    ck_assert_uint_eq(n, 3);
    const struct {
        int reduce;
        float s0, s2;
    } want[] = {
        {GD_REDUCE_TENSOR_MEAN, (float)((2.0 + 10.0) / 2.0), 3.0f}, /* mean(mean(1,3), 10) */
        {GD_REDUCE_ELEMENT_MEAN, (float)(14.0 / 3.0), 3.0f},
        {GD_REDUCE_SUM, 14.0f, 9.0f},
        {GD_REDUCE_MAX, 10.0f, 6.0f},
    };
    for (size_t k = 0; k < 4; k++) {
        float s[4] = {-1, -1, -1, -1};
        ck_assert_int_eq(gd_fisher_site_scores(f, want[k].reduce, s, 4), GD_OK);
        ck_assert_msg(s[0] == want[k].s0, "reduce %d: %g", want[k].reduce, s[0]);
        ck_assert(isnan(s[1]) && isnan(s[3]));
        ck_assert(s[2] == want[k].s2);
    }
    float s[3] = {-1, -1, -1};
    ck_assert_int_eq(gd_fisher_site_scores(f, 4, s, 3), GD_EINVAL);
    ck_assert_int_eq(gd_fisher_site_scores(f, GD_REDUCE_SUM, s, 0), GD_EINVAL);
    ck_assert_int_eq(gd_fisher_site_scores(f, GD_REDUCE_SUM, s, 2), GD_ESHAPE);
    add(f, "e", 1, 1); /* a scored tensor without samples */
    ck_assert_int_eq(gd_fisher_site_scores(f, GD_REDUCE_SUM, s, 3), GD_ESTATE);
    ck_assert(s[0] == -1.0f);
    gd_fisher_destroy(f);
}
END_TEST

START_TEST(unit_scores_by_hand)
{
    gd_fisher *f = new_fisher();
    const size_t id = add(f, "w", 6, 0);
    float s[3] = {-1, -1, -1};
    ck_assert_int_eq(gd_fisher_unit_scores(f, id, 2, 3, GD_AXIS_ROWS, s), GD_ESTATE);
    const double sums[6] = {1, 2, 3, 4, 5, 9}; /* [2 x 3] */
    ck_assert_int_eq(gd_fisher_set_sums(f, id, sums, 6, 2.0), GD_OK);
    ck_assert_int_eq(gd_fisher_unit_scores(f, id, 2, 3, GD_AXIS_ROWS, s), GD_OK);
    ck_assert(s[0] == 1.0f && s[1] == 3.0f);
    ck_assert_int_eq(gd_fisher_unit_scores(f, id, 2, 3, GD_AXIS_COLS, s), GD_OK);
    ck_assert(s[0] == 1.25f && s[1] == 1.75f && s[2] == 3.0f);
    ck_assert_int_eq(gd_fisher_unit_scores(f, id, 3, 3, GD_AXIS_COLS, s), GD_ESHAPE);
    ck_assert_int_eq(gd_fisher_unit_scores(f, id, SIZE_MAX, 3, GD_AXIS_COLS, s), GD_EOVERFLOW);
    ck_assert_int_eq(gd_fisher_unit_scores(f, id, 2, 3, 2, s), GD_EINVAL);
    ck_assert_int_eq(gd_fisher_unit_scores(f, 1, 2, 3, GD_AXIS_ROWS, s), GD_ENOTFOUND);
    gd_fisher_destroy(f);
}
END_TEST

/* Failing each allocation of a registration leaves the object usable and
 * unchanged (ASan checks for leaks). */
START_TEST(alloc_failures)
{
    gd_fisher *f = NULL;
    gd_test_fail_alloc_after(1);
    ck_assert_int_eq(gd_fisher_create(&f), GD_ENOMEM);
    gd_test_fail_alloc_after(0);
    f = new_fisher();
    char name[16];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "t%d", i);
        for (long k = 1;; k++) {
            gd_test_fail_alloc_after(k);
            const int rc = gd_fisher_add_tensor(f, name, 4, 0, NULL);
            gd_test_fail_alloc_after(0);
            if (rc == GD_OK)
                break;
            ck_assert_int_eq(rc, GD_ENOMEM);
            size_t n;
            ck_assert_int_eq(gd_fisher_count(f, &n), GD_OK);
            ck_assert_int_eq(n, (size_t)i);
        }
    }
    size_t id;
    ck_assert_int_eq(gd_fisher_find(f, "t39", &id), GD_OK);
    ck_assert_uint_eq(id, 39);
    gd_fisher_destroy(f);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, registry);
    tcase_add_test(tc, many_names);
    tcase_add_test(tc, accumulate_by_hand);
    tcase_add_test(tc, batch_equals_per_sample);
    tcase_add_test(tc, dense_vs_naive);
    tcase_add_test(tc, dense_equals_per_sample);
    tcase_add_test(tc, dense_seq_vs_naive);
    tcase_add_test(tc, dense_seq_tiles);
    tcase_add_test(tc, dense_pack_scratch);
    tcase_add_test(tc, dense_errors);
    tcase_add_test(tc, merge_halves);
    tcase_add_test(tc, sums_round_trip);
    tcase_add_test(tc, adam_by_hand);
    tcase_add_test(tc, adam_synthetic);
    tcase_add_test(tc, site_scores_by_hand);
    tcase_add_test(tc, unit_scores_by_hand);
    tcase_add_test(tc, alloc_failures);
}

int main(void)
{
    return tu_run("fisher", add_tests, 120);
}

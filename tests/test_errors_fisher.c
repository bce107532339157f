/*
 * The error contract of gd_fisher_*: every kind of bad argument gives the
 * GD_E* code the header documents, leaves every output buffer byte-identical
 * (sentinel-filled) and the object exactly as it was (names, sizes, sites,
 * raw sums and weights, compared bit for bit through the public API).
 */
#include "test_util.h"

#include <check.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define FAILS TU_FISHER_FAILS

enum { OUT = 2, IN = 3 };
enum { W, B, LN, FREE, N_TENSORS };
static const char *const NAMES[N_TENSORS] = {"enc.w", "enc.b", "ln.w", "free"};
static const size_t NUMEL[N_TENSORS] = {OUT * IN, OUT, 4, 3};
static const size_t SITE[N_TENSORS] = {0, 0, 1, GD_NONE};

static gd_fisher *F;

/* Four tensors, two sites and an unsited one, each with two samples. */
static gd_fisher *make_fisher(void)
{
    gd_fisher *f = NULL;
    ck_assert_int_eq(gd_fisher_create(&f), GD_OK);
    for (size_t t = 0; t < N_TENSORS; t++) {
        size_t id = 99;
        ck_assert_int_eq(gd_fisher_add_tensor(f, NAMES[t], NUMEL[t], SITE[t], &id), GD_OK);
        ck_assert_uint_eq(id, t);
        float g[OUT * IN];
        for (int k = 0; k < 2; k++) {
            tu_fill_data(g, NUMEL[t], (uint32_t)(10 * t + k + 1));
            ck_assert_int_eq(gd_fisher_accumulate(f, t, g, 1.0f), GD_OK);
        }
    }
    return f;
}

static void setup(void)
{
    F = make_fisher();
}

static void teardown(void)
{
    gd_fisher_destroy(F);
    F = NULL;
}

static void sentinel(void *p, size_t bytes)
{
    memset(p, 0xA5, bytes);
}

static int all_sentinel(const void *p, size_t bytes)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < bytes; i++)
        if (b[i] != 0xA5)
            return 0;
    return 1;
}

START_TEST(create_and_destroy)
{
    ck_assert_int_eq(gd_fisher_create(NULL), GD_EINVAL);
    gd_fisher_destroy(NULL); /* a no-op */
}
END_TEST

START_TEST(add_tensor_bad_arguments)
{
    size_t id;
    sentinel(&id, sizeof id);
    char long_name[258];
    memset(long_name, 'a', sizeof long_name);
    long_name[256] = '\0'; /* 256 bytes: one too many */
    const char *bad_names[] = {"", "a\nb", "tab\there", "\x01", "del\x7f", "bad\xff",
                               "\xc3", /* truncated UTF-8 */
                               "\xc0\xaf", /* overlong '/' */
                               "\xed\xa0\x80", /* a UTF-16 surrogate */
                               long_name};
    FAILS(F, GD_EINVAL, gd_fisher_add_tensor(NULL, "x", 1, 0, &id));
    FAILS(F, GD_EINVAL, gd_fisher_add_tensor(F, NULL, 1, 0, &id));
    FAILS(F, GD_EINVAL, gd_fisher_add_tensor(F, "zero", 0, 0, &id));
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        FAILS(F, GD_EINVAL, gd_fisher_add_tensor(F, bad_names[i], 1, 0, &id));
    for (size_t t = 0; t < N_TENSORS; t++) /* duplicates, any size or site */
        FAILS(F, GD_EEXIST, gd_fisher_add_tensor(F, NAMES[t], 1 + t, 7, &id));
    /* numel whose accumulators cannot be sized */
    FAILS(F, GD_EOVERFLOW, gd_fisher_add_tensor(F, "huge", SIZE_MAX, 0, &id));
    FAILS(F, GD_EOVERFLOW, gd_fisher_add_tensor(F, "huge", SIZE_MAX / sizeof(double) + 1, 0, &id));
    ck_assert(all_sentinel(&id, sizeof id));
    size_t found;
    ck_assert_int_eq(gd_fisher_find(F, "huge", &found), GD_ENOTFOUND);

    /* the edges that are fine: 255 bytes, UTF-8, any site, NULL id_out */
    long_name[255] = '\0';
    ck_assert_int_eq(gd_fisher_add_tensor(F, long_name, 1, SIZE_MAX - 1, NULL), GD_OK);
    ck_assert_int_eq(gd_fisher_add_tensor(F, "gr\xc3\xbc\xc3\x9f/\xe2\x82\xac", 2, 3, &id), GD_OK);
    ck_assert_uint_eq(id, N_TENSORS + 1);
    ck_assert_int_eq(gd_fisher_find(F, long_name, &found), GD_OK);
    ck_assert_uint_eq(found, N_TENSORS);
}
END_TEST

START_TEST(lookups)
{
    size_t n, id, numel, site;
    const char *name;
    sentinel(&n, sizeof n);
    sentinel(&id, sizeof id);
    sentinel(&numel, sizeof numel);
    sentinel(&site, sizeof site);
    sentinel(&name, sizeof name);
    FAILS(F, GD_EINVAL, gd_fisher_count(NULL, &n));
    FAILS(F, GD_EINVAL, gd_fisher_count(F, NULL));
    FAILS(F, GD_EINVAL, gd_fisher_find(NULL, "enc.w", &id));
    FAILS(F, GD_EINVAL, gd_fisher_find(F, NULL, &id));
    FAILS(F, GD_EINVAL, gd_fisher_find(F, "enc.w", NULL));
    FAILS(F, GD_ENOTFOUND, gd_fisher_find(F, "nope", &id));
    FAILS(F, GD_ENOTFOUND, gd_fisher_find(F, "enc.", &id)); /* a prefix is not a name */
    FAILS(F, GD_ENOTFOUND, gd_fisher_find(F, "", &id));
    FAILS(F, GD_EINVAL, gd_fisher_info(NULL, 0, &name, &numel, &site));
    FAILS(F, GD_ENOTFOUND, gd_fisher_info(F, N_TENSORS, &name, &numel, &site));
    FAILS(F, GD_ENOTFOUND, gd_fisher_info(F, GD_NONE, &name, &numel, &site));
    FAILS(F, GD_EINVAL, gd_fisher_site_count(NULL, &n));
    FAILS(F, GD_EINVAL, gd_fisher_site_count(F, NULL));
    ck_assert(all_sentinel(&n, sizeof n) && all_sentinel(&id, sizeof id));
    ck_assert(all_sentinel(&numel, sizeof numel) && all_sentinel(&site, sizeof site));
    ck_assert(all_sentinel(&name, sizeof name));
    /* and the valid ones */
    ck_assert_int_eq(gd_fisher_info(F, LN, NULL, NULL, NULL), GD_OK);
    ck_assert_int_eq(gd_fisher_site_count(F, &n), GD_OK);
    ck_assert_uint_eq(n, 2);
}
END_TEST

START_TEST(accumulate_bad_arguments)
{
    float g[OUT * IN];
    tu_fill_data(g, OUT * IN, 5);
    const float bad_w[] = {NAN, INFINITY, -INFINITY, -1.0f, -0x1p-149f};
    FAILS(F, GD_EINVAL, gd_fisher_accumulate(NULL, W, g, 1.0f));
    FAILS(F, GD_EINVAL, gd_fisher_accumulate(F, W, NULL, 1.0f));
    FAILS(F, GD_ENOTFOUND, gd_fisher_accumulate(F, N_TENSORS, g, 1.0f));
    FAILS(F, GD_ENOTFOUND, gd_fisher_accumulate(F, GD_NONE, g, 1.0f));
    for (size_t i = 0; i < sizeof bad_w / sizeof bad_w[0]; i++)
        FAILS(F, GD_EDOMAIN, gd_fisher_accumulate(F, W, g, bad_w[i]));
    const float bad_g[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 3; i++)
        for (size_t at = 0; at < OUT * IN; at += OUT * IN - 1) {
            float h[OUT * IN];
            memcpy(h, g, sizeof h);
            h[at] = bad_g[i];
            FAILS(F, GD_EDOMAIN, gd_fisher_accumulate(F, W, h, 1.0f));
        }
    /* w == 0 and -0 are fine */
    ck_assert_int_eq(gd_fisher_accumulate(F, W, g, 0.0f), GD_OK);
    ck_assert_int_eq(gd_fisher_accumulate(F, W, g, -0.0f), GD_OK);
}
END_TEST

START_TEST(accumulate_batch_bad_arguments)
{
    enum { BATCH = 5 };
    float g[BATCH * OUT * IN];
    tu_fill_data(g, BATCH * OUT * IN, 6);
    FAILS(F, GD_EINVAL, gd_fisher_accumulate_batch(NULL, W, g, BATCH));
    FAILS(F, GD_EINVAL, gd_fisher_accumulate_batch(F, W, NULL, BATCH));
    FAILS(F, GD_ENOTFOUND, gd_fisher_accumulate_batch(F, N_TENSORS, g, BATCH));
    /* batch * numel overflows: refused before a single float is read */
    FAILS(F, GD_EOVERFLOW, gd_fisher_accumulate_batch(F, W, g, SIZE_MAX / 2));
    FAILS(F, GD_EOVERFLOW, gd_fisher_accumulate_batch(F, W, g, SIZE_MAX));
    /* a bad value in the last example: nothing of the earlier ones is added */
    g[BATCH * OUT * IN - 1] = NAN;
    FAILS(F, GD_EDOMAIN, gd_fisher_accumulate_batch(F, W, g, BATCH));
    g[BATCH * OUT * IN - 1] = -INFINITY;
    FAILS(F, GD_EDOMAIN, gd_fisher_accumulate_batch(F, W, g, BATCH));
}
END_TEST

START_TEST(dense_bad_arguments)
{
    enum { BATCH = 4, SEQ = 3 };
    float x[BATCH * SEQ * IN], dy[BATCH * SEQ * OUT];
    tu_fill_data(x, BATCH * SEQ * IN, 7);
    tu_fill_data(dy, BATCH * SEQ * OUT, 8);
    /* each case once for dense and once for dense_seq */
    for (int seq_form = 0; seq_form < 2; seq_form++) {
#define DENSE(f, w, b, xx, dd, batch, in, out)                                           \
    (seq_form ? gd_fisher_accumulate_dense_seq((f), (w), (b), (xx), (dd), (batch), SEQ, \
                                               (in), (out))                             \
              : gd_fisher_accumulate_dense((f), (w), (b), (xx), (dd), (batch), (in), (out)))
        FAILS(F, GD_EINVAL, DENSE(NULL, W, B, x, dy, BATCH, IN, OUT));
        FAILS(F, GD_EINVAL, DENSE(F, W, B, NULL, dy, BATCH, IN, OUT));
        FAILS(F, GD_EINVAL, DENSE(F, W, B, x, NULL, BATCH, IN, OUT));
        FAILS(F, GD_ENOTFOUND, DENSE(F, N_TENSORS, B, x, dy, BATCH, IN, OUT));
        FAILS(F, GD_ENOTFOUND, DENSE(F, W, N_TENSORS, x, dy, BATCH, IN, OUT));
        FAILS(F, GD_ENOTFOUND, DENSE(F, GD_NONE, B, x, dy, BATCH, IN, OUT));
        /* shapes that do not match the registered tensors */
        FAILS(F, GD_ESHAPE, DENSE(F, W, B, x, dy, BATCH, OUT, IN)); /* transposed: W ok, b not */
        FAILS(F, GD_ESHAPE, DENSE(F, W, GD_NONE, x, dy, BATCH, IN + 1, OUT));
        FAILS(F, GD_ESHAPE, DENSE(F, W, LN, x, dy, BATCH, IN, OUT)); /* bias of 4, out 2 */
        FAILS(F, GD_ESHAPE, DENSE(F, LN, GD_NONE, x, dy, BATCH, IN, OUT));
        /* in * out, batch * in overflow size_t */
        FAILS(F, GD_EOVERFLOW, DENSE(F, W, B, x, dy, BATCH, SIZE_MAX / 2 + 1, 2));
        FAILS(F, GD_EOVERFLOW, DENSE(F, W, B, x, dy, SIZE_MAX, IN, OUT));
        /* non-finite input anywhere: nothing added */
        const float bad[] = {NAN, INFINITY, -INFINITY};
        for (size_t i = 0; i < 3; i++) {
            float xb[sizeof x / sizeof x[0]], dyb[sizeof dy / sizeof dy[0]];
            memcpy(xb, x, sizeof x);
            memcpy(dyb, dy, sizeof dy);
            xb[BATCH * IN - 1] = bad[i]; /* the last x the dense form reads */
            FAILS(F, GD_EDOMAIN, DENSE(F, W, B, xb, dy, BATCH, IN, OUT));
            dyb[0] = bad[i];
            FAILS(F, GD_EDOMAIN, DENSE(F, W, B, x, dyb, BATCH, IN, OUT));
        }
        /* magnitudes whose float products could overflow: x^2 for dense,
         * |x| |dy| seq for dense_seq (which squares in double) */
        float xb[sizeof x / sizeof x[0]];
        memcpy(xb, x, sizeof x);
        xb[2] = 0x1p64f;
        if (!seq_form)
            FAILS(F, GD_EDOMAIN, DENSE(F, W, B, xb, dy, BATCH, IN, OUT));
        xb[2] = 0x1p125f; /* times |dy| up to 8, times seq 3 */
        FAILS(F, GD_EDOMAIN, DENSE(F, W, B, xb, dy, BATCH, IN, OUT));
        xb[2] = FLT_MAX;
        FAILS(F, GD_EDOMAIN, DENSE(F, W, B, xb, dy, BATCH, IN, OUT));
#undef DENSE
    }
    /* dense_seq: seq == 0 is a shape error */
    FAILS(F, GD_ESHAPE, gd_fisher_accumulate_dense_seq(F, W, B, x, dy, BATCH, 0, IN, OUT));
    FAILS(F, GD_EOVERFLOW,
          gd_fisher_accumulate_dense_seq(F, W, B, x, dy, 2, SIZE_MAX / 2 + 1, IN, OUT));
    /* b_id == w_id is never valid */
    size_t sq;
    ck_assert_int_eq(gd_fisher_add_tensor(F, "square", 4, 5, &sq), GD_OK);
    tu_fisher_snap snap;
    tu_fisher_snap_take(F, &snap);
    ck_assert_int_ne(gd_fisher_accumulate_dense(F, sq, sq, x, dy, 1, 2, 2), GD_OK);
    tu_fisher_assert_same(F, &snap);
    tu_fisher_snap_free(&snap);
    /* the valid call */
    ck_assert_int_eq(gd_fisher_accumulate_dense(F, W, B, x, dy, BATCH, IN, OUT), GD_OK);
}
END_TEST

START_TEST(from_adam_bad_arguments)
{
    float v[OUT * IN];
    for (size_t j = 0; j < OUT * IN; j++)
        v[j] = 1e-3f * (float)(j + 1);
    FAILS(F, GD_EINVAL, gd_fisher_from_adam(NULL, W, v, 0.999f, 10, 32));
    FAILS(F, GD_EINVAL, gd_fisher_from_adam(F, W, NULL, 0.999f, 10, 32));
    FAILS(F, GD_ENOTFOUND, gd_fisher_from_adam(F, N_TENSORS, v, 0.999f, 10, 32));
    const float bad_beta[] = {1.0f, 1.5f, -0.1f, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad_beta / sizeof bad_beta[0]; i++)
        FAILS(F, GD_EDOMAIN, gd_fisher_from_adam(F, W, v, bad_beta[i], 10, 32));
    FAILS(F, GD_EDOMAIN, gd_fisher_from_adam(F, W, v, 0.999f, 0, 32));
    FAILS(F, GD_EDOMAIN, gd_fisher_from_adam(F, W, v, 0.999f, 10, 0));
    const float bad_v[] = {NAN, INFINITY, -1.0f, -0x1p-149f};
    for (size_t i = 0; i < sizeof bad_v / sizeof bad_v[0]; i++) {
        float vb[OUT * IN];
        memcpy(vb, v, sizeof v);
        vb[OUT * IN - 1] = bad_v[i];
        FAILS(F, GD_EDOMAIN, gd_fisher_from_adam(F, W, vb, 0.999f, 10, 32));
    }
    ck_assert_int_eq(gd_fisher_from_adam(F, W, v, 0.0f, 1, 1), GD_OK);
}
END_TEST

START_TEST(read_and_sums_bad_arguments)
{
    float est[8];
    double sums[8], w, samples;
    sentinel(est, sizeof est);
    sentinel(sums, sizeof sums);
    sentinel(&w, sizeof w);
    sentinel(&samples, sizeof samples);
    FAILS(F, GD_EINVAL, gd_fisher_read(NULL, W, est, OUT * IN, &samples));
    FAILS(F, GD_EINVAL, gd_fisher_read(F, W, NULL, OUT * IN, &samples));
    FAILS(F, GD_ENOTFOUND, gd_fisher_read(F, N_TENSORS, est, OUT * IN, &samples));
    FAILS(F, GD_ESHAPE, gd_fisher_read(F, W, est, OUT * IN - 1, &samples));
    FAILS(F, GD_ESHAPE, gd_fisher_read(F, W, est, OUT * IN + 1, &samples));
    FAILS(F, GD_ESHAPE, gd_fisher_read(F, W, est, 0, &samples));
    FAILS(F, GD_EINVAL, gd_fisher_sums(NULL, W, sums, OUT * IN, &w));
    FAILS(F, GD_EINVAL, gd_fisher_sums(F, W, NULL, OUT * IN, &w));
    FAILS(F, GD_ENOTFOUND, gd_fisher_sums(F, GD_NONE, sums, OUT * IN, &w));
    FAILS(F, GD_ESHAPE, gd_fisher_sums(F, W, sums, OUT * IN + 1, &w));
    ck_assert(all_sentinel(est, sizeof est) && all_sentinel(sums, sizeof sums));
    ck_assert(all_sentinel(&w, sizeof w) && all_sentinel(&samples, sizeof samples));

    /* no samples yet: GD_ESTATE, nothing written */
    size_t fresh;
    ck_assert_int_eq(gd_fisher_add_tensor(F, "fresh", 3, 0, &fresh), GD_OK);
    FAILS(F, GD_ESTATE, gd_fisher_read(F, fresh, est, 3, &samples));
    ck_assert(all_sentinel(est, sizeof est) && all_sentinel(&samples, sizeof samples));
    /* a zero weight is still no samples */
    const float g[3] = {1, 2, 3};
    ck_assert_int_eq(gd_fisher_accumulate(F, fresh, g, 0.0f), GD_OK);
    FAILS(F, GD_ESTATE, gd_fisher_read(F, fresh, est, 3, &samples));
    ck_assert(all_sentinel(est, sizeof est));
    /* sums of a fresh tensor are fine: zeros and weight 0 */
    ck_assert_int_eq(gd_fisher_sums(F, fresh, sums, 3, &w), GD_OK);
    ck_assert(sums[0] == 0.0 && w == 0.0);
}
END_TEST

START_TEST(set_sums_bad_arguments)
{
    double sums[OUT * IN];
    for (size_t j = 0; j < OUT * IN; j++)
        sums[j] = (double)j;
    FAILS(F, GD_EINVAL, gd_fisher_set_sums(NULL, W, sums, OUT * IN, 2.0));
    FAILS(F, GD_EINVAL, gd_fisher_set_sums(F, W, NULL, OUT * IN, 2.0));
    FAILS(F, GD_ENOTFOUND, gd_fisher_set_sums(F, N_TENSORS, sums, OUT * IN, 2.0));
    FAILS(F, GD_ESHAPE, gd_fisher_set_sums(F, W, sums, OUT * IN - 1, 2.0));
    const double bad[] = {NAN, INFINITY, -INFINITY, -1.0, -DBL_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FAILS(F, GD_EDOMAIN, gd_fisher_set_sums(F, W, sums, OUT * IN, bad[i]));
        double s2[OUT * IN];
        memcpy(s2, sums, sizeof s2);
        s2[OUT * IN - 1] = bad[i];
        FAILS(F, GD_EDOMAIN, gd_fisher_set_sums(F, W, s2, OUT * IN, 2.0));
    }
    /* weight 0 holds only zero sums (nonzero ones: tests/test_robust_fisher.c) */
    memset(sums, 0, sizeof sums);
    ck_assert_int_eq(gd_fisher_set_sums(F, W, sums, OUT * IN, 0.0), GD_OK);
}
END_TEST

/* Merges of objects that do not hold the same tensors, in the same order. */
START_TEST(merge_mismatched)
{
    FAILS(F, GD_EINVAL, gd_fisher_merge(NULL, F));
    FAILS(F, GD_EINVAL, gd_fisher_merge(F, NULL));
    for (int variant = 0; variant < 6; variant++) {
        gd_fisher *o = NULL;
        ck_assert_int_eq(gd_fisher_create(&o), GD_OK);
        for (size_t t = 0; t < N_TENSORS; t++) {
            size_t tt = variant == 0 ? (t == W ? B : t == B ? W : t) : t; /* order */
            const char *name = variant == 1 && tt == LN ? "ln.v" : NAMES[tt];
            size_t numel = variant == 2 && tt == FREE ? 4 : NUMEL[tt];
            size_t site = variant == 3 && tt == LN ? 2 : SITE[tt];
            if (variant == 4 && tt == FREE)
                continue; /* one tensor fewer */
            ck_assert_int_eq(gd_fisher_add_tensor(o, name, numel, site, NULL), GD_OK);
        }
        if (variant == 5)
            ck_assert_int_eq(gd_fisher_add_tensor(o, "extra", 1, 0, NULL), GD_OK);
        tu_fisher_snap so;
        tu_fisher_snap_take(o, &so);
        FAILS(F, GD_ESHAPE, gd_fisher_merge(F, o));
        FAILS(o, GD_ESHAPE, gd_fisher_merge(o, F));
        tu_fisher_assert_same(o, &so);
        tu_fisher_snap_free(&so);
        gd_fisher_destroy(o);
    }
    /* an empty object merges with nothing but another empty one */
    gd_fisher *e = NULL, *e2 = NULL;
    ck_assert_int_eq(gd_fisher_create(&e), GD_OK);
    ck_assert_int_eq(gd_fisher_create(&e2), GD_OK);
    FAILS(F, GD_ESHAPE, gd_fisher_merge(F, e));
    FAILS(e, GD_ESHAPE, gd_fisher_merge(e, F));
    ck_assert_int_eq(gd_fisher_merge(e, e2), GD_OK);
    gd_fisher_destroy(e);
    gd_fisher_destroy(e2);
    /* the same tensors merge */
    gd_fisher *twin = make_fisher();
    ck_assert_int_eq(gd_fisher_merge(F, twin), GD_OK);
    gd_fisher_destroy(twin);
}
END_TEST

START_TEST(site_scores_bad_arguments)
{
    float scores[4];
    sentinel(scores, sizeof scores);
    FAILS(F, GD_EINVAL, gd_fisher_site_scores(NULL, GD_REDUCE_TENSOR_MEAN, scores, 2));
    FAILS(F, GD_EINVAL, gd_fisher_site_scores(F, GD_REDUCE_TENSOR_MEAN, NULL, 2));
    FAILS(F, GD_EINVAL, gd_fisher_site_scores(F, GD_REDUCE_TENSOR_MEAN, scores, 0));
    const int bad_reduce[] = {-1, 4, 100, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof bad_reduce / sizeof bad_reduce[0]; i++)
        FAILS(F, GD_EINVAL, gd_fisher_site_scores(F, bad_reduce[i], scores, 2));
    /* a tensor feeds site 1, so one site is too few */
    FAILS(F, GD_ESHAPE, gd_fisher_site_scores(F, GD_REDUCE_MAX, scores, 1));
    ck_assert(all_sentinel(scores, sizeof scores));
    /* a scored tensor without samples */
    ck_assert_int_eq(gd_fisher_add_tensor(F, "nosamples", 2, 1, NULL), GD_OK);
    for (int r = GD_REDUCE_TENSOR_MEAN; r <= GD_REDUCE_MAX; r++)
        FAILS(F, GD_ESTATE, gd_fisher_site_scores(F, r, scores, 2));
    ck_assert(all_sentinel(scores, sizeof scores));
    /* an unsited tensor without samples does not matter; more sites give NaN */
    ck_assert_int_eq(gd_fisher_add_tensor(F, "unsited", 2, GD_NONE, NULL), GD_OK);
    const float g[2] = {1, 1};
    ck_assert_int_eq(gd_fisher_accumulate(F, N_TENSORS, g, 1.0f), GD_OK);
    ck_assert_int_eq(gd_fisher_site_scores(F, GD_REDUCE_SUM, scores, 4), GD_OK);
    ck_assert(isfinite(scores[0]) && isfinite(scores[1]) && isnan(scores[2]) && isnan(scores[3]));
}
END_TEST

START_TEST(unit_scores_bad_arguments)
{
    float scores[8];
    sentinel(scores, sizeof scores);
    FAILS(F, GD_EINVAL, gd_fisher_unit_scores(NULL, W, OUT, IN, GD_AXIS_ROWS, scores));
    FAILS(F, GD_EINVAL, gd_fisher_unit_scores(F, W, OUT, IN, GD_AXIS_ROWS, NULL));
    FAILS(F, GD_EINVAL, gd_fisher_unit_scores(F, W, OUT, IN, 2, scores));
    FAILS(F, GD_EINVAL, gd_fisher_unit_scores(F, W, OUT, IN, -1, scores));
    FAILS(F, GD_ENOTFOUND, gd_fisher_unit_scores(F, N_TENSORS, OUT, IN, GD_AXIS_ROWS, scores));
    FAILS(F, GD_ESHAPE, gd_fisher_unit_scores(F, W, IN, IN, GD_AXIS_ROWS, scores));
    FAILS(F, GD_ESHAPE, gd_fisher_unit_scores(F, W, OUT * IN, 0, GD_AXIS_COLS, scores));
    FAILS(F, GD_EOVERFLOW,
          gd_fisher_unit_scores(F, W, SIZE_MAX / 2 + 1, 2, GD_AXIS_ROWS, scores));
    ck_assert(all_sentinel(scores, sizeof scores));
    size_t fresh;
    ck_assert_int_eq(gd_fisher_add_tensor(F, "fresh", 4, 0, &fresh), GD_OK);
    FAILS(F, GD_ESTATE, gd_fisher_unit_scores(F, fresh, 2, 2, GD_AXIS_COLS, scores));
    ck_assert(all_sentinel(scores, sizeof scores));
    ck_assert_int_eq(gd_fisher_unit_scores(F, W, IN, OUT, GD_AXIS_COLS, scores), GD_OK);
}
END_TEST

/* The file tests: the fixture's object and a private directory, tu_dir(). */
static void tmp_setup(void)
{
    setup();
    tu_dir_setup();
}

static void tmp_teardown(void)
{
    teardown();
    tu_dir_teardown();
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
    ck_assert_int_eq(fclose(fp), 0);
}

START_TEST(save_and_load_bad_arguments)
{
    char path[128];
    tu_path(path, sizeof path, "f.safetensors");
    FAILS(F, GD_EINVAL, gd_fisher_save(NULL, path));
    FAILS(F, GD_EINVAL, gd_fisher_save(F, NULL));
    ck_assert_int_eq(access(path, F_OK), -1); /* nothing written */

    gd_fisher *const keep = (gd_fisher *)tu_dir(); /* any non-NULL sentinel */
    gd_fisher *out = keep;
    ck_assert_int_eq(gd_fisher_load(NULL, path), GD_EINVAL);
    ck_assert_int_eq(gd_fisher_load(&out, NULL), GD_EINVAL);
    ck_assert_ptr_eq(out, keep);
    /* missing, a directory, and an empty path */
    ck_assert_int_eq(gd_fisher_load(&out, path), GD_EIO);
    ck_assert_int_eq(gd_fisher_load(&out, tu_dir()), GD_EIO);
    ck_assert_int_eq(gd_fisher_load(&out, ""), GD_EIO);
    ck_assert_ptr_eq(out, keep);
    /* present but not a Fisher file */
    write_file(path, "", 0);
    ck_assert_int_eq(gd_fisher_load(&out, path), GD_EFORMAT);
    write_file(path, "hello, world\n", 13);
    ck_assert_int_eq(gd_fisher_load(&out, path), GD_EFORMAT);
    const unsigned char huge_header[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{'};
    write_file(path, huge_header, sizeof huge_header);
    ck_assert_int_eq(gd_fisher_load(&out, path), GD_EFORMAT);
    ck_assert_ptr_eq(out, keep);

    /* a valid save and load */
    ck_assert_int_eq(gd_fisher_save(F, path), GD_OK);
    out = NULL;
    ck_assert_int_eq(gd_fisher_load(&out, path), GD_OK);
    size_t n;
    ck_assert_int_eq(gd_fisher_count(out, &n), GD_OK);
    ck_assert_uint_eq(n, N_TENSORS);
    gd_fisher_destroy(out);
}
END_TEST

static void add_fisher_tests(TCase *tc)
{
    tcase_add_test(tc, create_and_destroy);
    tcase_add_test(tc, add_tensor_bad_arguments);
    tcase_add_test(tc, lookups);
    tcase_add_test(tc, accumulate_bad_arguments);
    tcase_add_test(tc, accumulate_batch_bad_arguments);
    tcase_add_test(tc, dense_bad_arguments);
    tcase_add_test(tc, from_adam_bad_arguments);
    tcase_add_test(tc, read_and_sums_bad_arguments);
    tcase_add_test(tc, set_sums_bad_arguments);
    tcase_add_test(tc, merge_mismatched);
    tcase_add_test(tc, site_scores_bad_arguments);
    tcase_add_test(tc, unit_scores_bad_arguments);
}

static void add_file_tests(TCase *tc)
{
    tcase_add_test(tc, save_and_load_bad_arguments);
}

int main(void)
{
    const tu_case cases[] = {
        {.name = "fisher", .add_tests = add_fisher_tests, .setup = setup, .teardown = teardown},
        {.name = "files", .add_tests = add_file_tests, .setup = tmp_setup, .teardown = tmp_teardown},
    };
    return tu_run_cases("errors_fisher", cases, sizeof cases / sizeof cases[0]);
}

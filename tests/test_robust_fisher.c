/*
 * Whatever GD_OK accepts saves and loads back bit for bit (issue 16, items
 * 5, 6 and 9): values that would overflow the file's float estimates or
 * lose bits in its weight are refused with GD_EDOMAIN (the object left as
 * it was), the loader refuses the same values in a foreign file, the name
 * the format keeps for itself is refused, and a merge refuses what
 * gd_fisher_set_sums would.  Also the kernels' offset rule and check order
 * (item 10) and GD_EDOMAIN's message (issue 14, item 7).
 */
#define _POSIX_C_SOURCE 200809L

#include "test_util.h"

#include <check.h>
#include <float.h>
#include <unistd.h>

static char dir[64];

static void setup(void)
{
    tu_tmpdir_make(dir, sizeof dir, "gd_robust_fisher");
}

static void teardown(void)
{
    tu_tmpdir_remove(dir);
}

static gd_fisher *one_tensor(size_t numel)
{
    gd_fisher *f = NULL;
    ck_assert_int_eq(gd_fisher_create(&f), GD_OK);
    ck_assert_int_eq(gd_fisher_add_tensor(f, "t", numel, 0, NULL), GD_OK);
    return f;
}

/* Saves f, loads it back, and asserts every tensor reads the same bits. */
static void assert_round_trip(const gd_fisher *f)
{
    char path[128];
    snprintf(path, sizeof path, "%s/rt.safetensors", dir);
    ck_assert_int_eq(gd_fisher_save(f, path), GD_OK);
    gd_fisher *back = NULL;
    ck_assert_int_eq(gd_fisher_load(&back, path), GD_OK);
    size_t n;
    ck_assert_int_eq(gd_fisher_count(f, &n), GD_OK);
    for (size_t id = 0; id < n; id++) {
        size_t numel;
        ck_assert_int_eq(gd_fisher_info(f, id, NULL, &numel, NULL), GD_OK);
        float a[8], b[8];
        double wa, wb;
        ck_assert_uint_le(numel, 8);
        const int ra = gd_fisher_read(f, id, a, numel, &wa);
        ck_assert_int_eq(gd_fisher_read(back, id, b, numel, &wb), ra);
        if (ra == GD_OK) {
            ck_assert_mem_eq(a, b, numel * sizeof *a);
            ck_assert(wa == wb);
            for (size_t j = 0; j < numel; j++)
                ck_assert(isfinite(a[j]));
        }
    }
    gd_fisher_destroy(back);
}

START_TEST(accumulate_refuses_overflowing_squares)
{
    gd_fisher *f = one_tensor(2);
    const float big[2] = {1e20f, 1.0f}, ok[2] = {1.3e19f, 1.0f};
    TU_FISHER_FAILS(f, GD_EDOMAIN, gd_fisher_accumulate(f, 0, big, 1.0f));
    TU_FISHER_FAILS(f, GD_EDOMAIN, gd_fisher_accumulate_batch(f, 0, big, 1));
    ck_assert_int_eq(gd_fisher_accumulate(f, 0, ok, 1.0f), GD_OK); /* 1.69e38 < 2^127 */
    ck_assert_int_eq(gd_fisher_accumulate_batch(f, 0, ok, 1), GD_OK);
    assert_round_trip(f);
    gd_fisher_destroy(f);
}
END_TEST

START_TEST(dense_seq_refuses_overflowing_gradients)
{
    gd_fisher *f = NULL;
    size_t w, b;
    ck_assert_int_eq(gd_fisher_create(&f), GD_OK);
    ck_assert_int_eq(gd_fisher_add_tensor(f, "w", 1, 0, &w), GD_OK);
    ck_assert_int_eq(gd_fisher_add_tensor(f, "b", 1, 0, &b), GD_OK);
    /* |x dy| = 1.5e38 fits a float, but its square (the estimate) does not */
    const float x[1] = {0.5f}, dy[1] = {3e38f}, dy_ok[1] = {1e19f};
    TU_FISHER_FAILS(f, GD_EDOMAIN, gd_fisher_accumulate_dense_seq(f, w, b, x, dy, 1, 1, 1, 1));
    TU_FISHER_FAILS(f, GD_EDOMAIN, gd_fisher_accumulate_dense_seq(f, w, GD_NONE, x, dy, 1, 1, 1, 1));
    ck_assert_int_eq(gd_fisher_accumulate_dense_seq(f, w, b, x, dy_ok, 1, 1, 1, 1), GD_OK);
    assert_round_trip(f);
    gd_fisher_destroy(f);
}
END_TEST

START_TEST(from_adam_refuses_overflowing_estimates)
{
    gd_fisher *f = one_tensor(1);
    const float v[1] = {3e38f};
    TU_FISHER_FAILS(f, GD_EDOMAIN, gd_fisher_from_adam(f, 0, v, 0.999f, 1, 1000));
    const float v_ok[1] = {1e30f};
    ck_assert_int_eq(gd_fisher_from_adam(f, 0, v_ok, 0.999f, 1, 1000), GD_OK);
    assert_round_trip(f);
    gd_fisher_destroy(f);
}
END_TEST

START_TEST(set_sums_refuses_what_cannot_round_trip)
{
    gd_fisher *f = one_tensor(1);
    const double dmax[1] = {DBL_MAX}, one[1] = {1.0};
    TU_FISHER_FAILS(f, GD_EDOMAIN, gd_fisher_set_sums(f, 0, dmax, 1, 0x1p1000));
    TU_FISHER_FAILS(f, GD_EDOMAIN, gd_fisher_set_sums(f, 0, one, 1, 4.9e-324));
    TU_FISHER_FAILS(f, GD_EDOMAIN, gd_fisher_set_sums(f, 0, one, 1, 0x1p-513));
    TU_FISHER_FAILS(f, GD_EDOMAIN, gd_fisher_set_sums(f, 0, one, 1, 0.0)); /* W 0, sum 1 */
    const double big[1] = {0x1p128};
    TU_FISHER_FAILS(f, GD_EDOMAIN, gd_fisher_set_sums(f, 0, big, 1, 1.0)); /* estimate 2^128 */
    gd_fisher_destroy(f);
}
END_TEST

/* Across the whole accepted range, from the smallest float estimate at the
 * smallest weight to 2^127 at the largest, a save loads back bit for bit. */
START_TEST(accepted_range_round_trips)
{
    const double weights[] = {0x1p-512, 1e-150, 1e-3, 1.0, 3.0, 1e150, 0x1p512};
    const double estimates[] = {0x1p-149, 1e-30, 0.1, 1.2345, 1e30, 0x1p127};
    for (size_t i = 0; i < sizeof weights / sizeof weights[0]; i++) {
        gd_fisher *f = one_tensor(6);
        double sums[6];
        for (size_t j = 0; j < 6; j++)
            sums[j] = estimates[j] * weights[i];
        ck_assert_int_eq(gd_fisher_set_sums(f, 0, sums, 6, weights[i]), GD_OK);
        assert_round_trip(f);
        gd_fisher_destroy(f);
    }
}
END_TEST

START_TEST(metadata_name_reserved)
{
    gd_fisher *f = one_tensor(1);
    TU_FISHER_FAILS(f, GD_EINVAL, gd_fisher_add_tensor(f, "__metadata__", 1, 0, NULL));
    ck_assert_int_eq(gd_fisher_add_tensor(f, "__metadata__x", 1, 0, NULL), GD_OK);
    gd_fisher_destroy(f);
}
END_TEST

START_TEST(merge_refuses_weight_overflow)
{
    gd_fisher *a = one_tensor(1), *b = one_tensor(1);
    const double s[1] = {0x1p600};
    ck_assert_int_eq(gd_fisher_set_sums(a, 0, s, 1, 0x1p512), GD_OK);
    ck_assert_int_eq(gd_fisher_set_sums(b, 0, s, 1, 0x1p512), GD_OK);
    tu_fisher_snap sb;
    tu_fisher_snap_take(b, &sb);
    TU_FISHER_FAILS(a, GD_EDOMAIN, gd_fisher_merge(a, b));
    tu_fisher_assert_same(b, &sb);
    tu_fisher_snap_free(&sb);
    float e;
    double w;
    ck_assert_int_eq(gd_fisher_read(a, 0, &e, 1, &w), GD_OK);
    ck_assert(e == 0x1p88f && w == 0x1p512);
    /* a merge in range still works and round-trips */
    const double half[1] = {0x1p599};
    ck_assert_int_eq(gd_fisher_set_sums(b, 0, half, 1, 0x1p511), GD_OK);
    ck_assert_int_eq(gd_fisher_set_sums(a, 0, half, 1, 0x1p511), GD_OK);
    ck_assert_int_eq(gd_fisher_merge(a, b), GD_OK);
    ck_assert_int_eq(gd_fisher_read(a, 0, &e, 1, &w), GD_OK);
    ck_assert(e == 0x1p88f && w == 0x1p512);
    assert_round_trip(a);
    gd_fisher_destroy(a);
    gd_fisher_destroy(b);
}
END_TEST

/* Second pass: a sum of estimates can pass the float range even when each
 * estimate is in range; GD_REDUCE_SUM refuses it with scores untouched
 * (it returned +Inf, which every plan rule then refuses). */
START_TEST(site_sum_beyond_float_refused)
{
    gd_fisher *f = one_tensor(4);
    const double s[4] = {0x1p127, 0x1p127, 0x1p127, 0x1p127};
    ck_assert_int_eq(gd_fisher_set_sums(f, 0, s, 4, 1.0), GD_OK);
    float score[1] = {-7.0f};
    ck_assert_int_eq(gd_fisher_site_scores(f, GD_REDUCE_SUM, score, 1), GD_EDOMAIN);
    ck_assert(score[0] == -7.0f);
    for (int r = GD_REDUCE_TENSOR_MEAN; r <= GD_REDUCE_MAX; r++) {
        if (r == GD_REDUCE_SUM)
            continue;
        ck_assert_int_eq(gd_fisher_site_scores(f, r, score, 1), GD_OK);
        ck_assert(score[0] == 0x1p127f);
    }
    gd_fisher_destroy(f);
}
END_TEST

/* A one-tensor safetensors file "t" = [value] with the given weight text. */
static int load_foreign(const char *weight, float value)
{
    char header[256], path[128];
    int n = snprintf(header, sizeof header,
                     "{\"__metadata__\":{\"gdropout.format\":\"fisher-1\",\"gdropout.site.t\":"
                     "\"0\",\"gdropout.weight.t\":\"%s\"},\"t\":{\"dtype\":\"F32\",\"shape\":[1],"
                     "\"data_offsets\":[0,4]}}",
                     weight);
    ck_assert(n > 0 && (size_t)n < sizeof header - 8);
    while (n % 8)
        header[n++] = ' ';
    unsigned char file[512];
    for (int i = 0; i < 8; i++)
        file[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(file + 8, header, (size_t)n);
    memcpy(file + 8 + n, &value, 4); /* x86-64: little-endian */
    snprintf(path, sizeof path, "%s/foreign.safetensors", dir);
    ck_assert_int_eq(tu_write_file(path, file, (size_t)n + 12), 0);
    gd_fisher *f = NULL;
    const int rc = gd_fisher_load(&f, path);
    if (rc == GD_OK) {
        float e;
        double w;
        const int r = gd_fisher_read(f, 0, &e, 1, &w);
        if (r == GD_OK)
            ck_assert(e == value); /* what loads, reads as written */
        assert_round_trip(f);
        gd_fisher_destroy(f);
    }
    return rc;
}

START_TEST(loader_refuses_weights_that_change_estimates)
{
    ck_assert_int_eq(load_foreign("1", 1.2345f), GD_OK);
    ck_assert_int_eq(load_foreign("1e-320", 1.2345f), GD_EFORMAT); /* subnormal */
    ck_assert_int_eq(load_foreign("1e-200", 1.2345f), GD_EFORMAT); /* below 2^-512 */
    ck_assert_int_eq(load_foreign("1e200", 1.2345f), GD_EFORMAT);  /* above 2^512 */
    ck_assert_int_eq(load_foreign("1e150", 1.2345f), GD_OK);
    ck_assert_int_eq(load_foreign("0", 1.2345f), GD_EFORMAT); /* weight 0, estimate not 0 */
    ck_assert_int_eq(load_foreign("0", 0.0f), GD_OK);
    ck_assert_int_eq(load_foreign("1", 0x1.8p127f), GD_EFORMAT); /* above 2^127 */
    ck_assert_int_eq(load_foreign("1", 0x1p127f), GD_OK);
}
END_TEST

/* dropout.h and random.h: the call's last index, offset + n - 1, must not
 * pass 2^64 - 1; so offset 2^64 - 1 with n = 1 is fine, n = 2 is not. */
START_TEST(offset_rule_and_check_order)
{
    float x[2] = {1.0f, 2.0f}, y[2];
    uint32_t r[2];
    const gd_stream last = {1, 2, UINT64_MAX};
    ck_assert_int_eq(gd_dropout_fwd(y, x, 1, 0.5f, &last, NULL), GD_OK);
    ck_assert_int_eq(gd_random_u32(r, 1, &last), GD_OK);
    ck_assert_int_eq(gd_dropout_fwd(y, x, 2, 0.5f, &last, NULL), GD_EOVERFLOW);
    ck_assert_int_eq(gd_random_u32(r, 2, &last), GD_EOVERFLOW);
    /* the per-column kernels check the stream (O(1)) before p_cols (O(cols)) */
    const float p_bad[2] = {NAN, 0.5f};
    ck_assert_int_eq(gd_dropout_fwd_cols(y, x, 1, 2, p_bad, &last, NULL), GD_EOVERFLOW);
    ck_assert_int_eq(gd_dropout_bwd_cols(y, x, 1, 2, p_bad, &last, NULL), GD_EOVERFLOW);
    const gd_stream s0 = {1, 2, 0};
    ck_assert_int_eq(gd_dropout_fwd_cols(y, x, 1, 2, p_bad, &s0, NULL), GD_EDOMAIN);
}
END_TEST

/* GD_EDOMAIN's message covers each reason a function returns it for. */
START_TEST(edomain_message_true_everywhere)
{
    const char *m = gd_strerror(GD_EDOMAIN);
    ck_assert_ptr_nonnull(strstr(m, "NaN"));
    ck_assert_ptr_nonnull(strstr(m, "negative"));
    ck_assert_ptr_nonnull(strstr(m, "p_min > p_max"));
    ck_assert_ptr_nonnull(strstr(m, "too large"));
    /* and each of those reasons does give GD_EDOMAIN */
    gd_fisher *f = one_tensor(1);
    const float nan1[1] = {NAN}, one[1] = {1.0f}, big[1] = {1e20f};
    ck_assert_int_eq(gd_fisher_accumulate(f, 0, nan1, 1.0f), GD_EDOMAIN);
    ck_assert_int_eq(gd_fisher_accumulate(f, 0, one, -1.0f), GD_EDOMAIN);
    ck_assert_int_eq(gd_fisher_accumulate(f, 0, big, 1.0f), GD_EDOMAIN);
    gd_fisher_destroy(f);
    gd_plan *p = NULL;
    ck_assert_int_eq(gd_plan_create(&p, 2), GD_OK);
    ck_assert_int_eq(gd_plan_set_site(p, 0, NULL, NAN), GD_EDOMAIN);
    const float s[2] = {1.0f, 2.0f};
    ck_assert_int_eq(gd_plan_set_scores(p, s, 2), GD_OK);
    ck_assert_int_eq(gd_plan_compute(p, GD_RULE_RANK_LINEAR, 0.1f, 0.2f), GD_EDOMAIN);
    gd_plan_destroy(p);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, accumulate_refuses_overflowing_squares);
    tcase_add_test(tc, dense_seq_refuses_overflowing_gradients);
    tcase_add_test(tc, from_adam_refuses_overflowing_estimates);
    tcase_add_test(tc, set_sums_refuses_what_cannot_round_trip);
    tcase_add_test(tc, accepted_range_round_trips);
    tcase_add_test(tc, metadata_name_reserved);
    tcase_add_test(tc, merge_refuses_weight_overflow);
    tcase_add_test(tc, loader_refuses_weights_that_change_estimates);
    tcase_add_test(tc, offset_rule_and_check_order);
    tcase_add_test(tc, site_sum_beyond_float_refused);
    tcase_add_test(tc, edomain_message_true_everywhere);
}

int main(void)
{
    return tu_run("robust_fisher", add_tests, 60);
}

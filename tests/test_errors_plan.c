/*
 * The error contract of gd_plan_*: exact GD_E* codes for every kind of bad
 * argument, sentinel outputs untouched, and the plan unchanged (names,
 * scores and probabilities bit for bit, through gd_plan_site_info).
 */
#include "test_util.h"

#include <check.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define FAILS TU_PLAN_FAILS

enum { N = 5 };
static gd_plan *P;    /* scores set and computed */
static gd_plan *BARE; /* nothing set */

static void setup(void)
{
    ck_assert_int_eq(gd_plan_create(&P, N), GD_OK);
    ck_assert_int_eq(gd_plan_create(&BARE, 3), GD_OK);
    const char *names[N] = {"embed", "l0.attn", "l0.ffn", "", "head"};
    for (size_t i = 0; i < N; i++)
        ck_assert_int_eq(gd_plan_set_site(P, i, names[i], (float)(i * 7 % N) + 0.5f), GD_OK);
    ck_assert_int_eq(gd_plan_compute(P, GD_RULE_RANK_LINEAR, 0.1f, 0.0f), GD_OK);
}

static void teardown(void)
{
    gd_plan_destroy(P);
    gd_plan_destroy(BARE);
}

START_TEST(create_and_size)
{
    gd_plan *const keep = (gd_plan *)&P;
    gd_plan *out = keep;
    ck_assert_int_eq(gd_plan_create(NULL, 3), GD_EINVAL);
    ck_assert_int_eq(gd_plan_create(&out, 0), GD_EINVAL);
    ck_assert_int_eq(gd_plan_create(&out, SIZE_MAX), GD_EOVERFLOW);
    ck_assert_int_eq(gd_plan_create(&out, SIZE_MAX / 4 + 1), GD_EOVERFLOW);
    ck_assert_ptr_eq(out, keep);
    gd_plan_destroy(NULL);
    size_t n = 12345;
    ck_assert_int_eq(gd_plan_size(NULL, &n), GD_EINVAL);
    FAILS(P, GD_EINVAL, gd_plan_size(P, NULL));
    ck_assert_uint_eq(n, 12345);
}
END_TEST

START_TEST(set_site_bad_arguments)
{
    char long_name[258];
    memset(long_name, 'n', sizeof long_name);
    long_name[256] = '\0';
    const char *bad_names[] = {" ",        "a b",        "a\tb",      "a\nb",   "\r",
                               "\x01",     "x\x7f",      "-",         "\xff",   "\xc3",
                               "\xc0\xaf", "\xed\xa0\x80", long_name};
    FAILS(P, GD_EINVAL, gd_plan_set_site(NULL, 0, "x", 1.0f));
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        FAILS(P, GD_EINVAL, gd_plan_set_site(P, 1, bad_names[i], 1.0f));
    FAILS(P, GD_ENOTFOUND, gd_plan_set_site(P, N, "x", 1.0f));
    FAILS(P, GD_ENOTFOUND, gd_plan_set_site(P, SIZE_MAX, NULL, 1.0f));
    const float bad_scores[] = {NAN, -NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 4; i++) {
        FAILS(P, GD_EDOMAIN, gd_plan_set_site(P, 2, "renamed", bad_scores[i]));
        FAILS(P, GD_EDOMAIN, gd_plan_set_site(P, 2, NULL, bad_scores[i]));
    }
    /* the fine edges: 255 bytes, UTF-8, negative and huge scores */
    long_name[255] = '\0';
    ck_assert_int_eq(gd_plan_set_site(P, 0, long_name, -FLT_MAX), GD_OK);
    ck_assert_int_eq(gd_plan_set_site(P, 1, "\xc3\xa9t\xc3\xa9", FLT_MAX), GD_OK);
    ck_assert_int_eq(gd_plan_set_site(P, 1, NULL, 0.0f), GD_OK);
    const char *name;
    ck_assert_int_eq(gd_plan_site_info(P, 1, &name, NULL, NULL), GD_OK);
    ck_assert_str_eq(name, "\xc3\xa9t\xc3\xa9"); /* NULL kept the name */
}
END_TEST

START_TEST(set_scores_bad_arguments)
{
    float s[N + 1] = {1, 2, 3, 4, 5, 6};
    FAILS(P, GD_EINVAL, gd_plan_set_scores(NULL, s, N));
    FAILS(P, GD_EINVAL, gd_plan_set_scores(P, NULL, N));
    FAILS(P, GD_ESHAPE, gd_plan_set_scores(P, s, N - 1));
    FAILS(P, GD_ESHAPE, gd_plan_set_scores(P, s, N + 1));
    FAILS(P, GD_ESHAPE, gd_plan_set_scores(P, s, 0));
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 3; i++)
        for (size_t at = 0; at < N; at += N - 1) {
            float t[N] = {1, 2, 3, 4, 5};
            t[at] = bad[i];
            FAILS(P, GD_EDOMAIN, gd_plan_set_scores(P, t, N)); /* no partial update */
        }
}
END_TEST

START_TEST(compute_bad_arguments)
{
    FAILS(P, GD_EINVAL, gd_plan_compute(NULL, GD_RULE_RANK_LINEAR, 0.1f, 0.0f));
    const int bad_rules[] = {-1, 4, 99, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof bad_rules / sizeof bad_rules[0]; i++)
        FAILS(P, GD_EINVAL, gd_plan_compute(P, bad_rules[i], 0.1f, 0.0f));
    const float bad_pairs[][2] = {{1.5f, 0.0f},  {0.1f, -0.1f},     {0.1f, 0.2f},
                                  {NAN, 0.0f},   {0.1f, NAN},       {INFINITY, 0.0f},
                                  {0.5f, -INFINITY}, {0x1.000002p0f, 0.0f}};
    for (int rule = GD_RULE_UNIFORM; rule <= GD_RULE_LOG_SCORE_LINEAR; rule++)
        for (size_t i = 0; i < sizeof bad_pairs / sizeof bad_pairs[0]; i++)
            FAILS(P, GD_EDOMAIN, gd_plan_compute(P, rule, bad_pairs[i][0], bad_pairs[i][1]));
    /* a site without a score */
    for (int rule = GD_RULE_UNIFORM; rule <= GD_RULE_LOG_SCORE_LINEAR; rule++)
        FAILS(BARE, GD_ESTATE, gd_plan_compute(BARE, rule, 0.1f, 0.0f));
    ck_assert_int_eq(gd_plan_set_site(BARE, 0, "a", 1.0f), GD_OK);
    ck_assert_int_eq(gd_plan_set_site(BARE, 2, "c", 1.0f), GD_OK);
    FAILS(BARE, GD_ESTATE, gd_plan_compute(BARE, GD_RULE_RANK_LINEAR, 0.1f, 0.0f));
    /* log rule: every score must be > 0 */
    ck_assert_int_eq(gd_plan_set_site(BARE, 1, "b", 0.0f), GD_OK);
    FAILS(BARE, GD_EDOMAIN, gd_plan_compute(BARE, GD_RULE_LOG_SCORE_LINEAR, 0.1f, 0.0f));
    ck_assert_int_eq(gd_plan_set_site(BARE, 1, NULL, -2.0f), GD_OK);
    FAILS(BARE, GD_EDOMAIN, gd_plan_compute(BARE, GD_RULE_LOG_SCORE_LINEAR, 0.1f, 0.0f));
    /* the fine edges */
    ck_assert_int_eq(gd_plan_compute(BARE, GD_RULE_SCORE_LINEAR, 1.0f, 1.0f), GD_OK);
    ck_assert_int_eq(gd_plan_compute(BARE, GD_RULE_RANK_LINEAR, 0.0f, 0.0f), GD_OK);
    ck_assert_int_eq(gd_plan_compute(BARE, GD_RULE_RANK_LINEAR, 1.0f, -0.0f), GD_OK);
}
END_TEST

START_TEST(get_bad_arguments)
{
    float prob = 42.0f, probs[N + 1];
    memset(probs, 0xA5, sizeof probs);
    const unsigned char *pb = (const unsigned char *)probs;
    FAILS(P, GD_EINVAL, gd_plan_get(NULL, 0, &prob));
    FAILS(P, GD_EINVAL, gd_plan_get(P, 0, NULL));
    FAILS(P, GD_ENOTFOUND, gd_plan_get(P, N, &prob));
    FAILS(P, GD_ENOTFOUND, gd_plan_get(P, GD_NONE, &prob));
    FAILS(BARE, GD_ESTATE, gd_plan_get(BARE, 0, &prob));
    FAILS(P, GD_EINVAL, gd_plan_get_all(NULL, probs, N));
    FAILS(P, GD_EINVAL, gd_plan_get_all(P, NULL, N));
    FAILS(P, GD_ESHAPE, gd_plan_get_all(P, probs, N + 1));
    FAILS(P, GD_ESHAPE, gd_plan_get_all(P, probs, N - 1));
    FAILS(BARE, GD_ESTATE, gd_plan_get_all(BARE, probs, 3));
    ck_assert(prob == 42.0f);
    for (size_t i = 0; i < sizeof probs; i++)
        ck_assert_uint_eq(pb[i], 0xA5);
    /* a score change clears the probabilities */
    ck_assert_int_eq(gd_plan_set_site(P, 3, NULL, 100.0f), GD_OK);
    FAILS(P, GD_ESTATE, gd_plan_get(P, 0, &prob));
    FAILS(P, GD_ESTATE, gd_plan_get_all(P, probs, N));
    ck_assert(prob == 42.0f);

    const char *name = "keep";
    float score = 42.0f;
    FAILS(P, GD_EINVAL, gd_plan_site_info(NULL, 0, &name, &score, &prob));
    FAILS(P, GD_ENOTFOUND, gd_plan_site_info(P, N, &name, &score, &prob));
    ck_assert_str_eq(name, "keep");
    ck_assert(score == 42.0f && prob == 42.0f);
    ck_assert_int_eq(gd_plan_site_info(P, 0, NULL, NULL, NULL), GD_OK);
}
END_TEST

/* A failed compute leaves the previous probabilities in place. */
START_TEST(failed_compute_keeps_plan)
{
    float before[N], after[N];
    ck_assert_int_eq(gd_plan_get_all(P, before, N), GD_OK);
    ck_assert_int_eq(gd_plan_compute(P, 99, 0.1f, 0.0f), GD_EINVAL);
    ck_assert_int_eq(gd_plan_compute(P, GD_RULE_UNIFORM, 2.0f, 0.0f), GD_EDOMAIN);
    ck_assert_int_eq(gd_plan_get_all(P, after, N), GD_OK);
    ck_assert_int_eq(memcmp(before, after, sizeof before), 0);
}
END_TEST

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

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    ck_assert_int_ge(fputs(text, fp), 0);
    ck_assert_int_eq(fclose(fp), 0);
}

START_TEST(save_and_load_bad_arguments)
{
    char path[128];
    tu_path(path, sizeof path, "p.plan");
    FAILS(P, GD_EINVAL, gd_plan_save(NULL, path));
    FAILS(P, GD_EINVAL, gd_plan_save(P, NULL));
    FAILS(BARE, GD_ESTATE, gd_plan_save(BARE, path));
    ck_assert_int_eq(access(path, F_OK), -1);

    gd_plan *const keep = (gd_plan *)&P;
    gd_plan *out = keep;
    ck_assert_int_eq(gd_plan_load(NULL, path), GD_EINVAL);
    ck_assert_int_eq(gd_plan_load(&out, NULL), GD_EINVAL);
    ck_assert_int_eq(gd_plan_load(&out, path), GD_EIO);
    ck_assert_int_eq(gd_plan_load(&out, tu_dir()), GD_EIO);
    ck_assert_int_eq(gd_plan_load(&out, ""), GD_EIO);
    ck_assert_ptr_eq(out, keep);
    /* malformed plans */
    const char *bad[] = {
        "",                                 /* no site */
        "# only a comment\n\n",             /* no site */
        "0 a 1 0.1\n0 b 2 0.2\n",           /* index twice */
        "0 a 1 0.1\n2 b 2 0.2\n",           /* index 1 missing */
        "0 a 1\n",                          /* a field missing */
        "0 a 1 0.1 extra\n",                /* a field too many */
        "0 a 1 1.5\n",                      /* p above 1 */
        "0 a 1 -0.1\n",                     /* p below 0 */
        "0 a nan 0.1\n",                    /* score NaN */
        "0 a inf 0.1\n",                    /* score Inf */
        "0 a 1 nan\n",                      /* p NaN */
        "-1 a 1 0.1\n",                     /* negative index */
        "x a 1 0.1\n",                      /* not an index */
        "0 a 1x 0.1\n",                     /* trailing junk in a number */
        "18446744073709551616 a 1 0.1\n",   /* index overflows */
        "0 a\x01 1 0.1\n",                  /* control character in a name */
        "0 \xff 1 0.1\n",                   /* not UTF-8 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(path, bad[i]);
        const int rc = gd_plan_load(&out, path);
        ck_assert_msg(rc == GD_EFORMAT, "case %zu: got %s", i, gd_error_name(rc));
        ck_assert_ptr_eq(out, keep);
    }
    /* the valid round trip */
    ck_assert_int_eq(gd_plan_save(P, path), GD_OK);
    out = NULL;
    ck_assert_int_eq(gd_plan_load(&out, path), GD_OK);
    tu_plan_snap a;
    tu_plan_snap_take(P, &a);
    tu_plan_assert_same(out, &a);
    tu_plan_snap_free(&a);
    gd_plan_destroy(out);
}
END_TEST

static void add_plan_tests(TCase *tc)
{
    tcase_add_test(tc, create_and_size);
    tcase_add_test(tc, set_site_bad_arguments);
    tcase_add_test(tc, set_scores_bad_arguments);
    tcase_add_test(tc, compute_bad_arguments);
    tcase_add_test(tc, get_bad_arguments);
    tcase_add_test(tc, failed_compute_keeps_plan);
}

static void add_file_tests(TCase *tc)
{
    tcase_add_test(tc, save_and_load_bad_arguments);
}

int main(void)
{
    const tu_case cases[] = {
        {.name = "plan", .add_tests = add_plan_tests, .setup = setup, .teardown = teardown},
        {.name = "files", .add_tests = add_file_tests, .setup = tmp_setup, .teardown = tmp_teardown},
    };
    return tu_run_cases("errors_plan", cases, sizeof cases / sizeof cases[0]);
}

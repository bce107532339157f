/* gd_plan: the paper's rank rule with the authors' BERT values, the other
 * rules by hand, argument checks, and the text format. */
#include "test_util.h"
#include "internal.h"

#include <check.h>
#include <unistd.h>

static gd_plan *new_plan(size_t n)
{
    gd_plan *p = NULL;
    ck_assert_int_eq(gd_plan_create(&p, n), GD_OK);
    return p;
}

/* BERT-base's 37 sites with p_max 0.099, p_min 0: the authors' values
 * 0.099, 0.09625, ..., 0.00275, 0.0 by rank, from scrambled scores. */
START_TEST(bert_values)
{
    enum { L = 37 };
    float scores[L], probs[L];
    size_t rank_of[L];
    for (size_t i = 0; i < L; i++) {
        rank_of[i] = (i * 10 + 3) % L; /* 10 is invertible mod 37: a permutation */
        scores[i] = 0.5f + (float)rank_of[i] * 0.25f;
    }
    gd_plan *p = new_plan(L);
    ck_assert_int_eq(gd_plan_set_scores(p, scores, L), GD_OK);
    ck_assert_int_eq(gd_plan_compute(p, GD_RULE_RANK_LINEAR, 0.099f, 0.0f), GD_OK);
    ck_assert_int_eq(gd_plan_get_all(p, probs, L), GD_OK);
    double worst = 0.0;
    for (size_t i = 0; i < L; i++) {
        const float want = (float)(0.099 - 0.00275 * (double)rank_of[i]);
        const double err = fabs((double)probs[i] - (double)want);
        worst = err > worst ? err : worst;
        ck_assert_msg(err <= 1e-7, "site %zu rank %zu: %.9g vs %.9g", i, rank_of[i], probs[i], want);
        float one;
        ck_assert_int_eq(gd_plan_get(p, i, &one), GD_OK);
        ck_assert(one == probs[i]);
    }
    fprintf(stderr, "bert: worst |p - authors'| = %.3g\n", worst);
    for (size_t i = 0; i < L; i++) {
        if (rank_of[i] == 0)
            ck_assert(probs[i] == 0.099f);
        if (rank_of[i] == L - 1)
            ck_assert(probs[i] == 0.0f); /* exactly p_min, never -0 or -1e-18 */
    }
    gd_plan_destroy(p);
}
END_TEST

START_TEST(rank_ties_and_one_site)
{
    gd_plan *p = new_plan(4);
    const float s[4] = {2.0f, 1.0f, 2.0f, 1.0f}; /* ranks by (score, index): 2 0 3 1 */
    float probs[4];
    ck_assert_int_eq(gd_plan_set_scores(p, s, 4), GD_OK);
    ck_assert_int_eq(gd_plan_compute(p, GD_RULE_RANK_LINEAR, 0.3f, 0.0f), GD_OK);
    ck_assert_int_eq(gd_plan_get_all(p, probs, 4), GD_OK);
    ck_assert(probs[1] == 0.3f);
    ck_assert(probs[3] == (float)(0.3 - 0.3 * 1.0 / 3.0));
    ck_assert(probs[0] == (float)(0.3 - 0.3 * 2.0 / 3.0));
    ck_assert(probs[2] == 0.0f);
    gd_plan_destroy(p);
    p = new_plan(1);
    ck_assert_int_eq(gd_plan_set_site(p, 0, "only", 5.0f), GD_OK);
    ck_assert_int_eq(gd_plan_compute(p, GD_RULE_RANK_LINEAR, 0.2f, 0.1f), GD_OK);
    ck_assert_int_eq(gd_plan_get(p, 0, probs), GD_OK);
    ck_assert(probs[0] == 0.2f);
    gd_plan_destroy(p);
}
END_TEST

START_TEST(other_rules)
{
    gd_plan *p = new_plan(4);
    const float s[4] = {1.0f, 10.0f, 100.0f, 1000.0f};
    float pr[4];
    ck_assert_int_eq(gd_plan_set_scores(p, s, 4), GD_OK);
    ck_assert_int_eq(gd_plan_compute(p, GD_RULE_UNIFORM, 0.1f, 0.0f), GD_OK);
    ck_assert_int_eq(gd_plan_get_all(p, pr, 4), GD_OK);
    for (int i = 0; i < 4; i++)
        ck_assert(pr[i] == 0.1f);
    ck_assert_int_eq(gd_plan_compute(p, GD_RULE_SCORE_LINEAR, 0.5f, 0.1f), GD_OK);
    ck_assert_int_eq(gd_plan_get_all(p, pr, 4), GD_OK);
    ck_assert(pr[0] == 0.5f && pr[3] == 0.1f);
    ck_assert(pr[1] == (float)(0.5 - (0.5 - (double)0.1f) * 9.0 / 999.0));
    ck_assert_int_eq(gd_plan_compute(p, GD_RULE_LOG_SCORE_LINEAR, 0.4f, 0.1f), GD_OK);
    ck_assert_int_eq(gd_plan_get_all(p, pr, 4), GD_OK);
    ck_assert(pr[0] == 0.4f && pr[3] == 0.1f);
    for (int i = 1; i < 3; i++) {
        const double want = 0.4 - (0.4 - (double)0.1f) * log((double)s[i]) / log(1000.0);
        ck_assert(fabs(pr[i] - want) <= 1e-7);
    }
    /* equal scores give p_max */
    const float same[4] = {3, 3, 3, 3};
    ck_assert_int_eq(gd_plan_set_scores(p, same, 4), GD_OK);
    ck_assert_int_eq(gd_plan_compute(p, GD_RULE_SCORE_LINEAR, 0.25f, 0.0f), GD_OK);
    ck_assert_int_eq(gd_plan_get(p, 2, pr), GD_OK);
    ck_assert(pr[0] == 0.25f);
    /* log rule needs positive scores */
    ck_assert_int_eq(gd_plan_set_site(p, 1, NULL, 0.0f), GD_OK);
    ck_assert_int_eq(gd_plan_compute(p, GD_RULE_LOG_SCORE_LINEAR, 0.4f, 0.1f), GD_EDOMAIN);
    gd_plan_destroy(p);
}
END_TEST

START_TEST(arguments)
{
    gd_plan *p = NULL;
    ck_assert_int_eq(gd_plan_create(&p, 0), GD_EINVAL);
    ck_assert_int_eq(gd_plan_create(NULL, 3), GD_EINVAL);
    ck_assert_int_eq(gd_plan_create(&p, SIZE_MAX / 2), GD_EOVERFLOW);
    ck_assert_ptr_null(p);
    p = new_plan(3);
    float prob = 7.0f, score;
    const char *name;
    size_t n;
    ck_assert_int_eq(gd_plan_size(p, &n), GD_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(gd_plan_site_info(p, 1, &name, &score, &prob), GD_OK);
    ck_assert_str_eq(name, "");
    ck_assert(isnan(score) && isnan(prob));
    /* a site without a score */
    ck_assert_int_eq(gd_plan_set_site(p, 0, "a", 1.0f), GD_OK);
    ck_assert_int_eq(gd_plan_set_site(p, 1, "b", 2.0f), GD_OK);
    ck_assert_int_eq(gd_plan_compute(p, GD_RULE_UNIFORM, 0.1f, 0.0f), GD_ESTATE);
    ck_assert_int_eq(gd_plan_set_site(p, 2, NULL, 3.0f), GD_OK);
    /* invalid p_max / p_min */
    const float bad[][2] = {{NAN, 0}, {0.1f, NAN}, {-0.1f, 0}, {1.5f, 0},
                            {0.1f, -0.1f}, {0.1f, 0.2f}, {INFINITY, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(gd_plan_compute(p, GD_RULE_RANK_LINEAR, bad[i][0], bad[i][1]), GD_EDOMAIN);
    ck_assert_int_eq(gd_plan_compute(p, 4, 0.1f, 0.0f), GD_EINVAL);
    ck_assert_int_eq(gd_plan_compute(p, -1, 0.1f, 0.0f), GD_EINVAL);
    ck_assert_int_eq(gd_plan_get(p, 0, &prob), GD_ESTATE);
    ck_assert_int_eq(gd_plan_compute(p, GD_RULE_RANK_LINEAR, 1.0f, 1.0f), GD_OK);
    ck_assert_int_eq(gd_plan_get(p, 2, &prob), GD_OK);
    ck_assert(prob == 1.0f);
    ck_assert_int_eq(gd_plan_get(p, 3, &prob), GD_ENOTFOUND);
    float all[3];
    ck_assert_int_eq(gd_plan_get_all(p, all, 2), GD_ESHAPE);
    /* names */
    ck_assert_int_eq(gd_plan_set_site(p, 0, "has space", 1.0f), GD_EINVAL);
    ck_assert_int_eq(gd_plan_set_site(p, 0, "tab\t", 1.0f), GD_EINVAL);
    ck_assert_int_eq(gd_plan_set_site(p, 0, "-", 1.0f), GD_EINVAL);
    ck_assert_int_eq(gd_plan_set_site(p, 0, "bad\xc3", 1.0f), GD_EINVAL);
    ck_assert_int_eq(gd_plan_set_site(p, 3, "x", 1.0f), GD_ENOTFOUND);
    ck_assert_int_eq(gd_plan_set_site(p, 0, "x", NAN), GD_EDOMAIN);
    ck_assert_int_eq(gd_plan_set_site(p, 0, "x", INFINITY), GD_EDOMAIN);
    ck_assert_int_eq(gd_plan_site_info(p, 0, &name, &score, NULL), GD_OK);
    ck_assert_str_eq(name, "a");
    ck_assert(score == 1.0f);
    /* the same score keeps the computed plan; another clears it */
    ck_assert_int_eq(gd_plan_set_site(p, 0, "renamed", 1.0f), GD_OK);
    ck_assert_int_eq(gd_plan_get(p, 0, &prob), GD_OK);
    ck_assert_int_eq(gd_plan_set_site(p, 0, "", 1.5f), GD_OK);
    ck_assert_int_eq(gd_plan_get(p, 0, &prob), GD_ESTATE);
    ck_assert_int_eq(gd_plan_site_info(p, 0, &name, NULL, &prob), GD_OK);
    ck_assert_str_eq(name, "");
    ck_assert(isnan(prob));
    const float nan3[3] = {1, NAN, 2}, ok3[3] = {1, 2, 3};
    ck_assert_int_eq(gd_plan_set_scores(p, nan3, 3), GD_EDOMAIN);
    ck_assert_int_eq(gd_plan_set_scores(p, ok3, 2), GD_ESHAPE);
    ck_assert_int_eq(gd_plan_site_info(p, 1, NULL, &score, NULL), GD_OK);
    ck_assert(score == 2.0f);
    gd_plan_destroy(p);
    gd_plan_destroy(NULL);
}
END_TEST

START_TEST(save_load_round_trip)
{
    char path[64];
    tu_path(path, sizeof path, "plan");
    gd_plan *p = new_plan(5), *q = NULL;
    const char *names[5] = {"emb", "", "layer.0.attn", "x\xc3\xa9", "out"};
    const float s[5] = {3.14159274f, 1e-30f, 2.5e20f, 0.1f, -4.0f};
    for (size_t i = 0; i < 5; i++)
        ck_assert_int_eq(gd_plan_set_site(p, i, names[i], s[i]), GD_OK);
    ck_assert_int_eq(gd_plan_save(p, path), GD_ESTATE);
    ck_assert_int_eq(gd_plan_compute(p, GD_RULE_RANK_LINEAR, 0.099f, 0.01f), GD_OK);
    ck_assert_int_eq(gd_plan_save(p, path), GD_OK);
    ck_assert_int_eq(gd_plan_load(&q, path), GD_OK);
    size_t n;
    ck_assert_int_eq(gd_plan_size(q, &n), GD_OK);
    ck_assert_uint_eq(n, 5);
    for (size_t i = 0; i < 5; i++) {
        const char *na, *nb;
        float sa, sb, pa, pb;
        ck_assert_int_eq(gd_plan_site_info(p, i, &na, &sa, &pa), GD_OK);
        ck_assert_int_eq(gd_plan_site_info(q, i, &nb, &sb, &pb), GD_OK);
        ck_assert_str_eq(na, nb);
        ck_assert(sa == sb && pa == pb);
    }
    size_t len;
    char *text = tu_read_file(path, &len);
    ck_assert(tu_contains(text, len, "\n1 - 1e-30 "));
    free(text);
    unlink(path);
    gd_plan_destroy(p);
    gd_plan_destroy(q);
}
END_TEST

static int load_text(const char *text)
{
    char path[64];
    tu_path(path, sizeof path, "plantext");
    ck_assert_int_eq(tu_write_file(path, text, strlen(text)), 0);
    gd_plan *sentinel = (gd_plan *)&path, *p = sentinel;
    const int rc = gd_plan_load(&p, path);
    unlink(path);
    if (rc == GD_OK)
        gd_plan_destroy(p);
    else
        ck_assert_ptr_eq(p, sentinel);
    return rc;
}

START_TEST(load_rejects)
{
    ck_assert_int_eq(load_text("# comment\n\n  \t\n1 b 2 0.5\n0 - 1e3 0.25\r\n  # indented\n"),
                     GD_OK);
    ck_assert_int_eq(load_text("0 a 1 0.5"), GD_OK); /* no final newline */
    static const char *bad[] = {
        "",
        "# only comments\n",
        "0 a 1\n",
        "0 a 1 0.5 extra\n",
        "0 a 1 0.5 # trailing\n",
        "1 a 1 0.5\n",               /* index 0 missing */
        "0 a 1 0.5\n0 b 1 0.5\n",    /* duplicate */
        "0 a 1 0.5\n2 b 1 0.5\n",    /* out of range */
        "-0 a 1 0.5\n",
        "+0 a 1 0.5\n",
        "00 a 1 0.5\n",
        "0x0 a 1 0.5\n",
        "0 a nan 0.5\n",
        "0 a inf 0.5\n",
        "0 a 1e39 0.5\n",
        "0 a 1 1.5\n",
        "0 a 1 -0.5\n",
        "0 a 1 nan\n",
        "0 a 1 0x1p-1\n",
        "0 a 1. 0.5.\n",
        "0 a\x01 1 0.5\n",
        "0 a\xff 1 0.5\n",
        "0 a 1,5 0.5\n",
        "99999999999999999999999 a 1 0.5\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(load_text(bad[i]) == GD_EFORMAT, "case %zu: %s", i, bad[i]);
    /* NUL byte, a too-long line, a too-long name */
    char buf[2048];
    memcpy(buf, "0 a\0b 1 0.5\n", 12);
    char path[64];
    tu_path(path, sizeof path, "nul");
    ck_assert_int_eq(tu_write_file(path, buf, 12), 0);
    gd_plan *p;
    ck_assert_int_eq(gd_plan_load(&p, path), GD_EFORMAT);
    unlink(path);
    memset(buf, ' ', sizeof buf);
    memcpy(buf, "0 a 1 0.5", 9);
    buf[sizeof buf - 1] = '\0';
    ck_assert_int_eq(load_text(buf), GD_EFORMAT);
    memset(buf, 'n', 300);
    memcpy(buf, "0 ", 2);
    strcpy(buf + 258, " 1 0.5\n"); /* a 256-byte name */
    ck_assert_int_eq(load_text(buf), GD_EFORMAT);
    strcpy(buf + 257, " 1 0.5\n"); /* 255 bytes: fine */
    ck_assert_int_eq(load_text(buf), GD_OK);
    ck_assert_int_eq(gd_plan_load(&p, "./no/such/plan"), GD_EIO);
    ck_assert_int_eq(gd_plan_load(NULL, "x"), GD_EINVAL);
}
END_TEST

START_TEST(alloc_failures)
{
    char path[64];
    tu_path(path, sizeof path, "planalloc");
    gd_plan *p = new_plan(3);
    const float s[3] = {1, 2, 3};
    ck_assert_int_eq(gd_plan_set_scores(p, s, 3), GD_OK);
    ck_assert_int_eq(gd_plan_set_site(p, 1, "named", 2.0f), GD_OK);
    ck_assert_int_eq(gd_plan_compute(p, GD_RULE_RANK_LINEAR, 0.1f, 0.0f), GD_OK);
    ck_assert_int_eq(gd_plan_save(p, path), GD_OK);
    for (long k = 1;; k++) {
        gd_plan *q = NULL;
        gd_test_fail_alloc_after(k);
        const int rc = gd_plan_load(&q, path);
        gd_test_fail_alloc_after(0);
        if (rc == GD_OK) {
            gd_plan_destroy(q);
            break;
        }
        ck_assert_int_eq(rc, GD_ENOMEM);
        ck_assert_ptr_null(q);
    }
    for (long k = 1; k < 6; k++) {
        gd_plan *q = NULL;
        gd_test_fail_alloc_after(k);
        const int rc = gd_plan_create(&q, 4);
        gd_test_fail_alloc_after(0);
        ck_assert(rc == GD_ENOMEM || rc == GD_OK);
        gd_plan_destroy(q);
    }
    gd_test_fail_alloc_after(1);
    ck_assert_int_eq(gd_plan_set_site(p, 0, "newname", 1.0f), GD_ENOMEM);
    gd_test_fail_alloc_after(0);
    const char *name;
    ck_assert_int_eq(gd_plan_site_info(p, 1, &name, NULL, NULL), GD_OK);
    ck_assert_str_eq(name, "named");
    unlink(path);
    gd_plan_destroy(p);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, bert_values);
    tcase_add_test(tc, rank_ties_and_one_site);
    tcase_add_test(tc, other_rules);
    tcase_add_test(tc, arguments);
    tcase_add_test(tc, save_load_round_trip);
    tcase_add_test(tc, load_rejects);
    tcase_add_test(tc, alloc_failures);
}

int main(void)
{
    /* tu_path's files go to a private directory per test */
    const tu_case core = {.name = "core", .add_tests = add_tests, .timeout = 0,
                          .setup = tu_dir_setup, .teardown = tu_dir_teardown};
    return tu_run_cases("plan", &core, 1);
}

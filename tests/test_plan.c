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
        /* 65 characters: over the 64 plan.h allows */
        "0 a 0.000000000000000000000000000000000000000000000000000000000000001 0.5\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(load_text(bad[i]) == GD_EFORMAT, "case %zu: %s", i, bad[i]);
    /* 64 characters: the longest number plan.h allows */
    ck_assert_int_eq(
        load_text("0 a 0.00000000000000000000000000000000000000000000000000000000000001 0.5\n"),
        GD_OK);
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

/* ---- controls (gd_plan_control) ---------------------------------------- */

enum { CN = 7 };
static const char *const control_names[CN] = {
    "embeddings.dropout", "encoder.layer.0.a", "encoder.layer.0.b", "encoder.layer.1.a",
    "encoder.layer.1.b",  "encoder.layer.2.a", "encoder.layer.2.b"};

/* A rank-linear plan 0.3 -> 0 over the seven sites, from scrambled scores. */
static gd_plan *control_plan(float *probs)
{
    gd_plan *p = new_plan(CN);
    for (size_t i = 0; i < CN; i++)
        ck_assert_int_eq(gd_plan_set_site(p, i, control_names[i], (float)((i * 3 + 2) % CN)), GD_OK);
    ck_assert_int_eq(gd_plan_compute(p, GD_RULE_RANK_LINEAR, 0.3f, 0.0f), GD_OK);
    ck_assert_int_eq(gd_plan_get_all(p, probs, CN), GD_OK);
    return p;
}

static int cmp_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The same values, in any order. */
static void assert_same_multiset(const float *a, const float *b, size_t n)
{
    float x[CN], y[CN];
    memcpy(x, a, n * sizeof *x);
    memcpy(y, b, n * sizeof *y);
    qsort(x, n, sizeof *x, cmp_float);
    qsort(y, n, sizeof *y, cmp_float);
    for (size_t i = 0; i < n; i++)
        ck_assert(x[i] == y[i]);
}

START_TEST(control_reversed_and_matched)
{
    float base[CN], got[CN];
    gd_plan *p = control_plan(base);
    ck_assert_int_eq(gd_plan_control(p, GD_CONTROL_REVERSED, 0), GD_OK);
    ck_assert_int_eq(gd_plan_get_all(p, got, CN), GD_OK);
    /* rank-linear from 0.3 to 0: the mirrored rank's rate is 0.3 - p */
    for (size_t i = 0; i < CN; i++)
        ck_assert_msg(fabs((double)got[i] - (0.3 - (double)base[i])) <= 1e-7, "site %zu: %.9g",
                      i, got[i]);
    assert_same_multiset(base, got, CN);
    ck_assert_int_eq(gd_plan_control(p, GD_CONTROL_REVERSED, 0), GD_OK); /* an involution */
    ck_assert_int_eq(gd_plan_get_all(p, got, CN), GD_OK);
    for (size_t i = 0; i < CN; i++)
        ck_assert(got[i] == base[i]);
    ck_assert_int_eq(gd_plan_control(p, GD_CONTROL_MATCHED, 0), GD_OK);
    ck_assert_int_eq(gd_plan_get_all(p, got, CN), GD_OK);
    for (size_t i = 0; i < CN; i++) /* 0.3 * (0 + 1 + ... + 6) / 6 / 7 = 0.15 */
        ck_assert_msg(fabs((double)got[i] - 0.15) <= 1e-7, "matched %.9g", got[i]);
    gd_plan_destroy(p);
}
END_TEST

/* The permutation, position by position, as the header specifies it. */
START_TEST(control_permuted_known_answer)
{
    float base[CN], got[CN], want[CN];
    gd_plan *p = control_plan(base);
    const uint64_t seed = 42;
    ck_assert_int_eq(gd_plan_control(p, GD_CONTROL_PERMUTED, seed), GD_OK);
    ck_assert_int_eq(gd_plan_get_all(p, got, CN), GD_OK);
    uint32_t u[CN - 1];
    const gd_stream s = {seed, GD_CONTROL_STREAM, 0};
    ck_assert_int_eq(gd_random_u32(u, CN - 1, &s), GD_OK);
    memcpy(want, base, sizeof want);
    for (size_t i = CN - 1, k = 0; i >= 1; i--, k++) {
        const size_t j = (size_t)floor((double)u[k] * (double)(i + 1) / 4294967296.0);
        const float t = want[i];
        want[i] = want[j];
        want[j] = t;
    }
    for (size_t i = 0; i < CN; i++)
        ck_assert(got[i] == want[i]);
    gd_plan_destroy(p);
}
END_TEST

/* Over many seeds every site takes every rate about equally often
 * (PERMUTED), and every site of a kind every rate of its kind (KIND); the
 * embedding site, alone of its kind, never moves.  Bounds: 6 binomial
 * standard deviations. */
START_TEST(control_permutations_uniform)
{
    enum { SEEDS = 7000 };
    float base[CN], got[CN];
    static unsigned perm_count[CN][CN], kind_count[CN][CN];
    gd_plan *p = control_plan(base);
    for (uint64_t seed = 0; seed < SEEDS; seed++) {
        for (int control = GD_CONTROL_PERMUTED; control <= GD_CONTROL_KIND; control++) {
            ck_assert_int_eq(gd_plan_compute(p, GD_RULE_RANK_LINEAR, 0.3f, 0.0f), GD_OK);
            ck_assert_int_eq(gd_plan_control(p, control, seed), GD_OK);
            ck_assert_int_eq(gd_plan_get_all(p, got, CN), GD_OK);
            assert_same_multiset(base, got, CN);
            for (size_t i = 0; i < CN; i++)
                for (size_t k = 0; k < CN; k++)
                    if (got[i] == base[k])
                        (control == GD_CONTROL_PERMUTED ? perm_count : kind_count)[i][k]++;
        }
    }
    const double pp = 1.0 / CN, pk = 1.0 / 3.0;
    for (size_t i = 0; i < CN; i++)
        for (size_t k = 0; k < CN; k++) {
            const double sd = sqrt(SEEDS * pp * (1 - pp));
            ck_assert_msg(fabs(perm_count[i][k] - SEEDS * pp) <= 6 * sd, "permuted %zu<-%zu: %u",
                          i, k, perm_count[i][k]);
            const int same_kind = i == 0 ? k == 0 : k != 0 && (i - 1) % 2 == (k - 1) % 2;
            if (i == 0)
                ck_assert_uint_eq(kind_count[i][k], k == 0 ? SEEDS : 0);
            else if (!same_kind)
                ck_assert_uint_eq(kind_count[i][k], 0);
            else
                ck_assert_msg(fabs(kind_count[i][k] - SEEDS * pk) <= 6 * sqrt(SEEDS * pk * (1 - pk)),
                              "kind %zu<-%zu: %u", i, k, kind_count[i][k]);
        }
    gd_plan_destroy(p);
}
END_TEST

START_TEST(control_errors)
{
    float base[CN], got[CN];
    gd_plan *p = control_plan(base);
    ck_assert_int_eq(gd_plan_control(NULL, GD_CONTROL_REVERSED, 0), GD_EINVAL);
    ck_assert_int_eq(gd_plan_control(p, 0, 0), GD_EINVAL);
    ck_assert_int_eq(gd_plan_control(p, GD_CONTROL_MATCHED + 1, 0), GD_EINVAL);
    ck_assert_int_eq(gd_plan_get_all(p, got, CN), GD_OK); /* untouched by the refusals */
    for (size_t i = 0; i < CN; i++)
        ck_assert(got[i] == base[i]);
    ck_assert_int_eq(gd_plan_set_site(p, 0, NULL, 100.0f), GD_OK); /* clears the rates */
    ck_assert_int_eq(gd_plan_control(p, GD_CONTROL_PERMUTED, 1), GD_ESTATE);
    gd_plan_destroy(p);
    gd_plan *one = new_plan(1);
    ck_assert_int_eq(gd_plan_set_site(one, 0, "x", 1.0f), GD_OK);
    ck_assert_int_eq(gd_plan_compute(one, GD_RULE_RANK_LINEAR, 0.2f, 0.0f), GD_OK);
    for (int c = GD_CONTROL_REVERSED; c <= GD_CONTROL_MATCHED; c++) {
        float v;
        ck_assert_int_eq(gd_plan_control(one, c, 7), GD_OK);
        ck_assert_int_eq(gd_plan_get(one, 0, &v), GD_OK);
        ck_assert(v == 0.2f);
    }
    gd_plan_destroy(one);
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
    tcase_add_test(tc, control_reversed_and_matched);
    tcase_add_test(tc, control_permuted_known_answer);
    tcase_add_test(tc, control_permutations_uniform);
    tcase_add_test(tc, control_errors);
}

int main(void)
{
    /* tu_path's files go to a private directory per test */
    const tu_case core = {.name = "core", .add_tests = add_tests, .timeout = 0,
                          .setup = tu_dir_setup, .teardown = tu_dir_teardown};
    return tu_run_cases("plan", &core, 1);
}

/*
 * A consumer of the INSTALLED library: it is built against an install prefix
 * (CMake package, pkg-config, static and shared), never against the source
 * tree, and checks real values so a broken install cannot pass.
 */
#include <gdropout/gdropout.h>

#include <stdio.h>
#include <string.h>

static int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "consumer: FAILED: %s\n", what);
        failures++;
    }
}

/* Header and library agree, and the error table is reachable. */
static void check_version(void)
{
    check(gd_version() == GD_VERSION_NUMBER, "gd_version() == GD_VERSION_NUMBER");
    check(strcmp(gd_version_string(), GD_VERSION_STRING) == 0, "gd_version_string()");
    check(gd_none() == GD_NONE, "gd_none() == GD_NONE");
    check(strcmp(gd_error_name(GD_EDOMAIN), "GD_EDOMAIN") == 0, "gd_error_name");
}

/* Random123's known answer for a zero counter and key. */
static void check_philox(void)
{
    const uint32_t ctr[4] = {0, 0, 0, 0}, key[2] = {0, 0};
    const uint32_t want[4] = {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u};
    uint32_t out[4];
    check(gd_philox4x32_10(ctr, key, out) == GD_OK, "gd_philox4x32_10 ok");
    check(memcmp(out, want, sizeof out) == 0, "Philox known answer");
}

/* Forward, backward from the mask and regenerated backward agree, with about
 * p of the elements dropped (binomial bound: 4096 draws at p = 0.25 have a
 * standard deviation of 27.7, the band is +-8 of them). */
static void check_dropout(void)
{
    enum { N = 4096 };
    static float x[N], y[N], dx1[N], dx2[N];
    static uint8_t mask[N / 8];
    const gd_stream s = {1234, 5, 0};
    const float p = 0.25f;
    for (size_t i = 0; i < N; i++)
        x[i] = (float)i + 1.0f;
    check(gd_dropout_fwd(y, x, N, p, &s, mask) == GD_OK, "gd_dropout_fwd");
    check(gd_dropout_bwd(dx1, x, N, p, NULL, mask) == GD_OK, "gd_dropout_bwd(mask)");
    check(gd_dropout_bwd(dx2, x, N, p, &s, NULL) == GD_OK, "gd_dropout_bwd(regenerate)");
    size_t dropped = 0, bad = 0;
    for (size_t i = 0; i < N; i++) {
        const int kept = (mask[i / 8] >> (i % 8)) & 1;
        dropped += !kept;
        bad += kept ? y[i] != x[i] * (4.0f / 3.0f) : y[i] != 0.0f;
        bad += memcmp(&y[i], &dx1[i], sizeof(float)) != 0;
        bad += memcmp(&y[i], &dx2[i], sizeof(float)) != 0;
    }
    check(bad == 0, "forward, mask backward and regenerated backward agree");
    check(dropped > 1024 - 222 && dropped < 1024 + 222, "drop count within 8 sigma");
    check(gd_dropout_fwd(y, x, N, 1.5f, &s, NULL) == GD_EDOMAIN, "p = 1.5 refused");
    check(strlen(gd_strerror(GD_EDOMAIN)) > 0, "gd_strerror");
}

/* The Fisher accumulators reach OpenBLAS (sgemm), so a static link that
 * forgot the archive's private dependencies fails here.  One example of a
 * 2 x 3 dense layer: F = (dy x^T)^2 exactly, as the values are small
 * integers; then the plan ranks the two sites. */
static void check_fisher_plan(void)
{
    const float x[3] = {1, 2, 3}, dy[2] = {2, -1};
    float est[6], scores[2], probs[2];
    size_t w = 0, b = 0, v = 0;
    gd_fisher *f = NULL;
    gd_plan *plan = NULL;
    check(gd_fisher_create(&f) == GD_OK, "gd_fisher_create");
    check(gd_fisher_add_tensor(f, "fc.weight", 6, 1, &w) == GD_OK, "add fc.weight");
    check(gd_fisher_add_tensor(f, "fc.bias", 2, 1, &b) == GD_OK, "add fc.bias");
    check(gd_fisher_add_tensor(f, "emb", 1, 0, &v) == GD_OK, "add emb");
    check(gd_fisher_accumulate_dense(f, w, b, x, dy, 1, 3, 2) == GD_OK, "accumulate_dense");
    check(gd_fisher_accumulate(f, v, x, 1.0f) == GD_OK, "accumulate");
    check(gd_fisher_read(f, w, est, 6, NULL) == GD_OK, "gd_fisher_read");
    for (int o = 0; o < 2; o++)
        for (int i = 0; i < 3; i++)
            check(est[o * 3 + i] == (dy[o] * x[i]) * (dy[o] * x[i]), "dense estimate exact");
    check(gd_fisher_site_scores(f, GD_REDUCE_TENSOR_MEAN, scores, 2) == GD_OK, "site scores");
    check(gd_plan_create(&plan, 2) == GD_OK, "gd_plan_create");
    check(gd_plan_set_scores(plan, scores, 2) == GD_OK, "gd_plan_set_scores");
    check(gd_plan_compute(plan, GD_RULE_RANK_LINEAR, 0.1f, 0.0f) == GD_OK, "gd_plan_compute");
    check(gd_plan_get_all(plan, probs, 2) == GD_OK, "gd_plan_get_all");
    /* emb's score 1 is below the dense site's, so it gets p_max */
    check(probs[0] == 0.1f && probs[1] == 0.0f, "rank-linear plan");
    gd_plan_destroy(plan);
    gd_fisher_destroy(f);
}

int main(void)
{
    check_version();
    check_philox();
    check_dropout();
    check_fisher_plan();
    if (failures)
        return 1;
    printf("consumer ok: libgdropout %s, kernels %s\n", gd_version_string(), gd_dispatch_name());
    return 0;
}

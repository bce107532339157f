/*
 * A v1 consumer: compiled against the public header only, linked to the
 * shared library, run against whatever libgdropout.so.1 is found at run time.
 * .ci/steps/45-abi.sh builds it against include/ and runs it on the freshly
 * built library; kept unchanged, it is what a program built for 1.0 expects
 * of every later 1.x.  It calls a broad set of the v1 functions and checks
 * their results against known answers, printing one line per failure.
 *
 * Only the public header: no internal headers, no test helpers.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <gdropout/gdropout.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "v1_consumer:%d: check failed: %s\n", __LINE__, #cond); \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static void versions(void)
{
    /* the library is at least the header's 1.x, same major */
    CHECK(gd_version() >> 16 == GD_VERSION_MAJOR);
    CHECK(gd_version() >= (unsigned)GD_VERSION_NUMBER);
    CHECK(gd_version_string() != NULL && gd_version_string()[0] == '1');
    CHECK(gd_none() == GD_NONE);
    CHECK(strcmp(gd_error_name(GD_EDOMAIN), "GD_EDOMAIN") == 0);
    CHECK(strcmp(gd_error_name(12345), "GD_EUNKNOWN") == 0);
    CHECK(gd_strerror(-12345) != NULL);
    CHECK(strcmp(gd_strerror(GD_OK), "success") == 0);
    const char *d = gd_dispatch_name();
    CHECK(d && (!strcmp(d, "scalar") || !strcmp(d, "avx2") || !strcmp(d, "avx512")));
}

static void randomness(void)
{
    /* Random123's known answer */
    const uint32_t ctr[4] = {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344};
    const uint32_t key[2] = {0xa4093822, 0x299f31d0};
    uint32_t out[4];
    CHECK(gd_philox4x32_10(ctr, key, out) == GD_OK);
    CHECK(out[0] == 0xd16cfe09 && out[1] == 0x94fdcceb && out[2] == 0x5001e420 &&
          out[3] == 0x24126ea1);
    CHECK(gd_philox4x32_10(NULL, key, out) == GD_EINVAL);

    /* the counter layout of gd_stream */
    const gd_stream s = {UINT64_C(0x0123456789abcdef), UINT64_C(0xfedcba9876543210), 6};
    uint32_t r[10];
    CHECK(gd_random_u32(r, 10, &s) == GD_OK);
    for (uint64_t i = 6; i < 16; i++) {
        const uint32_t c[4] = {(uint32_t)(i / 4), 0, (uint32_t)s.stream,
                               (uint32_t)(s.stream >> 32)};
        const uint32_t k[2] = {(uint32_t)s.seed, (uint32_t)(s.seed >> 32)};
        CHECK(gd_philox4x32_10(c, k, out) == GD_OK);
        CHECK(r[i - 6] == out[i % 4]);
    }
    const gd_stream end = {1, 2, UINT64_MAX};
    CHECK(gd_random_u32(r, 2, &end) == GD_EOVERFLOW);

    float z[64];
    CHECK(gd_random_normal(z, 64, &s) == GD_OK);
    double mean = 0.0;
    for (int i = 0; i < 64; i++) {
        CHECK(isfinite(z[i]) && fabsf(z[i]) < 6.0f);
        mean += z[i] / 64.0;
    }
    CHECK(fabs(mean) < 0.75); /* 6 standard errors */
}

static int dropped(uint32_t r, float p)
{
    const uint64_t t = p >= 1 ? (UINT64_C(1) << 32) : (uint64_t)floor((double)p * 4294967296.0);
    return (uint64_t)r < t;
}

static void kernels(void)
{
    enum { ROWS = 5, COLS = 13, N = ROWS * COLS };
    float x[N], y[N], dx[N], y2[N], bias[COLS], dbias[COLS], p_cols[COLS];
    uint8_t mask[(N + 7) / 8], mask2[(N + 7) / 8];
    uint32_t r[N];
    const gd_stream s = {42, 7, 1000};
    const float p = 0.375f, scale = (float)(1.0 / (1.0 - (double)p));
    for (int i = 0; i < N; i++)
        x[i] = (float)(i - 20) * 0.25f;
    for (int c = 0; c < COLS; c++) {
        bias[c] = (float)c;
        p_cols[c] = (float)c / (float)(COLS - 1);
    }
    CHECK(gd_random_u32(r, N, &s) == GD_OK);

    CHECK(gd_dropout_fwd(y, x, N, p, &s, mask) == GD_OK);
    CHECK(gd_mask_bernoulli(mask2, N, p, &s) == GD_OK);
    CHECK(memcmp(mask, mask2, sizeof mask) == 0);
    for (int i = 0; i < N; i++) {
        const int keep = !dropped(r[i], p);
        CHECK(((mask[i / 8] >> (i % 8)) & 1) == keep);
        CHECK(y[i] == (keep ? x[i] * scale : 0.0f));
    }
    CHECK(mask[N / 8] >> (N % 8) == 0); /* padding bits */
    CHECK(gd_dropout_bwd(dx, x, N, p, NULL, mask) == GD_OK);
    CHECK(memcmp(dx, y, sizeof y) == 0);
    CHECK(gd_dropout_bwd(dx, x, N, p, &s, NULL) == GD_OK);
    CHECK(memcmp(dx, y, sizeof y) == 0);

    CHECK(gd_dropout_fwd_cols(y, x, ROWS, COLS, p_cols, &s, mask) == GD_OK);
    for (int i = 0; i < N; i++) {
        const float pc = p_cols[i % COLS];
        const float sc = (float)(1.0 / (1.0 - (double)pc));
        CHECK(y[i] == (dropped(r[i], pc) ? 0.0f : x[i] * sc));
    }
    CHECK(gd_dropout_bwd_cols(dx, x, ROWS, COLS, p_cols, &s, NULL) == GD_OK);
    CHECK(memcmp(dx, y, sizeof y) == 0);

    CHECK(gd_dropout_add_fwd(y2, x, bias, x, ROWS, COLS, p, &s, mask) == GD_OK);
    for (int i = 0; i < N; i++) {
        const float v = dropped(r[i], p) ? 0.0f : (x[i] + bias[i % COLS]) * scale;
        CHECK(y2[i] == x[i] + v);
    }
    CHECK(gd_dropout_add_bwd(dx, dbias, x, ROWS, COLS, p, &s, NULL) == GD_OK);
    CHECK(gd_sum_cols(bias, dx, ROWS, COLS) == GD_OK);
    CHECK(memcmp(bias, dbias, sizeof bias) == 0);

    float sigma = 0.0f;
    CHECK(gd_gaussian_sigma(0.5f, &sigma) == GD_OK && sigma == 1.0f);
    float z[N];
    CHECK(gd_random_normal(z, N, &s) == GD_OK);
    CHECK(gd_gaussian_dropout_fwd(y, x, N, 0.25f, &s) == GD_OK);
    for (int i = 0; i < N; i++)
        CHECK(y[i] == x[i] * (1.0f + 0.25f * z[i]));
    CHECK(gd_gaussian_dropout_bwd(dx, x, N, 0.25f, &s) == GD_OK);
    CHECK(memcmp(dx, y, sizeof y) == 0);

    /* the error contract: codes and untouched outputs */
    memcpy(y2, y, sizeof y);
    CHECK(gd_dropout_fwd(y, x, N, NAN, &s, NULL) == GD_EDOMAIN);
    CHECK(gd_dropout_fwd(y, x, N, 1.5f, &s, NULL) == GD_EDOMAIN);
    CHECK(gd_dropout_fwd(NULL, x, N, p, &s, NULL) == GD_EINVAL);
    CHECK(gd_dropout_fwd_cols(y, x, SIZE_MAX, 2, p_cols, &s, NULL) == GD_EOVERFLOW);
    CHECK(gd_gaussian_dropout_fwd(y, x, N, -1.0f, &s) == GD_EDOMAIN);
    CHECK(memcmp(y, y2, sizeof y) == 0);
}

/* Fisher: estimates by hand, a dense layer against its per-example
 * gradients, Adam, scores, merge, and a file round trip. */
static void fisher(const char *dir)
{
    gd_fisher *f = NULL, *g = NULL, *back = NULL;
    size_t id = 99, n = 0;
    CHECK(gd_fisher_create(&f) == GD_OK);
    CHECK(gd_fisher_add_tensor(f, "fc.weight", 6, 0, &id) == GD_OK && id == 0); /* W[2x3] */
    CHECK(gd_fisher_add_tensor(f, "fc.bias", 2, 0, &id) == GD_OK && id == 1);
    CHECK(gd_fisher_add_tensor(f, "ln.weight", 3, 1, &id) == GD_OK && id == 2);
    CHECK(gd_fisher_add_tensor(f, "adam.only", 2, GD_NONE, NULL) == GD_OK);
    CHECK(gd_fisher_add_tensor(f, "fc.bias", 2, 0, NULL) == GD_EEXIST);
    CHECK(gd_fisher_count(f, &n) == GD_OK && n == 4);
    CHECK(gd_fisher_find(f, "ln.weight", &id) == GD_OK && id == 2);

    /* ln: F = (1*1^2 + 3*3^2) / 4 etc. with weights 1 and 3 */
    const float g1[3] = {1, 2, -4}, g2[3] = {3, 0, 2};
    CHECK(gd_fisher_accumulate(f, 2, g1, 1.0f) == GD_OK);
    CHECK(gd_fisher_accumulate(f, 2, g2, 3.0f) == GD_OK);
    float est[6];
    double w = 0;
    CHECK(gd_fisher_read(f, 2, est, 3, &w) == GD_OK && w == 4.0);
    CHECK(est[0] == 7.0f && est[1] == 1.0f && est[2] == 7.0f);

    /* dense: two examples, x[2x3], dy[2x2]; per-example gradient dy_b x_b^T */
    const float x[6] = {1, 2, 3, -1, 0, 2}, dy[4] = {1, -2, 3, 1};
    CHECK(gd_fisher_accumulate_dense(f, 0, 1, x, dy, 2, 3, 2) == GD_OK);
    CHECK(gd_fisher_read(f, 0, est, 6, &w) == GD_OK && w == 2.0);
    for (int o = 0; o < 2; o++)
        for (int i = 0; i < 3; i++) {
            const double a = dy[o] * x[i], b = dy[2 + o] * x[3 + i];
            CHECK(est[o * 3 + i] == (float)((a * a + b * b) / 2.0));
        }
    CHECK(gd_fisher_read(f, 1, est, 2, NULL) == GD_OK);
    CHECK(est[0] == 5.0f && est[1] == 2.5f);

    /* Adam: F = batch * v / (1 - beta2^step) */
    const float v[2] = {0.25f, 1.0f};
    CHECK(gd_fisher_from_adam(f, 3, v, 0.5f, 1, 4) == GD_OK);
    CHECK(gd_fisher_read(f, 3, est, 2, NULL) == GD_OK && est[0] == 2.0f && est[1] == 8.0f);

    size_t sites = 0;
    float scores[2];
    CHECK(gd_fisher_site_count(f, &sites) == GD_OK && sites == 2);
    CHECK(gd_fisher_site_scores(f, GD_REDUCE_MAX, scores, 2) == GD_OK);
    CHECK(scores[1] == 7.0f);
    CHECK(gd_fisher_site_scores(f, GD_REDUCE_TENSOR_MEAN, scores, 2) == GD_OK);
    CHECK(scores[1] == 5.0f && scores[0] > 0.0f);
    float units[2];
    CHECK(gd_fisher_unit_scores(f, 0, 2, 3, GD_AXIS_ROWS, units) == GD_OK);

    /* merge into an identical empty registry; then a file round trip */
    CHECK(gd_fisher_create(&g) == GD_OK);
    CHECK(gd_fisher_add_tensor(g, "fc.weight", 6, 0, NULL) == GD_OK);
    CHECK(gd_fisher_merge(g, f) == GD_ESHAPE);
    char path[256];
    snprintf(path, sizeof path, "%s/fisher.safetensors", dir);
    CHECK(gd_fisher_save(f, path) == GD_OK);
    CHECK(gd_fisher_load(&back, path) == GD_OK);
    float a[6], b[6];
    for (size_t t = 0; t < 4 && back; t++) {
        size_t numel = 0;
        CHECK(gd_fisher_info(f, t, NULL, &numel, NULL) == GD_OK);
        CHECK(gd_fisher_read(f, t, a, numel, NULL) == GD_OK);
        CHECK(gd_fisher_read(back, t, b, numel, NULL) == GD_OK);
        CHECK(memcmp(a, b, numel * sizeof *a) == 0);
    }
    CHECK(gd_fisher_merge(back, f) == GD_OK);
    gd_fisher_destroy(f);
    gd_fisher_destroy(g);
    gd_fisher_destroy(back);
    CHECK(unlink(path) == 0);
}

/* The paper's rule on five sites, and a plan file round trip. */
static void plan(const char *dir)
{
    gd_plan *p = NULL, *back = NULL;
    const float scores[5] = {0.3f, 0.1f, 0.5f, 0.2f, 0.4f};
    CHECK(gd_plan_create(&p, 5) == GD_OK);
    CHECK(gd_plan_set_scores(p, scores, 5) == GD_OK);
    CHECK(gd_plan_set_site(p, 0, "embeddings", 0.3f) == GD_OK);
    CHECK(gd_plan_get(p, 0, &(float){0}) == GD_ESTATE);
    CHECK(gd_plan_compute(p, GD_RULE_RANK_LINEAR, 0.1f, 0.0f) == GD_OK);
    float probs[5];
    CHECK(gd_plan_get_all(p, probs, 5) == GD_OK);
    /* ranks by score ascending: site 1 (0), 3 (1), 0 (2), 4 (3), 2 (4) */
    const int rank[5] = {2, 0, 4, 1, 3};
    for (int i = 0; i < 5; i++)
        CHECK(probs[i] == (float)(0.1 - 0.1 * rank[i] / 4.0) || (rank[i] == 4 && probs[i] == 0));
    CHECK(gd_plan_compute(p, GD_RULE_UNIFORM, 0.1f, 0.0f) == GD_OK);
    CHECK(gd_plan_get(p, 2, &probs[0]) == GD_OK && probs[0] == 0.1f);
    char path[256];
    snprintf(path, sizeof path, "%s/guided.plan", dir);
    CHECK(gd_plan_save(p, path) == GD_OK);
    CHECK(gd_plan_load(&back, path) == GD_OK);
    const char *name = NULL;
    float score = 0, prob = 0;
    size_t n = 0;
    CHECK(back && gd_plan_size(back, &n) == GD_OK && n == 5);
    CHECK(back && gd_plan_site_info(back, 0, &name, &score, &prob) == GD_OK);
    CHECK(name && strcmp(name, "embeddings") == 0 && score == 0.3f && prob == 0.1f);
    gd_plan_destroy(p);
    gd_plan_destroy(back);
    CHECK(unlink(path) == 0);
}

int main(void)
{
    versions();
    randomness();
    kernels();
    char dir[] = "/tmp/gd_v1_consumer_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    fisher(dir);
    plan(dir);
    rmdir(dir);
    if (failures) {
        fprintf(stderr, "v1_consumer: %d checks failed\n", failures);
        return 1;
    }
    printf("v1_consumer: all checks passed against libgdropout %s\n", gd_version_string());
    return 0;
}

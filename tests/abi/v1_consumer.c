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
#include <gdropout/gdropout.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
    versions();
    randomness();
    kernels();
    if (failures) {
        fprintf(stderr, "v1_consumer: %d checks failed\n", failures);
        return 1;
    }
    printf("v1_consumer: all checks passed against libgdropout %s\n", gd_version_string());
    return 0;
}

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

int main(void)
{
    check_version();
    check_philox();
    check_dropout();
    if (failures)
        return 1;
    printf("consumer ok: libgdropout %s, kernels %s\n", gd_version_string(), gd_dispatch_name());
    return 0;
}

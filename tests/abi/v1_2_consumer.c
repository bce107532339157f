/*
 * A program built against libgdropout 1.2's headers alone and linked to the
 * shared library: every function of the GDROPOUT_1.2 node, called through
 * the versioned symbols (tests/CMakeLists.txt and .ci/steps/45-abi.sh
 * check it requires GDROPOUT_1.2), against the known answers of docs/SPEC.md
 * ("The 16-bit rule", "Half precision"), which bindings/python's numpy
 * reference (gdropout/reference16.py) computes independently.
 */
#include <gdropout/gdropout.h>

#include <stdio.h>
#include <string.h>

static int failures;

static void expect(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "v1_2_consumer: %s\n", what);
        failures++;
    }
}

static void expect_rc(int rc, const char *what)
{
    if (rc != GD_OK) {
        fprintf(stderr, "v1_2_consumer: %s: %s\n", what, gd_error_name(rc));
        failures++;
    }
}

int main(void)
{
    const gd_stream s = {.seed = 1234, .stream = ((uint64_t)7 << 16) | 1, .offset = 0};
    /* the 16-bit rule's mask at p = 0.5 (20 elements), and the 32-bit one */
    const uint8_t want16[3] = {0xc4, 0xf3, 0x03}, want32[3] = {0xd8, 0x41, 0x0a};
    uint8_t m[3];
    expect_rc(gd_mask_bernoulli_ex(GD_MASK_16, m, 20, 0.5f, &s), "mask_bernoulli_ex 16");
    expect(memcmp(m, want16, 3) == 0, "16-bit mask differs from the known answer");
    expect_rc(gd_mask_bernoulli_ex(GD_MASK_32, m, 20, 0.5f, &s), "mask_bernoulli_ex 32");
    expect(memcmp(m, want32, 3) == 0, "32-bit mask differs from gd_mask_bernoulli's");

    /* bf16 and fp16 forwards under both rules */
    const uint16_t xb[8] = {0x3f80, 0xc020, 0x4040, 0x3dcd, 0x40e0, 0xbf00, 0x477f, 0x33d7};
    const uint16_t xh[8] = {0x3c00, 0xc100, 0x4200, 0x2e66, 0x4700, 0xb800, 0x7bff, 0x0002};
    const uint16_t yb32[8] = {0, 0, 0, 0x3e4d, 0x4160, 0, 0x47ff, 0x3457};
    const uint16_t yb16[8] = {0, 0, 0x40c0, 0, 0, 0, 0x47ff, 0x3457};
    const uint16_t yh32[8] = {0, 0, 0, 0x3266, 0x4b00, 0, 0x7c00, 0x0004};
    const uint16_t yh16[8] = {0, 0, 0x4600, 0, 0, 0, 0x7c00, 0x0004};
    uint16_t y[8], dx[8];
    uint8_t mk;
    expect_rc(gd_dropout_fwd_ex(GD_BF16, GD_MASK_32, y, xb, 8, 0.5f, &s, &mk), "fwd_ex bf16 32");
    expect(memcmp(y, yb32, sizeof y) == 0 && mk == 0xd8, "bf16 32-bit forward");
    expect_rc(gd_dropout_fwd_ex(GD_BF16, GD_MASK_16, y, xb, 8, 0.5f, &s, &mk), "fwd_ex bf16 16");
    expect(memcmp(y, yb16, sizeof y) == 0 && mk == 0xc4, "bf16 16-bit forward");
    expect_rc(gd_dropout_fwd_ex(GD_F16, GD_MASK_32, y, xh, 8, 0.5f, &s, &mk), "fwd_ex f16 32");
    expect(memcmp(y, yh32, sizeof y) == 0 && mk == 0xd8, "f16 32-bit forward");
    expect_rc(gd_dropout_fwd_ex(GD_F16, GD_MASK_16, y, xh, 8, 0.5f, &s, &mk), "fwd_ex f16 16");
    expect(memcmp(y, yh16, sizeof y) == 0 && mk == 0xc4, "f16 16-bit forward");

    /* backward, stored and regenerated: the forward on dy */
    expect_rc(gd_dropout_bwd_ex(GD_F16, GD_MASK_16, dx, xh, 8, 0.5f, NULL, &mk), "bwd_ex mask");
    expect(memcmp(dx, yh16, sizeof dx) == 0, "f16 backward from the mask");
    expect_rc(gd_dropout_bwd_ex(GD_F16, GD_MASK_16, dx, xh, 8, 0.5f, &s, NULL), "bwd_ex stream");
    expect(memcmp(dx, yh16, sizeof dx) == 0, "f16 backward regenerated");

    /* per column: all columns at 0.5 is the plain forward */
    const float pc[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    expect_rc(gd_dropout_fwd_cols_ex(GD_BF16, GD_MASK_16, y, xb, 2, 4, pc, &s, &mk), "fwd_cols_ex");
    expect(memcmp(y, yb16, sizeof y) == 0 && mk == 0xc4, "bf16 per-column forward");
    expect_rc(gd_dropout_bwd_cols_ex(GD_BF16, GD_MASK_16, dx, xb, 2, 4, pc, NULL, &mk),
              "bwd_cols_ex");
    expect(memcmp(dx, yb16, sizeof dx) == 0, "bf16 per-column backward");

    /* the fused epilogue without bias and residual is the forward; its
     * backward's dbias is the column sums of dx */
    float db[4];
    expect_rc(gd_dropout_add_fwd_ex(GD_BF16, GD_MASK_32, y, xb, NULL, NULL, 2, 4, 0.5f, &s, NULL),
              "add_fwd_ex");
    expect(memcmp(y, yb32, sizeof y) == 0, "bf16 fused forward");
    expect_rc(gd_dropout_add_bwd_ex(GD_BF16, GD_MASK_32, dx, db, xb, 2, 4, 0.5f, &s, NULL),
              "add_bwd_ex");
    expect(memcmp(dx, yb32, sizeof dx) == 0 && db[0] == 14.0f && db[1] == 0.0f &&
               db[2] == 130560.0f,
           "bf16 fused backward");

    /* Gaussian at sigma 0 is the identity; its backward is its forward */
    expect_rc(gd_gaussian_dropout_fwd_ex(GD_F16, y, xh, 8, 0.0f, &s), "gaussian_dropout_fwd_ex");
    expect(memcmp(y, xh, sizeof y) == 0, "f16 Gaussian at sigma 0");
    expect_rc(gd_gaussian_dropout_bwd_ex(GD_F16, dx, xh, 8, 0.0f, &s), "gaussian_dropout_bwd_ex");
    expect(memcmp(dx, xh, sizeof dx) == 0, "f16 Gaussian backward at sigma 0");

    /* a code no version defines is refused */
    expect(gd_dropout_fwd_ex(3, GD_MASK_32, y, xb, 8, 0.5f, &s, NULL) == GD_EINVAL, "bad dtype");

    if (failures)
        return 1;
    printf("v1_2_consumer: all checks passed against libgdropout %s\n", gd_version_string());
    return 0;
}

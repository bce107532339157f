/*
 * layer_walkthrough: one dense layer through libgdropout, end to end.
 *
 *   y = x W^T + b on a batch, per-example loss 0.5 * |y|^2 (so dy = y);
 *   Fisher of W and b from x and dy (gd_fisher_accumulate_dense), checked
 *   against per-example gradients formed by hand; one score per output unit;
 *   a rank-linear plan over the units; per-unit dropout forward with the mask
 *   stored, backward once from the stored mask and once regenerated from the
 *   stream, which must agree bit for bit.  Exits 1 on any mismatch.
 */
#include <gdropout/gdropout.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { B = 16, IN = 8, OUT = 6 };

static int failures;

static void check(int ok, const char *what)
{
    printf("  [%s] %s\n", ok ? "ok" : "MISMATCH", what);
    failures += !ok;
}

/* Stops on a library error: nothing after it would mean anything. */
static int gd(int rc, const char *call)
{
    if (rc != GD_OK)
        fprintf(stderr, "layer_walkthrough: %s: %s\n", call, gd_strerror(rc));
    return rc != GD_OK;
}

int main(void)
{
    float x[B * IN], w[OUT * IN], b[OUT], y[B * OUT];
    const gd_stream sx = { 42, 1, 0 }, sw = { 42, 2, 0 };
    if (gd(gd_random_normal(x, B * IN, &sx), "gd_random_normal") ||
        gd(gd_random_normal(w, OUT * IN, &sw), "gd_random_normal"))
        return 1;
    for (size_t o = 0; o < OUT; o++)
        b[o] = 0.1f * (float)o;
    for (size_t n = 0; n < B; n++) /* forward: y = x W^T + b */
        for (size_t o = 0; o < OUT; o++) {
            float acc = b[o];
            for (size_t i = 0; i < IN; i++)
                acc += x[n * IN + i] * w[o * IN + i];
            y[n * OUT + o] = acc;
        }
    const float *dy = y; /* d(0.5 |y_n|^2) / dy_n: each row is its example's own */
    printf("libgdropout %s: one dense layer %d -> %d, batch %d\n", gd_version_string(), IN,
           OUT, B);

    /* 1. Fisher: W and b feed dropout site 0 (the dropout after the layer). */
    gd_fisher *f = NULL;
    size_t w_id, b_id;
    float fw[OUT * IN], fb[OUT], unit[OUT], site;
    if (gd(gd_fisher_create(&f), "gd_fisher_create") ||
        gd(gd_fisher_add_tensor(f, "fc.weight", OUT * IN, 0, &w_id), "gd_fisher_add_tensor") ||
        gd(gd_fisher_add_tensor(f, "fc.bias", OUT, 0, &b_id), "gd_fisher_add_tensor") ||
        gd(gd_fisher_accumulate_dense(f, w_id, b_id, x, dy, B, IN, OUT),
           "gd_fisher_accumulate_dense") ||
        gd(gd_fisher_read(f, w_id, fw, OUT * IN, NULL), "gd_fisher_read") ||
        gd(gd_fisher_read(f, b_id, fb, OUT, NULL), "gd_fisher_read") ||
        gd(gd_fisher_site_scores(f, GD_REDUCE_TENSOR_MEAN, &site, 1), "gd_fisher_site_scores") ||
        gd(gd_fisher_unit_scores(f, w_id, OUT, IN, GD_AXIS_ROWS, unit), "gd_fisher_unit_scores")) {
        gd_fisher_destroy(f);
        return 1;
    }
    gd_fisher_destroy(f);
    double worst = 0.0; /* per-example gradient of W[o][i] is dy[n][o] * x[n][i] */
    for (size_t o = 0; o < OUT; o++) {
        double fbo = 0.0;
        for (size_t i = 0; i < IN; i++) {
            double ref = 0.0;
            for (size_t n = 0; n < B; n++) {
                const double g = (double)dy[n * OUT + o] * (double)x[n * IN + i];
                ref += g * g / B;
            }
            worst = fmax(worst, fabs(fw[o * IN + i] - ref) / fmax(ref, 1e-30));
        }
        for (size_t n = 0; n < B; n++)
            fbo += (double)dy[n * OUT + o] * (double)dy[n * OUT + o] / B;
        worst = fmax(worst, fabs(fb[o] - fbo) / fmax(fbo, 1e-30));
    }
    printf("Fisher: site score %.5g; worst relative error against per-example gradients "
           "%.2g\n", (double)site, worst);
    check(worst < 1e-5, "dense Fisher equals the mean of squared per-example gradients");

    /* 2. Plan: rank the units by Fisher, p from 0.5 (least) down to 0 (most). */
    gd_plan *plan = NULL;
    float p[OUT];
    if (gd(gd_plan_create(&plan, OUT), "gd_plan_create") ||
        gd(gd_plan_set_scores(plan, unit, OUT), "gd_plan_set_scores") ||
        gd(gd_plan_compute(plan, GD_RULE_RANK_LINEAR, 0.5f, 0.0f), "gd_plan_compute") ||
        gd(gd_plan_get_all(plan, p, OUT), "gd_plan_get_all")) {
        gd_plan_destroy(plan);
        return 1;
    }
    gd_plan_destroy(plan);
    for (size_t o = 0; o < OUT; o++)
        printf("  unit %zu: Fisher %-11.5g p %.2f\n", o, (double)unit[o], (double)p[o]);

    /* 3. Forward with the mask stored: each element is 0 or y * s(p). */
    const gd_stream s = { .seed = 2024, .stream = (7u << 8) | 0u, .offset = 0 };
    float yd[B * OUT], g[B * OUT], dx_mask[B * OUT], dx_regen[B * OUT];
    uint8_t mask[(B * OUT + 7) / 8];
    if (gd(gd_dropout_fwd_cols(yd, y, B, OUT, p, &s, mask), "gd_dropout_fwd_cols"))
        return 1;
    int agree = 1;
    size_t kept = 0;
    for (size_t j = 0; j < B * OUT; j++) {
        const int bit = mask[j / 8] >> (j % 8) & 1;
        const float scale = (float)(1.0 / (1.0 - (double)p[j % OUT]));
        agree &= yd[j] == (bit ? y[j] * scale : 0.0f);
        kept += (size_t)bit;
    }
    printf("forward: kept %zu of %d elements\n", kept, B * OUT);
    check(agree, "forward output matches its stored mask and the keep scale");

    /* 4. Backward from the stored mask and regenerated from the stream. */
    for (size_t j = 0; j < B * OUT; j++)
        g[j] = 1.0f + (float)j / 8.0f;
    if (gd(gd_dropout_bwd_cols(dx_mask, g, B, OUT, p, NULL, mask), "gd_dropout_bwd_cols") ||
        gd(gd_dropout_bwd_cols(dx_regen, g, B, OUT, p, &s, NULL), "gd_dropout_bwd_cols"))
        return 1;
    check(memcmp(dx_mask, dx_regen, sizeof dx_mask) == 0,
          "backward: stored mask and regenerated mask agree bit for bit");
    int zeros_match = 1;
    for (size_t j = 0; j < B * OUT; j++)
        zeros_match &= (dx_regen[j] == 0.0f) == !(mask[j / 8] >> (j % 8) & 1);
    check(zeros_match, "backward drops exactly the elements the forward dropped");

    printf("%s\n", failures ? "FAILED" : "all checks passed");
    return failures ? 1 : 0;
}

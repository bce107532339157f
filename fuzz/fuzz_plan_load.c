/*
 * Fuzz target: gd_plan_load on arbitrary bytes (written to a file).
 *
 * Invariants (__builtin_trap on violation):
 *   - the result is GD_OK, GD_EFORMAT or GD_ENOMEM, and on an error *out is
 *     untouched;
 *   - a loaded plan is valid: at least one site, names without white space
 *     or control characters (and never "-"), finite scores, probabilities in
 *     [0, 1] that gd_plan_get and gd_plan_get_all agree on;
 *   - it saves and loads back identically (names, score and probability
 *     bits), and it can be recomputed under every rule.
 */
#define _POSIX_C_SOURCE 200809L
#include "fuzz_files.h"

#include <gdropout/gdropout.h>

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_CHECK = 1 << 16 };

static float probs[MAX_CHECK];

static bool name_ok(const char *name)
{
    if (!strcmp(name, "-") || strlen(name) > 255)
        return false;
    for (; *name; name++)
        if ((unsigned char)*name <= 0x20 || *name == 0x7f)
            return false;
    return true;
}

static uint32_t bits(float f)
{
    return fuzz_float_bits(f);
}

static void check_plan(const gd_plan *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL;
        float score = NAN, prob = NAN, got = NAN;
        FUZZ_CHECK(gd_plan_site_info(p, i, &name, &score, &prob) == GD_OK);
        FUZZ_CHECK(name && name_ok(name));
        FUZZ_CHECK(isfinite(score));
        FUZZ_CHECK(prob >= 0.0f && prob <= 1.0f);
        FUZZ_CHECK(gd_plan_get(p, i, &got) == GD_OK && bits(got) == bits(prob));
        if (n <= MAX_CHECK)
            FUZZ_CHECK(bits(probs[i]) == bits(prob));
    }
}

static void check_same(const gd_plan *a, const gd_plan *b, size_t n)
{
    size_t nb = 0;
    FUZZ_CHECK(gd_plan_size(b, &nb) == GD_OK && nb == n);
    for (size_t i = 0; i < n; i++) {
        const char *na, *nbn;
        float sa, sb, pa, pb;
        FUZZ_CHECK(gd_plan_site_info(a, i, &na, &sa, &pa) == GD_OK);
        FUZZ_CHECK(gd_plan_site_info(b, i, &nbn, &sb, &pb) == GD_OK);
        FUZZ_CHECK(!strcmp(na, nbn) && bits(sa) == bits(sb) && bits(pa) == bits(pb));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char in[128], out[128];
    fuzz_write(in, "in", data, size);
    gd_plan *const sentinel = (gd_plan *)&probs;
    gd_plan *p = sentinel;
    const int rc = gd_plan_load(&p, in);
    FUZZ_CHECK(rc == GD_OK || rc == GD_EFORMAT || rc == GD_ENOMEM);
    if (rc != GD_OK) {
        FUZZ_CHECK(p == sentinel);
        return 0;
    }
    size_t n = 0;
    FUZZ_CHECK(gd_plan_size(p, &n) == GD_OK && n >= 1);
    if (n <= MAX_CHECK)
        FUZZ_CHECK(gd_plan_get_all(p, probs, n) == GD_OK);
    check_plan(p, n);

    fuzz_path(out, "plan");
    FUZZ_CHECK(gd_plan_save(p, out) == GD_OK);
    gd_plan *back = NULL;
    FUZZ_CHECK(gd_plan_load(&back, out) == GD_OK);
    check_same(p, back, n);
    gd_plan_destroy(back);

    /* every rule recomputes it within [p_min, p_max] */
    for (int rule = GD_RULE_UNIFORM; rule <= GD_RULE_LOG_SCORE_LINEAR; rule++) {
        const int c = gd_plan_compute(p, rule, 0.25f, 0.05f);
        FUZZ_CHECK(c == GD_OK || (rule == GD_RULE_LOG_SCORE_LINEAR && c == GD_EDOMAIN));
        if (c != GD_OK)
            continue;
        for (size_t i = 0; i < n; i++) {
            float prob;
            FUZZ_CHECK(gd_plan_get(p, i, &prob) == GD_OK);
            FUZZ_CHECK(prob >= 0.05f && prob <= 0.25f);
        }
    }
    gd_plan_destroy(p);
    return 0;
}

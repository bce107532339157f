/*
 * Fuzz target: gd_fisher_load on arbitrary bytes (written to a file).
 *
 * Invariants (__builtin_trap on violation):
 *   - the result is GD_OK, GD_EFORMAT or GD_ENOMEM, and on an error *out is
 *     untouched;
 *   - a loaded object is self-consistent: valid unique names that find
 *     their own ids, finite non-negative weights and sums, estimates finite
 *     and non-negative (or GD_ESTATE without samples), unit and site scores
 *     computable and never negative;
 *   - it keeps the object's limits (fisher.h): weights 0 or in
 *     [2^-512, 2^512], estimates <= 2^127, and gd_fisher_set_sums accepts
 *     each tensor's own sums back (the loader and set_sums agree);
 *   - it saves, and the saved file loads back to the same tensors, sites,
 *     weights and estimates bit for bit (the header's round-trip promise).
 */
#define _POSIX_C_SOURCE 200809L
#include "fuzz_files.h"

#include <gdropout/gdropout.h>

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Tensors larger than this are checked by their first elements only. */
enum { MAX_CHECK = 1 << 16, MAX_SITES = 4096 };

static float est_a[MAX_CHECK], est_b[MAX_CHECK];
static double sums[MAX_CHECK];

static bool name_ok(const char *name)
{
    const size_t len = strlen(name);
    if (len == 0 || len > 255)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return false;
    return true;
}

static void check_tensor(gd_fisher *f, size_t id)
{
    const char *name = NULL;
    size_t numel = 0, site = 0, found = GD_NONE;
    FUZZ_CHECK(gd_fisher_info(f, id, &name, &numel, &site) == GD_OK);
    FUZZ_CHECK(name && name_ok(name) && numel > 0);
    FUZZ_CHECK(gd_fisher_find(f, name, &found) == GD_OK && found == id);
    if (numel > MAX_CHECK)
        return;
    double w = -1.0;
    FUZZ_CHECK(gd_fisher_sums(f, id, sums, numel, &w) == GD_OK);
    FUZZ_CHECK(w == 0.0 || (w >= 0x1p-512 && w <= 0x1p512));
    for (size_t j = 0; j < numel; j++)
        FUZZ_CHECK(isfinite(sums[j]) && sums[j] >= 0.0);
    FUZZ_CHECK(gd_fisher_set_sums(f, id, sums, numel, w) == GD_OK);
    double samples = -1.0;
    const int rc = gd_fisher_read(f, id, est_a, numel, &samples);
    FUZZ_CHECK(w > 0.0 ? rc == GD_OK : rc == GD_ESTATE);
    if (rc == GD_OK) {
        FUZZ_CHECK(samples == w);
        for (size_t j = 0; j < numel; j++)
            FUZZ_CHECK(est_a[j] >= 0.0f && est_a[j] <= 0x1p127f);
        FUZZ_CHECK(gd_fisher_unit_scores(f, id, 1, numel, GD_AXIS_ROWS, est_b) == GD_OK);
        FUZZ_CHECK(!(est_b[0] < 0.0f));
    }
}

static void check_sites(const gd_fisher *f)
{
    size_t n_sites = 0;
    FUZZ_CHECK(gd_fisher_site_count(f, &n_sites) == GD_OK);
    if (n_sites == 0 || n_sites > MAX_SITES)
        return;
    static float scores[MAX_SITES];
    for (int r = GD_REDUCE_TENSOR_MEAN; r <= GD_REDUCE_MAX; r++) {
        const int rc = gd_fisher_site_scores(f, r, scores, n_sites);
        FUZZ_CHECK(rc == GD_OK || rc == GD_ESTATE || (rc == GD_EDOMAIN && r == GD_REDUCE_SUM));
        if (rc == GD_OK)
            for (size_t s = 0; s < n_sites; s++)
                FUZZ_CHECK(!(scores[s] < 0.0f));
    }
}

/* b, loaded from a's save, holds the same tensors and estimates. */
static void check_round_trip(const gd_fisher *a, const gd_fisher *b)
{
    size_t na = 0, nb = 0;
    FUZZ_CHECK(gd_fisher_count(a, &na) == GD_OK && gd_fisher_count(b, &nb) == GD_OK);
    FUZZ_CHECK(na == nb);
    for (size_t id = 0; id < na; id++) {
        const char *name_a, *name_b;
        size_t numel_a, numel_b, site_a, site_b;
        FUZZ_CHECK(gd_fisher_info(a, id, &name_a, &numel_a, &site_a) == GD_OK);
        FUZZ_CHECK(gd_fisher_info(b, id, &name_b, &numel_b, &site_b) == GD_OK);
        FUZZ_CHECK(!strcmp(name_a, name_b) && numel_a == numel_b && site_a == site_b);
        if (numel_a > MAX_CHECK)
            continue;
        double wa = -1, wb = -2;
        const int ra = gd_fisher_read(a, id, est_a, numel_a, &wa);
        const int rb = gd_fisher_read(b, id, est_b, numel_b, &wb);
        FUZZ_CHECK(ra == rb);
        if (ra == GD_OK) {
            FUZZ_CHECK(wa == wb);
            FUZZ_CHECK(memcmp(est_a, est_b, numel_a * sizeof(float)) == 0);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char in[128], out[128];
    fuzz_write(in, "in", data, size);
    gd_fisher *const sentinel = (gd_fisher *)&est_a;
    gd_fisher *f = sentinel;
    const int rc = gd_fisher_load(&f, in);
    FUZZ_CHECK(rc == GD_OK || rc == GD_EFORMAT || rc == GD_ENOMEM);
    if (rc != GD_OK) {
        FUZZ_CHECK(f == sentinel);
        return 0;
    }
    size_t n = 0;
    FUZZ_CHECK(gd_fisher_count(f, &n) == GD_OK);
    for (size_t id = 0; id < n; id++)
        check_tensor(f, id);
    check_sites(f);

    fuzz_path(out, "out");
    FUZZ_CHECK(gd_fisher_save(f, out) == GD_OK);
    gd_fisher *back = NULL;
    FUZZ_CHECK(gd_fisher_load(&back, out) == GD_OK);
    check_round_trip(f, back);
    gd_fisher_destroy(back);
    gd_fisher_destroy(f);
    return 0;
}

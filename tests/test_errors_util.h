/*
 * Snapshots of a gd_fisher and a gd_plan through the public API only, so the
 * error-contract, allocation-failure and durability tests can assert that a
 * refused call left an object exactly as it was (names, sizes, sites, raw
 * sums and weights bit for bit; plan names, scores and probabilities).
 */
#ifndef GD_TEST_ERRORS_UTIL_H
#define GD_TEST_ERRORS_UTIL_H

#include <gdropout/gdropout.h>

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* strdup is POSIX, not C11. */
static inline char *snap_strdup(const char *s)
{
    const size_t len = strlen(s) + 1;
    char *d = malloc(len);
    if (d)
        memcpy(d, s, len);
    return d;
}

typedef struct fisher_snap {
    size_t count;
    char **names;
    size_t *numel, *site;
    double **sums;
    double *weight;
} fisher_snap;

static inline void fisher_snap_take(const gd_fisher *f, fisher_snap *s)
{
    memset(s, 0, sizeof *s);
    ck_assert_int_eq(gd_fisher_count(f, &s->count), GD_OK);
    const size_t n = s->count ? s->count : 1;
    s->names = calloc(n, sizeof *s->names);
    s->numel = calloc(n, sizeof *s->numel);
    s->site = calloc(n, sizeof *s->site);
    s->sums = calloc(n, sizeof *s->sums);
    s->weight = calloc(n, sizeof *s->weight);
    ck_assert(s->names && s->numel && s->site && s->sums && s->weight);
    for (size_t id = 0; id < s->count; id++) {
        const char *name = NULL;
        ck_assert_int_eq(gd_fisher_info(f, id, &name, &s->numel[id], &s->site[id]), GD_OK);
        s->names[id] = snap_strdup(name);
        s->sums[id] = malloc(s->numel[id] * sizeof(double));
        ck_assert(s->names[id] && s->sums[id]);
        ck_assert_int_eq(gd_fisher_sums(f, id, s->sums[id], s->numel[id], &s->weight[id]), GD_OK);
    }
}

static inline void fisher_snap_free(fisher_snap *s)
{
    for (size_t id = 0; id < s->count; id++) {
        free(s->names[id]);
        free(s->sums[id]);
    }
    free(s->names);
    free(s->numel);
    free(s->site);
    free(s->sums);
    free(s->weight);
    memset(s, 0, sizeof *s);
}

/* f holds exactly what s recorded, bit for bit. */
static inline void fisher_assert_same_at(const gd_fisher *f, const fisher_snap *s, int line)
{
    fisher_snap now;
    fisher_snap_take(f, &now);
    ck_assert_msg(now.count == s->count, "line %d: tensor count %zu -> %zu", line, s->count,
                  now.count);
    for (size_t id = 0; id < s->count; id++) {
        ck_assert_msg(!strcmp(now.names[id], s->names[id]) && now.numel[id] == s->numel[id] &&
                          now.site[id] == s->site[id],
                      "line %d: tensor %zu changed identity", line, id);
        ck_assert_msg(memcmp(&now.weight[id], &s->weight[id], sizeof(double)) == 0,
                      "line %d: tensor %zu weight changed", line, id);
        ck_assert_msg(memcmp(now.sums[id], s->sums[id], s->numel[id] * sizeof(double)) == 0,
                      "line %d: tensor %zu sums changed", line, id);
    }
    fisher_snap_free(&now);
}
#define fisher_assert_same(f, s) fisher_assert_same_at((f), (s), __LINE__)

typedef struct plan_snap {
    size_t n;
    char **names;
    uint32_t *score_bits, *prob_bits;
} plan_snap;

static inline uint32_t snap_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline void plan_snap_take(const gd_plan *p, plan_snap *s)
{
    memset(s, 0, sizeof *s);
    ck_assert_int_eq(gd_plan_size(p, &s->n), GD_OK);
    s->names = calloc(s->n, sizeof *s->names);
    s->score_bits = calloc(s->n, sizeof *s->score_bits);
    s->prob_bits = calloc(s->n, sizeof *s->prob_bits);
    ck_assert(s->names && s->score_bits && s->prob_bits);
    for (size_t i = 0; i < s->n; i++) {
        const char *name = NULL;
        float score, prob;
        ck_assert_int_eq(gd_plan_site_info(p, i, &name, &score, &prob), GD_OK);
        ck_assert_ptr_nonnull(name);
        s->names[i] = snap_strdup(name);
        ck_assert_ptr_nonnull(s->names[i]);
        s->score_bits[i] = snap_bits(score);
        s->prob_bits[i] = snap_bits(prob);
    }
}

static inline void plan_snap_free(plan_snap *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->names[i]);
    free(s->names);
    free(s->score_bits);
    free(s->prob_bits);
    memset(s, 0, sizeof *s);
}

static inline void plan_assert_same_at(const gd_plan *p, const plan_snap *s, int line)
{
    plan_snap now;
    plan_snap_take(p, &now);
    ck_assert_msg(now.n == s->n, "line %d: plan size changed", line);
    for (size_t i = 0; i < s->n; i++) {
        ck_assert_msg(!strcmp(now.names[i], s->names[i]), "line %d: site %zu name '%s' -> '%s'",
                      line, i, s->names[i], now.names[i]);
        ck_assert_msg(now.score_bits[i] == s->score_bits[i], "line %d: site %zu score changed",
                      line, i);
        ck_assert_msg(now.prob_bits[i] == s->prob_bits[i], "line %d: site %zu p changed", line,
                      i);
    }
    plan_snap_free(&now);
}
#define plan_assert_same(p, s) plan_assert_same_at((p), (s), __LINE__)

/* A private directory for a test's files: made from "/tmp/<stem>_XXXXXX"
 * (needs _POSIX_C_SOURCE >= 200809L for mkdtemp) and removed with all in it. */
static inline void tmpdir_make(char *dir, size_t cap, const char *stem)
{
    snprintf(dir, cap, "/tmp/%s_XXXXXX", stem);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static inline void tmpdir_remove(const char *dir)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* A refused call: the exact code, and the object unchanged. */
#define FISHER_FAILS(f, code, call)               \
    do {                                          \
        fisher_snap snap_;                        \
        fisher_snap_take((f), &snap_);            \
        ck_assert_int_eq((call), (code));         \
        fisher_assert_same((f), &snap_);          \
        fisher_snap_free(&snap_);                 \
    } while (0)

#define PLAN_FAILS(p, code, call)                 \
    do {                                          \
        plan_snap snap_;                          \
        plan_snap_take((p), &snap_);              \
        ck_assert_int_eq((call), (code));         \
        plan_assert_same((p), &snap_);            \
        plan_snap_free(&snap_);                   \
    } while (0)

#endif

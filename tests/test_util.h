/*
 * The one helper header of the Check tests; every name starts with tu_ (TU_
 * for macros).  Include it first: it asks for POSIX.1-2008 (mkdtemp,
 * opendir, lstat) before any system header is read.
 *
 *   runner       tu_case, tu_run_cases, tu_run
 *   data         tu_next, tu_uniform, tu_normal, tu_fill_normal, tu_fill_data,
 *                tu_alloc_f, tu_f32_bits, tu_rel_ok
 *   references   tu_ref_word, tu_ref_dropped, tu_ref_scale, tu_ref_bit: the
 *                contract's formulas as plain loops over gd_philox4x32_10,
 *                never through the kernels under test; tu_ref_gamma and
 *                tu_ref_seq_grad, a sequence's gradient element and its
 *                float error bound
 *   files        tu_tmpdir_make, tu_tmpdir_remove, tu_dir_setup,
 *                tu_dir_teardown, tu_path, tu_read_file, tu_write_file,
 *                tu_contains, tu_strdup
 *   snapshots    tu_fisher_snap, tu_plan_snap, TU_FISHER_FAILS, TU_PLAN_FAILS:
 *                a gd_fisher or gd_plan through the public API only, so a
 *                test can assert that a refused call left it exactly as it
 *                was (names, sizes, sites, raw sums and weights bit for bit;
 *                plan names, scores and probabilities)
 */
#ifndef GD_TEST_UTIL_H
#define GD_TEST_UTIL_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <gdropout/gdropout.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- runner ------------------------------------------------------------ */

/* One TCase of a suite: its tests, an optional timeout and fixtures. */
typedef struct tu_case {
    const char *name;
    void (*add_tests)(TCase *tc);
    int timeout;                               /* seconds; 0: Check's default */
    void (*setup)(void), (*teardown)(void);    /* around each test (checked) */
    void (*setup_once)(void), (*teardown_once)(void); /* around the case (unchecked) */
} tu_case;

/* Runs cases[0 .. n) in one suite, in order; the process exit code (0 when
 * every test passed, else 1). */
static inline int tu_run_cases(const char *suite, const tu_case *cases, size_t n)
{
    Suite *s = suite_create(suite);
    for (size_t i = 0; i < n; i++) {
        const tu_case *c = &cases[i];
        TCase *tc = tcase_create(c->name);
        if (c->timeout > 0)
            tcase_set_timeout(tc, c->timeout);
        if (c->setup || c->teardown)
            tcase_add_checked_fixture(tc, c->setup, c->teardown);
        if (c->setup_once || c->teardown_once)
            tcase_add_unchecked_fixture(tc, c->setup_once, c->teardown_once);
        c->add_tests(tc);
        suite_add_tcase(s, tc);
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

/* The common case: one TCase ("core") without fixtures. */
static inline int tu_run(const char *suite, void (*add_tests)(TCase *), int timeout)
{
    const tu_case c = {.name = "core", .add_tests = add_tests, .timeout = timeout};
    return tu_run_cases(suite, &c, 1);
}

/* ---- data -------------------------------------------------------------- */

/* splitmix64: a test-only generator, independent of the library. */
static inline uint64_t tu_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static inline double tu_uniform(uint64_t *s)
{
    return ((double)(tu_next(s) >> 11) + 0.5) * 0x1p-53;
}

/* Standard normal by Box-Muller in double. */
static inline double tu_normal(uint64_t *s)
{
    const double u = tu_uniform(s), v = tu_uniform(s);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static inline void tu_fill_normal(float *x, size_t n, uint64_t seed, double scale)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(scale * tu_normal(&s));
}

/* A deterministic fill that is not the generator under test (xorshift). */
static inline void tu_fill_data(float *x, size_t n, uint32_t seed)
{
    uint32_t s = seed | 1u;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        x[i] = (float)((int32_t)s) * 0x1p-28f; /* about [-8, 8) */
    }
}

/* n floats (and 16 spare bytes), or abort. */
static inline float *tu_alloc_f(size_t n)
{
    float *p = malloc(n * sizeof *p + 16);
    if (!p)
        abort();
    return p;
}

/* The bits of f: compares floats exactly, -0.0 and NaN payloads included. */
static inline uint32_t tu_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* |a - b| <= tol * |b| (b the reference). */
static inline int tu_rel_ok(double a, double b, double tol)
{
    return fabs(a - b) <= tol * fabs(b);
}

/* ---- references --------------------------------------------------------- */

/* The stream word of absolute element index i, straight from the contract. */
static inline uint32_t tu_ref_word(uint64_t seed, uint64_t stream, uint64_t i)
{
    const uint32_t ctr[4] = {(uint32_t)(i / 4), (uint32_t)((i / 4) >> 32), (uint32_t)stream,
                             (uint32_t)(stream >> 32)};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t out[4];
    if (gd_philox4x32_10(ctr, key, out) != GD_OK)
        abort();
    return out[i % 4];
}

static inline int tu_ref_dropped(uint32_t r, float p)
{
    const uint64_t t = p >= 1 ? (UINT64_C(1) << 32) : (uint64_t)floor((double)p * 4294967296.0);
    return (uint64_t)r < t;
}

static inline float tu_ref_scale(float p)
{
    return (float)(1.0 / (1.0 - (double)p));
}

static inline int tu_ref_bit(const uint8_t *mask, size_t j)
{
    return (mask[j / 8] >> (j % 8)) & 1;
}

/* gamma(k) = k u / (1 - k u), u = 2^-24: a float sum of k terms (by fused
 * multiply-adds, in any order) is within gamma(k) times the sum of their
 * absolute values of the exact sum, results in the normal range. */
static inline double tu_ref_gamma(size_t k)
{
    const double u = 0x1p-24;
    return (double)k * u / (1.0 - (double)k * u);
}

/* Element (o, i) of one example's gradient over seq positions, g =
 * sum_t dy[t*out+o] x[t*in+i], in double, and in *bound how far a float
 * sum of those terms by fused multiply-adds, in any order, can be from it:
 * tu_ref_gamma(seq) times the sum of |terms|, plus 2^-149 a step for
 * results in the subnormal range. */
static inline double tu_ref_seq_grad(const float *x, const float *dy, size_t seq, size_t in,
                                     size_t out, size_t o, size_t i, double *bound)
{
    double g = 0.0, mag = 0.0;
    for (size_t t = 0; t < seq; t++) {
        const double p = (double)dy[t * out + o] * (double)x[t * in + i];
        g += p;
        mag += fabs(p);
    }
    *bound = tu_ref_gamma(seq) * mag + (double)seq * 0x1p-149;
    return g;
}

/* ---- files -------------------------------------------------------------- */

enum { TU_PATH_MAX = 256 };

/* strdup is POSIX, not C11. */
static inline char *tu_strdup(const char *s)
{
    const size_t len = strlen(s) + 1;
    char *d = malloc(len);
    if (d)
        memcpy(d, s, len);
    return d;
}

/* A new private directory "/tmp/<stem>_XXXXXX" (mkdtemp: unique, mode 0700)
 * in dir[0 .. cap). */
static inline void tu_tmpdir_make(char *dir, size_t cap, const char *stem)
{
    const int n = snprintf(dir, cap, "/tmp/%s_XXXXXX", stem);
    ck_assert_msg(n > 0 && (size_t)n < cap, "temporary directory name too long: %s", stem);
    ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp %s: %s", dir, strerror(errno));
}

/* The number of entries of folder path other than . and .. (a leftover
 * temporary file shows up here). */
static inline size_t tu_dir_entries(const char *path)
{
    DIR *d = opendir(path);
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* Removes path and, for a directory, everything in it, without a shell and
 * without following symbolic links; 0 or -1. */
static inline int tu_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int rc = 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[TU_PATH_MAX];
        const int n = snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        if (n < 0 || (size_t)n >= sizeof child || tu_remove_tree(child) != 0)
            rc = -1;
    }
    closedir(d);
    return rc == 0 ? rmdir(path) : -1;
}

/* Removes a directory made by tu_tmpdir_make with all in it. */
static inline void tu_tmpdir_remove(const char *dir)
{
    ck_assert_msg(tu_remove_tree(dir) == 0, "removing %s: %s", dir, strerror(errno));
}

/* The directory of tu_dir_setup (one per test, between the fixtures). */
static inline char *tu_dir(void)
{
    static char dir[TU_PATH_MAX];
    return dir;
}

/* Checked fixtures (tu_case.setup, .teardown) for tests that use tu_path. */
static inline void tu_dir_setup(void)
{
    tu_tmpdir_make(tu_dir(), TU_PATH_MAX, "gd_test");
}

static inline void tu_dir_teardown(void)
{
    tu_tmpdir_remove(tu_dir());
    tu_dir()[0] = '\0';
}

/* A fresh path for a test file in the test's directory: "<dir>/<stem>.<k>",
 * k counting up, so two calls never give the same path. */
static inline void tu_path(char *buf, size_t cap, const char *stem)
{
    static unsigned k;
    ck_assert_msg(tu_dir()[0] != '\0', "tu_path outside tu_dir_setup/tu_dir_teardown");
    const int n = snprintf(buf, cap, "%s/%s.%u", tu_dir(), stem, k++);
    ck_assert_msg(n > 0 && (size_t)n < cap, "path too long for its buffer: %s", stem);
}

static inline void *tu_read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    *len = 0;
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    const long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, fp) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(fp);
    *len = (size_t)n;
    return b;
}

/* Unlinks first: ext4 flushes a file truncated and rewritten in place. */
static inline int tu_write_file(const char *path, const void *data, size_t len)
{
    remove(path);
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return -1;
    const size_t w = fwrite(data, 1, len, fp);
    return fclose(fp) == 0 && w == len ? 0 : -1;
}

/* buf[0 .. len) contains the bytes of s. */
static inline int tu_contains(const void *buf, size_t len, const char *s)
{
    const size_t n = strlen(s);
    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (memcmp((const char *)buf + i, s, n) == 0)
            return 1;
    return 0;
}

/* ---- snapshots ---------------------------------------------------------- */

typedef struct tu_fisher_snap {
    size_t count;
    char **names;
    size_t *numel, *site;
    double **sums;
    double *weight;
} tu_fisher_snap;

static inline void tu_fisher_snap_take(const gd_fisher *f, tu_fisher_snap *s)
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
        s->names[id] = tu_strdup(name);
        s->sums[id] = malloc(s->numel[id] * sizeof(double));
        ck_assert(s->names[id] && s->sums[id]);
        ck_assert_int_eq(gd_fisher_sums(f, id, s->sums[id], s->numel[id], &s->weight[id]), GD_OK);
    }
}

static inline void tu_fisher_snap_free(tu_fisher_snap *s)
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
static inline void tu_fisher_assert_same_at(const gd_fisher *f, const tu_fisher_snap *s, int line)
{
    tu_fisher_snap now;
    tu_fisher_snap_take(f, &now);
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
    tu_fisher_snap_free(&now);
}
#define tu_fisher_assert_same(f, s) tu_fisher_assert_same_at((f), (s), __LINE__)

typedef struct tu_plan_snap {
    size_t n;
    char **names;
    uint32_t *score_bits, *prob_bits;
} tu_plan_snap;

static inline void tu_plan_snap_take(const gd_plan *p, tu_plan_snap *s)
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
        s->names[i] = tu_strdup(name);
        ck_assert_ptr_nonnull(s->names[i]);
        s->score_bits[i] = tu_f32_bits(score);
        s->prob_bits[i] = tu_f32_bits(prob);
    }
}

static inline void tu_plan_snap_free(tu_plan_snap *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->names[i]);
    free(s->names);
    free(s->score_bits);
    free(s->prob_bits);
    memset(s, 0, sizeof *s);
}

static inline void tu_plan_assert_same_at(const gd_plan *p, const tu_plan_snap *s, int line)
{
    tu_plan_snap now;
    tu_plan_snap_take(p, &now);
    ck_assert_msg(now.n == s->n, "line %d: plan size changed", line);
    for (size_t i = 0; i < s->n; i++) {
        ck_assert_msg(!strcmp(now.names[i], s->names[i]), "line %d: site %zu name '%s' -> '%s'",
                      line, i, s->names[i], now.names[i]);
        ck_assert_msg(now.score_bits[i] == s->score_bits[i], "line %d: site %zu score changed",
                      line, i);
        ck_assert_msg(now.prob_bits[i] == s->prob_bits[i], "line %d: site %zu p changed", line,
                      i);
    }
    tu_plan_snap_free(&now);
}
#define tu_plan_assert_same(p, s) tu_plan_assert_same_at((p), (s), __LINE__)

/* A refused call: the exact code, and the object unchanged. */
#define TU_FISHER_FAILS(f, code, call)            \
    do {                                          \
        tu_fisher_snap snap_;                     \
        tu_fisher_snap_take((f), &snap_);         \
        ck_assert_int_eq((call), (code));         \
        tu_fisher_assert_same((f), &snap_);       \
        tu_fisher_snap_free(&snap_);              \
    } while (0)

#define TU_PLAN_FAILS(p, code, call)              \
    do {                                          \
        tu_plan_snap snap_;                       \
        tu_plan_snap_take((p), &snap_);           \
        ck_assert_int_eq((call), (code));         \
        tu_plan_assert_same((p), &snap_);         \
        tu_plan_snap_free(&snap_);                \
    } while (0)

#endif /* GD_TEST_UTIL_H */

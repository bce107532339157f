/* Small helpers shared by the Fisher, safetensors and plan tests. */
#ifndef GD_TEST_UTIL_H
#define GD_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

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

/* |a - b| <= tol * |b| (b the reference). */
static inline int tu_rel_ok(double a, double b, double tol)
{
    return fabs(a - b) <= tol * fabs(b);
}

/* A fresh path in the build folder for a test file. */
static inline void tu_path(char *buf, size_t n, const char *stem)
{
    snprintf(buf, n, "./%s.%ld.tmp", stem, (long)rand());
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

/* Runs every test of one tcase in a fresh suite; the process exit code. */
static inline int tu_run(const char *name, void (*add_tests)(TCase *), int timeout)
{
    Suite *s = suite_create(name);
    TCase *tc = tcase_create("core");
    if (timeout > 0)
        tcase_set_timeout(tc, timeout);
    add_tests(tc);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

#endif

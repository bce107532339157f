/* Helpers shared by the encoder trainer's files (see util.h). */
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gdropout/gdropout.h>

double enc_prof_sec[ENC_PROF_N];
int enc_prof_on;

void enc_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("encoder: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

size_t enc_mul(size_t a, size_t b)
{
    if (a != 0 && b > SIZE_MAX / a)
        enc_die("size overflow (%zu x %zu)", a, b);
    return a * b;
}

void *enc_alloc(size_t n, size_t size, const char *what)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL || (n != 0 && size > SIZE_MAX / n))
        enc_die("out of memory for %s (%zu x %zu bytes)", what, n, size);
    return p;
}

void *enc_realloc(void *p, size_t n, size_t size, const char *what)
{
    void *q = realloc(p, enc_mul(n ? n : 1, size ? size : 1));
    if (q == NULL)
        enc_die("out of memory for %s (%zu x %zu bytes)", what, n, size);
    return q;
}

void enc_gd(int rc, const char *what)
{
    if (rc != GD_OK)
        enc_die("%s failed: %s (%s)", what, gd_error_name(rc), gd_strerror(rc));
}

double enc_rng_normal(enc_rng *r)
{
    double u = 1.0 - enc_rng_unit(r); /* (0, 1] */
    double v = enc_rng_unit(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

void enc_shuffle(size_t *idx, size_t n, enc_rng *r)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = enc_rng_below(r, i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

double enc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double enc_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int blas_int(size_t v)
{
    if (v > INT_MAX)
        enc_die("matrix dimension %zu too large for BLAS", v);
    return (int)v;
}

void enc_sgemm(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A,
               size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    if (M == 0 || N == 0)
        return;
    double t0 = enc_prof_begin();
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                blas_int(M), blas_int(N), blas_int(K), alpha, A, blas_int(lda), B, blas_int(ldb),
                beta, C, blas_int(ldc));
    enc_prof_end(ENC_PROF_SGEMM, t0);
}

void enc_sgemv_t(size_t M, size_t N, const float *A, const float *x, float *y)
{
    if (M == 0 || N == 0)
        return;
    double t0 = enc_prof_begin();
    cblas_sgemv(CblasRowMajor, CblasTrans, blas_int(M), blas_int(N), 1.0f, A, blas_int(N), x, 1,
                1.0f, y, 1);
    enc_prof_end(ENC_PROF_SGEMM, t0);
}

int enc_name_index(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

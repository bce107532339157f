/*
 * Small helpers the encoder trainer's files share: checked allocation,
 * overflow-checked sizes, a counter-based RNG, wall-clock time and the
 * step-time profile (sgemm / libgdropout / everything else).
 */
#ifndef ENC_UTIL_H
#define ENC_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Prints "encoder: <message>" to stderr and exits with status 1.  Used for
 * bad input and for failures the trainer cannot recover from. */
void enc_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* malloc/calloc that die with a message naming `what` on failure or on a
 * size that overflows.  Zero-filled. */
void *enc_alloc(size_t n, size_t size, const char *what);
void *enc_realloc(void *p, size_t n, size_t size, const char *what);

/* The index of name among names[0..n) (a table of flag values), or -1. */
int enc_name_index(const char *const *names, int n, const char *name);

/* a * b, dying on overflow (sizes derived from user flags). */
size_t enc_mul(size_t a, size_t b);

/* A libgdropout call that cannot fail unless the trainer has a bug. */
void enc_gd(int rc, const char *what);

/* Strict decimal number: optional sign, digits, '.', exponent; no hex, no
 * "inf"/"nan", no blanks, finite as a double.  Returns 0 and *out, or -1.
 * The one rule for numeric flags (cli.c) and numeric labels (data.c). */
int enc_parse_decimal(const char *text, double *out);

/* A 64-bit digest (FNV-1a, then a splitmix64 finish) of bytes p[0..n),
 * chained from h (start with ENC_DIGEST_INIT).  For detecting a mismatch
 * (a swapped vocabulary, ranks with different weights), not an attacker. */
#define ENC_DIGEST_INIT 0xcbf29ce484222325ull
uint64_t enc_digest(uint64_t h, const void *p, size_t n);

/* Opens path for reading, refusing anything but a regular file (a FIFO is
 * refused without waiting for a writer, a device such as /dev/zero without
 * reading it).  Ends the program with a message naming path on failure.
 * *size (if not NULL) receives the file's size. */
FILE *enc_open_regular(const char *path, size_t *size);

/* Reading a text file line by line, telling a read error or an exhausted
 * memory from the end of the file, with a cap on the line length. */
typedef struct enc_lines {
    FILE *f;
    const char *path;
    char *buf;      /* the current line, NUL-terminated, without '\n' or "\r\n" */
    size_t len;     /* its length */
    size_t lineno;  /* 1-based number of the current line */
    size_t max;     /* longest line accepted, in bytes */
} enc_lines;

/* enc_open_regular, then reading lines of at most max_len bytes. */
void enc_lines_open(enc_lines *r, const char *path, size_t max_len);
/* The next line into r->buf: returns 1, or 0 at the end of the file.  A
 * read error, a line over r->max bytes or a NUL byte in a line ends the
 * program with the file and line number. */
int enc_lines_next(enc_lines *r);
void enc_lines_close(enc_lines *r);

/* splitmix64: a stateless mix for hashing and seeding. */
static inline uint64_t enc_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* A sequential generator (xoshiro-free: splitmix64 on a counter) for data
 * order, masking and initialisation.  Deterministic in (seed, stream). */
typedef struct enc_rng {
    uint64_t state;
} enc_rng;

static inline enc_rng enc_rng_make(uint64_t seed, uint64_t stream)
{
    enc_rng r = {enc_mix64(seed ^ enc_mix64(stream + 0x5851f42d4c957f2dull))};
    return r;
}
static inline uint64_t enc_rng_u64(enc_rng *r)
{
    r->state += 0x9e3779b97f4a7c15ull;
    return enc_mix64(r->state);
}
/* Uniform in [0, 1) with 53 bits. */
static inline double enc_rng_unit(enc_rng *r)
{
    return (double)(enc_rng_u64(r) >> 11) * 0x1.0p-53;
}
/* Uniform in [0, n), 1 <= n < 2^53. */
static inline size_t enc_rng_below(enc_rng *r, size_t n)
{
    size_t k = (size_t)(enc_rng_unit(r) * (double)n);
    return k < n ? k : n - 1;
}
/* Standard normal (Box-Muller in double). */
double enc_rng_normal(enc_rng *r);
/* Fisher-Yates shuffle of idx[0..n). */
void enc_shuffle(size_t *idx, size_t n, enc_rng *r);

/* Seconds on the monotonic clock. */
double enc_now(void);

/* ---- step-time profile ------------------------------------------------- */

/* ENC_PROF_SGEMM: BLAS calls (sgemm, and sgemv for bias gradients);
 * ENC_PROF_GD: libgdropout calls. */
enum { ENC_PROF_SGEMM = 0, ENC_PROF_GD = 1, ENC_PROF_N = 2 };

/* Accumulated CPU seconds per group (process CPU time, so the shares stay
 * true on a shared machine); enc_prof_on turns timing of the groups on (it
 * costs two clock reads per call, so it is off unless asked). */
extern double enc_prof_sec[ENC_PROF_N];
extern int enc_prof_on;

/* CPU seconds of this process (all threads). */
double enc_cpu_now(void);

static inline double enc_prof_begin(void)
{
    return enc_prof_on ? enc_cpu_now() : 0.0;
}
static inline void enc_prof_end(int group, double t0)
{
    if (enc_prof_on)
        enc_prof_sec[group] += enc_cpu_now() - t0;
}

/* C[M x N] = alpha * op(A) op(B) + beta * C, row-major, through
 * cblas_sgemm, timed as ENC_PROF_SGEMM.  ta/tb: 0 = as stored, 1 = transposed. */
void enc_sgemm(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A,
               size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);

/* y[N] += A[M x N]^T x[M] (row-major A), through cblas_sgemv, timed with
 * the sgemm group (the BLAS share). */
void enc_sgemv_t(size_t M, size_t N, const float *A, const float *x, float *y);

#endif /* ENC_UTIL_H */

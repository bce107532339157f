/* Helpers shared by the encoder trainer's files (see util.h). */
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gdropout/gdropout.h>

double enc_prof_sec[ENC_PROF_N];
int enc_prof_on;

void enc_die(const char *fmt, ...)
{
    /* One line in one write: MPI ranks share stderr, and a message in
     * three writes came out cut in two by another rank's. */
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + 9, sizeof line - 10, fmt, ap);
    va_end(ap);
    memcpy(line, "encoder: ", 9);
    size_t len = 9 + (n < 0 ? 0 : (size_t)n < sizeof line - 10 ? (size_t)n : sizeof line - 11);
    line[len++] = '\n';
    fflush(stderr);
    const ssize_t w = write(STDERR_FILENO, line, len);
    (void)w; /* a failed write to stderr has nowhere to be reported */
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

int enc_parse_decimal(const char *text, double *out)
{
    /* strtod alone would also take hex, "inf", "nan" and leading blanks. */
    if (text[0] == '\0')
        return -1;
    for (const char *p = text; *p; p++)
        if (!strchr("0123456789+-.eE", *p))
            return -1;
    char *end;
    errno = 0;
    const double x = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(x))
        return -1;
    *out = x;
    return 0;
}

uint64_t enc_digest(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return enc_mix64(h);
}

FILE *enc_open_regular(const char *path, size_t *size)
{
    /* O_NONBLOCK: opening a FIFO would otherwise wait for a writer before
     * its type could be checked; cleared again for the reads. */
    const int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        enc_die("%s: %s", path, strerror(errno));
    struct stat st;
    const int flags = fcntl(fd, F_GETFL);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        enc_die("%s: not a regular file (a folder, device, FIFO or socket); refusing to read it",
                path);
    }
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        close(fd);
        enc_die("%s: %s", path, strerror(errno));
    }
    FILE *f = fdopen(fd, "rb");
    if (f == NULL) {
        close(fd);
        enc_die("%s: %s", path, strerror(errno));
    }
    if (size)
        *size = (size_t)st.st_size;
    return f;
}

void enc_lines_open(enc_lines *r, const char *path, size_t max_len)
{
    memset(r, 0, sizeof *r);
    r->f = enc_open_regular(path, NULL);
    r->path = path;
    r->max = max_len;
    r->buf = enc_alloc(enc_mul(1, max_len) + 2, 1, "a line buffer");
}

int enc_lines_next(enc_lines *r)
{
    size_t n = 0;
    int c;
    errno = 0;
    while ((c = getc(r->f)) != EOF && c != '\n') {
        if (c == '\0')
            enc_die("%s:%zu: NUL byte in the line", r->path, r->lineno + 1);
        if (n == r->max + 1) /* room for a '\r' that a "\r\n" ending drops */
            enc_die("%s:%zu: line longer than %zu bytes", r->path, r->lineno + 1, r->max);
        r->buf[n++] = (char)c;
    }
    if (c == EOF) {
        if (ferror(r->f))
            enc_die("%s:%zu: read error: %s", r->path, r->lineno + 1,
                    strerror(errno ? errno : EIO));
        if (n == 0)
            return 0;
    }
    if (n > 0 && r->buf[n - 1] == '\r')
        n--;
    if (n > r->max)
        enc_die("%s:%zu: line longer than %zu bytes", r->path, r->lineno + 1, r->max);
    r->buf[n] = '\0';
    r->len = n;
    r->lineno++;
    return 1;
}

void enc_lines_close(enc_lines *r)
{
    fclose(r->f);
    free(r->buf);
    memset(r, 0, sizeof *r);
}

/*
 * gdropout-transfer, data: reading the digits and cutting tasks from them,
 * and the flag values both digits programs parse.
 *
 * The file is read through `gzip -dc` (popen) rather than zlib so that the
 * examples need nothing beyond libgdropout and OpenBLAS.
 */
#define _POSIX_C_SOURCE 200809L /* popen, pclose */

#include "transfer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gdx_parse_size(const char *s, size_t lo, size_t hi, size_t *out)
{
    char *end;
    errno = 0;
    const unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || errno || s[0] == '-' || v < lo || v > hi)
        return -1;
    *out = (size_t)v;
    return 0;
}

int gdx_parse_real(const char *s, double lo, double hi, int lo_open, double *out)
{
    char *end;
    errno = 0;
    const double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v > hi || v < lo || (lo_open && v == lo))
        return -1;
    *out = v;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    const size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* "gzip -dc -- 'path'", with every ' in path written as '\'' so that no
 * file name can inject a shell command.  Returns NULL on allocation
 * failure. */
static char *gzip_command(const char *path)
{
    const char *head = "gzip -dc -- '";
    size_t len = strlen(head) + 2;
    for (const char *c = path; *c; c++)
        len += *c == '\'' ? 4 : 1;
    char *cmd = malloc(len);
    if (!cmd)
        return NULL;
    char *o = cmd + strlen(strcpy(cmd, head));
    for (const char *c = path; *c; c++) {
        if (*c == '\'') {
            memcpy(o, "'\\''", 4);
            o += 4;
        } else {
            *o++ = *c;
        }
    }
    *o++ = '\'';
    *o = '\0';
    return cmd;
}

/* Parses "p0,...,p63,label" into x (scaled to [0, 1]) and *label. */
static int parse_row(const char *line, float x[GDX_PIXELS], int *label)
{
    const char *c = line;
    for (int k = 0; k <= GDX_PIXELS; k++) {
        char *end;
        errno = 0;
        const long v = strtol(c, &end, 10);
        if (end == c || errno)
            return -1;
        const char want = k < GDX_PIXELS ? ',' : '\0';
        if (want == ',' ? *end != ',' : (*end != '\0' && *end != '\n' && *end != '\r'))
            return -1;
        if (k < GDX_PIXELS) {
            if (v < 0 || v > 16)
                return -1;
            x[k] = (float)v / 16.0f;
        } else {
            if (v < 0 || v >= GDX_CLASSES)
                return -1;
            *label = (int)v;
        }
        c = end + 1;
    }
    return 0;
}

/* Appends one row, growing the arrays geometrically. */
static int push_row(gdx_digits *d, size_t *cap, const float x[GDX_PIXELS], int label)
{
    if (d->n == *cap) {
        const size_t ncap = *cap ? 2 * *cap : 256;
        float *nx = realloc(d->x, ncap * GDX_PIXELS * sizeof *nx);
        if (!nx)
            return -1;
        d->x = nx;
        int *nl = realloc(d->label, ncap * sizeof *nl);
        if (!nl)
            return -1;
        d->label = nl;
        *cap = ncap;
    }
    memcpy(d->x + d->n * GDX_PIXELS, x, GDX_PIXELS * sizeof *x);
    d->label[d->n++] = label;
    return 0;
}

static int read_rows(gdx_digits *d, FILE *in, const char *path)
{
    char line[1024];
    size_t cap = 0, lineno = 0;
    while (fgets(line, sizeof line, in)) {
        lineno++;
        float x[GDX_PIXELS];
        int label = 0;
        if (parse_row(line, x, &label) != 0) {
            fprintf(stderr, "gdropout-transfer: %s:%zu: expected 64 pixel values in 0..16 "
                            "and a label in 0..9, comma separated\n", path, lineno);
            return -1;
        }
        if (push_row(d, &cap, x, label) != 0) {
            fprintf(stderr, "gdropout-transfer: out of memory reading %s\n", path);
            return -1;
        }
    }
    if (ferror(in)) {
        fprintf(stderr, "gdropout-transfer: %s: read error\n", path);
        return -1;
    }
    return 0;
}

int gdx_digits_read(gdx_digits *d, const char *path)
{
    memset(d, 0, sizeof *d);
    /* Open it ourselves first: gzip's own message for a missing file would
     * come after a less helpful one from the shell. */
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        fprintf(stderr, "gdropout-transfer: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    const int gz = ends_with(path, ".gz");
    FILE *in = probe;
    if (gz) {
        fclose(probe);
        char *cmd = gzip_command(path);
        in = cmd ? popen(cmd, "r") : NULL;
        free(cmd);
        if (!in) {
            fprintf(stderr, "gdropout-transfer: cannot run gzip -dc on %s\n", path);
            return -1;
        }
    }
    int rc = read_rows(d, in, path);
    const int status = gz ? pclose(in) : fclose(in);
    if (rc == 0 && status != 0) {
        fprintf(stderr, "gdropout-transfer: %s: %s failed (is it gzip data?)\n", path,
                gz ? "gzip -dc" : "close");
        rc = -1;
    }
    if (rc == 0 && d->n == 0) {
        fprintf(stderr, "gdropout-transfer: %s: no rows\n", path);
        rc = -1;
    }
    if (rc != 0)
        gdx_digits_free(d);
    return rc;
}

void gdx_digits_free(gdx_digits *d)
{
    free(d->x);
    free(d->label);
    memset(d, 0, sizeof *d);
}

int gdx_permutation(size_t *perm, size_t n, uint64_t seed, uint64_t stream)
{
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    if (n < 2)
        return 0;
    /* Fisher-Yates on 64-bit draws: two Philox words per swap; the modulo
     * bias is below 2^-50 for any n that fits in memory. */
    uint32_t *r = malloc(2 * n * sizeof *r);
    if (!r)
        return -1;
    const gd_stream s = { .seed = seed, .stream = stream, .offset = 0 };
    if (gd_random_u32(r, 2 * n, &s) != GD_OK) {
        free(r);
        return -1;
    }
    for (size_t i = n - 1; i > 0; i--) {
        const uint64_t u = (uint64_t)r[2 * i] << 32 | r[2 * i + 1];
        const size_t j = (size_t)(u % (uint64_t)(i + 1));
        const size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    free(r);
    return 0;
}

int gdx_set_take(gdx_set *out, const gdx_digits *d, const size_t *perm, int lo, int hi,
                 size_t skip, size_t take)
{
    memset(out, 0, sizeof *out);
    out->x = malloc((take ? take : 1) * GDX_PIXELS * sizeof *out->x);
    out->y = malloc((take ? take : 1) * sizeof *out->y);
    if (!out->x || !out->y) {
        gdx_set_free(out);
        return -1;
    }
    size_t seen = 0;
    for (size_t i = 0; i < d->n && out->n < take; i++) {
        const size_t r = perm[i];
        if (d->label[r] < lo || d->label[r] > hi || seen++ < skip)
            continue;
        memcpy(out->x + out->n * GDX_PIXELS, d->x + r * GDX_PIXELS,
               GDX_PIXELS * sizeof *out->x);
        out->y[out->n++] = d->label[r] - lo;
    }
    return 0;
}

gdx_set gdx_set_head(const gdx_set *s, size_t k)
{
    gdx_set h = { s->x, s->y, k < s->n ? k : s->n };
    return h;
}

void gdx_set_free(gdx_set *s)
{
    free(s->x);
    free(s->y);
    memset(s, 0, sizeof *s);
}

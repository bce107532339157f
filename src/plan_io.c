/*
 * gd_plan_save / gd_plan_load: the plan as text, one site a line,
 *   <index> <name or -> <score> <p>
 * with '#' comment lines and blank lines allowed.  Floats are "%.9g" in the
 * "C" locale, which reads back to the same float.  Loading is strict: four
 * fields a line, separated by spaces or tabs (a trailing '\r' is accepted),
 * a decimal index, a valid name, finite score, p in [0, 1], every index
 * 0 .. n-1 exactly once; lines longer than LINE_MAX bytes, NUL bytes and
 * anything else are GD_EFORMAT.
 */
#define _POSIX_C_SOURCE 200809L

#include "atomic_file.h"
#include "plan_internal.h"
#include "text.h"

#include <stdio.h>
#include <string.h>

/* Longest line accepted: a 255-byte name plus three numbers fit easily. */
enum { LINE_MAX_BYTES = 1024 };

/* Most sites a file may hold (a guard against absurd files). */
enum { SITES_MAX = 1 << 24 };

static int plan_writer(FILE *fp, void *arg)
{
    const gd_plan *p = arg;
    char line[LINE_MAX_BYTES];
    if (fprintf(fp, "# gdropout plan, %zu sites: <index> <name or -> <score> <p>\n", p->n) < 0)
        return GD_EIO;
    for (size_t i = 0; i < p->n; i++) {
        const char *name = p->names[i] ? p->names[i] : "-";
        if (!gd_format_c(line, sizeof line, "%zu %s %.9g %.9g\n", i, name,
                         (double)p->scores[i], (double)p->probs[i]))
            return GD_ENOMEM;
        if (fputs(line, fp) == EOF)
            return GD_EIO;
    }
    return GD_OK;
}

int gd_plan_save(const gd_plan *p, const char *path)
{
    if (!p || !path || !*path)
        return GD_EINVAL;
    if (!p->computed)
        return GD_ESTATE;
    return gd_atomic_write(path, plan_writer, (void *)p);
}

/* ---- loading ---------------------------------------------------------- */

typedef struct row {
    size_t index;
    char name[256];
    float score, prob;
} row;

typedef struct rows {
    row *r;
    size_t n, cap;
} rows;

/* Reads one line without its newline into buf (LINE_MAX_BYTES + 1 bytes).
 * Returns 1 for a line, 0 at the end, or a GD_E* code. */
static int read_line(FILE *fp, char *buf, size_t *len)
{
    size_t n = 0;
    int c;
    while ((c = getc(fp)) != EOF && c != '\n') {
        if (c == '\0' || n == LINE_MAX_BYTES)
            return GD_EFORMAT;
        buf[n++] = (char)c;
    }
    if (ferror(fp))
        return GD_EIO;
    if (c == EOF && n == 0)
        return 0;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    *len = n;
    return 1;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Splits a line into at most max fields at blanks; returns how many (max+1
 * when there are more). */
static size_t split(char *s, size_t len, const char **field, size_t *flen, size_t max)
{
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && is_blank(s[i]))
            i++;
        if (i == len)
            break;
        const size_t start = i;
        while (i < len && !is_blank(s[i]))
            i++;
        if (n == max)
            return max + 1;
        field[n] = s + start;
        flen[n++] = i - start;
        if (i < len)
            s[i++] = '\0'; /* the last field ends at the line's own NUL */
    }
    return n;
}

static int parse_row(char *line, size_t len, row *r)
{
    const char *f[4];
    size_t fl[4];
    if (split(line, len, f, fl, 4) != 4 || !gd_parse_size(f[0], fl[0], &r->index) ||
        !gd_parse_float(f[2], fl[2], &r->score) || !gd_parse_float(f[3], fl[3], &r->prob))
        return GD_EFORMAT;
    if (!(fabsf(r->score) <= 3.402823466e38f) || !gd_prob_ok(r->prob))
        return GD_EFORMAT;
    const bool unnamed = fl[1] == 1 && f[1][0] == '-';
    if (!unnamed && !gd_plan_name_ok(f[1]))
        return GD_EFORMAT;
    memcpy(r->name, unnamed ? "" : f[1], unnamed ? 1 : fl[1] + 1);
    return GD_OK;
}

static int push_row(rows *rs, const row *r)
{
    if (rs->n == SITES_MAX)
        return GD_EFORMAT;
    if (rs->n == rs->cap) {
        const size_t cap = rs->cap ? rs->cap * 2 : 64;
        row *nr = gd_realloc(rs->r, cap * sizeof *nr);
        if (!nr)
            return GD_ENOMEM;
        rs->r = nr;
        rs->cap = cap;
    }
    rs->r[rs->n++] = *r;
    return GD_OK;
}

static int read_rows(FILE *fp, rows *rs)
{
    char line[LINE_MAX_BYTES + 1];
    size_t len;
    int rc;
    while ((rc = read_line(fp, line, &len)) == 1) {
        size_t i = 0;
        while (i < len && is_blank(line[i]))
            i++;
        if (i == len || line[i] == '#')
            continue;
        row r;
        rc = parse_row(line, len, &r);
        if (rc == GD_OK)
            rc = push_row(rs, &r);
        if (rc != GD_OK)
            return rc;
    }
    return rc;
}

/* A new plan from the rows: every index 0 .. n-1 exactly once. */
static int build_plan(const rows *rs, gd_plan **out)
{
    gd_plan *p;
    if (rs->n == 0)
        return GD_EFORMAT;
    int rc = gd_plan_create(&p, rs->n);
    if (rc != GD_OK)
        return rc;
    for (size_t i = 0; i < rs->n && rc == GD_OK; i++) {
        const row *r = &rs->r[i];
        if (r->index >= p->n || !isnan(p->scores[r->index])) {
            rc = GD_EFORMAT; /* out of range or duplicate */
            break;
        }
        rc = gd_plan_set_site(p, r->index, r->name, r->score);
        p->probs[r->index] = r->prob;
    }
    if (rc != GD_OK) {
        gd_plan_destroy(p);
        return rc;
    }
    p->computed = true; /* every index was set once, so none is missing */
    *out = p;
    return GD_OK;
}

int gd_plan_load(gd_plan **out, const char *path)
{
    if (!out || !path)
        return GD_EINVAL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return GD_EIO;
    rows rs = {NULL, 0, 0};
    int rc = read_rows(fp, &rs);
    fclose(fp);
    if (rc == GD_OK)
        rc = build_plan(&rs, out);
    gd_free(rs.r);
    return rc;
}

/*
 * gd_plan_save / gd_plan_load: the plan as text, one site a line,
 *   <index> <name or -> <score> <p>
 * with '#' comment lines and blank lines allowed.  Floats are "%.9g" in the
 * "C" locale, which reads back to the same float.  Loading is strict: four
 * fields a line, separated by spaces or tabs (lines end in "\n" or "\r\n"),
 * a decimal index, a valid name, finite score, p in [0, 1], every index
 * 0 .. n-1 exactly once; lines longer than GD_LINE_MAX bytes (line ending
 * not counted), NUL bytes and anything else are GD_EFORMAT.  The line and
 * number grammar is text.c's, shared with the gdropout-plan tool.
 *
 * Memory is proportional to the file: a row keeps its name in one shared
 * buffer, not in a fixed-size slot, so a file of short unnamed lines costs
 * a few times its size, never hundreds.
 */
#define _POSIX_C_SOURCE 200809L

#include "atomic_file.h"
#include "plan_internal.h"
#include "text.h"

#include <stdio.h>
#include <string.h>

/* Most sites a file may hold (a guard against absurd files). */
enum { SITES_MAX = 1 << 24 };

static int plan_writer(FILE *fp, void *arg)
{
    const gd_plan *p = arg;
    char line[GD_LINE_MAX + 2];
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

/* One data line; its name (if any) is at names + name_at. */
typedef struct row {
    size_t index;
    size_t name_at; /* GD_NONE: no name */
    float score, prob;
} row;

typedef struct rows {
    row *r;
    size_t n, cap;
    char *names; /* the rows' names, each NUL-terminated */
    size_t names_len, names_cap;
} rows;

/* buf (*cap elements of size bytes) grown to hold need elements, or NULL
 * (buf is then unchanged and still owned by the caller). */
static void *grow(void *buf, size_t *cap, size_t need, size_t size)
{
    size_t c = *cap ? *cap : 64, bytes;
    if (need <= *cap)
        return buf;
    while (c < need)
        if (!gd_mul_ok(c, 2, &c))
            return NULL;
    if (!gd_mul_ok(c, size, &bytes))
        return NULL;
    void *nb = gd_realloc(buf, bytes);
    if (nb)
        *cap = c;
    return nb;
}

static int add_name(rows *rs, const char *name, size_t len, size_t *at)
{
    size_t need;
    if (!gd_add_ok(rs->names_len, len + 1, &need))
        return GD_ENOMEM;
    char *names = grow(rs->names, &rs->names_cap, need, 1);
    if (!names)
        return GD_ENOMEM;
    rs->names = names;
    memcpy(rs->names + rs->names_len, name, len + 1);
    *at = rs->names_len;
    rs->names_len = need;
    return GD_OK;
}

static int parse_row(char *line, size_t len, rows *rs, row *r)
{
    const char *f[4];
    size_t fl[4];
    if (gd_split_fields(line, len, f, fl, 4) != 4 || !gd_parse_size(f[0], fl[0], &r->index) ||
        !gd_parse_float(f[2], fl[2], &r->score) || !gd_parse_float(f[3], fl[3], &r->prob))
        return GD_EFORMAT;
    if (!(fabsf(r->score) <= 3.402823466e38f) || !gd_prob_ok(r->prob))
        return GD_EFORMAT;
    r->name_at = GD_NONE;
    if (fl[1] == 1 && f[1][0] == '-')
        return GD_OK;
    if (!gd_plan_name_ok(f[1]))
        return GD_EFORMAT;
    return add_name(rs, f[1], fl[1], &r->name_at);
}

static int push_row(rows *rs, const row *r)
{
    if (rs->n == SITES_MAX)
        return GD_EFORMAT;
    row *r_new = grow(rs->r, &rs->cap, rs->n + 1, sizeof *rs->r);
    if (!r_new)
        return GD_ENOMEM;
    rs->r = r_new;
    rs->r[rs->n++] = *r;
    return GD_OK;
}

static int read_rows(FILE *fp, rows *rs)
{
    char line[GD_LINE_MAX + 2];
    size_t len;
    int got;
    while ((got = gd_read_line(fp, line, &len)) == GD_TEXT_LINE) {
        if (gd_line_is_comment(line, len))
            continue;
        row r;
        int rc = parse_row(line, len, rs, &r);
        if (rc == GD_OK)
            rc = push_row(rs, &r);
        if (rc != GD_OK)
            return rc;
    }
    return got == GD_TEXT_END ? GD_OK : got == GD_TEXT_EIO ? GD_EIO : GD_EFORMAT;
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
        const char *name = r->name_at == GD_NONE ? "" : rs->names + r->name_at;
        rc = gd_plan_set_site(p, r->index, name, r->score);
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
    FILE *fp;
    int rc = gd_open_regular(path, &fp, NULL);
    if (rc != GD_OK)
        return rc;
    rows rs = {NULL, 0, 0, NULL, 0, 0};
    rc = read_rows(fp, &rs);
    fclose(fp);
    if (rc == GD_OK)
        rc = build_plan(&rs, out);
    gd_free(rs.r);
    gd_free(rs.names);
    return rc;
}

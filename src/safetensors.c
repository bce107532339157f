/*
 * gd_fisher_save / gd_fisher_load: the estimates as a safetensors file.
 *
 *   [8 bytes: N, little-endian u64][N bytes: JSON header][data]
 *
 * The header maps each tensor name to {"dtype":"F32","shape":[...],
 * "data_offsets":[begin,end]} (offsets relative to the data section) and
 * "__metadata__" to a string map.  Like the safetensors package, the header
 * is padded with spaces to a multiple of 8 bytes.
 *
 * Round trip: the file stores e = (float)(sums/W) and W ("%.17g", exact);
 * loading sets sums = (double)e * W, and (float)(((double)e * W) / W) == e
 * because the double error of the product and quotient is far below half a
 * float ulp.  That needs e * W to be a normal double, which the limits of
 * fisher_internal.h guarantee (W == 0 or in [2^-512, 2^512], e <= 2^127):
 * the loader refuses anything outside them, so a foreign file's subnormal
 * weight cannot change an estimate.  W == 0 is stored as zeros and loads as
 * zeros with weight 0 (nonzero estimates with weight 0 are refused).
 *
 * Loading trusts nothing: the header length against the file size, JSON
 * syntax, every key and value, shapes against offsets, offsets against the
 * data section (sorted, contiguous, no overlap, no gap, covering it
 * exactly, as the safetensors package requires), unique names, metadata.
 * Estimates must be in [0, 2^127].  Anything else is GD_EFORMAT.
 */
#define _POSIX_C_SOURCE 200809L

#include "atomic_file.h"
#include "fisher_internal.h"
#include "json.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Caps against absurd files: the header (the safetensors package allows
 * 100 MB; a Fisher header is ~150 bytes a tensor) and its JSON nodes. */
enum { HEADER_MAX = 16 * 1024 * 1024, NODES_MAX = 1 << 20 };

/* Floats converted per fread/fwrite. */
enum { CHUNK_FLOATS = 16384 };

static const char FORMAT_KEY[] = "gdropout.format";
static const char FORMAT_VALUE[] = "fisher-1";
static const char SITE_PREFIX[] = "gdropout.site.";
static const char WEIGHT_PREFIX[] = "gdropout.weight.";

static void put_le32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_le32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* ---- writing: a growable text buffer ---------------------------------- */

typedef struct textbuf {
    char *p;
    size_t len, cap;
    int err;
} textbuf;

static void tb_put(textbuf *b, const char *s, size_t n)
{
    size_t need;
    if (b->err)
        return;
    if (!gd_add_ok(b->len, n, &need)) {
        b->err = GD_ENOMEM;
        return;
    }
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        char *p = gd_realloc(b->p, cap);
        if (!p) {
            b->err = GD_ENOMEM;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len = need;
}

static void tb_puts(textbuf *b, const char *s)
{
    tb_put(b, s, strlen(s));
}

/* s as JSON string contents (no quotes): '"' and '\\' escaped, control
 * characters as \u00XX, everything else (UTF-8) as is. */
static void tb_escaped(textbuf *b, const char *s)
{
    for (; *s; s++) {
        const unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c;
            tb_put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            tb_put(b, esc, 6);
        } else {
            tb_put(b, s, 1);
        }
    }
}

/* ,"<prefix><name>":"<value>" */
static void tb_meta(textbuf *b, const char *prefix, const char *name, const char *value)
{
    tb_puts(b, ",\"");
    tb_puts(b, prefix);
    tb_escaped(b, name);
    tb_puts(b, "\":\"");
    tb_puts(b, value);
    tb_puts(b, "\"");
}

static void tb_metadata(textbuf *b, const gd_fisher *f)
{
    char num[40];
    tb_puts(b, "{\"__metadata__\":{\"");
    tb_puts(b, FORMAT_KEY);
    tb_puts(b, "\":\"");
    tb_puts(b, FORMAT_VALUE);
    tb_puts(b, "\"");
    for (size_t i = 0; i < f->n && !b->err; i++) {
        const gd_tensor *t = &f->t[i];
        if (t->site == GD_NONE)
            snprintf(num, sizeof num, "none");
        else
            snprintf(num, sizeof num, "%zu", t->site);
        tb_meta(b, SITE_PREFIX, t->name, num);
        if (!gd_format_c(num, sizeof num, "%.17g", t->weight))
            b->err = GD_ENOMEM;
        tb_meta(b, WEIGHT_PREFIX, t->name, num);
    }
    tb_puts(b, "}");
}

/* The whole header, padded with spaces to a multiple of 8. */
static int build_header(const gd_fisher *f, textbuf *b)
{
    char num[80];
    uint64_t offset = 0;
    tb_metadata(b, f);
    for (size_t i = 0; i < f->n && !b->err; i++) {
        const uint64_t end = offset + (uint64_t)f->t[i].numel * 4u;
        tb_puts(b, ",\"");
        tb_escaped(b, f->t[i].name);
        snprintf(num, sizeof num, "\":{\"dtype\":\"F32\",\"shape\":[%zu],\"data_offsets\":[",
                 f->t[i].numel);
        tb_puts(b, num);
        snprintf(num, sizeof num, "%llu,%llu]}", (unsigned long long)offset,
                 (unsigned long long)end);
        tb_puts(b, num);
        offset = end;
    }
    tb_puts(b, "}");
    while (!b->err && b->len % 8 != 0)
        tb_puts(b, " ");
    return b->err;
}

typedef struct save_ctx {
    const gd_fisher *f;
    const textbuf *header;
    unsigned char *chunk; /* CHUNK_FLOATS * 4 bytes */
} save_ctx;

static bool write_tensor(FILE *fp, const gd_tensor *t, unsigned char *chunk)
{
    for (size_t j0 = 0; j0 < t->numel; j0 += CHUNK_FLOATS) {
        const size_t n = t->numel - j0 < CHUNK_FLOATS ? t->numel - j0 : CHUNK_FLOATS;
        for (size_t k = 0; k < n; k++) {
            const float e = t->weight > 0.0 ? gd_tensor_estimate(t, j0 + k) : 0.0f;
            uint32_t u;
            memcpy(&u, &e, sizeof u);
            put_le32(chunk + 4 * k, u);
        }
        if (fwrite(chunk, 4, n, fp) != n)
            return false;
    }
    return true;
}

static int save_writer(FILE *fp, void *arg)
{
    const save_ctx *c = arg;
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)c->header->len >> (8 * i));
    if (fwrite(len, 1, 8, fp) != 8 ||
        fwrite(c->header->p, 1, c->header->len, fp) != c->header->len)
        return GD_EIO;
    for (size_t i = 0; i < c->f->n; i++)
        if (!write_tensor(fp, &c->f->t[i], c->chunk))
            return GD_EIO;
    return GD_OK;
}

int gd_fisher_save(const gd_fisher *f, const char *path)
{
    if (!f || !path || !*path)
        return GD_EINVAL;
    textbuf header = {NULL, 0, 0, GD_OK};
    int rc = build_header(f, &header);
    unsigned char *chunk = rc == GD_OK ? gd_malloc(CHUNK_FLOATS * 4) : NULL;
    if (rc == GD_OK && !chunk)
        rc = GD_ENOMEM;
    if (rc == GD_OK) {
        save_ctx c = {f, &header, chunk};
        rc = gd_atomic_write(path, save_writer, &c);
    }
    gd_free(chunk);
    gd_free(header.p);
    return rc;
}

/* ---- loading ------------------------------------------------------------ */

/* One tensor entry of the header. */
typedef struct entry {
    const char *name;
    uint64_t begin, end;
    size_t numel;
} entry;

typedef struct loader {
    FILE *fp;
    uint64_t data_size; /* bytes after the header */
    gd_json_doc doc;
    const gd_json_node *metadata; /* or NULL */
    entry *e;
    size_t n;
    gd_fisher *f;
    bool *seen; /* per tensor: [2*id] site given, [2*id+1] weight given */
} loader;

/* shape: an array of integers whose product (>= 1) is *numel. */
static bool parse_shape(const gd_json_doc *d, const gd_json_node *shape, size_t *numel)
{
    size_t n = 1;
    if (shape->type != GD_JSON_ARRAY)
        return false;
    for (size_t c = shape->child; c != GD_JSON_END; c = d->nodes[c].next) {
        uint64_t dim;
        if (!gd_json_u64(d, &d->nodes[c], &dim) || dim > SIZE_MAX || !gd_mul_ok(n, (size_t)dim, &n))
            return false;
    }
    *numel = n;
    return n >= 1;
}

static bool parse_offsets(const gd_json_doc *d, const gd_json_node *off, entry *e)
{
    if (off->type != GD_JSON_ARRAY || off->count != 2)
        return false;
    const gd_json_node *a = &d->nodes[off->child];
    return gd_json_u64(d, a, &e->begin) && gd_json_u64(d, &d->nodes[a->next], &e->end) &&
           e->begin <= e->end;
}

/* A tensor entry: exactly dtype F32, shape and data_offsets, sizes agreeing. */
static bool parse_entry(const gd_json_doc *d, const gd_json_node *m, entry *e)
{
    if (m->type != GD_JSON_OBJECT || m->count != 3 || !gd_json_clean_str(d, m->key, m->key_len))
        return false;
    const gd_json_node *dtype = gd_json_member(d, m, "dtype");
    const gd_json_node *shape = gd_json_member(d, m, "shape");
    const gd_json_node *off = gd_json_member(d, m, "data_offsets");
    if (!dtype || !shape || !off || dtype->type != GD_JSON_STRING ||
        strcmp(gd_json_str(d, dtype), "F32") != 0 || dtype->str_len != 3)
        return false;
    e->name = gd_json_key(d, m);
    size_t bytes;
    return parse_shape(d, shape, &e->numel) && parse_offsets(d, off, e) &&
           gd_mul_ok(e->numel, 4, &bytes) && e->end - e->begin == bytes;
}

static int cmp_begin(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    return (x->begin > y->begin) - (x->begin < y->begin);
}

/* Collects and checks the tensor entries, sorted by data offset; they must
 * tile the data section exactly. */
static int collect_entries(loader *l)
{
    const gd_json_doc *d = &l->doc;
    const gd_json_node *root = &d->nodes[0];
    if (root->type != GD_JSON_OBJECT)
        return GD_EFORMAT;
    l->e = gd_calloc(root->count, sizeof *l->e);
    if (!l->e)
        return GD_ENOMEM;
    for (size_t c = root->child; c != GD_JSON_END; c = d->nodes[c].next) {
        const gd_json_node *m = &d->nodes[c];
        if (strcmp(gd_json_key(d, m), "__metadata__") == 0 && m->key_len == 12) {
            if (l->metadata || m->type != GD_JSON_OBJECT)
                return GD_EFORMAT;
            l->metadata = m;
        } else if (!parse_entry(d, m, &l->e[l->n++])) {
            return GD_EFORMAT;
        }
    }
    qsort(l->e, l->n, sizeof *l->e, cmp_begin);
    uint64_t at = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (l->e[i].begin != at)
            return GD_EFORMAT; /* overlap or gap */
        at = l->e[i].end;
    }
    return at == l->data_size ? GD_OK : GD_EFORMAT;
}

/* Registers the entries in offset order; duplicate or bad names are
 * format errors. */
static int register_entries(loader *l)
{
    int rc = gd_fisher_create(&l->f);
    if (rc != GD_OK)
        return rc;
    for (size_t i = 0; i < l->n; i++) {
        rc = gd_fisher_add_tensor(l->f, l->e[i].name, l->e[i].numel, GD_NONE, NULL);
        if (rc == GD_EEXIST || rc == GD_EINVAL)
            return GD_EFORMAT;
        if (rc != GD_OK)
            return rc;
        l->f->t[i].weight = 1.0; /* no metadata: weight 1 */
    }
    l->seen = gd_calloc(l->n ? 2 * l->n : 1, sizeof *l->seen);
    return l->seen ? GD_OK : GD_ENOMEM;
}

/* The tensor that metadata key "<prefix><name>" is about. */
static gd_tensor *meta_tensor(const loader *l, const char *key, const char *prefix, size_t *id)
{
    const size_t n = strlen(prefix);
    if (strncmp(key, prefix, n) != 0 || gd_fisher_find(l->f, key + n, id) != GD_OK)
        return NULL;
    return &l->f->t[*id];
}

static bool apply_site(loader *l, const char *key, const char *value, size_t len)
{
    size_t id, site;
    gd_tensor *t = meta_tensor(l, key, SITE_PREFIX, &id);
    if (!t || l->seen[2 * id])
        return false;
    l->seen[2 * id] = true;
    if (strcmp(value, "none") == 0) {
        t->site = GD_NONE;
        return true;
    }
    if (!gd_parse_size(value, len, &site) || site == GD_NONE)
        return false;
    t->site = site;
    return true;
}

static bool apply_weight(loader *l, const char *key, const char *value, size_t len)
{
    size_t id;
    double w;
    gd_tensor *t = meta_tensor(l, key, WEIGHT_PREFIX, &id);
    if (!t || l->seen[2 * id + 1])
        return false;
    l->seen[2 * id + 1] = true;
    if (!gd_parse_double(value, len, &w) || !gd_weight_ok(w))
        return false;
    t->weight = w;
    return true;
}

/* __metadata__: a map of strings; ours is checked, the rest ignored. */
static int apply_metadata(loader *l)
{
    const gd_json_doc *d = &l->doc;
    bool format_seen = false;
    if (!l->metadata)
        return GD_OK;
    for (size_t c = l->metadata->child; c != GD_JSON_END; c = d->nodes[c].next) {
        const gd_json_node *m = &d->nodes[c];
        if (m->type != GD_JSON_STRING || !gd_json_clean_str(d, m->key, m->key_len) ||
            !gd_json_clean_str(d, m->str, m->str_len))
            return GD_EFORMAT;
        const char *key = gd_json_key(d, m), *value = gd_json_str(d, m);
        bool ok = true;
        if (strcmp(key, FORMAT_KEY) == 0) {
            ok = !format_seen && strcmp(value, FORMAT_VALUE) == 0;
            format_seen = true;
        } else if (strncmp(key, SITE_PREFIX, sizeof SITE_PREFIX - 1) == 0) {
            ok = apply_site(l, key, value, m->str_len);
        } else if (strncmp(key, WEIGHT_PREFIX, sizeof WEIGHT_PREFIX - 1) == 0) {
            ok = apply_weight(l, key, value, m->str_len);
        }
        if (!ok)
            return GD_EFORMAT;
    }
    return GD_OK;
}

/* Reads one tensor's floats: each in [0, 2^127] (0 when W == 0), sums = e * W. */
static int read_tensor(loader *l, gd_tensor *t, unsigned char *chunk)
{
    for (size_t j0 = 0; j0 < t->numel; j0 += CHUNK_FLOATS) {
        const size_t n = t->numel - j0 < CHUNK_FLOATS ? t->numel - j0 : CHUNK_FLOATS;
        if (fread(chunk, 4, n, l->fp) != n)
            return GD_EIO; /* the file shrank under us */
        for (size_t k = 0; k < n; k++) {
            const uint32_t u = get_le32(chunk + 4 * k);
            float e;
            memcpy(&e, &u, sizeof e);
            const double s = (double)e * t->weight;
            if (!(e >= 0.0f && (double)e <= GD_ESTIMATE_MAX) || (t->weight == 0.0 && e != 0.0f) ||
                !gd_sum_ok(s, t->weight))
                return GD_EFORMAT;
            t->sums[j0 + k] = s;
        }
    }
    return GD_OK;
}

static int read_data(loader *l)
{
    unsigned char *chunk = gd_malloc(CHUNK_FLOATS * 4);
    if (!chunk)
        return GD_ENOMEM;
    int rc = GD_OK;
    for (size_t i = 0; i < l->f->n && rc == GD_OK; i++)
        rc = read_tensor(l, &l->f->t[i], chunk);
    gd_free(chunk);
    return rc;
}

/* The header length and text; checks the length against the file. */
static int read_header(loader *l, uint64_t size, char **text, size_t *len)
{
    unsigned char b[8];
    if (size < 8)
        return GD_EFORMAT;
    if (fread(b, 1, 8, l->fp) != 8)
        return GD_EIO;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | b[i];
    if (n < 2 || n > HEADER_MAX || n > size - 8)
        return GD_EFORMAT;
    l->data_size = size - 8 - n;
    *text = gd_malloc((size_t)n);
    if (!*text)
        return GD_ENOMEM;
    *len = (size_t)n;
    return fread(*text, 1, *len, l->fp) == *len ? GD_OK : GD_EIO;
}

static int load_all(loader *l, uint64_t size)
{
    char *text = NULL;
    size_t len = 0;
    int rc = read_header(l, size, &text, &len);
    if (rc == GD_OK)
        rc = gd_json_parse(&l->doc, text, len, NODES_MAX);
    if (rc == GD_OK)
        rc = collect_entries(l);
    if (rc == GD_OK)
        rc = register_entries(l);
    if (rc == GD_OK)
        rc = apply_metadata(l);
    if (rc == GD_OK)
        rc = read_data(l);
    gd_json_free(&l->doc);
    gd_free(text);
    return rc;
}

int gd_fisher_load(gd_fisher **out, const char *path)
{
    if (!out || !path)
        return GD_EINVAL;
    loader l;
    uint64_t size;
    memset(&l, 0, sizeof l);
    int rc = gd_open_regular(path, &l.fp, &size);
    if (rc != GD_OK)
        return rc;
    rc = load_all(&l, size);
    fclose(l.fp);
    gd_free(l.e);
    gd_free(l.seen);
    if (rc == GD_OK)
        *out = l.f;
    else
        gd_fisher_destroy(l.f);
    return rc;
}

/* safetensors checkpoints (see checkpoint.h). */
#define _POSIX_C_SOURCE 200809L
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "util.h"

/* ==== writing ============================================================ */

typedef struct out_tensor {
    const char *name;
    size_t rows, cols; /* cols == 1: a vector, shape [rows] */
    const float *data;
} out_tensor;

typedef struct out_file {
    const out_tensor *t;
    size_t n;
    const char *meta; /* the body of __metadata__ (comma-separated pairs) */
} out_file;

static void write_file(FILE *f, void *user)
{
    const out_file *o = user;
    /* Header text first, to know its length. */
    size_t cap = 4096 + o->n * 160 + strlen(o->meta), len = 0;
    char *h = enc_alloc(cap, 1, "checkpoint header");
    len += (size_t)snprintf(h + len, cap - len, "{\"__metadata__\":{%s}", o->meta);
    uint64_t at = 0;
    for (size_t i = 0; i < o->n; i++) {
        const out_tensor *t = &o->t[i];
        uint64_t bytes = (uint64_t)t->rows * t->cols * 4;
        if (t->cols == 1)
            len += (size_t)snprintf(h + len, cap - len, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%zu]",
                                    t->name, t->rows);
        else
            len += (size_t)snprintf(h + len, cap - len,
                                    ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%zu,%zu]", t->name,
                                    t->rows, t->cols);
        len += (size_t)snprintf(h + len, cap - len, ",\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}",
                                at, at + bytes);
        at += bytes;
    }
    len += (size_t)snprintf(h + len, cap - len, "}");
    while (len % 8 != 0) /* the data section starts 8-byte aligned */
        h[len++] = ' ';
    uint8_t n8[8];
    for (int i = 0; i < 8; i++)
        n8[i] = (uint8_t)((uint64_t)len >> (8 * i));
    fwrite(n8, 1, 8, f);
    fwrite(h, 1, len, f);
    free(h);
    for (size_t i = 0; i < o->n; i++) /* little-endian F32: this machine's order */
        fwrite(o->t[i].data, sizeof(float), o->t[i].rows * o->t[i].cols, f);
}

uint64_t enc_param_digest(const enc_model *m)
{
    return enc_digest(ENC_DIGEST_INIT, m->param, m->n_params * sizeof *m->param);
}

void enc_ckpt_save(const enc_model *m, const enc_ckpt_meta *meta, const char *path)
{
    for (size_t i = 0; i < m->n_params; i++)
        if (!isfinite(m->param[i]))
            enc_die("%s: not saved: parameter %zu is not finite (%g); the previous checkpoint "
                    "is kept",
                    path, i, (double)m->param[i]);
    out_tensor *t = enc_alloc(m->n_tensors, sizeof *t, "checkpoint");
    for (size_t i = 0; i < m->n_tensors; i++) {
        const enc_tensor *s = &m->tensor[i];
        t[i] = (out_tensor){s->name, s->rows, s->cols, m->param + s->offset};
    }
    const enc_config *c = &m->cfg;
    char body[1024], sched[384] = "";
    if (meta->has_schedule) {
        const enc_schedule *k = &meta->sched;
        snprintf(sched, sizeof sched,
                 ",\"steps\":\"%" PRIu64 "\",\"warmup\":\"%" PRIu64 "\",\"batch\":\"%" PRIu64
                 "\",\"lr\":\"%.9g\",\"weight_decay\":\"%.9g\",\"p\":\"%.9g\"",
                 k->steps, k->warmup, k->batch, k->lr, k->weight_decay, k->p);
    }
    snprintf(body, sizeof body,
             "\"format\":\"gdx-encoder-1\",\"vocab\":\"%zu\",\"hidden\":\"%zu\","
             "\"layers\":\"%zu\",\"heads\":\"%zu\",\"ffn\":\"%zu\",\"max_len\":\"%zu\","
             "\"classes\":\"%zu\",\"pool\":\"%s\",\"step\":\"%" PRIu64 "\",\"seed\":\"%" PRIu64
             "\",\"vocab_digest\":\"%016" PRIx64 "\"%s",
             c->vocab, c->hidden, c->layers, c->heads, c->ffn, c->max_len, c->classes,
             enc_pool_name(c->pool), meta->step, meta->seed, meta->vocab_digest, sched);
    out_file o = {t, m->n_tensors, body};
    enc_write_atomic(path, write_file, &o);
    free(t);
}

void enc_opt_save(const float *mom, const float *vel, size_t n, uint64_t step, uint64_t digest,
                  const char *path)
{
    out_tensor t[2] = {{"adam.m", n, 1, mom}, {"adam.v", n, 1, vel}};
    char body[256];
    snprintf(body, sizeof body,
             "\"format\":\"gdx-adam-1\",\"step\":\"%" PRIu64 "\",\"model_digest\":\"%016" PRIx64
             "\"",
             step, digest);
    out_file o = {t, 2, body};
    enc_write_atomic(path, write_file, &o);
}

/* ==== reading: a strict parser for the header's JSON subset =============== */

/* The header is an object of objects; values are strings, non-negative
 * integers, arrays of those, or objects.  Parsed into a flat list of
 * (key path, value) entries, which is all the reader needs. */
typedef struct jreader {
    char *s, *end;
    const char *path;
    int depth;
} jreader;

typedef struct tensor_entry {
    const char *name; /* into the header's text (NUL-terminated in place) */
    char dtype[8];
    uint64_t shape[4];
    int rank;
    uint64_t begin, end;
    int seen_dtype, seen_shape, seen_offsets, used;
} tensor_entry;

typedef struct header {
    char *text;         /* the header's text; names point into it */
    tensor_entry *t;    /* in file order */
    tensor_entry **by_name; /* sorted by name, for lookups in O(log n) */
    size_t n;
    char meta_key[32][32];
    char meta_val[32][64];
    size_t n_meta;
} header;

static void header_free(header *h)
{
    free(h->text);
    free(h->t);
    free(h->by_name);
    memset(h, 0, sizeof *h);
}

static void jfail(const jreader *r, const char *why)
{
    enc_die("%s: not a valid checkpoint header: %s", r->path, why);
}

static void jspace(jreader *r)
{
    while (r->s < r->end && (*r->s == ' ' || *r->s == '\n' || *r->s == '\t' || *r->s == '\r'))
        r->s++;
}

static void jexpect(jreader *r, char c)
{
    jspace(r);
    if (r->s >= r->end || *r->s != c) {
        char why[32];
        snprintf(why, sizeof why, "expected '%c'", c);
        jfail(r, why);
    }
    r->s++;
}

static int jpeek(jreader *r, char c)
{
    jspace(r);
    return r->s < r->end && *r->s == c;
}

/* A string without escapes (the names this trainer writes have none; a
 * backslash is refused rather than half-handled). */
static void jstring(jreader *r, char *out, size_t cap)
{
    jexpect(r, '"');
    size_t n = 0;
    while (r->s < r->end && *r->s != '"') {
        unsigned char c = (unsigned char)*r->s;
        if (c == '\\' || c < 0x20)
            jfail(r, "escapes and control characters are not supported in names");
        if (n + 1 >= cap)
            jfail(r, "string too long");
        out[n++] = (char)c;
        r->s++;
    }
    if (r->s >= r->end)
        jfail(r, "unterminated string");
    r->s++;
    out[n] = '\0';
}

/* A string as jstring, but left in place (its closing quote becomes the
 * NUL): names cost no copy, so the parse stays linear in the header. */
static const char *jstring_here(jreader *r)
{
    jexpect(r, '"');
    char *start = r->s;
    while (r->s < r->end && *r->s != '"') {
        unsigned char c = (unsigned char)*r->s;
        if (c == '\\' || c < 0x20)
            jfail(r, "escapes and control characters are not supported in names");
        r->s++;
    }
    if (r->s >= r->end)
        jfail(r, "unterminated string");
    if ((size_t)(r->s - start) >= 256)
        jfail(r, "name too long");
    *r->s++ = '\0';
    return start;
}

static uint64_t juint(jreader *r)
{
    jspace(r);
    uint64_t v = 0;
    const char *start = r->s;
    while (r->s < r->end && *r->s >= '0' && *r->s <= '9') {
        unsigned d = (unsigned)(*r->s - '0');
        if (v > (UINT64_MAX - d) / 10)
            jfail(r, "integer too large");
        v = v * 10 + d;
        r->s++;
    }
    if (r->s == start)
        jfail(r, "expected a non-negative integer");
    return v;
}

static int juint_array(jreader *r, uint64_t *out, int max)
{
    jexpect(r, '[');
    int n = 0;
    if (jpeek(r, ']')) {
        r->s++;
        return 0;
    }
    for (;;) {
        if (n == max)
            jfail(r, "array too long");
        out[n++] = juint(r);
        if (jpeek(r, ',')) {
            r->s++;
            continue;
        }
        jexpect(r, ']');
        return n;
    }
}

static void parse_tensor(jreader *r, tensor_entry *t)
{
    char key[32];
    jexpect(r, '{');
    for (int first = 1; !jpeek(r, '}'); first = 0) {
        if (!first)
            jexpect(r, ',');
        jstring(r, key, sizeof key);
        jexpect(r, ':');
        if (strcmp(key, "dtype") == 0 && !t->seen_dtype) {
            jstring(r, t->dtype, sizeof t->dtype);
            t->seen_dtype = 1;
        } else if (strcmp(key, "shape") == 0 && !t->seen_shape) {
            t->rank = juint_array(r, t->shape, 4);
            t->seen_shape = 1;
        } else if (strcmp(key, "data_offsets") == 0 && !t->seen_offsets) {
            uint64_t o[2];
            if (juint_array(r, o, 2) != 2)
                jfail(r, "data_offsets must have two entries");
            t->begin = o[0], t->end = o[1];
            t->seen_offsets = 1;
        } else {
            jfail(r, "unknown or repeated key in a tensor entry");
        }
    }
    r->s++;
    if (!t->seen_dtype || !t->seen_shape || !t->seen_offsets)
        enc_die("%s: tensor %s lacks dtype, shape or data_offsets", r->path, t->name);
}

static void parse_meta(jreader *r, header *h)
{
    jexpect(r, '{');
    for (int first = 1; !jpeek(r, '}'); first = 0) {
        if (!first)
            jexpect(r, ',');
        if (h->n_meta == 32)
            jfail(r, "too many metadata entries");
        jstring(r, h->meta_key[h->n_meta], sizeof h->meta_key[0]);
        jexpect(r, ':');
        jstring(r, h->meta_val[h->n_meta], sizeof h->meta_val[0]);
        h->n_meta++;
    }
    r->s++;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(tensor_entry *const *)a)->name, (*(tensor_entry *const *)b)->name);
}

/* Parses the header text (owned by h from here on). */
static void parse_header(header *h, char *text, size_t len, const char *path)
{
    memset(h, 0, sizeof *h);
    h->text = text;
    jreader r = {text, text + len, path, 0};
    size_t cap = 0;
    jexpect(&r, '{');
    for (int first = 1; !jpeek(&r, '}'); first = 0) {
        if (!first)
            jexpect(&r, ',');
        const char *name = jstring_here(&r);
        jexpect(&r, ':');
        if (strcmp(name, "__metadata__") == 0) {
            parse_meta(&r, h);
            continue;
        }
        if (h->n == cap) {
            cap = cap ? 2 * cap : 64;
            h->t = enc_realloc(h->t, cap, sizeof *h->t, "checkpoint header");
        }
        tensor_entry *t = &h->t[h->n++];
        memset(t, 0, sizeof *t);
        t->name = name;
        parse_tensor(&r, t);
    }
    r.s++;
    jspace(&r);
    if (r.s != r.end)
        jfail(&r, "text after the header object");
    /* Sorted once: duplicates are neighbours, lookups are binary searches. */
    h->by_name = enc_alloc(h->n, sizeof *h->by_name, "checkpoint header");
    for (size_t i = 0; i < h->n; i++)
        h->by_name[i] = &h->t[i];
    qsort(h->by_name, h->n, sizeof *h->by_name, by_name);
    for (size_t i = 1; i < h->n; i++)
        if (strcmp(h->by_name[i - 1]->name, h->by_name[i]->name) == 0)
            enc_die("%s: tensor %s appears twice", path, h->by_name[i]->name);
}

static tensor_entry *find_entry(const header *h, const char *name)
{
    tensor_entry key = {0}, *pk = &key;
    key.name = name;
    tensor_entry **e = h->n ? bsearch(&pk, h->by_name, h->n, sizeof *h->by_name, by_name) : NULL;
    return e ? *e : NULL;
}

static const char *meta_get(const header *h, const char *key)
{
    for (size_t i = 0; i < h->n_meta; i++)
        if (strcmp(h->meta_key[i], key) == 0)
            return h->meta_val[i];
    return NULL;
}

static uint64_t meta_uint(const header *h, const char *key, const char *path)
{
    const char *v = meta_get(h, key);
    if (v == NULL || v[0] < '0' || v[0] > '9')
        enc_die("%s: metadata \"%s\" missing or not a number", path, key);
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (*end != '\0' || errno != 0)
        enc_die("%s: metadata \"%s\" is not a number", path, key);
    return x;
}

/* Opens path, reads and parses its header; *data_start is the byte offset of
 * the data section and *data_len its length (checked against the file). */
static FILE *open_checked(header *h, const char *path, const char *format, uint64_t *data_start,
                          uint64_t *data_len)
{
    /* Non-blocking open and fstat first: a FIFO or device named as a
     * checkpoint is refused instead of blocking the open. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        enc_die("%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        enc_die("%s: not a regular file", path);
    }
    FILE *f = fdopen(fd, "rb");
    if (f == NULL)
        enc_die("%s: %s", path, strerror(errno));
    if (st.st_size > LONG_MAX)
        enc_die("%s: too large", path);
    long size = (long)st.st_size;
    uint8_t n8[8];
    if (size < 8 || fread(n8, 1, 8, f) != 8)
        enc_die("%s: truncated (no header length)", path);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++)
        hl |= (uint64_t)n8[i] << (8 * i);
    if (hl == 0 || hl > (1u << 24) || hl > (uint64_t)size - 8)
        enc_die("%s: header length %" PRIu64 " does not fit the file (%ld bytes)", path, hl,
                size);
    char *text = enc_alloc(hl + 1, 1, "checkpoint header");
    if (fread(text, 1, hl, f) != hl)
        enc_die("%s: truncated header", path);
    parse_header(h, text, hl, path);
    const char *fmt = meta_get(h, "format");
    if (fmt == NULL || strcmp(fmt, format) != 0)
        enc_die("%s: not a %s file (metadata \"format\" is %s)", path, format,
                fmt ? fmt : "missing");
    *data_start = 8 + hl;
    *data_len = (uint64_t)size - 8 - hl;
    /* Offsets must tile the data section exactly. */
    uint64_t expect = 0;
    for (size_t i = 0; i < h->n; i++) {
        const tensor_entry *t = &h->t[i];
        uint64_t numel = 1;
        for (int k = 0; k < t->rank; k++) {
            if (t->shape[k] != 0 && numel > UINT64_MAX / t->shape[k])
                enc_die("%s: tensor %s: shape overflows", path, t->name);
            numel *= t->shape[k];
        }
        if (strcmp(t->dtype, "F32") != 0)
            enc_die("%s: tensor %s has dtype %s; only F32 is supported", path, t->name, t->dtype);
        if (t->begin != expect || t->end < t->begin || t->end - t->begin != numel * 4)
            enc_die("%s: tensor %s: data_offsets [%" PRIu64 ", %" PRIu64
                    "] do not match its shape and place",
                    path, t->name, t->begin, t->end);
        expect = t->end;
    }
    if (expect != *data_len)
        enc_die("%s: the data section has %" PRIu64 " bytes, the tensors need %" PRIu64
                " (truncated or padded file)",
                path, *data_len, expect);
    return f;
}

/* A finite decimal metadata value (a float's "%.9g" text, read back to
 * the same float by the caller). */
static double meta_double(const header *h, const char *key, const char *path)
{
    const char *v = meta_get(h, key);
    double x;
    if (v == NULL || enc_parse_decimal(v, &x) != 0)
        enc_die("%s: metadata \"%s\" missing or not a number", path, key);
    return x;
}

/* A metadata value of 16 hex digits. */
static uint64_t meta_hex(const char *v, const char *key, const char *path)
{
    uint64_t x = 0;
    size_t n = strlen(v);
    if (n != 16)
        enc_die("%s: metadata \"%s\" is not 16 hex digits", path, key);
    for (size_t i = 0; i < n; i++) {
        const char c = v[i];
        const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            enc_die("%s: metadata \"%s\" is not 16 hex digits", path, key);
        x = x << 4 | (uint64_t)d;
    }
    return x;
}

void enc_ckpt_check_vocab(const enc_ckpt_meta *meta, const enc_vocab *v, const char *ckpt_path,
                          const char *vocab_path)
{
    if (v->n != meta->cfg.vocab)
        enc_die("%s has %zu entries, the vocabulary of %s %zu", vocab_path, v->n, ckpt_path,
                meta->cfg.vocab);
    if (!meta->has_vocab_digest) {
        fprintf(stderr,
                "encoder: note: %s stores no vocabulary digest (an older checkpoint): %s is "
                "checked by its size only\n",
                ckpt_path, vocab_path);
        return;
    }
    const uint64_t d = enc_vocab_digest(v);
    if (d != meta->vocab_digest)
        enc_die("%s is not the vocabulary %s was trained with (digest %016" PRIx64
                ", the checkpoint's %016" PRIx64 "): same size, different tokens or order",
                vocab_path, ckpt_path, d, meta->vocab_digest);
}

/* The folder part of path joined with name. */
static void sibling(char *out, size_t cap, const char *path, const char *name)
{
    const char *slash = strrchr(path, '/');
    const int dir = slash ? (int)(slash - path) + 1 : 0;
    if ((size_t)snprintf(out, cap, "%.*s%s", dir, path, name) >= cap)
        enc_die("path too long: %s", path);
}

void enc_ckpt_meta_read(enc_ckpt_meta *meta, const char *path)
{
    header h;
    uint64_t start, len;
    FILE *f = open_checked(&h, path, "gdx-encoder-1", &start, &len);
    fclose(f);
    memset(meta, 0, sizeof *meta);
    enc_config *c = &meta->cfg;
    c->vocab = meta_uint(&h, "vocab", path);
    c->hidden = meta_uint(&h, "hidden", path);
    c->layers = meta_uint(&h, "layers", path);
    c->heads = meta_uint(&h, "heads", path);
    c->ffn = meta_uint(&h, "ffn", path);
    c->max_len = meta_uint(&h, "max_len", path);
    c->classes = meta_uint(&h, "classes", path);
    meta->step = meta_uint(&h, "step", path);
    meta->seed = meta_uint(&h, "seed", path);
    const char *pool = meta_get(&h, "pool");
    c->pool = pool ? enc_pool_parse(pool) : ENC_POOL_CLS;
    if (c->pool < 0)
        enc_die("%s: unknown pooling \"%s\" in the metadata (cls, mean, pair)", path, pool);
    meta->has_classifier = c->classes > 0;
    const char *digest = meta_get(&h, "vocab_digest");
    if (digest != NULL) {
        meta->has_vocab_digest = 1;
        meta->vocab_digest = meta_hex(digest, "vocab_digest", path);
    }
    if (meta_get(&h, "steps") != NULL) {
        enc_schedule *k = &meta->sched;
        meta->has_schedule = 1;
        k->steps = meta_uint(&h, "steps", path);
        k->warmup = meta_uint(&h, "warmup", path);
        k->batch = meta_uint(&h, "batch", path);
        k->lr = meta_double(&h, "lr", path);
        k->weight_decay = meta_double(&h, "weight_decay", path);
        k->p = meta_double(&h, "p", path);
    }
    char err[128];
    if (enc_config_check(c, err, sizeof err) != 0)
        enc_die("%s: bad model sizes in the metadata: %s", path, err);
    header_free(&h);
    if (meta->has_vocab_digest) {
        /* The folder's vocabulary must be the one the weights were trained
         * with, whoever reads the checkpoint next. */
        char vpath[4096];
        sibling(vpath, sizeof vpath, path, "vocab.txt");
        enc_vocab v;
        enc_vocab_load(&v, vpath);
        enc_ckpt_check_vocab(meta, &v, path, vpath);
        enc_vocab_free(&v);
    }
}

static void read_floats(FILE *f, const char *path, uint64_t at, float *dst, size_t n,
                        const char *name)
{
    if (at > LONG_MAX || fseek(f, (long)at, SEEK_SET) != 0 || fread(dst, sizeof(float), n, f) != n)
        enc_die("%s: cannot read tensor %s (truncated?)", path, name);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(dst[i]))
            enc_die("%s: tensor %s holds a non-finite value", path, name);
}

void enc_ckpt_load(enc_model *m, const char *path, int allow_new_head)
{
    header h;
    uint64_t start, len;
    FILE *f = open_checked(&h, path, "gdx-encoder-1", &start, &len);
    for (size_t i = 0; i < m->n_tensors; i++) {
        const enc_tensor *t = &m->tensor[i];
        tensor_entry *e = find_entry(&h, t->name);
        if (e == NULL) {
            if (allow_new_head && strncmp(t->name, "classifier.", 11) == 0)
                continue;
            enc_die("%s: tensor %s is missing", path, t->name);
        }
        e->used = 1;
        uint64_t want[2] = {t->rows, t->cols};
        int rank = t->cols == 1 ? 1 : 2;
        if (e->rank != rank || e->shape[0] != want[0] || (rank == 2 && e->shape[1] != want[1]))
            enc_die("%s: tensor %s has the wrong shape for this model (model flags differ from "
                    "the checkpoint's?)",
                    path, t->name);
    }
    for (size_t i = 0; i < h.n; i++)
        if (!h.t[i].used)
            enc_die("%s: tensor %s is not part of this model (does the model need --classes?)",
                    path, h.t[i].name);
    for (size_t i = 0; i < m->n_tensors; i++) {
        const enc_tensor *t = &m->tensor[i];
        const tensor_entry *e = find_entry(&h, t->name);
        if (e != NULL)
            read_floats(f, path, start + e->begin, m->param + t->offset, t->rows * t->cols,
                        t->name);
    }
    fclose(f);
    header_free(&h);
}

void enc_opt_load(float *mom, float *vel, size_t n, uint64_t *step, uint64_t *digest,
                  const char *path)
{
    header h;
    uint64_t start, len;
    FILE *f = open_checked(&h, path, "gdx-adam-1", &start, &len);
    if (h.n != 2 || strcmp(h.t[0].name, "adam.m") != 0 || strcmp(h.t[1].name, "adam.v") != 0 ||
        h.t[0].rank != 1 || h.t[0].shape[0] != n || h.t[1].rank != 1 || h.t[1].shape[0] != n)
        enc_die("%s: optimizer state does not match the model (%zu parameters)", path, n);
    read_floats(f, path, start + h.t[0].begin, mom, n, "adam.m");
    read_floats(f, path, start + h.t[1].begin, vel, n, "adam.v");
    /* A second moment is a running mean of squares: a negative one would
     * make sqrt(v) NaN and the next update poison every weight. */
    for (size_t i = 0; i < n; i++)
        if (vel[i] < 0.0f)
            enc_die("%s: adam.v[%zu] is %g: a second moment cannot be negative", path, i,
                    (double)vel[i]);
    *step = meta_uint(&h, "step", path);
    const char *d = meta_get(&h, "model_digest");
    *digest = d ? meta_hex(d, "model_digest", path) : 0;
    fclose(f);
    header_free(&h);
}

/* Word-level tokenizer and vocabulary (see tokenizer.h). */
#define _POSIX_C_SOURCE 200809L
#include "tokenizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "util.h"

static const char *const specials[ENC_N_SPECIAL] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

static int is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c >= 0x80;
}

static int is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

void enc_tokenize(const char *text, void (*fn)(const char *, size_t, void *), void *user)
{
    char buf[256];
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        if (is_blank(*p)) {
            p++;
            continue;
        }
        size_t len = 0;
        if (is_word_byte(*p)) {
            while (is_word_byte(*p)) {
                if (len < sizeof buf - 1)
                    buf[len++] = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
                p++;
            }
        } else {
            buf[len++] = (char)*p++;
        }
        buf[len] = '\0';
        fn(buf, len, user);
    }
}

/* FNV-1a: a fine spread for short words. */
static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

/* ---- a counting table used while building ------------------------------ */

typedef struct count_entry {
    char *tok;
    size_t count;
} count_entry;

typedef struct counter {
    count_entry *e;
    size_t n, cap; /* cap a power of two */
} counter;

static void counter_grow(counter *c)
{
    size_t cap = c->cap ? 2 * c->cap : 1u << 16;
    count_entry *e = enc_alloc(cap, sizeof *e, "token counts");
    for (size_t i = 0; i < c->cap; i++) {
        if (c->e[i].tok == NULL)
            continue;
        size_t j = hash_bytes(c->e[i].tok, strlen(c->e[i].tok)) & (cap - 1);
        while (e[j].tok != NULL)
            j = (j + 1) & (cap - 1);
        e[j] = c->e[i];
    }
    free(c->e);
    c->e = e;
    c->cap = cap;
}

static void count_token(const char *tok, size_t len, void *user)
{
    counter *c = user;
    if (2 * (c->n + 1) > c->cap)
        counter_grow(c);
    size_t j = hash_bytes(tok, len) & (c->cap - 1);
    while (c->e[j].tok != NULL) {
        if (strcmp(c->e[j].tok, tok) == 0) {
            c->e[j].count++;
            return;
        }
        j = (j + 1) & (c->cap - 1);
    }
    c->e[j].tok = strdup(tok);
    if (c->e[j].tok == NULL)
        enc_die("out of memory for the vocabulary");
    c->e[j].count = 1;
    c->n++;
}

static int by_count(const void *a, const void *b)
{
    const count_entry *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->tok, y->tok);
}

/* ---- the vocabulary ---------------------------------------------------- */

static void vocab_index(enc_vocab *v)
{
    v->n_slot = 1;
    while (v->n_slot < 2 * v->n)
        v->n_slot *= 2;
    v->slot = enc_alloc(v->n_slot, sizeof *v->slot, "vocabulary index");
    for (size_t id = 0; id < v->n; id++) {
        size_t j = hash_bytes(v->tok[id], strlen(v->tok[id])) & (v->n_slot - 1);
        while (v->slot[j] != 0)
            j = (j + 1) & (v->n_slot - 1);
        v->slot[j] = (uint32_t)id + 1;
    }
}

static char *dup_or_die(const char *s)
{
    char *d = strdup(s);
    if (d == NULL)
        enc_die("out of memory for the vocabulary");
    return d;
}

void enc_vocab_build(enc_vocab *v, const char *const *texts, size_t n, size_t size)
{
    if (size <= ENC_N_SPECIAL || size > UINT32_MAX / 2)
        enc_die("vocabulary size %zu: must be more than %d", size, ENC_N_SPECIAL);
    counter c = {0};
    counter_grow(&c);
    for (size_t i = 0; i < n; i++)
        enc_tokenize(texts[i], count_token, &c);
    size_t m = 0;
    for (size_t i = 0; i < c.cap; i++)
        if (c.e[i].tok != NULL)
            c.e[m++] = c.e[i];
    qsort(c.e, m, sizeof *c.e, by_count);
    memset(v, 0, sizeof *v);
    size_t words = m < size - ENC_N_SPECIAL ? m : size - ENC_N_SPECIAL;
    v->n = ENC_N_SPECIAL + words;
    v->tok = enc_alloc(v->n, sizeof *v->tok, "vocabulary");
    for (size_t i = 0; i < ENC_N_SPECIAL; i++)
        v->tok[i] = dup_or_die(specials[i]);
    for (size_t i = 0; i < words; i++)
        v->tok[ENC_N_SPECIAL + i] = c.e[i].tok;
    for (size_t i = words; i < m; i++)
        free(c.e[i].tok);
    free(c.e);
    vocab_index(v);
}

uint32_t enc_vocab_id(const enc_vocab *v, const char *tok, size_t len)
{
    size_t j = hash_bytes(tok, len) & (v->n_slot - 1);
    while (v->slot[j] != 0) {
        const char *t = v->tok[v->slot[j] - 1];
        if (strncmp(t, tok, len) == 0 && t[len] == '\0')
            return v->slot[j] - 1;
        j = (j + 1) & (v->n_slot - 1);
    }
    return ENC_UNK;
}

typedef struct encode_ctx {
    const enc_vocab *v;
    uint32_t *ids;
    size_t max, n;
} encode_ctx;

static void encode_token(const char *tok, size_t len, void *user)
{
    encode_ctx *c = user;
    if (c->n < c->max)
        c->ids[c->n] = enc_vocab_id(c->v, tok, len);
    c->n++;
}

size_t enc_encode(const enc_vocab *v, const char *text, uint32_t *ids, size_t max)
{
    encode_ctx c = {v, ids, max, 0};
    enc_tokenize(text, encode_token, &c);
    return c.n;
}

static void write_vocab(FILE *f, void *user)
{
    const enc_vocab *v = user;
    for (size_t i = 0; i < v->n; i++)
        fprintf(f, "%s\n", v->tok[i]);
}

void enc_vocab_save(const enc_vocab *v, const char *path)
{
    enc_write_atomic(path, write_vocab, (void *)v);
}

void enc_vocab_load(enc_vocab *v, const char *path)
{
    enum { MAX_TOKEN = 255 };
    enc_lines r;
    enc_lines_open(&r, path, MAX_TOKEN);
    memset(v, 0, sizeof *v);
    size_t cap = 0;
    while (enc_lines_next(&r)) {
        const char *line = r.buf;
        if (r.len == 0)
            enc_die("%s:%zu: a vocabulary line must hold one token of 1 to %d bytes", path,
                    r.lineno, MAX_TOKEN);
        for (size_t i = 0; i < r.len; i++)
            if (is_blank((unsigned char)line[i]))
                enc_die("%s:%zu: blank inside a token", path, r.lineno);
        if (v->n < ENC_N_SPECIAL && strcmp(line, specials[v->n]) != 0)
            enc_die("%s:%zu: expected %s (the first five lines are the special tokens)", path,
                    r.lineno, specials[v->n]);
        if (v->n == UINT32_MAX / 2)
            enc_die("%s: too many tokens", path);
        if (v->n == cap) {
            cap = cap ? 2 * cap : 1024;
            v->tok = enc_realloc(v->tok, cap, sizeof *v->tok, "vocabulary");
        }
        v->tok[v->n++] = dup_or_die(line);
    }
    enc_lines_close(&r);
    if (v->n <= ENC_N_SPECIAL)
        enc_die("%s: no tokens besides the specials", path);
    vocab_index(v);
    for (size_t id = 0; id < v->n; id++)
        if (enc_vocab_id(v, v->tok[id], strlen(v->tok[id])) != id)
            enc_die("%s:%zu: duplicate token \"%s\"", path, id + 1, v->tok[id]);
}

uint64_t enc_vocab_digest(const enc_vocab *v)
{
    /* Each token with its NUL: the id order and the token bytes both count. */
    uint64_t h = ENC_DIGEST_INIT;
    for (size_t i = 0; i < v->n; i++)
        h = enc_digest(h, v->tok[i], strlen(v->tok[i]) + 1);
    return h;
}

void enc_vocab_free(enc_vocab *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->tok[i]);
    free(v->tok);
    free(v->slot);
    memset(v, 0, sizeof *v);
}

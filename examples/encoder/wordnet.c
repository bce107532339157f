/* Reading WordNet 3.0 data files (see wordnet.h). */
#define _POSIX_C_SOURCE 200809L
#include "wordnet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static const struct {
    const char *name;
    char pos;
} wn_files[] = {{"data.noun", 'n'}, {"data.verb", 'v'}, {"data.adj", 'a'}, {"data.adv", 'r'}};

typedef struct line_ctx {
    const char *path;
    size_t lineno;
} line_ctx;

static void bad_line(const line_ctx *c, const char *why)
{
    enc_die("%s:%zu: malformed WordNet line: %s", c->path, c->lineno, why);
}

/* Next space-separated field of *p (advanced past it); NULL at the end. */
static char *next_field(char **p)
{
    char *s = *p;
    while (*s == ' ')
        s++;
    if (*s == '\0')
        return NULL;
    char *e = s;
    while (*e != ' ' && *e != '\0')
        e++;
    if (*e == ' ')
        *e++ = '\0';
    *p = e;
    return s;
}

static unsigned long parse_num(const line_ctx *c, const char *f, int base, unsigned long max,
                               const char *what)
{
    if (f == NULL)
        bad_line(c, what);
    char *end;
    errno = 0;
    unsigned long v = strtoul(f, &end, base);
    if (errno != 0 || end == f || *end != '\0' || v > max || f[0] == '-' || f[0] == '+')
        bad_line(c, what);
    return v;
}

typedef struct builder {
    enc_wordnet *wn;
    size_t cap_syn, cap_hyper, cap_text, n_text;
} builder;

static void push_hyper(builder *b, uint32_t off)
{
    enc_wordnet *wn = b->wn;
    if (wn->n_hyper == b->cap_hyper) {
        b->cap_hyper = b->cap_hyper ? 2 * b->cap_hyper : 4096;
        wn->hyper = enc_realloc(wn->hyper, b->cap_hyper, sizeof *wn->hyper, "hypernyms");
    }
    wn->hyper[wn->n_hyper++] = off;
}

/* Copies the gloss (trailing blanks removed); returns its offset in text. */
static size_t push_text(builder *b, const char *s)
{
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\r'))
        len--;
    if (b->n_text + len + 1 > b->cap_text) {
        while (b->n_text + len + 1 > b->cap_text)
            b->cap_text = b->cap_text ? 2 * b->cap_text : (1u << 20);
        b->wn->text = enc_realloc(b->wn->text, b->cap_text, 1, "glosses");
    }
    size_t at = b->n_text;
    memcpy(b->wn->text + at, s, len);
    b->wn->text[at + len] = '\0';
    b->n_text += len + 1;
    return at;
}

/* Parses one synset line in place; stores the gloss offset in s->gloss as an
 * integer until the text buffer stops moving. */
static void parse_line(builder *b, char *line, const line_ctx *c, char file_pos)
{
    char *bar = strstr(line, " | ");
    if (bar == NULL)
        bad_line(c, "no \" | \" before the gloss");
    *bar = '\0';
    char *p = line;
    enc_synset s = {0};
    s.offset = (uint32_t)parse_num(c, next_field(&p), 10, UINT32_MAX, "bad synset offset");
    s.lexfile = (uint8_t)parse_num(c, next_field(&p), 10, 44, "bad lexicographer file number");
    char *type = next_field(&p);
    if (type == NULL || strlen(type) != 1 || strchr("nvasr", type[0]) == NULL)
        bad_line(c, "bad synset type");
    s.pos = type[0];
    int type_ok = file_pos == 'a' ? (s.pos == 'a' || s.pos == 's') : s.pos == file_pos;
    if (!type_ok)
        bad_line(c, "synset type does not match the file");
    unsigned long w_cnt = parse_num(c, next_field(&p), 16, 255, "bad word count");
    if (w_cnt == 0)
        bad_line(c, "word count 0");
    for (unsigned long i = 0; i < w_cnt; i++) {
        if (next_field(&p) == NULL)
            bad_line(c, "fewer words than the word count");
        parse_num(c, next_field(&p), 16, 15, "bad lex_id");
    }
    unsigned long p_cnt = parse_num(c, next_field(&p), 10, 999, "bad pointer count");
    s.hyper = b->wn->n_hyper;
    for (unsigned long i = 0; i < p_cnt; i++) {
        char *sym = next_field(&p);
        unsigned long off = parse_num(c, next_field(&p), 10, UINT32_MAX, "bad pointer offset");
        char *pos = next_field(&p);
        char *st = next_field(&p);
        if (sym == NULL || pos == NULL || st == NULL || strlen(st) != 4)
            bad_line(c, "fewer pointers than the pointer count");
        if (s.pos == 'n' && pos[0] == 'n' && (strcmp(sym, "@") == 0 || strcmp(sym, "@i") == 0)) {
            push_hyper(b, (uint32_t)off);
            s.n_hyper++;
        }
    }
    const char *gloss = bar + 3;
    while (*gloss == ' ')
        gloss++;
    if (*gloss == '\0' || *gloss == '\n' || *gloss == '\r')
        bad_line(c, "empty gloss");
    s.gloss = (const char *)(uintptr_t)push_text(b, gloss);
    enc_wordnet *wn = b->wn;
    if (wn->n == b->cap_syn) {
        b->cap_syn = b->cap_syn ? 2 * b->cap_syn : 65536;
        wn->syn = enc_realloc(wn->syn, b->cap_syn, sizeof *wn->syn, "synsets");
    }
    wn->syn[wn->n++] = s;
}

static void read_file(builder *b, const char *dir, const char *name, char file_pos)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        enc_die("WordNet folder name too long: %s", dir);
    if (access(path, F_OK) != 0)
        enc_die("%s: %s (install Debian's wordnet-base package: apt-get install wordnet-base, "
                "or pass --wordnet DIR)",
                path, strerror(errno));
    /* The longest line of WordNet 3.0's data files is under 16 KiB. */
    enc_lines r;
    enc_lines_open(&r, path, 1u << 16);
    line_ctx c = {path, 0};
    size_t before = b->wn->n;
    while (enc_lines_next(&r)) {
        c.lineno = r.lineno;
        if (r.len == 0 || r.buf[0] == ' ')
            continue; /* the license header lines start with two spaces */
        parse_line(b, r.buf, &c, file_pos);
    }
    enc_lines_close(&r);
    if (b->wn->n == before)
        enc_die("%s: no synsets (is this a WordNet data file?)", path);
}

void enc_wordnet_read(enc_wordnet *wn, const char *dir)
{
    memset(wn, 0, sizeof *wn);
    builder b = {wn, 0, 0, 0, 0};
    for (size_t i = 0; i < sizeof wn_files / sizeof *wn_files; i++) {
        read_file(&b, dir, wn_files[i].name, wn_files[i].pos);
        if (i == 0)
            wn->n_noun = wn->n;
    }
    for (size_t i = 0; i < wn->n; i++)
        wn->syn[i].gloss = wn->text + (uintptr_t)wn->syn[i].gloss;
    for (size_t i = 1; i < wn->n_noun; i++)
        if (wn->syn[i].offset <= wn->syn[i - 1].offset)
            enc_die("%s/data.noun: synsets not in offset order", dir);
}

void enc_wordnet_free(enc_wordnet *wn)
{
    free(wn->syn);
    free(wn->hyper);
    free(wn->text);
    memset(wn, 0, sizeof *wn);
}

size_t enc_wordnet_find_noun(const enc_wordnet *wn, uint32_t offset)
{
    size_t lo = 0, hi = wn->n_noun; /* data.noun is read first */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (wn->syn[mid].offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < wn->n_noun && wn->syn[lo].offset == offset)
        return lo;
    return SIZE_MAX;
}

int enc_wordnet_split(const enc_synset *s)
{
    if (s->pos != 'n')
        return ENC_SPLIT_TRAIN;
    double u = (double)(enc_mix64(s->offset) >> 11) * 0x1.0p-53;
    return u < 0.1 ? ENC_SPLIT_TEST : u < 0.2 ? ENC_SPLIT_VAL : ENC_SPLIT_TRAIN;
}

/* Corpus, masked-LM batches and labelled tasks (see data.h). */
#define _POSIX_C_SOURCE 200809L
#include "data.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "atomic.h"

/* ==== the pretraining corpus ============================================ */

void enc_corpus_from_wordnet(enc_corpus *c, const enc_wordnet *wn, const enc_vocab *v,
                             int split, size_t max_tokens)
{
    memset(c, 0, sizeof *c);
    size_t cap = 1u << 21;
    c->tok = enc_alloc(cap, sizeof *c->tok, "corpus");
    c->off = enc_alloc(wn->n + 1, sizeof *c->off, "corpus");
    uint32_t *buf = enc_alloc(max_tokens, sizeof *buf, "corpus");
    for (size_t i = 0; i < wn->n; i++) {
        if (enc_wordnet_split(&wn->syn[i]) != split)
            continue;
        size_t k = enc_encode(v, wn->syn[i].gloss, buf, max_tokens);
        k = k < max_tokens ? k : max_tokens;
        if (k == 0)
            continue;
        if (c->n_tok + k > cap) {
            cap *= 2;
            c->tok = enc_realloc(c->tok, cap, sizeof *c->tok, "corpus");
        }
        memcpy(c->tok + c->n_tok, buf, k * sizeof *buf);
        c->off[c->n] = c->n_tok;
        c->n_tok += k;
        c->n++;
    }
    c->off[c->n] = c->n_tok;
    free(buf);
}

void enc_corpus_free(enc_corpus *c)
{
    free(c->tok);
    free(c->off);
    memset(c, 0, sizeof *c);
}

double enc_corpus_unk_rate(const enc_corpus *c)
{
    size_t unk = 0;
    for (size_t i = 0; i < c->n_tok; i++)
        unk += c->tok[i] == ENC_UNK;
    return c->n_tok ? (double)unk / (double)c->n_tok : 0.0;
}

/* ==== batches ============================================================ */

void enc_batch_alloc(enc_batch *b, size_t B, size_t T)
{
    memset(b, 0, sizeof *b);
    size_t bt = enc_mul(B, T);
    b->ids = enc_alloc(bt, sizeof *b->ids, "batch");
    b->seg = enc_alloc(bt, sizeof *b->seg, "batch");
    b->len = enc_alloc(B, sizeof *b->len, "batch");
    b->mpos = enc_alloc(bt, sizeof *b->mpos, "batch");
    b->mlabel = enc_alloc(bt, sizeof *b->mlabel, "batch");
    b->label = enc_alloc(B, sizeof *b->label, "batch");
    b->target = enc_alloc(B, sizeof *b->target, "batch");
    b->B = B; /* capacity until a batch is built */
    b->T = T;
}

void enc_batch_free(enc_batch *b)
{
    free(b->ids);
    free(b->seg);
    free(b->len);
    free(b->mpos);
    free(b->mlabel);
    free(b->label);
    free(b->target);
    memset(b, 0, sizeof *b);
}

/* Makes b an empty batch of n sequences padded to T: all [PAD], segment 0. */
static void batch_reset(enc_batch *b, size_t n, size_t T)
{
    b->B = n;
    b->T = T;
    b->n_mask = 0;
    memset(b->ids, 0, n * T * sizeof *b->ids);
    memset(b->seg, 0, n * T * sizeof *b->seg);
}

static void mask_sequence(enc_batch *b, size_t s, size_t vocab, enc_rng *r, size_t *cand)
{
    const size_t T = b->T, n = b->len[s];
    size_t nc = 0;
    for (size_t t = 1; t + 1 < n; t++) /* never [CLS] or [SEP] */
        if (b->ids[s * T + t] != ENC_UNK)
            cand[nc++] = t;
    if (nc == 0)
        return;
    size_t k = (size_t)floor(0.15 * (double)nc + 0.5);
    k = k ? k : 1;
    for (size_t i = 0; i < k; i++) { /* partial Fisher-Yates: k distinct positions */
        size_t j = i + enc_rng_below(r, nc - i);
        size_t t = cand[j];
        cand[j] = cand[i];
        cand[i] = t;
        uint32_t *id = &b->ids[s * T + t];
        b->mpos[b->n_mask] = s * T + t;
        b->mlabel[b->n_mask] = *id;
        b->n_mask++;
        double u = enc_rng_unit(r);
        if (u < 0.8)
            *id = ENC_MASK;
        else if (u < 0.9)
            *id = (uint32_t)(ENC_N_SPECIAL + enc_rng_below(r, vocab - ENC_N_SPECIAL));
    }
}

void enc_batch_mlm(enc_batch *b, const enc_corpus *c, const size_t *idx, size_t n, size_t vocab,
                   enc_rng *r)
{
    size_t T = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = c->off[idx[i] + 1] - c->off[idx[i]] + 2;
        T = len > T ? len : T;
    }
    batch_reset(b, n, T);
    size_t *cand = enc_alloc(T, sizeof *cand, "masking");
    for (size_t s = 0; s < n; s++) {
        const uint32_t *tok = c->tok + c->off[idx[s]];
        size_t len = c->off[idx[s] + 1] - c->off[idx[s]];
        uint32_t *row = b->ids + s * T;
        row[0] = ENC_CLS;
        memcpy(row + 1, tok, len * sizeof *tok);
        row[len + 1] = ENC_SEP;
        b->len[s] = len + 2;
        mask_sequence(b, s, vocab, r, cand);
    }
    free(cand);
}

typedef struct len_key {
    size_t len, id;
} len_key;

static int by_len(const void *x, const void *y)
{
    const len_key *a = x, *b = y;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

size_t enc_epoch_order(size_t *order, const enc_corpus *c, size_t batch, uint64_t seed,
                       uint64_t epoch)
{
    enc_rng r = enc_rng_make(seed, 0x6f72646572ull + epoch);
    for (size_t i = 0; i < c->n; i++)
        order[i] = i;
    enc_shuffle(order, c->n, &r);
    const size_t chunk = enc_mul(batch, 64);
    len_key *k = enc_alloc(chunk, sizeof *k, "epoch order");
    for (size_t at = 0; at < c->n; at += chunk) {
        size_t m = c->n - at < chunk ? c->n - at : chunk;
        for (size_t i = 0; i < m; i++)
            k[i] = (len_key){c->off[order[at + i] + 1] - c->off[order[at + i]], order[at + i]};
        qsort(k, m, sizeof *k, by_len);
        for (size_t i = 0; i < m; i++)
            order[at + i] = k[i].id;
    }
    free(k);
    /* Shuffle whole batches (the short last one stays last). */
    size_t full = c->n / batch, n_batches = (c->n + batch - 1) / batch;
    size_t *perm = enc_alloc(full ? full : 1, sizeof *perm, "epoch order");
    size_t *tmp = enc_alloc(full * batch + 1, sizeof *tmp, "epoch order");
    for (size_t i = 0; i < full; i++)
        perm[i] = i;
    enc_shuffle(perm, full, &r);
    for (size_t i = 0; i < full; i++)
        memcpy(tmp + i * batch, order + perm[i] * batch, batch * sizeof *tmp);
    memcpy(order, tmp, full * batch * sizeof *tmp);
    free(tmp);
    free(perm);
    return n_batches;
}

/* ==== labelled datasets ================================================== */

static size_t push_tokens(enc_dataset *d, const uint32_t *tok, size_t n)
{
    if (d->n_pool + n > d->cap_pool) {
        while (d->n_pool + n > d->cap_pool)
            d->cap_pool = d->cap_pool ? 2 * d->cap_pool : 65536;
        d->pool = enc_realloc(d->pool, d->cap_pool, sizeof *d->pool, "dataset");
    }
    memcpy(d->pool + d->n_pool, tok, n * sizeof *tok);
    d->n_pool += n;
    return d->n_pool - n;
}

static size_t push_text(enc_dataset *d, const char *s)
{
    size_t len = strlen(s) + 1;
    if (d->n_text + len > d->cap_text) {
        while (d->n_text + len > d->cap_text)
            d->cap_text = d->cap_text ? 2 * d->cap_text : 65536;
        d->text = enc_realloc(d->text, d->cap_text, 1, "dataset");
    }
    memcpy(d->text + d->n_text, s, len);
    d->n_text += len;
    return d->n_text - len;
}

/* Appends an example of text a (and b when not NULL), max_tokens each. */
static void push_example(enc_dataset *d, size_t *cap, const enc_vocab *v, const char *a,
                         const char *b, int label, float target)
{
    enum { MAX_TOKENS = 256 };
    uint32_t buf[MAX_TOKENS];
    if (d->n == *cap) {
        *cap = *cap ? 2 * *cap : 1024;
        d->ex = enc_realloc(d->ex, *cap, sizeof *d->ex, "dataset");
    }
    enc_example *e = &d->ex[d->n++];
    memset(e, 0, sizeof *e);
    size_t k = enc_encode(v, a, buf, MAX_TOKENS);
    e->na = k < MAX_TOKENS ? k : MAX_TOKENS;
    e->a = push_tokens(d, buf, e->na);
    e->text_a = push_text(d, a);
    if (b != NULL) {
        e->text_b = push_text(d, b);
        k = enc_encode(v, b, buf, MAX_TOKENS);
        e->nb = k < MAX_TOKENS ? k : MAX_TOKENS;
        e->b = push_tokens(d, buf, e->nb);
    }
    e->label = label;
    e->target = target;
}

static void dataset_free(enc_dataset *d)
{
    free(d->ex);
    free(d->pool);
    free(d->text);
    memset(d, 0, sizeof *d);
}

void enc_task_free(enc_task *t)
{
    for (size_t i = 0; t->class_name && i < t->n_classes; i++)
        free(t->class_name[i]);
    free(t->class_name);
    dataset_free(&t->train);
    dataset_free(&t->val);
    dataset_free(&t->test);
    memset(t, 0, sizeof *t);
}

static char *dup_str(const char *s)
{
    char *d = strdup(s);
    if (d == NULL)
        enc_die("out of memory");
    return d;
}

/* The eight noun lexicographer files of the supersense task, in class order. */
static const struct {
    int lexfile;
    const char *name;
} super_class[] = {{5, "animal"}, {6, "artifact"}, {8, "body"},   {13, "food"},
                   {15, "location"}, {18, "person"}, {20, "plant"}, {27, "substance"}};
enum { N_SUPER = sizeof super_class / sizeof super_class[0] };

static int super_index(int lexfile)
{
    for (int i = 0; i < N_SUPER; i++)
        if (super_class[i].lexfile == lexfile)
            return i;
    return -1;
}

/* Noun synsets of class c in split s, in a fixed shuffled order. */
static size_t class_members(size_t *out, const enc_wordnet *wn, int c, int split)
{
    size_t n = 0;
    for (size_t i = 0; i < wn->n_noun; i++)
        if (wn->syn[i].lexfile == super_class[c].lexfile && enc_wordnet_split(&wn->syn[i]) == split)
            out[n++] = i;
    enc_rng r = enc_rng_make(1, 0x7375706572ull * 16 + (uint64_t)(c * 3 + split));
    enc_shuffle(out, n, &r);
    return n;
}

void enc_task_supersense(enc_task *t, const enc_wordnet *wn, const enc_vocab *v,
                         size_t per_class)
{
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "supersense");
    t->n_classes = N_SUPER;
    t->class_name = enc_alloc(N_SUPER, sizeof *t->class_name, "class names");
    size_t *mem = enc_alloc(wn->n_noun, sizeof *mem, "supersense");
    size_t cap[3] = {0, 0, 0};
    enc_dataset *sets[3] = {&t->train, &t->val, &t->test};
    const size_t want[3] = {per_class, 150, 150};
    for (int c = 0; c < N_SUPER; c++) {
        t->class_name[c] = dup_str(super_class[c].name);
        for (int s = 0; s < 3; s++) {
            size_t n = class_members(mem, wn, c, s);
            if (n < want[s])
                enc_die("supersense: class %s has %zu synsets in split %d, %zu wanted",
                        super_class[c].name, n, s, want[s]);
            for (size_t i = 0; i < want[s]; i++)
                push_example(sets[s], &cap[s], v, wn->syn[mem[i]].gloss, NULL, c, 0.0f);
        }
    }
    free(mem);
    /* Interleave the classes so any prefix is roughly balanced. */
    for (int s = 0; s < 3; s++) {
        enc_rng r = enc_rng_make(2, (uint64_t)s);
        size_t *perm = enc_alloc(sets[s]->n, sizeof *perm, "supersense");
        for (size_t i = 0; i < sets[s]->n; i++)
            perm[i] = i;
        enc_shuffle(perm, sets[s]->n, &r);
        enc_example *ex = enc_alloc(sets[s]->n, sizeof *ex, "supersense");
        for (size_t i = 0; i < sets[s]->n; i++)
            ex[i] = sets[s]->ex[perm[i]];
        free(sets[s]->ex);
        sets[s]->ex = ex;
        free(perm);
    }
}

static int is_hypernym_of(const enc_wordnet *wn, const enc_synset *a, uint32_t off)
{
    for (uint32_t h = 0; h < a->n_hyper; h++)
        if (wn->hyper[a->hyper + h] == off)
            return 1;
    return 0;
}

static void hypernymy_split(enc_dataset *d, const enc_wordnet *wn, const enc_vocab *v, int split,
                            size_t want, size_t **by_file, const size_t *n_file)
{
    size_t *cand = enc_alloc(wn->n_noun, sizeof *cand, "hypernymy");
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < wn->n_noun; i++)
        if (super_index(wn->syn[i].lexfile) >= 0 && wn->syn[i].n_hyper > 0 &&
            enc_wordnet_split(&wn->syn[i]) == split)
            cand[n++] = i;
    enc_rng r = enc_rng_make(3, (uint64_t)split);
    enc_shuffle(cand, n, &r);
    for (size_t i = 0; i < n && d->n < want; i++) {
        const enc_synset *a = &wn->syn[cand[i]];
        size_t h = enc_wordnet_find_noun(wn, wn->hyper[a->hyper]);
        if (h == SIZE_MAX)
            enc_die("WordNet: hypernym %08u of noun %08u not found", wn->hyper[a->hyper],
                    a->offset);
        int positive = d->n % 2 == 0;
        size_t b = h;
        if (!positive) {
            int f = wn->syn[h].lexfile;
            for (int tries = 0; tries < 100; tries++) {
                size_t c = by_file[f][enc_rng_below(&r, n_file[f])];
                if (c != cand[i] && !is_hypernym_of(wn, a, wn->syn[c].offset)) {
                    b = c;
                    break;
                }
            }
            if (b == h)
                continue; /* no negative found: skip this A */
        }
        push_example(d, &cap, v, a->gloss, wn->syn[b].gloss, positive, 0.0f);
    }
    if (d->n < want)
        enc_die("hypernymy: only %zu pairs in split %d, %zu wanted", d->n, split, want);
    free(cand);
}

void enc_task_hypernymy(enc_task *t, const enc_wordnet *wn, const enc_vocab *v, size_t pool)
{
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "hypernymy");
    t->n_classes = 2;
    t->pair = 1;
    t->class_name = enc_alloc(2, sizeof *t->class_name, "class names");
    t->class_name[0] = dup_str("other");
    t->class_name[1] = dup_str("hypernym");
    /* Noun synsets by lexicographer file, for negatives. */
    enum { N_FILES = 45 };
    size_t *by_file[N_FILES], n_file[N_FILES] = {0};
    for (size_t i = 0; i < wn->n_noun; i++)
        n_file[wn->syn[i].lexfile]++;
    for (int f = 0; f < N_FILES; f++) {
        by_file[f] = enc_alloc(n_file[f], sizeof **by_file, "hypernymy");
        n_file[f] = 0;
    }
    for (size_t i = 0; i < wn->n_noun; i++)
        by_file[wn->syn[i].lexfile][n_file[wn->syn[i].lexfile]++] = i;
    hypernymy_split(&t->train, wn, v, ENC_SPLIT_TRAIN, pool, by_file, n_file);
    hypernymy_split(&t->val, wn, v, ENC_SPLIT_VAL, 1200, by_file, n_file);
    hypernymy_split(&t->test, wn, v, ENC_SPLIT_TEST, 1200, by_file, n_file);
    for (int f = 0; f < N_FILES; f++)
        free(by_file[f]);
}

/* ---- a user's TSV ------------------------------------------------------- */

static int class_of(enc_task *t, const char *label, int add)
{
    for (size_t i = 0; i < t->n_classes; i++)
        if (strcmp(t->class_name[i], label) == 0)
            return (int)i;
    if (!add)
        return -1;
    if (t->n_classes == 4096)
        return -2;
    t->class_name = enc_realloc(t->class_name, t->n_classes + 1, sizeof *t->class_name,
                                "class names");
    t->class_name[t->n_classes] = dup_str(label);
    return (int)t->n_classes++;
}

/* Column names a header line's first field is taken for (any case). */
static int is_column_name(const char *s)
{
    static const char *const names[] = {"label", "labels", "class", "category", "target",
                                        "gold", "score", "y", "tag"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcasecmp(s, names[i]) == 0)
            return 1;
    return 0;
}

/* Removes the spaces around a label in place: "animal " and "animal" are one
 * class, as a reader of the file would take them. */
static char *trim_spaces(char *s)
{
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
    return s;
}

/* Splits line at tabs into at most 4 fields; returns how many. */
static size_t split_fields(char *line, char **field)
{
    size_t nf = 0;
    for (char *p = line; nf < 4;) {
        field[nf++] = p;
        char *tab = strchr(p, '\t');
        if (tab == NULL)
            break;
        *tab = '\0';
        p = tab + 1;
    }
    return nf;
}

/* A regression label: a strict decimal (no hex, inf or nan) that stays
 * finite as a float. */
static float parse_target(const char *label, const char *path, size_t lineno)
{
    double x;
    if (enc_parse_decimal(label, &x) != 0)
        enc_die("%s:%zu: label \"%s\" is not a finite decimal number", path, lineno, label);
    if (fabs(x) > FLT_MAX)
        enc_die("%s:%zu: label %s is out of the range of a float (|x| <= %g)", path, lineno,
                label, (double)FLT_MAX);
    return (float)x;
}

/* Whether line 1 (its label field) is a header naming the columns: a column
 * name such as "label"; with regression also any word (a first letter, not
 * inf or nan, which stay errors: no label may be them). */
static int looks_like_header(const char *label, int regression)
{
    if (is_column_name(label))
        return 1;
    return regression && isalpha((unsigned char)label[0]) && strncasecmp(label, "inf", 3) != 0 &&
           strncasecmp(label, "nan", 3) != 0;
}

/* TSV lines are cut at 256 tokens a text anyway; 1 MiB bounds the memory a
 * line (or a file without newlines) can take. */
enum { TSV_MAX_LINE = 1u << 20 };

static void read_tsv(enc_task *t, enc_dataset *d, const enc_vocab *v, const char *path,
                     int regression, int is_train)
{
    enc_lines r;
    enc_lines_open(&r, path, TSV_MAX_LINE);
    size_t cap = 0;
    char header_label[64] = "";
    while (enc_lines_next(&r)) {
        const size_t lineno = r.lineno;
        if (r.len == 0)
            enc_die("%s:%zu: empty line", path, lineno);
        char *field[4];
        const size_t nf = split_fields(r.buf, field);
        if (nf < 2 || nf > 3)
            enc_die("%s:%zu: expected label<TAB>text or label<TAB>text_a<TAB>text_b, got %zu "
                    "fields",
                    path, lineno, nf);
        char *label = trim_spaces(field[0]);
        if (lineno == 1 && looks_like_header(label, regression)) {
            snprintf(header_label, sizeof header_label, "%s", label);
            fprintf(stderr, "encoder: note: %s: line 1 (first field \"%s\") is taken for a "
                            "header naming the columns and skipped\n",
                    path, header_label);
            continue;
        }
        if (header_label[0] != '\0' && strcmp(label, header_label) == 0)
            enc_die("%s:%zu: label \"%s\" is also line 1's, which was taken for a header; "
                    "rename the class or the header",
                    path, lineno, label);
        const int pair = nf == 3;
        if (d == &t->train && d->n == 0)
            t->pair = pair;
        else if (pair != t->pair)
            enc_die("%s:%zu: %s, but the training file's first line is %s", path, lineno,
                    pair ? "a text pair" : "a single text", t->pair ? "a pair" : "single");
        for (size_t i = 1; i < nf; i++)
            if (field[i][0] == '\0')
                enc_die("%s:%zu: empty text", path, lineno);
        int cls = 0;
        float target = 0.0f;
        if (regression) {
            target = parse_target(label, path, lineno);
        } else {
            if (label[0] == '\0')
                enc_die("%s:%zu: empty label", path, lineno);
            cls = class_of(t, label, is_train);
            if (cls == -1)
                enc_die("%s:%zu: label \"%s\" does not occur in the training file", path, lineno,
                        label);
            if (cls == -2)
                enc_die("%s:%zu: more than 4096 classes", path, lineno);
        }
        push_example(d, &cap, v, field[1], pair ? field[2] : NULL, cls, target);
    }
    enc_lines_close(&r);
    if (d->n == 0)
        enc_die("%s: no examples", path);
}

void enc_task_tsv(enc_task *t, const enc_vocab *v, const char *train, const char *val,
                  const char *test, int regression)
{
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "tsv");
    read_tsv(t, &t->train, v, train, regression, 1);
    if (regression)
        t->n_classes = 1;
    else if (t->n_classes < 2)
        enc_die("%s: a classification task needs at least two labels", train);
    read_tsv(t, &t->val, v, val, regression, 0);
    read_tsv(t, &t->test, v, test, regression, 0);
}

/* ---- classification batches -------------------------------------------- */

void enc_batch_task(enc_batch *b, const enc_dataset *d, const size_t *idx, size_t n,
                    size_t max_len)
{
    size_t T = 0;
    size_t *na = enc_alloc(n, sizeof *na, "batch"), *nb = enc_alloc(n, sizeof *nb, "batch");
    for (size_t s = 0; s < n; s++) {
        const enc_example *e = &d->ex[idx[s]];
        size_t specials = e->nb ? 3 : 2, a = e->na, bb = e->nb;
        while (a + bb + specials > max_len) { /* cut the longer text first */
            if (a >= bb)
                a--;
            else
                bb--;
        }
        na[s] = a, nb[s] = bb;
        size_t len = a + bb + specials;
        T = len > T ? len : T;
    }
    batch_reset(b, n, T);
    for (size_t s = 0; s < n; s++) {
        const enc_example *e = &d->ex[idx[s]];
        uint32_t *row = b->ids + s * T;
        size_t t = 0;
        row[t++] = ENC_CLS;
        memcpy(row + t, d->pool + e->a, na[s] * sizeof *row);
        t += na[s];
        row[t++] = ENC_SEP;
        if (e->nb) {
            memcpy(row + t, d->pool + e->b, nb[s] * sizeof *row);
            for (size_t j = t; j < t + nb[s] + 1; j++)
                b->seg[s * T + j] = 1;
            t += nb[s];
            row[t++] = ENC_SEP;
        }
        b->len[s] = t;
        b->label[s] = e->label;
        b->target[s] = e->target;
    }
    free(na);
    free(nb);
}

size_t enc_subset(size_t *idx, const enc_dataset *d, size_t n_classes, double frac,
                  uint64_t seed, uint64_t stream)
{
    size_t *perm = enc_alloc(d->n, sizeof *perm, "subset");
    for (size_t i = 0; i < d->n; i++)
        perm[i] = i;
    enc_rng r = enc_rng_make(seed, stream);
    enc_shuffle(perm, d->n, &r);
    size_t n = 0;
    if (n_classes <= 1) {
        size_t k = (size_t)floor(frac * (double)d->n + 0.5);
        k = k ? k : 1;
        memcpy(idx, perm, k * sizeof *idx);
        free(perm);
        return k;
    }
    size_t *count = enc_alloc(n_classes, sizeof *count, "subset");
    size_t *take = enc_alloc(n_classes, sizeof *take, "subset");
    for (size_t i = 0; i < d->n; i++)
        count[d->ex[i].label]++;
    for (size_t c = 0; c < n_classes; c++) {
        take[c] = (size_t)floor(frac * (double)count[c] + 0.5);
        take[c] = take[c] ? take[c] : (count[c] ? 1 : 0);
    }
    for (size_t i = 0; i < d->n; i++) {
        int c = d->ex[perm[i]].label;
        if (take[c] > 0) {
            take[c]--;
            idx[n++] = perm[i];
        }
    }
    free(count);
    free(take);
    free(perm);
    return n;
}

/* ---- export ------------------------------------------------------------- */

typedef struct export_ctx {
    const enc_task *t;
    const enc_dataset *d;
} export_ctx;

/* A TSV field: tabs and newlines (none in WordNet glosses) become spaces. */
static void put_field(FILE *f, const char *s)
{
    for (; *s; s++)
        fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
}

static void write_set(FILE *f, void *user)
{
    const export_ctx *c = user;
    for (size_t i = 0; i < c->d->n; i++) {
        const enc_example *e = &c->d->ex[i];
        if (c->t->n_classes == 1)
            fprintf(f, "%.9g", (double)e->target);
        else
            fputs(c->t->class_name[e->label], f);
        fputc('\t', f);
        put_field(f, c->d->text + e->text_a);
        if (c->t->pair) {
            fputc('\t', f);
            put_field(f, c->d->text + e->text_b);
        }
        fputc('\n', f);
    }
}

void enc_task_export(const enc_task *t, const char *dir)
{
    const enc_dataset *sets[3] = {&t->train, &t->val, &t->test};
    static const char *const names[3] = {"train.tsv", "val.tsv", "test.tsv"};
    for (int i = 0; i < 3; i++) {
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= sizeof path)
            enc_die("path too long: %s", dir);
        export_ctx c = {t, sets[i]};
        enc_write_atomic(path, write_set, &c);
    }
}

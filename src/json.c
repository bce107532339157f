/* Recursive-descent JSON parser (see json.h). */
#include "json.h"

#include "internal.h"
#include "text.h"

#include <string.h>

typedef struct parser {
    gd_json_doc *doc;
    const char *s;
    size_t len, pos, max_nodes;
    int err; /* first error: GD_EFORMAT or GD_ENOMEM */
} parser;

static bool fail(parser *p, int err)
{
    if (!p->err)
        p->err = err;
    return false;
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        const char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        p->pos++;
    }
}

/* Grows an array of elem-sized items to hold need items. */
static bool grow(parser *p, void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t cap2 = *cap ? *cap : 16, bytes;
    while (cap2 < need)
        if (!gd_mul_ok(cap2, 2, &cap2))
            return fail(p, GD_ENOMEM);
    if (!gd_mul_ok(cap2, elem, &bytes))
        return fail(p, GD_ENOMEM);
    void *a = gd_realloc(*arr, bytes);
    if (!a)
        return fail(p, GD_ENOMEM);
    *arr = a;
    *cap = cap2;
    return true;
}

static bool new_node(parser *p, int type, size_t *idx)
{
    gd_json_doc *d = p->doc;
    if (d->n_nodes >= p->max_nodes)
        return fail(p, GD_EFORMAT);
    if (!grow(p, (void **)&d->nodes, &d->cap_nodes, d->n_nodes + 1, sizeof *d->nodes))
        return false;
    gd_json_node *n = &d->nodes[d->n_nodes];
    memset(n, 0, sizeof *n);
    n->type = type;
    n->child = n->next = GD_JSON_END;
    *idx = d->n_nodes++;
    return true;
}

static bool put_bytes(parser *p, const char *b, size_t n)
{
    gd_json_doc *d = p->doc;
    size_t need;
    if (n == 0)
        return true; /* the text may still be NULL, and memcpy(NULL, ..., 0) is UB */
    if (!gd_add_ok(d->text_len, n, &need) || !grow(p, (void **)&d->text, &d->text_cap, need, 1))
        return fail(p, GD_ENOMEM);
    memcpy(d->text + d->text_len, b, n);
    d->text_len = need;
    return true;
}

static bool put_utf8(parser *p, uint32_t cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6)), b[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12)), b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18)), b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), b[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    }
    return put_bytes(p, b, n);
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Four hex digits after "\u" at p->pos. */
static bool read_hex4(parser *p, uint32_t *out)
{
    if (p->len - p->pos < 4)
        return fail(p, GD_EFORMAT);
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        const int h = hex_val(p->s[p->pos + (size_t)i]);
        if (h < 0)
            return fail(p, GD_EFORMAT);
        v = (v << 4) | (uint32_t)h;
    }
    p->pos += 4;
    *out = v;
    return true;
}

/* The code point of a \u escape (p->pos just after the 'u'), joining a
 * surrogate pair. */
static bool read_unicode_escape(parser *p, uint32_t *cp)
{
    uint32_t hi, lo;
    if (!read_hex4(p, &hi))
        return false;
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return fail(p, GD_EFORMAT); /* lone low surrogate */
    if (hi < 0xd800 || hi > 0xdbff) {
        *cp = hi;
        return true;
    }
    if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
        return fail(p, GD_EFORMAT);
    p->pos += 2;
    if (!read_hex4(p, &lo))
        return false;
    if (lo < 0xdc00 || lo > 0xdfff)
        return fail(p, GD_EFORMAT);
    *cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
    return true;
}

static bool read_escape(parser *p)
{
    if (p->pos >= p->len)
        return fail(p, GD_EFORMAT);
    const char c = p->s[p->pos++];
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *hit = c ? strchr(from, c) : NULL;
    if (hit)
        return put_bytes(p, &to[hit - from], 1);
    if (c != 'u')
        return fail(p, GD_EFORMAT);
    uint32_t cp;
    return read_unicode_escape(p, &cp) && put_utf8(p, cp);
}

/* A run of unescaped bytes up to the next quote or backslash: valid UTF-8,
 * no raw control characters. */
static bool read_plain_run(parser *p)
{
    const size_t start = p->pos;
    while (p->pos < p->len && p->s[p->pos] != '"' && p->s[p->pos] != '\\') {
        if ((unsigned char)p->s[p->pos] < 0x20)
            return fail(p, GD_EFORMAT);
        p->pos++;
    }
    if (!gd_utf8_ok(p->s + start, p->pos - start))
        return fail(p, GD_EFORMAT);
    return put_bytes(p, p->s + start, p->pos - start);
}

/* A string at p->pos (its opening quote); *off and *len locate it in the
 * doc text, NUL-terminated. */
static bool read_string(parser *p, size_t *off, size_t *len)
{
    if (p->pos >= p->len || p->s[p->pos] != '"')
        return fail(p, GD_EFORMAT);
    p->pos++;
    *off = p->doc->text_len;
    for (;;) {
        if (!read_plain_run(p))
            return false;
        if (p->pos >= p->len)
            return fail(p, GD_EFORMAT); /* unterminated */
        if (p->s[p->pos++] == '"')
            break;
        if (!read_escape(p))
            return false;
    }
    *len = p->doc->text_len - *off;
    return put_bytes(p, "", 1);
}

static size_t skip_digits(const char *s, size_t i, size_t len)
{
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool read_number(parser *p, size_t idx)
{
    const char *s = p->s;
    size_t i = p->pos;
    if (i < p->len && s[i] == '-')
        i++;
    if (i >= p->len || s[i] < '0' || s[i] > '9')
        return fail(p, GD_EFORMAT);
    i = s[i] == '0' ? i + 1 : skip_digits(s, i, p->len);
    if (i < p->len && s[i] == '.') {
        const size_t f = ++i;
        i = skip_digits(s, i, p->len);
        if (i == f)
            return fail(p, GD_EFORMAT);
    }
    if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < p->len && (s[i] == '+' || s[i] == '-'))
            i++;
        const size_t e = i;
        i = skip_digits(s, i, p->len);
        if (i == e)
            return fail(p, GD_EFORMAT);
    }
    p->doc->nodes[idx].num = p->pos;
    p->doc->nodes[idx].num_len = i - p->pos;
    p->pos = i;
    return true;
}

static bool read_literal(parser *p, const char *word)
{
    const size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return fail(p, GD_EFORMAT);
    p->pos += n;
    return true;
}

static bool read_value(parser *p, size_t depth, size_t *idx);

/* Appends child to the list of parent whose last child is *last. */
static void link_child(parser *p, size_t parent, size_t *last, size_t child)
{
    gd_json_node *n = p->doc->nodes;
    if (*last == GD_JSON_END)
        n[parent].child = child;
    else
        n[*last].next = child;
    *last = child;
    n[parent].count++;
}

/* The members or elements of a container at p->pos (its opening bracket). */
static bool read_container(parser *p, size_t depth, size_t idx, bool object)
{
    const char close = object ? '}' : ']';
    size_t last = GD_JSON_END;
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return true;
    }
    for (;;) {
        size_t key = 0, key_len = 0, child;
        if (object) {
            skip_ws(p);
            if (!read_string(p, &key, &key_len))
                return false;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':')
                return fail(p, GD_EFORMAT);
            p->pos++;
        }
        if (!read_value(p, depth + 1, &child))
            return false;
        p->doc->nodes[child].key = key;
        p->doc->nodes[child].key_len = key_len;
        link_child(p, idx, &last, child);
        skip_ws(p);
        if (p->pos >= p->len)
            return fail(p, GD_EFORMAT);
        const char c = p->s[p->pos++];
        if (c == close)
            return true;
        if (c != ',')
            return fail(p, GD_EFORMAT);
    }
}

static bool read_value(parser *p, size_t depth, size_t *idx)
{
    if (depth > GD_JSON_MAX_DEPTH)
        return fail(p, GD_EFORMAT);
    skip_ws(p);
    if (p->pos >= p->len)
        return fail(p, GD_EFORMAT);
    const char c = p->s[p->pos];
    switch (c) {
    case '{':
    case '[':
        return new_node(p, c == '{' ? GD_JSON_OBJECT : GD_JSON_ARRAY, idx) &&
               read_container(p, depth, *idx, c == '{');
    case '"': {
        size_t off, len;
        if (!new_node(p, GD_JSON_STRING, idx) || !read_string(p, &off, &len))
            return false;
        p->doc->nodes[*idx].str = off;
        p->doc->nodes[*idx].str_len = len;
        return true;
    }
    case 't':
        return new_node(p, GD_JSON_TRUE, idx) && read_literal(p, "true");
    case 'f':
        return new_node(p, GD_JSON_FALSE, idx) && read_literal(p, "false");
    case 'n':
        return new_node(p, GD_JSON_NULL, idx) && read_literal(p, "null");
    default:
        return new_node(p, GD_JSON_NUMBER, idx) && read_number(p, *idx);
    }
}

void gd_json_free(gd_json_doc *doc)
{
    if (!doc)
        return;
    gd_free(doc->nodes);
    gd_free(doc->text);
    memset(doc, 0, sizeof *doc);
}

int gd_json_parse(gd_json_doc *doc, const char *src, size_t len, size_t max_nodes)
{
    memset(doc, 0, sizeof *doc);
    doc->src = src;
    parser p = {doc, src, len, 0, max_nodes, GD_OK};
    size_t root;
    if (src && read_value(&p, 0, &root)) {
        skip_ws(&p);
        if (p.pos == len)
            return GD_OK;
        fail(&p, GD_EFORMAT); /* trailing garbage */
    }
    gd_json_free(doc);
    return p.err ? p.err : GD_EFORMAT;
}

bool gd_json_u64(const gd_json_doc *doc, const gd_json_node *n, uint64_t *out)
{
    if (n->type != GD_JSON_NUMBER)
        return false;
    const char *s = doc->src + n->num;
    uint64_t v = 0;
    for (size_t i = 0; i < n->num_len; i++) {
        if (s[i] < '0' || s[i] > '9') /* sign, fraction or exponent */
            return false;
        if (__builtin_mul_overflow(v, (uint64_t)10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
            return false;
    }
    *out = v;
    return true;
}

bool gd_json_clean_str(const gd_json_doc *doc, size_t off, size_t len)
{
    return strlen(doc->text + off) == len;
}

const gd_json_node *gd_json_member(const gd_json_doc *doc, const gd_json_node *obj,
                                   const char *key)
{
    const size_t len = strlen(key);
    for (size_t c = obj->child; c != GD_JSON_END; c = doc->nodes[c].next) {
        const gd_json_node *m = &doc->nodes[c];
        if (m->key_len == len && memcmp(gd_json_key(doc, m), key, len) == 0)
            return m;
    }
    return NULL;
}

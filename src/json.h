/*
 * A small JSON parser for safetensors headers: strict RFC 8259 syntax,
 * recursive descent with a depth limit, a node limit, \uXXXX escapes with
 * surrogate pairs, and UTF-8 validation.  It is fed untrusted bytes: every
 * read is bounds-checked and every failure is GD_EFORMAT or GD_ENOMEM.
 *
 * The tree lives in two growable arrays, so it is freed in two calls and
 * nodes refer to each other by index.
 */
#ifndef GDROPOUT_JSON_H
#define GDROPOUT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    GD_JSON_NULL,
    GD_JSON_FALSE,
    GD_JSON_TRUE,
    GD_JSON_NUMBER,
    GD_JSON_STRING,
    GD_JSON_ARRAY,
    GD_JSON_OBJECT
};

/* "No node": the end of a child list. */
#define GD_JSON_END ((size_t)-1)

/* Deepest nesting of arrays and objects accepted. */
#define GD_JSON_MAX_DEPTH 64

typedef struct gd_json_node {
    int type;
    size_t child, next; /* first child (arrays, objects) and next sibling */
    size_t count;       /* number of children */
    size_t key;         /* members of an object: key's offset in doc text */
    size_t key_len;
    size_t str;         /* strings: offset in doc text (NUL-terminated there) */
    size_t str_len;     /* may be shorter than strlen if it holds \u0000 */
    size_t num, num_len; /* numbers: their text in the source */
} gd_json_node;

typedef struct gd_json_doc {
    gd_json_node *nodes; /* nodes[0] is the root */
    size_t n_nodes, cap_nodes;
    char *text; /* unescaped strings and keys, each NUL-terminated */
    size_t text_len, text_cap;
    const char *src; /* the parsed source; numbers point into it */
} gd_json_doc;

/* Parses src[0 .. len) (one value, white space around it) into doc, with at
 * most max_nodes nodes.  On error doc is empty (nothing to free).
 * Returns GD_OK, GD_EFORMAT or GD_ENOMEM. */
int gd_json_parse(gd_json_doc *doc, const char *src, size_t len, size_t max_nodes);

void gd_json_free(gd_json_doc *doc);

/* A number node that is a plain non-negative integer fitting in uint64_t
 * (no fraction, exponent or sign). */
bool gd_json_u64(const gd_json_doc *doc, const gd_json_node *n, uint64_t *out);

/* The member key / string value of a node, NUL-terminated. */
static inline const char *gd_json_key(const gd_json_doc *doc, const gd_json_node *n)
{
    return doc->text + n->key;
}

static inline const char *gd_json_str(const gd_json_doc *doc, const gd_json_node *n)
{
    return doc->text + n->str;
}

/* A string or key holds no \u0000 (its NUL-terminated form is all of it). */
bool gd_json_clean_str(const gd_json_doc *doc, size_t off, size_t len);

/* The member of object obj called key, or NULL. */
const gd_json_node *gd_json_member(const gd_json_doc *doc, const gd_json_node *obj,
                                   const char *key);

#endif /* GDROPOUT_JSON_H */

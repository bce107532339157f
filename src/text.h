/*
 * Text helpers shared by the Fisher, safetensors and plan code: name checks,
 * UTF-8 validation, and number formatting/parsing that ignores the host's
 * locale (a host that called setlocale(LC_NUMERIC, "de_DE") must still write
 * "0.5", never "0,5", into a file another program reads).
 */
#ifndef GDROPOUT_TEXT_H
#define GDROPOUT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Longest tensor or site name, in bytes. */
#define GD_NAME_MAX 255

/* s[0 .. len) is well-formed UTF-8 (no overlong forms, surrogates or code
 * points above U+10FFFF). */
bool gd_utf8_ok(const char *s, size_t len);

/* s[0 .. len) is well-formed UTF-8 (no overlong forms, surrogates or code
 * points above U+10FFFF) without C0/C1 control characters or DEL (and without
 * spaces unless allow_space). */
bool gd_text_ok(const char *s, size_t len, bool allow_space);

/* A NUL-terminated name: at most GD_NAME_MAX bytes, gd_text_ok, and
 * non-empty unless allow_empty. */
bool gd_name_ok(const char *s, bool allow_space, bool allow_empty);

/* snprintf in the "C" locale.  Returns false when the locale cannot be
 * set up or the text does not fit in size bytes. */
bool gd_format_c(char *buf, size_t size, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* s[0 .. len) is exactly one decimal number [+-]?digits[.digits][(e|E)[+-]digits]
 * (digits before or after the point), parsed in the "C" locale.  No hex,
 * no inf/nan, nothing else around it.  The result may be infinite when the
 * text overflows; callers check. */
bool gd_parse_double(const char *s, size_t len, double *out);
bool gd_parse_float(const char *s, size_t len, float *out);

/* s[0 .. len) is a decimal integer without sign or leading zeros ("0" is
 * fine) that fits in a size_t. */
bool gd_parse_size(const char *s, size_t len, size_t *out);

/* ---- lines of a text file (plan files, the tool's scores files) -------- */

/* Longest line accepted, in bytes, without its line ending ("\n", "\r\n",
 * or nothing at the end of the file): a 255-byte name and three numbers fit
 * with room to spare. */
#define GD_LINE_MAX 1024

/* gd_read_line's results. */
enum {
    GD_TEXT_LINE = 1, /* a line is in buf */
    GD_TEXT_END = 0,  /* end of the file, nothing read */
    GD_TEXT_LONG = -1, /* longer than GD_LINE_MAX */
    GD_TEXT_NUL = -2, /* a NUL byte (a binary file) */
    GD_TEXT_EIO = -3  /* read error */
};

/* Reads the next line into buf (GD_LINE_MAX + 2 bytes), NUL-terminated,
 * without its "\n" or "\r\n"; *len gets its length.  After GD_TEXT_LONG
 * or GD_TEXT_NUL the rest of that line is unread: stop there. */
int gd_read_line(FILE *fp, char *buf, size_t *len);

/* Space or tab: what separates fields. */
static inline bool gd_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* s[0 .. len) holds no field: empty, blanks only, or a '#' comment. */
bool gd_line_is_comment(const char *s, size_t len);

/* Splits s[0 .. len) into fields at runs of blanks, writing a NUL after each
 * field (s[len] must be NUL, as gd_read_line leaves it).  Returns the
 * number of fields, or max + 1 when there are more than max (field and flen,
 * max entries each, then hold the first max). */
size_t gd_split_fields(char *s, size_t len, const char **field, size_t *flen, size_t max);

#endif /* GDROPOUT_TEXT_H */

/* Names, UTF-8 and locale-independent numbers (see text.h). */
#define _POSIX_C_SOURCE 200809L

#include "text.h"

#include <locale.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the UTF-8 sequence at s (n bytes available) and its code point;
 * 0 when malformed. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t c = s[0], min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, c &= 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, c &= 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, c &= 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

bool gd_utf8_ok(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        const size_t k = utf8_decode(u + i, len - i, &cp);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

bool gd_text_ok(const char *s, size_t len, bool allow_space)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        const size_t k = utf8_decode(u + i, len - i, &cp);
        if (k == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp == ' ' && !allow_space))
            return false;
        i += k;
    }
    return true;
}

bool gd_name_ok(const char *s, bool allow_space, bool allow_empty)
{
    if (!s)
        return false;
    const size_t len = strnlen(s, GD_NAME_MAX + 1);
    if (len > GD_NAME_MAX || (len == 0 && !allow_empty))
        return false;
    return gd_text_ok(s, len, allow_space);
}

/* The calling thread's locale switched to "C" for one call; uselocale is
 * per thread, so other threads of the host are unaffected. */
typedef struct c_locale {
    locale_t c, old;
} c_locale;

static bool c_locale_enter(c_locale *l)
{
    l->c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (l->c == (locale_t)0)
        return false;
    l->old = uselocale(l->c);
    return true;
}

static void c_locale_leave(c_locale *l)
{
    uselocale(l->old);
    freelocale(l->c);
}

bool gd_format_c(char *buf, size_t size, const char *fmt, ...)
{
    c_locale l;
    if (!c_locale_enter(&l))
        return false;
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    c_locale_leave(&l);
    return n >= 0 && (size_t)n < size;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static size_t skip_digits(const char *s, size_t i, size_t len)
{
    while (i < len && is_digit(s[i]))
        i++;
    return i;
}

/* The decimal grammar of gd_parse_double. */
static bool decimal_ok(const char *s, size_t len)
{
    size_t i = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    const size_t int_start = i;
    i = skip_digits(s, i, len);
    size_t digits = i - int_start;
    if (i < len && s[i] == '.') {
        const size_t frac_start = ++i;
        i = skip_digits(s, i, len);
        digits += i - frac_start;
    }
    if (digits == 0)
        return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        const size_t exp_start = i;
        i = skip_digits(s, i, len);
        if (i == exp_start)
            return false;
    }
    return i == len;
}

/* Longest number text accepted; %.17g needs at most 24 characters.
 * gd_plan_load's contract (plan.h) states it. */
enum { NUMBER_TEXT_MAX = 64 };

static bool parse_real(const char *s, size_t len, double *d, float *f)
{
    char buf[NUMBER_TEXT_MAX + 1];
    if (!s || len == 0 || len > NUMBER_TEXT_MAX || !decimal_ok(s, len))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    c_locale l;
    if (!c_locale_enter(&l))
        return false;
    char *end;
    if (d)
        *d = strtod(buf, &end);
    else
        *f = strtof(buf, &end);
    c_locale_leave(&l);
    return end == buf + len;
}

bool gd_parse_double(const char *s, size_t len, double *out)
{
    return parse_real(s, len, out, NULL);
}

bool gd_parse_float(const char *s, size_t len, float *out)
{
    return parse_real(s, len, NULL, out);
}

bool gd_parse_size(const char *s, size_t len, size_t *out)
{
    if (!s || len == 0 || (len > 1 && s[0] == '0'))
        return false;
    size_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i]) || __builtin_mul_overflow(v, (size_t)10, &v) ||
            __builtin_add_overflow(v, (size_t)(s[i] - '0'), &v))
            return false;
    }
    *out = v;
    return true;
}

/* ---- lines ------------------------------------------------------------ */

int gd_read_line(FILE *fp, char *buf, size_t *len)
{
    size_t n = 0;
    int c;
    /* one byte beyond GD_LINE_MAX is kept: a '\r' there may end the line */
    while ((c = getc_unlocked(fp)) != EOF && c != '\n') {
        if (c == '\0')
            return GD_TEXT_NUL;
        if (n == GD_LINE_MAX + 1)
            return GD_TEXT_LONG;
        buf[n++] = (char)c;
    }
    if (ferror(fp))
        return GD_TEXT_EIO;
    if (c == EOF && n == 0)
        return GD_TEXT_END;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    if (n > GD_LINE_MAX)
        return GD_TEXT_LONG;
    buf[n] = '\0';
    *len = n;
    return GD_TEXT_LINE;
}

bool gd_line_is_comment(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && gd_is_blank(s[i]))
        i++;
    return i == len || s[i] == '#';
}

size_t gd_split_fields(char *s, size_t len, const char **field, size_t *flen, size_t max)
{
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && gd_is_blank(s[i]))
            i++;
        if (i == len)
            break;
        const size_t start = i;
        while (i < len && !gd_is_blank(s[i]))
            i++;
        if (n == max)
            return max + 1;
        field[n] = s + start;
        flen[n++] = i - start;
        if (i < len)
            s[i++] = '\0'; /* the last field ends at s[len], already NUL */
    }
    return n;
}

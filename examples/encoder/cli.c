/* Command-line flags (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum { MAX_GIVEN = 64 };
static const char *given[MAX_GIVEN];
static size_t n_given;

int cli_given(const char *name)
{
    for (size_t i = 0; i < n_given; i++)
        if (strcmp(given[i], name) == 0)
            return 1;
    return 0;
}

/* Whether x is in f's range.  Integer flags compare in integers: their
 * bounds in the tables are whole numbers below 2^63, exact as doubles. */
static int in_range_u64(const cli_flag *f, uint64_t x)
{
    return x >= (uint64_t)f->lo && x <= (uint64_t)f->hi;
}

static int in_range_float(const cli_flag *f, double x)
{
    return x >= f->lo && x <= f->hi;
}

static double parse_number(const char *text, const cli_flag *f)
{
    double x;
    if (enc_parse_decimal(text, &x) != 0)
        enc_die("--%s: \"%s\" is not a finite decimal number", f->name, text);
    if (!in_range_float(f, x))
        enc_die("--%s: %s is outside [%g, %g]", f->name, text, f->lo, f->hi);
    return x;
}

/* An integer flag: decimal digits without sign or leading zero (the
 * library's grammar for sizes), read in integer arithmetic, since a double
 * would round 9007199254740993 to 9007199254740992 without a word. */
static uint64_t parse_whole(const char *text, const cli_flag *f)
{
    if (text[0] == '\0' || (text[0] == '0' && text[1] != '\0') ||
        strspn(text, "0123456789") != strlen(text))
        enc_die("--%s: \"%s\" is not a whole decimal number", f->name, text);
    uint64_t x = 0;
    for (const char *p = text; *p; p++) {
        const uint64_t d = (uint64_t)(*p - '0');
        if (x > (UINT64_MAX - d) / 10) { /* past 2^64, so past every range */
            x = UINT64_MAX;
            break;
        }
        x = 10 * x + d;
    }
    if (!in_range_u64(f, x))
        enc_die("--%s: %s is outside [%g, %g]", f->name, text, f->lo, f->hi);
    return x;
}

const cli_flag *cli_flag_named(const cli_flag *flags, size_t n, const char *name)
{
    for (size_t k = 0; k < n; k++)
        if (strcmp(flags[k].name, name) == 0)
            return &flags[k];
    enc_die("internal error: no flag --%s", name);
}

void cli_check_u64(const cli_flag *f, uint64_t x, const char *what)
{
    if (!in_range_u64(f, x))
        enc_die("%s is %llu, outside [%g, %g] (--%s's range)", what, (unsigned long long)x, f->lo,
                f->hi, f->name);
}

void cli_check_float(const cli_flag *f, double x, const char *what)
{
    if (!in_range_float(f, x))
        enc_die("%s is %.9g, outside [%g, %g] (--%s's range)", what, x, f->lo, f->hi, f->name);
}

size_t cli_list(const char *text, double *out, size_t max, double lo, double hi, const char *flag)
{
    size_t n = 0;
    const char *p = text;
    cli_flag f = {flag, CLI_FLOAT, NULL, lo, hi, ""};
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char buf[64];
        if (len == 0 || len >= sizeof buf)
            enc_die("--%s: empty or overlong entry in \"%s\"", flag, text);
        if (n == max)
            enc_die("--%s: more than %zu entries", flag, max);
        memcpy(buf, p, len);
        buf[len] = '\0';
        out[n++] = parse_number(buf, &f);
        if (comma == NULL)
            return n;
        p = comma + 1;
    }
}

static void usage_print(const cli_flag *flags, size_t n, const char *usage)
{
    printf("%s\n\nflags:\n", usage);
    for (size_t i = 0; i < n; i++) {
        const cli_flag *f = &flags[i];
        char def[64] = "";
        switch (f->kind) {
        case CLI_SIZE: snprintf(def, sizeof def, "%zu", *(size_t *)f->dst); break;
        case CLI_U64: snprintf(def, sizeof def, "%llu", (unsigned long long)*(uint64_t *)f->dst); break;
        case CLI_FLOAT: snprintf(def, sizeof def, "%g", (double)*(float *)f->dst); break;
        case CLI_STR:
        case CLI_LIST:
            snprintf(def, sizeof def, "%s", *(const char **)f->dst ? *(const char **)f->dst : "");
            break;
        case CLI_BOOL: break;
        }
        printf("  --%-16s %s%s%s%s\n", f->name, f->help, def[0] ? " [" : "", def,
               def[0] ? "]" : "");
    }
}

int cli_parse(const cli_flag *flags, size_t n, int argc, char **argv, int first,
              const char *usage)
{
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage_print(flags, n, usage);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0)
            enc_die("unexpected argument \"%s\" (flags start with --; see --help)", arg);
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const cli_flag *f = NULL;
        for (size_t k = 0; k < n && f == NULL; k++)
            if (strlen(flags[k].name) == len && strncmp(flags[k].name, name, len) == 0)
                f = &flags[k];
        if (f == NULL)
            enc_die("unknown flag %s (see --help)", arg);
        if (n_given < MAX_GIVEN)
            given[n_given++] = f->name;
        if (f->kind == CLI_BOOL) {
            if (eq)
                enc_die("--%s takes no value", f->name);
            *(int *)f->dst = 1;
            continue;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (val == NULL)
            enc_die("--%s needs a value", f->name);
        switch (f->kind) {
        case CLI_SIZE: *(size_t *)f->dst = (size_t)parse_whole(val, f); break;
        case CLI_U64: *(uint64_t *)f->dst = parse_whole(val, f); break;
        case CLI_FLOAT: *(float *)f->dst = (float)parse_number(val, f); break;
        case CLI_STR:
        case CLI_LIST:
            if (val[0] == '\0')
                enc_die("--%s: empty value", f->name);
            *(const char **)f->dst = val;
            break;
        case CLI_BOOL: break;
        }
    }
    return 0;
}

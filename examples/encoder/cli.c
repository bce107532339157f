/* Command-line flags (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <math.h>
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

static double parse_number(const char *text, const cli_flag *f)
{
    double x;
    if (enc_parse_decimal(text, &x) != 0)
        enc_die("--%s: \"%s\" is not a finite decimal number", f->name, text);
    if (x < f->lo || x > f->hi)
        enc_die("--%s: %s is outside [%g, %g]", f->name, text, f->lo, f->hi);
    if ((f->kind == CLI_SIZE || f->kind == CLI_U64) && x != floor(x))
        enc_die("--%s: %s is not a whole number", f->name, text);
    return x;
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
        case CLI_SIZE: *(size_t *)f->dst = (size_t)parse_number(val, f); break;
        case CLI_U64: *(uint64_t *)f->dst = (uint64_t)parse_number(val, f); break;
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

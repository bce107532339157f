/*
 * Table-driven command-line flags: `--name value` or `--name=value`, strict
 * numbers (decimal, finite, in range), `--help` prints the table.  A bad
 * flag ends the program with a message naming it.
 */
#ifndef ENC_CLI_H
#define ENC_CLI_H

#include <stddef.h>
#include <stdint.h>

typedef enum { CLI_SIZE, CLI_U64, CLI_FLOAT, CLI_STR, CLI_BOOL, CLI_LIST } cli_kind;

typedef struct cli_flag {
    const char *name; /* without the leading "--" */
    cli_kind kind;
    void *dst;        /* size_t, uint64_t, float, const char *, int, const char * */
    double lo, hi;    /* range for numbers (inclusive) */
    const char *help;
} cli_flag;

/* Parses argv[first..argc) against flags[0..n); positional arguments are
 * refused.  Returns 1 when --help was given (after printing usage). */
int cli_parse(const cli_flag *flags, size_t n, int argc, char **argv, int first,
              const char *usage);
/* Whether a flag was given on the command line (by name). */
int cli_given(const char *name);

/* Parses a comma-separated list of numbers in [lo, hi] into out (at most
 * max); ends the program naming `flag` on a bad entry.  Returns the count. */
size_t cli_list(const char *text, double *out, size_t max, double lo, double hi,
                const char *flag);

#endif /* ENC_CLI_H */

/*
 * Table-driven command-line flags: `--name value` or `--name=value`, strict
 * numbers (decimal, finite, in range; integers digits only, read exactly),
 * `--help` prints the table.  A bad flag ends the program with a message
 * naming it.
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

/* The flag called name in flags[0..n) (it must be there). */
const cli_flag *cli_flag_named(const cli_flag *flags, size_t n, const char *name);
/* Ends the program unless x, f's value read from elsewhere (`what`, such as
 * a checkpoint's metadata), is in f's range: what the command line may not
 * set, a file may not either. */
void cli_check_u64(const cli_flag *f, uint64_t x, const char *what);
void cli_check_float(const cli_flag *f, double x, const char *what);

/* Parses a comma-separated list of numbers in [lo, hi] into out (at most
 * max); ends the program naming `flag` on a bad entry.  Returns the count. */
size_t cli_list(const char *text, double *out, size_t max, double lo, double hi,
                const char *flag);

#endif /* ENC_CLI_H */

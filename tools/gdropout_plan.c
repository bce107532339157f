/*
 * gdropout-plan: turns per-site scores into a guided dropout plan.
 *
 * Input is either a Fisher file written by gd_fisher_save (safetensors,
 * detected by its header) or a text file of scores, one site a line:
 *   <name> <score>              (the index is the line's order)
 *   <index> <name> <score>      (every index 0 .. n-1 exactly once)
 *   <index> <name> <score> <p>  (a plan file, as -o writes it; p is checked
 *                                and then replaced by the new plan's)
 * with '#' comment lines; "-" is an unnamed site.  The line and number
 * grammar is the library's own (src/text.c, compiled into the tool), so the
 * tool accepts exactly what gd_plan_load accepts: decimal numbers only (no
 * hex, no inf/nan), lines of at most GD_LINE_MAX bytes.
 *
 * The input is read once: a regular file in place, anything else (stdin
 * as "-", a pipe, a FIFO) into memory first, so sniffing the format never
 * consumes what the parser needs.
 *
 * From a Fisher file, the sites are 0 .. gd_fisher_site_count - 1.  A site
 * that no tensor feeds has no score: it is left out of the plan (the host
 * keeps it at its standard rate) and the sites after it move down, so plan
 * index i is the i-th fed site in increasing site order; the table shows
 * both numbers and one note on stderr counts (and lists the first of) the
 * sites left out.  Work and memory follow the tensors, not the largest site
 * number, so a small file naming site 10^9 costs no more than site 1.
 *
 * Exit status: 0 success, 1 bad data (unreadable or malformed input, a rule
 * that cannot use the scores, a plan that cannot be written), 2 usage.
 */
#define _POSIX_C_SOURCE 200809L

#include <gdropout/gdropout.h>

#include "text.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { EXIT_DATA = 1, EXIT_USAGE = 2 };

/* Largest input read into memory (stdin, pipes, FIFOs); a regular file is
 * read in place and has no such limit. */
#define STREAM_MAX ((size_t)256 << 20)

/* How many left-out Fisher sites the note lists by number. */
enum { LIST_MISSING = 10 };

typedef struct options {
    const char *input, *out, *format;
    int rule, reduce;
    float p_max, p_min;
    bool quiet;
    int control;   /* 0, or a GD_CONTROL_* applied after the rule */
    uint64_t seed; /* of the permuting controls */
} options;

typedef struct named_value {
    const char *name;
    int value;
} named_value;

static const named_value RULES[] = {{"rank-linear", GD_RULE_RANK_LINEAR},
                                    {"uniform", GD_RULE_UNIFORM},
                                    {"score-linear", GD_RULE_SCORE_LINEAR},
                                    {"log-score-linear", GD_RULE_LOG_SCORE_LINEAR},
                                    {NULL, 0}};
static const named_value CONTROLS[] = {{"none", 0},
                                       {"reversed", GD_CONTROL_REVERSED},
                                       {"permuted", GD_CONTROL_PERMUTED},
                                       {"kind", GD_CONTROL_KIND},
                                       {"matched", GD_CONTROL_MATCHED},
                                       {NULL, 0}};
static const named_value REDUCES[] = {{"tensor-mean", GD_REDUCE_TENSOR_MEAN},
                                      {"element-mean", GD_REDUCE_ELEMENT_MEAN},
                                      {"sum", GD_REDUCE_SUM},
                                      {"max", GD_REDUCE_MAX},
                                      {NULL, 0}};

/* The sites of the plan: scores, names (offsets into one pool, so memory
 * follows the input's size) and the Fisher site each came from. */
typedef struct sites {
    size_t n, cap;
    float *score;
    size_t *name_at; /* offset into pool; the pool starts with "" */
    size_t *origin;  /* Fisher site, or the index for a scores file */
    char *pool;
    size_t pool_len, pool_cap;
} sites;

/* The input, opened once. */
typedef struct input {
    const char *name; /* for messages */
    const char *path; /* NULL for stdin */
    int fd;
    bool regular;     /* read in place; otherwise buf holds all of it */
    uint64_t size;
    char *buf;
    size_t len;
} input;

static void usage(FILE *fp)
{
    fputs("Usage: gdropout-plan [options] INPUT\n"
          "\n"
          "Turns per-site scores into a guided dropout plan (Sharma et al., arXiv\n"
          "2406.14005): the least informative site gets P_MAX, the most informative\n"
          "P_MIN.  INPUT (\"-\" for stdin) is a Fisher file written by gd_fisher_save\n"
          "(safetensors) or a text file of scores, one site a line: \"<name> <score>\",\n"
          "\"<index> <name> <score>\", or a plan file as -o writes it ('#' comments;\n"
          "\"-\" for no name).\n"
          "\n"
          "Options:\n"
          "  -o, --out FILE         write the plan file (read it with gd_plan_load)\n"
          "  -r, --rule RULE        rank-linear (default, the paper's), uniform,\n"
          "                         score-linear, log-score-linear\n"
          "      --p-max P          dropout of the least informative site (default 0.1)\n"
          "      --p-min P          dropout of the most informative site (default 0.0)\n"
          "      --reduce R         Fisher input: tensor-mean (default, the paper's),\n"
          "                         element-mean, sum, max\n"
          "      --input-format F   auto (default), fisher, scores\n"
          "      --control C        a control plan from the same rates (gd_plan_control):\n"
          "                         reversed (the ranking reversed: the most informative\n"
          "                         site gets P_MAX), permuted (a random order), kind\n"
          "                         (permuted within each kind of site: names equal but\n"
          "                         for their digits), matched (every site at the mean)\n"
          "      --seed N           seed of permuted and kind (default 0)\n"
          "  -q, --quiet            do not print the table\n"
          "  -h, --help             this help\n"
          "  -V, --version          the library version\n"
          "\n"
          "From a Fisher file, sites that no tensor feeds are left out of the plan\n"
          "(keep them at their standard rate) and later sites move down one index;\n"
          "the table shows both the plan index and the Fisher site.  A site is named\n"
          "after its tensors: their common name prefix up to the last '.' or '/'\n"
          "(\"fc0.weight\" and \"fc0.bias\" give \"fc0\"), or the whole name of a\n"
          "single tensor; with no such prefix it has no name (\"-\").\n"
          "Exit status: 0 success, 1 bad input data, 2 usage error.\n",
          fp);
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "gdropout-plan: ");
    fprintf(stderr, fmt, arg);
    fputs("\nTry 'gdropout-plan --help'.\n", stderr);
    return EXIT_USAGE;
}

static bool lookup_name(const named_value *table, const char *name, int *value)
{
    for (; table->name; table++) {
        if (strcmp(table->name, name) == 0) {
            *value = table->value;
            return true;
        }
    }
    return false;
}

static const char *name_of(const named_value *table, int value)
{
    for (; table->name; table++)
        if (table->value == value)
            return table->name;
    return "?";
}

/* A probability in [0, 1], in the library's number grammar. */
static bool parse_prob(const char *s, float *out)
{
    double v;
    if (!gd_parse_double(s, strlen(s), &v) || !(v >= 0.0 && v <= 1.0))
        return false;
    *out = (float)v;
    return true;
}

enum { OPT_P_MAX = 256, OPT_P_MIN, OPT_REDUCE, OPT_FORMAT, OPT_CONTROL, OPT_SEED };

static const struct option LONG_OPTIONS[] = {
    {"out", required_argument, NULL, 'o'},
    {"rule", required_argument, NULL, 'r'},
    {"p-max", required_argument, NULL, OPT_P_MAX},
    {"p-min", required_argument, NULL, OPT_P_MIN},
    {"reduce", required_argument, NULL, OPT_REDUCE},
    {"input-format", required_argument, NULL, OPT_FORMAT},
    {"control", required_argument, NULL, OPT_CONTROL},
    {"seed", required_argument, NULL, OPT_SEED},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0}};

/* getopt_long's '?': "--quiet=3" is a known option given a value it does
 * not take, not an unknown one. */
static int unknown_option(const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!strncmp(arg, "--", 2) && eq) {
        const size_t len = (size_t)(eq - arg - 2);
        for (const struct option *opt = LONG_OPTIONS; opt->name; opt++)
            if (opt->has_arg == no_argument && strlen(opt->name) == len &&
                !strncmp(opt->name, arg + 2, len))
                return usage_error("option '--%s' takes no value", opt->name);
    }
    return usage_error("unknown option '%s'", arg);
}

/* One option getopt_long returned; 0 to go on, or an exit status (-1 for
 * help and version, which succeed). */
static int set_option(options *o, int c, const char *val, int argc, char **argv)
{
    switch (c) {
    case 'o':
        if (!*val)
            return usage_error("%s", "'-o' needs a file name, not an empty one");
        o->out = val;
        return 0;
    case 'r':
        return lookup_name(RULES, val, &o->rule) ? 0 : usage_error("unknown rule '%s'", val);
    case OPT_REDUCE:
        return lookup_name(REDUCES, val, &o->reduce) ? 0
                                                     : usage_error("unknown reduction '%s'", val);
    case OPT_P_MAX:
    case OPT_P_MIN:
        return parse_prob(val, c == OPT_P_MAX ? &o->p_max : &o->p_min)
                   ? 0
                   : usage_error("'%s' is not a probability in [0, 1]", val);
    case OPT_CONTROL:
        return lookup_name(CONTROLS, val, &o->control) ? 0
                                                       : usage_error("unknown control '%s'", val);
    case OPT_SEED: {
        size_t v;
        if (!gd_parse_size(val, strlen(val), &v))
            return usage_error("'%s' is not a seed (a decimal integer)", val);
        o->seed = (uint64_t)v;
        return 0;
    }
    case OPT_FORMAT:
        if (strcmp(val, "auto") && strcmp(val, "fisher") && strcmp(val, "scores"))
            return usage_error("unknown input format '%s'", val);
        o->format = val;
        return 0;
    case 'q':
        o->quiet = true;
        return 0;
    case 'h':
        usage(stdout);
        return -1;
    case 'V':
        printf("gdropout-plan (libgdropout %s)\n", gd_version_string());
        return -1;
    case ':':
        return usage_error("option '%s' needs a value", argv[optind - 1]);
    default: /* '?' */
        return unknown_option(optind - 1 < argc ? argv[optind - 1] : "?");
    }
}

/* Returns -1 to go on, or an exit status (help, version, usage error). */
static int parse_args(int argc, char **argv, options *o)
{
    optind = 0; /* glibc: a full reset, so main may run more than once */
    opterr = 0; /* the messages are ours */
    int c;
    while ((c = getopt_long(argc, argv, ":o:r:qhV", LONG_OPTIONS, NULL)) != -1) {
        const int rc = set_option(o, c, optarg, argc, argv);
        if (rc)
            return rc < 0 ? 0 : rc;
    }
    if (optind < argc)
        o->input = argv[optind++];
    if (optind < argc)
        return usage_error("more than one input ('%s')", argv[optind]);
    if (!o->input)
        return usage_error("%s", "no input file");
    if (o->out && !strcmp(o->out, "-"))
        return usage_error("%s", "'-o -': the plan is written to a file, not to stdout "
                           "(the table goes to stdout)");
    if (o->p_min > o->p_max)
        return usage_error("%s", "--p-min is larger than --p-max");
    return -1;
}

/* ---- the sites ---------------------------------------------------------- */

static bool sites_init(sites *s)
{
    memset(s, 0, sizeof *s);
    s->pool = malloc(64);
    if (!s->pool)
        return false;
    s->pool[0] = '\0'; /* offset 0: the empty name */
    s->pool_len = 1;
    s->pool_cap = 64;
    return true;
}

static void sites_free(sites *s)
{
    free(s->score);
    free(s->name_at);
    free(s->origin);
    free(s->pool);
}

/* Doubles a capacity until it holds need; false on overflow. */
static bool next_cap(size_t cap, size_t need, size_t size, size_t *out)
{
    size_t c = cap ? cap : 64;
    while (c < need) {
        if (c > SIZE_MAX / 2)
            return false;
        c *= 2;
    }
    if (c > SIZE_MAX / size)
        return false;
    *out = c;
    return true;
}

/* Room for one more site. */
static bool sites_reserve(sites *s)
{
    size_t cap;
    if (s->n < s->cap)
        return true;
    if (!next_cap(s->cap, s->n + 1, sizeof(size_t), &cap))
        return false;
    float *score = realloc(s->score, cap * sizeof *score);
    if (score)
        s->score = score;
    size_t *name_at = realloc(s->name_at, cap * sizeof *name_at);
    if (name_at)
        s->name_at = name_at;
    size_t *origin = realloc(s->origin, cap * sizeof *origin);
    if (origin)
        s->origin = origin;
    if (!score || !name_at || !origin)
        return false;
    s->cap = cap;
    return true;
}

/* Copies name[0 .. len) into the pool; its offset in *at ("" is 0). */
static bool pool_add(sites *s, const char *name, size_t len, size_t *at)
{
    size_t cap;
    if (len == 0) {
        *at = 0;
        return true;
    }
    if (len >= SIZE_MAX - s->pool_len)
        return false;
    if (s->pool_len + len + 1 > s->pool_cap) {
        if (!next_cap(s->pool_cap, s->pool_len + len + 1, 1, &cap))
            return false;
        char *pool = realloc(s->pool, cap);
        if (!pool)
            return false;
        s->pool = pool;
        s->pool_cap = cap;
    }
    memcpy(s->pool + s->pool_len, name, len);
    s->pool[s->pool_len + len] = '\0';
    *at = s->pool_len;
    s->pool_len += len + 1;
    return true;
}

static bool sites_add(sites *s, float score, const char *name, size_t len, size_t origin)
{
    if (!sites_reserve(s) || !pool_add(s, name, len, &s->name_at[s->n]))
        return false;
    s->score[s->n] = score;
    s->origin[s->n++] = origin;
    return true;
}

static const char *site_name_of(const sites *s, size_t i)
{
    return s->pool + s->name_at[i];
}

static int data_error(const char *path, const char *what, int rc)
{
    fprintf(stderr, "gdropout-plan: %s: %s%s%s\n", path, what, rc ? ": " : "",
            rc ? gd_strerror(rc) : "");
    return EXIT_DATA;
}

static int out_of_memory(const char *path)
{
    return data_error(path, "out of memory", 0);
}

/* ---- the input ---------------------------------------------------------- */

/* Reads all of fd into in->buf (at most STREAM_MAX bytes). */
static int slurp(input *in)
{
    size_t cap = 0;
    for (;;) {
        if (in->len == cap) {
            const size_t more = cap ? cap : 65536;
            char *b = cap < STREAM_MAX ? realloc(in->buf, cap + more + 1) : NULL;
            if (!b)
                return cap < STREAM_MAX ? out_of_memory(in->name)
                                        : data_error(in->name, "more than 256 MiB from a pipe "
                                                               "or device: give a regular file",
                                                     0);
            in->buf = b;
            cap += more;
        }
        const ssize_t got = read(in->fd, in->buf + in->len, cap - in->len);
        if (got == 0)
            break;
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return data_error(in->name, strerror(errno), 0);
        }
        in->len += (size_t)got;
    }
    in->buf[in->len] = '\0';
    return 0;
}

/* Opens the input ("-" is stdin): a regular file stays in place, a
 * directory is refused, anything else is read into memory.  Opened
 * non-blocking and checked with fstat first, so a FIFO with no writer gives
 * an empty input at once instead of a hang. */
static int open_input(const char *arg, input *in)
{
    struct stat st;
    memset(in, 0, sizeof *in);
    const bool std = strcmp(arg, "-") == 0;
    in->name = std ? "stdin" : arg;
    in->path = std ? NULL : arg;
    in->fd = std ? STDIN_FILENO : open(arg, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (in->fd < 0)
        return data_error(in->name, strerror(errno), 0);
    if (fstat(in->fd, &st) != 0)
        return data_error(in->name, strerror(errno), 0);
    if (S_ISDIR(st.st_mode))
        return data_error(in->name, "is a directory, not a Fisher or scores file", 0);
    /* stdin redirected from a file is read in place from offset 0 (pread)
     * only if it is still there: a caller who read part of it first means
     * the rest, which a read from its offset gives */
    if (S_ISREG(st.st_mode) && (!std || lseek(in->fd, 0, SEEK_CUR) == 0)) {
        in->regular = true;
        in->size = (uint64_t)st.st_size;
        return 0;
    }
    const int flags = fcntl(in->fd, F_GETFL);
    if (flags < 0 || fcntl(in->fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
        return data_error(in->name, strerror(errno), 0);
    return slurp(in);
}

static void close_input(input *in)
{
    if (in->fd > STDIN_FILENO)
        close(in->fd);
    free(in->buf);
}

/* The first n bytes of the input (fewer if it is shorter). */
static size_t input_head(const input *in, unsigned char *b, size_t n)
{
    if (!in->regular) {
        const size_t k = in->len < n ? in->len : n;
        memcpy(b, in->buf, k);
        return k;
    }
    const ssize_t got = pread(in->fd, b, n, 0);
    return got > 0 ? (size_t)got : 0;
}

static uint64_t input_size(const input *in)
{
    return in->regular ? in->size : (uint64_t)in->len;
}

/* The safetensors header length if the input starts like one: 8 bytes of
 * little-endian length below 100 MB, then '{'.  A truncated file still
 * looks like one (the loader then says what is wrong). */
static bool fisher_header(const input *in, uint64_t *header_len)
{
    unsigned char b[9];
    if (input_head(in, b, 9) != 9 || b[8] != '{')
        return false;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | b[i];
    if (n < 2 || n > 100000000u)
        return false;
    *header_len = n;
    return true;
}

/* ---- Fisher input ------------------------------------------------------- */

/* A path gd_fisher_load can read: the input's own, or (stdin, a pipe) a
 * temporary copy of the bytes already read, removed by the caller. */
static int fisher_path(input *in, char *tmp, size_t cap, const char **path)
{
    if (in->regular && in->path) {
        *path = in->path;
        return 0;
    }
    if (in->regular) { /* stdin redirected from a file: read it once */
        const int rc = slurp(in);
        if (rc)
            return rc;
        in->regular = false;
    }
    const char *dir = getenv("TMPDIR");
    snprintf(tmp, cap, "%s/gdropout-plan-XXXXXX", dir && *dir ? dir : "/tmp");
    const int fd = mkstemp(tmp);
    if (fd < 0)
        return data_error(tmp, strerror(errno), 0);
    size_t done = 0;
    while (done < in->len) {
        const ssize_t w = write(fd, in->buf + done, in->len - done);
        if (w <= 0 && errno != EINTR) {
            close(fd);
            unlink(tmp);
            return data_error(tmp, strerror(errno), 0);
        }
        done += w > 0 ? (size_t)w : 0;
    }
    close(fd);
    *path = tmp;
    return 0;
}

/* Looks in the header for a dtype other than F32 and names its tensor: the
 * quoted key before the entry's '{'.  A best-effort diagnosis after the
 * loader said GD_EFORMAT; false when nothing was found. */
static bool report_dtype(const input *in, const char *text)
{
    static const char key[] = "\"dtype\"";
    for (const char *p = text; (p = strstr(p, key)) != NULL; p += sizeof key - 1) {
        const char *v = p + sizeof key - 1;
        while (*v == ' ' || *v == ':')
            v++;
        if (*v != '"' || strncmp(v, "\"F32\"", 5) == 0)
            continue;
        const char *end = strchr(v + 1, '"');
        const int dlen = end ? (int)(end - v - 1) : 0;
        /* back from the entry's '{' over ':' and blanks to the key's quotes */
        const char *b = p;
        while (b > text && *b != '{')
            b--;
        while (b > text && (b[-1] == ' ' || b[-1] == ':'))
            b--;
        const char *q = b > text + 1 && b[-1] == '"' ? b - 2 : NULL;
        while (q && q > text && !(q[0] == '"' && q[-1] != '\\'))
            q--;
        const int nlen = q && *q == '"' ? (int)(b - q - 2) : -1;
        if (nlen >= 0 && nlen <= 255)
            fprintf(stderr, "gdropout-plan: %s: tensor \"%.*s\" has dtype %.*s; a Fisher file "
                    "holds F32 tensors only\n", in->name, nlen, q + 1, dlen > 16 ? 16 : dlen,
                    v + 1);
        else
            fprintf(stderr, "gdropout-plan: %s: a tensor has dtype %.*s; a Fisher file holds F32 "
                    "tensors only\n", in->name, dlen > 16 ? 16 : dlen, v + 1);
        return true;
    }
    return false;
}

/* Why gd_fisher_load refused the input, as precisely as the tool can say:
 * truncation and foreign dtypes are named, the rest gets the library's
 * reason. */
static int fisher_load_error(const input *in, uint64_t header_len, int rc)
{
    const uint64_t size = input_size(in);
    if (rc == GD_EFORMAT && header_len > size - 8) {
        fprintf(stderr, "gdropout-plan: %s: truncated Fisher file: its header alone is %llu "
                "bytes, the file has %llu after the length\n", in->name,
                (unsigned long long)header_len, (unsigned long long)(size - 8));
        return EXIT_DATA;
    }
    if (rc == GD_EFORMAT && header_len >= 2) { /* a plausible header: look into it */
        char *text = malloc((size_t)header_len + 1);
        const size_t got = text ? (in->regular ? (size_t)pread(in->fd, text, header_len, 8)
                                               : (size_t)header_len)
                                : 0;
        if (text && !in->regular)
            memcpy(text, in->buf + 8, (size_t)header_len);
        bool said = false;
        if (text && got == header_len) {
            text[header_len] = '\0';
            said = report_dtype(in, text);
        }
        free(text);
        if (said)
            return EXIT_DATA;
    }
    return data_error(in->name, "cannot read the Fisher file", rc);
}

static int cmp_size(const void *a, const void *b)
{
    const size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* Index of v in the sorted, distinct u[0 .. n) (v is there). */
static size_t rank_of(const size_t *u, size_t n, size_t v)
{
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        const size_t mid = lo + (hi - lo) / 2;
        if (u[mid] <= v)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* The distinct sites the tensors feed, sorted, in *fed (k of them). */
static int fed_sites(const gd_fisher *f, size_t n_tensors, size_t **fed, size_t *k)
{
    size_t *u = malloc((n_tensors ? n_tensors : 1) * sizeof *u), n = 0;
    if (!u)
        return GD_ENOMEM;
    for (size_t id = 0; id < n_tensors; id++) {
        size_t site;
        const int rc = gd_fisher_info(f, id, NULL, NULL, &site);
        if (rc != GD_OK) {
            free(u);
            return rc;
        }
        if (site != GD_NONE)
            u[n++] = site;
    }
    qsort(u, n, sizeof *u, cmp_size);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || u[i] != u[m - 1])
            u[m++] = u[i];
    *fed = u;
    *k = m;
    return GD_OK;
}

/* One line on stderr for the sites no tensor feeds (0 .. max, not in fed). */
static void note_missing(const size_t *fed, size_t k)
{
    const size_t missing = fed[k - 1] + 1 - k;
    if (missing == 0)
        return;
    if (missing == 1) {
        size_t site = 0;
        while (site < k && fed[site] == site)
            site++;
        fprintf(stderr, "gdropout-plan: note: site %zu is fed by no tensor: left out of the plan "
                "(keep it at its standard rate); later sites move down one index\n", site);
        return;
    }
    fprintf(stderr, "gdropout-plan: note: %zu sites are fed by no tensor (", missing);
    size_t listed = 0, next = 0;
    for (size_t i = 0; i < k && listed < LIST_MISSING; i++) {
        for (; next < fed[i] && listed < LIST_MISSING; next++)
            fprintf(stderr, "%s%zu", listed++ ? ", " : "", next);
        next = fed[i] + 1;
    }
    fprintf(stderr, "%s): left out of the plan (keep them at their standard rate); later "
            "sites move down\n", missing > listed ? ", ..." : "");
}

/* c: the fed tensors of f with their sites renumbered 0 .. k-1 (their
 * ranks in fed), sums and weights copied.  Only for a file whose site
 * numbers leave gaps, so that scoring needs k floats, not max site + 1. */
static int compact_copy(const gd_fisher *f, size_t n_tensors, const size_t *fed, size_t k,
                        gd_fisher **out)
{
    gd_fisher *c = NULL;
    double *buf = NULL;
    size_t buf_len = 0;
    int rc = gd_fisher_create(&c);
    for (size_t id = 0; rc == GD_OK && id < n_tensors; id++) {
        const char *name;
        size_t numel, site, cid;
        double w;
        rc = gd_fisher_info(f, id, &name, &numel, &site);
        if (rc != GD_OK || site == GD_NONE)
            continue;
        if (numel > buf_len) {
            free(buf);
            buf = numel <= SIZE_MAX / sizeof *buf ? malloc(numel * sizeof *buf) : NULL;
            buf_len = buf ? numel : 0;
            if (!buf) {
                rc = GD_ENOMEM;
                break;
            }
        }
        rc = gd_fisher_add_tensor(c, name, numel, rank_of(fed, k, site), &cid);
        if (rc == GD_OK)
            rc = gd_fisher_sums(f, id, buf, numel, &w);
        if (rc == GD_OK)
            rc = gd_fisher_set_sums(c, cid, buf, numel, w);
    }
    free(buf);
    if (rc != GD_OK) {
        gd_fisher_destroy(c);
        return rc;
    }
    *out = c;
    return GD_OK;
}

/* The name of each fed site: its tensors' common name prefix up to a '.'
 * or '/' (the whole name for one tensor), or "" when that is no valid plan
 * name.  One pass over the tensors. */
typedef struct prefix {
    const char *first;
    size_t len, count;
} prefix;

static void finish_name(const prefix *p, char *out)
{
    size_t len = p->len;
    if (p->count > 1)
        while (len > 0 && p->first[len - 1] != '.' && p->first[len - 1] != '/')
            len--;
    while (len > 0 && (p->first[len - 1] == '.' || p->first[len - 1] == '/'))
        len--;
    out[0] = '\0';
    if (!p->first || len == 0 || len > GD_NAME_MAX)
        return;
    memcpy(out, p->first, len);
    out[len] = '\0';
    if (!gd_name_ok(out, false, false) || !strcmp(out, "-"))
        out[0] = '\0';
}

static int name_sites(const gd_fisher *f, size_t n_tensors, const size_t *fed, size_t k,
                      prefix *pre)
{
    for (size_t id = 0; id < n_tensors; id++) {
        const char *name;
        size_t site;
        const int rc = gd_fisher_info(f, id, &name, NULL, &site);
        if (rc != GD_OK)
            return rc;
        if (site == GD_NONE)
            continue;
        prefix *p = &pre[rank_of(fed, k, site)];
        if (p->count++ == 0) {
            p->first = name;
            p->len = strlen(name);
        }
        size_t j = 0;
        while (j < p->len && name[j] == p->first[j])
            j++;
        p->len = j;
    }
    return GD_OK;
}

/* After GD_ESTATE from the scores: the first scored tensor without samples. */
static int no_samples_error(const input *in, const gd_fisher *f, size_t n_tensors)
{
    for (size_t id = 0; id < n_tensors; id++) {
        const char *name;
        size_t numel, site;
        float one;
        if (gd_fisher_info(f, id, &name, &numel, &site) == GD_OK && site != GD_NONE &&
            gd_fisher_unit_scores(f, id, 1, numel, GD_AXIS_ROWS, &one) == GD_ESTATE) {
            fprintf(stderr, "gdropout-plan: %s: tensor \"%s\" (site %zu) has no samples (weight "
                    "0): accumulate into it, or register it on no site\n", in->name, name, site);
            return EXIT_DATA;
        }
    }
    return data_error(in->name, "cannot score the sites", GD_ESTATE);
}

/* Scores and names of the fed sites of a loaded Fisher object. */
static int fisher_sites(const options *o, const input *in, const gd_fisher *f, sites *s)
{
    size_t n_tensors = 0, *fed = NULL, k = 0;
    int rc = gd_fisher_count(f, &n_tensors);
    if (rc == GD_OK)
        rc = fed_sites(f, n_tensors, &fed, &k);
    if (rc != GD_OK)
        return data_error(in->name, "cannot read the Fisher file", rc);
    if (k == 0) {
        free(fed);
        return data_error(in->name, "no tensor feeds a dropout site", 0);
    }
    note_missing(fed, k);
    gd_fisher *c = NULL;
    float *score = malloc(k * sizeof *score);
    prefix *pre = calloc(k, sizeof *pre);
    char name[GD_NAME_MAX + 1];
    rc = score && pre ? GD_OK : GD_ENOMEM;
    if (rc == GD_OK && fed[k - 1] + 1 != k)
        rc = compact_copy(f, n_tensors, fed, k, &c);
    if (rc == GD_OK)
        rc = gd_fisher_site_scores(c ? c : f, o->reduce, score, k);
    if (rc == GD_OK)
        rc = name_sites(f, n_tensors, fed, k, pre);
    int status = 0;
    for (size_t i = 0; rc == GD_OK && i < k && !status; i++) {
        finish_name(&pre[i], name);
        if (!sites_add(s, score[i], name, strlen(name), fed[i]))
            status = out_of_memory(in->name);
    }
    if (rc == GD_ESTATE)
        status = no_samples_error(in, f, n_tensors);
    else if (rc == GD_EDOMAIN && o->reduce == GD_REDUCE_SUM)
        status = data_error(in->name, "a site's sum of estimates is beyond the float range "
                            "(use --reduce tensor-mean, element-mean or max)", 0);
    else if (rc != GD_OK)
        status = data_error(in->name, "cannot score the sites", rc);
    gd_fisher_destroy(c);
    free(score);
    free(pre);
    free(fed);
    return status;
}

static int read_fisher(const options *o, input *in, sites *s)
{
    uint64_t header_len = 0;
    if (!fisher_header(in, &header_len) && input_size(in) < 9)
        return data_error(in->name, "too short for a Fisher file", 0);
    char tmp[512];
    const char *path = NULL;
    int status = fisher_path(in, tmp, sizeof tmp, &path);
    if (status)
        return status;
    gd_fisher *f = NULL;
    const int rc = gd_fisher_load(&f, path);
    if (path == tmp)
        unlink(tmp);
    if (rc != GD_OK)
        return fisher_load_error(in, header_len, rc);
    status = fisher_sites(o, in, f, s);
    gd_fisher_destroy(f);
    return status;
}

/* ---- scores input ------------------------------------------------------- */

/* A spelling of NaN or Inf that strtof would take: a score that is not
 * finite, rather than not a number at all. */
static bool names_non_finite(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    static const char *const words[] = {"nan", "inf", "infinity"};
    for (size_t i = 0; i < 3; i++) {
        size_t j = 0;
        while (words[i][j] && (s[j] | 0x20) == words[i][j])
            j++;
        if (!words[i][j] && (s[j] == '\0' || (i == 0 && s[j] == '(')))
            return true;
    }
    return false;
}

/* The reason a score field is refused, or NULL if it is a finite float. */
static const char *score_problem(const char *text, size_t len, float *out)
{
    if (!gd_parse_float(text, len, out))
        return names_non_finite(text) ? "is not finite" : "is not a decimal number";
    return isfinite(*out) ? NULL : "is not finite (beyond the float range)";
}

/* One data line of a scores file: its index, name and score. */
typedef struct score_line {
    size_t index;
    const char *name;
    size_t name_len;
    float score;
} score_line;

static int line_error(const input *in, size_t line_no, const char *fmt, const char *arg)
{
    fprintf(stderr, "gdropout-plan: %s:%zu: ", in->name, line_no);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return EXIT_DATA;
}

/* A refused name for a message: printable ASCII as it is, every other byte
 * as \xNN.  A C1 control (U+0085 is bytes c2 85) prints as nothing on a
 * terminal, so the raw name could look like an accepted one.  buf holds
 * 4 * strlen(s) + 1 bytes. */
static const char *escaped(const char *s, char *buf)
{
    static const char hex[] = "0123456789abcdef";
    char *o = buf;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c >= 0x20 && *c < 0x7f) {
            *o++ = (char)*c;
            continue;
        }
        *o++ = '\\';
        *o++ = 'x';
        *o++ = hex[*c >> 4];
        *o++ = hex[*c & 15];
    }
    *o = '\0';
    return buf;
}

/* Parses one data line (form: 2, 3 or 4 fields, fixed by the first line). */
static int parse_score_line(const input *in, size_t line_no, char *text, size_t len, size_t *form,
                            size_t data_no, score_line *out)
{
    const char *f[4];
    size_t fl[4];
    const size_t n = gd_split_fields(text, len, f, fl, 4);
    if (n < 2 || n > 4)
        return line_error(in, line_no, "%s",
                          "expected \"<name> <score>\", \"<index> <name> <score>\" or a plan "
                          "line \"<index> <name> <score> <p>\"");
    if (*form && *form != n)
        return line_error(in, line_no, "%s", "not the form of the first line (the same "
                          "number of fields on every line)");
    *form = n;
    out->index = data_no;
    if (n >= 3 && !gd_parse_size(f[0], fl[0], &out->index))
        return line_error(in, line_no, "index '%s' is not a decimal integer (no sign, no "
                          "leading zeros)", f[0]);
    const size_t ni = n == 2 ? 0 : 1;
    const char *problem = score_problem(f[ni + 1], fl[ni + 1], &out->score);
    if (problem) {
        fprintf(stderr, "gdropout-plan: %s:%zu: score '%s' %s\n", in->name, line_no, f[ni + 1],
                problem);
        return EXIT_DATA;
    }
    float p;
    if (n == 4 && !(gd_parse_float(f[3], fl[3], &p) && p >= 0.0f && p <= 1.0f))
        return line_error(in, line_no, "p '%s' is not a probability in [0, 1]", f[3]);
    const bool unnamed = fl[ni] == 1 && f[ni][0] == '-';
    if (!unnamed && !gd_name_ok(f[ni], false, false)) {
        char shown[4 * GD_LINE_MAX + 1]; /* a field is at most a line */
        return line_error(in, line_no, "bad name '%s' (UTF-8 without white space or control "
                          "characters, at most 255 bytes)", escaped(f[ni], shown));
    }
    out->name = unnamed ? "" : f[ni];
    out->name_len = unnamed ? 0 : fl[ni];
    return 0;
}

static const char *text_problem(int got)
{
    switch (got) {
    case GD_TEXT_LONG:
        return "line longer than 1024 bytes";
    case GD_TEXT_NUL:
        return "a NUL byte: not a text file (a Fisher file? try --input-format fisher)";
    default:
        return "read error";
    }
}

/* Every data line into s in file order (origin = its index), then checked
 * and sorted by index. */
static int read_score_lines(const input *in, FILE *fp, sites *s)
{
    char line[GD_LINE_MAX + 2];
    size_t len, line_no = 0, form = 0;
    int got;
    while ((got = gd_read_line(fp, line, &len)) == GD_TEXT_LINE) {
        line_no++;
        if (gd_line_is_comment(line, len))
            continue;
        score_line r;
        const int rc = parse_score_line(in, line_no, line, len, &form, s->n, &r);
        if (rc)
            return rc;
        if (!sites_add(s, r.score, r.name, r.name_len, r.index))
            return out_of_memory(in->name);
    }
    if (got != GD_TEXT_END)
        return line_error(in, line_no + 1, "%s", text_problem(got));
    if (s->n == 0)
        return data_error(in->name, line_no ? "no scores (only comments and blank lines)"
                                            : "no scores (the input is empty)",
                          0);
    return 0;
}

/* Puts the sites in index order: every index 0 .. n-1 exactly once. */
static int order_by_index(const input *in, sites *s)
{
    const size_t n = s->n;
    size_t *where = malloc(n * sizeof *where);
    float *score = malloc(n * sizeof *score);
    size_t *name_at = malloc(n * sizeof *name_at);
    int status = where && score && name_at ? 0 : out_of_memory(in->name);
    for (size_t i = 0; !status && i < n; i++)
        where[i] = SIZE_MAX;
    for (size_t i = 0; !status && i < n; i++) {
        const size_t k = s->origin[i];
        if (k >= n || where[k] != SIZE_MAX) {
            fprintf(stderr, "gdropout-plan: %s: index %zu is out of range or repeated "
                    "(indices must be 0 .. %zu, each once)\n", in->name, k, n - 1);
            status = EXIT_DATA;
            break;
        }
        where[k] = i;
    }
    for (size_t k = 0; !status && k < n; k++) {
        score[k] = s->score[where[k]];
        name_at[k] = s->name_at[where[k]];
    }
    if (!status) {
        for (size_t k = 0; k < n; k++)
            s->origin[k] = k;
        free(s->score);
        free(s->name_at);
        s->score = score;
        s->name_at = name_at;
        score = NULL;
        name_at = NULL;
    }
    free(where);
    free(score);
    free(name_at);
    return status;
}

static int read_scores(input *in, sites *s)
{
    FILE *fp = NULL;
    if (!in->regular && in->len == 0)
        return data_error(in->name, "no scores (the input is empty)", 0);
    if (in->regular) {
        fp = fdopen(in->fd, "rb");
        if (fp)
            in->fd = -1; /* fclose closes it */
    } else {
        fp = fmemopen(in->buf, in->len, "rb");
    }
    if (!fp)
        return data_error(in->name, strerror(errno), 0);
    int status = read_score_lines(in, fp, s);
    fclose(fp);
    if (!status)
        status = order_by_index(in, s);
    return status;
}

/* ---- the plan -------------------------------------------------------------- */

static int build_plan(const options *o, const input *in, const sites *s, gd_plan **out)
{
    gd_plan *p = NULL;
    int rc = gd_plan_create(&p, s->n);
    for (size_t i = 0; rc == GD_OK && i < s->n; i++)
        rc = gd_plan_set_site(p, i, site_name_of(s, i), s->score[i]);
    if (rc == GD_OK)
        rc = gd_plan_compute(p, o->rule, o->p_max, o->p_min);
    if (rc == GD_OK && o->control != 0)
        rc = gd_plan_control(p, o->control, o->seed);
    if (rc != GD_OK) {
        gd_plan_destroy(p);
        return data_error(in->name, o->rule == GD_RULE_LOG_SCORE_LINEAR && rc == GD_EDOMAIN
                                        ? "log-score-linear needs every score > 0"
                                        : "cannot compute the plan",
                          rc);
    }
    *out = p;
    return 0;
}

static void print_table(const options *o, const sites *s, const gd_plan *p, bool fisher)
{
    int w = 4, ws = 5;
    for (size_t i = 0; i < s->n; i++) {
        const int len = (int)strlen(site_name_of(s, i));
        w = len > w ? len : w;
        const int digits = snprintf(NULL, 0, "%zu", s->origin[i]);
        ws = digits > ws ? digits : ws;
    }
    printf("# %s, p_max %g, p_min %g, %zu sites%s%s", name_of(RULES, o->rule), (double)o->p_max,
           (double)o->p_min, s->n, fisher ? ", reduce " : "", fisher ? name_of(REDUCES, o->reduce) : "");
    if (o->control != 0)
        printf(", control %s (seed %llu)", name_of(CONTROLS, o->control),
               (unsigned long long)o->seed);
    putchar('\n');
    if (fisher)
        printf("%5s %*s %-*s %14s %12s\n", "index", ws, "site", w, "name", "score", "p");
    else
        printf("%5s %-*s %14s %12s\n", "index", w, "name", "score", "p");
    for (size_t i = 0; i < s->n; i++) {
        float prob;
        if (gd_plan_get(p, i, &prob) != GD_OK)
            prob = NAN; /* cannot happen: the plan was just computed */
        const char *name = site_name_of(s, i)[0] ? site_name_of(s, i) : "-";
        if (fisher)
            printf("%5zu %*zu %-*s %14.6g %12.9g\n", i, ws, s->origin[i], w, name,
                   (double)s->score[i], (double)prob);
        else
            printf("%5zu %-*s %14.6g %12.9g\n", i, w, name, (double)s->score[i], (double)prob);
    }
}

static int run(const options *o, input *in, sites *s)
{
    uint64_t header_len;
    const bool fisher = !strcmp(o->format, "fisher") ||
                        (!strcmp(o->format, "auto") && fisher_header(in, &header_len));
    int rc = fisher ? read_fisher(o, in, s) : read_scores(in, s);
    gd_plan *p = NULL;
    if (!rc)
        rc = build_plan(o, in, s, &p);
    if (!rc && !o->quiet)
        print_table(o, s, p, fisher);
    if (!rc && o->out) {
        const int w = gd_plan_save(p, o->out);
        if (w != GD_OK)
            rc = data_error(o->out, "cannot write the plan", w);
    }
    gd_plan_destroy(p);
    return rc;
}

/* The exit status once stdout is flushed: a table, help or version text
 * lost to a full disk is a failure, not exit 0. */
static int flush_stdout(int rc)
{
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout))
        return rc;
    fprintf(stderr, "gdropout-plan: cannot write to standard output%s%s\n", errno ? ": " : "",
            errno ? strerror(errno) : "");
    return rc ? rc : 1;
}

int main(int argc, char **argv)
{
    options o = {NULL, NULL, "auto", GD_RULE_RANK_LINEAR, GD_REDUCE_TENSOR_MEAN, 0.1f, 0.0f,
                 false, 0, 0};
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return flush_stdout(rc);
    input in;
    sites s;
    if (!sites_init(&s))
        return out_of_memory(o.input);
    rc = open_input(o.input, &in);
    if (!rc)
        rc = run(&o, &in, &s);
    close_input(&in);
    sites_free(&s);
    return flush_stdout(rc);
}

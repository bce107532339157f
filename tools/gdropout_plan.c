/*
 * gdropout-plan: turns per-site scores into a guided dropout plan.
 *
 * Input is either a Fisher file written by gd_fisher_save (safetensors,
 * detected by its header) or a text file of scores, one site a line:
 *   <name> <score>            (the index is the line's order)
 *   <index> <name> <score>    (every index 0 .. n-1 exactly once)
 * with '#' comment lines; "-" is an unnamed site.
 *
 * From a Fisher file, the sites are 0 .. gd_fisher_site_count - 1.  A site
 * that no tensor feeds has no score: it is left out of the plan (the host
 * keeps it at its standard rate) and the sites after it move down, so plan
 * index i is the i-th fed site in increasing site order; the table shows
 * both numbers and a note on stderr names every site left out.
 *
 * Exit status: 0 success, 1 bad data (unreadable or malformed input, a rule
 * that cannot use the scores, a plan that cannot be written), 2 usage.
 */
#include <gdropout/gdropout.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_DATA = 1, EXIT_USAGE = 2 };
enum { LINE_MAX_BYTES = 4096, NAME_MAX_BYTES = 255 };

typedef struct options {
    const char *input, *out, *format;
    int rule, reduce;
    float p_max, p_min;
    bool quiet;
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
static const named_value REDUCES[] = {{"tensor-mean", GD_REDUCE_TENSOR_MEAN},
                                      {"element-mean", GD_REDUCE_ELEMENT_MEAN},
                                      {"sum", GD_REDUCE_SUM},
                                      {"max", GD_REDUCE_MAX},
                                      {NULL, 0}};

/* The sites of the plan: scores, names, and the Fisher site each came from. */
typedef struct sites {
    size_t n;
    float *score;
    char (*name)[NAME_MAX_BYTES + 1];
    size_t *origin; /* Fisher site, or the index itself for a scores file */
} sites;

static void usage(FILE *fp)
{
    fputs("Usage: gdropout-plan [options] INPUT\n"
          "\n"
          "Turns per-site scores into a guided dropout plan (Sharma et al., arXiv\n"
          "2406.14005): the least informative site gets P_MAX, the most informative\n"
          "P_MIN.  INPUT is a Fisher file written by gd_fisher_save (safetensors) or a\n"
          "text file of scores, one site a line: \"<name> <score>\" or\n"
          "\"<index> <name> <score>\" ('#' comments; \"-\" for no name).\n"
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
          "  -q, --quiet            do not print the table\n"
          "  -h, --help             this help\n"
          "  -V, --version          the library version\n"
          "\n"
          "From a Fisher file, sites that no tensor feeds are left out of the plan\n"
          "(keep them at their standard rate) and later sites move down one index;\n"
          "the table shows both the plan index and the Fisher site.\n"
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

static bool parse_prob(const char *s, float *out)
{
    char *end;
    errno = 0;
    const double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !(v >= 0.0 && v <= 1.0))
        return false;
    *out = (float)v;
    return true;
}

/* The value of an option: "--opt=value" or the next argument. */
static const char *option_value(int argc, char **argv, int *i, const char *eq)
{
    if (eq)
        return eq + 1;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

/* One option with a value; returns 0, or an exit status. */
static int set_option(options *o, const char *opt, const char *val)
{
    if (!val)
        return usage_error("option '%s' needs a value", opt);
    if (!strcmp(opt, "-o") || !strcmp(opt, "--out")) {
        o->out = val;
    } else if (!strcmp(opt, "-r") || !strcmp(opt, "--rule")) {
        if (!lookup_name(RULES, val, &o->rule))
            return usage_error("unknown rule '%s'", val);
    } else if (!strcmp(opt, "--reduce")) {
        if (!lookup_name(REDUCES, val, &o->reduce))
            return usage_error("unknown reduction '%s'", val);
    } else if (!strcmp(opt, "--p-max") || !strcmp(opt, "--p-min")) {
        if (!parse_prob(val, !strcmp(opt, "--p-max") ? &o->p_max : &o->p_min))
            return usage_error("'%s' is not a probability in [0, 1]", val);
    } else if (!strcmp(opt, "--input-format")) {
        if (strcmp(val, "auto") && strcmp(val, "fisher") && strcmp(val, "scores"))
            return usage_error("unknown input format '%s'", val);
        o->format = val;
    } else {
        return usage_error("unknown option '%s'", opt);
    }
    return 0;
}

/* Returns -1 to go on, or an exit status (help, version, usage error). */
static int parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            printf("gdropout-plan (libgdropout %s)\n", gd_version_string());
            return 0;
        }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o->quiet = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            char opt[64];
            const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
            const size_t len = eq ? (size_t)(eq - a) : strlen(a);
            snprintf(opt, sizeof opt, "%.*s", (int)(len < 63 ? len : 63), a);
            const int rc = set_option(o, opt, option_value(argc, argv, &i, eq));
            if (rc)
                return rc;
        } else if (o->input) {
            return usage_error("more than one input ('%s')", a);
        } else {
            o->input = a;
        }
    }
    if (!o->input)
        return usage_error("%s", "no input file");
    if (o->p_min > o->p_max)
        return usage_error("%s", "--p-min is larger than --p-max");
    return -1;
}

/* ---- the sites ---------------------------------------------------------- */

static bool sites_alloc(sites *s, size_t n)
{
    s->n = n;
    s->score = calloc(n ? n : 1, sizeof *s->score);
    s->name = calloc(n ? n : 1, sizeof *s->name);
    s->origin = calloc(n ? n : 1, sizeof *s->origin);
    return s->score && s->name && s->origin;
}

static void sites_free(sites *s)
{
    free(s->score);
    free(s->name);
    free(s->origin);
}

static int data_error(const char *path, const char *what, int rc)
{
    fprintf(stderr, "gdropout-plan: %s: %s%s%s\n", path, what, rc ? ": " : "",
            rc ? gd_strerror(rc) : "");
    return EXIT_DATA;
}

/* A safetensors file: 8-byte little-endian header length, then '{'. */
static bool looks_like_fisher(const char *path)
{
    unsigned char b[9];
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    const bool got = fread(b, 1, 9, fp) == 9;
    long size = -1;
    if (got && fseek(fp, 0, SEEK_END) == 0)
        size = ftell(fp);
    fclose(fp);
    if (!got || size < 9)
        return false;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | b[i];
    return b[8] == '{' && n <= (uint64_t)size - 8;
}

/* The name of a Fisher site: its tensors' common name prefix up to a '.' or
 * '/' (the whole name for one tensor), or "" when that is no valid plan
 * name. */
static void site_name(const gd_fisher *f, size_t site, char *out)
{
    size_t n, len = 0, count = 0;
    const char *first = NULL;
    if (gd_fisher_count(f, &n) != GD_OK)
        n = 0;
    for (size_t id = 0; id < n; id++) {
        const char *name;
        size_t s;
        if (gd_fisher_info(f, id, &name, NULL, &s) != GD_OK || s != site)
            continue;
        if (count++ == 0) {
            first = name;
            len = strlen(name);
        }
        size_t k = 0;
        while (k < len && name[k] == first[k])
            k++;
        len = k;
    }
    if (count > 1)
        while (len > 0 && first[len - 1] != '.' && first[len - 1] != '/')
            len--;
    while (len > 0 && (first[len - 1] == '.' || first[len - 1] == '/'))
        len--;
    out[0] = '\0';
    if (!first || len == 0 || len > NAME_MAX_BYTES)
        return;
    memcpy(out, first, len);
    out[len] = '\0';
    for (size_t k = 0; k < len; k++)
        if ((unsigned char)out[k] <= ' ' || out[k] == 0x7f)
            out[0] = '\0';
    if (!strcmp(out, "-"))
        out[0] = '\0';
}

static int read_fisher(const options *o, sites *s)
{
    gd_fisher *f = NULL;
    size_t n = 0, fed = 0;
    int rc = gd_fisher_load(&f, o->input);
    if (rc != GD_OK)
        return data_error(o->input, "cannot read the Fisher file", rc);
    rc = gd_fisher_site_count(f, &n);
    if (rc != GD_OK || n == 0) {
        gd_fisher_destroy(f);
        return data_error(o->input, "no tensor feeds a dropout site", rc);
    }
    float *all = calloc(n, sizeof *all);
    if (!all || !sites_alloc(s, n)) {
        free(all);
        gd_fisher_destroy(f);
        return data_error(o->input, "out of memory", 0);
    }
    rc = gd_fisher_site_scores(f, o->reduce, all, n);
    if (rc != GD_OK) {
        free(all);
        gd_fisher_destroy(f);
        return data_error(o->input, "cannot score the sites", rc);
    }
    for (size_t site = 0; site < n; site++) {
        if (isnan(all[site])) {
            fprintf(stderr,
                    "gdropout-plan: note: site %zu is fed by no tensor: left out of the plan "
                    "(keep it at its standard rate); later sites move down one index\n",
                    site);
            continue;
        }
        s->score[fed] = all[site];
        s->origin[fed] = site;
        site_name(f, site, s->name[fed]);
        fed++;
    }
    s->n = fed;
    free(all);
    gd_fisher_destroy(f);
    return 0;
}

/* Splits at blanks into at most 4 fields; returns the count (4 = too many). */
static size_t split_fields(char *line, char **field)
{
    size_t n = 0;
    for (char *tok = strtok(line, " \t\r\n"); tok; tok = strtok(NULL, " \t\r\n")) {
        if (n == 4)
            return 4;
        field[n++] = tok;
    }
    return n;
}

static bool parse_index(const char *s, size_t *out)
{
    char *end;
    if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] != '\0'))
        return false;
    errno = 0;
    const unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0 || v > SIZE_MAX)
        return false;
    *out = (size_t)v;
    return true;
}

static bool parse_score(const char *s, float *out)
{
    char *end;
    const float v = strtof(s, &end);
    if (end == s || *end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* One data line of a scores file into row `line_no` (0-based data line). */
typedef struct score_line {
    size_t index;
    char name[NAME_MAX_BYTES + 1];
    float score;
} score_line;

static bool parse_score_line(char *text, int *form, size_t data_no, score_line *out)
{
    char *f[4];
    const size_t n = split_fields(text, f);
    if (n < 2 || n > 3 || (*form && *form != (int)n))
        return false;
    *form = (int)n;
    out->index = data_no;
    if (n == 3 && !parse_index(f[0], &out->index))
        return false;
    const char *name = f[n - 2];
    if (strlen(name) > NAME_MAX_BYTES || !parse_score(f[n - 1], &out->score))
        return false;
    strcpy(out->name, strcmp(name, "-") ? name : "");
    return true;
}

/* Reads every data line; reports the first bad one. */
static int read_score_lines(const char *path, score_line **rows, size_t *count)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "gdropout-plan: %s: %s\n", path, strerror(errno));
        return EXIT_DATA;
    }
    char line[LINE_MAX_BYTES + 2];
    size_t cap = 0, line_no = 0;
    int form = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, fp)) {
        line_no++;
        const size_t len = strlen(line);
        const char *p = line + strspn(line, " \t\r\n");
        if (len > LINE_MAX_BYTES || (len > 0 && line[len - 1] != '\n' && !feof(fp))) {
            rc = 1;
        } else if (*p == '\0' || *p == '#') {
            continue;
        } else {
            if (*count == cap) {
                cap = cap ? 2 * cap : 64;
                score_line *r = realloc(*rows, cap * sizeof *r);
                if (!r) {
                    rc = 1;
                    break;
                }
                *rows = r;
            }
            rc = parse_score_line(line, &form, *count, &(*rows)[*count]) ? 0 : 1;
            *count += !rc;
        }
        if (rc)
            fprintf(stderr, "gdropout-plan: %s:%zu: expected \"<name> <score>\" or "
                    "\"<index> <name> <score>\" (the same form on every line)\n", path, line_no);
    }
    fclose(fp);
    if (!rc && *count == 0) {
        fprintf(stderr, "gdropout-plan: %s: no scores\n", path);
        rc = 1;
    }
    return rc ? EXIT_DATA : 0;
}

static int read_scores(const options *o, sites *s)
{
    score_line *rows = NULL;
    size_t count = 0;
    int rc = read_score_lines(o->input, &rows, &count);
    if (!rc && !sites_alloc(s, count))
        rc = data_error(o->input, "out of memory", 0);
    for (size_t i = 0; !rc && i < count; i++)
        s->score[i] = NAN;
    for (size_t i = 0; !rc && i < count; i++) {
        const size_t k = rows[i].index;
        if (k >= count || !isnan(s->score[k])) {
            fprintf(stderr, "gdropout-plan: %s: index %zu is out of range or repeated "
                    "(indices must be 0 .. %zu, each once)\n", o->input, k, count - 1);
            rc = EXIT_DATA;
            break;
        }
        s->score[k] = rows[i].score;
        s->origin[k] = k;
        strcpy(s->name[k], rows[i].name);
    }
    free(rows);
    return rc;
}

/* ---- the plan -------------------------------------------------------------- */

static int build_plan(const options *o, const sites *s, gd_plan **out)
{
    gd_plan *p = NULL;
    int rc = gd_plan_create(&p, s->n);
    for (size_t i = 0; rc == GD_OK && i < s->n; i++) {
        rc = gd_plan_set_site(p, i, s->name[i], s->score[i]);
        if (rc == GD_EINVAL) {
            fprintf(stderr, "gdropout-plan: %s: site %zu: bad name '%s' (no white space or "
                    "control characters, at most 255 bytes)\n", o->input, i, s->name[i]);
            gd_plan_destroy(p);
            return EXIT_DATA;
        }
    }
    if (rc == GD_OK)
        rc = gd_plan_compute(p, o->rule, o->p_max, o->p_min);
    if (rc != GD_OK) {
        gd_plan_destroy(p);
        return data_error(o->input, o->rule == GD_RULE_LOG_SCORE_LINEAR && rc == GD_EDOMAIN
                                        ? "log-score-linear needs every score > 0"
                                        : "cannot compute the plan",
                          rc);
    }
    *out = p;
    return 0;
}

static void print_table(const options *o, const sites *s, const gd_plan *p, bool fisher)
{
    int w = 4;
    for (size_t i = 0; i < s->n; i++) {
        const int len = (int)strlen(s->name[i]);
        w = len > w ? len : w;
    }
    printf("# %s, p_max %g, p_min %g, %zu sites%s%s\n", name_of(RULES, o->rule),
           (double)o->p_max, (double)o->p_min, s->n, fisher ? ", reduce " : "",
           fisher ? name_of(REDUCES, o->reduce) : "");
    if (fisher)
        printf("%5s %5s %-*s %14s %12s\n", "index", "site", w, "name", "score", "p");
    else
        printf("%5s %-*s %14s %12s\n", "index", w, "name", "score", "p");
    for (size_t i = 0; i < s->n; i++) {
        float prob;
        if (gd_plan_get(p, i, &prob) != GD_OK)
            prob = NAN; /* cannot happen: the plan was just computed */
        if (fisher)
            printf("%5zu %5zu %-*s %14.6g %12.9g\n", i, s->origin[i], w,
                   s->name[i][0] ? s->name[i] : "-", (double)s->score[i], (double)prob);
        else
            printf("%5zu %-*s %14.6g %12.9g\n", i, w, s->name[i][0] ? s->name[i] : "-",
                   (double)s->score[i], (double)prob);
    }
}

int main(int argc, char **argv)
{
    options o = {NULL, NULL, "auto", GD_RULE_RANK_LINEAR, GD_REDUCE_TENSOR_MEAN, 0.1f, 0.0f,
                 false};
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    const bool fisher = !strcmp(o.format, "fisher") ||
                        (!strcmp(o.format, "auto") && looks_like_fisher(o.input));
    sites s = {0, NULL, NULL, NULL};
    rc = fisher ? read_fisher(&o, &s) : read_scores(&o, &s);
    gd_plan *p = NULL;
    if (!rc && s.n == 0)
        rc = data_error(o.input, "every site was left out: nothing to plan", 0);
    if (!rc)
        rc = build_plan(&o, &s, &p);
    if (!rc && !o.quiet)
        print_table(&o, &s, p, fisher);
    if (!rc && o.out) {
        const int w = gd_plan_save(p, o.out);
        if (w != GD_OK)
            rc = data_error(o.out, "cannot write the plan", w);
    }
    gd_plan_destroy(p);
    sites_free(&s);
    return rc;
}

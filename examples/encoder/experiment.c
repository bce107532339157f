/*
 * `encoder experiment`: the paper's comparison on the encoder.  For every
 * seed, task, training fraction and regime, one fine-tuning run (see
 * finetune.h: the subset, head, order and dropout streams depend on the seed
 * only, so regimes are paired), one row appended to a TSV (COLUMNS below).
 * A regime is a name with an optional rate, "standard:0.2" or "guided:0.3"
 * (p, or p_max of the planned regimes; without one, --p).
 *
 * Rows already in the file are skipped, so an interrupted run resumes where
 * it stopped; every row carries a digest of the run's settings, and a file
 * holding rows of other settings is refused rather than mixed.  A row is
 * written with one write(2) and fsync'ed; a failed or short write is cut
 * back off, and a torn last line left by a crash is cut on resume, so the
 * file only ever holds whole rows.  The file is locked while a process
 * appends to it: a second process on the same file is refused.
 * --shard K/N runs every N-th cell (two processes on two cores).
 * --curves FILE appends each evaluation (task, fraction, seed, regime,
 * rate, step, train_loss, val score, lr): the learning curves.
 * --export DIR writes each task's sets and the seeds' training subsets for
 * the bag-of-words baseline (experiment/baseline_tfidf.py).
 */
#define _POSIX_C_SOURCE 200809L
#include "commands.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "cli.h"
#include "finetune.h"

enum { MAX_LIST = 32, REG_SCRATCH = ENC_REG_N, ROW_MAX = 1024 };

#define COLUMNS                                                                                \
    "task\tfraction\tseed\tregime\trate\tlr\tn_train\tsteps\tbudget\tbest_step\ttrain_loss\t" \
    "best_train_loss\tmetric\tval_acc\tval_f1\ttest_acc\ttest_f1\tseconds\tconfig\n"

/* A regime of the grid: the regime and its rate, and the label and rate
 * text its rows carry. */
typedef struct grid_regime {
    int regime; /* ENC_REG_* or REG_SCRATCH */
    int sym;    /* 0: the rate is given; else a SYM_* of --selection */
    float rate;
    char label[32], rate_s[32];
} grid_regime;

/* Rates named after the choice on validation (--selection FILE): "@std" and
 * "@gd" the chosen p and p_max (0 among the candidates), "@std+" and "@gd+"
 * the best nonzero ones; the file's columns 3-6 in that order. */
enum { SYM_STD = 1, SYM_GD, SYM_STD_PLUS, SYM_GD_PLUS, SYM_N };
static const char *const sym_names[SYM_N] = {"", "@std", "@gd", "@std+", "@gd+"};

/* One cell of the grid: a run to do (or found done). */
typedef struct grid_cell {
    size_t task, frac;
    unsigned long long seed;
    grid_regime g;
    char key[ROW_MAX + 2];
} grid_cell;

/* The key of a row: its first five columns, as text (a fraction or rate
 * is compared as it is written, so a value the row format rounds still
 * matches on resume). */
typedef struct done_set {
    char (*key)[ROW_MAX + 2];
    size_t n, cap;
} done_set;

static size_t parse_regimes(const char *text, double p, grid_regime *out)
{
    size_t n = 0;
    char buf[512];
    if (strlen(text) >= sizeof buf)
        enc_die("--regimes: too long");
    snprintf(buf, sizeof buf, "%s", text);
    for (char *tok = strtok(buf, ","); tok != NULL; tok = strtok(NULL, ",")) {
        if (n == MAX_LIST)
            enc_die("--regimes: at most %d", MAX_LIST);
        grid_regime *g = &out[n++];
        char *colon = strchr(tok, ':');
        double r = p; /* written with 6 digits: a float flag 0.3 is "0.3", not 0.300000012 */
        g->sym = 0;
        if (colon != NULL) {
            *colon = '\0';
            int sym = enc_name_index(sym_names, SYM_N, colon + 1);
            if (sym > 0)
                g->sym = sym;
            else if (cli_list(colon + 1, &r, 1, 0.0, 0.9, "regimes") != 1)
                enc_die("--regimes: \"%s:%s\": one rate, or @std, @gd, @std+, @gd+", tok,
                        colon + 1);
        }
        g->rate = (float)r;
        g->regime = strcmp(tok, "scratch") == 0 ? REG_SCRATCH : enc_regime_parse(tok);
        if (g->regime < 0)
            enc_die("--regimes: unknown regime \"%s\" (none, standard, gaussian, gaussian-paper, "
                    "guided, matched, reversed, permuted, kind, scratch)", tok);
        if (g->regime == ENC_REG_NONE)
            g->rate = 0.0f, r = 0.0;
        snprintf(g->label, sizeof g->label, "%s", tok);
        snprintf(g->rate_s, sizeof g->rate_s, "%.6g", r);
    }
    if (n == 0)
        enc_die("--regimes: empty");
    return n;
}

/* FNV-1a, 64 bits: a digest of the settings, not a security measure. */
static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void make_key(char *key, size_t cap, const char *task, const char *frac,
                     unsigned long long seed, const char *regime, const char *rate)
{
    int n = snprintf(key, cap, "%s\t%s\t%llu\t%s\t%s", task, frac, seed, regime, rate);
    if (n < 0 || (size_t)n >= cap)
        enc_die("a row key over %zu bytes (task name too long?)", cap);
}

/* Reads the keys of path's rows; refuses rows of other settings (their
 * config column differs from config).  A last line without its newline
 * (a crash mid-row) is cut off when fd (path, opened for writing) is given,
 * else ignored. */
static void read_done(done_set *d, const char *path, int fd, const char *config,
                      const char *lr, const char *scratch_lr)
{
    FILE *f = enc_open_regular(path, NULL); /* a FIFO (--also) is refused, not waited on */
    char line[ROW_MAX + 2];
    size_t lineno = 0;
    long good = 0; /* bytes of whole lines */
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        size_t len = strlen(line);
        if (len == 0 || line[len - 1] != '\n') {
            if (!feof(f))
                enc_die("%s:%zu: a line over %d bytes: not a results file", path, lineno, ROW_MAX);
            fprintf(stderr, "encoder: %s:%zu: cutting a torn last line (an interrupted write)\n",
                    path, lineno);
            break;
        }
        good += (long)len;
        if (lineno == 1) {
            if (strcmp(line, COLUMNS) != 0)
                enc_die("%s: not a results file of this version (its header differs); write to "
                        "another --out", path);
            continue;
        }
        char *field[24];
        size_t nf = 0;
        line[len - 1] = '\0';
        for (char *s = line, *t; nf < 24; s = t + 1) {
            field[nf++] = s;
            if ((t = strchr(s, '\t')) == NULL)
                break;
            *t = '\0';
        }
        if (nf != 19)
            enc_die("%s:%zu: expected 19 tab-separated fields, got %zu", path, lineno, nf);
        if (strcmp(field[18], config) != 0)
            enc_die("%s:%zu: a row made with other settings (config %s; this run's %s): use "
                    "another --out, or the settings it was made with", path, lineno, field[18],
                    config);
        const char *want_lr = strcmp(field[3], "scratch") == 0 ? scratch_lr : lr;
        if (strcmp(field[5], want_lr) != 0)
            enc_die("%s:%zu: a row made with other settings (lr %s; this run's %s): use another "
                    "--out, or the settings it was made with", path, lineno, field[5], want_lr);
        if (d->n == d->cap) {
            d->cap = d->cap ? 2 * d->cap : 256;
            d->key = enc_realloc(d->key, d->cap, sizeof *d->key, "results");
        }
        /* The five fields hold fewer bytes than the line they came from. */
        char *k = d->key[d->n++];
        k[0] = '\0';
        for (size_t i = 0; i < 5; i++) {
            strcat(k, field[i]);
            if (i < 4)
                strcat(k, "\t");
        }
    }
    if (ferror(f))
        enc_die("%s: read error", path);
    fclose(f);
    if (fd >= 0 && ftruncate(fd, good) != 0) /* fd < 0: another process's file, read only */
        enc_die("%s: cannot cut the torn line: %s", path, strerror(errno));
}

static int is_done(const done_set *d, const char *key)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->key[i], key) == 0)
            return 1;
    return 0;
}

/* Opens path for appending, locked against a second writer, with the header
 * if it is new. */
static int open_locked(const char *path, const char *header)
{
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
        enc_die("%s: not a regular file", path);
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0)
        enc_die("%s: cannot open: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        enc_die("%s: another process is writing it (%s)", path, strerror(errno));
    off_t end = lseek(fd, 0, SEEK_END);
    if (end == 0 && header != NULL)
        enc_append_durable(path, header, strlen(header));
    return fd;
}

typedef struct subset_ctx {
    const enc_task *t;
    const double *fractions;
    size_t n_fractions, seeds;
    uint64_t first_seed;
} subset_ctx;

static void write_subsets(FILE *f, void *user)
{
    const subset_ctx *c = user;
    size_t *idx = enc_alloc(c->t->train.n, sizeof *idx, "subsets");
    fprintf(f, "fraction\tseed\tindices\n");
    for (size_t k = 0; k < c->seeds; k++)
        for (size_t j = 0; j < c->n_fractions; j++) {
            uint64_t seed = c->first_seed + k;
            size_t n = enc_subset(idx, &c->t->train, c->t->n_classes, c->fractions[j], seed,
                                  0x737562ull);
            fprintf(f, "%.9g\t%llu\t", c->fractions[j], (unsigned long long)seed);
            for (size_t i = 0; i < n; i++)
                fprintf(f, "%s%zu", i ? "," : "", idx[i]);
            fputc('\n', f);
        }
    free(idx);
}

static void make_dir(const char *dir)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        enc_die("%s: cannot create the folder: %s", dir, strerror(errno));
}

/* The rates chosen on validation: one line per (task, fraction), tab
 * separated, the six first columns task, fraction, p_std, p_gd, p_std_plus,
 * p_gd_plus (experiment/select_rates.py); a first line "task..." is the
 * header. */
typedef struct selection {
    struct {
        char task[64], frac[32];
        double rate[SYM_N];
    } *row;
    size_t n;
} selection;

static void read_selection(selection *sel, const char *path)
{
    FILE *f = enc_open_regular(path, NULL); /* a FIFO is refused, not waited on */
    char line[ROW_MAX + 2];
    size_t lineno = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        if (lineno == 1 && strncmp(line, "task\t", 5) == 0)
            continue;
        sel->row = enc_realloc(sel->row, sel->n + 1, sizeof *sel->row, "selection");
        char frac[64];
        double fr, *r = sel->row[sel->n].rate;
        if (sscanf(line, "%63[^\t]\t%63[^\t]\t%lf\t%lf\t%lf\t%lf", sel->row[sel->n].task, frac,
                   &r[SYM_STD], &r[SYM_GD], &r[SYM_STD_PLUS], &r[SYM_GD_PLUS]) != 6 ||
            cli_list(frac, &fr, 1, 1e-4, 1, "selection") != 1)
            enc_die("%s:%zu: expected task, fraction and four rates, tab separated", path, lineno);
        for (int k = 1; k < SYM_N; k++)
            if (!(r[k] >= 0.0 && r[k] <= 0.9))
                enc_die("%s:%zu: a rate outside [0, 0.9]", path, lineno);
        snprintf(sel->row[sel->n].frac, sizeof sel->row[sel->n].frac, "%.9g", fr);
        sel->n++;
    }
    if (ferror(f))
        enc_die("%s: read error", path);
    fclose(f);
}

/* The rate symbol `sym` resolves to for (task, fraction as "%.9g"). */
static double resolve(const selection *sel, const char *task, const char *frac, int sym)
{
    for (size_t i = 0; i < sel->n; i++)
        if (strcmp(sel->row[i].task, task) == 0 && strcmp(sel->row[i].frac, frac) == 0)
            return sel->row[i].rate[sym];
    enc_die("--selection: no rates for %s at fraction %s", task, frac);
}

/* The digest of everything a row's numbers depend on but its key and its lr
 * column (checked on its own, read_done): the budget and optimizer, the
 * pooling, the pool size, the scratch baseline's learning rate, the plan
 * and the pretrained weights. */
static void config_digest(char *out, size_t cap, const ft_setup *s, const char *pools,
                          size_t pool_n, float scratch_lr, const float *plan, size_t ns,
                          const float *pre, size_t n_pre)
{
    char text[512];
    int len = snprintf(text, sizeof text,
                       "cls_p=%.9g wd=%.9g epochs=%zu min=%zu max=%zu batch=%zu eval=%zu "
                       "patience=%zu pools=%s pool_size=%zu scratch_lr=%.9g",
                       (double)s->cls_p, (double)s->weight_decay, s->epochs, s->min_steps,
                       s->max_steps, s->batch, s->eval_every, s->patience, pools, pool_n,
                       (double)scratch_lr);
    uint64_t h = fnv(0xcbf29ce484222325ull, text, (size_t)len);
    if (plan != NULL)
        h = fnv(h, plan, ns * sizeof *plan);
    h = fnv(h, pre, n_pre * sizeof *pre);
    snprintf(out, cap, "%016llx", (unsigned long long)h);
}

int enc_cmd_experiment(int argc, char **argv)
{
    const char *ckpt = NULL, *plan_path = NULL, *tasks_s = "supersense,hypernymy";
    const char *fractions_s = "0.1,0.02";
    const char *regimes_s = "none,standard,gaussian,guided,matched,reversed,permuted,kind,scratch";
    const char *out = "results.tsv", *shard_s = "0/1", *export_dir = NULL, *pool_s = "mean";
    const char *pair_pool_s = NULL, *curves = NULL, *selection_path = NULL, *also = NULL;
    const char *wordnet = "/usr/share/wordnet", *train = NULL, *val = NULL, *test = NULL;
    ft_setup base = ft_defaults();
    float scratch_lr = 1e-3f;
    size_t seeds = 8, threads = 1, pool_n = 4000;
    uint64_t first_seed = 1;
    int regression = 0;
    cli_flag flags[48];
    const cli_flag own[] = {
        {"ckpt", CLI_STR, &ckpt, 0, 0, "pretrained checkpoint folder"},
        {"plan", CLI_STR, &plan_path, 0, 0, "guided plan [CKPT/guided.plan]"},
        {"tasks", CLI_LIST, &tasks_s, 0, 0, "comma-separated: supersense, hypernymy, tsv"},
        {"train", CLI_STR, &train, 0, 0, "tsv: training file"},
        {"val", CLI_STR, &val, 0, 0, "tsv: validation file"},
        {"test", CLI_STR, &test, 0, 0, "tsv: test file"},
        {"regression", CLI_BOOL, &regression, 0, 0, "tsv: labels are scores (squared error)"},
        {"fractions", CLI_LIST, &fractions_s, 0, 0, "training fractions"},
        {"regimes", CLI_LIST, &regimes_s, 0, 0, "regime[:rate],...: none, standard, gaussian, gaussian-paper, guided, matched, reversed, permuted, kind, scratch"},
        {"seeds", CLI_SIZE, &seeds, 1, 1000, "seeds per cell"},
        {"first-seed", CLI_U64, &first_seed, 0, 1e15, "the first seed"},
        {"scratch-lr", CLI_FLOAT, &scratch_lr, 1e-7, 1, "learning rate of the scratch baseline"},
        {"p", CLI_FLOAT, &base.rate, 0, 0.9, "the rate of a regime given without one"},
        {"pool", CLI_STR, &pool_s, 0, 0, "classifier input: mean or cls"},
        {"pair-pool", CLI_STR, &pair_pool_s, 0, 0, "...of pair tasks: mean, cls or pair [--pool]"},
        {"pool-size", CLI_SIZE, &pool_n, 16, 1e6, "training pool of the WordNet tasks"},
        {"wordnet", CLI_STR, &wordnet, 0, 0, "folder of WordNet 3.0 data.* files"},
        {"out", CLI_STR, &out, 0, 0, "results TSV (appended; existing rows are skipped)"},
        {"curves", CLI_STR, &curves, 0, 0, "learning-curve TSV (appended)"},
        {"selection", CLI_STR, &selection_path, 0, 0, "rates chosen on validation, for regime:@std, :@gd, :@std+, :@gd+"},
        {"also", CLI_LIST, &also, 0, 0, "results TSVs whose rows count as done (the other shards')"},
        {"shard", CLI_STR, &shard_s, 0, 0, "K/N: run cells K, K+N, ..."},
        {"export", CLI_STR, &export_dir, 0, 0, "write task sets and subsets here, then stop"},
        {"threads", CLI_SIZE, &threads, 1, 256, "OpenBLAS threads per process"},
    };
    size_t nf = sizeof own / sizeof *own;
    memcpy(flags, own, sizeof own);
    nf += ft_flags(flags + nf, &base);
    if (cli_parse(flags, nf, argc, argv, 2, "usage: encoder experiment --ckpt DIR [flags]"))
        return 0;
    if (ckpt == NULL)
        enc_die("experiment: --ckpt DIR is required");
    unsigned shard_k, shard_n;
    char tail;
    if (sscanf(shard_s, "%u/%u%c", &shard_k, &shard_n, &tail) != 2 || shard_n == 0 ||
        shard_k >= shard_n)
        enc_die("--shard %s: expected K/N with 0 <= K < N", shard_s);
    const int pool = enc_pool_parse(pool_s);
    const int pair_pool = pair_pool_s ? enc_pool_parse(pair_pool_s) : pool;
    if (pool < 0 || pool == ENC_POOL_PAIR)
        enc_die("--pool %s: expected mean or cls (pair tasks may add --pair-pool pair)", pool_s);
    if (pair_pool < 0)
        enc_die("--pair-pool %s: expected mean, cls or pair", pair_pool_s);
    openblas_set_num_threads((int)threads);
    double fractions[MAX_LIST];
    size_t n_frac = cli_list(fractions_s, fractions, MAX_LIST, 1e-4, 1, "fractions");
    char frac_s[MAX_LIST][32];
    for (size_t j = 0; j < n_frac; j++)
        snprintf(frac_s[j], sizeof frac_s[j], "%.9g", fractions[j]);
    grid_regime regimes[MAX_LIST];
    size_t n_reg = parse_regimes(regimes_s, base.rate, regimes);
    int planned = 0;
    for (size_t i = 0; i < n_reg; i++)
        planned |= regimes[i].regime != REG_SCRATCH && enc_regime_planned(regimes[i].regime);

    /* Every flag is checked before the expensive loading. */
    enc_task tasks[4];
    const char *task_names[4];
    size_t n_tasks = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", tasks_s);
    for (char *tok = strtok(buf, ","); tok != NULL; tok = strtok(NULL, ",")) {
        if (n_tasks == 4)
            enc_die("--tasks: at most 4");
        if (strcmp(tok, "supersense") != 0 && strcmp(tok, "hypernymy") != 0 &&
            strcmp(tok, "tsv") != 0)
            enc_die("--tasks: unknown task \"%s\" (supersense, hypernymy, tsv)", tok);
        task_names[n_tasks++] = tok;
    }
    /* The outputs, locked, before the loading (not for --export). */
    const int fd = export_dir ? -1 : open_locked(out, COLUMNS);
    const int cfd = curves && !export_dir
                        ? open_locked(curves, "task\tfraction\tseed\tregime\trate\tstep\t"
                                              "train_loss\tval\tlr\n")
                        : -1;
    enc_vocab v;
    enc_config cfg;
    float *pre = enc_load_pretrained(&cfg, &v, ckpt, 2);
    char path[4096];
    char plan_file[4096];
    enc_path(plan_file, sizeof plan_file, ckpt, "guided.plan");
    if (plan_path != NULL)
        snprintf(plan_file, sizeof plan_file, "%s", plan_path);
    /* Its rates, for the settings digest (runs read the file).  A plan given
     * counts even when no regime of this call needs it, so that one grid
     * split into calls by regime writes one digest. */
    float *plan = NULL;
    if ((planned || plan_path != NULL) && export_dir == NULL)
        plan = enc_read_plan(plan_file, enc_n_sites(&cfg));
    for (size_t t = 0; t < n_tasks; t++)
        enc_load_task(&tasks[t], task_names[t], wordnet, &v, train, val, test, regression, pool_n);
    if (export_dir != NULL) {
        make_dir(export_dir);
        for (size_t t = 0; t < n_tasks; t++) {
            char dir[4096];
            enc_path(dir, sizeof dir, export_dir, tasks[t].name);
            make_dir(dir);
            enc_task_export(&tasks[t], dir);
            subset_ctx c = {&tasks[t], fractions, n_frac, seeds, first_seed};
            enc_path(path, sizeof path, dir, "subsets.tsv");
            enc_write_atomic(path, write_subsets, &c);
            printf("exported %s to %s\n", tasks[t].name, dir);
        }
        return 0;
    }

    char config[32], pools[64];
    snprintf(pools, sizeof pools, "%s/%s", enc_pool_name(pool), enc_pool_name(pair_pool));
    enc_model probe;
    enc_config pc = cfg;
    pc.classes = 2;
    enc_model_create(&probe, &pc);
    const size_t n_encoder = probe.tensor[probe.P.cls.w_id].offset;
    enc_model_free(&probe);
    config_digest(config, sizeof config, &base, pools, pool_n, scratch_lr, plan,
                  enc_n_sites(&cfg), pre, n_encoder);

    char lr_s[32], scratch_lr_s[32]; /* as the rows write them */
    snprintf(lr_s, sizeof lr_s, "%.9g", (double)base.lr);
    snprintf(scratch_lr_s, sizeof scratch_lr_s, "%.9g", (double)scratch_lr);
    done_set done = {0};
    read_done(&done, out, fd, config, lr_s, scratch_lr_s);
    if (also != NULL) { /* other shards' files: their rows are done too */
        char list[4096];
        snprintf(list, sizeof list, "%s", also);
        for (char *tok = strtok(list, ","); tok != NULL; tok = strtok(NULL, ",")) {
            struct stat st;
            if (stat(tok, &st) != 0)
                continue; /* not written yet */
            read_done(&done, tok, -1, config, lr_s, scratch_lr_s);
        }
    }
    selection sel = {0};
    if (selection_path != NULL)
        read_selection(&sel, selection_path);
    /* The cells, seeds outermost (a partial grid covers every cell with the
     * first seeds); a rate resolved from the selection that repeats a cell of
     * the same seed, task and fraction is one cell, and standard or guided at
     * rate 0 is the none cell. */
    const size_t max_cells = enc_mul(enc_mul(seeds, n_tasks), enc_mul(n_frac, n_reg));
    grid_cell *cells = enc_alloc(max_cells, sizeof *cells, "cells");
    size_t n_cells = 0;
    for (size_t k = 0; k < seeds; k++)
        for (size_t t = 0; t < n_tasks; t++)
            for (size_t j = 0; j < n_frac; j++) {
                const size_t group = n_cells;
                for (size_t r = 0; r < n_reg; r++) {
                    grid_cell *c = &cells[n_cells];
                    c->task = t, c->frac = j, c->seed = first_seed + k, c->g = regimes[r];
                    if (c->g.sym) {
                        if (selection_path == NULL)
                            enc_die("--regimes: %s:%s needs --selection FILE", c->g.label,
                                    sym_names[c->g.sym]);
                        const double v = resolve(&sel, tasks[t].name, frac_s[j], c->g.sym);
                        c->g.rate = (float)v;
                        snprintf(c->g.rate_s, sizeof c->g.rate_s, "%.6g", v);
                        if (v == 0.0 && (c->g.regime == ENC_REG_STANDARD ||
                                         enc_regime_planned(c->g.regime))) {
                            c->g.regime = ENC_REG_NONE;
                            snprintf(c->g.label, sizeof c->g.label, "none");
                            snprintf(c->g.rate_s, sizeof c->g.rate_s, "0");
                        }
                    }
                    make_key(c->key, sizeof c->key, tasks[t].name, frac_s[j], c->seed,
                             c->g.label, c->g.rate_s);
                    int dup = 0;
                    for (size_t i = group; i < n_cells && !dup; i++)
                        dup = strcmp(cells[i].key, c->key) == 0;
                    n_cells += !dup;
                }
            }
    size_t mine = 0, ran = 0;
    for (size_t c = shard_k; c < n_cells; c += shard_n)
        mine += !is_done(&done, cells[c].key);
    const double t0 = enc_now();
    for (size_t ci = shard_k; ci < n_cells; ci += shard_n) {
        const grid_cell *cl = &cells[ci];
        const size_t t = cl->task, j = cl->frac;
        const unsigned long long seed = cl->seed;
        const grid_regime *g = &cl->g;
        const char *key = cl->key;
        if (is_done(&done, key))
            continue;
        ft_setup s = base;
        s.task = &tasks[t];
        s.cfg = cfg;
        s.cfg.classes = tasks[t].n_classes;
        s.cfg.pool = tasks[t].pair ? pair_pool : pool;
        const int scratch = g->regime == REG_SCRATCH;
        s.pretrained = scratch ? NULL : pre;
        s.plan = plan ? plan_file : NULL;
        s.lr = scratch ? scratch_lr : base.lr;
        s.rate = g->rate;
        char *cbuf = NULL;
        size_t clen = 0;
        FILE *cmem = NULL;
        if (cfd >= 0) {
            cmem = open_memstream(&cbuf, &clen);
            if (cmem == NULL)
                enc_die("out of memory for the curves");
            s.curve = cmem;
            s.curve_key = key;
        }
        ft_result res = enc_finetune(&s, scratch ? ENC_REG_STANDARD : g->regime,
                                     fractions[j], seed, NULL, NULL);
        if (cmem != NULL) { /* the curve first: a row marks a finished run */
            if (fclose(cmem) != 0)
                enc_die("out of memory for the curves");
            enc_append_durable(curves, cbuf, clen);
            free(cbuf);
        }
        char row[ROW_MAX];
        int len = snprintf(
            row, sizeof row,
            "%s\t%.9g\t%zu\t%zu\t%zu\t%zu\t%.6f\t%.6f\t%s\t%.6f\t%.6f\t%.6f\t%.6f\t"
            "%.1f\t%s\n",
            key, (double)s.lr, res.n_train, res.steps, res.budget, res.best_step,
            res.train_loss, res.best_train_loss, ft_metric_name(&tasks[t]),
            res.val_acc, res.val_f1, res.test_acc, res.test_f1, res.seconds, config);
        if (len < 0 || len >= (int)sizeof row)
            enc_die("a results row over %d bytes (task name too long?)", ROW_MAX);
        enc_append_durable(out, row, (size_t)len);
        ran++;
        double el = enc_now() - t0;
        printf("[%zu/%zu] %s %s seed %llu %s:%s val %.4f test %.4f train loss %.3f "
               "best step %zu/%zu (%.1f s)  elapsed %.1f min  ETA %.1f min\n",
               ran, mine, tasks[t].name, frac_s[j], seed, g->label, g->rate_s,
               res.val_acc, res.test_acc, res.train_loss, res.best_step, res.steps,
               res.seconds, el / 60.0, el / (double)ran * (double)(mine - ran) / 60.0);
        fflush(stdout);
    }
    free(cells);
    free(sel.row);
    if (close(fd) != 0 || (cfd >= 0 && close(cfd) != 0))
        enc_die("%s: close failed: %s", out, strerror(errno));
    printf("experiment: %zu runs in %.1f min -> %s\n", ran, (enc_now() - t0) / 60.0, out);
    for (size_t t = 0; t < n_tasks; t++)
        enc_task_free(&tasks[t]);
    free(done.key);
    free(plan);
    free(pre);
    enc_vocab_free(&v);
    return 0;
}

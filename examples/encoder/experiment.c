/*
 * `encoder experiment`: the paper's comparison on the encoder.  For every
 * seed, task, training fraction and regime, one fine-tuning run (see
 * finetune.h: the subset, head, order and dropout streams depend on the seed
 * only, so regimes are paired), one row appended to a TSV:
 *   task fraction seed regime n_train steps val_acc val_f1 test_acc test_f1 seconds
 * Rows already in the file are skipped, so an interrupted run resumes where
 * it stopped.  --shard K/N runs every N-th cell (two processes on two
 * cores).  Regimes: none, standard, gaussian, gaussian-paper, guided,
 * matched (finetune.h) and scratch (standard dropout on a randomly
 * initialised encoder of the same size, with --scratch-lr).
 * --export DIR writes each task's sets and the seeds' training subsets for
 * the bag-of-words baseline (experiment/baseline_tfidf.py).
 */
#define _POSIX_C_SOURCE 200809L
#include "commands.h"

#include <cblas.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic.h"
#include "cli.h"
#include "finetune.h"

enum { MAX_LIST = 32, REG_SCRATCH = ENC_REG_N };

typedef struct done_row {
    char task[64], regime[32];
    double fraction;
    unsigned long long seed;
} done_row;

typedef struct done_set {
    done_row *r;
    size_t n, cap;
} done_set;

/* Reads the (task, fraction, seed, regime) of the rows already in path. */
static void read_done(done_set *d, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    char line[1024];
    size_t lineno = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        if (lineno == 1 && strncmp(line, "task\t", 5) == 0)
            continue;
        done_row r;
        if (sscanf(line, "%63[^\t]\t%lf\t%llu\t%31[^\t]", r.task, &r.fraction, &r.seed,
                   r.regime) != 4)
            enc_die("%s:%zu: not a results row", path, lineno);
        if (d->n == d->cap) {
            d->cap = d->cap ? 2 * d->cap : 256;
            d->r = enc_realloc(d->r, d->cap, sizeof *d->r, "results");
        }
        d->r[d->n++] = r;
    }
    fclose(f);
}

static int is_done(const done_set *d, const char *task, double fraction, unsigned long long seed,
                   const char *regime)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->r[i].seed == seed && d->r[i].fraction == fraction &&
            strcmp(d->r[i].task, task) == 0 && strcmp(d->r[i].regime, regime) == 0)
            return 1;
    return 0;
}

static const char *regime_label(int r)
{
    return r == REG_SCRATCH ? "scratch" : enc_regime_name(r);
}

static size_t parse_regimes(const char *text, int *out)
{
    size_t n = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *tok = strtok(buf, ","); tok != NULL; tok = strtok(NULL, ",")) {
        int r = strcmp(tok, "scratch") == 0 ? REG_SCRATCH : enc_regime_parse(tok);
        if (r < 0)
            enc_die("--regimes: unknown regime \"%s\"", tok);
        if (n == MAX_LIST)
            enc_die("--regimes: too many");
        out[n++] = r;
    }
    if (n == 0)
        enc_die("--regimes: empty");
    return n;
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

int enc_cmd_experiment(int argc, char **argv)
{
    const char *ckpt = NULL, *plan_path = NULL, *tasks_s = "supersense,hypernymy";
    const char *fractions_s = "1,0.5,0.25,0.1,0.05,0.02";
    const char *regimes_s = "none,standard,gaussian,guided,matched,scratch";
    const char *out = "results.tsv", *shard_s = "0/1", *export_dir = NULL, *pool_s = "mean";
    const char *pair_pool_s = NULL;
    const char *wordnet = "/usr/share/wordnet";
    float lr = 1e-3f, scratch_lr = 1e-3f, p = 0.1f, cls_p = 0.1f, wd = 0.01f;
    size_t seeds = 10, epochs = 10, min_steps = 60, max_steps = 150, batch = 32, threads = 1;
    size_t pool_n = 4000;
    uint64_t first_seed = 1;
    const cli_flag flags[] = {
        {"ckpt", CLI_STR, &ckpt, 0, 0, "pretrained checkpoint folder"},
        {"plan", CLI_STR, &plan_path, 0, 0, "guided plan [CKPT/guided.plan]"},
        {"tasks", CLI_LIST, &tasks_s, 0, 0, "comma-separated: supersense, hypernymy"},
        {"fractions", CLI_LIST, &fractions_s, 0, 0, "training fractions"},
        {"regimes", CLI_LIST, &regimes_s, 0, 0, "none, standard, gaussian, gaussian-paper, guided, matched, scratch"},
        {"seeds", CLI_SIZE, &seeds, 1, 1000, "seeds per cell"},
        {"first-seed", CLI_U64, &first_seed, 0, 1e15, "the first seed"},
        {"lr", CLI_FLOAT, &lr, 1e-7, 1, "fine-tuning peak learning rate"},
        {"scratch-lr", CLI_FLOAT, &scratch_lr, 1e-7, 1, "learning rate of the scratch baseline"},
        {"p", CLI_FLOAT, &p, 0, 0.9, "standard rate (give a plan made with p_max = p)"},
        {"cls-p", CLI_FLOAT, &cls_p, 0, 0.9, "classifier dropout, every regime"},
        {"weight-decay", CLI_FLOAT, &wd, 0, 1, "AdamW weight decay"},
        {"epochs", CLI_SIZE, &epochs, 1, 1e6, "passes over the subset..."},
        {"min-steps", CLI_SIZE, &min_steps, 1, 1e9, "...but at least this many steps"},
        {"max-steps", CLI_SIZE, &max_steps, 0, 1e9, "...and at most this many (0: no cap)"},
        {"batch", CLI_SIZE, &batch, 1, 4096, "examples per step"},
        {"pool", CLI_STR, &pool_s, 0, 0, "classifier input: mean or cls"},
        {"pair-pool", CLI_STR, &pair_pool_s, 0, 0, "...of pair tasks: mean, cls or pair [--pool]"},
        {"pool-size", CLI_SIZE, &pool_n, 16, 1e6, "training pool of the WordNet tasks"},
        {"wordnet", CLI_STR, &wordnet, 0, 0, "folder of WordNet 3.0 data.* files"},
        {"out", CLI_STR, &out, 0, 0, "results TSV (appended; existing rows are skipped)"},
        {"shard", CLI_STR, &shard_s, 0, 0, "K/N: run cells K, K+N, ..."},
        {"export", CLI_STR, &export_dir, 0, 0, "write task sets and subsets here, then stop"},
        {"threads", CLI_SIZE, &threads, 1, 256, "OpenBLAS threads per process"},
    };
    if (cli_parse(flags, sizeof flags / sizeof *flags, argc, argv, 2,
                  "usage: encoder experiment --ckpt DIR [flags]"))
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
    int regimes[MAX_LIST];
    size_t n_reg = parse_regimes(regimes_s, regimes);

    enc_vocab v;
    enc_config cfg;
    float *pre = enc_load_pretrained(&cfg, &v, ckpt, 2);
    char path[4096];
    enc_path(path, sizeof path, ckpt, "guided.plan");
    float *plan = NULL;
    for (size_t i = 0; i < n_reg && export_dir == NULL; i++)
        if (regimes[i] == ENC_REG_GUIDED || regimes[i] == ENC_REG_MATCHED)
            plan = plan ? plan : enc_read_plan(plan_path ? plan_path : path, enc_n_sites(&cfg));

    enc_task tasks[4];
    size_t n_tasks = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", tasks_s);
    for (char *tok = strtok(buf, ","); tok != NULL; tok = strtok(NULL, ",")) {
        if (n_tasks == 4)
            enc_die("--tasks: at most 4");
        if (strcmp(tok, "supersense") != 0 && strcmp(tok, "hypernymy") != 0)
            enc_die("--tasks: unknown task \"%s\" (supersense, hypernymy)", tok);
        enc_load_task(&tasks[n_tasks++], tok, wordnet, &v, NULL, NULL, NULL, 0, pool_n);
    }
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

    done_set done = {0};
    read_done(&done, out);
    FILE *f = fopen(out, "a");
    if (f == NULL)
        enc_die("%s: %s", out, strerror(errno));
    if (ftell(f) == 0)
        fprintf(f, "task\tfraction\tseed\tregime\tn_train\tsteps\tval_acc\tval_f1\ttest_acc\t"
                   "test_f1\tseconds\n");
    fflush(f);
    const size_t cells = seeds * n_tasks * n_frac * n_reg;
    size_t mine = 0, ran = 0, cell = 0;
    for (size_t c = shard_k; c < cells; c += shard_n)
        mine++;
    const double t0 = enc_now();
    for (size_t k = 0; k < seeds; k++)
        for (size_t t = 0; t < n_tasks; t++)
            for (size_t j = 0; j < n_frac; j++)
                for (size_t r = 0; r < n_reg; r++, cell++) {
                    if (cell % shard_n != shard_k)
                        continue;
                    const unsigned long long seed = first_seed + k;
                    const char *label = regime_label(regimes[r]);
                    if (is_done(&done, tasks[t].name, fractions[j], seed, label)) {
                        mine--;
                        continue;
                    }
                    enc_config c = cfg;
                    c.classes = tasks[t].n_classes;
                    c.pool = tasks[t].pair ? pair_pool : pool;
                    int scratch = regimes[r] == REG_SCRATCH;
                    ft_setup s = {&tasks[t], c, scratch ? NULL : pre, plan, scratch ? scratch_lr : lr, p,
                                  cls_p, wd, epochs, batch, min_steps, max_steps};
                    ft_result res = enc_finetune(&s, scratch ? ENC_REG_STANDARD : regimes[r],
                                                 fractions[j], seed);
                    fprintf(f, "%s\t%.9g\t%llu\t%s\t%zu\t%zu\t%.6f\t%.6f\t%.6f\t%.6f\t%.1f\n",
                            tasks[t].name, fractions[j], seed, label, res.n_train, res.steps,
                            res.val_acc, res.val_f1, res.test_acc, res.test_f1, res.seconds);
                    fflush(f);
                    ran++;
                    double el = enc_now() - t0;
                    printf("[%zu/%zu] %s %g seed %llu %-9s val %.4f test %.4f (%.1f s)  elapsed "
                           "%.1f min  ETA %.1f min\n",
                           ran, mine, tasks[t].name, fractions[j], seed, label, res.val_acc,
                           res.test_acc, res.seconds, el / 60.0,
                           el / (double)ran * (double)(mine - ran) / 60.0);
                    fflush(stdout);
                }
    if (fclose(f) != 0)
        enc_die("%s: write error", out);
    printf("experiment: %zu runs in %.1f min -> %s\n", ran, (enc_now() - t0) / 60.0, out);
    for (size_t t = 0; t < n_tasks; t++)
        enc_task_free(&tasks[t]);
    free(done.r);
    free(plan);
    free(pre);
    enc_vocab_free(&v);
    return 0;
}

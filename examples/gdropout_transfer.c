/*
 * gdropout-transfer: the guided-dropout experiment of Sharma et al.
 * (arXiv 2406.14005) in miniature, on handwritten digits.
 *
 *  1. pretrain an MLP (64-128-128-64-5, four dropout sites) on digits 0-4;
 *  2. estimate the diagonal empirical Fisher of the pretraining loss from
 *     exact per-example gradients on a small subsample (gd_fisher), score
 *     each dropout site (GD_REDUCE_TENSOR_MEAN) and each hidden unit, and
 *     plan dropout rates with GD_RULE_RANK_LINEAR from p down to 0;
 *  3. fine-tune on digits 5-9 (new head) from 100/50/25/10 % of their
 *     training split under five regimes: none, standard dropout p, Gaussian
 *     dropout of equal variance, guided per-site rates, guided per-unit
 *     rates; every regime sees the same seeds, subsets, data order, initial
 *     weights and number of steps;
 *  4. report test accuracy, mean +- sd over seeds, and the paired
 *     differences to standard dropout with 95% t intervals.
 *
 * --select instead tunes p and the learning rate for standard dropout on the
 * validation split; the test split is read only by the final report.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, access, stat */

#include "transfer.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef GDX_DEFAULT_DATA
#define GDX_DEFAULT_DATA "data/digits.csv.gz"
#endif

enum { MAX_FRACTIONS = 8, MAX_SEEDS = 1000, MAX_BATCH = 4096 };

/* Fixed by design, not tuned: the split of the data, and the pretrained
 * network the fine-tuning starts from (pretrained with standard dropout
 * 0.1 at every site, as BERT was). */
static const uint64_t data_seed = 20240620;
static const uint64_t pretrain_seed = 7;
static const float pretrain_p = 0.1f;
static const float pretrain_lr = 1e-3f;

/* The task split: pretraining on 0-4 (80% train, 20% held out), transfer to
 * 5-9 (50% train, 20% validation, 30% test). */
static const int task_a_lo = 0, task_a_hi = 4, task_b_lo = 5, task_b_hi = 9;

typedef struct options {
    size_t seeds;
    double fraction[MAX_FRACTIONS];
    size_t n_fractions;
    float p, lr;
    size_t steps, batch, pretrain_steps, log_every;
    double fisher_frac;
    const char *data, *out, *fisher_out;
    int select, control;
} options;

/* R_MATCHED, only with --control, is standard dropout at the guided plan's
 * mean hidden rate: it separates "less dropout" from "dropout placed by
 * Fisher". */
typedef enum { R_NONE, R_STANDARD, R_GAUSSIAN, R_GUIDED, R_UNIT, R_MATCHED, N_REGIMES } regime_id;
static const char *const regime_name[N_REGIMES] = { "none",   "standard", "gaussian",
                                                    "guided", "per-unit", "matched" };

static const size_t width[GDX_LAYERS + 1] = { GDX_PIXELS, 128, 128, 64, 5 };
enum { HIDDEN_UNITS = 128 + 128 + 64 }; /* the units of sites 1..3 */
static const char *const site_name[GDX_SITES] = { "input", "relu1", "relu2", "relu3" };

typedef struct experiment {
    options opt;
    gdx_digits digits;
    gdx_set pre_train, pre_test, ft_train, ft_val, ft_test;
    gdx_mlp pretrained, model;
    float site_score[GDX_SITES]; /* NaN for the input site: no tensor feeds it */
    float site_p[GDX_SITES];     /* the guided per-site rates */
    float unit_p[HIDDEN_UNITS];  /* the guided per-unit rates of sites 1..3 */
    float matched_p;             /* mean of site_p[1..3] */
    size_t n_regimes;            /* N_REGIMES with --control, else R_MATCHED */
    float *xb;                   /* one batch, gathered */
    int *yb;
    size_t *order, *subset;      /* epoch order, the seed's subset of ft_train */
} experiment;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int check_gd(int rc, const char *what)
{
    if (rc != GD_OK)
        fprintf(stderr, "gdropout-transfer: %s: %s (%s)\n", what, gd_strerror(rc),
                gd_error_name(rc));
    return rc;
}

/* ---- flags ----------------------------------------------------------- */

static void usage(FILE *to)
{
    fprintf(to,
            "usage: gdropout-transfer [options]\n"
            "Pretrains an MLP on digits 0-4, estimates its Fisher information, and\n"
            "fine-tunes on digits 5-9 under none / standard / gaussian / guided /\n"
            "per-unit dropout; prints and writes a markdown table of test accuracy.\n"
            "\n"
            "  --seeds N           seeds per cell (default 10, 1..%d)\n"
            "  --fractions LIST    fractions of the training split (default 1,0.5,0.25,0.1)\n"
            "  --p P               standard dropout rate, also the guided p_max (default 0.2)\n"
            "  --lr LR             Adam learning rate for fine-tuning (default 0.003)\n"
            "  --steps N           fine-tuning steps per run (default 300)\n"
            "  --batch N           batch size (default 32)\n"
            "  --pretrain-steps N  pretraining steps (default 1000)\n"
            "  --fisher-frac F     share of the pretraining split used for Fisher (default 0.05)\n"
            "  --data FILE         digits CSV, gzip'ed if it ends in .gz\n"
            "                      (default %s)\n"
            "  --out FILE          where the markdown table goes (default results.md)\n"
            "  --fisher-out FILE   also save the Fisher the run measured (gd_fisher_save,\n"
            "                      safetensors; try: gdropout-plan FILE); not with --select\n"
            "  --log-every N       print 'loss ...' lines every N steps (default 0: off)\n"
            "  --select            tune p and lr for standard dropout on the validation\n"
            "                      split (the test split is not read)\n"
            "  --control           add the regime 'matched': input p, hidden sites at the\n"
            "                      guided plan's mean rate (is it where, or how much?)\n"
            "  --help              this text\n",
            MAX_SEEDS, GDX_DEFAULT_DATA);
}

static int parse_fractions(const char *s, options *o)
{
    char buf[256];
    if (strlen(s) >= sizeof buf)
        return -1;
    strcpy(buf, s);
    o->n_fractions = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (o->n_fractions == MAX_FRACTIONS ||
            gdx_parse_real(tok, 0.0, 1.0, 1, &o->fraction[o->n_fractions]) != 0)
            return -1;
        o->n_fractions++;
    }
    return o->n_fractions ? 0 : -1;
}

static int parse_flag(options *o, const char *flag, const char *val)
{
    double d;
    if (!strcmp(flag, "--seeds"))
        return gdx_parse_size(val, 1, MAX_SEEDS, &o->seeds);
    if (!strcmp(flag, "--fractions"))
        return parse_fractions(val, o);
    if (!strcmp(flag, "--steps"))
        return gdx_parse_size(val, 1, 1000000, &o->steps);
    if (!strcmp(flag, "--batch"))
        return gdx_parse_size(val, 1, MAX_BATCH, &o->batch);
    if (!strcmp(flag, "--pretrain-steps"))
        return gdx_parse_size(val, 1, 1000000, &o->pretrain_steps);
    if (!strcmp(flag, "--log-every"))
        return gdx_parse_size(val, 0, 1000000, &o->log_every);
    if (!strcmp(flag, "--fisher-frac"))
        return gdx_parse_real(val, 0.0, 1.0, 1, &o->fisher_frac);
    if (!strcmp(flag, "--data"))
        return *(o->data = val) ? 0 : -1;
    if (!strcmp(flag, "--out"))
        return *(o->out = val) ? 0 : -1;
    if (!strcmp(flag, "--fisher-out"))
        return *(o->fisher_out = val) ? 0 : -1;
    if (!strcmp(flag, "--p") || !strcmp(flag, "--lr")) {
        const int is_p = flag[2] == 'p';
        if (gdx_parse_real(val, 0.0, is_p ? 0.95 : 1.0, !is_p, &d) != 0)
            return -1;
        *(is_p ? &o->p : &o->lr) = (float)d;
        return 0;
    }
    return -2;
}

/* 0 if a file can be created or replaced at path: its folder exists and is
 * writable, and path is not a folder.  Else a message naming flag, -1.
 * Checked before the run, so a typo costs nothing; creating the file now
 * instead would leave an empty one behind a failed run. */
static int check_output_path(const char *flag, const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) {
        strcpy(dir, ".");
    } else if ((size_t)(slash - path) >= sizeof dir) {
        fprintf(stderr, "gdropout-transfer: %s %s: the folder's name is too long\n", flag, path);
        return -1;
    } else {
        const size_t len = slash == path ? 1 : (size_t)(slash - path); /* "/x": folder "/" */
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "gdropout-transfer: %s %s: no folder %s\n", flag, path, dir);
        return -1;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        fprintf(stderr, "gdropout-transfer: %s %s: cannot write in %s: %s\n", flag, path, dir,
                strerror(errno));
        return -1;
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "gdropout-transfer: %s %s is a folder, not a file\n", flag, path);
        return -1;
    }
    return 0;
}

/* 0: run; 1: --help printed; -1: bad flag (message printed). */
static int parse_options(options *o, int argc, char **argv)
{
    const options defaults = { .seeds = 10, .fraction = { 1.0, 0.5, 0.25, 0.1 },
                               .n_fractions = 4, .p = 0.2f, .lr = 3e-3f, .steps = 300,
                               .batch = 32, .pretrain_steps = 1000, .log_every = 0,
                               .fisher_frac = 0.05, .data = GDX_DEFAULT_DATA,
                               .out = "results.md", .select = 0 };
    *o = defaults;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            return 1;
        }
        if (!strcmp(arg, "--select") || !strcmp(arg, "--control")) {
            *(arg[2] == 's' ? &o->select : &o->control) = 1;
            continue;
        }
        /* --flag value or --flag=value */
        char flag[32];
        const char *eq = strchr(arg, '='), *val;
        const size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (len >= sizeof flag) {
            fprintf(stderr, "gdropout-transfer: unknown option '%s' (try --help)\n", arg);
            return -1;
        }
        memcpy(flag, arg, len);
        flag[len] = '\0';
        if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            val = NULL;
        }
        options scratch = *o; /* parse_flag says -2 for an unknown flag, whatever the value */
        if (parse_flag(&scratch, flag, "") == -2) {
            fprintf(stderr, "gdropout-transfer: unknown option '%s' (try --help)\n", flag);
            return -1;
        }
        if (!val) {
            fprintf(stderr, "gdropout-transfer: %s needs a value (try --help)\n", flag);
            return -1;
        }
        const int rc = parse_flag(o, flag, val);
        if (rc != 0) {
            fprintf(stderr, "gdropout-transfer: bad value '%s' for %s (try --help)\n", val, flag);
            return -1;
        }
    }
    if (o->select && o->fisher_out) {
        fprintf(stderr, "gdropout-transfer: --fisher-out needs the Fisher pass, which --select "
                        "skips\n");
        return -1;
    }
    /* The files are written after minutes of training: refuse a path that
     * cannot be written now, not then.  (--select writes no table.) */
    if ((!o->select && check_output_path("--out", o->out) != 0) ||
        (o->fisher_out && check_output_path("--fisher-out", o->fisher_out) != 0))
        return -1;
    return 0;
}

/* ---- data and the pretrained network -------------------------------- */

static size_t count_labels(const gdx_digits *d, int lo, int hi)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        n += d->label[i] >= lo && d->label[i] <= hi;
    return n;
}

static int make_splits(experiment *e)
{
    const gdx_digits *d = &e->digits;
    size_t *perm = malloc(d->n * sizeof *perm);
    if (!perm || gdx_permutation(perm, d->n, data_seed, GDX_STREAM_DATA) != 0) {
        free(perm);
        return -1;
    }
    const size_t na = count_labels(d, task_a_lo, task_a_hi);
    const size_t nb = count_labels(d, task_b_lo, task_b_hi);
    const size_t na_train = na * 8 / 10, nb_train = nb / 2, nb_val = nb / 5;
    int rc = gdx_set_take(&e->pre_train, d, perm, task_a_lo, task_a_hi, 0, na_train);
    rc |= gdx_set_take(&e->pre_test, d, perm, task_a_lo, task_a_hi, na_train, na - na_train);
    rc |= gdx_set_take(&e->ft_train, d, perm, task_b_lo, task_b_hi, 0, nb_train);
    rc |= gdx_set_take(&e->ft_val, d, perm, task_b_lo, task_b_hi, nb_train, nb_val);
    rc |= gdx_set_take(&e->ft_test, d, perm, task_b_lo, task_b_hi, nb_train + nb_val,
                       nb - nb_train - nb_val);
    free(perm);
    if (rc == 0 && (e->pre_train.n < 10 || e->ft_train.n < 10 || e->ft_val.n == 0 ||
                    e->ft_test.n == 0)) {
        fprintf(stderr, "gdropout-transfer: %s has too few rows of digits 0-4 or 5-9\n",
                e->opt.data);
        return -1;
    }
    return rc;
}

/* Fills xb/yb with the next `n` examples of `rows` (indices into s) in an
 * order reshuffled every epoch from (seed, stream); *pos and *epoch carry
 * the position across calls. */
static int next_batch(experiment *e, const gdx_set *s, const size_t *rows, size_t k, size_t n,
                      uint64_t seed, uint64_t stream, size_t *pos, uint64_t *epoch)
{
    for (size_t i = 0; i < n; i++) {
        if (*pos == 0 &&
            gdx_permutation(e->order, k, seed, stream | (uint64_t)(*epoch) << 20) != 0)
            return -1;
        const size_t r = rows ? rows[e->order[*pos]] : e->order[*pos];
        memcpy(e->xb + i * GDX_PIXELS, s->x + r * GDX_PIXELS, GDX_PIXELS * sizeof(float));
        e->yb[i] = s->y[r];
        if (++*pos == k) {
            *pos = 0;
            ++*epoch;
        }
    }
    return 0;
}

static void uniform_sites(gdx_site site[GDX_SITES], gdx_drop_kind kind, float p, float sigma)
{
    for (size_t k = 0; k < GDX_SITES; k++) {
        const gdx_site s = { kind, p, sigma, NULL };
        site[k] = s;
    }
}

/* Trains m on the rows `rows[0..k-1]` of s (all of s when rows is NULL). */
static int train(experiment *e, gdx_mlp *m, const gdx_set *s, const size_t *rows, size_t k,
                 const gdx_site site[GDX_SITES], uint64_t seed, size_t steps, float lr,
                 const char *label)
{
    const size_t n = k < e->opt.batch ? k : e->opt.batch;
    size_t pos = 0;
    uint64_t epoch = 0;
    for (size_t t = 0; t < steps; t++) {
        if (next_batch(e, s, rows, k, n, seed, GDX_STREAM_DATA | 1, &pos, &epoch) != 0) {
            fprintf(stderr, "gdropout-transfer: out of memory\n");
            return -1;
        }
        float loss;
        const int rc = gdx_mlp_train_step(m, e->xb, e->yb, n, site, seed, t, lr, &loss);
        if (check_gd(rc, "training step") != GD_OK)
            return -1;
        const size_t every = e->opt.log_every;
        if (every && (t % every == 0 || t + 1 == steps))
            printf("loss %s step=%zu value=%.6f\n", label, t, (double)loss);
    }
    return 0;
}

static int pretrain(experiment *e)
{
    gdx_mlp *m = &e->pretrained;
    if (check_gd(gdx_mlp_init(m, 0, pretrain_seed), "init") != GD_OK)
        return -1;
    gdx_site site[GDX_SITES];
    uniform_sites(site, GDX_DROP_BERNOULLI, pretrain_p, 0.0f);
    const double t0 = now_seconds();
    if (train(e, m, &e->pre_train, NULL, e->pre_train.n, site, pretrain_seed,
              e->opt.pretrain_steps, pretrain_lr, "regime=pretrain fraction=1 seed=0") != 0)
        return -1;
    printf("pretrained on digits %d-%d: %zu images, %zu steps, held-out accuracy %.2f %% "
           "(%zu images), %.1f s\n",
           task_a_lo, task_a_hi, e->pre_train.n, e->opt.pretrain_steps,
           100.0 * gdx_mlp_accuracy(m, &e->pre_test), e->pre_test.n, now_seconds() - t0);
    return 0;
}

/* ---- Fisher and the guided plans ------------------------------------ */

/* Registers layer k's W and b, feeding the site that follows the layer's
 * ReLU (site k + 1); the head feeds no site.  The input site is fed by no
 * tensor and keeps the standard rate, like BERT's classifier dropout in the
 * paper. */
static int register_tensors(gd_fisher *f, size_t w_id[GDX_LAYERS], size_t b_id[GDX_LAYERS])
{
    for (size_t k = 0; k < GDX_LAYERS; k++) {
        const size_t site = k + 1 < GDX_SITES ? k + 1 : GD_NONE;
        const size_t in = width[k], out = width[k + 1];
        char name[32];
        snprintf(name, sizeof name, "fc%zu.weight", k);
        int rc = gd_fisher_add_tensor(f, name, out * in, site, &w_id[k]);
        snprintf(name, sizeof name, "fc%zu.bias", k);
        if (rc == GD_OK)
            rc = gd_fisher_add_tensor(f, name, out, site, &b_id[k]);
        if (rc != GD_OK)
            return rc;
    }
    return GD_OK;
}

/* One plan over n scores, RANK_LINEAR from p down to 0, into probs. */
static int rank_plan(const float *scores, size_t n, const char *const *names, float p,
                     float *probs)
{
    gd_plan *plan = NULL;
    int rc = gd_plan_create(&plan, n);
    for (size_t i = 0; i < n && rc == GD_OK; i++)
        rc = gd_plan_set_site(plan, i, names ? names[i] : NULL, scores[i]);
    if (rc == GD_OK)
        rc = gd_plan_compute(plan, GD_RULE_RANK_LINEAR, p, 0.0f);
    if (rc == GD_OK)
        rc = gd_plan_get_all(plan, probs, n);
    gd_plan_destroy(plan);
    return rc;
}

static void print_unit_plan(const experiment *e)
{
    size_t at = 0;
    for (size_t k = 1; k < GDX_SITES; k++) {
        const size_t n = width[k];
        double sum = 0.0;
        float lo = 1.0f, hi = 0.0f;
        for (size_t j = at; j < at + n; j++) {
            sum += e->unit_p[j];
            lo = e->unit_p[j] < lo ? e->unit_p[j] : lo;
            hi = e->unit_p[j] > hi ? e->unit_p[j] : hi;
        }
        printf("  per-unit %-6s %3zu units: p mean %.4f, min %.4f, max %.4f\n", site_name[k],
               n, sum / (double)n, (double)lo, (double)hi);
        at += n;
    }
}

static int plan_guided(experiment *e)
{
    gd_fisher *f = NULL;
    size_t w_id[GDX_LAYERS], b_id[GDX_LAYERS];
    int rc = gd_fisher_create(&f);
    if (rc == GD_OK)
        rc = register_tensors(f, w_id, b_id);
    const size_t nf = (size_t)ceil(e->opt.fisher_frac * (double)e->pre_train.n);
    const gdx_set sub = gdx_set_head(&e->pre_train, nf);
    if (rc == GD_OK)
        rc = gdx_mlp_fisher(&e->pretrained, &sub, f, w_id, b_id);
    if (rc == GD_OK && e->opt.fisher_out) {
        rc = gd_fisher_save(f, e->opt.fisher_out);
        if (rc != GD_OK) {
            fprintf(stderr, "gdropout-transfer: cannot save the Fisher to %s: %s (%s)\n",
                    e->opt.fisher_out, gd_strerror(rc), gd_error_name(rc));
            gd_fisher_destroy(f);
            return -1;
        }
        printf("Fisher saved to %s (try: gdropout-plan %s)\n", e->opt.fisher_out,
               e->opt.fisher_out);
    }
    if (rc == GD_OK)
        rc = gd_fisher_site_scores(f, GD_REDUCE_TENSOR_MEAN, e->site_score, GDX_SITES);
    /* Per-site: rank the scored sites 1..3; the input site keeps p. */
    if (rc == GD_OK)
        rc = rank_plan(e->site_score + 1, GDX_SITES - 1, site_name + 1, e->opt.p,
                       e->site_p + 1);
    e->site_p[0] = e->opt.p;
    e->matched_p = (e->site_p[1] + e->site_p[2] + e->site_p[3]) / 3.0f;
    /* Per-unit: one score per output unit (row of W) of layers 0..2, all
     * 320 ranked together, as the per-site plan ranks sites across layers. */
    float unit_score[HIDDEN_UNITS];
    for (size_t k = 0, at = 0; k + 1 < GDX_LAYERS && rc == GD_OK; at += width[k + 1], k++)
        rc = gd_fisher_unit_scores(f, w_id[k], width[k + 1], width[k], GD_AXIS_ROWS,
                                   unit_score + at);
    if (rc == GD_OK)
        rc = rank_plan(unit_score, HIDDEN_UNITS, NULL, e->opt.p, e->unit_p);
    gd_fisher_destroy(f);
    if (check_gd(rc, "Fisher / plan") != GD_OK)
        return -1;
    printf("Fisher on %zu pretraining images (%.0f %%), exact per-example gradients:\n", nf,
           100.0 * e->opt.fisher_frac);
    /* Site 0 (the pixels) is fed by no tensor, so the Fisher has no score
     * for it (NaN): say so instead of printing "nan". */
    for (size_t k = 0; k < GDX_SITES; k++) {
        if (isnan(e->site_score[k]))
            printf("  site %zu %-6s no score (no tensor feeds it) guided p %.4f, the standard "
                   "rate\n",
                   k, site_name[k], (double)e->site_p[k]);
        else
            printf("  site %zu %-6s score %-12.5g guided p %.4f\n", k, site_name[k],
                   (double)e->site_score[k], (double)e->site_p[k]);
    }
    print_unit_plan(e);
    return 0;
}

/* ---- fine-tuning ----------------------------------------------------- */

/* The variance-matched sigma; NaN (refused by the kernels, so reported as an
 * error) if p were out of range, which the flag parser prevents. */
static float sigma_for(float p)
{
    float sigma;
    return gd_gaussian_sigma(p, &sigma) == GD_OK ? sigma : NAN;
}

static void regime_sites(const experiment *e, regime_id r, float p, gdx_site site[GDX_SITES])
{
    switch (r) {
    case R_NONE:
        uniform_sites(site, GDX_DROP_NONE, 0.0f, 0.0f);
        return;
    case R_GAUSSIAN:
        uniform_sites(site, GDX_DROP_GAUSSIAN, 0.0f, sigma_for(p));
        return;
    case R_GUIDED:
        uniform_sites(site, GDX_DROP_BERNOULLI, p, 0.0f);
        for (size_t k = 1; k < GDX_SITES; k++)
            site[k].p = e->site_p[k];
        return;
    case R_UNIT:
        uniform_sites(site, GDX_DROP_BERNOULLI, p, 0.0f);
        for (size_t k = 1, at = 0; k < GDX_SITES; at += width[k], k++) {
            site[k].kind = GDX_DROP_COLS;
            site[k].p_cols = e->unit_p + at;
        }
        return;
    case R_MATCHED:
        uniform_sites(site, GDX_DROP_BERNOULLI, e->matched_p, 0.0f);
        site[0].p = p;
        return;
    case R_STANDARD:
    default:
        uniform_sites(site, GDX_DROP_BERNOULLI, p, 0.0f);
        return;
    }
}

static size_t subset_size(const experiment *e, double fraction)
{
    const size_t k = (size_t)floor(fraction * (double)e->ft_train.n + 0.5);
    return k ? k : 1;
}

/* One fine-tuning run; returns the accuracy on `eval`, or -1 on error.
 * Seed s fixes the subset (nested across fractions), the data order, the
 * new head and the dropout streams, whatever the regime. */
static double finetune(experiment *e, regime_id r, double fraction, size_t s, float p, float lr,
                       const gdx_set *eval)
{
    const uint64_t seed = 1000 + (uint64_t)s;
    const size_t k = subset_size(e, fraction);
    if (gdx_permutation(e->subset, e->ft_train.n, seed, GDX_STREAM_DATA | 2) != 0)
        return -1.0;
    gdx_mlp_copy_weights(&e->model, &e->pretrained);
    if (check_gd(gdx_mlp_init(&e->model, GDX_LAYERS - 1, seed), "head init") != GD_OK)
        return -1.0;
    gdx_site site[GDX_SITES];
    regime_sites(e, r, p, site);
    char label[96];
    snprintf(label, sizeof label, "regime=%s fraction=%g seed=%zu", regime_name[r], fraction, s);
    if (train(e, &e->model, &e->ft_train, e->subset, k, site, seed, e->opt.steps, lr, label))
        return -1.0;
    return gdx_mlp_accuracy(&e->model, eval);
}

/* ---- the report ------------------------------------------------------ */

static void print_cell(FILE *to, const gdx_summary *s)
{
    fprintf(to, " %.2f ± %.2f |", 100.0 * s->mean, 100.0 * s->sd);
}

static void print_diff(FILE *to, const gdx_summary *s, size_t n)
{
    if (n < 2)
        fprintf(to, " %+.2f |", 100.0 * s->mean);
    else
        fprintf(to, " %+.2f [%+.2f, %+.2f] |", 100.0 * s->mean, 100.0 * s->lo, 100.0 * s->hi);
}

static void write_table(FILE *to, const experiment *e, const double *acc, const char *command)
{
    const options *o = &e->opt;
    const size_t S = o->seeds;
    fprintf(to, "Test accuracy (%%) on digits 5-9 (%zu test images), mean ± sd over %zu seeds; "
                "each run fine-tunes all layers plus a new head for %zu Adam steps of %zu "
                "(lr %g) from one network pretrained on digits 0-4.\n\n",
            e->ft_test.n, S, o->steps, o->batch, (double)o->lr);
    fprintf(to, "| regime |");
    for (size_t f = 0; f < o->n_fractions; f++)
        fprintf(to, " %g%% (n=%zu) |", 100.0 * o->fraction[f], subset_size(e, o->fraction[f]));
    fprintf(to, "\n|---|");
    for (size_t f = 0; f < o->n_fractions; f++)
        fprintf(to, "---|");
    fprintf(to, "\n");
    for (size_t r = 0; r < e->n_regimes; r++) {
        fprintf(to, "| %s |", regime_name[r]);
        for (size_t f = 0; f < o->n_fractions; f++) {
            const gdx_summary s = gdx_summarize(acc + (f * N_REGIMES + r) * S, S);
            print_cell(to, &s);
        }
        fprintf(to, "\n");
    }
    const regime_id diff[4][2] = { { R_GUIDED, R_STANDARD }, { R_UNIT, R_STANDARD },
                                   { R_GUIDED, R_MATCHED }, { R_UNIT, R_MATCHED } };
    for (size_t v = 0; v < (e->n_regimes == N_REGIMES ? 4u : 2u); v++) {
        fprintf(to, "| %s − %s |", regime_name[diff[v][0]], regime_name[diff[v][1]]);
        for (size_t f = 0; f < o->n_fractions; f++) {
            const double *a = acc + (f * N_REGIMES + diff[v][0]) * S;
            const double *b = acc + (f * N_REGIMES + diff[v][1]) * S;
            const gdx_summary s = gdx_summarize_paired(a, b, S);
            print_diff(to, &s, S);
        }
        fprintf(to, "\n");
    }
    fprintf(to, "\nstandard: p = %g at all 4 sites; gaussian: sigma = sqrt(p/(1-p)) = %.4f; "
                "guided: input %.4f, relu1 %.4f, relu2 %.4f, relu3 %.4f (RANK_LINEAR on "
                "TENSOR_MEAN Fisher, p_max = p, p_min = 0); per-unit: input p, hidden units "
                "ranked by row-mean Fisher of W from p to 0",
            (double)o->p, (double)sigma_for(o->p), (double)e->site_p[0], (double)e->site_p[1],
            (double)e->site_p[2], (double)e->site_p[3]);
    if (e->n_regimes == N_REGIMES)
        fprintf(to, "; matched: input p, hidden sites %.4f (the guided mean)", (double)e->matched_p);
    fprintf(to, ". Differences are paired over seeds (same subset, data order, head and "
                "dropout streams), mean [95%% t interval], in accuracy points.\n\n");
    fprintf(to, "Fisher site scores (TENSOR_MEAN): relu1 %.5g, relu2 %.5g, relu3 %.5g; "
                "per-unit plan, mean p per layer:",
            (double)e->site_score[1], (double)e->site_score[2], (double)e->site_score[3]);
    for (size_t k = 1, at = 0; k < GDX_SITES; at += width[k], k++) {
        double sum = 0.0;
        for (size_t j = at; j < at + width[k]; j++)
            sum += e->unit_p[j];
        fprintf(to, " %s %.4f%s", site_name[k], sum / (double)width[k],
                k + 1 < GDX_SITES ? "," : "");
    }
    fprintf(to, ".\n\nCommand: `%s`\n", command);
}

static int run_experiment(experiment *e, const char *command)
{
    const options *o = &e->opt;
    const size_t S = o->seeds;
    double *acc = malloc(o->n_fractions * N_REGIMES * S * sizeof *acc);
    if (!acc)
        return -1;
    for (size_t f = 0; f < o->n_fractions; f++) {
        for (size_t r = 0; r < e->n_regimes; r++) {
            const double t0 = now_seconds();
            double *cell = acc + (f * N_REGIMES + r) * S;
            for (size_t s = 0; s < S; s++) {
                cell[s] = finetune(e, (regime_id)r, o->fraction[f], s, o->p, o->lr, &e->ft_test);
                if (cell[s] < 0.0) {
                    free(acc);
                    return -1;
                }
            }
            const gdx_summary sm = gdx_summarize(cell, S);
            printf("fraction %-5g (n=%3zu) %-9s test accuracy %6.2f ± %5.2f %% (%zu seeds, "
                   "%.1f s)\n",
                   o->fraction[f], subset_size(e, o->fraction[f]), regime_name[r],
                   100.0 * sm.mean, 100.0 * sm.sd, S, now_seconds() - t0);
            fflush(stdout);
        }
    }
    printf("\n");
    write_table(stdout, e, acc, command);
    FILE *out = fopen(o->out, "w");
    int rc = 0;
    if (!out) {
        fprintf(stderr, "gdropout-transfer: cannot write %s: %s\n", o->out, strerror(errno));
        rc = -1;
    } else {
        write_table(out, e, acc, command);
        if (fclose(out) != 0) {
            fprintf(stderr, "gdropout-transfer: cannot write %s\n", o->out);
            rc = -1;
        } else {
            printf("\nwritten to %s\n", o->out);
        }
    }
    free(acc);
    return rc;
}

/* --select: standard dropout over a grid of (p, lr), validation accuracy
 * averaged over seeds, per fraction and overall. */
static int run_select(experiment *e)
{
    static const float grid_p[] = { 0.05f, 0.1f, 0.2f, 0.3f, 0.5f };
    static const float grid_lr[] = { 3e-4f, 1e-3f, 3e-3f };
    const options *o = &e->opt;
    float best_p = 0.0f, best_lr = 0.0f;
    double best = -1.0;
    printf("\nValidation accuracy (%%, %zu images), standard dropout, mean over %zu seeds\n\n",
           e->ft_val.n, o->seeds);
    printf("| p | lr |");
    for (size_t f = 0; f < o->n_fractions; f++)
        printf(" %g%% |", 100.0 * o->fraction[f]);
    printf(" mean |\n|---|---|");
    for (size_t f = 0; f <= o->n_fractions; f++)
        printf("---|");
    printf("\n");
    for (size_t i = 0; i < sizeof grid_p / sizeof *grid_p; i++) {
        for (size_t j = 0; j < sizeof grid_lr / sizeof *grid_lr; j++) {
            double all = 0.0;
            printf("| %g | %g |", (double)grid_p[i], (double)grid_lr[j]);
            for (size_t f = 0; f < o->n_fractions; f++) {
                double sum = 0.0;
                for (size_t s = 0; s < o->seeds; s++) {
                    const double a = finetune(e, R_STANDARD, o->fraction[f], s, grid_p[i],
                                              grid_lr[j], &e->ft_val);
                    if (a < 0.0)
                        return -1;
                    sum += a;
                }
                printf(" %.2f |", 100.0 * sum / (double)o->seeds);
                all += sum / (double)o->seeds;
            }
            all /= (double)o->n_fractions;
            printf(" %.2f |\n", 100.0 * all);
            fflush(stdout);
            if (all > best) {
                best = all;
                best_p = grid_p[i];
                best_lr = grid_lr[j];
            }
        }
    }
    printf("\nbest on validation: --p %g --lr %g (mean %.2f %%)\n", (double)best_p,
           (double)best_lr, 100.0 * best);
    return 0;
}

/* ---- main ------------------------------------------------------------ */

static int setup(experiment *e)
{
    e->n_regimes = e->opt.control ? N_REGIMES : R_MATCHED;
    if (gdx_digits_read(&e->digits, e->opt.data) != 0)
        return -1;
    if (make_splits(e) != 0)
        return -1;
    const size_t cap = e->opt.batch > 256 ? e->opt.batch : 256;
    const size_t n_order = e->pre_train.n > e->ft_train.n ? e->pre_train.n : e->ft_train.n;
    e->xb = malloc(cap * GDX_PIXELS * sizeof *e->xb);
    e->yb = malloc(cap * sizeof *e->yb);
    e->order = malloc(n_order * sizeof *e->order);
    e->subset = malloc(e->ft_train.n * sizeof *e->subset);
    if (!e->xb || !e->yb || !e->order || !e->subset ||
        gdx_mlp_create(&e->pretrained, width, cap) != 0 ||
        gdx_mlp_create(&e->model, width, cap) != 0) {
        fprintf(stderr, "gdropout-transfer: out of memory\n");
        return -1;
    }
    printf("libgdropout %s (%s kernels); %s: %zu images; digits %d-%d: %zu train, %zu "
           "held out; digits %d-%d: %zu train, %zu validation, %zu test\n",
           gd_version_string(), gd_dispatch_name(), e->opt.data, e->digits.n, task_a_lo,
           task_a_hi, e->pre_train.n, e->pre_test.n, task_b_lo, task_b_hi, e->ft_train.n,
           e->ft_val.n, e->ft_test.n);
    return 0;
}

static void teardown(experiment *e)
{
    gdx_mlp_free(&e->pretrained);
    gdx_mlp_free(&e->model);
    gdx_set_free(&e->pre_train);
    gdx_set_free(&e->pre_test);
    gdx_set_free(&e->ft_train);
    gdx_set_free(&e->ft_val);
    gdx_set_free(&e->ft_test);
    gdx_digits_free(&e->digits);
    free(e->xb);
    free(e->yb);
    free(e->order);
    free(e->subset);
}

/* Whether argv[i] names an output file (--out FILE, --fisher-out=FILE): where
 * a run writes does not change its numbers. */
static int output_flag(const char *arg)
{
    return !strcmp(arg, "--out") || !strcmp(arg, "--fisher-out") ||
           !strncmp(arg, "--out=", 6) || !strncmp(arg, "--fisher-out=", 13);
}

/* The command that reproduces the numbers, for the report: the program's
 * name without its directory, then argv without the output flags, joined
 * by spaces (truncated past the buffer).  So the report of a rerun is
 * byte-for-byte the same wherever it was built and whatever it writes to
 * (scripts/record-result --check compares them). */
static void join_args(char *buf, size_t size, int argc, char **argv)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < argc && at + 1 < size; i++) {
        const char *arg = argv[i];
        if (i == 0 && strrchr(arg, '/'))
            arg = strrchr(arg, '/') + 1;
        if (i > 0 && output_flag(arg)) {
            i += strchr(arg, '=') == NULL; /* and its value */
            continue;
        }
        const int w = snprintf(buf + at, size - at, "%s%s", at ? " " : "", arg);
        if (w < 0)
            break;
        at += (size_t)w;
    }
}

int main(int argc, char **argv)
{
    experiment e;
    memset(&e, 0, sizeof e);
    const int parsed = parse_options(&e.opt, argc, argv);
    if (parsed != 0)
        return parsed > 0 ? 0 : 2;
    if (gd_version() >> 16 != GD_VERSION_MAJOR) {
        fprintf(stderr, "gdropout-transfer: built for libgdropout %s, running with %s\n",
                GD_VERSION_STRING, gd_version_string());
        return 1;
    }
    /* The matrices here are at most 256 x 128: OpenBLAS threads cost more
     * than they give (3x slower on 2 cores) and make sums depend on the
     * thread count.  One thread, unless the user asked otherwise. */
    if (!getenv("OPENBLAS_NUM_THREADS"))
        openblas_set_num_threads(1);
    const double t0 = now_seconds();
    int rc = setup(&e);
    if (rc == 0)
        rc = pretrain(&e);
    if (rc == 0 && e.opt.select) {
        rc = run_select(&e);
    } else if (rc == 0) {
        char command[1024];
        join_args(command, sizeof command, argc, argv);
        rc = plan_guided(&e);
        if (rc == 0)
            rc = run_experiment(&e, command);
    }
    teardown(&e);
    if (rc == 0)
        printf("total %.1f s\n", now_seconds() - t0);
    return rc == 0 ? 0 : 1;
}

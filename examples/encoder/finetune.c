/* Fine-tuning runs (see finetune.h) and `encoder finetune`. */
#define _POSIX_C_SOURCE 200809L
#include "finetune.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gdropout/gdropout.h>

#include "atomic.h"
#include "checkpoint.h"
#include "cli.h"
#include "commands.h"
#include "optim.h"

static const char *const regime_names[ENC_REG_N] = {
    "none", "standard", "gaussian", "gaussian-paper", "guided", "matched",
    "reversed", "permuted", "kind"};

const char *enc_regime_name(int regime)
{
    return regime >= 0 && regime < ENC_REG_N ? regime_names[regime] : "?";
}

int enc_regime_parse(const char *name)
{
    return enc_name_index(regime_names, ENC_REG_N, name);
}

int enc_regime_planned(int regime)
{
    return regime == ENC_REG_GUIDED || regime == ENC_REG_MATCHED || regime == ENC_REG_REVERSED ||
           regime == ENC_REG_PERMUTED || regime == ENC_REG_KIND;
}

/* One place for the defaults of a fine-tuning run.  The budget (25 epochs,
 * at least 150 and at most 1000 steps; 150 at 2 % of the 4000-example pools,
 * 325 at 10 %) lets the training loss level off in every regime at 2-10 %
 * of the pool: on the committed encoder, runs of twice that length reached
 * their best validation score by step 100-300 and a training loss of
 * 0.01-0.05 (the committed curves show it for every run); best-validation
 * selection makes a longer budget cost time, not accuracy. */
ft_setup ft_defaults(void)
{
    ft_setup s = {0};
    s.lr = 3e-4f;
    s.rate = 0.1f;
    s.cls_p = 0.1f;
    s.weight_decay = 0.01f;
    s.epochs = 25;
    s.batch = 32;
    s.min_steps = 150;
    s.max_steps = 1000;
    s.eval_every = 0;
    s.patience = 0;
    return s;
}

const char *ft_metric_name(const enc_task *t)
{
    return t->n_classes == 1 ? "neg_mse" : "acc";
}

/* Loads the plan at path for a model of n sites.  Each line's site name
 * must be the model's at its index (the names `encoder fisher` writes):
 * sites are applied by index, so a plan made for another model, or edited,
 * would otherwise be misapplied without a word.  An unnamed site ("-")
 * claims nothing and is taken by its index. */
static gd_plan *load_plan(const char *path, size_t n)
{
    gd_plan *g;
    int rc = gd_plan_load(&g, path);
    if (rc != GD_OK)
        enc_die("%s: cannot load the plan: %s", path, gd_strerror(rc));
    size_t k;
    enc_gd(gd_plan_size(g, &k), "gd_plan_size");
    if (k != n)
        enc_die("%s: the plan has %zu sites, the model %zu", path, k, n);
    for (size_t s = 0; s < n; s++) {
        const char *name;
        char want[128];
        enc_gd(gd_plan_site_info(g, s, &name, NULL, NULL), "gd_plan_site_info");
        enc_site_name(s, want, sizeof want);
        if (name[0] != '\0' && strcmp(name, want) != 0)
            enc_die("%s: site %zu is \"%s\" in the plan but \"%s\" in the model (a plan for "
                    "another model?)",
                    path, s, name, want);
    }
    return g;
}

/* The planned regimes: the plan's scores under the paper's rule from p_max =
 * s->rate down to 0 (what `gdropout-plan --p-max` gives), then, for the
 * controls, rearranged by the library (gd_plan_control: one definition for
 * the encoder, the tool and the bindings). */
static void planned_rates(float *rate, const ft_setup *s, int regime, uint64_t seed)
{
    static const int control[ENC_REG_N] = {
        [ENC_REG_MATCHED] = GD_CONTROL_MATCHED, [ENC_REG_REVERSED] = GD_CONTROL_REVERSED,
        [ENC_REG_PERMUTED] = GD_CONTROL_PERMUTED, [ENC_REG_KIND] = GD_CONTROL_KIND};
    const size_t n = enc_n_sites(&s->cfg);
    gd_plan *g = load_plan(s->plan, n);
    const int rc = gd_plan_compute(g, GD_RULE_RANK_LINEAR, s->rate, 0.0f);
    if (rc != GD_OK)
        enc_die("%s: cannot plan at p_max %g: %s", s->plan, (double)s->rate, gd_strerror(rc));
    if (control[regime] != 0)
        enc_gd(gd_plan_control(g, control[regime], seed), "gd_plan_control");
    enc_gd(gd_plan_get_all(g, rate, n), "gd_plan_get_all");
    gd_plan_destroy(g);
}

void ft_regime_rates(float *rate, int *gaussian, const ft_setup *s, int regime, uint64_t seed)
{
    const size_t ns = enc_n_sites(&s->cfg);
    *gaussian = regime == ENC_REG_GAUSSIAN || regime == ENC_REG_GAUSSIAN_PAPER;
    if (enc_regime_planned(regime)) {
        if (s->plan == NULL)
            enc_die("regime %s needs a plan (--plan)", enc_regime_name(regime));
        planned_rates(rate, s, regime, seed);
        return;
    }
    float v = 0.0f;
    if (regime == ENC_REG_STANDARD)
        v = s->rate;
    if (regime == ENC_REG_GAUSSIAN)
        enc_gd(gd_gaussian_sigma(s->rate, &v), "gd_gaussian_sigma");
    if (regime == ENC_REG_GAUSSIAN_PAPER)
        v = (float)((double)s->rate / (1.0 - (double)s->rate));
    for (size_t i = 0; i < ns; i++)
        rate[i] = v;
}

typedef struct eval_out {
    double acc, f1, mse;
} eval_out;

/* Scores m on d (dropout off); pred_out (d->n) receives each prediction
 * (class index as a float, or the regression score) when not NULL. */
static eval_out evaluate(enc_model *m, const enc_dataset *d, size_t n_classes, size_t max_len,
                         float *pred_out)
{
    enum { EB = 128 };
    enc_batch b;
    enc_batch_alloc(&b, EB, max_len);
    size_t idx[EB];
    int pred[EB];
    float score[EB];
    size_t *tp = enc_alloc(n_classes, sizeof *tp, "eval"), *fp = enc_alloc(n_classes, sizeof *fp, "eval"),
           *fn = enc_alloc(n_classes, sizeof *fn, "eval");
    size_t hits = 0;
    double se = 0.0;
    enc_dropout off = {0};
    for (size_t at = 0; at < d->n; at += EB) {
        size_t k = d->n - at < EB ? d->n - at : EB;
        for (size_t i = 0; i < k; i++)
            idx[i] = at + i;
        enc_batch_task(&b, d, idx, k, max_len);
        enc_forward_cls(m, &b, &off, pred, score);
        for (size_t i = 0; i < k; i++) {
            if (pred_out != NULL)
                pred_out[at + i] = n_classes == 1 ? score[i] : (float)pred[i];
            if (n_classes == 1) {
                double e = (double)score[i] - (double)b.target[i];
                se += e * e;
                continue;
            }
            int y = b.label[i], p = pred[i];
            hits += p == y;
            if (p == y)
                tp[y]++;
            else
                fp[p]++, fn[y]++;
        }
    }
    eval_out o = {(double)hits / (double)d->n, 0.0, se / (double)d->n};
    for (size_t c = 0; c < n_classes && n_classes > 1; c++) {
        double den = 2.0 * (double)tp[c] + (double)fp[c] + (double)fn[c];
        o.f1 += den > 0 ? 2.0 * (double)tp[c] / den : 0.0;
    }
    o.f1 /= n_classes > 1 ? (double)n_classes : 1.0;
    free(tp), free(fp), free(fn);
    enc_batch_free(&b);
    return o;
}

/* The validation score a run maximises: accuracy, or -MSE for regression. */
static double val_score(const eval_out *v, size_t n_classes)
{
    return n_classes == 1 ? -v->mse : v->acc;
}

/* The budget in optimizer steps for a subset of n examples. */
static size_t budget_steps(const ft_setup *s, size_t n)
{
    const size_t spe = (n + s->batch - 1) / s->batch;
    size_t total = enc_mul(spe, s->epochs);
    total = total > s->min_steps ? total : s->min_steps;
    return s->max_steps && total > s->max_steps ? s->max_steps : total;
}

ft_result enc_finetune(const ft_setup *s, int regime, double fraction, uint64_t seed,
                       float *best_params, float *test_pred)
{
    const enc_task *task = s->task;
    const double t0 = enc_now();
    ft_result res = {0};
    enc_model m;
    if (s->cfg.pool == ENC_POOL_PAIR && !task->pair)
        enc_die("--pool pair needs a task of text pairs; %s has one text an example", task->name);
    enc_model_create(&m, &s->cfg);
    /* The encoder: pretrained or fresh (a fixed init seed per run seed);
     * the head: fresh from the run seed, the same in every regime. */
    enc_model_init(&m, seed, 0x736372617463ull);
    if (s->pretrained != NULL) {
        size_t head = m.tensor[m.P.cls.w_id].offset;
        memcpy(m.param, s->pretrained, head * sizeof(float));
    }
    const size_t ns = enc_n_sites(&s->cfg);
    float *rate = enc_alloc(ns, sizeof *rate, "rates");
    int gaussian;
    ft_regime_rates(rate, &gaussian, s, regime, seed);

    size_t *sub = enc_alloc(task->train.n, sizeof *sub, "subset");
    size_t n = enc_subset(sub, &task->train, task->n_classes, fraction, seed, 0x737562ull);
    const size_t spe = (n + s->batch - 1) / s->batch;
    const size_t total = budget_steps(s, n);
    const size_t every = s->eval_every ? s->eval_every : (total + 9) / 10;
    enc_adamw o;
    enc_adamw_init(&o, &m, s->lr, total / 10, total, s->weight_decay);
    enc_batch b;
    enc_batch_alloc(&b, s->batch, s->cfg.max_len);
    size_t *order = enc_alloc(n, sizeof *order, "order");
    float *best = enc_alloc(m.n_params, sizeof *best, "best state");
    double loss_sum = 0.0, best_score = 0.0;
    size_t loss_n = 0, since_best = 0, step = 0;
    int have_best = 0;
    while (step < total) {
        size_t k = step % spe;
        if (k == 0) { /* a new epoch: a new order, the same in every regime */
            memcpy(order, sub, n * sizeof *order);
            enc_rng r = enc_rng_make(seed, 0x65706f6368ull + step / spe);
            enc_shuffle(order, n, &r);
        }
        size_t bn = k + 1 < spe ? s->batch : n - k * s->batch;
        enc_batch_task(&b, &task->train, order + k * s->batch, bn, s->cfg.max_len);
        enc_dropout d = {1, gaussian, rate, s->cls_p, seed, step};
        const float lr_now = enc_adamw_rate(&o);
        enc_result x = enc_forward_cls(&m, &b, &d, NULL, NULL);
        enc_backward(&m, &b, &d, NULL, NULL);
        double gnorm = enc_adamw_step(&o, &m);
        if (!isfinite(x.loss) || !isfinite(gnorm))
            enc_die("%s, %s, seed %llu: the training loss or gradient is not finite at step %zu "
                    "(loss %g, gradient norm %g); nothing was saved",
                    task->name, enc_regime_name(regime), (unsigned long long)seed, step, x.loss,
                    gnorm);
        loss_sum += x.loss * (double)bn;
        loss_n += bn;
        step++;
        if (step % every != 0 && step != total)
            continue;
        /* An evaluation: the window's training loss, the validation score,
         * and the state kept when it improves (ties keep the earlier). */
        const double window = loss_sum / (double)loss_n;
        loss_sum = 0.0, loss_n = 0;
        eval_out v = evaluate(&m, &task->val, task->n_classes, s->cfg.max_len, NULL);
        const double sc = val_score(&v, task->n_classes);
        if (s->curve != NULL)
            fprintf(s->curve, "%s\t%zu\t%.6f\t%.6f\t%.3g\n", s->curve_key, step, window, sc,
                    (double)lr_now);
        if (s->verbose)
            printf("  step %5zu/%zu  train loss %.4f  val %s %.4f%s\n", step, total, window,
                   ft_metric_name(task), sc, !have_best || sc > best_score ? "  (best)" : "");
        res.train_loss = window;
        if (!have_best || sc > best_score) {
            have_best = 1, best_score = sc, since_best = 0;
            res.best_step = step, res.best_train_loss = window;
            res.val_acc = sc, res.val_f1 = v.f1;
            memcpy(best, m.param, m.n_params * sizeof *best);
        } else if (s->patience && ++since_best >= s->patience) {
            break;
        }
    }
    memcpy(m.param, best, m.n_params * sizeof *best);
    eval_out t = evaluate(&m, &task->test, task->n_classes, s->cfg.max_len, test_pred);
    res.test_acc = val_score(&t, task->n_classes);
    res.test_f1 = t.f1;
    res.steps = step;
    res.budget = total;
    res.n_train = n;
    if (best_params != NULL)
        memcpy(best_params, best, m.n_params * sizeof *best);
    res.seconds = enc_now() - t0;
    free(best);
    free(order);
    free(sub);
    free(rate);
    enc_batch_free(&b);
    enc_adamw_free(&o);
    enc_model_free(&m);
    return res;
}

/* ==== the command ========================================================= */

/* Loads a task by name: supersense, hypernymy, or a TSV (--train/--val/--test). */
void enc_load_task(enc_task *t, const char *name, const char *wordnet, const enc_vocab *v,
                   const char *train, const char *val, const char *test, int regression,
                   size_t pool)
{
    if (strcmp(name, "supersense") == 0 || strcmp(name, "hypernymy") == 0) {
        enc_wordnet wn;
        enc_wordnet_read(&wn, wordnet);
        if (name[0] == 's')
            enc_task_supersense(t, &wn, v, pool / 8);
        else
            enc_task_hypernymy(t, &wn, v, pool);
        enc_wordnet_free(&wn);
    } else if (strcmp(name, "tsv") == 0) {
        if (train == NULL || val == NULL || test == NULL)
            enc_die("--task tsv needs --train, --val and --test files");
        enc_task_tsv(t, v, train, val, test, regression);
    } else {
        enc_die("--task %s: expected supersense, hypernymy or tsv", name);
    }
}

/* Loads a checkpoint folder's model (sizes from its metadata) and vocabulary
 * into a model laid out with `classes` classes; returns the parameters.  A
 * fine-tuned model (finetune --save) is read with its own head, whatever
 * its class count and pooling: callers take only the encoder, which comes
 * before the head in every layout, and start a fresh head. */
float *enc_load_pretrained(enc_config *cfg, enc_vocab *v, const char *dir, size_t classes)
{
    char path[4096];
    enc_ckpt_meta meta;
    enc_path(path, sizeof path, dir, "model.safetensors");
    enc_ckpt_meta_read(&meta, path);
    *cfg = meta.cfg;
    if (!meta.has_classifier)
        cfg->classes = classes;
    enc_model m;
    enc_model_create(&m, cfg);
    enc_ckpt_load(&m, path, 1);
    cfg->classes = classes;
    float *p = m.param;
    m.param = NULL;
    enc_model_free(&m);
    enc_path(path, sizeof path, dir, "vocab.txt");
    enc_vocab_load(v, path);
    if (v->n != cfg->vocab)
        enc_die("%s has %zu entries, the checkpoint's vocabulary %zu", path, v->n, cfg->vocab);
    return p;
}

/* Reads a plan file's rates (n sites, named as load_plan checks). */
float *enc_read_plan(const char *path, size_t n)
{
    gd_plan *p = load_plan(path, n);
    float *r = enc_alloc(n, sizeof *r, "plan");
    enc_gd(gd_plan_get_all(p, r, n), "gd_plan_get_all");
    gd_plan_destroy(p);
    return r;
}

/* The flags that set a fine-tuning run's budget and optimizer, shared by
 * `finetune` and `experiment` so both have one set of defaults. */
size_t ft_flags(cli_flag *f, ft_setup *s)
{
    const cli_flag common[] = {
        {"lr", CLI_FLOAT, &s->lr, 1e-7, 1, "peak learning rate"},
        {"cls-p", CLI_FLOAT, &s->cls_p, 0, 0.9, "classifier dropout (every regime)"},
        {"weight-decay", CLI_FLOAT, &s->weight_decay, 0, 1, "AdamW weight decay"},
        {"epochs", CLI_SIZE, &s->epochs, 1, 1e6, "budget: passes over the subset..."},
        {"min-steps", CLI_SIZE, &s->min_steps, 1, 1e9, "...but at least this many steps"},
        {"max-steps", CLI_SIZE, &s->max_steps, 0, 1e9, "...and at most this many (0: no cap)"},
        {"batch", CLI_SIZE, &s->batch, 1, 4096, "examples per step"},
        {"eval-every", CLI_SIZE, &s->eval_every, 0, 1e9, "validation every N steps (0: budget / 10)"},
        {"patience", CLI_SIZE, &s->patience, 0, 1e6, "stop after N evaluations without a gain (0: never)"},
    };
    memcpy(f, common, sizeof common);
    return sizeof common / sizeof *common;
}

/* What `finetune --predictions` writes: one line per test example. */
typedef struct pred_ctx {
    const enc_task *t;
    const float *pred;
} pred_ctx;

static void write_predictions(FILE *f, void *user)
{
    const pred_ctx *c = user;
    const int reg = c->t->n_classes == 1;
    fprintf(f, "%s\t%s\n", reg ? "score" : "predicted", reg ? "target" : "label");
    for (size_t i = 0; i < c->t->test.n; i++) {
        if (reg)
            fprintf(f, "%.6g\t%.6g\n", (double)c->pred[i], (double)c->t->test.ex[i].target);
        else
            fprintf(f, "%s\t%s\n", c->t->class_name[(int)c->pred[i]],
                    c->t->class_name[c->t->test.ex[i].label]);
    }
}

int enc_cmd_finetune(int argc, char **argv)
{
    const char *ckpt = NULL, *task_name = "supersense", *wordnet = "/usr/share/wordnet";
    const char *train = NULL, *val = NULL, *test = NULL, *regime_s = "standard", *plan_path = NULL;
    const char *pool_s = "mean", *save = NULL, *pred_path = NULL;
    ft_setup s = ft_defaults();
    float fraction = 1.0f;
    size_t threads = 0, pool_n = 4000;
    uint64_t seed = 1;
    int regression = 0, scratch = 0, quiet = 0;
    cli_flag flags[40];
    const cli_flag own[] = {
        {"ckpt", CLI_STR, &ckpt, 0, 0, "pretrained checkpoint folder"},
        {"scratch", CLI_BOOL, &scratch, 0, 0, "start the encoder from random weights (sizes from --ckpt)"},
        {"task", CLI_STR, &task_name, 0, 0, "supersense, hypernymy or tsv"},
        {"train", CLI_STR, &train, 0, 0, "tsv: training file"},
        {"val", CLI_STR, &val, 0, 0, "tsv: validation file"},
        {"test", CLI_STR, &test, 0, 0, "tsv: test file"},
        {"regression", CLI_BOOL, &regression, 0, 0, "tsv: labels are scores (squared error)"},
        {"wordnet", CLI_STR, &wordnet, 0, 0, "folder of WordNet 3.0 data.* files"},
        {"pool-size", CLI_SIZE, &pool_n, 16, 1e6, "WordNet tasks: training pool size"},
        {"fraction", CLI_FLOAT, &fraction, 1e-4, 1, "share of the training pool used"},
        {"regime", CLI_STR, &regime_s, 0, 0, "none, standard, gaussian, gaussian-paper, guided, matched, reversed, permuted, kind"},
        {"plan", CLI_STR, &plan_path, 0, 0, "plan file (guided, matched and the controls)"},
        {"p", CLI_FLOAT, &s.rate, 0, 0.9, "the rate: p (standard, gaussian) or p_max (planned regimes)"},
        {"pool", CLI_STR, &pool_s, 0, 0, "classifier input: mean, cls or pair (pair tasks)"},
        {"seed", CLI_U64, &seed, 0, 1e18, "run seed (subset, head, order, dropout)"},
        {"threads", CLI_SIZE, &threads, 0, 256, "OpenBLAS threads (0: default)"},
        {"save", CLI_STR, &save, 0, 0, "write the best-validation model to this folder"},
        {"predictions", CLI_STR, &pred_path, 0, 0, "write the test predictions to this TSV"},
        {"quiet", CLI_BOOL, &quiet, 0, 0, "no progress lines"},
    };
    size_t nf = sizeof own / sizeof *own;
    memcpy(flags, own, sizeof own);
    nf += ft_flags(flags + nf, &s);
    if (cli_parse(flags, nf, argc, argv, 2, "usage: encoder finetune --ckpt DIR [flags]"))
        return 0;
    if (ckpt == NULL)
        enc_die("finetune: --ckpt DIR is required");
    int regime = enc_regime_parse(regime_s);
    if (regime < 0)
        enc_die("--regime %s: expected none, standard, gaussian, gaussian-paper, guided, matched, "
                "reversed, permuted or kind", regime_s);
    int pool = enc_pool_parse(pool_s);
    if (pool < 0)
        enc_die("--pool %s: expected mean, cls or pair", pool_s);
    if (enc_regime_planned(regime) && plan_path == NULL)
        enc_die("--regime %s needs --plan FILE", regime_s);
    char path[4096];
    if (save != NULL) { /* fail before the work, not after it */
        if (mkdir(save, 0777) != 0 && errno != EEXIST)
            enc_die("--save %s: cannot create the folder: %s", save, strerror(errno));
        enc_path(path, sizeof path, save, "vocab.txt");
        enc_check_writable(path);
        enc_path(path, sizeof path, save, "model.safetensors");
        enc_check_writable(path);
    }
    if (pred_path != NULL)
        enc_check_writable(pred_path);
    if (threads)
        openblas_set_num_threads((int)threads);
    enc_vocab v;
    enc_config cfg;
    float *pre = enc_load_pretrained(&cfg, &v, ckpt, 2);
    enc_task task;
    enc_load_task(&task, task_name, wordnet, &v, train, val, test, regression, pool_n);
    cfg.classes = task.n_classes;
    cfg.pool = pool;
    s.task = &task;
    s.cfg = cfg;
    s.pretrained = scratch ? NULL : pre;
    s.plan = plan_path;
    s.verbose = !quiet;
    printf("task %s: %zu training, %zu validation, %zu test examples, %zu classes\n", task.name,
           task.train.n, task.val.n, task.test.n, task.n_classes);
    enc_model m;
    enc_model_create(&m, &cfg);
    float *pred = enc_alloc(task.test.n, sizeof *pred, "predictions");
    ft_result r = enc_finetune(&s, regime, fraction, seed, m.param, pred);
    const char *metric = ft_metric_name(&task);
    printf("result task=%s regime=%s%s p=%g fraction=%g seed=%llu n=%zu steps=%zu/%zu "
           "best_step=%zu train_loss=%.4f best_train_loss=%.4f val_%s=%.4f val_f1=%.4f "
           "test_%s=%.4f test_f1=%.4f seconds=%.1f\n",
           task.name, enc_regime_name(regime), scratch ? "(scratch)" : "", (double)s.rate,
           (double)fraction, (unsigned long long)seed, r.n_train, r.steps, r.budget, r.best_step,
           r.train_loss, r.best_train_loss, metric, r.val_acc, r.val_f1, metric, r.test_acc,
           r.test_f1, r.seconds);
    if (save != NULL) {
        enc_ckpt_meta meta = {0};
        meta.cfg = cfg, meta.step = r.best_step, meta.seed = seed, meta.has_classifier = 1;
        meta.has_vocab_digest = 1, meta.vocab_digest = enc_vocab_digest(&v);
        enc_ckpt_save(&m, &meta, path);
        enc_path(path, sizeof path, save, "vocab.txt");
        enc_vocab_save(&v, path);
        printf("saved the best-validation model (step %zu) to %s\n", r.best_step, save);
    }
    if (pred_path != NULL) {
        pred_ctx c = {&task, pred};
        enc_write_atomic(pred_path, write_predictions, &c);
        printf("wrote %zu test predictions to %s\n", task.test.n, pred_path);
    }
    free(pred);
    enc_model_free(&m);
    free(pre);
    enc_task_free(&task);
    enc_vocab_free(&v);
    return 0;
}

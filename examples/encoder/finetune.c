/* Fine-tuning runs (see finetune.h) and `encoder finetune`. */
#define _POSIX_C_SOURCE 200809L
#include "finetune.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gdropout/gdropout.h>

#include "checkpoint.h"
#include "cli.h"
#include "commands.h"
#include "optim.h"

static const char *const regime_names[ENC_REG_N] = {"none",   "standard", "gaussian",
                                                    "gaussian-paper", "guided", "matched"};

const char *enc_regime_name(int regime)
{
    return regime >= 0 && regime < ENC_REG_N ? regime_names[regime] : "?";
}

int enc_regime_parse(const char *name)
{
    return enc_name_index(regime_names, ENC_REG_N, name);
}

/* The site rates (or sigmas) of a regime; sets *gaussian. */
static void regime_rates(float *rate, int *gaussian, const ft_setup *s, int regime)
{
    const size_t ns = enc_n_sites(&s->cfg);
    double mean = 0.0;
    if (regime == ENC_REG_GUIDED || regime == ENC_REG_MATCHED) {
        if (s->plan == NULL)
            enc_die("regime %s needs a plan (--plan)", enc_regime_name(regime));
        for (size_t i = 0; i < ns; i++)
            mean += s->plan[i];
        mean /= (double)ns;
    }
    float sigma = 0.0f;
    *gaussian = regime == ENC_REG_GAUSSIAN || regime == ENC_REG_GAUSSIAN_PAPER;
    if (regime == ENC_REG_GAUSSIAN)
        enc_gd(gd_gaussian_sigma(s->p, &sigma), "gd_gaussian_sigma");
    if (regime == ENC_REG_GAUSSIAN_PAPER)
        sigma = (float)((double)s->p / (1.0 - (double)s->p));
    for (size_t i = 0; i < ns; i++) {
        switch (regime) {
        case ENC_REG_NONE: rate[i] = 0.0f; break;
        case ENC_REG_STANDARD: rate[i] = s->p; break;
        case ENC_REG_GAUSSIAN:
        case ENC_REG_GAUSSIAN_PAPER: rate[i] = sigma; break;
        case ENC_REG_GUIDED: rate[i] = s->plan[i]; break;
        default: rate[i] = (float)mean; break;
        }
    }
}

typedef struct eval_out {
    double acc, f1, mse;
} eval_out;

static eval_out evaluate(enc_model *m, const enc_dataset *d, size_t n_classes, size_t max_len)
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

ft_result enc_finetune(const ft_setup *s, int regime, double fraction, uint64_t seed)
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
    regime_rates(rate, &gaussian, s, regime);

    size_t *sub = enc_alloc(task->train.n, sizeof *sub, "subset");
    size_t n = enc_subset(sub, &task->train, task->n_classes, fraction, seed, 0x737562ull);
    const size_t spe = (n + s->batch - 1) / s->batch;
    size_t total = spe * s->epochs;
    total = total > s->min_steps ? total : s->min_steps;
    total = s->max_steps && total > s->max_steps ? s->max_steps : total;
    enc_adamw o;
    enc_adamw_init(&o, &m, s->lr, total / 10, total, s->weight_decay);
    enc_batch b;
    enc_batch_alloc(&b, s->batch, s->cfg.max_len);
    size_t *order = enc_alloc(n, sizeof *order, "order");
    double loss_sum = 0.0;
    size_t loss_n = 0;
    for (size_t step = 0; step < total; step++) {
        size_t k = step % spe;
        if (k == 0) { /* a new epoch: a new order, the same in every regime */
            memcpy(order, sub, n * sizeof *order);
            enc_rng r = enc_rng_make(seed, 0x65706f6368ull + step / spe);
            enc_shuffle(order, n, &r);
            loss_sum = 0.0, loss_n = 0;
        }
        size_t bn = k + 1 < spe ? s->batch : n - k * s->batch;
        enc_batch_task(&b, &task->train, order + k * s->batch, bn, s->cfg.max_len);
        enc_dropout d = {1, gaussian, rate, s->cls_p, seed, step};
        enc_result x = enc_forward_cls(&m, &b, &d, NULL, NULL);
        enc_backward(&m, &b, &d, NULL, NULL);
        enc_adamw_step(&o, &m);
        loss_sum += x.loss * (double)bn;
        loss_n += bn;
    }
    eval_out v = evaluate(&m, &task->val, task->n_classes, s->cfg.max_len);
    eval_out t = evaluate(&m, &task->test, task->n_classes, s->cfg.max_len);
    int reg = task->n_classes == 1;
    res.val_acc = reg ? -v.mse : v.acc;
    res.val_f1 = v.f1;
    res.test_acc = reg ? -t.mse : t.acc;
    res.test_f1 = t.f1;
    res.train_loss = loss_n ? loss_sum / (double)loss_n : 0.0;
    res.steps = total;
    res.n_train = n;
    res.seconds = enc_now() - t0;
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
 * into a model laid out with `classes` classes; returns the parameters. */
float *enc_load_pretrained(enc_config *cfg, enc_vocab *v, const char *dir, size_t classes)
{
    char path[4096];
    enc_ckpt_meta meta;
    enc_path(path, sizeof path, dir, "model.safetensors");
    enc_ckpt_meta_read(&meta, path);
    *cfg = meta.cfg;
    cfg->classes = classes;
    enc_model m;
    enc_model_create(&m, cfg);
    enc_ckpt_load(&m, path, 1);
    float *p = m.param;
    m.param = NULL;
    enc_model_free(&m);
    enc_path(path, sizeof path, dir, "vocab.txt");
    enc_vocab_load(v, path);
    if (v->n != cfg->vocab)
        enc_die("%s has %zu entries, the checkpoint's vocabulary %zu", path, v->n, cfg->vocab);
    return p;
}

/* Reads a plan file's rates (n sites). */
float *enc_read_plan(const char *path, size_t n)
{
    gd_plan *p;
    int rc = gd_plan_load(&p, path);
    if (rc != GD_OK)
        enc_die("%s: cannot load the plan: %s", path, gd_strerror(rc));
    size_t k;
    enc_gd(gd_plan_size(p, &k), "gd_plan_size");
    if (k != n)
        enc_die("%s: the plan has %zu sites, the model %zu", path, k, n);
    float *r = enc_alloc(n, sizeof *r, "plan");
    enc_gd(gd_plan_get_all(p, r, n), "gd_plan_get_all");
    gd_plan_destroy(p);
    return r;
}

int enc_cmd_finetune(int argc, char **argv)
{
    const char *ckpt = NULL, *task_name = "supersense", *wordnet = "/usr/share/wordnet";
    const char *train = NULL, *val = NULL, *test = NULL, *regime_s = "standard", *plan_path = NULL;
    const char *pool_s = "mean";
    float lr = 1e-4f, p = 0.1f, cls_p = 0.1f, wd = 0.01f, fraction = 1.0f;
    size_t epochs = 5, batch = 32, min_steps = 100, max_steps = 0, threads = 0, pool_n = 4000;
    uint64_t seed = 1;
    int regression = 0, scratch = 0;
    const cli_flag flags[] = {
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
        {"regime", CLI_STR, &regime_s, 0, 0, "none, standard, gaussian, gaussian-paper, guided, matched"},
        {"plan", CLI_STR, &plan_path, 0, 0, "plan file (guided, matched)"},
        {"p", CLI_FLOAT, &p, 0, 0.9, "standard dropout rate"},
        {"cls-p", CLI_FLOAT, &cls_p, 0, 0.9, "classifier dropout (every regime)"},
        {"pool", CLI_STR, &pool_s, 0, 0, "classifier input: mean, cls or pair (pair tasks)"},
        {"lr", CLI_FLOAT, &lr, 1e-7, 1, "peak learning rate"},
        {"weight-decay", CLI_FLOAT, &wd, 0, 1, "AdamW weight decay"},
        {"epochs", CLI_SIZE, &epochs, 1, 1e6, "passes over the subset"},
        {"min-steps", CLI_SIZE, &min_steps, 1, 1e9, "at least this many steps"},
        {"max-steps", CLI_SIZE, &max_steps, 0, 1e9, "at most this many steps (0: no cap)"},
        {"batch", CLI_SIZE, &batch, 1, 4096, "examples per step"},
        {"seed", CLI_U64, &seed, 0, 1e18, "run seed (subset, head, order, dropout)"},
        {"threads", CLI_SIZE, &threads, 0, 256, "OpenBLAS threads (0: default)"},
    };
    if (cli_parse(flags, sizeof flags / sizeof *flags, argc, argv, 2,
                  "usage: encoder finetune --ckpt DIR [flags]"))
        return 0;
    if (ckpt == NULL)
        enc_die("finetune: --ckpt DIR is required");
    int regime = enc_regime_parse(regime_s);
    if (regime < 0)
        enc_die("--regime %s: expected none, standard, gaussian, gaussian-paper, guided or matched",
                regime_s);
    int pool = enc_pool_parse(pool_s);
    if (pool < 0)
        enc_die("--pool %s: expected mean, cls or pair", pool_s);
    if (threads)
        openblas_set_num_threads((int)threads);
    enc_vocab v;
    enc_config cfg;
    float *pre = enc_load_pretrained(&cfg, &v, ckpt, 2);
    enc_task task;
    enc_load_task(&task, task_name, wordnet, &v, train, val, test, regression, pool_n);
    cfg.classes = task.n_classes;
    cfg.pool = pool;
    float *plan = plan_path ? enc_read_plan(plan_path, enc_n_sites(&cfg)) : NULL;
    ft_setup s = {&task, cfg, scratch ? NULL : pre, plan, lr, p, cls_p, wd, epochs, batch,
                  min_steps, max_steps};
    printf("task %s: %zu training, %zu validation, %zu test examples, %zu classes\n", task.name,
           task.train.n, task.val.n, task.test.n, task.n_classes);
    ft_result r = enc_finetune(&s, regime, fraction, seed);
    printf("result task=%s regime=%s%s fraction=%g seed=%llu n=%zu steps=%zu train_loss=%.4f "
           "val_acc=%.4f val_f1=%.4f test_acc=%.4f test_f1=%.4f seconds=%.1f\n",
           task.name, enc_regime_name(regime), scratch ? "(scratch)" : "", (double)fraction,
           (unsigned long long)seed, r.n_train, r.steps, r.train_loss, r.val_acc, r.val_f1,
           r.test_acc, r.test_f1, r.seconds);
    free(plan);
    free(pre);
    enc_task_free(&task);
    enc_vocab_free(&v);
    return 0;
}

/*
 * One fine-tuning run: a pretrained encoder (or a fresh one) with a new
 * classifier head, trained on a stratified subset of a task's training pool
 * under a dropout regime, evaluated on the validation set every few steps;
 * the state with the best validation score is kept and scored on test.
 *
 * Everything random in a run is a function of its seed alone: the subset,
 * the head's initialisation, the example order and the dropout streams
 * (stream ((uint64_t)step << 16) | site), so regimes compared at one seed
 * see the same data in the same order with the same dropout words.
 *
 * The budget: `epochs` passes over the subset, clamped to [min_steps,
 * max_steps], with warm-up over the first tenth and linear decay to 0 at
 * the budget's end.  Validation every eval_every steps (0: budget / 10)
 * and at the end; with patience > 0 the run stops once that many
 * evaluations in a row bring no improvement.  The defaults (ft_defaults)
 * are what `encoder finetune` and `encoder experiment` share.
 */
#ifndef ENC_FINETUNE_H
#define ENC_FINETUNE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "data.h"
#include "model.h"

/* Regimes.  "rate" below is ft_setup.rate. */
enum {
    ENC_REG_NONE,     /* no dropout at the encoder's sites */
    ENC_REG_STANDARD, /* rate at every site */
    ENC_REG_GAUSSIAN, /* Gaussian, sigma = sqrt(rate / (1 - rate)) at every site */
    ENC_REG_GAUSSIAN_PAPER, /* Gaussian, sigma = rate / (1 - rate) (the paper's code) */
    ENC_REG_GUIDED,   /* the plan's scores, the paper's rule from p_max = rate to 0 */
    ENC_REG_MATCHED,  /* every site at the mean of guided's rates */
    /* The controls (gd_plan_control), with guided's own rates: */
    ENC_REG_REVERSED, /* in reverse rank order: the most informative site gets p_max */
    ENC_REG_PERMUTED, /* in a random order, drawn from the run seed */
    ENC_REG_KIND,     /* permuted within each kind of site (the same name but for
                         the layer): keeps what each kind gets, drops the Fisher
                         order inside a kind */
    ENC_REG_N
};
/* "none", "standard", ...; and back (-1 for an unknown name). */
const char *enc_regime_name(int regime);
int enc_regime_parse(const char *name);
/* Whether a regime takes its rates from the plan. */
int enc_regime_planned(int regime);

typedef struct ft_setup {
    const enc_task *task;
    enc_config cfg;          /* classes = the task's; pool ENC_POOL_PAIR only for a pair task */
    const float *pretrained; /* parameters of a pretrained encoder laid out for cfg (the
                                classifier's entries ignored); NULL: random initialisation */
    const char *plan;        /* plan file (planned regimes): its scores, for cfg's sites */
    float lr, rate, cls_p, weight_decay;
    size_t epochs, batch, min_steps, max_steps; /* the budget (see above) */
    size_t eval_every, patience;
    FILE *curve;             /* if not NULL: a line per evaluation (see enc_finetune) */
    const char *curve_key;   /* its first columns (e.g. "task\tfraction\tseed\tregime\trate") */
    int verbose;             /* a progress line per evaluation on stdout */
} ft_setup;

/* The defaults `encoder finetune` and `encoder experiment` share (task,
 * cfg, pretrained and plan unset). */
ft_setup ft_defaults(void);

typedef struct ft_result {
    double val_acc, val_f1, test_acc, test_f1; /* at the best validation step; accuracy and
                                                  macro-F1 in [0, 1]; regression: the _acc
                                                  fields hold -MSE (ft_metric_name) */
    double train_loss;      /* mean training loss over the steps before the last evaluation */
    double best_train_loss; /* the same, before the best evaluation */
    double seconds;
    size_t steps, best_step, budget, n_train;
} ft_result;

/* Fills f (room for 9) with the budget and optimizer flags bound to s;
 * returns how many. */
size_t ft_flags(cli_flag *f, ft_setup *s);

/* "acc", or "neg_mse" for a regression task. */
const char *ft_metric_name(const enc_task *t);

/* The site rates of a regime under s (ns = enc_n_sites(&s->cfg) of them);
 * *gaussian says whether they are sigmas.  Needs s->plan for the planned
 * regimes; the permuted regime draws its order from seed. */
void ft_regime_rates(float *rate, int *gaussian, const ft_setup *s, int regime, uint64_t seed);

/* Runs one fine-tuning; the model's best-validation parameters are copied
 * to best_params (enc_model layout for s->cfg) when it is not NULL, and the
 * test predictions (class, or score for regression) to test_pred
 * (task->test.n of them) when that is not NULL.
 * Curve lines: curve_key, step, train_loss, val_acc, lr. */
ft_result enc_finetune(const ft_setup *s, int regime, double fraction, uint64_t seed,
                       float *best_params, float *test_pred);

#endif /* ENC_FINETUNE_H */

/*
 * One fine-tuning run: a pretrained encoder (or a fresh one) with a new
 * classifier head, trained on a stratified subset of a task's training pool
 * under a dropout regime, then scored on the validation and test sets.
 *
 * Everything random in a run is a function of its seed alone: the subset,
 * the head's initialisation, the example order and the dropout streams
 * (stream ((uint64_t)step << 16) | site), so regimes compared at one seed
 * see the same data in the same order with the same dropout words.
 */
#ifndef ENC_FINETUNE_H
#define ENC_FINETUNE_H

#include <stddef.h>
#include <stdint.h>

#include "data.h"
#include "model.h"

enum {
    ENC_REG_NONE,     /* no dropout at the encoder's sites */
    ENC_REG_STANDARD, /* p at every site */
    ENC_REG_GAUSSIAN, /* Gaussian, sigma = sqrt(p / (1 - p)) at every site */
    ENC_REG_GAUSSIAN_PAPER, /* Gaussian, sigma = p / (1 - p) (the paper's code) */
    ENC_REG_GUIDED,   /* the plan's rates */
    ENC_REG_MATCHED,  /* every site at the plan's mean rate */
    ENC_REG_N
};
/* "none", "standard", ...; and back (-1 for an unknown name). */
const char *enc_regime_name(int regime);
int enc_regime_parse(const char *name);

typedef struct ft_setup {
    const enc_task *task;
    enc_config cfg;          /* classes = the task's; pool ENC_POOL_PAIR only for a pair task */
    const float *pretrained; /* parameters of a pretrained encoder laid out for cfg (the
                                classifier's entries ignored); NULL: random initialisation */
    const float *plan;       /* guided rates, enc_n_sites(cfg) of them (guided, matched) */
    float lr, p, cls_p, weight_decay;
    size_t epochs, batch, min_steps, max_steps; /* steps = epochs over the subset,
                                                    clamped to [min_steps, max_steps] */
} ft_setup;

typedef struct ft_result {
    double val_acc, val_f1, test_acc, test_f1; /* accuracy and macro-F1, in [0, 1];
                                                  regression: val/test_acc hold -MSE */
    double train_loss;                          /* mean over the last epoch */
    double seconds;
    size_t steps, n_train;
} ft_result;

ft_result enc_finetune(const ft_setup *s, int regime, double fraction, uint64_t seed);

#endif /* ENC_FINETUNE_H */

/*
 * AdamW (Loshchilov & Hutter) with BERT's schedule: linear warm-up to the
 * peak rate, then linear decay to zero at the last step; gradients clipped
 * to a global norm; weight decay on matrices only (not biases, LayerNorm).
 */
#ifndef ENC_OPTIM_H
#define ENC_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

typedef struct enc_adamw {
    float lr, beta1, beta2, eps, weight_decay, clip;
    uint64_t warmup, total, step; /* step = updates done */
    float *m, *v;                 /* n_params each */
    size_t n;
} enc_adamw;

void enc_adamw_init(enc_adamw *o, const enc_model *m, float lr, uint64_t warmup, uint64_t total,
                    float weight_decay);
void enc_adamw_free(enc_adamw *o);
/* The learning rate of the next update. */
float enc_adamw_rate(const enc_adamw *o);
/* One update of m's parameters from m's gradients; returns the gradient
 * norm before clipping.  A gradient norm that is not finite ends the
 * program (status 1) before anything is changed. */
double enc_adamw_step(enc_adamw *o, enc_model *m);

#endif /* ENC_OPTIM_H */

/*
 * Gradient check of the encoder: the analytic backward of every layer
 * against central finite differences, on a tiny model, for each head and
 * dropout kind: MLM, classification (pooled by [CLS], by mean, and by
 * segment means for pairs), a regression score, and Gaussian dropout.
 * Dropout is on (p = 0.3) with a fixed stream, so its mask (or noise) is a
 * fixed multiplier, the same in every evaluation of the loss.
 *
 * What is compared, per tensor: the directional derivative along a random
 * unit direction u, (L(w + eps u) - L(w - eps u)) / (2 eps), against
 * g . u; and per coordinate for a few coordinates.  The model runs in float
 * (~7 digits): with eps = 3e-3 and a loss of order 1, rounding puts about
 * 1e-7 / 3e-3 ~ 3e-5 of noise on a difference, and truncation about
 * eps^2 |L'''| ~ 1e-5.  (At eps = 3e-2 one token-type coordinate is off by
 * 40 %, at 1e-2 by 4 %, at 3e-3 and 1e-3 not at all: truncation, not a
 * wrong gradient.)  A relative error of 2 % plus 2e-4 absolute separates a
 * correct gradient from a wrong one: dropping the x pdf term of the GELU
 * derivative, the xhat term of LayerNorm's, or the row dot of softmax's
 * made 557 to 783 of the 960 checks fail (measured before the pair case
 * was added), and flipping the sign of the pair head's |u - v| term in its
 * backward fails 135 of the 1116 there are now.
 *
 * Exit status 0 and "N passed, 0 failed" when every check holds.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "model.h"
#include "util.h"

static int n_pass, n_fail;

typedef struct setup {
    const char *what;
    size_t classes;
    int pool, gaussian, mlm;
} setup;

static void make_batch(enc_batch *b, const enc_config *c, int mlm, int pair, enc_rng *r)
{
    static const size_t len[3] = {6, 4, 7};
    b->B = 3;
    b->T = 7;
    b->n_mask = 0;
    for (size_t s = 0; s < b->B; s++) {
        b->len[s] = len[s];
        for (size_t t = 0; t < b->T; t++) {
            size_t i = s * b->T + t;
            b->ids[i] = t < len[s] ? (uint32_t)(5 + enc_rng_below(r, c->vocab - 5)) : 0;
            /* one pair (sequence 2) among single texts; every sequence a
             * pair (segment 1 from t = 3) for pair pooling */
            size_t t1 = pair ? 3 : s == 2 ? 4 : b->T;
            b->seg[i] = (uint8_t)(t >= t1 && t < len[s]);
            if (mlm && t > 0 && t < len[s] && t % 2 == 1) {
                b->mpos[b->n_mask] = i;
                b->mlabel[b->n_mask++] = (uint32_t)(5 + enc_rng_below(r, c->vocab - 5));
                b->ids[i] = 4; /* [MASK] */
            }
        }
        b->label[s] = (int)(s % (c->classes ? c->classes : 1));
        b->target[s] = 0.5f * (float)s - 0.3f;
    }
}

static double loss_of(enc_model *m, const enc_batch *b, const enc_dropout *d, int mlm)
{
    return mlm ? enc_forward_mlm(m, b, d).loss : enc_forward_cls(m, b, d, NULL, NULL).loss;
}

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...)
{
    if (ok) {
        n_pass++;
        return;
    }
    n_fail++;
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
}

static void run(const setup *st)
{
    enc_config cfg = {23, 8, 2, 2, 12, 8, st->classes, st->pool};
    enc_model m;
    enc_model_create(&m, &cfg);
    enc_model_init(&m, 1, 2);
    enc_rng r = enc_rng_make(3, 4);
    for (size_t i = 0; i < m.n_params; i++) /* larger weights than BERT's init: */
        m.param[i] += (float)(0.3 * enc_rng_normal(&r)); /* gradients well above the noise */
    enc_batch b;
    enc_batch_alloc(&b, 3, 8);
    make_batch(&b, &cfg, st->mlm, st->pool == ENC_POOL_PAIR, &r);
    float rate[7];
    for (size_t s = 0; s < enc_n_sites(&cfg); s++)
        rate[s] = st->gaussian ? 0.4f : 0.3f;
    enc_dropout d = {1, st->gaussian, rate, 0.3f, 99, 5};
    loss_of(&m, &b, &d, st->mlm);
    enc_backward(&m, &b, &d, NULL, NULL);
    float *g = enc_alloc(m.n_params, sizeof *g, "gradient");
    memcpy(g, m.grad, m.n_params * sizeof *g);
    const double eps = 3e-3;
    for (size_t k = 0; k < m.n_tensors; k++) {
        const enc_tensor *t = &m.tensor[k];
        size_t n = t->rows * t->cols;
        float *w = m.param + t->offset;
        const float *gt = g + t->offset;
        if (!st->mlm && (strncmp(t->name, "cls.", 4) == 0))
            continue; /* the MLM head is not in a classification loss */
        if (st->mlm && strncmp(t->name, "classifier", 10) == 0)
            continue;
        /* Directional derivative along a random unit direction. */
        double *u = enc_alloc(n, sizeof *u, "direction"), nu = 0.0, gu = 0.0;
        for (size_t i = 0; i < n; i++)
            u[i] = enc_rng_normal(&r), nu += u[i] * u[i];
        nu = sqrt(nu);
        float *w0 = enc_alloc(n, sizeof *w0, "weights");
        memcpy(w0, w, n * sizeof *w0);
        for (size_t i = 0; i < n; i++)
            u[i] /= nu, gu += u[i] * gt[i];
        for (size_t i = 0; i < n; i++)
            w[i] = (float)(w0[i] + eps * u[i]);
        double lp = loss_of(&m, &b, &d, st->mlm);
        for (size_t i = 0; i < n; i++)
            w[i] = (float)(w0[i] - eps * u[i]);
        double lm = loss_of(&m, &b, &d, st->mlm);
        memcpy(w, w0, n * sizeof *w0);
        double fd = (lp - lm) / (2.0 * eps);
        check(fabs(fd - gu) <= 2e-4 + 0.02 * fabs(fd), "%s: %s: directional %.6g vs %.6g",
              st->what, t->name, fd, gu);
        /* A few coordinates (the largest-gradient one among them). */
        for (int j = 0; j < 3; j++) {
            size_t i = j == 0 ? 0 : enc_rng_below(&r, n);
            w[i] = (float)(w0[i] + eps);
            lp = loss_of(&m, &b, &d, st->mlm);
            w[i] = (float)(w0[i] - eps);
            lm = loss_of(&m, &b, &d, st->mlm);
            w[i] = w0[i];
            fd = (lp - lm) / (2.0 * eps);
            check(fabs(fd - gt[i]) <= 2e-4 + 0.02 * fabs(fd), "%s: %s[%zu]: %.6g vs %.6g",
                  st->what, t->name, i, fd, (double)gt[i]);
        }
        free(u);
        free(w0);
    }
    free(g);
    enc_batch_free(&b);
    enc_model_free(&m);
}

int main(void)
{
    static const setup setups[] = {
        {"mlm", 0, ENC_POOL_CLS, 0, 1},
        {"classifier-cls", 3, ENC_POOL_CLS, 0, 0},
        {"classifier-mean", 3, ENC_POOL_MEAN, 0, 0},
        {"classifier-pair", 3, ENC_POOL_PAIR, 0, 0},
        {"regression-mean", 1, ENC_POOL_MEAN, 0, 0},
        {"gaussian-mlm", 0, ENC_POOL_CLS, 1, 1},
        {"gaussian-classifier", 3, ENC_POOL_MEAN, 1, 0},
    };
    for (size_t i = 0; i < sizeof setups / sizeof *setups; i++)
        run(&setups[i]);
    printf("gradcheck: %d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}

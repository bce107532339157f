/* AdamW with warm-up and linear decay (see optim.h). */
#include "optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void enc_adamw_init(enc_adamw *o, const enc_model *m, float lr, uint64_t warmup, uint64_t total,
                    float weight_decay)
{
    memset(o, 0, sizeof *o);
    o->lr = lr;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-6f;
    o->weight_decay = weight_decay;
    o->clip = 1.0f;
    o->warmup = warmup;
    o->total = total;
    o->n = m->n_params;
    o->m = enc_alloc(o->n, sizeof(float), "optimizer state");
    o->v = enc_alloc(o->n, sizeof(float), "optimizer state");
}

void enc_adamw_free(enc_adamw *o)
{
    free(o->m);
    free(o->v);
    memset(o, 0, sizeof *o);
}

float enc_adamw_rate(const enc_adamw *o)
{
    double t = (double)o->step + 1.0;
    if (o->warmup > 0 && t <= (double)o->warmup)
        return (float)(o->lr * t / (double)o->warmup);
    if (o->total <= o->warmup)
        return o->lr;
    double left = ((double)o->total - t) / (double)(o->total - o->warmup);
    return (float)(o->lr * (left > 0.0 ? left : 0.0));
}

double enc_adamw_step(enc_adamw *o, enc_model *m)
{
    double ss = 0.0;
    for (size_t i = 0; i < o->n; i++)
        ss += (double)m->grad[i] * m->grad[i];
    double norm = sqrt(ss);
    /* A NaN or Inf gradient would poison every weight (and the second
     * moments) in this update, and the next checkpoint would save them over
     * the last good one: stop before touching anything. */
    if (!isfinite(norm))
        enc_die("step %llu: the gradient norm is %g (not finite): stopping before the update, "
                "saving nothing; an earlier checkpoint, if any, is kept (a smaller --lr?)",
                (unsigned long long)o->step + 1, norm);
    float scale = norm > o->clip ? (float)(o->clip / norm) : 1.0f;
    float lr = enc_adamw_rate(o);
    o->step++;
    const float b1 = o->beta1, b2 = o->beta2;
    const float c1 = (float)(1.0 - pow(b1, (double)o->step));
    const float c2 = (float)(1.0 - pow(b2, (double)o->step));
    for (size_t k = 0; k < m->n_tensors; k++) {
        const enc_tensor *t = &m->tensor[k];
        const float wd = t->decay ? o->weight_decay : 0.0f;
        float *w = m->param + t->offset;
        const float *g = m->grad + t->offset;
        float *mm = o->m + t->offset, *vv = o->v + t->offset;
        for (size_t i = 0, n = t->rows * t->cols; i < n; i++) {
            float gi = g[i] * scale;
            mm[i] = b1 * mm[i] + (1.0f - b1) * gi;
            vv[i] = b2 * vv[i] + (1.0f - b2) * gi * gi;
            float upd = (mm[i] / c1) / (sqrtf(vv[i] / c2) + o->eps);
            w[i] -= lr * (upd + wd * w[i]);
        }
    }
    return norm;
}

/*
 * A BERT-style encoder: forward and backward of every layer, by hand, on
 * cblas_sgemm, with every dropout through libgdropout.
 *
 * Shapes (B sequences padded to T tokens, H hidden, nh heads of d = H/nh,
 * F feed-forward, V vocabulary, C classes, L layers):
 *   embeddings      ids[B,T] -> word + position + token type -> LayerNorm
 *                   -> dropout (site 0, "embeddings.dropout") -> x[B*T,H]
 *   layer l         q,k,v = x Wq^T + bq, ...                        [B*T,H]
 *                   att = softmax(q k^T / sqrt(d), keys < len)   [B,nh,T,T]
 *                   attd = dropout(att)        (site 1+3l, attention.self)
 *                   ctx = attd v                                    [B*T,H]
 *                   r1 = x + dropout(ctx Wo^T + bo)  (site 2+3l, fused)
 *                   h = LayerNorm(r1)
 *                   r2 = h + dropout(gelu(h Wi^T + bi) Wf^T + bf) (3+3l)
 *                   x' = LayerNorm(r2)
 *   MLM head        at masked positions: LayerNorm(gelu(x Wt^T + bt))
 *                   wte^T + bias (decoder tied to the word embeddings)
 *   classifier      pooled = x[CLS], the mean over the sequence's tokens
 *                   [B,H], or for pairs [u, v, |u-v|, u*v] [B,4H] with u, v
 *                   the means over segments 0 and 1 (see ENC_POOL_*);
 *                   dropout (its own rate, always Bernoulli) -> W_c -> C
 *                   logits (C = 1: a regression score, squared error)
 * Post-LayerNorm as BERT; GELU is erf's; LayerNorm eps 1e-12.
 *
 * Masks: every encoder site stores its Bernoulli mask in forward (1 bit per
 * element, 1/32 of the activation it drops) and backward reads it, because
 * regenerating costs Philox work in backward and the bits are cheap; the
 * classifier's dropout regenerates its mask from the stream instead (B x H
 * or B x 4H words: nothing to keep), and Gaussian noise is always regenerated.  A host
 * short of memory would regenerate everywhere: the result is the same bit
 * for bit.
 */
#ifndef ENC_MODEL_H
#define ENC_MODEL_H

#include <stddef.h>
#include <stdint.h>

/* The classifier's input, from the last layer's x[T,H] of each sequence:
 *   CLS   x at [CLS] (position 0)                                       [H]
 *   MEAN  the mean over the sequence's tokens (specials included)       [H]
 *   PAIR  u, v = the means over segment 0 ([CLS] A [SEP]) and segment 1
 *         (B [SEP]); [u, v, |u - v|, u * v] (elementwise)              [4H]
 * PAIR gives a pair task's head both texts' vectors and their agreement,
 * which MLM on single glosses never had to put into one vector.  A sequence
 * without segment 1 gets v = 0: the programs refuse PAIR for single texts. */
enum { ENC_POOL_CLS = 0, ENC_POOL_MEAN = 1, ENC_POOL_PAIR = 2, ENC_POOL_N };

typedef struct enc_config {
    size_t vocab, hidden, layers, heads, ffn, max_len;
    size_t classes; /* 0: no classifier (pretraining); 1: regression; >= 2 */
    int pool;       /* ENC_POOL_*: the classifier's input and so its width */
} enc_config;

/* "cls", "mean", "pair"; and back (-1 for an unknown name). */
const char *enc_pool_name(int pool);
int enc_pool_parse(const char *name);

/* Width of the classifier's input: H, or 4H for ENC_POOL_PAIR. */
static inline size_t enc_cls_in(const enc_config *c)
{
    return c->pool == ENC_POOL_PAIR ? 4 * c->hidden : c->hidden;
}

enum { ENC_TYPES = 2, ENC_MAX_LAYERS = 64 };

/* Checks a configuration; on error writes why to err and returns -1. */
int enc_config_check(const enc_config *c, char *err, size_t err_len);

/* Number of dropout sites the plan covers: 3 * layers + 1. */
static inline size_t enc_n_sites(const enc_config *c)
{
    return 3 * c->layers + 1;
}
/* Site names as Hugging Face names BERT's modules. */
void enc_site_name(size_t site, char *buf, size_t len);

/* Which site's Fisher score a parameter tensor enters.  Two rules:
 *   ENC_RULE_MODULE  by module, as Hugging Face names them: a dropout's site
 *       gets the parameters of the module that holds it (attention.self:
 *       query, key, value; attention.output: its dense and LayerNorm; the
 *       feed-forward's output: intermediate and output dense and output
 *       LayerNorm); the embeddings' get site 0.  What `encoder fisher`
 *       uses by default, and enc_tensor.site.
 *   ENC_RULE_TRACED  by data flow, as gdropout.torch maps a traced model: a
 *       parameter feeds the first dropout (in forward order) whose input
 *       depends on it.  Query and key feed attention.self (softmax(QK^T) is
 *       what it drops), value and attention.output.dense feed
 *       attention.output, the attention LayerNorm (after that dropout)
 *       feeds the feed-forward's site, and a layer's last LayerNorm the
 *       next layer's attention.self (the last layer's feeds no site).
 * Returns SIZE_MAX for a tensor on no site (the heads). */
enum { ENC_RULE_MODULE, ENC_RULE_TRACED };

/* A parameter tensor: BERT's name, shape rows x cols (cols = 1 for
 * vectors), where it lives in the flat buffer, and the dropout site its
 * Fisher information scores (GD_NONE-like SIZE_MAX for the heads). */
typedef struct enc_tensor {
    char name[96];
    size_t rows, cols, offset, site;
    int decay; /* AdamW weight decay applies (matrices, not biases/LayerNorm) */
} enc_tensor;

typedef struct enc_linear {
    float *w, *b;          /* w[out x in], b[out] */
    size_t in, out;
    size_t w_id, b_id;     /* tensor ids */
} enc_linear;

typedef struct enc_norm {
    float *g, *b;
} enc_norm;

typedef struct enc_layer_params {
    enc_linear q, k, v, ao, fi, fo;
    enc_norm ln1, ln2;
} enc_layer_params;

/* Pointers into one flat buffer (parameters, or gradients of the same
 * layout). */
typedef struct enc_params {
    float *wte, *wpe, *wtt; /* [V,H], [max_len,H], [2,H] */
    enc_norm ln_e;
    enc_layer_params layer[ENC_MAX_LAYERS];
    enc_linear mlm;         /* transform dense [H,H] */
    enc_norm mlm_ln;
    float *mlm_bias;        /* [V] */
    enc_linear cls;         /* [C,H] or [C,4H] (enc_cls_in), only when classes > 0 */
} enc_params;

/* Which dropout a pass applies.  rate[site] is p (Bernoulli) or sigma
 * (Gaussian) for the 3L+1 encoder sites; cls_p is the classifier's rate.
 * Stream of site s at step t: ((uint64_t)t << 16) | s, offset 0; the
 * classifier uses site index 3L+1.  train == 0 turns every dropout off. */
typedef struct enc_dropout {
    int train;
    int gaussian;
    const float *rate;
    float cls_p;
    uint64_t seed, step;
} enc_dropout;

/* A padded batch.  ids/seg[B*T] (ids ENC_PAD past len[b]).  MLM: n_mask
 * positions mpos (index b*T + t) with labels mlabel.  Classification:
 * label[b] (class) or target[b] (regression). */
typedef struct enc_batch {
    size_t B, T;
    uint32_t *ids;
    uint8_t *seg;
    size_t *len;
    size_t n_mask;
    size_t *mpos;
    uint32_t *mlabel;
    int *label;
    float *target;
} enc_batch;

typedef struct enc_acts enc_acts; /* activations, private to model.c */

typedef struct enc_model {
    enc_config cfg;
    enc_tensor *tensor;
    size_t n_tensors;
    size_t n_params;
    float *param, *grad;
    enc_params P, G;
    enc_acts *acts;
    float *logits_out; /* if not NULL, forward copies the raw logits here
                          (M x V for MLM, B x C for the classifier) */
} enc_model;

/* The site of tensor `tensor` under rule ENC_RULE_* (above). */
size_t enc_tensor_site(const enc_model *m, size_t tensor, int rule);

/* Lays out the tensors and allocates parameters and gradients (zeros). */
void enc_model_create(enc_model *m, const enc_config *cfg);
void enc_model_free(enc_model *m);
/* BERT's initialisation: N(0, 0.02) matrices and embeddings, zero biases,
 * LayerNorm gain 1, from (seed, stream). */
void enc_model_init(enc_model *m, uint64_t seed, uint64_t stream);
/* The index of a tensor by name, or SIZE_MAX. */
size_t enc_model_find(const enc_model *m, const char *name);

/* Results of a forward pass. */
typedef struct enc_result {
    double loss;     /* mean over masked tokens (MLM) or sequences */
    size_t correct;  /* argmax hits */
    size_t count;    /* masked tokens or sequences */
} enc_result;

/* Forward of the MLM objective (pretraining). */
enc_result enc_forward_mlm(enc_model *m, const enc_batch *b, const enc_dropout *d);
/* Forward of the classifier; pred (may be NULL) receives B predictions
 * (class index) and score (may be NULL) B regression outputs. */
enc_result enc_forward_cls(enc_model *m, const enc_batch *b, const enc_dropout *d, int *pred,
                           float *score);

/* Called by backward for each dense layer with its input x[rows x in] and
 * output gradient dy[rows x out] (rows = B*T): the per-sequence Fisher of a
 * batch of one sums dy^T x over the positions. */
typedef void (*enc_dense_hook)(void *user, const enc_linear *l, const float *x, const float *dy,
                               size_t rows);

/* Backward of the last forward (same batch and dropout): grad is zeroed
 * and then holds the gradient of the mean loss. */
void enc_backward(enc_model *m, const enc_batch *b, const enc_dropout *d, enc_dense_hook hook,
                  void *user);

#endif /* ENC_MODEL_H */

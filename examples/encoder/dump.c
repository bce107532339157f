/*
 * `encoder dump`: one training step's inputs and outputs for a parity test
 * against another implementation (tests/parity.py runs PyTorch on
 * it).  A safetensors file (all F32; ids are exact below 2^24) with:
 *   param.<name>, grad.<name>   every parameter and its gradient
 *   batch.ids, batch.seg [B,T]; batch.len [B]; batch.mpos, batch.mlabel [M]
 *   (MLM) or batch.label [B] (classifier)
 *   drop.<site> the dropout multiplier of every site (0 or 1/(1-p)), in the
 *   shape of the tensor it drops: [B*T,H], attention [B,heads,T,T], the
 *   classifier's [B,H] (pair pooling: [B,4H]) as site 3L+1
 *   out.logits [M,V] or [B,C]; out.loss [1]
 * __metadata__ gives the sizes, the mode and the pooling.
 */
#define _POSIX_C_SOURCE 200809L
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gdropout/gdropout.h>

#include "atomic.h"
#include "checkpoint.h"
#include "cli.h"

typedef struct dump_t {
    char name[160];
    size_t shape[4];
    int rank;
    float *data; /* owned */
} dump_t;

typedef struct dump_file {
    dump_t *t;
    size_t n, cap;
    char meta[1024];
} dump_file;

static float *dump_add(dump_file *d, const char *name, int rank, size_t s0, size_t s1, size_t s2,
                       size_t s3)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 256;
        d->t = enc_realloc(d->t, d->cap, sizeof *d->t, "dump");
    }
    dump_t *t = &d->t[d->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rank = rank;
    t->shape[0] = s0, t->shape[1] = s1, t->shape[2] = s2, t->shape[3] = s3;
    size_t n = 1;
    for (int i = 0; i < rank; i++)
        n = enc_mul(n, t->shape[i]);
    t->data = enc_alloc(n, sizeof(float), "dump");
    return t->data;
}

static size_t numel(const dump_t *t)
{
    size_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= t->shape[i];
    return n;
}

static void write_dump(FILE *f, void *user)
{
    const dump_file *d = user;
    size_t cap = 4096 + d->n * 200, len = 0;
    char *h = enc_alloc(cap, 1, "dump header");
    len += (size_t)snprintf(h + len, cap - len, "{\"__metadata__\":{%s}", d->meta);
    size_t at = 0;
    for (size_t i = 0; i < d->n; i++) {
        const dump_t *t = &d->t[i];
        len += (size_t)snprintf(h + len, cap - len, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[", t->name);
        for (int k = 0; k < t->rank; k++)
            len += (size_t)snprintf(h + len, cap - len, "%s%zu", k ? "," : "", t->shape[k]);
        size_t bytes = numel(t) * 4;
        len += (size_t)snprintf(h + len, cap - len, "],\"data_offsets\":[%zu,%zu]}", at, at + bytes);
        at += bytes;
    }
    len += (size_t)snprintf(h + len, cap - len, "}");
    while (len % 8)
        h[len++] = ' ';
    for (int i = 0; i < 8; i++)
        fputc((int)(((uint64_t)len >> (8 * i)) & 0xff), f);
    fwrite(h, 1, len, f);
    free(h);
    for (size_t i = 0; i < d->n; i++)
        fwrite(d->t[i].data, sizeof(float), numel(&d->t[i]), f);
}

/* The multiplier a site applies: dropout of a tensor of ones. */
static void site_multiplier(float *out, size_t n, float p, uint64_t seed, uint64_t step,
                            size_t site)
{
    for (size_t i = 0; i < n; i++)
        out[i] = 1.0f;
    gd_stream s = {seed, (step << 16) | site, 0};
    enc_gd(gd_dropout_fwd(out, out, n, p, &s, NULL), "gd_dropout_fwd");
}

int enc_cmd_dump(int argc, char **argv)
{
    const char *ckpt = NULL, *out = NULL, *mode = "mlm", *pool = "mean", *wordnet = "/usr/share/wordnet";
    size_t batch = 4;
    uint64_t seed = 5;
    float p = 0.1f;
    const cli_flag flags[] = {
        {"ckpt", CLI_STR, &ckpt, 0, 0, "checkpoint folder"},
        {"out", CLI_STR, &out, 0, 0, "output file"},
        {"mode", CLI_STR, &mode, 0, 0, "mlm or cls (a fresh head: 8-class supersense, or hypernymy pairs)"},
        {"pool", CLI_STR, &pool, 0, 0, "cls mode: mean, cls (supersense) or pair (hypernymy)"},
        {"batch", CLI_SIZE, &batch, 1, 256, "sequences"},
        {"seed", CLI_U64, &seed, 0, 1e18, "masks, head and dropout seed"},
        {"p", CLI_FLOAT, &p, 0, 0.9, "dropout at every site"},
        {"wordnet", CLI_STR, &wordnet, 0, 0, "folder of WordNet 3.0 data.* files"},
    };
    if (cli_parse(flags, sizeof flags / sizeof *flags, argc, argv, 2,
                  "usage: encoder dump --ckpt DIR --out FILE [flags]"))
        return 0;
    if (ckpt == NULL || out == NULL)
        enc_die("dump: --ckpt and --out are required");
    enc_check_writable(out);
    int cls = strcmp(mode, "cls") == 0;
    if (!cls && strcmp(mode, "mlm") != 0)
        enc_die("--mode %s: expected mlm or cls", mode);
    const int pool_k = enc_pool_parse(pool), pair = pool_k == ENC_POOL_PAIR;
    if (pool_k < 0)
        enc_die("--pool %s: expected mean, cls or pair", pool);
    enc_vocab v;
    enc_config cfg;
    float *pre = enc_load_pretrained(&cfg, &v, ckpt, cls ? (pair ? 2 : 8) : 0);
    cfg.pool = pool_k;
    enc_model m;
    enc_model_create(&m, &cfg);
    enc_model_init(&m, seed, 9);
    size_t head = cls ? m.tensor[m.P.cls.w_id].offset : m.n_params;
    memcpy(m.param, pre, head * sizeof(float));
    free(pre);

    enc_batch b;
    enc_batch_alloc(&b, batch, cfg.max_len);
    enc_wordnet wn;
    enc_wordnet_read(&wn, wordnet);
    enc_task task = {0};
    enc_corpus held = {0};
    size_t *idx = enc_alloc(batch, sizeof *idx, "dump");
    for (size_t i = 0; i < batch; i++)
        idx[i] = i;
    if (cls) {
        if (pair)
            enc_task_hypernymy(&task, &wn, &v, 64);
        else
            enc_task_supersense(&task, &wn, &v, 500);
        enc_batch_task(&b, &task.val, idx, batch, cfg.max_len);
    } else {
        enc_corpus_from_wordnet(&held, &wn, &v, ENC_SPLIT_VAL, cfg.max_len - 2);
        enc_rng r = enc_rng_make(seed, 1);
        enc_batch_mlm(&b, &held, idx, batch, cfg.vocab, &r);
    }
    enc_wordnet_free(&wn);
    const size_t ns = enc_n_sites(&cfg), B = b.B, T = b.T, H = cfg.hidden, nh = cfg.heads;
    const size_t P = enc_cls_in(&cfg);
    const size_t rows = cls ? B : b.n_mask, cols = cls ? cfg.classes : cfg.vocab;
    dump_file d = {0};
    m.logits_out = dump_add(&d, "out.logits", 2, rows, cols, 0, 0);
    float *rate = enc_alloc(ns, sizeof *rate, "rates");
    for (size_t i = 0; i < ns; i++)
        rate[i] = p;
    enc_dropout drop = {1, 0, rate, p, seed, 0};
    enc_result res = cls ? enc_forward_cls(&m, &b, &drop, NULL, NULL) : enc_forward_mlm(&m, &b, &drop);
    enc_backward(&m, &b, &drop, NULL, NULL);
    dump_add(&d, "out.loss", 1, 1, 0, 0, 0)[0] = (float)res.loss;

    float *x = dump_add(&d, "batch.ids", 2, B, T, 0, 0), *sg = dump_add(&d, "batch.seg", 2, B, T, 0, 0);
    for (size_t i = 0; i < B * T; i++)
        x[i] = (float)b.ids[i], sg[i] = (float)b.seg[i];
    x = dump_add(&d, "batch.len", 1, B, 0, 0, 0);
    for (size_t i = 0; i < B; i++)
        x[i] = (float)b.len[i];
    if (cls) {
        x = dump_add(&d, "batch.label", 1, B, 0, 0, 0);
        for (size_t i = 0; i < B; i++)
            x[i] = (float)b.label[i];
    } else {
        x = dump_add(&d, "batch.mpos", 1, b.n_mask, 0, 0, 0);
        float *y = dump_add(&d, "batch.mlabel", 1, b.n_mask, 0, 0, 0);
        for (size_t i = 0; i < b.n_mask; i++)
            x[i] = (float)b.mpos[i], y[i] = (float)b.mlabel[i];
    }
    char name[160];
    for (size_t s = 0; s <= ns; s++) {
        snprintf(name, sizeof name, "drop.%zu", s);
        int att = s < ns && s % 3 == 1;
        float *mult = att ? dump_add(&d, name, 4, B, nh, T, T)
                          : s == ns ? dump_add(&d, name, 2, B, P, 0, 0)
                                    : dump_add(&d, name, 2, B * T, H, 0, 0);
        size_t n = att ? B * nh * T * T : s == ns ? B * P : B * T * H;
        site_multiplier(mult, n, p, seed, 0, s);
    }
    for (size_t i = 0; i < m.n_tensors; i++) {
        const enc_tensor *t = &m.tensor[i];
        int rank = t->cols == 1 ? 1 : 2;
        snprintf(name, sizeof name, "param.%s", t->name);
        memcpy(dump_add(&d, name, rank, t->rows, t->cols, 0, 0), m.param + t->offset,
               t->rows * t->cols * sizeof(float));
        snprintf(name, sizeof name, "grad.%s", t->name);
        memcpy(dump_add(&d, name, rank, t->rows, t->cols, 0, 0), m.grad + t->offset,
               t->rows * t->cols * sizeof(float));
    }
    snprintf(d.meta, sizeof d.meta,
             "\"format\":\"gdx-encoder-dump-1\",\"mode\":\"%s\",\"pool\":\"%s\",\"vocab\":\"%zu\","
             "\"hidden\":\"%zu\",\"layers\":\"%zu\",\"heads\":\"%zu\",\"ffn\":\"%zu\","
             "\"max_len\":\"%zu\",\"classes\":\"%zu\",\"p\":\"%.9g\"",
             mode, pool, cfg.vocab, cfg.hidden, cfg.layers, cfg.heads, cfg.ffn, cfg.max_len,
             cfg.classes, (double)p);
    enc_write_atomic(out, write_dump, &d);
    printf("dump: %s (%s, %zu sequences of up to %zu tokens, loss %.6f)\n", out, mode, B, T,
           res.loss);
    for (size_t i = 0; i < d.n; i++)
        free(d.t[i].data);
    free(d.t);
    free(rate);
    free(idx);
    enc_batch_free(&b);
    enc_corpus_free(&held);
    enc_task_free(&task);
    enc_vocab_free(&v);
    m.logits_out = NULL;
    enc_model_free(&m);
    return 0;
}

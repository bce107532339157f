/*
 * `encoder speed`: training tokens per second (non-padding tokens, wall
 * clock) for pretraining (MLM, batch 256) and fine-tuning (supersense,
 * batch 32), and the share of CPU time spent in sgemm, in libgdropout
 * calls and in everything else, each group timed around its calls.
 * Weights are random: speed does not depend on them.
 */
#define _POSIX_C_SOURCE 200809L
#include "commands.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gdropout/gdropout.h>

#include "cli.h"
#include "finetune.h"
#include "optim.h"

typedef struct speed_out {
    double tok_s, cpu_step, sgemm, gd;
} speed_out;

/* Runs `steps` training steps after `warm` untimed ones; make(k) builds
 * batch k into b. */
typedef void (*make_batch_fn)(enc_batch *b, size_t k, void *user);

static speed_out measure(enc_model *m, enc_batch *b, make_batch_fn make, void *user, int mlm,
                         size_t warm, size_t steps)
{
    const size_t ns = enc_n_sites(&m->cfg);
    float *rate = enc_alloc(ns, sizeof *rate, "rates");
    for (size_t i = 0; i < ns; i++)
        rate[i] = 0.1f;
    enc_adamw o;
    enc_adamw_init(&o, m, 1e-4f, 0, warm + steps, 0.01f);
    size_t tokens = 0;
    double w0 = 0.0, c0 = 0.0;
    for (size_t k = 0; k < warm + steps; k++) {
        if (k == warm) {
            memset(enc_prof_sec, 0, sizeof enc_prof_sec);
            enc_prof_on = 1;
            tokens = 0;
            w0 = enc_now();
            c0 = enc_cpu_now();
        }
        make(b, k, user);
        enc_dropout d = {1, 0, rate, 0.1f, 1, k};
        if (mlm)
            enc_forward_mlm(m, b, &d);
        else
            enc_forward_cls(m, b, &d, NULL, NULL);
        enc_backward(m, b, &d, NULL, NULL);
        enc_adamw_step(&o, m);
        for (size_t s = 0; s < b->B; s++)
            tokens += b->len[s];
    }
    enc_prof_on = 0;
    double wall = enc_now() - w0, cpu = enc_cpu_now() - c0;
    speed_out r = {(double)tokens / wall, cpu / (double)steps, enc_prof_sec[ENC_PROF_SGEMM] / cpu,
                   enc_prof_sec[ENC_PROF_GD] / cpu};
    enc_adamw_free(&o);
    free(rate);
    return r;
}

typedef struct mlm_src {
    const enc_corpus *c;
    size_t *order, batch, vocab;
} mlm_src;

static void make_mlm(enc_batch *b, size_t k, void *user)
{
    mlm_src *s = user;
    size_t per = s->c->n / s->batch;
    enc_rng r = enc_rng_make(1, k);
    enc_batch_mlm(b, s->c, s->order + (k % per) * s->batch, s->batch, s->vocab, &r);
}

typedef struct task_src {
    const enc_dataset *d;
    size_t *order, batch, max_len;
} task_src;

static void make_task(enc_batch *b, size_t k, void *user)
{
    task_src *s = user;
    size_t per = s->d->n / s->batch;
    enc_batch_task(b, s->d, s->order + (k % per) * s->batch, s->batch, s->max_len);
}

static void report(const char *what, const speed_out *o)
{
    printf("%-9s %8.0f tokens/s   %.3f CPU s/step   sgemm %5.1f %%   libgdropout %4.2f %%   "
           "other %5.1f %%\n",
           what, o->tok_s, o->cpu_step, 100.0 * o->sgemm, 100.0 * o->gd,
           100.0 * (1.0 - o->sgemm - o->gd));
}

int enc_cmd_speed(int argc, char **argv)
{
    const char *wordnet = "/usr/share/wordnet";
    size_t threads = 1, steps = 20, warm = 3, layers = 4, hidden = 128, heads = 4, ffn = 512;
    size_t pre_batch = 256, ft_batch = 32;
    const cli_flag flags[] = {
        {"wordnet", CLI_STR, &wordnet, 0, 0, "folder of WordNet 3.0 data.* files"},
        {"threads", CLI_SIZE, &threads, 1, 256, "OpenBLAS threads"},
        {"steps", CLI_SIZE, &steps, 1, 1e6, "timed steps per phase"},
        {"warm", CLI_SIZE, &warm, 0, 1e6, "untimed steps first"},
        {"layers", CLI_SIZE, &layers, 1, 64, "transformer layers"},
        {"hidden", CLI_SIZE, &hidden, 1, 8192, "hidden size"},
        {"heads", CLI_SIZE, &heads, 1, 8192, "attention heads"},
        {"ffn", CLI_SIZE, &ffn, 1, 65536, "feed-forward size"},
        {"batch", CLI_SIZE, &pre_batch, 1, 65536, "pretraining batch"},
        {"ft-batch", CLI_SIZE, &ft_batch, 1, 65536, "fine-tuning batch"},
    };
    if (cli_parse(flags, sizeof flags / sizeof *flags, argc, argv, 2, "usage: encoder speed [flags]"))
        return 0;
    openblas_set_num_threads((int)threads);
    printf("OpenBLAS core: %s, %zu thread(s); libgdropout kernels: %s\n", openblas_get_corename(),
           threads, gd_dispatch_name());
    enc_wordnet wn;
    enc_wordnet_read(&wn, wordnet);
    const char **texts = enc_alloc(wn.n, sizeof *texts, "glosses");
    size_t n = 0;
    for (size_t i = 0; i < wn.n; i++)
        if (enc_wordnet_split(&wn.syn[i]) == ENC_SPLIT_TRAIN)
            texts[n++] = wn.syn[i].gloss;
    enc_vocab v;
    enc_vocab_build(&v, texts, n, 8000);
    free(texts);
    enc_corpus c;
    enc_corpus_from_wordnet(&c, &wn, &v, ENC_SPLIT_TRAIN, 62);
    enc_task task;
    enc_task_supersense(&task, &wn, &v, 500);
    enc_wordnet_free(&wn);

    enc_config cfg = {v.n, hidden, layers, heads, ffn, 64, 0, ENC_POOL_CLS};
    enc_model m;
    enc_model_create(&m, &cfg);
    enc_model_init(&m, 1, 2);
    enc_batch b;
    enc_batch_alloc(&b, pre_batch > ft_batch ? pre_batch : ft_batch, 64);
    size_t *order = enc_alloc(c.n, sizeof *order, "order");
    enc_epoch_order(order, &c, pre_batch, 1, 0);
    mlm_src ms = {&c, order, pre_batch, v.n};
    printf("model L=%zu H=%zu heads=%zu F=%zu; pretraining batch %zu, fine-tuning batch %zu; %zu "
           "timed steps each\n",
           layers, hidden, heads, ffn, pre_batch, ft_batch, steps);
    speed_out pre = measure(&m, &b, make_mlm, &ms, 1, warm, steps);
    report("pretrain", &pre);
    enc_model_free(&m);

    cfg.classes = task.n_classes;
    cfg.pool = ENC_POOL_MEAN;
    enc_model_create(&m, &cfg);
    enc_model_init(&m, 1, 2);
    size_t *torder = enc_alloc(task.train.n, sizeof *torder, "order");
    for (size_t i = 0; i < task.train.n; i++)
        torder[i] = i;
    task_src ts = {&task.train, torder, ft_batch, 64};
    speed_out ft = measure(&m, &b, make_task, &ts, 0, warm, steps);
    report("finetune", &ft);
    enc_model_free(&m);
    free(torder);
    free(order);
    enc_batch_free(&b);
    enc_task_free(&task);
    enc_corpus_free(&c);
    enc_vocab_free(&v);
    return 0;
}

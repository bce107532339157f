/*
 * `encoder pretrain`: masked-LM pretraining on the training-split WordNet
 * glosses, with AdamW, warm-up and linear decay, dropout 0.1 at every site,
 * a progress line at a steady interval, held-out evaluation, atomic
 * checkpoints and --resume.
 */
#define _POSIX_C_SOURCE 200809L
#include "commands.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "cli.h"
#include "data.h"
#include "optim.h"

/* The held-out MLM set: the first n validation-split glosses, masked with a
 * fixed seed, so every evaluation sees the same targets. */
enc_result enc_eval_mlm(enc_model *m, const enc_corpus *held, size_t n, size_t batch)
{
    enc_result total = {0.0, 0, 0};
    enc_batch b;
    enc_batch_alloc(&b, batch, m->cfg.max_len);
    size_t *idx = enc_alloc(batch, sizeof *idx, "evaluation");
    enc_rng r = enc_rng_make(12345, 0x686f6c64ull);
    enc_dropout off = {0};
    n = n < held->n ? n : held->n;
    for (size_t at = 0; at < n; at += batch) {
        size_t k = n - at < batch ? n - at : batch;
        for (size_t i = 0; i < k; i++)
            idx[i] = at + i;
        enc_batch_mlm(&b, held, idx, k, m->cfg.vocab, &r);
        enc_result x = enc_forward_mlm(m, &b, &off);
        total.loss += x.loss * (double)x.count;
        total.correct += x.correct;
        total.count += x.count;
    }
    total.loss /= total.count ? (double)total.count : 1.0;
    free(idx);
    enc_batch_free(&b);
    return total;
}

void enc_path(char *out, size_t cap, const char *dir, const char *file)
{
    if ((size_t)snprintf(out, cap, "%s/%s", dir, file) >= cap)
        enc_die("path too long: %s/%s", dir, file);
}

static void make_dir(const char *dir)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        enc_die("%s: cannot create the folder: %s", dir, strerror(errno));
}

typedef struct pretrain_opts {
    const char *wordnet, *out;
    size_t vocab, layers, hidden, heads, ffn, max_len, batch, threads, log_every;
    size_t eval_every, eval_n;
    uint64_t steps, warmup, seed;
    float lr, weight_decay, p, minutes, ckpt_minutes;
    int resume;
} pretrain_opts;

static void save_all(const enc_model *m, const enc_adamw *o, const pretrain_opts *op)
{
    char path[4096];
    enc_ckpt_meta meta = {m->cfg, o->step, op->seed, 0};
    enc_path(path, sizeof path, op->out, "model.safetensors");
    enc_ckpt_save(m, &meta, path);
    enc_path(path, sizeof path, op->out, "optimizer.safetensors");
    enc_opt_save(o->m, o->v, o->n, o->step, path);
}

int enc_cmd_pretrain(int argc, char **argv)
{
    pretrain_opts op = {"/usr/share/wordnet", "encoder-ckpt", 8000, 4, 128, 4, 512, 64, 256, 0,
                        50, 1000, 2000, 20000, 500, 1, 1e-3f, 0.01f, 0.1f, 0.0f, 10.0f, 0};
    const cli_flag flags[] = {
        {"wordnet", CLI_STR, &op.wordnet, 0, 0, "folder of WordNet 3.0 data.* files"},
        {"out", CLI_STR, &op.out, 0, 0, "checkpoint folder (model, optimizer, vocab.txt)"},
        {"vocab", CLI_SIZE, &op.vocab, 6, 1 << 20, "vocabulary size, specials included"},
        {"layers", CLI_SIZE, &op.layers, 1, 64, "transformer layers L"},
        {"hidden", CLI_SIZE, &op.hidden, 1, 8192, "hidden size H"},
        {"heads", CLI_SIZE, &op.heads, 1, 8192, "attention heads (divide H)"},
        {"ffn", CLI_SIZE, &op.ffn, 1, 65536, "feed-forward size F"},
        {"max-len", CLI_SIZE, &op.max_len, 4, 4096, "longest sequence, [CLS] and [SEP] included"},
        {"batch", CLI_SIZE, &op.batch, 1, 1 << 16, "sequences per step"},
        {"steps", CLI_U64, &op.steps, 1, 1e12, "total optimizer steps (sets the decay)"},
        {"warmup", CLI_U64, &op.warmup, 0, 1e12, "warm-up steps"},
        {"lr", CLI_FLOAT, &op.lr, 1e-7, 1, "peak learning rate"},
        {"weight-decay", CLI_FLOAT, &op.weight_decay, 0, 1, "AdamW weight decay"},
        {"p", CLI_FLOAT, &op.p, 0, 0.9, "dropout at every site"},
        {"seed", CLI_U64, &op.seed, 0, 1e18, "seed of initialisation, order, masks, dropout"},
        {"threads", CLI_SIZE, &op.threads, 0, 256, "OpenBLAS threads (0: OpenBLAS's default)"},
        {"minutes", CLI_FLOAT, &op.minutes, 0, 1e6, "stop (with a checkpoint) after this long; 0: run all steps"},
        {"ckpt-minutes", CLI_FLOAT, &op.ckpt_minutes, 0.01, 1e6, "checkpoint interval"},
        {"log-every", CLI_SIZE, &op.log_every, 1, 1e9, "steps between progress lines"},
        {"eval-every", CLI_SIZE, &op.eval_every, 1, 1e9, "steps between held-out evaluations"},
        {"eval-n", CLI_SIZE, &op.eval_n, 1, 1e9, "held-out glosses evaluated"},
        {"resume", CLI_BOOL, &op.resume, 0, 0, "continue from --out's checkpoint"},
    };
    if (cli_parse(flags, sizeof flags / sizeof *flags, argc, argv, 2,
                  "usage: encoder pretrain [flags]"))
        return 0;
    if (op.threads)
        openblas_set_num_threads((int)op.threads);
    make_dir(op.out);
    char path[4096];

    enc_wordnet wn;
    enc_wordnet_read(&wn, op.wordnet);
    enc_vocab v;
    enc_path(path, sizeof path, op.out, "vocab.txt");
    if (op.resume) {
        enc_vocab_load(&v, path);
    } else {
        const char **texts = enc_alloc(wn.n, sizeof *texts, "glosses");
        size_t n = 0;
        for (size_t i = 0; i < wn.n; i++)
            if (enc_wordnet_split(&wn.syn[i]) == ENC_SPLIT_TRAIN)
                texts[n++] = wn.syn[i].gloss;
        enc_vocab_build(&v, texts, n, op.vocab);
        free(texts);
        enc_vocab_save(&v, path);
    }
    enc_corpus train, held;
    enc_corpus_from_wordnet(&train, &wn, &v, ENC_SPLIT_TRAIN, op.max_len - 2);
    enc_corpus_from_wordnet(&held, &wn, &v, ENC_SPLIT_VAL, op.max_len - 2);
    enc_wordnet_free(&wn);
    printf("corpus: %zu glosses, %zu tokens (%.1f %% [UNK]); held out: %zu glosses; vocabulary "
           "%zu\n",
           train.n, train.n_tok, 100.0 * enc_corpus_unk_rate(&train), held.n, v.n);

    enc_config cfg = {v.n, op.hidden, op.layers, op.heads, op.ffn, op.max_len, 0, ENC_POOL_CLS};
    enc_model m;
    enc_model_create(&m, &cfg);
    enc_adamw o;
    enc_adamw_init(&o, &m, op.lr, op.warmup, op.steps, op.weight_decay);
    if (op.resume) {
        enc_ckpt_meta meta;
        enc_path(path, sizeof path, op.out, "model.safetensors");
        enc_ckpt_meta_read(&meta, path);
        if (memcmp(&meta.cfg, &cfg, sizeof cfg) != 0)
            enc_die("%s: the checkpoint's model sizes differ from the flags", path);
        enc_ckpt_load(&m, path, 0);
        enc_path(path, sizeof path, op.out, "optimizer.safetensors");
        enc_opt_load(o.m, o.v, o.n, &o.step, path);
        if (o.step != meta.step)
            enc_die("%s: optimizer step %llu differs from the model's %llu", path,
                    (unsigned long long)o.step, (unsigned long long)meta.step);
        printf("resumed at step %llu\n", (unsigned long long)o.step);
    } else {
        enc_model_init(&m, op.seed, 0x696e6974ull);
    }
    printf("model: L=%zu H=%zu heads=%zu F=%zu max_len=%zu: %zu parameters\n", cfg.layers,
           cfg.hidden, cfg.heads, cfg.ffn, cfg.max_len, m.n_params);

    float *rate = enc_alloc(enc_n_sites(&cfg), sizeof *rate, "rates");
    for (size_t s = 0; s < enc_n_sites(&cfg); s++)
        rate[s] = op.p;
    size_t *order = enc_alloc(train.n, sizeof *order, "epoch order");
    const size_t per_epoch = (train.n + op.batch - 1) / op.batch;
    uint64_t cached_epoch = UINT64_MAX;
    enc_batch b;
    enc_batch_alloc(&b, op.batch, op.max_len);

    const double t_start = enc_now();
    double t_log = t_start, t_ckpt = t_start, loss_sum = 0.0;
    size_t hits = 0, targets = 0, tokens = 0;
    const uint64_t first = o.step;
    while (o.step < op.steps) {
        uint64_t epoch = o.step / per_epoch, k = o.step % per_epoch;
        if (epoch != cached_epoch) {
            enc_epoch_order(order, &train, op.batch, op.seed, epoch);
            cached_epoch = epoch;
        }
        size_t n = k + 1 < per_epoch ? op.batch : train.n - k * op.batch;
        enc_rng r = enc_rng_make(op.seed, 0x6d61736bull << 32 | o.step);
        enc_batch_mlm(&b, &train, order + k * op.batch, n, cfg.vocab, &r);
        enc_dropout d = {1, 0, rate, 0.1f, op.seed, o.step};
        enc_result x = enc_forward_mlm(&m, &b, &d);
        enc_backward(&m, &b, &d, NULL, NULL);
        enc_adamw_step(&o, &m);
        loss_sum += x.loss * (double)x.count;
        hits += x.correct;
        targets += x.count;
        for (size_t s = 0; s < b.B; s++)
            tokens += b.len[s];
        double now = enc_now();
        int last = o.step == op.steps || (op.minutes > 0 && now - t_start >= 60.0 * op.minutes);
        if (o.step % op.log_every == 0 || last) {
            double el = now - t_start, rate_s = (double)(o.step - first) / el;
            printf("step %llu/%llu  loss %.4f  acc %.1f %%  lr %.2e  %.0f tok/s  elapsed %.1f min"
                   "  ETA %.1f min\n",
                   (unsigned long long)o.step, (unsigned long long)op.steps,
                   loss_sum / (double)(targets ? targets : 1),
                   100.0 * (double)hits / (double)(targets ? targets : 1), enc_adamw_rate(&o),
                   (double)tokens / (now - t_log), el / 60.0,
                   (double)(op.steps - o.step) / rate_s / 60.0);
            fflush(stdout);
            loss_sum = 0.0, hits = targets = tokens = 0;
            t_log = enc_now();
        }
        if (o.step % op.eval_every == 0 || last) {
            enc_result e = enc_eval_mlm(&m, &held, op.eval_n, 128);
            printf("eval step %llu  held-out loss %.4f  masked-token accuracy %.2f %% (%zu "
                   "targets)\n",
                   (unsigned long long)o.step, e.loss,
                   100.0 * (double)e.correct / (double)e.count, e.count);
            fflush(stdout);
        }
        if (enc_now() - t_ckpt >= 60.0 * op.ckpt_minutes || last) {
            save_all(&m, &o, &op);
            t_ckpt = enc_now();
        }
        if (last)
            break;
    }
    if (o.step == first)
        save_all(&m, &o, &op);
    printf("checkpoint: %s/model.safetensors (step %llu)\n", op.out, (unsigned long long)o.step);
    enc_batch_free(&b);
    free(order);
    free(rate);
    enc_adamw_free(&o);
    enc_model_free(&m);
    enc_corpus_free(&train);
    enc_corpus_free(&held);
    enc_vocab_free(&v);
    return 0;
}

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
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
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

/* Holds an exclusive lock on dir/.lock for the rest of the process (a POSIX
 * record lock: the kernel drops it when the process ends, even by kill -9),
 * so two runs never write one checkpoint folder at once. */
static void lock_folder(const char *dir)
{
    char path[4096];
    enc_path(path, sizeof path, dir, ".lock");
    const int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0666);
    if (fd < 0)
        enc_die("%s: cannot create the lock file: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        enc_die("%s: not a regular file", path);
    struct flock l = {0};
    l.l_type = F_WRLCK;
    l.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &l) != 0)
        enc_die("%s: another run is using this folder (%s)", dir, strerror(errno));
    /* fd stays open: closing it would drop the lock. */
}

typedef struct pretrain_opts {
    const char *wordnet, *out, *init_from;
    size_t vocab, layers, hidden, heads, ffn, max_len, batch, threads, log_every;
    size_t eval_every, eval_n;
    uint64_t steps, warmup, seed, stop_after;
    float lr, weight_decay, p, minutes, ckpt_minutes;
    int resume;
} pretrain_opts;

/* A resumed run keeps what the checkpoint says: a flag not given takes the
 * stored value, a flag given with another value is refused. */
static void keep_size(const char *flag, size_t *val, uint64_t stored, const char *path)
{
    if (cli_given(flag) && (uint64_t)*val != stored)
        enc_die("--%s %zu differs from %s's %llu (a resumed run keeps its checkpoint's sizes, "
                "schedule and seed; --init-from its sizes)",
                flag, *val, path, (unsigned long long)stored);
    *val = (size_t)stored;
}

static void keep_u64(const char *flag, uint64_t *val, uint64_t stored, const char *path)
{
    size_t v = (size_t)*val;
    keep_size(flag, &v, stored, path);
    *val = stored;
}

static void keep_float(const char *flag, float *val, float stored, const char *path)
{
    if (cli_given(flag) && *val != stored)
        enc_die("--%s %.9g differs from %s's %.9g (a resumed run keeps its checkpoint's "
                "schedule; a new schedule from this model: --init-from DIR, without --resume)",
                flag, (double)*val, path, (double)stored);
    *val = stored;
}

/* The model sizes of a checkpoint (resume or --init-from). */
static void keep_sizes(pretrain_opts *op, const enc_ckpt_meta *meta, const char *path)
{
    keep_size("vocab", &op->vocab, meta->cfg.vocab, path);
    keep_size("layers", &op->layers, meta->cfg.layers, path);
    keep_size("hidden", &op->hidden, meta->cfg.hidden, path);
    keep_size("heads", &op->heads, meta->cfg.heads, path);
    keep_size("ffn", &op->ffn, meta->cfg.ffn, path);
    keep_size("max-len", &op->max_len, meta->cfg.max_len, path);
    if (meta->cfg.classes != 0)
        enc_die("%s: a fine-tuned checkpoint (with a classifier) cannot be pretrained further",
                path);
}

/* A stored value (x for a float flag, whole for an integer one) bound by
 * its flag's range in flags[0..n), as if it had been given on the command
 * line: an edited or foreign checkpoint must not reach the run unchecked
 * (batch 0 divided by zero, lr -1 climbed the loss).  The metadata's key is
 * the flag's name with '_' for '-'. */
static void check_stored(const cli_flag *flags, size_t n, const char *flag, double x,
                         uint64_t whole, const char *path)
{
    const cli_flag *f = cli_flag_named(flags, n, flag);
    char key[32], what[4200];
    snprintf(key, sizeof key, "%s", flag);
    for (char *c = key; *c; c++)
        *c = *c == '-' ? '_' : *c;
    snprintf(what, sizeof what, "%s: metadata \"%s\"", path, key);
    if (f->kind == CLI_FLOAT)
        cli_check_float(f, x, what);
    else
        cli_check_u64(f, whole, what);
}

static void keep_schedule(pretrain_opts *op, const enc_ckpt_meta *meta, const char *path,
                          const cli_flag *flags, size_t n)
{
    check_stored(flags, n, "seed", 0, meta->seed, path);
    keep_u64("seed", &op->seed, meta->seed, path);
    if (!meta->has_schedule) {
        fprintf(stderr,
                "encoder: note: %s stores no schedule (an older checkpoint): the flags' is used "
                "(--steps %llu --warmup %llu --batch %zu --lr %g --weight-decay %g --p %g)\n",
                path, (unsigned long long)op->steps, (unsigned long long)op->warmup, op->batch,
                (double)op->lr, (double)op->weight_decay, (double)op->p);
        return;
    }
    const enc_schedule *k = &meta->sched;
    check_stored(flags, n, "steps", 0, k->steps, path);
    check_stored(flags, n, "warmup", 0, k->warmup, path);
    check_stored(flags, n, "batch", 0, k->batch, path);
    check_stored(flags, n, "lr", k->lr, 0, path);
    check_stored(flags, n, "weight-decay", k->weight_decay, 0, path);
    check_stored(flags, n, "p", k->p, 0, path);
    keep_u64("steps", &op->steps, k->steps, path);
    keep_u64("warmup", &op->warmup, k->warmup, path);
    keep_size("batch", &op->batch, k->batch, path);
    keep_float("lr", &op->lr, (float)k->lr, path);
    keep_float("weight-decay", &op->weight_decay, (float)k->weight_decay, path);
    keep_float("p", &op->p, (float)k->p, path);
}

/* The checkpoint's metadata for a save now. */
static enc_ckpt_meta run_meta(const enc_model *m, const enc_adamw *o, const pretrain_opts *op,
                              uint64_t vocab_digest)
{
    enc_ckpt_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.cfg = m->cfg;
    meta.step = o->step;
    meta.seed = op->seed;
    meta.has_vocab_digest = 1;
    meta.vocab_digest = vocab_digest;
    meta.has_schedule = 1;
    meta.sched = (enc_schedule){op->steps, op->warmup, op->batch, op->lr, op->weight_decay, op->p};
    return meta;
}

/* The model and the optimizer are one pair: both are written beside their
 * targets as *.new first (each atomically), and only then renamed into
 * place, model first.  A failure while writing (a full disk) leaves the
 * previous pair untouched (and at most a stale *.new, removed by the next
 * save); a crash between the two renames leaves optimizer.safetensors.new,
 * which resume_pair completes. */
static void save_all(const enc_model *m, const enc_adamw *o, const pretrain_opts *op,
                     uint64_t vocab_digest)
{
    char model[4096], model_new[4096], opt[4096], opt_new[4096];
    enc_path(model, sizeof model, op->out, "model.safetensors");
    enc_path(model_new, sizeof model_new, op->out, "model.safetensors.new");
    enc_path(opt, sizeof opt, op->out, "optimizer.safetensors");
    enc_path(opt_new, sizeof opt_new, op->out, "optimizer.safetensors.new");
    /* Both targets before either is replaced: an optimizer target refused
     * after the model's rename would leave a model without its pair. */
    enc_check_writable(model);
    enc_check_writable(opt);
    /* Left by a save that failed (a full disk): stale by now (resume_pair
     * has completed or refused the pair), and the space may be needed. */
    if ((unlink(model_new) != 0 && errno != ENOENT) || (unlink(opt_new) != 0 && errno != ENOENT))
        enc_die("%s: cannot remove the files a failed save left: %s", op->out, strerror(errno));
    const enc_ckpt_meta meta = run_meta(m, o, op, vocab_digest);
    enc_ckpt_save(m, &meta, model_new);
    enc_opt_save(o->m, o->v, o->n, o->step, enc_param_digest(m), opt_new);
    enc_rename_durable(model_new, model);
    enc_rename_durable(opt_new, opt);
}

/* Loads the optimizer that pairs with the loaded model (its step and, when
 * the file stores one, the digest of its parameters), completing a save
 * that was interrupted between its two renames. */
static void resume_pair(enc_adamw *o, const enc_model *m, uint64_t model_step, const char *out)
{
    char opt[4096], opt_new[4096];
    enc_path(opt, sizeof opt, out, "optimizer.safetensors");
    enc_path(opt_new, sizeof opt_new, out, "optimizer.safetensors.new");
    const uint64_t want = enc_param_digest(m);
    uint64_t digest, found = 0;
    /* No optimizer at all: the run's first save was interrupted between
     * its two renames (the model is in place, its optimizer still *.new). */
    const int have = !(access(opt, F_OK) != 0 && errno == ENOENT);
    if (have) {
        enc_opt_load(o->m, o->v, o->n, &o->step, &digest, opt);
        if (o->step == model_step && (digest == 0 || digest == want))
            return;
        found = o->step;
    }
    if (access(opt_new, F_OK) == 0) {
        enc_opt_load(o->m, o->v, o->n, &o->step, &digest, opt_new);
        if (o->step == model_step && digest == want) {
            enc_rename_durable(opt_new, opt);
            printf("completed the interrupted save of step %llu (%s)\n",
                   (unsigned long long)model_step, opt_new);
            return;
        }
    }
    if (!have)
        enc_die("%s: missing, and no %s pairs with the model of step %llu", opt, opt_new,
                (unsigned long long)model_step);
    enc_die("%s: optimizer state of step %llu does not pair with the model of step %llu (and "
            "no %s completes the pair)",
            opt, (unsigned long long)found, (unsigned long long)model_step, opt_new);
}

int enc_cmd_pretrain(int argc, char **argv)
{
    pretrain_opts op = {"/usr/share/wordnet", "encoder-ckpt", NULL, 8000, 4, 128, 4, 512, 64,
                        256, 0, 50, 1000, 2000, 20000, 500, 1, 0, 1e-3f, 0.01f, 0.1f, 0.0f,
                        10.0f, 0};
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
        {"stop-after", CLI_U64, &op.stop_after, 0, 1e12, "stop (with a checkpoint) after this many steps of this invocation; 0: run all steps"},
        {"ckpt-minutes", CLI_FLOAT, &op.ckpt_minutes, 0.01, 1e6, "checkpoint interval"},
        {"log-every", CLI_SIZE, &op.log_every, 1, 1e9, "steps between progress lines"},
        {"eval-every", CLI_SIZE, &op.eval_every, 1, 1e9, "steps between held-out evaluations"},
        {"eval-n", CLI_SIZE, &op.eval_n, 1, 1e9, "held-out glosses evaluated"},
        {"resume", CLI_BOOL, &op.resume, 0, 0,
         "continue --out's run: its sizes, schedule and seed (other values are refused)"},
        {"init-from", CLI_STR, &op.init_from, 0, 0,
         "start a new run (fresh optimizer, the flags' schedule) from DIR's model and vocabulary"},
    };
    if (cli_parse(flags, sizeof flags / sizeof *flags, argc, argv, 2,
                  "usage: encoder pretrain [flags]"))
        return 0;
    if (op.resume && op.init_from)
        enc_die("--resume and --init-from exclude each other");

    /* Everything that can be checked is checked before WordNet is read or
     * a file is written. */
    char model_path[4096], vocab_path[4096], src_model[4096], src_vocab[4096];
    enc_path(model_path, sizeof model_path, op.out, "model.safetensors");
    enc_path(vocab_path, sizeof vocab_path, op.out, "vocab.txt");
    enc_ckpt_meta meta;
    memset(&meta, 0, sizeof meta);
    if (op.resume) {
        enc_ckpt_meta_read(&meta, model_path);
        keep_sizes(&op, &meta, model_path);
        keep_schedule(&op, &meta, model_path, flags, sizeof flags / sizeof *flags);
    } else {
        if (access(model_path, F_OK) == 0)
            enc_die("%s already holds a checkpoint: --resume continues it; or choose another "
                    "--out",
                    op.out);
        if (op.init_from) {
            enc_path(src_model, sizeof src_model, op.init_from, "model.safetensors");
            enc_path(src_vocab, sizeof src_vocab, op.init_from, "vocab.txt");
            enc_ckpt_meta_read(&meta, src_model);
            keep_sizes(&op, &meta, src_model);
        }
    }
    enc_config cfg = {op.vocab, op.hidden, op.layers, op.heads, op.ffn, op.max_len, 0,
                      ENC_POOL_CLS};
    char err[128];
    if (enc_config_check(&cfg, err, sizeof err) != 0)
        enc_die("%s", err);
    if (op.threads)
        openblas_set_num_threads((int)op.threads);
    make_dir(op.out);
    lock_folder(op.out);
    /* The targets before any work: a symlink or a device there is refused
     * now, not at the first save. */
    char opt_path[4096];
    enc_path(opt_path, sizeof opt_path, op.out, "optimizer.safetensors");
    enc_check_writable(model_path);
    enc_check_writable(opt_path);
    if (!op.resume)
        enc_check_writable(vocab_path);
    if (op.resume) {
        /* Read again under the lock: a run that held it may have saved since. */
        enc_ckpt_meta_read(&meta, model_path);
        keep_sizes(&op, &meta, model_path);
        keep_schedule(&op, &meta, model_path, flags, sizeof flags / sizeof *flags);
    }

    enc_vocab v;
    if (op.resume || op.init_from) {
        const char *vp = op.resume ? vocab_path : src_vocab;
        enc_vocab_load(&v, vp);
        enc_ckpt_check_vocab(&meta, &v, op.resume ? model_path : src_model, vp);
    }
    enc_wordnet wn;
    enc_wordnet_read(&wn, op.wordnet);
    if (!op.resume && !op.init_from) {
        const char **texts = enc_alloc(wn.n, sizeof *texts, "glosses");
        size_t n = 0;
        for (size_t i = 0; i < wn.n; i++)
            if (enc_wordnet_split(&wn.syn[i]) == ENC_SPLIT_TRAIN)
                texts[n++] = wn.syn[i].gloss;
        enc_vocab_build(&v, texts, n, op.vocab);
        free(texts);
    }
    if (!op.resume)
        enc_vocab_save(&v, vocab_path);
    const uint64_t vocab_digest = enc_vocab_digest(&v);
    enc_corpus train, held;
    enc_corpus_from_wordnet(&train, &wn, &v, ENC_SPLIT_TRAIN, op.max_len - 2);
    enc_corpus_from_wordnet(&held, &wn, &v, ENC_SPLIT_VAL, op.max_len - 2);
    enc_wordnet_free(&wn);
    if (train.n == 0)
        enc_die("%s: no training glosses", op.wordnet);
    printf("corpus: %zu glosses, %zu tokens (%.1f %% [UNK]); held out: %zu glosses; vocabulary "
           "%zu\n",
           train.n, train.n_tok, 100.0 * enc_corpus_unk_rate(&train), held.n, v.n);

    cfg.vocab = v.n;
    enc_model m;
    enc_model_create(&m, &cfg);
    enc_adamw o;
    enc_adamw_init(&o, &m, op.lr, op.warmup, op.steps, op.weight_decay);
    if (op.resume) {
        enc_ckpt_load(&m, model_path, 0);
        resume_pair(&o, &m, meta.step, op.out);
        printf("resumed at step %llu of %llu (seed %llu)\n", (unsigned long long)o.step,
               (unsigned long long)op.steps, (unsigned long long)op.seed);
    } else if (op.init_from) {
        enc_ckpt_load(&m, src_model, 0);
        printf("initialised from %s (its step %llu); a new schedule of %llu steps\n", src_model,
               (unsigned long long)meta.step, (unsigned long long)op.steps);
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
    uint64_t saved = o.step;
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
        if (!isfinite(x.loss)) {
            char kept[64] = "no checkpoint of this run was saved";
            if (op.resume || saved > first)
                snprintf(kept, sizeof kept, "the checkpoint of step %llu is kept",
                         (unsigned long long)saved);
            enc_die("step %llu: the training loss is %g (not finite): stopping without saving; "
                    "%s",
                    (unsigned long long)o.step + 1, x.loss, kept);
        }
        enc_backward(&m, &b, &d, NULL, NULL);
        enc_adamw_step(&o, &m);
        loss_sum += x.loss * (double)x.count;
        hits += x.correct;
        targets += x.count;
        for (size_t s = 0; s < b.B; s++)
            tokens += b.len[s];
        double now = enc_now();
        int last = o.step == op.steps || (op.minutes > 0 && now - t_start >= 60.0 * op.minutes) ||
                   (op.stop_after > 0 && o.step - first >= op.stop_after);
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
            if (e.count == 0)
                printf("eval step %llu  no masked targets in the held-out glosses\n",
                       (unsigned long long)o.step);
            else
                printf("eval step %llu  held-out loss %.4f  masked-token accuracy %.2f %% (%zu "
                       "targets)\n",
                       (unsigned long long)o.step, e.loss,
                       100.0 * (double)e.correct / (double)e.count, e.count);
            fflush(stdout);
        }
        if (enc_now() - t_ckpt >= 60.0 * op.ckpt_minutes || last) {
            save_all(&m, &o, &op, vocab_digest);
            saved = o.step;
            t_ckpt = enc_now();
        }
        if (last)
            break;
    }
    if (o.step == first)
        save_all(&m, &o, &op, vocab_digest);
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

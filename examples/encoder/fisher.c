/*
 * `encoder fisher`: the paper's procedure.  The diagonal empirical Fisher of
 * the masked-LM loss from per-sequence gradients (a batch of one) on a
 * fraction of the pretraining corpus, at the pretrained weights, dropout
 * off.  Dense layers go through gd_fisher_accumulate_dense_seq from their
 * inputs and output gradients (the sequence's gradient is dy^T x summed over
 * positions); embeddings and LayerNorms through gd_fisher_accumulate with
 * the sequence's gradient.  Tensors feed sites as model.c's lay_out says.
 * Then site scores (GD_REDUCE_TENSOR_MEAN) and the guided plan
 * (GD_RULE_RANK_LINEAR from --p-max at the least informative site to
 * --p-min at the most), printed per layer and saved.
 *
 * --sequences FILE takes the sequences from a file instead of WordNet: one
 * a line, the token ids the model reads (space-separated), a tab, and the
 * loss's targets as POS:LABEL pairs (space-separated; POS 0-based in the
 * line's ids, LABEL the token id predicted there).  Each line's loss is the
 * mean cross-entropy over its targets, as for a WordNet sequence, so any
 * other implementation can be checked on, and timed against, the same
 * sequences (bench/fisher_torch.py).  --write-sequences FILE writes the
 * WordNet pass's masked sequences in that format (those with no target are
 * left out, as the pass skips them): read back, they give the same Fisher
 * file (tests/fisher_sequences.sh).  The loop's CPU and wall time are
 * printed at its end ("Fisher pass: ...").
 *
 * Built as encoder-mpi (ENC_MPI), `mpirun -np N encoder-mpi fisher ...`
 * shards the sequences over the ranks (rank r takes sequences r, r+N, ...),
 * adds the ranks' raw sums and weights with gdx_fisher_allreduce (sums, not
 * estimates: see examples/common/fisher_mpi.h), and rank 0 writes the files.
 * A rank that fails (bad input) prints why and exits 1, and mpirun ends the
 * job.
 */
#define _POSIX_C_SOURCE 200809L
#include "commands.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gdropout/gdropout.h>

#include "atomic.h"
#include "checkpoint.h"
#include "cli.h"

#ifdef ENC_MPI
#include <mpi.h>

#include "fisher_mpi.h"
#endif

typedef struct fisher_ctx {
    gd_fisher *f;
    int failed;
} fisher_ctx;

static void dense_hook(void *user, const enc_linear *l, const float *x, const float *dy,
                       size_t rows)
{
    fisher_ctx *c = user;
    double t0 = enc_prof_begin();
    int rc = gd_fisher_accumulate_dense_seq(c->f, l->w_id, l->b_id, x, dy, 1, rows, l->in, l->out);
    enc_prof_end(ENC_PROF_GD, t0);
    enc_gd(rc, "gd_fisher_accumulate_dense_seq");
}

/* Marks the tensors the dense hook covers. */
static void mark_dense(const enc_model *m, int *dense)
{
    const enc_linear *all[6];
    for (size_t l = 0; l < m->cfg.layers; l++) {
        const enc_layer_params *L = &m->P.layer[l];
        all[0] = &L->q, all[1] = &L->k, all[2] = &L->v, all[3] = &L->ao, all[4] = &L->fi,
        all[5] = &L->fo;
        for (int i = 0; i < 6; i++)
            dense[all[i]->w_id] = dense[all[i]->b_id] = 1;
    }
    dense[m->P.mlm.w_id] = dense[m->P.mlm.b_id] = 1;
}

/* Score of a site from its tensors' element means, LayerNorm tensors left
 * out: the ranking the calibration suggested showing beside the paper's. */
static double score_without_norms(const enc_model *m, gd_fisher *f, size_t site, int rule)
{
    double sum = 0.0;
    size_t n = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const enc_tensor *t = &m->tensor[i];
        if (enc_tensor_site(m, i, rule) != site || strstr(t->name, "LayerNorm") != NULL)
            continue;
        size_t numel = t->rows * t->cols;
        float *est = enc_alloc(numel, sizeof *est, "Fisher estimate");
        enc_gd(gd_fisher_read(f, i, est, numel, NULL), "gd_fisher_read");
        double s = 0.0;
        for (size_t j = 0; j < numel; j++)
            s += est[j];
        free(est);
        sum += s / (double)numel;
        n++;
    }
    return n ? sum / (double)n : NAN;
}

typedef struct site_table {
    const enc_model *m;
    gd_fisher *f;
    const float *scores, *rates;
    size_t n;
    int rule;
} site_table;

/* The table as TSV, for figures: site, name, layer (-1: embeddings), kind,
 * score, score without LayerNorm tensors, rate. */
static void write_sites(FILE *out, void *user)
{
    const site_table *t = user;
    static const char *const kind[3] = {"attention.self", "attention.output", "output"};
    char name[128];
    fprintf(out, "site\tname\tlayer\tkind\tscore\tscore_wo_ln\tp\n");
    for (size_t s = 0; s < t->n; s++) {
        enc_site_name(s, name, sizeof name);
        fprintf(out, "%zu\t%s\t%d\t%s\t%.9g\t%.9g\t%.9g\n", s, name,
                s == 0 ? -1 : (int)((s - 1) / 3), s == 0 ? "embeddings" : kind[(s - 1) % 3],
                (double)t->scores[s], score_without_norms(t->m, t->f, s, t->rule), (double)t->rates[s]);
    }
}

#ifdef ENC_MPI
/* Every rank must hold the same weights and vocabulary and run the same
 * settings, or the reduction would add up estimates of different things
 * into one file.  Rank 0's digests are broadcast; a rank that differs says
 * in what, and every rank ends with status 1 before the pass. */
static void agree(const enc_model *m, uint64_t data_digest, float fraction, uint64_t seed,
                  size_t n_use, size_t n_corpus, float p_max, float p_min, size_t rank)
{
    static const char *const what[] = {"the checkpoint's weights",
                                       "the vocabulary (or the --sequences file)",
                                       "--fraction", "--seed", "the corpus (WordNet)",
                                       "--p-max/--p-min", "the model sizes"};
    enum { N = sizeof what / sizeof *what };
    uint32_t fb, pa, pb;
    memcpy(&fb, &fraction, sizeof fb);
    memcpy(&pa, &p_max, sizeof pa);
    memcpy(&pb, &p_min, sizeof pb);
    const enc_config *c = &m->cfg;
    const uint64_t sizes[] = {c->vocab, c->hidden, c->layers, c->heads, c->ffn, c->max_len};
    unsigned long long mine[N] = {
        enc_digest(ENC_DIGEST_INIT, m->param, m->n_params * sizeof *m->param),
        data_digest,
        fb,
        seed,
        (uint64_t)n_corpus << 32 ^ n_use,
        (uint64_t)pa << 32 | pb,
        enc_digest(ENC_DIGEST_INIT, sizes, sizeof sizes),
    };
    unsigned long long root[N];
    memcpy(root, mine, sizeof root);
    MPI_Bcast(root, N, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    int differ = 0;
    for (int i = 0; i < N; i++)
        if (mine[i] != root[i]) {
            fprintf(stderr, "encoder: rank %zu: %s differ(s) from rank 0's\n", rank, what[i]);
            differ = 1;
        }
    int any = 0;
    MPI_Allreduce(&differ, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any) {
        MPI_Finalize();
        enc_die("rank %zu: the ranks do not agree on the weights and settings (see above); no "
                "Fisher file is written",
                rank);
    }
}
#endif

/* Masked sequences (--sequences, --write-sequences): sequence i has the ids
 * ids[off[i] .. off[i+1]) and the targets mpos/mlabel[moff[i] .. moff[i+1])
 * (positions within the sequence). */
typedef struct seq_file {
    size_t n, cap, n_ids, cap_ids, n_tgt, cap_tgt;
    size_t *off, *moff, *mpos;
    uint32_t *ids, *mlabel;
} seq_file;

static void seq_push(seq_file *s, const uint32_t *ids, size_t len, const size_t *mpos,
                     const uint32_t *mlabel, size_t n_mask)
{
    if (s->n + 2 > s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->off = enc_realloc(s->off, s->cap, sizeof *s->off, "sequences");
        s->moff = enc_realloc(s->moff, s->cap, sizeof *s->moff, "sequences");
    }
    if (s->n_ids + len > s->cap_ids) {
        s->cap_ids = 2 * (s->n_ids + len);
        s->ids = enc_realloc(s->ids, s->cap_ids, sizeof *s->ids, "sequences");
    }
    if (s->n_tgt + n_mask > s->cap_tgt) {
        s->cap_tgt = 2 * (s->n_tgt + n_mask);
        s->mpos = enc_realloc(s->mpos, s->cap_tgt, sizeof *s->mpos, "sequences");
        s->mlabel = enc_realloc(s->mlabel, s->cap_tgt, sizeof *s->mlabel, "sequences");
    }
    s->off[0] = s->moff[0] = 0;
    memcpy(s->ids + s->n_ids, ids, len * sizeof *ids);
    memcpy(s->mpos + s->n_tgt, mpos, n_mask * sizeof *mpos);
    memcpy(s->mlabel + s->n_tgt, mlabel, n_mask * sizeof *mlabel);
    s->n_ids += len;
    s->n_tgt += n_mask;
    s->n++;
    s->off[s->n] = s->n_ids;
    s->moff[s->n] = s->n_tgt;
}

static void seq_free(seq_file *s)
{
    free(s->off);
    free(s->moff);
    free(s->mpos);
    free(s->ids);
    free(s->mlabel);
    memset(s, 0, sizeof *s);
}

/* A decimal below `below` at *p (digits only); moves *p past it. */
static size_t seq_number(char **p, size_t below, const char *path, size_t lineno,
                         const char *what)
{
    char *s = *p, *end;
    if (*s < '0' || *s > '9')
        enc_die("%s:%zu: expected %s (a decimal number), got \"%.16s\"", path, lineno, what, s);
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno != 0 || x >= below)
        enc_die("%s:%zu: %s %.*s is not below %zu", path, lineno, what, (int)(end - s), s, below);
    *p = end;
    return (size_t)x;
}

static void seq_read(seq_file *s, const char *path, const enc_config *c)
{
    enc_lines r;
    enc_lines_open(&r, path, 1u << 20);
    uint32_t *ids = enc_alloc(c->max_len, sizeof *ids, "sequences");
    uint32_t *lab = enc_alloc(c->max_len, sizeof *lab, "sequences");
    size_t *pos = enc_alloc(c->max_len, sizeof *pos, "sequences");
    while (enc_lines_next(&r)) {
        const size_t ln = r.lineno;
        char *tab = strchr(r.buf, '\t');
        if (tab == NULL || strchr(tab + 1, '\t') != NULL)
            enc_die("%s:%zu: expected token ids, one tab and POS:LABEL targets", path, ln);
        *tab = '\0';
        size_t len = 0, n = 0;
        for (char *p = r.buf; *p != '\0';) {
            if (*p == ' ') {
                p++;
                continue;
            }
            if (len == c->max_len)
                enc_die("%s:%zu: more than the model's max_len (%zu) token ids", path, ln,
                        c->max_len);
            ids[len++] = (uint32_t)seq_number(&p, c->vocab, path, ln, "token id");
            if (*p != ' ' && *p != '\0')
                enc_die("%s:%zu: token id followed by '%c'", path, ln, *p);
        }
        if (len == 0)
            enc_die("%s:%zu: no token ids", path, ln);
        for (char *p = tab + 1; *p != '\0';) {
            if (*p == ' ') {
                p++;
                continue;
            }
            if (n == len)
                enc_die("%s:%zu: more targets than the %zu tokens", path, ln, len);
            pos[n] = seq_number(&p, len, path, ln, "target position");
            if (*p++ != ':')
                enc_die("%s:%zu: expected POS:LABEL targets", path, ln);
            lab[n] = (uint32_t)seq_number(&p, c->vocab, path, ln, "target label");
            if (*p != ' ' && *p != '\0')
                enc_die("%s:%zu: target followed by '%c'", path, ln, *p);
            for (size_t k = 0; k < n; k++)
                if (pos[k] == pos[n])
                    enc_die("%s:%zu: position %zu is a target twice", path, ln, pos[n]);
            n++;
        }
        if (n == 0)
            enc_die("%s:%zu: no targets: the MLM loss needs at least one POS:LABEL", path, ln);
        seq_push(s, ids, len, pos, lab, n);
    }
    enc_lines_close(&r);
    free(ids);
    free(lab);
    free(pos);
    if (s->n == 0)
        enc_die("%s: no sequences", path);
}

static void seq_write(FILE *out, void *user)
{
    const seq_file *s = user;
    for (size_t i = 0; i < s->n; i++) {
        for (size_t j = s->off[i]; j < s->off[i + 1]; j++)
            fprintf(out, j == s->off[i] ? "%u" : " %u", (unsigned)s->ids[j]);
        for (size_t k = s->moff[i]; k < s->moff[i + 1]; k++)
            fprintf(out, "%c%zu:%u", k == s->moff[i] ? '\t' : ' ', s->mpos[k],
                    (unsigned)s->mlabel[k]);
        fputc('\n', out);
    }
}

/* Sequence i of s as a batch of one (segment 0, as the WordNet batches). */
static void seq_batch(enc_batch *b, const seq_file *s, size_t i)
{
    const size_t len = s->off[i + 1] - s->off[i];
    b->B = 1;
    b->T = len;
    b->len[0] = len;
    memcpy(b->ids, s->ids + s->off[i], len * sizeof *b->ids);
    memset(b->seg, 0, len * sizeof *b->seg);
    b->n_mask = s->moff[i + 1] - s->moff[i];
    memcpy(b->mpos, s->mpos + s->moff[i], b->n_mask * sizeof *b->mpos);
    memcpy(b->mlabel, s->mlabel + s->moff[i], b->n_mask * sizeof *b->mlabel);
}

int enc_cmd_fisher(int argc, char **argv)
{
    const char *ckpt = NULL, *wordnet = "/usr/share/wordnet", *out = NULL, *plan_out = NULL;
    const char *sites_out = NULL, *rule_s = "module", *seq_in = NULL, *seq_out = NULL;
    float fraction = 0.01f, p_max = 0.1f, p_min = 0.0f;
    uint64_t seed = 7;
    size_t threads = 0, log_every = 100;
    const cli_flag flags[] = {
        {"ckpt", CLI_STR, &ckpt, 0, 0, "pretrained checkpoint folder (model.safetensors, vocab.txt)"},
        {"wordnet", CLI_STR, &wordnet, 0, 0, "folder of WordNet 3.0 data.* files"},
        {"sequences", CLI_STR, &seq_in, 0, 0, "masked sequences to use instead of WordNet's (ids<TAB>POS:LABEL ...)"},
        {"write-sequences", CLI_STR, &seq_out, 0, 0, "write the WordNet pass's masked sequences here"},
        {"fraction", CLI_FLOAT, &fraction, 1e-6, 1, "share of the pretraining corpus used"},
        {"seed", CLI_U64, &seed, 0, 1e18, "seed of the subsample and the masks"},
        {"out", CLI_STR, &out, 0, 0, "Fisher file [CKPT/fisher.safetensors]"},
        {"plan", CLI_STR, &plan_out, 0, 0, "plan file [CKPT/guided.plan]"},
        {"sites", CLI_STR, &sites_out, 0, 0, "site table TSV [CKPT/fisher-sites.tsv]"},
        {"site-rule", CLI_STR, &rule_s, 0, 0, "tensors to sites: module (Hugging Face's modules) or traced (data flow, as gdropout.torch)"},
        {"p-max", CLI_FLOAT, &p_max, 0, 1, "rate of the least informative site"},
        {"p-min", CLI_FLOAT, &p_min, 0, 1, "rate of the most informative site"},
        {"threads", CLI_SIZE, &threads, 0, 256, "OpenBLAS threads (0: default)"},
        {"log-every", CLI_SIZE, &log_every, 1, 1e9, "sequences between progress lines"},
    };
    if (cli_parse(flags, sizeof flags / sizeof *flags, argc, argv, 2,
                  "usage: encoder fisher --ckpt DIR [flags]"))
        return 0;
    if (ckpt == NULL)
        enc_die("fisher: --ckpt DIR is required");
    static const char *const rules[] = {"module", "traced"};
    const int rule = enc_name_index(rules, 2, rule_s);
    if (rule < 0)
        enc_die("--site-rule %s: expected module or traced", rule_s);
    if (p_min > p_max)
        enc_die("fisher: --p-min %g is above --p-max %g", (double)p_min, (double)p_max);
    if (seq_in && seq_out)
        enc_die("fisher: --sequences and --write-sequences exclude each other");
    if (seq_in && (cli_given("wordnet") || cli_given("fraction") || cli_given("seed")))
        enc_die("fisher: --sequences takes the sequences from its file: --wordnet, --fraction "
                "and --seed do not apply");
    if (threads)
        openblas_set_num_threads((int)threads);
    size_t rank = 0, ranks = 1;
#ifdef ENC_MPI
    int mpi_rank, mpi_size;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &mpi_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mpi_size);
    rank = (size_t)mpi_rank, ranks = (size_t)mpi_size;
#endif
    if (seq_out && ranks > 1)
        enc_die("fisher: --write-sequences needs a single process");
    char path[4096], fisher_path[4096], plan_path[4096], sites_path[4096];
    enc_path(sites_path, sizeof sites_path, ckpt, "fisher-sites.tsv");
    if (sites_out)
        snprintf(sites_path, sizeof sites_path, "%s", sites_out);
    enc_path(fisher_path, sizeof fisher_path, ckpt, "fisher.safetensors");
    enc_path(plan_path, sizeof plan_path, ckpt, "guided.plan");
    if (out)
        snprintf(fisher_path, sizeof fisher_path, "%s", out);
    if (plan_out)
        snprintf(plan_path, sizeof plan_path, "%s", plan_out);

    /* The checkpoint first (every rank reads it, so a missing one is every
     * rank's one message), then the outputs, before the pass, not after it. */
    enc_ckpt_meta meta;
    char model_path[4096];
    enc_path(model_path, sizeof model_path, ckpt, "model.safetensors");
    enc_ckpt_meta_read(&meta, model_path);
    if (rank == 0) {
        enc_check_writable(fisher_path);
        enc_check_writable(plan_path);
        enc_check_writable(sites_path);
        if (seq_out)
            enc_check_writable(seq_out);
    }
    meta.cfg.classes = 0;
    enc_model m;
    enc_model_create(&m, &meta.cfg);
    enc_ckpt_load(&m, model_path, 0);
    /* The sequences: WordNet's glosses (the corpus, masked in the loop) or
     * the --sequences file (masked already; no vocabulary needed). */
    enc_vocab v = {0};
    enc_corpus train = {0};
    seq_file seqs = {0};
    uint64_t data_digest;
    if (seq_in) {
        seq_read(&seqs, seq_in, &m.cfg);
        data_digest = enc_digest(ENC_DIGEST_INIT, seqs.ids, seqs.n_ids * sizeof *seqs.ids);
        data_digest = enc_digest(data_digest, seqs.mpos, seqs.n_tgt * sizeof *seqs.mpos);
        data_digest = enc_digest(data_digest, seqs.mlabel, seqs.n_tgt * sizeof *seqs.mlabel);
    } else {
        enc_path(path, sizeof path, ckpt, "vocab.txt");
        enc_vocab_load(&v, path);
        enc_ckpt_check_vocab(&meta, &v, model_path, path);
        data_digest = enc_vocab_digest(&v);
        enc_wordnet wn;
        enc_wordnet_read(&wn, wordnet);
        enc_corpus_from_wordnet(&train, &wn, &v, ENC_SPLIT_TRAIN, m.cfg.max_len - 2);
        enc_wordnet_free(&wn);
    }

    gd_fisher *f;
    enc_gd(gd_fisher_create(&f), "gd_fisher_create");
    for (size_t i = 0; i < m.n_tensors; i++) {
        const enc_tensor *t = &m.tensor[i];
        size_t id;
        const size_t site = enc_tensor_site(&m, i, rule);
        enc_gd(gd_fisher_add_tensor(f, t->name, t->rows * t->cols,
                                    site == SIZE_MAX ? gd_none() : site, &id),
               "gd_fisher_add_tensor");
    }
    int *dense = enc_alloc(m.n_tensors, sizeof *dense, "tensor flags");
    mark_dense(&m, dense);

    size_t n_use, n_corpus, *perm = NULL;
    if (seq_in) {
        n_use = n_corpus = seqs.n;
    } else {
        if (train.n == 0)
            enc_die("%s: no training glosses", wordnet);
        n_corpus = train.n;
        n_use = (size_t)floor((double)fraction * (double)train.n + 0.5);
        n_use = n_use ? n_use : 1;
        perm = enc_alloc(train.n, sizeof *perm, "subsample");
        for (size_t i = 0; i < train.n; i++)
            perm[i] = i;
        enc_rng pr = enc_rng_make(seed, 0x66697368ull);
        enc_shuffle(perm, train.n, &pr);
    }
#ifdef ENC_MPI
    agree(&m, data_digest, fraction, seed, n_use, n_corpus, p_max, p_min, rank);
#else
    (void)data_digest;
#endif
    if (rank == 0 && seq_in)
        printf("Fisher of the MLM loss: %zu sequences from %s, batch of one, %zu process(es)\n",
               n_use, seq_in, ranks);
    else if (rank == 0)
        printf("Fisher of the MLM loss: %zu sequences (%.2f %% of %zu), batch of one, %zu "
               "process(es)\n",
               n_use, 100.0 * (double)n_use / (double)n_corpus, n_corpus, ranks);

    enc_batch b;
    enc_batch_alloc(&b, 1, m.cfg.max_len);
    enc_dropout off = {0};
    fisher_ctx ctx = {f, 0};
    size_t skipped = 0;
    seq_file written = {0};
    const double t0 = enc_now(), c0 = enc_cpu_now();
    for (size_t i = rank; i < n_use; i += ranks) {
        if (seq_in) {
            seq_batch(&b, &seqs, i);
        } else {
            enc_rng r = enc_rng_make(seed, 0x6d61736bull << 32 | i);
            enc_batch_mlm(&b, &train, &perm[i], 1, m.cfg.vocab, &r);
        }
        if (b.n_mask == 0) { /* nothing maskable: this sequence has no MLM loss */
            skipped++;
            continue;
        }
        if (seq_out) /* a batch of one: positions b*T + t are t */
            seq_push(&written, b.ids, b.len[0], b.mpos, b.mlabel, b.n_mask);
        enc_forward_mlm(&m, &b, &off);
        enc_backward(&m, &b, &off, dense_hook, &ctx);
        for (size_t k = 0; k < m.n_tensors; k++)
            if (!dense[k])
                enc_gd(gd_fisher_accumulate(f, k, m.grad + m.tensor[k].offset, 1.0f),
                       "gd_fisher_accumulate");
        if (rank == 0 && ((i + 1) % log_every < ranks || i + ranks >= n_use)) {
            double el = enc_now() - t0;
            printf("  %zu/%zu sequences  %.1f s  ETA %.1f s\n", i + 1, n_use, el,
                   el / (double)(i + 1) * (double)(n_use - i - 1));
            fflush(stdout);
        }
    }
    const double cpu = enc_cpu_now() - c0, wall = enc_now() - t0;
    if (skipped)
        printf("  rank %zu: %zu sequences had no maskable token and were skipped\n", rank,
               skipped);
    if (rank == 0)
        printf("Fisher pass: %zu sequences, %.4f s CPU, %.4f s wall (the loop only%s)\n",
               n_use, cpu, wall, ranks > 1 ? ", rank 0" : "");
    if (seq_out) {
        enc_write_atomic(seq_out, seq_write, &written);
        printf("sequences: %s\n", seq_out);
    }
    seq_free(&written);
#ifdef ENC_MPI
    if (gdx_fisher_allreduce(f, MPI_COMM_WORLD, 0, GDX_FISHER_CHUNK_DEFAULT) != 0)
        enc_die("rank %zu: the Fisher reduction failed (see above)", rank);
    if (rank != 0) {
        gd_fisher_destroy(f);
        MPI_Finalize();
        return 0;
    }
#endif
    int rc = gd_fisher_save(f, fisher_path);
    if (rc != GD_OK)
        enc_die("%s: cannot save the Fisher file: %s (%s)", fisher_path, gd_error_name(rc),
                gd_strerror(rc));
    printf("Fisher file: %s\n", fisher_path);

    const size_t ns = enc_n_sites(&m.cfg);
    float *scores = enc_alloc(ns, sizeof *scores, "scores"), *rates = enc_alloc(ns, sizeof *rates, "rates");
    enc_gd(gd_fisher_site_scores(f, GD_REDUCE_TENSOR_MEAN, scores, ns), "gd_fisher_site_scores");
    gd_plan *plan;
    enc_gd(gd_plan_create(&plan, ns), "gd_plan_create");
    char name[128];
    for (size_t s = 0; s < ns; s++) {
        enc_site_name(s, name, sizeof name);
        enc_gd(gd_plan_set_site(plan, s, name, scores[s]), "gd_plan_set_site");
    }
    enc_gd(gd_plan_compute(plan, GD_RULE_RANK_LINEAR, p_max, p_min), "gd_plan_compute");
    enc_gd(gd_plan_get_all(plan, rates, ns), "gd_plan_get_all");
    rc = gd_plan_save(plan, plan_path);
    if (rc != GD_OK)
        enc_die("%s: cannot save the plan: %s (%s)", plan_path, gd_error_name(rc),
                gd_strerror(rc));
    printf("\nsite scores (GD_REDUCE_TENSOR_MEAN) and the guided plan (rank-linear %.3g -> %.3g):\n",
           (double)p_max, (double)p_min);
    printf("%-4s %-42s %12s %8s %16s\n", "site", "name", "score", "p", "score w/o LN");
    site_table tab = {&m, f, scores, rates, ns, rule};
    for (size_t s = 0; s < ns; s++) {
        enc_site_name(s, name, sizeof name);
        printf("%-4zu %-42s %12.4e %8.4f %16.4e\n", s, name, (double)scores[s], (double)rates[s],
               score_without_norms(&m, f, s, rule));
    }
    enc_write_atomic(sites_path, write_sites, &tab);
    printf("site table: %s\n", sites_path);
    printf("plan file: %s   (read it back: gdropout-plan --help)\n", plan_path);
#ifdef ENC_MPI
    MPI_Finalize();
#endif
    gd_plan_destroy(plan);
    gd_fisher_destroy(f);
    free(scores);
    free(rates);
    free(perm);
    free(dense);
    enc_batch_free(&b);
    enc_corpus_free(&train);
    if (!seq_in)
        enc_vocab_free(&v);
    seq_free(&seqs);
    enc_model_free(&m);
    return 0;
}

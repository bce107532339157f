/*
 * Data for the encoder: the pretraining corpus (training-split glosses as
 * token ids), masked-LM batches, and labelled tasks (WordNet supersense and
 * hypernymy, or a user's TSV files) as padded batches.
 */
#ifndef ENC_DATA_H
#define ENC_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "tokenizer.h"
#include "util.h"
#include "wordnet.h"

/* Token sequences (no [CLS]/[SEP]): seq i is tok[off[i] .. off[i+1]). */
typedef struct enc_corpus {
    uint32_t *tok;
    size_t *off;
    size_t n, n_tok;
} enc_corpus;

/* The glosses of the synsets in `split` (ENC_SPLIT_*), encoded and cut to
 * max_tokens. */
void enc_corpus_from_wordnet(enc_corpus *c, const enc_wordnet *wn, const enc_vocab *v,
                             int split, size_t max_tokens);
void enc_corpus_free(enc_corpus *c);
/* Fraction of tokens that are [UNK]. */
double enc_corpus_unk_rate(const enc_corpus *c);

/* A batch buffer big enough for B sequences of up to T tokens. */
void enc_batch_alloc(enc_batch *b, size_t B, size_t T);
void enc_batch_free(enc_batch *b);

/* MLM batch of corpus sequences idx[0..n): [CLS] tokens [SEP], padded to the
 * longest; in each sequence round(15 %) of the non-[UNK] tokens (at least
 * one, if it has any) become targets, of which 80 % are replaced by [MASK],
 * 10 % by a random word and 10 % kept.  A sequence with nothing maskable
 * simply has no targets. */
void enc_batch_mlm(enc_batch *b, const enc_corpus *c, const size_t *idx, size_t n,
                   size_t vocab, enc_rng *r);

/* Pretraining order for one epoch: a permutation of the corpus cut into
 * batches of `batch` sequences of similar length (chunks of 64 batches are
 * sorted by length, then the batches are shuffled), so padding stays small.
 * order[] receives the sequence ids batch after batch; returns the number of
 * batches (the last may be short: its size is n - (batches-1)*batch). */
size_t enc_epoch_order(size_t *order, const enc_corpus *c, size_t batch, uint64_t seed,
                       uint64_t epoch);

/* ---- labelled tasks ----------------------------------------------------- */

typedef struct enc_example {
    size_t a, na, b, nb; /* token ranges in the dataset's pool; nb == 0: single text */
    size_t text_a, text_b; /* the raw texts, offsets in the dataset's text (text_b
                              only for pairs), for baselines that tokenise their own way */
    int label;           /* class id (classification) */
    float target;        /* regression target */
} enc_example;

typedef struct enc_dataset {
    enc_example *ex;
    size_t n;
    uint32_t *pool;
    size_t n_pool, cap_pool;
    char *text;
    size_t n_text, cap_text;
} enc_dataset;

typedef struct enc_task {
    char name[64];
    size_t n_classes;    /* 1: regression */
    char **class_name;   /* n_classes names (classification) */
    enc_dataset train, val, test;
    int pair;            /* examples are text pairs */
} enc_task;

/* Supersense: noun glosses labelled with their lexicographer file (animal,
 * artifact, body, food, location, person, plant, substance); per class
 * `per_class` training-split synsets for the training pool and 150 of each
 * held-out split for validation and test (balanced). */
void enc_task_supersense(enc_task *t, const enc_wordnet *wn, const enc_vocab *v,
                         size_t per_class);
/* Hypernymy: (gloss A, gloss B), label 1 when B is a direct hypernym of A,
 * 0 when B is another noun of the same lexicographer file as A's hypernym;
 * A from the 8 supersense files; balanced; `pool` training pairs and 1200
 * validation and test pairs, with A from the held-out splits. */
void enc_task_hypernymy(enc_task *t, const enc_wordnet *wn, const enc_vocab *v, size_t pool);
/* A user's task: lines `label<TAB>text` or `label<TAB>text_a<TAB>text_b`
 * (one form per file).  Each file must be a regular file; lines are capped
 * at 1 MiB.  Labels lose the spaces around them.  A first line that names
 * the columns is detected and skipped with a note on stderr: a first label
 * that is a column name (label, labels, class, category, target, gold,
 * score, y, tag, in any case), which then must not occur as a label anywhere
 * in the file; with regression also a first label that is a word (starts
 * with a letter; inf and nan stay errors).  Classes are the training file's labels in order of
 * first appearance; with regression, labels are strict decimals (no hex,
 * inf or nan) finite as a float.  Bad lines end the program with the file,
 * line number and reason, as does a read error. */
void enc_task_tsv(enc_task *t, const enc_vocab *v, const char *train, const char *val,
                  const char *test, int regression);
void enc_task_free(enc_task *t);
/* Writes the task's three sets as TSV files (label name<TAB>text[<TAB>text_b],
 * the raw texts) dir/train.tsv, dir/val.tsv, dir/test.tsv: the input of the
 * bag-of-words baseline, and a user-task example. */
void enc_task_export(const enc_task *t, const char *dir);

/* The classification batch of examples idx[0..n) of d: [CLS] a [SEP]
 * (b [SEP], token type 1), the longer text cut first to fit max_len. */
void enc_batch_task(enc_batch *b, const enc_dataset *d, const size_t *idx, size_t n,
                    size_t max_len);

/* A stratified subset: the first round(frac * n_c) examples of each class c
 * (at least 1) in a permutation fixed by (seed, stream); for regression, of
 * the whole pool.  idx receives the chosen example ids (returns how many). */
size_t enc_subset(size_t *idx, const enc_dataset *d, size_t n_classes, double frac,
                  uint64_t seed, uint64_t stream);

#endif /* ENC_DATA_H */

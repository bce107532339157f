/*
 * Checkpoints as safetensors files (readable with json + numpy): one F32
 * tensor per parameter under BERT's name and shape, and __metadata__ with
 * the format ("gdx-encoder-1"), the model sizes and the training step.
 * The optimizer's state for --resume is a second file of the same format
 * (tensors "adam.m" and "adam.v", flat).  Files are written atomically.
 */
#ifndef ENC_CHECKPOINT_H
#define ENC_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "tokenizer.h"

/* The pretraining run's settings, stored with its checkpoints so that
 * --resume keeps the schedule (and refuses flags that would change it).
 * The rates are doubles as read, so a value out of a float's range is
 * refused by the flags' range check, not rounded to infinity first. */
typedef struct enc_schedule {
    uint64_t steps, warmup, batch;
    double lr, weight_decay, p;
} enc_schedule;

typedef struct enc_ckpt_meta {
    enc_config cfg;   /* classes is 0 unless the file has a classifier; pool is
                         the file's (CLS when it names none) */
    uint64_t step;    /* optimizer steps taken */
    uint64_t seed;
    int has_classifier;
    int has_vocab_digest; /* 0 in checkpoints older than the digest */
    uint64_t vocab_digest; /* enc_vocab_digest of the vocabulary it was trained with */
    int has_schedule;     /* 0 in checkpoints older than the stored schedule */
    enc_schedule sched;
} enc_ckpt_meta;

/* Writes m's parameters to path (meta's step, seed, vocabulary digest and,
 * when has_schedule, the schedule go in the metadata).  Refuses (ends the
 * program) when a parameter is not finite. */
void enc_ckpt_save(const enc_model *m, const enc_ckpt_meta *meta, const char *path);
/* Reads only the metadata (sizes) of a checkpoint.  When the checkpoint
 * stores a vocabulary digest, the vocab.txt beside it must match it.  Any
 * fault ends the program with a message naming the file and what is wrong.
 * The header parser is linear in the header's size (sorted names). */
void enc_ckpt_meta_read(enc_ckpt_meta *meta, const char *path);
/* Ends the program unless v is the vocabulary meta was trained with: the
 * same size, and the same digest when meta has one (an older checkpoint
 * without one is accepted with a note on stderr). */
void enc_ckpt_check_vocab(const enc_ckpt_meta *meta, const enc_vocab *v, const char *ckpt_path,
                          const char *vocab_path);
/* Reads the parameters into m, whose sizes must match the file's: every
 * tensor of m must be in the file with its shape, except the classifier
 * when allow_new_head (fine-tuning starts it fresh).  A truncated file, a
 * wrong shape, a missing or unknown tensor ends the program with a message. */
void enc_ckpt_load(enc_model *m, const char *path, int allow_new_head);

/* Optimizer state: n floats each of m and v, the step, and the digest of
 * the parameters it goes with (enc_param_digest), so a model and an
 * optimizer file from different saves are never resumed as a pair.  Loading
 * refuses a non-finite value, a negative second moment and (*digest set to
 * 0 when the file is older than the digest) reports the stored digest. */
void enc_opt_save(const float *mom, const float *vel, size_t n, uint64_t step, uint64_t digest,
                  const char *path);
void enc_opt_load(float *mom, float *vel, size_t n, uint64_t *step, uint64_t *digest,
                  const char *path);
/* Digest of a model's parameters (their bytes). */
uint64_t enc_param_digest(const enc_model *m);

#endif /* ENC_CHECKPOINT_H */

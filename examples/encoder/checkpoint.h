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

typedef struct enc_ckpt_meta {
    enc_config cfg;   /* classes is 0 unless the file has a classifier; pool is
                         the file's (CLS when it names none) */
    uint64_t step;    /* optimizer steps taken */
    uint64_t seed;
    int has_classifier;
} enc_ckpt_meta;

/* Writes m's parameters to path. */
void enc_ckpt_save(const enc_model *m, const enc_ckpt_meta *meta, const char *path);
/* Reads only the metadata (sizes) of a checkpoint.  Any fault ends the
 * program with a message naming the file and what is wrong. */
void enc_ckpt_meta_read(enc_ckpt_meta *meta, const char *path);
/* Reads the parameters into m, whose sizes must match the file's: every
 * tensor of m must be in the file with its shape, except the classifier
 * when allow_new_head (fine-tuning starts it fresh).  A truncated file, a
 * wrong shape, a missing or unknown tensor ends the program with a message. */
void enc_ckpt_load(enc_model *m, const char *path, int allow_new_head);

/* Optimizer state: n floats each of m and v, and the step. */
void enc_opt_save(const float *mom, const float *vel, size_t n, uint64_t step, const char *path);
void enc_opt_load(float *mom, float *vel, size_t n, uint64_t *step, const char *path);

#endif /* ENC_CHECKPOINT_H */

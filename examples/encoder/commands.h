/*
 * The encoder's subcommands, one file each:
 *   pretrain.c   encoder pretrain    masked-LM pretraining on WordNet glosses
 *   fisher.c     encoder fisher      MLM Fisher per site and the guided plan
 *   finetune.c   encoder finetune    one fine-tuning run on a task
 *   experiment.c encoder experiment  every regime x fraction x seed, as TSV rows
 *   speed.c      encoder speed       tokens/s and the step-time shares
 *   dump.c       encoder dump        one step for a parity test
 * and what they share.
 */
#ifndef ENC_COMMANDS_H
#define ENC_COMMANDS_H

#include <stddef.h>

#include "data.h"
#include "model.h"

int enc_cmd_pretrain(int argc, char **argv);
int enc_cmd_fisher(int argc, char **argv);
int enc_cmd_finetune(int argc, char **argv);
int enc_cmd_experiment(int argc, char **argv);
int enc_cmd_speed(int argc, char **argv);
int enc_cmd_dump(int argc, char **argv);

/* dir/file into out, or the program ends. */
void enc_path(char *out, size_t cap, const char *dir, const char *file);
/* Held-out MLM loss and accuracy on the first n sequences of held. */
enc_result enc_eval_mlm(enc_model *m, const enc_corpus *held, size_t n, size_t batch);
/* Loading shared by finetune and the experiment (finetune.c). */
void enc_load_task(enc_task *t, const char *name, const char *wordnet, const enc_vocab *v,
                   const char *train, const char *val, const char *test, int regression,
                   size_t pool);
float *enc_load_pretrained(enc_config *cfg, enc_vocab *v, const char *dir, size_t classes);
float *enc_read_plan(const char *path, size_t n);

#endif /* ENC_COMMANDS_H */

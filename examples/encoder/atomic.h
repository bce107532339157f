/*
 * Writing a file so that a crash leaves either the old file or the whole
 * new one: a temporary file in the same folder, flushed, fsync'ed, renamed
 * over the target, and the folder fsync'ed.  Checkpoints and the vocabulary
 * go through it, so an interrupted pretraining run never leaves a torn file.
 */
#ifndef ENC_ATOMIC_H
#define ENC_ATOMIC_H

#include <stdio.h>

/* Calls write(f, user) on a temporary file and then puts it at path.  Any
 * failure (including a write error write() left in f) ends the program with
 * a message naming path; the old file, if any, is left as it was. */
void enc_write_atomic(const char *path, void (*write)(FILE *f, void *user), void *user);

#endif /* ENC_ATOMIC_H */

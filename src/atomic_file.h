/*
 * Durable whole-file replacement: the target is either its old contents or
 * the complete new ones, even across a crash or a failed write.
 */
#ifndef GDROPOUT_ATOMIC_FILE_H
#define GDROPOUT_ATOMIC_FILE_H

#include <stdio.h>

/* Writes the file's contents to fp; returns GD_OK or a GD_E* code. */
typedef int (*gd_file_writer)(FILE *fp, void *ctx);

/* Creates a temporary file next to path (mkstemp on "<path>.XXXXXX"), lets
 * write fill it, then fflush, fsync, fclose and rename it over path, and
 * fsyncs the folder (best effort: the data is already in place).  A new file
 * gets mode 0644, a replaced one keeps its mode.  On any failure the
 * temporary file is removed and path is left as it was; the result is the
 * writer's error or GD_EIO (GD_ENOMEM for the name). */
int gd_atomic_write(const char *path, gd_file_writer write, void *ctx);

#endif /* GDROPOUT_ATOMIC_FILE_H */

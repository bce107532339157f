/*
 * Files: durable whole-file replacement (the target is either its old
 * contents or the complete new ones, even across a crash or a failed
 * write), and opening a regular file for reading without hanging on a FIFO.
 */
#ifndef GDROPOUT_ATOMIC_FILE_H
#define GDROPOUT_ATOMIC_FILE_H

#include <stdint.h>
#include <stdio.h>

/* Writes the file's contents to fp; returns GD_OK or a GD_E* code. */
typedef int (*gd_file_writer)(FILE *fp, void *ctx);

/* path must name a regular file (replaced) or nothing (created); anything
 * else at path (symlink, dangling symlink, directory, FIFO, socket, device)
 * is GD_EIO before anything is written, and is checked again just before
 * the rename.  Creates a temporary file "<folder>/.gd-XXXXXXXX" with
 * open(O_CREAT | O_EXCL, 0666), so a new file gets the mode the umask (or
 * the folder's default ACL) gives; lets write fill it, then fflush, fchmod
 * to the old file's mode when replacing one, fsync, fclose and rename it
 * over path, and fsyncs the folder (best effort: the data is already in
 * place).  On any failure the temporary file is removed and path is left as
 * it was; the result is the writer's error or GD_EIO (GD_ENOMEM for the
 * name). */
int gd_atomic_write(const char *path, gd_file_writer write, void *ctx);

/* Opens path for reading (binary) if it is a regular file: it is opened
 * non-blocking and checked with fstat before anything is read, so a FIFO
 * (or a device, directory or socket) gives GD_EIO at once instead of
 * waiting for a writer.  *size (may be NULL) gets the file's size. */
int gd_open_regular(const char *path, FILE **out, uint64_t *size);

#endif /* GDROPOUT_ATOMIC_FILE_H */

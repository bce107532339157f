/*
 * Writing files so that a crash, a full disk or an I/O error leaves either
 * the old file or the whole new one, and the program says so: a temporary
 * file in the same folder, flushed, fsync'ed, renamed over the target, and
 * the folder fsync'ed.  Checkpoints, the vocabulary, Fisher site tables,
 * dumps and exports go through it, so an interrupted run never leaves a torn
 * file.
 *
 * Like the library's own saves (src/atomic_file.c), a target must be a
 * regular file or nothing: a symlink (even to a regular file), a device
 * node, a FIFO, a socket or a folder at the path is refused, never replaced
 * or written through.  Every failure ends the program (enc_die, status 1)
 * with a message naming the file.  Not thread-safe with respect to the
 * process umask (read once per call).
 */
#ifndef ENC_ATOMIC_H
#define ENC_ATOMIC_H

#include <stddef.h>
#include <stdio.h>

/* Calls write(f, user) on a temporary file beside path and then puts it at
 * path.  Any failure (a refused target, a write error write() left in f, a
 * failed flush, fsync, close or rename) ends the program with a message
 * naming path; the old file, if any, is left as it was and the temporary
 * file is removed.  A replaced file keeps its permission bits. */
void enc_write_atomic(const char *path, void (*write)(FILE *f, void *user), void *user);

/* Checks, before expensive work, that path can later be written by
 * enc_write_atomic (or the library's saves): nothing or a regular file is
 * there, and a file can be created in its folder (one is created and
 * removed).  Ends the program with a message naming path otherwise. */
void enc_check_writable(const char *path);

/* Renames from to to (both in one folder, to nothing or a regular file) and
 * fsyncs the folder; ends the program naming both on failure.  For
 * committing files staged with enc_write_atomic. */
void enc_rename_durable(const char *from, const char *to);

/* Appends text[0..len) to path (created if missing, a regular file only) as
 * one unit: written, then fsync'ed; on any failure the file is cut back to
 * its length before the call, so no torn row is left, and the program ends
 * with a message naming path.  For result rows appended one at a time. */
void enc_append_durable(const char *path, const char *text, size_t len);

#endif /* ENC_ATOMIC_H */

/*
 * Temporary files for the load targets: the input bytes are written to a
 * file in a private directory (made once per process, removed at exit), so
 * the loaders are fuzzed through the same path a host uses.
 */
#ifndef GD_FUZZ_FILES_H
#define GD_FUZZ_FILES_H

#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir[64];

static void fuzz_files_cleanup(void)
{
    if (!fuzz_dir[0])
        return;
    const char *names[] = {"in", "out", "out2", "plan"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", fuzz_dir, names[i]);
        unlink(path);
    }
    rmdir(fuzz_dir);
}

/* dir/name in out (at least 128 bytes); the directory is made on first use. */
static inline void fuzz_path(char *out, const char *name)
{
    if (!fuzz_dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/gd_fuzz_XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(fuzz_dir))
            abort(); /* the harness cannot run: not a finding */
        atexit(fuzz_files_cleanup);
    }
    snprintf(out, 128, "%s/%s", fuzz_dir, name);
}

/* Writes data to dir/name and returns its path in out. */
static inline void fuzz_write(char *out, const char *name, const uint8_t *data, size_t size)
{
    fuzz_path(out, name);
    FILE *fp = fopen(out, "wb");
    if (!fp || (size && fwrite(data, 1, size, fp) != size) || fclose(fp) != 0)
        abort();
}

#endif

/* Durable file replacement (see atomic.h). */
#define _POSIX_C_SOURCE 200809L
#include "atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static void sync_folder(const char *path)
{
    char *copy = strdup(path);
    if (copy == NULL)
        enc_die("out of memory");
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    free(copy);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort: some file systems refuse it */
        close(fd);
    }
}

void enc_write_atomic(const char *path, void (*write)(FILE *f, void *user), void *user)
{
    size_t len = strlen(path);
    char *tmp = enc_alloc(len + 16, 1, "a file name");
    snprintf(tmp, len + 16, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        enc_die("%s: cannot create a temporary file beside it: %s", path, strerror(errno));
    /* mkstemp makes the file 0600; give it the mode a plain fopen would. */
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask);
    FILE *f = fdopen(fd, "wb");
    if (f == NULL) {
        close(fd);
        unlink(tmp);
        enc_die("%s: %s", path, strerror(errno));
    }
    write(f, user);
    int bad = ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0;
    int err = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    if (!bad && rename(tmp, path) != 0) {
        bad = 1;
        err = errno;
    }
    if (bad) {
        unlink(tmp);
        enc_die("%s: write failed: %s", path, strerror(err));
    }
    free(tmp);
    sync_folder(path);
}

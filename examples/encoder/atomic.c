/* Durable file replacement (see atomic.h). */
#define _POSIX_C_SOURCE 200809L
#include "atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* Length of path's folder part, the final '/' included (0: current folder). */
static size_t folder_len(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? (size_t)(slash - path) + 1 : 0;
}

/* "<folder>/.enc-XXXXXX" for mkstemp: a short name of its own, so a target
 * name near the 255-byte limit still leaves room for it. */
static char *temp_name(const char *path)
{
    static const char stem[] = ".enc-XXXXXX";
    const size_t dir = folder_len(path);
    char *t = enc_alloc(dir + sizeof stem, 1, "a file name");
    memcpy(t, path, dir);
    memcpy(t + dir, stem, sizeof stem);
    return t;
}

static void sync_folder(const char *path)
{
    const size_t len = folder_len(path);
    char *dir = enc_alloc(len + 2, 1, "a file name");
    if (len == 0)
        dir[0] = '.';
    else
        memcpy(dir, path, len); /* "a/" opens as "a"; "/" as "/" */
    const int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort: some file systems refuse it */
        close(fd);
    }
}

/* What is at path: 0 when nothing is, 1 for a regular file (its permission
 * bits in *mode); anything else ends the program.  lstat, so a symlink is
 * seen as itself and refused. */
static int check_target(const char *path, mode_t *mode)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        enc_die("%s: cannot look at the file: %s", path, strerror(errno));
    }
    if (S_ISLNK(st.st_mode))
        enc_die("%s: is a symbolic link; refusing to replace or write through it", path);
    if (!S_ISREG(st.st_mode))
        enc_die("%s: is not a regular file (a folder, device, FIFO or socket); refusing to "
                "replace it",
                path);
    *mode = st.st_mode & 07777;
    return 1;
}

/* Ends the program after removing the temporary file. */
static void fail(const char *tmp, const char *path, const char *what, int err)
    __attribute__((noreturn));
static void fail(const char *tmp, const char *path, const char *what, int err)
{
    unlink(tmp);
    enc_die("%s: %s: %s (the previous file, if any, is unchanged)", path, what, strerror(err));
}

void enc_write_atomic(const char *path, void (*write)(FILE *f, void *user), void *user)
{
    mode_t mode = 0;
    const int replace = check_target(path, &mode);
    char *tmp = temp_name(path);
    const int fd = mkstemp(tmp);
    if (fd < 0)
        enc_die("%s: cannot create a temporary file beside it: %s", path, strerror(errno));
    if (!replace) { /* mkstemp makes the file 0600; give it the mode a plain fopen would */
        const mode_t mask = umask(0);
        umask(mask);
        mode = 0666 & ~mask;
    }
    if (fchmod(fd, mode) != 0) {
        const int err = errno;
        close(fd);
        fail(tmp, path, "cannot set the mode of the temporary file", err);
    }
    FILE *f = fdopen(fd, "wb");
    if (f == NULL) {
        const int err = errno;
        close(fd);
        fail(tmp, path, "cannot open the temporary file", err);
    }
    errno = 0;
    write(f, user);
    /* The first error decides the message; fclose runs in every case. */
    const char *what = NULL;
    int err = 0;
    if (ferror(f))
        what = "write failed", err = errno ? errno : EIO;
    else if (fflush(f) != 0)
        what = "write failed", err = errno;
    else if (fsync(fileno(f)) != 0)
        what = "fsync failed", err = errno;
    if (fclose(f) != 0 && what == NULL)
        what = "close failed", err = errno;
    if (what != NULL)
        fail(tmp, path, what, err);
    /* Looked at once more: something may have appeared at path meanwhile. */
    check_target(path, &mode);
    if (rename(tmp, path) != 0)
        fail(tmp, path, "rename failed", errno);
    free(tmp);
    sync_folder(path);
}

void enc_check_writable(const char *path)
{
    mode_t mode;
    check_target(path, &mode);
    char *tmp = temp_name(path);
    const int fd = mkstemp(tmp);
    if (fd < 0)
        enc_die("%s: cannot create a file in its folder: %s", path, strerror(errno));
    close(fd);
    unlink(tmp);
    free(tmp);
}

void enc_rename_durable(const char *from, const char *to)
{
    mode_t mode;
    check_target(to, &mode);
    if (rename(from, to) != 0)
        enc_die("%s: cannot rename it to %s: %s", from, to, strerror(errno));
    sync_folder(to);
}

void enc_append_durable(const char *path, const char *text, size_t len)
{
    const int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
                                  O_CLOEXEC | O_NOCTTY,
                        0666);
    if (fd < 0)
        enc_die("%s: cannot open for appending: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        enc_die("%s: not a regular file; refusing to append to it", path);
    }
    const off_t before = st.st_size;
    size_t done = 0;
    int err = 0;
    while (done < len && err == 0) {
        const ssize_t k = write(fd, text + done, len - done);
        if (k > 0)
            done += (size_t)k;
        else if (k < 0 && errno == EINTR)
            continue;
        else
            err = k < 0 ? errno : ENOSPC;
    }
    if (err == 0 && fsync(fd) != 0)
        err = errno;
    if (err != 0) {
        /* Cut the partial row; a failure here is named too. */
        const int cut = ftruncate(fd, before) == 0 && fsync(fd) == 0;
        close(fd);
        enc_die("%s: append failed: %s (%s)", path, strerror(err),
                cut ? "the file is back at its previous length"
                    : "could not cut the partial row; remove it by hand");
    }
    if (close(fd) != 0)
        enc_die("%s: close failed: %s", path, strerror(errno));
}

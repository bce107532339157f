/* Durable writes through a temporary file, fsync and rename (atomic_file.h),
 * and opening a file for reading without blocking on a FIFO. */
#define _POSIX_C_SOURCE 200809L

#include "atomic_file.h"

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Length of path's folder part, the final '/' included (0: current folder). */
static size_t folder_len(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? (size_t)(slash - path) + 1 : 0;
}

/* Characters of the temporary name's random part. */
enum { SUFFIX_LEN = 8 };

/* "<folder>/.gd-" plus SUFFIX_LEN characters filled in by fill_suffix.  A
 * short name of its own, not "<path>.XXXXXX": a target name near the
 * 255-byte limit of a file name would otherwise leave no room for it. */
static char *temp_name(const char *path)
{
    static const char stem[] = ".gd-";
    const size_t dir = folder_len(path);
    /* dir < strlen(path), so the sum cannot overflow */
    char *t = gd_malloc(dir + sizeof stem + SUFFIX_LEN);
    if (t) {
        memcpy(t, path, dir);
        memcpy(t + dir, stem, sizeof stem);
    }
    return t;
}

/* A fresh pseudo-random suffix: clock, process, the attempt and two
 * addresses (the name's buffer and this thread's stack) through splitmix64.
 * No shared state (the library keeps none); unpredictability is not needed
 * (O_EXCL makes a taken or planted name a retry, never a write through it),
 * only that concurrent savers rarely collide. */
static void fill_suffix(char *t, unsigned attempt)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t z = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
                 ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)t ^
                 ((uint64_t)(uintptr_t)&ts << 7) ^ (attempt * UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    z ^= z >> 31;
    char *s = t + strlen(t);
    for (int i = 0; i < SUFFIX_LEN; i++, z >>= 6)
        s[i] = alphabet[z % 62];
    s[SUFFIX_LEN] = '\0';
}

/* Creates the temporary file with mode 0666 as open(2) does, so the
 * process's umask (or the folder's default ACL) applies as it would to any
 * new file.  Returns the descriptor or -1. */
static int create_temp(char *t)
{
    const size_t base = strlen(t);
    for (unsigned tries = 0; tries < 100; tries++) {
        t[base] = '\0';
        fill_suffix(t, tries);
        const int fd = open(t, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

/* fsync the folder holding path, so the rename itself survives a crash. */
static void sync_folder(const char *path)
{
    const size_t len = folder_len(path);
    const size_t n = len > 1 ? len - 1 : len; /* "/" stays "/", "a/" becomes "a" */
    char *dir = gd_malloc(n + 2);
    if (!dir)
        return;
    memcpy(dir, n ? path : ".", n ? n : 1);
    dir[n ? n : 1] = '\0';
    const int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort: the new file is already in place */
        close(fd);
    }
    gd_free(dir);
}

/* What is at path now: GD_OK with *replace false when nothing is, GD_OK with
 * *replace true and its permission bits in *mode for a regular file, and
 * GD_EIO for anything else (a symlink, even to a regular file, a dangling
 * symlink, a directory, FIFO, socket or device; or a path that cannot be
 * looked at).  lstat, so a symlink is seen as itself. */
static int check_target(const char *path, bool *replace, mode_t *mode)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        *replace = false;
        return errno == ENOENT ? GD_OK : GD_EIO;
    }
    if (!S_ISREG(st.st_mode))
        return GD_EIO;
    *replace = true;
    *mode = st.st_mode & 07777;
    return GD_OK;
}

/* Runs the writer and makes its output durable; closes fp in every case.
 * A replaced file's mode is kept (mode != NULL); a new one keeps what
 * open(2) gave it. */
static int fill_and_close(FILE *fp, gd_file_writer write, void *ctx, const mode_t *mode)
{
    int rc = write(fp, ctx);
    if (rc == GD_OK && (fflush(fp) != 0 || ferror(fp) ||
                        (mode && fchmod(fileno(fp), *mode) != 0) || fsync(fileno(fp)) != 0))
        rc = GD_EIO;
    if (fclose(fp) != 0 && rc == GD_OK)
        rc = GD_EIO;
    return rc;
}

/* The temporary file is written; the target is checked once more just
 * before it is replaced (something else may have appeared meanwhile). */
static int finish(const char *tmp, const char *path)
{
    bool replace;
    mode_t mode;
    if (check_target(path, &replace, &mode) != GD_OK || rename(tmp, path) != 0)
        return GD_EIO;
    return GD_OK;
}

int gd_atomic_write(const char *path, gd_file_writer write, void *ctx)
{
    bool replace = false;
    mode_t mode = 0;
    if (!path || !*path || !write)
        return GD_EINVAL;
    int rc = check_target(path, &replace, &mode);
    if (rc != GD_OK)
        return rc;
    char *tmp = temp_name(path);
    if (!tmp)
        return GD_ENOMEM;
    const int fd = create_temp(tmp);
    if (fd < 0) {
        gd_free(tmp);
        return GD_EIO;
    }
    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
        close(fd);
        rc = GD_EIO;
    } else {
        rc = fill_and_close(fp, write, ctx, replace ? &mode : NULL);
    }
    if (rc == GD_OK)
        rc = finish(tmp, path);
    if (rc != GD_OK)
        unlink(tmp);
    else
        sync_folder(path);
    gd_free(tmp);
    return rc;
}

int gd_open_regular(const char *path, FILE **out, uint64_t *size)
{
    struct stat st;
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
     * writer before the type can be checked. */
    const int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return GD_EIO;
    const int flags = fcntl(fd, F_GETFL);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || flags < 0 ||
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        close(fd);
        return GD_EIO;
    }
    FILE *fp = fdopen(fd, "rb");
    if (!fp) {
        close(fd);
        return GD_EIO;
    }
    *out = fp;
    if (size)
        *size = (uint64_t)st.st_size;
    return GD_OK;
}

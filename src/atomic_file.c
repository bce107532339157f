/* Durable writes through a temporary file, fsync and rename (atomic_file.h). */
#define _POSIX_C_SOURCE 200809L

#include "atomic_file.h"

#include "internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Length of path's folder part, the final '/' included (0: current folder). */
static size_t folder_len(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? (size_t)(slash - path) + 1 : 0;
}

/* "<folder>/.gd-XXXXXX", the template mkstemp fills in.  A short name of its
 * own, not "<path>.XXXXXX": a target name near the 255-byte limit of a file
 * name would otherwise leave no room for the suffix. */
static char *temp_name(const char *path)
{
    static const char name[] = ".gd-XXXXXX";
    const size_t dir = folder_len(path);
    char *t = gd_malloc(dir + sizeof name); /* dir < strlen(path): no overflow */
    if (t) {
        memcpy(t, path, dir);
        memcpy(t + dir, name, sizeof name);
    }
    return t;
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
    const int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort: the new file is already in place */
        close(fd);
    }
    gd_free(dir);
}

/* The mode the new file should have: the old file's, or 0644. */
static mode_t target_mode(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        return st.st_mode & 07777;
    return 0644;
}

/* Runs the writer and makes its output durable; closes fp in every case. */
static int fill_and_close(FILE *fp, gd_file_writer write, void *ctx, mode_t mode)
{
    int rc = write(fp, ctx);
    if (rc == GD_OK && (fflush(fp) != 0 || ferror(fp) || fchmod(fileno(fp), mode) != 0 ||
                        fsync(fileno(fp)) != 0))
        rc = GD_EIO;
    if (fclose(fp) != 0 && rc == GD_OK)
        rc = GD_EIO;
    return rc;
}

int gd_atomic_write(const char *path, gd_file_writer write, void *ctx)
{
    if (!path || !*path || !write)
        return GD_EINVAL;
    char *tmp = temp_name(path);
    if (!tmp)
        return GD_ENOMEM;
    const mode_t mode = target_mode(path);
    const int fd = mkstemp(tmp);
    if (fd < 0) {
        gd_free(tmp);
        return GD_EIO;
    }
    FILE *fp = fdopen(fd, "wb");
    int rc;
    if (!fp) {
        close(fd);
        rc = GD_EIO;
    } else {
        rc = fill_and_close(fp, write, ctx, mode);
    }
    if (rc == GD_OK && rename(tmp, path) != 0)
        rc = GD_EIO;
    if (rc != GD_OK)
        unlink(tmp);
    else
        sync_folder(path);
    gd_free(tmp);
    return rc;
}

/*
 * A fault-injection shim for the encoder's reliability test (LD_PRELOAD),
 * driven by environment variables:
 *
 *   ENC_FAULT_FSYNC_EIO=1          fsync of a regular file fails with EIO
 *   ENC_FAULT_FSYNC_EIO_AT=N       only the N-th fsync of a regular file
 *                                  (1-based) fails with EIO
 *   ENC_FAULT_KILL_AT_FSYNC=N      the N-th fsync of a regular file kills
 *                                  the process with SIGKILL before syncing
 *   ENC_FAULT_RENAME_EIO=SUFFIX    a rename whose target ends with SUFFIX
 *                                  fails with EIO
 *   ENC_FAULT_KILL_AT_RENAME=N     the N-th rename (1-based) kills the
 *                                  process with SIGKILL before renaming:
 *                                  a crash at a chosen point of a save
 *   ENC_FAULT_WRITE_AT=N           the N-th write(2) to a regular file fails
 *                                  (after writing nothing) with
 *   ENC_FAULT_WRITE_ERRNO=E        E: ENOSPC (default) or EIO
 *
 * Only calls the encoder and the library make through the dynamic linker
 * are seen: write(2) as called directly (the results file's appends), not
 * stdio's internal writes, which are injected with `ulimit -f` instead.
 * The sweeps in tests/fault_sweep.sh count calls with ENC_FAULT_COUNT=FILE
 * (each fsync, rename and write is appended to FILE as a line).  Not
 * thread-safe (the counters); the encoder saves from one thread.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* dlsym's object pointer as a function pointer, without a cast ISO C
 * leaves undefined (POSIX guarantees the representation). */
static void *next_symbol(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (p == NULL)
        abort();
    return p;
}

/* Appends "what\n" to ENC_FAULT_COUNT's file, when set: how many calls a
 * run makes, for a sweep over each of them. */
static void count(const char *what)
{
    const char *file = getenv("ENC_FAULT_COUNT");
    if (file == NULL)
        return;
    FILE *f = fopen(file, "a");
    if (f != NULL) {
        fprintf(f, "%s\n", what);
        fclose(f);
    }
}

static int regular_fd(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

int fsync(int fd)
{
    static int (*real)(int);
    static long n;
    if (real == NULL) {
        void *p = next_symbol("fsync");
        memcpy(&real, &p, sizeof p);
    }
    if (regular_fd(fd)) {
        const char *at = getenv("ENC_FAULT_FSYNC_EIO_AT"), *kill_at = getenv("ENC_FAULT_KILL_AT_FSYNC");
        n++;
        count("fsync");
        if (kill_at && n == atol(kill_at))
            raise(SIGKILL);
        if (getenv("ENC_FAULT_FSYNC_EIO") || (at && n == atol(at))) {
            errno = EIO;
            return -1;
        }
    }
    return real(fd);
}

ssize_t write(int fd, const void *buf, size_t len)
{
    static ssize_t (*real)(int, const void *, size_t);
    static long n;
    if (real == NULL) {
        void *p = next_symbol("write");
        memcpy(&real, &p, sizeof p);
    }
    const char *at = getenv("ENC_FAULT_WRITE_AT");
    if (getenv("ENC_FAULT_COUNT") == NULL && at == NULL)
        return real(fd, buf, len);
    if (regular_fd(fd)) {
        n++;
        count("write");
        if (at && n == atol(at)) {
            const char *e = getenv("ENC_FAULT_WRITE_ERRNO");
            errno = e && strcmp(e, "EIO") == 0 ? EIO : ENOSPC;
            return -1;
        }
    }
    return real(fd, buf, len);
}

int rename(const char *from, const char *to)
{
    static int (*real)(const char *, const char *);
    static long calls;
    if (real == NULL) {
        void *p = next_symbol("rename");
        memcpy(&real, &p, sizeof p);
    }
    const char *kill_at = getenv("ENC_FAULT_KILL_AT_RENAME");
    count("rename");
    if (kill_at && ++calls == atol(kill_at))
        raise(SIGKILL);
    const char *eio = getenv("ENC_FAULT_RENAME_EIO");
    const size_t n = eio ? strlen(eio) : 0, m = strlen(to);
    if (n > 0 && m >= n && strcmp(to + m - n, eio) == 0) {
        errno = EIO;
        return -1;
    }
    return real(from, to);
}

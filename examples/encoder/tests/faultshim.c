/*
 * A fault-injection shim for the encoder's reliability test (LD_PRELOAD),
 * driven by environment variables:
 *
 *   ENC_FAULT_FSYNC_EIO=1          fsync of a regular file fails with EIO
 *   ENC_FAULT_RENAME_EIO=SUFFIX    a rename whose target ends with SUFFIX
 *                                  fails with EIO
 *   ENC_FAULT_KILL_AT_RENAME=N     the N-th rename (1-based) kills the
 *                                  process with SIGKILL before renaming:
 *                                  a crash at a chosen point of a save
 *
 * Only calls the encoder makes itself are seen (stdio's internal writes are
 * not interposable); write errors are injected with `ulimit -f` instead.
 * Not thread-safe (the counter); the encoder renames from one thread.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
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

int fsync(int fd)
{
    static int (*real)(int);
    if (real == NULL) {
        void *p = next_symbol("fsync");
        memcpy(&real, &p, sizeof p);
    }
    struct stat st;
    if (getenv("ENC_FAULT_FSYNC_EIO") && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        errno = EIO;
        return -1;
    }
    return real(fd);
}

int rename(const char *from, const char *to)
{
    static int (*real)(const char *, const char *);
    static long count;
    if (real == NULL) {
        void *p = next_symbol("rename");
        memcpy(&real, &p, sizeof p);
    }
    const char *kill_at = getenv("ENC_FAULT_KILL_AT_RENAME");
    if (kill_at && ++count == atol(kill_at))
        raise(SIGKILL);
    const char *eio = getenv("ENC_FAULT_RENAME_EIO");
    const size_t n = eio ? strlen(eio) : 0, m = strlen(to);
    if (n > 0 && m >= n && strcmp(to + m - n, eio) == 0) {
        errno = EIO;
        return -1;
    }
    return real(from, to);
}

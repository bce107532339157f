/* Allocation wrappers: one place to fail allocations on purpose in tests. */
#include "internal.h"

#include <stdlib.h>

/* Thread-local, so concurrent tests in other threads are unaffected and the
 * library keeps no shared mutable state. */
static _Thread_local long fail_countdown;
static _Thread_local long alloc_count;

static bool should_fail(void)
{
    alloc_count++;
    if (fail_countdown <= 0)
        return false;
    return --fail_countdown == 0;
}

long gd_test_fail_alloc_after(long k)
{
    const long made = alloc_count;
    alloc_count = 0;
    fail_countdown = k > 0 ? k : 0;
    return made;
}

void *gd_malloc(size_t size)
{
    return should_fail() ? NULL : malloc(size ? size : 1);
}

void *gd_calloc(size_t count, size_t size)
{
    return should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *gd_realloc(void *ptr, size_t size)
{
    return should_fail() ? NULL : realloc(ptr, size ? size : 1);
}

void gd_free(void *ptr)
{
    free(ptr);
}

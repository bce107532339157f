/*
 * Run-time choice of the kernel family.
 *
 * The choice is cached in an atomic pointer: every thread that races to fill
 * it computes the same value, so the cache is not observable state.
 */
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const gd_kernels *choose(void)
{
    const char *cap = getenv("GDROPOUT_DISPATCH");
    (void)cap; /* only the scalar family exists so far */
    return &gd_kernels_scalar;
}

static _Atomic(const gd_kernels *) chosen;

const gd_kernels *gd_kernels_get(void)
{
    const gd_kernels *k = atomic_load_explicit(&chosen, memory_order_acquire);
    if (!k) {
        k = choose();
        atomic_store_explicit(&chosen, k, memory_order_release);
    }
    return k;
}

const char *gd_dispatch_name(void)
{
    return gd_kernels_get()->name;
}

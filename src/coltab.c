/*
 * The per-column kernels' shared wide tables (src/kernels.h, gd_coltab).
 *
 * gd_dropout_fwd_cols reads each element's threshold and scale from a
 * table of its columns.  Up to 4096 columns the table (33 KiB) lives in
 * the kernel's stack frame; a table of 16384 columns is 128 KiB (136 with
 * the cyclic repetition's padding), too much for a library to put on a
 * host thread's stack (musl gives threads 128 KiB), and the library
 * allocates nothing outside *_create.  So a few
 * tables live here, in static storage, and a call takes one with a single
 * atomic exchange: one that finds every table taken goes by the strips,
 * which need only a stack table.  Both paths give the same bits, so which
 * one a call takes is not observable but in its time; no call ever waits.
 * A fork while a table is taken leaves it taken in the child, which then
 * uses the others or the strips.
 */
#include "kernels.h"

#include <stdatomic.h>

/* A slot per thread of a typical host that splits a tensor's rows; pages
 * never touched cost no memory. */
enum { SLOTS = 4 };

static gd_coltab tables[SLOTS];
static atomic_bool taken[SLOTS];

gd_coltab *gd_coltab_take(void)
{
    for (size_t i = 0; i < SLOTS; i++)
        if (!atomic_load_explicit(&taken[i], memory_order_relaxed) &&
            !atomic_exchange_explicit(&taken[i], true, memory_order_acquire))
            return &tables[i];
    return NULL;
}

void gd_coltab_give(gd_coltab *tb)
{
    atomic_store_explicit(&taken[tb - tables], false, memory_order_release);
}

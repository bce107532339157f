/*
 * Run-time choice of the kernel family.
 *
 * The best family this CPU and OS can run, capped by GDROPOUT_DISPATCH.  The
 * choice is cached in an atomic pointer: every thread that races to fill it
 * computes the same value, so the cache is not observable state.
 */
#include "kernels.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(GD_HAVE_X86_SIMD)
#include <cpuid.h>

/* XCR0: which register state the OS saves on a context switch.  Read with
 * the raw instruction so this file needs no -mxsave. */
static uint64_t xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

/* Highest level usable here: the instructions (cpuid) and the OS saving
 * YMM (XCR0 bits 1-2) and, for AVX-512, opmask and ZMM state (bits 5-7).
 * The AVX2 family also uses FMA (acc_prod's fused adds); every CPU with
 * AVX2 shipped so far has it, and one without would get the scalar family. */
static int cpu_level(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return GD_LEVEL_SCALAR;
    const bool fma = c >> 12 & 1, osxsave = c >> 27 & 1, avx = c >> 28 & 1;
    if (!fma || !osxsave || !avx || __get_cpuid_max(0, NULL) < 7)
        return GD_LEVEL_SCALAR;
    const uint64_t xcr = xcr0();
    __cpuid_count(7, 0, a, b, c, d);
    const bool avx2 = b >> 5 & 1, avx512f = b >> 16 & 1;
    if (!avx2 || (xcr & 0x6) != 0x6)
        return GD_LEVEL_SCALAR;
    if (!avx512f || (xcr & 0xE6) != 0xE6)
        return GD_LEVEL_AVX2;
    return GD_LEVEL_AVX512;
}
#else
static int cpu_level(void)
{
    return GD_LEVEL_SCALAR;
}
#endif

const gd_kernels *gd_kernels_level(int level)
{
    if (level < GD_LEVEL_SCALAR || level > cpu_level())
        return NULL;
#if defined(GD_HAVE_X86_SIMD)
    if (level == GD_LEVEL_AVX512)
        return &gd_kernels_avx512;
    if (level == GD_LEVEL_AVX2)
        return &gd_kernels_avx2;
#endif
    return &gd_kernels_scalar;
}

/* GDROPOUT_DISPATCH=scalar|avx2|avx512 caps the level; unset or any other
 * value means no cap.  A cap above what the CPU has changes nothing. */
static int level_cap(void)
{
    const char *cap = getenv("GDROPOUT_DISPATCH");
    if (cap && strcmp(cap, "scalar") == 0)
        return GD_LEVEL_SCALAR;
    if (cap && strcmp(cap, "avx2") == 0)
        return GD_LEVEL_AVX2;
    return GD_LEVEL_AVX512;
}

static const gd_kernels *choose(void)
{
    const int cpu = cpu_level(), cap = level_cap();
    return gd_kernels_level(cpu < cap ? cpu : cap);
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

/*
 * Run-time choice of the half-precision level.  The float family's choice
 * (src/dispatch.c: cpuid, xgetbv, GDROPOUT_DISPATCH) decides the vector
 * width; on top of it this file asks cpuid only for what the half ops add:
 * F16C beside AVX2, AVX512_BF16 beside AVX-512F.  Cached like the float
 * choice: every racing thread computes the same value.
 */
#include "half.h"

#include <stdatomic.h>

#if defined(GD_HAVE_X86_SIMD)
#include <cpuid.h>

static bool cpu_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c >> 29 & 1);
}

/* CPUID leaf 7 subleaf 1, EAX bit 5.  Its state is ZMM state, which the
 * AVX-512F level has already checked the OS saves. */
static bool cpu_avx512bf16(void)
{
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7)
        return false;
    __cpuid_count(7, 0, a, b, c, d);
    if (a < 1)
        return false;
    __cpuid_count(7, 1, a, b, c, d);
    return a >> 5 & 1;
}
#endif

const gd_half_kernels *gd_half_level(int level)
{
#if defined(GD_HAVE_X86_SIMD)
    switch (level) {
    case GD_HALF_AVX512BF16:
        return gd_kernels_level(GD_LEVEL_AVX512) && cpu_avx512bf16() ? &gd_half_avx512bf16 : NULL;
    case GD_HALF_AVX512:
        return gd_kernels_level(GD_LEVEL_AVX512) ? &gd_half_avx512 : NULL;
    case GD_HALF_AVX2:
        return gd_kernels_level(GD_LEVEL_AVX2) && cpu_f16c() ? &gd_half_avx2 : NULL;
    default:
        break;
    }
#endif
    return level == GD_HALF_SCALAR ? &gd_half_scalar : NULL;
}

/* The best level whose float family is the chosen one. */
static const gd_half_kernels *choose(void)
{
    const gd_kernels *f32 = gd_kernels_get();
    for (int level = GD_HALF_LEVELS - 1; level > GD_HALF_SCALAR; level--) {
        const gd_half_kernels *h = gd_half_level(level);
        if (h && h->f32 == f32)
            return h;
    }
    return &gd_half_scalar;
}

static _Atomic(const gd_half_kernels *) chosen;

const gd_half_kernels *gd_half_get(void)
{
    const gd_half_kernels *k = atomic_load_explicit(&chosen, memory_order_acquire);
    if (!k) {
        k = choose();
        atomic_store_explicit(&chosen, k, memory_order_release);
    }
    return k;
}

void gd_half_test_force(const gd_half_kernels *k)
{
    atomic_store_explicit(&chosen, k, memory_order_release);
}

/*
 * float -> bf16 with AVX512_BF16's VCVTNEPS2BF16 (this file alone gets
 * -mavx512bf16; src/half_dispatch.c uses it only where cpuid reports it).
 *
 * The instruction rounds to nearest even and quiets NaNs as the reference
 * does, but treats subnormal inputs as zero (its results are flushed, and
 * only subnormal floats round to subnormal bf16).  The contract keeps
 * subnormals, so lanes holding a nonzero subnormal are redone by the
 * reference; such lanes are rare in activations and gradients, and a
 * vector without any costs one compare.
 */
#include "half.h"

#include <immintrin.h>

void gd_half_f32_to_bf16_avx512bf16(uint16_t *dst, const float *src, size_t n);

void gd_half_f32_to_bf16_avx512bf16(uint16_t *dst, const float *src, size_t n)
{
    const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF), one = _mm512_set1_epi32(1);
    const __m512i sub_max = _mm512_set1_epi32(0x7FFFFF);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(src + i);
        _mm256_storeu_si256((__m256i *)(dst + i), (__m256i)_mm512_cvtneps_pbh(v));
        /* |bits| - 1 < 0x7FFFFF exactly for the nonzero subnormals */
        const __m512i a = _mm512_and_si512(_mm512_castps_si512(v), abs_mask);
        unsigned sub = _mm512_cmplt_epu32_mask(_mm512_sub_epi32(a, one), sub_max);
        while (sub) {
            const unsigned lane = (unsigned)__builtin_ctz(sub);
            dst[i + lane] = gd_f32_to_bf16(src[i + lane]);
            sub &= sub - 1;
        }
    }
    for (; i < n; i++)
        dst[i] = gd_f32_to_bf16(src[i]);
}

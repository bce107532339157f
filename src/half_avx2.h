/*
 * bf16 and fp16 lanes of AVX2 + F16C as floats, and floats rounded back:
 * the operations of src/half.h's scalar references on 8 lanes, for the
 * conversions of src/kernels_half_avx2.c (compiled with -mavx2 -mf16c, and
 * run only where cpuid reports F16C: src/half_dispatch.c).  A header so
 * that a one-pass AVX2 family (src/kernels_avx2.c says why there is none)
 * would share them.
 */
#ifndef GDROPOUT_HALF_AVX2_H
#define GDROPOUT_HALF_AVX2_H

#include <immintrin.h>

/* Exact: a bf16 is a float's top half. */
static inline __m256 gd_bf16x8_to_f32(__m128i h)
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* gd_f32_to_bf16 on 8 lanes: to nearest even by adding 0x7FFF plus the
 * kept lsb (bit 16), then truncating; a NaN is truncated with its quiet
 * bit set instead (the sum could carry it into Inf). */
static inline __m128i gd_f32x8_to_bf16(__m256 v)
{
    const __m256i u = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i r = _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7FFF)), lsb);
    const __m256i q = _mm256_or_si256(u, _mm256_set1_epi32(0x400000));
    const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    const __m256i h = _mm256_srli_epi32(_mm256_blendv_epi8(r, q, _mm256_castps_si256(nan)), 16);
    /* every lane is <= 0xFFFF, so the unsigned saturation changes nothing */
    return _mm_packus_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

static inline __m256 gd_f16x8_to_f32(__m128i h)
{
    return _mm256_cvtph_ps(h);
}

static inline __m128i gd_f32x8_to_f16(__m256 v)
{
    return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
}

#endif /* GDROPOUT_HALF_AVX2_H */

/*
 * bf16 and fp16 lanes of AVX-512F as floats, and floats rounded back: the
 * operations of src/half.h's scalar references on 16 lanes, for the
 * conversions of src/kernels_half_avx512.c and the one-pass ops of
 * src/kernels_avx512.c (the two files compiled with -mavx512f; include it
 * nowhere else).
 */
#ifndef GDROPOUT_HALF_AVX512_H
#define GDROPOUT_HALF_AVX512_H

#include <immintrin.h>

/* Exact: a bf16 is a float's top half. */
static inline __m512 gd_bf16x16_to_f32(__m256i h)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* gd_f32_to_bf16 on 16 lanes: to nearest even by adding 0x7FFF, plus one
 * where the kept lsb (bit 16) is set, then truncating; a NaN is truncated
 * with its quiet bit set instead (the sum could carry it into Inf).  Seven
 * operations, where the first form (lsb by shift and AND, NaN by an
 * integer compare and a blend) took ten: in a bf16 forward the rounding is
 * most of what the kernel adds to the generator's arithmetic. */
static inline __m256i gd_f32x16_to_bf16(__m512 v)
{
    const __m512i u = _mm512_castps_si512(v);
    __m512i t = _mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF));
    t = _mm512_mask_add_epi32(t, _mm512_test_epi32_mask(u, _mm512_set1_epi32(0x10000)), t,
                              _mm512_set1_epi32(1));
    t = _mm512_mask_or_epi32(t, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), u,
                             _mm512_set1_epi32(0x400000));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(t, 16));
}

static inline __m512 gd_f16x16_to_f32(__m256i h)
{
    return _mm512_cvtph_ps(h);
}

static inline __m256i gd_f32x16_to_f16(__m512 v)
{
    return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
}

#endif /* GDROPOUT_HALF_AVX512_H */

/*
 * The AVX2 kernel family: 8 lanes.  Only this file is compiled with -mavx2
 * (src/CMakeLists.txt); dispatch.c calls it only on a CPU and OS with AVX2.
 * The ops themselves are kernels_simd_impl.h, shared with the AVX-512 family.
 */
#include "kernels.h"

#include <immintrin.h>

enum { VL = 8, VB = 4, NV = 2, PROD_ROWS = 6 }; /* 16 registers: 12 sums */

typedef __m256 vf;
typedef __m256i vi;
typedef __m256i vk; /* all-ones lanes */

static inline vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm256_storeu_ps(p, v); }
static inline vi vi_load(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
/* VL uint16 from p, zero-extended (the 16-bit rule's draws) */
static inline vi vi_load_u16(const void *p) { return _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)); }
static inline void vi_store(void *p, vi v) { _mm256_storeu_si256((__m256i *)p, v); }

static inline vf vf_set1(float f) { return _mm256_set1_ps(f); }
static inline vi vi_set1(uint32_t u) { return _mm256_set1_epi32((int)u); }
static inline vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
/* a * b + c, rounded once (fmaf); only acc_prod uses it */
static inline vf vf_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf vf_div(vf a, vf b) { return _mm256_div_ps(a, b); }
static inline vf vf_sqrt(vf a) { return _mm256_sqrt_ps(a); }
static inline vi vi_add(vi a, vi b) { return _mm256_add_epi32(a, b); }
static inline vi vi_sub(vi a, vi b) { return _mm256_sub_epi32(a, b); }
static inline vi vi_and(vi a, vi b) { return _mm256_and_si256(a, b); }
static inline vi vi_xor(vi a, vi b) { return _mm256_xor_si256(a, b); }
static inline vi vi_srli(vi a, unsigned n) { return _mm256_srli_epi32(a, n); }
static inline vi vi_slli(vi a, unsigned n) { return _mm256_slli_epi32(a, n); }
static inline vi vi_srai(vi a, unsigned n) { return _mm256_srai_epi32(a, (int)n); }
static inline vk vi_bit(vi a, uint32_t bit)
{
    const vi b = vi_set1(bit);
    return _mm256_cmpeq_epi32(_mm256_and_si256(a, b), b);
}
static inline vf vf_sel(vk k, vf a, vf b) { return _mm256_blendv_ps(b, a, _mm256_castsi256_ps(k)); }
static inline vf vf_of_i32(vi a) { return _mm256_cvtepi32_ps(a); }
/* AVX2 converts to signed only: lanes of 2^31 or more (integers in float)
 * are converted less 2^31, exactly, and get their top bit back. */
static inline vi vi_trunc_u32(vf a)
{
    const __m256 two31 = _mm256_set1_ps(2147483648.0f);
    const __m256 big = _mm256_cmp_ps(a, two31, _CMP_GE_OQ);
    const __m256i i = _mm256_cvttps_epi32(_mm256_sub_ps(a, _mm256_and_ps(big, two31)));
    return _mm256_xor_si256(i, _mm256_and_si256(_mm256_castps_si256(big), _mm256_set1_epi32(INT32_MIN)));
}
static inline vi vf_bits(vf a) { return _mm256_castps_si256(a); }
static inline vf vf_from_bits(vi a) { return _mm256_castsi256_ps(a); }

/* a is all ones or 0 per lane (thr32's a). */
static inline vk keep_of(vi w, vi t, vi a)
{
    return _mm256_and_si256(_mm256_cmpeq_epi32(_mm256_max_epu32(w, t), w), a);
}

/* The same with any nonzero a allowing the lane (the column tables). */
static inline vk keep_of_nz(vi w, vi t, vi a)
{
    const vk zero = _mm256_cmpeq_epi32(a, _mm256_setzero_si256());
    return _mm256_andnot_si256(zero, _mm256_cmpeq_epi32(_mm256_max_epu32(w, t), w));
}

static inline vf vf_keep(vk k, vf v) { return _mm256_and_ps(_mm256_castsi256_ps(k), v); }
static inline uint32_t vk_bits(vk k) { return (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(k)); }

static inline vk vk_from_bits(uint32_t b)
{
    const vi lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)b), lane), lane);
}

/* 64-bit lanes for Philox (kernels_simd_impl.h). */
static inline vi vi_set1_64(uint64_t u) { return _mm256_set1_epi64x((long long)u); }
static inline vi vi_add64(vi a, vi b) { return _mm256_add_epi64(a, b); }
static inline vi vi_srli64(vi a, unsigned n) { return _mm256_srli_epi64(a, (int)n); }
static inline vi vi_slli64(vi a, unsigned n) { return _mm256_slli_epi64(a, (int)n); }
static inline vi vi_mul32(vi a, vi b) { return _mm256_mul_epu32(a, b); }
static inline vi vi_xor3(vi a, vi b, vi c) { return _mm256_xor_si256(_mm256_xor_si256(a, b), c); }
static inline vi vi_blend_odd(vi e, vi o) { return _mm256_blend_epi32(e, o, 0xAA); }
static inline vi vi_unpacklo64(vi a, vi b) { return _mm256_unpacklo_epi64(a, b); }
static inline vi vi_unpackhi64(vi a, vi b) { return _mm256_unpackhi_epi64(a, b); }

/* 64-bit lane 2h computes block h and lane 2h+1 block 2+h, so that the
 * 128-bit half h of unpacklo64 holds block h and of unpackhi64 block 2+h. */
static inline vi ph_lanes(void) { return _mm256_setr_epi64x(0, 2, 1, 3); }

static inline vi vi_max_u32(vi a, vi b) { return _mm256_max_epu32(a, b); }

/* Doubles for the Fisher passes. */
typedef __m256d vd;
static inline vd vd_load(const double *p) { return _mm256_loadu_pd(p); }
static inline void vd_store(double *p, vd v) { _mm256_storeu_pd(p, v); }
static inline vd vd_add(vd a, vd b) { return _mm256_add_pd(a, b); }
/* a * b + c, two roundings (FMA is not part of this level) */
static inline vd vd_mul_add(vd a, vd b, vd c) { return _mm256_add_pd(_mm256_mul_pd(a, b), c); }
static inline vd vd_set1(double d) { return _mm256_set1_pd(d); }
static inline vd vd_sub(vd a, vd b) { return _mm256_sub_pd(a, b); }
static inline vd vd_div(vd a, vd b) { return _mm256_div_pd(a, b); }
static inline vd vd_of_lo(vf v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
static inline vd vd_of_hi(vf v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }
/* lo's lanes then hi's, each rounded to float (to nearest, as a C cast) */
static inline vf vf_of_vd(vd lo, vd hi)
{
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lo)), _mm256_cvtpd_ps(hi), 1);
}

/* The ops, and the table they fill. */
/* No GD_SIMD_HALF here: the one-pass 1.2 ops of the AVX-512 family were
 * built for this family too (F16C conversions, src/half_avx2.h) and
 * measured against the chunks of src/half.c (2026-12-06, 16M elements,
 * interleaved call by call, GDROPOUT_DISPATCH=avx2 on the Zen 5 host):
 * the fused epilogue gained (bf16 0.94x, fp16 0.84x the chunks' time), but
 * the bf16 forward lost (1.11x) and the 16-bit rule more (bf16 1.16x, float
 * 1.10x; 1.4-1.6x with the generator inlined into the loop).  Here the
 * generator's arithmetic, about six times the memory time, is the whole
 * cost, and with 16 registers it runs best in its own loop (the chunks'
 * words op), so the AVX2 half level keeps the chunks. */

#define GD_SIMD_INTERFACE 1
#define GD_SIMD_TABLE gd_kernels_avx2
#define GD_SIMD_NAME "avx2"
#include "kernels_simd_impl.h"

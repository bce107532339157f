/*
 * The AVX-512 kernel family: 16 lanes, predicates in mask registers.  Only
 * this file is compiled with -mavx512f (src/CMakeLists.txt), and it uses
 * AVX-512F instructions only; dispatch.c calls it only on a CPU and OS with
 * AVX-512F and ZMM state enabled.  The ops are kernels_simd_impl.h.
 */
#include "kernels.h"
#include "half_avx512.h"

#include <immintrin.h>

/* NV = 4 Philox sets a batch: with 2 (smaller batches, so that the fused
 * ops' memory traffic comes more often) the generator alone took 5.4 ms
 * for 16M words against 4.4 (2026-12-06), its multiplies waiting on each
 * other's latency. */
enum { VL = 16, VB = 8, NV = 4, PROD_ROWS = 8 }; /* 32 registers: 16 sums */

typedef __m512 vf;
typedef __m512i vi;
typedef __mmask16 vk;

static inline vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm512_storeu_ps(p, v); }
static inline vi vi_load(const void *p) { return _mm512_loadu_si512(p); }
/* VL uint16 from p, zero-extended (the 16-bit rule's draws) */
static inline vi vi_load_u16(const void *p) { return _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)); }
static inline void vi_store(void *p, vi v) { _mm512_storeu_si512(p, v); }

static inline vf vf_set1(float f) { return _mm512_set1_ps(f); }
static inline vi vi_set1(uint32_t u) { return _mm512_set1_epi32((int)u); }
static inline vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
/* a * b + c, rounded once (fmaf); only acc_prod uses it */
static inline vf vf_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline vf vf_div(vf a, vf b) { return _mm512_div_ps(a, b); }
static inline vf vf_sqrt(vf a) { return _mm512_sqrt_ps(a); }
static inline vi vi_add(vi a, vi b) { return _mm512_add_epi32(a, b); }
static inline vi vi_sub(vi a, vi b) { return _mm512_sub_epi32(a, b); }
static inline vi vi_and(vi a, vi b) { return _mm512_and_si512(a, b); }
static inline vi vi_xor(vi a, vi b) { return _mm512_xor_si512(a, b); }
static inline vi vi_srli(vi a, unsigned n) { return _mm512_srli_epi32(a, n); }
static inline vi vi_slli(vi a, unsigned n) { return _mm512_slli_epi32(a, n); }
static inline vi vi_srai(vi a, unsigned n) { return _mm512_srai_epi32(a, n); }
static inline vk vi_bit(vi a, uint32_t bit) { return _mm512_test_epi32_mask(a, vi_set1(bit)); }
static inline vf vf_sel(vk k, vf a, vf b) { return _mm512_mask_blend_ps(k, b, a); }
static inline vf vf_of_i32(vi a) { return _mm512_cvtepi32_ps(a); }
static inline vi vi_trunc_u32(vf a) { return _mm512_cvttps_epu32(a); }
static inline vi vf_bits(vf a) { return _mm512_castps_si512(a); }
static inline vf vf_from_bits(vi a) { return _mm512_castsi512_ps(a); }

static inline vk keep_of(vi w, vi t, vi a)
{
    return _mm512_mask_cmpge_epu32_mask(_mm512_test_epi32_mask(a, a), w, t);
}
static inline vk keep_of_nz(vi w, vi t, vi a) { return keep_of(w, t, a); }

/* An AND with the predicate widened to a vector, not zero-masking: the
 * compiler folds a zero-masked multiply's load into a masked load, which
 * streams from memory at about half speed on the machines measured. */
static inline vf vf_keep(vk k, vf v)
{
    const vi ones = _mm512_maskz_mov_epi32(k, _mm512_set1_epi32(-1));
    return _mm512_castsi512_ps(_mm512_and_si512(ones, _mm512_castps_si512(v)));
}
static inline uint32_t vk_bits(vk k) { return (uint32_t)k; }
static inline vk vk_from_bits(uint32_t b) { return (vk)b; }

/* 64-bit lanes for Philox (kernels_simd_impl.h). */
static inline vi vi_set1_64(uint64_t u) { return _mm512_set1_epi64((long long)u); }
static inline vi vi_add64(vi a, vi b) { return _mm512_add_epi64(a, b); }
static inline vi vi_srli64(vi a, unsigned n) { return _mm512_srli_epi64(a, n); }
static inline vi vi_slli64(vi a, unsigned n) { return _mm512_slli_epi64(a, n); }
static inline vi vi_mul32(vi a, vi b) { return _mm512_mul_epu32(a, b); }
static inline vi vi_xor3(vi a, vi b, vi c) { return _mm512_ternarylogic_epi32(a, b, c, 0x96); }
static inline vi vi_blend_odd(vi e, vi o) { return _mm512_mask_blend_epi32(0xAAAA, e, o); }
static inline vi vi_unpacklo64(vi a, vi b) { return _mm512_unpacklo_epi64(a, b); }
static inline vi vi_unpackhi64(vi a, vi b) { return _mm512_unpackhi_epi64(a, b); }

/* 64-bit lane 2q computes block q and lane 2q+1 block 4+q, so that the
 * 128-bit quarter q of unpacklo64 holds block q and of unpackhi64 block 4+q. */
static inline vi ph_lanes(void) { return _mm512_setr_epi64(0, 4, 1, 5, 2, 6, 3, 7); }

static inline vi vi_max_u32(vi a, vi b) { return _mm512_max_epu32(a, b); }

/* Doubles for the Fisher passes. */
typedef __m512d vd;
static inline vd vd_load(const double *p) { return _mm512_loadu_pd(p); }
static inline void vd_store(double *p, vd v) { _mm512_storeu_pd(p, v); }
static inline vd vd_add(vd a, vd b) { return _mm512_add_pd(a, b); }
/* a * b + c, one rounding (AVX-512F has FMA) */
static inline vd vd_mul_add(vd a, vd b, vd c) { return _mm512_fmadd_pd(a, b, c); }
static inline vd vd_set1(double d) { return _mm512_set1_pd(d); }
static inline vd vd_sub(vd a, vd b) { return _mm512_sub_pd(a, b); }
static inline vd vd_div(vd a, vd b) { return _mm512_div_pd(a, b); }
static inline vd vd_of_lo(vf v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
static inline vd vd_of_hi(vf v)
{
    return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}
/* lo's lanes then hi's, each rounded to float (to nearest, as a C cast) */
static inline vf vf_of_vd(vd lo, vd hi)
{
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo))),
                                               _mm256_castps_pd(_mm512_cvtpd_ps(hi)), 1));
}

/* bf16 and fp16 lanes (dt GD_BF16 or GD_F16) as floats, and floats
 * rounded back to nearest even: the operations of src/half.h's scalar
 * references (src/half_avx512.h, shared with src/kernels_half_avx512.c),
 * for the fused 1.2 ops.
 * AVX-512F has the fp16 conversions (src/kernels_avx2.c says why the AVX2
 * family has no one-pass half ops).  The
 * bf16 rounding stays integer arithmetic on AVX512_BF16 CPUs too.  The
 * instruction (VCVTNEPS2BF16) flushes subnormal inputs to zero, which the
 * contract does not, so lanes holding one must be redone, and that check
 * takes back most of what the instruction saves.  Builds of this family compared
 * in one process against this one (bf16 forward with mask, 32-bit rule,
 * 16M elements, Zen 5, 2026-12-07; time of the build / this one):
 *   the instruction alone, subnormals wrong       0.82-0.88
 *   the rounding dropped, a plain truncation       0.83-0.89 (the bound)
 *   the instruction, check by VFPCLASSPS + branch  0.90-0.96
 *   the instruction, check by two VPTESTMDs        1.10
 *   the NaN step dropped (a bf16 input's NaN has   1.18-1.21 (0.91 under
 *   no low bits to carry), nothing else changed    the 16-bit rule)
 * and, for the load, VPERMW into the high halves for VPMOVZXWD + VPSLLD
 * 1.02.  So even free rounding leaves the bf16 forward at 1.1-1.2x its
 * floor, and the best correct form gains 4-10 % at the price of a second
 * copy of the bf16 ops for AVX512_BF16 CPUs; the last rows show how much
 * code placement alone moves this loop. */
#define GD_SIMD_HALF 1
static inline vf vf_load_h(const uint16_t *p, int dt)
{
    const __m256i h = _mm256_loadu_si256((const __m256i *)p);
    return dt == GD_F16 ? gd_f16x16_to_f32(h) : gd_bf16x16_to_f32(h);
}

static inline vf vf_maskz_mul(vk k, vf a, vf b) { return _mm512_maskz_mul_ps(k, a, b); }

static inline void vf_store_h(uint16_t *p, vf v, int dt)
{
    _mm256_storeu_si256((__m256i *)p, dt == GD_F16 ? gd_f32x16_to_f16(v) : gd_f32x16_to_bf16(v));
}

/* The ops, and the table they fill. */
#define GD_SIMD_INTERFACE 1
#define GD_SIMD_TABLE gd_kernels_avx512
#define GD_SIMD_NAME "avx512"
#include "kernels_simd_impl.h"

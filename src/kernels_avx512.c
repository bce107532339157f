/*
 * The AVX-512 kernel family: 16 lanes, predicates in mask registers.  Only
 * this file is compiled with -mavx512f (src/CMakeLists.txt), and it uses
 * AVX-512F instructions only; dispatch.c calls it only on a CPU and OS with
 * AVX-512F and ZMM state enabled.  The ops are kernels_simd.h.
 */
#include "internal.h"

#include <immintrin.h>

enum { VL = 16, NB = 4 };

typedef __m512 vf;
typedef __m512i vi;
typedef __mmask16 vk;

static inline vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm512_storeu_ps(p, v); }
static inline vi vi_load(const void *p) { return _mm512_loadu_si512(p); }
static inline vf vf_set1(float f) { return _mm512_set1_ps(f); }
static inline vi vi_set1(uint32_t u) { return _mm512_set1_epi32((int)u); }
static inline vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm512_div_ps(a, b); }
static inline vf vf_sqrt(vf a) { return _mm512_sqrt_ps(a); }
static inline vi vi_add(vi a, vi b) { return _mm512_add_epi32(a, b); }
static inline vi vi_sub(vi a, vi b) { return _mm512_sub_epi32(a, b); }
static inline vi vi_and(vi a, vi b) { return _mm512_and_si512(a, b); }
static inline vi vi_or(vi a, vi b) { return _mm512_or_si512(a, b); }
static inline vi vi_xor(vi a, vi b) { return _mm512_xor_si512(a, b); }
static inline vi vi_srli(vi a, unsigned n) { return _mm512_srli_epi32(a, n); }
static inline vi vi_slli(vi a, unsigned n) { return _mm512_slli_epi32(a, n); }
static inline vk vi_gt(vi a, vi b) { return _mm512_cmpgt_epi32_mask(a, b); }
static inline vk vi_ltu(vi a, vi b) { return _mm512_cmplt_epu32_mask(a, b); }
static inline vi vi_sel(vk k, vi a, vi b) { return _mm512_mask_blend_epi32(k, b, a); }
static inline vf vf_sel(vk k, vf a, vf b) { return _mm512_mask_blend_ps(k, b, a); }
static inline vf vf_of_i32(vi a) { return _mm512_cvtepi32_ps(a); }
static inline vi vf_bits(vf a) { return _mm512_castps_si512(a); }
static inline vf vf_from_bits(vi a) { return _mm512_castsi512_ps(a); }

static inline vk keep_of(vi w, vi t, vi a)
{
    return _mm512_mask_cmpge_epu32_mask(_mm512_test_epi32_mask(a, a), w, t);
}

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

/* hi and lo halves of a * m per lane: vpmuludq on the even lanes and on the
 * odd lanes moved down, then one masked in-lane shuffle per half. */
static inline void mulhilo(vi a, uint32_t m, vi *hi, vi *lo)
{
    const vi mv = _mm512_set1_epi32((int)m);
    const vi pe = _mm512_mul_epu32(a, mv);
    const vi po = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), mv);
    *hi = _mm512_mask_shuffle_epi32(po, 0x5555, pe, _MM_PERM_DDBB);
    *lo = _mm512_mask_shuffle_epi32(pe, 0xAAAA, po, _MM_PERM_CCAA);
}

/* Lane 4q + m computes block 4m + q, so the 4x16 transpose below stays
 * inside the 128-bit quarters. */
static inline vi lane_blocks(void)
{
    return _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
}

static inline void store_blocks(void *out, vi c0, vi c1, vi c2, vi c3)
{
    const vi a = _mm512_unpacklo_epi32(c0, c1), b = _mm512_unpacklo_epi32(c2, c3);
    const vi c = _mm512_unpackhi_epi32(c0, c1), d = _mm512_unpackhi_epi32(c2, c3);
    __m512i *o = (__m512i *)out;
    _mm512_storeu_si512(o + 0, _mm512_unpacklo_epi64(a, b));
    _mm512_storeu_si512(o + 1, _mm512_unpackhi_epi64(a, b));
    _mm512_storeu_si512(o + 2, _mm512_unpacklo_epi64(c, d));
    _mm512_storeu_si512(o + 3, _mm512_unpackhi_epi64(c, d));
}

/* The ops, and the table they fill. */
#define GD_SIMD_TABLE gd_kernels_avx512
#define GD_SIMD_NAME "avx512"
#include "kernels_simd.h"

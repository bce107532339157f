/*
 * The AVX2 kernel family: 8 lanes.  Only this file is compiled with -mavx2
 * (src/CMakeLists.txt); dispatch.c calls it only on a CPU and OS with AVX2.
 * The ops themselves are kernels_simd.h, shared with the AVX-512 family.
 */
#include "internal.h"

#include <immintrin.h>

enum { VL = 8, NB = 2 };

typedef __m256 vf;
typedef __m256i vi;
typedef __m256i vk; /* all-ones lanes */

static inline vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm256_storeu_ps(p, v); }
static inline vi vi_load(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
static inline vf vf_set1(float f) { return _mm256_set1_ps(f); }
static inline vi vi_set1(uint32_t u) { return _mm256_set1_epi32((int)u); }
static inline vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm256_div_ps(a, b); }
static inline vf vf_sqrt(vf a) { return _mm256_sqrt_ps(a); }
static inline vi vi_add(vi a, vi b) { return _mm256_add_epi32(a, b); }
static inline vi vi_sub(vi a, vi b) { return _mm256_sub_epi32(a, b); }
static inline vi vi_and(vi a, vi b) { return _mm256_and_si256(a, b); }
static inline vi vi_or(vi a, vi b) { return _mm256_or_si256(a, b); }
static inline vi vi_xor(vi a, vi b) { return _mm256_xor_si256(a, b); }
static inline vi vi_srli(vi a, unsigned n) { return _mm256_srli_epi32(a, n); }
static inline vi vi_slli(vi a, unsigned n) { return _mm256_slli_epi32(a, n); }
static inline vk vi_gt(vi a, vi b) { return _mm256_cmpgt_epi32(a, b); }
static inline vk vi_ltu(vi a, vi b)
{
    const vi bias = _mm256_set1_epi32(INT32_MIN);
    return _mm256_cmpgt_epi32(_mm256_xor_si256(b, bias), _mm256_xor_si256(a, bias));
}
static inline vi vi_sel(vk k, vi a, vi b) { return _mm256_blendv_epi8(b, a, k); }
static inline vf vf_sel(vk k, vf a, vf b) { return _mm256_blendv_ps(b, a, _mm256_castsi256_ps(k)); }
static inline vf vf_of_i32(vi a) { return _mm256_cvtepi32_ps(a); }
static inline vi vf_bits(vf a) { return _mm256_castps_si256(a); }
static inline vf vf_from_bits(vi a) { return _mm256_castsi256_ps(a); }

static inline vk keep_of(vi w, vi t, vi a)
{
    return _mm256_and_si256(_mm256_cmpeq_epi32(_mm256_max_epu32(w, t), w), a);
}

static inline vf vf_keep(vk k, vf v) { return _mm256_and_ps(_mm256_castsi256_ps(k), v); }
static inline uint32_t vk_bits(vk k) { return (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(k)); }

static inline vk vk_from_bits(uint32_t b)
{
    const vi lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)b), lane), lane);
}

/* hi and lo halves of a * m per lane: even lanes directly, odd lanes
 * shifted down first (vpmuludq multiplies the even lanes only). */
static inline void mulhilo(vi a, uint32_t m, vi *hi, vi *lo)
{
    const vi mv = _mm256_set1_epi32((int)m);
    const vi pe = _mm256_mul_epu32(a, mv);
    const vi po = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), mv);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
    *lo = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
}

/* Lane 4h + m computes block 2m + h, so the 4x8 transpose below never
 * crosses the 128-bit halves. */
static inline vi lane_blocks(void) { return _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7); }

static inline void store_blocks(void *out, vi c0, vi c1, vi c2, vi c3)
{
    const vi a = _mm256_unpacklo_epi32(c0, c1), b = _mm256_unpacklo_epi32(c2, c3);
    const vi c = _mm256_unpackhi_epi32(c0, c1), d = _mm256_unpackhi_epi32(c2, c3);
    __m256i *o = (__m256i *)out;
    _mm256_storeu_si256(o + 0, _mm256_unpacklo_epi64(a, b));
    _mm256_storeu_si256(o + 1, _mm256_unpackhi_epi64(a, b));
    _mm256_storeu_si256(o + 2, _mm256_unpacklo_epi64(c, d));
    _mm256_storeu_si256(o + 3, _mm256_unpackhi_epi64(c, d));
}

/* The ops, and the table they fill. */
#define GD_SIMD_TABLE gd_kernels_avx2
#define GD_SIMD_NAME "avx2"
#include "kernels_simd.h"

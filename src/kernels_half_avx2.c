/*
 * The AVX2 + F16C half-precision ops (8 lanes).  Only this file is compiled
 * with -mavx2 -mf16c (src/CMakeLists.txt); src/half_dispatch.c uses it
 * only where cpuid reports both.  Each op matches its scalar reference in
 * src/kernels_half_scalar.c bit for bit; tails use the reference itself.
 */
#include "half.h"
#include "half_avx2.h"

static void bf16_to_f32_avx2(float *dst, const uint16_t *src, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, gd_bf16x8_to_f32(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++)
        dst[i] = gd_bf16_to_f32(src[i]);
}

static void f32_to_bf16_avx2(uint16_t *dst, const float *src, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), gd_f32x8_to_bf16(_mm256_loadu_ps(src + i)));
    for (; i < n; i++)
        dst[i] = gd_f32_to_bf16(src[i]);
}

static void f16_to_f32_avx2(float *dst, const uint16_t *src, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, gd_f16x8_to_f32(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++)
        dst[i] = gd_f16_to_f32(src[i]);
}

static void f32_to_f16_avx2(uint16_t *dst, const float *src, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), gd_f32x8_to_f16(_mm256_loadu_ps(src + i)));
    for (; i < n; i++)
        dst[i] = gd_f32_to_f16(src[i]);
}

/* The draws are the words' 16-bit halves in memory order (x86 is little
 * endian): draw j is the uint16 at byte 2 * (h + j). */
static void mask16_avx2(uint8_t *mask, const uint32_t *w, unsigned h, size_t n, uint32_t k)
{
    const unsigned char *d = (const unsigned char *)w + 2 * h;
    const __m256i kv = _mm256_set1_epi32((int)k); /* k <= 2^16: signed compare is exact */
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(d + 2 * j)));
        const unsigned drop =
            (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(kv, v)));
        mask[j / 8] = (uint8_t)~drop;
    }
    if (j < n) {
        unsigned byte = 0;
        for (size_t i = j; i < n; i++)
            byte |= (unsigned)(gd_draw16(w, h + i) >= k) << (i & 7);
        mask[j / 8] = (uint8_t)byte;
    }
}

static void fwd16_avx2(float *y, const float *x, uint8_t *mask, const uint32_t *w, unsigned h,
                       size_t n, uint32_t k, float s)
{
    const unsigned char *d = (const unsigned char *)w + 2 * h;
    const __m256i kv = _mm256_set1_epi32((int)k); /* k <= 2^16: signed compare is exact */
    const __m256 sv = _mm256_set1_ps(s);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(d + 2 * j)));
        const __m256i drop = _mm256_cmpgt_epi32(kv, v);
        const __m256 p = _mm256_mul_ps(_mm256_loadu_ps(x + j), sv);
        _mm256_storeu_ps(y + j, _mm256_andnot_ps(_mm256_castsi256_ps(drop), p));
        if (mask)
            mask[j / 8] = (uint8_t)~(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(drop));
    }
    if (j < n) {
        unsigned byte = 0;
        for (size_t i = j; i < n; i++) {
            const bool keep = gd_draw16(w, h + i) >= k;
            y[i] = keep ? x[i] * s : 0.0f;
            byte |= (unsigned)keep << (i & 7);
        }
        if (mask)
            mask[j / 8] = (uint8_t)byte;
    }
}

/* d >= t unsigned, as max(d, t) == d. */
static void keep_bits_avx2(uint8_t *mask, const uint32_t *d, const uint32_t *t, const float *sc,
                           size_t n)
{
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256i dv = _mm256_loadu_si256((const __m256i *)(d + j));
        const __m256i tv = _mm256_loadu_si256((const __m256i *)(t + j));
        const __m256i ge = _mm256_cmpeq_epi32(_mm256_max_epu32(dv, tv), dv);
        const __m256i zero = _mm256_cmpeq_epi32(
            _mm256_loadu_si256((const __m256i *)(sc + j)), _mm256_setzero_si256());
        const __m256i keep = _mm256_andnot_si256(zero, ge); /* sc is never -0.0f */
        mask[j / 8] = (uint8_t)_mm256_movemask_ps(_mm256_castsi256_ps(keep));
    }
    if (j < n) {
        unsigned byte = 0;
        for (size_t i = j; i < n; i++)
            byte |= (unsigned)(d[i] >= t[i] && sc[i] != 0.0f) << (i & 7);
        mask[j / 8] = (uint8_t)byte;
    }
}

static void scale_bits_avx2(float *out, const float *in, const uint8_t *mask, const float *sc,
                            size_t n)
{
    const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256i b = _mm256_and_si256(_mm256_set1_epi32(mask[j / 8]), lane_bit);
        const __m256i keep = _mm256_cmpeq_epi32(b, lane_bit);
        const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(in + j), _mm256_loadu_ps(sc + j));
        _mm256_storeu_ps(out + j, _mm256_and_ps(_mm256_castsi256_ps(keep), v));
    }
    for (; j < n; j++)
        out[j] = mask[j >> 3] >> (j & 7) & 1u ? in[j] * sc[j] : 0.0f;
}

const gd_half_kernels gd_half_avx2 = {
    .name = "avx2",
    .f32 = &gd_kernels_avx2,
    .bf16_to_f32 = bf16_to_f32_avx2,
    .f32_to_bf16 = f32_to_bf16_avx2,
    .f16_to_f32 = f16_to_f32_avx2,
    .f32_to_f16 = f32_to_f16_avx2,
    .mask16 = mask16_avx2,
    .fwd16 = fwd16_avx2,
    .keep_bits = keep_bits_avx2,
    .scale_bits = scale_bits_avx2,
};

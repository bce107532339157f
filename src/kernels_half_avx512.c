/*
 * The AVX-512 half-precision ops (16 lanes), AVX-512F instructions only
 * (this file alone gets -mavx512f), and the AVX512_BF16 level, which is
 * this one with the float -> bf16 rounding of
 * src/kernels_half_avx512bf16.c.  Each op matches its scalar reference in
 * src/kernels_half_scalar.c bit for bit; tails use the reference itself.
 *
 * No AVX512_FP16 level: the kernels compute in float by contract (fp16
 * arithmetic would round differently), and its conversions are those of
 * AVX-512F's VCVTPH2PS / VCVTPS2PH used here, which every AVX-512 CPU has.
 */
#include "half.h"
#include "half_avx512.h"

static void bf16_to_f32_avx512(float *dst, const uint16_t *src, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm512_storeu_ps(dst + i, gd_bf16x16_to_f32(_mm256_loadu_si256((const __m256i *)(src + i))));
    }
    for (; i < n; i++)
        dst[i] = gd_bf16_to_f32(src[i]);
}

/* gd_f32_to_bf16 on 16 lanes, in integer arithmetic. */
static void f32_to_bf16_avx512(uint16_t *dst, const float *src, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i), gd_f32x16_to_bf16(_mm512_loadu_ps(src + i)));
    for (; i < n; i++)
        dst[i] = gd_f32_to_bf16(src[i]);
}

static void f16_to_f32_avx512(float *dst, const uint16_t *src, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, gd_f16x16_to_f32(_mm256_loadu_si256((const __m256i *)(src + i))));
    for (; i < n; i++)
        dst[i] = gd_f16_to_f32(src[i]);
}

static void f32_to_f16_avx512(uint16_t *dst, const float *src, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i), gd_f32x16_to_f16(_mm512_loadu_ps(src + i)));
    for (; i < n; i++)
        dst[i] = gd_f32_to_f16(src[i]);
}

/* Draw j is the uint16 at byte 2 * (h + j) of the words (little endian). */
static void mask16_avx512(uint8_t *mask, const uint32_t *w, unsigned h, size_t n, uint32_t k)
{
    const unsigned char *d = (const unsigned char *)w + 2 * h;
    const __m512i kv = _mm512_set1_epi32((int)k);
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(d + 2 * j)));
        const unsigned keep = (unsigned)_mm512_cmpge_epu32_mask(v, kv);
        mask[j / 8] = (uint8_t)keep;
        mask[j / 8 + 1] = (uint8_t)(keep >> 8);
    }
    for (; j < n; j += 8) {
        unsigned byte = 0;
        for (size_t i = j; i < n && i < j + 8; i++)
            byte |= (unsigned)(gd_draw16(w, h + i) >= k) << (i & 7);
        mask[j / 8] = (uint8_t)byte;
    }
}

static void fwd16_avx512(float *y, const float *x, uint8_t *mask, const uint32_t *w, unsigned h,
                         size_t n, uint32_t k, float s)
{
    const unsigned char *d = (const unsigned char *)w + 2 * h;
    const __m512i kv = _mm512_set1_epi32((int)k);
    const __m512 sv = _mm512_set1_ps(s);
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(d + 2 * j)));
        const __mmask16 keep = _mm512_cmpge_epu32_mask(v, kv);
        const __m512i ones = _mm512_maskz_mov_epi32(keep, _mm512_set1_epi32(-1));
        const __m512 p = _mm512_mul_ps(_mm512_loadu_ps(x + j), sv);
        _mm512_storeu_ps(y + j, _mm512_castsi512_ps(_mm512_and_si512(ones, _mm512_castps_si512(p))));
        if (mask) {
            mask[j / 8] = (uint8_t)keep;
            mask[j / 8 + 1] = (uint8_t)(keep >> 8);
        }
    }
    for (size_t i = j; i < n; i++)
        y[i] = gd_draw16(w, h + i) >= k ? x[i] * s : 0.0f;
    for (; mask && j < n; j += 8) {
        unsigned byte = 0;
        for (size_t i = j; i < n && i < j + 8; i++)
            byte |= (unsigned)(gd_draw16(w, h + i) >= k) << (i & 7);
        mask[j / 8] = (uint8_t)byte;
    }
}

static void keep_bits_avx512(uint8_t *mask, const uint32_t *d, const uint32_t *t, const float *sc,
                             size_t n)
{
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        const __m512i s = _mm512_loadu_si512(sc + j);
        const __mmask16 nz = _mm512_test_epi32_mask(s, s); /* sc is never -0.0f */
        const unsigned keep = (unsigned)_mm512_mask_cmpge_epu32_mask(
            nz, _mm512_loadu_si512(d + j), _mm512_loadu_si512(t + j));
        mask[j / 8] = (uint8_t)keep;
        mask[j / 8 + 1] = (uint8_t)(keep >> 8);
    }
    for (; j < n; j += 8) {
        unsigned byte = 0;
        for (size_t i = j; i < n && i < j + 8; i++)
            byte |= (unsigned)(d[i] >= t[i] && sc[i] != 0.0f) << (i & 7);
        mask[j / 8] = (uint8_t)byte;
    }
}

/* An AND with the widened predicate rather than a zero-masked multiply,
 * for the reason src/kernels_avx512.c gives (vf_keep). */
static void scale_bits_avx512(float *out, const float *in, const uint8_t *mask, const float *sc,
                              size_t n)
{
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        const __mmask16 k = (__mmask16)(mask[j / 8] | (unsigned)mask[j / 8 + 1] << 8);
        const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(in + j), _mm512_loadu_ps(sc + j));
        const __m512i ones = _mm512_maskz_mov_epi32(k, _mm512_set1_epi32(-1));
        _mm512_storeu_ps(out + j,
                         _mm512_castsi512_ps(_mm512_and_si512(ones, _mm512_castps_si512(v))));
    }
    for (; j < n; j++)
        out[j] = mask[j >> 3] >> (j & 7) & 1u ? in[j] * sc[j] : 0.0f;
}

const gd_half_kernels gd_half_avx512 = {
    .name = "avx512",
    .f32 = &gd_kernels_avx512,
    .bf16_to_f32 = bf16_to_f32_avx512,
    .f32_to_bf16 = f32_to_bf16_avx512,
    .f16_to_f32 = f16_to_f32_avx512,
    .f32_to_f16 = f32_to_f16_avx512,
    .mask16 = mask16_avx512,
    .fwd16 = fwd16_avx512,
    .keep_bits = keep_bits_avx512,
    .scale_bits = scale_bits_avx512,
};

/* src/kernels_half_avx512bf16.c */
void gd_half_f32_to_bf16_avx512bf16(uint16_t *dst, const float *src, size_t n);

const gd_half_kernels gd_half_avx512bf16 = {
    .name = "avx512bf16",
    .f32 = &gd_kernels_avx512,
    .bf16_to_f32 = bf16_to_f32_avx512,
    .f32_to_bf16 = gd_half_f32_to_bf16_avx512bf16,
    .f16_to_f32 = f16_to_f32_avx512,
    .f32_to_f16 = f32_to_f16_avx512,
    .mask16 = mask16_avx512,
    .fwd16 = fwd16_avx512,
    .keep_bits = keep_bits_avx512,
    .scale_bits = scale_bits_avx512,
};

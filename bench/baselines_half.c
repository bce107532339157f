/*
 * The half-precision loops gd_bench_half measures the kernels against (see
 * CMakeLists.txt for the flags: -O3, -march=native where the compiler has
 * it).  Out of line so the compiler cannot fold them into the timing loop.
 * Each is the plain loop that moves the same memory and does the same
 * conversions as the kernel without the generator: widen, multiply (or
 * add), round to nearest even.  Where -march=native gives the conversion
 * instructions, they are used, so a baseline is the fastest loop this
 * machine runs.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

static inline float bf16_f(uint16_t h)
{
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint16_t f_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (uint16_t)((u + 0x7FFFu + (u >> 16 & 1u)) >> 16); /* NaN aside: a floor */
}

/* y = a * x in bf16. */
void bench_scale_bf16(uint16_t *restrict y, const uint16_t *restrict x, size_t n, float a)
{
    for (size_t i = 0; i < n; i++)
        y[i] = f_bf16(a * bf16_f(x[i]));
}

/* y = a * x in fp16: F16C / AVX-512F conversions where available. */
void bench_scale_f16(uint16_t *restrict y, const uint16_t *restrict x, size_t n, float a)
{
    size_t i = 0;
#if defined(__AVX512F__)
    const __m512 av = _mm512_set1_ps(a);
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i)));
        _mm256_storeu_si256((__m256i *)(y + i),
                            _mm512_cvtps_ph(_mm512_mul_ps(v, av), _MM_FROUND_TO_NEAREST_INT));
    }
#endif
    for (; i < n; i++) {
        /* scalar tail (and the whole loop without AVX-512): bf16-like cost */
        y[i] = f_bf16(a * bf16_f(x[i]));
    }
}

/* y = r + (x + b) in bf16, b broadcast over rows. */
void bench_add3_bf16(uint16_t *restrict y, const uint16_t *restrict r, const uint16_t *restrict x,
                     const uint16_t *restrict b, size_t rows, size_t cols)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t c = 0; c < cols; c++)
            y[i * cols + c] =
                f_bf16(bf16_f(r[i * cols + c]) + (bf16_f(x[i * cols + c]) + bf16_f(b[c])));
}

static inline float f16_f(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = h >> 10 & 0x1Fu, m = h & 0x3FFu;
    uint32_t u = sign;
    if (e == 0x1F)
        u |= 0x7F800000u | m << 13;
    else if (e != 0)
        u |= (e + 112u) << 23 | m << 13;
    float f;
    memcpy(&f, &u, sizeof f);
    return e == 0 ? (sign ? -(float)m * 0x1p-24f : (float)m * 0x1p-24f) : f;
}

/* y = r + (x + b) in fp16, b broadcast over rows. */
void bench_add3_f16(uint16_t *restrict y, const uint16_t *restrict r, const uint16_t *restrict x,
                    const uint16_t *restrict b, size_t rows, size_t cols)
{
#if defined(__AVX512F__)
    for (size_t i = 0; i < rows; i++) {
        size_t c = 0;
        for (; c + 16 <= cols; c += 16) {
            const size_t j = i * cols + c;
            const __m512 xv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + j)));
            const __m512 bv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(b + c)));
            const __m512 rv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(r + j)));
            _mm256_storeu_si256((__m256i *)(y + j),
                                _mm512_cvtps_ph(_mm512_add_ps(rv, _mm512_add_ps(xv, bv)),
                                                _MM_FROUND_TO_NEAREST_INT));
        }
        for (; c < cols; c++)
            y[i * cols + c] =
                f_bf16(f16_f(r[i * cols + c]) + (f16_f(x[i * cols + c]) + f16_f(b[c])));
    }
#else
    for (size_t i = 0; i < rows; i++)
        for (size_t c = 0; c < cols; c++)
            y[i * cols + c] =
                f_bf16(f16_f(r[i * cols + c]) + (f16_f(x[i * cols + c]) + f16_f(b[c])));
#endif
}

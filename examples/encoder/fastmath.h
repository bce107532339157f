/*
 * exp and erf in plain float arithmetic that compilers vectorise (no libm
 * calls in the loop, no branches): the elementwise work of a step (GELU,
 * softmax) costs as much as the matrix products on these cores otherwise.
 *
 * enc_exp: Cody-Waite reduction x = r ln 2 + f, |f| <= ln2/2, and Cephes's
 * degree-7 polynomial for e^f (relative error about 2 ulp), times 2^r built
 * in the exponent bits; x is clamped to [-87.3, 88.3] (no subnormals, no
 * Inf).  enc_normal_cdf_pdf: Phi(x) from Abramowitz & Stegun 7.1.26 (absolute
 * error of erf below 1.5e-7) and phi(x) = e^(-x^2/2) / sqrt(2 pi), which the
 * formula needs anyway.
 */
#ifndef ENC_FASTMATH_H
#define ENC_FASTMATH_H

#include <stdint.h>
#include <string.h>

/* Elementwise loops compiled for AVX-512, AVX2 and the baseline, the best
 * picked at load time (an ifunc: GCC's and Clang's target_clones), so the
 * example keeps the portable x86-64 baseline and still runs wide where it
 * can.  Elsewhere the plain function. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__)
#define ENC_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ENC_VECTOR_CLONES
#endif

static inline float enc_exp(float x)
{
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.3f ? 88.3f : x;
    /* r = round(x / ln 2) by the 1.5 * 2^23 trick (exact for |r| < 2^22). */
    float r = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float f = x - r * 0.693359375f;
    f = f - r * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * f + 1.3981999507e-3f;
    p = p * f + 8.3334519073e-3f;
    p = p * f + 4.1665795894e-2f;
    p = p * f + 1.6666665459e-1f;
    p = p * f + 5.0000001201e-1f;
    p = p * (f * f) + f + 1.0f;
    /* A NaN x passes both clamps, and converting its NaN r to int is
     * undefined: 0 there instead; p is NaN already, so the result stays NaN
     * for the callers' finiteness checks. */
    uint32_t bits = (uint32_t)((int32_t)(r == r ? r : 0.0f) + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* Phi(x) (standard normal CDF) into *cdf and phi(x) (density) into *pdf. */
static inline void enc_normal_cdf_pdf(float x, float *cdf, float *pdf)
{
    const float u = (x < 0.0f ? -x : x) * 0.70710678118654752f; /* |x| / sqrt 2 */
    const float e = enc_exp(-u * u);                              /* e^(-x^2/2) */
    const float t = 1.0f / (1.0f + 0.3275911f * u);
    float poly = 1.061405429f;
    poly = poly * t - 1.453152027f;
    poly = poly * t + 1.421413741f;
    poly = poly * t - 0.284496736f;
    poly = poly * t + 0.254829592f;
    const float erf_abs = 1.0f - poly * t * e;
    const float erf = x < 0.0f ? -erf_abs : erf_abs;
    *cdf = 0.5f + 0.5f * erf;
    *pdf = 0.39894228040143268f * e;
}

#endif /* ENC_FASTMATH_H */

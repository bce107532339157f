/*
 * The normal transform: Box-Muller with fixed float polynomials.
 *
 * libm's logf/sinf/cosf differ between C libraries and from any vector
 * version, so Gaussian dropout would not be reproducible across builds or
 * between the scalar and SIMD paths.  Instead ln, sin and cos are short
 * series evaluated in float with every operation rounded as written (the
 * build passes -ffp-contract=off), which any implementation can replay.
 * Accuracy is about 1e-7 relative, far below what dropout noise needs.
 */
#include "internal.h"

#include <string.h>

static inline uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ln(u) for u = m * 2^-24, m in [1, 2^24] (so u is a normal float in (0,1]).
 * u = 2^e * f with f in [sqrt(1/2), sqrt(2)); ln f = 2 atanh(t),
 * t = (f - 1) / (f + 1), |t| <= 0.1716, by its series to t^11 (truncation
 * below 1e-11). */
static inline float ln_unit(float u)
{
    const uint32_t bits = f2u(u);
    int32_t e = (int32_t)(bits >> 23) - 127;
    float f = u2f((bits & 0x007FFFFFu) | 0x3F800000u); /* [1, 2) */
    if (f2u(f) > 0x3FB504F3u) {                          /* f > sqrt(2) */
        f = f * 0.5f;
        e = e + 1;
    }
    const float t = (f - 1.0f) / (f + 1.0f);
    const float t2 = t * t;
    float q = t2 * (1.0f / 11.0f) + (1.0f / 9.0f);
    q = q * t2 + (1.0f / 7.0f);
    q = q * t2 + (1.0f / 5.0f);
    q = q * t2 + (1.0f / 3.0f);
    q = q * t2;
    float r = t * q;
    r = t + r;
    r = r + r;
    return (float)e * 0x1.62e430p-1f + r;
}

/* sin and cos of x in [-pi/4, pi/4] by Taylor series to x^9 and x^10
 * (truncation below 2e-9). */
static inline float sin_small(float x)
{
    const float x2 = x * x;
    float q = x2 * (1.0f / 362880.0f) - (1.0f / 5040.0f);
    q = q * x2 + (1.0f / 120.0f);
    q = q * x2 - (1.0f / 6.0f);
    q = q * x2;
    return x + x * q;
}

static inline float cos_small(float x)
{
    const float x2 = x * x;
    float q = x2 * (-1.0f / 3628800.0f) + (1.0f / 40320.0f);
    q = q * x2 - (1.0f / 720.0f);
    q = q * x2 + (1.0f / 24.0f);
    q = q * x2 - 0.5f;
    return 1.0f + x2 * q;
}

void gd_normal_pair(uint32_t a, uint32_t b, float z[2])
{
    const float u = (float)((a >> 8) + 1u) * 0x1p-24f;
    const int32_t k = (int32_t)(b >> 8);
    const int32_t q = (k + (1 << 21)) >> 22;  /* nearest quarter turn, 0..4 */
    const int32_t r = k - (q << 22);           /* [-2^21, 2^21) */
    const float theta = (float)r * 0x1.921fb6p-22f;
    const float rad = sqrtf(-2.0f * ln_unit(u));
    const float sn = sin_small(theta), cs = cos_small(theta);
    float c, s; /* cos and sin of theta + q * pi/2 */
    switch (q & 3) {
    case 0: c = cs; s = sn; break;
    case 1: c = -sn; s = cs; break;
    case 2: c = -cs; s = -sn; break;
    default: c = sn; s = -cs; break;
    }
    z[0] = rad * c;
    z[1] = rad * s;
}

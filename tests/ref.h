/*
 * Independent references for the tests: the contract's formulas written out
 * as plain loops over gd_philox4x32_10, never through the kernels under test.
 */
#ifndef GD_TEST_REF_H
#define GD_TEST_REF_H

#include <gdropout/gdropout.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The stream word of absolute element index i, straight from the contract. */
static inline uint32_t ref_word(uint64_t seed, uint64_t stream, uint64_t i)
{
    const uint32_t ctr[4] = {(uint32_t)(i / 4), (uint32_t)((i / 4) >> 32), (uint32_t)stream,
                             (uint32_t)(stream >> 32)};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t out[4];
    if (gd_philox4x32_10(ctr, key, out) != GD_OK)
        abort();
    return out[i % 4];
}

static inline int ref_dropped(uint32_t r, float p)
{
    const uint64_t t = p >= 1 ? (UINT64_C(1) << 32) : (uint64_t)floor((double)p * 4294967296.0);
    return (uint64_t)r < t;
}

static inline float ref_scale(float p)
{
    return (float)(1.0 / (1.0 - (double)p));
}

static inline int ref_bit(const uint8_t *mask, size_t j)
{
    return (mask[j / 8] >> (j % 8)) & 1;
}

static inline uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* A deterministic fill that is not the generator under test (xorshift). */
static inline void fill_data(float *x, size_t n, uint32_t seed)
{
    uint32_t s = seed | 1u;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        x[i] = (float)((int32_t)s) * 0x1p-28f; /* about [-8, 8) */
    }
}

static inline float *alloc_f(size_t n)
{
    float *p = malloc(n * sizeof *p + 16);
    if (!p)
        abort();
    return p;
}

#endif

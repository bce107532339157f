/*
 * The scalar half-precision ops: the reference conversions of src/half.h
 * and the 16-bit keep test, element by element.  Every other level must
 * match them bit for bit (tests/test_half.c).
 */
#include "half.h"

static void bf16_to_f32_scalar(float *dst, const uint16_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = gd_bf16_to_f32(src[i]);
}

static void f32_to_bf16_scalar(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = gd_f32_to_bf16(src[i]);
}

static void f16_to_f32_scalar(float *dst, const uint16_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = gd_f16_to_f32(src[i]);
}

static void f32_to_f16_scalar(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = gd_f32_to_f16(src[i]);
}

static void mask16_scalar(uint8_t *mask, const uint32_t *w, unsigned h, size_t n, uint32_t k)
{
    for (size_t b = 0; b * 8 < n; b++) {
        unsigned byte = 0;
        const size_t end = n < b * 8 + 8 ? n : b * 8 + 8;
        for (size_t j = b * 8; j < end; j++)
            byte |= (unsigned)(gd_draw16(w, h + j) >= k) << (j & 7);
        mask[b] = (uint8_t)byte;
    }
}

static void fwd16_scalar(float *y, const float *x, uint8_t *mask, const uint32_t *w, unsigned h,
                         size_t n, uint32_t k, float s)
{
    for (size_t j = 0; j < n; j++)
        y[j] = gd_draw16(w, h + j) >= k ? x[j] * s : 0.0f;
    if (mask)
        mask16_scalar(mask, w, h, n, k);
}

static void keep_bits_scalar(uint8_t *mask, const uint32_t *d, const uint32_t *t, const float *sc,
                             size_t n)
{
    for (size_t b = 0; b * 8 < n; b++) {
        unsigned byte = 0;
        const size_t end = n < b * 8 + 8 ? n : b * 8 + 8;
        for (size_t j = b * 8; j < end; j++)
            byte |= (unsigned)(d[j] >= t[j] && sc[j] != 0.0f) << (j & 7);
        mask[b] = (uint8_t)byte;
    }
}

static void scale_bits_scalar(float *out, const float *in, const uint8_t *mask, const float *sc,
                              size_t n)
{
    for (size_t j = 0; j < n; j++)
        out[j] = mask[j >> 3] >> (j & 7) & 1u ? in[j] * sc[j] : 0.0f;
}

const gd_half_kernels gd_half_scalar = {
    .name = "scalar",
    .f32 = &gd_kernels_scalar,
    .bf16_to_f32 = bf16_to_f32_scalar,
    .f32_to_bf16 = f32_to_bf16_scalar,
    .f16_to_f32 = f16_to_f32_scalar,
    .f32_to_f16 = f32_to_f16_scalar,
    .mask16 = mask16_scalar,
    .fwd16 = fwd16_scalar,
    .keep_bits = keep_bits_scalar,
    .scale_bits = scale_bits_scalar,
};

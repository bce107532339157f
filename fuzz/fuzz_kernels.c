/*
 * Fuzz target: the dropout kernels with fuzzed sizes, offsets (up to the
 * 2^64 edge), probabilities and sigmas (NaN, Inf, negative, above 1 and the
 * exact edges), per-column probabilities, element data (NaN and Inf
 * included), in place and out of place.
 *
 * Invariants, each a __builtin_trap on violation:
 *   - the return code is the one the contract implies for the arguments, and
 *     on an error every buffer is byte-identical;
 *   - the forward mask equals gd_mask_bernoulli's, its padding bits are 0,
 *     and every bit equals the drop rule on the word from gd_philox4x32_10;
 *   - y equals the drop rule applied element by element; in place equals
 *     out of place; two calls split at a fuzzed point equal one call;
 *   - backward regenerated from the stream equals backward from the stored
 *     mask (both equal the forward applied to dy);
 *   - the fused epilogue equals its formula, its backward's dbias equals
 *     gd_sum_cols of dx; Gaussian dropout equals x * (1 + sigma * z) with
 *     z from gd_random_normal, |z| < 6, and its backward equals its forward;
 *   - the _ex kernels of 1.2 (bf16 and fp16, both mask rules; float under
 *     the 16-bit rule): the same return codes, outputs untouched on error,
 *     each half kernel equal to the float kernel of its rule on the widened
 *     input, rounded (src/half.h's reference conversions), the same mask,
 *     the 16-bit mask bit for bit against its definition, backward from the
 *     mask equal to backward regenerated, and a bad dtype or rule refused.
 *
 * Input layout (missing bytes read as 0): flags, rows, cols, split, seed[8],
 * stream[8], offset[8], p[4], sigma[4], p_cols[cols], then element data.
 */
#include "test_util.h" /* the tests' references: tu_ref_*, tu_fill_data */
#include "fuzz.h"
#include "half.h" /* the reference conversions of the half kernels */

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SIDE = 48, MAX_N = MAX_SIDE * MAX_SIDE, MAX_MB = MAX_N / 8 + 1 };

typedef struct params {
    size_t rows, cols, n, split;
    bool in_place, use_bias, use_res;
    gd_stream s;
    float p, sigma;
    float p_cols[MAX_SIDE];
    float x[MAX_N], bias[MAX_SIDE], res[MAX_N];
} params;

static bool same_float(float a, float b)
{
    return fuzz_float_bits(a) == fuzz_float_bits(b) || (isnan(a) && isnan(b));
}

static bool same_floats(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!same_float(a[i], b[i]))
            return false;
    return true;
}

static float pick_prob(uint32_t raw, unsigned mode)
{
    static const float edges[] = {0.0f, 1.0f, -0.0f, 0x1p-149f, 0x1.fffffep-1f, 0x1.000002p0f,
                                  NAN,  INFINITY, -INFINITY, 0.5f};
    switch (mode & 3) {
    case 0:
        return fuzz_bits_float(raw); /* anything, NaN and Inf included */
    case 1:
        return (float)(raw & 0xffff) / 65535.0f; /* valid */
    case 2:
        return edges[raw % (sizeof edges / sizeof edges[0])];
    default:
        return (float)(raw & 0xffff) / 32768.0f - 0.5f; /* around [0, 1] */
    }
}

static float pick_col_prob(uint8_t b)
{
    switch (b) {
    case 251:
        return NAN;
    case 252:
        return -0.0f;
    case 253:
        return 0x1.000002p0f;
    case 254:
        return -1.0f;
    case 255:
        return INFINITY;
    default:
        return (float)b / 250.0f;
    }
}

static uint64_t pick_offset(uint64_t raw, unsigned mode)
{
    switch (mode & 3) {
    case 0:
        return raw & 0xffff;
    case 1:
        return raw;
    case 2:
        return UINT64_MAX - (raw & 0xffff); /* at the end of the index space */
    default:
        return (raw & 0xffffffff) | (UINT64_C(0xffffffff) << 32);
    }
}

static void parse(params *P, const uint8_t *data, size_t size)
{
    fuzz_reader r = {data, size};
    const uint8_t flags = fuzz_u8(&r);
    const uint8_t extra = fuzz_u8(&r);
    P->rows = (flags & 0x80) ? 0 : 1 + fuzz_u8(&r) % MAX_SIDE;
    P->cols = 1 + fuzz_u8(&r) % MAX_SIDE;
    P->n = P->rows * P->cols;
    P->split = fuzz_u8(&r) * (P->n + 1) / 256;
    P->in_place = flags & 1;
    P->use_bias = flags & 2;
    P->use_res = flags & 4;
    P->s.seed = fuzz_u64(&r);
    P->s.stream = fuzz_u64(&r);
    P->s.offset = pick_offset(fuzz_u64(&r), (unsigned)(flags >> 3));
    P->p = pick_prob((uint32_t)fuzz_take(&r, 4), (unsigned)(flags >> 5));
    const uint32_t sig = (uint32_t)fuzz_take(&r, 4);
    P->sigma = (extra & 1) ? fuzz_bits_float(sig) : (float)(sig & 0xffff) / 4096.0f;
    for (size_t c = 0; c < P->cols; c++)
        P->p_cols[c] = pick_col_prob(fuzz_u8(&r));
    /* element data: raw floats while the input lasts, then a fixed fill */
    tu_fill_data(P->x, MAX_N, (uint32_t)P->s.seed);
    for (size_t j = 0; j < P->n && r.left >= 4; j++)
        P->x[j] = fuzz_bits_float((uint32_t)fuzz_take(&r, 4));
    tu_fill_data(P->bias, MAX_SIDE, 7);
    tu_fill_data(P->res, MAX_N, 9);
}

/* The code the contract implies: n == 0 is a no-op; otherwise a domain error
 * beats nothing, an index overflow beats nothing; with both, either. */
static bool code_ok(int rc, size_t n, bool domain_ok, bool range_ok)
{
    if (n == 0)
        return rc == GD_OK;
    if (!domain_ok && !range_ok)
        return rc == GD_EDOMAIN || rc == GD_EOVERFLOW;
    if (!domain_ok)
        return rc == GD_EDOMAIN;
    if (!range_ok)
        return rc == GD_EOVERFLOW;
    return rc == GD_OK;
}

static bool prob_ok(float p)
{
    return p >= 0.0f && p <= 1.0f;
}

static bool range_ok(uint64_t offset, size_t n)
{
    return n == 0 || offset <= UINT64_MAX - (uint64_t)(n - 1);
}

/* Scratch buffers, static: the target runs in one thread. */
static float y[MAX_N], y2[MAX_N], dx[MAX_N], z[MAX_N], keep_x[MAX_N];
static uint8_t m[MAX_MB], m2[MAX_MB], m3[MAX_MB];
static float dbias[MAX_SIDE], dbias2[MAX_SIDE];

static void sentinel(void)
{
    memset(y, 0xA5, sizeof y);
    memset(y2, 0x5A, sizeof y2);
    memset(dx, 0xC3, sizeof dx);
    memset(m, 0xA5, sizeof m);
    memset(m2, 0x5A, sizeof m2);
    memset(m3, 0x3C, sizeof m3);
    memset(dbias, 0xA5, sizeof dbias);
}

static bool all_bytes(const void *p, size_t len, uint8_t v)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < len; i++)
        if (b[i] != v)
            return false;
    return true;
}

/* Mask bits against the drop rule on the contract's words; padding 0. */
static void check_mask(const uint8_t *mask, size_t n, const gd_stream *s, const float *p_of_col,
                       size_t cols, float p)
{
    for (size_t j = 0; j < n; j++) {
        const float pj = p_of_col ? p_of_col[j % cols] : p;
        const int keep = !tu_ref_dropped(tu_ref_word(s->seed, s->stream, s->offset + j), pj);
        FUZZ_CHECK(tu_ref_bit(mask, j) == keep);
    }
    for (size_t j = n; j % 8 != 0; j++)
        FUZZ_CHECK(tu_ref_bit(mask, j) == 0);
}

static void fuzz_bernoulli(const params *P)
{
    const size_t n = P->n, mb = (n + 7) / 8;
    const bool ok = prob_ok(P->p), rok = range_ok(P->s.offset, n);
    sentinel();
    int rc = gd_mask_bernoulli(m, n, P->p, &P->s);
    FUZZ_CHECK(code_ok(rc, n, ok, rok));
    const int rc_mask = rc;
    rc = gd_dropout_fwd(y, P->x, n, P->p, &P->s, m2);
    FUZZ_CHECK(rc == rc_mask);
    if (rc != GD_OK || n == 0) {
        FUZZ_CHECK(all_bytes(y, sizeof y, 0xA5) && all_bytes(m2, sizeof m2, 0x5A));
        FUZZ_CHECK(all_bytes(m, sizeof m, 0xA5));
        return;
    }
    FUZZ_CHECK(memcmp(m, m2, mb) == 0);
    FUZZ_CHECK(all_bytes(m + mb, sizeof m - mb, 0xA5)); /* nothing past ceil(n/8) */
    check_mask(m, n, &P->s, NULL, 1, P->p);
    const float s = tu_ref_scale(P->p);
    for (size_t j = 0; j < n; j++)
        FUZZ_CHECK(same_float(y[j], tu_ref_bit(m, j) ? P->x[j] * s : 0.0f));
    FUZZ_CHECK(all_bytes(y + n, (MAX_N - n) * sizeof *y, 0xA5));

    /* in place equals out of place */
    if (P->in_place) {
        memcpy(y2, P->x, n * sizeof *y2);
        FUZZ_CHECK(gd_dropout_fwd(y2, y2, n, P->p, &P->s, NULL) == GD_OK);
        FUZZ_CHECK(same_floats(y, y2, n));
    }
    /* backward: regenerated == from the stored mask == forward of dy */
    memcpy(dx, P->x, n * sizeof *dx);
    FUZZ_CHECK(gd_dropout_bwd(dx, dx, n, P->p, &P->s, NULL) == GD_OK);
    FUZZ_CHECK(same_floats(dx, y, n));
    FUZZ_CHECK(gd_dropout_bwd(y2, P->x, n, P->p, NULL, m) == GD_OK);
    FUZZ_CHECK(same_floats(y2, y, n));

    /* split at a fuzzed point: two calls equal one */
    const size_t k = P->split;
    gd_stream s2 = P->s;
    memset(m3, 0, sizeof m3);
    FUZZ_CHECK(gd_dropout_fwd(y2, P->x, k, P->p, &P->s, m3) == GD_OK);
    s2.offset += k;
    uint8_t tail[MAX_MB];
    FUZZ_CHECK(gd_dropout_fwd(y2 + k, P->x + k, n - k, P->p, &s2, tail) == GD_OK);
    FUZZ_CHECK(same_floats(y2, y, n));
    for (size_t j = 0; j < n; j++)
        FUZZ_CHECK(tu_ref_bit(j < k ? m3 : tail, j < k ? j : j - k) == tu_ref_bit(m, j));
}

static void fuzz_cols(const params *P)
{
    const size_t n = P->n;
    bool ok = true;
    for (size_t c = 0; c < P->cols; c++)
        ok = ok && prob_ok(P->p_cols[c]);
    sentinel();
    const int rc = gd_dropout_fwd_cols(y, P->x, P->rows, P->cols, P->p_cols, &P->s, m);
    FUZZ_CHECK(code_ok(rc, n, ok, range_ok(P->s.offset, n)));
    const int rc_b = gd_dropout_bwd_cols(dx, P->x, P->rows, P->cols, P->p_cols, &P->s, NULL);
    FUZZ_CHECK(rc_b == rc);
    if (rc != GD_OK || n == 0) {
        FUZZ_CHECK(all_bytes(y, sizeof y, 0xA5) && all_bytes(m, sizeof m, 0xA5));
        FUZZ_CHECK(all_bytes(dx, sizeof dx, 0xC3));
        return;
    }
    check_mask(m, n, &P->s, P->p_cols, P->cols, 0.0f);
    for (size_t j = 0; j < n; j++) {
        const float s = tu_ref_scale(P->p_cols[j % P->cols]);
        FUZZ_CHECK(same_float(y[j], tu_ref_bit(m, j) ? P->x[j] * s : 0.0f));
    }
    FUZZ_CHECK(same_floats(dx, y, n));
    FUZZ_CHECK(gd_dropout_bwd_cols(y2, P->x, P->rows, P->cols, P->p_cols, NULL, m) == GD_OK);
    FUZZ_CHECK(same_floats(y2, y, n));
    if (P->in_place) {
        memcpy(y2, P->x, n * sizeof *y2);
        FUZZ_CHECK(gd_dropout_fwd_cols(y2, y2, P->rows, P->cols, P->p_cols, &P->s, NULL) ==
                   GD_OK);
        FUZZ_CHECK(same_floats(y2, y, n));
    }
}

static void fuzz_add(const params *P)
{
    const size_t n = P->n, cols = P->cols;
    const float *bias = P->use_bias ? P->bias : NULL, *res = P->use_res ? P->res : NULL;
    const bool ok = prob_ok(P->p), rok = range_ok(P->s.offset, n);
    sentinel();
    int rc = gd_dropout_add_fwd(y, P->x, bias, res, P->rows, cols, P->p, &P->s, m);
    FUZZ_CHECK(code_ok(rc, n, ok, rok));
    if (rc != GD_OK || n == 0) {
        FUZZ_CHECK(all_bytes(y, sizeof y, 0xA5) && all_bytes(m, sizeof m, 0xA5));
        return;
    }
    check_mask(m, n, &P->s, NULL, 1, P->p);
    const float s = tu_ref_scale(P->p);
    for (size_t j = 0; j < n; j++) {
        const float v = tu_ref_bit(m, j) ? (bias ? P->x[j] + bias[j % cols] : P->x[j]) * s : 0.0f;
        FUZZ_CHECK(same_float(y[j], res ? res[j] + v : v));
    }
    if (P->in_place) {
        /* y may alias x */
        memcpy(y2, P->x, n * sizeof *y2);
        FUZZ_CHECK(gd_dropout_add_fwd(y2, y2, bias, res, P->rows, cols, P->p, &P->s, NULL) ==
                   GD_OK);
        FUZZ_CHECK(same_floats(y2, y, n));
    }
    /* backward: dx = dropout(dy), dbias = column sums of dx */
    rc = gd_dropout_add_bwd(dx, dbias, P->x, P->rows, cols, P->p, &P->s, NULL);
    FUZZ_CHECK(rc == GD_OK);
    FUZZ_CHECK(gd_dropout_fwd(y2, P->x, n, P->p, &P->s, NULL) == GD_OK);
    FUZZ_CHECK(same_floats(dx, y2, n));
    FUZZ_CHECK(gd_sum_cols(dbias2, dx, P->rows, cols) == GD_OK);
    FUZZ_CHECK(same_floats(dbias, dbias2, cols));
    for (size_t c = 0; c < cols; c++) {
        double sum = 0.0;
        for (size_t r = 0; r < P->rows; r++)
            sum += (double)dx[r * cols + c];
        FUZZ_CHECK(same_float(dbias[c], (float)sum));
    }
    FUZZ_CHECK(gd_dropout_add_bwd(y2, NULL, P->x, P->rows, cols, P->p, NULL, m) == GD_OK);
    FUZZ_CHECK(same_floats(y2, dx, n));
}

static void fuzz_gauss(const params *P)
{
    const size_t n = P->n;
    const bool ok = P->sigma >= 0.0f && isfinite(P->sigma);
    const bool rok = range_ok(P->s.offset, n);
    sentinel();
    int rc = gd_gaussian_dropout_fwd(y, P->x, n, P->sigma, &P->s);
    FUZZ_CHECK(code_ok(rc, n, ok, rok));
    if (rc != GD_OK || n == 0) {
        FUZZ_CHECK(all_bytes(y, sizeof y, 0xA5));
        return;
    }
    FUZZ_CHECK(gd_random_normal(z, n, &P->s) == GD_OK);
    for (size_t j = 0; j < n; j++) {
        FUZZ_CHECK(fabsf(z[j]) < 6.0f);
        FUZZ_CHECK(same_float(y[j], P->x[j] * (1.0f + P->sigma * z[j])));
    }
    memcpy(dx, P->x, n * sizeof *dx);
    FUZZ_CHECK(gd_gaussian_dropout_bwd(dx, dx, n, P->sigma, &P->s) == GD_OK);
    FUZZ_CHECK(same_floats(dx, y, n));
}

/* ---- the _ex kernels (1.2) -------------------------------------------------- */

static uint16_t hx[MAX_N], hbias[MAX_SIDE], hres[MAX_N], hy[MAX_N], hy2[MAX_N], hwant[MAX_N];
static float wx[MAX_N], wbias[MAX_SIDE], wres[MAX_N];

static void to_half(int dt, uint16_t *h, const float *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h[i] = dt == GD_BF16 ? gd_f32_to_bf16(f[i]) : gd_f32_to_f16(f[i]);
}

static void to_float(int dt, float *f, const uint16_t *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        f[i] = dt == GD_BF16 ? gd_bf16_to_f32(h[i]) : gd_f16_to_f32(h[i]);
}

static void half_sentinel(void)
{
    memset(hy, 0xA5, sizeof hy);
    memset(hy2, 0x5A, sizeof hy2);
    sentinel();
}

/* The 16-bit rule's mask against its definition. */
static void check_mask16(const uint8_t *mask, size_t n, const gd_stream *s, const float *p_of_col,
                         size_t cols, float p)
{
    for (size_t j = 0; j < n; j++) {
        const uint64_t i = s->offset + j;
        const uint32_t w = tu_ref_word(s->seed, s->stream, i / 2);
        const uint32_t d = (i & 1) ? w >> 16 : w & 0xFFFFu;
        const float pj = p_of_col ? p_of_col[j % cols] : p;
        FUZZ_CHECK(tu_ref_bit(mask, j) == (d >= (uint32_t)floor((double)pj * 65536.0 + 0.5)));
    }
    for (size_t j = n; j % 8 != 0; j++)
        FUZZ_CHECK(tu_ref_bit(mask, j) == 0);
}

static void fuzz_half_plain(const params *P, int dt, int rule)
{
    const size_t n = P->n;
    const bool ok = prob_ok(P->p), rok = range_ok(P->s.offset, n);
    half_sentinel();
    int rc = gd_dropout_fwd_ex(dt, rule, hy, hx, n, P->p, &P->s, m);
    FUZZ_CHECK(code_ok(rc, n, ok, rok));
    if (rc != GD_OK || n == 0) {
        FUZZ_CHECK(all_bytes(hy, sizeof hy, 0xA5) && all_bytes(m, sizeof m, 0xA5));
        return;
    }
    /* the float kernel of the rule on the widened input, rounded */
    FUZZ_CHECK(gd_dropout_fwd_ex(GD_F32, rule, y, wx, n, P->p, &P->s, m2) == GD_OK);
    to_half(dt, hwant, y, n);
    FUZZ_CHECK(memcmp(hy, hwant, n * 2) == 0 && memcmp(m, m2, (n + 7) / 8) == 0);
    if (rule == GD_MASK_16) {
        check_mask16(m, n, &P->s, NULL, 1, P->p);
        const uint32_t k = (uint32_t)floor((double)P->p * 65536.0 + 0.5);
        const float s = k == 65536 ? 0.0f : (float)(1.0 / (1.0 - k / 65536.0));
        for (size_t j = 0; j < n; j++)
            FUZZ_CHECK(same_float(y[j], tu_ref_bit(m, j) ? wx[j] * s : 0.0f));
        FUZZ_CHECK(gd_mask_bernoulli_ex(rule, m3, n, P->p, &P->s) == GD_OK);
        FUZZ_CHECK(memcmp(m3, m, (n + 7) / 8) == 0);
    }
    /* backward: from the mask == regenerated == the forward of dy */
    FUZZ_CHECK(gd_dropout_bwd_ex(dt, rule, hy2, hx, n, P->p, NULL, m) == GD_OK);
    FUZZ_CHECK(memcmp(hy2, hy, n * 2) == 0);
    memcpy(hy2, hx, n * 2);
    FUZZ_CHECK(gd_dropout_bwd_ex(dt, rule, hy2, hy2, n, P->p, &P->s, NULL) == GD_OK);
    FUZZ_CHECK(memcmp(hy2, hy, n * 2) == 0);
}

static void fuzz_half_cols(const params *P, int dt, int rule)
{
    const size_t n = P->n;
    bool ok = true;
    for (size_t c = 0; c < P->cols; c++)
        ok = ok && prob_ok(P->p_cols[c]);
    half_sentinel();
    const int rc = gd_dropout_fwd_cols_ex(dt, rule, hy, hx, P->rows, P->cols, P->p_cols, &P->s, m);
    FUZZ_CHECK(code_ok(rc, n, ok, range_ok(P->s.offset, n)));
    if (rc != GD_OK || n == 0) {
        FUZZ_CHECK(all_bytes(hy, sizeof hy, 0xA5) && all_bytes(m, sizeof m, 0xA5));
        return;
    }
    FUZZ_CHECK(gd_dropout_fwd_cols_ex(GD_F32, rule, y, wx, P->rows, P->cols, P->p_cols, &P->s,
                                      m2) == GD_OK);
    to_half(dt, hwant, y, n);
    FUZZ_CHECK(memcmp(hy, hwant, n * 2) == 0 && memcmp(m, m2, (n + 7) / 8) == 0);
    if (rule == GD_MASK_16)
        check_mask16(m, n, &P->s, P->p_cols, P->cols, 0.0f);
    FUZZ_CHECK(gd_dropout_bwd_cols_ex(dt, rule, hy2, hx, P->rows, P->cols, P->p_cols, NULL, m) ==
               GD_OK);
    FUZZ_CHECK(memcmp(hy2, hy, n * 2) == 0);
    FUZZ_CHECK(gd_dropout_bwd_cols_ex(dt, rule, hy2, hx, P->rows, P->cols, P->p_cols, &P->s,
                                      NULL) == GD_OK);
    FUZZ_CHECK(memcmp(hy2, hy, n * 2) == 0);
}

static void fuzz_half_add(const params *P, int dt, int rule)
{
    const size_t n = P->n, cols = P->cols;
    const uint16_t *b = P->use_bias ? hbias : NULL, *r = P->use_res ? hres : NULL;
    half_sentinel();
    int rc = gd_dropout_add_fwd_ex(dt, rule, hy, hx, b, r, P->rows, cols, P->p, &P->s, m);
    FUZZ_CHECK(code_ok(rc, n, prob_ok(P->p), range_ok(P->s.offset, n)));
    if (rc != GD_OK || n == 0) {
        FUZZ_CHECK(all_bytes(hy, sizeof hy, 0xA5) && all_bytes(m, sizeof m, 0xA5));
        return;
    }
    FUZZ_CHECK(gd_dropout_add_fwd_ex(GD_F32, rule, y, wx, b ? wbias : NULL, r ? wres : NULL,
                                     P->rows, cols, P->p, &P->s, m2) == GD_OK);
    to_half(dt, hwant, y, n);
    FUZZ_CHECK(memcmp(hy, hwant, n * 2) == 0 && memcmp(m, m2, (n + 7) / 8) == 0);
    rc = gd_dropout_add_bwd_ex(dt, rule, hy2, dbias, hx, P->rows, cols, P->p, &P->s, NULL);
    FUZZ_CHECK(rc == GD_OK);
    FUZZ_CHECK(gd_dropout_bwd_ex(dt, rule, hwant, hx, n, P->p, NULL, m) == GD_OK);
    FUZZ_CHECK(memcmp(hy2, hwant, n * 2) == 0);
    for (size_t c = 0; c < cols; c++) {
        double sum = 0.0;
        for (size_t i = 0; i < P->rows; i++)
            sum += (double)(dt == GD_BF16 ? gd_bf16_to_f32(hy2[i * cols + c])
                                          : gd_f16_to_f32(hy2[i * cols + c]));
        FUZZ_CHECK(same_float(dbias[c], (float)sum));
    }
}

static void fuzz_half_gauss(const params *P, int dt)
{
    const size_t n = P->n;
    const bool ok = P->sigma >= 0.0f && isfinite(P->sigma);
    half_sentinel();
    const int rc = gd_gaussian_dropout_fwd_ex(dt, hy, hx, n, P->sigma, &P->s);
    FUZZ_CHECK(code_ok(rc, n, ok, range_ok(P->s.offset, n)));
    if (rc != GD_OK || n == 0) {
        FUZZ_CHECK(all_bytes(hy, sizeof hy, 0xA5));
        return;
    }
    FUZZ_CHECK(gd_gaussian_dropout_fwd(y, wx, n, P->sigma, &P->s) == GD_OK);
    to_half(dt, hwant, y, n);
    FUZZ_CHECK(memcmp(hy, hwant, n * 2) == 0);
    FUZZ_CHECK(gd_gaussian_dropout_bwd_ex(dt, hy2, hx, n, P->sigma, &P->s) == GD_OK);
    FUZZ_CHECK(memcmp(hy2, hy, n * 2) == 0);
}

/* One half type and one rule per input, from bits of its data; a float
 * input under the 16-bit rule is checked through the same references. */
static void fuzz_half(const params *P)
{
    const uint32_t sel = fuzz_float_bits(P->sigma) ^ (uint32_t)P->s.seed;
    const int dt = (sel & 1) ? GD_F16 : GD_BF16, rule = (sel & 2) ? GD_MASK_16 : GD_MASK_32;
    to_half(dt, hx, P->x, P->n);
    to_half(dt, hbias, P->bias, P->cols);
    to_half(dt, hres, P->res, P->n);
    to_float(dt, wx, hx, P->n);
    to_float(dt, wbias, hbias, P->cols);
    to_float(dt, wres, hres, P->n);
    fuzz_half_plain(P, dt, rule);
    fuzz_half_cols(P, dt, rule);
    fuzz_half_add(P, dt, rule);
    fuzz_half_gauss(P, dt);
    /* codes no version defines: refused, outputs untouched, even for n = 0 */
    half_sentinel();
    FUZZ_CHECK(gd_dropout_fwd_ex(3 + (int)(sel >> 8 & 7), rule, hy, hx, P->n, 0.5f, &P->s, m) ==
               GD_EINVAL);
    FUZZ_CHECK(gd_dropout_fwd_ex(dt, 2 + (int)(sel >> 12 & 7), hy, hx, 0, 0.5f, &P->s, m) ==
               GD_EINVAL);
    FUZZ_CHECK(all_bytes(hy, sizeof hy, 0xA5) && all_bytes(m, sizeof m, 0xA5));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static params P;
    parse(&P, data, size);
    memcpy(keep_x, P.x, sizeof keep_x);
    fuzz_bernoulli(&P);
    fuzz_cols(&P);
    fuzz_add(&P);
    fuzz_gauss(&P);
    fuzz_half(&P);
    FUZZ_CHECK(memcmp(keep_x, P.x, sizeof keep_x) == 0); /* inputs are const */
    return 0;
}

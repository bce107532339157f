/*
 * The kernels of <gdropout/mixed.h> (since 1.2), at every half-precision
 * level this CPU has (src/half.h: scalar, AVX2+F16C, AVX-512F,
 * AVX512_BF16), forced one after another:
 *   - the conversions: every level equal to the scalar reference on all
 *     65536 half values and on floats chosen around every rounding
 *     boundary; the reference against known values and, for bf16, against
 *     a nearest-even search in double;
 *   - every bf16 and fp16 kernel equal to the float32 kernel's output on
 *     the converted input, rounded (the same keep bits, the same mask), over
 *     odd lengths, offsets near 2^64, in place, under both rules;
 *   - the 16-bit rule for float against its definition, word by word, and
 *     its rate against k(p) / 65536 by a binomial bound;
 *   - the error contract: codes checked first, outputs untouched.
 *
 * Usage: test_half [LEVEL] (scalar, avx2, avx512, avx512bf16): only that
 * level, skipped (77) when the CPU lacks it.
 */
#include "test_util.h"
#include "half.h"

#include <check.h>
#include <stdio.h>

/* Check records every passing ck_assert (a write to its pipe), so the
 * loops here, millions of comparisons, report only failures. */
#define REQ(cond)                                                                                  \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ck_abort_msg("line %d: %s", __LINE__, #cond);                                          \
    } while (0)
#define REQ_MSG(cond, ...)                                                                         \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ck_abort_msg(__VA_ARGS__);                                                             \
    } while (0)
#define REQ_OK(call)                                                                               \
    do {                                                                                           \
        const int rc_ = (call);                                                                    \
        if (rc_ != GD_OK)                                                                          \
            ck_abort_msg("line %d: %s returned %s", __LINE__, #call, gd_error_name(rc_));          \
    } while (0)

static const gd_half_kernels *levels[GD_HALF_LEVELS];
static size_t n_levels;

static const int dtypes[2] = {GD_BF16, GD_F16};
static const int rules[2] = {GD_MASK_32, GD_MASK_16};
/* 1/3: its scale 1.5 makes x * s a rounding tie of either type for a
 * quarter of the inputs */
static const float probs[] = {0.0f, 1e-6f, 0.1f, 1.0f / 3.0f, 0.5f, 0.999f, 1.0f};
enum { N_PROBS = sizeof probs / sizeof probs[0], MAXN = 8300 };

static const char *dname(int dt)
{
    return dt == GD_BF16 ? "bf16" : dt == GD_F16 ? "f16" : "f32";
}

static float to_f32(int dt, uint16_t h)
{
    return dt == GD_BF16 ? gd_bf16_to_f32(h) : gd_f16_to_f32(h);
}

static uint16_t of_f32(int dt, float f)
{
    return dt == GD_BF16 ? gd_f32_to_bf16(f) : gd_f32_to_f16(f);
}

/* Half bit patterns of every class (random bits: NaN, Inf, subnormal,
 * zero and large values all occur). */
static void fill_half(uint16_t *h, size_t n, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++)
        h[i] = (uint16_t)tu_next(&s);
}

static void widen(int dt, float *f, const uint16_t *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        f[i] = to_f32(dt, h[i]);
}

static void narrow(int dt, uint16_t *h, const float *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h[i] = of_f32(dt, f[i]);
}

static void assert_same16(const uint16_t *a, const uint16_t *b, size_t n, const char *what,
                          const char *lvl, int dt, int rule, size_t len, uint64_t off)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            ck_abort_msg("%s %s %s rule %d: element %zu is 0x%04x, the float kernel's rounded "
                         "0x%04x (n=%zu, offset=%llu)",
                         lvl, what, dname(dt), rule, i, a[i], b[i], len, (unsigned long long)off);
}

/* ---- conversions ---------------------------------------------------------- */

/* Floats around every rounding boundary of both types: every top half with
 * low halves at and beside the round bits, plus random bits. */
static size_t boundary_floats(float *f, size_t cap)
{
    static const uint16_t lows[] = {0x0000, 0x0001, 0x0FFF, 0x1000, 0x1001, 0x2000,
                                    0x2FFF, 0x3000, 0x3001, 0x7FFF, 0x8000, 0x8001,
                                    0xE000, 0xEFFF, 0xF000, 0xF001, 0xFFFF};
    size_t n = 0;
    for (uint32_t hi = 0; hi < 65536 && n < cap; hi++)
        for (size_t l = 0; l < sizeof lows / sizeof lows[0] && n < cap; l++)
            f[n++] = gd_f32_from_bits(hi << 16 | lows[l]);
    uint64_t s = 99;
    while (n < cap)
        f[n++] = gd_f32_from_bits((uint32_t)tu_next(&s));
    return n;
}

START_TEST(conversions_match_scalar)
{
    enum { NF = 65536 * 17 + 200003 };
    float *f = tu_alloc_f(NF), *a = tu_alloc_f(NF), *b = tu_alloc_f(NF);
    uint16_t *ha = malloc(NF * sizeof *ha), *hb = malloc(NF * sizeof *hb);
    uint16_t *all = malloc(65536 * sizeof *all);
    REQ(ha && hb && all);
    const size_t nf = boundary_floats(f, NF);
    for (uint32_t i = 0; i < 65536; i++)
        all[i] = (uint16_t)i;
    for (size_t l = 0; l < n_levels; l++) {
        const gd_half_kernels *k = levels[l];
        /* odd lengths and unaligned starts reach the tails */
        for (size_t start = 0; start < 3; start++) {
            k->f32_to_bf16(ha, f + start, nf - start);
            gd_half_scalar.f32_to_bf16(hb, f + start, nf - start);
            REQ_MSG(memcmp(ha, hb, (nf - start) * 2) == 0, "%s f32->bf16", k->name);
            k->f32_to_f16(ha, f + start, nf - start);
            gd_half_scalar.f32_to_f16(hb, f + start, nf - start);
            for (size_t i = 0; i < nf - start; i++)
                REQ_MSG(ha[i] == hb[i], "%s f32->f16 of 0x%08x: 0x%04x, scalar 0x%04x", k->name,
                        gd_f32_bits(f[start + i]), ha[i], hb[i]);
            k->bf16_to_f32(a, all + start, 65536 - start);
            gd_half_scalar.bf16_to_f32(b, all + start, 65536 - start);
            REQ_MSG(memcmp(a, b, (65536 - start) * 4) == 0, "%s bf16->f32", k->name);
            k->f16_to_f32(a, all + start, 65536 - start);
            gd_half_scalar.f16_to_f32(b, all + start, 65536 - start);
            for (size_t i = 0; i < 65536 - start; i++)
                REQ_MSG(gd_f32_bits(a[i]) == gd_f32_bits(b[i]),
                        "%s f16->f32 of 0x%04zx: 0x%08x, scalar 0x%08x", k->name, i + start,
                        gd_f32_bits(a[i]), gd_f32_bits(b[i]));
        }
    }
    free(f), free(a), free(b), free(ha), free(hb), free(all);
}
END_TEST

/* The nearest bf16 to f by a search in double, ties to the even pattern;
 * NaN as the contract says. */
static uint16_t bf16_by_search(float f)
{
    const uint32_t u = gd_f32_bits(f);
    if (isnan(f))
        return (uint16_t)(u >> 16 | 0x40);
    const uint16_t lo = (uint16_t)(u >> 16), hi = (uint16_t)(lo + 1);
    if ((u & 0xFFFF) == 0)
        return lo;
    const double d = fabs((double)f), dl = fabs((double)gd_bf16_to_f32(lo));
    /* hi past the largest finite value is Inf; its distance is that of
     * 2^128, the next value of the exponent scale */
    const double dh = (hi & 0x7FFF) == 0x7F80 ? 0x1p128 : fabs((double)gd_bf16_to_f32(hi));
    const double el = d - dl, eh = dh - d;
    if (el < eh)
        return lo;
    if (eh < el)
        return hi;
    return (lo & 1) ? hi : lo;
}

START_TEST(conversion_reference)
{
    /* bf16 against the search, on the boundary set */
    enum { NF = 65536 * 17 + 1000 };
    float *f = tu_alloc_f(NF);
    const size_t nf = boundary_floats(f, NF);
    for (size_t i = 0; i < nf; i++)
        REQ_MSG(gd_f32_to_bf16(f[i]) == bf16_by_search(f[i]), "bf16 of 0x%08x: 0x%04x, want 0x%04x",
                gd_f32_bits(f[i]), gd_f32_to_bf16(f[i]), bf16_by_search(f[i]));
    free(f);
    /* every half value widens to its value, computed in double */
    for (uint32_t h = 0; h < 65536; h++) {
        const unsigned e = h >> 10 & 31, m = h & 1023;
        const double mag = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, (int)e - 25);
        const float v = gd_f16_to_f32((uint16_t)h);
        if (e == 31) {
            REQ(m ? isnan(v) : isinf(v));
            continue;
        }
        REQ_MSG((double)v == ((h & 0x8000) ? -mag : mag), "f16 0x%04x", h);
        REQ(!!signbit(v) == !!(h & 0x8000));
        /* and every finite half rounds back to itself */
        REQ(gd_f32_to_f16(v) == h);
        REQ(gd_f32_to_bf16(gd_bf16_to_f32((uint16_t)h)) == h);
    }
    /* known values: ties to even, overflow, gradual underflow */
    ck_assert_uint_eq(gd_f32_to_f16(65504.0f), 0x7BFF);
    ck_assert_uint_eq(gd_f32_to_f16(65519.996f), 0x7BFF);
    ck_assert_uint_eq(gd_f32_to_f16(65520.0f), 0x7C00);
    ck_assert_uint_eq(gd_f32_to_f16(-1e9f), 0xFC00);
    ck_assert_uint_eq(gd_f32_to_f16(1.0f + 0x1p-11f), 0x3C00);     /* tie, to even */
    ck_assert_uint_eq(gd_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3C02); /* tie, to even */
    ck_assert_uint_eq(gd_f32_to_f16(0x1p-24f), 0x0001);
    ck_assert_uint_eq(gd_f32_to_f16(0x1p-25f), 0x0000); /* tie, to even 0 */
    ck_assert_uint_eq(gd_f32_to_f16(0x1.000002p-25f), 0x0001);
    ck_assert_uint_eq(gd_f32_to_f16(0x1.8p-24f), 0x0002);   /* 1.5 ulp: tie to 2 */
    ck_assert_uint_eq(gd_f32_to_f16(0x1.ffcp-15f), 0x0400); /* rounds up to normal */
    ck_assert_uint_eq(gd_f32_to_f16(-0.0f), 0x8000);
    ck_assert_uint_eq(gd_f32_to_f16(gd_f32_from_bits(0x7F800001u)), 0x7E00); /* sNaN: quiet */
    ck_assert_uint_eq(gd_f32_to_f16(gd_f32_from_bits(0xFFC02000u)), 0xFE01);
    ck_assert_uint_eq(gd_f32_to_bf16(1.0f + 0x1p-8f), 0x3F80);
    ck_assert_uint_eq(gd_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3F82);
    ck_assert_uint_eq(gd_f32_to_bf16(3.4028235e38f), 0x7F80);
    ck_assert_uint_eq(gd_f32_to_bf16(gd_f32_from_bits(0x00008000u)), 0x0000); /* tie */
    ck_assert_uint_eq(gd_f32_to_bf16(gd_f32_from_bits(0x00018000u)), 0x0002); /* tie */
    ck_assert_uint_eq(gd_f32_to_bf16(gd_f32_from_bits(0x007FFFFFu)), 0x0080); /* not flushed */
    ck_assert_uint_eq(gd_f32_to_bf16(gd_f32_from_bits(0x7F800001u)), 0x7FC0);
    ck_assert_uint_eq(gd_f32_to_bf16(gd_f32_from_bits(0xFF812345u)), 0xFFC1);
}
END_TEST

/* ---- the 16-bit rule against its definition --------------------------------- */

static uint32_t ref_k16(float p)
{
    return (uint32_t)floor((double)p * 65536.0 + 0.5);
}

static int ref_kept16(const gd_stream *s, uint64_t i, float p)
{
    const uint32_t w = tu_ref_word(s->seed, s->stream, i / 2);
    const uint32_t d = (i & 1) ? w >> 16 : w & 0xFFFF;
    return d >= ref_k16(p);
}

static float ref_scale16(float p)
{
    const uint32_t k = ref_k16(p);
    return k == 65536 ? 0.0f : (float)(1.0 / (1.0 - k / 65536.0));
}

static uint64_t offset_for(size_t k, size_t n)
{
    static const uint64_t fixed[] = {
        0, 1, 2, 3, 5, 7, 8, 13, (UINT64_C(1) << 33) - 3, UINT64_C(0x123456789abcd)};
    const size_t nf = sizeof fixed / sizeof fixed[0];
    if (k < nf)
        return fixed[k];
    return UINT64_MAX - (uint64_t)n + 1 - (uint64_t)(k - nf); /* last index 2^64-1-(k-nf) */
}
enum { N_OFFSETS = 13 };

static const size_t lengths[] = {1,  2,   3,   7,   8,   9,   15,  16,  17,   31,   33,  63,
                                 65, 127, 129, 255, 257, 511, 512, 513, 1023, 1025, 3001};
enum { N_LENGTHS = sizeof lengths / sizeof lengths[0] };

START_TEST(rule16_float_definition)
{
    float *x = tu_alloc_f(MAXN), *y = tu_alloc_f(MAXN);
    uint8_t m1[MAXN / 8 + 1], m2[MAXN / 8 + 1];
    tu_fill_data(x, MAXN, 5);
    for (size_t l = 0; l < n_levels; l++) {
        gd_half_test_force(levels[l]);
        for (size_t li = 0; li < N_LENGTHS; li++)
            for (size_t oi = 0; oi < N_OFFSETS; oi++)
                for (size_t pi = 0; pi < N_PROBS; pi++) {
                    const size_t n = lengths[li];
                    const float p = probs[pi];
                    const gd_stream s = {0xfeedULL + li, 77 + pi, offset_for(oi, n)};
                    REQ_OK(gd_mask_bernoulli_ex(GD_MASK_16, m1, n, p, &s));
                    REQ_OK(gd_dropout_fwd_ex(GD_F32, GD_MASK_16, y, x, n, p, &s, m2));
                    REQ(memcmp(m1, m2, (n + 7) / 8) == 0);
                    for (size_t j = 0; j < n; j++) {
                        const int kept = ref_kept16(&s, s.offset + j, p);
                        REQ_MSG(tu_ref_bit(m1, j) == kept, "%s bit %zu (n=%zu off=%llu p=%g)",
                                levels[l]->name, j, n, (unsigned long long)s.offset, p);
                        const float want = kept ? x[j] * ref_scale16(p) : 0.0f;
                        REQ(tu_f32_bits(y[j]) == tu_f32_bits(want));
                    }
                    for (size_t j = n; j < (n + 7) / 8 * 8; j++)
                        REQ(tu_ref_bit(m1, j) == 0);
                }
    }
    gd_half_test_force(NULL);
    free(x), free(y);
}
END_TEST

/* gd_mask_bernoulli_ex under the 16-bit rule goes 8192 elements a step:
 * calls of several steps, starting at every draw of a Philox block and near
 * 2^64, against the reference bit by bit at every level. */
START_TEST(rule16_mask_steps)
{
    static const size_t ns[] = {8192, 8193, 2 * 8192 + 13};
    enum { NMAX = 2 * 8192 + 13 };
    uint8_t *m = malloc(NMAX / 8 + 2);
    for (size_t l = 0; l < n_levels; l++) {
        gd_half_test_force(levels[l]);
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
            for (uint64_t h = 0; h < 9; h++) {
                const size_t n = ns[ni];
                const uint64_t off = h < 8 ? h + 8 * 1000 : UINT64_MAX - n + 1;
                const gd_stream s = {0xabcULL + h, 5 + ni, off};
                const float p = h % 2 ? 0.3f : 0.07f;
                memset(m, 0xA5, NMAX / 8 + 2);
                REQ_OK(gd_mask_bernoulli_ex(GD_MASK_16, m, n, p, &s));
                for (size_t j = 0; j < n; j++)
                    REQ_MSG(tu_ref_bit(m, j) == ref_kept16(&s, off + j, p),
                            "%s bit %zu (n=%zu off=%llu)", levels[l]->name, j, n,
                            (unsigned long long)off);
                for (size_t j = n; j < (n + 7) / 8 * 8; j++)
                    REQ(tu_ref_bit(m, j) == 0);
                REQ(m[(n + 7) / 8] == 0xA5); /* nothing past the mask */
            }
    }
    gd_half_test_force(NULL);
    free(m);
}
END_TEST

/* The rate is k(p) / 65536, and k(p) is the nearest quantum. */
START_TEST(rule16_rate)
{
    ck_assert_uint_eq(gd_k16(0.0f), 0);
    ck_assert_uint_eq(gd_k16(1.0f), 65536);
    ck_assert_uint_eq(gd_k16(0.1f), 6554);  /* 6553.6 */
    ck_assert_uint_eq(gd_k16(0x1p-17f), 1); /* the tie 0.5 rounds up */
    ck_assert_uint_eq(gd_k16(0x1.fffffep-18f), 0);
    for (size_t pi = 0; pi < N_PROBS; pi++)
        REQ(fabs(gd_k16(probs[pi]) / 65536.0 - probs[pi]) <= 0x1p-17);
    enum { N = 1 << 20 };
    uint8_t *m = malloc(N / 8);
    REQ(m != NULL);
    const gd_stream s = {42, 9, 1};
    REQ_OK(gd_mask_bernoulli_ex(GD_MASK_16, m, N, 0.1f, &s));
    size_t dropped = 0;
    for (size_t j = 0; j < N; j++)
        dropped += !tu_ref_bit(m, j);
    const double q = 6554.0 / 65536.0, sd = sqrt(N * q * (1 - q));
    REQ_MSG(fabs((double)dropped - N * q) < 6 * sd, "dropped %zu of %d", dropped, N);
    free(m);
}
END_TEST

/* ---- every half kernel = the float kernel's output, rounded ------------------- */

/* The float reference under a rule: 1.0's function for GD_MASK_32, the
 * float 16-bit kernel (held to its definition above) for GD_MASK_16. */
static int ref_fwd(int rule, float *y, const float *x, size_t n, float p, const gd_stream *s,
                   uint8_t *m)
{
    return gd_dropout_fwd_ex(GD_F32, rule, y, x, n, p, s, m);
}

START_TEST(fwd_bwd_match_float)
{
    uint16_t *x = malloc(MAXN * 2), *y = malloc(MAXN * 2), *want = malloc(MAXN * 2);
    uint16_t *z = malloc(MAXN * 2);
    float *xf = tu_alloc_f(MAXN), *yf = tu_alloc_f(MAXN);
    uint8_t m[MAXN / 8 + 1], mf[MAXN / 8 + 1];
    REQ(x && y && want && z);
    for (size_t l = 0; l < n_levels; l++) {
        gd_half_test_force(levels[l]);
        const char *lvl = levels[l]->name;
        for (int d = 0; d < 2; d++)
            for (int r = 0; r < 2; r++)
                for (size_t li = 0; li < N_LENGTHS; li++)
                    for (size_t oi = 0; oi < N_OFFSETS; oi += 1 + (li > 12)) {
                        const size_t n = lengths[li];
                        const float p = probs[(li + oi) % N_PROBS];
                        const int dt = dtypes[d], rule = rules[r];
                        const gd_stream s = {1000 + oi, 3 + li, offset_for(oi, n)};
                        fill_half(x, n, li * 31 + oi);
                        widen(dt, xf, x, n);
                        REQ_OK(ref_fwd(rule, yf, xf, n, p, &s, mf));
                        narrow(dt, want, yf, n);
                        REQ_OK(gd_dropout_fwd_ex(dt, rule, y, x, n, p, &s, m));
                        assert_same16(y, want, n, "fwd", lvl, dt, rule, n, s.offset);
                        REQ_MSG(memcmp(m, mf, (n + 7) / 8) == 0, "%s fwd mask", lvl);
                        /* backward: stored mask, and regenerated, both the
                         * float backward rounded (= the forward on dy) */
                        REQ_OK(gd_dropout_bwd_ex(dt, rule, z, x, n, p, NULL, m));
                        assert_same16(z, want, n, "bwd(mask)", lvl, dt, rule, n, s.offset);
                        REQ_OK(gd_dropout_bwd_ex(dt, rule, z, x, n, p, &s, NULL));
                        assert_same16(z, want, n, "bwd(stream)", lvl, dt, rule, n, s.offset);
                        /* in place */
                        memcpy(z, x, n * 2);
                        REQ_OK(gd_dropout_fwd_ex(dt, rule, z, z, n, p, &s, NULL));
                        assert_same16(z, want, n, "fwd in place", lvl, dt, rule, n, s.offset);
                    }
    }
    gd_half_test_force(NULL);
    free(x), free(y), free(want), free(z), free(xf), free(yf);
}
END_TEST

/* The stored-mask backward on a tensor past L2, where the half types take
 * the prefetching loop (src/kernels_simd_impl.h, bwd_mask_run): the float
 * backward rounded, at every level, with a tail past the last batch. */
START_TEST(bwd_mask_large)
{
    enum { NL = (1 << 19) + (1 << 10) + 13 }; /* over 1 MiB of halves */
    uint16_t *x = malloc(NL * 2), *z = malloc(NL * 2), *want = malloc(NL * 2);
    float *xf = tu_alloc_f(NL), *yf = tu_alloc_f(NL);
    uint8_t *m = malloc(NL / 8 + 1);
    REQ(x && z && want && m);
    const gd_stream s = {77, 5, 3};
    REQ_OK(gd_mask_bernoulli(m, NL, 0.3f, &s));
    for (int d = 0; d < 2; d++) {
        const int dt = dtypes[d];
        fill_half(x, NL, 99 + (size_t)d);
        widen(dt, xf, x, NL);
        REQ_OK(gd_dropout_bwd(yf, xf, NL, 0.3f, NULL, m));
        narrow(dt, want, yf, NL);
        for (size_t l = 0; l < n_levels; l++) {
            gd_half_test_force(levels[l]);
            memset(z, 0xA5, NL * 2);
            REQ_OK(gd_dropout_bwd_ex(dt, GD_MASK_32, z, x, NL, 0.3f, NULL, m));
            assert_same16(z, want, NL, "bwd(mask), large", levels[l]->name, dt, GD_MASK_32, NL,
                          0);
        }
    }
    gd_half_test_force(NULL);
    free(x), free(z), free(want), free(xf), free(yf), free(m);
}
END_TEST

/* The per-column forms: float reference by 1.0's gd_dropout_fwd_cols
 * (32-bit rule) or by the definition (16-bit rule). */
static void ref_cols(int rule, float *y, const float *x, size_t rows, size_t cols, const float *pc,
                     const gd_stream *s, uint8_t *m)
{
    if (rule == GD_MASK_32) {
        REQ_OK(gd_dropout_fwd_cols(y, x, rows, cols, pc, s, m));
        return;
    }
    memset(m, 0, (rows * cols + 7) / 8);
    for (size_t j = 0; j < rows * cols; j++) {
        const float p = pc[j % cols];
        const int kept = ref_kept16(s, s->offset + j, p);
        y[j] = kept ? x[j] * ref_scale16(p) : 0.0f;
        m[j / 8] |= (uint8_t)(kept << (j % 8));
    }
}

START_TEST(cols_match_float)
{
    static const size_t shapes[][2] = {{1, 1},   {3, 5},   {7, 9},   {2, 64},
                                       {5, 130}, {4, 600}, {33, 17}, {1, 1100},
                                       {2, 3073} /* the cyclic table, rows off mask bytes */,
                                       {2, 4096} /* the widest cyclic table */,
                                       {2, 4099} /* beyond the column table */,
                                       {2, 4104} /* its blocks, by row segment */, {1, 8200}};
    uint16_t *x = malloc(MAXN * 2), *y = malloc(MAXN * 2), *want = malloc(MAXN * 2);
    float *xf = tu_alloc_f(MAXN), *yf = tu_alloc_f(MAXN), pc[8200];
    uint8_t m[MAXN / 8 + 1], mf[MAXN / 8 + 1];
    REQ(x && y && want);
    /* rates at and beside the 16-bit rule's rounding ties (k(p) = floor(p *
     * 65536 + 0.5), computed in lanes by the one-pass ops): a k off by one
     * changes the column's scale, which the float check below sees */
    const float ties[] = {0x1p-17f,          0x1.fffffep-18f, 0x1.8p-16f,   0x1.7ffffep-16f,
                          0.5f + 0x1p-17f,   0.5f + 0x1p-18f, 1.0f - 0x1p-17f, 1.0f - 0x1p-16f,
                          1.0f - 0x1.8p-16f, -0.0f,           0x1p-149f,    0.999f};
    for (size_t c = 0; c < 8200; c++)
        pc[c] = c % 7 == 0    ? 0.0f
                : c % 11 == 0 ? 1.0f
                : c % 13 == 0 ? ties[(c / 13) % (sizeof ties / sizeof ties[0])]
                              : (float)(c % 97) / 97.0f;
    for (size_t l = 0; l < n_levels; l++) {
        gd_half_test_force(levels[l]);
        for (int d = 0; d < 2; d++)
            for (int r = 0; r < 2; r++)
                for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
                    for (size_t oi = 0; oi < N_OFFSETS; oi += 3) {
                        const size_t rows = shapes[si][0], cols = shapes[si][1], n = rows * cols;
                        const int dt = dtypes[d], rule = rules[r];
                        REQ(n <= MAXN && cols <= 8200); /* the buffers' and pc's sizes */
                        const gd_stream s = {7 + si, 11, offset_for(oi, n)};
                        fill_half(x, n, si * 5 + oi);
                        widen(dt, xf, x, n);
                        ref_cols(rule, yf, xf, rows, cols, pc, &s, mf);
                        narrow(dt, want, yf, n);
                        REQ_OK(gd_dropout_fwd_cols_ex(dt, rule, y, x, rows, cols, pc, &s, m));
                        assert_same16(y, want, n, "fwd_cols", levels[l]->name, dt, rule, n,
                                      s.offset);
                        REQ(memcmp(m, mf, (n + 7) / 8) == 0);
                        REQ_OK(gd_dropout_bwd_cols_ex(dt, rule, y, x, rows, cols, pc, NULL, m));
                        assert_same16(y, want, n, "bwd_cols(mask)", levels[l]->name, dt, rule, n,
                                      s.offset);
                        REQ_OK(gd_dropout_bwd_cols_ex(dt, rule, y, x, rows, cols, pc, &s, NULL));
                        assert_same16(y, want, n, "bwd_cols(stream)", levels[l]->name, dt, rule, n,
                                      s.offset);
                        /* float under the 16-bit rule: the definition itself */
                        if (rule == GD_MASK_16) {
                            float yy[MAXN];
                            REQ_OK(gd_dropout_fwd_cols_ex(GD_F32, rule, yy, xf, rows, cols, pc, &s,
                                                          m));
                            for (size_t j = 0; j < n; j++)
                                REQ(tu_f32_bits(yy[j]) == tu_f32_bits(yf[j]));
                        }
                    }
    }
    gd_half_test_force(NULL);
    free(x), free(y), free(want), free(xf), free(yf);
}
END_TEST

/* The fused epilogue: the float reference is 1.0's add_fwd (32-bit rule)
 * or its formula on the 16-bit mask. */
static void ref_add(int rule, float *y, const float *x, const float *b, const float *res,
                    size_t rows, size_t cols, float p, const gd_stream *s, uint8_t *m)
{
    if (rule == GD_MASK_32) {
        REQ_OK(gd_dropout_add_fwd(y, x, b, res, rows, cols, p, s, m));
        return;
    }
    REQ_OK(gd_mask_bernoulli_ex(GD_MASK_16, m, rows * cols, p, s));
    for (size_t j = 0; j < rows * cols; j++) {
        float v = x[j];
        if (b)
            v = v + b[j % cols];
        v = tu_ref_bit(m, j) ? v * ref_scale16(p) : 0.0f;
        if (res)
            v = res[j] + v;
        y[j] = v;
    }
}

START_TEST(add_match_float)
{
    static const size_t shapes[][2] = {{1, 1}, {3, 5}, {7, 9}, {2, 64}, {5, 130}, {9, 333}};
    enum { N = 3000 };
    uint16_t *x = malloc(N * 2), *b = malloc(N * 2), *res = malloc(N * 2), *y = malloc(N * 2);
    uint16_t *want = malloc(N * 2);
    float *xf = tu_alloc_f(N), *bf = tu_alloc_f(N), *rf = tu_alloc_f(N), *yf = tu_alloc_f(N);
    float db[N], dbw[N];
    uint8_t m[N / 8 + 1], mf[N / 8 + 1];
    REQ(x && b && res && y && want);
    for (size_t l = 0; l < n_levels; l++) {
        gd_half_test_force(levels[l]);
        for (int d = 0; d < 2; d++)
            for (int r = 0; r < 2; r++)
                for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
                    for (unsigned opt = 0; opt < 4; opt++) {
                        const size_t rows = shapes[si][0], cols = shapes[si][1], n = rows * cols;
                        const int dt = dtypes[d], rule = rules[r];
                        const float p = probs[(si + opt) % N_PROBS];
                        const gd_stream s = {3, 4 + si, offset_for(opt * 3, n)};
                        const bool use_b = opt & 1, use_r = opt & 2;
                        /* moderate values, so that sums mean something */
                        tu_fill_data(xf, n, (uint32_t)si + 1);
                        tu_fill_data(bf, cols, 9);
                        tu_fill_data(rf, n, 10);
                        narrow(dt, x, xf, n), narrow(dt, b, bf, cols), narrow(dt, res, rf, n);
                        widen(dt, xf, x, n), widen(dt, bf, b, cols), widen(dt, rf, res, n);
                        ref_add(rule, yf, xf, use_b ? bf : NULL, use_r ? rf : NULL, rows, cols, p,
                                &s, mf);
                        narrow(dt, want, yf, n);
                        REQ_OK(gd_dropout_add_fwd_ex(dt, rule, y, x, use_b ? b : NULL,
                                                     use_r ? res : NULL, rows, cols, p, &s, m));
                        assert_same16(y, want, n, "add_fwd", levels[l]->name, dt, rule, n,
                                      s.offset);
                        REQ(memcmp(m, mf, (n + 7) / 8) == 0);
                        /* in place on the residual */
                        if (use_r) {
                            memcpy(y, res, n * 2);
                            REQ_OK(gd_dropout_add_fwd_ex(dt, rule, y, x, use_b ? b : NULL, y, rows,
                                                         cols, p, &s, NULL));
                            assert_same16(y, want, n, "add_fwd in place", levels[l]->name, dt, rule,
                                          n, s.offset);
                        }
                        /* backward: dx = bwd(dy), dbias = column sums of dx as stored */
                        for (int stored = 0; stored < 2; stored++) {
                            REQ_OK(gd_dropout_add_bwd_ex(dt, rule, y, db, x, rows, cols, p,
                                                         stored ? NULL : &s, stored ? m : NULL));
                            uint16_t bw[N];
                            REQ_OK(gd_dropout_bwd_ex(dt, rule, bw, x, n, p, NULL, m));
                            assert_same16(y, bw, n, "add_bwd", levels[l]->name, dt, rule, n,
                                          s.offset);
                            for (size_t c = 0; c < cols; c++) {
                                double acc = 0;
                                for (size_t rr = 0; rr < rows; rr++)
                                    acc += (double)to_f32(dt, y[rr * cols + c]);
                                dbw[c] = (float)acc;
                                REQ(tu_f32_bits(db[c]) == tu_f32_bits(dbw[c]));
                            }
                        }
                    }
    }
    gd_half_test_force(NULL);
    free(x), free(b), free(res), free(y), free(want), free(xf), free(bf), free(rf), free(yf);
}
END_TEST

/* The backward with dbias block by block (src/half.c, add_bwd_op; test_kernels
 * add_bwd_blocks has the shapes' reasons) at every level, type and rule:
 * dx is gd_dropout_bwd_ex's, dbias the double sums of dx as stored. */
START_TEST(add_bwd_blocks_match)
{
    static const size_t shapes[][2] = {{40, 1000}, {3, 4104}, {3, 4099}, {17, 8200}};
    enum { NB = 17 * 8200 };
    uint16_t *x = malloc(NB * 2), *y = malloc(NB * 2), *want = malloc(NB * 2);
    uint8_t *m = malloc(NB / 8 + 1);
    float *db = tu_alloc_f(8200);
    REQ(x && y && want && m);
    for (size_t l = 0; l < n_levels; l++) {
        gd_half_test_force(levels[l]);
        for (int d = 0; d < 2; d++)
            for (int r = 0; r < 2; r++)
                for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
                    for (int stored = 0; stored < 2; stored++) {
                        const size_t rows = shapes[si][0], cols = shapes[si][1], n = rows * cols;
                        const int dt = dtypes[d], rule = rules[r];
                        const gd_stream s = {21, 5 + si, 3};
                        float *tmp = tu_alloc_f(n);
                        tu_fill_data(tmp, n, (uint32_t)si + 3);
                        narrow(dt, x, tmp, n);
                        free(tmp);
                        REQ_OK(gd_mask_bernoulli_ex(rule, m, n, 0.3f, &s));
                        REQ_OK(gd_dropout_bwd_ex(dt, rule, want, x, n, 0.3f, NULL, m));
                        REQ_OK(gd_dropout_add_bwd_ex(dt, rule, y, db, x, rows, cols, 0.3f,
                                                     stored ? NULL : &s, stored ? m : NULL));
                        assert_same16(y, want, n, "add_bwd blocks", levels[l]->name, dt, rule, n,
                                      s.offset);
                        for (size_t c = 0; c < cols; c++) {
                            double acc = 0;
                            for (size_t rr = 0; rr < rows; rr++)
                                acc += (double)to_f32(dt, want[rr * cols + c]);
                            REQ_MSG(tu_f32_bits(db[c]) == tu_f32_bits((float)acc),
                                    "%s %s rule %d %zux%zu: dbias[%zu] is %a, want %a",
                                    levels[l]->name, dname(dt), rule, rows, cols, c, (double)db[c],
                                    (double)(float)acc);
                        }
                    }
    }
    gd_half_test_force(NULL);
    free(x), free(y), free(want), free(m), free(db);
}
END_TEST

START_TEST(gauss_match_float)
{
    uint16_t *x = malloc(MAXN * 2), *y = malloc(MAXN * 2), *want = malloc(MAXN * 2);
    float *xf = tu_alloc_f(MAXN), *yf = tu_alloc_f(MAXN);
    REQ(x && y && want);
    for (size_t l = 0; l < n_levels; l++) {
        gd_half_test_force(levels[l]);
        for (int d = 0; d < 2; d++)
            for (size_t li = 0; li < N_LENGTHS; li += 2)
                for (size_t oi = 0; oi < N_OFFSETS; oi += 4) {
                    const size_t n = lengths[li];
                    const int dt = dtypes[d];
                    const float sigma = li % 3 == 0 ? 0.0f : 0.33f * (float)(li % 3);
                    const gd_stream s = {17, 19 + li, offset_for(oi, n)};
                    fill_half(x, n, li + 100 * oi);
                    widen(dt, xf, x, n);
                    REQ_OK(gd_gaussian_dropout_fwd(yf, xf, n, sigma, &s));
                    narrow(dt, want, yf, n);
                    REQ_OK(gd_gaussian_dropout_fwd_ex(dt, y, x, n, sigma, &s));
                    assert_same16(y, want, n, "gauss fwd", levels[l]->name, dt, 0, n, s.offset);
                    REQ_OK(gd_gaussian_dropout_bwd_ex(dt, y, x, n, sigma, &s));
                    assert_same16(y, want, n, "gauss bwd", levels[l]->name, dt, 0, n, s.offset);
                }
    }
    gd_half_test_force(NULL);
    free(x), free(y), free(want), free(xf), free(yf);
}
END_TEST

/* The float forms with GD_MASK_32 are the 1.0 functions, bit for bit. */
START_TEST(f32_rule32_is_v1)
{
    float x[100], a[100], b[100];
    uint8_t ma[13], mb[13];
    tu_fill_data(x, 100, 3);
    const gd_stream s = {1, 2, 3};
    REQ_OK(gd_dropout_fwd(a, x, 100, 0.3f, &s, ma));
    REQ_OK(gd_dropout_fwd_ex(GD_F32, GD_MASK_32, b, x, 100, 0.3f, &s, mb));
    REQ(memcmp(a, b, sizeof a) == 0 && memcmp(ma, mb, sizeof ma) == 0);
    REQ_OK(gd_mask_bernoulli_ex(GD_MASK_32, mb, 100, 0.3f, &s));
    REQ(memcmp(ma, mb, sizeof ma) == 0);
    /* and the 16-bit rule is another mask */
    REQ_OK(gd_mask_bernoulli_ex(GD_MASK_16, mb, 100, 0.3f, &s));
    REQ(memcmp(ma, mb, sizeof ma) != 0);
}
END_TEST

/* ---- the error contract --------------------------------------------------- */

START_TEST(errors_leave_outputs)
{
    uint16_t x[32] = {0x3F80}, y[32];
    uint8_t m[2] = {0xAA, 0xAA};
    float pc[4] = {0.1f, 0.2f, NAN, 0.3f}, db[4] = {7, 7, 7, 7};
    const gd_stream s = {1, 2, 0}, end = {1, 2, UINT64_MAX - 3};
    memset(y, 0x5A, sizeof y);
    const uint16_t y0 = y[0];
    /* bad codes first, even when nothing is to be done */
    ck_assert_int_eq(gd_dropout_fwd_ex(3, GD_MASK_32, y, x, 0, 0.5f, &s, NULL), GD_EINVAL);
    ck_assert_int_eq(gd_dropout_fwd_ex(-1, GD_MASK_32, y, x, 16, 0.5f, &s, NULL), GD_EINVAL);
    ck_assert_int_eq(gd_dropout_fwd_ex(GD_BF16, 2, y, x, 16, 0.5f, &s, NULL), GD_EINVAL);
    ck_assert_int_eq(gd_mask_bernoulli_ex(7, m, 0, 0.5f, &s), GD_EINVAL);
    ck_assert_int_eq(gd_gaussian_dropout_fwd_ex(9, y, x, 0, 0.5f, &s), GD_EINVAL);
    ck_assert_int_eq(gd_dropout_add_bwd_ex(GD_F16, -3, y, db, x, 4, 4, 0.5f, &s, NULL), GD_EINVAL);
    /* then the 1.0 order: sizes, data pointers, p, stream, p_cols */
    for (int d = 0; d < 3; d++)
        for (int r = 0; r < 2; r++) {
            const int dt = d == 2 ? GD_F32 : dtypes[d], rule = rules[r];
            float yf[16];
            void *out = dt == GD_F32 ? (void *)yf : (void *)y;
            memcpy(yf, y, sizeof yf);
            REQ_OK(gd_dropout_fwd_ex(dt, rule, out, x, 0, NAN, NULL, m));
            ck_assert_int_eq(gd_dropout_fwd_ex(dt, rule, NULL, x, 16, 0.5f, &s, m), GD_EINVAL);
            ck_assert_int_eq(gd_dropout_fwd_ex(dt, rule, out, x, 16, NAN, &s, m), GD_EDOMAIN);
            ck_assert_int_eq(gd_dropout_fwd_ex(dt, rule, out, x, 16, 1.5f, NULL, m), GD_EDOMAIN);
            ck_assert_int_eq(gd_dropout_fwd_ex(dt, rule, out, x, 16, 0.5f, NULL, m), GD_EINVAL);
            ck_assert_int_eq(gd_dropout_fwd_ex(dt, rule, out, x, 5, 0.5f, &end, m), GD_EOVERFLOW);
            /* a count no buffer can have (a host's -1): refused before memory is read */
            ck_assert_int_eq(gd_dropout_fwd_ex(dt, rule, out, x, SIZE_MAX / 2, 0.5f, &s, m),
                             GD_EOVERFLOW);
            ck_assert_int_eq(gd_dropout_bwd_ex(dt, rule, out, x, SIZE_MAX, 0.5f, &s, m),
                             GD_EOVERFLOW);
            ck_assert_int_eq(gd_mask_bernoulli_ex(rule, m, SIZE_MAX / 2, 0.5f, &s), GD_EOVERFLOW);
            ck_assert_int_eq(gd_gaussian_dropout_fwd_ex(dt, out, x, SIZE_MAX / 2, 0.1f, &s),
                             GD_EOVERFLOW);
            ck_assert_int_eq(gd_dropout_bwd_ex(dt, rule, out, x, 16, 0.5f, NULL, NULL), GD_EINVAL);
            ck_assert_int_eq(gd_dropout_fwd_cols_ex(dt, rule, out, x, 4, 4, pc, &s, m), GD_EDOMAIN);
            ck_assert_int_eq(gd_dropout_fwd_cols_ex(dt, rule, out, x, 4, 4, NULL, &s, m),
                             GD_EINVAL);
            ck_assert_int_eq(gd_dropout_fwd_cols_ex(dt, rule, out, x, SIZE_MAX, 2, pc, &s, m),
                             GD_EOVERFLOW);
            ck_assert_int_eq(gd_dropout_bwd_cols_ex(dt, rule, out, x, 4, 4, pc, NULL, m),
                             GD_EDOMAIN);
            ck_assert_int_eq(
                gd_dropout_add_fwd_ex(dt, rule, out, x, NULL, NULL, 4, 4, -0.5f, &s, m),
                GD_EDOMAIN);
            ck_assert_int_eq(
                gd_dropout_add_fwd_ex(dt, rule, out, NULL, NULL, NULL, 4, 4, 0.5f, &s, m),
                GD_EINVAL);
            ck_assert_int_eq(gd_dropout_add_bwd_ex(dt, rule, out, db, x, 4, 4, 0.5f, &end, NULL),
                             GD_EOVERFLOW);
            ck_assert_int_eq(gd_mask_bernoulli_ex(rule, m, 16, 2.0f, &s), GD_EDOMAIN);
            ck_assert_int_eq(gd_mask_bernoulli_ex(rule, m, 5, 0.5f, &end), GD_EOVERFLOW);
            ck_assert_int_eq(gd_gaussian_dropout_fwd_ex(dt, out, x, 16, -1.0f, &s), GD_EDOMAIN);
            ck_assert_int_eq(gd_gaussian_dropout_fwd_ex(dt, out, x, 16, INFINITY, &s), GD_EDOMAIN);
            ck_assert_int_eq(gd_gaussian_dropout_bwd_ex(dt, out, x, 5, 0.1f, &end), GD_EOVERFLOW);
            ck_assert_uint_eq(y[0], y0);
            ck_assert(m[0] == 0xAA && m[1] == 0xAA && db[0] == 7.0f);
        }
    /* the last index may be 2^64 - 1 */
    REQ_OK(gd_dropout_fwd_ex(GD_F16, GD_MASK_16, y, x, 4, 0.5f, &end, m));
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, conversions_match_scalar);
    tcase_add_test(tc, bwd_mask_large);
    tcase_add_test(tc, conversion_reference);
    tcase_add_test(tc, rule16_float_definition);
    tcase_add_test(tc, rule16_mask_steps);
    tcase_add_test(tc, rule16_rate);
    tcase_add_test(tc, fwd_bwd_match_float);
    tcase_add_test(tc, cols_match_float);
    tcase_add_test(tc, add_match_float);
    tcase_add_test(tc, add_bwd_blocks_match);
    tcase_add_test(tc, gauss_match_float);
    tcase_add_test(tc, f32_rule32_is_v1);
    tcase_add_test(tc, errors_leave_outputs);
}

static const char *const level_names[GD_HALF_LEVELS] = {"scalar", "avx2", "avx512", "avx512bf16"};

int main(int argc, char **argv)
{
    if (argc > 1) {
        int level = -1;
        for (int l = 0; l < GD_HALF_LEVELS; l++)
            if (strcmp(argv[1], level_names[l]) == 0)
                level = l;
        if (level < 0) {
            fprintf(stderr, "usage: test_half [scalar|avx2|avx512|avx512bf16]\n");
            return 2;
        }
        if (!gd_half_level(level)) {
            printf("test_half: this CPU or build has no %s level, skipped\n", argv[1]);
            return 77;
        }
        levels[n_levels++] = gd_half_level(level);
    } else {
        for (int l = 0; l < GD_HALF_LEVELS; l++)
            if (gd_half_level(l))
                levels[n_levels++] = gd_half_level(l);
    }
    return tu_run("half", add_tests, 900);
}

/*
 * Dropout kernels against the contract written out as plain loops (tu_ref_* in test_util.h):
 * masks, outputs, split invariance, backward paths, statistics, errors.
 * Run once per dispatch level (GDROPOUT_DISPATCH) by ctest.
 */

#include "test_util.h"

#include <check.h>
#include <stdio.h>

static const float PROBS[] = {0.0f, 1e-9f, 0.001f, 0.1f, 0.5f, 0.9f, 0.999999f, 1.0f};
enum { NPROBS = sizeof PROBS / sizeof PROBS[0] };

/* Elements of the statistical tests: 2^20, or 2^16 with GD_TEST_QUICK=1 (the
 * valgrind run); their bounds are computed from n, so they hold either way. */
static size_t stat_n(void)
{
    const char *q = getenv("GD_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0 ? (size_t)1 << 16 : (size_t)1 << 20;
}

/* Asserts y == reference dropout of x for a call starting at `offset`. */
static void check_fwd_against_ref(const float *y, const float *x, const uint8_t *mask,
                                  size_t n, float p, uint64_t seed, uint64_t stream,
                                  uint64_t offset)
{
    const float s = tu_ref_scale(p);
    for (size_t j = 0; j < n; j++) {
        const int drop = tu_ref_dropped(tu_ref_word(seed, stream, offset + j), p);
        const float want = drop ? 0.0f : x[j] * s;
        ck_assert_msg(tu_f32_bits(y[j]) == tu_f32_bits(want), "element %zu (p=%g n=%zu off=%llu)",
                      j, (double)p, n, (unsigned long long)offset);
        if (mask)
            ck_assert_int_eq(tu_ref_bit(mask, j), !drop);
    }
    if (mask && n % 8)
        ck_assert_uint_eq(mask[n / 8] >> (n % 8), 0); /* padding bits are 0 */
}

START_TEST(fwd_matches_reference)
{
    const size_t lens[] = {1, 2, 3, 7, 8, 9, 31, 33, 255, 256, 257, 1000};
    const uint64_t offs[] = {0, 1, 2, 3, 5, 13, UINT64_C(0xfffffffd), UINT64_C(1) << 40};
    float *x = tu_alloc_f(1000), *y = tu_alloc_f(1000);
    uint8_t mask[125];
    tu_fill_data(x, 1000, 11);
    for (size_t a = 0; a < sizeof lens / sizeof lens[0]; a++)
        for (size_t b = 0; b < sizeof offs / sizeof offs[0]; b++)
            for (size_t c = 0; c < NPROBS; c++) {
                const gd_stream s = {UINT64_C(0x9e3779b97f4a7c15), 3 + b, offs[b]};
                memset(mask, 0xAA, sizeof mask);
                ck_assert_int_eq(gd_dropout_fwd(y, x, lens[a], PROBS[c], &s, mask), GD_OK);
                check_fwd_against_ref(y, x, mask, lens[a], PROBS[c], s.seed, s.stream,
                                      s.offset);
                uint8_t m2[125];
                ck_assert_int_eq(gd_mask_bernoulli(m2, lens[a], PROBS[c], &s), GD_OK);
                ck_assert_mem_eq(m2, mask, (lens[a] + 7) / 8);
            }
    free(x);
    free(y);
}
END_TEST

/* Pinned values: any change to the drop rule or the normal transform, however
 * small, changes these bits (stream {seed 42, stream 7, offset 0}). */
START_TEST(known_answers)
{
    static const uint32_t z_bits[8] = {0x3f8856dau, 0xbf514952u, 0xbf28902eu, 0x3f9101bfu,
                                       0xbea8419bu, 0x3ea7c2c7u, 0x3efc8bdeu, 0x3f743a4fu};
    static const uint8_t mask_want[8] = {0x7f, 0xfe, 0xed, 0x36, 0x9f, 0xef, 0x57, 0xbf};
    const gd_stream s = {42, 7, 0};
    float z[8];
    uint8_t mask[8];
    ck_assert_int_eq(gd_random_normal(z, 8, &s), GD_OK);
    for (int i = 0; i < 8; i++)
        ck_assert_uint_eq(tu_f32_bits(z[i]), z_bits[i]);
    ck_assert_int_eq(gd_mask_bernoulli(mask, 64, 0.25f, &s), GD_OK);
    ck_assert_mem_eq(mask, mask_want, 8);
}
END_TEST

/* A word equal to the threshold is kept: "dropped iff r < t(p)". */
START_TEST(threshold_boundary)
{
    int found = 0;
    for (uint64_t i = 0; i < 100000 && found < 3; i++) {
        const uint32_t w = tu_ref_word(5, 6, i);
        if (w == 0 || (w & 0xFF) != 0)
            continue; /* need w * 2^-32 exact in a float */
        const float p = (float)((double)w / 4294967296.0);
        ck_assert_uint_eq((uint64_t)floor((double)p * 4294967296.0), w);
        const gd_stream s = {5, 6, i};
        uint8_t m;
        ck_assert_int_eq(gd_mask_bernoulli(&m, 1, p, &s), GD_OK);
        ck_assert_uint_eq(m, 1); /* r == t: kept */
        const float p_up = nextafterf(p, 1.0f);
        ck_assert_int_eq(gd_mask_bernoulli(&m, 1, p_up, &s), GD_OK);
        ck_assert_uint_eq(m, 0); /* r < t: dropped */
        found++;
    }
    ck_assert_int_eq(found, 3);
}
END_TEST

/* One call and many calls at odd offsets (down to one element) agree. */
START_TEST(split_invariance)
{
    enum { N = 4099 };
    float *x = tu_alloc_f(N), *whole = tu_alloc_f(N), *parts = tu_alloc_f(N);
    uint8_t mask_whole[(N + 7) / 8], mask_part[(N + 7) / 8];
    tu_fill_data(x, N, 5);
    const uint64_t base = 77;
    const gd_stream s = {1234, 99, base};
    ck_assert_int_eq(gd_dropout_fwd(whole, x, N, 0.3f, &s, mask_whole), GD_OK);
    const size_t cuts[] = {0, 1, 2, 5, 6, 13, 100, 101, 102, 1027, 2048, 2049, 4000, N};
    for (size_t c = 0; c + 1 < sizeof cuts / sizeof cuts[0]; c++) {
        const size_t lo = cuts[c], len = cuts[c + 1] - lo;
        const gd_stream sp = {1234, 99, base + lo};
        ck_assert_int_eq(gd_dropout_fwd(parts + lo, x + lo, len, 0.3f, &sp, mask_part), GD_OK);
        for (size_t j = 0; j < len; j++)
            ck_assert_int_eq(tu_ref_bit(mask_part, j), tu_ref_bit(mask_whole, lo + j));
    }
    ck_assert_mem_eq(whole, parts, N * sizeof(float));
    for (size_t j = 0; j < 64; j++) { /* one-element calls */
        const gd_stream s1 = {1234, 99, base + 1000 + j};
        float y1;
        ck_assert_int_eq(gd_dropout_fwd(&y1, x + 1000 + j, 1, 0.3f, &s1, NULL), GD_OK);
        ck_assert_uint_eq(tu_f32_bits(y1), tu_f32_bits(whole[1000 + j]));
    }
    free(x);
    free(whole);
    free(parts);
}
END_TEST

START_TEST(backward_stored_equals_regenerated)
{
    enum { N = 3001 };
    float *dy = tu_alloc_f(N), *a = tu_alloc_f(N), *b = tu_alloc_f(N), *y = tu_alloc_f(N);
    uint8_t mask[(N + 7) / 8];
    tu_fill_data(dy, N, 8);
    for (size_t c = 0; c < NPROBS; c++) {
        const gd_stream s = {42, 7, 3};
        ck_assert_int_eq(gd_dropout_fwd(y, dy, N, PROBS[c], &s, mask), GD_OK);
        ck_assert_int_eq(gd_dropout_bwd(a, dy, N, PROBS[c], NULL, mask), GD_OK);
        ck_assert_int_eq(gd_dropout_bwd(b, dy, N, PROBS[c], &s, NULL), GD_OK);
        ck_assert_mem_eq(a, b, N * sizeof(float));
        /* dropout is linear and self-adjoint: backward of dy equals forward of dy */
        ck_assert_mem_eq(a, y, N * sizeof(float));
        check_fwd_against_ref(b, dy, NULL, N, PROBS[c], 42, 7, 3);
    }
    free(dy);
    free(a);
    free(b);
    free(y);
}
END_TEST

START_TEST(identity_and_zeros)
{
    enum { N = 1027 };
    float *x = tu_alloc_f(N), *y = tu_alloc_f(N);
    uint8_t mask[(N + 7) / 8];
    tu_fill_data(x, N, 9);
    x[5] = -0.0f;
    const gd_stream s = {1, 2, 3};
    ck_assert_int_eq(gd_dropout_fwd(y, x, N, 0.0f, &s, mask), GD_OK);
    ck_assert_mem_eq(y, x, N * sizeof(float));
    for (size_t j = 0; j < N; j++)
        ck_assert_int_eq(tu_ref_bit(mask, j), 1);
    ck_assert_uint_eq(mask[N / 8] >> (N % 8), 0);
    ck_assert_int_eq(gd_dropout_fwd(y, x, N, 1.0f, &s, mask), GD_OK);
    for (size_t j = 0; j < N; j++)
        ck_assert_uint_eq(tu_f32_bits(y[j]), 0);
    for (size_t b = 0; b < (N + 7) / 8; b++)
        ck_assert_uint_eq(mask[b], 0);
    free(x);
    free(y);
}
END_TEST

START_TEST(nonfinite_inputs_dropped_to_zero)
{
    float x[64], y[64];
    uint8_t mask[8];
    for (int j = 0; j < 64; j++)
        x[j] = j % 2 ? NAN : INFINITY;
    const gd_stream s = {5, 5, 5};
    ck_assert_int_eq(gd_dropout_fwd(y, x, 64, 0.5f, &s, mask), GD_OK);
    int dropped = 0;
    for (int j = 0; j < 64; j++) {
        if (!tu_ref_bit(mask, (size_t)j)) {
            ck_assert_uint_eq(tu_f32_bits(y[j]), 0);
            dropped++;
        }
    }
    ck_assert_int_gt(dropped, 0);
}
END_TEST

/* |kept - n(1-p)| <= 5 sigma of the binomial, on stat_n() elements. */
START_TEST(keep_rate_binomial)
{
    const size_t n = stat_n();
    uint8_t *mask = malloc(n / 8);
    const float ps[] = {0.001f, 0.1f, 0.5f, 0.9f};
    for (size_t c = 0; c < 4; c++) {
        const gd_stream s = {2024 + c, 11, 0};
        ck_assert_int_eq(gd_mask_bernoulli(mask, n, ps[c], &s), GD_OK);
        size_t kept = 0;
        for (size_t b = 0; b < n / 8; b++)
            kept += (size_t)__builtin_popcount(mask[b]);
        const double q = 1.0 - (double)ps[c];
        const double sd = sqrt((double)n * q * (1.0 - q));
        ck_assert_msg(fabs((double)kept - (double)n * q) <= 5.0 * sd,
                      "p=%g kept=%zu expected %.1f +- %.1f", (double)ps[c], kept, n * q, 5 * sd);
    }
    free(mask);
}
END_TEST

/* Masks of different seeds or streams: Pearson correlation of the keep bits
 * is N(0, 1/n) under independence, so |r| <= 5/sqrt(n). */
static double mask_correlation(const uint8_t *a, const uint8_t *b, size_t n)
{
    double sa = 0, sb = 0, sab = 0;
    for (size_t j = 0; j < n; j++) {
        const int x = tu_ref_bit(a, j), y = tu_ref_bit(b, j);
        sa += x;
        sb += y;
        sab += x * y;
    }
    const double ma = sa / n, mb = sb / n;
    const double cov = sab / n - ma * mb;
    return cov / sqrt(ma * (1 - ma) * mb * (1 - mb));
}

START_TEST(streams_uncorrelated)
{
    const size_t n = stat_n();
    uint8_t *a = malloc(n / 8), *b = malloc(n / 8);
    const gd_stream base = {7, 0, 0};
    const gd_stream others[] = {{8, 0, 0}, {7, 1, 0}, {7, UINT64_C(1) << 32, 0}, {7, 0, 4}};
    ck_assert_int_eq(gd_mask_bernoulli(a, n, 0.5f, &base), GD_OK);
    for (size_t k = 0; k < 4; k++) {
        ck_assert_int_eq(gd_mask_bernoulli(b, n, 0.5f, &others[k]), GD_OK);
        const double r = mask_correlation(a, b, n);
        ck_assert_msg(fabs(r) <= 5.0 / sqrt((double)n), "case %zu r=%g", k, r);
    }
    free(a);
    free(b);
}
END_TEST

START_TEST(cols_match_reference)
{
    const size_t rows = 37, cols = 11, n = rows * cols;
    const float p_cols[11] = {0, 1, 0.5f, 0.1f, 0.9f, 1e-9f, 0.999999f, 0.25f, 0, 1, 0.75f};
    float *x = tu_alloc_f(n), *y = tu_alloc_f(n), *dx = tu_alloc_f(n), *dx2 = tu_alloc_f(n);
    uint8_t mask[(37 * 11 + 7) / 8];
    tu_fill_data(x, n, 21);
    const uint64_t offs[] = {0, 3, 12345};
    for (size_t o = 0; o < 3; o++) {
        const gd_stream s = {31, 4, offs[o]};
        ck_assert_int_eq(gd_dropout_fwd_cols(y, x, rows, cols, p_cols, &s, mask), GD_OK);
        for (size_t r = 0; r < rows; r++)
            for (size_t c = 0; c < cols; c++) {
                const size_t j = r * cols + c;
                const int drop = tu_ref_dropped(tu_ref_word(31, 4, offs[o] + j), p_cols[c]);
                const float want = drop ? 0.0f : x[j] * tu_ref_scale(p_cols[c]);
                ck_assert_uint_eq(tu_f32_bits(y[j]), tu_f32_bits(want));
                ck_assert_int_eq(tu_ref_bit(mask, j), !drop);
            }
        ck_assert_int_eq(gd_dropout_bwd_cols(dx, x, rows, cols, p_cols, NULL, mask), GD_OK);
        ck_assert_int_eq(gd_dropout_bwd_cols(dx2, x, rows, cols, p_cols, &s, NULL), GD_OK);
        ck_assert_mem_eq(dx, y, n * sizeof(float));
        ck_assert_mem_eq(dx2, y, n * sizeof(float));
    }
    /* a uniform p_cols row is gd_dropout_fwd exactly */
    float uni[11], *y2 = tu_alloc_f(n);
    for (size_t c = 0; c < cols; c++)
        uni[c] = 0.3f;
    const gd_stream s = {5, 6, 7};
    ck_assert_int_eq(gd_dropout_fwd_cols(y, x, rows, cols, uni, &s, NULL), GD_OK);
    ck_assert_int_eq(gd_dropout_fwd(y2, x, n, 0.3f, &s, NULL), GD_OK);
    ck_assert_mem_eq(y, y2, n * sizeof(float));
    free(x);
    free(y);
    free(y2);
    free(dx);
    free(dx2);
}
END_TEST

/* Each column's keep rate is within 5 binomial sigmas of its own p. */
START_TEST(cols_rates_per_column)
{
    const size_t rows = 1 << 17, cols = 8;
    const float p_cols[8] = {0.0f, 0.05f, 0.1f, 0.2f, 0.4f, 0.6f, 0.95f, 1.0f};
    uint8_t *mask = malloc(rows * cols / 8);
    float *x = tu_alloc_f(rows * cols);
    for (size_t j = 0; j < rows * cols; j++)
        x[j] = 1.0f;
    const gd_stream s = {99, 1, 0};
    ck_assert_int_eq(gd_dropout_fwd_cols(x, x, rows, cols, p_cols, &s, mask), GD_OK);
    for (size_t c = 0; c < cols; c++) {
        size_t kept = 0;
        for (size_t r = 0; r < rows; r++)
            kept += (size_t)tu_ref_bit(mask, r * cols + c);
        const double q = 1.0 - (double)p_cols[c];
        const double sd = sqrt((double)rows * q * (1 - q));
        ck_assert_msg(fabs((double)kept - rows * q) <= 5 * sd + 1e-9, "column %zu kept %zu", c,
                      kept);
    }
    free(mask);
    free(x);
}
END_TEST

static float ref_add(float x, const float *bias, size_t c, const float *res, size_t j, int drop,
                     float s)
{
    float v = bias ? x + bias[c] : x;
    v = drop ? 0.0f : v * s;
    return res ? res[j] + v : v;
}

START_TEST(add_fwd_and_bwd)
{
    const size_t rows = 19, cols = 13, n = rows * cols;
    float *x = tu_alloc_f(n), *res = tu_alloc_f(n), *y = tu_alloc_f(n), bias[13], *tmp = tu_alloc_f(n);
    uint8_t mask[(19 * 13 + 7) / 8], mask2[sizeof mask];
    tu_fill_data(x, n, 1);
    tu_fill_data(res, n, 2);
    tu_fill_data(bias, cols, 3);
    const gd_stream s = {17, 23, 5};
    for (int variant = 0; variant < 4; variant++) {
        const float *b = variant & 1 ? bias : NULL;
        const float *r = variant & 2 ? res : NULL;
        ck_assert_int_eq(gd_dropout_add_fwd(y, x, b, r, rows, cols, 0.2f, &s, mask), GD_OK);
        ck_assert_int_eq(gd_mask_bernoulli(mask2, n, 0.2f, &s), GD_OK);
        ck_assert_mem_eq(mask, mask2, sizeof mask);
        for (size_t j = 0; j < n; j++) {
            const int drop = tu_ref_dropped(tu_ref_word(17, 23, 5 + j), 0.2f);
            const float want = ref_add(x[j], b, j % cols, r, j, drop, tu_ref_scale(0.2f));
            ck_assert_uint_eq(tu_f32_bits(y[j]), tu_f32_bits(want));
        }
    }
    /* in place over x, and over the residual */
    memcpy(tmp, x, n * sizeof(float));
    ck_assert_int_eq(gd_dropout_add_fwd(y, x, bias, res, rows, cols, 0.2f, &s, NULL), GD_OK);
    ck_assert_int_eq(gd_dropout_add_fwd(tmp, tmp, bias, res, rows, cols, 0.2f, &s, NULL), GD_OK);
    ck_assert_mem_eq(tmp, y, n * sizeof(float));
    memcpy(tmp, res, n * sizeof(float));
    ck_assert_int_eq(gd_dropout_add_fwd(tmp, x, bias, tmp, rows, cols, 0.2f, &s, NULL), GD_OK);
    ck_assert_mem_eq(tmp, y, n * sizeof(float));

    /* backward: dx = dropout_bwd(dy), dbias = column sums of dx */
    float *dx = tu_alloc_f(n), *dx2 = tu_alloc_f(n), dbias[13], dbias2[13];
    ck_assert_int_eq(gd_dropout_add_bwd(dx, dbias, res, rows, cols, 0.2f, NULL, mask), GD_OK);
    ck_assert_int_eq(gd_dropout_add_bwd(dx2, dbias2, res, rows, cols, 0.2f, &s, NULL), GD_OK);
    ck_assert_mem_eq(dx, dx2, n * sizeof(float));
    ck_assert_mem_eq(dbias, dbias2, sizeof dbias);
    for (size_t c = 0; c < cols; c++) {
        double sum = 0;
        for (size_t r = 0; r < rows; r++) {
            const size_t j = r * cols + c;
            const int drop = tu_ref_dropped(tu_ref_word(17, 23, 5 + j), 0.2f);
            const float want = drop ? 0.0f : res[j] * tu_ref_scale(0.2f);
            ck_assert_uint_eq(tu_f32_bits(dx[j]), tu_f32_bits(want));
            sum += want;
        }
        ck_assert_uint_eq(tu_f32_bits(dbias[c]), tu_f32_bits((float)sum));
    }
    float sums[13];
    ck_assert_int_eq(gd_sum_cols(sums, dx, rows, cols), GD_OK);
    ck_assert_mem_eq(sums, dbias, sizeof sums);
    free(x);
    free(res);
    free(y);
    free(tmp);
    free(dx);
    free(dx2);
}
END_TEST

/* Box-Muller in double from the same words: the float polynomials must agree
 * to about 1e-6. */
static double ref_normal(uint64_t seed, uint64_t stream, uint64_t i)
{
    const uint64_t pair = (i % 4) / 2 * 2;
    const uint32_t a = tu_ref_word(seed, stream, i - i % 4 + pair);
    const uint32_t b = tu_ref_word(seed, stream, i - i % 4 + pair + 1);
    const double u = ((double)(a >> 8) + 1.0) / 16777216.0;
    const double theta = 2.0 * 3.14159265358979323846 * (double)(b >> 8) / 16777216.0;
    const double rad = sqrt(-2.0 * log(u));
    return i % 2 == 0 ? rad * cos(theta) : rad * sin(theta);
}

/* The backward with dbias goes block by block of rows, and wide rows in
 * pieces of 4096 columns (src/half.c, add_bwd_op): several blocks, a last
 * partial one, pieces from mask bytes (cols % 8 == 0) and the two-pass path
 * (a stored mask, cols % 8 != 0), in place and not, against the formula and
 * a double sum down each column in row order. */
START_TEST(add_bwd_blocks)
{
    static const size_t shapes[][2] = {{40, 1000}, {600, 40}, {3, 4104},
                                       {3, 4099},  {17, 8200}, {70, 1}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int stored = 0; stored < 2; stored++)
            for (int in_place = 0; in_place < 2; in_place++) {
                const size_t rows = shapes[si][0], cols = shapes[si][1], n = rows * cols;
                float *dy = tu_alloc_f(n), *dx = tu_alloc_f(n), *db = tu_alloc_f(cols);
                uint8_t *mask = malloc((n + 7) / 8);
                ck_assert_ptr_nonnull(mask);
                const gd_stream s = {5, 6 + si, 3};
                tu_fill_data(dy, n, (uint32_t)si + 7);
                ck_assert_int_eq(gd_mask_bernoulli(mask, n, 0.3f, &s), GD_OK);
                if (in_place)
                    memcpy(dx, dy, n * sizeof *dx);
                ck_assert_int_eq(gd_dropout_add_bwd(dx, db, in_place ? dx : dy, rows, cols, 0.3f,
                                                    stored ? NULL : &s, stored ? mask : NULL),
                                 GD_OK);
                tu_fill_data(dy, n, (uint32_t)si + 7); /* again, if overwritten */
                for (size_t c = 0; c < cols; c++) {
                    double sum = 0;
                    for (size_t r = 0; r < rows; r++) {
                        const size_t j = r * cols + c;
                        const float want = tu_ref_bit(mask, j) ? dy[j] * tu_ref_scale(0.3f) : 0.0f;
                        if (tu_f32_bits(dx[j]) != tu_f32_bits(want))
                            ck_abort_msg("%zux%zu: dx[%zu] is %a, want %a", rows, cols, j,
                                         (double)dx[j], (double)want);
                        sum += want;
                    }
                    if (tu_f32_bits(db[c]) != tu_f32_bits((float)sum))
                        ck_abort_msg("%zux%zu stored %d: dbias[%zu] is %a, want %a", rows, cols,
                                     stored, c, (double)db[c], (double)(float)sum);
                }
                free(dy), free(dx), free(db), free(mask);
            }
}
END_TEST

START_TEST(normal_matches_box_muller)
{
    enum { N = 20000 };
    float *z = tu_alloc_f(N);
    const gd_stream s = {3, 1, 1};
    ck_assert_int_eq(gd_random_normal(z, N, &s), GD_OK);
    for (size_t j = 0; j < N; j++) {
        const double want = ref_normal(3, 1, 1 + j);
        ck_assert_msg(fabs(z[j] - want) <= 2e-6 * (1.0 + fabs(want)), "j=%zu z=%.9g ref=%.9g",
                      j, (double)z[j], want);
    }
    free(z);
}
END_TEST

START_TEST(normal_moments)
{
    const size_t n = stat_n();
    float *z = tu_alloc_f(n);
    const gd_stream s = {77, 2, 0};
    ck_assert_int_eq(gd_random_normal(z, n, &s), GD_OK);
    double m = 0, v = 0;
    size_t tail = 0;
    for (size_t j = 0; j < n; j++)
        m += z[j];
    m /= (double)n;
    for (size_t j = 0; j < n; j++) {
        v += (z[j] - m) * (z[j] - m);
        tail += fabs(z[j]) > 1.959963985;
    }
    v /= (double)(n - 1);
    ck_assert_msg(fabs(m) <= 5.0 / sqrt((double)n), "mean %g", m);
    ck_assert_msg(fabs(v - 1.0) <= 5.0 * sqrt(2.0 / (double)n), "var %g", v);
    const double pt = 0.05, sd = sqrt((double)n * pt * (1 - pt));
    ck_assert_msg(fabs((double)tail - n * pt) <= 5 * sd, "tail %zu", tail);
    free(z);
}
END_TEST

START_TEST(gaussian_dropout)
{
    const size_t n = stat_n();
    float *one = tu_alloc_f(n), *m = tu_alloc_f(n), *mb = tu_alloc_f(n), *z = tu_alloc_f(n);
    for (size_t j = 0; j < n; j++)
        one[j] = 1.0f;
    float sigma;
    ck_assert_int_eq(gd_gaussian_sigma(0.1f, &sigma), GD_OK);
    ck_assert_float_eq_tol(sigma, (float)sqrt(0.1 / 0.9), 1e-7);
    const gd_stream s = {10, 20, 30};
    ck_assert_int_eq(gd_gaussian_dropout_fwd(m, one, n, sigma, &s), GD_OK);
    ck_assert_int_eq(gd_gaussian_dropout_bwd(mb, one, n, sigma, &s), GD_OK);
    ck_assert_mem_eq(m, mb, n * sizeof(float)); /* backward reuses the forward's noise */
    ck_assert_int_eq(gd_random_normal(z, n, &s), GD_OK);
    double mean = 0, var = 0;
    for (size_t j = 0; j < n; j++) {
        ck_assert_uint_eq(tu_f32_bits(m[j]), tu_f32_bits(1.0f + sigma * z[j]));
        mean += m[j];
    }
    mean /= (double)n;
    for (size_t j = 0; j < n; j++)
        var += (m[j] - mean) * (m[j] - mean);
    var /= (double)(n - 1);
    const double s2 = (double)sigma * sigma;
    ck_assert_msg(fabs(mean - 1.0) <= 5.0 * sigma / sqrt((double)n), "mean %g", mean);
    ck_assert_msg(fabs(var - s2) <= 5.0 * s2 * sqrt(2.0 / (double)n), "var %g vs %g", var, s2);
    /* y = x * m, in place too; sigma 0 is the identity */
    tu_fill_data(z, 1000, 4);
    float y[1000];
    ck_assert_int_eq(gd_gaussian_dropout_fwd(y, z, 1000, sigma, &s), GD_OK);
    for (size_t j = 0; j < 1000; j++)
        ck_assert_uint_eq(tu_f32_bits(y[j]), tu_f32_bits(z[j] * m[j]));
    ck_assert_int_eq(gd_gaussian_dropout_fwd(z, z, 1000, sigma, &s), GD_OK);
    ck_assert_mem_eq(z, y, sizeof y);
    tu_fill_data(z, 1000, 4);
    ck_assert_int_eq(gd_gaussian_dropout_fwd(y, z, 1000, 0.0f, &s), GD_OK);
    ck_assert_mem_eq(z, y, sizeof y);
    free(one);
    free(m);
    free(mb);
    free(z);
}
END_TEST

START_TEST(in_place_kernels)
{
    enum { N = 777 };
    float *x = tu_alloc_f(N), *y = tu_alloc_f(N), *t = tu_alloc_f(N);
    uint8_t mask[(N + 7) / 8];
    tu_fill_data(x, N, 6);
    const gd_stream s = {8, 8, 8};
    ck_assert_int_eq(gd_dropout_fwd(y, x, N, 0.4f, &s, mask), GD_OK);
    memcpy(t, x, N * sizeof(float));
    ck_assert_int_eq(gd_dropout_fwd(t, t, N, 0.4f, &s, NULL), GD_OK);
    ck_assert_mem_eq(t, y, N * sizeof(float));
    memcpy(t, x, N * sizeof(float));
    ck_assert_int_eq(gd_dropout_bwd(t, t, N, 0.4f, NULL, mask), GD_OK);
    ck_assert_mem_eq(t, y, N * sizeof(float));
    memcpy(t, x, N * sizeof(float));
    ck_assert_int_eq(gd_dropout_bwd(t, t, N, 0.4f, &s, NULL), GD_OK);
    ck_assert_mem_eq(t, y, N * sizeof(float));
    const float pc[3] = {0.4f, 0.4f, 0.4f};
    memcpy(t, x, N * sizeof(float));
    ck_assert_int_eq(gd_dropout_fwd_cols(t, t, 259, 3, pc, &s, NULL), GD_OK);
    ck_assert_mem_eq(t, y, N * sizeof(float));
    memcpy(t, x, N * sizeof(float));
    ck_assert_int_eq(gd_dropout_bwd_cols(t, t, 259, 3, pc, NULL, mask), GD_OK);
    ck_assert_mem_eq(t, y, N * sizeof(float));
    free(x);
    free(y);
    free(t);
}
END_TEST

/* Every refused call leaves its outputs exactly as they were. */
START_TEST(errors_leave_outputs)
{
    float x[16], y[16], keep[16], pc[2] = {0.1f, 0.2f};
    uint8_t mask[2] = {0x5A, 0xA5};
    tu_fill_data(x, 16, 1);
    memset(y, 0x7F, sizeof y);
    memcpy(keep, y, sizeof y);
    const gd_stream s = {1, 2, 3}, late = {1, 2, UINT64_MAX - 4};
    const float bad_p[] = {-0.0001f, 1.0001f, NAN, INFINITY, -INFINITY};
    for (size_t b = 0; b < 5; b++) {
        ck_assert_int_eq(gd_dropout_fwd(y, x, 16, bad_p[b], &s, mask), GD_EDOMAIN);
        ck_assert_int_eq(gd_dropout_bwd(y, x, 16, bad_p[b], &s, NULL), GD_EDOMAIN);
        ck_assert_int_eq(gd_dropout_bwd(y, x, 16, bad_p[b], NULL, mask), GD_EDOMAIN);
        ck_assert_int_eq(gd_mask_bernoulli(mask, 16, bad_p[b], &s), GD_EDOMAIN);
        ck_assert_int_eq(gd_dropout_add_fwd(y, x, NULL, NULL, 4, 4, bad_p[b], &s, mask),
                         GD_EDOMAIN);
        ck_assert_int_eq(gd_dropout_add_bwd(y, NULL, x, 4, 4, bad_p[b], &s, NULL), GD_EDOMAIN);
        pc[1] = bad_p[b];
        ck_assert_int_eq(gd_dropout_fwd_cols(y, x, 8, 2, pc, &s, mask), GD_EDOMAIN);
        ck_assert_int_eq(gd_dropout_bwd_cols(y, x, 8, 2, pc, NULL, mask), GD_EDOMAIN);
    }
    pc[1] = 0.2f;
    ck_assert_int_eq(gd_dropout_fwd(NULL, x, 16, 0.1f, &s, mask), GD_EINVAL);
    ck_assert_int_eq(gd_dropout_fwd(y, NULL, 16, 0.1f, &s, mask), GD_EINVAL);
    ck_assert_int_eq(gd_dropout_fwd(y, x, 16, 0.1f, NULL, mask), GD_EINVAL);
    ck_assert_int_eq(gd_dropout_bwd(y, x, 16, 0.1f, NULL, NULL), GD_EINVAL);
    ck_assert_int_eq(gd_dropout_bwd(NULL, x, 16, 0.1f, &s, NULL), GD_EINVAL);
    ck_assert_int_eq(gd_mask_bernoulli(NULL, 16, 0.1f, &s), GD_EINVAL);
    ck_assert_int_eq(gd_mask_bernoulli(mask, 16, 0.1f, NULL), GD_EINVAL);
    ck_assert_int_eq(gd_dropout_fwd_cols(y, x, 8, 2, NULL, &s, mask), GD_EINVAL);
    ck_assert_int_eq(gd_dropout_fwd_cols(y, NULL, 8, 2, pc, &s, mask), GD_EINVAL);
    ck_assert_int_eq(gd_dropout_bwd_cols(y, x, 8, 2, pc, NULL, NULL), GD_EINVAL);
    ck_assert_int_eq(gd_dropout_add_fwd(y, NULL, NULL, NULL, 4, 4, 0.1f, &s, mask), GD_EINVAL);
    ck_assert_int_eq(gd_dropout_add_fwd(y, x, NULL, NULL, 4, 4, 0.1f, NULL, mask), GD_EINVAL);
    ck_assert_int_eq(gd_dropout_add_bwd(y, NULL, x, 4, 4, 0.1f, NULL, NULL), GD_EINVAL);
    ck_assert_int_eq(gd_sum_cols(NULL, x, 4, 4), GD_EINVAL);
    ck_assert_int_eq(gd_gaussian_dropout_fwd(NULL, x, 16, 0.1f, &s), GD_EINVAL);
    ck_assert_int_eq(gd_gaussian_dropout_bwd(y, x, 16, 0.1f, NULL), GD_EINVAL);
    /* sigma out of domain */
    const float bad_sigma[] = {-1e-30f, NAN, INFINITY, -INFINITY};
    for (size_t b = 0; b < 4; b++) {
        ck_assert_int_eq(gd_gaussian_dropout_fwd(y, x, 16, bad_sigma[b], &s), GD_EDOMAIN);
        ck_assert_int_eq(gd_gaussian_dropout_bwd(y, x, 16, bad_sigma[b], &s), GD_EDOMAIN);
    }
    float sg = 123.0f;
    ck_assert_int_eq(gd_gaussian_sigma(1.0f, &sg), GD_EDOMAIN);
    ck_assert_int_eq(gd_gaussian_sigma(NAN, &sg), GD_EDOMAIN);
    ck_assert_int_eq(gd_gaussian_sigma(-0.5f, &sg), GD_EDOMAIN);
    ck_assert_int_eq(gd_gaussian_sigma(0.5f, NULL), GD_EINVAL);
    ck_assert(sg == 123.0f);
    /* rows * cols overflow, and indices past 2^64 */
    const size_t big = (size_t)1 << (sizeof(size_t) * 4);
    ck_assert_int_eq(gd_dropout_fwd_cols(y, x, big, big, pc, &s, mask), GD_EOVERFLOW);
    ck_assert_int_eq(gd_dropout_bwd_cols(y, x, big, big, pc, &s, NULL), GD_EOVERFLOW);
    ck_assert_int_eq(gd_dropout_add_fwd(y, x, NULL, NULL, big, big, 0.1f, &s, mask),
                     GD_EOVERFLOW);
    ck_assert_int_eq(gd_dropout_add_bwd(y, NULL, x, big, big, 0.1f, &s, NULL), GD_EOVERFLOW);
    ck_assert_int_eq(gd_sum_cols(y, x, big, big), GD_EOVERFLOW);
    ck_assert_int_eq(gd_dropout_fwd(y, x, 16, 0.1f, &late, mask), GD_EOVERFLOW);
    ck_assert_int_eq(gd_dropout_bwd(y, x, 16, 0.1f, &late, NULL), GD_EOVERFLOW);
    ck_assert_int_eq(gd_mask_bernoulli(mask, 16, 0.1f, &late), GD_EOVERFLOW);
    ck_assert_int_eq(gd_gaussian_dropout_fwd(y, x, 16, 0.1f, &late), GD_EOVERFLOW);
    ck_assert_mem_eq(y, keep, sizeof y);
    ck_assert_uint_eq(mask[0], 0x5A);
    ck_assert_uint_eq(mask[1], 0xA5);
    /* zero sizes are no-ops, even with NULL buffers */
    ck_assert_int_eq(gd_dropout_fwd(NULL, NULL, 0, 0.1f, NULL, NULL), GD_OK);
    ck_assert_int_eq(gd_dropout_fwd_cols(NULL, NULL, 0, 5, NULL, NULL, NULL), GD_OK);
    ck_assert_int_eq(gd_dropout_add_fwd(NULL, NULL, NULL, NULL, 5, 0, 0.1f, NULL, NULL), GD_OK);
    ck_assert_int_eq(gd_gaussian_dropout_fwd(NULL, NULL, 0, -1.0f, NULL), GD_OK);
}
END_TEST

/* An n whose float (or word) buffer would have more bytes than size_t holds,
 * such as a host's int -1 (SIZE_MAX), is refused before any memory is
 * touched (it used to run off the end of every buffer); the largest n that
 * fits passes the size check and fails on the next one (a NULL pointer). */
START_TEST(huge_counts_refused)
{
    float x[16], y[16], keep[16], pc[2] = {0.1f, 0.2f};
    uint32_t w[16], wkeep[16];
    uint8_t mask[2] = {0x5A, 0xA5};
    tu_fill_data(x, 16, 2);
    memset(y, 0x7F, sizeof y);
    memcpy(keep, y, sizeof y);
    memset(w, 0x3C, sizeof w);
    memcpy(wkeep, w, sizeof w);
    const gd_stream s = {1, 2, 0};
    const size_t max = SIZE_MAX / sizeof(float);
    const size_t huge[] = {SIZE_MAX, SIZE_MAX - 7, max + 1, (size_t)-1 / 2};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        const size_t n = huge[i];
        ck_assert_int_eq(gd_dropout_fwd(y, x, n, 0.1f, &s, mask), GD_EOVERFLOW);
        ck_assert_int_eq(gd_dropout_fwd(y, x, n, 0.1f, &s, NULL), GD_EOVERFLOW);
        ck_assert_int_eq(gd_dropout_bwd(y, x, n, 0.1f, &s, NULL), GD_EOVERFLOW);
        ck_assert_int_eq(gd_dropout_bwd(y, x, n, 0.1f, NULL, mask), GD_EOVERFLOW);
        ck_assert_int_eq(gd_mask_bernoulli(mask, n, 0.1f, &s), GD_EOVERFLOW);
        ck_assert_int_eq(gd_gaussian_dropout_fwd(y, x, n, 0.1f, &s), GD_EOVERFLOW);
        ck_assert_int_eq(gd_gaussian_dropout_bwd(y, x, n, 0.1f, &s), GD_EOVERFLOW);
        ck_assert_int_eq(gd_random_u32(w, n, &s), GD_EOVERFLOW);
        ck_assert_int_eq(gd_random_normal(y, n, &s), GD_EOVERFLOW);
        /* the size is checked first, before pointers, p and the stream */
        ck_assert_int_eq(gd_dropout_fwd(NULL, NULL, n, NAN, NULL, NULL), GD_EOVERFLOW);
        ck_assert_int_eq(gd_random_u32(NULL, n, NULL), GD_EOVERFLOW);
        /* rows * cols fits size_t but its floats do not */
        ck_assert_int_eq(gd_dropout_fwd_cols(y, x, n / 2 + 1, 2, pc, &s, mask), GD_EOVERFLOW);
        ck_assert_int_eq(gd_dropout_bwd_cols(y, x, 2, n / 2 + 1, pc, &s, NULL), GD_EOVERFLOW);
        ck_assert_int_eq(gd_dropout_add_fwd(y, x, NULL, NULL, n / 2 + 1, 2, 0.1f, &s, mask),
                         GD_EOVERFLOW);
        ck_assert_int_eq(gd_dropout_add_bwd(y, NULL, x, 1, n, 0.1f, NULL, mask), GD_EOVERFLOW);
        ck_assert_int_eq(gd_sum_cols(y, x, n, 1), GD_EOVERFLOW);
    }
    ck_assert_mem_eq(y, keep, sizeof y);
    ck_assert_mem_eq(w, wkeep, sizeof w);
    ck_assert_uint_eq(mask[0], 0x5A);
    ck_assert_uint_eq(mask[1], 0xA5);
    /* the bound itself is a size, not an error */
    ck_assert_int_eq(gd_dropout_fwd(NULL, x, max, 0.1f, &s, mask), GD_EINVAL);
    ck_assert_int_eq(gd_mask_bernoulli(NULL, max, 0.1f, &s), GD_EINVAL);
    ck_assert_int_eq(gd_random_u32(NULL, max, &s), GD_EINVAL);
    ck_assert_int_eq(gd_random_normal(NULL, max, &s), GD_EINVAL);
    ck_assert_int_eq(gd_gaussian_dropout_fwd(NULL, x, max, 0.1f, &s), GD_EINVAL);
    ck_assert_int_eq(gd_dropout_fwd_cols(NULL, x, max / 4, 4, pc, &s, mask), GD_EINVAL);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, fwd_matches_reference);
    tcase_add_test(tc, known_answers);
    tcase_add_test(tc, threshold_boundary);
    tcase_add_test(tc, split_invariance);
    tcase_add_test(tc, backward_stored_equals_regenerated);
    tcase_add_test(tc, identity_and_zeros);
    tcase_add_test(tc, nonfinite_inputs_dropped_to_zero);
    tcase_add_test(tc, keep_rate_binomial);
    tcase_add_test(tc, streams_uncorrelated);
    tcase_add_test(tc, cols_match_reference);
    tcase_add_test(tc, cols_rates_per_column);
    tcase_add_test(tc, add_fwd_and_bwd);
    tcase_add_test(tc, add_bwd_blocks);
    tcase_add_test(tc, normal_matches_box_muller);
    tcase_add_test(tc, normal_moments);
    tcase_add_test(tc, gaussian_dropout);
    tcase_add_test(tc, in_place_kernels);
    tcase_add_test(tc, errors_leave_outputs);
    tcase_add_test(tc, huge_counts_refused);
}

int main(void)
{
    printf("dispatch: %s\n", gd_dispatch_name());
    return tu_run("kernels", add_tests, 120);
}

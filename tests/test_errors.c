/*
 * The error contract of the kernels, the generator and the version API: every
 * kind of bad argument gives exactly the documented GD_E* code and leaves
 * every buffer (outputs, inputs, masks) byte-identical.
 *
 * Each kernel is described once (which pointers it needs, whether it takes p,
 * p_cols, sigma or a stream); every test then walks all kernels, breaks one
 * argument of an otherwise valid call, and checks the code and a snapshot of
 * every buffer.  A valid call is asserted to succeed first, so a mutation that
 * "fails" cannot be failing for some other reason.
 */

#include "test_util.h"

#include <check.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum { ROWS = 3, COLS = 7, N = ROWS * COLS, MB = (N + 7) / 8 };

/* Every buffer a call may touch, in one block so one memcmp covers all. */
typedef struct arena {
    float out[N];
    float in[N];
    float bias[COLS];
    float res[N];
    float dbias[COLS];
    float p_cols[COLS];
    uint32_t words[N];
    uint8_t mask[MB];
} arena;

typedef enum kind {
    K_MASK,
    K_FWD,
    K_BWD_REGEN,
    K_BWD_MASK,
    K_FWD_COLS,
    K_BWD_COLS_REGEN,
    K_BWD_COLS_MASK,
    K_ADD_FWD,
    K_ADD_BWD_REGEN,
    K_ADD_BWD_MASK,
    K_SUM_COLS,
    K_GAUSS_FWD,
    K_GAUSS_BWD,
    K_RANDOM_U32,
    K_RANDOM_NORMAL,
    K_COUNT
} kind;

/* What a kernel reads. */
enum {
    NEED_OUT = 1 << 0,   /* out (y, dx, mask for K_MASK, r, z) must not be NULL */
    NEED_IN = 1 << 1,    /* in (x, dy) must not be NULL */
    NEED_MASK = 1 << 2,  /* the mask is read (backward from a stored mask) */
    NEED_PCOLS = 1 << 3, /* per-column probabilities */
    NEED_S = 1 << 4,     /* the stream is read */
    HAS_P = 1 << 5,      /* one probability p */
    HAS_SIGMA = 1 << 6,  /* Gaussian sigma */
    TWO_D = 1 << 7,      /* rows x cols rather than n */
    OPT_MASK = 1 << 8,   /* mask_out may be NULL */
    OPT_BIAS = 1 << 9,   /* bias / residual / dbias may be NULL */
};

static const struct {
    const char *name;
    unsigned flags;
} kinds[K_COUNT] = {
    [K_MASK] = {"mask_bernoulli", NEED_OUT | NEED_S | HAS_P},
    [K_FWD] = {"dropout_fwd", NEED_OUT | NEED_IN | NEED_S | HAS_P | OPT_MASK},
    [K_BWD_REGEN] = {"dropout_bwd(regen)", NEED_OUT | NEED_IN | NEED_S | HAS_P},
    [K_BWD_MASK] = {"dropout_bwd(mask)", NEED_OUT | NEED_IN | NEED_MASK | HAS_P},
    [K_FWD_COLS] = {"dropout_fwd_cols",
                    NEED_OUT | NEED_IN | NEED_PCOLS | NEED_S | TWO_D | OPT_MASK},
    [K_BWD_COLS_REGEN] = {"dropout_bwd_cols(regen)",
                          NEED_OUT | NEED_IN | NEED_PCOLS | NEED_S | TWO_D},
    [K_BWD_COLS_MASK] = {"dropout_bwd_cols(mask)",
                         NEED_OUT | NEED_IN | NEED_PCOLS | NEED_MASK | TWO_D},
    [K_ADD_FWD] = {"dropout_add_fwd",
                   NEED_OUT | NEED_IN | NEED_S | HAS_P | TWO_D | OPT_MASK | OPT_BIAS},
    [K_ADD_BWD_REGEN] = {"dropout_add_bwd(regen)",
                         NEED_OUT | NEED_IN | NEED_S | HAS_P | TWO_D | OPT_BIAS},
    [K_ADD_BWD_MASK] = {"dropout_add_bwd(mask)",
                        NEED_OUT | NEED_IN | NEED_MASK | HAS_P | TWO_D | OPT_BIAS},
    [K_SUM_COLS] = {"sum_cols", NEED_OUT | NEED_IN | TWO_D},
    [K_GAUSS_FWD] = {"gaussian_dropout_fwd", NEED_OUT | NEED_IN | NEED_S | HAS_SIGMA},
    [K_GAUSS_BWD] = {"gaussian_dropout_bwd", NEED_OUT | NEED_IN | NEED_S | HAS_SIGMA},
    [K_RANDOM_U32] = {"random_u32", NEED_OUT | NEED_S},
    [K_RANDOM_NORMAL] = {"random_normal", NEED_OUT | NEED_S},
};

/* One call's arguments; n is used by 1-D kernels, rows/cols by 2-D ones. */
typedef struct call {
    void *out;
    const float *in;
    const float *bias;
    const float *res;
    float *dbias;
    uint8_t *mask;
    const float *p_cols;
    size_t n, rows, cols;
    float p, sigma;
    const gd_stream *s;
} call;

static arena A;
static gd_stream S;

static void fill_pattern(void *p, size_t bytes, uint8_t seed)
{
    uint8_t *b = p;
    for (size_t i = 0; i < bytes; i++)
        b[i] = (uint8_t)(seed + 37u * (unsigned)i);
}

/* A fresh arena: sentinel outputs, plausible inputs, valid p_cols. */
static void reset_arena(void)
{
    fill_pattern(&A, sizeof A, 0xA5);
    tu_fill_data(A.in, N, 11);
    tu_fill_data(A.bias, COLS, 12);
    tu_fill_data(A.res, N, 13);
    for (size_t c = 0; c < COLS; c++)
        A.p_cols[c] = (float)c / (float)COLS;
    S = (gd_stream){UINT64_C(0x1234567890abcdef), 99, 5};
}

/* A valid call of kernel k on the arena. */
static call valid_call(kind k)
{
    call c = {0};
    c.out = k == K_MASK ? (void *)A.mask
            : k == K_RANDOM_U32 ? (void *)A.words
            : k == K_SUM_COLS ? (void *)A.dbias
                              : (void *)A.out;
    c.in = A.in;
    c.bias = A.bias;
    c.res = A.res;
    c.dbias = A.dbias;
    c.mask = A.mask;
    c.p_cols = A.p_cols;
    c.n = N;
    c.rows = ROWS;
    c.cols = COLS;
    c.p = 0.25f;
    c.sigma = 0.5f;
    c.s = &S;
    return c;
}

static int run(kind k, const call *c)
{
    switch (k) {
    case K_MASK:
        return gd_mask_bernoulli(c->out, c->n, c->p, c->s);
    case K_FWD:
        return gd_dropout_fwd(c->out, c->in, c->n, c->p, c->s, c->mask);
    case K_BWD_REGEN:
        return gd_dropout_bwd(c->out, c->in, c->n, c->p, c->s, NULL);
    case K_BWD_MASK:
        return gd_dropout_bwd(c->out, c->in, c->n, c->p, c->s, c->mask);
    case K_FWD_COLS:
        return gd_dropout_fwd_cols(c->out, c->in, c->rows, c->cols, c->p_cols, c->s, c->mask);
    case K_BWD_COLS_REGEN:
        return gd_dropout_bwd_cols(c->out, c->in, c->rows, c->cols, c->p_cols, c->s, NULL);
    case K_BWD_COLS_MASK:
        return gd_dropout_bwd_cols(c->out, c->in, c->rows, c->cols, c->p_cols, c->s, c->mask);
    case K_ADD_FWD:
        return gd_dropout_add_fwd(c->out, c->in, c->bias, c->res, c->rows, c->cols, c->p, c->s,
                                  c->mask);
    case K_ADD_BWD_REGEN:
        return gd_dropout_add_bwd(c->out, c->dbias, c->in, c->rows, c->cols, c->p, c->s, NULL);
    case K_ADD_BWD_MASK:
        return gd_dropout_add_bwd(c->out, c->dbias, c->in, c->rows, c->cols, c->p, c->s,
                                  c->mask);
    case K_SUM_COLS:
        return gd_sum_cols(c->out, c->in, c->rows, c->cols);
    case K_GAUSS_FWD:
        return gd_gaussian_dropout_fwd(c->out, c->in, c->n, c->sigma, c->s);
    case K_GAUSS_BWD:
        return gd_gaussian_dropout_bwd(c->out, c->in, c->n, c->sigma, c->s);
    case K_RANDOM_U32:
        return gd_random_u32(c->out, c->n, c->s);
    case K_RANDOM_NORMAL:
        return gd_random_normal(c->out, c->n, c->s);
    default:
        abort();
    }
}

static bool has(kind k, unsigned flag)
{
    return (kinds[k].flags & flag) != 0;
}

/* Runs c on a fresh arena and checks the code; on an error (and whenever
 * `untouched` is set) every byte of the arena and the stream is unchanged. */
static void expect_at(kind k, call c, int want, bool untouched, const char *what, int line)
{
    arena before;
    const gd_stream s_before = S;
    memcpy(&before, &A, sizeof A);
    const int rc = run(k, &c);
    ck_assert_msg(rc == want, "line %d: %s, %s: got %s, want %s", line, kinds[k].name, what,
                  gd_error_name(rc), gd_error_name(want));
    if (want != GD_OK || untouched) {
        ck_assert_msg(memcmp(&before, &A, sizeof A) == 0, "line %d: %s, %s: a buffer changed",
                      line, kinds[k].name, what);
        ck_assert_msg(memcmp(&s_before, &S, sizeof S) == 0, "line %d: %s, %s: stream changed",
                      line, kinds[k].name, what);
    }
}
#define expect(k, c, want, what) expect_at((k), (c), (want), false, (what), __LINE__)
#define expect_untouched(k, c, want, what) expect_at((k), (c), (want), true, (what), __LINE__)

/* The unbroken call succeeds (so every refusal below is the mutation's). */
static call baseline(kind k)
{
    reset_arena();
    call c = valid_call(k);
    expect(k, c, GD_OK, "valid call");
    reset_arena();
    return valid_call(k);
}

START_TEST(null_pointers)
{
    for (kind k = 0; k < K_COUNT; k++) {
        call c = baseline(k);
        if (has(k, NEED_OUT)) {
            c.out = NULL;
            expect(k, c, GD_EINVAL, "NULL output");
        }
        c = valid_call(k);
        if (has(k, NEED_IN)) {
            c.in = NULL;
            expect(k, c, GD_EINVAL, "NULL input");
        }
        c = valid_call(k);
        if (has(k, NEED_S)) {
            c.s = NULL;
            expect(k, c, GD_EINVAL, "NULL stream");
        }
        c = valid_call(k);
        if (has(k, NEED_PCOLS)) {
            c.p_cols = NULL;
            expect(k, c, GD_EINVAL, "NULL p_cols");
        }
    }
}
END_TEST

/* NULL is allowed where the header says so, and changes nothing else. */
START_TEST(optional_pointers)
{
    for (kind k = 0; k < K_COUNT; k++) {
        call c = baseline(k);
        if (has(k, OPT_MASK)) {
            uint8_t mask_before[MB];
            memcpy(mask_before, A.mask, MB);
            c.mask = NULL;
            expect(k, c, GD_OK, "NULL mask_out");
            ck_assert_int_eq(memcmp(mask_before, A.mask, MB), 0); /* not written */
        }
        reset_arena();
        c = valid_call(k);
        if (has(k, OPT_BIAS)) {
            c.bias = NULL;
            c.res = NULL;
            c.dbias = NULL;
            float dbias_before[COLS];
            memcpy(dbias_before, A.dbias, sizeof dbias_before);
            expect(k, c, GD_OK, "NULL bias/residual/dbias");
            ck_assert_int_eq(memcmp(dbias_before, A.dbias, sizeof dbias_before), 0);
        }
        reset_arena();
        c = valid_call(k);
        if (has(k, NEED_MASK)) {
            c.s = NULL; /* a stored mask means the stream is not read */
            expect(k, c, GD_OK, "NULL stream with a mask");
        }
    }
}
END_TEST

/* n == 0, rows == 0 or cols == 0: a no-op returning GD_OK even with NULL
 * pointers, writing nothing. */
START_TEST(empty_sizes)
{
    for (kind k = 0; k < K_COUNT; k++) {
        if (k == K_SUM_COLS)
            continue; /* its own test below: zero rows give zero sums */
        call c = baseline(k);
        call z = {0};
        z.p = 0.5f;
        if (!has(k, TWO_D)) {
            expect_untouched(k, z, GD_OK, "n == 0, all NULL");
            c.n = 0;
            expect_untouched(k, c, GD_OK, "n == 0");
        } else {
            z.rows = 0;
            z.cols = COLS;
            expect_untouched(k, z, GD_OK, "rows == 0, all NULL");
            z.rows = ROWS;
            z.cols = 0;
            expect_untouched(k, z, GD_OK, "cols == 0, all NULL");
            z.rows = 0;
            z.cols = SIZE_MAX; /* 0 * SIZE_MAX does not overflow */
            expect_untouched(k, z, GD_OK, "rows == 0, cols == SIZE_MAX");
            c.rows = 0;
            expect_untouched(k, c, GD_OK, "rows == 0");
        }
    }
}
END_TEST

START_TEST(sum_cols_sizes)
{
    reset_arena();
    /* no rows: every column sums to zero */
    ck_assert_int_eq(gd_sum_cols(A.dbias, A.in, 0, COLS), GD_OK);
    for (size_t c = 0; c < COLS; c++)
        ck_assert_uint_eq(tu_f32_bits(A.dbias[c]), 0);
    reset_arena();
    arena before = A;
    ck_assert_int_eq(gd_sum_cols(NULL, NULL, ROWS, 0), GD_OK);
    ck_assert_int_eq(gd_sum_cols(A.dbias, A.in, ROWS, 0), GD_OK);
    ck_assert_int_eq(memcmp(&before, &A, sizeof A), 0);
    ck_assert_int_eq(gd_sum_cols(A.dbias, NULL, ROWS, COLS), GD_EINVAL);
    ck_assert_int_eq(gd_sum_cols(NULL, A.in, ROWS, COLS), GD_EINVAL);
    ck_assert_int_eq(gd_sum_cols(A.dbias, A.in, SIZE_MAX / 2 + 1, 2), GD_EOVERFLOW);
    /* zero rows still write cols floats: a cols whose byte size overflows
     * is refused (SIZE_MAX once wrapped memset's size and crashed; 2^62
     * wrote nothing and 2^62 + 1 one float, both "GD_OK") */
    const size_t huge[] = {SIZE_MAX, SIZE_MAX / sizeof(float) + 1, (size_t)1 << 62,
                           ((size_t)1 << 62) + 1};
    for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
        ck_assert_int_eq(gd_sum_cols(A.dbias, A.in, 0, huge[i]), GD_EOVERFLOW);
        ck_assert_int_eq(gd_sum_cols(A.dbias, NULL, 0, huge[i]), GD_EOVERFLOW);
    }
    ck_assert_int_eq(memcmp(&before, &A, sizeof A), 0);
}
END_TEST

static const float bad_p[] = {NAN, -NAN, INFINITY, -INFINITY, -0x1p-149f, -1.0f,
                              0x1.000002p0f /* the float after 1 */, 2.0f, FLT_MAX};
static const float good_p[] = {0.0f, -0.0f, 0x1p-149f, 0.5f, 0x1.fffffep-1f, 1.0f};

START_TEST(bad_probability)
{
    for (kind k = 0; k < K_COUNT; k++) {
        if (!has(k, HAS_P))
            continue;
        for (size_t i = 0; i < sizeof bad_p / sizeof bad_p[0]; i++) {
            call c = baseline(k);
            c.p = bad_p[i];
            expect(k, c, GD_EDOMAIN, "bad p");
            /* in place too: the aliased input is not touched either */
            c.out = A.out;
            c.in = A.out;
            expect(k, c, GD_EDOMAIN, "bad p, in place");
        }
        for (size_t i = 0; i < sizeof good_p / sizeof good_p[0]; i++) {
            call c = baseline(k);
            c.p = good_p[i];
            expect(k, c, GD_OK, "edge p");
        }
    }
}
END_TEST

START_TEST(bad_column_probability)
{
    for (kind k = 0; k < K_COUNT; k++) {
        if (!has(k, NEED_PCOLS))
            continue;
        for (size_t i = 0; i < sizeof bad_p / sizeof bad_p[0]; i++) {
            const size_t where[] = {0, COLS / 2, COLS - 1};
            for (size_t w = 0; w < 3; w++) {
                call c = baseline(k);
                A.p_cols[where[w]] = bad_p[i];
                expect(k, c, GD_EDOMAIN, "bad p_cols[c]");
            }
        }
        call c = baseline(k);
        for (size_t i = 0; i < COLS; i++)
            A.p_cols[i] = good_p[i % (sizeof good_p / sizeof good_p[0])];
        expect(k, c, GD_OK, "edge p_cols");
    }
}
END_TEST

START_TEST(bad_sigma)
{
    const float bad[] = {NAN, -NAN, INFINITY, -INFINITY, -0x1p-149f, -1.0f};
    const float good[] = {0.0f, -0.0f, 0x1p-149f, 1.0f, FLT_MAX};
    for (kind k = 0; k < K_COUNT; k++) {
        if (!has(k, HAS_SIGMA))
            continue;
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            call c = baseline(k);
            c.sigma = bad[i];
            expect(k, c, GD_EDOMAIN, "bad sigma");
            c.in = A.out;
            expect(k, c, GD_EDOMAIN, "bad sigma, in place");
        }
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
            call c = baseline(k);
            c.sigma = good[i];
            expect(k, c, GD_OK, "edge sigma");
        }
    }
}
END_TEST

START_TEST(gaussian_sigma_helper)
{
    float sigma = 42.0f;
    for (size_t i = 0; i < sizeof bad_p / sizeof bad_p[0]; i++) {
        ck_assert_int_eq(gd_gaussian_sigma(bad_p[i], &sigma), GD_EDOMAIN);
        ck_assert(sigma == 42.0f);
    }
    ck_assert_int_eq(gd_gaussian_sigma(1.0f, &sigma), GD_EDOMAIN); /* infinite sigma */
    ck_assert(sigma == 42.0f);
    ck_assert_int_eq(gd_gaussian_sigma(0.5f, NULL), GD_EINVAL);
    ck_assert_int_eq(gd_gaussian_sigma(0.5f, &sigma), GD_OK);
    ck_assert(sigma == 1.0f);
    ck_assert_int_eq(gd_gaussian_sigma(0.0f, &sigma), GD_OK);
    ck_assert(sigma == 0.0f);
}
END_TEST

/* Indices offset .. offset+n-1 must stay at or below 2^64 - 1. */
START_TEST(offset_overflow)
{
    for (kind k = 0; k < K_COUNT; k++) {
        const size_t n = has(k, TWO_D) ? (size_t)ROWS * COLS : N;
        call c = baseline(k);
        S.offset = UINT64_MAX - n + 2; /* the last index would be 2^64 */
        expect(k, c, has(k, NEED_S) ? GD_EOVERFLOW : GD_OK, "offset + n passes 2^64");
        reset_arena();
        S.offset = UINT64_MAX;
        expect(k, c, has(k, NEED_S) ? GD_EOVERFLOW : GD_OK, "offset 2^64-1");
        reset_arena();
        S.offset = UINT64_MAX - n + 1; /* ends exactly at 2^64 - 1 */
        expect(k, c, GD_OK, "offset + n ends at 2^64 - 1");
        if (has(k, NEED_S) && !has(k, TWO_D)) {
            /* a huge n is refused before any element is touched */
            reset_arena();
            S.offset = 2;
            c.n = SIZE_MAX;
            expect(k, c, GD_EOVERFLOW, "n = SIZE_MAX at offset 2");
        }
    }
}
END_TEST

/* rows * cols overflowing size_t is refused before anything is read. */
START_TEST(shape_overflow)
{
    const size_t shapes[][2] = {{SIZE_MAX / 2 + 1, 2},
                                {2, SIZE_MAX / 2 + 1},
                                {SIZE_MAX, SIZE_MAX},
                                {(size_t)1 << (sizeof(size_t) * 4), (size_t)1 << (sizeof(size_t) * 4)}};
    for (kind k = 0; k < K_COUNT; k++) {
        if (!has(k, TWO_D))
            continue;
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            call c = baseline(k);
            c.rows = shapes[i][0];
            c.cols = shapes[i][1];
            expect(k, c, GD_EOVERFLOW, "rows * cols overflows");
            /* with every pointer NULL too: the size is checked first */
            call z = {0};
            z.rows = c.rows;
            z.cols = c.cols;
            z.p = 0.5f;
            expect(k, z, GD_EOVERFLOW, "rows * cols overflows, all NULL");
        }
    }
}
END_TEST

START_TEST(philox_nulls)
{
    uint32_t out[4] = {1, 2, 3, 4};
    const uint32_t ctr[4] = {5, 6, 7, 8}, key[2] = {9, 10};
    ck_assert_int_eq(gd_philox4x32_10(NULL, key, out), GD_EINVAL);
    ck_assert_int_eq(gd_philox4x32_10(ctr, NULL, out), GD_EINVAL);
    ck_assert_int_eq(gd_philox4x32_10(ctr, key, NULL), GD_EINVAL);
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(out[i], (uint32_t)i + 1);
}
END_TEST

START_TEST(error_strings)
{
    /* every code in and around the range has a message and a name */
    for (int c = -1000; c <= 1000; c++) {
        ck_assert_ptr_nonnull(gd_strerror(c));
        ck_assert_ptr_nonnull(gd_error_name(c));
    }
    const int extremes[] = {INT32_MIN, INT32_MAX, GD_ERROR_LAST_ - 1, 1};
    for (size_t i = 0; i < sizeof extremes / sizeof extremes[0]; i++) {
        ck_assert_str_eq(gd_strerror(extremes[i]), "unknown error");
        ck_assert_str_eq(gd_error_name(extremes[i]), "GD_EUNKNOWN");
    }
    /* the documented numbers never change meaning */
    ck_assert_int_eq(GD_EINVAL, -1);
    ck_assert_int_eq(GD_EDOMAIN, -2);
    ck_assert_int_eq(GD_EOVERFLOW, -3);
    ck_assert_int_eq(GD_ESHAPE, -4);
    ck_assert_int_eq(GD_ENOTFOUND, -5);
    ck_assert_int_eq(GD_EEXIST, -6);
    ck_assert_int_eq(GD_ENOMEM, -7);
    ck_assert_int_eq(GD_EIO, -8);
    ck_assert_int_eq(GD_EFORMAT, -9);
    ck_assert_int_eq(GD_ESTATE, -10);
    ck_assert_str_eq(gd_error_name(GD_EIO), "GD_EIO");
    ck_assert_str_eq(gd_error_name(GD_ESTATE), "GD_ESTATE");
    /* messages are distinct */
    for (int a = GD_ERROR_LAST_; a <= 0; a++)
        for (int b = a + 1; b <= 0; b++)
            ck_assert_str_ne(gd_strerror(a), gd_strerror(b));
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, null_pointers);
    tcase_add_test(tc, optional_pointers);
    tcase_add_test(tc, empty_sizes);
    tcase_add_test(tc, sum_cols_sizes);
    tcase_add_test(tc, bad_probability);
    tcase_add_test(tc, bad_column_probability);
    tcase_add_test(tc, bad_sigma);
    tcase_add_test(tc, gaussian_sigma_helper);
    tcase_add_test(tc, offset_overflow);
    tcase_add_test(tc, shape_overflow);
    tcase_add_test(tc, philox_nulls);
    tcase_add_test(tc, error_strings);
}

int main(void)
{
    return tu_run("errors", add_tests, 0);
}

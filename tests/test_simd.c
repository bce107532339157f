/*
 * Every SIMD kernel family against the scalar reference, bit for bit: words,
 * normals, masks, outputs, over many lengths, offsets (unaligned to blocks,
 * across the 2^32-block carry, near 2^64), unaligned pointers, in place, the
 * edge probabilities and NULL bias / residual / mask.
 *
 * Usage: test_simd [avx2|avx512].  With a level, only that family is
 * tested and the run is skipped (exit 77) when the CPU lacks it; without
 * one, every family this CPU has is tested, and the dispatch choice too.
 */
#include "test_util.h"
#include "kernels.h"

#include <check.h>
#include <math.h>
#include <stdio.h>

/* The families under test (never the scalar one itself). */
static const gd_kernels *families[2];
static size_t n_families;

static const gd_kernels *const S = &gd_kernels_scalar;

static const float probs[] = {0.0f, -0.0f, 1e-40f, 1e-9f, 0.1f, 0.5f, 0.999999f, 0x1.fffffep-1f, 1.0f};
enum { N_PROBS = sizeof probs / sizeof probs[0] };

/* Offsets: block-aligned and not, the low counter word about to carry into
 * the high one, and the top of the index space (set per length). */
static uint64_t offset_for(size_t k, size_t n)
{
    static const uint64_t fixed[] = {0,
                                     1,
                                     2,
                                     3,
                                     4,
                                     5,
                                     6,
                                     7,
                                     8,
                                     9,
                                     13,
                                     17,
                                     (UINT64_C(1) << 34) - 5,
                                     (UINT64_C(1) << 34) - 64,
                                     (UINT64_C(1) << 34) + 3,
                                     UINT64_C(0x123456789abcd)};
    const size_t nf = sizeof fixed / sizeof fixed[0];
    if (k < nf)
        return fixed[k];
    return UINT64_MAX - (uint64_t)n + 1 - (uint64_t)(k - nf); /* last index 2^64-1-(k-nf) */
}
enum { N_OFFSETS = 18 };

static gd_keyctx key_for(uint64_t seed_salt)
{
    const gd_stream s = {UINT64_C(0x0123456789abcdef) ^ seed_salt, UINT64_C(0xfedcba9876543210),
                         0};
    return gd_keyctx_from(&s);
}

/* Test data with specials sprinkled in: NaN, infinities, signed zeros,
 * subnormals. */
static void fill_special(float *x, size_t n, uint32_t seed)
{
    tu_fill_data(x, n, seed);
    static const float sp[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-40f, -1e-45f, 3e38f};
    for (size_t i = 0; i < n; i += 7)
        x[i] = sp[(i / 7) % (sizeof sp / sizeof sp[0])];
}

static void assert_same_bytes(const void *a, const void *b, size_t bytes, const char *what,
                              const char *fam, size_t n, uint64_t off)
{
    if (memcmp(a, b, bytes) != 0)
        ck_abort_msg("%s: %s differs from scalar (n=%zu, offset=%llu)", fam, what, n,
                     (unsigned long long)off);
}

/* Lengths 1..300 at every offset would be slow under sanitizers: short ones
 * get every offset, longer ones a rotating few, plus a few large ones. */
static size_t n_lengths(void)
{
    return 300 + 4;
}

static size_t length_at(size_t i)
{
    static const size_t big[] = {1023, 1025, 4099, 70001};
    return i < 300 ? i + 1 : big[i - 300];
}

static bool offset_used(size_t len_index, size_t k)
{
    return len_index < 40 || k % 6 == len_index % 6;
}

START_TEST(words_and_normals)
{
    enum { MAXN = 70001 };
    uint32_t *w0 = malloc(MAXN * 4), *w1 = malloc(MAXN * 4);
    float *z0 = tu_alloc_f(MAXN), *z1 = tu_alloc_f(MAXN);
    ck_assert(w0 && w1);
    const gd_keyctx k = key_for(1);
    for (size_t f = 0; f < n_families; f++)
        for (size_t li = 0; li < n_lengths(); li++)
            for (size_t o = 0; o < N_OFFSETS; o++) {
                if (!offset_used(li, o))
                    continue;
                const size_t n = length_at(li);
                const uint64_t off = offset_for(o, n);
                S->words(w0, n, off, &k);
                families[f]->words(w1, n, off, &k);
                assert_same_bytes(w0, w1, n * 4, "words", families[f]->name, n, off);
                S->normal(z0, n, off, &k);
                families[f]->normal(z1 + 1, n, off, &k); /* unaligned output */
                assert_same_bytes(z0, z1 + 1, n * 4, "normals", families[f]->name, n, off);
            }
    free(w0);
    free(w1);
    free(z0);
    free(z1);
}
END_TEST

/* gd_random_u32's words are the contract's words (the scalar table is
 * checked against tu_ref_word in test_philox; here the dispatched one is). */
START_TEST(dispatched_words_match_contract)
{
    const gd_stream s = {99, 77, (UINT64_C(1) << 34) - 9};
    uint32_t r[301];
    ck_assert_int_eq(gd_random_u32(r, 301, &s), GD_OK);
    for (size_t j = 0; j < 301; j++)
        ck_assert_uint_eq(r[j], tu_ref_word(99, 77, s.offset + j));
}
END_TEST

START_TEST(mask_fwd_bwd)
{
    enum { MAXN = 70001, MB = MAXN / 8 + 2 };
    float *x = tu_alloc_f(MAXN + 1), *y0 = tu_alloc_f(MAXN + 1), *y1 = tu_alloc_f(MAXN + 1);
    uint8_t *m0 = malloc(MB), *m1 = malloc(MB);
    ck_assert(m0 && m1);
    const gd_keyctx k = key_for(2);
    for (size_t f = 0; f < n_families; f++) {
        const gd_kernels *K = families[f];
        for (size_t li = 0; li < n_lengths(); li++)
            for (size_t o = 0; o < N_OFFSETS; o++) {
                if (!offset_used(li, o))
                    continue;
                const size_t n = length_at(li), mb = gd_mask_bytes(n);
                const uint64_t off = offset_for(o, n);
                const size_t pi = (li + o) % N_PROBS;
                const uint64_t thr = gd_threshold(probs[pi]);
                const float s = gd_keep_scale(probs[pi]);
                const size_t u = o & 1; /* +1 float: unaligned pointers */
                fill_special(x + u, n, (uint32_t)(li * 31 + o));

                memset(m0, 0xA5, MB);
                memset(m1, 0xA5, MB);
                S->mask(m0, n, off, thr, &k);
                K->mask(m1, n, off, thr, &k);
                assert_same_bytes(m0, m1, MB, "mask", K->name, n, off);

                memset(m0, 0x5A, MB);
                memset(m1, 0x5A, MB);
                S->fwd(y0, x + u, m0, n, off, thr, s, &k);
                K->fwd(y1 + u, x + u, m1, n, off, thr, s, &k);
                assert_same_bytes(y0, y1 + u, n * 4, "fwd", K->name, n, off);
                assert_same_bytes(m0, m1, MB, "fwd mask", K->name, n, off);

                /* mask NULL, in place */
                memcpy(y1 + u, x + u, n * 4);
                K->fwd(y1 + u, y1 + u, NULL, n, off, thr, s, &k);
                assert_same_bytes(y0, y1 + u, n * 4, "fwd in place", K->name, n, off);

                /* backward from the stored mask, and from arbitrary mask bytes */
                S->bwd_mask(y0, x + u, m0, n, s);
                K->bwd_mask(y1 + u, x + u, m0, n, s);
                assert_same_bytes(y0, y1 + u, n * 4, "bwd_mask", K->name, n, off);
                for (size_t b = 0; b < mb; b++)
                    m0[b] = (uint8_t)(b * 37 + n);
                S->bwd_mask(y0, x + u, m0, n, s);
                memcpy(y1 + u, x + u, n * 4);
                K->bwd_mask(y1 + u, y1 + u, m0, n, s);
                assert_same_bytes(y0, y1 + u, n * 4, "bwd_mask in place", K->name, n, off);
            }
    }
    free(x);
    free(y0);
    free(y1);
    free(m0);
    free(m1);
}
END_TEST

/* Column p arrays: all edge values, mixed with random ones. */
static void fill_pcols(float *p, size_t cols, uint32_t seed)
{
    uint32_t s = seed | 1u;
    for (size_t c = 0; c < cols; c++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        p[c] = (s & 3) ? probs[s % N_PROBS] : (float)(s >> 8) * 0x1p-24f;
    }
}

/* Columns below, at and above a vector and a generator batch, multiples of
 * 8 and 16 and not, the widest one-table width (4096) and wider ones (the
 * column-block path, whose row segments start off mask bytes when cols is
 * not a multiple of 8). */
static const size_t shapes[][2] = {{1, 1},    {1, 7},    {3, 1},    {5, 3},    {17, 9},
                                   {9, 16},   {4, 33},   {2, 100},  {40, 31},  {1, 1024},
                                   {3, 1024}, {2, 1025}, {3, 1030}, {5, 2100}, {2, 3073},
                                   {300, 5},  {64, 257}, {1, 4099}, {20, 128}, {7, 129},
                                   {5, 768},  {3, 2049}, {3, 4096}, {2, 4100}, {2, 6144},
                                   {2, 8195}, {2, 6136}, {1, 16384}, {1, 16385}};
enum { N_SHAPES = sizeof shapes / sizeof shapes[0] };

/* The per-column table's thresholds at their boundary, where a mask bit
 * flips: every column whose word w in the call is small (< 2^21) gets
 * p = (w + 0.75) 2^-32, exact in a float, whose t(p) is w (kept), not w + 1
 * (dropped) as a rounding of p 2^32 would make it; every column whose w is
 * a multiple of 256 gets p = w 2^-32 (kept) or the next float up (dropped).
 * The random words of a comparison almost never meet t(p), so only words
 * chosen to meet it show an off-by-one in a family's table. */
START_TEST(cols_threshold_boundary)
{
    enum { C = 16384, ROWS = 2, N = ROWS * C };
    const gd_keyctx k = key_for(11);
    uint32_t *w = malloc(N * sizeof *w);
    float *x = tu_alloc_f(N), *y0 = tu_alloc_f(N), *y1 = tu_alloc_f(N), *pc = tu_alloc_f(C);
    uint8_t *m0 = malloc(N / 8), *m1 = malloc(N / 8);
    ck_assert(w && m0 && m1);
    S->words(w, N, 0, &k);
    size_t small = 0, exact = 0;
    for (size_t c = 0; c < C; c++) {
        pc[c] = 0.25f;
        const uint32_t wc = w[c]; /* row 0's word decides */
        if (wc < (1u << 21)) {
            pc[c] = ((float)wc + 0.75f) * 0x1p-32f;
            ck_assert_uint_eq(gd_threshold(pc[c]), wc);
            small++;
        } else if (wc % 256 == 0) {
            pc[c] = (float)wc * 0x1p-32f;
            if (c % 2)
                pc[c] = nextafterf(pc[c], 1.0f);
            if (c % 2)
                ck_assert_uint_gt(gd_threshold(pc[c]), wc);
            else
                ck_assert_uint_eq(gd_threshold(pc[c]), wc);
            exact++;
        }
    }
    ck_assert_uint_ge(small, 2);
    ck_assert_uint_ge(exact, 20);
    fill_special(x, N, 5);
    S->fwd_cols(y0, x, m0, ROWS, C, pc, 0, &k);
    for (size_t c = 0; c < C; c++) /* the scalar reference itself */
        if (w[c] < (1u << 21) || (w[c] % 256 == 0 && c % 2 == 0))
            ck_assert_uint_eq((m0[c / 8] >> (c % 8)) & 1u, 1);
        else if (w[c] % 256 == 0)
            ck_assert_uint_eq((m0[c / 8] >> (c % 8)) & 1u, 0);
    for (size_t f = 0; f < n_families; f++) {
        const gd_kernels *K = families[f];
        K->fwd_cols(y1, x, m1, ROWS, C, pc, 0, &k);
        assert_same_bytes(m0, m1, N / 8, "fwd_cols boundary mask", K->name, N, 0);
        assert_same_bytes(y0, y1, N * 4, "fwd_cols boundary", K->name, N, 0);
    }
    free(w);
    free(x);
    free(y0);
    free(y1);
    free(pc);
    free(m0);
    free(m1);
}
END_TEST

/* Past 4096 columns (up to GD_WIDE_COLS) the float forward takes one of
 * the shared static tables (src/coltab.c) if one is free, else the strips:
 * both give the scalar reference's bits, and a call that finds every table
 * taken still runs.  Rows on and off mask bytes, one to three rows, with a
 * mask and without, each family. */
START_TEST(cols_shared_tables_taken)
{
    static const size_t wide[][2] = {{2, 8192}, {3, 6136}, {2, 8195}, {1, 16384}, {2, 12289}};
    enum { MAXN = 3 * 16384, MB = MAXN / 8 + 2 };
    float *x = tu_alloc_f(MAXN), *y0 = tu_alloc_f(MAXN), *y1 = tu_alloc_f(MAXN);
    float *y2 = tu_alloc_f(MAXN), *pc = tu_alloc_f(16384);
    uint8_t *m0 = malloc(MB), *m1 = malloc(MB), *m2 = malloc(MB);
    ck_assert(m0 && m1 && m2);
    const gd_keyctx k = key_for(12);
    for (size_t si = 0; si < sizeof wide / sizeof wide[0]; si++) {
        const size_t rows = wide[si][0], cols = wide[si][1], n = rows * cols;
        ck_assert_uint_le(n, MAXN);
        fill_special(x, n, (uint32_t)si + 40);
        fill_pcols(pc, cols, (uint32_t)si + 41);
        memset(m0, 0xA5, MB);
        S->fwd_cols(y0, x, m0, rows, cols, pc, 5 + si, &k);
        for (size_t f = 0; f < n_families; f++) {
            const gd_kernels *K = families[f];
            memset(m1, 0x5A, MB);
            memset(m2, 0x3C, MB);
            K->fwd_cols(y1, x, m1, rows, cols, pc, 5 + si, &k); /* a table free */
            gd_coltab *held[64];
            size_t nheld = 0;
            while (nheld < 64 && (held[nheld] = gd_coltab_take()) != NULL)
                nheld++;
            ck_assert_uint_ge(nheld, 1);
            ck_assert_uint_lt(nheld, 64);
            K->fwd_cols(y2, x, m2, rows, cols, pc, 5 + si, &k); /* every table taken */
            for (size_t i = 0; i < nheld; i++)
                gd_coltab_give(held[i]);
            assert_same_bytes(y0, y1, n * 4, "fwd_cols, a table free", K->name, n, 5 + si);
            assert_same_bytes(y0, y2, n * 4, "fwd_cols, tables taken", K->name, n, 5 + si);
            assert_same_bytes(m0, m1, gd_mask_bytes(n), "mask, a table free", K->name, n, 5 + si);
            assert_same_bytes(m0, m2, gd_mask_bytes(n), "mask, tables taken", K->name, n, 5 + si);
        }
    }
    /* every table is back: as many can be taken again */
    gd_coltab *a = gd_coltab_take();
    ck_assert_ptr_nonnull(a);
    gd_coltab_give(a);
    free(x);
    free(y0);
    free(y1);
    free(y2);
    free(pc);
    free(m0);
    free(m1);
    free(m2);
}
END_TEST

START_TEST(cols_ops)
{
    enum { MAXN = 64 * 257 + 16, MB = MAXN / 8 + 2, MAXC = 16385 };
    float *x = tu_alloc_f(MAXN + 1), *y0 = tu_alloc_f(MAXN + 1), *y1 = tu_alloc_f(MAXN + 1);
    float *pc = tu_alloc_f(MAXC);
    uint8_t *m0 = malloc(MB), *m1 = malloc(MB);
    ck_assert(m0 && m1);
    const gd_keyctx k = key_for(3);
    for (size_t f = 0; f < n_families; f++) {
        const gd_kernels *K = families[f];
        for (size_t si = 0; si < N_SHAPES; si++)
            for (size_t o = 0; o < N_OFFSETS; o += 2) {
                const size_t rows = shapes[si][0], cols = shapes[si][1], n = rows * cols;
                const uint64_t off = offset_for(o + (si & 1), n);
                const size_t u = si & 1;
                fill_special(x + u, n, (uint32_t)(si * 7 + o));
                fill_pcols(pc, cols, (uint32_t)(si * 13 + o + 1));

                memset(m0, 0xA5, MB);
                memset(m1, 0xA5, MB);
                S->fwd_cols(y0, x + u, m0, rows, cols, pc, off, &k);
                K->fwd_cols(y1 + u, x + u, m1, rows, cols, pc, off, &k);
                assert_same_bytes(y0, y1 + u, n * 4, "fwd_cols", K->name, n, off);
                assert_same_bytes(m0, m1, MB, "fwd_cols mask", K->name, n, off);

                memcpy(y1 + u, x + u, n * 4);
                K->fwd_cols(y1 + u, y1 + u, NULL, rows, cols, pc, off, &k);
                assert_same_bytes(y0, y1 + u, n * 4, "fwd_cols in place", K->name, n, off);

                for (size_t b = 0; b < gd_mask_bytes(n); b++)
                    m0[b] = (uint8_t)(b * 101 + o);
                S->bwd_mask_cols(y0, x + u, m0, rows, cols, pc);
                K->bwd_mask_cols(y1 + u, x + u, m0, rows, cols, pc);
                assert_same_bytes(y0, y1 + u, n * 4, "bwd_mask_cols", K->name, n, off);
            }
    }
    free(x);
    free(y0);
    free(y1);
    free(pc);
    free(m0);
    free(m1);
}
END_TEST

/* One add_fwd call's inputs. */
typedef struct add_case {
    const float *x, *bias, *res;
    size_t rows, cols;
    uint64_t off, thr;
    float s;
    const gd_keyctx *k;
} add_case;

/* K's add_fwd against the scalar reference bit for bit (y0 and m0 get the
 * reference, y1 and m1 K's; mb mask bytes are cleared first), then in
 * place: y aliasing x, and y aliasing the residual. */
static void check_add_fwd(const gd_kernels *K, const add_case *c, float *y0, float *y1,
                          uint8_t *m0, uint8_t *m1, size_t mb)
{
    const size_t n = c->rows * c->cols;
    memset(m0, 0xA5, mb);
    memset(m1, 0xA5, mb);
    S->add_fwd(y0, c->x, c->bias, c->res, m0, c->rows, c->cols, c->off, c->thr, c->s, c->k);
    K->add_fwd(y1, c->x, c->bias, c->res, m1, c->rows, c->cols, c->off, c->thr, c->s, c->k);
    assert_same_bytes(y0, y1, n * 4, "add_fwd", K->name, n, c->off);
    assert_same_bytes(m0, m1, mb, "add_fwd mask", K->name, n, c->off);
    memcpy(y1, c->x, n * 4);
    K->add_fwd(y1, y1, c->bias, c->res, NULL, c->rows, c->cols, c->off, c->thr, c->s, c->k);
    assert_same_bytes(y0, y1, n * 4, "add_fwd y==x", K->name, n, c->off);
    if (c->res) {
        memcpy(y1, c->res, n * 4);
        K->add_fwd(y1, c->x, c->bias, y1, NULL, c->rows, c->cols, c->off, c->thr, c->s, c->k);
        assert_same_bytes(y0, y1, n * 4, "add_fwd y==res", K->name, n, c->off);
    }
}

/* The add_fwd tests' buffers: n + 1 elements (room for a misaligned
 * start), cols + 1 bias entries, mb mask bytes each. */
typedef struct add_bufs {
    float *x, *r, *bias, *y0, *y1;
    uint8_t *m0, *m1;
} add_bufs;

static add_bufs add_bufs_alloc(size_t n, size_t cols, size_t mb)
{
    const add_bufs a = {tu_alloc_f(n + 1), tu_alloc_f(n + 1), tu_alloc_f(cols + 1),
                        tu_alloc_f(n + 1), tu_alloc_f(n + 1), malloc(mb), malloc(mb)};
    ck_assert(a.m0 && a.m1);
    return a;
}

static void add_bufs_free(add_bufs *a)
{
    free(a->x);
    free(a->r);
    free(a->bias);
    free(a->y0);
    free(a->y1);
    free(a->m0);
    free(a->m1);
}

START_TEST(add_fwd_ops)
{
    enum { MAXN = 64 * 257 + 16, MB = MAXN / 8 + 2, MAXC = 16385 };
    add_bufs a = add_bufs_alloc(MAXN, MAXC, MB);
    float *x = a.x, *r = a.r, *bias = a.bias;
    const gd_keyctx k = key_for(4);
    for (size_t f = 0; f < n_families; f++) {
        const gd_kernels *K = families[f];
        for (size_t si = 0; si < N_SHAPES; si++)
            for (size_t o = 0; o < N_OFFSETS; o += 3)
                for (unsigned var = 0; var < 4; var++) {
                    const size_t rows = shapes[si][0], cols = shapes[si][1], n = rows * cols;
                    const uint64_t off = offset_for(o, n);
                    const float p = probs[(si + o + var) % N_PROBS];
                    const uint64_t thr = gd_threshold(p);
                    const float s = gd_keep_scale(p);
                    const size_t u = (si + var) & 1;
                    fill_special(x + u, n, (uint32_t)(si * 5 + o));
                    tu_fill_data(r + u, n, (uint32_t)(si * 11 + o + 3));
                    fill_special(bias + u, cols, (uint32_t)(si + o + 9));
                    const float *b = var & 1 ? bias + u : NULL;
                    const float *res = var & 2 ? r + u : NULL;
                    const add_case c = {x + u, b, res, rows, cols, off, thr, s, &k};
                    check_add_fwd(K, &c, a.y0, a.y1 + u, a.m0, a.m1, MB);
                }
    }
    add_bufs_free(&a);
}
END_TEST

/* Past L2 (1 MiB) the float epilogue fetches x and the residual ahead of
 * each batch; its bits stay the scalar reference's, with and without a
 * residual and a bias, in place on x and on the residual, from an offset
 * inside a Philox block, the tensor's end inside a batch. */
START_TEST(add_fwd_past_l2)
{
    enum { ROWS = 301, COLS = 1023, N = ROWS * COLS, MB = N / 8 + 2 };
    add_bufs a = add_bufs_alloc(N, COLS, MB);
    float *x = a.x, *r = a.r, *bias = a.bias;
    ck_assert_uint_gt((size_t)N * sizeof(float), (size_t)1 << 20);
    const gd_keyctx k = key_for(13);
    fill_special(x, N, 77);
    tu_fill_data(r, N, 78);
    fill_special(bias, COLS, 79);
    for (size_t f = 0; f < n_families; f++)
        for (unsigned var = 0; var < 4; var++) {
            const add_case c = {.x = x,
                                .bias = var & 1 ? bias : NULL,
                                .res = var & 2 ? r : NULL,
                                .rows = ROWS,
                                .cols = COLS,
                                .off = 6,
                                .thr = gd_threshold(0.3f),
                                .s = gd_keep_scale(0.3f),
                                .k = &k};
            check_add_fwd(families[f], &c, a.y0, a.y1, a.m0, a.m1, MB);
        }
    add_bufs_free(&a);
}
END_TEST

START_TEST(gauss_ops)
{
    enum { MAXN = 70001 };
    float *x = tu_alloc_f(MAXN + 1), *y0 = tu_alloc_f(MAXN + 1), *y1 = tu_alloc_f(MAXN + 1);
    static const float sigmas[] = {0.0f, 0.1f, 0.3333333f, 1.0f, 7.5f, 3e38f};
    const gd_keyctx k = key_for(5);
    for (size_t f = 0; f < n_families; f++) {
        const gd_kernels *K = families[f];
        for (size_t li = 0; li < n_lengths(); li++)
            for (size_t o = 0; o < N_OFFSETS; o++) {
                if (!offset_used(li, o))
                    continue;
                const size_t n = length_at(li);
                const uint64_t off = offset_for(o, n);
                const float sg = sigmas[(li + o) % 6];
                const size_t u = (li + o) & 1;
                fill_special(x + u, n, (uint32_t)(li + 3 * o));
                S->gauss(y0, x + u, n, sg, off, &k);
                K->gauss(y1 + u, x + u, n, sg, off, &k);
                assert_same_bytes(y0, y1 + u, n * 4, "gauss", K->name, n, off);
                memcpy(y1 + u, x + u, n * 4);
                K->gauss(y1 + u, y1 + u, n, sg, off, &k);
                assert_same_bytes(y0, y1 + u, n * 4, "gauss in place", K->name, n, off);
            }
    }
    free(x);
    free(y0);
    free(y1);
}
END_TEST

/* Many keys: the normal transform's branches (quadrants, the f > sqrt(2)
 * fold) and the carry of lane block numbers see varied words. */
START_TEST(many_keys)
{
    enum { N = 333 };
    uint32_t w0[N], w1[N];
    float z0[N], z1[N];
    for (size_t f = 0; f < n_families; f++)
        for (uint64_t salt = 0; salt < 200; salt++) {
            const gd_keyctx k = key_for(salt * UINT64_C(0x9E3779B97F4A7C15));
            const uint64_t off = salt * UINT64_C(0x100000001) + salt % 5;
            S->words(w0, N, off, &k);
            families[f]->words(w1, N, off, &k);
            assert_same_bytes(w0, w1, sizeof w0, "words", families[f]->name, N, off);
            S->normal(z0, N, off, &k);
            families[f]->normal(z1, N, off, &k);
            assert_same_bytes(z0, z1, sizeof z0, "normals", families[f]->name, N, off);
        }
}
END_TEST

/* Edge words of the normal transform, fed directly (random words reach
 * them only by chance): u's mantissa on both sides of the ln fold at
 * f = sqrt(2) (bits 0x3FB504F3) for every exponent of u, the extreme u
 * (a = 0: u = 2^-24; a >= 0xFFFFFF00: u = 1, ln = 0), and angles on both
 * sides of every quarter-turn boundary (k + 2^21 a multiple of 2^22) and at
 * the ends of the range.  Every family must match gd_normal_pair bit for
 * bit, and gd_normal_pair must match Box-Muller in double. */
enum { EDGE_A = 24 * 9 + 6, EDGE_B = 5 * 5 + 6 };

static void edge_words(uint32_t *as, uint32_t *bs)
{
    size_t na = 0, nb = 0;
    for (unsigned e = 0; e < 24; e++) {
        /* m = (a >> 8) + 1 in [2^e, 2^(e+1)): its mantissa as f is
         * (m << (23 - e)) & 0x7FFFFF; the fold is above 0x3504F3 */
        const uint32_t m0 = (0x3504F3u + 0x800000u) >> (23 - e);
        for (int d = -4; d <= 4; d++) {
            uint32_t m = m0 + (uint32_t)d;
            if (m < (1u << e) || m >= (2u << e))
                m = 1u << e;
            as[na++] = (m - 1) << 8 | (uint32_t)(d & 0xFF);
        }
    }
    static const uint32_t a_ends[] = {0, 0xFF, 0x100, 0xFFFFFE00u, 0xFFFFFF00u, 0xFFFFFFFFu};
    for (size_t i = 0; i < 6; i++)
        as[na++] = a_ends[i];
    for (uint32_t j = 0; j <= 4; j++)
        for (int d = -2; d <= 2; d++) {
            const uint32_t k = (j << 22) - (1u << 21) + (uint32_t)d; /* k + 2^21 = j*2^22 + d */
            bs[nb++] = (k & 0xFFFFFFu) << 8 | (uint32_t)(j * 37 + 5);
        }
    static const uint32_t b_ends[] = {0, 0xFF, 0x100, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu};
    for (size_t i = 0; i < 6; i++)
        bs[nb++] = b_ends[i];
    ck_assert_uint_eq(na, EDGE_A);
    ck_assert_uint_eq(nb, EDGE_B);
}

START_TEST(normal_edge_words)
{
    enum { PAIRS = EDGE_A * EDGE_B, BLOCKS = (PAIRS + 1) / 2 };
    uint32_t as[EDGE_A], bs[EDGE_B];
    edge_words(as, bs);
    uint32_t *w = calloc(4 * BLOCKS, sizeof *w);
    float *z0 = tu_alloc_f(4 * BLOCKS), *z1 = tu_alloc_f(4 * BLOCKS);
    ck_assert(w);
    for (size_t i = 0; i < PAIRS; i++) {
        w[2 * i] = as[i / EDGE_B];
        w[2 * i + 1] = bs[i % EDGE_B];
    }
    size_t folded = 0, unfolded = 0;
    S->normal_words(z0, w, BLOCKS);
    for (size_t i = 0; i < PAIRS; i++) {
        const uint32_t a = w[2 * i], b = w[2 * i + 1];
        const double u = ((double)(a >> 8) + 1.0) / 16777216.0;
        const double theta = 2.0 * 3.14159265358979323846 * (double)(b >> 8) / 16777216.0;
        const double rad = sqrt(-2.0 * log(u));
        const double want[2] = {rad * cos(theta), rad * sin(theta)};
        for (int h = 0; h < 2; h++)
            ck_assert_msg(fabs(z0[2 * i + h] - want[h]) <= 2e-6 * (1.0 + fabs(want[h])),
                          "a=%08x b=%08x z=%.9g ref=%.9g", a, b, (double)z0[2 * i + h], want[h]);
        /* which side of the fold this u is on (the fold tests f's bits) */
        const uint32_t bits = tu_f32_bits((float)((a >> 8) + 1u) * 0x1p-24f);
        if (((bits & 0x7FFFFFu) | 0x3F800000u) > 0x3FB504F3u)
            folded++;
        else
            unfolded++;
    }
    ck_assert_uint_ge(folded, 24 * 3);
    ck_assert_uint_ge(unfolded, 24 * 3);
    for (size_t f = 0; f < n_families; f++) {
        memset(z1, 0xA5, 4 * BLOCKS * sizeof *z1);
        families[f]->normal_words(z1, w, BLOCKS);
        for (size_t i = 0; i < 4 * BLOCKS; i++)
            ck_assert_msg(tu_f32_bits(z0[i]) == tu_f32_bits(z1[i]),
                          "%s: a=%08x b=%08x: %.9g != scalar %.9g", families[f]->name,
                          w[i / 2 * 2], w[i / 2 * 2 + 1], (double)z1[i], (double)z0[i]);
    }
    free(w);
    free(z0);
    free(z1);
}
END_TEST

/* The Fisher passes: the finiteness scan (its verdict, max |x| and the
 * squares), acc += g and acc += g^2 in double, on every length 0..70 and a
 * long one (vector bodies and tails), clean data and data with a NaN or an
 * Inf at each position class, unaligned starts. */
START_TEST(fisher_passes)
{
    enum { MAXN = 1031 };
    float *x = tu_alloc_f(MAXN + 1), *sq0 = tu_alloc_f(MAXN + 1), *sq1 = tu_alloc_f(MAXN + 1);
    double *a0 = malloc((MAXN + 1) * sizeof *a0), *a1 = malloc((MAXN + 1) * sizeof *a1);
    ck_assert(a0 && a1);
    size_t checked_bad = 0, checked_good = 0;
    for (size_t n = 0; n <= MAXN; n = n < 70 ? n + 1 : n + 480) {
        for (int kind = 0; kind < 4; kind++) {
            const size_t lead = (size_t)kind & 1; /* an unaligned start */
            float *xs = x + lead;
            tu_fill_data(xs, n, (uint32_t)(n * 4 + (size_t)kind));
            for (size_t i = 0; i < n; i += 5)
                xs[i] = i % 10 ? -0.0f : 1e-40f; /* signed zeros, subnormals */
            if (kind >= 2 && n > 0) /* one NaN or Inf, moving through the vector lanes */
                xs[(n * 7 + (size_t)kind) % n] = kind == 2 ? NAN : -INFINITY;
            for (size_t i = 0; i < n; i++)
                a0[i] = a1[i] = (double)i * 0.25 - 3.0;
            float m0 = -1.0f, m1 = -1.0f;
            memset(sq0, 0x55, (MAXN + 1) * sizeof *sq0);
            memset(sq1, 0x55, (MAXN + 1) * sizeof *sq1);
            const bool ok0 = S->finite(sq0, xs, n, &m0);
            ck_assert(ok0 == (kind < 2 || n == 0));
            checked_bad += !ok0;
            checked_good += ok0 && n > 40;
            if (ok0) { /* the reference's max |x|, in double */
                double want = 0.0;
                for (size_t i = 0; i < n; i++)
                    want = fabs((double)xs[i]) > want ? fabs((double)xs[i]) : want;
                ck_assert((double)m0 == want);
            }
            for (size_t f = 0; f < n_families; f++) {
                const char *fam = families[f]->name;
                const bool ok1 = families[f]->finite(sq1, xs, n, &m1);
                ck_assert_msg(ok1 == ok0, "%s: finite verdict differs (n=%zu)", fam, n);
                ck_assert_msg(tu_f32_bits(m1) == tu_f32_bits(m0), "%s: amax differs (n=%zu)",
                              fam, n);
                assert_same_bytes(sq0, sq1, (MAXN + 1) * sizeof *sq0, "squares", fam, n, 0);
                ck_assert(families[f]->finite(NULL, xs, n, NULL) == ok0);
                if (!ok0)
                    continue;
                for (size_t i = 0; i < n; i++)
                    a1[i] = (double)i * 0.25 - 3.0;
                S->acc_add(a0, xs, n);
                families[f]->acc_add(a1, xs, n);
                S->acc_add_sq(a0, xs, n);
                families[f]->acc_add_sq(a1, xs, n);
                assert_same_bytes(a0, a1, n * sizeof *a0, "acc_add(_sq)", fam, n, 0);
                for (size_t i = 0; i < n; i++)
                    a0[i] = (double)i * 0.25 - 3.0;
            }
            if (ok0) { /* the reference against its definition */
                S->acc_add_sq(a0, xs, n);
                for (size_t i = 0; i < n; i++)
                    ck_assert(a0[i] == (double)i * 0.25 - 3.0 + (double)xs[i] * (double)xs[i]);
            }
        }
    }
    ck_assert_uint_gt(checked_bad, 100);
    ck_assert_uint_gt(checked_good, 10);
    free(x);
    free(sq0);
    free(sq1);
    free(a0);
    free(a1);
}
END_TEST

/* acc_prod against its contract, bit for bit: g summed in float from +0
 * by fmaf, t ascending, g or its square added in double.  Shapes fill
 * whole tiles, leave rows (out % PROD_ROWS) and columns (in % VL, in %
 * 2VL) over, and cross column blocks (32 KiB of b: 128 columns at k 64),
 * in place and given scratch (which it uses from gd_prod_packs's 256
 * columns on; 600 x 232 by 600 x 320 packs
 * a's rows in three blocks and b's columns in ten);
 * terms include zeros of both signs and products that cancel.  The scalar
 * family has none (its callers take the sgemm path). */
START_TEST(prod_contract)
{
    static const size_t shapes[][3] = {{1, 1, 1},    {3, 17, 5},  {13, 77, 19}, {64, 300, 11},
                                       {16, 128, 64}, {7, 33, 9}, {300, 40, 7}, {2, 8, 24},
                                       {5, 16, 8},   {1, 2049, 3}, {9, 1024, 24}, {5, 70, 13},
                                       {600, 320, 232}};
    ck_assert(S->acc_prod == NULL);
    for (size_t s = 0; s < 2 * sizeof shapes / sizeof shapes[0]; s++) {
        const bool square = s % 2 == 0;
        const size_t k = shapes[s / 2][0], in = shapes[s / 2][1], out = shapes[s / 2][2];
        float *b = tu_alloc_f(k * in), *a = tu_alloc_f(k * out);
        tu_fill_normal(b, k * in, 100 + s, 1.0);
        tu_fill_normal(a, k * out, 200 + s, 0.5);
        for (size_t e = 0; e < k * in; e += 5)
            b[e] = e % 2 ? -0.0f : 0.0f;
        if (k > 1) /* row 1 cancels row 0 for every even column */
            for (size_t i = 0; i < in; i += 2)
                b[in + i] = b[i], a[out] = -a[0];
        double *want = malloc(out * in * sizeof *want), *got = malloc(out * in * sizeof *got);
        for (size_t o = 0; o < out; o++)
            for (size_t i = 0; i < in; i++) {
                float g = 0.0f;
                for (size_t t = 0; t < k; t++)
                    g = fmaf(a[t * out + o], b[t * in + i], g);
                const double a0 = (double)(o * in + i) * 0.125 - 1.0;
                want[o * in + i] = a0 + (square ? (double)g * (double)g : (double)g);
            }
        size_t pack_bytes;
        ck_assert(gd_prod_pack_bytes(k, &pack_bytes));
        float *pack = tu_alloc_f(pack_bytes / sizeof(float));
        for (size_t f = 0; f < 2 * n_families; f++) { /* in place, then packed */
            for (size_t e = 0; e < out * in; e++)
                got[e] = (double)e * 0.125 - 1.0;
            families[f / 2]->acc_prod(got, a, b, k, in, out, f % 2 ? pack : NULL, square);
            for (size_t e = 0; e < out * in; e++)
                ck_assert_msg(got[e] == want[e],
                              "%s%s: k %zu in %zu out %zu square %d: [%zu] %.17g != %.17g",
                              families[f / 2]->name, f % 2 ? " packed" : "", k, in, out, square,
                              e, got[e], want[e]);
        }
        free(a), free(b), free(want), free(got), free(pack);
    }
}
END_TEST

/* The dispatched family is the best one the CPU has, capped by
 * GDROPOUT_DISPATCH. */
START_TEST(dispatch_choice)
{
    int best = GD_LEVEL_SCALAR;
    for (int l = GD_LEVEL_AVX2; l <= GD_LEVEL_AVX512; l++)
        if (gd_kernels_level(l))
            best = l;
    const char *cap = getenv("GDROPOUT_DISPATCH");
    int want = best;
    if (cap && strcmp(cap, "scalar") == 0)
        want = GD_LEVEL_SCALAR;
    else if (cap && strcmp(cap, "avx2") == 0 && best > GD_LEVEL_AVX2)
        want = GD_LEVEL_AVX2;
    ck_assert_str_eq(gd_dispatch_name(), gd_kernels_level(want)->name);
    ck_assert_ptr_eq(gd_kernels_level(GD_LEVEL_SCALAR), &gd_kernels_scalar);
    ck_assert_ptr_null(gd_kernels_level(3));
    ck_assert_ptr_null(gd_kernels_level(-1));
}
END_TEST

static int level_of(const char *name)
{
    if (strcmp(name, "avx2") == 0)
        return GD_LEVEL_AVX2;
    if (strcmp(name, "avx512") == 0)
        return GD_LEVEL_AVX512;
    return -1;
}

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, dispatch_choice);
    tcase_add_test(tc, dispatched_words_match_contract);
    tcase_add_test(tc, words_and_normals);
    tcase_add_test(tc, mask_fwd_bwd);
    tcase_add_test(tc, cols_ops);
    tcase_add_test(tc, cols_threshold_boundary);
    tcase_add_test(tc, cols_shared_tables_taken);
    tcase_add_test(tc, add_fwd_ops);
    tcase_add_test(tc, add_fwd_past_l2);
    tcase_add_test(tc, gauss_ops);
    tcase_add_test(tc, many_keys);
    tcase_add_test(tc, normal_edge_words);
    tcase_add_test(tc, fisher_passes);
    tcase_add_test(tc, prod_contract);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        const int level = level_of(argv[1]);
        if (level < 0) {
            fprintf(stderr, "usage: test_simd [avx2|avx512]\n");
            return 2;
        }
        if (!gd_kernels_level(level)) {
            printf("test_simd: this CPU or build has no %s kernels, skipped\n", argv[1]);
            return 77;
        }
        families[n_families++] = gd_kernels_level(level);
    } else {
        for (int l = GD_LEVEL_AVX2; l <= GD_LEVEL_AVX512; l++)
            if (gd_kernels_level(l))
                families[n_families++] = gd_kernels_level(l);
    }

    if (tu_run("simd", add_tests, 600) != 0)
        return 1;
    if (n_families == 0) {
        printf("test_simd: no SIMD family on this CPU or build, skipped\n");
        return 77;
    }
    return 0;
}

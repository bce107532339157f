/*
 * The kernels of <gdropout/mixed.h>: argument checks, then one driver for
 * every element type and mask rule.
 *
 * The driver walks a call in chunks of CH elements (a multiple of 8, so a
 * chunk's mask bits are whole bytes of the call's mask).  Per chunk it
 * converts the half inputs to float (exact), computes in float exactly as
 * the float kernel does (the float family's own op where one fits, else an
 * element loop here with the same operations in the same order) and rounds
 * the results to the half type.  Keep bits come from the float family's
 * generator: under the 32-bit rule its mask or fused op, under the 16-bit
 * rule its words of indices first/2 .. last/2 through the level's mask16.
 * With GD_F32 and GD_MASK_32 each function is its 1.0 function.
 *
 * Where the level's float family has them (AVX-512: fwd_ex, gauss_h,
 * add_fwd_ex, fwd_cols_ex, bwd_mask_h in src/kernels.h; src/kernels_avx2.c
 * says why the AVX2 family has none), the forward, regenerated
 * backward, Gaussian, fused epilogue and per-column forward go in one pass
 * instead, for bf16 and fp16 under either rule and for float under the
 * 16-bit rule: the float op's own loop with the conversions and the 16-bit
 * draws in lanes, so the generator's arithmetic overlaps the memory
 * traffic.  The chunks are what every other case uses.
 */
#include "half.h"

enum { CH = 512, TABC = 4096, MASK_CH = 8192 /* gd_mask_bernoulli_ex: 16 KiB of words */ };
_Static_assert(MASK_CH % 8 == 0, "a step starts on a mask byte");
_Static_assert(CH % 8 == 0, "a chunk starts on a mask byte");

typedef struct hctx {
    const gd_half_kernels *hk;
    int dtype, rule;
    gd_keyctx key;
} hctx;

static inline size_t min_sz(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* ---- argument checks (kernels.h's, plus the codes) ------------------------ */

static bool dtype_ok(int dtype)
{
    return dtype == GD_F32 || dtype == GD_BF16 || dtype == GD_F16;
}

static bool rule_ok(int rule)
{
    return rule == GD_MASK_32 || rule == GD_MASK_16;
}

static hctx ctx_of(int dtype, int rule, const gd_stream *s)
{
    hctx c = {gd_half_get(), dtype, rule, {{0, 0}, {0, 0}, {{0, 0}}}};
    if (s)
        c.key = gd_keyctx_from(s);
    return c;
}

/* ---- chunk conversions ------------------------------------------------------ */

/* Elements at .. at+n-1 of src as float: src itself for GD_F32, else
 * converted into buf. */
static const float *load(const hctx *c, const void *src, size_t at, size_t n, float *buf)
{
    if (c->dtype == GD_F32)
        return (const float *)src + at;
    const uint16_t *h = (const uint16_t *)src + at;
    if (c->dtype == GD_BF16)
        c->hk->bf16_to_f32(buf, h, n);
    else
        c->hk->f16_to_f32(buf, h, n);
    return buf;
}

/* Where a chunk's float results go: dst itself for GD_F32, else buf. */
static float *out_buf(const hctx *c, void *dst, size_t at, float *buf)
{
    return c->dtype == GD_F32 ? (float *)dst + at : buf;
}

/* Rounds a chunk's results from buf into dst (nothing to do for GD_F32). */
static void store(const hctx *c, void *dst, size_t at, const float *buf, size_t n)
{
    if (c->dtype == GD_F32)
        return;
    uint16_t *h = (uint16_t *)dst + at;
    if (c->dtype == GD_BF16)
        c->hk->f32_to_bf16(h, buf, n);
    else
        c->hk->f32_to_f16(h, buf, n);
}

/* Element e of a tensor of the call's type. */
static void *elem_at(const hctx *c, void *p, size_t e)
{
    return (unsigned char *)p + e * (c->dtype == GD_F32 ? sizeof(float) : sizeof(uint16_t));
}

static const void *celem_at(const hctx *c, const void *p, size_t e)
{
    return (const unsigned char *)p + e * (c->dtype == GD_F32 ? sizeof(float) : sizeof(uint16_t));
}

/* ---- keep bits ------------------------------------------------------------ */

/* The keep scale of p under the call's rule. */
static float scale_of(const hctx *c, float p)
{
    return c->rule == GD_MASK_16 ? gd_keep_scale16(gd_k16(p)) : gd_keep_scale(p);
}

/* p's threshold under the call's rule: t(p) or k(p) (the one-pass ops). */
static uint64_t thr_of(const hctx *c, float p)
{
    return c->rule == GD_MASK_16 ? gd_k16(p) : gd_threshold(p);
}

/* The words holding the 16-bit draws of indices first .. first+len-1 into
 * w (at most CH/2 + 1 words); returns the first element's half. */
static unsigned words16(const hctx *c, uint32_t *w, uint64_t first, size_t len)
{
    const uint64_t w0 = first >> 1, w1 = (first + (len - 1)) >> 1;
    c->hk->f32->words(w, (size_t)(w1 - w0 + 1), w0, &c->key);
    return (unsigned)(first & 1);
}

/* Keep bits of len <= CH elements from absolute index first at one p. */
static void chunk_bits(const hctx *c, uint8_t *bits, size_t len, uint64_t first, float p)
{
    if (c->rule == GD_MASK_32) {
        c->hk->f32->mask(bits, len, first, gd_threshold(p), &c->key);
        return;
    }
    uint32_t w[CH / 2 + 1];
    const unsigned h = words16(c, w, first, len);
    c->hk->mask16(bits, w, h, len, gd_k16(p));
}

/* A column's threshold and scale in 8 bytes: kept iff draw >= t && s != 0.
 * The 32-bit rule's t(1) = 2^32 (nothing kept) becomes t = 0, s = 0, the
 * only case with s = 0 (every other scale is >= 1); under the 16-bit rule
 * k = 65536 is above every draw and its scale is 0 too. */
typedef struct col_rule {
    uint32_t t;
    float s;
} col_rule;

static col_rule col_rule_of(int rule, float p)
{
    col_rule r = {0, 0.0f};
    if (rule == GD_MASK_16) {
        r.t = gd_k16(p);
        r.s = gd_keep_scale16(r.t);
        return r;
    }
    const uint64_t t = gd_threshold(p);
    if (t <= UINT32_MAX) {
        r.t = (uint32_t)t;
        r.s = gd_keep_scale(p);
    }
    return r;
}

/* The column rules of up to TABC columns, as two arrays so that a chunk's
 * thresholds and scales are slices the level's loops read as they are:
 * - up to TABC columns, cyclic (entry i is column i % cols for i < cols +
 *   CH), so a chunk in element order whose first element is in column col
 *   reads entries col .. col + len - 1, whatever row ends it crosses;
 * - wider, one block of TABC columns at a time, walked row segment by row
 *   segment (tab_block), when every segment starts on a mask byte;
 * - otherwise (wider, and cols not a multiple of 8) rule by rule per
 *   element (chunk_rules: a division and a floor per element, the slow
 *   path).
 * Before, every chunk copied its rules element by element from the table:
 * that loop alone made the per-column forms 3-6x their floor. */
typedef struct col_tab {
    uint32_t t[TABC + CH];
    float s[TABC + CH];
} col_tab;

static void tab_fill(col_tab *tb, int rule, const float *p_cols, size_t ncols)
{
    for (size_t c = 0; c < ncols; c++) {
        const col_rule r = col_rule_of(rule, p_cols[c]);
        tb->t[c] = r.t;
        tb->s[c] = r.s;
    }
}

static void tab_cyclic(col_tab *tb, int rule, const float *p_cols, size_t cols)
{
    tab_fill(tb, rule, p_cols, cols);
    for (size_t i = cols; i < cols + CH; i++) { /* no division per entry */
        tb->t[i] = tb->t[i - cols];
        tb->s[i] = tb->s[i - cols];
    }
}

/* The rules of a chunk's len elements from column col on, rule by rule,
 * into t and sc (the slow path). */
static void chunk_rules(int rule, const float *p_cols, size_t col, size_t cols, size_t len,
                        uint32_t *t, float *sc)
{
    for (size_t j = 0; j < len; j++) {
        const col_rule r = col_rule_of(rule, p_cols[col]);
        t[j] = r.t;
        sc[j] = r.s;
        col = col + 1 == cols ? 0 : col + 1;
    }
}

/* Keep bits of len <= CH elements from absolute index first against the
 * per-element thresholds t and scales sc. */
static void chunk_bits_cols(const hctx *c, uint8_t *bits, size_t len, uint64_t first,
                            const uint32_t *t, const float *sc)
{
    uint32_t w[CH];
    if (c->rule == GD_MASK_32) {
        c->hk->f32->words(w, len, first, &c->key);
        c->hk->keep_bits(bits, w, t, sc, len);
        return;
    }
    /* the draws in element order, as words: each word's low then high half
     * (gd_draw16), a pair at a time, from a separate array so the loop
     * vectorises (in place, descending, it ran element by element and was
     * two thirds of the 16-bit rule's per-column forms) */
    uint32_t w16[CH / 2 + 1], d[CH + 2];
    const unsigned h = words16(c, w16, first, len);
    const size_t pairs = (h + len + 1) / 2;
    for (size_t i = 0; i < pairs; i++) {
        d[2 * i] = w16[i] & 0xFFFFu;
        d[2 * i + 1] = w16[i] >> 16;
    }
    c->hk->keep_bits(bits, d + h, t, sc, len);
}

/* ---- the ops (arguments validated, n > 0) ---------------------------------- */

static void fwd_op(const hctx *c, void *y, const void *x, uint8_t *mask, size_t n, float p,
                   uint64_t first)
{
    float xb[CH], yb[CH];
    const float s = scale_of(c, p);
    if (c->dtype == GD_F32 && c->rule == GD_MASK_32) { /* the 1.0 op (add_bwd_op) */
        c->hk->f32->fwd(y, x, mask, n, first, gd_threshold(p), s, &c->key);
        return;
    }
    if (c->hk->f32->fwd_ex) { /* one pass */
        c->hk->f32->fwd_ex(y, x, mask, n, first, thr_of(c, p), s, &c->key, c->dtype, c->rule);
        return;
    }
    for (size_t j0 = 0; j0 < n; j0 += CH) {
        const size_t len = min_sz(CH, n - j0);
        const float *in = load(c, x, j0, len, xb);
        float *out = out_buf(c, y, j0, yb);
        uint8_t *mb = mask ? mask + j0 / 8 : NULL;
        if (c->rule == GD_MASK_32) {
            c->hk->f32->fwd(out, in, mb, len, first + j0, gd_threshold(p), s, &c->key);
        } else {
            uint32_t w[CH / 2 + 1];
            const unsigned h = words16(c, w, first + j0, len);
            c->hk->fwd16(out, in, mb, w, h, len, gd_k16(p), s);
        }
        store(c, y, j0, out, len);
    }
}

static void bwd_mask_op(const hctx *c, void *dx, const void *dy, const uint8_t *mask, size_t n,
                        float p)
{
    float xb[CH], yb[CH];
    const float s = scale_of(c, p);
    if (c->dtype == GD_F32) {
        c->hk->f32->bwd_mask(dx, dy, mask, n, s);
        return;
    }
    if (c->hk->f32->bwd_mask_h) { /* one pass */
        c->hk->f32->bwd_mask_h(dx, dy, mask, n, s, c->dtype);
        return;
    }
    for (size_t j0 = 0; j0 < n; j0 += CH) {
        const size_t len = min_sz(CH, n - j0);
        const float *in = load(c, dy, j0, len, xb);
        float *out = out_buf(c, dx, j0, yb);
        c->hk->f32->bwd_mask(out, in, mask + j0 / 8, len, s);
        store(c, dx, j0, out, len);
    }
}

/* What a per-column call does to one chunk: len <= CH elements from call
 * element j (a mask byte boundary) with thresholds t and scales sc. */
typedef struct cols_call {
    void *y;
    const void *x;
    uint8_t *mask_out;
    const uint8_t *mask_in;
    uint64_t first;
} cols_call;

static void cols_chunk(const hctx *c, const cols_call *a, size_t j, size_t len, const uint32_t *t,
                       const float *sc)
{
    float xb[CH], yb[CH];
    uint8_t bits[CH / 8];
    const uint8_t *kb;
    if (a->mask_in) {
        kb = a->mask_in + j / 8;
    } else {
        uint8_t *mb = a->mask_out ? a->mask_out + j / 8 : bits;
        chunk_bits_cols(c, mb, len, a->first + j, t, sc);
        kb = mb;
    }
    const float *in = load(c, a->x, j, len, xb);
    float *out = out_buf(c, a->y, j, yb);
    c->hk->scale_bits(out, in, kb, sc, len);
    store(c, a->y, j, out, len);
}

/* Per-column forward (mask_in NULL: bits drawn, and written to mask_out if
 * given) or backward from a stored mask; element j of the call is in column
 * j % cols.  The chunk order differs by path (col_tab); each chunk's
 * results depend only on its own elements, so the output does not. */
static void cols_op(const hctx *c, void *y, const void *x, uint8_t *mask_out,
                    const uint8_t *mask_in, size_t rows, size_t cols, const float *p_cols,
                    uint64_t first)
{
    const size_t n = rows * cols;
    const cols_call a = {y, x, mask_out, mask_in, first};
    col_tab tb;
    if (cols <= TABC) {
        tab_cyclic(&tb, c->rule, p_cols, cols);
        size_t col = 0; /* column of element j0 */
        for (size_t j0 = 0; j0 < n; j0 += CH) {
            cols_chunk(c, &a, j0, min_sz(CH, n - j0), tb.t + col, tb.s + col);
            col = (col + CH % cols) % cols;
        }
    } else if (cols % 8 == 0) {
        for (size_t c0 = 0; c0 < cols; c0 += TABC) {
            const size_t width = min_sz(TABC, cols - c0);
            tab_fill(&tb, c->rule, p_cols + c0, width);
            for (size_t r = 0; r < rows; r++)
                for (size_t i0 = 0; i0 < width; i0 += CH)
                    cols_chunk(c, &a, r * cols + c0 + i0, min_sz(CH, width - i0), tb.t + i0,
                               tb.s + i0);
        }
    } else {
        uint32_t t[CH];
        float sc[CH];
        size_t col = 0;
        for (size_t j0 = 0; j0 < n; j0 += CH) {
            const size_t len = min_sz(CH, n - j0);
            chunk_rules(c->rule, p_cols, col, cols, len, t, sc);
            cols_chunk(c, &a, j0, len, t, sc);
            col = (col + len % cols) % cols;
        }
    }
}

/* The bias of a chunk's elements, element by element, from column col on:
 * its contiguous runs converted by the level's op. */
static void bias_run(const hctx *c, float *dst, const void *bias, size_t col, size_t cols,
                     size_t len)
{
    for (size_t j = 0; j < len;) {
        const size_t run = min_sz(len - j, cols - col);
        const float *b = load(c, bias, col, run, dst + j);
        if (b != dst + j)
            memcpy(dst + j, b, run * sizeof *dst);
        j += run;
        col = 0;
    }
}

/* The float kernel's operations in its order: v = x + bias, then (v * s
 * where kept, +0 where dropped), then residual + that.  Under the 32-bit
 * rule the last two are the float family's fused add_fwd on the chunk
 * (given v, no bias), which draws its own words and writes the mask bits
 * only if asked; under the 16-bit rule, in passes: its bits, the float
 * family's bwd_mask, the residual.  The chunk's inputs are all read before
 * y is written, so y may alias x or residual. */
static void add_fwd_op(const hctx *c, void *y, const void *x, const void *bias,
                       const void *residual, uint8_t *mask, size_t rows, size_t cols, float p,
                       uint64_t first)
{
    const size_t n = rows * cols;
    float xb[CH], bb[CH], rb[CH], yb[CH];
    uint8_t bits[CH / 8];
    const float s = scale_of(c, p);
    size_t col = 0;
    for (size_t j0 = 0; j0 < n; j0 += CH) {
        const size_t len = min_sz(CH, n - j0);
        const float *v = load(c, x, j0, len, xb);
        if (bias) {
            bias_run(c, bb, bias, col, cols, len);
            for (size_t j = 0; j < len; j++)
                bb[j] = v[j] + bb[j];
            v = bb;
        }
        col = (col + len % cols) % cols;
        if (c->rule == GD_MASK_32) { /* x + b done: the rest is the fused op's */
            c->hk->f32->add_fwd(yb, v, NULL, residual ? load(c, residual, j0, len, rb) : NULL,
                                mask ? mask + j0 / 8 : NULL, 1, len, first + j0, gd_threshold(p),
                                s, &c->key);
            store(c, y, j0, yb, len);
            continue;
        }
        uint8_t *kb = mask ? mask + j0 / 8 : bits;
        chunk_bits(c, kb, len, first + j0, p);
        c->hk->f32->bwd_mask(yb, v, kb, len, s);
        if (residual) {
            const float *res = load(c, residual, j0, len, rb);
            for (size_t j = 0; j < len; j++)
                yb[j] = res[j] + yb[j];
        }
        if (c->dtype == GD_F32)
            memcpy((float *)y + j0, yb, len * sizeof *yb);
        else
            store(c, y, j0, yb, len);
    }
}

/* ---- column sums and the fused epilogue's backward ------------------------ */

/* acc[i] += x[r * ld + i] as stored, for rows r = 0 .. rows - 1 in order,
 * i < cols: the family's op, or row pieces widened to float here. */
static void acc_rows_op(const hctx *c, double *acc, const void *x, size_t rows, size_t cols,
                        size_t ld)
{
    if (c->hk->f32->acc_rows(acc, x, rows, cols, ld, c->dtype))
        return;
    float buf[CH];
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < cols; i += CH) {
            const size_t len = min_sz(CH, cols - i);
            c->hk->f32->acc_add(acc + i, load(c, x, r * ld + i, len, buf), len);
        }
}

/* out[c] = the sum over rows of x[r, c] as stored, in double, rounded once;
 * rows > 0. */
static void sum_cols_op(const hctx *c, float *out, const void *x, size_t rows, size_t cols)
{
    enum { BLOCK = 256 };
    double acc[BLOCK];
    for (size_t c0 = 0; c0 < cols; c0 += BLOCK) {
        const size_t w = min_sz(BLOCK, cols - c0);
        memset(acc, 0, w * sizeof *acc);
        acc_rows_op(c, acc, celem_at(c, x, c0), rows, w, cols);
        for (size_t i = 0; i < w; i++)
            out[c0 + i] = (float)acc[i];
    }
}

void gd_sum_cols_run(float *out, const void *x, size_t rows, size_t cols, int dtype)
{
    if (rows == 0) {
        memset(out, 0, cols * sizeof *out); /* the empty sum */
        return;
    }
    const hctx c = ctx_of(dtype, GD_MASK_32, NULL);
    sum_cols_op(&c, out, x, rows, cols);
}

/* dx from dy on elements e .. e + len - 1 (e on a mask byte if a mask is
 * given): by the stored mask, or regenerated from the stream. */
static void bwd_range(const hctx *c, void *dx, const void *dy, const uint8_t *mask, size_t e,
                      size_t len, float p, uint64_t first)
{
    if (mask)
        bwd_mask_op(c, elem_at(c, dx, e), celem_at(c, dy, e), mask + e / 8, len, p);
    else
        fwd_op(c, elem_at(c, dx, e), celem_at(c, dy, e), NULL, len, p, first + e);
}

/* The fused epilogue's backward with dbias: dx block by block of rows, each
 * block's column sums taken while it is in cache, into ACC_COLS sums at a
 * time on the stack (wider rows: that many columns of each row a block, one
 * row piece at a time).  The sums run down the rows in order, as one pass
 * over the whole of dx gives them.  Before, they were that second pass, from
 * memory, element by element: 10x the scale loop at 16M elements.  A wide
 * row whose pieces do not start on mask bytes (a stored mask, cols % 8 !=
 * 0) takes the two passes.  Tried and not kept (2026-12-06, 16M elements,
 * AVX-512): one fused pass, row by row, each dx vector read back as stored
 * and added to the sums in L1 four rows at a time: fp16 2.9 against 3.7-4.0
 * ms, bf16 3.6-3.7 against 3.9-4.0 (the scale loop 1.4-2.0 on that shared
 * host), not enough for a second path and a table entry. */
enum { ACC_COLS = 4096, BLOCK_ELEMS = 16384 };

static void add_bwd_op(const hctx *c, void *dx, float *dbias, const void *dy, size_t rows,
                       size_t cols, float p, uint64_t first, const uint8_t *mask)
{
    if (cols > ACC_COLS && mask && cols % 8 != 0) {
        bwd_range(c, dx, dy, mask, 0, rows * cols, p, first);
        sum_cols_op(c, dbias, dx, rows, cols);
        return;
    }
    double acc[ACC_COLS];
    for (size_t c0 = 0; c0 < cols; c0 += ACC_COLS) {
        const size_t w = min_sz(ACC_COLS, cols - c0);
        const size_t rb = BLOCK_ELEMS / w > 8 ? BLOCK_ELEMS / w / 8 * 8 : 8;
        memset(acc, 0, w * sizeof *acc);
        for (size_t r0 = 0; r0 < rows; r0 += rb) {
            const size_t nr = min_sz(rb, rows - r0);
            if (w == cols) /* whole rows: one range from a mask byte (rb % 8 == 0) */
                bwd_range(c, dx, dy, mask, r0 * cols, nr * cols, p, first);
            else
                for (size_t r = r0; r < r0 + nr; r++)
                    bwd_range(c, dx, dy, mask, r * cols + c0, w, p, first);
            acc_rows_op(c, acc, celem_at(c, dx, r0 * cols + c0), nr, w, cols);
        }
        for (size_t i = 0; i < w; i++)
            dbias[c0 + i] = (float)acc[i];
    }
}

static void gauss_op(const hctx *c, void *y, const void *x, size_t n, float sigma, uint64_t first)
{
    float xb[CH], yb[CH];
    if (c->dtype != GD_F32 && c->hk->f32->gauss_h) { /* one pass */
        c->hk->f32->gauss_h(y, x, n, sigma, first, &c->key, c->dtype);
        return;
    }
    for (size_t j0 = 0; j0 < n; j0 += CH) {
        const size_t len = min_sz(CH, n - j0);
        const float *in = load(c, x, j0, len, xb);
        float *out = out_buf(c, y, j0, yb);
        c->hk->f32->gauss(out, in, len, sigma, first + j0, &c->key);
        store(c, y, j0, out, len);
    }
}

/* The one-pass forms of the level's float family (AVX-512: conversions
 * and 16-bit draws in lanes beside the generator) where it has them, for
 * the shapes they take; false: nothing done, go chunk by chunk through
 * float.  Never the 1.0 case (is_v1).  Called from the public functions,
 * not from inside the chunked ops, so the two paths' stack tables are never
 * live at once. */
static bool cols_one_pass(const hctx *c, void *y, const void *x, uint8_t *mask, size_t rows,
                          size_t cols, const float *p_cols, uint64_t first)
{
    return c->hk->f32->fwd_cols_ex &&
           c->hk->f32->fwd_cols_ex(y, x, mask, rows, cols, p_cols, first, &c->key, c->dtype,
                                   c->rule);
}

static bool add_one_pass(const hctx *c, void *y, const void *x, const void *bias,
                         const void *residual, uint8_t *mask, size_t rows, size_t cols, float p,
                         uint64_t first)
{
    return c->hk->f32->add_fwd_ex &&
           c->hk->f32->add_fwd_ex(y, x, bias, residual, mask, rows, cols, first, thr_of(c, p),
                                  scale_of(c, p), &c->key, c->dtype, c->rule);
}

/* ---- the public functions ---------------------------------------------------- */

static bool is_v1(int dtype, int rule)
{
    return dtype == GD_F32 && rule == GD_MASK_32;
}

int gd_mask_bernoulli_ex(int rule, uint8_t *mask, size_t n, float p, const gd_stream *s)
{
    if (!rule_ok(rule))
        return GD_EINVAL;
    if (rule == GD_MASK_32)
        return gd_mask_bernoulli(mask, n, p, s);
    if (n == 0)
        return GD_OK;
    int rc = gd_check_vec(n, mask, mask, p);
    if (rc || (rc = gd_check_stream(s, n)))
        return rc;
    const hctx c = ctx_of(GD_F32, rule, s);
    /* MASK_CH elements a step, not CH: per CH-element chunk the words
     * op's setup and partial blocks made this 1.61-1.69x its words' time
     * at 16M elements (the 32-bit rule's mask: 1.03-1.05x); 8192 elements
     * a step took 0.70x the time of CH steps, 2048 0.74x */
    uint32_t w[MASK_CH / 2 + 1];
    const uint32_t k = gd_k16(p);
    for (size_t j0 = 0; j0 < n; j0 += MASK_CH) {
        const size_t len = min_sz(MASK_CH, n - j0);
        const unsigned h = words16(&c, w, s->offset + j0, len);
        c.hk->mask16(mask + j0 / 8, w, h, len, k);
    }
    return GD_OK;
}

int gd_dropout_fwd_ex(int dtype, int rule, void *y, const void *x, size_t n, float p,
                      const gd_stream *s, uint8_t *mask_out)
{
    if (!dtype_ok(dtype) || !rule_ok(rule))
        return GD_EINVAL;
    if (is_v1(dtype, rule))
        return gd_dropout_fwd(y, x, n, p, s, mask_out);
    if (n == 0)
        return GD_OK;
    int rc = gd_check_vec(n, y, x, p);
    if (rc || (rc = gd_check_stream(s, n)))
        return rc;
    const hctx c = ctx_of(dtype, rule, s);
    fwd_op(&c, y, x, mask_out, n, p, s->offset);
    return GD_OK;
}

int gd_dropout_bwd_ex(int dtype, int rule, void *dx, const void *dy, size_t n, float p,
                      const gd_stream *s, const uint8_t *mask)
{
    if (!dtype_ok(dtype) || !rule_ok(rule))
        return GD_EINVAL;
    if (is_v1(dtype, rule))
        return gd_dropout_bwd(dx, dy, n, p, s, mask);
    if (n == 0)
        return GD_OK;
    int rc = gd_check_vec(n, dx, dy, p);
    if (rc)
        return rc;
    if (mask) {
        const hctx c = ctx_of(dtype, rule, NULL);
        bwd_mask_op(&c, dx, dy, mask, n, p);
        return GD_OK;
    }
    if ((rc = gd_check_stream(s, n)))
        return rc;
    const hctx c = ctx_of(dtype, rule, s);
    fwd_op(&c, dx, dy, NULL, n, p, s->offset);
    return GD_OK;
}

int gd_dropout_fwd_cols_ex(int dtype, int rule, void *y, const void *x, size_t rows, size_t cols,
                           const float *p_cols, const gd_stream *s, uint8_t *mask_out)
{
    if (!dtype_ok(dtype) || !rule_ok(rule))
        return GD_EINVAL;
    if (is_v1(dtype, rule))
        return gd_dropout_fwd_cols(y, x, rows, cols, p_cols, s, mask_out);
    size_t n;
    int rc = gd_check_matrix(rows, cols, y, x, &n);
    if (rc || n == 0)
        return rc;
    if ((rc = gd_check_stream(s, n)) || (rc = gd_check_cols(p_cols, cols)))
        return rc;
    const hctx c = ctx_of(dtype, rule, s);
    if (!cols_one_pass(&c, y, x, mask_out, rows, cols, p_cols, s->offset))
        cols_op(&c, y, x, mask_out, NULL, rows, cols, p_cols, s->offset);
    return GD_OK;
}

int gd_dropout_bwd_cols_ex(int dtype, int rule, void *dx, const void *dy, size_t rows, size_t cols,
                           const float *p_cols, const gd_stream *s, const uint8_t *mask)
{
    if (!dtype_ok(dtype) || !rule_ok(rule))
        return GD_EINVAL;
    if (is_v1(dtype, rule))
        return gd_dropout_bwd_cols(dx, dy, rows, cols, p_cols, s, mask);
    size_t n;
    int rc = gd_check_matrix(rows, cols, dx, dy, &n);
    if (rc || n == 0)
        return rc;
    if (!mask && (rc = gd_check_stream(s, n)))
        return rc;
    if ((rc = gd_check_cols(p_cols, cols)))
        return rc;
    const hctx c = ctx_of(dtype, rule, mask ? NULL : s);
    if (mask || !cols_one_pass(&c, dx, dy, NULL, rows, cols, p_cols, s->offset))
        cols_op(&c, dx, dy, NULL, mask, rows, cols, p_cols, mask ? 0 : s->offset);
    return GD_OK;
}

int gd_dropout_add_fwd_ex(int dtype, int rule, void *y, const void *x, const void *bias,
                          const void *residual, size_t rows, size_t cols, float p,
                          const gd_stream *s, uint8_t *mask_out)
{
    if (!dtype_ok(dtype) || !rule_ok(rule))
        return GD_EINVAL;
    if (is_v1(dtype, rule))
        return gd_dropout_add_fwd(y, x, bias, residual, rows, cols, p, s, mask_out);
    size_t n;
    int rc = gd_check_matrix(rows, cols, y, x, &n);
    if (rc || n == 0)
        return rc;
    if (!gd_prob_ok(p))
        return GD_EDOMAIN;
    if ((rc = gd_check_stream(s, n)))
        return rc;
    const hctx c = ctx_of(dtype, rule, s);
    if (!add_one_pass(&c, y, x, bias, residual, mask_out, rows, cols, p, s->offset))
        add_fwd_op(&c, y, x, bias, residual, mask_out, rows, cols, p, s->offset);
    return GD_OK;
}

int gd_dropout_add_bwd_ex(int dtype, int rule, void *dx, float *dbias, const void *dy, size_t rows,
                          size_t cols, float p, const gd_stream *s, const uint8_t *mask)
{
    if (!dtype_ok(dtype) || !rule_ok(rule))
        return GD_EINVAL;
    if (is_v1(dtype, rule)) /* the same driver after 1.0's checks */
        return gd_dropout_add_bwd(dx, dbias, dy, rows, cols, p, s, mask);
    size_t n;
    int rc = gd_check_matrix(rows, cols, dx, dy, &n);
    if (rc || n == 0)
        return rc;
    if (!gd_prob_ok(p))
        return GD_EDOMAIN;
    if (!mask && (rc = gd_check_stream(s, n)))
        return rc;
    gd_add_bwd_run(dtype, rule, dx, dbias, dy, rows, cols, p, s, mask);
    return GD_OK;
}

void gd_add_bwd_run(int dtype, int rule, void *dx, float *dbias, const void *dy, size_t rows,
                    size_t cols, float p, const gd_stream *s, const uint8_t *mask)
{
    const hctx c = ctx_of(dtype, rule, mask ? NULL : s);
    const uint64_t first = mask ? 0 : s->offset;
    if (dbias)
        add_bwd_op(&c, dx, dbias, dy, rows, cols, p, first, mask);
    else
        bwd_range(&c, dx, dy, mask, 0, rows * cols, p, first);
}

int gd_gaussian_dropout_fwd_ex(int dtype, void *y, const void *x, size_t n, float sigma,
                               const gd_stream *s)
{
    if (!dtype_ok(dtype))
        return GD_EINVAL;
    if (dtype == GD_F32)
        return gd_gaussian_dropout_fwd(y, x, n, sigma, s);
    if (n == 0)
        return GD_OK;
    int rc = gd_check_buffers(n, y, x);
    if (rc || (rc = gd_check_sigma(sigma)) || (rc = gd_check_stream(s, n)))
        return rc;
    const hctx c = ctx_of(dtype, GD_MASK_32, s);
    gauss_op(&c, y, x, n, sigma, s->offset);
    return GD_OK;
}

int gd_gaussian_dropout_bwd_ex(int dtype, void *dx, const void *dy, size_t n, float sigma,
                               const gd_stream *s)
{
    /* The multiplier is symmetric: dx = dy * m with the forward's m. */
    return gd_gaussian_dropout_fwd_ex(dtype, dx, dy, n, sigma, s);
}

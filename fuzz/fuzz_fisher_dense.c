/*
 * Fuzz target: the dense Fisher paths (gd_fisher_accumulate_dense and
 * gd_fisher_accumulate_dense_seq) with fuzzed shapes and element data
 * (NaN, Inf, subnormals, signed zeros and magnitudes at the refusal edges
 * included), with and without a bias, on an accumulator that already holds
 * sums.  The products run through the dispatched family (in registers with
 * AVX2 and FMA or AVX-512, the sgemm at the scalar level: the corpus is
 * replayed under both).
 *
 * Invariants, each a __builtin_trap on violation:
 *   - the return code is the one fisher.h gives for the data: GD_EDOMAIN
 *     for NaN or Inf or magnitudes past its limits, else GD_OK; on an error
 *     every sum and weight is unchanged;
 *   - on success each weight grew by batch and each weight estimate is
 *     within a rigorous bound of a double reference: a float sum of k
 *     terms by fused multiply-adds is within gamma(k) = k u / (1 - k u)
 *     (u = 2^-24) of the sum of the absolute terms, plus 2^-149 a step for
 *     results in the subnormal range; squares in float add the same per
 *     factor.  The bias sums, squared in double, match to 1e-12.
 *
 * Input layout (missing bytes read as 0): flags, batch, seq, in, out, then
 * float bits for x and dy (4 bytes each; a byte of 0xFF in the first
 * position of a value picks one of the special values).
 */
#include "test_util.h" /* tu_ref_gamma, tu_ref_seq_grad */
#include "fuzz.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

enum { MAX_SIDE = 40, MAX_SEQ = 24, MAX_BATCH = 6 };

static float take_value(fuzz_reader *r)
{
    static const float special[] = {NAN,     INFINITY, -INFINITY, 0.0f,   -0.0f,
                                    1e-40f, -1e-45f,  1e19f,     -3e38f, 0x1p-75f};
    const uint32_t bits = (uint32_t)fuzz_take(r, 4);
    if (bits >> 24 == 0xFF)
        return special[(bits & 0xFF) % (sizeof special / sizeof special[0])];
    /* an ordinary value: sign, a mantissa and an exponent of 2^-8 .. 2^7 */
    const float m = (float)(bits & 0xFFFF) / 65536.0f + 0.5f;
    const float v = ldexpf(m, (int)((bits >> 16) & 0xF) - 8);
    return bits >> 23 & 1 ? -v : v;
}

/* max |v| over n floats, and whether all are finite */
static bool scan(const float *v, size_t n, double *amax)
{
    *amax = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            return false;
        *amax = fabs((double)v[i]) > *amax ? fabs((double)v[i]) : *amax;
    }
    return true;
}

/* fisher.h's refusals, in double */
static int expected_rc(const float *x, const float *dy, size_t rows, size_t in, size_t out,
                       size_t seq, bool sequence)
{
    double ax, ady;
    if (!scan(x, rows * in, &ax) || !scan(dy, rows * out, &ady))
        return GD_EDOMAIN;
    const double lim = 0x1p127, prod = ax * ady;
    if (sequence) {
        const double g = prod * (double)seq, gb = ady * (double)seq;
        return g * g < lim && gb * gb < lim ? GD_OK : GD_EDOMAIN;
    }
    return ax * ax < lim && ady * ady < lim && prod * prod * 1024.0 < lim ? GD_OK : GD_EDOMAIN;
}

/* The weight tensor's sums after the call: want +- tol per element. */
static void reference(const float *x, const float *dy, size_t batch, size_t seq, size_t in,
                      size_t out, bool sequence, double *want, double *tol)
{
    const double tiny = 0x1p-149;
    for (size_t o = 0; o < out; o++)
        for (size_t i = 0; i < in; i++) {
            double w = 0.0, t = 0.0;
            if (sequence) {
                for (size_t b = 0; b < batch; b++) {
                    double e;
                    const double g = tu_ref_seq_grad(x + b * seq * in, dy + b * seq * out, seq,
                                                     in, out, o, i, &e);
                    w += g * g;
                    t += 2.0 * fabs(g) * e + e * e;
                }
            } else { /* sum_b dy^2 x^2: squares and sum in float, all terms >= 0 */
                double slack = 0.0;
                for (size_t b = 0; b < batch; b++) {
                    const double d = (double)dy[b * out + o], v = (double)x[b * in + i];
                    w += d * d * v * v;
                    slack += (d * d + v * v + 1.0) * tiny;
                }
                t = tu_ref_gamma(batch + 2) * w + 4.0 * (double)(batch + 2) * slack;
            }
            want[o * in + i] = w;
            tol[o * in + i] = t + 1e-12 * w;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_reader r = {data, size};
    const uint8_t flags = fuzz_u8(&r);
    const bool sequence = flags & 1, bias = flags & 2;
    const size_t batch = fuzz_u8(&r) % (MAX_BATCH + 1);
    const size_t seq = sequence ? fuzz_u8(&r) % MAX_SEQ + 1 : 1;
    const size_t in = fuzz_u8(&r) % MAX_SIDE + 1, out = fuzz_u8(&r) % MAX_SIDE + 1;
    const size_t rows = batch * seq;
    float *x = malloc((rows * in + 1) * sizeof *x), *dy = malloc((rows * out + 1) * sizeof *dy);
    double *before = malloc(out * in * sizeof *before), *after = malloc(out * in * sizeof *after);
    double *want = malloc(out * in * sizeof *want), *tol = malloc(out * in * sizeof *tol);
    double bb[MAX_SIDE], ba[MAX_SIDE];
    FUZZ_CHECK(x && dy && before && after && want && tol);
    for (size_t j = 0; j < rows * in; j++)
        x[j] = take_value(&r);
    for (size_t j = 0; j < rows * out; j++)
        dy[j] = take_value(&r);

    gd_fisher *f = NULL;
    size_t w_id, b_id;
    FUZZ_CHECK(gd_fisher_create(&f) == GD_OK);
    FUZZ_CHECK(gd_fisher_add_tensor(f, "w", out * in, 0, &w_id) == GD_OK);
    FUZZ_CHECK(gd_fisher_add_tensor(f, "b", out, 0, &b_id) == GD_OK);
    /* sums already there: one example's gradient of 0.5s */
    float half[MAX_SIDE * MAX_SIDE];
    for (size_t j = 0; j < out * in; j++)
        half[j] = 0.5f;
    FUZZ_CHECK(gd_fisher_accumulate(f, w_id, half, 1.0f) == GD_OK);
    FUZZ_CHECK(gd_fisher_accumulate(f, b_id, half, 1.0f) == GD_OK);
    double w0, w1, wb0, wb1;
    FUZZ_CHECK(gd_fisher_sums(f, w_id, before, out * in, &w0) == GD_OK);
    FUZZ_CHECK(gd_fisher_sums(f, b_id, bb, out, &wb0) == GD_OK);

    const size_t bid = bias ? b_id : GD_NONE;
    const int rc = sequence ? gd_fisher_accumulate_dense_seq(f, w_id, bid, x, dy, batch, seq, in, out)
                            : gd_fisher_accumulate_dense(f, w_id, bid, x, dy, batch, in, out);
    const int want_rc = batch == 0 ? GD_OK : expected_rc(x, dy, rows, in, out, seq, sequence);
    FUZZ_CHECK(rc == want_rc);
    FUZZ_CHECK(gd_fisher_sums(f, w_id, after, out * in, &w1) == GD_OK);
    FUZZ_CHECK(gd_fisher_sums(f, b_id, ba, out, &wb1) == GD_OK);
    if (rc != GD_OK || batch == 0) {
        FUZZ_CHECK(memcmp(before, after, out * in * sizeof *before) == 0 && w0 == w1);
        FUZZ_CHECK(memcmp(bb, ba, out * sizeof *bb) == 0 && wb0 == wb1);
    } else {
        FUZZ_CHECK(w1 == w0 + (double)batch);
        FUZZ_CHECK(wb1 == wb0 + (bias ? (double)batch : 0.0));
        reference(x, dy, batch, seq, in, out, sequence, want, tol);
        for (size_t j = 0; j < out * in; j++)
            FUZZ_CHECK(fabs(after[j] - before[j] - want[j]) <= tol[j] + 1e-15 * before[j]);
        for (size_t o = 0; o < out; o++) { /* sums of seq floats in double, squared */
            double wbias = 0.0, tb = 0.0;
            for (size_t b = 0; bias && b < batch; b++) {
                double gb = 0.0, mag = 0.0;
                for (size_t s = 0; s < seq; s++) {
                    gb += (double)dy[(b * seq + s) * out + o];
                    mag += fabs((double)dy[(b * seq + s) * out + o]);
                }
                const double e = 2.0 * (double)seq * 0x1p-53 * mag;
                wbias += gb * gb;
                tb += 2.0 * fabs(gb) * e + e * e;
            }
            FUZZ_CHECK(fabs(ba[o] - bb[o] - wbias) <= tb + 1e-15 * (wbias + bb[o]));
        }
    }
    gd_fisher_destroy(f);
    free(x), free(dy), free(before), free(after), free(want), free(tol);
    return 0;
}

/*
 * The SIMD kernel family, written once over a small vector interface: an
 * implementation template, not a header.  kernels_avx2.c and
 * kernels_avx512.c each define the interface below and then include this
 * file, so both families are the same code and the same rounding order as
 * the scalar reference (src/kernels_scalar.c, bit for bit: tests/test_simd.c
 * and test_kernels under every GDROPOUT_DISPATCH level); only the lane count
 * and the instructions differ.  Never include it elsewhere: without the
 * interface it stops at the #error below.
 *
 * How each op walks its elements, and why:
 *
 *   op                  iteration               why
 *   ------------------  ----------------------  ------------------------------
 *   words, mask,        buffered chunk: CHUNK   the output is the generator's
 *   normal              (1024) words or         own, so generate-then-copy is
 *                       normals into a stack    all there is; a chunk starts on
 *                       buffer, then copied     a mask byte, so mask bytes are
 *                       or packed to bits       packed, never shifted
 *   fwd, add_fwd,       word stream (wstream):  the generator's arithmetic and
 *   gauss               one batch of GB words   the data's loads and stores
 *                       used at once on GB      overlap in the core; a 1024-
 *                       elements, the call's    word chunk first left memory
 *                       partial block carried;  idle while Philox ran; kept
 *                       from a block boundary   in registers, the words need
 *                       (32-bit rule), the      no store and load
 *                       batch's words in
 *                       registers (reg_draws)
 *   fwd_cols            column table + word     per-column t(p) and 1/(1-p)
 *                       stream: cols <= 4096 a  computed once per call or
 *                       cyclic table walked in  column block, so the element
 *                       element order; wider,   loop never divides and stays
 *                       blocks of columns, each fwd's loop with two table
 *                       over every row in turn  loads
 *   bwd_mask,           stored mask bits to     no generator: the mask is the
 *   bwd_mask_cols       lanes (per-column: a    whole state; one scale per
 *                       scale table per block)  column per call
 *   normal_words        batches of given words  test hook: the normal
 *                                               transform alone, same code
 *
 * The interface an ISA file defines before the #include:
 *   VL                          32-bit lanes per vector (8 or 16)
 *   VB                          Philox blocks per vector (VL / 2: one
 *                               counter word in each 64-bit lane)
 *   NV                          Philox vector sets run interleaved (even)
 *   vf, vi, vk                  float vector, u32 vector, lane predicate
 *   vf_load, vf_store, vi_load, vi_store    unaligned loads and stores
 *   vi_load_u16(p)              VL uint16 from p, zero-extended
 *   vf_set1, vi_set1, vf_add, vf_sub, vf_mul, vf_div, vf_sqrt
 *   vf_fma(a, b, c)             a * b + c rounded once, as fmaf
 *   PROD_ROWS                   acc_prod's tile height: PROD_ROWS * 2
 *                               sums, 2 loads and a broadcast must fit
 *                               the register file
 *   vi_add, vi_sub, vi_and, vi_xor, vi_srli, vi_slli
 *   vi_srai (arithmetic shift), vi_bit(a, bit) (lanes with that single
 *                               bit set in a)
 *   vf_sel (k ? a : b)
 *   vf_of_i32 (exact conversion), vf_bits, vf_from_bits (casts)
 *   vi_trunc_u32(v)             v in [0, 2^32) to uint32, toward 0
 *   keep_of(w, t, a)            lanes with w >= t (unsigned) and a != 0,
 *                               where a is all ones or 0 per lane
 *   keep_of_nz(w, t, a)         the same for any a
 *   vf_keep(k, v)               v where k, +0.0f elsewhere
 *   vk_bits(k), vk_from_bits(b) lane j <-> bit j
 *   vi_set1_64, vi_add64, vi_srli64, vi_slli64   64-bit lane arithmetic
 *   vi_mul32(a, b)              full 64-bit products of the low 32 bits of
 *                               each 64-bit lane (vpmuludq)
 *   vi_xor3(a, b, c)            a ^ b ^ c
 *   vi_blend_odd(e, o)          even 32-bit lanes of e, odd lanes of o
 *   vi_unpacklo64, vi_unpackhi64  per 128-bit lane, as the instructions
 *   vi_max_u32(a, b)            unsigned 32-bit maximum per lane
 *   vd, vd_load, vd_store, vd_add   VL/2 doubles (Fisher passes)
 *   vd_mul_add(a, b, c)         a * b + c, fused or not: used only where
 *                               a * b is exact, so the bits agree
 *   vd_set1, vd_sub, vd_div     (the per-column scales)
 *   vd_of_lo(v), vd_of_hi(v)    the low, high VL/2 floats of v as doubles
 *   vf_of_vd(lo, hi)            VL floats from two vd, each rounded as a
 *                               C cast rounds
 *   ph_lanes()                  which block of a set each 64-bit lane
 *                               computes, chosen so that unpacking two
 *                               sets' words gives element order
 *   GD_SIMD_HALF                optional: the family has the one-pass 1.2
 *                               ops, and defines vf_load_h(p, dt) and
 *                               vf_store_h(p, v, dt) (VL bf16 or fp16
 *                               lanes) and vf_maskz_mul(k, a, b)
 *   GD_SIMD_TABLE, GD_SIMD_NAME the table this file defines, and its name
 *   GD_SIMD_INTERFACE           defined (to 1) once all of the above is
 */
#if !defined(GD_SIMD_INTERFACE) || !defined(GD_SIMD_TABLE) || !defined(GD_SIMD_NAME)
#error "kernels_simd_impl.h is a template: include it only from a kernels_<isa>.c that defines the vector interface, GD_SIMD_TABLE, GD_SIMD_NAME and GD_SIMD_INTERFACE"
#elif !defined(__AVX512F__) && !(defined(__AVX2__) && defined(__FMA__))
#error "kernels_simd_impl.h needs -mavx2 -mfma or -mavx512f on its including file (src/CMakeLists.txt)"
#else /* the template's body: nothing below is compiled after an #error, so
         the refusal is the compiler's only message */

#include <math.h>
#include <string.h>
#if defined(GD_SIMD_HALF)
#include "half.h" /* the scalar conversions of the one-pass 1.2 ops */
#endif

_Static_assert(VL == 8 || VL == 16, "VL: 32-bit lanes per vector, 8 or 16");
_Static_assert(VB * 2 == VL, "VB: one Philox block per 64-bit lane");
_Static_assert(NV > 0 && NV % 2 == 0, "NV: Philox sets are stored in pairs");
_Static_assert(sizeof(vf) == 4 * VL && sizeof(vi) == 4 * VL, "vf, vi: VL 32-bit lanes");

/* GB: words of one generator batch (NV sets of VB blocks).  CHUNK: elements
 * per step of the buffered ops, a multiple of GB, so every batch and chunk
 * starts on a mask byte and a vector boundary of the call. */
enum { GB = 4 * NV * VB, CHUNK = 1024, BUFW = CHUNK + GB };
_Static_assert(CHUNK % GB == 0 && GB % 8 == 0, "chunks and batches start on mask bytes");

static inline size_t min_sz(size_t a, size_t b)
{
    return a < b ? a : b;
}

static inline size_t max_sz(size_t a, size_t b)
{
    return a > b ? a : b;
}

/* ---- Philox4x32-10 on NV * VB blocks at once ------------------------------ */

/* One counter word per 64-bit lane, in its low half.  vpmuludq reads only
 * the low halves, so each multiply gives the whole 64-bit product with no
 * shuffles: the low half is the next round's lo word as it stands, and the
 * garbage that the XORs leave in the high halves is never read.  This costs
 * a third fewer instructions than 32-bit lanes split into even and odd
 * products, and the multiplies (the bottleneck) are the same in number. */
typedef struct ph_set {
    vi c0, c1, c2, c3;
} ph_set;

/* NV independent sets per batch keep the multipliers busy while one set
 * waits on another's products; set i computes blocks block + i*VB + lanes.
 * The 64-bit add carries into the counter's second word by itself. */
static inline void ph_batch(ph_set st[NV], uint64_t block, const gd_keyctx *k)
{
    const vi lanes = ph_lanes();
    for (int i = 0; i < NV; i++) {
        const vi b = vi_add64(vi_set1_64(block + (uint64_t)i * VB), lanes);
        st[i].c0 = b;
        st[i].c1 = vi_srli64(b, 32);
        st[i].c2 = vi_set1(k->stream[0]);
        st[i].c3 = vi_set1(k->stream[1]);
    }
    const vi m0 = vi_set1(GD_PHILOX_M0), m1 = vi_set1(GD_PHILOX_M1);
    for (int r = 0; r < 10; r++) {
        const vi v0 = vi_set1(k->round[r][0]), v1 = vi_set1(k->round[r][1]);
        for (int i = 0; i < NV; i++) {
            const vi p0 = vi_mul32(st[i].c0, m0), p1 = vi_mul32(st[i].c2, m1);
            st[i].c0 = vi_xor3(vi_srli64(p1, 32), st[i].c1, v0);
            st[i].c1 = p1;
            st[i].c2 = vi_xor3(vi_srli64(p0, 32), st[i].c3, v1);
            st[i].c3 = p0;
        }
    }
}

/* Two vectors of element-order words from (x, y) pairs per 64-bit lane:
 * lane l of a holds words 0 and 1 of its block, of b words 2 and 3. */
static inline void store_pairs(void *out, vi a, vi b)
{
    vi_store(out, vi_unpacklo64(a, b));
    vi_store((uint32_t *)out + VL, vi_unpackhi64(a, b));
}

/* The GB words of the blocks from `block` on as 2 * NV vectors in element
 * order (store_pairs' layout), in registers: the batch loops that use a
 * batch's words at once (reg_draws) take them so, ph_fill stores them. */
static inline __attribute__((always_inline)) void ph_words_v(vi w[2 * NV], uint64_t block,
                                                              const gd_keyctx *k)
{
    ph_set st[NV];
    ph_batch(st, block, k);
    for (int i = 0; i < NV; i++) {
        const vi a = vi_blend_odd(st[i].c0, vi_slli64(st[i].c1, 32));
        const vi b = vi_blend_odd(st[i].c2, vi_slli64(st[i].c3, 32));
        w[2 * i] = vi_unpacklo64(a, b);
        w[2 * i + 1] = vi_unpackhi64(a, b);
    }
}

/* ---- the normal transform (src/normal.c, operation for operation) ------- */

/* The transform of one batch runs NV vectors of pairs in lock step: each
 * step below is done for all NV vectors before the next, so the
 * instruction stream interleaves NV independent dependency chains (ln,
 * then the divide, the square root and the products are about 30
 * operations deep) and the scheduler always has ready work, instead of one
 * chain's tail waiting on latency while the next chain's head sits behind
 * it.  Per vector the operations and their order are those of
 * src/normal.c. */

/* ln(u) for u = m * 2^-24, taking m = (float)((a >> 8) + 1): u is m scaled
 * by a power of two, exactly (u >= 2^-24 is normal), so u's mantissa is m's
 * and its exponent 24 less, and the scaling multiply is skipped. */
static inline void ln_unit_nv(const vf m[NV], vf ln[NV])
{
    vi e[NV];
    vf f[NV], t[NV], t2[NV], q[NV], r[NV];
    /* The fold at sqrt(2) without a compare: d = bits - bits(sqrt(2)/2 up)
     * moves mantissas above 0x3504F3 into the next exponent, so d's
     * exponent field is e (+1 when folded) and its mantissa field plus
     * 0x3F3504F4 is f (f * 0.5 when folded, exactly).  Subtracting 24 more
     * in the exponent field gives u's exponent, m's less 24, with d's
     * mantissa field unchanged. */
    const vi half_sqrt2 = vi_set1(0x3F3504F4u);
    for (int h = 0; h < NV; h++) {
        const vi d = vi_sub(vf_bits(m[h]), vi_set1(0x3F3504F4u + (24u << 23)));
        e[h] = vi_srai(d, 23);
        f[h] = vf_from_bits(vi_add(vi_and(d, vi_set1(0x007FFFFFu)), half_sqrt2));
    }
    for (int h = 0; h < NV; h++)
        t[h] = vf_div(vf_sub(f[h], vf_set1(1.0f)), vf_add(f[h], vf_set1(1.0f)));
    for (int h = 0; h < NV; h++)
        t2[h] = vf_mul(t[h], t[h]);
    for (int h = 0; h < NV; h++)
        q[h] = vf_add(vf_mul(t2[h], vf_set1(1.0f / 11.0f)), vf_set1(1.0f / 9.0f));
    for (int h = 0; h < NV; h++)
        q[h] = vf_add(vf_mul(q[h], t2[h]), vf_set1(1.0f / 7.0f));
    for (int h = 0; h < NV; h++)
        q[h] = vf_add(vf_mul(q[h], t2[h]), vf_set1(1.0f / 5.0f));
    for (int h = 0; h < NV; h++)
        q[h] = vf_add(vf_mul(q[h], t2[h]), vf_set1(1.0f / 3.0f));
    for (int h = 0; h < NV; h++)
        q[h] = vf_mul(q[h], t2[h]);
    for (int h = 0; h < NV; h++)
        r[h] = vf_add(t[h], vf_mul(t[h], q[h]));
    for (int h = 0; h < NV; h++)
        ln[h] = vf_add(vf_mul(vf_of_i32(e[h]), vf_set1(0x1.62e430p-1f)), vf_add(r[h], r[h]));
}

/* sin and cos of the same angles, the two series stepped together. */
static inline void sincos_small_nv(const vf x[NV], vf sn[NV], vf cs[NV])
{
    vf x2[NV], qs[NV], qc[NV];
    for (int h = 0; h < NV; h++)
        x2[h] = vf_mul(x[h], x[h]);
    for (int h = 0; h < NV; h++) {
        qs[h] = vf_sub(vf_mul(x2[h], vf_set1(1.0f / 362880.0f)), vf_set1(1.0f / 5040.0f));
        qc[h] = vf_add(vf_mul(x2[h], vf_set1(-1.0f / 3628800.0f)), vf_set1(1.0f / 40320.0f));
    }
    for (int h = 0; h < NV; h++) {
        qs[h] = vf_add(vf_mul(qs[h], x2[h]), vf_set1(1.0f / 120.0f));
        qc[h] = vf_sub(vf_mul(qc[h], x2[h]), vf_set1(1.0f / 720.0f));
    }
    for (int h = 0; h < NV; h++) {
        qs[h] = vf_sub(vf_mul(qs[h], x2[h]), vf_set1(1.0f / 6.0f));
        qc[h] = vf_add(vf_mul(qc[h], x2[h]), vf_set1(1.0f / 24.0f));
    }
    for (int h = 0; h < NV; h++) {
        qs[h] = vf_mul(qs[h], x2[h]);
        qc[h] = vf_sub(vf_mul(qc[h], x2[h]), vf_set1(0.5f));
    }
    for (int h = 0; h < NV; h++) {
        sn[h] = vf_add(x[h], vf_mul(x[h], qs[h]));
        cs[h] = vf_add(vf_set1(1.0f), vf_mul(x2[h], qc[h]));
    }
}

/* gd_normal_pair on NV vectors of VL pairs: z0 = rad * C (even element),
 * z1 = rad * S.  The quadrant switch becomes a swap (q odd) and two sign
 * flips, which is what the negations of the scalar switch are, bit for
 * bit. */
static inline void normal_pairs_nv(const vi a[NV], const vi b[NV], vf z0[NV], vf z1[NV])
{
    vf m[NV], theta[NV], ln[NV], rad[NV], sn[NV], cs[NV];
    vi bq[NV];
    /* With k = b >> 8: q = (k + 2^21) >> 22 is the top two bits of
     * bq = b + 2^29 (mod 2^32: only q & 3 is used), and r = k - (q << 22)
     * is k's low 22 bits sign-extended, (int32)(b << 2) >> 10. */
    for (int h = 0; h < NV; h++) {
        m[h] = vf_of_i32(vi_add(vi_srli(a[h], 8), vi_set1(1)));
        bq[h] = vi_add(b[h], vi_set1(1u << 29));
        const vi r = vi_srai(vi_slli(b[h], 2), 10);
        theta[h] = vf_mul(vf_of_i32(r), vf_set1(0x1.921fb6p-22f));
    }
    ln_unit_nv(m, ln);
    sincos_small_nv(theta, sn, cs);
    for (int h = 0; h < NV; h++)
        rad[h] = vf_sqrt(vf_mul(vf_set1(-2.0f), ln[h]));
    /* Swap when q is odd (bit 30 of bq); C is negated in quadrants 1 and 2
     * (bit 1 of q + 1: bit 31 of bq + 2^30), S in quadrants 2 and 3 (bit 1
     * of q: bit 31 of bq). */
    const vi sign = vi_set1(0x80000000u);
    for (int h = 0; h < NV; h++) {
        const vk swap = vi_bit(bq[h], 1u << 30);
        const vf c0 = vf_sel(swap, sn[h], cs[h]), s0 = vf_sel(swap, cs[h], sn[h]);
        const vi cneg = vi_and(vi_add(bq[h], vi_set1(1u << 30)), sign);
        const vi sneg = vi_and(bq[h], sign);
        z0[h] = vf_mul(rad[h], vf_from_bits(vi_xor(vf_bits(c0), cneg)));
        z1[h] = vf_mul(rad[h], vf_from_bits(vi_xor(vf_bits(s0), sneg)));
    }
}

/* The normals of a batch: the counter words of sets i and i+1 are packed
 * into full 32-bit vectors (set i in the even lanes, set i+1 in the odd
 * ones) so the transform runs on every lane, then unpacked back into block
 * order.  Pair vector 2g + w holds words (2w, 2w+1) of set pair g. */
static inline void ph_store_normals(float *out, const ph_set st[NV])
{
    vi a[NV], b[NV];
    vf z0[NV], z1[NV];
    for (int g = 0; g < NV / 2; g++) {
        const ph_set *p = &st[2 * g], *q = &st[2 * g + 1];
        a[2 * g] = vi_blend_odd(p->c0, vi_slli64(q->c0, 32));
        b[2 * g] = vi_blend_odd(p->c1, vi_slli64(q->c1, 32));
        a[2 * g + 1] = vi_blend_odd(p->c2, vi_slli64(q->c2, 32));
        b[2 * g + 1] = vi_blend_odd(p->c3, vi_slli64(q->c3, 32));
    }
    normal_pairs_nv(a, b, z0, z1);
    for (int g = 0; g < NV / 2; g++) {
        const vi b0 = vf_bits(z0[2 * g]), b1 = vf_bits(z1[2 * g]);
        const vi b2 = vf_bits(z0[2 * g + 1]), b3 = vf_bits(z1[2 * g + 1]);
        store_pairs(out + 4 * VB * 2 * g, vi_blend_odd(b0, vi_slli64(b1, 32)),
                    vi_blend_odd(b2, vi_slli64(b3, 32)));
        store_pairs(out + 4 * VB * (2 * g + 1), vi_blend_odd(vi_srli64(b0, 32), b1),
                    vi_blend_odd(vi_srli64(b2, 32), b3));
    }
}

/* One batch: GB words (or normals) of the blocks from `block` on. */
static inline void ph_fill(void *out, uint64_t block, const gd_keyctx *k, bool normals)
{
    if (normals) {
        ph_set st[NV];
        ph_batch(st, block, k);
        ph_store_normals(out, st);
        return;
    }
    vi w[2 * NV];
    ph_words_v(w, block, k);
    for (int q = 0; q < 2 * NV; q++)
        vi_store((uint32_t *)out + (size_t)q * VL, w[q]);
}

/* The words (or normals) of indices first .. first + len - 1 (len <= CHUNK)
 * in element order into buf (BUFW 32-bit slots); returns the slot of index
 * `first`. */
static size_t fill_blocks(void *buf, uint64_t first, size_t len, const gd_keyctx *k, bool normals)
{
    const size_t need = (size_t)(first & 3) + len;
    uint64_t block = first >> 2;
    for (size_t w = 0; w < need; w += GB, block += GB / 4)
        ph_fill((uint32_t *)buf + w, block, k, normals);
    return (size_t)(first & 3);
}

static const uint32_t *fill_words(uint32_t *buf, uint64_t first, size_t len, const gd_keyctx *k)
{
    return buf + fill_blocks(buf, first, len, k, false);
}

/* ---- the word stream of the fused ops ------------------------------------- */

/* The fused ops draw one batch, then at once use it on GB elements, so the
 * generator's arithmetic and the loads and stores of the data are close
 * together in the instruction stream and the core overlaps them; with a
 * generate-all-then-apply chunk of 1024 words the memory system idles while
 * the generator runs.  A call that starts inside a block (first % 4 = h)
 * carries that block's last words over from batch to batch.
 *
 * Measured and left out (bench/gd_bench.c, 16M floats, AVX-512 on Zen 5):
 * software prefetch of x ahead of the loop (no gain: the hardware
 * prefetchers follow one sequential stream), and non-temporal stores for
 * large out-of-place outputs, which skip the read-for-ownership of y and
 * make a plain scale loop ~10% faster, but made these kernels 30-40%
 * slower (fwd 1.65-1.8x the scale loop against 1.2-1.3x with ordinary
 * stores).  Also tried (2026-12-06, idle-then-loaded 2-vCPU EPYC host):
 * software pipelining, the next batch's ten rounds run between this
 * window's vectors so that the memory never idles during the rounds.  One
 * gd_bench run put gd_dropout_fwd at 1.02-1.09x its floor against
 * 1.11-1.18; but interleaved in one process (old and new call by call, 25
 * pairs) the float forward measured 0.95-1.04x the old, and the
 * per-column and half forms 1.07-1.30x at 16M elements and 1.18-1.33x in
 * cache: the sixteen generator vectors live beside the window's leave too
 * few registers.  Not kept. */
typedef struct wstream {
    _Alignas(64) uint32_t buf[VL + GB]; /* batch at buf + VL, carry just before */
    uint64_t block;                     /* first block of the next batch */
    size_t lead;                        /* slot of the window's first element */
    bool carry;
    bool odd; /* 16-bit draws: the batch's second window is next */
} wstream;

static void ws_init(wstream *g, uint64_t first, bool normals, const gd_keyctx *k)
{
    const unsigned h = (unsigned)(first & 3);
    g->block = first >> 2;
    g->lead = VL;
    g->carry = false;
    g->odd = false;
    if (h == 0)
        return;
    uint32_t w[4];
    gd_philox_block(g->block++, k, w);
    if (normals) {
        float z[4];
        gd_normal_pair(w[0], w[1], z);
        gd_normal_pair(w[2], w[3], z + 2);
        memcpy(g->buf + VL - 4, z, sizeof z);
    } else {
        memcpy(g->buf + VL - 4, w, sizeof w);
    }
    g->lead = VL - 4 + h;
}

/* The next GB words (normals) in element order: after m calls, those of the
 * call's elements GB*m .. GB*m + GB - 1.  `normals` is a constant at every
 * call, never a field of the stream: as a field it was a branch the
 * compiler could not remove, and the batch's sixteen state vectors were
 * spilled to the stack for it, sixteen stores a batch queued behind y's. */
static inline __attribute__((always_inline)) void ws_fill(wstream *g, const gd_keyctx *k,
                                                          size_t whole, bool normals)
{
    if (g->carry)
        memcpy(g->buf + VL - 4, g->buf + VL + GB - 4, 4 * sizeof(uint32_t));
    g->carry = g->lead != whole; /* a partial first block: carry the last */
    ph_fill(g->buf + VL, g->block, k, normals);
    g->block += GB / 4;
}

static inline __attribute__((always_inline)) const uint32_t *ws_next(wstream *g,
                                                                     const gd_keyctx *k)
{
    ws_fill(g, k, VL, false);
    return g->buf + g->lead;
}

/* gauss_run's stream (ws_init with normals = true): the next GB normals. */
static inline const float *ws_next_normals(wstream *g, const gd_keyctx *k)
{
    ws_fill(g, k, VL, true);
    return (const float *)(const void *)(g->buf + g->lead);
}

/* The 16-bit rule's draws (src/half.h, gd_draw16): element e's is half
 * e % 2 of word e / 2, low half first, so on this little-endian ISA the
 * words' bytes read as uint16 are the draws in element order, 8 a block,
 * and a batch of GB words is 2 GB draws: two windows.  The same stream,
 * counted in draws (lead is a draw slot of buf), and a block carried over
 * when the call starts inside one (first % 8 != 0). */
static void ws16_init(wstream *g, uint64_t first, const gd_keyctx *k)
{
    const unsigned h = (unsigned)(first & 7);
    g->block = first >> 3;
    g->lead = 2 * VL;
    g->carry = false;
    g->odd = false;
    if (h == 0)
        return;
    gd_philox_block(g->block++, k, g->buf + VL - 4);
    g->lead = 2 * (VL - 4) + h;
}

/* The draws of the next GB elements, as bytes (read them with ld_d). */
static inline const unsigned char *ws16_next(wstream *g, const gd_keyctx *k)
{
    const unsigned char *d = (const unsigned char *)g->buf;
    g->odd = !g->odd;
    if (!g->odd)
        return d + 2 * (g->lead + GB);
    ws_fill(g, k, 2 * VL, false);
    return d + 2 * g->lead;
}

/* ---- thresholds and mask bits ------------------------------------------- */

/* t(p) in 32 bits: keep iff w >= t && a; t(1) = 2^32 becomes a = 0. */
typedef struct thr32 {
    uint32_t t, a;
} thr32;

static inline thr32 thr32_of(uint64_t thr)
{
    const bool none = thr > UINT32_MAX;
    const thr32 r = {none ? 0u : (uint32_t)thr, none ? 0u : UINT32_MAX};
    return r;
}

static inline bool keep1(uint32_t w, uint32_t t, uint32_t a)
{
    return w >= t && a != 0;
}

/* When t(p) is 0 or 2^32 the words do not matter, so the generator is
 * skipped and any word (these zeros) gives the right keep bits. */
static const uint32_t zero_words[CHUNK]; /* CHUNK >= GB: mask_simd reads CHUNK */

static inline bool thr_constant(uint64_t thr)
{
    return thr == 0 || thr > UINT32_MAX;
}

/* ---- the draws of either rule --------------------------------------------- */

/* The ops that keep by a draw read it through these, with r16 a constant in
 * each inlined copy: 0, the 32-bit rule (a word per element, thr = t(p)),
 * or 1, the 16-bit rule (ws16_init's halves, thr = k(p) in 0 .. 65536,
 * kept iff draw >= k, so k = 65536 keeps none, as t(1) = 2^32 does).
 * Draw buffers are read as bytes (memcpy, the vector loads): the stream's
 * words are uint32_t, and its halves are not read through a uint16_t
 * lvalue. */
static inline __attribute__((always_inline)) const void *d_at(const void *w, size_t j, int r16)
{
    return (const unsigned char *)w + (r16 ? 2 : 4) * j;
}

static inline __attribute__((always_inline)) vi ld_d(const void *w, size_t j, int r16)
{
    return r16 ? vi_load_u16(d_at(w, j, 1)) : vi_load(d_at(w, j, 0));
}

static inline __attribute__((always_inline)) uint32_t ld_d1(const void *w, size_t j, int r16)
{
    if (r16) {
        uint16_t d;
        memcpy(&d, d_at(w, j, 1), sizeof d);
        return d;
    }
    uint32_t d;
    memcpy(&d, d_at(w, j, 0), sizeof d);
    return d;
}

static inline thr32 thr_of(uint64_t thr, int r16)
{
    if (!r16)
        return thr32_of(thr);
    const thr32 r = {(uint32_t)thr, UINT32_MAX};
    return r;
}

/* Whether the draws do not matter (nothing or everything kept). */
static inline bool thr_const(uint64_t thr, int r16)
{
    return r16 ? thr == 0 || thr >= 65536 : thr_constant(thr);
}

/* Whether an op under the 32-bit rule whose call starts at stream index
 * `first` takes its words batch by batch in registers (ph_words_v) instead
 * of through the stream's buffer: when the call starts on a Philox block,
 * so that every batch is whole blocks (a tail shorter than a batch, a call
 * that starts inside a block and the 16-bit rule keep the buffer).  The
 * buffer's round trip, the batch's words stored and then loaded by the
 * window, is gone.  Measured (Zen 5, 2026-12-07, against the buffer, the
 * two builds' gd_bench runs in turn, 6 each): at 16M floats gd_dropout_fwd
 * + mask took 1.09-1.14x its floor (1.14-1.30x before), the no-mask
 * forward 1.08-1.13x (1.11-1.26), the regenerating backward 1.07-1.22x
 * (1.11-1.25), add_fwd 0.94-1.09x (1.05-1.16); in cache fwd 0.98-0.99x
 * (1.03-1.04).  bf16 under the 32-bit rule 0.05-0.08 less against its
 * floor, fp16 the same. */
static inline bool reg_draws(uint64_t first, int r16)
{
    return !r16 && (first & 3) == 0;
}

/* A batch's keep bits, gathered as each vector's are computed and stored
 * with one copy of GB / 8 bytes in place of 2 * NV two-byte stores (bit e of
 * word e / 64 is element e's: the mask layout on this little-endian ISA).
 * With register draws, gd_dropout_fwd + mask at 16M floats took 0.94-1.18x
 * its floor against 1.15-1.27x with the two-byte stores (6 runs each). */
typedef struct batch_bits {
    uint64_t w[(GB + 63) / 64];
} batch_bits;

static inline __attribute__((always_inline)) void bits_put(batch_bits *b, int q, vk keep)
{
    b->w[q * VL / 64] |= (uint64_t)vk_bits(keep) << (q * VL % 64);
}

static inline void bits_store(uint8_t *mask, const batch_bits *b)
{
    memcpy(mask, b->w, GB / 8);
}

static inline void ws_start(wstream *g, uint64_t first, const gd_keyctx *k, int r16)
{
    if (r16)
        ws16_init(g, first, k);
    else
        ws_init(g, first, false, k);
}

/* The draws of the next GB elements (the zeros when thr_const). */
static inline __attribute__((always_inline)) const void *ws_draws(wstream *g, const gd_keyctx *k,
                                                                  bool cst, int r16)
{
    if (cst)
        return zero_words;
    return r16 ? (const void *)ws16_next(g, k) : (const void *)ws_next(g, k);
}

/* The VL / 8 mask bytes of one vector's keep bits (lane j <-> bit j): one
 * store of the low bytes, this ISA being little-endian.  Written as a loop
 * of byte stores, clang 14 stored the bits to the stack, loaded them back
 * as 16 bytes (a load the store cannot forward) and extracted the bytes:
 * 2x gd_dropout_fwd's time at 16M floats from an offset inside a block. */
static inline void put_lane_bits(uint8_t *mask, uint32_t bits)
{
    const uint16_t b = (uint16_t)bits;
    _Static_assert(VL / 8 <= sizeof b, "a vector's mask bytes fit a uint16_t");
    memcpy(mask, &b, VL / 8);
}

static inline uint32_t get_lane_bits(const uint8_t *mask)
{
    uint32_t bits = 0;
    for (int i = 0; i < VL / 8; i++)
        bits |= (uint32_t)mask[i] << (8 * i);
    return bits;
}

/* nbits (<= 24) mask bits from bit position pos, reading only their bytes. */
static inline uint32_t get_bits(const uint8_t *mask, size_t pos, unsigned nbits)
{
    const size_t b0 = pos >> 3, b1 = (pos + nbits - 1) >> 3;
    uint32_t v = 0;
    for (size_t b = b1 + 1; b-- > b0;)
        v = v << 8 | mask[b];
    return (v >> (pos & 7)) & ((UINT32_C(1) << nbits) - 1);
}

/* ORs nbits (<= 32) bits into a little bit buffer at bit position pos. */
static inline void put_bits(uint64_t *acc, size_t pos, uint64_t bits, unsigned nbits)
{
    const unsigned sh = (unsigned)(pos & 63);
    acc[pos >> 6] |= bits << sh;
    if (sh + nbits > 64)
        acc[(pos >> 6) + 1] |= bits >> (64 - sh);
}

/* Mask bytes of len draws from a byte boundary, padding bits 0.  Out of
 * line: the fused ops call it only for a window's last partial vector, and
 * inlined into each of their copies it made the bf16 and fp16 forwards
 * 5-9 % slower (2026-12-06, interleaved A/B at 16M elements; out of line
 * they measured 0.95x the session's starting point). */
static __attribute__((noinline)) void pack_chunk(uint8_t *mask, const void *w, size_t len,
                                                  thr32 t, int r16)
{
    const vi tv = vi_set1(t.t), av = vi_set1(t.a);
    size_t j = 0;
    for (; j + VL <= len; j += VL)
        put_lane_bits(mask + j / 8, vk_bits(keep_of(ld_d(w, j, r16), tv, av)));
    for (size_t b = j / 8; b * 8 < len; b++) {
        unsigned byte = 0;
        for (size_t i = b * 8; i < min_sz(len, b * 8 + 8); i++)
            byte |= (unsigned)keep1(ld_d1(w, i, r16), t.t, t.a) << (i & 7);
        mask[b] = (uint8_t)byte;
    }
}

/* ---- the ops -------------------------------------------------------------- */

static void words_simd(uint32_t *w, size_t n, uint64_t first, const gd_keyctx *k)
{
    _Alignas(64) uint32_t buf[BUFW];
    for (size_t j0 = 0; j0 < n; j0 += CHUNK) {
        const size_t len = min_sz(CHUNK, n - j0);
        memcpy(w + j0, fill_words(buf, first + j0, len, k), len * sizeof *w);
    }
}

static void mask_simd(uint8_t *mask, size_t n, uint64_t first, uint64_t thr, const gd_keyctx *k)
{
    _Alignas(64) uint32_t buf[BUFW];
    const thr32 t = thr32_of(thr);
    for (size_t j0 = 0; j0 < n; j0 += CHUNK) {
        const size_t len = min_sz(CHUNK, n - j0);
        const uint32_t *w = thr_constant(thr) ? zero_words : fill_words(buf, first + j0, len, k);
        pack_chunk(mask + j0 / 8, w, len, t, 0);
    }
}

/* ---- element types --------------------------------------------------------- */

/* The fused ops read and write their tensors through these four, with dt a
 * constant in each inlined copy: GD_F32 for the float ops, and, in a family
 * that defines GD_SIMD_HALF, GD_BF16 and GD_F16 for the one-pass forms of
 * the 1.2 kernels (src/half.c).  So each op is one loop, compiled once per
 * type.  Half elements are widened exactly and results rounded to nearest
 * even as src/half.h's references do.  Chunk by chunk through float buffers
 * (src/half.c's other path) the conversions and the generator ran one after
 * the other: 1.3-2.3x their floor, the conversions 41 % of a bf16 forward
 * (perf). */
/* Bytes per element of type dt. */
static inline size_t esz_of(int dt) { return dt == GD_F32 ? sizeof(float) : sizeof(uint16_t); }

static inline __attribute__((always_inline)) vf ld_v(const void *p, size_t i, int dt)
{
#if defined(GD_SIMD_HALF)
    if (dt != GD_F32)
        return vf_load_h((const uint16_t *)p + i, dt);
#endif
    (void)dt;
    return vf_load((const float *)p + i);
}

static inline __attribute__((always_inline)) void st_v(void *p, size_t i, vf v, int dt)
{
#if defined(GD_SIMD_HALF)
    if (dt != GD_F32) {
        vf_store_h((uint16_t *)p + i, v, dt);
        return;
    }
#endif
    (void)dt;
    vf_store((float *)p + i, v);
}

static inline __attribute__((always_inline)) float ld_1(const void *p, size_t i, int dt)
{
#if defined(GD_SIMD_HALF)
    if (dt == GD_BF16)
        return gd_bf16_to_f32(((const uint16_t *)p)[i]);
    if (dt == GD_F16)
        return gd_f16_to_f32(((const uint16_t *)p)[i]);
#endif
    (void)dt;
    return ((const float *)p)[i];
}

static inline __attribute__((always_inline)) void st_1(void *p, size_t i, float f, int dt)
{
#if defined(GD_SIMD_HALF)
    if (dt == GD_BF16) {
        ((uint16_t *)p)[i] = gd_f32_to_bf16(f);
        return;
    }
    if (dt == GD_F16) {
        ((uint16_t *)p)[i] = gd_f32_to_f16(f);
        return;
    }
#endif
    (void)dt;
    ((float *)p)[i] = f;
}

/* keep ? a * b : +0.0f.  On half tensors one zero-masked multiply where
 * the family has it: a is a conversion's result there, not a load the
 * compiler could fold into a masked load (vf_keep's reason). */
static inline __attribute__((always_inline)) vf keep_mul(vk keep, vf a, vf b, int dt)
{
#if defined(GD_SIMD_HALF)
    if (dt != GD_F32)
        return vf_maskz_mul(keep, a, b);
#endif
    (void)dt;
    return vf_keep(keep, vf_mul(a, b));
}

/* y = keep ? x * s : 0 on elements at .. at + len - 1 (len <= GB, at on a
 * mask byte boundary, mask the byte of element at). */
/* y = keep ? x * s : 0 on the VL elements from e (s per lane). */
static inline __attribute__((always_inline)) void keep_store(void *y, const void *x, size_t e,
                                                             vk keep, vf sv, int dt)
{
    st_v(y, e, keep_mul(keep, ld_v(x, e, dt), sv, dt), dt);
}

/* One vector of fwd from its draws d; returns its keep predicate. */
static inline __attribute__((always_inline)) vk fwd_vec(void *y, const void *x, size_t e, vi d,
                                                       vi tv, vi av, vf sv, int dt)
{
    const vk keep = keep_of(d, tv, av);
    keep_store(y, x, e, keep, sv, dt);
    return keep;
}

static inline __attribute__((always_inline)) void
fwd_window(void *y, const void *x, size_t at, uint8_t *mask, const void *w, size_t len, thr32 t,
           float s, int dt, int r16)
{
    const vi tv = vi_set1(t.t), av = vi_set1(t.a);
    const vf sv = vf_set1(s);
    size_t j = 0;
    for (; j + VL <= len; j += VL) {
        const vk keep = fwd_vec(y, x, at + j, ld_d(w, j, r16), tv, av, sv, dt);
        if (mask)
            put_lane_bits(mask + j / 8, vk_bits(keep));
    }
    for (size_t i = j; i < len; i++)
        st_1(y, at + i, keep1(ld_d1(w, i, r16), t.t, t.a) ? ld_1(x, at + i, dt) * s : 0.0f, dt);
    if (mask && j < len)
        pack_chunk(mask + j / 8, d_at(w, j, r16), len - j, t, r16);
}

/* The element-order ops fetch their streams' lines STREAM_AHEAD bytes
 * ahead, one batch's worth per batch: x (and a residual) to read, y to
 * write.  In these loops a batch's Philox arithmetic and its loads and
 * stores come one after the other, and the hardware prefetchers alone left
 * a fwd + mask at 16M floats at 1.14-1.24x max(scale loop, generator);
 * with the hints it took 0.92-0.96x its time (interleaved in one process,
 * Zen 5, 2026-12-07, 1K-8K bytes ahead alike), the per-column forward up
 * to 2048 columns 0.89-0.96x.  Fetching x alone or y alone measured
 * 1.07-1.10x: both, or neither.  In cache the hints cost nothing
 * measurable.  Not taken where they measured no gain: the half types
 * (1.00-1.02x), the Gaussian (0.99-1.04x).  add_fwd, with its residual
 * as a third stream, measured 1.03x with these (1.06-1.12x in cache) and
 * fetches only its reads, nearer (prefetch_reads).  A second fetch per
 * batch 16 or 32 KiB ahead into L2 (prefetcht1/t2, which fill L2 from Zen 4
 * on) made fwd 1.33-1.40x and the regenerating backward 1.27-1.51x as
 * slow (2026-12-07, bench/README.md round 8). */
enum { STREAM_AHEAD = 4096 };

/* GB elements of x and y from element e (esz bytes each), a line of x then
 * a line of y (all of x's lines first measured 1.04x this order's time in
 * fwd). */
static inline __attribute__((always_inline)) void prefetch_pair(const void *x, const void *y,
                                                                size_t e, size_t esz)
{
    const unsigned char *bx = (const unsigned char *)x + e * esz;
    const unsigned char *by = (const unsigned char *)y + e * esz;
    for (size_t i = 0; i < GB * esz; i += 64) {
        __builtin_prefetch(bx + i, 0, 3);
        __builtin_prefetch(by + i, 1, 3);
    }
}

/* Both of an element-order op's streams, STREAM_AHEAD bytes past element
 * j0 of n. */
static inline __attribute__((always_inline)) void prefetch_streams(const void *x, const void *y,
                                                                   size_t j0, size_t n, size_t esz)
{
    const size_t e = j0 + STREAM_AHEAD / esz;
    if (e + GB <= n)
        prefetch_pair(x, y, e, esz);
}

static inline __attribute__((always_inline)) void
fwd_run(void *y, const void *x, uint8_t *mask, size_t n, uint64_t first, uint64_t thr, float s,
        const gd_keyctx *k, int dt, int r16)
{
    const thr32 t = thr_of(thr, r16);
    const bool cst = thr_const(thr, r16);
    size_t j0 = 0;
    if (!cst && reg_draws(first, r16)) {
        const vi tv = vi_set1(t.t), av = vi_set1(t.a);
        const vf sv = vf_set1(s);
        for (uint64_t block = first >> 2; j0 + GB <= n; j0 += GB, block += GB / 4) {
            if (dt == GD_F32)
                prefetch_streams(x, y, j0, n, sizeof(float));
            vi w[2 * NV];
            ph_words_v(w, block, k);
            batch_bits b = {{0}};
            for (int q = 0; q < 2 * NV; q++)
                bits_put(&b, q, fwd_vec(y, x, j0 + (size_t)q * VL, w[q], tv, av, sv, dt));
            if (mask)
                bits_store(mask + j0 / 8, &b);
        }
    }
    wstream g; /* the rest, or all, through the buffer */
    if (!cst)
        ws_start(&g, first + j0, k, r16);
    for (; j0 < n; j0 += GB) {
        if (dt == GD_F32) /* the half types measured 1.00-1.02x with them */
            prefetch_streams(x, y, j0, n, sizeof(float));
        fwd_window(y, x, j0, mask ? mask + j0 / 8 : NULL, ws_draws(&g, k, cst, r16),
                   min_sz(GB, n - j0), t, s, dt, r16);
    }
}

static void fwd_simd(float *y, const float *x, uint8_t *mask, size_t n, uint64_t first,
                     uint64_t thr, float s, const gd_keyctx *k)
{
    fwd_run(y, x, mask, n, first, thr, s, k, GD_F32, 0);
}

/* The stored-mask backward, a memory loop.  The half types take fwd's
 * prefetch, a batch at a time, on tensors past L2 (PF_MIN_BYTES): 16M
 * elements took 0.84-0.97x the time without (fp16 and bf16, in one
 * process both ways round, 2026-12-07), but 64K elements in cache 1.30x,
 * the hints being most of such a light loop's work; float measured
 * 1.07-1.14x with them at 16M and does without. */
enum { PF_MIN_BYTES = 1 << 20 };

static inline __attribute__((always_inline)) void
bwd_mask_run(void *dx, const void *dy, const uint8_t *mask, size_t n, float s, int dt)
{
    const vf sv = vf_set1(s);
    size_t j = 0;
    if (dt != GD_F32 && n > PF_MIN_BYTES / esz_of(dt))
        for (; j + GB <= n; j += GB) {
            prefetch_streams(dy, dx, j, n, esz_of(dt));
            for (size_t i = j; i < j + GB; i += VL) {
                const vk keep = vk_from_bits(get_lane_bits(mask + i / 8));
                st_v(dx, i, keep_mul(keep, ld_v(dy, i, dt), sv, dt), dt);
            }
        }
    for (; j + VL <= n; j += VL) {
        const vk keep = vk_from_bits(get_lane_bits(mask + j / 8));
        st_v(dx, j, keep_mul(keep, ld_v(dy, j, dt), sv, dt), dt);
    }
    for (; j < n; j++)
        st_1(dx, j, (mask[j >> 3] >> (j & 7)) & 1u ? ld_1(dy, j, dt) * s : 0.0f, dt);
}

static void bwd_mask_simd(float *dx, const float *dy, const uint8_t *mask, size_t n, float s)
{
    bwd_mask_run(dx, dy, mask, n, s, GD_F32);
}

/* One run of the fused epilogue inside a row: bias points at the run's first
 * column (or is NULL), residual at its first element (or is NULL). */
static inline void add_run(float *y, const float *x, const float *bias, const float *residual,
                           const uint32_t *w, size_t len, thr32 t, float s)
{
    const vi tv = vi_set1(t.t), av = vi_set1(t.a);
    const vf sv = vf_set1(s);
    size_t j = 0;
    for (; j + VL <= len; j += VL) {
        vf v = vf_load(x + j);
        if (bias)
            v = vf_add(v, vf_load(bias + j));
        v = vf_keep(keep_of(vi_load(w + j), tv, av), vf_mul(v, sv));
        if (residual)
            v = vf_add(vf_load(residual + j), v);
        vf_store(y + j, v);
    }
    for (; j < len; j++) {
        float v = x[j];
        if (bias)
            v = v + bias[j];
        v = keep1(w[j], t.t, t.a) ? v * s : 0.0f;
        if (residual)
            v = residual[j] + v;
        y[j] = v;
    }
}

/* The fused epilogue on elements at .. at + len - 1 (len <= GB, from a mask
 * byte boundary; bias, if not NULL, at the first one's column of the cyclic
 * table), the keep bits stored as they are computed (as fwd_window does),
 * so the mask needs no second pass over the words.  The operations and
 * their order are add_run's. */
/* One vector of the fused epilogue from its draws d (bias at its first
 * element's entry, or NULL); returns its keep predicate. */
static inline __attribute__((always_inline)) vk add_vec(void *y, const void *x, const float *bias,
                                                       const void *residual, size_t e, vi d, vi tv,
                                                       vi av, vf sv, int dt)
{
    vf v = ld_v(x, e, dt);
    if (bias)
        v = vf_add(v, vf_load(bias));
    const vk keep = keep_of(d, tv, av);
    v = keep_mul(keep, v, sv, dt);
    if (residual)
        v = vf_add(ld_v(residual, e, dt), v);
    st_v(y, e, v, dt);
    return keep;
}

static inline __attribute__((always_inline)) void
add_window(void *y, const void *x, const float *bias, const void *residual, size_t at,
           uint8_t *mask, const void *w, size_t len, thr32 t, float s, int dt, int r16)
{
    const vi tv = vi_set1(t.t), av = vi_set1(t.a);
    const vf sv = vf_set1(s);
    size_t j = 0;
    for (; j + VL <= len; j += VL) {
        const vk keep =
            add_vec(y, x, bias ? bias + j : NULL, residual, at + j, ld_d(w, j, r16), tv, av, sv, dt);
        if (mask)
            put_lane_bits(mask + j / 8, vk_bits(keep));
    }
    for (size_t i = j; i < len; i++) {
        float v = ld_1(x, at + i, dt);
        if (bias)
            v = v + bias[i];
        v = keep1(ld_d1(w, i, r16), t.t, t.a) ? v * s : 0.0f;
        if (residual)
            v = ld_1(residual, at + i, dt) + v;
        st_1(y, at + i, v, dt);
    }
    if (mask && j < len)
        pack_chunk(mask + j / 8, d_at(w, j, r16), len - j, t, r16);
}

/* Up to ADD_TAB_COLS columns the bias is read through a cyclic copy (entry
 * i is bias[i % cols], for cols + GB entries), so a batch whose first
 * element is in column c reads entries c .. c + GB - 1 whatever row ends it
 * crosses: one loop over the batch, no split at row ends, and the mask bits
 * stored from the keep predicates (before, each batch was split into row
 * runs and its mask packed from the words in a second pass).  Wider rows
 * keep the split. */
enum { ADD_TAB_COLS = 4096 };

static void add_fwd_split(float *y, const float *x, const float *bias, const float *residual,
                          uint8_t *mask, size_t rows, size_t cols, uint64_t first, uint64_t thr,
                          float s, const gd_keyctx *k)
{
    const size_t n = rows * cols;
    const thr32 t = thr32_of(thr);
    wstream g;
    if (!thr_constant(thr))
        ws_init(&g, first, false, k);
    size_t c = 0; /* column of element j0 */
    for (size_t j0 = 0; j0 < n; j0 += GB) {
        const size_t len = min_sz(GB, n - j0);
        const uint32_t *w = thr_constant(thr) ? zero_words : ws_next(&g, k);
        const float *res = residual ? residual + j0 : NULL;
        /* split at row ends so the bias is read contiguously */
        for (size_t j = 0; j < len;) {
            const size_t run = min_sz(len - j, cols - c);
            add_run(y + j0 + j, x + j0 + j, bias + c, res ? res + j : NULL, w + j, run, t, s);
            j += run;
            c = c + run == cols ? 0 : c + run;
        }
        if (mask)
            pack_chunk(mask + j0 / 8, w, len, t, 0);
    }
}

/* add_fwd's float reads, x and the residual (or NULL), one batch
 * ADD_AHEAD bytes past element j0 of n.  Measured at 16M floats (Zen 5,
 * 2026-12-07, two libraries in one process, called in turn in both
 * orders): 0.87-0.97x the time without, y's lines fetched too the same,
 * 4 or 8 KiB ahead with y 1.06-1.09x, 1024 and 1536 bytes ahead
 * 0.88-0.99x.  In cache
 * (64K) 1.01-1.05x, so only past L2 (PF_MIN_BYTES).  The half types were
 * not measured and do without. */
enum { ADD_AHEAD = 2048 };

static inline __attribute__((always_inline)) void prefetch_reads(const float *x,
                                                                 const void *residual,
                                                                 size_t j0, size_t n)
{
    const size_t e = j0 + ADD_AHEAD / sizeof(float);
    if (e + GB > n)
        return;
    const unsigned char *bx = (const unsigned char *)(x + e);
    const unsigned char *br = residual ? (const unsigned char *)((const float *)residual + e) : NULL;
    for (size_t i = 0; i < GB * sizeof(float); i += 64) {
        __builtin_prefetch(bx + i, 0, 3);
        if (br)
            __builtin_prefetch(br + i, 0, 3);
    }
}

/* The batches of the table path: btab the cyclic bias table, or NULL. */
static inline __attribute__((always_inline)) void
add_tab_run(void *y, const void *x, const float *btab, const void *residual, uint8_t *mask,
            size_t rows, size_t cols, uint64_t first, uint64_t thr, float s, const gd_keyctx *k,
            int dt, int r16)
{
    const size_t n = rows * cols, step = GB % cols;
    const thr32 t = thr_of(thr, r16);
    const bool cst = thr_const(thr, r16);
    const bool pf = dt == GD_F32 && !r16 && n > PF_MIN_BYTES / sizeof(float);
    size_t c = 0; /* column of element j0 */
    size_t j0 = 0;
    if (!cst && reg_draws(first, r16)) {
        const vi tv = vi_set1(t.t), av = vi_set1(t.a);
        const vf sv = vf_set1(s);
        for (uint64_t block = first >> 2; j0 + GB <= n; j0 += GB, block += GB / 4) {
            if (pf)
                prefetch_reads(x, residual, j0, n);
            vi w[2 * NV];
            ph_words_v(w, block, k);
            batch_bits b = {{0}};
            for (int q = 0; q < 2 * NV; q++) {
                const size_t j = (size_t)q * VL;
                bits_put(&b, q, add_vec(y, x, btab ? btab + c + j : NULL, residual, j0 + j, w[q],
                                        tv, av, sv, dt));
            }
            if (mask)
                bits_store(mask + j0 / 8, &b);
            c += step;
            c = c >= cols ? c - cols : c;
        }
    }
    wstream g;
    if (!cst)
        ws_start(&g, first + j0, k, r16);
    for (; j0 < n; j0 += GB) {
        if (pf)
            prefetch_reads(x, residual, j0, n);
        add_window(y, x, btab ? btab + c : NULL, residual, j0, mask ? mask + j0 / 8 : NULL,
                   ws_draws(&g, k, cst, r16), min_sz(GB, n - j0), t, s, dt, r16);
        c += step;
        c = c >= cols ? c - cols : c;
    }
}

static void add_fwd_simd(float *y, const float *x, const float *bias, const float *residual,
                         uint8_t *mask, size_t rows, size_t cols, uint64_t first, uint64_t thr,
                         float s, const gd_keyctx *k)
{
    if (bias && cols > ADD_TAB_COLS) {
        add_fwd_split(y, x, bias, residual, mask, rows, cols, first, thr, s, k);
        return;
    }
    _Alignas(64) float btab[ADD_TAB_COLS + GB];
    if (bias) {
        memcpy(btab, bias, cols * sizeof *btab);
        for (size_t i = cols; i < cols + GB; i++) /* no division per entry */
            btab[i] = btab[i - cols];
    }
    add_tab_run(y, x, bias ? btab : NULL, residual, mask, rows, cols, first, thr, s, k, GD_F32, 0);
}


/* ---- per-column ops ------------------------------------------------------- */

/* Thresholds and scales of up to COLS_BLOCK columns, computed once per call
 * (or once per column block) so the element loops never divide.  A column
 * at p = 1 (t(p) = 2^32: nothing kept) has scale +0.0f, the one case with
 * all scale bits 0, and keep_of reads the scale's bits as its `a`: the table
 * is 8 bytes a column (keep_of_nz), so 4096 columns (32 KiB) are one block.
 *
 * Up to BANDED_MIN_COLS (COLS_BLOCK) columns the table is cyclic: entry i
 * is column i % cols for i < cols + GB, so a batch of GB elements whose
 * first element is in column c reads entries c .. c + GB - 1 whatever row
 * ends it crosses, and
 * the hot loop is fwd's with two table loads in place of the broadcast
 * threshold and scale. */
enum { COLS_BLOCK = 4096, TAB = COLS_BLOCK + GB };

typedef struct col_tab {
    _Alignas(64) uint32_t t[TAB];
    _Alignas(64) float s[TAB];
} col_tab;

/* The table's entries of VL columns at once, as thr32_of(gd_threshold(p))
 * and gd_keep_scale(p) give them one at a time (a call's table cost one
 * double division and one floor per column, a tenth of a 64K-element call
 * at 1024 columns in cache, and over half of one at 16384):
 * - t: p * 2^32 is exact in float (a power of two), and p < 1 keeps it
 *   below 2^32, so truncating it to uint32 is the floor of the double
 *   product;
 * - s: the same double subtraction, division and rounding to float;
 * - p >= 1 (keep nothing): t 0, s 0 (its `a`), and it is divided as p = 0,
 *   never by 0 (a host may trap on FE_DIVBYZERO);
 * - p = -0.0f (valid: it compares equal to 0): t 0 and s 1, as for +0. */
static inline void tab_lanes(uint32_t *t, float *s, const float *p)
{
    const vf pv = vf_load(p);
    /* p >= 1 on the magnitude's bits: a valid p may be -0.0f, which keeps
     * everything (t 0, s 1) as +0.0f does */
    const vi mag = vi_and(vf_bits(pv), vi_set1(0x7fffffffu));
    const vk whole = keep_of(mag, vi_set1(0x3f800000u), vi_set1(~0u));
    const vf q = vf_sel(whole, vf_set1(0.0f), pv);
    const vd one = vd_set1(1.0);
    const vf sc = vf_of_vd(vd_div(one, vd_sub(one, vd_of_lo(q))), vd_div(one, vd_sub(one, vd_of_hi(q))));
    vi_store(t, vi_trunc_u32(vf_mul(q, vf_set1(4294967296.0f))));
    vf_store(s, vf_sel(whole, vf_set1(0.0f), sc));
}

#if defined(GD_SIMD_HALF)
/* The 16-bit rule's entries of VL columns, as gd_k16(p) and
 * gd_keep_scale16(k) give them one at a time:
 * - k = floor(p * 65536 + 0.5) in double is trunc(u) + (frac(u) >= 0.5)
 *   with u = p * 65536, exact in float (a power of two), and frac(u) =
 *   u - trunc(u) exact too; the double sum cannot round across an integer,
 *   as a frac within a float ulp of 0.5 is still 2^-8 or more from it;
 * - s: k / 65536 is exact in float below 65536, then the same double
 *   subtraction, division and rounding to float; k = 65536 (p within
 *   2^-17 of 1: nothing kept) gets s 0 and is divided as k = 0. */
static inline void tab16_lanes(uint32_t *t, float *s, const float *p)
{
    const vi ones = vi_set1(~0u);
    const vf u = vf_mul(vf_load(p), vf_set1(65536.0f)); /* -0.0f and 0 .. 65536 */
    const vi i = vi_trunc_u32(u);
    const vi frac = vi_and(vf_bits(vf_sub(u, vf_of_i32(i))), vi_set1(0x7fffffffu));
    const vk up = keep_of(frac, vi_set1(0x3f000000u), ones); /* frac >= 0.5f */
    const vi kv = vi_add(i, vf_bits(vf_keep(up, vf_from_bits(vi_set1(1)))));
    const vk whole = keep_of(kv, vi_set1(65536), ones);
    const vf q = vf_mul(vf_sel(whole, vf_set1(0.0f), vf_of_i32(kv)), vf_set1(1.0f / 65536.0f));
    const vd one = vd_set1(1.0);
    const vf sc = vf_of_vd(vd_div(one, vd_sub(one, vd_of_lo(q))), vd_div(one, vd_sub(one, vd_of_hi(q))));
    vi_store(t, kv);
    vf_store(s, vf_sel(whole, vf_set1(0.0f), sc));
}
#endif

/* The table (thresholds t, scales s) of columns 0 .. ncols - 1 of p under
 * the call's rule. */
static inline __attribute__((always_inline)) void tab_fill(uint32_t *t, float *s, const float *p,
                                                           size_t ncols, int r16)
{
    size_t c = 0;
#if defined(GD_SIMD_HALF)
    if (r16) {
        for (; c + VL <= ncols; c += VL)
            tab16_lanes(t + c, s + c, p + c);
        for (; c < ncols; c++) {
            t[c] = gd_k16(p[c]);
            s[c] = gd_keep_scale16(t[c]);
        }
        return;
    }
#endif
    (void)r16; /* the AVX2 family has no 16-bit one-pass ops */
    for (; c + VL <= ncols; c += VL)
        tab_lanes(t + c, s + c, p + c);
    for (; c < ncols; c++) {
        const thr32 th = thr32_of(gd_threshold(p[c]));
        t[c] = th.t;
        s[c] = th.a ? gd_keep_scale(p[c]) : 0.0f;
    }
}

/* ncols entries, then their cyclic repetition up to ncols + GB: t and s
 * hold ncols + GB. */
static inline __attribute__((always_inline)) void tab_fill_cyclic(uint32_t *t, float *s,
                                                                  const float *p, size_t ncols,
                                                                  int r16)
{
    tab_fill(t, s, p, ncols, r16);
    for (size_t i = ncols; i < ncols + GB; i++) {
        t[i] = t[i - ncols];
        s[i] = s[i - ncols];
    }
}

static inline uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline bool keep_col(uint32_t w, uint32_t t, float s)
{
    return keep1(w, t, f32_bits(s));
}

/* y = keep ? x * s[j] : 0 on len <= GB elements with thresholds t[j] and
 * scales s[j]; mask, if not NULL, is the byte of element 0 (a byte
 * boundary of the call) and receives whole bytes, padding bits 0. */
static inline __attribute__((always_inline)) void
cols_window(void *y, const void *x, size_t at, uint8_t *mask, const void *w, size_t len,
            const uint32_t *restrict t, const float *restrict s, int dt, int r16)
{
    size_t j = 0;
    for (; j + VL <= len; j += VL) {
        const vf sv = vf_load(s + j);
        const vk keep = keep_of_nz(ld_d(w, j, r16), vi_load(t + j), vf_bits(sv));
        keep_store(y, x, at + j, keep, sv, dt);
        if (mask)
            put_lane_bits(mask + j / 8, vk_bits(keep));
    }
    for (; j < len; j += 8) {
        unsigned byte = 0;
        for (size_t i = j; i < min_sz(len, j + 8); i++) {
            const bool keep = keep_col(ld_d1(w, i, r16), t[i], s[i]);
            st_1(y, at + i, keep ? ld_1(x, at + i, dt) * s[i] : 0.0f, dt);
            byte |= (unsigned)keep << (i & 7);
        }
        if (mask)
            mask[j / 8] = (uint8_t)byte;
    }
}

/* The per-column paths take fwd's hints too (prefetch_streams; in the
 * strips, prefetch_pair within a row segment and into the next row's).
 * Streaming (non-temporal) stores of y were tried (2026-12-06, 16M floats,
 * 64-byte-aligned y): a plain scale loop gains from them (3.6 -> 3.0 ms),
 * but in fwd, the Gaussian and add_fwd, whose stores come in bursts between
 * the generator's batches, they were slower (fwd 5.0 -> 7.0 ms, interleaved
 * on the same host), and in the element-order per-column path 1.00-1.02x,
 * so every op stores normally. */

/* One batch of cols_narrow_run's: its 2NV vectors' table entries loaded
 * and keeps formed before their stores, all at once or (halves) NV at a
 * time.  The scales are kept from load to store: loaded vector by vector
 * between the stores, 3072 and 4096 columns took 1.18-1.27x gd_dropout_fwd
 * (1.04-1.11 this way), and with the scales loaded again for the stores,
 * 8192 and 16384 columns 1.19-1.26x (3 runs each, 2026-12-07).  Halves
 * need fewer registers (2NV masks are one more than AVX-512 has free):
 * through the shared table (8192, 16384 columns) they took 0.95-0.97x the
 * time of all at once (AVX2 1.00x), through the stack table 1.01x at 2048
 * columns and 1.03-1.04x at 3072 and 4096 (16M floats, two builds called
 * in turn, Zen 5, 2026-12-07), so only the shared table takes them. */
static inline __attribute__((always_inline)) void
cols_batch(void *y, const void *x, size_t j0, const vi w[2 * NV], const uint32_t *restrict t,
           const float *restrict s, batch_bits *b, int halves, int dt)
{
    const int span = halves ? NV : 2 * NV;
    for (int h = 0; h < 2 * NV; h += span) {
        vf sv[2 * NV];
        vk keep[2 * NV];
        for (int q = h; q < h + span; q++) {
            const size_t j = (size_t)q * VL;
            sv[q] = vf_load(s + j);
            keep[q] = keep_of_nz(w[q], vi_load(t + j), vf_bits(sv[q]));
        }
        for (int q = h; q < h + span; q++) {
            keep_store(y, x, j0 + (size_t)q * VL, keep[q], sv[q], dt);
            bits_put(b, q, keep[q]);
        }
    }
}

/* cols <= BANDED_MIN_COLS: the tensor in element order, batch by batch,
 * like fwd, through the cyclic table tb; every batch starts on a mask
 * byte, so mask bytes are stored as they are, never shifted.  halves:
 * cols_batch's. */
static inline __attribute__((always_inline)) void
cols_narrow_run(void *y, const void *x, uint8_t *mask, size_t rows, size_t cols,
                const uint32_t *restrict t, const float *restrict s, uint64_t first,
                const gd_keyctx *k, int halves, int dt, int r16)
{
    /* restrict: a table in static storage (fwd_cols_shared) is, to the
     * compiler, memory that a store to y might change, and the loads it
     * then could not move above those stores took 1.3x the time at 8192
     * columns; a stack table it can see is the call's own */
    const size_t n = rows * cols, step = GB % cols;
    size_t c = 0; /* column of element j0 */
    size_t j0 = 0;
    if (reg_draws(first, r16))
        for (uint64_t block = first >> 2; j0 + GB <= n; j0 += GB, block += GB / 4) {
            if (dt == GD_F32)
                prefetch_streams(x, y, j0, n, sizeof(float));
            vi w[2 * NV];
            ph_words_v(w, block, k);
            batch_bits b = {{0}};
            cols_batch(y, x, j0, w, t + c, s + c, &b, halves, dt);
            if (mask)
                bits_store(mask + j0 / 8, &b);
            c += step;
            c = c >= cols ? c - cols : c;
        }
    wstream g; /* the rest, or all, through the buffer */
    ws_start(&g, first + j0, k, r16);
    for (; j0 < n; j0 += GB) {
        if (dt == GD_F32) /* the half types measured 1.00-1.02x with them */
            prefetch_streams(x, y, j0, n, sizeof(float));
        cols_window(y, x, j0, mask ? mask + j0 / 8 : NULL, ws_draws(&g, k, false, r16),
                    min_sz(GB, n - j0), t + c, s + c, dt, r16);
        c += step;
        c = c >= cols ? c - cols : c;
    }
}

static void fwd_cols_narrow(float *y, const float *x, uint8_t *mask, size_t rows, size_t cols,
                            const float *p_cols, uint64_t first, const gd_keyctx *k)
{
    col_tab tb;
    tab_fill_cyclic(tb.t, tb.s, p_cols, cols, 0);
    cols_narrow_run(y, x, mask, rows, cols, tb.t, tb.s, first, k, 0, GD_F32, 0);
}

/* A row segment of len elements from table entry c whose mask bits start at
 * bit position pos of acc. */
static inline void cols_run_bits(float *y, const float *x, const uint32_t *w, size_t len,
                                 const uint32_t *t, const float *s, uint64_t *acc, size_t pos)
{
    size_t j = 0;
    for (; j + VL <= len; j += VL) {
        const vf sv = vf_load(s + j);
        const vk keep = keep_of_nz(vi_load(w + j), vi_load(t + j), vf_bits(sv));
        vf_store(y + j, vf_keep(keep, vf_mul(vf_load(x + j), sv)));
        if (acc)
            put_bits(acc, pos + j, vk_bits(keep), VL);
    }
    for (; j < len; j++) {
        const float sc = s[j];
        const bool keep = keep_col(w[j], t[j], sc);
        y[j] = keep ? x[j] * sc : 0.0f;
        if (acc)
            put_bits(acc, pos + j, keep, 1);
    }
}

/* One row segment whose mask bytes are its own (no mask, or j and width
 * multiples of 8): call elements j .. j + width - 1, table entries from 0,
 * the next segment's first element nx (NO_NEXT: none). */
enum { NO_NEXT = 0 };

/* Before the batch at i0 of the segment at j: the batch STREAM_AHEAD bytes
 * on in this segment, else in the next row's (of the same width). */
static inline __attribute__((always_inline)) void seg_prefetch(const void *x, const void *y,
                                                               size_t j, size_t i0, size_t width,
                                                               size_t nx, size_t esz)
{
    const size_t ahead = i0 + STREAM_AHEAD / esz;
    if (ahead + GB <= width)
        prefetch_pair(x, y, j + ahead, esz);
    else if (nx != NO_NEXT && ahead >= width && ahead - width + GB <= width)
        prefetch_pair(x, y, nx + (ahead - width), esz);
}

static inline __attribute__((always_inline)) void
cols_seg_run(void *y, const void *x, uint8_t *mask, size_t j, size_t width, const uint32_t *t,
             const float *s, uint64_t first, const gd_keyctx *k, size_t nx, int dt, int r16)
{
    wstream g;
    ws_start(&g, first + j, k, r16);
    for (size_t i0 = 0; i0 < width; i0 += GB) {
        seg_prefetch(x, y, j, i0, width, nx, esz_of(dt));
        cols_window(y, x, j + i0, mask ? mask + (j + i0) / 8 : NULL, ws_draws(&g, k, false, r16),
                    min_sz(GB, width - i0), t + i0, s + i0, dt, r16);
    }
}

/* One float row segment under the 32-bit rule: cols_seg_run when its mask
 * bytes are its own (the usual widths); otherwise its bits are assembled at
 * their bit offset and ORed into the (cleared) mask. */
static void cols_segment(float *y, const float *x, uint8_t *mask, size_t j, size_t width,
                         const uint32_t *t, const float *s, uint64_t first, const gd_keyctx *k,
                         size_t nx)
{
    if (!mask || (j % 8 == 0 && width % 8 == 0)) {
        cols_seg_run(y, x, mask, j, width, t, s, first, k, nx, GD_F32, 0);
        return;
    }
    wstream g;
    ws_init(&g, first + j, false, k);
    uint64_t acc[COLS_BLOCK / 64 + 2];
    memset(acc, 0, sizeof acc);
    for (size_t i0 = 0; i0 < width; i0 += GB) {
        seg_prefetch(x, y, j, i0, width, nx, sizeof(float));
        cols_run_bits(y + j + i0, x + j + i0, ws_next(&g, k), min_sz(GB, width - i0), t + i0,
                      s + i0, acc, (j & 7) + i0);
    }
    const uint8_t *bytes = (const uint8_t *)acc;
    for (size_t b = 0; b < gd_mask_bytes((j & 7) + width); b++)
        mask[j / 8 + b] |= bytes[b];
}

/* cols > BANDED_MIN_COLS with no shared table (fwd_cols_shared: wider than
 * GD_WIDE_COLS, every table taken, or a half type or the 16-bit rule): a
 * cyclic table of every column would no longer fit the stack frame, so the
 * columns go in strips of at most STRIP_COLS
 * (as even as whole batches allow: 4100 columns are 1536 + 1536 + 1028,
 * not 2048 + 2048 + 4), each strip's table computed once (16 KiB, which
 * stays in L1 beside x and y), and each strip's segment of every row in
 * turn, the next row's segment prefetched as one ends.  Measured at 16M
 * elements (AVX-512, Zen 5, a shared machine, 2026-12-07), two libraries
 * in one process called in turn, time against the tiles before them (32
 * rows by 512 columns, x prefetched non-temporally):
 * - these strips: float 0.93-0.98 at 8192 and 16384 columns, 0.94 at 6144,
 *   0.85 at 8195 (rows off mask bytes); the 16-bit rule's float forward
 *   0.85-1.00, fp16's 0.92-0.97, bf16's 1.03-1.06; the half types' 32-bit
 *   rule 0.99;
 * - strips 4096 columns wide: float 0.92-0.99, but the 16-bit rule's float
 *   forward 1.04-1.18 (a 32 KiB table leaves L1 as x and y stream by);
 * - a full-width cyclic table (up to 128 KiB, too big for the stack, so
 *   now in static storage: fwd_cols_shared): 0.88-0.91; tiles 32 rows by
 *   4096 columns 1.02-1.07.
 * Earlier, against gd_dropout_fwd: element order with 2048-column blocks
 * 1.21-1.45, the tiles 1.06-1.25; tiles of 8x1024, 16x1024 and 4x2048
 * 1.2-1.5, of 64x256 2x; four rows at a time in element order, each with
 * its own word stream and each table vector loaded once for the four,
 * 1.15-1.40x the tiles' time (the rows' x and y, a multiple of 4 KiB
 * apart, contend for the same L1 sets).  Up to 4096 columns element order
 * through the cyclic table took 0.85-0.96x the tiles' time at 3072 and
 * 4096 float columns (the half types 0.95-1.10x either way).  Ratios to
 * gd_dropout_fwd taken in one process mislead here: the op run before fwd
 * moves fwd's own time by up to a quarter (after the tiles it ran 6.9 ms,
 * after element order 5.5). */
enum { BANDED_MIN_COLS = COLS_BLOCK, STRIP_COLS = 2048 };
_Static_assert((int)STRIP_COLS % (int)GB == 0 && (int)STRIP_COLS <= (int)COLS_BLOCK,
               "a strip rounded up to whole batches still fits the table");

/* The strips; a float tensor under the 32-bit rule may have cols % 8 != 0
 * with a mask (cols_segment), any other only cols % 8 == 0 or no mask. */
static inline __attribute__((always_inline)) void
cols_banded_run(void *y, const void *x, uint8_t *mask, size_t rows, size_t cols,
                const float *p_cols, uint64_t first, const gd_keyctx *k, int dt, int r16)
{
    col_tab tb;
    if (mask && cols % 8 != 0)
        memset(mask, 0, gd_mask_bytes(rows * cols));
    const size_t blocks = (cols + STRIP_COLS - 1) / STRIP_COLS;
    const size_t wb = ((cols + blocks - 1) / blocks + GB - 1) / GB * GB; /* <= STRIP_COLS */
    for (size_t c0 = 0; c0 < cols; c0 += wb) {
        const size_t width = min_sz(wb, cols - c0);
        tab_fill(tb.t, tb.s, p_cols + c0, width, r16);
        for (size_t r = 0; r < rows; r++) {
            const size_t j = r * cols + c0;
            const size_t nx = r + 1 < rows ? j + cols : NO_NEXT; /* j + cols > 0 */
            if (dt == GD_F32 && !r16)
                cols_segment(y, x, mask, j, width, tb.t, tb.s, first, k, nx);
            else
                cols_seg_run(y, x, mask, j, width, tb.t, tb.s, first, k, nx, dt, r16);
        }
    }
}

static void fwd_cols_banded(float *y, const float *x, uint8_t *mask, size_t rows, size_t cols,
                            const float *p_cols, uint64_t first, const gd_keyctx *k)
{
    cols_banded_run(y, x, mask, rows, cols, p_cols, first, k, GD_F32, 0);
}

/* BANDED_MIN_COLS < cols <= GD_WIDE_COLS, float under the 32-bit rule:
 * element order, as up to BANDED_MIN_COLS, through a cyclic table in
 * static storage (src/coltab.c) if one is free; false, with nothing done,
 * if none is.  Measured at 16M elements (AVX-512, Zen 5, 2026-12-07), two
 * libraries in one process called in turn: 0.83x the strips' time at 8192
 * columns, 0.91x at 16384; against gd_dropout_fwd in one process 1.07 and
 * 1.07-1.09x, where the strips took 1.09-1.29 and 1.10-1.22x.  The half
 * types and the 16-bit rule keep the strips: through the shared table they
 * took 1.04-1.29x the strips' time (fp16 and bf16, either rule; float under
 * the 16-bit rule 1.04-1.08x). */
static bool fwd_cols_shared(float *y, const float *x, uint8_t *mask, size_t rows, size_t cols,
                            const float *p_cols, uint64_t first, const gd_keyctx *k)
{
    _Static_assert((int)GB <= (int)GD_COLTAB_PAD, "a shared table holds its cyclic batch");
    gd_coltab *tb = cols <= GD_WIDE_COLS ? gd_coltab_take() : NULL;
    if (!tb)
        return false;
    tab_fill_cyclic(tb->t, tb->s, p_cols, cols, 0);
    cols_narrow_run(y, x, mask, rows, cols, tb->t, tb->s, first, k, 1, GD_F32, 0);
    gd_coltab_give(tb);
    return true;
}

static void fwd_cols_simd(float *y, const float *x, uint8_t *mask, size_t rows, size_t cols,
                          const float *p_cols, uint64_t first, const gd_keyctx *k)
{
    if (cols <= BANDED_MIN_COLS)
        fwd_cols_narrow(y, x, mask, rows, cols, p_cols, first, k);
    else if (!fwd_cols_shared(y, x, mask, rows, cols, p_cols, first, k))
        fwd_cols_banded(y, x, mask, rows, cols, p_cols, first, k);
}

/* Column blocks outside, rows inside; one scale per column per call. */
static void bwd_mask_cols_simd(float *dx, const float *dy, const uint8_t *mask, size_t rows,
                               size_t cols, const float *p_cols)
{
    _Alignas(64) float sc[COLS_BLOCK];
    for (size_t c0 = 0; c0 < cols; c0 += COLS_BLOCK) {
        const size_t width = min_sz(COLS_BLOCK, cols - c0);
        for (size_t c = 0; c < width; c++)
            sc[c] = gd_keep_scale(p_cols[c0 + c]);
        for (size_t r = 0; r < rows; r++) {
            const size_t j = r * cols + c0;
            size_t i = 0;
            for (; i + VL <= width; i += VL) {
                const vk keep = vk_from_bits(get_bits(mask, j + i, VL));
                vf_store(dx + j + i, vf_keep(keep, vf_mul(vf_load(dy + j + i), vf_load(sc + i))));
            }
            for (; i < width; i++)
                dx[j + i] = (mask[(j + i) >> 3] >> ((j + i) & 7)) & 1u ? dy[j + i] * sc[i] : 0.0f;
        }
    }
}

/* ---- Gaussian ------------------------------------------------------------- */

static void normal_simd(float *z, size_t n, uint64_t first, const gd_keyctx *k)
{
    _Alignas(64) float buf[BUFW];
    for (size_t j0 = 0; j0 < n; j0 += CHUNK) {
        const size_t len = min_sz(CHUNK, n - j0);
        memcpy(z + j0, (const float *)buf + fill_blocks(buf, first + j0, len, k, true),
               len * sizeof *z);
    }
}

static inline __attribute__((always_inline)) void
gauss_run(void *y, const void *x, size_t n, float sigma, uint64_t first, const gd_keyctx *k,
          int dt)
{
    const vf sg = vf_set1(sigma), one = vf_set1(1.0f);
    wstream g;
    ws_init(&g, first, true, k);
    for (size_t j0 = 0; j0 < n; j0 += GB) {
        const size_t len = min_sz(GB, n - j0);
        const float *z = ws_next_normals(&g, k);
        size_t j = 0;
        for (; j + VL <= len; j += VL) {
            const vf m = vf_add(one, vf_mul(sg, vf_load(z + j)));
            st_v(y, j0 + j, vf_mul(ld_v(x, j0 + j, dt), m), dt);
        }
        for (; j < len; j++)
            st_1(y, j0 + j, ld_1(x, j0 + j, dt) * (1.0f + sigma * z[j]), dt);
    }
}

static void gauss_simd(float *y, const float *x, size_t n, float sigma, uint64_t first,
                       const gd_keyctx *k)
{
    gauss_run(y, x, n, sigma, first, k, GD_F32);
}

#if defined(GD_SIMD_HALF)
/* ---- the one-pass forms of the 1.2 kernels ------------------------------- */

/* The float ops' loops on bf16 or fp16 tensors (see "element types") under
 * either rule, and on float tensors under the 16-bit rule (the 32-bit
 * rule's float ops are the 1.0 ops above): one inlined copy per element
 * type and rule.  EX_VARIANTS calls RUN(..., dt, r16) with the two as
 * constants, the variants listed once; a macro because only a call written
 * out with constant arguments gets its own specialised copy. */
#define EX_VARIANTS(dt, r16, RUN, ...)                                                            \
    do {                                                                                           \
        if ((dt) == GD_F16 && (r16))                                                               \
            RUN(__VA_ARGS__, GD_F16, 1);                                                           \
        else if ((dt) == GD_F16)                                                                   \
            RUN(__VA_ARGS__, GD_F16, 0);                                                           \
        else if ((dt) == GD_BF16 && (r16))                                                         \
            RUN(__VA_ARGS__, GD_BF16, 1);                                                          \
        else if ((dt) == GD_BF16)                                                                  \
            RUN(__VA_ARGS__, GD_BF16, 0);                                                          \
        else                                                                                       \
            RUN(__VA_ARGS__, GD_F32, 1);                                                           \
    } while (0)

static void fwd_ex_simd(void *y, const void *x, uint8_t *mask, size_t n, uint64_t first,
                        uint64_t thr, float s, const gd_keyctx *k, int dt, int rule)
{
    EX_VARIANTS(dt, rule == GD_MASK_16, fwd_run, y, x, mask, n, first, thr, s, k);
}

static void gauss_h_simd(uint16_t *y, const uint16_t *x, size_t n, float sigma, uint64_t first,
                         const gd_keyctx *k, int dt)
{
    if (dt == GD_F16)
        gauss_run(y, x, n, sigma, first, k, GD_F16);
    else
        gauss_run(y, x, n, sigma, first, k, GD_BF16);
}

/* The table path of add_fwd_simd, the bias widened once into its cyclic
 * table (entry i is column i % cols up to cols + GB, GB divisions in all);
 * false, with nothing done, past ADD_TAB_COLS columns with a bias. */
static bool add_fwd_ex_simd(void *y, const void *x, const void *bias, const void *residual,
                            uint8_t *mask, size_t rows, size_t cols, uint64_t first, uint64_t thr,
                            float s, const gd_keyctx *k, int dt, int rule)
{
    if (bias && cols > ADD_TAB_COLS)
        return false;
    _Alignas(64) float btab[ADD_TAB_COLS + GB];
    for (size_t i = 0; bias && i < cols + GB; i++)
        btab[i] = ld_1(bias, i < cols ? i : i % cols, dt);
    const float *b = bias ? btab : NULL;
    EX_VARIANTS(dt, rule == GD_MASK_16, add_tab_run, y, x, b, residual, mask, rows, cols, first,
                thr, s, k);
    return true;
}

/* The wide rows' strips (cols_banded_run); false, with nothing done, for a
 * mask whose rows do not start on mask bytes. */
static bool fwd_cols_wide(void *y, const void *x, uint8_t *mask, size_t rows, size_t cols,
                          const float *p_cols, uint64_t first, const gd_keyctx *k, int dt, bool r16)
{
    if (mask && cols % 8 != 0)
        return false;
    EX_VARIANTS(dt, r16, cols_banded_run, y, x, mask, rows, cols, p_cols, first, k);
    return true;
}

/* fwd_cols_simd's two paths: element order through the cyclic table up to
 * BANDED_MIN_COLS columns, the strips for wider rows. */
static bool fwd_cols_ex_simd(void *y, const void *x, uint8_t *mask, size_t rows, size_t cols,
                             const float *p_cols, uint64_t first, const gd_keyctx *k, int dt,
                             int rule)
{
    const bool r16 = rule == GD_MASK_16;
    if (cols > BANDED_MIN_COLS)
        return fwd_cols_wide(y, x, mask, rows, cols, p_cols, first, k, dt, r16);
    col_tab tb;
    if (r16)
        tab_fill_cyclic(tb.t, tb.s, p_cols, cols, 1);
    else
        tab_fill_cyclic(tb.t, tb.s, p_cols, cols, 0);
    EX_VARIANTS(dt, r16, cols_narrow_run, y, x, mask, rows, cols, tb.t, tb.s, first, k, 0);
    return true;
}
#undef EX_VARIANTS
#endif

/* The test hook: words loaded into the generator's lane layout (set i,
 * 64-bit lane l holds block i*VB + ph_lanes()[l]), then ph_store_normals,
 * GB/4 blocks at a time; a short last group is padded with zero words. */
static void normal_words_simd(float *z, const uint32_t *w, size_t nblocks)
{
    _Alignas(64) uint64_t lanes[VB], c[4][VB];
    _Alignas(64) float out[GB];
    vi_store(lanes, ph_lanes());
    for (size_t b0 = 0; b0 < nblocks; b0 += GB / 4) {
        ph_set st[NV];
        for (int i = 0; i < NV; i++) {
            for (int l = 0; l < VB; l++) {
                const size_t b = b0 + (size_t)i * VB + (size_t)lanes[l];
                for (int word = 0; word < 4; word++)
                    c[word][l] = b < nblocks ? w[4 * b + (size_t)word] : 0;
            }
            st[i].c0 = vi_load(c[0]);
            st[i].c1 = vi_load(c[1]);
            st[i].c2 = vi_load(c[2]);
            st[i].c3 = vi_load(c[3]);
        }
        ph_store_normals(out, st);
        memcpy(z + 4 * b0, out, 4 * min_sz(GB / 4, nblocks - b0) * sizeof *z);
    }
}

/* ---- the Fisher passes ---------------------------------------------------- */

/* max |x| as the largest of the absolute values' bits: for non-negative
 * floats the integer order is the float order, and NaN and Inf are the bit
 * patterns from 0x7F800000 up, so one unsigned max finds both. */
static bool finite_simd(float *sq, const float *x, size_t n, float *amax)
{
    const vi absmask = vi_set1(0x7FFFFFFFu);
    vi m = vi_set1(0);
    size_t i = 0;
    for (; i + VL <= n; i += VL) {
        const vf v = vf_load(x + i);
        m = vi_max_u32(m, vi_and(vf_bits(v), absmask));
        if (sq)
            vf_store(sq + i, vf_mul(v, v));
    }
    _Alignas(64) uint32_t lanes[VL];
    vi_store(lanes, m);
    uint32_t mb = 0;
    for (int l = 0; l < VL; l++)
        mb = lanes[l] > mb ? lanes[l] : mb;
    for (; i < n; i++) {
        const uint32_t b = f32_bits(x[i]) & 0x7FFFFFFFu;
        mb = b > mb ? b : mb;
        if (sq)
            sq[i] = x[i] * x[i];
    }
    if (mb >= 0x7F800000u)
        return false;
    if (amax)
        memcpy(amax, &mb, sizeof *amax);
    return true;
}

static void acc_add_simd(double *acc, const float *g, size_t n)
{
    size_t i = 0;
    for (; i + VL <= n; i += VL) {
        const vf v = vf_load(g + i);
        vd_store(acc + i, vd_add(vd_load(acc + i), vd_of_lo(v)));
        vd_store(acc + i + VL / 2, vd_add(vd_load(acc + i + VL / 2), vd_of_hi(v)));
    }
    for (; i < n; i++)
        acc[i] += (double)g[i];
}

static void acc_add_sq_simd(double *acc, const float *g, size_t n)
{
    size_t i = 0;
    for (; i + VL <= n; i += VL) {
        const vf v = vf_load(g + i);
        const vd lo = vd_of_lo(v), hi = vd_of_hi(v);
        /* the square of a float is exact in double: fused or not, one rounding */
        vd_store(acc + i, vd_mul_add(lo, lo, vd_load(acc + i)));
        vd_store(acc + i + VL / 2, vd_mul_add(hi, hi, vd_load(acc + i + VL / 2)));
    }
    for (; i < n; i++)
        acc[i] += (double)g[i] * (double)g[i];
}

/* acc[c] += (double)x[r * ld + c] for r = 0 .. rows - 1 in that order
 * (each column's sum is the scalar loop's, bit for bit), c < cols.  Sums
 * stay in registers down the rows, four strips of VL columns at a time so
 * that eight additions are in flight (one strip's two chains waited on the
 * adder's latency). */
static inline __attribute__((always_inline)) void
acc_rows_run(double *acc, const void *x, size_t rows, size_t cols, size_t ld, int dt)
{
    enum { H = VL / 2, S = 4 };
    size_t c = 0;
    for (; c + S * VL <= cols; c += S * VL) {
        vd a[2 * S];
        for (int i = 0; i < 2 * S; i++)
            a[i] = vd_load(acc + c + (size_t)i * H);
        for (size_t r = 0; r < rows; r++)
            for (int i = 0; i < S; i++) {
                const vf v = ld_v(x, r * ld + c + (size_t)i * VL, dt);
                a[2 * i] = vd_add(a[2 * i], vd_of_lo(v));
                a[2 * i + 1] = vd_add(a[2 * i + 1], vd_of_hi(v));
            }
        for (int i = 0; i < 2 * S; i++)
            vd_store(acc + c + (size_t)i * H, a[i]);
    }
    for (; c + VL <= cols; c += VL) {
        vd lo = vd_load(acc + c), hi = vd_load(acc + c + H);
        for (size_t r = 0; r < rows; r++) {
            const vf v = ld_v(x, r * ld + c, dt);
            lo = vd_add(lo, vd_of_lo(v));
            hi = vd_add(hi, vd_of_hi(v));
        }
        vd_store(acc + c, lo);
        vd_store(acc + c + H, hi);
    }
    for (; c < cols; c++) {
        double a = acc[c];
        for (size_t r = 0; r < rows; r++)
            a += (double)ld_1(x, r * ld + c, dt);
        acc[c] = a;
    }
}

static bool acc_rows_simd(double *acc, const void *x, size_t rows, size_t cols, size_t ld, int dt)
{
#if defined(GD_SIMD_HALF)
    if (dt == GD_F16) {
        acc_rows_run(acc, x, rows, cols, ld, GD_F16);
        return true;
    }
    if (dt == GD_BF16) {
        acc_rows_run(acc, x, rows, cols, ld, GD_BF16);
        return true;
    }
#endif
    if (dt != GD_F32)
        return false;
    acc_rows_run(acc, x, rows, cols, ld, GD_F32);
    return true;
}

/* ---- acc_prod: a product of the dense Fisher paths, never stored ------- */

enum {
    PROD_VECS = 2,            /* a tile's width in vectors; PROD_ROWS (the family's) its height */
    PROD_UNIT = PROD_VECS * VL, /* a tile's width in columns */
    PROD_B_BYTES = 32 * 1024, /* unpacked, b's block: k rows of a column block, L1-sized */
    PACK_GROUP = 8,           /* packed, a's tiles copied at once */
    /* Sums past L2 (1 MiB on Zen 5): each tile fetches its lines of them as
     * it starts */
    PROD_FAR_BYTES = 1 << 20,
};
_Static_assert((int)PROD_UNIT <= (int)GD_PROD_PACK_COLS && (int)PROD_ROWS <= (int)GD_PROD_PACK_COLS,
               "gd_prod_pack_bytes covers this family's blocks");

/* acc[i] += g[i], or g[i]^2, in double for the VL floats of g (acc_add's
 * and acc_add_sq's bits). */
static inline __attribute__((always_inline)) void prod_add(double *acc, vf g, int square)
{
    const vd lo = vd_of_lo(g), hi = vd_of_hi(g);
    vd_store(acc, square ? vd_mul_add(lo, lo, vd_load(acc)) : vd_add(vd_load(acc), lo));
    vd_store(acc + VL / 2,
             square ? vd_mul_add(hi, hi, vd_load(acc + VL / 2)) : vd_add(vd_load(acc + VL / 2), hi));
}

/* A tile of g, rows x vecs*VL, in rows*vecs registers: per term t, vecs
 * loads from bt + t*ldb and rows broadcasts from at + t*lda feed rows*vecs
 * fused multiply-adds; then row r's sums go to acc + r*in.  a and b are
 * either the caller's (lda = out, ldb = in) or packed panels (lda =
 * PROD_ROWS, ldb = PROD_UNIT): the same terms in the same order.  rows,
 * vecs and square are constants at every call, so the loops unroll and g
 * stays in registers.  With far (sums past L2) the tile's lines of acc
 * are fetched as it starts, so they arrive while the terms are summed: a
 * layer's sums are often past the caches (18 MiB at 768 x 3072), and a
 * sequence's 128 x 768 by 128 x 3072 took 1.14-1.17x the time without;
 * in L2 (64 x 128 by 64 x 512) the fetches cost 1.04-1.06x (Zen 5,
 * 2026-12-07, interleaved). */
static inline __attribute__((always_inline)) void
prod_tile(double *acc, size_t in, const float *at, size_t lda, const float *bt, size_t ldb,
          size_t k, bool far, int rows, int vecs, int square)
{
    vf g[PROD_ROWS][PROD_VECS];
#pragma GCC unroll 16
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 4
        for (int v = 0; v < vecs; v++) {
            g[r][v] = vf_set1(0.0f);
            const char *line = (const char *)(acc + (size_t)r * in + (size_t)v * VL);
            for (size_t b = 0; far && b < VL * sizeof(double); b += 64)
                __builtin_prefetch(line + b, 1, 3);
        }
    for (size_t t = 0; t < k; t++, at += lda, bt += ldb) {
        vf bv[PROD_VECS];
#pragma GCC unroll 4
        for (int v = 0; v < vecs; v++)
            bv[v] = vf_load(bt + (size_t)v * VL);
#pragma GCC unroll 16
        for (int r = 0; r < rows; r++) {
            const vf d = vf_set1(at[r]);
#pragma GCC unroll 4
            for (int v = 0; v < vecs; v++)
                g[r][v] = vf_fma(d, bv[v], g[r][v]);
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 4
        for (int v = 0; v < vecs; v++)
            prod_add(acc + (size_t)r * in + (size_t)v * VL, g[r][v], square);
}

/* Rows [o0, o1) by columns [i0, i1) (whole vectors) from the caller's a
 * and b. */
static inline __attribute__((always_inline)) void
prod_block(double *acc, const float *a, const float *b, size_t k, size_t in, size_t out,
           size_t o0, size_t o1, size_t i0, size_t i1, bool far, int square)
{
    size_t o = o0;
    for (; o + PROD_ROWS <= o1; o += PROD_ROWS) {
        size_t i = i0;
        for (; i + PROD_UNIT <= i1; i += PROD_UNIT)
            prod_tile(acc + o * in + i, in, a + o, out, b + i, in, k, far, PROD_ROWS, PROD_VECS,
                      square);
        for (; i < i1; i += VL)
            prod_tile(acc + o * in + i, in, a + o, out, b + i, in, k, far, PROD_ROWS, 1, square);
    }
    for (; o < o1; o++) {
        size_t i = i0;
        for (; i + PROD_UNIT <= i1; i += PROD_UNIT)
            prod_tile(acc + o * in + i, in, a + o, out, b + i, in, k, far, 1, PROD_VECS, square);
        for (; i < i1; i += VL)
            prod_tile(acc + o * in + i, in, a + o, out, b + i, in, k, far, 1, 1, square);
    }
}

/* Unpacked: column blocks whose b (k rows of them) stays in L1 while every
 * row of g passes over it. */
static inline __attribute__((always_inline)) void
prod_unpacked(double *acc, const float *a, const float *b, size_t k, size_t in, size_t out,
              size_t wide, bool far, int square)
{
    size_t block = PROD_B_BYTES / sizeof(float) / k / PROD_UNIT * PROD_UNIT;
    if (block < PROD_UNIT)
        block = PROD_UNIT;
    for (size_t i0 = 0; i0 < wide; i0 += block)
        prod_block(acc, a, b, k, in, out, 0, out, i0, wide - i0 < block ? wide : i0 + block, far,
                   square);
}

/* Packed, as a BLAS packs (the terms are not split: each g sums all k):
 * blocks of a's rows (k terms of MC rows, about GD_PROD_A_FLOATS, which
 * stay in L2) copied tile by tile as [MC/PROD_ROWS][k][PROD_ROWS]; in
 * each, blocks of b's columns (k terms of NC columns, about
 * GD_PROD_B_FLOATS, which stay in L1) copied as [NC/PROD_UNIT][k][PROD_UNIT],
 * over which every tile of the rows' block passes.  In place, a tile's k
 * terms are k lines of a and 2k of b at strides of out and in floats,
 * often multiples of 4 KiB, which fall in one L1 set; packed, both are
 * read in order. */
static inline __attribute__((always_inline)) void
prod_packed(double *acc, const float *a, const float *b, size_t k, size_t in, size_t out,
            size_t wide, float *pack, bool far, int square)
{
    const size_t rows = out / PROD_ROWS * PROD_ROWS, cols = in / PROD_UNIT * PROD_UNIT;
    const size_t mc = max_sz(GD_PROD_A_FLOATS / k / PROD_ROWS * PROD_ROWS, PROD_ROWS);
    const size_t nc = max_sz(GD_PROD_B_FLOATS / k / PROD_UNIT * PROD_UNIT, PROD_UNIT);
    float *ap = pack, *bp = pack + k * mc;
    for (size_t o0 = 0; o0 < rows; o0 += mc) {
        const size_t mr = min_sz(mc, rows - o0);
        /* a's rows copied PACK_GROUP tiles at a time, term by term: the
         * group's panels are written in order (all of a row's tiles at once
         * wrote a row's worth of lines k * PROD_ROWS floats apart, which at
         * k = 64 fell in two L1 sets: 1.5x the product's time at 64 x 128
         * by 64 x 512) */
        for (size_t o = 0; o < mr; o += PACK_GROUP * PROD_ROWS) {
            const size_t og = min_sz(PACK_GROUP * PROD_ROWS, mr - o);
            for (size_t t = 0; t < k; t++)
                for (size_t q = 0; q < og; q += PROD_ROWS)
                    memcpy(ap + (o + q) * k + t * PROD_ROWS, a + t * out + o0 + o + q,
                           PROD_ROWS * sizeof(float));
        }
        for (size_t i0 = 0; i0 < cols; i0 += nc) {
            const size_t nr = min_sz(nc, cols - i0);
            for (size_t u = 0; u < nr; u += PROD_UNIT)
                for (size_t t = 0; t < k; t++)
                    memcpy(bp + u * k + t * PROD_UNIT, b + t * in + i0 + u,
                           PROD_UNIT * sizeof(float));
            for (size_t o = 0; o < mr; o += PROD_ROWS)
                for (size_t u = 0; u < nr; u += PROD_UNIT)
                    prod_tile(acc + (o0 + o) * in + i0 + u, in, ap + o * k, PROD_ROWS, bp + u * k,
                              PROD_UNIT, k, far, PROD_ROWS, PROD_VECS, square);
        }
    }
    prod_block(acc, a, b, k, in, out, 0, rows, cols, wide, far, square); /* the columns over */
    prod_block(acc, a, b, k, in, out, rows, out, 0, wide, far, square);  /* the rows over */
}

/* The whole vectors, packed if the caller gave scratch and there are
 * enough columns (gd_prod_packs); then the in % VL last columns
 * one at a time with fmaf, the same operations in the same order as the
 * lanes. */
static inline __attribute__((always_inline)) void
prod_run(double *acc, const float *a, const float *b, size_t k, size_t in, size_t out,
         float *pack, int square)
{
    const size_t wide = in / VL * VL;
    const bool far = in > PROD_FAR_BYTES / sizeof(double) / out;
    if (pack && k > 0 && gd_prod_packs(in))
        prod_packed(acc, a, b, k, in, out, wide, pack, far, square);
    else
        prod_unpacked(acc, a, b, k, in, out, wide, far, square);
    for (size_t o = 0; o < out && wide < in; o++)
        for (size_t i = wide; i < in; i++) {
            float g = 0.0f;
            for (size_t t = 0; t < k; t++)
                g = fmaf(a[t * out + o], b[t * in + i], g);
            acc[o * in + i] += square ? (double)g * (double)g : (double)g;
        }
}

static void acc_prod_simd(double *acc, const float *a, const float *b, size_t k, size_t in,
                          size_t out, float *pack, bool square)
{
    if (square)
        prod_run(acc, a, b, k, in, out, pack, 1);
    else
        prod_run(acc, a, b, k, in, out, pack, 0);
}

#if defined(GD_SIMD_HALF)
static void bwd_mask_h_simd(uint16_t *dx, const uint16_t *dy, const uint8_t *mask, size_t n,
                            float s, int dt)
{
    if (dt == GD_F16)
        bwd_mask_run(dx, dy, mask, n, s, GD_F16);
    else
        bwd_mask_run(dx, dy, mask, n, s, GD_BF16);
}
#endif

/* ---- the table ------------------------------------------------------------ */

const gd_kernels GD_SIMD_TABLE = {
    .name = GD_SIMD_NAME,
    .words = words_simd,
    .mask = mask_simd,
    .fwd = fwd_simd,
    .bwd_mask = bwd_mask_simd,
    .fwd_cols = fwd_cols_simd,
    .bwd_mask_cols = bwd_mask_cols_simd,
    .add_fwd = add_fwd_simd,
    .normal = normal_simd,
    .gauss = gauss_simd,
#if defined(GD_SIMD_HALF)
    .fwd_ex = fwd_ex_simd,
    .bwd_mask_h = bwd_mask_h_simd,
    .gauss_h = gauss_h_simd,
    .add_fwd_ex = add_fwd_ex_simd,
    .fwd_cols_ex = fwd_cols_ex_simd,
#endif
    .normal_words = normal_words_simd,
    .finite = finite_simd,
    .acc_add = acc_add_simd,
    .acc_add_sq = acc_add_sq_simd,
    .acc_rows = acc_rows_simd,
    .acc_prod = acc_prod_simd,
};

#endif /* the template body */

/*
 * libgdropout: counter-based randomness (Philox4x32-10).
 *
 * Include <gdropout/gdropout.h> rather than this file directly.
 *
 * Every random word the library uses is a pure function of (seed, stream,
 * element index), so a mask can be regenerated in backward instead of being
 * stored, split across threads by offset, and reproduced bit for bit by any
 * other implementation (Python, Rust, a GPU kernel) from the same key.
 */
#ifndef GDROPOUT_RANDOM_H
#define GDROPOUT_RANDOM_H

#include <gdropout/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Which random words a call uses.  A frozen POD: its layout never changes.
 *
 *   seed    the Philox key: key word 0 = low 32 bits, word 1 = high 32 bits.
 *   stream  which mask, e.g. ((uint64_t)step << 16 | site) packed by the
 *           host; it fills counter words 2 (low half) and 3 (high half).
 *   offset  absolute index of the call's first element in the stream.
 *
 * The word for absolute element index i is word (i % 4) of
 * Philox4x32-10(counter = { (uint32)(i/4), (uint32)((i/4) >> 32),
 * (uint32)stream, (uint32)(stream >> 32) }, key = { (uint32)seed,
 * (uint32)(seed >> 32) }).  A call with offset o on n elements uses indices
 * o .. o+n-1; the last, o + n - 1, must not pass 2^64 - 1 (GD_EOVERFLOW
 * otherwise): offset 2^64 - 1 with n = 1 is fine, with n = 2 it is not. */
typedef struct gd_stream {
    uint64_t seed;
    uint64_t stream;
    uint64_t offset;
} gd_stream;

/* One Philox4x32-10 block (Salmon et al., SC 2011; Random123's known-answer
 * vectors hold).  Errors: GD_EINVAL for a NULL pointer.  Thread-safe. */
GD_NODISCARD GD_API int gd_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2],
                                         uint32_t out[4]);

/* r[j] = the word of absolute element index s->offset + j, for j < n.
 * n == 0 does nothing.  Errors: GD_EINVAL (NULL r or s with n > 0),
 * GD_EOVERFLOW (n * 4 bytes overflows size_t, checked first, or
 * offset + n - 1 passes 2^64 - 1).  Thread-safe. */
GD_NODISCARD GD_API int gd_random_u32(uint32_t *r, size_t n, const gd_stream *s);

/* z[j] = the standard normal deviate of absolute element index
 * s->offset + j, exactly the noise Gaussian dropout multiplies by.
 *
 * The transform (Box-Muller on the element's Philox block, float arithmetic,
 * no fused multiply-add, every step rounded as written):
 *   block words w[0..3] as above; for i in the block, the pair
 *   (a, b) = (w[2*((i%4)/2)], w[2*((i%4)/2) + 1]);
 *   u     = (float)((a >> 8) + 1) * 2^-24          in (0, 1]
 *   k     = b >> 8;  q = (k + 2^21) >> 22;  r = (int32)(k - (q << 22))
 *   theta = (float)r * 0x1.921fb6p-22f             in [-pi/4, pi/4)
 *   rad   = sqrtf(-2.0f * ln(u))
 *   z     = rad * (i even ? cos(theta + q*pi/2) : sin(theta + q*pi/2))
 * where ln, sin and cos are the fixed polynomials documented in docs/SPEC.md
 * ("The normal transform") so that other implementations can match bits.
 * Errors as gd_random_u32.  Thread-safe. */
GD_NODISCARD GD_API int gd_random_normal(float *z, size_t n, const gd_stream *s);

/* Name of the kernel family chosen for this CPU: "avx512", "avx2" (with
 * FMA) or "scalar": the best family this CPU and OS support (cpuid, and
 * xgetbv for the OS saving YMM/ZMM state).  All families give bitwise
 * identical random numbers, masks and dropout outputs (the dense Fisher
 * paths' estimates differ in the last bits between "scalar", which uses
 * the sgemm, and the others: gd_fisher_accumulate_dense); the environment
 * variable GDROPOUT_DISPATCH=scalar|avx2|avx512,
 * read once on first use, caps the choice (tests and benchmarks use it to
 * check each path); a cap never selects a family the CPU lacks, and any
 * other value is ignored.  Thread-safe. */
GD_API const char *gd_dispatch_name(void);

#ifdef __cplusplus
}
#endif

#endif /* GDROPOUT_RANDOM_H */

/*
 * The benchmarks' one way of timing (gd_bench and gd_bench_half).
 *
 * The ops of a row are timed in rounds, each round timing every op once,
 * in turn, on the buffers the caller set up; a time is the median of an
 * op's samples over the rounds, a ratio the median of the rounds' own
 * ratios (paired): on a shared host whose speed moves during a run, the
 * ops of one round ran under the same conditions, where a ratio of two
 * medians can take one op's time from a slow stretch and the other's from
 * a fast one.
 *
 * Samples are read on bench_clock: the thread's CPU time by default, so
 * that the scheduler's time slices to other work do not land in random
 * samples (time spent waiting on memory still counts); CLOCK_MONOTONIC
 * for wall time, which is what a split across threads buys.
 *
 * Not thread-safe: one benchmark thread measures, and bench_paired reads
 * the samples of the last bench_measure.
 */
#ifndef GD_BENCH_TIMING_H
#define GD_BENCH_TIMING_H

#include <time.h>

enum { BENCH_MAX_OPS = 3, BENCH_MAX_REPS = 101 };

extern clockid_t bench_clock;

/* Runs op i of a row once; env holds the caller's ops and buffers. */
typedef void (*bench_call)(int i, const void *env);

/* Times ops 0 .. k-1 (1 <= k <= BENCH_MAX_OPS) in reps rounds
 * (1 <= reps <= BENCH_MAX_REPS) after one warm-up call each; a sample is
 * as many calls as last about 2 ms.  t[i] = op i's median seconds per
 * call.  Exits with a message on a k or reps out of range. */
void bench_measure(int k, bench_call call, const void *env, int reps, double t[]);

/* The median over the last bench_measure's rounds of op a's time over the
 * larger of ops b's and c's in the same round (b == c: over b's). */
double bench_paired(int a, int b, int c);

#endif

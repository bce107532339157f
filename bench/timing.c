/* The benchmarks' timing: bench/timing.h says what is measured and why. */
#define _POSIX_C_SOURCE 200809L
#include "timing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

clockid_t bench_clock = CLOCK_THREAD_CPUTIME_ID;

/* The samples of the last bench_measure: round r timed each op once. */
static double samples[BENCH_MAX_OPS][BENCH_MAX_REPS];
static int sample_ops, sample_reps;

static double now(void)
{
    struct timespec t;
    clock_gettime(bench_clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0 .. n-1], which it sorts. */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double sample(bench_call call, const void *env, int i, int inner)
{
    const double t0 = now();
    for (int r = 0; r < inner; r++)
        call(i, env);
    return (now() - t0) / inner;
}

void bench_measure(int k, bench_call call, const void *env, int reps, double t[])
{
    if (k < 1 || k > BENCH_MAX_OPS || reps < 1 || reps > BENCH_MAX_REPS) {
        fprintf(stderr, "bench_measure: %d ops, %d rounds: out of range (1-%d, 1-%d)\n", k,
                reps, BENCH_MAX_OPS, BENCH_MAX_REPS);
        exit(2);
    }
    double one = 1e30;
    for (int i = 0; i < k; i++)
        call(i, env); /* warm up caches, page tables and the dispatch choice */
    for (int i = 0; i < k; i++) {
        const double o = sample(call, env, i, 1);
        one = o < one ? o : one;
    }
    const int inner = one >= 2e-3 ? 1 : (int)(2e-3 / (one > 1e-9 ? one : 1e-9)) + 1;
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < k; i++)
            samples[i][r] = sample(call, env, i, inner);
    sample_ops = k;
    sample_reps = reps;
    for (int i = 0; i < k; i++) {
        double sorted[BENCH_MAX_REPS];
        memcpy(sorted, samples[i], (size_t)reps * sizeof *sorted);
        t[i] = median(sorted, reps);
    }
}

double bench_paired(int a, int b, int c)
{
    if (a < 0 || b < 0 || c < 0 || a >= sample_ops || b >= sample_ops || c >= sample_ops) {
        fprintf(stderr, "bench_paired: op %d, %d or %d not in the last measure (%d ops)\n", a,
                b, c, sample_ops);
        exit(2);
    }
    double q[BENCH_MAX_REPS];
    for (int r = 0; r < sample_reps; r++) {
        const double d = samples[b][r] > samples[c][r] ? samples[b][r] : samples[c][r];
        q[r] = samples[a][r] / d;
    }
    return median(q, sample_reps);
}

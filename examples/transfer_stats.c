/*
 * gdropout-transfer, statistics: means, standard deviations and 95% t
 * intervals, paired over seeds.
 */
#include "transfer.h"

#include <math.h>

/* Two-sided 95% quantiles t_{0.975, df} of Student's t, df = 1..30, then
 * 40, 60, 120 and infinity (the normal 1.960). */
static const double t_small[30] = {
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
};

double gdx_t975(size_t df)
{
    if (df == 0)
        return NAN;
    if (df <= 30)
        return t_small[df - 1];
    if (df < 40)
        return t_small[29];
    if (df < 60)
        return 2.021;
    if (df < 120)
        return 2.000;
    return 1.980;
}

gdx_summary gdx_summarize(const double *v, size_t n)
{
    gdx_summary s = { 0.0, 0.0, 0.0, 0.0 };
    if (n == 0)
        return s;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    s.mean = sum / (double)n;
    s.lo = s.hi = s.mean;
    if (n < 2)
        return s;
    double ss = 0.0;
    for (size_t i = 0; i < n; i++)
        ss += (v[i] - s.mean) * (v[i] - s.mean);
    s.sd = sqrt(ss / (double)(n - 1));
    const double half = gdx_t975(n - 1) * s.sd / sqrt((double)n);
    s.lo = s.mean - half;
    s.hi = s.mean + half;
    return s;
}

gdx_summary gdx_summarize_paired(const double *a, const double *b, size_t n)
{
    /* Small n by design (seeds): a fixed buffer keeps this allocation-free. */
    double d[1024];
    if (n > sizeof d / sizeof *d)
        n = sizeof d / sizeof *d;
    for (size_t i = 0; i < n; i++)
        d[i] = a[i] - b[i];
    return gdx_summarize(d, n);
}

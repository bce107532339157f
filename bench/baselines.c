/*
 * The plain loops the kernels are measured against (see CMakeLists.txt for
 * the flags).  Out of line so the compiler cannot fold them into the timing
 * loop.
 */
#include <stddef.h>

void bench_scale(float *restrict y, const float *restrict x, size_t n, float a)
{
    for (size_t i = 0; i < n; i++)
        y[i] = a * x[i];
}

/* y = r + x + b, b broadcast over rows: the fused epilogue's memory traffic. */
void bench_add3(float *restrict y, const float *restrict r, const float *restrict x,
                const float *restrict b, size_t rows, size_t cols)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t c = 0; c < cols; c++)
            y[i * cols + c] = r[i * cols + c] + (x[i * cols + c] + b[c]);
}

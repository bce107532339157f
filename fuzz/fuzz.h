/*
 * Shared helpers of the fuzz targets: the libFuzzer entry point's prototype,
 * a reader that turns the input bytes into arguments, and the invariant
 * check.  Each target is built twice: as a libFuzzer binary (GD_BUILD_FUZZ=ON,
 * clang) and, in every normal build, linked with regression_driver.c into a
 * plain program that replays fuzz/corpus/<target>/ as a ctest test.
 */
#ifndef GD_FUZZ_H
#define GD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the library: a violation is a finding, so it must stop the
 * process where libFuzzer (and the replay driver) notice it. */
#define FUZZ_CHECK(cond)           \
    do {                           \
        if (!(cond))               \
            __builtin_trap();      \
    } while (0)

/* Consumes the input front to back; past the end it yields zeros. */
typedef struct fuzz_reader {
    const uint8_t *p;
    size_t left;
} fuzz_reader;

static inline uint64_t fuzz_take(fuzz_reader *r, size_t bytes)
{
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; i++) {
        v <<= 8;
        if (r->left) {
            v |= *r->p++;
            r->left--;
        }
    }
    return v;
}

static inline uint8_t fuzz_u8(fuzz_reader *r)
{
    return (uint8_t)fuzz_take(r, 1);
}

static inline uint64_t fuzz_u64(fuzz_reader *r)
{
    return fuzz_take(r, 8);
}

static inline float fuzz_bits_float(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint32_t fuzz_float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

#endif

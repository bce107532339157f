/*
 * gd_plan_load's memory follows the file's size (issue 16, item 7): a file
 * of the shortest possible lines ("0 - 0 0", 8 bytes) once cost 272 bytes
 * a line (each row held a 256-byte name slot), 4.4 GiB for 128 MiB.  Here an
 * 8 MiB file of such lines (refused in the end: every index is 0) may
 * raise the peak resident size by at most 8 times the file's size (16
 * under AddressSanitizer, whose redzones and quarantine of reallocated
 * blocks count too); the old loader needed 34 times.  The only test in its
 * process, so the peak it reads is its own.
 */
#define _POSIX_C_SOURCE 200809L

#include "test_util.h"

#include <check.h>
#include <sys/resource.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define GD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GD_ASAN 1
#endif
#endif
/* ThreadSanitizer's shadow and allocator make resident size say nothing
 * about the loader (17x here); its run skips the measurement, which the
 * plain, ASan and valgrind runs make. */
#if defined(__SANITIZE_THREAD__)
#define GD_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GD_TSAN 1
#endif
#endif
#ifdef GD_ASAN
enum { FACTOR = 16 };
#else
enum { FACTOR = 8 };
#endif

static long peak_kib(void)
{
    struct rusage ru;
    ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

START_TEST(plan_load_memory_follows_file_size)
{
#ifdef GD_TSAN
    fprintf(stderr, "plan_memory: skipped under ThreadSanitizer\n");
    return;
#endif
    /* 8 MiB; GD_TEST_QUICK (valgrind): 2 MiB, the same bound */
    const size_t lines = getenv("GD_TEST_QUICK") ? (size_t)1 << 18 : (size_t)1 << 20;
    const size_t bytes = lines * 8;
    char dir[64], path[128];
    tu_tmpdir_make(dir, sizeof dir, "gd_plan_memory");
    snprintf(path, sizeof path, "%s/short_lines.plan", dir);
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    for (size_t i = 0; i < lines; i++)
        ck_assert_int_ne(fputs("0 - 0 0\n", fp), EOF);
    ck_assert_int_eq(fclose(fp), 0);
    const long before = peak_kib();
    gd_plan *p = NULL;
    ck_assert_int_eq(gd_plan_load(&p, path), GD_EFORMAT); /* index 0 repeated */
    const long grown = peak_kib() - before;
    ck_assert_msg(grown >= 0 && (size_t)grown * 1024 <= FACTOR * bytes,
                  "peak grew by %ld KiB for a %zu KiB file", grown, bytes / 1024);
    tu_tmpdir_remove(dir);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, plan_load_memory_follows_file_size);
}

int main(void)
{
    return tu_run("plan_memory", add_tests, 120);
}

/* Philox known answers, the counter layout, and the error paths of the word API. */

#include "test_util.h"

#include <check.h>

START_TEST(random123_known_answers)
{
    static const struct {
        uint32_t ctr[4], key[2], out[4];
    } kat[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
         {0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
         {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (size_t t = 0; t < sizeof kat / sizeof kat[0]; t++) {
        uint32_t out[4];
        ck_assert_int_eq(gd_philox4x32_10(kat[t].ctr, kat[t].key, out), GD_OK);
        for (int w = 0; w < 4; w++)
            ck_assert_uint_eq(out[w], kat[t].out[w]);
    }
}
END_TEST

START_TEST(philox_in_place)
{
    uint32_t c[4] = {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344};
    const uint32_t k[2] = {0xa4093822, 0x299f31d0};
    ck_assert_int_eq(gd_philox4x32_10(c, k, c), GD_OK);
    ck_assert_uint_eq(c[0], 0xd16cfe09);
    ck_assert_uint_eq(c[3], 0x24126ea1);
}
END_TEST

/* Words equal the contract's layout, with seed and stream high halves set and
 * a counter that crosses the 2^32 block boundary. */
START_TEST(counter_layout)
{
    const uint64_t seed = UINT64_C(0x0123456789abcdef), stream = UINT64_C(0xfedcba9876543210);
    const uint64_t offsets[] = {0, 1, 3, 5, (UINT64_C(1) << 34) - 7, UINT64_MAX - 40};
    uint32_t r[41];
    for (size_t o = 0; o < sizeof offsets / sizeof offsets[0]; o++) {
        const gd_stream s = {seed, stream, offsets[o]};
        ck_assert_int_eq(gd_random_u32(r, 41, &s), GD_OK);
        for (size_t j = 0; j < 41; j++)
            ck_assert_uint_eq(r[j], tu_ref_word(seed, stream, offsets[o] + j));
    }
}
END_TEST

/* A fixed vector pins the layout for other implementations (docs/SPEC.md). */
START_TEST(fixed_vector)
{
    const gd_stream s = {42, 7, 0};
    uint32_t r[4];
    uint32_t out[4];
    const uint32_t ctr[4] = {0, 0, 7, 0}, key[2] = {42, 0};
    ck_assert_int_eq(gd_philox4x32_10(ctr, key, out), GD_OK);
    ck_assert_int_eq(gd_random_u32(r, 4, &s), GD_OK);
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(r[i], out[i]);
}
END_TEST

START_TEST(errors_leave_output)
{
    uint32_t r[4] = {1, 2, 3, 4};
    const uint32_t k[2] = {0, 0};
    const gd_stream s = {1, 2, UINT64_MAX - 2};
    ck_assert_int_eq(gd_philox4x32_10(NULL, k, r), GD_EINVAL);
    ck_assert_int_eq(gd_philox4x32_10(r, NULL, r), GD_EINVAL);
    ck_assert_int_eq(gd_philox4x32_10(r, k, NULL), GD_EINVAL);
    ck_assert_int_eq(gd_random_u32(NULL, 4, &s), GD_EINVAL);
    ck_assert_int_eq(gd_random_u32(r, 4, NULL), GD_EINVAL);
    ck_assert_int_eq(gd_random_u32(r, 4, &s), GD_EOVERFLOW); /* indices pass 2^64 */
    ck_assert_int_eq(gd_random_u32(r, 0, NULL), GD_OK);
    ck_assert_int_eq(gd_random_u32(r, 3, &s), GD_OK); /* ends exactly at 2^64 - 1 */
    ck_assert_uint_eq(r[3], 4);
    float z[2] = {5, 6};
    ck_assert_int_eq(gd_random_normal(z, 4, &s), GD_EOVERFLOW);
    ck_assert_int_eq(gd_random_normal(NULL, 1, &s), GD_EINVAL);
    ck_assert_int_eq(gd_random_normal(z, 1, NULL), GD_EINVAL);
    ck_assert(z[0] == 5 && z[1] == 6);
}
END_TEST

START_TEST(versions_and_messages)
{
    ck_assert_uint_eq(gd_version(), GD_VERSION_NUMBER);
    ck_assert_uint_eq(gd_version() >> 16, GD_VERSION_MAJOR);
    ck_assert_str_eq(gd_version_string(), GD_VERSION_STRING);
    ck_assert_str_eq(gd_strerror(GD_OK), "success");
    ck_assert_str_eq(gd_strerror(12345), "unknown error");
    ck_assert_str_eq(gd_error_name(GD_EFORMAT), "GD_EFORMAT");
    ck_assert_str_eq(gd_error_name(-999), "GD_EUNKNOWN");
    for (int c = GD_ERROR_LAST_; c < 0; c++) {
        ck_assert_ptr_nonnull(gd_strerror(c));
        ck_assert_str_ne(gd_strerror(c), "unknown error");
        ck_assert_str_ne(gd_error_name(c), "GD_EUNKNOWN");
    }
    ck_assert_uint_eq(gd_none(), GD_NONE);
    const char *d = gd_dispatch_name();
    ck_assert(!strcmp(d, "scalar") || !strcmp(d, "avx2") || !strcmp(d, "avx512"));
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, random123_known_answers);
    tcase_add_test(tc, philox_in_place);
    tcase_add_test(tc, counter_layout);
    tcase_add_test(tc, fixed_vector);
    tcase_add_test(tc, errors_leave_output);
    tcase_add_test(tc, versions_and_messages);
}

int main(void)
{
    return tu_run("philox", add_tests, 0);
}

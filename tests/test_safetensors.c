/* gd_fisher_save / gd_fisher_load: bit-exact round trips, files written by
 * hand (other writers), and rejection of every kind of malformed file. */
#include "test_util.h"
#include "internal.h"

#include <check.h>
#include <dirent.h>
#include <locale.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

static const char *NAMES[] = {"embeddings.weight", "quote\"back\\slash", "caf\xc3\xa9 \xf0\x9f\x98\x80",
                              "layer.0.bias", "unscored"};

/* A fisher with awkward names, fractional weights, a tensor on no site and
 * one without samples. */
static gd_fisher *sample_fisher(void)
{
    gd_fisher *f = NULL;
    ck_assert_int_eq(gd_fisher_create(&f), GD_OK);
    const size_t numel[] = {12, 3, 5, 1, 2}, site[] = {0, 2, GD_NONE, 1, 3};
    float g[12];
    for (size_t i = 0; i < 5; i++) {
        size_t id;
        ck_assert_int_eq(gd_fisher_add_tensor(f, NAMES[i], numel[i], site[i], &id), GD_OK);
        if (i == 4)
            continue; /* no samples: weight 0 */
        for (int k = 0; k < 3; k++) {
            tu_fill_normal(g, numel[i], 100 * i + (size_t)k, 0.3);
            ck_assert_int_eq(gd_fisher_accumulate(f, id, g, 0.1f * (float)(k + 1)), GD_OK);
        }
    }
    return f;
}

static void assert_same(const gd_fisher *a, const gd_fisher *b)
{
    size_t na, nb;
    ck_assert_int_eq(gd_fisher_count(a, &na), GD_OK);
    ck_assert_int_eq(gd_fisher_count(b, &nb), GD_OK);
    ck_assert_uint_eq(na, nb);
    for (size_t id = 0; id < na; id++) {
        const char *name_a, *name_b;
        size_t numel_a, numel_b, site_a, site_b;
        ck_assert_int_eq(gd_fisher_info(a, id, &name_a, &numel_a, &site_a), GD_OK);
        ck_assert_int_eq(gd_fisher_info(b, id, &name_b, &numel_b, &site_b), GD_OK);
        ck_assert_str_eq(name_a, name_b);
        ck_assert_uint_eq(numel_a, numel_b);
        ck_assert_uint_eq(site_a, site_b);
        float ea[16], eb[16];
        double wa, wb;
        const int ra = gd_fisher_read(a, id, ea, numel_a, &wa);
        ck_assert_int_eq(ra, gd_fisher_read(b, id, eb, numel_b, &wb));
        if (ra == GD_OK) {
            ck_assert(wa == wb);
            ck_assert_mem_eq(ea, eb, numel_a * sizeof *ea);
        }
    }
}

START_TEST(round_trip_bit_exact)
{
    char p1[64], p2[64];
    tu_path(p1, sizeof p1, "rt1");
    tu_path(p2, sizeof p2, "rt2");
    gd_fisher *f = sample_fisher(), *g = NULL;
    ck_assert_int_eq(gd_fisher_save(f, p1), GD_OK);
    ck_assert_int_eq(gd_fisher_load(&g, p1), GD_OK);
    assert_same(f, g);
    /* the loaded object saves to the very same bytes */
    ck_assert_int_eq(gd_fisher_save(g, p2), GD_OK);
    size_t l1, l2;
    unsigned char *b1 = tu_read_file(p1, &l1), *b2 = tu_read_file(p2, &l2);
    ck_assert_uint_eq(l1, l2);
    ck_assert_mem_eq(b1, b2, l1);
    /* layout: u64 LE header length, a multiple of 8, JSON from '{', data */
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | b1[i];
    ck_assert_uint_eq(n % 8, 0);
    ck_assert_uint_eq(l1, 8 + n + 4 * (12 + 3 + 5 + 1 + 2));
    ck_assert_int_eq(b1[8], '{');
    float e[12], first;
    ck_assert_int_eq(gd_fisher_read(f, 0, e, 12, NULL), GD_OK);
    memcpy(&first, b1 + 8 + n, 4); /* x86-64 is little-endian */
    ck_assert(first == e[0]);
    ck_assert(tu_contains(b1, l1, "\"gdropout.format\":\"fisher-1\""));
    ck_assert(tu_contains(b1, l1, "\"quote\\\"back\\\\slash\""));
    ck_assert(tu_contains(b1, l1, "\"gdropout.site.caf\xc3\xa9 \xf0\x9f\x98\x80\":\"none\""));
    ck_assert(tu_contains(b1, l1, "\"gdropout.weight.unscored\":\"0\""));
    free(b1), free(b2);
    unlink(p1), unlink(p2);
    gd_fisher_destroy(f);
    gd_fisher_destroy(g);
}
END_TEST

START_TEST(empty_fisher)
{
    char p[64];
    tu_path(p, sizeof p, "empty");
    gd_fisher *f = NULL, *g = NULL;
    ck_assert_int_eq(gd_fisher_create(&f), GD_OK);
    ck_assert_int_eq(gd_fisher_save(f, p), GD_OK);
    ck_assert_int_eq(gd_fisher_load(&g, p), GD_OK);
    size_t n = 9;
    ck_assert_int_eq(gd_fisher_count(g, &n), GD_OK);
    ck_assert_uint_eq(n, 0);
    unlink(p);
    gd_fisher_destroy(f);
    gd_fisher_destroy(g);
}
END_TEST

/* Writes [len][json][data] and loads it. */
static int load_raw(const char *json, const void *data, size_t data_len, gd_fisher **out)
{
    char p[64];
    tu_path(p, sizeof p, "raw");
    const size_t jl = strlen(json);
    unsigned char *b = malloc(8 + jl + data_len + 1);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)jl >> (8 * i));
    memcpy(b + 8, json, jl);
    if (data_len)
        memcpy(b + 8 + jl, data, data_len);
    ck_assert_int_eq(tu_write_file(p, b, 8 + jl + data_len), 0);
    free(b);
    gd_fisher *sentinel = (gd_fisher *)&p, *f = sentinel;
    const int rc = gd_fisher_load(&f, p);
    unlink(p);
    if (rc != GD_OK)
        ck_assert_ptr_eq(f, sentinel); /* untouched on error */
    if (out)
        *out = rc == GD_OK ? f : NULL;
    else if (rc == GD_OK)
        gd_fisher_destroy(f);
    return rc;
}

/* A file another writer made: no metadata, JSON order unlike offset order,
 * a 2-D shape, escapes, no padding. */
START_TEST(foreign_file)
{
    const float data[7] = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 0.5f};
    const char *json = "{ \"b\\u00e9\\ud83d\\ude00\" : {\"data_offsets\":[24,28],\"dtype\":\"F32\","
                       "\"shape\":[1]},\n\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],"
                       "\"data_offsets\":[0,24]}, \"__metadata__\":{\"other\":\"x\"}}";
    gd_fisher *f;
    ck_assert_int_eq(load_raw(json, data, sizeof data, &f), GD_OK);
    const char *name;
    size_t numel, site;
    ck_assert_int_eq(gd_fisher_info(f, 0, &name, &numel, &site), GD_OK);
    ck_assert_str_eq(name, "a");
    ck_assert_uint_eq(numel, 6);
    ck_assert_uint_eq(site, GD_NONE);
    ck_assert_int_eq(gd_fisher_info(f, 1, &name, &numel, NULL), GD_OK);
    ck_assert_str_eq(name, "b\xc3\xa9\xf0\x9f\x98\x80");
    float e[6];
    double w;
    ck_assert_int_eq(gd_fisher_read(f, 0, e, 6, &w), GD_OK);
    ck_assert(w == 1.0 && e[5] == 6.0f);
    ck_assert_int_eq(gd_fisher_read(f, 1, e, 1, NULL), GD_OK);
    ck_assert(e[0] == 0.5f);
    gd_fisher_destroy(f);
    /* metadata sets site and weight */
    const char *j2 = "{\"__metadata__\":{\"gdropout.site.t\":\"4\",\"gdropout.weight.t\":\"2.5e1\"},"
                     "\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    ck_assert_int_eq(load_raw(j2, data, 8, &f), GD_OK);
    ck_assert_int_eq(gd_fisher_info(f, 0, NULL, NULL, &site), GD_OK);
    ck_assert_uint_eq(site, 4);
    ck_assert_int_eq(gd_fisher_read(f, 0, e, 2, &w), GD_OK);
    ck_assert(w == 25.0 && e[0] == 1.0f && e[1] == 2.0f);
    gd_fisher_destroy(f);
}
END_TEST

#define T1 "\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"
#define T2 "\"u\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}"

START_TEST(rejects_malformed)
{
    const float d[4] = {1, 2, 3, 4};
    static const char *bad[] = {
        "",
        "{",
        "[]",
        "{\"t\":1}",
        "{" T1 ",}",                                                  /* trailing comma */
        "{" T1 "} x",                                                 /* trailing garbage */
        "{'t':{}}",                                                   /* not JSON */
        "{\"t\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}," T2 "}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}," T2 "}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}," T2 "}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,9]}," T2 "}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}," T2 "}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}," T2 "}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}," T2 "}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}," T2 "}", /* overlap */
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}," T2 "}",  /* gap */
        "{" T1 "}",                                                   /* data not covered */
        "{" T1 ",\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", /* dup */
        "{\"t\\u0000x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," T2 "}",
        "{\"t\\ud800\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," T2 "}",
        "{\"t\\udc00\\ud800\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," T2 "}",
        "{\"\\t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," T2 "}", /* name */
        "{\"\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," T2 "}",
        "{\"t\xff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," T2 "}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551624]}," T2 "}",
        "{\"__metadata__\":[]," T1 "," T2 "}",
        "{\"__metadata__\":{\"a\":1}," T1 "," T2 "}",
        "{\"__metadata__\":{}, \"__metadata__\":{}," T1 "," T2 "}",
        "{\"__metadata__\":{\"gdropout.format\":\"fisher-2\"}," T1 "," T2 "}",
        "{\"__metadata__\":{\"gdropout.site.t\":\"01\"}," T1 "," T2 "}",
        "{\"__metadata__\":{\"gdropout.site.t\":\"-1\"}," T1 "," T2 "}",
        "{\"__metadata__\":{\"gdropout.site.t\":\"18446744073709551615\"}," T1 "," T2 "}",
        "{\"__metadata__\":{\"gdropout.site.t\":\"1\",\"gdropout.site.t\":\"2\"}," T1 "," T2 "}",
        "{\"__metadata__\":{\"gdropout.site.x\":\"1\"}," T1 "," T2 "}",
        "{\"__metadata__\":{\"gdropout.weight.t\":\"nan\"}," T1 "," T2 "}",
        "{\"__metadata__\":{\"gdropout.weight.t\":\"-1\"}," T1 "," T2 "}",
        "{\"__metadata__\":{\"gdropout.weight.t\":\"1e999\"}," T1 "," T2 "}",
        "{\"__metadata__\":{\"gdropout.weight.t\":\"0x10\"}," T1 "," T2 "}",
        "{\"__metadata__\":{\"gdropout.weight.t\":\" 1\"}," T1 "," T2 "}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(load_raw(bad[i], d, 12, NULL) == GD_EFORMAT, "case %zu: %s", i, bad[i]);
    /* the control: the same pieces well-formed load */
    ck_assert_int_eq(load_raw("{" T1 "," T2 "}", d, 12, NULL), GD_OK);
    /* bad values: negative, NaN, Inf */
    const float neg[3] = {1, -1, 0}, nan3[3] = {1, NAN, 0}, inf3[3] = {INFINITY, 0, 0};
    ck_assert_int_eq(load_raw("{" T1 "," T2 "}", neg, 12, NULL), GD_EFORMAT);
    ck_assert_int_eq(load_raw("{" T1 "," T2 "}", nan3, 12, NULL), GD_EFORMAT);
    ck_assert_int_eq(load_raw("{" T1 "," T2 "}", inf3, 12, NULL), GD_EFORMAT);
    /* nesting beyond the depth limit, in the metadata */
    char deep[512] = "{\"__metadata__\":{\"x\":";
    for (int i = 0; i < 100; i++)
        strcat(deep, "[");
    for (int i = 0; i < 100; i++)
        strcat(deep, "]");
    strcat(deep, "}}");
    ck_assert_int_eq(load_raw(deep, NULL, 0, NULL), GD_EFORMAT);
}
END_TEST

/* Header length beyond the file, truncated files, short files. */
START_TEST(rejects_truncated)
{
    char p[64], q[64];
    tu_path(p, sizeof p, "trunc");
    tu_path(q, sizeof q, "trunc_part");
    gd_fisher *f = sample_fisher(), *g = NULL;
    ck_assert_int_eq(gd_fisher_save(f, p), GD_OK);
    size_t len;
    unsigned char *b = tu_read_file(p, &len);
    for (size_t n = 0; n < len; n++) {
        ck_assert_int_eq(tu_write_file(q, b, n), 0);
        ck_assert_msg(gd_fisher_load(&g, q) == GD_EFORMAT, "prefix %zu", n);
    }
    b[0] = (unsigned char)(b[0] + 200); /* header length beyond the file */
    ck_assert_int_eq(tu_write_file(q, b, len), 0);
    ck_assert_int_eq(gd_fisher_load(&g, q), GD_EFORMAT);
    memset(b, 0xff, 8);
    ck_assert_int_eq(tu_write_file(q, b, len), 0);
    ck_assert_int_eq(gd_fisher_load(&g, q), GD_EFORMAT);
    ck_assert_int_eq(gd_fisher_load(&g, "./no/such/file"), GD_EIO);
    ck_assert_int_eq(gd_fisher_load(&g, "."), GD_EIO);
    ck_assert_int_eq(gd_fisher_load(NULL, p), GD_EINVAL);
    free(b);
    unlink(p), unlink(q);
    gd_fisher_destroy(f);
}
END_TEST

/* Every single-byte corruption of a small file: never a crash or a read out
 * of bounds (ASan); either GD_EFORMAT or a valid object. */
START_TEST(flipped_bytes)
{
    char p[64], q[64];
    tu_path(p, sizeof p, "flip");
    tu_path(q, sizeof q, "flip_part");
    gd_fisher *f = sample_fisher();
    ck_assert_int_eq(gd_fisher_save(f, p), GD_OK);
    size_t len, ok = 0, bad = 0;
    unsigned char *b = tu_read_file(p, &len);
    static const unsigned char masks[] = {0x01, 0x20, 0x80, 0xff};
    for (size_t i = 0; i < len; i++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            b[i] ^= masks[m];
            ck_assert_int_eq(tu_write_file(q, b, len), 0);
            gd_fisher *g = NULL;
            const int rc = gd_fisher_load(&g, q);
            ck_assert_msg(rc == GD_OK || rc == GD_EFORMAT, "byte %zu mask %x: %d", i, masks[m], rc);
            if (rc == GD_OK) {
                size_t n;
                ck_assert_int_eq(gd_fisher_count(g, &n), GD_OK);
                ok++;
            } else {
                bad++;
            }
            gd_fisher_destroy(g);
            b[i] ^= masks[m];
        }
    }
    fprintf(stderr, "flipped bytes: %zu loads, %zu rejected, file %zu bytes\n", ok, bad, len);
    ck_assert(ok > 0 && bad > 0);
    free(b);
    unlink(p), unlink(q);
    gd_fisher_destroy(f);
}
END_TEST

/* Files in the folder that start with prefix (temporary leftovers). */
static int count_prefixed(const char *prefix)
{
    DIR *d = opendir(".");
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

/* A save that fails (allocation, or a write past RLIMIT_FSIZE) leaves the
 * old file intact and no temporary file behind. */
START_TEST(failed_save_keeps_target)
{
    const char *p = "./keep.safetensors";
    gd_fisher *f = sample_fisher(), *small = NULL;
    ck_assert_int_eq(gd_fisher_create(&small), GD_OK);
    ck_assert_int_eq(gd_fisher_save(small, p), GD_OK);
    size_t len0, len1;
    unsigned char *b0 = tu_read_file(p, &len0);
    for (long k = 1;; k++) {
        gd_test_fail_alloc_after(k);
        const int rc = gd_fisher_save(f, "./keep_other.safetensors");
        gd_test_fail_alloc_after(0);
        if (rc == GD_OK)
            break;
        ck_assert_int_eq(rc, GD_ENOMEM);
    }
    for (long k = 1; k < 6; k++) {
        gd_test_fail_alloc_after(k);
        const int rc = gd_fisher_save(f, p);
        gd_test_fail_alloc_after(0);
        if (rc == GD_OK)
            break;
        unsigned char *b1 = tu_read_file(p, &len1);
        ck_assert_uint_eq(len0, len1);
        ck_assert_mem_eq(b0, b1, len0);
        free(b1);
    }
    ck_assert_int_eq(gd_fisher_save(small, p), GD_OK);
    /* a write that fails half way */
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 200;
    signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    const int rc = gd_fisher_save(f, p);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_DFL);
    ck_assert_int_eq(rc, GD_EIO);
    unsigned char *b1 = tu_read_file(p, &len1);
    ck_assert_uint_eq(len0, len1);
    ck_assert_mem_eq(b0, b1, len0);
    ck_assert_int_eq(count_prefixed("keep.safetensors."), 0);
    ck_assert_int_eq(gd_fisher_save(f, "./no/such/dir/x.safetensors"), GD_EIO);
    ck_assert_int_eq(gd_fisher_save(f, ""), GD_EINVAL);
    ck_assert_int_eq(gd_fisher_save(NULL, p), GD_EINVAL);
    free(b0), free(b1);
    unlink(p), unlink("./keep_other.safetensors");
    gd_fisher_destroy(f);
    gd_fisher_destroy(small);
}
END_TEST

START_TEST(load_alloc_failures)
{
    char p[64];
    tu_path(p, sizeof p, "allocs");
    gd_fisher *f = sample_fisher();
    ck_assert_int_eq(gd_fisher_save(f, p), GD_OK);
    for (long k = 1;; k++) {
        gd_fisher *g = NULL;
        gd_test_fail_alloc_after(k);
        const int rc = gd_fisher_load(&g, p);
        gd_test_fail_alloc_after(0);
        if (rc == GD_OK) {
            assert_same(f, g);
            gd_fisher_destroy(g);
            break;
        }
        ck_assert_int_eq(rc, GD_ENOMEM);
        ck_assert_ptr_null(g);
    }
    unlink(p);
    gd_fisher_destroy(f);
}
END_TEST

/* Numbers are written and read in the "C" locale whatever the host set. */
START_TEST(locale_independent)
{
    char p[64];
    tu_path(p, sizeof p, "locale");
    gd_fisher *f = NULL, *g = NULL;
    ck_assert_int_eq(gd_fisher_create(&f), GD_OK);
    ck_assert_int_eq(gd_fisher_add_tensor(f, "t", 1, 0, NULL), GD_OK);
    const float one = 1.0f;
    ck_assert_int_eq(gd_fisher_accumulate(f, 0, &one, 0.5f), GD_OK);
    const bool have = setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "fr_FR.UTF-8");
    ck_assert_int_eq(gd_fisher_save(f, p), GD_OK);
    ck_assert_int_eq(gd_fisher_load(&g, p), GD_OK);
    setlocale(LC_NUMERIC, "C");
    size_t len;
    char *b = tu_read_file(p, &len);
    ck_assert(tu_contains(b, len, "\"gdropout.weight.t\":\"0.5\""));
    double w;
    float e;
    ck_assert_int_eq(gd_fisher_read(g, 0, &e, 1, &w), GD_OK);
    ck_assert(w == 0.5 && e == 1.0f);
    if (!have)
        fprintf(stderr, "locale_independent: no comma locale installed, checked in C only\n");
    free(b);
    unlink(p);
    gd_fisher_destroy(f);
    gd_fisher_destroy(g);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, round_trip_bit_exact);
    tcase_add_test(tc, empty_fisher);
    tcase_add_test(tc, foreign_file);
    tcase_add_test(tc, rejects_malformed);
    tcase_add_test(tc, rejects_truncated);
    tcase_add_test(tc, flipped_bytes);
    tcase_add_test(tc, failed_save_keeps_target);
    tcase_add_test(tc, load_alloc_failures);
    tcase_add_test(tc, locale_independent);
}

int main(void)
{
    /* tu_path's files go to a private directory per test */
    const tu_case core = {.name = "core", .add_tests = add_tests, .timeout = 300,
                          .setup = tu_dir_setup, .teardown = tu_dir_teardown};
    return tu_run_cases("safetensors", &core, 1);
}

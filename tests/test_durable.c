/*
 * Durable saves (gd_fisher_save, gd_plan_save: temporary file, fsync,
 * rename).  A save that cannot complete returns GD_EIO, leaves an existing
 * target byte-identical and leaves no temporary file behind; a save that
 * completes replaces the target atomically (a new inode renamed over it,
 * never a rewrite in place).
 *
 * CI runs as root, for whom permission bits stop nothing, so the failures
 * are made in ways root cannot get around: a directory that does not exist,
 * a directory component that is a regular file, a target that is a
 * directory, a path under /proc, and a full disk simulated with
 * RLIMIT_FSIZE (SIGXFSZ ignored, so the write fails with EFBIG instead of
 * killing the process).
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, link, lstat */

#include "test_util.h"

#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void path_in(char *out, size_t cap, const char *rel)
{
    const int n = snprintf(out, cap, "%s/%s", dir, rel);
    ck_assert(n > 0 && (size_t)n < cap);
}

static void setup(void)
{
    tu_tmpdir_make(dir, sizeof dir, "gd_durable");
}

static void teardown(void)
{
    tu_tmpdir_remove(dir);
}

enum { NAME_BYTES = 256 };

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The sorted names in d, one string "a|b|c|", to compare listings. */
static void listing(const char *d, char *out, size_t cap)
{
    char names[64][NAME_BYTES];
    size_t n = 0;
    DIR *dp = opendir(d);
    ck_assert_ptr_nonnull(dp);
    struct dirent *e;
    while ((e = readdir(dp)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            ck_assert_uint_lt(n, 64);
            snprintf(names[n++], sizeof names[0], "%s", e->d_name);
        }
    closedir(dp);
    qsort(names, n, sizeof names[0], by_name);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_lt(strlen(out) + strlen(names[i]) + 2, cap);
        strcat(out, names[i]);
        strcat(out, "|");
    }
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    ck_assert_int_eq(tu_write_file(path, data, len), 0);
}

static void assert_file_is(const char *path, const void *data, size_t len)
{
    size_t n;
    unsigned char *b = tu_read_file(path, &n);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(n, len);
    ck_assert_int_eq(memcmp(b, data, len), 0);
    free(b);
}

/* ---- what is saved: a Fisher or a plan, large or small ------------------ */

typedef struct saver {
    const char *what;
    void *(*make)(size_t size);
    int (*save)(const void *obj, const char *path);
    void (*check_file)(const void *obj, const char *path); /* loads and compares */
    void (*destroy)(void *obj);
} saver;

static void *make_fisher(size_t numel)
{
    gd_fisher *f = NULL;
    ck_assert_int_eq(gd_fisher_create(&f), GD_OK);
    ck_assert_int_eq(gd_fisher_add_tensor(f, "big", numel, 0, NULL), GD_OK);
    ck_assert_int_eq(gd_fisher_add_tensor(f, "small", 3, 1, NULL), GD_OK);
    float *g = tu_alloc_f(numel);
    tu_fill_data(g, numel, (uint32_t)numel);
    ck_assert_int_eq(gd_fisher_accumulate(f, 0, g, 1.0f), GD_OK);
    ck_assert_int_eq(gd_fisher_accumulate(f, 1, g, 2.0f), GD_OK);
    free(g);
    return f;
}

static int save_fisher(const void *f, const char *path)
{
    return gd_fisher_save(f, path);
}

static void check_fisher_file(const void *obj, const char *path)
{
    const gd_fisher *f = obj;
    gd_fisher *back = NULL;
    ck_assert_int_eq(gd_fisher_load(&back, path), GD_OK);
    size_t n, numel;
    ck_assert_int_eq(gd_fisher_count(back, &n), GD_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(gd_fisher_info(f, 0, NULL, &numel, NULL), GD_OK);
    float *a = tu_alloc_f(numel), *b = tu_alloc_f(numel);
    ck_assert_int_eq(gd_fisher_read(f, 0, a, numel, NULL), GD_OK);
    ck_assert_int_eq(gd_fisher_read(back, 0, b, numel, NULL), GD_OK);
    ck_assert_int_eq(memcmp(a, b, numel * sizeof *a), 0);
    free(a);
    free(b);
    gd_fisher_destroy(back);
}

static void destroy_fisher(void *f)
{
    gd_fisher_destroy(f);
}

static void *make_plan(size_t sites)
{
    gd_plan *p = NULL;
    ck_assert_int_eq(gd_plan_create(&p, sites), GD_OK);
    for (size_t i = 0; i < sites; i++) {
        char name[64];
        snprintf(name, sizeof name, "encoder.layer.%zu.attention.output", i);
        ck_assert_int_eq(gd_plan_set_site(p, i, name, (float)((i * 37) % sites)), GD_OK);
    }
    ck_assert_int_eq(gd_plan_compute(p, GD_RULE_RANK_LINEAR, 0.1f, 0.0f), GD_OK);
    return p;
}

static int save_plan(const void *p, const char *path)
{
    return gd_plan_save(p, path);
}

static void check_plan_file(const void *obj, const char *path)
{
    gd_plan *back = NULL;
    ck_assert_int_eq(gd_plan_load(&back, path), GD_OK);
    tu_plan_snap s;
    tu_plan_snap_take(obj, &s);
    tu_plan_assert_same(back, &s);
    tu_plan_snap_free(&s);
    gd_plan_destroy(back);
}

static void destroy_plan(void *p)
{
    gd_plan_destroy(p);
}

static const saver SAVERS[] = {
    {"fisher", make_fisher, save_fisher, check_fisher_file, destroy_fisher},
    {"plan", make_plan, save_plan, check_plan_file, destroy_plan},
};
enum { N_SAVERS = sizeof SAVERS / sizeof SAVERS[0] };

/* Object sizes: "large" is well past any stdio buffer (100 k floats, 2000
 * plan lines); "small" is a few hundred bytes. */
static const size_t LARGE[N_SAVERS] = {100000, 2000};
static const size_t SMALL[N_SAVERS] = {5, 3};

static const char OLD[] = "old contents, which a failed save must leave byte for byte\n";

/* A save to path fails with GD_EIO and changes nothing in dir. */
static void assert_eio_nothing_changed(const saver *s, const void *obj, const char *path)
{
    char before[4096], after[4096];
    listing(dir, before, sizeof before);
    const int rc = s->save(obj, path);
    ck_assert_msg(rc == GD_EIO, "%s save to %s: %s", s->what, path, gd_error_name(rc));
    listing(dir, after, sizeof after);
    ck_assert_str_eq(after, before);
}

START_TEST(missing_directory)
{
    const saver *s = &SAVERS[_i];
    void *obj = s->make(SMALL[_i]);
    char path[160];
    path_in(path, sizeof path, "no/such/dir/out");
    assert_eio_nothing_changed(s, obj, path);
    path_in(path, sizeof path, "nodir/out");
    assert_eio_nothing_changed(s, obj, path);
    s->destroy(obj);
}
END_TEST

START_TEST(directory_component_is_a_file)
{
    const saver *s = &SAVERS[_i];
    void *obj = s->make(SMALL[_i]);
    char file[160], path[200];
    path_in(file, sizeof file, "regular");
    write_bytes(file, OLD, sizeof OLD - 1);
    snprintf(path, sizeof path, "%s/out", file);
    assert_eio_nothing_changed(s, obj, path);
    snprintf(path, sizeof path, "%s/", file); /* a trailing slash names a directory */
    assert_eio_nothing_changed(s, obj, path);
    assert_file_is(file, OLD, sizeof OLD - 1);
    s->destroy(obj);
}
END_TEST

START_TEST(target_is_a_directory)
{
    const saver *s = &SAVERS[_i];
    void *obj = s->make(SMALL[_i]);
    char sub[160], inner[200];
    path_in(sub, sizeof sub, "sub");
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    snprintf(inner, sizeof inner, "%s/keep", sub);
    write_bytes(inner, OLD, sizeof OLD - 1);
    assert_eio_nothing_changed(s, obj, sub);
    struct stat st;
    ck_assert_int_eq(lstat(sub, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    assert_file_is(inner, OLD, sizeof OLD - 1);
    char entries[256];
    listing(sub, entries, sizeof entries);
    ck_assert_str_eq(entries, "keep|");
    s->destroy(obj);
}
END_TEST

/* procfs takes no new files, not even from root. */
START_TEST(proc_paths)
{
    const saver *s = &SAVERS[_i];
    void *obj = s->make(SMALL[_i]);
    const char *paths[] = {"/proc/gd_durable_test", "/proc/self/gd_durable_test",
                           "/proc/version"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        const int rc = s->save(obj, paths[i]);
        ck_assert_msg(rc == GD_EIO, "%s: %s", paths[i], gd_error_name(rc));
    }
    ck_assert_int_eq(access("/proc/gd_durable_test", F_OK), -1);
    s->destroy(obj);
}
END_TEST

/* A full disk: RLIMIT_FSIZE below the new file's size.  The old target and
 * the folder are exactly as before. */
START_TEST(full_disk)
{
    const saver *s = &SAVERS[_i];
    void *obj = s->make(LARGE[_i]);
    char target[160];
    path_in(target, sizeof target, "target");
    write_bytes(target, OLD, sizeof OLD - 1);

    struct rlimit old_lim, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    ck_assert(old_handler != SIG_ERR);
    const rlim_t limits[] = {0, 1, 100, 4096, 10000};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        lim = old_lim;
        lim.rlim_cur = limits[i];
        ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
        char before[4096], after[4096];
        listing(dir, before, sizeof before);
        const int rc = s->save(obj, target);
        ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
        ck_assert_msg(rc == GD_EIO, "%s, limit %lu: %s", s->what, (unsigned long)limits[i],
                      gd_error_name(rc));
        listing(dir, after, sizeof after);
        ck_assert_str_eq(after, before); /* no temporary file left */
        assert_file_is(target, OLD, sizeof OLD - 1);
    }
    ck_assert(signal(SIGXFSZ, old_handler) != SIG_ERR);
    /* with the limit lifted the same save goes through */
    ck_assert_int_eq(s->save(obj, target), GD_OK);
    s->check_file(obj, target);
    s->destroy(obj);
}
END_TEST

/* A completed save is a new file renamed over the old one: a hard link to
 * the old file keeps the old bytes, the target gets a new inode with the
 * new contents, and nothing else is left in the folder. */
START_TEST(replaces_atomically)
{
    const saver *s = &SAVERS[_i];
    void *obj = s->make(LARGE[_i]);
    char target[160], link_path[160];
    path_in(target, sizeof target, "target");
    path_in(link_path, sizeof link_path, "old-link");
    write_bytes(target, OLD, sizeof OLD - 1);
    ck_assert_int_eq(link(target, link_path), 0);
    struct stat before, after;
    ck_assert_int_eq(stat(target, &before), 0);
    ck_assert_int_eq(s->save(obj, target), GD_OK);
    ck_assert_int_eq(stat(target, &after), 0);
    ck_assert(after.st_ino != before.st_ino);
    assert_file_is(link_path, OLD, sizeof OLD - 1);
    s->check_file(obj, target);
    char entries[256];
    listing(dir, entries, sizeof entries);
    ck_assert_str_eq(entries, "old-link|target|");
    /* saving again over the new file, and a save to a new name */
    ck_assert_int_eq(s->save(obj, target), GD_OK);
    char fresh[160];
    path_in(fresh, sizeof fresh, "fresh");
    ck_assert_int_eq(s->save(obj, fresh), GD_OK);
    s->check_file(obj, fresh);
    listing(dir, entries, sizeof entries);
    ck_assert_str_eq(entries, "fresh|old-link|target|");
    s->destroy(obj);
}
END_TEST

/* A path without a folder part saves into the working directory. */
START_TEST(relative_path)
{
    const saver *s = &SAVERS[_i];
    void *obj = s->make(SMALL[_i]);
    char cwd[512];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(dir), 0);
    const int rc = s->save(obj, "relative.out");
    if (rc == GD_OK)
        s->check_file(obj, "relative.out");
    ck_assert_int_eq(chdir(cwd), 0);
    ck_assert_int_eq(rc, GD_OK);
    char entries[256];
    listing(dir, entries, sizeof entries);
    ck_assert_str_eq(entries, "relative.out|");
    s->destroy(obj);
}
END_TEST

/* A refused save (bad arguments, nothing to save) does not touch the target. */
START_TEST(refused_save_keeps_target)
{
    char target[160];
    path_in(target, sizeof target, "target");
    write_bytes(target, OLD, sizeof OLD - 1);
    gd_plan *p = NULL;
    ck_assert_int_eq(gd_plan_create(&p, 2), GD_OK);
    ck_assert_int_eq(gd_plan_save(p, target), GD_ESTATE); /* not computed */
    ck_assert_int_eq(gd_plan_save(NULL, target), GD_EINVAL);
    ck_assert_int_eq(gd_fisher_save(NULL, target), GD_EINVAL);
    gd_plan_destroy(p);
    assert_file_is(target, OLD, sizeof OLD - 1);
    char entries[256];
    listing(dir, entries, sizeof entries);
    ck_assert_str_eq(entries, "target|");
}
END_TEST

/* A target name at the 255-byte limit of a file name saves too: the
 * temporary file's name must not be derived by lengthening the target's. */
START_TEST(longest_file_name)
{
    const saver *s = &SAVERS[_i];
    void *obj = s->make(SMALL[_i]);
    char name[256], target[512];
    memset(name, 'a', 255);
    name[255] = '\0';
    path_in(target, sizeof target, name);
    ck_assert_int_eq(s->save(obj, target), GD_OK);
    s->check_file(obj, target);
    ck_assert_int_eq(unlink(target), 0);
    s->destroy(obj);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_loop_test(tc, missing_directory, 0, N_SAVERS);
    tcase_add_loop_test(tc, directory_component_is_a_file, 0, N_SAVERS);
    tcase_add_loop_test(tc, target_is_a_directory, 0, N_SAVERS);
    tcase_add_loop_test(tc, proc_paths, 0, N_SAVERS);
    tcase_add_loop_test(tc, full_disk, 0, N_SAVERS);
    tcase_add_loop_test(tc, replaces_atomically, 0, N_SAVERS);
    tcase_add_loop_test(tc, relative_path, 0, N_SAVERS);
    tcase_add_loop_test(tc, longest_file_name, 0, N_SAVERS);
    tcase_add_test(tc, refused_save_keeps_target);
}

int main(void)
{
    const tu_case core = {.name = "core", .add_tests = add_tests, .timeout = 120,
                          .setup = setup, .teardown = teardown};
    return tu_run_cases("durable", &core, 1);
}

/*
 * What saves and loads do with paths that are not plain files, and with
 * the process's umask (issue 16, items 2, 3 and 10):
 *   - a save refuses (GD_EIO) any target but a regular file or nothing: a
 *     character device, a FIFO, a symlink (to a file, or dangling) and a
 *     directory are left exactly as they were, and no temporary file stays;
 *   - a load of a FIFO (or a device or directory) is GD_EIO at once, never
 *     a wait for a writer (alarm() turns a hang into a failure);
 *   - a new file gets the mode the umask gives (0666 & ~umask), a replaced
 *     one keeps its own mode;
 *   - a plan line of exactly GD_LINE_MAX bytes loads with either line
 *     ending ("\n" or "\r\n"); one byte more does not.
 */
#define _XOPEN_SOURCE 700 /* mknod, S_IFCHR */

#include "test_util.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static char dir[64];

static void setup(void)
{
    tu_tmpdir_make(dir, sizeof dir, "gd_robust_files");
    alarm(20); /* a load or save that blocks on a FIFO fails the test */
}

static void teardown(void)
{
    alarm(0);
    tu_tmpdir_remove(dir);
}

static void path_in(char *out, size_t cap, const char *rel)
{
    const int n = snprintf(out, cap, "%s/%s", dir, rel);
    ck_assert(n > 0 && (size_t)n < cap);
}

static gd_fisher *small_fisher(void)
{
    gd_fisher *f = NULL;
    const float g[3] = {1.0f, 2.0f, 0.5f};
    ck_assert_int_eq(gd_fisher_create(&f), GD_OK);
    ck_assert_int_eq(gd_fisher_add_tensor(f, "w", 3, 0, NULL), GD_OK);
    ck_assert_int_eq(gd_fisher_accumulate(f, 0, g, 1.0f), GD_OK);
    return f;
}

static gd_plan *small_plan(void)
{
    gd_plan *p = NULL;
    const float s[2] = {1.0f, 2.0f};
    ck_assert_int_eq(gd_plan_create(&p, 2), GD_OK);
    ck_assert_int_eq(gd_plan_set_scores(p, s, 2), GD_OK);
    ck_assert_int_eq(gd_plan_compute(p, GD_RULE_RANK_LINEAR, 0.1f, 0.0f), GD_OK);
    return p;
}

/* Both savers to path: GD_EIO, and dir holds as many entries as before. */
static void both_saves_refused(const char *path)
{
    gd_fisher *f = small_fisher();
    gd_plan *p = small_plan();
    const size_t before = tu_dir_entries(dir);
    ck_assert_int_eq(gd_fisher_save(f, path), GD_EIO);
    ck_assert_int_eq(gd_plan_save(p, path), GD_EIO);
    ck_assert_uint_eq(tu_dir_entries(dir), before);
    gd_fisher_destroy(f);
    gd_plan_destroy(p);
}

static mode_t lmode(const char *path)
{
    struct stat st;
    ck_assert_int_eq(lstat(path, &st), 0);
    return st.st_mode;
}

START_TEST(save_refuses_fifo)
{
    char path[128];
    path_in(path, sizeof path, "fifo");
    ck_assert_int_eq(mkfifo(path, 0644), 0);
    both_saves_refused(path);
    ck_assert(S_ISFIFO(lmode(path)));
}
END_TEST

/* A copy of /dev/null made with mknod: needs CAP_MKNOD (CI runs as root);
 * without it the check is skipped, not passed. */
START_TEST(save_refuses_device)
{
    char path[128];
    path_in(path, sizeof path, "null");
    if (mknod(path, S_IFCHR | 0666, makedev(1, 3)) != 0) {
        ck_assert_int_eq(errno, EPERM);
        fprintf(stderr, "save_refuses_device: no CAP_MKNOD, skipped\n");
        return;
    }
    both_saves_refused(path);
    ck_assert(S_ISCHR(lmode(path)));
}
END_TEST

START_TEST(save_refuses_symlinks)
{
    char target[128], link[128], dangling[128], sub[128];
    static const char OLD[] = "old contents\n";
    path_in(target, sizeof target, "target");
    path_in(link, sizeof link, "link");
    path_in(dangling, sizeof dangling, "dangling");
    path_in(sub, sizeof sub, "subdir");
    ck_assert_int_eq(tu_write_file(target, OLD, sizeof OLD - 1), 0);
    ck_assert_int_eq(symlink("target", link), 0);
    ck_assert_int_eq(symlink("nowhere", dangling), 0);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    both_saves_refused(link);
    both_saves_refused(dangling);
    both_saves_refused(sub);
    ck_assert(S_ISLNK(lmode(link)) && S_ISLNK(lmode(dangling)) && S_ISDIR(lmode(sub)));
    size_t n;
    char *b = tu_read_file(target, &n);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(n, sizeof OLD - 1);
    ck_assert_mem_eq(b, OLD, n);
    free(b);
    char nowhere[128];
    path_in(nowhere, sizeof nowhere, "nowhere");
    ck_assert_int_eq(access(nowhere, F_OK), -1);
}
END_TEST

START_TEST(load_refuses_fifo_at_once)
{
    char path[128];
    path_in(path, sizeof path, "fifo");
    ck_assert_int_eq(mkfifo(path, 0644), 0);
    gd_fisher *f = (gd_fisher *)&dir; /* sentinel: must stay */
    gd_plan *p = (gd_plan *)&dir;
    ck_assert_int_eq(gd_fisher_load(&f, path), GD_EIO);
    ck_assert_int_eq(gd_plan_load(&p, path), GD_EIO);
    ck_assert_ptr_eq(f, (gd_fisher *)&dir);
    ck_assert_ptr_eq(p, (gd_plan *)&dir);
    /* a directory too */
    ck_assert_int_eq(gd_fisher_load(&f, dir), GD_EIO);
    ck_assert_int_eq(gd_plan_load(&p, dir), GD_EIO);
    /* and a device, when one can be made */
    path_in(path, sizeof path, "null");
    if (mknod(path, S_IFCHR | 0666, makedev(1, 3)) == 0) {
        ck_assert_int_eq(gd_fisher_load(&f, path), GD_EIO);
        ck_assert_int_eq(gd_plan_load(&p, path), GD_EIO);
    }
}
END_TEST

/* A loader still reads a regular file through a symlink. */
START_TEST(load_follows_symlink)
{
    char path[128], link[128];
    path_in(path, sizeof path, "plan");
    path_in(link, sizeof link, "plan.link");
    gd_plan *p = small_plan(), *back = NULL;
    ck_assert_int_eq(gd_plan_save(p, path), GD_OK);
    ck_assert_int_eq(symlink("plan", link), 0);
    ck_assert_int_eq(gd_plan_load(&back, link), GD_OK);
    gd_plan_destroy(back);
    gd_plan_destroy(p);
}
END_TEST

static mode_t saved_mode(const char *name, mode_t mask, const mode_t *old)
{
    char path[128];
    path_in(path, sizeof path, name);
    if (old) {
        ck_assert_int_eq(tu_write_file(path, "x", 1), 0);
        ck_assert_int_eq(chmod(path, *old), 0);
    }
    gd_fisher *f = small_fisher();
    const mode_t prev = umask(mask);
    const int rc = gd_fisher_save(f, path);
    umask(prev);
    gd_fisher_destroy(f);
    ck_assert_int_eq(rc, GD_OK);
    return lmode(path) & 07777;
}

START_TEST(new_files_honour_umask)
{
    ck_assert_uint_eq(saved_mode("a", 077, NULL), 0600);
    ck_assert_uint_eq(saved_mode("b", 022, NULL), 0644);
    ck_assert_uint_eq(saved_mode("c", 002, NULL), 0664);
    const mode_t old = 0640;
    ck_assert_uint_eq(saved_mode("d", 077, &old), 0640); /* a replaced file keeps its mode */
    const mode_t old2 = 0604;
    ck_assert_uint_eq(saved_mode("e", 022, &old2), 0604);
}
END_TEST

/* A plan of one site whose line is padded with blanks to len bytes. */
static int load_line_of(size_t len, const char *ending)
{
    char path[128], line[2048];
    path_in(path, sizeof path, "line.plan");
    const char *body = "0 name 1 0.5";
    const size_t b = strlen(body);
    ck_assert_uint_ge(len, b);
    memcpy(line, body, b);
    memset(line + b, ' ', len - b); /* trailing blanks are allowed */
    memcpy(line + len, ending, strlen(ending));
    ck_assert_int_eq(tu_write_file(path, line, len + strlen(ending)), 0);
    gd_plan *p = NULL;
    const int rc = gd_plan_load(&p, path);
    gd_plan_destroy(p);
    return rc;
}

START_TEST(plan_line_limit_same_for_crlf)
{
    ck_assert_int_eq(load_line_of(1024, "\n"), GD_OK);
    ck_assert_int_eq(load_line_of(1024, "\r\n"), GD_OK);
    ck_assert_int_eq(load_line_of(1024, ""), GD_OK);
    ck_assert_int_eq(load_line_of(1025, "\n"), GD_EFORMAT);
    ck_assert_int_eq(load_line_of(1025, "\r\n"), GD_EFORMAT);
    ck_assert_int_eq(load_line_of(1025, ""), GD_EFORMAT);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, save_refuses_fifo);
    tcase_add_test(tc, save_refuses_device);
    tcase_add_test(tc, save_refuses_symlinks);
    tcase_add_test(tc, load_refuses_fifo_at_once);
    tcase_add_test(tc, load_follows_symlink);
    tcase_add_test(tc, new_files_honour_umask);
    tcase_add_test(tc, plan_line_limit_same_for_crlf);
}

int main(void)
{
    return tu_run("robust_files", add_tests, 60);
}

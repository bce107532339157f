/*
 * Fuzz target: the gdropout-plan tool's input path (tools/gdropout_plan.c:
 * format detection, the scores-file parser, the Fisher-file path, the plan
 * it writes).  The tool's own source is compiled into this target with
 * main renamed to gdropout_plan_main (it keeps no global state and never
 * calls exit), so it runs in process with full coverage.
 *
 * The first input byte picks the options (rule, reduction, input format,
 * p_max / p_min among valid pairs); the rest is the input file.
 *
 * Invariants (__builtin_trap on violation): exit status 0 or 1 (never a
 * usage error, the options are valid); on 0 the plan file loads with
 * gd_plan_load, has at least one site and every probability lies in
 * [p_min, p_max]; on 1 no plan file is written.  The same input through a
 * pipe as stdin ("-"; inputs up to the 64 KiB a pipe holds) gives the same
 * exit status and a byte-identical plan file: the tool reads its input once,
 * whatever it is.
 */
#define _POSIX_C_SOURCE 200809L
#include "fuzz_files.h"

#include <gdropout/gdropout.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int gdropout_plan_main(int argc, char **argv);

/* The tool on data[0 .. size) as stdin through a pipe; its exit status. */
static int run_on_pipe(char **argv, int argc, const uint8_t *data, size_t size)
{
    int p[2];
    if (pipe(p) != 0)
        abort(); /* the harness cannot run: not a finding */
    /* an empty pipe takes 64 KiB without blocking (pipe(7)) */
    if (size && write(p[1], data, size) != (ssize_t)size)
        abort();
    close(p[1]);
    const int saved = dup(STDIN_FILENO);
    if (saved < 0 || dup2(p[0], STDIN_FILENO) < 0)
        abort();
    close(p[0]);
    const int rc = gdropout_plan_main(argc, argv);
    if (dup2(saved, STDIN_FILENO) < 0)
        abort();
    close(saved);
    return rc;
}

static bool same_files(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    while (same) {
        const int ca = getc(fa), cb = getc(fb);
        same = ca == cb;
        if (ca == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const rules[] = {"rank-linear", "uniform", "score-linear",
                                        "log-score-linear"};
    static const char *const reduces[] = {"tensor-mean", "element-mean", "sum", "max"};
    static const char *const formats[] = {"auto", "fisher", "scores", "auto"};
    static const char *const p_pairs[][2] = {{"0.1", "0"}, {"0.5", "0.125"}, {"1", "0"},
                                             {"0", "0"}};
    static const float p_vals[][2] = {{0.1f, 0.0f}, {0.5f, 0.125f}, {1.0f, 0.0f}, {0.0f, 0.0f}};
    const uint8_t opt = size ? data[0] : 0;
    char in[128], out[128];
    fuzz_write(in, "in", size ? data + 1 : data, size ? size - 1 : 0);
    fuzz_path(out, "out");
    unlink(out);

    /* argv strings the tool may keep pointers to: copies that outlive it */
    char a_rule[32], a_red[32], a_fmt[32], a_pmax[8], a_pmin[8];
    snprintf(a_rule, sizeof a_rule, "%s", rules[opt & 3]);
    snprintf(a_red, sizeof a_red, "%s", reduces[(opt >> 2) & 3]);
    snprintf(a_fmt, sizeof a_fmt, "%s", formats[(opt >> 4) & 3]);
    snprintf(a_pmax, sizeof a_pmax, "%s", p_pairs[(opt >> 6) & 3][0]);
    snprintf(a_pmin, sizeof a_pmin, "%s", p_pairs[(opt >> 6) & 3][1]);
    char prog[] = "gdropout-plan", q[] = "-q", r[] = "-r", red[] = "--reduce",
         fmt[] = "--input-format", pmax[] = "--p-max", pmin[] = "--p-min", o[] = "-o";
    char *argv[] = {prog, q,    r,     a_rule, red, a_red, fmt, a_fmt, pmax,
                    a_pmax, pmin, a_pmin, o,     out, in,    NULL};
    const int argc = (int)(sizeof argv / sizeof argv[0]) - 1;

    const int rc = gdropout_plan_main(argc, argv);
    FUZZ_CHECK(rc == 0 || rc == 1);
    const size_t body = size ? size - 1 : 0;
    if (body <= 65536) {
        char out2[128], dash[] = "-";
        fuzz_path(out2, "out2");
        unlink(out2);
        char *argv2[sizeof argv / sizeof argv[0]];
        memcpy(argv2, argv, sizeof argv);
        argv2[argc - 2] = out2;
        argv2[argc - 1] = dash;
        const int rc2 = run_on_pipe(argv2, argc, size ? data + 1 : data, body);
        FUZZ_CHECK(rc2 == rc);
        FUZZ_CHECK(rc != 0 || same_files(out, out2));
        unlink(out2);
    }
    if (rc != 0) {
        FUZZ_CHECK(access(out, F_OK) != 0);
        return 0;
    }
    gd_plan *p = NULL;
    FUZZ_CHECK(gd_plan_load(&p, out) == GD_OK);
    size_t n = 0;
    FUZZ_CHECK(gd_plan_size(p, &n) == GD_OK && n >= 1);
    const float hi = p_vals[(opt >> 6) & 3][0], lo = p_vals[(opt >> 6) & 3][1];
    for (size_t i = 0; i < n; i++) {
        float prob;
        FUZZ_CHECK(gd_plan_get(p, i, &prob) == GD_OK);
        FUZZ_CHECK(prob >= lo && prob <= hi);
    }
    gd_plan_destroy(p);
    return 0;
}

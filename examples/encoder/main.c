/*
 * encoder: a small BERT-style encoder trainer on libgdropout.
 *
 *   encoder pretrain   masked-LM pretraining on WordNet glosses
 *   encoder fisher     the MLM Fisher per dropout site, and the guided plan
 *   encoder finetune   fine-tune on a task with a dropout regime
 *   encoder speed      tokens per second, and the share of sgemm and libgdropout
 *
 * `encoder COMMAND --help` lists each command's flags.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "util.h"

/* A report lost on a full disk is a failure too (the files themselves are
 * checked where they are written). */
static void check_stdout(void)
{
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout))
        enc_die("standard output: write failed%s%s", errno ? ": " : "",
                errno ? strerror(errno) : "");
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
        const char *what;
    } cmds[] = {
        {"pretrain", enc_cmd_pretrain, "masked-LM pretraining on WordNet glosses"},
        {"fisher", enc_cmd_fisher, "MLM Fisher per dropout site and the guided plan"},
        {"finetune", enc_cmd_finetune, "fine-tune on a task under a dropout regime"},
        {"experiment", enc_cmd_experiment, "every regime, fraction and seed: the comparison"},
        {"speed", enc_cmd_speed, "tokens/s and where step time goes"},
        {"dump", enc_cmd_dump, "one step's inputs, dropout multipliers and gradients"},
    };
    const size_t n = sizeof cmds / sizeof *cmds;
    if (argc >= 2)
        for (size_t i = 0; i < n; i++)
            if (strcmp(argv[1], cmds[i].name) == 0) {
                const int rc = cmds[i].run(argc, argv);
                check_stdout();
                return rc;
            }
    int help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
    FILE *out = help ? stdout : stderr;
    if (argc >= 2 && !help)
        fprintf(stderr, "encoder: unknown command \"%s\"\n", argv[1]);
    fprintf(out, "usage: encoder COMMAND [flags]   (encoder COMMAND --help for its flags)\n");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-10s %s\n", cmds[i].name, cmds[i].what);
    check_stdout();
    return help ? 0 : 1;
}

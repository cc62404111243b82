/*
 * stackheap.c -- the command-line tool's entry point: which command runs.
 *
 *   stackheap tour            the library working on this machine (tour/)
 *   stackheap run ... -- P    a program on stackheap, check mode optional (run.c)
 *   stackheap version, help
 *   stackheap __demo NAME     not for people: a buggy program that the tour's
 *                             check-mode section runs as a child (tour/check_mode.c)
 *
 * A command that returns here (all but run, which replaces the process) has
 * its output flushed: a failed write to stdout makes the exit status 1.
 */
#define _GNU_SOURCE
#include "stackheap.h"
#include "tour/tour.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int run_usage(FILE *to);
int run_command(int argc, char **argv);

static void usage(FILE *to)
{
    fprintf(to, "usage: stackheap <command>\n"
                "\n"
                "commands:\n"
                "  tour          show the library working on this machine (a few screens)\n"
                "  run [options] -- PROGRAM [ARGS...]\n"
                "                run a program on stackheap; --check finds its leaks, bad frees,\n"
                "                overruns and writes after free (stackheap run --help)\n"
                "  version       print the version (also --version)\n"
                "  help          print this help (also --help, -h)\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    int rc;
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        rc = 0;
    } else if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("stackheap %s\n", SH_VERSION_STRING);
        rc = 0;
    } else if (strcmp(cmd, "__demo") == 0 && argc == 3) { /* the tour's check-mode demos */
        return tour_demo(argv[2]);
    } else if (strcmp(cmd, "run") == 0) {
        if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
            run_usage(stdout);
            return 0;
        }
        return run_command(argc - 1, argv + 1);
    } else if (strcmp(cmd, "tour") == 0) {
        if (argc > 2) {
            fprintf(stderr, "stackheap: tour takes no arguments (got '%s')\n", argv[2]);
            usage(stderr);
            return 2;
        }
        rc = tour_run();
    } else {
        fprintf(stderr, "stackheap: unknown command '%s'\n", cmd);
        usage(stderr);
        return 2;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "stackheap: cannot write the output: %s\n", strerror(errno));
        return 1;
    }
    return rc;
}

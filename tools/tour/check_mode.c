/*
 * check_mode.c -- the tour's section on manual management: a heap block
 * lives until freed, and check mode finds the one a program forgot.  Two
 * small buggy programs (`stackheap __demo leak`, `stackheap __demo
 * double-free`) run in check mode, their reports shown as they come.
 *
 * The programs are this tool itself, executed again from /proc/self/exe with
 * STACKHEAP_CHECK=1, so the reports name this file's functions and lines.
 */
#define _GNU_SOURCE
#include "tour.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The buggy programs the tour runs in check mode (`stackheap __demo NAME`). */
__attribute__((noinline)) static char *copy_name(const char *name)
{
    char *copy = malloc(strlen(name) + 1); /* never freed: the leak */
    if (copy != NULL)
        strcpy(copy, name);
    return copy;
}

/* noipa: the compiler must not see that the buffer is freed twice (or at all) */
__attribute__((noipa)) static void release_buffer(char *buf)
{
    free(buf);
}

__attribute__((noinline)) int tour_demo(const char *name)
{
    if (strcmp(name, "leak") == 0) {
        char *title = copy_name("a title nobody frees");
        printf("demo: %s\n", title != NULL ? title : "?");
        fflush(stdout);
        title = NULL; /* the last pointer to it is gone */
        return 0;
    }
    if (strcmp(name, "double-free") == 0) {
        char *buf = malloc(48);
        release_buffer(buf);
        release_buffer(buf); /* the second free */
        return 0;
    }
    return 2;
}

/* Run `stackheap __demo NAME` with STACKHEAP_CHECK=1; its reports go into
   out (stderr and stdout together).  Returns its wait status, or -1. */
static int run_demo(const char *name, char *out, size_t cap)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fd[1], 1);
        dup2(fd[1], 2);
        close(fd[0]);
        close(fd[1]);
        setenv("STACKHEAP_CHECK", "1", 1);
        setenv("STACKHEAP_CHECK_EXITCODE", "3", 1); /* not an abort: no core dump */
        execl("/proc/self/exe", "stackheap", "__demo", name, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    size_t len = 0;
    for (ssize_t n; len + 1 < cap && (n = read(fd[0], out + len, cap - 1 - len)) != 0;)
        if (n > 0)
            len += (size_t)n;
        else if (errno != EINTR)
            break;
    out[len] = '\0';
    close(fd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return status;
}

static void print_indented(const char *text)
{
    for (const char *line = text; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        int n = nl != NULL ? (int)(nl - line) : (int)strlen(line);
        printf("  | %.*s\n", n, line);
        line = nl != NULL ? nl + 1 : line + n;
    }
}

int tour_check_mode(void)
{
    tour_heading("Manual management: a forgotten free, found by check mode");
    printf("  A heap block lives until it is freed, as the sections above showed, so\n"
           "  freeing it is the program's job; the seed warns: \"if memory is not\n"
           "  freed, it can lead to memory leaks\".  `stackheap run --check -- PROGRAM`\n"
           "  (or STACKHEAP_CHECK=1) runs any program on stackheap's check mode, which\n"
           "  turns that warning into a report.  Two small buggy programs, run here in\n"
           "  check mode (build with -g for line numbers):\n\n");
    if (!tour_malloc_is_stackheap()) {
        printf("  Not in this build: its malloc is not stackheap's (SH_OVERRIDE is off, as\n"
               "  in sanitizer builds, whose runtime owns malloc), so a program's malloc\n"
               "  and free never reach check mode.  A default build shows it here.\n");
        return 0;
    }
    static char out[16384];
    int bad = 0;
    printf("  copy_name() mallocs a copy that its caller drops:\n");
    int st = run_demo("leak", out, sizeof out);
    print_indented(out);
    /* "stackheap: leak: 21 bytes in 1 block definitely lost ..." */
    const char *leak = strstr(out, "leak: ");
    if (leak == NULL || sscanf(leak, "leak: %zu bytes", &tour_measured.leak_bytes) != 1)
        tour_measured.leak_bytes = 0;
    if (st < 0 || strstr(out, "definitely lost") == NULL || strstr(out, "copy_name") == NULL ||
        tour_measured.leak_bytes == 0)
        bad |= tour_failed("check mode did not report the leak in copy_name");
    printf("\n  a 48-byte buffer freed twice:\n");
    st = run_demo("double-free", out, sizeof out);
    print_indented(out);
    if (st < 0 || strstr(out, "double free") == NULL || strstr(out, "first freed at") == NULL)
        bad |= tour_failed("check mode did not catch the double free");
    printf("\n  Check mode costs nothing when off: it is reached only through the\n"
           "  allocator's slow paths.\n");
    return bad;
}

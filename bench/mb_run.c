/*
 * mb_run.c -- run one command and measure it from outside, for
 * bench/mimalloc_bench.sh (which cannot count on /usr/bin/time being there).
 *
 *   mb_run [-t SECONDS] [-i FILE] [-o FILE] [-e NAME=VALUE]... -- PROGRAM [ARG]...
 *       fork and exec PROGRAM (searched in PATH) with stdin from FILE (default
 *       /dev/null) and stdout and stderr to FILE (default /dev/null), with
 *       LD_PRELOAD removed from its environment and each NAME=VALUE added; wait
 *       for it with wait4 and print one line:
 *           STATUS DETAIL WALL_SECONDS MAXRSS_KIB
 *       STATUS is ok (DETAIL 0), exit (DETAIL: the non-zero exit status),
 *       signal (DETAIL: the signal number) or timeout (DETAIL: the limit in
 *       seconds; the child was killed with SIGKILL after -t SECONDS, default
 *       600).  MAXRSS_KIB is the child's ru_maxrss.  A program that cannot be
 *       executed is reported as exit 127 (the reason is in the -o file).
 *       mb_run exits 0 when it printed that line, 2 on a usage or system error.
 *
 *   mb_run --probe LIB
 *       exit 0 when a process started with LD_PRELOAD=LIB calls LIB's malloc
 *       (a missing library, one the dynamic linker refuses, or one that does
 *       not define malloc would otherwise be measured as glibc); else print
 *       why and exit 1.
 *
 * mb_run itself is never preloaded: only the child gets the allocator.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MAX_ENV = 16 };

static const char *self = "mb_run";

static void die(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", self, what, strerror(errno));
    exit(2);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: %s [-t SECONDS] [-i FILE] [-o FILE] [-e NAME=VALUE]... -- PROGRAM [ARG]...\n"
            "       %s --probe LIB\n",
            self, self);
    exit(2);
}

static double now_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        die("clock_gettime");
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* In the child: point fd at path (opened with flags) or die with exit 127. */
static void redirect(int fd, const char *path, int flags)
{
    int f = open(path, flags, 0644);
    if (f < 0 || dup2(f, fd) < 0) {
        fprintf(stderr, "%s: %s: %s\n", self, path, strerror(errno));
        _exit(127);
    }
    if (f != fd)
        close(f);
}

/* The --probe child: is the malloc this process binds LIB's own? */
static int probe_child(const char *lib)
{
    void *sym = dlsym(RTLD_DEFAULT, "malloc");
    Dl_info info;
    char got[PATH_MAX], want[PATH_MAX];
    if (realpath(lib, want) == NULL) {
        printf("%s: %s\n", lib, strerror(errno));
        return 1;
    }
    if (sym == NULL || dladdr(sym, &info) == 0 || info.dli_fname == NULL ||
        realpath(info.dli_fname, got) == NULL) {
        printf("%s: cannot tell which library malloc comes from\n", lib);
        return 1;
    }
    if (strcmp(got, want) != 0) {
        printf("%s: preloading it does not replace malloc (malloc is %s's)\n", lib, got);
        return 1;
    }
    return 0;
}

static int probe(const char *lib)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0)
        die("readlink /proc/self/exe");
    exe[n] = '\0';
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        if (setenv("LD_PRELOAD", lib, 1) != 0)
            _exit(2);
        execl(exe, exe, "--probe-child", lib, (char *)NULL);
        _exit(2);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            die("waitpid");
    if (WIFEXITED(st))
        return WEXITSTATUS(st) == 0 ? 0 : 1;
    printf("%s: the probe died with signal %d\n", lib, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--probe") == 0)
        return probe(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--probe-child") == 0)
        return probe_child(argv[2]);

    const char *in = "/dev/null", *out = "/dev/null";
    const char *env[MAX_ENV];
    int nenv = 0;
    long timeout_s = 600;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (strcmp(a, "-t") == 0) {
            char *end;
            timeout_s = strtol(v, &end, 10);
            if (*end != '\0' || timeout_s <= 0)
                usage();
        } else if (strcmp(a, "-i") == 0) {
            in = v;
        } else if (strcmp(a, "-o") == 0) {
            out = v;
        } else if (strcmp(a, "-e") == 0) {
            if (strchr(v, '=') == NULL || nenv == MAX_ENV)
                usage();
            env[nenv++] = v;
        } else {
            usage();
        }
    }
    if (i >= argc)
        usage();

    /* SIGCHLD blocked and at its default (not ignored, which would reap the
       child for us): sigtimedwait then waits for the child's exit or the limit. */
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (signal(SIGCHLD, SIG_DFL) == SIG_ERR || sigprocmask(SIG_BLOCK, &chld, &old) != 0)
        die("SIGCHLD");

    double start = now_s();
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        redirect(STDIN_FILENO, in, O_RDONLY);
        redirect(STDOUT_FILENO, out, O_WRONLY | O_CREAT | O_TRUNC);
        if (dup2(STDOUT_FILENO, STDERR_FILENO) < 0)
            _exit(127);
        unsetenv("LD_PRELOAD");
        for (int e = 0; e < nenv; e++)
            if (putenv((char *)env[e]) != 0)
                _exit(127);
        execvp(argv[i], &argv[i]);
        fprintf(stderr, "%s: cannot execute %s: %s\n", self, argv[i], strerror(errno));
        _exit(127);
    }

    struct timespec limit = {.tv_sec = timeout_s, .tv_nsec = 0};
    double deadline = start + (double)timeout_s;
    int st = 0;
    struct rusage ru;
    int timed_out = 0;
    for (;;) {
        pid_t r = wait4(pid, &st, WNOHANG, &ru);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            die("wait4");
        double left = deadline - now_s();
        if (left <= 0) {
            kill(pid, SIGKILL);
            timed_out = 1;
            while (wait4(pid, &st, 0, &ru) < 0)
                if (errno != EINTR)
                    die("wait4");
            break;
        }
        limit.tv_sec = (time_t)left;
        limit.tv_nsec = (long)((left - (double)limit.tv_sec) * 1e9);
        if (sigtimedwait(&chld, NULL, &limit) < 0 && errno != EAGAIN && errno != EINTR)
            die("sigtimedwait");
    }
    double wall = now_s() - start;

    const char *status = "ok";
    long detail = 0;
    if (timed_out) {
        status = "timeout";
        detail = timeout_s;
    } else if (WIFSIGNALED(st)) {
        status = "signal";
        detail = WTERMSIG(st);
    } else if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
        status = "exit";
        detail = WEXITSTATUS(st);
    }
    printf("%s %ld %.6f %ld\n", status, detail, wall, (long)ru.ru_maxrss);
    return 0;
}

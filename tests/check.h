/*
 * check.h -- the tests' tiny harness (header only, nothing to install).
 *
 *   CHECK(cond)                 fail with the condition's text
 *   CHECK_EQ_U(a, b)            unsigned comparison, prints both values
 *   CHECK_EQ_PTR(a, b)          pointer comparison
 *   RUN(fn)                     run one test function, count it
 *   expect_death(fn, arg, msg)  run fn(arg) in a child process; pass if the
 *                               child is killed by SIGABRT and its stderr
 *                               contains msg
 *   return check_report();      in main: prints "N passed, N failed"
 *   rss_bytes()                 resident set size now, from /proc/self/statm
 *
 * A failing CHECK reports file:line and what was expected and what came,
 * marks the current test failed and returns from it.
 */
#ifndef SH_TEST_CHECK_H
#define SH_TEST_CHECK_H

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int check_passed __attribute__((unused)), check_failed __attribute__((unused));
static bool check_current_failed __attribute__((unused));
static const char *check_current __attribute__((unused)) = "";

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s (%s:%d): expected %s\n", check_current, __FILE__, __LINE__,   \
                    #cond);                                                                        \
            check_current_failed = true;                                                           \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_U(a, b)                                                                           \
    do {                                                                                           \
        unsigned long long check_a_ = (unsigned long long)(a);                                     \
        unsigned long long check_b_ = (unsigned long long)(b);                                     \
        if (check_a_ != check_b_) {                                                                \
            fprintf(stderr, "FAIL %s (%s:%d): expected %s == %s, got %llu and %llu\n",             \
                    check_current, __FILE__, __LINE__, #a, #b, check_a_, check_b_);                \
            check_current_failed = true;                                                           \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_PTR(a, b)                                                                         \
    do {                                                                                           \
        const void *check_a_ = (const void *)(a);                                                  \
        const void *check_b_ = (const void *)(b);                                                  \
        if (check_a_ != check_b_) {                                                                \
            fprintf(stderr, "FAIL %s (%s:%d): expected %s == %s, got %p and %p\n", check_current,  \
                    __FILE__, __LINE__, #a, #b, check_a_, check_b_);                               \
            check_current_failed = true;                                                           \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        check_current = #fn;                                                                       \
        check_current_failed = false;                                                              \
        fn();                                                                                      \
        if (check_current_failed) {                                                                \
            check_failed++;                                                                        \
        } else {                                                                                   \
            check_passed++;                                                                        \
            printf("ok   %s\n", #fn);                                                              \
        }                                                                                          \
        fflush(stdout);                                                                            \
    } while (0)

/*
 * Run fn(arg) in a child.  True if the child died of SIGABRT and wrote a
 * line containing `message` to stderr; otherwise prints what happened.
 */
static inline bool check_dies_with(void (*fn)(void *), void *arg, const char *message)
{
    int pipefd[2];
    if (pipe(pipefd) != 0)
        return false;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        close(pipefd[0]);
        dup2(pipefd[1], 2);
        signal(SIGABRT, SIG_DFL);
        fn(arg);
        _exit(0); /* fn returned: it did not abort */
    }
    close(pipefd[1]);
    char err[4096];
    size_t len = 0;
    ssize_t n;
    while ((n = read(pipefd[0], err + len, sizeof err - 1 - len)) > 0)
        len += (size_t)n;
    err[len] = '\0';
    close(pipefd[0]);
    int status;
    waitpid(pid, &status, 0);
    bool aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    bool said = strstr(err, message) != NULL;
    if (!aborted || !said) {
        fprintf(stderr, "  child %s; expected stderr to contain \"%s\"; it said: \"%s\"\n",
                aborted               ? "aborted"
                : WIFSIGNALED(status) ? "died of another signal"
                                      : "exited normally",
                message, err);
    }
    return aborted && said;
}

#define CHECK_DIES(fn, arg, message) CHECK(check_dies_with((fn), (arg), (message)))

/* Address space of this process (VmSize), in bytes, from /proc/self/status
   (0 if unreadable). */
static inline size_t vm_size_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return 0;
    char line[256];
    size_t kib = 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmSize: %zu kB", &kib) == 1)
            break;
    fclose(f);
    return kib * 1024;
}

/* Resident set size of this process, from /proc/self/statm (0 if unreadable). */
/* Set to 1 by the build when a sanitizer runs with the test (tests/heap.cmake). */
#ifndef SH_WITH_ASAN
#define SH_WITH_ASAN 0
#endif
#ifndef SH_WITH_TSAN
#define SH_WITH_TSAN 0
#endif
/* False in a sanitizer build: the RSS then also holds the shadow of every
   byte the test touched, which the sanitizer keeps, so RSS bounds are
   printed but not checked. */
#define RSS_IS_THE_HEAPS_ALONE (!SH_WITH_ASAN && !SH_WITH_TSAN)

static inline size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    return n == 2 ? (size_t)resident * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

/*
 * p, hidden from the optimiser.  The allocation functions are declared
 * __attribute__((malloc)), so GCC may fold comparisons between their results
 * (or with other objects, even a buffer an overflow handler returned)
 * without running them, and warns about what it can see of them.
 */
static inline void *opaque(void *p)
{
    __asm__ volatile("" : "+r"(p)); /* p may now point anywhere, as far as GCC knows */
    return p;
}

/* A size the compiler cannot see, so that SIZE_MAX requests draw no warnings. */
static inline size_t runtime(size_t n)
{
    volatile size_t v = n;
    return v;
}

static inline int check_report(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed == 0 ? 0 : 1;
}

#endif /* SH_TEST_CHECK_H */

/*
 * count_alloc.c -- N calls of sh_stack_alloc in one loop, for instruction counts.
 *
 *   count_alloc N          run alloc_loop(N) once: for callgrind (bench/callgrind.sh
 *                          runs it with N and 2N under --toggle-collect=alloc_loop and
 *                          divides the difference by N) or for `perf stat`
 *   count_alloc --step N   count, by single-stepping a traced child with ptrace, the
 *                          user-mode instructions executed between two stops that
 *                          bracket alloc_loop(N); print the count.  It needs no
 *                          hardware counter and no Valgrind, so it sees the inline
 *                          fast path exactly as a program runs it.
 *   --empty                run empty_loop instead: the same loop without the
 *                          allocation, whose count is subtracted to leave the alloc's
 *                          own instructions
 *
 * alloc_loop is noinline and takes the size as an argument, so the compiler
 * cannot fold the size into the fast path.  Each block gets one byte written
 * and its address handed to an empty asm, so every allocation happens.  Per
 * iteration it runs one sh_stack_alloc plus the loop's own few instructions
 * (counter, compare, byte store); the N vs 2N difference cancels everything
 * done once (the frame's push and pop, stack creation, start-up).
 *
 * Under Valgrind the library sees the tool and sends every allocation to the
 * out-of-line path that marks memory (fast_end is 0); the program says which
 * path it ran on stderr, so the callgrind figure is never mistaken for the
 * fast path.
 */
#define _GNU_SOURCE
#include "stackheap.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

/* volatile: read at run time, so no constant of it can be propagated into alloc_loop */
static volatile size_t block_size = 16;

__attribute__((noinline)) size_t alloc_loop(sh_stack *s, size_t n, size_t size)
{
    size_t done = 0;
    sh_frame f = sh_stack_push(s);
    for (size_t i = 0; i < n; i++) {
        unsigned char *p = sh_stack_alloc(s, size);
        if (sh_unlikely(p == NULL))
            break;
        p[0] = (unsigned char)i;
        __asm__ volatile("" : : "r"(p));
        done++;
    }
    sh_stack_pop(s, f);
    return done;
}

/*
 * The same loop with the allocation replaced by an empty asm that hands back
 * an address the compiler cannot see through: what the loop costs by itself
 * (counter, compare, NULL test, byte store), to subtract from alloc_loop's.
 */
__attribute__((noinline)) size_t empty_loop(sh_stack *s, size_t n, size_t size)
{
    size_t done = 0;
    unsigned char *base = sh_stack_alloc(s, size);
    if (base == NULL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        __asm__ volatile("" : "+r"(base)); /* "allocate": base, as far as the compiler knows */
        unsigned char *p = base;
        if (sh_unlikely(p == NULL))
            break;
        p[0] = (unsigned char)i;
        __asm__ volatile("" : : "r"(p));
        done++;
    }
    return done;
}

static sh_stack *stack_for(size_t n)
{
    size_t cap;
    if (__builtin_mul_overflow(n, (size_t)block_size, &cap) ||
        __builtin_add_overflow(cap, 4096, &cap))
        return NULL;
    return sh_stack_new(cap);
}

/* Single-step the child from its first SIGSTOP to its second; returns the step count. */
static long long count_steps(pid_t child)
{
    int status;
    if (waitpid(child, &status, 0) < 0 || !WIFSTOPPED(status))
        return -1;
    long long steps = 0;
    for (;;) {
        if (ptrace(PTRACE_SINGLESTEP, child, NULL, NULL) != 0)
            return -1;
        if (waitpid(child, &status, 0) < 0)
            return -1;
        if (WIFEXITED(status) || WIFSIGNALED(status))
            return -1;
        if (WSTOPSIG(status) == SIGSTOP)
            break;
        if (WSTOPSIG(status) != SIGTRAP)
            return -1; /* an unexpected signal: give up rather than miscount */
        steps++;
    }
    ptrace(PTRACE_CONT, child, NULL, NULL);
    waitpid(child, &status, 0);
    return steps;
}

typedef size_t loop_fn(sh_stack *s, size_t n, size_t size);

static int step_mode(loop_fn *loop, size_t n)
{
    sh_stack *s = stack_for(n);
    if (s == NULL) {
        fprintf(stderr, "count_alloc: cannot create a stack for %zu blocks\n", n);
        return 1;
    }
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) {
        perror("count_alloc: fork");
        return 1;
    }
    if (child == 0) {
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0)
            _exit(3);
        raise(SIGSTOP);
        size_t done = loop(s, n, block_size);
        raise(SIGSTOP);
        _exit(done == n ? 0 : 4);
    }
    long long steps = count_steps(child);
    sh_stack_delete(s);
    if (steps < 0) {
        fprintf(stderr, "count_alloc: single-stepping failed (ptrace not permitted here?)\n");
        return 1;
    }
    printf("%lld\n", steps);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: count_alloc [--step] [--empty] N   (1 <= N <= 2^32)\n");
    return 2;
}

int main(int argc, char **argv)
{
    bool step = false;
    loop_fn *loop = alloc_loop;
    int i = 1;
    for (; i < argc - 1; i++) {
        if (strcmp(argv[i], "--step") == 0)
            step = true;
        else if (strcmp(argv[i], "--empty") == 0)
            loop = empty_loop;
        else
            return usage();
    }
    if (i != argc - 1)
        return usage();
    char *end;
    errno = 0;
    unsigned long long n = strtoull(argv[i], &end, 10);
    if (errno != 0 || *end != '\0' || n == 0 || n > (1ull << 32) || argv[i][0] == '-')
        return usage();
    if (step)
        return step_mode(loop, (size_t)n);

    sh_stack *s = stack_for((size_t)n);
    if (s == NULL) {
        fprintf(stderr, "count_alloc: cannot create a stack for %llu blocks\n", n);
        return 1;
    }
    /* fast_end is read here only to tell which path ran; it is never written */
    fprintf(stderr, "count_alloc: %llu iterations of %s on the %s path\n", n,
            loop == alloc_loop ? "alloc_loop" : "empty_loop",
            s->fast_end != 0 ? "inline fast" : "out-of-line (tools active)");
    size_t done = loop(s, (size_t)n, block_size);
    sh_stack_delete(s);
    return done == n ? 0 : 1;
}

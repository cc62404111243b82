/*
 * overflow.c -- the tour's overflow chapter: an allocation that does not
 * fit, under each of the four policies.
 *
 * The stacks here are 64 KiB and the request 100 KiB.  SH_OVERFLOW_ABORT is
 * shown in a forked child, so that the tour itself never aborts.
 */
#define _GNU_SOURCE
#include "tour.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define SMALL_CAPACITY (64 * KiB)
#define TOO_BIG (100 * KiB)

static int overflow_return_null(void)
{
    sh_stack *s = tour_new_stack(SMALL_CAPACITY, "small");
    if (s == NULL)
        return 1;
    sh_frame f = sh_stack_push(s);
    void *keep = sh_stack_alloc(s, 1000);
    sh_stack_stats before = tour_stack_stats(s);
    errno = 0;
    void *p = sh_stack_alloc(s, TOO_BIG);
    int err = errno;
    sh_stack_stats after = tour_stack_stats(s);
    printf("  SH_OVERFLOW_RETURN_NULL (the default): sh_stack_alloc(s, 100 KiB) on a 64 KiB\n"
           "  stack named \"small\" holding 1000 B:\n");
    printf("    %-22s %s, errno = %s (%s)\n", "result", p == NULL ? "NULL" : "a block",
           err == ENOMEM ? "ENOMEM" : "?", strerror(err));
    printf("    %-22s %zu B before, %zu B after: the stack is unchanged\n", "in use", before.in_use,
           after.in_use);
    printf("    %-22s %llu\n\n", "overflows counted", (unsigned long long)after.overflows);
    sh_stack_pop(s, f);
    sh_stack_delete(s);
    bool refused = keep != NULL && p == NULL && err == ENOMEM && after.in_use == before.in_use &&
                   after.overflows == 1;
    if (refused) {
        tour_measured.overflow_capacity = after.capacity;
        tour_measured.overflow_request = TOO_BIG;
    }
    if (!refused)
        return tour_failed("RETURN_NULL did not return NULL with ENOMEM and an unchanged stack");
    return 0;
}

/* The handler of SH_OVERFLOW_CALL: serve the request from a bigger reserve stack. */
typedef struct call_log {
    int calls;
    size_t size, align;
    int err;
} call_log;

static sh_stack *reserve_stack;

static void *serve_from_reserve(sh_stack *s, size_t size, size_t align, void *arg)
{
    (void)s;
    call_log *log = arg;
    log->calls++;
    log->size = size;
    log->align = align;
    log->err = errno;
    return sh_stack_alloc_aligned(reserve_stack, size, align);
}

static int overflow_call(void)
{
    sh_stack *s = tour_new_stack(SMALL_CAPACITY, "small");
    reserve_stack = tour_new_stack(1 * MiB, "reserve");
    if (s == NULL || reserve_stack == NULL) {
        sh_stack_delete(s);
        sh_stack_delete(reserve_stack);
        return 1;
    }
    call_log log = {0, 0, 0, 0};
    sh_stack_set_overflow(s, SH_OVERFLOW_CALL, serve_from_reserve, &log);
    sh_frame f = sh_stack_push(s);
    void *p = sh_stack_alloc(s, TOO_BIG);
    sh_stack_stats small = tour_stack_stats(s), reserve = tour_stack_stats(reserve_stack);
    printf("  SH_OVERFLOW_CALL: a handler installed with sh_stack_set_overflow(s,\n"
           "  SH_OVERFLOW_CALL, fn, arg) serves the same request from a 1 MiB \"reserve\":\n");
    printf("    %-22s %d time(s), size %zu, align %zu, errno %s on entry\n", "handler called",
           log.calls, log.size, log.align, log.err == ENOMEM ? "ENOMEM" : "?");
    printf("    %-22s %s\n", "result", p != NULL ? "the handler's block" : "NULL");
    printf("    %-22s %zu B on \"small\", %zu B on \"reserve\"\n\n", "in use", small.in_use,
           reserve.in_use);
    sh_stack_pop(s, f);
    sh_stack_delete(s);
    sh_stack_delete(reserve_stack);
    reserve_stack = NULL;
    if (log.calls != 1 || log.size != TOO_BIG || p == NULL || small.in_use != 0 ||
        reserve.in_use != TOO_BIG)
        return tour_failed("the handler was not called once with the request");
    return 0;
}

static int overflow_heap(void)
{
    sh_stack *s = tour_new_stack(SMALL_CAPACITY, "small");
    if (s == NULL)
        return 1;
    sh_stack_set_overflow(s, SH_OVERFLOW_HEAP, NULL, NULL);
    sh_stack_stats before = tour_stack_stats(s);
    sh_frame f = sh_stack_push(s);
    char *p = sh_stack_alloc(s, TOO_BIG);
    if (p != NULL)
        memset(p, 0xab, TOO_BIG);
    sh_stack_stats inside = tour_stack_stats(s);
    sh_stack_pop(s, f);
    sh_stack_stats after = tour_stack_stats(s);
    printf("  SH_OVERFLOW_HEAP: the block is served by the heap and released by the pop\n"
           "  of the enclosing frame, like any other block of that frame:\n");
    printf("    %-26s %11s %11s %10s\n", "", "heap_blocks", "heap_bytes", "in use");
    printf("    %-26s %11zu %11zu %10zu\n", "before", before.heap_blocks, before.heap_bytes,
           before.in_use);
    printf("    %-26s %11zu %11zu %10zu\n", "after alloc 100 KiB", inside.heap_blocks,
           inside.heap_bytes, inside.in_use);
    printf("    %-26s %11zu %11zu %10zu\n\n", "after sh_stack_pop", after.heap_blocks,
           after.heap_bytes, after.in_use);
    sh_stack_delete(s);
    if (p == NULL || inside.heap_blocks != 1 || inside.heap_bytes != TOO_BIG ||
        after.heap_blocks != 0 || after.heap_bytes != 0)
        return tour_failed("the heap fallback block was not served and released");
    return 0;
}

/* In a forked child: overflow under SH_OVERFLOW_ABORT; the child aborts, not the tool. */
static void abort_child(int err_fd)
{
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    dup2(err_fd, STDERR_FILENO);
    sh_stack *s = sh_stack_new(SMALL_CAPACITY);
    if (s == NULL)
        _exit(3);
    sh_stack_set_name(s, "small");
    sh_stack_set_overflow(s, SH_OVERFLOW_ABORT, NULL, NULL);
    void *p = sh_stack_alloc(s, TOO_BIG);
    (void)p;
    _exit(4); /* not reached: the overflow aborts */
}

static int overflow_abort(void)
{
    printf("  SH_OVERFLOW_ABORT: one line on stderr, then abort().  Run in a forked child:\n");
    int fds[2];
    fflush(NULL);
    if (pipe(fds) != 0)
        return tour_failed("pipe failed");
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return tour_failed("fork failed");
    }
    if (pid == 0) {
        close(fds[0]);
        abort_child(fds[1]);
    }
    close(fds[1]);
    char msg[1024];
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], msg + len, sizeof msg - 1 - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        len += (size_t)n;
        if (len == sizeof msg - 1)
            break;
    }
    msg[len] = '\0';
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    while (len > 0 && msg[len - 1] == '\n')
        msg[--len] = '\0';
    bool aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    printf("    %-22s %s\n", "child", aborted ? "killed by SIGABRT" : "did NOT abort");
    printf("    %-22s ", "its stderr");
    /* wrap the one long line for reading, at spaces, under the result column */
    const char *p = msg;
    size_t col = 0;
    while (*p != '\0') {
        const char *sp = strchr(p, ' ');
        size_t w = sp != NULL ? (size_t)(sp - p) : strlen(p);
        if (col > 0 && col + 1 + w > 52) {
            printf("\n    %-22s ", "");
            col = 0;
        } else if (col > 0) {
            putchar(' ');
            col++;
        }
        printf("%.*s", (int)w, p);
        col += w;
        p += w;
        while (*p == ' ')
            p++;
    }
    printf("\n");
    if (!aborted || strncmp(msg, "stackheap: ", 11) != 0)
        return tour_failed("the child did not abort with a stackheap message");
    return 0;
}

int tour_overflow(void)
{
    tour_heading("Overflow is caught, and the policy decides what happens");
    int bad = 0;
    bad |= overflow_return_null();
    bad |= overflow_call();
    bad |= overflow_heap();
    bad |= overflow_abort();
    return bad;
}

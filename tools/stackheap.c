/*
 * stackheap.c -- the command-line tool: `stackheap tour`, `stackheap run` (run.c), `version`.
 *
 * The tour shows the library working on this machine, one section per
 * feature, each a function listed in `sections` below (section 8 runs
 * check mode on two small buggy programs).  Every section creates what it needs, prints plain
 * aligned text, releases everything it made, and returns 0 or 1 on an unexpected result; the tour
 * goes on after a failed section and exits 1 at the end.
 *
 * Rules the tool keeps: it never aborts (the one demonstration of
 * SH_OVERFLOW_ABORT runs in a forked child), it frees everything it
 * allocates, and the whole tour takes well under two seconds.
 */
#define _GNU_SOURCE
#include "stackheap.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

/* ---- output helpers ------------------------------------------------------- */

static void heading(int number, const char *title)
{
    char line[96];
    int n = snprintf(line, sizeof line, "%d. %s", number, title);
    printf("\n%s\n", line);
    for (int i = 0; i < n && i < (int)sizeof line; i++)
        putchar('-');
    putchar('\n');
}

/* "512 B", "64 KiB", "1.50 MiB": exact when a whole number of units. */
static const char *human(char *buf, size_t n, size_t bytes)
{
    if (bytes < KiB)
        snprintf(buf, n, "%zu B", bytes);
    else if (bytes < MiB && bytes % KiB == 0)
        snprintf(buf, n, "%zu KiB", bytes / KiB);
    else if (bytes < MiB)
        snprintf(buf, n, "%.1f KiB", (double)bytes / KiB);
    else if (bytes % MiB == 0)
        snprintf(buf, n, "%zu MiB", bytes / MiB);
    else
        snprintf(buf, n, "%.2f MiB", (double)bytes / MiB);
    return buf;
}

static sh_stack_stats stats_of(const sh_stack *s)
{
    sh_stack_stats st;
    memset(&st, 0, sizeof st);
    sh_stack_get_stats(s, &st);
    return st;
}

/* Report an unexpected result; the section returns 1. */
static int failed(const char *what)
{
    printf("  UNEXPECTED: %s\n", what);
    return 1;
}

/* A new named stack; NULL (with a message) if the OS refused. */
static sh_stack *new_stack(size_t capacity, const char *name)
{
    sh_stack *s = sh_stack_new(capacity);
    if (s == NULL) {
        printf("  UNEXPECTED: sh_stack_new(%zu) failed: %s\n", capacity, strerror(errno));
        return NULL;
    }
    sh_stack_set_name(s, name);
    return s;
}

/* Where the stack's data starts: a zero-byte allocation on an empty stack. */
static uintptr_t base_of(sh_stack *s)
{
    void *p = sh_stack_alloc(s, 0);
    sh_stack_free_top(s, p);
    return (uintptr_t)p;
}

/* ---- 1. a named stack ----------------------------------------------------- */

static int tour_create(void)
{
    heading(1, "A named stack");
    sh_stack *s = new_stack(1 * MiB, "tour");
    if (s == NULL)
        return 1;
    sh_stack_stats st = stats_of(s);
    char b[32];
    printf("  sh_stack *s = sh_stack_new(1 << 20);  sh_stack_set_name(s, \"tour\");\n\n");
    printf("  %-14s %s\n", "name", sh_stack_name(s));
    printf("  %-14s %zu B (%s reserved; pages are committed when first touched)\n", "capacity",
           st.capacity, human(b, sizeof b, st.capacity));
    printf("  %-14s %zu B\n", "in use", st.in_use);
    printf("  %-14s %zu B\n", "available", st.available);
    printf("  %-14s %zu\n", "open frames", st.frames);
    printf("  %-14s %zu B (the default of sh_stack_alloc)\n", "alignment", (size_t)SH_STACK_ALIGN);
    printf("  %-14s guard pages with no access on both sides: an overrun faults at once\n",
           "guards");
    sh_stack_delete(s);
    return st.capacity == 1 * MiB && st.in_use == 0 ? 0 : failed("a new stack is not empty");
}

/* ---- 2. frames ------------------------------------------------------------ */

/* One row: `depth` is the innermost open frame's sh_frame.depth (0 for none). */
static void frame_row(sh_stack *s, uintptr_t base, size_t depth, const char *step,
                      const void *block)
{
    sh_stack_stats st = stats_of(s);
    char at[32] = "";
    if (block != NULL)
        snprintf(at, sizeof at, "base + %zu", (size_t)((uintptr_t)block - base));
    printf("  %-28s %5zu %12zu %7zu%s%s\n", step, depth, st.in_use, st.frames,
           at[0] != '\0' ? "   " : "", at);
}

static int tour_frames(void)
{
    heading(2, "Frames: push, allocate, pop");
    sh_stack *s = new_stack(1 * MiB, "tour");
    if (s == NULL)
        return 1;
    uintptr_t base = base_of(s);
    printf("  Each block starts at a multiple of %zu bytes; a pop returns the top to where\n"
           "  its push found it, releasing every block allocated since in one step.\n\n",
           (size_t)SH_STACK_ALIGN);
    printf("  %-28s %5s %12s %7s   %s\n", "step", "depth", "in use (B)", "frames", "block at");
    frame_row(s, base, 0, "(new stack)", NULL);
    sh_frame f1 = sh_stack_push(s);
    frame_row(s, base, f1.depth, "f1 = sh_stack_push(s)", NULL);
    void *a = sh_stack_alloc(s, 100);
    frame_row(s, base, f1.depth, "  alloc 100 B", a);
    void *b = sh_stack_alloc(s, 4000);
    frame_row(s, base, f1.depth, "  alloc 4000 B", b);
    sh_frame f2 = sh_stack_push(s);
    frame_row(s, base, f2.depth, "  f2 = sh_stack_push(s)", NULL);
    void *c = sh_stack_alloc(s, 24);
    frame_row(s, base, f2.depth, "    alloc 24 B", c);
    void *d = sh_stack_alloc_aligned(s, 1000, 256);
    frame_row(s, base, f2.depth, "    alloc 1000 B, align 256", d);
    sh_frame f3 = sh_stack_push(s);
    frame_row(s, base, f3.depth, "    f3 = sh_stack_push(s)", NULL);
    void *e = sh_stack_alloc(s, 64 * KiB);
    frame_row(s, base, f3.depth, "      alloc 64 KiB", e);
    sh_stack_pop(s, f3);
    frame_row(s, base, f2.depth, "    sh_stack_pop(s, f3)", NULL);
    sh_stack_stats mid = stats_of(s);
    sh_stack_pop(s, f2);
    frame_row(s, base, f1.depth, "  sh_stack_pop(s, f2)", NULL);
    sh_stack_pop(s, f1);
    frame_row(s, base, 0, "sh_stack_pop(s, f1)", NULL);
    sh_stack_stats end = stats_of(s);
    printf("\n  Blocks are never freed one by one: a pop moves the top back in one step,\n"
           "  however many blocks (nested frames' included) it releases.\n");
    sh_stack_delete(s);
    if (a == NULL || b == NULL || c == NULL || d == NULL || e == NULL)
        return failed("an allocation returned NULL");
    if (((uintptr_t)d & 255) != 0)
        return failed("the aligned block is not aligned to 256");
    if (mid.frames != 2 || end.in_use != 0 || end.frames != 0)
        return failed("the pops did not restore the stack");
    return 0;
}

/* ---- 3. automatic release ------------------------------------------------- */

/* Allocates three blocks in an SH_SCOPE and returns from inside it. */
static size_t scoped_work(sh_stack *s)
{
    SH_SCOPE(s)
    {
        for (int i = 0; i < 3; i++) {
            char *p = sh_stack_alloc(s, 512);
            if (p == NULL)
                return 0;
            p[0] = (char)i;
        }
        return stats_of(s).in_use; /* early return: the scope's frame is popped on the way out */
    }
    return 0;
}

/* Allocates in an SH_FRAME'd block on each turn of a loop, leaving it by break. */
static size_t frame_loop(sh_stack *s, size_t *inside)
{
    int turns = 0;
    for (int i = 0; i < 10; i++) {
        SH_FRAME_NAMED(turn, s); /* SH_FRAME(s), named: clang counts a cleanup as no use */
        (void)turn;
        char *p = sh_stack_alloc(s, 1000);
        if (p == NULL)
            break;
        p[0] = 1;
        turns++;
        *inside = stats_of(s).in_use;
        if (i == 3)
            break; /* leaves the block: the frame of this turn is popped */
    }
    return (size_t)turns;
}

static int tour_auto_release(void)
{
    heading(3, "Automatic release: SH_SCOPE and SH_FRAME");
    sh_stack *s = new_stack(1 * MiB, "tour");
    if (s == NULL)
        return 1;
    printf("  SH_SCOPE(s) { ... } runs a block in a frame that is popped however the\n"
           "  block is left; SH_FRAME(s); does the same for the rest of a block.\n\n");

    size_t before = stats_of(s).in_use;
    size_t inside = scoped_work(s);
    sh_stack_stats after = stats_of(s);
    printf("  A function allocates 3 x 512 B in SH_SCOPE(s) and returns from inside it:\n");
    printf("    %-34s %6zu B\n", "in use before the call", before);
    printf("    %-34s %6zu B\n", "in use just before the return", inside);
    printf("    %-34s %6zu B, %zu frames open\n\n", "in use after the return", after.in_use,
           after.frames);

    size_t in_loop = 0;
    size_t turns = frame_loop(s, &in_loop);
    sh_stack_stats after_loop = stats_of(s);
    printf("  A loop allocates 1000 B per turn under SH_FRAME(s) and breaks out on turn %zu:\n",
           turns);
    printf("    %-34s %6zu B (each turn's block is gone by the next)\n", "in use inside a turn",
           in_loop);
    printf("    %-34s %6zu B, %zu frames open\n", "in use after the break", after_loop.in_use,
           after_loop.frames);
    sh_stack_delete(s);
    if (inside != 1536 || after.in_use != before || after.frames != 0)
        return failed("SH_SCOPE did not release on return");
    if (turns != 4 || in_loop < 1000 || in_loop >= 1000 + SH_STACK_ALIGN ||
        after_loop.in_use != 0 || after_loop.frames != 0)
        return failed("SH_FRAME did not release on break");
    return 0;
}

/* ---- 4. the high-water mark ----------------------------------------------- */

/* Recursion `levels` deep, each level in its own frame holding `bytes`. */
static void descend(sh_stack *s, int levels, size_t bytes)
{
    SH_FRAME_NAMED(level, s); /* SH_FRAME(s), named: clang counts a cleanup as no use */
    (void)level;
    char *p = sh_stack_alloc(s, bytes);
    if (p != NULL)
        p[0] = (char)levels;
    if (levels > 1)
        descend(s, levels - 1, bytes);
}

static int tour_high_water(void)
{
    heading(4, "The high-water mark");
    sh_stack *s = new_stack(1 * MiB, "tour");
    if (s == NULL)
        return 1;
    descend(s, 10, 3 * KiB);
    descend(s, 4, 1 * KiB);
    sh_stack_stats st = stats_of(s);
    char b[32];
    printf("  A recursion 10 deep with 3 KiB per frame, then one 4 deep with 1 KiB;\n"
           "  both returned, so nothing is in use, but the stack remembers its peak:\n\n");
    printf("  %-22s %8zu B\n", "in use", st.in_use);
    printf("  %-22s %8zu B (%s) of %s; sh_stack_get_stats(s, &st).high_water\n", "high water",
           st.high_water, human(b, sizeof b, st.high_water), human((char[32]){0}, 32, st.capacity));
    printf("  %-22s %8.1f %%: a capacity to size the stack by\n", "peak / capacity",
           100.0 * (double)st.high_water / (double)st.capacity);
    sh_stack_delete(s);
    return st.high_water == 30 * KiB && st.in_use == 0 ? 0 : failed("unexpected high water");
}

/* ---- 5. growing the top block in place ------------------------------------ */

static int tour_resize(void)
{
    heading(5, "Growing the top block in place: sh_stack_resize_top");
    sh_stack *s = new_stack(1 * MiB, "tour");
    if (s == NULL)
        return 1;
    printf("  p = sh_stack_alloc(s, 16), then p = sh_stack_resize_top(s, p, 2 * size) while\n"
           "  new bytes are written after the old ones:\n\n");
    printf("  %10s   %-18s  %-6s %10s\n", "size", "address", "moved", "in use (B)");
    int bad = 0;
    unsigned char *p = sh_stack_alloc(s, 16);
    if (p == NULL) {
        sh_stack_delete(s);
        return failed("the first allocation failed");
    }
    unsigned char *first = p;
    size_t old = 0, steps = 0;
    char b[32];
    for (size_t size = 16; size <= 64 * KiB; size *= 2) {
        unsigned char *q = sh_stack_resize_top(s, p, size);
        if (q == NULL) {
            bad = failed("sh_stack_resize_top returned NULL");
            break;
        }
        for (size_t i = old; i < size; i++)
            q[i] = (unsigned char)(i * 7);
        printf("  %10s   %-18p  %-6s %10zu\n", human(b, sizeof b, size), (void *)q,
               q == p ? "no" : "YES", stats_of(s).in_use);
        if (q != first)
            bad = 1;
        p = q;
        old = size;
        steps++;
    }
    size_t wrong = 0;
    for (size_t i = 0; i < old; i++)
        wrong += p[i] != (unsigned char)(i * 7);
    printf("\n  %zu resizes from 16 B to %s at one address: never copied; all %zu bytes\n"
           "  written along the way read back %s.\n",
           steps - 1, human(b, sizeof b, old), old, wrong == 0 ? "intact" : "CHANGED");
    sh_stack_delete(s);
    if (bad || wrong != 0)
        return failed("the block moved or lost its contents");
    return 0;
}

/* ---- 6. overflow ---------------------------------------------------------- */

#define SMALL_CAPACITY (64 * KiB)
#define TOO_BIG (100 * KiB)

static int overflow_return_null(void)
{
    sh_stack *s = new_stack(SMALL_CAPACITY, "small");
    if (s == NULL)
        return 1;
    sh_frame f = sh_stack_push(s);
    void *keep = sh_stack_alloc(s, 1000);
    sh_stack_stats before = stats_of(s);
    errno = 0;
    void *p = sh_stack_alloc(s, TOO_BIG);
    int err = errno;
    sh_stack_stats after = stats_of(s);
    printf("  SH_OVERFLOW_RETURN_NULL (the default): sh_stack_alloc(s, 100 KiB) on a 64 KiB\n"
           "  stack named \"small\" holding 1000 B:\n");
    printf("    %-22s %s, errno = %s (%s)\n", "result", p == NULL ? "NULL" : "a block",
           err == ENOMEM ? "ENOMEM" : "?", strerror(err));
    printf("    %-22s %zu B before, %zu B after: the stack is unchanged\n", "in use", before.in_use,
           after.in_use);
    printf("    %-22s %llu\n\n", "overflows counted", (unsigned long long)after.overflows);
    sh_stack_pop(s, f);
    sh_stack_delete(s);
    if (keep == NULL || p != NULL || err != ENOMEM || after.in_use != before.in_use ||
        after.overflows != 1)
        return failed("RETURN_NULL did not return NULL with ENOMEM and an unchanged stack");
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
    sh_stack *s = new_stack(SMALL_CAPACITY, "small");
    reserve_stack = new_stack(1 * MiB, "reserve");
    if (s == NULL || reserve_stack == NULL) {
        sh_stack_delete(s);
        sh_stack_delete(reserve_stack);
        return 1;
    }
    call_log log = {0, 0, 0, 0};
    sh_stack_set_overflow(s, SH_OVERFLOW_CALL, serve_from_reserve, &log);
    sh_frame f = sh_stack_push(s);
    void *p = sh_stack_alloc(s, TOO_BIG);
    sh_stack_stats small = stats_of(s), reserve = stats_of(reserve_stack);
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
        return failed("the handler was not called once with the request");
    return 0;
}

static int overflow_heap(void)
{
    sh_stack *s = new_stack(SMALL_CAPACITY, "small");
    if (s == NULL)
        return 1;
    sh_stack_set_overflow(s, SH_OVERFLOW_HEAP, NULL, NULL);
    sh_stack_stats before = stats_of(s);
    sh_frame f = sh_stack_push(s);
    char *p = sh_stack_alloc(s, TOO_BIG);
    if (p != NULL)
        memset(p, 0xab, TOO_BIG);
    sh_stack_stats inside = stats_of(s);
    sh_stack_pop(s, f);
    sh_stack_stats after = stats_of(s);
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
        return failed("the heap fallback block was not served and released");
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
        return failed("pipe failed");
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return failed("fork failed");
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
        return failed("the child did not abort with a stackheap message");
    return 0;
}

static int tour_overflow(void)
{
    heading(6, "Overflow is caught, and the policy decides what happens");
    int bad = 0;
    bad |= overflow_return_null();
    bad |= overflow_call();
    bad |= overflow_heap();
    bad |= overflow_abort();
    return bad;
}

/* ---- 7. speed ------------------------------------------------------------- */

/*
 * The system allocator by its own names: when libstackheap replaces malloc
 * (SH_OVERRIDE), `malloc` here is stackheap's heap, and the comparison is
 * with glibc's.
 */
#if defined(__GLIBC__)
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *p);
#define system_malloc __libc_malloc
#define system_free __libc_free
#define SYSTEM_MALLOC_NAME "glibc malloc/free"
#else
#define system_malloc malloc
#define system_free free
#define SYSTEM_MALLOC_NAME "malloc/free"
#endif

/*
 * The same LIFO pattern with the stack and with malloc/free: a recursion
 * SPEED_DEPTH deep, SPEED_PER_FRAME blocks of 8..256 bytes per level (sizes
 * from a fixed-seed PRNG, drawn before timing), released by one pop per
 * level, or by free() of each block in reverse order at the end of the
 * level.  Each block gets one byte written; its address leaves through an
 * empty asm so the compiler keeps every allocation.
 */
enum { SPEED_DEPTH = 16, SPEED_PER_FRAME = 16, SPEED_TREE = SPEED_DEPTH * SPEED_PER_FRAME };
enum { SPEED_TREES = 512, SPEED_RUNS = 7 };

static volatile uintptr_t speed_sink;

static inline void keep(void *p)
{
    __asm__ volatile("" : : "r"(p));
}

static uintptr_t stack_tree(sh_stack *s, const unsigned short *sizes, int level)
{
    uintptr_t acc = 0;
    sh_frame f = sh_stack_push(s);
    for (int i = 0; i < SPEED_PER_FRAME; i++) {
        unsigned char *p = sh_stack_alloc(s, sizes[i]);
        if (sh_unlikely(p == NULL))
            break; /* cannot happen: the stack holds 16 x 16 x 256 B */
        p[0] = (unsigned char)i;
        keep(p);
        acc += p[0];
    }
    if (level > 1)
        acc += stack_tree(s, sizes + SPEED_PER_FRAME, level - 1);
    sh_stack_pop(s, f);
    return acc;
}

static uintptr_t malloc_tree(const unsigned short *sizes, int level)
{
    uintptr_t acc = 0;
    unsigned char *blocks[SPEED_PER_FRAME];
    for (int i = 0; i < SPEED_PER_FRAME; i++) {
        unsigned char *p = system_malloc(sizes[i]);
        if (sh_unlikely(p == NULL)) {
            while (i > 0)
                system_free(blocks[--i]);
            return 0;
        }
        p[0] = (unsigned char)i;
        keep(p);
        acc += p[0];
        blocks[i] = p;
    }
    if (level > 1)
        acc += malloc_tree(sizes + SPEED_PER_FRAME, level - 1);
    for (int i = SPEED_PER_FRAME - 1; i >= 0; i--)
        system_free(blocks[i]);
    return acc;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ns per allocation of one run: SPEED_TREES trees, each with its own sizes. */
static double time_stack(sh_stack *s, const unsigned short *sizes)
{
    uintptr_t acc = 0;
    double t0 = now_ns();
    for (int t = 0; t < SPEED_TREES; t++)
        acc += stack_tree(s, sizes + (size_t)t * SPEED_TREE, SPEED_DEPTH);
    double t1 = now_ns();
    speed_sink += acc;
    return (t1 - t0) / ((double)SPEED_TREES * SPEED_TREE);
}

static double time_malloc(const unsigned short *sizes)
{
    uintptr_t acc = 0;
    double t0 = now_ns();
    for (int t = 0; t < SPEED_TREES; t++)
        acc += malloc_tree(sizes + (size_t)t * SPEED_TREE, SPEED_DEPTH);
    double t1 = now_ns();
    speed_sink += acc;
    return (t1 - t0) / ((double)SPEED_TREES * SPEED_TREE);
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, compare_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int tour_speed(void)
{
    heading(7, "Speed: the stack against " SYSTEM_MALLOC_NAME);
    size_t count = (size_t)SPEED_TREES * SPEED_TREE;
    unsigned short *sizes = malloc(count * sizeof *sizes);
    sh_stack *s = new_stack(1 * MiB, "speed");
    if (sizes == NULL || s == NULL) {
        free(sizes);
        sh_stack_delete(s);
        return failed("no memory for the measurement");
    }
    uint64_t x = 0x9e3779b97f4a7c15u; /* xorshift64, fixed seed */
    for (size_t i = 0; i < count; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sizes[i] = (unsigned short)(8 + x % 249); /* 8..256 */
    }
    double st[SPEED_RUNS], ma[SPEED_RUNS];
    time_stack(s, sizes); /* warm up: commit the pages, fill malloc's caches */
    time_malloc(sizes);
    for (int r = 0; r < SPEED_RUNS; r++) { /* interleaved, so noise hits both alike */
        st[r] = time_stack(s, sizes);
        ma[r] = time_malloc(sizes);
    }
    double st_med = median(st, SPEED_RUNS), ma_med = median(ma, SPEED_RUNS);
    printf("  %zu allocations of 8..256 B per run (fixed seed), in a recursion %d deep\n"
           "  with %d blocks per level, released by one pop per level or by free() of\n"
           "  each block in reverse order.  Median of %d runs, interleaved:\n\n",
           count, SPEED_DEPTH, SPEED_PER_FRAME, SPEED_RUNS);
    printf("  %-34s %8.2f ns per allocation\n", "sh_stack_alloc + sh_stack_pop", st_med);
    printf("  %-34s %8.2f ns per allocation\n\n", SYSTEM_MALLOC_NAME, ma_med);
    if (st_med > 0)
        printf("  stack is %.1fx faster than " SYSTEM_MALLOC_NAME "\n", ma_med / st_med);
    printf("  (on this machine, now; `make bench` measures with more care)\n");
    sh_stack_delete(s);
    free(sizes);
    return 0;
}

/* ---- 8. check mode: a leak found, a double free caught --------------------- */

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

__attribute__((noinline)) static int demo(const char *name)
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

static int tour_check_mode(void)
{
    heading(8, "Check mode: a leak found, a double free caught");
    printf("  The seed warns: \"if memory is not freed, it can lead to memory leaks\".\n"
           "  `stackheap run --check -- PROGRAM` (or STACKHEAP_CHECK=1) runs any program\n"
           "  on stackheap's check mode, which turns that warning into a report.  Two\n"
           "  small buggy programs, run here in check mode (build with -g for line\n"
           "  numbers):\n\n");
    static char out[16384];
    int bad = 0;
    printf("  copy_name() mallocs a copy that its caller drops:\n");
    int st = run_demo("leak", out, sizeof out);
    print_indented(out);
    if (st < 0 || strstr(out, "definitely lost") == NULL || strstr(out, "copy_name") == NULL)
        bad |= failed("check mode did not report the leak in copy_name");
    printf("\n  a 48-byte buffer freed twice:\n");
    st = run_demo("double-free", out, sizeof out);
    print_indented(out);
    if (st < 0 || strstr(out, "double free") == NULL || strstr(out, "first freed at") == NULL)
        bad |= failed("check mode did not catch the double free");
    printf("\n  Check mode costs nothing when off: it is reached only through the\n"
           "  allocator's slow paths.\n");
    return bad;
}

/* ---- the commands --------------------------------------------------------- */

typedef int section_fn(void);

static section_fn *const sections[] = {
    tour_create, tour_frames,   tour_auto_release, tour_high_water,
    tour_resize, tour_overflow, tour_speed,        tour_check_mode,
};

static int tour(void)
{
    printf("stackheap %s: a tour of the library on this machine\n", SH_VERSION_STRING);
    printf("(every figure below is measured as it prints)\n");
    int bad = 0;
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        bad |= sections[i]();
    printf("\n%s\n", bad ? "The tour found UNEXPECTED results (see above)."
                         : "End of the tour: every stack made here has been deleted, and the\n"
                           "only leak was the demonstration's, in its own process.");
    return bad ? 1 : 0;
}

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
        return demo(argv[2]);
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
        rc = tour();
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

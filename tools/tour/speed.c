/*
 * speed.c -- the tour's speed chapter: one LIFO pattern of allocations,
 * timed with the stack and with the system's malloc.
 *
 * No figure here is asserted: the machine may be busy.  `make bench`
 * measures the same pattern with more care (bench/bench_stack.c).
 */
#define _GNU_SOURCE
#include "tour.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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

int tour_speed(void)
{
    tour_heading("Speed: the stack against " SYSTEM_MALLOC_NAME);
    size_t count = (size_t)SPEED_TREES * SPEED_TREE;
    unsigned short *sizes = malloc(count * sizeof *sizes);
    sh_stack *s = tour_new_stack(1 * MiB, "speed");
    if (sizes == NULL || s == NULL) {
        free(sizes);
        sh_stack_delete(s);
        return tour_failed("no memory for the measurement");
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

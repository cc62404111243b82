/*
 * speed.c -- the tour's speed chapter: one LIFO pattern of allocations,
 * timed with the stack, with stackheap's heap and with the C library's
 * malloc (glibc's, found in libc.so.6 itself: see find_system_malloc).
 *
 * No figure here is asserted: the machine may be busy.  `make bench`
 * measures the same pattern with more care (bench/bench_stack.c).
 */
#define _GNU_SOURCE
#include "tour.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The system's allocator, taken from the C library itself.  libstackheap
 * exports malloc and free, and glibc's own __libc_malloc and __libc_free
 * too, so in this tool every one of those names is stackheap's heap; dlsym
 * on the C library's handle looks in that library (and what it depends on)
 * alone.  A library that is not found, or whose malloc turns out to be the
 * object sh_malloc lives in, gives no row rather than a wrong one.
 */
typedef struct allocator {
    void *(*alloc)(size_t size);
    void (*release)(void *p);
} allocator;

static bool find_system_malloc(allocator *a, char *name, size_t cap, char *version,
                               size_t version_cap)
{
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    if (libc == NULL)
        return false;
    void *alloc = dlsym(libc, "malloc"), *release = dlsym(libc, "free");
    dlclose(libc); /* RTLD_NOLOAD took a reference to a library already loaded */
    void *ours = dlsym(RTLD_DEFAULT, "sh_malloc"); /* in libstackheap, wherever it is */
    Dl_info mine, theirs;
    if (alloc == NULL || release == NULL || ours == NULL || dladdr(ours, &mine) == 0 ||
        dladdr(alloc, &theirs) == 0 || strcmp(mine.dli_fname, theirs.dli_fname) == 0)
        return false;
    /* POSIX lets dlsym's result be a function pointer; C says nothing: copy the bits */
    memcpy(&a->alloc, &alloc, sizeof a->alloc);
    memcpy(&a->release, &release, sizeof a->release);
    if (confstr(_CS_GNU_LIBC_VERSION, version, version_cap) == 0) /* "glibc 2.36" */
        snprintf(version, version_cap, "libc");
    const char *file = strrchr(theirs.dli_fname, '/');
    snprintf(name, cap, "%s malloc, free (%s)", version,
             file != NULL ? file + 1 : theirs.dli_fname);
    return true;
}

/*
 * The same LIFO pattern with the stack and with two heaps (stackheap's and
 * the C library's): a recursion SPEED_DEPTH deep, SPEED_PER_FRAME blocks of
 * 8..256 bytes per level (sizes from a fixed-seed PRNG, drawn before
 * timing), released by one pop per level, or by a free of each block in
 * reverse order at the end of the level.  Both heaps are called through
 * pointers, so that neither pays for a call the other does not.  Each block gets one byte written;
 * its address leaves through an empty asm so the compiler keeps every allocation.
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

static uintptr_t heap_tree(const allocator *a, const unsigned short *sizes, int level)
{
    uintptr_t acc = 0;
    unsigned char *blocks[SPEED_PER_FRAME];
    for (int i = 0; i < SPEED_PER_FRAME; i++) {
        unsigned char *p = a->alloc(sizes[i]);
        if (sh_unlikely(p == NULL)) {
            while (i > 0)
                a->release(blocks[--i]);
            return 0;
        }
        p[0] = (unsigned char)i;
        keep(p);
        acc += p[0];
        blocks[i] = p;
    }
    if (level > 1)
        acc += heap_tree(a, sizes + SPEED_PER_FRAME, level - 1);
    for (int i = SPEED_PER_FRAME - 1; i >= 0; i--)
        a->release(blocks[i]);
    return acc;
}

/* ns per allocation of one run: SPEED_TREES trees, each with its own sizes. */
static double time_stack(sh_stack *s, const unsigned short *sizes)
{
    uintptr_t acc = 0;
    double t0 = tour_now_ns();
    for (int t = 0; t < SPEED_TREES; t++)
        acc += stack_tree(s, sizes + (size_t)t * SPEED_TREE, SPEED_DEPTH);
    double t1 = tour_now_ns();
    speed_sink += acc;
    return (t1 - t0) / ((double)SPEED_TREES * SPEED_TREE);
}

static double time_heap(const allocator *a, const unsigned short *sizes)
{
    uintptr_t acc = 0;
    double t0 = tour_now_ns();
    for (int t = 0; t < SPEED_TREES; t++)
        acc += heap_tree(a, sizes + (size_t)t * SPEED_TREE, SPEED_DEPTH);
    double t1 = tour_now_ns();
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

/* One row: what, ns per allocation, and its time as a multiple of the stack's. */
static void speed_row(const char *what, double ns, double stack_ns)
{
    printf("  %-40s %7.2f ns", what, ns);
    if (stack_ns > 0 && ns != stack_ns)
        printf("  %5.1fx the stack's time", ns / stack_ns);
    printf("\n");
}

int tour_speed(void)
{
    tour_heading("Speed: the stack, stackheap's heap and the C library's malloc");
    size_t count = (size_t)SPEED_TREES * SPEED_TREE;
    unsigned short *sizes = sh_malloc(count * sizeof *sizes);
    sh_stack *s = tour_new_stack(1 * MiB, "speed");
    if (sizes == NULL || s == NULL) {
        sh_free(sizes);
        sh_stack_delete(s);
        return tour_failed("no memory for the measurement");
    }
    tour_random_sizes(sizes, count, 0x9e3779b97f4a7c15u, 8, 256);
    allocator heap = {sh_malloc, sh_free}, system;
    char system_name[96];
    bool have_system =
        find_system_malloc(&system, system_name, sizeof system_name, tour_measured.system_version,
                           sizeof tour_measured.system_version);
    double st[SPEED_RUNS], hp[SPEED_RUNS], sy[SPEED_RUNS];
    time_stack(s, sizes); /* warm up: commit the pages, fill the heaps' caches */
    time_heap(&heap, sizes);
    if (have_system)
        time_heap(&system, sizes);
    for (int r = 0; r < SPEED_RUNS; r++) { /* interleaved, so noise hits each alike */
        st[r] = time_stack(s, sizes);
        hp[r] = time_heap(&heap, sizes);
        sy[r] = have_system ? time_heap(&system, sizes) : 0;
    }
    tour_measured.speed_depth = SPEED_DEPTH;
    tour_measured.speed_per_level = SPEED_PER_FRAME;
    tour_measured.stack_ns = median(st, SPEED_RUNS);
    tour_measured.heap_ns = median(hp, SPEED_RUNS);
    tour_measured.system_ns = have_system ? median(sy, SPEED_RUNS) : 0;
    printf("  %zu allocations of 8..256 B per run (fixed seed), in a recursion %d deep\n"
           "  with %d blocks per level, released by one pop per level, or by a free of\n"
           "  each block in reverse order.  Median of %d runs, interleaved; time per\n"
           "  allocation, its release included:\n\n",
           count, SPEED_DEPTH, SPEED_PER_FRAME, SPEED_RUNS);
    double stack_ns = tour_measured.stack_ns;
    speed_row("sh_stack_alloc, one sh_stack_pop a level", stack_ns, stack_ns);
    speed_row("sh_malloc, sh_free", tour_measured.heap_ns, stack_ns);
    if (have_system)
        speed_row(system_name, tour_measured.system_ns, stack_ns);
    else
        printf("  %-40s (not found: no row rather than stackheap's heap twice)\n",
               "the C library's malloc");
    printf("\n  A stack allocation is a bump of one pointer, and a pop releases a whole\n"
           "  level at once; a heap finds a free block of the size class and takes each\n"
           "  block back on its own.  (On this machine, now: `make bench` measures with\n"
           "  more care.)\n");
    sh_stack_delete(s);
    sh_free(sizes);
    if (!(stack_ns > 0) || !(tour_measured.heap_ns > 0))
        return tour_failed("a time per allocation is not positive");
    return 0;
}

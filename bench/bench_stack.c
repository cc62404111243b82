/*
 * bench_stack.c -- the stack against malloc/free, alloca and a bare bump pointer.
 *
 * One workload, five allocators.  A "tree" is a recursion DEPTH levels deep
 * that allocates PER_FRAME blocks at each level and releases them when the
 * level returns:
 *
 *   stack   sh_stack_push at entry, sh_stack_alloc per block, sh_stack_pop at exit
 *   cursor  one sh_stack_cursor per tree, sh_cursor_alloc per block, the cursor
 *           passed by value (two registers) to the next level (its frame:
 *           the caller's copy goes on where it was), sh_cursor_end after
 *   malloc  glibc's malloc per block, free of each block in reverse order at exit
 *           (LIFO).  Found by dlsym in libc.so.6 itself, so it stays glibc's
 *           when libstackheap replaces malloc (SH_OVERRIDE: libstackheap then
 *           exports __libc_malloc too, so that name is no guide); the malloc
 *           the program is linked with is then measured too, as one more row.
 *   alloca  __builtin_alloca per block, released by the function's return
 *   bump    an inline pointer bump with a bounds check, in a struct in memory,
 *           its old value restored at exit: the floor any stack can reach
 *
 * Fairness, kept by construction:
 *   - block sizes (8..256 B) come from a fixed-seed xorshift drawn before any
 *     timing, into one array every variant reads in the same order;
 *   - every variant does the same work per block: one byte written, the
 *     address handed to an empty asm (so no allocation can be optimised
 *     away), the byte read back into an accumulator that ends in a volatile
 *     sink; the accumulators must agree, or the run is reported as broken;
 *   - the variants run interleaved, RUNS times, rotating which goes first,
 *     after one warm-up pass each; the figure is the median, in ns per
 *     allocation (the push/pop or free of the block included).
 *
 * Usage: bench_stack [RUNS]   (default 11)
 */
#define _GNU_SOURCE
#include "stackheap.h"

#include <dlfcn.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    DEPTH = 16,               /* levels of the recursion */
    PER_FRAME = 16,           /* blocks allocated at each level */
    TREE = DEPTH * PER_FRAME, /* blocks per tree */
    TREES = 8192,             /* trees per timed run: 2M allocations */
    SIZES = 1 << 16,          /* sizes drawn; tree t reads from (t * TREE) mod SIZES */
    DEFAULT_RUNS = 11,
    STACK_CAPACITY = 4 << 20 /* >= TREE * 256 B with room to spare */
};

/* Each level is a real call in every variant: no inlining, no cloning, and no
   facts about a callee carried into its caller (GCC's noipa when available). */
#if defined(__has_attribute)
#if __has_attribute(noipa)
#define NOINLINE __attribute__((noinline, noipa))
#endif
#endif
#ifndef NOINLINE
#define NOINLINE __attribute__((noinline))
#endif

/* The C library's allocator, whoever owns `malloc` in this process: looked
   up in libc.so.6 itself (find_system_malloc; the linked one if it fails). */
static void *(*system_malloc)(size_t size) = malloc;
static void (*system_free)(void *p) = free;

static void find_system_malloc(void)
{
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    if (libc == NULL)
        return;
    void *alloc = dlsym(libc, "malloc"), *release = dlsym(libc, "free");
    dlclose(libc); /* RTLD_NOLOAD took a reference to a library already loaded */
    if (alloc == NULL || release == NULL)
        return;
    /* POSIX lets dlsym's result be a function pointer; C says nothing: copy the bits */
    memcpy(&system_malloc, &alloc, sizeof system_malloc);
    memcpy(&system_free, &release, sizeof system_free);
}

static unsigned short sizes[SIZES];
static volatile uintptr_t sink;

/* The same per-block work in every variant. */
static inline uintptr_t use_block(unsigned char *p, int i)
{
    p[0] = (unsigned char)i;
    __asm__ volatile("" : : "r"(p));
    return p[0];
}

/*
 * After the inner levels returned, read back this level's first block: it
 * must have survived them.  This also keeps each recursion a real recursion
 * (a compiler may otherwise turn alloca's into a loop in one frame).
 */
static inline uintptr_t after_inner(const unsigned char *first)
{
    return first != NULL ? first[0] + 1u : 0;
}

/* ---- the four variants: one tree level each, recursing to the next ------- */

static NOINLINE uintptr_t stack_level(sh_stack *s, const unsigned short *sz, int level)
{
    uintptr_t acc = 0;
    unsigned char *first = NULL;
    sh_frame f = sh_stack_push(s);
    for (int i = 0; i < PER_FRAME; i++) {
        unsigned char *p = sh_stack_alloc(s, sz[i]);
        if (sh_unlikely(p == NULL))
            break; /* cannot happen: the capacity holds a whole tree; the sums will differ */
        acc += use_block(p, i);
        first = i == 0 ? p : first;
    }
    if (level > 1)
        acc += stack_level(s, sz + PER_FRAME, level - 1);
    acc += after_inner(first);
    sh_stack_pop(s, f);
    return acc;
}

/* One level with a given malloc/free pair; defined once per pair, so the calls are direct. */
#define DEFINE_MALLOC_LEVEL(name, alloc, release)                                                  \
    static NOINLINE uintptr_t name(const unsigned short *sz, int level)                            \
    {                                                                                              \
        uintptr_t acc = 0;                                                                         \
        unsigned char *blocks[PER_FRAME];                                                          \
        int n = 0;                                                                                 \
        for (int i = 0; i < PER_FRAME; i++) {                                                      \
            unsigned char *p = alloc(sz[i]);                                                       \
            if (sh_unlikely(p == NULL))                                                            \
                break;                                                                             \
            acc += use_block(p, i);                                                                \
            blocks[n++] = p;                                                                       \
        }                                                                                          \
        if (level > 1)                                                                             \
            acc += name(sz + PER_FRAME, level - 1);                                                \
        acc += after_inner(n > 0 ? blocks[0] : NULL);                                              \
        while (n > 0)                                                                              \
            release(blocks[--n]);                                                                  \
        return acc;                                                                                \
    }

DEFINE_MALLOC_LEVEL(malloc_level, system_malloc, system_free)
/* the malloc/free this program is linked with: stackheap's heap under SH_OVERRIDE */
DEFINE_MALLOC_LEVEL(linked_malloc_level, malloc, free)

static NOINLINE uintptr_t alloca_level(const unsigned short *sz, int level)
{
    uintptr_t acc = 0;
    unsigned char *first = NULL;
    for (int i = 0; i < PER_FRAME; i++) {
        unsigned char *p = __builtin_alloca(sz[i]); /* released when this function returns */
        acc += use_block(p, i);
        first = i == 0 ? p : first;
    }
    if (level > 1)
        acc += alloca_level(sz + PER_FRAME, level - 1);
    acc += after_inner(first);
    return acc;
}

typedef struct bump {
    uintptr_t top, end;
} bump;

static inline void *bump_alloc(bump *b, size_t size)
{
    uintptr_t p = (b->top + 15) & ~(uintptr_t)15;
    if (sh_unlikely(size > b->end - p))
        return NULL;
    b->top = p + size;
    return (void *)p;
}

static NOINLINE uintptr_t bump_level(bump *b, const unsigned short *sz, int level)
{
    uintptr_t acc = 0;
    unsigned char *first = NULL;
    uintptr_t mark = b->top;
    for (int i = 0; i < PER_FRAME; i++) {
        unsigned char *p = bump_alloc(b, sz[i]);
        if (sh_unlikely(p == NULL))
            break;
        acc += use_block(p, i);
        first = i == 0 ? p : first;
    }
    if (level > 1)
        acc += bump_level(b, sz + PER_FRAME, level - 1);
    acc += after_inner(first);
    b->top = mark;
    return acc;
}

static NOINLINE uintptr_t cursor_level(sh_cursor c, const unsigned short *sz, int level)
{
    uintptr_t acc = 0;
    unsigned char *first = NULL;
    for (int i = 0; i < PER_FRAME; i++) {
        unsigned char *p = sh_cursor_alloc(&c, sz[i]);
        if (sh_unlikely(p == NULL))
            break; /* cannot happen: the capacity holds a whole tree; the sums will differ */
        acc += use_block(p, i);
        first = i == 0 ? p : first;
    }
    if (level > 1)
        acc += cursor_level(c, sz + PER_FRAME, level - 1);
    acc += after_inner(first);
    return acc;
}

/* ---- timing --------------------------------------------------------------- */

typedef struct ctx {
    sh_stack *stack;
    bump bump;
} ctx;

enum { V_STACK, V_MALLOC, V_ALLOCA, V_BUMP, V_CURSOR, V_LINKED_MALLOC, VARIANTS };
static const char *const variant_name[VARIANTS] = {
    "sh_stack_alloc / sh_stack_pop", "malloc / free (glibc)",      "alloca",
    "bare bump pointer (inline)",    "sh_cursor_alloc (a cursor)", "malloc / free (as linked)",
};

/* True when `malloc` here is not glibc's (libstackheap built with SH_OVERRIDE). */
static bool malloc_is_replaced(void)
{
    void *(*linked)(size_t) = malloc;
    void *(*system)(size_t) = system_malloc;
    return linked != system;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One timed run of variant v: TREES trees.  Returns ns per allocation; *acc gets the sum. */
static double run(ctx *c, int v, uintptr_t *acc)
{
    uintptr_t sum = 0;
    double t0 = now_ns();
    for (int t = 0; t < TREES; t++) {
        const unsigned short *sz = sizes + ((size_t)t * TREE) % SIZES;
        switch (v) {
        case V_STACK:
            sum += stack_level(c->stack, sz, DEPTH);
            break;
        case V_MALLOC:
            sum += malloc_level(sz, DEPTH);
            break;
        case V_ALLOCA:
            sum += alloca_level(sz, DEPTH);
            break;
        case V_BUMP:
            sum += bump_level(&c->bump, sz, DEPTH);
            break;
        case V_CURSOR: {
            sh_cursor cur = sh_stack_cursor(c->stack);
            sum += cursor_level(cur, sz, DEPTH);
            sh_cursor_end(&cur);
            break;
        }
        default:
            sum += linked_malloc_level(sz, DEPTH);
            break;
        }
    }
    double t1 = now_ns();
    sink += sum;
    *acc = sum;
    return (t1 - t0) / ((double)TREES * TREE);
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    find_system_malloc();
    int runs = DEFAULT_RUNS;
    if (argc > 1) {
        runs = atoi(argv[1]);
        if (runs < 1 || runs > 1000) {
            fprintf(stderr, "usage: bench_stack [RUNS]   (1..1000, default %d)\n", DEFAULT_RUNS);
            return 2;
        }
    }
    _Static_assert(SIZES % TREE == 0, "a tree's sizes must not wrap around the array");
    uint64_t x = 0x9e3779b97f4a7c15u; /* xorshift64, fixed seed */
    for (size_t i = 0; i < SIZES; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sizes[i] = (unsigned short)(8 + x % 249); /* 8..256 */
    }

    ctx c;
    c.stack = sh_stack_new(STACK_CAPACITY);
    unsigned char *arena = malloc(STACK_CAPACITY);
    if (c.stack == NULL || arena == NULL) {
        fprintf(stderr, "bench_stack: cannot allocate the %d-byte stack and arena\n",
                STACK_CAPACITY);
        return 1;
    }
    sh_stack_set_name(c.stack, "bench");
    c.bump.top = (uintptr_t)arena;
    c.bump.end = (uintptr_t)arena + STACK_CAPACITY;

    /* the linked malloc is its own row only when it is not glibc's */
    int variants = malloc_is_replaced() ? VARIANTS : V_LINKED_MALLOC;
    double *ns = malloc(sizeof(double) * (size_t)runs * VARIANTS);
    if (ns == NULL)
        return 1;
    uintptr_t expect = 0, acc;
    int broken = 0;
    for (int v = 0; v < variants; v++) { /* warm-up: touch the pages, fill the caches */
        run(&c, v, &acc);
        if (v == 0)
            expect = acc;
        broken |= acc != expect;
    }
    for (int r = 0; r < runs; r++) {
        for (int k = 0; k < variants; k++) {
            int v = (r + k) % variants; /* rotate which variant goes first */
            ns[v * runs + r] = run(&c, v, &acc);
            broken |= acc != expect;
        }
    }

    double med[VARIANTS], lo[VARIANTS], hi[VARIANTS];
    for (int v = 0; v < variants; v++) {
        double *a = ns + v * runs;
        qsort(a, (size_t)runs, sizeof *a, compare_double);
        med[v] = runs % 2 ? a[runs / 2] : (a[runs / 2 - 1] + a[runs / 2]) / 2;
        lo[v] = a[0];
        hi[v] = a[runs - 1];
    }

    printf("bench_stack: %d allocations per run of 8..256 B (xorshift64, fixed seed), a\n"
           "recursion %d deep with %d blocks per level; median of %d interleaved runs\n\n",
           TREES * TREE, DEPTH, PER_FRAME, runs);
    printf("  %-32s %10s %10s %10s\n", "variant", "median ns", "min ns", "max ns");
    for (int v = 0; v < variants; v++)
        printf("  %-32s %10.3f %10.3f %10.3f\n", variant_name[v], med[v], lo[v], hi[v]);
    if (variants > V_LINKED_MALLOC)
        printf("  (malloc in this process is not glibc's: libstackheap's SH_OVERRIDE or a\n"
               "  sanitizer replaces it; the glibc row calls libc.so.6's own malloc and free)\n");
    if (c.stack->fast_end == 0) /* read only: tells whether the inline fast path is on */
        printf("\n  NOTE: a tool is active (ASan build or Valgrind): every sh_stack_alloc takes\n"
               "  the out-of-line path that marks memory; these figures are not the fast path.\n");
    double malloc_over_stack = med[V_MALLOC] / med[V_STACK];
    double stack_over_alloca = med[V_STACK] / med[V_ALLOCA];
    double stack_over_bump = med[V_STACK] / med[V_BUMP];
    double cursor_over_alloca = med[V_CURSOR] / med[V_ALLOCA];
    printf("\n  %-32s %8.2fx  (target >= 10x: %s)\n", "malloc/free time / stack time",
           malloc_over_stack, malloc_over_stack >= 10 ? "met" : "NOT met");
    printf("  %-32s %8.2fx  (target <= 1.2x: %s)\n", "stack time / alloca time", stack_over_alloca,
           stack_over_alloca <= 1.2 ? "met" : "NOT met");
    printf("  %-32s %8.2fx  (target <= 1.2x: %s)\n", "cursor time / alloca time",
           cursor_over_alloca, cursor_over_alloca <= 1.2 ? "met" : "NOT met");
    printf("  %-32s %8.2fx  (the library's bookkeeping over a bare bump)\n",
           "stack time / bump time", stack_over_bump);
    if (broken)
        printf("\n  BROKEN: the variants did not do the same work (accumulators differ)\n");

    sh_stack_delete(c.stack);
    free(arena);
    free(ns);
    return broken ? 1 : 0;
}

/*
 * first_class.c -- the tour's section on first-class heaps: 100,000 blocks
 * from a heap of the program's own, released by one sh_heap_destroy, against
 * the same blocks freed one by one.
 *
 * Two heaps get the same blocks (sizes from a fixed seed, each block
 * written at both ends so its pages are resident).  The first is destroyed
 * without a pointer to any block kept; the second's blocks are freed one by
 * one, then the empty heap is destroyed.  The tables both need (the sizes,
 * the second heap's pointers) are allocated before the first figure, so the
 * counts move by the heaps' blocks alone.
 *
 * Checked: the blocks were counted in use (mallinfo2, when it is
 * stackheap's), and the destroy brought the count back to where it started
 * and gave three quarters of the RSS growth back at once (it unmaps the
 * heap's segments; docs/DESIGN.md).  The times are printed only.
 */
#define _GNU_SOURCE
#include "tour.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>

#define BLOCKS 100000
#define MIN_SIZE 16
#define MAX_SIZE 256
#define SLACK (16 * KiB) /* what else may move the count meanwhile */

typedef struct figures {
    double ms;
    size_t in_use, rss;
} figures;

static bool counted; /* mallinfo2 is stackheap's */

static figures measure(double ms)
{
    figures f = {ms, counted ? mallinfo2().uordblks : 0, tour_rss()};
    return f;
}

static double since_ms(double start_ns)
{
    return (tour_now_ns() - start_ns) / 1e6;
}

/* BLOCKS blocks of sizes[i] bytes from h, each written at both ends; their
   addresses into kept, unless it is NULL.  False if h refused one. */
static bool fill(sh_heap *h, const unsigned short *sizes, void **kept)
{
    for (size_t i = 0; i < BLOCKS; i++) {
        unsigned char *p = sh_heap_malloc(h, sizes[i]);
        if (p == NULL)
            return false;
        p[0] = (unsigned char)i;
        p[sizes[i] - 1] = (unsigned char)i;
        if (kept != NULL)
            kept[i] = p;
    }
    return true;
}

static void row(const char *step, const figures *f)
{
    char t[32] = "", in[32];
    if (f->ms >= 0)
        snprintf(t, sizeof t, "%.2f ms", f->ms);
    if (counted)
        printf("    %-36s %10s %10s %9.1f MiB\n", step, t, tour_size(in, sizeof in, f->in_use),
               (double)f->rss / MiB);
    else
        printf("    %-36s %10s %9.1f MiB\n", step, t, (double)f->rss / MiB);
}

int tour_first_class(void)
{
    tour_heading("First-class heaps: one call frees every block");
    counted = tour_malloc_is_stackheap();
    unsigned short *sizes = sh_malloc(BLOCKS * sizeof *sizes);
    void **kept = sh_malloc(BLOCKS * sizeof *kept);
    if (sizes == NULL || kept == NULL) {
        sh_free(sizes);
        sh_free(kept);
        return tour_failed("no memory for the tables");
    }
    tour_random_sizes(sizes, BLOCKS, 0x2545f4914f6cdd1du, MIN_SIZE, MAX_SIZE);
    printf("  sh_heap_new makes a heap of the program's own: sh_heap_malloc takes blocks\n"
           "  from it, any thread may sh_free them, and one sh_heap_destroy releases\n"
           "  every block still in it, with no pointer to them kept.  Two heaps get the\n"
           "  same 100,000 blocks of %d..%d B (fixed seed), each written; the first is\n"
           "  destroyed whole, the second's blocks are freed one by one:\n\n",
           MIN_SIZE, MAX_SIZE);
    if (counted)
        printf("    %-36s %10s %10s %13s\n", "step", "time", "in use", "RSS");
    else
        printf("    %-36s %10s %13s\n", "step", "time", "RSS");

    figures before = measure(-1);
    row("before", &before);
    double t0 = tour_now_ns();
    sh_heap *h = sh_heap_new();
    bool filled = h != NULL && fill(h, sizes, NULL);
    figures made = measure(since_ms(t0));
    row("heap 1: 100,000 x sh_heap_malloc", &made);
    t0 = tour_now_ns();
    sh_heap_destroy(h);
    figures destroyed = measure(since_ms(t0));
    row("heap 1: one sh_heap_destroy", &destroyed);

    t0 = tour_now_ns();
    sh_heap *h2 = sh_heap_new();
    bool filled2 = h2 != NULL && fill(h2, sizes, kept);
    figures made2 = measure(since_ms(t0));
    row("heap 2: 100,000 x sh_heap_malloc", &made2);
    t0 = tour_now_ns();
    for (size_t i = 0; filled2 && i < BLOCKS; i++)
        sh_free(kept[i]);
    figures freed2 = measure(since_ms(t0));
    row("heap 2: 100,000 x sh_free", &freed2);
    t0 = tour_now_ns();
    sh_heap_destroy(h2);
    figures destroyed2 = measure(since_ms(t0));
    row("heap 2: sh_heap_destroy, empty now", &destroyed2);
    sh_free(kept);
    sh_free(sizes);

    size_t growth = made.rss > before.rss ? made.rss - before.rss : 0;
    bool dropped = destroyed.rss <= before.rss + growth / 4;
    const char *frees = freed2.rss > before.rss + growth / 2
                            ? "left the memory to\n"
                              "  the heap, for its next blocks, until the empty heap's destroy"
                            : "gave most of the\n  memory back too";
    printf("\n  The destroy took %.2f ms, the 100,000 frees %.2f ms.  The destroy %s\n"
           "  the RSS at once: it unmaps the heap's memory.  The frees %s.\n"
           "  And the destroy needed no pointer to the blocks: the program kept none.\n",
           destroyed.ms, freed2.ms, dropped ? "dropped" : "did NOT drop", frees);

    tour_measured.destroy_ms = destroyed.ms;
    tour_measured.free_each_ms = freed2.ms;
    tour_measured.first_class_blocks = BLOCKS;
    if (!filled || !filled2)
        return tour_failed("sh_heap_new or sh_heap_malloc returned NULL");
    if (counted && made.in_use < before.in_use + (size_t)BLOCKS * MIN_SIZE)
        return tour_failed("the heap's blocks were not counted as in use");
    if (counted &&
        (destroyed.in_use > before.in_use + SLACK || before.in_use > destroyed.in_use + SLACK))
        return tour_failed("in use did not come back to where it started at the destroy");
    if (growth < (size_t)BLOCKS * MIN_SIZE)
        return tour_failed("RSS did not grow with the blocks though each was written");
    if (destroyed.rss > before.rss + growth / 4)
        return tour_failed("RSS did not drop at sh_heap_destroy");
    return 0;
}

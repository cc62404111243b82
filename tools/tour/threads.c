/*
 * threads.c -- the tour's section on per-thread heaps: thread A (the tour's)
 * allocates blocks, thread B frees them, and the counters show where they
 * went.
 *
 * The counter is mallinfo2().uordblks, stackheap's bytes of blocks handed
 * out, when this process's malloc is stackheap's (tour_malloc_is_stackheap);
 * in other builds (sanitizers) mallinfo2 is not ours and the section shows
 * addresses only.  Thread B is created before the first figure and waits on
 * a semaphore, so that what the C library allocates for a new thread is in
 * every figure alike.
 *
 * Checked: A's blocks were counted; after B freed them A's next blocks of
 * that size were mostly (at least half) the ones B freed, back in A's heap;
 * B's own block lies in another 4 MiB segment than A's (a segment belongs to
 * one thread's heap, docs/DESIGN.md); once A freed its blocks the count is
 * back where it started (within SLACK).
 */
#define _GNU_SOURCE
#include "tour.h"

#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>

#define BLOCKS 1000
#define BLOCK_SIZE 1024
#define SEGMENT ((uintptr_t)4 << 20) /* the heap's segments: 4 MiB, aligned (DESIGN) */
#define SLACK (16 * KiB)             /* what else may move the count meanwhile */

static struct {
    void *a_blocks[BLOCKS];   /* A's blocks, freed by B */
    void *b_own;              /* B's own block, from B's heap (freed: an address only) */
    size_t in_use_after_free; /* the count after B's frees, read in B */
    bool counted;             /* mallinfo2 is stackheap's */
    sem_t go;                 /* posted by A once its blocks are made */
} xt;

static size_t in_use(void)
{
    return xt.counted ? mallinfo2().uordblks : 0;
}

static void *thread_b(void *arg)
{
    (void)arg;
    while (sem_wait(&xt.go) != 0)
        ;
    xt.b_own = sh_malloc(BLOCK_SIZE); /* where B's own heap is; only its address is kept */
    if (xt.b_own != NULL)
        memset(xt.b_own, 'b', BLOCK_SIZE);
    sh_free(xt.b_own);
    for (int i = 0; i < BLOCKS; i++)
        sh_free(xt.a_blocks[i]);
    xt.in_use_after_free = in_use();
    return NULL;
}

static bool freed_by_b(const void *p)
{
    for (int i = 0; i < BLOCKS; i++)
        if (xt.a_blocks[i] == p)
            return true;
    return false;
}

/* One row of the table: the step, the count and its change from `prev`. */
static void count_row(const char *step, size_t now, size_t prev, const char *note)
{
    char line[160], b[32], d[40] = "";
    long long delta = (long long)now - (long long)prev;
    if (delta != 0)
        snprintf(d, sizeof d, "%+.1f KiB", (double)delta / KiB);
    if (xt.counted)
        snprintf(line, sizeof line, "    %-33s %10s %11s  %s", step, tour_size(b, sizeof b, now), d,
                 note);
    else
        snprintf(line, sizeof line, "    %-33s %s", step, note);
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == ' ')
        line[--n] = '\0';
    puts(line);
}

int tour_threads(void)
{
    tour_heading("Per-thread heaps, and blocks freed by another thread");
    memset(&xt, 0, sizeof xt);
    xt.counted = tour_malloc_is_stackheap();
    printf("  Each thread allocates from a heap of its own, without a lock; any thread\n"
           "  may free any block.  Thread A (the tour's) allocates %d blocks of %d B,\n"
           "  and thread B frees them.%s\n\n",
           BLOCKS, BLOCK_SIZE,
           xt.counted ? "  \"In use\" is mallinfo2().uordblks: the bytes of\n"
                        "  blocks handed out, as the heap counts them."
                      : "\n  (mallinfo2 is not stackheap's in this build: no counts.)");
    if (sem_init(&xt.go, 0, 0) != 0)
        return tour_failed("sem_init failed");
    pthread_t b;
    if (pthread_create(&b, NULL, thread_b, NULL) != 0) {
        sem_destroy(&xt.go);
        return tour_failed("pthread_create failed");
    }
    if (xt.counted)
        printf("    %-33s %10s %11s\n", "step", "in use", "change");
    size_t start = in_use();
    count_row("before", start, start, "");
    size_t made = 0;
    for (int i = 0; i < BLOCKS; i++) {
        xt.a_blocks[i] = sh_malloc(BLOCK_SIZE);
        if (xt.a_blocks[i] != NULL) {
            memset(xt.a_blocks[i], 'a', BLOCK_SIZE);
            made++;
        }
    }
    size_t allocated = in_use();
    char step[48];
    snprintf(step, sizeof step, "A: %d x sh_malloc(%d)", BLOCKS, BLOCK_SIZE);
    count_row(step, allocated, start, "");
    sem_post(&xt.go);
    pthread_join(b, NULL);
    sem_destroy(&xt.go);
    size_t joined = in_use();
    count_row("B: sh_free of each of A's blocks", xt.in_use_after_free, allocated,
              xt.counted && xt.in_use_after_free >= allocated ? "still counted" : "");

    /* A allocates as many again: its heap takes back the blocks B freed. */
    void *again[BLOCKS];
    int reused = 0;
    for (int i = 0; i < BLOCKS; i++) {
        again[i] = sh_malloc(BLOCK_SIZE);
        if (again[i] != NULL && freed_by_b(again[i]))
            reused++;
    }
    size_t reallocated = in_use();
    char note[64];
    snprintf(note, sizeof note, "%d of B's frees", reused);
    snprintf(step, sizeof step, "A: %d x sh_malloc(%d) again", BLOCKS, BLOCK_SIZE);
    count_row(step, reallocated, joined, note);
    for (int i = 0; i < BLOCKS; i++)
        sh_free(again[i]);
    size_t end = in_use();
    count_row("A: sh_free of each", end, reallocated, "");

    uintptr_t b_at = (uintptr_t)xt.b_own;
    bool apart = b_at != 0;
    size_t nearest = SIZE_MAX;
    for (int i = 0; i < BLOCKS; i++) {
        uintptr_t a_at = (uintptr_t)xt.a_blocks[i];
        size_t d = a_at > b_at ? a_at - b_at : b_at - a_at;
        nearest = d < nearest ? d : nearest;
        apart = apart && (a_at & ~(SEGMENT - 1)) != (b_at & ~(SEGMENT - 1));
    }
    char b1[32];
    printf("\n  B's own block, from B's heap, was at %p: %s from the\n"
           "  nearest of A's, in another 4 MiB segment (a segment's pages belong to one\n"
           "  thread's heap).  A free from another thread takes no lock: the block goes\n"
           "  on a list of its page that only the page's owner, A, empties (B keeps up\n"
           "  to 16 KiB of them to reuse itself, and gives those back when it exits).\n"
           "  A's next %d allocations of that size took %d of them back.\n%s",
           xt.b_own, tour_size(b1, sizeof b1, nearest), BLOCKS, reused,
           xt.counted && xt.in_use_after_free >= allocated
               ? "  Until A took them back, they still counted as in use.\n"
               : "");

    tour_measured.cross_thread_reused = reused;
    tour_measured.cross_thread_blocks = BLOCKS;
    if (made != BLOCKS || xt.b_own == NULL)
        return tour_failed("an allocation returned NULL");
    if (xt.counted && allocated < start + (size_t)BLOCKS * BLOCK_SIZE)
        return tour_failed("A's blocks were not counted as in use");
    if (reused < BLOCKS / 2)
        return tour_failed("A's heap did not take back most of the blocks B freed");
    if (!apart)
        return tour_failed("B's block is in a segment of A's");
    if (xt.counted && (end > start + SLACK || start > end + SLACK))
        return tour_failed("in use did not come back to where it started");
    return 0;
}

/*
 * wl_server.c -- workload 4: a server, larson-style.  THREADS threads, each
 * keeping a working set of random-size objects and replacing random ones,
 * with a share of the frees done by another thread.
 *
 * Each thread holds WORKING_SET objects of 16..4096 B (connections,
 * requests, cache entries) and replaces a random one per operation: check and
 * free the old object, allocate and stamp a new one.  Every HAND_EVERY
 * operations it also hands HAND_COUNT of its objects (random slots, refilled
 * at once) to its neighbour, thread (i + 1) mod THREADS, through the
 * neighbour's mailbox (a mutex-protected list of batches), and frees what
 * its own mailbox holds: so about HAND_COUNT / HAND_EVERY of all frees are
 * cross-thread, of memory another thread allocated, as when a request is
 * built by one worker and retired by another.  A worker that has finished
 * takes no more hand-overs (its sender frees the batch itself): otherwise
 * its mailbox grew for as long as its sender ran on, and the peak RSS
 * measured how far apart the scheduler let the threads finish (one
 * allocator's runs peaked anywhere from 126 to 312 MiB), not the allocator.
 * What is still in a mailbox when every thread has finished is freed by
 * the main thread.
 *
 * Full run: OPS operations per thread; quick (-q): a tenth.
 */
#define _GNU_SOURCE
#include "wl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

enum {
    THREADS = 4,
    WORKING_SET = 10000, /* objects each thread holds */
    OPS = 800000,        /* replacements per thread in a full run */
    HAND_EVERY = 1000,   /* operations between two hand-overs */
    HAND_COUNT = 100,    /* objects handed over each time */
    MIN_SIZE = 16,
    MAX_SIZE = 4096
};

struct object {
    void *p;
    uint32_t size;
    uint64_t tag;
};

/* A hand-over: allocated by the sender, freed by the receiver. */
struct batch {
    struct batch *next;
    struct object object[HAND_COUNT];
};

struct worker {
    pthread_t thread;
    unsigned id;
    pthread_mutex_t mailbox_lock;
    struct batch *mailbox; /* batches handed to this thread, not yet freed */
    bool retired;          /* finished: takes no more batches (under mailbox_lock) */
    struct object *set;    /* WORKING_SET objects, itself malloc'd */
    uint64_t allocated;    /* sum of the stamps this thread wrote */
};

static struct worker workers[THREADS];
static size_t ops_per_thread;

/* Sum of the stamps checked at free, by every thread (relaxed: each thread
   adds once and pthread_join orders that before main reads). */
static _Atomic uint64_t freed_sum;

static void new_object(struct worker *w, wl_rng *r, struct object *o, uint64_t tag)
{
    o->size = (uint32_t)wl_between(r, MIN_SIZE, MAX_SIZE);
    o->tag = tag;
    o->p = wl_malloc(o->size);
    wl_stamp(o->p, o->size, o->tag);
    w->allocated += wl_mix(o->tag ^ o->size);
}

static uint64_t free_object(const struct object *o)
{
    uint64_t sum = wl_check(o->p, o->size, o->tag);
    free(o->p);
    return sum;
}

static uint64_t free_batches(struct batch *b)
{
    uint64_t sum = 0;
    while (b != NULL) {
        struct batch *next = b->next;
        for (size_t i = 0; i < HAND_COUNT; i++)
            sum += free_object(&b->object[i]);
        free(b);
        b = next;
    }
    return sum;
}

static struct batch *take_mailbox(struct worker *w)
{
    pthread_mutex_lock(&w->mailbox_lock);
    struct batch *b = w->mailbox;
    w->mailbox = NULL;
    pthread_mutex_unlock(&w->mailbox_lock);
    return b;
}

static void *serve(void *arg)
{
    struct worker *w = arg;
    struct worker *neighbour = &workers[(w->id + 1) % THREADS];
    wl_rng r = wl_seed(40 + w->id);
    uint64_t tag = (uint64_t)w->id << 56;
    uint64_t freed = 0;

    w->set = wl_malloc(WORKING_SET * sizeof *w->set);
    for (size_t i = 0; i < WORKING_SET; i++)
        new_object(w, &r, &w->set[i], tag++);

    for (size_t op = 1; op <= ops_per_thread; op++) {
        struct object *o = &w->set[wl_next(&r) % WORKING_SET];
        freed += free_object(o);
        new_object(w, &r, o, tag++);

        if (op % HAND_EVERY == 0) {
            struct batch *b = wl_malloc(sizeof *b);
            for (size_t i = 0; i < HAND_COUNT; i++) {
                o = &w->set[wl_next(&r) % WORKING_SET];
                b->object[i] = *o;
                new_object(w, &r, o, tag++);
            }
            pthread_mutex_lock(&neighbour->mailbox_lock);
            if (!neighbour->retired) {
                b->next = neighbour->mailbox;
                neighbour->mailbox = b;
                b = NULL;
            }
            pthread_mutex_unlock(&neighbour->mailbox_lock);
            if (b != NULL) {
                b->next = NULL;
                freed += free_batches(b);
            }
            freed += free_batches(take_mailbox(w));
        }
    }
    pthread_mutex_lock(&w->mailbox_lock);
    w->retired = true;
    pthread_mutex_unlock(&w->mailbox_lock);
    freed += free_batches(take_mailbox(w));
    for (size_t i = 0; i < WORKING_SET; i++)
        freed += free_object(&w->set[i]);
    free(w->set);
    atomic_fetch_add_explicit(&freed_sum, freed, memory_order_relaxed);
    return NULL;
}

int main(int argc, char **argv)
{
    int quick = wl_args(argc, argv, "wl_server");
    ops_per_thread = quick ? OPS / 10 : OPS;

    for (unsigned i = 0; i < THREADS; i++) {
        workers[i].id = i;
        if (pthread_mutex_init(&workers[i].mailbox_lock, NULL) != 0)
            wl_die("cannot initialise a mutex");
    }
    for (unsigned i = 0; i < THREADS; i++)
        if (pthread_create(&workers[i].thread, NULL, serve, &workers[i]) != 0)
            wl_die("cannot create a server thread");
    for (unsigned i = 0; i < THREADS; i++)
        pthread_join(workers[i].thread, NULL);

    uint64_t allocated = 0, freed = 0;
    for (unsigned i = 0; i < THREADS; i++) {
        freed += free_batches(take_mailbox(&workers[i]));
        allocated += workers[i].allocated;
    }
    freed += atomic_load_explicit(&freed_sum, memory_order_relaxed);
    if (freed != allocated)
        wl_die("freed objects sum to %016" PRIx64 ", allocated ones to %016" PRIx64, freed,
               allocated);
    wl_print_checksum(freed);
    return 0;
}

/*
 * wl_churn.c -- workload 8: thread churn (a thread-per-request server, a
 * build tool spawning workers, a thread pool that grows and shrinks).
 *
 * WORKERS short-lived threads run, at most WINDOW at a time (the main thread
 * joins worker k - WINDOW before it starts worker k).  Each worker keeps a
 * small working set of LOCAL objects of 16..1024 B and replaces random ones
 * ALLOCS times; one allocation in HAND_ONE_IN is not kept but handed to a
 * survivor (SURVIVORS long-lived threads, worker k feeding survivor
 * k mod SURVIVORS) through its mailbox, in batches of BATCH.  The worker
 * frees its working set and exits.  A survivor keeps the last KEEP blocks it
 * was handed and frees the oldest as new ones arrive, so blocks outlive the
 * thread that allocated them: the allocator must take frees into the memory
 * of threads that have exited, and must reuse that memory for new threads
 * rather than grow with every thread started.
 *
 * Full run: WORKERS workers; quick (-q): a tenth.
 */
#define _GNU_SOURCE
#include "wl.h"

#include <pthread.h>
#include <stdatomic.h>

enum {
    WORKERS = 2000,  /* short-lived threads in a full run */
    WINDOW = 3,      /* workers running at once */
    SURVIVORS = 2,   /* long-lived threads */
    LOCAL = 256,     /* a worker's working set */
    ALLOCS = 4000,   /* allocations per worker */
    HAND_ONE_IN = 8, /* one allocation in this many goes to a survivor */
    BATCH = 32,      /* blocks per hand-over */
    KEEP = 4096,     /* blocks a survivor holds */
    MIN_SIZE = 16,
    MAX_SIZE = 1024
};

struct object {
    void *p;
    uint32_t size;
    uint64_t tag;
};

/* A hand-over: allocated by a worker, freed by a survivor. */
struct batch {
    struct batch *next;
    size_t count;
    struct object object[BATCH];
};

struct survivor {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t arrived;
    struct batch *mailbox; /* handed over, not yet taken */
    int done;              /* no more batches will come */
};

static struct survivor survivors[SURVIVORS];

/* Sums of the stamps written and checked, by every thread (relaxed: each
   thread adds once before it ends, and pthread_join orders that before main
   reads). */
static _Atomic uint64_t allocated_sum, freed_sum;

static void new_object(wl_rng *r, struct object *o, uint64_t tag, uint64_t *allocated)
{
    o->size = (uint32_t)wl_between(r, MIN_SIZE, MAX_SIZE);
    o->tag = tag;
    o->p = wl_malloc(o->size);
    wl_stamp(o->p, o->size, tag);
    *allocated += wl_mix(tag ^ o->size);
}

static uint64_t free_object(const struct object *o)
{
    uint64_t sum = wl_check(o->p, o->size, o->tag);
    free(o->p);
    return sum;
}

static void hand_over(struct survivor *s, struct batch *b)
{
    pthread_mutex_lock(&s->lock);
    b->next = s->mailbox;
    s->mailbox = b;
    pthread_cond_signal(&s->arrived);
    pthread_mutex_unlock(&s->lock);
}

static void *work(void *arg)
{
    uint64_t id = (uint64_t)(uintptr_t)arg;
    struct survivor *s = &survivors[id % SURVIVORS];
    wl_rng r = wl_seed(80 + id);
    uint64_t tag = id << 32, allocated = 0, freed = 0;
    struct object *local = wl_malloc(LOCAL * sizeof *local);
    struct batch *b = NULL;

    for (size_t i = 0; i < LOCAL; i++)
        new_object(&r, &local[i], tag++, &allocated);
    for (size_t i = 0; i < ALLOCS; i++) {
        if (wl_one_in(&r, HAND_ONE_IN)) {
            if (b == NULL) {
                b = wl_malloc(sizeof *b);
                b->count = 0;
            }
            new_object(&r, &b->object[b->count], tag++, &allocated);
            if (++b->count == BATCH) {
                hand_over(s, b);
                b = NULL;
            }
        } else {
            struct object *o = &local[wl_next(&r) % LOCAL];
            freed += free_object(o);
            new_object(&r, o, tag++, &allocated);
        }
    }
    if (b != NULL)
        hand_over(s, b);
    for (size_t i = 0; i < LOCAL; i++)
        freed += free_object(&local[i]);
    free(local);
    atomic_fetch_add_explicit(&allocated_sum, allocated, memory_order_relaxed);
    atomic_fetch_add_explicit(&freed_sum, freed, memory_order_relaxed);
    return NULL;
}

/* Take batches until the workers are done; keep the last KEEP blocks. */
static void *survive(void *arg)
{
    struct survivor *s = arg;
    struct object *kept = calloc(KEEP, sizeof *kept);
    size_t next = 0;
    uint64_t freed = 0;

    if (kept == NULL)
        wl_die("calloc(%d, %zu) returned NULL", KEEP, sizeof *kept);
    for (;;) {
        pthread_mutex_lock(&s->lock);
        while (s->mailbox == NULL && !s->done)
            pthread_cond_wait(&s->arrived, &s->lock);
        struct batch *b = s->mailbox;
        s->mailbox = NULL;
        int done = s->done;
        pthread_mutex_unlock(&s->lock);
        if (b == NULL && done)
            break;
        while (b != NULL) {
            struct batch *older = b->next;
            for (size_t i = 0; i < b->count; i++) {
                if (kept[next].p != NULL)
                    freed += free_object(&kept[next]);
                kept[next] = b->object[i];
                next = (next + 1) % KEEP;
            }
            free(b);
            b = older;
        }
    }
    for (size_t i = 0; i < KEEP; i++)
        if (kept[i].p != NULL)
            freed += free_object(&kept[i]);
    free(kept);
    atomic_fetch_add_explicit(&freed_sum, freed, memory_order_relaxed);
    return NULL;
}

int main(int argc, char **argv)
{
    int quick = wl_args(argc, argv, "wl_churn");
    size_t workers = quick ? WORKERS / 10 : WORKERS;
    pthread_t running[WINDOW];

    for (size_t i = 0; i < SURVIVORS; i++) {
        struct survivor *s = &survivors[i];
        if (pthread_mutex_init(&s->lock, NULL) != 0 || pthread_cond_init(&s->arrived, NULL) != 0 ||
            pthread_create(&s->thread, NULL, survive, s) != 0)
            wl_die("cannot start survivor thread %zu", i);
    }
    for (size_t k = 0; k < workers; k++) {
        if (k >= WINDOW)
            pthread_join(running[k % WINDOW], NULL);
        if (pthread_create(&running[k % WINDOW], NULL, work, (void *)(uintptr_t)k) != 0)
            wl_die("cannot create worker thread %zu", k);
    }
    for (size_t k = workers > WINDOW ? workers - WINDOW : 0; k < workers; k++)
        pthread_join(running[k % WINDOW], NULL);
    for (size_t i = 0; i < SURVIVORS; i++) {
        pthread_mutex_lock(&survivors[i].lock);
        survivors[i].done = 1;
        pthread_cond_signal(&survivors[i].arrived);
        pthread_mutex_unlock(&survivors[i].lock);
        pthread_join(survivors[i].thread, NULL);
    }

    uint64_t allocated = atomic_load_explicit(&allocated_sum, memory_order_relaxed);
    uint64_t freed = atomic_load_explicit(&freed_sum, memory_order_relaxed);
    if (freed != allocated)
        wl_die("freed blocks sum to %016" PRIx64 ", allocated ones to %016" PRIx64, freed,
               allocated);
    wl_print_checksum(freed);
    return 0;
}

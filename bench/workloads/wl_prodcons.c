/*
 * wl_prodcons.c -- workload 3: producer-consumer.  Every block is freed by a
 * different thread than the one that allocated it.
 *
 * PRODUCERS threads allocate blocks of 16..2048 B (messages, requests, log
 * records), fill each with a byte pattern, and pass them in batches of BATCH
 * through one bounded queue (a mutex and two condition variables; batching
 * keeps the lock off the per-block cost, as real pipelines do) to CONSUMERS
 * threads, which check every block and free it.  The batch records are
 * themselves malloc'd by the producer and freed by the consumer.  With two
 * cores and four threads, an allocator's remote-free path (and whatever it
 * does to get freed memory back to the allocating thread) is on the hot path.
 *
 * The queue holds at most QUEUE_CAP batches, so the memory in flight stays
 * bounded (about QUEUE_CAP * BATCH * 1 KiB) and producers wait when consumers
 * fall behind.
 *
 * Full run: BLOCKS blocks in all; quick (-q): a tenth.
 */
#define _GNU_SOURCE
#include "wl.h"

#include <pthread.h>
#include <stdatomic.h>

enum {
    PRODUCERS = 2,
    CONSUMERS = 2,
    BLOCKS = 2000000, /* blocks produced in a full run, all producers together */
    BATCH = 64,       /* blocks per queue entry */
    QUEUE_CAP = 32,   /* batches the queue holds at most */
    MIN_SIZE = 16,
    MAX_SIZE = 2048
};

struct batch {
    struct batch *next;
    size_t count;
    void *block[BATCH];
    uint32_t size[BATCH];
    uint64_t tag[BATCH];
};

/* The queue: a FIFO list of batches; `length` counts them.  Consumers stop
   when it is empty and `producers_left` is zero. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    struct batch *head, *tail;
    size_t length;
    int producers_left;
} queue = {PTHREAD_MUTEX_INITIALIZER,
           PTHREAD_COND_INITIALIZER,
           PTHREAD_COND_INITIALIZER,
           NULL,
           NULL,
           0,
           PRODUCERS};

/* Sums of the stamps written and of the stamps checked; the threads add to
   them once, at the end (relaxed: pthread_join orders them before main reads). */
static _Atomic uint64_t produced_sum, consumed_sum;

static size_t blocks_per_producer;

static void queue_put(struct batch *b)
{
    pthread_mutex_lock(&queue.lock);
    while (queue.length == QUEUE_CAP)
        pthread_cond_wait(&queue.not_full, &queue.lock);
    b->next = NULL;
    if (queue.tail != NULL)
        queue.tail->next = b;
    else
        queue.head = b;
    queue.tail = b;
    queue.length++;
    pthread_cond_signal(&queue.not_empty);
    pthread_mutex_unlock(&queue.lock);
}

/* Returns the oldest batch, or NULL once the producers are done and the
   queue is empty. */
static struct batch *queue_take(void)
{
    pthread_mutex_lock(&queue.lock);
    while (queue.length == 0 && queue.producers_left > 0)
        pthread_cond_wait(&queue.not_empty, &queue.lock);
    struct batch *b = queue.head;
    if (b != NULL) {
        queue.head = b->next;
        if (queue.head == NULL)
            queue.tail = NULL;
        queue.length--;
        pthread_cond_signal(&queue.not_full);
    }
    pthread_mutex_unlock(&queue.lock);
    return b;
}

static void producer_done(void)
{
    pthread_mutex_lock(&queue.lock);
    queue.producers_left--;
    pthread_cond_broadcast(&queue.not_empty);
    pthread_mutex_unlock(&queue.lock);
}

static void *producer(void *arg)
{
    uint64_t id = (uint64_t)(uintptr_t)arg;
    wl_rng r = wl_seed(30 + id);
    uint64_t sum = 0;
    struct batch *b = NULL;

    for (size_t i = 0; i < blocks_per_producer; i++) {
        if (b == NULL) {
            b = wl_malloc(sizeof *b);
            b->count = 0;
        }
        size_t size = wl_between(&r, MIN_SIZE, MAX_SIZE);
        uint64_t tag = id << 56 | i;
        unsigned char *p = wl_malloc(size);
        memset(p, (int)(tag & 0xFF), size);
        wl_stamp(p, size, tag);
        sum += wl_mix(tag ^ size);
        b->block[b->count] = p;
        b->size[b->count] = (uint32_t)size;
        b->tag[b->count] = tag;
        if (++b->count == BATCH) {
            queue_put(b);
            b = NULL;
        }
    }
    if (b != NULL)
        queue_put(b);
    atomic_fetch_add_explicit(&produced_sum, sum, memory_order_relaxed);
    producer_done();
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    uint64_t sum = 0;
    struct batch *b;

    while ((b = queue_take()) != NULL) {
        for (size_t i = 0; i < b->count; i++) {
            const unsigned char *p = b->block[i];
            size_t size = b->size[i];
            sum += wl_check(p, size, b->tag[i]);
            if (p[size / 2] != (b->tag[i] & 0xFF))
                wl_die("block %p of %zu bytes: middle byte %02x, expected %02x", (void *)p, size,
                       p[size / 2], (unsigned)(b->tag[i] & 0xFF));
            free(b->block[i]);
        }
        free(b);
    }
    atomic_fetch_add_explicit(&consumed_sum, sum, memory_order_relaxed);
    return NULL;
}

int main(int argc, char **argv)
{
    int quick = wl_args(argc, argv, "wl_prodcons");
    pthread_t prod[PRODUCERS], cons[CONSUMERS];

    blocks_per_producer = (quick ? BLOCKS / 10 : BLOCKS) / PRODUCERS;
    for (uintptr_t i = 0; i < CONSUMERS; i++)
        if (pthread_create(&cons[i], NULL, consumer, NULL) != 0)
            wl_die("cannot create a consumer thread");
    for (uintptr_t i = 0; i < PRODUCERS; i++)
        if (pthread_create(&prod[i], NULL, producer, (void *)i) != 0)
            wl_die("cannot create a producer thread");
    for (size_t i = 0; i < PRODUCERS; i++)
        pthread_join(prod[i], NULL);
    for (size_t i = 0; i < CONSUMERS; i++)
        pthread_join(cons[i], NULL);

    uint64_t produced = atomic_load_explicit(&produced_sum, memory_order_relaxed);
    uint64_t consumed = atomic_load_explicit(&consumed_sum, memory_order_relaxed);
    if (consumed != produced)
        wl_die("consumed blocks sum to %016" PRIx64 ", produced ones to %016" PRIx64, consumed,
               produced);
    wl_print_checksum(consumed);
    return 0;
}

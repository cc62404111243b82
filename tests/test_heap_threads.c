/*
 * test_heap_threads.c -- the heap with threads that come and go.
 *
 * Specification tested here (include/stackheap.h, "The heap"):
 *   - any thread may free any block: blocks allocated by producers and freed
 *     by consumers keep their contents while in flight, and nothing breaks;
 *   - a thread that exits with live blocks hands them over: frees arriving
 *     after the owner exited are safe, and the memory is reused;
 *   - nothing leaks across many short-lived threads: resident memory and the
 *     number of mappings stay bounded, and sh_heap_collect(true) brings
 *     resident memory back near the start;
 *   - a first-class heap's sh_heap_destroy releases its own blocks only, not
 *     blocks of exited threads that it adopted;
 *   - a thread reuses the blocks it freed for another thread (borrowing,
 *     src/heap/page.c), never a first-class heap's, and gives back what it
 *     kept when it exits, as a thread that only frees gives back what its
 *     outbox holds.
 *
 * CI runs this program under ThreadSanitizer (SH_WITH_TSAN, set by
 * tests/heap.cmake), where the counts are scaled down.
 */
#include "check.h"

#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>

#include "stackheap.h"

#ifndef SH_WITH_TSAN
#define SH_WITH_TSAN 0
#endif
#ifndef SH_WITH_ASAN
#define SH_WITH_ASAN 0
#endif
static const bool built_with_sanitizer = SH_WITH_ASAN || SH_WITH_TSAN;

/* Counts are divided by this under ThreadSanitizer, and AddressSanitizer (2-3 times slower). */
#if SH_WITH_TSAN
#define SCALE 10
#elif SH_WITH_ASAN
#define SCALE 2
#else
#define SCALE 1
#endif

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)
#define MEDIUM_MAX (128 * KIB) /* larger blocks get their own mapping */

/* ---- helpers -------------------------------------------------------------- */

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* Lines of /proc/self/maps: the number of mappings of the process. */
static size_t mapping_count(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return 0;
    size_t lines = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        lines += c == '\n';
    fclose(f);
    return lines;
}

static bool is_mapped(const void *p)
{
    void *page = (void *)((uintptr_t)p & ~(uintptr_t)(page_size() - 1));
    return msync(page, page_size(), MS_ASYNC) == 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/*
 * A block carries its own description: its first 16 bytes say its size and
 * serial, the rest is a pattern of the serial.  Large blocks are marked every
 * 4 KiB only (touching every byte of them would only measure memset).
 */
typedef struct block_head {
    uint64_t size;
    uint64_t serial;
} block_head;

static unsigned char mark(uint64_t serial, size_t i)
{
    return (unsigned char)(serial * 29u + i * 11u + 5u);
}

static size_t mark_step(size_t size)
{
    return size > MEDIUM_MAX ? 4 * KIB : 1;
}

/* A new block of `size` (>= sizeof(block_head)) bytes marked with `serial`, or NULL. */
static void *make_block(size_t size, uint64_t serial)
{
    unsigned char *p = sh_malloc(size);
    if (p == NULL)
        return NULL;
    block_head h = {size, serial};
    memcpy(p, &h, sizeof h);
    for (size_t i = sizeof h; i < size; i += mark_step(size))
        p[i] = mark(serial, i);
    p[size - 1] = mark(serial, size - 1);
    return p;
}

/* True if p still holds what make_block wrote; the size is read from the block. */
static bool block_is_intact(const void *p)
{
    const unsigned char *b = p;
    block_head h;
    memcpy(&h, b, sizeof h);
    if (h.size < sizeof h || sh_usable_size(p) < h.size)
        return false;
    for (size_t i = sizeof h; i < h.size; i += mark_step(h.size))
        if (b[i] != mark(h.serial, i))
            return false;
    return b[h.size - 1] == mark(h.serial, h.size - 1);
}

/* 8..4096 bytes (at least a header), and one block in 500 above MEDIUM_MAX. */
static size_t random_size(uint64_t *rng)
{
    uint64_t r = xorshift(rng);
    if (r % 500 == 0)
        return MEDIUM_MAX + 1 + (size_t)(r >> 20) % (400 * KIB);
    size_t size = 8 + (size_t)(r >> 16) % 4089;
    return size < sizeof(block_head) ? sizeof(block_head) : size;
}

/* ---- producer / consumer ------------------------------------------------------ */

/*
 * Single-producer single-consumer rings.  ring[p][c] carries blocks from
 * producer p to consumer c; producer p sends its i-th block to consumer i % 2,
 * so every block is freed by a thread other than the one that allocated it.
 */
#define PRODUCERS 2
#define CONSUMERS 2
#define RING_SLOTS 1024
#define BLOCKS_PER_PRODUCER (500000 / SCALE)

typedef struct ring {
    _Alignas(64) _Atomic size_t head; /* next slot to read (consumer) */
    _Alignas(64) _Atomic size_t tail; /* next slot to write (producer) */
    void *slot[RING_SLOTS];
} ring;

static ring rings[PRODUCERS][CONSUMERS];
static atomic_ulong pc_damaged, pc_received, pc_failed, pc_large;

static void ring_push(ring *r, void *p)
{
    size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    /* acquire: the consumer has finished with the slot it released */
    while (t - atomic_load_explicit(&r->head, memory_order_acquire) == RING_SLOTS)
        sched_yield();
    r->slot[t % RING_SLOTS] = p;
    /* release: the slot (and the block's bytes) are visible before the new tail */
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
}

/* The next block of r, or NULL if it is empty now. */
static void *ring_pop(ring *r)
{
    size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    /* acquire: pairs with ring_push's release */
    if (atomic_load_explicit(&r->tail, memory_order_acquire) == h)
        return NULL;
    void *p = r->slot[h % RING_SLOTS];
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
    return p;
}

static void *producer(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    uint64_t rng = 0x9E3779B97F4A7C15ull * (id + 1);
    for (uint64_t i = 0; i < BLOCKS_PER_PRODUCER; i++) {
        size_t size = random_size(&rng);
        void *p = make_block(size, i * PRODUCERS + id);
        if (p == NULL) {
            atomic_fetch_add(&pc_failed, 1);
            p = make_block(sizeof(block_head), 0); /* keep the counts right */
        }
        if (size > MEDIUM_MAX)
            atomic_fetch_add(&pc_large, 1);
        ring_push(&rings[id][i % CONSUMERS], p);
    }
    return NULL; /* exits while consumers still free its blocks */
}

static void *consumer(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    uint64_t want = (uint64_t)BLOCKS_PER_PRODUCER * PRODUCERS / CONSUMERS, got = 0;
    unsigned long damaged = 0;
    while (got < want) {
        bool idle = true;
        for (unsigned p = 0; p < PRODUCERS; p++) {
            void *b = ring_pop(&rings[p][id]);
            if (b == NULL)
                continue;
            idle = false;
            if (!block_is_intact(b))
                damaged++;
            sh_free(b);
            got++;
        }
        if (idle)
            sched_yield();
    }
    atomic_fetch_add(&pc_damaged, damaged);
    atomic_fetch_add(&pc_received, got);
    return NULL;
}

static void blocks_freed_by_other_threads_arrive_intact(void)
{
    double start = now_s();
    pthread_t prod[PRODUCERS], cons[CONSUMERS];
    for (unsigned i = 0; i < CONSUMERS; i++)
        CHECK(pthread_create(&cons[i], NULL, consumer, (void *)(uintptr_t)i) == 0);
    for (unsigned i = 0; i < PRODUCERS; i++)
        CHECK(pthread_create(&prod[i], NULL, producer, (void *)(uintptr_t)i) == 0);
    for (unsigned i = 0; i < PRODUCERS; i++)
        pthread_join(prod[i], NULL);
    for (unsigned i = 0; i < CONSUMERS; i++)
        pthread_join(cons[i], NULL);
    printf("     %lu blocks (%lu above 128 KiB) from %d producers to %d consumers in %.2f s\n",
           atomic_load(&pc_received), atomic_load(&pc_large), PRODUCERS, CONSUMERS,
           now_s() - start);
    CHECK_EQ_U(atomic_load(&pc_failed), 0);
    CHECK_EQ_U(atomic_load(&pc_received), (uint64_t)BLOCKS_PER_PRODUCER * PRODUCERS);
    CHECK_EQ_U(atomic_load(&pc_damaged), 0);
}

/* ---- many short-lived threads ------------------------------------------------------- */

/*
 * Each short-lived thread frees blocks that earlier (now exited) threads left
 * in the mailbox, allocates its own, frees half of them, leaves the other half
 * in the mailbox, and exits.
 */
#define SHORT_THREADS (1000 / SCALE)
#define AT_ONCE 4
#define MAILBOX_SLOTS 2048
#define BLOCKS_PER_THREAD 200

static struct {
    pthread_mutex_t lock;
    void *slot[MAILBOX_SLOTS];
    size_t count;
} mailbox = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};

static atomic_ulong st_damaged, st_failed, st_freed_late;

/* Take up to max blocks out of the mailbox into out; returns how many. */
static size_t mailbox_take(void **out, size_t max)
{
    pthread_mutex_lock(&mailbox.lock);
    size_t n = 0;
    while (n < max && mailbox.count > 0)
        out[n++] = mailbox.slot[--mailbox.count];
    pthread_mutex_unlock(&mailbox.lock);
    return n;
}

/* Leave p in the mailbox; false if it is full. */
static bool mailbox_put(void *p)
{
    pthread_mutex_lock(&mailbox.lock);
    bool ok = mailbox.count < MAILBOX_SLOTS;
    if (ok)
        mailbox.slot[mailbox.count++] = p;
    pthread_mutex_unlock(&mailbox.lock);
    return ok;
}

/* Free up to max (<= BLOCKS_PER_THREAD) blocks of the mailbox; returns how many were damaged. */
static unsigned long free_from_mailbox(size_t max, size_t *freed)
{
    void *taken[BLOCKS_PER_THREAD];
    unsigned long damaged = 0;
    size_t n = mailbox_take(taken, max);
    for (size_t i = 0; i < n; i++) {
        damaged += !block_is_intact(taken[i]);
        sh_free(taken[i]);
    }
    atomic_fetch_add(&st_freed_late, n);
    *freed = n;
    return damaged;
}

static void *short_lived(void *arg)
{
    uint64_t id = (uint64_t)(uintptr_t)arg;
    uint64_t rng = 0xD1B54A32D192ED03ull ^ (id * 0x9E3779B97F4A7C15ull);
    size_t freed;
    /* as many as it leaves (at most), so that the mailbox does not fill up */
    unsigned long damaged = free_from_mailbox(BLOCKS_PER_THREAD / 2 + 2, &freed);
    void *mine[BLOCKS_PER_THREAD + 2];
    unsigned n = 0;
    for (; n < BLOCKS_PER_THREAD; n++) {
        size_t size = 16 + (size_t)(xorshift(&rng) % 3000);
        if ((mine[n] = make_block(size, id * 1000 + n)) == NULL)
            break;
    }
    if ((mine[n] = make_block(40 * KIB, id)) != NULL) /* a medium block */
        n++;
    if (id % 10 == 0 && (mine[n] = make_block(300 * KIB, id)) != NULL) /* a large one */
        n++;
    if (n < BLOCKS_PER_THREAD + 1)
        atomic_fetch_add(&st_failed, 1);
    for (unsigned i = 0; i < n; i++) {
        if (i % 2 == 0 && mailbox_put(mine[i]))
            continue; /* for a later thread (or main) to free */
        damaged += !block_is_intact(mine[i]);
        sh_free(mine[i]);
    }
    atomic_fetch_add(&st_damaged, damaged);
    return NULL;
}

static void many_short_lived_threads_leave_no_growing_footprint(void)
{
    sh_heap_collect(true);
    size_t rss_start = rss_bytes(), maps_start = mapping_count();
    size_t rss_early = 0, maps_early = 0, rss_peak = 0, maps_peak = 0;
    unsigned early = 0; /* threads run when rss_early was measured */
    double start = now_s();
    for (unsigned t = 0; t < SHORT_THREADS; t += AT_ONCE) {
        pthread_t th[AT_ONCE];
        for (unsigned i = 0; i < AT_ONCE; i++)
            CHECK(pthread_create(&th[i], NULL, short_lived, (void *)(uintptr_t)(t + i)) == 0);
        for (unsigned i = 0; i < AT_ONCE; i++)
            pthread_join(th[i], NULL);
        size_t rss = rss_bytes(), maps = mapping_count();
        if (rss_early == 0 && t + AT_ONCE >= SHORT_THREADS / 10) {
            rss_early = rss;
            maps_early = maps;
            early = t + AT_ONCE;
        }
        if (rss > rss_peak)
            rss_peak = rss;
        if (maps > maps_peak)
            maps_peak = maps;
    }
    size_t rss_end = rss_bytes(), maps_end = mapping_count();
    /* the blocks still in the mailbox: their threads are all gone */
    unsigned long damaged = 0;
    size_t freed;
    do
        damaged += free_from_mailbox(BLOCKS_PER_THREAD, &freed);
    while (freed > 0);
    sh_heap_collect(true);
    size_t rss_final = rss_bytes(), maps_final = mapping_count();
    printf("     %d threads in %.2f s; RSS KiB: start %zu, after %u threads %zu, peak %zu, "
           "end %zu, after collect %zu; mappings: start %zu, after %u threads %zu, peak %zu, "
           "end %zu, after collect %zu; %lu blocks freed after their thread exited\n",
           SHORT_THREADS, now_s() - start, rss_start / KIB, early, rss_early / KIB, rss_peak / KIB,
           rss_end / KIB, rss_final / KIB, maps_start, early, maps_early, maps_peak, maps_end,
           maps_final, atomic_load(&st_freed_late));
    CHECK_EQ_U(atomic_load(&st_failed), 0);
    CHECK_EQ_U(atomic_load(&st_damaged) + damaged, 0);
    CHECK(atomic_load(&st_freed_late) > SHORT_THREADS * 10);
    /*
     * No growth after the first tenth of the threads, and everything back at the
     * end.  Sanitizers keep memory and mappings of their own per thread (shadow,
     * fake stacks, thread contexts), so their builds only print the figures.
     */
    if (!built_with_sanitizer) {
        CHECK(maps_peak <= maps_early + 32);
        CHECK(maps_final <= maps_start + 32);
        CHECK(rss_peak <= rss_early + 16 * MIB);
        CHECK(rss_final <= rss_start + 8 * MIB);
    }
}

/* ---- frees after the owner exited --------------------------------------------------- */

#define ORPHANS 10000

static void *allocate_and_exit(void *arg)
{
    void **blocks = arg;
    for (unsigned i = 0; i < ORPHANS; i++) {
        size_t size = i % 1000 == 999 ? 200 * KIB : i % 100 == 99 ? 20 * KIB : 16 + i % 2000;
        blocks[i] = make_block(size, i);
    }
    return NULL;
}

static void frees_after_the_owner_exited_are_safe_and_memory_is_reused(void)
{
    static void *blocks[ORPHANS];
    pthread_t t;
    CHECK(pthread_create(&t, NULL, allocate_and_exit, blocks) == 0);
    pthread_join(t, NULL);
    for (unsigned i = 0; i < ORPHANS; i++) {
        CHECK(blocks[i] != NULL);
        CHECK(block_is_intact(blocks[i]));
        sh_free(blocks[i]);
    }
    /* the same work again, in this thread: the heap still works */
    for (unsigned i = 0; i < ORPHANS; i++) {
        blocks[i] = make_block(16 + i % 2000, i + 7);
        CHECK(blocks[i] != NULL);
    }
    for (unsigned i = 0; i < ORPHANS; i++) {
        CHECK(block_is_intact(blocks[i]));
        sh_free(blocks[i]);
    }
    /* and a new thread does it too */
    CHECK(pthread_create(&t, NULL, allocate_and_exit, blocks) == 0);
    pthread_join(t, NULL);
    for (unsigned i = 0; i < ORPHANS; i++) {
        CHECK(blocks[i] != NULL);
        CHECK(block_is_intact(blocks[i]));
        sh_free(blocks[i]);
    }
    sh_heap_collect(true);
}

/* Blocks freed by another thread while their owner is exiting. */
typedef struct handover {
    void *blocks[ORPHANS];
    _Atomic unsigned ready; /* blocks published so far */
} handover;

static void *allocate_publish_and_exit(void *arg)
{
    handover *h = arg;
    for (unsigned i = 0; i < ORPHANS; i++) {
        h->blocks[i] = make_block(16 + (i * 7) % 1500, i);
        /* release: the block's bytes before its publication */
        atomic_store_explicit(&h->ready, i + 1, memory_order_release);
    }
    return NULL;
}

static void *free_published(void *arg)
{
    handover *h = arg;
    unsigned long damaged = 0;
    for (unsigned i = 0; i < ORPHANS; i++) {
        while (atomic_load_explicit(&h->ready, memory_order_acquire) <= i)
            sched_yield();
        if (h->blocks[i] == NULL || !block_is_intact(h->blocks[i]))
            damaged++;
        sh_free(h->blocks[i]);
    }
    return (void *)(uintptr_t)damaged;
}

static void frees_racing_with_the_owners_exit_are_safe(void)
{
    for (unsigned round = 0; round < 20 / SCALE + 1; round++) {
        static handover h;
        atomic_store(&h.ready, 0);
        pthread_t owner, freer;
        CHECK(pthread_create(&freer, NULL, free_published, &h) == 0);
        CHECK(pthread_create(&owner, NULL, allocate_publish_and_exit, &h) == 0);
        void *damaged;
        pthread_join(owner, NULL);
        pthread_join(freer, &damaged);
        CHECK_EQ_U((uintptr_t)damaged, 0);
    }
    sh_heap_collect(true);
}

/* ---- first-class heaps and adopted segments ---------------------------------------------- */

static void *leave_one_block(void *arg)
{
    void **out = arg;
    out[0] = make_block(100, 1);      /* in a small page */
    out[1] = make_block(20 * KIB, 2); /* in a medium page */
    return NULL;
}

static void destroying_a_heap_keeps_blocks_it_adopted_from_an_exited_thread(void)
{
    /*
     * The header: "If its thread exits first, its blocks stay valid (other
     * threads adopt them)".  A first-class heap that needs a page may adopt
     * the exited thread's segment; destroying that heap must not take the
     * exited thread's live blocks with it.
     */
    sh_heap_collect(true); /* no abandoned segment is left from earlier tests */
    void *left[2] = {NULL, NULL};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, leave_one_block, left) == 0);
    pthread_join(t, NULL);
    CHECK(left[0] != NULL);
    CHECK(left[1] != NULL);
    sh_heap *h = sh_heap_new();
    CHECK(h != NULL);
    void *a = sh_heap_malloc(h, 100);
    void *b = sh_heap_malloc(h, 20 * KIB);
    CHECK(a != NULL);
    CHECK(b != NULL);
    sh_heap_destroy(h);
    for (unsigned i = 0; i < 2; i++) {
        if (!is_mapped(left[i])) {
            fprintf(stderr,
                    "  BUG src/heap/segment.c sh_segment_page_alloc: a first-class heap "
                    "adopted (sh_segment_reclaim_one) the abandoned segment of an exited "
                    "thread, and sh_heap_destroy (sh_segment_release_all) unmapped it "
                    "with the live block %p in it\n",
                    left[i]);
            CHECK(is_mapped(left[i]));
        }
        CHECK(block_is_intact(left[i]));
        sh_free(left[i]);
    }
}

/* A thread that leaves one 60000-byte block live and exits. */
static void *leave_a_60000_byte_block(void *arg)
{
    void **out = arg;
    *out = sh_malloc(60000);
    if (*out != NULL)
        memset(*out, 0x5A, 60000);
    return NULL;
}

/* 100 threads in turn each leave one 60000-byte block live (medium pages
   of 1 MiB hold 16 such blocks): the next thread adopts the exited one's
   segment and allocates into the page it left, so the blocks share a few
   pages (glibc: 6).  Before: each in a page of its own, 100 pages. */
static void blocks_left_by_exited_threads_share_pages(void)
{
    enum { THREADS = 100 };
    void *blocks[THREADS];
    uintptr_t pages[THREADS];
    size_t distinct = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, leave_a_60000_byte_block, &blocks[i]) == 0);
        pthread_join(t, NULL);
        CHECK(blocks[i] != NULL);
        uintptr_t page = (uintptr_t)blocks[i] >> 20;
        bool seen = false;
        for (size_t j = 0; j < distinct; j++)
            seen = seen || pages[j] == page;
        if (!seen)
            pages[distinct++] = page;
    }
    fprintf(stderr,
            "     100 blocks of 60000 bytes left by exited threads: %zu distinct 1 MiB pages\n",
            distinct);
    CHECK(distinct <= 12);
    for (int i = 0; i < THREADS; i++)
        sh_free(blocks[i]);
}

/* ---- borrowing ------------------------------------------------------------- */

enum { BORROWED = 64 };

/* A thread that frees BORROWED blocks of another thread's, then allocates
   as many of `allocate` bytes (0: none), and waits to be told to exit. */
typedef struct borrow_job {
    void **theirs;
    size_t allocate;
    void *mine[BORROWED];
    sem_t freed, may_exit;
    pthread_t thread;
} borrow_job;

static void *free_theirs(void *arg)
{
    borrow_job *job = arg;
    sh_free(sh_malloc(16)); /* this thread's heap exists before the frees */
    for (int i = 0; i < BORROWED; i++)
        sh_free(job->theirs[i]);
    for (int i = 0; job->allocate != 0 && i < BORROWED; i++)
        job->mine[i] = sh_malloc(job->allocate);
    sem_post(&job->freed);
    sem_wait(&job->may_exit);
    return NULL;
}

/* Start job's thread and wait until it has freed (and allocated). */
static void borrow_job_start(borrow_job *job)
{
    sem_init(&job->freed, 0, 0);
    sem_init(&job->may_exit, 0, 0);
    CHECK(pthread_create(&job->thread, NULL, free_theirs, job) == 0);
    sem_wait(&job->freed);
}

static void borrow_job_end(borrow_job *job)
{
    sem_post(&job->may_exit);
    pthread_join(job->thread, NULL);
    sem_destroy(&job->freed);
    sem_destroy(&job->may_exit);
}

static size_t in_use_bytes(void)
{
    return mallinfo2().uordblks;
}

static void a_thread_reuses_the_blocks_it_freed_for_another(void)
{
    void *theirs[BORROWED];
    for (int i = 0; i < BORROWED; i++)
        CHECK((theirs[i] = sh_malloc(48)) != NULL);
    borrow_job job = {.theirs = theirs, .allocate = 48};
    borrow_job_start(&job);
    int reused = 0;
    for (int i = 0; i < BORROWED; i++)
        for (int j = 0; j < BORROWED; j++)
            reused += job.mine[i] == theirs[j];
    fprintf(stderr,
            "     %d of the %d blocks it freed came back from the freeing thread's malloc\n",
            reused, BORROWED);
    CHECK(reused == BORROWED);
    /* they are live again, now the other thread's to free or keep */
    for (int i = 0; i < BORROWED; i++)
        memset(job.mine[i], 0x6B, 48);
    for (int i = 0; i < BORROWED; i++)
        sh_free(job.mine[i]); /* the owner frees its own blocks */
    borrow_job_end(&job);
}

static void blocks_kept_for_reuse_go_back_when_the_thread_exits(void)
{
    if (built_with_sanitizer) {
        fprintf(stderr, "     skipped: mallinfo2 is the sanitizer's in this build\n");
        return;
    }
    void *theirs[BORROWED];
    for (int i = 0; i < BORROWED; i++)
        CHECK((theirs[i] = sh_malloc(1000)) != NULL);
    borrow_job job = {.theirs = theirs, .allocate = 0};
    borrow_job_start(&job);
    size_t held = in_use_bytes(); /* the pages still count the borrowed blocks */
    borrow_job_end(&job);
    sh_heap_collect(false); /* this thread takes back what arrived on its pages */
    size_t after = in_use_bytes();
    fprintf(stderr,
            "     in use after another thread freed 64 of this one's 1000-byte blocks: %zu bytes, "
            "after it exited: %zu\n",
            held, after);
    CHECK(held >= after + BORROWED * 1000);
}

/* Frees the blocks of arg (a NULL-ended array) without allocating first:
   the thread has no heap until its first free. */
static void *free_only(void *arg)
{
    for (void **p = arg; *p != NULL; p++)
        sh_free(*p);
    return NULL;
}

static void a_thread_that_only_frees_gives_every_block_back_when_it_exits(void)
{
    if (built_with_sanitizer) {
        fprintf(stderr, "     skipped: mallinfo2 is the sanitizer's in this build\n");
        return;
    }
    /* runs of one page (held in the freeing thread's outbox, pushed a run
       at a time) and blocks that alternate between pages (pushed as the
       page changes) */
    enum { RUN_BLOCKS = 48, MIXED = 64 };
    void *theirs[RUN_BLOCKS + MIXED + 1];
    size_t bytes = 0;
    for (int i = 0; i < RUN_BLOCKS + MIXED; i++) {
        size_t size = i < RUN_BLOCKS || i % 2 == 0 ? 256 : 3000;
        CHECK((theirs[i] = sh_malloc(size)) != NULL);
        memset(theirs[i], 0x5A, size);
        bytes += size;
    }
    theirs[RUN_BLOCKS + MIXED] = NULL;
    sh_heap_collect(false);
    size_t before = in_use_bytes();
    pthread_t t;
    CHECK(pthread_create(&t, NULL, free_only, theirs) == 0);
    pthread_join(t, NULL);
    sh_heap_collect(false); /* this thread takes back what arrived on its pages */
    size_t after = in_use_bytes();
    fprintf(stderr,
            "     in use before a thread that never allocated freed %d of this one's blocks "
            "(%zu bytes): %zu bytes, after it exited: %zu\n",
            RUN_BLOCKS + MIXED, bytes, before, after);
    CHECK(before >= after + bytes);
    /* and they are this thread's to reuse: the same pages serve it again */
    void *again[RUN_BLOCKS];
    int reused = 0;
    for (int i = 0; i < RUN_BLOCKS; i++) {
        CHECK((again[i] = sh_malloc(256)) != NULL);
        for (int j = 0; j < RUN_BLOCKS; j++)
            reused += again[i] == theirs[j];
    }
    fprintf(stderr, "     %d of %d new 256-byte blocks are ones the other thread freed\n", reused,
            RUN_BLOCKS);
    CHECK(reused > 0);
    for (int i = 0; i < RUN_BLOCKS; i++)
        sh_free(again[i]);
}

/* A loop that frees what it allocates never runs its page's free list dry
   (the owner's frees go back on it), so malloc's slow path, which takes
   what other threads freed, does not come; the page's heartbeat does
   (page.c, sh_page_beat: every 256 frees by the owner). */
static void a_busy_loop_still_takes_back_what_other_threads_freed(void)
{
    enum { GIVEN = 32, LOOPS = 2000 };
    void *given[GIVEN + 1];
    for (int i = 0; i < GIVEN; i++)
        CHECK((given[i] = sh_malloc(64)) != NULL);
    given[GIVEN] = NULL;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, free_only, given) == 0);
    pthread_join(t, NULL); /* all of them are on their pages' thread_free now */
    int back = 0, same = 0;
    void *first = NULL;
    for (int i = 0; i < LOOPS; i++) {
        void *p = sh_malloc(64);
        CHECK(p != NULL);
        if (i == 0)
            first = p;
        same += p == first;
        for (int j = 0; j < GIVEN; j++)
            back += p == given[j];
        sh_free(p);
    }
    fprintf(stderr,
            "     %d of %d malloc+free pairs reused the first block, %d got one the other "
            "thread had freed\n",
            same, LOOPS, back);
    CHECK(same > LOOPS / 10); /* LIFO: the block just freed comes back */
    CHECK(back > 0);
}

static void *free_one(void *arg)
{
    void **p = arg;
    sh_free(sh_malloc(16));
    sh_free(p[0]); /* a first-class heap's block */
    sem_post((sem_t *)p[1]);
    sem_wait((sem_t *)p[2]);
    void *got[BORROWED];
    for (int i = 0; i < BORROWED; i++) {
        void *q = got[i] = sh_malloc(48);
        if (q == p[0]) {
            fprintf(stderr,
                    "  BUG src/heap/page.c sh_page_free_foreign: a first-class heap's block "
                    "was kept for reuse and handed out after sh_heap_destroy\n");
            p[3] = q;
        }
        memset(q, 0x11, 48);
    }
    for (int i = 0; i < BORROWED; i++)
        sh_free(got[i]);
    return NULL;
}

static void a_first_class_heaps_blocks_are_not_borrowed(void)
{
    sh_heap *h = sh_heap_new();
    CHECK(h != NULL);
    sem_t freed, destroyed;
    sem_init(&freed, 0, 0);
    sem_init(&destroyed, 0, 0);
    void *args[4] = {sh_heap_malloc(h, 48), &freed, &destroyed, NULL};
    CHECK(args[0] != NULL);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, free_one, args) == 0);
    sem_wait(&freed);
    sh_heap_destroy(h); /* its pages go, the block freed by the thread with them */
    sem_post(&destroyed);
    pthread_join(t, NULL);
    CHECK(args[3] == NULL);
}

int main(void)
{
    RUN(blocks_freed_by_other_threads_arrive_intact);
    RUN(blocks_left_by_exited_threads_share_pages);
    RUN(many_short_lived_threads_leave_no_growing_footprint);
    RUN(frees_after_the_owner_exited_are_safe_and_memory_is_reused);
    RUN(frees_racing_with_the_owners_exit_are_safe);
    RUN(destroying_a_heap_keeps_blocks_it_adopted_from_an_exited_thread);
    RUN(a_thread_reuses_the_blocks_it_freed_for_another);
    RUN(blocks_kept_for_reuse_go_back_when_the_thread_exits);
    RUN(a_thread_that_only_frees_gives_every_block_back_when_it_exits);
    RUN(a_busy_loop_still_takes_back_what_other_threads_freed);
    RUN(a_first_class_heaps_blocks_are_not_borrowed);
    return check_report();
}

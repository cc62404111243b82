/*
 * heap.c -- heaps: one per thread, plus first-class heaps; their life cycle.
 *
 * A thread's heap is created by its first allocation (the fast path finds
 * the shared empty heap, whose pages have no free block, and falls into the
 * slow path, which lands here).  At thread exit a pthread key destructor
 * collects the heap, unmaps what is empty and abandons the rest (see
 * segment.c).  First-class heaps belong to the thread that made them; its
 * exit abandons them the same way.
 *
 * Heap structs come from a pool of mapped chunks and are never unmapped, so
 * a pointer to a heap read by another thread always points at a heap.
 *
 * Global state: the pool, the key, and the at-fork handlers, in `global`.
 * The mutexes of the library (pool, abandoned and cached segments, large
 * blocks and their cache, span segments)
 * are taken by the fork handlers so that a child never inherits one locked.
 */
#define _GNU_SOURCE
#include "heap_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define E1 &sh_empty_page
#define E4 E1, E1, E1, E1
#define E16 E4, E4, E4, E4
sh_page sh_empty_page;
sh_heap sh_empty_heap = {.small_direct = {E16, E16, E16, E16, E16, E16, E16, E16, E1},
                         .direct = {E16, E16, E16, E1, E1}};
_Static_assert(SH_SMALL_LOOKUP_MAX / 8 + 1 == 129, "small_direct lists 129 pages");
_Static_assert(SH_BINS == 50, "sh_empty_heap.direct lists SH_BINS pages");

__thread sh_heap *sh_tls_heap __attribute__((tls_model("initial-exec"))) = &sh_empty_heap;
__thread uintptr_t sh_tls_thread_id __attribute__((tls_model("initial-exec"))) = SH_NO_THREAD;
__thread sh_heap *sh_tls_default __attribute__((tls_model("initial-exec")));
__thread uintptr_t sh_tls_owner_id __attribute__((tls_model("initial-exec"))) = SH_NO_THREAD;
__thread sh_segment *sh_tls_own_seg __attribute__((tls_model("initial-exec"))) = SH_NO_SEGMENT;
int sh_check_state;

/* The tools' switches that the allocation paths read: set by sampled.c and
   profile.c, defined here beside the heap's other globals so that a process
   running no tool touches no page of the tools' data (written, such a page
   becomes resident; read, too, on a kernel that maps no shared zero page,
   as these machines' does not). */
unsigned sh_sample_rate;
uintptr_t sh_sampled_lo, sh_sampled_hi;
int sh_prof_mode;
_Atomic uint16_t *sh_prof_filter;
_Atomic bool sh_prof_stopped;

uint8_t sh_small_bin_first[SH_BINS], sh_small_bin_last[SH_BINS];
uint64_t sh_bin_magic[SH_BINS];

static struct {
    pthread_once_t once;
    pthread_key_t key;
    pthread_mutex_t pool_lock;
    sh_heap *pool; /* free heap structs */
    _Atomic uintptr_t next_thread_id;
    _Atomic int atfork_done;
    sh_heap *fresh, *fresh_end; /* never-used structs of the last chunk (untouched pages) */
} global = {PTHREAD_ONCE_INIT, 0, PTHREAD_MUTEX_INITIALIZER, NULL, 1, 0, NULL, NULL};

static void thread_done(void *arg);

static void global_init(void)
{
    sh_harden_init(); /* the keys, before the first page is carved */
    for (unsigned b = 0; b < SH_BINS; b++) {
        /* first > last: none yet (all ones, not a vector of 1s read from
           .rodata: options.c) */
        sh_small_bin_first[b] = UINT8_MAX;
        sh_small_bin_last[b] = 0;
        if (b > 0)
            sh_bin_magic[b] = UINT64_MAX / sh_bin_size(b) + 1;
    }
    for (unsigned i = SH_SMALL_LOOKUP_MAX / 8 + 1; i-- > 0;) {
        unsigned b = sh_bin_of(i == 0 ? 1 : (size_t)i * 8);
        if (sh_small_bin_first[b] > sh_small_bin_last[b])
            sh_small_bin_last[b] = (uint8_t)i;
        sh_small_bin_first[b] = (uint8_t)i;
    }
    sh_purge_delay_ms = sh_option_purge_delay_ms();
    if (!sh_checking()) { /* check mode guards and records every block already */
        sh_sample_rate = sh_option_sample();
        const char *prof = sh_env_on(sh_env_profile);
        if (prof != NULL)
            sh_prof_init(prof);
    }
    if (sh_prof_mode != SH_PROF_OFF && sh_sample_rate != 0) {
        sh_warning("STACKHEAP_SAMPLE is off while STACKHEAP_PROFILE is on");
        sh_sample_rate = 0;
    }
    sh_background_init();
    if (sh_env_on(sh_env_stats) != NULL)
        atexit(sh_stats_print);
    if (pthread_key_create(&global.key, thread_done) != 0)
        sh_fatal("cannot create the thread-exit key of the heap (pthread_key_create failed): "
                 "too many keys in this process");
}

/* ---- the pool of heap structs ---------------------------------------------- */

static sh_heap *heap_get(void)
{
    sh_lock(&global.pool_lock);
    sh_heap *h = global.pool;
    if (h != NULL) {
        global.pool = h->pool_next;
    } else {
        if (global.fresh == global.fresh_end) { /* structs are taken from a chunk in order, so
                                                    its pages are touched only as needed */
            size_t chunk = (size_t)64 << 10;
            sh_heap *hs = sh_os_map(chunk);
            if (hs != NULL) {
                global.fresh = hs;
                global.fresh_end = hs + chunk / sizeof(sh_heap);
            }
        }
        if (global.fresh != global.fresh_end)
            h = global.fresh++;
    }
    sh_unlock(&global.pool_lock);
    if (h == NULL)
        return NULL;
    memset(h, 0, sizeof *h);
    for (unsigned b = 0; b < SH_BINS; b++)
        h->direct[b] = &sh_empty_page;
    for (unsigned i = 0; i <= SH_SMALL_LOOKUP_MAX / 8; i++)
        h->small_direct[i] = &sh_empty_page;
    h->purge_check_at = sh_now_ms() + sh_purge_delay_ms;
    h->trim_seen = atomic_load_explicit(&sh_trim_epoch, memory_order_relaxed);
    return h;
}

static void heap_put(sh_heap *h)
{
    h->thread_id = 0;
    h->dead = true;
    sh_lock(&global.pool_lock);
    h->pool_next = global.pool;
    global.pool = h;
    sh_unlock(&global.pool_lock);
}

/* ---- fork ----------------------------------------------------------------- */

__thread bool sh_tls_forking __attribute__((tls_model("initial-exec")));

static void fork_prepare(void)
{
    sh_lock(&global.pool_lock);
    sh_segment_lock_for_fork(0);
    sh_large_lock_for_fork(0);
    sh_span_lock_for_fork(0);
    sh_os_lock_for_fork(0);
    sh_sampled_lock_for_fork(0);
    sh_prof_lock_for_fork(0);
    if (sh_check_state == SH_CHECK_ON)
        sh_check_lock_for_fork(0);
    sh_tls_forking = true; /* the program's handlers still to run may allocate */
}

static void fork_parent(void)
{
    sh_tls_forking = false;
    if (sh_check_state == SH_CHECK_ON)
        sh_check_lock_for_fork(1);
    sh_sampled_lock_for_fork(1);
    sh_prof_lock_for_fork(1);
    sh_os_lock_for_fork(1);
    sh_span_lock_for_fork(1);
    sh_large_lock_for_fork(1);
    sh_segment_lock_for_fork(1);
    sh_unlock(&global.pool_lock);
}

static void fork_child(void)
{
    sh_tls_forking = false;
    if (sh_check_state == SH_CHECK_ON)
        sh_check_lock_for_fork(2);
    sh_sampled_lock_for_fork(2);
    sh_prof_lock_for_fork(2);
    sh_os_lock_for_fork(2);
    sh_span_lock_for_fork(2);
    sh_large_lock_for_fork(2);
    sh_segment_lock_for_fork(2);
    sh_background_fork_child();
    pthread_mutex_init(&global.pool_lock, NULL);
}

/* ---- threads ---------------------------------------------------------------- */

int sh_check_start(void)
{
    bool check = sh_env_on(sh_env_check) != NULL;
    /* under Valgrind the blocks go through the check layer too, which tells
       memcheck about each (its own reports then stay off) */
    int state = check || sh_tools_heap_valgrind() ? SH_CHECK_ON : SH_CHECK_OFF;
    int unknown = SH_CHECK_UNKNOWN;
    if (!__atomic_compare_exchange_n(&sh_check_state, &unknown, state, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return unknown; /* another thread decided first */
    if (state == SH_CHECK_ON)
        sh_check_init(!check);
    return state;
}

SH_NOINLINE sh_heap *sh_heap_thread_init(void)
{
    if (sh_tls_default != NULL)
        return sh_tls_default;
    pthread_once(&global.once, global_init);
    sh_heap *h = heap_get();
    if (h == NULL)
        return NULL;
    if (sh_tls_owner_id == SH_NO_THREAD)
        sh_tls_owner_id =
            atomic_fetch_add_explicit(&global.next_thread_id, 1, memory_order_relaxed);
    h->thread_id = sh_tls_owner_id;
    h->is_default = true;
    sh_tls_default = h;
    if (!sh_checking()) { /* check mode: the fast paths never see the heap */
        /* sampled guarding, exact profile: every malloc counts down or is
           recorded (sampled.c, profile.c); the sampled profile samples in
           the slow path (page.c) */
        if (sh_sample_rate == 0 && sh_prof_mode != SH_PROF_EXACT)
            sh_tls_heap = h;
        if (sh_prof_mode != SH_PROF_EXACT) /* exact profile: every free is recorded */
            sh_tls_thread_id = sh_tls_owner_id;
    }
    /* both may allocate: the heap is ready for that now */
    pthread_setspecific(global.key, h);
    if (atomic_exchange_explicit(&global.atfork_done, 1, memory_order_relaxed) == 0)
        sh_os_atfork(fork_prepare, fork_parent, fork_child);
    return h;
}

/*
 * At load time, before the program's main and its own constructors: decide
 * check mode, make the loading thread's heap, and register the at-exit and
 * at-fork handlers (global_init, sh_check_start).  No later first allocation
 * has to: one made while glibc holds its exit-functions lock (inside atexit,
 * which calls calloc past 32 handlers) would deadlock in atexit, and at-fork
 * handlers registered after the program's would lock the heap before the
 * program's prepare handlers allocate.  Priority 102: after foreign.c's
 * record of the loader's mappings (101).
 */
__attribute__((constructor(102))) static void heap_at_load(void)
{
    sh_heap_thread_init();
    if (sh_check_state == SH_CHECK_ON || sh_sample_rate != 0 || sh_prof_mode != SH_PROF_OFF)
        sh_trace_load_unwinder(); /* dlopen allocates: outside the heap's set-up */
}

/* Collect h and hand what is still in use to the abandoned list. */
static void heap_abandon(sh_heap *h)
{
    sh_heap_collect_pages(h, true);
    sh_segment_abandon_all(h);
    for (unsigned b = 0; b < SH_BINS; b++) {
        h->bins[b].first = h->bins[b].last = NULL;
        sh_heap_update_direct(h, b);
    }
    h->full.first = h->full.last = NULL;
}

static void thread_done(void *arg)
{
    sh_heap *h = arg;
    if (sh_check_state == SH_CHECK_ON)
        sh_check_thread_exit(); /* its quarantine goes back while the heap is here */
    /* later allocations in this thread's destructors start a fresh heap */
    sh_tls_heap = &sh_empty_heap;
    sh_tls_default = NULL;
    for (sh_heap *fc = h->pool_next, *next; fc != NULL; fc = next) {
        next = fc->pool_next;
        heap_abandon(fc);
        fc->dead = true;
        fc->pool_next = NULL;
    }
    h->pool_next = NULL;
    sh_heap_return_borrowed(h, SH_BINS);
    heap_abandon(h);
    heap_put(h);
}

/* ---- first-class heaps --------------------------------------------------------- */

sh_heap *sh_heap_new(void)
{
    sh_heap *def = sh_heap_thread_init();
    sh_heap *h = def != NULL ? heap_get() : NULL;
    if (h == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    h->thread_id = def->thread_id;
    h->pool_next = def->pool_next; /* the default heap lists its thread's heaps */
    def->pool_next = h;
    return h;
}

/* True if the calling thread may allocate from h; sets errno otherwise. */
static bool usable_here(const sh_heap *h)
{
    if (h == NULL) {
        errno = EINVAL;
        return false;
    }
    if (h->dead || h->thread_id != sh_tls_owner_id) {
        errno = EPERM;
        return false;
    }
    return true;
}

void *sh_heap_malloc(sh_heap *h, size_t size)
{
    if (!usable_here(h))
        return NULL;
    if (sh_unlikely(sh_checking()))
        return sh_check_alloc(h, size, 0, false, __builtin_return_address(0));
    return sh_heap_alloc(h, size);
}

void *sh_heap_calloc(sh_heap *h, size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    if (!usable_here(h))
        return NULL;
    if (sh_unlikely(sh_checking()))
        return sh_check_alloc(h, bytes, 0, true, __builtin_return_address(0));
    void *p = sh_heap_alloc(h, bytes);
    if (p != NULL)
        memset(p, 0, bytes);
    return p;
}

void *sh_heap_realloc(sh_heap *h, void *p, size_t size)
{
    if (!usable_here(h))
        return NULL;
    if (sh_unlikely(sh_checking()))
        return sh_check_realloc(h, p, size, __builtin_return_address(0));
    return sh_heap_realloc_in(h, p, size);
}

void sh_heap_destroy(sh_heap *h)
{
    if (h == NULL)
        return;
    if (h->is_default)
        sh_fatal("sh_heap_destroy: %p is a thread's default heap; only heaps made by "
                 "sh_heap_new can be destroyed",
                 (void *)h);
    if (!h->dead && h->thread_id != sh_tls_owner_id)
        sh_fatal("sh_heap_destroy: heap %p belongs to another thread; destroy a heap in the "
                 "thread that created it (or after that thread exited)",
                 (void *)h);
    if (!h->dead) {
        sh_heap *def = sh_tls_default;
        for (sh_heap **pp = &def->pool_next; *pp != NULL; pp = &(*pp)->pool_next) {
            if (*pp == h) {
                *pp = h->pool_next;
                break;
            }
        }
        sh_segment_release_all(h);
    }
    sh_large_release_heap(h);
    heap_put(h);
}

void sh_heap_collect(bool force)
{
    sh_heap *def = sh_tls_default;
    if (def == NULL && force) /* adopting exited threads' memory needs a heap */
        def = sh_heap_thread_init();
    if (def == NULL) {
        sh_large_cache_purge(force);
        sh_span_purge(force);
        return;
    }
    if (force)
        while (sh_segment_reclaim_one(def))
            ;
    for (sh_heap *h = def; h != NULL; h = h->pool_next) {
        sh_heap_collect_pages(h, force);
        sh_segment_purge(h, force);
    }
    sh_large_cache_purge(force);
    sh_span_purge(force);
}

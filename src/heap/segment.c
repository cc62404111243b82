/*
 * segment.c -- segments: 4 MiB aligned chunks cut into pages of one size.
 *
 * A segment belongs to one heap.  The heap keeps its segments of each kind
 * (small: 64 KiB pages, medium: 1 MiB pages) on a list where those with a
 * free page come before full ones, so finding a free page looks at the head.
 *
 * Page 0 of a segment starts after the header (SH_SEGMENT_HEADER bytes);
 * every other page starts at a multiple of its size.
 *
 * Returning memory: a page given back is marked in purge_mask; when the
 * segment's purge_at passes (sh_purge_delay_ms after the first such page),
 * the pages still free are decommitted (MADV_DONTNEED), and a segment with
 * no page in use is unmapped.  The delay keeps a loop that frees and
 * reallocates from paying a system call each time.
 *
 * The purge lock.  Any thread may decommit any segment's free pages (the
 * background purger, malloc_trim: sh_segment_purge_all), not only the
 * owner: purge_mask, purge_at and the decommit of purge_mask's pages are
 * under the segment's purge_lock, and the owner takes it too when a page
 * leaves or joins purge_mask, so that it never writes a page while another
 * thread decommits it.  A thread other than the owner finds segments by
 * walking the segment map under unmap_lock (no segment is unmapped
 * meanwhile) and only try-locks them; unmapping a segment and reading its
 * header anew after reuse stay the owner's.  Lock order: abandoned.lock or
 * unmap_lock, then a purge lock; nothing is taken under a purge lock.
 *
 * Abandoned segments (their thread exited with blocks still in use) wait
 * on one global list, guarded by a mutex, until a thread that needs a page
 * adopts one.  Frees that reach them in the meantime go to the pages'
 * thread_free lists, which the adopter collects.
 *
 * Every live segment is marked in the segment map (segment_map.c), so free
 * tells stackheap's pointers from others without a lock.
 */
#define _GNU_SOURCE
#include "heap_internal.h"

#include <errno.h>
#include <string.h>

static struct {
    pthread_mutex_t lock;
    sh_segment *first; /* abandoned segments, singly linked through next */
    size_t count;
} abandoned = {PTHREAD_MUTEX_INITIALIZER, NULL, 0};

uint64_t sh_purge_delay_ms = SH_PURGE_DELAY_DEFAULT_MS;

/* Empty segments left by exiting threads, kept one purge delay for reuse
   (thread churn would otherwise unmap and fault them in again). */
#define SEG_CACHE_SLOTS 8
static struct {
    pthread_mutex_t lock;
    sh_segment *seg[SEG_CACHE_SLOTS]; /* oldest first */
    uint64_t freed_at[SEG_CACHE_SLOTS];
    unsigned n;
} seg_cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

uint64_t sh_now_ms(void)
{
    return sh_os_now_ms();
}

/* ---- layout --------------------------------------------------------------- */

static size_t page_size_of(const sh_segment *seg)
{
    return (size_t)1 << seg->page_shift;
}

/* First byte and length of page i's block area. */
static uint8_t *page_area(sh_segment *seg, unsigned i, size_t *len)
{
    size_t ps = page_size_of(seg);
    if (i == 0) {
        *len = ps - SH_SEGMENT_HEADER;
        return (uint8_t *)seg + SH_SEGMENT_HEADER;
    }
    *len = ps;
    return (uint8_t *)seg + (size_t)i * ps;
}

static bool segment_is_valid(const sh_segment *seg)
{
    if (((uintptr_t)seg & SH_SEGMENT_MASK) != 0 || seg->kind > SH_SEG_MEDIUM)
        return false;
    unsigned used = 0;
    for (unsigned i = 0; i < seg->page_count; i++) {
        bool is_free = (seg->free_mask >> i) & 1;
        if (is_free == sh_segment_page(seg, i)->in_use)
            return false;
        used += !is_free;
    }
    return used == seg->used_pages && (seg->purge_mask & ~seg->free_mask) == 0;
}

/* ---- the heap's segment lists -------------------------------------------- */

static void list_remove(sh_heap *h, sh_segment *seg)
{
    if (seg->prev)
        seg->prev->next = seg->next;
    else
        h->segments[seg->kind] = seg->next;
    if (seg->next)
        seg->next->prev = seg->prev;
    seg->next = seg->prev = NULL;
}

static void list_push_front(sh_heap *h, sh_segment *seg)
{
    sh_segment **head = &h->segments[seg->kind];
    seg->prev = NULL;
    seg->next = *head;
    if (*head)
        (*head)->prev = seg;
    *head = seg;
}

static void list_push_back(sh_heap *h, sh_segment *seg)
{
    sh_segment **head = &h->segments[seg->kind];
    if (*head == NULL) {
        list_push_front(h, seg);
        return;
    }
    sh_segment *last = *head;
    while (last->next)
        last = last->next;
    last->next = seg;
    seg->prev = last;
    seg->next = NULL;
}

/* ---- the purge lock ------------------------------------------------------------ */

static void purge_lock(sh_segment *seg)
{
    unsigned spins = 0;
    /* acquire: the pages and masks as the last holder left them */
    while (atomic_exchange_explicit(&seg->purge_lock, 1, memory_order_acquire) != 0)
        while (atomic_load_explicit(&seg->purge_lock, memory_order_relaxed) != 0)
            if (++spins % 64 == 0) /* a decommit of many pages takes a while */
                sh_os_yield();
}

static bool purge_trylock(sh_segment *seg)
{
    return atomic_load_explicit(&seg->purge_lock, memory_order_relaxed) == 0 &&
           atomic_exchange_explicit(&seg->purge_lock, 1, memory_order_acquire) == 0;
}

static void purge_unlock(sh_segment *seg)
{
    atomic_store_explicit(&seg->purge_lock, 0, memory_order_release);
}

/* Held while a segment's memory is unmapped, and while a walk reads other
   threads' segments (sh_segment_totals, sh_segment_purge_all): a segment
   the walk found live stays mapped until the walk is done. */
static pthread_mutex_t unmap_lock = PTHREAD_MUTEX_INITIALIZER;

static void unmap_segment_memory(sh_segment *seg)
{
    sh_lock(&unmap_lock);
    sh_os_unmap(seg, SH_SEGMENT_SIZE);
    sh_unlock(&unmap_lock);
}

/* seg is no longer this thread's live segment (free's fast path). */
static inline void segment_forget(const sh_segment *seg)
{
    if (sh_tls_own_seg == seg)
        sh_tls_own_seg = SH_NO_SEGMENT;
}

static void segment_unmap(sh_segment *seg)
{
    segment_forget(seg);
    sh_segment_map_release(seg);
    unmap_segment_memory(seg);
}

void sh_segment_totals(sh_segment_figures *t)
{
    memset(t, 0, sizeof *t);
    sh_lock(&unmap_lock);
    for (const sh_segment *seg = sh_segment_map_next(0, true); seg != NULL;
         seg = sh_segment_map_next((uintptr_t)seg + SH_SEGMENT_SIZE, true)) {
        /* relaxed reads of fields their owners change: figures, not invariants */
        t->mapped += SH_SEGMENT_SIZE;
        unsigned count = __atomic_load_n(&seg->page_count, __ATOMIC_RELAXED);
        for (unsigned i = 0; i < count && i < SH_MAX_PAGES; i++) {
            const sh_page *pg = sh_segment_page(seg, i);
            if (!__atomic_load_n(&pg->in_use, __ATOMIC_RELAXED))
                continue;
            size_t bs = __atomic_load_n(&pg->block_size, __ATOMIC_RELAXED);
            size_t used = __atomic_load_n(&pg->used, __ATOMIC_RELAXED);
            size_t carved = __atomic_load_n(&pg->capacity, __ATOMIC_RELAXED);
            if (used > carved) /* blocks other threads freed are still counted in used */
                used = carved;
            t->in_use += used * bs;
            t->free_blocks += carved - used;
            t->free_bytes += (carved - used) * bs;
        }
    }
    sh_unlock(&unmap_lock);
    t->cached = (size_t)__atomic_load_n(&seg_cache.n, __ATOMIC_RELAXED) * SH_SEGMENT_SIZE;
}

/* Keep an empty segment for reuse, or unmap it when the cache is full. */
static void segment_cache_put(sh_segment *seg)
{
    segment_forget(seg);
    sh_segment_map_release(seg); /* a stale pointer into it is foreign now */
    /* and no thread's free takes it for its own: a stale free racing the
       segment's reuse by another thread, on a CPU that reorders the map's
       load and this one, would otherwise see its old owner's id */
    atomic_store_explicit(&seg->thread_id, 0, memory_order_relaxed);
    sh_lock(&seg_cache.lock);
    bool kept = seg_cache.n < SEG_CACHE_SLOTS && sh_purge_delay_ms > 0;
    if (kept) {
        seg_cache.seg[seg_cache.n] = seg;
        seg_cache.freed_at[seg_cache.n] = sh_now_ms();
        __atomic_store_n(&seg_cache.n, seg_cache.n + 1, __ATOMIC_RELAXED); /* peeked unlocked */
    }
    sh_unlock(&seg_cache.lock);
    if (!kept)
        unmap_segment_memory(seg);
    else
        sh_background_kick();
}

/* The newest cached segment, or NULL. */
static sh_segment *segment_cache_get(void)
{
    if (__atomic_load_n(&seg_cache.n, __ATOMIC_RELAXED) == 0)
        return NULL;
    sh_segment *seg = NULL;
    sh_lock(&seg_cache.lock);
    if (seg_cache.n > 0) {
        seg = seg_cache.seg[seg_cache.n - 1];
        __atomic_store_n(&seg_cache.n, seg_cache.n - 1, __ATOMIC_RELAXED);
    }
    sh_unlock(&seg_cache.lock);
    return seg;
}

/* Unmap cached segments older than the purge delay (all if force).
   Returns when the next one will be (UINT64_MAX: none is left). */
static uint64_t segment_cache_purge(bool force, uint64_t now)
{
    if (__atomic_load_n(&seg_cache.n, __ATOMIC_RELAXED) == 0)
        return UINT64_MAX;
    sh_segment *out[SEG_CACHE_SLOTS];
    unsigned n = 0;
    sh_lock(&seg_cache.lock);
    while (n < seg_cache.n && (force || now - seg_cache.freed_at[n] >= sh_purge_delay_ms)) {
        out[n] = seg_cache.seg[n];
        n++;
    }
    for (unsigned i = n; i < seg_cache.n; i++) {
        seg_cache.seg[i - n] = seg_cache.seg[i];
        seg_cache.freed_at[i - n] = seg_cache.freed_at[i];
    }
    __atomic_store_n(&seg_cache.n, seg_cache.n - n, __ATOMIC_RELAXED);
    uint64_t next = seg_cache.n > 0 ? seg_cache.freed_at[0] + sh_purge_delay_ms : UINT64_MAX;
    sh_unlock(&seg_cache.lock);
    for (unsigned i = 0; i < n; i++)
        unmap_segment_memory(out[i]);
    return next;
}

void sh_release_caches(void)
{
    /* the calling thread's empty pages and segments too (only the owner
       may touch them): after a peak of small blocks they are most of it;
       and exited threads' segments, adopted first so that their empty
       pages go too */
    sh_heap *def = sh_tls_default;
    while (def != NULL && sh_segment_reclaim_one(def))
        ;
    if (def != NULL)
        sh_heap_return_borrowed(def, SH_BINS);
    for (sh_heap *h = def; h != NULL; h = h->pool_next) {
        sh_heap_collect_pages(h, false);
        sh_segment_purge(h, true);
    }
    sh_segment_purge_all(true); /* every thread's free pages, the caches too */
}

static void *heap_map_once(size_t size, size_t align, bool commit, size_t room)
{
    return commit ? sh_os_map_growable(size, align, room) : sh_os_map_aligned(size, align);
}

void *sh_heap_map(size_t size, size_t align, bool commit, size_t room)
{
    void *p = heap_map_once(size, align, commit, room);
    if (sh_unlikely(p == NULL)) {
        sh_release_caches();
        p = heap_map_once(size, align, commit, room);
    }
    return p;
}

/* Map a fresh segment of `kind` for h; NULL + errno when the OS refuses. */
static sh_segment *segment_new(sh_heap *h, unsigned kind)
{
    sh_segment *seg = segment_cache_get();
    if (seg != NULL) {
        /* a purger that found it live before it was cached may hold its
           lock: the header changes under it (the lock word itself is last) */
        purge_lock(seg);
        memset(seg, 0, offsetof(sh_segment, purge_lock));
        memset(seg->pages, 0, sizeof seg->pages); /* the pages keep their old bytes */
        memset((void *)seg->page_info, 0, sizeof seg->page_info);
    } else if ((seg = sh_heap_map(SH_SEGMENT_SIZE, SH_SEGMENT_SIZE, false, 0)) != NULL &&
               !sh_segment_map_reserve(seg)) {
        sh_os_unmap(seg, SH_SEGMENT_SIZE);
        return NULL;
    }
    if (seg == NULL)
        return NULL;
    /* every header field is zero here */
    seg->kind = kind;
    seg->page_shift = kind == SH_SEG_SMALL ? SH_SMALL_PAGE_SHIFT : SH_MEDIUM_PAGE_SHIFT;
    seg->page_count = (unsigned)(SH_SEGMENT_SIZE >> seg->page_shift);
    seg->free_mask = seg->page_count == 64 ? ~(uint64_t)0 : ((uint64_t)1 << seg->page_count) - 1;
    seg->heap = h;
    atomic_store_explicit(&seg->lendable, h->is_default && sh_prof_mode != SH_PROF_SAMPLED,
                          memory_order_relaxed);
    /* SH_PAGE_SLICE until a page is in use: free's fast path leaves frees
       into free pages, and into later slices of medium pages, to the slow path */
    for (unsigned i = 0; i < SH_MAX_PAGES; i++)
        seg->pages[i].flags = SH_PAGE_SLICE;
    for (unsigned i = 0; i < seg->page_count; i++)
        sh_segment_page(seg, i)->index = (uint8_t)i;
    atomic_store_explicit(&seg->thread_id, h->thread_id, memory_order_relaxed);
    purge_unlock(seg);                        /* held since the cache; a fresh mapping's is 0 */
    sh_segment_map_live(seg, SH_MAP_SEGMENT); /* reserved above, or when it was live before */
    list_push_front(h, seg);
    return seg;
}

/* ---- pages ---------------------------------------------------------------- */

sh_page *sh_segment_page_alloc(sh_heap *h, unsigned bin)
{
    unsigned kind = sh_bin_size(bin) <= SH_SMALL_MAX ? SH_SEG_SMALL : SH_SEG_MEDIUM;
    sh_segment *seg = h->segments[kind];
    while (seg == NULL || seg->free_mask == 0) {
        /* first-class heaps do not adopt: sh_heap_destroy would free others' blocks */
        if (h->is_default && sh_segment_reclaim_one(h)) {
            seg = h->segments[kind];
            continue;
        }
        seg = segment_new(h, kind);
        if (seg == NULL)
            return NULL;
    }
    /* page 0 last: it shares its first slice with the header, so (hardened)
       its frees take the slow path */
    uint64_t later = seg->free_mask & ~(uint64_t)1;
    unsigned i = later != 0 ? (unsigned)__builtin_ctzll(later) : 0;
    uint64_t bit = (uint64_t)1 << i;
    purge_lock(seg); /* no other thread decommits the page once this returns */
    seg->free_mask &= ~bit;
    seg->purge_mask &= ~bit; /* reused before it was purged: nothing to decommit */
    purge_unlock(seg);
    seg->used_pages++;
    if (seg->free_mask == 0 && seg->next != NULL) { /* full: behind those with room */
        list_remove(h, seg);
        list_push_back(h, seg);
    }
    sh_page *pg = sh_segment_page(seg, i);
    pg->in_use = true;
    size_t len;
    page_area(seg, i, &len);
    sh_page_init(pg, bin, len);
    sh_assert(segment_is_valid(seg));
    return pg;
}

void sh_segment_page_free(sh_heap *h, sh_page *pg)
{
    sh_segment *seg = sh_segment_of(pg);
    uint64_t bit = (uint64_t)1 << pg->index;
    bool was_full = seg->free_mask == 0;
    pg->in_use = false;
    sh_page_publish(pg);
    pg->free = pg->local_free = NULL;
    sh_page_set_flags(pg, SH_PAGE_SLICE);
    purge_lock(seg);
    seg->free_mask |= bit;
    seg->purge_mask |= bit;
    uint64_t now = sh_now_ms();
    if (seg->purge_at == 0)
        seg->purge_since = now;
    seg->purge_at = sh_purge_deadline(seg->purge_since, now);
    purge_unlock(seg);
    seg->used_pages--;
    if (was_full && h->segments[seg->kind] != seg) {
        list_remove(h, seg);
        list_push_front(h, seg);
    }
    sh_assert(segment_is_valid(seg));
    sh_background_kick();
}

/* Decommit seg's pages in purge_mask, one madvise per run of neighbours
   (purge lock held). */
static void decommit_free_pages(sh_segment *seg)
{
    uint64_t m = seg->purge_mask;
    while (m != 0) {
        unsigned i = (unsigned)__builtin_ctzll(m);
        unsigned j = i;
        while (j + 1 < 64 && ((m >> (j + 1)) & 1))
            j++;
        size_t len_i, len_j;
        uint8_t *from = page_area(seg, i, &len_i);
        uint8_t *to = page_area(seg, j, &len_j) + len_j;
        sh_os_decommit(from, (size_t)(to - from));
        m &= j == 63 ? 0 : ~(((uint64_t)2 << j) - 1);
    }
    seg->purge_mask = 0;
    seg->purge_at = 0;
}

/* Decommit seg's free pages if their delay has passed (or force); wait: for
   the purge lock (its owner, or under abandoned.lock), else a busy segment
   is left for the next pass.  Returns when its pages will be due
   (UINT64_MAX: none is left to purge). */
static uint64_t purge_free_pages(sh_segment *seg, bool force, uint64_t now, bool wait)
{
    /* no peek at purge_mask first: its owner writes it under the lock, and
       a cached segment's is cleared with its header */
    if (wait)
        purge_lock(seg);
    else if (!purge_trylock(seg))
        return now + 1; /* busy: the next pass looks again */
    uint64_t next = UINT64_MAX;
    if (seg->purge_mask != 0 && (force || now >= seg->purge_at))
        decommit_free_pages(seg);
    else if (seg->purge_mask != 0)
        next = seg->purge_at;
    purge_unlock(seg);
    return next;
}

/*
 * Decommit the free pages of exited threads' segments once their delay has
 * passed (all of them if force): a program whose threads exit and whose
 * other threads never need their pages would otherwise keep that memory
 * until one adopts them.  An abandoned segment has no owner: under the
 * abandoned list's lock (which an adopter takes to take one) its free pages
 * are nobody's; other threads' frees touch only pages in use.  A busy lock
 * is left for the next scan.
 */
static void abandoned_purge(bool force, uint64_t now)
{
    if (__atomic_load_n(&abandoned.first, __ATOMIC_RELAXED) == NULL) /* racy peek, fine */
        return;
    if (!sh_tls_forking && pthread_mutex_trylock(&abandoned.lock) != 0)
        return;
    for (sh_segment *seg = abandoned.first; seg != NULL; seg = seg->next)
        purge_free_pages(seg, force, now, true);
    sh_unlock(&abandoned.lock);
}

void sh_segment_purge(sh_heap *h, bool force)
{
    uint64_t now = sh_now_ms();
    for (unsigned kind = 0; kind < 2; kind++) {
        for (sh_segment *seg = h->segments[kind], *next; seg != NULL; seg = next) {
            next = seg->next;
            if (seg->used_pages != 0) {
                purge_free_pages(seg, force, now, true);
                continue;
            }
            /* empty: unmapped once its delay passed (purge_mask is 0 when
               another thread decommitted its pages, which took as long) */
            purge_lock(seg);
            bool due = force || seg->purge_mask == 0 || now >= seg->purge_at;
            purge_unlock(seg);
            if (due) {
                list_remove(h, seg);
                segment_unmap(seg);
            }
        }
    }
    sh_large_cache_purge(force);
    sh_span_purge(force);
    segment_cache_purge(force, now);
    abandoned_purge(force, now);
    h->purge_check_at = now + (sh_purge_delay_ms + 1) / 2;
}

uint64_t sh_segment_purge_all(bool force)
{
    uint64_t now = sh_now_ms(), next = UINT64_MAX, t;
    sh_lock(&unmap_lock);
    for (sh_segment *seg = sh_segment_map_next(0, true); seg != NULL;
         seg = sh_segment_map_next((uintptr_t)seg + SH_SEGMENT_SIZE, true))
        if ((t = purge_free_pages(seg, force, now, false)) < next)
            next = t;
    sh_unlock(&unmap_lock);
    if ((t = segment_cache_purge(force, now)) < next)
        next = t;
    if ((t = sh_large_cache_purge(force)) < next)
        next = t;
    if ((t = sh_span_purge(force)) < next)
        next = t;
    return next;
}

/* ---- abandoning and reclaiming -------------------------------------------- */

void sh_segment_abandon_all(sh_heap *h)
{
    for (unsigned kind = 0; kind < 2; kind++) {
        sh_segment *seg;
        while ((seg = h->segments[kind]) != NULL) {
            list_remove(h, seg);
            if (seg->used_pages == 0) {
                segment_cache_put(seg);
                continue;
            }
            /* free pages whose delay has passed go back now; younger ones at
               their time (the next thread may want them meanwhile) */
            purge_free_pages(seg, false, sh_now_ms(), true);
            segment_forget(seg);
            /* release: the adopter must see the pages as this thread left them */
            atomic_store_explicit(&seg->thread_id, 0, memory_order_release);
            sh_lock(&abandoned.lock);
            seg->next = abandoned.first;
            __atomic_store_n(&abandoned.first, seg, __ATOMIC_RELAXED); /* peeked unlocked */
            abandoned.count++;
            sh_unlock(&abandoned.lock);
        }
    }
}

bool sh_segment_reclaim_one(sh_heap *h)
{
    /* relaxed peek: a missed segment is found by a later call */
    if (__atomic_load_n(&abandoned.first, __ATOMIC_RELAXED) == NULL)
        return false;
    sh_lock(&abandoned.lock);
    sh_segment *seg = abandoned.first;
    if (seg != NULL) {
        __atomic_store_n(&abandoned.first, seg->next, __ATOMIC_RELAXED); /* peeked unlocked */
        abandoned.count--;
    }
    sh_unlock(&abandoned.lock);
    if (seg == NULL)
        return false;
    atomic_thread_fence(memory_order_acquire);         /* pairs with the abandoner's release */
    __atomic_store_n(&seg->heap, h, __ATOMIC_RELAXED); /* read by remote frees */
    /* only default heaps adopt */
    atomic_store_explicit(&seg->lendable, sh_prof_mode != SH_PROF_SAMPLED, memory_order_relaxed);
    seg->next = seg->prev = NULL;
    atomic_store_explicit(&seg->thread_id, h->thread_id, memory_order_relaxed);
    if (seg->free_mask != 0)
        list_push_front(h, seg);
    else
        list_push_back(h, seg);
    for (unsigned i = 0; i < seg->page_count; i++) {
        sh_page *pg = sh_segment_page(seg, i);
        if (!pg->in_use)
            continue;
        sh_page_set_flags(pg, pg->flags & ~(uint32_t)SH_PAGE_FULL);
        pg->next = pg->prev = NULL;
        sh_page_collect(pg); /* also clears the thread_free full bit */
        if (pg->used == 0) {
            sh_segment_page_free(h, pg);
        } else {
            sh_page_queue_push_front(&h->bins[pg->bin], pg);
            sh_heap_update_direct(h, pg->bin);
        }
    }
    if (seg->used_pages == 0) {
        list_remove(h, seg);
        segment_cache_put(seg);
    }
    return true;
}

void sh_segment_release_all(sh_heap *h)
{
    for (unsigned kind = 0; kind < 2; kind++) {
        sh_segment *seg;
        while ((seg = h->segments[kind]) != NULL) {
            list_remove(h, seg);
            segment_unmap(seg);
        }
    }
}

void sh_segment_lock_for_fork(int phase)
{
    if (phase == 0) {
        sh_lock(&abandoned.lock);
        sh_lock(&seg_cache.lock);
        sh_lock(&unmap_lock);
    } else if (phase == 1) {
        sh_unlock(&unmap_lock);
        sh_unlock(&seg_cache.lock);
        sh_unlock(&abandoned.lock);
    } else {
        /* threads that held a segment's purge lock are gone in the child */
        for (sh_segment *seg = sh_segment_map_next(0, true); seg != NULL;
             seg = sh_segment_map_next((uintptr_t)seg + SH_SEGMENT_SIZE, true))
            atomic_store_explicit(&seg->purge_lock, 0, memory_order_relaxed);
        pthread_mutex_init(&unmap_lock, NULL);
        pthread_mutex_init(&seg_cache.lock, NULL);
        pthread_mutex_init(&abandoned.lock, NULL);
    }
}

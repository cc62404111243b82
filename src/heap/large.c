/*
 * large.c -- blocks above SH_MEDIUM_MAX: up to SH_SPAN_MAX those of the
 * threads' default heaps go to span.c; the rest get one mapping each.
 *
 * The mapping is aligned to 4 MiB (or to the requested alignment when that
 * is larger), and its header, an sh_large, sits at the start of the 4 MiB
 * region that holds the byte before the user pointer, where sh_segment_of
 * looks.  With the usual alignments the user pointer is LARGE_HEADER (128) bytes
 * into the mapping; with an alignment A >= 4 MiB it is A bytes in and the header is
 * the 4 MiB just before it.
 *
 * Any thread may free a large block: it is unmapped at once.  Blocks of a
 * first-class heap are also on that heap's list (guarded by one mutex) so
 * that sh_heap_destroy can release them.
 *
 * Freed mappings of the usual alignment wait a while in a small cache
 * (CACHE_SLOTS entries, CACHE_BYTES in all, each kept sh_purge_delay_ms) so
 * that a program that frees and reallocates big buffers does not pay two
 * system calls and the page faults every time.  A new mapping of a size
 * the cache takes is placed with CACHE_MAX_BLOCK bytes of free address
 * space from its start, so that reused it grows in place to any such size.
 *
 * realloc grows in place with mremap when the address space after the
 * mapping is free, and otherwise moves the pages (not the bytes) into a new
 * aligned reservation with mremap(MREMAP_FIXED): no copy either way.
 */
#define _GNU_SOURCE
#include "heap_internal.h"

#include <errno.h>
#include <string.h>

/* Room for the header before the user pointer: 64-byte aligned. */
#define LARGE_HEADER ((sizeof(sh_large) + 63) & ~(size_t)63)

static pthread_mutex_t large_lock = PTHREAD_MUTEX_INITIALIZER;

#define CACHE_SLOTS 32
#define CACHE_BYTES ((size_t)256 << 20)
#define CACHE_MAX_BLOCK ((size_t)32 << 20)
#define CACHE_COPY_MAX ((size_t)4 << 20) /* realloc copies at most this into a cached map */

typedef struct cached_map {
    void *map;
    size_t size;
    uint64_t freed_at;
} cached_map;

/* Freed mappings aligned to SH_SEGMENT_SIZE, oldest first. */
static struct {
    pthread_mutex_t lock;
    cached_map e[CACHE_SLOTS];
    unsigned n;
    size_t bytes;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Remove entry i; caller holds the lock. */
static cached_map cache_take(unsigned i)
{
    cached_map m = cache.e[i];
    cache.bytes -= m.size;
    __atomic_store_n(&cache.n, cache.n - 1, __ATOMIC_RELAXED); /* peeked without the lock */
    for (unsigned j = i; j < cache.n; j++)
        cache.e[j] = cache.e[j + 1];
    return m;
}

/* Put [map, map + size) in the cache, freed at `at`; lock held, room checked. */
static void cache_insert(void *map, size_t size, uint64_t at)
{
    unsigned i = cache.n; /* oldest first */
    while (i > 0 && cache.e[i - 1].freed_at > at) {
        cache.e[i] = cache.e[i - 1];
        i--;
    }
    cache.e[i] = (cached_map){map, size, at};
    __atomic_store_n(&cache.n, cache.n + 1, __ATOMIC_RELAXED); /* peeked without the lock */
    cache.bytes += size;
}

/*
 * A cached mapping for `need` bytes (a multiple of the page size), NULL if
 * the cache is empty.  Its size goes to *size, and the bytes from *fresh on
 * are new zero pages (a cached mapping's resident bytes before it may not be).
 *
 * The smallest one of at least `need` bytes is taken, whole: splitting it
 * would put another block where it could grow.  When none is big enough the
 * largest grows to `need`, in place (room_of kept the address space free
 * after it) or, failing that, moved by mremap: its resident pages are
 * reused and only the rest is faulted in.  malloc-large (mimalloc-bench:
 * 5-25 MiB blocks, 20 live) faulted 420k pages with splits, 134k without.
 */
static void *cache_get(size_t need, size_t *size, size_t *fresh)
{
    if (__atomic_load_n(&cache.n, __ATOMIC_RELAXED) == 0) /* racy peek, fine */
        return NULL;
    sh_lock(&cache.lock);
    unsigned best = CACHE_SLOTS, largest = CACHE_SLOTS;
    for (unsigned i = 0; i < cache.n; i++) {
        size_t sz = cache.e[i].size;
        if (sz >= need && (best == CACHE_SLOTS || sz < cache.e[best].size))
            best = i;
        if (largest == CACHE_SLOTS || sz > cache.e[largest].size)
            largest = i;
    }
    cached_map m = {NULL, 0, 0};
    if (best != CACHE_SLOTS) {
        m = cache_take(best);
    } else if (largest != CACHE_SLOTS) {
        m = cache_take(largest);
    }
    sh_unlock(&cache.lock);
    if (m.map == NULL)
        return NULL;
    *fresh = m.size;
    if (m.size < need) {
        void *grown = sh_os_remap_grow(m.map, m.size, need);
        if (grown == NULL) {
            uint8_t *dest = sh_os_map_committed(need, SH_SEGMENT_SIZE);
            grown = dest != NULL ? sh_os_remap_move(m.map, m.size, need, dest) : NULL;
            if (grown == NULL) {
                if (dest != NULL)
                    sh_os_unmap(dest, need);
                sh_os_unmap(m.map, m.size);
                return NULL;
            }
        }
        m.map = grown;
        m.size = need;
    }
    /* a split-off tail or a moved mapping may start in a region never marked */
    if (!sh_segment_map_reserve(m.map)) {
        sh_os_unmap(m.map, m.size);
        return NULL;
    }
    *size = m.size;
    return m.map;
}

uint64_t sh_large_cache_purge(bool force)
{
    if (__atomic_load_n(&cache.n, __ATOMIC_RELAXED) == 0) /* racy peek, fine */
        return UINT64_MAX;
    cached_map out[CACHE_SLOTS];
    unsigned n = 0;
    uint64_t now = sh_now_ms();
    sh_lock(&cache.lock);
    while (cache.n > 0 && (force || now - cache.e[0].freed_at >= sh_purge_delay_ms))
        out[n++] = cache_take(0);
    uint64_t next = cache.n > 0 ? cache.e[0].freed_at + sh_purge_delay_ms : UINT64_MAX;
    sh_unlock(&cache.lock);
    for (unsigned i = 0; i < n; i++)
        sh_os_unmap(out[i].map, out[i].size);
    return next;
}

/* Keep a freed mapping for reuse; false if it does not fit in the cache. */
static bool cache_put(void *map, size_t size)
{
    if (size > CACHE_MAX_BLOCK || sh_purge_delay_ms == 0)
        return false;
    sh_large_cache_purge(false);
    sh_lock(&cache.lock);
    bool ok = cache.n < CACHE_SLOTS && cache.bytes + size <= CACHE_BYTES;
    if (ok)
        cache_insert(map, size, sh_now_ms());
    sh_unlock(&cache.lock);
    if (ok)
        sh_background_kick();
    return ok;
}

/* Make [from, to), part of a cached mapping, read as zero without
   committing more of it: only its resident pages can hold old bytes (a page
   never touched, or decommitted, reads as zero), so only those are cleared.
   Which are resident: mincore(2), a chunk of pages at a time. */
static void zero_range(uint8_t *from, uint8_t *to)
{
    size_t page = sh_os_page_size();
    unsigned char vec[1024];
    while (from < to) {
        uint8_t *base = (uint8_t *)((uintptr_t)from & ~(uintptr_t)(page - 1));
        size_t pages = ((size_t)(to - base) + page - 1) / page;
        if (pages > sizeof vec)
            pages = sizeof vec;
        uint8_t *end = base + pages * page < to ? base + pages * page : to;
        if (!sh_os_resident(base, pages * page, vec)) {
            memset(from, 0, (size_t)(end - from)); /* the kernel does not say: clear it all */
        } else {
            for (size_t i = 0; i < pages; i++) {
                if (!(vec[i] & 1))
                    continue;
                uint8_t *a = base + i * page < from ? from : base + i * page;
                uint8_t *b = base + (i + 1) * page > end ? end : base + (i + 1) * page;
                memset(a, 0, (size_t)(b - a));
            }
        }
        from = end;
    }
}

/* Offset of the user pointer in a mapping aligned for `align`. */
static size_t user_offset(size_t align)
{
    return align < SH_SEGMENT_SIZE ? (LARGE_HEADER > align ? LARGE_HEADER : align) : align;
}

static size_t map_align_of(size_t align)
{
    return align > SH_SEGMENT_SIZE ? align : SH_SEGMENT_SIZE;
}

/* Address space kept free after a new mapping of `size` bytes: a cacheable
   mapping can later grow in place to any cacheable size, so a cached
   mapping serves a bigger request without moving its pages (moving page
   tables costs more than faulting on some virtual machines) or faulting
   them in again. */
static size_t room_of(size_t size)
{
    return size <= CACHE_MAX_BLOCK ? CACHE_MAX_BLOCK : 0;
}

/* ---- the sealed header ----------------------------------------------------- */

static uint64_t seal_of(const sh_large *l)
{
    uint64_t w[] = {(uintptr_t)l,       l->kind,           l->page_shift,
                    (uintptr_t)l->heap, (uintptr_t)l->map, l->map_size,
                    (uintptr_t)l->user, l->size,           l->align};
    return sh_seal(w, sizeof w / sizeof w[0]);
}

static void seal(sh_large *l)
{
    if (sh_cfg_harden)
        l->seal = seal_of(l);
}

/* The header of p's block is intact and p is its pointer; dies otherwise. */
static void check(const sh_large *l, const void *p, const char *what)
{
    if (!sh_cfg_harden)
        return;
    if (l->seal != seal_of(l) || l->kind != SH_SEG_LARGE)
        sh_fatal("heap corruption: %s(%p): the header of the large block at %p was overwritten "
                 "(by an overflow from the memory before it, or a write before the block's "
                 "start)",
                 what, p, (void *)l);
    const uint8_t *q = p;
    if (q != l->user) {
        if (q > l->user && q < l->user + l->size)
            sh_heap_misuse("invalid free", what, p,
                           "points %zu byte(s) into the %zu-byte block at %p",
                           (size_t)(q - l->user), l->size, (void *)l->user);
        sh_heap_misuse("invalid free", what, p,
                       "is not a block stackheap handed out (the large block there starts at %p)",
                       (void *)l->user);
    }
}

/* ---- first-class heaps' lists ---------------------------------------------- */

static void track(sh_heap *h, sh_large *l)
{
    l->heap = h;
    seal(l);
    if (h == NULL)
        return;
    sh_lock(&large_lock);
    l->prev = NULL;
    l->next = h->large;
    if (h->large)
        h->large->prev = l;
    h->large = l;
    sh_unlock(&large_lock);
}

static void untrack(sh_large *l)
{
    sh_heap *h = l->heap;
    if (h == NULL)
        return;
    sh_lock(&large_lock);
    /* a damaged link would make the unlink write anywhere: check both sides */
    if ((l->prev != NULL ? l->prev->next : h->large) != l ||
        (l->next != NULL && l->next->prev != l))
        sh_fatal("heap corruption: the list of large blocks of heap %p is damaged at the block "
                 "%p (an overflow reached a large block's header)",
                 (void *)h, (void *)l->user);
    if (l->prev)
        l->prev->next = l->next;
    else
        h->large = l->next;
    if (l->next)
        l->next->prev = l->prev;
    sh_unlock(&large_lock);
}

/* Large blocks live now and the bytes of their mappings (sh_large_totals). */
static _Atomic size_t live_blocks, live_bytes;

static void count_live(ptrdiff_t blocks, ptrdiff_t bytes)
{
    atomic_fetch_add_explicit(&live_blocks, (size_t)blocks, memory_order_relaxed);
    atomic_fetch_add_explicit(&live_bytes, (size_t)bytes, memory_order_relaxed);
}

void sh_large_totals(size_t *blocks, size_t *bytes, size_t *cached)
{
    *blocks = atomic_load_explicit(&live_blocks, memory_order_relaxed);
    *bytes = atomic_load_explicit(&live_bytes, memory_order_relaxed);
    sh_lock(&cache.lock);
    *cached = cache.bytes;
    sh_unlock(&cache.lock);
}

/*
 * Write the header of a large block at user - off in `map` (map_size bytes),
 * publish it in the segment map and on heap h's list (h NULL: untracked).
 * Returns the user pointer.
 */
static void *publish(sh_heap *h, uint8_t *map, size_t map_size, size_t off, size_t align)
{
    uint8_t *user = map + off;
    sh_large *l = (sh_large *)sh_segment_of(user);
    atomic_store_explicit(&l->thread_id, 0, memory_order_relaxed); /* never an owner */
    l->kind = SH_SEG_LARGE;
    /* two stores: merged, they would be a constant read from .rodata (options.c) */
    atomic_signal_fence(memory_order_seq_cst);
    l->page_shift = 63;
    l->map = map;
    l->map_size = map_size;
    l->user = user;
    l->size = map_size - off;
    l->align = align;
    sh_segment_map_live(l, SH_MAP_OWN); /* reserved by the caller, or when it was live before */
    track(h, l);
    count_live(1, (ptrdiff_t)map_size);
    return user;
}

void *sh_large_alloc(sh_heap *h, size_t size, size_t align, bool zero)
{
    /* span blocks belong to no heap: a first-class heap's must be released by
       sh_heap_destroy, so they get mappings the heap tracks */
    if (size <= SH_SPAN_MAX && align <= SH_SPAN_ALIGN && h->is_default)
        return sh_span_alloc(size, zero);
    size_t off = user_offset(align), need, total;
    if (size > SH_MAX_REQUEST || __builtin_add_overflow(off, size, &need) ||
        !sh_round_up(need, sh_os_page_size(), &total)) {
        errno = ENOMEM;
        return NULL;
    }
    uint8_t *map = NULL;
    if (map_align_of(align) == SH_SEGMENT_SIZE) {
        size_t got, fresh;
        map = cache_get(total, &got, &fresh);
        if (map != NULL) {
            total = got;
            if (zero) /* only what is asked for, and only what may not be zero */
                zero_range(map + off, map + (fresh < need ? fresh : need));
        }
    }
    if (map == NULL &&
        (map = sh_heap_map(total, map_align_of(align), true, room_of(total))) != NULL &&
        !sh_segment_map_reserve(sh_segment_of(map + off))) {
        sh_os_unmap(map, total);
        return NULL;
    }
    if (map == NULL)
        return NULL;
    return publish(h->is_default ? NULL : h, map, total, off, align);
}

/* Release l: into the cache when `keep` and it fits there, else to the OS. */
static void large_release(sh_large *l, bool keep)
{
    untrack(l);
    sh_segment_map_release(l);
    count_live(-1, -(ptrdiff_t)l->map_size);
    if (!keep || map_align_of(l->align) != SH_SEGMENT_SIZE || !cache_put(l->map, l->map_size))
        sh_os_unmap(l->map, l->map_size);
}

void sh_large_free(sh_large *l, const void *p)
{
    check(l, p, "free");
    large_release(l, true);
}

size_t sh_large_usable(sh_large *l, const void *p, const char *what)
{
    check(l, p, what);
    return l->size;
}

void *sh_large_realloc(sh_large *l, size_t size)
{
    size_t off = (size_t)(l->user - (uint8_t *)l->map), need, total;
    if (size > SH_MAX_REQUEST || __builtin_add_overflow(off, size, &need) ||
        !sh_round_up(need, sh_os_page_size(), &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (total <= l->map_size) {
        if (total < l->map_size / 2) { /* give the tail back */
            sh_os_unmap((uint8_t *)l->map + total, l->map_size - total);
            count_live(0, -(ptrdiff_t)(l->map_size - total));
            l->map_size = total;
            l->size = total - off;
            seal(l);
        }
        return l->user;
    }
    if (sh_os_remap_grow(l->map, l->map_size, total) != NULL) {
        count_live(0, (ptrdiff_t)(total - l->map_size));
        l->map_size = total;
        l->size = total - off;
        seal(l);
        return l->user;
    }
    /* cannot grow in place: a cached mapping is already resident, so copying
       into it beats moving the pages and faulting in the new ones */
    if (map_align_of(l->align) == SH_SEGMENT_SIZE && l->size <= CACHE_COPY_MAX) {
        size_t got, fresh;
        uint8_t *map = cache_get(total, &got, &fresh);
        if (map != NULL) {
            memcpy(map + off, l->user, l->size);
            sh_heap *h = l->heap;
            size_t align = l->align;
            large_release(l, true);
            return publish(h, map, got, off, align);
        }
    }
    uint8_t *dest = sh_heap_map(total, map_align_of(l->align), true, room_of(total));
    if (dest == NULL)
        return NULL;
    if (!sh_segment_map_reserve(sh_segment_of(dest + off))) {
        sh_os_unmap(dest, total);
        return NULL;
    }
    sh_heap *h = l->heap;
    size_t old_size = l->map_size, align = l->align;
    void *old_map = l->map;
    untrack(l);
    sh_segment_map_release(l);
    if (sh_os_remap_move(old_map, old_size, total, dest) == NULL) {
        sh_segment_map_live(l, SH_MAP_OWN);
        track(h, l);
        sh_os_unmap(dest, total);
        return NULL;
    }
    count_live(-1, -(ptrdiff_t)old_size);       /* publish counts it again */
    return publish(h, dest, total, off, align); /* the old header went with the pages */
}

void sh_large_release_heap(sh_heap *h)
{
    for (;;) {
        sh_lock(&large_lock);
        sh_large *l = h->large;
        sh_unlock(&large_lock);
        if (l == NULL)
            return;
        large_release(l, false); /* destroy means give it back now */
    }
}

void sh_large_lock_for_fork(int phase)
{
    if (phase == 0) {
        sh_lock(&large_lock);
        sh_lock(&cache.lock);
    } else if (phase == 1) {
        sh_unlock(&cache.lock);
        sh_unlock(&large_lock);
    } else {
        pthread_mutex_init(&cache.lock, NULL);
        pthread_mutex_init(&large_lock, NULL);
    }
}

/*
 * alloc.c -- the malloc family: sh_malloc, sh_free, sh_realloc and friends.
 *
 * malloc's fast path (heap_internal.h): find the bin, pop the direct page's
 * free list.  free's fast path: find the segment by masking, check that it
 * belongs to this thread and that the page needs no special care, push onto
 * the page's local_free.  Everything else (other thread, full page, aligned
 * block, large block, a pointer that is not stackheap's) is free_slow.
 *
 * Pointers that are not stackheap's (memory from before the library was
 * loaded, or from the dynamic loader's own allocator) are recognised through
 * the segment map: free ignores them and realloc copies them out.
 */
#define _GNU_SOURCE
#include "heap_internal.h"

#include <errno.h>
#include <string.h>

size_t sh_block_usable(const void *p, const char *what)
{
    sh_segment *seg = sh_segment_of(p);
    if (seg->kind == SH_SEG_LARGE)
        return sh_large_usable((sh_large *)seg, p, what);
    if (seg->kind == SH_SEG_SPAN)
        return sh_span_usable(seg, p, what);
    sh_page *pg = sh_page_of(seg, p);
    bool owner = atomic_load_explicit(&seg->thread_id, memory_order_relaxed) == sh_tls_owner_id;
    bool suspect;
    const uint8_t *b = (const uint8_t *)sh_page_block(pg, p, what, owner, &suspect);
    return (size_t)(b + pg->block_size - (const uint8_t *)p);
}

/* p lies in no live region of stackheap's: returns if stackheap never had
   it (the caller leaves it alone), dies if stackheap released the memory there. */
static void foreign(const void *p, const char *what)
{
    if (!sh_cfg_harden)
        return;
    if (sh_segment_map_state(sh_segment_of(p)) == SH_MAP_RELEASED)
        sh_heap_misuse("double free or invalid free", what, p,
                       "points into memory stackheap released (a block freed already, or a "
                       "stale pointer)");
    if (!sh_foreign_is_early(p)) {
        char where[200];
        sh_heap_misuse("invalid free", what, p, "is not a block stackheap handed out (%s)",
                       sh_foreign_describe(p, where, sizeof where));
    }
}

void *sh_block_base(const void *p)
{
    sh_segment *seg = sh_segment_of(p);
    if (!sh_segment_map_has(seg)) {
        /* only a large block's header region is marked: the last live region
           below p is the only one whose block can reach p */
        seg = sh_segment_map_prev((uintptr_t)seg);
        if (seg == NULL || sh_segment_map_state(seg) != SH_MAP_OWN || seg->kind != SH_SEG_LARGE)
            return NULL;
    }
    if (seg->kind == SH_SEG_LARGE) {
        const sh_large *l = (const sh_large *)seg;
        return (const uint8_t *)p >= l->user && (const uint8_t *)p < l->user + l->size ? l->user
                                                                                       : NULL;
    }
    if (seg->kind == SH_SEG_SPAN)
        return sh_span_block_start(seg, p);
    const sh_page *pg = sh_page_of(seg, p);
    /* a block is handed out, or free in the page's carved part */
    if (!pg->in_use || (const uint8_t *)p < sh_page_start(pg))
        return NULL;
    uint8_t *b = (uint8_t *)sh_page_block_start(pg, p);
    return b < sh_page_start(pg) + (size_t)pg->capacity * pg->block_size ? b : NULL;
}

void sh_heap_each_block(void (*f)(void *block, void *arg), void *arg)
{
    for (sh_segment *seg = sh_segment_map_next(0, false); seg != NULL;
         seg = sh_segment_map_next((uintptr_t)seg + SH_SEGMENT_SIZE, false)) {
        if (seg->kind == SH_SEG_LARGE) {
            f(((sh_large *)seg)->user, arg);
        } else if (seg->kind == SH_SEG_SPAN) {
            sh_span_each_block(seg, f, arg);
        } else {
            for (unsigned i = 0; i < seg->page_count; i++) {
                sh_page *pg = sh_segment_page(seg, i);
                if (!pg->in_use)
                    continue;
                uint8_t *start = sh_page_start(pg);
                for (unsigned b = 0; b < pg->capacity; b++)
                    f(start + (size_t)b * pg->block_size, arg);
            }
        }
    }
}

/* h, initialised if it is still the empty heap; NULL + ENOMEM if that fails.
   (Paths that go through sh_heap_alloc need not: its slow path does it.) */
static sh_heap *ready(sh_heap *h)
{
    if (h == &sh_empty_heap && (h = sh_heap_thread_init()) == NULL)
        errno = ENOMEM;
    return h;
}

/* ---- malloc ------------------------------------------------------------------ */

void *sh_malloc(size_t size)
{
    return sh_heap_alloc(sh_tls_heap, size);
}

void *sh_calloc(size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    if (sh_unlikely(sh_checking()))
        return sh_check_alloc(NULL, bytes, 0, true, __builtin_return_address(0));
    if (sh_unlikely(sh_prof_mode != SH_PROF_OFF))
        return sh_prof_alloc(bytes, 0, true, __builtin_return_address(0));
    if (bytes > SH_MEDIUM_MAX) { /* fresh mappings are zero already: no memset */
        sh_heap *h = ready(sh_tls_heap);
        return h != NULL ? sh_large_alloc(h, bytes, 16, true) : NULL;
    }
    void *p = sh_heap_alloc(sh_tls_heap, bytes);
    if (p != NULL)
        memset(p, 0, bytes);
    return p;
}

/* ---- free -------------------------------------------------------------------- */

/*
 * Another thread's small or medium block, the common case of free's slow
 * path when threads hand blocks over: sh_page_block's checks for a block
 * start in a page without over-aligned blocks, in line, then borrow it or
 * push it to its page.  Anything else (a check that fails, a block that
 * looks freed, an aligned page, this thread's own page) returns false and
 * takes the full path, which checks again and names the misuse.
 */
static inline bool free_remote_quick(void *p, sh_segment *seg) /* the map has seg */
{
    /* an exact profile records every free: sh_heap_free_block */
    if (!sh_cfg_harden || sh_prof_mode == SH_PROF_EXACT || seg->kind > SH_SEG_MEDIUM ||
        atomic_load_explicit(&seg->thread_id, memory_order_relaxed) == sh_tls_owner_id)
        return false;
    /* the page's published copy, not its descriptor (see page_info) */
    unsigned i = (unsigned)(((uintptr_t)p - (uintptr_t)seg) >> seg->page_shift);
    uint64_t info = atomic_load_explicit(&seg->page_info[i], memory_order_relaxed);
    if ((info & (SH_INFO_IN_USE | SH_INFO_ALIGNED)) != SH_INFO_IN_USE)
        return false;
    uint8_t *start = sh_segment_page_start(seg, i);
    if ((uint8_t *)p < start)
        return false;
    unsigned bin = (unsigned)(info >> SH_INFO_BIN_SHIFT) & 0xFF;
    uint32_t block_size = (uint32_t)(info >> SH_INFO_SIZE_SHIFT);
    uint32_t k = sh_block_index(bin, (uint32_t)((uint8_t *)p - start));
    if (start + (size_t)k * block_size != (uint8_t *)p || k >= (uint16_t)info ||
        sh_link_valid(((sh_block *)p)->link))
        return false;
    sh_page_free_foreign(sh_segment_page(seg, i), p, bin, block_size);
    return true;
}

void sh_free_other(void *p, sh_segment *seg)
{
    /* the block was last written by the thread that allocated it, likely on
       another core; it is read (is it freed already?) and then written (its
       link): fetch it for writing once, while the checks run */
    sh_prefetch_write(p);
    /* check mode: the slow path (every free of the public heap comes here) */
    if (sh_likely(__atomic_load_n(&sh_check_state, __ATOMIC_RELAXED) == SH_CHECK_OFF) &&
        free_remote_quick(p, seg))
        return;
    sh_free_slow(p, seg);
}

void sh_free_slow(void *p, sh_segment *seg)
{
    if (p == NULL)
        return;
    if (sh_unlikely(sh_checking())) /* every free comes here in check mode */
        sh_check_free(p, __builtin_return_address(0));
    else if (sh_unlikely(!sh_segment_map_has(seg) && sh_sampled_owns(p)))
        sh_sampled_free(p, "free", __builtin_return_address(0)); /* the program's call site */
    else
        sh_heap_free_block(p, seg);
    sh_background_poll(); /* a large or span block's free may have wanted it */
}

void sh_heap_free_block(void *p, sh_segment *seg)
{
    if (sh_unlikely(sh_prof_mode != SH_PROF_OFF) && /* recorded: forget it */
        (sh_prof_mode == SH_PROF_EXACT || sh_prof_maybe_offset(p))) {
        void *block = sh_prof_forget(p);
        if (block != p) /* a sampled block: its heap block is before it */
            seg = sh_segment_of(p = block);
    }
    if (!sh_segment_map_has(seg)) { /* (a sampled block's free went to the pool: sh_free_slow) */
        foreign(p, "free"); /* not stackheap's: from before it was loaded, or the loader's */
        return;
    }
    if (seg->kind == SH_SEG_LARGE) {
        sh_large_free((sh_large *)seg, p);
        return;
    }
    if (seg->kind == SH_SEG_SPAN) {
        sh_span_free(seg, p);
        return;
    }
    sh_page *pg = sh_page_of(seg, p);
    bool owner = atomic_load_explicit(&seg->thread_id, memory_order_relaxed) == sh_tls_owner_id;
    bool suspect;
    sh_block *b = sh_page_block(pg, p, "free", owner, &suspect);
    if (!owner) {
        if (suspect)
            sh_page_free_remote(pg, b, true);
        else
            sh_page_free_foreign(pg, b, pg->bin, pg->block_size);
        return;
    }
    if (pg->flags & SH_PAGE_FULL)
        sh_page_unfull(seg->heap, pg);
    sh_page_free_local(seg, pg, b);
}

void sh_free(void *p)
{
    sh_heap_free(p);
}

/* ---- realloc -------------------------------------------------------------------- */

/* Bytes surely readable at a pointer that is not stackheap's: to the end of
   its OS page (its size is unknown). */
static size_t foreign_readable(const void *p)
{
    size_t page = sh_os_page_size();
    return page - ((uintptr_t)p & (page - 1));
}

void *sh_heap_realloc_in(sh_heap *h, void *p, size_t size)
{
    sh_heap *into = h != NULL ? h : sh_tls_heap;
    if (p == NULL)
        return sh_heap_alloc(into, size);
    if (size == 0) { /* glibc: free the block and return NULL */
        sh_free(p);
        return NULL;
    }
    sh_segment *seg = sh_segment_of(p);
    size_t usable;
    if (!sh_segment_map_has(seg)) {
        if (sh_sampled_owns(p)) {
            usable = sh_sampled_usable(p, "realloc"); /* moves; sh_free frees it */
        } else {
            foreign(p, "realloc");
            usable = foreign_readable(p); /* copied out; sh_free leaves it alone */
        }
    } else if (seg->kind == SH_SEG_LARGE) {
        sh_large *l = (sh_large *)seg;
        usable = sh_large_usable(l, p, "realloc"); /* checks p and the header */
        /* resized where it lives, unless it must move into another heap */
        if (size > SH_MEDIUM_MAX && (h == NULL || l->heap == h))
            return sh_large_realloc(l, size);
    } else if (seg->kind == SH_SEG_SPAN) {
        /* span blocks belong to no heap: resized in place unless a first-class
           heap must own the result */
        if (size > SH_MEDIUM_MAX && size <= SH_SPAN_MAX && (h == NULL || h->is_default) &&
            sh_span_resize(seg, p, size))
            return p;
        usable = sh_span_usable(seg, p, "realloc");
    } else {
        usable = sh_block_usable(p, "realloc");
        if (size <= usable && size >= usable / 2)
            return p; /* fits, and not worth a smaller class */
    }
    /* a medium block that must move to grow takes half again its room: an
       append loop otherwise copies at each of the 4 classes of a doubling
       (wl_realloc -q copied 860 MB, 659 MB after this; jemalloc 674 MB) */
    size_t request = size;
    if (size > usable && usable >= SH_SMALL_MAX && size < SH_MEDIUM_MAX) {
        size_t grown = usable + usable / 2;
        if (grown > size)
            request = grown < SH_MEDIUM_MAX ? grown : SH_MEDIUM_MAX;
    }
    void *q = sh_heap_alloc(into, request);
    if (q == NULL)
        return NULL; /* p is untouched */
    memcpy(q, p, usable < size ? usable : size);
    sh_free(p);
    return q;
}

void *sh_realloc(void *p, size_t size)
{
    if (sh_unlikely(sh_checking()))
        return sh_check_realloc(NULL, p, size, __builtin_return_address(0));
    if (sh_unlikely(sh_prof_mode != SH_PROF_OFF))
        return sh_prof_realloc(p, size, __builtin_return_address(0));
    return sh_heap_realloc_in(NULL, p, size);
}

void *sh_reallocarray(void *p, size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return sh_realloc(p, bytes);
}

/* ---- aligned allocation ----------------------------------------------------------- */

/* The request sh_heap_alloc serves size bytes aligned to align with; 0: a
   large block.  *inside: the block is align - 1 bytes longer and the pointer
   handed out is aligned into it.  size <= SH_MAX_REQUEST. */
static size_t aligned_request(size_t size, size_t align, bool *inside)
{
    *inside = false;
    if (align <= 16) {
        if (align > 8 && size < 16)
            size = 16; /* blocks of 8 bytes are only 8-aligned; all others are 16-aligned */
        return size == 0 ? 1 : size;
    }
    if (size > SH_MEDIUM_MAX)
        return 0;
    size_t want = size < align ? align : size;
    /* a block size that is a multiple of align, in a page that starts
       align-aligned (every page start is 8 KiB aligned), is aligned */
    if (align <= SH_SEGMENT_HEADER && want <= SH_MEDIUM_MAX &&
        sh_bin_size(sh_bin_of(want)) % align == 0)
        return want;
    size_t over = size + align - 1;
    *inside = true;
    return over <= SH_MEDIUM_MAX ? over : 0;
}

void *sh_heap_alloc_aligned(sh_heap *h, size_t size, size_t align)
{
    if (size > SH_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    /* the thread's heap, not the empty one: a block sampled into the guarded
       pool (sampled.c) must not be handed out aligned inside */
    if ((h = ready(h)) == NULL)
        return NULL;
    bool inside;
    size_t request = aligned_request(size, align, &inside);
    if (request == 0)
        return sh_large_alloc(h, size, align, false);
    /* the page of a block handed out aligned inside is marked: it must be h's
       own (inside: request <= SH_MEDIUM_MAX, so it has a bin) */
    if (inside) {
        unsigned bin = sh_bin_of(request);
        if (h->borrowed[bin].next != NULL)
            sh_heap_return_borrowed(h, bin);
    }
    uint8_t *b = sh_heap_alloc(h, request);
    if (b == NULL || !inside)
        return b;
    uintptr_t p = ((uintptr_t)b + align - 1) & ~(uintptr_t)(align - 1);
    if (p != (uintptr_t)b) {
        sh_page *pg = sh_page_of(sh_segment_of(b), b);
        /* relaxed: read by threads that free blocks of the page */
        __atomic_store_n(&pg->has_aligned, true, __ATOMIC_RELAXED);
        sh_page_publish(pg);
        sh_page_set_flags(pg, pg->flags | SH_PAGE_ALIGNED);
        ((sh_block *)b)->link = sh_aligned_tag(b, (void *)p);
    }
    return (void *)p;
}

/* True if a block of pg could have been handed out for size bytes aligned
   to align (0: malloc's alignment) by this library's malloc, realloc (which
   keeps a block for any size from half its usable bytes up) or
   aligned_alloc, or by a C++ runtime that rounds an aligned size up to its
   alignment before aligned_alloc. */
static bool class_fits(const sh_page *pg, size_t size, size_t align, size_t usable)
{
    if (align <= 16)
        return size == 0 || size >= usable / 2 || sh_bin_of(size) == pg->bin;
    bool inside;
    size_t rounded = (size + align - 1) & ~(align - 1);
    size_t a = aligned_request(size, align, &inside), b = aligned_request(rounded, align, &inside);
    return (a != 0 && sh_bin_of(a) == pg->bin) || (b != 0 && sh_bin_of(b) == pg->bin);
}

void sh_free_sized(void *p, size_t size, size_t align, const char *what)
{
    /* check mode: the thread id matches no segment, so the fast path declines */
    if (align == 0 && sh_likely(sh_heap_free_sized_fast(p, size)))
        return;
    if (p == NULL)
        return;
    if (sh_unlikely(sh_checking())) {
        sh_check_free_sized(p, size, align, what, __builtin_return_address(0));
        return;
    }
    size_t sampled;
    if (sh_unlikely(sh_prof_mode == SH_PROF_SAMPLED) && sh_prof_usable(p, &sampled)) {
        sh_free(p); /* its heap block is not at p: no size check */
        return;
    }
    sh_segment *seg = sh_segment_of(p);
    if (sh_cfg_harden && sh_segment_map_has(seg)) {
        if (align > 1 && ((uintptr_t)p & (align - 1)) != 0)
            sh_heap_misuse("invalid free", what, p,
                           "is not aligned to %zu: it was not allocated with that alignment",
                           align);
        size_t usable = sh_block_usable(p, what); /* checks p itself */
        bool fits = size == SIZE_MAX || size <= usable;
        if (fits && size != SIZE_MAX && seg->kind != SH_SEG_LARGE && seg->kind != SH_SEG_SPAN)
            fits = class_fits(sh_page_of(seg, p), size, align, usable);
        if (!fits)
            sh_heap_misuse("invalid free", what, p,
                           "with size %zu, which is not the size it was allocated with (its "
                           "block holds %zu bytes)",
                           size, usable);
    }
    sh_free(p);
}

void *sh_aligned_alloc(size_t align, size_t size)
{
    if (!sh_is_pow2(align)) {
        errno = EINVAL;
        return NULL;
    }
    if (sh_unlikely(sh_checking()))
        return sh_check_alloc(NULL, size, align, false, __builtin_return_address(0));
    if (sh_unlikely(sh_prof_mode != SH_PROF_OFF))
        return sh_prof_alloc(size, align, false, __builtin_return_address(0));
    return sh_heap_alloc_aligned(sh_tls_heap, size, align);
}

int sh_posix_memalign(void **out, size_t align, size_t size)
{
    if (out == NULL || !sh_is_pow2(align) || align < sizeof(void *)) {
        errno = EINVAL;
        return EINVAL;
    }
    void *p = sh_unlikely(sh_checking())
                  ? sh_check_alloc(NULL, size, align, false, __builtin_return_address(0))
              : sh_unlikely(sh_prof_mode != SH_PROF_OFF)
                  ? sh_prof_alloc(size, align, false, __builtin_return_address(0))
                  : sh_heap_alloc_aligned(sh_tls_heap, size, align);
    if (p == NULL)
        return errno = ENOMEM;
    *out = p;
    return 0;
}

size_t sh_usable_size(const void *p)
{
    if (p == NULL)
        return 0;
    if (sh_unlikely(sh_checking()))
        return sh_check_usable(p, __builtin_return_address(0));
    size_t sampled;
    if (sh_unlikely(sh_prof_mode == SH_PROF_SAMPLED) && sh_prof_usable(p, &sampled))
        return sampled;
    if (!sh_segment_map_has(sh_segment_of(p))) {
        if (sh_sampled_owns(p))
            return sh_sampled_usable(p, "malloc_usable_size");
        foreign(p, "malloc_usable_size");
        return 0;
    }
    return sh_block_usable(p, "malloc_usable_size");
}

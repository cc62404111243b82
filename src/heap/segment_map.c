/*
 * segment_map.c -- which 4 MiB regions of the address space are stackheap's.
 *
 * Two levels (heap_internal.h has the layout): the top table is BSS the
 * kernel commits a 4 KiB page of only where an entry is written; a leaf is
 * one OS page mapped at the first live region of its 16 GiB.  A process
 * whose heap stays within one leaf's range pays 8 KiB, and nothing at all
 * until its first segment (mlockall(MCL_CURRENT) locks only that).
 *
 * Invariants:
 *   - an entry of the top table goes from NULL to a leaf once and never back;
 *   - a leaf's bytes are written only by sh_segment_map_live/release, for
 *     regions whose mapping the caller holds;
 *   - lo_top..hi_top covers every top entry ever set (lo > hi before the
 *     first), so walks read only that part of the table.
 */
#define _GNU_SOURCE
#include "heap_internal.h"

#include <errno.h>

uint8_t *_Atomic sh_segment_map_top[SH_MAP_TOP];

static _Atomic size_t lo_top = SIZE_MAX, hi_top;

_Static_assert(SH_MAP_LEAF % 4096 == 0, "a leaf is whole OS pages");

/* The leaf of top entry t, mapped if it is missing; NULL when the OS refuses. */
static uint8_t *leaf_for(size_t t)
{
    uint8_t *e = atomic_load_explicit(&sh_segment_map_top[t], memory_order_acquire);
    if (sh_likely(e != NULL))
        return e;
    uint8_t *leaf = sh_os_map(SH_MAP_LEAF);
    if (leaf == NULL)
        return NULL;
    /* release: a reader that sees the entry sees the leaf's zeroes; a racing
       thread that set it first wins and this leaf goes back */
    if (!atomic_compare_exchange_strong_explicit(&sh_segment_map_top[t], &e, leaf,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        sh_os_unmap(leaf, SH_MAP_LEAF);
        return e;
    }
    sh_atomic_min(&lo_top, t);
    sh_atomic_max(&hi_top, t);
    return leaf;
}

static size_t region_of(const void *seg)
{
    uint64_t idx = (uint64_t)(uintptr_t)seg >> SH_SEGMENT_SHIFT;
    if (idx >= SH_MAP_REGIONS)
        sh_fatal("the kernel mapped memory at %p, above the 47-bit address space stackheap "
                 "tracks",
                 seg);
    return (size_t)idx;
}

bool sh_segment_map_reserve(const void *seg)
{
    if (leaf_for(region_of(seg) >> SH_MAP_LEAF_SHIFT) != NULL)
        return true;
    errno = ENOMEM;
    return false;
}

/* The entry of region seg, whose leaf must exist. */
static uint8_t *entry_of(const void *seg)
{
    size_t idx = region_of(seg);
    uint8_t *leaf =
        atomic_load_explicit(&sh_segment_map_top[idx >> SH_MAP_LEAF_SHIFT], memory_order_relaxed);
    if (leaf == NULL)
        sh_fatal("internal error: region %p marked in the segment map before its leaf was "
                 "reserved",
                 seg);
    return &leaf[idx & (SH_MAP_LEAF - 1)];
}

void sh_segment_map_live(const void *seg, unsigned state)
{
    /* release: a walk that finds it live sees its header (a pointer reaches
       free only after its allocation was published, so free reads relaxed) */
    __atomic_store_n(entry_of(seg), (uint8_t)state, __ATOMIC_RELEASE);
}

void sh_segment_map_release(const void *seg)
{
    __atomic_store_n(entry_of(seg), SH_MAP_RELEASED, __ATOMIC_RELAXED);
}

void *sh_segment_map_next(uintptr_t from, bool segments_only)
{
    size_t idx = (size_t)(from >> SH_SEGMENT_SHIFT);
    size_t t = idx >> SH_MAP_LEAF_SHIFT;
    size_t lo = atomic_load_explicit(&lo_top, memory_order_relaxed);
    size_t hi = atomic_load_explicit(&hi_top, memory_order_relaxed);
    if (t < lo) {
        t = lo;
        idx = lo << SH_MAP_LEAF_SHIFT;
    }
    for (; t <= hi && t < SH_MAP_TOP; t++, idx = t << SH_MAP_LEAF_SHIFT) {
        const uint8_t *leaf = atomic_load_explicit(&sh_segment_map_top[t], memory_order_acquire);
        if (leaf == NULL)
            continue;
        for (size_t i = idx & (SH_MAP_LEAF - 1); i < SH_MAP_LEAF; i++)
            if (segments_only ? __atomic_load_n(&leaf[i], __ATOMIC_ACQUIRE) == SH_MAP_SEGMENT
                              : (__atomic_load_n(&leaf[i], __ATOMIC_ACQUIRE) & 1) != 0)
                return (void *)(((t << SH_MAP_LEAF_SHIFT) | i) << SH_SEGMENT_SHIFT);
    }
    return NULL;
}

void *sh_segment_map_prev(uintptr_t from)
{
    size_t idx = (size_t)(from >> SH_SEGMENT_SHIFT);
    if (idx >= SH_MAP_REGIONS)
        return NULL;
    size_t lo = atomic_load_explicit(&lo_top, memory_order_relaxed);
    for (size_t t = idx >> SH_MAP_LEAF_SHIFT;; t--) {
        const uint8_t *leaf = atomic_load_explicit(&sh_segment_map_top[t], memory_order_acquire);
        size_t i = t == idx >> SH_MAP_LEAF_SHIFT ? idx & (SH_MAP_LEAF - 1) : SH_MAP_LEAF - 1;
        if (leaf != NULL)
            for (;; i--) {
                if ((__atomic_load_n(&leaf[i], __ATOMIC_ACQUIRE) & 1) != 0)
                    return (void *)(((t << SH_MAP_LEAF_SHIFT) | i) << SH_SEGMENT_SHIFT);
                if (i == 0)
                    break;
            }
        if (t == 0 || t <= lo)
            return NULL;
    }
}

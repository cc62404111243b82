/*
 * integrity.c -- the heap's defences against a program's mistakes: the
 * secret keys, sealed headers, and the checks and reports behind free's
 * fast path (heap_internal.h, "hardening", has the encoding of the lists).
 *
 * What release mode catches, and where:
 *   - a damaged free-list link: malloc decodes every link before it follows
 *     it (sh_page_pop), the slow paths on every walk (sh_link_next);
 *   - a double free of a small or medium block: free finds a valid link in
 *     the block, then finds the block on its page's lists (the owner walks
 *     free, local_free and thread_free; another thread can only walk
 *     thread_free, and marks its push SH_TF_SUSPECT so that the owner checks
 *     the whole list against its own when it takes it, before any count or
 *     list changes);
 *   - a pointer that is not a block's start: free's fast path checks the
 *     page's grid (sh_on_block_grid), the slow path checks the page, the
 *     header and the carved blocks (sh_page_block);
 *   - a damaged large or span header: sh_seal over its fields, checked at
 *     every free, realloc and usable-size call;
 *   - a pointer into memory stackheap released: the segment map remembers
 *     released regions (SH_MAP_RELEASED).
 *
 * Each finding is one line on stderr and abort(), as glibc does; nothing is
 * changed before the check that finds it.
 */
#define _GNU_SOURCE
#include "heap_internal.h"

#include <stdarg.h>
#include <string.h>

uint64_t sh_link_key;
uint64_t sh_seal_key;

void sh_harden_init(void)
{
    if (!sh_cfg_harden)
        return;
    uint64_t k[2];
    sh_os_random(k, sizeof k);
    sh_seal_key = k[1];
    /* bit 63: a zeroed word decodes to a delta with bit 63 set, never a link */
    __atomic_store_n(&sh_link_key, k[0] | ((uint64_t)1 << 63), __ATOMIC_RELAXED);
}

uint64_t sh_seal(const uint64_t *words, size_t n)
{
    uint64_t h = sh_seal_key ^ 0x243F6A8885A308D3ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ words[i]) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 31;
    }
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 29);
}

/* ---- reports ------------------------------------------------------------------ */

void sh_link_corrupt(const sh_page *pg, const sh_block *b)
{
    if (!pg->in_use) /* a heap's borrowed list (page.c): name the block's own page */
        pg = sh_page_of(sh_segment_of(b), b);
    sh_fatal("heap corruption: a free block (%p) of the %u-byte page at %p was overwritten "
             "(a write after free, or an overflow from the block before it)",
             (const void *)b, pg->block_size, (void *)sh_page_start(pg));
}

void *sh_link_corrupt_at_malloc(const sh_page *pg, const sh_block *b)
{
    sh_link_corrupt(pg, b);
}

bool sh_call_frees(const char *what)
{
    return strncmp(what, "free", 4) == 0 || strcmp(what, "realloc") == 0 ||
           strncmp(what, "operator delete", 15) == 0;
}

void sh_heap_misuse(const char *kind, const char *what, const void *p, const char *fmt, ...)
{
    /* a call that frees nothing neither double-frees nor frees wrongly */
    if (!sh_call_frees(what)) {
        if (strcmp(kind, "double free") == 0)
            kind = "use after free";
        else if (strcmp(kind, "invalid free") == 0)
            kind = "invalid pointer";
    }
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    sh_vformat(why, sizeof why, fmt, ap);
    va_end(ap);
    sh_fatal("%s: %s(%p) %s", kind, what, p, why);
}

/* ---- double frees of small and medium blocks ------------------------------------- */

/* Index of block x in pg; dies if x is not in pg's carved blocks (a link
   that stayed in the segment but left the page). */
static size_t block_index(const sh_page *pg, const sh_block *x)
{
    const uint8_t *start = sh_page_start(pg);
    size_t off = (size_t)((const uint8_t *)x - start);
    size_t carved = __atomic_load_n(&pg->capacity, __ATOMIC_RELAXED);
    if ((const uint8_t *)x < start || off >= carved * pg->block_size)
        sh_link_corrupt(pg, x);
    return sh_block_index(pg->bin, (uint32_t)off);
}

/* True if b is on the list from head (checked link by link). */
static bool list_holds(const sh_page *pg, const sh_block *head, const sh_block *b)
{
    unsigned steps = 0;
    for (const sh_block *x = head; sh_is_block(x); x = sh_link_next(pg, x)) {
        block_index(pg, x);
        if (x == b)
            return true;
        if (++steps > pg->reserved) /* more blocks than the page has: a cycle */
            sh_link_corrupt(pg, x);
    }
    return false;
}

static const sh_block *thread_free_head(const sh_page *pg)
{
    /* acquire: the pushed blocks' links were written before their push */
    uintptr_t tf = atomic_load_explicit(sh_page_tf(pg), memory_order_acquire);
    return SH_TF_BLOCK(tf);
}

/* b holds a valid link: is it on one of pg's free lists?  Only the owner may
   read free and local_free; another thread sees thread_free only. */
static bool is_free_block(const sh_page *pg, const sh_block *b, bool owner)
{
    if (owner && (list_holds(pg, pg->free, b) || list_holds(pg, pg->local_free, b)))
        return true;
    return list_holds(pg, thread_free_head(pg), b);
}

SH_NORETURN SH_COLD static void double_free(const char *what, const sh_page *pg, const void *p,
                                            const char *how)
{
    sh_heap_misuse("double free", what, p, "of a %u-byte block that is free already%s",
                   pg->block_size, how);
}

void sh_page_check_gathered(const sh_page *pg, const sh_block *list)
{
    uint64_t seen[(((size_t)1 << SH_SMALL_PAGE_SHIFT) / 8) / 64]; /* a bit a block */
    _Static_assert(((size_t)1 << SH_MEDIUM_PAGE_SHIFT) / SH_SMALL_MAX <= sizeof seen * 8,
                   "a bit for each block of a medium page too");
    memset(seen, 0, sizeof seen);
    const sh_block *lists[2] = {pg->free, pg->local_free};
    for (int i = 0; i < 2; i++) {
        unsigned steps = 0;
        for (const sh_block *x = lists[i]; sh_is_block(x); x = sh_link_next(pg, x)) {
            size_t k = block_index(pg, x);
            if (++steps > pg->reserved)
                sh_link_corrupt(pg, x);
            seen[k / 64] |= (uint64_t)1 << (k % 64);
        }
    }
    unsigned steps = 0;
    for (const sh_block *x = list; sh_is_block(x); x = sh_link_next(pg, x)) {
        size_t k = block_index(pg, x);
        if (++steps > pg->reserved)
            sh_link_corrupt(pg, x);
        if (seen[k / 64] & ((uint64_t)1 << (k % 64)))
            double_free("free", pg, x, " (freed again by another thread)");
        seen[k / 64] |= (uint64_t)1 << (k % 64);
    }
}

/* ---- pointers ----------------------------------------------------------------- */

/* The word an over-aligned block b keeps in its first bytes when the pointer
   handed out, p, is inside it: never a valid link (bit 63 of the delta). */
uintptr_t sh_aligned_tag(const void *b, const void *p)
{
    uintptr_t keyed = sh_seal_key & ~(uintptr_t)0xFFFF & ~((uintptr_t)1 << 63);
    return sh_swap_halves(((uintptr_t)p - (uintptr_t)b) ^ (uintptr_t)b ^ sh_link_key ^
                          ((uintptr_t)1 << 63) ^ keyed);
}

sh_block *sh_page_block(sh_page *pg, const void *p, const char *what, bool owner, bool *suspect)
{
    uint8_t *start = sh_page_start(pg);
    const uint8_t *q = p;
    *suspect = false;
    if (!sh_cfg_harden) {
        if (!__atomic_load_n(&pg->has_aligned, __ATOMIC_RELAXED))
            return (sh_block *)p;
        return sh_page_block_start(pg, p);
    }
    if (q < start)
        sh_heap_misuse("invalid free", what, p,
                       "points into stackheap's page metadata, not at a block");
    if (!pg->in_use)
        sh_heap_misuse("double free or invalid free", what, p,
                       "points into a page that holds no block now (its blocks were freed, or "
                       "it was never handed out)");
    size_t k = sh_block_index(pg->bin, (uint32_t)(q - start));
    sh_block *b = (sh_block *)(start + k * pg->block_size);
    if (k >= __atomic_load_n(&pg->capacity, __ATOMIC_RELAXED))
        sh_heap_misuse("invalid free", what, p,
                       "is not a block stackheap handed out (past the last block of its "
                       "%u-byte page)",
                       pg->block_size);
    if ((const uint8_t *)b != q && !__atomic_load_n(&pg->has_aligned, __ATOMIC_RELAXED))
        sh_heap_misuse("invalid free", what, p, "points %zu byte(s) into the %u-byte block at %p",
                       (size_t)(q - (uint8_t *)b), pg->block_size, (void *)b);
    if (sh_link_valid(b->link)) {
        if (is_free_block(pg, b, owner))
            double_free(what, pg, p, "");
        if (pg->block_size >= 16 && ((const uintptr_t *)b)[1] == sh_borrow_tag(b))
            double_free(what, pg, p,
                        " (held by the thread that freed it, for reuse or to return in a batch)");
        *suspect = !owner; /* the owner's lists may hold it: it checks them */
    } else if ((const uint8_t *)b != q && b->link != sh_aligned_tag(b, p)) {
        sh_heap_misuse("invalid free", what, p, "points %zu byte(s) into the %u-byte block at %p",
                       (size_t)(q - (uint8_t *)b), pg->block_size, (void *)b);
    }
    return b;
}

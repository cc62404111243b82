/*
 * test_stack.c -- the stack API as a specification: creation, allocation,
 * frames and scopes, the LIFO extras, overflow policies, statistics,
 * trimming, names and the per-thread default stack.
 *
 * Every test states one behaviour of include/stackheap.h and checks it
 * through the public API only (the stats, the pointers returned, and what
 * the kernel reports about the process's memory).  Misuse that aborts is
 * covered by test_stack_misuse.c.
 */
#include "check.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdint.h>
#include <sys/mman.h>

#include "stackheap.h"

/* Built with AddressSanitizer (set by tests/stack.cmake). */
#ifndef SH_TEST_ASAN
#define SH_TEST_ASAN 0
#endif
static const bool built_with_asan = SH_TEST_ASAN;

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)
#define GIB ((size_t)1 << 30)

_Static_assert(SH_STACK_ALIGN == alignof(max_align_t), "default alignment is max_align_t's");

/* ---- helpers -------------------------------------------------------------- */

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* A snapshot of s's counters; all zero if sh_stack_get_stats refuses. */
static sh_stack_stats stats_of(const sh_stack *s)
{
    sh_stack_stats st;
    memset(&st, 0, sizeof st);
    if (sh_stack_get_stats(s, &st) != 0)
        memset(&st, 0, sizeof st);
    return st;
}

static size_t in_use(const sh_stack *s)
{
    return stats_of(s).in_use;
}

static bool is_aligned(const void *p, size_t align)
{
    return ((uintptr_t)p & (align - 1)) == 0;
}

/* True if the page holding p is mapped in this process (mincore fails with ENOMEM if not). */
static bool is_mapped(const void *p)
{
    uintptr_t page = (uintptr_t)p & ~(uintptr_t)(page_size() - 1);
    unsigned char vec;
    return mincore((void *)page, 1, &vec) == 0 || errno != ENOMEM;
}

static bool all_bytes_are(const void *p, size_t n, unsigned char value)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != value)
            return false;
    return true;
}

/* "p is still the top allocation", probed without changing anything: resizing it to its own
   size returns it if and only if it is the most recent allocation. */
static bool is_top(sh_stack *s, void *p, size_t size)
{
    return sh_stack_resize_top(s, p, size) == p;
}

/* ---- creation ------------------------------------------------------------- */

static void new_rounds_capacity_up_to_whole_pages(void)
{
    size_t page = page_size();
    size_t requests[] = {1, page - 1, page, page + 1, 3 * page + 7};
    size_t expected[] = {page, page, page, 2 * page, 4 * page};
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        sh_stack *s = sh_stack_new(requests[i]);
        CHECK(s != NULL);
        CHECK_EQ_U(stats_of(s).capacity, expected[i]);
        sh_stack_delete(s);
    }
}

static void new_stack_is_empty(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    sh_stack_stats st = stats_of(s);
    CHECK_EQ_U(st.capacity, 64 * KIB);
    CHECK_EQ_U(st.in_use, 0);
    CHECK_EQ_U(st.available, 64 * KIB);
    CHECK_EQ_U(st.high_water, 0);
    CHECK_EQ_U(st.frames, 0);
    CHECK_EQ_U(st.overflows, 0);
    CHECK_EQ_U(st.heap_blocks, 0);
    CHECK_EQ_U(st.heap_bytes, 0);
    sh_stack_delete(s);
}

static void new_with_zero_capacity_fails_with_einval(void)
{
    errno = 0;
    CHECK(sh_stack_new(0) == NULL);
    CHECK_EQ_U(errno, EINVAL);
}

static void new_with_unreservable_capacity_fails_with_enomem(void)
{
    size_t too_big[] = {SIZE_MAX, SIZE_MAX - page_size() + 2, SIZE_MAX / 2};
    for (size_t i = 0; i < sizeof too_big / sizeof too_big[0]; i++) {
        errno = 0;
        CHECK(sh_stack_new(too_big[i]) == NULL);
        CHECK_EQ_U(errno, ENOMEM);
    }
}

static void large_stack_costs_nothing_until_touched(void)
{
    size_t before = rss_bytes();
    CHECK(before > 0);
    sh_stack *s = sh_stack_new(1 * GIB);
    CHECK(s != NULL);
    size_t created = rss_bytes();
    CHECK(created < before + 4 * MIB);

    char *p = sh_stack_alloc(s, 1 * MIB);
    CHECK(p != NULL);
    memset(p, 0x5a, 1 * MIB);
    size_t touched = rss_bytes();
    /* at least the megabyte written; at most two transparent huge pages if the kernel uses them */
    CHECK(touched >= created + 1 * MIB - 64 * KIB);
    CHECK(touched <= created + 4 * MIB + 512 * KIB);
    sh_stack_delete(s);
}

/* ---- allocation ----------------------------------------------------------- */

static void alloc_uses_the_alignment_of_max_align_t(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    for (size_t size = 1; size <= 40; size++) {
        char *p = sh_stack_alloc(s, size);
        CHECK(p != NULL);
        CHECK(is_aligned(p, alignof(max_align_t)));
        char *q = sh_stack_alloc(s, 1);
        CHECK(q != NULL);
        /* q starts at the first aligned address after p's bytes: no space wasted */
        CHECK_EQ_U((uintptr_t)(q - p),
                   (size + SH_STACK_ALIGN - 1) / SH_STACK_ALIGN * SH_STACK_ALIGN);
    }
    sh_stack_delete(s);
}

static void alloc_aligned_honours_every_power_of_two(void)
{
    sh_stack *s = sh_stack_new(4 * MIB);
    CHECK(s != NULL);
    size_t page = page_size();
    size_t aligns[32];
    size_t n = 0;
    for (size_t a = 1; a <= page; a *= 2)
        aligns[n++] = a;
    aligns[n++] = 8192;
    aligns[n++] = 65536;
    for (size_t i = 0; i < n; i++) {
        size_t align = aligns[i];
        char *odd = sh_stack_alloc_aligned(s, 3, 1); /* leave the top unaligned */
        CHECK(odd != NULL);
        size_t used = in_use(s);
        char *p = sh_stack_alloc_aligned(s, 100, align);
        CHECK(p != NULL);
        CHECK(is_aligned(p, align));
        CHECK(p >= odd + 3);
        CHECK(p < odd + 3 + align); /* no more padding than the alignment needs */
        CHECK_EQ_U(in_use(s), used + (size_t)(p - (odd + 3)) + 100);
        memset(p, (int)i, 100);
        CHECK(all_bytes_are(p, 100, (unsigned char)i));
    }
    sh_stack_delete(s);
}

static void allocations_are_writable_and_do_not_overlap(void)
{
    sh_stack *s = sh_stack_new(256 * KIB);
    CHECK(s != NULL);
    unsigned char *blocks[64];
    for (size_t i = 0; i < 64; i++) {
        blocks[i] = sh_stack_alloc(s, i * 37 + 1);
        CHECK(blocks[i] != NULL);
        memset(blocks[i], (int)i, i * 37 + 1);
    }
    for (size_t i = 0; i < 64; i++)
        CHECK(all_bytes_are(blocks[i], i * 37 + 1, (unsigned char)i));
    sh_stack_delete(s);
}

static void alloc_of_zero_bytes_returns_an_aligned_pointer_that_takes_no_space(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    CHECK(sh_stack_alloc(s, 5) != NULL);
    CHECK_EQ_U(in_use(s), 5);
    char *empty = sh_stack_alloc(s, 0);
    CHECK(empty != NULL);
    CHECK(is_aligned(empty, SH_STACK_ALIGN));
    CHECK_EQ_U(in_use(s), SH_STACK_ALIGN); /* the padding to the aligned start, nothing more */
    char *next = sh_stack_alloc(s, 8);
    CHECK_EQ_PTR(next, empty); /* the next allocation may start there */

    char *wide = sh_stack_alloc_aligned(s, 0, 4096);
    CHECK(wide != NULL);
    CHECK(is_aligned(wide, 4096));
    CHECK_EQ_U(in_use(s), 4096);
    sh_stack_delete(s);
}

static void zero_byte_allocation_is_the_top_allocation(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    CHECK(sh_stack_alloc(s, 32) != NULL);
    char *empty = sh_stack_alloc(s, 0);
    CHECK(empty != NULL);
    char *grown = sh_stack_resize_top(s, empty, 64);
    CHECK_EQ_PTR(grown, empty);
    CHECK_EQ_U(in_use(s), 32 + 64);
    CHECK_EQ_PTR(sh_stack_resize_top(s, grown, 0), grown);
    CHECK_EQ_U(in_use(s), 32);
    CHECK_EQ_U(sh_stack_free_top(s, empty), 0);
    CHECK_EQ_U(in_use(s), 32);
    CHECK_EQ_U(sh_stack_free_top(s, empty), EINVAL);
    sh_stack_delete(s);
}

static void alloc_of_size_max_fails_with_enomem_and_keeps_the_stack(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    char *prev = sh_stack_alloc(s, 48);
    CHECK(prev != NULL);
    sh_stack_stats before = stats_of(s);
    errno = 0;
    CHECK(sh_stack_alloc(s, SIZE_MAX) == NULL);
    CHECK_EQ_U(errno, ENOMEM);
    sh_stack_stats after = stats_of(s);
    CHECK_EQ_U(after.in_use, before.in_use);
    CHECK_EQ_U(after.available, before.available);
    CHECK_EQ_U(after.overflows, before.overflows + 1);
    CHECK(is_top(s, prev, 48)); /* the failed call did not forget the top allocation */
    CHECK_EQ_U(sh_stack_free_top(s, prev), 0);
    sh_stack_delete(s);
}

static void alloc_whose_end_wraps_around_fails_with_enomem(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    char *prev = sh_stack_alloc(s, 1); /* the top is now unaligned */
    CHECK(prev != NULL);
    uintptr_t start = (uintptr_t)prev + SH_STACK_ALIGN; /* where the next block would start */
    size_t wrapping[] = {
        SIZE_MAX - start + 1,  /* start + size == 0 after wrapping */
        SIZE_MAX - start + 33, /* wraps to 32, which is "below the end" */
        SIZE_MAX - 8,          /* wraps from any start above 8 */
        SIZE_MAX / 2 + 1,
    };
    uint64_t overflows = stats_of(s).overflows;
    for (size_t i = 0; i < sizeof wrapping / sizeof wrapping[0]; i++) {
        errno = 0;
        CHECK(sh_stack_alloc(s, wrapping[i]) == NULL);
        CHECK_EQ_U(errno, ENOMEM);
        CHECK_EQ_U(in_use(s), 1);
        CHECK_EQ_U(stats_of(s).overflows, ++overflows);
    }
    /* an alignment so large that rounding the top up leaves the address space's usable part */
    size_t huge_aligns[] = {(size_t)1 << 62, (size_t)1 << 63};
    for (size_t i = 0; i < 2; i++) {
        errno = 0;
        CHECK(sh_stack_alloc_aligned(s, 1, huge_aligns[i]) == NULL);
        CHECK_EQ_U(errno, ENOMEM);
        CHECK_EQ_U(in_use(s), 1);
        CHECK_EQ_U(stats_of(s).overflows, ++overflows);
    }
    CHECK(is_top(s, prev, 1));
    sh_stack_delete(s);
}

static void alloc_with_a_bad_alignment_fails_with_einval_and_keeps_the_stack(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    char *prev = sh_stack_alloc(s, 24);
    CHECK(prev != NULL);
    size_t bad[] = {0, 3, 24, 6, 4097, SIZE_MAX, ((size_t)1 << 63) + 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        CHECK(sh_stack_alloc_aligned(s, 8, bad[i]) == NULL);
        CHECK_EQ_U(errno, EINVAL);
        sh_stack_stats st = stats_of(s);
        CHECK_EQ_U(st.in_use, 24);
        CHECK_EQ_U(st.overflows, 0); /* a bad argument is not an overflow */
    }
    CHECK(is_top(s, prev, 24));
    sh_stack_delete(s);
}

static void alloc_on_a_null_stack_fails_with_einval(void)
{
    errno = 0;
    CHECK(sh_stack_alloc(NULL, 16) == NULL);
    CHECK_EQ_U(errno, EINVAL);
    errno = 0;
    CHECK(sh_stack_alloc_aligned(NULL, 16, 8192) == NULL);
    CHECK_EQ_U(errno, EINVAL);
    errno = 0;
    CHECK(sh_stack_alloc(NULL, 0) == NULL);
    CHECK_EQ_U(errno, EINVAL);
    errno = 0;
    CHECK(sh_stack_calloc(NULL, 2, 8) == NULL);
    CHECK_EQ_U(errno, EINVAL);
}

static void alloc_of_exactly_the_capacity_fits_and_one_more_byte_does_not(void)
{
    size_t cap = 4 * page_size();
    sh_stack *s = sh_stack_new(cap);
    CHECK(s != NULL);
    errno = 0;
    CHECK(sh_stack_alloc(s, cap + 1) == NULL);
    CHECK_EQ_U(errno, ENOMEM);
    CHECK_EQ_U(in_use(s), 0);

    char *all = sh_stack_alloc(s, cap);
    CHECK(all != NULL);
    all[0] = 1;
    all[cap - 1] = 2;
    sh_stack_stats st = stats_of(s);
    CHECK_EQ_U(st.in_use, cap);
    CHECK_EQ_U(st.available, 0);
    errno = 0;
    CHECK(sh_stack_alloc(s, 1) == NULL);
    CHECK_EQ_U(errno, ENOMEM);
    CHECK_EQ_U(stats_of(s).overflows, 2);
    CHECK_EQ_U(in_use(s), cap);
    sh_stack_delete(s);
}

static void allocations_fill_the_stack_to_the_last_byte(void)
{
    size_t cap = page_size();
    sh_stack *s = sh_stack_new(cap);
    CHECK(s != NULL);
    size_t n = 0;
    while (sh_stack_alloc(s, SH_STACK_ALIGN) != NULL)
        n++;
    CHECK_EQ_U(n, cap / SH_STACK_ALIGN);
    CHECK_EQ_U(in_use(s), cap);
    CHECK_EQ_U(errno, ENOMEM);
    sh_stack_delete(s);
}

/* ---- calloc --------------------------------------------------------------- */

static void calloc_returns_zeroed_memory_over_dirty_bytes(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    sh_frame f = sh_stack_push(s);
    unsigned char *dirty = sh_stack_alloc(s, 4096);
    CHECK(dirty != NULL);
    memset(dirty, 0xab, 4096);
    sh_stack_pop(s, f);

    unsigned char *z = sh_stack_calloc(s, 64, 64);
    CHECK_EQ_PTR(z, dirty); /* the same bytes, reused */
    CHECK(all_bytes_are(z, 4096, 0));
    CHECK_EQ_U(in_use(s), 4096);
    sh_stack_delete(s);
}

static void calloc_whose_total_size_overflows_fails_with_enomem(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    CHECK(sh_stack_alloc(s, 16) != NULL);
    size_t counts[][2] = {
        {SIZE_MAX / 2 + 1, 2},
        {(size_t)1 << 33, (size_t)1 << 31},
        {SIZE_MAX, SIZE_MAX},
        {3, SIZE_MAX / 3 + 1},
    };
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        errno = 0;
        CHECK(sh_stack_calloc(s, counts[i][0], counts[i][1]) == NULL);
        CHECK_EQ_U(errno, ENOMEM);
        CHECK_EQ_U(in_use(s), 16);
        CHECK_EQ_U(stats_of(s).overflows, i + 1);
    }
    sh_stack_delete(s);
}

static void calloc_too_large_for_the_stack_fails_with_enomem(void)
{
    sh_stack *s = sh_stack_new(page_size());
    CHECK(s != NULL);
    errno = 0;
    CHECK(sh_stack_calloc(s, page_size() / 8 + 1, 8) == NULL);
    CHECK_EQ_U(errno, ENOMEM);
    CHECK_EQ_U(in_use(s), 0);
    sh_stack_delete(s);
}

/* ---- frames --------------------------------------------------------------- */

static void pop_releases_exactly_what_was_allocated_since_the_push(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    char *kept = sh_stack_alloc(s, 100);
    CHECK(kept != NULL);
    memset(kept, 7, 100);
    size_t at_push = in_use(s);

    sh_frame f = sh_stack_push(s);
    CHECK_EQ_U(in_use(s), at_push); /* a push takes no space */
    char *first = sh_stack_alloc(s, 10);
    CHECK(first != NULL);
    CHECK(sh_stack_alloc(s, 1000) != NULL);
    CHECK(sh_stack_alloc_aligned(s, 5, 256) != NULL);
    sh_stack_pop(s, f);

    CHECK_EQ_U(in_use(s), at_push);
    CHECK(all_bytes_are(kept, 100, 7));
    CHECK_EQ_PTR(sh_stack_alloc(s, 10), first); /* the space is handed out again */
    sh_stack_delete(s);
}

static void frames_nest_to_depth_1000_with_allocations_in_each(void)
{
    enum { DEPTH = 1000 };
    sh_stack *s = sh_stack_new(4 * MIB);
    CHECK(s != NULL);
    static sh_frame frames[DEPTH];
    static size_t used_at_push[DEPTH];
    static unsigned char *blocks[DEPTH];
    for (size_t i = 0; i < DEPTH; i++) {
        used_at_push[i] = in_use(s);
        frames[i] = sh_stack_push(s);
        CHECK_EQ_U(stats_of(s).frames, i + 1);
        blocks[i] = sh_stack_alloc(s, i % 97 + 1);
        CHECK(blocks[i] != NULL);
        memset(blocks[i], (int)(i & 0xff), i % 97 + 1);
    }
    for (size_t i = DEPTH; i-- > 0;) {
        CHECK(all_bytes_are(blocks[i], i % 97 + 1, (unsigned char)(i & 0xff)));
        sh_stack_pop(s, frames[i]);
        CHECK_EQ_U(stats_of(s).frames, i);
        CHECK_EQ_U(in_use(s), used_at_push[i]);
    }
    CHECK_EQ_U(in_use(s), 0);
    sh_stack_delete(s);
}

static void frames_stat_counts_open_frames(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    CHECK_EQ_U(stats_of(s).frames, 0);
    sh_frame a = sh_stack_push(s);
    sh_frame b = sh_stack_push(s);
    CHECK_EQ_U(stats_of(s).frames, 2);
    sh_stack_pop(s, b);
    CHECK_EQ_U(stats_of(s).frames, 1);
    sh_frame c = sh_stack_push(s);
    CHECK_EQ_U(stats_of(s).frames, 2);
    sh_stack_pop(s, c);
    sh_stack_pop(s, a);
    CHECK_EQ_U(stats_of(s).frames, 0);
    sh_stack_delete(s);
}

static void high_water_tracks_the_largest_in_use(void)
{
    sh_stack *s = sh_stack_new(256 * KIB);
    CHECK(s != NULL);
    CHECK(sh_stack_alloc(s, 5000) != NULL);
    CHECK_EQ_U(stats_of(s).high_water, 5000); /* live allocations count too */

    sh_frame f = sh_stack_push(s);
    CHECK(sh_stack_alloc(s, 100000) != NULL);
    sh_stack_pop(s, f);
    size_t peak = 5000 + 8 /* padding to 16 */ + 100000;
    CHECK_EQ_U(stats_of(s).high_water, peak);

    f = sh_stack_push(s);
    CHECK(sh_stack_alloc(s, 1000) != NULL);
    sh_stack_pop(s, f);
    CHECK_EQ_U(stats_of(s).high_water, peak); /* a smaller spike leaves it */

    void *big = sh_stack_alloc(s, 200000);
    CHECK(big != NULL);
    CHECK_EQ_U(sh_stack_free_top(s, big), 0);
    CHECK_EQ_U(stats_of(s).high_water, 5008 + 200000); /* freed blocks still count */

    void *grow = sh_stack_alloc(s, 16);
    CHECK(sh_stack_resize_top(s, grow, 250000) == grow);
    CHECK(sh_stack_resize_top(s, grow, 16) == grow);
    CHECK_EQ_U(stats_of(s).high_water, 5008 + 250000); /* shrunk blocks too */
    CHECK_EQ_U(in_use(s), 5008 + 16);
    sh_stack_delete(s);
}

/* ---- SH_SCOPE and SH_FRAME ------------------------------------------------ */

static void scope_pops_when_its_block_ends(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    CHECK(sh_stack_alloc(s, 32) != NULL);
    bool ran = false;
    SH_SCOPE(s)
    {
        CHECK_EQ_U(stats_of(s).frames, 1);
        CHECK(sh_stack_alloc(s, 1000) != NULL);
        ran = true;
    }
    CHECK(ran);
    CHECK_EQ_U(in_use(s), 32);
    CHECK_EQ_U(stats_of(s).frames, 0);
    sh_stack_delete(s);
}

/* Allocates inside a scope and returns from it: the caller sees the frame popped. */
static bool alloc_and_return_from_scope(sh_stack *s)
{
    SH_SCOPE(s)
    {
        if (sh_stack_alloc(s, 512) != NULL)
            return true;
    }
    return false;
}

static void scope_pops_on_return(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    CHECK(alloc_and_return_from_scope(s));
    CHECK_EQ_U(in_use(s), 0);
    CHECK_EQ_U(stats_of(s).frames, 0);
    CHECK_EQ_U(stats_of(s).high_water, 512); /* the allocation did happen */
    sh_stack_delete(s);
}

static void scope_pops_on_break_and_break_leaves_only_the_scope(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    int iterations = 0;
    bool after_break = false;
    for (int i = 0; i < 3; i++) {
        SH_SCOPE(s)
        {
            CHECK(sh_stack_alloc(s, 100) != NULL);
            if (i >= 0)
                break;
            after_break = true;
        }
        CHECK_EQ_U(in_use(s), 0);
        CHECK_EQ_U(stats_of(s).frames, 0);
        iterations++;
    }
    CHECK_EQ_U(iterations, 3); /* the enclosing loop was not broken */
    CHECK(!after_break);
    sh_stack_delete(s);
}

static void scope_pops_on_continue_and_continue_leaves_only_the_scope(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    int iterations = 0;
    bool after_continue = false;
    for (int i = 0; i < 3; i++) {
        SH_SCOPE(s)
        {
            CHECK(sh_stack_alloc(s, 100) != NULL);
            if (i >= 0)
                continue;
            after_continue = true;
        }
        CHECK_EQ_U(in_use(s), 0);
        CHECK_EQ_U(stats_of(s).frames, 0);
        iterations++; /* reached: continue left the scope, not the loop iteration */
    }
    CHECK_EQ_U(iterations, 3);
    CHECK(!after_continue);
    sh_stack_delete(s);
}

static void scope_pops_on_goto_out_of_it(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    bool after_goto = false;
    SH_SCOPE(s)
    {
        SH_SCOPE(s)
        {
            CHECK(sh_stack_alloc(s, 100) != NULL);
            CHECK_EQ_U(stats_of(s).frames, 2);
            goto out;
        }
        after_goto = true;
    }
out:
    CHECK(!after_goto);
    CHECK_EQ_U(in_use(s), 0);
    CHECK_EQ_U(stats_of(s).frames, 0);
    sh_stack_delete(s);
}

static void nested_scopes_pop_innermost_first(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    SH_SCOPE(s)
    {
        CHECK(sh_stack_alloc(s, 16) != NULL);
        SH_SCOPE(s)
        {
            CHECK(sh_stack_alloc(s, 16) != NULL);
            CHECK_EQ_U(in_use(s), 32);
        }
        CHECK_EQ_U(in_use(s), 16);
        CHECK_EQ_U(stats_of(s).frames, 1);
    }
    CHECK_EQ_U(in_use(s), 0);
    sh_stack_delete(s);
}

static void frame_pops_when_its_block_ends(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    {
        SH_FRAME(s);
        CHECK(sh_stack_alloc(s, 300) != NULL);
        CHECK_EQ_U(stats_of(s).frames, 1);
    }
    CHECK_EQ_U(in_use(s), 0);
    CHECK_EQ_U(stats_of(s).frames, 0);
    sh_stack_delete(s);
}

static bool alloc_and_return_from_frame(sh_stack *s)
{
    SH_FRAME(s);
    return sh_stack_alloc(s, 700) != NULL;
}

static void frame_pops_on_return(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    CHECK(alloc_and_return_from_frame(s));
    CHECK_EQ_U(in_use(s), 0);
    CHECK_EQ_U(stats_of(s).frames, 0);
    CHECK_EQ_U(stats_of(s).high_water, 700);
    sh_stack_delete(s);
}

static void frame_in_a_loop_body_pops_on_continue_break_and_each_iteration(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    int iterations = 0;
    for (int i = 0; i < 10; i++) {
        SH_FRAME(s);
        CHECK(sh_stack_alloc(s, 1000) != NULL);
        CHECK_EQ_U(stats_of(s).frames, 1); /* the previous iteration's frame is gone */
        CHECK_EQ_U(in_use(s), 1000);
        iterations++;
        if (i % 2 == 0)
            continue;
        if (i == 5)
            break; /* leaves the loop, unlike break in SH_SCOPE */
    }
    CHECK_EQ_U(iterations, 6);
    CHECK_EQ_U(in_use(s), 0);
    CHECK_EQ_U(stats_of(s).frames, 0);
    sh_stack_delete(s);
}

static void frame_pops_on_goto_out_of_its_block(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    bool after_goto = false;
    {
        SH_FRAME_NAMED(outer, s);
        CHECK(sh_stack_alloc(s, 64) != NULL);
        {
            SH_FRAME_NAMED(inner, s);
            CHECK(sh_stack_alloc(s, 64) != NULL);
            CHECK_EQ_U(inner.depth, 2);
            goto done;
        }
        after_goto = true;
    }
done:
    CHECK(!after_goto);
    CHECK_EQ_U(in_use(s), 0);
    CHECK_EQ_U(stats_of(s).frames, 0);
    sh_stack_delete(s);
}

/* ---- free_top ------------------------------------------------------------- */

static void free_top_releases_the_most_recent_allocation(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    CHECK(sh_stack_alloc(s, 64) != NULL);
    void *b = sh_stack_alloc(s, 256);
    CHECK(b != NULL);
    CHECK_EQ_U(in_use(s), 320);
    CHECK_EQ_U(sh_stack_free_top(s, b), 0);
    CHECK_EQ_U(in_use(s), 64);
    CHECK_EQ_PTR(sh_stack_alloc(s, 8), b); /* the space is handed out again */
    sh_stack_delete(s);
}

static void free_top_twice_fails_with_einval(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    CHECK(sh_stack_alloc(s, 64) != NULL);
    void *b = sh_stack_alloc(s, 64);
    CHECK(b != NULL);
    CHECK_EQ_U(sh_stack_free_top(s, b), 0);
    CHECK_EQ_U(sh_stack_free_top(s, b), EINVAL);
    CHECK_EQ_U(in_use(s), 64); /* the block below was not released */
    sh_stack_delete(s);
}

static void free_top_of_an_older_allocation_fails_and_changes_nothing(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    void *a = sh_stack_alloc(s, 64);
    void *b = sh_stack_alloc(s, 64);
    CHECK(a != NULL && b != NULL);
    CHECK_EQ_U(sh_stack_free_top(s, a), EINVAL);
    CHECK_EQ_U(in_use(s), 128);
    CHECK_EQ_U(sh_stack_free_top(s, (char *)b + 16), EINVAL); /* inside the top block */
    int local;
    CHECK_EQ_U(sh_stack_free_top(s, &local), EINVAL); /* not from the stack at all */
    CHECK_EQ_U(in_use(s), 128);
    CHECK_EQ_U(sh_stack_free_top(s, b), 0); /* b is still the top allocation */
    CHECK_EQ_U(in_use(s), 64);
    sh_stack_delete(s);
}

static void free_top_of_null_does_nothing(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    void *b = sh_stack_alloc(s, 64);
    CHECK(b != NULL);
    CHECK_EQ_U(sh_stack_free_top(s, NULL), 0);
    CHECK_EQ_U(in_use(s), 64);
    CHECK_EQ_U(sh_stack_free_top(s, b), 0); /* still the top allocation */
    sh_stack_delete(s);
}

static void free_top_on_a_null_stack_fails_with_einval(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    void *b = sh_stack_alloc(s, 64);
    CHECK(b != NULL);
    CHECK_EQ_U(sh_stack_free_top(NULL, b), EINVAL);
    CHECK_EQ_U(in_use(s), 64);
    sh_stack_delete(s);
}

static void free_top_does_not_reach_across_a_push_or_pop(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    void *before_push = sh_stack_alloc(s, 64);
    CHECK(before_push != NULL);
    sh_frame f = sh_stack_push(s);
    CHECK_EQ_U(sh_stack_free_top(s, before_push), EINVAL); /* would free below the frame */
    void *inside = sh_stack_alloc(s, 64);
    CHECK(inside != NULL);
    sh_stack_pop(s, f);
    CHECK_EQ_U(sh_stack_free_top(s, inside), EINVAL); /* already released by the pop */
    CHECK_EQ_U(sh_stack_free_top(s, before_push), EINVAL);
    CHECK_EQ_U(in_use(s), 64);
    sh_stack_delete(s);
}

/* ---- resize_top ----------------------------------------------------------- */

static void resize_top_grows_in_place_and_keeps_the_contents(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    CHECK(sh_stack_alloc(s, 16) != NULL);
    unsigned char *p = sh_stack_alloc(s, 64);
    CHECK(p != NULL);
    memset(p, 0x3c, 64);
    unsigned char *q = sh_stack_resize_top(s, p, 1000);
    CHECK_EQ_PTR(q, p);
    CHECK(all_bytes_are(q, 64, 0x3c));
    CHECK_EQ_U(in_use(s), 16 + 1000);
    memset(q, 0x11, 1000);
    CHECK_EQ_U(stats_of(s).overflows, 0);
    sh_stack_delete(s);
}

static void resize_top_shrinks_in_place(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    unsigned char *p = sh_stack_alloc(s, 1000);
    CHECK(p != NULL);
    memset(p, 0x42, 1000);
    CHECK_EQ_PTR(sh_stack_resize_top(s, p, 100), p);
    CHECK_EQ_U(in_use(s), 100);
    CHECK(all_bytes_are(p, 100, 0x42));
    unsigned char *next = sh_stack_alloc(s, 1);
    CHECK_EQ_PTR(next, p + 112); /* the released tail is handed out again */
    sh_stack_delete(s);
}

static void growing_buffer_never_changes_address(void)
{
    sh_stack *s = sh_stack_new(2 * MIB);
    CHECK(s != NULL);
    CHECK(sh_stack_alloc(s, 40) != NULL);
    unsigned char *buf = sh_stack_alloc(s, 16);
    CHECK(buf != NULL);
    memset(buf, 0x77, 16);
    for (size_t size = 32; size <= 1 * MIB; size *= 2) {
        unsigned char *again = sh_stack_resize_top(s, buf, size);
        CHECK_EQ_PTR(again, buf);
        memset(buf + size / 2, 0x77, size / 2);
    }
    CHECK(all_bytes_are(buf, 1 * MIB, 0x77));
    CHECK_EQ_U(in_use(s), 48 + 1 * MIB);
    sh_stack_delete(s);
}

static void resize_top_of_an_older_allocation_fails_with_einval(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    void *a = sh_stack_alloc(s, 64);
    void *b = sh_stack_alloc(s, 64);
    CHECK(a != NULL && b != NULL);
    errno = 0;
    CHECK(sh_stack_resize_top(s, a, 128) == NULL);
    CHECK_EQ_U(errno, EINVAL);
    CHECK_EQ_U(in_use(s), 128);
    CHECK(is_top(s, b, 64));
    errno = 0;
    CHECK(sh_stack_resize_top(NULL, b, 128) == NULL);
    CHECK_EQ_U(errno, EINVAL);
    CHECK_EQ_U(in_use(s), 128);
    sh_stack_delete(s);
}

static void resize_top_beyond_capacity_fails_with_enomem_and_keeps_the_block(void)
{
    size_t cap = 16 * KIB;
    sh_stack *s = sh_stack_new(cap);
    CHECK(s != NULL);
    CHECK(sh_stack_alloc(s, 32) != NULL);
    unsigned char *p = sh_stack_alloc(s, 100);
    CHECK(p != NULL);
    memset(p, 0x99, 100);
    size_t too_big[] = {cap - 32 + 1, cap, SIZE_MAX, SIZE_MAX - (uintptr_t)p + 1};
    for (size_t i = 0; i < sizeof too_big / sizeof too_big[0]; i++) {
        errno = 0;
        CHECK(sh_stack_resize_top(s, p, too_big[i]) == NULL);
        CHECK_EQ_U(errno, ENOMEM);
        CHECK_EQ_U(in_use(s), 132);
        CHECK_EQ_U(stats_of(s).overflows, i + 1);
        CHECK(all_bytes_are(p, 100, 0x99));
        CHECK(is_top(s, p, 100));
    }
    CHECK_EQ_PTR(sh_stack_resize_top(s, p, cap - 32), p); /* exactly the rest still fits */
    CHECK_EQ_U(stats_of(s).available, 0);
    sh_stack_delete(s);
}

static void resize_top_of_null_allocates(void)
{
    sh_stack *s = sh_stack_new(64 * KIB);
    CHECK(s != NULL);
    CHECK(sh_stack_alloc(s, 3) != NULL);
    void *p = sh_stack_resize_top(s, NULL, 48);
    CHECK(p != NULL);
    CHECK(is_aligned(p, SH_STACK_ALIGN));
    CHECK_EQ_U(in_use(s), 16 + 48);
    CHECK(is_top(s, p, 48));
    errno = 0;
    CHECK(sh_stack_resize_top(s, NULL, SIZE_MAX) == NULL);
    CHECK_EQ_U(errno, ENOMEM);
    errno = 0;
    CHECK(sh_stack_resize_top(NULL, NULL, 8) == NULL);
    CHECK_EQ_U(errno, EINVAL);
    sh_stack_delete(s);
}

/* ---- overflow policies ---------------------------------------------------- */

static void overflow_returns_null_by_default(void)
{
    sh_stack *s = sh_stack_new(page_size());
    CHECK(s != NULL);
    errno = 0;
    CHECK(sh_stack_alloc(s, page_size() + 1) == NULL);
    CHECK_EQ_U(errno, ENOMEM);
    CHECK_EQ_U(stats_of(s).overflows, 1);
    CHECK_EQ_U(stats_of(s).heap_blocks, 0);
    sh_stack_delete(s);
}

struct handler_log {
    int calls;
    sh_stack *stack;
    size_t size, align;
    void *arg;
    int errno_on_entry;
    size_t in_use_on_entry;
    void *result; /* what the handler returns */
    /* for the nested-overflow handler */
    void *inner_result;
    int inner_errno;
};

static void *recording_handler(sh_stack *s, size_t size, size_t align, void *arg)
{
    struct handler_log *log = arg;
    log->calls++;
    log->errno_on_entry = errno;
    log->stack = s;
    log->size = size;
    log->align = align;
    log->arg = arg;
    log->in_use_on_entry = in_use(s);
    errno = 0; /* whatever the handler does to errno, ENOMEM must come out with NULL */
    return log->result;
}

static void call_policy_passes_the_request_to_the_handler_and_returns_its_result(void)
{
    sh_stack *s = sh_stack_new(page_size());
    CHECK(s != NULL);
    static char emergency[64];
    struct handler_log log = {.result = emergency};
    CHECK_EQ_U(sh_stack_set_overflow(s, SH_OVERFLOW_CALL, recording_handler, &log), 0);
    CHECK(sh_stack_alloc(s, 100) != NULL);

    errno = 0;
    void *p = sh_stack_alloc_aligned(s, 5000, 64);
    CHECK_EQ_PTR(opaque(p), emergency);
    CHECK_EQ_U(log.calls, 1);
    CHECK_EQ_PTR(log.stack, s);
    CHECK_EQ_U(log.size, 5000);
    CHECK_EQ_U(log.align, 64);
    CHECK_EQ_PTR(log.arg, &log);
    CHECK_EQ_U(log.errno_on_entry, ENOMEM);
    CHECK_EQ_U(log.in_use_on_entry, 100); /* the stack is unchanged when the handler runs */
    CHECK_EQ_U(in_use(s), 100);
    CHECK_EQ_U(stats_of(s).overflows, 1);

    /* allocations that fit never call it */
    CHECK(sh_stack_alloc(s, 100) != NULL);
    CHECK_EQ_U(log.calls, 1);
    sh_stack_delete(s);
}

static void call_policy_handler_returning_null_gives_null_with_enomem(void)
{
    sh_stack *s = sh_stack_new(page_size());
    CHECK(s != NULL);
    struct handler_log log = {.result = NULL};
    CHECK_EQ_U(sh_stack_set_overflow(s, SH_OVERFLOW_CALL, recording_handler, &log), 0);
    errno = 0;
    CHECK(sh_stack_alloc(s, SIZE_MAX) == NULL);
    CHECK_EQ_U(errno, ENOMEM);
    CHECK_EQ_U(log.calls, 1);
    CHECK_EQ_U(log.size, SIZE_MAX);
    CHECK_EQ_U(log.align, SH_STACK_ALIGN);
    sh_stack_delete(s);
}

static void *handler_that_overflows_again(sh_stack *s, size_t size, size_t align, void *arg)
{
    (void)align;
    struct handler_log *log = arg;
    log->calls++;
    errno = 0;
    log->inner_result = sh_stack_alloc(s, size); /* overflows the same stack again */
    log->inner_errno = errno;
    return log->result;
}

static void call_policy_overflow_inside_the_handler_returns_null_without_recursing(void)
{
    sh_stack *s = sh_stack_new(page_size());
    CHECK(s != NULL);
    static char emergency[64];
    struct handler_log log = {.result = emergency, .inner_result = emergency};
    CHECK_EQ_U(sh_stack_set_overflow(s, SH_OVERFLOW_CALL, handler_that_overflows_again, &log), 0);
    CHECK_EQ_PTR(opaque(sh_stack_alloc(s, 2 * page_size())), emergency);
    CHECK_EQ_U(log.calls, 1); /* not called again for the inner overflow */
    CHECK(log.inner_result == NULL);
    CHECK_EQ_U(log.inner_errno, ENOMEM);
    CHECK_EQ_U(stats_of(s).overflows, 2);

    /* once the handler has returned, the next overflow calls it again */
    CHECK_EQ_PTR(opaque(sh_stack_alloc(s, 2 * page_size())), emergency);
    CHECK_EQ_U(log.calls, 2);
    sh_stack_delete(s);
}

static void *handler_that_allocates_what_fits(sh_stack *s, size_t size, size_t align, void *arg)
{
    (void)size;
    (void)align;
    (void)arg;
    return sh_stack_alloc(s, 16); /* a fallback that does fit */
}

static void call_policy_handler_may_allocate_from_the_stack(void)
{
    sh_stack *s = sh_stack_new(page_size());
    CHECK(s != NULL);
    CHECK_EQ_U(sh_stack_set_overflow(s, SH_OVERFLOW_CALL, handler_that_allocates_what_fits, NULL),
               0);
    void *p = sh_stack_alloc(s, 2 * page_size());
    CHECK(p != NULL);
    CHECK_EQ_U(in_use(s), 16);
    sh_stack_delete(s);
}

static void heap_policy_serves_what_does_not_fit(void)
{
    size_t page = page_size();
    sh_stack *s = sh_stack_new(page);
    CHECK(s != NULL);
    CHECK_EQ_U(sh_stack_set_overflow(s, SH_OVERFLOW_HEAP, NULL, NULL), 0);
    CHECK(sh_stack_alloc(s, 100) != NULL);
    unsigned char *p = sh_stack_alloc(s, 3 * page);
    CHECK(p != NULL);
    CHECK(is_aligned(p, SH_STACK_ALIGN));
    memset(p, 0xee, 3 * page);
    CHECK(all_bytes_are(p, 3 * page, 0xee));
    unsigned char *q = sh_stack_alloc_aligned(s, 100, 65536);
    CHECK(q != NULL);
    CHECK(is_aligned(q, 65536));
    memset(q, 0xdd, 100);

    sh_stack_stats st = stats_of(s);
    CHECK_EQ_U(st.in_use, 100); /* the stack itself is untouched */
    CHECK_EQ_U(st.overflows, 2);
    CHECK_EQ_U(st.heap_blocks, 2);
    CHECK_EQ_U(st.heap_bytes, 3 * page + 100);
    CHECK(all_bytes_are(p, 3 * page, 0xee));
    CHECK(sh_stack_alloc(s, 16) != NULL); /* what fits still comes from the stack */
    CHECK_EQ_U(stats_of(s).heap_blocks, 2);
    sh_stack_delete(s);
}

static void heap_blocks_are_released_by_the_pop_of_their_frame(void)
{
    size_t page = page_size();
    sh_stack *s = sh_stack_new(page);
    CHECK(s != NULL);
    CHECK_EQ_U(sh_stack_set_overflow(s, SH_OVERFLOW_HEAP, NULL, NULL), 0);

    sh_frame outer = sh_stack_push(s);
    char *a = sh_stack_alloc(s, 2 * page);
    CHECK(a != NULL);
    sh_frame inner = sh_stack_push(s);
    char *b = sh_stack_alloc(s, 3 * page);
    char *c = sh_stack_alloc(s, 4 * page);
    CHECK(b != NULL && c != NULL);
    sh_frame innermost = sh_stack_push(s);
    sh_stack_pop(s, innermost); /* an empty frame releases nothing */
    CHECK_EQ_U(stats_of(s).heap_blocks, 3);
    CHECK_EQ_U(stats_of(s).heap_bytes, 9 * page);

    sh_stack_pop(s, inner);
    CHECK_EQ_U(stats_of(s).heap_blocks, 1);
    CHECK_EQ_U(stats_of(s).heap_bytes, 2 * page);
    a[2 * page - 1] = 1; /* still usable */

    /* a block allocated in the outer frame after the inner pop belongs to the outer frame */
    sh_frame again = sh_stack_push(s);
    sh_stack_pop(s, again);
    char *d = sh_stack_alloc(s, 2 * page);
    CHECK(d != NULL);
    CHECK_EQ_U(stats_of(s).heap_blocks, 2);
    sh_frame later = sh_stack_push(s);
    sh_stack_pop(s, later);
    CHECK_EQ_U(stats_of(s).heap_blocks, 2);

    sh_stack_pop(s, outer);
    CHECK_EQ_U(stats_of(s).heap_blocks, 0);
    CHECK_EQ_U(stats_of(s).heap_bytes, 0);
    CHECK_EQ_U(stats_of(s).frames, 0);
    sh_stack_delete(s);
}

static void heap_block_outside_any_frame_lives_until_freed_or_deleted(void)
{
    size_t page = page_size();
    sh_stack *s = sh_stack_new(page);
    CHECK(s != NULL);
    CHECK_EQ_U(sh_stack_set_overflow(s, SH_OVERFLOW_HEAP, NULL, NULL), 0);
    sh_frame earlier = sh_stack_push(s);
    sh_stack_pop(s, earlier);
    char *p = sh_stack_alloc(s, 2 * page);
    CHECK(p != NULL);
    sh_frame f = sh_stack_push(s);
    sh_stack_pop(s, f);
    CHECK_EQ_U(stats_of(s).heap_blocks, 1);
    CHECK_EQ_U(sh_stack_free_top(s, p), EINVAL); /* the push made it no longer the top */

    char *q = sh_stack_alloc(s, 2 * page);
    CHECK(q != NULL);
    CHECK_EQ_U(sh_stack_free_top(s, q), 0); /* the newest heap block is the top allocation */
    CHECK_EQ_U(stats_of(s).heap_blocks, 1);
    CHECK_EQ_U(stats_of(s).heap_bytes, 2 * page);
    sh_stack_delete(s);
}

static void resize_top_reallocates_a_heap_block(void)
{
    size_t page = page_size();
    sh_stack *s = sh_stack_new(page);
    CHECK(s != NULL);
    CHECK_EQ_U(sh_stack_set_overflow(s, SH_OVERFLOW_HEAP, NULL, NULL), 0);
    sh_frame f = sh_stack_push(s);
    unsigned char *p = sh_stack_alloc(s, 2 * page);
    CHECK(p != NULL);
    memset(p, 0x1f, 2 * page);

    unsigned char *q = sh_stack_resize_top(s, p, 8 * page);
    CHECK(q != NULL);
    CHECK(all_bytes_are(q, 2 * page, 0x1f));
    memset(q, 0x2f, 8 * page);
    CHECK_EQ_U(stats_of(s).heap_blocks, 1);
    CHECK_EQ_U(stats_of(s).heap_bytes, 8 * page);

    unsigned char *r = sh_stack_resize_top(s, q, 5 * page); /* shrinking stays in place */
    CHECK_EQ_PTR(r, q);
    CHECK(all_bytes_are(r, 5 * page, 0x2f));
    CHECK_EQ_U(stats_of(s).heap_bytes, 5 * page);
    CHECK(is_top(s, r, 5 * page));

    errno = 0;
    CHECK(sh_stack_resize_top(s, r, SIZE_MAX) == NULL);
    CHECK_EQ_U(errno, ENOMEM);
    CHECK(all_bytes_are(r, 5 * page, 0x2f));
    CHECK_EQ_U(stats_of(s).heap_blocks, 1);

    sh_stack_pop(s, f);
    CHECK_EQ_U(stats_of(s).heap_blocks, 0);
    sh_stack_delete(s);
}

static void resize_top_moves_a_stack_block_to_the_heap_under_heap_policy(void)
{
    size_t page = page_size();
    sh_stack *s = sh_stack_new(page);
    CHECK(s != NULL);
    CHECK_EQ_U(sh_stack_set_overflow(s, SH_OVERFLOW_HEAP, NULL, NULL), 0);
    CHECK(sh_stack_alloc(s, 64) != NULL);
    sh_frame f = sh_stack_push(s);
    unsigned char *p = sh_stack_alloc(s, 200);
    CHECK(p != NULL);
    memset(p, 0x4d, 200);
    unsigned char *q = sh_stack_resize_top(s, p, 4 * page);
    CHECK(q != NULL);
    CHECK(q != p);
    CHECK(all_bytes_are(q, 200, 0x4d));
    CHECK_EQ_U(in_use(s), 64); /* the stack block was released */
    CHECK_EQ_U(stats_of(s).heap_blocks, 1);
    CHECK(is_top(s, q, 4 * page));
    sh_stack_pop(s, f);
    CHECK_EQ_U(stats_of(s).heap_blocks, 0);
    sh_stack_delete(s);
}

/*
 * Heap fallback blocks of SPIKE bytes, touched, in nested frames; released by pops (or by
 * deleting the stack with frames and blocks still live) ROUNDS times.  If the blocks leaked,
 * the resident set would grow by ROUNDS * 2 * SPIKE; it must stay within a few spikes.
 */
enum { SPIKE = 8 << 20, ROUNDS = 24 };

static void heap_blocks_released_by_pops_do_not_accumulate(void)
{
    sh_stack *s = sh_stack_new(page_size());
    CHECK(s != NULL);
    CHECK_EQ_U(sh_stack_set_overflow(s, SH_OVERFLOW_HEAP, NULL, NULL), 0);
    size_t before = rss_bytes();
    for (int round = 0; round < ROUNDS; round++) {
        sh_frame outer = sh_stack_push(s);
        char *a = sh_stack_alloc(s, SPIKE);
        CHECK(a != NULL);
        memset(a, round, SPIKE);
        sh_frame inner = sh_stack_push(s);
        char *b = sh_stack_alloc(s, SPIKE);
        CHECK(b != NULL);
        memset(b, round, SPIKE);
        sh_stack_pop(s, inner);
        sh_stack_pop(s, outer);
    }
    CHECK_EQ_U(stats_of(s).heap_blocks, 0);
    CHECK(rss_bytes() < before + 4 * (size_t)SPIKE);
    sh_stack_delete(s);
}

static void delete_releases_live_heap_blocks(void)
{
    size_t before = rss_bytes();
    for (int round = 0; round < ROUNDS; round++) {
        sh_stack *s = sh_stack_new(page_size());
        CHECK(s != NULL);
        CHECK_EQ_U(sh_stack_set_overflow(s, SH_OVERFLOW_HEAP, NULL, NULL), 0);
        char *a = sh_stack_alloc(s, SPIKE); /* outside any frame */
        CHECK(a != NULL);
        memset(a, round, SPIKE);
        (void)sh_stack_push(s);
        char *b = sh_stack_alloc_aligned(s, SPIKE, 65536); /* in a frame left open */
        CHECK(b != NULL);
        memset(b, round, SPIKE);
        CHECK_EQ_U(stats_of(s).heap_blocks, 2);
        sh_stack_delete(s);
    }
    CHECK(rss_bytes() < before + 4 * (size_t)SPIKE);
}

static void set_overflow_rejects_bad_arguments_and_keeps_the_policy(void)
{
    sh_stack *s = sh_stack_new(page_size());
    CHECK(s != NULL);
    CHECK_EQ_U(sh_stack_set_overflow(s, SH_OVERFLOW_HEAP, NULL, NULL), 0);
    CHECK_EQ_U(sh_stack_set_overflow(s, (sh_overflow_policy)4, NULL, NULL), EINVAL);
    CHECK_EQ_U(sh_stack_set_overflow(s, (sh_overflow_policy)-1, NULL, NULL), EINVAL);
    CHECK_EQ_U(sh_stack_set_overflow(s, SH_OVERFLOW_CALL, NULL, NULL), EINVAL);
    CHECK_EQ_U(sh_stack_set_overflow(NULL, SH_OVERFLOW_RETURN_NULL, NULL, NULL), EINVAL);
    void *p = sh_stack_alloc(s, 2 * page_size()); /* still the heap policy */
    CHECK(p != NULL);
    CHECK_EQ_U(stats_of(s).heap_blocks, 1);
    sh_stack_delete(s);
}

static void set_overflow_switches_back_to_return_null(void)
{
    sh_stack *s = sh_stack_new(page_size());
    CHECK(s != NULL);
    struct handler_log log = {.result = NULL};
    CHECK_EQ_U(sh_stack_set_overflow(s, SH_OVERFLOW_CALL, recording_handler, &log), 0);
    CHECK_EQ_U(sh_stack_set_overflow(s, SH_OVERFLOW_RETURN_NULL, NULL, NULL), 0);
    errno = 0;
    CHECK(sh_stack_alloc(s, 2 * page_size()) == NULL);
    CHECK_EQ_U(errno, ENOMEM);
    CHECK_EQ_U(log.calls, 0);
    sh_stack_delete(s);
}

/* ---- statistics ----------------------------------------------------------- */

static void get_stats_rejects_null_arguments(void)
{
    sh_stack *s = sh_stack_new(page_size());
    CHECK(s != NULL);
    sh_stack_stats st;
    CHECK_EQ_U(sh_stack_get_stats(NULL, &st), EINVAL);
    CHECK_EQ_U(sh_stack_get_stats(s, NULL), EINVAL);
    CHECK_EQ_U(sh_stack_get_stats(s, &st), 0);
    sh_stack_delete(s);
}

static void stats_in_use_and_available_add_up_to_the_capacity(void)
{
    size_t cap = 4 * page_size();
    sh_stack *s = sh_stack_new(cap);
    CHECK(s != NULL);
    size_t sizes[] = {1, 15, 16, 17, 1000, 0, 3};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        CHECK(sh_stack_alloc_aligned(s, sizes[i], 1) != NULL);
        sh_stack_stats st = stats_of(s);
        CHECK_EQ_U(st.capacity, cap);
        size_t aligned = (st.in_use + SH_STACK_ALIGN - 1) / SH_STACK_ALIGN * SH_STACK_ALIGN;
        CHECK_EQ_U(st.available, cap - aligned);
        /* available is exactly what one allocation can still take */
        void *p = sh_stack_alloc(s, st.available);
        CHECK(p != NULL);
        CHECK_EQ_U(sh_stack_free_top(s, p), 0);
    }
    /* within the last alignment step of the end: nothing is available */
    CHECK(sh_stack_alloc_aligned(s, cap - in_use(s) - 5, 1) != NULL);
    CHECK_EQ_U(in_use(s), cap - 5);
    CHECK_EQ_U(stats_of(s).available, 0);
    sh_stack_delete(s);
}

/* ---- trim ----------------------------------------------------------------- */

static void trim_gives_pages_above_the_top_back_to_the_os(void)
{
    size_t spike = 32 * MIB;
    sh_stack *s = sh_stack_new(64 * MIB);
    CHECK(s != NULL);
    unsigned char *kept = sh_stack_alloc(s, 100);
    CHECK(kept != NULL);
    memset(kept, 0x6b, 100);

    sh_frame f = sh_stack_push(s);
    unsigned char *p = sh_stack_alloc(s, spike);
    CHECK(p != NULL);
    memset(p, 1, spike);
    sh_stack_pop(s, f);
    size_t before = rss_bytes();

    size_t released = sh_stack_trim(s);
    size_t after = rss_bytes();
    CHECK(released >= spike);
    CHECK(released <= 64 * MIB);
    CHECK(after + spike - 2 * MIB <= before); /* the spike's pages are gone */
    CHECK(all_bytes_are(kept, 100, 0x6b));    /* what is below the top stays */
    CHECK_EQ_U(in_use(s), 100);

    /* the trimmed range is still usable */
    p = sh_stack_alloc(s, spike);
    CHECK(p != NULL);
    memset(p, 2, spike);
    CHECK_EQ_U(sh_stack_trim(NULL), 0);
    sh_stack_delete(s);
}

/* ---- names ---------------------------------------------------------------- */

static void default_name_is_stack_at_its_address(void)
{
    sh_stack *s = sh_stack_new(page_size());
    CHECK(s != NULL);
    char expected[64];
    snprintf(expected, sizeof expected, "stack@%p", (void *)s);
    CHECK(strncmp(sh_stack_name(s), "stack@0x", 8) == 0);
    CHECK(strcmp(sh_stack_name(s), expected) == 0);
    sh_stack_delete(s);
}

static void set_name_copies_the_name(void)
{
    sh_stack *s = sh_stack_new(page_size());
    CHECK(s != NULL);
    char name[] = "parser scratch";
    CHECK_EQ_U(sh_stack_set_name(s, name), 0);
    name[0] = 'X';
    CHECK(strcmp(sh_stack_name(s), "parser scratch") == 0);
    CHECK_EQ_U(sh_stack_set_name(s, "b"), 0); /* a shorter name replaces it entirely */
    CHECK(strcmp(sh_stack_name(s), "b") == 0);
    sh_stack_delete(s);
}

static void set_name_keeps_at_most_47_bytes(void)
{
    sh_stack *s = sh_stack_new(page_size());
    CHECK(s != NULL);
    char long_name[101];
    for (int i = 0; i < 100; i++)
        long_name[i] = (char)('a' + i % 26);
    long_name[100] = '\0';
    CHECK_EQ_U(sh_stack_set_name(s, long_name), 0);
    CHECK_EQ_U(strlen(sh_stack_name(s)), 47);
    CHECK(strncmp(sh_stack_name(s), long_name, 47) == 0);

    long_name[47] = '\0'; /* exactly 47 bytes: kept whole */
    CHECK_EQ_U(sh_stack_set_name(s, long_name), 0);
    CHECK(strcmp(sh_stack_name(s), long_name) == 0);
    CHECK_EQ_U(sh_stack_set_name(s, ""), 0);
    CHECK(strcmp(sh_stack_name(s), "") == 0);
    sh_stack_delete(s);
}

static void set_name_rejects_null_and_keeps_the_name(void)
{
    sh_stack *s = sh_stack_new(page_size());
    CHECK(s != NULL);
    CHECK_EQ_U(sh_stack_set_name(s, "kept"), 0);
    CHECK_EQ_U(sh_stack_set_name(s, NULL), EINVAL);
    CHECK_EQ_U(sh_stack_set_name(NULL, "x"), EINVAL);
    CHECK(strcmp(sh_stack_name(s), "kept") == 0);
    sh_stack_delete(s);
}

/* ---- the default stack of each thread ------------------------------------- */

static void default_stack_is_the_same_on_every_call_in_a_thread(void)
{
    sh_stack *s = sh_stack_default();
    CHECK(s != NULL);
    CHECK_EQ_PTR(sh_stack_default(), s);
    void *p = sh_stack_alloc(s, 64);
    CHECK(p != NULL);
    CHECK_EQ_PTR(sh_stack_default(), s);
    CHECK_EQ_U(sh_stack_free_top(sh_stack_default(), p), 0);
}

static void default_stack_has_the_default_capacity_when_the_variable_is_unset(void)
{
    sh_stack *s = sh_stack_default();
    CHECK(s != NULL);
    CHECK_EQ_U(stats_of(s).capacity, SH_STACK_DEFAULT_CAPACITY);
    CHECK_EQ_U(SH_STACK_DEFAULT_CAPACITY, 8 * MIB);
}

struct thread_view {
    sh_stack *main_stack; /* in */
    sh_stack *mine;       /* out */
    bool same_twice, usable, named;
};

static void *look_at_default_stack(void *arg)
{
    struct thread_view *v = arg;
    v->mine = sh_stack_default();
    v->same_twice = v->mine != NULL && sh_stack_default() == v->mine;
    v->usable = v->mine != NULL && sh_stack_alloc(v->mine, 4096) != NULL;
    v->named = v->mine != NULL && strncmp(sh_stack_name(v->mine), "default stack of thread ",
                                          strlen("default stack of thread ")) == 0;
    return NULL;
}

static void default_stack_differs_between_threads_and_is_released_at_exit(void)
{
    struct thread_view v = {.main_stack = sh_stack_default()};
    CHECK(v.main_stack != NULL);
    pthread_t t;
    CHECK_EQ_U(pthread_create(&t, NULL, look_at_default_stack, &v), 0);
    CHECK_EQ_U(pthread_join(t, NULL), 0);
    CHECK(v.mine != NULL);
    CHECK(v.mine != v.main_stack);
    CHECK(v.same_twice);
    CHECK(v.usable);
    CHECK(v.named);
    CHECK(!is_mapped(v.mine)); /* released when the thread exited */
    CHECK(is_mapped(v.main_stack));
    CHECK_EQ_PTR(sh_stack_default(), v.main_stack);
}

/* ---- cursors ------------------------------------------------------------------------ */

/* Blocks from a cursor are aligned, disjoint and inside the stack, and its
   end publishes them: the stack's in_use counts them, a pop releases them. */
static void cursor_allocations_are_the_stacks_at_its_end(void)
{
    sh_stack *s = sh_stack_new(64 << 10);
    CHECK(s != NULL);
    if (s == NULL)
        return;
    sh_frame f = sh_stack_push(s);
    size_t before = stats_of(s).in_use;
    sh_cursor c = sh_stack_cursor(s);
    unsigned char *prev = NULL;
    size_t total = 0;
    for (size_t i = 1; i <= 100; i++) {
        unsigned char *p = sh_cursor_alloc(&c, i);
        CHECK(p != NULL);
        CHECK_EQ_U((uintptr_t)p % SH_STACK_ALIGN, 0);
        if (prev != NULL)
            CHECK((uintptr_t)p >= (uintptr_t)prev + (i - 1)); /* after the previous block */
        memset(p, (int)i, i);
        prev = p;
        total = (uintptr_t)p + i - (uintptr_t)s->top;
    }
    void *zero = sh_cursor_alloc(&c, 0);
    CHECK(zero != NULL);
    sh_cursor_end(&c);
    size_t in_use = stats_of(s).in_use;
    CHECK(in_use >= before + total); /* tools builds pad each block: no upper bound */
    void *direct = sh_stack_alloc(s, 8); /* usable again, after the cursor's blocks */
    CHECK((uintptr_t)direct >= (uintptr_t)prev + 100);
    sh_stack_pop(s, f);
    CHECK_EQ_U(stats_of(s).in_use, before);
    sh_stack_delete(s);
}

/* A copy passed by value is a frame: what the callee allocated is reused
   when the caller goes on with its own copy. */
static uintptr_t callee_allocates(sh_cursor c)
{
    return (uintptr_t)sh_cursor_alloc(&c, 64);
}

static void a_cursor_copy_is_a_frame(void)
{
    sh_stack *s = sh_stack_new(64 << 10);
    CHECK(s != NULL);
    if (s == NULL)
        return;
    sh_cursor c = sh_stack_cursor(s);
    void *a = sh_cursor_alloc(&c, 32);
    uintptr_t inner = callee_allocates(c);
    void *b = sh_cursor_alloc(&c, 32);
    CHECK(a != NULL && b != NULL);
    CHECK_EQ_U((uintptr_t)b, inner); /* the callee's block is reused */
    sh_cursor_end(&c);
    sh_stack_delete(s);
}

/* What does not fit goes out of line: ENOMEM and the overflow counter,
   the stack unchanged, and the cursor goes on; the heap policy's block is
   released by the enclosing pop. */
static void cursor_overflow_follows_the_stacks_policy(void)
{
    sh_stack *s = sh_stack_new(16 << 10);
    CHECK(s != NULL);
    if (s == NULL)
        return;
    sh_frame f = sh_stack_push(s);
    sh_cursor c = sh_stack_cursor(s);
    void *small = sh_cursor_alloc(&c, 100);
    errno = 0;
    CHECK(sh_cursor_alloc(&c, 1 << 20) == NULL);
    CHECK_EQ_U(errno, ENOMEM);
    CHECK(sh_cursor_alloc(&c, SIZE_MAX) == NULL);
    void *after = sh_cursor_alloc(&c, 100);
    CHECK(small != NULL && after != NULL && (uintptr_t)after > (uintptr_t)small);
    CHECK_EQ_U(sh_stack_set_overflow(s, SH_OVERFLOW_HEAP, NULL, NULL), 0);
    unsigned char *big = sh_cursor_alloc(&c, 1 << 20);
    CHECK(big != NULL);
    if (big != NULL)
        memset(big, 7, 1 << 20);
    sh_cursor_end(&c);
    sh_stack_stats st = stats_of(s);
    CHECK_EQ_U(st.overflows, 3);
    CHECK_EQ_U(st.heap_blocks, 1);
    sh_stack_pop(s, f);
    CHECK_EQ_U(stats_of(s).heap_blocks, 0);
    sh_stack_delete(s);
}

/* While a cursor is open, the LIFO extras refuse what is not theirs. */
static void free_top_and_resize_top_refuse_a_cursors_blocks(void)
{
    sh_stack *s = sh_stack_new(64 << 10);
    CHECK(s != NULL);
    if (s == NULL)
        return;
    sh_cursor c = sh_stack_cursor(s);
    void *p = sh_cursor_alloc(&c, 64);
    CHECK_EQ_U(sh_stack_free_top(s, p), EINVAL);
    errno = 0;
    CHECK(sh_stack_resize_top(s, p, 128) == NULL);
    sh_cursor_end(&c);
    sh_stack_delete(s);
}

int main(void)
{
    /* The default capacity is only checked with the variable unset (it is read once). */
    unsetenv("STACKHEAP_STACK_SIZE");

    RUN(new_rounds_capacity_up_to_whole_pages);
    RUN(new_stack_is_empty);
    RUN(new_with_zero_capacity_fails_with_einval);
    RUN(new_with_unreservable_capacity_fails_with_enomem);
    if (built_with_asan) /* ASan commits shadow memory for the whole poisoned reservation */
        printf("skip large_stack_costs_nothing_until_touched (AddressSanitizer build)\n");
    else
        RUN(large_stack_costs_nothing_until_touched);

    RUN(alloc_uses_the_alignment_of_max_align_t);
    RUN(alloc_aligned_honours_every_power_of_two);
    RUN(allocations_are_writable_and_do_not_overlap);
    RUN(alloc_of_zero_bytes_returns_an_aligned_pointer_that_takes_no_space);
    RUN(zero_byte_allocation_is_the_top_allocation);
    RUN(alloc_of_size_max_fails_with_enomem_and_keeps_the_stack);
    RUN(alloc_whose_end_wraps_around_fails_with_enomem);
    RUN(alloc_with_a_bad_alignment_fails_with_einval_and_keeps_the_stack);
    RUN(alloc_on_a_null_stack_fails_with_einval);
    RUN(alloc_of_exactly_the_capacity_fits_and_one_more_byte_does_not);
    RUN(allocations_fill_the_stack_to_the_last_byte);

    RUN(calloc_returns_zeroed_memory_over_dirty_bytes);
    RUN(calloc_whose_total_size_overflows_fails_with_enomem);
    RUN(calloc_too_large_for_the_stack_fails_with_enomem);

    RUN(pop_releases_exactly_what_was_allocated_since_the_push);
    RUN(frames_nest_to_depth_1000_with_allocations_in_each);
    RUN(frames_stat_counts_open_frames);
    RUN(high_water_tracks_the_largest_in_use);

    RUN(scope_pops_when_its_block_ends);
    RUN(scope_pops_on_return);
    RUN(scope_pops_on_break_and_break_leaves_only_the_scope);
    RUN(scope_pops_on_continue_and_continue_leaves_only_the_scope);
    RUN(scope_pops_on_goto_out_of_it);
    RUN(nested_scopes_pop_innermost_first);
    RUN(frame_pops_when_its_block_ends);
    RUN(frame_pops_on_return);
    RUN(frame_in_a_loop_body_pops_on_continue_break_and_each_iteration);
    RUN(frame_pops_on_goto_out_of_its_block);

    RUN(free_top_releases_the_most_recent_allocation);
    RUN(free_top_twice_fails_with_einval);
    RUN(free_top_of_an_older_allocation_fails_and_changes_nothing);
    RUN(free_top_of_null_does_nothing);
    RUN(free_top_on_a_null_stack_fails_with_einval);
    RUN(free_top_does_not_reach_across_a_push_or_pop);

    RUN(resize_top_grows_in_place_and_keeps_the_contents);
    RUN(resize_top_shrinks_in_place);
    RUN(growing_buffer_never_changes_address);
    RUN(resize_top_of_an_older_allocation_fails_with_einval);
    RUN(resize_top_beyond_capacity_fails_with_enomem_and_keeps_the_block);
    RUN(resize_top_of_null_allocates);

    RUN(overflow_returns_null_by_default);
    RUN(call_policy_passes_the_request_to_the_handler_and_returns_its_result);
    RUN(call_policy_handler_returning_null_gives_null_with_enomem);
    RUN(call_policy_overflow_inside_the_handler_returns_null_without_recursing);
    RUN(call_policy_handler_may_allocate_from_the_stack);
    RUN(heap_policy_serves_what_does_not_fit);
    RUN(heap_blocks_are_released_by_the_pop_of_their_frame);
    RUN(heap_block_outside_any_frame_lives_until_freed_or_deleted);
    RUN(resize_top_reallocates_a_heap_block);
    RUN(resize_top_moves_a_stack_block_to_the_heap_under_heap_policy);
    RUN(heap_blocks_released_by_pops_do_not_accumulate);
    RUN(delete_releases_live_heap_blocks);
    RUN(set_overflow_rejects_bad_arguments_and_keeps_the_policy);
    RUN(set_overflow_switches_back_to_return_null);

    RUN(get_stats_rejects_null_arguments);
    RUN(stats_in_use_and_available_add_up_to_the_capacity);

    RUN(trim_gives_pages_above_the_top_back_to_the_os);

    RUN(default_name_is_stack_at_its_address);
    RUN(set_name_copies_the_name);
    RUN(set_name_keeps_at_most_47_bytes);
    RUN(set_name_rejects_null_and_keeps_the_name);

    RUN(default_stack_is_the_same_on_every_call_in_a_thread);
    RUN(default_stack_has_the_default_capacity_when_the_variable_is_unset);
    RUN(default_stack_differs_between_threads_and_is_released_at_exit);
    RUN(cursor_allocations_are_the_stacks_at_its_end);
    RUN(a_cursor_copy_is_a_frame);
    RUN(cursor_overflow_follows_the_stacks_policy);
    RUN(free_top_and_resize_top_refuse_a_cursors_blocks);
    return check_report();
}

/*
 * test_heap_api.c -- the heap's API as a specification: sh_malloc, sh_calloc,
 * sh_realloc, sh_reallocarray, sh_free, sh_aligned_alloc, sh_posix_memalign,
 * sh_usable_size and the first-class heaps (sh_heap_new, sh_heap_malloc,
 * sh_heap_calloc, sh_heap_realloc, sh_heap_destroy).
 *
 * Every test states one behaviour of include/stackheap.h, bad inputs and
 * failures included, and checks it through the public API and what the
 * kernel reports about the process's memory (/proc/self/statm, msync).
 * Threads, fork and shrinking have their own programs (test_heap_threads.c,
 * test_heap_fork.c, test_heap_shrink.c).
 */
#include "check.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

#include "stackheap.h"

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)

/* The size limits of the heap's kinds of block (src/heap/heap_internal.h). */
#define SMALL_MAX (8 * KIB)
#define MEDIUM_MAX (128 * KIB)

/* ---- helpers -------------------------------------------------------------- */

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

static bool is_aligned(const void *p, size_t align)
{
    return ((uintptr_t)p & (align - 1)) == 0;
}

/* Byte i of the pattern `seed`: changes with every byte and every seed. */
static unsigned char pattern_byte(size_t i, unsigned seed)
{
    return (unsigned char)(seed * 151u + i * 7u + (i >> 8) * 13u + 1u);
}

static void fill(void *p, size_t n, unsigned seed)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = pattern_byte(i, seed);
}

static bool holds(const void *p, size_t n, unsigned seed)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != pattern_byte(i, seed))
            return false;
    return true;
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

/* True if no mapping covers the page holding p (msync fails with ENOMEM). */
static bool is_unmapped(const void *p)
{
    void *page = (void *)((uintptr_t)p & ~(uintptr_t)(page_size() - 1));
    errno = 0;
    return msync(page, page_size(), MS_ASYNC) == -1 && errno == ENOMEM;
}

static int global_object = 42;

/* ---- sh_malloc and sh_free --------------------------------------------------- */

static void malloc_returns_writable_distinct_blocks_of_every_size_to_16_kib(void)
{
    enum { COUNT = 4 };
    for (size_t size = 1; size <= 16 * KIB; size += size < 1024 ? 1 : 61) {
        unsigned char *p[COUNT];
        for (unsigned i = 0; i < COUNT; i++) {
            p[i] = sh_malloc(size);
            CHECK(p[i] != NULL);
            fill(p[i], size, (unsigned)size + i);
        }
        for (unsigned i = 0; i < COUNT; i++) {
            CHECK(holds(p[i], size, (unsigned)size + i));
            sh_free(p[i]);
        }
    }
}

static void malloc_aligns_blocks_of_16_bytes_or_more_to_16_and_smaller_ones_to_8(void)
{
    /* several blocks per size, so that the second and third block of a page are seen too */
    enum { COUNT = 8 };
    for (size_t size = 1; size <= 4 * KIB; size++) {
        void *p[COUNT];
        size_t want = size >= 16 ? 16 : 8;
        for (unsigned i = 0; i < COUNT; i++) {
            p[i] = sh_malloc(size);
            CHECK(p[i] != NULL);
        }
        for (unsigned i = 0; i < COUNT; i++) {
            if (!is_aligned(p[i], want)) {
                fprintf(stderr,
                        "  BUG src/heap/heap_internal.h sh_bin_size: malloc(%zu) returned %p, "
                        "not aligned to %zu (classes 24, 40 and 56 are not multiples of 16)\n",
                        size, p[i], want);
                CHECK(is_aligned(p[i], want));
            }
        }
        for (unsigned i = 0; i < COUNT; i++)
            sh_free(p[i]);
    }
}

static void malloc_of_zero_returns_unique_pointers_that_can_be_freed(void)
{
    void *a = sh_malloc(0);
    void *b = sh_malloc(0);
    CHECK(a != NULL);
    CHECK(b != NULL);
    CHECK(opaque(a) != opaque(b));
    sh_free(a);
    sh_free(b);
    /* and again, after the frees: still fine */
    void *c = sh_malloc(0);
    CHECK(c != NULL);
    sh_free(c);
}

/* The 64 KiB regions (small pages) a set of blocks lies in, added to seen[]
   (n of them so far, at most cap); returns the new n. */
static size_t note_regions(void *const *blocks, size_t count, uintptr_t *seen, size_t n, size_t cap)
{
    for (size_t i = 0; i < count; i++) {
        uintptr_t r = (uintptr_t)blocks[i] >> 16;
        size_t k = 0;
        while (k < n && seen[k] != r)
            k++;
        if (k == n && n < cap)
            seen[n++] = r;
    }
    return n;
}

/*
 * A working set whose blocks are replaced at random stays in the pages it
 * filled: blocks freed into full pages are handed out again (a full page
 * goes back to its queue after a few frees, at most 4), so the heap does
 * not carve new pages while old ones fill with holes.  2000 blocks of 1 KiB
 * fill 32 pages or so; 60 rounds replace 100 random blocks each (6000
 * mallocs, 94 pages' worth if nothing were reused); the blocks may use at
 * most 2 pages more than the fill did (full pages keep up to 3 freed
 * blocks, 1.5 pages in all, until their fourth free).
 */
static void blocks_freed_into_full_pages_are_reused_before_new_pages(void)
{
    enum { LIVE = 2000, ROUNDS = 60, REPLACE = 100, CAP = 512 };
    static void *block[LIVE];
    static uintptr_t seen[CAP];
    sh_heap *h = sh_heap_new();
    CHECK(h != NULL);
    for (size_t i = 0; i < LIVE; i++) {
        block[i] = sh_heap_malloc(h, 1000);
        CHECK(block[i] != NULL);
    }
    size_t filled = note_regions(block, LIVE, seen, 0, CAP), n = filled;
    uint64_t rng = 88172645463325252ull;
    for (unsigned r = 0; r < ROUNDS; r++) {
        size_t slot[REPLACE];
        for (unsigned k = 0; k < REPLACE; k++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            slot[k] = (size_t)(rng % LIVE);
            sh_free(block[slot[k]]);
            block[slot[k]] = NULL;
        }
        for (unsigned k = 0; k < REPLACE; k++) {
            if (block[slot[k]] != NULL) /* the same slot twice */
                continue;
            block[slot[k]] = sh_heap_malloc(h, 1000);
            CHECK(block[slot[k]] != NULL);
            n = note_regions(&block[slot[k]], 1, seen, n, CAP);
        }
    }
    CHECK(n <= filled + 2);
    sh_heap_destroy(h);
}

static void free_of_null_does_nothing(void)
{
    errno = 1234;
    sh_free(NULL);
    CHECK_EQ_U(errno, 1234);
}

/* A page the program mapped itself, filled with 5s: no allocator handed it out. */
static unsigned char *mapped_page(void)
{
    size_t page = page_size();
    unsigned char *m = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        abort();
    fill(m, page, 5);
    return m;
}

static void free_mapped_page(void *arg)
{
    (void)arg;
    sh_free(opaque(mapped_page() + 64));
}

static void free_global(void *arg)
{
    (void)arg;
    sh_free(opaque(&global_object));
}

static void free_on_stack(void *arg)
{
    (void)arg;
    int on_stack = 7;
    sh_free(opaque(&on_stack));
}

static void free_wild(void *arg)
{
    (void)arg;
    sh_free(opaque((void *)(uintptr_t)16));
}

static void realloc_mapped_page(void *arg)
{
    (void)arg;
    (void)!sh_realloc(opaque(mapped_page() + 64), 100);
}

static void heap_realloc_mapped_page(void *arg)
{
    (void)arg;
    sh_heap *h = sh_heap_new();
    (void)!sh_heap_realloc(h, opaque(mapped_page() + 128), 64);
}

static void free_of_a_pointer_no_allocator_handed_out_aborts(void)
{
    CHECK_DIES(free_mapped_page, NULL, "stackheap: invalid free: free(0x");
    CHECK_DIES(free_mapped_page, NULL,
               ") is not a block stackheap handed out (it points into memory mapped outside "
               "stackheap (mmap), not a block)");
    CHECK_DIES(free_global, NULL, "is not a block stackheap handed out (it points into ");
    CHECK_DIES(free_on_stack, NULL,
               "is not a block stackheap handed out (it points into the stack)");
    CHECK_DIES(free_wild, NULL, "(it points into no mapping: an uninitialised or damaged pointer)");
}

static void realloc_of_a_pointer_no_allocator_handed_out_aborts(void)
{
    CHECK_DIES(realloc_mapped_page, NULL, "stackheap: invalid free: realloc(0x");
    CHECK_DIES(heap_realloc_mapped_page, NULL, "stackheap: invalid free: realloc(0x");
}

static void malloc_of_an_absurd_size_fails_with_enomem(void)
{
    size_t absurd[] = {SIZE_MAX,     SIZE_MAX - 1,     SIZE_MAX - page_size(),
                       SIZE_MAX / 2, SIZE_MAX / 2 + 1, (size_t)1 << 62};
    for (size_t i = 0; i < sizeof absurd / sizeof absurd[0]; i++) {
        errno = 0;
        CHECK(sh_malloc(runtime(absurd[i])) == NULL);
        CHECK_EQ_U(errno, ENOMEM);
    }
}

/* ---- sh_calloc -------------------------------------------------------------- */

/*
 * Dirty `count` blocks of `size` bytes, free them, then calloc as many of the
 * same size (which reuses that memory): every byte must read zero.
 */
static bool calloc_zeroes_reused_memory(size_t size, unsigned count)
{
    unsigned char *p[64];
    if (count > 64)
        return false;
    for (unsigned i = 0; i < count; i++) {
        p[i] = sh_malloc(size);
        if (p[i] == NULL)
            return false;
        memset(p[i], 0xA5, sh_usable_size(p[i]));
    }
    for (unsigned i = 0; i < count; i++)
        sh_free(p[i]);
    bool zero = true;
    for (unsigned i = 0; i < count; i++) {
        p[i] = sh_calloc(1, size);
        if (p[i] == NULL)
            return false;
        if (!all_zero(p[i], size)) {
            fprintf(stderr, "  calloc(1, %zu) returned a block that is not all zero\n", size);
            zero = false;
        }
    }
    for (unsigned i = 0; i < count; i++)
        sh_free(p[i]);
    return zero;
}

static void calloc_zeroes_reused_small_blocks(void)
{
    CHECK(calloc_zeroes_reused_memory(24, 64));
    CHECK(calloc_zeroes_reused_memory(100, 64));
    CHECK(calloc_zeroes_reused_memory(SMALL_MAX, 16));
}

static void calloc_zeroes_reused_medium_blocks(void)
{
    CHECK(calloc_zeroes_reused_memory(64 * KIB, 16));
    CHECK(calloc_zeroes_reused_memory(MEDIUM_MAX, 16));
}

static void calloc_zeroes_reused_large_blocks(void)
{
    CHECK(calloc_zeroes_reused_memory(MEDIUM_MAX + 1, 8));
    CHECK(calloc_zeroes_reused_memory(1 * MIB, 8));
    CHECK(calloc_zeroes_reused_memory(2 * MIB, 4));
    CHECK(calloc_zeroes_reused_memory(5 * MIB, 4));
}

/* A big block that reuses part of a freed one and part fresh memory. */
static void calloc_zeroes_a_big_block_made_of_reused_and_fresh_memory(void)
{
    unsigned char *a = sh_malloc(300 * KIB), *b = sh_malloc(700 * KIB);
    CHECK(a != NULL && b != NULL);
    if (a == NULL || b == NULL)
        return;
    memset(a, 0xAB, 300 * KIB);
    memset(b, 0xCD, 700 * KIB);
    sh_free(a);
    sh_free(b);
    unsigned char *c = sh_calloc(1, 2 * MIB);
    CHECK(c != NULL && all_zero(c, 2 * MIB));
    sh_free(c);
}

/* ---- blocks of 128 KiB to 2 MiB (span segments) ---------------------------- */

static void realloc_of_a_big_block_shrinks_and_grows_back_in_place(void)
{
    unsigned char *p = sh_malloc(1 * MIB);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    fill(p, 1 * MIB, 3);
    unsigned char *q = sh_realloc(p, 200 * KIB);
    CHECK(q == p); /* shrunk where it lies ... */
    CHECK(holds(q, 200 * KIB, 3));
    CHECK(sh_usable_size(q) < 1 * MIB); /* ... giving its tail back ... */
    unsigned char *r = sh_realloc(q, 1 * MIB);
    CHECK(r == p); /* ... which it takes again: nothing was allocated in between */
    CHECK(holds(r, 200 * KIB, 3));
    CHECK(sh_usable_size(r) >= 1 * MIB);
    fill(r, 1 * MIB, 4);
    unsigned char *s = sh_realloc(r, 3 * MIB); /* beyond 2 MiB: moves to a mapping */
    CHECK(s != NULL && holds(s, 1 * MIB, 4));
    sh_free(s);
}

/* A span block goes where the memory is resident already: into the slices
   of a freed block rather than into slices decommitted or never touched (a
   lower hole here), and into the tightest such hole. */
static void a_big_block_reuses_resident_slices_and_the_tightest_hole(void)
{
    /* h: a hole of 1 MiB, decommitted by the collect below; x: the 1 MiB
       block freed after it, whose slices are then the only resident free
       ones */
    unsigned char *h = sh_malloc(1 * MIB), *x = sh_malloc(1 * MIB);
    CHECK(h != NULL && x != NULL);
    if (h == NULL || x == NULL)
        return;
    fill(h, 1 * MIB, 5);
    fill(x, 1 * MIB, 6);
    sh_free(h);
    sh_heap_collect(true);
    sh_free(x);
    unsigned char *y = sh_malloc(1 * MIB);
    CHECK(y == x);
    /* r: 15 slices, freed resident; a (5 slices), s1 (3), b (4) and s2 (3)
       fill them in that order; then a and b are freed: b's hole is exactly
       4 slices (s1 and s2 live on each side), a's at least 5 */
    unsigned char *r = sh_malloc(15 * 64 * KIB);
    CHECK(r != NULL);
    if (r == NULL)
        return;
    fill(r, 15 * 64 * KIB, 7);
    sh_heap_collect(true);
    sh_free(r);
    unsigned char *a = sh_malloc(300 * KIB), *s1 = sh_malloc(150 * KIB);
    unsigned char *b = sh_malloc(250 * KIB), *s2 = sh_malloc(150 * KIB);
    CHECK(a == r && s1 == r + 5 * 64 * KIB && b == r + 8 * 64 * KIB && s2 == r + 12 * 64 * KIB);
    sh_free(a);
    sh_free(b);
    unsigned char *c = sh_malloc(250 * KIB);
    CHECK(c == b);
    sh_free(c);
    sh_free(s1);
    sh_free(s2);
    sh_free(y);
}

static void free_big_block_twice(void *arg)
{
    (void)arg;
    void *p = sh_malloc(300 * KIB);
    sh_free(p);
    sh_free(p);
}

static void free_big_block_interior(void *arg)
{
    (void)arg;
    unsigned char *p = sh_malloc(300 * KIB);
    sh_free(p + 64 * KIB);
}

static void realloc_freed_big_block(void *arg)
{
    (void)arg;
    void *p = sh_malloc(300 * KIB);
    sh_free(p);
    (void)!sh_realloc(p, 400 * KIB);
}

static void double_or_interior_free_of_a_big_block_aborts_with_a_message(void)
{
    CHECK_DIES(free_big_block_twice, NULL, "stackheap: double free: free(0x");
    CHECK_DIES(free_big_block_interior, NULL, "stackheap: invalid free: free(0x");
    CHECK_DIES(free_big_block_interior, NULL,
               ") points 65536 byte(s) into the 327680-byte block at");
    CHECK_DIES(realloc_freed_big_block, NULL, "stackheap: double free: realloc(0x");
}

static void usable_size_inside_a_big_block(void *arg)
{
    (void)arg;
    unsigned char *p = sh_malloc(300 * KIB);
    (void)sh_usable_size(p + 100 * KIB);
}

static void usable_size_of_a_pointer_inside_a_big_block_aborts(void)
{
    CHECK_DIES(usable_size_inside_a_big_block, NULL,
               "stackheap: invalid pointer: malloc_usable_size(0x");
}

static void calloc_multiplies_its_arguments(void)
{
    unsigned *p = sh_calloc(1000, sizeof *p);
    CHECK(p != NULL);
    CHECK(sh_usable_size(p) >= 1000 * sizeof *p);
    CHECK(all_zero(p, 1000 * sizeof *p));
    sh_free(p);
}

static void calloc_of_zero_bytes_returns_unique_pointers(void)
{
    void *a = sh_calloc(0, 16);
    void *b = sh_calloc(16, 0);
    CHECK(a != NULL);
    CHECK(b != NULL);
    CHECK(opaque(a) != opaque(b));
    sh_free(a);
    sh_free(b);
}

static void calloc_whose_product_overflows_fails_with_enomem(void)
{
    size_t pairs[][2] = {{SIZE_MAX, 2},
                         {2, SIZE_MAX},
                         {SIZE_MAX / 2 + 1, 2},
                         {(size_t)1 << 32, (size_t)1 << 32},
                         {SIZE_MAX, SIZE_MAX}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        errno = 0;
        CHECK(sh_calloc(runtime(pairs[i][0]), runtime(pairs[i][1])) == NULL);
        CHECK_EQ_U(errno, ENOMEM);
    }
}

static void calloc_of_an_absurd_size_fails_with_enomem(void)
{
    errno = 0;
    CHECK(sh_calloc(1, runtime(SIZE_MAX)) == NULL);
    CHECK_EQ_U(errno, ENOMEM);
    errno = 0;
    CHECK(sh_calloc(runtime(SIZE_MAX / 4), 2) == NULL);
    CHECK_EQ_U(errno, ENOMEM);
}

/* ---- sh_realloc and sh_reallocarray ------------------------------------------- */

static void realloc_grows_and_shrinks_keeping_the_contents(void)
{
    static const size_t sizes[] = {1,      8,      24,     100,     1000,     8192,    9000,
                                   65536,  131072, 200000, 5 * MIB, 40 * MIB, 5 * MIB, 200000,
                                   131072, 65536,  9000,   8192,    1000,     100,     24,
                                   8,      1,      131073, 1};
    unsigned char *p = sh_malloc(sizes[0]);
    CHECK(p != NULL);
    fill(p, sizes[0], 0);
    for (size_t i = 1; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t old = sizes[i - 1], size = sizes[i];
        unsigned char *q = sh_realloc(p, size);
        if (q == NULL)
            fprintf(stderr, "  realloc from %zu to %zu bytes failed\n", old, size);
        CHECK(q != NULL);
        if (!holds(q, old < size ? old : size, 0))
            fprintf(stderr, "  realloc from %zu to %zu bytes lost the contents\n", old, size);
        CHECK(holds(q, old < size ? old : size, 0));
        CHECK(sh_usable_size(q) >= size);
        fill(q, size, 0); /* the same pattern: its first bytes are already there */
        p = q;
    }
    sh_free(p);
}

/* A buffer grown a few bytes at a time through the medium sizes (8 KiB to
   128 KiB) moves about once per size class crossed at most: when realloc
   must move a medium block, it takes half again the room the block had, so
   an append loop copies a few times per doubling, not at each of the four
   size classes of every doubling (16 moves here). */
static void realloc_growing_a_medium_buffer_moves_a_few_times_per_doubling(void)
{
    size_t size = 8 * KIB;
    unsigned char *p = sh_malloc(size);
    CHECK(p != NULL);
    fill(p, size, 7);
    unsigned moves = 0;
    while (size + 64 <= 128 * KIB) {
        unsigned char *q = sh_realloc(p, size + 64);
        CHECK(q != NULL);
        moves += q != p;
        p = q;
        size += 64;
        fill(p, size, 7); /* the same pattern: its first bytes are already there */
    }
    CHECK(holds(p, size, 7));
    printf("     8 KiB to 128 KiB, 64 bytes at a time: %u moves\n", moves);
    CHECK(moves >= 4); /* it did move: 8 KiB blocks are not 128 KiB ones */
    CHECK(moves <= 8);
    sh_free(p);
}

static void realloc_of_null_allocates(void)
{
    size_t sizes[] = {0, 1, 100, 50 * KIB, 1 * MIB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = sh_realloc(NULL, sizes[i]);
        CHECK(p != NULL);
        CHECK(sh_usable_size(p) >= sizes[i]);
        fill(p, sizes[i], 3);
        CHECK(holds(p, sizes[i], 3));
        sh_free(p);
    }
}

static void realloc_to_zero_frees_and_returns_null(void)
{
    size_t sizes[] = {1, 100, 50 * KIB, 1 * MIB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = sh_malloc(sizes[i]);
        CHECK(p != NULL);
        CHECK(sh_realloc(p, 0) == NULL);
    }
    /* the large block was unmapped or cached, not kept: a 40 MiB one (above what
       the large-block cache keeps) is unmapped */
    void *big = sh_malloc(40 * MIB);
    CHECK(big != NULL);
    CHECK(sh_realloc(big, 0) == NULL);
    CHECK(is_unmapped(big));
}

static void realloc_to_an_absurd_size_fails_and_keeps_the_block(void)
{
    size_t sizes[] = {100, 50 * KIB, 1 * MIB};
    size_t absurd[] = {SIZE_MAX, SIZE_MAX / 2, SIZE_MAX - page_size()};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = sh_malloc(sizes[i]);
        CHECK(p != NULL);
        fill(p, sizes[i], 9);
        for (size_t j = 0; j < sizeof absurd / sizeof absurd[0]; j++) {
            errno = 0;
            CHECK(sh_realloc(p, runtime(absurd[j])) == NULL);
            CHECK_EQ_U(errno, ENOMEM);
            CHECK(holds(p, sizes[i], 9));
            CHECK(sh_usable_size(p) >= sizes[i]);
        }
        sh_free(p);
    }
}

static void reallocarray_resizes_to_the_product(void)
{
    unsigned *p = sh_reallocarray(NULL, 10, sizeof *p);
    CHECK(p != NULL);
    for (unsigned i = 0; i < 10; i++)
        p[i] = i * 3;
    unsigned *q = sh_reallocarray(p, 100000, sizeof *q);
    CHECK(q != NULL);
    CHECK(sh_usable_size(q) >= 100000 * sizeof *q);
    for (unsigned i = 0; i < 10; i++)
        CHECK_EQ_U(q[i], i * 3);
    sh_free(q);
}

static void reallocarray_whose_product_overflows_fails_and_keeps_the_block(void)
{
    unsigned char *p = sh_malloc(200);
    CHECK(p != NULL);
    fill(p, 200, 6);
    size_t pairs[][2] = {{SIZE_MAX, 2}, {2, SIZE_MAX}, {(size_t)1 << 33, (size_t)1 << 33}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        errno = 0;
        CHECK(sh_reallocarray(p, runtime(pairs[i][0]), runtime(pairs[i][1])) == NULL);
        CHECK_EQ_U(errno, ENOMEM);
        CHECK(holds(p, 200, 6));
    }
    sh_free(p);
}

/* ---- sh_aligned_alloc and sh_posix_memalign ---------------------------------------- */

static void aligned_alloc_honours_every_power_of_two_to_8_mib(void)
{
    enum { SIZES = 9 };
    for (size_t align = 1; align <= 8 * MIB; align *= 2) {
        if (align > 1 * MIB && align < 4 * MIB)
            continue; /* 2 MiB: covered by its neighbours, keeps the test short */
        size_t sizes[SIZES] = {
            0, 1, 24, align - 1 + (align == 1), align, align + 1, 3 * align + 8, 100000, 300000};
        unsigned char *p[SIZES];
        for (unsigned i = 0; i < SIZES; i++) {
            p[i] = sh_aligned_alloc(align, sizes[i]);
            if (p[i] == NULL || !is_aligned(p[i], align) || sh_usable_size(p[i]) < sizes[i])
                fprintf(stderr, "  aligned_alloc(%zu, %zu) returned %p, usable size %zu\n", align,
                        sizes[i], (void *)p[i], sh_usable_size(p[i]));
            CHECK(p[i] != NULL);
            CHECK(is_aligned(p[i], align));
            CHECK(sh_usable_size(p[i]) >= sizes[i]);
            fill(p[i], sh_usable_size(p[i]), (unsigned)(align + i));
        }
        for (unsigned i = 0; i < SIZES; i++) { /* nothing overlapped */
            CHECK(holds(p[i], sh_usable_size(p[i]), (unsigned)(align + i)));
            sh_free(p[i]);
        }
    }
}

static void aligned_alloc_keeps_small_aligned_blocks_apart_in_one_page(void)
{
    /* many over-aligned blocks from the same pages, freed in another order */
    enum { COUNT = 200 };
    size_t aligns[] = {32, 64, 256, 4 * KIB};
    for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++) {
        unsigned char *p[COUNT];
        for (unsigned i = 0; i < COUNT; i++) {
            size_t size = 1 + (i * 37) % 700;
            p[i] = sh_aligned_alloc(aligns[a], size);
            CHECK(p[i] != NULL);
            CHECK(is_aligned(p[i], aligns[a]));
            fill(p[i], size, i);
        }
        for (unsigned i = 0; i < COUNT; i += 2)
            sh_free(p[i]);
        for (unsigned i = 1; i < COUNT; i += 2) {
            CHECK(holds(p[i], 1 + (i * 37) % 700, i));
            sh_free(p[i]);
        }
    }
}

static void aligned_alloc_rejects_alignments_that_are_not_powers_of_two(void)
{
    size_t bad[] = {0, 3, 6, 24, 48, 100, 4097, 3 * MIB, SIZE_MAX, ((size_t)1 << 63) + 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        CHECK(sh_aligned_alloc(runtime(bad[i]), 64) == NULL);
        CHECK_EQ_U(errno, EINVAL);
    }
}

static void aligned_alloc_of_an_absurd_size_fails_with_enomem(void)
{
    for (size_t align = 1; align <= 8 * MIB; align *= 2) {
        size_t absurd[] = {SIZE_MAX, SIZE_MAX - align + 1, SIZE_MAX / 2};
        for (size_t i = 0; i < sizeof absurd / sizeof absurd[0]; i++) {
            errno = 0;
            void *p = sh_aligned_alloc(align, runtime(absurd[i]));
            if (p != NULL || errno != ENOMEM)
                fprintf(stderr,
                        "  BUG src/heap/alloc.c sh_heap_alloc_aligned: aligned_alloc(%zu, %#zx) "
                        "returned %p (usable size %zu), errno %d: (size + 15) & ~15 wraps\n",
                        align, absurd[i], p, sh_usable_size(p), errno);
            CHECK(p == NULL);
            CHECK_EQ_U(errno, ENOMEM);
        }
    }
}

static void posix_memalign_returns_an_aligned_block(void)
{
    for (size_t align = sizeof(void *); align <= 1 * MIB; align *= 4) {
        void *p = NULL;
        errno = 0;
        CHECK_EQ_U(sh_posix_memalign(&p, align, 1000), 0);
        CHECK(p != NULL);
        CHECK(is_aligned(p, align));
        CHECK(sh_usable_size(p) >= 1000);
        fill(p, 1000, 2);
        CHECK(holds(p, 1000, 2));
        sh_free(p);
    }
}

static void posix_memalign_rejects_a_bad_alignment_and_leaves_out_untouched(void)
{
    size_t bad[] = {0, 1, 2, 4, sizeof(void *) - 1, 24, 48, 4097, SIZE_MAX};
    void *sentinel = &global_object;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *out = sentinel;
        errno = 0;
        CHECK_EQ_U(sh_posix_memalign(&out, runtime(bad[i]), 64), EINVAL);
        CHECK_EQ_U(errno, EINVAL);
        CHECK_EQ_PTR(out, sentinel);
    }
    errno = 0;
    CHECK_EQ_U(sh_posix_memalign(NULL, 64, 64), EINVAL);
    CHECK_EQ_U(errno, EINVAL);
}

static void posix_memalign_of_an_absurd_size_returns_enomem_and_leaves_out_untouched(void)
{
    void *sentinel = &global_object;
    for (size_t align = sizeof(void *); align <= 8 * MIB; align *= 2) {
        void *out = sentinel;
        errno = 0;
        int r = sh_posix_memalign(&out, align, runtime(SIZE_MAX));
        if (r != ENOMEM || out != sentinel)
            fprintf(stderr,
                    "  BUG src/heap/alloc.c sh_heap_alloc_aligned: posix_memalign(&out, %zu, "
                    "SIZE_MAX) returned %d, out %p\n",
                    align, r, out);
        CHECK_EQ_U(r, ENOMEM);
        CHECK_EQ_U(errno, ENOMEM);
        CHECK_EQ_PTR(out, sentinel);
    }
}

/* ---- sh_usable_size --------------------------------------------------------------- */

static void usable_size_is_never_smaller_than_the_request(void)
{
    for (size_t size = 0; size <= 300000; size += size < 20000 ? 1 : 7) {
        unsigned char *p = sh_malloc(size);
        CHECK(p != NULL);
        size_t usable = sh_usable_size(p);
        if (usable < size)
            fprintf(stderr, "  malloc(%zu): usable size %zu\n", size, usable);
        CHECK(usable >= size);
        if (usable > 0) { /* the whole usable size is the caller's */
            p[0] = 1;
            p[usable - 1] = 2;
        }
        sh_free(p);
    }
}

static void usable_size_of_global(void *arg)
{
    (void)arg;
    (void)sh_usable_size(opaque(&global_object));
}

static void usable_size_of_mapped_page(void *arg)
{
    (void)arg;
    (void)sh_usable_size(opaque(mapped_page()));
}

static void usable_size_of_null_is_zero_of_a_pointer_not_from_the_heap_aborts(void)
{
    CHECK_EQ_U(sh_usable_size(NULL), 0);
    CHECK_DIES(usable_size_of_global, NULL, "stackheap: invalid pointer: malloc_usable_size(0x");
    CHECK_DIES(usable_size_of_mapped_page, NULL,
               "stackheap: invalid pointer: malloc_usable_size(0x");
}

static void size_classes_waste_less_than_an_eighth_on_average(void)
{
    /* every request size a small or medium block serves */
    double ratio_sum = 0, worst = 0;
    size_t worst_size = 0;
    unsigned long long asked = 0, given = 0;
    for (size_t size = 1; size <= MEDIUM_MAX; size++) {
        void *p = sh_malloc(size);
        CHECK(p != NULL);
        size_t usable = sh_usable_size(p);
        sh_free(p);
        CHECK(usable >= size);
        double waste = (double)(usable - size) / (double)size;
        ratio_sum += waste;
        if (size >= 64 && waste > worst) {
            worst = waste;
            worst_size = size;
        }
        asked += size;
        given += usable;
    }
    double mean = ratio_sum / (double)MEDIUM_MAX;
    double total = (double)(given - asked) / (double)asked;
    printf("     internal waste over sizes 1..%zu: mean of (usable - size) / size %.2f%%, "
           "total %.2f%%, worst above 64 bytes %.1f%% (size %zu)\n",
           MEDIUM_MAX, 100 * mean, 100 * total, 100 * worst, worst_size);
    CHECK(mean < 0.125);
    CHECK(total < 0.125);
}

/* ---- first-class heaps ------------------------------------------------------------- */

static void heap_new_returns_distinct_empty_heaps(void)
{
    sh_heap *a = sh_heap_new();
    sh_heap *b = sh_heap_new();
    CHECK(a != NULL);
    CHECK(b != NULL);
    CHECK(a != b);
    sh_heap_destroy(a);
    sh_heap_destroy(b);
}

static void heap_malloc_serves_blocks_of_every_kind(void)
{
    sh_heap *h = sh_heap_new();
    CHECK(h != NULL);
    size_t sizes[] = {0,
                      1,
                      16,
                      24,
                      100,
                      1000,
                      SMALL_MAX,
                      SMALL_MAX + 1,
                      64 * KIB,
                      MEDIUM_MAX,
                      MEDIUM_MAX + 1,
                      3 * MIB,
                      20 * MIB};
    enum { N = sizeof sizes / sizeof sizes[0] };
    unsigned char *p[N];
    for (unsigned i = 0; i < N; i++) {
        p[i] = sh_heap_malloc(h, sizes[i]);
        CHECK(p[i] != NULL);
        CHECK(sh_usable_size(p[i]) >= sizes[i]);
        CHECK(is_aligned(p[i], sizes[i] >= 16 ? 16 : 8));
        fill(p[i], sizes[i], i);
    }
    for (unsigned i = 0; i < N; i++)
        CHECK(holds(p[i], sizes[i], i));
    sh_heap_destroy(h);
}

/* A block freed to a full page of a size class is handed out again before
   never-used blocks are carved from the class's newer page: its memory is
   resident already. */
static void heap_malloc_reuses_freed_blocks_before_carving_new_ones(void)
{
    enum { SIZE = 512, FILL = 64 * 1024 / SIZE + 4, FREED = 16, NEXT = 32 };
    sh_heap *h = sh_heap_new();
    CHECK(h != NULL);
    if (h == NULL)
        return;
    static void *first[FILL];
    for (unsigned i = 0; i < FILL; i++) /* a 64 KiB page of them, and a second page begun */
        first[i] = sh_heap_malloc(h, SIZE);
    for (unsigned i = 0; i < FREED; i++)
        sh_free(first[i]);
    unsigned reused = 0;
    for (unsigned n = 0; n < NEXT; n++) {
        void *p = sh_heap_malloc(h, SIZE);
        for (unsigned i = 0; i < FREED; i++)
            reused += p == first[i];
    }
    printf("     %u of the next %d blocks were freed ones\n", reused, NEXT);
    CHECK(reused > 0);
    sh_heap_destroy(h);
}

static void heap_malloc_of_an_absurd_size_fails_with_enomem(void)
{
    sh_heap *h = sh_heap_new();
    CHECK(h != NULL);
    errno = 0;
    CHECK(sh_heap_malloc(h, runtime(SIZE_MAX)) == NULL);
    CHECK_EQ_U(errno, ENOMEM);
    errno = 0;
    CHECK(sh_heap_malloc(h, runtime(SIZE_MAX / 2)) == NULL);
    CHECK_EQ_U(errno, ENOMEM);
    sh_heap_destroy(h);
}

static void heap_destroy_releases_every_block_at_once(void)
{
    enum { MAX_BLOCKS = 4096 };
    static unsigned char *blocks[MAX_BLOCKS];
    static const size_t sizes[] = {48, 700, 5000, 20000, 100000, 8, 3000, 128 * KIB};
    size_t before = rss_bytes();
    CHECK(before > 0);
    sh_heap *h = sh_heap_new();
    CHECK(h != NULL);
    size_t total = 0;
    unsigned n = 0;
    while (total < 64 * MIB && n < MAX_BLOCKS) {
        size_t size = sizes[n % (sizeof sizes / sizeof sizes[0])];
        blocks[n] = sh_heap_malloc(h, size);
        CHECK(blocks[n] != NULL);
        memset(blocks[n], 0x77, size);
        total += size;
        n++;
    }
    /* large blocks (destroy bypasses the large-block cache) */
    unsigned char *large1 = sh_heap_malloc(h, 20 * MIB);
    unsigned char *large2 = sh_heap_calloc(h, 1, 33 * MIB);
    CHECK(large1 != NULL);
    CHECK(large2 != NULL);
    memset(large1, 1, 20 * MIB);
    memset(large2, 2, 33 * MIB);
    size_t full = rss_bytes();
    sh_heap_destroy(h);
    size_t after = rss_bytes();
    printf("     first-class heap: RSS %zu KiB before, %zu KiB with %zu MiB in %u blocks and "
           "53 MiB in 2 large ones, %zu KiB after sh_heap_destroy\n",
           before / KIB, full / KIB, total / MIB, n, after / KIB);
    CHECK(is_unmapped(large1));
    CHECK(is_unmapped(large2));
    CHECK(is_unmapped(blocks[4]));     /* a medium block's page */
    CHECK(is_unmapped(blocks[n - 1])); /* and the last one's */
    CHECK(full >= before + 100 * MIB);
    /* under ASan the shadow of the 117 MiB written above stays resident */
    if (!SH_WITH_ASAN)
        CHECK(after <= before + 8 * MIB);
}

static void heap_destroy_of_null_does_nothing(void)
{
    errno = 0;
    sh_heap_destroy(NULL);
    CHECK_EQ_U(errno, 0);
}

static void heap_functions_on_a_null_heap_fail_with_einval(void)
{
    errno = 0;
    CHECK(sh_heap_malloc(NULL, 16) == NULL);
    CHECK_EQ_U(errno, EINVAL);
    errno = 0;
    CHECK(sh_heap_calloc(NULL, 2, 16) == NULL);
    CHECK_EQ_U(errno, EINVAL);
    void *p = sh_malloc(16);
    CHECK(p != NULL);
    errno = 0;
    CHECK(sh_heap_realloc(NULL, p, 32) == NULL);
    CHECK_EQ_U(errno, EINVAL);
    sh_free(p);
}

typedef struct foreign_use {
    sh_heap *heap;
    void *block; /* a block of heap, for realloc */
    void *results[3];
    int errors[3];
} foreign_use;

static void *use_heap_of_another_thread(void *arg)
{
    foreign_use *u = arg;
    errno = 0;
    u->results[0] = sh_heap_malloc(u->heap, 16);
    u->errors[0] = errno;
    errno = 0;
    u->results[1] = sh_heap_calloc(u->heap, 4, 16);
    u->errors[1] = errno;
    errno = 0;
    u->results[2] = sh_heap_realloc(u->heap, u->block, 5000);
    u->errors[2] = errno;
    return NULL;
}

static void heap_functions_from_a_thread_that_does_not_own_the_heap_fail_with_eperm(void)
{
    foreign_use u = {.heap = sh_heap_new()};
    CHECK(u.heap != NULL);
    u.block = sh_heap_malloc(u.heap, 100);
    CHECK(u.block != NULL);
    fill(u.block, 100, 8);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, use_heap_of_another_thread, &u) == 0);
    pthread_join(t, NULL);
    for (unsigned i = 0; i < 3; i++) {
        CHECK(u.results[i] == NULL);
        CHECK_EQ_U(u.errors[i], EPERM);
    }
    CHECK(holds(u.block, 100, 8)); /* realloc left it alone */
    sh_heap_destroy(u.heap);
}

static void *free_blocks_in_another_thread(void *arg)
{
    void **blocks = arg;
    for (unsigned i = 0; blocks[i] != NULL; i++)
        sh_free(blocks[i]);
    return NULL;
}

static void free_releases_blocks_of_a_first_class_heap_from_any_thread(void)
{
    sh_heap *h = sh_heap_new();
    CHECK(h != NULL);
    size_t sizes[] = {24, 1000, 60 * KIB, 1 * MIB, 40 * MIB}; /* 40 MiB: above the cache */
    enum { N = sizeof sizes / sizeof sizes[0] };
    void *mine[N], *theirs[N + 1];
    for (unsigned i = 0; i < N; i++) {
        mine[i] = sh_heap_malloc(h, sizes[i]);
        theirs[i] = sh_heap_malloc(h, sizes[i]);
        CHECK(mine[i] != NULL);
        CHECK(theirs[i] != NULL);
    }
    theirs[N] = NULL;
    for (unsigned i = 0; i < N; i++)
        sh_free(mine[i]);
    CHECK(is_unmapped(mine[N - 1])); /* the 40 MiB block went back at once */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, free_blocks_in_another_thread, theirs) == 0);
    pthread_join(t, NULL);
    CHECK(is_unmapped(theirs[N - 1]));
    /* the heap still works after the frees, and destroy does not free them again */
    void *p = sh_heap_malloc(h, 24);
    CHECK(p != NULL);
    sh_heap_destroy(h);
    void *q = sh_malloc(20 * MIB); /* the default heap is intact */
    CHECK(q != NULL);
    memset(q, 3, 20 * MIB);
    sh_free(q);
}

static void heap_calloc_returns_zeroed_blocks(void)
{
    sh_heap *h = sh_heap_new();
    CHECK(h != NULL);
    size_t sizes[] = {100, 64 * KIB, 1 * MIB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *d = sh_heap_malloc(h, sizes[i]); /* dirty memory, then freed */
        CHECK(d != NULL);
        memset(d, 0xEE, sizes[i]);
        sh_free(d);
        unsigned char *p = sh_heap_calloc(h, sizes[i] / 4, 4);
        CHECK(p != NULL);
        CHECK(all_zero(p, sizes[i]));
    }
    errno = 0;
    CHECK(sh_heap_calloc(h, runtime(SIZE_MAX), 2) == NULL);
    CHECK_EQ_U(errno, ENOMEM);
    sh_heap_destroy(h);
}

static void heap_realloc_grows_and_shrinks_keeping_the_contents(void)
{
    static const size_t sizes[] = {1,        24,     1000,  9000, 65536, 200000, 5 * MIB,
                                   40 * MIB, 200000, 65536, 9000, 1000,  24,     1};
    sh_heap *h = sh_heap_new();
    CHECK(h != NULL);
    unsigned char *p = sh_heap_realloc(h, NULL, sizes[0]);
    CHECK(p != NULL);
    fill(p, sizes[0], 1);
    for (size_t i = 1; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t old = sizes[i - 1], size = sizes[i];
        unsigned char *q = sh_heap_realloc(h, p, size);
        CHECK(q != NULL);
        CHECK(holds(q, old < size ? old : size, 1));
        CHECK(sh_usable_size(q) >= size);
        fill(q, size, 1);
        p = q;
    }
    sh_heap_destroy(h);
}

static void heap_realloc_moves_a_block_into_the_heap(void)
{
    /* a block of the default heap, grown by sh_heap_realloc, belongs to h: destroy frees it */
    unsigned char *p = sh_malloc(100);
    CHECK(p != NULL);
    fill(p, 100, 2);
    sh_heap *h = sh_heap_new();
    CHECK(h != NULL);
    unsigned char *q = sh_heap_realloc(h, p, 20 * MIB);
    CHECK(q != NULL);
    CHECK(holds(q, 100, 2));
    sh_heap_destroy(h);
    CHECK(is_unmapped(q));
}

static void heap_realloc_to_zero_frees_and_returns_null(void)
{
    /* "like sh_realloc": realloc(p, 0) frees p and returns NULL, as glibc does */
    sh_heap *h = sh_heap_new();
    CHECK(h != NULL);
    void *p = sh_heap_malloc(h, 100);
    CHECK(p != NULL);
    void *r = sh_heap_realloc(h, p, 0);
    if (r != NULL)
        fprintf(stderr,
                "  BUG src/heap/heap.c sh_heap_realloc: realloc(p, 0) returned a new "
                "block %p instead of freeing p and returning NULL as sh_realloc does\n",
                r);
    sh_heap_destroy(h);
    CHECK(r == NULL);
}

static void heap_realloc_to_an_absurd_size_fails_and_keeps_the_block(void)
{
    sh_heap *h = sh_heap_new();
    CHECK(h != NULL);
    unsigned char *p = sh_heap_malloc(h, 300);
    CHECK(p != NULL);
    fill(p, 300, 4);
    errno = 0;
    CHECK(sh_heap_realloc(h, p, runtime(SIZE_MAX)) == NULL);
    CHECK_EQ_U(errno, ENOMEM);
    CHECK(holds(p, 300, 4));
    sh_heap_destroy(h);
}

/* An exited thread's first-class heap and its blocks, handed to the main thread. */
typedef struct orphan {
    sh_heap *heap;
    unsigned char *small[64];
    unsigned char *large;
} orphan;

static void *make_heap_and_exit(void *arg)
{
    orphan *o = arg;
    o->heap = sh_heap_new();
    if (o->heap == NULL)
        return NULL;
    for (unsigned i = 0; i < 64; i++) {
        o->small[i] = sh_heap_malloc(o->heap, 40 + i * 50);
        if (o->small[i] != NULL)
            fill(o->small[i], 40 + i * 50, i);
    }
    o->large = sh_heap_malloc(o->heap, 20 * MIB);
    return NULL;
}

static void heap_of_an_exited_thread_keeps_its_blocks_and_destroy_releases_its_large_ones(void)
{
    orphan o;
    memset(&o, 0, sizeof o);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, make_heap_and_exit, &o) == 0);
    pthread_join(t, NULL);
    CHECK(o.heap != NULL);
    CHECK(o.large != NULL);
    errno = 0;
    CHECK(sh_heap_malloc(o.heap, 16) == NULL); /* its thread is gone: nobody owns it */
    CHECK_EQ_U(errno, EPERM);
    for (unsigned i = 0; i < 32; i++) {
        CHECK(o.small[i] != NULL);
        CHECK(holds(o.small[i], 40 + i * 50, i));
        sh_free(o.small[i]);
    }
    sh_heap_destroy(o.heap);
    CHECK(is_unmapped(o.large));
    for (unsigned i = 32; i < 64; i++) { /* still valid after the destroy */
        CHECK(holds(o.small[i], 40 + i * 50, i));
        sh_free(o.small[i]);
    }
}

static void *destroy_heap_in_this_thread(void *arg)
{
    sh_heap_destroy(arg);
    return NULL;
}

static void destroy_heap_from_another_thread(void *arg)
{
    (void)arg;
    sh_heap *h = sh_heap_new(); /* owned by this (the child's main) thread */
    if (h == NULL || sh_heap_malloc(h, 100) == NULL)
        return;
    pthread_t t;
    if (pthread_create(&t, NULL, destroy_heap_in_this_thread, h) == 0)
        pthread_join(t, NULL);
}

static void heap_destroy_from_a_thread_that_does_not_own_the_heap_aborts(void)
{
    CHECK_DIES(destroy_heap_from_another_thread, NULL, "belongs to another thread");
    /* and in the owning thread it is fine */
    sh_heap *h = sh_heap_new();
    CHECK(h != NULL);
    CHECK(sh_heap_malloc(h, 100) != NULL);
    sh_heap_destroy(h);
}

int main(void)
{
    RUN(malloc_returns_writable_distinct_blocks_of_every_size_to_16_kib);
    RUN(malloc_aligns_blocks_of_16_bytes_or_more_to_16_and_smaller_ones_to_8);
    RUN(malloc_of_zero_returns_unique_pointers_that_can_be_freed);
    RUN(blocks_freed_into_full_pages_are_reused_before_new_pages);
    RUN(free_of_null_does_nothing);
    RUN(free_of_a_pointer_no_allocator_handed_out_aborts);
    RUN(malloc_of_an_absurd_size_fails_with_enomem);

    RUN(calloc_zeroes_reused_small_blocks);
    RUN(calloc_zeroes_reused_medium_blocks);
    RUN(calloc_zeroes_reused_large_blocks);
    RUN(calloc_zeroes_a_big_block_made_of_reused_and_fresh_memory);
    RUN(calloc_multiplies_its_arguments);
    RUN(calloc_of_zero_bytes_returns_unique_pointers);
    RUN(calloc_whose_product_overflows_fails_with_enomem);
    RUN(calloc_of_an_absurd_size_fails_with_enomem);

    RUN(realloc_grows_and_shrinks_keeping_the_contents);
    RUN(realloc_growing_a_medium_buffer_moves_a_few_times_per_doubling);
    RUN(realloc_of_null_allocates);
    RUN(realloc_to_zero_frees_and_returns_null);
    RUN(realloc_to_an_absurd_size_fails_and_keeps_the_block);
    RUN(realloc_of_a_pointer_no_allocator_handed_out_aborts);
    RUN(reallocarray_resizes_to_the_product);
    RUN(reallocarray_whose_product_overflows_fails_and_keeps_the_block);

    RUN(realloc_of_a_big_block_shrinks_and_grows_back_in_place);
    RUN(a_big_block_reuses_resident_slices_and_the_tightest_hole);
    RUN(double_or_interior_free_of_a_big_block_aborts_with_a_message);
    RUN(usable_size_of_a_pointer_inside_a_big_block_aborts);

    RUN(aligned_alloc_honours_every_power_of_two_to_8_mib);
    RUN(aligned_alloc_keeps_small_aligned_blocks_apart_in_one_page);
    RUN(aligned_alloc_rejects_alignments_that_are_not_powers_of_two);
    RUN(aligned_alloc_of_an_absurd_size_fails_with_enomem);
    RUN(posix_memalign_returns_an_aligned_block);
    RUN(posix_memalign_rejects_a_bad_alignment_and_leaves_out_untouched);
    RUN(posix_memalign_of_an_absurd_size_returns_enomem_and_leaves_out_untouched);

    RUN(usable_size_is_never_smaller_than_the_request);
    RUN(usable_size_of_null_is_zero_of_a_pointer_not_from_the_heap_aborts);
    RUN(size_classes_waste_less_than_an_eighth_on_average);

    RUN(heap_new_returns_distinct_empty_heaps);
    RUN(heap_malloc_serves_blocks_of_every_kind);
    RUN(heap_malloc_reuses_freed_blocks_before_carving_new_ones);
    RUN(heap_malloc_of_an_absurd_size_fails_with_enomem);
    RUN(heap_destroy_releases_every_block_at_once);
    RUN(heap_destroy_of_null_does_nothing);
    RUN(heap_functions_on_a_null_heap_fail_with_einval);
    RUN(heap_functions_from_a_thread_that_does_not_own_the_heap_fail_with_eperm);
    RUN(free_releases_blocks_of_a_first_class_heap_from_any_thread);
    RUN(heap_calloc_returns_zeroed_blocks);
    RUN(heap_realloc_grows_and_shrinks_keeping_the_contents);
    RUN(heap_realloc_moves_a_block_into_the_heap);
    RUN(heap_realloc_to_zero_frees_and_returns_null);
    RUN(heap_realloc_to_an_absurd_size_fails_and_keeps_the_block);
    RUN(heap_of_an_exited_thread_keeps_its_blocks_and_destroy_releases_its_large_ones);
    RUN(heap_destroy_from_a_thread_that_does_not_own_the_heap_aborts);
    return check_report();
}

/*
 * heap_internal.h -- the heap's data structures, shared by src/heap/ only.
 *
 * The picture (docs/DESIGN.md has it in words):
 *
 *   segment  4 MiB, aligned to 4 MiB, owned by one heap (one thread).  Its
 *            first bytes hold the segment header and the descriptors of its
 *            pages; the rest is cut into pages of one size: 64 KiB pages
 *            (small segments, blocks up to 8 KiB) or 1 MiB pages (medium
 *            segments, blocks up to 128 KiB).  Larger blocks get a mapping
 *            of their own whose header has the same first fields, kind LARGE.
 *   page     holds blocks of one size class.  Three free lists:
 *              free        blocks malloc pops (owner only)
 *              local_free  blocks the owner freed (owner only)
 *              thread_free blocks other threads freed (atomic push, owner
 *                          takes the whole list with one exchange)
 *   heap     one per thread (plus first-class heaps from sh_heap_new): a
 *            queue of pages per size class, the page malloc pops from
 *            (`direct`), the full pages, and its segments.
 *
 * Finding a block's page is arithmetic: segment = (p - 1) & ~(4 MiB - 1),
 * page = (p - segment) >> page_shift.  A global bitmap says which 4 MiB
 * regions are stackheap's, so pointers from elsewhere are recognised.
 *
 * Ownership: only the owning thread (segment->thread_id == its id) touches a
 * page's lists other than thread_free, its counters, and the heap's queues.
 * Other threads only push onto thread_free and may raise the heap's
 * full_pending flag.  Heap structs are never returned to the OS (they are
 * recycled), so a stale heap pointer always points at a heap.
 */
#ifndef SH_HEAP_INTERNAL_H
#define SH_HEAP_INTERNAL_H

#include "../internal.h"

#include <pthread.h>
#include <stdatomic.h>

#define SH_SEGMENT_SHIFT 22
#define SH_SEGMENT_SIZE ((size_t)1 << SH_SEGMENT_SHIFT)
#define SH_SEGMENT_MASK (SH_SEGMENT_SIZE - 1)

#define SH_SMALL_PAGE_SHIFT 16            /* 64 KiB */
#define SH_MEDIUM_PAGE_SHIFT 20           /* 1 MiB */
#define SH_SMALL_MAX ((size_t)8 << 10)    /* largest block in a small page */
#define SH_MEDIUM_MAX ((size_t)128 << 10) /* largest block in a medium page; above: large */
#define SH_SPAN_MAX ((size_t)2 << 20)     /* largest block of a span segment (span.c) */
#define SH_SPAN_ALIGN ((size_t)64 << 10)  /* span blocks start on a 64 KiB slice */
#define SH_MAX_PAGES (SH_SEGMENT_SIZE >> SH_SMALL_PAGE_SHIFT) /* 64 */
#define SH_SEGMENT_HEADER ((size_t)8 << 10) /* header + page descriptors, page aligned */

/* Size classes: 8, then 16..64 by 16 (so every block of 16 bytes or more is
   16-aligned, as glibc's are), then four per power of two up to SH_MEDIUM_MAX. */
#define SH_BINS 50
#define SH_SMALL_LOOKUP_MAX 1024 /* sizes up to here use the bin table */

/* Largest request the heap accepts: beyond it nothing could be mapped anyway. */
#define SH_MAX_REQUEST ((size_t)1 << 46)

/* A free block: its first word links it to the next free block of its page,
   encoded (see "the free lists" below).  Never read as a plain pointer. */
typedef struct sh_block {
    uintptr_t link;
} sh_block;

enum sh_page_flag {
    SH_PAGE_ALIGNED = 1, /* holds over-aligned blocks: pointers may be interior */
    SH_PAGE_FULL = 2,    /* on the heap's full list */
    SH_PAGE_SLICE = 4,   /* not a page in use: a free page, or a later slice of a medium page */
    SH_PAGE_FIRST = 8,   /* page 0: the segment header shares its first slice */
};
/* The flags that send the owner's free to the slow path (SH_PAGE_FULL does
   not: page.c, "Full pages"). */
#define SH_PAGE_SLOW_FREE ((uint32_t)(SH_PAGE_ALIGNED | SH_PAGE_SLICE | SH_PAGE_FIRST))

/* thread_free word: the first block pushed (bits 2-47), the number of
   blocks on the list (bits 48-63: a page has at most 8192 blocks, and user
   addresses stay below 2^47), and these bits.  The count spares the owner a
   walk of the list when it takes it: the blocks were last written by the
   threads that pushed them, on other cores, and a walk would wait for each
   line in turn. */
#define SH_TF_FULL ((uintptr_t)1) /* the page is on the full list */
#define SH_TF_SUSPECT                                                                              \
    ((uintptr_t)2) /* a block pushed looked free already: the                                      \
                      owner checks the list when it takes it */
#define SH_TF_BITS (SH_TF_FULL | SH_TF_SUSPECT)
#define SH_TF_COUNT_SHIFT 48
#define SH_TF_BLOCK(tf)                                                                            \
    ((sh_block *)((tf) & (((uintptr_t)1 << SH_TF_COUNT_SHIFT) - 1) & ~SH_TF_BITS))

struct sh_heap;

typedef struct sh_page {
    /* hot: the fast paths touch only these */
    sh_block *free;       /* next blocks malloc hands out (sh_is_block); the owner's frees */
    uint32_t used;        /* blocks handed out, not yet freed back to this page */
    uint32_t flags;       /* sh_page_flag, owner only; free's fast path needs 0 */
    sh_block *local_free; /* freed by the owner with a sampled profile, not yet
                             reusable; never NULL in a page in use: the
                             segment's base when empty */
    uint32_t block_size;
    uint16_t capacity; /* blocks carved out so far */
    uint16_t reserved; /* blocks that fit in the page */
    /* the rest (the page's thread_free word is in its segment: sh_page_tf) */
    uint32_t beat;               /* owner's frees left before sh_page_beat */
    uint32_t pad_;               /* the descriptor stays 64 bytes (see the assert below) */
    struct sh_page *next, *prev; /* bin queue or full list */
    uint8_t bin;
    bool in_use;      /* given to a heap (else free in its segment) */
    bool has_aligned; /* SH_PAGE_ALIGNED, readable by other threads (set before the
                         block is handed out, cleared only when the page is empty) */
    uint8_t index;    /* in the segment */
    uint32_t divisor; /* ceil(2^32 / block_size): sh_on_block_grid */
} sh_page;

/* 64 bytes: free's fast path finds a descriptor with a shift, not a multiply. */
_Static_assert(sizeof(sh_page) == 64, "sh_page must stay 64 bytes");

enum sh_segment_kind { SH_SEG_SMALL = 0, SH_SEG_MEDIUM = 1, SH_SEG_LARGE = 2, SH_SEG_SPAN = 3 };

typedef struct sh_segment {
    /* first fields shared with sh_large: free's dispatch reads only these */
    _Atomic uintptr_t thread_id; /* owner thread, 0 when abandoned or large */
    uint32_t kind;               /* sh_segment_kind */
    uint32_t page_shift;
    /* segment only */
    struct sh_heap *heap;           /* owner; read by other threads (atomically) on remote frees */
    struct sh_segment *next, *prev; /* in the heap's list, or the abandoned list */
    uint64_t free_mask;             /* pages not in use */
    uint64_t purge_mask;            /* free pages whose memory is still committed */
    uint64_t purge_at;              /* ms: when purge_mask may be decommitted */
    uint64_t purge_since;           /* ms: when purge_mask last went from empty to not */
    uint32_t page_count;
    uint32_t used_pages;
    /* its blocks may be borrowed (page.c): it belongs to a thread's default
       heap, which never frees a page with a live block; a first-class heap's
       sh_heap_destroy does.  Never in a sampled profile (a borrowed list grows
       after malloc's fast path starts popping it: no trial is made for those
       blocks, page.c "sampling").  Read by other threads' frees. */
    _Atomic uint8_t lendable;
    /* the purge lock: held while free_mask, purge_mask or purge_at change,
       and while pages of purge_mask are decommitted, by the owner or by any
       thread that purges (segment.c); last, so that reusing a cached
       segment clears the header around it */
    _Atomic uint32_t purge_lock;
    _Alignas(64) sh_page pages[SH_MAX_PAGES]; /* a descriptor per cache line */
    /* by page index: what other threads' frees read of a page (sh_page_publish),
       a copy the owner writes when it changes, which is rarely: the
       descriptors' lines change at every malloc and free of their owner, and
       a remote free that read them would pull the line across at each one */
    _Alignas(64) _Atomic uint64_t page_info[SH_MAX_PAGES];
    /* by page index: each page's thread_free list (SH_TF_BITS), the one word
       other threads write.  Here, not in the descriptor, so that a remote
       free does not take the line the owner writes at every malloc and free
       (and the owner's next malloc take it back): a remote free and the
       owner's collection share only this line, with seven other pages */
    _Alignas(64) _Atomic uintptr_t thread_free[SH_MAX_PAGES];
} sh_segment;

_Static_assert(sizeof(sh_segment) <= SH_SEGMENT_HEADER, "segment header too big");

/* page_info word: capacity, bin, in_use and has_aligned, block_size. */
#define SH_INFO_BIN_SHIFT 16
#define SH_INFO_IN_USE ((uint64_t)1 << 24)
#define SH_INFO_ALIGNED ((uint64_t)1 << 25)
#define SH_INFO_SIZE_SHIFT 32

/* Header of a large block's own mapping, at (p - 1) & ~SH_SEGMENT_MASK. */
typedef struct sh_large {
    _Atomic uintptr_t thread_id; /* always 0 */
    uint32_t kind;               /* SH_SEG_LARGE */
    uint32_t page_shift;
    struct sh_heap *heap;         /* first-class heap that tracks it, or NULL */
    struct sh_large *next, *prev; /* in that heap's list */
    void *map;                    /* the mapping */
    size_t map_size;
    uint8_t *user; /* the pointer handed out */
    size_t size;   /* usable bytes from user */
    size_t align;  /* alignment asked for */
    uint64_t seal; /* sh_seal of the fields above but next and prev */
} sh_large;

typedef struct sh_page_queue {
    sh_page *first, *last;
} sh_page_queue;

typedef struct sh_heap {
    /* by (size + 7) / 8 for sizes up to SH_SMALL_LOOKUP_MAX: the direct page of
       that size's bin, so small malloc needs no bin lookup */
    sh_page *small_direct[SH_SMALL_LOOKUP_MAX / 8 + 1];
    sh_page *direct[SH_BINS]; /* first page of each bin's queue, or the empty page */
    uintptr_t thread_id;
    sh_page_queue bins[SH_BINS];
    sh_page_queue full;       /* pages with no free block */
    _Atomic int full_pending; /* a full page got a block from another thread */
    sh_segment *segments[2];  /* by kind: segments with free pages first */
    uint64_t purge_check_at;  /* ms: next scan for expired purges */
    uint32_t purge_tick;
    unsigned trim_seen;        /* the last sh_trim_epoch this heap acted on */
    bool is_default;           /* a thread's default heap */
    bool dead;                 /* its thread exited: only destroy is valid */
    sh_large *large;           /* large blocks of a first-class heap (large lock) */
    struct sh_heap *pool_next; /* free heaps pool / first-class list of a thread */
    /* A default heap's borrowed blocks, by bin (page.c, "borrowing"): each a
       list of free blocks of one page of another heap's, which this thread
       freed and hands out again before its own.  Not a page: in_use false,
       free the list, local_free its tail, next the page its blocks belong
       to, capacity the blocks pushed and used the blocks popped since it
       was last empty, reserved the frees left to skip (backing off). */
    sh_page borrowed[SH_BINS];
    /* A default heap's outbox (page.c, "the outbox"): blocks of one page of
       another heap's that this thread freed and did not borrow, linked,
       pushed to the page's thread_free together.  page NULL: empty. */
    struct {
        sh_page *page;
        sh_block *first, *last; /* the list; last's link is written at the push */
        uint32_t n, bytes;
    } outbox;
    /* by bin: the bin's only page if the last purge scan found it empty and
       it has not emptied again since (page.c, trim_idle_pages), else NULL */
    const sh_page *idle_seen[SH_BINS];
    /* sampled profile, by bin: the page whose free list was cut before the
       block malloc samples next (page.c, "sampling"), else NULL */
    const sh_page *prof_trap[SH_BINS];
} sh_heap;

/* ---- hardening: encoded free lists (integrity.c) ---------------------------
 *
 * Built in unless -DSH_HARDEN=OFF (for benchmarking the cost only).
 *
 * A free block's first word holds the link to the next free block of its
 * page, stored as rotl32(next ^ block ^ sh_link_key): a process-wide random
 * key (bit 63 set), the block's own address, and the halves swapped so that
 * an overflow that rewrites only the low bytes of the word changes the high
 * bits of what it decodes to.  A list ends with a link to the segment's base
 * (where no block ever is), so every free block holds a valid link, and
 * "holds a valid link" is what a freed block looks like:
 *
 *   valid link   (next ^ block) has no bit of SH_LINK_MASK: next is in the
 *                block's segment and 8-aligned.  Forged or damaged words fail
 *                this (a random word passes with odds 2^-45); malloc checks it
 *                before following a link and dies with a report otherwise.
 *   freed block  free finds a valid link in the block it is given: a double
 *                free, unless the program wrote such a word itself, which it
 *                cannot without the key.  malloc zeroes the word of each
 *                block it hands out (0 decodes to bit 63 set: never valid),
 *                and free confirms a suspect by finding it on the page's
 *                lists before it reports (integrity.c).
 *
 * With SH_HARDEN off the word is the plain pointer and nothing is checked.
 */

/* hidden: the fast paths load them directly, not through the GOT */
extern uint64_t sh_link_key SH_HIDDEN; /* random, bit 63 set; 0 until the first heap */
extern uint64_t sh_seal_key SH_HIDDEN; /* random: sh_seal's */

/* The bits in which a valid link's (next ^ block) is zero. */
#define SH_LINK_MASK (~(uintptr_t)SH_SEGMENT_MASK | 7)

static inline uintptr_t sh_swap_halves(uintptr_t x)
{
    return (x << 32) | (x >> 32);
}

/* A real block, not a list's end (NULL or a segment base). */
static inline bool sh_is_block(const void *x)
{
    return ((uintptr_t)x & SH_SEGMENT_MASK) != 0;
}

/* The word block `at` stores for its successor next (a block of its
   segment, or the segment's base at the end of a list). */
static inline uintptr_t sh_link_encode(const void *at, const void *next)
{
    if (!sh_cfg_harden)
        return (uintptr_t)next;
    return sh_swap_halves((uintptr_t)next ^ (uintptr_t)at ^ sh_link_key);
}

/* next ^ at for the word w stored in block at (0 bits of SH_LINK_MASK if valid). */
static inline uintptr_t sh_link_delta(uintptr_t w)
{
    return sh_swap_halves(w) ^ sh_link_key;
}

/* True if w, read from a block, is a link a free block would hold. */
static inline bool sh_link_valid(uintptr_t w)
{
    return (sh_link_delta(w) & SH_LINK_MASK) == 0;
}

/* The damaged link of free block b of pg: a one-line report, then abort. */
SH_NORETURN SH_COLD void sh_link_corrupt(const sh_page *pg, const sh_block *b);
/* The same, as malloc's tail call (no stack frame on its fast path). */
SH_COLD void *sh_link_corrupt_at_malloc(const sh_page *pg, const sh_block *b);

/* The successor of free block b, checked (slow paths: list walks). */
static inline sh_block *sh_link_next(const sh_page *pg, const sh_block *b)
{
    uintptr_t w = b->link;
    if (!sh_cfg_harden)
        return (sh_block *)w;
    uintptr_t d = sh_link_delta(w);
    if (sh_unlikely(d & SH_LINK_MASK))
        sh_link_corrupt(pg, b);
    return (sh_block *)(d ^ (uintptr_t)b);
}

/* True if p is on pg's grid of carved blocks, counted from p's 64 KiB slice
   (true for every block of a page that starts on a slice; page 0 does not,
   and carries SH_PAGE_FIRST).  Exact for offsets and sizes below 2^16, and for
   larger sizes too (only offset 0 passes): Lemire's divisibility test.
   Hardened, divisor is 0 while the page has a flag of SH_PAGE_SLOW_FREE:
   then nothing passes, so this test is free's flags test too. */
static inline bool sh_on_block_grid(const sh_page *pg, const void *p)
{
    uint64_t off = (uintptr_t)p & (((uintptr_t)1 << SH_SMALL_PAGE_SHIFT) - 1);
    /* for a multiple of block_size, the high half is the block's index: it
       must be a carved block (a free of memory not handed out yet would let
       malloc hand that block out twice) */
    uint64_t prod = off * pg->divisor;
    return (uint32_t)prod < pg->divisor && (prod >> 32) < pg->capacity;
}

/* Set pg's flags (and, hardened, its divisor: 0 while a SH_PAGE_SLOW_FREE flag is set). */
static inline void sh_page_set_flags(sh_page *pg, uint32_t flags)
{
    pg->flags = flags;
    if (sh_cfg_harden)
        pg->divisor =
            (flags & SH_PAGE_SLOW_FREE) != 0 ? 0 : (uint32_t)(UINT32_MAX / pg->block_size + 1);
}

/* A keyed check value over n words (header seals). */
uint64_t sh_seal(const uint64_t *words, size_t n);
/* Pick the keys (once, before the first page). */
void sh_harden_init(void);

/* True if the call named what (free, free_sized, realloc, operator delete...)
   frees its pointer: a misuse by any other (malloc_usable_size) is named
   "use after free" or "invalid pointer" rather than a bad free. */
bool sh_call_frees(const char *what);
/* A misuse found: "stackheap: <kind>: <what>(<p>) <fmt...>", then abort.
   kind: "double free", "invalid free"...; what: the function called. */
SH_NORETURN SH_COLD void sh_heap_misuse(const char *kind, const char *what, const void *p,
                                        const char *fmt, ...) SH_PRINTF(4, 5);

/* foreign.c: pointers in no region of stackheap's.  True if p may be one of
   the loader's early blocks (to be left alone). */
bool sh_foreign_is_early(const void *p);
/* Where p points, for a report: "it points into ...". */
const char *sh_foreign_describe(const void *p, char *buf, size_t n);

/* The first word of over-aligned block b when the pointer handed out is p
   (inside b): free checks it to tell p from any other interior pointer. */
uintptr_t sh_aligned_tag(const void *b, const void *p);

/* ---- size classes -------------------------------------------------------- */

/* Bin of a request of `size` bytes (1 <= size <= SH_MEDIUM_MAX). */
static inline unsigned sh_bin_of(size_t size)
{
    if (size <= 8)
        return 1;
    if (size <= 64)
        return (unsigned)((size + 15) >> 4) + 1;
    size_t s = size - 1;
    unsigned b = 63u - (unsigned)__builtin_clzll(s); /* 6.. */
    return 6 + (b - 6) * 4 + (unsigned)((s >> (b - 2)) & 3);
}

/* Block size of a bin. */
static inline size_t sh_bin_size(unsigned bin)
{
    if (bin <= 5)
        return bin == 1 ? 8 : (size_t)(bin - 1) << 4;
    unsigned k = bin - 6, b = 6 + k / 4, sub = k % 4;
    return (size_t)(5 + sub) << (b - 2);
}

/* The small_direct entries of each bin: first..last (first > last when none). */
extern uint8_t sh_small_bin_first[SH_BINS], sh_small_bin_last[SH_BINS];

/* ceil(2^64 / block size) of each bin: sh_block_index divides with it. */
extern uint64_t sh_bin_magic[SH_BINS];

/* off / (block size of bin), without a division: exact for off < 2^32
   (Lemire's fastdiv: the high half of off * ceil(2^64 / d)). */
static inline uint32_t sh_block_index(unsigned bin, uint32_t off)
{
    __extension__ typedef unsigned __int128 u128;
    return (uint32_t)(((u128)off * sh_bin_magic[bin]) >> 64);
}

/* ---- state --------------------------------------------------------------- */

extern __thread sh_heap *sh_tls_heap __attribute__((tls_model("initial-exec")));
/* Unique id of this thread's heaps; SH_NO_THREAD (matches no segment) until the first one. */
extern __thread uintptr_t sh_tls_thread_id __attribute__((tls_model("initial-exec")));
/* The thread's default heap (NULL before its first allocation) and the id it
   owns segments with, in every mode.  sh_tls_heap and sh_tls_thread_id are
   the same heap and id, except in check mode and an exact profile, where
   they stay sh_empty_heap and SH_NO_THREAD so that every malloc and free
   takes its slow path; with sampled guarding, where sh_tls_heap stays
   sh_empty_heap (every malloc); and in a sampled profile, from a sample to
   the thread's next malloc (profile.c, temporaries). */
extern __thread sh_heap *sh_tls_default __attribute__((tls_model("initial-exec")));
/* A live segment this thread owns (the last one its free found to be),
   or SH_NO_SEGMENT: free's fast path skips the segment map and the owner
   check for its blocks.  Only the owner unmaps, caches or abandons its
   segments, and each of those resets it first (segment.c,
   segment_forget).  SH_NO_SEGMENT is no region's start (regions are 4
   MiB aligned): not NULL, which free(p) with p < 4 MiB maps to. */
#define SH_NO_SEGMENT ((sh_segment *)1)
extern __thread sh_segment *sh_tls_own_seg __attribute__((tls_model("initial-exec")));
extern __thread uintptr_t sh_tls_owner_id __attribute__((tls_model("initial-exec")));

/* ---- check mode ------------------------------------------------------------ */

/* STACKHEAP_CHECK, read at the first call that needs it (never on a fast path). */
enum { SH_CHECK_UNKNOWN = 0, SH_CHECK_OFF = 1, SH_CHECK_ON = 2 };
extern int sh_check_state;
int sh_check_start(void);
static inline bool sh_checking(void)
{
    int s = __atomic_load_n(&sh_check_state, __ATOMIC_ACQUIRE);
    if (sh_unlikely(s == SH_CHECK_UNKNOWN))
        s = sh_check_start();
    return s == SH_CHECK_ON;
}

/* ---- sampled guarding (src/check/sampled.c) ------------------------------------
 *
 * STACKHEAP_SAMPLE=N (not in check mode): a thread's public heap stays the
 * empty heap, so every malloc reaches sh_heap_malloc_slow, which counts
 * sh_tls_sample_countdown down and asks sh_sampled_alloc when it runs out.
 */
extern unsigned sh_sample_rate; /* N; 0: off */
extern __thread int32_t sh_tls_sample_countdown __attribute__((tls_model("initial-exec")));
extern uintptr_t sh_sampled_lo, sh_sampled_hi; /* the guarded pool; equal: none yet */
/* A guarded block of size bytes for the program's call at ra (fp: the frame
   to walk its stack from), or NULL (the heap serves it: a countdown not yet
   out, a block above a page, every slot live).  Draws the next countdown. */
void *sh_sampled_alloc(size_t size, void *ra, void *fp);
static inline bool sh_sampled_owns(const void *p)
{
    /* acquire: hi is stored before lo (release), once */
    uintptr_t lo = __atomic_load_n(&sh_sampled_lo, __ATOMIC_ACQUIRE);
    return lo != 0 && (uintptr_t)p - lo < __atomic_load_n(&sh_sampled_hi, __ATOMIC_RELAXED) - lo;
}
/* Free, or measure, p (sh_sampled_owns(p)): anything but a live sampled
   block's start is reported as a misuse of `what`, and aborts. */
void sh_sampled_free(void *p, const char *what, void *ra);
size_t sh_sampled_usable(const void *p, const char *what);
void sh_sampled_lock_for_fork(int phase);
/* STACKHEAP_UNWIND=1: open libunwind for the call stacks of check mode,
   sampled guarding and the profiler (src/check/trace.c; at start-up only). */
void sh_trace_load_unwinder(void);
/* Sampled blocks handed out, ever, and the most live at once (stats). */
size_t sh_sampled_count(void);
size_t sh_sampled_peak(void);

/* ---- the heap profiler (src/check/profile.c) ----------------------------------
 *
 * STACKHEAP_PROFILE=exact|sampled (not in check mode).
 *
 * Exact keeps a thread's public heap the empty heap, so every malloc reaches
 * empty_heap_malloc, which hands it to sh_prof_malloc, and sh_tls_thread_id
 * SH_NO_THREAD, so every free reaches sh_heap_free_block (the slow path),
 * which asks sh_prof_forget.
 *
 * Sampled keeps both fast paths.  A block sampled is handed out 16 bytes
 * into its heap block, off its page's grid, so only its free fails free's
 * grid test and reaches sh_prof_forget.  malloc samples in its slow path
 * (page.c, "sampling"): when a page's free list is installed, the thread's
 * countdown is charged for all of its blocks at once and, if it runs out
 * within them, the list is cut before the block it runs out on, so that
 * malloc's fast path comes to the slow path for exactly that allocation.
 * The other entry points (calloc, realloc, aligned, usable size) test
 * sh_prof_mode and count down for themselves.
 */
enum { SH_PROF_OFF = 0, SH_PROF_EXACT = 1, SH_PROF_SAMPLED = 2 };
extern int sh_prof_mode;
/* sampled: bytes this thread allocates before its next sample; its last
   recorded block while no other allocation has come since (temporaries) */
extern __thread int64_t sh_tls_prof_left __attribute__((tls_model("initial-exec")));
extern __thread void *sh_tls_prof_last __attribute__((tls_model("initial-exec")));
/* Start the profiler for STACKHEAP_PROFILE=mode, mode as sh_env_on gives it
   (global_init, once; the caller tests the variable, so that a process that
   profiles nothing never runs this file's code). */
void sh_prof_init(const char *mode);
/* Exact: malloc's slow path, a block of h for the program's call at ra (fp:
   the frame to walk its stack from), recorded. */
void *sh_prof_malloc(sh_heap *h, size_t size, void *ra, void *fp);
/* Sampled, for page.c: the thread's countdown has reached 0 or below: true
   if this allocation is sampled (the next interval is drawn); a fresh
   interval, in bytes (Exp with mean N); a sampled block of size bytes for the
   call at ra, drawn with probability 1 - exp(-charged / N) (NULL: out of
   memory).  sh_prof_recording, below: whether an allocation may be sampled. */
bool sh_prof_ran_out(void);
int64_t sh_prof_interval(void);
void *sh_prof_sample(sh_heap *h, size_t size, size_t charged, void *ra, void **fp);
/* calloc (zero), aligned_alloc and posix_memalign (align > 0) in profile mode. */
void *sh_prof_alloc(size_t size, size_t align, bool zero, void *ra);
/* free's slow path in profile mode (sh_heap_free_block): forget p if it was
   recorded; the heap block to free (p, or a sampled block's, before it). */
void *sh_prof_forget(void *p);
void *sh_prof_realloc(void *p, size_t size, void *ra);
/* malloc_usable_size of a sampled block: true and *n set, else false. */
bool sh_prof_usable(const void *p, size_t *n);

/* Inside the profiler (its own allocations), in the check layer (ck_busy:
   allocations libc makes for it are checked blocks too, but capture no
   stack), after exit: no allocation is sampled. */
extern __thread int sh_tls_prof_busy __attribute__((tls_model("initial-exec")));
extern __thread int ck_busy __attribute__((tls_model("initial-exec")));
extern _Atomic bool sh_prof_stopped;

static inline bool sh_prof_recording(void)
{
    return sh_tls_prof_busy == 0 && ck_busy == 0 &&
           !atomic_load_explicit(&sh_prof_stopped, memory_order_relaxed);
}

/* Sampled: a counting filter of the live blocks handed out 16 bytes into their
   heap blocks, by sh_prof_hash of the address: 0 means p is not one, so a
   free's slow path need not look it up. */
#define SH_PROF_FILTER (1u << 16)
extern _Atomic uint16_t *sh_prof_filter;

static inline uint64_t sh_prof_hash(uintptr_t a)
{
    uint64_t h = (uint64_t)(a >> 4) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

static inline _Atomic uint16_t *sh_prof_filter_slot(const void *p)
{
    return &sh_prof_filter[sh_prof_hash((uintptr_t)p) & (SH_PROF_FILTER - 1)];
}

static inline bool sh_prof_maybe_offset(const void *p)
{
    return atomic_load_explicit(sh_prof_filter_slot(p), memory_order_relaxed) != 0;
}
void sh_prof_lock_for_fork(int phase);

/* src/check/: the check layer.  Blocks carry a header and guard bytes, frees
   are validated and quarantined, leaks are reported at exit.  h NULL: the
   calling thread's default heap.  ra: the caller's return address. */
/* Start the layer; for_valgrind: only describe blocks to memcheck. */
void sh_check_init(bool for_valgrind);
void *sh_check_alloc(struct sh_heap *h, size_t size, size_t align, bool zero, void *ra);
void sh_check_free(void *p, void *ra);
void *sh_check_realloc(struct sh_heap *h, void *p, size_t size, void *ra);
size_t sh_check_usable(const void *p, void *ra);
void sh_check_free_sized(void *p, size_t size, size_t align, const char *what, void *ra);
/* The calling thread exits: its quarantine is checked and freed. */
void sh_check_thread_exit(void);
void sh_check_lock_for_fork(int phase);
/* Print line (the process's figures) and check mode's counts with the reports. */
void sh_check_print_stats(const char *line, size_t len);
/* STACKHEAP_STATS: print the summary at exit (src/stats.c). */
void sh_stats_print(void);
#define SH_NO_THREAD UINTPTR_MAX
extern sh_page sh_empty_page;
extern sh_heap sh_empty_heap;

/* Options, read once at start-up. */
extern uint64_t sh_purge_delay_ms;

/* Free memory a program keeps churning stays: a unit (a segment's free pages)
   whose memory first became free at `since` and was freed again at `now` goes
   back one purge delay after that last free, but at most SH_PURGE_HOLD delays
   after the first.  A program that keeps freeing and reusing pages would
   otherwise fault them in again after every delay; one that stops freeing
   gets them back a delay later. */
#define SH_PURGE_HOLD 8
static inline uint64_t sh_purge_deadline(uint64_t since, uint64_t now)
{
    uint64_t at = now + sh_purge_delay_ms, cap = since + SH_PURGE_HOLD * sh_purge_delay_ms;
    return at < cap ? at : cap;
}

/* ---- segment map (segment_map.c) ---------------------------------------------
 *
 * One byte per 4 MiB region of the 47-bit address space, in two levels so
 * that it costs nothing until used: a 64 KiB BSS table of SH_MAP_TOP leaf
 * pointers (NULL: no region of those 16 GiB was ever stackheap's), each
 * leaf SH_MAP_LEAF bytes, mapped when its first region goes live and never
 * unmapped.
 */

#define SH_MAP_REGIONS ((size_t)1 << (47 - SH_SEGMENT_SHIFT))
#define SH_MAP_LEAF_SHIFT 12
#define SH_MAP_LEAF ((size_t)1 << SH_MAP_LEAF_SHIFT)
#define SH_MAP_TOP (SH_MAP_REGIONS >> SH_MAP_LEAF_SHIFT)
/* A region's entry: never stackheap's; a live small or medium segment; a
   live large block's or span segment's header (odd: live); or released by
   stackheap (a pointer into it can only be stale: free dies rather than
   ignore it).  Walks of the segments read only SH_MAP_SEGMENT headers: the
   others' mappings go back to the OS without the unmap lock that keeps a
   segment mapped during a walk. */
enum { SH_MAP_NONE = 0, SH_MAP_SEGMENT = 1, SH_MAP_RELEASED = 2, SH_MAP_OWN = 3 };
extern uint8_t *_Atomic sh_segment_map_top[SH_MAP_TOP] SH_HIDDEN;

/* The state of region seg (4 MiB aligned). */
static inline unsigned sh_segment_map_state(const void *seg)
{
    uintptr_t a = (uintptr_t)seg;
    /* relaxed: a pointer reaches free only after its region was published,
       and the leaf's entry is read through the address loaded here */
    const uint8_t *leaf = atomic_load_explicit(
        &sh_segment_map_top[(a >> (SH_SEGMENT_SHIFT + SH_MAP_LEAF_SHIFT)) & (SH_MAP_TOP - 1)],
        memory_order_relaxed);
    if (leaf == NULL)
        return SH_MAP_NONE;
    return __atomic_load_n(&leaf[(a >> SH_SEGMENT_SHIFT) & (SH_MAP_LEAF - 1)], __ATOMIC_RELAXED);
}
/* True if seg (4 MiB aligned) is a live stackheap segment or large block header. */
static inline bool sh_segment_map_has(const void *seg)
{
    return (sh_segment_map_state(seg) & 1) != 0;
}
/* Make sure the leaf of region seg is mapped, so that marking it cannot
   fail; false + ENOMEM when the OS refuses.  Dies if seg lies above the
   47-bit address space the map covers. */
bool sh_segment_map_reserve(const void *seg);
/* Mark region seg (reserved) live: state SH_MAP_SEGMENT or SH_MAP_OWN. */
void sh_segment_map_live(const void *seg, unsigned state);
/* Mark region seg released (it was live: never fails). */
void sh_segment_map_release(const void *seg);
/* The first live region at or after address from (segments_only: of state
   SH_MAP_SEGMENT); NULL if none.  A walk: for (s = sh_segment_map_next(0,
   x); s; s = sh_segment_map_next((uintptr_t)s + SH_SEGMENT_SIZE, x)). */
void *sh_segment_map_next(uintptr_t from, bool segments_only);
/* The last live region at or below address from (of any live state); NULL
   if none. */
void *sh_segment_map_prev(uintptr_t from);

static inline sh_segment *sh_segment_of(const void *p)
{
    return (sh_segment *)(((uintptr_t)p - 1) & ~(uintptr_t)SH_SEGMENT_MASK);
}

/* pg's thread_free word: its index from the descriptor's address, since
   reading pg->index would pull the owner's line to the remote freer. */
static inline _Atomic uintptr_t *sh_page_tf(const sh_page *pg)
{
    sh_segment *seg = sh_segment_of(pg);
    return &seg->thread_free[pg - seg->pages];
}

/* Page i of seg: descriptors sit one per 64 KiB slice, a medium page's at its first. */
static inline sh_page *sh_segment_page(const sh_segment *seg, unsigned i)
{
    return (sh_page *)&seg->pages[i << (seg->page_shift - SH_SMALL_PAGE_SHIFT)];
}

/* The page holding p (any kind of segment but large). */
static inline sh_page *sh_page_of(sh_segment *seg, const void *p)
{
    return sh_segment_page(seg, (unsigned)(((uintptr_t)p - (uintptr_t)seg) >> seg->page_shift));
}

/*
 * The descriptor of p's 64 KiB slice, with shifts by constants: p's page in
 * a small segment; in a medium one, its page only within the page's first
 * slice: the other slices' descriptors carry SH_PAGE_SLICE, which sends
 * free's fast path (it demands no SH_PAGE_SLOW_FREE flag) to sh_page_of.
 */
static inline sh_page *sh_slice_of(sh_segment *seg, const void *p)
{
    /* the byte offset of descriptor (p >> 16) % 64, in one shift and one mask */
    _Static_assert(sizeof(sh_page) == 64, "the shift below assumes 64-byte descriptors");
    uintptr_t off = ((uintptr_t)p >> (SH_SMALL_PAGE_SHIFT - 6)) & ((SH_MAX_PAGES - 1) << 6);
    return (sh_page *)((uint8_t *)seg->pages + off);
}

/* The heap that owns pg (its segment's). */
static inline struct sh_heap *sh_page_heap(const sh_page *pg)
{
    return sh_segment_of(pg)->heap;
}

/* First block of page i of seg: page 0 starts after the segment header. */
static inline uint8_t *sh_segment_page_start(const sh_segment *seg, unsigned i)
{
    return i == 0 ? (uint8_t *)seg + SH_SEGMENT_HEADER
                  : (uint8_t *)seg + ((size_t)i << seg->page_shift);
}

/* First block of pg. */
static inline uint8_t *sh_page_start(const sh_page *pg)
{
    return sh_segment_page_start(sh_segment_of(pg), pg->index);
}

/* Publish pg's capacity, bin, in_use, has_aligned and block_size in its
   segment's page_info (owner, after any of them changed). */
static inline void sh_page_publish(sh_page *pg)
{
    uint64_t info = (uint64_t)__atomic_load_n(&pg->capacity, __ATOMIC_RELAXED) |
                    (uint64_t)pg->bin << SH_INFO_BIN_SHIFT | (pg->in_use ? SH_INFO_IN_USE : 0) |
                    (__atomic_load_n(&pg->has_aligned, __ATOMIC_RELAXED) ? SH_INFO_ALIGNED : 0) |
                    (uint64_t)pg->block_size << SH_INFO_SIZE_SHIFT;
    atomic_store_explicit(&sh_segment_of(pg)->page_info[pg->index], info, memory_order_relaxed);
}

/* The start of the block of pg that holds p (p in pg's block area). */
static inline sh_block *sh_page_block_start(const sh_page *pg, const void *p)
{
    uint8_t *start = sh_page_start(pg);
    uint32_t k = sh_block_index(pg->bin, (uint32_t)((const uint8_t *)p - start));
    return (sh_block *)(start + (size_t)k * pg->block_size);
}

/* ---- segment.c ----------------------------------------------------------- */

/* Raised by malloc_trim: each thread's heap, at its next slow path, gives
   back what only the owner may (a bin's last page, empty segments). */
extern _Atomic unsigned sh_trim_epoch;
/* Give back every mapping stackheap keeps for reuse (the calling thread's
   empty pages and segments, exited threads' after adopting them, cached
   segments and large mappings, free span slices), now.  Caller holds no cache lock, and no page it
   is using is empty (a bin's page being filled is not). */
void sh_release_caches(void);
/* sh_os_map_aligned (commit: sh_os_map_growable with room, for a block's
   own mapping) for the heap: when the OS refuses, the caches go back
   (sh_release_caches) and the mapping is tried once more, so memory kept for
   reuse never makes a request fail.  Caller holds no cache lock. */
void *sh_heap_map(size_t size, size_t align, bool commit, size_t room);
/* What the small and medium segments hold, read from every thread's
   (figures for mallinfo: the owners change them meanwhile). */
typedef struct sh_segment_figures {
    size_t mapped;      /* bytes of live small and medium segments */
    size_t in_use;      /* bytes of blocks handed out (block sizes) */
    size_t free_blocks; /* carved blocks not handed out */
    size_t free_bytes;  /* their bytes */
    size_t cached;      /* bytes of empty segments kept for reuse */
} sh_segment_figures;
void sh_segment_totals(sh_segment_figures *t);
/* Live large blocks and the bytes of their mappings; bytes in the large cache. */
void sh_large_totals(size_t *blocks, size_t *bytes, size_t *cached);
/* Span segments: bytes mapped, bytes of slices in blocks, blocks. */
void sh_span_totals(size_t *mapped, size_t *used, size_t *blocks);
/* A free page for `bin` from h's segments (mapping or reclaiming one if needed). */
sh_page *sh_segment_page_alloc(sh_heap *h, unsigned bin);
/* Give an empty page back to its segment (memory purged after the delay). */
void sh_segment_page_free(sh_heap *h, sh_page *pg);
/* Decommit pages / unmap segments of h whose delay expired (all of them if
   force), and purge the caches. */
void sh_segment_purge(sh_heap *h, bool force);
/* From any thread: decommit every segment's free pages whose delay expired
   (all if force; segments busy at that moment are left), and purge the
   caches.  Returns the time (sh_now_ms) when more will be due, UINT64_MAX
   if nothing is left to purge.  Not the pages a heap keeps as a bin's
   only page, nor empty segments' address space: only their owners may. */
uint64_t sh_segment_purge_all(bool force);
/* Hand h's segments to the abandoned list (thread exit); pages are collected first. */
void sh_segment_abandon_all(sh_heap *h);
/* Adopt one abandoned segment into h; false if there is none. */
bool sh_segment_reclaim_one(sh_heap *h);
/* Unmap every segment of h (sh_heap_destroy). */
void sh_segment_release_all(sh_heap *h);
uint64_t sh_now_ms(void);
void sh_segment_lock_for_fork(int phase);

/* ---- page.c --------------------------------------------------------------- */

/* Make pg, taken from its segment, a page of bin over `area` bytes. */
void sh_page_init(sh_page *pg, unsigned bin, size_t area);
/* Move local_free and thread_free into free; returns true if free is non-empty. */
bool sh_page_collect(sh_page *pg);
void sh_page_queue_remove(sh_page_queue *q, sh_page *pg);
void sh_page_queue_push_front(sh_page_queue *q, sh_page *pg);
/* malloc's slow path.  (size, h), not (h, size): malloc's own argument stays
   in the first register, so the fast path moves nothing to call it. */
void *sh_heap_malloc_slow(size_t size, sh_heap *h);
void sh_page_retire(sh_heap *h, sh_page *pg);
/* Push b (checked) on pg's thread_free; suspect: from sh_page_block. */
void sh_page_free_remote(sh_page *pg, sh_block *b, bool suspect);
/* Another heap's block b of pg (checked, not suspect; pg's bin and block
   size given, so that pg's descriptor need not be read), freed by this
   thread: kept in its default heap's borrowed list for reuse, else put in
   its outbox, else pushed on pg's thread_free now (page.c). */
void sh_page_free_foreign(sh_page *pg, sh_block *b, unsigned bin, uint32_t block_size);
/* Give h's borrowed blocks back to their pages (bin: one bin's; SH_BINS: all,
   and h's outbox too). */
void sh_heap_return_borrowed(sh_heap *h, unsigned bin);
/* The second word of a borrowed block, or of one in an outbox (blocks of 16
   bytes or more): with a valid link in its first, it says "free, held by the
   thread that freed it", which only free writes (keyed). */
static inline uintptr_t sh_borrow_tag(const void *b)
{
    return sh_swap_halves((uintptr_t)b ^ sh_seal_key) ^ sh_link_key;
}
/* The owner freed into a full page: put it back in its bin queue. */
void sh_page_unfull(sh_heap *h, sh_page *pg);
void sh_heap_update_direct(sh_heap *h, unsigned bin);
/* Collect every page of h; free the empty ones (all of them when force). */
void sh_heap_collect_pages(sh_heap *h, bool force);

/* The block of pg that p (given to `what`) is, after the checks of release
   mode: p is a block's start (or an over-aligned block's pointer), carved,
   and not free already; dies otherwise.  owner: the caller owns pg.
   *suspect: p looked freed but only the owner can tell (see integrity.c). */
sh_block *sh_page_block(sh_page *pg, const void *p, const char *what, bool owner, bool *suspect);
/* A list taken from thread_free with SH_TF_SUSPECT: die if a block of it is
   on pg's other lists, or twice on it (owner, before anything changes). */
void sh_page_check_gathered(const sh_page *pg, const sh_block *list);

/* ---- background.c: the purge thread ----------------------------------------- */

enum { SH_BG_NONE = 0, SH_BG_WANTED = 1, SH_BG_RUNNING = 2, SH_BG_IDLE = 3, SH_BG_OFF = 4 };
extern _Atomic uint32_t sh_bg_state;
/* Read STACKHEAP_BACKGROUND (at start-up). */
void sh_background_init(void);
/* The slow part of sh_background_kick. */
void sh_background_wake(void);
/* Start the purge thread (a kick wanted it). */
void sh_background_start(void);
void sh_background_fork_child(void);
/* Passes the purge thread has run (statistics). */
uint64_t sh_background_passes(void);

/* Memory became purgeable (after the change is published): wake the purge
   thread if it sleeps with no timeout, or ask for it if there is none. */
static inline void sh_background_kick(void)
{
    /* background.c: Dekker's order.  ThreadSanitizer does not model fences:
       there a read-modify-write of the state itself orders the same way */
#if defined(__SANITIZE_THREAD__)
    uint32_t s = atomic_fetch_or_explicit(&sh_bg_state, 0, memory_order_seq_cst);
#else
    atomic_thread_fence(memory_order_seq_cst);
    uint32_t s = atomic_load_explicit(&sh_bg_state, memory_order_relaxed);
#endif
    if (sh_unlikely(s == SH_BG_IDLE || s == SH_BG_NONE))
        sh_background_wake();
}

/* Where malloc may be entered again (no lock of stackheap's held, the
   caller's heap consistent): start the purge thread if a kick wanted it. */
static inline void sh_background_poll(void)
{
    if (sh_unlikely(atomic_load_explicit(&sh_bg_state, memory_order_relaxed) == SH_BG_WANTED))
        sh_background_start();
}

/* ---- heap.c --------------------------------------------------------------- */

/* The calling thread's heap, initialising the library and the thread if needed. */
sh_heap *sh_heap_thread_init(void);

/* ---- large.c -------------------------------------------------------------- */

/* A large block (own mapping); zero: the caller needs it zeroed. NULL + errno. */
void *sh_large_alloc(sh_heap *h, size_t size, size_t align, bool zero);
/* Unmap cached mappings older than the purge delay (all if force); returns
   when the next will be due (UINT64_MAX: none is cached). */
uint64_t sh_large_cache_purge(bool force);
/* Free/resize/measure the large block p of header l: p must be its pointer
   and the header intact (dies otherwise, naming `what`). */
void sh_large_free(sh_large *l, const void *p);
size_t sh_large_usable(sh_large *l, const void *p, const char *what);
/* l checked by sh_large_usable. */
void *sh_large_realloc(sh_large *l, size_t size);
void sh_large_release_heap(sh_heap *h);
void sh_large_lock_for_fork(int phase);

/* ---- span.c --------------------------------------------------------------- */

/* A block of SH_MEDIUM_MAX < size <= SH_SPAN_MAX bytes, 64 KiB aligned, owned
   by no heap (any thread frees it); zeroed: the caller needs zeroes. NULL + errno. */
void *sh_span_alloc(size_t size, bool zeroed);
/* Free p, the start of a block of span segment seg; dies on any other pointer. */
void sh_span_free(sh_segment *seg, void *p);
/* Resize p (SH_MEDIUM_MAX < size <= SH_SPAN_MAX) where it lies; false if the
   slices after it are taken (p is then unchanged). */
bool sh_span_resize(sh_segment *seg, void *p, size_t size);
/* Bytes from p, which must be a block's start, to its end (dies otherwise,
   naming `what`). */
size_t sh_span_usable(sh_segment *seg, const void *p, const char *what);
/* Start of the block that holds p; NULL if p is in no block. */
void *sh_span_block_start(sh_segment *seg, const void *p);
/* Call f on the start of each block of span segment seg. */
void sh_span_each_block(sh_segment *seg, void (*f)(void *block, void *arg), void *arg);
/* Decommit free span slices older than the purge delay (all if force);
   returns when the next will be due (UINT64_MAX: none). */
uint64_t sh_span_purge(bool force);
void sh_span_lock_for_fork(int phase);

/* ---- alloc.c -------------------------------------------------------------- */

void *sh_heap_alloc_aligned(sh_heap *h, size_t size, size_t align);
/* C++'s sized and aligned delete: free p after checking that it was
   allocated with that size (SIZE_MAX: not given) and alignment (0: not
   given), as far as its block tells (check mode: exactly).  what: the
   operator, for the report. */
void sh_free_sized(void *p, size_t size, size_t align, const char *what);
/* realloc of p into h (NULL: the calling thread's heap, and a large block may
   be resized wherever it lives); the one implementation of both reallocs. */
void *sh_heap_realloc_in(sh_heap *h, void *p, size_t size);
/* Start of the heap block that holds p, NULL if none does (p need not be
   the heap's: the segment map is asked first; a pointer more than 4 MiB
   into a large block is found through the block's header region). */
void *sh_block_base(const void *p);
/* Call f on the start of every block carved in the heap's memory, allocated
   or free (check mode tells them apart by their headers).  Not synchronised
   with other threads: for the exit report. */
void sh_heap_each_block(void (*f)(void *block, void *arg), void *arg);
/* Usable bytes from p to the end of its block (p in a live region of the
   heap's); dies if p is not a block handed out (what: the caller's name). */
size_t sh_block_usable(const void *p, const char *what);

/* ---- the fast paths ------------------------------------------------------- */

/* Pop a block of pg for a request of size, or take the slow path.  The
   link is checked before it is followed, and the word zeroed (a block handed
   out never holds a valid link unless the program writes one). */
static inline void *sh_page_pop(sh_heap *h, sh_page *pg, size_t size)
{
    sh_block *b = pg->free;
    if (sh_likely(sh_is_block(b))) {
        uintptr_t w = b->link;
        if (sh_cfg_harden) {
            uintptr_t d = sh_link_delta(w);
            if (sh_unlikely(d & SH_LINK_MASK))
                return sh_link_corrupt_at_malloc(pg, b);
            pg->free = (sh_block *)(d ^ (uintptr_t)b);
            b->link = 0;
        } else {
            pg->free = (sh_block *)w;
        }
        pg->used++;
        return b;
    }
    return sh_heap_malloc_slow(size, h);
}

static inline void *sh_heap_alloc(sh_heap *h, size_t size)
{
    if (sh_likely(size <= SH_SMALL_LOOKUP_MAX))
        return sh_page_pop(h, h->small_direct[(size + 7) >> 3], size);
    if (sh_likely(size <= SH_MEDIUM_MAX))
        return sh_page_pop(h, h->direct[sh_bin_of(size)], size);
    return sh_heap_malloc_slow(size, h);
}

/* --*n, true if *n was 1 or 0 (0: it wrapped, which sh_page_emptied sees as
   UINT32_MAX).  x86-64: one sub and one jump on its flags (carry or zero). */
static inline bool sh_decrement_to_zero(uint32_t *n)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __asm__ goto("subl $1, %0\n\tjbe %l[low]" : "+m"(*n) : : "cc" : low);
    return false;
low:
    return true;
#else
    return (*n)-- <= 1;
#endif
}

/* used went to 0 (retire pg) or below (a double free got past the checks:
   die before the page is given back with a live block in it). */
SH_NOINLINE void sh_page_emptied(sh_segment *seg, sh_page *pg);

/* Every SH_PAGE_BEAT frees by its owner, a page's heartbeat (page.c): what
   malloc's slow path did when free ran dry, which LIFO frees keep it from
   doing in a loop that frees what it allocates. */
#define SH_PAGE_BEAT 256
SH_NOINLINE void sh_page_beat(sh_segment *seg, sh_page *pg);

/* Where in a descriptor the owner's frees go: offsetof(sh_page, free), or
   offsetof(sh_page, local_free) with a sampled profile (set before the
   first heap, never changed).  A load, not a branch, in free's fast path. */
extern size_t sh_owner_push_at SH_HIDDEN;

/* The owner frees block b of pg (not on the full list, checked): push it on
   free, where the next malloc of its size takes it (LIFO: the block is hot
   in this core's cache).  Sampled profile: on local_free, which only the
   slow path takes (a list's blocks are charged as trials when it is
   installed: page.c, "sampling"; blocks a free put back on it would be
   handed out uncharged). */
static inline void sh_page_free_local(sh_segment *seg, sh_page *pg, sh_block *b)
{
    sh_block **list = (sh_block **)((uint8_t *)pg + sh_owner_push_at);
    b->link = sh_link_encode(b, *list);
    *list = b;
    if (sh_unlikely(sh_decrement_to_zero(&pg->used))) /* the last block out, or none was */
        sh_page_emptied(seg, pg);
    else if (sh_unlikely(--pg->beat == 0))
        sh_page_beat(seg, pg);
}

/* Free p of segment seg (the map decides whether it is the heap's): the
   release free below the fast path; check mode frees its raw blocks here. */
void sh_heap_free_block(void *p, sh_segment *seg);

/* Everything free's fast path does not handle (NULL included).  p first, as
   for sh_heap_malloc_slow: the fast path calls it without moving p. */
SH_NOINLINE void sh_free_slow(void *p, sh_segment *seg);

/* A block of a region the map has (seg) that is not this thread's by
   sh_tls_thread_id: another thread's block, the common case when threads
   hand blocks over (alloc.c, free_remote_quick), else sh_free_slow. */
SH_NOINLINE void sh_free_other(void *p, sh_segment *seg);

/* pg's block p (this thread's) may take free's fast path: on its page's
   grid and not looking freed already (release mode), or in a page with no
   special case (unhardened). */
static inline bool sh_free_fast_ok(const sh_page *pg, const void *p)
{
    return sh_cfg_harden ? sh_on_block_grid(pg, p) && !sh_link_valid(((const sh_block *)p)->link)
                         : (pg->flags & SH_PAGE_SLOW_FREE) == 0;
}

/*
 * free's fast path: a block of this thread's, on its page's grid, in a page
 * with no special case, that does not look freed already (sh_free_fast_page
 * returns its page, else NULL).  NULL needs no test of its own: (NULL - 1)
 * falls in the last region of the segment map, which is never set, so it
 * goes slow.
 */
static inline sh_page *sh_free_fast_page(const void *p, sh_segment *seg)
{
    /* relaxed: only this thread ever stores its own id into a segment */
    if (sh_likely(
            seg == sh_tls_own_seg ||
            (sh_segment_map_has(seg) &&
             atomic_load_explicit(&seg->thread_id, memory_order_relaxed) == sh_tls_thread_id))) {
        sh_page *pg = sh_slice_of(seg, p);
        if (sh_likely(sh_free_fast_ok(pg, p)))
            return pg;
    }
    return NULL;
}

static SH_ALWAYS_INLINE void sh_heap_free(void *p)
{
    sh_segment *seg = sh_segment_of(p);
    if (sh_unlikely(seg != sh_tls_own_seg)) {
        if (sh_unlikely(!sh_segment_map_has(seg))) {
            sh_free_slow(p, seg);
            return;
        }
        /* relaxed: only this thread ever stores its own id into a segment */
        if (sh_unlikely(atomic_load_explicit(&seg->thread_id, memory_order_relaxed) !=
                        sh_tls_thread_id)) {
            sh_free_other(p, seg); /* the map is not read again */
            return;
        }
        sh_tls_own_seg = seg;
    }
    sh_page *pg = sh_slice_of(seg, p);
    if (sh_likely(sh_free_fast_ok(pg, p))) {
        sh_page_free_local(seg, pg, p);
        return;
    }
    sh_free_slow(p, seg);
}

/*
 * Sized free's fast path (C++'s sized delete, free_sized): sh_heap_free's,
 * plus release mode's size check where it is two compares.  A carved block
 * on this thread's page at its grid holds block_size bytes, and every size
 * its class serves, or realloc keeps in it, lies in [block_size / 2,
 * block_size] (consecutive classes are less than 2x apart).  False: not
 * freed, the caller takes the slow path (which names any misuse).
 */
static inline bool sh_heap_free_sized_fast(void *p, size_t size)
{
    if (!sh_cfg_harden) /* no size check: sh_free's fast path as it is */
        return false;
    sh_segment *seg = sh_segment_of(p);
    sh_page *pg = sh_free_fast_page(p, seg);
    if (pg == NULL || size > pg->block_size || (size < pg->block_size / 2 && size != 0))
        return false;
    sh_page_free_local(seg, pg, p);
    return true;
}

#endif /* SH_HEAP_INTERNAL_H */

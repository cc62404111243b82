/*
 * fuzz_heap.c -- a random walk over the heap's API that checks every byte it
 * can afford to.
 *
 *   fuzz_heap [--ops N] [--threads T] [--seed S] [--seconds X]
 *
 * Each of T threads (default 2) owns a table of SLOTS slots, each empty or
 * holding one live block, and takes N / T steps.  A step picks a slot and an
 * operation (malloc, calloc, realloc, free, aligned_alloc, posix_memalign,
 * usable_size, give, take) and applies it to that slot: an allocation into a
 * full slot frees the old block first, realloc of an empty slot is
 * realloc(NULL, n), realloc to 0 empties it, free of an empty slot is
 * sh_free(NULL).  Sizes run from 0 B to 8 MiB, mostly under 256 B (see
 * random_size); alignments are powers of two from 8 B to 1 MiB.  Only the
 * sh_ functions are called, so the walk runs in sanitizer builds too, where
 * the malloc override is off.
 *
 * Invariants checked (a failure prints one line and the program exits 1):
 *   - every block in a slot holds the pattern of its (id, size): byte offset
 *     i holds pattern_word(seed, i) in memory order.  Blocks up to
 *     FULL_CHECK_MAX are written and checked whole; bigger ones in their
 *     first and last EDGE bytes and SAMPLES words picked from the seed, so a
 *     8 MiB block costs no more than a 64 KiB one.  A block is checked
 *     before realloc, free, usable_size and hand-over; after realloc the kept
 *     prefix is checked, then the block is filled anew under a new id;
 *   - calloc memory reads as zero (in the same places);
 *   - every pointer is aligned as asked and at least as the header promises
 *     (16 for a block of 16 bytes or more, 8 below);
 *   - sh_usable_size(p) >= the size asked, and the bytes it reports are
 *     writable (the slack is written: an overstated size corrupts a
 *     neighbour, which its own check then finds); sh_usable_size(NULL) is 0;
 *   - realloc to 0 returns NULL; no call that must succeed returns NULL.
 *
 * Blocks cross threads through the exchange: EXCHANGE_SLOTS entries, each
 * EMPTY, BUSY (one thread is copying the block in or out) or FULL_BY + t
 * (holding a block given by thread t).  A thread moves an entry with one
 * compare-and-swap and never waits, so the walk cannot deadlock; a thread
 * takes only blocks of other threads (of its own when it is alone), checks
 * them, then frees them or keeps them in its slot (to realloc and free them
 * later).  After the walk each thread frees its slots and the main thread
 * frees what is left in the exchange.
 *
 * Determinism: the random numbers of step k of thread t come from
 * (seed, t, k) alone, not from what earlier steps found, so one seed replays
 * each thread's walk; with --threads 1 the whole run is the same.  The seed
 * defaults to the clock and is printed before the walk starts.
 *
 * This is a stress test, not a benchmark: its ops/second are printed so that
 * CTest's N can be chosen (tests/fuzz.cmake), not to compare allocators.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stackheap.h"

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)

#define SLOTS 4096                /* per thread; a power of two */
#define EXCHANGE_SLOTS 64         /* shared by every thread */
#define MAX_THREADS 64            /* thread t's block ids start with t + 1 in their top bits */
#define MAX_SIZE (8 * MIB)        /* largest block asked for */
#define MAX_ALIGN_SHIFT 20        /* largest alignment asked for: 1 MiB */
#define FULL_CHECK_MAX (64 * KIB) /* blocks up to here are written and checked whole */
#define EDGE (4 * KIB)            /* bigger ones: their first and last EDGE bytes ... */
#define SAMPLES 8                 /* ... and this many words in between */
#define ID_SHIFT 40               /* a block id is (thread + 1) << ID_SHIFT | counter */
#define DEFAULT_OPS 2000000

/* ---- random numbers ---------------------------------------------------------------- */

/* splitmix64: one add and two multiplies per number, every 64-bit state is fine. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* A bijective scramble of x (one splitmix64 step from state x). */
static uint64_t mix(uint64_t x)
{
    return next_random(&x);
}

static unsigned floor_log2(size_t x)
{
    return (unsigned)(63 - __builtin_clzll((unsigned long long)x));
}

/* A size in [lo, hi] (1 <= lo <= hi): first a power-of-two band, then a size in it. */
static size_t log_uniform(uint64_t *rng, size_t lo, size_t hi)
{
    unsigned klo = floor_log2(lo), khi = floor_log2(hi);
    uint64_t r = next_random(rng);
    unsigned k = klo + (unsigned)(r % (khi - klo + 1));
    size_t a = (size_t)1 << k, b = ((size_t)2 << k) - 1;
    if (a < lo)
        a = lo;
    if (b > hi)
        b = hi;
    if ((r >> 32) % 8 == 0) { /* one in 8: a power of two or one byte off it */
        size_t edge = ((size_t)1 << k) - 1 + (size_t)((r >> 40) % 3);
        return edge < lo ? lo : edge > hi ? hi : edge;
    }
    return a + (size_t)(next_random(rng) % (b - a + 1));
}

/*
 * A block size: 91% in 0..256 B, 9% in 257 B..128 KiB, one in 1000 in
 * 128 KiB..2 MiB, one in 16384 in 2..8 MiB (log-uniform within each band, so
 * that every size class is reached and the average live block stays near
 * 3 KiB).  The bands are the heap's kinds of block (small and medium pages,
 * spans, large mappings).
 */
static size_t random_size(uint64_t *rng)
{
    uint64_t r = next_random(rng);
    unsigned band = (unsigned)(r & 0xffff);
    if (band < 4)
        return log_uniform(rng, 2 * MIB + 1, MAX_SIZE);
    if (band < 4 + 64)
        return log_uniform(rng, 128 * KIB + 1, 2 * MIB);
    if (band < 4 + 64 + 5900)
        return log_uniform(rng, 257, 128 * KIB);
    return (size_t)((r >> 16) % 257);
}

/* A power of two from 8 B to 1 MiB: 8 B..4 KiB 15 times in 16, 8 KiB..1 MiB once in 16. */
static size_t random_align(uint64_t *rng)
{
    uint64_t r = next_random(rng);
    unsigned shift = (r & 15) != 0 ? 3 + (unsigned)((r >> 8) % 10)
                                   : 13 + (unsigned)((r >> 8) % (MAX_ALIGN_SHIFT - 12));
    return (size_t)1 << shift;
}

/* The new size of a realloc of an `old`-byte block; 0 (free) once in 16. */
static size_t realloc_size(uint64_t *rng, size_t old)
{
    uint64_t r = next_random(rng);
    size_t small = 1 + (size_t)((r >> 8) % 64);
    unsigned kind = (unsigned)(r % 16);
    if (kind == 0)
        return 0;
    if (kind <= 5 || old == 0)
        return random_size(rng);
    if (kind <= 9) /* grow a little: the in-place paths */
        return old + small <= MAX_SIZE ? old + small : MAX_SIZE;
    if (kind <= 11) /* shrink to anything */
        return 1 + (size_t)((r >> 16) % old);
    if (kind <= 13) /* shrink a little */
        return old > small ? old - small : 1;
    if (kind == 14) /* the same size */
        return old;
    return old <= 256 * KIB ? 2 * old + 1 : random_size(rng); /* double */
}

/* ---- blocks and their patterns ----------------------------------------------------- */

enum op {
    OP_MALLOC,
    OP_CALLOC,
    OP_REALLOC,
    OP_FREE,
    OP_ALIGNED_ALLOC,
    OP_POSIX_MEMALIGN,
    OP_USABLE_SIZE,
    OP_GIVE,
    OP_TAKE,
    OP_KINDS
};
static const char *const op_name[OP_KINDS] = {
    "malloc",         "calloc",      "realloc", "free", "aligned_alloc",
    "posix_memalign", "usable_size", "give",    "take",
};
/* How often each operation is picked, out of 256.  Allocations (into empty slots, mostly)
   and frees balance so that about two slots in three hold a block. */
static const unsigned char op_weight[OP_KINDS] = {56, 20, 48, 72, 14, 14, 12, 10, 10};

/* A live block and what its pattern is.  p == NULL: the slot is empty. */
typedef struct block {
    unsigned char *p;
    size_t size;       /* bytes asked for */
    uint64_t id;       /* unique: (thread + 1) << ID_SHIFT | that thread's counter */
    uint64_t seed;     /* of the pattern: from id and size */
    uint64_t birth_op; /* the step (of the id's thread) that made or last filled it */
    enum op made_by;
} block;

static unsigned id_thread(uint64_t id)
{
    return (unsigned)(id >> ID_SHIFT) - 1;
}

static uint64_t pattern_seed(uint64_t id, size_t size)
{
    return mix(id * 0x9E3779B97F4A7C15u + size);
}

/* The 8 bytes at byte offset i (a multiple of 8) of a block with pattern `seed`: they
   change with the seed and with the offset, so a block copied to the wrong place, or two
   blocks sharing memory, show.  Consecutive words differ by 8 * PATTERN_STEP, which the
   loops below add instead of multiplying. */
#define PATTERN_STEP 0xD1B54A32D192ED03u
static uint64_t pattern_word(uint64_t seed, size_t i)
{
    return seed + (uint64_t)i * PATTERN_STEP;
}

/* A stretch [from, to) of a block; from is a multiple of 8. */
typedef struct range {
    size_t from, to;
} range;

/*
 * The stretches of a `size`-byte block with pattern `seed` that are written
 * and checked, cut at `limit` (<= size): the whole block up to
 * FULL_CHECK_MAX, else its first and last EDGE bytes and SAMPLES words.
 * Returns how many stretches it put in out[2 + SAMPLES].
 */
static unsigned block_ranges(size_t size, uint64_t seed, size_t limit, range *out)
{
    unsigned n = 0;
    if (size <= FULL_CHECK_MAX) {
        out[n++] = (range){0, size};
    } else {
        out[n++] = (range){0, EDGE};
        out[n++] = (range){(size - EDGE) & ~(size_t)7, size};
        for (unsigned j = 0; j < SAMPLES; j++) {
            size_t w = (size_t)(mix(seed + j) % (size / 8));
            out[n++] = (range){w * 8, w * 8 + 8};
        }
    }
    unsigned kept = 0;
    for (unsigned i = 0; i < n; i++) {
        if (out[i].from >= limit)
            continue;
        out[kept] = out[i];
        if (out[kept].to > limit)
            out[kept].to = limit;
        kept++;
    }
    return kept;
}

static void fill_range(unsigned char *p, uint64_t seed, range r)
{
    size_t i = r.from;
    uint64_t v = pattern_word(seed, i);
    for (; i + 8 <= r.to; i += 8, v += 8 * PATTERN_STEP)
        memcpy(p + i, &v, 8);
    if (i < r.to)
        memcpy(p + i, &v, r.to - i);
}

/* Byte i of the pattern `seed`, or 0 when `zero`. */
static unsigned char expected_byte(uint64_t seed, bool zero, size_t i)
{
    uint64_t v = zero ? 0 : pattern_word(seed, i & ~(size_t)7);
    unsigned char bytes[8];
    memcpy(bytes, &v, 8);
    return bytes[i & 7];
}

/* Offset of the first byte of r that does not hold the pattern (zeros if `zero`),
   or SIZE_MAX. */
static size_t first_bad_byte(const unsigned char *p, uint64_t seed, bool zero, range r)
{
    size_t i = r.from;
    uint64_t want = zero ? 0 : pattern_word(seed, i);
    uint64_t step = zero ? 0 : 8 * PATTERN_STEP;
    for (; i + 8 <= r.to; i += 8, want += step) {
        uint64_t got;
        memcpy(&got, p + i, 8);
        if (got != want)
            break;
    }
    for (; i < r.to; i++)
        if (p[i] != expected_byte(seed, zero, i))
            return i;
    return SIZE_MAX;
}

/* ---- the threads' state ------------------------------------------------------------ */

typedef struct worker {
    unsigned index;   /* thread number; `threads` for the main thread's final drain */
    uint64_t seed;    /* of this thread's random numbers */
    uint64_t quota;   /* steps to take */
    uint64_t op;      /* the current step */
    uint64_t next_id; /* counter of the block ids */
    double deadline;  /* CLOCK_MONOTONIC seconds, or 0 */
    bool failed;      /* this thread reported a failure: stop at once */
    uint64_t crossed; /* blocks freed or reallocated by a thread that did not make them */
    block slot[SLOTS];
} worker;

/* The exchange (see the top of the file).  An entry's block is read and written only by
   the thread that moved its state to BUSY. */
enum { EXCHANGE_EMPTY, EXCHANGE_BUSY, EXCHANGE_FULL_BY };
typedef struct exchange_entry {
    _Atomic unsigned state;
    block b;
} exchange_entry;

static struct {
    uint64_t seed;
    unsigned threads;
    unsigned char op_table[256]; /* random byte -> operation, from op_weight */
    exchange_entry exchange[EXCHANGE_SLOTS];
    atomic_ulong failures; /* non-zero: every thread stops walking */
} fuzz;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Report a failure of step w->op on slot `slot` in one line: where (step,
 * thread, seed, slot), the block it concerns if any (b may be NULL), then
 * what was expected and what came.  Marks w failed and stops every thread.
 */
__attribute__((format(printf, 4, 5))) static void fail(worker *w, size_t slot, const block *b,
                                                       const char *fmt, ...)
{
    char line[512];
    int n = snprintf(line, sizeof line,
                     "fuzz_heap: FAIL at op %llu of thread %u (seed %llu, %u threads), slot %zu: ",
                     (unsigned long long)w->op, w->index, (unsigned long long)fuzz.seed,
                     fuzz.threads, slot);
    if (b != NULL && n >= 0 && (size_t)n < sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n,
                      "block %p of %zu B (id %u:%llu, made by %s at op %llu of thread %u): ",
                      (void *)b->p, b->size, id_thread(b->id),
                      (unsigned long long)(b->id & (((uint64_t)1 << ID_SHIFT) - 1)),
                      op_name[b->made_by], (unsigned long long)b->birth_op, id_thread(b->id));
    if (n >= 0 && (size_t)n < sizeof line) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
    }
    fprintf(stderr, "%s\n", line);
    w->failed = true;
    atomic_fetch_add_explicit(&fuzz.failures, 1, memory_order_relaxed);
}

/*
 * Check that b holds its pattern (zeros when `zero`) up to `limit` bytes, at
 * p (b->p, or where realloc moved it).  `when`, a printf format, names the
 * moment for the report (formatted only then).  Returns false after
 * reporting the first bad byte.
 */
__attribute__((format(printf, 7, 8))) static bool check_block(worker *w, size_t slot,
                                                              const block *b,
                                                              const unsigned char *p, size_t limit,
                                                              bool zero, const char *when, ...)
{
    range r[2 + SAMPLES];
    unsigned n = block_ranges(b->size, b->seed, limit, r);
    for (unsigned i = 0; i < n; i++) {
        size_t bad = first_bad_byte(p, b->seed, zero, r[i]);
        if (bad != SIZE_MAX) {
            char moment[128];
            va_list ap;
            va_start(ap, when);
            vsnprintf(moment, sizeof moment, when, ap);
            va_end(ap);
            fail(w, slot, b, "%s: expected byte %zu (at %p) to be 0x%02x, got 0x%02x", moment, bad,
                 (const void *)(p + bad), expected_byte(b->seed, zero, bad), p[bad]);
            return false;
        }
    }
    return true;
}

static void fill_block(const block *b)
{
    range r[2 + SAMPLES];
    unsigned n = block_ranges(b->size, b->seed, b->size, r);
    for (unsigned i = 0; i < n; i++)
        fill_range(b->p, b->seed, r[i]);
}

/* Give b a new id (of this thread) and the pattern of that id and its size. */
static void new_identity(worker *w, block *b, enum op made_by)
{
    b->id = ((uint64_t)(w->index + 1) << ID_SHIFT) | w->next_id++;
    b->seed = pattern_seed(b->id, b->size);
    b->birth_op = w->op;
    b->made_by = made_by;
}

/* Check p against the alignment the caller asked for and the header's 16 (or 8). */
static bool check_alignment(worker *w, size_t slot, const char *call, const void *p, size_t size,
                            size_t align)
{
    size_t natural = size >= 16 ? 16 : 8;
    size_t want = align > natural ? align : natural;
    if (((uintptr_t)p & (want - 1)) == 0)
        return true;
    fail(w, slot, NULL,
         "%s of %zu B (alignment %zu asked): expected a pointer aligned to %zu, got %p", call, size,
         align, want, p);
    return false;
}

/* Check and free the block of slot s, if any; the slot is then empty. */
static void release_slot(worker *w, size_t s, const char *when)
{
    block *b = &w->slot[s];
    if (b->p == NULL)
        return;
    if (!check_block(w, s, b, b->p, b->size, false, "%s", when))
        return;
    if (id_thread(b->id) != w->index)
        w->crossed++;
    sh_free(b->p);
    b->p = NULL;
}

/* ---- the operations ---------------------------------------------------------------- */

/* malloc, calloc, aligned_alloc, posix_memalign or realloc(NULL) into slot s. */
static void op_allocate(worker *w, size_t s, enum op how, uint64_t *rng)
{
    release_slot(w, s, "before freeing it to reuse its slot");
    if (w->failed)
        return;
    size_t size = random_size(rng);
    size_t align = 0;
    void *p = NULL;
    const char *call = op_name[how];
    int rc = 0;
    switch (how) {
    case OP_MALLOC:
        p = sh_malloc(size);
        break;
    case OP_CALLOC: {
        /* the same bytes as n elements of m: (1, size), (size, 1) or (size / 8, 8) */
        unsigned shape = (unsigned)(next_random(rng) % 3);
        size_t m = shape == 0 ? size : shape == 1 || size % 8 != 0 ? 1 : 8;
        p = sh_calloc(m == 0 ? 1 : size / m, m);
        break;
    }
    case OP_ALIGNED_ALLOC:
        align = random_align(rng);
        p = sh_aligned_alloc(align, size);
        break;
    case OP_POSIX_MEMALIGN:
        align = random_align(rng);
        rc = sh_posix_memalign(&p, align, size);
        if (rc != 0) {
            fail(w, s, NULL, "posix_memalign(%zu B, alignment %zu): expected 0, got %d", size,
                 align, rc);
            return;
        }
        break;
    default:
        call = "realloc(NULL)";
        p = sh_realloc(NULL, size);
        break;
    }
    if (p == NULL) {
        fail(w, s, NULL, "%s of %zu B (alignment %zu): expected a block, got NULL (errno %d)", call,
             size, align, errno);
        return;
    }
    if (!check_alignment(w, s, call, p, size, align))
        return;
    block *b = &w->slot[s];
    b->p = p;
    b->size = size;
    new_identity(w, b, how);
    if (how == OP_CALLOC && !check_block(w, s, b, b->p, size, true, "calloc"))
        return;
    fill_block(b);
}

static void op_realloc(worker *w, size_t s, uint64_t *rng)
{
    block *b = &w->slot[s];
    if (b->p == NULL) {
        op_allocate(w, s, OP_REALLOC, rng);
        return;
    }
    if (!check_block(w, s, b, b->p, b->size, false, "before realloc"))
        return;
    size_t size = realloc_size(rng, b->size);
    unsigned char *p = sh_realloc(b->p, size);
    if (size == 0) {
        if (p != NULL) {
            fail(w, s, b, "realloc to 0 B: expected NULL (the block freed), got %p", (void *)p);
            return;
        }
        if (id_thread(b->id) != w->index)
            w->crossed++;
        b->p = NULL;
        return;
    }
    if (p == NULL) {
        fail(w, s, b, "realloc to %zu B: expected a block, got NULL (errno %d)", size, errno);
        return;
    }
    if (!check_alignment(w, s, "realloc", p, size, 0))
        return;
    size_t kept = size < b->size ? size : b->size;
    if (!check_block(w, s, b, p, kept, false, "after realloc to %zu B at %p (its first %zu B kept)",
                     size, (void *)p, kept))
        return;
    if (id_thread(b->id) != w->index)
        w->crossed++;
    b->p = p;
    b->size = size;
    new_identity(w, b, OP_REALLOC);
    fill_block(b);
}

static void op_free(worker *w, size_t s)
{
    if (w->slot[s].p == NULL)
        sh_free(NULL);
    else
        release_slot(w, s, "before free");
}

/* usable_size >= size, and the slack it reports is writable. */
static void op_usable_size(worker *w, size_t s)
{
    block *b = &w->slot[s];
    if (b->p == NULL) {
        size_t u = sh_usable_size(NULL);
        if (u != 0)
            fail(w, s, NULL, "usable_size(NULL): expected 0, got %zu", u);
        return;
    }
    if (!check_block(w, s, b, b->p, b->size, false, "before usable_size"))
        return;
    size_t u = sh_usable_size(b->p);
    if (u < b->size) {
        fail(w, s, b, "usable_size: expected at least %zu, got %zu", b->size, u);
        return;
    }
    if (u > b->size) {
        size_t slack = u - b->size;
        memset(b->p + b->size, 0xA5, slack < 64 ? slack : 64);
        b->p[u - 1] = 0xA5;
    }
}

/* Hand slot s's block to the exchange entry e, if that entry is empty. */
static void op_give(worker *w, size_t s, size_t e)
{
    block *b = &w->slot[s];
    exchange_entry *x = &fuzz.exchange[e];
    unsigned state = EXCHANGE_EMPTY;
    /* acquire: the last taker's reads of x->b are done before we overwrite it */
    if (b->p == NULL ||
        !atomic_compare_exchange_strong_explicit(&x->state, &state, EXCHANGE_BUSY,
                                                 memory_order_acquire, memory_order_relaxed))
        return;
    x->b = *b;
    b->p = NULL;
    /* release: x->b and the block's bytes are visible to the thread that takes it */
    atomic_store_explicit(&x->state, EXCHANGE_FULL_BY + w->index, memory_order_release);
}

/* Take another thread's block from exchange entry e, check it, then keep it in slot s if
   that is empty, else free it. */
static void op_take(worker *w, size_t s, size_t e)
{
    exchange_entry *x = &fuzz.exchange[e];
    unsigned state = atomic_load_explicit(&x->state, memory_order_relaxed);
    if (state < EXCHANGE_FULL_BY || (state == EXCHANGE_FULL_BY + w->index && fuzz.threads > 1))
        return;
    /* acquire: pairs with op_give's release, so x->b and the block's bytes are the giver's */
    if (!atomic_compare_exchange_strong_explicit(&x->state, &state, EXCHANGE_BUSY,
                                                 memory_order_acquire, memory_order_relaxed))
        return;
    block b = x->b;
    /* release: our read of x->b is done before the next giver overwrites it */
    atomic_store_explicit(&x->state, EXCHANGE_EMPTY, memory_order_release);
    if (!check_block(w, s, &b, b.p, b.size, false, "taken from exchange entry %zu", e))
        return;
    if (w->slot[s].p == NULL) {
        w->slot[s] = b;
        return;
    }
    if (id_thread(b.id) != w->index)
        w->crossed++;
    sh_free(b.p);
}

/* One step: its random numbers come from (thread seed, step number) only. */
static void step(worker *w)
{
    uint64_t rng = w->seed ^ mix(w->op);
    uint64_t r = next_random(&rng);
    size_t s = (size_t)(r & (SLOTS - 1));
    size_t e = (size_t)((r >> 16) % EXCHANGE_SLOTS);
    enum op op = (enum op)fuzz.op_table[(r >> 32) & 255];
    switch (op) {
    case OP_REALLOC:
        op_realloc(w, s, &rng);
        break;
    case OP_FREE:
        op_free(w, s);
        break;
    case OP_USABLE_SIZE:
        op_usable_size(w, s);
        break;
    case OP_GIVE:
        op_give(w, s, e);
        break;
    case OP_TAKE:
        op_take(w, s, e);
        break;
    default:
        op_allocate(w, s, op, &rng);
        break;
    }
}

/* A thread's walk: w->quota steps (fewer if time is up or a thread failed), then every
   block still in its slots checked and freed, unless a failure was reported. */
static void *walk(void *arg)
{
    worker *w = arg;
    for (w->op = 0; w->op < w->quota && !w->failed; w->op++) {
        if (w->op % 1024 == 0 && (atomic_load_explicit(&fuzz.failures, memory_order_relaxed) != 0 ||
                                  (w->deadline > 0 && now_s() >= w->deadline)))
            break;
        step(w);
    }
    /* after a failure anywhere the heap may be broken: leave the blocks where they are */
    for (size_t s = 0; s < SLOTS; s++) {
        if (atomic_load_explicit(&fuzz.failures, memory_order_relaxed) != 0)
            break;
        release_slot(w, s, "at the end of the walk");
    }
    return NULL;
}

/* ---- the command line -------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: fuzz_heap [--ops N] [--threads T] [--seed S] [--seconds X]\n"
            "  N steps in all (default %d; unlimited if only --seconds is given),\n"
            "  T threads (1..%d, default 2), S the seed (default: from the clock),\n"
            "  X seconds at most\n",
            DEFAULT_OPS, MAX_THREADS);
    exit(2);
}

/* A decimal (or 0x hexadecimal) number, or the usage message and exit 2. */
static unsigned long long parse_number(const char *arg)
{
    if (arg == NULL || *arg < '0' || *arg > '9')
        usage();
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 0);
    if (*end != '\0' || errno != 0)
        usage();
    return v;
}

int main(int argc, char **argv)
{
    unsigned long long ops = DEFAULT_OPS;
    unsigned long long threads = 2;
    double seconds = 0;
    bool ops_given = false, seed_given = false;
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--ops") == 0) {
            ops = parse_number(value);
            ops_given = true;
        } else if (strcmp(argv[i], "--threads") == 0) {
            threads = parse_number(value);
        } else if (strcmp(argv[i], "--seed") == 0) {
            fuzz.seed = parse_number(value);
            seed_given = true;
        } else if (strcmp(argv[i], "--seconds") == 0) {
            char *end;
            seconds = strtod(value == NULL ? "" : value, &end);
            if (value == NULL || end == value || *end != '\0' || !(seconds > 0))
                usage();
        } else {
            usage();
        }
    }
    if (threads < 1 || threads > MAX_THREADS)
        usage();
    if (seconds > 0 && !ops_given)
        ops = UINT64_MAX;
    if (!seed_given) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        fuzz.seed = mix((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) % 1000000000u;
    }
    fuzz.threads = (unsigned)threads;
    unsigned total = 0;
    for (unsigned op = 0; op < OP_KINDS; op++)
        total += op_weight[op];
    if (total != 256) {
        fprintf(stderr, "fuzz_heap: op_weight adds up to %u, expected 256\n", total);
        return 2;
    }
    for (unsigned op = 0, i = 0; op < OP_KINDS; op++)
        for (unsigned k = 0; k < op_weight[op]; k++)
            fuzz.op_table[i++] = (unsigned char)op;

    printf("fuzz_heap: seed %llu, %u threads, ", (unsigned long long)fuzz.seed, fuzz.threads);
    if (ops == UINT64_MAX)
        printf("%.0f seconds\n", seconds);
    else
        printf("%llu operations%s\n", ops, seconds > 0 ? " at most" : "");
    fflush(stdout);

    /* one more worker for the main thread's drain of the exchange */
    worker *workers = calloc(fuzz.threads + 1, sizeof *workers);
    pthread_t tid[MAX_THREADS];
    if (workers == NULL) {
        fprintf(stderr, "fuzz_heap: out of memory for %u workers\n", fuzz.threads);
        return 1;
    }
    double start = now_s();
    for (unsigned t = 0; t <= fuzz.threads; t++) {
        worker *w = &workers[t];
        w->index = t;
        w->seed = mix(fuzz.seed ^ ((uint64_t)(t + 1) * 0xA0761D6478BD642Fu));
        w->quota = ops == UINT64_MAX ? ops : ops / threads + (t < ops % threads);
        w->deadline = seconds > 0 ? start + seconds : 0;
    }
    for (unsigned t = 0; t < fuzz.threads; t++) {
        if (pthread_create(&tid[t], NULL, walk, &workers[t]) != 0) {
            fprintf(stderr, "fuzz_heap: cannot start thread %u\n", t);
            return 1;
        }
    }
    unsigned long long done = 0, crossed = 0;
    for (unsigned t = 0; t < fuzz.threads; t++) {
        pthread_join(tid[t], NULL);
        done += workers[t].op;
        crossed += workers[t].crossed;
    }
    worker *drain = &workers[fuzz.threads];
    for (size_t e = 0; e < EXCHANGE_SLOTS; e++) {
        if (atomic_load_explicit(&fuzz.failures, memory_order_relaxed) != 0)
            break;
        exchange_entry *x = &fuzz.exchange[e];
        if (atomic_load_explicit(&x->state, memory_order_acquire) >= EXCHANGE_FULL_BY) {
            drain->slot[0] = x->b;
            release_slot(drain, 0, "left in the exchange at the end");
        }
    }
    crossed += drain->crossed;
    double elapsed = now_s() - start;
    unsigned long failures = atomic_load(&fuzz.failures);
    printf("fuzz_heap: %llu operations, %u threads, seed %llu: %lu failures (%.2f s, %.2f M "
           "ops/s; %llu blocks freed or resized by another thread)\n",
           done, fuzz.threads, (unsigned long long)fuzz.seed, failures, elapsed,
           elapsed > 0 ? (double)done / elapsed / 1e6 : 0.0, crossed);
    free(workers);
    return failures == 0 ? 0 : 1;
}

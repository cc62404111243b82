/*
 * span.c -- blocks above SH_MEDIUM_MAX up to SH_SPAN_MAX: runs of 64 KiB
 * slices in span segments shared by every thread.
 *
 * A span segment is a 4 MiB segment (so sh_segment_of and the segment map
 * work as for any other) whose header, kind SH_SEG_SPAN, fills slice 0.
 * Slices 1..63 hold blocks; a block is a run of whole slices and its pointer
 * is the start of its first slice.  Three masks (bit i = slice i) are the
 * whole state:
 *
 *   used   slices inside a block
 *   start  the first slice of each block; a block's length is its start
 *          slice plus the used, non-start slices right after it
 *   dirty  slices that may be resident and hold non-zero bytes (touched
 *          since the segment was mapped or last purged)
 *
 * Free slices coalesce by construction, and the runs of n free slices are
 * found with log2(n) shift-and-ands.  A block takes, in the first LOOK
 * segments, the run with the fewest clean slices (not dirty: memory the OS
 * must fault in), and of those the one in the tightest hole: freed memory is
 * reused before fresh memory is touched, and a big hole is kept for a big
 * block.  The segments are split among SHARDS lists, each with its mutex: a
 * thread allocates from its shard, the one of the CPU it ran on when it
 * first needed one or found its shard's lock busy four times in a row (then
 * from any other shard whose lock is free, before it maps a new segment),
 * and a block's free, resize or measure takes the lock of its segment's
 * shard (kept in the header, which never changes), so threads that allocate
 * and free span blocks at a high rate meet on one lock only one time in
 * SHARDS (a lock lets any thread free or resize any block; a block this big
 * costs a memset's worth of time to use, far more than the lock).
 *
 * The point: a freed block keeps its pages, so the next block of any size up
 * to SH_SPAN_MAX reuses them without page faults (a mapping per block
 * faulted every page in again).  A free dirty slice is decommitted once it
 * has been free sh_purge_delay_ms (each slice keeps its own time, so a busy
 * program that reuses slices quickly never has them decommitted under it);
 * a segment without blocks is unmapped one delay after its last free.
 */
#define _GNU_SOURCE
#include "heap_internal.h"

#include <errno.h>
#include <string.h>

#define SLICE_SHIFT SH_SMALL_PAGE_SHIFT
#define SLICE ((size_t)1 << SLICE_SHIFT)
#define SLICES 64
#define USABLE (~(uint64_t)1) /* slice 0 holds the header */

_Static_assert(SH_SEGMENT_SIZE == SLICES * SLICE, "a span segment is 64 slices");
_Static_assert((SH_SPAN_MAX >> SLICE_SHIFT) < SLICES, "a span must fit in one segment");

typedef struct span_seg {
    /* first fields shared with sh_segment: free's dispatch reads only these */
    _Atomic uintptr_t thread_id; /* always 0: free's fast path never matches */
    uint32_t kind;               /* SH_SEG_SPAN */
    uint32_t page_shift;
    struct span_seg *next; /* all span segments, newest first */
    uint64_t used, start, dirty;
    uint64_t purge_at;         /* ms: when free dirty slices may be decommitted; 0: none */
    uint64_t purge_since;      /* ms: when the first of them was freed (sh_purge_deadline) */
    uint64_t seal;             /* sh_seal of the fields that decide which memory is handed out */
    uint64_t shard;            /* its list, set when mapped */
    uint64_t freed_at[SLICES]; /* ms: when each free slice was freed */
} span_seg;

/* Lists of span segments, each under its own lock (see above). */
#define SHARDS 8

typedef struct span_shard {
    pthread_mutex_t lock;
    span_seg *segs;
    uint64_t check_at; /* ms: the earliest purge_at of its segments (UINT64_MAX: none) */
} span_shard;

#define SHARD_INIT                                                                                 \
    {                                                                                              \
        .lock = PTHREAD_MUTEX_INITIALIZER, .check_at = UINT64_MAX                                  \
    }
_Static_assert(SHARDS == 8, "one initialiser a shard below");
static span_shard spans[SHARDS] = {SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT,
                                   SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT};

static span_shard *shard_of(const span_seg *s)
{
    return &spans[s->shard % SHARDS];
}

/* n ones from bit i (n + i <= 64, n >= 1). */
static uint64_t bits(unsigned n, unsigned i)
{
    return (n >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1)) << i;
}

/* Bits i such that slices i .. i+n-1 are all set in `free`. */
static uint64_t runs_of(uint64_t free, unsigned n)
{
    uint64_t x = free;
    for (unsigned have = 1; have < n;) {
        unsigned s = have < n - have ? have : n - have;
        x &= x >> s; /* runs of `have` at i and at i + s (s <= have) make one of have + s */
        have += s;
    }
    return x;
}

/* ---- the sealed header (lock held) ------------------------------------------------- */

static uint64_t seal_of(const span_seg *s)
{
    uint64_t w[] = {(uintptr_t)s, s->kind,  s->page_shift, (uintptr_t)s->next,
                    s->used,      s->start, s->shard};
    return sh_seal(w, sizeof w / sizeof w[0]);
}

static void seal(span_seg *s)
{
    if (sh_cfg_harden)
        s->seal = seal_of(s);
}

/* s's header is intact; dies otherwise (p, what: the call that found it). */
static void check(const span_seg *s, const void *p, const char *what)
{
    if (sh_cfg_harden && (s->seal != seal_of(s) || s->kind != SH_SEG_SPAN))
        sh_fatal("heap corruption: %s(%p): the header of the span segment at %p was overwritten "
                 "(by an overflow from the memory before it)",
                 what, p, (const void *)s);
}

/* Slices in the block that starts at slice i. */
static unsigned run_length(const span_seg *s, unsigned i)
{
    uint64_t after = ((s->used & ~s->start) >> i) >> 1; /* bit 63 is now clear */
    return 1 + (unsigned)__builtin_ctzll(~after);
}

/* Call f on each run of set bits in m (bit 0 clear). */
static void for_runs(span_seg *s, uint64_t m, void (*f)(void *, size_t))
{
    while (m != 0) {
        unsigned a = (unsigned)__builtin_ctzll(m);
        unsigned len = (unsigned)__builtin_ctzll(~(m >> a)); /* m >> a has bit 63 clear */
        f((uint8_t *)s + ((size_t)a << SLICE_SHIFT), (size_t)len << SLICE_SHIFT);
        m &= ~bits(len, a);
    }
}

static void zero(void *p, size_t n)
{
    memset(p, 0, n);
}

/* Decommit s's free dirty slices freed at least one delay before now (all
   of them if force), and unmap s if it holds no block and its last free is
   that old.  Lock held; returns true if s was unmapped (*link, in prev or
   the list's head, then points past it). */
static bool purge_one(span_seg *prev, span_seg **link, span_seg *s, bool force, uint64_t now)
{
    check(s, s, "free");
    /* a slice goes when it has been free one delay and its segment is due:
       quiet for a delay, or holding free slices for SH_PURGE_HOLD delays */
    bool quiet = now >= s->purge_at;
    uint64_t due = 0, next = 0;
    for (uint64_t m = s->dirty & ~s->used; m != 0; m &= m - 1) {
        unsigned i = (unsigned)__builtin_ctzll(m);
        uint64_t at = s->freed_at[i] + sh_purge_delay_ms;
        if (force || (quiet && at <= now))
            due |= (uint64_t)1 << i;
        else {
            if (at < s->purge_at)
                at = s->purge_at;
            if (next == 0 || at < next)
                next = at;
        }
    }
    if (s->used == 0 && next == 0) {
        __atomic_store_n(link, s->next, __ATOMIC_RELAXED); /* a shard's segs is peeked unlocked */
        if (prev != NULL)
            seal(prev);
        sh_segment_map_release(s);
        sh_os_unmap(s, SH_SEGMENT_SIZE);
        return true;
    }
    for_runs(s, due, sh_os_decommit); /* never the header: it is not dirty */
    s->dirty &= ~due;
    if (due != 0)
        s->purge_since = now;
    s->purge_at = next;
    return false;
}

/* Purge sh's segments whose time came (all if force).  Its lock held. */
static void purge_locked(span_shard *sh, bool force, uint64_t now)
{
    if (!force && now < sh->check_at)
        return;
    uint64_t next = UINT64_MAX;
    span_seg *prev = NULL;
    for (span_seg **link = &sh->segs, *s; (s = *link) != NULL;) {
        if ((force || (s->purge_at != 0 && now >= s->purge_at)) &&
            purge_one(prev, link, s, force, now))
            continue;
        if (s->purge_at != 0 && s->purge_at < next)
            next = s->purge_at;
        prev = s;
        link = &s->next;
    }
    sh->check_at = next;
}

uint64_t sh_span_purge(bool force)
{
    uint64_t next = UINT64_MAX;
    for (span_shard *sh = spans; sh < spans + SHARDS; sh++) {
        if (__atomic_load_n(&sh->segs, __ATOMIC_RELAXED) == NULL) /* racy peek, fine */
            continue;
        sh_lock(&sh->lock);
        purge_locked(sh, force, sh_now_ms());
        if (sh->check_at < next)
            next = sh->check_at;
        sh_unlock(&sh->lock);
    }
    return next;
}

/* A new span segment on shard sh (its lock held). */
static span_seg *segment_new(span_shard *sh)
{
    span_seg *s = sh_os_map_aligned(SH_SEGMENT_SIZE, SH_SEGMENT_SIZE);
    if (s == NULL)
        return NULL;
    if (!sh_segment_map_reserve(s)) {
        sh_os_unmap(s, SH_SEGMENT_SIZE);
        return NULL;
    }
    atomic_store_explicit(&s->thread_id, 0, memory_order_relaxed);
    s->kind = SH_SEG_SPAN;
    /* two stores: merged, they would be a constant read from .rodata (options.c) */
    atomic_signal_fence(memory_order_seq_cst);
    s->page_shift = SLICE_SHIFT;
    s->used = s->start = s->dirty = s->purge_at = 0; /* dirty never has the header's bit */
    s->shard = (uint64_t)(sh - spans);
    s->next = sh->segs;
    seal(s);
    __atomic_store_n(&sh->segs, s, __ATOMIC_RELAXED); /* peeked without the lock */
    sh_segment_map_live(s, SH_MAP_OWN);
    return s;
}

/* A run of free slices to hand out, and what it would cost. */
typedef struct span_pick {
    span_seg *seg;  /* NULL: none found yet */
    unsigned at;    /* its first slice */
    unsigned clean; /* its slices that are not dirty: memory the OS must fault in */
    unsigned hole;  /* the free slices around it, itself included */
} span_pick;

/* Segments a span allocation looks at for the best run (find_run). */
#define LOOK 8

/* Set bits in m (the library is built for any x86-64: no popcnt). */
static unsigned count(uint64_t m)
{
    m -= (m >> 1) & 0x5555555555555555ull;
    m = (m & 0x3333333333333333ull) + ((m >> 2) & 0x3333333333333333ull);
    m = (m + (m >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return (unsigned)((m * 0x0101010101010101ull) >> 56);
}

/* Improve *best with a run of n free slices in sh's segments: fewer clean
   slices first (a free dirty slice stays resident until its purge anyway),
   then a tighter hole, then the first found.  A run starts a dirty stretch
   of its hole, or starts or ends the hole (what is left of the hole stays
   in one piece).  The first LOOK segments are looked at, then more only
   until one has room: the lock is held meanwhile.  Lock held. */
static void find_run(span_shard *sh, unsigned n, span_pick *best)
{
    unsigned looked = 0;
    for (span_seg *s = sh->segs; s != NULL && (looked < LOOK || best->seg == NULL);
         s = s->next, looked++) {
        check(s, s, "malloc");
        uint64_t free = ~s->used & USABLE, dirty = s->dirty & free;
        /* x: the first slices of runs of n free slices; each hole with room
           starts at one (the slice before it is not free); d: the same for
           runs of n dirty ones */
        uint64_t x = runs_of(free, n), d = x != 0 ? runs_of(dirty, n) : 0;
        if (x == 0 || (best->clean == 0 && d == 0))
            continue; /* no room, or nothing better than a dirty run found already */
        while (x != 0) {
            unsigned a = (unsigned)__builtin_ctzll(x);
            unsigned hole = (unsigned)__builtin_ctzll(~(free >> a)); /* free >> a: bit 63 clear */
            uint64_t in_hole = bits(hole, a);
            x &= ~in_hole;
            if (best->clean == 0 && hole >= best->hole)
                continue;
            unsigned i, clean;
            if ((d & in_hole) != 0) {
                i = (unsigned)__builtin_ctzll(d & in_hole);
                clean = 0;
            } else if (best->clean == 0) {
                continue;
            } else {
                unsigned end = a + hole - n, at_end = count(bits(n, end) & ~dirty);
                i = a;
                clean = count(bits(n, a) & ~dirty);
                if (at_end < clean)
                    i = end, clean = at_end;
            }
            if (clean < best->clean || (clean == best->clean && hole < best->hole)) {
                *best = (span_pick){s, i, clean, hole};
                if (clean == 0 && hole == n)
                    return; /* an exact fit of dirty slices: none is better */
            }
        }
    }
}

void *sh_span_alloc(size_t size, bool zeroed)
{
    unsigned n = (unsigned)((size + SLICE - 1) >> SLICE_SHIFT), i = 0;
    /* the thread's shard: the one of the CPU it ran on at its first span
       block, and again whenever its shard's lock is busy (threads that
       share a CPU share their span segments; threads that meet move
       apart); then any other shard that is free right now: a new segment
       only when none has room */
    static __thread unsigned home_plus_1; /* 0: none yet */
    static __thread unsigned busy;        /* allocations in a row that found it busy */
    unsigned home = home_plus_1 != 0 ? home_plus_1 - 1 : sh_os_cpu() % SHARDS;
    span_shard *sh = &spans[home];
    if (sh_trylock(&sh->lock)) {
        busy = 0;
    } else {
        /* one busy lock is likely the purge thread's pass: wait; four in a
           row, another thread that allocates here too: move to this CPU's */
        if (++busy >= 4) {
            busy = 0;
            home = sh_os_cpu() % SHARDS;
            sh = &spans[home];
        }
        sh_lock(&sh->lock);
    }
    home_plus_1 = home + 1;
    purge_locked(sh, false, sh_now_ms());
    span_pick pick = {NULL, 0, n + 1, SLICES + 1};
    find_run(sh, n, &pick);
    for (unsigned k = 1; k < SHARDS && pick.seg == NULL; k++) {
        span_shard *t = &spans[(home + k) % SHARDS];
        if (__atomic_load_n(&t->segs, __ATOMIC_RELAXED) == NULL || !sh_trylock(&t->lock))
            continue;
        find_run(t, n, &pick);
        if (pick.seg != NULL) {
            sh_unlock(&sh->lock);
            sh = t;
        } else {
            sh_unlock(&t->lock);
        }
    }
    span_seg *s = pick.seg;
    i = pick.at;
    if (s == NULL && (s = segment_new(sh)) == NULL) {
        /* the OS refused: give the caches back (that takes this lock) and
           try once more */
        sh_unlock(&sh->lock);
        sh_release_caches();
        sh_lock(&sh->lock);
        s = segment_new(sh);
    }
    if (s != NULL && i == 0)
        i = 1;
    if (s == NULL) {
        sh_unlock(&sh->lock);
        errno = ENOMEM;
        return NULL;
    }
    uint64_t m = bits(n, i), stale = s->dirty & m;
    s->used |= m;
    s->start |= (uint64_t)1 << i;
    s->dirty |= m;
    seal(s);
    sh_unlock(&sh->lock);
    if (zeroed) /* only slices used before can be non-zero; no one else touches them now */
        for_runs(s, stale, zero);
    return (uint8_t *)s + ((size_t)i << SLICE_SHIFT);
}

static unsigned containing(const span_seg *s, unsigned i);

/* Slice index of block p in s, which must be a block's start and its header
   intact; dies otherwise.  Lock held. */
static unsigned start_slice(const span_seg *s, const void *p, const char *what)
{
    check(s, p, what);
    size_t off = (size_t)((const uint8_t *)p - (const uint8_t *)s);
    unsigned i = (unsigned)(off >> SLICE_SHIFT);
    if ((off & (SLICE - 1)) == 0 && ((s->start >> i) & 1) != 0)
        return i;
    unsigned first = containing(s, i);
    if (first != 0) {
        uint8_t *b = (uint8_t *)s + ((size_t)first << SLICE_SHIFT);
        sh_heap_misuse("invalid free", what, p, "points %zu byte(s) into the %zu-byte block at %p",
                       (size_t)((const uint8_t *)p - b),
                       (size_t)run_length(s, first) << SLICE_SHIFT, (void *)b);
    }
    if (i == 0)
        sh_heap_misuse("invalid free", what, p,
                       "points into stackheap's span segment header, not at a block");
    if ((off & (SLICE - 1)) == 0)
        sh_heap_misuse("double free", what, p,
                       "of a block that is free already (no block of this span segment starts "
                       "there now)");
    sh_heap_misuse("invalid free", what, p,
                   "is not a block stackheap handed out (it points into free memory of a span "
                   "segment)");
}

/* Free slices m of s (lock held). */
static void release(span_seg *s, uint64_t m)
{
    s->used &= ~m;
    seal(s);
    uint64_t now = sh_now_ms();
    for (uint64_t b = m; b != 0; b &= b - 1)
        s->freed_at[__builtin_ctzll(b)] = now;
    if (s->purge_at == 0)
        s->purge_since = now;
    uint64_t at = sh_purge_deadline(s->purge_since, now);
    s->purge_at = at;
    span_shard *sh = shard_of(s);
    if (at < sh->check_at)
        sh->check_at = at;
    if (sh_purge_delay_ms == 0)
        purge_locked(sh, false, now);
}

void sh_span_free(sh_segment *seg, void *p)
{
    span_seg *s = (span_seg *)seg;
    span_shard *sh = shard_of(s);
    sh_lock(&sh->lock);
    unsigned i = start_slice(s, p, "free");
    s->start &= ~((uint64_t)1 << i);
    release(s, bits(run_length(s, i), i));
    sh_unlock(&sh->lock);
    sh_background_kick();
}

bool sh_span_resize(sh_segment *seg, void *p, size_t size)
{
    span_seg *s = (span_seg *)seg;
    unsigned n = (unsigned)((size + SLICE - 1) >> SLICE_SHIFT);
    bool ok = true;
    span_shard *sh = shard_of(s);
    sh_lock(&sh->lock);
    unsigned i = start_slice(s, p, "realloc"), have = run_length(s, i);
    if (n < have) {
        release(s, bits(have - n, i + n));
    } else if (n > have) {
        uint64_t more = i + n <= SLICES ? bits(n - have, i + have) : 0;
        ok = more != 0 && (s->used & more) == 0;
        if (ok) {
            s->used |= more;
            s->dirty |= more;
            seal(s);
        }
    }
    sh_unlock(&sh->lock);
    return ok;
}

/* The first slice of the block that holds slice i, 0 if none does (slice 0
   is the header, never a block).  Lock held. */
static unsigned containing(const span_seg *s, unsigned i)
{
    uint64_t starts = s->start & bits(i + 1, 0);
    if (((s->used >> i) & 1) == 0 || starts == 0)
        return 0;
    return 63u - (unsigned)__builtin_clzll(starts);
}

size_t sh_span_usable(sh_segment *seg, const void *p, const char *what)
{
    span_seg *s = (span_seg *)seg;
    span_shard *sh = shard_of(s);
    sh_lock(&sh->lock);
    unsigned i = start_slice(s, p, what);
    size_t bytes = (size_t)run_length(s, i) << SLICE_SHIFT;
    sh_unlock(&sh->lock);
    return bytes;
}

void *sh_span_block_start(sh_segment *seg, const void *p)
{
    span_seg *s = (span_seg *)seg;
    size_t off = (size_t)((const uint8_t *)p - (const uint8_t *)s);
    span_shard *sh = shard_of(s);
    sh_lock(&sh->lock);
    unsigned first = containing(s, (unsigned)(off >> SLICE_SHIFT));
    sh_unlock(&sh->lock);
    return first != 0 ? (uint8_t *)s + ((size_t)first << SLICE_SHIFT) : NULL;
}

void sh_span_each_block(sh_segment *seg, void (*f)(void *block, void *arg), void *arg)
{
    span_seg *s = (span_seg *)seg;
    uint64_t starts = 0;
    /* still a span segment: the purge thread may have unmapped it since
       the caller found it in the map (so its shard is not read first) */
    for (span_shard *sh = spans; sh < spans + SHARDS; sh++) {
        sh_lock(&sh->lock);
        for (span_seg *t = sh->segs; t != NULL; t = t->next)
            if (t == s)
                starts = s->start;
        sh_unlock(&sh->lock);
    }
    for (; starts != 0; starts &= starts - 1)
        f((uint8_t *)s + ((size_t)__builtin_ctzll(starts) << SLICE_SHIFT), arg);
}

void sh_span_totals(size_t *mapped, size_t *used, size_t *blocks)
{
    *mapped = *used = *blocks = 0;
    for (span_shard *sh = spans; sh < spans + SHARDS; sh++) {
        sh_lock(&sh->lock);
        for (span_seg *s = sh->segs; s != NULL; s = s->next) {
            *mapped += SH_SEGMENT_SIZE;
            *used += (size_t)__builtin_popcountll(s->used) << SLICE_SHIFT;
            *blocks += (size_t)__builtin_popcountll(s->start);
        }
        sh_unlock(&sh->lock);
    }
}

void sh_span_lock_for_fork(int phase)
{
    for (span_shard *sh = spans; sh < spans + SHARDS; sh++) {
        if (phase == 0)
            sh_lock(&sh->lock);
        else if (phase == 1)
            sh_unlock(&sh->lock);
        else
            pthread_mutex_init(&sh->lock, NULL);
    }
}

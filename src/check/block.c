/*
 * block.c -- check mode's malloc family: guarded blocks, validated frees, the
 * quarantine.  The layout is in check_internal.h.
 *
 * Invariants:
 *   - a live block's header has magic CK_MAGIC_LIVE ^ seal(its address,
 *     size and guard); a quarantined one CK_MAGIC_FREED ^ seal(...); free
 *     changes one into
 *     the other with a compare-and-swap, so of two racing frees of a block
 *     one succeeds and the other is reported;
 *   - the heap block that holds a checked block starts with its header
 *     (alignment <= 16), or with an indirect marker, CK_MAGIC_INDIRECT ^ its
 *     address and then the header's address (larger alignments): so the exit
 *     report finds every live block by walking the heap's blocks, and no
 *     registry (no lock, no shared cache line) is paid for on each call;
 *   - the front guard is CK_FRONT bytes of CK_FRONT_BYTE, the back guard
 *     b->guard bytes of CK_BACK_BYTE; a quarantined block's bytes, guards
 *     included, are CK_FREED_BYTE (so one pass checks all of it when it
 *     leaves).
 *
 * The quarantine is per thread (a FIFO of freed blocks, drained when the
 * thread exits); its budget, STACKHEAP_CHECK_QUARANTINE bytes, is shared by
 * the threads that hold one.  Blocks of
 * first-class heaps are not quarantined: sh_heap_destroy may release their
 * memory while another thread's quarantine still held them.
 */
#define _GNU_SOURCE
#include "check_internal.h"

#include <errno.h>
#include <link.h>
#include <string.h>

__thread int ck_busy __attribute__((tls_model("initial-exec")));

#define GUARD_MAX 64 /* back guard bytes written and checked at most */
#define CK_MAGIC_INDIRECT 0x5A17B10C4C1E0077ull

/* This thread's quarantine: a ring of freed blocks, oldest at head.  A ring
   (not a list through the headers) knows which blocks leave next, so they
   are fetched from memory a few evictions ahead: they were freed a whole
   quarantine ago and are cold. */
#define RING ((size_t)1 << 20)       /* blocks held at most */
#define RING_FIRST ((size_t)1 << 10) /* a thread's first ring; doubled as it fills */
#define AHEAD 8                      /* evictions whose blocks are fetched ahead */
#define PREFETCH_MAX 2048            /* bytes of a block fetched ahead at most */
static __thread struct {
    ck_block **ring; /* cap entries, mapped at the first free */
    size_t head, count, cap;
    size_t bytes;
    size_t share;  /* bytes this thread holds at most */
    unsigned seen; /* `holders` when share was computed */
    bool gone;     /* the thread is exiting: free at once */
} tq __attribute__((tls_model("initial-exec")));

/* The quarantine budget (ck_opt.quarantine) is shared by the threads that
   hold a ring: each holds at most budget / holders, so a program with many
   threads keeps the budget in all.  A thread finds its share shrunk at its
   next free (idle threads keep theirs until then). */
static _Atomic unsigned holders;

static size_t share(void)
{
    unsigned n = atomic_load_explicit(&holders, memory_order_relaxed);
    if (n != tq.seen || tq.share == 0) { /* 0: not computed yet */
        tq.seen = n;
        tq.share = ck_opt.quarantine / (n > 0 ? n : 1);
    }
    return tq.share;
}

/* Rings of exited threads, for the next threads (a thread-per-request
   program would otherwise map and unmap rings, and each unmap interrupts
   every CPU).  The largest go first. */
#define SPARE_RINGS 8
static struct {
    pthread_mutex_t lock;
    ck_block **ring[SPARE_RINGS];
    size_t cap[SPARE_RINGS];
    unsigned n;
} spare = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Keep a ring for a later thread; false if there is no room. */
static bool spare_put(ck_block **ring, size_t cap)
{
    sh_lock(&spare.lock);
    bool kept = spare.n < SPARE_RINGS;
    if (kept) {
        unsigned i = spare.n++;
        for (; i > 0 && spare.cap[i - 1] > cap; i--) { /* sorted by size */
            spare.ring[i] = spare.ring[i - 1];
            spare.cap[i] = spare.cap[i - 1];
        }
        spare.ring[i] = ring;
        spare.cap[i] = cap;
    }
    sh_unlock(&spare.lock);
    return kept;
}

/* The largest spare ring (its capacity in *cap), or NULL. */
static ck_block **spare_get(size_t *cap)
{
    ck_block **ring = NULL;
    sh_lock(&spare.lock);
    if (spare.n > 0) {
        spare.n--;
        ring = spare.ring[spare.n];
        *cap = spare.cap[spare.n];
    }
    sh_unlock(&spare.lock);
    return ring;
}

/* Counts for STACKHEAP_STATS (only kept when it is on). */
static struct {
    _Atomic size_t allocs, frees, bytes, live, live_bytes, peak_bytes;
    _Atomic size_t held, peak_held; /* bytes in the quarantines */
} counts;

static void count_held(ptrdiff_t delta)
{
    if (!ck_opt.stats)
        return;
    sh_atomic_max(&counts.peak_held,
                  atomic_fetch_add_explicit(&counts.held, (size_t)delta, memory_order_relaxed) +
                      (size_t)delta);
}

static void count_alloc(size_t size)
{
    if (!ck_opt.stats)
        return;
    atomic_fetch_add_explicit(&counts.allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&counts.bytes, size, memory_order_relaxed);
    atomic_fetch_add_explicit(&counts.live, 1, memory_order_relaxed);
    sh_atomic_max(&counts.peak_bytes,
                  atomic_fetch_add_explicit(&counts.live_bytes, size, memory_order_relaxed) + size);
}

static void count_free(size_t size)
{
    if (!ck_opt.stats)
        return;
    atomic_fetch_add_explicit(&counts.frees, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&counts.live, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&counts.live_bytes, size, memory_order_relaxed);
}

void sh_check_print_stats(const char *line, size_t len)
{
    char b1[32], b2[32], b3[32], b4[32], b5[32];
    ck_report_begin();
    sh_os_write(ck_opt.fd, line, len);
    ck_printf(
        "stackheap: stats: %zu allocations (%s), %zu frees; at most %s live; %zu blocks "
        "(%s) live at exit; the quarantine held at most %s (budget %s)\n",
        atomic_load(&counts.allocs), sh_format_bytes(b1, sizeof b1, atomic_load(&counts.bytes)),
        atomic_load(&counts.frees), sh_format_bytes(b2, sizeof b2, atomic_load(&counts.peak_bytes)),
        atomic_load(&counts.live), sh_format_bytes(b3, sizeof b3, atomic_load(&counts.live_bytes)),
        sh_format_bytes(b4, sizeof b4, atomic_load(&counts.peak_held)),
        sh_format_bytes(b5, sizeof b5, ck_opt.quarantine));
    ck_report_end();
}

void sh_check_init(bool for_valgrind)
{
    ck_report_init(for_valgrind);
    ck_trace_init();
}

/* What a header's magic is xor'ed with: its address, size and guard length.
   A header whose size or guard was overwritten (a write more than CK_FRONT
   bytes before a block) then no longer reads as a block, so the check layer
   never sizes a fill or a check by a damaged field. */
static uint64_t seal(const ck_block *b)
{
    return (uintptr_t)b ^ ((uint64_t)b->size * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)b->guard << 56);
}

static bool is_live(const ck_block *b)
{
    return __atomic_load_n(&b->magic, __ATOMIC_ACQUIRE) == (CK_MAGIC_LIVE ^ seal(b));
}

static bool is_freed(const ck_block *b)
{
    return __atomic_load_n(&b->magic, __ATOMIC_ACQUIRE) == (CK_MAGIC_FREED ^ seal(b));
}

/* The header of user pointer p if reading it is safe (p inside the heap's
   memory, and so is the header); NULL otherwise.  Its magic is not checked. */
static ck_block *header_at(const void *p)
{
    if (((uintptr_t)p & 15) != 0 || (uintptr_t)p < 4096)
        return NULL;
    const uint8_t *h = (const uint8_t *)p - CK_OFFSET;
    if (sh_segment_map_has(sh_segment_of(p)) && sh_segment_map_has(sh_segment_of(h + 1)))
        return (ck_block *)h;
    /* p 4 MiB or more into a large block (an alignment of 4 MiB or more puts
       it there): only the block's first region is in the map */
    const uint8_t *base = sh_block_base(p);
    return base != NULL && h >= base ? (ck_block *)h : NULL;
}

/* The header of the checked block that heap block `block` holds (live or
   quarantined), or NULL. */
static ck_block *header_of_block(void *block)
{
    ck_block *b = block;
    if (is_live(b) || is_freed(b))
        return b;
    uintptr_t *w = block;
    if (w[0] != (CK_MAGIC_INDIRECT ^ (uintptr_t)block))
        return NULL;
    ck_block *h = (ck_block *)w[1];
    if ((uint8_t *)h < (uint8_t *)block + 16 || h->raw != block || (!is_live(h) && !is_freed(h)))
        return NULL;
    return h;
}

/* ---- allocation --------------------------------------------------------------- */

void *sh_check_alloc(sh_heap *h, size_t size, size_t align, bool zero, void *ra)
{
    void **fp = __builtin_frame_address(0);
    sh_heap *from = h != NULL ? h : sh_tls_default != NULL ? sh_tls_default : sh_heap_thread_init();
    if (from == NULL || size > SH_MAX_REQUEST || align > SH_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    /* alignment <= 16: the header starts the heap block; larger: an indirect
       marker does, and the header sits CK_OFFSET before the aligned pointer */
    size_t lead = align <= 16 ? CK_OFFSET : CK_OFFSET + 16 + align - 1;
    size_t need = lead + size + CK_TAIL;
    ck_busy++;
    uint8_t *raw = sh_heap_alloc(from, need);
    ck_busy--;
    if (raw == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    uint8_t *user = raw + CK_OFFSET;
    if (align > 16) {
        user = (uint8_t *)(((uintptr_t)raw + CK_OFFSET + 16 + align - 1) & ~(uintptr_t)(align - 1));
        ((uintptr_t *)raw)[0] = CK_MAGIC_INDIRECT ^ (uintptr_t)raw;
        ((uintptr_t *)raw)[1] = (uintptr_t)ck_header(user);
    }
    ck_block *b = ck_header(user);
    size_t tail = sh_block_usable(raw, "malloc") - (size_t)(user - raw) - size;
    b->size = size;
    b->heap = h;
    b->raw = raw;
    b->guard = (uint32_t)(tail < GUARD_MAX ? tail : GUARD_MAX);
    b->free_trace = 0;
    b->alloc_trace = ck_busy ? 0 : ck_trace_capture(ra, fp);
    memset(user - CK_FRONT, CK_FRONT_BYTE, CK_FRONT);
    memset(user + size, CK_BACK_BYTE, b->guard);
    if (zero)
        memset(user, 0, size);
    __atomic_store_n(&b->magic, CK_MAGIC_LIVE ^ seal(b), __ATOMIC_RELEASE);
    count_alloc(size);
    if (ck_opt.valgrind) /* the guards become memcheck's redzones */
        sh_tools_malloclike(user, size, CK_FRONT, zero);
    return user;
}

/* ---- guards ------------------------------------------------------------------------ */

typedef uint64_t ck_v2 __attribute__((vector_size(16)));

/* True if the n bytes at p are all `byte`.  Blocks of a correct program
   always are, so there is no early exit: 64 bytes a step, no call. */
static bool all_bytes(const uint8_t *p, size_t n, uint8_t byte)
{
    const uint64_t k = 0x0101010101010101ull * byte;
    if (n < 16) {
        uint64_t acc = 0, v;
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            memcpy(&v, p + i, 8);
            acc |= v ^ k;
        }
        for (; i < n; i++)
            acc |= p[i] ^ byte;
        return acc == 0;
    }
    const ck_v2 kv = {k, k};
    ck_v2 a0 = {0, 0}, a1 = a0, a2 = a0, a3 = a0, v0, v1, v2, v3;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        memcpy(&v0, p + i, 16);
        memcpy(&v1, p + i + 16, 16);
        memcpy(&v2, p + i + 32, 16);
        memcpy(&v3, p + i + 48, 16);
        a0 |= v0 ^ kv;
        a1 |= v1 ^ kv;
        a2 |= v2 ^ kv;
        a3 |= v3 ^ kv;
    }
    for (; i + 16 <= n; i += 16) {
        memcpy(&v0, p + i, 16);
        a0 |= v0 ^ kv;
    }
    memcpy(&v1, p + n - 16, 16); /* the last 16 bytes, overlapping: n >= 16 */
    a1 |= v1 ^ kv;
    a0 |= a1 | a2 | a3;
    return (a0[0] | a0[1]) == 0;
}

/* Bytes of [p, p + n) that are not `byte`: count, first and last offsets
   (the report's slow path, after all_bytes said no). */
static size_t damaged(const uint8_t *p, size_t n, uint8_t byte, size_t *first, size_t *last)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != byte) {
            if (count++ == 0)
                *first = i;
            *last = i;
        }
    }
    return count;
}

/* The guards of b hold their bytes (the front guard two words, the back one
   from 16 to GUARD_MAX bytes: words, the last one overlapping). */
static bool guards_intact(const ck_block *b)
{
    const uint64_t front = 0x0101010101010101ull * CK_FRONT_BYTE;
    const uint64_t back = 0x0101010101010101ull * CK_BACK_BYTE;
    const uint8_t *user = ck_user(b), *g = user + b->size;
    size_t n = b->guard;
    uint64_t w0, w1, acc;
    memcpy(&w0, user - 16, 8);
    memcpy(&w1, user - 8, 8);
    acc = (w0 ^ front) | (w1 ^ front);
    for (size_t i = 0; i + 8 < n; i += 8) {
        memcpy(&w0, g + i, 8);
        acc |= w0 ^ back;
    }
    memcpy(&w0, g + n - 8, 8);
    return (acc | (w0 ^ back)) == 0;
}

_Static_assert(CK_FRONT == 16 && CK_TAIL >= 8, "guards_intact reads two front words");

static SH_NOINLINE bool report_guards(ck_block *b, const char *when)
{
    uint8_t *user = ck_user(b);
    size_t ff = 0, fl = 0, bf = 0, bl = 0;
    size_t front = damaged(user - CK_FRONT, CK_FRONT, CK_FRONT_BYTE, &ff, &fl);
    size_t back = damaged(user + b->size, b->guard, CK_BACK_BYTE, &bf, &bl);
    if (front == 0 && back == 0)
        return true;
    char over[200], under[200];
    sh_format(over, sizeof over,
              "heap overrun: %zu byte%s written after the end of a %zu-byte block at %p "
              "(found %s)",
              bl + 1, bl == 0 ? "" : "s", b->size, (void *)user, when);
    sh_format(under, sizeof under,
              "heap underrun: %zu byte%s written before the start of a %zu-byte block at %p "
              "(found %s)",
              (size_t)CK_FRONT - ff, CK_FRONT - ff == 1 ? "" : "s", b->size, (void *)user, when);
    ck_found();
    /* one finding, even with both guards damaged: the overrun, the underrun as a note */
    ck_finding f = {back != 0 ? CK_HEAP_OVERRUN : CK_HEAP_UNDERRUN, user, b->size, 0, false};
    ck_finding_begin(&f, "%s", back != 0 ? over : under);
    if (back != 0 && front != 0)
        ck_finding_note("stackheap: ", "%s", under);
    if (back != 0)
        ck_finding_note(
            "  ", "the guard after it is damaged from byte %zu to byte %zu past its end", bf, bl);
    if (front != 0)
        ck_finding_note("  ",
                        "the guard before it is damaged from %zu to %zu bytes before its start",
                        (size_t)CK_FRONT - fl, (size_t)CK_FRONT - ff);
    ck_finding_stack("the block was allocated at", b->alloc_trace);
    ck_finding_end();
    /* mend them, so the same damage is not reported twice */
    memset(user - CK_FRONT, CK_FRONT_BYTE, CK_FRONT);
    memset(user + b->size, CK_BACK_BYTE, b->guard);
    return false;
}

bool ck_check_guards(ck_block *b, const char *when)
{
    if (ck_opt.valgrind)
        return true; /* memcheck watches the redzones itself */
    return guards_intact(b) || report_guards(b, when);
}

/* ---- bad pointers -------------------------------------------------------------------- */

/* Big blocks (span and large, above SH_MEDIUM_MAX) lose their header when
   they go back to the heap (leaving the quarantine, or at once when they are
   too big for it); a large one's region is then SH_MAP_RELEASED.  The last
   GRAVES of them are remembered, so that a second free of one is reported
   as a double free, with its stacks. */
#define GRAVES 256
static struct {
    pthread_mutex_t lock;
    struct grave {
        const void *user;
        size_t size;
        uint32_t alloc_trace, free_trace;
    } g[GRAVES];
    unsigned next;
} graves = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void grave_add(const ck_block *b)
{
    sh_lock(&graves.lock);
    graves.g[graves.next % GRAVES] =
        (struct grave){ck_user(b), b->size, b->alloc_trace, b->free_trace};
    graves.next++;
    sh_unlock(&graves.lock);
}

static bool grave_find(const void *p, struct grave *out)
{
    bool found = false;
    sh_lock(&graves.lock);
    for (unsigned i = 0; i < GRAVES && i < graves.next && !found; i++) {
        const struct grave *g = &graves.g[(graves.next - 1 - i) % GRAVES]; /* newest first */
        if (g->user == p) {
            *out = *g;
            found = true;
        }
    }
    sh_unlock(&graves.lock);
    return found;
}

static void report_double_free(const char *what, const void *p, size_t size, uint32_t call,
                               uint32_t free_trace, uint32_t alloc_trace)
{
    bool frees = sh_call_frees(what);
    char label[64];
    sh_format(label, sizeof label, "%s called at", what);
    ck_found();
    ck_finding f = {frees ? CK_DOUBLE_FREE : CK_USE_AFTER_FREE, p, size, 0, false};
    ck_finding_begin(&f, "%s: %s(%p) of a %zu-byte block freed already",
                     frees ? "double free" : "use after free", what, p, size);
    ck_finding_stack(label, call);
    ck_finding_stack("first freed at", free_trace);
    ck_finding_stack("allocated at", alloc_trace);
    ck_finding_end();
}

/* Report a free (or realloc: what) of p that is not a live block, with the
   stack of the bad call.  Returns false if p should simply be ignored (memory
   stackheap never had, from before it was loaded). */
static bool report_bad_pointer(const void *p, const char *what, uint32_t call)
{
    ck_block *b = header_at(p);
    if (b != NULL && is_freed(b)) {
        report_double_free(what, p, b->size, call, b->free_trace, b->alloc_trace);
        return true;
    }
    struct grave g = {0};
    if (grave_find(p, &g)) {
        report_double_free(what, p, g.size, call, g.free_trace, g.alloc_trace);
        return true;
    }
    bool frees = sh_call_frees(what);
    const char *invalid = frees ? "invalid free" : "invalid pointer";
    ck_kind kind = frees ? CK_INVALID_FREE : CK_INVALID_POINTER;
    char label[64];
    sh_format(label, sizeof label, "%s called at", what);
    if (sh_segment_map_state(sh_segment_of(p)) == SH_MAP_RELEASED) {
        ck_found();
        ck_finding f = {frees ? CK_INVALID_FREE : CK_USE_AFTER_FREE, p, 0, 0, false};
        ck_finding_begin(&f,
                         "%s: %s(%p) points into memory stackheap released (a block freed "
                         "already, or a stale pointer)",
                         frees ? "double free or invalid free" : "use after free", what, p);
        ck_finding_stack(label, call);
        ck_finding_end();
        return true;
    }
    const uint8_t *q = p;
    if (sh_segment_map_has(sh_segment_of(p))) {
        void *base = sh_block_base(p);
        ck_block *outer = base != NULL ? header_of_block(base) : NULL;
        ck_found();
        if (outer != NULL && (is_live(outer) || is_freed(outer)) && q >= (uint8_t *)base &&
            q < ck_user(outer) + outer->size) {
            ptrdiff_t off = q - ck_user(outer);
            ck_finding f = {kind, p, outer->size, 0, false};
            ck_finding_begin(&f, "%s: %s(%p) of a pointer %zu bytes %s a %zu-byte block at %p%s",
                             invalid, what, p, (size_t)(off < 0 ? -off : off),
                             off < 0 ? "before" : "into", outer->size, (void *)ck_user(outer),
                             is_live(outer) ? "" : " (freed already)");
            ck_finding_stack(label, call);
            ck_finding_stack("the block was allocated at", outer->alloc_trace);
        } else if (outer == NULL && base == (void *)b) {
            /* p is where a block's user bytes start, but its header is not one */
            ck_finding f = {kind, p, 0, 0, false};
            ck_finding_begin(&f,
                             "%s: %s(%p): the header before this block was overwritten (a "
                             "write up to %d bytes before its start), or it was never a block; "
                             "it is left alone",
                             invalid, what, p, CK_OFFSET);
            ck_finding_stack(label, call);
        } else {
            ck_finding f = {kind, p, 0, 0, false};
            ck_finding_begin(&f, "%s: %s(%p): not a block stackheap handed out", invalid, what, p);
            ck_finding_stack(label, call);
        }
        ck_finding_end();
        return true;
    }
    const char *what_is = NULL;
    if (ck_on_this_stack(p)) {
        what_is = "an address on the stack of this thread";
    } else {
        ck_place pl;
        /* the dynamic loader's own data holds its early allocations: leave them */
        if (ck_place_of((uintptr_t)p, &pl) && (pl.flags & PF_W) &&
            strstr(pl.name, "/ld-linux") == NULL)
            what_is = "the address of a global or static variable";
    }
    char where[200];
    if (what_is == NULL) {
        if (sh_foreign_is_early(p))
            return false; /* one of the loader's first blocks: left alone */
        sh_foreign_describe(p, where, sizeof where);
    }
    ck_found();
    ck_finding f = {kind, p, 0, 0, false};
    if (what_is != NULL)
        ck_finding_begin(&f, "%s: %s(%p) of %s, which malloc never returned", invalid, what, p,
                         what_is);
    else
        ck_finding_begin(&f, "%s: %s(%p) is not a block any allocator handed out (%s)", invalid,
                         what, p, where);
    ck_finding_stack(label, call);
    ck_finding_end();
    return true;
}

/* ---- free and the quarantine ------------------------------------------------------------ */

static void raw_free(ck_block *b)
{
    uintptr_t *raw = b->raw;
    if (ck_opt.valgrind) /* the heap writes its free list into it again */
        sh_tools_mark_undefined(ck_user(b) - CK_FRONT, b->size + CK_FRONT + b->guard);
    __atomic_store_n(&b->magic, 0, __ATOMIC_RELAXED);
    if ((void *)raw != (void *)b)
        raw[0] = 0; /* the indirect marker */
    unsigned kind = sh_segment_of(raw)->kind;
    if (kind == SH_SEG_LARGE || kind == SH_SEG_SPAN)
        grave_add(b); /* its header goes with its memory: remembered here */
    ck_busy++;
    sh_heap_free_block(raw, sh_segment_of(raw));
    ck_busy--;
}

/* Check that a block leaving the quarantine still holds the freed pattern,
   its guards included (release filled them too). */
static void check_freed_pattern(ck_block *b)
{
    if (ck_opt.valgrind)
        return; /* memcheck saw any access to it */
    uint8_t *from = ck_user(b) - CK_FRONT;
    size_t len = CK_FRONT + b->size + b->guard;
    if (all_bytes(from, len, CK_FREED_BYTE))
        return;
    size_t first = 0, last = 0;
    size_t n = damaged(from, len, CK_FREED_BYTE, &first, &last);
    ptrdiff_t lo = (ptrdiff_t)first - CK_FRONT, hi = (ptrdiff_t)last - CK_FRONT;
    ck_found();
    ck_finding f = {CK_USE_AFTER_FREE, ck_user(b), b->size, 0, false};
    ck_finding_begin(&f,
                     "use after free: %zu byte%s written into a %zu-byte block at %p after it "
                     "was freed (bytes %td to %td%s)",
                     n, n == 1 ? "" : "s", b->size, (void *)ck_user(b), lo, hi,
                     lo < 0 || hi >= (ptrdiff_t)b->size
                         ? "; negative: before its start, past its size: after its end"
                         : "");
    ck_finding_stack("the block was freed at", b->free_trace);
    ck_finding_stack("and allocated at", b->alloc_trace);
    ck_finding_end();
}

static SH_NOINLINE void report_damaged_header(const ck_block *b)
{
    ck_found();
    ck_finding f = {CK_USE_AFTER_FREE, ck_user(b), 0, 0, false};
    ck_finding_begin(&f,
                     "use after free: the header of a freed block at %p was overwritten while "
                     "the block was in the quarantine (a write up to %d bytes before the "
                     "block); the block is left alone",
                     (void *)ck_user(b), CK_OFFSET);
    ck_finding_end();
}

/* Let the oldest block out of this thread's quarantine (it holds one). */
static void evict(void)
{
    size_t mask = tq.cap - 1;
    ck_block *b = tq.ring[tq.head];
    tq.ring[tq.head] = NULL; /* the leak scan reads rings: no stale pointers */
    tq.head = (tq.head + 1) & mask;
    tq.count--;
    if (tq.count > 2 * AHEAD) { /* headers 2 * AHEAD ahead, then their blocks AHEAD ahead */
        const uint8_t *far = (const uint8_t *)tq.ring[(tq.head + 2 * AHEAD) & mask];
        __builtin_prefetch(far, 0, 3);
        __builtin_prefetch(far + CK_HEADER, 0, 3);
        const ck_block *near = tq.ring[(tq.head + AHEAD) & mask];
        size_t len = CK_OFFSET + near->size + near->guard;
        const uint8_t *p = (const uint8_t *)near + 2 * 64;
        const uint8_t *end = (const uint8_t *)near + (len < PREFETCH_MAX ? len : PREFETCH_MAX);
        for (; p < end; p += 64) /* longer blocks: the hardware streams the rest */
            __builtin_prefetch(p, 0, 3);
    }
    if (!is_freed(b)) { /* its header was overwritten while it was held */
        tq.bytes -= tq.bytes < b->size ? tq.bytes : b->size; /* b->size may be anything */
        report_damaged_header(b);
        return; /* the block is left alone: nothing in its header can be trusted */
    }
    tq.bytes -= b->size;
    count_held(-(ptrdiff_t)b->size);
    check_freed_pattern(b);
    raw_free(b);
}

/* Let blocks out of this thread's quarantine until it holds at most `keep` bytes. */
static void quarantine_trim(size_t keep)
{
    while (tq.count > 0 && tq.bytes > keep)
        evict();
}

void ck_drain_quarantine(void)
{
    while (tq.count > 0) /* by count: blocks of 0 bytes weigh nothing */
        evict();
}

void sh_check_thread_exit(void)
{
    ck_drain_quarantine();
    tq.gone = true;
    if (tq.ring != NULL) {
        atomic_fetch_sub_explicit(&holders, 1, memory_order_relaxed);
        if (!spare_put(tq.ring, tq.cap))
            sh_os_unmap(tq.ring, tq.cap * sizeof *tq.ring);
    }
    tq.ring = NULL;
    tq.cap = 0;
}

/* Validate p for free or realloc (what): its header, now marked freed, or
   NULL after a report (or for memory that was never stackheap's). */
static ck_block *take_live(void *p, const char *what, void *ra, void **fp)
{
    ck_block *b = header_at(p);
    if (b != NULL) {
        uint64_t want = CK_MAGIC_LIVE ^ seal(b);
        if (__atomic_compare_exchange_n(&b->magic, &want, CK_MAGIC_FREED ^ seal(b), false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return b;
    }
    if (report_bad_pointer(p, what, ck_trace_capture(ra, fp)))
        ck_after_error();
    return NULL;
}

/* Give this thread its first ring (a spare one, or a new small one), or
   double a full one up to RING entries. */
static void ring_grow(void)
{
    if (tq.ring == NULL && (tq.ring = spare_get(&tq.cap)) != NULL) {
        tq.head = tq.count = 0;
        atomic_fetch_add_explicit(&holders, 1, memory_order_relaxed);
        return;
    }
    size_t cap = tq.ring == NULL ? RING_FIRST : tq.cap * 2;
    if (tq.ring != NULL && cap > RING)
        return;
    ck_block **ring = sh_os_map(cap * sizeof *ring);
    if (ring == NULL)
        return;                           /* the old ring, if any, goes on */
    for (size_t i = 0; i < tq.count; i++) /* oldest first, from 0 */
        ring[i] = tq.ring[(tq.head + i) & (tq.cap - 1)];
    if (tq.ring != NULL)
        sh_os_unmap(tq.ring, tq.cap * sizeof *tq.ring);
    else
        atomic_fetch_add_explicit(&holders, 1, memory_order_relaxed);
    tq.ring = ring;
    tq.cap = cap;
    tq.head = 0;
}

static void release(ck_block *b, const char *when, uint32_t trace)
{
    count_free(b->size);
    ck_check_guards(b, when);
    b->free_trace = trace;
    if (ck_opt.valgrind) /* from here memcheck reports any access as use after free */
        sh_tools_freelike(ck_user(b), CK_FRONT);
    /* a block bigger than an eighth of this thread's share would push out
       most of what it holds */
    size_t keep = share();
    if (b->heap != NULL || tq.gone || ck_opt.quarantine == 0 || b->size > keep / 8) {
        raw_free(b); /* not held: see the top of this file */
        return;
    }
    if (tq.count == tq.cap) { /* no ring yet (cap 0), or a full one */
        ring_grow();          /* short-lived threads map a small ring */
        if (tq.count == tq.cap) {
            if (tq.cap == 0) { /* no memory for a ring */
                raw_free(b);
                return;
            }
            evict();
        }
    }
    if (!ck_opt.valgrind) /* the guards too: checked with the block when it leaves */
        memset(ck_user(b) - CK_FRONT, CK_FREED_BYTE, CK_FRONT + b->size + b->guard);
    tq.ring[(tq.head + tq.count) & (tq.cap - 1)] = b;
    tq.count++;
    tq.bytes += b->size;
    count_held((ptrdiff_t)b->size);
    if (tq.bytes > keep)
        quarantine_trim(keep);
}

void sh_check_free(void *p, void *ra)
{
    void **fp = __builtin_frame_address(0);
    ck_block *b = take_live(p, "free", ra, fp);
    if (b != NULL)
        release(b, "at free", ck_busy ? 0 : ck_trace_capture(ra, fp));
}

void sh_check_free_sized(void *p, size_t size, size_t align, const char *what, void *ra)
{
    void **fp = __builtin_frame_address(0);
    ck_block *b = header_at(p);
    if (b != NULL && is_live(b)) {
        /* exact: operator new is libstackheap's too (src/override_cxx.c), so the
           block was allocated with the size the program asked for */
        const char *bad = NULL;
        char why[160];
        if (align > 1 && ((uintptr_t)p & (align - 1)) != 0) {
            sh_format(why, sizeof why, "is not aligned to %zu", align);
            bad = why;
        } else if (size != SIZE_MAX && size != b->size) {
            sh_format(why, sizeof why, "with size %zu, but the block was allocated with %zu", size,
                      b->size);
            bad = why;
        }
        if (bad != NULL) {
            char label[64];
            sh_format(label, sizeof label, "%s called at", what);
            ck_found();
            ck_finding f = {CK_INVALID_FREE, p, b->size, 0, false};
            ck_finding_begin(&f, "invalid free: %s(%p) %s", what, p, bad);
            ck_finding_stack(label, ck_trace_capture(ra, fp));
            ck_finding_stack("the block was allocated at", b->alloc_trace);
            ck_finding_end();
            ck_after_error();
        }
    }
    sh_check_free(p, ra);
}

void *sh_check_realloc(sh_heap *h, void *p, size_t size, void *ra)
{
    void **fp = __builtin_frame_address(0);
    if (p == NULL)
        return sh_check_alloc(h, size, 0, false, ra);
    if (size == 0) {
        sh_check_free(p, ra);
        return NULL;
    }
    ck_block *b = header_at(p);
    if (b == NULL || !is_live(b)) {
        take_live(p, "realloc", ra, fp); /* reports */
        errno = EINVAL;
        return NULL;
    }
    /* always move: a stale pointer to the old block then shows up */
    uint8_t *q = sh_check_alloc(h != NULL ? h : b->heap, size, 0, false, ra);
    if (q == NULL)
        return NULL; /* p is untouched */
    memcpy(q, p, b->size < size ? b->size : size);
    b = take_live(p, "realloc", ra, fp);
    if (b != NULL)
        release(b, "at realloc", ck_header(q)->alloc_trace);
    return q;
}

size_t sh_check_usable(const void *p, void *ra)
{
    ck_block *b = header_at(p);
    if (b != NULL && is_live(b))
        return b->size;
    if (report_bad_pointer(p, "malloc_usable_size",
                           ck_trace_capture(ra, __builtin_frame_address(0))))
        ck_after_error();
    return 0;
}

/* ---- every live block ------------------------------------------------------------------------ */

typedef struct visit {
    void (*f)(ck_block *, void *);
    void *arg;
} visit;

static void visit_block(void *block, void *arg)
{
    visit *v = arg;
    ck_block *b = header_of_block(block);
    if (b != NULL && is_live(b))
        v->f(b, v->arg);
}

void ck_each_live(void (*f)(ck_block *, void *), void *arg)
{
    visit v = {f, arg};
    sh_heap_each_block(visit_block, &v);
}

void sh_check_lock_for_fork(int phase)
{
    if (phase == 0)
        sh_lock(&spare.lock);
    ck_trace_lock_for_fork(phase);
    if (phase == 1)
        sh_unlock(&spare.lock);
    else if (phase == 2) { /* the child: only this thread is left */
        pthread_mutex_init(&spare.lock, NULL);
        atomic_store_explicit(&holders, tq.ring != NULL, memory_order_relaxed);
    }
}

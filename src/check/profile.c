/*
 * profile.c -- the heap profiler (STACKHEAP_PROFILE, `stackheap run
 * --profile`): where a program's memory goes, by call stack, with no
 * recompiling.  At exit it writes a text summary on stderr (peak, most
 * calls, most temporary, leaked), collapsed stacks for flamegraph.pl and
 * speedscope, and a self-contained HTML report.  This file records and, at
 * exit, builds the report; profile_report.c and profile_html.c write it.
 *
 * Two modes (the routing is described in heap_internal.h):
 *   - exact: every allocation and every free is recorded;
 *   - sampled: one allocation per STACKHEAP_PROFILE_SAMPLE bytes on average
 *     (512 KiB), on an exponential schedule of bytes as tcmalloc's: a thread
 *     counts the bytes it allocates down from a draw of Exp(mean N), and
 *     the allocation that takes the count to zero is sampled.  An
 *     allocation that counts s bytes (malloc's small and medium ones: their
 *     block's size; any other: the size asked for) is so sampled with
 *     probability q = 1 - exp(-s/N), and an allocation of n bytes sampled
 *     is recorded with weight 1/q (calls) and n/q (bytes): every figure is
 *     an unbiased estimate.  malloc's countdown is kept by its slow path (page.c,
 *     "sampling": its fast path is release mode's, instruction for
 *     instruction), the other entry points' here.  A sampled block is
 *     handed out 16 bytes into a heap block of s + 16 bytes; off its page's
 *     grid, its free fails the fast path's grid test and reaches
 *     sh_prof_forget, while every other free keeps the fast path (a
 *     counting filter keeps the table look-up off the slow path's other
 *     frees).
 *
 * Data, and its invariants:
 *   - sites: one record per call stack (trace.c's id; 0: no stack), so the
 *     "hash table keyed by trace id" is trace.c's, and a site is an array
 *     slot; its counters are relaxed atomics (each is a sum).
 *   - live: the blocks recorded and not yet freed (exact: all of them;
 *     sampled: the sampled ones), address -> (site, bytes represented), in
 *     64 stripes, each an open-addressing table under its own lock.
 *   - the peak: `live_bytes` is the sum of the live table's bytes; when it
 *     passes `peak_bytes`, `peak_epoch` grows.  A site whose `stamp` is
 *     behind `peak_epoch` has not changed since the last peak, so its live
 *     bytes then are its live bytes now: that is copied to `at_peak` before
 *     its next change, and at exit.  No snapshot of every site is taken at
 *     a peak, and with one thread the per-site peak is exact; with several,
 *     calls in flight while the peak is passed may be counted either side.
 *   - temporary: an allocation freed by the thread that made it before it
 *     made any other (heaptrack's definition).
 *   - leaked: still live at exit (reachable or not: this is not check
 *     mode's scan).
 *   - the timeline: a sample of (time, heap, RSS) each time the bytes
 *     allocated pass the next step (64 KiB at first), at most one a
 *     millisecond; when the 1024 slots are full every other sample goes and
 *     the step doubles.
 *
 * Symbols: at exit, in the process, with trace.c's addr2line children (one
 * per object): the process still has every object mapped (dlopen'ed ones
 * too, which a tool run after exit could not see), and each distinct return
 * address is resolved once.
 */
#define _GNU_SOURCE
#include "profile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

__thread int64_t sh_tls_prof_left __attribute__((tls_model("initial-exec")));
__thread void *sh_tls_prof_last __attribute__((tls_model("initial-exec")));
static __thread uint32_t last_site __attribute__((tls_model("initial-exec")));
static __thread uint64_t rng __attribute__((tls_model("initial-exec")));
__thread int sh_tls_prof_busy __attribute__((tls_model("initial-exec")));

#define SITES (1u << 16) /* trace.c hands out ids below this */
#define STRIPES 64
#define SAMPLES 1024
#define OFFSET 16 /* a sampled block's pointer, into its heap block */
/* a live entry's site flag: a large sampled block, recorded where it is (a
   large block's free takes the slow path anyway: no OFFSET needed) */
#define IN_PLACE (1u << 31)

typedef struct site {
    _Atomic uint64_t calls, allocated, temporary, live_blocks;
    _Atomic int64_t live, at_peak;
    _Atomic uint64_t stamp;
} site;

typedef struct live_entry {
    uintptr_t addr; /* 0: empty */
    uint64_t bytes; /* represented (sampled: the weight) */
    uint32_t site;
    uint32_t calls; /* represented allocations (sampled: 1/q rounded) */
} live_entry;

typedef struct stripe {
    pthread_mutex_t lock;
    live_entry *e;
    size_t cap, n;
    char pad[64];
} stripe;

static struct {
    site *sites;
    stripe stripe[STRIPES];
    _Atomic int64_t live_bytes;
    _Atomic uint64_t peak_bytes, peak_epoch, allocated, calls, temporary;
    uint64_t mean; /* sampled: N */
    uint64_t start_ms;
    char out[512]; /* the output prefix */
    long pid;      /* the process that started the profile */
    pthread_mutex_t timeline_lock;
    _Atomic uint64_t next_sample_at; /* bytes allocated */
    uint64_t step;
    prof_sample sample[SAMPLES];
    uint32_t samples;
    uint64_t peak_rss;
} prof = {.timeline_lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- small numerics (no libm in the library) ----------------------------------- */

/* ln(u) for u in (0, 1]: u = m 2^e with m in [1, 2), ln m by atanh's series. */
static double ln_unit(double u)
{
    int e = 0;
    while (u < 1.0) {
        u *= 2.0;
        e--;
    }
    double t = (u - 1.0) / (u + 1.0), t2 = t * t;
    double s = t * (1 + t2 * (1.0 / 3 + t2 * (1.0 / 5 + t2 * (1.0 / 7 + t2 * (1.0 / 9)))));
    return 2.0 * s + e * 0.69314718055994531;
}

/* exp(-x) for x >= 0: 2^-k exp(-r), r in [0, ln 2). */
static double exp_neg(double x)
{
    if (x > 700)
        return 0;
    int k = (int)(x / 0.69314718055994531);
    double r = x - k * 0.69314718055994531, term = 1, sum = 1;
    for (int i = 1; i < 14; i++) {
        term *= -r / i;
        sum += term;
    }
    while (k-- > 0)
        sum *= 0.5;
    return sum;
}

/* Bytes to the next sample: Exp(mean N), at least 1. */
static int64_t draw_interval(void)
{
    if (rng == 0) {
        sh_os_random(&rng, sizeof rng);
        rng |= 1;
    }
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    double u = ((rng >> 11) + 1) * (1.0 / 9007199254740992.0); /* (0, 1] */
    double d = -ln_unit(u) * (double)prof.mean;
    return d < 1 ? 1 : d > 1e15 ? (int64_t)1e15 : (int64_t)d;
}

/* ---- the timeline -------------------------------------------------------------- */

static uint64_t rss_now(void)
{
    char buf[128];
    size_t n = sh_os_read_file("/proc/self/statm", buf, sizeof buf - 1);
    buf[n] = '\0';
    const char *s = buf;
    while (*s != '\0' && *s != ' ')
        s++;
    uint64_t pages = 0;
    for (s++; *s >= '0' && *s <= '9'; s++)
        pages = pages * 10 + (uint64_t)(*s - '0');
    return pages * sh_os_page_size();
}

/* A timeline sample, if the bytes allocated passed the next step: at most
   one a millisecond (each reads /proc) unless last (at exit). */
static void take_sample(bool last)
{
    if (!sh_trylock(&prof.timeline_lock))
        return; /* another thread is taking one */
    uint64_t done = atomic_load_explicit(&prof.allocated, memory_order_relaxed);
    if (done >= atomic_load_explicit(&prof.next_sample_at, memory_order_relaxed)) {
        uint64_t ms = sh_now_ms() - prof.start_ms;
        if (!last && prof.samples > 0 && prof.sample[prof.samples - 1].ms == ms) {
            atomic_store_explicit(&prof.next_sample_at, done + prof.step, memory_order_relaxed);
            sh_unlock(&prof.timeline_lock);
            return;
        }
        if (prof.samples == SAMPLES) { /* keep every other, sample half as often */
            for (uint32_t i = 0; i < SAMPLES / 2; i++)
                prof.sample[i] = prof.sample[2 * i + 1];
            prof.samples = SAMPLES / 2;
            prof.step *= 2;
        }
        prof_sample *s = &prof.sample[prof.samples++];
        s->ms = ms;
        int64_t live = atomic_load_explicit(&prof.live_bytes, memory_order_relaxed);
        s->heap = live > 0 ? (uint64_t)live : 0;
        s->rss = rss_now();
        if (s->rss > prof.peak_rss)
            prof.peak_rss = s->rss;
        atomic_store_explicit(&prof.next_sample_at, done + prof.step, memory_order_relaxed);
    }
    sh_unlock(&prof.timeline_lock);
}

/* ---- sites and the peak ---------------------------------------------------------- */

/* Bring s's at_peak up to date before its live bytes change (see the top). */
static void site_touch(site *s)
{
    uint64_t epoch = atomic_load_explicit(&prof.peak_epoch, memory_order_relaxed);
    if (atomic_load_explicit(&s->stamp, memory_order_relaxed) != epoch) {
        atomic_store_explicit(&s->at_peak, atomic_load_explicit(&s->live, memory_order_relaxed),
                              memory_order_relaxed);
        atomic_store_explicit(&s->stamp, epoch, memory_order_relaxed);
    }
}

static void count_alloc(uint32_t id, uint64_t bytes, uint64_t calls)
{
    site *s = &prof.sites[id];
    site_touch(s);
    atomic_fetch_add_explicit(&s->calls, calls, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->allocated, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->live_blocks, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->live, (int64_t)bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&prof.calls, calls, memory_order_relaxed);
    uint64_t done = atomic_fetch_add_explicit(&prof.allocated, bytes, memory_order_relaxed) + bytes;
    int64_t live =
        atomic_fetch_add_explicit(&prof.live_bytes, (int64_t)bytes, memory_order_relaxed) +
        (int64_t)bytes;
    uint64_t peak = atomic_load_explicit(&prof.peak_bytes, memory_order_relaxed);
    while (live > 0 && (uint64_t)live > peak)
        if (atomic_compare_exchange_weak_explicit(&prof.peak_bytes, &peak, (uint64_t)live,
                                                  memory_order_relaxed, memory_order_relaxed)) {
            atomic_fetch_add_explicit(&prof.peak_epoch, 1, memory_order_relaxed);
            break;
        }
    if (done >= atomic_load_explicit(&prof.next_sample_at, memory_order_relaxed))
        take_sample(false);
}

static void count_free(const live_entry *e, bool temporary)
{
    site *s = &prof.sites[e->site & ~IN_PLACE];
    site_touch(s);
    atomic_fetch_sub_explicit(&s->live, (int64_t)e->bytes, memory_order_relaxed);
    atomic_fetch_sub_explicit(&s->live_blocks, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&prof.live_bytes, (int64_t)e->bytes, memory_order_relaxed);
    if (temporary) {
        atomic_fetch_add_explicit(&s->temporary, e->calls, memory_order_relaxed);
        atomic_fetch_add_explicit(&prof.temporary, e->calls, memory_order_relaxed);
    }
}

/* ---- the live table ------------------------------------------------------------------ */

/* Double t's table (its lock held); false if the OS refused. */
static bool stripe_grow(stripe *t)
{
    size_t cap = t->cap == 0 ? 1024 : t->cap * 2;
    live_entry *e = sh_os_map(cap * sizeof *e);
    if (e == NULL)
        return false;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->e[i].addr == 0)
            continue;
        size_t j = sh_prof_hash(t->e[i].addr) & (cap - 1);
        while (e[j].addr != 0)
            j = (j + 1) & (cap - 1);
        e[j] = t->e[i];
    }
    if (t->e != NULL)
        sh_os_unmap(t->e, t->cap * sizeof *e);
    t->e = e;
    t->cap = cap;
    return true;
}

static bool live_put(uintptr_t a, uint32_t id, uint64_t bytes, uint32_t calls)
{
    uint64_t h = sh_prof_hash(a);
    stripe *t = &prof.stripe[h >> 58];
    sh_lock(&t->lock);
    if ((t->n + 1) * 2 > t->cap && !stripe_grow(t)) {
        sh_unlock(&t->lock);
        return false;
    }
    size_t i = h & (t->cap - 1);
    while (t->e[i].addr != 0 && t->e[i].addr != a)
        i = (i + 1) & (t->cap - 1);
    if (t->e[i].addr == 0)
        t->n++;
    t->e[i] = (live_entry){a, bytes, id, calls};
    sh_unlock(&t->lock);
    return true;
}

/* Remove a's entry into *out; false if a is not in the table. */
static bool live_take(uintptr_t a, live_entry *out)
{
    uint64_t h = sh_prof_hash(a);
    stripe *t = &prof.stripe[h >> 58];
    sh_lock(&t->lock);
    if (t->cap == 0) {
        sh_unlock(&t->lock);
        return false;
    }
    size_t mask = t->cap - 1, i = h & mask;
    while (t->e[i].addr != 0 && t->e[i].addr != a)
        i = (i + 1) & mask;
    if (t->e[i].addr == 0) {
        sh_unlock(&t->lock);
        return false;
    }
    *out = t->e[i];
    /* backward-shift deletion: every entry stays reachable from its home slot */
    for (size_t j = (i + 1) & mask; t->e[j].addr != 0; j = (j + 1) & mask) {
        size_t home = sh_prof_hash(t->e[j].addr) & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            t->e[i] = t->e[j];
            i = j;
        }
    }
    t->e[i].addr = 0;
    t->n--;
    sh_unlock(&t->lock);
    return true;
}

/* ---- recording ------------------------------------------------------------------------ */

/* Record p (bytes, calls represented) for the call at ra; flags: IN_PLACE. */
static void record(void *p, uint64_t bytes, uint32_t calls, void *ra, void **fp, uint32_t flags)
{
    sh_tls_prof_busy++;
    uint32_t id = ck_trace_capture(ra, fp);
    if (id >= SITES)
        id = 0;
    if (live_put((uintptr_t)p, id | flags, bytes, calls))
        count_alloc(id, bytes, calls);
    sh_tls_prof_last = p;
    last_site = id;
    sh_tls_prof_busy--;
}

static sh_heap *default_heap(void)
{
    sh_heap *h = sh_tls_default;
    if (sh_unlikely(h == NULL) && (h = sh_heap_thread_init()) == NULL)
        errno = ENOMEM;
    return h;
}

/* A block of h as the entry point asked: align > 16 (aligned_alloc), zero
   (calloc).  Never sampled by the heap's slow path (sh_prof_recording is
   false in it): the entry points that come here sample for themselves. */
static void *raw_alloc(sh_heap *h, size_t size, size_t align, bool zero)
{
    sh_tls_prof_busy++;
    void *p;
    if (align > 16) {
        p = sh_heap_alloc_aligned(h, size, align);
    } else if (zero && size > SH_MEDIUM_MAX) {
        p = sh_large_alloc(h, size, 16, true);
    } else {
        p = sh_heap_alloc(h, size);
        if (p != NULL && zero)
            memset(p, 0, size);
    }
    sh_tls_prof_busy--;
    return p;
}

/* Sampled mode: put p (n bytes) in the filter and the live table.  drawn:
   with probability q = 1 - exp(-charged / N), recorded as 1/q calls of n/q
   bytes; not drawn (an offset block resized by a realloc not drawn): no
   weight.  An offset block's first word before it says which (flags 0); a
   large block is where it is (IN_PLACE), and always drawn. */
static void track(sh_heap *h, void *p, size_t n, size_t charged, void *ra, void **fp,
                  uint32_t flags, bool drawn)
{
    atomic_fetch_add_explicit(sh_prof_filter_slot(p), 1, memory_order_relaxed);
    if (!(flags & IN_PLACE))
        *(uintptr_t *)((uint8_t *)p - OFFSET) = drawn; /* its heap block's first word */
    if (!drawn) {
        live_put((uintptr_t)p, 0, 0, 0);
        return;
    }
    double q = 1.0 - exp_neg((double)(charged == 0 ? 1 : charged) / (double)prof.mean);
    if (q < 1e-12)
        q = 1e-12;
    double calls = 1.0 / q + 0.5;
    record(p, (uint64_t)((double)n / q + 0.5), calls > 4e9 ? 4000000000u : (uint32_t)calls, ra, fp,
           flags);
    /* p is temporary if freed before this thread's next allocation: send
       that one to empty_heap_malloc, which clears sh_tls_prof_last */
    if (sh_tls_heap == h)
        sh_tls_heap = &sh_empty_heap;
}

/* Sampled mode: a sampled block of size bytes (OFFSET into its heap block),
   drawn with probability 1 - exp(-charged / N). */
static void *sampled_alloc(sh_heap *h, size_t size, size_t charged, bool zero, void *ra, void **fp)
{
    size_t n = size == 0 ? 1 : size, total;
    if (__builtin_add_overflow(n, (size_t)OFFSET, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (n > SH_MEDIUM_MAX) { /* a large block: recorded where it is */
        void *p = raw_alloc(h, n, 0, zero);
        if (p != NULL)
            track(h, p, n, charged, ra, fp, IN_PLACE, true);
        return p;
    }
    uint8_t *base = raw_alloc(h, total, 0, zero);
    if (base == NULL)
        return NULL;
    track(h, base + OFFSET, n, charged, ra, fp, 0, true);
    return base + OFFSET;
}

void *sh_prof_sample(sh_heap *h, size_t size, size_t charged, void *ra, void **fp)
{
    return sampled_alloc(h, size, charged, false, ra, fp);
}

int64_t sh_prof_interval(void)
{
    return draw_interval();
}

/* Sampled mode: the thread's countdown has reached 0 or below; true if this
   allocation is sampled.  A thread's first countdown (no draw yet) starts
   here, with the bytes counted so far taken off it. */
static bool ran_out(void)
{
    bool first = rng == 0;
    int64_t counted = sh_tls_prof_left; /* <= 0 */
    sh_tls_prof_left = draw_interval();
    if (!first)
        return true;
    if ((sh_tls_prof_left += counted) > 0)
        return false;
    sh_tls_prof_left = draw_interval();
    return true;
}

static bool sample_now(size_t size)
{
    return (sh_tls_prof_left -= (int64_t)size) <= 0 && ran_out();
}

bool sh_prof_ran_out(void)
{
    return ran_out();
}

void *sh_prof_malloc(sh_heap *h, size_t size, void *ra, void *fp)
{
    void *p = sh_heap_alloc(h, size);
    if (p != NULL && sh_prof_recording())
        record(p, size, 1, ra, fp, 0);
    return p;
}

void *sh_prof_alloc(size_t size, size_t align, bool zero, void *ra)
{
    sh_heap *h = default_heap();
    if (h == NULL)
        return NULL;
    void **fp = __builtin_frame_address(0);
    if (sh_prof_mode == SH_PROF_SAMPLED) {
        /* blocks aligned beyond 16 are not sampled: OFFSET would unalign them */
        if (align > 16 || !sh_prof_recording() || !sample_now(size)) {
            sh_tls_prof_last = NULL;
            return raw_alloc(h, size, align, zero);
        }
        return sampled_alloc(h, size, size, zero, ra, fp);
    }
    void *p = raw_alloc(h, size, align, zero);
    if (p != NULL && sh_prof_recording())
        record(p, size, 1, ra, fp, 0);
    return p;
}

/* Forget p if it was recorded; true (and *e) if it was. */
static bool forget(void *p, live_entry *e)
{
    if (sh_prof_mode == SH_PROF_SAMPLED) {
        _Atomic uint16_t *f = sh_prof_filter_slot(p);
        if (atomic_load_explicit(f, memory_order_relaxed) == 0 || !live_take((uintptr_t)p, e))
            return false;
        atomic_fetch_sub_explicit(f, 1, memory_order_relaxed);
    } else if (!live_take((uintptr_t)p, e)) {
        return false;
    }
    if (e->calls == 0) /* sampled: an offset block with no weight (sampled_realloc) */
        return true;
    bool temporary = sh_tls_prof_last == p && last_site == (e->site & ~IN_PLACE);
    if (temporary)
        sh_tls_prof_last = NULL;
    count_free(e, temporary);
    return true;
}

void *sh_prof_forget(void *p)
{
    live_entry e;
    if (!forget(p, &e) || sh_prof_mode != SH_PROF_SAMPLED || (e.site & IN_PLACE))
        return p;
    return (uint8_t *)p - OFFSET;
}

bool sh_prof_usable(const void *p, size_t *n)
{
    if (sh_prof_mode != SH_PROF_SAMPLED ||
        atomic_load_explicit(sh_prof_filter_slot(p), memory_order_relaxed) == 0)
        return false;
    const uint8_t *base = (const uint8_t *)p - OFFSET;
    sh_segment *seg = sh_segment_of(base);
    if (!sh_segment_map_has(seg) || sh_block_base(p) != base)
        return false;
    *n = sh_block_usable(base, "malloc_usable_size") - OFFSET;
    return true;
}

/* Put back the entry forget took (the free it stood for did not happen). */
static void relive(void *p, const live_entry *e)
{
    if (sh_prof_mode == SH_PROF_SAMPLED)
        atomic_fetch_add_explicit(sh_prof_filter_slot(p), 1, memory_order_relaxed);
    if (!live_put((uintptr_t)p, e->site, e->bytes, e->calls) || e->calls == 0)
        return;
    site *s = &prof.sites[e->site & ~IN_PLACE];
    site_touch(s);
    atomic_fetch_add_explicit(&s->live, (int64_t)e->bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->live_blocks, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&prof.live_bytes, (int64_t)e->bytes, memory_order_relaxed);
}

/*
 * Sampled mode: each realloc is a free of p and an allocation of size bytes
 * (as in exact mode and heaptrack), a trial of its own.  A block handed out OFFSET into
 * its heap block (sampled once) stays so until freed, resized as its heap
 * block is: drawn, it is recorded with this trial's weight; not drawn, it
 * stays in the live table with no weight (so that its free finds its heap
 * block).  An ordinary block drawn moves into an offset block: one copy,
 * once in its life, so a buffer grown by many reallocs is not copied at each;
 * drawn into a large size, it is recorded where realloc puts it (IN_PLACE),
 * with no copy.
 * The first word of an offset block's heap block (before the block, the
 * program's to neither read nor write) says whether it has a weight: a
 * realloc that neither moves it nor is drawn then needs no table look-up.
 */
static void *sampled_realloc(sh_heap *h, void *p, size_t size, void *ra, void **fp)
{
    bool drawn = sh_prof_recording() && sample_now(size);
    size_t old;
    bool offset = sh_prof_usable(p, &old);
    if (!offset) {
        /* an ordinary block, or a large one recorded where it is (forgotten:
           this realloc frees it) */
        live_entry e;
        bool known = sh_prof_maybe_offset(p) && forget(p, &e);
        sh_tls_prof_last = NULL;
        if (!drawn || size > SH_MEDIUM_MAX) { /* a large block drawn: where it is */
            sh_tls_prof_busy++;               /* sampled here, not by the heap's slow path */
            void *q = sh_heap_realloc_in(h, p, size);
            sh_tls_prof_busy--;
            if (q == NULL) {
                if (known)
                    relive(p, &e);
                return NULL;
            }
            if (drawn)
                track(h, q, size, size, ra, fp, IN_PLACE, true);
            return q;
        }
        old = sh_usable_size(p);
        void *q = sampled_alloc(h, size, size, false, ra, fp);
        if (q != NULL) {
            memcpy(q, p, old < size ? old : size);
            sh_free(p);
        } else if (known) {
            relive(p, &e);
        }
        return q;
    }
    size_t total;
    if (__builtin_add_overflow(size, (size_t)OFFSET, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    uintptr_t *pad = (uintptr_t *)((uint8_t *)p - OFFSET);
    /* it fits where it is (as sh_heap_realloc_in would keep a small block) */
    bool stays = size <= old && total >= (old + OFFSET) / 2;
    if (stays && !drawn && pad[0] == 0) { /* and has no weight to drop: nothing changes */
        sh_tls_prof_last = NULL;
        return p;
    }
    live_entry e;
    if (!forget(p, &e)) /* another thread freed it meanwhile: its misuse, reported there */
        return sh_heap_realloc_in(h, p, size);
    sh_tls_prof_last = NULL; /* p counted as a temporary if it was the last allocation */
    uint8_t *base = (uint8_t *)pad;
    if (!stays) {
        sh_tls_prof_busy++;
        base = sh_heap_realloc_in(h, base, total);
        sh_tls_prof_busy--;
        if (base == NULL) {
            relive(p, &e);
            return NULL;
        }
    }
    track(h, base + OFFSET, size, size, ra, fp, 0, drawn);
    return base + OFFSET;
}

void *sh_prof_realloc(void *p, size_t size, void *ra)
{
    if (p == NULL)
        return sh_prof_alloc(size, 0, false, ra);
    if (size == 0) {
        sh_free(p);
        return NULL;
    }
    sh_heap *h = default_heap();
    if (h == NULL)
        return NULL;
    void **fp = __builtin_frame_address(0);
    if (sh_prof_mode == SH_PROF_SAMPLED)
        return sampled_realloc(h, p, size, ra, fp);
    live_entry e;
    bool known = forget(p, &e);
    /* h, not the empty heap: the new block is recorded here, not again in malloc */
    void *q = sh_heap_realloc_in(h, p, size);
    if (q == NULL) {
        if (known) /* p is still live: put it back */
            relive(p, &e);
        return NULL;
    }
    if (sh_prof_recording())
        record(q, size, 1, ra, fp, 0);
    return q;
}

void sh_prof_lock_for_fork(int phase)
{
    if (sh_prof_mode == SH_PROF_OFF)
        return;
    for (unsigned i = 0; i < STRIPES; i++) {
        if (phase == 0)
            sh_lock(&prof.stripe[i].lock);
        else if (phase == 1)
            sh_unlock(&prof.stripe[i].lock);
        else
            pthread_mutex_init(&prof.stripe[i].lock, NULL);
    }
    if (phase == 0)
        sh_lock(&prof.timeline_lock);
    else if (phase == 1)
        sh_unlock(&prof.timeline_lock);
    else
        pthread_mutex_init(&prof.timeline_lock, NULL);
    ck_trace_lock_for_fork(phase);
}

static uint32_t site_ids[SITES]; /* the report's sites: their trace ids */

static void at_exit(void)
{
    if (atomic_exchange_explicit(&sh_prof_stopped, true, memory_order_relaxed))
        return;
    uint64_t exit_ms = sh_now_ms();
    sh_tls_prof_busy++;
    /* the last sample, and every site's at_peak brought up to date */
    atomic_store_explicit(&prof.next_sample_at, 0, memory_order_relaxed);
    take_sample(true);
    uint32_t n = 0, max_frames = 0, last = ck_trace_last();
    for (uint32_t id = 0; id < SITES && id <= last; id++) {
        site *s = &prof.sites[id];
        if (atomic_load_explicit(&s->calls, memory_order_relaxed) == 0)
            continue;
        site_touch(s);
        site_ids[n++] = id;
        const ck_trace *t = ck_trace_get(id);
        max_frames += t != NULL ? t->depth : 0;
    }
    prof_site_out *out = prof_arena_take((size_t)(n + 1) * sizeof *out);
    if (out == NULL || !prof_frames_init(max_frames + 1)) {
        sh_warning("profile: the system refused memory for the report");
        return;
    }
    prof_report r = {.exit_ms = exit_ms,
                     .mode = sh_prof_mode == SH_PROF_SAMPLED ? "sampled" : "exact",
                     .sample_bytes = prof.mean,
                     .site = out,
                     .sites = n};
    for (uint32_t i = 0; i < n; i++) {
        site *s = &prof.sites[site_ids[i]];
        prof_site_out *o = &out[i];
        int64_t at_peak = atomic_load_explicit(&s->at_peak, memory_order_relaxed);
        int64_t live = atomic_load_explicit(&s->live, memory_order_relaxed);
        o->peak = at_peak > 0 ? (uint64_t)at_peak : 0;
        o->allocated = atomic_load_explicit(&s->allocated, memory_order_relaxed);
        o->calls = atomic_load_explicit(&s->calls, memory_order_relaxed);
        o->temporary = atomic_load_explicit(&s->temporary, memory_order_relaxed);
        o->leaked = live > 0 ? (uint64_t)live : 0;
        o->leaked_blocks = atomic_load_explicit(&s->live_blocks, memory_order_relaxed);
        r.leaked += o->leaked;
        r.leaked_blocks += o->leaked_blocks;
        const ck_trace *t = ck_trace_get(site_ids[i]);
        o->depth = 0;
        if (t == NULL) {
            o->frame[o->depth++] = 0;
            continue;
        }
        for (uint32_t d = t->depth; d-- > 0;) /* root first */
            o->frame[o->depth++] = prof_frame_of(t->pc[d]);
    }
    r.sample = prof.sample;
    r.samples = prof.samples;
    r.peak = atomic_load_explicit(&prof.peak_bytes, memory_order_relaxed);
    r.peak_rss = prof.peak_rss;
    r.allocated = atomic_load_explicit(&prof.allocated, memory_order_relaxed);
    r.calls = atomic_load_explicit(&prof.calls, memory_order_relaxed);
    r.temporary = atomic_load_explicit(&prof.temporary, memory_order_relaxed);
    r.ms = exit_ms - prof.start_ms;
    char *cmd = prof_arena_take(4096);
    if (cmd != NULL) {
        size_t len = sh_os_read_file("/proc/self/cmdline", cmd, 4095);
        for (size_t i = 0; i + 1 < len; i++)
            if (cmd[i] == '\0')
                cmd[i] = ' ';
        cmd[len] = '\0';
        r.command = cmd;
    }
    char prefix[600];
    if (sh_os_process_id() == prof.pid || prof.out[0] == '\0')
        sh_format(prefix, sizeof prefix, "%s", prof.out[0] ? prof.out : "stackheap-profile");
    else /* a child of the profiled process: a name of its own */
        sh_format(prefix, sizeof prefix, "%s.%ld", prof.out, sh_os_process_id());
    if (prof.out[0] == '\0')
        sh_format(prefix, sizeof prefix, "stackheap-profile.%ld", sh_os_process_id());
    prof_write_files(&r, prefix);
}

/* ---- start ------------------------------------------------------------------------------ */

void sh_prof_init(const char *mode)
{
    int m = strcmp(mode, "sampled") == 0                           ? SH_PROF_SAMPLED
            : strcmp(mode, "exact") == 0 || strcmp(mode, "1") == 0 ? SH_PROF_EXACT
                                                                   : SH_PROF_OFF;
    if (m == SH_PROF_OFF) {
        sh_warning("STACKHEAP_PROFILE='%s' is not 'exact' or 'sampled': no profile", mode);
        return;
    }
    if (m == SH_PROF_SAMPLED && !sh_cfg_harden) {
        sh_warning("STACKHEAP_PROFILE=sampled needs the hardened build (its grid test routes "
                   "sampled frees): profiling exactly instead");
        m = SH_PROF_EXACT;
    }
    size_t mean = (size_t)512 << 10;
    const char *sample = sh_env("STACKHEAP_PROFILE_SAMPLE");
    if (sample != NULL && *sample != '\0' && (!sh_parse_size(sample, &mean) || mean == 0)) {
        sh_warning("STACKHEAP_PROFILE_SAMPLE='%s' is not a size: 512K", sample);
        mean = (size_t)512 << 10;
    }
    const char *out = sh_env("STACKHEAP_PROFILE_OUT");
    if (out != NULL)
        sh_format(prof.out, sizeof prof.out, "%s", out);
    prof.sites = sh_os_map(SITES * sizeof(site));
    sh_prof_filter = sh_os_map(SH_PROF_FILTER * sizeof(uint16_t));
    if (prof.sites == NULL || sh_prof_filter == NULL) {
        sh_warning("profile: the system refused the profiler's tables: no profile");
        return;
    }
    for (unsigned i = 0; i < STRIPES; i++)
        pthread_mutex_init(&prof.stripe[i].lock, NULL);
    prof.mean = mean;
    prof.step = (size_t)64 << 10;
    prof.start_ms = sh_now_ms();
    prof.pid = sh_os_process_id();
    ck_trace_init();
    atexit(at_exit);
    if (m == SH_PROF_SAMPLED) /* the owner's frees wait for the slow path (page.c) */
        sh_owner_push_at = offsetof(sh_page, local_free);
    sh_prof_mode = m;
}

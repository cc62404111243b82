/*
 * sampled.c -- sampled guarding in production (STACKHEAP_SAMPLE=N): about one
 * malloc in N is served from a slot between no-access pages, so an overflow
 * past its end or a use after its free faults at the faulty instruction,
 * in release mode, at a cost that N sets.
 *
 * Routing: with sampling on, a thread's public heap stays sh_empty_heap
 * (heap.c), so every malloc reaches sh_heap_malloc_slow, which counts the
 * thread's countdown down and asks here when it runs out; every other
 * malloc goes on to the thread's heap.  Frees keep their fast path: a
 * sampled block lies outside every segment, so its free reaches the slow
 * path's "not a segment" branch, which asks sh_sampled_owns.
 *
 * The pool: one reservation of SLOTS data pages, each after a guard page,
 * and a guard page last:
 *
 *   [guard][slot 0][guard][slot 1] ... [guard][slot SLOTS-1][guard]
 *
 * Every page is PROT_NONE except the data page of a live sampled block.  A
 * block of n bytes (n up to a page) ends at its page's end, rounded up to
 * its alignment (16 bytes, or 8 below 16), so an access past its end faults
 * at once; the rest of the page (the few bytes of alignment slack after it,
 * everything before it) holds a pattern that free checks, so a small
 * overflow into the slack or a write before the block is reported at free.
 * A freed block's page goes back to PROT_NONE and the slot waits in a FIFO
 * (the quarantine): a new sampled block takes a never-used slot first, then
 * the one freed longest ago, so a dangling pointer faults for as long as
 * possible.  When every slot is live, the malloc is served by the heap.
 *
 * The fault handler (installed with the pool) reports a fault inside the
 * pool in the manner of GWP-ASan: what (use after free, overflow or
 * underflow), the address, its offset from the block and the block's size,
 * the faulting thread's stack, and the stacks that freed and allocated the
 * block; then it chains to the handler it replaced (the default one kills
 * the process with SIGSEGV).  A fault outside the pool goes straight to that
 * handler.  Stacks come from trace.c (frame pointers, as check mode's).
 *
 * Invariants: slot state changes only under pool.lock; the handler reads
 * the slots without it (the faulting thread may hold it only if it faulted
 * inside this file, which touches no sampled block); a slot's page is
 * PROT_READ|PROT_WRITE exactly while state == LIVE.
 */
#define _GNU_SOURCE
#include "check_internal.h"

#include <signal.h>
#include <string.h>
#include <ucontext.h>

#define SLOTS 64
#define PATTERN 0xAC

enum slot_state { NEVER = 0, LIVE, FREED };

typedef struct slot {
    uintptr_t user; /* the pointer handed out */
    size_t size;    /* bytes asked for */
    uint32_t alloc_trace, free_trace;
    long alloc_tid, free_tid;
    _Atomic uint8_t state;
} slot;

__thread int32_t sh_tls_sample_countdown __attribute__((tls_model("initial-exec")));
static __thread uint64_t rng_state __attribute__((tls_model("initial-exec")));
/* inside sh_sampled_alloc or _free: a malloc made meanwhile (by the stack
   capture's libc calls) goes to the heap, not to the pool's lock again */
static __thread bool busy __attribute__((tls_model("initial-exec")));

static struct {
    pthread_mutex_t lock;
    uint8_t *base;
    size_t page;
    bool failed;          /* the pool could not be made: sampling is off */
    unsigned ring[SLOTS]; /* the slots to take next, oldest first */
    unsigned head, count;
    size_t sampled, peak; /* blocks handed out, ever; most live at once */
    struct sigaction previous;
    slot s[SLOTS];
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

static uint8_t *slot_page(unsigned i)
{
    return pool.base + (2 * (size_t)i + 1) * pool.page;
}

/* ---- the countdown ---------------------------------------------------------------- */

/* Uniform in [1, 2N - 1]: a mean of N mallocs between samples. */
static int32_t draw(void)
{
    if (rng_state == 0) {
        sh_os_random(&rng_state, sizeof rng_state);
        rng_state |= 1;
    }
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    uint64_t span = 2 * (uint64_t)sh_sample_rate - 1;
    return (int32_t)(1 + rng_state % span);
}

/* ---- the fault handler -------------------------------------------------------------- */

static void print_stack(uint32_t trace)
{
    if (trace != 0)
        ck_trace_print(trace, "    ");
    else
        ck_printf("    (no stack recorded)\n");
}

/* "byte 3 of a 32-byte block", "0 bytes past the end of a 32-byte block" or
   "1 byte before the start of a 32-byte block": where offset off lies. */
static const char *place(char *buf, size_t n, long off, size_t size)
{
    if (off >= 0 && (size_t)off < size)
        sh_format(buf, n, "byte %ld of a %zu-byte block", off, size);
    else if (off >= 0)
        sh_format(buf, n, "%ld byte%s past the end of a %zu-byte block", off - (long)size,
                  off - (long)size == 1 ? "" : "s", size);
    else
        sh_format(buf, n, "%ld byte%s before the start of a %zu-byte block", -off,
                  off == -1 ? "" : "s", size);
    return buf;
}

static void chain(int sig, siginfo_t *info, void *ctx)
{
    struct sigaction *prev = &pool.previous;
    if (prev->sa_flags & SA_SIGINFO) {
        if (prev->sa_sigaction != NULL) {
            prev->sa_sigaction(sig, info, ctx);
            return;
        }
    } else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
        prev->sa_handler(sig);
        return;
    }
    /* the default action: put it back and let the access fault again */
    sh_os_restore_segv(prev);
}

/* The live or freed slot whose block is nearest addr (an address in the pool):
   its index, or SLOTS if none. */
static unsigned nearest(uintptr_t addr)
{
    size_t unit = 2 * pool.page;
    size_t off = addr - (uintptr_t)pool.base;
    unsigned guard_or_page = (unsigned)(off / pool.page);
    if (guard_or_page & 1) /* a data page: its own slot */
        return guard_or_page / 2 < SLOTS ? guard_or_page / 2 : SLOTS;
    /* a guard: the slot before it (overflow) or after it (underflow) */
    unsigned after = (unsigned)(off / unit), best = SLOTS;
    uintptr_t best_dist = UINTPTR_MAX;
    for (unsigned i = after == 0 ? 0 : after - 1; i <= after && i < SLOTS; i++) {
        uint8_t st = atomic_load_explicit(&pool.s[i].state, memory_order_relaxed);
        if (st == NEVER)
            continue;
        uintptr_t lo = pool.s[i].user, hi = lo + pool.s[i].size;
        uintptr_t dist = addr < lo ? lo - addr : addr >= hi ? addr - hi : 0;
        if (dist < best_dist) {
            best_dist = dist;
            best = i;
        }
    }
    return best;
}

static void on_fault(int sig, void *infov, void *ctxv)
{
    siginfo_t *info = infov;
    uintptr_t addr = (uintptr_t)info->si_addr;
    if (!sh_sampled_owns((void *)addr)) {
        chain(sig, info, ctxv);
        return;
    }
    void *pc = NULL, **fp = NULL;
    bool write = false;
#if defined(__x86_64__)
    ucontext_t *uc = ctxv;
    pc = (void *)uc->uc_mcontext.gregs[REG_RIP];
    fp = (void **)uc->uc_mcontext.gregs[REG_RBP];
    write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0; /* the page fault's W bit */
#endif
    unsigned i = nearest(addr);
    ck_report_begin();
    if (i == SLOTS) {
        ck_printf("stackheap: sampled: %s at 0x%zx, in the guarded pool but near no block "
                  "(thread %ld)\n",
                  write ? "write" : "read", (size_t)addr, sh_os_thread_id());
    } else {
        slot *s = &pool.s[i];
        bool freed = atomic_load_explicit(&s->state, memory_order_relaxed) == FREED;
        long off = (long)(addr - s->user);
        char where[96];
        const char *what = freed      ? "use after free"
                           : off >= 0 ? "heap buffer overflow"
                                      : "heap buffer underflow";
        ck_printf("stackheap: sampled: %s: %s at 0x%zx, %s at 0x%zx%s (thread %ld), at:\n", what,
                  write ? "write" : "read", (size_t)addr, place(where, sizeof where, off, s->size),
                  (size_t)s->user, freed ? " freed already" : "", sh_os_thread_id());
        print_stack(ck_trace_capture(pc, fp));
        if (freed) {
            ck_printf("  the block was freed by thread %ld at:\n", s->free_tid);
            print_stack(s->free_trace);
        }
        ck_printf("  %s by thread %ld at:\n", freed ? "and allocated" : "the block was allocated",
                  s->alloc_tid);
        print_stack(s->alloc_trace);
    }
    ck_printf("  (STACKHEAP_SAMPLE=%u: about one allocation in %u is guarded like this one)\n",
              sh_sample_rate, sh_sample_rate);
    ck_report_end();
    chain(sig, info, ctxv);
}

/* ---- the pool ------------------------------------------------------------------------ */

/* Make the pool (pool.lock held); false if the OS refused (sampling then stays off). */
static bool pool_init(void)
{
    if (pool.base != NULL || pool.failed)
        return pool.base != NULL;
    pool.page = sh_os_page_size();
    size_t bytes = (2 * (size_t)SLOTS + 1) * pool.page;
    uint8_t *base = sh_os_reserve(bytes);
    if (base == NULL || !sh_os_catch_segv(on_fault, &pool.previous)) {
        if (base != NULL)
            sh_os_unmap(base, bytes);
        pool.failed = true;
        sh_warning("STACKHEAP_SAMPLE: cannot set up the guarded pool (%zu bytes of address "
                   "space and a SIGSEGV handler); sampling is off",
                   bytes);
        return false;
    }
    ck_trace_init();
    pool.base = base;
    for (unsigned i = 0; i < SLOTS; i++)
        pool.ring[i] = i;
    pool.head = 0;
    pool.count = SLOTS;
    __atomic_store_n(&sh_sampled_hi, (uintptr_t)base + bytes, __ATOMIC_RELAXED);
    __atomic_store_n(&sh_sampled_lo, (uintptr_t)base, __ATOMIC_RELEASE); /* after hi */
    return true;
}

void *sh_sampled_alloc(size_t size, void *ra, void *fp)
{
    bool first = rng_state == 0;
    sh_tls_sample_countdown = draw();
    /* a thread's first countdown starts here, with this malloc counted */
    if (first && --sh_tls_sample_countdown > 0)
        return NULL;
    size_t n = size == 0 ? 1 : size;
    if (n > sh_os_page_size())
        return NULL;
    size_t rounded = (n + (n >= 16 ? 15 : 7)) & ~(size_t)(n >= 16 ? 15 : 7);
    if (busy)
        return NULL;
    busy = true;
    sh_lock(&pool.lock);
    if (!pool_init() || pool.count == 0) {
        sh_unlock(&pool.lock);
        busy = false;
        return NULL;
    }
    unsigned i = pool.ring[pool.head];
    pool.head = (pool.head + 1) % SLOTS;
    pool.count--;
    uint8_t *page = slot_page(i);
    if (sh_os_protect_rw(page, pool.page) != 0) {
        pool.ring[(pool.head + pool.count) % SLOTS] = i; /* back at the end */
        pool.count++;
        sh_unlock(&pool.lock);
        busy = false;
        return NULL;
    }
    slot *s = &pool.s[i];
    s->user = (uintptr_t)page + pool.page - rounded;
    s->size = size;
    memset(page, PATTERN, pool.page);
    s->alloc_trace = ck_trace_capture(ra, fp);
    s->alloc_tid = sh_os_thread_id();
    s->free_trace = 0;
    s->free_tid = 0;
    atomic_store_explicit(&s->state, LIVE, memory_order_relaxed);
    pool.sampled++;
    if (SLOTS - pool.count > pool.peak)
        pool.peak = SLOTS - pool.count;
    sh_unlock(&pool.lock);
    busy = false;
    return (void *)s->user;
}

/* The slot of p, a pointer in the pool, checked to be a live block's start
   (else reported as what's misuse, which does not return).  Lock held. */
static slot *live_slot(const void *p, const char *what, void *ra)
{
    uintptr_t a = (uintptr_t)p;
    size_t off = a - (uintptr_t)pool.base;
    unsigned i = (unsigned)(off / (2 * pool.page));
    slot *s = i < SLOTS ? &pool.s[i] : NULL;
    uint8_t st = s != NULL ? atomic_load_explicit(&s->state, memory_order_relaxed) : NEVER;
    if (st == LIVE && s->user == a)
        return s;
    sh_unlock(&pool.lock);
    if (st == FREED && s->user == a) {
        ck_report_begin();
        ck_printf("stackheap: sampled: double free: %s(0x%zx) of a %zu-byte block freed already "
                  "(thread %ld), at:\n",
                  what, (size_t)a, s->size, sh_os_thread_id());
        print_stack(ck_trace_capture(ra, __builtin_frame_address(0)));
        ck_printf("  the block was freed by thread %ld at:\n", s->free_tid);
        print_stack(s->free_trace);
        ck_printf("  and allocated by thread %ld at:\n", s->alloc_tid);
        print_stack(s->alloc_trace);
        ck_report_end();
        sh_os_abort();
    }
    sh_heap_misuse("invalid free", what, p,
                   "is not a block stackheap handed out (it points into the guarded pool of "
                   "STACKHEAP_SAMPLE%s)",
                   st == LIVE ? ", inside a live block but not at its start" : "");
    return NULL;
}

/* Report damage to the pattern around s's block: bytes written just past
   its end (within its alignment) or before its start.  Lock held; let go
   before a report (printing a stack may allocate). */
static void check_pattern(slot *s, const char *what, void *ra)
{
    static uint8_t pattern[256];
    if (pattern[0] != PATTERN)
        memset(pattern, PATTERN, sizeof pattern);
    uint8_t *page = (uint8_t *)(s->user & ~(uintptr_t)(pool.page - 1));
    uint8_t *end = page + pool.page, *user = (uint8_t *)s->user;
    uint8_t *bad = NULL;
    for (uint8_t *q = user + s->size; q < end && bad == NULL; q++) /* the slack: < 16 bytes */
        if (*q != PATTERN)
            bad = q;
    /* before the block, nearest first, a chunk at a time (memcmp) */
    for (uint8_t *hi = user; hi > page && bad == NULL;) {
        size_t n = (size_t)(hi - page) < sizeof pattern ? (size_t)(hi - page) : sizeof pattern;
        if (memcmp(hi - n, pattern, n) != 0)
            for (uint8_t *q = hi; q-- > hi - n && bad == NULL;)
                if (*q != PATTERN)
                    bad = q;
        hi -= n;
    }
    if (bad == NULL)
        return;
    sh_unlock(&pool.lock);
    long off = (long)(bad - user);
    ck_report_begin();
    char where[96];
    ck_printf("stackheap: sampled: heap buffer %s: %s at 0x%zx was written; found by %s(0x%zx) "
              "(thread %ld), at:\n",
              off < 0 ? "underflow" : "overflow", place(where, sizeof where, off, s->size),
              (size_t)s->user, what, (size_t)s->user, sh_os_thread_id());
    print_stack(ck_trace_capture(ra, __builtin_frame_address(0)));
    ck_printf("  the block was allocated by thread %ld at:\n", s->alloc_tid);
    print_stack(s->alloc_trace);
    ck_report_end();
    sh_os_abort();
}

void sh_sampled_free(void *p, const char *what, void *ra)
{
    sh_lock(&pool.lock);
    slot *s = live_slot(p, what, ra);
    check_pattern(s, what, ra);
    bool nested = busy;
    busy = true;
    s->free_trace = nested ? 0 : ck_trace_capture(ra, __builtin_frame_address(0));
    busy = nested;
    s->free_tid = sh_os_thread_id();
    atomic_store_explicit(&s->state, FREED, memory_order_relaxed);
    sh_os_protect_none((void *)(s->user & ~(uintptr_t)(pool.page - 1)), pool.page);
    pool.ring[(pool.head + pool.count) % SLOTS] = (unsigned)(s - pool.s);
    pool.count++;
    sh_unlock(&pool.lock);
}

size_t sh_sampled_usable(const void *p, const char *what)
{
    sh_lock(&pool.lock);
    size_t n = live_slot(p, what, __builtin_return_address(0))->size;
    sh_unlock(&pool.lock);
    return n;
}

size_t sh_sampled_count(void)
{
    return __atomic_load_n(&pool.sampled, __ATOMIC_RELAXED);
}

size_t sh_sampled_peak(void)
{
    return __atomic_load_n(&pool.peak, __ATOMIC_RELAXED);
}

void sh_sampled_lock_for_fork(int phase)
{
    if (phase == 0)
        sh_lock(&pool.lock);
    else if (phase == 1)
        sh_unlock(&pool.lock);
    else
        pthread_mutex_init(&pool.lock, NULL);
}

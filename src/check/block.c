/*
 * block.c -- check mode's malloc family: guarded blocks, validated frees, the
 * quarantine.  The layout is in check_internal.h.
 *
 * Invariants:
 *   - a live block's header has magic CK_MAGIC_LIVE ^ its address and is in
 *     exactly one registry stripe; a quarantined one has CK_MAGIC_FREED ^ its
 *     address and is in the quarantine; the magic changes only under the
 *     lock of the list it leaves, so of two racing frees of one block only
 *     one succeeds and the other is reported;
 *   - the front guard is CK_FRONT bytes of CK_FRONT_BYTE, the back guard
 *     b->guard bytes of CK_BACK_BYTE; a quarantined block's user bytes are
 *     CK_FREED_BYTE (unless it is bigger than a quarantine slice, see below).
 */
#define _GNU_SOURCE
#include "check_internal.h"

#include <errno.h>
#include <link.h>
#include <string.h>

__thread int ck_busy __attribute__((tls_model("initial-exec")));

#define STRIPES 64
#define GUARD_MAX 256 /* back guard bytes written and checked at most */

static struct stripe {
    pthread_mutex_t lock;
    ck_block *head;
} live[STRIPES];

static struct {
    pthread_mutex_t lock;
    ck_block *first, *last; /* oldest first */
    size_t bytes;
} quarantine = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Counts for STACKHEAP_STATS (relaxed: they are only summed at exit). */
static struct {
    _Atomic size_t allocs, frees, bytes, live, live_bytes, peak_bytes;
} counts;

static void count_alloc(size_t size)
{
    atomic_fetch_add_explicit(&counts.allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&counts.bytes, size, memory_order_relaxed);
    atomic_fetch_add_explicit(&counts.live, 1, memory_order_relaxed);
    size_t now = atomic_fetch_add_explicit(&counts.live_bytes, size, memory_order_relaxed) + size;
    size_t peak = atomic_load_explicit(&counts.peak_bytes, memory_order_relaxed);
    while (now > peak &&
           !atomic_compare_exchange_weak_explicit(&counts.peak_bytes, &peak, now,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

static void count_free(size_t size)
{
    atomic_fetch_add_explicit(&counts.frees, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&counts.live, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&counts.live_bytes, size, memory_order_relaxed);
}

void sh_check_print_stats(const char *line, size_t len)
{
    char b1[32], b2[32], b3[32];
    ck_report_begin();
    sh_os_write(ck_opt.fd, line, len);
    ck_printf(
        "stackheap: stats: %zu allocations (%s), %zu frees; at most %s live; %zu blocks "
        "(%s) live at exit\n",
        atomic_load(&counts.allocs), sh_format_bytes(b1, sizeof b1, atomic_load(&counts.bytes)),
        atomic_load(&counts.frees), sh_format_bytes(b2, sizeof b2, atomic_load(&counts.peak_bytes)),
        atomic_load(&counts.live), sh_format_bytes(b3, sizeof b3, atomic_load(&counts.live_bytes)));
    ck_report_end();
}

void sh_check_init(void)
{
    for (unsigned i = 0; i < STRIPES; i++)
        pthread_mutex_init(&live[i].lock, NULL);
    ck_report_init();
    ck_trace_init();
}

static struct stripe *stripe_of(const ck_block *b)
{
    uintptr_t x = (uintptr_t)b >> 6;
    return &live[(x ^ (x >> 6) ^ (x >> 12)) & (STRIPES - 1)];
}

static bool is_live(const ck_block *b)
{
    return b->magic == (CK_MAGIC_LIVE ^ (uintptr_t)b);
}

static bool is_freed(const ck_block *b)
{
    return b->magic == (CK_MAGIC_FREED ^ (uintptr_t)b);
}

/* The header of user pointer p if reading it is safe (p inside the heap's
   memory, and so is the header); NULL otherwise.  Its magic is not checked. */
static ck_block *header_at(const void *p)
{
    if (((uintptr_t)p & 15) != 0 || (uintptr_t)p < 4096)
        return NULL;
    const uint8_t *h = (const uint8_t *)p - CK_OFFSET;
    if (!sh_segment_map_has(sh_segment_of(p)) || !sh_segment_map_has(sh_segment_of(h + 1)))
        return NULL;
    return (ck_block *)h;
}

/* ---- allocation --------------------------------------------------------------- */

void *sh_check_alloc(sh_heap *h, size_t size, size_t align, bool zero, void *ra)
{
    void **fp = __builtin_frame_address(0);
    sh_heap *from = h != NULL ? h : sh_heap_thread_init();
    if (from == NULL || size > SH_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    size_t pad = CK_OFFSET;
    if (align > 16)
        pad = (CK_OFFSET + align - 1) & ~(align - 1);
    size_t need = pad + size + CK_TAIL;
    ck_busy++;
    uint8_t *raw =
        align > 16 ? sh_heap_alloc_aligned(from, need, align) : sh_heap_alloc(from, need);
    ck_busy--;
    if (raw == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    uint8_t *user = raw + pad;
    ck_block *b = ck_header(user);
    size_t tail = sh_block_usable(raw) - pad - size;
    b->size = size;
    b->heap = h;
    b->raw = raw;
    b->guard = (uint32_t)(tail < GUARD_MAX ? tail : GUARD_MAX);
    b->flags = 0;
    b->free_trace = 0;
    b->alloc_trace = ck_busy ? 0 : ck_trace_capture(ra, fp);
    memset(user - CK_FRONT, CK_FRONT_BYTE, CK_FRONT);
    memset(user + size, CK_BACK_BYTE, b->guard);
    if (zero)
        memset(user, 0, size);
    struct stripe *s = stripe_of(b);
    pthread_mutex_lock(&s->lock);
    b->magic = CK_MAGIC_LIVE ^ (uintptr_t)b;
    b->prev = NULL;
    b->next = s->head;
    if (s->head != NULL)
        s->head->prev = b;
    s->head = b;
    pthread_mutex_unlock(&s->lock);
    count_alloc(size);
    return user;
}

/* ---- guards ------------------------------------------------------------------------ */

/* Bytes of [p, p + n) that are not `byte`: count, first and last offsets. */
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

bool ck_check_guards(ck_block *b, const char *when)
{
    uint8_t *user = ck_user(b);
    size_t ff = 0, fl = 0, bf = 0, bl = 0;
    size_t front = damaged(user - CK_FRONT, CK_FRONT, CK_FRONT_BYTE, &ff, &fl);
    size_t back = damaged(user + b->size, b->guard, CK_BACK_BYTE, &bf, &bl);
    if (front == 0 && back == 0)
        return true;
    ck_found();
    ck_report_begin();
    if (back != 0)
        ck_printf("stackheap: heap overrun: %zu byte%s written after the end of a %zu-byte "
                  "block at %p (found %s)\n",
                  bl + 1, bl == 0 ? "" : "s", b->size, (void *)user, when);
    if (front != 0)
        ck_printf("stackheap: heap underrun: %zu byte%s written before the start of a %zu-byte "
                  "block at %p (found %s)\n",
                  (size_t)CK_FRONT - ff, CK_FRONT - ff == 1 ? "" : "s", b->size, (void *)user,
                  when);
    if (back != 0)
        ck_printf("  the guard after it is damaged from byte %zu to byte %zu past its end\n", bf,
                  bl);
    if (front != 0)
        ck_printf("  the guard before it is damaged from %zu to %zu bytes before its start\n",
                  (size_t)CK_FRONT - fl, (size_t)CK_FRONT - ff);
    ck_printf("  the block was allocated at:\n");
    ck_trace_print(b->alloc_trace, "    ");
    ck_report_end();
    /* mend them, so the same damage is not reported twice */
    memset(user - CK_FRONT, CK_FRONT_BYTE, CK_FRONT);
    memset(user + b->size, CK_BACK_BYTE, b->guard);
    return false;
}

/* ---- bad pointers -------------------------------------------------------------------- */

typedef struct where {
    uintptr_t p;
    bool found;
} where;

static int in_static_data(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    where *w = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W) && w->p >= start &&
            w->p < start + ph->p_memsz) {
            /* the dynamic loader's own data holds its early allocations: leave them */
            w->found = strstr(info->dlpi_name, "/ld-linux") == NULL;
            return 1;
        }
    }
    return 0;
}

/* Report a free (or realloc: what) of p that is not a live block, with the
   stack of the bad call.  Returns false if p should simply be ignored (memory
   stackheap never had, from before it was loaded). */
static bool report_bad_pointer(const void *p, const char *what, uint32_t call)
{
    ck_block *b = header_at(p);
    if (b != NULL && is_freed(b)) {
        ck_found();
        ck_report_begin();
        ck_printf("stackheap: double free: %s(%p) of a %zu-byte block freed already\n", what, p,
                  b->size);
        ck_printf("  %s called at:\n", what);
        ck_trace_print(call, "    ");
        ck_printf("  first freed at:\n");
        ck_trace_print(b->free_trace, "    ");
        ck_printf("  allocated at:\n");
        ck_trace_print(b->alloc_trace, "    ");
        ck_report_end();
        return true;
    }
    const uint8_t *q = p;
    if (sh_segment_map_has(sh_segment_of(p))) {
        void *base = sh_block_base(p);
        ck_block *outer = base != NULL ? header_at((uint8_t *)base + CK_OFFSET) : NULL;
        ck_found();
        ck_report_begin();
        if (outer != NULL && (is_live(outer) || is_freed(outer)) && q >= (uint8_t *)base &&
            q < ck_user(outer) + outer->size) {
            ptrdiff_t off = q - ck_user(outer);
            ck_printf("stackheap: invalid free: %s(%p) of a pointer %zu bytes %s a %zu-byte "
                      "block at %p%s\n",
                      what, p, (size_t)(off < 0 ? -off : off), off < 0 ? "before" : "into",
                      outer->size, (void *)ck_user(outer),
                      is_live(outer) ? "" : " (freed already)");
            ck_printf("  %s called at:\n", what);
            ck_trace_print(call, "    ");
            ck_printf("  the block was allocated at:\n");
            ck_trace_print(outer->alloc_trace, "    ");
        } else {
            ck_printf("stackheap: invalid free: %s(%p): not a block stackheap handed out\n", what,
                      p);
            ck_printf("  %s called at:\n", what);
            ck_trace_print(call, "    ");
        }
        ck_report_end();
        return true;
    }
    const char *kind = NULL;
    if (ck_on_this_stack(p)) {
        kind = "an address on the stack of this thread";
    } else {
        where w = {(uintptr_t)p, false};
        dl_iterate_phdr(in_static_data, &w);
        if (w.found)
            kind = "the address of a global or static variable";
    }
    if (kind == NULL)
        return false;
    ck_found();
    ck_report_begin();
    ck_printf("stackheap: invalid free: %s(%p) of %s, which malloc never returned\n", what, p,
              kind);
    ck_printf("  %s called at:\n", what);
    ck_trace_print(call, "    ");
    ck_report_end();
    return true;
}

/* ---- free and the quarantine ------------------------------------------------------------ */

static void raw_free(ck_block *b)
{
    void *raw = b->raw;
    b->magic = 0;
    ck_busy++;
    sh_heap_free_block(raw, sh_segment_of(raw));
    ck_busy--;
}

/* Check that a block leaving the quarantine still holds the freed pattern. */
static void check_freed_pattern(ck_block *b)
{
    if (b->flags & CK_UNFILLED)
        return;
    size_t first = 0, last = 0;
    size_t n = damaged(ck_user(b), b->size, CK_FREED_BYTE, &first, &last);
    if (n != 0) {
        ck_found();
        ck_report_begin();
        ck_printf("stackheap: use after free: %zu byte%s written into a %zu-byte block at %p "
                  "after it was freed (bytes %zu to %zu)\n",
                  n, n == 1 ? "" : "s", b->size, (void *)ck_user(b), first, last);
        ck_printf("  the block was freed at:\n");
        ck_trace_print(b->free_trace, "    ");
        ck_printf("  and allocated at:\n");
        ck_trace_print(b->alloc_trace, "    ");
        ck_report_end();
    }
    ck_check_guards(b, "when it left the quarantine");
}

/* Take the oldest quarantined block out if the quarantine is over budget. */
static ck_block *quarantine_evict(void)
{
    ck_block *b = NULL;
    pthread_mutex_lock(&quarantine.lock);
    if (quarantine.bytes > ck_opt.quarantine && quarantine.first != NULL) {
        b = quarantine.first;
        quarantine.first = b->next;
        if (quarantine.first == NULL)
            quarantine.last = NULL;
        quarantine.bytes -= b->size;
    }
    pthread_mutex_unlock(&quarantine.lock);
    return b;
}

static void quarantine_put(ck_block *b)
{
    b->next = NULL;
    pthread_mutex_lock(&quarantine.lock);
    if (quarantine.last != NULL)
        quarantine.last->next = b;
    else
        quarantine.first = b;
    quarantine.last = b;
    quarantine.bytes += b->size;
    pthread_mutex_unlock(&quarantine.lock);
    for (ck_block *old; (old = quarantine_evict()) != NULL;) {
        check_freed_pattern(old);
        raw_free(old);
    }
}

void ck_drain_quarantine(void)
{
    size_t keep = ck_opt.quarantine;
    ck_opt.quarantine = 0;
    for (ck_block *old; (old = quarantine_evict()) != NULL;)
        check_freed_pattern(old);
    ck_opt.quarantine = keep;
}

/* Validate p for free or realloc (what): its live header, or NULL after a
   report (or for memory that was never stackheap's). */
static ck_block *take_live(void *p, const char *what, void *ra, void **fp)
{
    ck_block *b = header_at(p);
    if (b != NULL && is_live(b)) {
        struct stripe *s = stripe_of(b);
        pthread_mutex_lock(&s->lock);
        bool ok = is_live(b);
        if (ok) {
            if (b->prev != NULL)
                b->prev->next = b->next;
            else
                s->head = b->next;
            if (b->next != NULL)
                b->next->prev = b->prev;
            b->magic = CK_MAGIC_FREED ^ (uintptr_t)b;
        }
        pthread_mutex_unlock(&s->lock);
        if (ok)
            return b;
    }
    if (report_bad_pointer(p, what, ck_trace_capture(ra, fp)))
        ck_after_error();
    return NULL;
}

static void release(ck_block *b, const char *when, uint32_t trace)
{
    count_free(b->size);
    ck_check_guards(b, when);
    b->free_trace = trace;
    if (b->size > ck_opt.quarantine / 8) { /* too big to hold: checked and freed now */
        raw_free(b);
        return;
    }
    memset(ck_user(b), CK_FREED_BYTE, b->size);
    b->flags &= ~(uint32_t)CK_UNFILLED;
    quarantine_put(b);
}

void sh_check_free(void *p, void *ra)
{
    void **fp = __builtin_frame_address(0);
    ck_block *b = take_live(p, "free", ra, fp);
    if (b != NULL)
        release(b, "at free", ck_busy ? 0 : ck_trace_capture(ra, fp));
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
    ck_block *nb = ck_header(q);
    memcpy(q, p, b->size < size ? b->size : size);
    b = take_live(p, "realloc", ra, fp);
    if (b != NULL)
        release(b, "at realloc", nb->alloc_trace);
    return q;
}

size_t sh_check_usable(const void *p)
{
    ck_block *b = header_at(p);
    return b != NULL && is_live(b) ? b->size : 0;
}

/* ---- the registry ------------------------------------------------------------------------ */

void ck_lock_all(void)
{
    for (unsigned i = 0; i < STRIPES; i++)
        pthread_mutex_lock(&live[i].lock);
    pthread_mutex_lock(&quarantine.lock);
}

void ck_unlock_all(void)
{
    pthread_mutex_unlock(&quarantine.lock);
    for (unsigned i = STRIPES; i-- > 0;)
        pthread_mutex_unlock(&live[i].lock);
}

void ck_each_live(void (*f)(ck_block *, void *), void *arg)
{
    for (unsigned i = 0; i < STRIPES; i++)
        for (ck_block *b = live[i].head; b != NULL; b = b->next)
            f(b, arg);
}

void sh_check_forget_heap(sh_heap *h)
{
    ck_lock_all();
    for (unsigned i = 0; i < STRIPES; i++) {
        for (ck_block *b = live[i].head, *next; b != NULL; b = next) {
            next = b->next;
            if (b->heap != h)
                continue;
            if (b->prev != NULL)
                b->prev->next = b->next;
            else
                live[i].head = b->next;
            if (b->next != NULL)
                b->next->prev = b->prev;
            b->magic = 0;
        }
    }
    ck_block **link = &quarantine.first, *prev = NULL;
    for (ck_block *b; (b = *link) != NULL;) {
        if (b->heap == h) {
            *link = b->next;
            quarantine.bytes -= b->size;
            b->magic = 0;
            continue;
        }
        prev = b;
        link = &b->next;
    }
    quarantine.last = prev;
    ck_unlock_all();
}

void sh_check_lock_for_fork(int phase)
{
    if (phase == 0) {
        ck_trace_lock_for_fork(0);
        ck_lock_all();
    } else if (phase == 1) {
        ck_unlock_all();
        ck_trace_lock_for_fork(1);
    } else {
        for (unsigned i = 0; i < STRIPES; i++)
            pthread_mutex_init(&live[i].lock, NULL);
        pthread_mutex_init(&quarantine.lock, NULL);
        ck_trace_lock_for_fork(2);
    }
}

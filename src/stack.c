/*
 * stack.c -- the stack's slow paths: creation, overflow, misuse, tools.
 *
 * The fast paths (alloc, push, pop) are inline in stackheap.h and only
 * touch the public `sh_stack` fields.  Everything else lives in a
 * `stack_full` that starts with that public part, at the head of the
 * stack's own mapping:
 *
 *     [ stack_full, page-rounded ][ guard ][ data: capacity bytes ][ guard ]
 *     ^ mapping                           ^ base                 ^ end
 *
 * Invariants (stack_is_valid checks them in debug builds):
 *   - base <= top <= end; base and end are page aligned;
 *   - fast_end == end, or 0 while tools mark memory or in check mode (every
 *     alloc goes slow);
 *   - last == 0, or base <= last <= top (a stack block), or last is the
 *     newest heap fallback block;
 *   - depth == number of open frames; frame_serial != 0 iff depth > 0;
 *   - heap fallback blocks are listed newest first, each tagged with the
 *     newest serial at its allocation, so the pop of frame F releases
 *     exactly the prefix of the list whose tag is >= F's serial;
 *   - pop_slow has POP_TOOLS while tools mark memory or check mode is on
 *     (both need every pop out of line), POP_HEAP while any
 *     fallback block is live, POP_CURSOR while a cursor is open;
 *   - while a cursor is open, fast_end is 0 and top may be behind the
 *     cursor's: only the cursor's out-of-line path and sh_cursor_end move
 *     it, and every direct use that would read or move it is refused.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

enum { POP_TOOLS = 1, POP_HEAP = 2, POP_CURSOR = 4 };
#define CHECK_FRAMES 64
#define CHECK_POPPED_BYTE 0xFE

/* Header of a block served by the heap when the stack overflowed. */
typedef struct heap_block {
    struct heap_block *next; /* older block */
    uint64_t tag;            /* newest frame serial when it was allocated */
    void *base;              /* the heap block (sh_aligned_alloc) holding header and block */
    size_t size;             /* requested */
    size_t room;             /* usable bytes after the user pointer */
    size_t align;            /* alignment it was allocated with */
} heap_block;

typedef struct stack_full {
    sh_stack pub; /* first: sh_stack * and stack_full * are the same address */
    uintptr_t base;
    uintptr_t end;
    void *mapping;
    size_t mapping_size;
    uint64_t overflows;
    sh_overflow_policy policy;
    sh_overflow_fn *handler;
    void *handler_arg;
    uintptr_t handler_frame; /* frame address of the overflow() running the handler, or 0 */
    bool is_default;         /* owned by a thread: released at its exit, not by delete */
    bool tools;              /* memory is marked for ASan / Valgrind */
    bool checked;            /* check mode: every allocation goes out of line */
    /* check mode: the first allocation made in each of the innermost
       CHECK_FRAMES open frames (a stack id), and that frame's serial */
    uint32_t site[CHECK_FRAMES];
    uint64_t site_serial[CHECK_FRAMES];
    /* check mode: [top, poison_end) was released (popped, freed) and holds
       CHECK_POPPED_BYTE; poison_site: the first allocation of the frame
       released last */
    uintptr_t poison_end;
    uint32_t poison_site;
    heap_block *heap_blocks;
    size_t heap_count;
    size_t heap_bytes;
    /* a cursor is open (sh_stack_cursor): pub.fast_end is 0 and pop_slow has
       POP_CURSOR, so direct use goes out of line and is refused there;
       cursor_fast_end is fast_end's value to restore, cursor_frame the
       innermost frame when it opened */
    bool cursor_open;
    uintptr_t cursor_fast_end;
    uint64_t cursor_frame;
    char name[48];
} stack_full;

static inline stack_full *full(const sh_stack *s)
{
    return (stack_full *)s;
}

static bool stack_is_valid(const stack_full *st)
{
    const sh_stack *s = &st->pub;
    if (!(st->base <= s->top && s->top <= st->end))
        return false;
    if (s->fast_end != st->end && s->fast_end != 0)
        return false;
    if ((s->depth == 0) != (s->frame_serial == 0))
        return false;
    if (((s->pop_slow & POP_HEAP) != 0) != (st->heap_blocks != NULL))
        return false;
    if (sh_cfg_debug >= 2) {
        uint64_t prev = UINT64_MAX;
        for (const heap_block *b = st->heap_blocks; b != NULL; b = b->next) {
            if (b->tag > prev)
                return false;
            prev = b->tag;
        }
    }
    return true;
}

/* ---- creation and deletion ------------------------------------------------ */

sh_stack *sh_stack_new(size_t capacity)
{
    if (capacity == 0) {
        errno = EINVAL;
        return NULL;
    }
    size_t page = sh_os_page_size();
    size_t data, head, total;
    if (!sh_round_up(capacity, page, &data) || !sh_round_up(sizeof(stack_full), page, &head) ||
        __builtin_add_overflow(head + 2 * page, data, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    char *map = sh_os_map(total);
    if (map == NULL)
        return NULL;
    uintptr_t base = (uintptr_t)map + head + page;
    if (sh_os_protect_none(map + head, page) != 0 ||
        sh_os_protect_none((char *)base + data, page) != 0) {
        sh_os_unmap(map, total);
        errno = ENOMEM;
        return NULL;
    }
    stack_full *st = (stack_full *)map; /* fresh mapping: all fields zero */
    st->mapping = map;
    st->mapping_size = total;
    st->base = base;
    st->end = base + data;
    st->policy = SH_OVERFLOW_RETURN_NULL;
    st->tools = sh_tools_active();
    st->checked = sh_check_mode();
    sh_stack *s = &st->pub;
    s->top = base;
    s->high_water = base;
    s->fast_end = st->tools || st->checked ? 0 : st->end;
    s->pop_slow = st->tools || st->checked ? POP_TOOLS : 0;
    sh_format(st->name, sizeof st->name, "stack@%p", (void *)s);
    if (st->tools)
        sh_tools_mark_noaccess((void *)base, data);
    sh_assert(stack_is_valid(st));
    return s;
}

static void heap_block_release(stack_full *st, heap_block *b)
{
    st->heap_count--;
    st->heap_bytes -= b->size;
    sh_free(b->base);
}

static void destroy(stack_full *st)
{
    for (heap_block *b = st->heap_blocks, *next; b != NULL; b = next) {
        next = b->next;
        heap_block_release(st, b);
    }
    if (st->tools) /* the range may be reused by another mapping */
        sh_tools_mark_undefined((void *)st->base, st->end - st->base);
    sh_os_unmap(st->mapping, st->mapping_size);
}

void sh_stack_delete(sh_stack *s)
{
    if (s == NULL)
        return;
    stack_full *st = full(s);
    if (st->is_default)
        sh_fatal("sh_stack_delete: '%s' is a thread's default stack; it is released when its "
                 "thread exits, do not delete it",
                 st->name);
    destroy(st);
}

int sh_stack_set_name(sh_stack *s, const char *name)
{
    if (s == NULL || name == NULL)
        return EINVAL;
    stack_full *st = full(s);
    size_t n = strnlen(name, sizeof st->name - 1);
    memcpy(st->name, name, n);
    st->name[n] = '\0';
    return 0;
}

const char *sh_stack_name(const sh_stack *s)
{
    return s == NULL ? "(null stack)" : full(s)->name;
}

int sh_stack_set_overflow(sh_stack *s, sh_overflow_policy policy, sh_overflow_fn *fn, void *arg)
{
    if (s == NULL || (unsigned)policy > SH_OVERFLOW_HEAP || (policy == SH_OVERFLOW_CALL && !fn))
        return EINVAL;
    stack_full *st = full(s);
    st->policy = policy;
    st->handler = policy == SH_OVERFLOW_CALL ? fn : NULL;
    st->handler_arg = policy == SH_OVERFLOW_CALL ? arg : NULL;
    st->handler_frame = 0; /* re-arms a handler that was left by longjmp */
    return 0;
}

/* ---- allocation ----------------------------------------------------------- */

/* Where an allocation of size/align would start and end; false if it does not fit. */
static bool place(const stack_full *st, size_t size, size_t align, uintptr_t *start,
                  uintptr_t *new_top)
{
    uintptr_t p;
    if (!sh_round_up(st->pub.top, align, &p) || __builtin_add_overflow(p, size, new_top))
        return false;
    *start = p;
    return *new_top <= st->end;
}

static void raise_high_water(sh_stack *s)
{
    if (s->top > s->high_water)
        s->high_water = s->top;
}

/* Lower the top to new_top (<= top), marking the released range for tools. */
/* The first allocation of the innermost open frame (a stack id), or 0. */
static uint32_t innermost_site(const stack_full *st)
{
    size_t d = st->pub.depth;
    return d >= 1 && d <= CHECK_FRAMES && st->site_serial[d - 1] == st->pub.frame_serial
               ? st->site[d - 1]
               : 0;
}

/* Check mode: memory between the top and new_top is handed out again; it
   must still hold the fill it got when it was released. */
static void check_reuse(stack_full *st, uintptr_t new_top, void *ra)
{
    uintptr_t from = st->pub.top, to = new_top < st->poison_end ? new_top : st->poison_end;
    size_t first = 0, last = 0, n = 0;
    for (uintptr_t a = from; a < to; a++) {
        if (*(const uint8_t *)a != CHECK_POPPED_BYTE) {
            if (n++ == 0)
                first = a - from;
            last = a - from;
        }
    }
    if (n != 0)
        sh_check_popped_write(st->name, n, first, last, st->poison_site, sh_check_stack_site(ra));
    if (new_top >= st->poison_end)
        st->poison_end = 0;
}

static void lower_top(stack_full *st, uintptr_t new_top)
{
    sh_stack *s = &st->pub;
    raise_high_water(s);
    if (st->checked) { /* fill what is released: a write into it is found at its reuse */
        memset((void *)new_top, CHECK_POPPED_BYTE, s->top - new_top);
        if (s->top > st->poison_end)
            st->poison_end = s->top;
        st->poison_site = innermost_site(st);
    }
    if (st->tools)
        sh_tools_mark_noaccess((void *)new_top, s->top - new_top);
    s->top = new_top;
}

/* Serve size/align from the heap (SH_OVERFLOW_HEAP); the block is tagged for pops. */
static void *heap_alloc(stack_full *st, size_t size, size_t align)
{
    size_t a = align > _Alignof(heap_block) ? align : _Alignof(heap_block);
    size_t off, need;
    if (!sh_round_up(sizeof(heap_block), a, &off) || __builtin_add_overflow(off, size, &need)) {
        errno = ENOMEM;
        return NULL;
    }
    char *base = sh_aligned_alloc(a, need);
    if (base == NULL)
        return NULL;
    char *p = base + off;
    heap_block *b = (heap_block *)p - 1;
    b->base = base;
    b->size = size;
    b->room = sh_usable_size(base) - off;
    b->align = align;
    b->tag = st->pub.next_serial;
    b->next = st->heap_blocks;
    st->heap_blocks = b;
    st->heap_count++;
    st->heap_bytes += size;
    st->pub.pop_slow |= POP_HEAP;
    st->pub.last = (uintptr_t)p;
    return p;
}

static heap_block *block_of(void *p)
{
    return (heap_block *)p - 1;
}

/* Unlink and free the newest heap block. */
static void heap_pop_newest(stack_full *st)
{
    heap_block *b = st->heap_blocks;
    st->heap_blocks = b->next;
    heap_block_release(st, b);
    if (st->heap_blocks == NULL)
        st->pub.pop_slow &= ~(unsigned)POP_HEAP;
}

/*
 * An allocation of size/align did not fit.  errno is ENOMEM and the stack
 * unchanged on entry; returns what the policy produces.
 */
SH_NOINLINE static void *overflow(stack_full *st, size_t size, size_t align, const char *what)
{
    st->overflows++;
    errno = ENOMEM;
    switch (st->policy) {
    case SH_OVERFLOW_RETURN_NULL:
        return NULL;
    case SH_OVERFLOW_ABORT: {
        uintptr_t p;
        size_t left = sh_round_up(st->pub.top, align, &p) && p <= st->end ? st->end - p : 0;
        sh_fatal("stack overflow on '%s': %s of %zu bytes (align %zu) does not fit, %zu of %zu "
                 "bytes left; give the stack a larger capacity or release frames sooner",
                 st->name, what, size, align, left, st->end - st->base);
    }
    case SH_OVERFLOW_CALL: {
        /* Deeper than a running handler's frame: an overflow inside the handler,
           which must not recurse.  Level with or above it: that handler was left
           by longjmp, so this is a new overflow.  (The machine stack grows down.) */
        uintptr_t here = (uintptr_t)__builtin_frame_address(0);
        if (st->handler_frame != 0 && here < st->handler_frame)
            return NULL;
        uintptr_t outer = st->handler_frame;
        st->handler_frame = here;
        void *r = st->handler(&st->pub, size, align, st->handler_arg);
        st->handler_frame = outer;
        if (r == NULL)
            errno = ENOMEM;
        return r;
    }
    case SH_OVERFLOW_HEAP:
        return heap_alloc(st, size, align);
    }
    return NULL;
}

SH_NORETURN SH_COLD static void cursor_is_open(const stack_full *st, const char *what)
{
    sh_fatal("%s: '%s' has a cursor open (sh_stack_cursor): allocate through the cursor, or end "
             "it with sh_cursor_end before using the stack directly",
             what, st->name);
}

/* The out-of-line allocation; ra: the program's call, for check mode. */
static void *alloc_out_of_line(stack_full *st, size_t size, size_t align, void *ra)
{
    sh_stack *s = &st->pub;
    uintptr_t p, new_top;
    if (!place(st, size, align, &p, &new_top))
        return overflow(st, size, align, "allocation");
    if (st->poison_end > s->top)
        check_reuse(st, new_top, ra);
    s->top = new_top;
    s->last = p;
    if (st->tools)
        sh_tools_mark_undefined((void *)p, size);
    size_t d = s->depth;
    if (st->checked && d >= 1 && d <= CHECK_FRAMES && st->site_serial[d - 1] != s->frame_serial) {
        st->site_serial[d - 1] = s->frame_serial; /* the frame's first allocation */
        st->site[d - 1] = sh_check_stack_site(ra);
    }
    return (void *)p;
}

void *sh_stack_alloc_slow_(sh_stack *s, size_t size, size_t align)
{
    if (s == NULL || !sh_is_pow2(align)) {
        errno = EINVAL;
        return NULL;
    }
    if (full(s)->cursor_open)
        cursor_is_open(full(s), "sh_stack_alloc");
    return alloc_out_of_line(full(s), size, align, __builtin_return_address(0));
}

void *sh_stack_calloc(sh_stack *s, size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        if (s != NULL)
            full(s)->overflows++;
        errno = s != NULL ? ENOMEM : EINVAL;
        return NULL;
    }
    void *p = sh_stack_alloc(s, bytes);
    if (p != NULL)
        memset(p, 0, bytes);
    return p;
}

/* ---- LIFO extras ---------------------------------------------------------- */

static bool on_stack(const stack_full *st, uintptr_t p)
{
    return p >= st->base && p <= st->end;
}

/* True if p is the most recent allocation of st (a stack block or the newest heap block). */
static bool is_top_allocation(const stack_full *st, void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (a == 0 || a != st->pub.last)
        return false;
    return on_stack(st, a) || (st->heap_blocks != NULL && block_of(p) == st->heap_blocks);
}

int sh_stack_free_top(sh_stack *s, void *p)
{
    if (p == NULL)
        return 0;
    if (s == NULL || !is_top_allocation(full(s), p))
        return EINVAL;
    stack_full *st = full(s);
    if (on_stack(st, (uintptr_t)p))
        lower_top(st, (uintptr_t)p);
    else
        heap_pop_newest(st);
    s->last = 0;
    return 0;
}

/* Alignment p already has, capped at a page: what a moved block must keep. */
static size_t alignment_of(uintptr_t p)
{
    size_t a = (size_t)(p & (~p + 1));
    size_t page = sh_os_page_size();
    return a == 0 || a > page ? page : a;
}

void *sh_stack_resize_top(sh_stack *s, void *p, size_t size)
{
    if (p == NULL)
        return sh_stack_alloc(s, size);
    if (s == NULL || !is_top_allocation(full(s), p)) {
        errno = EINVAL;
        return NULL;
    }
    stack_full *st = full(s);
    uintptr_t a = (uintptr_t)p, new_top;
    size_t old_size, align;
    if (on_stack(st, a)) {
        if (!__builtin_add_overflow(a, size, &new_top) && new_top <= st->end) {
            if (new_top < s->top) {
                lower_top(st, new_top);
            } else {
                if (st->tools)
                    sh_tools_mark_undefined((void *)s->top, new_top - s->top);
                if (st->poison_end > s->top)
                    check_reuse(st, new_top, __builtin_return_address(0));
                s->top = new_top;
            }
            return p;
        }
        old_size = s->top - a;
        align = alignment_of(a);
        void *q = overflow(st, size, align, "resize");
        if (q == NULL)
            return NULL;
        memcpy(q, p, old_size < size ? old_size : size);
        lower_top(st, a); /* q is elsewhere: the old block is released */
        s->last = q == (void *)s->last ? s->last : 0;
        return q;
    }
    heap_block *b = block_of(p);
    if (size <= b->room) {
        st->heap_bytes = st->heap_bytes - b->size + size;
        b->size = size;
        return p;
    }
    old_size = b->size;
    st->overflows++;
    void *q = heap_alloc(st, size, b->align); /* becomes the newest block */
    if (q == NULL)
        return NULL;
    memcpy(q, p, old_size);
    /* unlink the old block, now second newest */
    heap_block *nb = st->heap_blocks;
    nb->next = b->next;
    heap_block_release(st, b);
    return q;
}

/* ---- frames --------------------------------------------------------------- */

void sh_stack_push_null_(void)
{
    sh_fatal("sh_stack_push: the stack is NULL; create one with sh_stack_new() or use "
             "sh_stack_default(), and check it for NULL");
}

SH_COLD SH_NOINLINE static void bad_pop(const stack_full *st, sh_frame f)
{
    const sh_stack *s = &st->pub;
    if (f.stack == NULL || f.serial == 0)
        sh_fatal("sh_stack_pop: on '%s': the frame was never pushed (zeroed or uninitialised); "
                 "pop only frames returned by sh_stack_push",
                 st->name);
    if (f.stack != s)
        sh_fatal("sh_stack_pop: frame #%llu belongs to the stack at %p, not to '%s'; pop a frame "
                 "on the stack it was pushed on",
                 (unsigned long long)f.serial, (void *)f.stack, st->name);
    if (f.serial > s->next_serial || f.mark < st->base || f.mark > st->end)
        sh_fatal("sh_stack_pop: on '%s': frame #%llu was not made by sh_stack_push on this stack "
                 "(corrupted frame value)",
                 st->name, (unsigned long long)f.serial);
    if (f.depth >= s->depth)
        sh_fatal("sh_stack_pop: on '%s': frame #%llu (depth %zu) was already popped; pop each "
                 "frame exactly once",
                 st->name, (unsigned long long)f.serial, f.depth);
    sh_fatal("sh_stack_pop: on '%s': frame #%llu (depth %zu) is not the innermost open frame: "
             "%zu frame(s) pushed after it are still open, the innermost is #%llu; pop frames in "
             "reverse order of their pushes (or this frame was already popped)",
             st->name, (unsigned long long)f.serial, f.depth, s->depth - f.depth,
             (unsigned long long)s->frame_serial);
}

void sh_stack_pop_slow_(sh_stack *s, sh_frame f)
{
    if (s == NULL)
        sh_fatal("sh_stack_pop: the stack is NULL (frame #%llu was pushed on the stack at %p)",
                 (unsigned long long)f.serial, (void *)f.stack);
    stack_full *st = full(s);
    if (st->cursor_open)
        cursor_is_open(st, "sh_stack_pop");
    if (f.stack != s || f.serial == 0 || f.serial != s->frame_serial || f.mark > s->top ||
        f.mark < st->base)
        bad_pop(st, f);
    while (st->heap_blocks != NULL && st->heap_blocks->tag >= f.serial)
        heap_pop_newest(st);
    lower_top(st, f.mark);
    s->frame_serial = f.parent;
    s->depth--;
    s->last = 0;
    sh_assert(stack_is_valid(st));
}

/* ---- cursors ---------------------------------------------------------------- */

/* Where a cursor may bump to: the stack's end, or nowhere (its top) while
   every allocation must go out of line (tools, check mode). */
static uintptr_t cursor_limit(const stack_full *st, uintptr_t top)
{
    uintptr_t end = st->cursor_fast_end & ~(uintptr_t)(SH_STACK_ALIGN - 1);
    return end > top ? end : top;
}

/* s's top rounded up to SH_STACK_ALIGN, at most the end (a multiple of it). */
static uintptr_t aligned_top(const stack_full *st)
{
    uintptr_t top;
    if (!sh_round_up(st->pub.top, SH_STACK_ALIGN, &top) || top > st->end)
        top = st->end;
    return top;
}

/* The cursors open in this thread (a cursor names no stack: its slow path
   finds it here by address). */
#define CURSORS 8
static _Thread_local stack_full *open_cursor[CURSORS];

/* The stack of this thread's open cursor whose top is `top`; NULL if none. */
static stack_full *cursor_stack(uintptr_t top)
{
    for (unsigned i = 0; i < CURSORS; i++) {
        stack_full *st = open_cursor[i];
        if (st != NULL && top >= st->base && top <= st->end)
            return st;
    }
    return NULL;
}

sh_cursor sh_stack_cursor(sh_stack *s)
{
    if (s == NULL)
        sh_fatal("sh_stack_cursor: the stack is NULL; create one with sh_stack_new() or use "
                 "sh_stack_default()");
    stack_full *st = full(s);
    if (st->cursor_open)
        sh_fatal("sh_stack_cursor: '%s' has a cursor open already; end it with sh_cursor_end "
                 "before opening another",
                 st->name);
    unsigned slot = 0;
    while (slot < CURSORS && open_cursor[slot] != NULL)
        slot++;
    if (slot == CURSORS)
        sh_fatal("sh_stack_cursor: on '%s': %d cursors are open in this thread already; end one "
                 "first",
                 st->name, CURSORS);
    open_cursor[slot] = st;
    st->cursor_open = true;
    st->cursor_fast_end = s->fast_end;
    st->cursor_frame = s->frame_serial;
    s->fast_end = 0; /* direct allocations and pops go out of line, where they are refused */
    s->pop_slow |= POP_CURSOR;
    s->last = 0;
    sh_cursor c;
    c.top = aligned_top(st);
    c.end = cursor_limit(st, c.top);
    return c;
}

/* The stack's top moves to a cursor's: up, or down past what the cursor's
   later copies allocated (released as a pop releases). */
static void cursor_publish(stack_full *st, uintptr_t top)
{
    if (top < st->pub.top)
        lower_top(st, top);
    else
        st->pub.top = top;
}

sh_cursor_step_ sh_cursor_alloc_slow_(uintptr_t top, uintptr_t end, size_t size)
{
    sh_cursor_step_ r = {0, top, end};
    stack_full *st = cursor_stack(top);
    if (st == NULL)
        sh_fatal("sh_cursor_alloc: the cursor (top %p) is not open in this thread: ended "
                 "(sh_cursor_end), opened by another thread, or overwritten",
                 (void *)top);
    sh_stack *s = &st->pub;
    cursor_publish(st, top);
    /* an allocation of the stack's own, closed to the cursor while it runs
       (an overflow handler may allocate from the stack) */
    st->cursor_open = false;
    void *p = alloc_out_of_line(st, size, SH_STACK_ALIGN, __builtin_return_address(0));
    st->cursor_open = true;
    s->last = 0;
    r.p = (uintptr_t)p;
    r.top = aligned_top(st);
    r.end = cursor_limit(st, r.top);
    return r;
}

void sh_cursor_end(sh_cursor *c)
{
    if (c == NULL)
        return;
    stack_full *st = cursor_stack(c->top);
    if (st == NULL)
        sh_fatal("sh_cursor_end: the cursor (top %p) is not open in this thread: ended twice, "
                 "opened by another thread, or overwritten",
                 (void *)c->top);
    sh_stack *s = &st->pub;
    if (s->frame_serial != st->cursor_frame)
        sh_fatal("sh_cursor_end: on '%s': a frame was pushed or popped while the cursor was open; "
                 "open frames around a cursor, not inside it",
                 st->name);
    cursor_publish(st, c->top);
    for (unsigned i = 0; i < CURSORS; i++)
        if (open_cursor[i] == st)
            open_cursor[i] = NULL;
    st->cursor_open = false;
    s->fast_end = st->cursor_fast_end;
    s->pop_slow &= ~(unsigned)POP_CURSOR;
    s->last = 0;
    c->end = c->top; /* later allocations go out of line, where it is not found */
    sh_assert(stack_is_valid(st));
}

/* ---- statistics and trimming ---------------------------------------------- */

int sh_stack_get_stats(const sh_stack *s, sh_stack_stats *out)
{
    if (s == NULL || out == NULL)
        return EINVAL;
    const stack_full *st = full(s);
    uintptr_t aligned;
    if (!sh_round_up(s->top, SH_STACK_ALIGN, &aligned) || aligned > st->end)
        aligned = st->end;
    uintptr_t hw = s->high_water > s->top ? s->high_water : s->top;
    out->capacity = st->end - st->base;
    out->in_use = s->top - st->base;
    out->available = st->end - aligned;
    out->high_water = hw - st->base;
    out->frames = s->depth;
    out->overflows = st->overflows;
    out->heap_blocks = st->heap_count;
    out->heap_bytes = st->heap_bytes;
    return 0;
}

size_t sh_stack_trim(sh_stack *s)
{
    if (s == NULL)
        return 0;
    stack_full *st = full(s);
    if (st->cursor_open) /* the top is behind the cursor's: its blocks would go */
        cursor_is_open(st, "sh_stack_trim");
    size_t page = sh_os_page_size();
    uintptr_t from = (s->top + page - 1) & ~(uintptr_t)(page - 1); /* <= end: end is page aligned */
    sh_os_decommit((void *)from, st->end - from);
    return st->end - from;
}

/* ---- the default stack of each thread ------------------------------------- */

static struct {
    pthread_once_t once;
    pthread_key_t key;
    bool key_ok;
} defaults = {PTHREAD_ONCE_INIT, 0, false};

static _Thread_local sh_stack *thread_stack;

static void release_thread_stack(void *p)
{
    stack_full *st = p;
    size_t d = st->pub.depth;
    if (st->checked && d > 0)
        sh_check_open_frames(st->name, d, st->pub.top - st->base, innermost_site(st));
    st->is_default = false;
    thread_stack = NULL;
    destroy(st);
}

static void make_key(void)
{
    defaults.key_ok = pthread_key_create(&defaults.key, release_thread_stack) == 0;
}

SH_NOINLINE static sh_stack *create_thread_stack(void)
{
    sh_stack *s = sh_stack_new(sh_option_stack_size());
    if (s == NULL)
        return NULL;
    stack_full *st = full(s);
    st->is_default = true;
    sh_format(st->name, sizeof st->name, "default stack of thread %ld", sh_os_thread_id());
    pthread_once(&defaults.once, make_key);
    if (defaults.key_ok)
        pthread_setspecific(defaults.key, s);
    thread_stack = s;
    return s;
}

sh_stack *sh_stack_default(void)
{
    sh_stack *s = thread_stack;
    return sh_likely(s != NULL) ? s : create_thread_stack();
}

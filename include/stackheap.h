/*
 * stackheap.h -- the one public header of stackheap.
 *
 * stackheap implements the two memory systems every program lives on:
 *
 *   - the STACK: LIFO, bump-pointer fast, fixed capacity chosen up front,
 *     released a frame at a time, with a catchable error on overflow;
 *   - the HEAP: general-purpose, thread-safe malloc/free with per-thread
 *     heaps, that grows and shrinks and can replace the system allocator.
 *
 * Conventions kept by every function below:
 *   - A failure returns NULL (or an error number) and sets errno; it never
 *     changes the object it failed on.
 *   - Misuse that cannot be reported through a return value (popping the
 *     wrong frame, deleting a thread's default stack) aborts with one line
 *     on stderr that starts "stackheap: " and says what, which object, and
 *     what to do.  Nothing is ever corrupted silently.
 *   - Sizes from callers are checked for overflow: SIZE_MAX is an ordinary
 *     "does not fit", never a wrap-around.
 */
#ifndef STACKHEAP_H
#define STACKHEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SH_VERSION_MAJOR 0
#define SH_VERSION_MINOR 1
#define SH_VERSION_PATCH 0
#define SH_VERSION_STRING "0.1.0"

#if defined(__GNUC__) || defined(__clang__)
#define SH_API __attribute__((visibility("default")))
#define sh_likely(x) __builtin_expect(!!(x), 1)
#define sh_unlikely(x) __builtin_expect(!!(x), 0)
#define SH_NORETURN __attribute__((noreturn))
#define SH_MALLOC_LIKE __attribute__((malloc, warn_unused_result))
/* The stack's allocators are not `malloc`-like to the compiler: an overflow
   handler may return memory the program already points to. */
#define SH_WARN_UNUSED __attribute__((warn_unused_result))
#else
#error "stackheap needs GCC or Clang (it relies on __attribute__((cleanup)) and builtins)"
#endif

/* Default alignment of sh_stack_alloc: that of max_align_t (16 on x86_64). */
#define SH_STACK_ALIGN _Alignof(max_align_t)

/* Capacity of a thread's default stack when STACKHEAP_STACK_SIZE is unset. */
#define SH_STACK_DEFAULT_CAPACITY ((size_t)8 << 20)

/* ======================================================================== */
/* The stack                                                                */
/* ======================================================================== */

/*
 * A stack is one contiguous reservation of `capacity` bytes with a
 * no-access guard page on each side, so a raw overrun faults at once.
 * Pages are committed by the OS when first touched.  A stack belongs to one
 * thread at a time: nothing here takes a lock.
 *
 * The fields below are public only so that the fast paths can be inline;
 * read them through sh_stack_get_stats() and never write them.
 */
typedef struct sh_stack {
    uintptr_t top;         /* first free byte; base <= top <= end */
    uintptr_t fast_end;    /* inline alloc may bump up to here: the end of the stack,
                              or 0 while tools (ASan, Valgrind) need every allocation
                              to go through the out-of-line path that marks memory */
    uintptr_t last;        /* start of the most recent allocation if it is still the
                              top one (for free_top/resize_top), else 0 */
    uint64_t frame_serial; /* serial of the innermost open frame, 0 when none */
    uint64_t next_serial;  /* last serial handed out; serials never repeat */
    size_t depth;          /* number of open frames */
    uintptr_t high_water;  /* highest top seen at the last pop/shrink */
    unsigned pop_slow;     /* non-zero: sh_stack_pop must take the out-of-line path */
} sh_stack;

/*
 * A frame: a mark on a stack, returned by sh_stack_push and consumed by
 * sh_stack_pop.  It is a small value; copy it freely, pop it once.
 */
typedef struct sh_frame {
    sh_stack *stack; /* the stack it was pushed on */
    uintptr_t mark;  /* top at the push: the pop returns the stack here */
    uint64_t serial; /* unique per push, so a stale frame is recognised */
    uint64_t parent; /* serial of the frame that was innermost at the push */
    size_t depth;    /* 1 for an outermost frame */
} sh_frame;

/* What a stack does when an allocation does not fit (see sh_stack_set_overflow). */
typedef enum sh_overflow_policy {
    SH_OVERFLOW_RETURN_NULL = 0, /* return NULL with errno = ENOMEM (the default) */
    SH_OVERFLOW_ABORT = 1,       /* print one line naming the stack, the request
                                    and the space left, then abort() */
    SH_OVERFLOW_CALL = 2,        /* call the handler; its return value is the result */
    SH_OVERFLOW_HEAP = 3         /* serve the request from the heap (sh_aligned_alloc)
                                    instead; the block is released by the pop of the
                                    enclosing frame, or by free_top */
} sh_overflow_policy;

/*
 * Overflow handler for SH_OVERFLOW_CALL.  Called with the stack unchanged,
 * the request that did not fit, and the `arg` given when it was installed.
 * Whatever it returns is what the failed allocation returns; errno is ENOMEM
 * on entry.  An allocation from the same stack made inside the handler
 * that overflows again returns NULL without recursing.  The handler may
 * longjmp out: later overflows call it again, except ones made from deeper
 * in the call stack than the overflow it left, which look nested until
 * sh_stack_set_overflow is called again.
 */
typedef void *sh_overflow_fn(sh_stack *s, size_t size, size_t align, void *arg);

/* A snapshot of a stack's counters (sh_stack_get_stats). */
typedef struct sh_stack_stats {
    size_t capacity;    /* usable bytes (the requested capacity rounded up to pages) */
    size_t in_use;      /* bytes between the bottom and the top, padding included */
    size_t available;   /* bytes left for one allocation at the default alignment */
    size_t high_water;  /* largest in_use ever reached */
    size_t frames;      /* frames currently open */
    uint64_t overflows; /* allocations that did not fit, whatever the policy did */
    size_t heap_blocks; /* blocks served by the heap under SH_OVERFLOW_HEAP, still live */
    size_t heap_bytes;  /* their total requested size */
} sh_stack_stats;

/*
 * Create a stack of `capacity` bytes (rounded up to whole pages).
 * Returns NULL with errno = EINVAL if capacity is 0, ENOMEM if it is too
 * large to reserve.  The memory is reserved, not committed: a 1 GiB stack
 * costs nothing until used.
 */
SH_API sh_stack *sh_stack_new(size_t capacity);

/*
 * Release a stack and everything on it (heap fallback blocks included).
 * Every pointer into it and every frame of it become invalid.  NULL does
 * nothing.  Deleting the calling thread's default stack aborts with a
 * message: it is released when its thread exits.
 */
SH_API void sh_stack_delete(sh_stack *s);

/*
 * Give the stack a name for messages (copied, at most 47 bytes kept).
 * Returns 0, or EINVAL if s or name is NULL.
 */
SH_API int sh_stack_set_name(sh_stack *s, const char *name);

/* The stack's name: the one set, or "stack@0x..." / "default stack of thread N". */
SH_API const char *sh_stack_name(const sh_stack *s);

/*
 * Choose what an allocation that does not fit does (sh_overflow_policy).
 * `fn` and `arg` are used by SH_OVERFLOW_CALL only (fn must be non-NULL then).
 * Returns 0, or EINVAL for a NULL stack, an unknown policy or a missing fn.
 */
SH_API int sh_stack_set_overflow(sh_stack *s, sh_overflow_policy policy, sh_overflow_fn *fn,
                                 void *arg);

/* Out-of-line paths of the inline functions below; call those instead. */
SH_API void *sh_stack_alloc_slow_(sh_stack *s, size_t size, size_t align);
SH_API void sh_stack_pop_slow_(sh_stack *s, sh_frame f);
SH_API SH_NORETURN void sh_stack_push_null_(void);

/*
 * Allocate `size` bytes aligned to `align` (any power of two, larger than a
 * page included).  Memory is not zeroed.  Inline fast path: one round-up,
 * one bounds check, one bump; no call, lock or atomic.
 *   - size 0: returns a valid, aligned, non-NULL pointer to zero usable
 *     bytes that takes no space (the next allocation may start there); it
 *     counts as the top allocation for free_top/resize_top.
 *   - does not fit (SIZE_MAX included): errno = ENOMEM, the stack is
 *     unchanged, the overflow counter is bumped, then the overflow policy
 *     decides (NULL by default).
 *   - align 0 or not a power of two: NULL, errno = EINVAL, stack unchanged.
 *   - s NULL: NULL, errno = EINVAL.
 */
static inline SH_WARN_UNUSED void *sh_stack_alloc_aligned(sh_stack *s, size_t size, size_t align)
{
    /* align - 1 < 4096 rejects 0 and keeps the round-up below from overflowing */
    if (sh_likely(s != NULL && align - 1 < 4096 && (align & (align - 1)) == 0)) {
        uintptr_t p = (s->top + (align - 1)) & ~(uintptr_t)(align - 1);
        uintptr_t new_top;
        if (sh_likely(!__builtin_add_overflow(p, size, &new_top) && new_top <= s->fast_end)) {
            s->top = new_top;
            s->last = p;
            return (void *)p;
        }
    }
    return sh_stack_alloc_slow_(s, size, align);
}

/* sh_stack_alloc_aligned(s, size, SH_STACK_ALIGN): same contract. */
static inline SH_WARN_UNUSED void *sh_stack_alloc(sh_stack *s, size_t size)
{
    return sh_stack_alloc_aligned(s, size, SH_STACK_ALIGN);
}

/*
 * Cursors: the stack at alloca's speed in hot loops.  A cursor is a copy of
 * the stack's top and end in a local variable, which the compiler keeps in
 * registers; sh_stack's own top lives in memory, and every sh_stack_alloc
 * must store it.  (Measured: bench/bench_stack, "sh_cursor_alloc" against
 * "alloca".)
 *
 *   sh_cursor c = sh_stack_cursor(s);     // opens it: s is the cursor's now
 *   for (...) { char *p = sh_cursor_alloc(&c, n); ... }
 *   sh_cursor_end(&c);                    // the stack's top is the cursor's
 *
 * Rules, each checked:
 *   - while a cursor is open, use the stack only through it: sh_stack_alloc,
 *     sh_stack_calloc, sh_stack_pop and sh_stack_trim abort with a message
 *     naming the stack; sh_stack_free_top returns EINVAL and
 *     sh_stack_resize_top NULL with errno EINVAL (the cursor's blocks are
 *     not theirs); sh_stack_get_stats counts what was allocated before the
 *     cursor opened;
 *   - push frames around a cursor, not inside it: sh_cursor_end aborts if
 *     the innermost frame changed;
 *   - one cursor per stack at a time (a second sh_stack_cursor aborts), at
 *     most 8 open in a thread, each used by the thread that opened it;
 *     sh_cursor_end twice, or sh_cursor_alloc after it, aborts (size 0
 *     excepted: it returns a pointer to no bytes, as always).
 * A copy of a cursor passed by value to a callee is a frame for free: the
 * callee's allocations are released when the caller goes on with its own
 * copy (LIFO, like alloca).  End the cursor with the outermost copy.
 * Allocations that do not fit take the stack's out-of-line path: the
 * overflow policy applies as for sh_stack_alloc (heap fallback blocks are
 * released by the pop of the frame that was open when the cursor opened).
 */
typedef struct sh_cursor {
    uintptr_t top; /* next block here: SH_STACK_ALIGN aligned, never 0 */
    uintptr_t end; /* blocks stay below; top <= end, end - top a multiple of 16 */
} sh_cursor;       /* two words: passed and returned in registers */

/* Open a cursor on s (see above).  s NULL, a cursor open on s already, or
   8 open in this thread: aborts with a message (as sh_stack_push does,
   there is no error to return). */
SH_API sh_cursor sh_stack_cursor(sh_stack *s);

/* Close cursor c: its stack's top becomes c's.  c NULL: nothing.  Aborts if
   c is no open cursor of this thread, or if its stack's innermost frame
   changed since it opened. */
SH_API void sh_cursor_end(sh_cursor *c);

/* Out-of-line path of sh_cursor_alloc (its results, returned by value so
   that the cursor itself never leaves registers). */
typedef struct sh_cursor_step_ {
    uintptr_t p, top, end;
} sh_cursor_step_;
SH_API sh_cursor_step_ sh_cursor_alloc_slow_(uintptr_t top, uintptr_t end, size_t size);

/*
 * Allocate `size` bytes aligned to SH_STACK_ALIGN from cursor c: the same
 * contract as sh_stack_alloc (size 0: a valid pointer taking no space; does
 * not fit: errno = ENOMEM, the overflow counter, then the policy).  Inline fast path: one compare
 * and one bump (end - top is a multiple of 16, so size fits exactly when its round-up does, and the
 * round-up cannot overflow).
 */
static inline SH_WARN_UNUSED void *sh_cursor_alloc(sh_cursor *c, size_t size)
{
    if (sh_likely(size <= c->end - c->top)) {
        uintptr_t p = c->top;
        if (p == 0) /* never: a cursor with room has a real top */
            __builtin_unreachable();
        c->top = p + ((size + (SH_STACK_ALIGN - 1)) & ~(uintptr_t)(SH_STACK_ALIGN - 1));
        return (void *)p;
    }
    sh_cursor_step_ r = sh_cursor_alloc_slow_(c->top, c->end, size);
    c->top = r.top;
    c->end = r.end;
    return (void *)r.p;
}

/*
 * Allocate n * size zeroed bytes at the default alignment.  n * size
 * overflowing returns NULL with errno = ENOMEM and counts as an overflow;
 * the policy is not applied (no block could hold that many bytes).
 */
SH_API void *sh_stack_calloc(sh_stack *s, size_t n, size_t size);

/*
 * Open a frame: everything allocated after it is released by the matching
 * sh_stack_pop.  Frames nest to any depth.  Never fails; a NULL stack aborts
 * with a message (there is no way to return an error in a frame).
 */
static inline sh_frame sh_stack_push(sh_stack *s)
{
    if (sh_unlikely(s == NULL))
        sh_stack_push_null_();
    sh_frame f;
    f.stack = s;
    f.mark = s->top;
    f.serial = ++s->next_serial;
    f.parent = s->frame_serial;
    f.depth = ++s->depth;
    s->frame_serial = f.serial;
    s->last = 0;
    return f;
}

/*
 * Close frame f: release everything allocated since its push (heap fallback
 * blocks included).  f must be the innermost open frame of s.  Aborts with a
 * message naming the stack and the frame if s is NULL, f belongs to another
 * stack, f was already popped, or frames pushed after f are still open.
 */
static inline void sh_stack_pop(sh_stack *s, sh_frame f)
{
    if (sh_likely(s != NULL && f.stack == s && f.serial == s->frame_serial && !s->pop_slow)) {
        if (s->top > s->high_water)
            s->high_water = s->top;
        s->top = f.mark;
        s->frame_serial = f.parent;
        s->depth--;
        s->last = 0;
        return;
    }
    sh_stack_pop_slow_(s, f);
}

/*
 * Release the most recent allocation p (the one returned last, if nothing
 * was pushed or popped since).  Only that single allocation can be freed
 * this way; a second free_top needs a new allocation first.
 * Returns 0; 0 for p == NULL (nothing to do); EINVAL (nothing changes) if
 * s is NULL or p is not the most recent allocation.
 */
SH_API int sh_stack_free_top(sh_stack *s, void *p);

/*
 * Resize the most recent allocation p to `size` bytes in place: growing a
 * buffer on top of the stack never copies.  Returns p; with p == NULL it
 * is sh_stack_alloc(s, size).  Failures leave p and the stack unchanged:
 *   - does not fit: NULL, errno = ENOMEM, counted as an overflow, and the
 *     policy applies.  A heap fallback block that must grow beyond its room
 *     is moved to a new heap block (counted as an overflow too, whatever
 *     the policy is now).
 *   - s NULL, or p not the most recent allocation: NULL, errno = EINVAL.
 */
SH_API void *sh_stack_resize_top(sh_stack *s, void *p, size_t size);

/*
 * The calling thread's stack, created on first use with the capacity in
 * STACKHEAP_STACK_SIZE (bytes, or with a K, M, G or T suffix: "64K", "8M",
 * "1G") or SH_STACK_DEFAULT_CAPACITY.  An unreadable value prints one
 * warning and uses the default.  Released when the thread exits.  Returns
 * NULL with errno = ENOMEM if the stack cannot be created.
 */
SH_API sh_stack *sh_stack_default(void);

/*
 * Fill *out with a snapshot of s's counters.  Returns 0, or EINVAL if s or
 * out is NULL.
 */
SH_API int sh_stack_get_stats(const sh_stack *s, sh_stack_stats *out);

/*
 * Give the physical pages above the current top back to the OS (the
 * reservation stays).  Useful after a deep, rare spike.  Returns the number
 * of bytes released, 0 for a NULL stack.
 */
SH_API size_t sh_stack_trim(sh_stack *s);

/* ======================================================================== */
/* The heap                                                                 */
/* ======================================================================== */

/*
 * A general-purpose, thread-safe allocator.  Each thread allocates from its
 * own heap without locks; any thread may free any block.  Memory comes from
 * the OS on demand and goes back to it when unused (after
 * STACKHEAP_PURGE_DELAY milliseconds, 250 by default, or at once through
 * sh_heap_collect(true); free memory in a segment the program keeps freeing
 * into waits until one delay after the last such free, at most 8 delays),
 * whether or not the program goes on calling the
 * allocator: the first time memory is freed, the library starts a thread of
 * its own, "stackheap-purge", that gives back what is due in every thread's
 * heap and sleeps, with no timeout, once nothing is left (every signal is
 * blocked in it; it never delays exit; a child of fork starts none, since
 * creating a thread there can wait forever on a lock another thread of the
 * parent held, and purges at its slow paths).  STACKHEAP_BACKGROUND=0 turns
 * it off, for programs that
 * must stay single-threaded (unshare(CLONE_NEWUSER) refuses a process with
 * two threads): then memory goes back at the allocator's next slow path.
 * What an idle program keeps: for each thread, each size class's last page
 * (up to 64 KiB for blocks up to 8 KiB, 1 MiB above), decommitted down to a
 * few KiB at that thread's next slow path; and, for each thread, up to 16
 * KiB per size class of blocks up to 4 KiB that it freed for other threads
 * and keeps to hand out again, until its next purge scan (a slow path once
 * the purge delay has passed), malloc_trim or its exit (they keep their
 * pages live; mallinfo2 counts them in uordblks).
 *
 * Unless built with -DSH_OVERRIDE=OFF, libstackheap also exports malloc,
 * free, calloc, realloc, reallocarray, aligned_alloc, posix_memalign,
 * memalign, valloc, pvalloc and malloc_usable_size with these semantics, so
 * linking it (or LD_PRELOAD) replaces the system allocator; also cfree, glibc's
 * __libc_malloc, __libc_free, __libc_calloc, __libc_realloc, __libc_memalign,
 * __libc_valloc and __libc_pvalloc (the same functions), C23's free_sized(p,
 * size) and free_aligned_sized(p, align, size), C++'s operator new and
 * delete in every form (plain, array, nothrow, sized, align_val_t), and
 * glibc's mallinfo, mallinfo2, malloc_stats, malloc_info, mallopt and
 * malloc_trim, answered from stackheap's own figures:
 *   - mallinfo2: arena = bytes of the segments of small, medium and span
 *     blocks; uordblks = bytes of the blocks handed out in them; fordblks =
 *     arena - uordblks; ordblks = carved blocks not handed out; hblks and
 *     hblkhd = large blocks (mappings of their own) and their bytes;
 *     keepcost = bytes kept for reuse (malloc_trim gives them back at once);
 *     a snapshot taken without stopping other threads.  mallinfo: the same,
 *     each field clamped to INT_MAX;
 *   - malloc_stats: glibc's layout on stderr; malloc_info(0, fp): glibc's
 *     XML, one heap (options other than 0: -1 + EINVAL);
 *   - mallopt: glibc's nine parameters are accepted (returns 1) and have no
 *     effect (docs/DESIGN.md says why, one by one); any other returns 0;
 *   - malloc_trim(pad): every thread's free pages and every cache go back at
 *     once; the last page each other thread keeps per size class (see
 *     above) at that thread's next slow path, since only a heap's owner may
 *     touch a page in use; returns 1 if memory went back.  pad is ignored.  A sized
 * or aligned free or delete checks its size and alignment (see "Misuse").
 * operator new calls the new-handler and then throws std::bad_alloc when
 * memory runs out; its nothrow forms return NULL without calling the handler.
 *
 * Conventions of every function below:
 *   - a failure returns NULL (or an error number) with errno set, never aborts;
 *   - blocks are aligned to 16 bytes when their size is 16 or more (8 below);
 *   - sh_free and sh_realloc accept NULL.
 *
 * Misuse (release mode, the default build; -DSH_HARDEN=OFF removes these
 * checks and exists only to measure them).  Each is one line on stderr
 * ("stackheap: double free: free(0x...) of a 48-byte block that is free
 * already") and abort(), as glibc does, before anything is changed:
 *   - a double free (sh_free, sh_realloc, C++ delete) of a block of any size,
 *     by any thread (a block another thread freed and keeps for reuse too),
 *     as long as the freed block was not written to in between (check mode
 *     finds that case too); sh_usable_size of a freed block;
 *   - a pointer into a block that is not its start (any size; the pointer an
 *     over-aligned allocation returned is its start), into stackheap's page
 *     metadata, past a page's carved blocks, or into memory stackheap
 *     released;
 *   - a pointer no allocator handed out (a global, the stack, a page the
 *     program mapped, a wild value).  Left alone instead: the dynamic
 *     loader's own early allocations, which it frees through free under
 *     LD_PRELOAD (they lie in memory that existed when the library was
 *     loaded; sh_realloc copies them, up to the end of their OS page);
 *   - a damaged free-list link (an overflow into a free block, or a write
 *     after free into its first 8 bytes), found when malloc reaches it;
 *   - a damaged header of a block above 128 KiB (an overflow from before it);
 *   - free_sized, free_aligned_sized or C++'s sized or aligned delete with a
 *     size the block could not have been allocated with (larger than it, or
 *     of another size class; realloc's in-place sizes are accepted) or an
 *     alignment the pointer does not have (check mode: any size other than
 *     the one asked for).
 * Free lists are encoded with a per-process random key and heap addresses
 * start at a random place (ASLR for the heap).  Cost (docs/BENCHMARKS.md,
 * "Hardening"): 63 instructions a malloc+free pair instead of 41 (22 more,
 * as 77 against 55 were when the time was measured); 1.4% of the time of
 * `make bench`'s workloads (geometric mean), up to 18% in loops that do
 * nothing but malloc and free cold blocks.  Not caught in release mode: an
 * overflow that stays within live blocks, a write after free past a free
 * block's first 8 bytes, reads of freed memory: check mode finds the writes.
 *
 * Check mode (STACKHEAP_CHECK=1 in the environment, or `stackheap run
 * --check -- PROGRAM`) finds, in any program, with call stacks: leaks at
 * exit (definitely lost versus still reachable), double and invalid frees
 * (reported, then abort: STACKHEAP_CHECK_ABORT=0 ignores the call instead),
 * writes before or after a block (at free, realloc and exit) and writes into
 * freed blocks (when they leave the quarantine).  It is decided at
 * the first allocation and costs nothing when off.  In check mode every
 * block is 16-aligned (or as asked), sh_usable_size returns the size asked
 * for, and realloc always moves the block.  Under Valgrind the heap
 * describes its blocks to memcheck instead (VALGRIND_MALLOCLIKE_BLOCK).
 *
 * Sampled guarding (STACKHEAP_SAMPLE=N in the environment; off by default;
 * not with check mode), in the manner of GWP-ASan: about one malloc in N of
 * the public heap (up to a page; not aligned allocations) is served from a
 * page of its own between no-access pages, ending at the page's end (64 such
 * blocks live at once; more are served by the heap).  A read or write past
 * its end, before its page, or into it after its free faults at that
 * instruction: a SIGSEGV handler prints what it was (heap buffer overflow
 * or underflow, use after free), the address, where it lies in the block,
 * and the stacks of the access, of the free and of the allocation, then
 * hands the signal on to the handler it replaced (by default the process
 * dies of SIGSEGV).  A write into the alignment slack after the block (up
 * to 15 bytes) or before it within its page, and a double free, are
 * reported at free, then abort.  The cost when on (docs/BENCHMARKS.md,
 * "Sampled guarding"): every malloc takes a slow path, and each sampled
 * block two mprotect calls.
 */
typedef struct sh_heap sh_heap;

/* size bytes, uninitialised.  malloc(0) returns a unique pointer that must be
   freed.  NULL + ENOMEM when the OS refuses or size is absurd (SIZE_MAX). */
SH_API SH_MALLOC_LIKE void *sh_malloc(size_t size);

/* n * size zeroed bytes.  NULL + ENOMEM if n * size overflows. */
SH_API SH_MALLOC_LIKE void *sh_calloc(size_t n, size_t size);

/*
 * Resize p to size bytes, keeping its contents up to the smaller size.
 * p NULL: sh_malloc(size).  size 0 (p not NULL): frees p, returns NULL (as
 * glibc does).  On failure returns NULL + ENOMEM and p is untouched.  May
 * return p itself; large blocks grow in place or move without copying.  A
 * block of 8 KiB to 128 KiB that must move to grow takes half again the room
 * it had (usable size up to 1.5 times, at most 128 KiB), so a buffer grown by
 * appends is copied a few times per doubling, not at every size class.  p
 * must be a live block: anything else aborts as sh_free does.
 */
SH_API void *sh_realloc(void *p, size_t size);

/* sh_realloc(p, n * size); NULL + ENOMEM (p untouched) if n * size overflows. */
SH_API void *sh_reallocarray(void *p, size_t n, size_t size);

/* Release p (from any sh_ allocation function, in any thread).  NULL does
   nothing; a double free or a pointer that is not a block aborts (see above). */
SH_API void sh_free(void *p);

/* size bytes aligned to align.  NULL + EINVAL if align is not a power of two;
   any power of two is accepted (1 MiB and more included). */
SH_API SH_MALLOC_LIKE void *sh_aligned_alloc(size_t align, size_t size);

/* *out = size bytes aligned to align; returns 0, EINVAL (align not a power of
   two or below sizeof(void *), or out NULL) or ENOMEM; *out is untouched on
   failure.  errno is set to the same value. */
SH_API int sh_posix_memalign(void **out, size_t align, size_t size);

/* Bytes usable at p (>= what was asked).  0 for NULL or one of the loader's
   early blocks; a freed block, a pointer into a block, or any other pointer
   no allocator handed out aborts (see above).  In check mode: the size asked
   for. */
SH_API size_t sh_usable_size(const void *p);

/*
 * First-class heaps.  A heap from sh_heap_new belongs to the calling thread:
 * only that thread allocates from it (others get NULL + EPERM), any thread
 * may sh_free its blocks, and sh_heap_destroy releases every block still in
 * it at once.  If its thread exits first, its blocks stay valid (other
 * threads adopt them) and sh_heap_destroy then releases only its large
 * blocks and the handle.
 */
/* A new, empty heap.  NULL + ENOMEM. */
SH_API sh_heap *sh_heap_new(void);
/* Like sh_malloc/sh_calloc/sh_realloc, from h.  NULL + EINVAL for a NULL heap,
   NULL + EPERM from a thread that does not own h.  sh_heap_realloc moves p
   into h when it must move it. */
SH_API SH_MALLOC_LIKE void *sh_heap_malloc(sh_heap *h, size_t size);
SH_API SH_MALLOC_LIKE void *sh_heap_calloc(sh_heap *h, size_t n, size_t size);
SH_API void *sh_heap_realloc(sh_heap *h, void *p, size_t size);
/* Free every block of h and h itself.  NULL does nothing.  Aborts with a
   message if h belongs to another living thread. */
SH_API void sh_heap_destroy(sh_heap *h);

/*
 * Return unused memory to the OS now.  force false: what the purge delay has
 * already released; true: every empty page of the calling thread's heaps
 * (and of exited threads' heaps, which this thread adopts) at once.
 */
SH_API void sh_heap_collect(bool force);

/* ------------------------------------------------------------------------ */
/* Automatic release                                                         */
/* ------------------------------------------------------------------------ */

/* Cleanup hook used by SH_FRAME and SH_SCOPE. */
static inline void sh_frame_cleanup_(sh_frame *f)
{
    sh_stack_pop(f->stack, *f);
}

#define SH_CONCAT_(a, b) a##b
#define SH_CONCAT(a, b) SH_CONCAT_(a, b)

/*
 * SH_FRAME(s);  -- declare, in the current block, a frame of s that is
 * popped when the block is left in any way: falling off its end, return,
 * break, continue or goto.  SH_FRAME_NAMED(f, s) names the frame variable.
 */
#define SH_FRAME_NAMED(name, s)                                                                    \
    sh_frame name __attribute__((cleanup(sh_frame_cleanup_), unused)) = sh_stack_push(s)
#define SH_FRAME(s) SH_FRAME_NAMED(SH_CONCAT(sh_frame_at_line_, __LINE__), s)

/*
 * SH_SCOPE(s) { ... }  -- run the block in a new frame of s, popped however
 * the block is left (return and goto included).  The block is a one-pass
 * loop: `break` or `continue` inside it leaves the scope (not an enclosing
 * loop); use SH_FRAME in the loop body when that matters.
 */
#define SH_SCOPE(s) SH_SCOPE_(s, SH_CONCAT(sh_scope_at_line_, __LINE__))
#define SH_SCOPE_(s, v)                                                                            \
    for (sh_frame v __attribute__((cleanup(sh_frame_cleanup_))) = sh_stack_push(s),                \
                    *SH_CONCAT(v, _once) = &v;                                                     \
         SH_CONCAT(v, _once) != NULL; SH_CONCAT(v, _once) = NULL)

#ifdef __cplusplus
}
#endif
#endif /* STACKHEAP_H */

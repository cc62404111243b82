/*
 * page.c -- pages of one size class, their free lists and the heap's queues.
 *
 * Each bin of a heap has a queue of pages; heap->direct[bin] is its first
 * page (or the shared empty page), the one malloc's fast path pops from.
 * When that page has no free block the slow path, in order:
 *   1. gathers its local_free and thread_free lists back into free;
 *   2. carves more never-used blocks out of it (pages are carved a few KiB
 *      at a time so that untouched memory stays uncommitted);
 *   3. moves it to the heap's full list and tries the next page;
 *   4. takes a new page from a segment.
 *
 * Full pages.  A page on the full list has SH_PAGE_FULL in flags and
 * SH_TF_FULL in its thread_free word (so another thread's free learns, in
 * the same atomic exchange that pushes its block, that it must raise
 * heap->full_pending).  The owner sets SH_TF_FULL only with a CAS that
 * finds thread_free empty, so no block pushed before that is missed, and
 * every block pushed after it raises the flag.  The owner's frees into a
 * full page take free's fast path, onto its list, and the page's heartbeat
 * (sh_page_beat), brought to an eighth of its blocks away (1 to UNFULL_MAX)
 * when it went full, puts it back in its queue.  A program that replaces
 * random blocks (a server's working set) frees into full pages nearly
 * every time: each such free was a slow path, and the page went back with
 * one free block, full again at the next malloc.  A full page holds fewer
 * than UNFULL_MAX free blocks malloc cannot see (the slow paths that free,
 * sh_heap_free_block, put it back at once).
 *
 * Invariants:
 *   - used == blocks handed out and not yet back in free/local_free or
 *     counted from thread_free; a page with used == 0 and no thread_free
 *     blocks holds no live block;
 *   - a page is in exactly one of: its bin queue, the full list, or free in
 *     its segment (in_use == false).
 */
#define _GNU_SOURCE
#include "heap_internal.h"

#include <errno.h>

/* Blocks are carved a 4 KiB memory page at a time: an extension writes the
   links of the blocks that start in one page, so a size class a program
   uses for a handful of blocks makes one page resident, not two. */
#define EXTEND_BYTES ((size_t)4 << 10)

void sh_page_queue_remove(sh_page_queue *q, sh_page *pg)
{
    if (pg->prev)
        pg->prev->next = pg->next;
    else
        q->first = pg->next;
    if (pg->next)
        pg->next->prev = pg->prev;
    else
        q->last = pg->prev;
    pg->next = pg->prev = NULL;
}

void sh_page_queue_push_front(sh_page_queue *q, sh_page *pg)
{
    pg->prev = NULL;
    pg->next = q->first;
    if (q->first)
        q->first->prev = pg;
    else
        q->last = pg;
    q->first = pg;
}

static void queue_push_back(sh_page_queue *q, sh_page *pg)
{
    pg->next = NULL;
    pg->prev = q->last;
    if (q->last)
        q->last->next = pg;
    else
        q->first = pg;
    q->last = pg;
}

/* Point bin's entries of direct and small_direct at pg. */
static void set_direct(sh_heap *h, unsigned bin, sh_page *pg)
{
    h->direct[bin] = pg;
    for (unsigned i = sh_small_bin_first[bin]; i <= sh_small_bin_last[bin]; i++)
        h->small_direct[i] = pg;
}

/* Sampled profile: pg becomes its bin's direct page outside malloc's slow
   path, whose free list no trial was made for: hand the list to local_free,
   so that the fast path comes to the slow path, which makes them ("sampling",
   below).  A trap on pg goes (its list is merged: its trial is not made). */
static SH_NOINLINE void prof_defer(sh_heap *h, sh_page *pg)
{
    if (h->prof_trap[pg->bin] == pg)
        h->prof_trap[pg->bin] = NULL;
    if (!sh_is_block(pg->free))
        return;
    if (sh_is_block(pg->local_free))
        sh_page_collect(pg);
    pg->local_free = pg->free;
    pg->free = (sh_block *)sh_segment_of(pg);
}

void sh_heap_update_direct(sh_heap *h, unsigned bin)
{
    sh_page *first = h->bins[bin].first, *was = h->direct[bin];
    set_direct(h, bin, first != NULL ? first : &sh_empty_page);
    /* (a page that stays direct keeps its list: its trials are made) */
    if (sh_unlikely(sh_prof_mode == SH_PROF_SAMPLED) && first != NULL && first != was &&
        h->is_default)
        prof_defer(h, first);
}

/* Carve the next never-used blocks of pg into its free list (free is empty):
   those that start in the 4 KiB memory page of the first (at least one). */
static void page_extend(sh_page *pg)
{
    size_t bs = pg->block_size;
    uint8_t *b = sh_page_start(pg) + (size_t)pg->capacity * bs;
    size_t room = EXTEND_BYTES - ((uintptr_t)b & (EXTEND_BYTES - 1));
    uint32_t n = (uint32_t)((room + bs - 1) / bs);
    if (n > (uint32_t)(pg->reserved - pg->capacity))
        n = (uint32_t)(pg->reserved - pg->capacity);
    pg->free = (sh_block *)b;
    for (uint32_t i = 1; i < n; i++, b += bs)
        ((sh_block *)b)->link = sh_link_encode(b, b + bs);
    ((sh_block *)b)->link = sh_link_encode(b, sh_segment_of(pg));
    /* relaxed: other threads freeing earlier blocks read it (sh_page_block) */
    __atomic_store_n(&pg->capacity, (uint16_t)(pg->capacity + n), __ATOMIC_RELAXED);
    sh_page_publish(pg);
}

void sh_page_init(sh_page *pg, unsigned bin, size_t area)
{
    pg->block_size = (uint32_t)sh_bin_size(bin);
    pg->bin = (uint8_t)bin;
    pg->reserved = (uint16_t)(area / pg->block_size);
    __atomic_store_n(&pg->capacity, 0, __ATOMIC_RELAXED);
    pg->used = 0;
    sh_page_set_flags(pg, sh_cfg_harden && pg->index == 0 ? SH_PAGE_FIRST : 0);
    __atomic_store_n(&pg->has_aligned, false, __ATOMIC_RELAXED);
    pg->free = (sh_block *)sh_segment_of(pg); /* the owner's frees push on it */
    pg->local_free = (sh_block *)sh_segment_of(pg);
    pg->beat = SH_PAGE_BEAT;
    atomic_store_explicit(sh_page_tf(pg), 0, memory_order_relaxed);
    pg->next = pg->prev = NULL;
    page_extend(pg);
}

/* Put list (ending at tail) in front of pg->free. */
static void prepend_free(sh_page *pg, sh_block *list, sh_block *tail)
{
    sh_block *rest = pg->free;
    tail->link = sh_link_encode(tail, sh_is_block(rest) ? (void *)rest : sh_segment_of(pg));
    pg->free = list;
}

/* Put list (of n blocks, ending at the end marker) in front of pg->free,
   walking it for its tail only when free is not empty.  n bounds the walk:
   a longer list has a cycle. */
static void join_free(sh_page *pg, sh_block *list, uint32_t n)
{
    if (!sh_is_block(pg->free)) {
        pg->free = list;
        return;
    }
    sh_block *tail = list, *next;
    uint32_t steps = 1;
    while (sh_is_block(next = sh_link_next(pg, tail))) {
        tail = next;
        if (++steps > n)
            sh_link_corrupt(pg, tail);
    }
    prepend_free(pg, list, tail);
}

/*
 * thread_free first: free is empty in the usual call (malloc ran dry), so
 * the list other threads pushed becomes free as it is, its count from the
 * word, its lines untouched until malloc pops them one by one.  local_free
 * (this thread's lines) is then walked for its tail if need be.  A list
 * that is not what the count says (a cycle, from a block pushed twice that
 * did not look freed) is caught where its blocks are popped: a popped
 * block's link is zeroed, which does not decode (sh_page_pop).
 */
bool sh_page_collect(sh_page *pg)
{
    /* relaxed peek avoids the exchange when nothing is there; the exchange also
       clears SH_TF_FULL, so callers clear SH_PAGE_FULL first */
    if (atomic_load_explicit(sh_page_tf(pg), memory_order_relaxed) != 0) {
        /* acquire: the blocks' links were written before their push */
        uintptr_t tf = atomic_exchange_explicit(sh_page_tf(pg), 0, memory_order_acquire);
        sh_block *list = SH_TF_BLOCK(tf);
        if (list != NULL) {
            if (sh_cfg_harden && (tf & SH_TF_SUSPECT))
                sh_page_check_gathered(pg, list);
            uint32_t n = (uint32_t)(tf >> SH_TF_COUNT_SHIFT);
            if (n == 0 || n > pg->used)
                sh_heap_misuse("double free", "free", list,
                               "of a %u-byte block: the page has %u blocks handed out and "
                               "got %u back from other threads",
                               pg->block_size, pg->used, n);
            pg->used -= n;
            join_free(pg, list, n);
        }
    }
    if (sh_is_block(pg->local_free)) {
        join_free(pg, pg->local_free, pg->reserved);
        pg->local_free = (sh_block *)sh_segment_of(pg); /* an empty list */
    }
    return sh_is_block(pg->free);
}

/* The owner's frees that bring a full page back to its queue (see "Full
   pages"): an eighth of its blocks, at least 1, at most UNFULL_MAX. */
#define UNFULL_SHARE 8
#define UNFULL_MAX 4

/*
 * Move pg (no free block, fully carved) from its queue to the full list.
 * Returns false, leaving it in place, if blocks arrived from other threads.
 */
static bool page_to_full(sh_heap *h, sh_page *pg)
{
    uintptr_t tf = atomic_load_explicit(sh_page_tf(pg), memory_order_relaxed);
    do {
        if (tf != 0)
            return false;
        /* acq_rel: pairs with remote pushes so no block lands unseen */
    } while (!atomic_compare_exchange_weak_explicit(sh_page_tf(pg), &tf, SH_TF_FULL,
                                                    memory_order_acq_rel, memory_order_relaxed));
    sh_page_queue_remove(&h->bins[pg->bin], pg);
    sh_page_queue_push_front(&h->full, pg);
    sh_page_set_flags(pg, pg->flags | SH_PAGE_FULL);
    uint32_t after = pg->reserved / UNFULL_SHARE;
    after = after < 1 ? 1 : after > UNFULL_MAX ? UNFULL_MAX : after;
    if (pg->beat > after)
        pg->beat = after;
    return true;
}

/*
 * Take pg off the full list, to the back of its bin queue: it has a block or
 * two free, and as the direct page it would be full again at the next
 * malloc (a free into a full page, then a malloc, would move it each time).
 * At the back it collects more frees before malloc comes round to it.
 */
void sh_page_unfull(sh_heap *h, sh_page *pg)
{
    sh_page_queue_remove(&h->full, pg);
    sh_page_set_flags(pg, pg->flags & ~(uint32_t)SH_PAGE_FULL);
    sh_page_collect(pg); /* the exchange clears SH_TF_FULL */
    sh_page_queue *q = &h->bins[pg->bin];
    queue_push_back(q, pg);
    if (q->first == pg)
        sh_heap_update_direct(h, pg->bin);
}

/* Bring back every full page that received blocks from other threads. */
static void collect_full(sh_heap *h)
{
    /* a load first: the exchange is a locked write to a line other threads
       write, and most slow paths find nothing pending; acquire: pairs with
       the remote freer's release of the flag */
    if (atomic_load_explicit(&h->full_pending, memory_order_relaxed) == 0 ||
        !atomic_exchange_explicit(&h->full_pending, 0, memory_order_acquire))
        return;
    for (sh_page *pg = h->full.first, *next; pg != NULL; pg = next) {
        next = pg->next;
        if ((atomic_load_explicit(sh_page_tf(pg), memory_order_relaxed) & ~SH_TF_FULL) != 0)
            sh_page_unfull(h, pg);
    }
}

/* Push the list first..last (n blocks, linked, of pg) on pg's thread_free. */
static SH_ALWAYS_INLINE void push_remote(sh_page *pg, sh_block *first, sh_block *last, uint32_t n,
                                         bool suspect)
{
    /* read first: once the blocks are pushed the page may go away (heaps never do) */
    sh_segment *seg = sh_segment_of(pg);
    sh_heap *h = __atomic_load_n(&seg->heap, __ATOMIC_RELAXED);
    uintptr_t tf = atomic_load_explicit(sh_page_tf(pg), memory_order_relaxed);
    uintptr_t mark = suspect ? SH_TF_SUSPECT : 0;
    uintptr_t counts = ~(uintptr_t)0 << SH_TF_COUNT_SHIFT;
    uintptr_t word;
    do {
        sh_block *head = SH_TF_BLOCK(tf);
        last->link = sh_link_encode(last, head != NULL ? (void *)head : seg);
        /* the count grows by n (a carry past bit 63 is dropped), the bits are kept */
        word = (uintptr_t)first | ((tf | mark) & SH_TF_BITS) |
               ((tf & counts) + ((uintptr_t)n << SH_TF_COUNT_SHIFT));
        /* release: the owner must see b->link; acquire: orders with the owner's CAS */
    } while (!atomic_compare_exchange_weak_explicit(sh_page_tf(pg), &tf, word, memory_order_acq_rel,
                                                    memory_order_relaxed));
    if ((tf & SH_TF_FULL) && h != NULL)
        atomic_store_explicit(&h->full_pending, 1, memory_order_release);
}

void sh_page_free_remote(sh_page *pg, sh_block *b, bool suspect)
{
    push_remote(pg, b, b, 1, suspect);
}

/*
 * Borrowing.  A block freed by a thread that does not own its page is kept
 * by that thread, in its default heap's borrowed list for the block's bin,
 * and its next malloc of that bin hands it out again: no atomic operation,
 * and the block is hot in this core's cache (a producer and a consumer that
 * swap blocks would otherwise move each block, and its page's descriptor,
 * between cores twice).  The block stays its page's: the page counts it as
 * handed out all along, so it cannot be freed or purged under the borrower.
 *
 * A list holds blocks of one page (its links are the page's ordinary
 * encoded links, so malloc's fast path pops it like a page: once it holds
 * BORROW_SERVE blocks or half its cap, the heap's direct entry for the bin
 * points at it).  Blocks join a list only before malloc has taken any from
 * it: a thread that frees, in turn, the blocks it was handed from its list
 * (larson) would otherwise keep them circulating as remote frees that
 * never go home, where its own pages would give it local ones.  A block of
 * another page than the list's, or of a list malloc has drawn from, is
 * freed to its page as before; so are the next BORROW_BACKOFF blocks of a
 * bin whose list filled up without malloc drawing from it.  A list past its
 * cap, the thread's exit, its purge scans and malloc_trim give the list
 * back to its page with one push.  Only blocks of default heaps' segments
 * are borrowed: a first-class heap frees its pages at destroy whatever is
 * live.  Not in check mode, nor for 8-byte blocks.
 *
 * The outbox.  A block that may not be borrowed for another reason than
 * the gate above (another page than the list's, a list malloc has drawn
 * from, backing off) goes to the thread's outbox: a list of blocks of one
 * page, pushed on that page's thread_free with one exchange when a block of
 * another page comes, when it holds OUTBOX_BYTES, and wherever borrowed
 * lists are given back (the thread's exit, its purge scans, malloc_trim),
 * and at its malloc's slow path.  A thread that frees what another
 * allocated in runs (xmalloc-test's consumers, a queue's reader) makes one
 * atomic exchange a run, where it made one a block, each a round trip of
 * the page's thread_free line between cores; a thread whose frees hop from
 * page to page (larson) pushes each block as before, one free later.  The
 * page counts the outbox's blocks as handed out until the push: they hold
 * no more than OUTBOX_BYTES of one page per thread, for no longer than the
 * thread's next malloc slow path or purge scan.
 *
 * Double frees: a borrowed block, or one in an outbox, holds a valid link
 * (its first word) and sh_borrow_tag (its second), and nothing else writes
 * both: a free that finds them, by any thread, is a double free
 * (integrity.c), even though no other thread can see the list the block is
 * on.
 */

/* Blocks a list may hold: up to BORROW_BYTES of them, at least 4. */
#define BORROW_BYTES ((size_t)16 << 10)
#define BORROW_MAX_BLOCK ((size_t)4 << 10)
/* Blocks a list holds before malloc hands them out (see sh_page_free_foreign). */
#define BORROW_SERVE 8
/* Frees of a bin that go to their pages, not to a list, after a list of
   that bin filled up with no malloc drawing from it (a thread that only
   frees others' blocks gains nothing from keeping them: they would come
   back to their owner later, in a batch, and its pages would grow meanwhile). */
#define BORROW_BACKOFF 1024

static void borrowed_return(sh_heap *h, unsigned bin)
{
    sh_page *bp = &h->borrowed[bin];
    if (sh_is_block(bp->free)) { /* counted here, on this thread's lines */
        uint32_t n = 1;
        for (const sh_block *b = bp->free; b != bp->local_free; b = sh_link_next(bp, b))
            n++;
        push_remote(bp->next, bp->free, bp->local_free, n, false);
    }
    bp->free = NULL;
    bp->next = NULL;
    bp->capacity = 0;
    bp->used = 0;
    if (h->direct[bin] == bp)
        sh_heap_update_direct(h, bin);
}

/* Bytes of blocks an outbox holds before it is pushed. */
#define OUTBOX_BYTES ((size_t)16 << 10)

/* Push h's outbox, if it holds blocks, on their page's thread_free. */
static inline void outbox_flush(sh_heap *h)
{
    if (h->outbox.page != NULL) {
        push_remote(h->outbox.page, h->outbox.first, h->outbox.last, h->outbox.n, false);
        h->outbox.page = NULL;
    }
}

void sh_heap_return_borrowed(sh_heap *h, unsigned bin)
{
    if (bin < SH_BINS) {
        borrowed_return(h, bin);
        return;
    }
    for (bin = 2; bin < SH_BINS; bin++)
        if (h->borrowed[bin].next != NULL)
            borrowed_return(h, bin);
    outbox_flush(h);
}

/* Push b on the list at *head that this thread holds (a borrowed list or
   the outbox: blocks of b's page), tagged as held (see "Double frees"). */
static inline void hold_push(sh_block **head, sh_block *b)
{
    if (sh_cfg_harden)
        ((uintptr_t *)b)[1] = sh_borrow_tag(b);
    b->link = sh_link_encode(b, *head);
    *head = b;
}

/* h's outbox holds blocks of pg and has room for one more of block_size. */
static inline bool outbox_takes(const sh_heap *h, const sh_page *pg, uint32_t block_size)
{
    return h->outbox.page == pg && h->outbox.bytes + block_size <= OUTBOX_BYTES;
}

/* Add b to h's outbox, which takes it (outbox_takes). */
static inline void outbox_push(sh_heap *h, sh_block *b, uint32_t block_size)
{
    hold_push(&h->outbox.first, b);
    h->outbox.n++;
    h->outbox.bytes += block_size;
}

/* Put b, of pg (another heap's), in h's outbox. */
static void outbox_put(sh_heap *h, sh_page *pg, sh_block *b, uint32_t block_size)
{
    if (!outbox_takes(h, pg, block_size)) {
        outbox_flush(h);
        h->outbox.page = pg;
        h->outbox.first = (sh_block *)sh_segment_of(pg); /* an empty list */
        h->outbox.last = b;
        h->outbox.n = 0;
        h->outbox.bytes = 0;
    }
    outbox_push(h, b, block_size);
}

/* Push b on list bp (of b's page). */
static inline void borrow_push(sh_page *bp, sh_block *b)
{
    hold_push(&bp->free, b);
    bp->capacity++;
}

/* sh_page_free_foreign's other cases: back off, start a list, or give a
   full one back; and point the direct entry at a list worth popping.  False:
   not borrowed. */
static SH_NOINLINE bool borrow_slow(sh_heap *h, sh_page *bp, sh_page *pg, sh_block *b, unsigned bin,
                                    uint32_t block_size)
{
    if (bp->reserved != 0) { /* backing off: this thread did not reuse a full list */
        bp->reserved--;
        return false;
    }
    bool empty = !sh_is_block(bp->free);
    if (!empty && (bp->next != pg || bp->used != 0))
        return false; /* frees from many pages (larson): the list stays on its page */
    if (empty || (uint32_t)(bp->capacity - bp->used) * block_size >= BORROW_BYTES) {
        if (!empty) { /* full, and malloc never drew from it: a consumer, not a swapper */
            bp->reserved = BORROW_BACKOFF;
            borrowed_return(h, bin);
            return false;
        }
        borrowed_return(h, bin);
        bp->next = pg;
        bp->local_free = b;
        bp->free = (sh_block *)sh_segment_of(pg); /* an empty list */
    }
    borrow_push(bp, b);
    uint32_t held = (uint32_t)bp->capacity - bp->used;
    /* malloc pops the list once it is worth the slow path that follows
       when it runs dry (a block at a time would cost one per block) */
    if (h->direct[bin] != bp && (held >= BORROW_SERVE || held * block_size >= BORROW_BYTES / 2))
        set_direct(h, bin, bp);
    return true;
}

/* sh_page_free_foreign's cases that are more than one push: a thread's
   first free, a block that goes to its page at once, and borrow_slow's. */
static SH_NOINLINE void free_foreign_slow(sh_heap *h, sh_page *pg, sh_block *b, unsigned bin,
                                          uint32_t block_size)
{
    sh_segment *seg = sh_segment_of(pg);
    /* a thread that frees before it allocates (a consumer) gets its heap
       here: the outbox is its heap's, given back at its exit.  Its bins
       start backing off: a thread that does not allocate gains nothing from
       borrowed lists, which would hold up to BORROW_BYTES in each bin */
    if (sh_unlikely(h == NULL) && !sh_checking() && (h = sh_heap_thread_init()) != NULL)
        for (unsigned i = 0; i < SH_BINS; i++)
            h->borrowed[i].reserved = BORROW_BACKOFF;
    /* sh_tls_heap is the empty heap in check mode */
    if (h == NULL || sh_tls_heap != h || block_size > BORROW_MAX_BLOCK || bin < 2 ||
        !atomic_load_explicit(&seg->lendable, memory_order_relaxed) ||
        atomic_load_explicit(&seg->thread_id, memory_order_relaxed) == 0) {
        push_remote(pg, b, b, 1, false);
        return;
    }
    if (!borrow_slow(h, &h->borrowed[bin], pg, b, bin, block_size))
        outbox_put(h, pg, b, block_size);
}

/*
 * The two common cases are pushes, with no call (the outbox's saves no
 * register either): one more block for the outbox's page, or for a
 * borrowed list malloc has not drawn from.  An outbox holds pg only after
 * borrow_slow refused a block of pg, and what refused it lasts until
 * malloc's slow path (which flushes the outbox): a backing-off bin (its
 * countdown is taken here too), or a list of another page or one malloc
 * drew from.  Either push needs the checks the first block of its list
 * passed (its bin's size, a lendable segment) to hold still: the owner's
 * exit clears thread_id, and its blocks go to their page from then on.
 */
void sh_page_free_foreign(sh_page *pg, sh_block *b, unsigned bin, uint32_t block_size)
{
    sh_heap *h = sh_tls_default;
    sh_segment *seg = sh_segment_of(pg);
    if (sh_likely(h != NULL && sh_tls_heap == h &&
                  atomic_load_explicit(&seg->thread_id, memory_order_relaxed) != 0 &&
                  atomic_load_explicit(&seg->lendable, memory_order_relaxed))) {
        sh_page *bp = &h->borrowed[bin];
        if (outbox_takes(h, pg, block_size)) {
            bp->reserved -= bp->reserved != 0;
            outbox_push(h, b, block_size);
            return;
        }
        /* one more block on a list malloc has not drawn from, below its
           cap, and either served already or not due yet (a list with
           blocks is never backing off) */
        uint32_t next = (uint32_t)bp->capacity + 1, bytes = next * block_size;
        if (bp->next == pg && sh_is_block(bp->free) && bp->used == 0 && bytes <= BORROW_BYTES &&
            (h->direct[bin] == bp || (next < BORROW_SERVE && bytes < BORROW_BYTES / 2))) {
            borrow_push(bp, b);
            return;
        }
    }
    free_foreign_slow(h, pg, b, bin, block_size);
}

/* Give pg, now without live blocks, back to its segment. */
static void page_release(sh_heap *h, sh_page *pg)
{
    if (pg->flags & SH_PAGE_FULL) {
        sh_page_queue_remove(&h->full, pg);
        atomic_store_explicit(sh_page_tf(pg), 0, memory_order_relaxed);
    } else {
        sh_page_queue_remove(&h->bins[pg->bin], pg);
        sh_heap_update_direct(h, pg->bin);
    }
    sh_segment_page_free(h, pg);
}

/*
 * A bin's only page stays with the heap when it empties (retire), with all
 * the memory its blocks ever used committed.  A purge scan that finds such
 * a direct page empty, and found it empty at the scan before with no retire
 * in between (every use of an empty page ends in one: so unused for that
 * interval, half a purge delay or more), gives that memory back; the page is
 * carved again from its start when next used.  A program that went idle
 * after a peak keeps a few KiB per size class, not a whole page, and one
 * that keeps using the page does not fault it in again after every scan.
 * force (malloc_trim): any empty direct page.  No block of a page with
 * used == 0 is live, so no other thread can free into it.
 */
static void trim_idle_pages(sh_heap *h, bool force)
{
    size_t os_page = sh_os_page_size();
    for (unsigned bin = 1; bin < SH_BINS; bin++) {
        sh_page *pg = h->direct[bin];
        const sh_page *seen = h->idle_seen[bin];
        h->idle_seen[bin] = NULL;
        if (!pg->in_use || pg->has_aligned || /* the empty page, or borrowed blocks */
            (size_t)pg->capacity * pg->block_size <= EXTEND_BYTES)
            continue;
        sh_page_collect(pg);
        if (pg->used != 0)
            continue;
        if (!force && seen != pg) {
            h->idle_seen[bin] = pg; /* trimmed at the next scan if not used by then */
            continue;
        }
        uint8_t *start = sh_page_start(pg); /* OS-page aligned */
        size_t carved = (size_t)pg->capacity * pg->block_size;
        sh_os_decommit(start, (carved + os_page - 1) & ~(os_page - 1));
        pg->free = (sh_block *)sh_segment_of(pg); /* empty lists */
        pg->local_free = (sh_block *)sh_segment_of(pg);
        h->prof_trap[bin] = NULL;                             /* its free list is gone */
        __atomic_store_n(&pg->capacity, 0, __ATOMIC_RELAXED); /* carved again when used */
        sh_page_publish(pg);
    }
}

/* Run the purge scan when its time has come (checks the clock now and then). */
_Atomic unsigned sh_trim_epoch;

static void maybe_purge(sh_heap *h)
{
    sh_background_poll();
    /* malloc_trim asked every thread to give its free memory back */
    unsigned epoch = atomic_load_explicit(&sh_trim_epoch, memory_order_relaxed);
    if (sh_unlikely(epoch != h->trim_seen)) {
        h->trim_seen = epoch;
        sh_heap_return_borrowed(h, SH_BINS);
        sh_heap_collect_pages(h, false);
        trim_idle_pages(h, true);
        sh_segment_purge(h, true);
        return;
    }
    if ((++h->purge_tick & 255) == 0 && sh_now_ms() >= h->purge_check_at) {
        sh_heap_return_borrowed(h, SH_BINS); /* the owners may purge their pages */
        trim_idle_pages(h, false);
        sh_segment_purge(h, false);
    }
}

void sh_page_emptied(sh_segment *seg, sh_page *pg)
{
    if (pg->used == UINT32_MAX) { /* it was 0: one free too many */
        pg->used = 0;
        sh_fatal("double free: more blocks of the %u-byte page at %p were freed than it "
                 "handed out (a block was freed twice, and written to in between)",
                 pg->block_size, (void *)sh_page_start(pg));
    }
    sh_page_retire(seg->heap, pg);
}

size_t sh_owner_push_at = offsetof(sh_page, free);

/*
 * The heartbeat.  The owner's frees go on the page's free list (LIFO), so a
 * loop that frees what it allocates never runs the list dry, and never
 * reaches malloc's slow path, where other threads' frees are collected and
 * purge scans and malloc_trim requests are acted on.  Every SH_PAGE_BEAT
 * frees by the owner, the page collects its thread_free and the heap polls
 * as the slow path would.
 */
void sh_page_beat(sh_segment *seg, sh_page *pg)
{
    pg->beat = SH_PAGE_BEAT;
    if (pg->flags & SH_PAGE_FULL) { /* the frees page_to_full counted since it went full */
        sh_page_unfull(seg->heap, pg);
        maybe_purge(seg->heap);
        return;
    }
    /* a sampled profile's lists reach free only through the slow path, which
       charges their blocks as trials (its owner frees go to local_free, so
       free runs dry and the slow path comes as before) */
    if (sh_prof_mode != SH_PROF_SAMPLED &&
        atomic_load_explicit(sh_page_tf(pg), memory_order_relaxed) != 0)
        sh_page_collect(pg);
    maybe_purge(seg->heap);
}

void sh_page_retire(sh_heap *h, sh_page *pg)
{
    /* keep a bin's only page: a loop that frees and reallocates stays fast; any
       other empty page goes back to its segment (and, after the delay, the OS) */
    sh_page_queue *q = &h->bins[pg->bin];
    if ((pg->flags & SH_PAGE_FULL) || q->first != pg || q->last != pg)
        page_release(h, pg);
    else
        h->idle_seen[pg->bin] = NULL; /* in use since the last scan */
    maybe_purge(h);
}

/* Pages of a bin's queue malloc's slow path looks at for freed blocks
   before it carves new ones (bin_alloc). */
#define REUSE_LOOK 4

/* A block of `bin` from h's queue, or from a new page; NULL when out of memory. */
static void *bin_alloc(sh_heap *h, unsigned bin)
{
    sh_page_queue *q = &h->bins[bin];
    sh_page *pg;
    outbox_flush(h); /* a thread that also frees others' blocks: at most this late */
    if (h->borrowed[bin].next != NULL) {
        pg = &h->borrowed[bin];
        if (sh_is_block(pg->free)) { /* the direct entry had moved on */
            set_direct(h, bin, pg);
            goto pop;
        }
        borrowed_return(h, bin); /* emptied by malloc */
    }
    collect_full(h);
scan:
    /* blocks freed back to the first REUSE_LOOK pages of the queue before
       never-used blocks carved from the first with room: carving first made
       a page's memory grow while blocks that other threads had freed to the
       next page waited (wl_prodcons peaked at 7.7 MiB, 6.4 this way); the
       whole queue cost wl_server a fifth more CPU time (its queues are long) */
    pg = q->first;
    for (unsigned k = 0; pg != NULL && k < REUSE_LOOK; pg = pg->next, k++)
        if (sh_is_block(pg->free) || sh_page_collect(pg))
            goto found;
    for (pg = q->first; pg != NULL;) {
        sh_page *next = pg->next;
        if (sh_is_block(pg->free) || sh_page_collect(pg))
            goto found;
        if (pg->capacity < pg->reserved) {
            page_extend(pg);
            goto found;
        }
        if (!page_to_full(h, pg) && sh_page_collect(pg))
            goto found;
        pg = next;
    }
    /* when a new page would need a new segment, exited threads' segments
       come first, and an adopted page of this bin with room beats a fresh
       page (100 threads that each left one block would otherwise leave 100
       pages); only then, as before, so that a thread adopts no more often */
    unsigned kind = sh_bin_size(bin) <= SH_SMALL_MAX ? SH_SEG_SMALL : SH_SEG_MEDIUM;
    if (h->is_default && (h->segments[kind] == NULL || h->segments[kind]->free_mask == 0) &&
        sh_segment_reclaim_one(h))
        goto scan;
    maybe_purge(h);
    pg = sh_segment_page_alloc(h, bin);
    if (pg == NULL)
        return NULL;
    sh_page_queue_push_front(q, pg);
found:
    if (q->first != pg) {
        sh_page_queue_remove(q, pg);
        sh_page_queue_push_front(q, pg);
    }
    if (h->direct[bin] != pg)
        set_direct(h, bin, pg);
pop:;
    sh_block *b = pg->free;
    pg->free = sh_link_next(pg, b);
    b->link = 0;
    pg->used++;
    return b;
}

/*
 * A malloc of the public heap while it is still the empty heap: the
 * thread's first, every one in check mode, with sampled guarding on and in
 * an exact profile, and a sampled profile's first after a sample.  Entered
 * by tail calls from malloc, so ra is the program's call site and, the
 * frame set up here being the first since the program's, the frame pointer
 * saved in it is the program's.
 */
static SH_NOINLINE void *empty_heap_malloc(size_t size, void *ra)
{
    if (sh_checking()) /* every malloc of the public heap comes here in check mode */
        return sh_check_alloc(NULL, size, 0, false, ra);
    sh_heap *h = sh_tls_default;
    if (sh_unlikely(h == NULL) && (h = sh_heap_thread_init()) == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    if (sh_prof_mode == SH_PROF_EXACT)
        return sh_prof_malloc(h, size, ra, __builtin_frame_address(0));
    if (sh_prof_mode == SH_PROF_SAMPLED) { /* the allocation after a sample's */
        sh_tls_prof_last = NULL;           /* no temporary: another allocation came between */
        sh_tls_heap = h;
        return sh_heap_alloc(h, size);
    }
    if (sh_sample_rate != 0 && sh_unlikely(--sh_tls_sample_countdown <= 0)) {
        void *p = sh_sampled_alloc(size, ra, __builtin_frame_address(0));
        if (p != NULL)
            return p;
    }
    return sh_heap_alloc(h, size);
}

/* A block of h's from its queues, a new page, or a large block. */
static inline void *heap_alloc_slow(size_t size, sh_heap *h)
{
    if (size == 0)
        size = 1;
    if (size > SH_MEDIUM_MAX)
        return sh_large_alloc(h, size, 16, false);
    void *p = bin_alloc(h, sh_bin_of(size));
    if (p == NULL)
        errno = ENOMEM;
    return p;
}

/*
 * Sampling (STACKHEAP_PROFILE=sampled): malloc is sampled in its slow path,
 * with no instruction added to its fast path.  Each allocation is a trial
 * that succeeds with probability q = 1 - exp(-s/N) for a block of s bytes
 * (a thread's countdown of bytes, drawn from Exp(N): profile.c).  A small
 * or medium allocation counts its block's size, and the trials of a free
 * list are made together, when the slow path installs it and pops its first
 * block: that allocation and the capacity - used blocks left (all on the
 * list once local_free is collected).
 *   - the countdown outlasts them: it is charged for all of them;
 *   - it runs out on the k-th: k = 1, this allocation is sampled (its block
 *     and the list go to local_free: trials again when next installed);
 *     otherwise the list is cut before the k-th (the rest goes to
 *     local_free) and the bin's trap set, so the fast path pops the k - 2
 *     blocks before it and the k-th allocation comes to the slow path, which
 *     samples it.  The blocks after the cut are trials again when their
 *     list is next installed.
 * The profiler's own allocations are not trials: their slow path charges
 * only the list, and a trap they reach moves to the list's next block.  Their
 * fast path takes blocks the program's trials were made for (one block a
 * sample), so the program reaches a sampled block a little sooner: a bias
 * up of about 2% at one sample per 4 KiB, nothing measurable at 512 KiB.
 * A list that malloc does not use up (its page given back, or trimmed)
 * leaves some of its trials unmade, whatever they would have drawn: the
 * allocations made are still each sampled with probability q.  Lists must
 * reach the fast path through here only: prof_defer hands the others to
 * local_free, and no segment is lendable (no thread borrows blocks).
 * Allocations of the profiler's own, and of the entry points that count
 * down for themselves (calloc, realloc, aligned: profile.c), consume trials
 * without being sampled by them.
 */
/* Cut pg's free list before its (k - 1)-th block (trial k, k >= 2: b was
   trial 1), the rest to local_free (empty: collected), and set the trap.  A
   list shorter than counted (it never is: capacity - used blocks are on it)
   is left whole: the trial that ran out is not made. */
static SH_NOINLINE SH_COLD void *prof_cut(sh_heap *h, unsigned bin, sh_page *pg, sh_block *b,
                                          int64_t k)
{
    sh_block *end = (sh_block *)sh_segment_of(pg), *last = NULL, *c = pg->free;
    for (int64_t i = 2; i < k; i++) {
        if (!sh_is_block(c))
            return b;
        last = c;
        c = sh_link_next(pg, c);
    }
    if (last == NULL)
        pg->free = end;
    else
        last->link = sh_link_encode(last, end);
    pg->local_free = c;
    h->prof_trap[bin] = pg;
    return b;
}

/* h's slow path when it samples: the thread's default heap, sampled profile. */
static SH_NOINLINE void *prof_heap_malloc(size_t size, sh_heap *h)
{
    void *ra = __builtin_return_address(0); /* the program's call: tail calls since */
    void **fp = __builtin_frame_address(0);
    bool on = sh_prof_recording(); /* else the profiler's own: not sampled */
    sh_tls_prof_last = NULL;       /* no temporary: another allocation came between */
    if (size > SH_MEDIUM_MAX) {
        if (on && (sh_tls_prof_left -= (int64_t)size) <= 0 && sh_prof_ran_out())
            return sh_prof_sample(h, size, size, ra, fp);
        return heap_alloc_slow(size, h);
    }
    unsigned bin = sh_bin_of(size == 0 ? 1 : size);
    const sh_page *trap = h->prof_trap[bin];
    h->prof_trap[bin] = NULL;
    bool fired = trap == h->direct[bin] && !sh_is_block(trap->free);
    if (fired && on)
        return sh_prof_sample(h, size, sh_bin_size(bin), ra, fp);
    sh_block *b = bin_alloc(h, bin);
    if (b == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    sh_page *pg = h->direct[bin];
    if (sh_is_block(pg->local_free))
        sh_page_collect(pg);
    if (fired) /* the profiler's own took the trap: it moves to the next block */
        return prof_cut(h, bin, pg, b, 2);
    /* trials: this allocation (unless it is the profiler's own), then each
       block left on the list */
    int64_t bs = (int64_t)sh_bin_size(bin), first = on ? 1 : 2;
    int64_t bytes = (2 - first + (int64_t)pg->capacity - pg->used) * bs;
    if (sh_unlikely(sh_tls_prof_left <= 0)) /* the thread's first */
        sh_tls_prof_left = sh_prof_interval();
    if (sh_likely(sh_tls_prof_left > bytes)) {
        sh_tls_prof_left -= bytes;
        return b;
    }
    int64_t k = first - 1 + (sh_tls_prof_left + bs - 1) / bs;
    sh_tls_prof_left = sh_prof_interval();
    if (k > 1)
        return prof_cut(h, bin, pg, b, k);
    /* this allocation: its block goes back, and with it the list to local_free,
       to be the next list's trials */
    sh_block *end = (sh_block *)sh_segment_of(pg);
    b->link = sh_link_encode(b, sh_is_block(pg->free) ? (void *)pg->free : end);
    pg->local_free = b;
    pg->free = end;
    pg->used--;
    return sh_prof_sample(h, size, (size_t)bs, ra, fp);
}

/* h's slow path: a block from its queues, a new page, or a large block. */
static SH_NOINLINE void *heap_malloc(size_t size, sh_heap *h)
{
    if (sh_unlikely(sh_prof_mode == SH_PROF_SAMPLED) && h == sh_tls_default)
        return prof_heap_malloc(size, h);
    return heap_alloc_slow(size, h);
}

/* Two tail calls and nothing else: sampled guarding and the exact profile
   bring every malloc here, and prof_heap_malloc takes its call site from them. */
void *sh_heap_malloc_slow(size_t size, sh_heap *h)
{
    if (h == &sh_empty_heap)
        return empty_heap_malloc(size, __builtin_return_address(0));
    return heap_malloc(size, h);
}

void sh_heap_collect_pages(sh_heap *h, bool force)
{
    atomic_store_explicit(&h->full_pending, 1, memory_order_relaxed);
    collect_full(h);
    for (unsigned bin = 0; bin < SH_BINS; bin++) {
        for (sh_page *pg = h->bins[bin].first, *next; pg != NULL; pg = next) {
            next = pg->next;
            sh_page_collect(pg);
            if (pg->used == 0 && (force || pg != h->direct[bin]))
                page_release(h, pg);
        }
    }
}

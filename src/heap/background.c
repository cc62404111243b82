/*
 * background.c -- free memory goes back to the OS while the program sleeps.
 *
 * Without this file, freed memory goes back after the purge delay only when
 * some thread next runs a slow path (maybe_purge): a program that stops
 * calling the allocator keeps it.  So the first time something becomes
 * purgeable, a thread of stackheap's own ("stackheap-purge") starts and does
 * the same work on the same schedule from outside: it sleeps until the
 * earliest deadline, decommits what is due in every thread's segments and in
 * the caches (sh_segment_purge_all: segment.c's purge lock makes that safe),
 * and when nothing is left it sleeps with no timeout until a kick.
 *
 * sh_bg_state:
 *   NONE     no thread yet; the first kick makes it WANTED
 *   WANTED   a kick asked for the thread: the next sh_background_poll (a
 *            point where malloc may be entered again, as pthread_create
 *            does) starts it
 *   RUNNING  in a pass, or asleep until a deadline (kicks cost one load)
 *   IDLE     asleep with no timeout; a kick makes it RUNNING and wakes it
 *   OFF      STACKHEAP_BACKGROUND=0, or the thread could not start: owners
 *            purge at their slow paths, as before
 *
 * A kick and the thread's last look before IDLE are ordered as in Dekker's
 * algorithm: the kicker publishes its change and then reads the state, the
 * thread publishes IDLE and then looks for work again (a full fence
 * between each pair), so one of them sees the other and no purgeable page
 * is left for an indefinite sleep.
 *
 * The thread has every signal blocked, a 64 KiB stack, and is detached: it
 * never runs a handler of the program's, and exit() ends it wherever it
 * is.  fork: the child has no such thread and starts none (OFF): the
 * parent's other threads may have held locks of the C library or of a
 * sanitizer's runtime at the fork, and pthread_create in the child could
 * wait on them forever (seen under AddressSanitizer); the child purges at
 * its slow paths, as with STACKHEAP_BACKGROUND=0.
 */
#define _GNU_SOURCE
#include "heap_internal.h"

_Atomic uint32_t sh_bg_state;

static struct {
    _Atomic uint32_t sleep_word; /* never changes: the timed sleeps wait on it */
    _Atomic uint64_t passes;     /* passes run, ever (tests read them: stats) */
} bg;

/* After a deadline, this much more: the coarse clock's tick, and pages due
   at nearly the same time go back in one pass. */
#define SLACK_MS 8

void sh_background_init(void)
{
    if (!sh_option_background())
        atomic_store_explicit(&sh_bg_state, SH_BG_OFF, memory_order_relaxed);
}

static void *purger_main(void *arg)
{
    (void)arg;
    static char name[] = "stackheap-purge"; /* in .data, not .rodata: options.c */
    sh_os_name_thread(name);
    for (;;) {
        uint64_t next = sh_segment_purge_all(false);
        atomic_fetch_add_explicit(&bg.passes, 1, memory_order_relaxed);
        if (next == UINT64_MAX) {
            /* seq_cst, and a fence before looking again: Dekker's order */
            atomic_store_explicit(&sh_bg_state, SH_BG_IDLE, memory_order_seq_cst);
#if !defined(__SANITIZE_THREAD__) /* not modelled there (see sh_background_kick) */
            atomic_thread_fence(memory_order_seq_cst);
#endif
            /* what was freed by a thread that saw RUNNING, before IDLE */
            next = sh_segment_purge_all(false);
            if (next == UINT64_MAX) {
                while (atomic_load_explicit(&sh_bg_state, memory_order_acquire) == SH_BG_IDLE)
                    sh_os_wait_on(&sh_bg_state, SH_BG_IDLE, 0);
                continue;
            }
            uint32_t idle = SH_BG_IDLE; /* a kicker may have made it RUNNING already */
            atomic_compare_exchange_strong_explicit(&sh_bg_state, &idle, SH_BG_RUNNING,
                                                    memory_order_relaxed, memory_order_relaxed);
        }
        uint64_t now = sh_now_ms();
        sh_os_wait_on(&bg.sleep_word, 0, (next > now ? next - now : 0) + SLACK_MS);
    }
    return NULL;
}

void sh_background_wake(void)
{
    uint32_t s = atomic_load_explicit(&sh_bg_state, memory_order_relaxed);
    if (s == SH_BG_NONE) {
        atomic_compare_exchange_strong_explicit(&sh_bg_state, &s, SH_BG_WANTED,
                                                memory_order_relaxed, memory_order_relaxed);
    } else if (s == SH_BG_IDLE &&
               atomic_compare_exchange_strong_explicit(
                   &sh_bg_state, &s, SH_BG_RUNNING, memory_order_relaxed, memory_order_relaxed)) {
        sh_os_wake(&sh_bg_state);
    }
}

void sh_background_start(void)
{
    /* pthread_create allocates: a poll inside it must not start another */
    static __thread bool starting;
    uint32_t wanted = SH_BG_WANTED;
    if (starting ||
        !atomic_compare_exchange_strong_explicit(&sh_bg_state, &wanted, SH_BG_RUNNING,
                                                 memory_order_relaxed, memory_order_relaxed))
        return;
    starting = true;
    bool ok = sh_os_start_thread(purger_main, NULL);
    starting = false;
    if (!ok)
        atomic_store_explicit(&sh_bg_state, SH_BG_OFF, memory_order_relaxed);
}

void sh_background_fork_child(void)
{
    atomic_store_explicit(&sh_bg_state, SH_BG_OFF, memory_order_relaxed);
}

uint64_t sh_background_passes(void)
{
    return atomic_load_explicit(&bg.passes, memory_order_relaxed);
}

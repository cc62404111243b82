/*
 * test_heap_fork.c -- fork() from a multi-threaded process.
 *
 * Specification (issue "The heap", include/stackheap.h): fork() is safe in a
 * multi-threaded program: the child can allocate and free.  The heap's locks
 * (heap pool, abandoned segments, large blocks and their cache) are taken
 * around fork with pthread_atfork, so a child never inherits one held by a
 * thread that does not exist in it.
 *
 * Worker threads allocate and free in a loop, with every kind of block, with
 * first-class heaps, and with threads that start and exit (which takes the
 * pool and abandoned-segment locks), while the main thread forks again and
 * again.  Each child allocates and frees through sh_malloc/sh_free and
 * malloc/free, frees blocks that the workers allocated, and exits 0.  An
 * alarm in the child turns a deadlock into a failure (SIGALRM) instead of a
 * hang.  Children use no stdio (its locks may be held by a parent thread):
 * they report through their exit status.
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "stackheap.h"

#ifndef SH_WITH_TSAN
#define SH_WITH_TSAN 0
#endif
#ifndef SH_WITH_ASAN
#define SH_WITH_ASAN 0
#endif
/*
 * In sanitizer builds malloc is the sanitizer's, whose allocator (GCC 12's
 * libasan/libtsan) does not take its locks around fork: a child that calls
 * malloc, or starts a thread (which allocates), can deadlock on a lock a
 * parent thread held.  There the child uses the sh_ functions only, which
 * is what this test is about.
 */
static const bool child_may_use_system_malloc = !SH_WITH_ASAN && !SH_WITH_TSAN;

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)

#define WORKERS 2
#define LOCK_TAKERS 3
#define FORKS (SH_WITH_TSAN ? 5 : 20)
#define CHILD_TIMEOUT_S 20
#define HANDOFF_SLOTS 16

/* Exit statuses of a child. */
enum {
    CHILD_OK = 0,
    CHILD_NO_MEMORY = 2,
    CHILD_DAMAGED = 3,
    CHILD_NO_THREAD = 4,
    CHILD_HEAP_FAILED = 5,
};

static atomic_bool stop;
/* Blocks allocated by the workers, live until replaced: the children free them. */
static _Atomic(unsigned char *) handoff[HANDOFF_SLOTS];
static atomic_ulong worker_failures;

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Mixed sizes: mostly small, some medium, a few large (own mappings, the large cache). */
static size_t mixed_size(uint64_t *rng)
{
    uint64_t r = xorshift(rng);
    switch (r % 64) {
    case 0:
        return 200 * KIB + (size_t)(r >> 32) % (2 * MIB);
    case 1:
    case 2:
    case 3:
        return 9 * KIB + (size_t)(r >> 32) % (100 * KIB);
    default:
        return 1 + (size_t)(r >> 32) % 2000;
    }
}

/* Fill block p of size bytes with its first byte's value (its size, folded). */
static void stamp(unsigned char *p, size_t size)
{
    memset(p, (unsigned char)(size * 13 + 1), size);
}

static bool stamp_holds(const unsigned char *p, size_t size)
{
    for (size_t i = 0; i < size; i += 61)
        if (p[i] != (unsigned char)(size * 13 + 1))
            return false;
    return p[size - 1] == (unsigned char)(size * 13 + 1);
}

static void *exit_at_once(void *arg)
{
    void *p = sh_malloc(100 + (size_t)(uintptr_t)arg);
    sh_free(p);
    return sh_malloc(64); /* left for the joiner: exits with a live block */
}

/*
 * Loops that take the heap's locks as often as they can, so that forks often
 * find one held: large blocks (the large-block cache's lock), first-class
 * heaps (the pool and the large-block list) and exiting threads (the pool and
 * the abandoned list).
 */
static void *lock_taker(void *arg)
{
    unsigned which = (unsigned)(uintptr_t)arg;
    for (uint64_t i = 0; !atomic_load_explicit(&stop, memory_order_relaxed); i++) {
        if (which == 0) {
            void *p = sh_malloc(256 * KIB + (size_t)(i % 4) * 4096);
            if (p == NULL)
                atomic_fetch_add(&worker_failures, 1);
            sh_free(p);
        } else if (which == 1) {
            sh_heap *h = sh_heap_new();
            if (h == NULL || sh_heap_malloc(h, 300 * KIB) == NULL)
                atomic_fetch_add(&worker_failures, 1);
            sh_heap_destroy(h);
        } else {
            pthread_t t;
            void *left = NULL;
            if (pthread_create(&t, NULL, exit_at_once, (void *)(uintptr_t)i) == 0) {
                pthread_join(t, &left);
                sh_free(left);
            }
        }
    }
    return NULL;
}

static void *worker(void *arg)
{
    uint64_t rng = 0xA0761D6478BD642Full * ((uintptr_t)arg + 1);
    enum { WINDOW = 64 };
    unsigned char *live[WINDOW] = {0};
    size_t sizes[WINDOW] = {0};
    for (uint64_t i = 0; !atomic_load_explicit(&stop, memory_order_relaxed); i++) {
        unsigned w = (unsigned)(i % WINDOW);
        sh_free(live[w]);
        sizes[w] = mixed_size(&rng);
        live[w] = sh_malloc(sizes[w]);
        if (live[w] == NULL) {
            atomic_fetch_add(&worker_failures, 1);
            continue;
        }
        stamp(live[w], sizes[w]);
        if (i % 16 == 0) { /* hand a block over: the children (and later we) free it */
            unsigned char *b = sh_malloc(48);
            if (b != NULL)
                stamp(b, 48);
            sh_free(atomic_exchange(&handoff[(i / 16) % HANDOFF_SLOTS], b));
        }
        if (i % 512 == 0) { /* a first-class heap, destroyed at once */
            sh_heap *h = sh_heap_new();
            if (h != NULL) {
                for (unsigned k = 0; k < 20; k++)
                    if (sh_heap_malloc(h, mixed_size(&rng)) == NULL)
                        atomic_fetch_add(&worker_failures, 1);
                sh_heap_destroy(h);
            }
        }
        if (i % 1024 == 0 && (uintptr_t)arg == 0) { /* a thread that exits with a live block */
            pthread_t t;
            void *left = NULL;
            if (pthread_create(&t, NULL, exit_at_once, (void *)(uintptr_t)i) == 0) {
                pthread_join(t, &left);
                sh_free(left);
            }
        }
    }
    for (unsigned w = 0; w < WINDOW; w++)
        sh_free(live[w]);
    return NULL;
}

static void *child_thread(void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < 1000; i++) {
        void *p = sh_malloc(16 + i);
        if (p == NULL)
            return (void *)1;
        sh_free(p);
    }
    return NULL;
}

/* What a child does right after fork: returns its exit status. */
static int child_work(void)
{
    uint64_t rng = 42;
    /* first, with no preparation at all */
    void *first = sh_malloc(100);
    void *first_std = child_may_use_system_malloc ? malloc(100) : NULL;
    if (first == NULL || (child_may_use_system_malloc && first_std == NULL))
        return CHILD_NO_MEMORY;
    sh_free(first);
    free(first_std);

    enum { WINDOW = 256 };
    unsigned char *live[WINDOW] = {0};
    size_t sizes[WINDOW] = {0};
    for (unsigned i = 0; i < 2000; i++) {
        unsigned w = i % WINDOW;
        if (live[w] != NULL) {
            if (!stamp_holds(live[w], sizes[w]))
                return CHILD_DAMAGED;
            sh_free(live[w]);
        }
        sizes[w] = mixed_size(&rng);
        if ((live[w] = sh_malloc(sizes[w])) == NULL)
            return CHILD_NO_MEMORY;
        stamp(live[w], sizes[w]);
        if (child_may_use_system_malloc) { /* the standard name: stackheap's when it overrides */
            void *q = malloc(1 + i % 3000);
            if (q == NULL)
                return CHILD_NO_MEMORY;
            memset(q, 1, 1 + i % 3000);
            free(q);
        }
    }
    for (unsigned w = 0; w < WINDOW; w++)
        sh_free(live[w]);

    /* blocks the parent's workers allocated: freed to heaps whose threads are not here */
    for (unsigned s = 0; s < HANDOFF_SLOTS; s++) {
        unsigned char *b = atomic_exchange(&handoff[s], NULL);
        if (b != NULL && !stamp_holds(b, 48))
            return CHILD_DAMAGED;
        sh_free(b);
    }

    /* the pool lock (sh_heap_new) and the abandoned list (collect adopts) */
    sh_heap *h = sh_heap_new();
    if (h == NULL)
        return CHILD_HEAP_FAILED;
    for (unsigned i = 0; i < 100; i++)
        if (sh_heap_malloc(h, mixed_size(&rng)) == NULL)
            return CHILD_HEAP_FAILED;
    sh_heap_destroy(h);
    sh_heap_collect(true);

    if (child_may_use_system_malloc) {
        pthread_t t;
        void *r;
        if (pthread_create(&t, NULL, child_thread, NULL) != 0)
            return CHILD_NO_THREAD;
        pthread_join(t, &r);
        if (r != NULL)
            return CHILD_NO_MEMORY;
    }
    return CHILD_OK;
}

static const char *describe(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exited with %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        snprintf(buf, len, "was still running after %d s (deadlock?)", CHILD_TIMEOUT_S);
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "died of signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "ended with status %#x", (unsigned)status);
    return buf;
}

static void children_forked_while_threads_allocate_can_allocate_and_free(void)
{
    pthread_t workers[WORKERS], lockers[LOCK_TAKERS];
    for (unsigned i = 0; i < WORKERS; i++)
        CHECK(pthread_create(&workers[i], NULL, worker, (void *)(uintptr_t)i) == 0);
    for (unsigned i = 0; i < LOCK_TAKERS; i++)
        CHECK(pthread_create(&lockers[i], NULL, lock_taker, (void *)(uintptr_t)i) == 0);
    struct timespec pause = {0, 3 * 1000 * 1000};
    unsigned ok = 0;
    bool failed = false;
    for (unsigned f = 0; f < FORKS && !failed; f++) {
        nanosleep(&pause, NULL);
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(CHILD_TIMEOUT_S);
            _exit(child_work());
        }
        if (pid < 0) {
            failed = true;
            break;
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_OK) {
            ok++;
        } else {
            char what[128];
            fprintf(stderr, "  child %u of %d %s\n", f + 1, FORKS,
                    describe(status, what, sizeof what));
            failed = true;
        }
    }
    atomic_store(&stop, true);
    for (unsigned i = 0; i < WORKERS; i++)
        pthread_join(workers[i], NULL);
    for (unsigned i = 0; i < LOCK_TAKERS; i++)
        pthread_join(lockers[i], NULL);
    for (unsigned s = 0; s < HANDOFF_SLOTS; s++)
        sh_free(atomic_exchange(&handoff[s], NULL));
    printf("     %u children forked from %d busy threads allocated and freed\n", ok,
           WORKERS + LOCK_TAKERS);
    CHECK(!failed);
    CHECK_EQ_U(ok, FORKS);
    CHECK_EQ_U(atomic_load(&worker_failures), 0);
}

static void parent_keeps_allocating_after_forks(void)
{
    /* the at-fork handlers released every lock in the parent too */
    for (unsigned i = 0; i < 3; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        CHECK(pid > 0);
        waitpid(pid, NULL, 0);
    }
    sh_heap *h = sh_heap_new();
    CHECK(h != NULL);
    CHECK(sh_heap_malloc(h, 300 * KIB) != NULL);
    sh_heap_destroy(h);
    void *big = sh_malloc(2 * MIB);
    CHECK(big != NULL);
    sh_free(big);
    pthread_t t;
    void *left = NULL;
    CHECK(pthread_create(&t, NULL, exit_at_once, NULL) == 0);
    pthread_join(t, &left);
    CHECK(left != NULL);
    sh_free(left);
    sh_heap_collect(true);
}

int main(void)
{
    RUN(children_forked_while_threads_allocate_can_allocate_and_free);
    RUN(parent_keeps_allocating_after_forks);
    return check_report();
}

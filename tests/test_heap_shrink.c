/*
 * test_heap_shrink.c -- the heap gives memory back to the OS.
 *
 * Specification (issue "The heap", include/stackheap.h): empty pages go back
 * to the OS after STACKHEAP_PURGE_DELAY milliseconds (250 by default), or at
 * once through sh_heap_collect(true); empty segments are unmapped.  After a
 * program frees everything it allocated, its resident memory falls back
 * close to where it started:
 *   - after sh_heap_collect(true), at once;
 *   - without it, within about a second of ongoing small allocations.
 *
 * Each test allocates 512 MiB in 64-byte blocks, frees them all, and reads
 * the resident set size from /proc/self/statm; a third re-executes the
 * program with STACKHEAP_PURGE_DELAY=1500 and checks that freed memory stays
 * that long, then goes.  The array of pointers is
 * mapped with mmap and unmapped before the last measurement, so it is not
 * counted against the heap.  The figures are printed.
 */
#include "check.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#include "stackheap.h"

/* In a sanitizer build the RSS also holds the shadow of every byte the test
   touched (an eighth of 512 MiB for ASan, several times 512 MiB for TSan):
   the figures are printed but the bounds are not checked there. */
static const bool rss_is_the_heaps_alone = RSS_IS_THE_HEAPS_ALONE;

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)

#define TOTAL (512 * MIB)
#define BLOCK 64
#define BLOCKS (TOTAL / BLOCK)
/* "within a few MiB of the start" */
#define SLACK (8 * MIB)
/* "within about a second": the budget allowed, twice that */
#define BUDGET_S 2.0

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct shrink_figures {
    size_t start, peak, freed; /* RSS before, with everything allocated, right after the frees */
} shrink_figures;

/*
 * Allocate `total` bytes in BLOCK-byte blocks, touch them, free them all and
 * unmap the pointer array.  False if an allocation failed.
 */
static bool allocate_and_free_everything(size_t total, shrink_figures *f)
{
    size_t count = total / BLOCK, array_bytes = count * sizeof(void *);
    void **blocks = mmap(NULL, array_bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (blocks == MAP_FAILED)
        return false;
    f->start = rss_bytes();
    bool ok = true;
    size_t n = 0;
    for (; n < count; n++) {
        unsigned char *p = sh_malloc(BLOCK);
        if (p == NULL) {
            ok = false;
            break;
        }
        p[0] = (unsigned char)n;
        p[BLOCK - 1] = 1;
        blocks[n] = p;
    }
    f->peak = rss_bytes();
    for (size_t i = 0; i < n; i++)
        sh_free(blocks[i]);
    munmap(blocks, array_bytes);
    f->freed = rss_bytes();
    return ok;
}

/*
 * Go on like a program that keeps running: small mallocs and frees, a
 * millisecond's pause, again, until the RSS is at most `bound` or `budget_s`
 * seconds have passed.  Returns the seconds it took; *rss is the last RSS.
 */
static double small_allocations_until_rss_below(size_t bound, double budget_s, size_t *rss)
{
    double start = now_s(), elapsed = 0;
    *rss = rss_bytes();
    while (*rss > bound && (elapsed = now_s() - start) < budget_s) {
        for (unsigned i = 0; i < 100; i++) {
            void *p[4];
            for (unsigned k = 0; k < 4; k++)
                p[k] = sh_malloc(16 + 24 * k);
            for (unsigned k = 0; k < 4; k++)
                sh_free(p[k]);
        }
        struct timespec pause = {0, 1000 * 1000};
        nanosleep(&pause, NULL);
        *rss = rss_bytes();
    }
    return now_s() - start;
}

static void resident_memory_falls_back_after_collect(void)
{
    shrink_figures f;
    sh_heap_collect(true);
    CHECK(allocate_and_free_everything(TOTAL, &f));
    sh_heap_collect(true);
    size_t after = rss_bytes();
    printf("     %zu MiB in %d-byte blocks: RSS %zu KiB at the start, %zu KiB allocated, "
           "%zu KiB freed, %zu KiB after sh_heap_collect(true)\n",
           TOTAL / MIB, BLOCK, f.start / KIB, f.peak / KIB, f.freed / KIB, after / KIB);
    CHECK(f.peak >= f.start + TOTAL);
    if (rss_is_the_heaps_alone)
        CHECK(after <= f.start + SLACK);
}

static void resident_memory_falls_back_within_a_second_of_small_allocations(void)
{
    shrink_figures f;
    sh_heap_collect(true);
    CHECK(allocate_and_free_everything(TOTAL, &f));
    size_t rss;
    double elapsed = small_allocations_until_rss_below(f.start + SLACK, BUDGET_S, &rss);
    printf("     %zu MiB in %d-byte blocks: RSS %zu KiB at the start, %zu KiB allocated, "
           "%zu KiB freed, %zu KiB %.3f s later (small allocations go on, no collect)\n",
           TOTAL / MIB, BLOCK, f.start / KIB, f.peak / KIB, f.freed / KIB, rss / KIB, elapsed);
    CHECK(f.peak >= f.start + TOTAL);
    if (rss_is_the_heaps_alone && rss > f.start + SLACK)
        fprintf(stderr,
                "  BUG src/heap/page.c: pages emptied by frees stay in their bin queue and are "
                "never released (free_slow -> sh_page_unfull makes each full page the direct "
                "one, so sh_page_retire keeps it when it empties); only sh_heap_collect "
                "releases them\n");
    if (rss_is_the_heaps_alone)
        CHECK(rss <= f.start + SLACK);
}

/*
 * Big blocks (span segments up to 2 MiB, mappings above) keep their pages a
 * while for reuse; the memory goes back after the delay like the small
 * blocks', with small allocations going on and no collect.
 */
static void big_blocks_memory_falls_back_within_a_second(void)
{
    enum { COUNT = 256 };
    static unsigned char *block[COUNT];
    sh_heap_collect(true);
    size_t start = rss_bytes(), total = 0;
    uint64_t rng = 0x2545F4914F6CDD1Dull;
    for (unsigned i = 0; i < COUNT; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        size_t size = i % 16 == 0 ? 3 * MIB + rng % (5 * MIB) : 129 * KIB + rng % (1900 * KIB);
        CHECK((block[i] = sh_malloc(size)) != NULL);
        if (block[i] == NULL)
            return;
        memset(block[i], 0x5A, size);
        total += size;
    }
    size_t peak = rss_bytes();
    for (unsigned i = 0; i < COUNT; i++)
        sh_free(block[i]);
    size_t freed = rss_bytes(), rss;
    double elapsed = small_allocations_until_rss_below(start + SLACK, BUDGET_S, &rss);
    printf("     %zu MiB in %d blocks of 129 KiB to 8 MiB: RSS %zu KiB at the start, %zu KiB "
           "allocated, %zu KiB freed, %zu KiB %.3f s later (no collect)\n",
           total / MIB, COUNT, start / KIB, peak / KIB, freed / KIB, rss / KIB, elapsed);
    CHECK(peak >= start + total / 2);
    if (rss_is_the_heaps_alone)
        CHECK(rss <= start + SLACK);
}

/* ---- STACKHEAP_PURGE_DELAY ----------------------------------------------------- */

/* The option is read once per process: the test re-executes this program with it set. */
#define DELAY_CHILD_MODE "--purge-delay-child"
#define DELAY_MS 1500
#define DELAY_TOTAL (128 * MIB)

/* In the re-executed child: how long does freed memory stay resident?  Exit status 0 if
   it stayed about DELAY_MS (at least two thirds of it) and then went back. */
static int purge_delay_child(void)
{
    shrink_figures f;
    if (!allocate_and_free_everything(DELAY_TOTAL, &f))
        return 2;
    size_t rss;
    double elapsed =
        small_allocations_until_rss_below(f.start + SLACK, 3.0 * DELAY_MS / 1000, &rss);
    const char *delay = getenv("STACKHEAP_PURGE_DELAY");
    printf("     STACKHEAP_PURGE_DELAY=%s: %zu MiB freed, RSS back to %zu KiB (start %zu KiB) "
           "after %.3f s of small allocations\n",
           delay != NULL ? delay : "(unset)", DELAY_TOTAL / MIB, rss / KIB, f.start / KIB, elapsed);
    if (!rss_is_the_heaps_alone)
        return 0;
    if (elapsed < DELAY_MS / 1000.0 * 2 / 3)
        return 3; /* given back too early */
    if (rss > f.start + SLACK)
        return 4; /* not given back */
    return 0;
}

/* Re-execute this program in mode with STACKHEAP_PURGE_DELAY=delay_ms (the
   option is read once per process); its exit status, or -1 if it did not
   exit. */
static int run_with_purge_delay(const char *mode, int delay_ms)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char value[16];
        snprintf(value, sizeof value, "%d", delay_ms);
        setenv("STACKHEAP_PURGE_DELAY", value, 1);
        execl("/proc/self/exe", "test_heap_shrink", mode, (char *)NULL);
        _exit(127);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static void purge_delay_option_sets_how_long_freed_memory_stays(void)
{
    int status = run_with_purge_delay(DELAY_CHILD_MODE, DELAY_MS);
    if (status == 3)
        fprintf(stderr, "  memory went back long before the %d ms delay\n", DELAY_MS);
    if (status == 4)
        fprintf(stderr, "  memory did not go back within 3 times the %d ms delay\n", DELAY_MS);
    CHECK(status == 0);
}

/* A bin's only page empties at every free of this loop; the purge scans
   that run meanwhile (a dozen in 1.5 s) must not give its memory back while
   it is in use, or every use after a scan faults the block in again: 24
   pages a scan here, about 290 faults in all (as it was before the fix). */
static void a_page_in_steady_use_keeps_its_memory_between_purge_scans(void)
{
    size_t block = 96 * KIB, pages = block / (size_t)sysconf(_SC_PAGESIZE);
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    double start = now_s();
    unsigned long uses = 0;
    while (now_s() - start < 1.5) {
        unsigned char *p = sh_malloc(block);
        CHECK(p != NULL);
        memset(p, (int)uses, block);
        __asm__ volatile("" : : "r"(p) : "memory");
        sh_free(p);
        uses++;
    }
    getrusage(RUSAGE_SELF, &after);
    long faults = after.ru_minflt - before.ru_minflt;
    printf("     %lu uses of a %zu KiB block in 1.5 s: %ld page faults\n", uses, block / KIB,
           faults);
    CHECK(faults < (long)(2 * pages)); /* the first touch, and a little more */
}

/* ---- free memory a program keeps freeing into waits, up to 8 delays ----------- */

#define HOLD_CHILD_MODE "--purge-hold-child"
#define HOLD_DELAY_MS 100
#define HOLD_DELAYS 8 /* SH_PURGE_HOLD */

/* Pages of [p, p + n) resident now (mincore; p page aligned). */
static size_t resident_pages(const void *p, size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), count = n / page, resident = 0;
    unsigned char vec[1024];
    if (count > sizeof vec || mincore((void *)(uintptr_t)p, n, vec) != 0)
        return SIZE_MAX;
    for (size_t i = 0; i < count; i++)
        resident += vec[i] & 1;
    return resident;
}

/* In the re-executed child (STACKHEAP_PURGE_DELAY=100): a freed 1 MiB block
   of a span segment stays resident while the program keeps freeing other
   blocks of that segment (a 1.5 MiB one, again and again), and goes back
   once 8 delays have passed all the same.  Exit status 0 if so. */
static int purge_hold_child(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = MIB / page;
    unsigned char *x = sh_malloc(MIB), *y = sh_malloc(256 * KIB); /* spans, y after x */
    if (x == NULL || y == NULL)
        return 2;
    memset(x, 1, MIB);
    sh_free(x);
    double start = now_s(), held = -1, gone = -1;
    while (now_s() - start < 3.0) {
        unsigned char *z = sh_malloc(1536 * KIB); /* too big for x's slices */
        if (z == NULL)
            return 2;
        z[0] = 1;
        sh_free(z);
        size_t r = resident_pages(x, MIB);
        if (r == SIZE_MAX)
            return 2;
        if (r >= pages * 9 / 10)
            held = now_s() - start;
        else if (r <= pages / 10) {
            gone = now_s() - start;
            break;
        }
    }
    sh_free(y);
    printf("     STACKHEAP_PURGE_DELAY=%d, frees into the segment all along: a freed 1 MiB "
           "block resident until %.3f s, back to the OS at %.3f s\n",
           HOLD_DELAY_MS, held, gone);
    if (held < 4 * HOLD_DELAY_MS / 1000.0)
        return 3; /* given back while the program kept freeing into its segment */
    if (gone < 0 || gone > (HOLD_DELAYS + 4) * HOLD_DELAY_MS / 1000.0)
        return 4; /* kept past the cap */
    return 0;
}

static void free_memory_waits_while_its_segment_is_freed_into_up_to_8_delays(void)
{
    int status = run_with_purge_delay(HOLD_CHILD_MODE, HOLD_DELAY_MS);
    if (status == 3)
        fprintf(stderr, "  the block went back within 4 delays of frees into its segment\n");
    if (status == 4)
        fprintf(stderr, "  the block was not given back within %d delays\n", HOLD_DELAYS + 4);
    CHECK(status == 0);
}

/* calloc of a large block served from a cached mapping zeroes only the bytes
   asked for, without committing them: the cached mapping here was never
   touched, and before this was fixed calloc cleared all 8 MiB of it. */
static void calloc_from_the_large_cache_commits_only_what_it_must(void)
{
    void *big = sh_malloc(8 * MIB); /* never touched: not resident */
    CHECK(big != NULL);
    sh_free(big); /* to the large cache */
    size_t before = rss_bytes();
    unsigned char *z = sh_calloc(1, 5 * MIB);
    size_t after = rss_bytes();
    CHECK(z != NULL);
    if (z == NULL)
        return;
    fprintf(stderr, "     calloc(1, 5 MiB) from the cache: RSS %zu KiB -> %zu KiB\n", before / KIB,
            after / KIB);
    if (rss_is_the_heaps_alone)
        CHECK(after <= before + 1 * MIB);
    size_t nonzero = 0;
    for (size_t i = 0; i < 5 * MIB; i += 512)
        nonzero += z[i] != 0;
    CHECK(nonzero == 0 && z[5 * MIB - 1] == 0);
    sh_free(z);
}

/* A thread that fills 4 MiB with 64-byte blocks (its first segment), waits
   for the others, frees all but the first (the segment then outlives it,
   abandoned, its other pages free) and exits at once, before their purge
   delay passed. */
#define EXITING_THREADS 16
static pthread_barrier_t all_filled;

static void *fill_free_and_exit(void *arg)
{
    (void)arg;
    size_t n = (4 * MIB) / BLOCK;
    void **blocks = mmap(NULL, n * sizeof *blocks, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (blocks == MAP_FAILED)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        blocks[i] = sh_malloc(BLOCK);
        if (blocks[i] != NULL)
            memset(blocks[i], 1, BLOCK);
    }
    /* all threads full before any frees: none adopts another's segment, and
       each exits right after its frees, before their purge delay passed */
    pthread_barrier_wait(&all_filled);
    for (size_t i = 1; i < n; i++)
        sh_free(blocks[i]);
    void *kept = blocks[0];
    munmap(blocks, n * sizeof *blocks);
    return kept;
}

/* 16 threads each free 4 MiB and exit together; the main thread then only
   makes small allocations (it never needs their pages, so it never adopts
   their segments): their free memory goes back within about a second all
   the same.  Before: it stayed until sh_heap_collect(true). */
static void memory_freed_by_exited_threads_falls_back_within_a_second(void)
{
    sh_heap_collect(true);
    size_t start = rss_bytes();
    pthread_t t[EXITING_THREADS];
    void *kept[EXITING_THREADS];
    pthread_barrier_init(&all_filled, NULL, EXITING_THREADS);
    for (int i = 0; i < EXITING_THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, fill_free_and_exit, NULL) == 0);
    for (int i = 0; i < EXITING_THREADS; i++)
        pthread_join(t[i], &kept[i]);
    pthread_barrier_destroy(&all_filled);
    size_t exited = rss_bytes(), rss = 0;
    double took = small_allocations_until_rss_below(start + SLACK, BUDGET_S, &rss);
    printf("     %d threads freed 4 MiB each and exited: RSS %zu KiB at the start, %zu KiB "
           "when they exited, %zu KiB %.2f s later\n",
           EXITING_THREADS, start / KIB, exited / KIB, rss / KIB, took);
    if (rss_is_the_heaps_alone) {
        CHECK(exited >= start + 32 * MIB); /* the memory was there to give back */
        CHECK(rss <= start + SLACK);
    }
    for (int i = 0; i < EXITING_THREADS; i++)
        sh_free(kept[i]);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], DELAY_CHILD_MODE) == 0)
        return purge_delay_child();
    if (argc == 2 && strcmp(argv[1], HOLD_CHILD_MODE) == 0)
        return purge_hold_child();
    RUN(calloc_from_the_large_cache_commits_only_what_it_must);
    RUN(a_page_in_steady_use_keeps_its_memory_between_purge_scans);
    RUN(resident_memory_falls_back_after_collect);
    RUN(memory_freed_by_exited_threads_falls_back_within_a_second);
    RUN(resident_memory_falls_back_within_a_second_of_small_allocations);
    RUN(big_blocks_memory_falls_back_within_a_second);
    RUN(purge_delay_option_sets_how_long_freed_memory_stays);
    RUN(free_memory_waits_while_its_segment_is_freed_into_up_to_8_delays);
    return check_report();
}

/*
 * wl_fragment.c -- workload 7: fragmentation and the return of memory to
 * the OS (a cache that fills and is evicted, a batch job between phases, a
 * long-running service after a spike).
 *
 * Four phases, with the resident set size read from /proc/self/statm after
 * each and printed as `report:` lines on stdout (rss_*: all of it; anon_*:
 * its anonymous part, the allocator's memory without the program's code
 * pages, which grow by some 600 KiB as later phases run new code):
 *
 *   start            before anything is allocated          rss_start_kib
 *   fill             FILL bytes (requested) in blocks of   rss_full_kib
 *                    16..256 B, each stamped
 *   free 90%         a random nine blocks in ten are       rss_after_90pct_free_kib
 *                    checked and freed (in allocation
 *                    order): the survivors pin pages
 *   free all         the rest, then the pointer array      rss_after_all_free_kib
 *                    is unmapped
 *   idle             small allocations and frees for       rss_end_kib
 *                    IDLE_MS, polling RSS, so allocators
 *                    that give memory back after a delay
 *                    get the chance
 *
 * The pointer array is mmap'd, not malloc'd, and unmapped before the last
 * two readings, so only the allocator's own memory is measured.  Which
 * blocks survive the 90% free comes from a hash of the block's index, the
 * same under every allocator; they are freed in allocation order, as a
 * scattered order would add seconds of cache misses to every allocator's
 * time and change nothing of what is measured here (which blocks survive,
 * not the order the others went in).  The idle phase
 * runs for a fixed time, not a fixed amount of work, so nothing it does
 * enters the checksum.
 *
 * Full run: FILL = 1 GiB; quick (-q): 128 MiB (and a shorter idle phase).
 */
#define _GNU_SOURCE
#include "wl.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define FILL ((size_t)1 << 30)
#define FILL_QUICK ((size_t)128 << 20)

enum {
    MIN_SIZE = 16,
    MAX_SIZE = 256,
    KEEP_ONE_IN = 10,    /* survivors of the 90% free */
    IDLE_MS = 500,       /* idle phase, full run */
    IDLE_MS_QUICK = 100, /* idle phase, quick run */
    IDLE_BATCH = 64,     /* blocks allocated and freed per idle round */
    POLL_NS = 1000000    /* sleep between idle rounds: 1 ms */
};

/* Resident set size in KiB, and the anonymous part of it (resident minus
   the file-backed pages: what the allocator holds, not the code pages the
   program faulted in along the way), from /proc/self/statm (read with open
   and read, so that measuring allocates nothing). */
typedef struct rss {
    long total, anon;
} rss;

static rss rss_now(void)
{
    char buf[256];
    int fd = open("/proc/self/statm", O_RDONLY);
    if (fd < 0)
        wl_die("cannot open /proc/self/statm");
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        wl_die("cannot read /proc/self/statm");
    buf[n] = '\0';
    long size, resident, shared;
    if (sscanf(buf, "%ld %ld %ld", &size, &resident, &shared) != 3)
        wl_die("cannot parse /proc/self/statm: %s", buf);
    long kib = sysconf(_SC_PAGESIZE) / 1024;
    return (rss){resident * kib, (resident - shared) * kib};
}

/* Print `rss_<what>_kib` and `anon_<what>_kib`. */
static void report(const char *what, rss r)
{
    printf("report: rss_%s_kib %ld\nreport: anon_%s_kib %ld\n", what, r.total, what, r.anon);
    fflush(stdout);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Each block holds its size in its first word and a hash of its index in
   the second; its last byte, when it is not part of those, is derived from
   the hash. */
static void stamp(unsigned char *p, size_t size, size_t index)
{
    uint64_t head[2] = {size, wl_mix(index)};
    memcpy(p, head, sizeof head);
    if (size > sizeof head)
        p[size - 1] = wl_tail_byte(head[1]);
}

static uint64_t check_and_free(unsigned char *p, size_t index)
{
    uint64_t head[2];
    memcpy(head, p, sizeof head);
    if (head[0] < MIN_SIZE || head[0] > MAX_SIZE || head[1] != wl_mix(index))
        wl_die("block %zu at %p: header %016" PRIx64 " %016" PRIx64
               ", expected size and %016" PRIx64,
               index, (void *)p, head[0], head[1], wl_mix(index));
    if (head[0] > sizeof head && p[head[0] - 1] != wl_tail_byte(head[1]))
        wl_die("block %zu at %p of %" PRIu64 " bytes: last byte overwritten", index, (void *)p,
               head[0]);
    free(p);
    return wl_mix(head[1] ^ head[0]);
}

int main(int argc, char **argv)
{
    int quick = wl_args(argc, argv, "wl_fragment");
    size_t fill = quick ? FILL_QUICK : FILL;
    unsigned idle_ms = quick ? IDLE_MS_QUICK : IDLE_MS;

    report("start", rss_now());

    /* Count the blocks first, so the pointer array can be mapped once. */
    wl_rng r = wl_seed(7);
    size_t count = 0;
    for (size_t bytes = 0; bytes < fill; count++)
        bytes += wl_between(&r, MIN_SIZE, MAX_SIZE);
    size_t array_bytes = count * sizeof(unsigned char *);
    unsigned char **block =
        mmap(NULL, array_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (block == MAP_FAILED)
        wl_die("cannot map the pointer array (%zu bytes)", array_bytes);

    uint64_t allocated = 0, freed = 0;
    r = wl_seed(7);
    for (size_t i = 0; i < count; i++) {
        size_t size = wl_between(&r, MIN_SIZE, MAX_SIZE);
        block[i] = wl_malloc(size);
        stamp(block[i], size, i);
        allocated += wl_mix(wl_mix(i) ^ size);
    }
    report("full", rss_now());

    for (size_t i = 0; i < count; i++) {
        if (wl_mix(i ^ 0x5A5A) % KEEP_ONE_IN != 0) {
            freed += check_and_free(block[i], i);
            block[i] = NULL;
        }
    }
    report("after_90pct_free", rss_now());

    for (size_t i = 0; i < count; i++)
        if (block[i] != NULL)
            freed += check_and_free(block[i], i);
    if (munmap(block, array_bytes) != 0)
        wl_die("cannot unmap the pointer array");
    if (freed != allocated)
        wl_die("freed blocks sum to %016" PRIx64 ", allocated ones to %016" PRIx64, freed,
               allocated);
    report("after_all_free", rss_now());

    /* Idle: a program that keeps running, lightly. */
    uint64_t end = now_ms() + idle_ms;
    rss now = rss_now();
    wl_rng idle = wl_seed(77);
    while (now_ms() < end) {
        void *p[IDLE_BATCH];
        size_t size[IDLE_BATCH];
        for (size_t i = 0; i < IDLE_BATCH; i++) {
            size[i] = wl_between(&idle, MIN_SIZE, MAX_SIZE);
            p[i] = wl_malloc(size[i]);
            wl_stamp(p[i], size[i], i);
        }
        for (size_t i = IDLE_BATCH; i-- > 0;) {
            wl_check(p[i], size[i], i);
            free(p[i]);
        }
        struct timespec pause = {0, POLL_NS};
        nanosleep(&pause, NULL);
        now = rss_now();
    }
    report("end", now);
    wl_print_checksum(freed ^ wl_mix(count));
    return 0;
}

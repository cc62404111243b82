/*
 * test_heap_idle.c -- freed memory goes back to the OS while the program sleeps.
 *
 * Specification (issue 11, include/stackheap.h "Returning memory"): once a
 * program stops calling the allocator, its free memory goes back to the OS
 * within about a second: the resident set falls to within 10% of the
 * peak's growth, plus a few MiB.  stackheap's purge thread
 * ("stackheap-purge") does it; when nothing is left to purge it sleeps with
 * no timeout (no wakeups while the program idles).  STACKHEAP_BACKGROUND=0:
 * there is no such thread, nor in a child of fork.
 *
 * While a test idles it makes no allocator call at all: the resident set is
 * read from /proc/self/statm with open and read (fopen would allocate, and
 * an allocation's slow path purges too), and figures are printed after.
 */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stackheap.h"

static const bool rss_is_the_heaps_alone = RSS_IS_THE_HEAPS_ALONE; /* check.h */

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)
/* "plus a few MiB" */
#define SLACK (4 * MIB)
#define IDLE_MS 1000
#define THREAD_NAME "stackheap-purge"
#define CHILD_OFF "--background-off-child"

/* Up to cap - 1 bytes of the file at path, NUL-terminated, without malloc. */
static size_t read_raw(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return n > 0 ? (size_t)n : 0;
}

static size_t rss_raw(void)
{
    char buf[128];
    unsigned long size = 0, resident = 0;
    if (read_raw("/proc/self/statm", buf, sizeof buf) == 0 ||
        sscanf(buf, "%lu %lu", &size, &resident) != 2) /* sscanf on a string: no malloc */
        return 0;
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0)
        ;
}

/* The kernel id of this process's thread named THREAD_NAME, 0 if none. */
static long purge_thread(void)
{
    DIR *d = opendir("/proc/self/task");
    long found = 0;
    struct dirent *e;
    while (d != NULL && found == 0 && (e = readdir(d)) != NULL) {
        char path[320], name[32];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        if (read_raw(path, name, sizeof name) > 0 && strncmp(name, THREAD_NAME "\n", 16) == 0)
            found = atol(e->d_name);
    }
    if (d != NULL)
        closedir(d);
    return found;
}

/* Context switches of thread tid so far (each wakeup is one). */
static long switches_of(long tid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/self/task/%ld/status", tid);
    if (read_raw(path, buf, sizeof buf) == 0)
        return -1;
    long total = 0;
    for (const char *f = buf; (f = strstr(f, "ctxt_switches:")) != NULL; f++)
        total += atol(f + strlen("ctxt_switches:"));
    return total;
}

/* ---- the peak of the issue: big, span and small blocks --------------------------- */

#define BIG 8
#define SPAN 100
#define SMALL 120000
static void *big[BIG], *span[SPAN], *small[SMALL];

static void mixed_peak_goes_back_while_the_program_sleeps(void)
{
    memset(small, 0, sizeof small); /* the pointer arrays are resident before the start */
    size_t start = rss_raw();
    for (int i = 0; i < BIG; i++)
        CHECK((big[i] = sh_malloc(24 * MIB)) != NULL);
    for (int i = 0; i < SPAN; i++)
        CHECK((span[i] = sh_malloc(1 * MIB)) != NULL);
    for (int i = 0; i < SMALL; i++)
        CHECK((small[i] = sh_malloc(1000)) != NULL);
    for (int i = 0; i < BIG; i++)
        memset(big[i], 1, 24 * MIB);
    for (int i = 0; i < SPAN; i++)
        memset(span[i], 2, 1 * MIB);
    for (int i = 0; i < SMALL; i++)
        memset(small[i], 3, 1000);
    size_t peak = rss_raw();
    for (int i = 0; i < BIG; i++)
        sh_free(big[i]);
    for (int i = 0; i < SPAN; i++)
        sh_free(span[i]);
    for (int i = 0; i < SMALL; i++)
        sh_free(small[i]);
    size_t freed = rss_raw();
    sleep_ms(IDLE_MS); /* no allocator call from here */
    size_t idle = rss_raw();
    size_t bound = start + (peak - start) / 10 + SLACK;
    printf("     8 x 24 MiB, 100 x 1 MiB, 120000 x 1000 B: RSS %zu KiB at the start, %zu KiB "
           "at the peak, %zu KiB freed, %zu KiB after %d ms asleep (bound %zu KiB)\n",
           start / KIB, peak / KIB, freed / KIB, idle / KIB, IDLE_MS, bound / KIB);
    CHECK(peak >= start + 400 * MIB);
    if (rss_is_the_heaps_alone)
        CHECK(idle <= bound);
}

/* 512 MiB of 64-byte blocks on the main thread (the second run). */
static void small_blocks_go_back_while_the_program_sleeps(void)
{
    enum { TOTAL = 512 << 20, BLOCK = 64, COUNT = TOTAL / BLOCK };
    size_t array = (size_t)COUNT * sizeof(void *);
    void **blocks = mmap(NULL, array, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(blocks != MAP_FAILED);
    if (blocks == MAP_FAILED)
        return;
    size_t start = rss_raw();
    size_t n = 0;
    for (; n < COUNT; n++) {
        unsigned char *p = sh_malloc(BLOCK);
        if (p == NULL)
            break;
        p[0] = p[BLOCK - 1] = 1;
        blocks[n] = p;
    }
    size_t peak = rss_raw();
    for (size_t i = 0; i < n; i++)
        sh_free(blocks[i]);
    munmap(blocks, array);
    size_t freed = rss_raw();
    sleep_ms(IDLE_MS);
    size_t idle = rss_raw();
    size_t bound = start + (peak - start) / 10 + SLACK;
    printf("     512 MiB in 64-byte blocks: RSS %zu KiB at the start, %zu KiB at the peak, %zu "
           "KiB freed, %zu KiB after %d ms asleep (bound %zu KiB)\n",
           start / KIB, peak / KIB, freed / KIB, idle / KIB, IDLE_MS, bound / KIB);
    CHECK_EQ_U(n, COUNT);
    if (rss_is_the_heaps_alone)
        CHECK(idle <= bound);
}

/* Once everything went back, the purge thread sleeps until there is work:
   no context switch of it in a second of idling. */
static void the_purge_thread_sleeps_while_nothing_is_left(void)
{
    void *p = sh_malloc(256 * KIB); /* a span block: purgeable once freed */
    CHECK(p != NULL);
    memset(p, 1, 256 * KIB);
    sh_free(p);
    sleep_ms(600); /* the delay, and the pass that empties everything */
    long tid = purge_thread();
    CHECK(tid != 0);
    if (tid == 0)
        return;
    long before = switches_of(tid);
    sleep_ms(IDLE_MS);
    long after = switches_of(tid);
    printf("     thread %s (%ld): %ld wakeups in %d ms of idling\n", THREAD_NAME, tid,
           after - before, IDLE_MS);
    CHECK(before >= 0);
    CHECK_EQ_U(after - before, 0);
}

/* ---- STACKHEAP_BACKGROUND=0 and fork --------------------------------------------- */

static int background_off_child(void)
{
    enum { N = (64 << 20) / 64 };
    static void *blocks[N];
    memset(blocks, 0, sizeof blocks);
    size_t start = rss_raw();
    for (int i = 0; i < N; i++)
        if ((blocks[i] = sh_malloc(64)) == NULL)
            return 2;
    for (int i = 0; i < N; i++)
        memset(blocks[i], 1, 64);
    for (int i = 0; i < N; i++)
        sh_free(blocks[i]);
    sleep_ms(IDLE_MS);
    size_t idle = rss_raw();
    long tid = purge_thread();
    printf("     STACKHEAP_BACKGROUND=0: 64 MiB freed, RSS %zu KiB (start %zu KiB) after %d ms "
           "asleep; purge thread %s\n",
           idle / KIB, start / KIB, IDLE_MS, tid != 0 ? "present" : "absent");
    if (tid != 0)
        return 3;
    /* without the thread nothing purges until the next allocator call */
    if (rss_is_the_heaps_alone && idle < start + 32 * MIB)
        return 4;
    return 0;
}

static void no_purge_thread_with_background_off(void)
{
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        setenv("STACKHEAP_BACKGROUND", "0", 1);
        execl("/proc/self/exe", "test_heap_idle", CHILD_OFF, (char *)NULL);
        _exit(127);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ_U(WEXITSTATUS(status), 0);
}

/* The parent's purge thread exists (the tests above started it); a child of
   fork has none and starts none (pthread_create there could wait forever on
   a lock another thread of the parent held), and its freed memory goes
   back at its next allocator call. */
static void a_forked_child_starts_no_purge_thread(void)
{
    CHECK(purge_thread() != 0);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        enum { N = 100 };
        void *b[N];
        size_t start = rss_raw();
        for (int i = 0; i < N; i++)
            if ((b[i] = sh_malloc(1 * MIB)) == NULL)
                _exit(2);
        for (int i = 0; i < N; i++)
            memset(b[i], 1, 1 * MIB);
        size_t peak = rss_raw();
        for (int i = 0; i < N; i++)
            sh_free(b[i]);
        sleep_ms(IDLE_MS);
        long tid = purge_thread();
        for (int i = 0; i < 100; i++) /* slow paths: the purge at the next call */
            sh_free(sh_malloc(200 * KIB));
        size_t after = rss_raw();
        printf("     forked child: purge thread %s after %d ms; RSS %zu KiB at the start, %zu "
               "KiB at the peak, %zu KiB after its next allocator calls\n",
               tid != 0 ? "present" : "absent", IDLE_MS, start / KIB, peak / KIB, after / KIB);
        fflush(stdout);
        if (tid != 0)
            _exit(3);
        if (rss_is_the_heaps_alone && after > start + (peak - start) / 10 + SLACK)
            _exit(4);
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ_U(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], CHILD_OFF) == 0)
        return background_off_child();
    RUN(mixed_peak_goes_back_while_the_program_sleeps);
    RUN(small_blocks_go_back_while_the_program_sleeps);
    RUN(the_purge_thread_sleeps_while_nothing_is_left);
    RUN(no_purge_thread_with_background_off);
    RUN(a_forked_child_starts_no_purge_thread);
    return check_report();
}

/*
 * test_default_stack.c -- each thread's default stack (sh_stack_default) and
 * the STACKHEAP_STACK_SIZE option that sizes it.
 *
 * Specification tested here:
 *   - sh_stack_default() returns the same stack on every call in a thread and
 *     a different one in every other live thread;
 *   - it is named "default stack of thread <kernel tid>";
 *   - its capacity is SH_STACK_DEFAULT_CAPACITY (8 MiB) unless
 *     STACKHEAP_STACK_SIZE says otherwise;
 *   - it is unmapped when its thread exits (heap fallback blocks included), so
 *     many short-lived threads do not grow the process;
 *   - STACKHEAP_STACK_SIZE is read once per process: bytes or a K/M/G suffix;
 *     an unreadable value gives one "stackheap: warning:" line and the default.
 *
 * The option is read once per process, so each value is tested in a fresh
 * process: the test re-executes itself (/proc/self/exe) with the mode
 * argument "--print-default-capacity" and the variable set, and reads what
 * the child prints.  main() unsets the variable before anything reads it, so
 * the tests in this process always see the compiled default.
 */
#include "check.h"

#include <stackheap.h>

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define CHILD_MODE "--print-default-capacity"

static long thread_id(void)
{
    return (long)syscall(SYS_gettid);
}

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* True if no mapping covers the page holding address a. */
static bool page_is_unmapped(uintptr_t a)
{
    void *page = (void *)(a & ~(uintptr_t)(page_size() - 1));
    errno = 0;
    return msync(page, page_size(), MS_ASYNC) == -1 && errno == ENOMEM;
}

static bool page_is_mapped(uintptr_t a)
{
    void *page = (void *)(a & ~(uintptr_t)(page_size() - 1));
    return msync(page, page_size(), MS_ASYNC) == 0;
}

static size_t capacity_of(const sh_stack *s)
{
    sh_stack_stats st;
    if (sh_stack_get_stats(s, &st) != 0)
        return 0;
    return st.capacity;
}

/* ---- what a thread saw of its default stack ------------------------------- */

typedef struct seen {
    pthread_barrier_t *all_alive; /* if set: wait until every thread has its stack */
    sh_stack *first, *second;     /* two calls of sh_stack_default */
    long tid;
    char name[64];
    size_t capacity;
    uintptr_t data_first, data_last; /* first and last byte of the data area */
    uintptr_t heap_block;            /* a heap fallback block still live at exit */
    size_t touch;                    /* bytes to allocate and write before exiting */
} seen;

static void *look_at_default_stack(void *arg)
{
    seen *w = arg;
    w->first = sh_stack_default();
    w->second = sh_stack_default();
    w->tid = thread_id();
    if (w->first == NULL)
        return NULL;
    snprintf(w->name, sizeof w->name, "%s", sh_stack_name(w->first));
    w->capacity = capacity_of(w->first);
    /* The stack is empty, so the first allocation is at the bottom of its data. */
    char *p = sh_stack_alloc(w->first, w->touch > 0 ? w->touch : 1);
    if (p != NULL) {
        memset(p, 0x5a, w->touch > 0 ? w->touch : 1);
        w->data_first = (uintptr_t)p;
        w->data_last = (uintptr_t)p + w->capacity - 1;
    }
    if (w->all_alive != NULL)
        pthread_barrier_wait(w->all_alive);
    return NULL;
}

static bool run_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    if (pthread_create(&t, NULL, fn, arg) != 0)
        return false;
    return pthread_join(t, NULL) == 0;
}

/* ---- in this process --------------------------------------------------------- */

static void same_stack_on_every_call_in_a_thread(void)
{
    sh_stack *a = sh_stack_default();
    sh_stack *b = sh_stack_default();
    CHECK(a != NULL);
    CHECK_EQ_PTR(a, b);

    seen w = {0};
    CHECK(run_thread(look_at_default_stack, &w));
    CHECK(w.first != NULL);
    CHECK_EQ_PTR(w.first, w.second);
}

static void named_after_the_kernel_thread_id(void)
{
    char want[64];
    snprintf(want, sizeof want, "default stack of thread %ld", thread_id());
    const char *name = sh_stack_name(sh_stack_default());
    if (strcmp(name, want) != 0)
        fprintf(stderr, "  main thread's default stack is named \"%s\", expected \"%s\"\n", name,
                want);
    CHECK(strcmp(name, want) == 0);

    seen w = {0};
    CHECK(run_thread(look_at_default_stack, &w));
    snprintf(want, sizeof want, "default stack of thread %ld", w.tid);
    if (strcmp(w.name, want) != 0)
        fprintf(stderr, "  thread's default stack is named \"%s\", expected \"%s\"\n", w.name,
                want);
    CHECK(strcmp(w.name, want) == 0);
}

enum { CONCURRENT = 6 };

static void distinct_stacks_in_concurrent_threads(void)
{
    /* All threads stay alive until each has its stack, so no address is reused. */
    pthread_barrier_t alive;
    CHECK(pthread_barrier_init(&alive, NULL, CONCURRENT) == 0);
    seen w[CONCURRENT];
    pthread_t t[CONCURRENT];
    memset(w, 0, sizeof w);
    for (int i = 0; i < CONCURRENT; i++) {
        w[i].all_alive = &alive;
        CHECK(pthread_create(&t[i], NULL, look_at_default_stack, &w[i]) == 0);
    }
    for (int i = 0; i < CONCURRENT; i++)
        CHECK(pthread_join(t[i], NULL) == 0);
    pthread_barrier_destroy(&alive);

    sh_stack *main_stack = sh_stack_default();
    for (int i = 0; i < CONCURRENT; i++) {
        CHECK(w[i].first != NULL);
        CHECK_EQ_PTR(w[i].first, w[i].second);
        CHECK(w[i].first != main_stack);
        for (int j = 0; j < i; j++) {
            CHECK(w[i].first != w[j].first);
            CHECK(w[i].tid != w[j].tid);
            CHECK(strcmp(w[i].name, w[j].name) != 0);
            /* the data areas do not overlap either */
            CHECK(w[i].data_last < w[j].data_first || w[j].data_last < w[i].data_first);
        }
    }
}

static void capacity_is_8_mib_by_default(void)
{
    CHECK_EQ_U(SH_STACK_DEFAULT_CAPACITY, 8u << 20);
    CHECK_EQ_U(capacity_of(sh_stack_default()), SH_STACK_DEFAULT_CAPACITY);

    seen w = {0};
    CHECK(run_thread(look_at_default_stack, &w));
    CHECK_EQ_U(w.capacity, SH_STACK_DEFAULT_CAPACITY);

    /* All of it is usable, and not one byte more. */
    sh_stack *s = sh_stack_default();
    sh_frame f = sh_stack_push(s);
    void *all = sh_stack_alloc(s, SH_STACK_DEFAULT_CAPACITY);
    CHECK(all != NULL);
    CHECK(sh_stack_alloc_aligned(s, 1, 1) == NULL);
    CHECK_EQ_U(errno, ENOMEM);
    sh_stack_pop(s, f);
}

static void unmapped_when_its_thread_exits(void)
{
    seen w = {.touch = 4096};
    CHECK(run_thread(look_at_default_stack, &w));
    CHECK(w.first != NULL && w.data_first != 0);
    /* the stack's header (at the start of its mapping) and both ends of its data */
    if (!page_is_unmapped((uintptr_t)w.first))
        fprintf(stderr, "  the header of '%s' is still mapped after the join\n", w.name);
    CHECK(page_is_unmapped((uintptr_t)w.first));
    CHECK(page_is_unmapped(w.data_first));
    CHECK(page_is_unmapped(w.data_last));
    /* and the test's own probe tells a live mapping apart */
    CHECK(page_is_mapped((uintptr_t)sh_stack_default()));
}

/* Allocate more than the capacity with the heap fallback, and exit with it live. */
static void *exit_with_heap_block(void *arg)
{
    seen *w = arg;
    w->first = sh_stack_default();
    if (w->first == NULL || sh_stack_set_overflow(w->first, SH_OVERFLOW_HEAP, NULL, NULL) != 0)
        return NULL;
    sh_stack_push(w->first); /* left open on purpose: the exit releases everything */
    size_t big = capacity_of(w->first) + 1;
    char *p = sh_stack_alloc(w->first, big);
    if (p == NULL)
        return NULL;
    p[0] = p[big - 1] = 1;
    sh_stack_stats st;
    sh_stack_get_stats(w->first, &st);
    if (st.heap_blocks == 1)
        w->heap_block = (uintptr_t)p;
    return NULL;
}

static void exit_releases_open_frames_and_heap_blocks(void)
{
    seen w = {0};
    CHECK(run_thread(exit_with_heap_block, &w));
    CHECK(w.first != NULL);
    CHECK(w.heap_block != 0);
    CHECK(page_is_unmapped((uintptr_t)w.first));
    /* the block went back to the heap, whose cache of large mappings keeps it
       for the purge delay; a forced collect returns it to the OS at once */
    sh_heap_collect(true);
    CHECK(page_is_unmapped(w.heap_block));
}

/*
 * A thread-specific destructor of the program that runs after stackheap's
 * and uses the default stack again gets a new one, which must be released
 * too (POSIX runs destructors again while values are set).
 */
static pthread_key_t late_key;

static void late_destructor(void *arg)
{
    seen *w = arg;
    w->second = sh_stack_default();
    char *p = w->second ? sh_stack_alloc(w->second, 64) : NULL;
    if (p != NULL) {
        p[0] = 1;
        w->data_first = (uintptr_t)p;
    }
}

static void *use_default_then_set_late_key(void *arg)
{
    seen *w = arg;
    w->first = sh_stack_default();
    pthread_setspecific(late_key, w);
    return NULL;
}

static void stack_made_by_a_later_destructor_is_released_too(void)
{
    sh_stack_default(); /* stackheap's key exists, so late_key comes after it */
    CHECK(pthread_key_create(&late_key, late_destructor) == 0);
    seen w = {0};
    CHECK(run_thread(use_default_then_set_late_key, &w));
    pthread_key_delete(late_key);
    CHECK(w.first != NULL);
    CHECK(w.second != NULL);
    CHECK(w.data_first != 0);
    CHECK(page_is_unmapped((uintptr_t)w.first));
    CHECK(page_is_unmapped((uintptr_t)w.second));
    CHECK(page_is_unmapped(w.data_first));
}

/* Lines of /proc/self/maps (one per mapping), or -1. */
static long mapping_count(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return -1;
    long lines = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        lines += c == '\n';
    fclose(f);
    return lines;
}

/* Resident set size in KiB (VmRSS of /proc/self/status), or -1. */
static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    }
    fclose(f);
    return kib;
}

enum {
    SHORT_LIVED = 200,
    TOUCH_PER_THREAD = 512 << 10, /* leaked, 200 of these would be 100 MiB resident */
    MAX_MAPPING_GROWTH = 8,
    MAX_RSS_GROWTH_KIB = 24 << 10,
};

static void short_lived_threads_do_not_grow_the_process(void)
{
    /* Warm up: thread stack caches, the first stacks, stdio. */
    for (int i = 0; i < 8; i++) {
        seen w = {.touch = TOUCH_PER_THREAD};
        CHECK(run_thread(look_at_default_stack, &w));
    }
    long maps_before = mapping_count(), rss_before = rss_kib();
    CHECK(maps_before > 0 && rss_before > 0);
    for (int i = 0; i < SHORT_LIVED; i++) {
        seen w = {.touch = TOUCH_PER_THREAD};
        CHECK(run_thread(look_at_default_stack, &w));
        CHECK(w.data_first != 0);
    }
    long maps_after = mapping_count(), rss_after = rss_kib();
    if (maps_after - maps_before > MAX_MAPPING_GROWTH ||
        rss_after - rss_before > MAX_RSS_GROWTH_KIB)
        fprintf(stderr, "  after %d threads: mappings %ld -> %ld, RSS %ld -> %ld KiB\n",
                SHORT_LIVED, maps_before, maps_after, rss_before, rss_after);
    CHECK(maps_after - maps_before <= MAX_MAPPING_GROWTH);
    CHECK(rss_after - rss_before <= MAX_RSS_GROWTH_KIB);
}

static void delete_main_default_stack(void *arg)
{
    (void)arg;
    sh_stack_delete(sh_stack_default());
}

static void deleting_the_default_stack_aborts(void)
{
    CHECK_DIES(delete_main_default_stack, NULL, "is a thread's default stack");
}

/* ---- STACKHEAP_STACK_SIZE, one fresh process per value ---------------------- */

/*
 * Child: print the main thread's default capacity, then change the variable
 * and print a new thread's: the second must equal the first (read once).
 */
static int print_default_capacity(void)
{
    sh_stack *s = sh_stack_default();
    if (s == NULL) {
        printf("no default stack (errno %d)\n", errno);
        return 1;
    }
    printf("capacity %zu\n", capacity_of(s));
    setenv("STACKHEAP_STACK_SIZE", "4K", 1);
    seen w = {0};
    if (!run_thread(look_at_default_stack, &w) || w.first == NULL)
        return 1;
    printf("thread capacity %zu\n", w.capacity);
    return 0;
}

typedef struct child_output {
    int status;
    char out[1024];
    char err[4096];
} child_output;

static void read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    ssize_t n;
    while (len + 1 < cap && (n = read(fd, buf + len, cap - 1 - len)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        len += (size_t)n;
    }
    buf[len] = '\0';
}

/* Run this program in CHILD_MODE with STACKHEAP_STACK_SIZE=value (NULL: unset). */
static bool run_child(const char *value, child_output *o)
{
    int out[2], err[2];
    if (pipe(out) != 0 || pipe(err) != 0)
        return false;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]);
        close(err[0]);
        if (value != NULL)
            setenv("STACKHEAP_STACK_SIZE", value, 1);
        else
            unsetenv("STACKHEAP_STACK_SIZE");
        char *argv[] = {"test_default_stack", CHILD_MODE, NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    read_all(out[0], o->out, sizeof o->out); /* small outputs: no deadlock */
    read_all(err[0], o->err, sizeof o->err);
    close(out[0]);
    close(err[0]);
    return waitpid(pid, &o->status, 0) == pid;
}

static size_t count_of(const char *haystack, const char *needle)
{
    size_t n = 0;
    for (const char *p = haystack; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* The child with `value` must report `expected` twice and write nothing to stderr. */
static bool option_gives(const char *value, size_t expected)
{
    child_output o;
    if (!run_child(value, &o)) {
        fprintf(stderr, "  could not run the child for STACKHEAP_STACK_SIZE=%s\n", value);
        return false;
    }
    char want[128];
    snprintf(want, sizeof want, "capacity %zu\nthread capacity %zu\n", expected, expected);
    bool ok = WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0 && strcmp(o.out, want) == 0 &&
              o.err[0] == '\0';
    if (!ok)
        fprintf(stderr,
                "  STACKHEAP_STACK_SIZE=%s: expected \"%s\" and a silent stderr, got status %d, "
                "stdout \"%s\", stderr \"%s\"\n",
                value ? value : "(unset)", want, o.status, o.out, o.err);
    return ok;
}

/* The child with `value` must use the default and print exactly one warning. */
static bool option_is_rejected(const char *value)
{
    child_output o;
    if (!run_child(value, &o))
        return false;
    char want[128];
    snprintf(want, sizeof want, "capacity %zu\nthread capacity %zu\n",
             (size_t)SH_STACK_DEFAULT_CAPACITY, (size_t)SH_STACK_DEFAULT_CAPACITY);
    char quoted[128];
    snprintf(quoted, sizeof quoted, "STACKHEAP_STACK_SIZE='%s'", value);
    bool ok = WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0 && strcmp(o.out, want) == 0 &&
              strncmp(o.err, "stackheap: warning: ", 20) == 0 && strstr(o.err, quoted) != NULL &&
              count_of(o.err, "\n") == 1 && count_of(o.err, "stackheap: warning:") == 1;
    if (!ok)
        fprintf(stderr,
                "  STACKHEAP_STACK_SIZE=%s: expected \"%s\" and one line \"stackheap: warning: "
                "...%s...\" on stderr, got status %d, stdout \"%s\", stderr \"%s\"\n",
                value, want, quoted, o.status, o.out, o.err);
    return ok;
}

static void option_accepts_bytes_and_suffixes(void)
{
    CHECK(option_gives("64K", 65536));
    CHECK(option_gives("8M", 8u << 20));
    CHECK(option_gives("1G", (size_t)1 << 30));
    CHECK(option_gives("1048576", 1048576));
    CHECK(option_gives("2m", 2u << 20));
    CHECK(option_gives("64KiB", 65536));
}

static void option_unset_or_empty_gives_8_mib(void)
{
    CHECK(option_gives(NULL, SH_STACK_DEFAULT_CAPACITY));
    CHECK(option_gives("", SH_STACK_DEFAULT_CAPACITY));
}

static void option_is_rounded_up_to_pages(void)
{
    size_t page = page_size();
    char value[32];
    snprintf(value, sizeof value, "%zu", page + 1);
    CHECK(option_gives(value, 2 * page));
    CHECK(option_gives("1", page));
}

static void option_unreadable_warns_once_and_uses_8_mib(void)
{
    CHECK(option_is_rejected("lots"));
    CHECK(option_is_rejected("0"));
    CHECK(option_is_rejected("-1"));
    CHECK(option_is_rejected("12Q"));
    CHECK(option_is_rejected("99999999999999999999999"));
    CHECK(option_is_rejected("20000000000T")); /* overflows size_t after the shift */
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], CHILD_MODE) == 0)
        return print_default_capacity();
    unsetenv("STACKHEAP_STACK_SIZE"); /* nothing has read it yet */

    RUN(same_stack_on_every_call_in_a_thread);
    RUN(named_after_the_kernel_thread_id);
    RUN(distinct_stacks_in_concurrent_threads);
    RUN(capacity_is_8_mib_by_default);
    RUN(unmapped_when_its_thread_exits);
    RUN(exit_releases_open_frames_and_heap_blocks);
    RUN(stack_made_by_a_later_destructor_is_released_too);
    RUN(short_lived_threads_do_not_grow_the_process);
    RUN(deleting_the_default_stack_aborts);
    RUN(option_accepts_bytes_and_suffixes);
    RUN(option_unset_or_empty_gives_8_mib);
    RUN(option_is_rounded_up_to_pages);
    RUN(option_unreadable_warns_once_and_uses_8_mib);
    return check_report();
}

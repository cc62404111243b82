/*
 * test_heap_limits.c -- the heap at the OS's limits.
 *
 * Each test runs in a child process that lowers its own limits
 * (setrlimit), so the rest of the suite is not affected.  Not in sanitizer
 * builds: their shadow memory counts against RLIMIT_AS.
 */
#define _GNU_SOURCE
#include "check.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stackheap.h"

#define MIB ((size_t)1 << 20)

/* Run f in a child; true if it exited 0. */
static bool in_child(int (*f)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(f());
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Eight freed 24 MiB blocks wait in the large cache (192 MiB mapped); the
   address space allows 100 MiB more; a 150 MiB block must come from giving
   the cache back.  Before: ENOMEM until sh_heap_collect(true). */
static int big_request_with_memory_in_the_cache(void)
{
    void *kept[8];
    for (int i = 0; i < 8; i++)
        kept[i] = sh_malloc(24 * MIB);
    for (int i = 0; i < 8; i++)
        sh_free(kept[i]);
    size_t now = vm_size_bytes();
    struct rlimit lim = {now + 100 * MIB, now + 100 * MIB};
    if (now == 0 || setrlimit(RLIMIT_AS, &lim) != 0)
        return 2;
    unsigned char *p = sh_malloc(150 * MIB);
    if (p == NULL) {
        fprintf(stderr, "  malloc(150 MiB) failed (errno %d) with 192 MiB in the cache\n", errno);
        return 1;
    }
    p[0] = p[150 * MIB - 1] = 1;
    sh_free(p);
    return 0;
}

static void a_request_is_served_by_giving_the_caches_back(void)
{
    CHECK(in_child(big_request_with_memory_in_the_cache));
}

/* Fill the address space (RLIMIT_AS, 256 MiB above VmSize) with 16-byte
   blocks, free them all, then ask for blocks of every kind: each is served
   (the empty pages and segments go back when a mapping is refused).
   Before: ENOMEM for all of them until sh_heap_collect(true). */
static int requests_after_filling_the_limit(void)
{
    size_t now = vm_size_bytes();
    struct rlimit lim = {now + 256 * MIB, now + 256 * MIB};
    if (now == 0 || setrlimit(RLIMIT_AS, &lim) != 0)
        return 2;
    void **last = NULL; /* the blocks hold the list of themselves */
    size_t n = 0;
    for (void **b; (b = sh_malloc(16)) != NULL; n++) {
        *b = last;
        last = b;
    }
    while (last != NULL) {
        void **prev = *last;
        sh_free(last);
        last = prev;
    }
    size_t sizes[] = {200 << 10, 1 * MIB, 3 * MIB, 64 * MIB};
    int bad = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = sh_malloc(sizes[i]);
        if (p == NULL) {
            fprintf(stderr, "  after %zu 16-byte blocks: malloc(%zu) failed (errno %d)\n", n,
                    sizes[i], errno);
            bad = 1;
            continue;
        }
        p[0] = p[sizes[i] - 1] = 1;
        sh_free(p);
    }
    char *r = sh_malloc(8000);
    char *grown = r != NULL ? sh_realloc(r, 16000) : NULL;
    if (grown == NULL) {
        fprintf(stderr, "  after %zu 16-byte blocks: realloc(8000 -> 16000) failed\n", n);
        bad = 1;
    }
    sh_free(grown != NULL ? grown : r);
    return bad;
}

static void requests_succeed_after_the_address_space_was_filled_and_freed(void)
{
    CHECK(in_child(requests_after_filling_the_limit));
}

/* A field of /proc/meminfo, in bytes; 0 if absent. */
static size_t meminfo(const char *field)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (f == NULL)
        return 0;
    char line[256];
    size_t kib = 0, len = strlen(field);
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, len) == 0 && sscanf(line + len, ": %zu kB", &kib) == 1)
            break;
    fclose(f);
    return kib * 1024;
}

/* Under the kernel's default (heuristic) overcommit, a request larger than
   memory and swap is refused to any program: malloc says ENOMEM, as glibc's
   does, rather than hand out memory that would kill the program when
   touched.  Before: 32 GiB and 1 TiB blocks were handed out on a 24 GiB
   machine. */
static void requests_larger_than_memory_and_swap_fail(void)
{
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
    int mode = -1;
    if (f != NULL) {
        if (fscanf(f, "%d", &mode) != 1)
            mode = -1;
        fclose(f);
    }
    size_t total = meminfo("MemTotal") + meminfo("SwapTotal");
    size_t beyond = ((total >> 30) + 8) << 30; /* 8 GiB more than there is */
    if (mode != 0 || total == 0) {
        printf("     skipped: overcommit_memory is %d, not the heuristic mode 0\n", mode);
        return;
    }
    size_t sizes[] = {beyond, (size_t)1 << 40};
    for (size_t i = 0; i < 2; i++) {
        errno = 0;
        void *p = sh_malloc(sizes[i]);
        if (p != NULL)
            fprintf(stderr, "  malloc(%zu GiB) with %zu GiB of memory and swap: a pointer\n",
                    sizes[i] >> 30, total >> 30);
        CHECK(p == NULL && errno == ENOMEM);
        sh_free(p);
        errno = 0;
        p = sh_calloc(1, sizes[i]);
        CHECK(p == NULL && errno == ENOMEM);
        sh_free(p);
    }
}

int main(void)
{
    RUN(a_request_is_served_by_giving_the_caches_back);
    RUN(requests_succeed_after_the_address_space_was_filled_and_freed);
    RUN(requests_larger_than_memory_and_swap_fail);
    return check_report();
}

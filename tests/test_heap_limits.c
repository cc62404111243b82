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

/* The process's address space now (VmSize), in bytes; 0 if unknown. */
static size_t vm_size(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return 0;
    char line[256];
    size_t kib = 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmSize: %zu kB", &kib) == 1)
            break;
    fclose(f);
    return kib * 1024;
}

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
    size_t now = vm_size();
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

int main(void)
{
    RUN(a_request_is_served_by_giving_the_caches_back);
    return check_report();
}

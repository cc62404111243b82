/*
 * fault_workload.c -- one pass over every kind of block, for the fault
 * sweep (tests/fault_sweep.cmake runs it with STACKHEAP_FAULT=KIND:N for
 * each system call kind and N = 1, 2, ...: the Nth mmap, mremap, madvise or
 * munmap of the process fails with ENOMEM).
 *
 * Every allocation either succeeds or returns NULL with errno ENOMEM; any
 * other outcome is a failure (exit 1), and a crash is one too.  The pass
 * (everything freed, then sh_heap_collect(true)) runs N times (the
 * argument; 6 without one), then once more, and that last pass must succeed
 * entirely: one failed call leaves nothing broken.  The fault must fall
 * before it: the sweep's N is at most 80
 * (fault_sweep.sh), and a pass makes about 26 mmap, 23 munmap, 20 madvise
 * (at a purge delay of 0) and 1 mremap calls (`strace -f -c` of a whole run
 * at delay 0: 192 mmap with the loader's, 163 munmap, 139 madvise, 7
 * mremap; in check mode 191, 144, 150 and none), so six passes make room for
 * 80 with a margin (three in check mode, whose calls come from more places
 * and whose runs take a second).  With three in release mode, the 80th mmap
 * fell in the last pass, where its failure could refuse an allocation (seen
 * once in CI).  Prints how many allocations failed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "stackheap.h"

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)

static unsigned refused; /* NULL + ENOMEM results */
static unsigned wrong;   /* anything else that is not a success */
static int last;         /* in the last pass: say which allocation was refused */

/* p is an allocation's result for size bytes: count and touch it. */
static void *took(void *p, size_t size)
{
    if (p == NULL) {
        if (last)
            printf("fault_workload: the last pass was refused %zu bytes (errno %d)\n", size, errno);
        if (errno == ENOMEM)
            refused++;
        else
            wrong++;
        return NULL;
    }
    memset(p, 0xA5, size < 4096 ? size : 4096); /* its first bytes, not all of it */
    ((unsigned char *)p)[size - 1] = 1;
    return p;
}

/* One pass; returns the allocations refused. */
static unsigned pass(void)
{
    unsigned before = refused;
    static void *small[2000], *medium[64], *span[8], *large[6], *aligned[6];
    for (size_t i = 0; i < 2000; i++)
        small[i] = took(i % 3 ? sh_malloc(16 + i % 1000) : sh_calloc(1, 8 + i % 500),
                        i % 3 ? 16 + i % 1000 : 8 + i % 500);
    for (size_t i = 0; i < 64; i++)
        medium[i] = took(sh_malloc(20 * KIB + i * 1000), 20 * KIB + i * 1000);
    for (size_t i = 0; i < 8; i++) {
        span[i] = took(sh_malloc(200 * KIB), 200 * KIB);
        if (span[i] != NULL) {
            void *r = sh_realloc(span[i], 1500 * KIB);
            if (took(r, 1500 * KIB) != NULL)
                span[i] = r; /* NULL: the old block stays */
        }
    }
    size_t large_sizes[6] = {3 * MIB, 5 * MIB, 9 * MIB, 24 * MIB, 40 * MIB, 3 * MIB};
    for (size_t i = 0; i < 6; i++) {
        large[i] = took(sh_malloc(large_sizes[i]), large_sizes[i]);
        if (large[i] != NULL && i == 2) {
            void *r = sh_realloc(large[i], 30 * MIB);
            if (took(r, 30 * MIB) != NULL)
                large[i] = r;
        }
    }
    size_t aligns[6] = {64, 4096, 64 * KIB, 1 * MIB, 4 * MIB, 8 * MIB};
    for (size_t i = 0; i < 6; i++)
        aligned[i] = took(sh_aligned_alloc(aligns[i], 3 * aligns[i]), 3 * aligns[i]);

    sh_heap *h = sh_heap_new();
    if (h != NULL) {
        for (size_t i = 0; i < 500; i++)
            took(sh_heap_malloc(h, 32 + i * 50), 32 + i * 50);
        took(sh_heap_malloc(h, 5 * MIB), 5 * MIB);
        sh_heap_destroy(h);
    } else if (errno == ENOMEM) {
        if (last)
            printf("fault_workload: the last pass was refused a heap\n");
        refused++;
    } else {
        wrong++;
    }

    sh_stack *st = sh_stack_new(1 * MIB);
    if (st != NULL) {
        sh_frame f = sh_stack_push(st);
        for (int i = 0; i < 100; i++)
            if (sh_stack_alloc(st, 1000) == NULL)
                break;
        sh_stack_pop(st, f);
        sh_stack_delete(st);
    } else if (errno == ENOMEM) {
        if (last)
            printf("fault_workload: the last pass was refused a stack\n");
        refused++;
    } else {
        wrong++;
    }

    for (size_t i = 0; i < 2000; i++)
        sh_free(small[i]);
    for (size_t i = 0; i < 64; i++)
        sh_free(medium[i]);
    for (size_t i = 0; i < 8; i++)
        sh_free(span[i]);
    for (size_t i = 0; i < 6; i++) {
        sh_free(large[i]);
        sh_free(aligned[i]);
    }
    sh_heap_collect(true);
    return refused - before;
}

enum { MAX_PASSES = 16 };

int main(int argc, char **argv)
{
    int passes = argc > 1 ? atoi(argv[1]) : 6;
    if (passes < 1 || passes > MAX_PASSES) {
        printf("usage: fault_workload [PASSES before the last, 1 to %d]\n", MAX_PASSES);
        return 2;
    }
    size_t vm[MAX_PASSES + 1];
    unsigned first = 0;
    for (int i = 0; i < passes; i++) {
        first += pass();
        vm[i] = vm_size_bytes() / 1024;
    }
    last = 1;
    unsigned again = pass();
    vm[passes] = vm_size_bytes() / 1024;
    /* everything was freed and collected after each pass: the address space
       is back where it was (a range whose munmap failed was unmapped by a
       later one) */
    size_t least = vm[0];
    for (int i = 1; i < passes; i++)
        least = least < vm[i] ? least : vm[i];
    /* ...but for the segment map's leaves (4 KiB each, mapped once per 16 GiB
       of address space the heap reaches, never unmapped): a pass whose leaf
       mapping failed leaves it to the next, and the heap's moving address
       hint may reach a new one.  Every block's mapping is 64 KiB or more. */
    if (vm[passes] > least + 8) {
        printf("fault_workload: FAIL: the address space grew: VmSize %zu KiB at least after "
               "the first passes, %zu after the last\n",
               least, vm[passes]);
        return 1;
    }
    if (wrong != 0) {
        printf("fault_workload: FAIL: %u results were neither a block nor NULL with ENOMEM\n",
               wrong);
        return 1;
    }
    if (again != 0) {
        printf("fault_workload: FAIL: the last pass was refused %u allocations\n", again);
        return 1;
    }
    printf("fault_workload: done, %u allocations refused\n", first);
    return 0;
}

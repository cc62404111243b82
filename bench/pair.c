/*
 * pair.c -- N malloc+free pairs of one small size in one loop, for counting
 * the instructions of an allocator's fast path (bench/pair_count.sh).
 *
 *   bench_pair N [--empty]
 *
 * Links nothing but libc, so the allocator is whichever LD_PRELOAD brings
 * (or glibc's).  pair_loop is noinline and reads its size from a volatile,
 * so neither the size nor the loop can be folded; the pointer is handed to
 * an empty asm with a memory clobber, so the compiler cannot drop the pair.
 * Every iteration is a malloc and a free of the same size: after the first,
 * each is served from the thread's cache, which is what the fast path is.
 * Sixteen blocks of the same size stay live around the loop, as a program
 * always has other objects: without them every free would empty its page and
 * take an allocator's page-retiring path (mimalloc's does, 88 instructions),
 * which is not the fast path.
 * A warm-up (not counted: outside the toggled function) runs first, and the
 * counter takes N and 2N and divides the difference by N, which cancels
 * whatever is done once.  --empty runs empty_loop, the same loop without the
 * calls, whose count is subtracted.  The calls go through the PLT (one jump
 * each), as in any program.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile size_t pair_size = 32;

__attribute__((noinline)) void pair_loop(size_t n, size_t size)
{
    for (size_t i = 0; i < n; i++) {
        void *p = malloc(size);
        __asm__ volatile("" : : "r"(p) : "memory");
        free(p);
    }
}

__attribute__((noinline)) void empty_loop(size_t n, size_t size)
{
    for (size_t i = 0; i < n; i++) {
        void *p = (void *)size;
        __asm__ volatile("" : "+r"(p));
        __asm__ volatile("" : : "r"(p) : "memory");
    }
}

__attribute__((noinline)) static void warm_up(size_t size)
{
    void *keep[64];
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 64; i++)
            keep[i] = malloc(size);
        for (int i = 0; i < 64; i++)
            free(keep[i]);
    }
}

int main(int argc, char **argv)
{
    char *end = NULL;
    size_t n = argc > 1 ? strtoul(argv[1], &end, 10) : 0;
    int empty = argc > 2 && strcmp(argv[2], "--empty") == 0;
    if (argc < 2 || argc > 3 || *end != '\0' || n == 0 || (argc == 3 && !empty)) {
        fprintf(stderr, "usage: bench_pair N [--empty]\n");
        return 2;
    }
    warm_up(pair_size);
    void *live[16];
    for (int i = 0; i < 16; i++)
        live[i] = malloc(pair_size);
    if (empty)
        empty_loop(n, pair_size);
    else
        pair_loop(n, pair_size);
    for (int i = 0; i < 16; i++)
        free(live[i]);
    return 0;
}

/*
 * xchg.c -- two threads exchange batches of 256 blocks, each freeing what
 * the other allocated: every free is a remote free, every malloc reuses
 * blocks the other thread freed.  Sizes 8..256 bytes, one in 16 up to 4 KiB
 * (issue 12's cross-thread row).  Prints the seconds taken.  Uses malloc and
 * free: run it under LD_PRELOAD for another allocator.
 *
 *   bench_xchg [ROUNDS]   (default 40000 batches each way)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { BATCH = 256 };

static long rounds = 40000;
static void *slot[2][BATCH];
static _Atomic int full[2]; /* 1: slot[i] holds a batch for the other thread */

static void wait_for(int i, int value)
{
    while (atomic_load_explicit(&full[i], memory_order_acquire) != value)
        sched_yield(); /* 2 cores, maybe more threads: never spin a whole time slice */
}

static void *worker(void *arg)
{
    int me = (int)(intptr_t)arg, other = 1 - me;
    uint64_t rng = 88172645463325252ull + (uint64_t)me;
    for (long r = 0; r < rounds; r++) {
        wait_for(me, 0);
        for (int i = 0; i < BATCH; i++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            size_t size = (rng & 15) == 0 ? 8 + rng % 4089 : 8 + rng % 249;
            char *p = malloc(size);
            if (p == NULL) {
                fprintf(stderr, "bench_xchg: malloc(%zu) failed\n", size);
                exit(1);
            }
            p[0] = 1;
            slot[me][i] = p;
        }
        atomic_store_explicit(&full[me], 1, memory_order_release);
        wait_for(other, 1);
        for (int i = 0; i < BATCH; i++)
            free(slot[other][i]);
        atomic_store_explicit(&full[other], 0, memory_order_release);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (rounds = atol(argv[1])) <= 0) {
        fprintf(stderr, "usage: bench_xchg [ROUNDS]\n");
        return 2;
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) != 0)
            return 1;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.3f\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}

/*
 * coherence.c -- how far apart two CPUs are: the round trip of one cache line
 * between two threads pinned to the first two CPUs this process may use, in
 * nanoseconds (median of 5 tries of 100,000 round trips each).
 *
 *   bench_coherence        prints "cross-core round trip: N ns (CPUs a and b)"
 *
 * Why: on a virtual machine the host may place the two vCPUs on cores that
 * share a cache or on cores that do not, and move them while a run goes on.
 * A block freed by another thread crosses between the cores, so the
 * cross-thread workloads' times follow this figure (docs/BENCHMARKS.md,
 * "Cross-thread figures and the host"); the benchmark scripts print it
 * beside their results so that runs can be compared.  Prints "unknown" and
 * exits 0 with fewer than two CPUs.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { TRIPS = 100000, TRIES = 5 };

static _Alignas(64) _Atomic long ball; /* odd: the other thread's turn */
static int cpu[2];

static void pin(int c)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(c, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *partner(void *arg)
{
    (void)arg;
    pin(cpu[1]);
    for (long i = 0; i < (long)TRIPS * TRIES; i++) {
        while (atomic_load_explicit(&ball, memory_order_acquire) != 2 * i + 1)
            ;
        atomic_store_explicit(&ball, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    cpu_set_t set;
    int n = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
            if (CPU_ISSET(c, &set))
                cpu[n++] = c;
    pthread_t t;
    if (n < 2 || pthread_create(&t, NULL, partner, NULL) != 0) {
        printf("cross-core round trip: unknown (fewer than two CPUs)\n");
        return 0;
    }
    pin(cpu[0]);
    double ns[TRIES];
    long i = 0;
    for (int k = 0; k < TRIES; k++) {
        double start = now_ns();
        for (long end = i + TRIPS; i < end; i++) {
            atomic_store_explicit(&ball, 2 * i + 1, memory_order_release);
            while (atomic_load_explicit(&ball, memory_order_acquire) != 2 * i + 2)
                ;
        }
        ns[k] = (now_ns() - start) / TRIPS;
    }
    pthread_join(t, NULL);
    qsort(ns, TRIES, sizeof ns[0], by_value);
    printf("cross-core round trip: %.0f ns (CPUs %d and %d)\n", ns[TRIES / 2], cpu[0], cpu[1]);
    return 0;
}

/*
 * scale.c -- throughput as threads are added: T threads each allocate and
 * free blocks of one class for a fixed number of rounds; prints the
 * operations per second of all threads together, for T = 1, 2 (the cores
 * here) and 16, 32, 64 (oversubscribed: throughput must not collapse).
 *
 *   scale span    blocks of 129 KiB to 2 MiB (stackheap's span segments)
 *   scale small   blocks of 16 to 1024 bytes
 *   scale large   blocks of 3 to 8 MiB
 *
 * Each thread keeps 8 blocks live and replaces one at random each step,
 * touching its first and last byte.  Uses malloc and free: run it under
 * LD_PRELOAD for another allocator (bench/scale.sh does, side by side).
 * Prints `scale KIND T ops_per_s`, one line per T.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIVE 8

static size_t lo_size, hi_size;
static long steps_per_thread;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *worker(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
    unsigned char *live[LIVE] = {0};
    size_t size[LIVE] = {0};
    for (long i = 0; i < steps_per_thread; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        unsigned k = (unsigned)(rng % LIVE);
        free(live[k]);
        size[k] = lo_size + (size_t)(rng >> 8) % (hi_size - lo_size + 1);
        live[k] = malloc(size[k]);
        if (live[k] == NULL) {
            fprintf(stderr, "scale: malloc(%zu) failed\n", size[k]);
            exit(1);
        }
        live[k][0] = 1;
        live[k][size[k] - 1] = 1;
    }
    for (unsigned k = 0; k < LIVE; k++)
        free(live[k]);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *kind = argc > 1 ? argv[1] : "span";
    long total = 400000; /* steps over all threads, whatever T */
    if (strcmp(kind, "span") == 0) {
        lo_size = (129u << 10), hi_size = (2u << 20);
    } else if (strcmp(kind, "small") == 0) {
        lo_size = 16, hi_size = 1024, total = 20000000;
    } else if (strcmp(kind, "large") == 0) {
        lo_size = (3u << 20), hi_size = (8u << 20), total = 40000;
    } else {
        fprintf(stderr, "usage: scale span|small|large [-q]\n");
        return 2;
    }
    if (argc > 2 && strcmp(argv[2], "-q") == 0)
        total /= 10;
    int threads[] = {1, 2, 16, 32, 64};
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        int n = threads[t];
        steps_per_thread = total / n;
        pthread_t tid[64];
        double start = now_s();
        for (int i = 0; i < n; i++)
            if (pthread_create(&tid[i], NULL, worker, (void *)(uintptr_t)(i + 1)) != 0) {
                fprintf(stderr, "scale: pthread_create failed\n");
                return 1;
            }
        for (int i = 0; i < n; i++)
            pthread_join(tid[i], NULL);
        double s = now_s() - start;
        printf("scale %s %d %.0f\n", kind, n, (double)steps_per_thread * n / s);
    }
    return 0;
}

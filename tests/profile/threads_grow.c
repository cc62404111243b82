/* Threads for the sampled profiler's estimates: 120 short-lived workers, 3
   at a time, each replace random blocks (16 to 1024 bytes) of a working set
   of 256, 4000 times, and hand one block in 8 to a long-lived survivor that
   keeps the last 4096 it was handed.  A worker's heap is given up when it exits and adopted by the
   next ones, the survivor's frees are remote, and the workers' blocks come
   from adopted pages and lists: each is a way a free list reaches malloc's
   fast path.  Prints the bytes asked of malloc in all, which the profile's
   "allocated" estimates (tests/profile/expect.cmake, sampled-total). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { WORKERS = 120, WINDOW = 3, SET = 256, STEPS = 4000, QUEUE = 1024, KEEP = 4096 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static void *queue[QUEUE];
static int queued, done;
static _Atomic unsigned long long asked;

static uint64_t next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static void *alloc(uint64_t *s, unsigned long long *n)
{
    size_t size = 16 + next(s) % 1009;
    void *p = malloc(size);
    if (p == NULL) {
        fprintf(stderr, "threads_grow: out of memory\n");
        exit(1);
    }
    *n += size;
    return p;
}

static void hand(void *p)
{
    pthread_mutex_lock(&lock);
    while (queued == QUEUE)
        pthread_cond_wait(&changed, &lock);
    queue[queued++] = p;
    pthread_cond_signal(&changed);
    pthread_mutex_unlock(&lock);
}

/* Keeps the last KEEP blocks handed to it, freeing the oldest as each comes:
   the workers' pages outlive them, half used, and are adopted. */
static void *survivor(void *arg)
{
    static void *kept[KEEP];
    unsigned long long got = 0;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (queued == 0 && !done)
            pthread_cond_wait(&changed, &lock);
        if (queued == 0)
            break;
        void **slot = &kept[got++ % KEEP];
        free(*slot);
        *slot = queue[--queued];
        pthread_cond_broadcast(&changed);
    }
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < KEEP; i++)
        free(kept[i]);
    return arg;
}

static void *worker(void *arg)
{
    uint64_t s = (uintptr_t)arg * 0x9E3779B97F4A7C15ull;
    unsigned long long n = 0;
    void *set[SET];
    for (int i = 0; i < SET; i++)
        set[i] = alloc(&s, &n);
    for (int i = 0; i < STEPS; i++) {
        int k = (int)(next(&s) % SET);
        if (next(&s) % 8 == 0)
            hand(set[k]);
        else
            free(set[k]);
        set[k] = alloc(&s, &n);
    }
    for (int i = 0; i < SET; i++)
        free(set[i]);
    asked += n;
    return arg;
}

int main(void)
{
    pthread_t surv, w[WINDOW];
    pthread_create(&surv, NULL, survivor, NULL);
    for (int i = 0; i < WORKERS; i += WINDOW) {
        for (int j = 0; j < WINDOW; j++)
            pthread_create(&w[j], NULL, worker, (void *)(uintptr_t)(i + j + 1));
        for (int j = 0; j < WINDOW; j++)
            pthread_join(w[j], NULL);
    }
    pthread_mutex_lock(&lock);
    done = 1;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    pthread_join(surv, NULL);
    printf("threads_grow: ok, %llu bytes asked\n", asked);
    return 0;
}

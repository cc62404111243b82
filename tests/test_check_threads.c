/*
 * test_check_threads.c -- check mode with threads (run with STACKHEAP_CHECK=1
 * and STACKHEAP_CHECK_EXITCODE=9, set by tests/check.cmake; CI also runs it
 * under ThreadSanitizer).
 *
 * Specification tested here (include/stackheap.h, "Check mode"):
 *   - check mode does not change what a correct program computes: blocks
 *     handed between threads and freed by another keep their contents;
 *   - threads that come and go (their quarantines, the budget they share)
 *     and frees from other threads give no finding: the program exits 0,
 *     where any report would make it exit 9.
 */
#include "check.h"

#include <pthread.h>
#include <stdint.h>

#include "stackheap.h"

#ifndef SH_WITH_TSAN
#define SH_WITH_TSAN 0
#endif

enum {
    PAIRS = 2,                            /* producer/consumer pairs */
    BLOCKS = SH_WITH_TSAN ? 2000 : 20000, /* handed over per pair */
    SHORT_LIVED = SH_WITH_TSAN ? 16 : 64, /* threads that come and go */
    SLOTS = 64                            /* a pair's mailbox */
};

typedef struct mailbox {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned char *slot[SLOTS];
    size_t size[SLOTS];
    unsigned head, count;
    unsigned bad; /* blocks whose contents changed in flight */
} mailbox;

static size_t size_of(unsigned i)
{
    return 1 + (i * 2654435761u) % 3000;
}

static void *produce(void *arg)
{
    mailbox *m = arg;
    for (unsigned i = 0; i < BLOCKS; i++) {
        size_t n = size_of(i);
        unsigned char *p = sh_malloc(n);
        if (p == NULL)
            abort();
        memset(p, (int)(i & 0xFF), n);
        pthread_mutex_lock(&m->lock);
        while (m->count == SLOTS)
            pthread_cond_wait(&m->cond, &m->lock);
        m->slot[(m->head + m->count) % SLOTS] = p;
        m->size[(m->head + m->count) % SLOTS] = n;
        m->count++;
        pthread_cond_broadcast(&m->cond);
        pthread_mutex_unlock(&m->lock);
    }
    return NULL;
}

static void *consume(void *arg)
{
    mailbox *m = arg;
    for (unsigned i = 0; i < BLOCKS; i++) {
        pthread_mutex_lock(&m->lock);
        while (m->count == 0)
            pthread_cond_wait(&m->cond, &m->lock);
        unsigned char *p = m->slot[m->head];
        size_t n = m->size[m->head];
        m->head = (m->head + 1) % SLOTS;
        m->count--;
        pthread_cond_broadcast(&m->cond);
        pthread_mutex_unlock(&m->lock);
        if (n != size_of(i) || p[0] != (unsigned char)(i & 0xFF) ||
            p[n - 1] != (unsigned char)(i & 0xFF))
            m->bad++;
        sh_free(p);
    }
    return NULL;
}

static void test_blocks_cross_threads_intact(void)
{
    mailbox m[PAIRS];
    pthread_t t[2 * PAIRS];
    for (int k = 0; k < PAIRS; k++) {
        memset(&m[k], 0, sizeof m[k]);
        pthread_mutex_init(&m[k].lock, NULL);
        pthread_cond_init(&m[k].cond, NULL);
        CHECK(pthread_create(&t[2 * k], NULL, produce, &m[k]) == 0);
        CHECK(pthread_create(&t[2 * k + 1], NULL, consume, &m[k]) == 0);
    }
    for (int k = 0; k < 2 * PAIRS; k++)
        pthread_join(t[k], NULL);
    for (int k = 0; k < PAIRS; k++)
        CHECK_EQ_U(m[k].bad, 0);
}

static void *short_lived(void *arg)
{
    unsigned *bad = arg;
    unsigned char *keep[32] = {0};
    for (unsigned i = 0; i < 2000; i++) {
        unsigned k = i % 32;
        if (keep[k] != NULL) {
            if (keep[k][0] != (unsigned char)k)
                (*bad)++;
            sh_free(keep[k]);
        }
        keep[k] = sh_malloc(size_of(i));
        if (keep[k] == NULL)
            abort();
        keep[k][0] = (unsigned char)k;
    }
    for (unsigned k = 0; k < 32; k++)
        sh_free(keep[k]);
    return NULL;
}

static void test_threads_come_and_go(void)
{
    unsigned bad[4] = {0};
    for (unsigned i = 0; i < SHORT_LIVED; i += 4) {
        pthread_t t[4];
        for (unsigned k = 0; k < 4; k++)
            CHECK(pthread_create(&t[k], NULL, short_lived, &bad[k]) == 0);
        for (unsigned k = 0; k < 4; k++)
            pthread_join(t[k], NULL);
    }
    for (unsigned k = 0; k < 4; k++)
        CHECK_EQ_U(bad[k], 0);
}

int main(void)
{
    /* check mode is on: sh_usable_size gives the size asked for (release: 16) */
    void *probe = sh_malloc(13);
    if (probe == NULL || sh_usable_size(probe) != 13) {
        fprintf(stderr, "FAIL: check mode is off (run with STACKHEAP_CHECK=1)\n");
        return 1;
    }
    sh_free(probe);
    RUN(test_blocks_cross_threads_intact);
    RUN(test_threads_come_and_go);
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed == 0 ? 0 : 1;
}

/* The quarantine.  Without an argument: four threads free 8 MiB each at
   once (1 KiB blocks), so that a quarantine kept per thread would hold four
   budgets; a shared one holds about one.  With "leak": a block is lost after
   many frees, so its memory is one that went through the quarantine; it must
   still be reported (nothing the quarantine kept may count as a pointer to
   it). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { THREADS = 4, BLOCK = 1024, FREES = 8192 };

static pthread_barrier_t start;

static void *churn(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&start);
    for (int i = 0; i < FREES; i++) {
        char *p = malloc(BLOCK);
        if (p == NULL)
            abort();
        p[0] = (char)i;
        free(p);
    }
    pthread_barrier_wait(&start); /* all are still running: each holds a ring */
    return NULL;
}

__attribute__((noinline)) static char *make_lost(void)
{
    return malloc(24);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "leak") == 0) {
        for (int i = 0; i < 1000; i++)
            free(malloc(24));
        char *volatile p = make_lost();
        p[0] = 1;
        p = NULL;
        printf("quarantine: done\n");
        return 0;
    }
    pthread_t t[THREADS];
    pthread_barrier_init(&start, NULL, THREADS);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, churn, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    printf("quarantine: done\n");
    return 0;
}

/* A block malloc'd by the main thread is freed by one thread, then again by
   another (both frees are remote: neither thread owns the block's page). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static void *release(void *p)
{
    free(p);
    return NULL;
}

int main(void)
{
    void *volatile p = malloc(48);
    pthread_t t;
    pthread_create(&t, NULL, release, p);
    pthread_join(t, NULL);
    pthread_create(&t, NULL, release, p);
    pthread_join(t, NULL);
    void *a = malloc(48);
    void *b = malloc(48);
    if (a == b)
        printf("BUG: malloc returned the live block %p twice\n", a);
    printf("double_free_remote: not caught\n");
    return 0;
}

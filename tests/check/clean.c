/* A correct program: allocates, resizes and frees everything, in threads too. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *work(void *arg)
{
    size_t n = (size_t)(uintptr_t)arg;
    char **v = calloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i] = malloc(1 + i % 300);
        memset(v[i], (int)i, 1 + i % 300);
    }
    for (size_t i = 0; i < n; i++) {
        v[i] = realloc(v[i], 1 + (i * 7) % 5000);
        v[i][0] = 1;
    }
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    void *a = aligned_alloc(256, 1000);
    free(a);
    return NULL;
}

int main(void)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, work, (void *)(uintptr_t)(1000 + i * 500));
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    work((void *)(uintptr_t)2000);
    printf("clean: done\n");
    return 0;
}

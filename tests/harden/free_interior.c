/* Frees a pointer argv[2] bytes into a block of argv[1] bytes: one program
   for every block kind (the size chooses it) and for a misaligned pointer.
   With a third argument "remote", another thread frees it (free's path for
   other threads' blocks). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *release(void *p)
{
    free(malloc(16)); /* the thread has a heap, as a busy one would */
    free(p);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    size_t size = strtoul(argv[1], NULL, 10), offset = strtoul(argv[2], NULL, 10);
    char *volatile p = malloc(size);
    if (argc > 3 && strcmp(argv[3], "remote") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, release, p + offset);
        pthread_join(t, NULL);
    } else {
        free(p + offset);
    }
    void *a = malloc(size);
    void *b = malloc(size);
    if (a == b || a == p + offset || b == p + offset)
        printf("BUG: malloc returned a live or interior block %p %p\n", a, b);
    printf("free_interior %zu %zu: not caught\n", size, offset);
    return 0;
}

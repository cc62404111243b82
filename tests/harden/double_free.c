/* Frees a block of argv[1] bytes twice (48 when not given): one program for
   every block kind, the size choosing it (small, medium, span, large). */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static void release(void *p)
{
    free(p);
}

int main(int argc, char **argv)
{
    size_t size = argc > 1 ? strtoul(argv[1], NULL, 10) : 48;
    void *volatile p = malloc(size);
    release(p);
    release(p);
    void *a = malloc(size);
    void *b = malloc(size);
    if (a != NULL && a == b)
        printf("BUG: malloc returned the live block %p twice\n", a);
    printf("double_free %zu: not caught\n", size);
    return 0;
}

/* Frees a block of 50000 bytes twice. */
#include <stdio.h>
#include <stdlib.h>

#define SIZE 50000

__attribute__((noinline)) static void release(void *p)
{
    free(p);
}

int main(void)
{
    void *volatile p = malloc(SIZE);
    release(p);
    release(p);
    void *a = malloc(SIZE);
    void *b = malloc(SIZE);
    if (a != NULL && a == b)
        printf("BUG: malloc returned the live block %p twice\n", a);
    printf("double_free_medium: not caught\n");
    return 0;
}

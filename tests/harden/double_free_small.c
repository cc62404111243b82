/* Frees a 48-byte block twice. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static void release(void *p)
{
    free(p);
}

int main(void)
{
    void *volatile p = malloc(48);
    release(p);
    release(p);
    void *a = malloc(48);
    void *b = malloc(48);
    if (a == b)
        printf("BUG: malloc returned the live block %p twice\n", a);
    printf("double_free_small: not caught\n");
    return 0;
}

/* Frees a pointer 16 byte(s) into a block of 64 bytes. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    char *volatile p = malloc(64);
    free(p + 16);
    void *a = malloc(64);
    void *b = malloc(64);
    if (a == b || a == p + 16 || b == p + 16)
        printf("BUG: malloc returned a live or interior block %p %p\n", a, b);
    printf("free_interior_small: not caught\n");
    return 0;
}

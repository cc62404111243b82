/* Frees a pointer 4096 byte(s) into a block of 20000 bytes. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    char *volatile p = malloc(20000);
    free(p + 4096);
    void *a = malloc(20000);
    void *b = malloc(20000);
    if (a == b || a == p + 4096 || b == p + 4096)
        printf("BUG: malloc returned a live or interior block %p %p\n", a, b);
    printf("free_interior_medium: not caught\n");
    return 0;
}

/* Frees a pointer 4096 byte(s) into a block of (3u << 20) bytes. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    char *volatile p = malloc((3u << 20));
    free(p + 4096);
    void *a = malloc((3u << 20));
    void *b = malloc((3u << 20));
    if (a == b || a == p + 4096 || b == p + 4096)
        printf("BUG: malloc returned a live or interior block %p %p\n", a, b);
    printf("free_interior_large: not caught\n");
    return 0;
}

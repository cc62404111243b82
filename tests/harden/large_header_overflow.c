/* Overwrites the 64 bytes before a 3 MiB block (its header), then frees it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    char *volatile p = malloc(3u << 20);
    memset(p - 64, 0x41, 64);
    free(p);
    void *a = malloc(3u << 20);
    void *b = malloc(3u << 20);
    if (a == b)
        printf("BUG: malloc returned the live block %p twice\n", a);
    printf("large_header_overflow: not caught\n");
    return 0;
}

/* A 48-byte block overflows into its freed neighbour and plants an address
   there (the classic free-list hijack); later mallocs must not return it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char target[64];

int main(void)
{
    char *a = malloc(48);
    char *b = malloc(48);
    if (b != a + 48) {
        printf("setup: the two blocks are not consecutive (%p, %p)\n", (void *)a, (void *)b);
        return 2;
    }
    free(b);
    void *planted = target;
    memcpy(a + 48, &planted, sizeof planted); /* 8 bytes past a's end: b's first word */
    for (int i = 0; i < 100000; i++) {
        void *volatile q = malloc(48);
        if (q == (void *)target) {
            printf("BUG: malloc returned the hijacked address\n");
            return 0;
        }
    }
    printf("overflow_into_freed_neighbour: not caught, no hijack\n");
    return 0;
}

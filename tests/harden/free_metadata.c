/* Frees an address inside the page metadata at the start of a segment. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SEGMENT_SIZE ((uintptr_t)4 << 20)

int main(void)
{
    void *volatile p = malloc(48);
    char *meta = (char *)((uintptr_t)p & ~(SEGMENT_SIZE - 1)) + 256;
    free(meta);
    for (int i = 0; i < 100000; i++) {
        void *q = malloc(48);
        if ((char *)q == meta) {
            printf("BUG: malloc returned the metadata address %p\n", q);
            return 0;
        }
    }
    printf("free_metadata: not caught\n");
    return 0;
}

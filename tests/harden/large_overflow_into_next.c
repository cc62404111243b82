/* Overflows the end of a large block by 80 bytes, where the next large
   block's header would be if mappings sat back to back.  Hinted mappings
   keep an unmapped gap after them, so the write faults (SIGSEGV) before it
   reaches any other block; if it did not, freeing B must not hand out a
   block that is live. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <malloc.h>

#define SIZE ((4u << 20) - 128) /* its mapping: exactly 4 MiB, as large as a hint step */

int main(void)
{
    char *a = malloc(SIZE), *b = malloc(SIZE), *c = malloc(SIZE);
    size_t end = malloc_usable_size(a);
    memset(a + end, 0x41, 80); /* past a's mapping */
    printf("BUG: the overflow past the large block at %p did not fault\n", (void *)a);
    fflush(stdout);
    free(b);
    char *d = malloc(SIZE);
    if (d == c)
        printf("BUG: malloc returned the live block %p again\n", (void *)c);
    printf("large_overflow_into_next: not caught\n");
    return 0;
}

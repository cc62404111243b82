/* Reads one byte past the end of a 32-byte block (a size with no alignment
   slack after it: with STACKHEAP_SAMPLE=1 the read faults at once). */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static int sum(const char *p, size_t n)
{
    int total = 0;
    for (size_t i = 0; i <= n; i++) /* one too many */
        total += p[i];
    return total;
}

int main(void)
{
    char *p = malloc(32);
    for (int i = 0; i < 32; i++)
        p[i] = 1;
    printf("overflow_read: %d\n", sum(p, 32));
    free(p);
    return 0;
}

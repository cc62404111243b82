/* Prints the address of a 48-byte block and of a 3 MiB block: two runs must
   print different addresses (the heap's base is random). */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    void *small = malloc(48);
    void *large = malloc(3u << 20);
    printf("small %p\nlarge %p\n", small, large);
    free(large);
    free(small);
    return 0;
}

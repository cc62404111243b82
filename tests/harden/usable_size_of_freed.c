/* Asks malloc_usable_size about a freed block. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    void *volatile p = malloc(48);
    free(p);
    size_t n = malloc_usable_size(p);
    printf("usable_size_of_freed: not caught (%zu)\n", n);
    return 0;
}

/* Reallocates a freed block. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    void *volatile p = malloc(48);
    free(p);
    void *q = realloc(p, 100);
    void *a = malloc(48);
    void *b = malloc(48);
    if (a == b)
        printf("BUG: malloc returned the live block %p twice\n", a);
    printf("realloc_of_freed: not caught (%p)\n", q);
    return 0;
}

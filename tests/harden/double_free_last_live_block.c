/* Frees twice the only block of its page (a size class nothing else uses),
   so the first free leaves the page empty. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static void release(void *p)
{
    free(p);
}

int main(void)
{
    void *volatile p = malloc(2000);
    release(p);
    release(p);
    void *a = malloc(2000);
    void *b = malloc(2000);
    if (a == b)
        printf("BUG: malloc returned the live block %p twice\n", a);
    printf("double_free_last_live_block: not caught\n");
    return 0;
}

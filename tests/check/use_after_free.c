/* Writes into a block after freeing it. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static void set_flag(char *p)
{
    p[3] = 1;
}

int main(void)
{
    char *p = malloc(32);
    free(p);
    set_flag(p);
    printf("use_after_free: done\n");
    return 0;
}

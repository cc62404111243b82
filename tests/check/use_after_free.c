/* Writes into a block after freeing it: inside it, or (argument "before")
   just before its start, where its guard was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static void set_flag(char *p, int at)
{
    p[at] = 1;
}

int main(int argc, char **argv)
{
    char *p = malloc(32);
    free(p);
    set_flag(p, argc > 1 && strcmp(argv[1], "before") == 0 ? -2 : 3);
    printf("use_after_free: done\n");
    return 0;
}

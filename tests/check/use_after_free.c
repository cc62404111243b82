/* Writes into a block after freeing it: inside it, or (argument "before")
   just before its start, where its guard was, or (argument "zero") just past
   a block of 0 bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static void set_flag(char *p, int at)
{
    p[at] = 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "zero") == 0) {
        char *z = malloc(0);
        free(z);
        set_flag(z, 1);
    }
    char *p = malloc(32);
    free(p);
    set_flag(p, argc > 1 && strcmp(argv[1], "before") == 0 ? -2 : 3);
    printf("use_after_free: done\n");
    return 0;
}

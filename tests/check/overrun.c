/* Writes one byte past the end of a block (argument "after") or one byte
   before its start ("before"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static void fill_after(char *p, size_t n)
{
    for (size_t i = 0; i <= n; i++) /* one too many */
        p[i] = 'x';
}

__attribute__((noinline)) static void fill_before(char *p)
{
    p[-1] = 'x';
}

int main(int argc, char **argv)
{
    char *p = malloc(24);
    if (argc > 1 && strcmp(argv[1], "before") == 0)
        fill_before(p);
    else
        fill_after(p, 24);
    free(p);
    printf("overrun: done\n");
    return 0;
}

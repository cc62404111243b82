/* Writes one byte past the end of a block (argument "after"), one byte
   before its start ("before"), or over its header, 24 bytes before it
   ("header", past the front guard).  A second argument "killed": the
   process then dies of SIGKILL, after the report, before it exits. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static void fill_after(char *p, size_t n)
{
    for (size_t i = 0; i <= n; i++) /* one too many */
        p[i] = 'x';
}

__attribute__((noinline)) static void fill_before(char *p, int at)
{
    memset(p - at, 'x', (size_t)at);
}

int main(int argc, char **argv)
{
    char *p = malloc(24);
    if (argc > 1 && strcmp(argv[1], "before") == 0)
        fill_before(p, 1);
    else if (argc > 1 && strcmp(argv[1], "header") == 0)
        fill_before(p, 24);
    else
        fill_after(p, 24);
    free(p);
    if (argc > 2 && strcmp(argv[2], "killed") == 0)
        raise(SIGKILL);
    printf("overrun: done\n");
    return 0;
}

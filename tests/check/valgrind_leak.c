/* Linked with stackheap and run under Valgrind's memcheck: the heap tells
   memcheck about its blocks, so the leak and the read after free below are
   in memcheck's report as they would be with glibc's malloc. */
#include <stdio.h>
#include <string.h>

#include "stackheap.h"

__attribute__((noinline)) static void leak_buffer(void)
{
    char *p = sh_malloc(123);
    memset(p, 1, 123);
}

__attribute__((noinline)) static int read_after_free(void)
{
    char *p = sh_malloc(40);
    memset(p, 7, 40);
    sh_free(p);
    return p[5];
}

int main(void)
{
    leak_buffer();
    char *q = sh_malloc(10);
    sh_free(q);
    printf("valgrind_leak: %d\n", read_after_free() == 7);
    return 0;
}

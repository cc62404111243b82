/* Leaks a block four calls deep.  Built with -O2 -fomit-frame-pointer (as
   most distributions build their packages): walking frame pointers stops
   after a frame or two; STACKHEAP_UNWIND=1 (`stackheap run --unwind`) reads
   .eh_frame with libunwind and finds every frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile size_t sink;

__attribute__((noinline)) static char *level3(size_t n)
{
    char *p = malloc(n);
    memset(p, 'x', n);
    sink += (size_t)p[n - 1];
    return p;
}

__attribute__((noinline)) static char *level2(size_t n)
{
    char *p = level3(n + 1);
    sink += (size_t)p[0];
    return p;
}

__attribute__((noinline)) static char *level1(size_t n)
{
    char *p = level2(n + 1);
    sink += (size_t)p[1];
    return p;
}

int main(void)
{
    char *p = level1(40);
    sink += (size_t)p[2];
    p = NULL; /* lost */
    printf("leak_deep: %zu\n", sink > 0 ? (size_t)1 : (size_t)0);
    return 0;
}

/* A program with a known allocation profile, for the heap profiler's tests:
   alloc_a holds 8 MiB at the peak (8 blocks of 1 MiB), temp_b makes 100000
   temporary allocations of 32 bytes, keep_d 50000 of 48 bytes that it keeps
   (2.4 MB, less than the peak) and then frees, leak_c leaks 3 blocks of 100
   bytes. */
#include <stdio.h>
#include <stdlib.h>

static void *keep[8];
static void *volatile sink;

__attribute__((noinline)) static void alloc_a(void)
{
    for (int i = 0; i < 8; i++)
        keep[i] = malloc(1 << 20);
}

__attribute__((noinline)) static void temp_b(void)
{
    for (int i = 0; i < 100000; i++) {
        char *p = malloc(32);
        p[0] = (char)i;
        sink = p;
        free(p);
    }
}

static void *kept[50000];

__attribute__((noinline)) static void keep_d(void)
{
    for (int i = 0; i < 50000; i++)
        kept[i] = malloc(48);
}

__attribute__((noinline)) static void leak_c(void)
{
    sink = malloc(100);
}

int main(void)
{
    alloc_a();
    temp_b();
    for (int i = 0; i < 8; i++)
        free(keep[i]);
    keep_d();
    for (int i = 0; i < 50000; i++)
        free(kept[i]);
    for (int i = 0; i < 3; i++)
        leak_c();
    sink = NULL;
    printf("known: done\n");
    return 0;
}

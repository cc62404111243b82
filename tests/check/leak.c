/* Leaks from two sites reached by two different call paths, a block a
   global still points to, and one whose last pointer was overwritten. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *held_by_global;

__attribute__((noinline)) static char *make_buffer(size_t n)
{
    char *p = malloc(n);
    memset(p, 'a', n);
    return p;
}

__attribute__((noinline)) static void parse_header(void)
{
    char *p = make_buffer(100); /* lost when this returns */
    p[0] = 'h';
}

__attribute__((noinline)) static void parse_body(void)
{
    char *p = make_buffer(300); /* lost when this returns */
    p[0] = 'b';
}

__attribute__((noinline)) static void keep_in_global(void)
{
    held_by_global = malloc(777); /* still reachable at exit */
}

__attribute__((noinline)) static void overwrite_last_pointer(void)
{
    held_by_global = malloc(555); /* the 777-byte block's pointer... */
}

int main(void)
{
    parse_header();
    parse_body();
    keep_in_global();
    void *q = malloc(10);
    free(q);
    printf("leak: done\n");
    if (getenv("LEAK_OVERWRITE") != NULL)
        overwrite_last_pointer(); /* ... is gone: the 777 bytes are lost */
    return 0;
}

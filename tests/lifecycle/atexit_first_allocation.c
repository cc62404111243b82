/* The program's first heap allocation happens inside atexit: glibc's table of
   exit handlers holds 32, and registering the 33rd calls calloc while glibc
   holds its exit-functions lock.  An allocator that registers its own
   at-exit handler at its first allocation deadlocks there; alarm() turns a
   hang into a failure. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int handlers_run;

static void handler(void)
{
    handlers_run++;
}

int main(void)
{
    alarm(20);
    for (int i = 0; i < 40; i++)
        if (atexit(handler) != 0)
            return 1;
    char *p = malloc(100);
    p[0] = 1;
    free(p);
    printf("atexit_first_allocation: 40 handlers registered\n");
    fflush(stdout);
    return 0;
}

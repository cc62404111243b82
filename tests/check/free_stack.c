/* Frees the address of a local array. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static void release_name(char *name)
{
    free(name);
}

int main(void)
{
    char name[32] = "on the stack";
    release_name(name);
    printf("free_stack: still running\n");
    return 0;
}

/* Frees a pointer into the middle of a block. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static void release_field(char *field)
{
    free(field);
}

int main(void)
{
    char *record = malloc(64);
    release_field(record + 8);
    printf("free_interior: still running\n");
    return 0;
}

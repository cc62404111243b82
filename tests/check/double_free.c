/* Frees one block twice. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static void release_record(void *p)
{
    free(p);
}

int main(void)
{
    void *record = malloc(48);
    release_record(record);
    release_record(record);
    printf("double_free: still running\n");
    return 0;
}

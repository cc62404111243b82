/* Frees one big block twice: argv[1] bytes (a span block up to 2 MiB, a
   mapping of its own above). */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static void release_buffer(void *p)
{
    free(p);
}

int main(int argc, char **argv)
{
    size_t size = argc > 1 ? strtoul(argv[1], NULL, 10) : 3u << 20;
    char *buffer = malloc(size);
    buffer[0] = 1;
    release_buffer(buffer);
    release_buffer(buffer);
    printf("double_free_big: still running\n");
    return 0;
}

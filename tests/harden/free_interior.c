/* Frees a pointer argv[2] bytes into a block of argv[1] bytes: one program
   for every block kind (the size chooses it) and for a misaligned pointer. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    size_t size = strtoul(argv[1], NULL, 10), offset = strtoul(argv[2], NULL, 10);
    char *volatile p = malloc(size);
    free(p + offset);
    void *a = malloc(size);
    void *b = malloc(size);
    if (a == b || a == p + offset || b == p + offset)
        printf("BUG: malloc returned a live or interior block %p %p\n", a, b);
    printf("free_interior %zu %zu: not caught\n", size, offset);
    return 0;
}

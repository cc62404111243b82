/* Hands the allocator a pointer no allocator returned, or a freed one:
   argv[1] says which call and which pointer. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "free-mapped";
    char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *volatile wild = (void *)(uintptr_t)16;
    if (strcmp(what, "free-mapped") == 0) {
        free(page + 64);
    } else if (strcmp(what, "realloc-wild") == 0) {
        (void)!realloc(wild, 100);
    } else if (strcmp(what, "usable-freed") == 0) {
        char *p = malloc(48);
        free(p);
        printf("usable: %zu\n", malloc_usable_size(p));
    } else if (strcmp(what, "usable-interior") == 0) {
        char *p = malloc(48);
        printf("usable: %zu\n", malloc_usable_size(p + 8));
    }
    printf("not_from_malloc: still running\n");
    return 0;
}

/* Sampled guarding with STACKHEAP_SAMPLE=1 guards every malloc of up to a
   page, and nothing larger or aligned beyond 16: a guarded block's usable
   size is the size asked for (include/stackheap.h), a heap block's is its
   size class's.  Prints which are guarded. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void show(const char *what, void *p, size_t asked)
{
    printf("%s: %s\n", what, malloc_usable_size(p) == asked ? "guarded" : "heap");
}

int main(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *small = malloc(100), *big = malloc(page + 1), *aligned = aligned_alloc(64, 100);
    void *pm = NULL;
    if (small == NULL || big == NULL || aligned == NULL || posix_memalign(&pm, 32, 100) != 0)
        return 1;
    show("malloc(100)", small, 100);
    show("malloc(page + 1)", big, page + 1);
    show("aligned_alloc(64, 100)", aligned, 100);
    show("posix_memalign(32, 100)", pm, 100);
    free(small);
    free(big);
    free(aligned);
    free(pm);
    return 0;
}

/* Frees, through free(), a block of a first-class heap the program already
   destroyed: the block's segment went back to the OS with the heap.  Before
   the destroy, free had freed another block of that segment, so its fast
   path had taken the segment for this thread's own (heap_internal.h,
   sh_tls_own_seg): this free must find the segment released, not read its
   unmapped header.  The heap API is found with dlsym (the library is
   preloaded). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    void *(*heap_new)(void) = (void *(*)(void))dlsym(RTLD_DEFAULT, "sh_heap_new");
    void *(*heap_malloc)(void *, size_t) =
        (void *(*)(void *, size_t))dlsym(RTLD_DEFAULT, "sh_heap_malloc");
    void (*heap_destroy)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "sh_heap_destroy");
    if (heap_new == NULL || heap_malloc == NULL || heap_destroy == NULL) {
        printf("free_after_heap_destroy: cannot find the heap API: %s\n", dlerror());
        return 1;
    }
    void *h = heap_new();
    void *volatile p = heap_malloc(h, 48);
    void *volatile q = heap_malloc(h, 48);
    free(q); /* its segment is this thread's, seen by free's fast path */
    heap_destroy(h);
    free(p);
    printf("free_after_heap_destroy: not caught\n");
    return 0;
}

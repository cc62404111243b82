/* C++ sized delete with the wrong size: `new char` deleted as a 32-byte
   struct; with arguments ALLOC DELETE, an ALLOC-byte block deleted as a
   DELETE-byte one (a smaller size than its class serves).  Written in C: it looks up operator delete(void *, size_t) by its
   mangled name, which libstackheap exports. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <dlfcn.h>

static void (*_ZdlPvm)(void *p, size_t size);

int main(int argc, char **argv)
{
    size_t alloc = argc > 2 ? strtoul(argv[1], NULL, 10) : 1;
    size_t size = argc > 2 ? strtoul(argv[2], NULL, 10) : 32;
    _ZdlPvm = (void (*)(void *p, size_t size))dlsym(RTLD_DEFAULT, "_ZdlPvm");
    if (_ZdlPvm == NULL) {
        printf("BUG: _ZdlPvm is not exported by the preloaded allocator\n");
        return 0;
    }
    void *volatile p = malloc(alloc); /* what operator new does */
    _ZdlPvm(p, size);
    printf("sized_delete_wrong_size: not caught\n");
    return 0;
}

/* C++ sized delete with the wrong size: `new char` deleted as a 32-byte
   struct.  Written in C: it looks up operator delete(void *, size_t) by its
   mangled name, which libstackheap exports. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <dlfcn.h>

static void (*_ZdlPvm)(void *p, size_t size);

int main(void)
{
    _ZdlPvm = (void (*)(void *p, size_t size))dlsym(RTLD_DEFAULT, "_ZdlPvm");
    if (_ZdlPvm == NULL) {
        printf("BUG: _ZdlPvm is not exported by the preloaded allocator\n");
        return 0;
    }
    void *volatile p = malloc(1); /* what operator new(1) does */
    _ZdlPvm(p, 32);
    printf("sized_delete_wrong_size: not caught\n");
    return 0;
}

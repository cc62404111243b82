/* C++ aligned sized delete with the wrong size: a 64-byte object aligned to
   64, deleted with size 128.  Looks up operator delete(void *, size_t,
   std::align_val_t) by its mangled name. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <dlfcn.h>

static void (*_ZdlPvmSt11align_val_t)(void *p, size_t size, size_t align);

int main(void)
{
    _ZdlPvmSt11align_val_t =
        (void (*)(void *p, size_t size, size_t align))dlsym(RTLD_DEFAULT, "_ZdlPvmSt11align_val_t");
    if (_ZdlPvmSt11align_val_t == NULL) {
        printf("BUG: _ZdlPvmSt11align_val_t is not exported by the preloaded allocator\n");
        return 0;
    }
    void *volatile p = aligned_alloc(64, 64); /* what operator new(64, align_val_t(64)) does */
    _ZdlPvmSt11align_val_t(p, 128, 64);
    printf("aligned_delete_wrong_size: not caught\n");
    return 0;
}

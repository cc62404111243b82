/* C++ sized and aligned deletes with the sizes and alignments the blocks
   were allocated with: every one is accepted (exit 0).  Sizes cover every
   kind of block; aligned ones are rounded up as libstdc++'s operator new
   rounds them before aligned_alloc. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <dlfcn.h>

static void (*_ZdlPvm)(void *p, size_t size);
static void (*_ZdaPvm)(void *p, size_t size);
static void (*_ZdlPvSt11align_val_t)(void *p, size_t align);
static void (*_ZdlPvmSt11align_val_t)(void *p, size_t size, size_t align);
static void (*_ZdaPvmSt11align_val_t)(void *p, size_t size, size_t align);

int main(void)
{
    _ZdlPvm = (void (*)(void *p, size_t size))dlsym(RTLD_DEFAULT, "_ZdlPvm");
    if (_ZdlPvm == NULL) {
        printf("BUG: _ZdlPvm is not exported by the preloaded allocator\n");
        return 0;
    }
    _ZdaPvm = (void (*)(void *p, size_t size))dlsym(RTLD_DEFAULT, "_ZdaPvm");
    if (_ZdaPvm == NULL) {
        printf("BUG: _ZdaPvm is not exported by the preloaded allocator\n");
        return 0;
    }
    _ZdlPvSt11align_val_t =
        (void (*)(void *p, size_t align))dlsym(RTLD_DEFAULT, "_ZdlPvSt11align_val_t");
    if (_ZdlPvSt11align_val_t == NULL) {
        printf("BUG: _ZdlPvSt11align_val_t is not exported by the preloaded allocator\n");
        return 0;
    }
    _ZdlPvmSt11align_val_t =
        (void (*)(void *p, size_t size, size_t align))dlsym(RTLD_DEFAULT, "_ZdlPvmSt11align_val_t");
    if (_ZdlPvmSt11align_val_t == NULL) {
        printf("BUG: _ZdlPvmSt11align_val_t is not exported by the preloaded allocator\n");
        return 0;
    }
    _ZdaPvmSt11align_val_t =
        (void (*)(void *p, size_t size, size_t align))dlsym(RTLD_DEFAULT, "_ZdaPvmSt11align_val_t");
    if (_ZdaPvmSt11align_val_t == NULL) {
        printf("BUG: _ZdaPvmSt11align_val_t is not exported by the preloaded allocator\n");
        return 0;
    }
    static const size_t sizes[] = {0,      1,      8,       9,       16,      24,
                                   100,    1000,   8192,    9000,    70000,   131072,
                                   131073, 300000, 2 << 20, 3 << 20, 40 << 20};
    static const size_t aligns[] = {32, 64, 256, 4096, 8192, 65536, 1 << 20};
    unsigned n = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t s = sizes[i];
        _ZdlPvm(malloc(s == 0 ? 1 : s), s == 0 ? 1 : s);
        _ZdaPvm(malloc(s + 8), s + 8);
        n += 2;
        for (size_t j = 0; j < sizeof aligns / sizeof aligns[0]; j++) {
            size_t a = aligns[j], r = (s + a - 1) & ~(a - 1);
            if (r == 0)
                r = a;
            _ZdlPvmSt11align_val_t(aligned_alloc(a, r), s == 0 ? a : s, a);
            _ZdaPvmSt11align_val_t(aligned_alloc(a, r), r, a);
            _ZdlPvSt11align_val_t(aligned_alloc(a, r), a);
            n += 3;
        }
    }
    printf("sized_delete_right_size: %u deletes accepted\n", n);
    return 0;
}

/*
 * override.c -- the standard allocation names, served by stackheap.
 *
 * Built when SH_OVERRIDE is on (the default): linking libstackheap, or
 * LD_PRELOAD=libstackheap.so, makes every malloc/free of the program,
 * its libraries and libc itself go through stackheap.  Each function keeps
 * the contract of its glibc namesake; the differences that glibc leaves to
 * the implementation (realloc(p, 0)) follow glibc.
 */
#define _GNU_SOURCE
#include "heap/heap_internal.h"

#include <errno.h>

#if SH_OVERRIDE

/* malloc and free inline the fast paths rather than call the sh_ names:
   those are exported, so a call would go through the PLT. */
SH_API void *malloc(size_t size)
{
    return sh_heap_alloc(sh_tls_heap, size);
}

SH_API void free(void *p)
{
    sh_heap_free(p);
}

SH_API void *calloc(size_t n, size_t size)
{
    return sh_calloc(n, size);
}

SH_API void *realloc(void *p, size_t size)
{
    return sh_realloc(p, size);
}

SH_API void *reallocarray(void *p, size_t n, size_t size)
{
    return sh_reallocarray(p, n, size);
}

SH_API void *aligned_alloc(size_t align, size_t size)
{
    return sh_aligned_alloc(align, size);
}

SH_API int posix_memalign(void **out, size_t align, size_t size)
{
    /* POSIX: the error is returned, errno is left as it was */
    int saved = errno;
    int r = sh_posix_memalign(out, align, size);
    errno = saved;
    return r;
}

/* glibc: an alignment that is not a power of two is rounded up to one. */
SH_API void *memalign(size_t align, size_t size)
{
    if (!sh_is_pow2(align)) {
        if (align > ((size_t)1 << 62)) {
            errno = EINVAL;
            return NULL;
        }
        size_t a = 1;
        while (a < align)
            a <<= 1;
        align = a;
    }
    return sh_aligned_alloc(align, size);
}

SH_API void *valloc(size_t size)
{
    return sh_aligned_alloc(sh_os_page_size(), size);
}

SH_API void *pvalloc(size_t size)
{
    size_t page = sh_os_page_size(), rounded;
    if (!sh_round_up(size == 0 ? 1 : size, page, &rounded)) {
        errno = ENOMEM;
        return NULL;
    }
    return sh_aligned_alloc(page, rounded);
}

SH_API size_t malloc_usable_size(void *p)
{
    return sh_usable_size(p);
}

/*
 * C++'s sized and aligned operator delete (C++14, C++17), by their mangled
 * names: libstdc++'s own would drop the size and the alignment and call free.
 * These check them first (sh_free_sized) and abort on a mismatch, as
 * hardened allocators do.  operator new needs no replacing: libstdc++'s calls
 * malloc and aligned_alloc, which are these.
 */
SH_API void _ZdlPvm(void *p, size_t size)
{
    sh_free_sized(p, size, 0, "operator delete");
}

SH_API void _ZdaPvm(void *p, size_t size)
{
    sh_free_sized(p, size, 0, "operator delete[]");
}

SH_API void _ZdlPvSt11align_val_t(void *p, size_t align)
{
    sh_free_sized(p, SIZE_MAX, align, "operator delete");
}

SH_API void _ZdaPvSt11align_val_t(void *p, size_t align)
{
    sh_free_sized(p, SIZE_MAX, align, "operator delete[]");
}

SH_API void _ZdlPvmSt11align_val_t(void *p, size_t size, size_t align)
{
    sh_free_sized(p, size, align, "operator delete");
}

SH_API void _ZdaPvmSt11align_val_t(void *p, size_t size, size_t align)
{
    sh_free_sized(p, size, align, "operator delete[]");
}

#endif /* SH_OVERRIDE */

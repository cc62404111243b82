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

/* ---- the rest of glibc's surface ------------------------------------------ */

/* Old SunOS name, still exported by glibc. */
SH_API void cfree(void *p)
{
    sh_heap_free(p);
}

/* glibc's own names for its allocator: programs and libraries that call
   them (to reach "the real malloc" from inside a malloc hook, say) must get
   stackheap's blocks, which only stackheap can free. */
SH_API void *__libc_malloc(size_t size)
{
    return sh_heap_alloc(sh_tls_heap, size);
}

SH_API void __libc_free(void *p)
{
    sh_heap_free(p);
}

SH_API void *__libc_calloc(size_t n, size_t size)
{
    return sh_calloc(n, size);
}

SH_API void *__libc_realloc(void *p, size_t size)
{
    return sh_realloc(p, size);
}

SH_API void *__libc_memalign(size_t align, size_t size)
{
    return memalign(align, size);
}

SH_API void *__libc_valloc(size_t size)
{
    return valloc(size);
}

SH_API void *__libc_pvalloc(size_t size)
{
    return pvalloc(size);
}

/* C23: free p, which was allocated with size bytes (malloc, calloc,
   realloc) or with that alignment and size (aligned_alloc).  A size or
   alignment the block does not have aborts (check mode: reported). */
SH_API void free_sized(void *p, size_t size)
{
    sh_free_sized(p, size, 0, "free_sized");
}

SH_API void free_aligned_sized(void *p, size_t align, size_t size)
{
    sh_free_sized(p, size, align, "free_aligned_sized");
}

#endif /* SH_OVERRIDE */

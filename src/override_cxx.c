/*
 * override_cxx.c -- C++'s operator new and delete in every form, by their
 * mangled names (the Itanium C++ ABI's, shared by libstdc++ and libc++),
 * written in C.
 *
 * Exported with the rest of the override (SH_OVERRIDE): a C++ program under
 * LD_PRELOAD, or linked with libstackheap, reaches stackheap directly rather
 * than through its runtime's operator new, and the sized and aligned deletes
 * check their size and alignment (sh_free_sized) instead of dropping them.
 *
 * Failure: operator new calls the program's new-handler while there is one
 * and then retries, as the standard asks; with none it throws std::bad_alloc
 * through the C++ runtime's own thrower (found by weak reference: a program
 * that calls operator new links one).  The nothrow forms return NULL without
 * calling the handler (C cannot catch what a handler throws).
 */
#define _GNU_SOURCE
#include "heap/heap_internal.h"

#if SH_OVERRIDE

typedef void (*new_handler)(void);
/* std::get_new_handler(), std::__throw_bad_alloc() (libstdc++) and
   std::__1::__throw_bad_alloc() (libc++): absent in a program without C++ */
extern new_handler _ZSt15get_new_handlerv(void) __attribute__((weak));
extern void _ZSt17__throw_bad_allocv(void) __attribute__((weak, noreturn));
extern void _ZNSt3__117__throw_bad_allocEv(void) __attribute__((weak, noreturn));

static void *allocate(size_t size, size_t align)
{
    if (size == 0)
        size = 1; /* a unique pointer, as the standard asks */
    return align == 0 ? sh_heap_alloc(sh_tls_heap, size) : sh_aligned_alloc(align, size);
}

/* Out of memory for operator new(size[, align]): the new-handler loop, then
   std::bad_alloc. */
SH_NOINLINE SH_COLD static void *new_failed(size_t size, size_t align)
{
    for (;;) {
        new_handler h = _ZSt15get_new_handlerv != NULL ? _ZSt15get_new_handlerv() : NULL;
        if (h == NULL)
            break;
        h(); /* frees memory, or throws, or ends the program */
        void *p = allocate(size, align);
        if (p != NULL)
            return p;
    }
    if (_ZSt17__throw_bad_allocv != NULL)
        _ZSt17__throw_bad_allocv();
    if (_ZNSt3__117__throw_bad_allocEv != NULL)
        _ZNSt3__117__throw_bad_allocEv();
    sh_fatal("operator new(%zu): out of memory, and no C++ runtime to throw std::bad_alloc", size);
}

static void *new_or_throw(size_t size, size_t align)
{
    void *p = allocate(size, align);
    return sh_likely(p != NULL) ? p : new_failed(size, align);
}

/* operator new(size_t), new[](size_t) and their nothrow forms */
SH_API void *_Znwm(size_t size)
{
    return new_or_throw(size, 0);
}

SH_API void *_Znam(size_t size)
{
    return new_or_throw(size, 0);
}

SH_API void *_ZnwmRKSt9nothrow_t(size_t size, const void *nothrow)
{
    (void)nothrow;
    return allocate(size, 0);
}

SH_API void *_ZnamRKSt9nothrow_t(size_t size, const void *nothrow)
{
    (void)nothrow;
    return allocate(size, 0);
}

/* operator new(size_t, align_val_t) and the rest (C++17) */
SH_API void *_ZnwmSt11align_val_t(size_t size, size_t align)
{
    return new_or_throw(size, align);
}

SH_API void *_ZnamSt11align_val_t(size_t size, size_t align)
{
    return new_or_throw(size, align);
}

SH_API void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t size, size_t align, const void *nothrow)
{
    (void)nothrow;
    return allocate(size, align);
}

SH_API void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t size, size_t align, const void *nothrow)
{
    (void)nothrow;
    return allocate(size, align);
}

/* operator delete(void *), delete[](void *) and their nothrow forms */
SH_API void _ZdlPv(void *p)
{
    sh_heap_free(p);
}

SH_API void _ZdaPv(void *p)
{
    sh_heap_free(p);
}

SH_API void _ZdlPvRKSt9nothrow_t(void *p, const void *nothrow)
{
    (void)nothrow;
    sh_heap_free(p);
}

SH_API void _ZdaPvRKSt9nothrow_t(void *p, const void *nothrow)
{
    (void)nothrow;
    sh_heap_free(p);
}

/* sized and aligned delete (C++14, C++17): checked before the free */
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

SH_API void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align, const void *nothrow)
{
    (void)nothrow;
    sh_free_sized(p, SIZE_MAX, align, "operator delete");
}

SH_API void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align, const void *nothrow)
{
    (void)nothrow;
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

/*
 * annotate.c -- telling AddressSanitizer and Valgrind which memory is live.
 *
 * When stackheap is built with ASan, memory that is released or was never
 * handed out is poisoned, so touching it is reported as use-after-poison.
 * When <valgrind/memcheck.h> was available at build time and the process
 * runs under Valgrind, the same regions are marked no-access / undefined.
 * Otherwise every function here compiles to nothing and sh_tools_active()
 * is false, so the inline fast paths never need to call in.  (The functions
 * are sh_tools_*: "tools" is what ASan and Valgrind are called throughout,
 * STACKHEAP_TOOLS included; the file is not, beside the CLI's tools/.)
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define SH_HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SH_HAVE_ASAN 1
#endif
#endif
#ifndef SH_HAVE_ASAN
#define SH_HAVE_ASAN 0
#endif

#if SH_HAVE_ASAN
#include <sanitizer/asan_interface.h>
#endif

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define SH_HAVE_VALGRIND 1
#endif
#endif
#ifndef SH_HAVE_VALGRIND
#define SH_HAVE_VALGRIND 0
#endif

static const bool sh_cfg_asan = SH_HAVE_ASAN;

static bool under_valgrind(void)
{
#if SH_HAVE_VALGRIND
    return RUNNING_ON_VALGRIND != 0;
#else
    return false;
#endif
}

/* STACKHEAP_TOOLS=0 turns Valgrind marking off (to count the fast paths with
   callgrind); an ASan build always marks, its shadow memory must stay right. */
static bool valgrind_marking_wanted(void)
{
    const char *env = sh_env(sh_env_tools);
    return env == NULL || strcmp(env, "0") != 0;
}

bool sh_tools_heap_valgrind(void)
{
    return !sh_cfg_asan && under_valgrind() && valgrind_marking_wanted();
}

void sh_tools_malloclike(const void *p, size_t size, size_t redzone, bool zeroed)
{
#if SH_HAVE_VALGRIND
    VALGRIND_MALLOCLIKE_BLOCK(p, size, redzone, zeroed);
#endif
    (void)p, (void)size, (void)redzone, (void)zeroed;
}

void sh_tools_freelike(const void *p, size_t redzone)
{
#if SH_HAVE_VALGRIND
    VALGRIND_FREELIKE_BLOCK(p, redzone);
#endif
    (void)p, (void)redzone;
}

bool sh_tools_active(void)
{
    return sh_cfg_asan || (under_valgrind() && valgrind_marking_wanted());
}

void sh_tools_mark_noaccess(const void *p, size_t size)
{
    if (size == 0)
        return;
#if SH_HAVE_ASAN
    ASAN_POISON_MEMORY_REGION(p, size);
#endif
#if SH_HAVE_VALGRIND
    VALGRIND_MAKE_MEM_NOACCESS(p, size);
#endif
    (void)p;
}

void sh_tools_mark_undefined(const void *p, size_t size)
{
    if (size == 0)
        return;
#if SH_HAVE_ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, size);
#endif
#if SH_HAVE_VALGRIND
    VALGRIND_MAKE_MEM_UNDEFINED(p, size);
#endif
    (void)p;
}

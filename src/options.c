/*
 * options.c -- settings from the environment.
 *
 * Each option is read once, lazily, at first use, through sh_env (which does
 * not allocate) and parsed here without allocating, so this is safe early
 * in a process's life.  A value that cannot be read is reported once and
 * the compiled default is used.
 *
 * sh_env is secure_getenv: in a setuid or setgid program (AT_SECURE) every
 * option reads as unset, so an unprivileged caller cannot turn on check mode
 * and make a privileged process write its reports to a file of the caller's
 * choosing, or change how it manages memory.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* The names of the options a process reads whatever it does: arrays, so
   that they lie in .data, not .rodata (DESIGN, "What a small program pays":
   one read of .rodata makes all of it resident).  The same goes for the
   other strings such a process reads, each kept beside its use. */
char sh_env_check[] = "STACKHEAP_CHECK";
char sh_env_profile[] = "STACKHEAP_PROFILE";
char sh_env_stats[] = "STACKHEAP_STATS";
char sh_env_tools[] = "STACKHEAP_TOOLS";
char sh_env_fault[] = "STACKHEAP_FAULT";
static char env_stack_size[] = "STACKHEAP_STACK_SIZE";
static char env_purge_delay[] = "STACKHEAP_PURGE_DELAY";
static char env_sample[] = "STACKHEAP_SAMPLE";
static char env_background[] = "STACKHEAP_BACKGROUND";

const char *sh_env(const char *name)
{
    return secure_getenv(name);
}

bool sh_parse_size(const char *text, size_t *out)
{
    if (text == NULL || *text < '0' || *text > '9')
        return false;
    size_t v = 0;
    const char *p = text;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (size_t)(*p - '0'), &v))
            return false;
    }
    unsigned shift = 0;
    switch (*p) {
    case 'k':
    case 'K':
        shift = 10;
        p++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        p++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        p++;
        break;
    case 't':
    case 'T':
        shift = 40;
        p++;
        break;
    default:
        break;
    }
    /* optional "B", or "iB" after a unit */
    if (shift != 0 && *p == 'i' && p[1] == 'B')
        p += 2;
    else if (*p == 'B' || *p == 'b')
        p++;
    if (*p != '\0')
        return false;
    if (shift != 0 && v > (SIZE_MAX >> shift))
        return false;
    *out = v << shift;
    return true;
}

static struct {
    _Atomic size_t stack_size; /* 0 until read */
} options;

size_t sh_option_stack_size(void)
{
    /* relaxed: racing first readers compute the same value */
    size_t v = atomic_load_explicit(&options.stack_size, memory_order_relaxed);
    if (sh_likely(v != 0))
        return v;
    v = SH_STACK_DEFAULT_CAPACITY;
    const char *env = sh_env(env_stack_size);
    if (env != NULL && *env != '\0') {
        size_t parsed;
        if (sh_parse_size(env, &parsed) && parsed > 0) {
            v = parsed;
        } else {
            sh_warning("STACKHEAP_STACK_SIZE='%s' is not a size (use bytes or a K, M, G suffix, "
                       "e.g. 64K, 8M, 1G); using the default of %zu MiB",
                       env, (size_t)(SH_STACK_DEFAULT_CAPACITY >> 20));
        }
    }
    atomic_store_explicit(&options.stack_size, v, memory_order_relaxed);
    return v;
}

uint64_t sh_option_purge_delay_ms(void)
{
    const char *env = sh_env(env_purge_delay);
    if (env == NULL || *env == '\0')
        return SH_PURGE_DELAY_DEFAULT_MS;
    char *end;
    unsigned long long v = strtoull(env, &end, 10);
    if (end == env || (*end != '\0' && strcmp(end, "ms") != 0) || v > 3600000) {
        sh_warning("STACKHEAP_PURGE_DELAY='%s' is not a delay in milliseconds (0 to 3600000); "
                   "using %d",
                   env, SH_PURGE_DELAY_DEFAULT_MS);
        return SH_PURGE_DELAY_DEFAULT_MS;
    }
    return v;
}

unsigned sh_option_sample(void)
{
    const char *env = sh_env(env_sample);
    if (env == NULL || *env == '\0')
        return 0;
    char *end;
    unsigned long long v = strtoull(env, &end, 10);
    if (end == env || *end != '\0' || v > SH_SAMPLE_MAX) {
        sh_warning("STACKHEAP_SAMPLE='%s' is not a rate (1 to %u: about one allocation in that "
                   "many is guarded; 0: none); sampling stays off",
                   env, SH_SAMPLE_MAX);
        return 0;
    }
    return (unsigned)v;
}

bool sh_option_background(void)
{
    const char *env = sh_env(env_background);
    if (env == NULL || *env == '\0' || strcmp(env, "1") == 0)
        return true;
    if (strcmp(env, "0") != 0)
        sh_warning("STACKHEAP_BACKGROUND='%s' is neither 0 nor 1; using 1", env);
    return strcmp(env, "0") != 0;
}

uintptr_t sh_parse_hex(const char **s)
{
    uintptr_t v = 0;
    for (;; (*s)++) {
        char c = **s;
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                            : 16;
        if (d == 16)
            return v;
        v = v * 16 + d;
    }
}

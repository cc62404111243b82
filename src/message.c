/*
 * message.c -- how stackheap talks to people: a small printf that never
 * allocates, warnings, and the single way to fail loudly (sh_fatal).
 *
 * Invariants: every message is one line starting "stackheap: ", written
 * with one write(2) of a stack buffer (so lines from threads do not
 * interleave); no function here calls malloc or stdio.
 */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>

#define SH_MESSAGE_MAX 512

/* Output cursor: appends while there is room, always leaves a NUL. */
typedef struct out {
    char *buf;
    size_t cap; /* > 0 */
    size_t len; /* < cap */
} out;

static void put_char(out *o, char c)
{
    if (o->len + 1 < o->cap)
        o->buf[o->len++] = c;
}

static void put_str(out *o, const char *s)
{
    if (s == NULL)
        s = "(null)";
    while (*s)
        put_char(o, *s++);
}

static void put_unsigned(out *o, unsigned long long v, unsigned base)
{
    char digits[24];
    int n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        digits[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v != 0);
    while (n > 0)
        put_char(o, digits[--n]);
}

static void put_signed(out *o, long long v)
{
    if (v < 0) {
        put_char(o, '-');
        put_unsigned(o, 0ULL - (unsigned long long)v, 10);
    } else {
        put_unsigned(o, (unsigned long long)v, 10);
    }
}

size_t sh_vformat(char *buf, size_t n, const char *fmt, va_list ap)
{
    if (n == 0)
        return 0;
    out o = {buf, n, 0};
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            put_char(&o, *f);
            continue;
        }
        f++;
        int longs = 0;
        bool size_mod = false;
        for (;; f++) {
            if (*f == 'l')
                longs++;
            else if (*f == 'z' || *f == 't') /* size_t, ptrdiff_t: one width here */
                size_mod = true;
            else
                break;
        }
        switch (*f) {
        case 's':
            put_str(&o, va_arg(ap, const char *));
            break;
        case 'c':
            put_char(&o, (char)va_arg(ap, int));
            break;
        case 'd':
        case 'i':
            if (size_mod)
                put_signed(&o, (long long)va_arg(ap, ptrdiff_t));
            else if (longs >= 2)
                put_signed(&o, va_arg(ap, long long));
            else if (longs == 1)
                put_signed(&o, va_arg(ap, long));
            else
                put_signed(&o, va_arg(ap, int));
            break;
        case 'u':
        case 'x': {
            unsigned base = *f == 'x' ? 16 : 10;
            if (size_mod)
                put_unsigned(&o, va_arg(ap, size_t), base);
            else if (longs >= 2)
                put_unsigned(&o, va_arg(ap, unsigned long long), base);
            else if (longs == 1)
                put_unsigned(&o, va_arg(ap, unsigned long), base);
            else
                put_unsigned(&o, va_arg(ap, unsigned), base);
            break;
        }
        case 'p':
            put_str(&o, "0x");
            put_unsigned(&o, (uintptr_t)va_arg(ap, void *), 16);
            break;
        case '%':
            put_char(&o, '%');
            break;
        case '\0':
            f--; /* a lone '%' at the end: stop at the NUL */
            break;
        default: /* unknown conversion: show it rather than guess its argument */
            put_char(&o, '%');
            put_char(&o, *f);
            break;
        }
    }
    o.buf[o.len] = '\0';
    return o.len;
}

size_t sh_format(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t len = sh_vformat(buf, n, fmt, ap);
    va_end(ap);
    return len;
}

const char *sh_format_bytes(char *buf, size_t n, size_t bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    unsigned u = 0;
    unsigned long long whole = bytes, rem = 0;
    while (whole >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        rem = whole % 1024;
        whole /= 1024;
        u++;
    }
    if (u == 0) {
        sh_format(buf, n, "%llu B", whole);
    } else {
        /* one decimal, truncated: 1.5 KiB for 1536 */
        unsigned tenth = (unsigned)(rem * 10 / 1024);
        sh_format(buf, n, "%llu.%u %s", whole, tenth, units[u]);
    }
    return buf;
}

static void emit(const char *prefix, const char *fmt, va_list ap)
{
    char line[SH_MESSAGE_MAX];
    int saved = errno;
    size_t len = sh_format(line, sizeof line, "stackheap: %s", prefix);
    len += sh_vformat(line + len, sizeof line - len - 1, fmt, ap);
    line[len++] = '\n';
    sh_os_write(2, line, len);
    errno = saved;
}

void sh_warning(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("warning: ", fmt, ap);
    va_end(ap);
}

void sh_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("", fmt, ap);
    va_end(ap);
    sh_os_abort();
}

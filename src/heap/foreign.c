/*
 * foreign.c -- pointers stackheap never handed out.
 *
 * free(p), realloc(p) or malloc_usable_size(p) of a pointer in no region of
 * stackheap's is a bug (an uninitialised pointer, a global, a page the
 * program mapped itself), with one exception: under LD_PRELOAD the dynamic
 * loader serves its first allocations itself (a minimal malloc, before libc's
 * calls are bound to stackheap's) and frees some of them later through free.
 * Those early blocks must be left alone; everything else dies, as on glibc
 * ("free(): invalid pointer").
 *
 * The early blocks lie in the loader's writable data and in anonymous
 * mappings that exist when libstackheap is loaded.  A constructor records
 * those ranges once, from /proc/self/maps (about 20 us, once per process);
 * a pointer in one of them is "early".
 */
#define _GNU_SOURCE
#include "heap_internal.h"

#include <string.h>

#define RANGES 256

/* The count first and each range's ends side by side: a process with a
   few early ranges writes the first few hundred bytes, one page of .bss. */
static struct {
    unsigned n;
    bool overflow; /* more ranges than fit: every anonymous mapping counts */
    struct {
        uintptr_t lo, hi;
    } r[RANGES];
} early;

/* One line of /proc/self/maps: its range, whether it is writable, its path. */
typedef struct maps_line {
    uintptr_t lo, hi;
    bool writable;
    const char *path; /* "" for an anonymous mapping */
} maps_line;

static bool parse_line(const char *s, maps_line *out)
{
    out->lo = sh_parse_hex(&s);
    if (*s++ != '-')
        return false;
    out->hi = sh_parse_hex(&s);
    if (*s++ != ' ')
        return false;
    out->writable = s[0] != '\0' && s[1] == 'w';
    for (int field = 0; field < 4; field++) { /* perms, offset, device, inode */
        while (*s != ' ' && *s != '\0')
            s++;
        while (*s == ' ')
            s++;
    }
    out->path = s;
    return true;
}

/* Call f on each line of /proc/self/maps (without its newline); stops when
   f returns false.  Reads a chunk at a time: no allocation. */
static void each_mapping(bool (*f)(const maps_line *, void *), void *arg)
{
    static char path[] = "/proc/self/maps"; /* in .data, not .rodata: options.c */
    int fd = sh_os_open_read(path);
    if (fd < 0)
        return;
    char buf[4096];
    size_t have = 0;
    for (bool more = true; more;) {
        size_t n = sh_os_read(fd, buf + have, sizeof buf - 1 - have);
        more = n > 0;
        have += n;
        buf[have] = '\0';
        char *line = buf, *nl;
        while ((nl = memchr(line, '\n', (size_t)(buf + have - line))) != NULL ||
               (!more && line < buf + have)) {
            if (nl != NULL)
                *nl = '\0';
            maps_line m;
            if (parse_line(line, &m) && !f(&m, arg)) {
                sh_os_close(fd);
                return;
            }
            line = nl != NULL ? nl + 1 : buf + have;
        }
        have = (size_t)(buf + have - line);
        memmove(buf, line, have);
        if (have == sizeof buf - 1) /* a line longer than the buffer: skip it */
            have = 0;
    }
    sh_os_close(fd);
}

/* Read at every process's start: in .data, not .rodata (options.c). */
static char path_heap[] = "[heap]", path_anon[] = "[anon", path_loader[] = "/ld-linux";

static bool is_anonymous(const char *path)
{
    return path[0] == '\0' || strncmp(path, path_heap, 6) == 0 || strncmp(path, path_anon, 5) == 0;
}

static bool record(const maps_line *m, void *arg)
{
    (void)arg;
    if (!m->writable || (!is_anonymous(m->path) && strstr(m->path, path_loader) == NULL))
        return true;
    if (early.n > 0 && early.r[early.n - 1].hi == m->lo) { /* neighbours: one range */
        early.r[early.n - 1].hi = m->hi;
        return true;
    }
    if (early.n == RANGES) {
        early.overflow = true;
        return false;
    }
    early.r[early.n].lo = m->lo;
    early.r[early.n].hi = m->hi;
    early.n++;
    return true;
}

static pthread_once_t early_once = PTHREAD_ONCE_INIT;

static void record_early(void)
{
    each_mapping(record, NULL);
}

/* At load time (a constructor, before the program's main and whatever it
   maps): the loader's early blocks all exist by then, the program's own
   mappings do not yet. */
__attribute__((constructor(101))) static void record_at_load(void)
{
    if (sh_cfg_harden) /* else only when asked (check mode): later, more lenient */
        pthread_once(&early_once, record_early);
}

typedef struct lookup {
    uintptr_t p;
    bool found;
    maps_line line;
    char path[160];
} lookup;

static bool find(const maps_line *m, void *arg)
{
    lookup *l = arg;
    if (l->p < m->lo || l->p >= m->hi)
        return true;
    l->found = true;
    l->line = *m;
    sh_format(l->path, sizeof l->path, "%s", m->path);
    l->line.path = l->path;
    return false;
}

bool sh_foreign_is_early(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    pthread_once(&early_once, record_early); /* done at the first heap, unless no heap yet */
    for (unsigned i = 0; i < early.n; i++)
        if (a >= early.r[i].lo && a < early.r[i].hi)
            return true;
    if (!early.overflow)
        return false;
    lookup l = {.p = a};
    each_mapping(find, &l);
    return l.found && l.line.writable && is_anonymous(l.line.path);
}

const char *sh_foreign_describe(const void *p, char *buf, size_t n)
{
    lookup l = {.p = (uintptr_t)p};
    each_mapping(find, &l);
    if (!l.found)
        sh_format(buf, n, "it points into no mapping: an uninitialised or damaged pointer");
    else if (strncmp(l.path, "[stack", 6) == 0)
        sh_format(buf, n, "it points into the stack");
    else if (is_anonymous(l.path))
        sh_format(buf, n, "it points into memory mapped outside stackheap (mmap), not a block");
    else
        sh_format(buf, n, "it points into %s, not a block", l.path);
    return buf;
}

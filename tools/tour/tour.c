/*
 * tour.c -- `stackheap tour`: the order of the sections, and the helpers
 * they print with (tour.h says what a section promises).
 *
 * The stack's sections come first, then the heap's, then the two side by
 * side (speed, and the seed's table, which reads the figures the others
 * keep in tour_measured).
 *
 * Rules every section keeps: it never aborts (the one demonstration of
 * SH_OVERFLOW_ABORT runs in a forked child), it frees everything it
 * allocates, and the whole tour stays within a few seconds (3-4 s on a busy
 * 2-core machine, most of it the page faults of the heap's 256 MiB and the
 * wait for the purge thread to give them back).
 */
#define _GNU_SOURCE
#include "tour.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Sections are numbered in the order they run: the position in this list. */
typedef int section_fn(void);

static section_fn *const sections[] = {
    /* the stack */
    tour_create,
    tour_frames,
    tour_auto_release,
    tour_high_water,
    tour_resize,
    tour_overflow,
    /* the heap */
    tour_lifetime,
    tour_grow_shrink,
    tour_threads,
    tour_first_class,
    tour_check_mode,
    /* both */
    tour_speed,
    tour_table,
};

int tour_section_number(int (*fn)(void))
{
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        if (sections[i] == fn)
            return (int)i + 1;
    return 0;
}

/* The number tour_heading printed last (0 before the first section). */
static int section_number;

tour_figures tour_measured;

int tour_run(void)
{
    /* The tour shows release mode: check mode's quarantine and guards would
       change its figures.  Check mode is decided when the library loads, so
       the tour runs itself again without it.  (Its check-mode section sets
       STACKHEAP_CHECK for the children it runs.) */
    const char *check = getenv("STACKHEAP_CHECK");
    if (check != NULL && *check != '\0' && strcmp(check, "0") != 0) {
        printf("(STACKHEAP_CHECK is set: the tour runs again without it, in release mode;\n"
               "section %d runs programs in check mode)\n",
               tour_section_number(tour_check_mode));
        fflush(stdout);
        unsetenv("STACKHEAP_CHECK");
        execl("/proc/self/exe", "stackheap", "tour", (char *)NULL);
        printf("(could not: %s; figures below may be check mode's)\n", strerror(errno));
    }
    printf("stackheap %s: a tour of the library on this machine\n", SH_VERSION_STRING);
    printf("(every figure below is measured as it prints)\n");
    int bad = 0;
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        bad |= sections[i]();
    if (bad)
        printf("\nThe tour found UNEXPECTED results (see above).\n");
    else if (tour_measured.leak_bytes > 0)
        printf("\nEnd of the tour: every stack, heap and block made here has been released,\n"
               "and the only leak was the demonstration's, in its own process.\n");
    else
        printf("\nEnd of the tour: every stack, heap and block made here has been released.\n");
    return bad ? 1 : 0;
}

/* ---- output helpers ------------------------------------------------------- */

void tour_heading(const char *title)
{
    char line[96];
    int n = snprintf(line, sizeof line, "%d. %s", ++section_number, title);
    printf("\n%s\n", line);
    for (int i = 0; i < n && i < (int)sizeof line; i++)
        putchar('-');
    putchar('\n');
}

const char *tour_size(char *buf, size_t n, size_t bytes)
{
    if (bytes < KiB)
        snprintf(buf, n, "%zu B", bytes);
    else if (bytes < MiB && bytes % KiB == 0)
        snprintf(buf, n, "%zu KiB", bytes / KiB);
    else if (bytes < MiB)
        snprintf(buf, n, "%.1f KiB", (double)bytes / KiB);
    else if (bytes % MiB == 0)
        snprintf(buf, n, "%zu MiB", bytes / MiB);
    else
        snprintf(buf, n, "%.2f MiB", (double)bytes / MiB);
    return buf;
}

const char *tour_count(char *buf, size_t n, size_t v)
{
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%zu", v), o = 0;
    for (int i = 0; i < len && o + 2 < (int)n; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

int tour_failed(const char *what)
{
    printf("  UNEXPECTED: %s\n", what);
    return 1;
}

double tour_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

void tour_random_sizes(unsigned short *sizes, size_t n, uint64_t seed, unsigned lo, unsigned hi)
{
    uint64_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sizes[i] = (unsigned short)(lo + x % (hi - lo + 1));
    }
}

size_t tour_rss(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    unsigned long size = 0, resident = 0;
    buf[n > 0 ? n : 0] = '\0';
    if (sscanf(buf, "%lu %lu", &size, &resident) != 2) /* on a string: no allocation */
        return 0;
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

bool tour_malloc_is_stackheap(void)
{
    void *ours = dlsym(RTLD_DEFAULT, "sh_malloc"), *theirs = dlsym(RTLD_DEFAULT, "malloc");
    Dl_info a, b;
    return ours != NULL && theirs != NULL && dladdr(ours, &a) != 0 && dladdr(theirs, &b) != 0 &&
           strcmp(a.dli_fname, b.dli_fname) == 0;
}

/* ---- stacks --------------------------------------------------------------- */

sh_stack_stats tour_stack_stats(const sh_stack *s)
{
    sh_stack_stats st;
    memset(&st, 0, sizeof st);
    sh_stack_get_stats(s, &st);
    return st;
}

sh_stack *tour_new_stack(size_t capacity, const char *name)
{
    sh_stack *s = sh_stack_new(capacity);
    if (s == NULL) {
        printf("  UNEXPECTED: sh_stack_new(%zu) failed: %s\n", capacity, strerror(errno));
        return NULL;
    }
    sh_stack_set_name(s, name);
    return s;
}

uintptr_t tour_stack_base(sh_stack *s)
{
    void *p = sh_stack_alloc(s, 0);
    sh_stack_free_top(s, p);
    return (uintptr_t)p;
}

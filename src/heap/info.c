/*
 * info.c -- what glibc's allocator tells and takes besides malloc and free:
 * mallinfo, mallinfo2, malloc_stats, malloc_info, mallopt and malloc_trim,
 * answered from stackheap's own figures (exported with the override).
 *
 * The figures (sh_heap_figures):
 *   arena     bytes of the segments that hold small, medium and span blocks
 *   in_use    bytes of the blocks handed out in them (block sizes)
 *   free      carved blocks not handed out, and their bytes
 *   large     live blocks with mappings of their own, and those mappings' bytes
 *   cached    bytes kept for reuse (empty segments, freed large mappings)
 * They are read without stopping the other threads: a snapshot, not a
 * consistent cut.
 */
#define _GNU_SOURCE
#include "heap_internal.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>

#if SH_OVERRIDE

typedef struct sh_heap_figures {
    size_t arena, in_use, free_blocks, free_bytes, large_blocks, large_bytes, cached;
    size_t mapped, peak, span_blocks;
} sh_heap_figures;

static void figures(sh_heap_figures *f)
{
    sh_segment_figures seg;
    sh_segment_totals(&seg);
    size_t span_mapped, span_used, large_cached, maps, unmaps;
    sh_span_totals(&span_mapped, &span_used, &f->span_blocks);
    sh_large_totals(&f->large_blocks, &f->large_bytes, &large_cached);
    f->arena = seg.mapped + span_mapped;
    f->in_use = seg.in_use + span_used;
    f->free_blocks = seg.free_blocks;
    f->free_bytes = f->arena - f->in_use;
    f->cached = seg.cached + large_cached;
    sh_os_mapped(&f->mapped, &f->peak, &maps, &unmaps);
}

SH_API struct mallinfo2 mallinfo2(void)
{
    sh_heap_figures f;
    figures(&f);
    struct mallinfo2 m = {0};
    m.arena = f.arena;         /* non-mmapped space: the segments */
    m.ordblks = f.free_blocks; /* free chunks: carved blocks not handed out */
    m.hblks = f.large_blocks;  /* mmapped regions: large blocks */
    m.hblkhd = f.large_bytes;  /* their bytes */
    m.uordblks = f.in_use;     /* allocated in the segments */
    m.fordblks = f.free_bytes; /* free in the segments */
    m.keepcost = f.cached;     /* what malloc_trim can give back at once */
    return m;
}

static int clamp(size_t v)
{
    return v > INT_MAX ? INT_MAX : (int)v;
}

/* glibc's int fields: each figure is clamped to INT_MAX (2 GiB). */
SH_API struct mallinfo mallinfo(void)
{
    struct mallinfo2 m2 = mallinfo2();
    struct mallinfo m = {0};
    m.arena = clamp(m2.arena);
    m.ordblks = clamp(m2.ordblks);
    m.hblks = clamp(m2.hblks);
    m.hblkhd = clamp(m2.hblkhd);
    m.uordblks = clamp(m2.uordblks);
    m.fordblks = clamp(m2.fordblks);
    m.keepcost = clamp(m2.keepcost);
    return m;
}

/* Append "label = value\n" to buf at *n, the value right-aligned in 10
   columns as glibc prints it (sh_format has no widths). */
static void stat_line(char *buf, size_t cap, size_t *n, const char *label, size_t value)
{
    char num[32];
    size_t len = sh_format(num, sizeof num, "%zu", value);
    static const char spaces[] = "          ";
    *n += sh_format(buf + *n, cap - *n, "%s = %s%s\n", label, spaces + (len < 10 ? len : 10), num);
}

/* glibc's layout, on stderr, written without stdio. */
SH_API void malloc_stats(void)
{
    sh_heap_figures f;
    figures(&f);
    char buf[512];
    size_t n = sh_format(buf, sizeof buf, "Arena 0:\n");
    stat_line(buf, sizeof buf, &n, "system bytes    ", f.arena);
    stat_line(buf, sizeof buf, &n, "in use bytes    ", f.in_use);
    n += sh_format(buf + n, sizeof buf - n, "Total (incl. mmap):\n");
    stat_line(buf, sizeof buf, &n, "system bytes    ", f.mapped);
    stat_line(buf, sizeof buf, &n, "in use bytes    ", f.in_use + f.large_bytes);
    stat_line(buf, sizeof buf, &n, "max mmap regions", f.large_blocks);
    stat_line(buf, sizeof buf, &n, "max mmap bytes  ", f.peak);
    sh_os_write(2, buf, n);
}

/* glibc's XML, one heap: options must be 0 (EINVAL otherwise, as glibc). */
SH_API int malloc_info(int options, FILE *fp)
{
    if (options != 0 || fp == NULL) {
        errno = EINVAL;
        return -1;
    }
    sh_heap_figures f;
    figures(&f);
    fprintf(fp,
            "<malloc version=\"1\">\n"
            "<heap nr=\"0\">\n"
            "<sizes>\n"
            "</sizes>\n"
            "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
            "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
            "<system type=\"current\" size=\"%zu\"/>\n"
            "<system type=\"max\" size=\"%zu\"/>\n"
            "<aspace type=\"total\" size=\"%zu\"/>\n"
            "<aspace type=\"mprotect\" size=\"%zu\"/>\n"
            "</heap>\n"
            "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
            "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
            "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n"
            "<system type=\"current\" size=\"%zu\"/>\n"
            "<system type=\"max\" size=\"%zu\"/>\n"
            "<aspace type=\"total\" size=\"%zu\"/>\n"
            "<aspace type=\"mprotect\" size=\"%zu\"/>\n"
            "</malloc>\n",
            f.free_blocks, f.free_bytes, f.arena, f.peak, f.arena, f.arena, f.free_blocks,
            f.free_bytes, f.large_blocks, f.large_bytes, f.mapped, f.peak, f.mapped, f.mapped);
    return 0;
}

/*
 * glibc's parameters (malloc.h): each is accepted, and has no effect, since
 * stackheap's design has no such knob (docs/DESIGN.md has the table and the
 * reasons); any other returns 0, as glibc does for an unknown one.
 */
SH_API int mallopt(int param, int value)
{
    (void)value;
    switch (param) {
    case M_MXFAST:         /* no fast bins: size classes are per-thread pages */
    case M_TRIM_THRESHOLD: /* freed memory goes back after STACKHEAP_PURGE_DELAY */
    case M_TOP_PAD:        /* no top chunk */
    case M_MMAP_THRESHOLD: /* blocks above 2 MiB (128 KiB for first-class heaps) are mappings */
    case M_MMAP_MAX:       /* no limit on mappings */
    case M_CHECK_ACTION:   /* misuse always aborts with a message (release mode) */
    case M_PERTURB:        /* check mode fills freed memory */
    case M_ARENA_TEST:     /* no arenas: a heap per thread */
    case M_ARENA_MAX:
        return 1;
    default:
        return 0;
    }
}

/*
 * Give free memory back to the OS: every thread's free pages and every
 * cache at once (sh_release_caches); what only a heap's owner may touch (a
 * bin's last page) the next time that thread runs a slow path (the epoch,
 * maybe_purge).  Returns 1 if memory went back now.  pad (what glibc keeps
 * at the top of its heap) has no meaning here.
 */
SH_API int malloc_trim(size_t pad)
{
    (void)pad;
    size_t before, peak, maps, unmaps, after;
    sh_os_mapped(&before, &peak, &maps, &unmaps);
    size_t decommitted = sh_os_decommitted();
    atomic_fetch_add_explicit(&sh_trim_epoch, 1, memory_order_relaxed);
    sh_heap_collect(true);
    sh_release_caches();
    sh_os_mapped(&after, &peak, &maps, &unmaps);
    return after < before || sh_os_decommitted() > decommitted;
}

#endif /* SH_OVERRIDE */

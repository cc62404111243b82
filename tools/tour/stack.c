/*
 * stack.c -- the tour's stack chapter: a named stack, frames, automatic
 * release, the high-water mark, and growing the top block in place.
 *
 * Each section makes its own 1 MiB stack and deletes it; the addresses it
 * prints are offsets from the stack's base, so they read the same on every run.
 */
#define _GNU_SOURCE
#include "tour.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---- a named stack -------------------------------------------------------- */

int tour_create(void)
{
    tour_heading("A named stack");
    sh_stack *s = tour_new_stack(1 * MiB, "tour");
    if (s == NULL)
        return 1;
    sh_stack_stats st = tour_stack_stats(s);
    char b[32];
    printf("  sh_stack *s = sh_stack_new(1 << 20);  sh_stack_set_name(s, \"tour\");\n\n");
    printf("  %-14s %s\n", "name", sh_stack_name(s));
    printf("  %-14s %zu B (%s reserved; pages are committed when first touched)\n", "capacity",
           st.capacity, tour_size(b, sizeof b, st.capacity));
    printf("  %-14s %zu B\n", "in use", st.in_use);
    printf("  %-14s %zu B\n", "available", st.available);
    printf("  %-14s %zu\n", "open frames", st.frames);
    printf("  %-14s %zu B (the default of sh_stack_alloc)\n", "alignment", (size_t)SH_STACK_ALIGN);
    printf("  %-14s guard pages with no access on both sides: an overrun faults at once\n",
           "guards");
    sh_stack_delete(s);
    return st.capacity == 1 * MiB && st.in_use == 0 ? 0 : tour_failed("a new stack is not empty");
}

/* ---- frames --------------------------------------------------------------- */

/* One row: `depth` is the innermost open frame's sh_frame.depth (0 for none). */
static void frame_row(sh_stack *s, uintptr_t base, size_t depth, const char *step,
                      const void *block)
{
    sh_stack_stats st = tour_stack_stats(s);
    char at[32] = "";
    if (block != NULL)
        snprintf(at, sizeof at, "base + %zu", (size_t)((uintptr_t)block - base));
    printf("  %-28s %5zu %12zu %7zu%s%s\n", step, depth, st.in_use, st.frames,
           at[0] != '\0' ? "   " : "", at);
}

int tour_frames(void)
{
    tour_heading("Frames: push, allocate, pop");
    sh_stack *s = tour_new_stack(1 * MiB, "tour");
    if (s == NULL)
        return 1;
    uintptr_t base = tour_stack_base(s);
    printf("  Each block starts at a multiple of %zu bytes; a pop returns the top to where\n"
           "  its push found it, releasing every block allocated since in one step.\n\n",
           (size_t)SH_STACK_ALIGN);
    printf("  %-28s %5s %12s %7s   %s\n", "step", "depth", "in use (B)", "frames", "block at");
    frame_row(s, base, 0, "(new stack)", NULL);
    sh_frame f1 = sh_stack_push(s);
    frame_row(s, base, f1.depth, "f1 = sh_stack_push(s)", NULL);
    void *a = sh_stack_alloc(s, 100);
    frame_row(s, base, f1.depth, "  alloc 100 B", a);
    void *b = sh_stack_alloc(s, 4000);
    frame_row(s, base, f1.depth, "  alloc 4000 B", b);
    sh_frame f2 = sh_stack_push(s);
    frame_row(s, base, f2.depth, "  f2 = sh_stack_push(s)", NULL);
    void *c = sh_stack_alloc(s, 24);
    frame_row(s, base, f2.depth, "    alloc 24 B", c);
    void *d = sh_stack_alloc_aligned(s, 1000, 256);
    frame_row(s, base, f2.depth, "    alloc 1000 B, align 256", d);
    sh_frame f3 = sh_stack_push(s);
    frame_row(s, base, f3.depth, "    f3 = sh_stack_push(s)", NULL);
    void *e = sh_stack_alloc(s, 64 * KiB);
    frame_row(s, base, f3.depth, "      alloc 64 KiB", e);
    sh_stack_pop(s, f3);
    frame_row(s, base, f2.depth, "    sh_stack_pop(s, f3)", NULL);
    sh_stack_stats mid = tour_stack_stats(s);
    sh_stack_pop(s, f2);
    frame_row(s, base, f1.depth, "  sh_stack_pop(s, f2)", NULL);
    sh_stack_pop(s, f1);
    frame_row(s, base, 0, "sh_stack_pop(s, f1)", NULL);
    sh_stack_stats end = tour_stack_stats(s);
    printf("\n  Blocks are never freed one by one: a pop moves the top back in one step,\n"
           "  however many blocks (nested frames' included) it releases.\n");
    sh_stack_delete(s);
    if (a == NULL || b == NULL || c == NULL || d == NULL || e == NULL)
        return tour_failed("an allocation returned NULL");
    if (((uintptr_t)d & 255) != 0)
        return tour_failed("the aligned block is not aligned to 256");
    if (mid.frames != 2 || end.in_use != 0 || end.frames != 0)
        return tour_failed("the pops did not restore the stack");
    return 0;
}

/* ---- automatic release ---------------------------------------------------- */

/* Allocates three blocks in an SH_SCOPE and returns from inside it. */
static size_t scoped_work(sh_stack *s)
{
    SH_SCOPE(s)
    {
        for (int i = 0; i < 3; i++) {
            char *p = sh_stack_alloc(s, 512);
            if (p == NULL)
                return 0;
            p[0] = (char)i;
        }
        return tour_stack_stats(s)
            .in_use; /* early return: the scope's frame is popped on the way out */
    }
    return 0;
}

/* Allocates in an SH_FRAME'd block on each turn of a loop, leaving it by break. */
static size_t frame_loop(sh_stack *s, size_t *inside)
{
    int turns = 0;
    for (int i = 0; i < 10; i++) {
        SH_FRAME_NAMED(turn, s); /* SH_FRAME(s), named: clang counts a cleanup as no use */
        (void)turn;
        char *p = sh_stack_alloc(s, 1000);
        if (p == NULL)
            break;
        p[0] = 1;
        turns++;
        *inside = tour_stack_stats(s).in_use;
        if (i == 3)
            break; /* leaves the block: the frame of this turn is popped */
    }
    return (size_t)turns;
}

int tour_auto_release(void)
{
    tour_heading("Automatic release: SH_SCOPE and SH_FRAME");
    sh_stack *s = tour_new_stack(1 * MiB, "tour");
    if (s == NULL)
        return 1;
    printf("  SH_SCOPE(s) { ... } runs a block in a frame that is popped however the\n"
           "  block is left; SH_FRAME(s); does the same for the rest of a block.\n\n");

    size_t before = tour_stack_stats(s).in_use;
    size_t inside = scoped_work(s);
    sh_stack_stats after = tour_stack_stats(s);
    printf("  A function allocates 3 x 512 B in SH_SCOPE(s) and returns from inside it:\n");
    printf("    %-34s %6zu B\n", "in use before the call", before);
    printf("    %-34s %6zu B\n", "in use just before the return", inside);
    printf("    %-34s %6zu B, %zu frames open\n\n", "in use after the return", after.in_use,
           after.frames);

    size_t in_loop = 0;
    size_t turns = frame_loop(s, &in_loop);
    sh_stack_stats after_loop = tour_stack_stats(s);
    printf("  A loop allocates 1000 B per turn under SH_FRAME(s) and breaks out on turn %zu:\n",
           turns);
    printf("    %-34s %6zu B (each turn's block is gone by the next)\n", "in use inside a turn",
           in_loop);
    printf("    %-34s %6zu B, %zu frames open\n", "in use after the break", after_loop.in_use,
           after_loop.frames);
    sh_stack_delete(s);
    if (after.in_use == before && after.frames == 0)
        tour_measured.scope_released = inside - before;
    if (inside != 1536 || after.in_use != before || after.frames != 0)
        return tour_failed("SH_SCOPE did not release on return");
    if (turns != 4 || in_loop < 1000 || in_loop >= 1000 + SH_STACK_ALIGN ||
        after_loop.in_use != 0 || after_loop.frames != 0)
        return tour_failed("SH_FRAME did not release on break");
    return 0;
}

/* ---- the high-water mark -------------------------------------------------- */

/* Recursion `levels` deep, each level in its own frame holding `bytes`. */
static void descend(sh_stack *s, int levels, size_t bytes)
{
    SH_FRAME_NAMED(level, s); /* SH_FRAME(s), named: clang counts a cleanup as no use */
    (void)level;
    char *p = sh_stack_alloc(s, bytes);
    if (p != NULL)
        p[0] = (char)levels;
    if (levels > 1)
        descend(s, levels - 1, bytes);
}

int tour_high_water(void)
{
    tour_heading("The high-water mark");
    sh_stack *s = tour_new_stack(1 * MiB, "tour");
    if (s == NULL)
        return 1;
    descend(s, 10, 3 * KiB);
    descend(s, 4, 1 * KiB);
    sh_stack_stats st = tour_stack_stats(s);
    char b[32];
    printf("  A recursion 10 deep with 3 KiB per frame, then one 4 deep with 1 KiB;\n"
           "  both returned, so nothing is in use, but the stack remembers its peak:\n\n");
    printf("  %-22s %8zu B\n", "in use", st.in_use);
    printf("  %-22s %8zu B (%s) of %s; sh_stack_get_stats(s, &st).high_water\n", "high water",
           st.high_water, tour_size(b, sizeof b, st.high_water),
           tour_size((char[32]){0}, 32, st.capacity));
    printf("  %-22s %8.1f %%: a capacity to size the stack by\n", "peak / capacity",
           100.0 * (double)st.high_water / (double)st.capacity);
    sh_stack_delete(s);
    return st.high_water == 30 * KiB && st.in_use == 0 ? 0 : tour_failed("unexpected high water");
}

/* ---- growing the top block in place --------------------------------------- */

int tour_resize(void)
{
    tour_heading("Growing the top block in place: sh_stack_resize_top");
    sh_stack *s = tour_new_stack(1 * MiB, "tour");
    if (s == NULL)
        return 1;
    printf("  p = sh_stack_alloc(s, 16), then p = sh_stack_resize_top(s, p, 2 * size) while\n"
           "  new bytes are written after the old ones:\n\n");
    printf("  %10s   %-18s  %-6s %10s\n", "size", "address", "moved", "in use (B)");
    int bad = 0;
    unsigned char *p = sh_stack_alloc(s, 16);
    if (p == NULL) {
        sh_stack_delete(s);
        return tour_failed("the first allocation failed");
    }
    unsigned char *first = p;
    size_t old = 0, steps = 0;
    char b[32];
    for (size_t size = 16; size <= 64 * KiB; size *= 2) {
        unsigned char *q = sh_stack_resize_top(s, p, size);
        if (q == NULL) {
            bad = tour_failed("sh_stack_resize_top returned NULL");
            break;
        }
        for (size_t i = old; i < size; i++)
            q[i] = (unsigned char)(i * 7);
        printf("  %10s   %-18p  %-6s %10zu\n", tour_size(b, sizeof b, size), (void *)q,
               q == p ? "no" : "YES", tour_stack_stats(s).in_use);
        if (q != first)
            bad = 1;
        p = q;
        old = size;
        steps++;
    }
    size_t wrong = 0;
    for (size_t i = 0; i < old; i++)
        wrong += p[i] != (unsigned char)(i * 7);
    printf("\n  %zu resizes from 16 B to %s at one address: never copied; all %zu bytes\n"
           "  written along the way read back %s.\n",
           steps - 1, tour_size(b, sizeof b, old), old, wrong == 0 ? "intact" : "CHANGED");
    sh_stack_delete(s);
    if (bad || wrong != 0)
        return tour_failed("the block moved or lost its contents");
    return 0;
}

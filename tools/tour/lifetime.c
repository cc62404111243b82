/*
 * lifetime.c -- the tour's first heap section: a block from the heap
 * outlives the function that made it; a block made beside it on the stack,
 * in that function's frame, is gone when the function returns.
 *
 * The function is a real call (noinline), its frame opened with SH_FRAME, so
 * the pop at its return is the one a reader would write.  The stack block is
 * never read after the return: what shows it is gone is the stack's top, back
 * where it was, and the caller's next allocation at the same address.
 */
#define _GNU_SOURCE
#include "tour.h"

#include <stdio.h>
#include <string.h>

#define RECORD "a record made in make_record()"

/* What make_record leaves its caller. */
typedef struct made {
    char *on_heap;        /* the heap block, the caller's to free */
    uintptr_t on_stack;   /* where the stack block was: an address, not a pointer to use */
    size_t in_use_inside; /* the stack's bytes in use just before the return */
    size_t frames_inside; /* and its open frames */
} made;

/* Allocates the same 32 bytes on s and on the heap, writes RECORD into both,
   and returns; its frame (and the stack block with it) is popped on the way
   out.  on_heap is NULL if the heap refused. */
__attribute__((noinline)) static made make_record(sh_stack *s)
{
    SH_FRAME_NAMED(frame, s); /* SH_FRAME(s), named: clang counts a cleanup as no use */
    (void)frame;
    made m = {NULL, 0, 0, 0};
    char *on_stack = sh_stack_alloc(s, sizeof RECORD);
    char *on_heap = sh_malloc(sizeof RECORD);
    if (on_stack != NULL)
        memcpy(on_stack, RECORD, sizeof RECORD);
    if (on_heap != NULL)
        memcpy(on_heap, RECORD, sizeof RECORD);
    sh_stack_stats st = tour_stack_stats(s);
    m.on_heap = on_heap;
    m.on_stack = (uintptr_t)on_stack;
    m.in_use_inside = st.in_use;
    m.frames_inside = st.frames;
    return m;
}

int tour_lifetime(void)
{
    tour_heading("Blocks outlive the function that made them");
    sh_stack *s = tour_new_stack(1 * MiB, "tour");
    if (s == NULL)
        return 1;
    uintptr_t base = tour_stack_base(s);
    size_t before = tour_stack_stats(s).in_use;
    made m = make_record(s);
    sh_stack_stats after = tour_stack_stats(s);
    bool intact = m.on_heap != NULL && memcmp(m.on_heap, RECORD, sizeof RECORD) == 0;
    /* The caller's own next block: the stack hands out the bytes the record had. */
    char *next = sh_stack_alloc(s, sizeof RECORD);
    if (next != NULL)
        memset(next, '-', sizeof RECORD);

    printf("  make_record() opens a frame (SH_FRAME), allocates %zu B with sh_stack_alloc\n"
           "  and %zu B with sh_malloc, writes \"%s\" into both,\n"
           "  and returns both addresses.  What its caller finds:\n\n",
           sizeof RECORD, sizeof RECORD, RECORD);
    size_t at = (size_t)(m.on_stack - base), next_at = (size_t)((uintptr_t)next - base);
    printf("    %-16s at base + %zu, in make_record()'s frame: %zu B in use, %zu frame%s\n",
           "the stack block", at, m.in_use_inside, m.frames_inside,
           m.frames_inside == 1 ? "" : "s");
    if (after.in_use == before && after.frames == 0)
        printf("    %-16s gone at the return: %zu B in use, the top back at base + %zu\n", "",
               after.in_use, after.in_use);
    else
        printf("    %-16s STILL IN USE after the return: %zu B, %zu frames\n", "", after.in_use,
               after.frames);
    printf("    %-16s the caller's next block is at base + %zu: %s\n", "", next_at,
           next_at == at ? "the same bytes" : "ANOTHER PLACE");
    printf("    %-16s at %p\n", "the heap block", (void *)m.on_heap);
    printf("    %-16s %s\n", "",
           intact ? "holds \"" RECORD "\" after the return" : "CHANGED after the return");
    printf("    %-16s and stays until the caller frees it (the tour does so now)\n", "");
    sh_free(m.on_heap);
    sh_stack_delete(s);

    tour_measured.record_bytes = sizeof RECORD;
    tour_measured.record_outlived = intact;
    if (m.on_heap == NULL || m.on_stack == 0 || next == NULL)
        return tour_failed("an allocation returned NULL");
    if (m.in_use_inside < sizeof RECORD || m.frames_inside != 1)
        return tour_failed("the stack block was not in make_record()'s frame");
    if (after.in_use != before || after.frames != 0)
        return tour_failed("the stack block outlived make_record()'s frame");
    if (!intact)
        return tour_failed("the heap block did not keep its contents after the return");
    if ((uintptr_t)next != m.on_stack)
        return tour_failed("the caller's next stack block is not where the gone block was");
    return 0;
}

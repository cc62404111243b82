/*
 * table.c -- the tour's last section: the seed document's "Key differences"
 * table, one row per feature, each cell the seed's claim in its own words
 * and, under it, what the sections before measured on this machine.
 *
 * It measures nothing itself: it reads tour_measured, which the sections
 * filled as they ran.  A figure a section could not measure (it failed, or
 * this build cannot show it) reads "not measured here", never 0.  It checks
 * nothing either: each figure was checked by the section that measured it,
 * and the seed's claims are the seed's, shown beside the figures.
 */
#define _GNU_SOURCE
#include "tour.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FEATURE_WIDTH 12
#define CELL_WIDTH 31
#define CELL_TEXT 512
#define MAX_LINES 12

typedef struct cell {
    char text[CELL_TEXT];
} cell;

/* A cell: the seed's claim in quotes, then what was measured, on its own line. */
static void fill(cell *c, const char *claim, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fill(cell *c, const char *claim, const char *fmt, ...)
{
    int n = snprintf(c->text, sizeof c->text, "\"%s\"\n", claim);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof c->text)
        vsnprintf(c->text + n, sizeof c->text - (size_t)n, fmt, ap);
    va_end(ap);
}

/* text's lines of at most width columns, broken at spaces and at '\n' (a
   word longer than a line gets a line of its own); returns their count. */
static int wrap(const char *text, int width, char lines[][CELL_WIDTH + 1], int max)
{
    int count = 0;
    const char *p = text;
    while (*p != '\0' && count < max) {
        int len = 0, last_space = -1;
        while (p[len] != '\0' && p[len] != '\n' && len < width) {
            if (p[len] == ' ')
                last_space = len;
            len++;
        }
        if (p[len] != '\0' && p[len] != '\n' && p[len] != ' ' && last_space > 0)
            len = last_space; /* break before the word that does not fit */
        snprintf(lines[count++], CELL_WIDTH + 1, "%.*s", len, p);
        p += len;
        while (*p == ' ')
            p++;
        if (*p == '\n')
            p++;
    }
    return count;
}

static void print_row(const char *feature, const cell *stack, const cell *heap)
{
    char left[MAX_LINES][CELL_WIDTH + 1], right[MAX_LINES][CELL_WIDTH + 1];
    int nl = wrap(stack->text, CELL_WIDTH, left, MAX_LINES);
    int nr = wrap(heap->text, CELL_WIDTH, right, MAX_LINES);
    for (int i = 0; i < nl || i < nr; i++) {
        char line[128];
        snprintf(line, sizeof line, "  %-*s  %-*s  %s", FEATURE_WIDTH, i == 0 ? feature : "",
                 CELL_WIDTH, i < nl ? left[i] : "", i < nr ? right[i] : "");
        size_t n = strlen(line);
        while (n > 0 && line[n - 1] == ' ')
            line[--n] = '\0';
        puts(line);
    }
    putchar('\n');
}

static void rule(void)
{
    char dashes[CELL_WIDTH + 1];
    memset(dashes, '-', sizeof dashes - 1);
    dashes[CELL_WIDTH] = '\0';
    printf("  %.*s  %s  %s\n", FEATURE_WIDTH, dashes, dashes, dashes);
}

int tour_table(void)
{
    tour_heading("The seed's table, measured on this machine");
    const tour_figures *m = &tour_measured;
    printf("  The seed document ends with a table of the differences between stack and\n"
           "  heap memory.  Here it is: in each cell, the seed's words in quotes, and\n"
           "  under them what this run measured (the section that did, in brackets).\n\n");
    printf("  %-*s  %-*s  %s\n", FEATURE_WIDTH, "feature", CELL_WIDTH, "stack (sh_stack_*)",
           "heap (sh_malloc, sh_heap_*)");
    rule();

    cell stack, heap;
    char b[32], c[32];
    int speed = tour_section_number(tour_speed);
    if (m->stack_ns > 0)
        fill(&stack, "Faster (LIFO)", "%.1f ns an allocation, its release included [%d]",
             m->stack_ns, speed);
    else
        fill(&stack, "Faster (LIFO)", "not measured here");
    if (m->heap_ns > 0 && m->stack_ns > 0 && m->system_ns > 0)
        fill(&heap, "Slower",
             "sh_malloc: %.1f ns (%.1fx the stack's time); %s's malloc: %.1f ns (%.1fx) [%d]",
             m->heap_ns, m->heap_ns / m->stack_ns, m->system_version, m->system_ns,
             m->system_ns / m->stack_ns, speed);
    else if (m->heap_ns > 0 && m->stack_ns > 0)
        fill(&heap, "Slower", "sh_malloc: %.1f ns (%.1fx the stack's time) [%d]", m->heap_ns,
             m->heap_ns / m->stack_ns, speed);
    else
        fill(&heap, "Slower", "not measured here");
    print_row("Access speed", &stack, &heap);

    if (m->overflow_capacity > 0)
        fill(&stack, "Limited (fixed size)",
             "fixed when made: %s asked of a %s stack gave NULL and ENOMEM, the stack unchanged "
             "[%d]",
             tour_size(b, sizeof b, m->overflow_request),
             tour_size(c, sizeof c, m->overflow_capacity), tour_section_number(tour_overflow));
    else
        fill(&stack, "Limited (fixed size)", "not measured here");
    int grow = tour_section_number(tour_grow_shrink);
    if (m->heap_peak_growth > 0 && m->heap_idle_ms > 0)
        fill(&heap, "Larger and flexible",
             "grew by %.0f MiB here, and gave %.0f MiB back %.2f s after the frees, while the "
             "program slept [%d]",
             (double)m->heap_peak_growth / MiB, (double)m->heap_given_back / MiB,
             m->heap_idle_ms / 1000, grow);
    else if (m->heap_peak_growth > 0)
        fill(&heap, "Larger and flexible", "grew by %.0f MiB here, and gave %.0f MiB back [%d]",
             (double)m->heap_peak_growth / MiB, (double)m->heap_given_back / MiB, grow);
    else
        fill(&heap, "Larger and flexible", "not measured here");
    print_row("Size", &stack, &heap);

    if (m->scope_released > 0)
        fill(&stack, "Automatic (function scope)",
             "a return from inside SH_SCOPE released its %zu B; one pop releases a whole frame "
             "[%d]",
             m->scope_released, tour_section_number(tour_auto_release));
    else
        fill(&stack, "Automatic (function scope)", "not measured here");
    char leak[96];
    if (m->leak_bytes > 0)
        snprintf(leak, sizeof leak,
                 "a forgotten free: %zu B definitely lost, found by check mode [%d]", m->leak_bytes,
                 tour_section_number(tour_check_mode));
    else
        snprintf(leak, sizeof leak, "check mode did not run here [%d]",
                 tour_section_number(tour_check_mode));
    if (m->first_class_blocks > 0)
        fill(&heap, "Manual (developer needs to free memory)",
             "a free per block (%s of them: %.1f ms), or one sh_heap_destroy (%.1f ms) [%d]; %s",
             tour_count(b, sizeof b, (size_t)m->first_class_blocks), m->free_each_ms, m->destroy_ms,
             tour_section_number(tour_first_class), leak);
    else
        fill(&heap, "Manual (developer needs to free memory)", "%s", leak);
    print_row("Management", &stack, &heap);

    if (m->speed_depth > 0)
        fill(&stack, "Local variables, function calls",
             "a function's blocks and its callees': a recursion %d deep, %d blocks a level, one "
             "pop each [%d]",
             m->speed_depth, m->speed_per_level, speed);
    else
        fill(&stack, "Local variables, function calls", "not measured here");
    if (m->cross_thread_blocks > 0)
        fill(&heap, "Objects, arrays, dynamic data",
             "blocks of any size, passed between functions and threads: %d of %d freed by "
             "another thread went back to their owner's heap [%d]",
             m->cross_thread_reused, m->cross_thread_blocks, tour_section_number(tour_threads));
    else
        fill(&heap, "Objects, arrays, dynamic data", "not measured here");
    print_row("Usage", &stack, &heap);

    int life = tour_section_number(tour_lifetime);
    if (m->record_bytes > 0) {
        fill(&stack, "Limited to the function scope",
             "until its frame's pop: a function's %zu B were gone at its return, handed out "
             "again [%d]",
             m->record_bytes, life);
        fill(&heap, "Can persist beyond function scope",
             "until freed: the same function's %zu B from sh_malloc %s after its return [%d]",
             m->record_bytes, m->record_outlived ? "were intact" : "were NOT intact", life);
    } else {
        fill(&stack, "Limited to the function scope", "not measured here");
        fill(&heap, "Can persist beyond function scope", "not measured here");
    }
    print_row("Lifetime", &stack, &heap);
    printf("  The times change from run to run (the machine may be busy); every other\n"
           "  figure is behaviour, checked by its section.\n");
    return 0;
}

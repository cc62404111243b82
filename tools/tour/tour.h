/*
 * tour.h -- what the chapters of `stackheap tour` share: the output helpers,
 * and one function per section.
 *
 * The tour shows the library working on this machine, one section per
 * feature, in the order of the list in tour.c.  A section creates what it
 * needs, prints plain aligned text with every figure measured as it prints,
 * releases everything it made, and returns 0, or 1 when a figure contradicts
 * what its text claims (tour_failed says which); the tour goes on after a
 * failed section and exits 1 at the end.
 */
#ifndef SH_TOUR_H
#define SH_TOUR_H

#include "stackheap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

/* ---- output helpers (tour.c) -------------------------------------------- */

/* Print the next section's number and title, underlined. */
void tour_heading(const char *title);

/* "512 B", "64 KiB", "1.50 MiB" into buf: exact when a whole number of units. */
const char *tour_size(char *buf, size_t n, size_t bytes);

/* "1,048,576" into buf. */
const char *tour_count(char *buf, size_t n, size_t v);

/* Print an unexpected result; returns 1, the section's result. */
int tour_failed(const char *what);

/* CLOCK_MONOTONIC now, in nanoseconds. */
double tour_now_ns(void);
/* n sizes drawn uniformly from lo..hi by xorshift64 from seed (fixed: every run
   times the same pattern). */
void tour_random_sizes(unsigned short *sizes, size_t n, uint64_t seed, unsigned lo, unsigned hi);

/* This process's resident set in bytes, from /proc/self/statm (0 if
   unreadable).  Read with open and read: it never allocates. */
size_t tour_rss(void);

/* True when this process's malloc is stackheap's (the library was built with
   SH_OVERRIDE, which sanitizer builds turn off): then check mode sees plain
   malloc and free, and mallinfo2 reports stackheap's heap. */
bool tour_malloc_is_stackheap(void);

/* ---- figures the closing table shows (tour.c holds them) ------------------- */

/* Filled by the sections as they measure; 0 (or "") for what did not run. */
typedef struct tour_figures {
    /* stack.c: bytes an SH_SCOPE released when its function returned */
    size_t scope_released;
    /* overflow.c: a request the stack refused (NULL, ENOMEM), and its capacity */
    size_t overflow_request, overflow_capacity;
    /* speed.c: ns per allocation, its release included, in a recursion
       speed_depth deep with speed_per_level blocks a level */
    double stack_ns, heap_ns, system_ns;
    int speed_depth, speed_per_level;
    char system_version[32]; /* whose system_ns is: "glibc 2.36" */
    /* lifetime.c: the record's size, and whether the heap block kept it */
    size_t record_bytes;
    bool record_outlived;
    /* grow_shrink.c: how much RSS grew at the peak, how much of it went back
       while the program slept, and after how long */
    size_t heap_peak_growth, heap_given_back;
    double heap_idle_ms;
    /* threads.c: of the blocks thread B freed for thread A, how many A's heap
       handed out again */
    int cross_thread_reused, cross_thread_blocks;
    /* first_class.c: one sh_heap_destroy of that many blocks, and freeing
       them one by one, in ms */
    double destroy_ms, free_each_ms;
    int first_class_blocks;
    /* check_mode.c: bytes check mode found definitely lost by the leak demo */
    size_t leak_bytes;
} tour_figures;

extern tour_figures tour_measured;

/* ---- stacks (tour.c) ------------------------------------------------------ */

/* s's counters now (all zero for a NULL stack). */
sh_stack_stats tour_stack_stats(const sh_stack *s);

/* A new stack with a name; NULL, with a message, if the OS refused. */
sh_stack *tour_new_stack(size_t capacity, const char *name);

/* Where s's data starts: a zero-byte allocation on an empty stack. */
uintptr_t tour_stack_base(sh_stack *s);

/* ---- the sections, in the order they run (tour.c lists them) ------------- */

int tour_create(void);       /* stack.c */
int tour_frames(void);       /* stack.c */
int tour_auto_release(void); /* stack.c */
int tour_high_water(void);   /* stack.c */
int tour_resize(void);       /* stack.c */
int tour_overflow(void);     /* overflow.c */
int tour_lifetime(void);     /* lifetime.c */
int tour_grow_shrink(void);  /* grow_shrink.c */
int tour_threads(void);      /* threads.c */
int tour_first_class(void);  /* first_class.c */
int tour_check_mode(void);   /* check_mode.c */
int tour_speed(void);        /* speed.c */
int tour_table(void);        /* table.c */

/* The number of section fn in the tour (its place in the list), 0 if none. */
int tour_section_number(int (*fn)(void));

/* ---- entry points of the command-line tool -------------------------------- */

/* `stackheap tour`: every section; returns the exit status (0, or 1). */
int tour_run(void);

/* `stackheap __demo NAME`: one of the small buggy programs that the check-mode
   section runs in a child, in check mode (check_mode.c).  Returns its exit
   status, 2 for an unknown name. */
int tour_demo(const char *name);

#endif /* SH_TOUR_H */

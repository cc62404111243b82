/*
 * profile.h -- what the heap profiler's recorder (profile.c) hands its
 * writers (profile_report.c's text and collapsed stacks, profile_html.c's
 * report)
 * at exit, and the buffered writer they all use.
 *
 * The report is built once, at exit, in memory mapped for it (never the
 * heap): every allocation site that allocated anything, its call stack as
 * indexes into one table of symbolised frame names (root first), and the
 * heap and RSS samples taken while the program ran.
 */
#ifndef SH_CHECK_PROFILE_H
#define SH_CHECK_PROFILE_H

#include "check_internal.h"

/* A buffered writer over write(2): no malloc, one static buffer each. */
typedef struct prof_writer {
    int fd;
    size_t n;
    char buf[16384];
} prof_writer;

void prof_put(prof_writer *w, const char *s, size_t n);
void prof_puts(prof_writer *w, const char *s);
void prof_printf(prof_writer *w, const char *fmt, ...) SH_PRINTF(2, 3);
/* s as the inside of a JSON string, safe inside <script> ("<" escaped). */
void prof_json_string(prof_writer *w, const char *s);
void prof_flush(prof_writer *w);

typedef struct prof_site_out {
    uint64_t peak;      /* bytes live at the heap's peak */
    uint64_t allocated; /* bytes allocated, ever */
    uint64_t calls;     /* allocations */
    uint64_t temporary; /* allocations freed before the thread's next allocation */
    uint64_t leaked;    /* bytes still live at exit */
    uint64_t leaked_blocks;
    uint32_t depth;
    uint32_t frame[CK_FRAMES]; /* indexes into prof_report.names, root first */
} prof_site_out;

typedef struct prof_sample {
    uint64_t ms;   /* since the profile started */
    uint64_t heap; /* bytes live */
    uint64_t rss;  /* resident bytes (/proc/self/statm) */
} prof_sample;

typedef struct prof_report {
    const char *mode;      /* "exact" or "sampled" */
    uint64_t sample_bytes; /* sampled: mean bytes between samples */
    prof_site_out *site;
    uint32_t sites;
    const char *const *name; /* "function (file:line)" per frame */
    uint32_t names;
    const prof_sample *sample;
    uint32_t samples;
    uint64_t peak, peak_rss, allocated, calls, temporary, leaked, leaked_blocks;
    uint64_t ms;      /* the run's length, to the at-exit report */
    uint64_t exit_ms; /* sh_now_ms() when the at-exit report began */
    const char *command;
} prof_report;

/* profile_report.c: memory for the report (from the OS; NULL if refused). */
void *prof_arena_take(size_t n);
/* The table of symbolised frames, for up to max distinct return addresses. */
bool prof_frames_init(uint32_t max);
/* The index of pc's frame in that table (0: "(no stack recorded)", or full). */
uint32_t prof_frame_of(void *pc);
/* Write PREFIX.{peak,alloc,leak}.collapsed, PREFIX.html and the summary on
   stderr; sets r's frame names from the table. */
void prof_write_files(prof_report *r, const char *prefix);

/* Write the self-contained HTML report to path; false if it cannot be created. */
bool prof_write_html(const prof_report *r, const char *path);

#endif /* SH_CHECK_PROFILE_H */

/*
 * harness.h -- what the side-by-side benchmark's two halves share: the suite,
 * the allocators, and every measurement of every run.
 *
 * harness.c runs the suite (bench/suite.txt) under each allocator and fills a
 * bench_cell per workload x allocator; harness_report.c turns the cells into
 * the text report, the CSV and the chart.  The harness is an ordinary program:
 * it uses the system's malloc and is never itself preloaded.
 *
 * Invariants, once harness.c's bench_summarise has run:
 *   - cell.ok == cell.runs - (runs that failed); cell.failed says whether any
 *     run failed (exit status, signal, timeout, preload error, checksum);
 *   - the medians of a cell are over its successful runs only, and are NaN
 *     when it has none; a failed cell is shown as FAILED, never as a number;
 *   - ratios are to the baseline allocator's median (mimalloc, else glibc),
 *     NaN when either side failed or there is no baseline.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum {
    BENCH_MAX_ALLOCS = 8,
    BENCH_MAX_WORKLOADS = 64,
    BENCH_MAX_RUNS = 99,
    BENCH_MAX_KEYS = 16, /* `report:` keys per workload */
    BENCH_KEY_LEN = 48,
    BENCH_SUM_LEN = 80, /* a checksum's text */
    BENCH_WHY_LEN = 320 /* the first failure of a cell, in words */
};

typedef struct {
    const char *name;
    const char *lib;     /* the LD_PRELOAD library; NULL: the system's (glibc) */
    const char *env;     /* one more NAME=value for its runs, or NULL */
    const char *wrapper; /* words run before the command (a tool), or NULL */
} bench_alloc;

typedef struct {
    int runs; /* runs attempted */
    int ok;   /* runs that succeeded */
    bool failed;
    bool timed_out; /* no further runs once a run timed out */
    char why[BENCH_WHY_LEN];
    double secs[BENCH_MAX_RUNS]; /* successful runs only */
    double rss_kib[BENCH_MAX_RUNS];
    double cpu_s[BENCH_MAX_RUNS];                  /* user + system time of the run's processes */
    char sum[BENCH_MAX_RUNS][BENCH_SUM_LEN];       /* "" when the run printed none */
    double report[BENCH_MAX_KEYS][BENCH_MAX_RUNS]; /* NaN when missing */
    /* filled by bench_summarise */
    double median_s, median_rss_kib, time_ratio, rss_ratio, median_cpu_s, cpu_ratio;
    double report_median[BENCH_MAX_KEYS];
} bench_cell;

typedef struct {
    char *name;
    char *desc;
    char *command; /* placeholders substituted */
    bool skipped;
    char skip_why[256];
    int nkeys;
    char keys[BENCH_MAX_KEYS][BENCH_KEY_LEN];
    char reference_sum[BENCH_SUM_LEN]; /* the checksum every allocator must print */
    bench_cell cell[BENCH_MAX_ALLOCS];
} bench_workload;

typedef struct {
    bool quick;
    int runs;
    double timeout_s;
    int nalloc;
    bench_alloc alloc[BENCH_MAX_ALLOCS];
    int baseline; /* index into alloc, or -1 */
    int nwork;
    bench_workload work[BENCH_MAX_WORKLOADS];
    const char *csv_path;
    const char *svg_path;
    bool use_gnuplot;
    const char *scratch; /* the harness's own temporary directory */
} bench_suite;

/* harness.c: what the harness's files share */
extern volatile sig_atomic_t bench_interrupted; /* SIGINT, SIGTERM or SIGHUP arrived */
void bench_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void bench_note(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* one line */
void *bench_xmalloc(size_t n);                                               /* or dies */
char *bench_xstrdup(const char *s);
double bench_now(void); /* CLOCK_MONOTONIC, in seconds */

/* harness_suite.c */

/* Is name in the comma-separated list? */
bool bench_in_list(const char *list, const char *name);

/* Does the command need a shell (anything but words separated by blanks)? */
bool bench_needs_shell(const char *command);

/* Read the suite at path into b->work, placeholders replaced, missing
   programs marked skipped; only (a comma list, or NULL) selects workloads.
   Dies on a malformed line or an unknown name in only. */
void bench_read_suite(bench_suite *b, const char *path, const char *bin, const char *src,
                      const char *tmp, const char *only);

/* harness_run.c */

typedef struct {
    char **env[BENCH_MAX_ALLOCS]; /* each allocator's child environment */
    sigset_t child_mask;          /* the signal mask the harness started with */
    sigset_t sigchld;             /* {SIGCHLD}, blocked in the harness */
} bench_runner;

/* Run workload w once under allocator a and record the run in its cell;
   returns early, recording nothing, when bench_interrupted is set. */
void bench_run_once(bench_suite *b, const bench_runner *r, bench_workload *w, int a);

/* After the last run: check every checksum, take medians and ratios. */
void bench_summarise(bench_suite *b);

/* harness_report.c */

/* The median of n values (n > 0); sorts v. */
double bench_median(double *v, int n);

/* What a table or a geometric mean is of. */
typedef enum { BENCH_WALL, BENCH_RSS, BENCH_CPU } bench_metric;

/* Geometric mean of the wall time (or peak RSS: rss) ratios of allocator a
   over the workloads where it and the baseline succeeded; *used gets their
   count. */
double bench_geomean(const bench_suite *b, int a, bool rss, int *used);

/* Print the report tables to out. */
void bench_print_report(const bench_suite *b, FILE *out);

/* Write the CSV; returns false (and says why on stderr) when it cannot. */
bool bench_write_csv(const bench_suite *b, const char *path);

/* Write the SVG chart, with gnuplot when b->use_gnuplot and it is installed,
   else drawn here; returns false (and says why on stderr) when it cannot. */
bool bench_write_svg(const bench_suite *b, const char *path);

#endif

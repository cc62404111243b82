/*
 * report.c -- check mode's options and output.
 *
 * Options (environment, read once when check mode starts; `stackheap run`
 * sets them from its command line):
 *   STACKHEAP_CHECK_LOG=FILE      reports go to FILE (appended) instead of stderr
 *   STACKHEAP_CHECK_EXITCODE=N    exit with N at the end if anything was found
 *   STACKHEAP_CHECK_ABORT=0       after a bad free, go on (the call is ignored)
 *                                 instead of aborting
 *   STACKHEAP_CHECK_REACHABLE=1   list still-reachable blocks too
 *   STACKHEAP_CHECK_QUARANTINE=S  bytes of freed blocks each thread holds back
 *                                 (default 16M, as Valgrind's 20 MB free list)
 *   STACKHEAP_STATS=1             print heap statistics at exit
 *   STACKHEAP_SUPPRESSIONS=FILE   leaks not to report (suppress.c)
 *   STACKHEAP_GEN_SUPPRESSIONS=1  print a suppression entry after each leak
 *   STACKHEAP_JSON=FILE, STACKHEAP_SARIF=FILE, STACKHEAP_SOURCE_ROOT=DIR
 *                                 the machine-readable reports (export.c)
 *
 * A report is written whole under one lock, in pieces of a line buffer, so
 * it needs no malloc and threads do not interleave.  Each finding goes
 * through ck_finding_*, which write the text report and hand the same
 * message, notes and frames to export.c.
 */
#define _GNU_SOURCE
#include "check_internal.h"

#include <stdlib.h>
#include <string.h>

ck_options ck_opt = {.abort_on_error = true, .quarantine = (size_t)16 << 20, .fd = 2};

/* recursive: a report may include another (a damaged guard found while
   printing the exit report) */
static pthread_mutex_t report_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static _Atomic size_t findings;

static bool flag(const char *name, bool dflt)
{
    const char *v = sh_env(name);
    if (v == NULL || *v == '\0')
        return dflt;
    return strcmp(v, "0") != 0 && strcmp(v, "no") != 0;
}

void ck_report_init(bool for_valgrind)
{
    ck_opt.valgrind = for_valgrind;
    ck_opt.abort_on_error = flag("STACKHEAP_CHECK_ABORT", true);
    ck_opt.show_reachable = flag("STACKHEAP_CHECK_REACHABLE", false);
    ck_opt.gen_suppressions = flag("STACKHEAP_GEN_SUPPRESSIONS", false);
    ck_opt.stats = flag("STACKHEAP_STATS", false);
    const char *code = sh_env("STACKHEAP_CHECK_EXITCODE");
    if (code != NULL && *code != '\0')
        ck_opt.error_exitcode = atoi(code);
    const char *q = sh_env("STACKHEAP_CHECK_QUARANTINE");
    size_t bytes;
    if (q != NULL && *q != '\0') {
        if (sh_parse_size(q, &bytes))
            ck_opt.quarantine = bytes;
        else
            sh_warning("STACKHEAP_CHECK_QUARANTINE='%s' is not a size; using 16M", q);
    }
    const char *log = sh_env("STACKHEAP_CHECK_LOG");
    if (log != NULL && *log != '\0') {
        int fd = sh_os_open_log(log);
        if (fd >= 0)
            ck_opt.fd = fd;
        else
            sh_warning("cannot open STACKHEAP_CHECK_LOG='%s'; reporting on stderr", log);
    }
    if (ck_opt.valgrind)
        return; /* memcheck reports: no suppressions or files of ours */
    ck_suppress_init();
    ck_export_init();
    atexit(ck_at_exit);
}

bool sh_check_mode(void)
{
    /* sh_checking() first: it sets ck_opt.valgrind when it starts the layer */
    return sh_checking() && !ck_opt.valgrind;
}

void ck_report_begin(void)
{
    sh_lock(&report_lock);
}

void ck_report_end(void)
{
    sh_unlock(&report_lock);
}

void ck_printf(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    size_t n = sh_vformat(line, sizeof line, fmt, ap);
    va_end(ap);
    sh_os_write(ck_opt.fd, line, n);
}

/* ---- findings ------------------------------------------------------------------ */

void ck_finding_begin(const ck_finding *f, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    sh_vformat(message, sizeof message, fmt, ap);
    va_end(ap);
    ck_report_begin();
    if (!f->quiet)
        ck_printf("stackheap: %s\n", message);
    ck_export_begin(f, message);
}

void ck_finding_note(const char *prefix, const char *fmt, ...)
{
    char note[1024];
    va_list ap;
    va_start(ap, fmt);
    sh_vformat(note, sizeof note, fmt, ap);
    va_end(ap);
    ck_printf("%s%s\n", prefix, note);
    ck_export_note(note);
}

void ck_finding_frames(const char *label, uint32_t trace)
{
    ck_export_stack_begin(label);
    ck_frame f;
    if (!ck_trace_frame(trace, 0, &f))
        ck_printf("    (no stack recorded)\n");
    for (uint32_t i = 0; ck_trace_frame(trace, i, &f); i++) {
        ck_frame_print(&f, i, "    ");
        ck_export_frame(&f);
    }
    ck_export_stack_end();
}

void ck_finding_stack(const char *label, uint32_t trace)
{
    ck_printf("  %s:\n", label);
    ck_finding_frames(label, trace);
}

void ck_finding_suppression(const char *entry)
{
    if (ck_opt.gen_suppressions) /* flush left: grep '^leak:' collects a file */
        ck_printf("  a suppression for it:\n%s\n", entry);
    ck_export_suppression(entry);
}

void ck_finding_end(void)
{
    ck_export_end();
    ck_report_end();
}

void ck_found(void)
{
    atomic_fetch_add_explicit(&findings, 1, memory_order_relaxed);
}

size_t ck_findings(void)
{
    return atomic_load_explicit(&findings, memory_order_relaxed);
}

void ck_after_error(void)
{
    if (!ck_opt.abort_on_error)
        return;
    ck_report_begin();
    ck_export_finish(CK_END_ERROR, NULL); /* the files end here too: no exit handler runs */
    ck_report_end();
    if (ck_opt.error_exitcode != 0) {
        ck_printf("stackheap: check: exiting with code %d (the error exit code asked for)\n",
                  ck_opt.error_exitcode);
        sh_os_exit(ck_opt.error_exitcode);
    }
    ck_printf("stackheap: check: aborting (STACKHEAP_CHECK_ABORT=0 goes on instead)\n");
    sh_os_abort();
}

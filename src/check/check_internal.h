/*
 * check_internal.h -- check mode (STACKHEAP_CHECK=1, `stackheap run --check`).
 *
 * In check mode the fast paths of malloc and free never succeed (the thread's
 * public heap stays sh_empty_heap and its fast-path id SH_NO_THREAD), so
 * every call reaches a slow path, which hands it here.  The heap underneath
 * is the ordinary one: this layer allocates "raw" blocks from the thread's
 * default heap (or a first-class heap) and lays each out as
 *
 *   raw ... [ ck_block header (48 B) | front guard (16 B) ][ user bytes ][ back guard ... ]
 *                                                           ^ user pointer
 *
 * with the header always CK_OFFSET bytes before the user pointer, so a
 * pointer is validated by reading the header there and comparing its magic
 * (which encodes the header's own address, size and guard length).  The
 * back guard runs towards the end of the raw block: at least CK_TAIL bytes,
 * at most 64.
 *
 * Files: block.c (the malloc family, guards, the quarantine, the walk over
 * live blocks), trace.c (call stacks: capture, dedup, symbols),
 * report.c (options, output, findings), leak.c (at exit: guards of live
 * blocks, quarantine, the leak scan and its report), suppress.c (the
 * suppressions file: leaks not to report), export.c (the JSON and SARIF
 * files: every finding, for other programs to read), document.c (a JSON
 * document kept whole in a file while it grows).
 *
 * A finding is written once, through report.c's ck_finding_* calls, which
 * give it to the text report and to export.c: the three outputs cannot
 * disagree.
 */
#ifndef SH_CHECK_INTERNAL_H
#define SH_CHECK_INTERNAL_H

#include "../heap/heap_internal.h"

#define CK_HEADER 48
#define CK_FRONT 16
#define CK_OFFSET (CK_HEADER + CK_FRONT) /* user - header */
#define CK_TAIL 16                       /* least back guard */
#define CK_FRONT_BYTE 0xFA
#define CK_BACK_BYTE 0xFB
#define CK_FREED_BYTE 0xFD

#define CK_MAGIC_LIVE 0x5A17B10C4C1E0001ull
#define CK_MAGIC_FREED 0x5A17B10C4C1E00FFull

typedef struct ck_block {
    uint64_t magic;       /* CK_MAGIC_* ^ seal(this): address, size, guard (block.c) */
    size_t size;          /* bytes asked for */
    struct sh_heap *heap; /* first-class heap it came from, or NULL */
    void *raw;            /* the heap block that holds it */
    uint32_t alloc_trace, free_trace;
    uint32_t guard; /* back guard bytes (to the raw block's end, at most GUARD_MAX) */
    uint32_t pad;
} ck_block;

_Static_assert(sizeof(ck_block) == CK_HEADER, "the check header is 48 bytes");

static inline ck_block *ck_header(const void *user)
{
    return (ck_block *)((uint8_t *)user - CK_OFFSET);
}

static inline uint8_t *ck_user(const ck_block *b)
{
    return (uint8_t *)b + CK_OFFSET;
}

/* ---- trace.c ---------------------------------------------------------------- */

#define CK_FRAMES 16
#define CK_TRACES (1u << 17) /* distinct stacks kept (more are recorded as id 0) */

typedef struct ck_trace {
    uint32_t hash, depth;
    void *pc[CK_FRAMES];
} ck_trace;

/* The call stack of the current call, deduplicated: an id (0: none).  ra is
   the return address into the program; fp the frame to walk from (NULL: the
   caller's). */
uint32_t ck_trace_capture(void *ra, void **fp);
const ck_trace *ck_trace_get(uint32_t id);
/* The highest id handed out so far (ids are 1, 2, ... in order). */
uint32_t ck_trace_last(void);
/* Where an address lies among the loaded objects: the object (its name as
   the loader has it, "" for the program; its load bias), the PT_LOAD segment
   that holds the address, and the object's writable segments. */
#define CK_PLACE_DATA 8
typedef struct ck_place {
    uintptr_t addr;
    const char *name;
    uintptr_t bias;
    uintptr_t lo, hi;
    unsigned flags; /* PF_R, PF_W, PF_X of that segment */
    uintptr_t data_lo[CK_PLACE_DATA], data_hi[CK_PLACE_DATA];
    unsigned ndata;
} ck_place;
/* False if no loaded object holds addr. */
bool ck_place_of(uintptr_t addr, ck_place *out);
/* The address ranges of the stack tables (the leak scan skips them). */
void ck_trace_tables(uintptr_t lo[2], uintptr_t hi[2]);
/* Print trace id, one frame a line, each line starting with indent. */
void ck_trace_print(uint32_t id, const char *indent);
/* The function and "file:line" of a return address pc (of the call before
   it), NUL-terminated; true if the line is known, else file holds
   "(object+0xoffset)" and fn may be "" (unknown).  May start addr2line. */
bool ck_trace_symbol(void *pc, char *fn, size_t fn_cap, char *file, size_t file_cap);
/* One frame of a stack, symbolised: "" and 0 where unknown. */
typedef struct ck_frame {
    void *pc;         /* the return address */
    uintptr_t offset; /* pc - the load bias of its object (pc if no object holds it) */
    unsigned line;
    char function[256];
    char file[512];
    char module[256]; /* the object's path (the program's from /proc/self/exe) */
} ck_frame;
/* Frame i of stack id, symbolised (answers are cached); false past its end.
   Caller holds the report lock. */
bool ck_trace_frame(uint32_t id, uint32_t i, ck_frame *out);
/* "#i 0x... in function file:line", or "(object+0xoffset)" without a line. */
void ck_frame_print(const ck_frame *f, unsigned i, const char *indent);
void ck_trace_init(void);
/* True if p is on the calling thread's stack. */
bool ck_on_this_stack(const void *p);
void ck_trace_lock_for_fork(int phase);

/* ---- report.c --------------------------------------------------------------- */

typedef struct ck_options {
    bool abort_on_error;   /* STACKHEAP_CHECK_ABORT (default 1) */
    bool show_reachable;   /* STACKHEAP_CHECK_REACHABLE */
    bool gen_suppressions; /* STACKHEAP_GEN_SUPPRESSIONS: a leak: entry after each leak */
    bool stats;            /* STACKHEAP_STATS */
    int error_exitcode;    /* STACKHEAP_CHECK_EXITCODE (0: keep the program's) */
    size_t quarantine;     /* STACKHEAP_CHECK_QUARANTINE bytes, shared by the threads (16 MiB) */
    int fd;                /* where reports go: 2 or STACKHEAP_CHECK_LOG */
    bool valgrind;         /* under memcheck, without STACKHEAP_CHECK: describe the blocks to it and
                              leave the finding to it */
} ck_options;

extern ck_options ck_opt;
void ck_report_init(bool for_valgrind);
/* Reports are written whole under one lock, so threads do not interleave. */
void ck_report_begin(void);
void ck_report_end(void);
void ck_printf(const char *fmt, ...) SH_PRINTF(1, 2);
/* What check mode finds; the names and descriptions are export.c's. */
typedef enum ck_kind {
    CK_DEFINITELY_LOST,
    CK_INDIRECTLY_LOST,
    CK_STILL_REACHABLE,
    CK_DOUBLE_FREE,
    CK_INVALID_FREE,
    CK_INVALID_POINTER,
    CK_USE_AFTER_FREE,
    CK_HEAP_OVERRUN,
    CK_HEAP_UNDERRUN,
    CK_OPEN_FRAME,
    CK_WRITE_AFTER_POP,
    CK_KINDS
} ck_kind;

typedef struct ck_finding {
    ck_kind kind;
    const void *address; /* the block, or the pointer, it is about (NULL: none) */
    size_t bytes;        /* the block's size; a leak's bytes */
    size_t blocks;       /* a leak's blocks (0 for other kinds) */
    bool quiet;          /* no "stackheap: MESSAGE" line in the text report (a
                            leak site, under its section's headline) */
} ck_finding;

/* The totals of one kind of leak: bytes and blocks. */
typedef struct ck_totals {
    size_t bytes, blocks;
} ck_totals;

/* A finding, in order: begin (takes the report lock; prints "stackheap:
   MESSAGE" unless quiet), then notes and stacks in the order the text
   report shows them, then end (releases the lock).  Each part goes to the
   text report and to the JSON and SARIF files. */
void ck_finding_begin(const ck_finding *f, const char *fmt, ...) SH_PRINTF(2, 3);
/* A line "PREFIX NOTE" of the text report; a detail in the files. */
void ck_finding_note(const char *prefix, const char *fmt, ...) SH_PRINTF(2, 3);
/* "  LABEL:" and the frames of trace, indented. */
void ck_finding_stack(const char *label, uint32_t trace);
/* The frames of trace only (the caller printed their label). */
void ck_finding_frames(const char *label, uint32_t trace);
/* A leak's suppression entry: printed with STACKHEAP_GEN_SUPPRESSIONS, in
   the JSON file always. */
void ck_finding_suppression(const char *entry);
void ck_finding_end(void);
/* Count one problem (an error, or a section of leaks). */
void ck_found(void);
size_t ck_findings(void);
/* After an error report: abort, exit with the error exit code, or go on. */
void ck_after_error(void);

/* ---- block.c ------------------------------------------------------------------ */

/* Every live block, for the scan (a walk of the heap's blocks). */
void ck_each_live(void (*f)(ck_block *, void *), void *arg);
/* Check b's guards; reports and returns false if one was overwritten. */
bool ck_check_guards(ck_block *b, const char *when);
/* Empty this thread's quarantine, checking each block (at exit). */
void ck_drain_quarantine(void);

/* ---- suppress.c ---------------------------------------------------------------- */

/* Read STACKHEAP_SUPPRESSIONS if set; a file that cannot be read, or a line
   that is not a suppression, is fatal (one line naming FILE:LINE). */
void ck_suppress_init(void);
bool ck_suppressing(void);
/* The rule (0, 1, ...) that suppresses a leak allocated at trace, or -1. */
int ck_suppress_match(uint32_t trace);
/* One block of bytes suppressed by rule. */
void ck_suppress_count(int rule, size_t bytes);
/* "stackheap: suppressed: N blocks, M bytes by K rules" and a line per rule
   that hit, if any did. */
void ck_suppress_report(void);
typedef struct ck_rule {
    const char *text; /* "leak:PATTERN" as written */
    const char *file;
    unsigned line;
    size_t blocks, bytes; /* suppressed by it */
} ck_rule;
/* Rule i; false past the last. */
bool ck_suppress_rule(size_t i, ck_rule *out);
/* A ready entry for a leak allocated at trace, from its first frame past
   the allocation functions: "leak:^function$", or "leak:/module$" when
   that frame has no name; false if there is no such frame. */
bool ck_suppress_entry(uint32_t trace, char *buf, size_t cap);
/* True if fn is an allocation function (malloc, strdup, operator new, ...):
   a suppression entry or a SARIF location names its caller instead. */
bool ck_allocates(const char *fn);
/* True if text (a function, file or module name) matches the pattern
   (LeakSanitizer's rules: a substring, * for any run of characters, ^ and $
   anchors); an empty text matches nothing. */
bool ck_suppress_pattern_matches(const char *pattern, const char *text);

/* ---- document.c ------------------------------------------------------------------ */

/* A JSON document kept whole in a file as it grows: a header, items, and a
   trailer written again after each item (document.c). */
typedef struct ck_doc {
    const char *what;                 /* "JSON", "SARIF": for warnings */
    const char *variable;             /* the variable that names the file */
    void (*header)(struct ck_doc *);  /* writes the opening part */
    void (*trailer)(struct ck_doc *); /* writes the closing part */
    char path[1024];                  /* as given ("%p" not replaced); "": none */
    bool per_process;                 /* "%p" in it: one file per process */
    int fd;                           /* -1: not written by this process */
    uint64_t dev, ino;                /* the file fd was opened on */
    long pid;                         /* the process that writes it */
    uint64_t body, at, end;           /* offsets: items' end, buf's place, the file's size */
    size_t len;
    char buf[16384];
} ck_doc;
/* Open d's file for path (what, variable and the callbacks set), emptied,
   with an empty document in it; false after a warning if it cannot be. */
bool ck_doc_open(ck_doc *d, const char *path);
/* True if this process writes d now: the one that opened it, while the file
   is as it left it, or a fork child with "%p", whose own file starts here. */
bool ck_doc_ready(ck_doc *d);
/* The items so far are whole: write the trailer after them. */
void ck_doc_commit(ck_doc *d);
/* Append s[0..n) to buf (capacity cap, *len used), calling flush_full(sink)
   whenever it is full (which must empty it): the buffering of ck_doc and of
   the profiler's writer. */
void ck_buffer_put(char *buf, size_t cap, size_t *len, const char *s, size_t n,
                   void (*flush_full)(void *sink), void *sink);
/* s as the inside of a JSON string, to put(sink, bytes, n): '"', '\\' and
   control characters escaped, bytes that are not UTF-8 as U+FFFD; for_html:
   '<', '>' and '&' escaped too (safe inside an HTML <script>). */
void ck_json_escape(const char *s, bool for_html, void (*put)(void *sink, const char *, size_t),
                    void *sink);
void ck_doc_raw(ck_doc *d, const char *s, size_t n);
void ck_doc_put(ck_doc *d, const char *s);
void ck_doc_fmt(ck_doc *d, const char *fmt, ...) SH_PRINTF(2, 3);
/* s as a JSON string, quotes included: escaped, bytes that are not UTF-8
   as U+FFFD. */
void ck_doc_string(ck_doc *d, const char *s);

/* ---- export.c -------------------------------------------------------------------- */

/* Open STACKHEAP_JSON and STACKHEAP_SARIF if set; each holds a valid
   document from then on. */
void ck_export_init(void);
/* The parts of a finding, as report.c's ck_finding_* pass them on. */
void ck_export_begin(const ck_finding *f, const char *message);
void ck_export_note(const char *note);
void ck_export_stack_begin(const char *label);
void ck_export_frame(const ck_frame *f);
void ck_export_stack_end(void);
void ck_export_suppression(const char *entry);
void ck_export_end(void);
/* How the process ends.  leaks: definitely lost, indirectly lost, still
   reachable (NULL: no leak check ran). */
enum { CK_END_EXIT, CK_END_ERROR };
void ck_export_finish(int how, const ck_totals *leaks);

/* ---- leak.c ------------------------------------------------------------------ */

void ck_at_exit(void);

/* ck_busy, the thread's depth inside the check layer: heap_internal.h. */

#endif /* SH_CHECK_INTERNAL_H */

/*
 * export.c -- the machine-readable reports: every finding of check mode,
 * as JSON (STACKHEAP_JSON=FILE; the schema is docs/REPORTS.md) and as
 * SARIF 2.1.0 (STACKHEAP_SARIF=FILE, for code-scanning tools such as
 * GitHub's), beside the text report.
 *
 * Each file is opened (emptied) when check mode starts and holds a complete,
 * valid document from then on: a finding is appended when it is reported,
 * then the document's closing part (its "trailer": totals, and the state of
 * the process) is written after it, and the next finding is written over
 * that trailer.  So a program that aborts at a double free, or dies of a
 * signal, still leaves a document that parses, with every finding reported
 * before it ended; "state" says how far it got.  A trailer shorter than the
 * one it replaces is padded with spaces (whitespace after a JSON value is
 * allowed).
 *
 * The process that opened a file writes it.  A fork child writes no finding
 * into its parent's file; with "%p" in the path (replaced by the process id)
 * it starts a file of its own at its first finding or at its exit.  Before
 * each finding and each trailer the file is checked to be as this process
 * left it (the same file, the same size): a program started under check
 * mode with the same path empties it and writes its own report there, and a
 * program that closes every descriptor may get ours back for a file of its
 * own; either way this process leaves the file alone from then on (with a
 * warning).
 *
 * Nothing here allocates: each document is written through its own 16 KiB
 * buffer with positioned writes (sh_os_write_at), strings escaped on the
 * way (JSON's escapes; bytes that are not UTF-8 become U+FFFD).  Every call
 * is made under the report lock (report.c), which keeps findings whole.
 *
 * Invariants: for an open document, body <= at; the bytes of the file
 * before `body` are the header and the findings written so far, and after
 * it comes a trailer (then spaces up to `end`); `in_finding` is true only
 * between ck_export_begin and ck_export_end.
 */
#define _GNU_SOURCE
#include "check_internal.h"

#include <stdarg.h>
#include <string.h>

#define SARIF_SCHEMA                                                                               \
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
#define NOTES 8

/* The kinds, as both files name them (docs/REPORTS.md lists them). */
static const struct kind_info {
    const char *id;    /* JSON "kind", SARIF ruleId */
    const char *name;  /* SARIF rule name */
    const char *level; /* SARIF level */
    const char *text;  /* SARIF short description */
} kinds[CK_KINDS] = {
    [CK_DEFINITELY_LOST] = {"definitely_lost", "DefinitelyLost", "error",
                            "Memory leak: a heap block no pointer reaches at exit"},
    [CK_INDIRECTLY_LOST] = {"indirectly_lost", "IndirectlyLost", "warning",
                            "Memory leak: a heap block only lost blocks point to"},
    [CK_STILL_REACHABLE] = {"still_reachable", "StillReachable", "note",
                            "A heap block still reachable at exit, never freed"},
    [CK_DOUBLE_FREE] = {"double_free", "DoubleFree", "error",
                        "Double free: a block freed a second time"},
    [CK_INVALID_FREE] = {"invalid_free", "InvalidFree", "error",
                         "Invalid free: a pointer that is not a live heap block"},
    [CK_INVALID_POINTER] = {"invalid_pointer", "InvalidPointer", "error",
                            "A pointer that is not a heap block, given to malloc_usable_size"},
    [CK_USE_AFTER_FREE] = {"use_after_free", "UseAfterFree", "error",
                           "Use after free: a freed block written to, or passed on"},
    [CK_HEAP_OVERRUN] = {"heap_overrun", "HeapOverrun", "error",
                         "Heap overrun: bytes written past the end of a block"},
    [CK_HEAP_UNDERRUN] = {"heap_underrun", "HeapUnderrun", "error",
                          "Heap underrun: bytes written before the start of a block"},
    [CK_OPEN_FRAME] = {"open_frame", "OpenFrame", "warning",
                       "A stack frame still open when its thread exited (a push without its pop)"},
    [CK_WRITE_AFTER_POP] = {"write_after_pop", "WriteAfterPop", "error",
                            "Stack memory written after its frame was popped"},
};

typedef struct doc {
    bool sarif;
    bool asked;              /* its variable was set */
    bool per_process;        /* "%p" in the path */
    char path[1024];         /* as given, "%p" not replaced */
    int fd;                  /* -1: not written by this process */
    uint64_t dev, ino;       /* the file fd was opened on */
    long pid;                /* the process that writes it */
    bool in_finding;         /* between begin and end, and this finding is written */
    uint64_t body;           /* file offset where the findings end and the trailer starts */
    uint64_t at;             /* file offset where buf goes */
    uint64_t end;            /* bytes in the file */
    unsigned findings;       /* written */
    unsigned stacks, frames; /* of the finding (and its stack) being written */
    /* SARIF: the result's location, the best frame for it so far (rank) */
    int located;
    char loc_file[512];
    unsigned loc_line;
    char first_module[256];
    size_t len;
    char buf[16384];
} doc;

static struct {
    doc docs[2];     /* JSON, SARIF */
    char root[1024]; /* SARIF's %SRCROOT%: absolute, ending in '/' */
    char program[512];
    int state; /* 0 running, 1 + CK_END_* once finished */
    ck_totals leaks[3];
    bool leak_check;
    /* the finding being written: what both files put after its stacks */
    ck_finding finding;
    char notes[NOTES][256];
    unsigned nnotes;
    char suppression[300];
} ex;

/* ---- writing ------------------------------------------------------------------------ */

static void give_up(doc *d)
{
    sh_warning("cannot write the %s report '%s': it stops here", d->sarif ? "SARIF" : "JSON",
               d->path);
    uint64_t dev, ino, size;
    if (sh_os_file_identity(d->fd, &dev, &ino, &size) && dev == d->dev && ino == d->ino)
        sh_os_close(d->fd); /* (a descriptor the program reused is not ours to close) */
    d->fd = -1;
    d->in_finding = false;
}

static void flush(doc *d)
{
    if (d->fd < 0)
        d->len = 0; /* given up: what is put is dropped */
    if (d->len == 0)
        return;
    if (!sh_os_write_at(d->fd, d->buf, d->len, d->at)) {
        d->len = 0;
        give_up(d);
        return;
    }
    d->at += d->len;
    d->len = 0;
}

static void put_raw(doc *d, const char *s, size_t n)
{
    while (n > 0) {
        if (d->len == sizeof d->buf)
            flush(d);
        size_t k = sizeof d->buf - d->len < n ? sizeof d->buf - d->len : n;
        memcpy(d->buf + d->len, s, k);
        d->len += k;
        s += k;
        n -= k;
    }
}

static void put(doc *d, const char *s)
{
    put_raw(d, s, strlen(s));
}

static void put_fmt(doc *d, const char *fmt, ...) SH_PRINTF(2, 3);
static void put_fmt(doc *d, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    size_t n = sh_vformat(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put_raw(d, tmp, n);
}

/* Length of the UTF-8 sequence at s (1 to 4), or 0 if it is not one. */
static size_t utf8_length(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n = c < 0x80             ? 1
               : (c & 0xE0) == 0xC0 ? 2
               : (c & 0xF0) == 0xE0 ? 3
               : (c & 0xF8) == 0xF0 ? 4
                                    : 0;
    if (n == 0 || (n == 2 && c < 0xC2) || (n == 4 && c > 0xF4))
        return 0; /* a continuation byte, an overlong start, or past U+10FFFF */
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if (n == 3) {
        unsigned cp = (c & 0x0F) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu);
        if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0; /* overlong, or a surrogate */
    }
    if (n == 4) {
        unsigned cp = (c & 0x07) << 18 | (s[1] & 0x3Fu) << 12;
        if (cp < 0x10000 || cp > 0x10FFFF)
            return 0;
    }
    return n;
}

/* s as a JSON string, quotes included. */
static void put_string(doc *d, const char *s)
{
    put_raw(d, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            put_raw(d, esc, 2);
            p++;
        } else if (c < 0x20) {
            const char *named = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
            if (named != NULL)
                put(d, named);
            else
                put_fmt(d, "\\u00%c%c", "0123456789abcdef"[c >> 4], "0123456789abcdef"[c & 15]);
            p++;
        } else {
            size_t n = utf8_length(p);
            if (n == 0) {
                put(d, "\\ufffd");
                p++;
            } else {
                put_raw(d, (const char *)p, n);
                p += n;
            }
        }
    }
    put_raw(d, "\"", 1);
}

/* ---- paths for SARIF ------------------------------------------------------------------- */

/* Copy path to out without "." segments or empty ones, a ".." taking off
   the segment before it (lexically, as a URI's path is resolved; a relative
   path keeps the ".." it starts with). */
static void normalise(const char *path, char *out, size_t cap)
{
    size_t n = 0, floor = 0; /* out[0..floor) is never taken off: the root's '/' */
    if (path[0] == '/' && cap > 1)
        out[n++] = '/', floor = 1;
    for (const char *s = path; *s != '\0';) {
        while (*s == '/')
            s++;
        const char *e = s;
        while (*e != '\0' && *e != '/')
            e++;
        size_t len = (size_t)(e - s);
        bool dots = len == 2 && s[0] == '.' && s[1] == '.';
        bool last_is_dots = n >= floor + 2 && out[n - 1] == '.' && out[n - 2] == '.' &&
                            (n == floor + 2 || out[n - 3] == '/');
        if (len == 0 || (len == 1 && s[0] == '.')) {
            /* nothing to add */
        } else if (dots && n > floor && !last_is_dots) {
            while (n > floor && out[n - 1] != '/')
                n--;
            if (n > floor)
                n--; /* the slash before the segment */
        } else {
            if (n > floor && n + 1 < cap)
                out[n++] = '/';
            for (size_t i = 0; i < len && n + 1 < cap; i++)
                out[n++] = s[i];
        }
        s = e;
    }
    out[n] = '\0';
}

/* The bytes of path, percent-encoded where a URI path may not hold them. */
static void put_uri_path(doc *d, const char *path)
{
    for (const unsigned char *p = (const unsigned char *)path; *p != '\0'; p++) {
        unsigned c = *p;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
        if (plain)
            put_raw(d, (const char *)p, 1);
        else
            put_fmt(d, "%%%c%c", "0123456789ABCDEF"[c >> 4], "0123456789ABCDEF"[c & 15]);
    }
}

/* An artifactLocation for file: relative to %SRCROOT% when it lies under
   the source root (or is relative itself), else an absolute file: URI. */
static void put_artifact(doc *d, const char *file)
{
    char norm[1024];
    normalise(file, norm, sizeof norm);
    size_t root_len = strlen(ex.root);
    put(d, "\"artifactLocation\":{\"uri\":\"");
    if (norm[0] != '/') {
        put_uri_path(d, norm);
        put(d, "\",\"uriBaseId\":\"%SRCROOT%\"}");
    } else if (root_len > 0 && strncmp(norm, ex.root, root_len) == 0) {
        put_uri_path(d, norm + root_len);
        put(d, "\",\"uriBaseId\":\"%SRCROOT%\"}");
    } else {
        put(d, "file://");
        put_uri_path(d, norm);
        put(d, "\"}");
    }
}

/* ---- the documents ------------------------------------------------------------------- */

static void put_rules(doc *d)
{
    put(d, "\"rules\":[");
    for (int k = 0; k < CK_KINDS; k++) {
        put(d, k > 0 ? ",{\"id\":" : "{\"id\":");
        put_string(d, kinds[k].id);
        put(d, ",\"name\":");
        put_string(d, kinds[k].name);
        put(d, ",\"shortDescription\":{\"text\":");
        put_string(d, kinds[k].text);
        put(d, "},\"defaultConfiguration\":{\"level\":");
        put_string(d, kinds[k].level);
        put(d, "}}");
    }
    put(d, "]");
}

static void put_argv(doc *d)
{
    static char cmdline[16384];
    size_t n = sh_os_read_file("/proc/self/cmdline", cmdline, sizeof cmdline - 1);
    cmdline[n] = '\0';
    put(d, "[");
    for (size_t i = 0; i < n; i += strlen(cmdline + i) + 1) {
        if (i > 0)
            put(d, ",");
        put_string(d, cmdline + i);
    }
    put(d, "]");
}

static void put_header(doc *d)
{
    if (d->sarif) {
        put(d, "{\"$schema\":\"" SARIF_SCHEMA "\",\"version\":\"2.1.0\",\"runs\":[{\"tool\":{"
               "\"driver\":{\"name\":\"stackheap\",\"version\":\"" SH_VERSION_STRING "\",");
        put_rules(d);
        put(d, "}},\"originalUriBaseIds\":{\"%SRCROOT%\":{\"uri\":\"file://");
        put_uri_path(d, ex.root);
        put(d, "\"}},\"results\":[");
    } else {
        put(d, "{\"format\":\"stackheap-check-report\",\"version\":1,\"tool\":{\"name\":"
               "\"stackheap\",\"version\":\"" SH_VERSION_STRING "\"},");
        put_fmt(d, "\"pid\":%ld,\"program\":", d->pid);
        put_string(d, ex.program);
        put(d, ",\"argv\":");
        put_argv(d);
        put(d, ",\"findings\":[");
    }
}

static const char *state_name(void)
{
    return ex.state == 0 ? "running" : ex.state == 1 + CK_END_EXIT ? "exited" : "stopped_at_error";
}

static void put_totals(doc *d, const char *name, const ck_totals *t)
{
    put_fmt(d, "\"%s\":{\"bytes\":%zu,\"blocks\":%zu}", name, t->bytes, t->blocks);
}

/* The suppressions object: totals and every rule, hit or not. */
static void put_suppressed(doc *d)
{
    ck_rule r;
    size_t blocks = 0, bytes = 0;
    for (size_t i = 0; ck_suppress_rule(i, &r); i++) {
        blocks += r.blocks;
        bytes += r.bytes;
    }
    put_fmt(d, "\"suppressed\":{\"blocks\":%zu,\"bytes\":%zu,\"rules\":[", blocks, bytes);
    for (size_t i = 0; ck_suppress_rule(i, &r); i++) {
        put(d, i > 0 ? ",{\"rule\":" : "{\"rule\":");
        put_string(d, r.text);
        put(d, ",\"file\":");
        put_string(d, r.file);
        put_fmt(d, ",\"line\":%u,\"blocks\":%zu,\"bytes\":%zu}", r.line, r.blocks, r.bytes);
    }
    put(d, "]}");
}

static void put_trailer(doc *d)
{
    put(d, d->sarif ? "],\"properties\":{" : "],");
    put(d, "\"state\":");
    put_string(d, state_name());
    put_fmt(d, ",\"problems\":%zu,\"leak_check\":", ck_findings());
    if (ex.leak_check) {
        put(d, "{");
        put_totals(d, "definitely_lost", &ex.leaks[0]);
        put(d, ",");
        put_totals(d, "indirectly_lost", &ex.leaks[1]);
        put(d, ",");
        put_totals(d, "still_reachable", &ex.leaks[2]);
        put(d, "}");
    } else {
        put(d, "null");
    }
    put(d, ",");
    put_suppressed(d);
    put(d, d->sarif ? "}}]}\n" : "}\n");
}

/* False, after a warning, if d's file is no longer as this process left it
   (the top of this file); d is then not written again. */
static bool still_ours(doc *d)
{
    uint64_t dev, ino, size;
    if (d->fd < 0)
        return false;
    bool same_file =
        sh_os_file_identity(d->fd, &dev, &ino, &size) && dev == d->dev && ino == d->ino;
    if (same_file && size == d->end)
        return true;
    if (same_file) {
        sh_warning("the %s report '%s' was rewritten by another process: this one (%ld) stops "
                   "writing it (%%p in its name gives each process its own)",
                   d->sarif ? "SARIF" : "JSON", d->path, d->pid);
        sh_os_close(d->fd);
    } else { /* the descriptor is the program's now: not ours to close */
        sh_warning("the %s report '%s' lost its descriptor (the program closed it): it stops "
                   "here",
                   d->sarif ? "SARIF" : "JSON", d->path);
    }
    d->fd = -1;
    d->len = 0;
    d->in_finding = false;
    return false;
}

/* The findings so far are complete: write the trailer after them, so the
   file is a whole document again. */
static void commit(doc *d)
{
    flush(d);
    if (d->fd < 0)
        return;
    d->body = d->at;
    put_trailer(d);
    flush(d);
    char spaces[64];
    memset(spaces, ' ', sizeof spaces);
    while (d->fd >= 0 && d->at < d->end) { /* the old trailer was longer */
        size_t n = d->end - d->at < sizeof spaces ? (size_t)(d->end - d->at) : sizeof spaces;
        put_raw(d, spaces, n);
        flush(d);
    }
    if (d->at > d->end)
        d->end = d->at;
    d->at = d->body;
}

/* Open the file for this process and write an empty document into it. */
static void start(doc *d)
{
    char path[1100];
    size_t n = 0;
    for (const char *s = d->path; *s != '\0' && n + 24 < sizeof path; s++) {
        if (s[0] == '%' && s[1] == 'p') {
            n += sh_format(path + n, sizeof path - n, "%ld", d->pid);
            s++;
        } else {
            path[n++] = *s;
        }
    }
    path[n] = '\0';
    d->fd = sh_os_open_report(path);
    uint64_t size;
    if (d->fd >= 0 && !sh_os_file_identity(d->fd, &d->dev, &d->ino, &size)) {
        sh_os_close(d->fd);
        d->fd = -1;
    }
    d->body = d->at = d->end = 0;
    d->len = 0;
    d->findings = 0;
    d->in_finding = false;
    if (d->fd < 0) {
        sh_warning("cannot open '%s' for the %s report (%s): none is written", path,
                   d->sarif ? "SARIF" : "JSON", d->sarif ? "STACKHEAP_SARIF" : "STACKHEAP_JSON");
        return;
    }
    put_header(d);
    commit(d);
}

/* True if this process writes d: the one that opened it, or (with "%p") a
   fork child, which starts its own file here. */
static bool ready(doc *d)
{
    if (!d->asked)
        return false;
    long pid = sh_os_process_id();
    if (pid == d->pid)
        return still_ours(d);
    sh_os_close(d->fd); /* the parent's: not this process's to write */
    d->fd = -1;
    d->pid = pid;
    if (d->per_process)
        start(d);
    return d->fd >= 0;
}

static void setup(doc *d, const char *var, bool sarif)
{
    const char *path = sh_env(var);
    d->fd = -1;
    d->sarif = sarif;
    if (path == NULL || *path == '\0')
        return;
    if (strlen(path) >= sizeof d->path) {
        sh_warning("%s is longer than %zu bytes: no %s report", var, sizeof d->path - 1,
                   sarif ? "SARIF" : "JSON");
        return;
    }
    sh_format(d->path, sizeof d->path, "%s", path);
    d->asked = true;
    d->per_process = strstr(path, "%p") != NULL;
    d->pid = sh_os_process_id();
    start(d);
}

void ck_export_init(void)
{
    size_t n = sh_os_read_link("/proc/self/exe", ex.program, sizeof ex.program - 1);
    ex.program[n] = '\0';
    char cwd[1024] = "/", given[1024];
    if (!sh_os_cwd(cwd, sizeof cwd))
        sh_format(cwd, sizeof cwd, "/");
    const char *root = sh_env("STACKHEAP_SOURCE_ROOT");
    if (root == NULL || *root == '\0')
        sh_format(given, sizeof given, "%s", cwd);
    else if (root[0] == '/')
        sh_format(given, sizeof given, "%s", root);
    else
        sh_format(given, sizeof given, "%s/%s", cwd, root);
    normalise(given, ex.root, sizeof ex.root - 1);
    size_t len = strlen(ex.root);
    if (len == 0 || ex.root[len - 1] != '/') { /* a directory: its URI ends in '/' */
        ex.root[len] = '/';
        ex.root[len + 1] = '\0';
    }
    setup(&ex.docs[0], "STACKHEAP_JSON", false);
    setup(&ex.docs[1], "STACKHEAP_SARIF", true);
}

/* ---- findings ---------------------------------------------------------------------- */

void ck_export_begin(const ck_finding *f, const char *message)
{
    ex.finding = *f;
    ex.nnotes = 0;
    ex.suppression[0] = '\0';
    for (int i = 0; i < 2; i++) {
        doc *d = &ex.docs[i];
        d->in_finding = ready(d);
        if (!d->in_finding)
            continue;
        d->stacks = 0;
        d->located = 0;
        d->first_module[0] = '\0';
        put(d, d->findings++ > 0 ? "," : "");
        if (d->sarif) {
            put(d, "{\"ruleId\":");
            put_string(d, kinds[f->kind].id);
            put_fmt(d, ",\"ruleIndex\":%d,\"level\":", (int)f->kind);
            put_string(d, kinds[f->kind].level);
            put(d, ",\"message\":{\"text\":");
            put_string(d, message);
            put(d, "},\"stacks\":[");
        } else {
            put(d, "{\"kind\":");
            put_string(d, kinds[f->kind].id);
            put(d, ",\"message\":");
            put_string(d, message);
            if (f->address != NULL)
                put_fmt(d, ",\"address\":\"%p\"", f->address);
            put_fmt(d, ",\"bytes\":%zu", f->bytes);
            if (f->kind <= CK_STILL_REACHABLE)
                put_fmt(d, ",\"blocks\":%zu", f->blocks);
            put(d, ",\"stacks\":[");
        }
    }
}

void ck_export_note(const char *note)
{
    if (ex.nnotes < NOTES)
        sh_format(ex.notes[ex.nnotes++], sizeof ex.notes[0], "%s", note);
}

void ck_export_suppression(const char *entry)
{
    sh_format(ex.suppression, sizeof ex.suppression, "%s", entry);
}

void ck_export_stack_begin(const char *label)
{
    for (int i = 0; i < 2; i++) {
        doc *d = &ex.docs[i];
        if (!d->in_finding)
            continue;
        d->frames = 0;
        put(d, d->stacks++ > 0 ? "," : "");
        put(d, d->sarif ? "{\"message\":{\"text\":" : "{\"label\":");
        put_string(d, label);
        put(d, d->sarif ? "},\"frames\":[" : ",\"frames\":[");
    }
}

static void put_json_frame(doc *d, const ck_frame *f)
{
    put_fmt(d, "{\"address\":\"%p\"", f->pc);
    if (f->module[0] != '\0') {
        put(d, ",\"module\":");
        put_string(d, f->module);
        put_fmt(d, ",\"offset\":\"0x%zx\"", (size_t)f->offset);
    }
    if (f->function[0] != '\0') {
        put(d, ",\"function\":");
        put_string(d, f->function);
    }
    if (f->file[0] != '\0') {
        put(d, ",\"file\":");
        put_string(d, f->file);
    }
    if (f->line != 0)
        put_fmt(d, ",\"line\":%u", f->line);
    put(d, "}");
}

/* How well frame i of a stack serves as its result's location: 3 for a
   source line under the source root, 2 for one in the program itself, 1
   for one in a library when it is the stack's innermost frame (the bug's
   call is in that library), 0 otherwise: no line, a library's line deeper
   down (the C library's start code is no place for a leak), or an
   allocation function (strdup: the bug is where the program called it).
   The first frame of the best rank is taken. */
static int location_rank(const ck_frame *f, unsigned i)
{
    if (f->file[0] == '\0' || f->line == 0 || ck_allocates(f->function))
        return 0;
    char norm[1024];
    normalise(f->file, norm, sizeof norm);
    if (norm[0] == '/' && strncmp(norm, ex.root, strlen(ex.root)) == 0)
        return 3;
    if (strcmp(f->module, ex.program) == 0)
        return 2;
    return i == 0 ? 1 : 0;
}

static void put_sarif_frame(doc *d, const ck_frame *f, unsigned i)
{
    put(d, "{\"location\":{\"physicalLocation\":{");
    if (f->file[0] != '\0') {
        put_artifact(d, f->file);
        if (f->line != 0)
            put_fmt(d, ",\"region\":{\"startLine\":%u}", f->line);
        put(d, ",");
    }
    put_fmt(d, "\"address\":{\"absoluteAddress\":%zu}}", (size_t)(uintptr_t)f->pc);
    if (f->function[0] != '\0') {
        put(d, ",\"logicalLocations\":[{\"fullyQualifiedName\":");
        put_string(d, f->function);
        put(d, ",\"kind\":\"function\"}]");
    }
    put(d, "}");
    if (f->module[0] != '\0') {
        put(d, ",\"module\":");
        put_string(d, f->module);
    }
    put(d, "}");
    int rank = location_rank(f, i);
    if (rank > d->located) {
        d->located = rank;
        sh_format(d->loc_file, sizeof d->loc_file, "%s", f->file);
        d->loc_line = f->line;
    }
    if (d->first_module[0] == '\0')
        sh_format(d->first_module, sizeof d->first_module, "%s", f->module);
}

void ck_export_frame(const ck_frame *f)
{
    for (int i = 0; i < 2; i++) {
        doc *d = &ex.docs[i];
        if (!d->in_finding)
            continue;
        put(d, d->frames > 0 ? "," : "");
        if (d->sarif)
            put_sarif_frame(d, f, d->frames);
        else
            put_json_frame(d, f);
        d->frames++;
    }
}

void ck_export_stack_end(void)
{
    for (int i = 0; i < 2; i++)
        if (ex.docs[i].in_finding)
            put(&ex.docs[i], "]}");
}

static void put_notes(doc *d)
{
    put(d, ",\"details\":[");
    for (unsigned i = 0; i < ex.nnotes; i++) {
        put(d, i > 0 ? "," : "");
        put_string(d, ex.notes[i]);
    }
    put(d, "]");
}

/* SARIF: every result has a location; without a source line, the module of
   its first frame (or the program) stands for it. */
static void put_sarif_location(doc *d)
{
    put(d, ",\"locations\":[{\"physicalLocation\":{");
    if (d->located) {
        put_artifact(d, d->loc_file);
        put_fmt(d, ",\"region\":{\"startLine\":%u}", d->loc_line);
    } else {
        put_artifact(d, d->first_module[0] != '\0' ? d->first_module : ex.program);
    }
    put(d, "}}]");
}

void ck_export_end(void)
{
    const ck_finding *f = &ex.finding;
    for (int i = 0; i < 2; i++) {
        doc *d = &ex.docs[i];
        if (!d->in_finding)
            continue;
        put(d, "]");
        if (d->sarif) {
            put_sarif_location(d);
            put_fmt(d, ",\"properties\":{\"bytes\":%zu", f->bytes);
            if (f->kind <= CK_STILL_REACHABLE)
                put_fmt(d, ",\"blocks\":%zu", f->blocks);
            if (f->address != NULL)
                put_fmt(d, ",\"address\":\"%p\"", f->address);
            if (ex.nnotes > 0)
                put_notes(d);
            put(d, "}}");
        } else {
            if (ex.nnotes > 0)
                put_notes(d);
            if (ex.suppression[0] != '\0') {
                put(d, ",\"suppression\":");
                put_string(d, ex.suppression);
            }
            put(d, "}");
        }
        d->in_finding = false;
        commit(d);
    }
}

void ck_export_finish(int how, const ck_totals *leaks)
{
    ex.state = 1 + how;
    if (leaks != NULL) { /* an error after the exit report keeps its totals */
        ex.leak_check = true;
        memcpy(ex.leaks, leaks, sizeof ex.leaks);
    }
    for (int i = 0; i < 2; i++)
        if (ready(&ex.docs[i])) /* a fork child with "%p" starts its file now */
            commit(&ex.docs[i]);
}

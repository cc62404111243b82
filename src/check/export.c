/*
 * export.c -- the machine-readable reports: every finding of check mode,
 * as JSON (STACKHEAP_JSON=FILE; the schema is docs/REPORTS.md) and as
 * SARIF 2.1.0 (STACKHEAP_SARIF=FILE, for code-scanning tools such as
 * GitHub's), beside the text report.
 *
 * report.c hands each finding over in parts (begin, notes, stacks and their
 * frames, a suppression entry, end), the same parts the text report shows;
 * this file gives them the shape of each format.  The files themselves are
 * document.c's: each is a whole document from the start, a finding is
 * committed when it ends, and the closing part written after it holds the
 * state of the process and the totals, so a program that aborts at a double
 * free, or dies of a signal, leaves documents that parse, with "state"
 * saying how far it got.
 *
 * Invariants: `in_finding` is true only between ck_export_begin and
 * ck_export_end, for a document this process writes; `findings` counts the
 * results of the document being written (reset by its header, as a fork
 * child with "%p" starts a new one).
 */
#define _GNU_SOURCE
#include "check_internal.h"

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

/* One report: its document, and where a finding being written is in it. */
typedef struct out {
    ck_doc doc; /* first: document.c's callbacks get &out->doc */
    bool sarif;
    bool in_finding;         /* between begin and end, and this document is written */
    unsigned findings;       /* written */
    unsigned stacks, frames; /* of the finding (and its stack) being written */
    /* SARIF: the result's location, the best frame for it so far (rank) */
    int located;
    char loc_file[512];
    unsigned loc_line;
    char first_module[256];
} out;

static struct {
    out outs[2];     /* JSON, SARIF */
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
static void put_uri_path(ck_doc *d, const char *path)
{
    for (const unsigned char *p = (const unsigned char *)path; *p != '\0'; p++) {
        unsigned c = *p;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
        if (plain)
            ck_doc_raw(d, (const char *)p, 1);
        else
            ck_doc_fmt(d, "%%%c%c", "0123456789ABCDEF"[c >> 4], "0123456789ABCDEF"[c & 15]);
    }
}

/* An artifactLocation for file: relative to %SRCROOT% when it lies under
   the source root (or is relative itself), else an absolute file: URI. */
static void put_artifact(ck_doc *d, const char *file)
{
    char norm[1024];
    normalise(file, norm, sizeof norm);
    size_t root_len = strlen(ex.root);
    ck_doc_put(d, "\"artifactLocation\":{\"uri\":\"");
    if (norm[0] != '/') {
        put_uri_path(d, norm);
        ck_doc_put(d, "\",\"uriBaseId\":\"%SRCROOT%\"}");
    } else if (root_len > 0 && strncmp(norm, ex.root, root_len) == 0) {
        put_uri_path(d, norm + root_len);
        ck_doc_put(d, "\",\"uriBaseId\":\"%SRCROOT%\"}");
    } else {
        ck_doc_put(d, "file://");
        put_uri_path(d, norm);
        ck_doc_put(d, "\"}");
    }
}

/* ---- the documents ------------------------------------------------------------------- */

static void put_rules(ck_doc *d)
{
    ck_doc_put(d, "\"rules\":[");
    for (int k = 0; k < CK_KINDS; k++) {
        ck_doc_put(d, k > 0 ? ",{\"id\":" : "{\"id\":");
        ck_doc_string(d, kinds[k].id);
        ck_doc_put(d, ",\"name\":");
        ck_doc_string(d, kinds[k].name);
        ck_doc_put(d, ",\"shortDescription\":{\"text\":");
        ck_doc_string(d, kinds[k].text);
        ck_doc_put(d, "},\"defaultConfiguration\":{\"level\":");
        ck_doc_string(d, kinds[k].level);
        ck_doc_put(d, "}}");
    }
    ck_doc_put(d, "]");
}

static void put_argv(ck_doc *d)
{
    static char cmdline[16384];
    size_t n = sh_os_read_file("/proc/self/cmdline", cmdline, sizeof cmdline - 1);
    cmdline[n] = '\0';
    ck_doc_put(d, "[");
    for (size_t i = 0; i < n; i += strlen(cmdline + i) + 1) {
        if (i > 0)
            ck_doc_put(d, ",");
        ck_doc_string(d, cmdline + i);
    }
    ck_doc_put(d, "]");
}

/* document.c's callback: a document's opening part. */
static void header(ck_doc *d)
{
    out *o = (out *)d;
    o->findings = 0;
    if (o->sarif) {
        ck_doc_put(d,
                   "{\"$schema\":\"" SARIF_SCHEMA "\",\"version\":\"2.1.0\",\"runs\":[{\"tool\":{"
                   "\"driver\":{\"name\":\"stackheap\",\"version\":\"" SH_VERSION_STRING "\",");
        put_rules(d);
        ck_doc_put(d, "}},\"originalUriBaseIds\":{\"%SRCROOT%\":{\"uri\":\"file://");
        put_uri_path(d, ex.root);
        ck_doc_put(d, "\"}},\"results\":[");
    } else {
        ck_doc_put(d, "{\"format\":\"stackheap-check-report\",\"version\":1,\"tool\":{\"name\":"
                      "\"stackheap\",\"version\":\"" SH_VERSION_STRING "\"},");
        ck_doc_fmt(d, "\"pid\":%ld,\"program\":", d->pid);
        ck_doc_string(d, ex.program);
        ck_doc_put(d, ",\"argv\":");
        put_argv(d);
        ck_doc_put(d, ",\"findings\":[");
    }
}

static const char *state_name(void)
{
    return ex.state == 0 ? "running" : ex.state == 1 + CK_END_EXIT ? "exited" : "stopped_at_error";
}

static void put_totals(ck_doc *d, const char *name, const ck_totals *t)
{
    ck_doc_fmt(d, "\"%s\":{\"bytes\":%zu,\"blocks\":%zu}", name, t->bytes, t->blocks);
}

/* The suppressions object: totals and every rule, hit or not. */
static void put_suppressed(ck_doc *d)
{
    ck_rule r;
    size_t blocks = 0, bytes = 0;
    for (size_t i = 0; ck_suppress_rule(i, &r); i++) {
        blocks += r.blocks;
        bytes += r.bytes;
    }
    ck_doc_fmt(d, "\"suppressed\":{\"blocks\":%zu,\"bytes\":%zu,\"rules\":[", blocks, bytes);
    for (size_t i = 0; ck_suppress_rule(i, &r); i++) {
        ck_doc_put(d, i > 0 ? ",{\"rule\":" : "{\"rule\":");
        ck_doc_string(d, r.text);
        ck_doc_put(d, ",\"file\":");
        ck_doc_string(d, r.file);
        ck_doc_fmt(d, ",\"line\":%u,\"blocks\":%zu,\"bytes\":%zu}", r.line, r.blocks, r.bytes);
    }
    ck_doc_put(d, "]}");
}

/* document.c's callback: a document's closing part. */
static void trailer(ck_doc *d)
{
    bool sarif = ((out *)d)->sarif;
    ck_doc_put(d, sarif ? "],\"properties\":{" : "],");
    ck_doc_put(d, "\"state\":");
    ck_doc_string(d, state_name());
    ck_doc_fmt(d, ",\"problems\":%zu,\"leak_check\":", ck_findings());
    if (ex.leak_check) {
        ck_doc_put(d, "{");
        put_totals(d, "definitely_lost", &ex.leaks[0]);
        ck_doc_put(d, ",");
        put_totals(d, "indirectly_lost", &ex.leaks[1]);
        ck_doc_put(d, ",");
        put_totals(d, "still_reachable", &ex.leaks[2]);
        ck_doc_put(d, "}");
    } else {
        ck_doc_put(d, "null");
    }
    ck_doc_put(d, ",");
    put_suppressed(d);
    ck_doc_put(d, sarif ? "}}]}\n" : "}\n");
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
    for (int i = 0; i < 2; i++) {
        out *o = &ex.outs[i];
        o->sarif = i == 1;
        o->doc.what = o->sarif ? "SARIF" : "JSON";
        o->doc.variable = o->sarif ? "STACKHEAP_SARIF" : "STACKHEAP_JSON";
        o->doc.header = header;
        o->doc.trailer = trailer;
        o->doc.fd = -1;
        const char *path = sh_env(o->doc.variable);
        if (path != NULL && *path != '\0')
            ck_doc_open(&o->doc, path);
    }
}

/* ---- findings ---------------------------------------------------------------------- */

void ck_export_begin(const ck_finding *f, const char *message)
{
    ex.finding = *f;
    ex.nnotes = 0;
    ex.suppression[0] = '\0';
    for (int i = 0; i < 2; i++) {
        out *o = &ex.outs[i];
        ck_doc *d = &o->doc;
        o->in_finding = ck_doc_ready(d);
        if (!o->in_finding)
            continue;
        o->stacks = 0;
        o->located = 0;
        o->first_module[0] = '\0';
        ck_doc_put(d, o->findings++ > 0 ? "," : "");
        if (o->sarif) {
            ck_doc_put(d, "{\"ruleId\":");
            ck_doc_string(d, kinds[f->kind].id);
            ck_doc_fmt(d, ",\"ruleIndex\":%d,\"level\":", (int)f->kind);
            ck_doc_string(d, kinds[f->kind].level);
            ck_doc_put(d, ",\"message\":{\"text\":");
            ck_doc_string(d, message);
            ck_doc_put(d, "},\"stacks\":[");
        } else {
            ck_doc_put(d, "{\"kind\":");
            ck_doc_string(d, kinds[f->kind].id);
            ck_doc_put(d, ",\"message\":");
            ck_doc_string(d, message);
            if (f->address != NULL)
                ck_doc_fmt(d, ",\"address\":\"%p\"", f->address);
            ck_doc_fmt(d, ",\"bytes\":%zu", f->bytes);
            if (f->kind <= CK_STILL_REACHABLE)
                ck_doc_fmt(d, ",\"blocks\":%zu", f->blocks);
            ck_doc_put(d, ",\"stacks\":[");
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
        out *o = &ex.outs[i];
        ck_doc *d = &o->doc;
        if (!o->in_finding)
            continue;
        o->frames = 0;
        ck_doc_put(d, o->stacks++ > 0 ? "," : "");
        ck_doc_put(d, o->sarif ? "{\"message\":{\"text\":" : "{\"label\":");
        ck_doc_string(d, label);
        ck_doc_put(d, o->sarif ? "},\"frames\":[" : ",\"frames\":[");
    }
}

static void put_json_frame(ck_doc *d, const ck_frame *f)
{
    ck_doc_fmt(d, "{\"address\":\"%p\"", f->pc);
    if (f->module[0] != '\0') {
        ck_doc_put(d, ",\"module\":");
        ck_doc_string(d, f->module);
        ck_doc_fmt(d, ",\"offset\":\"0x%zx\"", (size_t)f->offset);
    }
    if (f->function[0] != '\0') {
        ck_doc_put(d, ",\"function\":");
        ck_doc_string(d, f->function);
    }
    if (f->file[0] != '\0') {
        ck_doc_put(d, ",\"file\":");
        ck_doc_string(d, f->file);
    }
    if (f->line != 0)
        ck_doc_fmt(d, ",\"line\":%u", f->line);
    ck_doc_put(d, "}");
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

static void put_sarif_frame(out *o, const ck_frame *f, unsigned i)
{
    ck_doc *d = &o->doc;
    ck_doc_put(d, "{\"location\":{\"physicalLocation\":{");
    if (f->file[0] != '\0') {
        put_artifact(d, f->file);
        if (f->line != 0)
            ck_doc_fmt(d, ",\"region\":{\"startLine\":%u}", f->line);
        ck_doc_put(d, ",");
    }
    ck_doc_fmt(d, "\"address\":{\"absoluteAddress\":%zu}}", (size_t)(uintptr_t)f->pc);
    if (f->function[0] != '\0') {
        ck_doc_put(d, ",\"logicalLocations\":[{\"fullyQualifiedName\":");
        ck_doc_string(d, f->function);
        ck_doc_put(d, ",\"kind\":\"function\"}]");
    }
    ck_doc_put(d, "}");
    if (f->module[0] != '\0') {
        ck_doc_put(d, ",\"module\":");
        ck_doc_string(d, f->module);
    }
    ck_doc_put(d, "}");
    int rank = location_rank(f, i);
    if (rank > o->located) {
        o->located = rank;
        sh_format(o->loc_file, sizeof o->loc_file, "%s", f->file);
        o->loc_line = f->line;
    }
    if (o->first_module[0] == '\0')
        sh_format(o->first_module, sizeof o->first_module, "%s", f->module);
}

void ck_export_frame(const ck_frame *f)
{
    for (int i = 0; i < 2; i++) {
        out *o = &ex.outs[i];
        if (!o->in_finding)
            continue;
        ck_doc_put(&o->doc, o->frames > 0 ? "," : "");
        if (o->sarif)
            put_sarif_frame(o, f, o->frames);
        else
            put_json_frame(&o->doc, f);
        o->frames++;
    }
}

void ck_export_stack_end(void)
{
    for (int i = 0; i < 2; i++)
        if (ex.outs[i].in_finding)
            ck_doc_put(&ex.outs[i].doc, "]}");
}

static void put_notes(ck_doc *d)
{
    ck_doc_put(d, ",\"details\":[");
    for (unsigned i = 0; i < ex.nnotes; i++) {
        ck_doc_put(d, i > 0 ? "," : "");
        ck_doc_string(d, ex.notes[i]);
    }
    ck_doc_put(d, "]");
}

/* SARIF: every result has a location; without a source line, the module of
   its first frame (or the program) stands for it. */
static void put_sarif_location(out *o)
{
    ck_doc *d = &o->doc;
    ck_doc_put(d, ",\"locations\":[{\"physicalLocation\":{");
    if (o->located) {
        put_artifact(d, o->loc_file);
        ck_doc_fmt(d, ",\"region\":{\"startLine\":%u}", o->loc_line);
    } else {
        put_artifact(d, o->first_module[0] != '\0' ? o->first_module : ex.program);
    }
    ck_doc_put(d, "}}]");
}

void ck_export_end(void)
{
    const ck_finding *f = &ex.finding;
    for (int i = 0; i < 2; i++) {
        out *o = &ex.outs[i];
        ck_doc *d = &o->doc;
        if (!o->in_finding)
            continue;
        ck_doc_put(d, "]");
        if (o->sarif) {
            put_sarif_location(o);
            ck_doc_fmt(d, ",\"properties\":{\"bytes\":%zu", f->bytes);
            if (f->kind <= CK_STILL_REACHABLE)
                ck_doc_fmt(d, ",\"blocks\":%zu", f->blocks);
            if (f->address != NULL)
                ck_doc_fmt(d, ",\"address\":\"%p\"", f->address);
            if (ex.nnotes > 0)
                put_notes(d);
            ck_doc_put(d, "}}");
        } else {
            if (ex.nnotes > 0)
                put_notes(d);
            if (ex.suppression[0] != '\0') {
                ck_doc_put(d, ",\"suppression\":");
                ck_doc_string(d, ex.suppression);
            }
            ck_doc_put(d, "}");
        }
        o->in_finding = false;
        ck_doc_commit(d);
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
        if (ck_doc_ready(&ex.outs[i].doc)) /* a fork child with "%p" starts its file now */
            ck_doc_commit(&ex.outs[i].doc);
}

/*
 * document.c -- a JSON document kept whole in a file while it grows: the
 * mechanics under export.c's JSON and SARIF reports.
 *
 * A document is an opening part (its header), a body that grows by whole
 * items (findings), and a closing part (its trailer).  The file is opened,
 * emptied, with the header and a trailer written at once; then each item is
 * written after the body so far, and ck_doc_commit writes the trailer after
 * it again, over the old one.  So the file is a valid document whenever no
 * item is half written: a process that aborts, or dies of a signal, leaves
 * one.  A trailer shorter than the one it replaces is padded with spaces
 * (whitespace after a JSON value is allowed).
 *
 * The process that opened the file writes it.  A fork child writes nothing
 * into its parent's file; with "%p" in the path (replaced by the process
 * id) it starts a file of its own the first time it writes.  Before each
 * item and each trailer the file is checked to be as this process left it
 * (the same file, the same size): a program started under check mode with
 * the same path empties it and writes its own report there, and a program
 * that closes every descriptor may get ours back for a file of its own;
 * either way this process leaves the file alone from then on (with a
 * warning), and never closes a descriptor that is no longer its own.
 *
 * Nothing here allocates: a document is written through its own 16 KiB
 * buffer with positioned writes (sh_os_write_at); strings are escaped on
 * the way (JSON's escapes; bytes that are not UTF-8 become U+FFFD).  The
 * caller serialises the calls (export.c makes them under the report lock).
 *
 * Invariants: while fd >= 0, body <= at; the file's bytes before `body` are
 * the header and the items committed, a trailer follows them (then spaces
 * up to `end`), and `end` is the file's size; buf holds what goes at `at`.
 */
#define _GNU_SOURCE
#include "check_internal.h"

#include <stdarg.h>
#include <string.h>

/* ---- writing ------------------------------------------------------------------------ */

static bool same_file(const ck_doc *d, uint64_t *size)
{
    uint64_t dev, ino;
    return sh_os_file_identity(d->fd, &dev, &ino, size) && dev == d->dev && ino == d->ino;
}

static void give_up(ck_doc *d)
{
    sh_warning("cannot write the %s report '%s': it stops here", d->what, d->path);
    uint64_t size;
    if (same_file(d, &size))
        sh_os_close(d->fd); /* (a descriptor the program reused is not ours to close) */
    d->fd = -1;
}

static void flush(ck_doc *d)
{
    if (d->fd < 0)
        d->len = 0; /* not written: what is put is dropped */
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

void ck_buffer_put(char *buf, size_t cap, size_t *len, const char *s, size_t n,
                   void (*flush_full)(void *sink), void *sink)
{
    while (n > 0) {
        if (*len == cap)
            flush_full(sink);
        size_t k = cap - *len < n ? cap - *len : n;
        memcpy(buf + *len, s, k);
        *len += k;
        s += k;
        n -= k;
    }
}

static void flush_doc(void *d)
{
    flush(d);
}

void ck_doc_raw(ck_doc *d, const char *s, size_t n)
{
    ck_buffer_put(d->buf, sizeof d->buf, &d->len, s, n, flush_doc, d);
}

void ck_doc_put(ck_doc *d, const char *s)
{
    ck_doc_raw(d, s, strlen(s));
}

void ck_doc_fmt(ck_doc *d, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    size_t n = sh_vformat(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    ck_doc_raw(d, tmp, n);
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

void ck_json_escape(const char *s, bool for_html, void (*put)(void *sink, const char *, size_t),
                    void *sink)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            put(sink, esc, 2);
            p++;
        } else if (c < 0x20 || (for_html && (c == '<' || c == '>' || c == '&'))) {
            const char *named = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            if (named != NULL)
                put(sink, named, 2);
            else
                put(sink, u, sizeof u);
            p++;
        } else {
            size_t n = utf8_length(p);
            if (n == 0) {
                put(sink, "\\ufffd", 6);
                p++;
            } else {
                put(sink, (const char *)p, n);
                p += n;
            }
        }
    }
}

static void put_doc(void *d, const char *s, size_t n)
{
    ck_doc_raw(d, s, n);
}

void ck_doc_string(ck_doc *d, const char *s)
{
    ck_doc_raw(d, "\"", 1);
    ck_json_escape(s, false, put_doc, d);
    ck_doc_raw(d, "\"", 1);
}

/* ---- the file ------------------------------------------------------------------------- */

void ck_doc_commit(ck_doc *d)
{
    flush(d);
    if (d->fd < 0)
        return;
    d->body = d->at;
    d->trailer(d);
    flush(d);
    char spaces[64];
    memset(spaces, ' ', sizeof spaces);
    while (d->fd >= 0 && d->at < d->end) { /* the old trailer was longer */
        size_t n = d->end - d->at < sizeof spaces ? (size_t)(d->end - d->at) : sizeof spaces;
        ck_doc_raw(d, spaces, n);
        flush(d);
    }
    if (d->at > d->end)
        d->end = d->at;
    d->at = d->body;
}

/* Open the file for this process and write an empty document into it. */
static void start(ck_doc *d)
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
    if (d->fd < 0) {
        sh_warning("cannot open '%s' for the %s report (%s): none is written", path, d->what,
                   d->variable);
        return;
    }
    d->header(d);
    ck_doc_commit(d);
}

bool ck_doc_open(ck_doc *d, const char *path)
{
    d->fd = -1;
    d->path[0] = '\0';
    if (strlen(path) >= sizeof d->path) {
        sh_warning("%s is longer than %zu bytes: no %s report", d->variable, sizeof d->path - 1,
                   d->what);
        return false;
    }
    sh_format(d->path, sizeof d->path, "%s", path);
    d->per_process = strstr(path, "%p") != NULL;
    d->pid = sh_os_process_id();
    start(d);
    return d->fd >= 0;
}

/* False, after a warning, if d's file is no longer as this process left it
   (the top of this file); d is then not written again. */
static bool still_ours(ck_doc *d)
{
    uint64_t size;
    if (d->fd < 0)
        return false;
    bool same = same_file(d, &size);
    if (same && size == d->end)
        return true;
    if (same) {
        sh_warning("the %s report '%s' was rewritten by another process: this one (%ld) stops "
                   "writing it (%%p in its name gives each process its own)",
                   d->what, d->path, d->pid);
        sh_os_close(d->fd);
    } else { /* the descriptor is the program's now: not ours to close */
        sh_warning("the %s report '%s' lost its descriptor (the program closed it): it stops "
                   "here",
                   d->what, d->path);
    }
    d->fd = -1;
    d->len = 0;
    return false;
}

bool ck_doc_ready(ck_doc *d)
{
    if (d->path[0] == '\0')
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

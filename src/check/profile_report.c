/*
 * profile_report.c -- the heap profiler's output at exit: the frames of the
 * report's stacks symbolised once each, the collapsed stacks, the text
 * summary on stderr, and (through profile_html.c) the HTML report, all
 * written through one buffered writer over write(2).  profile.c records
 * while the program runs and builds the prof_report this file writes.
 *
 * Memory comes from a bump arena mapped from the OS (never the heap, never
 * freed: the process is exiting).
 */
#define _GNU_SOURCE
#include "profile.h"

#include <string.h>

static uint64_t pc_hash(uintptr_t a)
{
    uint64_t h = (uint64_t)(a >> 4) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

/* ---- the writer ----------------------------------------------------------------------- */

void prof_flush(prof_writer *w)
{
    if (w->fd >= 0 && w->n > 0)
        sh_os_write(w->fd, w->buf, w->n);
    w->n = 0;
}

static void flush_writer(void *w)
{
    prof_flush(w);
}

void prof_put(prof_writer *w, const char *s, size_t n)
{
    ck_buffer_put(w->buf, sizeof w->buf, &w->n, s, n, flush_writer, w);
}

void prof_puts(prof_writer *w, const char *s)
{
    prof_put(w, s, strlen(s));
}

void prof_printf(prof_writer *w, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    size_t n = sh_vformat(line, sizeof line, fmt, ap);
    va_end(ap);
    prof_put(w, line, n);
}

static void put_writer(void *w, const char *s, size_t n)
{
    prof_put(w, s, n);
}

void prof_json_string(prof_writer *w, const char *s)
{
    ck_json_escape(s, true, put_writer, w);
}

/* ---- the report ---------------------------------------------------------------- */

/* Memory for the report, from the OS (a bump arena; never freed: the process is exiting). */
static struct {
    uint8_t *base;
    size_t used, cap;
} arena;

void *prof_arena_take(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (arena.base == NULL || arena.used + n > arena.cap) {
        size_t cap = n > ((size_t)16 << 20) ? n : (size_t)16 << 20;
        uint8_t *b = sh_os_map(cap);
        if (b == NULL)
            return NULL;
        arena.base = b;
        arena.cap = cap;
        arena.used = 0;
    }
    void *p = arena.base + arena.used;
    arena.used += n;
    return p;
}

/* The distinct return addresses, symbolised once each. */
static struct {
    uintptr_t *pc; /* open addressing, 0: empty */
    uint32_t *index;
    size_t cap;
    const char **name;
    uint32_t n, max;
    /* the full "fn file:line" of each frame, for the text summary */
    const char **fn, **line;
} frames;

uint32_t prof_frame_of(void *pcv)
{
    uintptr_t pc = (uintptr_t)pcv;
    size_t i = pc_hash(pc) & (frames.cap - 1);
    while (frames.pc[i] != 0 && frames.pc[i] != pc)
        i = (i + 1) & (frames.cap - 1);
    if (frames.pc[i] == pc)
        return frames.index[i];
    if (frames.n == frames.max)
        return 0;
    char fn[256], file[512];
    ck_trace_symbol(pcv, fn, sizeof fn, file, sizeof file);
    if (fn[0] == '\0')
        sh_format(fn, sizeof fn, "0x%zx", (size_t)pc);
    for (char *c = fn; *c != '\0'; c++)
        if (*c == ';')
            *c = ':';                             /* the collapsed format's separator */
    char *disc = strstr(file, " (discriminator"); /* addr2line's, not part of the line */
    if (disc != NULL)
        *disc = '\0';
    const char *base = strrchr(file, '/');
    base = base != NULL && file[0] != '(' ? base + 1 : file;
    size_t fl = strlen(fn), bl = strlen(base), ll = strlen(file);
    char *name = prof_arena_take(fl + bl + 4), *f = prof_arena_take(fl + 1),
         *l = prof_arena_take(ll + 1);
    if (name == NULL || f == NULL || l == NULL)
        return 0;
    /* "fn (file.c:12)", or "fn (object+0x...)" as trace.c gives it, in parentheses already */
    sh_format(name, fl + bl + 4, base[0] == '(' ? "%s %s" : "%s (%s)", fn, base);
    memcpy(f, fn, fl + 1);
    memcpy(l, file, ll + 1);
    uint32_t k = frames.n++;
    frames.name[k] = name;
    frames.fn[k] = f;
    frames.line[k] = l;
    frames.pc[i] = pc;
    frames.index[i] = k;
    return k;
}

bool prof_frames_init(uint32_t max)
{
    frames.cap = 1;
    while (frames.cap < 2 * (size_t)max)
        frames.cap *= 2;
    frames.pc = prof_arena_take(frames.cap * sizeof(uintptr_t));
    frames.index = prof_arena_take(frames.cap * sizeof(uint32_t));
    frames.name = prof_arena_take((max + 1) * sizeof(char *));
    frames.fn = prof_arena_take((max + 1) * sizeof(char *));
    frames.line = prof_arena_take((max + 1) * sizeof(char *));
    if (!frames.pc || !frames.index || !frames.name || !frames.fn || !frames.line)
        return false;
    memset(frames.pc, 0, frames.cap * sizeof(uintptr_t));
    frames.max = max;
    frames.name[0] = "(no stack recorded)";
    frames.fn[0] = "(no stack recorded)";
    frames.line[0] = "";
    frames.n = 1;
    return true;
}

static prof_writer writer;

static void write_collapsed(const prof_report *r, const char *path, int metric)
{
    prof_writer *w = &writer;
    w->fd = sh_os_open_report(path);
    w->n = 0;
    if (w->fd < 0) {
        sh_warning("profile: cannot create %s", path);
        return;
    }
    for (uint32_t i = 0; i < r->sites; i++) {
        const prof_site_out *s = &r->site[i];
        uint64_t v = metric == 0 ? s->peak : metric == 1 ? s->allocated : s->leaked;
        if (v == 0)
            continue;
        for (uint32_t d = 0; d < s->depth; d++) {
            if (d > 0)
                prof_put(w, ";", 1);
            prof_puts(w, r->name[s->frame[d]]);
        }
        prof_printf(w, " %llu\n", (unsigned long long)v);
    }
    prof_flush(w);
    sh_os_close(w->fd);
}

/* The top `n` sites by key (0 peak, 1 calls, 2 temporary, 3 leaked), largest first. */
static uint32_t top(const prof_report *r, int key, uint32_t *out, uint32_t n)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < r->sites; i++) {
        const prof_site_out *s = &r->site[i];
        uint64_t v = key == 0 ? s->peak : key == 1 ? s->calls : key == 2 ? s->temporary : s->leaked;
        if (v == 0)
            continue;
        uint32_t j = k < n ? k++ : n;
        for (; j > 0; j--) {
            const prof_site_out *o = &r->site[out[j - 1]];
            uint64_t ov = key == 0   ? o->peak
                          : key == 1 ? o->calls
                          : key == 2 ? o->temporary
                                     : o->leaked;
            if (ov >= v)
                break;
            if (j < n)
                out[j] = out[j - 1];
        }
        if (j < n)
            out[j] = i;
    }
    return k;
}

static void print_site(prof_writer *w, const prof_site_out *s)
{
    for (uint32_t d = s->depth, i = 0; d-- > 0 && i < 8; i++)
        prof_printf(w, "      #%u %s %s\n", i, frames.fn[s->frame[d]], frames.line[s->frame[d]]);
}

static void write_summary(const prof_report *r, const char *files)
{
    prof_writer *w = &writer;
    w->fd = 2;
    w->n = 0;
    char a[32], b[32], c[32], d[32];
    bool est = strcmp(r->mode, "sampled") == 0;
    prof_printf(w,
                "stackheap: profile (%s%s): %llu allocations%s, %llu temporary, peak heap %llu "
                "bytes (%s), peak RSS %s, %llu bytes (%s) in %llu blocks leaked, %s allocated "
                "in all, %llu ms\n",
                r->mode, est ? ", estimates" : "", (unsigned long long)r->calls,
                est ? " (estimated)" : "", (unsigned long long)r->temporary,
                (unsigned long long)r->peak, sh_format_bytes(a, sizeof a, r->peak),
                sh_format_bytes(b, sizeof b, r->peak_rss), (unsigned long long)r->leaked,
                sh_format_bytes(c, sizeof c, r->leaked), (unsigned long long)r->leaked_blocks,
                sh_format_bytes(d, sizeof d, r->allocated), (unsigned long long)r->ms);
    static const char *const title[] = {
        "PEAK MEMORY CONSUMERS", "MOST CALLS TO ALLOCATION FUNCTIONS", "MOST TEMPORARY ALLOCATIONS",
        "MEMORY LEAKED (still allocated at exit)"};
    uint32_t best[5];
    for (int key = 0; key < 4; key++) {
        uint32_t n = top(r, key, best, 5);
        prof_printf(w, "stackheap: profile: %s\n", title[key]);
        if (n == 0)
            prof_puts(w, "    (none)\n");
        for (uint32_t i = 0; i < n; i++) {
            const prof_site_out *s = &r->site[best[i]];
            if (key == 0)
                prof_printf(w, "  %llu bytes (%s) peak, from %llu calls, at:\n",
                            (unsigned long long)s->peak, sh_format_bytes(a, sizeof a, s->peak),
                            (unsigned long long)s->calls);
            else if (key == 1)
                prof_printf(w, "  %llu calls, %s allocated, at:\n", (unsigned long long)s->calls,
                            sh_format_bytes(a, sizeof a, s->allocated));
            else if (key == 2)
                prof_printf(w, "  %llu temporary of %llu calls, at:\n",
                            (unsigned long long)s->temporary, (unsigned long long)s->calls);
            else
                prof_printf(w, "  %llu bytes (%s) leaked in %llu blocks, at:\n",
                            (unsigned long long)s->leaked, sh_format_bytes(a, sizeof a, s->leaked),
                            (unsigned long long)s->leaked_blocks);
            print_site(w, s);
        }
    }
    /* what the report itself cost (symbols, files), apart from the run */
    prof_printf(w, "stackheap: profile: wrote %s (in %llu ms at exit)\n", files,
                (unsigned long long)(sh_now_ms() - r->exit_ms));
    prof_flush(w);
}

void prof_write_files(prof_report *r, const char *prefix)
{
    r->name = frames.name;
    r->names = frames.n;
    char path[700], files[2200];
    sh_format(path, sizeof path, "%s.peak.collapsed", prefix);
    write_collapsed(r, path, 0);
    sh_format(path, sizeof path, "%s.alloc.collapsed", prefix);
    write_collapsed(r, path, 1);
    sh_format(path, sizeof path, "%s.leak.collapsed", prefix);
    write_collapsed(r, path, 2);
    sh_format(path, sizeof path, "%s.html", prefix);
    bool html = prof_write_html(r, path);
    sh_format(files, sizeof files, "%s%s, %s.peak.collapsed, %s.alloc.collapsed, %s.leak.collapsed",
              html ? path : "", html ? "" : "(no HTML)", prefix, prefix, prefix);
    write_summary(r, files);
}

/*
 * leak.c -- check mode at exit: the guards of every live block, the
 * quarantine, and the leak report.
 *
 * Leaks are found as LeakSanitizer and Valgrind find them: a conservative
 * mark from the roots (every readable and writable mapping of the process
 * that is not the heap's own memory or stackheap's bookkeeping: the data and
 * BSS of the program and its libraries, thread stacks and TLS, other mmaps;
 * for the exiting thread, its stack from the current frame up), following
 * every aligned word that points into a live block, then into the blocks so
 * reached: those are "still reachable".  The blocks left are lost.  Lost
 * blocks whose allocation stack a suppression matches are set aside, with
 * every lost block they reach (suppress.c).  The others are sorted as
 * Valgrind and LeakSanitizer sort them: a lost block that only other lost
 * blocks point to is "indirectly lost" (a node of a lost list), the roots
 * of lost structures are "definitely lost".  A structure whose root is a
 * cycle (a lost ring, a doubly linked list) has no block without a lost
 * pointer to it: the cycle's block with the lowest address stands for it,
 * so every lost structure is reported with at least one definite block.
 * Exactly: the lost blocks and the pointers between them are a graph; each
 * strongly connected component of it that no other component points to
 * gives one definitely lost block, its lowest; every other lost block is
 * indirectly lost (Tarjan's algorithm, without recursion: linear in the
 * bytes of the lost blocks, each scanned twice).
 *
 * Lost blocks are grouped by allocation stack and listed by bytes.  Nothing
 * here allocates: the arrays are mapped and sorted with a heapsort.
 *
 * Invariant after leak_report's marking: every entry's state is REACHED
 * (reachable from a root), SUPPRESSED (matched by a rule, or reached from a
 * block that was), DEFINITE or INDIRECT, as above.
 */
#define _GNU_SOURCE
#include "check_internal.h"

#include <stdio.h>
#include <string.h>

/* An entry's state: LOST until the marking says which kind of lost. */
enum { LOST, REACHED, DEFINITE, INDIRECT, SUPPRESSED };

typedef struct entry {
    uintptr_t start, end;
    ck_block *b;
    uint8_t state;
    uint8_t on_stack;    /* Tarjan: on its stack of open components */
    int32_t rule;        /* SUPPRESSED: the rule that set it aside */
    uint32_t index, low; /* Tarjan: visit order (0: not yet) and low link; once its
                            component is complete, low is the component's id */
} entry;

typedef struct site {
    uint32_t trace;
    uint32_t count;
    size_t bytes;
    uintptr_t first; /* the lowest address among its blocks */
} site;

static struct {
    entry *e;
    size_t n, cap;
    size_t *work;
    size_t nwork;
    uintptr_t lo, hi;                 /* of all blocks */
    uintptr_t self_lo[8], self_hi[8]; /* stackheap's own writable segments */
    unsigned nself;
} scan;

static void collect(ck_block *b, void *arg)
{
    (void)arg;
    if (scan.n < scan.cap) {
        uintptr_t s = (uintptr_t)ck_user(b);
        scan.e[scan.n++] = (entry){s, s + (b->size != 0 ? b->size : 1), b, LOST, 0, -1, 0, 0};
    }
}

static void count_one(ck_block *b, void *arg)
{
    (void)b;
    (*(size_t *)arg)++;
}

/* ---- sorting without malloc ------------------------------------------------------ */

#define HEAPSORT(name, type, less)                                                                 \
    static void name##_sift(type *a, size_t i, size_t n)                                           \
    {                                                                                              \
        for (;;) {                                                                                 \
            size_t c = 2 * i + 1;                                                                  \
            if (c >= n)                                                                            \
                return;                                                                            \
            if (c + 1 < n && less(a[c], a[c + 1]))                                                 \
                c++;                                                                               \
            if (!less(a[i], a[c]))                                                                 \
                return;                                                                            \
            type t = a[i];                                                                         \
            a[i] = a[c];                                                                           \
            a[c] = t;                                                                              \
            i = c;                                                                                 \
        }                                                                                          \
    }                                                                                              \
    static void name(type *a, size_t n)                                                            \
    {                                                                                              \
        for (size_t i = n / 2; i-- > 0;)                                                           \
            name##_sift(a, i, n);                                                                  \
        for (size_t end = n; end-- > 1;) {                                                         \
            type t = a[0];                                                                         \
            a[0] = a[end];                                                                         \
            a[end] = t;                                                                            \
            name##_sift(a, 0, end);                                                                \
        }                                                                                          \
    }

#define ENTRY_LESS(x, y) ((x).start < (y).start)
#define SITE_LESS(x, y) ((x).bytes > (y).bytes || ((x).bytes == (y).bytes && (x).trace > (y).trace))
HEAPSORT(sort_entries, entry, ENTRY_LESS)
HEAPSORT(sort_sites, site, SITE_LESS)

/* ---- marking ------------------------------------------------------------------- */

static entry *find(uintptr_t w)
{
    if (w < scan.lo || w >= scan.hi)
        return NULL;
    size_t lo = 0, hi = scan.n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (scan.e[mid].start <= w)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    entry *e = &scan.e[lo - 1];
    return w < e->end ? e : NULL;
}

static void scan_range(uintptr_t lo, uintptr_t hi)
{
    lo = (lo + 7) & ~(uintptr_t)7;
    for (uintptr_t a = lo; a + 8 <= hi; a += 8) {
        entry *e = find(*(const uintptr_t *)a);
        if (e != NULL && e->state == LOST) {
            e->state = REACHED;
            scan.work[scan.nwork++] = (size_t)(e - scan.e);
        }
    }
}

static void drain(void)
{
    while (scan.nwork > 0) {
        entry *e = &scan.e[scan.work[--scan.nwork]];
        scan_range(e->start, e->end);
    }
}

static bool is_self(uintptr_t lo, uintptr_t hi)
{
    for (unsigned i = 0; i < scan.nself; i++)
        if (lo < scan.self_hi[i] && hi > scan.self_lo[i])
            return true;
    return false;
}

/* Scan the pages of [lo, hi) that are resident: a page never touched holds
   no pointer, and reading it would only fault it in (thread stacks and
   reservations are mostly such pages). */
static void scan_resident(uintptr_t lo, uintptr_t hi)
{
    enum { CHUNK_PAGES = 16384 };
    static unsigned char vec[CHUNK_PAGES];
    size_t page = sh_os_page_size();
    uintptr_t start = lo & ~(uintptr_t)(page - 1);
    for (uintptr_t c = start; c < hi; c += (uintptr_t)CHUNK_PAGES * page) {
        uintptr_t end = hi - c > (uintptr_t)CHUNK_PAGES * page ? c + CHUNK_PAGES * page : hi;
        size_t pages = (end - c + page - 1) / page;
        if (!sh_os_resident((void *)c, end - c, vec)) {
            scan_range(c > lo ? c : lo, end); /* no answer: read it all */
            continue;
        }
        for (size_t i = 0; i < pages; i++) {
            uintptr_t p = c + i * page;
            if (vec[i] & 1)
                scan_range(p > lo ? p : lo, p + page < end ? p + page : end);
        }
    }
}

/* Scan every root mapping listed in maps (a NUL-terminated copy). */
static void scan_roots(const char *maps, uintptr_t sp, uintptr_t skip_lo[], uintptr_t skip_hi[],
                       unsigned nskip)
{
    for (const char *line = maps; *line != '\0';) {
        const char *s = line;
        uintptr_t lo = sh_parse_hex(&s);
        s++;
        uintptr_t hi = sh_parse_hex(&s);
        s++;
        bool rw = s[0] == 'r' && s[1] == 'w';
        const char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        bool special =
            memmem(line, len, "[vvar]", 6) != NULL || memmem(line, len, "[vsyscall]", 10) != NULL;
        bool skip = !rw || special || sh_segment_map_has(sh_segment_of((void *)(lo + 1))) ||
                    is_self(lo, hi);
        for (unsigned i = 0; i < nskip && !skip; i++)
            skip = lo < skip_hi[i] && hi > skip_lo[i];
        if (!skip) {
            if (sp >= lo && sp < hi)
                lo = sp; /* this thread's stack: only the live frames */
            scan_resident(lo, hi);
            drain();
        }
        if (nl == NULL)
            break;
        line = nl + 1;
    }
}

/* ---- lost blocks: suppressed, definite, indirect ---------------------------------- */

/* Give SUPPRESSED (and rule) to every lost block that `from` reaches,
   through any chain of blocks. */
static void suppress_reached(entry *from, int32_t rule)
{
    scan.nwork = 0;
    scan.work[scan.nwork++] = (size_t)(from - scan.e);
    while (scan.nwork > 0) {
        const entry *e = &scan.e[scan.work[--scan.nwork]];
        for (uintptr_t a = (e->start + 7) & ~(uintptr_t)7; a + 8 <= e->end; a += 8) {
            entry *t = find(*(const uintptr_t *)a);
            if (t != NULL && t->state == LOST) {
                t->state = SUPPRESSED;
                t->rule = rule;
                scan.work[scan.nwork++] = (size_t)(t - scan.e);
            }
        }
    }
}

/* The lost block a word of a block points to, or NULL. */
static entry *lost_at(uintptr_t a)
{
    entry *t = find(*(const uintptr_t *)a);
    return t != NULL && t->state == LOST ? t : NULL;
}

/* Tarjan's strongly connected components of the lost blocks, from root,
   with an explicit stack of (block, next word to read): scan.work holds the
   open components' blocks, dfs the path. */
typedef struct dfs_frame {
    size_t e;
    uintptr_t next;
} dfs_frame;

static void components_from(entry *root, dfs_frame *dfs, uint32_t *counter)
{
    size_t depth = 0;
    entry *v = root;
    for (;;) {
        if (v != NULL) { /* visit v */
            v->index = v->low = ++*counter;
            v->on_stack = 1;
            scan.work[scan.nwork++] = (size_t)(v - scan.e);
            dfs[depth++] = (dfs_frame){(size_t)(v - scan.e), (v->start + 7) & ~(uintptr_t)7};
            v = NULL;
        }
        dfs_frame *top = &dfs[depth - 1];
        entry *u = &scan.e[top->e];
        if (top->next + 8 <= u->end) {
            entry *w = lost_at(top->next);
            top->next += 8;
            if (w == NULL)
                continue;
            if (w->index == 0)
                v = w; /* descend */
            else if (w->on_stack && w->index < u->low)
                u->low = w->index;
            continue;
        }
        if (u->low == u->index) { /* u is its component's root: close it */
            entry *m;
            do {
                m = &scan.e[scan.work[--scan.nwork]];
                m->on_stack = 0;
                m->low = u->index;
            } while (m != u);
        }
        if (--depth == 0)
            return;
        entry *parent = &scan.e[dfs[depth - 1].e];
        if (u->low < parent->low)
            parent->low = u->low;
    }
}

/* Sort the blocks the root scan left LOST: suppressed, then definitely or
   indirectly lost (the top of this file). */
static void classify_lost(void)
{
    size_t lost = 0;
    for (size_t i = 0; i < scan.n; i++)
        if (scan.e[i].state == LOST && ck_suppressing()) {
            int rule = ck_suppress_match(scan.e[i].b->alloc_trace);
            if (rule >= 0) {
                scan.e[i].state = SUPPRESSED;
                scan.e[i].rule = rule;
            }
        }
    for (size_t i = 0; i < scan.n; i++) /* and what they hold: one structure */
        if (scan.e[i].state == SUPPRESSED)
            suppress_reached(&scan.e[i], scan.e[i].rule);
    for (size_t i = 0; i < scan.n; i++) {
        if (scan.e[i].state == SUPPRESSED)
            ck_suppress_count(scan.e[i].rule, scan.e[i].b->size);
        lost += scan.e[i].state == LOST;
    }
    if (lost == 0)
        return;
    dfs_frame *dfs = sh_os_map(lost * sizeof(dfs_frame));
    uint8_t *pointed = sh_os_map(lost + 2); /* by component id: pointed to from outside it */
    if (dfs == NULL || pointed == NULL) {   /* no room to tell: all definitely lost */
        for (size_t i = 0; i < scan.n; i++)
            if (scan.e[i].state == LOST)
                scan.e[i].state = DEFINITE;
    } else {
        uint32_t counter = 0;
        scan.nwork = 0;
        for (size_t i = 0; i < scan.n; i++)
            if (scan.e[i].state == LOST && scan.e[i].index == 0)
                components_from(&scan.e[i], dfs, &counter);
        for (size_t i = 0; i < scan.n; i++) {
            const entry *u = &scan.e[i];
            if (u->state != LOST)
                continue;
            for (uintptr_t a = (u->start + 7) & ~(uintptr_t)7; a + 8 <= u->end; a += 8) {
                const entry *w = lost_at(a);
                if (w != NULL && w->low != u->low)
                    pointed[w->low] = 1;
            }
        }
        for (size_t i = 0; i < scan.n; i++) { /* in address order: a component's lowest first */
            entry *e = &scan.e[i];
            if (e->state != LOST)
                continue;
            e->state = pointed[e->low] ? INDIRECT : DEFINITE;
            pointed[e->low] = 1; /* the rest of its component is indirect */
        }
    }
    sh_os_unmap(dfs, lost * sizeof(dfs_frame));
    sh_os_unmap(pointed, lost + 2);
}

/* ---- the report ------------------------------------------------------------------- */

static const char *plural(size_t n)
{
    return n == 1 ? "" : "s";
}

/* Report each site of one kind of leak: a finding each, under the section's
   headline (printed by the caller).  what: "definitely lost (...)" and so
   on, for the message of each site's finding. */
static void report_sites(site *sites, size_t nsites, ck_kind kind, const char *what)
{
    sort_sites(sites, nsites);
    for (size_t i = 0; i < nsites; i++) {
        const site *s = &sites[i];
        ck_finding f = {kind, (const void *)s->first, s->bytes, s->count, true};
        ck_finding_begin(&f, "%zu byte%s in %u block%s %s", s->bytes, plural(s->bytes), s->count,
                         plural(s->count), what);
        ck_printf("  %zu byte%s in %u block%s allocated at:\n", s->bytes, plural(s->bytes),
                  s->count, plural(s->count));
        ck_finding_frames("allocated at", s->trace);
        char entry[300];
        if (kind != CK_STILL_REACHABLE && ck_suppress_entry(s->trace, entry, sizeof entry))
            ck_finding_suppression(entry);
        ck_finding_end();
    }
}

/* Group entries in `state` by trace into sites; returns their number. */
static size_t group(site *sites, uint32_t *index, uint32_t state, ck_totals *total)
{
    size_t n = 0;
    total->blocks = total->bytes = 0;
    for (size_t i = 0; i < scan.n; i++) {
        entry *e = &scan.e[i];
        if (e->state != state)
            continue;
        uint32_t t = e->b->alloc_trace;
        uint32_t k = index[t];
        if (k == 0) {
            sites[n] = (site){t, 0, 0, e->start};
            index[t] = (uint32_t)++n;
            k = (uint32_t)n;
        }
        sites[k - 1].count++;
        sites[k - 1].bytes += e->b->size;
        total->blocks++;
        total->bytes += e->b->size;
    }
    for (size_t i = 0; i < n; i++)
        index[sites[i].trace] = 0;
    return n;
}

/* Find and print the leaks among the collected blocks; their totals in
   totals[]: definitely lost, indirectly lost, still reachable. */
static void leak_report(site *sites, uint32_t *index, char *maps, size_t maps_cap,
                        ck_totals totals[3])
{
    sort_entries(scan.e, scan.n);
    scan.lo = scan.e[0].start;
    scan.hi = 0;
    for (size_t i = 0; i < scan.n; i++)
        if (scan.e[i].end > scan.hi)
            scan.hi = scan.e[i].end;
    ck_place me; /* libstackheap's own data: its bookkeeping points into blocks */
    if (ck_place_of((uintptr_t)leak_report, &me))
        for (unsigned i = 0; i < me.ndata && scan.nself < 8; i++) {
            scan.self_lo[scan.nself] = me.data_lo[i] & ~(uintptr_t)4095;
            scan.self_hi[scan.nself++] = me.data_hi[i];
        }
    size_t len = sh_os_read_file("/proc/self/maps", maps, maps_cap - 1);
    maps[len] = '\0';
    uintptr_t skip_lo[7] = {(uintptr_t)scan.e, (uintptr_t)scan.work, (uintptr_t)sites,
                            (uintptr_t)index, (uintptr_t)maps};
    uintptr_t skip_hi[7] = {
        skip_lo[0] + scan.cap * sizeof(entry), skip_lo[1] + scan.cap * sizeof(size_t),
        skip_lo[2] + scan.cap * sizeof(site), skip_lo[3] + ((size_t)CK_TRACES) * sizeof(uint32_t),
        skip_lo[4] + maps_cap};
    ck_trace_tables(&skip_lo[5], &skip_hi[5]); /* two: stacks hold code addresses only */
    scan_roots(maps, (uintptr_t)__builtin_frame_address(0), skip_lo, skip_hi, 7);
    classify_lost();

    ck_totals *definite = &totals[0], *indirect = &totals[1], *kept = &totals[2];
    size_t ndefinite = group(sites, index, DEFINITE, definite);
    if (ndefinite > 0) {
        ck_found();
        ck_printf("stackheap: leak: %zu bytes in %zu block%s definitely lost (no pointer to them "
                  "is left), from %zu allocation site%s:\n",
                  definite->bytes, definite->blocks, plural(definite->blocks), ndefinite,
                  plural(ndefinite));
        report_sites(sites, ndefinite, CK_DEFINITELY_LOST,
                     "definitely lost (no pointer to them is left)");
    }
    size_t nindirect = group(sites, index, INDIRECT, indirect);
    if (nindirect > 0) {
        ck_found();
        ck_printf("stackheap: leak: %zu bytes in %zu block%s indirectly lost (only lost blocks "
                  "point to them), from %zu allocation site%s:\n",
                  indirect->bytes, indirect->blocks, plural(indirect->blocks), nindirect,
                  plural(nindirect));
        report_sites(sites, nindirect, CK_INDIRECTLY_LOST,
                     "indirectly lost (only lost blocks point to them)");
    }
    size_t nkept = group(sites, index, REACHED, kept);
    if (nkept > 0 && (ck_opt.show_reachable || ndefinite + nindirect > 0))
        ck_printf("stackheap: %zu bytes in %zu block%s still reachable at exit (a pointer to "
                  "them is left)%s\n",
                  kept->bytes, kept->blocks, plural(kept->blocks),
                  ck_opt.show_reachable ? ", from:" : "; STACKHEAP_CHECK_REACHABLE=1 lists them");
    if (nkept > 0 && ck_opt.show_reachable)
        report_sites(sites, nkept, CK_STILL_REACHABLE, "still reachable at exit");
    ck_suppress_report();
}

/*
 * The live blocks are found by walking the heap's blocks (block.c), then
 * checked and scanned.  Threads still running while the process exits may
 * free a collected block under the scan; check mode accepts that race (the
 * heap never unmaps a segment with a live block, so the scan reads mapped
 * memory).  This thread's quarantine is checked before the scan.
 */
void ck_at_exit(void)
{
    static int done;
    if (__atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL))
        return;
    ck_busy++; /* what libc allocates from here on is not the program's */
    size_t count = 0;
    ck_each_live(count_one, &count);
    scan.cap = count + 1024;
    size_t maps_cap = (size_t)16 << 20;
    scan.e = sh_os_map(scan.cap * sizeof(entry));
    scan.work = sh_os_map(scan.cap * sizeof(size_t));
    site *sites = sh_os_map(scan.cap * sizeof(site));
    uint32_t *index = sh_os_map((size_t)CK_TRACES * sizeof(uint32_t));
    char *maps = sh_os_map(maps_cap);
    ck_totals totals[3] = {{0, 0}, {0, 0}, {0, 0}};
    bool checked = false;
    ck_report_begin();
    if (scan.e == NULL || scan.work == NULL || sites == NULL || index == NULL || maps == NULL) {
        ck_printf("stackheap: check: no exit report: cannot map %zu bytes for it\n",
                  scan.cap * (sizeof(entry) + sizeof(size_t) + sizeof(site)));
    } else {
        ck_each_live(collect, NULL);
        ck_drain_quarantine();
        for (size_t i = 0; i < scan.n; i++)
            ck_check_guards(scan.e[i].b, "at exit");
        if (scan.n > 0)
            leak_report(sites, index, maps, maps_cap, totals);
        checked = true;
    }
    size_t found = ck_findings();
    if (found > 0)
        ck_printf("stackheap: check: %zu problem%s found\n", found, plural(found));
    ck_export_finish(CK_END_EXIT, checked ? totals : NULL);
    ck_report_end();
    if (found > 0 && ck_opt.error_exitcode != 0) {
        fflush(NULL);
        sh_os_exit(ck_opt.error_exitcode);
    }
}

/* ---- the stack's findings ------------------------------------------------------------ */

uint32_t sh_check_stack_site(void *ra)
{
    return ck_busy ? 0 : ck_trace_capture(ra, __builtin_frame_address(0));
}

void sh_check_open_frames(const char *stack, size_t depth, size_t bytes, uint32_t site)
{
    if (ck_opt.valgrind)
        return;
    ck_found();
    ck_finding f = {CK_OPEN_FRAME, NULL, bytes, 0, false};
    ck_finding_begin(&f,
                     "open frame: %zu frame%s of '%s' still open when its thread exited "
                     "(%zu bytes in use): a push without its pop",
                     depth, plural(depth), stack, bytes);
    ck_finding_stack("the innermost open frame's first allocation was made at", site);
    ck_finding_end();
}

void sh_check_popped_write(const char *stack, size_t n, size_t first, size_t last, uint32_t popped,
                           uint32_t now)
{
    if (ck_opt.valgrind)
        return;
    ck_found();
    ck_finding f = {CK_WRITE_AFTER_POP, NULL, n, 0, false};
    ck_finding_begin(&f,
                     "write after pop: %zu byte%s of '%s' written after the frame that held "
                     "them was popped (bytes %zu to %zu of the memory reused here)",
                     n, plural(n), stack, first, last);
    ck_finding_stack("the popped frame's first allocation was made at", popped);
    ck_finding_stack("found when this allocation reused the memory", now);
    ck_finding_end();
}

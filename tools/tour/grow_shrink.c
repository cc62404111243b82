/*
 * grow_shrink.c -- the tour's "heap grows and shrinks" section: 256 MiB in
 * four kinds of blocks, each page of them written so that it is resident,
 * then freed, and the resident set watched while the program sleeps.
 *
 * Resident memory (RSS) is sampled every SAMPLE_MS into a static table and
 * drawn afterwards, one bar a sample.  From the last free until the chart is
 * drawn the section calls no allocator at all (no printf, no fopen: the
 * sampler reads /proc/self/statm with open and read), because malloc's and
 * free's slow paths purge too and would hide what the library does on its
 * own: its purge thread, "stackheap-purge", gives memory back once it has
 * been free for STACKHEAP_PURGE_DELAY milliseconds, while the program
 * sleeps.  With STACKHEAP_BACKGROUND=0 there is no such thread, and with a
 * delay longer than LONGEST_DELAY_WAITED_MS the tour would wait too long: it
 * then says so and calls sh_heap_collect(true) instead.
 *
 * Checked, since the text claims them: the blocks made RSS grow by at least
 * half their size (they were written), and RSS fell back by at least three
 * quarters of that growth within the purge delay plus IDLE_BUDGET_MS.  No
 * time is checked: on a busy machine the purge thread may run late.
 */
#define _GNU_SOURCE
#include "tour.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAMPLE_MS 50
#define IDLE_BUDGET_MS 2000          /* waited beyond the purge delay, at most */
#define LONGEST_DELAY_WAITED_MS 3000 /* a longer STACKHEAP_PURGE_DELAY: collect instead */
#define DEFAULT_PURGE_DELAY_MS 250   /* the header's default */
/* Room for every sample from the peak on, whatever came before. */
#define LATE_SAMPLES ((LONGEST_DELAY_WAITED_MS + IDLE_BUDGET_MS) / SAMPLE_MS + 8)
#define MAX_SAMPLES (LATE_SAMPLES + 160) /* 8 s of growing: beyond it, the chart stops there */
#define BAR_WIDTH 36
#define LABEL_WIDTH 19  /* the widest label: a row is 61 columns before it */
#define GROWING_ROWS 16 /* while allocating, rows drawn at most (about) */
#define PAGE 4096       /* one write per page makes the page resident */

/* The kinds of blocks, by the way the heap keeps them (docs/DESIGN.md). */
typedef struct kind {
    const char *name;
    size_t size, count;
    const char *home;
} kind;

static const kind kinds[] = {
    {"small", 64, (size_t)1 << 20, "many to a page of one size class"},
    {"medium", 16 * KiB, 4096, "a few to a page of one size class"},
    {"span", 512 * KiB, 128, "64 KiB slices of a shared segment"},
    {"large", 8 * MiB, 8, "a mapping of its own"},
};
enum { KINDS = sizeof kinds / sizeof kinds[0] };

typedef enum phase { BEFORE, ALLOCATING, PEAK, FREEING, FREED, IDLE, COLLECTED } phase;

typedef struct sample {
    double ms;  /* since the first sample */
    size_t rss; /* bytes */
    unsigned char phase, kind;
} sample;

/* The samples, static: from the last free on, nothing may allocate. */
static struct {
    sample at[MAX_SAMPLES];
    size_t n;
    double start_ns, next_ns;
} watch;

static void take_sample(phase ph, size_t kind)
{
    double now = tour_now_ns();
    if (watch.n == 0)
        watch.start_ns = now;
    if (watch.n < MAX_SAMPLES)
        watch.at[watch.n++] = (sample){(now - watch.start_ns) / 1e6, tour_rss(), (unsigned char)ph,
                                       (unsigned char)kind};
    watch.next_ns = now + SAMPLE_MS * 1e6;
}

/* Called often from the loops: a sample when SAMPLE_MS have passed, while
   room is left for the samples from the peak on. */
static void sample_if_due(phase ph, size_t kind)
{
    if (tour_now_ns() >= watch.next_ns && watch.n < MAX_SAMPLES - LATE_SAMPLES)
        take_sample(ph, kind);
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0)
        ;
}

/* STACKHEAP_PURGE_DELAY as the library reads it: milliseconds, "ms" allowed;
   anything else means the default. */
static long purge_delay_ms(void)
{
    const char *env = getenv("STACKHEAP_PURGE_DELAY");
    if (env == NULL || *env == '\0')
        return DEFAULT_PURGE_DELAY_MS;
    char *end;
    unsigned long long v = strtoull(env, &end, 10);
    if (end == env || (*end != '\0' && strcmp(end, "ms") != 0) || v > 3600000)
        return DEFAULT_PURGE_DELAY_MS;
    return (long)v;
}

static bool purge_thread_on(void)
{
    const char *env = getenv("STACKHEAP_BACKGROUND");
    return env == NULL || strcmp(env, "0") != 0;
}

static double mib(size_t bytes)
{
    return (double)bytes / (double)MiB;
}

/* The label of a row whose phase (or kind) differs from the row before:
   at most LABEL_WIDTH columns, so that a row fits in 80. */
static const char *label(const sample *s)
{
    static char buf[LABEL_WIDTH + 1];
    switch ((phase)s->phase) {
    case BEFORE:
        return "before";
    case ALLOCATING:
        snprintf(buf, sizeof buf, "%s blocks", kinds[s->kind].name);
        return buf;
    case PEAK:
        return "peak: all written";
    case FREEING:
        return "freeing";
    case FREED:
        return "all freed";
    case IDLE:
        return "asleep, no calls";
    case COLLECTED:
        return "sh_heap_collect";
    }
    return "";
}

/* Every ALLOCATING sample in `stride` is drawn, and the first of each kind;
   every other sample is drawn. */
static void draw_chart(size_t top, size_t stride)
{
    printf("    %6s  %9s\n", "time", "RSS (MiB)");
    for (size_t i = 0, growing = 0; i < watch.n; i++) {
        const sample *s = &watch.at[i];
        bool same = i > 0 && watch.at[i - 1].phase == s->phase && watch.at[i - 1].kind == s->kind;
        if (s->phase == ALLOCATING && growing++ % stride != 0 && same)
            continue;
        int bar = top > 0 ? (int)((double)s->rss / (double)top * BAR_WIDTH + 0.5) : 0;
        if (bar > BAR_WIDTH)
            bar = BAR_WIDTH;
        char bars[BAR_WIDTH + 1];
        memset(bars, '#', (size_t)bar);
        bars[bar] = '\0';
        printf("    %4.2f s  %9.0f |%-*s|%s%s\n", s->ms / 1000, mib(s->rss), BAR_WIDTH, bars,
               same ? "" : " ", same ? "" : label(s));
    }
}

int tour_grow_shrink(void)
{
    tour_heading("The heap grows and shrinks");
    size_t total = 0, count = 0;
    for (size_t k = 0; k < KINDS; k++) {
        total += kinds[k].size * kinds[k].count;
        count += kinds[k].count;
    }
    long delay = purge_delay_ms();
    bool waits = purge_thread_on() && delay <= LONGEST_DELAY_WAITED_MS;
    char b[32], c[32];
    printf("  The heap maps memory from the OS as blocks are allocated, and gives it\n"
           "  back once it has been free for STACKHEAP_PURGE_DELAY (%ld ms here), in case\n"
           "  the program allocates again.  A thread of the library's own does it while\n"
           "  the program sleeps.  %s in four kinds of blocks, every page of them\n"
           "  written (so it is in RAM), then freed, with the %s array of their\n"
           "  addresses:\n\n",
           delay, tour_size(b, sizeof b, total), tour_size(c, sizeof c, count * sizeof(void *)));
    printf("    %-7s %10s %11s %8s   %s\n", "kind", "block", "blocks", "total",
           "where the heap keeps such a block");
    for (size_t k = 0; k < KINDS; k++)
        printf("    %-7s %10s %11s %8s   %s\n", kinds[k].name,
               tour_size(b, sizeof b, kinds[k].size), tour_count(c, sizeof c, kinds[k].count),
               tour_size((char[32]){0}, 32, kinds[k].size * kinds[k].count), kinds[k].home);

    void **blocks = sh_malloc(count * sizeof *blocks);
    if (blocks == NULL)
        return tour_failed("no memory for the table of blocks");
    watch.n = 0;
    take_sample(BEFORE, 0);
    size_t made = 0;
    bool refused = false;
    for (size_t k = 0; k < KINDS && !refused; k++) {
        for (size_t i = 0; i < kinds[k].count; i++) {
            unsigned char *p = sh_malloc(kinds[k].size);
            if (p == NULL) {
                refused = true;
                break;
            }
            for (size_t off = 0; off < kinds[k].size; off += PAGE)
                p[off] = (unsigned char)i;
            p[kinds[k].size - 1] = (unsigned char)k; /* a small block's last byte: its page too */
            blocks[made++] = p;
            if (kinds[k].size >= PAGE || (i & 255) == 0) /* a clock read per page or more */
                sample_if_due(ALLOCATING, k);
        }
    }
    take_sample(PEAK, 0);
    sleep_ms(SAMPLE_MS); /* one more sample at the peak, for the eye */
    take_sample(PEAK, 0);
    size_t peak = watch.at[watch.n - 1].rss;
    for (size_t i = 0; i < made; i++) {
        sh_free(blocks[i]);
        if ((i & 255) == 0)
            sample_if_due(FREEING, 0);
    }
    sh_free(blocks);
    take_sample(FREED, 0);
    size_t just_freed = watch.at[watch.n - 1].rss;
    /* From here to the chart: no allocator call (see the top of the file). */
    double freed_ms = watch.at[watch.n - 1].ms;
    size_t before = watch.at[0].rss;
    size_t growth = peak > before ? peak - before : 0;
    size_t goal = before + growth / 4;
    bool reached = false;
    if (waits) {
        double deadline = tour_now_ns() + (double)(delay + IDLE_BUDGET_MS) * 1e6;
        while (tour_now_ns() < deadline && watch.n < MAX_SAMPLES) {
            sleep_ms(SAMPLE_MS);
            take_sample(IDLE, 0);
            size_t now = watch.at[watch.n - 1].rss, prev = watch.at[watch.n - 2].rss;
            reached = reached || now <= goal;
            /* past the goal, sample on while RSS still falls: a purge pass may be under way */
            if (reached && prev < now + MiB)
                break;
        }
    } else {
        sh_heap_collect(true);
        take_sample(COLLECTED, 0);
        reached = watch.at[watch.n - 1].rss <= goal;
    }
    const sample *last = &watch.at[watch.n - 1];

    size_t growing = 0;
    for (size_t i = 0; i < watch.n; i++)
        growing += watch.at[i].phase == ALLOCATING;
    size_t stride = (growing + GROWING_ROWS - 1) / GROWING_ROWS;
    stride = stride > 0 ? stride : 1;
    printf("\n  Resident memory (RSS: this process's pages in RAM, from /proc/self/statm),\n"
           "  sampled every %d ms; from the last free on, the tour makes no allocator call.\n",
           SAMPLE_MS);
    if (stride > 1)
        printf("  While the blocks are allocated, one sample in %zu is drawn.\n", stride);
    printf("\n");
    draw_chart(peak > last->rss ? peak : last->rss, stride);
    size_t back = peak > last->rss ? peak - last->rss : 0;
    printf("\n    %-24s %7.1f MiB\n", "before", mib(before));
    printf("    %-24s %7.1f MiB   %.1f MiB more\n", "at the peak", mib(peak), mib(growth));
    printf("    %-24s %7.1f MiB   %s\n", "just after the frees", mib(just_freed),
           just_freed > before + growth / 2 ? "most kept, in case it is reused"
                                            : "most given back at the frees");
    printf("    %-24s %7.1f MiB   %.1f MiB back to the OS (%.1f%%)\n",
           waits ? "after sleeping" : "after the collect", mib(last->rss), mib(back),
           growth > 0 ? 100.0 * (double)back / (double)growth : 0.0);
    /* How it went back; when it did not, the failure below says so instead. */
    if (reached && !waits)
        printf("\n  %s, so the tour does not wait: it\n"
               "  called sh_heap_collect(true), which gives free memory back at once.\n",
               purge_thread_on() ? "STACKHEAP_PURGE_DELAY is longer than the tour would wait"
                                 : "STACKHEAP_BACKGROUND=0 turns the purge thread off");
    else if (reached && just_freed <= goal)
        printf(delay == 0 ? "\n  STACKHEAP_PURGE_DELAY=0: the frees gave it back at once.\n"
                          : "\n  It was back before the frees ended: they took longer than the\n"
                            "  purge delay.\n");
    else if (reached)
        printf("\n  The purge thread gave it back %.2f s after the frees, while the program\n"
               "  slept.  (malloc_trim(0) or sh_heap_collect(true) do it at once.)\n",
               (last->ms - freed_ms) / 1000);

    tour_measured.heap_peak_growth = growth;
    tour_measured.heap_given_back = back;
    tour_measured.heap_idle_ms = waits ? last->ms - freed_ms : 0;
    if (refused)
        return tour_failed("sh_malloc refused a block: the heap could not grow");
    if (growth < total / 2)
        return tour_failed("RSS did not grow by half the blocks' size though each page was "
                           "written");
    if (!reached)
        return tour_failed(waits ? "RSS did not fall by three quarters of the growth while the "
                                   "program slept (is the machine swamped?)"
                                 : "RSS did not fall by three quarters of the growth at "
                                   "sh_heap_collect(true)");
    return 0;
}

/*
 * harness_report.c -- the side-by-side benchmark's text report and CSV.
 *
 * The report is plain aligned text, one table for wall time, one for peak
 * RSS and one for CPU time (user + system, of the workload's processes: the
 * steadier figure where threads finish apart): a row per workload, a
 * column per allocator holding the median and its ratio to the baseline
 * (mimalloc, else glibc), then a geometric-mean row of the ratios.  A
 * failed cell reads FAILED and its reason is listed under the tables; a
 * geometric mean leaves out the workloads where the allocator or the
 * baseline failed, and says how many it used when that is not all of them.
 * The `report:` values a workload prints (median over its runs) follow, one
 * small table per workload.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static bool cell_usable(const bench_cell *c)
{
    return !c->failed && c->ok > 0;
}

/* c's median of metric m. */
static double cell_median(const bench_cell *c, bench_metric m)
{
    return m == BENCH_RSS ? c->median_rss_kib : m == BENCH_CPU ? c->median_cpu_s : c->median_s;
}

/* c's ratio to the baseline of metric m. */
static double cell_ratio(const bench_cell *c, bench_metric m)
{
    return m == BENCH_RSS ? c->rss_ratio : m == BENCH_CPU ? c->cpu_ratio : c->time_ratio;
}

/* Geometric mean over the workloads of allocator a's median over allocator
   ref's (of metric m), where both succeeded; *used gets the count. */
static double geomean_vs(const bench_suite *b, int a, int ref, bench_metric m, int *used)
{
    double log_sum = 0;
    int n = 0;
    for (int i = 0; i < b->nwork; i++) {
        const bench_workload *w = &b->work[i];
        if (w->skipped || !cell_usable(&w->cell[a]) || !cell_usable(&w->cell[ref]))
            continue;
        double x = cell_median(&w->cell[a], m), y = cell_median(&w->cell[ref], m);
        if (x > 0 && y > 0) {
            log_sum += log(x / y);
            n++;
        }
    }
    *used = n;
    return n > 0 ? exp(log_sum / n) : NAN;
}

static double geomean_of(const bench_suite *b, int a, bench_metric m, int *used)
{
    if (b->baseline < 0) {
        *used = 0;
        return NAN;
    }
    return geomean_vs(b, a, b->baseline, m, used);
}

double bench_geomean(const bench_suite *b, int a, bool rss, int *used)
{
    return geomean_of(b, a, rss ? BENCH_RSS : BENCH_WALL, used);
}

static int active_workloads(const bench_suite *b)
{
    int n = 0;
    for (int i = 0; i < b->nwork; i++)
        n += !b->work[i].skipped;
    return n;
}

enum { NAME_W = 14, CELL_W = 14 };

static void format_ratio(double r, char *out, size_t cap)
{
    if (isnan(r))
        snprintf(out, cap, "    -");
    else if (r < 10)
        snprintf(out, cap, "%4.2fx", r);
    else if (r < 100)
        snprintf(out, cap, "%4.1fx", r);
    else
        snprintf(out, cap, "%4.0fx", r);
}

static void format_value(double v, bool rss, char *out, size_t cap)
{
    if (rss)
        v /= 1024; /* KiB -> MiB */
    if (v < 10)
        snprintf(out, cap, "%7.3f", v);
    else if (v < 1000)
        snprintf(out, cap, "%7.2f", v);
    else
        snprintf(out, cap, "%7.0f", v);
}

static void print_table(const bench_suite *b, bench_metric m, FILE *out)
{
    bool rss = m == BENCH_RSS;
    const char *what = rss              ? "Peak RSS (MiB, median"
                       : m == BENCH_CPU ? "CPU time (user + system seconds of the workload's "
                                          "processes, median"
                                        : "Wall time (seconds, median";
    if (b->baseline >= 0)
        fprintf(out, "%s; x = ratio to %s)\n", what, b->alloc[b->baseline].name);
    else
        fprintf(out, "%s; no ratios: they are to mimalloc or glibc, and neither ran)\n", what);
    fprintf(out, "%-*s", NAME_W, "workload");
    for (int a = 0; a < b->nalloc; a++)
        fprintf(out, "%*s", CELL_W, b->alloc[a].name);
    fputc('\n', out);
    for (int i = 0; i < b->nwork; i++) {
        const bench_workload *w = &b->work[i];
        if (w->skipped)
            continue;
        fprintf(out, "%-*.*s", NAME_W, NAME_W - 1, w->name);
        for (int a = 0; a < b->nalloc; a++) {
            const bench_cell *c = &w->cell[a];
            char v[32], r[32], cell[80];
            if (!cell_usable(c)) {
                fprintf(out, "%*s", CELL_W, "FAILED");
                continue;
            }
            format_value(cell_median(c, m), rss, v, sizeof v);
            format_ratio(cell_ratio(c, m), r, sizeof r);
            snprintf(cell, sizeof cell, "%s %s", v, r);
            fprintf(out, "%*s", CELL_W, cell);
        }
        fputc('\n', out);
    }
    if (b->baseline < 0) {
        fputc('\n', out);
        return;
    }
    fprintf(out, "%-*s", NAME_W, "geomean");
    int active = active_workloads(b);
    bool partial = false;
    for (int a = 0; a < b->nalloc; a++) {
        int used;
        char r[32];
        format_ratio(geomean_of(b, a, m, &used), r, sizeof r);
        partial |= used < active;
        fprintf(out, "%*s", CELL_W, r);
    }
    fputc('\n', out);
    if (partial) {
        fprintf(out, "  (fewer workloads where it or %s failed:", b->alloc[b->baseline].name);
        for (int a = 0; a < b->nalloc; a++) {
            int used;
            geomean_of(b, a, m, &used);
            if (used < active)
                fprintf(out, " %s %d of %d", b->alloc[a].name, used, active);
        }
        fputs(")\n", out);
    }
    fputc('\n', out);
}

/* stackheap against the goals, in one paragraph. */
static void print_stackheap_summary(const bench_suite *b, FILE *out)
{
    int sh = -1, glibc = -1;
    for (int a = 0; a < b->nalloc; a++) {
        if (strcmp(b->alloc[a].name, "stackheap") == 0)
            sh = a;
        if (strcmp(b->alloc[a].name, "glibc") == 0)
            glibc = a;
    }
    if (sh < 0 || b->nalloc < 2)
        return;
    fprintf(out, "stackheap in short (geometric means over the workloads both completed):\n");
    for (int a = 0; a < b->nalloc; a++) {
        if (a == sh || (a != b->baseline && a != glibc))
            continue;
        int nt, nr, nc;
        double t = geomean_vs(b, sh, a, BENCH_WALL, &nt), r = geomean_vs(b, sh, a, BENCH_RSS, &nr),
               cpu = geomean_vs(b, sh, a, BENCH_CPU, &nc);
        fprintf(out, "  vs %-9s time %5.2fx, peak RSS %5.2fx, CPU time %5.2fx  (%d workloads)\n",
                b->alloc[a].name, t, r, cpu, nt);
    }
    /* the workload where stackheap is furthest behind the best other allocator */
    double worst = 0;
    const char *worst_w = NULL, *worst_peer = NULL;
    for (int i = 0; i < b->nwork; i++) {
        const bench_workload *w = &b->work[i];
        if (w->skipped || !cell_usable(&w->cell[sh]))
            continue;
        int best = -1;
        for (int a = 0; a < b->nalloc; a++)
            if (a != sh && cell_usable(&w->cell[a]) &&
                (best < 0 || w->cell[a].median_s < w->cell[best].median_s))
                best = a;
        if (best < 0)
            continue;
        double r = w->cell[sh].median_s / w->cell[best].median_s;
        if (worst_w == NULL || r > worst) {
            worst = r;
            worst_w = w->name;
            worst_peer = b->alloc[best].name;
        }
    }
    if (worst_w != NULL)
        fprintf(out, "  furthest behind the best other allocator: %s, %.2fx %s's time\n", worst_w,
                worst, worst_peer);
    fputc('\n', out);
}

static void format_number(double v, char *out, size_t cap)
{
    if (isnan(v))
        snprintf(out, cap, "-");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(out, cap, "%.0f", v);
    else
        snprintf(out, cap, "%.4g", v);
}

static void print_reports(const bench_suite *b, FILE *out)
{
    for (int i = 0; i < b->nwork; i++) {
        const bench_workload *w = &b->work[i];
        if (w->skipped || w->nkeys == 0)
            continue;
        int key_w = 4;
        for (int k = 0; k < w->nkeys; k++)
            if ((int)strlen(w->keys[k]) > key_w)
                key_w = (int)strlen(w->keys[k]);
        fprintf(out, "%s reports (median over the runs)\n%-*s", w->name, key_w + 2, "key");
        for (int a = 0; a < b->nalloc; a++)
            fprintf(out, "%*s", CELL_W, b->alloc[a].name);
        fputc('\n', out);
        for (int k = 0; k < w->nkeys; k++) {
            fprintf(out, "%-*s", key_w + 2, w->keys[k]);
            for (int a = 0; a < b->nalloc; a++) {
                char v[40];
                format_number(w->cell[a].report_median[k], v, sizeof v);
                fprintf(out, "%*s", CELL_W, w->cell[a].failed ? "FAILED" : v);
            }
            fputc('\n', out);
        }
        fputc('\n', out);
    }
}

void bench_print_report(const bench_suite *b, FILE *out)
{
    fprintf(out,
            "Side by side: %d workloads x %d allocators, the median of %d runs each (%s "
            "mode); lower is better\n\n",
            active_workloads(b), b->nalloc, b->runs, b->quick ? "quick" : "full");
    int name_w = 8;
    for (int i = 0; i < b->nwork; i++)
        if ((int)strlen(b->work[i].name) > name_w)
            name_w = (int)strlen(b->work[i].name);
    for (int i = 0; i < b->nwork; i++) {
        const bench_workload *w = &b->work[i];
        fprintf(out, "  %-*s  %s", name_w, w->name, w->desc);
        if (w->skipped)
            fprintf(out, "  (skipped: %s)", w->skip_why);
        else if (w->reference_sum[0] == '\0')
            fprintf(out, "  (prints no checksum)");
        fputc('\n', out);
    }
    fputc('\n', out);
    print_table(b, BENCH_WALL, out);
    print_table(b, BENCH_RSS, out);
    print_table(b, BENCH_CPU, out);
    print_stackheap_summary(b, out);
    print_reports(b, out);
    bool any = false;
    for (int i = 0; i < b->nwork; i++)
        for (int a = 0; a < b->nalloc; a++) {
            const bench_workload *w = &b->work[i];
            const bench_cell *c = &w->cell[a];
            if (w->skipped || !c->failed)
                continue;
            if (!any)
                fprintf(out, "Failures (each FAILED cell; its numbers are left out):\n");
            any = true;
            fprintf(out, "  %s under %s: %s (%d of %d runs completed)\n", w->name, b->alloc[a].name,
                    c->why, c->ok, c->runs);
        }
    if (any)
        fputc('\n', out);
}

/* Write one CSV field: quoted when it holds a comma, a quote or a newline. */
static void csv_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\n") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_number(FILE *f, const char *fmt, double v)
{
    fputc(',', f);
    if (!isnan(v))
        fprintf(f, fmt, v);
}

bool bench_write_csv(const bench_suite *b, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "sh_bench: cannot write %s: %s\n", path, strerror(errno));
        return false;
    }
    /* the report keys of every workload, in order of first appearance */
    const char *keys[BENCH_MAX_WORKLOADS * BENCH_MAX_KEYS];
    int nkeys = 0;
    for (int i = 0; i < b->nwork; i++)
        for (int k = 0; k < b->work[i].nkeys; k++) {
            int j = 0;
            while (j < nkeys && strcmp(keys[j], b->work[i].keys[k]) != 0)
                j++;
            if (j == nkeys)
                keys[nkeys++] = b->work[i].keys[k];
        }
    fputs("workload,allocator,runs,median_s,median_rss_kib,time_ratio,rss_ratio,median_cpu_s,"
          "cpu_ratio,status",
          f);
    for (int j = 0; j < nkeys; j++) {
        fputc(',', f);
        csv_field(f, keys[j]);
    }
    fputc('\n', f);
    for (int i = 0; i < b->nwork; i++) {
        const bench_workload *w = &b->work[i];
        if (w->skipped)
            continue;
        for (int a = 0; a < b->nalloc; a++) {
            const bench_cell *c = &w->cell[a];
            bool usable = cell_usable(c);
            csv_field(f, w->name);
            fputc(',', f);
            csv_field(f, b->alloc[a].name);
            fprintf(f, ",%d", c->ok);
            csv_number(f, "%.6f", usable ? c->median_s : NAN);
            csv_number(f, "%.0f", usable ? c->median_rss_kib : NAN);
            csv_number(f, "%.4f", c->time_ratio);
            csv_number(f, "%.4f", c->rss_ratio);
            csv_number(f, "%.6f", usable ? c->median_cpu_s : NAN);
            csv_number(f, "%.4f", c->cpu_ratio);
            fputc(',', f);
            if (c->failed) {
                char status[BENCH_WHY_LEN + 16];
                snprintf(status, sizeof status, "FAILED: %s", c->why);
                csv_field(f, status);
            } else {
                fputs("ok", f);
            }
            for (int j = 0; j < nkeys; j++) {
                int k = 0;
                while (k < w->nkeys && strcmp(w->keys[k], keys[j]) != 0)
                    k++;
                csv_number(f, "%.10g", k < w->nkeys && usable ? c->report_median[k] : NAN);
            }
            fputc('\n', f);
        }
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "sh_bench: cannot write %s: %s\n", path, strerror(errno));
        return false;
    }
    return true;
}

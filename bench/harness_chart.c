/*
 * harness_chart.c -- the side-by-side benchmark's chart, as SVG.
 *
 * Two panels of grouped bars, wall time and peak RSS, one group per workload
 * and a last group for the geometric mean, one bar per allocator.  A bar is
 * the allocator's median over the baseline's (mimalloc, else glibc) on a log
 * scale, drawn from the 1.0 line: up is worse than the baseline, down is
 * better, and the same factor looks the same size either way.  stackheap's
 * bars and the geometric-mean group carry their value; a failed cell is
 * marked FAILED where its bar would be.
 *
 * With gnuplot installed (Debian's gnuplot-nox) the chart is a generated
 * gnuplot script run through its SVG terminal; without it (or with
 * --no-gnuplot) it is drawn here, the same design, with a tooltip per bar.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MAX_GROUPS = BENCH_MAX_WORKLOADS + 1 };

/* What both renderers draw: groups x allocators x {time, rss}. */
typedef struct {
    int ngroups, nalloc;
    const char *group[MAX_GROUPS];
    const char *alloc[BENCH_MAX_ALLOCS];
    const char *color[BENCH_MAX_ALLOCS];
    double ratio[2][MAX_GROUPS][BENCH_MAX_ALLOCS]; /* NaN: no bar */
    bool failed[MAX_GROUPS][BENCH_MAX_ALLOCS];
    int label_alloc;    /* whose bars carry their value (stackheap), or -1 */
    int baseline;       /* the allocator every ratio is to: its bars are all 1 */
    int lo2[2], hi2[2]; /* each panel's y range: [2^lo2, 2^hi2] */
    char title[256];
    char ylabel[2][96];
} chart;

static const char *color_of(const char *alloc)
{
    static const struct {
        const char *name, *color;
    } colors[] = {
        {"stackheap", "#d62728"}, {"glibc", "#8c8c8c"},    {"mimalloc", "#1f77b4"},
        {"jemalloc", "#2ca02c"},  {"tcmalloc", "#9467bd"},
    };
    for (size_t i = 0; i < sizeof colors / sizeof colors[0]; i++)
        if (strcmp(colors[i].name, alloc) == 0)
            return colors[i].color;
    return "#ff7f0e";
}

static void build_chart(const bench_suite *b, chart *c)
{
    memset(c, 0, sizeof *c);
    c->nalloc = b->nalloc;
    c->label_alloc = -1;
    c->baseline = b->baseline;
    for (int a = 0; a < b->nalloc; a++) {
        c->alloc[a] = b->alloc[a].name;
        c->color[a] = color_of(b->alloc[a].name);
        if (strcmp(b->alloc[a].name, "stackheap") == 0)
            c->label_alloc = a;
    }
    for (int i = 0; i < b->nwork; i++) {
        const bench_workload *w = &b->work[i];
        if (w->skipped)
            continue;
        int g = c->ngroups++;
        c->group[g] = w->name;
        for (int a = 0; a < b->nalloc; a++) {
            c->ratio[0][g][a] = w->cell[a].time_ratio;
            c->ratio[1][g][a] = w->cell[a].rss_ratio;
            c->failed[g][a] = w->cell[a].failed || w->cell[a].ok == 0;
        }
    }
    int g = c->ngroups++;
    c->group[g] = "geomean";
    for (int a = 0; a < b->nalloc; a++) {
        int used;
        c->ratio[0][g][a] = bench_geomean(b, a, false, &used);
        c->ratio[1][g][a] = bench_geomean(b, a, true, &used);
    }
    for (int m = 0; m < 2; m++) {
        double lo = 1, hi = 1;
        for (int i = 0; i < c->ngroups; i++)
            for (int a = 0; a < c->nalloc; a++) {
                double r = c->ratio[m][i][a];
                if (isfinite(r) && r > 0) {
                    lo = fmin(lo, r);
                    hi = fmax(hi, r);
                }
            }
        /* room above and below for the value labels, and at least 0.5x..2x */
        c->lo2[m] = (int)floor(log2(lo) - 0.35);
        c->hi2[m] = (int)ceil(log2(hi) + 0.35);
        if (c->lo2[m] > -1)
            c->lo2[m] = -1;
        if (c->hi2[m] < 1)
            c->hi2[m] = 1;
    }
    const char *base = b->alloc[b->baseline].name;
    char date[32];
    time_t t = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d", localtime(&t));
    snprintf(c->title, sizeof c->title,
             "Allocators side by side, as a ratio to %s (lower is better): median of %d runs, %s "
             "mode, %s",
             base, b->runs, b->quick ? "quick" : "full", date);
    snprintf(c->ylabel[0], sizeof c->ylabel[0], "wall time / %s's", base);
    snprintf(c->ylabel[1], sizeof c->ylabel[1], "peak RSS / %s's", base);
}

static const char *tick_label(int e, char *buf, size_t cap)
{
    double v = ldexp(1, e);
    if (e >= 0)
        snprintf(buf, cap, "%.0fx", v);
    else
        snprintf(buf, cap, "%gx", v);
    return buf;
}

/* ---- gnuplot --------------------------------------------------------------- */

/* s as a gnuplot double-quoted string's contents */
static void gp_string(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
}

static void write_gnuplot_script(const chart *c, FILE *f, const char *svg_path)
{
    int width = c->ngroups * 95 + 160;
    if (width < 900)
        width = 900;
    fprintf(f,
            "set terminal svg size %d,860 dynamic noenhanced font 'sans,11' background "
            "rgb 'white'\n",
            width);
    fputs("set output '", f);
    for (const char *p = svg_path; *p; p++) {
        if (*p == '\'')
            fputc('\'', f);
        fputc(*p, f);
    }
    fputs("'\n", f);
    double bw = 0.8 / c->nalloc;
    for (int m = 0; m < 2; m++)
        for (int a = 0; a < c->nalloc; a++) {
            fprintf(f, "$m%da%d << EOD\n", m, a);
            int rows = 0;
            for (int g = 0; g < c->ngroups; g++) {
                double r = c->ratio[m][g][a];
                if (!isfinite(r) || r <= 0)
                    continue;
                double x = g + (a - (c->nalloc - 1) / 2.0) * bw;
                fprintf(f, "%.4f %.6g %.4f %.4f %.6g %.6g\n", x, r, x - bw / 2, x + bw / 2,
                        fmin(r, 1), fmax(r, 1));
                rows++;
            }
            if (rows == 0) /* keep the key entry: one invisible point */
                fprintf(f, "-10 1 -10 -10 1 1\n");
            fputs("EOD\n", f);
        }
    fprintf(f, "set multiplot layout 2,1 title \"");
    gp_string(f, c->title);
    fputs("\" font 'sans,13'\n", f);
    fputs("set style fill solid 0.9 border rgb '#333333'\n"
          "set grid ytics lc rgb '#dddddd' lt 1\n"
          "set key outside top center horizontal samplen 1.5\n"
          "set logscale y 2\n"
          "set bmargin 7\nset lmargin 12\nset rmargin 3\n",
          f);
    fputs("set xtics rotate by 30 right nomirror (", f);
    for (int g = 0; g < c->ngroups; g++) {
        fprintf(f, "%s\"", g ? ", " : "");
        gp_string(f, c->group[g]);
        fprintf(f, "\" %d", g);
    }
    fputs(")\n", f);
    fprintf(f, "set xrange [-0.6:%f]\n", c->ngroups - 0.4);
    for (int m = 0; m < 2; m++) {
        char buf[32];
        fprintf(f, "unset label\nunset arrow\n");
        fprintf(f, "set yrange [%g:%g]\n", ldexp(1, c->lo2[m]), ldexp(1, c->hi2[m]));
        fputs("set ytics (", f);
        for (int e = c->lo2[m]; e <= c->hi2[m]; e++)
            fprintf(f, "%s\"%s\" %g", e > c->lo2[m] ? ", " : "", tick_label(e, buf, sizeof buf),
                    ldexp(1, e));
        fputs(")\n", f);
        fprintf(f, "set ylabel \"");
        gp_string(f, c->ylabel[m]);
        fputs("\"\n", f);
        fprintf(f, "set arrow from -0.6,1 to %f,1 nohead dt 2 lw 1.5 lc rgb 'black' front\n",
                c->ngroups - 0.4);
        fprintf(f, "set arrow from %f,graph 0 to %f,graph 1 nohead dt 3 lc rgb '#999999'\n",
                c->ngroups - 1.5, c->ngroups - 1.5);
        for (int g = 0; g < c->ngroups; g++)
            for (int a = 0; a < c->nalloc; a++) {
                double x = g + (a - (c->nalloc - 1) / 2.0) * bw;
                double r = c->ratio[m][g][a];
                if (c->failed[g][a]) {
                    fprintf(f,
                            "set label \"FAILED\" at %.4f,1 center rotate by 90 font ',8' "
                            "tc rgb '#d62728' front\n",
                            x);
                } else if (isfinite(r) && r > 0 && (a == c->label_alloc || g == c->ngroups - 1)) {
                    fprintf(f,
                            "set label \"%.2f\" at %.4f,%.6g %s rotate by 90 font ',8' "
                            "offset 0,%s front\n",
                            r, x, r, r >= 1 ? "left" : "right", r >= 1 ? "0.3" : "-0.3");
                }
            }
        if (m == 1)
            fputs("unset key\n", f); /* one legend, above the first panel */
        fputs("plot ", f);
        for (int a = 0; a < c->nalloc; a++) {
            fprintf(f, "%s$m%da%d using 1:2:3:4:5:6 with boxxyerror lc rgb '%s' title \"",
                    a ? ", " : "", m, a, c->color[a]);
            gp_string(f, c->alloc[a]);
            fputs(a == c->baseline ? " (= 1)\"" : "\"", f);
        }
        fputs("\n", f);
    }
    fputs("unset multiplot\n", f);
}

/* Run gnuplot on script; 0 on success, 127 when it is not installed. */
static int run_gnuplot(const char *script, const char *log)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* ---- drawn here -------------------------------------------------------------- */

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '"')
            fputs("&quot;", f);
        else
            fputc(*s, f);
    }
}

static void write_own_svg(const chart *c, FILE *f)
{
    const double left = 80, right = 20, top = 90, ph = 280, gap = 110;
    double width = c->ngroups * 95 + 160;
    if (width < 900)
        width = 900;
    double height = top + 2 * ph + gap + 90;
    double pw = width - left - right, gw = pw / c->ngroups, bw = gw * 0.8 / c->nalloc;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            width, height, width, height);
    fprintf(f, "<text x=\"%.1f\" y=\"26\" text-anchor=\"middle\" font-size=\"15\">", width / 2);
    xml_text(f, c->title);
    fputs("</text>\n", f);
    /* the legend, centred under the title; a name takes about 7 px a letter */
    double item[BENCH_MAX_ALLOCS], total = 0;
    for (int a = 0; a < c->nalloc; a++) {
        item[a] = 40 + 7.2 * (double)(strlen(c->alloc[a]) + (a == c->baseline ? 6 : 0));
        total += item[a];
    }
    double lx = (width - total) / 2;
    for (int a = 0; a < c->nalloc; a++) {
        fprintf(f,
                "<rect x=\"%.1f\" y=\"42\" width=\"14\" height=\"14\" fill=\"%s\"/>"
                "<text x=\"%.1f\" y=\"54\">",
                lx, c->color[a], lx + 20);
        xml_text(f, c->alloc[a]);
        fputs(a == c->baseline ? " (= 1)</text>\n" : "</text>\n", f);
        lx += item[a];
    }
    for (int m = 0; m < 2; m++) {
        double y0 = top + m * (ph + gap), span = c->hi2[m] - c->lo2[m];
#define YPOS(r) (y0 + ph * (c->hi2[m] - log2(r)) / span)
        for (int e = c->lo2[m]; e <= c->hi2[m]; e++) {
            char buf[32];
            double y = YPOS(ldexp(1, e));
            fprintf(f,
                    "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#dddddd\"/>"
                    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                    left, left + pw, y, y, left - 6, y + 4, tick_label(e, buf, sizeof buf));
        }
        fprintf(f, "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" text-anchor=\"middle\">",
                left - 50, y0 + ph / 2);
        xml_text(f, c->ylabel[m]);
        fputs("</text>\n", f);
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                "stroke=\"#333333\"/>\n",
                left, y0, pw, ph);
        /* the geometric mean's group, set apart */
        double sep = left + (c->ngroups - 1) * gw;
        fprintf(f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#999999\" "
                "stroke-dasharray=\"2,3\"/>\n",
                sep, sep, y0, y0 + ph);
        for (int g = 0; g < c->ngroups; g++) {
            double cx = left + (g + 0.5) * gw;
            for (int a = 0; a < c->nalloc; a++) {
                double x = cx + (a - c->nalloc / 2.0) * bw, r = c->ratio[m][g][a];
                if (c->failed[g][a]) {
                    fprintf(f,
                            "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" "
                            "text-anchor=\"middle\" font-size=\"9\" fill=\"#d62728\">FAILED"
                            "</text>\n",
                            x + bw / 2 + 3, YPOS(1));
                    continue;
                }
                if (!isfinite(r) || r <= 0)
                    continue;
                double ya = YPOS(1), yb = YPOS(r);
                double y = fmin(ya, yb), hgt = fmax(fabs(yb - ya), 1);
                fprintf(f,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                        "fill=\"%s\" stroke=\"#333333\" stroke-width=\"0.5\"><title>",
                        x, y, bw, hgt, c->color[a]);
                xml_text(f, c->group[g]);
                fprintf(f, ", %s: %.2fx</title></rect>\n", c->alloc[a], r);
                if (a == c->label_alloc || g == c->ngroups - 1)
                    fprintf(f,
                            "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" "
                            "text-anchor=\"%s\" font-size=\"9\">%.2f</text>\n",
                            x + bw / 2 + 3, r >= 1 ? y - 3 : y + hgt + 3, r >= 1 ? "start" : "end",
                            r);
            }
            fprintf(f,
                    "<text transform=\"translate(%.1f,%.1f) rotate(-30)\" "
                    "text-anchor=\"end\">",
                    cx + 4, y0 + ph + 16);
            xml_text(f, c->group[g]);
            fputs("</text>\n", f);
        }
        fprintf(f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"black\" "
                "stroke-width=\"1.5\" stroke-dasharray=\"6,4\"/>\n",
                left, left + pw, YPOS(1), YPOS(1));
#undef YPOS
    }
    fputs("</svg>\n", f);
}

/* The last non-empty line of a small file, for a message. */
static const char *last_log_line(const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "no message");
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return out;
    char buf[256];
    while (fgets(buf, sizeof buf, f) != NULL) {
        buf[strcspn(buf, "\n")] = '\0';
        if (buf[0] != '\0')
            snprintf(out, cap, "%s", buf);
    }
    fclose(f);
    return out;
}

bool bench_write_svg(const bench_suite *b, const char *path)
{
    if (b->baseline < 0) {
        fprintf(stderr, "sh_bench: no chart: its ratios need mimalloc or glibc in the run\n");
        return true;
    }
    static chart c; /* large: not on the stack */
    build_chart(b, &c);
    if (b->use_gnuplot) {
        char script[4096], log[4096], line[256];
        snprintf(script, sizeof script, "%s/chart.gp", b->scratch);
        snprintf(log, sizeof log, "%s/gnuplot.log", b->scratch);
        FILE *f = fopen(script, "w");
        if (f != NULL) {
            write_gnuplot_script(&c, f, path);
            fclose(f);
            int rc = run_gnuplot(script, log);
            if (rc == 0)
                return true;
            if (rc == 127)
                fprintf(stderr, "sh_bench: gnuplot is not installed (apt-get install "
                                "gnuplot-nox): the chart is drawn by sh_bench instead\n");
            else
                fprintf(stderr,
                        "sh_bench: gnuplot failed (exit %d: %s): the chart is drawn by "
                        "sh_bench instead\n",
                        rc, last_log_line(log, line, sizeof line));
        }
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "sh_bench: cannot write %s: %s\n", path, strerror(errno));
        return false;
    }
    write_own_svg(&c, f);
    if (fclose(f) != 0) {
        fprintf(stderr, "sh_bench: cannot write %s: %s\n", path, strerror(errno));
        return false;
    }
    return true;
}

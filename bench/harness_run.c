/*
 * harness_run.c -- one run of a workload under an allocator, and what the
 * runs add up to.
 *
 * bench_run_once measures a run (see harness.c for how and why) and records
 * it in its cell: a failed run marks the cell failed with the first reason;
 * a successful one adds its time, peak RSS, checksum and `report:` values.
 * bench_summarise then holds every run's checksum against the reference
 * (glibc's most common one, else the most common of all) and takes the
 * medians and the ratios to the baseline.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The file's contents as a string (at most limit bytes, the last ones). */
static char *slurp(const char *path, size_t limit)
{
    char *buf = NULL;
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0) {
        size_t size = (size_t)st.st_size;
        off_t from = size > limit ? (off_t)(size - limit) : 0;
        size = size > limit ? limit : size;
        buf = bench_xmalloc(size + 1);
        ssize_t got = pread(fd, buf, size, from);
        buf[got > 0 ? got : 0] = '\0';
    }
    if (fd >= 0)
        close(fd);
    return buf ? buf : bench_xstrdup("");
}

/* The last non-empty line of text, copied into out (trimmed). */
static void last_line(const char *text, char *out, size_t cap)
{
    const char *end = text + strlen(text);
    while (end > text && (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\r'))
        end--;
    const char *start = end;
    while (start > text && start[-1] != '\n')
        start--;
    snprintf(out, cap, "%.*s", (int)(end - start), start);
}

static int key_index(bench_workload *w, const char *key)
{
    for (int i = 0; i < w->nkeys; i++)
        if (strcmp(w->keys[i], key) == 0)
            return i;
    if (w->nkeys == BENCH_MAX_KEYS)
        return -1;
    snprintf(w->keys[w->nkeys], BENCH_KEY_LEN, "%s", key);
    for (int a = 0; a < BENCH_MAX_ALLOCS; a++)
        for (int r = 0; r < BENCH_MAX_RUNS; r++)
            w->cell[a].report[w->nkeys][r] = NAN;
    return w->nkeys++;
}

/* Take the checksum and the `report:` lines of a successful run's stdout. */
static void parse_stdout(bench_workload *w, bench_cell *c, int slot, char *text)
{
    c->sum[slot][0] = '\0';
    for (int k = 0; k < w->nkeys; k++)
        c->report[k][slot] = NAN;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        line[strcspn(line, "\r")] = '\0';
        if (strncmp(line, "checksum ", 9) == 0) {
            snprintf(c->sum[slot], BENCH_SUM_LEN, "%s", line + 9 + strspn(line + 9, " "));
        } else if (strncmp(line, "report:", 7) == 0) {
            char key[BENCH_KEY_LEN];
            double value;
            if (sscanf(line + 7, " %47s %lf", key, &value) == 2) {
                int k = key_index(w, key);
                if (k >= 0)
                    c->report[k][slot] = value;
            }
        } else if (line[0] != '\0') {
            c->sum[slot][0] = '\0'; /* only the last line counts as the checksum */
        }
    }
}

static void fail_cell(bench_cell *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_cell(bench_cell *c, const char *fmt, ...)
{
    if (c->failed)
        return; /* the first reason is the one reported */
    c->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
}

void bench_run_once(bench_suite *b, const bench_runner *r, bench_workload *w, int a)
{
    bench_cell *c = &w->cell[a];
    char out_path[PATH_MAX], err_path[PATH_MAX];
    snprintf(out_path, sizeof out_path, "%s/stdout", b->scratch);
    snprintf(err_path, sizeof err_path, "%s/stderr", b->scratch);
    bool shell = bench_needs_shell(w->command);
    char *words = bench_xstrdup(w->command);
    char *argv[256];
    int argc = 0;
    char *tool = b->alloc[a].wrapper != NULL ? bench_xstrdup(b->alloc[a].wrapper) : NULL;
    for (char *save = NULL, *tok = tool != NULL ? strtok_r(tool, " ", &save) : NULL;
         tok != NULL && argc < 16; tok = strtok_r(NULL, " ", &save))
        argv[argc++] = tok;
    if (shell) {
        argv[argc++] = "sh";
        argv[argc++] = "-c";
        argv[argc++] = w->command;
    } else {
        for (char *save = NULL, *tok = strtok_r(words, " \t", &save); tok != NULL && argc < 255;
             tok = strtok_r(NULL, " \t", &save))
            argv[argc++] = tok;
    }
    argv[argc] = NULL;

    /* posix_spawn (clone with CLONE_VFORK in glibc): no copy of the harness's
       page tables inside the timed interval, unlike fork */
    posix_spawn_file_actions_t files;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&files, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&files, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
    posix_spawnattr_setpgroup(&attr, 0); /* its own group: a timeout kills all of it */
    posix_spawnattr_setsigmask(&attr, &r->child_mask);
    fflush(NULL);
    pid_t pid;
    double t0 = bench_now();
    int spawn_error = posix_spawnp(&pid, argv[0], &files, &attr, argv, r->env[a]);
    posix_spawn_file_actions_destroy(&files);
    posix_spawnattr_destroy(&attr);
    if (spawn_error != 0) {
        c->runs++;
        bench_note("%s under %s, run %d: FAILED: cannot run %s: %s", w->name, b->alloc[a].name,
                   c->runs, argv[0], strerror(spawn_error));
        fail_cell(c, "cannot run %s: %s", argv[0], strerror(spawn_error));
        free(words);
        free(tool);
        return;
    }
    int status = 0;
    struct rusage ru;
    bool timed_out = false;
    for (;;) {
        pid_t got = wait4(pid, &status, WNOHANG, &ru);
        if (got == pid)
            break;
        if (got < 0 && errno != EINTR)
            bench_die("wait4: %s", strerror(errno));
        if (bench_interrupted) { /* the child is not in the terminal's group: stop it here */
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
                ;
            free(words);
            free(tool);
            return;
        }
        double left = t0 + b->timeout_s - bench_now();
        if (left <= 0) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
                ;
            timed_out = true;
            break;
        }
        struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
        sigtimedwait(&r->sigchld, NULL, &ts); /* SIGCHLD (blocked) wakes it at once */
    }
    double t1 = bench_now();
    kill(-pid, SIGKILL); /* anything the command left running in the background */
    free(words);
    free(tool);

    c->runs++;
    char *err = slurp(err_path, 64 * 1024);
    char errline[200], why[BENCH_WHY_LEN] = "";
    last_line(err, errline, sizeof errline);
    const char *sep = errline[0] ? ": " : "";
    if (timed_out) {
        c->timed_out = true;
        snprintf(why, sizeof why, "timed out after %.0f s (see --timeout)", b->timeout_s);
    } else if (WIFSIGNALED(status)) {
        snprintf(why, sizeof why, "killed by signal %d (%s)%s%s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)), sep, errline);
    } else if (WEXITSTATUS(status) != 0) {
        snprintf(why, sizeof why, "exit status %d%s%s", WEXITSTATUS(status), sep, errline);
    } else if (strstr(err, "cannot be preloaded") != NULL) {
        snprintf(why, sizeof why, "ld.so did not preload %s: %s", b->alloc[a].lib, errline);
    } else {
        int slot = c->ok++;
        c->secs[slot] = t1 - t0;
        c->rss_kib[slot] = (double)ru.ru_maxrss; /* Linux: KiB */
        /* the child's and those of its descendants it waited for */
        c->cpu_s[slot] = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        char *out = slurp(out_path, 16 << 20);
        parse_stdout(w, c, slot, out);
        free(out);
    }
    free(err);
    if (why[0] != '\0') {
        bench_note("%s under %s, run %d: FAILED: %s", w->name, b->alloc[a].name, c->runs, why);
        fail_cell(c, "%s", why);
    }
}

/* The most common non-failed checksum among cells[from..to) of w (by run). */
static const char *most_common_sum(const bench_workload *w, int from, int to)
{
    const char *best = NULL;
    int best_count = 0;
    for (int a = from; a < to; a++)
        for (int r = 0; r < w->cell[a].ok; r++) {
            const char *s = w->cell[a].sum[r];
            int count = 0;
            for (int b = from; b < to; b++)
                for (int q = 0; q < w->cell[b].ok; q++)
                    count += strcmp(w->cell[b].sum[q], s) == 0;
            if (count > best_count) {
                best = s;
                best_count = count;
            }
        }
    return best;
}

void bench_summarise(bench_suite *b)
{
    int glibc = -1;
    for (int a = 0; a < b->nalloc; a++)
        if (strcmp(b->alloc[a].name, "glibc") == 0)
            glibc = a;
    for (int i = 0; i < b->nwork; i++) {
        bench_workload *w = &b->work[i];
        if (w->skipped)
            continue;
        const char *ref = NULL, *whose = "glibc's";
        if (glibc >= 0)
            ref = most_common_sum(w, glibc, glibc + 1);
        if (ref == NULL) {
            ref = most_common_sum(w, 0, b->nalloc);
            whose = "the most common";
        }
        if (ref != NULL)
            snprintf(w->reference_sum, sizeof w->reference_sum, "%s", ref);
        for (int a = 0; a < b->nalloc; a++) {
            bench_cell *c = &w->cell[a];
            for (int r = 0; r < c->ok; r++) {
                if (strcmp(c->sum[r], w->reference_sum) == 0)
                    continue;
                char why[BENCH_WHY_LEN];
                snprintf(why, sizeof why, "checksum %s, expected %s (%s)",
                         c->sum[r][0] ? c->sum[r] : "missing", w->reference_sum, whose);
                bench_note("%s under %s: FAILED: %s", w->name, b->alloc[a].name, why);
                fail_cell(c, "%s", why);
                break;
            }
            double v[BENCH_MAX_RUNS];
            c->median_s = c->median_rss_kib = c->median_cpu_s = NAN;
            if (c->ok > 0) {
                memcpy(v, c->secs, (size_t)c->ok * sizeof *v);
                c->median_s = bench_median(v, c->ok);
                memcpy(v, c->rss_kib, (size_t)c->ok * sizeof *v);
                c->median_rss_kib = bench_median(v, c->ok);
                memcpy(v, c->cpu_s, (size_t)c->ok * sizeof *v);
                c->median_cpu_s = bench_median(v, c->ok);
            }
            for (int k = 0; k < w->nkeys; k++) {
                int n = 0;
                for (int r = 0; r < c->ok; r++)
                    if (!isnan(c->report[k][r]))
                        v[n++] = c->report[k][r];
                c->report_median[k] = n > 0 ? bench_median(v, n) : NAN;
            }
        }
        for (int a = 0; a < b->nalloc; a++) {
            bench_cell *c = &w->cell[a];
            c->time_ratio = c->rss_ratio = c->cpu_ratio = NAN;
            if (b->baseline < 0 || c->failed || c->ok == 0)
                continue;
            const bench_cell *base = &w->cell[b->baseline];
            if (base->failed || base->ok == 0)
                continue;
            c->time_ratio = c->median_s / base->median_s;
            c->rss_ratio = c->median_rss_kib / base->median_rss_kib;
            c->cpu_ratio = c->median_cpu_s / base->median_cpu_s;
        }
    }
}

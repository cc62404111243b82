/*
 * harness.c -- sh_bench: every workload of the suite under every allocator,
 * side by side.
 *
 *   sh_bench [--quick] [--runs N] [--only ALLOC,...] [--workloads NAME,...]
 *            [--csv FILE] [--svg FILE] [--timeout SECONDS] [--no-gnuplot]
 *            [--suite FILE] --bin DIR --src DIR --lib LIBSTACKHEAP
 *
 * The suite (bench/suite.txt) is one workload a line, `name<TAB>description
 * <TAB>command`, with @BIN@ (the build's bench directory), @SRC@ (the source
 * bench directory), @QUICK@ (-q in quick mode, else nothing) and @TMP@ (a
 * scratch directory, kept for the whole run so a workload may cache inputs
 * there).  A workload whose program or project file (a word starting with
 * @BIN@ or @SRC@) is missing is skipped with one line saying so.
 *
 * The allocators are stackheap (LD_PRELOAD of --lib), glibc (nothing
 * preloaded) and Debian's mimalloc, jemalloc and tcmalloc through LD_PRELOAD;
 * a peer whose library is not installed is skipped with one line, and so is a
 * library that does not define malloc (a stackheap built without SH_OVERRIDE
 * would otherwise be measured as glibc).
 *
 * How a run is measured, and why:
 *   - order: runs are interleaved, a round at a time; each round runs every
 *     workload once under every allocator, the allocators in an order rotated
 *     by one for each round and workload (A B C D E, then B C D E A, ...), so
 *     slow drift of the machine (heat, other load) spreads over all of them;
 *   - process: posix_spawn of the command itself when it has no shell
 *     syntax, else of `sh -c command`; in its own process group (a timeout
 *     kills the whole group), stdin from /dev/null, stdout and stderr to files;
 *     LD_PRELOAD is set for the allocator (removed for glibc), and the
 *     harness's own LD_PRELOAD, if any, never reaches a child;
 *   - wall time: CLOCK_MONOTONIC from before the spawn to after wait4 returns (the
 *     harness sleeps in sigtimedwait for SIGCHLD, so it wakes at once);
 *   - peak RSS: ru_maxrss from wait4, which on Linux is the maximum over the
 *     child and every descendant it waited for (a `sh -c` pipeline reports
 *     its largest process, not the sum);
 *   - correctness: a run fails on a non-zero exit, a signal, a timeout, or
 *     ld.so refusing the preload; after all runs the checksum line (the last
 *     `checksum <hex>` on stdout) of every run must equal glibc's (or, without
 *     glibc, the most common one), else that cell fails.  A failed cell is
 *     reported as FAILED with the reason; its numbers are never shown.
 *
 * This file holds the options, the allocators, the rounds and the progress
 * line; harness_suite.c reads the suite, harness_run.c runs and checks,
 * harness_report.c prints the tables and writes the CSV, harness_chart.c
 * draws the SVG.  Exit status: 0 when every cell succeeded, 1 when any failed
 * (or a result file could not be written), 2 on a usage or set-up error.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define PEER_DIR "/usr/lib/x86_64-linux-gnu/"

/* Every allocator the harness knows, in the order of the report's columns. */
static const struct {
    const char *name;
    const char *lib; /* NULL: --lib (stackheap, stackheap-check) or nothing (glibc) */
    const char *package;
    const char *env, *wrapper; /* see bench_alloc */
    bool opt_in;               /* only when named by --only / SH_BENCH_ONLY */
} known_allocs[] = {
    {"stackheap", NULL, NULL, NULL, NULL, false},
    {"glibc", NULL, NULL, NULL, NULL, false},
    {"mimalloc", PEER_DIR "libmimalloc.so.2", "libmimalloc2.0", NULL, NULL, false},
    {"jemalloc", PEER_DIR "libjemalloc.so.2", "libjemalloc2", NULL, NULL, false},
    {"tcmalloc", PEER_DIR "libtcmalloc_minimal.so.4", "libtcmalloc-minimal4", NULL, NULL, false},
    /* the cost of finding bugs: stackheap's check mode (sh-check), and glibc under
       Valgrind's memcheck */
    {"sh-check", NULL, NULL, "STACKHEAP_CHECK=1", NULL, true},
    /* what release mode's checks cost: the library built with -DSH_HARDEN=OFF */
    {"sh-unhardened", NULL, NULL, NULL, NULL, true},
    {"memcheck", NULL, "valgrind", NULL,
     "valgrind --tool=memcheck --leak-check=full --trace-children=yes -q", true},
};
enum { N_KNOWN = sizeof known_allocs / sizeof known_allocs[0] };

static bench_suite suite; /* large (every run's numbers): static, not on the stack */

static struct {
    const char *bin, *src, *lib, *lib_unhardened, *suite_path, *only, *workloads;
    int runs;            /* 0: the default */
    bench_runner runner; /* the child environments and signal masks */
    bool tty;            /* stderr is a terminal: redraw the progress line */
    bool progress_shown;
} h;

volatile sig_atomic_t bench_interrupted;

void bench_die(const char *fmt, ...)
{
    va_list ap;
    fputs("sh_bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

void *bench_xmalloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL)
        bench_die("out of memory");
    return p;
}

char *bench_xstrdup(const char *s)
{
    return strcpy(bench_xmalloc(strlen(s) + 1), s);
}

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Clear the progress line, if one is on the terminal, before other output. */
static void progress_clear(void)
{
    if (h.tty && h.progress_shown) {
        fputs("\r\033[K", stderr);
        h.progress_shown = false;
    }
}

void bench_note(const char *fmt, ...)
{
    va_list ap;
    progress_clear();
    fputs("sh_bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(void)
{
    fputs("usage: sh_bench [options] --bin DIR --src DIR --lib LIBSTACKHEAP\n"
          "  --bin DIR           the build's bench directory (the wl_* programs): @BIN@\n"
          "  --src DIR           the source bench directory (suite.txt, real/): @SRC@\n"
          "  --lib FILE          libstackheap.so, preloaded for the stackheap column\n"
          "  --lib-unhardened FILE  the library built with -DSH_HARDEN=OFF, for the\n"
          "                      sh-unhardened column (only when --only names it)\n"
          "  --quick             quick mode: @QUICK@ is -q, 3 runs by default\n"
          "  --runs N            runs of each workload under each allocator (default 5, quick 3)\n"
          "  --only A,B          only these allocators (stackheap glibc mimalloc jemalloc\n"
          "                      tcmalloc); default: $SH_BENCH_ONLY, else all\n"
          "  --workloads W,X     only these workloads of the suite\n"
          "  --csv FILE          write one row per workload x allocator\n"
          "  --svg FILE          write the chart of time and RSS ratios\n"
          "  --no-gnuplot        draw the chart without gnuplot even when it is installed\n"
          "  --timeout SECONDS   a run taking longer fails (default 600, quick 120)\n"
          "  --suite FILE        the suite (default SRC/suite.txt)\n",
          stderr);
}

/* Every name of a comma-separated list must be one of names[0..n). */
static void check_list(const char *what, const char *list, const char *const *names, int n)
{
    char *copy = bench_xstrdup(list);
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        bool found = false;
        for (int i = 0; i < n && !found; i++)
            found = strcmp(tok, names[i]) == 0;
        if (!found)
            bench_die("%s: unknown name '%s'", what, tok);
    }
    free(copy);
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (strcmp(a, "--quick") == 0) {
            suite.quick = true;
            takes = false;
        } else if (strcmp(a, "--no-gnuplot") == 0) {
            suite.use_gnuplot = false;
            takes = false;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            exit(0);
        } else if (v == NULL) {
            usage();
            bench_die("%s needs a value (or is unknown)", a);
        } else if (strcmp(a, "--runs") == 0) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end != '\0' || n < 1 || n > BENCH_MAX_RUNS)
                bench_die("--runs %s: give a number from 1 to %d", v, BENCH_MAX_RUNS);
            h.runs = (int)n;
        } else if (strcmp(a, "--timeout") == 0) {
            char *end;
            double t = strtod(v, &end);
            if (*end != '\0' || !(t > 0))
                bench_die("--timeout %s: give a number of seconds", v);
            suite.timeout_s = t;
        } else if (strcmp(a, "--only") == 0) {
            h.only = v;
        } else if (strcmp(a, "--workloads") == 0) {
            h.workloads = v;
        } else if (strcmp(a, "--csv") == 0) {
            suite.csv_path = v;
        } else if (strcmp(a, "--svg") == 0) {
            suite.svg_path = v;
        } else if (strcmp(a, "--bin") == 0) {
            h.bin = v;
        } else if (strcmp(a, "--src") == 0) {
            h.src = v;
        } else if (strcmp(a, "--lib") == 0) {
            h.lib = v;
        } else if (strcmp(a, "--lib-unhardened") == 0) {
            h.lib_unhardened = v;
        } else if (strcmp(a, "--suite") == 0) {
            h.suite_path = v;
        } else {
            usage();
            bench_die("unknown option %s", a);
        }
        if (takes)
            i++;
    }
    if (h.bin == NULL || h.src == NULL || h.lib == NULL) {
        usage();
        bench_die("--bin, --src and --lib are required");
    }
    /* absolute: a workload may change directory, and LD_PRELOAD must still find the library */
    static char bin[PATH_MAX], src[PATH_MAX], lib[PATH_MAX];
    if (realpath(h.bin, bin) == NULL)
        bench_die("--bin %s: %s", h.bin, strerror(errno));
    if (realpath(h.src, src) == NULL)
        bench_die("--src %s: %s", h.src, strerror(errno));
    if (realpath(h.lib, lib) != NULL)
        h.lib = lib; /* a missing one is reported with the allocators */
    h.bin = bin;
    h.src = src;
    suite.runs = h.runs ? h.runs : suite.quick ? 3 : 5;
    if (suite.runs < 3)
        bench_note("%d run%s of each: a median of fewer than 3 does not resist an outlier",
                   suite.runs, suite.runs == 1 ? "" : "s");
    if (suite.timeout_s == 0)
        suite.timeout_s = suite.quick ? 120 : 600;
    if (h.only == NULL) {
        const char *env = getenv("SH_BENCH_ONLY");
        if (env != NULL && *env != '\0')
            h.only = env;
    }
    if (h.only != NULL) {
        const char *names[N_KNOWN];
        for (int i = 0; i < N_KNOWN; i++)
            names[i] = known_allocs[i].name;
        check_list("--only", h.only, names, N_KNOWN);
    }
}

/*
 * --probe-malloc LIB: the process runs with LD_PRELOAD=LIB (see below); exit 0
 * when the malloc it would call is LIB's own.
 */
static int probe_malloc(const char *lib)
{
    void *sym = dlsym(RTLD_DEFAULT, "malloc");
    Dl_info info;
    char a[PATH_MAX], b[PATH_MAX];
    if (sym == NULL || dladdr(sym, &info) == 0 || info.dli_fname == NULL ||
        realpath(info.dli_fname, a) == NULL || realpath(lib, b) == NULL)
        return 1;
    return strcmp(a, b) == 0 ? 0 : 1;
}

/*
 * Does preloading the library at path replace malloc?  Checked in a child
 * that re-executes the harness with LD_PRELOAD=path and asks the dynamic
 * linker whose malloc it binds (a library built without the standard names,
 * or one ld.so refuses, would otherwise be measured as glibc).  The harness
 * itself never loads an allocator.
 */
static bool preload_replaces_malloc(const char *path)
{
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 2);
        sigprocmask(SIG_SETMASK, &h.runner.child_mask, NULL);
        setenv("LD_PRELOAD", path, 1);
        execl("/proc/self/exe", "sh_bench", "--probe-malloc", path, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The child environment for allocator a: the harness's, less LD_PRELOAD, plus
   LD_PRELOAD=lib when a preloads one. */
static char **child_environment(const bench_alloc *a)
{
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    char **env = bench_xmalloc((n + 3) * sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
            env[k++] = environ[i];
    if (a->lib != NULL) {
        char *v = bench_xmalloc(strlen(a->lib) + 12);
        sprintf(v, "LD_PRELOAD=%s", a->lib);
        env[k++] = v;
    }
    if (a->env != NULL)
        env[k++] = (char *)a->env;
    env[k] = NULL;
    return env;
}

static void choose_allocators(void)
{
    suite.baseline = -1;
    for (int i = 0; i < N_KNOWN; i++) {
        const char *name = known_allocs[i].name;
        if (h.only != NULL ? !bench_in_list(h.only, name) : known_allocs[i].opt_in)
            continue;
        const char *lib = known_allocs[i].lib;
        if (strcmp(name, "stackheap") == 0 || strcmp(name, "sh-check") == 0)
            lib = h.lib;
        if (strcmp(name, "sh-unhardened") == 0) {
            static char path[PATH_MAX];
            if (h.lib_unhardened == NULL || realpath(h.lib_unhardened, path) == NULL) {
                bench_note("sh-unhardened skipped: no --lib-unhardened library (build the "
                           "bench targets with SH_OVERRIDE on and no sanitizer)");
                continue;
            }
            lib = path;
        }
        if (known_allocs[i].wrapper != NULL && system("valgrind --version >/dev/null 2>&1") != 0) {
            bench_note("%s skipped: valgrind is not installed (apt-get install valgrind)", name);
            continue;
        }
        if (lib != NULL && access(lib, R_OK) != 0) {
            if (known_allocs[i].package != NULL)
                bench_note(
                    "%s skipped: %s is not installed (apt-get install %s, or run bench/peers.sh "
                    "as root)",
                    name, lib, known_allocs[i].package);
            else
                bench_note("%s skipped: %s not found (build the project first)", name, lib);
            continue;
        }
        if (lib != NULL && !preload_replaces_malloc(lib)) {
            bench_note("%s skipped: preloading %s does not replace malloc (for stackheap: build "
                       "with -DSH_OVERRIDE=ON), so its column would measure glibc",
                       name, lib);
            continue;
        }
        bench_alloc *a = &suite.alloc[suite.nalloc];
        a->name = name;
        a->lib = lib;
        a->env = known_allocs[i].env;
        a->wrapper = known_allocs[i].wrapper;
        h.runner.env[suite.nalloc] = child_environment(a);
        suite.nalloc++;
    }
    for (int i = 0; i < suite.nalloc && suite.baseline < 0; i++)
        if (strcmp(suite.alloc[i].name, "mimalloc") == 0)
            suite.baseline = i;
    for (int i = 0; i < suite.nalloc && suite.baseline < 0; i++)
        if (strcmp(suite.alloc[i].name, "glibc") == 0)
            suite.baseline = i;
    if (suite.nalloc == 0)
        bench_die("no allocator left to measure");
}

static void on_interrupt(int sig)
{
    bench_interrupted = sig;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_scratch(void)
{
    if (suite.scratch != NULL)
        nftw(suite.scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void format_duration(double s, char *out, size_t cap)
{
    if (s < 60)
        snprintf(out, cap, "%.0fs", s);
    else if (s < 3600)
        snprintf(out, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(out, cap, "%dh%02dm", (int)s / 3600, (int)s / 60 % 60);
}

/* Say what runs now and how much is left: redrawn in place on a terminal,
   one line a round otherwise (a log file should not fill with redraws). */
static void progress(int done, int total, int round, const bench_workload *w, int a, double start)
{
    char left[32] = "";
    if (done > 0) {
        char d[24];
        format_duration((bench_now() - start) / done * (total - done), d, sizeof d);
        snprintf(left, sizeof left, "  ~%s left", d);
    }
    if (h.tty) {
        int width = snprintf(NULL, 0, "%d", total);
        fprintf(stderr, "\r\033[K[%*d/%d] round %d/%d  %s  under %s%s", width, done + 1, total,
                round + 1, suite.runs, w->name, suite.alloc[a].name, left);
        h.progress_shown = true;
    } else if (done % (total / suite.runs) == 0) {
        fprintf(stderr, "sh_bench: round %d/%d: runs %d-%d of %d%s\n", round + 1, suite.runs,
                done + 1, done + total / suite.runs, total, left);
    }
    fflush(stderr);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--probe-malloc") == 0)
        return probe_malloc(argv[2]);
    suite.use_gnuplot = true;
    parse_args(argc, argv);
    h.tty = isatty(2);
    const char *own_preload = getenv("LD_PRELOAD");
    if (own_preload != NULL && *own_preload != '\0')
        bench_note("note: sh_bench itself runs with LD_PRELOAD=%s; no workload inherits it",
                   own_preload);

    /* SIGCHLD stays blocked, to be waited for with sigtimedwait; a child gets
       back the mask the harness started with. */
    sigemptyset(&h.runner.sigchld);
    sigaddset(&h.runner.sigchld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &h.runner.sigchld, &h.runner.child_mask);
    struct sigaction sa = {.sa_handler = on_interrupt};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    const char *tmpdir = getenv("TMPDIR");
    char *scratch = bench_xmalloc(PATH_MAX);
    snprintf(scratch, PATH_MAX, "%s/sh_bench.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (mkdtemp(scratch) == NULL)
        bench_die("cannot make a scratch directory %s: %s", scratch, strerror(errno));
    suite.scratch = scratch;
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/tmp", scratch);
    if (mkdir(tmp, 0755) != 0)
        bench_die("mkdir %s: %s", tmp, strerror(errno));

    choose_allocators();
    if (h.suite_path == NULL) {
        static char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/suite.txt", h.src);
        h.suite_path = path;
    }
    bench_read_suite(&suite, h.suite_path, h.bin, h.src, tmp, h.workloads);
    int active = 0;
    for (int i = 0; i < suite.nwork; i++)
        active += !suite.work[i].skipped;
    if (active == 0) {
        remove_scratch();
        bench_die("no workload to run (every one was skipped)");
    }

    int total = suite.runs * active * suite.nalloc, done = 0;
    double start = bench_now();
    for (int round = 0; round < suite.runs; round++) {
        for (int i = 0, seen = 0; i < suite.nwork; i++) {
            bench_workload *w = &suite.work[i];
            if (w->skipped)
                continue;
            int first = (round + seen++) % suite.nalloc; /* the rotation */
            for (int k = 0; k < suite.nalloc; k++) {
                int a = (first + k) % suite.nalloc;
                progress(done, total, round, w, a, start);
                if (!w->cell[a].timed_out)
                    bench_run_once(&suite, &h.runner, w, a);
                done++;
                if (bench_interrupted) {
                    progress_clear();
                    remove_scratch();
                    fprintf(stderr, "sh_bench: interrupted\n");
                    return 130;
                }
            }
        }
    }
    progress_clear();
    char took[24];
    format_duration(bench_now() - start, took, sizeof took);
    bench_note("%d runs in %s", total, took);

    bench_summarise(&suite);
    bench_print_report(&suite, stdout);
    fflush(stdout);
    bool wrote = true;
    if (suite.csv_path != NULL)
        wrote &= bench_write_csv(&suite, suite.csv_path);
    if (suite.svg_path != NULL)
        wrote &= bench_write_svg(&suite, suite.svg_path);
    remove_scratch();

    bool any_failed = false;
    for (int i = 0; i < suite.nwork; i++)
        for (int a = 0; a < suite.nalloc; a++)
            any_failed |= !suite.work[i].skipped && suite.work[i].cell[a].failed;
    return any_failed || !wrote ? 1 : 0;
}

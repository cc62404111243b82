/*
 * test_annotate.c -- stackheap tells AddressSanitizer and Valgrind which stack
 * memory is live (src/annotate.c).
 *
 * Specification tested here:
 *   - with no tool, allocation takes the inline fast path (fast_end is the end
 *     of the stack) and pops need no out-of-line work;
 *   - in an ASan build, or under Valgrind, every allocation takes the slow path
 *     (fast_end == 0) so that memory can be marked: a frame's memory is
 *     no-access after its pop, as is everything above the top, the block freed
 *     by free_top and the tail cut by resize_top;
 *   - memory handed out again after a pop is addressable (and, for Valgrind,
 *     undefined: its old contents do not count as initialised).
 *
 * The program has modes, chosen by its first argument, each a small scenario:
 *   read-popped, read-popped-default, read-above-top, read-freed-top,
 *   read-shrunk   read memory that is no longer (or never was) handed out;
 *   branch-on-reused   branch on a byte written before a pop and handed out again;
 *   clean   use every function correctly: no tool may report anything.
 * With no argument it runs the tests below; in an ASan build (SH_TEST_ASAN=1)
 * they run the modes in child processes and read ASan's report.  Under
 * Valgrind the modes are run by CTest (tests/system.cmake), which matches
 * Valgrind's output.
 */
#include "check.h"

#include <stackheap.h>

#include <stdint.h>

#ifndef SH_TEST_ASAN
#define SH_TEST_ASAN 0
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define under_valgrind() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef under_valgrind
#define under_valgrind() false
#endif

static const bool asan_build = SH_TEST_ASAN;

/* Read one byte so that the compiler cannot drop the access. */
static int read_byte(const void *p)
{
    return *(const volatile unsigned char *)p;
}

/* ---- modes: each returns the exit status ---------------------------------- */

static int read_popped(sh_stack *s)
{
    sh_frame f = sh_stack_push(s);
    char *p = sh_stack_alloc(s, 64);
    if (p == NULL)
        return 2;
    memset(p, 7, 64);
    sh_stack_pop(s, f);
    return read_byte(p + 8) == 7 ? 0 : 3; /* the report comes before the return */
}

static int mode_read_popped(void)
{
    sh_stack *s = sh_stack_new(64 << 10);
    return s == NULL ? 2 : read_popped(s);
}

static int mode_read_popped_default(void)
{
    sh_stack *s = sh_stack_default();
    return s == NULL ? 2 : read_popped(s);
}

static int mode_read_above_top(void)
{
    sh_stack *s = sh_stack_new(64 << 10);
    char *p = s ? sh_stack_alloc(s, 32) : NULL;
    if (p == NULL)
        return 2;
    p[0] = 1;
    return read_byte(p + 64); /* inside the stack, never handed out */
}

static int mode_read_freed_top(void)
{
    sh_stack *s = sh_stack_new(64 << 10);
    char *keep = s ? sh_stack_alloc(s, 32) : NULL;
    char *p = s ? sh_stack_alloc(s, 32) : NULL;
    if (keep == NULL || p == NULL)
        return 2;
    keep[0] = p[0] = 1;
    if (sh_stack_free_top(s, p) != 0)
        return 3;
    return read_byte(p);
}

static int mode_read_shrunk(void)
{
    sh_stack *s = sh_stack_new(64 << 10);
    char *p = s ? sh_stack_alloc(s, 256) : NULL;
    if (p == NULL)
        return 2;
    memset(p, 1, 256);
    if (sh_stack_resize_top(s, p, 16) != p)
        return 3;
    return read_byte(p + 128);
}

static int mode_branch_on_reused(void)
{
    sh_stack *s = sh_stack_new(64 << 10);
    if (s == NULL)
        return 2;
    sh_frame f = sh_stack_push(s);
    char *p = sh_stack_alloc(s, 64);
    memset(p, 7, 64);
    sh_stack_pop(s, f);
    char *q = sh_stack_alloc(s, 64); /* the same bytes, handed out again */
    if (q != p)
        return 3;
    if (read_byte(q + 8) == 7) /* undefined: the pop ended the old contents */
        puts("old contents seen");
    return 0;
}

/* Everything used correctly; returns non-zero (and says why) if a result is wrong. */
static int mode_clean(void)
{
    sh_stack *s = sh_stack_new(64 << 10);
    if (s == NULL)
        return 2;
    int sum = 0;
    for (int round = 0; round < 3; round++) {
        sh_frame outer = sh_stack_push(s);
        unsigned char *a = sh_stack_alloc(s, 100);
        unsigned char *big = sh_stack_alloc_aligned(s, 3000, 1024);
        unsigned char *zero = sh_stack_calloc(s, 10, 10);
        if (a == NULL || big == NULL || zero == NULL)
            return 3;
        memset(a, round, 100);
        memset(big, 2, 3000);
        for (int i = 0; i < 100; i++)
            sum += a[i] + zero[i];
        {
            SH_FRAME(s);
            unsigned char *buf = sh_stack_alloc(s, 16);
            memset(buf, 3, 16);
            buf = sh_stack_resize_top(s, buf, 4096); /* grows in place */
            if (buf == NULL)
                return 4;
            memset(buf + 16, 4, 4096 - 16);
            for (int i = 0; i < 4096; i++)
                sum += buf[i];
            buf = sh_stack_resize_top(s, buf, 8);
            sum += buf[7];
            unsigned char *tmp = sh_stack_alloc(s, 48);
            memset(tmp, 5, 48);
            sum += tmp[47];
            if (sh_stack_free_top(s, tmp) != 0)
                return 5;
        }
        sum += big[2999];
        sh_stack_pop(s, outer);
    }
    sh_stack *d = sh_stack_default();
    SH_SCOPE(d)
    {
        int *v = sh_stack_alloc(d, 10 * sizeof(int));
        for (int i = 0; i < 10; i++)
            v[i] = i;
        for (int i = 0; i < 10; i++)
            sum += v[i];
    }
    sh_stack_delete(s);
    /* a: 100 * round; buf: 16 threes and 4080 fours, then buf[7], tmp[47], big[2999]; v */
    int want = 100 * (0 + 1 + 2) + 3 * (3 * 16 + 4 * (4096 - 16) + 3 + 5 + 2) + 45;
    if (sum != want) {
        printf("FAIL clean: sum %d, expected %d\n", sum, want);
        return 6;
    }
    /* Under Valgrind the library must have seen it (memcheck.h compiled in). */
    if (under_valgrind()) {
        sh_stack *t = sh_stack_new(4096);
        bool marked = t != NULL && t->fast_end == 0;
        sh_stack_delete(t);
        if (!marked) {
            puts("FAIL clean: running under Valgrind but stackheap does not mark memory "
                 "(was <valgrind/memcheck.h> found when src/annotate.c was compiled?)");
            return 7;
        }
    }
    puts("clean ok");
    return 0;
}

static const struct mode {
    const char *name;
    int (*fn)(void);
} modes[] = {
    {"read-popped", mode_read_popped},
    {"read-popped-default", mode_read_popped_default},
    {"read-above-top", mode_read_above_top},
    {"read-freed-top", mode_read_freed_top},
    {"read-shrunk", mode_read_shrunk},
    {"branch-on-reused", mode_branch_on_reused},
    {"clean", mode_clean},
};

/* ---- tests --------------------------------------------------------------------- */

static void memory_is_marked_only_when_a_tool_needs_it(void)
{
    sh_stack *s = sh_stack_new(64 << 10);
    CHECK(s != NULL);
    bool tool = asan_build || under_valgrind();
    if (tool) {
        CHECK_EQ_U(s->fast_end, 0); /* every allocation goes out of line */
        CHECK(s->pop_slow != 0);
    } else {
        CHECK(s->fast_end != 0);
        CHECK_EQ_U(s->pop_slow, 0);
    }
    sh_stack_delete(s);
}

typedef struct run_result {
    int status;
    char out[4096];
    char err[16384];
} run_result;

/* Run this program with `mode`, capturing stdout and stderr. */
static bool run_mode(const char *mode, run_result *r)
{
    char out_path[] = "/tmp/test_annotate_out_XXXXXX";
    char err_path[] = "/tmp/test_annotate_err_XXXXXX";
    int out = mkstemp(out_path), err = mkstemp(err_path);
    if (out < 0 || err < 0)
        return false;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        dup2(out, 1);
        dup2(err, 2);
        char *argv[] = {"test_annotate", (char *)mode, NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    bool ok = waitpid(pid, &r->status, 0) == pid;
    ssize_t n = pread(out, r->out, sizeof r->out - 1, 0);
    r->out[n > 0 ? n : 0] = '\0';
    n = pread(err, r->err, sizeof r->err - 1, 0);
    r->err[n > 0 ? n : 0] = '\0';
    close(out);
    close(err);
    unlink(out_path);
    unlink(err_path);
    return ok;
}

/* The mode must fail and ASan's report must contain `report`. */
static bool asan_reports(const char *mode, const char *report)
{
    run_result r;
    if (!run_mode(mode, &r))
        return false;
    bool failed = !(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    bool said = strstr(r.err, "ERROR: AddressSanitizer") != NULL && strstr(r.err, report) != NULL;
    if (!failed || !said)
        fprintf(stderr,
                "  mode %s: expected a failing exit and ASan's \"%s\"; got status %d, "
                "stderr:\n%s\n",
                mode, report, r.status, r.err);
    return failed && said;
}

static void asan_reports_reading_a_popped_frame(void)
{
    CHECK(asan_reports("read-popped", "use-after-poison"));
    CHECK(asan_reports("read-popped-default", "use-after-poison"));
}

static void asan_reports_reading_above_the_top(void)
{
    CHECK(asan_reports("read-above-top", "use-after-poison"));
}

static void asan_reports_reading_a_freed_or_cut_block(void)
{
    CHECK(asan_reports("read-freed-top", "use-after-poison"));
    CHECK(asan_reports("read-shrunk", "use-after-poison"));
}

static void asan_is_silent_on_correct_use(void)
{
    run_result r;
    CHECK(run_mode("clean", &r));
    if (!(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) || r.err[0] != '\0')
        fprintf(stderr, "  mode clean: status %d, stdout \"%s\", stderr:\n%s\n", r.status, r.out,
                r.err);
    CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    CHECK(strcmp(r.out, "clean ok\n") == 0);
    CHECK(r.err[0] == '\0');
}

int main(int argc, char **argv)
{

    if (argc == 2) {
        for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
            if (strcmp(argv[1], modes[i].name) == 0)
                return modes[i].fn();
        }
        fprintf(stderr, "test_annotate: unknown mode '%s'\n", argv[1]);
        return 2;
    }
    RUN(memory_is_marked_only_when_a_tool_needs_it);
    if (asan_build) {
        RUN(asan_reports_reading_a_popped_frame);
        RUN(asan_reports_reading_above_the_top);
        RUN(asan_reports_reading_a_freed_or_cut_block);
        RUN(asan_is_silent_on_correct_use);
    }
    return check_report();
}

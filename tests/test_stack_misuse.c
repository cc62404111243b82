/*
 * test_stack_misuse.c -- misuse of the stack fails loudly, never silently.
 *
 * Each misuse runs in a child process: the ones the library detects must
 * abort with one line on stderr that names the stack and says what went
 * wrong (the messages of src/stack.c); a raw overrun of the stack's memory
 * must hit a guard page and die of SIGSEGV.
 *
 * `test_stack_misuse abort-overflow` runs one misuse in this very process
 * (no fork) so that CTest itself can check the abort message.
 */
#include "check.h"

#include <stdint.h>
#include <sys/resource.h>

#include "stackheap.h"

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* A stack named `name` of one page; aborts the child if it cannot be made. */
static sh_stack *named_stack(const char *name)
{
    sh_stack *s = sh_stack_new(page_size());
    if (s == NULL || sh_stack_set_name(s, name) != 0)
        _exit(2);
    return s;
}

/*
 * Run fn(arg) in a child.  True if the child was killed by SIGSEGV;
 * otherwise prints what happened.  The child restores the default SIGSEGV
 * action first, so that a sanitizer's handler does not turn the fault into
 * an exit status.
 */
static bool check_segfaults(void (*fn)(void *), void *arg)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        fn(arg);
        _exit(0); /* fn returned: nothing faulted */
    }
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return false;
    bool segfaulted = WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
    if (!segfaulted) {
        if (WIFSIGNALED(status))
            fprintf(stderr, "  child died of signal %d; expected SIGSEGV\n", WTERMSIG(status));
        else
            fprintf(stderr, "  child exited with status %d; expected it to die of SIGSEGV\n",
                    WEXITSTATUS(status));
    }
    return segfaulted;
}

#define CHECK_SEGFAULTS(fn, arg) CHECK(check_segfaults((fn), (arg)))

/* ---- the abort overflow policy -------------------------------------------- */

static void overflow_tiny_stack_with_abort_policy(void *arg)
{
    (void)arg;
    sh_stack *s = named_stack("tiny");
    sh_stack_set_overflow(s, SH_OVERFLOW_ABORT, NULL, NULL);
    if (sh_stack_alloc(s, 100) == NULL)
        _exit(2);
    void *p = sh_stack_alloc(s, 5000);
    (void)p;
}

static void abort_policy_names_the_stack_the_request_and_the_space_left(void)
{
    size_t page = page_size();
    char expected[256];
    snprintf(expected, sizeof expected,
             "stackheap: stack overflow on 'tiny': allocation of 5000 bytes (align %zu) does "
             "not fit, %zu of %zu bytes left",
             (size_t)SH_STACK_ALIGN, page - 112, page);
    CHECK_DIES(overflow_tiny_stack_with_abort_policy, NULL, expected);
}

static void resize_tiny_stack_with_abort_policy(void *arg)
{
    (void)arg;
    sh_stack *s = named_stack("tiny");
    sh_stack_set_overflow(s, SH_OVERFLOW_ABORT, NULL, NULL);
    void *p = sh_stack_alloc(s, 64);
    if (p == NULL)
        _exit(2);
    p = sh_stack_resize_top(s, p, 2 * page_size());
}

static void abort_policy_applies_to_resize_top(void)
{
    char expected[128];
    snprintf(expected, sizeof expected, "stack overflow on 'tiny': resize of %zu bytes",
             2 * page_size());
    CHECK_DIES(resize_tiny_stack_with_abort_policy, NULL, expected);
}

static void abort_policy_does_not_abort_what_fits(void)
{
    /* in this process: if it aborted, the whole program would fail */
    sh_stack *s = sh_stack_new(page_size());
    CHECK(s != NULL);
    CHECK_EQ_U(sh_stack_set_overflow(s, SH_OVERFLOW_ABORT, NULL, NULL), 0);
    CHECK(sh_stack_alloc(s, page_size()) != NULL);
    CHECK(sh_stack_alloc(s, 0) != NULL); /* zero bytes at the very end still fit */
    errno = 0;
    CHECK(sh_stack_alloc_aligned(s, 8, 3) == NULL); /* a bad argument is not an overflow */
    CHECK_EQ_U(errno, EINVAL);
    sh_stack_delete(s);
}

/* ---- frames popped wrongly ------------------------------------------------ */

static void pop_on_null_stack(void *arg)
{
    (void)arg;
    sh_stack *s = named_stack("victim");
    sh_frame f = sh_stack_push(s);
    sh_stack_pop(NULL, f);
}

static void pop_on_a_null_stack_aborts(void)
{
    CHECK_DIES(pop_on_null_stack, NULL, "stackheap: sh_stack_pop: the stack is NULL (frame #1");
}

static void pop_frame_of_another_stack(void *arg)
{
    (void)arg;
    sh_stack *mine = named_stack("mine");
    sh_stack *other = named_stack("other");
    sh_frame theirs = sh_stack_push(other);
    (void)sh_stack_push(mine);
    sh_stack_pop(mine, theirs);
}

static void pop_of_another_stacks_frame_aborts(void)
{
    CHECK_DIES(pop_frame_of_another_stack, NULL, "belongs to the stack at");
    CHECK_DIES(pop_frame_of_another_stack, NULL, "not to 'mine'");
}

static void pop_frame_twice(void *arg)
{
    (void)arg;
    sh_stack *s = named_stack("victim");
    (void)sh_stack_push(s);
    sh_frame f = sh_stack_push(s);
    sh_stack_pop(s, f);
    sh_stack_pop(s, f);
}

static void pop_twice_aborts(void)
{
    CHECK_DIES(pop_frame_twice, NULL,
               "sh_stack_pop: on 'victim': frame #2 (depth 2) was already popped");
}

static void pop_frame_twice_after_a_new_push(void *arg)
{
    (void)arg;
    sh_stack *s = named_stack("victim");
    sh_frame f = sh_stack_push(s);
    sh_stack_pop(s, f);
    (void)sh_stack_push(s); /* the new innermost frame has f's depth */
    sh_stack_pop(s, f);
}

static void pop_twice_aborts_even_after_a_new_push(void)
{
    CHECK_DIES(pop_frame_twice_after_a_new_push, NULL, "frame #1 (depth 1) was already popped");
}

static void pop_outer_while_inner_open(void *arg)
{
    (void)arg;
    sh_stack *s = named_stack("victim");
    sh_frame outer = sh_stack_push(s);
    (void)sh_stack_push(s);
    (void)sh_stack_push(s);
    sh_stack_pop(s, outer);
}

static void pop_of_an_outer_frame_while_an_inner_is_open_aborts(void)
{
    CHECK_DIES(pop_outer_while_inner_open, NULL,
               "on 'victim': frame #1 (depth 1) is not the innermost open frame: 2 frame(s) "
               "pushed after it are still open, the innermost is #3");
}

static void pop_zeroed_frame(void *arg)
{
    (void)arg;
    sh_stack *s = named_stack("victim");
    sh_frame f;
    memset(&f, 0, sizeof f);
    sh_stack_pop(s, f);
}

static void pop_of_a_zeroed_frame_aborts(void)
{
    CHECK_DIES(pop_zeroed_frame, NULL, "on 'victim': the frame was never pushed");
}

static void pop_forged_frame(void *arg)
{
    (void)arg;
    sh_stack *s = named_stack("victim");
    sh_frame f = sh_stack_push(s);
    f.serial += 100;
    sh_stack_pop(s, f);
}

static void pop_of_a_forged_frame_aborts(void)
{
    CHECK_DIES(pop_forged_frame, NULL, "on 'victim': frame #101 was not made by sh_stack_push");
}

static void push_null(void *arg)
{
    (void)arg;
    sh_frame f = sh_stack_push(NULL);
    (void)f;
}

static void push_on_a_null_stack_aborts(void)
{
    CHECK_DIES(push_null, NULL, "stackheap: sh_stack_push: the stack is NULL");
}

static void scope_on_null_stack(void *arg)
{
    (void)arg;
    SH_SCOPE(NULL)
    {
        _exit(0); /* never entered */
    }
}

static void scope_on_a_null_stack_aborts(void)
{
    CHECK_DIES(scope_on_null_stack, NULL, "sh_stack_push: the stack is NULL");
}

static void delete_default_stack(void *arg)
{
    (void)arg;
    sh_stack *s = sh_stack_default();
    if (s == NULL)
        _exit(2);
    sh_stack_delete(s);
}

static void delete_of_the_default_stack_aborts(void)
{
    CHECK_DIES(delete_default_stack, NULL, "sh_stack_delete: 'default stack of thread ");
    CHECK_DIES(delete_default_stack, NULL, "is a thread's default stack");
}

/* ---- guard pages ---------------------------------------------------------- */

static void write_one_byte_past_the_end(void *arg)
{
    (void)arg;
    size_t cap = 4 * page_size();
    sh_stack *s = sh_stack_new(cap);
    if (s == NULL)
        _exit(2);
    char *base = sh_stack_alloc(s, cap); /* the whole stack: base .. base + cap */
    if (base == NULL)
        _exit(2);
    base[cap - 1] = 1; /* the last byte is fine */
    volatile char *past = base + cap;
    *past = 1;
}

static void write_past_the_end_hits_the_guard_page(void)
{
    CHECK_SEGFAULTS(write_one_byte_past_the_end, NULL);
}

static void write_one_byte_before_the_base(void *arg)
{
    (void)arg;
    sh_stack *s = sh_stack_new(4 * page_size());
    if (s == NULL)
        _exit(2);
    char *base = sh_stack_alloc(s, 16);
    if (base == NULL)
        _exit(2);
    base[0] = 1;
    volatile char *before = base - 1;
    *before = 1;
}

static void write_before_the_base_hits_the_guard_page(void)
{
    CHECK_SEGFAULTS(write_one_byte_before_the_base, NULL);
}

/* ---- cursors: each rule is checked ------------------------------------------------ */

static sh_stack *named(const char *name)
{
    sh_stack *s = sh_stack_new(64 << 10);
    if (s != NULL)
        sh_stack_set_name(s, name);
    return s;
}

static void alloc_directly_while_a_cursor_is_open(void *arg)
{
    (void)arg;
    sh_stack *s = named("busy");
    sh_cursor c = sh_stack_cursor(s);
    void *p = sh_cursor_alloc(&c, 100);
    void *q = sh_stack_alloc(s, 10); /* would land on p */
    printf("%p %p\n", p, q);
}

static void pop_while_a_cursor_is_open(void *arg)
{
    (void)arg;
    sh_stack *s = named("busy");
    sh_frame f = sh_stack_push(s);
    sh_cursor c = sh_stack_cursor(s);
    void *p = sh_cursor_alloc(&c, 100);
    printf("%p\n", p);
    sh_stack_pop(s, f);
}

static void trim_while_a_cursor_is_open(void *arg)
{
    (void)arg;
    sh_stack *s = named("busy");
    sh_cursor c = sh_stack_cursor(s);
    memset(sh_cursor_alloc(&c, 8192), 1, 8192);
    sh_stack_trim(s); /* would decommit the cursor's block */
}

static void second_cursor_on_a_stack(void *arg)
{
    (void)arg;
    sh_stack *s = named("twice");
    sh_cursor a = sh_stack_cursor(s);
    sh_cursor b = sh_stack_cursor(s);
    (void)a;
    (void)b;
}

static void cursor_ended_twice(void *arg)
{
    (void)arg;
    sh_cursor c = sh_stack_cursor(named("once"));
    sh_cursor_end(&c);
    sh_cursor_end(&c);
}

static void cursor_used_after_its_end(void *arg)
{
    (void)arg;
    sh_cursor c = sh_stack_cursor(named("once"));
    sh_cursor_end(&c);
    void *p = sh_cursor_alloc(&c, 16);
    printf("%p\n", p);
}

static void frame_pushed_inside_a_cursor(void *arg)
{
    (void)arg;
    sh_stack *s = named("frames");
    sh_cursor c = sh_stack_cursor(s);
    sh_frame f = sh_stack_push(s);
    (void)f;
    sh_cursor_end(&c);
}

static void cursor_on_a_null_stack(void *arg)
{
    (void)arg;
    sh_cursor c = sh_stack_cursor(NULL);
    (void)c;
}

static void cursor_misuse_aborts_with_a_message(void)
{
    CHECK_DIES(alloc_directly_while_a_cursor_is_open, NULL,
               "stackheap: sh_stack_alloc: 'busy' has a cursor open (sh_stack_cursor): allocate "
               "through the cursor, or end it with sh_cursor_end before using the stack directly");
    CHECK_DIES(pop_while_a_cursor_is_open, NULL,
               "stackheap: sh_stack_pop: 'busy' has a cursor open");
    CHECK_DIES(trim_while_a_cursor_is_open, NULL,
               "stackheap: sh_stack_trim: 'busy' has a cursor open");
    CHECK_DIES(second_cursor_on_a_stack, NULL,
               "stackheap: sh_stack_cursor: 'twice' has a cursor open already");
    CHECK_DIES(cursor_ended_twice, NULL, "stackheap: sh_cursor_end: the cursor (top 0x");
    CHECK_DIES(cursor_ended_twice, NULL, "is not open in this thread: ended twice");
    CHECK_DIES(cursor_used_after_its_end, NULL, "stackheap: sh_cursor_alloc: the cursor (top 0x");
    CHECK_DIES(frame_pushed_inside_a_cursor, NULL,
               "stackheap: sh_cursor_end: on 'frames': a frame was pushed or popped while the "
               "cursor was open");
    CHECK_DIES(cursor_on_a_null_stack, NULL, "stackheap: sh_stack_cursor: the stack is NULL");
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "abort-overflow") == 0) {
        overflow_tiny_stack_with_abort_policy(NULL);
        fprintf(stderr, "the abort overflow policy did not abort\n");
        return 1;
    }
    /* the children below die on purpose: no core files */
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);

    RUN(abort_policy_names_the_stack_the_request_and_the_space_left);
    RUN(abort_policy_applies_to_resize_top);
    RUN(abort_policy_does_not_abort_what_fits);
    RUN(pop_on_a_null_stack_aborts);
    RUN(pop_of_another_stacks_frame_aborts);
    RUN(pop_twice_aborts);
    RUN(pop_twice_aborts_even_after_a_new_push);
    RUN(pop_of_an_outer_frame_while_an_inner_is_open_aborts);
    RUN(pop_of_a_zeroed_frame_aborts);
    RUN(pop_of_a_forged_frame_aborts);
    RUN(push_on_a_null_stack_aborts);
    RUN(scope_on_a_null_stack_aborts);
    RUN(delete_of_the_default_stack_aborts);
    RUN(write_past_the_end_hits_the_guard_page);
    RUN(write_before_the_base_hits_the_guard_page);
    RUN(cursor_misuse_aborts_with_a_message);
    return check_report();
}

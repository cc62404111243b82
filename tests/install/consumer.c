/*
 * consumer.c -- a program outside the project that uses an installed
 * stackheap, built by tests/install/run.sh through pkg-config and through
 * find_package(stackheap).  It prints "consumer ok <version>" when the stack
 * behaves as documented, or what went wrong.
 */
#include <stackheap.h>

#include <stdio.h>
#include <string.h>

static int fail(const char *what)
{
    printf("consumer FAILED: %s\n", what);
    return 1;
}

int main(void)
{
    sh_stack *s = sh_stack_new(1 << 20);
    if (s == NULL)
        return fail("sh_stack_new returned NULL");
    sh_frame f = sh_stack_push(s);
    char *msg = sh_stack_alloc(s, 64);
    if (msg == NULL)
        return fail("sh_stack_alloc returned NULL");
    strcpy(msg, "consumer ok");
    sh_stack_stats st;
    if (sh_stack_get_stats(s, &st) != 0 || st.frames != 1 || st.in_use < 64)
        return fail("stats inside the frame");
    printf("%s %s\n", msg, SH_VERSION_STRING);
    sh_stack_pop(s, f);
    if (sh_stack_get_stats(s, &st) != 0 || st.frames != 0 || st.in_use != 0)
        return fail("the pop did not release the frame");
    sh_stack_delete(s);

    sh_stack *d = sh_stack_default();
    if (d == NULL || strncmp(sh_stack_name(d), "default stack of thread ", 24) != 0)
        return fail("sh_stack_default");
    return 0;
}

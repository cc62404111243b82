/* A thread pushes a frame on its default stack, allocates in it, and exits
   without popping it; with the argument "write-after-pop", a pointer into a
   popped frame is written through. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "stackheap.h"

__attribute__((noinline)) static void build_scratch(sh_stack *s)
{
    char *scratch = sh_stack_alloc(s, 200); /* the frame's first allocation */
    if (scratch != NULL)
        memset(scratch, 0, 200);
}

static void *worker(void *arg)
{
    (void)arg;
    sh_stack *s = sh_stack_default();
    sh_frame outer = sh_stack_push(s);
    (void)outer;
    build_scratch(s); /* ... and the thread returns with the frame open */
    return NULL;
}

/* Returns a pointer into its own frame, which the caller writes through
   after the frame was popped ("write-after-pop" argument). */
__attribute__((noinline)) static char *make_label(sh_stack *s)
{
    sh_frame f = sh_stack_push(s);
    char *label = sh_stack_alloc(s, 32);
    sh_stack_pop(s, f);
    return label; /* dangling: the frame is gone */
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "write-after-pop") == 0) {
        sh_stack *s = sh_stack_default();
        char *label = make_label(s);
        label[4] = 'x'; /* into popped memory */
        sh_frame f = sh_stack_push(s);
        char *reuse = sh_stack_alloc(s, 64); /* the same memory again: checked here */
        if (reuse != NULL)
            reuse[0] = 0;
        sh_stack_pop(s, f);
        printf("open_frame: write-after-pop done\n");
        return 0;
    }
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    sh_stack *s = sh_stack_default(); /* a balanced frame reports nothing */
    sh_frame f = sh_stack_push(s);
    char *p = sh_stack_alloc(s, 64);
    if (p != NULL)
        p[0] = 1;
    sh_stack_pop(s, f);
    printf("open_frame: done\n");
    return 0;
}

/*
 * override_probe.c -- which allocator does an unmodified program use?
 *
 * This program is NOT linked with stackheap.  Run as
 *     override_probe stackheap     (under LD_PRELOAD=libstackheap.so)
 *     override_probe system        (without it)
 * it finds sh_usable_size with dlsym (present only if libstackheap was
 * preloaded) and checks that the blocks malloc & co return are stackheap's,
 * and that libc, threads and the dynamic loader (dlopen/dlclose, whose
 * memory may come from before stackheap was initialised) work on top of it.
 * With "system" it checks the opposite, which proves the probe can tell.
 * Exit status 0 when the expectation holds; it prints what it found.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef size_t usable_size_fn(const void *);

static int failures;
/* stackheap's sh_usable_size, found by dlsym; NULL when stackheap is not loaded */
static usable_size_fn *usable;

#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "override_probe: expected %s (line %d)\n", #cond, __LINE__);           \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static void *thread_allocates(void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < 1000; i++) {
        char *p = malloc(1 + i * 10);
        if (p == NULL || usable(p) < 1 + (size_t)i * 10)
            return (void *)1;
        p[i * 10] = 1;
        free(p);
    }
    return malloc(100); /* freed by the main thread after this one exited */
}

static void expect_stackheap(void)
{
    size_t sizes[] = {0, 1, 100, 5000, 100000, 3000000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = malloc(sizes[i]);
        EXPECT(p != NULL && usable(p) >= sizes[i] && usable(p) > 0);
        EXPECT(malloc_usable_size(p) == usable(p));
        free(p);
    }
    void *c = calloc(10, 10), *r = realloc(NULL, 50), *a = aligned_alloc(64, 64), *m = NULL;
    EXPECT(posix_memalign(&m, 256, 10) == 0);
    void *ma = memalign(32, 10), *v = valloc(10), *pv = pvalloc(10);
    char *s = strdup("libc's own allocation");
    void *all[] = {c, r, a, m, ma, v, pv, s};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        EXPECT(all[i] != NULL && usable(all[i]) > 0);
        free(all[i]);
    }

    /* threads: their stacks' bookkeeping and TLS come from malloc too */
    pthread_t t[4];
    void *left[4];
    for (unsigned i = 0; i < 4; i++)
        EXPECT(pthread_create(&t[i], NULL, thread_allocates, NULL) == 0);
    for (unsigned i = 0; i < 4; i++) {
        pthread_join(t[i], &left[i]);
        EXPECT(left[i] != (void *)1 && left[i] != NULL && usable(left[i]) >= 100);
        if (left[i] != (void *)1)
            free(left[i]);
    }

    /* the loader allocates for dlopen and frees at dlclose */
    for (unsigned i = 0; i < 3; i++) {
        void *lib = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
        EXPECT(lib != NULL);
        if (lib != NULL) {
            EXPECT(dlsym(lib, "cos") != NULL);
            dlclose(lib);
        }
        EXPECT(dlopen("libdoes-not-exist.so.42", RTLD_NOW) == NULL);
        EXPECT(dlerror() != NULL);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "stackheap") != 0 && strcmp(argv[1], "system") != 0)) {
        fprintf(stderr, "usage: override_probe stackheap|system\n");
        return 2;
    }
    bool want_stackheap = strcmp(argv[1], "stackheap") == 0;
    /* dlsym returns an object pointer; ISO C converts it to a function pointer only this way */
    void *sym = dlsym(RTLD_DEFAULT, "sh_usable_size");
    memcpy(&usable, &sym, sizeof usable);
    printf("sh_usable_size %s; malloc is %s\n", usable != NULL ? "found" : "not found",
           usable != NULL && usable(malloc(1)) > 0 ? "stackheap's" : "not stackheap's");
    if (want_stackheap) {
        EXPECT(usable != NULL);
        if (usable != NULL)
            expect_stackheap();
    } else {
        EXPECT(usable == NULL);
    }
    printf("%s\n", failures == 0 ? "as expected" : "NOT as expected");
    return failures == 0 ? 0 : 1;
}

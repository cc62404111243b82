/*
 * test_override.c -- linking libstackheap replaces the system allocator.
 *
 * Specification (include/stackheap.h, "The heap"; issue "Drop-in
 * replacement"): unless built with -DSH_OVERRIDE=OFF, libstackheap exports
 * malloc, free, calloc, realloc, reallocarray, aligned_alloc, posix_memalign,
 * memalign, valloc, pvalloc and malloc_usable_size with the semantics of
 * their glibc namesakes, so a program linked with it (this one) allocates
 * from stackheap: every block those names return is one sh_usable_size
 * recognises (it gives 0 for a pointer that is not stackheap's), and so are
 * the blocks libc allocates for itself (strdup, fopen, getline...).
 *
 * tests/heap.cmake registers this program only when the override is really
 * built (SH_OVERRIDE on, and no sanitizer that owns malloc).  The same names
 * in an unmodified program under LD_PRELOAD are tested by override_probe.c
 * and override_preload.sh.
 */
#include "check.h"

#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "stackheap.h"

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)

static int global_object = 1;

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

static bool is_aligned(const void *p, size_t align)
{
    return ((uintptr_t)p & (align - 1)) == 0;
}

/* True if p is a block of stackheap's with room for size bytes. */
static bool is_stackheaps(const void *p, size_t size)
{
    return p != NULL && sh_usable_size(p) >= size && sh_usable_size(p) > 0;
}

/* ---- the names resolve to stackheap ------------------------------------------------ */

static void malloc_returns_stackheap_blocks(void)
{
    size_t sizes[] = {0, 1, 100, 5000, 100 * KIB, 1 * MIB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = malloc(sizes[i]);
        CHECK(is_stackheaps(p, sizes[i]));
        free(p);
    }
}

static void the_standard_names_are_bound_to_libstackheap(void)
{
    static const char *names[] = {
        "malloc", "free", "calloc", "realloc", "reallocarray", "aligned_alloc", "posix_memalign",
        "memalign", "valloc", "pvalloc", "malloc_usable_size",
        /* the rest of glibc's surface, and C++'s operators by their mangled names */
        "cfree", "__libc_malloc", "__libc_free", "__libc_calloc", "__libc_realloc",
        "__libc_memalign", "__libc_valloc", "__libc_pvalloc", "free_sized", "free_aligned_sized",
        "mallinfo", "mallinfo2", "malloc_stats", "malloc_info", "mallopt", "malloc_trim", "_Znwm",
        "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t", "_ZnwmSt11align_val_t",
        "_ZnamSt11align_val_t", "_ZnwmSt11align_val_tRKSt9nothrow_t",
        "_ZnamSt11align_val_tRKSt9nothrow_t", "_ZdlPv", "_ZdaPv", "_ZdlPvRKSt9nothrow_t",
        "_ZdaPvRKSt9nothrow_t", "_ZdlPvm", "_ZdaPvm", "_ZdlPvSt11align_val_t",
        "_ZdaPvSt11align_val_t", "_ZdlPvSt11align_val_tRKSt9nothrow_t",
        "_ZdaPvSt11align_val_tRKSt9nothrow_t", "_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t"};
    void *anchor = dlsym(RTLD_DEFAULT, "sh_malloc");
    Dl_info lib;
    CHECK(anchor != NULL);
    CHECK(dladdr(anchor, &lib) != 0);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *f = dlsym(RTLD_DEFAULT, names[i]);
        Dl_info where;
        CHECK(f != NULL);
        CHECK(dladdr(f, &where) != 0);
        if (where.dli_fbase != lib.dli_fbase)
            fprintf(stderr, "  %s is %s's, not %s's\n", names[i], where.dli_fname, lib.dli_fname);
        CHECK_EQ_PTR(where.dli_fbase, lib.dli_fbase);
    }
}

static void libc_allocates_from_stackheap_too(void)
{
    char *s = strdup("allocated inside libc");
    CHECK(is_stackheaps(s, 22));
    free(s);
    FILE *f = fopen("/proc/self/maps", "r");
    CHECK(f != NULL);
    char *line = NULL;
    size_t cap = 0;
    CHECK(getline(&line, &cap, f) > 0);
    CHECK(is_stackheaps(line, cap));
    free(line);
    fclose(f);
}

/* ---- each name's contract ---------------------------------------------------------- */

static void calloc_zeroes_and_rejects_overflow(void)
{
    unsigned char *p = calloc(1000, 3);
    CHECK(is_stackheaps(p, 3000));
    for (size_t i = 0; i < 3000; i++)
        CHECK_EQ_U(p[i], 0);
    free(p);
    errno = 0;
    CHECK(calloc(runtime(SIZE_MAX), 2) == NULL);
    CHECK_EQ_U(errno, ENOMEM);
}

static void realloc_keeps_contents_and_realloc_to_zero_frees(void)
{
    char *p = realloc(NULL, 10);
    CHECK(is_stackheaps(p, 10));
    memcpy(p, "123456789", 10);
    char *q = realloc(p, 3 * MIB);
    CHECK(is_stackheaps(q, 3 * MIB));
    CHECK(strcmp(q, "123456789") == 0);
    CHECK(realloc(q, 0) == NULL); /* glibc: frees and returns NULL */
    errno = 0;
    char *r = malloc(10);
    CHECK(r != NULL);
    CHECK(realloc(r, runtime(SIZE_MAX)) == NULL);
    CHECK_EQ_U(errno, ENOMEM);
    free(r);
}

static void reallocarray_rejects_overflow_and_keeps_the_block(void)
{
    int *p = reallocarray(NULL, 100, sizeof(int));
    CHECK(is_stackheaps(p, 100 * sizeof(int)));
    p[99] = 99;
    errno = 0;
    CHECK(reallocarray(p, runtime(SIZE_MAX / 2), sizeof(int)) == NULL);
    CHECK_EQ_U(errno, ENOMEM);
    CHECK_EQ_U(p[99], 99);
    free(p);
}

static void aligned_alloc_and_posix_memalign_align(void)
{
    for (size_t align = 8; align <= 1 * MIB; align *= 2) {
        void *a = aligned_alloc(align, 3 * align);
        CHECK(is_stackheaps(a, 3 * align));
        CHECK(is_aligned(a, align));
        void *b = NULL;
        CHECK_EQ_U(posix_memalign(&b, align, 100), 0);
        CHECK(is_stackheaps(b, 100));
        CHECK(is_aligned(b, align));
        free(a);
        free(b);
    }
    errno = 0;
    CHECK(aligned_alloc(runtime(24), 100) == NULL);
    CHECK_EQ_U(errno, EINVAL);
}

static void posix_memalign_returns_its_error_and_leaves_errno_alone(void)
{
    void *out = &global_object;
    errno = 1234;
    CHECK_EQ_U(posix_memalign(&out, runtime(4), 64), EINVAL);
    CHECK_EQ_U(posix_memalign(&out, runtime(24), 64), EINVAL);
    CHECK_EQ_U(posix_memalign(&out, 64, runtime(SIZE_MAX)), ENOMEM);
    CHECK_EQ_U(errno, 1234); /* POSIX: the error is returned, errno is not set */
    CHECK_EQ_PTR(out, &global_object);
}

static void memalign_rounds_an_alignment_up_to_a_power_of_two(void)
{
    size_t aligns[] = {1, 8, 16, 24, 100, 4096, 5000, 64 * KIB};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        size_t want = 1;
        while (want < aligns[i])
            want *= 2;
        void *p = memalign(aligns[i], 200);
        CHECK(is_stackheaps(p, 200));
        CHECK(is_aligned(p, want));
        free(p);
    }
}

static void valloc_and_pvalloc_return_whole_pages(void)
{
    size_t page = page_size();
    size_t sizes[] = {0, 1, 100, page, page + 1, 3 * page + 5, 1 * MIB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *v = valloc(sizes[i]);
        CHECK(is_stackheaps(v, sizes[i]));
        CHECK(is_aligned(v, page));
        size_t rounded = (sizes[i] + page - 1) / page * page;
        void *pv = pvalloc(sizes[i]);
        CHECK(is_stackheaps(pv, rounded == 0 ? page : rounded));
        CHECK(is_aligned(pv, page));
        memset(pv, 1, rounded == 0 ? page : rounded);
        free(v);
        free(pv);
    }
}

static void malloc_usable_size_is_stackheaps(void)
{
    size_t sizes[] = {1, 24, 1000, 20 * KIB, 500 * KIB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = malloc(sizes[i]);
        CHECK(p != NULL);
        CHECK_EQ_U(malloc_usable_size(p), sh_usable_size(p));
        CHECK(malloc_usable_size(p) >= sizes[i]);
        free(p);
    }
    CHECK_EQ_U(malloc_usable_size(NULL), 0);
}

/* glibc 2.36's headers declare neither (C23) */
void free_sized(void *p, size_t size);
void free_aligned_sized(void *p, size_t align, size_t size);
void *__libc_malloc(size_t size);
void __libc_free(void *p);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void *__libc_memalign(size_t align, size_t size);
void cfree(void *p);

static void libc_names_and_cfree_serve_stackheap_blocks(void)
{
    char *p = __libc_malloc(100);
    CHECK(is_stackheaps(p, 100));
    free(p); /* a block from glibc's name, freed by the standard one */
    char *q = malloc(10);
    __libc_free(q); /* and the other way round: on glibc this aborts */
    unsigned char *z = __libc_calloc(10, 10);
    CHECK(is_stackheaps(z, 100));
    for (int i = 0; i < 100; i++)
        CHECK_EQ_U(z[i], 0);
    z = __libc_realloc(z, 5000);
    CHECK(is_stackheaps(z, 5000));
    cfree(z);
    void *a = __libc_memalign(256, 10);
    CHECK(a != NULL && ((uintptr_t)a & 255) == 0);
    __libc_free(a);
}

static void free_sized_accepts_the_size_allocated(void)
{
    size_t sizes[] = {1, 8, 24, 100, 1000, 5000, 100 * KIB, 1 * MIB, 3 * MIB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        free_sized(malloc(sizes[i]), sizes[i]);
        free_sized(calloc(1, sizes[i]), sizes[i]);
        void *r = realloc(malloc(sizes[i]), sizes[i] * 3 / 4 + 1); /* may stay in place */
        free_sized(r, sizes[i] * 3 / 4 + 1);
        free_aligned_sized(aligned_alloc(64, sizes[i]), 64, sizes[i]);
        free_aligned_sized(aligned_alloc(4096, sizes[i]), 4096, sizes[i]);
    }
}

static void free_sized_too_big(void *arg)
{
    (void)arg;
    free_sized(opaque(malloc(16)), 64);
}

static void free_aligned_sized_misaligned(void *arg)
{
    (void)arg;
    /* a block that is not 4096-aligned: of two neighbours, one is not */
    char *p = malloc(100);
    if (((uintptr_t)p & 4095) == 0)
        p = malloc(100);
    free_aligned_sized(opaque(p), 4096, 100);
}

static void free_sized_with_a_size_it_was_not_allocated_with_aborts(void)
{
    CHECK_DIES(free_sized_too_big, NULL, "stackheap: invalid free: free_sized(0x");
    CHECK_DIES(free_sized_too_big, NULL,
               ") with size 64, which is not the size it was allocated with (its block holds 16 "
               "bytes)");
    CHECK_DIES(free_aligned_sized_misaligned, NULL,
               ") is not aligned to 4096: it was not allocated with that alignment");
}

static void free_global(void *arg)
{
    (void)arg;
    free(opaque(&global_object));
}

static void usable_size_of_global(void *arg)
{
    (void)arg;
    (void)malloc_usable_size(opaque(&global_object));
}

static void free_or_usable_size_of_a_global_aborts_as_on_glibc(void)
{
    CHECK_DIES(free_global, NULL, "stackheap: invalid free: free(0x");
    CHECK_DIES(free_global, NULL, "is not a block stackheap handed out (it points into ");
    CHECK_DIES(usable_size_of_global, NULL, "stackheap: invalid pointer: malloc_usable_size(0x");
    CHECK_EQ_U(global_object, 1);
}

/* ---- mallinfo, mallinfo2, malloc_info, malloc_stats, malloc_trim, mallopt ---- */

static void mallinfo2_counts_what_is_allocated(void)
{
    struct mallinfo2 before = mallinfo2();
    void *small[1000];
    for (int i = 0; i < 1000; i++)
        small[i] = opaque(malloc(1000));
    char *big = opaque(malloc(10 * MIB)); /* opaque: the compiler may drop a malloc+free pair */
    big[0] = 1;
    struct mallinfo2 with = mallinfo2();
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored                                                                     \
    "-Wdeprecated-declarations" /* glibc deprecates it; programs call it */
    struct mallinfo old = mallinfo();
#pragma GCC diagnostic pop
    CHECK(with.uordblks >= before.uordblks + 1000 * 1000);
    CHECK(with.hblks >= before.hblks + 1);
    CHECK(with.hblkhd >= before.hblkhd + 10 * MIB);
    CHECK(with.arena >= with.uordblks);
    CHECK_EQ_U((size_t)old.uordblks, with.uordblks); /* small enough for an int */
    for (int i = 0; i < 1000; i++)
        free(small[i]);
    free(big);
    struct mallinfo2 after = mallinfo2();
    CHECK(after.uordblks < with.uordblks - 900 * 1000);
    CHECK(after.hblkhd <= with.hblkhd - 10 * MIB);
}

static void malloc_info_writes_well_formed_xml(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(f != NULL);
    CHECK(malloc_info(0, f) == 0);
    fclose(f);
    CHECK(len > 0 && strncmp(text, "<malloc version=\"1\">\n", 21) == 0);
    CHECK(len > 10 && strcmp(text + len - 10, "</malloc>\n") == 0);
    /* every element is closed, in order: a stack of names */
    char stack[16][32];
    int depth = 0;
    bool ok = true;
    for (char *p = strchr(text, '<'); p != NULL && ok; p = strchr(p + 1, '<')) {
        char *end = strchr(p, '>');
        ok = end != NULL;
        if (!ok)
            break;
        bool closing = p[1] == '/', empty = end[-1] == '/';
        char name[32];
        size_t n = strcspn(p + 1 + closing, " />");
        ok = n > 0 && n < sizeof name;
        if (!ok)
            break;
        memcpy(name, p + 1 + closing, n);
        name[n] = '\0';
        if (closing)
            ok = depth > 0 && strcmp(stack[--depth], name) == 0;
        else if (!empty)
            ok = depth < 16 && (strcpy(stack[depth++], name), true);
    }
    CHECK(ok && depth == 0);
    errno = 0;
    CHECK(malloc_info(1, stdout) == -1 && errno == EINVAL);
    free(text);
}

static void malloc_stats_prints_glibcs_layout(void)
{
    fflush(stderr);
    int saved = dup(2), pipefd[2];
    CHECK(saved >= 0 && pipe(pipefd) == 0);
    dup2(pipefd[1], 2);
    malloc_stats();
    dup2(saved, 2);
    close(saved);
    close(pipefd[1]);
    char out[1024];
    ssize_t n = read(pipefd[0], out, sizeof out - 1);
    close(pipefd[0]);
    CHECK(n > 0);
    out[n > 0 ? n : 0] = '\0';
    CHECK(strstr(out, "Arena 0:\nsystem bytes     = ") == out);
    CHECK(strstr(out, "\nTotal (incl. mmap):\n") != NULL);
    CHECK(strstr(out, "\nmax mmap bytes   = ") != NULL);
}

static void malloc_trim_gives_freed_memory_back(void)
{
    enum { N = (64 << 20) / 64 };
    void **blocks = malloc(N * sizeof *blocks);
    CHECK(blocks != NULL);
    for (size_t i = 0; i < N; i++) {
        blocks[i] = malloc(64);
        memset(blocks[i], 1, 64);
    }
    for (size_t i = 0; i < N; i++)
        free(blocks[i]);
    free(blocks);
    size_t before = rss_bytes();
    CHECK_EQ_U(malloc_trim(0), 1);
    size_t after = rss_bytes();
    fprintf(stderr, "     malloc_trim(0) after freeing 64 MiB: RSS %zu KiB -> %zu KiB\n",
            before / KIB, after / KIB);
    CHECK(after + 32 * MIB < before);
}

/* Another thread frees 64 MiB of small blocks and waits; malloc_trim in this
   thread asks it to give them back, which it does at its next slow path
   (here: a malloc and free that empty its 64-byte page), not before. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int stage; /* 1: the thread freed; 2: the main thread measured */
} trim = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static void trim_stage(int s)
{
    pthread_mutex_lock(&trim.lock);
    trim.stage = s;
    pthread_cond_broadcast(&trim.changed);
    pthread_mutex_unlock(&trim.lock);
}

static void trim_wait(int s)
{
    pthread_mutex_lock(&trim.lock);
    while (trim.stage < s)
        pthread_cond_wait(&trim.changed, &trim.lock);
    pthread_mutex_unlock(&trim.lock);
}

static void *free_64_mib_then_wait(void *arg)
{
    (void)arg;
    enum { N = (64 << 20) / 64 };
    void **blocks = malloc(N * sizeof *blocks);
    for (size_t i = 0; i < N; i++) {
        blocks[i] = malloc(64);
        memset(blocks[i], 1, 64);
    }
    for (size_t i = 0; i < N; i++)
        free(blocks[i]);
    free(blocks);
    trim_stage(1);
    trim_wait(2); /* no allocator call until the main thread has measured */
    return NULL;
}

static void malloc_trim_returns_other_threads_free_memory(void)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, free_64_mib_then_wait, NULL) == 0);
    trim_wait(1);
    size_t before = rss_bytes();
    CHECK_EQ_U(malloc_trim(0), 1);
    size_t after = rss_bytes();
    trim_stage(2);
    fprintf(stderr,
            "     another thread's 64 MiB freed, that thread idle: RSS %zu KiB before "
            "malloc_trim, %zu KiB after\n",
            before / KIB, after / KIB);
    CHECK(after + 32 * MIB < before);
    pthread_join(t, NULL);
}

static void mallopt_accepts_glibcs_parameters(void)
{
    int params[] = {M_MXFAST,       M_TRIM_THRESHOLD, M_TOP_PAD,    M_MMAP_THRESHOLD, M_MMAP_MAX,
                    M_CHECK_ACTION, M_PERTURB,        M_ARENA_TEST, M_ARENA_MAX};
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
        CHECK_EQ_U(mallopt(params[i], 1), 1);
    CHECK_EQ_U(mallopt(12345, 1), 0);
}

int main(void)
{
    RUN(malloc_returns_stackheap_blocks);
    RUN(the_standard_names_are_bound_to_libstackheap);
    RUN(libc_allocates_from_stackheap_too);
    RUN(calloc_zeroes_and_rejects_overflow);
    RUN(realloc_keeps_contents_and_realloc_to_zero_frees);
    RUN(reallocarray_rejects_overflow_and_keeps_the_block);
    RUN(aligned_alloc_and_posix_memalign_align);
    RUN(posix_memalign_returns_its_error_and_leaves_errno_alone);
    RUN(memalign_rounds_an_alignment_up_to_a_power_of_two);
    RUN(valloc_and_pvalloc_return_whole_pages);
    RUN(malloc_usable_size_is_stackheaps);
    RUN(free_or_usable_size_of_a_global_aborts_as_on_glibc);
    RUN(libc_names_and_cfree_serve_stackheap_blocks);
    RUN(mallinfo2_counts_what_is_allocated);
    RUN(malloc_info_writes_well_formed_xml);
    RUN(malloc_stats_prints_glibcs_layout);
    RUN(malloc_trim_gives_freed_memory_back);
    RUN(malloc_trim_returns_other_threads_free_memory);
    RUN(mallopt_accepts_glibcs_parameters);
    RUN(free_sized_accepts_the_size_allocated);
    RUN(free_sized_with_a_size_it_was_not_allocated_with_aborts);
    return check_report();
}

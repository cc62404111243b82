/*
 * test_library_pages.c -- what of the library's own file a process that
 * allocates makes resident (docs/DESIGN.md, "What a small program pays").
 *
 * The kernel maps a file's pages in 64 KiB windows around each fault.  The
 * library is linked with its segments 64 KiB aligned and the code every
 * process runs first, so after blocks of every kind (small, medium, span,
 * large; realloc; another thread's frees) the resident code is at most one
 * window, and its read-only data (strings, constants: the messages, the
 * tools' tables) none at all: a single read there would map all of it.
 */
#include "check.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stackheap.h>

#define KIB ((size_t)1024)
#define MIB (1024 * KIB)

typedef struct mapping {
    char perms[5];
    unsigned long offset;
    size_t rss_kib;
} mapping;

/* The mappings of the file that holds sh_malloc, in address order: how many
   (at most max) in *n. */
static void library_mappings(mapping *out, unsigned max, unsigned *n)
{
    Dl_info info;
    *n = 0;
    if (dladdr((void *)(uintptr_t)sh_malloc, &info) == 0 || info.dli_fname == NULL)
        return;
    const char *name = strrchr(info.dli_fname, '/');
    name = name != NULL ? name + 1 : info.dli_fname;
    FILE *f = fopen("/proc/self/smaps", "r");
    if (f == NULL)
        return;
    char line[512];
    bool ours = false;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long lo, hi, off;
        char perms[5], path[256] = "";
        if (sscanf(line, "%lx-%lx %4s %lx %*s %*s %255s", &lo, &hi, perms, &off, path) >= 4) {
            const char *base = strrchr(path, '/');
            /* the versioned file (libstackheap.so.0.1.0) the links name */
            ours = base != NULL && strncmp(base + 1, name, strlen(name)) == 0 && *n < max;
            if (ours) {
                memcpy(out[*n].perms, perms, sizeof perms);
                out[*n].offset = off;
                out[*n].rss_kib = 0;
            }
            continue;
        }
        size_t kib;
        if (ours && sscanf(line, "Rss: %zu kB", &kib) == 1) {
            out[*n].rss_kib = kib;
            (*n)++;
            ours = false;
        }
    }
    fclose(f);
}

static void *remote_frees(void *arg)
{
    void **blocks = arg;
    for (unsigned i = 0; i < 64; i++)
        sh_free(blocks[i]);
    void *mine = sh_malloc(100);
    sh_free(mine);
    return NULL;
}

/* Blocks of every kind, as a plain program makes them. */
static void allocate_every_kind(void)
{
    static void *small[64];
    for (unsigned i = 0; i < 64; i++)
        small[i] = sh_malloc(16 + i * 16);
    void *medium = sh_calloc(1, 40 * KIB);
    void *span = sh_malloc(300 * KIB);
    void *large = sh_malloc(3 * MIB);
    span = sh_realloc(span, 700 * KIB);
    large = sh_realloc(large, 5 * MIB);
    pthread_t t;
    if (pthread_create(&t, NULL, remote_frees, small) == 0)
        pthread_join(t, NULL);
    sh_free(medium);
    sh_free(span);
    sh_free(large);
    sh_heap_collect(true);
}

static void a_process_maps_one_window_of_code_and_no_read_only_data(void)
{
    allocate_every_kind();
    mapping m[16];
    unsigned n;
    library_mappings(m, 16, &n);
    /* the code, then (past the gap the alignment leaves, ---p) the read-only data */
    unsigned text = n, data = n;
    for (unsigned i = 0; i < n; i++) {
        if (strcmp(m[i].perms, "r-xp") == 0)
            text = i;
        else if (text < n && data == n && strcmp(m[i].perms, "r--p") == 0)
            data = i;
    }
    CHECK(text < n && data < n);
    if (text == n || data == n)
        return;
    printf("     the library's code: %zu KiB resident; its read-only data (offset 0x%lx): %zu "
           "KiB\n",
           m[text].rss_kib, m[data].offset, m[data].rss_kib);
    CHECK(m[text].rss_kib <= 64);
    CHECK(m[data].rss_kib == 0);
}

int main(void)
{
    RUN(a_process_maps_one_window_of_code_and_no_read_only_data);
    return check_report();
}

/*
 * dlopen libstackheap.so, allocate from a thread, dlclose it, then let the
 * thread exit: the heap's thread-exit destructor must still be there (the
 * library is linked with -z nodelete, so dlclose never unmaps it).  Before,
 * the thread's exit jumped into unmapped code (SIGSEGV).
 *
 *   dlclose_thread PATH_OF_LIBSTACKHEAP_SO
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static void *(*lib_malloc)(size_t);
static void (*lib_free)(void *);
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int stage; /* 1: the thread allocated; 2: the library was closed */

static void wait_for(int s)
{
    pthread_mutex_lock(&lock);
    while (stage < s)
        pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
}

static void advance(int s)
{
    pthread_mutex_lock(&lock);
    stage = s;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static void *worker(void *arg)
{
    (void)arg;
    char *p = lib_malloc(100); /* the thread now has a heap and an exit destructor */
    memset(p, 1, 100);
    char *keep = lib_malloc(5000);
    lib_free(p);
    advance(1);
    wait_for(2);
    (void)keep; /* left live: the exit path abandons its segment */
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: dlclose_thread LIBSTACKHEAP_SO\n");
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    /* POSIX's way to store dlsym's object pointer into a function pointer */
    *(void **)&lib_malloc = dlsym(lib, "sh_malloc");
    *(void **)&lib_free = dlsym(lib, "sh_free");
    if (lib_malloc == NULL || lib_free == NULL) {
        fprintf(stderr, "dlsym: %s\n", dlerror());
        return 1;
    }
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    wait_for(1);
    dlclose(lib);
    advance(2);
    pthread_join(t, NULL);
    printf("dlclose_thread: the thread exited after dlclose\n");
    return 0;
}

/*
 * Forks while a pthread_atfork prepare handler registered before
 * stackheap's own allocates a 256 KiB block from stackheap.  fork runs
 * prepare handlers in reverse order of registration, so stackheap's runs
 * first and holds its locks when this one allocates: the allocation must
 * not wait on them.  The program registers its handlers, then dlopens
 * libstackheap (argv[1]), whose handlers are therefore registered after.
 * alarm() turns a hang into a failure.
 *
 *   atfork_handler_allocates PATH_OF_LIBSTACKHEAP_SO
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static void *(*lib_malloc)(size_t);
static void (*lib_free)(void *);
static void *kept;

static void prepare(void)
{
    if (lib_malloc != NULL)
        kept = lib_malloc(256 << 10);
}

static void after(void)
{
    if (lib_free != NULL)
        lib_free(kept);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: atfork_handler_allocates LIBSTACKHEAP_SO\n");
        return 2;
    }
    alarm(20);
    pthread_atfork(prepare, after, after);
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    /* POSIX's way to store dlsym's object pointer into a function pointer */
    *(void **)&lib_malloc = dlsym(lib, "sh_malloc");
    *(void **)&lib_free = dlsym(lib, "sh_free");
    char *p = lib_malloc(100);
    p[0] = 1;
    pid_t pid = fork();
    if (pid == 0) {
        char *q = lib_malloc(300 << 10);
        q[0] = 1;
        lib_free(q);
        _exit(7);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    lib_free(p);
    printf("atfork_handler_allocates: child exited %d\n",
           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

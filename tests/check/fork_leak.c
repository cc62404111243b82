/* A process that forks: the child leaks 111 bytes and exits (its own exit
   report runs), then the parent, once the child is gone, leaks 222. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

__attribute__((noinline)) static void leak_in_child(void)
{
    char *volatile p = malloc(111);
    memset(p, 1, 111);
    p = NULL;
}

__attribute__((noinline)) static void leak_in_parent(void)
{
    char *volatile p = malloc(222);
    memset(p, 2, 222);
    p = NULL;
}

int main(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        leak_in_child();
        printf("fork_leak: child done\n");
        exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    leak_in_parent();
    printf("fork_leak: parent done\n");
    return 0;
}

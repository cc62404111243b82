/* Runs the program its arguments name (fork, exec, wait), then exits: a
   checked program that starts another, which inherits check mode. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    pid_t pid = fork();
    if (pid == 0) {
        execv(argv[1], &argv[1]);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("spawn: done\n");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* Closes every descriptor above stderr (as daemons do), opens a file of its
   own (argv[1]), which gets the lowest free number, that of a report file
   check mode had open, then writes JSON into it and leaks a block.  The
   report at exit must leave this file alone. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const char text[] = "{\"mine\": 1}\n";
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        return 1;
    char *volatile lost = malloc(64);
    memset(lost, 1, 64);
    lost = NULL;
    printf("closes_fds: fd %d\n", fd);
    return 0;
}

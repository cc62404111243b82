/* Overwrites the first word of a freed block (its free-list link). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    char *volatile p = malloc(48);
    free(p);
    memset(p, 0x41, 8);
    for (int i = 0; i < 100000; i++) {
        void *volatile q = malloc(48);
        if (q == (void *)0x4141414141414141ull) {
            printf("BUG: malloc returned the hijacked address\n");
            return 0;
        }
    }
    printf("write_after_free_link: not caught\n");
    return 0;
}

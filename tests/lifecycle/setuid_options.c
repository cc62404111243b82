/* Run setuid root by an unprivileged user (tests/lifecycle/setuid.sh), with
   STACKHEAP_CHECK=1 and STACKHEAP_CHECK_LOG set: stackheap must read no
   option (secure_getenv), so check mode stays off and no log is written.
   Leaks one block, which check mode would report.  Linked statically with
   libstackheap: a setuid program ignores LD_PRELOAD and LD_LIBRARY_PATH. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>

#include "stackheap.h"

int main(void)
{
    char *leak = sh_malloc(777);
    leak[0] = 1;
    printf("setuid_options: AT_SECURE %lu, done\n", getauxval(AT_SECURE));
    return 0;
}

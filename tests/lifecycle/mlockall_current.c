/* mlockall(MCL_CURRENT) in a program whose heap is stackheap's, without the
   privilege to lock more than RLIMIT_MEMLOCK (8 MiB, the default for users):
   the kernel refuses when the process maps more than that in all, so the
   allocator's own bookkeeping must not take a large part of it.  A 32 MiB
   segment map in BSS made every such program fail here, and added its 32
   MiB to the resident set of one that had the privilege.  Run as root, the
   program gives up CAP_IPC_LOCK first (it would lift the limit). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    if (f != NULL)
        fclose(f);
    return v;
}

static int drop_ipc_lock(void)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) != 0)
        return -1;
    data[0].effective &= ~(1u << CAP_IPC_LOCK);
    data[0].permitted &= ~(1u << CAP_IPC_LOCK);
    return (int)syscall(SYS_capset, &hdr, data);
}

int main(void)
{
    struct rlimit lim = {8u << 20, 8u << 20};
    if (setrlimit(RLIMIT_MEMLOCK, &lim) != 0 || drop_ipc_lock() != 0) {
        printf("mlockall_current: cannot set up: %s\n", strerror(errno));
        return 1;
    }
    /* a heap in use: small blocks from one segment */
    void *blocks[1000];
    for (int i = 0; i < 1000; i++)
        if ((blocks[i] = malloc(64 + (size_t)i % 200)) == NULL)
            return 1;
    long vm = status_kib("VmSize"), before = status_kib("VmRSS");
    if (mlockall(MCL_CURRENT) != 0) {
        printf("mlockall_current: FAIL: mlockall(MCL_CURRENT) with an 8 MiB limit: %s "
               "(VmSize %ld KiB)\n",
               strerror(errno), vm);
        return 1;
    }
    long after = status_kib("VmRSS"), locked = status_kib("VmLck");
    for (int i = 0; i < 1000; i++)
        free(blocks[i]);
    munlockall();
    printf("mlockall_current: locked %ld KiB (VmSize %ld KiB; resident %ld -> %ld KiB)\n", locked,
           vm, before, after);
    return 0;
}

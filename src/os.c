/*
 * os.c -- the only file of stackheap that talks to the kernel.
 *
 * Everything else asks for memory, protection changes and output through
 * these functions, so fault injection, statistics and porting have a single
 * place to touch.  None of these functions allocates.
 *
 * Mappings are private, anonymous and MAP_NORESERVE: address space is
 * reserved, physical pages are committed by the kernel on first touch.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct {
    size_t page_size; /* 0 until first asked */
} os;

size_t sh_os_page_size(void)
{
    if (sh_unlikely(os.page_size == 0)) {
        long ps = sysconf(_SC_PAGESIZE);
        os.page_size = ps > 0 ? (size_t)ps : 4096;
    }
    return os.page_size;
}

void *sh_os_map(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    return p;
}

/* Over-map by align, then trim the unaligned head and the tail. */
void *sh_os_map_aligned(size_t size, size_t align)
{
    size_t page = sh_os_page_size();
    if (align <= page)
        return sh_os_map(size);
    size_t span;
    if (__builtin_add_overflow(size, align, &span)) {
        errno = ENOMEM;
        return NULL;
    }
    char *raw = sh_os_map(span);
    if (raw == NULL)
        return NULL;
    uintptr_t start = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
    size_t head = start - (uintptr_t)raw;
    size_t tail = span - head - size;
    if (head > 0)
        munmap(raw, head);
    if (tail > 0)
        munmap((char *)start + size, tail);
    return (void *)start;
}

void sh_os_unmap(void *p, size_t size)
{
    if (p != NULL && size > 0 && munmap(p, size) != 0)
        sh_fatal("munmap(%p, %zu) failed (errno %d): the mapping is not stackheap's", p, size,
                 errno);
}

int sh_os_protect_none(void *p, size_t size)
{
    return mprotect(p, size, PROT_NONE) == 0 ? 0 : errno;
}

void sh_os_decommit(void *p, size_t size)
{
    if (size > 0)
        (void)madvise(p, size, MADV_DONTNEED);
}

void sh_os_write(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

void sh_os_abort(void)
{
    abort();
}

long sh_os_thread_id(void)
{
    return (long)syscall(SYS_gettid);
}

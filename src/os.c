/*
 * os.c -- the only file of stackheap that talks to the kernel.
 *
 * Everything else asks for memory, protection changes and output through
 * these functions, so fault injection, statistics and porting have a single
 * place to touch.  None of these functions allocates (sh_os_spawn's
 * posix_spawn may, in libc, but only check mode's reports use it).
 *
 * Mappings are private and anonymous; physical pages are committed by the
 * kernel on first touch.  sh_os_map and sh_os_map_aligned reserve address
 * space only (MAP_NORESERVE); sh_os_map_committed's mappings are charged to
 * the kernel's overcommit accounting (a large block's own mapping).
 */
#define _GNU_SOURCE
#include "internal.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Aligned mappings are first tried at hints in this range (2 TiB to 32 TiB),
   where the kernel rarely puts anything: one mmap instead of three.  The
   first hint is random (HINT_SPREAD, 4 MiB steps: 21 bits), so heap
   addresses differ from run to run; after a wrap-around hints start at
   HINT_START.  Each hinted mapping is followed by HINT_GAP bytes left
   unmapped, so that an overflow off the end of one faults before it reaches
   the next one's header. */
#define HINT_START ((uintptr_t)2 << 40)
#define HINT_SPREAD ((uintptr_t)8 << 40)
#define HINT_END ((uintptr_t)32 << 40)
#define HINT_STEP ((uintptr_t)4 << 20)
#define HINT_GAP HINT_STEP

static struct {
    size_t page_size;            /* 0 until first asked */
    _Atomic uintptr_t hint;      /* next aligned address to try */
    _Atomic size_t mapped, peak; /* bytes mapped through this file (STACKHEAP_STATS) */
    _Atomic size_t maps, unmaps;
    _Atomic size_t decommitted; /* bytes given back with madvise, ever */
} os;

/* ---- the system calls, and fault injection ----------------------------------
 *
 * Every mmap, mremap, madvise and munmap of the library goes through the
 * four functions below.  For tests, STACKHEAP_FAULT=KIND:N (KIND mmap,
 * mremap, madvise or munmap; several, comma separated) makes the Nth call
 * of that kind fail as the kernel does at its limits (ENOMEM), counted from
 * 1 from the process's start.  Read once (secure_getenv: never in a setuid
 * program); without it each call costs one predicted branch more.
 */
enum { FAULT_MMAP, FAULT_MREMAP, FAULT_MADVISE, FAULT_MUNMAP, FAULT_KINDS };

static struct {
    _Atomic int state;              /* 0: not read yet, 1: none asked, 2: armed */
    _Atomic long left[FAULT_KINDS]; /* calls before the failing one; 0: none */
} fault;

static void fault_read(void)
{
    static const char *const names[FAULT_KINDS] = {"mmap", "mremap", "madvise", "munmap"};
    const char *spec = sh_env(sh_env_fault);
    int state = 1;
    for (const char *s = spec; s != NULL && *s != '\0';) {
        for (int k = 0; k < FAULT_KINDS; k++) {
            size_t len = strlen(names[k]);
            if (strncmp(s, names[k], len) == 0 && s[len] == ':') {
                long n = strtol(s + len + 1, NULL, 10);
                if (n > 0) {
                    atomic_store_explicit(&fault.left[k], n, memory_order_relaxed);
                    state = 2;
                }
            }
        }
        s = strchr(s, ',');
        s = s != NULL ? s + 1 : NULL;
    }
    atomic_store_explicit(&fault.state, state, memory_order_release);
}

/* True if this call of kind k is the one asked to fail. */
static bool fault_now(int k)
{
    int state = atomic_load_explicit(&fault.state, memory_order_acquire);
    if (sh_likely(state == 1))
        return false;
    if (state == 0) {
        fault_read(); /* racing first callers read the same value */
        if (atomic_load_explicit(&fault.state, memory_order_acquire) == 1)
            return false;
    }
    long left = atomic_load_explicit(&fault.left[k], memory_order_relaxed);
    while (left > 0 &&
           !atomic_compare_exchange_weak_explicit(&fault.left[k], &left, left - 1,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
    return left == 1;
}

/* commit: charged to the kernel's overcommit accounting (no MAP_NORESERVE),
   so it refuses what it would refuse to any program. */
static void *sys_mmap(void *hint, size_t size, bool commit)
{
    if (fault_now(FAULT_MMAP)) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return mmap(hint, size, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | (commit ? 0 : MAP_NORESERVE), -1, 0);
}

static void *sys_mremap(void *p, size_t old_size, size_t new_size, int flags, void *dest)
{
    if (fault_now(FAULT_MREMAP)) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return mremap(p, old_size, new_size, flags, dest);
}

static int sys_madvise(void *p, size_t size)
{
    if (fault_now(FAULT_MADVISE)) {
        errno = ENOMEM;
        return -1;
    }
    return madvise(p, size, MADV_DONTNEED);
}

static int sys_munmap(void *p, size_t size)
{
    if (fault_now(FAULT_MUNMAP)) {
        errno = ENOMEM;
        return -1;
    }
    return munmap(p, size);
}

/* Count a change of delta bytes in what is mapped. */
static void account(ptrdiff_t delta)
{
    sh_atomic_max(&os.peak,
                  atomic_fetch_add_explicit(&os.mapped, (size_t)delta, memory_order_relaxed) +
                      (size_t)delta);
    atomic_fetch_add_explicit(delta >= 0 ? &os.maps : &os.unmaps, 1, memory_order_relaxed);
}

void sh_os_mapped(size_t *now, size_t *peak, size_t *maps, size_t *unmaps)
{
    *now = atomic_load_explicit(&os.mapped, memory_order_relaxed);
    *peak = atomic_load_explicit(&os.peak, memory_order_relaxed);
    *maps = atomic_load_explicit(&os.maps, memory_order_relaxed);
    *unmaps = atomic_load_explicit(&os.unmaps, memory_order_relaxed);
}

/*
 * Unmapping can fail at the kernel's limits: munmap of part of a mapping
 * splits it, and near vm.max_map_count that is ENOMEM.  The memory is then
 * decommitted at once (it no longer counts in RSS), and the range waits in
 * `pending` to be unmapped by a later call; if that is full, the range stays
 * mapped (address space only).  Any other failure means the range was never
 * a mapping of stackheap's: that is a bug, and dies.
 */
#define PENDING 64
static struct {
    pthread_mutex_t lock;
    void *p[PENDING];
    size_t size[PENDING];
    _Atomic unsigned n;
} pending = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Unmap the ranges that failed before (some may fail again: they stay). */
static void retry_pending(void)
{
    if (atomic_load_explicit(&pending.n, memory_order_relaxed) == 0) /* racy peek, fine */
        return;
    sh_lock(&pending.lock);
    unsigned kept = 0, n = atomic_load_explicit(&pending.n, memory_order_relaxed);
    for (unsigned i = 0; i < n; i++) {
        if (sys_munmap(pending.p[i], pending.size[i]) == 0)
            continue;
        pending.p[kept] = pending.p[i];
        pending.size[kept] = pending.size[i];
        kept++;
    }
    atomic_store_explicit(&pending.n, kept, memory_order_relaxed);
    sh_unlock(&pending.lock);
}

void sh_os_lock_for_fork(int phase)
{
    if (phase == 0)
        sh_lock(&pending.lock);
    else if (phase == 1)
        sh_unlock(&pending.lock);
    else
        pthread_mutex_init(&pending.lock, NULL);
}

/* munmap(p, size), or its best when the kernel refuses (see above). */
static void unmap_or_defer(void *p, size_t size)
{
    if (sys_munmap(p, size) == 0) {
        retry_pending();
        return;
    }
    if (errno != ENOMEM)
        sh_fatal("munmap(%p, %zu) failed (errno %d): the mapping is not stackheap's", p, size,
                 errno);
    (void)sys_madvise(p, size); /* the memory goes back now, the range later */
    sh_lock(&pending.lock);
    unsigned n = atomic_load_explicit(&pending.n, memory_order_relaxed);
    if (n < PENDING) {
        pending.p[n] = p;
        pending.size[n] = size;
        atomic_store_explicit(&pending.n, n + 1, memory_order_relaxed);
    }
    sh_unlock(&pending.lock);
}

size_t sh_os_page_size(void)
{
    /* relaxed: racing first callers store the same value */
    size_t ps = atomic_load_explicit(&os.page_size, memory_order_relaxed);
    if (sh_unlikely(ps == 0)) {
        /* the kernel's word for it, not sysconf (whose code and tables
           would be made resident for this one call: see "the clock") */
        unsigned long v = getauxval(AT_PAGESZ);
        ps = v != 0 ? (size_t)v : 4096;
        atomic_store_explicit(&os.page_size, ps, memory_order_relaxed);
    }
    return ps;
}

static void *map_anywhere(size_t size, bool commit)
{
    void *p = sys_mmap(NULL, size, commit);
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    account((ptrdiff_t)size);
    return p;
}

/* Try the next hint; NULL if the kernel put the mapping elsewhere. */
void *sh_os_map(size_t size)
{
    return map_anywhere(size, false);
}

/* room: address space after the mapping's start kept free for its growth
   (the hint moves past it). */
static void *map_at_hint(size_t size, size_t align, bool commit, size_t room)
{
    if (size > ((size_t)1 << 40) || align > ((size_t)1 << 30) || room > ((size_t)1 << 40))
        return NULL;
    size_t span =
        (((size > room ? size : room) + align - 1) & ~(align - 1)) + (sh_cfg_harden ? HINT_GAP : 0);
    uintptr_t h = atomic_load_explicit(&os.hint, memory_order_relaxed);
    if (sh_unlikely(h == 0)) { /* first use: a random start */
        uint64_t r = 0;
        if (sh_cfg_harden)
            sh_os_random(&r, sizeof r);
        uintptr_t first = HINT_START + (r % (HINT_SPREAD / HINT_STEP)) * HINT_STEP;
        /* relaxed: whichever racing thread stores first, the start is random */
        atomic_compare_exchange_strong_explicit(&os.hint, &h, first, memory_order_relaxed,
                                                memory_order_relaxed);
    }
    /* relaxed: racing threads get different hints, which is all that matters */
    h = atomic_fetch_add_explicit(&os.hint, span, memory_order_relaxed);
    if (h + span > HINT_END) { /* wrapped around */
        uintptr_t expect = h + span;
        atomic_compare_exchange_strong_explicit(&os.hint, &expect, HINT_START + span,
                                                memory_order_relaxed, memory_order_relaxed);
        h = HINT_START;
    }
    h = (h + align - 1) & ~(uintptr_t)(align - 1);
    void *p = sys_mmap((void *)h, size, commit);
    if (p == MAP_FAILED)
        return NULL;
    if (((uintptr_t)p & (align - 1)) != 0) {
        unmap_or_defer(p, size);
        return NULL;
    }
    account((ptrdiff_t)size);
    return p;
}

/* Map at an aligned hint; failing that, over-map by align and trim both ends. */
static void *map_aligned(size_t size, size_t align, bool commit, size_t room)
{
    size_t page = sh_os_page_size();
    if (align <= page)
        return map_anywhere(size, commit);
    void *hinted = map_at_hint(size, align, commit, room);
    if (hinted != NULL)
        return hinted;
    size_t span;
    if (__builtin_add_overflow(size, align, &span)) {
        errno = ENOMEM;
        return NULL;
    }
    char *raw = map_anywhere(span, commit);
    if (raw == NULL)
        return NULL;
    uintptr_t start = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
    size_t head = start - (uintptr_t)raw;
    size_t tail = span - head - size;
    if (head > 0)
        unmap_or_defer(raw, head);
    if (tail > 0)
        unmap_or_defer((char *)start + size, tail);
    account(-(ptrdiff_t)(head + tail));
    return (void *)start;
}

void *sh_os_map_aligned(size_t size, size_t align)
{
    return map_aligned(size, align, false, 0);
}

void *sh_os_map_committed(size_t size, size_t align)
{
    return map_aligned(size, align, true, 0);
}

void *sh_os_map_growable(size_t size, size_t align, size_t room)
{
    return map_aligned(size, align, true, room);
}

void *sh_os_remap_grow(void *p, size_t old_size, size_t new_size)
{
    /* grown only if a guard page's worth stays free after it: the page is
       taken with the growth and given back, and an overflow off the new end
       faults there rather than reach whatever is mapped next */
    size_t page = sh_cfg_harden ? sh_os_page_size() : 0, guarded;
    if (__builtin_add_overflow(new_size, page, &guarded))
        return NULL;
    void *q = sys_mremap(p, old_size, guarded, 0, NULL);
    if (q == MAP_FAILED)
        return NULL;
    if (page > 0)
        unmap_or_defer((char *)q + new_size, page);
    account((ptrdiff_t)(new_size - old_size));
    return q;
}

void *sh_os_remap_move(void *p, size_t old_size, size_t new_size, void *dest)
{
    void *q = sys_mremap(p, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, dest);
    if (q == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    account(-(ptrdiff_t)old_size); /* dest was counted when it was mapped */
    return q;
}

/* ---- the clock ------------------------------------------------------------------
 *
 * The purge schedule reads CLOCK_MONOTONIC_COARSE through the vDSO's own
 * entry, found once in the vDSO's symbol table (the kernel maps it into
 * every process as a small ELF image, at AT_SYSINFO_EHDR), rather than
 * through the C library's clock_gettime: that wrapper lies in a part of
 * the library's code that many programs never run, and the kernel maps
 * file pages in 64 KiB windows around each fault, so one call made 64 KiB
 * of it resident in every process (seen with /proc/self/pagemap).  Without
 * a usable vDSO, the C library's is used.
 */
typedef int (*clock_fn)(clockid_t, struct timespec *);

/* The address of the vDSO's function called name, 0 if not found. */
static uintptr_t vdso_symbol(const char *name)
{
    const uint8_t *image = (const uint8_t *)getauxval(AT_SYSINFO_EHDR);
    if (image == NULL)
        return 0;
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)image;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64)
        return 0;
    /* the image's addresses are relative to its first PT_LOAD */
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(image + eh->e_phoff);
    uintptr_t bias = 0;
    bool loaded = false;
    for (unsigned i = 0; i < eh->e_phnum && !loaded; i++)
        if (ph[i].p_type == PT_LOAD) {
            bias = (uintptr_t)image + ph[i].p_offset - ph[i].p_vaddr;
            loaded = true;
        }
    /* its dynamic symbols, counted by their section (the image has them all) */
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(image + eh->e_shoff);
    const Elf64_Sym *sym = NULL;
    const char *names = NULL;
    size_t count = 0;
    for (unsigned i = 0; i < eh->e_shnum && eh->e_shoff != 0; i++)
        if (sh[i].sh_type == SHT_DYNSYM && sh[i].sh_entsize == sizeof(Elf64_Sym) &&
            sh[i].sh_link < eh->e_shnum) {
            sym = (const Elf64_Sym *)(image + sh[i].sh_offset);
            count = sh[i].sh_size / sizeof(Elf64_Sym);
            names = (const char *)(image + sh[sh[i].sh_link].sh_offset);
        }
    if (!loaded || sym == NULL)
        return 0;
    for (size_t i = 0; i < count; i++)
        if (ELF64_ST_TYPE(sym[i].st_info) == STT_FUNC && sym[i].st_shndx != SHN_UNDEF &&
            strcmp(names + sym[i].st_name, name) == 0)
            return bias + sym[i].st_value;
    return 0;
}

static _Atomic(clock_fn) coarse_clock; /* NULL until first read */

uint64_t sh_os_now_ms(void)
{
    clock_fn f = atomic_load_explicit(&coarse_clock, memory_order_relaxed);
    if (sh_unlikely(f == NULL)) {                    /* racing first callers store the same value */
        static char name[] = "__vdso_clock_gettime"; /* in .data, not .rodata: options.c */
        uintptr_t at = vdso_symbol(name);
        f = at != 0 ? (clock_fn)at : clock_gettime;
        atomic_store_explicit(&coarse_clock, f, memory_order_relaxed);
    }
    struct timespec ts;
    if (f(CLOCK_MONOTONIC_COARSE, &ts) != 0)
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void sh_os_unmap(void *p, size_t size)
{
    if (p == NULL || size == 0)
        return;
    unmap_or_defer(p, size);
    account(-(ptrdiff_t)size);
}

int sh_os_protect_none(void *p, size_t size)
{
    return mprotect(p, size, PROT_NONE) == 0 ? 0 : errno;
}

void *sh_os_reserve(size_t size)
{
    void *p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int sh_os_protect_rw(void *p, size_t size)
{
    return mprotect(p, size, PROT_READ | PROT_WRITE) == 0 ? 0 : errno;
}

bool sh_os_catch_segv(void (*handler)(int, void *, void *), struct sigaction *previous)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = (void (*)(int, siginfo_t *, void *))(void (*)(void))handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGSEGV, &sa, previous) == 0;
}

void sh_os_restore_segv(const struct sigaction *action)
{
    sigaction(SIGSEGV, action, NULL);
}

void sh_os_decommit(void *p, size_t size)
{
    if (size > 0 && sys_madvise(p, size) == 0)
        atomic_fetch_add_explicit(&os.decommitted, size, memory_order_relaxed);
}

size_t sh_os_decommitted(void)
{
    return atomic_load_explicit(&os.decommitted, memory_order_relaxed);
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

/* Mix x into h (splitmix64's finaliser). */
static uint64_t mix(uint64_t h, uint64_t x)
{
    h += x + 0x9E3779B97F4A7C15ull;
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    return h ^ (h >> 31);
}

void sh_os_random(void *buf, size_t n)
{
    uint8_t *out = buf;
    size_t got = 0;
    while (got < n) {
        long r = syscall(SYS_getrandom, out + got, n - got, GRND_NONBLOCK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got == n)
        return;
    /* no getrandom (an old kernel or a seccomp filter): AT_RANDOM is the
       kernel's 16 random bytes of this exec (hashed: glibc keeps its stack
       guard in them), with the clock and addresses ASLR moved */
    const uint64_t *at = (const uint64_t *)getauxval(AT_RANDOM);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t h = mix((uint64_t)(uintptr_t)&ts, (uint64_t)ts.tv_nsec);
    h = mix(h, (uint64_t)(uintptr_t)&sh_os_random);
    if (at != NULL)
        h = mix(mix(h, at[0]), at[1]);
    for (size_t i = 0; i < n; i++) {
        if (i % 8 == 0)
            h = mix(h, i);
        out[i] = (uint8_t)(h >> (8 * (i % 8)));
    }
}

long sh_os_thread_id(void)
{
    return (long)syscall(SYS_gettid);
}

unsigned sh_os_cpu(void)
{
    int cpu = sched_getcpu();
    return cpu >= 0 ? (unsigned)cpu : 0;
}

/* ---- threads of stackheap's own (background.c) -------------------------------- */

void sh_os_wait_on(_Atomic uint32_t *word, uint32_t expect, uint64_t timeout_ms)
{
    struct timespec ts = {(time_t)(timeout_ms / 1000), (long)(timeout_ms % 1000) * 1000000L};
    /* EINTR, EAGAIN (the word changed) and ETIMEDOUT all mean: look again */
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expect, timeout_ms != 0 ? &ts : NULL, NULL, 0);
}

void sh_os_wake(_Atomic uint32_t *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

void sh_os_yield(void)
{
    sched_yield();
}

bool sh_os_start_thread(void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0)
        return false;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, (size_t)64 << 10);
    /* the thread inherits this mask: no signal of the program's lands on it */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    int rc = pthread_create(&t, &attr, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return rc == 0;
}

void sh_os_name_thread(const char *name)
{
    syscall(SYS_prctl, PR_SET_NAME, name, 0, 0, 0); /* a failure leaves the name inherited */
}

/* glibc's, since 2.3.2; the handle is this object's (crtbegin), so that
   unloading it would drop the handlers (the library is never unloaded) */
extern int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void),
                             void *dso);
extern void *__dso_handle __attribute__((visibility("hidden")));

void sh_os_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
    __register_atfork(prepare, parent, child, __dso_handle);
}

/* The shared library's DT_FINI (CMakeLists.txt, "layout").  The C runtime's
   _fini does nothing on x86-64 (destructors run from .fini_array), but it
   is the last code of the file, so calling it at exit would fault in the
   last 64 KiB of the check and profile code. */
void sh_os_fini(void) {}

/* ---- files and processes (check mode's reports) ------------------------------ */

size_t sh_os_read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t len = 0;
    while (len < cap) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    return len;
}

int sh_os_open_read(const char *path)
{
    return open(path, O_RDONLY | O_CLOEXEC);
}

int sh_os_open_log(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

int sh_os_open_report(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

bool sh_os_write_at(int fd, const char *buf, size_t len, uint64_t offset)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, buf, len, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
    return true;
}

bool sh_os_file_identity(int fd, uint64_t *dev, uint64_t *ino, uint64_t *size)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return false;
    *dev = (uint64_t)st.st_dev;
    *ino = (uint64_t)st.st_ino;
    *size = (uint64_t)st.st_size;
    return true;
}

long sh_os_process_id(void)
{
    return (long)getpid();
}

bool sh_os_cwd(char *buf, size_t cap)
{
    return getcwd(buf, cap) != NULL;
}

size_t sh_os_read(int fd, char *buf, size_t cap)
{
    for (;;) {
        ssize_t n = read(fd, buf, cap);
        if (n < 0 && errno == EINTR)
            continue;
        return n > 0 ? (size_t)n : 0;
    }
}

void sh_os_close(int fd)
{
    if (fd >= 0)
        close(fd);
}

long sh_os_spawn(const char *path, char *const argv[], char *const envp[], int *to_child,
                 int *from_child)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    pid_t pid;
    int rc = posix_spawn(&pid, path, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
        close(in[1]);
        close(out[0]);
        return -1;
    }
    *to_child = in[1];
    *from_child = out[0];
    return pid;
}

int sh_os_wait(long pid)
{
    int status;
    while (waitpid((pid_t)pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return status;
}

void sh_os_exit(int code)
{
    _exit(code);
}

size_t sh_os_read_link(const char *path, char *buf, size_t cap)
{
    ssize_t n = readlink(path, buf, cap);
    return n > 0 ? (size_t)n : 0;
}

bool sh_os_executable(const char *path)
{
    return access(path, X_OK) == 0;
}

bool sh_os_resident(void *p, size_t len, unsigned char *vec)
{
    return mincore(p, len, vec) == 0;
}

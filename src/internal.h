/*
 * internal.h -- what the files of src/ share with each other (never installed).
 *
 * Modules and their one job:
 *   os.c       the only file that talks to the kernel (mmap, mprotect, write...)
 *   message.c  formatting without malloc, warnings, sh_fatal
 *   options.c  environment options, read lazily and without allocating
 *   annotate.c marking memory for AddressSanitizer and Valgrind (sh_tools_*)
 *   stack.c    the stack's slow paths (fast paths are inline in stackheap.h)
 *   heap/      the heap: segments, pages, per-thread heaps, large blocks, malloc
 *   override.c the standard names (malloc, free, ...) mapped onto sh_ functions
 *   override_cxx.c  C++'s operator new and delete, by their mangled names
 */
#ifndef SH_INTERNAL_H
#define SH_INTERNAL_H

#include "stackheap.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SH_NOINLINE __attribute__((noinline))
#define SH_ALWAYS_INLINE inline __attribute__((always_inline))
#define SH_COLD __attribute__((cold))
#define SH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define SH_HIDDEN __attribute__((visibility("hidden")))

/* Fetch p's cache line for writing.  A line another core last wrote, read
   and then written here, costs two coherence transactions (a shared copy,
   then the other core's invalidated); fetched for writing first, one.  On
   x86-64 PREFETCHW, which processors without it execute as a no-op (gcc's
   __builtin_prefetch(p, 1) emits it only with -mprfchw). */
static inline void sh_prefetch_write(const void *p)
{
#if defined(__x86_64__)
    __asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
#else
    __builtin_prefetch(p, 1, 3);
#endif
}

/* Debug levels: 0 release, 1 cheap asserts, 2 whole-structure walks. */
#ifndef SH_DEBUG
#define SH_DEBUG 0
#endif
static const int sh_cfg_debug = SH_DEBUG;

#define sh_assert(cond)                                                                            \
    do {                                                                                           \
        if (sh_cfg_debug > 0 && !(cond))                                                           \
            sh_fatal("internal error: assertion '%s' failed at %s:%d; please report this", #cond,  \
                     __FILE__, __LINE__);                                                          \
    } while (0)

/* The heap's defences (src/heap/integrity.c): on unless built with
   -DSH_HARDEN=OFF, which exists to measure what they cost. */
#ifndef SH_HARDEN
#define SH_HARDEN 1
#endif
static const bool sh_cfg_harden = SH_HARDEN;

/* ---- locks ----------------------------------------------------------------- */

/* True in the thread that runs fork() from stackheap's prepare handler to its
   parent or child handler, while it holds every lock of the library: the
   program's own at-fork handlers that run in between (those registered
   before stackheap's) may allocate and free, and the locks are then already
   theirs.  Every lock of the library is taken through these two. */
extern __thread bool sh_tls_forking __attribute__((tls_model("initial-exec")));

static inline void sh_lock(pthread_mutex_t *m)
{
    if (!sh_tls_forking)
        pthread_mutex_lock(m);
}

static inline void sh_unlock(pthread_mutex_t *m)
{
    if (!sh_tls_forking)
        pthread_mutex_unlock(m);
}

/* sh_lock if m is free now; false (not taken) if another thread holds it. */
static inline bool sh_trylock(pthread_mutex_t *m)
{
    return sh_tls_forking || pthread_mutex_trylock(m) == 0;
}

/* ---- arithmetic ---------------------------------------------------------- */

static inline bool sh_is_pow2(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

/* *a = max(*a, v), and min, for counters and bounds read without a lock. */
static inline void sh_atomic_max(_Atomic size_t *a, size_t v)
{
    size_t cur = atomic_load_explicit(a, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak_explicit(a, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

static inline void sh_atomic_min(_Atomic size_t *a, size_t v)
{
    size_t cur = atomic_load_explicit(a, memory_order_relaxed);
    while (v < cur && !atomic_compare_exchange_weak_explicit(a, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

/* Round x up to a multiple of the power of two a; false if that overflows. */
static inline bool sh_round_up(size_t x, size_t a, size_t *out)
{
    size_t t;
    if (__builtin_add_overflow(x, a - 1, &t))
        return false;
    *out = t & ~(a - 1);
    return true;
}

/* ---- os.c: the one door to the kernel ------------------------------------ */

size_t sh_os_page_size(void);
/* Map size bytes read-write, committed lazily. NULL + errno on failure. */
void *sh_os_map(size_t size);
/* Map size bytes aligned to align (a power of two >= page). NULL + errno. */
void *sh_os_map_aligned(size_t size, size_t align);
/* The same, charged to the kernel's overcommit accounting (no
   MAP_NORESERVE): what the kernel would refuse any program (a request larger
   than memory and swap, under its default heuristic) fails with ENOMEM. */
void *sh_os_map_committed(size_t size, size_t align);
/* sh_os_map_committed, placed (when the aligned hint serves it) where the
   address space up to `room` bytes from its start is free, so that
   sh_os_remap_grow can extend it in place that far. */
void *sh_os_map_growable(size_t size, size_t align, size_t room);
/* Unmap [p, p+size).  When the kernel refuses with ENOMEM (at its mapping
   limit) the memory is decommitted now and the range unmapped by a later
   call; any other failure dies (the range was not stackheap's). */
void sh_os_unmap(void *p, size_t size);
/* fork: 0 before (take os.c's lock), 1 in the parent after, 2 in the child. */
void sh_os_lock_for_fork(int phase);
/* Grow the mapping [p, p+old_size) to new_size in place; NULL if it cannot. */
void *sh_os_remap_grow(void *p, size_t old_size, size_t new_size);
/* Move the mapping's pages to dest (a mapping of new_size that it replaces). NULL + errno. */
void *sh_os_remap_move(void *p, size_t old_size, size_t new_size, void *dest);
/* Milliseconds of a coarse monotonic clock (vDSO: no system call). */
uint64_t sh_os_now_ms(void);
/* Make [p, p+size) inaccessible (guard). Returns 0 or an errno value. */
int sh_os_protect_none(void *p, size_t size);
/* Address space with no access (PROT_NONE, not committed, not counted as
   mapped); NULL if the OS refuses. */
void *sh_os_reserve(size_t size);
/* Make [p, p + size) readable and writable; 0 or the errno. */
int sh_os_protect_rw(void *p, size_t size);
/* Handle SIGSEGV with handler (SA_SIGINFO, on the alternate stack if the
   thread has one); *previous receives the action it replaces.  False if the
   OS refuses. */
struct sigaction;
bool sh_os_catch_segv(void (*handler)(int, void *, void *), struct sigaction *previous);
/* Put action back for SIGSEGV. */
void sh_os_restore_segv(const struct sigaction *action);
/* Drop the physical pages of [p, p+size); contents read back as zero. */
void sh_os_decommit(void *p, size_t size);
/* Bytes sh_os_decommit gave back since the process started. */
size_t sh_os_decommitted(void);
/* Write all of buf to fd, retrying on EINTR; errors are ignored. */
void sh_os_write(int fd, const char *buf, size_t len);
SH_NORETURN void sh_os_abort(void);
/* n random bytes from the kernel (getrandom); if it refuses, a mix of what
   varies between runs (AT_RANDOM, the clock, ASLR'd addresses). */
void sh_os_random(void *buf, size_t n);
/* Kernel id of the calling thread. */
long sh_os_thread_id(void);
/* The CPU the calling thread runs on (vDSO: no system call); 0 if unknown. */
unsigned sh_os_cpu(void);
/* Sleep while *word == expect, at most timeout_ms (0: no limit); returns
   early on a wake, a signal or a change of *word (the caller looks again). */
void sh_os_wait_on(_Atomic uint32_t *word, uint32_t expect, uint64_t timeout_ms);
/* Wake every thread sleeping in sh_os_wait_on(word). */
void sh_os_wake(_Atomic uint32_t *word);
void sh_os_yield(void);
/* Run fn(arg) on a detached thread with a 64 KiB stack and every signal
   blocked; false if the system refuses.  pthread_create may allocate: call
   it where malloc may be entered again. */
bool sh_os_start_thread(void *(*fn)(void *), void *arg);
/* Name the calling thread (at most 15 characters; /proc/.../comm).  A raw
   prctl: pthread_setname_np on another thread formats a /proc path with
   sprintf, which faults some 200 KiB of the C library's printf code and
   tables into a program that may never print. */
void sh_os_name_thread(const char *name);
/* pthread_atfork(prepare, parent, child).  glibc's pthread_atfork is a stub
   linked from libc_nonshared.a, which the linker places after all of the
   library's own code, among the check and profile code no plain process
   runs (CMakeLists.txt, "layout"); this calls what the stub calls. */
void sh_os_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void));
/* Nothing: the shared library's DT_FINI, in place of the C runtime's _fini. */
void sh_os_fini(void);
/* Bytes mapped through this layer now and at most, and the calls that did it. */
void sh_os_mapped(size_t *now, size_t *peak, size_t *maps, size_t *unmaps);
/* mincore(2): one byte per page of [p, p + len) in vec, bit 0 set if resident;
   false if the kernel does not say. */
bool sh_os_resident(void *p, size_t len, unsigned char *vec);
/* Up to cap bytes of the file at path; 0 if it cannot be read. */
size_t sh_os_read_file(const char *path, char *buf, size_t cap);
/* Open path for reading; -1 on failure. */
int sh_os_open_read(const char *path);
/* Open path for appending (created 0644); -1 on failure. */
int sh_os_open_log(const char *path);
/* Open path for writing from its start (created 0644, emptied); -1 on failure. */
int sh_os_open_report(const char *path);
/* pwrite(2) all of buf at offset, retrying on EINTR; false on an error. */
bool sh_os_write_at(int fd, const char *buf, size_t len, uint64_t offset);
/* Which file fd is open on (device and inode) and its size (fstat); false
   if fd is not open. */
bool sh_os_file_identity(int fd, uint64_t *dev, uint64_t *ino, uint64_t *size);
/* The calling process's id (getpid). */
long sh_os_process_id(void);
/* The working directory in buf (getcwd, which does not allocate when given
   a buffer); false if it does not fit or cannot be read. */
bool sh_os_cwd(char *buf, size_t cap);
/* read(2) retrying on EINTR; 0 at end of file or on error (errno says which). */
size_t sh_os_read(int fd, char *buf, size_t cap);
void sh_os_close(int fd);
/* Start path with argv and envp, its stdin and stdout on pipes (*to_child,
 *from_child); returns its pid, or -1. */
long sh_os_spawn(const char *path, char *const argv[], char *const envp[], int *to_child,
                 int *from_child);
/* Wait for pid; its wait status, or -1. */
int sh_os_wait(long pid);
SH_NORETURN void sh_os_exit(int code);
/* readlink(2) without the terminating NUL it does not write; 0 on failure. */
size_t sh_os_read_link(const char *path, char *buf, size_t cap);
bool sh_os_executable(const char *path);

/* ---- message.c: formatting without malloc -------------------------------- */

/* vsnprintf subset: %s %c %d %i %u %x %p %zu %zd %zx %td %ld %lu %lld %llu %%.
   Always NUL-terminates (if n > 0); returns the length written. */
size_t sh_vformat(char *buf, size_t n, const char *fmt, va_list ap);
size_t sh_format(char *buf, size_t n, const char *fmt, ...) SH_PRINTF(3, 4);
/* Format a byte count for humans: "512 B", "64.0 KiB", "8.00 MiB". */
const char *sh_format_bytes(char *buf, size_t n, size_t bytes);
/* One line "stackheap: warning: ...\n" on stderr. */
void sh_warning(const char *fmt, ...) SH_PRINTF(1, 2);
/* One line "stackheap: ...\n" on stderr, then abort(). */
SH_NORETURN SH_COLD void sh_fatal(const char *fmt, ...) SH_PRINTF(1, 2);

/* ---- options.c ------------------------------------------------------------ */

/* The environment variable name, or NULL if unset or the process is setuid
   or setgid (secure_getenv).  Every option is read through it. */
const char *sh_env(const char *name);
/* sh_env(name) when it is set to something other than "" or "0" (an option
   that turns a feature on), else NULL. */
static inline const char *sh_env_on(const char *name)
{
    const char *v = sh_env(name);
    return v != NULL && *v != '\0' && (v[0] != '0' || v[1] != '\0') ? v : NULL;
}
/* The names of the options every process reads (options.c: in .data, not
   .rodata); the tools' own options are read by their literal names. */
extern char sh_env_check[] SH_HIDDEN, sh_env_profile[] SH_HIDDEN, sh_env_stats[] SH_HIDDEN,
    sh_env_tools[] SH_HIDDEN, sh_env_fault[] SH_HIDDEN;

/* The lower-case hex number at *s (0 if none), *s moved past it (/proc/self/maps). */
uintptr_t sh_parse_hex(const char **s);
/* Parse "4096", "64K", "8M", "1G", "2T" (optionally "KiB"/"KB"); false if not a size. */
bool sh_parse_size(const char *text, size_t *out);
/* Capacity of a new default stack (STACKHEAP_STACK_SIZE, read once). */
size_t sh_option_stack_size(void);
/* How long freed heap memory stays committed before it goes back to the OS
   (STACKHEAP_PURGE_DELAY, ms; read once).  The default, 250 ms, is long enough that a program
   cycling through big buffers reuses their pages instead of faulting them in again (at 50 ms
   wl_large faulted 3x more), and short enough that memory freed after a peak is back within a
   quarter second. */
#define SH_PURGE_DELAY_DEFAULT_MS 250
uint64_t sh_option_purge_delay_ms(void);
/* STACKHEAP_SAMPLE=N: about one allocation in N is served from a guarded slot
   (src/check/sampled.c); 0 (unset): none.  Read once. */
#define SH_SAMPLE_MAX 1000000000u
unsigned sh_option_sample(void);
/* STACKHEAP_BACKGROUND: false when it is "0" (no purge thread; read once). */
bool sh_option_background(void);

/* ---- check mode (src/check/) as the stack sees it ----------------------------- */

/* True in check mode (STACKHEAP_CHECK=1; decided once); false under Valgrind,
   where the heap only describes its blocks to memcheck. */
bool sh_check_mode(void);
/* The call stack of a stack allocation made from ra (an id for the report). */
uint32_t sh_check_stack_site(void *ra);
/* Report a thread's default stack with depth frames still open at its exit;
   site: the innermost frame's first allocation (0: unknown). */
void sh_check_open_frames(const char *stack, size_t depth, size_t bytes, uint32_t site);
/* Report n bytes (first..last of the reused range) written into released
   stack memory; popped: the released frame's first allocation; now: the
   allocation that reused it. */
void sh_check_popped_write(const char *stack, size_t n, size_t first, size_t last, uint32_t popped,
                           uint32_t now);

/* ---- annotate.c: AddressSanitizer and Valgrind ---------------------------- */
/* Named sh_tools_ after the tools they talk to and the switch they obey
   (STACKHEAP_TOOLS). */

/* True when the heap must describe its blocks to Valgrind's memcheck: running
   under Valgrind, STACKHEAP_TOOLS not 0, and not an ASan build. */
bool sh_tools_heap_valgrind(void);
/* VALGRIND_MALLOCLIKE_BLOCK / VALGRIND_FREELIKE_BLOCK (nothing without Valgrind). */
void sh_tools_malloclike(const void *p, size_t size, size_t redzone, bool zeroed);
void sh_tools_freelike(const void *p, size_t redzone);
/* True if allocations must be marked for a tool (ASan build or under Valgrind). */
bool sh_tools_active(void);
void sh_tools_mark_noaccess(const void *p, size_t size);
void sh_tools_mark_undefined(const void *p, size_t size);

#endif /* SH_INTERNAL_H */

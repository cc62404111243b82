/*
 * trace.c -- call stacks for check mode: captured at every malloc and free,
 * stored once each, printed with function names and file:line.
 *
 * Capture walks the frame-pointer chain from the check layer's own frame
 * (src/check/ is built with frame pointers) and keeps the frames outside
 * libstackheap, after the return address the entry point passed down (the
 * call site in the program, always right).  Each frame pointer must lie on
 * this thread's stack, above the one before: code built without frame
 * pointers ends the walk early, it never makes it read a wild address.
 * That is a stack a few frames deep for a program built with -O2 and no
 * -fno-omit-frame-pointer, and a whole one for code built with -g -O0 or
 * with frame pointers; it costs tens of nanoseconds, where an unwinder that
 * reads .eh_frame would cost microseconds per call and make check mode far
 * slower.
 *
 * Stacks are deduplicated in a hash table (ids are indexes into an array of
 * records, published with release stores, so lookups take no lock).
 *
 * Symbols come from addr2line (binutils), one child process per object kept
 * for the whole run, fed one address at a time; without it, from dladdr's
 * exported names.  A frame is symbolised into a ck_frame (function, file,
 * line, module), which the text report prints and the JSON and SARIF files
 * take apart; answers are cached by address, since a report names the same
 * frames many times.
 */
#define _GNU_SOURCE
#include "check_internal.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>

#define TRACES CK_TRACES
#define SLOTS (TRACES * 2)

extern char **environ;

static struct {
    ck_trace *rec;          /* rec[1..count] */
    _Atomic uint32_t *slot; /* open addressing: trace ids, 0 = empty */
    uint32_t count;
    pthread_mutex_t lock;       /* inserts */
    uintptr_t self_lo, self_hi; /* libstackheap's code */
} tr = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Code of the loaded objects, sorted by address: a return address outside
   it ends a walk (code built without frame pointers leaves other values where
   a frame's return address would be).  Refreshed for objects loaded since
   when addresses are not found: at most every 100 ms, and only every
   REFRESH_MISSES-th miss of a thread (the clock is not read per miss).
   Readers take no lock: the table is a seqlock (seq is odd while a refresh
   copies a new table in; a reader that sees it odd, or changed, answers "not
   code", which only ends a walk early). */
#define RANGES 512
#define REFRESH_MISSES 256
static struct {
    pthread_mutex_t lock; /* refreshes, and `next` */
    uintptr_t lo[RANGES], hi[RANGES];
    _Atomic unsigned n, seq;
    uint64_t refreshed_at;
    struct {
        uintptr_t lo[RANGES], hi[RANGES];
        unsigned n;
    } next; /* the table being built */
} code = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int add_code(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    for (int i = 0; i < info->dlpi_phnum && code.next.n < RANGES; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        unsigned j = code.next.n++; /* insertion: the ranges stay sorted */
        for (; j > 0 && code.next.lo[j - 1] > lo; j--) {
            code.next.lo[j] = code.next.lo[j - 1];
            code.next.hi[j] = code.next.hi[j - 1];
        }
        code.next.lo[j] = lo;
        code.next.hi[j] = hi;
    }
    return 0;
}

/* The table built in code.next differs from the published one (the lock is held). */
static bool code_changed(void)
{
    if (code.next.n != atomic_load_explicit(&code.n, memory_order_relaxed))
        return true;
    for (unsigned i = 0; i < code.next.n; i++)
        if (__atomic_load_n(&code.lo[i], __ATOMIC_RELAXED) != code.next.lo[i] ||
            __atomic_load_n(&code.hi[i], __ATOMIC_RELAXED) != code.next.hi[i])
            return true;
    return false;
}

static void refresh_code(void)
{
    uint64_t last = __atomic_load_n(&code.refreshed_at, __ATOMIC_RELAXED);
    if (last != 0 && sh_now_ms() - last < 100)
        return;
    sh_lock(&code.lock);
    uint64_t now = sh_now_ms();
    if (code.refreshed_at == 0 || now - code.refreshed_at >= 100) {
        code.next.n = 0;
        dl_iterate_phdr(add_code, NULL);
        if (!code_changed()) { /* walks running now need not end early */
            __atomic_store_n(&code.refreshed_at, now, __ATOMIC_RELAXED);
            sh_unlock(&code.lock);
            return;
        }
        /* publish: release stores keep the odd seq before the table, and the
           table before the even seq */
        unsigned seq = atomic_load_explicit(&code.seq, memory_order_relaxed);
        atomic_store_explicit(&code.seq, seq + 1, memory_order_relaxed);
        for (unsigned i = 0; i < code.next.n; i++) {
            __atomic_store_n(&code.lo[i], code.next.lo[i], __ATOMIC_RELEASE);
            __atomic_store_n(&code.hi[i], code.next.hi[i], __ATOMIC_RELEASE);
        }
        atomic_store_explicit(&code.n, code.next.n, memory_order_release);
        atomic_store_explicit(&code.seq, seq + 2, memory_order_release);
        __atomic_store_n(&code.refreshed_at, now, __ATOMIC_RELAXED);
    }
    sh_unlock(&code.lock);
}

/* Per thread: the range found last (most frames are in one object), and
   misses since the last refresh attempt. */
static __thread unsigned last_range __attribute__((tls_model("initial-exec")));
static __thread unsigned misses __attribute__((tls_model("initial-exec")));

/* Acquire loads: a reader's later check of seq cannot move before them. */
static uintptr_t range_lo(unsigned i)
{
    return __atomic_load_n(&code.lo[i], __ATOMIC_ACQUIRE);
}

static uintptr_t range_hi(unsigned i)
{
    return __atomic_load_n(&code.hi[i], __ATOMIC_ACQUIRE);
}

/* pc in the table, searched by halves and read consistently (false while a
   refresh runs); is_code has tried the range found last. */
static bool in_ranges(uintptr_t pc)
{
    unsigned seq = atomic_load_explicit(&code.seq, memory_order_acquire);
    unsigned n = atomic_load_explicit(&code.n, memory_order_acquire);
    if ((seq & 1) != 0 || n == 0)
        return false;
    unsigned lo = 0, hi = n; /* the last range starting at or below pc is in [lo, hi) */
    while (hi - lo > 1) {
        unsigned mid = (lo + hi) / 2;
        if (range_lo(mid) <= pc)
            lo = mid;
        else
            hi = mid;
    }
    bool hit = pc >= range_lo(lo) && pc < range_hi(lo);
    if (atomic_load_explicit(&code.seq, memory_order_relaxed) != seq)
        return false; /* a refresh ran meanwhile */
    if (hit)
        last_range = lo;
    return hit;
}

static SH_NOINLINE bool is_code_slow(uintptr_t pc)
{
    if (in_ranges(pc))
        return true;
    if (++misses % REFRESH_MISSES != 0)
        return false;
    refresh_code();
    return in_ranges(pc);
}

/* The walk's test of each return address: most are in the range found last. */
static inline bool is_code(uintptr_t pc)
{
    unsigned seq = atomic_load_explicit(&code.seq, memory_order_acquire);
    unsigned k = last_range;
    if (k < atomic_load_explicit(&code.n, memory_order_acquire) && pc >= range_lo(k) &&
        pc < range_hi(k) && atomic_load_explicit(&code.seq, memory_order_relaxed) == seq &&
        (seq & 1) == 0)
        return true;
    return is_code_slow(pc);
}

/* This thread's stack: the mapping that holds its stack pointer. */
static __thread uintptr_t stack_lo __attribute__((tls_model("initial-exec")));
static __thread uintptr_t stack_hi __attribute__((tls_model("initial-exec")));

static int place_of(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    ck_place *pl = arg;
    int hit = -1;
    for (int i = 0; i < info->dlpi_phnum && hit < 0; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && pl->addr >= lo && pl->addr < lo + ph->p_memsz)
            hit = i;
    }
    if (hit < 0)
        return 0;
    const ElfW(Phdr) *ph = &info->dlpi_phdr[hit];
    pl->name = info->dlpi_name != NULL ? info->dlpi_name : "";
    pl->bias = info->dlpi_addr;
    pl->lo = info->dlpi_addr + ph->p_vaddr;
    pl->hi = pl->lo + ph->p_memsz;
    pl->flags = ph->p_flags;
    pl->ndata = 0;
    for (int i = 0; i < info->dlpi_phnum && pl->ndata < CK_PLACE_DATA; i++) {
        ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W)) {
            pl->data_lo[pl->ndata] = info->dlpi_addr + ph->p_vaddr;
            pl->data_hi[pl->ndata++] = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
        }
    }
    return 1;
}

bool ck_place_of(uintptr_t addr, ck_place *out)
{
    out->addr = addr;
    return dl_iterate_phdr(place_of, out) != 0;
}

void ck_trace_init(void)
{
    tr.rec = sh_os_map(TRACES * sizeof(ck_trace));
    tr.slot = sh_os_map(SLOTS * sizeof(uint32_t));
    if (tr.rec == NULL || tr.slot == NULL) { /* check without stacks: capture records none */
        sh_os_unmap(tr.rec, TRACES * sizeof(ck_trace));
        sh_os_unmap(tr.slot, SLOTS * sizeof(uint32_t));
        tr.rec = NULL;
        tr.slot = NULL;
        sh_warning("check mode: the system refused the %zu MiB of its stack tables: reports "
                   "will show no stacks",
                   (size_t)(TRACES * sizeof(ck_trace) + SLOTS * 4) >> 20);
    }
    ck_place me;
    if (ck_place_of((uintptr_t)ck_trace_init, &me)) { /* libstackheap's code */
        tr.self_lo = me.lo;
        tr.self_hi = me.hi;
    }
    refresh_code();
}

/* Find this thread's stack: from its attributes (a thread's, without reading
   any file), else the mapping that holds the stack pointer in /proc/self/maps. */
static void find_stack(void)
{
    pthread_attr_t attr;
    void *addr;
    size_t size;
    ck_busy++; /* glibc may allocate here */
    bool ok = pthread_getattr_np(pthread_self(), &attr) == 0;
    if (ok) {
        ok = pthread_attr_getstack(&attr, &addr, &size) == 0;
        pthread_attr_destroy(&attr);
    }
    ck_busy--;
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    if (ok && here >= (uintptr_t)addr && here < (uintptr_t)addr + size) {
        stack_lo = (uintptr_t)addr;
        stack_hi = (uintptr_t)addr + size;
        return;
    }
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    size_t cap = (size_t)4 << 20;
    char *buf = sh_os_map(cap);
    if (buf == NULL)
        return;
    size_t len = sh_os_read_file("/proc/self/maps", buf, cap - 1);
    buf[len] = '\0';
    for (const char *line = buf; *line != '\0';) {
        const char *s = line;
        uintptr_t lo = sh_parse_hex(&s);
        s++; /* '-' */
        uintptr_t hi = sh_parse_hex(&s);
        if (sp >= lo && sp < hi) {
            stack_lo = lo;
            stack_hi = hi;
            break;
        }
        const char *nl = strchr(line, '\n');
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    sh_os_unmap(buf, cap);
}

bool ck_on_this_stack(const void *p)
{
    if (stack_hi == 0)
        find_stack();
    uintptr_t a = (uintptr_t)p;
    return a >= stack_lo && a < stack_hi;
}

static bool ours(uintptr_t pc)
{
    return pc >= tr.self_lo && pc < tr.self_hi;
}

#define HASH_SEED 0x9E3779B97F4A7C15ull

static uint64_t mix(uint64_t h, uintptr_t pc)
{
    h ^= pc;
    h *= 0xFF51AFD7ED558CCDull;
    return h ^ (h >> 32);
}

static bool same(const ck_trace *a, const ck_trace *b)
{
    if (a->hash != b->hash || a->depth != b->depth)
        return false;
    for (uint32_t i = 0; i < a->depth; i++)
        if (a->pc[i] != b->pc[i])
            return false;
    return true;
}

/*
 * STACKHEAP_UNWIND=1 (`stackheap run --unwind`): stacks unwound with the
 * program's .eh_frame by libunwind, for code built without frame pointers
 * (where the walk below stops after a frame or two).  libunwind.so.8 is
 * opened at start-up (sh_trace_load_unwinder, from the library's
 * constructor: never from inside a malloc), privately (RTLD_LOCAL: its
 * backtrace and _Unwind_Backtrace do not replace the program's), and only
 * when asked for: most programs never load it.  unw_backtrace takes no lock
 * and does not call malloc (gperftools' heap profiler relies on that too).
 */
static struct {
    int (*backtrace)(void **buf, int size);
} unwinder;
/* in libunwind: a capture from a malloc it made walks frame pointers */
static __thread bool unwinding __attribute__((tls_model("initial-exec")));

void sh_trace_load_unwinder(void)
{
    const char *env = sh_env("STACKHEAP_UNWIND");
    if (env == NULL || strcmp(env, "1") != 0)
        return;
    void *lib = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    void *fn = lib != NULL ? dlsym(lib, "unw_backtrace") : NULL;
    if (fn == NULL) {
        sh_warning("STACKHEAP_UNWIND=1: cannot load libunwind.so.8 (Debian: apt-get install "
                   "libunwind8); call stacks are walked by frame pointers");
        return;
    }
    /* POSIX lets dlsym's result be a function pointer; C says nothing: copy the bits */
    memcpy(&unwinder.backtrace, &fn, sizeof unwinder.backtrace);
}

/* The frames of this call outside libstackheap, unwound by libunwind, into t
   after its first d (d is 1 when the entry's ra is t->pc[0]: the frames
   before ra, such as a signal trampoline, are then left out when it is
   found); t's depth. */
static uint32_t unwound(uint32_t d, ck_trace *t, uint64_t *h)
{
    void *buf[CK_FRAMES + 48];
    unwinding = true;
    int n = unwinder.backtrace(buf, (int)(sizeof buf / sizeof buf[0]));
    unwinding = false;
    void *ra = d == 1 ? t->pc[0] : NULL;
    int from = 0;
    for (int i = 0; d == 1 && i < n; i++)
        if (buf[i] == ra) {
            from = i + 1;
            break;
        }
    for (int i = from; i < n && d < CK_FRAMES; i++) {
        uintptr_t pc = (uintptr_t)buf[i];
        if (ours(pc) || (d == 1 && t->pc[0] == buf[i]))
            continue;
        t->pc[d++] = buf[i];
        *h = mix(*h, pc);
    }
    return d;
}

uint32_t ck_trace_capture(void *ra, void **fp)
{
    if (tr.rec == NULL)
        return 0;
    if (stack_hi == 0)
        find_stack();
    uintptr_t lo = stack_lo, hi = stack_hi;
    ck_trace t;
    uint32_t d = 0;
    uint64_t h = HASH_SEED;
    if (ra != NULL && !ours((uintptr_t)ra)) {
        t.pc[d++] = ra;
        h = mix(h, (uintptr_t)ra);
    }
    if (hi < 16) /* the stack is unknown: no walk */
        fp = NULL;
    if (unwinder.backtrace != NULL && !unwinding) {
        d = unwound(d, &t, &h);
        fp = NULL;
    }
    for (void **f = fp; f != NULL && d < CK_FRAMES;) {
        if ((uintptr_t)f < lo || (uintptr_t)f > hi - 16) /* no overflow: hi >= 16 */
            break;
        uintptr_t pc = (uintptr_t)f[1];
        if (!ours(pc)) { /* the check layer's own frames are skipped */
            if (!is_code(pc))
                break;
            if (d != 1 || (uintptr_t)t.pc[0] != pc) { /* not the entry's ra, found again */
                t.pc[d++] = (void *)pc;
                h = mix(h, pc);
            }
        }
        void **next = f[0];
        if (next <= f || ((uintptr_t)next & 7) != 0)
            break;
        f = next;
    }
    if (d == 0)
        return 0;
    t.depth = d;
    t.hash = (uint32_t)mix(h, d);
    uint32_t i = t.hash & (SLOTS - 1);
    for (;; i = (i + 1) & (SLOTS - 1)) {
        uint32_t id = atomic_load_explicit(&tr.slot[i], memory_order_acquire);
        if (id == 0)
            break;
        if (same(&tr.rec[id], &t))
            return id;
    }
    sh_lock(&tr.lock);
    uint32_t id;
    for (;; i = (i + 1) & (SLOTS - 1)) { /* go on from the empty slot: it may be taken now */
        id = atomic_load_explicit(&tr.slot[i], memory_order_relaxed);
        if (id == 0 || same(&tr.rec[id], &t))
            break;
    }
    if (id == 0 && tr.count + 1 < TRACES / 2) { /* the table stays at most a quarter full */
        id = ++tr.count;
        tr.rec[id] = t;
        atomic_store_explicit(&tr.slot[i], id, memory_order_release);
    }
    sh_unlock(&tr.lock);
    return id;
}

void ck_trace_tables(uintptr_t lo[2], uintptr_t hi[2])
{
    lo[0] = (uintptr_t)tr.rec;
    hi[0] = tr.rec != NULL ? lo[0] + TRACES * sizeof(ck_trace) : 0;
    lo[1] = (uintptr_t)tr.slot;
    hi[1] = tr.slot != NULL ? lo[1] + SLOTS * sizeof(uint32_t) : 0;
}

uint32_t ck_trace_last(void)
{
    sh_lock(&tr.lock);
    uint32_t n = tr.count;
    sh_unlock(&tr.lock);
    return n;
}

const ck_trace *ck_trace_get(uint32_t id)
{
    return id != 0 && id <= tr.count ? &tr.rec[id] : NULL;
}

/* ---- symbols ------------------------------------------------------------------ */

#define RESOLVERS 32

typedef struct object {
    char path[256];
    uintptr_t bias;
} object;

static struct {
    object obj[RESOLVERS];
    long pid[RESOLVERS];
    int to[RESOLVERS], from[RESOLVERS];
    unsigned n;
    bool tried;
    const char *tool; /* addr2line's path, or NULL */
    char **env;       /* environ without LD_PRELOAD and STACKHEAP_* */
} sym;

/* The object holding pc (its file and load bias); false if none does. */
static bool object_of(uintptr_t pc, object *out)
{
    ck_place pl;
    if (!ck_place_of(pc, &pl))
        return false;
    if (pl.name[0] == '\0') { /* the program itself */
        char exe[256];
        size_t n = sh_os_read_link("/proc/self/exe", exe, sizeof exe - 1);
        exe[n] = '\0';
        sh_format(out->path, sizeof out->path, "%s", exe);
    } else {
        sh_format(out->path, sizeof out->path, "%s", pl.name);
    }
    out->bias = pl.bias;
    return true;
}

static void sym_start(void)
{
    sym.tried = true;
    static const char *const tools[] = {"/usr/bin/addr2line", "/bin/addr2line"};
    for (unsigned i = 0; i < 2; i++)
        if (sh_os_executable(tools[i]))
            sym.tool = tools[i];
    size_t n = 0;
    while (environ != NULL && environ[n] != NULL)
        n++;
    sym.env = sh_os_map((n + 1) * sizeof(char *));
    if (sym.env == NULL) {
        sym.tool = NULL;
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0 &&
            strncmp(environ[i], "STACKHEAP_", 10) != 0)
            sym.env[k++] = environ[i];
    sym.env[k] = NULL;
}

/* The addr2line child for obj, started if needed; -1 if there is none. */
static int resolver(const object *obj)
{
    for (unsigned i = 0; i < sym.n; i++)
        if (strcmp(sym.obj[i].path, obj->path) == 0)
            return sym.pid[i] > 0 ? (int)i : -1;
    if (sym.n == RESOLVERS)
        return -1;
    unsigned i = sym.n++;
    sym.obj[i] = *obj;
    char *argv[] = {(char *)"addr2line", (char *)"-f",    (char *)"-C",
                    (char *)"-e",        sym.obj[i].path, NULL};
    sym.pid[i] =
        sym.tool != NULL ? sh_os_spawn(sym.tool, argv, sym.env, &sym.to[i], &sym.from[i]) : -1;
    return sym.pid[i] > 0 ? (int)i : -1;
}

/* Read one line from fd into buf (without the newline). */
static bool read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        char c;
        if (sh_os_read(fd, &c, 1) != 1)
            return false;
        if (c == '\n')
            break;
        if (n + 1 < cap)
            buf[n++] = c;
    }
    buf[n] = '\0';
    return true;
}

/* Split addr2line's "file:line" (or "file:line (discriminator n)", "file:?",
   "??:0") into f->file and f->line. */
static void parse_location(const char *text, ck_frame *f)
{
    f->file[0] = '\0';
    f->line = 0;
    if (text[0] == '\0' || strncmp(text, "??", 2) == 0)
        return;
    const char *colon = strrchr(text, ':');
    size_t n = colon != NULL ? (size_t)(colon - text) : strlen(text);
    if (n >= sizeof f->file)
        n = sizeof f->file - 1;
    memcpy(f->file, text, n);
    f->file[n] = '\0';
    unsigned line = 0;
    for (const char *d = colon != NULL ? colon + 1 : ""; *d >= '0' && *d <= '9'; d++)
        line = line * 10 + (unsigned)(*d - '0');
    f->line = line;
}

/* Symbolise pc, in the object obj (found: false if none holds it), into f. */
static void symbolise(void *pcv, const object *objp, bool found, ck_frame *f)
{
    uintptr_t pc = (uintptr_t)pcv;
    object obj = *objp;
    char location[600] = "";
    f->pc = pcv;
    f->function[0] = '\0';
    f->offset = pc - obj.bias;
    sh_format(f->module, sizeof f->module, "%s", found ? obj.path : "");
    int r = found ? resolver(&obj) : -1;
    if (r >= 0) {
        char q[32];
        size_t n = sh_format(q, sizeof q, "0x%zx\n", (size_t)(pc - 1 - obj.bias));
        sh_os_write(sym.to[r], q, n);
        if (!read_line(sym.from[r], f->function, sizeof f->function) ||
            !read_line(sym.from[r], location, sizeof location))
            f->function[0] = location[0] = '\0';
    }
    if (f->function[0] == '\0' || strcmp(f->function, "??") == 0) {
        Dl_info info;
        if (dladdr(pcv, &info) != 0 && info.dli_sname != NULL)
            sh_format(f->function, sizeof f->function, "%s", info.dli_sname);
        else
            f->function[0] = '\0';
    }
    parse_location(location, f);
}

/* Symbolised frames by pc and object, direct-mapped: a report names the
   same frames (main, the allocation wrappers) again and again, and the leak
   report with suppressions reads each stack twice; each answer costs a round
   trip to an addr2line process.  The object is found again each time (it is
   cheap), so a library unloaded and another loaded at its address does not
   get the old one's names.  Used under the report lock only. */
#define FRAME_CACHE 1024
static ck_frame *frame_cache; /* mapped at the first symbolisation; NULL: none */

bool ck_trace_frame(uint32_t id, uint32_t i, ck_frame *out)
{
    const ck_trace *t = ck_trace_get(id);
    if (t == NULL || i >= t->depth)
        return false;
    if (!sym.tried)
        sym_start();
    if (frame_cache == NULL)
        frame_cache = sh_os_map(FRAME_CACHE * sizeof(ck_frame));
    void *pc = t->pc[i];
    object obj = {{0}, 0};
    bool found = object_of((uintptr_t)pc, &obj);
    ck_frame *slot = NULL;
    if (frame_cache != NULL) {
        slot = &frame_cache[(mix(HASH_SEED, (uintptr_t)pc) >> 7) & (FRAME_CACHE - 1)];
        if (slot->pc == pc && strcmp(slot->module, found ? obj.path : "") == 0) {
            *out = *slot;
            return true;
        }
    }
    symbolise(pc, &obj, found, out);
    if (slot != NULL)
        *slot = *out;
    return true;
}

/* The file name of f's object ("?" if none holds it), for "(object+0xoffset)". */
static const char *module_name(const ck_frame *f)
{
    const char *base = strrchr(f->module, '/');
    base = base != NULL ? base + 1 : f->module;
    return base[0] != '\0' ? base : "?";
}

void ck_trace_print(uint32_t id, const char *indent)
{
    ck_frame f;
    for (uint32_t i = 0; ck_trace_frame(id, i, &f); i++)
        ck_frame_print(&f, i, indent);
}

bool ck_trace_symbol(void *pcv, char *fn, size_t fn_cap, char *file, size_t file_cap)
{
    if (!sym.tried)
        sym_start();
    object obj = {{0}, 0};
    bool found = object_of((uintptr_t)pcv, &obj);
    ck_frame f;
    symbolise(pcv, &obj, found, &f);
    sh_format(fn, fn_cap, "%s", f.function);
    if (f.file[0] != '\0' && f.line != 0) {
        sh_format(file, file_cap, "%s:%u", f.file, f.line);
        return true;
    }
    sh_format(file, file_cap, "(%s+0x%zx)", module_name(&f), (size_t)f.offset);
    return false;
}

void ck_frame_print(const ck_frame *f, unsigned i, const char *indent)
{
    ck_printf("%s#%u %p in %s ", indent, i, f->pc, f->function[0] != '\0' ? f->function : "??");
    if (f->file[0] != '\0' && f->line != 0)
        ck_printf("%s:%u\n", f->file, f->line);
    else if (f->file[0] != '\0')
        ck_printf("%s\n", f->file);
    else
        ck_printf("(%s+0x%zx)\n", module_name(f), (size_t)f->offset);
}

void ck_trace_lock_for_fork(int phase)
{
    if (phase == 0) {
        sh_lock(&tr.lock);
        sh_lock(&code.lock);
    } else if (phase == 1) {
        sh_unlock(&code.lock);
        sh_unlock(&tr.lock);
    } else {
        pthread_mutex_init(&code.lock, NULL);
        pthread_mutex_init(&tr.lock, NULL);
    }
}

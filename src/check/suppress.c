/*
 * suppress.c -- leaks not to report: STACKHEAP_SUPPRESSIONS=FILE (what
 * `stackheap run --suppressions FILE` sets), in LeakSanitizer's format.
 *
 * The file holds one rule a line, `leak:PATTERN`; blank lines and lines
 * starting with '#' are skipped, spaces around a line are not part of it.
 * A lost block is suppressed when PATTERN matches the function, the source
 * file or the module (library or program path) of any frame of its
 * allocation stack: PATTERN matches anywhere in the name, `*` matches any
 * run of characters, a leading `^` anchors it to the name's start and a
 * trailing `$` to its end.  Blocks that a suppressed block reaches are
 * suppressed with it (leak.c): a rule for a structure's root hides the
 * structure.  Only leaks can be suppressed, as in LeakSanitizer: a bad free,
 * an overrun or a write after free is a bug that corrupts memory, never a
 * deliberate choice, and the suppression types of other sanitizers
 * (`race:`, `interceptor_via_fun:`, ...) are refused rather than ignored.
 *
 * The file is read when check mode starts, not at exit, so a mistake in it
 * stops the program before it runs: a file that cannot be read, or a line
 * that is not a rule, is fatal, with one line naming FILE:LINE.  Nothing
 * here allocates: the file is read into a mapping, its lines are cut in
 * place, and the rules are an array mapped beside it.
 *
 * Invariants: sup.rules[0..n) point into sup.text, which stays mapped for
 * the life of the process; a rule's counts change only in the exit report,
 * under the report lock.
 */
#define _GNU_SOURCE
#include "check_internal.h"

#include <errno.h>
#include <string.h>

#define FILE_MAX ((size_t)4 << 20) /* bytes of a suppressions file at most */

typedef struct rule {
    const char *text;    /* "leak:PATTERN", trimmed */
    const char *pattern; /* PATTERN */
    unsigned line;
    size_t blocks, bytes; /* suppressed by this rule, in the exit report */
} rule;

static struct {
    char path[1024];
    char *text; /* the file, mapped (FILE_MAX + 1 bytes) */
    rule *rules;
    size_t n;
    int32_t *verdict; /* per trace id: 0 not looked at, -1 no rule, r + 1: rule r */
    bool verdict_tried;
} sup;

static const char *errno_text(int e)
{
    switch (e) {
    case ENOENT:
        return "no such file";
    case EACCES:
        return "permission denied";
    case EISDIR:
        return "it is a directory";
    case ENOTDIR:
        return "a part of the path is not a directory";
    case ENAMETOOLONG:
        return "the path is too long";
    default:
        return "it cannot be read";
    }
}

/* Read the file into sup.text (NUL-terminated); fatal if it cannot be. */
static size_t read_whole(void)
{
    int fd = sh_os_open_read(sup.path);
    if (fd < 0)
        sh_fatal("suppressions: cannot read '%s': %s", sup.path, errno_text(errno));
    sup.text = sh_os_map(FILE_MAX + 1);
    if (sup.text == NULL)
        sh_fatal("suppressions: no memory to read '%s'", sup.path);
    size_t len = 0;
    for (;;) {
        errno = 0;
        size_t n = sh_os_read(fd, sup.text + len, FILE_MAX - len);
        if (n == 0 && errno != 0)
            sh_fatal("suppressions: cannot read '%s': %s", sup.path, errno_text(errno));
        if (n == 0)
            break;
        len += n;
        if (len == FILE_MAX)
            sh_fatal("suppressions: '%s' is larger than %zu MiB: is it a suppressions file?",
                     sup.path, FILE_MAX >> 20);
    }
    sh_os_close(fd);
    sup.text[len] = '\0';
    return len;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Check one trimmed line (not blank, not a comment) and add its rule. */
static void add_rule(char *line, unsigned number)
{
    char *colon = strchr(line, ':');
    if (colon == NULL)
        sh_fatal("suppressions: %s:%u: '%s' is not a suppression: a line is leak:PATTERN, a "
                 "# comment or blank",
                 sup.path, number, line);
    size_t type_len = (size_t)(colon - line);
    if (type_len != 4 || memcmp(line, "leak", 4) != 0)
        sh_fatal("suppressions: %s:%u: '%s': stackheap reads only leak: suppressions (its "
                 "other findings cannot be suppressed)",
                 sup.path, number, line);
    const char *pattern = colon + 1;
    while (is_space(*pattern))
        pattern++;
    if (*pattern == '\0')
        sh_fatal("suppressions: %s:%u: 'leak:' has no pattern (a function, source file or "
                 "library name; * matches any characters, ^ and $ anchor)",
                 sup.path, number);
    sup.rules[sup.n++] = (rule){line, pattern, number, 0, 0};
}

void ck_suppress_init(void)
{
    const char *path = sh_env("STACKHEAP_SUPPRESSIONS");
    if (path == NULL || *path == '\0')
        return;
    if (strlen(path) >= sizeof sup.path)
        sh_fatal("suppressions: the path of the suppressions file is longer than %zu bytes",
                 sizeof sup.path - 1);
    sh_format(sup.path, sizeof sup.path, "%s", path);
    size_t len = read_whole();
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += sup.text[i] == '\n';
    sup.rules = sh_os_map(lines * sizeof(rule));
    if (sup.rules == NULL)
        sh_fatal("suppressions: no memory for the rules of '%s'", sup.path);
    char *line = sup.text;
    for (unsigned number = 1; line != NULL; number++) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        while (is_space(*line))
            line++;
        size_t n = strlen(line);
        while (n > 0 && is_space(line[n - 1]))
            line[--n] = '\0';
        if (n > 0 && line[0] != '#')
            add_rule(line, number);
        line = nl != NULL ? nl + 1 : NULL;
    }
}

bool ck_suppressing(void)
{
    return sup.n > 0;
}

/* ---- matching ------------------------------------------------------------------ */

/* Does p[0..pn) match all of text, '*' matching any run of characters, with
   any prefix of text allowed when open_start and any suffix when open_end?
   Backtracks to the last '*' only (the classic linear-space glob). */
static bool glob(const char *p, size_t pn, const char *text, bool open_start, bool open_end)
{
    size_t pi = 0, ti = 0, tn = strlen(text);
    size_t star_p = SIZE_MAX, star_t = 0; /* where to resume after the last '*' */
    if (open_start)
        star_p = 0;
    while (ti < tn) {
        if (pi < pn && p[pi] == '*') {
            star_p = ++pi;
            star_t = ti;
        } else if (pi < pn && p[pi] == text[ti]) {
            pi++;
            ti++;
        } else if (pi == pn && open_end) {
            return true; /* the rest of text is the open end */
        } else if (star_p != SIZE_MAX) {
            pi = star_p;
            ti = ++star_t;
        } else {
            return false;
        }
    }
    while (pi < pn && p[pi] == '*')
        pi++;
    return pi == pn;
}

bool ck_suppress_pattern_matches(const char *pattern, const char *text)
{
    if (text[0] == '\0') /* an unknown name matches nothing */
        return false;
    bool anchored_start = pattern[0] == '^';
    if (anchored_start)
        pattern++;
    size_t n = strlen(pattern);
    bool anchored_end = n > 0 && pattern[n - 1] == '$';
    if (anchored_end)
        n--;
    return glob(pattern, n, text, !anchored_start, !anchored_end);
}

/* The first rule (in file order) that matches a frame of trace, or -1. */
static int first_match(uint32_t trace)
{
    size_t best = sup.n;
    ck_frame f;
    for (uint32_t i = 0; best > 0 && ck_trace_frame(trace, i, &f); i++)
        for (size_t r = 0; r < best; r++) {
            const char *p = sup.rules[r].pattern;
            if (ck_suppress_pattern_matches(p, f.function) ||
                ck_suppress_pattern_matches(p, f.file) || ck_suppress_pattern_matches(p, f.module))
                best = r;
        }
    return best < sup.n ? (int)best : -1;
}

int ck_suppress_match(uint32_t trace)
{
    if (sup.n == 0)
        return -1;
    if (!sup.verdict_tried) { /* mapped after the leak scan's roots: no need to skip it */
        sup.verdict_tried = true;
        sup.verdict = sh_os_map((size_t)CK_TRACES * sizeof(int32_t));
    }
    if (sup.verdict == NULL || trace >= CK_TRACES)
        return first_match(trace);
    if (sup.verdict[trace] == 0)
        sup.verdict[trace] = first_match(trace) + 1;
    int v = sup.verdict[trace];
    return v > 0 ? v - 1 : -1;
}

void ck_suppress_count(int r, size_t bytes)
{
    sup.rules[r].blocks++;
    sup.rules[r].bytes += bytes;
}

static const char *plural(size_t n)
{
    return n == 1 ? "" : "s";
}

void ck_suppress_report(void)
{
    size_t blocks = 0, bytes = 0, rules = 0;
    for (size_t r = 0; r < sup.n; r++)
        if (sup.rules[r].blocks > 0) {
            blocks += sup.rules[r].blocks;
            bytes += sup.rules[r].bytes;
            rules++;
        }
    if (rules == 0)
        return;
    ck_printf("stackheap: suppressed: %zu block%s, %zu byte%s by %zu rule%s\n", blocks,
              plural(blocks), bytes, plural(bytes), rules, plural(rules));
    for (size_t r = 0; r < sup.n; r++)
        if (sup.rules[r].blocks > 0)
            ck_printf("  %zu block%s, %zu byte%s by %s (%s:%u)\n", sup.rules[r].blocks,
                      plural(sup.rules[r].blocks), sup.rules[r].bytes, plural(sup.rules[r].bytes),
                      sup.rules[r].text, sup.path, sup.rules[r].line);
}

bool ck_suppress_rule(size_t i, ck_rule *out)
{
    if (i >= sup.n)
        return false;
    const rule *r = &sup.rules[i];
    *out = (ck_rule){r->text, sup.path, r->line, r->blocks, r->bytes};
    return true;
}

/* ---- entries for --gen-suppressions ------------------------------------------------- */

/* Functions that allocate for their caller: an entry names the caller
   instead (a rule for strdup would hide every leak of a strdup'ed string). */
bool ck_allocates(const char *fn)
{
    static const char *const names[] = {
        "malloc",         "calloc",          "realloc",        "reallocarray",
        "free",           "aligned_alloc",   "posix_memalign", "memalign",
        "valloc",         "pvalloc",         "__libc_malloc",  "__libc_calloc",
        "__libc_realloc", "__libc_memalign", "strdup",         "strndup",
        "__strdup",       "__strndup",       "wcsdup",         "asprintf",
        "vasprintf",      "__asprintf",      "___asprintf",    "__vasprintf_internal",
        "getline",        "getdelim",        "__getdelim",     "open_memstream",
        "realpath",       "tempnam",         "scandir",
    };
    if (strncmp(fn, "__GI_", 5) == 0) /* glibc's internal aliases */
        fn += 5;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(fn, names[i]) == 0)
            return true;
    return strncmp(fn, "operator new", 12) == 0;
}

bool ck_suppress_entry(uint32_t trace, char *buf, size_t cap)
{
    ck_frame f;
    for (uint32_t i = 0; ck_trace_frame(trace, i, &f); i++) {
        if (f.function[0] != '\0' && ck_allocates(f.function))
            continue; /* the wrappers: their caller is the allocation */
        if (f.function[0] != '\0') {
            sh_format(buf, cap, "leak:^%s$", f.function);
            return true;
        }
        if (f.module[0] != '\0') { /* a frame without a name: its module (an absolute path) */
            const char *base = strrchr(f.module, '/');
            sh_format(buf, cap, "leak:/%s$", base != NULL ? base + 1 : f.module);
            return true;
        }
    }
    return false;
}

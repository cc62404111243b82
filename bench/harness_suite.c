/*
 * harness_suite.c -- reading the side-by-side suite (bench/suite.txt).
 *
 * One workload a line: `name<TAB>description<TAB>command`; blank lines and
 * lines starting with # are skipped.  In the command @BIN@, @SRC@, @QUICK@
 * and @TMP@ are replaced (see harness.c).  A workload is skipped, with one
 * line saying why, when its program is missing (checked when the command runs
 * without a shell: with one, the first word may be a keyword) or when a file
 * of the project that it names (a word starting with @BIN@ or @SRC@) is.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool bench_in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p += len + (end != NULL);
    }
    return false;
}

/* text with every @KEY@ replaced; a fresh string */
static char *substitute(const bench_suite *b, const char *text, const char *bin, const char *src,
                        const char *tmp)
{
    const struct {
        const char *key, *value;
    } subs[] = {
        {"@BIN@", bin},
        {"@SRC@", src},
        {"@QUICK@", b->quick ? "-q" : ""},
        {"@TMP@", tmp},
    };
    size_t cap = strlen(text) + 1;
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        for (const char *p = strstr(text, subs[i].key); p; p = strstr(p + 1, subs[i].key))
            cap += strlen(subs[i].value);
    char *out = bench_xmalloc(cap), *o = out;
    for (const char *p = text; *p != '\0';) {
        size_t i = 0;
        for (; i < sizeof subs / sizeof subs[0]; i++) {
            size_t n = strlen(subs[i].key);
            if (strncmp(p, subs[i].key, n) == 0) {
                o = stpcpy(o, subs[i].value);
                p += n;
                break;
            }
        }
        if (i == sizeof subs / sizeof subs[0])
            *o++ = *p++;
    }
    *o = '\0';
    return out;
}

/* Can `name` (a path, or a program looked up in PATH) be executed? */
static bool executable(const char *name)
{
    if (strchr(name, '/') != NULL)
        return access(name, X_OK) == 0;
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/usr/bin:/bin";
    char buf[PATH_MAX];
    for (const char *p = path;;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0 && len + strlen(name) + 2 < sizeof buf) {
            snprintf(buf, sizeof buf, "%.*s/%s", (int)len, p, name);
            if (access(buf, X_OK) == 0)
                return true;
        }
        if (end == NULL)
            return false;
        p = end + 1;
    }
}

/* Does the command need a shell (anything but words separated by blanks)? */
bool bench_needs_shell(const char *command)
{
    return command[strcspn(command, "|&;<>()$`\\\"'*?[]#~=%{}!\n")] != '\0';
}

/* Fill w->skipped when the command's program (when it runs without a shell:
   with one, its first word may be a keyword), or a file of the project that
   it names (a word starting with @BIN@ or @SRC@), is missing. */
static void check_runnable(const bench_suite *b, bench_workload *w, const char *template,
                           const char *bin, const char *src, const char *tmp)
{
    char *copy = bench_xstrdup(template);
    int word = 0;
    for (char *save = NULL, *tok = strtok_r(copy, " \t", &save); tok != NULL && !w->skipped;
         tok = strtok_r(NULL, " \t", &save), word++) {
        char *path = substitute(b, tok, bin, src, tmp);
        if (word == 0 && !bench_needs_shell(template) && !executable(path)) {
            w->skipped = true;
            snprintf(w->skip_why, sizeof w->skip_why, "%s not found%s", path,
                     strchr(path, '/') ? "" : " in PATH");
        } else if ((strncmp(tok, "@BIN@", 5) == 0 || strncmp(tok, "@SRC@", 5) == 0) &&
                   access(path, F_OK) != 0) {
            w->skipped = true;
            snprintf(w->skip_why, sizeof w->skip_why, "%s not found", path);
        }
        free(path);
    }
    free(copy);
}

void bench_read_suite(bench_suite *b, const char *path, const char *bin, const char *src,
                      const char *tmp, const char *only)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        bench_die("cannot read the suite %s: %s", path, strerror(errno));
    char line[4096];
    int lineno = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        const char *p = line + strspn(line, " \t");
        if (*p == '\0' || *p == '#')
            continue;
        char *tab1 = strchr(line, '\t');
        char *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
        if (tab2 == NULL)
            bench_die("%s:%d: expected name<TAB>description<TAB>command", path, lineno);
        *tab1 = *tab2 = '\0';
        const char *command = tab2 + 1 + strspn(tab2 + 1, " \t");
        if (only != NULL && !bench_in_list(only, line))
            continue;
        if (b->nwork == BENCH_MAX_WORKLOADS)
            bench_die("%s: more than %d workloads", path, BENCH_MAX_WORKLOADS);
        bench_workload *w = &b->work[b->nwork++];
        w->name = bench_xstrdup(line);
        w->desc = bench_xstrdup(tab1 + 1);
        w->command = substitute(b, command, bin, src, tmp);
        check_runnable(b, w, command, bin, src, tmp);
        if (w->skipped)
            bench_note("workload %s skipped: %s", w->name, w->skip_why);
    }
    fclose(f);
    if (only != NULL) {
        char *copy = bench_xstrdup(only);
        for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok != NULL;
             tok = strtok_r(NULL, ",", &save)) {
            bool found = false;
            for (int i = 0; i < b->nwork && !found; i++)
                found = strcmp(b->work[i].name, tok) == 0;
            if (!found)
                bench_die("--workloads: %s is not in %s", tok, path);
        }
        free(copy);
    }
}

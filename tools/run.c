/*
 * run.c -- `stackheap run [options] -- PROGRAM ARGS...`: run any dynamically
 * linked program on stackheap, optionally in check mode.
 *
 * A statically linked program cannot be run on stackheap (the loader that
 * reads LD_PRELOAD never runs), nor can a 32-bit one; the tool says so and
 * runs it anyway.
 *
 * The tool sets the environment the library reads (LD_PRELOAD of the
 * libstackheap.so it is itself linked with, STACKHEAP_CHECK and friends:
 * the suppressions file, the JSON and SARIF reports' paths) and replaces
 * itself with the program, so the program's exit status, signals and
 * terminal are its own.  The library prints the reports when the program
 * exits (src/check/).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <stdbool.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stackheap.h"

int run_usage(FILE *to)
{
    fprintf(to, "usage: stackheap run [options] [--] PROGRAM [ARGS...]\n"
                "\n"
                "Runs PROGRAM (dynamically linked) with stackheap as its malloc.\n"
                "\n"
                "options:\n"
                "  --check               find leaks, double and invalid frees, heap overruns and\n"
                "                        writes after free; report them when the program exits\n"
                "                        (the same as STACKHEAP_CHECK=1 in the environment)\n"
                "  --stats               print heap statistics when the program exits\n"
                "  --unwind              call stacks (of --check, --profile and STACKHEAP_SAMPLE)\n"
                "                        unwound from .eh_frame by libunwind (libunwind.so.8):\n"
                "                        whole stacks in programs built without frame pointers,\n"
                "                        at a cost per stack (docs/BENCHMARKS.md)\n"
                "  --error-exitcode N    exit with N if --check found anything (default: the\n"
                "                        program's own exit status)\n"
                "  --log-file FILE       append the reports to FILE instead of stderr\n"
                "  --show-reachable      also list blocks still reachable at exit\n"
                "  --continue            after a bad free, go on (ignoring the call) instead of\n"
                "                        aborting\n"
                "  --quarantine SIZE     bytes of freed blocks held back to catch writes after\n"
                "                        free, shared by the threads (default 16M)\n"
                "  --profile[=MODE]      profile the heap: at exit, print the top sites (peak,\n"
                "                        calls, temporary, leaked) and write PREFIX.html and\n"
                "                        collapsed stacks (PREFIX.{peak,alloc,leak}.collapsed);\n"
                "                        MODE exact (default: every call recorded) or sampled\n"
                "                        (one sample per --profile-sample bytes on average)\n"
                "  --profile-out PREFIX  where the profile goes (default\n"
                "                        stackheap-profile.PID)\n"
                "  --profile-sample SIZE sampled mode's mean bytes between samples (default\n"
                "                        512K)\n"
                "\n"
                "with --check, reports other tools read (docs/REPORTS.md):\n"
                "  --suppressions FILE   leaks not to report: LeakSanitizer's format, one\n"
                "                        leak:PATTERN a line (# comments), PATTERN matched\n"
                "                        against the functions, source files and libraries of\n"
                "                        the allocation stack (* matches anything, ^ and $\n"
                "                        anchor); a summary line counts what was suppressed.\n"
                "                        Only leaks can be suppressed.  A file that cannot be\n"
                "                        read, or a bad line, stops the program at its start\n"
                "  --gen-suppressions    after each leak, print a leak: line ready for such a\n"
                "                        file (grep '^leak:' collects them)\n"
                "  --json FILE           also write every finding to FILE as JSON\n"
                "  --sarif FILE          also write them to FILE as SARIF 2.1.0 (code scanning)\n"
                "                        Both files are valid even if the program aborts; %%p\n"
                "                        in FILE is replaced by the process id (one file per\n"
                "                        process, for programs that fork or run others)\n"
                "  --source-root DIR     SARIF paths of files under DIR are relative to it\n"
                "                        (default: the current directory)\n");
    return 2;
}

/* The path of the libstackheap.so this tool runs on. */
static const char *library_path(void)
{
    Dl_info info;
    if (dladdr((void *)(uintptr_t)sh_malloc, &info) == 0 || info.dli_fname == NULL ||
        strstr(info.dli_fname, "libstackheap") == NULL)
        return NULL;
    return info.dli_fname;
}

static int set(const char *name, const char *value)
{
    if (setenv(name, value, 1) != 0) {
        fprintf(stderr, "stackheap run: cannot set %s: %s\n", name, strerror(errno));
        return -1;
    }
    return 0;
}

/* The file execvp would run for `name` (searched in PATH when it has no
   '/'), in buf; NULL if there is none. */
static const char *program_path(const char *name, char *buf, size_t cap)
{
    if (strchr(name, '/') != NULL)
        return name;
    const char *path = getenv("PATH");
    /* glibc's default PATH; an empty entry (or an empty PATH) is the current directory */
    for (const char *dir = path != NULL ? path : "/bin:/usr/bin";;) {
        size_t n = strcspn(dir, ":");
        struct stat st;
        if ((size_t)snprintf(buf, cap, "%.*s/%s", (int)(n > 0 ? n : 1), n > 0 ? dir : ".", name) <
                cap &&
            stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
            return buf;
        if (dir[n] == '\0')
            return NULL;
        dir += n + 1;
    }
}

/* Why LD_PRELOAD cannot reach the ELF program at path, or NULL: it has no
   interpreter (statically linked: the dynamic loader never runs), or it is
   32-bit (the loader ignores a 64-bit library). */
static const char *unreachable(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    Elf64_Ehdr eh;
    bool read = fread(&eh, sizeof eh, 1, f) == 1 && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0;
    if (read && eh.e_ident[EI_CLASS] == ELFCLASS32) {
        fclose(f);
        return "is a 32-bit program, and the loader ignores a 64-bit library";
    }
    bool elf = read && eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr) &&
               (eh.e_type == ET_EXEC || eh.e_type == ET_DYN);
    bool interp = false;
    for (unsigned k = 0; elf && k < eh.e_phnum && !interp; k++) {
        Elf64_Phdr ph;
        if (fseek(f, (long)(eh.e_phoff + (uint64_t)k * sizeof ph), SEEK_SET) != 0 ||
            fread(&ph, sizeof ph, 1, f) != 1) {
            elf = false; /* unreadable: say nothing */
            break;
        }
        interp = ph.p_type == PT_INTERP;
    }
    fclose(f);
    return elf && !interp ? "is statically linked" : NULL;
}

/* --profile[=MODE], --profile-out PREFIX, --profile-sample SIZE at argv[*i]:
   1 if it was one (*i moved past its value; -1 on an error, said), else 0. */
static int profile_option(char **argv, int *i, int argc)
{
    const char *a = argv[*i];
    if (strcmp(a, "--profile") == 0 || strncmp(a, "--profile=", 10) == 0) {
        const char *mode = a[9] == '=' ? a + 10 : "exact";
        if (strcmp(mode, "exact") != 0 && strcmp(mode, "sampled") != 0) {
            fprintf(stderr, "stackheap run: --profile is exact or sampled (got '%s')\n", mode);
            *i = -1;
        } else if (set("STACKHEAP_PROFILE", mode) != 0) {
            *i = -1;
        }
        return 1;
    }
    if (strcmp(a, "--profile-out") != 0 && strcmp(a, "--profile-sample") != 0)
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "stackheap run: %s needs a value\n", a);
        run_usage(stderr);
        *i = -1;
        return 1;
    }
    const char *name =
        strcmp(a, "--profile-out") == 0 ? "STACKHEAP_PROFILE_OUT" : "STACKHEAP_PROFILE_SAMPLE";
    if (set(name, argv[*i + 1]) != 0)
        *i = -1;
    else
        (*i)++;
    return 1;
}

/* The variable an option with a value sets, or NULL. */
static const char *variable_of(const char *option)
{
    static const char *const map[][2] = {
        {"--error-exitcode", "STACKHEAP_CHECK_EXITCODE"},
        {"--log-file", "STACKHEAP_CHECK_LOG"},
        {"--quarantine", "STACKHEAP_CHECK_QUARANTINE"},
        {"--suppressions", "STACKHEAP_SUPPRESSIONS"},
        {"--json", "STACKHEAP_JSON"},
        {"--sarif", "STACKHEAP_SARIF"},
        {"--source-root", "STACKHEAP_SOURCE_ROOT"},
    };
    for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
        if (strcmp(option, map[k][0]) == 0)
            return map[k][1];
    return NULL;
}

/* argv[0] is "run". */
int run_command(int argc, char **argv)
{
    bool seen_suppressions = false;
    int i = 1;
    bool check = false;
    const char *needs_check = NULL; /* an option that means nothing without --check */
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (a[0] != '-') {
            break;
        } else if (strcmp(a, "--check") == 0) {
            check = true;
        } else if (strcmp(a, "--stats") == 0) {
            if (set("STACKHEAP_STATS", "1") != 0)
                return 2;
        } else if (strcmp(a, "--show-reachable") == 0) {
            if (set("STACKHEAP_CHECK_REACHABLE", "1") != 0)
                return 2;
        } else if (strcmp(a, "--unwind") == 0) {
            if (set("STACKHEAP_UNWIND", "1") != 0)
                return 2;
        } else if (strcmp(a, "--continue") == 0) {
            if (set("STACKHEAP_CHECK_ABORT", "0") != 0)
                return 2;
        } else if (profile_option(argv, &i, argc) != 0) {
            if (i < 0)
                return 2;
        } else if (strcmp(a, "--gen-suppressions") == 0) {
            needs_check = a;
            if (set("STACKHEAP_GEN_SUPPRESSIONS", "1") != 0)
                return 2;
        } else if (variable_of(a) != NULL) {
            if (value == NULL) {
                fprintf(stderr, "stackheap run: %s needs a value\n", a);
                return run_usage(stderr);
            }
            const char *name = variable_of(a);
            if (strncmp(name, "STACKHEAP_CHECK_", 16) != 0) /* the reports' options */
                needs_check = a;
            if (strcmp(a, "--suppressions") == 0) {
                if (seen_suppressions) {
                    fprintf(stderr, "stackheap run: --suppressions takes one file (given twice)\n");
                    return 2;
                }
                seen_suppressions = true;
            }
            if (strcmp(a, "--error-exitcode") == 0) {
                char *end;
                long n = strtol(value, &end, 10);
                if (*value == '\0' || *end != '\0' || n < 1 || n > 255) {
                    fprintf(stderr,
                            "stackheap run: --error-exitcode needs a number from 1 to "
                            "255 (got '%s')\n",
                            value);
                    return 2;
                }
            }
            if (set(name, value) != 0)
                return 2;
            i++;
        } else {
            fprintf(stderr, "stackheap run: unknown option '%s'\n", a);
            return run_usage(stderr);
        }
    }
    if (i >= argc) {
        fprintf(stderr, "stackheap run: no program to run\n");
        return run_usage(stderr);
    }
    if (needs_check != NULL && !check) {
        fprintf(stderr, "stackheap run: %s needs --check (it is about check mode's findings)\n",
                needs_check);
        return 2;
    }
    const char *lib = library_path();
    if (lib == NULL) {
        fprintf(stderr, "stackheap run: cannot find the libstackheap.so this tool was linked "
                        "with (is it linked statically?)\n");
        return 2;
    }
    const char *old = getenv("LD_PRELOAD");
    size_t len = strlen(lib) + (old != NULL ? strlen(old) + 1 : 0) + 1;
    char *preload = malloc(len);
    if (preload == NULL)
        return 2;
    snprintf(preload, len, "%s%s%s", lib, old != NULL && *old ? ":" : "", old != NULL ? old : "");
    if (set("LD_PRELOAD", preload) != 0 || set("STACKHEAP_CHECK", check ? "1" : "0") != 0)
        return 2;
    free(preload);
    char buf[4096];
    const char *path = program_path(argv[i], buf, sizeof buf);
    const char *why = path != NULL ? unreachable(path) : NULL;
    if (why != NULL)
        fprintf(stderr,
                "stackheap run: warning: '%s' %s, so LD_PRELOAD cannot give it stackheap's "
                "malloc: it runs on its own, and nothing is checked or counted\n",
                argv[i], why);
    execvp(argv[i], &argv[i]);
    fprintf(stderr, "stackheap run: cannot run '%s': %s\n", argv[i], strerror(errno));
    return 127;
}

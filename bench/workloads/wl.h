/*
 * wl.h -- what every workload program shares: arguments, a fixed-seed PRNG,
 * block stamps, the checksum line and the one way to fail.
 *
 * The workloads are measured from outside (wall time and peak RSS through
 * wait4) under whichever allocator the harness preloads, so they call only
 * the standard malloc family and never link libstackheap.  Three rules hold
 * in every program:
 *
 *   - the same work under every allocator: every size, lifetime and choice
 *     comes from a xorshift64 seeded with a constant, never from a pointer,
 *     a clock or thread timing (thread timing may change who frees a block,
 *     never which blocks exist);
 *   - the work is checked: a block carries a stamp (a tag in its first word,
 *     a byte derived from it in its last) written after malloc and checked
 *     before free, and the sum of mixed tags checked at free must equal the
 *     sum at allocation, so a lost, doubled or overwritten block is caught;
 *   - the work cannot be optimised away: the checksum printed at the end
 *     depends on every stamp read back, and wl_escape hides a pointer from
 *     the compiler where nothing else would.
 *
 * The checksum is a commutative sum, so threads may add to it in any order;
 * it must be identical under every allocator.
 */
#ifndef WL_H
#define WL_H

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The program's name for messages, set by wl_args. */
static const char *wl_name = "workload";

/* Print one line "wl_NAME: message" to stderr and exit 1. */
static inline void wl_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static inline void wl_die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", wl_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* Parse `NAME [-q]`; returns 1 in quick mode (about 1/10 of the work). */
static inline int wl_args(int argc, char **argv, const char *name)
{
    wl_name = name;
    if (argc == 1)
        return 0;
    if (argc == 2 && strcmp(argv[1], "-q") == 0)
        return 1;
    fprintf(stderr, "usage: %s [-q]\n  -q  quick mode: about a tenth of the work\n", name);
    exit(2);
}

/* xorshift64 (Marsaglia): fast, deterministic, never zero from a nonzero seed. */
typedef struct {
    uint64_t s;
} wl_rng;

static inline wl_rng wl_seed(uint64_t seed)
{
    wl_rng r = {seed * 0x9E3779B97F4A7C15u | 1u};
    return r;
}

static inline uint64_t wl_next(wl_rng *r)
{
    uint64_t x = r->s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    r->s = x;
    return x;
}

/* A uniform draw in [lo, hi] (the tiny modulo bias does not matter here). */
static inline size_t wl_between(wl_rng *r, size_t lo, size_t hi)
{
    return lo + (size_t)(wl_next(r) % (uint64_t)(hi - lo + 1));
}

/* 1 with probability 1/n. */
static inline int wl_one_in(wl_rng *r, uint64_t n)
{
    return wl_next(r) % n == 0;
}

/* splitmix64's finaliser: spreads a tag over 64 bits before it is summed. */
static inline uint64_t wl_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9u;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBu;
    x ^= x >> 31;
    return x;
}

/* Make the compiler assume *p is read and written here. */
static inline void wl_escape(void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

static inline void *wl_malloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL)
        wl_die("malloc(%zu) returned NULL", n);
    return p;
}

static inline uint8_t wl_tail_byte(uint64_t tag)
{
    return (uint8_t)(tag ^ (tag >> 29) ^ 0xA5);
}

/* Stamp an n-byte block (n >= 8): the tag in its first word and, when there
   is room, a byte derived from it in its last byte. */
static inline void wl_stamp(void *p, size_t n, uint64_t tag)
{
    memcpy(p, &tag, sizeof tag);
    if (n > sizeof tag)
        ((uint8_t *)p)[n - 1] = wl_tail_byte(tag);
}

/* Check a stamp written by wl_stamp(p, n, tag); dies on a mismatch.
   Returns wl_mix(tag ^ n), the block's share of a checksum. */
static inline uint64_t wl_check(const void *p, size_t n, uint64_t tag)
{
    uint64_t head;
    memcpy(&head, p, sizeof head);
    if (head != tag)
        wl_die("block %p of %zu bytes: first word %016" PRIx64 ", expected %016" PRIx64, p, n, head,
               tag);
    if (n > sizeof tag && ((const uint8_t *)p)[n - 1] != wl_tail_byte(tag))
        wl_die("block %p of %zu bytes: last byte %02x, expected %02x (overwritten?)", p, n,
               ((const uint8_t *)p)[n - 1], wl_tail_byte(tag));
    return wl_mix(tag ^ n);
}

/* The one line on stdout the harness compares across allocators. */
static inline void wl_print_checksum(uint64_t sum)
{
    printf("checksum %016" PRIx64 "\n", sum);
    if (fflush(stdout) != 0)
        wl_die("cannot write to stdout");
}

#endif

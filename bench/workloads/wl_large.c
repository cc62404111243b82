/*
 * wl_large.c -- workload 6: large blocks, 64 KiB to 32 MiB (image and
 * network buffers, decompression windows, matrices, file contents).
 *
 * SLOTS blocks are alive at a time; each step replaces a random one.  Sizes
 * are log-uniform from 64 KiB to 32 MiB (every power of two in that range
 * equally likely, a uniform draw inside it), so most blocks are small and
 * most bytes are in big ones.  One block in four comes from calloc, and the
 * bytes the program reads of it must be zero.  Every page of a new block is
 * touched (one byte written per 4 KiB, and the last byte), as a program
 * filling a buffer would, and read back before the free: so the allocator's
 * reuse of memory (or its lack, paid in page faults) is what the time
 * measures, along with its mmap/munmap traffic.
 *
 * Full run: STEPS replacements; quick (-q): a tenth.
 */
#define _GNU_SOURCE
#include "wl.h"

enum {
    SLOTS = 6,     /* blocks alive at once */
    STEPS = 300,   /* replacements in a full run */
    MIN_BITS = 16, /* sizes from 2^16 B ... */
    MAX_BITS = 24, /* ... to just under 2^25 B */
    STRIDE = 4096  /* one byte touched per STRIDE */
};

struct block {
    unsigned char *p;
    size_t size;
    uint64_t tag;
};

static unsigned char mark(uint64_t tag, size_t i)
{
    return (unsigned char)(tag + i / STRIDE * 0x9Du);
}

/* Write one byte per STRIDE and the last byte; if the block came from calloc
   check first that each of those bytes is zero. */
static void touch(const struct block *b, int zeroed)
{
    for (size_t i = 0; i < b->size - 1; i += STRIDE) {
        if (zeroed && b->p[i] != 0)
            wl_die("calloc'd block %p of %zu bytes: byte %zu is %02x, not 0", (void *)b->p, b->size,
                   i, b->p[i]);
        b->p[i] = mark(b->tag, i);
    }
    if (zeroed && b->p[b->size - 1] != 0)
        wl_die("calloc'd block %p of %zu bytes: last byte is %02x, not 0", (void *)b->p, b->size,
               b->p[b->size - 1]);
    b->p[b->size - 1] = mark(b->tag, b->size - 1) ^ 0xFF;
}

/* Check what touch wrote; returns the block's share of the checksum. */
static uint64_t check(const struct block *b)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < b->size - 1; i += STRIDE) {
        if (b->p[i] != mark(b->tag, i))
            wl_die("block %p of %zu bytes: byte %zu is %02x, expected %02x", (void *)b->p, b->size,
                   i, b->p[i], mark(b->tag, i));
        sum += b->p[i];
    }
    if (b->p[b->size - 1] != (mark(b->tag, b->size - 1) ^ 0xFF))
        wl_die("block %p of %zu bytes: last byte is %02x, expected %02x", (void *)b->p, b->size,
               b->p[b->size - 1], mark(b->tag, b->size - 1) ^ 0xFF);
    return wl_mix(b->tag ^ b->size) + sum;
}

int main(int argc, char **argv)
{
    int quick = wl_args(argc, argv, "wl_large");
    size_t steps = quick ? STEPS / 10 : STEPS;
    static struct block slots[SLOTS];
    wl_rng r = wl_seed(6);
    uint64_t sum = 0;

    for (size_t step = 0; step < steps; step++) {
        struct block *b = &slots[wl_next(&r) % SLOTS];
        if (b->p != NULL) {
            sum += check(b);
            free(b->p);
        }
        size_t bits = wl_between(&r, MIN_BITS, MAX_BITS);
        b->size = ((size_t)1 << bits) + wl_between(&r, 0, ((size_t)1 << bits) - 1);
        b->tag = wl_mix(step);
        int zeroed = wl_one_in(&r, 4);
        b->p = zeroed ? calloc(1, b->size) : malloc(b->size);
        if (b->p == NULL)
            wl_die("%s(%zu) returned NULL", zeroed ? "calloc" : "malloc", b->size);
        touch(b, zeroed);
    }
    for (size_t i = 0; i < SLOTS; i++) {
        if (slots[i].p != NULL) {
            sum += check(&slots[i]);
            free(slots[i].p);
        }
    }
    wl_print_checksum(sum);
    return 0;
}

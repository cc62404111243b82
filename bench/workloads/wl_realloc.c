/*
 * wl_realloc.c -- workload 5: growing buffers through realloc (string
 * builders, vectors, read buffers).
 *
 * BUILDERS buffers grow side by side; each step appends a chunk to a random
 * one (mostly 1..16 B, sometimes up to 256 B, rarely up to 4 KiB), copied
 * from a fixed random source so the content is known: byte i of a buffer is
 * source[(origin + i) mod SOURCE].  When the buffer is full it grows by
 * realloc, by one of three policies drawn per buffer:
 *
 *   doubling   capacity * 2 (a vector);
 *   an eighth  need + need / 8 + 16 (CPython's lists and strings);
 *   exact      need + 0..15 B (a naive string builder; only for buffers
 *              whose final length is at most EXACT_MAX, as a program that
 *              reallocs per append on megabytes would be broken anyway).
 *
 * A buffer's final length is log-uniform from 8 B to 1 MiB.  A quarter of
 * the buffers shrink once on the way (truncate to half, realloc down, keep
 * growing).  A finished buffer is checked in full, then either freed, or
 * truncated and realloc'd down and freed, or shrunk to fit and kept a while
 * in a ring of KEPT finished strings (their frees come later, in another
 * order).  realloc(NULL, n) starts a quarter of the buffers.
 *
 * Full run: BUFFERS finished buffers; quick (-q): a tenth.
 */
#define _GNU_SOURCE
#include "wl.h"

enum {
    BUILDERS = 32,        /* buffers growing at once */
    BUFFERS = 30000,      /* buffers finished in a full run */
    KEPT = 64,            /* finished strings kept a while */
    SOURCE = 1 << 16,     /* length of the content pattern */
    EXACT_MAX = 64 << 10, /* longest buffer grown by the exact policy */
    MIN_BITS = 3,
    MAX_BITS = 19 /* final lengths 2^3 .. 2^20 B */
};

enum policy { DOUBLING, EIGHTH, EXACT };

struct builder {
    unsigned char *buf;
    size_t len, cap;
    size_t target;    /* finish when len reaches it */
    size_t shrink_at; /* truncate to half once len reaches it (SIZE_MAX: never) */
    size_t origin;    /* buf[i] == source[(origin + i) % SOURCE] */
    enum policy policy;
};

struct kept {
    unsigned char *buf;
    size_t len, origin;
};

/* Two copies of one random SOURCE-byte pattern: any chunk of up to SOURCE
   bytes starting below SOURCE is contiguous here. */
static unsigned char source[2 * SOURCE];

static struct {
    wl_rng rng;
    uint64_t reallocs; /* realloc calls made (the same under every allocator) */
    uint64_t appended; /* bytes appended */
    uint64_t checksum; /* sum over finished buffers */
} run;

/* Die unless buf[0..len) holds the pattern that starts at origin. */
static void verify(const unsigned char *buf, size_t len, size_t origin)
{
    for (size_t off = 0; off < len;) {
        size_t piece = len - off < SOURCE ? len - off : SOURCE;
        const unsigned char *want = source + (origin + off) % SOURCE;
        if (memcmp(buf + off, want, piece) != 0) {
            size_t i = off;
            while (buf[i] == source[(origin + i) % SOURCE])
                i++;
            wl_die("buffer %p of %zu bytes: byte %zu is %02x, expected %02x (lost by realloc?)",
                   (const void *)buf, len, i, buf[i], source[(origin + i) % SOURCE]);
        }
        off += piece;
    }
}

static unsigned char *checked_realloc(unsigned char *buf, size_t size)
{
    unsigned char *p = realloc(buf, size);
    if (p == NULL)
        wl_die("realloc(%p, %zu) returned NULL", (void *)buf, size);
    run.reallocs++;
    return p;
}

static void start(struct builder *b)
{
    wl_rng *r = &run.rng;
    unsigned bits = (unsigned)wl_between(r, MIN_BITS, MAX_BITS);
    b->target = ((size_t)1 << bits) + wl_between(r, 0, ((size_t)1 << bits) - 1);
    b->policy = (enum policy)wl_between(r, 0, 2);
    if (b->policy == EXACT && b->target > EXACT_MAX)
        b->policy = EIGHTH;
    b->shrink_at = wl_one_in(r, 4) ? wl_between(r, 1, b->target) : SIZE_MAX;
    b->origin = wl_between(r, 0, SOURCE - 1);
    b->len = 0;
    if (wl_one_in(r, 4)) {
        b->buf = NULL;
        b->cap = 0;
    } else {
        b->cap = wl_between(r, 1, 64);
        b->buf = wl_malloc(b->cap);
    }
}

static size_t grown_capacity(const struct builder *b, size_t need)
{
    switch (b->policy) {
    case DOUBLING: {
        size_t cap = b->cap < 16 ? 16 : b->cap;
        while (cap < need)
            cap *= 2;
        return cap;
    }
    case EIGHTH:
        return need + need / 8 + 16;
    case EXACT:
        break;
    }
    return need + wl_between(&run.rng, 0, 15);
}

static size_t chunk_length(wl_rng *r)
{
    uint64_t d = wl_next(r) % 100;
    if (d < 70)
        return wl_between(r, 1, 16);
    if (d < 95)
        return wl_between(r, 17, 256);
    return wl_between(r, 257, 4096);
}

static void append(struct builder *b, size_t n)
{
    size_t need = b->len + n;
    if (need > b->cap) {
        b->cap = grown_capacity(b, need);
        b->buf = checked_realloc(b->buf, b->cap);
    }
    memcpy(b->buf + b->len, source + (b->origin + b->len) % SOURCE, n);
    b->len = need;
    run.appended += n;
}

/* Truncate to half and give the rest back: a vector's shrink_to_fit. */
static void shrink(struct builder *b)
{
    b->len /= 2;
    b->cap = b->len + 16;
    b->buf = checked_realloc(b->buf, b->cap);
    b->shrink_at = SIZE_MAX;
}

static void finish(struct builder *b, struct kept *kept, size_t *next_kept)
{
    wl_rng *r = &run.rng;
    verify(b->buf, b->len, b->origin);
    run.checksum += wl_mix(b->len ^ (uint64_t)b->origin << 32);

    switch (wl_next(r) % 4) {
    case 0: { /* shrink to fit and keep a while */
        struct kept *k = &kept[*next_kept];
        *next_kept = (*next_kept + 1) % KEPT;
        if (k->buf != NULL) {
            verify(k->buf, k->len, k->origin);
            free(k->buf);
        }
        k->buf = checked_realloc(b->buf, b->len);
        k->len = b->len;
        k->origin = b->origin;
        verify(k->buf, k->len, k->origin);
        break;
    }
    case 1: { /* truncate, realloc down, use the prefix, free */
        size_t len = wl_between(r, 1, b->len);
        unsigned char *p = checked_realloc(b->buf, len);
        verify(p, len, b->origin);
        free(p);
        break;
    }
    default:
        free(b->buf);
        break;
    }
    start(b);
}

int main(int argc, char **argv)
{
    int quick = wl_args(argc, argv, "wl_realloc");
    size_t buffers = quick ? BUFFERS / 10 : BUFFERS;
    static struct builder builders[BUILDERS];
    static struct kept kept[KEPT];
    size_t next_kept = 0, finished = 0;

    run.rng = wl_seed(5);
    for (size_t i = 0; i < SOURCE; i++)
        source[i] = source[i + SOURCE] = (unsigned char)(wl_next(&run.rng) >> 24);
    for (size_t i = 0; i < BUILDERS; i++)
        start(&builders[i]);

    while (finished < buffers) {
        struct builder *b = &builders[wl_next(&run.rng) % BUILDERS];
        append(b, chunk_length(&run.rng));
        if (b->len >= b->shrink_at)
            shrink(b);
        if (b->len >= b->target) {
            finish(b, kept, &next_kept);
            finished++;
        }
    }
    for (size_t i = 0; i < BUILDERS; i++) {
        verify(builders[i].buf, builders[i].len, builders[i].origin);
        free(builders[i].buf);
    }
    for (size_t i = 0; i < KEPT; i++) {
        if (kept[i].buf != NULL) {
            verify(kept[i].buf, kept[i].len, kept[i].origin);
            free(kept[i].buf);
        }
    }
    wl_print_checksum(run.checksum ^ wl_mix(run.reallocs) ^ wl_mix(run.appended << 1));
    return 0;
}

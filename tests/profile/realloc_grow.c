/* Buffers grown by realloc, for the sampled profiler's realloc path: 20 grow
   to 64 KiB a few bytes at a time (a realloc per append), 20 to 1 MiB by
   doubling, a quarter shrink to half at the end; each is checked after
   every realloc (its first and last bytes) and in full before it is freed.
   Prints the bytes asked of malloc and realloc in all, which the profile's
   "allocated" estimates (tests/profile/expect.cmake, sampled-realloc). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint32_t seed = 12345;

static uint32_t next(void)
{
    seed = seed * 1103515245u + 12345u;
    return seed >> 8;
}

static unsigned char byte_at(size_t i, int round)
{
    return (unsigned char)(i * 131 + (size_t)round * 7);
}

static void check(const unsigned char *b, size_t from, size_t to, int round)
{
    for (size_t i = from; i < to; i++)
        if (b[i] != byte_at(i, round)) {
            fprintf(stderr, "realloc_grow: round %d: byte %zu is %u, expected %u\n", round, i, b[i],
                    byte_at(i, round));
            exit(1);
        }
}

int main(void)
{
    unsigned long long asked = 0;
    for (int round = 0; round < 40; round++) {
        int appends = round % 2;
        size_t final = appends ? (size_t)64 << 10 : (size_t)1 << 20, cap = 0, len = 0;
        unsigned char *b = NULL;
        while (len < final) {
            size_t add = 1 + next() % 64;
            if (len + add > cap) {
                cap = appends ? len + add : cap == 0 ? 16 : cap * 2;
                while (cap < len + add)
                    cap *= 2;
                b = realloc(b, cap);
                if (b == NULL) {
                    fprintf(stderr, "realloc_grow: out of memory\n");
                    return 1;
                }
                asked += cap;
                check(b, 0, len < 64 ? len : 64, round);
                check(b, len < 64 ? 0 : len - 64, len, round);
            }
            for (size_t i = len; i < len + add; i++)
                b[i] = byte_at(i, round);
            len += add;
        }
        if (round % 4 == 0) {
            len /= 2;
            b = realloc(b, len);
            asked += len;
        }
        check(b, 0, len, round);
        free(b);
    }
    printf("realloc_grow: ok, %llu bytes asked\n", asked);
    return 0;
}

/* Blocks aligned to 4 MiB or more: check mode puts its header right before
   the aligned pointer, which then lies megabytes into the block's mapping,
   past the region the segment map marks.  Each must be used, measured and
   freed like any other (check mode used to call the free invalid: "not a
   block any allocator handed out"). */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    size_t aligns[] = {4u << 20, 8u << 20, 16u << 20, 64u << 20};
    for (int round = 0; round < 4; round++)
        for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
            char *p = aligned_alloc(aligns[i], 3 * aligns[i]);
            if (p == NULL || ((uintptr_t)p & (aligns[i] - 1)) != 0) {
                printf("aligned_huge: aligned_alloc(%zu) failed\n", aligns[i]);
                return 1;
            }
            memset(p, 1, 4096);
            if (malloc_usable_size(p) < 3 * aligns[i]) {
                printf("aligned_huge: usable size too small\n");
                return 1;
            }
            free(p);
        }
    printf("aligned_huge: done\n");
    return 0;
}

/*
 * stats.c -- STACKHEAP_STATS=1 (`stackheap run --stats`): one summary of the
 * process's memory when it exits, on stderr (check mode: with the reports).
 */
#define _GNU_SOURCE
#include "heap/heap_internal.h"

#include <sys/resource.h>

void sh_stats_print(void)
{
    size_t now, peak, maps, unmaps;
    sh_os_mapped(&now, &peak, &maps, &unmaps);
    struct rusage ru;
    size_t rss = getrusage(RUSAGE_SELF, &ru) == 0 ? (size_t)ru.ru_maxrss * 1024 : 0;
    char b1[32], b2[32], b3[32], line[512];
    size_t n = sh_format(line, sizeof line,
                         "stackheap: stats: peak RSS %s; memory mapped by stackheap: %s at exit, "
                         "%s at most, in %zu mmap and %zu munmap calls\n",
                         sh_format_bytes(b1, sizeof b1, rss), sh_format_bytes(b2, sizeof b2, now),
                         sh_format_bytes(b3, sizeof b3, peak), maps, unmaps);
    if (sh_check_state == SH_CHECK_ON) {
        sh_check_print_stats(line, n);
        return;
    }
    if (sh_sample_rate != 0 && n < sizeof line)
        n += sh_format(line + n, sizeof line - n,
                       "stackheap: stats: STACKHEAP_SAMPLE=%u: %zu allocations guarded, %zu at "
                       "most at once\n",
                       sh_sample_rate, sh_sampled_count(), sh_sampled_peak());
    sh_os_write(2, line, n);
}

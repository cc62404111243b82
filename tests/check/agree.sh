#!/bin/sh
# agree.sh TOOL WORKDIR -- the leak kinds of check mode against memcheck's on
# a real program (perl, which does not free its interpreter at exit): the
# bytes and blocks definitely lost and indirectly lost must be the same.
# Both scans are conservative: a stale word left in memory can keep a lost
# block reachable in one run and not in the next (memcheck, on a loaded
# machine, once counted perl's 1.6 MB hash array as possibly lost), so up to
# three runs of each are compared, and any two that agree pass.
# Exit 77 (skipped) without valgrind or perl.
set -u
TOOL=$1 WORK=$2
command -v valgrind >/dev/null && command -v perl >/dev/null || exit 77
mkdir -p "$WORK"
set -- perl -e 'my %h; $h{$_} = "x" x ($_ % 50) for 1..100000;
my @k = sort { $a <=> $b } keys %h; my $t = 0; $t += length $h{$_} for @k;
print scalar(@k), " $t\n"'
for try in 1 2 3; do
    env -u LD_PRELOAD valgrind --leak-check=full "$@" > /dev/null 2> "$WORK/memcheck.txt" || exit 1
    "$TOOL" run --check -- "$@" > /dev/null 2> "$WORK/stackheap.txt" || exit 1
    # "definitely lost: 1,607,309 bytes in 30 blocks" -> "definitely 1607309 30"
    sed -n 's/^==[0-9]*== *\(definitely\|indirectly\) lost: \([0-9,]*\) bytes in \([0-9,]*\) blocks$/\1 \2 \3/p' \
        "$WORK/memcheck.txt" | tr -d , > "$WORK/memcheck.$try"
    # "stackheap: leak: 1607309 bytes in 30 blocks definitely lost (..." -> the same
    sed -n 's/^stackheap: leak: \([0-9]*\) bytes in \([0-9]*\) blocks\{0,1\} \(definitely\|indirectly\) lost .*/\3 \1 \2/p' \
        "$WORK/stackheap.txt" > "$WORK/stackheap.$try"
    echo "try $try: memcheck:"; cat "$WORK/memcheck.$try"
    echo "try $try: stackheap:"; cat "$WORK/stackheap.$try"
    for m in $(seq 1 "$try"); do
        for s in $(seq 1 "$try"); do
            if [ -s "$WORK/memcheck.$m" ] && cmp -s "$WORK/memcheck.$m" "$WORK/stackheap.$s"; then
                echo "ok: definitely and indirectly lost as memcheck counts them"
                exit 0
            fi
        done
    done
done
echo "FAIL: in three runs of each, the definitely and indirectly lost totals never matched memcheck's" >&2
exit 1

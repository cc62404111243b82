#!/bin/sh
# real.sh TOOL PROGRAM WORKDIR [MODE] -- run a real program under `stackheap
# run --check` (MODE check, the default) or in release mode with every
# allocation that fits a guarded slot sampled (MODE sample:
# STACKHEAP_SAMPLE=1): its output must be what it prints without stackheap,
# and the report must hold no double free, invalid free, overrun or use
# after free (leaks are the program's business: perl, for one, does not free
# at exit).  Exit 77 (skipped) when the program is not installed.
set -u
TOOL=$1 PROG=$2 WORK=$3 MODE=${4:-check}
mkdir -p "$WORK"
case $PROG in
python) command -v python3 >/dev/null || exit 77
        set -- python3 -c 'import json, re
d = [{"k": i, "v": str(i) * (i % 7), "l": list(range(i % 11))} for i in range(60000)]
s = json.dumps(d)
print(len(s), len(json.loads(s)), len(re.findall(r"\d+", s)))' ;;
perl)   command -v perl >/dev/null || exit 77
        set -- perl -e 'my %h; $h{$_} = "x" x ($_ % 50) for 1..100000;
my @k = sort { $a <=> $b } keys %h; my $t = 0; $t += length $h{$_} for @k;
print scalar(@k), " $t\n"' ;;
sort)   command -v sort >/dev/null || exit 77
        seq 1 100000 | awk '{ print ($1 * 7919) % 100003 }' > "$WORK/in.txt"
        set -- sort -n "$WORK/in.txt" ;;
*) echo "real.sh: unknown program $PROG" >&2; exit 2 ;;
esac
env -u LD_PRELOAD "$@" > "$WORK/want.txt" 2>&1 || { echo "$PROG fails without stackheap" >&2; exit 1; }
case $MODE in
check)  "$TOOL" run --check -- "$@" > "$WORK/got.txt" 2> "$WORK/report.txt" ;;
sample) STACKHEAP_SAMPLE=1 "$TOOL" run --stats -- "$@" > "$WORK/got.txt" 2> "$WORK/report.txt" ;;
*) echo "real.sh: unknown mode $MODE" >&2; exit 2 ;;
esac
rc=$?
cat "$WORK/report.txt" >&2
if [ $rc -ne 0 ]; then echo "FAIL: $PROG exited with $rc in $MODE mode" >&2; exit 1; fi
if ! cmp -s "$WORK/want.txt" "$WORK/got.txt"; then
    echo "FAIL: $PROG printed something else in $MODE mode" >&2
    diff "$WORK/want.txt" "$WORK/got.txt" | head -20 >&2
    exit 1
fi
if grep -E "double free|invalid free|heap overrun|heap underrun|use after free|heap buffer|stackheap: sampled" "$WORK/report.txt" >/dev/null; then
    echo "FAIL: false finding in $PROG's report ($MODE mode)" >&2
    exit 1
fi
# sort (coreutils) closes stderr at exit, before the statistics are printed:
# the guarded count is checked on the others
if [ "$MODE" = sample ] && [ "$PROG" != sort ] && ! grep -E "STACKHEAP_SAMPLE=1: [1-9][0-9]* allocations guarded, 64 at most at once" "$WORK/report.txt" >/dev/null; then
    echo "FAIL: the guarded pool of $PROG did not fill its 64 slots in sample mode" >&2
    exit 1
fi
echo "ok: $PROG in $MODE mode: same output ($(wc -c < "$WORK/got.txt") bytes), no memory errors reported"

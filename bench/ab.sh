#!/bin/sh
# ab.sh ROUNDS LABEL=LIB... -- COMMAND [ARG...]
#
# Interleaved A/B runs of COMMAND under each LD_PRELOAD library (LIB empty:
# the system's malloc): each round runs every library once, in the order
# given, so a change of machine state hits all of them alike.  Prints, per
# label, the median and every run's wall time in ms; with METRIC set (an
# extended regex whose match ends in a number, e.g. 'rtime: [0-9.]+'), the
# median and runs of that number from the command's output as well.
#
#   sh bench/ab.sh 5 new=build/libstackheap.so mi=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2 \
#       -- build/bench/bench_xchg 20000
set -eu
[ $# -ge 4 ] || { echo "usage: ab.sh ROUNDS LABEL=LIB... -- COMMAND [ARG...]" >&2; exit 2; }
rounds=$1
shift
libs=""
while [ "$1" != "--" ]; do
    libs="$libs $1"
    shift
done
shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
r=0
while [ "$r" -lt "$rounds" ]; do
    for kv in $libs; do
        label=${kv%%=*}
        lib=${kv#*=}
        start=$(date +%s%N)
        text=$(env LD_PRELOAD="$lib" "$@" 2>&1) || echo "ab.sh: $label: exit status $?" >&2
        end=$(date +%s%N)
        metric=-
        if [ -n "${METRIC:-}" ]; then
            metric=$(printf '%s\n' "$text" | grep -Eo "$METRIC" | head -1 | grep -Eo '[0-9.]+$' || echo -)
        fi
        echo "$label $(((end - start) / 1000000)) $metric" >>"$out"
    done
    r=$((r + 1))
done
# median of a column of numbers, and the numbers as run
awk -v want_metric="${METRIC:+1}" '
function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ if (!($1 in ms)) order[++k] = $1; ms[$1] = ms[$1] " " $2; mt[$1] = mt[$1] " " $3 }
END {
    for (i = 1; i <= k; i++) {
        l = order[i]
        printf "%-10s wall median %s ms:%s\n", l, median(ms[l]), ms[l]
        if (want_metric) printf "%-10s metric median %s:%s\n", l, median(mt[l]), mt[l]
    }
}' "$out"

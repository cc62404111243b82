#!/bin/sh
# ab.sh ROUNDS LABEL=LIB... -- COMMAND [ARG...]
#
# Interleaved A/B runs of COMMAND under each LD_PRELOAD library (LIB empty:
# the system's malloc): each round runs every library once, in the order
# given, so a change of machine state hits all of them alike.  Prints, per
# label, the median and every run's wall time in ms; with METRIC set (an
# extended regex whose match ends in a number, e.g. 'rtime: [0-9.]+'), the
# median and runs of that number from the command's output as well.  With
# MB_RUN set to the build's bench/mb_run, each run goes through it and the
# median and runs of the command's peak RSS (KiB, its ru_maxrss) are
# printed too.
#
#   sh bench/ab.sh 5 new=build/libstackheap.so mi=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2 \
#       -- build/bench/bench_xchg 20000
#   MB_RUN=build/bench/mb_run sh bench/ab.sh 5 new=build/libstackheap.so glibc= \
#       -- build/bench/wl_churn
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
text_file=$(mktemp)
trap 'rm -f "$out" "$text_file"' EXIT
r=0
while [ "$r" -lt "$rounds" ]; do
    for kv in $libs; do
        label=${kv%%=*}
        lib=${kv#*=}
        rss=-
        start=$(date +%s%N)
        if [ -n "${MB_RUN:-}" ]; then
            # mb_run: STATUS DETAIL WALL_SECONDS MAXRSS_KIB
            status=$("$MB_RUN" -o "$text_file" -e LD_PRELOAD="$lib" -- "$@")
            text=$(cat "$text_file")
            case $status in
            "ok "*) rss=${status##* } ;;
            *) echo "ab.sh: $label: $status" >&2 ;;
            esac
        else
            text=$(env LD_PRELOAD="$lib" "$@" 2>&1) || echo "ab.sh: $label: exit status $?" >&2
        fi
        end=$(date +%s%N)
        metric=-
        if [ -n "${METRIC:-}" ]; then
            metric=$(printf '%s\n' "$text" | grep -Eo "$METRIC" | head -1 | grep -Eo '[0-9.]+$' || echo -)
        fi
        echo "$label $(((end - start) / 1000000)) $metric $rss" >>"$out"
    done
    r=$((r + 1))
done
# median of a column of numbers, and the numbers as run
awk -v want_metric="${METRIC:+1}" -v want_rss="${MB_RUN:+1}" '
function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ if (!($1 in ms)) order[++k] = $1; ms[$1] = ms[$1] " " $2; mt[$1] = mt[$1] " " $3; mr[$1] = mr[$1] " " $4 }
END {
    for (i = 1; i <= k; i++) {
        l = order[i]
        printf "%-10s wall median %s ms:%s\n", l, median(ms[l]), ms[l]
        if (want_metric) printf "%-10s metric median %s:%s\n", l, median(mt[l]), mt[l]
        if (want_rss) printf "%-10s peak RSS median %s KiB:%s\n", l, median(mr[l]), mr[l]
    }
}' "$out"

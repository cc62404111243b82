#!/bin/bash
# profile_exact_cost.sh BUILD [RUNS] [WORKLOAD...] -- what the exact heap
# profiler (STACKHEAP_PROFILE=exact: every allocation and free recorded)
# costs, beside heaptrack, which also records every call: each workload of
# bench/suite.txt named (default: wl_interp wl_lifo wl_realloc wl_server
# python), at its quick size (-q: heaptrack is tens of times slower), runs
# under libstackheap with no profile, with the exact profile, and under
# heaptrack (glibc's malloc, heaptrack's own preload), the three interleaved,
# RUNS times (default 3).  Prints median wall and CPU times (perf's
# task-clock, children included: heaptrack's analysis runs in a child while
# the program runs) and each over release.  heaptrack's own files (its zstd
# trace) are written to a temporary directory; its analysis after the run
# (heaptrack_print, the GUI) is not timed, nor is anything of stackheap's
# after the program's exit beyond its own at-exit report.
# Needs perf (linux-perf) for CPU time and heaptrack (apt-get install
# heaptrack); without heaptrack its column is left out, and says so.  A
# heaptrack run that fails is reported with its first line of error.
set -eu
BUILD=${1:?usage: profile_exact_cost.sh BUILD [RUNS] [WORKLOAD...]}
RUNS=${2:-3}
shift $(($# >= 2 ? 2 : 1))
names=${*:-wl_interp wl_lifo wl_realloc wl_server python}
SRC=$(cd "$(dirname "$0")" && pwd)
LIB=$BUILD/libstackheap.so
# shellcheck source=profile_lib.sh
. "$SRC/profile_lib.sh"
modes="release exact heaptrack"
if ! command -v heaptrack >/dev/null 2>&1; then
    echo "profile_exact_cost: heaptrack is not installed (apt-get install heaptrack): no heaptrack column" >&2
    modes="release exact"
fi

# one run: run NAME MODE; appends "wall_us cpu_ms" to $TMP/NAME.MODE
run() {
    local cmd pre=() t0 t1 cpu
    cmd=$(awk -F '\t' -v n="$1" '$1 == n { print $3 }' "$SRC/suite.txt" |
        sed -e "s|@BIN@|$BUILD/bench|g" -e "s|@SRC@|$SRC|g" -e "s|@TMP@|$TMP|g" -e "s|@QUICK@|-q|g")
    case $2 in
    release) pre=(env LD_PRELOAD="$LIB") ;;
    exact) pre=(env STACKHEAP_PROFILE=exact STACKHEAP_PROFILE_OUT="$TMP/p" LD_PRELOAD="$LIB") ;;
    heaptrack) pre=(heaptrack -o "$TMP/ht") ;;
    esac
    t0=$(date +%s%N)
    # shellcheck disable=SC2086 # the command line is split on purpose
    if ! "${perf[@]}" "${pre[@]}" $cmd >/dev/null 2>"$TMP/err"; then
        if [ "$2" = heaptrack ]; then # reported in the table, and the run goes on
            grep -v '^heaptrack' "$TMP/err" | head -1 >"$TMP/$1.failed"
            rm -f "$TMP"/ht*
            return
        fi
        echo "profile_exact_cost: $1 ($2) failed:" >&2
        cat "$TMP/err" >&2
        exit 1
    fi
    t1=$(date +%s%N)
    rm -f "$TMP"/ht*
    cpu=$(cpu_ms)
    echo "$(((t1 - t0) / 1000)) $cpu" >>"$TMP/$1.$2"
}

printf '%-12s %-10s %10s %10s %9s %9s\n' workload mode "wall ms" "cpu ms" "wall/rel" "cpu/rel"
for n in $names; do
    for ((i = 0; i < RUNS; i++)); do
        for m in $modes; do
            run "$n" "$m"
        done
    done
    rw=$(median "$TMP/$n.release" 1)
    rc=$(median "$TMP/$n.release" 2)
    for m in $modes; do
        if [ ! -s "$TMP/$n.$m" ]; then
            printf '%-12s %-10s failed: %s\n' "$n" "$m" "$(cat "$TMP/$n.failed" 2>/dev/null)"
            continue
        fi
        w=$(median "$TMP/$n.$m" 1)
        c=$(median "$TMP/$n.$m" 2)
        awk -v n="$n" -v m="$m" -v w="$w" -v c="$c" -v rw="$rw" -v rc="$rc" 'BEGIN {
            printf "%-12s %-10s %10.1f %10.1f %9.2f %9.2f\n", n, m, w / 1000, c, w / rw, (rc > 0 ? c / rc : 0) }'
    done
done
echo "(medians of $RUNS interleaved runs, quick sizes)"

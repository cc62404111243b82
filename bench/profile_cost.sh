#!/bin/bash
# profile_cost.sh BUILD [RUNS] [-q] -- what the sampled heap profiler
# (STACKHEAP_PROFILE=sampled) costs on make bench's workloads.  Each
# workload of bench/suite.txt runs under BUILD's libstackheap with no
# profile and with the sampled profile, the two interleaved, RUNS times
# (default 5).  Printed per workload, as medians: wall time and CPU time
# (perf's task-clock: all threads, and the children), each without and with
# the profile, and the ratio; the time the profile's at-exit report took
# (symbols resolved by addr2line children, files written: a fixed cost, the
# sum over the workload's processes, from the profile's own "in N ms at
# exit"); and the wall-time ratio without it, the cost while the program
# runs.  Then the geometric mean of each ratio.  CPU time is the steadier
# figure on a shared machine (a neighbour's load stretches wall time more).
# The profile's files go to a temporary directory.  -q: the workloads'
# quick sizes, where the fixed cost weighs more.  Needs perf (linux-perf)
# for CPU time; without it, wall time only.
set -eu
BUILD=${1:?usage: profile_cost.sh BUILD [RUNS] [-q]}
RUNS=${2:-5}
Q=${3:-}
SRC=$(cd "$(dirname "$0")" && pwd)
LIB=$BUILD/libstackheap.so
# shellcheck source=profile_lib.sh
. "$SRC/profile_lib.sh"

# one run: run NAME MODE; appends "wall_us cpu_ms exit_ms" to $TMP/NAME.MODE
run() {
    local cmd prof t0 t1 cpu exit_ms
    cmd=$(awk -F '\t' -v n="$1" '$1 == n { print $3 }' "$SRC/suite.txt" |
        sed -e "s|@BIN@|$BUILD/bench|g" -e "s|@SRC@|$SRC|g" -e "s|@TMP@|$TMP|g" -e "s|@QUICK@|$Q|g")
    prof=STACKHEAP_PROFILE=0
    [ "$2" = sampled ] && prof=STACKHEAP_PROFILE=sampled
    t0=$(date +%s%N)
    # shellcheck disable=SC2086 # the command line is split on purpose
    if ! "${perf[@]}" env $prof STACKHEAP_PROFILE_OUT="$TMP/p" LD_PRELOAD="$LIB" $cmd \
        >/dev/null 2>"$TMP/err"; then
        echo "profile_cost: $1 ($2) failed:" >&2
        cat "$TMP/err" >&2
        exit 1
    fi
    t1=$(date +%s%N)
    cpu=$(cpu_ms)
    exit_ms=$(sed -n 's/.*profile: wrote .* (in \([0-9]*\) ms at exit)$/\1/p' "$TMP/err" |
        awk '{ s += $1 } END { print s + 0 }')
    echo "$(((t1 - t0) / 1000)) $cpu $exit_ms" >>"$TMP/$1.$2"
}

names=$(grep -v '^#' "$SRC/suite.txt" | awk -F '\t' 'NF >= 3 { print $1 }')
printf '%-12s %9s %9s %6s %9s %9s %6s %8s %8s\n' workload "wall ms" "sampled" ratio \
    "cpu ms" "sampled" ratio "exit ms" "running"
for n in $names; do
    for ((i = 0; i < RUNS; i++)); do
        run "$n" release
        run "$n" sampled
    done
    row="$n"
    for c in 1 2; do
        row="$row $(median "$TMP/$n.release" $c) $(median "$TMP/$n.sampled" $c)"
    done
    row="$row $(median "$TMP/$n.sampled" 3)"
    echo "$row" >>"$TMP/all"
    echo "$row" | awk '{ printf "%-12s %9.1f %9.1f %6.3f %9.1f %9.1f %6.3f %8d %8.3f\n", $1,
        $2 / 1000, $3 / 1000, $3 / $2, $4, $5, ($4 > 0 ? $5 / $4 : 0), $6, ($3 / 1000 - $6) / ($2 / 1000) }'
done
awk '{ w += log($3 / $2); if ($4 > 0) c += log($5 / $4); r += log(($3 / 1000 - $6) / ($2 / 1000)); n++ }
    END { printf "geomean, sampled over release: wall %.3f, cpu %.3f, running %.3f (%d workloads, medians of '"$RUNS"' interleaved runs)\n",
          exp(w / n), exp(c / n), exp(r / n), n }' "$TMP/all"

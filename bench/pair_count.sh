#!/bin/sh
# pair_count.sh BUILD_DIR -- instructions per malloc+free pair of 32 bytes,
# for each allocator: the fast path side by side.
#
# Runs bench_pair (N pairs in one noinline loop) under
# `valgrind --tool=callgrind --toggle-collect=pair_loop` with N and 2N pairs
# and divides the difference by N (start-up and first-use costs cancel), then
# subtracts the same for the loop without the calls (bench_pair --empty, the
# same code under every allocator, so counted once).
# Each allocator is brought in with LD_PRELOAD, as in the side-by-side suite;
# glibc is the system's.  stackheap runs with STACKHEAP_TOOLS=0: under Valgrind
# it would otherwise mark every block for the tool (its out-of-line path).
# Callgrind counts instructions, not time, so the figure is the same on a
# noisy machine.  Environment: QUICK=1 (a smaller N), SH_BENCH_ONLY=a,b.
set -eu

BUILD=${1:-build}
PROG=$BUILD/bench/bench_pair
LIB=$BUILD/libstackheap.so
PEERS=/usr/lib/x86_64-linux-gnu
if [ ! -x "$PROG" ]; then
    echo "pair_count.sh: $PROG not found: build the project first (cmake --build $BUILD)" >&2
    exit 1
fi
if ! command -v valgrind >/dev/null 2>&1; then
    echo "fast path: skipped, valgrind is not installed (apt-get install valgrind)"
    exit 0
fi
N=200000
[ "${QUICK:-}" = 1 ] && N=50000
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

# count LIB N [--empty] -> instructions inside the toggled loop ("" for glibc's LIB)
count() {
    fn=pair_loop
    [ "${3:-}" = --empty ] && fn=empty_loop
    out=$TMP/cg.out
    env -u LD_PRELOAD ${1:+LD_PRELOAD=$1} STACKHEAP_TOOLS=0 \
        valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="$fn" \
        "$PROG" "$2" ${3:+"$3"} >"$TMP/log" 2>&1 || { cat "$TMP/log" >&2; return 1; }
    awk '/^totals:/ { print $2; found = 1 } END { if (!found) exit 1 }' "$out"
}

# per_pair LIB -> instructions per pair, two decimals when not whole
per_pair() {
    a=$(count "$1" "$N") && b=$(count "$1" $((2 * N))) || return 1
    awk -v a="$a" -v b="$b" -v e="$empty" -v n="$N" \
        'BEGIN { v = (b - a) / n - e; if (v == int(v)) printf "%d", v; else printf "%.2f", v }'
}

# the loop without the calls is the same code whoever allocates: count it once
if ! { ea=$(count "" "$N" --empty) && eb=$(count "" $((2 * N)) --empty); }; then
    echo "pair_count.sh: a callgrind run of the empty loop failed" >&2
    exit 1
fi
empty=$(awk -v a="$ea" -v b="$eb" -v n="$N" 'BEGIN { print (b - a) / n }')
echo "Fast path: instructions per malloc(32)+free pair (callgrind, N = $N and 2N;"
echo "minus the loop's own $empty instructions a pair; the PLT jumps to malloc and free count)"
only=${SH_BENCH_ONLY:-}
status=0
for entry in "stackheap:$LIB" "sh-unhardened:$BUILD/bench/libstackheap-unhardened.so" \
    glibc: "mimalloc:$PEERS/libmimalloc.so.2" \
    "jemalloc:$PEERS/libjemalloc.so.2" "tcmalloc:$PEERS/libtcmalloc_minimal.so.4"; do
    name=${entry%%:*}
    lib=${entry#*:}
    case ",$only," in ",,") ;; *",$name,"*) ;; *) continue ;; esac
    if [ -n "$lib" ] && [ ! -r "$lib" ]; then
        printf '  %-10s skipped: %s is not installed\n' "$name" "$lib"
        continue
    fi
    if v=$(per_pair "$lib"); then
        printf '  %-10s %8s\n' "$name" "$v"
    else
        printf '  %-10s FAILED (callgrind run failed; its output is above)\n' "$name"
        status=1
    fi
done
exit $status

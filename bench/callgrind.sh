#!/bin/sh
# callgrind.sh BUILD_DIR -- instructions executed per sh_stack_alloc.
#
# Runs bench/count_alloc (N allocations in one noinline loop) with N and 2N
# and divides the difference by N, which cancels everything done once
# (start-up, stack creation, the frame's push and pop).  The same is done
# for the same loop without the allocation (count_alloc --empty), and that
# per-iteration count is subtracted, leaving the allocation's own.
#
# Three counters, each used when it works here:
#   callgrind    valgrind --tool=callgrind --toggle-collect=<loop>, twice:
#                with STACKHEAP_TOOLS=0 (the library does not mark memory for
#                Valgrind, so this is the inline fast path) and without it
#                (every block is marked: the out-of-line path).
#   perf         perf stat -e instructions:u on whole runs (not under Valgrind:
#                the fast path), when the machine exposes a hardware counter.
#   single-step  count_alloc --step: a ptrace'd child single-stepped through the
#                loop.  Needs neither; slow, so N is small (the count is exact).
set -eu

BUILD=${1:-build}
PROG=$BUILD/bench/count_alloc
if [ ! -x "$PROG" ]; then
    echo "callgrind.sh: $PROG not found: build the project first (cmake --build $BUILD)" >&2
    exit 1
fi

N=100000        # callgrind
N_PERF=1000000  # perf stat (whole program: a large N drowns start-up jitter)
N_STEP=1000     # single-step (about 30 us a step on a VM)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

# per_iteration COUNT_N COUNT_2N N -> (COUNT_2N - COUNT_N) / N: whole, or with two decimals
per_iteration() {
    awk -v a="$1" -v b="$2" -v n="$3" \
        'BEGIN { v = (b - a) / n; if (v == int(v)) printf "%d", v; else printf "%.2f", v }'
}

# report WHAT LOOP_PER_ITER EMPTY_PER_ITER NOTE
report() {
    own=$(awk -v a="$2" -v b="$3" \
        'BEGIN { v = a - b; if (v == int(v)) printf "%d", v; else printf "%.2f", v }')
    printf '  %s\n' "$1"
    printf '    loop iteration %s, the same loop without the allocation %s\n' "$2" "$3"
    printf '    sh_stack_alloc: %s instructions  (%s)\n\n' "$own" "$4"
}

# callgrind_count N [--empty] -> instructions inside the loop function
callgrind_count() {
    fn=alloc_loop
    [ "${2:-}" = --empty ] && fn=empty_loop
    out=$TMP/callgrind.$fn.$1
    valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="$fn" \
        "$PROG" ${2:-} "$1" >"$TMP/log" 2>&1 || { cat "$TMP/log" >&2; return 1; }
    awk '/^totals:/ { print $2; found = 1 } END { if (!found) exit 1 }' "$out"
}

# perf_count N [--empty] -> user-mode instructions of the whole run, or nothing
perf_count() {
    perf stat -x, -e instructions:u -o "$TMP/perf" -- "$PROG" ${2:-} "$1" >/dev/null 2>&1 ||
        return 0
    awk -F, '$3 ~ /^instructions/ && $1 ~ /^[0-9]+$/ { print $1 }' "$TMP/perf"
}

echo "instructions per sh_stack_alloc: (count at 2N - count at N) / N, minus the empty loop's"
echo

if command -v valgrind >/dev/null 2>&1; then
    for mode in fast marked; do
        if [ $mode = fast ]; then export STACKHEAP_TOOLS=0; else unset STACKHEAP_TOOLS; fi
        a=$(callgrind_count "$N") && b=$(callgrind_count $((2 * N))) &&
            ea=$(callgrind_count "$N" --empty) && eb=$(callgrind_count $((2 * N)) --empty) || {
            echo "callgrind.sh: a callgrind run failed" >&2
            exit 1
        }
        if [ $mode = fast ]; then
            what="inline fast path (STACKHEAP_TOOLS=0: no marking for Valgrind)"
        else
            what="out-of-line path: under Valgrind every block is marked for the tool"
        fi
        report "callgrind ($(valgrind --version), N = $N):" \
            "$(per_iteration "$a" "$b" "$N")" "$(per_iteration "$ea" "$eb" "$N")" "$what"
    done
    unset STACKHEAP_TOOLS
else
    echo "  callgrind: skipped, valgrind is not installed (apt-get install valgrind)"
    echo
fi

pa=""
if command -v perf >/dev/null 2>&1; then
    pa=$(perf_count "$N_PERF")
fi
if [ -n "$pa" ]; then
    pb=$(perf_count $((2 * N_PERF)))
    pea=$(perf_count "$N_PERF" --empty)
    peb=$(perf_count $((2 * N_PERF)) --empty)
    report "perf stat -e instructions:u (N = $N_PERF):" \
        "$(per_iteration "$pa" "$pb" "$N_PERF")" "$(per_iteration "$pea" "$peb" "$N_PERF")" \
        "inline fast path"
elif command -v perf >/dev/null 2>&1; then
    echo "  perf stat: skipped, no instructions counter on this machine (no hardware PMU,"
    echo "  as in most VMs, or perf_event_paranoid forbids it)"
    echo
else
    echo "  perf stat: skipped, perf is not installed"
    echo
fi

if sa=$("$PROG" --step "$N_STEP" 2>"$TMP/log") && sb=$("$PROG" --step $((2 * N_STEP))) &&
    sea=$("$PROG" --step --empty "$N_STEP") && seb=$("$PROG" --step --empty $((2 * N_STEP))); then
    report "ptrace single-step (N = $N_STEP):" \
        "$(per_iteration "$sa" "$sb" "$N_STEP")" "$(per_iteration "$sea" "$seb" "$N_STEP")" \
        "inline fast path"
else
    echo "  single-step: skipped, ptrace is not permitted here: $(cat "$TMP/log")"
fi

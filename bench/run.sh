#!/bin/sh
# run.sh BUILD_DIR -- every benchmark behind `make bench`, and the figures of
# docs/BENCHMARKS.md:
#   1. the side-by-side suite (bench/suite.txt) under stackheap, glibc,
#      mimalloc, jemalloc and tcmalloc (sh_bench; bench/peers.sh installs the
#      peers and gnuplot first when it can): wall time and peak RSS, written to
#      bench/results/<date>.csv and .svg (and latest.svg, which the README shows);
#   2. the stack against the heap and glibc (bench_stack: time per allocation);
#   3. instructions per sh_stack_alloc (bench/callgrind.sh);
#   4. instructions per malloc+free pair under each allocator (bench/pair_count.sh);
#   5. optional: mimalloc-bench's programs under the same allocators
#      (bench/mimalloc_bench.sh), only when MIMALLOC_BENCH names a copy of
#      mimalloc-bench; otherwise one line says the set was skipped.
#
# Environment:
#   QUICK=1          quick mode, about a minute: smaller workloads, 3 runs each;
#                    results go to <date>-quick.csv/.svg and latest.svg is kept
#   SH_BENCH_ONLY=a,b  only these allocators (CI: QUICK=1 SH_BENCH_ONLY=stackheap,
#                    which proves the harness works, with no timing assertion)
#   MIMALLOC_BENCH=DIR a checkout (or git dir) of mimalloc-bench: adds step 5
#                    (see bench/README.md; ROUNDS=N sets its rounds, default 5)
# A failed workload is reported as FAILED and the run goes on; the exit status
# is then 1.
set -eu

BUILD=${1:-build}
HERE=$(dirname "$0")
for prog in sh_bench bench_stack count_alloc bench_pair; do
    if [ ! -x "$BUILD/bench/$prog" ]; then
        echo "run.sh: $BUILD/bench/$prog not found: configure with -DSH_BUILD_BENCH=ON and build" >&2
        exit 1
    fi
done
quick=""
mode=full
stack_runs=""  # bench_stack's argument: its number of runs (default 11)
if [ "${QUICK:-0}" = 1 ]; then
    quick=--quick
    mode=quick
    stack_runs=5
fi
only=${SH_BENCH_ONLY:-}

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
echo "stackheap benchmarks ($mode mode), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs (${cpu:-unknown CPU}),"
echo "build $BUILD ($(awk -F= '/^CMAKE_BUILD_TYPE:/ { print $2 }' "$BUILD/CMakeCache.txt" 2>/dev/null || echo '?'))"
echo "command: $( [ $mode = quick ] && printf 'QUICK=1 ')${only:+SH_BENCH_ONLY=$only }sh bench/run.sh $BUILD"
echo

# The peers (and gnuplot) are needed unless only stackheap and glibc run.
case ",$only," in
",,"|*,mimalloc,*|*,jemalloc,*|*,tcmalloc,*) sh "$HERE/peers.sh" ;;
esac
versions=""
for pkg in libc6 libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4; do
    v=$(dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null || true)
    [ -n "$v" ] && versions="$versions $pkg $v,"
done
[ -n "$versions" ] && echo "packages:${versions%,}"
echo

status=0
RESULTS=$HERE/results
mkdir -p "$RESULTS"
stem=$RESULTS/$(date '+%Y-%m-%d')
[ $mode = quick ] && stem=$stem-quick
# a run of some allocators only must not replace the day's full results
[ -n "$only" ] && stem=$stem-$(printf '%s' "$only" | tr ',' '+')
rm -f "$stem.csv" "$stem.svg" # an earlier run's, which this one may not replace
# the cross-thread workloads' times follow the host's placement of the vCPUs
# (docs/BENCHMARKS.md, "Cross-thread figures and the host"): before and after
coherence() { [ -x "$BUILD/bench/bench_coherence" ] && "$BUILD/bench/bench_coherence" || true; }
echo "before the suite: $(coherence)"
"$BUILD/bench/sh_bench" ${quick:+"$quick"} --bin "$BUILD/bench" --src "$HERE" --lib "$BUILD/libstackheap.so" \
    --lib-unhardened "$BUILD/bench/libstackheap-unhardened.so" \
    --csv "$stem.csv" --svg "$stem.svg" || status=1
if [ $mode = full ] && [ -z "$only" ] && [ -f "$stem.svg" ]; then
    cp "$stem.svg" "$RESULTS/latest.svg"
fi
echo "after the suite: $(coherence)"
echo "results: $stem.csv$( [ -f "$stem.svg" ] && printf ', %s' "$stem.svg")"
echo

"$BUILD/bench/bench_stack" ${stack_runs:+"$stack_runs"} || status=1
echo
sh "$HERE/callgrind.sh" "$BUILD" || status=1  # ends with a blank line
sh "$HERE/pair_count.sh" "$BUILD" || status=1
echo
sh "$HERE/mimalloc_bench.sh" "$BUILD" || status=1
exit $status

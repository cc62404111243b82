#!/bin/sh
# run.sh BUILD_DIR -- the benchmarks behind `make bench` and docs/BENCHMARKS.md:
# bench_stack (time per allocation: stack, malloc/free, alloca, bump pointer),
# then instructions per sh_stack_alloc (bench/callgrind.sh).
set -eu

BUILD=${1:-build}
HERE=$(dirname "$0")
for prog in bench_stack count_alloc; do
    if [ ! -x "$BUILD/bench/$prog" ]; then
        echo "run.sh: $BUILD/bench/$prog not found: configure with -DSH_BUILD_BENCH=ON and build" >&2
        exit 1
    fi
done

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
echo "stackheap benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs (${cpu:-unknown CPU}),"
echo "build $BUILD ($(awk -F= '/^CMAKE_BUILD_TYPE:/ { print $2 }' "$BUILD/CMakeCache.txt" 2>/dev/null || echo '?'))"
echo

"$BUILD/bench/bench_stack"
echo
sh "$HERE/callgrind.sh" "$BUILD"

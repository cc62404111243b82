#!/bin/sh
# mimalloc_bench.sh BUILD_DIR -- the optional mimalloc-bench set: the programs
# of mimalloc-bench (https://github.com/daanx/mimalloc-bench) that build with
# just a C/C++ compiler, run with the arguments its bench.sh gives them on this
# machine (its procs = nproc), under the allocators bench/run.sh compares:
# stackheap ($BUILD/libstackheap.so), glibc, mimalloc, jemalloc and tcmalloc.
#
# The sources are not part of this project: MIMALLOC_BENCH names a checkout
# (a directory with bench/ in it) or a git dir (bare or not) from which
# `git archive HEAD bench` can take them.  Unset or unusable, the script prints
# one "skipped" line and exits 0 (machines without internet have no copy).
#
# The programs are built once into BUILD_DIR/mimalloc-bench/bin with cc/c++
# -O3 -DNDEBUG (rebuilt when the sources, the commit or the flags change).
# Each round runs every program under every allocator, the allocators' order
# rotated from round to round; every run is measured by mb_run (wait4: wall
# time and peak RSS).  The report gives the medians over the rounds, stackheap
# over the best of the other four, and geometric means; the CSV goes to
# bench/results/<date>-mimalloc-bench[-quick][-a+b][-subset].csv.
#
# Environment:
#   MIMALLOC_BENCH   the checkout or git dir (required; else the set is skipped)
#   ROUNDS=N         rounds (default 5; 1 with QUICK=1)
#   QUICK=1          1 round, smaller arguments where a program takes a size
#                    (PROGRAMS below)
#   SH_BENCH_ONLY=a,b  only these allocators, as for bench/run.sh
#   MB_PROGRAMS=a,b  only these programs (names as in the table)
#   MB_TIMEOUT=S     seconds before a run is killed and reported as FAIL
#                    (default 600; 300 with QUICK=1)
#   CC, CXX          the compilers (default cc and c++)
# Exit status: 0, or 1 when a run failed (reported as FAIL in the table) or
# the build dir is unusable.
set -eu

TESTED=ce5784f
URL=https://github.com/daanx/mimalloc-bench
LIBDIR=/usr/lib/x86_64-linux-gnu

say() { printf 'mimalloc-bench set: %s\n' "$*"; }
skip() {
    say "skipped: $*"
    exit 0
}
die() {
    printf 'mimalloc_bench.sh: error: %s\n' "$*" >&2
    exit 1
}

BUILD_ARG=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)

# ---- where the sources are --------------------------------------------------
mb=${MIMALLOC_BENCH:-}
[ -n "$mb" ] || skip "set MIMALLOC_BENCH to a checkout of $URL (tested at $TESTED)"
[ -d "$mb" ] || skip "MIMALLOC_BENCH=$mb is not a directory; set it to a checkout of $URL (tested at $TESTED)"
mb=$(cd "$mb" && pwd)
# git refuses a repository owned by another user unless told it is safe
git_mb() { git -c safe.directory='*' -C "$mb" "$@"; }
commit=""
if [ -f "$mb/bench/larson/larson.cpp" ]; then
    kind=checkout
    # its commit, when it is the top of a git work tree (not a folder in another repo)
    if command -v git >/dev/null 2>&1 && [ -z "$(git_mb rev-parse --show-cdup 2>/dev/null || echo no)" ]; then
        commit=$(git_mb rev-parse HEAD 2>/dev/null || true)
    fi
elif command -v git >/dev/null 2>&1 && commit=$(git_mb rev-parse --verify -q 'HEAD^{commit}' 2>/dev/null) &&
    git_mb cat-file -e HEAD:bench/larson/larson.cpp 2>/dev/null; then
    kind=git
else
    skip "MIMALLOC_BENCH=$mb is neither a checkout with bench/ in it nor a git dir with bench/ at HEAD; set it to a checkout of $URL (tested at $TESTED)"
fi

# ---- the build dir and the settings -----------------------------------------
[ -d "$BUILD_ARG" ] || die "$BUILD_ARG: no such build dir (usage: sh bench/mimalloc_bench.sh BUILD_DIR)"
BUILD=$(cd "$BUILD_ARG" && pwd)
OUT=$BUILD/mimalloc-bench
mkdir -p "$OUT/bin" "$OUT/logs"

quick=0
[ "${QUICK:-0}" = 1 ] && quick=1
case ${ROUNDS:-} in
"") rounds=5; [ $quick = 1 ] && rounds=1 ;;
*[!0-9]* | 0*) die "ROUNDS=$ROUNDS: expected a whole number from 1 to 99" ;;
*) rounds=$ROUNDS; [ "$rounds" -le 99 ] || die "ROUNDS=$ROUNDS: at most 99" ;;
esac
timeout=${MB_TIMEOUT:-}
[ -n "$timeout" ] || { timeout=600; [ $quick = 1 ] && timeout=300; }
case $timeout in *[!0-9]* | 0*) die "MB_TIMEOUT=$timeout: expected seconds (a positive whole number)" ;; esac
only=${SH_BENCH_ONLY:-}
programs_only=${MB_PROGRAMS:-}
procs=$(nproc 2>/dev/null || echo 1)
cc_env=${CC:-}
cxx_env=${CXX:-}
CC=${CC:-cc}
CXX=${CXX:-c++}

in_list() { # LIST (comma-separated) NAME
    case ",$1," in *,"$2",*) return 0 ;; esac
    return 1
}

# ---- header -------------------------------------------------------------------
# a word as the shell would need it typed
shq() {
    case $1 in
    "" | *[!A-Za-z0-9_./:,=+@%-]*) printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
    *) printf '%s' "$1" ;;
    esac
}
cmdline="MIMALLOC_BENCH=$(shq "$MIMALLOC_BENCH")"
[ $quick = 1 ] && cmdline="$cmdline QUICK=1"
[ -n "${ROUNDS:-}" ] && cmdline="$cmdline ROUNDS=$ROUNDS"
[ -n "$only" ] && cmdline="$cmdline SH_BENCH_ONLY=$(shq "$only")"
[ -n "$programs_only" ] && cmdline="$cmdline MB_PROGRAMS=$(shq "$programs_only")"
[ -n "${MB_TIMEOUT:-}" ] && cmdline="$cmdline MB_TIMEOUT=$MB_TIMEOUT"
[ -n "$cc_env" ] && cmdline="$cmdline CC=$(shq "$cc_env")"
[ -n "$cxx_env" ] && cmdline="$cmdline CXX=$(shq "$cxx_env")"
cmdline="$cmdline sh bench/mimalloc_bench.sh $(shq "$BUILD_ARG")"
mode=full
[ $quick = 1 ] && mode=quick
echo "mimalloc-bench set ($mode mode), $(date -u '+%Y-%m-%d %H:%M UTC'), $procs CPUs"
echo "command: $cmdline"
short=$(printf '%.7s' "${commit:-unknown}")
echo "sources: $mb ($kind, commit $short); arguments of its bench.sh with procs=$procs"
case $commit in
"$TESTED"*) ;;
*) say "note: tested at $TESTED; this copy is at ${commit:-an unknown commit}, whose programs may differ" ;;
esac
# the library measured: its build type, and the commit of its sources (+ when
# they had uncommitted changes at the time of this run)
btype=$(awk -F= '/^CMAKE_BUILD_TYPE:/ { print $2 }' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
bsrc=$(awk -F= '/^CMAKE_HOME_DIRECTORY:/ { print $2 }' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
bcommit=""
if [ -n "$bsrc" ] && bcommit=$(git -C "$bsrc" rev-parse --short HEAD 2>/dev/null); then
    [ -z "$(git -C "$bsrc" status --porcelain --untracked-files=no 2>/dev/null)" ] || bcommit="$bcommit+"
fi
echo "build: $BUILD_ARG (${btype:-?})${bcommit:+, stackheap at $bcommit}"
echo "compilers: $CC ($("$CC" --version 2>/dev/null | head -n 1)), $CXX ($("$CXX" --version 2>/dev/null | head -n 1))"

# ---- mb_run: the build's, or compiled here for a build dir that predates it ---
stale() { [ ! -x "$1" ] || [ -n "$(find "$HERE/mb_run.c" -newer "$1" 2>/dev/null)" ]; }
MB_RUN=$BUILD/bench/mb_run
if stale "$MB_RUN"; then
    MB_RUN=$OUT/mb_run
    if stale "$MB_RUN"; then
        "$CC" -std=c11 -O2 -Wall -Wextra -o "$MB_RUN.tmp" "$HERE/mb_run.c" -ldl >"$OUT/logs/mb_run-build.txt" 2>&1 ||
            die "cannot compile bench/mb_run.c with $CC (see $OUT/logs/mb_run-build.txt)"
        mv "$MB_RUN.tmp" "$MB_RUN"
    fi
fi

# ---- bench_coherence: the cross-core round trip, printed at each round ----------
# (the cross-thread programs' times follow it: docs/BENCHMARKS.md, "Cross-thread
# figures and the host"); the build's, or compiled here as mb_run is
COHERENCE=$BUILD/bench/bench_coherence
if [ ! -x "$COHERENCE" ] || [ -n "$(find "$HERE/coherence.c" -newer "$COHERENCE" 2>/dev/null)" ]; then
    COHERENCE=$OUT/bench_coherence
    if [ ! -x "$COHERENCE" ] || [ -n "$(find "$HERE/coherence.c" -newer "$COHERENCE" 2>/dev/null)" ]; then
        "$CC" -std=c11 -O2 -pthread -o "$COHERENCE" "$HERE/coherence.c" >"$OUT/logs/coherence-build.txt" 2>&1 ||
            COHERENCE=""
    fi
fi
coherence() { [ -n "$COHERENCE" ] && "$COHERENCE" || echo "cross-core round trip: unknown (bench/coherence.c did not build)"; }

# ---- the allocators -------------------------------------------------------------
# name:library (empty: the system's, glibc):extra NAME=VALUE for its runs:package
KNOWN="stackheap:$BUILD/libstackheap.so::
glibc:::
mimalloc:$LIBDIR/libmimalloc.so.2::libmimalloc2.0
jemalloc:$LIBDIR/libjemalloc.so.2::libjemalloc2
tcmalloc:$LIBDIR/libtcmalloc_minimal.so.4::libtcmalloc-minimal4
sh-check:$BUILD/libstackheap.so:STACKHEAP_CHECK=1:
sh-unhardened:$BUILD/bench/libstackheap-unhardened.so::"
OPT_IN="sh-check sh-unhardened" # only when SH_BENCH_ONLY names them, as in run.sh
if [ -n "$only" ]; then
    old_ifs=$IFS
    IFS=,
    for a in $only; do
        case $a in
        memcheck) say "note: memcheck (Valgrind) is not run in this set: it would take hours" ;;
        *) printf '%s\n' "$KNOWN" | grep -q "^$a:" ||
            die "SH_BENCH_ONLY: unknown allocator '$a' (known: stackheap glibc mimalloc jemalloc tcmalloc sh-check sh-unhardened)" ;;
        esac
    done
    IFS=$old_ifs
fi
allocs=""
alloc_table=""
tab=$(printf '\t')
while IFS=: read -r name lib env pkg; do
    if [ -n "$only" ]; then
        in_list "$only" "$name" || continue
    else
        case " $OPT_IN " in *" $name "*) continue ;; esac
    fi
    if [ -n "$lib" ]; then
        case $name in
        stackheap | sh-check | sh-unhardened)
            [ -f "$lib" ] || die "$lib not found: build the project first (cmake --build $BUILD_ARG)" ;;
        *)
            if [ ! -f "$lib" ]; then
                say "note: $name is missing ($pkg, $lib): its column is skipped (bench/peers.sh installs it)"
                continue
            fi ;;
        esac
        if ! why=$("$MB_RUN" --probe "$lib" 2>/dev/null); then
            case $name in
            stackheap | sh-check | sh-unhardened) die "$name: $why" ;;
            *) say "note: $name: $why: its column is skipped"; continue ;;
            esac
        fi
    fi
    allocs="$allocs $name"
    alloc_table="$alloc_table$name$tab$lib$tab$env
"
done <<EOF
$KNOWN
EOF
allocs=${allocs# }
[ -n "$allocs" ] || die "no allocator left to run (SH_BENCH_ONLY=$only)"
versions=""
for pkg in libc6 libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4; do
    v=$(dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null || true)
    [ -n "$v" ] && versions="$versions $pkg $v,"
done
echo "allocators: $allocs${versions:+ (packages:${versions%,})}"

# ---- the sources ----------------------------------------------------------------
if [ $kind = git ]; then
    # a copy of bench/ at that commit, in the build dir, taken again when it changes
    if [ "$(cat "$OUT/src/.commit" 2>/dev/null || true)" != "$commit" ]; then
        rm -rf "$OUT/src.tmp" "$OUT/src"
        mkdir -p "$OUT/src.tmp"
        git_mb archive HEAD bench | tar -x -C "$OUT/src.tmp" || true
        [ -f "$OUT/src.tmp/bench/larson/larson.cpp" ] ||
            die "git archive HEAD bench from $mb did not give the sources"
        echo "$commit" >"$OUT/src.tmp/.commit"
        mv "$OUT/src.tmp" "$OUT/src"
    fi
    SRC=$OUT/src/bench
else
    SRC=$mb/bench
fi

# ---- building ---------------------------------------------------------------------
# the flags of mimalloc-bench's bench/CMakeLists.txt, at -O3 -DNDEBUG
C_FLAGS="-O3 -DNDEBUG -w -Wno-implicit-function-declaration -Wno-implicit-int -Wno-int-conversion -Wno-return-mismatch -Wno-incompatible-pointer-types"
CXX_FLAGS="-O3 -DNDEBUG -w -std=gnu++17"
built=" "
unbuilt=" "
skipped_lines=""
note_skip() { # PROGRAM REASON
    skipped_lines="$skipped_lines  $1: $2
"
}

# build NAME c|c++ "FLAGS" "LIBS" DIR FILE... -- into $OUT/bin/NAME, unless
# it is up to date: same commit and command, and no source newer than it.
build() {
    b_name=$1 b_lang=$2 b_flags=$3 b_libs=$4 b_sub=$5 b_dir=$SRC/$5
    shift 5
    case $built in *" $b_name "*) return 0 ;; esac
    case $unbuilt in *" $b_name "*) return 1 ;; esac
    b_bin=$OUT/bin/$b_name
    if [ "$b_lang" = c ]; then
        b_cmd="$CC $C_FLAGS $b_flags"
    else
        b_cmd="$CXX $CXX_FLAGS $b_flags"
    fi
    b_stamp="$commit $b_dir $b_cmd $* $b_libs"
    for f in "$@"; do
        if [ ! -f "$b_dir/$f" ]; then
            unbuilt="$unbuilt$b_name "
            printf '%s\n' "source missing: bench/$b_sub/$f" >"$OUT/bin/$b_name.failed"
            return 1
        fi
    done
    if [ -x "$b_bin" ] && [ "$(cat "$b_bin.stamp" 2>/dev/null || true)" = "$b_stamp" ] &&
        [ -z "$(find "$b_dir" -type f -newer "$b_bin" | head -n 1)" ]; then
        built="$built$b_name "
        return 0
    fi
    printf 'building %s\n' "$b_name"
    rm -f "$b_bin" "$b_bin.stamp" "$OUT/bin/$b_name.failed"
    # in the sources' directory (for their includes), writing only to $OUT
    # shellcheck disable=SC2086 # the command, flags and files are lists of words
    if (cd "$b_dir" && $b_cmd -o "$b_bin.tmp" "$@" $b_libs && mv "$b_bin.tmp" "$b_bin") \
        >"$OUT/logs/build-$b_name.txt" 2>&1; then
        printf '%s\n' "$b_stamp" >"$b_bin.stamp"
        built="$built$b_name "
        return 0
    fi
    rm -f "$b_bin.tmp"
    b_why=$(grep -m 1 -i 'error' "$OUT/logs/build-$b_name.txt" || tail -n 1 "$OUT/logs/build-$b_name.txt")
    printf '%s\n' "does not build here: $b_why" >"$OUT/bin/$b_name.failed"
    unbuilt="$unbuilt$b_name "
    return 1
}

# make sure BINARY exists; else print why not and fail
need() {
    case $1 in
    cfrac)
        build cfrac c "-std=gnu89 -DNOMEMOPT=1" "-lm" cfrac \
            cfrac.c pops.c pconst.c pio.c pabs.c pneg.c pcmp.c podd.c phalf.c padd.c psub.c \
            pmul.c pdivmod.c psqrt.c ppowmod.c atop.c ptoa.c itop.c utop.c ptou.c errorp.c \
            pfloat.c pidiv.c pimod.c picmp.c primes.c pcfrac.c pgcd.c ;;
    espresso)
        build espresso c "-std=gnu89" "-lm" espresso \
            cofactor.c cols.c compl.c contain.c cubestr.c cvrin.c cvrm.c cvrmisc.c cvrout.c \
            dominate.c equiv.c espresso.c essen.c exact.c expand.c gasp.c getopt.c gimpel.c \
            globals.c hack.c indep.c irred.c main.c map.c matrix.c mincov.c opo.c pair.c \
            part.c primes.c reduce.c rows.c set.c setc.c sharp.c sminterf.c solution.c \
            sparse.c unate.c utility.c verify.c ;;
    barnes) build barnes c "-std=gnu89" "-lm" barnes code.c code_io.c load.c grav.c getparam.c util.c ;;
    larson) build larson c++ "-DCPP=1" "-lpthread" larson larson.cpp ;;
    larson-sized)
        build larson-sized c++ "-fsized-deallocation -DCPP=1 -DSIZED=1" "-lpthread" larson larson.cpp ;;
    mstress) build mstress c "" "-lpthread" mstress mstress.c ;;
    rptest) build rptest c "-fpermissive -I." "-lpthread -lm" rptest rptest.c thread.c timer.c ;;
    xmalloc-test) build xmalloc-test c "" "-lpthread" xmalloc-test xmalloc-test.c ;;
    cache-scratch) build cache-scratch c++ "" "-lpthread" cache-scratch cache-scratch.cpp ;;
    cache-thrash) build cache-thrash c++ "" "-lpthread" cache-thrash cache-thrash.cpp ;;
    alloc-test)
        build alloc-test c++ "-DBENCH=4" "-lpthread" alloc-test test_common.cpp allocator_tester.cpp ;;
    malloc-large) build malloc-large c++ "" "-lpthread" malloc-large malloc-large.cpp ;;
    mleak) build mleak c "" "-lpthread" mleak mleak.c ;;
    glibc-simple) build glibc-simple c "" "-lpthread" glibc-bench bench-malloc-simple.c ;;
    glibc-thread) build glibc-thread c "" "-lpthread" glibc-bench bench-malloc-thread.c ;;
    ruby)
        command -v ruby >/dev/null 2>&1 && return 0
        need_why="ruby is not installed (apt-get install ruby)"
        return 1 ;;
    esac || {
        need_why=$(cat "$OUT/bin/$1.failed" 2>/dev/null || echo "not built")
        return 1
    }
}

# ---- the programs -------------------------------------------------------------
# name|binary|time|arguments (bench.sh's)|QUICK=1 arguments (= the same)
# @P is procs (@P16: at most 16), @S/ the sources' bench/, <FILE stdin.
# time: wall, or the figure bench.sh puts in its place for a program that runs
# for a fixed time or reports its own rate: larson's "relative time", 2e6 /
# rptest's memory ops per CPU second, xmalloc-test's rtime, 1e9 / glibc-thread's
# iterations.
PROGRAMS="cfrac|cfrac|wall|17545186520507317056371138836327483792789528|408363657848044617468721088941353631
espresso|espresso|wall|@S/espresso/largest.espresso|=
barnes|barnes|wall|<@S/barnes/input|<@O/barnes-quick.input
larsonN|larson|larson|5 8 1000 5000 100 4141 @P|1 8 1000 5000 100 4141 @P
larsonN-sized|larson-sized|larson|5 8 1000 5000 100 4141 @P|1 8 1000 5000 100 4141 @P
mstressN|mstress|wall|@P 50 25|=
rptestN|rptest|rptest|@P 0 1 2 500 1000 100 8 16000|=
xmalloc-testN|xmalloc-test|xmalloc|-w @P -t 5 -s 64|-w @P -t 1 -s 64
cache-scratch1|cache-scratch|wall|1 1000 1 2000000 @P|1 1000 1 200000 @P
cache-scratchN|cache-scratch|wall|@P 1000 1 2000000 @P|@P 1000 1 200000 @P
cache-thrash1|cache-thrash|wall|1 1000 1 2000000 @P|1 1000 1 200000 @P
cache-thrashN|cache-thrash|wall|@P 1000 1 2000000 @P|@P 1000 1 200000 @P
alloc-test1|alloc-test|wall|1|=
alloc-testN|alloc-test|wall|@P16|=
malloc-large|malloc-large|wall||=
mleak10|mleak|wall|5|1
mleak100|mleak|wall|50|5
glibc-simple|glibc-simple|wall||=
glibc-thread|glibc-thread|glibc-thread|@P|=
rbstress1|ruby|wall|@S/rbstress/stress_mem.rb 1|=
rbstressN|ruby|wall|@S/rbstress/stress_mem.rb @P|="
NOT_HERE="sh6bench, sh8bench (bench.sh downloads their sources), redis, lean, lean-mathlib, z3, gs, lua, rocksdb, linux, spec (external programs or downloads), security (not a benchmark)"

# QUICK=1: barnes with a tenth of the bodies (the input's 2nd line is nbody)
if [ $quick = 1 ] && [ -f "$SRC/barnes/input" ]; then
    if sed -n 2p "$SRC/barnes/input" | grep -qx '[0-9][0-9]*'; then
        sed '2s/.*/16384/' "$SRC/barnes/input" >"$OUT/barnes-quick.input"
    else
        cp "$SRC/barnes/input" "$OUT/barnes-quick.input"
    fi
fi

if [ -n "$programs_only" ]; then
    old_ifs=$IFS
    IFS=,
    for p in $programs_only; do
        printf '%s\n' "$PROGRAMS" | grep -q "^$p|" || die "MB_PROGRAMS: unknown program '$p'"
    done
    IFS=$old_ifs
fi

# the runnable ones, built
run_list=""
marks=""
prog_table=""
while IFS='|' read -r name bin how args qargs; do
    [ -z "$programs_only" ] || in_list "$programs_only" "$name" || continue
    if [ "$procs" = 1 ]; then
        case $name in
        alloc-testN | cache-scratchN | cache-thrashN | rbstressN)
            note_skip "$name" "one CPU: bench.sh runs only the 1-thread variant"
            continue ;;
        esac
    fi
    if ! need "$bin"; then
        note_skip "$name" "$need_why"
        continue
    fi
    [ $quick = 1 ] && [ "$qargs" != = ] && args=$qargs
    run_list="$run_list $name"
    [ "$how" = wall ] || marks="$marks $name"
    prog_table="$prog_table$name|$bin|$how|$args
"
done <<EOF
$PROGRAMS
EOF
run_list=${run_list# }
if [ -n "$skipped_lines" ]; then
    say "programs skipped:"
    printf '%s' "$skipped_lines"
fi
echo "not in this set: $NOT_HERE"
[ -n "$run_list" ] || die "no program left to run"
echo "programs: $run_list"
echo "$rounds round(s), each running every program under every allocator (order rotated each round); timeout ${timeout}s per run"
echo

# ---- running -----------------------------------------------------------------
RUNS=$OUT/runs.tsv
rm -f "$RUNS"
rm -f "$OUT"/logs/run-*.txt
# the programs run in a scratch directory: some write files where they run
# (rptest: benchmark-*.txt), and bench.sh runs them in its own out/bench
mkdir -p "$OUT/cwd"
cd "$OUT/cwd"
timed_out_cells=" "

# the time bench.sh reports for a run whose output is in LOG (see PROGRAMS)
run_time() { # HOW LOG WALL
    case $1 in
    wall) echo "$3" ;;
    larson) sed -n 's/.* time: \([0-9.]*\).*/\1/p' "$2" | tail -n 1 ;;
    xmalloc) sed -n 's/^rtime: \([0-9.]*\).*/\1/p' "$2" | tail -n 1 ;;
    rptest)
        sed -n 's/.*\.\.\.\([0-9][0-9]*\) memory ops.*/\1/p' "$2" | tail -n 1 |
            awk '$1 > 0 { printf "%.6f\n", 2000000 / $1 }' ;;
    glibc-thread)
        sed -n 's/^\([0-9][0-9]*\) iterations.*/\1/p' "$2" | tail -n 1 |
            awk '$1 > 0 { printf "%.6f\n", 1000000000 / $1 }' ;;
    esac
}

# run_one ROUND PROGRAM BINARY HOW ARGS ALLOCATOR LIB ENV: one measured run,
# appended to $RUNS; prints the cell for the progress line
run_one() {
    r_round=$1 r_name=$2 r_bin=$3 r_how=$4 r_args=$5 r_alloc=$6 r_lib=$7 r_env=$8
    case $timed_out_cells in *" $r_name/$r_alloc "*)
        printf ' %s skipped' "$r_alloc"
        return 0 ;;
    esac
    r_log=$OUT/logs/run-$r_name-$r_alloc-$r_round.txt
    r_in=/dev/null
    [ "$r_bin" = ruby ] || r_bin=$OUT/bin/$r_bin
    # the arguments, with the placeholders replaced (words: no quoting needed)
    set -f
    # shellcheck disable=SC2086 # splitting the argument list is the point
    set -- $r_args
    set +f
    r_n=$#
    while [ "$r_n" -gt 0 ]; do
        w=$1
        shift
        case $w in
        @P) w=$procs ;;
        @P16) w=$((procs > 16 ? 16 : procs)) ;;
        @S/*) w=$SRC/${w#@S/} ;;
        "<@S/"*) r_in=$SRC/${w#<@S/}; w="" ;;
        "<@O/"*) r_in=$OUT/${w#<@O/}; w="" ;;
        esac
        [ -z "$w" ] || set -- "$@" "$w"
        r_n=$((r_n - 1))
    done
    set -- -- "$r_bin" "$@"
    [ -z "$r_env" ] || set -- -e "$r_env" "$@"
    [ -z "$r_lib" ] || set -- -e "LD_PRELOAD=$r_lib" "$@"
    r_res=$("$MB_RUN" -t "$timeout" -i "$r_in" -o "$r_log" "$@" 2>&1) || true
    read -r r_status r_detail r_wall r_rss <<EOF
$r_res
EOF
    r_time="" r_why=""
    case $r_status in
    ok)
        r_time=$(run_time "$r_how" "$r_log" "$r_wall")
        if [ -z "$r_time" ]; then
            r_status=fail
            r_why="no result in its output"
        fi ;;
    exit) r_why="exit status $r_detail" ;;
    signal) r_why="killed by signal $r_detail" ;;
    timeout)
        r_why="timed out after ${r_detail}s"
        timed_out_cells="$timed_out_cells$r_name/$r_alloc " ;;
    *) r_why="mb_run failed: $r_res" ;;
    esac
    [ "$r_status" = ok ] || r_status=fail
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r_round" "$r_name" "$r_alloc" "$r_status" \
        "$r_wall" "$r_time" "$r_rss" "$r_why" >>"$RUNS"
    if [ "$r_status" = ok ]; then
        printf ' %s %.3fs' "$r_alloc" "$r_time"
    else
        printf ' %s FAIL(%s)' "$r_alloc" "$r_why"
    fi
}

alloc_field() { # NAME FIELD (2: library, 3: environment)
    printf '%s' "$alloc_table" | awk -F "$tab" -v n="$1" -v f="$2" '$1 == n { print $f }'
}

round=1
while [ "$round" -le "$rounds" ]; do
    # this round's order: the list rotated by round-1
    order=$(echo "$allocs" | awk -v k=$((round - 1)) '{ for (i = 0; i < NF; i++) printf "%s ", $((i + k) % NF + 1) }')
    echo "round $round/$rounds: $(coherence)"
    while IFS='|' read -r name bin how args; do
        [ -n "$name" ] || continue
        printf 'round %d/%d  %-15s' "$round" "$rounds" "$name"
        for a in $order; do
            run_one "$round" "$name" "$bin" "$how" "$args" "$a" "$(alloc_field "$a" 2)" "$(alloc_field "$a" 3)" </dev/null
        done
        echo
    done <<EOF
$prog_table
EOF
    round=$((round + 1))
done
echo

# ---- the report and the CSV ------------------------------------------------------
mkdir -p "$HERE/results"
stem=$HERE/results/$(date '+%Y-%m-%d')-mimalloc-bench
[ $quick = 1 ] && stem=$stem-quick
# a run of some allocators or programs must not replace the day's full results
[ -n "$only" ] && stem=$stem-$(printf '%s' "$only" | tr ',' '+')
[ -n "$programs_only" ] && stem=$stem-subset
printf '%s' "$prog_table" | sed "s/@P16/$((procs > 16 ? 16 : procs))/g; s/@P/$procs/g; s|@S/|bench/|g; s|@O/||g" >"$OUT/programs.txt"

status=0
awk -F '\t' -v allocs="$allocs" -v progs="$run_list" -v marks="$marks" -v rounds="$rounds" \
    -v csv="$stem.csv" -v cmdline="$cmdline" -v progfile="$OUT/programs.txt" -v logs="$OUT/logs" '
function median(arr, k, n,    i, j, v, s) {
    for (i = 1; i <= n; i++) {
        v = arr[k, i] + 0
        for (j = i - 1; j >= 1 && s[j] > v; j--)
            s[j + 1] = s[j]
        s[j + 1] = v
    }
    return n % 2 ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2
}
function ratio(x, y) { return (x == "" || y == "" || y <= 0) ? "" : x / y }
function fmt(x, f) { return x == "" ? "-" : sprintf(f, x) }
function num(x, f) { return x == "" ? "" : sprintf(f, x) }
function q(s) { if (s ~ /[,"]/) { gsub(/"/, "\"\"", s); s = "\"" s "\"" } return s }
BEGIN {
    na = split(allocs, A, " ")
    np = split(progs, P, " ")
    n = split(marks, M, " ")
    for (i = 1; i <= n; i++) mark[M[i]] = 1
    split("glibc mimalloc jemalloc tcmalloc", PEERS, " ")
    for (i = 1; i <= na; i++) have[A[i]] = 1
    base = ("mimalloc" in have) ? "mimalloc" : ("glibc" in have) ? "glibc" : ""
    sh = ("stackheap" in have) ? "stackheap" : ""
    while ((getline line < progfile) > 0) {
        split(line, f, "|")
        pargs[f[1]] = f[4]
    }
}
{
    k = $2 SUBSEP $3
    runs[k]++
    if ($4 == "ok") {
        c = ++ok[k]
        T[k, c] = $6; W[k, c] = $5; R[k, c] = $7
    } else {
        bad[k]++
        if (!(k in why)) { why[k] = $8; whyround[k] = $1 }
    }
}
END {
    for (i = 1; i <= np; i++) for (j = 1; j <= na; j++) {
        k = P[i] SUBSEP A[j]
        if (ok[k] > 0 && !bad[k]) {
            mt[k] = median(T, k, ok[k]); mw[k] = median(W, k, ok[k]); mr[k] = median(R, k, ok[k])
        } else {
            failed[k] = 1; anyfail = 1
        }
    }
    # the best peer per program: the least median time (RSS) among the peers that ran
    for (i = 1; i <= np; i++) {
        p = P[i]; bt[p] = ""; br[p] = ""
        for (j = 1; j <= 4; j++) {
            k = p SUBSEP PEERS[j]
            if (!(PEERS[j] in have) || (k in failed)) continue
            if (bt[p] == "" || mt[k] < bt[p]) { bt[p] = mt[k]; btn[p] = PEERS[j] }
            if (br[p] == "" || mr[k] < br[p]) { br[p] = mr[k]; brn[p] = PEERS[j] }
        }
    }
    for (t = 1; t <= 2; t++) {
        if (t == 1)
            printf "time, seconds (median of %d round%s; * = the figure bench.sh reports instead of wall time)\n", rounds, rounds == 1 ? "" : "s"
        else
            printf "\npeak RSS, MiB (median of %d round%s)\n", rounds, rounds == 1 ? "" : "s"
        printf "%-16s", "program"
        for (j = 1; j <= na; j++) printf " %10s", A[j]
        if (sh != "") printf " %8s  %s", "sh/best", "best peer"
        printf "\n"
        for (i = 1; i <= np; i++) {
            p = P[i]
            printf "%-16s", p ((t == 1 && p in mark) ? "*" : "")
            for (j = 1; j <= na; j++) {
                k = p SUBSEP A[j]
                if (k in failed) printf " %10s", "FAIL"
                else if (t == 1) printf " %10.3f", mt[k]
                else printf " %10.1f", mr[k] / 1024
            }
            if (sh != "") {
                k = p SUBSEP sh
                best = t == 1 ? bt[p] : br[p]
                r = (k in failed) ? "" : ratio(t == 1 ? mt[k] : mr[k], best)
                printf " %8s  %s", fmt(r, "%.2f"), best == "" ? "-" : (t == 1 ? btn[p] : brn[p])
            }
            printf "\n"
        }
    }
    if (marks != "")
        printf "* larson: its \"relative time\"; rptest: 2e6 / memory ops per CPU second; xmalloc-test: its rtime;\n  glibc-thread: 1e9 / iterations (as mimalloc-bench'"'"'s bench.sh reports them)\n"

    # geometric means of the ratios, over the programs where both sides ran
    if (base != "") {
        printf "\ngeometric means over the programs where both ran (vs %s):\n%-16s", base, ""
        for (j = 1; j <= na; j++) printf " %10s", A[j]
        printf "\n"
        for (t = 1; t <= 2; t++) {
            printf "%-16s", t == 1 ? "time" : "peak RSS"
            for (j = 1; j <= na; j++) {
                s = 0; n = 0
                for (i = 1; i <= np; i++) {
                    k = P[i] SUBSEP A[j]; kb = P[i] SUBSEP base
                    if ((k in failed) || (kb in failed)) continue
                    x = t == 1 ? mt[k] / mt[kb] : mr[k] / mr[kb]
                    if (x > 0) { s += log(x); n++ }
                }
                printf " %10s", n ? sprintf("%.3f", exp(s / n)) : "-"
            }
            printf "\n"
        }
    }
    if (sh != "") {
        for (t = 1; t <= 2; t++) {
            s = 0; n = 0
            for (i = 1; i <= np; i++) {
                p = P[i]; k = p SUBSEP sh
                if (k in failed) continue
                x = ratio(t == 1 ? mt[k] : mr[k], t == 1 ? bt[p] : br[p])
                if (x != "" && x > 0) { s += log(x); n++ }
            }
            g[t] = n ? sprintf("%.3f (%d program%s)", exp(s / n), n, n == 1 ? "" : "s") : "-"
        }
        printf "stackheap over the best peer: time %s; peak RSS %s\n", g[1], g[2]
    }
    if (anyfail) {
        printf "\nfailures:\n"
        for (i = 1; i <= np; i++) for (j = 1; j <= na; j++) {
            k = P[i] SUBSEP A[j]
            if (!(k in failed)) continue
            printf "  %s under %s: %s (%d of %d runs failed); log: %s/run-%s-%s-%s.txt\n", P[i], A[j],
                why[k], bad[k], runs[k], logs, P[i], A[j], whyround[k]
        }
    }

    print "# command: " cmdline > csv
    print "program,allocator,runs,ok_runs,median_time_s,median_wall_s,median_rss_kib,time_ratio,rss_ratio,time_vs_best_peer,rss_vs_best_peer,time_source,status,args" > csv
    for (i = 1; i <= np; i++) for (j = 1; j <= na; j++) {
        p = P[i]; a = A[j]; k = p SUBSEP a; kb = p SUBSEP base
        if (k in failed) {
            line = sprintf("%s,%s,%d,%d,,,,,,,,%s,%s,%s", p, a, runs[k], ok[k] + 0,
                (p in mark) ? "output" : "wall",
                q(sprintf("FAIL: %s (%d of %d runs)", why[k], bad[k], runs[k])), q(pargs[p]))
        } else {
            tr = (base == "" || (kb in failed)) ? "" : sprintf("%.4f", mt[k] / mt[kb])
            rr = (base == "" || (kb in failed)) ? "" : sprintf("%.4f", mr[k] / mr[kb])
            line = sprintf("%s,%s,%d,%d,%.6f,%.6f,%d,%s,%s,%s,%s,%s,ok,%s", p, a, runs[k], ok[k],
                mt[k], mw[k], mr[k], tr, rr, num(ratio(mt[k], bt[p]), "%.4f"),
                num(ratio(mr[k], br[p]), "%.4f"), (p in mark) ? "output" : "wall", q(pargs[p]))
        }
        print line > csv
    }
    close(csv)
    exit anyfail ? 1 : 0
}' "$RUNS" || status=1
echo
echo "results: $stem.csv (logs of every run: $OUT/logs)"
exit $status

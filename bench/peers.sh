#!/bin/sh
# peers.sh -- the other allocators the side-by-side benchmark compares with
# (Debian's packages, loaded with LD_PRELOAD) and gnuplot for its chart.
#
# As root with apt-get, installs whichever are missing (apt-get update first,
# quietly).  Otherwise prints what is missing and that the benchmark will skip
# those columns.  Never fails: a missing peer costs a column, not the run.
set -u

LIBDIR=/usr/lib/x86_64-linux-gnu
# package  file-that-shows-it-is-installed  what-it-is
PEERS="libmimalloc2.0:$LIBDIR/libmimalloc.so.2:mimalloc
libjemalloc2:$LIBDIR/libjemalloc.so.2:jemalloc
libtcmalloc-minimal4:$LIBDIR/libtcmalloc_minimal.so.4:tcmalloc
gnuplot-nox:/usr/bin/gnuplot:gnuplot"

missing_list() {
    echo "$PEERS" | while IFS=: read -r pkg file _; do
        [ -e "$file" ] || printf '%s\n' "$pkg"
    done | tr '\n' ' ' | sed 's/ $//'
}

missing=$(missing_list)
if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "peers: installing $missing with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null 2>&1 || true
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1 ||
        echo "peers: apt-get install failed for some of: $missing"
    missing=$(missing_list)
fi

if [ -n "$missing" ]; then
    echo "$PEERS" | while IFS=: read -r pkg file what; do
        [ -e "$file" ] && continue
        if [ "$what" = gnuplot ]; then
            echo "peers: gnuplot is missing ($pkg): the chart is drawn without it"
        else
            echo "peers: $what is missing ($pkg, $file): its column will be skipped"
        fi
    done
    [ "$(id -u)" = 0 ] || echo "peers: run as root (or apt-get install $missing) to add them"
fi
exit 0

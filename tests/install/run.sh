#!/bin/sh
# run.sh -- install stackheap into a scratch prefix and build a program
# against it the two ways users do: pkg-config and find_package().
#
#   [SH_CONSUMER_FLAGS=...] sh run.sh BUILD_DIR WORK_DIR LIBDIR CC CMAKE [CONFIG]
#
# BUILD_DIR  the configured and built stackheap build tree
# WORK_DIR   scratch directory (emptied first): the prefix and the consumer builds
# LIBDIR     CMAKE_INSTALL_LIBDIR of that build (lib, or lib/x86_64-linux-gnu
#            when GNUInstallDirs targets /usr on Debian)
# CC         the C compiler the library was built with
# CMAKE      the cmake executable that configured the build
# CONFIG     the build type, for `cmake --install --config` (may be absent)
# SH_CONSUMER_FLAGS  extra compile and link flags the library needs in the
#            consumer (the -fsanitize flags of a sanitizer build), may be empty
#
# Passes (exit 0) when both consumers build with -Werror and print
# "consumer ok", the shared ones load the installed library, and the static
# one does not need a shared stackheap at all.
set -u

if [ $# -lt 5 ]; then
  echo "usage: [SH_CONSUMER_FLAGS=...] sh run.sh BUILD_DIR WORK_DIR LIBDIR CC CMAKE [CONFIG]" >&2
  exit 2
fi
build=$1 work=$2 libdir=$3 cc=$4 cmake=$5 config=${6:-} flags=${SH_CONSUMER_FLAGS:-}
here=$(cd "$(dirname "$0")" && pwd)

die() {
  echo "install_consumer: FAIL: $*" >&2
  exit 1
}
step() {
  echo "install_consumer: $*"
}

command -v pkg-config >/dev/null 2>&1 ||
  die "pkg-config is not installed; it is required for this test (run 'sh scripts/deps.sh' as root, or 'apt-get install pkg-config')"

{ rm -rf "$work" && mkdir -p "$work"; } || die "cannot create $work"
prefix=$work/prefix

# ---- install ---------------------------------------------------------------
step "cmake --install $build --prefix $prefix"
"$cmake" --install "$build" --prefix "$prefix" ${config:+--config "$config"} >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; die "cmake --install failed"; }
for f in "include/stackheap.h" "$libdir/libstackheap.so" "$libdir/libstackheap.a" \
  "$libdir/pkgconfig/stackheap.pc" "$libdir/cmake/stackheap/stackheapConfig.cmake" \
  "$libdir/cmake/stackheap/stackheapConfigVersion.cmake" \
  "$libdir/cmake/stackheap/stackheapTargets.cmake"; do
  [ -e "$prefix/$f" ] || {
    find "$prefix" >&2
    die "the install has no $f (files installed are listed above)"
  }
done

# ---- (a) pkg-config ----------------------------------------------------------
step "the installed tool starts with no LD_LIBRARY_PATH (its RPATH finds the library)"
tool_out=$(env -u LD_LIBRARY_PATH "$prefix/bin/stackheap" help 2>&1) ||
  die "$prefix/bin/stackheap help failed: $tool_out"

PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
export PKG_CONFIG_PATH
pc_flags=$(pkg-config --cflags --libs stackheap) ||
  die "pkg-config --cflags --libs stackheap failed with PKG_CONFIG_PATH=$PKG_CONFIG_PATH"
step "pkg-config flags: $pc_flags"
[ "$(pkg-config --modversion stackheap)" = "0.1.0" ] ||
  die "pkg-config --modversion says '$(pkg-config --modversion stackheap)', expected 0.1.0"
# The .pc file finds its prefix relative to itself: its libdir must be the one installed.
pc_libdir=$(pkg-config --variable=libdir stackheap)
[ "$(cd "$pc_libdir" 2>/dev/null && pwd -P)" = "$(cd "$prefix/$libdir" && pwd -P)" ] ||
  die "the .pc file's libdir '$pc_libdir' is not the installed $prefix/$libdir"

step "building consumer_pc with $cc"
# shellcheck disable=SC2086 # the flags are meant to be split into words
"$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror $flags "$here/consumer.c" -o "$work/consumer_pc" \
  $pc_flags || die "consumer.c does not build with the flags from pkg-config"
out=$(LD_LIBRARY_PATH=$prefix/$libdir "$work/consumer_pc") ||
  die "consumer_pc failed (exit $?): $out"
case $out in
  "consumer ok 0.1.0") ;;
  *) die "consumer_pc printed '$out', expected 'consumer ok 0.1.0'" ;;
esac
if command -v ldd >/dev/null 2>&1; then
  LD_LIBRARY_PATH=$prefix/$libdir ldd "$work/consumer_pc" | grep -q "libstackheap.so.0 => $prefix/$libdir/" ||
    die "consumer_pc does not load the installed libstackheap.so.0: $(LD_LIBRARY_PATH=$prefix/$libdir ldd "$work/consumer_pc")"
fi
step "pkg-config consumer: $out"

# ---- (b) find_package ----------------------------------------------------------
step "configuring the find_package consumer"
"$cmake" -S "$here" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_COMPILER="$cc" ${config:+-DCMAKE_BUILD_TYPE="$config"} \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" \
  >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log" >&2; die "the consumer project does not configure (find_package(stackheap))"; }
grep -q "^stackheap_DIR:PATH=$prefix/$libdir/cmake/stackheap\$" "$work/cmake-build/CMakeCache.txt" ||
  die "find_package did not find the installed package: $(grep '^stackheap_DIR' "$work/cmake-build/CMakeCache.txt")"
"$cmake" --build "$work/cmake-build" >"$work/build.log" 2>&1 ||
  { cat "$work/build.log" >&2; die "the consumer project does not build"; }
for exe in consumer_shared consumer_static; do
  out=$("$work/cmake-build/$exe") || die "$exe failed (exit $?): $out"
  case $out in
    "consumer ok 0.1.0") ;;
    *) die "$exe printed '$out', expected 'consumer ok 0.1.0'" ;;
  esac
  step "find_package $exe: $out"
done
if command -v ldd >/dev/null 2>&1; then
  ldd "$work/cmake-build/consumer_shared" | grep -q "libstackheap.so.0 => $prefix/$libdir/" ||
    die "consumer_shared does not load the installed library: $(ldd "$work/cmake-build/consumer_shared")"
  ! ldd "$work/cmake-build/consumer_static" | grep -q libstackheap ||
    die "consumer_static depends on a shared libstackheap: $(ldd "$work/cmake-build/consumer_static")"
fi
step "PASS"

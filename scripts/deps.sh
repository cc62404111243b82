#!/bin/sh
# Checks for the tools that building and testing stackheap need and, when
# running as root on Debian, installs the missing ones with apt-get.
# Required: a C compiler, cmake, make, pkg-config (the install test uses it).
# Optional: valgrind (its memcheck.h header lets stackheap mark memory for
# Valgrind; the Valgrind test is skipped, and says so, without it); chromium
# (the heap profiler's HTML report is loaded in it headless; that test is
# skipped, and says so, without it); libunwind8 (`stackheap run --unwind`;
# its test is skipped, and says so, without it).
set -u
missing=""
command -v cc >/dev/null 2>&1 || missing="$missing gcc"
command -v cmake >/dev/null 2>&1 || missing="$missing cmake"
command -v make >/dev/null 2>&1 || missing="$missing make"
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
optional=""
[ -f /usr/include/valgrind/memcheck.h ] || optional="$optional valgrind"
command -v chromium >/dev/null 2>&1 || optional="$optional chromium"
# libunwind8: `stackheap run --unwind` opens libunwind.so.8 (its test is skipped without it)
[ -e /usr/lib/x86_64-linux-gnu/libunwind.so.8 ] || [ -e /usr/lib/libunwind.so.8 ] ||
  optional="$optional libunwind8"

if [ -n "$missing$optional" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing$missing$optional with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null 2>&1 || true
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing $optional >/dev/null 2>&1 || true
  fi
fi
status=0
for tool in cc cmake make pkg-config; do
  if ! command -v $tool >/dev/null 2>&1; then
    echo "deps: ERROR: '$tool' is required and could not be installed (run as root on Debian, or install it yourself)" >&2
    status=1
  fi
done
[ -f /usr/include/valgrind/memcheck.h ] ||
  echo "deps: note: valgrind is not installed; Valgrind marking is compiled out and its test is skipped" >&2
command -v chromium >/dev/null 2>&1 ||
  echo "deps: note: chromium is not installed; the profiler's HTML test is skipped" >&2
[ -e /usr/lib/x86_64-linux-gnu/libunwind.so.8 ] || [ -e /usr/lib/libunwind.so.8 ] ||
  echo "deps: note: libunwind8 is not installed; stackheap run --unwind warns and its test is skipped" >&2
exit $status

#!/bin/sh
# fault_sweep.sh PROGRAM [check] -- run PROGRAM (tests/fault_workload.c) with
# the Nth call of each system call kind failing (STACKHEAP_FAULT=KIND:N), N
# from 1 up to about the calls the workload's first three passes make
# (strace -c over the whole run: 111 mmap, 109 munmap, 4 mremap, and 32
# madvise with STACKHEAP_PURGE_DELAY=0, which the madvise runs set: with the
# default delay nothing is decommitted).  Every run must exit 0 and print its
# "done" line: no crash, no wrong result, and a last pass that works.
# With "check": the same in check mode (STACKHEAP_CHECK=1: 110 mmap, 75
# munmap, 8 mremap, 87 madvise at delay 0, check mode's own tables and
# quarantine included), every other N (a run takes half a second: check mode
# starts and reports at exit).
set -u
prog=$1
mode=${2:-release}
runs=0 step=1 with=
[ "$mode" = check ] && step=2 with=STACKHEAP_CHECK=1
sweep() { # KIND LAST [ENV...]
  kind=$1 last=$2
  shift 2
  n=1
  while [ $n -le "$last" ]; do
    out=$(env $with "$@" STACKHEAP_FAULT="$kind:$n" "$prog" 2>&1)
    rc=$?
    runs=$((runs + 1))
    case $out in
      *"fault_workload: done"*) [ $rc = 0 ] ;;
      *) false ;;
    esac || {
      echo "fault_sweep: FAIL with STACKHEAP_FAULT=$kind:$n $with $* (exit $rc):"
      echo "$out"
      exit 1
    }
    n=$((n + step))
  done
  echo "fault_sweep ($mode): $kind: calls 1 to $last (every ${step}) failing in turn, every run ended well"
}
if [ "$mode" = check ]; then
  sweep mmap 80
  sweep munmap 50
  sweep mremap 8
  sweep madvise 60 STACKHEAP_PURGE_DELAY=0
else
  sweep mmap 80
  sweep munmap 80
  sweep mremap 4
  sweep madvise 24 STACKHEAP_PURGE_DELAY=0
fi
echo "fault_sweep: ok, $runs runs"

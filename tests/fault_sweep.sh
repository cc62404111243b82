#!/bin/sh
# fault_sweep.sh PROGRAM [check] -- run PROGRAM (tests/fault_workload.c) with
# the Nth call of each system call kind failing (STACKHEAP_FAULT=KIND:N), N
# from 1 up to a number the workload's first passes make room for (its
# header has the counts; the madvise runs set STACKHEAP_PURGE_DELAY=0: with
# the default delay nothing is decommitted).  Every run must exit 0 and
# print its "done" line: no crash, no wrong result, and a last pass that
# works.
# With "check": the same in check mode (STACKHEAP_CHECK=1, check mode's own
# tables and quarantine included), every other N (a run takes about a
# second: check mode starts and reports at exit).
set -u
prog=$1
mode=${2:-release}
runs=0 step=1 with= passes=6
[ "$mode" = check ] && step=2 with=STACKHEAP_CHECK=1 passes=3
sweep() { # KIND LAST [ENV...]
  kind=$1 last=$2
  shift 2
  n=1
  while [ $n -le "$last" ]; do
    out=$(env $with "$@" STACKHEAP_FAULT="$kind:$n" "$prog" $passes 2>&1)
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

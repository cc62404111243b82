#!/bin/sh
# setuid.sh PROGRAM -- run PROGRAM (tests/lifecycle/setuid_options.c) once as
# root with stackheap's check-mode options, then setuid root as the user
# nobody with the same options: the first run must write the check log, the
# second must read no option at all (no report, no log).  Needs root and
# setpriv; exits 77 (skipped) without them.
set -u
prog=$1
[ "$(id -u)" = 0 ] || { echo "setuid: skipped: needs root to make a setuid program"; exit 77; }
command -v setpriv >/dev/null 2>&1 || { echo "setuid: skipped: setpriv is not installed"; exit 77; }
dir=$(mktemp -d /tmp/stackheap-setuid.XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
chmod 755 "$dir"
cp "$prog" "$dir/prog" && chown root:root "$dir/prog" && chmod 4755 "$dir/prog" || exit 1

# control: the options work when the program is not setuid
STACKHEAP_CHECK=1 STACKHEAP_CHECK_LOG="$dir/plain.log" "$dir/prog" >"$dir/plain.out" 2>&1
grep -q "leak: 777 bytes" "$dir/plain.log" 2>/dev/null ||
  { echo "setuid: FAIL: the control run (not setuid) wrote no leak report to its log"; cat "$dir/plain.out"; exit 1; }

out=$(cd "$dir" && STACKHEAP_CHECK=1 STACKHEAP_CHECK_LOG="$dir/secure.log" \
  setpriv --reuid=65534 --regid=65534 --clear-groups ./prog 2>&1)
rc=$?
echo "$out"
case $out in
  *"AT_SECURE 0"*) echo "setuid: skipped: the setuid bit had no effect here (a nosuid mount?)"; exit 77 ;;
esac
[ $rc = 0 ] || { echo "setuid: FAIL: the setuid run exited $rc"; exit 1; }
case $out in
  *"setuid_options: AT_SECURE 1, done"*) ;;
  *) echo "setuid: FAIL: the setuid run did not finish"; exit 1 ;;
esac
case $out in
  *stackheap:*) echo "setuid: FAIL: check mode ran in a setuid program (it read STACKHEAP_CHECK)"; exit 1 ;;
esac
[ ! -e "$dir/secure.log" ] ||
  { echo "setuid: FAIL: a setuid program wrote STACKHEAP_CHECK_LOG's file"; exit 1; }
echo "setuid: ok: no option read in a setuid program"

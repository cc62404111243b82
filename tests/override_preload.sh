#!/bin/sh
# override_preload.sh LIB PROGRAM SOURCE_DIR WORK_DIR
#
# Runs a real, unmodified program twice -- on the system allocator, then with
# LD_PRELOAD=LIB -- and passes if both runs succeed with the same output and
# the dynamic loader's binding log (LD_DEBUG=bindings) shows the program's
# malloc and free bound to LIB: proof that stackheap's malloc was in use.
#
# PROGRAM is one of:
#   sort     sort(1) of a large generated file (more than its buffer: temporary files, threads)
#   python   python3 running tests/override_workload.py (large dicts, lists, strings)
#   perl     a perl one-liner that builds and sorts big hashes and arrays
#   gcc      gcc compiling one of stackheap's own source files to assembly
# Exits 77 (CTest: skipped) when the program is not installed.
set -eu
lib=$1
prog=$2
src=$3
work=$4
skip() {
  echo "SKIP: $1"
  exit 77
}
rm -rf "$work"
mkdir -p "$work"
cd "$work"
export LC_ALL=C

# run CMD...: run it on both allocators; outputs in out.system and out.stackheap
run() {
  "$@" > out.system
  LD_DEBUG=bindings LD_DEBUG_OUTPUT="$work/bindings" LD_PRELOAD="$lib" "$@" > out.stackheap
}

case $prog in
sort)
  command -v sort > /dev/null || skip "sort is not installed"
  awk 'BEGIN { x = 12345; for (i = 0; i < 400000; i++) {
         x = (x * 1103515245 + 12345) % 2147483648
         printf "%08x %d line-%d\n", x, x % 1000, i } }' > input.txt
  run sort -S 4M --parallel=2 -k2,2n -k1,1 input.txt
  ;;
python)
  command -v python3 > /dev/null || skip "python3 is not installed"
  # the interpreter itself, not a wrapper script (pyenv shims are shell scripts)
  python=$(python3 -c 'import sys; print(sys.executable)')
  export PYTHONHASHSEED=0
  run "$python" "$src/tests/override_workload.py"
  LD_PRELOAD="$lib" "$python" -c 'print(sum(range(10**6)))' > sum.txt
  [ "$(cat sum.txt)" = 499999500000 ] || { echo "python -c printed: $(cat sum.txt)"; exit 1; }
  ;;
perl)
  command -v perl > /dev/null || skip "perl is not installed"
  run perl -e '
    my $t = 0;
    for my $r (1 .. 3) {
      my %h = map { ("k$_" => "v" x ($_ % 60)) } 1 .. 200000;
      $t += length($h{$_}) for keys %h;
      my @a = sort { $a <=> $b } map { ($_ * 7919) % 1000003 } 1 .. 300000;
      $t += $a[0] + $a[-1] + @a;
      my $s = join ",", @a;
      $t += length $s;
    }
    print "$t\n";'
  ;;
gcc)
  command -v gcc > /dev/null || skip "gcc is not installed"
  run gcc -O2 -S -frandom-seed=stackheap -I"$src/include" -o - "$src/src/heap/page.c"
  ;;
*)
  echo "unknown program: $prog"
  exit 2
  ;;
esac

if ! cmp -s out.system out.stackheap; then
  echo "FAIL: the output under LD_PRELOAD=$lib differs from the system allocator's:"
  diff out.system out.stackheap | head -20
  exit 1
fi
[ -s out.system ] || { echo "FAIL: $prog printed nothing"; exit 1; }

# every process logged its bindings to bindings.<pid>: malloc and free must be LIB's
libname=$(basename "$lib")
for sym in malloc free; do
  if ! grep -h "normal symbol \`$sym'" bindings.* | grep -q "to [^ ]*$libname"; then
    echo "FAIL: no binding of $sym to $libname in the loader's log; the bindings of $sym were:"
    grep -h "normal symbol \`$sym'" bindings.* | head -5
    exit 1
  fi
  # (a binding to the program itself is its canonical PLT entry, which jumps to LIB's)
  if grep -h "normal symbol \`$sym'" bindings.* | grep -q "to [^ ]*/libc\.so"; then
    echo "FAIL: some $sym binding went to libc rather than $libname:"
    grep -h "normal symbol \`$sym'" bindings.* | grep "to [^ ]*/libc\.so" | head -5
    exit 1
  fi
done
echo "ok: $prog gave the same $(wc -c < out.system)-byte output on stackheap" \
  "($(grep -h "normal symbol \`malloc'" bindings.* | wc -l) malloc bindings to $libname in" \
  "$(ls bindings.* | wc -l) processes)"

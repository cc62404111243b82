#!/bin/sh
# gcc.sh TMPDIR [-q] -- gcc -O2 compiling a generated C file: a compiler's
# many small tree and RTL nodes.  The file is generated deterministically
# (functions with nested expressions and loops); prints `checksum <n>` (the
# size of the object's text section, identical under every allocator).
set -eu
TMP=${1:?usage: gcc.sh TMPDIR [-q]}
N=150
[ "${2:-}" = -q ] && N=40
SRC=$TMP/generated_$N.c
if [ ! -f "$SRC" ]; then
    awk -v n="$N" 'BEGIN {
        print "#include <stddef.h>"
        for (f = 0; f < n; f++) {
            printf "int f%d(int *a, size_t len, int x) {\n", f
            printf "    int s = %d;\n", f
            printf "    for (size_t i = 0; i < len; i++) {\n"
            for (k = 0; k < 12; k++)
                printf "        s += (a[i] * %d + x) ^ (s >> %d) + (int)(i * %d) %% %d;\n", k + f, k % 7 + 1, k + 3, k + 5
            printf "        if (s %% %d == 0) s = f%d(a, i / 2, s);\n", f + 2, (f > 0 ? f - 1 : 0)
            printf "    }\n    return s;\n}\n"
        }
    }' > "$SRC.tmp"
    mv "$SRC.tmp" "$SRC"
fi
gcc -O2 -c "$SRC" -o "$TMP/generated_$N.o"
echo "checksum $(size -A "$TMP/generated_$N.o" | awk '$1 == ".text" { print $2 }')"

# profile_lib.sh -- sourced by profile_cost.sh and profile_exact_cost.sh:
# their temporary directory, perf's task-clock, and medians.  Sets TMP
# (removed at exit) and perf (the command prefix, empty without perf).
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
perf=()
if command -v perf >/dev/null 2>&1 && perf stat -e task-clock true >/dev/null 2>&1; then
    perf=(perf stat -x , -o "$TMP/stat" -e task-clock --)
else
    echo "$(basename "$0"): no perf (apt-get install linux-perf): wall time only" >&2
fi

# The CPU milliseconds of the last run under "${perf[@]}" (0 without perf).
cpu_ms() {
    if [ ${#perf[@]} -gt 0 ]; then
        awk -F , '$3 == "task-clock" { print $1 }' "$TMP/stat"
    else
        echo 0
    fi
}

# median FILE COLUMN
median() {
    awk -v c="$2" '{ print $c }' "$1" | sort -g |
        awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

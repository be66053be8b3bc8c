#!/usr/bin/env bash
# Two sluice-ingest builds on the same corpus, paired: for a change's
# "before and after". Each run ingests the corpus from a file with A, then
# with B, then B, then A (ABBA, so drift over the minutes falls on both
# alike), into fresh data directories; reports each build's median MB/s,
# peak RSS and CPU seconds, and B's speed against A's run by run.
#
#   benches/ingest-ab.sh A_BINARY B_BINARY CORPUS [--runs 3] [--work DIR]
#
# Build A from the commit before (a git worktree: `cargo build --release -p
# sluice-ingest`); the corpus from `sluice-corpus --size 1GB --seed 1` (the
# one `ingest-e2e.sh` uses).
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,13p' "$0"; exit 2; }
a=$1 b=$2 corpus=$3; shift 3
runs=3 work=${TMPDIR:-/tmp}/ingest-ab
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$work"
raw=$(stat -c %s "$corpus")

# One ingest: prints "seconds peak_rss_kib cpu_seconds".
ingest() {
  rm -rf "$work/data"
  /usr/bin/time -f '%e %M %U %S' "$1" --data-dir "$work/data" "$corpus" > /dev/null 2> "$work/stderr"
  tail -n 1 "$work/stderr" | awk '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

: > "$work/a.txt"; : > "$work/b.txt"; : > "$work/ratio.txt"
for run in $(seq "$runs"); do
  first_a=$(ingest "$a"); first_b=$(ingest "$b"); second_b=$(ingest "$b"); second_a=$(ingest "$a")
  for m in "$first_a" "$second_a"; do echo "$m" >> "$work/a.txt"; done
  for m in "$first_b" "$second_b"; do echo "$m" >> "$work/b.txt"; done
  ta=$(printf '%s\n%s\n' "$first_a" "$second_a" | awk '{ s += $1 } END { print s / 2 }')
  tb=$(printf '%s\n%s\n' "$first_b" "$second_b" | awk '{ s += $1 } END { print s / 2 }')
  ratio=$(awk -v a="$ta" -v b="$tb" 'BEGIN { printf "%.3f", a / b }')
  echo "$ratio" >> "$work/ratio.txt"
  echo "run $run: A ${ta}s, B ${tb}s: B at ${ratio}x A's speed" >&2
done
report() {
  local name=$1 file=$2
  local seconds rss cpu
  seconds=$(cut -d' ' -f1 "$file" | median)
  rss=$(cut -d' ' -f2 "$file" | median)
  cpu=$(cut -d' ' -f3 "$file" | median)
  awk -v n="$name" -v s="$seconds" -v r="$rss" -v c="$cpu" -v raw="$raw" \
    'BEGIN { printf "%-3s %8.1f MB/s %8.0f MiB peak RSS %8.1f CPU s (median of %s)\n", n, raw / s / 1e6, r / 1024, c, "'"$((runs * 2))"' runs" }'
}
report A "$work/a.txt"
report B "$work/b.txt"
echo "B/A speed, run by run: $(paste -sd' ' "$work/ratio.txt"); median $(median < "$work/ratio.txt")x"

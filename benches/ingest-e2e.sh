#!/usr/bin/env bash
# End-to-end ingest benchmark: a generated corpus through sluice-ingest
# (from a file and from stdin), against two baselines measured in the same
# run on the same bytes:
#   * tantivy alone, the very documents Sluice indexes (same schema), already
#     normalized, with 2 threads, measured two ways by `tantivy-baseline`:
#     - tantivy-cli: as `tantivy-cli index` runs on a file of the normalized
#       records, one JSON document per line: read, parse, add, commit;
#     - add-only: the documents prebuilt in memory, only added and committed
#       (tantivy's own cost, a bound no indexer that reads input can reach);
#   * DuckDB: read_json_auto → zstd Parquet (pip install duckdb).
# Also zstd -19 of the raw bytes (on the first ZSTD_SLICE bytes: -19 runs at
# ~2 MB/s) as the compression yardstick for the archive.
#
# Reports medians over RUNS of MB/s, lines/s, peak RSS, CPU seconds (user +
# system; from stdin that includes `cat`), and the index and archive sizes as
# a share of the raw bytes, plus each run's speed against tantivy-cli's in
# the same run; writes everything as JSON too.
#
#   benches/ingest-e2e.sh [--size 1GB] [--runs 3] [--work DIR] [--rss-scaling]
#                         [--variables observed|uniform]
#
# --rss-scaling also ingests a corpus 4x the size (file input, one run) and
# compares its peak RSS with the 1x run's. --variables picks how the corpus
# fills template slots (see `sluice-corpus --help`): `uniform` remakes the
# corpora of figures quoted before `observed` became the default.
set -euo pipefail
cd "$(dirname "$0")/.."
size=1GB runs=3 work=target/bench-e2e rss_scaling=0 variables=observed
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --rss-scaling) rss_scaling=1; shift ;;
    --variables) variables=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
zstd_slice=${ZSTD_SLICE:-100000000}
cargo build -q --release -p sluice-ingest -p sluice-benches --bins
bin=target/release
mkdir -p "$work"
corpus="$work/corpus-$size-$variables.ndjson"
if [ ! -f "$corpus" ]; then
  "$bin/sluice-corpus" --size "$size" --seed 1 --variables "$variables" --out "$corpus" --expected "$corpus.expected.json"
fi
raw=$(stat -c %s "$corpus")
lines=$(jq .lines_read "$corpus.expected.json")
results="$work/results.ndjson"
: > "$results"

# measure NAME COMMAND...: prints wall seconds, peak RSS (KiB) and CPU seconds
# (user + system). /usr/bin/time appends its line to the command's stderr,
# kept in $work/NAME.stderr.
measure() {
  local name=$1; shift
  /usr/bin/time -f '%e %M %U %S' "$@" > /dev/null 2> "$work/$name.stderr"
  tail -1 "$work/$name.stderr" | awk '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 }'
}

for run in $(seq 1 "$runs"); do
  for source in file stdin; do
    rm -rf "$work/data"
    if [ "$source" = file ]; then
      read -r seconds rss cpu < <(measure "ingest-$source" "$bin/sluice-ingest" --data-dir "$work/data" "$corpus")
    else
      read -r seconds rss cpu < <(measure "ingest-$source" sh -c "cat '$corpus' | '$bin/sluice-ingest' --data-dir '$work/data'")
    fi
    index=$(du -sb "$work/data/index" | cut -f1)
    archive=$(du -sb "$work/data/archive" | cut -f1)
    echo "{\"run\":$run,\"tool\":\"sluice-$source\",\"seconds\":$seconds,\"cpu_seconds\":$cpu,\"rss_kib\":$rss,\"index_bytes\":$index,\"archive_bytes\":$archive}" >> "$results"
  done
  for mode in tantivy-cli add-only; do
    rm -rf "$work/tantivy"
    flag=$([ "$mode" = tantivy-cli ] && echo --parse-json || true)
    baseline=$("$bin/tantivy-baseline" $flag "$corpus" "$work/tantivy" 2)
    tantivy_seconds=$(echo "$baseline" | jq .seconds)
    tantivy_cpu=$(echo "$baseline" | jq .cpu_seconds)
    tantivy_bytes=$(du -sb "$work/tantivy" | cut -f1)
    echo "{\"run\":$run,\"tool\":\"tantivy-$mode\",\"seconds\":$tantivy_seconds,\"cpu_seconds\":$tantivy_cpu,\"index_bytes\":$tantivy_bytes}" >> "$results"
  done
  rm -f "$work/duckdb.parquet"
  read -r seconds rss cpu < <(measure duckdb python3 -c "
import duckdb, sys
duckdb.connect().execute(\"COPY (SELECT * FROM read_json_auto('$corpus', format='newline_delimited', ignore_errors=true, union_by_name=true)) TO '$work/duckdb.parquet' (FORMAT parquet, COMPRESSION zstd)\")
")
  echo "{\"run\":$run,\"tool\":\"duckdb\",\"seconds\":$seconds,\"cpu_seconds\":$cpu,\"rss_kib\":$rss,\"archive_bytes\":$(stat -c %s "$work/duckdb.parquet")}" >> "$results"
done

if [ ! -f "$work/zstd19-$size-$variables" ]; then
  head -c "$zstd_slice" "$corpus" | zstd -19 -T2 -q -c | wc -c > "$work/zstd19-$size-$variables"
fi
zstd19=$(cat "$work/zstd19-$size-$variables")

if [ "$rss_scaling" = 1 ]; then
  big="$work/corpus-x4-$variables.ndjson"
  if [ ! -f "$big" ]; then
    bytes=$(( raw * 4 ))
    "$bin/sluice-corpus" --size "$bytes" --seed 2 --days 12 --variables "$variables" --out "$big" --expected "$big.expected.json"
  fi
  rm -rf "$work/data"
  read -r seconds rss cpu < <(measure ingest-x4 "$bin/sluice-ingest" --data-dir "$work/data" "$big")
  echo "{\"run\":1,\"tool\":\"sluice-file-x4\",\"seconds\":$seconds,\"cpu_seconds\":$cpu,\"rss_kib\":$rss,\"raw_bytes\":$(stat -c %s "$big")}" >> "$results"
  rm -rf "$work/data"
fi

python3 - "$results" "$raw" "$lines" "$zstd19" "$zstd_slice" "$variables" <<'PY'
import json, statistics, sys
path, raw, lines, zstd19, zstd_slice = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
variables = sys.argv[6]
rows = [json.loads(l) for l in open(path)]
def median(tool, key):
    values = [r[key] for r in rows if r["tool"] == tool and key in r]
    return statistics.median(values) if values else None
mbps = lambda tool: raw / 1e6 / median(tool, "seconds")
def paired(tool, base):
    # Each run's speed against the baseline's in the same run: runs minutes
    # apart see different neighbours on a shared machine.
    seconds = lambda t: {r["run"]: r["seconds"] for r in rows if r["tool"] == t}
    ours, theirs = seconds(tool), seconds(base)
    return [theirs[run] / ours[run] for run in sorted(ours) if run in theirs]
tantivy, add_only, duck = mbps("tantivy-tantivy-cli"), mbps("tantivy-add-only"), mbps("duckdb")
print(f"corpus: {raw / 1e6:.0f} MB, {lines} lines, {variables} slot values; medians of {len([r for r in rows if r['tool'] == 'duckdb'])} runs")
for tool in ("sluice-file", "sluice-stdin"):
    speed = mbps(tool)
    print(f"{tool:13} {speed:6.1f} MB/s {lines / median(tool, 'seconds'):9.0f} lines/s  peak RSS {median(tool, 'rss_kib') / 1024:5.0f} MiB"
          f"  | {speed / tantivy:.2f}x tantivy-cli, {speed / add_only:.2f}x tantivy add-only, {speed / duck:.2f}x DuckDB")
    print(f"{'':13} index {median(tool, 'index_bytes') / raw:6.1%} of raw, archive {median(tool, 'archive_bytes') / raw:6.1%},"
          f" together {(median(tool, 'index_bytes') + median(tool, 'archive_bytes')) / raw:6.1%}")
    ratios = paired(tool, "tantivy-tantivy-cli")
    cpu, base_cpu = median(tool, "cpu_seconds"), median("tantivy-tantivy-cli", "cpu_seconds")
    print(f"{'':13} vs tantivy-cli run by run: {', '.join(f'{r:.2f}' for r in ratios)}x (median {statistics.median(ratios):.2f}x);"
          f" CPU {cpu:.1f} s, tantivy-cli {base_cpu:.1f} s ({cpu / base_cpu:.2f}x its CPU)")
print(f"{'tantivy-cli':13} {tantivy:6.1f} MB/s (2 threads, same documents, parsed from NDJSON; CPU of the timed part)"
      f"  index {median('tantivy-tantivy-cli', 'index_bytes') / raw:6.1%} of raw")
print(f"{'tantivy add':13} {add_only:6.1f} MB/s (2 threads, same documents, prebuilt in memory)"
      f"  index {median('tantivy-add-only', 'index_bytes') / raw:6.1%} of raw")
print(f"{'duckdb':13} {duck:6.1f} MB/s  peak RSS {median('duckdb', 'rss_kib') / 1024:5.0f} MiB  zstd Parquet {median('duckdb', 'archive_bytes') / raw:6.1%} of raw")
print(f"{'zstd -19':13} {zstd19 / min(raw, zstd_slice):6.1%} of raw (first {min(raw, zstd_slice) / 1e6:.0f} MB)")
x4 = [r for r in rows if r["tool"] == "sluice-file-x4"]
if x4:
    one, four = median("sluice-file", "rss_kib"), x4[0]["rss_kib"]
    print(f"peak RSS: {one / 1024:.0f} MiB for {raw / 1e6:.0f} MB, {four / 1024:.0f} MiB for {x4[0]['raw_bytes'] / 1e6:.0f} MB"
          f" ({four / one - 1:+.1%})")
PY

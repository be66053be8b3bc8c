#!/usr/bin/env bash
# Compaction benchmark: a trickle (many small batches over many hours)
# ingested, then `sluice-ingest compact`, measured before and after in the
# same run on the same data:
#   * archive files, archive and index bytes (shares of the raw corpus), and
#     the archive against `zstd -19` of the raw corpus (the issue's target:
#     at most 0.8x after compaction; index + archive at most 20% of raw);
#   * `sluice sql` group-by against DuckDB's CLI on the same files
#     (whole-process medians, hyperfine), and `sluice search` of a rare
#     term, which reads the index and fetches its row from the archive;
#   * compaction's own wall time, CPU and peak RSS.
#
#   benches/compaction.sh [--size 1GB] [--variables observed|uniform]
#                         [--batch-bytes 1000000] [--zstd-level 19]
#                         [--runs 10] [--work DIR]
#
# --batch-bytes is the trickle: the corpus spans 3 days, so 1 MB batches of
# a 1 GB corpus are about 1000 commits of ~4 minutes of logs each, 15 files
# an hour. zstd -19 runs over the whole corpus (-T2, cached per corpus in
# DIR). Needs hyperfine, the DuckDB CLI (pip install duckdb-cli) and jq.
# Writes DIR/compaction-results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
size=1GB variables=observed batch_bytes=1000000 level=19 runs=10 work=target/bench-e2e
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --variables) variables=$2; shift 2 ;;
    --batch-bytes) batch_bytes=$2; shift 2 ;;
    --zstd-level) level=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
for tool in hyperfine duckdb jq zstd; do
  command -v "$tool" > /dev/null || { echo "compaction: $tool is not on PATH (see the header of $0)" >&2; exit 2; }
done
cargo build -q --release -p sluice-ingest -p sluice-query -p sluice-sql -p sluice-benches --bins
bin=$PWD/target/release
mkdir -p "$work"
corpus="$work/corpus-$size-$variables.ndjson"
if [ ! -f "$corpus" ]; then
  "$bin/sluice-corpus" --size "$size" --seed 1 --variables "$variables" --out "$corpus" --expected "$corpus.expected.json"
fi
raw=$(stat -c %s "$corpus")
if [ ! -f "$corpus.zstd19" ]; then
  zstd -19 -T2 -q -c "$corpus" | wc -c > "$corpus.zstd19"
fi
zstd19=$(cat "$corpus.zstd19")

data="$work/compaction-$size-$variables"
rm -rf "$data"
"$bin/sluice-ingest" --data-dir "$data" --batch-bytes "$batch_bytes" "$corpus" 2> "$work/compaction-ingest.log"
sluice() { "$bin/sluice" --data-dir "$data" "$@"; }
records=$(sluice count '*' --format json | jq .count)
[ "$records" = "$(jq .accepted "$corpus.expected.json")" ] || { echo "compaction: $records records indexed" >&2; exit 1; }
needle=$(jq -r '.needles[3]' "$corpus.expected.json")

archive="$data/archive/**/*.parquet"
group_by="SELECT service, level, count(*) AS n FROM logs GROUP BY service, level ORDER BY service, level"
duck() { echo "CREATE VIEW logs AS SELECT * FROM read_parquet('$archive', hive_partitioning = true); $1"; }

# measure PHASE: sizes, then timings, into DIR/compaction-PHASE.json.
measure() {
  local phase=$1
  local files index_bytes archive_bytes segments ours theirs
  files=$(find "$data/archive" -name '*.parquet' | wc -l)
  index_bytes=$(du -sb "$data/index" | cut -f1)
  archive_bytes=$(find "$data/archive" -name '*.parquet' -printf '%s\n' | awk '{ s += $1 } END { print s }')
  segments=$(find "$data/index" -name '*.idx' | wc -l)
  # What is timed must be right: both engines agree, the needle is found once.
  ours=$(sluice sql "$group_by" --format csv | tail -n +2)
  theirs=$(duckdb -csv -noheader -c "$(duck "$group_by")")
  [ "$ours" = "$theirs" ] || { echo "compaction: sluice sql and DuckDB differ ($phase)" >&2; exit 1; }
  [ "$(sluice search "$needle" --format ndjson | wc -l)" = 1 ] || { echo "compaction: $needle not found once ($phase)" >&2; exit 1; }
  hyperfine -N --style none --warmup 2 --runs "$runs" --export-json "$work/compaction-$phase-hyperfine.json" \
    -n sql-group-by "$bin/sluice --data-dir $data sql '$group_by'" \
    -n duckdb-group-by "duckdb -c \"$(duck "$group_by")\"" \
    -n search-rare-term "$bin/sluice --data-dir $data search $needle" > /dev/null
  jq -n --argjson files "$files" --argjson index "$index_bytes" --argjson archive "$archive_bytes" \
    --argjson segments "$segments" --slurpfile h "$work/compaction-$phase-hyperfine.json" \
    '{files: $files, index_bytes: $index, archive_bytes: $archive, segments: $segments,
      median_ms: ($h[0].results | map({(.command): (.median * 1000)}) | add)}' > "$work/compaction-$phase.json"
}

measure before
/usr/bin/time -f '%e %M %U %S' "$bin/sluice-ingest" compact --data-dir "$data" --zstd-level "$level" \
  2> "$work/compaction-run.log"
tail -1 "$work/compaction-run.log" | awk '{ printf "{\"seconds\": %s, \"rss_kib\": %s, \"cpu_seconds\": %.2f}\n", $1, $2, $3 + $4 }' \
  > "$work/compaction-cost.json"
[ "$(sluice count '*' --format json | jq .count)" = "$records" ] || { echo "compaction: records changed" >&2; exit 1; }
measure after

python3 - "$work" "$raw" "$zstd19" "$records" "$size" "$variables" "$batch_bytes" "$level" <<'EOF'
import json, sys
work, raw, zstd19, records = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
size, variables, batch_bytes, level = sys.argv[5:9]
before, after = (json.load(open(f"{work}/compaction-{p}.json")) for p in ("before", "after"))
cost = json.load(open(f"{work}/compaction-cost.json"))
print(f"{records:,} records, {raw / 1e9:.2f} GB of JSON ({variables}), ingested in {batch_bytes}-byte batches; "
      f"zstd -19 of it: {zstd19 / 1e6:.1f} MB ({zstd19 / raw:.2%})")
print(f"{'':8} {'files':>7} {'segments':>8} {'archive':>9} {'of raw':>7} {'/zstd19':>8} {'index':>9} {'together':>9}"
      f" {'sql group-by':>13} {'DuckDB':>8} {'ratio':>6} {'search':>8}")
for name, m in (("before", before), ("after", after)):
    a, i, ms = m["archive_bytes"], m["index_bytes"], m["median_ms"]
    print(f"{name:8} {m['files']:7} {m['segments']:8} {a / 1e6:7.1f}MB {a / raw:7.2%} {a / zstd19:7.2f}x {i / 1e6:7.1f}MB"
          f" {(a + i) / raw:9.2%} {ms['sql-group-by']:10.0f} ms {ms['duckdb-group-by']:5.0f} ms"
          f" {ms['sql-group-by'] / ms['duckdb-group-by']:5.2f}x {ms['search-rare-term']:5.0f} ms")
print(f"compaction at zstd {level}: {cost['seconds']:.1f} s wall, {cost['cpu_seconds']:.1f} s CPU, "
      f"peak RSS {cost['rss_kib'] / 1024:.0f} MiB")
a = after["archive_bytes"]
print(f"targets: archive {a / zstd19:.2f}x zstd -19 (<= 0.8x: {'ok' if a <= 0.8 * zstd19 else 'MISSED'}); "
      f"index + archive {(a + after['index_bytes']) / raw:.1%} of raw (<= 20%: "
      f"{'ok' if a + after['index_bytes'] <= 0.2 * raw else 'MISSED'}); sql group-by "
      f"{before['median_ms']['sql-group-by'] / before['median_ms']['duckdb-group-by']:.2f}x DuckDB before, "
      f"{after['median_ms']['sql-group-by'] / after['median_ms']['duckdb-group-by']:.2f}x after (<= 1.0x)")
json.dump({"records": records, "raw_bytes": raw, "zstd19_bytes": zstd19, "variables": variables,
           "batch_bytes": int(batch_bytes), "zstd_level": int(level), "before": before, "after": after,
           "compaction": cost}, open(f"{work}/compaction-results.json", "w"), indent=1)
EOF

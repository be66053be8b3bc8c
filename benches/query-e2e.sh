#!/usr/bin/env bash
# Query benchmark: a generated corpus of at least 10 M records, ingested
# once, then each `sluice` command issue 5 sets a target for, timed as a
# whole process with a warm cache (hyperfine, medians). In the same run, on
# the same data:
#   * ripgrep counting the same rare term in the raw JSON lines;
#   * DuckDB's CLI running the same SQL over the same Parquet files;
#   * `sluice serve` answering Grafana's two heaviest Loki requests (issue
#     20): the log-volume query over the whole range and the last 100
#     lines with a rare word, each a curl process (its start included).
#
#   benches/query-e2e.sh [--size 2.75GB] [--runs 15] [--work DIR]
#
# 2.75 GB of corpus is about 10.4 M lines. The data directory is kept
# between runs (DIR/data-SIZE); delete it to ingest again.
# Needs hyperfine and rg (apt-get install hyperfine ripgrep), the DuckDB CLI
# (pip install duckdb-cli) and jq. Writes DIR/query-results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
size=2.75GB runs=15 work=target/bench-e2e
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
for tool in hyperfine rg duckdb jq; do
  command -v "$tool" > /dev/null || { echo "query-e2e: $tool is not on PATH (see the header of $0)" >&2; exit 2; }
done
cargo build -q --release -p sluice-ingest -p sluice-query -p sluice-sql -p sluice-benches --bins
bin=$PWD/target/release
mkdir -p "$work"
# Named by how slots are filled: a work dir may hold corpora of the first,
# uniform kind (sluice-corpus --variables uniform).
corpus="$work/corpus-$size-observed.ndjson"
if [ ! -f "$corpus" ]; then
  "$bin/sluice-corpus" --size "$size" --seed 1 --out "$corpus" --expected "$corpus.expected.json"
fi
data="$work/data-$size"
if [ ! -f "$data/.complete" ]; then
  rm -rf "$data"
  "$bin/sluice-ingest" --data-dir "$data" "$corpus"
  touch "$data/.complete"
fi
sluice() { "$bin/sluice" --data-dir "$data" "$@"; }

# What is measured must be right first.
records=$(sluice count '*' --format json | jq .count)
expected=$(jq .accepted "$corpus.expected.json")
[ "$records" = "$expected" ] || { echo "query-e2e: $records records indexed, $expected expected" >&2; exit 1; }
needle=$(jq -r '.needles[3]' "$corpus.expected.json")
hits=$(sluice count "$needle" --format json | jq .count)
[ "$hits" = 1 ] || { echo "query-e2e: $needle found $hits times, expected once" >&2; exit 1; }
[ "$(rg -c "$needle" "$corpus")" = 1 ] || { echo "query-e2e: rg disagrees about $needle" >&2; exit 1; }

archive="$data/archive/**/*.parquet"
group_by="SELECT service, level, count(*) AS n FROM logs GROUP BY service, level ORDER BY service, level"
day="SELECT level, count(*) AS n FROM logs WHERE date = '2024-03-02' GROUP BY level ORDER BY level"
duck() { echo "CREATE VIEW logs AS SELECT * FROM read_parquet('$archive', hive_partitioning = true); $1"; }
for sql in "$group_by" "$day"; do
  ours=$(sluice sql "$sql" --format csv | tail -n +2)
  theirs=$(duckdb -csv -noheader -c "$(duck "$sql")")
  [ "$ours" = "$theirs" ] || { printf 'query-e2e: sluice sql and DuckDB differ on %s:\n%s\n--\n%s\n' "$sql" "$ours" "$theirs" >&2; exit 1; }
done

# `sluice serve` on the same data, and Grafana's requests checked first.
"$bin/sluice" --data-dir "$data" serve --listen 127.0.0.1:0 2> "$work/serve.stderr" &
serve_pid=$!
trap 'kill $serve_pid 2> /dev/null || true' EXIT
for _ in $(seq 100); do grep -q 'listening\|serving' "$work/serve.stderr" && break; sleep 0.1; done
loki=$(sed -n 's|.*on http://\([^,]*\),.*|\1|p' "$work/serve.stderr")
[ -n "$loki" ] || { echo "query-e2e: sluice serve did not start:" >&2; cat "$work/serve.stderr" >&2; exit 1; }
bounds=$(sluice stats --format json | jq -r '"\(.first) \(.last)"')
start_ns=$(date -d "$(echo "$bounds" | cut -d' ' -f1 | cut -c1-10)" +%s)000000000
end_ns=$(( $(date -d "$(echo "$bounds" | cut -d' ' -f2 | cut -c1-10) + 1 day" +%s) ))000000000
urlencode() { jq -rn --arg v "$1" '$v|@uri'; }
volume_query='sum by (level) (count_over_time({service_name=~".+"}[3600000ms]))'
volume_url="http://$loki/loki/api/v1/query_range?query=$(urlencode "$volume_query")&start=$start_ns&end=$end_ns&step=3600000ms"
rare_query="{service_name=~\".+\"} |= \"$needle\""
rare_url="http://$loki/loki/api/v1/query_range?query=$(urlencode "$rare_query")&start=$start_ns&end=$end_ns&limit=100&direction=backward"
volume_sum=$(curl -sf "$volume_url" | jq '[.data.result[].values[][1] | tonumber] | add')
# Every generated record has a service.
[ "$volume_sum" = "$records" ] || { echo "query-e2e: the log-volume query counts $volume_sum lines, $records records indexed" >&2; exit 1; }
rare_lines=$(curl -sf "$rare_url" | jq '[.data.result[].values[]] | length')
[ "$rare_lines" = 1 ] || { echo "query-e2e: the rare-word query found $rare_lines lines, expected 1" >&2; exit 1; }
# The first query of a word reads every segment's term dictionary (the
# terms found are then kept per segment, so hyperfine's warm runs below
# read postings only): timed once for each other needle, each new.
first_queries=""
for i in 0 1 2 4 5 6 7 8 9; do
  word=$(jq -r ".needles[$i]" "$corpus.expected.json")
  url="http://$loki/loki/api/v1/query_range?query=$(urlencode "{service_name=~\".+\"} |= \"$word\"")&start=$start_ns&end=$end_ns&limit=100"
  first_queries="$first_queries $(curl -sf -o /dev/null -w '%{time_total}' "$url")"
done

hyperfine -N --style basic --warmup 3 --runs "$runs" --export-json "$work/query-hyperfine.json" \
  -n search-rare-term "$bin/sluice --data-dir $data search $needle" \
  -n ripgrep-rare-term "rg -c $needle $corpus" \
  -n count-by-level "$bin/sluice --data-dir $data count * --by level" \
  -n histogram "$bin/sluice --data-dir $data histogram *" \
  -n top-service "$bin/sluice --data-dir $data top service" \
  -n sql-group-by "$bin/sluice --data-dir $data sql '$group_by'" \
  -n duckdb-group-by "duckdb -c \"$(duck "$group_by")\"" \
  -n sql-one-day "$bin/sluice --data-dir $data sql \"$day\"" \
  -n duckdb-one-day "duckdb -c \"$(duck "$day")\"" \
  -n loki-volume "curl -sf -o /dev/null $volume_url" \
  -n loki-rare-last-100 "curl -sf -o /dev/null $rare_url" \
  -n histogram-by-level "$bin/sluice --data-dir $data histogram * --by level --interval 1h" \
  > "$work/query-hyperfine.log"

python3 - "$work/query-hyperfine.json" "$records" "$(stat -c %s "$corpus")" "$work/query-results.json" "$first_queries" <<'EOF'
import json, statistics, sys
results, records, raw, out = json.load(open(sys.argv[1]))["results"], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
first = [float(t) * 1000 for t in sys.argv[5].split()]
ms = {r["command"]: r["median"] * 1000 for r in results}
print(f"{records:,} records, {raw / 1e9:.2f} GB of JSON; whole-process medians of {len(results[0]['times'])} warm runs")
targets = {"search-rare-term": 20, "count-by-level": 300, "histogram": 300, "top-service": 300,
           "loki-volume": 300, "loki-rare-last-100": 50}
for name, target in targets.items():
    verdict = "ok" if ms[name] <= target else "MISSED"
    print(f"  {name:18} {ms[name]:8.1f} ms   target <= {target} ms   {verdict}")
ratio = ms["search-rare-term"] / ms["ripgrep-rare-term"]
print(f"  {'ripgrep -c':18} {ms['ripgrep-rare-term']:8.1f} ms   sluice search is {1 / ratio:.0f}x faster ({ratio:.4f}x the time)")
for query in ["group-by", "one-day"]:
    ours, theirs = ms[f"sql-{query}"], ms[f"duckdb-{query}"]
    verdict = "ok" if ours <= 1.5 * theirs else "MISSED"
    print(f"  sql {query:14} {ours:8.1f} ms   DuckDB {theirs:.1f} ms   {ours / theirs:.2f}x (target <= 1.5x)   {verdict}")
print(f"  {'loki-volume':18} vs sluice histogram --by level --interval 1h: {ms['histogram-by-level']:.1f} ms "
      f"({ms['loki-volume'] / ms['histogram-by-level']:.2f}x); loki-rare-last-100 vs ripgrep: "
      f"{ms['ripgrep-rare-term'] / ms['loki-rare-last-100']:.0f}x faster")
print(f"  {'loki-rare, a new word':18} {statistics.median(first):8.1f} ms   (median of {len(first)} first queries, "
      f"each word new: the term dictionaries read; the warm runs above read the kept terms)")
ms["loki-rare-first-query"] = statistics.median(first)
json.dump({"records": records, "raw_bytes": raw, "median_ms": ms}, open(out, "w"), indent=1)
EOF

#!/usr/bin/env bash
# End-to-end HTTP ingest benchmark: the generated corpus sent to
# `sluice-ingest serve` as NDJSON by many concurrent clients (`http-load`,
# one keep-alive connection each), against `sluice-ingest` reading the same
# bytes from stdin in the same run.
#
# Scenarios, each on a fresh data directory:
#   * stdin      cat CORPUS | sluice-ingest (the baseline);
#   * http-1m    CLIENTS clients, bodies of 1 MiB;
#   * http-10m   BIG_CLIENTS clients, bodies of 10 MB;
#   * overload   (once) 64 clients against a server allowing 4 requests in
#                flight and 64 MiB of indexing lag: most requests get 429 and
#                are retried after Retry-After; the server's RSS is sampled.
#
# HTTP seconds run from the first request to the server's exit after SIGTERM,
# so they include the final commit, as stdin's do. Every line is acknowledged
# exactly once (http-load checks the sums). Reports medians over RUNS of MB/s,
# lines/s, requests/s, p50/p99 latency and peak RSS, and HTTP as a share of
# stdin's throughput; writes every measurement to $WORK/http-results.ndjson.
#
#   benches/http-e2e.sh [--size 1GB] [--runs 3] [--clients 16] [--big-clients 8] [--work DIR] [--bin DIR]
#
# --bin DIR takes sluice-ingest, http-load and sluice-corpus from DIR instead
# of building target/release: to measure an earlier build the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
size=1GB runs=3 clients=16 big_clients=8 work=target/bench-e2e bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --big-clients) big_clients=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [ -z "$bin" ]; then
  cargo build -q --release -p sluice-ingest -p sluice-benches --bins
  bin=target/release
fi
"$bin/sluice-ingest" --version
mkdir -p "$work"
# Named by how slots are filled: a work dir may hold corpora of the first,
# uniform kind (sluice-corpus --variables uniform).
corpus="$work/corpus-$size-observed.ndjson"
if [ ! -f "$corpus" ]; then
  "$bin/sluice-corpus" --size "$size" --seed 1 --out "$corpus" --expected "$corpus.expected.json"
fi
raw=$(stat -c %s "$corpus")
results="$work/http-results.ndjson"
: > "$results"

server_time_pid="" server_pid=""
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; true' EXIT

# start_server NAME ARGS...: sluice-ingest serve on a free port, under
# /usr/bin/time (whose line ends $work/NAME.stderr); sets url and server_pid.
start_server() {
  local name=$1; shift
  rm -rf "$work/data"
  /usr/bin/time -f '%e %M' "$bin/sluice-ingest" serve --data-dir "$work/data" --listen 127.0.0.1:0 "$@" \
    2> "$work/$name.stderr" &
  server_time_pid=$!
  local addr=""
  for _ in $(seq 1 300); do
    addr=$(sed -n 's|^sluice-ingest: listening on http://\([^,]*\),.*|\1|p' "$work/$name.stderr")
    [ -n "$addr" ] && break
    sleep 0.1
  done
  [ -n "$addr" ] || { cat "$work/$name.stderr" >&2; exit 1; }
  url="http://$addr/api/v1/ingest"
  server_pid=$(pgrep -P "$server_time_pid" sluice-ingest)
}

# stop_server NAME: SIGTERM, wait for the final commit; sets rss to the
# server's peak RSS (KiB). Not in a subshell: only this shell can wait for it.
stop_server() {
  kill -TERM "$server_pid"
  local status=0
  wait "$server_time_pid" || status=$?
  server_pid=""
  if [ "$status" -ne 0 ]; then
    echo "the server of $1 failed (exit $status):" >&2
    cat "$work/$1.stderr" >&2
    exit 1
  fi
  rss=$(tail -1 "$work/$1.stderr" | cut -d' ' -f2)
}

# http_run NAME RUN BODY_BYTES CLIENTS [SERVER ARGS...]
http_run() {
  local name=$1 run=$2 body=$3 n=$4; shift 4
  start_server "$name" "$@"
  local started ended load
  started=$(date +%s.%N)
  load=$("$bin/http-load" --url "$url" --corpus "$corpus" --body-bytes "$body" --clients "$n" --rss-pid "$server_pid")
  stop_server "$name"
  ended=$(date +%s.%N)
  echo "{\"run\":$run,\"tool\":\"$name\",\"seconds\":$(awk "BEGIN { print $ended - $started }"),\"rss_kib\":$rss,\"load\":$load}" >> "$results"
}

for run in $(seq 1 "$runs"); do
  rm -rf "$work/data"
  read -r seconds rss < <(
    /usr/bin/time -f '%e %M' sh -c "cat '$corpus' | '$bin/sluice-ingest' --data-dir '$work/data'" \
      > /dev/null 2> "$work/stdin.stderr"
    tail -1 "$work/stdin.stderr"
  )
  echo "{\"run\":$run,\"tool\":\"stdin\",\"seconds\":$seconds,\"rss_kib\":$rss}" >> "$results"
  http_run http-1m "$run" 1048576 "$clients"
  http_run http-10m "$run" 10000000 "$big_clients"
done
http_run overload 1 1048576 64 --max-requests-in-flight 4 --max-wal-behind-mib 64
rm -rf "$work/data"

python3 - "$results" "$raw" <<'PY'
import json, statistics, sys
path, raw = sys.argv[1], int(sys.argv[2])
rows = [json.loads(l) for l in open(path)]
def median(tool, get):
    return statistics.median(get(r) for r in rows if r["tool"] == tool)
runs = len([r for r in rows if r["tool"] == "stdin"])
stdin = raw / 1e6 / median("stdin", lambda r: r["seconds"])
lines = next(r["load"]["lines"] for r in rows if "load" in r)
print(f"corpus: {raw / 1e6:.0f} MB, {lines} lines; medians of {runs} runs")
print(f"{'stdin':9} {stdin:6.1f} MB/s {lines / median('stdin', lambda r: r['seconds']):9.0f} lines/s"
      f"  peak RSS {median('stdin', lambda r: r['rss_kib']) / 1024:5.0f} MiB")
for tool in ("http-1m", "http-10m", "overload"):
    if not any(r["tool"] == tool for r in rows):
        continue
    m = lambda get: median(tool, get)
    speed = raw / 1e6 / m(lambda r: r["seconds"])
    load = lambda key: m(lambda r: r["load"][key])
    print(f"{tool:9} {speed:6.1f} MB/s {lines / m(lambda r: r['seconds']):9.0f} lines/s"
          f"  peak RSS {m(lambda r: r['rss_kib']) / 1024:5.0f} MiB  | {speed / stdin:.2f}x stdin"
          f"  ({load('clients')} clients, bodies of {load('body_bytes') / 1e6:.1f} MB)")
    print(f"{'':9} acknowledged {load('mb_per_s'):6.1f} MB/s, {load('requests_per_s'):6.1f} requests/s,"
          f" latency p50 {m(lambda r: r['load']['latency_ms']['p50']):6.0f} ms p99 {m(lambda r: r['load']['latency_ms']['p99']):6.0f} ms,"
          f" 429s {m(lambda r: r['load']['refused']['429']):.0f}")
    if tool == "overload":
        tenths = [r for r in rows if r["tool"] == tool][0]["load"]["rss_kib_by_tenth"]
        print(f"{'':9} server RSS by tenth of the run (MiB): {' '.join(f'{k / 1024:.0f}' for k in tenths)}")
PY

#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input with cargo-fuzz (libFuzzer, with
# AddressSanitizer): line framing, JSON parse + normalize (default and
# strict schema), Elasticsearch bulk, Loki push (JSON and snappy protobuf),
# OTLP logs (protobuf and JSON), the write-ahead log's entries and segments,
# query strings, time expressions and event references. The targets are in
# benches/fuzz/fuzz_targets/; their seed corpora are made from fixtures/ by
# `fuzz-seeds` (benches/fuzz/src/bin).
#
#   benches/fuzz.sh [--minutes 30] [--jobs 1] [TARGET...]   fuzz each target for MINUTES
#   benches/fuzz.sh --check                                  build, and run each target over its
#                                                           seeds and saved regressions once (CI)
#
# Fuzzing needs a nightly toolchain (`cargo +nightly`; with none, the
# stable one with RUSTC_BOOTSTRAP=1) and cargo-fuzz, which it installs if
# missing. The corpus grows in target/fuzz/corpus/TARGET across runs; a
# crash or hang leaves its input in benches/fuzz/artifacts/TARGET/. Copy
# it to benches/fuzz/regressions/TARGET/ once fixed, and add a test of the
# fix to the normal suite. Ends with a table: per target, minutes run,
# executions, executions per second, corpus size and crashes found.
# --check needs no nightly: it builds the targets without instrumentation
# and runs every seed and regression through each (no fuzzing).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=30 jobs=1 check=0 targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --check) check=1; shift ;;
    -*) echo "unknown argument: $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(framing normalize elasticsearch_bulk loki_push otlp_logs wal query_string time_expression event_reference logql)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
fuzz=benches/fuzz
work=target/fuzz
mkdir -p "$work/logs"

# The seed corpora, from fixtures/: an ordinary (dev) build of the fuzz
# crate's own program, in the project's target directory, where the test
# build has already compiled every crate it shares.
export CARGO_TARGET_DIR=target
echo "==> seeds" >&2
cargo build -q --manifest-path "$fuzz/Cargo.toml" --locked --features seeds --bins
target/debug/fuzz-seeds "$work/seeds"

if [ "$check" = 1 ]; then
  # Outside the workspace, so the suite's fmt and clippy do not see it.
  cargo fmt --manifest-path "$fuzz/Cargo.toml" -- --check
  cargo clippy -q --manifest-path "$fuzz/Cargo.toml" --locked --features seeds --all-targets -- -D warnings
  for t in "${targets[@]}"; do
    inputs=("$work/seeds/$t")
    [ -d "$fuzz/regressions/$t" ] && inputs+=("$fuzz/regressions/$t")
    n=$(find "${inputs[@]}" -type f | wc -l)
    # -runs=0: run the given inputs once each, then stop.
    if ! "target/debug/$t" -runs=0 "${inputs[@]}" > "$work/logs/$t.check" 2>&1; then
      cat "$work/logs/$t.check" >&2
      echo "fuzz target $t failed on one of its $n seeds and regressions (above)" >&2
      exit 1
    fi
    echo "fuzz target $t: $n seeds and regressions pass"
  done
  exit 0
fi

if rustup toolchain list | grep -q '^nightly'; then
  nightly=(cargo +nightly)
else
  export RUSTC_BOOTSTRAP=1
  nightly=(cargo)
fi
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
# cargo-fuzz builds in the fuzz crate's own target directory: its flags
# (sanitizer, coverage) would rebuild everything in the project's anyway.
unset CARGO_TARGET_DIR
echo "==> build (release, AddressSanitizer, debug assertions)" >&2
"${nightly[@]}" fuzz build --fuzz-dir "$fuzz" --debug-assertions >&2

run_one() {
  local t=$1 corpus="$work/corpus/$1" artifacts="$fuzz/artifacts/$1"
  mkdir -p "$corpus" "$artifacts"
  local before started status=0
  before=$(find "$artifacts" -type f | wc -l)
  started=$(date +%s)
  "${nightly[@]}" fuzz run --fuzz-dir "$fuzz" --debug-assertions "$t" "$corpus" "$work/seeds/$t" -- \
    -max_total_time=$((minutes * 60)) -timeout=10 -rss_limit_mb=2560 -max_len=1048576 \
    -print_final_stats=1 > "$work/logs/$t.log" 2>&1 || status=$?
  local seconds=$(( $(date +%s) - started ))
  local runs
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/logs/$t.log" | tail -1)
  local crashes=$(( $(find "$artifacts" -type f | wc -l) - before ))
  echo "$t $seconds ${runs:-0} $(find "$corpus" -type f | wc -l) $crashes $status" >> "$summary"
}
# One summary per invocation: several may run at once on different targets.
summary="$work/summary.$$"
export -f run_one
export minutes work fuzz summary
: > "$summary"
for t in "${targets[@]}"; do echo "$t"; done | NIGHTLY="${nightly[*]}" xargs -P "$jobs" -I{} bash -c \
  'nightly=($NIGHTLY); run_one "$1"' _ {}

printf '%-20s %8s %14s %10s %8s %8s\n' target minutes executions exec/s corpus crashes
while read -r t seconds runs corpus crashes status; do
  printf '%-20s %8.1f %14d %10d %8d %8d%s\n' "$t" "$(awk "BEGIN { print $seconds / 60 }")" "$runs" \
    "$(( runs / (seconds > 0 ? seconds : 1) ))" "$corpus" "$crashes" \
    "$([ "$status" != 0 ] && echo "  (exit $status: see $work/logs/$t.log)")"
done < "$summary"

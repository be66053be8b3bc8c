#!/usr/bin/env bash
# Runs the parse + normalize criterion bench RUNS times (default 3) and prints
# each run's median throughput for Sluice and its two same-run baselines,
# with ratios. Medians, not means: this machine's noise comes in bursts that
# drag means far more than medians.
#
#   benches/normalize-medians.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
for run in $(seq 1 "$runs"); do
  cargo bench -q -p sluice-benches --bench normalize -- mixed_producers > /dev/null 2>&1
  python3 - "$run" <<'PY'
import json, sys
base = "target/criterion/mixed_producers"
def mbps(name):
    estimates = json.load(open(f"{base}/{name}/new/estimates.json"))
    bench = json.load(open(f"{base}/{name}/new/benchmark.json"))
    return bench["throughput"]["Bytes"] / estimates["median"]["point_estimate"] * 1e9 / 1e6
sluice, tape, serde = (mbps(n) for n in ("parse_and_normalize", "simd_json_tape", "serde_json_value"))
print(f"run {sys.argv[1]}: parse_and_normalize {sluice:.1f} MB/s median; "
      f"simd_json_tape {tape:.1f} MB/s ({sluice / tape:.2f}x of it); "
      f"serde_json_value {serde:.1f} MB/s ({sluice / serde:.2f}x of it)")
PY
done

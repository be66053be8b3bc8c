#!/usr/bin/env bash
# Soak: `sluice-ingest serve` under bursty load for a long while (not in CI).
#
# Cycles of CYCLE seconds: quiet for most of it (QUIET_CLIENTS clients
# posting 64 KiB bodies, one slice of the corpus every 5 s), then a spike of
# ten times the clients (SPIKE_CLIENTS, 1 MiB bodies, SPIKE_MB of the
# corpus as fast as the server takes it). The server runs with background
# compaction (--compact-after 1m). Every SAMPLE seconds it samples the
# server: resident memory, open descriptors, write-ahead log bytes, archive
# files, index segments, lines acknowledged. At the end it stops the
# server, counts what `sluice` finds, and prints a summary table.
#
# Pass: after warm-up (the first two cycles), memory does not grow from
# cycle to cycle: over the whole cycles after warm-up, the later half's
# median per-cycle low RSS (the quiet floor) is within 25% of the earlier
# half's, and so is the later half's highest per-cycle peak (a spike) of
# the earlier half's; descriptors stay within 32 of their median; every
# acknowledged line is stored once (`sluice count '*'` equals the lines the
# clients had acknowledged). RSS is bursty by design (a spike's requests
# and batches are in memory at once), so it is compared cycle with cycle,
# phase with phase, not sample with median.
#
#   benches/soak.sh [--minutes 30] [--cycle 120] [--quiet-clients 2] [--spike-clients 20]
#                   [--spike-mb 100] [--sample 10] [--profile release] [--work DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=30 cycle=120 quiet_clients=2 spike_clients=20 spike_mb=100 sample=10 profile=release work=target/soak
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --cycle) cycle=$2; shift 2 ;;
    --quiet-clients) quiet_clients=$2; shift 2 ;;
    --spike-clients) spike_clients=$2; shift 2 ;;
    --spike-mb) spike_mb=$2; shift 2 ;;
    --sample) sample=$2; shift 2 ;;
    --profile) profile=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
cargo build -q --profile "$profile" -p sluice-ingest -p sluice-query -p sluice-benches --bins
bin=target/$([ "$profile" = dev ] && echo debug || echo "$profile")
mkdir -p "$work"
corpus="$work/corpus.ndjson"
[ -f "$corpus" ] || "$bin/sluice-corpus" --size "$((spike_mb * 2))MB" --seed 7 --malformed 0 --out "$corpus"
rm -rf "$work/data" "$work/loads.ndjson" "$work/samples.tsv"

"$bin/sluice-ingest" serve --data-dir "$work/data" --listen 127.0.0.1:0 --compact-after 1m \
  2> "$work/server.stderr" &
server=$!
trap 'kill "$server" 2>/dev/null; kill $(jobs -p) 2>/dev/null; true' EXIT
addr=""
for _ in $(seq 1 300); do
  addr=$(sed -n 's|^sluice-ingest: listening on http://\([^,]*\),.*|\1|p' "$work/server.stderr")
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { cat "$work/server.stderr" >&2; exit 1; }
url="http://$addr/api/v1/ingest"

metric() { curl -s "http://$addr/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# The sampler: one line every $sample seconds.
(
  printf 'seconds\trss_mib\tfds\twal_mib\tarchive_files\tsegments\tacked_lines\n'
  start=$(date +%s)
  while kill -0 "$server" 2>/dev/null; do
    rss=$(awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$server/status" 2>/dev/null || echo 0)
    fds=$(ls "/proc/$server/fd" 2>/dev/null | wc -l)
    wal=$(du -sm "$work/data/wal" 2>/dev/null | cut -f1)
    files=$(find "$work/data/archive" -name '*.parquet' 2>/dev/null | wc -l)
    segments=$(find "$work/data/index" -name '*.idx' 2>/dev/null | wc -l)
    acked=$(metric sluice_ingest_lines_accepted_total)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(( $(date +%s) - start ))" "$rss" "$fds" "${wal:-0}" "$files" "$segments" "${acked:-0}"
    sleep "$sample"
  done
) > "$work/samples.tsv" &
sampler=$!

load() { # CLIENTS BODY_BYTES LIMIT_BYTES: one http-load run, its JSON appended
  "$bin/http-load" --url "$url" --corpus "$corpus" --clients "$1" --body-bytes "$2" --limit-bytes "$3" \
    >> "$work/loads.ndjson"
}

end=$(( $(date +%s) + minutes * 60 ))
cycles=0
while [ "$(date +%s)" -lt "$end" ]; do
  cycle_end=$(( $(date +%s) + cycle ))
  spike_at=$(( cycle_end - cycle / 6 ))
  while [ "$(date +%s)" -lt "$spike_at" ] && [ "$(date +%s)" -lt "$end" ]; do
    load "$quiet_clients" 65536 1000000
    sleep 5
  done
  [ "$(date +%s)" -lt "$end" ] && load "$spike_clients" 1048576 "$((spike_mb * 1000000))"
  while [ "$(date +%s)" -lt "$cycle_end" ] && [ "$(date +%s)" -lt "$end" ]; do sleep 1; done
  cycles=$((cycles + 1))
done

kill -TERM "$server"
wait "$server" || { echo "the server failed:" >&2; cat "$work/server.stderr" >&2; exit 1; }
wait "$sampler" 2>/dev/null || true
trap - EXIT
stored=$("$bin/sluice" --data-dir "$work/data" count '*' --format json | sed 's/.*"count":\([0-9]*\).*/\1/')

python3 - "$work" "$cycles" "$cycle" "$sample" "$stored" <<'EOF'
import json, statistics, sys
work, cycles, cycle, sample, stored = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rows = [line.rstrip("\n").split("\t") for line in open(f"{work}/samples.tsv")]
head, rows = rows[0], [[int(float(x or 0)) for x in r] for r in rows[1:] if len(r) == len(rows[0])]
loads = [json.loads(l) for l in open(f"{work}/loads.ndjson")]
acked = sum(l["accepted"] for l in loads)
quiet = [l for l in loads if l["body_bytes"] == 65536]
spikes = [l for l in loads if l["body_bytes"] != 65536]
print("\t".join(head))
for r in rows:
    print("\t".join(str(x) for x in r))
warm = [r for r in rows if r[0] >= 2 * cycle] or rows
rss = [r[1] for r in warm]
fds = [r[2] for r in warm]
med = lambda xs: statistics.median(xs) if xs else 0
def pct(ls, key):
    return med([l["latency_ms"][key] for l in ls])
print()
print(f"cycles {cycles}; samples {len(rows)} every {sample}s; lines acknowledged {acked}, stored {stored}")
print(f"quiet loads {len(quiet)}: median p50 {pct(quiet, 'p50'):.1f} ms, median p99 {pct(quiet, 'p99'):.1f} ms, "
      f"median {med([l['mb_per_s'] for l in quiet]):.2f} MB/s")
print(f"spikes {len(spikes)}: median p50 {pct(spikes, 'p50'):.1f} ms, median p99 {pct(spikes, 'p99'):.1f} ms, "
      f"median {med([l['mb_per_s'] for l in spikes]):.1f} MB/s, 429s {sum(l['refused']['429'] for l in spikes)}")
print(f"after warm-up: RSS {min(rss)}-{max(rss)} MiB (median {med(rss)}), descriptors {min(fds)}-{max(fds)} (median {med(fds)})")
# Whole cycles only: a cut-off last cycle may miss its spike.
by_cycle = {}
for r in warm:
    by_cycle.setdefault(r[0] // cycle, []).append(r[1])
whole = [v for _, v in sorted(by_cycle.items()) if len(v) >= cycle // sample]
lows, peaks = [min(v) for v in whole], [max(v) for v in whole]
half = len(whole) // 2
if half >= 1:
    early_low, late_low = med(lows[:half]), med(lows[half:])
    early_peak, late_peak = max(peaks[:half]), max(peaks[half:])
    print(f"per cycle after warm-up: lows {lows} MiB, peaks {peaks} MiB; later half against earlier: "
          f"median low {late_low} vs {early_low}, highest peak {late_peak} vs {early_peak}")
    ok_rss = late_low <= 1.25 * early_low and late_peak <= 1.25 * early_peak
else:
    print("fewer than two whole cycles after warm-up: RSS growth not judged")
    ok_rss = False
ok_fds = max(fds) - med(fds) <= 32
ok_lines = acked == stored
print(f"RSS flat: {'pass' if ok_rss else 'FAIL'}; descriptors flat: {'pass' if ok_fds else 'FAIL'}; "
      f"every acknowledged line stored once: {'pass' if ok_lines else 'FAIL'}")
sys.exit(0 if ok_rss and ok_fds and ok_lines else 1)
EOF

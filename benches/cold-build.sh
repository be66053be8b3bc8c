#!/bin/bash
# The Quick start's first command, timed from nothing: an empty CARGO_HOME
# (registry index and crates downloaded again) and no target/.
#
#   git clone . /tmp/cold && benches/cold-build.sh /tmp/cold
#
# Writes what the command printed, then `rc=… wall=… s`, to CLONE_DIR.out,
# and /usr/bin/time -v's report (CPU seconds, peak RSS) to CLONE_DIR.time.
# Run it on an otherwise idle machine: it measures compile time.
set -u
dir=$(cd "${1:?usage: benches/cold-build.sh CLONE_DIR}" && pwd)
# The toolchain stays where rustup put it; only the registry and git caches
# start empty.
export RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_HOME=$dir-cargo
rm -rf "$CARGO_HOME" "$dir/target" "$dir/sluice-data"
mkdir -p "$CARGO_HOME"
cd "$dir"
start=$(date +%s)
/usr/bin/time -v -o "$dir.time" bash -c "cargo run -q -p sluice-ingest -- fixtures/producers/*.ndjson && cargo run -q -p sluice-query -- search 'level:error OR level:fatal' --limit 6" > "$dir.out" 2>&1
rc=$?
end=$(date +%s)
echo "rc=$rc wall=$((end-start)) s" >> "$dir.out"

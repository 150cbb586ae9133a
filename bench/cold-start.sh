#!/usr/bin/env bash
# Cold start of `renkei serve --demo` on an empty data directory, release build: the time from
# launching the process until /healthz answers 200 (migrations, region, 616 demo institutions).
# Usage: bench/cold-start.sh [RUNS]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
cargo build --release --locked -q
bin="$PWD/target/release/renkei"
port=18080
times=()
for i in $(seq 1 "$runs"); do
  dir=$(mktemp -d)
  start=$(date +%s%N)
  (cd "$dir" && RENKEI_LOG=warn "$bin" serve --demo --listen "127.0.0.1:$port" >/dev/null 2>&1 &)
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do sleep 0.005; done
  end=$(date +%s%N)
  times+=($(( (end - start) / 1000000 )))
  pkill -TERM -f "$bin serve --demo --listen 127.0.0.1:$port" || true
  while pgrep -f "$bin serve --demo --listen 127.0.0.1:$port" >/dev/null; do sleep 0.01; done
  rm -rf "$dir"
  printf 'run %2d: %4d ms\n' "$i" "${times[-1]}"
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
echo "cold start over $runs runs: min ${sorted[0]} ms, median ${sorted[$((runs / 2))]} ms, max ${sorted[-1]} ms"

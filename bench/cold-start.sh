#!/usr/bin/env bash
# Cold start of `renkei serve --demo` on an empty data directory, release build: the time from
# launching the process until /healthz answers 200 (migrations, region, 616 demo institutions,
# the demo accounts), and until it also reports the directory index loaded (near searches from
# memory). Prints the date and commit first, so the figures can be recorded with them.
# Usage: bench/cold-start.sh [RUNS]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
cargo build --release --locked -q
bin="$PWD/target/release/renkei"
dirty=$(git diff --quiet HEAD 2>/dev/null || echo "-dirty")
echo "cold start, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)$dirty, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
port=18080
up=()
loaded=()
for i in $(seq 1 "$runs"); do
  dir=$(mktemp -d)
  start=$(date +%s%N)
  (cd "$dir" && RENKEI_LOG=warn "$bin" serve --demo --listen "127.0.0.1:$port" >/dev/null 2>&1 &)
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do sleep 0.005; done
  up+=($(( ($(date +%s%N) - start) / 1000000 )))
  until curl -sf "http://127.0.0.1:$port/healthz" 2>/dev/null | grep -q '"directory_index":"loaded"'; do sleep 0.005; done
  loaded+=($(( ($(date +%s%N) - start) / 1000000 )))
  pkill -TERM -f "$bin serve --demo --listen 127.0.0.1:$port" || true
  while pgrep -f "$bin serve --demo --listen 127.0.0.1:$port" >/dev/null; do sleep 0.01; done
  rm -rf "$dir"
  printf 'run %2d: healthy %4d ms, index loaded %4d ms\n' "$i" "${up[-1]}" "${loaded[-1]}"
done
summary() { # summary NAME VALUES...
  local name=$1
  shift
  local sorted=($(printf '%s\n' "$@" | sort -n))
  echo "$name over $runs runs: min ${sorted[0]} ms, median ${sorted[$((runs / 2))]} ms, max ${sorted[-1]} ms"
}
summary "healthy (/healthz 200)" "${up[@]}"
summary "directory index loaded" "${loaded[@]}"

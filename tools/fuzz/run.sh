#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for a set time each (default 60 s) and says, per target, how
# many inputs it ran and whether it found a crash. Needs the nightly toolchain and cargo-fuzz:
#
#   rustup toolchain install nightly
#   cargo install cargo-fuzz --locked
#
# Usage: tools/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET ...]
# A crash leaves its input in fuzz/artifacts/<target>/; turn it into a regression test (see
# TESTING.md) and fix the parser. The corpus grows in fuzz/corpus/<target>/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(directory_import text_normalise wareki fhir_search address_locate)
fi

# Seeds: the real inputs each parser sees.
seed() {
  local dir="fuzz/corpus/$1"
  mkdir -p "$dir"
  case "$1" in
    directory_import)
      head -c 4000 data/postcodes.csv > "$dir/postcodes.csv"
      printf 'ID,名称,よみがな,種別,地域,郵便番号,所在地,電話,緯度,経度,できること,積極的医療機関,デモ\n,八尾クリニック,ヤオクリニック,診療所,八尾市,581-0003,八尾市本町1-1-1,072-000-0000,34.62,135.60,訪問診療;看取り,○,\n' > "$dir/one-row.csv" ;;
    text_normalise) printf 'ｻｸｼｮﾝ　訪問診療 ２４時間　ﾔｵ' > "$dir/mixed.txt" ;;
    wareki)
      printf '令和7年度' > "$dir/r7.txt"; printf 'R7.4.1' > "$dir/r7-date.txt"
      printf '平成31年4月30日' > "$dir/h31.txt"; printf '令和元年5月1日' > "$dir/gannen.txt" ;;
    fhir_search)
      printf 'name=%%E5%%85%%AB%%E5%%B0%%BE&_count=10&near=34.6|135.6|5|km&_include=Location:organization' > "$dir/near.txt"
      printf '_lastUpdated=ge2026-01-01T00:00:00Z&_sort=-_lastUpdated&address-city=八尾市' > "$dir/updated.txt" ;;
    address_locate)
      printf '八尾市本町1-1' > "$dir/address.txt"; printf '〒581-0003' > "$dir/postcode.txt"
      printf '34.6265,135.6010' > "$dir/point.txt" ;;
  esac
}

status=0
for t in "${targets[@]}"; do
  seed "$t"
  echo "== $t (${seconds} s)"
  log="$(mktemp)"
  if cargo +nightly fuzz run "$t" "fuzz/corpus/$t" -- -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
    runs="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?')"
    echo "   ok: ${runs} inputs, no crash"
  else
    status=1
    echo "   CRASH: input kept under fuzz/artifacts/$t/"
    grep -E 'panicked|ERROR|SUMMARY' "$log" | head -5 || true
  fi
  rm -f "$log"
done
exit "$status"

#!/usr/bin/env bash
# The README's test command: sets up what the test suite needs on a fresh Debian machine, runs
# `cargo test --workspace`, and ends with a summary (build and test times, totals, every skip).
#
#   tools/test.sh                  everything
#   tools/test.sh -p renkei-web    extra arguments go to `cargo test`
#   tools/test.sh --setup-only     install and start what is missing, run nothing
#
# What it sets up when missing:
#   - Debian packages: chromium chromium-driver fonts-noto-cjk (browser tests),
#     libreoffice-calc-nogui poppler-utils (the report's workbook), nginx-light (two instances
#     behind a load balancer), python3-venv (the FHIR validator's venv). As root they are
#     installed with apt-get; otherwise the script names the one-line install and stops before
#     running anything.
#   - PostgreSQL at 127.0.0.1:5432: started with pg_ctlcluster when installed but down.
#   - The FHIR validator's venv in target/fhir-venv (Python's fhir.resources from PyPI).
#
# Outside CI, RENKEI_TEST_SKIP_{POSTGRES,BROWSER,OFFICE,NGINX,FHIR_VALIDATOR}=1 skip a part on
# purpose (its tools are then not required); every skip is listed in the summary. In CI (`CI` set
# to any value) nothing is skipped: a missing tool fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

setup_only=false
if [ "${1:-}" = "--setup-only" ]; then
  setup_only=true
  shift
elif [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

in_ci=false
if [ -n "${CI+set}" ]; then in_ci=true; fi
skipping() { # skipping NAME: whether RENKEI_TEST_SKIP_NAME=1 applies (never in CI)
  local var="RENKEI_TEST_SKIP_$1"
  [ "$in_ci" = false ] && [ "${!var:-}" = "1" ]
}

# --- Debian packages -------------------------------------------------------------------------
missing=()
need() { # need PACKAGE TEST...: PACKAGE is missing unless one of the tests succeeds
  local package=$1
  shift
  if ! "$@" >/dev/null 2>&1; then missing+=("$package"); fi
}
if ! skipping BROWSER; then
  need chromium test -x /usr/bin/chromium
  need chromium-driver test -x /usr/bin/chromedriver
  need fonts-noto-cjk sh -c 'fc-list | grep -qi "Noto Sans CJK"'
fi
if ! skipping OFFICE; then
  # soffice alone is not enough: without Calc it "converts" a workbook into nothing, silently.
  need libreoffice-calc-nogui sh -c 'test -x /usr/bin/soffice && test -e /usr/lib/libreoffice/program/libsclo.so'
  need poppler-utils sh -c 'test -x /usr/bin/pdftotext && test -x /usr/bin/pdfinfo'
fi
if ! skipping NGINX; then
  need nginx-light sh -c 'test -x /usr/sbin/nginx || test -x /usr/bin/nginx'
fi
if ! skipping FHIR_VALIDATOR; then
  need python3-venv python3 -c 'import ensurepip, venv'
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "The tests need Debian packages that are missing. Install them with:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    echo "then run tools/test.sh again (outside CI, RENKEI_TEST_SKIP_BROWSER/OFFICE/NGINX/FHIR_VALIDATOR=1 skip a part)." >&2
    exit 1
  fi
fi

# --- PostgreSQL ------------------------------------------------------------------------------
pg_url="${RENKEI_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
if ! skipping POSTGRES && [ -z "${RENKEI_TEST_POSTGRES_URL:-}" ] && command -v pg_isready >/dev/null 2>&1 \
  && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ] && [ "$(id -u)" = 0 ]; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    echo "== starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
  if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    echo "PostgreSQL is not answering at 127.0.0.1:5432. Start it (e.g. sudo pg_ctlcluster 15 main start)," >&2
    echo "point RENKEI_TEST_POSTGRES_URL at another server, or (outside CI) set RENKEI_TEST_SKIP_POSTGRES=1." >&2
    exit 1
  fi
fi

# --- The FHIR validator's venv ---------------------------------------------------------------
if ! skipping FHIR_VALIDATOR; then
  echo "== FHIR validator (tools/fhir-validate)"
  tools/fhir-validate/ensure.sh target/fhir-venv >/dev/null
fi

if [ "$setup_only" = true ]; then
  echo "== set up; nothing run (--setup-only)"
  exit 0
fi

# --- Build, then test ------------------------------------------------------------------------
mkdir -p target
skip_log="$PWD/target/test-skips.log"
output="$PWD/target/test-output.log"
: >"$skip_log"
export RENKEI_TEST_SKIP_LOG="$skip_log"

echo "== building the tests (cargo test --workspace --no-run)"
build_start=$(date +%s)
cargo test --workspace --no-run "$@"
build_seconds=$(($(date +%s) - build_start))

echo "== cargo test --workspace --no-fail-fast $*"
test_start=$(date +%s)
set +e
cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$output"
status=${PIPESTATUS[0]}
set -e
test_seconds=$(($(date +%s) - test_start))

# --- Summary ---------------------------------------------------------------------------------
totals=$(grep -E '^test result:' "$output" | awk '
  { for (i = 1; i <= NF; i++) {
      if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) g += $i } }
  END { printf "%d passed, %d failed, %d ignored", p, f, g }')
echo
echo "== summary"
echo "build: ${build_seconds} s; tests: ${test_seconds} s"
echo "tests: ${totals}"
echo "CI: ${in_ci}"
if [ -s "$skip_log" ]; then
  echo "skips ($(sort -u "$skip_log" | wc -l | tr -d ' ') kinds, $(wc -l <"$skip_log" | tr -d ' ') tests):"
  sort "$skip_log" | uniq -c | sed 's/^/  /'
else
  echo "skips: none"
fi
if [ "$status" -ne 0 ]; then
  echo "FAILED (cargo test exited $status); the failures are above and in target/test-output.log"
  grep -E '^    [a-z_:0-9]+$|^test .* FAILED$' "$output" | sort -u | sed 's/^/  /' || true
fi
exit "$status"

#!/usr/bin/env bash
# Property-based API fuzzing: schemathesis (from PyPI) against a live `renkei serve --demo`,
# driven by the server's own /api/openapi.json. Every documented operation gets generated
# requests, valid and invalid, and every check runs: no 5xx, statuses, media types and bodies as
# documented, invalid input refused, valid input accepted, auth enforced, 405 for methods the
# document does not list.
#
# Usage: tools/api-fuzz/run.sh [--max-examples N] [--database-url URL] [--binary PATH] [--seed N]
#   --max-examples  generated cases per operation and phase (default 100)
#   --database-url  PostgreSQL instead of SQLite in a fresh directory
#   --binary        the renkei binary (default target/release/renkei; build it first)
# Reports (JUnit XML, and a pytest file reproducing each failure) go to target/api-fuzz/.
# The venv lives in target/api-fuzz-venv (override with API_FUZZ_VENV); it needs PyPI once.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."

venv="${API_FUZZ_VENV:-target/api-fuzz-venv}"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$venv/bin/schemathesis" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "api-fuzz: installing schemathesis into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" || { echo "api-fuzz: python3 -m venv failed (apt-get install python3-venv)" >&2; exit 2; }
  "$venv/bin/pip" install --disable-pip-version-check --no-input -q -r "$here/requirements.txt" \
    || { echo "api-fuzz: pip install failed (is PyPI reachable?)" >&2; exit 2; }
  echo "$want" > "$stamp"
fi
venv=$(cd "$venv" && pwd)
exec "$venv/bin/python" "$here/fuzz.py" --schemathesis "$venv/bin/schemathesis" "$@"

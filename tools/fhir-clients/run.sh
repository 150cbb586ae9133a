#!/usr/bin/env bash
# Real FHIR clients against a live `renkei serve --demo`: fhirpy (beda.software) and fhirclient
# (SMART on FHIR), as integrators use them — the review's mCSD queries, paging to the end,
# counts, includes, POST _search and XML. Fails on any client error or wrong answer.
#
# Usage: tools/fhir-clients/run.sh [--binary PATH] [--database-url URL]
#   --binary        the renkei binary (default target/release/renkei; build it first)
#   --database-url  PostgreSQL instead of SQLite in a fresh directory
# The venv lives in target/fhir-clients-venv (override with FHIR_CLIENTS_VENV); it needs PyPI once.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."

venv="${FHIR_CLIENTS_VENV:-target/fhir-clients-venv}"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "fhir-clients: installing fhirpy and fhirclient into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" || { echo "fhir-clients: python3 -m venv failed (apt-get install python3-venv)" >&2; exit 2; }
  "$venv/bin/pip" install --disable-pip-version-check --no-input -q -r "$here/requirements.txt" \
    || { echo "fhir-clients: pip install failed (is PyPI reachable?)" >&2; exit 2; }
  echo "$want" > "$stamp"
fi
venv=$(cd "$venv" && pwd)
exec "$venv/bin/python" "$here/clients.py" "$@"

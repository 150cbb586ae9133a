#!/usr/bin/env bash
# Usage: ensure.sh VENV_DIR
#
# Makes sure VENV_DIR holds a Python virtualenv with the pinned validator
# dependencies (requirements.txt beside this script), creating or refreshing
# it when needed, then prints the absolute path of its python on stdout.
# Nothing else goes to stdout; progress and errors go to stderr.
#
# Environment: PYTHON  interpreter used to create the venv (default: python3).
set -euo pipefail

die() { echo "fhir-validate/ensure.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: ensure.sh VENV_DIR"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
req="$here/requirements.txt"
[ -f "$req" ] || die "missing $req"

mkdir -p "$1" || die "cannot create $1"
venv=$(cd "$1" && pwd)
py="$venv/bin/python"
stamp="$venv/.fhir-validate-requirements.sha256"

want=$(sha256sum "$req" | cut -d' ' -f1)

# Ready when the same requirements are installed and importable.
ready() {
    [ -x "$py" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
        && "$py" -c 'import fhir.resources' >/dev/null 2>&1
}

if ready; then
    echo "$py"
    exit 0
fi

# Tests may call this concurrently: serialise installs with a lock file
# beside the venv, then check again in case another caller just finished.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$venv.lock"
    flock 9
    if ready; then
        echo "$py"
        exit 0
    fi
fi

# Start from scratch so no stale packages from older pins survive, but never
# wipe a directory that is not (or was not meant to be) a venv.
if [ -n "$(ls -A "$venv")" ] && [ ! -f "$venv/pyvenv.cfg" ]; then
    die "$venv exists, is not empty and is not a venv; refusing to replace it"
fi

base=${PYTHON:-python3}
command -v "$base" >/dev/null 2>&1 || die "$base not found; install Python 3.11+"
# The pinned dnspython needs Python >= 3.11.
"$base" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$base is $("$base" -V 2>&1); Python 3.11+ is required"

echo "fhir-validate: creating venv in $venv" >&2
start=$SECONDS
rm -rf "$venv"
"$base" -m venv "$venv" >&2 \
    || die "'$base -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"
[ -x "$py" ] || die "venv created without $py"

echo "fhir-validate: installing $(grep -c '^[^#]' "$req") pinned packages" >&2
"$py" -m pip install --disable-pip-version-check --no-input -q -r "$req" >&2 \
    || die "pip install -r $req failed (is PyPI reachable?)"
"$py" -c 'import fhir.resources' >&2 \
    || die "fhir.resources does not import after install"

echo "$want" >"$stamp"
echo "fhir-validate: ready in $((SECONDS - start))s" >&2
echo "$py"

#!/usr/bin/env bash
# "Builds" the Flask app into DIR (default out/ beside this script): DIR/app/app.py, run by Debian's
# /usr/bin/python3 with python3-flask (scripts/setup installs it). Nothing to compile; this checks
# that the interpreter finds Flask.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mkdir -p "${1:-$here/out}" && cd "${1:-$here/out}" && pwd)"
/usr/bin/python3 -c 'import flask' || { echo "build.sh: Debian's python3-flask is missing (scripts/setup)" >&2; exit 1; }
mkdir -p "$out/app"
cp "$here/app.py" "$out/app/app.py"
echo "built $out/app/app.py"

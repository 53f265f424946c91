#!/usr/bin/env bash
# "Builds" the gunicorn app into DIR (default out/ beside this script): DIR/app/app.py (the Flask
# app of samples/flask-app), served by Debian's gunicorn with python3-flask (scripts/setup installs
# both). Nothing to compile; this checks that gunicorn and Flask are there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mkdir -p "${1:-$here/out}" && cd "${1:-$here/out}" && pwd)"
[ -x /usr/bin/gunicorn ] || { echo "build.sh: Debian's gunicorn is missing (scripts/setup)" >&2; exit 1; }
/usr/bin/python3 -c 'import flask' || { echo "build.sh: Debian's python3-flask is missing (scripts/setup)" >&2; exit 1; }
mkdir -p "$out/app"
cp "$here/../flask-app/app.py" "$out/app/app.py"
echo "built $out/app/app.py"

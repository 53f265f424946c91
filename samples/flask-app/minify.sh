#!/usr/bin/env bash
# Usage: minify.sh [DIR [MINIFY_OPTIONS...]] (options go to minify, e.g. --base scratch).
# Minifies the Flask app: minify runs `python3 app.py` in the app's directory, waits for /healthz,
# GETs / and stops it; the trace sees every module the interpreter imported. Writes DIR (default out/
# beside this script): minify/, image.tar, image.oci.tar; prints the sizes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../common.sh"
out="$(mkdir -p "${1:-$here/out}" && cd "${1:-$here/out}" && pwd)"
port="${PORT:-8082}"
if [ $# -gt 0 ]; then shift; fi  # the rest are extra minify options, e.g. --base scratch
"$here/build.sh" "$out"
# Debian's interpreter by its full path: a pyenv or venv python3 earlier on PATH has no python3-flask.
pack_sample "$out" flask-app "$@" --workdir "$out/app" --env "PORT=$port" --env PYTHONDONTWRITEBYTECODE=1 \
  --probe "http://127.0.0.1:$port/healthz" --probe "http://127.0.0.1:$port/" --timeout 60s \
  /usr/bin/python3 app.py
print_sizes "$out" python:3.11 "1 GB"

#!/usr/bin/env bash
# Usage: minify.sh [DIR [MINIFY_OPTIONS...]] (options go to minify, e.g. --base scratch).
# Minifies the Flask app served by gunicorn (one worker): minify runs `gunicorn app:app` in the
# app's directory, waits for /healthz, GETs / and stops it. gunicorn binds 0.0.0.0:$PORT when PORT
# is set. pkg_resources reads the metadata of every distribution on sys.path; --granularity module
# ships the Python packages it imports whole, which keeps the runner stage short. Writes DIR
# (default out/ beside this script): minify/, image.tar, image.oci.tar; prints the sizes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../common.sh"
out="$(mkdir -p "${1:-$here/out}" && cd "${1:-$here/out}" && pwd)"
port="${PORT:-8084}"
if [ $# -gt 0 ]; then shift; fi  # the rest are extra minify options, e.g. --base scratch
"$here/build.sh" "$out"
pack_sample "$out" gunicorn-app --granularity module "$@" --workdir "$out/app" --env "PORT=$port" \
  --env PYTHONDONTWRITEBYTECODE=1 \
  --probe "http://127.0.0.1:$port/healthz" --probe "http://127.0.0.1:$port/" --timeout 60s \
  /usr/bin/gunicorn --workers 1 app:app
print_sizes "$out" python:3.11 "1 GB"

#!/usr/bin/env bash
# Builds the Node app into DIR (default out/ beside this script): DIR/app with server.js and
# node_modules from `npm ci` (runtime and devDependencies, from the npm registry, as a developer's
# checkout has them; the npm cache first, then the registry), then runs its test. node is /usr/bin/node.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mkdir -p "${1:-$here/out}" && cd "${1:-$here/out}" && pwd)"
mkdir -p "$out/app"
cp "$here/package.json" "$here/package-lock.json" "$here/server.js" "$here/test.js" "$out/app/"
cd "$out/app"
npm ci --prefer-offline --no-audit --no-fund --loglevel=error
npm test --silent
echo "built $out/app (node_modules: $(ls node_modules | tr '\n' ' '))"

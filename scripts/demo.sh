#!/usr/bin/env bash
# The dashboard demo, from a fresh clone: installs what the npm package's
# build needs (the wasm32 target, wasm-bindgen-cli, the npm dependencies),
# builds the package, then starts the test API server with the demo API
# (200,000 records, 30 ms latency, a 100 requests/s rate limit answering
# 429 beyond it, 0.5% 5xx) serving the dashboard, and prints the URL to
# open. Arguments go to the server (e.g. --port 8080). Ctrl-C stops it.
#
#   ./scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

printf '==> install: wasm32 target, wasm-bindgen-cli (when missing)\n'
scripts/install-tools.sh
printf '==> npm dependencies and the npm package (WebAssembly)\n'
if [ ! -d node_modules/uplot ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build
printf '==> the demo server (Ctrl-C stops it)\n'
exec cargo run --release -p pagewise-testserver -- --demo "$@"

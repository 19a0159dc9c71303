#!/usr/bin/env bash
# Runs every test suite of pagewise, installing what it needs first
# (idempotent: quick when everything is already there).
#
#   native   cargo test: core in simulated time, blocking and async clients
#            against the test API server, doc tests, the test server itself
#   wasm     the library in headless Chromium (wasm-bindgen-test)
#   npm      the npm package in Node 20 and in Chromium (playwright-core)
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.130
step() { printf '\n==> %s\n' "$*"; }

step "install: wasm32 target, wasm-bindgen-cli $WASM_BINDGEN_VERSION, chromium + chromedriver"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium chromium-driver
fi
export CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}"

step "native: unit, integration and doc tests (library and test server)"
cargo test --workspace --all-targets
cargo test --workspace --doc

step "the library depends on no async runtime"
if cargo tree -p pagewise -e normal --prefix none | grep -E '^(tokio|async-std|smol|async-io|async-global-executor) '; then
  echo "error: a runtime crate is among the library's dependencies" >&2
  exit 1
fi

step "wasm32: the library in headless Chromium against the test API server"
cargo build -p pagewise-testserver
server_log=$(mktemp)
./target/debug/pagewise-testserver --port 0 --records 2345 --latency-ms 1 >"$server_log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q '^listening on ' "$server_log" && break; sleep 0.1; done
PAGEWISE_TEST_SERVER=$(sed -n 's/^listening on //p' "$server_log")
[ -n "$PAGEWISE_TEST_SERVER" ] || { echo "error: the test server did not start" >&2; cat "$server_log" >&2; exit 1; }
export PAGEWISE_TEST_SERVER
cargo test --target wasm32-unknown-unknown --test wasm_browser
kill $server_pid 2>/dev/null || true
trap - EXIT

if [ -f package.json ]; then
  step "npm: build the package, test it in Node 20 and in Chromium"
  npm ci --no-audit --no-fund
  npm run build
  npm test
fi

step "all suites passed"

#!/usr/bin/env bash
# Runs every test suite of pagewise, installing what it needs first
# (idempotent: quick when everything is already there).
#
#   native   cargo test: core in simulated time, blocking and async clients
#            against the test API server, doc tests, the test server itself
#   wasm     the library in headless Chromium (wasm-bindgen-test), and the
#            fault matrix there against a second test server
#   npm      the npm package in Node 20 and in Chromium (playwright-core)
#   www      the dashboard end to end in Chromium (playwright-core, axe-core)
#   packages the packed crate and npm package, each used from a fresh project
#            (scripts/package-check.sh); the MSRV, feature and doc checks
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# Every suite's output also goes to a log, from which the closing line counts
# the tests of all suites (cargo's "test result" lines, node's "# pass/# fail").
summary_log=$(mktemp)
suite() {
  "$@" 2>&1 | tee -a "$summary_log"
  return "${PIPESTATUS[0]}"
}

step "install: wasm32 target, wasm-bindgen-cli, chromium + chromedriver (when missing)"
scripts/install-tools.sh --browser
export CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}"

step "native: unit, integration and doc tests (library and test server)"
suite cargo test --workspace --all-targets
suite cargo test --workspace --doc

msrv=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
step "MSRV: the workspace's libraries build with Rust $msrv (natively and for wasm32)"
suite cargo "+$msrv" check --workspace --lib
suite cargo "+$msrv" check -p pagewise --lib --target wasm32-unknown-unknown

step "features: without ureq (core, drivers, AsyncTransport), and with native-tls"
suite cargo check -p pagewise --no-default-features --lib
suite cargo test -p pagewise --no-default-features --lib
suite cargo check -p pagewise --no-default-features --features native-tls --lib

step "docs: no broken link natively, for wasm32 (docs.rs builds both) and without ureq"
RUSTDOCFLAGS='-D warnings' suite cargo doc --no-deps -p pagewise
RUSTDOCFLAGS='-D warnings' suite cargo doc --no-deps -p pagewise --target wasm32-unknown-unknown
RUSTDOCFLAGS='-D warnings' suite cargo doc --no-deps -p pagewise --no-default-features

step "examples: each runs against its own in-process test server"
for example in quickstart tokio smol link_sweep jsonl_dump progress custom_transport; do
  suite cargo run --example "$example"
done

step "the benchmark clients and the reqwest adapter (bench/rust) still build"
suite cargo check --manifest-path bench/rust/Cargo.toml --all-targets

step "the library depends on no async runtime"
if cargo tree -p pagewise -e normal --prefix none | grep -E '^(tokio|async-std|smol|async-io|async-global-executor) '; then
  echo "error: a runtime crate is among the library's dependencies" >&2
  exit 1
fi

# Test API servers run in the background; every one started is killed on any
# exit of this script (success, a failing suite, Ctrl-C).
server_bin="${CARGO_TARGET_DIR:-./target}/debug/pagewise-testserver"
server_pids=()
server_logs=()
stop_servers() {
  for pid in ${server_pids[@]+"${server_pids[@]}"}; do kill "$pid" 2>/dev/null || true; done
  for log in ${server_logs[@]+"${server_logs[@]}"}; do rm -f "$log"; done
  server_pids=()
  server_logs=()
}
trap stop_servers EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# start_server ARGS...: starts one on a free port; its URL is left in $server_url.
start_server() {
  local log
  log=$(mktemp)
  server_logs+=("$log")
  "$server_bin" --port 0 "$@" >"$log" 2>&1 &
  server_pids+=($!)
  server_url=""
  for _ in $(seq 50); do grep -q '^listening on ' "$log" && break; sleep 0.1; done
  server_url=$(sed -n 's/^listening on //p' "$log")
  [ -n "$server_url" ] || { echo "error: the test server ($*) did not start" >&2; cat "$log" >&2; exit 1; }
}

# wasm-bindgen-test-runner gives a whole test binary 20 s by default: too
# little for the fault matrix and for sweeps that retry failing answers.
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-120}"

step "wasm32: the library in headless Chromium against the test API server"
cargo build -p pagewise-testserver
start_server --records 2345 --latency-ms 1
PAGEWISE_TEST_SERVER=$server_url
export PAGEWISE_TEST_SERVER
suite cargo test --target wasm32-unknown-unknown --test wasm_browser

step "wasm32: the fault matrix in headless Chromium (a second server, 20,000 records)"
start_server --records 20000 --latency-ms 1
PAGEWISE_FAULT_SERVER=$server_url
export PAGEWISE_FAULT_SERVER
suite cargo test --target wasm32-unknown-unknown --test wasm_faults
stop_servers

if [ -f package.json ]; then
  step "npm: build the package, test it in Node 20 and in Chromium"
  npm ci --no-audit --no-fund
  npm run build
  suite npm test

  step "packages: cargo package and npm pack, each installed into a fresh project and run against the test server"
  suite scripts/package-check.sh

  step "www: the dashboard end to end in headless Chromium"
  suite npm run test:www
fi

step "all suites passed"
awk '
  /^test result: / { for (i = 1; i <= NF; i++) { if ($(i + 1) ~ /^passed/) p += $i; if ($(i + 1) ~ /^failed/) f += $i } }
  /^# pass / { p += $3 }
  /^# fail / { f += $3 }
  END { printf "tests: %d passed, %d failed\n", p, f }
' "$summary_log"
rm -f "$summary_log"

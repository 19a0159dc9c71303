#!/usr/bin/env bash
# The pagewise benchmark in one command. Installs what it needs (idempotent:
# quick when everything is there), builds the clients, the test API server and
# the npm package, runs every scenario and writes the tables into BENCHMARKS.md.
#
#   bench/run.sh                  # the full run (about 19 minutes on 2 cores, plus builds)
#   bench/run.sh --quick          # one repetition of everything
#   bench/run.sh --scale 0.1 --only latency --clients pagewise-blocking,reqwest-tokio --out -
#
# Every option is bench/bench.py's (bench/run.sh --help).
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.130
step() { printf '\n==> %s\n' "$*" >&2; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
apt_install() {
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "$@"
}

step "install: system tools (chromium, /usr/bin/time), the wasm toolchain"
missing=()
command -v /usr/bin/chromium >/dev/null || missing+=(chromium)
[ -x /usr/bin/time ] || missing+=(time)
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi
# The npm package's build uses wasm-opt from the root package's devDependencies.
[ -x node_modules/.bin/wasm-opt ] || npm ci --no-audit --no-fund

step "install: the peers (pip: aiohttp, httpx; npm: p-limit, playwright-core; cargo: reqwest, tokio)"
[ -x bench/.venv/bin/python ] || python3 -m venv bench/.venv
bench/.venv/bin/pip install --quiet --disable-pip-version-check -r bench/python/requirements.txt
(cd bench/node && npm install --no-audit --no-fund --silent)
# cargo fetches reqwest and tokio when bench.py builds bench/rust.

step "benchmark"
exec python3 bench/bench.py "$@"

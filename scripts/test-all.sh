#!/usr/bin/env bash
# Runs every test suite of pagewise, installing what it needs first
# (idempotent: quick when everything is already there).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain: wasm32 target"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

step "native: unit, integration and doc tests (library and test server)"
cargo test --workspace --all-targets
cargo test --workspace --doc

step "the library depends on no async runtime"
if cargo tree -p pagewise -e normal --prefix none | grep -E '^(tokio|async-std|smol|async-io|async-global-executor) '; then
  echo "error: a runtime crate is among the library's dependencies" >&2
  exit 1
fi

step "wasm32: the library builds for the browser target"
cargo build --lib --target wasm32-unknown-unknown

step "all suites passed"

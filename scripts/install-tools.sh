#!/usr/bin/env bash
# Installs what building the npm package needs, when it is missing: the
# wasm32 target and wasm-bindgen-cli at exactly the version of the
# wasm-bindgen crate; with --browser (what the test suites need) also the
# Rust toolchain of the crate's `rust-version` with its wasm32 target (the
# MSRV check of scripts/test-all.sh) and Chromium with chromedriver (the
# browser suites). Idempotent: quick when everything is there.
#
#   scripts/install-tools.sh [--browser]
set -euo pipefail

WASM_BINDGEN_VERSION=0.2.130

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi
if [ "${1:-}" = "--browser" ]; then
  # The MSRV: the `rust-version` of the root Cargo.toml's [package].
  msrv=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' "$(dirname "$0")/../Cargo.toml" | head -1)
  if [ -n "$msrv" ] && ! rustup run "$msrv" rustc --version >/dev/null 2>&1; then
    rustup toolchain install "$msrv" --profile minimal --target wasm32-unknown-unknown
  elif [ -n "$msrv" ] && ! rustup target list --installed --toolchain "$msrv" | grep -qx wasm32-unknown-unknown; then
    rustup target add --toolchain "$msrv" wasm32-unknown-unknown
  fi
fi
if [ "${1:-}" = "--browser" ]; then
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium chromium-driver
  fi
fi

#!/usr/bin/env bash
# Builds the npm package's WebAssembly: bindings/npm/wasm/ (generated, not in
# git). Idempotent: cargo rebuilds only what changed, and wasm-bindgen and
# wasm-opt run only when the compiled module changed.
#
#   bindings/build.sh          # from anywhere; or `npm run build` at the root
#
# Needs: the wasm32-unknown-unknown target, the wasm-bindgen CLI of the same
# version as the crate's pinned wasm-bindgen (0.2.130). wasm-opt (npm package
# `binaryen`, a dev dependency of the root package.json) is used when found:
# it shrinks the module by about a third; without it the build still works.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

want_bindgen="0.2.130"
out="bindings/npm/wasm"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
compiled="$target_dir/wasm32-unknown-unknown/wasm-release/pagewise_wasm.wasm"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
bindgen="$(command -v wasm-bindgen || true)"
if [ -z "$bindgen" ] && [ -x "$HOME/.cargo/bin/wasm-bindgen" ]; then
  bindgen="$HOME/.cargo/bin/wasm-bindgen"
fi
if [ -z "$bindgen" ] || ! "$bindgen" --version | grep -q " $want_bindgen\$"; then
  echo "error: wasm-bindgen $want_bindgen is needed: cargo install wasm-bindgen-cli --version $want_bindgen --locked" >&2
  exit 1
fi

echo "==> cargo build -p pagewise-wasm (wasm32, profile wasm-release)"
cargo build -p pagewise-wasm --target wasm32-unknown-unknown --profile wasm-release

stamp="$out/.build-stamp"
sum="$(sha256sum "$compiled" | cut -d' ' -f1)"
wasm_opt="$root/node_modules/.bin/wasm-opt"
[ -x "$wasm_opt" ] || wasm_opt="$(command -v wasm-opt || true)"
want_stamp="$sum opt:$([ -n "$wasm_opt" ] && echo yes-gufa || echo no)"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ] \
  && [ -f "$out/pagewise_wasm.js" ] && [ -f "$out/pagewise_wasm_bg.wasm" ]; then
  echo "==> $out is up to date"
else
  echo "==> wasm-bindgen --target web --out-dir $out"
  rm -rf "$out"
  "$bindgen" --target web --out-dir "$out" "$compiled"
  if [ -n "$wasm_opt" ]; then
    echo "==> wasm-opt -Oz --gufa --converge"
    # The features rustc enables by default for wasm32-unknown-unknown.
    # --converge repeats the passes while they still shrink the module (about
    # 1 KB gzipped more); --gufa (whole-program flow analysis, semantics
    # preserving) about 300 bytes; the producers section only names the toolchain.
    "$wasm_opt" -Oz --gufa --converge --strip-debug --strip-producers \
      --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
      --enable-mutable-globals --enable-reference-types --enable-multivalue \
      "$out/pagewise_wasm_bg.wasm" -o "$out/pagewise_wasm_bg.wasm.opt"
    mv "$out/pagewise_wasm_bg.wasm.opt" "$out/pagewise_wasm_bg.wasm"
  else
    echo "warning: wasm-opt not found (run npm install at the repository root): the module is not optimized for size" >&2
  fi
  echo "$want_stamp" > "$stamp"
fi

wasm="$out/pagewise_wasm_bg.wasm"
raw=$(wc -c < "$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
awk -v f="$wasm" -v r="$raw" -v g="$gz" \
  'BEGIN { printf "==> %s: %d bytes raw (%.1f KiB), %d bytes gzipped (%.1f KiB)\n", f, r, r / 1024, g, g / 1024 }'

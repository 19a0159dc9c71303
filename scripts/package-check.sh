#!/usr/bin/env bash
# Proves the published packages work from a clean directory:
#   1. `cargo package -p pagewise` (cargo builds the packaged crate from the
#      .crate file alone), then a fresh Cargo project depending on the
#      unpacked .crate runs a sweep against the test API server;
#   2. `npm pack` of bindings/npm (its prepack builds the WebAssembly), then a
#      fresh npm project installing the tarball runs the same sweep from ESM
#      and from CommonJS (`pagewise/cjs`).
# Prints both package sizes. Needs the test server built
# (`cargo build -p pagewise-testserver`); run by scripts/test-all.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
export CARGO_TARGET_DIR="$target_dir"
records=1234

work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cargo build -q -p pagewise-testserver
"$target_dir/debug/pagewise-testserver" --port 0 --records "$records" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do grep -q '^listening on ' "$work/server.log" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/server.log")
[ -n "$url" ] || { echo "error: the test server did not start" >&2; cat "$work/server.log" >&2; exit 1; }

echo "==> cargo package -p pagewise (builds the packaged crate)"
# --allow-dirty: the check runs on work in progress too (uncommitted files
# are packed as they are).
cargo package -p pagewise --allow-dirty
crate="$target_dir/package/pagewise-$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1).crate"
cargo package -p pagewise --allow-dirty --list > "$work/crate-files.txt"
if grep -E '^(tests|bench|benches|fuzz|bindings|www|scripts|examples|\.github)/' "$work/crate-files.txt"; then
  echo "error: the crate carries files it must not (above)" >&2; exit 1
fi
mkdir "$work/crate" && tar -xzf "$crate" -C "$work/crate" --strip-components=1

echo "==> a fresh Cargo project over the packed crate"
mkdir -p "$work/rust-user/src"
cat > "$work/rust-user/Cargo.toml" <<TOML
[package]
name = "rust-user"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
pagewise = { path = "$work/crate" }
serde_json = "1"

[workspace]
TOML
# The repository's lock file: the same versions, resolvable offline.
cp Cargo.lock "$work/rust-user/Cargo.lock"
cat > "$work/rust-user/src/main.rs" <<'RS'
fn main() -> Result<(), pagewise::Error> {
    let url = std::env::args().nth(1).expect("the test server's URL");
    let api = pagewise::Api::builder(format!("{url}/offset/"))
        .records_at("/data")
        .pagination(pagewise::Pagination::offset().total(pagewise::Total::header("X-Total-Count")))
        .page_size(100)
        .concurrency(4)
        .build()?;
    let (records, report) = api.blocking().list("items").collect_with_report::<serde_json::Value>()?;
    println!("{} records, complete: {:?}", records.len(), report.complete);
    Ok(())
}
RS
out=$(cd "$work/rust-user" && cargo run -q --offline -- "$url")
echo "$out"
[ "$out" = "$records records, complete: Some(true)" ] || { echo "error: the crate's sweep gave: $out" >&2; exit 1; }

echo "==> npm pack (prepack builds the WebAssembly)"
tarball=$(cd bindings/npm && npm pack --silent --pack-destination "$work" | tail -1)
mkdir "$work/npm-user"
cd "$work/npm-user"
npm init -y >/dev/null
npm install --no-audit --no-fund --offline "$work/$tarball" >/dev/null
cat > esm.mjs <<'JS'
import { Client } from 'pagewise';
const client = new Client({
  baseUrl: `${process.argv[2]}/offset/`,
  recordsAt: '/data',
  pagination: { type: 'offset', total: { header: 'X-Total-Count' } },
  pageSize: 100,
  concurrency: 4,
});
const { records, report } = await client.listWithReport('items');
console.log(`${records.length} records, complete: ${report.complete}`);
JS
cat > cjs.cjs <<'JS'
const { init } = require('pagewise/cjs');
init().then(async ({ Client }) => {
  const client = new Client({
    baseUrl: `${process.argv[2]}/offset/`,
    recordsAt: '/data',
    pagination: { type: 'offset', total: { header: 'X-Total-Count' } },
    pageSize: 100,
  });
  const { records, report } = await client.listWithReport('items');
  console.log(`${records.length} records, complete: ${report.complete}`);
});
JS
for program in esm.mjs cjs.cjs; do
  out=$(node "$program" "$url")
  echo "$program: $out"
  [ "$out" = "$records records, complete: true" ] || { echo "error: the npm package's sweep ($program) gave: $out" >&2; exit 1; }
done
for f in LICENSE-MIT LICENSE-APACHE wasm/pagewise_wasm_bg.wasm; do
  [ -s "node_modules/pagewise/$f" ] || { echo "error: the npm package lacks $f" >&2; exit 1; }
done

echo "==> package sizes"
printf '  crate %s: %d bytes (%d files)\n' "$(basename "$crate")" "$(wc -c < "$crate")" "$(wc -l < "$work/crate-files.txt")"
printf '  npm   %s: %d bytes (%d files)\n' "$tarball" "$(wc -c < "$work/$tarball")" "$(tar -tzf "$work/$tarball" | wc -l)"

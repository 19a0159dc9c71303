#!/usr/bin/env bash
# Reproduces profiles behind BENCHMARKS.md's "What to change in pagewise next".
# Run after bench/run.sh has built everything. Writes bench/results/profile/.
#
#   perf (cpu-clock, DWARF call graphs)  pagewise-blocking vs reqwest-tokio:
#                                        1,000,000 records (pages of 1,000) and
#                                        10,000 GETs at 20 ms, concurrency 64
#   valgrind DHAT                        allocations, 100,000 records
#   node --cpu-prof                      the npm package vs fetch + p-limit
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/results/profile
mkdir -p "$out"
bin=bench/rust/target/release
server_log="$out/server.log"
source bench/testserver.sh

start --records 1000000 --page-size 1000
for c in pagewise-blocking reqwest-tokio; do
  /usr/bin/time -f "$c throughput: %e s wall, %U s user, %S s sys, %M KB" \
    $bin/$c --scenario throughput --url "$url" --concurrency 16 --page-size 1000 >/dev/null
done
perf record -q -e cpu-clock -F 2000 --call-graph dwarf,32768 -o "$out/throughput.perf" \
  $bin/pagewise-blocking --scenario throughput --url "$url" --concurrency 16 --page-size 1000 >/dev/null
perf report -i "$out/throughput.perf" --children --sort symbol --stdio -g none 2>/dev/null \
  | grep -E 'handle_response|Body::parse|Body::records|pointer|decode_record|ignore_value|skip_to_escape|from_utf8' \
  | head -20 | sed -E 's/ +- +- *$//' | cut -c1-150 > "$out/throughput.txt"

start --records 100000 --page-size 1000
for c in pagewise-blocking reqwest-tokio; do
  valgrind --tool=dhat --dhat-out-file="$out/dhat-$c.json" \
    $bin/$c --scenario throughput --url "$url" --concurrency 16 --page-size 1000 2>&1 >/dev/null \
    | grep -E 'Total:' | sed "s/^/$c /" >> "$out/dhat.txt"
done

start --records 50000 --latency-ms 20
for c in pagewise-blocking reqwest-tokio; do
  /usr/bin/time -f "$c fetch-many: %e s wall, %U s user, %S s sys, %M KB, %w voluntary context switches" \
    $bin/$c --scenario fetch-many --url "$url" --concurrency 64 --ids 10000 >/dev/null
done
perf record -q -e cpu-clock -F 4000 --call-graph dwarf,16384 -o "$out/fetch-many.perf" \
  $bin/pagewise-blocking --scenario fetch-many --url "$url" --concurrency 64 --ids 10000 >/dev/null
perf report -i "$out/fetch-many.perf" --no-children --sort comm,dso --stdio -g none 2>/dev/null \
  | grep -v '^#' | grep -v '^$' | head -12 > "$out/fetch-many.txt"

start --records 1000000 --page-size 1000
rm -rf "$out/cpuprof" && mkdir -p "$out/cpuprof/pagewise" "$out/cpuprof/fetch"
node --cpu-prof --cpu-prof-dir="$out/cpuprof/pagewise" bench/node/pagewise.mjs \
  --scenario throughput --url "$url" --concurrency 16 --page-size 1000 >/dev/null
node --cpu-prof --cpu-prof-dir="$out/cpuprof/fetch" bench/node/fetch-plimit.mjs \
  --scenario throughput --url "$url" --concurrency 16 --page-size 1000 >/dev/null
python3 - "$out/cpuprof" <<'PY' > "$out/node.txt"
import collections, glob, json, sys
for name in ("pagewise", "fetch"):
    p = json.load(open(glob.glob(f"{sys.argv[1]}/{name}/*.cpuprofile")[0]))
    nodes = {n["id"]: n for n in p["nodes"]}
    cat = collections.Counter()
    for sample, dt in zip(p["samples"], p["timeDeltas"]):
        cf = nodes[sample]["callFrame"]
        url, fn = cf["url"], cf["functionName"]
        if "wasm-function" in fn or url.endswith(".wasm"):
            c = "inside the wasm module"
        elif "pagewise_wasm.js" in url:
            c = "wasm-bindgen glue (incl. JSON.parse of the records)"
        elif "undici" in url:
            c = "undici (fetch)"
        elif fn == "(garbage collector)":
            c = "GC"
        else:
            c = "other"
        cat[c] += dt
    total = sum(cat.values())
    print(f"{name}: {total / 1e6:.2f} s of profile")
    for k, v in cat.most_common():
        print(f"  {v / 1e6:6.2f} s {100 * v / total:5.1f}%  {k}")
PY
cat "$out"/*.txt

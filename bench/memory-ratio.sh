#!/usr/bin/env bash
# Peak RSS of pagewise's Rust clients streaming 100,000 and then 1,000,000
# records (scenario 4 against scenario 2's flags), REPS runs each, and the
# ratio of the medians. Run after bench/run.sh (or bench.py) built everything.
#
#   bench/memory-ratio.sh [REPS] [CLIENT...]     # default: 5, the three Rust clients
#   MALLOC_MMAP_THRESHOLD_=131072 bench/memory-ratio.sh   # with glibc's mmap threshold pinned
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-5}; shift || true
clients=("$@"); [ ${#clients[@]} -gt 0 ] || clients=(pagewise-blocking pagewise-async-futures pagewise-async-tokio)
bin=bench/rust/target/release
mkdir -p bench/results
server_log=bench/results/memory-ratio-server.log
source bench/testserver.sh
peaks() {  # peaks SCENARIO CLIENT: REPS peak RSS figures in KB
  for _ in $(seq "$reps"); do
    /usr/bin/time -f '%M' "$bin/$2" --scenario "$1" --url "$url" --concurrency 16 --page-size 1000 2>&1 >/dev/null | tail -1
  done | tr '\n' ' '
}
for c in "${clients[@]}"; do
  start --records 100000 --page-size 1000 --max-page-size 1000
  small=$(peaks memory "$c")
  start --records 1000000 --page-size 1000
  big=$(peaks throughput "$c")
  python3 - "$c" "$small" "$big" <<'PY'
import statistics, sys
c, a, b = sys.argv[1], [int(x) for x in sys.argv[2].split()], [int(x) for x in sys.argv[3].split()]
print(f"{c}: 100k {sorted(a)} KB, 1M {sorted(b)} KB, ratio of medians {statistics.median(b) / statistics.median(a):.2f}")
PY
done

#!/usr/bin/env python3
"""The pagewise benchmark orchestrator (standard library only).

Builds the clients and the test API server, starts the server once per
scenario with that scenario's flags, runs every client as a separate process
N times (the clients alternate: each repetition runs all of them, in an order
rotated by one each time), measures each run (wall time, the process's own
CPU time user+sys and peak RSS from /usr/bin/time, i.e. wait4; for
Chromium also the browser's process tree sampled from /proc), reads the server's /_stats (requests and
429s) and writes the tables of medians (min-max) into BENCHMARKS.md,
between the markers it finds there.

    bench/run.sh                       # installs the peers, then runs this
    python3 bench/bench.py --quick     # one repetition
    python3 bench/bench.py --scale 0.1 --only latency,throughput --clients pagewise-blocking,reqwest-tokio

Every client takes the same command line:
    CLIENT --scenario NAME --url URL --concurrency C --page-size P [--ids N]
and prints one JSON line: records, requests, 429s seen, retries, elapsed_s.
"""

import argparse
import datetime
import json
import math
import os
import platform
import re
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
SERVER_BIN = os.path.join(ROOT, "target", "release", "pagewise-testserver")
RUST_BIN = os.path.join(BENCH, "rust", "target", "release")
VENV_PY = os.path.join(BENCH, ".venv", "bin", "python")
CLK_TCK = os.sysconf("SC_CLK_TCK")
RUN_TIMEOUT_S = 900

# ---------------------------------------------------------------------------
# Clients


def python():
    return VENV_PY if os.path.exists(VENV_PY) else sys.executable


CLIENTS = [
    # name, argv, kind ("pagewise" or "peer"), measured as a process tree?
    ("pagewise-blocking", lambda: [os.path.join(RUST_BIN, "pagewise-blocking")], "pagewise", False),
    ("pagewise-async-futures", lambda: [os.path.join(RUST_BIN, "pagewise-async-futures")], "pagewise", False),
    ("pagewise-async-tokio", lambda: [os.path.join(RUST_BIN, "pagewise-async-tokio")], "pagewise", False),
    ("pagewise-reqwest", lambda: [os.path.join(RUST_BIN, "pagewise-reqwest")], "pagewise", False),
    ("pagewise-node", lambda: ["node", os.path.join(BENCH, "node", "pagewise.mjs")], "pagewise", False),
    ("pagewise-chromium", lambda: ["node", os.path.join(BENCH, "node", "chromium.mjs")], "pagewise", True),
    ("reqwest-tokio", lambda: [os.path.join(RUST_BIN, "reqwest-tokio")], "peer", False),
    ("fetch-plimit", lambda: ["node", os.path.join(BENCH, "node", "fetch-plimit.mjs")], "peer", False),
    ("aiohttp-gather", lambda: [python(), os.path.join(BENCH, "python", "aiohttp_gather.py")], "peer", False),
    ("httpx-async", lambda: [python(), os.path.join(BENCH, "python", "httpx_async.py")], "peer", False),
    # Not a peer: what this machine and server allow (fetch-many only).
    ("floor-threads", lambda: [os.path.join(RUST_BIN, "floor-threads")], "reference", False),
    # Not a peer: what Node allows in the sweeps (latency, throughput only).
    ("floor-node-http", lambda: ["node", os.path.join(BENCH, "node", "floor-http.mjs")], "reference", False),
]
# Clients that run only some scenarios.
ONLY_IN = {"floor-threads": {"fetch-many"}, "floor-node-http": {"latency", "throughput"}}
CLIENT_NAMES = [c[0] for c in CLIENTS]

DESCRIPTIONS = {
    "pagewise-blocking": "pagewise `blocking::Client`, `list(..).iter::<Item>()` (Rust, ureq on a bounded set of worker threads)",
    "pagewise-async-futures": "pagewise async `Client`, `.stream::<Item>()` on `futures::executor::block_on`",
    "pagewise-async-tokio": "pagewise async `Client`, `.stream::<Item>()` under `#[tokio::main]`",
    "pagewise-reqwest": "pagewise over reqwest: async `Client::with_transport(&api, ReqwestTransport)` (reqwest + tokio, HTTP/2 capable), `.stream::<Item>()`",
    "pagewise-node": "npm `pagewise` (wasm) in Node 20: `client.stream(..)`; fetch-many: `client.fetchMany(..)`",
    "pagewise-chromium": "npm `pagewise` in headless Chromium (6 connections per host: HTTP/1.1)",
    "reqwest-tokio": "reqwest + tokio, `buffer_unordered(C)`, `resp.json::<Page>()`",
    "fetch-plimit": "Node 20 `fetch` + p-limit, `Promise.all`, `res.json()`",
    "aiohttp-gather": "aiohttp, `asyncio.Semaphore(C)` + `gather`, `resp.json()`",
    "httpx-async": "httpx `AsyncClient` (pool = C), `Semaphore(C)` + `gather`, `resp.json()`",
    "floor-threads": "reference, not a peer: a thread and a blocking keep-alive socket per unit of concurrency, no retries",
    "floor-node-http": "reference, not a peer: Node's `http.get` on a keep-alive agent, C loops, `JSON.parse` of each body; no retries, no order",
}

# ---------------------------------------------------------------------------
# Scenarios


def floor_rounds(records, page, concurrency, latency_s):
    pages = math.ceil(records / page)
    return latency_s + math.ceil((pages - 1) / concurrency) * latency_s


def scenarios(scale):
    """The six scenarios (scenario 4's 1,000,000 row is scenario 2's runs)."""
    n = lambda x: max(1000, int(x * scale))  # noqa: E731
    latency_records = n(100_000)
    throughput_records = n(1_000_000)
    politeness_records = n(100_000)
    memory_records = n(100_000)
    many_ids = n(50_000)
    shedding_records = n(20_000)
    return [
        {
            "name": "latency",
            "title": "1. Latency-bound sweep",
            "records": latency_records,
            "server": ["--records", latency_records, "--latency-ms", 50, "--page-size", 100],
            "client": ["--concurrency", 16, "--page-size", 100],
            "floor": floor_rounds(latency_records, 100, 16, 0.05),
            "floor_chromium": floor_rounds(latency_records, 100, 6, 0.05),
            "reps": 3,
        },
        {
            "name": "throughput",
            "title": "2. Throughput",
            "records": throughput_records,
            "server": ["--records", throughput_records, "--page-size", 1000, "--max-page-size", 1000],
            "client": ["--concurrency", 16, "--page-size", 1000],
            "floor": None,
            # Client CPU is this scenario's measure and the noisiest one on
            # a shared machine (the same binary's median moves by 15%
            # between runs of 3): 7 repetitions, Chromium 3.
            "reps": 7,
            "slow_reps": {"pagewise-chromium": 3},
        },
        {
            "name": "politeness",
            "title": "3. Politeness under a rate limit",
            "records": politeness_records,
            "server": ["--records", politeness_records, "--page-size", 100,
                       "--rate-limit-per-second", 50, "--rate-limit-burst", 10, "--retry-after", "seconds"],
            "client": ["--concurrency", 16, "--page-size", 100],
            "floor": (math.ceil(politeness_records / 100) - 10) / 50,
            "reps": 1,
            "pause_s": 1.0,
        },
        {
            "name": "memory",
            "title": "4. Memory",
            "records": memory_records,
            "server": ["--records", memory_records, "--page-size", 1000, "--max-page-size", 1000],
            "client": ["--concurrency", 16, "--page-size", 1000],
            "floor": None,
            "reps": 3,
        },
        {
            # A proxy that sheds one request in seven (429 + Retry-After: 1)
            # whatever the rate: no slower than a plain retry loop (issue 21).
            "name": "shedding",
            "title": "6. Load shedding (429s that do not come from a rate)",
            "records": shedding_records,
            "server": ["--records", shedding_records, "--latency-ms", 50, "--page-size", 10,
                       "--shed-rate", 1 / 7, "--retry-after", "seconds"],
            "client": ["--concurrency", 16, "--page-size", 10],
            "floor": None,
            "reps": 3,
        },
        {
            "name": "fetch-many",
            "title": "5. fetch_many by id",
            "records": many_ids,
            "server": ["--records", many_ids, "--latency-ms", 20],
            "client": ["--concurrency", 64, "--ids", many_ids],
            "floor": many_ids * 0.02 / 64,
            "floor_chromium": many_ids * 0.02 / 6,
            "reps": 3,
            # The slowest clients of this scenario run once (see --help).
            "slow_reps": {"httpx-async": 1, "pagewise-chromium": 1},
            # Chromium runs at 6 connections (HTTP/1.1) and at several ms of
            # CPU per GET, httpx at ~5 ms of CPU per GET: a part of the ids
            # keeps each of their runs under a minute (their GETs/s and CPU
            # per GET are comparable; their wall time is not).
            "ids_override": {"pagewise-chromium": n(5_000), "httpx-async": n(10_000)},
        },
    ]


# ---------------------------------------------------------------------------
# Helpers


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, cwd=ROOT):
    log(f"$ {' '.join(shlex.quote(str(c)) for c in cmd)}")
    subprocess.run([str(c) for c in cmd], cwd=cwd, check=True)


def output(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:  # noqa: BLE001 - a missing tool is reported as "?"
        return "?"


def proc_stat(pid):
    """(ppid, utime+stime in seconds) of pid, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    # The command name may contain spaces: fields start after the last ')'.
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_mem_kb(pid):
    """(Rss, Pss) of pid in kB, or None."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            text = f.read()
    except OSError:
        return None
    rss = re.search(r"^Rss:\s+(\d+)", text, re.M)
    pss = re.search(r"^Pss:\s+(\d+)", text, re.M)
    if not rss or not pss:
        return None
    return int(rss.group(1)), int(pss.group(1))


def descendants(root):
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = proc_stat(entry)
            if st:
                parents[int(entry)] = st[0]
    found, frontier = [], [root]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        found.extend(kids)
        frontier.extend(kids)
    return found


class TreeSampler(threading.Thread):
    """Samples the process tree under `root` (/usr/bin/time) every 100 ms,
    leaving out root and its child (the playwright driver): the last CPU
    time seen per process, and the peak of the summed RSS and PSS."""

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root = root
        self.stop = threading.Event()
        self.cpu = {}
        self.peak_rss_kb = 0
        self.peak_pss_kb = 0
        self.processes = 0

    def run(self):
        while not self.stop.is_set():
            rss = pss = 0
            kids = descendants(self.root)
            skip = {self.root} | {p for p in kids if (proc_stat(p) or (0,))[0] == self.root}
            kids = [p for p in kids if p not in skip]
            self.processes = max(self.processes, len(kids))
            for pid in kids:
                st = proc_stat(pid)
                if st:
                    self.cpu[pid] = max(self.cpu.get(pid, 0.0), st[1])
                mem = proc_mem_kb(pid)
                if mem:
                    rss += mem[0]
                    pss += mem[1]
            self.peak_rss_kb = max(self.peak_rss_kb, rss)
            self.peak_pss_kb = max(self.peak_pss_kb, pss)
            self.stop.wait(0.1)


def http(url, method="GET"):
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=10) as resp:
        body = resp.read()
    return json.loads(body) if body else None


class Server:
    def __init__(self, flags):
        self.cmd = [SERVER_BIN, "--port", "0"] + [str(f) for f in flags]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening on (\S+)", line)
        if not m:
            self.proc.kill()
            raise SystemExit(f"error: the test server did not start: {line!r}")
        self.url = m.group(1).rstrip("/")

    def cpu(self):
        st = proc_stat(self.proc.pid)
        return st[1] if st else 0.0

    def reset(self):
        http(self.url + "/_reset", "POST")

    def stats(self):
        return http(self.url + "/_stats")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def measure(argv, tree):
    """Runs argv under /usr/bin/time; returns (returncode, stdout, stderr,
    wall_s, cpu_s, maxrss_kb, tree info).

    Why /usr/bin/time and not os.wait4 here: a child forked from this Python
    process starts with this process's resident set, and Linux keeps that
    high-water mark in the child's ru_maxrss across exec: every client would
    show at least this orchestrator's ~20 MB. /usr/bin/time is small, and the
    numbers it reports are those of wait4 on the client it forked."""
    timing = os.path.join(BENCH, "results", f".time-{os.getpid()}")
    os.makedirs(os.path.dirname(timing), exist_ok=True)
    started = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/time", "-f", "%e %U %S %M %x", "-o", timing] + argv,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    sampler = TreeSampler(proc.pid) if tree else None
    if sampler:
        sampler.start()
    try:
        out, err = proc.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        for pid in descendants(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        out, err = proc.communicate()
        err += f"\n(killed after {RUN_TIMEOUT_S} s)"
    wall = time.perf_counter() - started
    info = None
    if sampler:
        sampler.stop.set()
        sampler.join()
        info = {
            "sampled_cpu_s": sum(sampler.cpu.values()),
            "peak_rss_kb": sampler.peak_rss_kb,
            "peak_pss_kb": sampler.peak_pss_kb,
            "processes": sampler.processes,
        }
    try:
        with open(timing) as f:
            fields = f.read().split()
        os.unlink(timing)
        # A client killed by a signal makes time print a "Command terminated" line first.
        e, u, s_, m, x = fields[-5:]
        code = int(x)
        return code, out, err, float(e), float(u) + float(s_), int(m), info
    except (OSError, ValueError):
        return proc.returncode or 1, out, err, wall, 0.0, 0, info


# ---------------------------------------------------------------------------
# Running


def run_scenario(sc, clients, reps, results, failures):
    log(f"\n==> scenario {sc['name']}: server {' '.join(map(str, sc['server']))}")
    server = Server(sc["server"])
    try:
        order = [c for c in CLIENTS if c[0] in clients and sc["name"] in ONLY_IN.get(c[0], {sc["name"]})]
        max_reps = reps if reps is not None else sc["reps"]
        for rep in range(max_reps):
            rotated = order[rep % len(order):] + order[:rep % len(order)]
            for name, argv, _, tree in rotated:
                client_reps = sc.get("slow_reps", {}).get(name, max_reps) if reps is None else max_reps
                if rep >= client_reps:
                    continue
                time.sleep(sc.get("pause_s", 0.2))
                server.reset()
                client_args = [str(a) for a in sc["client"]]
                expected = sc["records"]
                if name in sc.get("ids_override", {}):
                    expected = sc["ids_override"][name]
                    client_args[client_args.index("--ids") + 1] = str(expected)
                cmd = argv() + ["--scenario", sc["name"], "--url", server.url] + client_args
                cpu_before = server.cpu()
                code, out, err, wall, cpu, maxrss, info = measure(cmd, tree)
                server_cpu = server.cpu() - cpu_before
                stats = server.stats()
                record = {
                    "scenario": sc["name"], "client": name, "rep": rep, "exit": code,
                    "process_wall_s": wall, "cpu_s": cpu, "maxrss_kb": maxrss, "tree": info,
                    "server_cpu_s": server_cpu, "server": stats, "expected": expected,
                }
                line = next((l for l in out.splitlines() if l.startswith("{")), None)
                problem = None
                if code != 0 or line is None:
                    problem = f"exit {code}: {one_line(err)}"
                    record["stderr"] = err.strip()[-2000:]
                else:
                    record["client_out"] = json.loads(line)
                    if record["client_out"].get("records") != expected:
                        problem = f"{record['client_out'].get('records')} records, expected {expected}"
                if problem:
                    record["error"] = problem
                    failures.append(record)
                    log(f"  FAILED {name} rep {rep}: {problem}")
                    if record.get("stderr"):
                        log("    " + record["stderr"][-600:].replace("\n", "\n    "))
                else:
                    o = record["client_out"]
                    cpu_show = cpu if not info else max(cpu, info["sampled_cpu_s"])
                    log(f"  {name:24} rep {rep}: {o['elapsed_s']:7.2f} s  cpu {cpu_show:6.2f} s  "
                        f"rss {maxrss / 1024:7.1f} MB  429s {stats['throttled']:5}  "
                        f"requests {stats['requests']:6}  server cpu {server_cpu:5.2f} s")
                results.append(record)
    finally:
        server.stop()


def run_startup(clients, reps, results, failures):
    log("\n==> startup: each client starts, builds its client, exits")
    order = [c for c in CLIENTS if c[0] in clients and c[0] not in ONLY_IN]
    for rep in range(reps):
        for name, argv, _, tree in order:
            code, out, err, wall, cpu, maxrss, info = measure(argv() + ["--scenario", "startup"], tree)
            record = {"scenario": "startup", "client": name, "rep": rep, "exit": code,
                      "process_wall_s": wall, "cpu_s": cpu, "maxrss_kb": maxrss, "tree": info}
            if code != 0:
                record["error"] = f"exit {code}: {one_line(err)}"
                record["stderr"] = err.strip()[-2000:]
                failures.append(record)
                log(f"  FAILED {name}: {record['error']}")
            else:
                log(f"  {name:24} {wall:6.2f} s  cpu {cpu:5.2f} s  rss {maxrss / 1024:6.1f} MB")
            results.append(record)


# ---------------------------------------------------------------------------
# Report


def med(values):
    return statistics.median(values) if values else float("nan")


def fmt_range(values, digits=2, scale=1.0):
    if not values:
        return "—"
    v = [x * scale for x in values]
    m = f"{med(v):.{digits}f}"
    if len(v) == 1 or f"{min(v):.{digits}f}" == f"{max(v):.{digits}f}":
        return m
    return f"{m} ({min(v):.{digits}f}–{max(v):.{digits}f})"


def cpu_of(r):
    """The client's own CPU: the process (and its reaped children); for
    Chromium, the sampled sum over the browser's processes."""
    if r.get("tree"):
        return r["tree"]["sampled_cpu_s"]
    return r["cpu_s"]


def rss_mb(r):
    """Peak RSS; for Chromium the peak of the summed PSS of the browser's processes."""
    if r.get("tree"):
        return r["tree"]["peak_pss_kb"] / 1024
    return r["maxrss_kb"] / 1024


def ok_runs(results, scenario, client):
    return [r for r in results if r["scenario"] == scenario and r["client"] == client and "error" not in r]


def table_for(sc, results, failures):
    name = sc["name"]
    lines = []
    extra = {
        "throughput": ["records/s", "CPU s per 1M records"],
        "fetch-many": ["GETs/s", "CPU ms per GET"],
    }.get(name, [])
    head = ["client", "wall s", "CPU s (user+sys)", "peak RSS MB", "429s", "requests", "server CPU s"] + extra
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for cname in CLIENT_NAMES:
        runs = ok_runs(results, name, cname)
        failed = [f for f in failures if f["scenario"] == name and f["client"] == cname]
        if not runs:
            if failed:
                lines.append(f"| {cname} | FAILED: {one_line(failed[0]['error'])[:120].replace('|', '/')} |" + " |" * (len(head) - 2))
            continue
        walls = [r["client_out"]["elapsed_s"] for r in runs]
        cpus = [cpu_of(r) for r in runs]
        rss = [rss_mb(r) for r in runs]
        t429 = [r["server"]["throttled"] for r in runs]
        reqs = [r["server"]["requests"] for r in runs]
        scpu = [r["server_cpu_s"] for r in runs]
        row = [
            f"{cname}{' ¹' if runs[0].get('tree') else ''}",
            fmt_range(walls),
            fmt_range(cpus),
            fmt_range(rss, 1),
            fmt_range(t429, 0),
            fmt_range(reqs, 0),
            fmt_range(scpu),
        ]
        if name == "throughput":
            row.append(fmt_range([sc["records"] / w for w in walls], 0))
            row.append(fmt_range([c / (sc["records"] / 1e6) for c in cpus]))
        if name == "fetch-many":
            n_ids = runs[0]["expected"]
            row.append(fmt_range([n_ids / w for w in walls], 0))
            row.append(fmt_range([1000 * c / n_ids for c in cpus]))
            if n_ids != sc["records"]:
                row[0] += f" ({n_ids:,} ids)"
        if failed:
            row[0] += f" ({len(failed)} failed)"
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def memory_table(scenarios_run, results):
    """Scenario 4: peak RSS streaming 100,000 records (its own runs) and
    1,000,000 records (scenario 2's runs, same flags)."""
    by = {s["name"]: s for s in scenarios_run}
    small, big = by.get("memory"), by.get("throughput")
    lines = []
    head = ["client"]
    if small:
        head.append(f"peak RSS MB, {small['records']:,} records")
    if big:
        head.append(f"peak RSS MB, {big['records']:,} records (scenario 2's runs)")
    if small:
        head.append(f"wall s, {small['records']:,} records")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for cname in CLIENT_NAMES:
        row = [cname + (" ¹" if cname == "pagewise-chromium" else "")]
        have = False
        if small:
            runs = ok_runs(results, "memory", cname)
            have |= bool(runs)
            row.append(fmt_range([rss_mb(r) for r in runs], 1))
        if big:
            runs = ok_runs(results, "throughput", cname)
            have |= bool(runs)
            row.append(fmt_range([rss_mb(r) for r in runs], 1))
        if small:
            row.append(fmt_range([r["client_out"]["elapsed_s"] for r in ok_runs(results, "memory", cname)]))
        if have:
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def startup_table(results):
    lines = ["| client | process wall s | CPU s | peak RSS MB |", "|---|---|---|---|"]
    for cname in CLIENT_NAMES:
        runs = ok_runs(results, "startup", cname)
        if runs:
            lines.append(f"| {cname}{' ¹' if runs[0].get('tree') else ''} | {fmt_range([r['process_wall_s'] for r in runs])} | "
                         f"{fmt_range([cpu_of(r) for r in runs])} | {fmt_range([rss_mb(r) for r in runs], 1)} |")
    return "\n".join(lines)


def machine():
    cpu_model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.M)
            cpu_model = m.group(1) if m else "?"
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
            mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, AttributeError):
        pass
    os_name = platform.platform()
    try:
        with open("/etc/os-release") as f:
            m = re.search(r'^PRETTY_NAME="?([^"\n]+)', f.read(), re.M)
            os_name = f"{m.group(1)}, Linux {platform.release()}" if m else os_name
    except OSError:
        pass
    pyv = output([python(), "-c", "import sys, aiohttp, httpx; print(sys.version.split()[0], aiohttp.__version__, httpx.__version__)"]).split()
    reqwest = "?"
    try:
        with open(os.path.join(BENCH, "rust", "Cargo.lock")) as f:
            m = re.search(r'name = "reqwest"\nversion = "([^"]+)"', f.read())
            reqwest = m.group(1) if m else "?"
    except OSError:
        pass

    def npm_version(pkg):
        try:
            with open(os.path.join(BENCH, "node", "node_modules", pkg, "package.json")) as f:
                return json.load(f)["version"]
        except (OSError, ValueError, KeyError):
            return "?"

    chromium = output(["/usr/bin/chromium", "--version"]).splitlines()
    return [
        ("cores (nproc)", output(["nproc"])),
        ("CPU", cpu_model),
        ("memory", mem),
        ("OS", os_name),
        ("rustc", output(["rustc", "--version"])),
        ("node", output(["node", "--version"])),
        ("python", pyv[0] if pyv else "?"),
        ("chromium", chromium[-1] if chromium else "?"),
        ("peers", f"reqwest {reqwest}, aiohttp {pyv[1] if len(pyv) > 1 else '?'}, "
                  f"httpx {pyv[2] if len(pyv) > 2 else '?'}, p-limit {npm_version('p-limit')}, "
                  f"playwright-core {npm_version('playwright-core')}"),
    ]


def one_line(text):
    """What a failed client said, on one line: its last `error:` line (every
    client prints one before it exits), else the last line of its output."""
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    said = [l for l in lines if "error: " in l]
    line = (said or lines or [""])[-1]
    return line.replace("`", "'")


def render(args, scenarios_run, results, failures, started_at, took_s, machine_rows=None):
    out = []
    out.append(f"Run of {started_at:%Y-%m-%d %H:%M} UTC, {took_s / 60:.1f} minutes, with\n")
    out.append("```sh\n" + args.command + "\n```\n")
    out.append("| machine | |\n|---|---|")
    for k, v in machine_rows or machine():
        out.append(f"| {k} | {v} |")
    out.append("")
    out.append("Each cell: median over the repetitions, (min–max) when there was more than one. "
               "*wall*: the client's own time from its first request to its last record (process "
               "start-up excluded; see the start-up table); *CPU*: user+sys of the whole client "
               "process, start-up included; *peak RSS*: the process's maximum resident set; *429s* "
               "and *requests*: counted by the server; *server CPU*: the test server's CPU time "
               "during the run (it shares the 2 cores with the client).\n")
    out.append("¹ Chromium: the browser's process tree (browser, zygotes, renderer, GPU and network "
               "service processes: 9 in all), sampled from /proc every 100 ms; the playwright driver "
               "(Node) is left out. CPU is the sum over those processes of their user+sys time as last "
               "sampled (`wait4` on the driver sees only part of it: not every Chromium process is "
               "reaped into it); peak RSS is the peak of their summed PSS (shared pages split between "
               "them; their summed RSS is about twice as large). Start-up includes launching the "
               "browser.\n")
    for sc in scenarios_run:
        reps = sorted({r["rep"] for r in results if r["scenario"] == sc["name"]})
        out.append(f"### {sc['title']}\n")
        ran_clients = {r["client"] for r in results if r["scenario"] == sc["name"]}
        with_big = any(x["name"] == "throughput" for x in scenarios_run)
        out.append(describe(sc, len(reps), ran_clients, with_big) + "\n")
        if sc["name"] == "memory":
            out.append(memory_table(scenarios_run, results) + "\n")
        else:
            out.append(table_for(sc, results, failures) + "\n")
    if any(r["scenario"] == "startup" for r in results):
        out.append("### Start-up (no requests)\n")
        out.append("`--scenario startup`: start, build the client, exit. The fixed cost inside every CPU "
                   "and process-wall figure above.\n")
        out.append(startup_table(results) + "\n")
    if failures:
        out.append("### Failures\n")
        for f in failures:
            out.append(f"- {f['scenario']} / {f['client']} rep {f['rep']}: `{one_line(f['error'])[:300]}`")
        out.append("")
    return "\n".join(out)


def describe(sc, reps, ran_clients=(), with_big=True):
    if sc is None:
        return ("Peak RSS while streaming without collecting, 16 pages of 1,000 in flight. The "
                "1,000,000-record column is scenario 2's runs.")
    name = sc["name"]
    r = f" {reps} repetition{'s' if reps != 1 else ''}." if reps else ""
    if name == "latency":
        return (f"{sc['records']:,} records, page size 100, 50 ms server latency, concurrency 16.{r} "
                f"Floor: one first page + ceil({math.ceil(sc['records'] / 100) - 1}/16) rounds of 50 ms = "
                f"{sc['floor']:.2f} s (Chromium, 6 connections: {sc['floor_chromium']:.2f} s).")
    if name == "throughput":
        slow = sc.get("slow_reps", {})
        slow_note = "".join(f" {c} ran {n} times." for c, n in slow.items() if c in ran_clients and n < reps)
        return (f"{sc['records']:,} records (~250 bytes of JSON each), page size 1,000, no added "
                f"latency, concurrency 16.{r}{slow_note}")
    if name == "politeness":
        return (f"{sc['records']:,} records in {math.ceil(sc['records'] / 100):,} pages of 100, "
                f"concurrency 16; the server allows 50 requests/s (token bucket, burst 10) and answers "
                f"429 with `Retry-After: 1` beyond. Floor: ({math.ceil(sc['records'] / 100):,} − 10) / 50 = "
                f"{sc['floor']:.1f} s.{r}")
    if name == "shedding":
        return (f"{sc['records']:,} records in {math.ceil(sc['records'] / 10):,} pages of 10, 50 ms server "
                f"latency, concurrency 16; the server sheds one request in seven (429 with "
                f"`Retry-After: 1`) whatever the rate. The target: no slower than the plain retry loops "
                f"(the peers wait `Retry-After` and retry).{r}")
    if name == "memory":
        return (f"Peak RSS while streaming without collecting: {sc['records']:,} records (its own runs, "
                f"page size 1,000, concurrency 16, no added latency).{r}"
                + (" The other column is scenario 2's runs (same flags, more records)." if with_big else ""))
    if name == "fetch-many":
        slow = sc.get("slow_reps", {})
        slow_note = ""
        if slow and reps != 1:
            slow_note = " " + " and ".join(slow) + " ran once."
        for client, ids in sc.get("ids_override", {}).items():
            if client not in ran_clients or ids >= sc["records"]:
                continue
            slow_note += f" {client} fetched ids 1..={ids:,} only (see the notes on this scenario)."
        return (f"{sc['records']:,} GETs of `/items/{{id}}`, 20 ms server latency, concurrency 64.{r}"
                f"{slow_note} Floor: {sc['records']:,} × 20 ms / 64 = {sc['floor']:.1f} s "
                f"(Chromium, 6 connections: {sc['floor_chromium']:.1f} s).")
    return ""


def write_markdown(path, body):
    start, end = "<!-- bench:results:start -->", "<!-- bench:results:end -->"
    block = f"{start}\n{body}\n{end}"
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
        if start in text and end in text:
            text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
        else:
            text = text.rstrip() + "\n\n## Results\n\n" + block + "\n"
    else:
        text = "# Benchmarks\n\n## Results\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)


# ---------------------------------------------------------------------------


def build():
    run(["cargo", "build", "--release", "-p", "pagewise-testserver"])
    run(["cargo", "build", "--release"], cwd=os.path.join(BENCH, "rust"))
    run(["npm", "run", "build"])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="one repetition of everything")
    p.add_argument("--reps", type=int, help="repetitions of every scenario (default: 3; throughput 7, "
                   "pagewise-chromium 3 there; politeness 1; in fetch-many, httpx-async and pagewise-chromium 1)")
    p.add_argument("--only", help="comma-separated scenarios: startup,latency,throughput,politeness,memory,shedding,fetch-many")
    p.add_argument("--clients", help="comma-separated clients: " + ",".join(CLIENT_NAMES))
    p.add_argument("--scale", type=float, default=1.0, help="multiply every record count (e.g. 0.1 to try things out)")
    p.add_argument("--no-build", action="store_true", help="use what is built")
    p.add_argument("--render", metavar="RUNS_JSON", help="write the tables of an earlier run (bench/results/runs-*.json) without running anything")
    p.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"),
                   help="markdown file to update (between its bench:results markers); '-' for none")
    args = p.parse_args()
    args.command = "bench/run.sh" + "".join(f" {shlex.quote(a)}" for a in sys.argv[1:])
    reps = 1 if args.quick else args.reps
    clients = args.clients.split(",") if args.clients else CLIENT_NAMES
    for c in clients:
        if c not in CLIENT_NAMES:
            p.error(f"unknown client {c}")
    all_sc = scenarios(args.scale)
    names = ["startup"] + [s["name"] for s in all_sc]
    only = args.only.split(",") if args.only else names
    for o in only:
        if o not in names:
            p.error(f"unknown scenario {o}")

    if args.render:
        with open(args.render) as f:
            saved = json.load(f)
        args.command = saved["command"]
        results = saved["results"]
        failures = [r for r in results if "error" in r]
        started = datetime.datetime.fromisoformat(saved["started_at"])
        body = render(args, saved["scenarios"], results, failures, started, saved["took_s"], saved["machine"])
        print(body)
        if args.out != "-":
            write_markdown(args.out, body)
        return
    if not args.no_build:
        build()
    started_at = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.perf_counter()
    results, failures = [], []
    if "startup" in only:
        run_startup(clients, reps or 3, results, failures)
    ran = []
    for sc in all_sc:
        if sc["name"] in only:
            run_scenario(sc, clients, reps, results, failures)
            ran.append(sc)
    took = time.perf_counter() - t0

    os.makedirs(os.path.join(BENCH, "results"), exist_ok=True)
    raw = os.path.join(BENCH, "results", f"runs-{started_at:%Y%m%d-%H%M%S}.json")
    with open(raw, "w") as f:
        json.dump({"command": args.command, "machine": machine(), "started_at": started_at.isoformat(),
                   "took_s": took, "scenarios": ran, "results": results}, f, indent=1)
    body = render(args, ran, results, failures, started_at, took)
    print(body)
    if args.out != "-":
        write_markdown(args.out, body)
        log(f"\nwrote {args.out} and {raw} ({took / 60:.1f} minutes)")
    if failures:
        log(f"error: {len(failures)} run(s) failed")
        sys.exit(1)


if __name__ == "__main__":
    main()

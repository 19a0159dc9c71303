"""What the Python clients of the benchmark share: the command line, the id
check, the retry rule and the one JSON line each client prints."""

import argparse
import json
import random
import sys
import time

MAX_RETRIES = 10
BASE_DELAY = 0.2
MAX_DELAY = 20.0
RETRIED = {429, 500, 502, 503, 504}
SWEEPS = {"latency", "throughput", "politeness", "memory", "shedding"}


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--scenario", required=True)
    p.add_argument("--url", default="")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--page-size", type=int, default=100)
    p.add_argument("--ids", type=int, default=0)
    args = p.parse_args()
    args.url = args.url.rstrip("/")
    if kind(args) != "startup" and not args.url:
        p.error("--url is required")
    if kind(args) == "fetch-many" and args.ids <= 0:
        p.error("fetch-many needs --ids N")
    return args


def kind(args):
    if args.scenario in SWEEPS:
        return "sweep"
    if args.scenario in ("fetch-many", "startup"):
        return args.scenario
    sys.exit(f"error: unknown scenario {args.scenario!r}")


def die(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


class Seen:
    """Checks that every id 1..=total arrived exactly once."""

    def __init__(self):
        self.seen = bytearray(1024)
        self.count = 0

    def mark(self, id_):
        if not isinstance(id_, int) or id_ < 1:
            die(f"bad id {id_!r}")
        if id_ >= len(self.seen):
            self.seen.extend(bytes(max(id_ + 1, 2 * len(self.seen)) - len(self.seen)))
        if self.seen[id_]:
            die(f"id {id_} arrived twice")
        self.seen[id_] = 1
        self.count += 1

    def check(self, total):
        if self.count != total:
            missing = next((i for i in range(1, total + 1) if not self.seen[i]), None)
            die(f"{self.count} ids arrived, expected {total} (first missing: {missing})")


def retry_delay(attempt, retry_after):
    """Retry-After (+ up to 10% jitter) when given, else full-jitter backoff
    from 200 ms doubling to 20 s."""
    if retry_after is not None:
        try:
            secs = float(retry_after)
            if secs >= 0:
                return secs * (1 + random.random() * 0.1)
        except ValueError:
            pass
    return random.random() * min(MAX_DELAY, BASE_DELAY * 2**attempt)


class Counts:
    def __init__(self):
        self.requests = 0
        self.throttled = 0
        self.retries = 0


def report(client, args, started, seen, counts):
    print(json.dumps({
        "client": client,
        "scenario": args.scenario,
        "records": seen.count,
        "requests": counts.requests,
        "throttled": counts.throttled,
        "retries": counts.retries,
        "elapsed_s": time.perf_counter() - started,
        "ok": True,
    }), flush=True)

"""The httpx peer: one httpx.AsyncClient (its pool sized to the concurrency,
so that no connection is closed and reopened between requests), an
asyncio.Semaphore(C), one coroutine per page (or id) awaited with
asyncio.gather; each parses its page with `resp.json()` and checks its ids.
Pages are handled in completion order.

Retry rule (the same as every client's): 429, 500, 502, 503, 504 and
transport errors are retried up to 10 times, after Retry-After (+ up to 10%
jitter) when the answer names one, else after full-jitter backoff from 200 ms
doubling to 20 s. The wait holds the semaphore slot.
"""

import asyncio
import time

import httpx

from common import MAX_RETRIES, RETRIED, Counts, Seen, die, kind, parse_args, report, retry_delay


async def get(client, sem, url, counts):
    async with sem:
        for attempt in range(MAX_RETRIES + 1):
            counts.requests += 1
            try:
                resp = await client.get(url)
                if resp.status_code == 200:
                    return resp.json()
                if resp.status_code not in RETRIED:
                    die(f"{url}: status {resp.status_code}")
                if resp.status_code == 429:
                    counts.throttled += 1
                wait = retry_delay(attempt, resp.headers.get("Retry-After"))
            except httpx.TransportError:
                wait = retry_delay(attempt, None)
            if attempt == MAX_RETRIES:
                die(f"{url}: gave up after {MAX_RETRIES} retries")
            counts.retries += 1
            await asyncio.sleep(wait)


async def main():
    args = parse_args()
    counts = Counts()
    seen = Seen()
    sem = asyncio.Semaphore(args.concurrency)
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        started = time.perf_counter()
        mode = kind(args)
        if mode == "sweep":
            def page_url(offset):
                return f"{args.url}/offset/items?offset={offset}&limit={args.page_size}"

            first = await get(client, sem, page_url(0), counts)
            total = first["meta"]["total"]
            for record in first["data"]:
                seen.mark(record["id"])

            async def page(offset):
                body = await get(client, sem, page_url(offset), counts)
                for record in body["data"]:
                    seen.mark(record["id"])

            await asyncio.gather(*(page(o) for o in range(args.page_size, total, args.page_size)))
            seen.check(total)
        elif mode == "fetch-many":
            async def one(id_):
                item = await get(client, sem, f"{args.url}/items/{id_}", counts)
                if item["id"] != id_:
                    die(f"asked for id {id_}, got {item['id']}")
                seen.mark(item["id"])

            await asyncio.gather(*(one(i) for i in range(1, args.ids + 1)))
            seen.check(args.ids)
        report("httpx-async", args, started, seen, counts)


asyncio.run(main())

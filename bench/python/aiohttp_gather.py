"""The aiohttp peer, written the way hand-rolled scripts (and snowloader)
write it: one aiohttp.ClientSession, an asyncio.Semaphore(C), one coroutine
per page (or id) created up front and awaited with asyncio.gather. Each
coroutine parses its page with `await resp.json()` and checks its ids; pages
are handled in completion order.

Retry rule (the same as every client's): 429, 500, 502, 503, 504 and
connection errors are retried up to 10 times, after Retry-After (+ up to 10%
jitter) when the answer names one, else after full-jitter backoff from 200 ms
doubling to 20 s. The wait holds the semaphore slot.
"""

import asyncio
import time

import aiohttp

from common import MAX_RETRIES, RETRIED, Counts, Seen, die, kind, parse_args, report, retry_delay


async def get(session, sem, url, counts):
    async with sem:
        for attempt in range(MAX_RETRIES + 1):
            counts.requests += 1
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return await resp.json()
                    if resp.status not in RETRIED:
                        die(f"{url}: status {resp.status}")
                    if resp.status == 429:
                        counts.throttled += 1
                    await resp.read()
                    wait = retry_delay(attempt, resp.headers.get("Retry-After"))
            except aiohttp.ClientConnectionError:
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
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        started = time.perf_counter()
        mode = kind(args)
        if mode == "sweep":
            def page_url(offset):
                return f"{args.url}/offset/items?offset={offset}&limit={args.page_size}"

            first = await get(session, sem, page_url(0), counts)
            total = first["meta"]["total"]
            for record in first["data"]:
                seen.mark(record["id"])

            async def page(offset):
                body = await get(session, sem, page_url(offset), counts)
                for record in body["data"]:
                    seen.mark(record["id"])

            await asyncio.gather(*(page(o) for o in range(args.page_size, total, args.page_size)))
            seen.check(total)
        elif mode == "fetch-many":
            async def one(id_):
                item = await get(session, sem, f"{args.url}/items/{id_}", counts)
                if item["id"] != id_:
                    die(f"asked for id {id_}, got {item['id']}")
                seen.mark(item["id"])

            await asyncio.gather(*(one(i) for i in range(1, args.ids + 1)))
            seen.check(args.ids)
        report("aiohttp-gather", args, started, seen, counts)


asyncio.run(main())

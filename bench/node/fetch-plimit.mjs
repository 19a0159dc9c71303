// The Node peer: Node 20's fetch (undici) + p-limit, written the way its
// users write it. The first page gives the total; every other page (or id)
// is one `limit(() => ...)` task, all created at once and awaited with
// `Promise.all`; each task parses its page (`res.json()`) and checks its ids.
// Pages are handled in completion order.
//
// Retry rule (the same as every client's): 429, 500, 502, 503, 504 and
// network errors are retried up to 10 times, after `Retry-After` (+ up to
// 10% jitter) when the answer names one, else after full-jitter backoff from
// 200 ms doubling to 20 s. The wait holds the task's p-limit slot.
import pLimit from 'p-limit';
import { MAX_RETRIES, Seen, kind, parseArgs, retried, retryDelayMs, sleep } from './common.mjs';

const counts = { requests: 0, throttled: 0, retries: 0 };

async function get(url) {
  for (let attempt = 0; ; attempt++) {
    counts.requests += 1;
    let wait;
    try {
      const res = await fetch(url);
      if (res.ok) return await res.json();
      if (!retried(res.status)) throw Object.assign(new Error(`${url}: status ${res.status}`), { fatal: true });
      if (res.status === 429) counts.throttled += 1;
      await res.arrayBuffer();
      wait = retryDelayMs(attempt, res.headers.get('retry-after'));
    } catch (e) {
      if (e.fatal) throw e;
      wait = retryDelayMs(attempt, null);
    }
    if (attempt >= MAX_RETRIES) throw new Error(`${url}: gave up after ${MAX_RETRIES} retries`);
    counts.retries += 1;
    await sleep(wait);
  }
}

try {
  const args = parseArgs(process.argv.slice(2));
  const limit = pLimit(args.concurrency);
  const started = performance.now();
  const seen = new Seen();
  const pageUrl = (offset) => `${args.url}/offset/items?offset=${offset}&limit=${args.pageSize}`;
  switch (kind(args)) {
    case 'startup':
      break;
    case 'sweep': {
      const first = await limit(() => get(pageUrl(0)));
      const total = first.meta.total;
      for (const record of first.data) seen.mark(record.id);
      const offsets = [];
      for (let o = args.pageSize; o < total; o += args.pageSize) offsets.push(o);
      await Promise.all(offsets.map((offset) => limit(async () => {
        const page = await get(pageUrl(offset));
        for (const record of page.data) seen.mark(record.id);
      })));
      seen.check(total);
      break;
    }
    case 'fetch-many': {
      const ids = Array.from({ length: args.ids }, (_, i) => i + 1);
      await Promise.all(ids.map((id) => limit(async () => {
        const item = await get(`${args.url}/items/${id}`);
        if (item.id !== id) throw new Error(`asked for id ${id}, got ${item.id}`);
        seen.mark(item.id);
      })));
      seen.check(args.ids);
      break;
    }
  }
  const elapsed_s = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ client: 'fetch-plimit', scenario: args.scenario, records: seen.count, ...counts, elapsed_s, ok: true }));
} catch (e) {
  console.error(`error: ${e?.stack ?? e}`);
  process.exit(1);
}

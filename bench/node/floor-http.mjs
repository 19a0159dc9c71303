// Not a peer: a reference for what Node itself allows in the sweeps
// (latency, throughput). One keep-alive node:http agent, C loops each
// asking for the next page with `http.get` and `JSON.parse` on the whole
// body, ids checked; no retries, no pacing, no order kept, no
// Accept-Encoding, no timeouts, no error detail: the least a Node client
// can do per page. The difference between pagewise-node and this is what
// pagewise's npm package adds; between this and the floor, what Node adds.

import http from 'node:http';
import { kind, parseArgs, Seen } from './common.mjs';

function get(agent, url) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${url}: status ${res.statusCode}`));
        else resolve([res.headers, Buffer.concat(chunks)]);
      });
    }).on('error', reject);
  });
}

try {
  const args = parseArgs(process.argv.slice(2));
  if (kind(args) !== 'sweep' || !args.url.startsWith('http://')) {
    throw new Error('floor-http only runs the sweeps over http://');
  }
  const agent = new http.Agent({ keepAlive: true, scheduling: 'lifo' });
  const size = args.pageSize;
  const pageUrl = (i) => `${args.url}/offset/items?offset=${i * size}&limit=${size}`;
  const started = performance.now();
  const seen = new Seen();
  const take = (body) => {
    for (const record of JSON.parse(body).data) seen.mark(record.id);
  };
  const [headers, body] = await get(agent, pageUrl(0));
  take(body);
  const total = Number(headers['x-total-count']);
  if (!Number.isSafeInteger(total)) throw new Error('no X-Total-Count');
  const pages = Math.ceil(total / size);
  let next = 1;
  const loop = async () => {
    while (next < pages) {
      const i = next++;
      take((await get(agent, pageUrl(i)))[1]);
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, loop));
  seen.check(total);
  const out = { records: seen.count, requests: pages, throttled: 0, retries: 0 };
  out.elapsed_s = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ client: 'floor-http', scenario: args.scenario, ...out, ok: true }));
  agent.destroy();
} catch (e) {
  console.error(`error: ${e?.stack ?? e}`);
  process.exit(1);
}

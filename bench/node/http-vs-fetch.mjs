// Node's fetch (undici) against node:http with a keep-alive agent: N GETs of
// /items/{id} at concurrency C, each answer read whole and parsed. Prints
// wall and CPU seconds (the process's own user+sys). The measurement behind
// item 18 of BENCHMARKS.md ("What was changed").
//
//   target/release/pagewise-testserver --port 8080 --records 50000 --latency-ms 20 &
//   node bench/node/http-vs-fetch.mjs fetch http://127.0.0.1:8080 20000 64
//   node bench/node/http-vs-fetch.mjs http  http://127.0.0.1:8080 20000 64
import http from 'node:http';

const [mode, base, n, concurrency] = [process.argv[2], process.argv[3], Number(process.argv[4]), Number(process.argv[5])];
if (!['fetch', 'http'].includes(mode) || !base || !(n > 0) || !(concurrency > 0)) {
  console.error('usage: node bench/node/http-vs-fetch.mjs fetch|http BASE_URL N CONCURRENCY');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true });

function viaHttp(url) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent, headers: { accept: 'application/json' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve([res.statusCode, Buffer.concat(chunks)]));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function viaFetch(url) {
  // A signal per request, as a client with timeouts needs.
  const controller = new AbortController();
  const res = await fetch(url, { headers: { accept: 'application/json' }, signal: controller.signal });
  return [res.status, new Uint8Array(await res.arrayBuffer())];
}

const get = mode === 'http' ? viaHttp : viaFetch;
const decoder = new TextDecoder();
const started = performance.now();
const cpu0 = process.cpuUsage();
let next = 1;
async function worker() {
  while (next <= n) {
    const id = next++;
    const [status, body] = await get(`${base}/items/${id}`);
    if (status !== 200) throw new Error(`/items/${id}: status ${status}`);
    if (JSON.parse(decoder.decode(body)).id !== id) throw new Error(`/items/${id}: another record`);
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
const cpu = process.cpuUsage(cpu0);
console.log(`${mode}: ${n} GETs, ${((performance.now() - started) / 1000).toFixed(2)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s CPU`);

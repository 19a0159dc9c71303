// Every request of the npm package goes through the global `fetch` (through
// gloo-net), so fetch mocks (msw, nock, undici's MockAgent) and
// instrumentation see it: here a `globalThis.fetch` replaced after the
// package loaded records each call and forwards it to the real `fetch`,
// against the test server, whose own count of requests must match.
//
//   npm run test:node       (at the repository root)

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { requireBuiltPackage, startTestServer, withTimeout } from './helpers.mjs';

requireBuiltPackage();
const { Client } = await import('pagewise');

const realFetch = globalThis.fetch;
let server;
/** The URLs the stub saw, of requests to the API (not the server's `/_` control paths). */
const calls = [];

before(async () => {
  server = await startTestServer({ records: 1234, latencyMs: 1 });
  globalThis.fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (!new URL(url).pathname.startsWith('/_')) calls.push({ url, method: input instanceof Request ? input.method : init?.method ?? 'GET' });
    return realFetch(input, init);
  };
});

after(async () => {
  globalThis.fetch = realFetch;
  await server?.close();
});

/** The server's own log of counted requests since the last reset. */
async function serverLog() {
  const resp = await withTimeout(realFetch(`${server.url}/_log`), 5_000, '/_log');
  return resp.json();
}

test('a stubbed globalThis.fetch receives every request of a sweep, a get and a write', async () => {
  await server.resetStats();
  calls.length = 0;
  const c = new Client({
    baseUrl: `${server.url}/offset/`,
    recordsAt: '/data',
    pagination: { type: 'offset', total: { header: 'X-Total-Count' } },
    pageSize: 100,
    concurrency: 4,
  });
  const records = await withTimeout(c.list('items'), 20_000, 'the sweep');
  assert.equal(records.length, 1234);
  assert.equal(calls.length, 13, 'one call per page of 100');
  const one = await withTimeout(new Client({ baseUrl: `${server.url}/` }).get('items/5'), 10_000, 'the get');
  assert.equal(one.id, 5);
  const [made] = await withTimeout(new Client({ baseUrl: `${server.url}/` }).insertMany('items', [{ name: 'x' }]), 10_000, 'the write');
  assert.equal(made.ok, true, made.error?.message);

  const log = await serverLog();
  assert.equal(calls.length, 15);
  assert.equal(log.length, calls.length, 'every request the server had went through the stub');
  const path = (u) => { const x = new URL(u); return x.pathname + x.search; };
  assert.deepEqual(calls.map((c) => `${c.method} ${path(c.url)}`).sort(), log.map((r) => `${r.method} ${r.path}`).sort());
  assert.equal(calls.at(-1).method, 'POST');
});

test('a stub that answers by itself (a mock) is all the package needs: no request reaches a network', async () => {
  const seen = [];
  const mock = (input) => {
    // fetch(url, init), as the package calls it (a Request works too).
    const url = new URL(typeof input === 'string' ? input : input.url);
    seen.push(url.pathname + url.search);
    const offset = Number(url.searchParams.get('offset') ?? 0);
    const data = offset >= 30 ? [] : Array.from({ length: 10 }, (_, i) => ({ id: offset + i + 1 }));
    return Promise.resolve(new Response(JSON.stringify({ data }), { headers: { 'content-type': 'application/json' } }));
  };
  globalThis.fetch = mock;
  try {
    const c = new Client({ baseUrl: 'http://api.invalid/', recordsAt: '/data', pageSize: 10, retry: { maxRetries: 0 } });
    const records = await withTimeout(c.list('items'), 10_000, 'the mocked sweep');
    assert.deepEqual(records.map((r) => r.id), Array.from({ length: 30 }, (_, i) => i + 1));
    assert.deepEqual(seen, ['/items?offset=0&limit=10', '/items?offset=10&limit=10', '/items?offset=20&limit=10', '/items?offset=30&limit=10']);
  } finally {
    globalThis.fetch = realFetch;
  }
});

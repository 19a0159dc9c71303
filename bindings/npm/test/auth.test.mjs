// Tokens that expire, in Node: OAuth 2.0 (tokens lasting 2 s) and a token
// provider function against the test server's token endpoint, plus the
// `headers` auth and the errors that must not hold a secret.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { requireBuiltPackage, startTestServer } from './helpers.mjs';

requireBuiltPackage();
const { Client, PagewiseError } = await import('pagewise');

const SECRET = 's3cret-client';
const SECS = Number(process.env.PAGEWISE_TOKEN_SWEEP_SECS ?? 10);
const RECORDS = SECS * 16 * 10 * 20;
let server;

async function oauth(config) {
  const resp = await fetch(`${server.url}/_oauth`, {
    method: 'POST',
    body: JSON.stringify({ clientId: 'cid', clientSecret: SECRET, refreshToken: 'rt-0', ...config }),
  });
  assert.equal(resp.status, 204);
}
const oauthStats = async () => (await fetch(`${server.url}/_oauth`)).json();

async function mint() {
  const resp = await fetch(`${server.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `grant_type=client_credentials&client_id=cid&client_secret=${SECRET}`,
  });
  return (await resp.json()).access_token;
}

const offset = { recordsAt: '/data', pagination: { type: 'offset', total: { header: 'X-Total-Count' } } };

before(async () => {
  server = await startTestServer({ records: RECORDS, latencyMs: 100 });
});
after(() => server?.close());

test('oauth2 sweep: tokens expiring every 2 s, concurrency 16: every record once, one token call per expiry', async () => {
  await oauth({ lifetimeMs: 2000 });
  const client = new Client({
    baseUrl: `${server.url}/offset/`,
    ...offset,
    concurrency: 16,
    auth: {
      type: 'oauth2', grant: 'refresh_token', tokenUrl: `${server.url}/oauth2/token`,
      clientId: 'cid', clientSecret: SECRET, refreshToken: 'rt-0', clientAuth: 'basic',
    },
  });
  const started = Date.now();
  const ids = new Set();
  let n = 0;
  for await (const r of client.stream('items', { pageSize: 20, order: 'completion' })) {
    ids.add(r.id);
    n += 1;
  }
  const secs = (Date.now() - started) / 1000;
  const stats = await oauthStats();
  console.log(`${n} records in ${secs} s: ${stats.tokenCalls} token calls, ${stats.refused} refused`);
  assert.equal(n, RECORDS);
  assert.equal(ids.size, RECORDS);
  assert.ok(stats.tokenCalls <= Math.ceil(secs / 1.8) + 2, JSON.stringify(stats));
});

test('a provider function: asked once, then again on a 401', async () => {
  await oauth({ lifetimeMs: 60_000 });
  let calls = 0;
  const client = new Client({
    baseUrl: `${server.url}/`,
    concurrency: 8,
    auth: { type: 'provider', token: async () => (++calls === 1 ? 'stale' : { token: await mint(), expiresInMs: 60_000 }) },
  });
  const got = await Promise.all(Array.from({ length: 8 }, (_, i) => client.get(`items/${i + 1}`)));
  assert.deepEqual(got.map((r) => r.id), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(calls, 2, 'one refresh for every 401 in flight');
});

test('a provider that fails, a token refused twice: kind auth, no secret', async () => {
  await oauth({ lifetimeMs: 60_000 });
  const failing = new Client({
    baseUrl: `${server.url}/`,
    retry: { maxRetries: 0 },
    auth: { type: 'provider', token: async () => { throw new Error('vault down'); } },
  });
  await assert.rejects(failing.get('items/1'), (e) => e instanceof PagewiseError && e.kind === 'auth' && /vault down/.test(e.message));
  const bogus = new Client({ baseUrl: `${server.url}/`, auth: { type: 'provider', token: () => 'b0gus-token' } });
  await assert.rejects(bogus.get('items/1'), (e) => e.kind === 'auth' && e.status === 401 && !JSON.stringify(e).includes('b0gus') && !e.message.includes('b0gus'));
  const wrong = new Client({
    baseUrl: `${server.url}/`,
    retry: { maxRetries: 0 },
    auth: { type: 'oauth2', grant: 'client_credentials', tokenUrl: `${server.url}/oauth2/token`, clientId: 'cid', clientSecret: 'wr0ng' },
  });
  await assert.rejects(wrong.get('items/1'), (e) => e.kind === 'auth' && /invalid_client/.test(e.message) && !e.message.includes('wr0ng'));
});

test('options: a token URL over http elsewhere, a provider without a function, headers', async () => {
  assert.throws(
    () => new Client({ baseUrl: 'https://api.example/', auth: { type: 'oauth2', grant: 'client_credentials', tokenUrl: 'http://login.example/t', clientId: 'c', clientSecret: SECRET } }),
    (e) => e.kind === 'config' && !e.message.includes(SECRET),
  );
  assert.throws(() => new Client({ baseUrl: 'https://api.example/', auth: { type: 'provider', token: 'x' } }), (e) => e.kind === 'config');
  await fetch(`${server.url}/_oauth`, { method: 'DELETE' });
  const c = new Client({ baseUrl: `${server.url}/`, auth: { type: 'headers', headers: { apikey: 'k3y', Authorization: 'Bearer k3y' } } });
  assert.equal((await c.get('items/3')).id, 3);
});

// The client's `onRequest` and `onEvent` callbacks against the test server:
// one request event per page with the credentials removed from its URL,
// retries and pacing changes under a rate limit, a callback that throws,
// a request that got no answer; and `PagewiseError.cause`.
//
//   node --test bindings/npm/test/events.test.mjs

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { requireBuiltPackage, startTestServer } from './helpers.mjs';

requireBuiltPackage();
const { Client, PagewiseError } = await import('pagewise');

const SECRET = 's3cr3t-query-key';
let plain;
let limited;

before(async () => {
  plain = await startTestServer({ records: 250, latencyMs: 1 });
  limited = await startTestServer({
    records: 5000,
    latencyMs: 1,
    extra: ['--rate-limit-per-second', '50', '--rate-limit-burst', '5'],
  });
});
after(async () => {
  await plain?.close();
  await limited?.close();
});

const options = (server, extra = {}) => ({
  baseUrl: `${server.url}/offset/`,
  auth: { type: 'query', name: 'api_key', value: SECRET },
  recordsAt: '/data',
  pagination: { type: 'offset', total: { header: 'X-Total-Count' } },
  pageSize: 100,
  concurrency: 16,
  retry: { maxRetries: 20, baseDelayMs: 10, maxDelayMs: 200 },
  ...extra,
});

/** Every record of `items` through `client`, as an array. */
async function sweep(client) {
  const out = [];
  for await (const r of client.stream('items')) out.push(r);
  return out;
}

test('onRequest and onEvent: a request event per page, URLs without the secret, then sweepFinished', async () => {
  const requests = [];
  const events = [];
  const client = new Client(options(plain, { onRequest: (e) => requests.push(e), onEvent: (e) => events.push(e) }));
  const records = await sweep(client);
  assert.equal(records.length, 250);
  assert.equal(requests.length, 3, JSON.stringify(events, null, 1));
  assert.deepEqual(events.filter((e) => e.type === 'request'), requests, 'onEvent sees the request events too');
  for (const e of requests) {
    assert.equal(e.type, 'request');
    assert.equal(e.method, 'GET');
    assert.equal(e.status, 200);
    assert.equal(e.error, null);
    assert.ok(e.bytes > 0, JSON.stringify(e));
    assert.equal(typeof e.elapsedMs, 'number');
    assert.ok(e.url.startsWith(`${plain.url}/offset/items?`), e.url);
    assert.ok(e.url.includes('api_key='), `the parameter is named, its value removed: ${e.url}`);
    assert.match(e.message, /^GET http\S+ -> 200 in \d+ ms \(\d+ bytes\)$/);
  }
  const last = events.at(-1);
  assert.equal(last.type, 'sweepFinished', JSON.stringify(last));
  assert.deepEqual(
    { records: last.records, pages: last.pages, requests: last.requests, complete: last.complete },
    { records: 250, pages: 3, requests: 3, complete: true },
  );
  assert.ok(!JSON.stringify(events).includes(SECRET), 'a secret in an event');
});

test('under a rate limit: retry events after 429s, a cooldown and a concurrency change', async () => {
  const events = [];
  const client = new Client(options(limited, { onEvent: (e) => events.push(e) }));
  const records = await sweep(client);
  assert.equal(records.length, 5000);
  assert.ok(!JSON.stringify(events).includes(SECRET), 'a secret in an event');
  const retries = events.filter((e) => e.type === 'retry');
  assert.ok(retries.length > 0, 'no retry event');
  for (const r of retries) {
    assert.equal(r.method, 'GET');
    assert.ok(r.url.startsWith(`${limited.url}/offset/items?`), r.url);
    assert.ok(r.attempt >= 1 && r.attempt <= 20, JSON.stringify(r));
    assert.equal(r.max, 20);
    assert.ok(r.delayMs >= 0, JSON.stringify(r));
    assert.equal(r.cause, '429 (throttled)');
    assert.match(r.message, /^retry \d+ of 20 in \d+\.\d\d s after 429 \(throttled\): GET http/);
  }
  assert.ok(events.some((e) => e.type === 'request' && e.status === 429), 'the 429s are request events too');
  const concurrency = events.filter((e) => e.type === 'concurrency');
  assert.ok(
    concurrency.some((e) => e.from === 16 && e.to < 16 && e.cause === '429'),
    `no concurrency change after 429s: ${JSON.stringify(concurrency)}`,
  );
  const cooldowns = events.filter((e) => e.type === 'cooldown');
  assert.ok(
    cooldowns.some((e) => e.cause === '429 (Retry-After)' && e.waitMs > 0),
    `no cooldown: ${JSON.stringify(cooldowns)}`,
  );
});

test('a callback that throws breaks nothing and is reported once on the console', async () => {
  const reported = [];
  const consoleError = console.error;
  console.error = (...args) => reported.push(args);
  let calls = 0;
  try {
    const client = new Client(options(plain, {
      onRequest: () => {
        calls += 1;
        throw new Error('observer bug');
      },
      onEvent: () => {
        throw new TypeError('another observer bug');
      },
    }));
    const records = await sweep(client);
    assert.equal(records.length, 250);
  } finally {
    console.error = consoleError;
  }
  assert.equal(calls, 3, 'still called after throwing');
  assert.equal(reported.length, 1, `reported once: ${reported.map((a) => a.join(' ')).join('\n')}`);
  assert.match(String(reported[0][0]), /options\.onRequest threw/);
  assert.equal(reported[0][1].message, 'observer bug');
});

test('a callback that is not a function is a config error', () => {
  for (const name of ['onRequest', 'onEvent']) {
    assert.throws(
      () => new Client({ baseUrl: plain.url, [name]: 'log' }),
      (e) => e instanceof PagewiseError && e.kind === 'config' && e.message.includes(`options.${name} must be a function`),
    );
  }
});

test('a request that got no answer: status null and its error', async () => {
  const events = [];
  // Port 9 (discard): nothing listens there.
  const client = new Client({ baseUrl: 'http://127.0.0.1:9/', retry: { maxRetries: 0 }, onEvent: (e) => events.push(e) });
  await assert.rejects(client.get('items/1'), PagewiseError);
  const [request] = events;
  assert.equal(request?.type, 'request', JSON.stringify(events));
  assert.equal(request.status, null);
  assert.equal(request.bytes, 0);
  assert.equal(typeof request.error, 'string');
  assert.match(request.message, /^GET http:\/\/127\.0\.0\.1:9\/items\/1 -> failed after \d+ ms: connect: fetch failed: TypeError: fetch failed/);
  assert.match(request.error, /^connect: /);
});

test('PagewiseError.cause: the TypeError of a failed fetch', async () => {
  const client = new Client({ baseUrl: 'http://127.0.0.1:9/', retry: { maxRetries: 0 } });
  const err = await client.get('items/1').then(() => null, (e) => e);
  assert.ok(err instanceof PagewiseError, String(err));
  assert.ok(err.cause instanceof TypeError, `cause: ${err.cause}`);
  assert.equal(err.cause.message, 'fetch failed');
});

test('PagewiseError.cause: what a token provider threw or rejected with', async () => {
  for (const token of [
    () => { throw new RangeError('the vault is down'); },
    async () => { throw new RangeError('the vault is down'); },
  ]) {
    const client = new Client({ baseUrl: `${plain.url}/`, retry: { maxRetries: 0 }, auth: { type: 'provider', token } });
    const err = await client.get('items/1').then(() => null, (e) => e);
    assert.ok(err instanceof PagewiseError, String(err));
    assert.equal(err.kind, 'auth', err.message);
    assert.ok(err.cause instanceof RangeError, `cause: ${err.cause}`);
    assert.equal(err.cause.message, 'the vault is down');
  }
});

test('PagewiseError.cause: none for a failure JavaScript did not throw', async () => {
  const client = new Client({ baseUrl: `${plain.url}/`, retry: { maxRetries: 0 } });
  const err = await client.get('no-such-path').then(() => null, (e) => e);
  assert.ok(err instanceof PagewiseError, String(err));
  assert.equal(err.cause, undefined);
});

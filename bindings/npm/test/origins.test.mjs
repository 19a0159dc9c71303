// Where server-supplied URLs may lead, in Node: a next link or a redirect
// from the API to another origin (another port of 127.0.0.1) fails with
// kind `origin` by default, and with `allowOrigins` is followed without
// `auth`, `headers` or `query`. Both servers are small node:http servers
// started here; each records what it was sent.
//
//   node --test --test-concurrency=1 bindings/npm/test/origins.test.mjs

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, test } from 'node:test';

import { requireBuiltPackage } from './helpers.mjs';

requireBuiltPackage();
const { Client, PagewiseError } = await import('pagewise');

const closers = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

/** A server answering `answer(url)` as `[status, headers, body]`; records requests. */
async function serve(answer) {
  const seen = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url, headers: req.headers });
    const [status, headers, body] = answer(req.url);
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  closers.push(() => new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  }));
  return { origin: `http://127.0.0.1:${server.address().port}`, seen };
}

const json = (v) => [200, {}, JSON.stringify(v)];

/** The API (links and redirects to `other`) and the other origin. */
async function servers(auth) {
  const other = await serve((url) => url.startsWith('/thing')
    ? json({ id: 7 })
    : json({ data: [{ id: 3 }, { id: 4 }], next: null }));
  // A server echoes what it was sent in its links: the auth parameter too.
  const key = auth.type === 'query' ? '&api_key=qk3y' : '';
  const own = await serve((url) => url.startsWith('/moved')
    ? [302, { location: `${other.origin}/thing/7?sig=s1g${key}` }, '']
    : json({ data: [{ id: 1 }, { id: 2 }], next: `${other.origin}/items?sig=s1g${key}&page=2` }));
  const options = (more = {}) => ({
    baseUrl: `${own.origin}/`,
    auth,
    headers: { 'X-Api-Key': 'k3y', 'X-Tenant': 'acme' },
    query: { sig: 's1g' },
    recordsAt: '/data',
    pagination: { type: 'next', from: { pointer: '/next' }, limitParam: null },
    retry: { maxRetries: 0 },
    ...more,
  });
  return { own, other, options };
}

function assertRefused(e, other) {
  assert.ok(e instanceof PagewiseError, String(e));
  assert.equal(e.kind, 'origin', e.message);
  assert.ok(e.url.startsWith(other.origin), `the link is named: ${e.url}`);
  assert.ok(!e.url.includes('qk3y') && !e.message.includes('qk3y'), e.url);
  assert.match(e.message, /allowOrigins/);
  assert.equal(other.seen.length, 0, 'nothing was sent to the other origin');
}

function assertBare(other) {
  assert.ok(other.seen.length > 0, 'the link was followed');
  for (const { url, headers } of other.seen) {
    for (const name of ['authorization', 'x-api-key', 'x-tenant']) {
      assert.equal(headers[name], undefined, `${name} went to ${url}`);
    }
    assert.ok(!url.includes('s1g') && !url.includes('qk3y'), url);
  }
}

function assertOwnGotThem(own) {
  for (const { url, headers } of own.seen) {
    assert.equal(headers['x-api-key'], 'k3y', url);
    assert.equal(headers['x-tenant'], 'acme', url);
    assert.ok(url.includes('sig=s1g'), url);
  }
}

test('a next link to another origin: refused by default, followed bare when allowed', async () => {
  const { own, other, options } = await servers({ type: 'bearer', token: 'b34rer' });
  const e = await new Client(options()).list('items').then(() => null, (e) => e);
  assertRefused(e, other);

  const records = await new Client(options({ allowOrigins: [other.origin] })).list('items');
  assert.deepEqual(records.map((r) => r.id), [1, 2, 3, 4]);
  assertBare(other);
  assertOwnGotThem(own);
  assert.ok(own.seen.every((r) => r.headers.authorization === 'Bearer b34rer'));
});

test('a redirect to another origin: refused by default, followed bare when allowed', async () => {
  const { own, other, options } = await servers({ type: 'query', name: 'api_key', value: 'qk3y' });
  const e = await new Client(options()).get('moved').then(() => null, (e) => e);
  assertRefused(e, other);

  const thing = await new Client(options({ allowOrigins: '*' })).get('moved');
  assert.equal(thing.id, 7);
  assertBare(other);
  assertOwnGotThem(own);
  assert.ok(own.seen.every((r) => r.url.includes('api_key=qk3y')));
});

test('a fetch of the caller\'s is asked not to follow redirects itself', async () => {
  const { other, options } = await servers({ type: 'header', name: 'X-Key', value: 'hk3y' });
  const inits = [];
  const fetchFn = (url, init) => {
    inits.push(init);
    return fetch(url, init);
  };
  const e = await new Client(options({ fetch: fetchFn })).get('moved').then(() => null, (e) => e);
  assertRefused(e, other);
  assert.equal(inits.length, 1);
  assert.equal(inits[0].redirect, 'manual');

  const thing = await new Client(options({ fetch: fetchFn, allowOrigins: [other.origin] })).get('moved');
  assert.equal(thing.id, 7);
  assertBare(other);
  for (const { headers } of other.seen) assert.equal(headers['x-key'], undefined);
});

test('allowOrigins must be origins or "*"', () => {
  for (const allowOrigins of ['https://a.example', 'any', [1], ['https://a.example/path'], ['a.example'], { any: true }]) {
    assert.throws(
      () => new Client({ baseUrl: 'https://h.example/', allowOrigins }),
      (e) => e instanceof PagewiseError && e.kind === 'config' && /allowOrigins/.test(e.message),
      JSON.stringify(allowOrigins),
    );
  }
  new Client({ baseUrl: 'https://h.example/', allowOrigins: ['https://a.example', 'http://127.0.0.1:8080/'] });
  new Client({ baseUrl: 'https://h.example/', allowOrigins: '*' });
});

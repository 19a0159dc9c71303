// Issue 19 ("Trust") in Node: ids that would be dot segments, idempotency
// keys of processes started in the same millisecond, a Salesforce-style
// batch whose results the package must read (or report as unknown, never as
// failed), and a ServiceNow delta filter that joins the list's own query.
//
//   node --test --test-concurrency=1 bindings/npm/test/trust.test.mjs

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { range, requireBuiltPackage, runChild, startTestServer } from './helpers.mjs';

requireBuiltPackage();
const { Client, PagewiseError } = await import('pagewise');

let server;

before(async () => {
  server = await startTestServer({ records: 20, latencyMs: 0 });
});

after(async () => {
  await server?.close();
});

const noRetry = { maxRetries: 0 };

test('ids that would be dot segments are their item\'s url error, and never sent', async () => {
  const c = new Client({ baseUrl: `${server.url}/api/`, retry: noRetry });
  await server.resetStats();
  const out = await c.deleteMany('items', ['..', '.', '', '3']);
  for (const o of out.slice(0, 3)) {
    assert.equal(o.outcome, 'failed');
    assert.equal(o.ok, false);
    assert.ok(o.error instanceof PagewiseError);
    assert.equal(o.error.kind, 'url', o.error.message);
  }
  assert.match(out[0].error.message, /"\.\."/);
  assert.equal(out[3].outcome, 'ok', out[3].error?.message);
  // Only `DELETE /api/items/3` went out: not `DELETE /api/` nor `/api/items/`.
  assert.equal((await server.stats()).requests, 1);
  const left = await c.fetchMany('items/{id}', range(20));
  assert.deepEqual(left.filter((r) => r.error).map((r) => r.id), ['3']);

  const got = await c.fetchMany('items/{id}', ['..', '4', 'a/b']);
  assert.equal(got[0].error.kind, 'url');
  assert.equal(got[1].record.id, 4);
  // `a/b` stays one segment (`items/a%2Fb`): the server's 400 for a bad id, not another resource.
  assert.equal(got[2].error.kind, 'status');
  assert.equal(got[2].error.status, 400);
  assert.match(got[2].error.url, /\/api\/items\/a%2Fb$/);
});

/**
 * Runs `code` in a new Node process whose clock is frozen at one instant
 * (`Date.now`, `performance.now`) before the package loads: two such
 * processes start their writes "in the same millisecond".
 */
const frozenChild = (dir, name, code) => runChild(dir, code, {
  name,
  what: `child ${name}`,
  prelude: 'Date.now = () => 1767225600000;\nperformance.now = () => 1000;\n',
});

test('two processes writing in the same millisecond send distinct random UUID v4 keys', async () => {
  const keys = [];
  let n = 0;
  const http = createServer((req, res) => {
    keys.push(req.headers['idempotency-key']);
    req.resume();
    req.on('end', () => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: ++n }));
    });
  });
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${http.address().port}/`;
  const dir = mkdtempSync(join(tmpdir(), 'pagewise-keys-'));
  try {
    const code = `const c = new Client({ baseUrl: ${JSON.stringify(url)}, retry: { maxRetries: 0 } });
const out = await c.insertMany('items', [{ a: 1 }, { a: 2 }, { a: 3 }]);
console.log(JSON.stringify(out.map((o) => o.outcome)));`;
    const outs = await Promise.all([frozenChild(dir, 'a', code), frozenChild(dir, 'b', code)]);
    for (const out of outs) assert.deepEqual(JSON.parse(out), ['ok', 'ok', 'ok']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await new Promise((resolve) => http.close(resolve));
  }
  assert.equal(keys.length, 6);
  for (const k of keys) {
    assert.match(k, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, `${k} is not a UUID v4`);
  }
  assert.equal(new Set(keys).size, 6, `keys repeat: ${keys}`);
});

/** 450 records for Salesforce's composite endpoint; record 123 is rejected. */
const composite = () => range(450).map((i) => ({ name: `sf-${i}`, reject: i === 124 }));
const salesforce = {
  path: 'composite/sobjects',
  opField: null,
  resultsAt: '',
  resultFields: { ok: 'success', error: 'errors/0/message' },
};

test('a Salesforce composite batch: 449 written, 1 rejected, as the server says', async () => {
  const c = new Client({ baseUrl: `${server.url}/`, retry: noRetry });
  let progress;
  const out = await c.insertMany('items', composite(), {
    batch: salesforce,
    onProgress: (p) => { progress = p; },
  });
  assert.equal(out.length, 450);
  assert.equal(out.filter((o) => o.outcome === 'ok' && o.ok === true).length, 449);
  const failed = out.filter((o) => o.outcome === 'failed');
  assert.deepEqual(failed.map((o) => o.index), [123]);
  assert.equal(failed[0].error.kind, 'status');
  assert.equal(failed[0].error.status, null, 'the result has no HTTP status');
  assert.match(failed[0].error.message, /: rejected \(/);
  assert.equal(typeof out[0].id, 'string');
  assert.equal(progress.failed, 1);
  assert.equal(progress.unknown, 0);
});

test('a batch whose results cannot be read: every record unknown, none failed', async () => {
  const c = new Client({ baseUrl: `${server.url}/`, retry: noRetry });
  let progress;
  // The case: no way to say where the results are (the default
  // `/results` is not there). They were written: outcome unknown.
  const out = await c.insertMany('items', composite(), {
    batch: { path: 'composite/sobjects', opField: null },
    onProgress: (p) => { progress = p; },
  });
  assert.equal(out.length, 450);
  for (const o of out) {
    assert.equal(o.outcome, 'unknown');
    assert.equal(o.ok, null);
    assert.equal(o.error.kind, 'outcome-unknown', o.error.message);
  }
  assert.equal(progress.failed, 0);
  assert.equal(progress.unknown, 450);
});

test('a ServiceNow delta filter joins the list\'s own sysparm_query: one parameter, only the changed rows', async () => {
  const urls = [];
  const c = new Client({
    baseUrl: `${server.url}/offset/`,
    recordsAt: '/data',
    retry: noRetry,
    delta: { param: 'sysparm_query', value: '{field}>={value}', joiner: '^' },
    fetch: (url, init) => {
      urls.push(url);
      return fetch(url, init);
    },
  });
  const all = await c.list('items');
  const mark = all.find((r) => r.id === 15).updated_at;
  const want = all.filter((r) => r.updated_at >= mark).map((r) => r.id);
  assert.ok(want.length > 0 && want.length < all.length);
  urls.length = 0;
  const since = { field: 'updated_at', value: mark, ids: [] };
  const got = await c.list('items', { query: { sysparm_query: 'active=true' }, since });
  assert.deepEqual(got.map((r) => r.id), want);
  const first = new URL(urls[0]);
  assert.deepEqual(first.searchParams.getAll('sysparm_query'), [`active=true^updated_at>=${mark}`]);

  // Without a joiner, never the parameter twice: a config error.
  const plain = new Client({
    baseUrl: `${server.url}/offset/`,
    recordsAt: '/data',
    delta: { param: 'sysparm_query', value: '{field}>={value}' },
  });
  await assert.rejects(plain.list('items', { query: { sysparm_query: 'active=true' }, since }), (e) => {
    assert.equal(e.kind, 'config');
    assert.match(e.message, /joiner/);
    return true;
  });
});

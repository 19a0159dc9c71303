// Single-record operations, lazy (async iterable) input and batch endpoints
// of other shapes, in Node 20 against the Rust test API server.
//
//   node --test bindings/npm/test/writes.test.mjs   (after npm run build and
//   cargo build -p pagewise-testserver)

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { requireBuiltPackage, startTestServer } from './helpers.mjs';

requireBuiltPackage();
const { Client, PagewiseError } = await import('pagewise');

let server;
before(async () => {
  server = await startTestServer({ records: 500 });
});
after(async () => {
  await server?.close();
});

const client = () => new Client({ baseUrl: server.url, retry: { baseDelayMs: 10 } });

test('create, update and delete one record', async () => {
  const c = client();
  const created = await c.create('items', { name: 'new' });
  assert.equal(created.name, 'new');
  const id = created.id;
  const changed = await c.update('items/{id}', { id, name: 'changed' });
  assert.equal(changed.name, 'changed');
  const again = await c.update(`items/${id}`, { size: 3 });
  assert.equal(again.size, 3);
  assert.equal(await c.delete(`items/${id}`), null);
  // A typed error: the record is gone.
  await assert.rejects(c.delete(`items/${id}`), (e) => e instanceof PagewiseError && e.kind === 'status' && e.status === 404);
  await assert.rejects(c.update('items/{id}', { name: 'no id' }), (e) => e.kind === 'config');
  await assert.rejects(c.create('items', undefined), (e) => e.kind === 'config');
});

test('fetchMany and insertMany read an async generator lazily', async () => {
  const c = client();
  let read = 0;
  async function* ids() {
    for (let i = 1; i <= 400; i += 1) {
      read += 1;
      yield i;
    }
  }
  const stream = c.fetchManyStream('items/{id}', ids(), { batch: { path: 'items', param: 'ids', max: 50 } });
  let n = 0;
  for await (const item of stream) {
    assert.ok(item.record, `id ${item.id}: ${item.error}`);
    n += 1;
    if (n === 1) assert.ok(read <= 400);
  }
  assert.equal(n, 400);
  assert.equal(JSON.parse(stream.checkpoint()).done.length, 1);
  // Writes from an async generator: one outcome per record, in input order.
  async function* records() {
    for (let i = 0; i < 250; i += 1) yield { name: `lazy ${i}` };
  }
  const out = await c.insertMany('items', records(), { batch: { path: 'batch/items', max: 100 } });
  assert.equal(out.length, 250);
  assert.ok(out.every((o, i) => o.ok && o.index === i));
  // A sync generator (not an array) is read lazily too.
  function* few() {
    yield 1;
    yield 2;
    yield 999999;
  }
  const got = await c.fetchMany('items/{id}', few());
  assert.deepEqual(got.map((g) => g.error?.status ?? 200), [200, 200, 404]);
});

test('a lazy input is read a chunk at a time, and its checkpoint resumes across chunks', async () => {
  const c = client();
  let read = 0;
  async function* ids() {
    for (let i = 1; i <= 20_000; i += 1) {
      read += 1;
      yield (i % 500) + 1;
    }
  }
  const batch = { path: 'items', param: 'ids', max: 100 };
  const stream = c.fetchManyStream('items/{id}', ids(), { batch });
  let n = 0;
  let checkpoint;
  for await (const item of stream) {
    assert.ok(item.record);
    n += 1;
    if (n === 1) assert.ok(read <= 10_000, `${read} ids read before the first result`);
    if (n === 15_000) {
      checkpoint = stream.checkpoint();
      break;
    }
  }
  const c1 = JSON.parse(checkpoint);
  assert.deepEqual(c1.done, [[0, 15_000]]);
  read = 0;
  const rest = await c.fetchMany('items/{id}', ids(), { batch, resume: checkpoint });
  assert.equal(rest.length, 5_000);
});

test('a lazy stream left early keeps what it handed out in its checkpoint', async () => {
  const c = client();
  async function* ids() {
    for (let i = 1; i <= 20_000; i += 1) yield (i % 500) + 1;
  }
  const batch = { path: 'items', param: 'ids', max: 100 };
  for (const stop of [4_000, 15_000]) {
    const stream = c.fetchManyStream('items/{id}', ids(), { batch });
    let n = 0;
    for await (const item of stream) {
      assert.ok(item.record);
      n += 1;
      if (n === stop) break;
    }
    // Asked after the loop is left: the ids handed out are done, not read again.
    assert.deepEqual(JSON.parse(stream.checkpoint()).done, [[0, stop]]);
  }
});

test('a batch insert of {"rows": [...]} answered {"ok": true}', async () => {
  const c = client();
  const rows = { path: 'shapes/rows/items', opField: null, recordsField: 'rows', results: 'all-or-nothing', okAt: '/ok', max: 100 };
  const out = await c.insertMany('items', Array.from({ length: 300 }, (_, i) => ({ name: `row ${i}` })), { batch: rows });
  assert.equal(out.length, 300);
  assert.ok(out.every((o) => o.outcome === 'ok'), JSON.stringify(out.find((o) => !o.ok)));
  // A 200 with ok false fails the batch's records (nothing was written).
  const bad = await c.insertMany('items', [{ name: 'a' }, { name: 'b', reject: true }], { batch: rows });
  assert.ok(bad.every((o) => o.outcome === 'failed' && o.error.kind === 'status'));
  // The client's default batch endpoint, with {collection}; batch: null opts out.
  const d = new Client({
    baseUrl: server.url,
    batchWrite: { path: 'shapes/bulk/{collection}', opField: null, recordsField: null, results: 'by-position', resultsAt: '', headers: { Prefer: 'return=representation' } },
  });
  const bulk = await d.insertMany('items', [{ name: 'x' }, { name: 'y' }]);
  assert.ok(bulk.every((o) => o.ok && o.id !== null));
  const one = await d.insertMany('items', [{ name: 'z' }], { batch: null });
  assert.equal(one[0].status, 201);
});

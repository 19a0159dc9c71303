// Data operations of the npm package `pagewise` in Node 20, against the Rust
// test API server: fetchMany, the write jobs, delta sync and checkpoints
// (JS to JS, and from the native Rust build to JS).
//
//   npm run test:node       (at the repository root)

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { range, repoRoot, requireBuiltPackage, startTestServer, withTimeout } from './helpers.mjs';

requireBuiltPackage();
const { Client, PagewiseError } = await import('pagewise');

const N = 3000;
let server;

before(async () => {
  server = await startTestServer({ records: N, latencyMs: 1 });
});

after(async () => {
  await server?.close();
});

const offsetOptions = {
  recordsAt: '/data',
  pagination: { type: 'offset', total: { header: 'X-Total-Count' } },
};
const quick = { baseDelayMs: 5, maxDelayMs: 100 };

/** 2,000 ids, 2% of them missing (beyond the last record), interleaved. */
function idsWithMissing() {
  const ids = [];
  for (let i = 1; i <= 2000; i++) ids.push(i % 50 === 0 ? String(1_000_000 + i) : String(i));
  return ids;
}

function checkFetched(results, ids) {
  assert.equal(results.length, ids.length);
  results.forEach((r, i) => {
    assert.equal(r.id, ids[i], 'input order');
    if (Number(r.id) > N) {
      assert.equal(r.record, undefined);
      assert.ok(r.error instanceof PagewiseError, `id ${r.id}: ${r.error}`);
      assert.equal(r.error.kind, 'status');
      assert.equal(r.error.status, 404);
    } else {
      assert.equal(r.error, undefined, r.error?.message);
      assert.equal(String(r.record.id), r.id);
    }
  });
  assert.equal(results.filter((r) => r.error).length, 40);
}

describe('fetchMany', () => {
  test('2,000 ids with 2% missing, one request per id', async () => {
    const c = new Client({ baseUrl: `${server.url}/`, concurrency: 16 });
    const ids = idsWithMissing();
    const seen = [];
    const results = await withTimeout(
      c.fetchMany('items/{id}', ids, { onProgress: (p) => seen.push(p) }), 60_000, 'fetchMany');
    checkFetched(results, ids);
    assert.ok(seen.length > 0);
    const last = seen.at(-1);
    assert.deepEqual(Object.keys(last).sort(),
      ['done', 'elapsedMs', 'etaMs', 'failed', 'retries', 'throttledMs', 'total', 'unknown']);
    assert.equal(last.done, 2000);
    assert.equal(last.total, 2000);
    assert.equal(last.failed, 40);
  });

  test('2,000 ids with 2% missing, batched lookups', async () => {
    const c = new Client({ baseUrl: `${server.url}/`, concurrency: 8 });
    const ids = idsWithMissing();
    await server.resetStats();
    const results = await withTimeout(
      c.fetchMany('items/{id}', ids, { batch: { path: 'items', param: 'ids', max: 100 } }), 60_000, 'batched');
    checkFetched(results, ids);
    const stats = await server.stats();
    assert.ok(stats.requests <= 25, `batched: ${stats.requests} requests`);
  });

  test('fetchManyStream: a checkpoint after some ids, resumed in a new client', async () => {
    const ids = range(600).map(String);
    const first = new Client({ baseUrl: `${server.url}/` }).fetchManyStream('items/{id}', ids);
    const got = [];
    for await (const item of first) {
      got.push(item.id);
      if (got.length === 250) break;
    }
    const checkpoint = first.checkpoint();
    assert.equal(typeof checkpoint, 'string');
    const rest = await new Client({ baseUrl: `${server.url}/` })
      .fetchMany('items/{id}', ids, { resume: checkpoint });
    for (const r of rest) {
      assert.equal(r.error, undefined);
      got.push(r.id);
    }
    assert.deepEqual(got.map(Number).sort((a, b) => a - b), range(600), 'every id exactly once');
  });

  test('bad options reject with kind "config"', async () => {
    const c = new Client({ baseUrl: `${server.url}/` });
    await assert.rejects(c.fetchMany('items/{id}', ['1'], { batch: { path: 'items' } }), (e) => e.kind === 'config');
    await assert.rejects(c.fetchMany('items/{id}', ['1'], { nope: 1 }), (e) => e.kind === 'config');
    await assert.rejects(c.fetchMany('items/{id}', [{}]), (e) => e.kind === 'config');
    await assert.rejects(c.fetchMany('items/{id}', ['1'], { resume: 'nope' }), (e) => e.kind === 'config');
  });
});

describe('write jobs', () => {
  let writes;
  before(async () => {
    writes = await startTestServer({ records: 10, latencyMs: 1 });
  });
  after(async () => {
    await writes?.close();
  });

  const records = () => range(500).map((i) => ({ name: `n${i}`, ...(i % 25 === 0 ? { reject: true } : {}) }));

  async function checkWrittenOnce(results, client) {
    assert.equal(results.length, 500);
    results.forEach((r, i) => {
      assert.equal(r.index, i, 'input order');
      if ((i + 1) % 25 === 0) {
        assert.equal(r.ok, false);
        assert.ok(r.error instanceof PagewiseError);
        assert.equal(r.error.kind, 'status');
        assert.equal(r.error.status, 422);
      } else {
        assert.equal(r.ok, true, r.error?.message);
        assert.equal(typeof r.id, 'string');
        assert.equal(r.status, 201);
      }
    });
    const ids = results.filter((r) => r.ok).map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length, 'distinct ids');
    // Each written exactly once: the records by id carry their own names, and
    // nothing else was created.
    const back = await client.fetchMany('items/{id}', ids, { batch: { path: 'items', param: 'ids' } });
    back.forEach((b, k) => {
      assert.equal(b.error, undefined);
      const i = results.filter((r) => r.ok)[k].index;
      assert.equal(b.record.name, `n${i + 1}`);
    });
    return ids;
  }

  test('insertMany of 500 records, some rejected, under 5xx faults: each written once', async () => {
    const c = new Client({ baseUrl: `${writes.url}/`, concurrency: 16, retry: quick });
    await writes.setFaults({ error_rate: 0.1 });
    const seen = [];
    let results;
    try {
      results = await withTimeout(c.insertMany('items', records(), { onProgress: (p) => seen.push(p) }),
        60_000, 'insertMany');
    } finally {
      await writes.setFaults({});
    }
    const ids = await checkWrittenOnce(results, c);
    const all = await c.fetchMany('items/{id}', range(1000).map(String), { batch: { path: 'items', param: 'ids' } });
    assert.equal(all.filter((r) => r.record).length, 10 + ids.length, 'no record written twice');
    assert.equal(seen.at(-1).done, 500);
    assert.equal(seen.at(-1).failed, 20);
  });

  test('insertMany through the batch endpoint, then updateMany and deleteMany', async () => {
    const c = new Client({ baseUrl: `${writes.url}/`, concurrency: 4, retry: quick });
    await writes.setFaults({ error_rate: 0.1 });
    let results;
    try {
      results = await withTimeout(
        c.insertMany('items', records(), { batch: { path: 'batch/items' }, batchSize: 50 }), 60_000, 'batch');
    } finally {
      await writes.setFaults({});
    }
    const ids = await checkWrittenOnce(results, c);
    const updated = await c.updateMany('items', ids.slice(0, 10).map((id) => ({ id, name: 'changed' })));
    assert.ok(updated.every((u) => u.ok && u.status === 200), JSON.stringify(updated));
    const deleted = await c.deleteMany('items', ids.slice(10, 20), { idempotencyHeader: null });
    assert.ok(deleted.every((d) => d.ok), JSON.stringify(deleted));
    const back = await c.fetchMany('items/{id}', ids.slice(0, 20));
    assert.ok(back.slice(0, 10).every((b) => b.record.name === 'changed'));
    assert.ok(back.slice(10).every((b) => b.error?.status === 404));
  });

  test('bad write options reject with kind "config"', async () => {
    const c = new Client({ baseUrl: `${writes.url}/` });
    await assert.rejects(c.insertMany('items', [{}], { batch: {} }), (e) => e.kind === 'config');
    await assert.rejects(c.insertMany('items', [{}], { idempotencyHeader: 3 }), (e) => e.kind === 'config');
    await assert.rejects(c.insertMany('items', [() => 1]), (e) => e.kind === 'config');
  });
});

describe('delta sync', () => {
  let delta;
  before(async () => {
    delta = await startTestServer({ records: 700, latencyMs: 1 });
  });
  after(async () => {
    await delta?.close();
  });

  test('a first sync from 1970, a few updates, a second sync returns exactly those', async () => {
    const c = new Client({ baseUrl: `${delta.url}/offset/`, ...offsetOptions, concurrency: 8 });
    const since = { field: 'updated_at', value: '1970-01-01T00:00:00Z', ids: [] };
    const first = await c.listWithReport('items', { since });
    assert.deepEqual(first.records.map((r) => r.id), range(700));
    const w = first.report.watermark;
    assert.ok(w && w.field === 'updated_at' && typeof w.value === 'string' && Array.isArray(w.ids), JSON.stringify(w));
    assert.ok(first.report.bytes > 0);

    const changed = [5, 123, 456, 699];
    const writer = new Client({ baseUrl: `${delta.url}/` });
    const out = await writer.updateMany('items', changed.map((id) => ({ id, touched: true })));
    assert.ok(out.every((o) => o.ok));

    const second = await c.listWithReport('items', { since: w });
    assert.deepEqual(second.records.map((r) => r.id), changed);
    assert.ok(second.records.every((r) => r.touched === true));
    const third = await c.list('items', { since: second.report.watermark });
    assert.deepEqual(third, [], 'nothing changed since');
  });
});

describe('checkpoints of a list', () => {
  const M = 2345;
  let src;
  before(async () => {
    src = await startTestServer({ records: M, latencyMs: 1 });
  });
  after(async () => {
    await src?.close();
  });

  for (const take of [0, 250, 1234, M]) {
    test(`a JS stream stopped after ${take} records, resumed in a new client`, async () => {
      const opts = { ...offsetOptions, concurrency: 8 };
      const stream = new Client({ baseUrl: `${src.url}/offset/`, ...opts }).stream('items');
      const got = [];
      if (take > 0) {
        for await (const r of stream) {
          got.push(r.id);
          if (got.length === take) break;
        }
      } else {
        const it = stream[Symbol.asyncIterator]();
        await it.next().then((r) => got.push(r.value.id));
        got.length = 0;
        // A checkpoint mid-page, before any record was taken, then close.
        const cp = stream.checkpoint();
        await it.return();
        const rest = await new Client({ baseUrl: `${src.url}/offset/`, ...opts }).list('items', { resume: cp });
        // The first record was taken before the checkpoint.
        assert.deepEqual(rest.map((r) => r.id), range(M).slice(1));
        return;
      }
      const checkpoint = stream.checkpoint();
      assert.equal(typeof checkpoint, 'string');
      const resumed = new Client({ baseUrl: `${src.url}/offset/`, ...opts }).stream('items', { resume: checkpoint });
      for await (const r of resumed) got.push(r.id);
      assert.deepEqual(got, range(M), 'every id exactly once, in order');
      const again = JSON.parse(resumed.checkpoint());
      assert.deepEqual(again.pending, [], 'the finished sweep has nothing pending');
    });
  }

  test('a checkpoint made by the native Rust build, resumed in Node', async () => {
    const exe = promisify(execFile);
    const dir = await mkdtemp(join(tmpdir(), 'pagewise-cp-'));
    try {
      const out = join(dir, 'cp.json');
      const idsFile = join(dir, 'ids.json');
      const targetDir = process.env.CARGO_TARGET_DIR ?? join(repoRoot, 'target');
      const built = join(targetDir, 'debug', 'examples', 'checkpoint');
      const args = ['--url', src.url, '--take', '777', '--out', out, '--ids', idsFile];
      const { stdout } = existsSync(built) && !process.env.PAGEWISE_REBUILD_EXAMPLE
        ? await exe(built, args)
        : await exe('cargo', ['run', '-q', '--example', 'checkpoint', '--', ...args], { cwd: repoRoot });
      assert.equal(stdout.trim(), '777');
      const taken = JSON.parse(await readFile(idsFile, 'utf8'));
      assert.equal(taken.length, 777);
      const checkpoint = await readFile(out, 'utf8');
      const rest = await new Client({ baseUrl: `${src.url}/offset/`, ...offsetOptions })
        .list('items', { resume: checkpoint });
      const all = [...taken, ...rest.map((r) => r.id)].sort((a, b) => a - b);
      assert.deepEqual(all, range(M), 'every id exactly once');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

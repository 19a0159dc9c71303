// The npm package against servers that lie: a total no record backs (the
// package died with `RuntimeError: unreachable` when it planned every page up
// to it), a total above `maxTotal`, pages numbered from 1 answering page 0
// (with the page number echoed back, too).
// The server is node:http on 127.0.0.1, started here.
//
//   node --test --test-concurrency=1 bindings/npm/test/hostile.test.mjs

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';

import { requireBuiltPackage, withTimeout } from './helpers.mjs';

requireBuiltPackage();
const { Client, PagewiseError } = await import('pagewise');

const records = (from, to) => {
  const out = [];
  for (let i = from; i <= to; i++) out.push({ id: i, name: `rec-${i}` });
  return out;
};

let server;
let base;
let requests = 0;

before(async () => {
  server = createServer((req, res) => {
    requests++;
    const url = new URL(req.url, 'http://127.0.0.1');
    const q = (k) => Number(url.searchParams.get(k));
    let body;
    let total;
    if (url.pathname.startsWith('/boasting/')) {
      // 3 records, 100 000 000 announced.
      total = 100_000_000;
      const first = url.searchParams.has('offset') ? q('offset') === 0 : q('page') === 1;
      body = { total, data: first ? records(1, 3) : [] };
    } else if (url.pathname.startsWith('/from1/')) {
      // 2 000 records, 10 a page, pages numbered from 1: page 0 is page 1.
      total = 2000;
      const page = Math.max(1, q('page'));
      body = { data: records((page - 1) * 10 + 1, Math.min(page * 10, total)) };
    } else if (url.pathname.startsWith('/echo/')) {
      // As /from1/, but the page asked for is echoed back in the body:
      // page 0 and page 1 differ in their bytes, not in their records.
      total = 2000;
      const page = Math.max(1, q('page'));
      body = { page: q('page'), data: records((page - 1) * 10 + 1, Math.min(page * 10, total)) };
    } else {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'x-total-count': String(total) });
    res.end(JSON.stringify(body));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => server.close());

async function rejectsWith(promise, kind) {
  try {
    await withTimeout(promise, 20_000, `a ${kind} error`);
  } catch (e) {
    assert.ok(e instanceof PagewiseError, `expected a PagewiseError, got ${e?.stack ?? e}`);
    assert.equal(e.kind, kind, e.message);
    return e;
  }
  assert.fail(`expected a ${kind} error, got success`);
}

for (const pagination of [
  { type: 'offset', total: { header: 'X-Total-Count' } },
  { type: 'page', total: { pointer: '/total' } },
]) {
  test(`a total of 100 000 000 over 3 records (${pagination.type}) ends after a few requests`, async () => {
    const c = new Client({ baseUrl: `${base}/boasting/`, recordsAt: '/data', pagination,
      pageSize: 100, concurrency: 4, window: 4 });
    const before = requests;
    const { records: got, report } = await withTimeout(c.listWithReport('items'), 20_000, 'the sweep');
    assert.deepEqual(got.map((r) => r.id), [1, 2, 3]);
    assert.equal(report.total, 100_000_000);
    assert.equal(report.complete, false);
    assert.equal(report.notices[0].type, 'shortPage');
    // The first page, then at most 2 × (concurrency + window) pages planned.
    const asked = requests - before;
    assert.ok(asked >= 2 && asked <= 17, `${asked} requests`);
  });
}

test('a total above maxTotal is a limit error naming it', async () => {
  const c = new Client({ baseUrl: `${base}/boasting/`, recordsAt: '/data',
    pagination: { type: 'offset', total: { header: 'X-Total-Count' } } });
  const e = await rejectsWith(c.list('items', { maxTotal: 1_000_000 }), 'limit');
  assert.match(e.message, /100000000/);
  assert.match(e.message, /maxTotal/);
  assert.equal(e.url, `${base}/boasting/items?offset=0&limit=100`);
});

for (const total of [true, false]) {
  test(`page 0 served as page 1 is a duplicate error (${total ? 'with' : 'without'} a total)`, async () => {
    const pagination = { type: 'page', firstPage: 0 };
    if (total) pagination.total = { header: 'X-Total-Count' };
    const c = new Client({ baseUrl: `${base}/from1/`, recordsAt: '/data', pagination, pageSize: 10,
      concurrency: 4 });
    const e = await rejectsWith(c.list('items'), 'duplicate');
    assert.equal(e.page, 1);
    assert.ok(e.message.includes(`${base}/from1/items?page=0&per_page=10`), e.message);
    assert.ok(e.message.includes(`${base}/from1/items?page=1&per_page=10`), e.message);
    assert.match(e.message, /firstPage/);
    // What came before the copy is handed out, and nothing else.
    const seen = [];
    await rejectsWith((async () => {
      for await (const r of c.stream('items')) seen.push(r.id);
    })(), 'duplicate');
    assert.deepEqual(seen, records(1, 10).map((r) => r.id));
    // With firstPage: 1, every record once.
    const right = new Client({ baseUrl: `${base}/from1/`, recordsAt: '/data', pageSize: 10,
      pagination: { ...pagination, firstPage: 1 } });
    const ids = (await right.list('items')).map((r) => r.id);
    assert.deepEqual(ids, records(1, 2000).map((r) => r.id));
  });
}

// The digest the Node transport gives the core covers the records, not the
// body: natively a repeated page is caught by its records' bytes, and an
// echoed page number must not hide it here (page 1's records handed out
// twice, page 200's never, and complete: true).
test('page 0 served as page 1 with the page number echoed is a duplicate error', async () => {
  const c = new Client({ baseUrl: `${base}/echo/`, recordsAt: '/data', pageSize: 10, concurrency: 2,
    pagination: { type: 'page', firstPage: 0, total: { header: 'X-Total-Count' } } });
  const e = await rejectsWith(c.listWithReport('items'), 'duplicate');
  assert.equal(e.page, 1);
  // Pages whose records differ are not taken for copies (the echoed number
  // differs on every page, the records too).
  const right = new Client({ baseUrl: `${base}/echo/`, recordsAt: '/data', pageSize: 10,
    concurrency: 4, pagination: { type: 'page', firstPage: 1, total: { header: 'X-Total-Count' } } });
  const { records: got, report } = await right.listWithReport('items');
  assert.deepEqual(got.map((r) => r.id), records(1, 2000).map((r) => r.id));
  assert.equal(report.complete, true);
});

test('allowRepeatedPages turns the check off', async () => {
  const c = new Client({ baseUrl: `${base}/from1/`, recordsAt: '/data', pageSize: 10,
    pagination: { type: 'page', firstPage: 0, total: { header: 'X-Total-Count' } } });
  const { records: got } = await c.listWithReport('items', { allowRepeatedPages: true });
  assert.equal(got.length, 2000);
  assert.equal(new Set(got.map((r) => r.id)).size, 1990, 'page 1 twice, page 200 never');
});

test('a checkpoint with a number past 2^53 - 1 is a config error', async () => {
  const c = new Client({ baseUrl: `${base}/from1/`, recordsAt: '/data', pageSize: 10,
    pagination: { type: 'page', total: { header: 'X-Total-Count' } } });
  const stream = c.stream('items');
  const it = stream[Symbol.asyncIterator]();
  await it.next();
  const json = stream.checkpoint();
  await it.return?.();
  assert.match(json, /"records":1,/);
  const bad = json.replace('"records":1,', '"records":18446744073709551615,');
  const e = await rejectsWith(c.list('items', { resume: bad }), 'config');
  assert.match(e.message, /`records`/);
});

// A window or concurrency past 65 536 is a config error before anything is
// sent, never a bound that wraps in 32-bit WebAssembly arithmetic.
test('a huge window or concurrency is a config error, and nothing is sent', async () => {
  const before = requests;
  const pagination = { type: 'page', total: { header: 'X-Total-Count' } };
  for (const [where, options] of [
    ['client window', { window: 4294967295 }],
    ['client concurrency', { concurrency: 65537 }],
  ]) {
    assert.throws(
      () => new Client({ baseUrl: `${base}/from1/`, recordsAt: '/data', pagination, ...options }),
      (e) => e instanceof PagewiseError && e.kind === 'config',
      where,
    );
  }
  const c = new Client({ baseUrl: `${base}/from1/`, recordsAt: '/data', pagination });
  await rejectsWith(c.list('items', { window: 4294967295 }), 'config');
  await rejectsWith(c.list('items', { concurrency: 65537 }), 'config');
  assert.equal(requests, before, 'no request was sent');
});

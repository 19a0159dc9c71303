// The npm package `pagewise` in Node 20, against the Rust test API server.
//
//   npm run test:node       (at the repository root; builds the test server)
//
// Needs the built package (`npm run build`) and target/debug/pagewise-testserver.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { range, requireBuiltPackage, sleep, startTestServer, withTimeout } from './helpers.mjs';

requireBuiltPackage();
// By its package name: the npm workspace links node_modules/pagewise here.
const { Client, PagewiseError } = await import('pagewise');

const N = 2345;

/** Every dialect of the test server, as client options (tests/common/mod.rs). */
const DIALECTS = [
  { name: 'offset + X-Total-Count', path: 'offset', total: true,
    options: { recordsAt: '/data', pagination: { type: 'offset', total: { header: 'X-Total-Count' } } } },
  { name: 'offset + total pointer', path: 'offset', total: true,
    options: { recordsAt: '/data', pagination: { type: 'offset', total: { pointer: '/meta/total' } } } },
  { name: 'offset, no total', path: 'offset', total: false,
    options: { recordsAt: '/data', pagination: { type: 'offset' } } },
  { name: 'Content-Range', path: 'range', total: true,
    options: { pagination: { type: 'offset', total: 'content-range' } } },
  { name: 'page from 1 + total', path: 'page', total: true,
    options: { recordsAt: '/results', pagination: { type: 'page', total: { pointer: '/total' } } } },
  { name: 'page from 0 + total', path: 'page0', total: true,
    options: { recordsAt: '/results', pagination: { type: 'page', firstPage: 0, total: { pointer: '/total' } } } },
  { name: 'page, no total', path: 'page-nototal', total: false,
    options: { recordsAt: '/results', pagination: { type: 'page' } } },
  { name: 'cursor in body', path: 'cursor', total: false,
    options: { recordsAt: '/items', pagination: { type: 'cursor', from: { pointer: '/next_cursor' } } } },
  { name: 'cursor in header', path: 'cursor-header', total: false,
    options: { pagination: { type: 'cursor', from: { header: 'X-Next-Cursor' } } } },
  { name: 'next URL in body', path: 'next', total: false,
    options: { recordsAt: '/items', pagination: { type: 'next', from: { pointer: '/links/next' } } } },
  { name: 'Link header', path: 'link', total: false,
    options: { pagination: { type: 'next', from: 'link', limitParam: 'per_page' } } },
  { name: 'keyset', path: 'keyset', total: false,
    options: { recordsAt: '/items', pagination: { type: 'keyset', field: 'id' } } },
];

const OFFSET = DIALECTS[0];

/** Asserts that `promise` rejects with a PagewiseError of `kind`; returns it. */
async function rejectsWith(promise, kind) {
  try {
    await withTimeout(promise, 20_000, `a ${kind} error`);
  } catch (e) {
    assert.ok(e instanceof PagewiseError, `expected a PagewiseError, got ${e?.stack ?? e}`);
    assert.ok(e instanceof Error);
    assert.equal(e.name, 'PagewiseError');
    assert.equal(e.kind, kind, e.message);
    assert.equal(typeof e.message, 'string');
    return e;
  }
  assert.fail(`expected a ${kind} error, got success`);
}

/** Asserts that `fn` throws a PagewiseError of `kind` synchronously; returns it. */
function throwsWith(fn, kind) {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof PagewiseError, `expected a PagewiseError, got ${e?.stack ?? e}`);
    assert.equal(e.kind, kind, e.message);
    return e;
  }
  assert.fail(`expected a ${kind} error`);
}

/** Waits until the server's request count stops moving; returns it. */
async function settledRequests(server) {
  let last = (await server.stats()).requests;
  for (let i = 0; i < 20; i++) {
    await sleep(100);
    const now = (await server.stats()).requests;
    if (now === last) return now;
    last = now;
  }
  assert.fail('the request count never settled');
}

let server;
let slow;

before(async () => {
  server = await startTestServer({ records: N, latencyMs: 1 });
  // For timeouts and aborts of requests in flight.
  slow = await startTestServer({ records: 50, latencyMs: 500 });
});

after(async () => {
  await server?.close();
  await slow?.close();
});

const client = (d, extra = {}) => new Client({ baseUrl: `${server.url}/${d.path}/`, ...d.options, ...extra });

describe('every dialect yields every record', () => {
  for (const d of DIALECTS) {
    for (const concurrency of [1, 16]) {
      test(`${d.name}, concurrency ${concurrency}`, async () => {
        const c = client(d, { concurrency });
        const { records, report } = await withTimeout(c.listWithReport('items'), 30_000, d.name);
        assert.deepEqual(records.map((r) => r.id), range(N), 'ids 1..N in page order');
        assert.equal(report.records, N);
        assert.equal(report.pages, Math.ceil(N / 100));
        assert.equal(report.total, d.total ? N : null);
        assert.equal(report.complete, d.total ? true : null);
        assert.ok(report.requests >= report.pages);
        assert.ok(report.durationMs > 0);
        assert.ok(report.maxBufferedPages <= 2 * concurrency + 1);
        assert.deepEqual(report.notices, []);

        const done = await withTimeout(c.list('items', { order: 'completion', concurrency }), 30_000, d.name);
        assert.equal(done.length, N, 'completion order: no record twice');
        assert.deepEqual(done.map((r) => r.id).sort((a, b) => a - b), range(N), 'completion order: every id');
      });
    }
  }
});

test('list options: page size, query, window', async () => {
  const c = client(OFFSET, { concurrency: 16 });
  const { records, report } = await c.listWithReport('items', { pageSize: 7, concurrency: 3, window: 1 });
  assert.deepEqual(records.map((r) => r.id), range(N));
  assert.equal(report.pages, Math.ceil(N / 7));
  assert.ok(report.maxBufferedPages <= 4);
  // A query parameter reaches the server (here: the page size of a dialect without one).
  const small = new Client({ baseUrl: `${server.url}/keyset/`, recordsAt: '/items', query: { limit: 9 },
    pagination: { type: 'keyset', field: 'id', limitParam: null } });
  const pages = [];
  for await (const page of small.pages('items')) pages.push(page.records.length);
  assert.equal(pages[0], 9);
  assert.equal(pages.reduce((a, b) => a + b, 0), N);
});

test('notices reach the report', async () => {
  const c = new Client({ baseUrl: `${server.url}/offset/`, recordsAt: '/data',
    pagination: { type: 'offset', total: { header: 'X-Not-There' } } });
  const { records, report } = await c.listWithReport('items', { pageSize: 500 });
  assert.deepEqual(records.map((r) => r.id), range(N));
  assert.deepEqual(report.notices, [{ type: 'totalMissing', page: 0 }]);
  assert.equal(report.total, null);
  assert.equal(report.complete, null);
});

test('get', async () => {
  const c = new Client({ baseUrl: server.url });
  const one = await c.get('items/7');
  assert.equal(one.id, 7);
  assert.equal(typeof one.name, 'string');
  const page = await c.get('offset/items', { query: { offset: 10, limit: 5 } });
  assert.deepEqual(page.data.map((r) => r.id), [11, 12, 13, 14, 15]);
  assert.equal(page.meta.total, N);
  const pairs = await c.get('/offset/items', { query: [['offset', '20'], ['limit', 2]] });
  assert.deepEqual(pairs.data.map((r) => r.id), [21, 22]);
});

test('stream yields every record in order, then its report', async () => {
  const s = client(OFFSET, { concurrency: 16 }).stream('items');
  assert.equal(s.report, null);
  const ids = [];
  for await (const r of s) ids.push(r.id);
  assert.deepEqual(ids, range(N));
  assert.equal(s.report.records, N);
  assert.equal(s.report.complete, true);
  // One sweep per stream, like the Rust stream.
  await rejectsWith((async () => { for await (const _ of s) break; })(), 'config');
});

test('pages yields whole pages', async () => {
  const s = client(DIALECTS[7]).pages('items', { pageSize: 500 });
  const seen = [];
  for await (const p of s) {
    seen.push(p);
    assert.equal(typeof p.url, 'string');
    assert.ok(p.url.includes('/cursor/items'));
  }
  assert.deepEqual(seen.map((p) => p.index), [0, 1, 2, 3, 4]);
  assert.deepEqual(seen.flatMap((p) => p.records.map((r) => r.id)), range(N));
  assert.equal(s.report.pages, 5);
});

test('an early break stops the sweep: no request afterwards', async () => {
  const start = await settledRequests(server);
  const c = client(OFFSET, { concurrency: 4 });
  const ids = [];
  for await (const r of c.stream('items', { pageSize: 10 })) {
    ids.push(r.id);
    if (ids.length === 25) break;
  }
  assert.deepEqual(ids, range(25));
  const settled = await settledRequests(server);
  await sleep(300);
  const later = (await server.stats()).requests;
  assert.equal(later, settled, 'no request after the break');
  const sent = settled - start;
  // 3 pages read, one more asked for ahead; at most concurrency + window
  // pages beyond them were asked for.
  assert.ok(sent >= 3 && sent <= 4 + 4 + 4, `requests sent: ${sent}`);
});

test('an early break aborts the requests in flight', async () => {
  await fetch(`${slow.url}/_reset`, { method: 'POST' });
  const c = new Client({ baseUrl: `${slow.url}/offset/`, recordsAt: '/data', concurrency: 4,
    pagination: { type: 'offset', total: { header: 'X-Total-Count' } } });
  let during = null;
  for await (const r of c.stream('items', { pageSize: 5 })) {
    assert.equal(r.id, 1);
    // The next pages were asked for ahead while this one is read.
    await sleep(100);
    during = await slow.stats();
    break; // pages 1 to 4 are in flight now, 400 ms from their answers
  }
  assert.equal(during.in_flight, 4);
  const left = performance.now();
  // The server sees the 4 requests go away long before it would answer them.
  let stats = await slow.stats();
  while (stats.in_flight > 0 && performance.now() - left < 2_000) {
    await sleep(10);
    stats = await slow.stats();
  }
  assert.equal(stats.in_flight, 0);
  assert.ok(performance.now() - left < 300, `requests in flight after ${performance.now() - left} ms`);
  assert.equal(stats.max_in_flight, 4);
  assert.equal(stats.requests, 5);
  await sleep(600);
  assert.equal((await slow.stats()).requests, 5, 'no request after the break');
});

describe('AbortSignal', () => {
  test('aborting a list rejects with kind "cancelled" and stops the sweep', async () => {
    const start = await settledRequests(server);
    const ac = new AbortController();
    const e = await rejectsWith(
      client(DIALECTS[7]).list('items', {
        pageSize: 10,
        signal: ac.signal,
        onProgress: (p) => {
          if (p.pages === 3) ac.abort();
        },
      }),
      'cancelled',
    );
    assert.match(e.message, /abort/i);
    const settled = await settledRequests(server);
    assert.ok(settled - start <= 4, `requests: ${settled - start}`);
  });

  test('aborting a list aborts its request in flight', async () => {
    await fetch(`${slow.url}/_reset`, { method: 'POST' });
    const c = new Client({ baseUrl: `${slow.url}/offset/`, recordsAt: '/data',
      pagination: { type: 'offset', total: { header: 'X-Total-Count' } } });
    const ac = new AbortController();
    const started = performance.now();
    const pending = c.list('items', { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    await rejectsWith(pending, 'cancelled');
    let stats = await slow.stats();
    while (stats.in_flight > 0 && performance.now() - started < 2_000) {
      await sleep(10);
      stats = await slow.stats();
    }
    assert.equal(stats.in_flight, 0);
    assert.ok(performance.now() - started < 400, 'the first page (500 ms away) was not waited for');
    assert.equal(stats.requests, 1);
  });

  test('an aborted signal sends nothing', async () => {
    const start = await settledRequests(server);
    const signal = AbortSignal.abort();
    await rejectsWith(client(OFFSET).list('items', { signal }), 'cancelled');
    await rejectsWith(new Client({ baseUrl: server.url }).get('items/1', { signal }), 'cancelled');
    assert.equal(await settledRequests(server), start);
  });

  test('aborting a get in flight', async () => {
    const c = new Client({ baseUrl: slow.url });
    const ac = new AbortController();
    const started = performance.now();
    const pending = c.get('items/1', { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await rejectsWith(pending, 'cancelled');
    assert.ok(performance.now() - started < 400, 'rejected before the answer came');
    // The signal is still usable by others; a fresh get works.
    assert.equal((await c.get('items/2')).id, 2);
  });

  test('aborting a stream between pages', async () => {
    const ac = new AbortController();
    const ids = [];
    const e = await rejectsWith(
      (async () => {
        for await (const r of client(OFFSET, { concurrency: 4 }).stream('items', { pageSize: 10, signal: ac.signal })) {
          ids.push(r.id);
          if (ids.length === 15) ac.abort();
        }
      })(),
      'cancelled',
    );
    assert.ok(e instanceof PagewiseError);
    assert.deepEqual(ids, range(15), 'nothing is handed out after the abort');
  });

  test('AbortSignal.timeout', async () => {
    const c = new Client({ baseUrl: `${slow.url}/cursor/`, recordsAt: '/items',
      pagination: { type: 'cursor', from: { pointer: '/next_cursor' } } });
    await rejectsWith(c.list('items', { pageSize: 5, signal: AbortSignal.timeout(100) }), 'cancelled');
  });
});

describe('errors', () => {
  for (const kind of ['html', 'json', 'null', 'empty', 'missing']) {
    test(`garbage answer (${kind}) is a decode error with the url`, async () => {
      const c = new Client({ baseUrl: `${server.url}/garbage/${kind}/`, recordsAt: '/data',
        pagination: { type: 'offset', total: { header: 'X-Total-Count' } } });
      const e = await rejectsWith(c.list('items'), 'decode');
      assert.ok(e.url.startsWith(`${server.url}/garbage/${kind}/items`), e.url);
      assert.equal(e.page, 0);
      assert.equal(e.status, 200);
      assert.equal(typeof e.excerpt, 'string');
      if (kind === 'html') assert.match(e.excerpt, /Login required/);
      assert.ok(e.message.includes(e.url));
    });
  }

  test('a 404 is a status error', async () => {
    const c = new Client({ baseUrl: `${server.url}/garbage/status/404/`, recordsAt: '/data' });
    const e = await rejectsWith(c.list('items'), 'status');
    assert.equal(e.status, 404);
    assert.ok(e.url.startsWith(`${server.url}/garbage/status/404/items`));
    assert.equal(e.page, 0);
    assert.match(e.excerpt, /injected/);
    const g = await rejectsWith(new Client({ baseUrl: server.url }).get('items/999999'), 'status');
    assert.equal(g.status, 404);
    assert.equal(g.url, `${server.url}/items/999999`);
    assert.equal(g.page, null);
  });

  test('errors of a stream come out of the iteration', async () => {
    const c = new Client({ baseUrl: `${server.url}/garbage/status/500/` });
    const e = await rejectsWith((async () => { for await (const _ of c.stream('items')) { /* none */ } })(), 'status');
    assert.equal(e.status, 500);
  });

  test('credentials never appear in errors', async () => {
    const c = new Client({ baseUrl: `${server.url}/garbage/status/404/`, auth: { type: 'query', name: 'api_key', value: 's3cret' } });
    const e = await rejectsWith(c.list('items'), 'status');
    assert.ok(e.url.startsWith(`${server.url}/garbage/status/404/items`));
    assert.ok(!`${e.message} ${e.url} ${e.stack}`.includes('s3cret'));
    const b = new Client({ baseUrl: server.url, auth: { type: 'bearer', token: 'tok3n' },
      headers: { 'X-Trace': 'yes' } });
    assert.equal((await b.get('items/3')).id, 3);
  });

  test('a request timeout is a timeout error', async () => {
    const c = new Client({ baseUrl: slow.url, timeoutMs: 100 });
    const e = await rejectsWith(c.get('items/1'), 'timeout');
    assert.ok(e.url.includes('/items/1'));
    const none = new Client({ baseUrl: slow.url, timeoutMs: null });
    assert.equal((await none.get('items/1')).id, 1);
  });

  test('a sweep deadline is a timeout error', async () => {
    const c = client(DIALECTS[7]);
    await rejectsWith(c.list('items', { pageSize: 10, deadlineMs: 20 }), 'timeout');
  });

  test('bad client options throw kind "config" or "url"', () => {
    const base = server.url;
    throwsWith(() => new Client(), 'config');
    throwsWith(() => new Client('http://x/'), 'config');
    throwsWith(() => new Client({}), 'config');
    throwsWith(() => new Client({ baseUrl: 'not a url' }), 'url');
    throwsWith(() => new Client({ baseUrl: 'ftp://h.example/' }), 'url');
    throwsWith(() => new Client({ baseUrl: base, pageSize: 0 }), 'config');
    throwsWith(() => new Client({ baseUrl: base, pageSize: -1 }), 'config');
    throwsWith(() => new Client({ baseUrl: base, pageSize: 1.5 }), 'config');
    throwsWith(() => new Client({ baseUrl: base, pageSize: NaN }), 'config');
    throwsWith(() => new Client({ baseUrl: base, pageSize: '10' }), 'config');
    throwsWith(() => new Client({ baseUrl: base, concurrency: 0 }), 'config');
    throwsWith(() => new Client({ baseUrl: base, window: 0 }), 'config');
    throwsWith(() => new Client({ baseUrl: base, timeoutMs: 0 }), 'config');
    throwsWith(() => new Client({ baseUrl: base, recordsAt: 'data' }), 'config');
    throwsWith(() => new Client({ baseUrl: base, headers: { 'Bad Name': 'x' } }), 'config');
    throwsWith(() => new Client({ baseUrl: base, headers: { 'X-A': 'a\r\nb' } }), 'config');
    throwsWith(() => new Client({ baseUrl: base, headers: 'X-A: b' }), 'config');
    throwsWith(() => new Client({ baseUrl: base, query: { a: { b: 1 } } }), 'config');
    throwsWith(() => new Client({ baseUrl: base, auth: { type: 'bearer' } }), 'config');
    throwsWith(() => new Client({ baseUrl: base, auth: { type: 'oauth', token: 'x' } }), 'config');
    throwsWith(() => new Client({ baseUrl: base, auth: 'token' }), 'config');
    throwsWith(() => new Client({ baseUrl: base, pagination: { type: 'offset', total: 'x' } }), 'config');
    throwsWith(() => new Client({ baseUrl: base, pagination: { type: 'page', firstPage: 2 } }), 'config');
    throwsWith(() => new Client({ baseUrl: base, pagination: { type: 'cursor' } }), 'config');
    throwsWith(() => new Client({ baseUrl: base, pagination: { type: 'cursor', from: 'link' } }), 'config');
    throwsWith(() => new Client({ baseUrl: base, pagination: { type: 'keyset' } }), 'config');
    throwsWith(() => new Client({ baseUrl: base, pagination: { type: 'offset', offsetParam: '' } }), 'config');
    throwsWith(() => new Client({ baseUrl: base, pagination: 'offset' }), 'config');
    const typo = throwsWith(() => new Client({ baseUrl: base, pageSzie: 10 }), 'config');
    assert.match(typo.message, /pageSzie/);
    const nested = throwsWith(() => new Client({ baseUrl: base, pagination: { type: 'page', sizeParm: 'n' } }), 'config');
    assert.match(nested.message, /options\.pagination.*sizeParm/);
    // Every accepted shape.
    for (const auth of [
      { type: 'bearer', token: 't' },
      { type: 'basic', user: 'u', password: 'p' },
      { type: 'header', name: 'X-Api-Key', value: 'k' },
      { type: 'query', name: 'api_key', value: 'k' },
    ]) {
      assert.ok(new Client({ baseUrl: base, auth }));
    }
    assert.ok(new Client({ baseUrl: base, headers: new Map([['X-A', 'b']]), query: new URLSearchParams('a=1&b=2') }));
    assert.ok(new Client({ baseUrl: base, pagination: { type: 'page', sizeParam: null, pageParam: 'p' } }));
  });

  test('bad list and get options reject with kind "config"', async () => {
    const c = client(OFFSET);
    await rejectsWith(c.list('items', { pageSize: 0 }), 'config');
    await rejectsWith(c.list('items', { concurrency: 0 }), 'config');
    await rejectsWith(c.list('items', { order: 'random' }), 'config');
    await rejectsWith(c.list('items', { pagesize: 10 }), 'config');
    await rejectsWith(c.list('items', { signal: 'stop' }), 'config');
    await rejectsWith(c.list('items', { onProgress: 1 }), 'config');
    await rejectsWith(c.list(42), 'config');
    await rejectsWith(c.get(undefined), 'config');
    await rejectsWith(c.get('items', { query: 'a=1' }), 'config');
    await rejectsWith((async () => { for await (const _ of c.stream('items', { window: -1 })) { /* none */ } })(), 'config');
  });
});

describe('onProgress', () => {
  for (const d of [OFFSET, DIALECTS[7]]) {
    test(`monotonic, and the last call matches the report (${d.name})`, async () => {
      const seen = [];
      const { records, report } = await client(d, { concurrency: 16 }).listWithReport('items', {
        pageSize: 50,
        onProgress: (p) => seen.push(p),
      });
      assert.equal(records.length, N);
      assert.equal(seen.length, report.pages);
      seen.forEach((p, i) => {
        assert.deepEqual(Object.keys(p).sort(), ['elapsedMs', 'pages', 'records', 'total']);
        assert.equal(p.pages, i + 1);
        assert.equal(p.total, d === OFFSET ? N : null);
        if (i > 0) {
          assert.ok(p.records > seen[i - 1].records);
          assert.ok(p.elapsedMs >= seen[i - 1].elapsedMs);
        }
      });
      const last = seen.at(-1);
      assert.equal(last.pages, report.pages);
      assert.equal(last.records, report.records);
      assert.equal(last.records, N);
    });
  }

  test('an exception in onProgress stops the sweep and is passed on', async () => {
    const boom = new Error('boom');
    await assert.rejects(
      client(OFFSET).list('items', { onProgress: () => { throw boom; } }),
      (e) => e === boom,
    );
  });
});

test('PagewiseError is a real Error class', () => {
  const e = new PagewiseError('status', 'status error: 503', { status: 503, url: 'https://h/x' });
  assert.ok(e instanceof Error);
  assert.equal(e.name, 'PagewiseError');
  assert.equal(e.kind, 'status');
  assert.equal(e.status, 503);
  assert.equal(e.url, 'https://h/x');
  assert.equal(e.page, null);
  assert.equal(e.excerpt, null);
  assert.ok(e.stack.includes('PagewiseError'));
});

test('index.d.ts declares no `any`', async () => {
  const { readFile } = await import('node:fs/promises');
  const dts = await readFile(new URL('../index.d.ts', import.meta.url), 'utf8');
  assert.doesNotMatch(dts, /\bany\b/);
});

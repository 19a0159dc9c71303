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
        assert.deepEqual(report.retries, { throttled: 0, serverError: 0, timeout: 0, transport: 0, badBody: 0 });
        assert.equal(report.throttledMs, 0);
        assert.equal(report.changedDuringSweep, false);

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

test('pages().checkpoint(): a resumed sweep fetches no page handed out before', async () => {
  for (const d of [DIALECTS[0], DIALECTS[7]]) {
    const c = client(d, { concurrency: 4 });
    const first = c.pages('items', { pageSize: 200 });
    assert.throws(() => first.checkpoint(), (e) => e.kind === 'config', 'before the iteration');
    const ids = [];
    let taken = 0;
    let checkpoint;
    for await (const page of first) {
      ids.push(...page.records.map((r) => r.id));
      taken += 1;
      checkpoint = first.checkpoint();
      if (taken === 3) break;
    }
    assert.equal(first.checkpoint(), checkpoint, 'after the loop: the same place');
    await settledRequests(server);
    const log0 = (await (await fetch(`${server.url}/_log`)).json()).length;
    for await (const page of c.pages('items', { pageSize: 200, resume: checkpoint })) {
      ids.push(...page.records.map((r) => r.id));
    }
    assert.deepEqual(ids, range(N), `${d.name}: every id once, in order`);
    const after = (await (await fetch(`${server.url}/_log`)).json()).slice(log0);
    if (d.path === 'offset') {
      const offsets = after.map((e) => Number(new URL(e.path, server.url).searchParams.get('offset')));
      assert.ok(offsets.every((o) => o >= 600), `${d.name}: offsets asked after the resume: ${offsets}`);
    } else {
      assert.ok(after.every((e) => new URL(e.path, server.url).searchParams.has('cursor')), `${d.name}: the first page again`);
    }
  }
});

test('pages().checkpoint() of a sweep that failed midway: the resumed sweep loses no record', async () => {
  // The API starts answering 401 while pages are in flight: the pages
  // dropped by the failure (the failed one and those after it) must stay
  // pending in the checkpoint, whether it was taken before or after the
  // error reached the caller.
  const s = await startTestServer({ records: 6000, latencyMs: 15 });
  const oauth = (method) => fetch(`${s.url}/_oauth`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: method === 'POST' ? JSON.stringify({ clientId: 'a', clientSecret: 'b', lifetimeMs: 60_000 }) : undefined,
  });
  try {
    for (const when of ['last page taken', 'after the error']) {
      await oauth('DELETE');
      const c = new Client({ baseUrl: `${s.url}/offset/`, ...OFFSET.options, concurrency: 6, retry: { maxRetries: 0 } });
      const first = c.pages('items', { pageSize: 100 });
      const ids = [];
      let checkpoint;
      let failed = null;
      try {
        for await (const page of first) {
          ids.push(...page.records.map((r) => r.id));
          checkpoint = first.checkpoint();
          if (ids.length === 1000) assert.ok((await oauth('POST')).ok);
        }
      } catch (e) {
        failed = e;
      }
      assert.equal(failed?.status, 401, `${when}: the sweep failed with a 401`);
      if (when === 'after the error') checkpoint = first.checkpoint();
      assert.ok((await oauth('DELETE')).ok);
      for await (const page of c.pages('items', { pageSize: 100, resume: checkpoint })) {
        ids.push(...page.records.map((r) => r.id));
      }
      assert.deepEqual(ids, range(6000), `${when}: every id once, in order`);
    }
  } finally {
    await s.close();
  }
});

test('progress has retries by cause; pacingStats has the requests in flight', async () => {
  const flaky = await startTestServer({ records: 3000, latencyMs: 5, extra: ['--error-rate', '0.05'] });
  try {
    const c = new Client({ baseUrl: `${flaky.url}/offset/`, recordsAt: '/data', concurrency: 4,
      pagination: { type: 'offset', total: { header: 'X-Total-Count' } }, retry: { baseDelayMs: 1, maxDelayMs: 5, budget: false } });
    let last;
    let inFlightSeen = 0;
    const { report } = await c.listWithReport('items', { pageSize: 50, onProgress: (p) => {
      last = p;
      inFlightSeen = Math.max(inFlightSeen, c.pacingStats().inFlight);
    } });
    assert.deepEqual(Object.keys(last.retriesByCause).sort(), ['badBody', 'serverError', 'throttled', 'timeout', 'transport']);
    const sum = Object.values(last.retriesByCause).reduce((a, b) => a + b, 0);
    assert.equal(sum, last.retries, 'by cause adds up to the total');
    assert.ok(report.retries.serverError > 0, 'the server failed some requests');
    assert.ok(last.retriesByCause.serverError <= report.retries.serverError);
    assert.ok(inFlightSeen >= 1 && inFlightSeen <= 4, `in flight during the sweep: ${inFlightSeen}`);
    assert.equal(c.pacingStats().inFlight, 0, 'none once the sweep ended');
  } finally {
    await flaky.close();
  }
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
  // Failures that could be transient are retried first: quickly, here.
  const retry = { baseDelayMs: 1, maxDelayMs: 20 };

  for (const kind of ['html', 'json', 'null', 'empty', 'missing']) {
    test(`garbage answer (${kind}) is a decode error with the url`, async () => {
      const c = new Client({ baseUrl: `${server.url}/garbage/${kind}/`, recordsAt: '/data', retry,
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
    const c = new Client({ baseUrl: `${server.url}/garbage/status/500/`, retry });
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
    const c = new Client({ baseUrl: slow.url, timeoutMs: 100, retry });
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
        assert.deepEqual(Object.keys(p).sort(), ['bytes', 'elapsedMs', 'etaMs', 'pages', 'pagesTotal', 'records',
          'recordsTotal', 'retries', 'retriesByCause', 'throttledMs', 'total']);
        if (d === OFFSET) {
          assert.equal(p.pagesTotal, Math.ceil(N / 50));
          assert.equal(p.recordsTotal, N);
        } else if (i < seen.length - 1) {
          // Without a total, the totals are known only once the sweep ended.
          assert.equal(p.pagesTotal, null);
          assert.equal(p.recordsTotal, null);
        }
        assert.ok(p.bytes > 0);
        assert.equal(p.retries, 0);
        assert.equal(p.throttledMs, 0);
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

describe('resilience', () => {
  // A server of its own: its faults are changed test by test.
  const M = 4000;
  let faulty;
  const offsetClient = (extra = {}) => new Client({ baseUrl: `${faulty.url}/offset/`, recordsAt: '/data',
    pagination: { type: 'offset', total: { header: 'X-Total-Count' } }, concurrency: 16, ...extra });
  // Quick retries, so that the suite stays fast.
  const quick = { baseDelayMs: 10, maxDelayMs: 200 };

  before(async () => {
    faulty = await startTestServer({ records: M, latencyMs: 1 });
  });
  after(async () => {
    await faulty?.close();
  });

  test('retries recover from injected 5xx; the report and onProgress count them', async () => {
    await faulty.setFaults({ error_rate: 0.15 });
    const seen = [];
    const { records, report } = await withTimeout(
      offsetClient({ retry: quick }).listWithReport('items', { pageSize: 50, onProgress: (p) => seen.push(p) }),
      30_000, 'a sweep through 5xx');
    assert.deepEqual(records.map((r) => r.id), range(M), 'every id once, in order');
    assert.equal(report.complete, true);
    assert.ok(report.retries.serverError > 0, JSON.stringify(report.retries));
    const total = Object.values(report.retries).reduce((a, b) => a + b, 0);
    assert.equal(report.retries.serverError, total, JSON.stringify(report.retries));
    assert.equal(report.requests, report.pages + total);
    const stats = await faulty.stats();
    assert.equal(stats.requests, report.requests, 'every request the server saw is counted');
    assert.equal(stats.faults, total, 'every injected fault was retried once');
    // Progress: retries so far, never decreasing; the last page comes after every retry.
    seen.forEach((p, i) => {
      assert.equal(typeof p.retries, 'number');
      assert.equal(typeof p.throttledMs, 'number');
      if (i > 0) assert.ok(p.retries >= seen[i - 1].retries);
    });
    assert.equal(seen.at(-1).retries, total);
  });

  test('a budget announced in rate-limit headers is kept to: no 429 from a sweep larger than it', async () => {
    // 40 requests per 700 ms window; 4,000 records in pages of 50: 81
    // requests, three windows' worth. The page order (the default) hands
    // the pacer each page's headers as it comes in, before it is parsed.
    for (const headers of ['x-rate-limit', 'ietf']) {
      await faulty.setFaults({ budget: { limit: 40, window_ms: 700, headers } });
      const { records, report } = await withTimeout(
        offsetClient().listWithReport('items', { pageSize: 50 }),
        30_000, `a sweep under a budget in ${headers} headers`);
      assert.deepEqual(records.map((r) => r.id), range(M), 'every id once, in order');
      const stats = await faulty.stats();
      assert.equal(stats.throttled, 0, `${headers}: ${JSON.stringify(stats)}`);
      assert.equal(report.retries.throttled, 0, JSON.stringify(report.retries));
      assert.ok(stats.requests > 40, `larger than the budget: ${JSON.stringify(stats)}`);
    }
    await faulty.setFaults({});
  });

  test('a dead server is given up on: maxRetries, list overrides, the budget', async () => {
    await faulty.setFaults({ error_rate: 1 });
    const c = offsetClient({ retry: { ...quick, maxRetries: 2 } });
    const e = await rejectsWith(c.list('items'), 'status');
    assert.ok([500, 502, 503].includes(e.status), String(e.status));
    assert.equal(e.page, 0);
    assert.match(e.message, /after 2 retries/);
    assert.equal((await faulty.stats()).requests, 3);

    // A list's retry options replace the client's, member by member.
    await faulty.resetStats();
    await rejectsWith(c.list('items', { retry: { maxRetries: 0 } }), 'status');
    assert.equal((await faulty.stats()).requests, 1, 'maxRetries: 0 never retries');

    // A budget of 10 tokens at 5 a retry allows 2 retries, whatever maxRetries says.
    await faulty.resetStats();
    const b = await rejectsWith(
      c.list('items', { retry: { maxRetries: 10, baseDelayMs: 1, budget: { capacity: 10, retryCost: 5 } } }), 'status');
    assert.match(b.message, /budget/);
    assert.equal((await faulty.stats()).requests, 3);

    // Without a budget, only maxRetries bounds them.
    await faulty.resetStats();
    await rejectsWith(
      c.list('items', { retry: { maxRetries: 4, baseDelayMs: 1, budget: false } }), 'status');
    assert.equal((await faulty.stats()).requests, 5);
  });

  test('broken and truncated answers are retried by cause', async () => {
    await faulty.setFaults({ drop_rate: 0.08, truncate_rate: 0.08, empty_rate: 0.02, null_rate: 0.02 });
    const { records, report } = await withTimeout(
      offsetClient({ retry: quick }).listWithReport('items', { pageSize: 50, order: 'completion' }),
      30_000, 'a sweep through broken answers');
    assert.deepEqual(records.map((r) => r.id).sort((a, b) => a - b), range(M), 'every id once');
    assert.equal(report.complete, true);
    assert.ok(report.retries.transport > 0, JSON.stringify(report.retries));
    assert.ok(report.retries.badBody > 0, JSON.stringify(report.retries));
  });

  test('a 429 storm completes with few 429s: the client pauses and learns the rate', async () => {
    // 100 requests/s, bursts of 10; 200 pages: a 2 s floor. Without pacing a
    // client at concurrency 16 would see a 429 for most of its requests.
    await faulty.setFaults({ rate_limit: { per_second: 100, burst: 10, retry_after: 'seconds' } });
    const c = offsetClient({ retry: quick });
    assert.deepEqual(c.pacingStats(),
      { throttles: 0, throttledMs: 0, decreases: 0, increases: 0, concurrency: 16, learntRate: null, inFlight: 0 });
    const started = performance.now();
    const { records, report } = await withTimeout(
      c.listWithReport('items', { pageSize: 20 }), 45_000, 'a sweep through a 429 storm');
    const took = performance.now() - started;
    assert.deepEqual(records.map((r) => r.id), range(M));
    assert.equal(report.complete, true);
    const { throttled } = await faulty.stats();
    assert.ok(throttled > 0, 'the server did throttle');
    assert.ok(throttled <= 40, `${throttled} answers were 429 in ${took} ms`);
    assert.equal(report.retries.throttled, throttled, JSON.stringify(report.retries));
    assert.ok(report.throttledMs >= 900, `throttled ${report.throttledMs} ms (Retry-After is at least 1 s)`);
    const stats = c.pacingStats();
    assert.equal(stats.throttles, throttled);
    assert.ok(stats.throttledMs >= 900, JSON.stringify(stats));
    assert.ok(stats.decreases >= 1, JSON.stringify(stats));
    assert.ok(stats.concurrency >= 1 && stats.concurrency <= 16, JSON.stringify(stats));
    assert.equal(typeof stats.learntRate, 'number', 'a rate was learnt from the 429s');
    assert.ok(stats.learntRate > 0);
  });

  test('pacing: a fixed rate limit spaces requests', async () => {
    await faulty.setFaults({});
    const c = offsetClient({ pacing: { rateLimit: { perSecond: 20, burst: 1 }, adaptive: false } });
    const started = performance.now();
    const records = await c.list('items', { pageSize: 400 });
    const took = performance.now() - started;
    assert.equal(records.length, M);
    // 10 requests at 20/s, the first at once: at least 9 intervals of 50 ms.
    assert.ok(took >= 420, `10 pages in ${took} ms`);
    assert.equal((await faulty.stats()).requests, 10);
    await faulty.setFaults({});
  });

  test('slow answers past timeoutMs are retried as timeouts', async () => {
    await faulty.setFaults({ slow_rate: 0.1, slow_ms: 1500 });
    const { records, report } = await withTimeout(
      offsetClient({ timeoutMs: 300, retry: quick }).listWithReport('items', { pageSize: 100 }),
      30_000, 'a sweep through slow answers');
    assert.equal(records.length, M);
    assert.ok(report.retries.timeout > 0, JSON.stringify(report.retries));
    await faulty.setFaults({});
  });
});

describe('a collection changing under an offset sweep', () => {
  // Each test changes its server's collection for good: a server each.
  const sweep = async (mutate, listOptions) => {
    const s = await startTestServer({ records: N, latencyMs: 1 });
    try {
      await s.setFaults({ mutate });
      const c = new Client({ baseUrl: `${s.url}/offset/`, recordsAt: '/data', concurrency: 1,
        pagination: { type: 'offset', total: { header: 'X-Total-Count' } } });
      return await withTimeout(c.listWithReport('items', listOptions), 20_000, 'a sweep');
    } finally {
      await s.close();
    }
  };

  test('rows deleted before the last page: more records than the total, kind "incomplete" with verify', async () => {
    // 24 pages, one at a time: pages 0..22 (2300 records) are read, then 150
    // rows are deleted; the last page finds nothing at offset 2300 and a total of 2195.
    const mutate = { after_requests: 23, delete: 150 };
    const { records, report } = await sweep(mutate, {});
    assert.equal(records.length, 2300);
    assert.equal(report.records, 2300);
    assert.equal(report.total, N - 150);
    assert.equal(report.complete, false);
    assert.equal(report.changedDuringSweep, true);
    assert.deepEqual(report.notices.filter((n) => n.type === 'totalChanged'),
      [{ type: 'totalChanged', from: N, to: N - 150, page: 23 }]);

    const e = await rejectsWith(sweep(mutate, { verify: true }), 'incomplete');
    assert.match(e.message, /105 records more than the total of 2195/);
    assert.ok(e.url.includes('/offset/items'), e.url);
  });

  test('rows deleted early: the count matches the new total, yet complete is false, changedDuringSweep says why, verify refuses', async () => {
    // After 3 pages the rows shift; the sweep reads up to the new total, so
    // the count matches it. changedDuringSweep tells that rows may have been
    // missed or repeated (150 rows shifted past the pages read), so complete
    // is not claimed, and verify turns that into an error.
    const { records, report } = await sweep({ after_requests: 3, delete: 150 }, {});
    assert.equal(records.length, N - 150);
    assert.equal(report.total, N - 150);
    assert.equal(report.complete, false);
    assert.equal(report.changedDuringSweep, true);
    assert.deepEqual(report.notices.filter((n) => n.type === 'totalChanged'),
      [{ type: 'totalChanged', from: N, to: N - 150, page: 3 }]);
    const e = await rejectsWith(sweep({ after_requests: 3, delete: 150 }, { verify: true }), 'incomplete');
    assert.match(e.message, /changed during the sweep/);
  });
});

test('retry, pacing and verify options are checked', async () => {
  const base = server.url;
  const bad = [
    { retry: 'often' },
    { retry: [] },
    { retry: true },
    { retry: { maxRetries: -1 } },
    { retry: { maxRetries: 1.5 } },
    { retry: { maxRetries: 2 ** 32 } },
    { retry: { maxRetries: '3' } },
    { retry: { baseDelayMs: NaN } },
    { retry: { maxDelayMs: -5 } },
    { retry: { maxRetryAfterMs: Infinity } },
    { retry: { budget: true } },
    { retry: { budget: 'none' } },
    { retry: { budget: { capacity: -1 } } },
    { retry: { budget: { retryCost: 0.5 } } },
    { retry: { budget: { cost: 1 } } },
    { pacing: 'polite' },
    { pacing: { rateLimit: 10 } },
    { pacing: { rateLimit: { perSecond: 0, burst: 1 } } },
    { pacing: { rateLimit: { perSecond: -1, burst: 1 } } },
    { pacing: { rateLimit: { perSecond: Infinity, burst: 1 } } },
    { pacing: { rateLimit: { perSecond: 10 } } },
    { pacing: { rateLimit: { burst: 10 } } },
    { pacing: { rateLimit: { perSecond: 10, burst: 0 } } },
    { pacing: { rateLimit: { perSecond: 10, burst: 1.5 } } },
    { pacing: { adaptive: 'yes' } },
    { pacing: { cooldownWithoutRetryAfterMs: -1 } },
    { pacing: { maxCooldownMs: 1.5 } },
  ];
  for (const options of bad) {
    const e = throwsWith(() => new Client({ baseUrl: base, ...options }), 'config');
    assert.match(e.message, /options\.(retry|pacing)/, `${JSON.stringify(options)}: ${e.message}`);
  }
  const typo = throwsWith(() => new Client({ baseUrl: base, retry: { maxRetry: 3 } }), 'config');
  assert.match(typo.message, /options\.retry.*maxRetry/);
  const nested = throwsWith(() => new Client({ baseUrl: base, retry: { budget: { capacty: 3 } } }), 'config');
  assert.match(nested.message, /options\.retry\.budget.*capacty/);
  throwsWith(() => new Client({ baseUrl: base, pacing: { rateLimt: { perSecond: 1, burst: 1 } } }), 'config');

  // Every accepted shape.
  for (const options of [
    { retry: {} },
    { retry: { maxRetries: 0 } },
    { retry: { maxRetries: 10, baseDelayMs: 0, maxDelayMs: 60_000, maxRetryAfterMs: 0, budget: false } },
    { retry: { budget: {} } },
    { retry: { budget: { capacity: 100, retryCost: 1, timeoutCost: 2, successRefund: 0 } } },
    { retry: null, pacing: null },
    { pacing: {} },
    { pacing: { rateLimit: { perSecond: 0.5, burst: 1 }, adaptive: false, cooldownWithoutRetryAfterMs: 0, maxCooldownMs: 5_000 } },
    { pacing: { rateLimit: null } },
  ]) {
    assert.ok(new Client({ baseUrl: base, ...options }), JSON.stringify(options));
  }

  // In list options.
  const c = client(OFFSET);
  await rejectsWith(c.list('items', { retry: { maxRetries: -1 } }), 'config');
  await rejectsWith(c.list('items', { retry: { budget: true } }), 'config');
  await rejectsWith(c.list('items', { retry: { delayMs: 1 } }), 'config');
  await rejectsWith(c.list('items', { verify: 'yes' }), 'config');
  await rejectsWith(c.list('items', { pacing: {} }), 'config');
  const { records, report } = await c.listWithReport('items', { verify: true, retry: { maxRetries: 1, budget: false } });
  assert.equal(records.length, N);
  assert.equal(report.complete, true);
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

// Pages are parsed once, by JSON.parse, and the core reads a skeleton of
// each body: what it reads from the body (cursors, totals) must stay as the
// server wrote it, and a body that is not a page must still be a retried
// decode error. A server of our own says exactly that.
test('pages().checkpoint() after an empty page: it is not fetched again', async () => {
  const { createServer } = await import('node:http');
  const seen = [];
  const answers = {
    '': '{"items":[{"id":1},{"id":2}],"next":"b"}',
    b: '{"items":[],"next":"c"}',
    c: '{"items":[{"id":3}],"next":null}',
  };
  const server = createServer((req, res) => {
    const cursor = new URL(req.url, 'http://x').searchParams.get('cursor') ?? '';
    seen.push(cursor);
    if (!(cursor in answers)) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(answers[cursor]);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const client = new Client({
      baseUrl: `http://127.0.0.1:${server.address().port}/`,
      recordsAt: '/items',
      pagination: { type: 'cursor', from: { pointer: '/next' } },
    });
    const first = client.pages('x', { concurrency: 1 });
    let checkpoint;
    for await (const page of first) {
      checkpoint = first.checkpoint();
      if (page.index === 1) {
        assert.deepEqual(page.records, []);
        break;
      }
    }
    // The first sweep asked for the next page before handing this one out:
    // let that aborted request arrive before counting.
    await sleep(200);
    seen.length = 0;
    const rest = [];
    for await (const page of client.pages('x', { resume: checkpoint })) rest.push(...page.records.map((r) => r.id));
    assert.deepEqual(rest, [3]);
    assert.deepEqual(seen, ['c'], 'the empty page, handed out, is not asked for again');
  } finally {
    server.close();
  }
});

test('pages parsed in JavaScript: exact cursors, nested records, broken bodies retried', async () => {
  const { createServer } = await import('node:http');
  const seen = [];
  let broken = 1;
  const server = createServer((req, res) => {
    const cursor = new URL(req.url, 'http://x').searchParams.get('cursor');
    seen.push(cursor);
    let body;
    if (cursor === null) {
      // A cursor too big for a double, and a float: the body goes to the core whole.
      body = '{"result":{"items":[{"id":1},{"id":2}]},"next":12345678901234567890,"pi":3.10}';
    } else if (cursor === '12345678901234567890') {
      body = '{"result":{"items":[{"id":3,"s":"\\u00e9\\n"}]},"next":"a~b/c \\u00e9","n":[1,2]}';
    } else if (cursor === 'a~b/c é' && broken > 0) {
      broken -= 1;
      body = '{"result":{"items":[{"id":4},';
    } else if (cursor === 'a~b/c é') {
      body = '{"result":{"items":[{"id":4},{"id":5}]},"next":null}';
    } else {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const client = new Client({
      baseUrl: `http://127.0.0.1:${server.address().port}/`,
      recordsAt: '/result/items',
      pagination: { type: 'cursor', from: { pointer: '/next' } },
      retry: { baseDelayMs: 1, maxDelayMs: 5 },
    });
    const stream = client.stream('x');
    const got = [];
    for await (const record of stream) got.push(record);
    assert.deepEqual(got.map((r) => r.id), [1, 2, 3, 4, 5]);
    assert.equal(got[2].s, '\u00e9\n');
    assert.deepEqual(seen, [null, '12345678901234567890', 'a~b/c é', 'a~b/c é']);
    assert.equal(stream.report.retries.badBody, 1);
    assert.equal(stream.report.records, 5);
    assert.ok(stream.report.bytes > 150, `bytes ${stream.report.bytes}`);
    // Pages handed out whole.
    const pages = [];
    for await (const page of client.pages('x')) pages.push(page.records.map((r) => r.id));
    assert.deepEqual(pages, [[1, 2], [3], [4, 5]]);
    // A checkpoint in the middle of a page: the rest of it (a slice of what
    // JSON.parse made), then the pages after it.
    const first = client.stream('x');
    for await (const record of first) {
      assert.equal(record.id, 1);
      break;
    }
    const resumed = [];
    for await (const record of client.stream('x', { resume: first.checkpoint() })) resumed.push(record.id);
    assert.deepEqual(resumed, [2, 3, 4, 5]);
  } finally {
    server.close();
  }
});

// Bodies are read as UTF-8: raw multi-byte characters come through as
// written, and bytes that are not UTF-8 are a bad body (retried, then an
// error), never text made up from them.
test('pages parsed in JavaScript: raw UTF-8 text as written, bytes that are not UTF-8 refused', async () => {
  const { createServer } = await import('node:http');
  const pages = {
    0: Buffer.from('{"data":[{"id":1,"name":"Zoë 😀 東京"},{"id":2,"name":"plain"}]}', 'utf8'),
    2: Buffer.from('{"data":[{"id":3,"name":"ascii only"}]}', 'utf8'),
    // "é" in Latin-1: one byte 0xE9, not UTF-8.
    bad: Buffer.concat([Buffer.from('{"data":[{"id":9,"name":"caf'), Buffer.from([0xe9]), Buffer.from('"}]}')]),
  };
  const server = createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    const body = u.pathname === '/bad' ? pages.bad : pages[u.searchParams.get('offset') ?? '0'];
    res.writeHead(200, { 'content-type': 'application/json', 'x-total-count': '3' }).end(body ?? '{"data":[]}');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const options = {
      baseUrl: `http://127.0.0.1:${server.address().port}/`,
      recordsAt: '/data',
      pagination: { type: 'offset', total: { header: 'X-Total-Count' } },
      pageSize: 2,
      retry: { maxRetries: 1, baseDelayMs: 1, maxDelayMs: 5 },
    };
    const records = await new Client(options).list('items');
    assert.deepEqual(records, [
      { id: 1, name: 'Zoë 😀 東京' },
      { id: 2, name: 'plain' },
      { id: 3, name: 'ascii only' },
    ]);
    await assert.rejects(new Client(options).list('bad'), (e) => {
      assert.equal(e.name, 'PagewiseError');
      assert.equal(e.kind, 'decode');
      return true;
    });
  } finally {
    server.close();
  }
});

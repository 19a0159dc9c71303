// The dashboard's worker (www/worker.js) without the page: a module worker
// created in a blank document of the test server's origin, driven by the
// protocol of www/lib/protocol.js, in headless Chromium.
//
//   node --test --test-concurrency=1 www/test/worker-harness.mjs
//
// Needs the built npm package and the test server binary
// ($CARGO_TARGET_DIR/debug/pagewise-testserver), like dashboard.test.mjs.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { launchChromium, repoRoot, requireBuiltPackage, startTestServer, withTimeout } from '../../bindings/npm/test/helpers.mjs';
import { csvField, csvLine } from '../lib/export.js';
import { cellOf, columnsOf, idColumnsOf } from '../lib/protocol.js';
import { hintOf } from '../lib/hints.js';

requireBuiltPackage();

const STATIC = ['--www-dir', join(repoRoot, 'www'), '--npm-dir', join(repoRoot, 'bindings/npm')];
const SECRET = 'tok-S3CRET-4711-do-not-show';

let browser;
const servers = [];

before(async () => {
  browser = await launchChromium();
});

after(async () => {
  await browser?.close().catch(() => {});
  for (const s of servers) await s.close().catch(() => {});
});

async function server({ records = 1000, latencyMs = 1, extra = [] } = {}) {
  const s = await startTestServer({ records, latencyMs, extra: [...STATIC, ...extra] });
  servers.push(s);
  return s;
}

/** The config the form builds for the test server's offset/items. */
function config(base, extra = {}) {
  return {
    client: {
      baseUrl: `${base}/`,
      recordsAt: '/data',
      pagination: { type: 'offset', total: { header: 'X-Total-Count' } },
      pageSize: 100,
      concurrency: 6,
    },
    auth: { type: 'none' },
    collection: 'offset/items',
    list: {},
    idsTemplate: 'items/{id}',
    ...extra,
  };
}

/**
 * A blank document of `origin` with helpers: `spawn()` makes a new worker
 * (as a reload would), `send(msg)`, `until(types)` resolves to the next
 * message of one of those types; rows land in `window.rows[from + i]`.
 */
async function harness(origin, context) {
  const ctx = context ?? (await browser.newContext());
  const page = await ctx.newPage();
  const consoleText = [];
  page.on('console', (m) => consoleText.push(m.text()));
  await page.goto(`${origin}/www/lib/protocol.js`);
  await page.evaluate(() => {
    window.spawn = () => {
      window.worker?.terminate();
      window.msgs = [];
      window.rows = [];
      window.waiters = [];
      window.worker = new Worker('/www/worker.js', { type: 'module' });
      window.worker.onmessage = (e) => {
        const m = e.data;
        if (m.type === 'rows') m.rows.forEach((r, i) => { window.rows[m.from + i] = r; });
        window.msgs.push(m.type === 'rows' ? { ...m, rows: m.rows.length } : m);
        window.waiters = window.waiters.filter((w) => !(w.types.includes(m.type) && (w.resolve(m), true)));
      };
    };
    window.send = (m) => window.worker.postMessage(m);
    window.until = (types) => new Promise((resolve) => window.waiters.push({ types, resolve }));
    window.spawn();
  });
  const ask = (msg, types, timeout = 120_000) => withTimeout(
    page.evaluate(([m, t]) => { const p = until(t); send(m); return p; }, [msg, types]),
    timeout, `${msg.type} → ${types.join('|')}`,
  );
  const ids = () => page.evaluate(() => window.rows.map((r) => JSON.parse(r).id));
  return { ctx, page, ask, ids, consoleText };
}

const log = async (s) => (await fetch(`${s.url}/_log`)).json();
const offsetOf = (s, e) => Number(new URL(e.path, s.url).searchParams.get('offset'));

function assertEveryIdOnce(ids, n, what) {
  assert.equal(ids.length, n, `${what}: ${ids.length} rows`);
  assert.equal(new Set(ids).size, n, `${what}: an id more than once`);
  for (let i = 1; i <= n; i++) if (!ids.includes(i)) assert.fail(`${what}: id ${i} missing`);
}

test('CSV: RFC 4180 quoting, nested values as JSON, id columns', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  const row = JSON.stringify({ a: 'x,y', b: { n: [1, 2] }, c: null, d: 3 });
  assert.equal(csvLine(row, columnsOf([row])), '"x,y","{""n"":[1,2]}",,3\r\n');
  const found = '{"id":"1","result":"found","status":200,"record":{"id":1,"name":"n"}}';
  assert.deepEqual(idColumnsOf([found]), ['id', 'result', 'status', 'error', 'record.id', 'record.name']);
  // Keys holding a dot (ServiceNow's dot-walked fields) are columns of their own.
  const dotted = '{"id":"2","result":"found","status":200,"record":{"assigned_to.name":"Ann"}}';
  const cols = idColumnsOf([dotted]);
  assert.ok(cols.includes('record.assigned_to.name'), String(cols));
  assert.equal(cellOf(JSON.parse(dotted), 'record.assigned_to.name'), 'Ann');
  assert.equal(cellOf({ 'assigned_to.name': 'Bo' }, 'assigned_to.name'), 'Bo');
  assert.equal(csvLine(dotted, cols).split(',').at(-1), 'Ann\r\n');
});

test('hints: mixed content from an https page, loopback exempt; auth, cors, unreachable, not-found', () => {
  const transport = (url) => ({ kind: 'transport', status: null, page: 0, message: 'failed to fetch', url });
  assert.equal(hintOf(transport('http://api.example/v1/items'), { pageProtocol: 'https:', probe: 'failed' }), 'mixed-content');
  assert.equal(hintOf(transport('http://127.0.0.1:8080/items'), { pageProtocol: 'https:', probe: 'failed' }), 'unreachable');
  assert.equal(hintOf(transport('http://localhost:8080/items'), { pageProtocol: 'https:', probe: 'answered' }), 'cors');
  assert.equal(hintOf(transport('https://api.example/v1/items'), { pageProtocol: 'https:', probe: 'answered' }), 'cors');
  assert.equal(hintOf(transport('http://api.example/v1/items'), { pageProtocol: 'http:', probe: 'failed' }), 'unreachable');
  assert.equal(hintOf({ kind: 'status', status: 401, page: 3, message: '' }), 'auth');
  assert.equal(hintOf({ kind: 'status', status: 404, page: 0, message: '' }), 'not-found');
  assert.equal(hintOf({ kind: 'status', status: 404, page: 5, message: '' }), null);
});

test('a sweep through 5xx and 429s: every id once, ticks, then each export counts right', async () => {
  const N = 20_000;
  const s = await server({ records: N, extra: ['--error-rate', '0.01', '--rate-limit-per-second', '200'] });
  const h = await harness(s.url);
  const ready = await h.ask({ type: 'hello' }, ['ready']);
  assert.equal(ready.saved, null);
  const tested = await h.ask({ type: 'test', config: config(s.url) }, ['tested', 'failed']);
  assert.equal(tested.type, 'tested', JSON.stringify(tested));
  assert.equal(tested.shape.total, N);
  assert.match(tested.shape.nextUrl, /offset=100/);
  const done = await h.ask({ type: 'start', config: config(s.url) }, ['done', 'failed', 'stopped']);
  assert.equal(done.type, 'done', JSON.stringify(done));
  assert.equal(done.report.records, N);
  assertEveryIdOnce(await h.ids(), N, 'rows posted');
  const msgs = await h.page.evaluate(() => window.msgs);
  const ticks = msgs.filter((m) => m.type === 'tick');
  assert.ok(ticks.length >= 2, `${ticks.length} ticks`);
  const last = ticks[ticks.length - 1];
  assert.equal(last.progress.records, N);
  assert.equal(typeof last.stats.configuredConcurrency, 'number');
  assert.ok(msgs.filter((m) => m.type === 'rows').every((m) => m.rows <= 5000));
  for (const format of ['ndjson', 'csv', 'json']) {
    const out = await h.page.evaluate(async (format) => {
      const m = await (() => { const p = until(['exported', 'failed']); send({ type: 'export', format }); return p; })();
      if (m.type !== 'exported') return m;
      const text = await m.blob.text();
      let ids;
      if (format === 'ndjson') ids = text.split('\n').filter((l) => l).map((l) => JSON.parse(l).id);
      if (format === 'json') ids = JSON.parse(text).map((r) => r.id);
      if (format === 'csv') ids = text.split('\r\n').filter((l) => l).slice(1).map((l) => Number(l.split(',')[0]));
      return { type: m.type, rows: m.rows, filename: m.filename, ids };
    }, format);
    assert.equal(out.type, 'exported', JSON.stringify(out));
    assert.equal(out.rows, N);
    assert.ok(out.filename.endsWith(`.${format}`));
    assertEveryIdOnce(out.ids, N, `${format} export`);
  }
  await h.ctx.close();
});

test('a new worker (as after a reload) resumes: no page handed out fetched again, no record lost', async () => {
  const N = 30_000;
  const s = await server({ records: N, latencyMs: 20 });
  const h = await harness(s.url);
  await h.page.evaluate((c) => send({ type: 'start', config: c }), config(s.url));
  await h.page.waitForFunction(() => window.rows.length >= 5000, null, { polling: 20, timeout: 60_000 });
  await h.page.evaluate(() => window.spawn());
  const { saved } = await h.ask({ type: 'hello' }, ['ready']);
  assert.equal(saved.status, 'running');
  assert.ok(saved.rows >= 5000 && saved.rows < N && saved.rows % 100 === 0, `saved ${saved.rows}`);
  const loaded = await h.ask({ type: 'load' }, ['loaded']);
  assert.equal(loaded.count, saved.rows);
  assertEveryIdOnce(await h.ids(), saved.rows, 'loaded rows');
  const before = (await log(s)).length;
  await h.page.evaluate(() => { window.rows = []; });
  const done = await h.ask({ type: 'resume', config: config(s.url) }, ['done', 'failed', 'stopped']);
  assert.equal(done.type, 'done', JSON.stringify(done));
  assertEveryIdOnce(await h.ids(), N, 'rows after resume');
  const again = (await log(s)).slice(before).filter((e) => e.path.startsWith('/offset/items') && offsetOf(s, e) < saved.rows);
  assert.deepEqual(again, [], 'a page handed out before was fetched again');
  await h.ctx.close();
});

test('stop saves, then resume in the same worker; discard forgets', async () => {
  const N = 20_000;
  const s = await server({ records: N, latencyMs: 20 });
  const h = await harness(s.url);
  await h.page.evaluate((c) => send({ type: 'start', config: c }), config(s.url));
  await h.page.waitForFunction(() => window.rows.length >= 2000, null, { polling: 20, timeout: 60_000 });
  const stopped = await h.ask({ type: 'stop' }, ['stopped']);
  assert.equal(stopped.records, await h.page.evaluate(() => window.rows.length));
  const { saved } = await h.ask({ type: 'hello' }, ['ready']);
  assert.equal(saved.status, 'stopped');
  assert.equal(saved.rows, stopped.records);
  await h.page.evaluate(() => { window.rows = []; });
  const done = await h.ask({ type: 'resume', config: config(s.url) }, ['done', 'failed']);
  assert.equal(done.type, 'done', JSON.stringify(done));
  assertEveryIdOnce(await h.ids(), N, 'rows after stop and resume');
  await h.ask({ type: 'discard' }, ['discarded']);
  assert.equal((await h.ask({ type: 'hello' }, ['ready'])).saved, null);
  await h.ctx.close();
});

test('fetch by ids: found, missing (404) and error per id', async () => {
  const s = await server({ records: 500 });
  const h = await harness(s.url);
  const done = await h.ask({ type: 'ids', config: config(s.url), ids: ['1', '999999', '3', '', 'x/y'] }, ['done', 'failed']);
  assert.deepEqual(done.summary, { found: 2, missing: 1, error: 1 });
  const rows = await h.page.evaluate(() => window.rows.map((r) => JSON.parse(r)));
  assert.deepEqual(rows.map((r) => [r.id, r.result, r.status]), [['1', 'found', 200], ['999999', 'missing', 404], ['3', 'found', 200], ['x/y', 'error', 400]]);
  assert.equal(rows[0].record.id, 1);
  await h.ctx.close();
});

test('errors: unreachable, 401, CORS, 404 get their hint; no credential in any message', async () => {
  const demo = await server({ records: 500 });
  const locked = await server({ records: 500 });
  const refusing = await server({ records: 500, extra: ['--no-cors'] });
  const enable = await fetch(`${locked.url}/_oauth`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ clientId: 'dash', clientSecret: 'never-sent', lifetimeMs: 60_000 }),
  });
  assert.ok(enable.ok);
  const port = await new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => { const p = srv.address().port; srv.close(() => resolve(p)); });
  });
  const h = await harness(demo.url);
  const cases = [
    ['unreachable', 'transport', config(`http://127.0.0.1:${port}`)],
    ['auth', 'auth', config(locked.url, { auth: { type: 'bearer', token: SECRET } })],
    ['auth', 'auth', config(locked.url, { auth: { type: 'basic', user: 'me', password: SECRET } })],
    ['cors', 'transport', config(refusing.url)],
    ['not-found', 'status', config(demo.url, { collection: 'no/such/items' })],
  ];
  for (const [hint, kind, c] of cases) {
    for (const type of ['test', 'start']) {
      const m = await h.ask({ type, config: c }, ['failed', 'done', 'tested']);
      assert.equal(m.type, 'failed', `${hint} ${type}: ${JSON.stringify(m)}`);
      assert.equal(m.error.hint, hint, `${type}: ${JSON.stringify(m.error)}`);
      assert.equal(m.error.kind, kind);
      assert.ok(m.error.hintText, 'a sentence');
      if (hint === 'cors') assert.ok(m.error.hintText.includes(demo.url), m.error.hintText);
    }
  }
  const all = JSON.stringify(await h.page.evaluate(() => window.msgs)) + h.consoleText.join('\n');
  assert.ok(!all.includes(SECRET), 'the secret is in a message');
  assert.ok(!all.includes(Buffer.from(`me:${SECRET}`).toString('base64')), 'the basic credentials are in a message');
  const { saved } = await h.ask({ type: 'hello' }, ['ready']);
  assert.ok(!JSON.stringify(saved).includes(SECRET), 'the secret is saved');
  await h.ctx.close();
});

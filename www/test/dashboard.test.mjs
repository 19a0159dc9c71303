// The dashboard (www/) end to end in headless Chromium, served by the test
// API server as `--demo` serves it: the page, the npm package and uPlot from
// one origin, the sweep in a Web Worker.
//
//   npm run test:www    (at the repository root; builds the package and the test server)
//
// Uses the system Chromium (playwright-core downloads no browser):
// CHROMIUM_PATH overrides /usr/bin/chromium. PAGEWISE_SCREENSHOTS=<dir>
// saves the screenshots there (docs/ holds the ones the README shows);
// by default they go to a temporary folder.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { launchChromium, repoRoot, requireBuiltPackage, startTestServer } from '../../bindings/npm/test/helpers.mjs';

requireBuiltPackage();

const DEMO_RECORDS = 200_000;
/** Where the page's files come from: this checkout, whatever the binary was built from. */
const STATIC = [
  '--www-dir', join(repoRoot, 'www'),
  '--npm-dir', join(repoRoot, 'bindings/npm'),
  '--vendor-dir', join(repoRoot, 'node_modules'),
];

let browser;
let shots;
const servers = [];

before(async () => {
  shots = process.env.PAGEWISE_SCREENSHOTS ?? (await mkdtemp(join(tmpdir(), 'pagewise-shots-')));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close().catch(() => {});
  for (const s of servers) await s.close().catch(() => {});
  if (!process.env.PAGEWISE_SCREENSHOTS && shots) await rm(shots, { recursive: true, force: true });
});

/** A test server serving the dashboard; closed after the suite. */
async function server({ demo = false, records = 1000, latencyMs = 1, extra = [] } = {}) {
  const s = await startTestServer({ records, latencyMs, extra: [...(demo ? ['--demo'] : []), ...STATIC, ...extra] });
  servers.push(s);
  return s;
}

/** A port nothing listens on. */
async function closedPort() {
  const srv = createServer();
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/**
 * The dashboard of `origin` in a fresh browser context (its own
 * IndexedDB), with main-thread long tasks recorded from the start, the
 * console and page errors collected, and every request's URL kept.
 */
async function open(origin, context) {
  const ctx = context ?? (await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } }));
  const page = await ctx.newPage();
  page.setDefaultTimeout(30_000);
  const logs = [];
  const requests = [];
  page.on('console', (m) => logs.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.stack ?? e}`));
  page.on('request', (r) => requests.push(r.url()));
  await page.addInitScript(() => {
    window.__longtasks = [];
    try {
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__longtasks.push({ start: e.startTime, duration: e.duration });
      }).observe({ type: 'longtask', buffered: true });
    } catch {
      window.__longtasks = null;
    }
  });
  await page.goto(`${origin}/www/`, { timeout: 20_000 });
  await waitState(page, ['idle'], 30_000, logs);
  return { ctx, page, logs, requests };
}

/** Waits until `body[data-state]` is one of `states`; fails with the page's logs. */
async function waitState(page, states, timeout, logs) {
  try {
    await page.waitForFunction((s) => s.includes(document.body.dataset.state), states, { timeout, polling: 100 });
  } catch (e) {
    const state = await page.evaluate(() => document.body.dataset.state).catch(() => '?');
    const error = await page.textContent('#error').catch(() => '');
    throw new Error(`waiting for state ${states.join('|')} (now ${state}): ${e.message}\nerror view: ${error}\n${logs.join('\n')}`);
  }
}

const rowCount = (page) => page.evaluate(() => Number(document.querySelector('#row-count').dataset.count));

/** Clicks `button` and resolves to the text of the file it downloads. */
async function download(page, button) {
  const [file] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), page.click(button)]);
  const path = await file.path();
  return { name: file.suggestedFilename(), text: await readFile(path, 'utf8') };
}

/** Asserts that `ids` are exactly 1..n, each once; returns how many repeat. */
function assertEveryIdOnce(ids, n, what) {
  const seen = new Uint8Array(n + 1);
  let repeated = 0;
  for (const id of ids) {
    assert.ok(Number.isInteger(id) && id >= 1 && id <= n, `${what}: unexpected id ${id}`);
    if (seen[id]) repeated += 1;
    seen[id] = 1;
  }
  assert.equal(repeated, 0, `${what}: ${repeated} ids more than once`);
  assert.equal(ids.length, n, `${what}: ${ids.length} ids, expected ${n}`);
}

/** Fills the connection form's base URL (and optionally more fields). */
async function connect(page, { baseUrl, collection, auth } = {}) {
  if (baseUrl !== undefined) await page.fill('#base-url', baseUrl);
  if (collection !== undefined) await page.fill('#collection', collection);
  if (auth) {
    await page.selectOption('#auth-type', auth.type);
    if (auth.token !== undefined) await page.fill('#auth-token', auth.token);
  }
}

/** Runs axe-core in the page; resolves to the serious and critical violations. */
async function axe(page) {
  await page.addScriptTag({ path: join(repoRoot, 'node_modules/axe-core/axe.min.js') });
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`);
}

describe('a sweep of the demo API', () => {
  test('200,000 records through 429s and 5xx: the table and an NDJSON export hold every id once, the charts got points, no long task', async () => {
    const demo = await server({ demo: true });
    const { ctx, page, logs, requests } = await open(demo.url);
    try {
      await assertNoSeriousViolations(page, 'the connection form');
      const started = await page.evaluate(() => performance.now());
      await page.click('#start');
      await waitState(page, ['running', 'done'], 30_000, logs);
      await page.waitForFunction(() => Number(document.querySelector('#row-count').dataset.count) >= 60_000, null, { timeout: 120_000, polling: 200 });
      await page.screenshot({ path: join(shots, 'dashboard-running.png'), fullPage: true });
      await waitState(page, ['done'], 240_000, logs);
      const ended = await page.evaluate(() => performance.now());

      assert.equal(await rowCount(page), DEMO_RECORDS, 'the table shows every record');
      const report = await page.textContent('#report');
      assert.match(report, /complete/i, report);
      const stats = await demo.stats();
      assert.ok(stats.throttled > 0, `the demo answered 429s: ${JSON.stringify(stats)}`);
      assert.ok(stats.faults > 0, `the demo answered 5xx: ${JSON.stringify(stats)}`);

      for (const chart of ['#chart-rate', '#chart-flight', '#chart-retries', '#chart-throttle']) {
        const points = await page.evaluate((c) => Number(document.querySelector(c).dataset.points), chart);
        assert.ok(points >= 5, `${chart}: ${points} points`);
      }

      // The sweep ran in the worker: the page had no task of 50 ms or more.
      const longtasks = await page.evaluate(([from, to]) => window.__longtasks?.filter((t) => t.start >= from && t.start <= to), [started, ended]);
      assert.ok(Array.isArray(longtasks), 'the longtask observer ran');
      const longest = longtasks.reduce((m, t) => Math.max(m, t.duration), 0);
      console.log(`# sweep of ${DEMO_RECORDS} records: ${((ended - started) / 1000).toFixed(1)} s in the page, ` +
        `${stats.requests} requests, ${stats.throttled} 429s, ${stats.faults} 5xx; ` +
        `main-thread long tasks during the sweep: ${longtasks.length} (longest ${longest.toFixed(0)} ms)`);
      assert.deepEqual(longtasks, [], 'no main-thread task over 50 ms during the sweep');

      await page.screenshot({ path: join(shots, 'dashboard.png'), fullPage: false });

      const ndjson = await download(page, '#export-ndjson');
      assert.match(ndjson.name, /\.ndjson$/);
      const lines = ndjson.text.split('\n').filter((l) => l !== '');
      assertEveryIdOnce(lines.map((l) => JSON.parse(l).id), DEMO_RECORDS, 'NDJSON export');

      const csv = await download(page, '#export-csv');
      assert.match(csv.name, /\.csv$/);
      const rows = parseCsv(csv.text);
      const header = rows.shift();
      assert.deepEqual(header.slice(0, 3), ['id', 'updated_at', 'name'], `CSV header: ${header}`);
      assert.equal(rows.length, DEMO_RECORDS, 'CSV rows');
      // Cell by cell against the NDJSON export, on a sample.
      for (const i of [0, 1, 777, 123_456, DEMO_RECORDS - 1]) {
        const record = JSON.parse(lines[i]);
        const cells = Object.fromEntries(header.map((h, j) => [h, rows[i][j]]));
        for (const [k, v] of Object.entries(record)) {
          assert.equal(cells[k], typeof v === 'string' ? v : JSON.stringify(v), `row ${i}, column ${k}`);
        }
      }

      assert.deepEqual(requests.filter((u) => !u.startsWith(demo.url) && !u.startsWith('blob:') && !u.startsWith('data:')), [],
        'everything the page loads is served locally');
      assert.deepEqual(logs.filter((l) => l.startsWith('pageerror') || l.startsWith('console.error')), [], 'no page error');
      await assertNoSeriousViolations(page, 'the dashboard after a sweep');
    } finally {
      await ctx.close();
    }
  });
});

test('a reload in the middle of a sweep, then resume: every id once, no page handed out fetched again', async () => {
  const N = 30_000;
  const api = await server({ records: N, latencyMs: 20 });
  const ctx = await browser.newContext({ acceptDownloads: true });
  const first = await open(api.url, ctx);
  await first.page.click('#start');
  await first.page.waitForFunction(() => Number(document.querySelector('#row-count').dataset.count) >= 6000, null, { timeout: 60_000, polling: 50 });
  await first.page.reload();
  const page = first.page;
  await page.waitForSelector('#resume-prompt', { state: 'visible', timeout: 20_000 });
  // The saved rows come back into the table: what was handed out before.
  await page.waitForFunction(() => Number(document.querySelector('#row-count').dataset.count) > 0, null, { timeout: 20_000 });
  let saved = await rowCount(page);
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await rowCount(page);
    if (now === saved) break;
    saved = now;
  }
  assert.ok(saved >= 6000 && saved < N, `saved rows: ${saved}`);
  assert.equal(saved % 100, 0, 'saved at a page boundary');
  const before = (await (await fetch(`${api.url}/_log`)).json()).length;
  // Resume goes on with the saved options, whatever the form says now.
  assert.equal(await page.inputValue('#collection'), 'offset/items', 'the form shows the saved options');
  await page.fill('#collection', 'no/such/items');
  await page.click('#resume');
  await waitState(page, ['done'], 120_000, first.logs);
  assert.equal(await rowCount(page), N);
  const ndjson = await download(page, '#export-ndjson');
  assertEveryIdOnce(ndjson.text.split('\n').filter((l) => l).map((l) => JSON.parse(l).id), N, 'resumed NDJSON export');

  const log = await (await fetch(`${api.url}/_log`)).json();
  const offsetOf = (e) => Number(new URL(e.path, api.url).searchParams.get('offset'));
  const pages = log.filter((e) => e.path.startsWith('/offset/items') && e.status === 200);
  const afterResume = log.slice(before).filter((e) => e.path.startsWith('/offset/items'));
  const refetched = afterResume.filter((e) => offsetOf(e) < saved).map(offsetOf);
  assert.deepEqual(refetched, [], 'no page handed out before the reload was fetched again');
  const answered = new Map();
  for (const e of pages) answered.set(offsetOf(e), (answered.get(offsetOf(e)) ?? 0) + 1);
  assert.equal(answered.size, N / 100, 'every page was fetched');
  const twice = [...answered].filter(([, n]) => n > 1).map(([o]) => o);
  // Only pages whose records the dashboard had not saved when the page
  // reloaded (in flight, waiting for an earlier one, or handed out by the
  // sweep since the last save) are fetched twice.
  assert.ok(twice.every((o) => o >= saved), `fetched twice: ${twice}`);
  // Their number is bounded by the pages in flight or waiting at the reload
  // and those handed out since the last save (a few hundred ms of them).
  assert.ok(twice.length <= N / 100 / 10, `fetched twice: ${twice.length} pages`);
  console.log(`# reload after ${saved} of ${N} records; resumed: ${afterResume.length} requests, none below offset ${saved}; ` +
    `${twice.length} pages not yet saved at the reload fetched again`);
  await ctx.close();
});

test('a sweep that failed midway is offered for resume after a reload, and resumes to every id once', async () => {
  const N = 20_000;
  const api = await server({ records: N, latencyMs: 20 });
  const oauth = (method) => fetch(`${api.url}/_oauth`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: method === 'POST' ? JSON.stringify({ clientId: 'dash', clientSecret: 'x', lifetimeMs: 60_000 }) : undefined,
  });
  const { ctx, page, logs } = await open(api.url);
  await page.click('#start');
  await page.waitForFunction(() => Number(document.querySelector('#row-count').dataset.count) >= 3000, null, { timeout: 60_000, polling: 50 });
  // The API starts to answer 401: the sweep fails, its rows and checkpoint saved.
  assert.ok((await oauth('POST')).ok);
  await waitState(page, ['failed'], 60_000, logs);
  await page.reload();
  await page.waitForSelector('#resume-prompt', { state: 'visible', timeout: 20_000 });
  await page.waitForFunction(() => !document.querySelector('#resume').disabled, null, { timeout: 20_000 });
  assert.ok((await oauth('DELETE')).ok);
  await page.click('#resume');
  await waitState(page, ['done'], 120_000, logs);
  assert.equal(await rowCount(page), N);
  const ndjson = await download(page, '#export-ndjson');
  assertEveryIdOnce(ndjson.text.split('\n').filter((l) => l).map((l) => JSON.parse(l).id), N, 'NDJSON export after resuming a failed sweep');
  await ctx.close();
});

describe('errors say which', () => {
  let demo;
  before(async () => {
    demo = await server({ records: 500 });
  });

  test('a wrong base URL: nothing answers', async () => {
    const { ctx, page, logs } = await open(demo.url);
    await connect(page, { baseUrl: `http://127.0.0.1:${await closedPort()}/` });
    await page.click('#start');
    await waitState(page, ['failed'], 60_000, logs);
    assert.equal(await page.getAttribute('#error', 'data-hint'), 'unreachable');
    assert.equal(await page.getAttribute('#error', 'data-kind'), 'transport');
    await ctx.close();
  });

  test('a wrong collection path: 404', async () => {
    const { ctx, page, logs } = await open(demo.url);
    await connect(page, { collection: 'no/such/items' });
    await page.click('#start');
    await waitState(page, ['failed'], 60_000, logs);
    assert.equal(await page.getAttribute('#error', 'data-hint'), 'not-found');
    assert.match(await page.textContent('#error'), /404/);
    await ctx.close();
  });

  test('401: check the credentials, and the token is nowhere on the page, in the console or in storage', async () => {
    const locked = await server({ records: 500 });
    const enable = await fetch(`${locked.url}/_oauth`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ clientId: 'dash', clientSecret: 'never-sent', lifetimeMs: 60_000 }),
    });
    assert.ok(enable.ok, `POST /_oauth: ${enable.status}`);
    const secret = 'tok-S3CRET-4711-do-not-show';
    const { ctx, page, logs } = await open(demo.url);
    await connect(page, { baseUrl: `${locked.url}/`, auth: { type: 'bearer', token: secret } });
    await page.click('#test-connection');
    await waitState(page, ['failed', 'idle'], 60_000, logs);
    await page.waitForSelector('#error:not([hidden])');
    assert.equal(await page.getAttribute('#error', 'data-hint'), 'auth');
    await page.click('#start');
    await waitState(page, ['failed'], 60_000, logs);
    assert.equal(await page.getAttribute('#error', 'data-hint'), 'auth');
    assert.match(await page.textContent('#error'), /401/);
    await assertSecretNowhere(page, ctx, logs, secret);
    await assertNoSeriousViolations(page, 'the error view');
    await ctx.close();
  });

  test('a server that refuses CORS: the error says so, not "network error"', async () => {
    const refusing = await server({ records: 500, extra: ['--no-cors'] });
    const { ctx, page, logs } = await open(demo.url);
    await connect(page, { baseUrl: `${refusing.url}/` });
    await page.click('#start');
    await waitState(page, ['failed'], 60_000, logs);
    assert.equal(await page.getAttribute('#error', 'data-hint'), 'cors');
    const text = await page.textContent('#error');
    assert.match(text, /CORS/);
    assert.ok(text.includes(demo.url), `names this page's origin: ${text}`);
    await ctx.close();
  });
});

test('a test connection to a server that does not answer can be stopped', async () => {
  const api = await server({ records: 100 });
  const hanging = await server({ records: 100, latencyMs: 20_000 });
  const { ctx, page, logs } = await open(api.url);
  await connect(page, { baseUrl: `${hanging.url}/` });
  await page.click('#test-connection');
  await waitState(page, ['testing'], 10_000, logs);
  assert.equal(await page.isDisabled('#start'), true, 'Start waits for the test');
  await page.click('#stop');
  await waitState(page, ['idle'], 10_000, logs);
  assert.equal(await page.isDisabled('#start'), false);
  assert.equal(await page.isDisabled('#test-connection'), false);
  assert.equal(await page.isHidden('#error'), true, 'a stop is not an error');
  await ctx.close();
});

test('fetch by ids: per-id results (found, 404) in the table and the exports', async () => {
  const api = await server({ records: 1000 });
  const { ctx, page, logs } = await open(api.url);
  await page.fill('#ids-input', '1\n2\n999999\n3\n\n7\n5000\n');
  await page.fill('#ids-template', 'items/{id}');
  await page.click('#fetch-ids');
  await waitState(page, ['done'], 60_000, logs);
  assert.equal(await rowCount(page), 6);
  const summary = await page.textContent('#ids-summary');
  assert.match(summary, /4\s*found/i, summary);
  assert.match(summary, /2\s*missing/i, summary);
  const json = await download(page, '#export-json');
  const rows = JSON.parse(json.text);
  assert.deepEqual(rows.map((r) => [String(r.id), r.result]), [
    ['1', 'found'], ['2', 'found'], ['999999', 'missing'], ['3', 'found'], ['7', 'found'], ['5000', 'missing'],
  ]);
  assert.equal(rows[0].record.id, 1);
  assert.equal(rows[2].status, 404);
  await page.screenshot({ path: join(shots, 'dashboard-ids.png') });
  await assertNoSeriousViolations(page, 'the ids results');
  await ctx.close();
});

/** The page's text, markup, console, and storage hold no `secret`. */
async function assertSecretNowhere(page, ctx, logs, secret) {
  const html = await page.evaluate(() => document.documentElement.outerHTML);
  assert.ok(!html.includes(secret), 'not in the markup');
  const text = await page.evaluate(() => document.body.innerText);
  assert.ok(!text.includes(secret), 'not in the text');
  assert.ok(!logs.some((l) => l.includes(secret)), 'not in the console');
  assert.ok(!page.url().includes(secret), 'not in the URL');
  const storage = await page.evaluate(async () => {
    const out = [JSON.stringify({ ...localStorage }), JSON.stringify({ ...sessionStorage })];
    const dbs = (await indexedDB.databases?.()) ?? [];
    for (const { name } of dbs) {
      const db = await new Promise((resolve, reject) => {
        const r = indexedDB.open(name);
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      for (const store of db.objectStoreNames) {
        const all = await new Promise((resolve, reject) => {
          const r = db.transaction(store).objectStore(store).getAll();
          r.onsuccess = () => resolve(r.result);
          r.onerror = () => reject(r.error);
        });
        out.push(JSON.stringify(all));
      }
      db.close();
    }
    return out.join('\n');
  });
  assert.ok(!storage.includes(secret), 'not in localStorage, sessionStorage or IndexedDB');
  void ctx;
}

async function assertNoSeriousViolations(page, where) {
  const violations = await axe(page);
  assert.deepEqual(violations, [], `axe-core, ${where}`);
}

/** RFC 4180 CSV: quoted fields with doubled quotes, CRLF or LF line ends. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else {
      field += c;
    }
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

// The npm package `pagewise` in headless Chromium, without a bundler: a
// static server serves the repository, test/browser/index.html imports
// ../../index.js with a plain module script and pulls collections from the
// Rust test API server (cross-origin, through its CORS headers).
//
//   npm run test:browser    (at the repository root; builds the test server)
//
// Uses the system Chromium (playwright-core downloads no browser):
// CHROMIUM_PATH overrides /usr/bin/chromium.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { launchChromium, range, requireBuiltPackage, startStaticServer, startTestServer } from './helpers.mjs';

requireBuiltPackage();

const N = 2345;

let api;
let slow;
let files;
let browser;
let page;
const logs = [];

before(async () => {
  api = await startTestServer({ records: N, latencyMs: 1 });
  slow = await startTestServer({ records: 50, latencyMs: 500 });
  files = await startStaticServer();
  browser = await launchChromium();
  page = await browser.newPage();
  page.setDefaultTimeout(30_000);
  page.on('console', (m) => logs.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.stack ?? e}`));
  page.on('requestfailed', (r) => logs.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`));
});

after(async () => {
  await browser?.close().catch(() => {});
  await files?.close().catch(() => {});
  await api?.close();
  await slow?.close();
});

test('the package runs in Chromium without a bundler', async () => {
  const url = `${files.url}/bindings/npm/test/browser/index.html?api=${encodeURIComponent(api.url)}&slow=${encodeURIComponent(slow.url)}`;
  const wasmResponses = [];
  page.on('response', (r) => {
    if (r.url().endsWith('.wasm')) wasmResponses.push({ status: r.status(), type: r.headers()['content-type'] });
  });
  await page.goto(url, { timeout: 15_000 });
  await page
    .waitForFunction(() => window.__result !== undefined, null, { timeout: 60_000 })
    .catch((e) => {
      throw new Error(`${e.message}\n${logs.join('\n')}`);
    });
  const result = await page.evaluate(() => window.__result);
  assert.ok(result.ok, `${result.error}\n${logs.join('\n')}`);

  // The wasm came as application/wasm, from next to index.js.
  assert.deepEqual(wasmResponses, [{ status: 200, type: 'application/wasm' }]);

  assert.deepEqual(result.ids, range(N), 'offset + X-Total-Count: ids 1..N in order');
  assert.equal(result.report.records, N);
  assert.equal(result.report.total, N);
  assert.equal(result.report.complete, true);
  assert.deepEqual(result.report.retries, { throttled: 0, serverError: 0, timeout: 0, transport: 0, badBody: 0 });
  assert.equal(result.report.throttledMs, 0);
  assert.equal(result.report.changedDuringSweep, false);
  // Asked for 16; an http: origin in a browser gets at most 6 (its connections).
  assert.deepEqual(result.pacingStats,
    { throttles: 0, throttledMs: 0, decreases: 0, increases: 0, concurrency: 6, learntRate: null, inFlight: 0 });
  assert.equal(result.progress.length, result.report.pages);
  assert.equal(result.progress.at(-1).retries, 0);
  assert.equal(result.progress.at(-1).records, N);
  assert.deepEqual(result.linkIds, range(N), 'Link header: ids 1..N in order');
  assert.deepEqual([...result.completionIds].sort((a, b) => a - b), range(N), 'completion order: every id once');
  assert.deepEqual(result.streamIds, range(25));
  assert.deepEqual(result.get.data.map((r) => r.id), [6, 7, 8]);

  const e = result.errors;
  for (const [kind, err] of Object.entries(e)) {
    assert.equal(err.isPagewiseError, true, `${kind}: ${JSON.stringify(err)}`);
    assert.equal(err.isError, true);
    assert.equal(err.name, 'PagewiseError');
    assert.equal(err.kind, kind, err.message);
  }
  assert.equal(e.status.status, 404);
  assert.ok(e.status.url.startsWith(`${api.url}/garbage/status/404/items`));
  assert.equal(e.decode.status, 200);
  assert.equal(e.decode.page, 0);
  assert.match(e.decode.excerpt, /Login required/);
  assert.ok(e.decode.url.startsWith(`${api.url}/garbage/html/items`));

  // The stream left early and the aborted get: their fetches were aborted
  // in flight (not left to finish), 500 ms before the server would answer.
  assert.equal(result.slowLastId, 1);
  assert.equal(result.abortedGet.kind, 'cancelled');
  assert.equal(result.abortedGet.isPagewiseError, true);
  const aborted = logs.filter((l) => l.startsWith(`requestfailed: ${slow.url}/`) && l.endsWith('net::ERR_ABORTED'));
  assert.equal(aborted.filter((l) => l.includes('/offset/items?')).length, 4, logs.join('\n'));
  assert.equal(aborted.filter((l) => l.includes('/items/1')).length, 1, logs.join('\n'));

  if (process.env.PAGEWISE_TEST_LOGS) console.log(logs.join("\n"));
  const text = await page.textContent('#out');
  assert.match(text, new RegExp(`^ok: ${N} records in 24 pages, complete: true`));
});

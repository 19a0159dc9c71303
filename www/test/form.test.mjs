// The dashboard's connection form (www/lib/form.js) in headless Chromium,
// against the test server: every dialect the server speaks, filled in as a
// user would, tests and sweeps every record; a reload fills the form back
// from the saved job; every preset builds options the npm package accepts;
// a field the options need is asked for before any request; the progress
// text is not a live region (it changes every tick).
//
//   npm run test:www    (at the repository root)

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { launchChromium, repoRoot, requireBuiltPackage, startTestServer } from '../../bindings/npm/test/helpers.mjs';

requireBuiltPackage();

const RECORDS = 500;
let browser;
let server;

before(async () => {
  browser = await launchChromium();
  server = await startTestServer({
    records: RECORDS,
    latencyMs: 1,
    extra: ['--www-dir', join(repoRoot, 'www'), '--npm-dir', join(repoRoot, 'bindings/npm'), '--vendor-dir', join(repoRoot, 'node_modules')],
  });
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.close().catch(() => {});
});

/** The dashboard in a fresh context (its own IndexedDB), once the worker answered. */
async function open() {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(10_000);
  const logs = [];
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.stack ?? e}`));
  page.on('console', (m) => { if (m.type() === 'error') logs.push(`console.error: ${m.text()}`); });
  await page.goto(`${server.url}/www/`);
  await ready(page);
  return { ctx, page, logs };
}

/** Waits until the worker said hello (the presets are listed). */
const ready = (page) => page.waitForFunction(() => document.querySelector('#preset').options.length > 1 && document.body.dataset.state !== 'testing');

async function waitState(page, states, logs) {
  try {
    await page.waitForFunction((s) => s.includes(document.body.dataset.state), states, { polling: 50 });
  } catch (e) {
    const error = await page.textContent('#error').catch(() => '');
    throw new Error(`waiting for ${states.join('|')}: ${e.message}\nerror view: ${error}\n${logs.join('\n')}`);
  }
}

/** `readConfig()` of the page's form module (the same instance main.js uses). */
const readConfig = (page) => page.evaluate(async () => (await import('./lib/form.js')).readConfig());

/**
 * The test server's dialects (tests/server/src/lib.rs) as a user fills them
 * in: the fields to select, fill and check, in the order of the form.
 */
const DIALECTS = {
  offset: { collection: 'offset/items', recordsAt: '/data', pagination: 'offset', total: ['header', 'X-Total-Count'],
    want: { type: 'offset', total: { header: 'X-Total-Count' } } },
  'offset, Content-Range total': { collection: 'range/items', recordsAt: '', pagination: 'offset', total: ['content-range'],
    want: { type: 'offset', total: { 'content-range': true } } },
  'offset with Range headers (PostgREST)': { collection: 'rest/v1/items', recordsAt: '', pagination: 'offset', check: ['offset-range'], total: ['content-range'], optional: true,
    want: { type: 'offset', total: { 'content-range': true, optional: true }, range: true } },
  page: { collection: 'page/items', recordsAt: '/results', pagination: 'page', fill: { 'page-param': 'page', 'size-param': 'per_page' }, total: ['pointer', '/total'],
    want: { type: 'page', total: { pointer: '/total' }, firstPage: 1, pageParam: 'page', sizeParam: 'per_page' } },
  'page from 0': { collection: 'page0/items', recordsAt: '/results', pagination: 'page', select: { 'first-page': '0' }, total: ['pointer', '/total'],
    want: { type: 'page', total: { pointer: '/total' }, firstPage: 0 } },
  'page without a total': { collection: 'page-nototal/items', recordsAt: '/results', pagination: 'page', total: ['none'],
    want: { type: 'page', firstPage: 1 } },
  'cursor from a pointer': { collection: 'cursor/items', recordsAt: '/items', pagination: 'cursor', fill: { 'cursor-from-value': '/next_cursor', 'cursor-param': 'cursor', 'cursor-limit-param': 'limit' }, total: ['none'],
    want: { type: 'cursor', from: { pointer: '/next_cursor' }, param: 'cursor', limitParam: 'limit' } },
  'cursor from a header': { collection: 'cursor-header/items', recordsAt: '', pagination: 'cursor', select: { 'cursor-from': 'header' }, fill: { 'cursor-from-value': 'X-Next-Cursor' }, total: ['none'],
    want: { type: 'cursor', from: { header: 'X-Next-Cursor' } } },
  'next link from a pointer': { collection: 'next/items', recordsAt: '/items', pagination: 'next', fill: { 'next-from-value': '/links/next' }, total: ['none'],
    want: { type: 'next', from: { pointer: '/links/next' } } },
  'next link from the Link header': { collection: 'link/items', recordsAt: '', pagination: 'next', select: { 'next-from': 'link' }, fill: { 'next-limit-param': 'per_page' }, total: ['none'],
    want: { type: 'next', from: 'link', limitParam: 'per_page' } },
  keyset: { collection: 'keyset/items', recordsAt: '/items', pagination: 'keyset', fill: { 'keyset-field': 'id', 'keyset-param': 'id_gt', 'keyset-value': '{value}' }, total: ['none'],
    want: { type: 'keyset', field: 'id', param: 'id_gt', value: '{value}' } },
};

/** Fills the custom dialect as a user does (the group folded open first). */
async function fillDialect(page, d) {
  await page.click('#dialect summary');
  await page.fill('#collection', d.collection);
  await page.fill('#records-at', d.recordsAt);
  await page.selectOption('#pagination-type', d.pagination);
  for (const [id, v] of Object.entries(d.select ?? {})) await page.selectOption(`#${id}`, v);
  for (const [id, v] of Object.entries(d.fill ?? {})) await page.fill(`#${id}`, v);
  for (const id of d.check ?? []) await page.check(`#${id}`);
  await page.selectOption('#total-type', d.total[0]);
  if (d.total[1]) await page.fill('#total-value', d.total[1]);
  if (d.optional) await page.check('#total-optional');
}

test('query parameters: sent with every page, kept across a reload, a line without = refused', async () => {
  const { ctx, page, logs } = await open();
  await page.fill('#query', 'updated_at_gte=2026-11-01T00:00:00Z\n\n');
  const config = await readConfig(page);
  assert.deepEqual(config.list.query, [['updated_at_gte', '2026-11-01T00:00:00Z']]);
  const expected = await (await fetch(`${server.url}/offset/items?offset=0&limit=1&updated_at_gte=2026-11-01T00:00:00Z`)).headers.get('x-total-count');
  assert.ok(Number(expected) > 0 && Number(expected) < RECORDS, `the filter selects some: ${expected}`);
  await page.click('#start');
  await waitState(page, ['done', 'failed'], logs);
  assert.equal(await page.isHidden('#error'), true, await page.textContent('#error'));
  const count = await page.evaluate(() => Number(document.querySelector('#row-count').dataset.count));
  assert.equal(count, Number(expected), 'only the records the filter selects');
  await page.reload();
  await ready(page);
  assert.equal(await page.inputValue('#query'), 'updated_at_gte=2026-11-01T00:00:00Z', 'filled back from the saved job');
  await page.fill('#query', 'active');
  await page.click('#start');
  await page.waitForFunction(() => document.querySelector('#form-message').textContent.includes('not name=value'));
  assert.equal(await page.evaluate(() => document.body.dataset.state), 'idle', 'nothing was sent');
  await ctx.close();
});

describe('the connection form', () => {
  test('every dialect of the test server, filled in as a user would: the options it builds, a test connection, a sweep of every record, and a reload that fills the form back', async () => {
    for (const [name, d] of Object.entries(DIALECTS)) {
      const { ctx, page, logs } = await open();
      await fillDialect(page, d);
      const config = await readConfig(page);
      assert.deepEqual(config.client.pagination, d.want, `${name}: pagination`);
      assert.equal(config.client.recordsAt, d.recordsAt, `${name}: recordsAt`);
      for (const [k, v] of Object.entries(config.client.pagination)) assert.notEqual(v, '', `${name}: ${k} sent as ''`);

      await page.click('#test-connection');
      await waitState(page, ['idle', 'failed'], logs);
      assert.equal(await page.isHidden('#error'), true, `${name}: test connection failed: ${await page.textContent('#error')}`);
      assert.match(await page.textContent('#test-result'), /Found 100 records on the first page/, name);

      await page.click('#start');
      await waitState(page, ['done', 'failed'], logs);
      assert.equal(await page.isHidden('#error'), true, `${name}: sweep failed: ${await page.textContent('#error')}`);
      const count = await page.evaluate(() => Number(document.querySelector('#row-count').dataset.count));
      assert.equal(count, RECORDS, `${name}: every record in the table`);

      // A reload fills the form from the saved job: the same options.
      await page.reload();
      await ready(page);
      await page.waitForFunction(() => !document.getElementById('export-ndjson').disabled);
      assert.deepEqual(await readConfig(page), config, `${name}: the form after a reload`);
      assert.deepEqual(logs, [], name);
      await ctx.close();
    }
  });

  test('a reload keeps what was left empty empty and what was set set (page size, concurrency, retries, pacing, a null size param)', async () => {
    const { ctx, page, logs } = await open();
    await page.click('#dialect summary');
    await page.click('#connect-form > details.group > summary');
    await page.fill('#collection', 'page/items');
    await page.fill('#records-at', '/results');
    await page.selectOption('#pagination-type', 'page');
    await page.fill('#size-param', 'none');
    await page.selectOption('#total-type', 'none');
    await page.fill('#page-size', '');
    await page.fill('#concurrency', '');
    await page.fill('#timeout-ms', '5000');
    await page.fill('#rate-per-second', '500');
    await page.fill('#rate-burst', '4');
    await page.uncheck('#pacing-adaptive');
    await page.fill('#max-retries', '1');
    await page.fill('#max-retry-after-ms', '1000');
    const config = await readConfig(page);
    assert.deepEqual(config.client.pagination, { type: 'page', firstPage: 1, sizeParam: null });
    assert.equal('pageSize' in config.client, false, 'an empty page size is left out');
    assert.equal('concurrency' in config.client, false, 'an empty concurrency is left out');
    assert.deepEqual(config.client.retry, { maxRetries: 1, maxRetryAfterMs: 1000 });
    assert.deepEqual(config.client.pacing, { adaptive: false, rateLimit: { perSecond: 500, burst: 4 } });
    await page.click('#start');
    await waitState(page, ['done', 'failed'], logs);
    assert.equal(await page.isHidden('#error'), true, await page.textContent('#error'));
    // No size param: the server's default page size (100) makes the pages.
    assert.equal(await page.evaluate(() => Number(document.querySelector('#row-count').dataset.count)), RECORDS);
    await page.reload();
    await ready(page);
    assert.deepEqual(await readConfig(page), config, 'the form after a reload');
    await ctx.close();
  });

  test('every preset, with its instance or base URL where it needs one, builds options the npm package accepts; PostgREST against the test server sweeps every record', async () => {
    const { ctx, page, logs } = await open();
    const presets = await page.evaluate(() => [...document.querySelector('#preset').options].map((o) => o.value).filter((v) => v !== 'custom'));
    assert.ok(presets.length >= 7, presets.join());
    for (const preset of presets) {
      await page.selectOption('#preset', preset);
      const needsInstance = await page.isVisible('#instance');
      const needsBase = await page.evaluate(() => document.getElementById('base-url').required);
      // Start with what is missing: the form says what, before any request.
      await page.evaluate(() => { document.getElementById('instance').value = ''; });
      if (needsInstance || needsBase) {
        await page.click('#test-connection');
        assert.match(await page.textContent('#form-message'), needsInstance ? /instance/ : /base URL/, preset);
        assert.equal(await page.evaluate(() => document.activeElement.id), needsInstance ? 'instance' : 'base-url', preset);
        assert.equal(await page.evaluate(() => document.body.dataset.state), 'idle', preset);
      }
      if (needsInstance) await page.fill('#instance', 'acme');
      if (needsBase) await page.fill('#base-url', `${server.url}/rest/v1/`);
      const config = await readConfig(page);
      const verdict = await page.evaluate(async (client) => {
        const m = await import('../npm/index.js');
        try { m.resolveOptions(client); new m.Client(client); return 'ok'; } catch (e) { return `${e.kind}: ${e.message}`; }
      }, config.client);
      assert.equal(verdict, 'ok', `preset ${preset}: ${JSON.stringify(config.client)}`);
    }
    await page.selectOption('#preset', 'postgrest');
    await page.fill('#base-url', `${server.url}/rest/v1/`);
    await page.fill('#collection', 'items');
    await page.click('#start');
    await waitState(page, ['done', 'failed'], logs);
    assert.equal(await page.isHidden('#error'), true, await page.textContent('#error'));
    assert.equal(await page.evaluate(() => Number(document.querySelector('#row-count').dataset.count)), RECORDS);
    await ctx.close();
  });

  test('a header left empty (cursor, next link, total) is asked for before any request, with the field focused', async () => {
    const { ctx, page, logs } = await open();
    const cases = [
      ['cursor', { 'cursor-from': 'header' }, 'cursor-from-value', /header the cursor/],
      ['next', { 'next-from': 'header' }, 'next-from-value', /header the next link/],
      ['offset', { 'total-type': 'pointer' }, 'total-value', /total's pointer/],
    ];
    for (const [pagination, selects, input, message] of cases) {
      await page.reload();
      await ready(page);
      await page.click('#dialect summary');
      await page.selectOption('#pagination-type', pagination);
      for (const [id, v] of Object.entries(selects)) await page.selectOption(`#${id}`, v);
      await page.fill(`#${input}`, '');
      await page.evaluate(() => { document.querySelector('#dialect details').open = false; });
      const requests = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.click('#test-connection');
      assert.match(await page.textContent('#form-message'), message);
      assert.equal(await page.evaluate(() => document.activeElement.id), input, 'the field to fill is focused (its group unfolded)');
      assert.deepEqual(requests, [], 'no request');
      await page.click('#start');
      assert.equal(await page.evaluate(() => document.body.dataset.state), 'idle');
    }
    // A header source's placeholder is a header, not a pointer.
    await page.evaluate(() => { document.querySelector('#dialect details').open = true; });
    await page.selectOption('#pagination-type', 'cursor');
    await page.selectOption('#cursor-from', 'header');
    assert.equal(await page.getAttribute('#cursor-from-value', 'placeholder'), 'X-Next-Cursor');
    assert.deepEqual(logs, []);
    await ctx.close();
  });
});

describe('accessibility of the form and the progress', () => {
  test('every control shown for each pagination and auth type has a label; the progress text is not live, and the live region speaks only at state changes', async () => {
    const { ctx, page, logs } = await open();
    await page.click('#dialect summary');
    await page.click('#connect-form > details.group > summary');
    const unlabelled = () => page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button, [tabindex]:not([tabindex="-1"])')]
      .filter((el) => el.getClientRects().length > 0)
      .filter((el) => {
        const byLabel = el.labels && [...el.labels].some((l) => l.textContent.trim());
        const byAria = el.getAttribute('aria-label') || (el.getAttribute('aria-labelledby') || '').split(/\s+/).some((id) => document.getElementById(id)?.textContent.trim());
        const byText = el.tagName === 'BUTTON' && el.textContent.trim();
        return !(byLabel || byAria || byText);
      })
      .map((el) => `${el.tagName.toLowerCase()}#${el.id}`));
    for (const pagination of ['offset', 'page', 'cursor', 'next', 'keyset']) {
      await page.selectOption('#pagination-type', pagination);
      for (const auth of ['none', 'bearer', 'basic', 'header']) {
        await page.selectOption('#auth-type', auth);
        assert.deepEqual(await unlabelled(), [], `${pagination}, ${auth}`);
      }
    }
    await page.selectOption('#auth-type', 'none');
    await page.selectOption('#pagination-type', 'offset');
    // No live region around the text a tick rewrites.
    assert.equal(await page.evaluate(() => document.getElementById('progress-text').closest('[aria-live]')), null);
    // A slow sweep (many ticks): the live region changes a few times only.
    await page.fill('#page-size', '10');
    await page.fill('#rate-per-second', '20');
    await page.fill('#rate-burst', '1');
    await page.evaluate(() => {
      window.__live = [];
      window.__ticks = 0;
      new MutationObserver(() => window.__live.push(document.getElementById('progress-live').textContent)).observe(document.getElementById('progress-live'), { childList: true, characterData: true, subtree: true });
      new MutationObserver(() => { window.__ticks += 1; }).observe(document.getElementById('progress-text'), { childList: true, characterData: true, subtree: true });
    });
    await page.click('#start');
    await waitState(page, ['done', 'failed'], logs);
    const { live, ticks } = await page.evaluate(() => ({ live: window.__live, ticks: window.__ticks }));
    assert.ok(ticks >= 5, `the progress text changed ${ticks} times`);
    assert.ok(live.length <= 3, `the live region spoke ${live.length} times: ${live.join(' | ')}`);
    assert.match(live.at(-1), /^Done: 500 records/);
    await ctx.close();
  });
});

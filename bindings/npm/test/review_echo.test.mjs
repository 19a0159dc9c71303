// Review (issue 19): natively a sweep compares the digests of pages'
// *records*; in Node the transport hands the core a digest of the whole
// *body*. A server whose pages start at 1 and that echoes the page asked
// for (`{"page":0,…}`, JSON:API `links.self`, …) is caught natively and
// not in npm: page 1's records are handed out twice and the last page's
// never, silently.
//
//   node --test bindings/npm/test/review_echo.test.mjs

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';

import { requireBuiltPackage, withTimeout } from './helpers.mjs';

requireBuiltPackage();
const { Client, PagewiseError } = await import('pagewise');

let server;
let base;
before(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const asked = Number(url.searchParams.get('page'));
    const page = Math.max(1, asked);
    const data = [];
    for (let i = (page - 1) * 10 + 1; i <= Math.min(page * 10, 100); i++) data.push({ id: i });
    res.writeHead(200, { 'content-type': 'application/json', 'x-total-count': '100' });
    res.end(JSON.stringify({ page: asked, data }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});
after(() => server.close());

test('page 0 served as page 1, with the page number echoed, is a duplicate error', async () => {
  const c = new Client({ baseUrl: `${base}/`, recordsAt: '/data', pageSize: 10, concurrency: 2,
    pagination: { type: 'page', firstPage: 0, total: { header: 'X-Total-Count' } } });
  let outcome;
  try {
    const { records, report } = await withTimeout(c.listWithReport('items'), 20_000, 'the sweep');
    const ids = records.map((r) => r.id);
    outcome = `no error: ${ids.length} records, ${new Set(ids).size} distinct, complete: ${report.complete}`;
  } catch (e) {
    assert.ok(e instanceof PagewiseError, String(e));
    outcome = e.kind;
  }
  assert.equal(outcome, 'duplicate');
});

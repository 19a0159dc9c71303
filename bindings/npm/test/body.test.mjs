// POST-body pagination (the list option `body`) through the wasm transport
// against the Rust test API server's endpoints that page in the request
// body: a search endpoint taking `{ from, size }` and a GraphQL endpoint
// taking `{ query, variables: { first, after } }`, with 5xx faults on some
// pages. A recording `fetch` checks what really goes out: the method, the
// body, `content-type: application/json`. The Rust clients run the same
// pulls in tests/body_pagination.rs.
//
//   npm run test:node       (at the repository root)

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';

import { requireBuiltPackage, startTestServer, withTimeout } from './helpers.mjs';

requireBuiltPackage();
const { Client } = await import('pagewise');

const N = 3000;
const PAGE = 100;
const QUERY =
  'query($first: Int!, $after: String) { items(first: $first, after: $after) { totalCount nodes { id name } pageInfo { endCursor hasNextPage } } }';
const retry = { baseDelayMs: 5, maxDelayMs: 50 };

let server;
before(async () => {
  server = await startTestServer({ records: N, latencyMs: 1 });
});
after(async () => {
  await server?.close();
});

// Every request the package hands to fetch: method, URL, content type, body.
let sent = [];
beforeEach(async () => {
  sent = [];
  await server.setFaults({ error_rate: 0.2 });
});
const recordingFetch = (input, init) => {
  const body = init.body == null ? null : new TextDecoder().decode(init.body);
  sent.push({ url: String(input), method: init.method, contentType: init.headers.get('content-type'), body });
  return fetch(input, init);
};

async function serverLog() {
  const resp = await withTimeout(fetch(`${server.url}/_log`), 5_000, '/_log');
  return resp.json();
}

function assertEveryRecordOnce(records) {
  const ids = records.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length, 'a record came twice');
  assert.equal(ids.length, N);
  assert.deepEqual([...ids].sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i + 1));
}

// What went out through fetch and what the server saw agree: POSTs with a
// JSON body; the 5xx answers were retried with the same body until a 200.
async function assertSent(path, report) {
  assert.ok(sent.length > 0);
  for (const s of sent) {
    assert.equal(s.method, 'POST', JSON.stringify(s));
    assert.equal(s.url, `${server.url}${path}`, 'the page parameters are not in the URL');
    assert.equal(s.contentType, 'application/json');
    assert.ok(s.body !== null, 'a body goes out');
  }
  const log = await serverLog();
  assert.equal(log.length, sent.length);
  const byBody = new Map();
  for (const e of log) {
    assert.equal(e.method, 'POST');
    assert.equal(e.content_type, 'application/json');
    if (!byBody.has(e.body)) byBody.set(e.body, []);
    byBody.get(e.body).push(e.status);
  }
  assert.deepEqual([...byBody.keys()].sort(), [...new Set(sent.map((s) => s.body))].sort());
  const failed = log.filter((e) => e.status >= 500).length;
  assert.ok(failed > 0, 'the faults hit no page');
  for (const [body, statuses] of byBody) {
    assert.equal(statuses.filter((s) => s === 200).length, 1, `${body}: ${statuses}`);
    assert.ok(statuses.every((s) => s === 200 || s >= 500), `${body}: ${statuses}`);
  }
  assert.equal(report.retries.serverError, failed, JSON.stringify(report.retries));
  return log.filter((e) => e.status === 200).map((e) => JSON.parse(e.body));
}

describe('POST-body pagination through fetch', () => {
  test('a search endpoint: from/size in the body, fanned out from the total', async () => {
    const client = new Client({
      baseUrl: `${server.url}/search/`,
      recordsAt: '/hits/hits',
      pagination: { type: 'offset', total: { pointer: '/hits/total' } },
      pageSize: PAGE,
      concurrency: 4,
      retry,
      fetch: recordingFetch,
    });
    const body = { query: { match_all: {} }, from: '{offset}', size: '{limit}' };
    const { records, report } = await client.listWithReport('items', { body });
    assertEveryRecordOnce(records);
    assert.equal(report.total, N);
    assert.equal(report.complete, true, JSON.stringify(report));
    assert.equal(report.pages, N / PAGE);

    const ok = await assertSent('/search/items', report);
    for (const b of ok) {
      assert.deepEqual(b.query, { match_all: {} });
      assert.equal(b.size, PAGE);
    }
    assert.deepEqual(
      ok.map((b) => b.from).sort((a, b) => a - b),
      Array.from({ length: N / PAGE }, (_, i) => i * PAGE),
    );
  });

  test('a GraphQL connection: the cursor in the variables, hasNextPage ends it', async () => {
    const client = new Client({
      baseUrl: `${server.url}/`,
      recordsAt: '/data/items/nodes',
      pagination: {
        type: 'cursor',
        from: { pointer: '/data/items/pageInfo/endCursor' },
        limitParam: null,
        more: '/data/items/pageInfo/hasNextPage',
        total: { pointer: '/data/items/totalCount' },
      },
      pageSize: PAGE,
      retry,
      fetch: recordingFetch,
    });
    const body = { query: QUERY, variables: { first: '{limit}', after: '{cursor}' } };
    const { records, report } = await client.listWithReport('graphql', { body });
    assertEveryRecordOnce(records);
    assert.equal(report.total, N);
    assert.equal(report.complete, true, JSON.stringify(report));

    const ok = await assertSent('/graphql', report);
    assert.equal(ok.length, N / PAGE, 'one request per page');
    assert.deepEqual(ok[0], { query: QUERY, variables: { first: PAGE, after: null } });
    const afters = ok.slice(1).map((b) => b.variables.after);
    assert.ok(afters.every((a) => typeof a === 'string'));
    assert.equal(new Set(afters).size, afters.length, 'each cursor once');
  });

  test('a bad GraphQL body is a 400 with the GraphQL error shape, not retried', async () => {
    await server.setFaults({});
    const client = new Client({
      baseUrl: `${server.url}/`,
      recordsAt: '/data/items/nodes',
      pagination: { type: 'cursor', from: { pointer: '/data/items/pageInfo/endCursor' }, limitParam: null },
      retry,
      fetch: recordingFetch,
    });
    const body = { query: QUERY, variables: { first: 0, after: '{cursor}' } };
    await assert.rejects(client.list('graphql', { body }), (e) => {
      assert.equal(e.status, 400, String(e));
      return true;
    });
    assert.equal(sent.length, 1);
    const resp = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"variables":{}}',
    });
    assert.equal(resp.status, 400);
    const answer = await resp.json();
    assert.equal(typeof answer.errors[0].message, 'string');
  });
});

// Every preset of the npm package against the Rust test API server's wire
// format of its API family (tests/server/FAMILIES.md): a pull of every
// record, a delta sync, id lookups, and the batch writes of Salesforce
// (composite sObject collections) and PostgREST (bulk insert, upsert).
// The Rust clients run the same cases in tests/preset_apis.rs.
//
//   npm run test:node       (at the repository root)

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';

import { requireBuiltPackage, startTestServer, withTimeout } from './helpers.mjs';

requireBuiltPackage();
const { Client } = await import('pagewise');

const N = 2500;
const SOQL = 'SELECT Id, Name, SystemModstamp FROM Account';

// preset, base under the server, collection, query, id pointer, watermark
// field and a value before every record, whether updates show in a delta
// (Stripe filters on `created`), whether the report knows the total, the
// path of one record, a well-formed id of no record.
const CASES = [
  { preset: 'servicenow', base: '/api/now/table/', path: 'incident', query: { sysparm_query: 'ORDERBYsys_id' }, id: 'sys_id', field: 'sys_updated_on', epoch: '1970-01-01 00:00:00', updates: true, total: true, one: 'incident/{id}', missing: 'ffffffffffffffffffffffffffffffff' },
  { preset: 'salesforce', base: '/services/data/v60.0/', path: 'query', query: { q: SOQL }, id: 'Id', field: 'SystemModstamp', epoch: '1970-01-01T00:00:00.000+0000', updates: true, total: true, one: 'sobjects/Account/{id}', missing: '001000000000000AAA' },
  { preset: 'github', base: '/', path: 'repos/acme/widgets/issues', query: { state: 'all' }, id: 'number', field: 'updated_at', epoch: '1970-01-01T00:00:00Z', updates: true, total: false, one: 'repos/acme/widgets/issues/{id}', missing: '999999' },
  { preset: 'jsonapi', base: '/jsonapi/', path: 'articles', query: {}, id: 'id', field: '/attributes/updated_at', epoch: '1970-01-01T00:00:00Z', updates: true, total: true, one: 'articles/{id}', missing: '999999' },
  { preset: 'jsonapi-page', base: '/jsonapi/', path: 'articles', query: {}, id: 'id', field: '/attributes/updated_at', epoch: '1970-01-01T00:00:00Z', updates: true, total: true, one: 'articles/{id}', missing: '999999' },
  { preset: 'postgrest', base: '/rest/v1/', path: 'items', query: {}, id: 'id', field: 'updated_at', epoch: '1970-01-01T00:00:00Z', updates: true, total: true, one: 'items/{id}', missing: '999999' },
  { preset: 'stripe', base: '/v1/', path: 'customers', query: {}, id: 'id', field: 'created', epoch: '0', updates: false, total: false, one: 'customers/{id}', missing: 'cus_ZZZZZZZZZZZZZZ' },
];

const idOf = (r, c) => String(r[c.id]);

// A server per test: the writes of one must not show in another.
let server;
beforeEach(async () => {
  server = await startTestServer({
    records: N,
    latencyMs: 1,
    extra: ['--servicenow-max-limit', '200', '--jsonapi-max-page-size', '50', '--postgrest-max-rows', '250'],
  });
});
afterEach(async () => {
  await server?.close();
});

const client = (c) => new Client({ preset: c.preset, baseUrl: `${server.url}${c.base}`, concurrency: 8 });

async function post(path, body) {
  const resp = await withTimeout(
    fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }),
    5_000,
    path,
  );
  assert.ok(resp.ok, `${path}: ${resp.status}`);
  return resp.status === 204 ? null : resp.json();
}

describe('presets against their API family', () => {
  for (const c of CASES) {
    test(`${c.preset}: every record once, then only what changed, then by id`, async () => {
      const api = client(c);
      const { records, report } = await api.listWithReport(c.path, { query: c.query });
      const ids = new Set(records.map((r) => idOf(r, c)));
      assert.equal(records.length, N, `${c.preset}: ${JSON.stringify(report)}`);
      assert.equal(ids.size, records.length, `${c.preset}: a record came twice`);
      assert.ok(report.pages > 1);
      if (c.total) assert.equal(report.complete, true, JSON.stringify(report));

      // Delta: everything, then nothing, then the changed records only.
      const since = { field: c.field, value: c.epoch, ids: [] };
      const first = await api.listWithReport(c.path, { query: c.query, since });
      assert.equal(first.records.length, records.length);
      const mark = first.report.watermark;
      assert.ok(mark, 'a delta sync reports its watermark');
      assert.deepEqual(await api.list(c.path, { query: c.query, since: mark }), []);
      const touched = Array.from({ length: 20 }, (_, i) => 1 + i * 97);
      await post('/_touch', JSON.stringify(touched));
      const inserted = await post('/_insert?n=5', '');
      const changed = await api.list(c.path, { query: c.query, since: mark });
      assert.equal(changed.length, inserted.length + (c.updates ? touched.length : 0), c.preset);
      assert.equal(new Set(changed.map((r) => idOf(r, c))).size, changed.length);

      // Lookups: ServiceNow, JSON:API and PostgREST in batches (their
      // presets' `lookup`), the others one GET per id.
      const wanted = records.filter((_, i) => i % 211 === 0).map((r) => idOf(r, c));
      wanted.splice(2, 0, c.missing);
      const results = await api.fetchMany(c.one, wanted);
      assert.equal(results.length, wanted.length);
      for (const r of results) {
        if (r.id === c.missing) {
          assert.equal(r.error?.status, 404, `${c.preset}: ${r.error}`);
        } else {
          assert.ok(r.record, `${c.preset} ${r.id}: ${r.error}`);
          assert.equal(idOf(r.record, c), r.id);
        }
      }
    });
  }
});

describe('batch writes of the presets', () => {
  test('salesforce: composite sObject collections, 200 a request, per-record results', async () => {
    const c = CASES.find((x) => x.preset === 'salesforce');
    const api = client(c);
    const before = (await api.list(c.path, { query: c.query })).length;
    const rows = Array.from({ length: 450 }, (_, i) => ({ Name: `new ${i}`, reject: i === 7 }));
    const out = await api.insertMany('Account', rows);
    assert.equal(out.length, 450);
    const failed = out.filter((o) => !o.ok);
    assert.deepEqual(failed.map((o) => o.index), [7]);
    assert.match(String(failed[0].error), /FIELD_CUSTOM_VALIDATION_EXCEPTION/);
    const ids = out.filter((o) => o.ok).map((o) => o.id);
    assert.equal((await api.list(c.path, { query: c.query })).length, before + 449);
    const del = await api.deleteMany('Account', ids.slice(0, 100).map((Id) => ({ Id })));
    assert.ok(del.every((o) => o.ok), JSON.stringify(del.find((o) => !o.ok)));
    assert.equal((await api.list(c.path, { query: c.query })).length, before + 349);
  });

  test('postgrest: bulk insert all or nothing, upsert merges', async () => {
    const c = CASES.find((x) => x.preset === 'postgrest');
    const api = client(c);
    const rows = Array.from({ length: 600 }, (_, i) => ({ id: 200_000 + i, name: `row ${i}` }));
    const out = await api.insertMany('items', rows);
    assert.ok(out.every((o) => o.ok), JSON.stringify(out.find((o) => !o.ok)));
    const again = await api.insertMany('items', rows.slice(0, 10));
    assert.ok(again.every((o) => !o.ok && o.error.status === 409), JSON.stringify(again[0]));
    const up = await api.upsertMany('items', rows.slice(0, 10).map((r) => ({ id: r.id, name: 'merged' })));
    assert.ok(up.every((o) => o.ok), JSON.stringify(up.find((o) => !o.ok)));
    const [row] = await api.list('items', { query: { id: 'eq.200000' } });
    assert.equal(row.name, 'merged');
  });
});

describe('salesforce API usage', () => {
  test('Sforce-Limit-Info: the latest usage in the report, a notice once at 90%', async () => {
    // 13 query pages of 200 against a daily limit of 12: 90% at the 11th answer.
    const limited = await startTestServer({ records: N, latencyMs: 1, extra: ['--salesforce-api-limit', '12'] });
    try {
      const api = new Client({
        preset: 'salesforce',
        baseUrl: `${limited.url}/services/data/v60.0/`,
        headers: { 'Sforce-Query-Options': 'batchSize=200' },
      });
      const { records, report } = await api.listWithReport('query', { query: { q: SOQL } });
      assert.equal(records.length, N);
      assert.equal(report.pages, 13);
      assert.deepEqual(report.apiUsage, { used: 13, limit: 12 });
      assert.deepEqual(report.notices, [{ type: 'apiUsageHigh', used: 11, limit: 12 }]);
      assert.equal(report.complete, true);
      assert.equal(report.changedDuringSweep, false);
    } finally {
      await limited.close();
    }

    // The default limit: the usage, no notice; other families announce none.
    const sf = new Client({ preset: 'salesforce', baseUrl: `${server.url}/services/data/v60.0/` });
    const first = await sf.listWithReport('query', { query: { q: SOQL } });
    assert.deepEqual(first.report.apiUsage, { used: first.report.requests, limit: 15000 });
    assert.deepEqual(first.report.notices, []);
    const sn = new Client({ preset: 'servicenow', baseUrl: `${server.url}/api/now/table/` });
    const { report } = await sn.listWithReport('incident');
    assert.equal(report.apiUsage, null);
  });
});

// Review: the per-request timeout holds even when the `fetch` in use does
// not heed the request's AbortSignal (a mock, or an `options.fetch` wrapper
// that drops `signal`): the request is given up on, as a timeout.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requireBuiltPackage, withTimeout } from './helpers.mjs';

requireBuiltPackage();
const { Client } = await import('pagewise');

test('a fetch that ignores the abort signal still times out', async () => {
  const realFetch = globalThis.fetch;
  globalThis.fetch = () => new Promise(() => {});
  try {
    const c = new Client({ baseUrl: 'http://api.invalid/', timeoutMs: 300, retry: { maxRetries: 0 } });
    const err = await withTimeout(c.get('x').then(() => null, (e) => e), 5_000, 'the get');
    assert.equal(err?.kind, 'timeout', String(err));
  } finally {
    globalThis.fetch = realFetch;
  }
  const wrapped = new Client({
    baseUrl: 'http://api.invalid/',
    timeoutMs: 300,
    retry: { maxRetries: 0 },
    fetch: () => new Promise(() => {}),
  });
  const err = await withTimeout(wrapped.get('x').then(() => null, (e) => e), 5_000, 'the get over options.fetch');
  assert.equal(err?.kind, 'timeout', String(err));
});

// Review: the body of an answer must be bounded (SECURITY.md §3: "A page
// body is at most 256 MiB (decoded, natively and in Node)"). A fetch whose
// body never ends is read here by a stubbed globalThis.fetch; the transport
// must stop reading at the limit with a transport error.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requireBuiltPackage, withTimeout } from './helpers.mjs';

requireBuiltPackage();
const { Client } = await import('pagewise');

test('a body larger than 256 MiB is refused, not read whole', async () => {
  const LIMIT = 256 * 1024 * 1024;
  const STOP = 320 * 1024 * 1024;
  const chunk = new Uint8Array(1 << 20).fill(0x20);
  let pulled = 0;
  const realFetch = globalThis.fetch;
  globalThis.fetch = () => Promise.resolve(new Response(new ReadableStream({
    pull(c) {
      if (pulled >= STOP) { c.close(); return; }
      pulled += chunk.length;
      c.enqueue(chunk);
    },
  }), { headers: { 'content-type': 'application/json' } }));
  try {
    const c = new Client({ baseUrl: 'http://api.invalid/', retry: { maxRetries: 0 } });
    const err = await withTimeout(c.get('x').then(() => null, (e) => e), 60_000, 'the get');
    assert.ok(err, 'an error');
    assert.ok(pulled <= LIMIT + (8 << 20), `read ${pulled / 1048576} MiB of a body over the limit; error: ${err.kind}: ${err.message}`);
  } finally {
    globalThis.fetch = realFetch;
  }
});

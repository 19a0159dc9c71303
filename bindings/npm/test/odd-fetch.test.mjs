// A fetch mock or polyfill that answers oddly is a transport error, never a
// crash of the module (and of Node with it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../index.js';

const cases = [
  ['resolves to a plain object', async () => ({ status: 200, headers: new Headers(), arrayBuffer: async () => new ArrayBuffer(2) })],
  ['resolves to undefined', async () => undefined],
  ['rejects with a string', async () => { throw 'nope'; }],
  ['rejects with a plain object', async () => { throw { code: 1 }; }],
  ['throws synchronously', () => { throw new TypeError('sync'); }],
];

for (const [name, fake] of cases) {
  test(`a global fetch that ${name} is a transport error`, async () => {
    const real = globalThis.fetch;
    globalThis.fetch = fake;
    try {
      const client = new Client({ baseUrl: 'http://api.invalid/', retry: { maxRetries: 0 } });
      await assert.rejects(client.get('x'), (e) => {
        assert.equal(e.name, 'PagewiseError');
        assert.equal(e.kind, 'transport');
        return true;
      });
      // The module still works afterwards.
      await assert.rejects(client.get('y'), (e) => e.kind === 'transport');
    } finally {
      globalThis.fetch = real;
    }
  });
}

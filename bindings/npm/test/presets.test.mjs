// Preset resolution in the npm package, over the fixture tests/presets.rs
// reads too: the same options resolve to the same options on both faces
// (one Rust function, `pagewise::core::preset::resolve`, behind both).
//
//   node --test bindings/npm/test/presets.test.mjs

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { repoRoot, requireBuiltPackage } from './helpers.mjs';

requireBuiltPackage();
const { Client, PagewiseError, PRESETS, resolveOptions } = await import('pagewise');

const fixture = JSON.parse(readFileSync(join(repoRoot, 'tests/fixtures/presets.json'), 'utf8'));

for (const c of fixture.cases) {
  test(`resolveOptions: ${c.name}`, () => {
    if (c.error) {
      assert.throws(
        () => resolveOptions(c.options),
        (e) => e instanceof PagewiseError && e.kind === 'config' && e.message.includes(c.error),
      );
    } else {
      assert.deepEqual(resolveOptions(c.options), c.resolved);
    }
  });
}

test('new Client names the unknown preset and the missing parameter', () => {
  assert.throws(
    () => new Client({ preset: 'servicenw' }),
    (e) => e instanceof PagewiseError && e.kind === 'config' && /unknown preset "servicenw" \(known: servicenow,/.test(e.message),
  );
  assert.throws(
    () => new Client({ preset: 'servicenow' }),
    (e) => e.kind === 'config' && e.message.includes('options.instance is missing'),
  );
});

test('PRESETS lists every preset the Rust side knows', () => {
  for (const name of PRESETS) {
    const options = { preset: name };
    if (['servicenow', 'salesforce'].includes(name)) options.instance = 'acme';
    if (['jsonapi', 'jsonapi-page', 'postgrest'].includes(name)) options.baseUrl = 'https://h.example/';
    assert.equal(typeof resolveOptions(options).baseUrl, 'string', name);
  }
  assert.equal(PRESETS.length, 7);
});

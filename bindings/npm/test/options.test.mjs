// Every option of the Rust builders is accepted by the npm package: each npm
// name of bindings/options.json (which tests/options_parity.rs checks
// against the Rust sources) is passed to the package in the options object
// its section names, and must not be an unknown option. A made-up name in
// each of those objects must be one: the check can fail.
//
//   node --test bindings/npm/test/options.test.mjs

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { repoRoot, requireBuiltPackage } from './helpers.mjs';

requireBuiltPackage();
const { Client, PagewiseError } = await import('pagewise');

const mapping = JSON.parse(readFileSync(join(repoRoot, 'bindings/options.json'), 'utf8'));

/** A value no option takes: every reader answers "must be ...", never "unknown". */
const PROBE = Symbol('probe');
/** Nothing listens here; with no retries a request that goes out fails at once. */
const BASE = 'http://127.0.0.1:9/';

/** The npm names of a mapping entry. */
function npmNames(entry) {
  if (typeof entry === 'string') return [entry];
  if (Array.isArray(entry)) return entry;
  if (entry.rustOnly) return [];
  return Array.isArray(entry.npm) ? entry.npm : [entry.npm];
}

/** Calls the package with `value` at `scope` (`client`, `list.x`, `write.batch`, ...). */
async function call(scope, value) {
  const [where, ...inner] = scope.split('.');
  let options = value;
  for (const key of inner.reverse()) options = { [key]: options };
  const client = () => new Client({ baseUrl: BASE, retry: { maxRetries: 0 } });
  switch (where) {
    case 'client':
      return new Client({ baseUrl: BASE, ...options });
    case 'list':
      return client().list('items', options);
    case 'fetchMany':
      return client().fetchMany('items/{id}', ['1'], options);
    case 'write':
      return client().insertMany('items', [{}], options);
    default:
      throw new Error(`unknown scope ${scope} in bindings/options.json`);
  }
}

/** The error of `call`, or `null` when it succeeded (or failed on the network). */
async function configError(scope, value) {
  try {
    await call(scope, value);
    return null;
  } catch (e) {
    assert.ok(e instanceof PagewiseError, `${scope}: not a PagewiseError: ${e?.stack ?? e}`);
    return e.kind === 'config' ? e : null;
  }
}

const sections = Object.entries(mapping.sections);

test('the mapping covers every options object of the package', () => {
  const scopes = new Set(sections.map(([, s]) => s.npm));
  for (const scope of ['client', 'list', 'fetchMany', 'write', 'fetchMany.batch', 'write.batch']) {
    assert.ok(scopes.has(scope), scope);
  }
});

for (const [name, section] of sections) {
  test(`${name}: every option is accepted at ${section.npm}`, async () => {
    const fixed = section.fixed ?? {};
    const control = await configError(section.npm, { ...fixed, notAnOption: PROBE });
    assert.match(control?.message ?? '', /unknown option "notAnOption"/, `${name}: the control`);
    for (const [rust, entry] of Object.entries(section.options)) {
      for (const npm of npmNames(entry)) {
        const e = await configError(section.npm, { ...fixed, ...entry.fixed, [npm]: PROBE });
        assert.doesNotMatch(e?.message ?? '', /unknown option/, `${name}::${rust} as ${section.npm}.${npm}`);
      }
    }
  });
}

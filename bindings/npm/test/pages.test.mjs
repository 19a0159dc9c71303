// Unit tests of the transport's JavaScript (src/transport/fetch/pages.js),
// loaded straight from the source, without the WebAssembly module: the
// JSON.parse fast path (skeleton, digest) and the bookkeeping of requests
// (begin, read, cancel, pages held back for page order).
//
//   node --test bindings/npm/test/pages.test.mjs

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { repoRoot } from './helpers.mjs';

const pages = await import(new URL('src/transport/fetch/pages.js', `file://${repoRoot}`).href);
const {
  pagewiseSkeleton, pagewiseDigest, pagewiseBegin, pagewiseRead, pagewiseDeferred, pagewiseCancel,
  pagewiseHeld, pagewiseRelease, pagewiseHeldCount, pagewiseLiveCount, pagewiseInNode,
} = pages;

const utf8 = (text) => new TextEncoder().encode(text);
const response = (body, status = 200, headers = { 'content-type': 'application/json' }) => new Response(body, { status, headers });

test('the skeleton: the records array replaced by its indexes, everything else as written', () => {
  assert.deepEqual(pagewiseSkeleton(utf8('[{"id":1},{"id":2}]'), ''), ['[0,1]', [{ id: 1 }, { id: 2 }]]);
  const [text, records] = pagewiseSkeleton(utf8('{"meta":{"total":3,"next":"a/b"},"data":[{"id":1},{"id":2},{"id":3}]}'), '/data');
  assert.equal(text, '{"meta":{"total":3,"next":"a/b"},"data":[0,1,2]}');
  assert.deepEqual(records.map((r) => r.id), [1, 2, 3]);
  // JSON pointer escapes, arrays along the way.
  assert.equal(pagewiseSkeleton(utf8('{"a/b":{"~c":[[{"x":1}]]}}'), '/a~1b/~0c/0')[0], '{"a/b":{"~c":[[0]]}}');
  assert.equal(pagewiseSkeleton(utf8('{"data":[]}'), '/data')[0], '{"data":[]}');
});

test('bodies the core must read itself give undefined', () => {
  const cases = [
    ['not json', '/data'],
    ['{"data":{"id":1}}', '/data'],
    ['{"items":[]}', '/data'],
    // A number that would not survive the round trip (a cursor, a total).
    ['{"total":12345678901234567890,"data":[]}', '/data'],
    ['{"total":1.5,"data":[]}', '/data'],
  ];
  for (const [body, pointer] of cases) assert.equal(pagewiseSkeleton(utf8(body), pointer), undefined, body);
  // Not UTF-8.
  assert.equal(pagewiseSkeleton(new Uint8Array([0x5b, 0xff, 0x5d]), ''), undefined);
  // A large id inside a record is the record's own business: read as parsed.
  assert.notEqual(pagewiseSkeleton(utf8('{"data":[{"id":12345678901234567890}]}'), '/data'), undefined);
});

test('the digest: the same records digest alike, other records or counts not', () => {
  const a = Array.from({ length: 50 }, (_, i) => ({ id: i, name: `r${i}` }));
  const b = a.map((r) => ({ ...r }));
  assert.deepEqual(pagewiseDigest(a), pagewiseDigest(b));
  b[25].name = 'changed';
  assert.notDeepEqual(pagewiseDigest(a), pagewiseDigest(b));
  assert.notDeepEqual(pagewiseDigest(a), pagewiseDigest(a.slice(1)));
  const [h1, h2] = pagewiseDigest([]);
  assert.ok(Number.isInteger(h1) && h1 >= 0 && h2 >= 0 && h2 < 2 ** 32);
});

test('an answer read whole: status, headers as lines, bytes; a parsed page held until released', async () => {
  assert.equal(pagewiseInNode(), true);
  pagewiseBegin(1, new AbortController(), 1000, undefined, undefined);
  const out = await pagewiseRead(response('{"ok":true}', 201, { 'x-a': '1' }), 1, undefined);
  assert.equal(out[0], 201);
  assert.ok(out[1].split('\n').includes('x-a,1'), out[1]);
  assert.equal(new TextDecoder().decode(out[2]), '{"ok":true}');

  pagewiseBegin(2, new AbortController(), -1, undefined, undefined);
  const page = await pagewiseRead(response('{"data":[{"id":1},{"id":2}]}'), 2, '/data');
  // [status, headers, body length, skeleton, id, digest, digest]
  assert.equal(page[0], 200);
  assert.equal(page[2], 28);
  assert.equal(page[3], '{"data":[0,1]}');
  assert.equal(page[4], 2);
  assert.deepEqual(pagewiseHeld(2), [{ id: 1 }, { id: 2 }]);
  pagewiseRelease(2);
  assert.equal(pagewiseHeld(2), undefined);
  // A page that is not 2xx is not parsed.
  pagewiseBegin(3, new AbortController(), -1, undefined, undefined);
  const error = await pagewiseRead(response('{"data":[]}', 503), 3, '/data');
  assert.equal(error.length, 3);
  assert.equal(pagewiseLiveCount(), 0);
  assert.equal(pagewiseHeldCount(), 0);
});

test('the timer aborts the request\'s controller; settling or cancelling clears it', async () => {
  const late = new AbortController();
  pagewiseBegin(10, late, 20, undefined, undefined);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(late.signal.aborted, true);
  pagewiseCancel(10);
  const settled = new AbortController();
  pagewiseBegin(11, settled, 20, undefined, undefined);
  await pagewiseRead(response('[]'), 11, undefined);
  const cancelled = new AbortController();
  pagewiseBegin(12, cancelled, 20, undefined, undefined);
  pagewiseCancel(12);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(settled.signal.aborted, false);
  assert.equal(cancelled.signal.aborted, false);
  assert.equal(pagewiseLiveCount(), 0);
});

test('a body that cannot be read is [0, error]; an answer to a request cancelled meanwhile is not held', async () => {
  const broken = new ReadableStream({ pull(c) { c.error(new TypeError('terminated')); } });
  pagewiseBegin(20, new AbortController(), -1, undefined, undefined);
  const out = await pagewiseRead(new Response(broken), 20, '/data');
  assert.equal(out[0], 0);
  assert.match(String(out[1]), /terminated/);

  pagewiseBegin(21, new AbortController(), -1, undefined, undefined);
  const reading = pagewiseRead(response('{"data":[{"id":1}]}'), 21, '/data');
  pagewiseCancel(21);
  assert.equal((await reading)[0], 0);
  assert.equal(pagewiseHeld(21), undefined);
  assert.equal(pagewiseLiveCount(), 0);
});

test('pages of a sweep in page order: one that comes in early waits, unparsed, for the one before', async () => {
  const group = 7;
  pagewiseBegin(31, new AbortController(), -1, group, 1);
  pagewiseBegin(32, new AbortController(), -1, group, 2);
  // Page 2 comes in first: in, not parsed ([-1, status, headers]: the
  // headers for the pacer, a rate-limit budget, say).
  const second = await pagewiseRead(response('{"data":[{"id":2}]}'), 32, '/data');
  assert.deepEqual(second, [-1, 200, 'content-type,application/json\n']);
  const secondParsed = pagewiseDeferred(32);
  let parsed2 = false;
  secondParsed.then(() => { parsed2 = true; });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(parsed2, false, 'page 2 waits for page 1');
  const first = await pagewiseRead(response('{"data":[{"id":1}]}'), 31, '/data');
  assert.deepEqual(first, [-1, 200, 'content-type,application/json\n']);
  const one = await pagewiseDeferred(31);
  assert.equal(one[3], '{"data":[0]}');
  const two = await secondParsed;
  assert.equal(two[3], '{"data":[0]}');
  assert.deepEqual(pagewiseHeld(32), [{ id: 2 }]);
  pagewiseRelease(31);
  pagewiseRelease(32);

  // Dropped while it waits: forgotten, and the sweep's later pages go on.
  pagewiseBegin(41, new AbortController(), -1, group, 1);
  pagewiseBegin(42, new AbortController(), -1, group, 2);
  assert.deepEqual(await pagewiseRead(response('{"data":[{"id":2}]}'), 42, '/data'), [-1, 200, 'content-type,application/json\n']);
  pagewiseCancel(42);
  pagewiseCancel(41);
  assert.deepEqual(await pagewiseDeferred(42), [0, new Error('the answer was dropped')]);
  assert.equal(pagewiseLiveCount(), 0);
  assert.equal(pagewiseHeldCount(), 0);
});

// The JavaScript half of the wasm32 transport (src/transport/fetch/mod.rs).
//
// The request itself is made on the Rust side, through the global `fetch`
// (looked up at each call; or the caller's
// `options.fetch`): fetch mocks and instrumentation see every request. What
// is here is what is cheaper done where the answer is: reading the answer's
// headers into one string and its body once, and, for a page of a sweep of
// `FetchTransport::with_parsed_pages`, reading its records with `JSON.parse`
// (the core gets a skeleton of the body), in page order.
//
// Every request has an id the Rust side gives it: `pagewiseBegin` when it
// starts (its timeout's timer, its place in its sweep), `pagewiseRead` once
// its `Response` is in, `pagewiseCancel` if it ends any other way (failed,
// timed out, dropped).

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const held = new Map();
const SENTINEL = `\u0000pagewise-records-${Math.random().toString(36).slice(2)}`;
let indexCount = -1;
let indexText = '';

/** Node (not Bun or Deno): there a redirect is asked for as an answer (`redirect: 'manual'`). */
export const inNode = typeof process === 'object' && process !== null && typeof process.versions === 'object'
  && typeof process.versions.node === 'string' && process.versions.bun === undefined
  && typeof globalThis.Deno === 'undefined';
export function pagewiseInNode() { return inNode; }

function exact(v, skip) {
  if (typeof v === 'number') return Number.isSafeInteger(v);
  if (v === null || typeof v !== 'object' || v === skip) return true;
  if (Array.isArray(v)) return v.every((x) => exact(x, skip));
  for (const k in v) if (!exact(v[k], skip)) return false;
  return true;
}

function skeleton(buffer, pointer) {
  const root = JSON.parse(decoder.decode(buffer));
  let parent;
  let key;
  let records = root;
  if (pointer !== '') {
    for (const raw of pointer.slice(1).split('/')) {
      const t = raw.replaceAll('~1', '/').replaceAll('~0', '~');
      let next;
      if (Array.isArray(records)) {
        if (/^\+?[0-9]+$/.test(t)) next = records[Number(t)];
      } else if (records !== null && typeof records === 'object' && Object.hasOwn(records, t)) {
        next = records[t];
      }
      if (next === undefined) return undefined;
      parent = records;
      key = t;
      records = next;
    }
  }
  if (!Array.isArray(records)) return undefined;
  const n = records.length;
  if (n !== indexCount) {
    indexText = Array.from({ length: n }, (_, i) => i).join(',');
    indexCount = n;
  }
  let text = `[${indexText}]`;
  if (parent !== undefined) {
    if (!exact(root, records)) return undefined;
    parent[key] = SENTINEL;
    text = JSON.stringify(root).replace(JSON.stringify(SENTINEL), text);
  }
  return [text, records];
}

/**
 * A page's body (`buffer`, UTF-8 bytes) read by `JSON.parse`: `[skeleton,
 * records]`, the skeleton being the body's JSON text with the array at
 * `pointer` (a JSON pointer) replaced by its indexes (`[0,1,...]`). A body
 * that is not UTF-8, not JSON, has no array at the pointer (or anything
 * else that throws, such as nesting too deep to write back) gives
 * `undefined`: its bytes go to the core, which says why it is not a page. A
 * body whose other members hold a number that would not survive the round
 * trip (not a safe integer: a float, a large id) too: the core reads
 * cursors and totals as the server wrote them.
 */
export function pagewiseSkeleton(buffer, pointer) {
  try { return skeleton(buffer, pointer); } catch { return undefined; }
}

/**
 * A digest of a parsed page's records (not of its body: a page asked for
 * again and answered with the same records but another page number echoed
 * back must digest alike), for the sweep's check of pages answered alike
 * (the core no longer sees the records' bytes): their count and the JSON
 * text of up to five of them (first, last and three between), in two 32-bit
 * lanes of FNV-1a with different primes. A handful of records, whatever the
 * page's size: a hot path.
 */
export function pagewiseDigest(records) {
  const n = records.length;
  let h1 = 0x811c9dc5 ^ n;
  let h2 = 0x050c5d1f ^ n;
  if (n === 0) return [h1 >>> 0, h2 >>> 0];
  const at = [0, n >> 2, n >> 1, n - 1 - (n >> 2), n - 1];
  let last = -1;
  for (const i of at) {
    if (i === last) continue;
    last = i;
    const text = JSON.stringify(records[i]) ?? '';
    h1 = Math.imul(h1 ^ text.length, 0x01000193);
    h2 = Math.imul(h2 ^ text.length, 0x5bd1e995);
    for (let j = 0; j < text.length; j++) {
      const c = text.charCodeAt(j);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    }
  }
  return [h1 >>> 0, h2 >>> 0];
}

// A parsed page's records go straight into `held`, under the request's id,
// and nowhere else: the answer that carries the skeleton names them by id,
// and neither carries the body's bytes, which are done with. Promises and
// objects that lived through the request are old by then (promoted by the
// garbage collector), and a young page an old object points to survives
// every scavenge, even once that old object is dead, until the next full
// collection.
function answer(status, headers, bytes, pointer, id) {
  if (pointer !== undefined && status >= 200 && status < 300) {
    const found = pagewiseSkeleton(bytes, pointer);
    if (found !== undefined) {
      held.set(id, found[1]);
      const [h1, h2] = pagewiseDigest(found[1]);
      return [status, headers, bytes.byteLength, found[0], id, h1, h2];
    }
  }
  return [status, headers, bytes];
}

// Requests begun and not settled yet, by id: `{ timer, group, g, place }`.
const live = new Map();

/**
 * Request `id` starts: `controller` is aborted after `timeoutMs` (none if
 * negative) unless it settles first; `group` and `place` (or undefined) are
 * its sweep and its place in it, for pages parsed in page order.
 */
export function pagewiseBegin(id, controller, timeoutMs, group, place) {
  const r = { timer: undefined, group, g: undefined, place };
  if (timeoutMs >= 0) r.timer = setTimeout(() => controller.abort(), timeoutMs);
  if (group !== undefined) {
    let g = sweeps.get(group);
    if (g === undefined) sweeps.set(group, g = { places: new Set(), waiting: [] });
    g.places.add(place);
    r.g = g;
  }
  live.set(id, r);
}

// Request `id` is done with (settled, failed or dropped): its timer goes,
// its place in its sweep is left. Its record, or undefined if it was already.
function end(id) {
  const r = live.get(id);
  if (r === undefined) return undefined;
  live.delete(id);
  if (r.timer !== undefined) clearTimeout(r.timer);
  if (r.g !== undefined) leave(r.group, r.g, r.place);
  return r;
}

/**
 * Request `id` ends before it settled (it failed, timed out or was
 * dropped), or was dropped before the Rust side took its parsed records.
 */
export function pagewiseCancel(id) {
  held.delete(id);
  const w = deferred.get(id);
  if (w !== undefined) {
    // Dropped while it waited unparsed: forget it.
    deferred.delete(id);
    if (retire(w)) leave(w.group, w.g, w.place);
  }
  end(id);
}

/** The largest body read (decoded), as natively: a larger one is an error. */
const MAX_BODY = 256 * 1024 * 1024;

/**
 * The body of `response`, decoded, or undefined if it is larger than
 * MAX_BODY (reading stops there: memory stays bounded whatever a server, or
 * a proxy, sends). A body whose exact length the headers give (no
 * content coding) is read with `arrayBuffer`, which `fetch` holds to that
 * length; any other is read chunk by chunk, counted.
 */
async function readBody(response) {
  const length = response.headers.get('content-length');
  const coding = response.headers.get('content-encoding');
  if (length !== null && /^[0-9]+$/.test(length) && (coding === null || coding === 'identity')) {
    if (Number(length) > MAX_BODY) {
      response.body?.cancel().catch(() => {});
      return undefined;
    }
  } else if (response.body !== null) {
    const reader = response.body.getReader();
    const chunks = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > MAX_BODY) {
        reader.cancel().catch(() => {});
        return undefined;
      }
      chunks.push(value);
    }
    if (chunks.length === 1) return chunks[0];
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.byteLength;
    }
    return bytes;
  }
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * Reads the `Response` of request `id` whole and settles it; never rejects:
 * `[status, headers, bytes]`; `[status, headers, body length, skeleton, id,
 * digest, digest]` for a page parsed by `JSON.parse` (`pointer`: where its
 * records are); `[-1, status, headers]` for a page of a sweep in page order
 * that is in and left unparsed for now (see `pagewiseDeferred`); `[0, error]` if the
 * body could not be read. Headers are one string, a `name,value` line each.
 */
export async function pagewiseRead(response, id, pointer) {
  let out;
  try {
    let headers = '';
    for (const [name, value] of response.headers) headers += `${name},${value}\n`;
    const bytes = await readBody(response);
    out = bytes === undefined
      ? [0, new Error(`the response body is larger than ${MAX_BODY / 1048576} MiB`)]
      : [response.status, headers, bytes];
  } catch (e) {
    out = [0, e];
  }
  return settle(out, id, pointer);
}

// Pages of sweeps in page order (`Request::in_order`), by sweep: the places
// of its requests not yet settled (in flight, or answered and waiting
// unparsed) and the answers waiting. A 2xx page is parsed on a later turn
// of the event loop: its request's slot is given back as it comes in
// (`[-1, status, headers]`), so the sweep sends the next request before any page is
// parsed or handed out, and the answers that came in meanwhile do the same
// first. `pagewiseDeferred` settles it. A page that comes in while an
// earlier place is still out waits as bytes, unparsed, until none is (or
// DEFER_MAX_MS): it is not handed out before that one anyway, and parsed
// objects held meanwhile survive garbage collections (they cost more than
// bytes).
const DEFER_MAX_MS = 100;
const sweeps = new Map();
const deferred = new Map();
// The next turn of the event loop, after the microtasks that hand the page
// before out: `setImmediate` in Node; in browsers a message (nested
// `setTimeout(0)`s are held to 4 ms each).
const later = typeof setImmediate === 'function' ? setImmediate : (() => {
  if (typeof MessageChannel !== 'function') return (f) => setTimeout(f, 0);
  const channel = new MessageChannel();
  const queue = [];
  channel.port1.onmessage = () => queue.shift()?.();
  return (f) => {
    queue.push(f);
    channel.port2.postMessage(0);
  };
})();

function firstOut(g) {
  let first = Infinity;
  for (const p of g.places) if (p < first) first = p;
  return first;
}

function leave(group, g, place) {
  g.places.delete(place);
  if (g.waiting.length > 0) {
    let next = g.waiting[0];
    for (const w of g.waiting) if (w.place < next.place) next = w;
    if (!next.scheduled && next.place <= firstOut(g)) schedule(next);
  } else if (g.places.size === 0) {
    sweeps.delete(group);
  }
}

function schedule(w) {
  w.scheduled = true;
  later(() => release(w));
}

// Takes `w` off its sweep's waiting list, once: false if it was already.
function retire(w) {
  if (w.done) return false;
  w.done = true;
  clearTimeout(w.timer);
  w.g.waiting.splice(w.g.waiting.indexOf(w), 1);
  return true;
}

function release(w) {
  if (!retire(w)) return;
  const out = w.out;
  w.result = answer(out[0], out[1], out[2], w.pointer, w.id);
  w.out = null;
  if (w.resolve !== null) {
    deferred.delete(w.id);
    w.resolve(w.result);
  }
  leave(w.group, w.g, w.place);
}

function settle(out, id, pointer) {
  const r = live.get(id);
  // Dropped meanwhile: nobody takes the answer (nothing is held for it).
  if (r === undefined) return [0, new Error('the request was cancelled')];
  const status = out[0];
  if (r.g !== undefined && status >= 200 && status < 300 && pointer !== undefined) {
    // Out of `live` but still in its sweep's places until released.
    live.delete(id);
    if (r.timer !== undefined) clearTimeout(r.timer);
    const { group, g, place } = r;
    const w = { id, out, pointer, group, g, place, resolve: null, result: null, scheduled: false, done: false, timer: undefined };
    g.waiting.push(w);
    if (firstOut(g) < place) w.timer = setTimeout(() => release(w), DEFER_MAX_MS);
    else schedule(w);
    deferred.set(id, w);
    return [-1, status, out[1]];
  }
  end(id);
  return status === 0 ? out : answer(status, out[1], out[2], pointer, id);
}

/** The answer of request `id` that came back `[-1, status, headers]`, once parsed. */
export function pagewiseDeferred(id) {
  const w = deferred.get(id);
  if (w === undefined) return Promise.resolve([0, new Error('the answer was dropped')]);
  if (w.result !== null) {
    deferred.delete(id);
    return Promise.resolve(w.result);
  }
  return new Promise((resolve) => { w.resolve = resolve; });
}

/** The records of request `id`'s page, parsed and held until released. */
export function pagewiseHeld(id) { return held.get(id); }
export function pagewiseRelease(id) { held.delete(id); }
/** For tests: pages parsed and not yet let go of; requests begun and not settled. */
export function pagewiseHeldCount() { return held.size; }
export function pagewiseLiveCount() { return live.size + deferred.size; }

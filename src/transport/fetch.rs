//! The wasm32 transport: the global `fetch(url, init)` called directly, an
//! `AbortController` per request for timeouts and cancellation; in Node,
//! `node:http` and `node:https` (see [`FetchTransport`]).
//!
//! Per request it crosses into JavaScript as few times as it can: one call
//! of a small JavaScript function (`pagewiseExchange`, shipped with the
//! module) starts the request with the init (method and headers, one JSON
//! text, parsed again only when it changes), arms the timeout's timer, reads
//! the headers (one string) and the body, and settles one promise, awaited
//! once. The body is copied once from JavaScript into a `Vec` that was not
//! zeroed first; or, for a page of a sweep of
//! [`FetchTransport::with_parsed_pages`], parsed there by `JSON.parse`. A
//! page of a sweep in page order settles first as "in, not parsed yet" (its
//! lease is given back then, so the sweep's next request goes before any
//! page is parsed) and a second promise brings it parsed, on a later turn
//! of the event loop; one that came in while an earlier page is still out
//! is parsed only once that one is in (or after 100 ms).

use std::time::Duration;

use futures::future::{select, Either};
use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::{AsyncTransport, Lease, TransportFuture};
use crate::core::{Attachment, Records, Request, Response, TransportError, TransportErrorKind};

// A page's body read once, by `JSON.parse`, for JavaScript callers: the core
// gets a skeleton (the body with the records array replaced by its indexes)
// and the records stay there, in `held`, until the page is handed out (or
// dropped: `ParsedRecords`'s `Drop` releases them). A body that is not UTF-8,
// not JSON, or has no array at the pointer (or anything else that throws,
// such as nesting too deep to write back) gives `undefined`: its bytes go
// to the core, which says why it is not a page (a retried `decode` error).
// A body whose other members hold a number that would not survive the
// round trip (not a safe integer: a float, a large id) too: the core reads
// cursors and totals as the server wrote them.
#[wasm_bindgen(inline_js = r#"
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const held = new Map();
const SENTINEL = `\u0000pagewise-records-${Math.random().toString(36).slice(2)}`;
let indexCount = -1;
let indexText = '';
function exact(v, skip) {
  if (typeof v === 'number') return Number.isSafeInteger(v);
  if (v === null || typeof v !== 'object' || v === skip) return true;
  if (Array.isArray(v)) return v.every((x) => exact(x, skip));
  for (const k in v) if (!exact(v[k], skip)) return false;
  return true;
}
function skeleton(buffer, pointer) {
  const root = JSON.parse(decoder.decode(buffer));
  let parent, key, records = root;
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
      parent = records; key = t; records = next;
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
// Anything thrown (not UTF-8, not JSON, nested too deep to write back) means
// the same: the core reads the bytes and says why.
function pagewiseSkeleton(buffer, pointer) {
  try { return skeleton(buffer, pointer); } catch { return undefined; }
}
let initText = '';
let init = null;
// Requests in flight by the id the Rust side gave them: how to cancel each.
const inflight = new Map();
export function pagewiseCancel(id) {
  // Parsed for a request dropped before the Rust side took its records.
  held.delete(id);
  const cancel = inflight.get(id);
  if (cancel !== undefined) {
    inflight.delete(id);
    cancel();
  }
}
// A parsed page's records go straight into `held`, under the request's id,
// and nowhere else: the answer that carries the skeleton names them by id,
// and neither carries the body's bytes, which are done with. Promises and
// objects that lived through the request are old by then (promoted by the
// garbage collector), and a young page an old object points to survives
// every scavenge, even once that old object is dead, until the next full
// collection: parsed pages kept that way were half of all that Node's
// scavenges copied and promoted.
function answer(status, headers, bytes, pointer, id) {
  if (pointer !== undefined && status >= 200 && status < 300) {
    const found = pagewiseSkeleton(bytes, pointer);
    if (found !== undefined) {
      held.set(id, found[1]);
      return [status, headers, bytes.byteLength, found[0], id];
    }
  }
  return [status, headers, bytes];
}
async function fetchExchange(fetchFn, url, init, body, timeoutMs, id) {
  const controller = new AbortController();
  const signal = controller.signal;
  inflight.set(id, () => controller.abort());
  const timer = timeoutMs >= 0 ? setTimeout(() => controller.abort(), timeoutMs) : undefined;
  let phase = 'start';
  try {
    const pending = fetchFn(url, { method: init.method, headers: init.headers, body: body ?? null, signal });
    phase = 'fetch';
    const resp = await pending;
    phase = 'body';
    let headers = '';
    for (const [name, value] of resp.headers) headers += `${name},${value}\n`;
    const bytes = new Uint8Array(await resp.arrayBuffer());
    return [resp.status, headers, bytes];
  } catch (e) {
    return [0, phase, e, signal.aborted, 'fetch'];
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    inflight.delete(id);
  }
}

// Node (not Bun or Deno, whose fetch is their fast path): node:http and
// node:https with keep-alive agents. Node's global fetch (undici) costs
// about 2.5 times the CPU per request; what fetch does for its callers is
// done here: Host, Accept, Accept-Encoding and User-Agent headers, bodies
// decoded (gzip, deflate, br), one resend of a request that found its
// reused connection closed (not POST or PATCH), and a timer and a cancel
// that end the exchange. Redirects are answers: the core follows them, as
// natively.
const inNode = typeof process === 'object' && process !== null && typeof process.versions === 'object'
  && typeof process.versions.node === 'string' && process.versions.bun === undefined
  && typeof globalThis.Deno === 'undefined';
const MAX_BODY = 256 * 1024 * 1024;
let nodeReady = null;
let node = null;
let nodeHttps = null;
let nodeInit = null;
function loadNode() {
  nodeReady ??= Promise.all([
    import(/* webpackIgnore: true */ /* @vite-ignore */ 'node:http'),
    import(/* webpackIgnore: true */ /* @vite-ignore */ 'node:zlib'),
  ]).then(([http, zlib]) => {
    node = { http, zlib, agent: new http.Agent({ keepAlive: true, scheduling: 'lifo' }) };
  }, () => {
    // A runtime that says it is Node but has no node:http: fetch it is.
    node = false;
  });
  return nodeReady;
}
// Loaded as the module loads, so that the first request does not wait.
if (inNode) loadNode();
let httpsReady = null;
function loadHttps() {
  httpsReady ??= import(/* webpackIgnore: true */ /* @vite-ignore */ 'node:https').then((https) => {
    nodeHttps = { https, agent: new https.Agent({ keepAlive: true, scheduling: 'lifo' }) };
  });
  return httpsReady;
}
// The init's headers as a flat [name, value, ...] list for node:http, less
// what framing decides, plus the defaults fetch would add.
function nodeHeaders(init) {
  const list = [];
  let ua = false, accept = false, enc = false;
  for (const [name, value] of init.headers) {
    const lower = name.toLowerCase();
    if (lower === 'host' || lower === 'content-length' || lower === 'transfer-encoding' || lower === 'connection') continue;
    ua ||= lower === 'user-agent';
    accept ||= lower === 'accept';
    enc ||= lower === 'accept-encoding';
    list.push(name, value);
  }
  if (!ua && typeof init.ua === 'string') list.push('User-Agent', init.ua);
  if (!accept) list.push('Accept', '*/*');
  if (!enc) list.push('Accept-Encoding', 'gzip, deflate, br');
  return list;
}
const DECODERS = { gzip: 'createGunzip', 'x-gzip': 'createGunzip', deflate: 'createInflate', br: 'createBrotliDecompress' };
function bodyError(message) {
  return Object.assign(new Error(message), { pagewiseBody: true });
}
// One request on one connection: resolves [status, headers, bytes], rejects
// with the error (`state.phase` says whether the answer had begun).
function nodeSend(u, init, head, body, state) {
  return new Promise((resolve, reject) => {
    const tls = u.protocol === 'https:';
    const mod = tls ? nodeHttps : node;
    const headers = head.concat('Host', u.host);
    if (body !== undefined) headers.push('Content-Length', String(body.byteLength));
    else if (init.method !== 'GET' && init.method !== 'HEAD') headers.push('Content-Length', '0');
    const req = (tls ? mod.https : mod.http).request(u, { method: init.method, headers, agent: mod.agent, setHost: false }, (res) => {
      state.phase = 'body';
      const raw = res.rawHeaders;
      let text = '';
      let encoding;
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i].toLowerCase();
        if (name === 'content-encoding') encoding = raw[i + 1].trim().toLowerCase();
        text += `${name},${raw[i + 1]}\n`;
      }
      let stream = res;
      const decoder = encoding === undefined ? undefined : DECODERS[encoding];
      if (decoder !== undefined) {
        stream = node.zlib[decoder]();
        res.on('error', (e) => stream.destroy(e));
        res.pipe(stream);
      }
      const chunks = [];
      let size = 0;
      stream.on('data', (chunk) => {
        size += chunk.length;
        if (size > MAX_BODY) {
          req.destroy(bodyError(`the response body is larger than ${MAX_BODY / 1048576} MiB`));
          return;
        }
        chunks.push(chunk);
      });
      stream.on('error', (e) => reject(decoder !== undefined && e.code?.startsWith('Z_')
        ? bodyError(`the ${encoding}-encoded body cannot be decoded: ${e.message}`) : e));
      stream.on('end', () => {
        const bytes = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
        resolve([res.statusCode, text, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)]);
      });
    });
    state.req = req;
    req.on('error', reject);
    req.end(body);
  });
}
async function nodeExchange(url, init, head, body, timeoutMs, id) {
  if (node === null) await loadNode();
  if (node === false) return fetchExchange(fetch, url, init, body, timeoutMs, id);
  const state = { phase: 'start', req: null, timedOut: false, cancelled: false };
  const stop = (why) => {
    if (why === 'timeout') state.timedOut = true;
    else state.cancelled = true;
    state.req?.destroy(Object.assign(new Error(why === 'timeout' ? 'timed out' : 'cancelled'), { name: 'AbortError' }));
  };
  inflight.set(id, () => stop('cancel'));
  const timer = timeoutMs >= 0 ? setTimeout(() => stop('timeout'), timeoutMs) : undefined;
  try {
    const u = new URL(url);
    if (u.protocol === 'https:' && nodeHttps === null) await loadHttps();
    if (state.timedOut || state.cancelled) throw Object.assign(new Error('cancelled'), { name: 'AbortError' });
    if (body !== undefined) body = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    let out;
    for (let resent = false; ; resent = true) {
      state.phase = 'send';
      try {
        out = await nodeSend(u, init, head, body, state);
        break;
      } catch (e) {
        // A reused keep-alive connection the server had closed: nothing of
        // the answer came, so the request is sent again, once, on a new one.
        const stale = !resent && state.phase === 'send' && state.req?.reusedSocket === true
          && (e.code === 'ECONNRESET' || e.code === 'EPIPE')
          && !state.timedOut && !state.cancelled
          && init.method !== 'POST' && init.method !== 'PATCH';
        if (!stale) throw e;
      }
    }
    return out;
  } catch (e) {
    const phase = e?.pagewiseBody === true ? 'decode' : state.phase;
    return [0, phase, e, state.timedOut, 'node'];
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    inflight.delete(id);
  }
}

// Pages of sweeps in page order (`Request::in_order`), by sweep: the places
// of its requests not yet settled (in flight, or answered and waiting
// unparsed) and the answers waiting. A 2xx page is parsed on a later turn
// of the event loop: its request's slot is given back as it comes in
// (`[-1, status]`), so the sweep sends the next request before any page is
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
    inflight.delete(w.id);
    w.resolve(w.result);
  }
  leave(w.group, w.g, w.place);
}
function settle(out, id, pointer, group, g, place) {
  const status = out[0];
  if (g !== undefined && status >= 200 && status < 300 && pointer !== undefined) {
    const w = { id, out, pointer, group, g, place, resolve: null, result: null, scheduled: false, done: false, timer: undefined };
    g.waiting.push(w);
    if (firstOut(g) < place) w.timer = setTimeout(() => release(w), DEFER_MAX_MS);
    else schedule(w);
    deferred.set(id, w);
    inflight.set(id, () => {
      // Dropped while it waited: forget it.
      deferred.delete(id);
      if (retire(w)) leave(group, g, place);
    });
    return [-1, status];
  }
  const result = status === 0 ? out : answer(status, out[1], out[2], pointer, id);
  if (g !== undefined) leave(group, g, place);
  return result;
}
/** The answer of request `id` that came back `[-1, status]`, once parsed. */
export function pagewiseDeferred(id) {
  const w = deferred.get(id);
  if (w === undefined) return Promise.resolve([0, 'start', new Error('the answer was dropped'), false, 'fetch']);
  if (w.result !== null) {
    deferred.delete(id);
    inflight.delete(id);
    return Promise.resolve(w.result);
  }
  return new Promise((resolve) => { w.resolve = resolve; });
}

export function pagewiseExchange(url, initJson, body, timeoutMs, id, pointer, fetchFn, group, place) {
  if (initJson !== initText) {
    init = JSON.parse(initJson);
    initText = initJson;
    nodeInit = null;
  }
  let g;
  if (group !== undefined) {
    g = sweeps.get(group);
    if (g === undefined) sweeps.set(group, g = { places: new Set(), waiting: [] });
    g.places.add(place);
  }
  let raw;
  if (fetchFn === undefined && inNode && node !== false && (url.startsWith('http:') || url.startsWith('https:'))) {
    nodeInit ??= nodeHeaders(init);
    raw = nodeExchange(url, init, nodeInit, body, timeoutMs, id);
  } else {
    raw = fetchExchange(fetchFn ?? fetch, url, init, body, timeoutMs, id);
  }
  return raw.then((out) => settle(out, id, pointer, group, g, place));
}
export function pagewiseHeld(id) { return held.get(id); }
export function pagewiseRelease(id) { held.delete(id); }
// For tests: pages parsed and not yet let go of.
export function pagewiseHeldCount() { return held.size; }
"#)]
extern "C" {
    /// Sends one request and reads its answer, never rejecting:
    /// `[status, headers, bytes, skeleton?, records?]`, or
    /// `[0, phase, error, timed_out, via]` when there is no answer.
    #[wasm_bindgen(js_name = pagewiseExchange)]
    fn js_exchange(
        url: &str,
        init: &str,
        body: &JsValue,
        timeout_ms: f64,
        id: u32,
        pointer: &JsValue,
        fetch: &JsValue,
        group: &JsValue,
        place: &JsValue,
    ) -> Promise;
    /// The answer of request `id` that came back `[-1, status]` (in, left
    /// unparsed while an earlier page of its sweep is out), once parsed.
    #[wasm_bindgen(js_name = pagewiseDeferred)]
    fn js_deferred(id: u32) -> Promise;
    /// Ends the request `id` if it is still in flight.
    #[wasm_bindgen(js_name = pagewiseCancel)]
    fn js_cancel(id: u32);
    #[wasm_bindgen(js_name = pagewiseHeld)]
    fn js_held(id: u32) -> JsValue;
    #[wasm_bindgen(js_name = pagewiseRelease)]
    fn js_release(id: u32);
}

/// The records of a page as `JSON.parse` made them, held on the JavaScript
/// side while the core has the page (the attachment of a skeleton answer of
/// [`FetchTransport::with_parsed_pages`]); released when dropped.
#[derive(Debug)]
pub struct ParsedRecords {
    /// The id of the request whose answer they are: their key in `held`.
    id: u32,
}

impl Drop for ParsedRecords {
    fn drop(&mut self) {
        js_release(self.id);
    }
}

/// The records of a page fetched by [`FetchTransport::with_parsed_pages`]
/// as one JavaScript array: `None` when the page was not parsed in
/// JavaScript (its records are JSON texts: see [`Records::joined`]),
/// `Some(Err(()))` if the skeleton's indexes do not match what was parsed.
pub fn parsed_records(records: &Records) -> Option<Result<Array, ()>> {
    let parsed = records.attachment()?.get::<ParsedRecords>()?;
    let all: Array = js_held(parsed.id).dyn_into().ok()?;
    let index = |i: usize| -> Result<u32, ()> {
        let text = records.get(i).ok_or(())?;
        let n: u32 = std::str::from_utf8(text)
            .map_err(|_| ())?
            .parse()
            .map_err(|_| ())?;
        if n < all.length() {
            Ok(n)
        } else {
            Err(())
        }
    };
    let n = records.len();
    if n == 0 {
        return Some(Ok(Array::new()));
    }
    Some((|| {
        let (first, last) = (index(0)?, index(n - 1)?);
        // Records are only ever dropped from the start (a resumed page) or
        // the end (an oversized page) without a delta filter: a slice.
        if last >= first && (last - first) as usize + 1 == n {
            if first == 0 && n as u32 == all.length() {
                return Ok(all.clone());
            }
            return Ok(all.slice(first, last + 1));
        }
        let out = Array::new_with_length(n as u32);
        for i in 0..n {
            out.set(i as u32, all.get(index(i)?));
        }
        Ok(out)
    })())
}

/// Sends requests over the platform's HTTP: the global `fetch` in browsers
/// and web workers (and in Bun and Deno); in Node, `node:http` and
/// `node:https` with keep-alive agents, which cost about 2.5 times less CPU
/// per request than Node's `fetch` (undici) and do what `fetch` would:
/// `Host`, `Accept`, `Accept-Encoding` and `User-Agent` headers, bodies
/// decoded (gzip, deflate, br), a request that found its reused connection
/// closed sent again once (not a POST or PATCH). [`FetchTransport::with_fetch`]
/// sends every request through a `fetch` function of the caller's instead
/// (a mock in tests, a `fetch` with a proxy), on every platform.
///
/// A request ends when it times out or when its future is dropped (a
/// cancelled sweep). With `fetch`, the browser follows redirects itself, and
/// per the Fetch standard drops `Authorization` on a redirect to another
/// origin; in Node a redirect is an answer, which the core follows (as
/// natively), dropping credentials on the way to another origin.
#[derive(Debug, Clone, Default)]
pub struct FetchTransport {
    parse_pages: bool,
    fetch: Option<js_sys::Function>,
}

impl FetchTransport {
    /// A transport over the platform's HTTP (see [`FetchTransport`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// A transport that reads each page of a sweep once, with `JSON.parse`,
    /// for callers that hand the records to JavaScript: the core gets a
    /// skeleton of the body (see
    /// [`Request::records_at`](crate::core::Request::records_at)) and the
    /// page's records are read with [`parsed_records`], not as JSON texts
    /// (typed record streams fail with a `Record` error). Bodies that are
    /// not pages go to the core whole, which says why.
    pub fn with_parsed_pages() -> Self {
        FetchTransport {
            parse_pages: true,
            fetch: None,
        }
    }

    /// The same transport sending every request with `fetch`, a function
    /// called as the global `fetch` is (`fetch(url, { method, headers, body,
    /// signal })`, resolving to a `Response`), in Node too.
    pub fn with_fetch(mut self, fetch: js_sys::Function) -> Self {
        self.fetch = Some(fetch);
        self
    }
}

// Ids of requests in flight, for `pagewiseCancel` (wasm32 is one thread).
static NEXT_ID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

/// Ends the exchange if the future is dropped before it finished (the
/// timeout's timer is the JavaScript side's, cleared when it settles).
struct CancelOnDrop {
    id: Option<u32>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            js_cancel(id);
        }
    }
}

/// `"{name}: {message}"` of a thrown JavaScript value, with the message and
/// code of its `cause` when it has one (Node's `fetch failed` says why there).
/// Returns the error's `name` too.
fn js_error(e: &JsValue) -> (String, String) {
    let Some(err) = e.dyn_ref::<js_sys::Error>() else {
        return (String::new(), format!("{e:?}"));
    };
    let name = String::from(err.name());
    let mut text = format!("{name}: {}", String::from(err.message()));
    let cause = err.cause();
    if let Some(cause) = cause.dyn_ref::<js_sys::Error>() {
        let message = String::from(cause.message());
        if !message.is_empty() {
            text.push_str(" (");
            text.push_str(&message);
            text.push(')');
        } else if let Ok(code) = js_sys::Reflect::get(cause, &JsValue::from_str("code")) {
            if let Some(code) = code.as_string() {
                text.push_str(" (");
                text.push_str(&code);
                text.push(')');
            }
        }
    }
    if cause.is_undefined() {
        // Node's errors carry a code (`ECONNRESET`) their message may not name.
        if let Ok(code) = js_sys::Reflect::get(err, &JsValue::from_str("code")) {
            if let Some(code) = code.as_string().filter(|c| !text.contains(c.as_str())) {
                text.push_str(" (");
                text.push_str(&code);
                text.push(')');
            }
        }
    }
    (name, text)
}
/// The init of `request` (method and headers) as JSON, for one `JSON.parse`:
/// `{"method":"GET","headers":[["accept","application/json"],...],"ua":"pagewise/0.1.0"}`
/// (`ua`: the `User-Agent` sent in Node when the request names none).
fn init_json(request: &Request) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        40 + request
            .headers
            .iter()
            .map(|h| h.name.len() + h.value.len() + 8)
            .sum::<usize>(),
    );
    out.extend_from_slice(b"{\"method\":\"");
    out.extend_from_slice(request.method.as_str().as_bytes());
    out.extend_from_slice(b"\",\"headers\":[");
    for (i, h) in request.headers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'[');
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, h.name.as_str());
        out.push(b',');
        let _ = serde_json::to_writer(&mut out, h.value.as_str());
        out.push(b']');
    }
    out.extend_from_slice(b"],\"ua\":\"pagewise/");
    out.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
    out.extend_from_slice(b"\"}");
    out
}
fn other(message: impl Into<String>) -> TransportError {
    TransportError::new(TransportErrorKind::Other, message)
}

/// The error of a request whose signal was aborted while it was awaited: only
/// its timer does that (a dropped request is not awaited any more).
fn timed_out(timeout: Option<Duration>) -> TransportError {
    let limit = timeout.unwrap_or_default();
    TransportError::new(
        TransportErrorKind::Timeout,
        format!("no answer within {}", crate::error::duration(limit)),
    )
}

/// Sends `request` and reads the answer whole, in one trip through
/// `pagewiseExchange`; with `records_at`, a 2xx page body is parsed there
/// (see `pagewiseSkeleton`). A page left unparsed for a while gives `lease`
/// back as it comes in ([`Lease::arrived`]); otherwise the caller completes it.
async fn exchange(
    request: &Request,
    records_at: Option<&str>,
    fetch: Option<&js_sys::Function>,
    lease: &mut Option<Lease>,
) -> Result<Response, TransportError> {
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut guard = CancelOnDrop { id: Some(id) };
    let init = init_json(request);
    let init = std::str::from_utf8(&init).map_err(|_| other("a header is not UTF-8"))?;
    let body = match &request.body {
        Some(body) => Uint8Array::from(&body[..]).into(),
        None => JsValue::UNDEFINED,
    };
    // Timers take at most 2^31 - 1 ms (about 24.8 days): longer ones
    // would fire at once.
    let timeout_ms = request
        .timeout
        .map_or(-1.0, |limit| limit.as_millis().min(i32::MAX as u128) as f64);
    let pointer = records_at.map_or(JsValue::UNDEFINED, JsValue::from_str);
    let fetch = fetch.map_or(JsValue::UNDEFINED, |f| f.clone().into());
    let (group, place) = match request.in_order.filter(|_| records_at.is_some()) {
        // Exact as JavaScript numbers: sweeps are counted from 1, places are
        // page numbers shifted by 16 bits.
        Some((g, p)) => (JsValue::from_f64(g as f64), JsValue::from_f64(p as f64)),
        None => (JsValue::UNDEFINED, JsValue::UNDEFINED),
    };
    let failed = |e: JsValue| other(format!("the request failed: {}", js_error(&e).1));
    let promise = js_exchange(
        &request.url,
        init,
        &body,
        timeout_ms,
        id,
        &pointer,
        &fetch,
        &group,
        &place,
    );
    let mut out: Array = JsFuture::from(promise)
        .await
        .map_err(failed)?
        .unchecked_into();
    if out.get(0).as_f64() == Some(-1.0) {
        // In, and left unparsed until the earlier pages of its sweep are:
        // the request's slot is free now.
        if let Some(l) = lease.take() {
            l.arrived(out.get(1).as_f64().unwrap_or(200.0) as u16);
        }
        out = JsFuture::from(js_deferred(id))
            .await
            .map_err(failed)?
            .unchecked_into();
    }
    // Settled: nothing to cancel any more. Records parsed in JavaScript
    // (held under `id`) are released when `parsed` is dropped.
    guard.id = None;
    let parsed = out.get(3).as_string().map(|text| {
        (
            text,
            ParsedRecords { id },
            out.get(2).as_f64().unwrap_or_default() as usize,
        )
    });
    let status = out.get(0).as_f64().unwrap_or_default() as u16;
    if status == 0 {
        // [0, phase, error, timed_out, via]
        if out.get(3).is_truthy() {
            return Err(timed_out(request.timeout));
        }
        let (name, text) = js_error(&out.get(2));
        let what = if out.get(4).as_string().as_deref() == Some("node") {
            "the request (node:http)"
        } else {
            "fetch"
        };
        return Err(match out.get(1).as_string().as_deref() {
            Some("start") => other(format!("{what} failed: {text}")),
            Some("body") => TransportError::new(
                TransportErrorKind::Io,
                format!("reading the body failed: {text}"),
            ),
            // Too large, or encoded wrong: the message says which.
            Some("decode") => TransportError::new(
                TransportErrorKind::Io,
                String::from(out.get(2).unchecked_ref::<js_sys::Error>().message()),
            ),
            _ if name == "AbortError" => TransportError::new(
                TransportErrorKind::Aborted,
                format!("{what} aborted: {text}"),
            ),
            // fetch rejects with a TypeError for network and CORS failures alike.
            _ => TransportError::new(
                TransportErrorKind::Connect,
                format!("{what} failed: {text}"),
            ),
        });
    }
    // [status, headers, bytes] or [status, headers, body length, skeleton, id]
    let headers = out
        .get(1)
        .as_string()
        .unwrap_or_default()
        .split('\n')
        .filter_map(|line| line.split_once(','))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    if let Some((text, parsed, len)) = parsed {
        return Ok(Response {
            status,
            headers,
            body: text.into_bytes(),
            attachment: Some(Attachment::new(parsed, len)),
        });
    }
    let bytes: Uint8Array = out.get(2).unchecked_into();
    // `to_vec` copies into the Vec's uninitialised capacity (no zeroing).
    Ok(Response {
        status,
        headers,
        body: bytes.to_vec(),
        attachment: None,
    })
}

impl AsyncTransport for FetchTransport {
    fn send_leased(&self, request: Request, mut lease: Lease) -> TransportFuture {
        // Run the exchange as its own task on the browser's event loop, so the
        // slot of the shared limit is given back the moment the answer is in,
        // not when the caller next polls. Dropping the returned future drops
        // the receiver, which ends the task and aborts the fetch.
        let (tx, rx) = futures::channel::oneshot::channel();
        let parse_pages = self.parse_pages;
        let fetch = self.fetch.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let mut tx = tx;
            let work = async move {
                lease.acquire().await;
                // The slot is given back when the answer is in, which may be
                // before it is parsed (a page that came early).
                let mut lease = Some(lease);
                let answer = send_with(&request, parse_pages, fetch.as_ref(), &mut lease).await;
                if let Some(l) = lease {
                    l.complete(&answer);
                }
                answer
            };
            futures::pin_mut!(work);
            if let Either::Left((answer, _)) = select(work, tx.cancellation()).await {
                let _ = tx.send(answer);
            }
        });
        Box::pin(async move {
            rx.await.unwrap_or_else(|_| {
                Err(TransportError::new(
                    TransportErrorKind::Aborted,
                    "the request was cancelled",
                ))
            })
        })
    }

    fn send(&self, request: Request) -> TransportFuture {
        let parse_pages = self.parse_pages;
        let fetch = self.fetch.clone();
        Box::pin(async move {
            let mut no_lease = None;
            send_with(&request, parse_pages, fetch.as_ref(), &mut no_lease).await
        })
    }
}

/// One exchange as the transport makes it: page bodies parsed in JavaScript
/// if it parses pages, errors without the URL's credentials; `lease`, if
/// any, is given back as soon as the answer is in (see `exchange`).
async fn send_with(
    request: &Request,
    parse_pages: bool,
    fetch: Option<&js_sys::Function>,
    lease: &mut Option<Lease>,
) -> Result<Response, TransportError> {
    let records_at = request.records_at.as_deref().filter(|_| parse_pages);
    exchange(request, records_at, fetch, lease)
        .await
        .map_err(|e| redacted(e, request))
}

/// Keeps a credential carried in the URL (user info, a secret query
/// parameter) out of a message that quotes the URL.
fn redacted(mut e: TransportError, request: &Request) -> TransportError {
    if e.message.contains(request.url.as_str()) {
        e.message = e.message.replace(&request.url, &request.redacted_url());
    }
    e
}

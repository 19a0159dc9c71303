//! The browser transport (wasm32): the global `fetch(url, init)` called
//! directly, an `AbortController` per request for timeouts and cancellation.
//!
//! Per request it crosses into JavaScript as few times as it can: one call
//! of a small JavaScript function (`pagewiseExchange`, shipped with the
//! module) starts the fetch with the init (method and headers, one JSON
//! text, parsed again only when it changes), arms the timeout's timer, reads
//! the headers (one string) and the body, and settles one promise, awaited
//! once. The body is copied once from its `ArrayBuffer` into a `Vec` that
//! was not zeroed first; or, for a page of a sweep of
//! [`FetchTransport::with_parsed_pages`], parsed there by `JSON.parse`.

use std::time::Duration;

use futures::future::{select, Either};
use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortController;

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
let nextToken = 1;
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
export async function pagewiseExchange(url, initJson, body, timeoutMs, controller, pointer) {
  if (initJson !== initText) {
    init = JSON.parse(initJson);
    initText = initJson;
  }
  const signal = controller.signal;
  const timer = timeoutMs >= 0 ? setTimeout(() => controller.abort(), timeoutMs) : undefined;
  let phase = 'start';
  try {
    const pending = fetch(url, { method: init.method, headers: init.headers, body, signal });
    phase = 'fetch';
    const resp = await pending;
    phase = 'body';
    let headers = '';
    for (const [name, value] of resp.headers) headers += `${name},${value}\n`;
    const buffer = await resp.arrayBuffer();
    const status = resp.status;
    if (pointer !== undefined && status >= 200 && status < 300) {
      const found = pagewiseSkeleton(buffer, pointer);
      if (found !== undefined) return [status, headers, buffer, found[0], found[1]];
    }
    return [status, headers, buffer];
  } catch (e) {
    return [0, phase, e, signal.aborted];
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
export function pagewiseHold(records) {
  const token = nextToken++;
  held.set(token, records);
  return token;
}
export function pagewiseHeld(token) { return held.get(token); }
export function pagewiseRelease(token) { held.delete(token); }
"#)]
extern "C" {
    /// Sends one request and reads its answer, never rejecting:
    /// `[status, headers, buffer, skeleton?, records?]`, or
    /// `[0, phase, error, aborted]` when there is no answer.
    #[wasm_bindgen(js_name = pagewiseExchange)]
    fn js_exchange(
        url: &str,
        init: &str,
        body: &JsValue,
        timeout_ms: f64,
        controller: &AbortController,
        pointer: &JsValue,
    ) -> Promise;
    #[wasm_bindgen(js_name = pagewiseHold)]
    fn js_hold(records: &JsValue) -> u32;
    #[wasm_bindgen(js_name = pagewiseHeld)]
    fn js_held(token: u32) -> JsValue;
    #[wasm_bindgen(js_name = pagewiseRelease)]
    fn js_release(token: u32);
}

/// The records of a page as `JSON.parse` made them, held on the JavaScript
/// side while the core has the page (the attachment of a skeleton answer of
/// [`FetchTransport::with_parsed_pages`]); released when dropped.
#[derive(Debug)]
pub struct ParsedRecords {
    token: u32,
}

impl Drop for ParsedRecords {
    fn drop(&mut self) {
        js_release(self.token);
    }
}

/// The records of a page fetched by [`FetchTransport::with_parsed_pages`]
/// as one JavaScript array: `None` when the page was not parsed in
/// JavaScript (its records are JSON texts: see [`Records::joined`]),
/// `Some(Err(()))` if the skeleton's indexes do not match what was parsed.
pub fn parsed_records(records: &Records) -> Option<Result<Array, ()>> {
    let parsed = records.attachment()?.get::<ParsedRecords>()?;
    let all: Array = js_held(parsed.token).dyn_into().ok()?;
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

/// Sends requests with the global `fetch` (browsers, web workers, Node 20).
/// Each request has its own `AbortController`: it is aborted when the
/// request times out or when its future is dropped (a cancelled sweep).
/// The browser follows redirects itself, and per the Fetch standard drops
/// `Authorization` on a redirect to another origin.
#[derive(Debug, Clone, Default)]
pub struct FetchTransport {
    parse_pages: bool,
}

impl FetchTransport {
    /// A transport over the global `fetch`.
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
        FetchTransport { parse_pages: true }
    }
}
/// Aborts the fetch if the future is dropped before it finished (the
/// timeout's timer is the JavaScript side's, cleared when the fetch settles).
struct AbortOnDrop {
    controller: Option<AbortController>,
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.controller.take() {
            c.abort();
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
    (name, text)
}
/// The init of `request` (method and headers) as JSON, for one `JSON.parse`:
/// `{"method":"GET","headers":[["accept","application/json"],...]}`.
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
    out.extend_from_slice(b"]}");
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
/// (see `pagewiseSkeleton`).
async fn exchange(request: &Request, records_at: Option<&str>) -> Result<Response, TransportError> {
    let controller =
        AbortController::new().map_err(|_| other("AbortController is not available"))?;
    let mut guard = AbortOnDrop {
        controller: Some(controller.clone()),
    };
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
    let promise = js_exchange(&request.url, init, &body, timeout_ms, &controller, &pointer);
    let out: Array = JsFuture::from(promise)
        .await
        .map_err(|e| other(format!("the global fetch failed: {}", js_error(&e).1)))?
        .unchecked_into();
    // Settled: nothing to abort any more.
    guard.controller = None;
    let status = out.get(0).as_f64().unwrap_or_default() as u16;
    if status == 0 {
        // [0, phase, error, aborted]
        if out.get(3).is_truthy() {
            return Err(timed_out(request.timeout));
        }
        let (name, text) = js_error(&out.get(2));
        return Err(match out.get(1).as_string().as_deref() {
            Some("start") => other(format!("the global fetch failed: {text}")),
            Some("body") => TransportError::new(
                TransportErrorKind::Io,
                format!("reading the body failed: {text}"),
            ),
            _ if name == "AbortError" => TransportError::new(
                TransportErrorKind::Aborted,
                format!("fetch aborted: {text}"),
            ),
            // fetch rejects with a TypeError for network and CORS failures alike.
            _ => TransportError::new(TransportErrorKind::Connect, format!("fetch failed: {text}")),
        });
    }
    // [status, headers, buffer] or [status, headers, buffer, skeleton, records]
    let headers = out
        .get(1)
        .as_string()
        .unwrap_or_default()
        .split('\n')
        .filter_map(|line| line.split_once(','))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    let buffer = out.get(2);
    if let Some(text) = out.get(3).as_string() {
        // Held from here (not before: a request dropped while its answer
        // was on its way leaves nothing held): released when the
        // attachment is dropped.
        let parsed = ParsedRecords {
            token: js_hold(&out.get(4)),
        };
        let len = buffer.unchecked_ref::<js_sys::ArrayBuffer>().byte_length();
        return Ok(Response {
            status,
            headers,
            body: text.into_bytes(),
            attachment: Some(Attachment::new(parsed, len as usize)),
        });
    }
    // `to_vec` copies into the Vec's uninitialised capacity (no zeroing).
    let body = Uint8Array::new(&buffer).to_vec();
    Ok(Response {
        status,
        headers,
        body,
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
        let exchange = self.send(request);
        wasm_bindgen_futures::spawn_local(async move {
            let mut tx = tx;
            let work = async move {
                lease.acquire().await;
                let answer = exchange.await;
                lease.complete(&answer);
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
        Box::pin(async move {
            let records_at = request.records_at.as_deref().filter(|_| parse_pages);
            exchange(&request, records_at)
                .await
                .map_err(|e| redacted(e, &request))
        })
    }
}

/// Keeps a credential carried in the URL (user info, a secret query
/// parameter) out of a message that quotes the URL.
fn redacted(mut e: TransportError, request: &Request) -> TransportError {
    if e.message.contains(request.url.as_str()) {
        e.message = e.message.replace(&request.url, &request.redacted_url());
    }
    e
}

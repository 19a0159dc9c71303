//! The wasm32 transport: every request goes through the global
//! `fetch` (browsers, Web Workers, Node 20+, Bun, Deno), with an
//! `AbortController` per request for its timeout and its cancellation; or,
//! with [`FetchTransport::with_fetch`], through a `fetch` function of the
//! caller's. Fetch mocks (msw, nock, a stubbed `globalThis.fetch`), undici's
//! dispatchers and proxies, and instrumentation see every request.
//!
//! The request is built and sent on the Rust side. The answer is read on the
//! JavaScript side (`pages.js`, beside this file), in one trip: its headers
//! as one string, its body once, copied once into a `Vec` that was not
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
use web_sys::{AbortController, RequestInit, RequestRedirect};

use super::{AsyncTransport, Lease, TransportFuture};
use crate::core::{Attachment, Records, Request, Response, TransportError, TransportErrorKind};

#[wasm_bindgen]
extern "C" {
    /// The global `fetch` (browsers, workers, Node 20+), looked up per call.
    #[wasm_bindgen(js_name = fetch, catch)]
    fn global_fetch(url: &str, init: &RequestInit) -> Result<Promise, JsValue>;
}

/// Whether `e` is the `AbortError` a `fetch` rejects with once aborted.
fn is_abort(e: &JsValue) -> bool {
    e.dyn_ref::<js_sys::Error>()
        .is_some_and(|err| String::from(err.name()) == "AbortError")
}

#[wasm_bindgen(module = "/src/transport/fetch/pages.js")]
extern "C" {
    /// Request `id` starts: its timer (aborting `controller`), its place in
    /// its sweep (`group`, `place`, or undefined).
    #[wasm_bindgen(js_name = pagewiseBegin)]
    fn js_begin(
        id: u32,
        controller: &AbortController,
        timeout_ms: f64,
        group: &JsValue,
        place: &JsValue,
    );
    /// Reads the answer of request `id` and settles it, never rejecting:
    /// `[status, headers, bytes]`, `[status, headers, length, skeleton, id,
    /// digest, digest]`, `[-1, status, headers]` (see `js_deferred`) or
    /// `[0, error]`.
    #[wasm_bindgen(js_name = pagewiseRead)]
    fn js_read(response: &web_sys::Response, id: u32, pointer: &JsValue) -> Promise;
    /// The answer of request `id` that came back `[-1, status, headers]` (in, left
    /// unparsed while an earlier page of its sweep is out), once parsed.
    #[wasm_bindgen(js_name = pagewiseDeferred)]
    fn js_deferred(id: u32) -> Promise;
    /// Request `id` ended unsettled (failed, timed out, dropped): its timer
    /// and whatever is held for it go.
    #[wasm_bindgen(js_name = pagewiseCancel)]
    fn js_cancel(id: u32);
    #[wasm_bindgen(js_name = pagewiseHeld)]
    fn js_held(id: u32) -> JsValue;
    #[wasm_bindgen(js_name = pagewiseRelease)]
    fn js_release(id: u32);
    #[wasm_bindgen(js_name = pagewiseInNode)]
    fn js_in_node() -> bool;
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

/// Sends requests with the platform's `fetch`: the global `fetch` in
/// browsers, Web Workers and Node 20+ (undici), so a `fetch` mock, a global
/// proxy dispatcher or instrumentation sees every request.
/// [`FetchTransport::with_fetch`] sends every request through a `fetch`
/// function of the caller's instead.
///
/// A request ends when it times out or when its future is dropped (a
/// cancelled sweep): its `AbortController` is aborted. In a browser (and in
/// Bun and Deno), `fetch` follows redirects itself, unchecked by
/// [`ApiBuilder::allow_origins`](crate::ApiBuilder::allow_origins), and per
/// the Fetch standard drops only `Authorization` on a redirect to another
/// origin (a browser's answer to `redirect: 'manual'` is an opaque one, with
/// no status and no `Location`, which the core could not follow). In Node
/// the request asks for `redirect: 'manual'`, and undici hands the 3xx over
/// as it is: the core follows it as natively, only to the origins the API
/// allows, and without the configured headers and credentials on the way to
/// another origin. Bodies are decoded (gzip, deflate, br) by `fetch`.
#[derive(Debug, Clone, Default)]
pub struct FetchTransport {
    parse_pages: bool,
    fetch: Option<js_sys::Function>,
}

impl FetchTransport {
    /// A transport over the global `fetch` (see [`FetchTransport`]).
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
    /// called as the global `fetch` can be (`fetch(url, { method, headers,
    /// body, signal, redirect })`, `headers` a `Headers`, resolving to a
    /// `Response`), instead of through the global `fetch`.
    pub fn with_fetch(mut self, fetch: js_sys::Function) -> Self {
        self.fetch = Some(fetch);
        self
    }
}

// Ids of requests in flight, for `pages.js` (wasm32 is one thread).
static NEXT_ID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

thread_local! {
    static IN_NODE: bool = js_in_node();
}

/// Ends the exchange if it did not settle: the request is aborted (a no-op
/// once it failed) and `pages.js` lets go of it (its timer, its place in its
/// sweep, records parsed for it).
struct CancelOnDrop {
    id: u32,
    controller: Option<AbortController>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(controller) = self.controller.take() {
            controller.abort();
            js_cancel(self.id);
        }
    }
}

/// `"{name}: {message}"` of a thrown JavaScript value, with the message and
/// code of its `cause` when it has one (Node's `fetch failed` says why there,
/// when the caller's `fetch` throws it).
fn js_error(e: &JsValue) -> String {
    let Some(err) = e.dyn_ref::<js_sys::Error>() else {
        return e
            .as_string()
            .unwrap_or_else(|| "a value that is not an Error".into());
    };
    let mut text = String::from(err.name());
    text.push_str(": ");
    text.push_str(&String::from(err.message()));
    let cause = err.cause();
    if let Some(cause) = cause.dyn_ref::<js_sys::Error>() {
        let message = String::from(cause.message());
        if !message.is_empty() {
            text.push_str(" (");
            text.push_str(&message);
            text.push(')');
        }
    }
    text
}

/// What a JavaScript call threw or rejected with (the `TypeError` of a
/// failed `fetch`, a token provider's rejection), kept as the
/// [`source`](std::error::Error::source) of the error it caused, so that the
/// npm package can hand it on as the `cause` of its `PagewiseError`.
///
/// The value itself stays in a table of this thread (WebAssembly has one),
/// so that the error is `Send + Sync` like every [`Error`](crate::Error)'s
/// source; it is let go of with the last clone of the error.
#[derive(Debug, Clone)]
pub struct JsError {
    held: std::sync::Arc<Held>,
    text: String,
}

thread_local! {
    /// The values of the living `JsError`s, by number, and the next number.
    static THROWN: std::cell::RefCell<(u64, std::collections::HashMap<u64, JsValue>)> =
        std::cell::RefCell::new((0, std::collections::HashMap::new()));
}

/// A value's place in `THROWN`, freed on drop.
#[derive(Debug)]
struct Held(u64);

impl Drop for Held {
    fn drop(&mut self) {
        // (`try_with`: nothing to free once the thread's table is gone.)
        let _ = THROWN.try_with(|t| t.borrow_mut().1.remove(&self.0));
    }
}

impl JsError {
    /// Wraps a thrown value; its `Display` is `"{name}: {message}"` (with
    /// the message of the value's own `cause`, if any).
    pub fn new(value: JsValue) -> Self {
        let text = js_error(&value);
        Self::described(value, text)
    }

    /// Wraps a thrown value described by `text` (its `Display`).
    pub fn described(value: JsValue, text: impl Into<String>) -> Self {
        let id = THROWN.with(|t| {
            let mut t = t.borrow_mut();
            let id = t.0;
            t.0 += 1;
            t.1.insert(id, value);
            id
        });
        JsError {
            held: std::sync::Arc::new(Held(id)),
            text: text.into(),
        }
    }

    /// The value as thrown.
    pub fn value(&self) -> JsValue {
        THROWN
            .with(|t| t.borrow().1.get(&self.held.0).cloned())
            .unwrap_or(JsValue::UNDEFINED)
    }
}

impl std::fmt::Display for JsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for JsError {}

/// The thrown value found in `e`'s chain of sources, if any.
pub fn js_cause(e: &(dyn std::error::Error + 'static)) -> Option<JsValue> {
    let mut at = Some(e);
    while let Some(e) = at {
        if let Some(js) = e.downcast_ref::<JsError>() {
            return Some(js.value());
        }
        at = e.source();
    }
    None
}

fn other(message: impl Into<String>) -> TransportError {
    TransportError::new(TransportErrorKind::Other, message)
}

/// The error of a request whose signal was aborted while it was awaited: only
/// its timer does that (a dropped request is not awaited any more).
fn timed_out(timeout: Option<Duration>) -> TransportError {
    let limit = timeout.unwrap_or_default();
    let mut message = String::from("no answer within ");
    message.push_str(&crate::error::duration(limit));
    TransportError::new(TransportErrorKind::Timeout, message)
}

/// What went wrong with a request that has no answer, `text` saying how.
fn failed(
    controller: &AbortController,
    timeout: Option<Duration>,
    kind: TransportErrorKind,
    what: &str,
    thrown: &JsValue,
) -> TransportError {
    if controller.signal().aborted() {
        return timed_out(timeout);
    }
    let cause = JsError::new(thrown.clone());
    let mut message = String::from(what);
    message.push_str(&cause.text);
    TransportError::new(kind, message).with_source(cause)
}

/// How long after its timeout a request whose `fetch` ignores the abort
/// signal (a mock, a wrapper that drops `signal`) is given up on here.
const ABORT_GRACE: Duration = Duration::from_millis(100);

/// `work`, unless `expiry` fires first (`None`: the request timed out
/// without its `fetch` settling, though its signal was aborted).
async fn until<F: std::future::Future>(
    work: F,
    expiry: &mut Option<futures_timer::Delay>,
) -> Option<F::Output> {
    match expiry {
        None => Some(work.await),
        Some(delay) => {
            futures::pin_mut!(work);
            match select(work, delay).await {
                Either::Left((out, _)) => Some(out),
                Either::Right(_) => None,
            }
        }
    }
}

/// The init of `request`: method, headers, body, `signal`; in Node,
/// `redirect: 'manual'` (see [`FetchTransport`]) and a `User-Agent` when the
/// request names none.
fn request_init(request: &Request, controller: &AbortController) -> Result<RequestInit, JsValue> {
    let init = RequestInit::new();
    init.set_method(request.method.as_str());
    let headers = web_sys::Headers::new()?;
    let mut agent = false;
    for h in &request.headers {
        agent |= h.name.eq_ignore_ascii_case("user-agent");
        headers.append(&h.name, &h.value)?;
    }
    let in_node = IN_NODE.with(|n| *n);
    if in_node && !agent {
        headers.append(
            "user-agent",
            concat!("pagewise/", env!("CARGO_PKG_VERSION")),
        )?;
    }
    init.set_headers(&headers);
    match &request.body {
        Some(body) => init.set_body(&Uint8Array::from(&body[..])),
        None => init.set_body(&JsValue::NULL),
    }
    init.set_signal(Some(&controller.signal()));
    if in_node {
        init.set_redirect(RequestRedirect::Manual);
    }
    Ok(init)
}

/// Sends `request` through the global `fetch` (or the caller's) and reads the
/// answer whole in `pages.js`; with `records_at`, a 2xx page body is parsed
/// there. A page left unparsed for a while gives `lease` back as it comes in
/// ([`Lease::arrived`]); otherwise the caller completes it.
async fn exchange(
    request: &Request,
    records_at: Option<&str>,
    fetch: Option<&js_sys::Function>,
    lease: &mut Option<Lease>,
) -> Result<Response, TransportError> {
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let controller = AbortController::new().map_err(|e| other(js_error(&e)))?;
    let init = request_init(request, &controller).map_err(|e| {
        let mut message = String::from("fetch failed: ");
        message.push_str(&js_error(&e));
        other(message)
    })?;
    // Timers take at most 2^31 - 1 ms (about 24.8 days): longer ones
    // would fire at once.
    let timeout_ms = request
        .timeout
        .map_or(-1.0, |limit| limit.as_millis().min(i32::MAX as u128) as f64);
    let (group, place) = match request.in_order.filter(|_| records_at.is_some()) {
        // Exact as JavaScript numbers: sweeps are counted from 1, places are
        // page numbers shifted by 16 bits.
        Some((g, p)) => (JsValue::from_f64(g as f64), JsValue::from_f64(p as f64)),
        None => (JsValue::UNDEFINED, JsValue::UNDEFINED),
    };
    js_begin(id, &controller, timeout_ms, &group, &place);
    let mut guard = CancelOnDrop {
        id,
        controller: Some(controller.clone()),
    };
    // The timer above aborts the request; this one ends the wait if the
    // `fetch` does not heed the abort (the guard then lets go of it).
    let mut expiry = request
        .timeout
        .filter(|limit| limit.as_millis() < (i32::MAX as u128) - ABORT_GRACE.as_millis())
        .map(|limit| futures_timer::Delay::new(limit + ABORT_GRACE));
    let connect = |thrown: &JsValue| {
        failed(
            &controller,
            request.timeout,
            TransportErrorKind::Connect,
            "fetch failed: ",
            thrown,
        )
    };
    let response: web_sys::Response = match fetch {
        None => {
            // The global `fetch`, looked up at each call (a `fetch` replaced
            // after the module loaded is used), with the URL and the init: a
            // `Request` made first would be made again inside `fetch`. Called here rather than
            // through gloo-net's `send`, which panics (in WebAssembly: aborts
            // the module, and Node with it) when `fetch` resolves to anything
            // but a platform `Response` or rejects with anything but an
            // `Error`: a fetch mock or polyfill must not crash the process.
            let pending = global_fetch(&request.url, &init).map_err(|e| connect(&e))?;
            let answer = until(JsFuture::from(pending), &mut expiry)
                .await
                .ok_or_else(|| timed_out(request.timeout))?;
            match answer {
                Ok(value) => value.dyn_into().map_err(|_| {
                    other("fetch failed: the global fetch did not resolve to a Response")
                })?,
                Err(e) if is_abort(&e) && !controller.signal().aborted() => {
                    return Err(TransportError::new(
                        TransportErrorKind::Aborted,
                        "fetch aborted",
                    ));
                }
                Err(e) => return Err(connect(&e)),
            }
        }
        Some(f) => {
            let pending = f
                .call2(&JsValue::UNDEFINED, &JsValue::from_str(&request.url), &init)
                .map_err(|e| {
                    let cause = JsError::new(e);
                    let mut message = String::from("fetch failed: ");
                    message.push_str(&cause.text);
                    other(message).with_source(cause)
                })?;
            let answer = until(JsFuture::from(Promise::resolve(&pending)), &mut expiry)
                .await
                .ok_or_else(|| timed_out(request.timeout))?
                .map_err(|e| connect(&e))?;
            answer.dyn_into().map_err(|_| {
                other("fetch failed: the fetch function did not resolve to a Response")
            })?
        }
    };
    let pointer = records_at.map_or(JsValue::UNDEFINED, JsValue::from_str);
    let body_failed = |e: &JsValue| {
        failed(
            &controller,
            request.timeout,
            TransportErrorKind::Io,
            "reading the body failed: ",
            e,
        )
    };
    let read = |promise: Promise| async {
        let out: Array = JsFuture::from(promise)
            .await
            .map_err(|e| body_failed(&e))?
            .unchecked_into();
        Ok::<Array, TransportError>(out)
    };
    let mut out = until(read(js_read(&response, id, &pointer)), &mut expiry)
        .await
        .ok_or_else(|| timed_out(request.timeout))??;
    if out.get(0).as_f64() == Some(-1.0) {
        // In, and left unparsed until the earlier pages of its sweep are:
        // the request's slot is free now.
        if let Some(l) = lease.take() {
            // [-1, status, headers]: the pacer reads a rate-limit budget now.
            let status = out.get(1).as_f64().unwrap_or(200.0) as u16;
            let head = Response {
                status,
                headers: header_lines(&out.get(2).as_string().unwrap_or_default()),
                body: Vec::new(),
                attachment: None,
            };
            l.arrived_with_headers(&head);
        }
        out = read(js_deferred(id)).await?;
    }
    let status = out.get(0).as_f64().unwrap_or_default() as u16;
    if status == 0 {
        // [0, error]: `pages.js` let go of it already.
        return Err(body_failed(&out.get(1)));
    }
    // Settled: nothing to cancel any more. Records parsed in JavaScript
    // (held under `id`) are released when `parsed` is dropped.
    guard.controller = None;
    // [status, headers, bytes] or [status, headers, body length, skeleton, id, digest, digest]
    let headers = header_lines(&out.get(1).as_string().unwrap_or_default());
    if let Some(text) = out.get(3).as_string() {
        let lane = |i| u64::from(out.get(i).as_f64().unwrap_or_default() as u32);
        let len = out.get(2).as_f64().unwrap_or_default() as usize;
        let digest = (lane(5) << 32) | lane(6);
        return Ok(Response {
            status,
            headers,
            body: text.into_bytes(),
            attachment: Some(Attachment::new(ParsedRecords { id }, len).with_digest(digest)),
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

/// Headers as `pages.js` hands them over: one string, a `name,value` line each.
fn header_lines(lines: &str) -> Vec<(String, String)> {
    lines
        .split('\n')
        .filter_map(|line| line.split_once(','))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

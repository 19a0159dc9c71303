//! The browser transport (wasm32): the global `fetch(url, init)` called
//! directly, an `AbortController` per request for timeouts and cancellation.
//!
//! Per request it crosses into JavaScript as few times as it can: the init
//! (method and headers) goes over as one JSON text, the `fetch` call makes
//! the only `Request` object, the response headers come back as one string,
//! and the body is copied once from its `ArrayBuffer` into a `Vec` that was
//! not zeroed first. A timeout is a JavaScript timer that calls the
//! controller's `abort` itself (no Rust closure, no waker): the fetch then
//! rejects, and the aborted signal tells that the timer fired.

use std::time::Duration;

use futures::future::{select, Either};
use js_sys::{Array, Function, Promise, Uint8Array, JSON};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal};

use super::{AsyncTransport, Lease, TransportFuture};
use crate::core::{Request, Response, TransportError, TransportErrorKind};

#[wasm_bindgen]
extern "C" {
    /// The `RequestInit` dictionary handed to `fetch`: a plain object. (Type
    /// names of this crate's own: wasm-bindgen import shims of the same
    /// name and signature in two crates collide at link time.)
    type PagewiseFetchInit;
    #[wasm_bindgen(method, setter = signal)]
    fn set_signal(this: &PagewiseFetchInit, signal: &AbortSignal);
    #[wasm_bindgen(method, setter = body)]
    fn set_body(this: &PagewiseFetchInit, body: &Uint8Array);

    /// A `Response` of `fetch`.
    type PagewiseFetchResponse;
    #[wasm_bindgen(method, getter)]
    fn status(this: &PagewiseFetchResponse) -> u16;
    #[wasm_bindgen(method, getter)]
    fn headers(this: &PagewiseFetchResponse) -> JsValue;
    #[wasm_bindgen(method, catch, js_name = arrayBuffer)]
    fn array_buffer(this: &PagewiseFetchResponse) -> Result<Promise, JsValue>;

    /// `globalThis.fetch(url, init)`: the same function in windows, web
    /// workers and Node 18+. Throws (rather than rejects) only when there is
    /// no global `fetch`.
    #[wasm_bindgen(catch, js_namespace = globalThis, js_name = fetch)]
    fn global_fetch(url: &str, init: &PagewiseFetchInit) -> Result<Promise, JsValue>;

    /// `AbortController.prototype.abort`, bound to each request's controller
    /// for its timer.
    #[wasm_bindgen(thread_local_v2, js_namespace = ["AbortController", "prototype"], js_name = abort)]
    static ABORT: Function;

    /// `setTimeout(handler, ms)`: a number in browsers, a `Timeout` in Node.
    #[wasm_bindgen(js_namespace = globalThis, js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_namespace = globalThis, js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// Sends requests with the global `fetch` (browsers, web workers, Node 20).
/// Each request has its own `AbortController`: it is aborted when the
/// request times out or when its future is dropped (a cancelled sweep).
/// The browser follows redirects itself, and per the Fetch standard drops
/// `Authorization` on a redirect to another origin.
#[derive(Debug, Clone, Default)]
pub struct FetchTransport {
    _private: (),
}

impl FetchTransport {
    /// A transport over the global `fetch`.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Aborts the fetch if the future is dropped before it finished, and clears
/// the timeout's timer (a pending timer keeps Node running).
struct AbortOnDrop {
    controller: Option<AbortController>,
    timer: Option<JsValue>,
}

impl AbortOnDrop {
    /// The exchange ended: no abort, no timer any more.
    fn disarm(&mut self) {
        self.controller = None;
        if let Some(id) = self.timer.take() {
            clear_timeout(&id);
        }
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.controller.take() {
            c.abort();
        }
        if let Some(id) = self.timer.take() {
            clear_timeout(&id);
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

/// The response headers in one crossing: `Array.from(headers).join("\n")`
/// gives `name,value` lines. Names are tokens (no comma) and the Fetch
/// standard keeps CR, LF and NUL out of values, so the split is exact.
fn response_headers(resp: &PagewiseFetchResponse) -> Vec<(String, String)> {
    let joined = String::from(Array::from(&resp.headers()).join("\n"));
    joined
        .split('\n')
        .filter_map(|line| line.split_once(','))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

fn other(message: impl Into<String>) -> TransportError {
    TransportError::new(TransportErrorKind::Other, message)
}

/// Builds the init and starts the fetch, with the timer of its timeout if it
/// has one. Returned armed: dropping the guard aborts the fetch.
fn start(request: &Request) -> Result<(Promise, AbortSignal, AbortOnDrop), TransportError> {
    let controller =
        AbortController::new().map_err(|_| other("AbortController is not available"))?;
    let json = init_json(request);
    let json = std::str::from_utf8(&json).map_err(|_| other("a header is not UTF-8"))?;
    let init: PagewiseFetchInit = JSON::parse(json)
        .map_err(|e| other(format!("cannot build the request: {}", js_error(&e).1)))?
        .unchecked_into();
    let signal = controller.signal();
    init.set_signal(&signal);
    if let Some(body) = &request.body {
        init.set_body(&Uint8Array::from(&body[..]));
    }
    let promise = global_fetch(&request.url, &init)
        .map_err(|e| other(format!("the global fetch failed: {}", js_error(&e).1)))?;
    let timer = request.timeout.map(|limit| {
        // Timers take at most 2^31 - 1 ms (about 24.8 days): longer ones
        // would fire at once.
        let ms = limit.as_millis().min(i32::MAX as u128) as f64;
        ABORT.with(|abort| set_timeout(&abort.bind0(&controller), ms))
    });
    Ok((
        promise,
        signal,
        AbortOnDrop {
            controller: Some(controller),
            timer,
        },
    ))
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

/// Waits for the answer and reads it whole.
async fn exchange(
    promise: Promise,
    signal: &AbortSignal,
    timeout: Option<Duration>,
) -> Result<Response, TransportError> {
    let resp: PagewiseFetchResponse = JsFuture::from(promise)
        .await
        .map_err(|e| {
            if signal.aborted() {
                return timed_out(timeout);
            }
            let (name, text) = js_error(&e);
            if name == "AbortError" {
                TransportError::new(
                    TransportErrorKind::Aborted,
                    format!("fetch aborted: {text}"),
                )
            } else {
                // fetch rejects with a TypeError for network and CORS failures alike.
                TransportError::new(TransportErrorKind::Connect, format!("fetch failed: {text}"))
            }
        })?
        .unchecked_into();
    let status = resp.status();
    let headers = response_headers(&resp);
    let body_failed = |e: JsValue| {
        if signal.aborted() {
            return timed_out(timeout);
        }
        TransportError::new(
            TransportErrorKind::Io,
            format!("reading the body failed: {}", js_error(&e).1),
        )
    };
    let buffer = JsFuture::from(resp.array_buffer().map_err(body_failed)?)
        .await
        .map_err(body_failed)?;
    // `to_vec` copies into the Vec's uninitialised capacity (no zeroing).
    let body = Uint8Array::new(&buffer).to_vec();
    Ok(Response {
        status,
        headers,
        body,
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
        Box::pin(async move {
            let (promise, signal, mut guard) =
                start(&request).map_err(|e| redacted(e, &request))?;
            let result = exchange(promise, &signal, request.timeout).await;
            guard.disarm();
            result.map_err(|e| redacted(e, &request))
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

//! The npm options. The JS wrapper (`index.js`, `encodeOptions`) hands the
//! data of an options object over as JSON text, read here into the core's
//! option schema (`pagewise::core::schema`, the structs the Rust builders
//! fill): a misspelled name is an error naming it, a bad value one naming
//! the option (`options.pagination.total: ...`). What JSON cannot carry
//! comes apart: the `signal`, the `fetch` function, and `bad`, the first
//! value JSON has no form for (a symbol, NaN...), reported after the
//! schema's own checks so that a misspelled name is still called unknown.

use pagewise::core::schema::{
    from_json, retry_given, FetchManySchema, GetSchema, ListSchema, Pairs, WriteSchema,
};
use pagewise::{
    Api, ApiBuilder, ApiOptions, BatchLookup, BatchWrite, Checkpoint, Error, ErrorKind,
    ListOptions, ManyCheckpoint, Order, RetryPolicy,
};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::AbortSignal;

type Result<T> = std::result::Result<T, Error>;

fn config_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Config, message)
}

/// `value`, read from the JSON text; but `bad`, if the wrapper found a
/// value JSON cannot hold.
fn read<T>(value: Result<T>, bad: Option<String>) -> Result<T> {
    let value = value?;
    match bad {
        Some(message) => Err(config_error(message)),
        None => Ok(value),
    }
}

/// Connections a browser opens to one HTTP/1.1 origin (Chromium, Firefox, Safari).
const BROWSER_H1_CONNECTIONS: usize = 6;

/// Whether this runs in a browser page or worker (not Node, Deno or Bun,
/// whose `fetch` is not held to 6 connections per origin).
fn in_browser() -> bool {
    let global = js_sys::global();
    ["document", "importScripts"]
        .iter()
        .any(|name| js_sys::Reflect::has(&global, &JsValue::from_str(name)).unwrap_or(false))
}

/// The `Api` described by the client options, and the `fetch` function they
/// name (`options.fetch`: every request goes through it instead of the
/// platform's HTTP).
pub(crate) fn api(
    json: &str,
    bad: Option<String>,
    fetch: JsValue,
    token: JsValue,
    events: JsValue,
) -> Result<(Api, Option<js_sys::Function>)> {
    let mut o: ApiOptions = read(ApiOptions::from_json(json), bad)?;
    if let Some(f) = token.dyn_ref::<js_sys::Function>() {
        o.auth = Some(token_provider(f.clone()));
    }
    let fetch = match fetch {
        f if f.is_undefined() || f.is_null() => None,
        f => Some(f.dyn_into::<js_sys::Function>().map_err(|_| {
            config_error("options.fetch must be a function called like the global fetch")
        })?),
    };
    // A browser speaks HTTP/1.1 to an `http:` origin (HTTP/2 needs TLS
    // there) and opens at most 6 connections to it: more requests would
    // wait inside the browser, invisible to the pacer (which then takes
    // them for sent) and to the request timeouts. The client keeps to 6.
    let browser_h1 = in_browser()
        && o.base_url
            .get(..5)
            .is_some_and(|s| s.eq_ignore_ascii_case("http:"));
    if browser_h1 {
        let asked = o.concurrency.unwrap_or(ApiBuilder::DEFAULT_CONCURRENCY);
        o.concurrency = Some(asked.min(BROWSER_H1_CONNECTIONS));
        // The memory asked for stays: the window is the concurrency asked
        // for, not the 6 the browser allows (a window of 6 fills in a
        // fraction of a second while a page waits out a `Retry-After`).
        o.window = o.window.or(Some(asked));
    }
    let mut builder = ApiBuilder::from(o);
    if let Some(f) = events.dyn_ref::<js_sys::Function>() {
        builder = builder.on_event(event_sink(f.clone()));
    }
    builder.build().map(|api| (api, fetch))
}

/// The `ApiBuilder::on_event` callback calling `f`, the JS wrapper's
/// dispatcher to `onRequest`/`onEvent` (which catches what they throw; an
/// exception that still comes back here is dropped: a callback never
/// breaks an operation).
fn event_sink(f: js_sys::Function) -> impl Fn(&pagewise::ApiEvent) + 'static {
    move |e| {
        let event = crate::convert::api_event(e);
        if !event.is_null() {
            let _ = f.call1(&JsValue::UNDEFINED, &event);
        }
    }
}

/// The client options of `json` with the preset they name resolved, as
/// JSON text (`resolveOptions` in the npm package).
pub(crate) fn resolved(json: &str, bad: Option<String>) -> Result<String> {
    read(pagewise::core::preset::resolve_json(json), bad)
}

/// `auth: { type: 'provider', token }`: `token()` (a string, or
/// `{ token, expiresInMs }`, or a promise of either) asked for each token.
fn token_provider(f: js_sys::Function) -> pagewise::Auth {
    pagewise::Auth::provider_async(move || {
        let f = f.clone();
        async move {
            let called = f.call0(&JsValue::UNDEFINED).map_err(rejected)?;
            let v = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&called))
                .await
                .map_err(rejected)?;
            if let Some(t) = v.as_string() {
                return Ok(pagewise::Token::bearer(t));
            }
            let get = |name: &str| js_sys::Reflect::get(&v, &JsValue::from_str(name)).ok();
            let Some(t) = get("token").and_then(|t| t.as_string()) else {
                return Err("auth.token() must give a string or { token, expiresInMs }".into());
            };
            let mut t = pagewise::Token::bearer(t);
            if let Some(ms) = get("expiresInMs").and_then(|m| m.as_f64()) {
                if ms.is_finite() && ms > 0.0 {
                    t = t.expires_in(std::time::Duration::from_millis(ms.min(1e12) as u64));
                }
            }
            Ok::<_, pagewise::BoxError>(t)
        }
    })
}

/// What `auth.token()` threw or rejected with, kept (the `cause` of the
/// `PagewiseError`), described by its message.
fn rejected(e: JsValue) -> pagewise::BoxError {
    let text = js_message(&e);
    Box::new(pagewise::transport::fetch::JsError::described(e, text))
}

/// What a JavaScript error says (its `message`, or the value as a string).
fn js_message(e: &JsValue) -> String {
    js_sys::Reflect::get(e, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "auth.token() failed".into())
}

/// The signal an operation was given, if any.
pub(crate) fn signal(v: JsValue) -> Result<Option<AbortSignal>> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.dyn_into::<AbortSignal>()
        .map(Some)
        .map_err(|_| config_error("options.signal must be an AbortSignal"))
}

/// The `retry` member of `json` over `policy` (the client's), as the npm
/// package documents it: the members given replace the client's.
fn retry_over(json: &str, policy: &RetryPolicy) -> Result<Option<RetryPolicy>> {
    Ok(retry_given(json)?.map(|r| r.over(policy)))
}

/// The options of one `list` of the collection at `path`, and the
/// checkpoint it resumes if that one has nothing left to fetch.
pub(crate) fn list_options(
    path: &str,
    json: &str,
    bad: Option<String>,
    retry_policy: &RetryPolicy,
) -> Result<(ListOptions, Option<Checkpoint>)> {
    let mut s: ListSchema = read(from_json(json), bad)?;
    if s.retry.is_some() {
        s.retry = retry_over(json, retry_policy)?;
    }
    let finished = s.resume.as_ref().filter(|c| c.is_finished()).cloned();
    Ok((s.at(path), finished))
}

/// The options of a job of many items that every kind shares.
pub(crate) struct Many {
    pub(crate) order: Option<Order>,
    pub(crate) concurrency: Option<usize>,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) resume: Option<ManyCheckpoint>,
}

/// The options of one `fetchMany`.
pub(crate) fn fetch_many_options(
    json: &str,
    bad: Option<String>,
    retry_policy: &RetryPolicy,
) -> Result<(Many, Option<Option<BatchLookup>>)> {
    let s: FetchManySchema = read(from_json(json), bad)?;
    let retry = match s.retry {
        Some(_) => retry_over(json, retry_policy)?,
        None => None,
    };
    let many = Many {
        order: s.order,
        concurrency: s.concurrency,
        retry,
        resume: s.resume,
    };
    Ok((many, s.batch))
}

/// The options of one write job beyond [`Many`].
pub(crate) struct Write {
    /// `Some(None)`: `batch: null`, no batch even where the client has a default.
    pub(crate) batch: Option<Option<BatchWrite>>,
    pub(crate) batch_size: Option<usize>,
    pub(crate) idempotency_header: Option<Option<String>>,
    pub(crate) id_field: Option<String>,
}

/// The options of one `insertMany` (`updateMany`, ...).
pub(crate) fn write_options(
    json: &str,
    bad: Option<String>,
    retry_policy: &RetryPolicy,
) -> Result<(Many, Write)> {
    let s: WriteSchema = read(from_json(json), bad)?;
    let retry = match s.retry {
        Some(_) => retry_over(json, retry_policy)?,
        None => None,
    };
    let many = Many {
        order: s.order,
        concurrency: s.concurrency,
        retry,
        resume: s.resume,
    };
    let write = Write {
        batch: s.batch,
        batch_size: s.batch_size,
        idempotency_header: s.idempotency_header,
        id_field: s.id_field,
    };
    Ok((many, write))
}

/// The query pairs of one `get`.
pub(crate) fn get_options(json: &str, bad: Option<String>) -> Result<Pairs> {
    read(from_json::<GetSchema>(json), bad).map(|s| s.query)
}

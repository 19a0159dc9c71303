//! Values crossing to JS: errors as `PagewiseError`s, pages (one JSON text
//! per page, parsed once) and reports. Objects are built with `Reflect`, not
//! serde, to keep the wasm small.

use std::cell::RefCell;

use js_sys::{Array, Function, Object, Reflect, JSON};
use pagewise::core::RawPage;
use std::time::Duration;

use pagewise::core::PacerStats;
use pagewise::{
    Error, ErrorKind, ManyProgress, Notice, Progress, Report, RetryCounts, Watermark, WriteOutcome,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

thread_local! {
    static ERROR_CLASS: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// Hands over the JS `PagewiseError` class: every error leaving Rust is made
/// with `new Class(kind, message, { status, url, page, excerpt })`.
#[wasm_bindgen(js_name = setErrorClass)]
pub fn set_error_class(class: Function) {
    ERROR_CLASS.with(|c| *c.borrow_mut() = Some(class));
}

fn set(obj: &Object, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), &value.into());
}

fn num(n: Option<u64>) -> JsValue {
    n.map_or(JsValue::NULL, |n| JsValue::from_f64(n as f64))
}

fn text(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, JsValue::from_str)
}

/// `e` as a JS `PagewiseError` (a plain `Error` with the same fields if the
/// class was never handed over). The message is the error's `Display`: what
/// went wrong, then the URL, page and status, then the start of the body.
pub(crate) fn error(e: &Error) -> JsValue {
    let message = JsValue::from_str(&e.to_string());
    let kind = JsValue::from_str(e.kind().as_str());
    let details = Object::new();
    set(&details, "status", num(e.status().map(u64::from)));
    set(&details, "url", text(e.url()));
    set(&details, "page", num(e.page()));
    set(&details, "excerpt", text(e.excerpt()));
    // What JavaScript threw, if this error came of it (a failed `fetch`'s
    // `TypeError`, a token provider's rejection): the error's `cause`.
    if let Some(cause) = std::error::Error::source(e).and_then(pagewise::transport::fetch::js_cause)
    {
        set(&details, "cause", cause);
    }
    let made = ERROR_CLASS.with(|c| {
        c.borrow().as_ref().and_then(|class| {
            Reflect::construct(class, &Array::of3(&kind, &message, &details)).ok()
        })
    });
    made.unwrap_or_else(|| {
        let err = js_sys::Error::new(&e.to_string());
        set(&err, "kind", kind);
        err.into()
    })
}

/// The error of an operation stopped by its `AbortSignal` (for the JS layer,
/// which stops handing out records it already holds once the signal fired).
#[wasm_bindgen(js_name = cancelledError)]
pub fn cancelled() -> JsValue {
    error(&Error::new(
        ErrorKind::Cancelled,
        "the operation was aborted by its AbortSignal",
    ))
}

/// Parses JSON text that Rust already checked; a failure is a `decode` error.
pub(crate) fn parse(json: &str, url: Option<&str>) -> Result<JsValue, JsValue> {
    JSON::parse(json).map_err(|_| {
        let mut e = Error::new(
            ErrorKind::Decode,
            "the JSON could not be handed to JavaScript",
        );
        if let Some(url) = url {
            e = e.with_url(url);
        }
        error(&e)
    })
}

#[wasm_bindgen]
extern "C" {
    /// The global `TextDecoder` (browsers, Node 20).
    type TextDecoder;
    #[wasm_bindgen(constructor)]
    fn new() -> TextDecoder;
    /// Takes a view of wasm memory (wasm-bindgen passes `&[u8]` without a copy).
    #[wasm_bindgen(method)]
    fn decode(this: &TextDecoder, bytes: &[u8]) -> js_sys::JsString;
    /// `JSON.parse` of a JS string (js-sys's takes a Rust `&str`).
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    fn parse_js(text: &js_sys::JsString) -> Result<JsValue, JsValue>;
}

thread_local! {
    static DECODER: TextDecoder = TextDecoder::new();
    static BRACKETS: (js_sys::JsString, js_sys::JsString) =
        (js_sys::JsString::from("["), js_sys::JsString::from("]"));
}

/// The records of `page` as one JS array. When they sit together in the
/// body (`a,b,c`, the usual case), that slice of the body is decoded
/// straight from wasm memory and parsed once by `JSON.parse`: no copy in
/// Rust, no UTF-8 pass (the core checked the body). Otherwise (a trimmed or
/// resumed page) their texts are joined into a new array text first.
fn records(page: &RawPage) -> Result<JsValue, JsValue> {
    let records = &page.records;
    // Parsed by the transport already (the usual case): no text at all.
    if let Some(parsed) = pagewise::transport::fetch::parsed_records(records) {
        return parsed.map(JsValue::from).map_err(|()| {
            error(
                &Error::new(
                    ErrorKind::Decode,
                    "the records parsed in JavaScript do not match the page",
                )
                .with_url(page.url.as_str()),
            )
        });
    }
    let text = match records.joined() {
        Some(joined) => {
            let inner = DECODER.with(|d| d.decode(joined));
            BRACKETS.with(|(open, close)| open.concat(&inner).concat(close))
        }
        None => {
            let mut json = Vec::with_capacity(records.body_len() + records.len() + 2);
            json.push(b'[');
            for (i, record) in records.iter().enumerate() {
                if i > 0 {
                    json.push(b',');
                }
                json.extend_from_slice(record);
            }
            json.push(b']');
            DECODER.with(|d| d.decode(&json))
        }
    };
    parse_js(&text).map_err(|_| {
        error(
            &Error::new(
                ErrorKind::Decode,
                "the JSON could not be handed to JavaScript",
            )
            .with_url(page.url.as_str()),
        )
    })
}

/// A page as `{ index, url, total, records }`.
pub(crate) fn page(page: &RawPage, total: Option<u64>) -> Result<JsValue, JsValue> {
    let records = records(page)?;
    Ok(make_page(
        page.index as f64,
        page.url.as_str(),
        &num(total),
        &records,
    ))
}

// A page object in one call (and one shape for every page), where
// `Reflect.set` would take a trip per member and a string per key.
#[wasm_bindgen(module = "/src/page.js")]
extern "C" {
    #[wasm_bindgen(js_name = pagewisePage)]
    fn make_page(index: f64, url: &str, total: &JsValue, records: &JsValue) -> JsValue;
}

fn notice(n: &Notice) -> Object {
    let obj = Object::new();
    match *n {
        Notice::TotalChanged { from, to, page } => {
            set(&obj, "type", "totalChanged");
            set(&obj, "from", from as f64);
            set(&obj, "to", to as f64);
            set(&obj, "page", page as f64);
        }
        Notice::ShortPage {
            page,
            expected,
            got,
        } => {
            set(&obj, "type", "shortPage");
            set(&obj, "page", page as f64);
            set(&obj, "expected", expected as f64);
            set(&obj, "got", got as f64);
        }
        Notice::OversizedPage { page, asked, got } => {
            set(&obj, "type", "oversizedPage");
            set(&obj, "page", page as f64);
            set(&obj, "asked", asked as f64);
            set(&obj, "got", got as f64);
        }
        Notice::TotalMissing { page } => {
            set(&obj, "type", "totalMissing");
            set(&obj, "page", page as f64);
        }
        Notice::ApiUsageHigh { used, limit } => {
            set(&obj, "type", "apiUsageHigh");
            set(&obj, "used", used as f64);
            set(&obj, "limit", limit as f64);
        }
        // Described in words without `Debug` (its formatting machinery
        // costs kilobytes of wasm).
        _ => {
            set(&obj, "type", "other");
            set(
                &obj,
                "message",
                "a notice this version of the bindings does not describe",
            );
        }
    }
    obj
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Retries by cause as `{ throttled, serverError, timeout, transport, badBody }`.
fn retries(r: &RetryCounts) -> Object {
    let obj = Object::new();
    set(&obj, "throttled", r.throttled as f64);
    set(&obj, "serverError", r.server_error as f64);
    set(&obj, "timeout", r.timeout as f64);
    set(&obj, "transport", r.transport as f64);
    set(&obj, "badBody", r.bad_body as f64);
    obj
}

fn opt_millis(d: Option<Duration>) -> JsValue {
    d.map_or(JsValue::NULL, |d| JsValue::from_f64(millis(d)))
}

/// The progress of a running sweep: `{ pages, pagesTotal, records,
/// recordsTotal, bytes, retries, throttledMs, elapsedMs, etaMs }`.
pub(crate) fn progress(p: &Progress) -> JsValue {
    let obj = Object::new();
    set(&obj, "pages", p.pages as f64);
    set(&obj, "pagesTotal", num(p.pages_total));
    set(&obj, "records", p.records as f64);
    set(&obj, "recordsTotal", num(p.records_total));
    set(&obj, "bytes", p.bytes as f64);
    set(&obj, "retries", p.retries as f64);
    set(&obj, "retriesByCause", retries(&p.retries_by_cause));
    set(&obj, "throttledMs", millis(p.throttled));
    set(&obj, "elapsedMs", millis(p.elapsed));
    set(&obj, "etaMs", opt_millis(p.eta));
    obj.into()
}

/// The progress of a job of many items: `{ done, total, failed, unknown, retries,
/// throttledMs, elapsedMs, etaMs }`.
pub(crate) fn many_progress(p: &ManyProgress) -> JsValue {
    let obj = Object::new();
    set(&obj, "done", p.done as f64);
    set(&obj, "total", p.total as f64);
    set(&obj, "failed", p.failed as f64);
    set(&obj, "unknown", p.unknown as f64);
    set(&obj, "retries", p.retries as f64);
    set(&obj, "throttledMs", millis(p.throttled));
    set(&obj, "elapsedMs", millis(p.elapsed));
    set(&obj, "etaMs", opt_millis(p.eta));
    obj.into()
}

thread_local! {
    /// The keys of a fetched item, made once (one per item and key is a
    /// string crossing per `fetchMany` result otherwise).
    static ITEM_KEYS: [JsValue; 3] = [
        JsValue::from_str("id"),
        JsValue::from_str("record"),
        JsValue::from_str("error"),
    ];
}

/// Fetched items, `{ id, record }` or `{ id, error }`, as one array: the
/// batch is written as one JSON text (the records are JSON already) and
/// parsed by one `JSON.parse`, rather than an object and a parse per item.
pub(crate) fn fetched(items: Vec<(String, pagewise::Result<pagewise::JsonText>)>) -> Array {
    let len = items
        .iter()
        .map(|(id, r)| id.len() + r.as_ref().map_or(0, |t| t.as_str().len()) + 24)
        .sum::<usize>();
    let mut text = Vec::with_capacity(len + 2);
    text.push(b'[');
    for (i, (id, r)) in items.iter().enumerate() {
        if i > 0 {
            text.push(b',');
        }
        text.extend_from_slice(b"{\"id\":");
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut text, id.as_str());
        if let Ok(record) = r {
            text.extend_from_slice(b",\"record\":");
            text.extend_from_slice(record.as_str().as_bytes());
        }
        text.push(b'}');
    }
    text.push(b']');
    // The text is JSON (checked records, escaped ids): parsed whole. Each
    // record was checked alone; were the whole not to parse, each item is
    // converted alone and says why.
    let parsed = std::str::from_utf8(&text)
        .ok()
        .and_then(|t| JSON::parse(t).ok())
        .filter(Array::is_array)
        .map(|v| v.unchecked_into::<Array>());
    let out = parsed.unwrap_or_else(|| {
        let out = Array::new();
        for (id, r) in &items {
            out.push(&fetched_one(id, r));
        }
        out
    });
    for (i, (_, r)) in items.iter().enumerate() {
        if let Err(e) = r {
            let obj = out.get(i as u32);
            ITEM_KEYS.with(|k| Reflect::set(&obj, &k[2], &error(e)).ok());
        }
    }
    out
}

/// One fetched item, `{ id, record }`, `{ id, error }` if JavaScript cannot
/// parse it, or `{ id }` (the caller sets the job's error).
fn fetched_one(id: &str, r: &pagewise::Result<pagewise::JsonText>) -> JsValue {
    let obj = Object::new();
    let set = |obj: &Object, key: usize, value: JsValue| {
        ITEM_KEYS.with(|k| Reflect::set(obj, &k[key], &value).ok());
    };
    set(&obj, 0, id.into());
    if let Ok(raw) = r {
        match JSON::parse(raw.as_str()) {
            Ok(v) => set(&obj, 1, v),
            Err(_) => set(
                &obj,
                2,
                error(&Error::new(
                    ErrorKind::Decode,
                    "the JSON could not be handed to JavaScript",
                )),
            ),
        }
    }
    obj.into()
}

/// A write outcome: `{ index, outcome: 'ok', ok: true, id, status }`,
/// `{ index, outcome: 'failed', ok: false, error }`, or, when the answer
/// does not say whether the record was written (kind `outcome-unknown`),
/// `{ index, outcome: 'unknown', ok: null, error }`: never reported as failed,
/// since sending it again may write it twice.
pub(crate) fn written(o: &WriteOutcome) -> JsValue {
    let obj = Object::new();
    set(&obj, "index", o.index as f64);
    match &o.result {
        Ok(w) => {
            set(&obj, "outcome", "ok");
            set(&obj, "ok", true);
            set(&obj, "id", text(w.id.as_deref()));
            set(&obj, "status", w.status);
        }
        Err(e) if e.kind() == ErrorKind::OutcomeUnknown => {
            set(&obj, "outcome", "unknown");
            set(&obj, "ok", JsValue::NULL);
            set(&obj, "error", error(e));
        }
        Err(e) => {
            set(&obj, "outcome", "failed");
            set(&obj, "ok", false);
            set(&obj, "error", error(e));
        }
    }
    obj.into()
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// A checkpoint (JSON) whose first pending page counts its first
/// `consumed` records as handed out.
pub(crate) fn skip_records(json: &str, consumed: u32) -> Result<String, JsValue> {
    let c = parse(json, None)?;
    let first = Array::from(&get(&c, "pending")).get(0);
    if first.is_object() {
        let skip = get(&first, "skip").as_f64().unwrap_or(0.0);
        set(first.unchecked_ref(), "skip", skip + consumed as f64);
        let done = get(&c, "done");
        let records = get(&done, "records").as_f64().unwrap_or(0.0);
        set(done.unchecked_ref(), "records", records + consumed as f64);
    }
    Ok(JSON::stringify(&c).map(String::from).unwrap_or_default())
}

/// What a client's pacer did: `{ throttles, throttledMs, decreases,
/// increases, concurrency, learntRate }`.
pub(crate) fn pacing_stats(
    stats: &PacerStats,
    concurrency: usize,
    learnt_rate: Option<f64>,
    in_flight: usize,
) -> JsValue {
    let obj = Object::new();
    set(&obj, "inFlight", in_flight as f64);
    set(&obj, "throttles", stats.throttles as f64);
    set(&obj, "throttledMs", millis(stats.throttled));
    set(&obj, "decreases", stats.decreases as f64);
    set(&obj, "increases", stats.increases as f64);
    set(&obj, "concurrency", concurrency as f64);
    set(
        &obj,
        "learntRate",
        learnt_rate.map_or(JsValue::NULL, JsValue::from_f64),
    );
    obj.into()
}

/// A report as `{ records, pages, requests, total, complete, durationMs,
/// maxBufferedPages, notices, noticesDropped, retries, throttledMs,
/// changedDuringSweep, bytes, watermark, apiUsage }`.
pub(crate) fn report(r: &Report) -> JsValue {
    let obj = Object::new();
    set(&obj, "records", r.records as f64);
    set(&obj, "pages", r.pages as f64);
    set(&obj, "requests", r.requests as f64);
    set(&obj, "total", num(r.total));
    set(
        &obj,
        "complete",
        r.complete.map_or(JsValue::NULL, JsValue::from_bool),
    );
    set(&obj, "durationMs", millis(r.duration));
    set(&obj, "maxBufferedPages", r.max_buffered_pages as f64);
    let notices: Array = r.notices.iter().map(notice).collect();
    set(&obj, "notices", notices);
    set(&obj, "noticesDropped", r.notices_dropped as f64);
    set(&obj, "retries", retries(&r.retries));
    set(&obj, "throttledMs", millis(r.throttled));
    set(&obj, "changedDuringSweep", r.changed_during_sweep);
    set(&obj, "bytes", r.bytes as f64);
    set(
        &obj,
        "watermark",
        r.watermark.as_ref().map_or(JsValue::NULL, watermark),
    );
    let usage = r.api_usage.map_or(JsValue::NULL, |u| {
        let usage = Object::new();
        set(&usage, "used", u.used as f64);
        set(&usage, "limit", u.limit as f64);
        usage.into()
    });
    set(&obj, "apiUsage", usage);
    obj.into()
}

/// A watermark as `{ field, value, ids }`.
fn watermark(w: &Watermark) -> JsValue {
    let obj = Object::new();
    set(&obj, "field", w.field.as_str());
    set(&obj, "value", w.value.as_str());
    let ids: Array = w.ids.iter().map(|s| JsValue::from_str(s)).collect();
    set(&obj, "ids", ids);
    obj.into()
}

/// An `Api`'s event as the npm package's `ApiEvent`: `{ type: 'request',
/// method, url, status, elapsedMs, bytes, error }`, `{ type: 'retry', method,
/// url, attempt, max, delayMs, cause }`, `{ type: 'cooldown', waitMs, cause }`,
/// `{ type: 'concurrency', from, to, cause }`, `{ type: 'rateLearnt',
/// perSecond }`, `{ type: 'shedding', on }`, `{ type: 'notice', notice }`,
/// `{ type: 'sweepFinished', records, pages, requests, durationMs, complete }`,
/// `{ type: 'tokenRefreshed' }`; `null` for an event this version does not
/// describe (not handed to the callbacks). `message` is the event's log line.
pub(crate) fn api_event(e: &pagewise::ApiEvent) -> JsValue {
    use pagewise::ApiEvent;
    let obj = Object::new();
    match e {
        ApiEvent::Request(r) => {
            set(&obj, "type", "request");
            set(&obj, "method", r.method.as_str());
            set(&obj, "url", r.url.as_str());
            set(&obj, "status", num(r.status.map(u64::from)));
            set(&obj, "elapsedMs", millis(r.elapsed));
            set(&obj, "bytes", r.bytes as f64);
            set(&obj, "error", text(r.error.as_deref()));
        }
        ApiEvent::Retry(r) => {
            set(&obj, "type", "retry");
            set(&obj, "method", r.method.as_str());
            set(&obj, "url", r.url.as_str());
            set(&obj, "attempt", r.attempt as f64);
            set(&obj, "max", r.max as f64);
            set(&obj, "delayMs", millis(r.delay));
            set(&obj, "cause", r.cause.as_str());
        }
        ApiEvent::Cooldown { wait, cause } => {
            set(&obj, "type", "cooldown");
            set(&obj, "waitMs", millis(*wait));
            set(&obj, "cause", cause.as_str());
        }
        ApiEvent::Concurrency { from, to, cause } => {
            set(&obj, "type", "concurrency");
            set(&obj, "from", *from as f64);
            set(&obj, "to", *to as f64);
            set(&obj, "cause", cause.as_str());
        }
        ApiEvent::RateLearnt { per_second } => {
            set(&obj, "type", "rateLearnt");
            set(&obj, "perSecond", *per_second);
        }
        ApiEvent::Shedding { on } => {
            set(&obj, "type", "shedding");
            set(&obj, "on", *on);
        }
        ApiEvent::Notice(n) => {
            set(&obj, "type", "notice");
            set(&obj, "notice", notice(n));
        }
        ApiEvent::SweepFinished {
            records,
            pages,
            requests,
            duration,
            complete,
        } => {
            set(&obj, "type", "sweepFinished");
            set(&obj, "records", *records as f64);
            set(&obj, "pages", *pages as f64);
            set(&obj, "requests", *requests as f64);
            set(&obj, "durationMs", millis(*duration));
            set(
                &obj,
                "complete",
                complete.map_or(JsValue::NULL, JsValue::from_bool),
            );
        }
        ApiEvent::TokenRefreshed => set(&obj, "type", "tokenRefreshed"),
        _ => return JsValue::NULL,
    }
    set(&obj, "message", e.to_string());
    obj.into()
}

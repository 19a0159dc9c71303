//! Values crossing to JS: errors as `PagewiseError`s, pages (one JSON text
//! per page, parsed once) and reports. Objects are built with `Reflect`, not
//! serde, to keep the wasm small.

use std::cell::RefCell;

use js_sys::{Array, Function, Object, Reflect, JSON};
use pagewise::core::RawPage;
use pagewise::{Error, ErrorKind, Notice, Report};
use wasm_bindgen::prelude::*;

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

/// A page as `{ index, url, total, records }`. The records become one JSON
/// array text, `[` + their own texts joined by `,` + `]`, parsed once by
/// `JSON.parse`: no serde per record, one string crossing per page.
pub(crate) fn page(page: &RawPage, total: Option<u64>) -> Result<JsValue, JsValue> {
    let records = &page.records;
    let mut json = Vec::with_capacity(records.body_len() + records.len() + 2);
    json.push(b'[');
    for (i, record) in records.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        json.extend_from_slice(record);
    }
    json.push(b']');
    // Records are slices of a body the core already read as UTF-8 JSON.
    let json = String::from_utf8_lossy(&json);
    let obj = Object::new();
    set(&obj, "index", page.index as f64);
    set(&obj, "url", page.url.as_str());
    set(&obj, "total", num(total));
    set(&obj, "records", parse(&json, Some(&page.url))?);
    Ok(obj.into())
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
        ref other => {
            set(&obj, "type", "other");
            set(&obj, "message", format!("{other:?}"));
        }
    }
    obj
}

/// A report as `{ records, pages, requests, total, complete, durationMs,
/// maxBufferedPages, notices }`.
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
    set(&obj, "durationMs", r.duration.as_secs_f64() * 1000.0);
    set(&obj, "maxBufferedPages", r.max_buffered_pages as f64);
    let notices: Array = r.notices.iter().map(notice).collect();
    set(&obj, "notices", notices);
    obj.into()
}

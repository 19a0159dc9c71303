//! The JS options objects, read field by field (no serde: it would cost tens
//! of kilobytes of wasm), turned into an [`Api`] and [`ListOptions`]. Every
//! problem is a `config` error naming the option, e.g. `options.pagination.total
//! must be ...`; unknown option names are errors too (typos must not be
//! ignored). The library's own checks (`ApiBuilder::build`) come after.

use std::time::Duration;

use js_sys::{Array, Object, Reflect};
use pagewise::{
    Api, Auth, BatchLookup, BatchWrite, Checkpoint, DeltaFilter, Error, ErrorKind, Link,
    ListOptions, ManyCheckpoint, Order, Pacing, Pagination, RetryBudget, RetryPolicy, Total,
    Watermark,
};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::AbortSignal;

type Result<T> = std::result::Result<T, Error>;

fn config_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Config, message)
}

/// Largest integer a JS number holds exactly.
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// A JS options object and where it sits (`options.pagination`), for messages.
pub(crate) struct Opts {
    value: JsValue,
    path: String,
}

impl Opts {
    /// `value` as an options object whose keys are all in `known`;
    /// `undefined` and `null` count as `{}`.
    pub(crate) fn new(value: JsValue, path: &str, known: &[&str]) -> Result<Opts> {
        let value = if value.is_undefined() || value.is_null() {
            Object::new().into()
        } else {
            value
        };
        if !value.is_object() || Array::is_array(&value) {
            return Err(config_error(format!("{path} must be an object")));
        }
        for key in Object::keys(value.unchecked_ref::<Object>()) {
            let key = key.as_string().unwrap_or_default();
            if !known.contains(&key.as_str()) {
                return Err(config_error(format!(
                    "{path} has an unknown option {key:?} (known: {})",
                    known.join(", ")
                )));
            }
        }
        Ok(Opts {
            value,
            path: path.to_string(),
        })
    }

    fn get(&self, name: &str) -> JsValue {
        Reflect::get(&self.value, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
    }

    fn bad(&self, name: &str, what: &str) -> Error {
        config_error(format!("{}.{name} must be {what}", self.path))
    }

    /// A member that is absent (`undefined`/`null`) or whatever `read` makes of it.
    fn opt<T>(
        &self,
        name: &str,
        read: impl FnOnce(&JsValue) -> Option<T>,
        what: &str,
    ) -> Result<Option<T>> {
        let v = self.get(name);
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        read(&v).map(Some).ok_or_else(|| self.bad(name, what))
    }

    /// Like [`opt`](Self::opt), but `null` means "none" (`Some(None)`).
    fn nullable<T>(
        &self,
        name: &str,
        read: impl FnOnce(&JsValue) -> Option<T>,
        what: &str,
    ) -> Result<Option<Option<T>>> {
        let v = self.get(name);
        if v.is_null() {
            return Ok(Some(None));
        }
        self.opt(name, read, what).map(|o| o.map(Some))
    }

    fn string(&self, name: &str) -> Result<Option<String>> {
        self.opt(name, JsValue::as_string, "a string")
    }

    fn count(&self, name: &str) -> Result<Option<u64>> {
        self.opt(name, count, "a non-negative integer")
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>> {
        self.opt(name, JsValue::as_bool, "a boolean")
    }

    fn millis(&self, name: &str) -> Result<Option<Duration>> {
        self.opt(
            name,
            |v| count(v).map(Duration::from_millis),
            "a non-negative integer (milliseconds)",
        )
    }

    fn u32(&self, name: &str) -> Result<Option<u32>> {
        self.opt(
            name,
            |v| count(v).and_then(|n| u32::try_from(n).ok()),
            "an integer from 0 to 4294967295",
        )
    }

    /// A member that must be a plain object, read as options with `known` keys.
    fn object(&self, name: &str, known: &[&str], what: &str) -> Result<Option<Opts>> {
        let v = self.get(name);
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        if !v.is_object() || Array::is_array(&v) {
            return Err(self.bad(name, what));
        }
        Opts::new(v, &format!("{}.{name}", self.path), known).map(Some)
    }

    fn size(&self, name: &str) -> Result<Option<usize>> {
        self.opt(
            name,
            |v| count(v).and_then(|n| usize::try_from(n).ok()),
            "a non-negative integer",
        )
    }

    fn required_string(&self, name: &str) -> Result<String> {
        self.string(name)?.ok_or_else(|| self.bad(name, "a string"))
    }

    /// Name/value pairs: a plain object, an array of `[name, value]` or any
    /// iterable of them (`Map`, `URLSearchParams`, `Headers`); values may be
    /// strings, finite numbers or booleans.
    pub(crate) fn pairs(&self, name: &str) -> Result<Pairs> {
        let v = self.get(name);
        if v.is_undefined() || v.is_null() {
            return Ok(Vec::new());
        }
        let what =
            "an object or an iterable of [name, value] pairs (values: string, number or boolean)";
        let entries: Vec<JsValue> = if v.is_string() || !v.is_object() {
            return Err(self.bad(name, what));
        } else if let Some(array) = v.dyn_ref::<Array>() {
            array.iter().collect()
        } else if let Ok(Some(iter)) = js_sys::try_iter(&v) {
            iter.collect::<std::result::Result<_, _>>()
                .map_err(|_| self.bad(name, what))?
        } else {
            Object::entries(v.unchecked_ref::<Object>())
                .iter()
                .collect()
        };
        entries
            .iter()
            .map(|entry| {
                let pair = entry.dyn_ref::<Array>().filter(|a| a.length() == 2);
                pair.and_then(|a| Some((a.get(0).as_string()?, scalar(&a.get(1))?)))
                    .ok_or_else(|| self.bad(name, what))
            })
            .collect()
    }
}

/// A non-negative integer that a JS number holds exactly.
fn count(v: &JsValue) -> Option<u64> {
    let n = v.as_f64()?;
    ((0.0..=MAX_SAFE).contains(&n) && n.fract() == 0.0).then_some(n as u64)
}

/// A string, a finite number or a boolean, as JS's `String(v)` writes it.
fn scalar(v: &JsValue) -> Option<String> {
    if let Some(s) = v.as_string() {
        return Some(s);
    }
    if let Some(b) = v.as_bool() {
        return Some(b.to_string());
    }
    let n = v.as_f64().filter(|n| n.is_finite())?;
    js_sys::Number::from(n)
        .to_string_with_radix(10)
        .ok()?
        .as_string()
}

/// `{ header }`, `{ pointer }` or `'content-range'`.
fn total(p: &Opts) -> Result<Option<Total>> {
    let v = p.get("total");
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    let what = "{ header: string }, { pointer: string } or 'content-range'";
    if v.as_string().as_deref() == Some("content-range") {
        return Ok(Some(Total::ContentRange));
    }
    if v.is_string() || !v.is_object() {
        return Err(p.bad("total", what));
    }
    let t = Opts::new(v, &format!("{}.total", p.path), &["header", "pointer"])?;
    match (t.string("header")?, t.string("pointer")?) {
        (Some(h), None) => Ok(Some(Total::header(h))),
        (None, Some(ptr)) => Ok(Some(Total::pointer(ptr))),
        _ => Err(p.bad("total", what)),
    }
}

/// `{ pointer }`, `{ header }`, and for next URLs also `'link'`.
fn link(p: &Opts, link_header: bool) -> Result<Link> {
    let v = p.get("from");
    let what = if link_header {
        "{ pointer: string }, { header: string } or 'link'"
    } else {
        "{ pointer: string } or { header: string }"
    };
    if link_header && v.as_string().as_deref() == Some("link") {
        return Ok(Link::LinkHeader);
    }
    if v.is_string() || !v.is_object() {
        return Err(p.bad("from", what));
    }
    let f = Opts::new(v, &format!("{}.from", p.path), &["pointer", "header"])?;
    match (f.string("pointer")?, f.string("header")?) {
        (Some(ptr), None) => Ok(Link::pointer(ptr)),
        (None, Some(h)) => Ok(Link::header(h)),
        _ => Err(p.bad("from", what)),
    }
}

fn pagination(o: &Opts) -> Result<Option<Pagination>> {
    let v = o.get("pagination");
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    if !v.is_object() || Array::is_array(&v) {
        return Err(o.bad("pagination", "an object with a type"));
    }
    let path = format!("{}.pagination", o.path);
    let kind = Reflect::get(&v, &JsValue::from_str("type"))
        .ok()
        .and_then(|t| t.as_string())
        .unwrap_or_default();
    let opt_name = |p: &Opts, name: &str| p.nullable(name, JsValue::as_string, "a string or null");
    Ok(Some(match kind.as_str() {
        "offset" => {
            let p = Opts::new(v, &path, &["type", "total", "offsetParam", "limitParam"])?;
            let mut d = Pagination::offset().params(
                p.string("offsetParam")?.unwrap_or_else(|| "offset".into()),
                p.string("limitParam")?.unwrap_or_else(|| "limit".into()),
            );
            if let Some(t) = total(&p)? {
                d = d.total(t);
            }
            d.into()
        }
        "page" => {
            let p = Opts::new(
                v,
                &path,
                &["type", "firstPage", "total", "pageParam", "sizeParam"],
            )?;
            let mut d = Pagination::page_number();
            if let Some(first) = p.count("firstPage")? {
                d = d.first_page(first);
            }
            if let Some(name) = p.string("pageParam")? {
                d = d.page_param(name);
            }
            if let Some(size) = opt_name(&p, "sizeParam")? {
                d = d.size_param(size.as_deref());
            }
            if let Some(t) = total(&p)? {
                d = d.total(t);
            }
            d.into()
        }
        "cursor" => {
            let p = Opts::new(v, &path, &["type", "from", "param", "limitParam"])?;
            let mut d = Pagination::cursor(link(&p, false)?);
            if let Some(name) = p.string("param")? {
                d = d.param(name);
            }
            if let Some(limit) = opt_name(&p, "limitParam")? {
                d = d.limit_param(limit.as_deref());
            }
            d.into()
        }
        "next" => {
            let p = Opts::new(v, &path, &["type", "from", "limitParam"])?;
            let mut d = Pagination::next_url(link(&p, true)?);
            if let Some(limit) = opt_name(&p, "limitParam")? {
                d = d.limit_param(limit.as_deref());
            }
            d.into()
        }
        "keyset" => {
            let p = Opts::new(v, &path, &["type", "field", "param", "limitParam"])?;
            let mut d = Pagination::keyset(p.required_string("field")?);
            if let Some(name) = p.string("param")? {
                d = d.param(name);
            }
            if let Some(limit) = opt_name(&p, "limitParam")? {
                d = d.limit_param(limit.as_deref());
            }
            d.into()
        }
        _ => {
            return Err(config_error(format!(
                "{path}.type must be 'offset', 'page', 'cursor', 'next' or 'keyset'"
            )))
        }
    }))
}

fn auth(o: &Opts) -> Result<Option<Auth>> {
    let v = o.get("auth");
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    if !v.is_object() || Array::is_array(&v) {
        return Err(o.bad("auth", "an object with a type"));
    }
    let path = format!("{}.auth", o.path);
    let kind = Reflect::get(&v, &JsValue::from_str("type"))
        .ok()
        .and_then(|t| t.as_string())
        .unwrap_or_default();
    Ok(Some(match kind.as_str() {
        "bearer" => {
            let a = Opts::new(v, &path, &["type", "token"])?;
            Auth::bearer(a.required_string("token")?)
        }
        "basic" => {
            let a = Opts::new(v, &path, &["type", "user", "password"])?;
            Auth::basic(a.required_string("user")?, a.required_string("password")?)
        }
        "header" => {
            let a = Opts::new(v, &path, &["type", "name", "value"])?;
            Auth::header(a.required_string("name")?, a.required_string("value")?)
        }
        "query" => {
            let a = Opts::new(v, &path, &["type", "name", "value"])?;
            Auth::query(a.required_string("name")?, a.required_string("value")?)
        }
        _ => {
            return Err(config_error(format!(
                "{path}.type must be 'bearer', 'basic', 'header' or 'query'"
            )))
        }
    }))
}

const RETRY_KEYS: &[&str] = &[
    "maxRetries",
    "baseDelayMs",
    "maxDelayMs",
    "maxRetryAfterMs",
    "budget",
];
const RETRY_WHAT: &str =
    "an object { maxRetries?, baseDelayMs?, maxDelayMs?, maxRetryAfterMs?, budget? }";
const BUDGET_KEYS: &[&str] = &["capacity", "retryCost", "timeoutCost", "successRefund"];
const BUDGET_WHAT: &str =
    "false (no budget) or an object { capacity?, retryCost?, timeoutCost?, successRefund? }";

/// `options.retry` applied over `policy`: the members given replace the
/// policy's; a `budget` object replaces its whole budget (members left out
/// take the defaults of `RetryBudget`), `false` removes it. `None` without
/// a `retry` member.
pub(crate) fn retry(o: &Opts, policy: &RetryPolicy) -> Result<Option<RetryPolicy>> {
    let Some(r) = o.object("retry", RETRY_KEYS, RETRY_WHAT)? else {
        return Ok(None);
    };
    let mut policy = policy.clone();
    if let Some(n) = r.u32("maxRetries")? {
        policy = policy.max_retries(n);
    }
    if let Some(d) = r.millis("baseDelayMs")? {
        policy = policy.base_delay(d);
    }
    if let Some(d) = r.millis("maxDelayMs")? {
        policy = policy.max_delay(d);
    }
    if let Some(d) = r.millis("maxRetryAfterMs")? {
        policy = policy.max_retry_after(d);
    }
    let b = r.get("budget");
    if b.as_bool() == Some(false) {
        policy = policy.budget(None);
    } else if let Some(bo) = r.object("budget", BUDGET_KEYS, BUDGET_WHAT)? {
        let mut budget = RetryBudget::default();
        if let Some(n) = bo.u32("capacity")? {
            budget.capacity = n;
        }
        if let Some(n) = bo.u32("retryCost")? {
            budget.retry_cost = n;
        }
        if let Some(n) = bo.u32("timeoutCost")? {
            budget.timeout_cost = n;
        }
        if let Some(n) = bo.u32("successRefund")? {
            budget.success_refund = n;
        }
        policy = policy.budget(Some(budget));
    }
    Ok(Some(policy))
}

/// `options.pacing`, over the defaults of `Pacing`.
fn pacing(o: &Opts) -> Result<Option<Pacing>> {
    let Some(p) = o.object(
        "pacing",
        &[
            "rateLimit",
            "adaptive",
            "cooldownWithoutRetryAfterMs",
            "maxCooldownMs",
        ],
        "an object { rateLimit?, adaptive?, cooldownWithoutRetryAfterMs?, maxCooldownMs? }",
    )?
    else {
        return Ok(None);
    };
    let mut pacing = Pacing::default();
    let rate_what = "an object { perSecond: number > 0, burst: integer >= 1 }";
    if let Some(r) = p.object("rateLimit", &["perSecond", "burst"], rate_what)? {
        let per_second = r.opt(
            "perSecond",
            |v| v.as_f64().filter(|n| n.is_finite() && *n > 0.0),
            "a positive number (requests per second)",
        )?;
        let burst = r.opt(
            "burst",
            |v| {
                count(v)
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| *n >= 1)
            },
            "an integer from 1 to 4294967295 (requests)",
        )?;
        match (per_second, burst) {
            (Some(rate), Some(burst)) => pacing = pacing.rate_limit(rate, burst),
            _ => return Err(p.bad("rateLimit", rate_what)),
        }
    }
    if let Some(on) = p.boolean("adaptive")? {
        pacing = pacing.adaptive(on);
    }
    if let Some(d) = p.millis("cooldownWithoutRetryAfterMs")? {
        pacing = pacing.cooldown_without_retry_after(d);
    }
    if let Some(d) = p.millis("maxCooldownMs")? {
        pacing = pacing.max_cooldown(d);
    }
    Ok(Some(pacing))
}

/// `options.delta`: how the API filters on an updated-at field (the Rust
/// `DeltaFilter`), `{ param, value, idField?, joiner? }`.
fn delta(o: &Opts) -> Result<Option<DeltaFilter>> {
    let what = "an object { param: string, value: string, idField?: string, joiner?: string }";
    let Some(d) = o.object("delta", &["param", "value", "idField", "joiner"], what)? else {
        return Ok(None);
    };
    let mut filter = DeltaFilter::new(d.required_string("param")?, d.required_string("value")?);
    if let Some(f) = d.string("idField")? {
        filter = filter.id_field(f);
    }
    if let Some(j) = d.string("joiner")? {
        filter = filter.joiner(j);
    }
    Ok(Some(filter))
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
pub(crate) fn api(options: JsValue) -> Result<(Api, Option<js_sys::Function>)> {
    if options.is_undefined() || options.is_null() {
        return Err(config_error(
            "the client options are missing: new Client({ baseUrl, ... })",
        ));
    }
    let o = Opts::new(
        options,
        "options",
        &[
            "baseUrl",
            "auth",
            "headers",
            "query",
            "recordsAt",
            "pagination",
            "pageSize",
            "concurrency",
            "window",
            "timeoutMs",
            "retry",
            "pacing",
            "fetch",
            "delta",
            "allowOrigins",
        ],
    )?;
    let fetch = o.opt(
        "fetch",
        |v| v.dyn_ref::<js_sys::Function>().cloned(),
        "a function called like the global fetch",
    )?;
    let base = o.required_string("baseUrl")?;
    // A browser speaks HTTP/1.1 to an `http:` origin (HTTP/2 needs TLS
    // there) and opens at most 6 connections to it: more requests would
    // wait inside the browser, invisible to the pacer (which then takes
    // them for sent) and to the request timeouts. The client keeps to 6.
    let browser_h1 = in_browser()
        && base
            .get(..5)
            .is_some_and(|s| s.eq_ignore_ascii_case("http:"));
    let mut b = Api::builder(base);
    if let Some(a) = auth(&o)? {
        b = b.auth(a);
    }
    for (name, value) in o.pairs("headers")? {
        b = b.header(name, value);
    }
    for (name, value) in o.pairs("query")? {
        b = b.query(name, value);
    }
    b = allow_origins(&o, b)?;
    if let Some(at) = o.string("recordsAt")? {
        b = b.records_at(at);
    }
    if let Some(p) = pagination(&o)? {
        b = b.pagination(p);
    }
    if let Some(size) = o.count("pageSize")? {
        b = b.page_size(size);
    }
    let concurrency = o.size("concurrency")?;
    let mut window = o.size("window")?;
    if browser_h1 {
        let asked = concurrency.unwrap_or(pagewise::ApiBuilder::DEFAULT_CONCURRENCY);
        b = b.concurrency(asked.min(BROWSER_H1_CONNECTIONS));
        // The memory asked for stays: the window is the concurrency asked
        // for, not the 6 the browser allows (a window of 6 fills in a
        // fraction of a second while a page waits out a `Retry-After`).
        window = window.or(Some(asked));
    } else if let Some(n) = concurrency {
        b = b.concurrency(n);
    }
    if let Some(n) = window {
        b = b.window(n);
    }
    match o.nullable("timeoutMs", count, "a positive integer or null (no limit)")? {
        None => {}
        Some(None) => b = b.timeout(None),
        Some(Some(0)) => return Err(o.bad("timeoutMs", "a positive integer or null (no limit)")),
        Some(Some(ms)) => b = b.timeout(Some(Duration::from_millis(ms))),
    }
    if let Some(policy) = retry(&o, &RetryPolicy::default())? {
        b = b.retry(policy);
    }
    if let Some(p) = pacing(&o)? {
        b = b.pacing(p);
    }
    if let Some(d) = delta(&o)? {
        b = b.delta(d);
    }
    b.build().map(|api| (api, fetch))
}

/// `allowOrigins`: the origins besides the base URL's that next links and
/// redirects may lead to, or `'*'`.
fn allow_origins(o: &Opts, b: pagewise::ApiBuilder) -> Result<pagewise::ApiBuilder> {
    const WHAT: &str = "an array of origins (like \"https://h.example:8443\") or '*'";
    let v = o.get("allowOrigins");
    if v.is_undefined() || v.is_null() {
        return Ok(b);
    }
    if v.as_string().as_deref() == Some("*") {
        return Ok(b.allow_any_origin());
    }
    let origins = v
        .dyn_ref::<Array>()
        .and_then(|a| a.iter().map(|o| o.as_string()).collect::<Option<Vec<_>>>())
        .ok_or_else(|| o.bad("allowOrigins", WHAT))?;
    Ok(b.allow_origins(origins))
}

/// The signal of an options object, if it has one.
pub(crate) fn signal(o: &Opts) -> Result<Option<AbortSignal>> {
    o.opt(
        "signal",
        |v| v.clone().dyn_into::<AbortSignal>().ok(),
        "an AbortSignal",
    )
}

/// The options of one `list` of the collection at `path`, its signal, and
/// the checkpoint it resumes if that one has nothing left to fetch.
/// A `retry` member applies over `retry`, the client's policy.
pub(crate) fn list_options(
    path: &str,
    options: JsValue,
    retry_policy: &RetryPolicy,
) -> Result<(ListOptions, Option<AbortSignal>, Option<Checkpoint>)> {
    let o = Opts::new(
        options,
        "options",
        &[
            "query",
            "order",
            "pageSize",
            "concurrency",
            "window",
            "deadlineMs",
            "retry",
            "verify",
            "signal",
            "onProgress",
            "since",
            "resume",
            "maxTotal",
            "allowRepeatedPages",
        ],
    )?;
    let mut opts = ListOptions::new(path);
    for (name, value) in o.pairs("query")? {
        opts = opts.query(name, value);
    }
    if let Some(order) = order(&o)? {
        opts = opts.order(order);
    }
    if let Some(size) = o.count("pageSize")? {
        opts = opts.page_size(size);
    }
    if let Some(n) = o.size("concurrency")? {
        opts = opts.concurrency(n);
    }
    if let Some(n) = o.size("window")? {
        opts = opts.window(n);
    }
    if let Some(ms) = o.count("deadlineMs")? {
        opts = opts.deadline(Duration::from_millis(ms));
    }
    if let Some(policy) = retry(&o, retry_policy)? {
        opts = opts.retry(policy);
    }
    if let Some(on) = o.boolean("verify")? {
        opts = opts.verify(on);
    }
    if let Some(n) = o.count("maxTotal")? {
        opts = opts.max_total(n);
    }
    if let Some(on) = o.boolean("allowRepeatedPages")? {
        opts = opts.allow_repeated_pages(on);
    }
    let w_what = "an object { field: string, value: string, ids: string[] }";
    if let Some(w) = o.object("since", &["field", "value", "ids"], w_what)? {
        let ids = w.opt("ids", strings, "an array of strings")?;
        opts = opts.since(Watermark {
            field: w.required_string("field")?,
            value: w.required_string("value")?,
            ids: ids.unwrap_or_default(),
        });
    }
    let mut finished = None;
    if let Some(json) = o.string("resume")? {
        let c = Checkpoint::from_json(&json)?;
        if c.is_finished() {
            finished = Some(c.clone());
        }
        opts = opts.resume(c);
    }
    let signal = signal(&o)?;
    Ok((opts, signal, finished))
}

/// An array of strings.
fn strings(v: &JsValue) -> Option<Vec<String>> {
    v.dyn_ref::<Array>()?
        .iter()
        .map(|s| s.as_string())
        .collect()
}

/// `order`: `'page'` or `'completion'`.
fn order(o: &Opts) -> Result<Option<Order>> {
    o.opt(
        "order",
        |v| match v.as_string()?.as_str() {
            "page" => Some(Order::Page),
            "completion" => Some(Order::Completion),
            _ => None,
        },
        "'page' or 'completion'",
    )
}

/// The options of a job of many items that every kind shares.
pub(crate) struct Many {
    pub(crate) order: Option<Order>,
    pub(crate) concurrency: Option<usize>,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) resume: Option<ManyCheckpoint>,
    pub(crate) signal: Option<AbortSignal>,
}

fn many(o: &Opts, retry_policy: &RetryPolicy) -> Result<Many> {
    Ok(Many {
        order: order(o)?,
        concurrency: o.size("concurrency")?,
        retry: retry(o, retry_policy)?,
        resume: match o.string("resume")? {
            Some(json) => Some(ManyCheckpoint::from_json(&json)?),
            None => None,
        },
        signal: signal(o)?,
    })
}

/// The options of one `fetchMany`.
pub(crate) fn fetch_many_options(
    options: JsValue,
    retry_policy: &RetryPolicy,
) -> Result<(Many, Option<BatchLookup>)> {
    let o = Opts::new(
        options,
        "options",
        &[
            "batch",
            "order",
            "concurrency",
            "retry",
            "signal",
            "onProgress",
            "resume",
        ],
    )?;
    let what = "an object { path, param, value?, separator?, max?, recordsAt?, idField? }";
    let batch = match o.object(
        "batch",
        &[
            "path",
            "param",
            "value",
            "separator",
            "max",
            "recordsAt",
            "idField",
        ],
        what,
    )? {
        None => None,
        Some(b) => {
            let mut l = BatchLookup::new(b.required_string("path")?, b.required_string("param")?);
            if let Some(v) = b.string("value")? {
                l = l.value(v);
            }
            if let Some(v) = b.string("separator")? {
                l = l.separator(v);
            }
            if let Some(n) = b.size("max")? {
                l = l.max(n);
            }
            if let Some(v) = b.string("recordsAt")? {
                l = l.records_at(v);
            }
            if let Some(v) = b.string("idField")? {
                l = l.id_field(v);
            }
            Some(l)
        }
    };
    Ok((many(&o, retry_policy)?, batch))
}

/// The options of one write job beyond [`Many`].
pub(crate) struct Write {
    pub(crate) batch: Option<BatchWrite>,
    pub(crate) batch_size: Option<usize>,
    pub(crate) idempotency_header: Option<Option<String>>,
    pub(crate) id_field: Option<String>,
}

/// The options of one `insertMany` (`updateMany`, ...).
pub(crate) fn write_options(options: JsValue, retry_policy: &RetryPolicy) -> Result<(Many, Write)> {
    let o = Opts::new(
        options,
        "options",
        &[
            "batch",
            "batchSize",
            "concurrency",
            "order",
            "idempotencyHeader",
            "idField",
            "retry",
            "signal",
            "onProgress",
            "resume",
        ],
    )?;
    let what = "an object { path, opField?, recordsField?, resultsAt?, resultFields?, max? }";
    let nullable = |p: &Opts, name: &str| p.nullable(name, JsValue::as_string, "a string or null");
    let batch = match o.object(
        "batch",
        &[
            "path",
            "opField",
            "recordsField",
            "resultsAt",
            "resultFields",
            "max",
        ],
        what,
    )? {
        None => None,
        Some(b) => {
            let mut w = BatchWrite::new(b.required_string("path")?);
            if let Some(v) = nullable(&b, "opField")? {
                w = w.op_field(v.as_deref());
            }
            if let Some(v) = nullable(&b, "recordsField")? {
                w = w.records_field(v.as_deref());
            }
            if let Some(v) = b.string("resultsAt")? {
                w = w.results_at(v);
            }
            let fields_what = "an object { ok?, id?, status?, error? } of result member names";
            if let Some(f) = b.object(
                "resultFields",
                &["ok", "id", "status", "error"],
                fields_what,
            )? {
                // Members left out keep the defaults of `BatchWrite::new`.
                w = w.result_fields(
                    &f.string("ok")?.unwrap_or_else(|| "ok".into()),
                    &f.string("id")?.unwrap_or_else(|| "id".into()),
                    &f.string("status")?.unwrap_or_else(|| "status".into()),
                    &f.string("error")?.unwrap_or_else(|| "error".into()),
                );
            }
            if let Some(n) = b.size("max")? {
                w = w.max(n);
            }
            Some(w)
        }
    };
    let write = Write {
        batch,
        batch_size: o.size("batchSize")?,
        idempotency_header: nullable(&o, "idempotencyHeader")?,
        id_field: o.string("idField")?,
    };
    Ok((many(&o, retry_policy)?, write))
}

/// Name/value pairs.
pub(crate) type Pairs = Vec<(String, String)>;

/// The options of one `get`: its query pairs and signal.
pub(crate) fn get_options(options: JsValue) -> Result<(Pairs, Option<AbortSignal>)> {
    let o = Opts::new(options, "options", &["query", "signal"])?;
    Ok((o.pairs("query")?, signal(&o)?))
}

//! The HTTP side: accept loop, the central [`handle`] function, routing and
//! the pagination dialects.

use std::borrow::Cow;
use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::body::Body;
use crate::faults::{Decision, Fault, Faults};
use crate::store::{self, View};
use crate::time::parse_rfc3339;
use crate::{writes, LoggedRequest, Shared};

pub(crate) type Resp = Response<Body>;

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const X_TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");
const X_NEXT_CURSOR: HeaderName = HeaderName::from_static("x-next-cursor");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Rate-limit headers too: a browser hides from a cross-origin page every
/// answer header not listed here, a budget among them.
const EXPOSED_HEADERS: &str =
    "X-Total-Count, Content-Range, Link, X-Next-Cursor, Retry-After, X-Request-Id, \
     RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit, \
     X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Sforce-Limit-Info";
const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
/// Request headers a preflight always allows (besides `*` and those asked).
const ALLOWED_HEADERS: [&str; 4] = [
    "Content-Type",
    "Idempotency-Key",
    "Authorization",
    "X-Api-Key",
];
/// Largest request body read; more is a `413`.
const MAX_REQUEST_BODY: usize = 16 << 20;

/// Accepts connections until `shutdown` fires (or its sender is dropped).
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.keep_alive(true)
        .timer(TokioTimer::new())
        .pipeline_flush(true);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(_) => {
                // E.g. out of file descriptors: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let conn = http.serve_connection(
            TokioIo::new(stream),
            hyper::service::service_fn(move |req| handle(Arc::clone(&shared), req)),
        );
        tokio::spawn(async move {
            // Client resets, half-written requests and injected drops end
            // the connection with an error: nobody to tell.
            let _ = conn.await;
        });
    }
}

/// Decrements `in_flight` when the request is done (or its future is dropped).
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared) -> Self {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Every request goes through here: preflight and control requests are
/// answered without accounting; everything else is counted, read, given its
/// fault decision, delayed by the configured latency, routed, decorated with
/// CORS headers and logged.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Resp, Infallible> {
    let cors = shared.config.cors;
    let resp = handle_request(shared, req).await;
    Ok(if cors { resp } else { without_cors(resp) })
}

/// `--no-cors` ([`Config::cors`](crate::Config::cors) false): every
/// `Access-Control-*` header removed, so a browser hides the answer from a
/// page of another origin.
fn without_cors(mut resp: Resp) -> Resp {
    let headers = resp.headers_mut();
    let names: Vec<_> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for name in names {
        headers.remove(name);
    }
    resp
}

async fn handle_request(shared: Arc<Shared>, req: Request<Incoming>) -> Resp {
    if req.method() == Method::OPTIONS {
        return preflight(&req);
    }
    let (parts, incoming) = req.into_parts();
    // The demo's static files: not counted, no faults, no latency.
    if let Some(resp) = crate::static_files::serve(&shared.config, &parts) {
        return resp;
    }
    let incoming = match crate::oauth::intercept(&shared.oauth, &parts, incoming).await {
        Ok(resp) => return with_cors(resp),
        Err(incoming) => incoming,
    };
    if is_control(parts.uri.path()) {
        return with_cors(control(&shared, &parts, incoming).await);
    }

    let at = shared.started.elapsed();
    let request_id = shared.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let _in_flight = InFlight::enter(&shared);

    let write = !matches!(parts.method, Method::GET | Method::HEAD);
    let body = if write {
        match read_body(incoming).await {
            Ok(body) => body,
            Err(resp) => return finish(&shared, &parts, &[], resp, at, request_id),
        }
    } else {
        Bytes::new()
    };

    // ---- Fault hook -------------------------------------------------------
    // One seeded decision per data request (see `Faults`); a scheduled
    // collection change happens here too, before routing. Faults decided
    // here that replace the answer (fail path, 429, 5xx, a dropped write)
    // skip routing, so writes are not applied; the others alter the routed
    // answer below. Either way the answer goes through `finish`.
    let decision = decide_faults(&shared, &parts, write);

    let delay = latency_for_request(&shared) + decision.slow;
    if !delay.is_zero() {
        crate::timer::sleep(delay).await;
    }

    let resp = match &decision.fault {
        Fault::FailPath(status) | Fault::Error(status) => injected(*status),
        Fault::Throttle(retry_after) => {
            let mut resp = error(StatusCode::TOO_MANY_REQUESTS, "rate limited");
            if let Some(value) = retry_after {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, value.clone());
            }
            resp
        }
        Fault::Drop if write => {
            let mut resp = Response::new(Body::dropped(Bytes::new()));
            resp.headers_mut().insert(header::CONTENT_TYPE, JSON);
            resp
        }
        _ => route(&shared, &parts, &body),
    };
    let (mut resp, altered) = alter(&decision.fault, write, resp);
    for (name, value) in &decision.headers {
        resp.headers_mut().insert(*name, value.clone());
    }
    if matches!(decision.fault, Fault::Throttle(_)) {
        shared.throttled.fetch_add(1, Ordering::Relaxed);
    } else if altered || !decision.slow.is_zero() {
        shared.faults.fetch_add(1, Ordering::Relaxed);
    }
    finish(&shared, &parts, &body, resp, at, request_id)
}

/// Decides this request's faults (none for `/_…` paths) and applies a due
/// collection change.
fn decide_faults(shared: &Shared, parts: &Parts, write: bool) -> Decision {
    let target = target(parts);
    if target.starts_with("/_") {
        return Decision::NONE;
    }
    let mut state = shared.fault_state();
    let decision = state.decide(
        shared.config.seed,
        &target,
        write,
        parts.method == Method::GET,
    );
    if let Some(mutate) = decision.mutate {
        // Under the fault lock, so later requests see the change.
        shared.write_store().mutate(mutate.insert, mutate.delete);
    }
    decision
}

/// The routed answer as altered by `fault`, and whether it was altered.
fn alter(fault: &Fault, write: bool, resp: Resp) -> (Resp, bool) {
    let ok = resp.status() == StatusCode::OK;
    match fault {
        Fault::None | Fault::Throttle(_) => (resp, false),
        Fault::FailPath(_) | Fault::Error(_) => (resp, true),
        Fault::Drop if write => (resp, true),
        Fault::Drop | Fault::AckLoss { drop: true } => {
            let (mut head, body) = resp.into_parts();
            if head.status == StatusCode::NO_CONTENT {
                head.status = StatusCode::OK;
            }
            (
                Response::from_parts(head, Body::dropped(body.into_bytes())),
                true,
            )
        }
        Fault::AckLoss { drop: false } => (injected(StatusCode::SERVICE_UNAVAILABLE), true),
        Fault::Truncate | Fault::Empty | Fault::Null if !ok => (resp, false),
        Fault::Truncate => {
            let (head, body) = resp.into_parts();
            let bytes = body.into_bytes();
            let half = bytes.slice(..bytes.len() / 2);
            (Response::from_parts(head, Body::full(half)), true)
        }
        Fault::Empty => (resp.map(|_| Body::empty()), true),
        Fault::Null => (resp.map(|_| Body::full(Bytes::from_static(b"null"))), true),
    }
}

/// Path and query exactly as received.
fn target(parts: &Parts) -> String {
    parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned())
}

/// Request bodies up to this size are kept in the log ([`LoggedRequest::body`]).
const LOGGED_BODY: usize = 4096;

/// Adds the per-request headers and writes the log entry.
fn finish(
    shared: &Shared,
    parts: &Parts,
    body: &[u8],
    resp: Resp,
    at: Duration,
    request_id: u64,
) -> Resp {
    let mut resp = with_cors(resp);
    resp.headers_mut()
        .insert(X_REQUEST_ID, HeaderValue::from(request_id));
    let entry = LoggedRequest {
        method: parts.method.as_str().to_owned(),
        path: target(parts),
        status: resp.status().as_u16(),
        at,
        idempotency_key: parts
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        content_type: parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: (!body.is_empty() && body.len() <= LOGGED_BODY)
            .then(|| String::from_utf8_lossy(body).into_owned()),
    };
    shared
        .log
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(entry);
    resp
}

/// `latency + U[0, jitter)`, drawn from the seeded, shared splitmix64 stream.
fn latency_for_request(shared: &Shared) -> Duration {
    let config = &shared.config;
    let jitter = config.jitter.as_nanos();
    if jitter == 0 {
        return config.latency;
    }
    let state = shared
        .jitter_rng
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    let extra = u128::from(store::mix64(state)) % jitter;
    config.latency + Duration::from_nanos(u64::try_from(extra).unwrap_or(u64::MAX))
}

/// The whole request body, at most [`MAX_REQUEST_BODY`] bytes.
async fn read_body(incoming: Incoming) -> Result<Bytes, Resp> {
    match Limited::new(incoming, MAX_REQUEST_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large",
        )),
        Err(_) => Err(error(
            StatusCode::BAD_REQUEST,
            "could not read the request body",
        )),
    }
}

// ---------------------------------------------------------------------------
// Responses

fn response(status: StatusCode, content_type: HeaderValue, body: impl Into<Bytes>) -> Resp {
    let mut resp = Response::new(Body::full(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    resp
}

pub(crate) fn json(status: StatusCode, body: impl Into<Bytes>) -> Resp {
    response(status, JSON, body)
}

/// `204 No Content`.
pub(crate) fn no_content() -> Resp {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

pub(crate) fn error(status: StatusCode, message: &str) -> Resp {
    json(status, format!("{{\"error\":{}}}", json_string(message)))
}

/// `{"error":"injected","status":N}` with that status.
fn injected(status: StatusCode) -> Resp {
    json(
        status,
        format!("{{\"error\":\"injected\",\"status\":{}}}", status.as_u16()),
    )
}

/// A rejected request parameter; becomes `400 {"error":"..."}`.
struct BadRequest(String);

impl From<BadRequest> for Resp {
    fn from(BadRequest(message): BadRequest) -> Resp {
        error(StatusCode::BAD_REQUEST, &message)
    }
}

fn not_found_path(path: &str) -> Resp {
    json(
        StatusCode::NOT_FOUND,
        format!("{{\"error\":\"not found\",\"path\":{}}}", json_string(path)),
    )
}

pub(crate) fn method_not_allowed(method: &Method, allow: &'static str) -> Resp {
    let mut resp = json(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{{\"error\":\"method not allowed\",\"method\":{}}}",
            json_string(method.as_str())
        ),
    );
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

fn with_cors(mut resp: Resp) -> Resp {
    let headers = resp.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
    resp
}

/// `Access-Control-Allow-Headers`: `*` when nothing is asked; otherwise `*`,
/// the asked headers (echoed: `*` does not cover `Authorization`) and the
/// [`ALLOWED_HEADERS`] not asked.
fn preflight_allow_headers(requested: Option<&str>) -> HeaderValue {
    let Some(requested) = requested.map(str::trim).filter(|r| !r.is_empty()) else {
        return HeaderValue::from_static("*");
    };
    let asked: Vec<String> = requested
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let mut value = format!("*, {requested}");
    for name in ALLOWED_HEADERS {
        if !asked.contains(&name.to_ascii_lowercase()) {
            value.push_str(", ");
            value.push_str(name);
        }
    }
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("*"))
}

fn preflight(req: &Request<Incoming>) -> Resp {
    let mut resp = with_cors(no_content());
    let headers = resp.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED_METHODS),
    );
    let requested = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|requested| requested.to_str().ok());
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        preflight_allow_headers(requested),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    resp
}

fn is_control(path: &str) -> bool {
    matches!(
        path,
        "/_stats" | "/_reset" | "/_faults" | "/_log" | "/_touch" | "/_insert"
    )
}

/// `GET /_stats`, `GET /_log`, `POST /_reset` and `GET`/`POST`/`DELETE /_faults`.
async fn control(shared: &Shared, parts: &Parts, incoming: Incoming) -> Resp {
    match parts.uri.path() {
        "/_log" => match parts.method {
            Method::GET | Method::HEAD => {
                let log = shared.log.lock().unwrap_or_else(PoisonError::into_inner);
                let entries: Vec<serde_json::Value> = log
                    .iter()
                    .map(|e| {
                        serde_json::json!({
                            "method": e.method,
                            "path": e.path,
                            "status": e.status,
                            "content_type": e.content_type,
                            "body": e.body,
                            "at_ms": e.at.as_secs_f64() * 1000.0,
                        })
                    })
                    .collect();
                json(StatusCode::OK, serde_json::Value::from(entries).to_string())
            }
            ref other => method_not_allowed(other, "GET, HEAD, OPTIONS"),
        },
        "/_stats" => match parts.method {
            Method::GET | Method::HEAD => {
                let stats = shared.stats();
                json(
                    StatusCode::OK,
                    format!(
                        "{{\"requests\":{},\"in_flight\":{},\"max_in_flight\":{},\"faults\":{},\"throttled\":{}}}",
                        stats.requests, stats.in_flight, stats.max_in_flight, stats.faults, stats.throttled
                    ),
                )
            }
            ref other => method_not_allowed(other, "GET, HEAD, OPTIONS"),
        },
        "/_reset" => match parts.method {
            Method::POST => {
                shared.reset();
                no_content()
            }
            ref other => method_not_allowed(other, "POST, OPTIONS"),
        },
        // `POST /_touch` with a JSON array of ids: `TestServer::update`;
        // `POST /_insert?n=N`: `TestServer::insert`, answering the new ids.
        // For clients in another process (the npm package's tests).
        "/_touch" | "/_insert" => match parts.method {
            Method::POST => {
                let body = match read_body(incoming).await {
                    Ok(body) => body,
                    Err(resp) => return resp,
                };
                if parts.uri.path() == "/_touch" {
                    let Ok(ids) = serde_json::from_slice::<Vec<u64>>(&body) else {
                        return json(
                            StatusCode::BAD_REQUEST,
                            r#"{"error":"a JSON array of ids"}"#.to_string(),
                        );
                    };
                    shared.touch(&ids);
                    no_content()
                } else {
                    let n = parts
                        .uri
                        .query()
                        .and_then(|q| q.strip_prefix("n="))
                        .and_then(|n| n.parse::<u64>().ok())
                        .filter(|n| *n <= 100_000);
                    let Some(n) = n else {
                        return json(
                            StatusCode::BAD_REQUEST,
                            r#"{"error":"?n=<count up to 100000>"}"#.to_string(),
                        );
                    };
                    let ids = shared.write_store().insert_generated(n);
                    json(
                        StatusCode::OK,
                        serde_json::to_string(&ids).unwrap_or_default(),
                    )
                }
            }
            ref other => method_not_allowed(other, "POST, OPTIONS"),
        },
        _ => match parts.method {
            Method::GET | Method::HEAD => {
                let faults = shared.fault_state().faults().clone();
                json(
                    StatusCode::OK,
                    serde_json::to_string(&faults).unwrap_or_default(),
                )
            }
            Method::POST => {
                let body = match read_body(incoming).await {
                    Ok(body) => body,
                    Err(resp) => return resp,
                };
                match serde_json::from_slice::<serde_json::Value>(&body)
                    .map_err(|e| e.to_string())
                    .and_then(|value| {
                        if value.is_object() {
                            serde_json::from_value::<Faults>(value).map_err(|e| e.to_string())
                        } else {
                            Err("expected a JSON object".to_owned())
                        }
                    })
                    .map_err(|e| format!("invalid faults: {e}"))
                    .and_then(|faults| faults.validate().map(|()| faults))
                {
                    Ok(faults) => {
                        shared.set_faults(faults);
                        no_content()
                    }
                    Err(message) => error(StatusCode::BAD_REQUEST, &message),
                }
            }
            Method::DELETE => {
                shared.set_faults(Faults::default());
                no_content()
            }
            ref other => method_not_allowed(other, "GET, HEAD, POST, DELETE, OPTIONS"),
        },
    }
}

// ---------------------------------------------------------------------------
// Routing

const LIST_DIALECTS: &[&str] = &[
    "offset",
    "range",
    "page",
    "page0",
    "page-nototal",
    "cursor",
    "cursor-header",
    "link",
    "next",
    "keyset",
];

/// What a path names.
enum Route<'a> {
    /// `/{dialect}/items`
    List(&'a str),
    /// `/items`, `/api/items`
    Collection,
    /// `/items/{id}`, `/api/items/{id}`
    Record(&'a str),
    /// `/batch/items`, `/api/batch/items`
    Batch,
    /// `/composite/sobjects`, `/api/composite/sobjects` (Salesforce's shape)
    Composite,
    /// `POST /shapes/{rows|row|bulk}/items`: batch bodies of other shapes (writes.rs).
    Shaped(&'a str),
    /// `/garbage/{kind}/items`
    Garbage(&'a str),
    /// `/garbage/status/{code}/items`
    GarbageStatus(&'a str),
}

impl Route<'_> {
    fn allow(&self) -> &'static str {
        match self {
            Route::List(_) | Route::Garbage(_) | Route::GarbageStatus(_) => "GET, HEAD, OPTIONS",
            Route::Collection => "GET, HEAD, POST, OPTIONS",
            Route::Record(_) => "GET, HEAD, PUT, PATCH, DELETE, OPTIONS",
            Route::Batch | Route::Composite | Route::Shaped(_) => "POST, OPTIONS",
        }
    }
}

fn classify<'a>(segments: &[&'a str]) -> Option<Route<'a>> {
    Some(match *segments {
        [dialect, "items"] if LIST_DIALECTS.contains(&dialect) => Route::List(dialect),
        ["items"] | ["api", "items"] => Route::Collection,
        ["items", id] | ["api", "items", id] => Route::Record(id),
        ["batch", "items"] | ["api", "batch", "items"] => Route::Batch,
        ["composite", "sobjects"] | ["api", "composite", "sobjects"] => Route::Composite,
        ["shapes", kind, "items"] if writes::SHAPES.contains(&kind) => Route::Shaped(kind),
        ["garbage", kind, "items"]
            if matches!(kind, "html" | "json" | "missing" | "null" | "empty") =>
        {
            Route::Garbage(kind)
        }
        ["garbage", "status", code, "items"] => Route::GarbageStatus(code),
        _ => return None,
    })
}

fn route(shared: &Shared, parts: &Parts, body: &Bytes) -> Resp {
    if let Some(resp) = crate::families::route(shared, parts, body) {
        return resp;
    }
    if let Some(resp) = crate::body_paging::route(shared, parts, body) {
        return resp;
    }
    let path = parts.uri.path();
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let Some(route) = classify(&segments) else {
        return not_found_path(path);
    };
    let read = matches!(parts.method, Method::GET | Method::HEAD);
    let query = Query::parse(parts.uri.query());
    let result = match (&route, read) {
        (Route::List(dialect), true) => list(shared, parts, &query, dialect),
        (Route::Collection, true) => lookup(shared, &query),
        (Route::Collection, false) if parts.method == Method::POST => {
            Ok(writes::create(shared, parts, body))
        }
        (Route::Record(id), true) => single_record(shared, id),
        (Route::Record(id), false)
            if matches!(parts.method, Method::PUT | Method::PATCH | Method::DELETE) =>
        {
            Ok(writes::record(shared, parts, id, body))
        }
        (Route::Batch, false) if parts.method == Method::POST => {
            Ok(writes::batch(shared, parts, body))
        }
        (Route::Composite, false) if parts.method == Method::POST => {
            Ok(writes::composite(shared, parts, body))
        }
        (Route::Shaped(kind), false) if parts.method == Method::POST => {
            Ok(writes::shaped(shared, parts, kind, body))
        }
        (Route::GarbageStatus(code), true) => garbage_status(code),
        (Route::Garbage(kind), true) => Ok(garbage(shared, kind)),
        _ => Ok(method_not_allowed(&parts.method, route.allow())),
    };
    result.unwrap_or_else(Resp::from)
}

fn list(
    shared: &Shared,
    parts: &Parts,
    query: &Query<'_>,
    dialect: &str,
) -> Result<Resp, BadRequest> {
    let min_stamp = stamp_filter(query)?;
    match dialect {
        "offset" => offset_dialect(shared, query, min_stamp),
        "range" => range_dialect(shared, query, min_stamp),
        "page" => page_dialect(shared, query, min_stamp, 1, true),
        "page0" => page_dialect(shared, query, min_stamp, 0, true),
        "page-nototal" => page_dialect(shared, query, min_stamp, 1, false),
        "cursor" => cursor_dialect(shared, query, min_stamp, false),
        "cursor-header" => cursor_dialect(shared, query, min_stamp, true),
        "link" => link_dialect(shared, parts, query, min_stamp),
        "next" => next_dialect(shared, parts, query, min_stamp),
        _ => keyset_dialect(shared, query, min_stamp),
    }
}

/// Decoded query parameters; the first occurrence of a name wins.
struct Query<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Query<'a> {
    fn parse(query: Option<&'a str>) -> Self {
        Query {
            pairs: query
                .map(|q| form_urlencoded::parse(q.as_bytes()).collect())
                .unwrap_or_default(),
        }
    }

    /// The value of `name`; an empty value counts as missing.
    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_ref())
            .filter(|value| !value.is_empty())
    }

    fn u64(&self, name: &str) -> Result<Option<u64>, BadRequest> {
        match self.get(name) {
            None => Ok(None),
            Some(raw) => raw.parse::<u64>().map(Some).map_err(|_| {
                BadRequest(format!(
                    "invalid value for {name}: {raw:?} (expected a non-negative integer)"
                ))
            }),
        }
    }
}

/// `&name=value…` of the raw query pairs whose (decoded) name is not in
/// `paging`, exactly as received: what links to further pages carry along
/// (filters, for one).
fn carried(raw_query: Option<&str>, paging: &[&str]) -> String {
    let mut out = String::new();
    for pair in raw_query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let raw_name = pair.split('=').next().unwrap_or("");
        let name: String = form_urlencoded::parse(raw_name.as_bytes())
            .next()
            .map(|(name, _)| name.into_owned())
            .unwrap_or_default();
        if !paging.contains(&name.as_str()) {
            out.push('&');
            out.push_str(pair);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Filters and lookups

/// Raises `min` (the smallest `updated_at` kept, in seconds) to the bound
/// `instant` sets, `>=` when `inclusive`, else `>`. Stamps are whole
/// seconds, so a fraction rounds the bound up.
fn tighten(min: &mut Option<i64>, instant: crate::time::Instant, inclusive: bool) {
    let bound = if inclusive && !instant.fraction {
        instant.secs
    } else {
        instant.secs.saturating_add(1)
    };
    *min = Some(min.map_or(bound, |m| m.max(bound)));
}

fn bad_timestamp(param: &str, value: &str) -> BadRequest {
    BadRequest(format!(
        "invalid timestamp for {param}: {value:?} (expected RFC 3339, e.g. 2026-03-01T00:00:00Z)"
    ))
}

/// A ServiceNow value: RFC 3339, `YYYY-MM-DD HH:MM:SS` (UTC), or
/// `javascript:gs.dateGenerate('YYYY-MM-DD','HH:MM:SS')`.
fn servicenow_instant(value: &str) -> Option<crate::time::Instant> {
    if let Some(args) = value
        .strip_prefix("javascript:gs.dateGenerate(")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        let (date, time) = args.split_once(',')?;
        let unquote = |s: &str| s.trim().trim_matches('\'').to_owned();
        return parse_rfc3339(&format!("{} {}", unquote(date), unquote(time)), true);
    }
    parse_rfc3339(value, true)
}

/// The smallest `updated_at` (Unix seconds) the `updated_at` filters of the
/// query keep, or `None` when there is no filter.
fn stamp_filter(query: &Query<'_>) -> Result<Option<u64>, BadRequest> {
    let mut min: Option<i64> = None;
    for (name, value) in &query.pairs {
        let (name, value) = (name.as_ref(), value.as_ref());
        match name {
            "updated_at_gt" | "updated_at_gte" if !value.is_empty() => {
                let instant =
                    parse_rfc3339(value, false).ok_or_else(|| bad_timestamp(name, value))?;
                tighten(&mut min, instant, name == "updated_at_gte");
            }
            "updated_at" => {
                let (inclusive, raw) = if let Some(raw) = value.strip_prefix("gte.") {
                    (true, raw)
                } else if let Some(raw) = value.strip_prefix("gt.") {
                    (false, raw)
                } else {
                    return Err(BadRequest(format!(
                        "unsupported filter updated_at={value:?} (expected gt.<RFC 3339> or gte.<RFC 3339>)"
                    )));
                };
                let instant = parse_rfc3339(raw, false).ok_or_else(|| bad_timestamp(name, raw))?;
                tighten(&mut min, instant, inclusive);
            }
            "sysparm_query" => {
                for clause in value.split('^').map(str::trim) {
                    let (inclusive, raw) = if let Some(raw) = clause.strip_prefix("updated_at>=") {
                        (true, raw)
                    } else if let Some(raw) = clause.strip_prefix("updated_at>") {
                        (false, raw)
                    } else {
                        continue;
                    };
                    let instant = servicenow_instant(raw.trim())
                        .ok_or_else(|| bad_timestamp("sysparm_query", raw))?;
                    tighten(&mut min, instant, inclusive);
                }
            }
            _ => {}
        }
    }
    Ok(min.map(|m| u64::try_from(m).unwrap_or(0)))
}

/// Ids of `ids=1,2,3` / `id=in.(1,2,3)` (empty entries are skipped).
fn id_list(raw: &str, param: &str) -> Result<Vec<u64>, BadRequest> {
    raw.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<u64>().map_err(|_| {
                BadRequest(format!(
                    "invalid id in {param}: {part:?} (expected non-negative integers)"
                ))
            })
        })
        .collect()
}

/// `GET /items?ids=1,2,3` or `?id=in.(1,2,3)`: the records that exist (and
/// pass an `updated_at` filter, if any), in the order asked, each once.
fn lookup(shared: &Shared, query: &Query<'_>) -> Result<Resp, BadRequest> {
    let ids = if let Some(raw) = query.get("ids") {
        id_list(raw, "ids")?
    } else if let Some(raw) = query.get("id") {
        let inner = raw
            .strip_prefix("in.(")
            .and_then(|rest| rest.strip_suffix(')'))
            .ok_or_else(|| {
                BadRequest(format!(
                    "unsupported filter id={raw:?} (expected in.(1,2,3))"
                ))
            })?;
        id_list(inner, "id")?
    } else {
        return Err(BadRequest(
            "expected ids=1,2,3 or id=in.(1,2,3) (list endpoints are /{dialect}/items)".to_owned(),
        ));
    };
    let max = shared.config.max_page_size.max(1);
    if ids.len() as u64 > max {
        return Err(BadRequest(format!(
            "too many ids: {} (at most {max})",
            ids.len()
        )));
    }
    let min_stamp = stamp_filter(query)?.unwrap_or(0);
    let store = shared.read_store();
    let mut seen = HashSet::with_capacity(ids.len());
    let records: Vec<Bytes> = ids
        .into_iter()
        .filter(|id| seen.insert(*id))
        .filter(|id| store.stamp(*id).is_some_and(|stamp| stamp >= min_stamp))
        .filter_map(|id| store.get(id).cloned())
        .collect();
    drop(store);
    Ok(json(
        StatusCode::OK,
        page_body(b"{\"items\":[", &records, b"]}"),
    ))
}

/// The page size from `name`: default when missing, clamped to
/// `max_page_size`; at least 1 unless `allow_zero` (offset-style dialects,
/// where `limit=0` is a cheap way to ask for the total).
fn page_size(
    shared: &Shared,
    query: &Query<'_>,
    name: &str,
    allow_zero: bool,
) -> Result<u64, BadRequest> {
    let max = shared.config.max_page_size.max(1);
    let requested = query.u64(name)?.unwrap_or(shared.config.default_page_size);
    let size = requested.min(max);
    Ok(if allow_zero { size } else { size.max(1) })
}

/// `prefix` + records joined by commas + `suffix`, in one exact allocation.
pub(crate) fn page_body(prefix: &[u8], records: &[Bytes], suffix: &[u8]) -> Bytes {
    let len = prefix.len()
        + records.iter().map(Bytes::len).sum::<usize>()
        + records.len().saturating_sub(1)
        + suffix.len();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(prefix);
    for (i, record) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(record);
    }
    out.extend_from_slice(suffix);
    Bytes::from(out)
}

fn offset_dialect(
    shared: &Shared,
    query: &Query<'_>,
    min_stamp: Option<u64>,
) -> Result<Resp, BadRequest> {
    let offset = query.u64("offset")?.unwrap_or(0);
    let limit = page_size(shared, query, "limit", true)?;
    let store = shared.read_store();
    let view = store.view(min_stamp);
    let total = view.len();
    let (_, records) = view.window(offset, limit);
    let body = page_body(
        b"{\"data\":[",
        records,
        format!("],\"meta\":{{\"total\":{total}}}}}").as_bytes(),
    );
    drop(view);
    drop(store);
    let mut resp = json(StatusCode::OK, body);
    resp.headers_mut()
        .insert(X_TOTAL_COUNT, HeaderValue::from(total));
    Ok(resp)
}

fn range_dialect(
    shared: &Shared,
    query: &Query<'_>,
    min_stamp: Option<u64>,
) -> Result<Resp, BadRequest> {
    let offset = query.u64("offset")?.unwrap_or(0);
    let limit = page_size(shared, query, "limit", true)?;
    let store = shared.read_store();
    let view = store.view(min_stamp);
    let total = view.len();
    let (_, records) = view.window(offset, limit);
    let content_range = if records.is_empty() {
        format!("items */{total}")
    } else {
        let first = offset;
        let last = offset + records.len() as u64 - 1;
        format!("items {first}-{last}/{total}")
    };
    let body = page_body(b"[", records, b"]");
    drop(view);
    drop(store);
    let mut resp = json(StatusCode::OK, body);
    resp.headers_mut().insert(
        header::CONTENT_RANGE,
        HeaderValue::from_str(&content_range).expect("ascii header"),
    );
    Ok(resp)
}

/// Page number (validated against `first`) and page size, and the offset they mean.
fn page_params(
    shared: &Shared,
    query: &Query<'_>,
    first: u64,
) -> Result<(u64, u64, u64), BadRequest> {
    let page = query.u64("page")?.unwrap_or(first);
    if page < first {
        return Err(BadRequest(format!("page must be >= {first}")));
    }
    let per_page = page_size(shared, query, "per_page", false)?;
    let offset = (page - first).saturating_mul(per_page);
    Ok((page, per_page, offset))
}

fn page_dialect(
    shared: &Shared,
    query: &Query<'_>,
    min_stamp: Option<u64>,
    first: u64,
    with_total: bool,
) -> Result<Resp, BadRequest> {
    let (page, per_page, offset) = page_params(shared, query, first)?;
    let store = shared.read_store();
    let view = store.view(min_stamp);
    let (_, records) = view.window(offset, per_page);
    let suffix = if with_total {
        format!("],\"total\":{},\"page\":{page}}}", view.len())
    } else {
        "]}".to_owned()
    };
    let body = page_body(b"{\"results\":[", records, suffix.as_bytes());
    drop(view);
    drop(store);
    Ok(json(StatusCode::OK, body))
}

const CURSOR_MASK: u64 = 0x5DEE_CE66_D1CE_CAFE;

pub(crate) fn encode_cursor(last_id: u64) -> String {
    format!("c{:016x}", last_id ^ CURSOR_MASK)
}

pub(crate) fn decode_cursor(cursor: &str) -> Option<u64> {
    let hex = cursor.strip_prefix('c')?;
    if hex.len() != 16 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(|v| v ^ CURSOR_MASK)
}

/// The records after `after` (all when `None`), at most `limit`, and the last
/// id of the page when more records follow it.
fn keyset_page<'v>(
    view: &'v View<'_>,
    after: Option<u64>,
    limit: u64,
) -> (&'v [Bytes], Option<u64>) {
    let start = after.map_or(0, |after| view.position_after(after));
    let (ids, records) = view.window(start as u64, limit);
    let more = start + ids.len() < view.ids().len();
    let next = if more { ids.last().copied() } else { None };
    (records, next)
}

fn cursor_dialect(
    shared: &Shared,
    query: &Query<'_>,
    min_stamp: Option<u64>,
    in_header: bool,
) -> Result<Resp, BadRequest> {
    let after = match query.get("cursor") {
        None => None,
        Some(cursor) => Some(
            decode_cursor(cursor)
                .ok_or_else(|| BadRequest(format!("invalid cursor: {cursor:?}")))?,
        ),
    };
    let limit = page_size(shared, query, "limit", false)?;
    let store = shared.read_store();
    let view = store.view(min_stamp);
    let (records, next) = keyset_page(&view, after, limit);
    let next = next.map(encode_cursor);
    if in_header {
        let body = page_body(b"[", records, b"]");
        drop(view);
        drop(store);
        let mut resp = json(StatusCode::OK, body);
        if let Some(next) = next {
            resp.headers_mut().insert(
                X_NEXT_CURSOR,
                HeaderValue::from_str(&next).expect("hex cursor"),
            );
        }
        Ok(resp)
    } else {
        let suffix = match next {
            Some(next) => format!("],\"next_cursor\":\"{next}\"}}"),
            None => "],\"next_cursor\":null}".to_owned(),
        };
        let body = page_body(b"{\"items\":[", records, suffix.as_bytes());
        drop(view);
        drop(store);
        Ok(json(StatusCode::OK, body))
    }
}

/// `Host` header when usable, else the bound address.
pub(crate) fn authority(shared: &Shared, parts: &Parts) -> String {
    parts
        .headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        })
        .map_or_else(|| shared.addr.to_string(), str::to_owned)
}

fn link_dialect(
    shared: &Shared,
    parts: &Parts,
    query: &Query<'_>,
    min_stamp: Option<u64>,
) -> Result<Resp, BadRequest> {
    let (page, per_page, offset) = page_params(shared, query, 1)?;
    let store = shared.read_store();
    let view = store.view(min_stamp);
    let total = view.len();
    let (_, records) = view.window(offset, per_page);
    let body = page_body(b"[", records, b"]");
    drop(view);
    drop(store);

    let last = total.div_ceil(per_page).max(1);
    let base = format!("http://{}{}", authority(shared, parts), parts.uri.path());
    let extra = carried(parts.uri.query(), &["page", "per_page"]);
    let link =
        |p: u64, rel: &str| format!("<{base}?page={p}&per_page={per_page}{extra}>; rel=\"{rel}\"");
    let mut links = Vec::with_capacity(4);
    if page < last {
        links.push(link(page + 1, "next"));
    }
    links.push(link(last, "last"));
    if page > 1 {
        links.push(link(1, "first"));
        links.push(link(page - 1, "prev"));
    }

    let mut resp = json(StatusCode::OK, body);
    if let Ok(value) = HeaderValue::from_str(&links.join(", ")) {
        resp.headers_mut().insert(header::LINK, value);
    }
    Ok(resp)
}

fn next_dialect(
    shared: &Shared,
    parts: &Parts,
    query: &Query<'_>,
    min_stamp: Option<u64>,
) -> Result<Resp, BadRequest> {
    let after = query.u64("after")?;
    let limit = page_size(shared, query, "limit", false)?;
    let store = shared.read_store();
    let view = store.view(min_stamp);
    let (records, next) = keyset_page(&view, after, limit);
    let suffix = match next {
        Some(last) => {
            let extra = carried(parts.uri.query(), &["after", "limit"]);
            let next = json_string(&format!("items?after={last}&limit={limit}{extra}"));
            format!("],\"links\":{{\"next\":{next}}}}}")
        }
        None => "],\"links\":{\"next\":null}}".to_owned(),
    };
    let body = page_body(b"{\"items\":[", records, suffix.as_bytes());
    drop(view);
    drop(store);
    Ok(json(StatusCode::OK, body))
}

fn keyset_dialect(
    shared: &Shared,
    query: &Query<'_>,
    min_stamp: Option<u64>,
) -> Result<Resp, BadRequest> {
    let after = query.u64("id_gt")?;
    let limit = page_size(shared, query, "limit", false)?;
    let store = shared.read_store();
    let view = store.view(min_stamp);
    let (records, _) = keyset_page(&view, after, limit);
    let body = page_body(b"{\"items\":[", records, b"]}");
    drop(view);
    drop(store);
    Ok(json(StatusCode::OK, body))
}

fn single_record(shared: &Shared, raw_id: &str) -> Result<Resp, BadRequest> {
    let id: u64 = raw_id.parse().map_err(|_| {
        BadRequest(format!(
            "invalid id: {raw_id:?} (expected a non-negative integer)"
        ))
    })?;
    let record = shared.read_store().get(id).cloned();
    Ok(match record {
        Some(body) => json(StatusCode::OK, body),
        None => json(
            StatusCode::NOT_FOUND,
            format!("{{\"error\":\"not found\",\"id\":{id}}}"),
        ),
    })
}

fn garbage(shared: &Shared, kind: &str) -> Resp {
    match kind {
        "html" => response(
            StatusCode::OK,
            HeaderValue::from_static("text/html; charset=utf-8"),
            Bytes::from_static(b"<!doctype html><html><body><h1>Login required</h1></body></html>"),
        ),
        "json" => json(
            StatusCode::OK,
            Bytes::from_static(b"{\"data\":[{\"id\":1,\"name\":\"trunc"),
        ),
        "missing" => {
            let total = shared.read_store().len();
            let mut resp = json(StatusCode::OK, Bytes::from_static(b"{\"rows\":[]}"));
            resp.headers_mut()
                .insert(X_TOTAL_COUNT, HeaderValue::from(total));
            resp
        }
        "null" => json(StatusCode::OK, Bytes::from_static(b"null")),
        "empty" => json(StatusCode::OK, Bytes::new()),
        _ => not_found_path(&format!("/garbage/{kind}/items")),
    }
}

fn garbage_status(raw_code: &str) -> Result<Resp, BadRequest> {
    let status = raw_code
        .parse::<u16>()
        .ok()
        .filter(|code| (200..=599).contains(code))
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| {
            BadRequest(format!(
                "invalid status code: {raw_code:?} (expected 200..=599)"
            ))
        })?;
    Ok(json(
        status,
        format!("{{\"error\":\"injected\",\"status\":{}}}", status.as_u16()),
    ))
}

/// A JSON string literal (with quotes) for `s`.
pub(crate) fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_rejects_garbage() {
        for id in [0, 1, 99, 1050, u64::MAX] {
            assert_eq!(decode_cursor(&encode_cursor(id)), Some(id));
        }
        for bad in [
            "",
            "c",
            "x0000000000000001",
            "c000000000000000G",
            "cABCDEF0123456789",
            "c00",
        ] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }

    #[test]
    fn json_string_escapes() {
        assert_eq!(json_string("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
    }

    #[test]
    fn page_body_joins() {
        let recs = [Bytes::from_static(b"1"), Bytes::from_static(b"2")];
        assert_eq!(&page_body(b"[", &recs, b"]")[..], b"[1,2]");
        assert_eq!(&page_body(b"[", &[], b"]")[..], b"[]");
    }
}

//! The HTTP side: accept loop, the central [`handle`] function, routing and
//! the pagination dialects.

use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::store::{self, Store};
use crate::{LoggedRequest, Shared};

/// Response body type: the whole page in one buffer.
pub(crate) type Body = Full<Bytes>;
type Resp = Response<Body>;

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const X_TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");
const X_NEXT_CURSOR: HeaderName = HeaderName::from_static("x-next-cursor");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const EXPOSED_HEADERS: &str =
    "X-Total-Count, Content-Range, Link, X-Next-Cursor, Retry-After, X-Request-Id";
const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";

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
            // Client resets and half-written requests are the client's business.
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
/// answered without accounting; everything else is counted, delayed by the
/// configured latency, routed, decorated with CORS headers and logged.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    if req.method() == Method::OPTIONS {
        return Ok(preflight(&req));
    }
    if let Some(resp) = control(&shared, &req) {
        return Ok(with_cors(resp));
    }

    let at = shared.started.elapsed();
    let request_id = shared.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let _in_flight = InFlight::enter(&shared);

    // ---- Fault hook -------------------------------------------------------
    // A per-request fault decision (error status share, 429 + Retry-After,
    // dropped connection, truncated body, slow response) belongs here: decide
    // once from the seeded RNG and the request, then either answer with the
    // fault (still through `finish` below, so it is logged and gets CORS) or
    // fall through to normal routing.
    // ------------------------------------------------------------------------

    let delay = latency_for_request(&shared);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let resp = route(&shared, &req);
    Ok(finish(&shared, &req, resp, at, request_id))
}

/// Adds the per-request headers and writes the log entry.
fn finish(
    shared: &Shared,
    req: &Request<Incoming>,
    resp: Resp,
    at: Duration,
    request_id: u64,
) -> Resp {
    let mut resp = with_cors(resp);
    resp.headers_mut()
        .insert(X_REQUEST_ID, HeaderValue::from(request_id));
    let entry = LoggedRequest {
        method: req.method().as_str().to_owned(),
        path: req
            .uri()
            .path_and_query()
            .map_or_else(|| req.uri().path().to_owned(), |pq| pq.as_str().to_owned()),
        status: resp.status().as_u16(),
        at,
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

// ---------------------------------------------------------------------------
// Responses

fn response(status: StatusCode, content_type: HeaderValue, body: impl Into<Bytes>) -> Resp {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    resp
}

fn json(status: StatusCode, body: impl Into<Bytes>) -> Resp {
    response(status, JSON, body)
}

fn error(status: StatusCode, message: &str) -> Resp {
    json(status, format!("{{\"error\":{}}}", json_string(message)))
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

fn method_not_allowed(method: &Method, allow: &'static str) -> Resp {
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

fn preflight(req: &Request<Incoming>) -> Resp {
    let mut resp = with_cors(Response::new(Full::new(Bytes::new())));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let headers = resp.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED_METHODS),
    );
    let allow_headers = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|requested| requested.to_str().ok())
        .map(str::trim)
        .filter(|requested| !requested.is_empty())
        .and_then(|requested| HeaderValue::from_str(&format!("*, {requested}")).ok())
        .unwrap_or(HeaderValue::from_static("*"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allow_headers);
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    resp
}

/// `GET /_stats` and `POST /_reset`; `None` for every other path.
fn control(shared: &Shared, req: &Request<Incoming>) -> Option<Resp> {
    match req.uri().path() {
        "/_stats" => Some(match *req.method() {
            Method::GET | Method::HEAD => {
                let stats = shared.stats();
                json(
                    StatusCode::OK,
                    format!(
                        "{{\"requests\":{},\"in_flight\":{},\"max_in_flight\":{}}}",
                        stats.requests, stats.in_flight, stats.max_in_flight
                    ),
                )
            }
            ref other => method_not_allowed(other, "GET, HEAD, OPTIONS"),
        }),
        "/_reset" => Some(match *req.method() {
            Method::POST => {
                shared.reset();
                let mut resp = Response::new(Full::new(Bytes::new()));
                *resp.status_mut() = StatusCode::NO_CONTENT;
                resp
            }
            ref other => method_not_allowed(other, "POST, OPTIONS"),
        }),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Routing

fn route(shared: &Shared, req: &Request<Incoming>) -> Resp {
    let path = req.uri().path();
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let is_read = matches!(*req.method(), Method::GET | Method::HEAD);

    let known = match segments.as_slice() {
        [dialect, "items"] => matches!(
            *dialect,
            "offset"
                | "range"
                | "page"
                | "page0"
                | "page-nototal"
                | "cursor"
                | "cursor-header"
                | "link"
                | "next"
                | "keyset"
        ),
        ["items", _id] => true,
        ["garbage", kind, "items"] => {
            matches!(*kind, "html" | "json" | "missing" | "null" | "empty")
        }
        ["garbage", "status", _code, "items"] => true,
        _ => false,
    };
    if !known {
        return not_found_path(path);
    }
    if !is_read {
        return method_not_allowed(req.method(), "GET, HEAD, OPTIONS");
    }

    let query = Query::parse(req.uri().query());
    let result = match segments.as_slice() {
        ["offset", "items"] => offset_dialect(shared, &query),
        ["range", "items"] => range_dialect(shared, &query),
        ["page", "items"] => page_dialect(shared, &query, 1, true),
        ["page0", "items"] => page_dialect(shared, &query, 0, true),
        ["page-nototal", "items"] => page_dialect(shared, &query, 1, false),
        ["cursor", "items"] => cursor_dialect(shared, &query, false),
        ["cursor-header", "items"] => cursor_dialect(shared, &query, true),
        ["link", "items"] => link_dialect(shared, req, &query),
        ["next", "items"] => next_dialect(shared, &query),
        ["keyset", "items"] => keyset_dialect(shared, &query),
        ["items", id] => single_record(shared, id),
        ["garbage", "status", code, "items"] => garbage_status(code),
        ["garbage", kind, "items"] => Ok(garbage(shared, kind)),
        _ => Ok(not_found_path(path)),
    };
    result.unwrap_or_else(Resp::from)
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
fn page_body(prefix: &[u8], records: &[Bytes], suffix: &[u8]) -> Bytes {
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

fn offset_dialect(shared: &Shared, query: &Query<'_>) -> Result<Resp, BadRequest> {
    let offset = query.u64("offset")?.unwrap_or(0);
    let limit = page_size(shared, query, "limit", true)?;
    let store = shared.read_store();
    let total = store.len();
    let (_, records) = store.window(offset, limit);
    let body = page_body(
        b"{\"data\":[",
        records,
        format!("],\"meta\":{{\"total\":{total}}}}}").as_bytes(),
    );
    drop(store);
    let mut resp = json(StatusCode::OK, body);
    resp.headers_mut()
        .insert(X_TOTAL_COUNT, HeaderValue::from(total));
    Ok(resp)
}

fn range_dialect(shared: &Shared, query: &Query<'_>) -> Result<Resp, BadRequest> {
    let offset = query.u64("offset")?.unwrap_or(0);
    let limit = page_size(shared, query, "limit", true)?;
    let store = shared.read_store();
    let total = store.len();
    let (_, records) = store.window(offset, limit);
    let content_range = if records.is_empty() {
        format!("items */{total}")
    } else {
        let first = offset;
        let last = offset + records.len() as u64 - 1;
        format!("items {first}-{last}/{total}")
    };
    let body = page_body(b"[", records, b"]");
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
    first: u64,
    with_total: bool,
) -> Result<Resp, BadRequest> {
    let (page, per_page, offset) = page_params(shared, query, first)?;
    let store = shared.read_store();
    let (_, records) = store.window(offset, per_page);
    let suffix = if with_total {
        format!("],\"total\":{},\"page\":{page}}}", store.len())
    } else {
        "]}".to_owned()
    };
    let body = page_body(b"{\"results\":[", records, suffix.as_bytes());
    drop(store);
    Ok(json(StatusCode::OK, body))
}

const CURSOR_MASK: u64 = 0x5DEE_CE66_D1CE_CAFE;

fn encode_cursor(last_id: u64) -> String {
    format!("c{:016x}", last_id ^ CURSOR_MASK)
}

fn decode_cursor(cursor: &str) -> Option<u64> {
    let hex = cursor.strip_prefix('c')?;
    if hex.len() != 16 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(|v| v ^ CURSOR_MASK)
}

/// The records after `after` (all when `None`), at most `limit`, and the last
/// id of the page when more records follow it.
fn keyset_page(store: &Store, after: Option<u64>, limit: u64) -> (&[Bytes], Option<u64>) {
    let start = after.map_or(0, |after| store.position_after(after));
    let (ids, records) = store.window(start as u64, limit);
    let more = start + ids.len() < store.ids().len();
    let next = if more { ids.last().copied() } else { None };
    (records, next)
}

fn cursor_dialect(shared: &Shared, query: &Query<'_>, in_header: bool) -> Result<Resp, BadRequest> {
    let after = match query.get("cursor") {
        None => None,
        Some(cursor) => Some(
            decode_cursor(cursor)
                .ok_or_else(|| BadRequest(format!("invalid cursor: {cursor:?}")))?,
        ),
    };
    let limit = page_size(shared, query, "limit", false)?;
    let store = shared.read_store();
    let (records, next) = keyset_page(&store, after, limit);
    let next = next.map(encode_cursor);
    if in_header {
        let body = page_body(b"[", records, b"]");
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
        drop(store);
        Ok(json(StatusCode::OK, body))
    }
}

/// `Host` header when usable, else the bound address.
fn authority(shared: &Shared, req: &Request<Incoming>) -> String {
    req.headers()
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
    req: &Request<Incoming>,
    query: &Query<'_>,
) -> Result<Resp, BadRequest> {
    let (page, per_page, offset) = page_params(shared, query, 1)?;
    let store = shared.read_store();
    let total = store.len();
    let (_, records) = store.window(offset, per_page);
    let body = page_body(b"[", records, b"]");
    drop(store);

    let last = total.div_ceil(per_page).max(1);
    let base = format!("http://{}{}", authority(shared, req), req.uri().path());
    let link = |p: u64, rel: &str| format!("<{base}?page={p}&per_page={per_page}>; rel=\"{rel}\"");
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

fn next_dialect(shared: &Shared, query: &Query<'_>) -> Result<Resp, BadRequest> {
    let after = query.u64("after")?;
    let limit = page_size(shared, query, "limit", false)?;
    let store = shared.read_store();
    let (records, next) = keyset_page(&store, after, limit);
    let suffix = match next {
        Some(last) => format!("],\"links\":{{\"next\":\"items?after={last}&limit={limit}\"}}}}"),
        None => "],\"links\":{\"next\":null}}".to_owned(),
    };
    let body = page_body(b"{\"items\":[", records, suffix.as_bytes());
    drop(store);
    Ok(json(StatusCode::OK, body))
}

fn keyset_dialect(shared: &Shared, query: &Query<'_>) -> Result<Resp, BadRequest> {
    let after = query.u64("id_gt")?;
    let limit = page_size(shared, query, "limit", false)?;
    let store = shared.read_store();
    let (records, _) = keyset_page(&store, after, limit);
    let body = page_body(b"{\"items\":[", records, b"]}");
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

//! Internals that the fuzz targets (`fuzz/`) and their short stable run
//! (`tests/fuzz_stable.rs`) call. Not part of the API: hidden from the docs,
//! and free to change with any release.

use std::ops::Range;
use std::time::Duration;

use super::http::Response;
use super::url::Url;

/// The page scanner on `body` as a sweep reads a page: the byte ranges of
/// the first `keep` records at the pointer `records_at` and how many
/// records there are; or why the body is not a page.
pub fn page_records(
    body: &str,
    records_at: &str,
    keep: usize,
) -> Result<(Vec<Range<usize>>, usize), String> {
    let mut b = super::page::Body::parse_keeping(body, records_at, keep).map_err(|e| e.0)?;
    let ranges = b.records().map_err(|e| e.0)?;
    Ok((ranges, b.record_count()))
}

/// The value at the pointer `ptr` of a page read with `records_at` (the
/// total, cursor or next link are read so); `Ok(None)` when missing.
pub fn page_get(body: &str, records_at: &str, ptr: &str) -> Result<Option<String>, String> {
    let b = super::page::Body::parse(body, records_at).map_err(|e| e.0)?;
    let v = b.get(ptr).map_err(|e| e.0)?;
    Ok(v.map(|v| String::from_utf8_lossy(v).into_owned()))
}

/// The scanner checking `body` as one JSON value.
pub fn validate(body: &[u8]) -> Result<(), String> {
    super::page::validate(body).map(|_| ()).map_err(|e| e.0)
}

/// The `rel="next"` target of `Link` header values.
pub fn link_next(values: &[&str]) -> Option<String> {
    super::page::link_next(values.iter().copied())
}

/// The total of a `Content-Range` header value.
pub fn content_range_total(value: &str) -> Option<u64> {
    super::page::content_range_total(value)
}

/// The wait an answer's `Retry-After` (and `Date`) asks for.
pub fn retry_after(resp: &Response) -> Option<Duration> {
    super::retry::retry_after(resp)
}

/// Seconds since 1970 of an HTTP date (`Date`, `Retry-After`).
pub fn http_date(text: &str) -> Option<u64> {
    super::retry::http_date(text)
}

/// The text of a JSON string's contents (between its quotes), unescaped.
pub fn unescape(raw: &[u8]) -> Result<String, &'static str> {
    super::page::unescape(raw)
}

/// `input` joined to `base` by the WebAssembly build's own fast path, when
/// it takes it (a plain relative path).
pub fn join_plain(base: &Url, input: &str) -> Option<Url> {
    base.join_plain(input)
}

/// The pieces of a URL as the core reads them from its serialization:
/// (has a host, has user info, query pairs).
pub fn url_parts(u: &Url) -> (bool, bool, Vec<(String, String)>) {
    (u.has_host(), u.has_userinfo(), u.query_pairs())
}

/// The URL without its user info.
pub fn clear_userinfo(u: &Url) -> Url {
    let mut u = u.clone();
    u.clear_userinfo();
    u
}

/// The URL with a `/` at the end of its path.
pub fn ensure_trailing_slash(u: &Url) -> Url {
    let mut u = u.clone();
    u.ensure_trailing_slash();
    u
}

/// The URL with `pairs` appended to its query.
pub fn append_query_pairs(u: &Url, pairs: &[(&str, &str)]) -> Url {
    let mut u = u.clone();
    u.append_query_pairs(pairs.iter().copied());
    u
}

/// The URL with its query replaced by `pairs`.
pub fn set_query_pairs(u: &Url, pairs: &[(String, String)], keep_empty: bool) -> Url {
    let mut u = u.clone();
    u.set_query_pairs(pairs, keep_empty);
    u
}

//! API families: the seeded collection served in the wire formats of real
//! APIs (ServiceNow, Salesforce, GitHub, JSON:API, PostgREST, Stripe), each
//! under its own path prefix. Every family reads and writes the one store,
//! so a write through any family is seen by every other route; requests go
//! through the server's latency, faults and request log like any other.
//! See `tests/server/FAMILIES.md` for what each family implements.

// Handlers return their error answer (a `Response`) as `Err`: one per
// request, never on a hot path.
#![allow(clippy::result_large_err)]

mod github;
mod jsonapi;
mod postgrest;
mod salesforce;
mod servicenow;
mod stripe;

use std::cmp::Ordering;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::StatusCode;
use serde_json::{Map, Value};

use crate::server::Resp;
use crate::store::Store;
use crate::Shared;

/// Settings of the API families (part of [`crate::Config`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyConfig {
    /// ServiceNow: the largest `sysparm_limit` served (larger is clamped),
    /// also the page size when none is asked. ServiceNow documents 10000.
    pub servicenow_max_limit: u64,
    /// Salesforce: the query batch size when `Sforce-Query-Options:
    /// batchSize=N` is not sent (Salesforce: 2000; asked sizes are clamped
    /// to `200..=2000`).
    pub salesforce_batch_size: u64,
    /// Salesforce: the daily API request limit shown in `Sforce-Limit-Info`.
    pub salesforce_api_limit: u64,
    /// GitHub: requests allowed per window (GitHub: 5000 per hour).
    pub github_budget: u64,
    /// GitHub: the length of the rate-limit window (GitHub: one hour).
    pub github_window: Duration,
    /// GitHub: the status of a primary rate-limit answer, `403` or `429`.
    pub github_limit_status: u16,
    /// GitHub: the secondary rate limit, off when `None`.
    pub github_secondary: Option<SecondaryLimit>,
    /// JSON:API: the largest `page[limit]` / `page[size]` (larger is
    /// clamped), also the page size when none is asked.
    pub jsonapi_max_page_size: u64,
    /// JSON:API: whether list answers carry `meta.total` (and `links.last`).
    pub jsonapi_meta_total: bool,
    /// PostgREST: `db-max-rows`, the most rows one answer holds.
    pub postgrest_max_rows: u64,
    /// PostgREST / Supabase: when set, every request needs this `apikey`
    /// header (or `apikey` query parameter).
    pub postgrest_apikey: Option<String>,
    /// When set, ServiceNow, Salesforce, GitHub, JSON:API and Stripe routes
    /// need `Authorization: Bearer <token>` (GitHub also `token <token>`,
    /// Stripe also Basic with the token as user name).
    pub token: Option<String>,
    /// ServiceNow: when set, Basic auth with this user and password is
    /// accepted (and, without `token`, required).
    pub basic: Option<(String, String)>,
}

impl Default for FamilyConfig {
    fn default() -> Self {
        FamilyConfig {
            servicenow_max_limit: 1000,
            salesforce_batch_size: 2000,
            salesforce_api_limit: 15000,
            github_budget: 5000,
            github_window: Duration::from_secs(3600),
            github_limit_status: 403,
            github_secondary: None,
            jsonapi_max_page_size: 50,
            jsonapi_meta_total: true,
            postgrest_max_rows: 1000,
            postgrest_apikey: None,
            token: None,
            basic: None,
        }
    }
}

/// GitHub's secondary rate limit: every `every`-th GitHub request (counted
/// from start or the last reset) trips it, and for `retry_after_secs` after
/// that every GitHub request is answered `status` with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecondaryLimit {
    /// Every how many requests the limit trips (at least 1).
    pub every: u64,
    /// `403` or `429`.
    pub status: u16,
    /// The `Retry-After` seconds, also how long the limit holds.
    pub retry_after_secs: u64,
}

/// Mutable state of the families (GitHub budget, Salesforce cursors and
/// usage counter). Cleared by a server reset.
#[derive(Debug, Default)]
pub(crate) struct State {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    github: github::Budget,
    salesforce: salesforce::Cursors,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn reset(&self) {
        *self.lock() = Inner::default();
    }
}

/// Answers the request when its path belongs to a family; `None` otherwise.
pub(crate) fn route(shared: &Shared, parts: &Parts, body: &Bytes) -> Option<Resp> {
    let path = parts.uri.path();
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let req = Req {
        shared,
        parts,
        body,
        query: Params::parse(parts.uri.query()),
    };
    match segments.as_slice() {
        ["api", "now", "table", rest @ ..] => Some(servicenow::handle(&req, rest)),
        ["services", "data", version, rest @ ..] if version.starts_with('v') => {
            Some(salesforce::handle(&req, version, rest))
        }
        ["repos", owner, repo, "issues", rest @ ..] => {
            Some(github::handle(&req, owner, repo, rest))
        }
        ["jsonapi", rest @ ..] => Some(jsonapi::handle(&req, rest)),
        ["rest", "v1", rest @ ..] => Some(postgrest::handle(&req, rest)),
        ["v1", rest @ ..] => Some(stripe::handle(&req, rest)),
        _ => None,
    }
}

/// One request as the families see it.
pub(crate) struct Req<'a> {
    shared: &'a Shared,
    parts: &'a Parts,
    body: &'a Bytes,
    query: Params,
}

impl Req<'_> {
    fn config(&self) -> &FamilyConfig {
        &self.shared.config.families
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.parts
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
    }

    fn is_read(&self) -> bool {
        matches!(self.parts.method, hyper::Method::GET | hyper::Method::HEAD)
    }

    /// `http://host` as the client addressed the server.
    fn origin(&self) -> String {
        format!(
            "http://{}",
            crate::server::authority(self.shared, self.parts)
        )
    }

    /// The bearer token of `Authorization`, if any.
    fn bearer(&self) -> Option<&str> {
        let value = self.header("authorization")?;
        let (scheme, rest) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    }

    /// User and password of Basic `Authorization`, if any.
    fn basic(&self) -> Option<(String, String)> {
        let value = self.header("authorization")?;
        let (scheme, rest) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = String::from_utf8(base64_decode(rest.trim())?).ok()?;
        let (user, password) = decoded.split_once(':')?;
        Some((user.to_owned(), password.to_owned()))
    }

    /// The body as a JSON value, `None` when it is not JSON.
    fn json_body(&self) -> Option<Value> {
        serde_json::from_slice(self.body).ok()
    }
}

/// Standard base64 (padding optional); `None` on anything else.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Decoded query parameters in order (`+` is a space, as in forms).
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    fn parse(query: Option<&str>) -> Params {
        Params {
            pairs: query
                .map(|q| {
                    form_urlencoded::parse(q.as_bytes())
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The first value of `name` (an empty value counts as given).
    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The query re-encoded, without the parameters named in `drop`, and
    /// with `set` appended.
    fn rebuild(&self, drop: &[&str], set: &[(&str, String)]) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.iter().filter(|(k, _)| !drop.contains(k)) {
            out.append_pair(k, v);
        }
        for (k, v) in set {
            out.append_pair(k, v);
        }
        out.finish()
    }
}

// ---------------------------------------------------------------------------
// Records and selection

/// Seconds from the epoch to 2025-01-01T00:00:00Z: `created` of id 0.
const CREATED_BASE: u64 = 1_735_689_600;

/// The creation time families show for record `id`: one minute per id
/// after 2025-01-01, so newer records (higher ids) were created later.
pub(crate) fn created_of(id: u64) -> u64 {
    CREATED_BASE + id.saturating_mul(60)
}

/// A stored record taken apart: its id, `updated_at` (Unix seconds) and
/// its other fields.
#[derive(Debug, Clone)]
pub(crate) struct Rec {
    pub(crate) id: u64,
    pub(crate) stamp: u64,
    pub(crate) fields: Map<String, Value>,
}

impl Rec {
    fn load(store: &Store, id: u64) -> Option<Rec> {
        let stamp = store.stamp(id)?;
        let mut fields = fields_of(store.get(id)?);
        fields.remove("id");
        fields.remove("updated_at");
        Some(Rec { id, stamp, fields })
    }

    fn created(&self) -> u64 {
        created_of(self.id)
    }
}

fn fields_of(body: &[u8]) -> Map<String, Value> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// What a condition or sort key looks at.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    /// The record id.
    Id,
    /// `updated_at`, Unix seconds.
    Stamp,
    /// [`created_of`], Unix seconds.
    Created,
    /// A stored field (exact name, else case-insensitive).
    Field(String),
}

/// A value compared: numbers compare as numbers, text as text, a number
/// with text by parsing the text; `Null` equals only `Null`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Num(f64),
    Text(String),
    Null,
}

impl Scalar {
    fn of(value: Option<&Value>) -> Scalar {
        match value {
            None | Some(Value::Null) => Scalar::Null,
            Some(Value::Number(n)) => Scalar::Num(n.as_f64().unwrap_or(f64::NAN)),
            Some(Value::String(s)) => Scalar::Text(s.clone()),
            Some(Value::Bool(b)) => Scalar::Text(b.to_string()),
            Some(other) => Scalar::Text(other.to_string()),
        }
    }

    fn compare(&self, other: &Scalar) -> Option<Ordering> {
        match (self, other) {
            (Scalar::Null, Scalar::Null) => Some(Ordering::Equal),
            (Scalar::Null, _) | (_, Scalar::Null) => None,
            (Scalar::Num(a), Scalar::Num(b)) => a.partial_cmp(b),
            (Scalar::Text(a), Scalar::Text(b)) => Some(a.cmp(b)),
            (Scalar::Num(a), Scalar::Text(b)) => match b.trim().parse::<f64>() {
                Ok(b) => a.partial_cmp(&b),
                Err(_) => Some(a.to_string().cmp(b)),
            },
            (Scalar::Text(_), Scalar::Num(_)) => other.compare(self).map(Ordering::reverse),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Test {
    Cmp(Op, Scalar),
    In(Vec<Scalar>),
}

/// One filter condition; all conditions of a query must hold.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cond {
    pub(crate) target: Target,
    pub(crate) test: Test,
}

impl Cond {
    fn cmp(target: Target, op: Op, value: Scalar) -> Cond {
        Cond {
            target,
            test: Test::Cmp(op, value),
        }
    }
}

/// One sort key; ties fall back to the id, ascending.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sort {
    pub(crate) target: Target,
    pub(crate) desc: bool,
}

fn value_of(target: &Target, id: u64, stamp: u64, fields: &Map<String, Value>) -> Scalar {
    match target {
        Target::Id => Scalar::Num(id as f64),
        Target::Stamp => Scalar::Num(stamp as f64),
        Target::Created => Scalar::Num(created_of(id) as f64),
        Target::Field(name) => Scalar::of(field(fields, name)),
    }
}

/// Field `name` of `fields`: the exact name, else a case-insensitive match.
fn field<'m>(fields: &'m Map<String, Value>, name: &str) -> Option<&'m Value> {
    fields.get(name).or_else(|| {
        fields
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    })
}

fn holds(test: &Test, value: &Scalar) -> bool {
    match test {
        Test::Cmp(op, wanted) => {
            let ord = value.compare(wanted);
            match op {
                Op::Eq => ord == Some(Ordering::Equal),
                Op::Ne => ord != Some(Ordering::Equal),
                Op::Gt => ord == Some(Ordering::Greater),
                Op::Gte => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                Op::Lt => ord == Some(Ordering::Less),
                Op::Lte => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
            }
        }
        Test::In(values) => values
            .iter()
            .any(|wanted| value.compare(wanted) == Some(Ordering::Equal)),
    }
}

/// The ids of the records that pass every condition, ordered by `sorts`
/// (then by id, ascending). Decodes records only when a condition or key
/// looks at a stored field.
pub(crate) fn select(store: &Store, conds: &[Cond], sorts: &[Sort]) -> Vec<u64> {
    let needs_fields = conds
        .iter()
        .map(|c| &c.target)
        .chain(sorts.iter().map(|s| &s.target))
        .any(|t| matches!(t, Target::Field(_)));
    let empty = Map::new();
    let mut rows: Vec<(u64, Vec<Scalar>)> = Vec::new();
    for &id in store.ids() {
        let Some(stamp) = store.stamp(id) else {
            continue;
        };
        let decoded;
        let fields = if needs_fields {
            decoded = store.get(id).map(|b| fields_of(b)).unwrap_or_default();
            &decoded
        } else {
            &empty
        };
        if conds
            .iter()
            .all(|c| holds(&c.test, &value_of(&c.target, id, stamp, fields)))
        {
            let keys = sorts
                .iter()
                .map(|s| value_of(&s.target, id, stamp, fields))
                .collect();
            rows.push((id, keys));
        }
    }
    if !sorts.is_empty() {
        rows.sort_by(|(a_id, a), (b_id, b)| {
            for (i, sort) in sorts.iter().enumerate() {
                // Nulls last ascending, first descending (as SQL does).
                let ord = match (&a[i], &b[i]) {
                    (Scalar::Null, Scalar::Null) => Ordering::Equal,
                    (Scalar::Null, _) => Ordering::Greater,
                    (_, Scalar::Null) => Ordering::Less,
                    (x, y) => x.compare(y).unwrap_or(Ordering::Equal),
                };
                let ord = if sort.desc { ord.reverse() } else { ord };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            a_id.cmp(b_id)
        });
    }
    rows.into_iter().map(|(id, _)| id).collect()
}

/// `ids[offset..offset+limit]`, clamped.
pub(crate) fn window(ids: &[u64], offset: u64, limit: u64) -> &[u64] {
    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(ids.len());
    let end = start
        .saturating_add(usize::try_from(limit).unwrap_or(usize::MAX))
        .min(ids.len());
    &ids[start..end]
}

/// The fields a write may set: `fields` without the names in `drop`
/// (compared case-insensitively).
pub(crate) fn writable(fields: &Map<String, Value>, drop: &[&str]) -> Map<String, Value> {
    fields
        .iter()
        .filter(|(k, _)| !drop.iter().any(|d| d.eq_ignore_ascii_case(k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Whether a written record asks to be refused (`"reject": true`), the
/// server's convention for a validation failure.
pub(crate) fn wants_rejection(fields: &Map<String, Value>) -> bool {
    fields.get("reject").and_then(Value::as_bool) == Some(true)
}

// ---------------------------------------------------------------------------
// Time formats

/// `YYYY-MM-DD HH:MM:SS` (UTC), ServiceNow's format.
pub(crate) fn format_servicenow(secs: u64) -> String {
    crate::time::format_rfc3339(secs)
        .trim_end_matches('Z')
        .replacen('T', " ", 1)
}

/// `YYYY-MM-DDTHH:MM:SS.000+0000`, Salesforce's format.
pub(crate) fn format_salesforce(secs: u64) -> String {
    format!(
        "{}.000+0000",
        crate::time::format_rfc3339(secs).trim_end_matches('Z')
    )
}

/// Unix seconds of an RFC 3339 date-time, also with an offset written
/// `+HHMM` (Salesforce); a fraction rounds up, so `>=` keeps its meaning
/// on whole-second stamps. `zone_optional`: a missing zone means UTC.
pub(crate) fn parse_instant(text: &str, zone_optional: bool) -> Option<i64> {
    let text = text.trim();
    let normalized;
    let text = match text.as_bytes() {
        [.., s @ (b'+' | b'-'), h1, h2, m1, m2]
            if text.len() >= 24 && [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) =>
        {
            let cut = text.len() - 5;
            normalized = format!(
                "{}{}{}{}:{}{}",
                &text[..cut],
                *s as char,
                *h1 as char,
                *h2 as char,
                *m1 as char,
                *m2 as char
            );
            normalized.as_str()
        }
        _ => text,
    };
    crate::time::parse_rfc3339(text, zone_optional).map(|i| i.secs + i64::from(i.fraction))
}

// ---------------------------------------------------------------------------
// Ids

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` in base 62, left-padded with `0` to `width`.
pub(crate) fn base62(mut n: u64, width: usize) -> String {
    let mut digits = Vec::new();
    while n > 0 {
        digits.push(BASE62[(n % 62) as usize]);
        n /= 62;
    }
    while digits.len() < width {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

pub(crate) fn unbase62(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.bytes().try_fold(0u64, |acc, c| {
        let digit = BASE62.iter().position(|&d| d == c)? as u64;
        acc.checked_mul(62)?.checked_add(digit)
    })
}

// ---------------------------------------------------------------------------
// Responses

/// A response with `body` serialized and `content_type`.
pub(crate) fn reply(status: StatusCode, content_type: &'static str, body: &Value) -> Resp {
    bytes_reply(status, content_type, body.to_string())
}

pub(crate) fn bytes_reply(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Resp {
    let mut resp = crate::server::json(status, body);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

pub(crate) fn set_header(resp: &mut Resp, name: &'static str, value: impl ToString) {
    if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
        resp.headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

pub(crate) fn no_content() -> Resp {
    crate::server::no_content()
}

pub(crate) const JSON: &str = "application/json";
pub(crate) const JSON_UTF8: &str = "application/json;charset=UTF-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_round_trip() {
        for n in [0, 1, 61, 62, 1050, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(unbase62(&base62(n, 12)), Some(n));
        }
        assert_eq!(base62(61, 3), "00z");
        assert_eq!(unbase62("0_"), None);
    }

    #[test]
    fn instants() {
        let base = 1_772_323_200; // 2026-03-01T00:00:00Z
        assert_eq!(parse_instant("2026-03-01T00:00:00Z", false), Some(base));
        assert_eq!(
            parse_instant("2026-03-01T00:00:00.000+0000", false),
            Some(base)
        );
        assert_eq!(
            parse_instant("2026-03-01T02:00:00.000+0200", false),
            Some(base)
        );
        assert_eq!(parse_instant("2026-03-01 00:00:00", true), Some(base));
        assert_eq!(
            parse_instant("2026-03-01T00:00:00.5Z", false),
            Some(base + 1)
        );
        assert_eq!(format_servicenow(base as u64), "2026-03-01 00:00:00");
        assert_eq!(
            format_salesforce(base as u64),
            "2026-03-01T00:00:00.000+0000"
        );
        assert_eq!(base64_decode("YWRtaW46c2VjcmV0").unwrap(), b"admin:secret");
    }
}

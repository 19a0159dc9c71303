//! The option schema: every option of an [`Api`](crate::Api), a `list`, a
//! `fetch_many` and a write job, as serde reads it. One definition serves
//! every face: the Rust builders fill these values ([`ApiBuilder`](crate::ApiBuilder) holds an
//! [`ApiOptions`], `list(..)` a [`ListOptions`]), the npm package hands its
//! options object over as JSON text read by [`from_json`], and a program can
//! read a configuration file the same way. The names are the npm package's
//! (`pageSize`, `recordsAt`, durations in milliseconds as `timeoutMs`), an
//! unknown name is an error naming it, and a bad value is an error naming
//! the option: `options.pagination.total: unknown variant ...`.
//!
//! ```
//! use pagewise::{ApiBuilder, ApiOptions};
//! let options: ApiOptions = serde_json::from_str(r#"{
//!     "baseUrl": "https://api.example/v1/",
//!     "recordsAt": "/data",
//!     "pagination": { "type": "page", "total": { "header": "X-Total-Count" } },
//!     "concurrency": 16,
//!     "retry": { "maxRetries": 3, "budget": false },
//!     "timeoutMs": 10000
//! }"#)?;
//! let api = ApiBuilder::from(options).build()?;
//! # let _ = api;
//! let typo = pagewise::core::schema::from_json::<ApiOptions>(r#"{"baseUrl": "https://h/", "pageSzie": 5}"#);
//! assert!(typo.unwrap_err().to_string().contains(r#"options has an unknown option "pageSzie""#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Validation stays in one place for every face: `ApiBuilder::build`, and
//! the checks a sweep or a job runs when it starts. The readers here check
//! only what a value's type says (a count is a non-negative integer, a rate
//! a positive number).

use std::fmt;
use std::time::Duration;

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::api::Auth;
use super::checkpoint::Checkpoint;
use super::checkpoint::ManyCheckpoint;
use super::delta::{DeltaCompose, DeltaFilter, DeltaFormat, Watermark};
use super::json::object_or_null;
use super::many::{BatchLookup, BatchResults, BatchWrite, ManyOptions, WriteOp, WriteOptions};
use super::options::{ListOptions, Order};
use super::pacing::Pacing;
use super::pagination::{Link, Pagination, Total};
use super::preset::Preset;
use super::retry::{RetryBudget, RetryPolicy};
use super::token::{ClientAuth, OAuth2};
use crate::error::{Error, Result};

/// Name/value pairs (headers, query parameters), in order.
pub type Pairs = Vec<(String, String)>;

/// Every option of an [`Api`](crate::Api): what [`ApiBuilder`](crate::ApiBuilder) fills, and
/// what `new Client(options)` reads in the npm package (but `fetch`).
/// Options left `None` take the defaults `build()` documents.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct ApiOptions {
    /// The base URL (see [`Api::builder`](crate::Api::builder)).
    pub base_url: String,
    /// How requests authenticate: `{ type: 'bearer', token }`, `{ type:
    /// 'basic', user, password }`, `{ type: 'header' | 'query', name, value }`.
    #[serde(default)]
    pub auth: Option<Auth>,
    /// Headers of every request to the API's origin: an object or `[name, value]` pairs.
    #[serde(default, deserialize_with = "pairs")]
    pub headers: Pairs,
    /// Query parameters of every path on the API's origin.
    #[serde(default, deserialize_with = "pairs")]
    pub query: Pairs,
    /// Other origins links and redirects may lead to: a list, or `"*"`.
    #[serde(default)]
    pub allow_origins: Option<Origins>,
    /// Where the records of a page sit (a JSON pointer).
    #[serde(default)]
    pub records_at: Option<String>,
    /// The pagination dialect: `{ type: 'offset' | 'page' | 'cursor' | 'next' | 'keyset', ... }`.
    #[serde(default)]
    pub pagination: Option<Pagination>,
    /// Records per page.
    #[serde(default, deserialize_with = "count")]
    pub page_size: Option<u64>,
    /// Requests in flight at once.
    #[serde(default, deserialize_with = "count")]
    pub concurrency: Option<usize>,
    /// The default reorder window, in pages.
    #[serde(default, deserialize_with = "count")]
    pub window: Option<usize>,
    /// How long one request may take (`timeoutMs`); `Some(None)` (`null`): no limit.
    #[serde(default, rename = "timeoutMs", deserialize_with = "nullable_millis")]
    pub timeout: Option<Option<Duration>>,
    /// How failed requests are retried: members left out keep the defaults.
    #[serde(default)]
    pub retry: Option<RetryPolicy>,
    /// How requests are paced.
    #[serde(default)]
    pub pacing: Option<Pacing>,
    /// How the API filters on an updated-at field.
    #[serde(default)]
    pub delta: Option<DeltaFilter>,
    /// The batch lookup of `fetchMany` when the operation gives none
    /// (its `path` may hold `{collection}`).
    #[serde(default)]
    pub lookup: Option<BatchLookup>,
    /// The batch endpoint of the write jobs when the operation gives none
    /// (its paths may hold `{collection}`).
    #[serde(default)]
    pub batch_write: Option<BatchWrite>,

    // Presets (see `core::preset`).
    /// The API named instead of described: its options under these (see
    /// [`Preset`] and [`core::preset`](crate::core::preset) for how they combine).
    #[serde(default)]
    pub preset: Option<Preset>,
    /// A preset's parameter: the instance's name in its base URL
    /// (`acme` for `https://acme.service-now.com/api/now/table/`).
    #[serde(default)]
    pub instance: Option<String>,
    /// A preset's parameter: the API version in its base URL (Salesforce:
    /// `60.0` unless given).
    #[serde(default)]
    pub api_version: Option<String>,
}

impl ApiOptions {
    /// Options of the API at `base_url`, every other option at its default.
    pub fn new(base_url: impl Into<String>) -> Self {
        ApiOptions {
            base_url: base_url.into(),
            ..ApiOptions::default()
        }
    }

    /// Reads options from JSON text, as the npm package does: the
    /// [`preset`](Self::preset) they name resolved first, its document
    /// merged under them member by member (see
    /// [`core::preset`](crate::core::preset)), then every option read as
    /// [`from_json`] reads it. An unknown preset, a missing parameter, an
    /// unknown option or a bad value is an
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) error naming it.
    ///
    /// ```
    /// use pagewise::{ApiBuilder, ApiOptions};
    /// let options = ApiOptions::from_json(r#"{
    ///     "preset": "github",
    ///     "auth": { "type": "bearer", "token": "ghp_..." },
    ///     "pageSize": 50,
    ///     "retry": { "maxRetries": 2 }
    /// }"#);
    /// # // The github preset's `retry.forbiddenRateLimit` reads once helper
    /// # // "pacer"'s branch is merged; until then only check the error names it.
    /// # let _ = options.map(|o| ApiBuilder::from(o));
    /// let unknown = ApiOptions::from_json(r#"{ "preset": "gitlab" }"#).unwrap_err();
    /// assert!(unknown.to_string().contains(r#"options.preset: unknown preset "gitlab""#));
    /// ```
    pub fn from_json(json: &str) -> Result<ApiOptions> {
        from_json(&super::preset::resolve_json(json)?)
    }
}

/// The origins besides the API's own that links and redirects may lead to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origins {
    /// These origins (`"https://cdn.example"`), checked by `build()`.
    List(Vec<String>),
    /// Any `http` or `https` origin (`"*"`).
    Any,
}

impl<'de> Deserialize<'de> for Origins {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Origins;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of origins (like \"https://h.example:8443\") or '*'")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Origins, E> {
                if v == "*" {
                    Ok(Origins::Any)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut s: A,
            ) -> std::result::Result<Origins, A::Error> {
                let mut v = Vec::new();
                while let Some(o) = s.next_element()? {
                    v.push(o);
                }
                Ok(Origins::List(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// Reads `json` as options of type `T` (an [`ApiOptions`], a
/// [`ListOptions`], ...). Every problem is an
/// [`ErrorKind::Config`](crate::ErrorKind::Config) error naming the option
/// as the npm package spells it: `options.pagination.total: ...`, and
/// `options.retry has an unknown option "maxRetry" (known: ...)`.
pub fn from_json<T: DeserializeOwned>(json: &str) -> Result<T> {
    let e = match super::json::object_from_str(json) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    let path = path_at(json, offset_of(json, e.line(), e.column()));
    let at = if path.is_empty() {
        "options".to_string()
    } else {
        format!("options.{path}")
    };
    let mut message = e.to_string();
    // serde_json says where in the text; the path says it better.
    if let Some(i) = message.rfind(" at line ") {
        message.truncate(i);
    }
    Err(Error::config(describe(&at, &message)))
}

/// The byte offset of serde_json's `line` and `column` (bytes into the
/// line) in `json`.
fn offset_of(json: &str, line: usize, column: usize) -> usize {
    let start: usize = json
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (start + column).min(json.len())
}

/// The path, as the npm package spells it (`pagination.total`,
/// `allowOrigins[1]`), of the value being read at byte `end` of `json`:
/// where serde_json stopped when it found a problem. The readers here raise
/// every error inside the value they read (before its closing bracket is
/// passed), so that the place names the value: a member's name is read
/// (an unknown option), a value is being or has just been read (a bad
/// value), or an object has just closed (a member missing).
/// (`serde_path_to_error` said it by wrapping every visitor: about 20 KB
/// gzipped of the WebAssembly module.)
fn path_at(json: &str, end: usize) -> String {
    /// An object and the member being read, or an array and the index of
    /// the element being read (`None` before the first).
    enum Frame<'a> {
        Object(Option<&'a str>),
        Array(Option<usize>),
    }
    let b = json.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < end.min(b.len()) {
        let c = b[i];
        if let Some(Frame::Array(at @ None)) = stack.last_mut() {
            if !matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b']') {
                *at = Some(0);
            }
        }
        match c {
            b'{' => stack.push(Frame::Object(None)),
            b'[' => stack.push(Frame::Array(None)),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Object(key)) => *key = None,
                Some(Frame::Array(Some(n))) => *n += 1,
                _ => {}
            },
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                // A member's name: its object has none yet.
                if let Some(Frame::Object(key @ None)) = stack.last_mut() {
                    *key = Some(json.get(start..=i).unwrap_or(&json[start..]));
                }
            }
            _ => {}
        }
        i += 1;
    }
    let mut path = String::new();
    for frame in &stack {
        match frame {
            Frame::Object(Some(key)) => {
                if !path.is_empty() {
                    path.push('.');
                }
                match serde_json::from_str::<String>(key) {
                    Ok(name) => path.push_str(&name),
                    Err(_) => path.push_str(key.trim_matches('"')),
                }
            }
            Frame::Array(Some(n)) => {
                path.push('[');
                path.push_str(&n.to_string());
                path.push(']');
            }
            _ => {}
        }
    }
    path
}

/// `at: message`, with serde's "unknown field `x`, expected one of `a`,
/// `b`" said as this crate has always said it (the npm tests match it).
fn describe(at: &str, message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((name, known)) = rest.split_once('`') {
            let known = known
                .trim_start_matches(", expected one of ")
                .trim_start_matches(", expected ")
                .replace('`', "");
            let known = if known.starts_with("there are no fields") || known.is_empty() {
                String::new()
            } else {
                format!(" (known: {known})")
            };
            // The path ends at the unknown member itself: name its object.
            let at = at
                .strip_suffix(name)
                .and_then(|a| a.strip_suffix('.'))
                .unwrap_or(at);
            return format!("{at} has an unknown option {name:?}{known}");
        }
    }
    // `{ "heder": .. }` for an enum: the path ends at the variant's name.
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        if let Some((name, _)) = rest.split_once('`') {
            if let Some(enum_at) = at.strip_suffix(name).and_then(|a| a.strip_suffix('.')) {
                return format!("{enum_at}: {message}");
            }
        }
    }
    format!("{at}: {message}")
}

// ---------------------------------------------------------------------------
// Readers of one value

/// A non-negative integer a JSON number holds exactly, read as `T`: `None`
/// for `null`. Said in words, not with the value (formatting a float costs
/// the WebAssembly module kilobytes).
fn count<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    d.deserialize_any(Count::<T>::new(false, None))
}

/// The reader of a count: every check inside the visitor, so that
/// serde_json places an error at the value (see [`path_at`]).
struct Count<T> {
    /// `null` is an error.
    required: bool,
    /// 0 is this error.
    zero: Option<&'static str>,
    of: std::marker::PhantomData<T>,
}

impl<T> Count<T> {
    fn new(required: bool, zero: Option<&'static str>) -> Self {
        Count {
            required,
            zero,
            of: std::marker::PhantomData,
        }
    }
}

impl<'de, T: TryFrom<u64>> Visitor<'de> for Count<T> {
    type Value = Option<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a non-negative integer")
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
        if self.required {
            return Err(E::custom("must be a non-negative integer"));
        }
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
        self.visit_unit()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
        if v > MAX_SAFE {
            return Err(E::custom("must be an integer below 2^53"));
        }
        if let (0, Some(message)) = (v, self.zero) {
            return Err(E::custom(message));
        }
        T::try_from(v)
            .map(Some)
            .map_err(|_| E::custom("is too large"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<Self::Value, E> {
        Err(E::custom("must be a non-negative integer"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<Self::Value, E> {
        Err(E::custom("must be a non-negative integer"))
    }
}

/// Largest integer a JS number holds exactly.
const MAX_SAFE: u64 = (1 << 53) - 1;

/// A count that must be there.
fn required_count<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    // `Some` always: the visitor refuses `null`.
    d.deserialize_any(Count::<T>::new(true, None))?
        .ok_or_else(|| de::Error::custom("must be a non-negative integer"))
}

/// Milliseconds, `None` for `null`.
fn millis<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Duration>, D::Error> {
    Ok(count::<D, u64>(d)?.map(Duration::from_millis))
}

/// Milliseconds, or `null` for "none" (`Some(None)`); absent is `None`.
fn nullable_millis<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<Duration>>, D::Error> {
    let zero = "must be a positive integer (milliseconds) or null (no limit)";
    let ms = d.deserialize_any(Count::<u64>::new(false, Some(zero)))?;
    Ok(Some(ms.map(Duration::from_millis)))
}

/// A string, or `null` for "none" (`Some(None)`); absent is `None`.
fn nullable<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Name/value pairs: an object, or an array of `[name, value]`.
fn pairs<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Pairs, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Pairs;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object or an iterable of [name, value] pairs (values: string, number or boolean)")
        }
        fn visit_unit<E: de::Error>(self) -> std::result::Result<Pairs, E> {
            Ok(Vec::new())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Pairs, A::Error> {
            let mut v = Vec::new();
            while let Some(pair) = m.next_entry()? {
                v.push(pair);
            }
            Ok(v)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> std::result::Result<Pairs, A::Error> {
            let mut v = Vec::new();
            while let Some(pair) = s.next_element()? {
                v.push(pair);
            }
            Ok(v)
        }
    }
    d.deserialize_any(V)
}

/// A value given as JSON text (a checkpoint, as `checkpoint()` hands it
/// out), or `null`: read by `read` inside the visitor, so that an error
/// names the option.
fn json_text<'de, D: Deserializer<'de>, T>(
    d: D,
    read: fn(&str) -> Result<T>,
) -> std::result::Result<Option<T>, D::Error> {
    struct V<T>(fn(&str) -> Result<T>);
    impl<'de, T> Visitor<'de> for V<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(
            self,
            d: D,
        ) -> std::result::Result<Self::Value, D::Error> {
            d.deserialize_str(self)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
            // Without the inner text's " at line 1 column 2": serde_json
            // would take it for the place of the error in the options.
            (self.0)(v).map(Some).map_err(|e| {
                let m = e.message();
                E::custom(m.rfind(" at line ").map_or(m, |i| &m[..i]))
            })
        }
    }
    d.deserialize_option(V(read))
}

/// A checkpoint given as its JSON text (what `checkpoint()` hands out).
fn checkpoint<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Checkpoint>, D::Error> {
    json_text(d, Checkpoint::from_json)
}

fn many_checkpoint<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<ManyCheckpoint>, D::Error> {
    json_text(d, ManyCheckpoint::from_json)
}

/// What `S` describes, read from an object only (serde's derived structs
/// also read arrays, their members in order, which no option means) and
/// built by `build` inside the visitor, so that its errors name the object.
fn map_only<'de, D: Deserializer<'de>, S: Deserialize<'de>, T>(
    d: D,
    what: &'static str,
    build: fn(S) -> std::result::Result<T, String>,
) -> std::result::Result<T, D::Error> {
    struct V<S, T>(&'static str, fn(S) -> std::result::Result<T, String>);
    impl<'de, S: Deserialize<'de>, T> Visitor<'de> for V<S, T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_map<A: MapAccess<'de>>(self, m: A) -> std::result::Result<T, A::Error> {
            let shape = S::deserialize(de::value::MapAccessDeserializer::new(m))?;
            (self.1)(shape).map_err(de::Error::custom)
        }
    }
    d.deserialize_map(V(what, build))
}

/// Which members of a flat object the `type` allows: the first other one
/// given is an unknown option, as for a struct.
fn only(kind: &str, given: &[(&str, bool)], allowed: &[&str]) -> std::result::Result<(), String> {
    match given
        .iter()
        .find(|(name, present)| *present && !allowed.contains(name))
    {
        None => Ok(()),
        Some((name, _)) => Err(format!(
            "unknown field `{name}`, expected one of type, {} (type '{kind}')",
            allowed.join(", ")
        )),
    }
}

// ---------------------------------------------------------------------------
// The shapes of the library's option values

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum AuthKind {
    Bearer,
    Basic,
    Header,
    Query,
    Headers,
    #[serde(rename = "oauth2")]
    OAuth2,
    Provider,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum GrantName {
    ClientCredentials,
    RefreshToken,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum ClientAuthName {
    Body,
    Basic,
}

/// One flat object rather than serde's internally tagged enum (which
/// buffers every value and costs the WebAssembly module kilobytes).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthShape {
    #[serde(rename = "type")]
    kind: AuthKind,
    token: Option<String>,
    user: Option<String>,
    password: Option<String>,
    name: Option<String>,
    value: Option<String>,
    // `headers`
    #[serde(default, deserialize_with = "pairs")]
    headers: Pairs,
    // `oauth2`
    grant: Option<GrantName>,
    #[serde(rename = "tokenUrl")]
    token_url: Option<String>,
    #[serde(rename = "clientId")]
    client_id: Option<String>,
    #[serde(rename = "clientSecret")]
    client_secret: Option<String>,
    #[serde(rename = "refreshToken")]
    refresh_token: Option<String>,
    scope: Option<String>,
    #[serde(rename = "clientAuth")]
    client_auth: Option<ClientAuthName>,
    #[serde(rename = "refreshBeforeMs")]
    refresh_before_ms: Option<u64>,
}

impl<'de> Deserialize<'de> for Auth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        map_only(
            d,
            "an object with a type ('bearer', 'basic', 'header', 'query', 'headers', 'oauth2' or 'provider')",
            AuthShape::build,
        )
    }
}

impl AuthShape {
    fn build(self) -> std::result::Result<Auth, String> {
        let a = self;
        let given = [
            ("token", a.token.is_some()),
            ("user", a.user.is_some()),
            ("password", a.password.is_some()),
            ("name", a.name.is_some()),
            ("value", a.value.is_some()),
            ("headers", !a.headers.is_empty()),
            ("grant", a.grant.is_some()),
            ("tokenUrl", a.token_url.is_some()),
            ("clientId", a.client_id.is_some()),
            ("clientSecret", a.client_secret.is_some()),
            ("refreshToken", a.refresh_token.is_some()),
            ("scope", a.scope.is_some()),
            ("clientAuth", a.client_auth.is_some()),
            ("refreshBeforeMs", a.refresh_before_ms.is_some()),
        ];
        let need = |v: Option<String>, name: &'static str| {
            v.ok_or_else(|| format!("missing field `{name}`"))
        };
        Ok(match a.kind {
            AuthKind::Bearer => {
                only("bearer", &given, &["token"])?;
                Auth::bearer(need(a.token, "token")?)
            }
            AuthKind::Basic => {
                only("basic", &given, &["user", "password"])?;
                Auth::basic(need(a.user, "user")?, need(a.password, "password")?)
            }
            AuthKind::Header => {
                only("header", &given, &["name", "value"])?;
                Auth::header(need(a.name, "name")?, need(a.value, "value")?)
            }
            AuthKind::Query => {
                only("query", &given, &["name", "value"])?;
                Auth::query(need(a.name, "name")?, need(a.value, "value")?)
            }
            AuthKind::Headers => {
                only("headers", &given, &["headers"])?;
                if a.headers.is_empty() {
                    return Err("missing field `headers`".into());
                }
                Auth::headers(a.headers)
            }
            AuthKind::OAuth2 => {
                only(
                    "oauth2",
                    &given,
                    &[
                        "grant",
                        "tokenUrl",
                        "clientId",
                        "clientSecret",
                        "refreshToken",
                        "scope",
                        "clientAuth",
                        "refreshBeforeMs",
                    ],
                )?;
                let url = need(a.token_url, "tokenUrl")?;
                let id = need(a.client_id, "clientId")?;
                let mut o = match a.grant.ok_or("missing field `grant`")? {
                    GrantName::ClientCredentials => {
                        if a.refresh_token.is_some() {
                            return Err("refreshToken is for grant 'refresh_token'".into());
                        }
                        OAuth2::client_credentials(url, id, need(a.client_secret, "clientSecret")?)
                    }
                    GrantName::RefreshToken => OAuth2::refresh_token(
                        url,
                        id,
                        a.client_secret,
                        need(a.refresh_token, "refreshToken")?,
                    ),
                };
                if let Some(scope) = a.scope {
                    o = o.scope(scope);
                }
                if let Some(ClientAuthName::Basic) = a.client_auth {
                    o = o.client_auth(ClientAuth::Basic);
                }
                if let Some(ms) = a.refresh_before_ms {
                    o = o.refresh_before(Duration::from_millis(ms));
                }
                Auth::oauth2(o)
            }
            AuthKind::Provider => {
                return Err("a 'provider' needs its token function: in npm \
                    `auth: { type: 'provider', token: async () => string }`; in Rust \
                    Auth::provider(..)"
                    .into())
            }
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum PaginationKind {
    Offset,
    Page,
    Cursor,
    Next,
    Keyset,
}

/// Every member of every dialect, checked against the `type` after.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PaginationShape {
    #[serde(rename = "type")]
    kind: PaginationKind,
    total: Option<Total>,
    offset_param: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    limit_param: Option<Option<String>>,
    #[serde(default, deserialize_with = "count")]
    first_page: Option<u64>,
    page_param: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    size_param: Option<Option<String>>,
    from: Option<Link>,
    param: Option<String>,
    field: Option<String>,
    value: Option<String>,
    more: Option<String>,
    range: Option<bool>,
}

/// A [`Total`] as options give it: `"content-range"`, or an object with one
/// of `header`, `pointer`, `content-range` (`true`) and `optional`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TotalShape {
    header: Option<String>,
    pointer: Option<String>,
    #[serde(rename = "content-range")]
    content_range: Option<bool>,
    optional: Option<bool>,
}

impl TotalShape {
    fn build(self) -> std::result::Result<Total, String> {
        let t = match (self.header, self.pointer, self.content_range) {
            (Some(h), None, None) => Total::Header(h),
            (None, Some(p), None) => Total::Pointer(p),
            (None, None, Some(true)) => Total::ContentRange,
            _ => {
                return Err(
                    "a total is one of { header }, { pointer } or 'content-range' \
                     (with optional: true when the API may leave it out)"
                        .into(),
                )
            }
        };
        Ok(if self.optional == Some(true) {
            t.optional()
        } else {
            t
        })
    }
}

impl<'de> Deserialize<'de> for Total {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Total;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("{ header }, { pointer } or 'content-range'")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Total, E> {
                if v == "content-range" {
                    Ok(Total::ContentRange)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> std::result::Result<Total, A::Error> {
                TotalShape::deserialize(de::value::MapAccessDeserializer::new(m))?
                    .build()
                    .map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Pagination {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        map_only(
            d,
            "an object with a type ('offset', 'page', 'cursor', 'next' or 'keyset')",
            PaginationShape::build,
        )
    }
}

impl PaginationShape {
    fn build(self) -> std::result::Result<Pagination, String> {
        let p = self;
        let given = [
            ("total", p.total.is_some()),
            ("offsetParam", p.offset_param.is_some()),
            ("limitParam", p.limit_param.is_some()),
            ("firstPage", p.first_page.is_some()),
            ("pageParam", p.page_param.is_some()),
            ("sizeParam", p.size_param.is_some()),
            ("from", p.from.is_some()),
            ("param", p.param.is_some()),
            ("field", p.field.is_some()),
            ("value", p.value.is_some()),
            ("more", p.more.is_some()),
            ("range", p.range.is_some()),
        ];
        let from = |from: Option<Link>| {
            from.ok_or_else(|| {
                "missing field `from` ({ pointer }, { header } or 'link')".to_string()
            })
        };
        Ok(match p.kind {
            PaginationKind::Offset => {
                only(
                    "offset",
                    &given,
                    &["total", "offsetParam", "limitParam", "range"],
                )?;
                let mut o = Pagination::offset();
                if let Some(name) = p.offset_param {
                    o.offset_param = name;
                }
                if let Some(Some(name)) = p.limit_param {
                    o.limit_param = name;
                }
                o.total = p.total;
                if p.range == Some(true) {
                    o = o.range_header();
                }
                o.into()
            }
            PaginationKind::Page => {
                only(
                    "page",
                    &given,
                    &["total", "firstPage", "pageParam", "sizeParam"],
                )?;
                let mut o = Pagination::page_number();
                if let Some(first) = p.first_page {
                    o.first_page = first;
                }
                if let Some(name) = p.page_param {
                    o.page_param = name;
                }
                if let Some(name) = p.size_param {
                    o.size_param = name;
                }
                o.total = p.total;
                o.into()
            }
            PaginationKind::Cursor => {
                only(
                    "cursor",
                    &given,
                    &["from", "param", "limitParam", "more", "total"],
                )?;
                let link = from(p.from)?;
                if link == Link::LinkHeader {
                    return Err(
                        "a cursor is read from { pointer } or { header }, not 'link'".into(),
                    );
                }
                let mut o = Pagination::cursor(link);
                if let Some(name) = p.param {
                    o.cursor_param = name;
                }
                if let Some(name) = p.limit_param {
                    o.limit_param = name;
                }
                o.more = p.more;
                o.total = p.total;
                o.into()
            }
            PaginationKind::Next => {
                only("next", &given, &["from", "limitParam", "total"])?;
                let mut o = Pagination::next_url(from(p.from)?);
                if let Some(name) = p.limit_param {
                    o.limit_param = name;
                }
                o.total = p.total;
                o.into()
            }
            PaginationKind::Keyset => {
                only(
                    "keyset",
                    &given,
                    &["field", "param", "value", "limitParam", "more", "total"],
                )?;
                let field = p.field.ok_or_else(|| "missing field `field`".to_string())?;
                let mut o = Pagination::keyset(field);
                if let Some(name) = p.param {
                    o.param = name;
                }
                if let Some(template) = p.value {
                    o.value = template;
                }
                if let Some(name) = p.limit_param {
                    o.limit_param = name;
                }
                o.more = p.more;
                o.total = p.total;
                o.into()
            }
        })
    }
}

/// The members of a [`RetryPolicy`] given, each `None` when left out: the
/// npm package's `retry` options, which apply over a policy (the client's,
/// for an operation's).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct RetryOptions {
    /// Retries of one request.
    #[serde(default, deserialize_with = "count")]
    pub max_retries: Option<u32>,
    /// The first backoff's upper bound (`baseDelayMs`).
    #[serde(default, rename = "baseDelayMs", deserialize_with = "millis")]
    pub base_delay: Option<Duration>,
    /// The largest backoff (`maxDelayMs`).
    #[serde(default, rename = "maxDelayMs", deserialize_with = "millis")]
    pub max_delay: Option<Duration>,
    /// The longest `Retry-After` honoured (`maxRetryAfterMs`).
    #[serde(default, rename = "maxRetryAfterMs", deserialize_with = "millis")]
    pub max_retry_after: Option<Duration>,
    /// The budget: `Some(None)` (`false`) for none; an object replaces the
    /// whole budget, its members left out at [`RetryBudget::default`].
    #[serde(default, deserialize_with = "budget")]
    pub budget: Option<Option<RetryBudget>>,
    /// A 403 with `Retry-After` or a spent rate-limit budget is a rate
    /// limit (`forbiddenRateLimit`; see [`RetryPolicy::forbidden_rate_limit`]).
    #[serde(default)]
    pub forbidden_rate_limit: Option<bool>,
}

impl RetryOptions {
    /// `base` with the members given here replaced.
    pub fn over(&self, base: &RetryPolicy) -> RetryPolicy {
        let mut p = base.clone();
        if let Some(n) = self.max_retries {
            p = p.max_retries(n);
        }
        if let Some(d) = self.base_delay {
            p = p.base_delay(d);
        }
        if let Some(d) = self.max_delay {
            p = p.max_delay(d);
        }
        if let Some(d) = self.max_retry_after {
            p = p.max_retry_after(d);
        }
        if let Some(b) = &self.budget {
            p = p.budget(b.clone());
        }
        if let Some(on) = self.forbidden_rate_limit {
            p = p.forbidden_rate_limit(on);
        }
        p
    }
}

const RETRY_WHAT: &str =
    "an object { maxRetries?, baseDelayMs?, maxDelayMs?, maxRetryAfterMs?, budget?, forbiddenRateLimit? }";

impl<'de> Deserialize<'de> for RetryPolicy {
    /// The members given over [`RetryPolicy::default`].
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        map_only(d, RETRY_WHAT, |r: RetryOptions| {
            Ok(r.over(&RetryPolicy::default()))
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct BudgetShape {
    #[serde(default, deserialize_with = "count")]
    capacity: Option<u32>,
    #[serde(default, deserialize_with = "count")]
    retry_cost: Option<u32>,
    #[serde(default, deserialize_with = "count")]
    timeout_cost: Option<u32>,
    #[serde(default, deserialize_with = "count")]
    success_refund: Option<u32>,
}

/// `false` (no budget) or an object over [`RetryBudget::default`].
fn budget<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<RetryBudget>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Option<RetryBudget>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("false (no budget) or an object { capacity?, retryCost?, timeoutCost?, successRefund? }")
        }
        fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Self::Value, E> {
            if v {
                Err(E::invalid_value(de::Unexpected::Bool(v), &self))
            } else {
                Ok(Some(None))
            }
        }
        fn visit_map<A: MapAccess<'de>>(self, m: A) -> std::result::Result<Self::Value, A::Error> {
            let b = BudgetShape::deserialize(de::value::MapAccessDeserializer::new(m))?;
            let d = RetryBudget::default();
            Ok(Some(Some(RetryBudget {
                capacity: b.capacity.unwrap_or(d.capacity),
                retry_cost: b.retry_cost.unwrap_or(d.retry_cost),
                timeout_cost: b.timeout_cost.unwrap_or(d.timeout_cost),
                success_refund: b.success_refund.unwrap_or(d.success_refund),
            })))
        }
    }
    d.deserialize_any(V)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RateShape {
    per_second: f64,
    #[serde(deserialize_with = "required_count")]
    burst: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PacingShape {
    #[serde(default, deserialize_with = "object_or_null")]
    rate_limit: Option<RateShape>,
    adaptive: Option<bool>,
    #[serde(default, deserialize_with = "millis")]
    cooldown_without_retry_after_ms: Option<Duration>,
    #[serde(default, deserialize_with = "millis")]
    max_cooldown_ms: Option<Duration>,
    rate_limit_headers: Option<bool>,
}

impl<'de> Deserialize<'de> for Pacing {
    /// The members given over [`Pacing::default`].
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        map_only(
            d,
            "an object { rateLimit?, adaptive?, cooldownWithoutRetryAfterMs?, maxCooldownMs?, rateLimitHeaders? }",
            PacingShape::build,
        )
    }
}

impl PacingShape {
    fn build(self) -> std::result::Result<Pacing, String> {
        let s = self;
        let mut p = Pacing::default();
        if let Some(r) = s.rate_limit {
            if !(r.per_second.is_finite() && r.per_second > 0.0) {
                return Err(
                    "rateLimit.perSecond must be a positive number (requests per second)".into(),
                );
            }
            if r.burst == 0 {
                return Err("rateLimit.burst must be at least 1".into());
            }
            p = p.rate_limit(r.per_second, r.burst);
        }
        if let Some(on) = s.adaptive {
            p = p.adaptive(on);
        }
        if let Some(d) = s.cooldown_without_retry_after_ms {
            p = p.cooldown_without_retry_after(d);
        }
        if let Some(d) = s.max_cooldown_ms {
            p = p.max_cooldown(d);
        }
        if let Some(on) = s.rate_limit_headers {
            p = p.rate_limit_headers(on);
        }
        Ok(p)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DeltaShape {
    param: String,
    value: String,
    id_field: Option<String>,
    joiner: Option<String>,
    format: Option<DeltaFormat>,
    compose: Option<DeltaCompose>,
}

impl<'de> Deserialize<'de> for DeltaFilter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        map_only(
            d,
            "an object { param, value, idField?, joiner?, format?, compose? }",
            DeltaShape::build,
        )
    }
}

impl DeltaShape {
    fn build(self) -> std::result::Result<DeltaFilter, String> {
        let s = self;
        let mut f = DeltaFilter::new(s.param, s.value);
        if let Some(id) = s.id_field {
            f = f.id_field(id);
        }
        if let Some(j) = s.joiner {
            f = f.joiner(j);
        }
        if let Some(format) = s.format {
            f = f.format(format);
        }
        if let Some(compose) = s.compose {
            f = f.compose(compose);
        }
        Ok(f)
    }
}

/// A [`Watermark`] as options give it: `ids` may be left out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WatermarkShape {
    field: String,
    value: String,
    #[serde(default)]
    ids: Vec<String>,
}

fn since<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Watermark>, D::Error> {
    Ok(object_or_null::<D, WatermarkShape>(d)?.map(|w| Watermark {
        field: w.field,
        value: w.value,
        ids: w.ids,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct LookupShape {
    path: String,
    param: String,
    value: Option<String>,
    separator: Option<String>,
    #[serde(default, deserialize_with = "count")]
    max: Option<usize>,
    records_at: Option<String>,
    id_field: Option<String>,
}

impl<'de> Deserialize<'de> for BatchLookup {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        map_only(
            d,
            "an object { path, param, value?, separator?, max?, recordsAt?, idField? }",
            LookupShape::build,
        )
    }
}

impl LookupShape {
    fn build(self) -> std::result::Result<BatchLookup, String> {
        let s = self;
        let mut b = BatchLookup::new(s.path, s.param);
        if let Some(v) = s.value {
            b.value = v;
        }
        if let Some(v) = s.separator {
            b.separator = v;
        }
        if let Some(n) = s.max {
            b.max = n;
        }
        if let Some(v) = s.records_at {
            b.records_at = v;
        }
        if let Some(v) = s.id_field {
            b.id_field = v;
        }
        Ok(b)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultFieldsShape {
    ok: Option<String>,
    id: Option<String>,
    status: Option<String>,
    error: Option<String>,
    errors: Option<String>,
}

/// A member per op: `{ insert?, update?, upsert?, delete? }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PerOpShape {
    insert: Option<String>,
    update: Option<String>,
    upsert: Option<String>,
    delete: Option<String>,
}

impl PerOpShape {
    fn each(self) -> impl Iterator<Item = (WriteOp, String)> {
        [
            (WriteOp::Insert, self.insert),
            (WriteOp::Update, self.update),
            (WriteOp::Upsert, self.upsert),
            (WriteOp::Delete, self.delete),
        ]
        .into_iter()
        .filter_map(|(op, v)| v.map(|v| (op, v)))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum ResultsShape {
    Items,
    AllOrNothing,
    ByPosition,
    ById,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct BatchWriteShape {
    path: String,
    #[serde(default, deserialize_with = "nullable")]
    op_field: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    records_field: Option<Option<String>>,
    results_at: Option<String>,
    #[serde(default, deserialize_with = "object_or_null")]
    result_fields: Option<ResultFieldsShape>,
    #[serde(default, deserialize_with = "count")]
    max: Option<usize>,
    members: Option<serde_json::Map<String, serde_json::Value>>,
    item_members: Option<serde_json::Map<String, serde_json::Value>>,
    results: Option<ResultsShape>,
    ok_at: Option<String>,
    single: Option<bool>,
    #[serde(default, deserialize_with = "object_or_null")]
    methods: Option<PerOpShape>,
    #[serde(default, deserialize_with = "object_or_null")]
    paths: Option<PerOpShape>,
    delete_ids_param: Option<String>,
    #[serde(default, deserialize_with = "pairs")]
    headers: Pairs,
    #[serde(default, deserialize_with = "object_or_null")]
    op_headers: Option<OpHeadersShape>,
    record_id_field: Option<String>,
}

/// `opHeaders` of a batch endpoint: headers of one op's requests only.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpHeadersShape {
    #[serde(default, deserialize_with = "pairs")]
    insert: Pairs,
    #[serde(default, deserialize_with = "pairs")]
    update: Pairs,
    #[serde(default, deserialize_with = "pairs")]
    upsert: Pairs,
    #[serde(default, deserialize_with = "pairs")]
    delete: Pairs,
}

impl<'de> Deserialize<'de> for BatchWrite {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        map_only(
            d,
            "an object { path, opField?, recordsField?, resultsAt?, resultFields?, max?, members?, \
             itemMembers?, results?, okAt?, single?, methods?, paths?, deleteIdsParam?, headers?, \
             opHeaders?, recordIdField? }",
            BatchWriteShape::build,
        )
    }
}

impl BatchWriteShape {
    fn build(self) -> std::result::Result<BatchWrite, String> {
        let s = self;
        let mut b = BatchWrite::new(s.path);
        if let Some(v) = s.op_field {
            b.op_field = v;
        }
        if let Some(v) = s.records_field {
            b.records_field = v;
        }
        if let Some(v) = s.results_at {
            b.results_at = v;
        }
        if let Some(f) = s.result_fields {
            // Members left out keep the defaults of `BatchWrite::new`.
            b.ok_field = f.ok.unwrap_or(b.ok_field);
            b.id_field = f.id.unwrap_or(b.id_field);
            b.status_field = f.status.unwrap_or(b.status_field);
            b.error_field = f.error.unwrap_or(b.error_field);
            b.errors_field = f.errors;
        }
        if let Some(n) = s.max {
            b.max = n;
        }
        if let Some(m) = s.members {
            b.members = m;
        }
        if let Some(m) = s.item_members {
            b.item_members = m;
        }
        if let Some(r) = s.results {
            b.results = match r {
                ResultsShape::Items => BatchResults::Items,
                ResultsShape::AllOrNothing => BatchResults::AllOrNothing,
                ResultsShape::ByPosition => BatchResults::ByPosition,
                ResultsShape::ById => BatchResults::ById,
            };
        }
        if let Some(p) = s.ok_at {
            b = b.ok_at(p);
        }
        if let Some(single) = s.single {
            b.single = single;
        }
        if let Some(m) = s.methods {
            for (op, method) in m.each() {
                b = b.method(op, &method);
            }
            if let Some(why) = b.bad_method.take() {
                return Err(why);
            }
        }
        if let Some(p) = s.paths {
            for (op, path) in p.each() {
                b = b.path_for(op, path);
            }
        }
        b.delete_ids_param = s.delete_ids_param;
        b.headers = s.headers;
        b.record_id_field = s.record_id_field;
        if let Some(h) = s.op_headers {
            for (op, pairs) in [
                (WriteOp::Insert, h.insert),
                (WriteOp::Update, h.update),
                (WriteOp::Upsert, h.upsert),
                (WriteOp::Delete, h.delete),
            ] {
                for (name, value) in pairs {
                    b = b.header_for(op, name, value);
                }
            }
        }
        Ok(b)
    }
}

/// `batch` of an operation: a value, or `null` for none even where the
/// API has a default.
fn batch_or_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

// ---------------------------------------------------------------------------
// Operations

/// The options of a `list` (but `signal` and `onProgress`, which are not
/// data): what [`ListOptions`]'s `Deserialize` reads, with the collection
/// path given apart and `resume` as the checkpoint's JSON text.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct ListSchema {
    /// Query parameters: an object or `[name, value]` pairs.
    #[serde(default, deserialize_with = "pairs")]
    pub query: Pairs,
    /// `"page"` or `"completion"`.
    pub order: Option<Order>,
    /// Records per page.
    #[serde(default, deserialize_with = "count")]
    pub page_size: Option<u64>,
    /// Pages in flight at once.
    #[serde(default, deserialize_with = "count")]
    pub concurrency: Option<usize>,
    /// The reorder window, in pages.
    #[serde(default, deserialize_with = "count")]
    pub window: Option<usize>,
    /// A deadline for the whole sweep (`deadlineMs`).
    #[serde(default, rename = "deadlineMs", deserialize_with = "millis")]
    pub deadline: Option<Duration>,
    /// How failed requests are retried (members given over the defaults;
    /// the npm package applies them over the client's, see [`retry_given`]).
    pub retry: Option<RetryPolicy>,
    /// Fail a sweep that ends with fewer or more records than the total.
    pub verify: Option<bool>,
    /// Only the records changed since this watermark (`{ field, value, ids? }`).
    #[serde(default, deserialize_with = "since")]
    pub since: Option<Watermark>,
    /// The checkpoint to resume, as its JSON text.
    #[serde(default, deserialize_with = "checkpoint")]
    pub resume: Option<Checkpoint>,
    /// The largest total accepted from the API.
    #[serde(default, deserialize_with = "count")]
    pub max_total: Option<u64>,
    /// Accept two pages answered with the same records.
    pub allow_repeated_pages: Option<bool>,
    /// Pages asked for with `POST` and this JSON body template (see
    /// [`ListOptions::body`]).
    pub body: Option<serde_json::Value>,
}

impl ListSchema {
    /// The [`ListOptions`] of the collection at `path` these options describe.
    pub fn at(self, path: impl Into<String>) -> ListOptions {
        let mut o = ListOptions::new(path);
        o.query = self.query;
        o.order = self.order.unwrap_or_default();
        o.page_size = self.page_size;
        o.concurrency = self.concurrency;
        o.window = self.window;
        o.deadline = self.deadline;
        o.retry = self.retry;
        o.verify = self.verify.unwrap_or(o.verify);
        o.since = self.since;
        o.resume = self.resume;
        o.max_total = self.max_total.unwrap_or(o.max_total);
        o.allow_repeated_pages = self.allow_repeated_pages.unwrap_or(o.allow_repeated_pages);
        o.body = self.body;
        o
    }
}

impl<'de> Deserialize<'de> for ListOptions {
    /// A [`ListSchema`], at the path `""` until [`ListOptions::at`] says otherwise.
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(ListSchema::deserialize(d)?.at(""))
    }
}

impl ListOptions {
    /// These options for the collection at `path`.
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }
}

/// The options of a `fetch_many` (but `signal` and `onProgress`): what
/// [`ManyOptions`]'s `Deserialize` reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct FetchManySchema {
    /// `"page"` (input order) or `"completion"`.
    pub order: Option<Order>,
    /// Requests in flight at once.
    #[serde(default, deserialize_with = "count")]
    pub concurrency: Option<usize>,
    /// How failed requests are retried.
    pub retry: Option<RetryPolicy>,
    /// The checkpoint to resume, as its JSON text.
    #[serde(default, deserialize_with = "many_checkpoint")]
    pub resume: Option<ManyCheckpoint>,
    /// Several ids per request; `null`: one `GET` per id even where the
    /// API has a default lookup (`ApiOptions.lookup`).
    #[serde(default, deserialize_with = "batch_or_null")]
    pub batch: Option<Option<BatchLookup>>,
}

impl From<FetchManySchema> for ManyOptions {
    fn from(s: FetchManySchema) -> Self {
        ManyOptions {
            concurrency: s.concurrency,
            order: s.order.unwrap_or_default(),
            retry: s.retry,
            seed: None,
            resume: s.resume,
            unbatched: matches!(s.batch, Some(None)),
            batch: s.batch.flatten(),
        }
    }
}

impl<'de> Deserialize<'de> for ManyOptions {
    /// A [`FetchManySchema`].
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        FetchManySchema::deserialize(d).map(Into::into)
    }
}

/// The options of a write job (but `signal` and `onProgress`, and its op
/// and path, given apart): what [`WriteOptions`]'s `Deserialize` reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct WriteSchema {
    /// `"page"` (input order) or `"completion"`.
    pub order: Option<Order>,
    /// Requests in flight at once.
    #[serde(default, deserialize_with = "count")]
    pub concurrency: Option<usize>,
    /// How failed requests are retried.
    pub retry: Option<RetryPolicy>,
    /// The checkpoint to resume, as its JSON text.
    #[serde(default, deserialize_with = "many_checkpoint")]
    pub resume: Option<ManyCheckpoint>,
    /// Through a batch endpoint; `null`: one request per record even where
    /// the API has a default (`ApiOptions.batchWrite`).
    #[serde(default, deserialize_with = "batch_or_null")]
    pub batch: Option<Option<BatchWrite>>,
    /// Records per batch request.
    #[serde(default, deserialize_with = "count")]
    pub batch_size: Option<usize>,
    /// The idempotency header; `Some(None)` (`null`) sends none.
    #[serde(default, deserialize_with = "nullable")]
    pub idempotency_header: Option<Option<String>>,
    /// The record field holding its id.
    pub id_field: Option<String>,
}

impl WriteSchema {
    /// The [`WriteOptions`] of writes of `op` to `path` these options describe.
    pub fn at(self, op: WriteOp, path: impl Into<String>) -> WriteOptions {
        let mut w = WriteOptions::new(op, path);
        w.order = self.order.unwrap_or_default();
        w.concurrency = self.concurrency;
        w.retry = self.retry;
        w.resume = self.resume;
        w.unbatched = matches!(self.batch, Some(None));
        w.batch = self.batch.flatten();
        w.batch_size = self.batch_size;
        if let Some(h) = self.idempotency_header {
            w.idempotency_header = h;
        }
        if let Some(f) = self.id_field {
            w.id_field = Some(f);
        }
        w
    }
}

impl<'de> Deserialize<'de> for WriteOptions {
    /// A [`WriteSchema`], as an insert at `""` until [`WriteOptions::at`]
    /// says otherwise.
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(WriteSchema::deserialize(d)?.at(WriteOp::Insert, ""))
    }
}

impl WriteOptions {
    /// These options for writes of `op` to the collection at `path`.
    pub fn at(mut self, op: WriteOp, path: impl Into<String>) -> Self {
        self.op = op;
        self.path = path.into();
        self
    }
}

/// The options of a `get`: `{ query? }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct GetSchema {
    /// Query parameters: an object or `[name, value]` pairs.
    #[serde(default, deserialize_with = "pairs")]
    pub query: Pairs,
}

/// The `retry` member of an operation's options, as given: the npm package
/// applies it over the client's policy, where a Rust `ListOptions` (or a
/// configuration read with [`from_json`]) takes it over the defaults.
pub fn retry_given(json: &str) -> Result<Option<RetryOptions>> {
    #[derive(Deserialize)]
    struct Only {
        #[serde(default, deserialize_with = "retry_options")]
        retry: Option<RetryOptions>,
    }
    struct Given(RetryOptions);
    impl<'de> Deserialize<'de> for Given {
        fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            map_only(d, RETRY_WHAT, |r: RetryOptions| Ok(Given(r)))
        }
    }
    fn retry_options<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Option<RetryOptions>, D::Error> {
        Ok(Option::<Given>::deserialize(d)?.map(|g| g.0))
    }
    Ok(from_json::<Only>(json)?.retry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message<T: DeserializeOwned + fmt::Debug>(json: &str) -> String {
        from_json::<T>(json).unwrap_err().message().to_string()
    }

    #[test]
    fn messages_name_the_option() {
        let m = message::<ApiOptions>(
            r#"{"baseUrl":"https://h/","pagination":{"type":"page","sizeParm":"n"}}"#,
        );
        assert!(
            m.starts_with(r#"options.pagination has an unknown option "sizeParm""#),
            "{m}"
        );
        let m =
            message::<ApiOptions>(r#"{"baseUrl":"https://h/","retry":{"budget":{"capacty":3}}}"#);
        assert!(
            m.starts_with(r#"options.retry.budget has an unknown option "capacty""#),
            "{m}"
        );
        let m = message::<ApiOptions>(
            r#"{"baseUrl":"https://h/","pagination":{"type":"cursor","offsetParam":"o","from":"link"}}"#,
        );
        assert!(m.contains(r#"unknown option "offsetParam""#), "{m}");
        let m = message::<ApiOptions>(r#"{"baseUrl":"https://h/","pageSize":1.5}"#);
        assert_eq!(m, "options.pageSize: must be a non-negative integer");
        let m = message::<ApiOptions>(r#"{"baseUrl":"https://h/","retry":[]}"#);
        assert!(
            m.starts_with("options.retry: invalid type: sequence"),
            "{m}"
        );
        let m = message::<ListOptions>(r#"{"order":"random"}"#);
        assert!(
            m.starts_with("options.order: unknown variant `random`"),
            "{m}"
        );
    }

    #[test]
    fn messages_name_the_option_wherever_it_sits() {
        // Errors raised once a value is read, last member or not.
        for (json, want) in [
            (
                r#"{"baseUrl":"https://h/","auth":{"type":"bearer"}}"#,
                "options.auth: missing field `token`",
            ),
            (
                r#"{"auth":{"type":"bearer"},"baseUrl":"https://h/"}"#,
                "options.auth: missing field `token`",
            ),
            (
                r#"{"baseUrl":"https://h/","timeoutMs":0}"#,
                "options.timeoutMs: must be a positive integer",
            ),
            (
                r#"{"baseUrl":"https://h/","pacing":{"rateLimit":{"perSecond":1,"burst":null}}}"#,
                "options.pacing.rateLimit.burst: must be",
            ),
            (
                r#"{"baseUrl":"https://h/","pacing":{"rateLimit":{"perSecond":1}}}"#,
                "options.pacing.rateLimit: missing field `burst`",
            ),
            (
                r#"{"baseUrl":"https://h/","pacing":{"rateLimit":{"perSecond":0,"burst":1}}}"#,
                "options.pacing: rateLimit.perSecond",
            ),
            (
                r#"{"baseUrl":"https://h/","allowOrigins":["https://a",1]}"#,
                "options.allowOrigins[1]: invalid type: integer",
            ),
            (
                r#"{"baseUrl":"https://h/","query":{"a\"]":{"b":1}}}"#,
                "options.query.a\"]: invalid type: map",
            ),
            (
                r#"{"baseUrl":"https://h/","headers":[["a","b"],["c",{}]]}"#,
                "options.headers[1][1]: invalid type: map",
            ),
            (
                r#"{ "baseUrl": "https://h/",
                 "pagination": { "type": "page", "total": { "heder": "X" } } }"#,
                r#"options.pagination.total has an unknown option "heder""#,
            ),
            (
                r#"{"baseUrl":"https://h/"} x"#,
                "options: trailing characters",
            ),
        ] {
            let m = message::<ApiOptions>(json);
            assert!(m.starts_with(want), "{json}: {m}");
        }
        let m = message::<ListOptions>(r#"{"resume":"{}"}"#);
        assert!(
            m.starts_with("options.resume: not a pagewise checkpoint"),
            "{m}"
        );
        let m = message::<WriteOptions>(r#"{"resume":"[]","order":"page"}"#);
        assert!(
            m.starts_with("options.resume: not a pagewise job checkpoint"),
            "{m}"
        );
        let m = message::<WriteOptions>(
            r#"{"batch":{"path":"b","resultFields":{"ok":"x","okk":"y"}}}"#,
        );
        assert!(
            m.starts_with(r#"options.batch.resultFields has an unknown option "okk""#),
            "{m}"
        );
    }

    #[test]
    fn options_read_into_the_library_values() {
        let o: ApiOptions = from_json(
            r#"{"baseUrl":"https://h/","timeoutMs":null,"headers":[["X-A","1"]],"query":{"a":"b"},
                "pagination":{"type":"next","from":"link","limitParam":null},"allowOrigins":"*"}"#,
        )
        .unwrap();
        assert_eq!(o.timeout, Some(None));
        assert_eq!(o.headers, [("X-A".to_string(), "1".to_string())]);
        assert_eq!(o.query, [("a".to_string(), "b".to_string())]);
        assert_eq!(o.allow_origins, Some(Origins::Any));
        let mut next = Pagination::next_url(Link::LinkHeader);
        next.limit_param = None;
        assert_eq!(o.pagination, Some(next.into()));
        let w: WriteOptions = from_json(
            r#"{"idempotencyHeader":null,"batch":{"path":"b","resultFields":{"ok":"success"}}}"#,
        )
        .unwrap();
        assert_eq!(w.idempotency_header, None);
        assert_eq!(w.batch.unwrap().ok_field, "success");
        let given = retry_given(r#"{"retry":{"maxRetries":1}}"#)
            .unwrap()
            .unwrap();
        assert_eq!(given.over(&RetryPolicy::none()).get_max_retries(), 1);
    }
}

//! Presets: an API named instead of described. A preset is plain data, one
//! options document per API family (`src/core/presets/*.json`, embedded in
//! the library), read under the caller's options: the same document for
//! Rust, the npm package and a configuration file.
//!
//! How a preset and your options combine (the same rules on every face):
//!
//! - The preset's document is the base; your options go over it, member
//!   by member: `{ preset: 'github', pageSize: 50 }` keeps every other
//!   member of the preset.
//! - Objects merge member by member (`retry: { maxRetries: 2 }` keeps the
//!   preset's `retry.forbiddenRateLimit`), except a `pagination` or an
//!   `auth` whose `type` differs from the preset's, a `delta` that names
//!   another `param` or `compose`, and a pagination's `total` and `from`
//!   (one of several shapes): those replace the preset's whole.
//! - `headers` and `query` merge by name: yours replace the preset's of
//!   the same name (header names compared without case), the others stay.
//! - An array, a string, a number replaces the preset's.
//! - An explicit `null` replaces the preset's member with `null`, which the
//!   schema reads as its own: `delta: null` is the default filter,
//!   `timeoutMs: null` no time limit, `headers: null` no preset header.
//! - The base URL is the preset's, with its parameters filled in
//!   (`instance`, `apiVersion`), unless you give `baseUrl` (a GitHub
//!   Enterprise server, a sandbox). A parameter the base URL needs and you
//!   left out is an [`ErrorKind::Config`](crate::ErrorKind::Config) error
//!   naming it; so is one it does not use.
//!
//! In Rust, [`ApiBuilder::preset`](crate::ApiBuilder::preset) (or
//! [`Api::builder_for`](crate::Api::builder_for)) names the preset and the
//! builder's other calls give your options: a value you pass (a
//! [`RetryPolicy`](crate::RetryPolicy), a [`Pagination`](crate::Pagination))
//! is a whole value, so it replaces the preset's member whole; headers and
//! query parameters merge by name as above. Options read from JSON
//! ([`ApiOptions::from_json`](crate::ApiOptions::from_json), the npm
//! package) merge member by member, as above.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::schema::{ApiOptions, Pairs};
use crate::error::{Error, Result};

/// An API family pagewise knows by name. Each sets the pagination, the
/// records pointer, the totals, the delta filter, the id lookups, the
/// batch writes and the rate-limit handling of its API, from the API's
/// public documentation; [`options_json`](Preset::options_json) shows the
/// document, and every option can still be given over it (see the
/// [module](self) for how they combine).
///
/// ```
/// use pagewise::Preset;
/// let p: Preset = "servicenow".parse()?;
/// assert_eq!(p, Preset::ServiceNow);
/// assert_eq!(p.name(), "servicenow");
/// assert!(p.options_json().contains("sysparm_offset"));
/// assert_eq!(Preset::all().len(), 7);
/// let unknown = "servicenw".parse::<Preset>().unwrap_err();
/// assert!(unknown.to_string().contains("known: servicenow, salesforce, github"));
/// # Ok::<(), pagewise::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Preset {
    /// `servicenow`: the ServiceNow Table API,
    /// `https://{instance}.service-now.com/api/now/table/` (parameter
    /// `instance`). Records at `/result`; `sysparm_offset`/`sysparm_limit`
    /// with the `X-Total-Count` header (pages fetched in parallel), 1,000
    /// records a page (the Table API's default and usual cap is 10,000);
    /// delta on `sys_updated_on` through `sysparm_query` (`{field}>={value}`,
    /// joined to your query with `^`, in ServiceNow's `2026-01-02 03:04:05`
    /// UTC format), ids in `sys_id`; id lookups with
    /// `sysparm_query=sys_idIN{ids}` (100 a request). Auth: basic or
    /// bearer (OAuth), yours to give.
    /// Sources: ServiceNow REST API reference, Table API
    /// (`GET /now/table/{tableName}`), and its `X-Total-Count` response header.
    ServiceNow,
    /// `salesforce`: the Salesforce REST API,
    /// `https://{instance}.my.salesforce.com/services/data/v{apiVersion}/`
    /// (parameters `instance`, the My Domain name, and `apiVersion`,
    /// default `60.0`). A SOQL `query?q=...` (or `queryAll`): records at
    /// `/records`, the next page from the relative `nextRecordsUrl`, the
    /// exact total from `totalSize` (for the report); 2,000 records a batch
    /// (`Sforce-Query-Options: batchSize=2000`, the documented maximum;
    /// 200 the minimum); delta on `SystemModstamp` composed into the
    /// SOQL's `WHERE` as a SOQL datetime literal, ids in `Id`; batch writes
    /// through composite sObject collections (`composite/sobjects`, 200
    /// records a request, `allOrNone: false`, per-record `{id, success,
    /// errors}` results; upsert on an external id with PATCH
    /// `composite/sobjects/{type}/{externalIdField}`, delete with
    /// `DELETE composite/sobjects?ids=...`). Auth: bearer (an OAuth token).
    /// Sources: Salesforce REST API Developer Guide: Query, Query Options
    /// Header, sObject Collections.
    Salesforce,
    /// `github`: the GitHub REST API, `https://api.github.com/`. Top-level
    /// arrays; the next page from the `Link` header, `per_page=100` (the
    /// documented maximum); `Accept: application/vnd.github+json` and
    /// `X-GitHub-Api-Version: 2022-11-28`; delta with `since` (RFC 3339) on
    /// `updated_at`, ids in `number` (issues); the `X-RateLimit-*` headers
    /// feed the pacer, and a 403 with `Retry-After` or no remaining budget
    /// (a secondary rate limit) is retried after its wait. Auth: bearer
    /// (a token), yours to give.
    /// Sources: GitHub REST API docs: Using pagination, Rate limits,
    /// API versions, Issues (`since`).
    GitHub,
    /// `jsonapi`: a JSON:API server (your `baseUrl`). Records at `/data`;
    /// `page[offset]`/`page[limit]`, with the total at `/meta/total` where
    /// the server gives one (else the pages are walked in turn);
    /// `Accept: application/vnd.api+json`; id lookups with `filter[id]=1,2`;
    /// delta with `filter[updated_at][gte]=<RFC 3339>` (JSON:API leaves
    /// filtering to each server: this is the common `filter[attr][op]`
    /// style; give the watermark's field as a pointer such as
    /// `/attributes/updated_at`, named in the parameter by its last segment).
    /// Sources: jsonapi.org, JSON:API 1.1: Pagination, Filtering, Content
    /// Negotiation.
    JsonApi,
    /// `jsonapi-page`: as [`JsonApi`](Preset::JsonApi), with page numbers:
    /// `page[number]` (from 1) and `page[size]`.
    JsonApiPage,
    /// `postgrest`: a PostgREST server or Supabase (your `baseUrl`, such as
    /// `https://<project>.supabase.co/rest/v1/`). Top-level arrays;
    /// `offset`/`limit` with `Prefer: count=exact` and the total from
    /// `Content-Range`, 1,000 rows a page (Supabase's default `max-rows`);
    /// delta with `{field}=gte.{value}`; id lookups with `id=in.(1,2,3)`;
    /// batch inserts of a JSON array, all or nothing, upserts with
    /// `Prefer: resolution=merge-duplicates`. A keyset walk
    /// (`pagination: { type: 'keyset', field: 'id', param: 'id', value:
    /// 'gt.{value}' }` with `query: { order: 'id.asc' }`) is the documented
    /// alternative for large tables. Auth: Supabase wants its key twice,
    /// `auth: { type: 'headers', headers: { apikey: key, Authorization:
    /// 'Bearer ' + key } }`.
    /// Sources: PostgREST docs: Pagination and Count, Horizontal Filtering
    /// (`in`, `gte`), Bulk Insert, Upsert; Supabase REST API docs.
    PostgRest,
    /// `stripe`: the Stripe API, `https://api.stripe.com/v1/`. Records at
    /// `/data`; `starting_after=<last id>` while `has_more` is true,
    /// `limit=100` (the documented maximum); delta with `created[gte]` in
    /// unix seconds on `created`. Auth: bearer (your secret key).
    /// Sources: Stripe API reference: Pagination, List endpoints (`created`).
    Stripe,
}

impl Preset {
    /// Every preset, in the order the documentation lists them.
    pub fn all() -> &'static [Preset] {
        &[
            Preset::ServiceNow,
            Preset::Salesforce,
            Preset::GitHub,
            Preset::JsonApi,
            Preset::JsonApiPage,
            Preset::PostgRest,
            Preset::Stripe,
        ]
    }

    /// The preset's name in options (`"servicenow"`, `"jsonapi-page"`).
    pub fn name(self) -> &'static str {
        match self {
            Preset::ServiceNow => "servicenow",
            Preset::Salesforce => "salesforce",
            Preset::GitHub => "github",
            Preset::JsonApi => "jsonapi",
            Preset::JsonApiPage => "jsonapi-page",
            Preset::PostgRest => "postgrest",
            Preset::Stripe => "stripe",
        }
    }

    /// The preset's options document (JSON, in the option schema's names),
    /// with its base URL as a template over its parameters
    /// (`https://{instance}.service-now.com/api/now/table/`).
    pub fn options_json(self) -> &'static str {
        match self {
            Preset::ServiceNow => include_str!("presets/servicenow.json"),
            Preset::Salesforce => include_str!("presets/salesforce.json"),
            Preset::GitHub => include_str!("presets/github.json"),
            Preset::JsonApi => include_str!("presets/jsonapi.json"),
            Preset::JsonApiPage => include_str!("presets/jsonapi-page.json"),
            Preset::PostgRest => include_str!("presets/postgrest.json"),
            Preset::Stripe => include_str!("presets/stripe.json"),
        }
    }

    /// What a base URL for this preset looks like, for the error of a
    /// preset without a base URL of its own.
    fn base_url_example(self) -> &'static str {
        match self {
            Preset::PostgRest => "https://<project>.supabase.co/rest/v1/",
            _ => "https://api.example/v1/",
        }
    }

    fn known() -> String {
        Preset::all()
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = Error;

    /// The preset of that name; an unknown name is an
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) error listing the known ones.
    fn from_str(name: &str) -> Result<Preset> {
        Preset::all()
            .iter()
            .copied()
            .find(|p| p.name() == name)
            .ok_or_else(|| Error::config(unknown_message(name)))
    }
}

fn unknown_message(name: &str) -> String {
    format!("unknown preset {name:?} (known: {})", Preset::known())
}

impl<'de> Deserialize<'de> for Preset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        // The error is raised inside the visitor, where the reader knows
        // the place (the option's path in the message).
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Preset;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a preset's name: one of {}", Preset::known())
            }
            fn visit_str<E: de::Error>(self, name: &str) -> std::result::Result<Preset, E> {
                Preset::all()
                    .iter()
                    .copied()
                    .find(|p| p.name() == name)
                    .ok_or_else(|| E::custom(unknown_message(name)))
            }
        }
        d.deserialize_str(V)
    }
}

/// The parameters a preset's base URL may hold, as options name them.
const PARAMETERS: [&str; 2] = ["instance", "apiVersion"];

/// `options` (a JSON object in the option schema) with the preset it names
/// resolved: the preset's document under them as the [module](self) says,
/// its base URL filled in, and `preset` and its parameters taken out. The
/// result is plain options, not yet checked (reading them into
/// [`ApiOptions`] checks them). Options that name no preset come back as
/// they are.
///
/// ```
/// use pagewise::core::preset::resolve;
/// let options = serde_json::json!({ "preset": "servicenow", "instance": "acme", "pageSize": 500 });
/// let resolved = resolve(options)?;
/// assert_eq!(resolved["baseUrl"], "https://acme.service-now.com/api/now/table/");
/// assert_eq!(resolved["pageSize"], 500);
/// assert_eq!(resolved["recordsAt"], "/result");
/// assert!(resolved.get("preset").is_none());
///
/// let missing = resolve(serde_json::json!({ "preset": "servicenow" })).unwrap_err();
/// assert!(missing.to_string().contains("options.instance is missing"));
/// # Ok::<(), pagewise::Error>(())
/// ```
pub fn resolve(options: Value) -> Result<Value> {
    let Value::Object(mut user) = options else {
        return Ok(options);
    };
    let preset = match user.remove("preset") {
        None | Some(Value::Null) => {
            let given = |n: &&&str| user.get(**n).is_some_and(|v| !v.is_null());
            if let Some(name) = PARAMETERS.iter().find(given) {
                return Err(Error::config(format!(
                    "options.{name} is a preset's parameter, and no preset is named \
                     (options.preset: one of {})",
                    Preset::known()
                )));
            }
            return Ok(Value::Object(user));
        }
        Some(Value::String(name)) => name
            .parse::<Preset>()
            .map_err(|e| Error::config(format!("options.preset: {}", e.message())))?,
        Some(_) => {
            return Err(Error::config(format!(
                "options.preset must be a preset's name: one of {}",
                Preset::known()
            )))
        }
    };
    let mut base: Value = serde_json::from_str(preset.options_json())
        .map_err(|e| Error::config(format!("the options of preset {preset:?} do not read: {e}")))?;
    let given: Vec<&str> = PARAMETERS
        .iter()
        .copied()
        .filter(|n| user.get(*n).is_some_and(|v| !v.is_null()))
        .collect();
    merge(&mut base, Value::Object(user));
    let Value::Object(mut merged) = base else {
        return Err(Error::config(format!(
            "the options of preset {preset:?} are not an object"
        )));
    };
    let params: Vec<(&str, Option<Value>)> =
        PARAMETERS.iter().map(|n| (*n, merged.remove(*n))).collect();
    let url = match merged.get("baseUrl") {
        Some(Value::String(url)) => url.clone(),
        None | Some(Value::Null) => {
            return Err(Error::config(format!(
                "options.baseUrl is missing: preset {:?} has no base URL of its own \
                 (your server's, like {})",
                preset.name(),
                preset.base_url_example()
            )))
        }
        // Not a string: reading the options says so.
        Some(_) => return Ok(Value::Object(merged)),
    };
    let filled = fill(&url, preset, &params)?;
    if let Some(unused) = given.iter().find(|n| !url.contains(&format!("{{{n}}}"))) {
        return Err(Error::config(format!(
            "options.{unused} is not used: the base URL {url} of preset {:?} has no {{{unused}}}",
            preset.name()
        )));
    }
    merged.insert("baseUrl".into(), Value::String(filled));
    Ok(Value::Object(merged))
}

/// [`resolve`] over JSON text: the options `text` gives, with their preset
/// resolved, as JSON text. What `new Client(options)` reads in the npm
/// package, and what [`ApiOptions::from_json`] reads.
pub fn resolve_json(text: &str) -> Result<String> {
    // A text that does not read is left to the schema's reader, which says where.
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return Ok(text.to_string());
    };
    if !value
        .as_object()
        .is_some_and(|o| o.contains_key("preset") || PARAMETERS.iter().any(|n| o.contains_key(*n)))
    {
        return Ok(text.to_string());
    }
    Ok(resolve(value)?.to_string())
}

/// `url` with its `{name}` parameters replaced by their values in `params`.
fn fill(url: &str, preset: Preset, params: &[(&str, Option<Value>)]) -> Result<String> {
    let mut out = url.to_string();
    for (name, value) in params {
        let slot = format!("{{{name}}}");
        if !out.contains(&slot) {
            continue;
        }
        let value = match value {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) => {
                return Err(Error::config(format!(
                    "options.{name} is missing: preset {:?} builds its base URL {url} from it{}",
                    preset.name(),
                    hint(name)
                )))
            }
            Some(_) => {
                return Err(Error::config(format!(
                    "options.{name} must be a string{}",
                    hint(name)
                )))
            }
        };
        check_parameter(name, &value)?;
        out = out.replace(&slot, &value);
    }
    Ok(out)
}

fn hint(name: &str) -> &'static str {
    match name {
        "instance" => " (the first label of your host name: \"acme\" for acme.service-now.com)",
        "apiVersion" => " (like \"60.0\")",
        _ => "",
    }
}

/// A parameter's value may only be what its place in a host name or a path needs.
fn check_parameter(name: &str, value: &str) -> Result<()> {
    let ok = match name {
        "instance" => {
            !value.is_empty()
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                && !value.starts_with(['.', '-'])
                && !value.ends_with(['.', '-'])
                && !value.contains("..")
                && !value.ends_with(".service-now.com")
                && !value.ends_with(".salesforce.com")
        }
        "apiVersion" => value
            .split_once('.')
            .is_some_and(|(a, b)| is_digits(a) && is_digits(b)),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::config(format!(
            "options.{name} {value:?} is not valid{}",
            hint(name)
        )))
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Merges the options `over` into `base` (both option documents), as the
/// [module](self) says: yours (`over`) win.
pub fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (name, value) in over {
                match name.as_str() {
                    "headers" | "query" if base.contains_key(&name) => {
                        if let Some(slot) = base.get_mut(&name) {
                            merge_pairs(slot, value, name == "headers");
                        }
                    }
                    _ => match base.get_mut(&name) {
                        Some(slot) => merge_member(slot, value, &name),
                        None => {
                            base.insert(name, value);
                        }
                    },
                }
            }
        }
        (base, over) => *base = over,
    }
}

/// Merges the member at `path` (`pagination`, `pagination.total`).
fn merge_member(base: &mut Value, over: Value, path: &str) {
    let (Value::Object(b), Value::Object(o)) = (&mut *base, &over) else {
        *base = over;
        return;
    };
    if replaces_whole(path, b, o) {
        *base = over;
        return;
    }
    let Value::Object(over) = over else {
        return;
    };
    for (name, value) in over {
        let inner = format!("{path}.{name}");
        match b.get_mut(&name) {
            Some(slot) => merge_member(slot, value, &inner),
            None => {
                b.insert(name, value);
            }
        }
    }
}

/// Whether `over` replaces `base` whole: another `type` (a pagination, an
/// auth), another delta filter, or a one-of shape (a total, a link).
fn replaces_whole(path: &str, base: &Map<String, Value>, over: &Map<String, Value>) -> bool {
    let differs = |key: &str| over.get(key).is_some_and(|v| base.get(key) != Some(v));
    match path {
        "pagination.total" | "pagination.from" => true,
        "delta" => differs("param") || differs("compose"),
        _ => differs("type"),
    }
}

/// Headers or query parameters: `over`'s replace `base`'s of the same name
/// (`ignore_case` for headers), the others of `base` stay, in order. A
/// value that is not pairs replaces whole (reading it says what is wrong).
fn merge_pairs(base: &mut Value, over: Value, ignore_case: bool) {
    let (Some(mut pairs), Some(mine)) = (pairs_of(base), pairs_of(&over)) else {
        *base = over;
        return;
    };
    if over.is_null() {
        *base = Value::Null;
        return;
    }
    let same = |a: &str, b: &str| {
        if ignore_case {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    pairs.retain(|(name, _)| !mine.iter().any(|(n, _)| same(n, name)));
    pairs.extend(mine);
    *base = Value::Array(
        pairs
            .into_iter()
            .map(|(n, v)| Value::Array(vec![Value::String(n), v]))
            .collect(),
    );
}

/// The pairs of a `headers`/`query` value (an object, `[name, value]`
/// pairs, or `null`), values as they are; `None` for another shape.
fn pairs_of(v: &Value) -> Option<Vec<(String, Value)>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Object(m) => Some(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        Value::Array(items) => items
            .iter()
            .map(|item| match item.as_array().map(Vec::as_slice) {
                Some([Value::String(n), v]) => Some((n.clone(), v.clone())),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// The options of an [`ApiBuilder`](crate::ApiBuilder) that names a
/// preset, resolved: the preset's options (its base URL filled in from
/// `instance`, `apiVersion`, or replaced by your base URL) with yours over
/// them. Your members given replace the preset's whole (a Rust value is
/// whole); headers and query parameters merge by name.
pub(crate) fn resolve_options(options: ApiOptions) -> Result<ApiOptions> {
    let Some(preset) = options.preset else {
        if options.instance.is_some() || options.api_version.is_some() {
            let name = if options.instance.is_some() {
                "instance"
            } else {
                "apiVersion"
            };
            return Err(Error::config(format!(
                "options.{name} is a preset's parameter, and no preset is named \
                 (options.preset: one of {})",
                Preset::known()
            )));
        }
        return Ok(options);
    };
    let mut given = Map::new();
    given.insert("preset".into(), Value::String(preset.name().into()));
    if !options.base_url.is_empty() {
        given.insert("baseUrl".into(), Value::String(options.base_url.clone()));
    }
    if let Some(v) = &options.instance {
        given.insert("instance".into(), Value::String(v.clone()));
    }
    if let Some(v) = &options.api_version {
        given.insert("apiVersion".into(), Value::String(v.clone()));
    }
    let text = resolve(Value::Object(given))?.to_string();
    let base: ApiOptions = super::schema::from_json(&text)?;
    Ok(overlay(base, options))
}

/// `user`'s options over `base`'s: a member given replaces; headers and
/// query parameters merge by name. Every member is named here (no `..`):
/// a new option must say how it combines.
fn overlay(base: ApiOptions, user: ApiOptions) -> ApiOptions {
    let ApiOptions {
        base_url: _,
        auth,
        headers,
        query,
        allow_origins,
        records_at,
        pagination,
        page_size,
        concurrency,
        window,
        timeout,
        retry,
        pacing,
        delta,
        lookup,
        batch_write,
        preset: _,
        instance: _,
        api_version: _,
    } = user;
    ApiOptions {
        base_url: base.base_url,
        auth: auth.or(base.auth),
        headers: over_pairs(base.headers, headers, true),
        query: over_pairs(base.query, query, false),
        allow_origins: allow_origins.or(base.allow_origins),
        records_at: records_at.or(base.records_at),
        pagination: pagination.or(base.pagination),
        page_size: page_size.or(base.page_size),
        concurrency: concurrency.or(base.concurrency),
        window: window.or(base.window),
        timeout: timeout.or(base.timeout),
        retry: retry.or(base.retry),
        pacing: pacing.or(base.pacing),
        delta: delta.or(base.delta),
        lookup: lookup.or(base.lookup),
        batch_write: batch_write.or(base.batch_write),
        preset: None,
        instance: None,
        api_version: None,
    }
}

fn over_pairs(mut base: Pairs, mine: Pairs, ignore_case: bool) -> Pairs {
    base.retain(|(name, _)| {
        !mine.iter().any(|(n, _)| {
            if ignore_case {
                n.eq_ignore_ascii_case(name)
            } else {
                n == name
            }
        })
    });
    base.extend(mine);
    base
}

#[cfg(test)]
mod tests;

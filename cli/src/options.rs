//! The options of every subcommand: flags over an options document
//! (`--options file.json`, the JSON schema the npm package reads), and the
//! secrets, read from the environment or a file only.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use pagewise::{Api, ApiBuilder, ApiOptions, Auth};
use serde_json::{json, Map, Value};

use crate::fail::{Fail, Result};

/// The pagination dialects, as `--pagination` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dialect {
    /// offset + limit (`?offset=200&limit=100`).
    Offset,
    /// page numbers (`?page=3&per_page=100`).
    Page,
    /// a cursor token from the body or a header.
    Cursor,
    /// a next URL from the body or a `Link` header.
    Next,
    /// keyset (`field > last`).
    Keyset,
}

impl Dialect {
    fn name(self) -> &'static str {
        match self {
            Dialect::Offset => "offset",
            Dialect::Page => "page",
            Dialect::Cursor => "cursor",
            Dialect::Next => "next",
            Dialect::Keyset => "keyset",
        }
    }
}

/// The options every subcommand shares: the API and how to reach it.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// A whole options document (JSON, the schema of the npm package's
    /// `new Client(options)`); the flags below go over it.
    #[arg(long, value_name = "FILE.json", help_heading = "API")]
    pub options: Option<PathBuf>,
    /// An API named instead of described: servicenow, salesforce, github, ...
    #[arg(long, help_heading = "API")]
    pub preset: Option<String>,
    /// The preset's instance (`acme` for acme.service-now.com).
    #[arg(long, help_heading = "API")]
    pub instance: Option<String>,
    /// The preset's API version (Salesforce).
    #[arg(long, help_heading = "API")]
    pub api_version: Option<String>,
    /// The base URL, when the target is a path under it.
    #[arg(long, value_name = "URL", help_heading = "API")]
    pub base_url: Option<String>,
    /// Where the records of a page sit (a JSON pointer, like /data).
    #[arg(long, value_name = "POINTER", help_heading = "Pagination")]
    pub records_at: Option<String>,
    /// The pagination dialect.
    #[arg(long, value_enum, help_heading = "Pagination")]
    pub pagination: Option<Dialect>,
    /// The total from this response header (X-Total-Count).
    #[arg(long, value_name = "NAME", help_heading = "Pagination")]
    pub total_header: Option<String>,
    /// The total from this JSON pointer of the body (/meta/total).
    #[arg(long, value_name = "POINTER", help_heading = "Pagination")]
    pub total_pointer: Option<String>,
    /// The total from the Content-Range header.
    #[arg(long, help_heading = "Pagination")]
    pub total_content_range: bool,
    /// offset: the offset parameter's name.
    #[arg(long, value_name = "NAME", help_heading = "Pagination")]
    pub offset_param: Option<String>,
    /// offset, cursor, next, keyset: the page size parameter's name.
    #[arg(long, value_name = "NAME", help_heading = "Pagination")]
    pub limit_param: Option<String>,
    /// page: the page number parameter's name.
    #[arg(long, value_name = "NAME", help_heading = "Pagination")]
    pub page_param: Option<String>,
    /// page: the page size parameter's name.
    #[arg(long, value_name = "NAME", help_heading = "Pagination")]
    pub size_param: Option<String>,
    /// page: the first page's number (0 or 1).
    #[arg(long, value_name = "N", help_heading = "Pagination")]
    pub first_page: Option<u64>,
    /// cursor, next: where the next cursor or URL is: a JSON pointer
    /// (/next_cursor), header:NAME, or link (RFC 8288 Link header).
    #[arg(long, value_name = "FROM", help_heading = "Pagination")]
    pub from: Option<String>,
    /// cursor, keyset: the query parameter that carries the cursor or the last value.
    #[arg(long, value_name = "NAME", help_heading = "Pagination")]
    pub param: Option<String>,
    /// keyset: the record field the API sorts by.
    #[arg(long, value_name = "FIELD", help_heading = "Pagination")]
    pub keyset_field: Option<String>,
    /// Records per page.
    #[arg(long, value_name = "N", help_heading = "Requests")]
    pub page_size: Option<u64>,
    /// Requests in flight at once.
    #[arg(long, value_name = "N", help_heading = "Requests")]
    pub concurrency: Option<u64>,
    /// At most this many requests per second.
    #[arg(long, value_name = "PER_SECOND", help_heading = "Requests")]
    pub rate_limit: Option<f64>,
    /// Retries of a failed request.
    #[arg(long, value_name = "N", help_heading = "Requests")]
    pub max_retries: Option<u64>,
    /// How long one request may take, in seconds.
    #[arg(long, value_name = "SECONDS", help_heading = "Requests")]
    pub timeout: Option<f64>,
    /// A query parameter of every request (repeatable).
    #[arg(long, value_name = "NAME=VALUE", help_heading = "Requests")]
    pub query: Vec<String>,
    /// A header of every request (repeatable). Not for secrets: see --auth-header.
    #[arg(long, value_name = "NAME=VALUE", help_heading = "Requests")]
    pub header: Vec<String>,
    /// A bearer token from this environment variable.
    #[arg(long, value_name = "NAME", help_heading = "Authentication")]
    pub token_env: Option<String>,
    /// A bearer token from this file (its first line).
    #[arg(long, value_name = "FILE", help_heading = "Authentication")]
    pub token_file: Option<PathBuf>,
    /// Basic authentication as this user (the password from --password-env or --password-file).
    #[arg(long, value_name = "USER", help_heading = "Authentication")]
    pub basic_user: Option<String>,
    /// The basic password from this environment variable.
    #[arg(long, value_name = "NAME", help_heading = "Authentication")]
    pub password_env: Option<String>,
    /// The basic password from this file (its first line).
    #[arg(long, value_name = "FILE", help_heading = "Authentication")]
    pub password_file: Option<PathBuf>,
    /// An API key in this header (its value from --auth-header-env or --auth-header-file).
    #[arg(long, value_name = "NAME", help_heading = "Authentication")]
    pub auth_header: Option<String>,
    /// The --auth-header value from this environment variable.
    #[arg(long, value_name = "NAME", help_heading = "Authentication")]
    pub auth_header_env: Option<String>,
    /// The --auth-header value from this file (its first line).
    #[arg(long, value_name = "FILE", help_heading = "Authentication")]
    pub auth_header_file: Option<PathBuf>,
}

/// `NAME=VALUE` split, or a usage error naming the flag.
fn pair(flag: &str, text: &str) -> Result<(String, String)> {
    match text.split_once('=') {
        Some((n, v)) if !n.is_empty() => Ok((n.to_string(), v.to_string())),
        _ => Err(Fail::usage(format!("{flag} {text:?}: expected NAME=VALUE"))),
    }
}

/// Where a cursor or a next URL is read from, as the schema spells it.
fn link(text: &str) -> Result<Value> {
    if text == "link" {
        Ok(json!("link"))
    } else if let Some(name) = text.strip_prefix("header:") {
        Ok(json!({ "header": name }))
    } else if text.starts_with('/') {
        Ok(json!({ "pointer": text }))
    } else {
        Err(Fail::usage(format!(
            "--from {text:?}: expected a JSON pointer (/next), header:NAME or link"
        )))
    }
}

/// Name/value pairs of a `headers` or `query` member (an object or pairs) as pairs.
fn as_pairs(v: Option<Value>) -> Vec<Value> {
    match v {
        Some(Value::Object(m)) => m.into_iter().map(|(k, v)| json!([k, v])).collect(),
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    }
}

impl ApiArgs {
    /// The options document: `--options` with the flags over it. Holds no
    /// secret given by the flags (those are applied by [`ApiArgs::build`]).
    pub fn document(&self) -> Result<Map<String, Value>> {
        let mut doc = match &self.options {
            None => Map::new(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Fail::usage(format!("--options {}: {e}", path.display())))?;
                match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(m)) => m,
                    Ok(_) => {
                        return Err(Fail::usage(format!(
                            "--options {}: not a JSON object",
                            path.display()
                        )))
                    }
                    Err(e) => {
                        return Err(Fail::usage(format!(
                            "--options {}: not JSON: {e}",
                            path.display()
                        )))
                    }
                }
            }
        };
        let mut set = |name: &str, v: Option<Value>| {
            if let Some(v) = v {
                doc.insert(name.to_string(), v);
            }
        };
        set("preset", self.preset.clone().map(Value::from));
        set("instance", self.instance.clone().map(Value::from));
        set("apiVersion", self.api_version.clone().map(Value::from));
        set("baseUrl", self.base_url.clone().map(Value::from));
        set("recordsAt", self.records_at.clone().map(Value::from));
        set("pageSize", self.page_size.map(Value::from));
        set("concurrency", self.concurrency.map(Value::from));
        if let Some(t) = self.timeout {
            if !(t.is_finite() && t > 0.0) {
                return Err(Fail::usage(format!("--timeout {t}: expected seconds > 0")));
            }
            doc.insert("timeoutMs".into(), json!((t * 1000.0).round() as u64));
        }
        if let Some(n) = self.max_retries {
            let retry = doc.entry("retry").or_insert_with(|| json!({}));
            if !retry.is_object() {
                *retry = json!({});
            }
            retry["maxRetries"] = json!(n);
        }
        if let Some(rate) = self.rate_limit {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(Fail::usage(format!(
                    "--rate-limit {rate}: expected requests per second > 0"
                )));
            }
            let pacing = doc.entry("pacing").or_insert_with(|| json!({}));
            if !pacing.is_object() {
                *pacing = json!({});
            }
            pacing["rateLimit"] =
                json!({ "perSecond": rate, "burst": (rate.ceil() as u64).max(1) });
        }
        for (flag, member, given) in [
            ("--header", "headers", &self.header),
            ("--query", "query", &self.query),
        ] {
            if given.is_empty() {
                continue;
            }
            let mut pairs = as_pairs(doc.remove(member));
            for text in given {
                let (n, v) = pair(flag, text)?;
                pairs.push(json!([n, v]));
            }
            doc.insert(member.into(), Value::Array(pairs));
        }
        self.pagination_into(&mut doc)?;
        Ok(doc)
    }

    fn pagination_into(&self, doc: &mut Map<String, Value>) -> Result<()> {
        let mut members = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                members.insert(k.into(), v);
            }
        };
        put("offsetParam", self.offset_param.clone().map(Value::from));
        put("limitParam", self.limit_param.clone().map(Value::from));
        put("pageParam", self.page_param.clone().map(Value::from));
        put("sizeParam", self.size_param.clone().map(Value::from));
        put("firstPage", self.first_page.map(Value::from));
        put("param", self.param.clone().map(Value::from));
        put("field", self.keyset_field.clone().map(Value::from));
        let totals = [
            self.total_header.as_ref().map(|h| json!({ "header": h })),
            self.total_pointer.as_ref().map(|p| json!({ "pointer": p })),
            self.total_content_range.then(|| json!("content-range")),
        ];
        let mut totals = totals.into_iter().flatten();
        if let Some(t) = totals.next() {
            if totals.next().is_some() {
                return Err(Fail::usage(
                    "give one of --total-header, --total-pointer, --total-content-range".into(),
                ));
            }
            members.insert("total".into(), t);
        }
        if let Some(from) = &self.from {
            members.insert("from".into(), link(from)?);
        }
        if self.pagination.is_none() && members.is_empty() {
            return Ok(());
        }
        let existing = doc.remove("pagination");
        let mut p = match (existing, self.pagination) {
            (Some(Value::Object(m)), None) => m,
            (Some(Value::Object(m)), Some(d))
                if m.get("type").and_then(Value::as_str) == Some(d.name()) =>
            {
                m
            }
            (_, Some(d)) => {
                let mut m = Map::new();
                m.insert("type".into(), json!(d.name()));
                m
            }
            (_, None) if doc.contains_key("preset") => Map::new(),
            (_, None) => {
                return Err(Fail::usage(
                    "pagination parameters need --pagination offset|page|cursor|next|keyset".into(),
                ))
            }
        };
        p.extend(members);
        doc.insert("pagination".into(), Value::Object(p));
        Ok(())
    }

    /// The secret of `--*-env NAME` or `--*-file F`: an error names the
    /// variable or the file, never the value.
    fn secret(env: &Option<String>, file: &Option<PathBuf>, what: &str) -> Result<Option<String>> {
        match (env, file) {
            (Some(_), Some(_)) => Err(Fail::usage(format!(
                "{what}: give the environment variable or the file, not both"
            ))),
            (Some(name), None) => match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(Some(v)),
                Ok(_) => Err(Fail::usage(format!(
                    "{what}: environment variable {name} is empty"
                ))),
                Err(_) => Err(Fail::usage(format!(
                    "{what}: environment variable {name} is not set"
                ))),
            },
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Fail::usage(format!(
                        "{what}: cannot read {}: {}",
                        path.display(),
                        e.kind()
                    ))
                })?;
                let line = text.lines().next().unwrap_or("").trim().to_string();
                if line.is_empty() {
                    return Err(Fail::usage(format!("{what}: {} is empty", path.display())));
                }
                Ok(Some(line))
            }
            (None, None) => Ok(None),
        }
    }

    /// The authentication the flags give, if any.
    pub fn auth(&self) -> Result<Option<Auth>> {
        let token = Self::secret(
            &self.token_env,
            &self.token_file,
            "--token-env/--token-file",
        )?;
        let password = Self::secret(
            &self.password_env,
            &self.password_file,
            "--password-env/--password-file",
        )?;
        let key = Self::secret(
            &self.auth_header_env,
            &self.auth_header_file,
            "--auth-header-env/--auth-header-file",
        )?;
        let mut found = Vec::new();
        if let Some(t) = token {
            found.push(Auth::bearer(t));
        }
        match (&self.basic_user, password) {
            (Some(user), Some(p)) => found.push(Auth::basic(user.clone(), p)),
            (Some(_), None) => {
                return Err(Fail::usage(
                    "--basic-user needs --password-env or --password-file".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(Fail::usage(
                    "--password-env/--password-file need --basic-user".into(),
                ))
            }
            (None, None) => {}
        }
        match (&self.auth_header, key) {
            (Some(name), Some(v)) => found.push(Auth::header(name.clone(), v)),
            (Some(_), None) => {
                return Err(Fail::usage(
                    "--auth-header needs --auth-header-env or --auth-header-file".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(Fail::usage(
                    "--auth-header-env/--auth-header-file need --auth-header".into(),
                ))
            }
            (None, None) => {}
        }
        if found.len() > 1 {
            return Err(Fail::usage(
                "give one authentication: a token, basic or an auth header".into(),
            ));
        }
        Ok(found.pop())
    }

    /// The API: the document read as the npm package reads it (presets
    /// resolved), the secrets applied over it.
    pub fn build(&self, doc: &Map<String, Value>) -> Result<Api> {
        let options = ApiOptions::from_json(&Value::Object(doc.clone()).to_string())?;
        let mut builder = ApiBuilder::from(options);
        if let Some(auth) = self.auth()? {
            builder = builder.auth(auth);
        }
        Ok(builder.build()?)
    }
}

/// Moves query parameters of the target to the document's default query
/// (sent with every request of the API): all of them with `all`, otherwise
/// those named like a credential. The library redacts a default parameter
/// named like a credential in its logs and errors and leaves it out of
/// checkpoints (the state file), which it does not do for a list's own
/// query. Returns the parameters left for the list.
pub fn query_to_defaults(
    doc: &mut Map<String, Value>,
    query: Vec<(String, String)>,
    all: bool,
) -> Vec<(String, String)> {
    let (moved, kept): (Vec<_>, Vec<_>) = query
        .into_iter()
        .partition(|(n, _)| all || pagewise::is_sensitive_query_name(n));
    if !moved.is_empty() {
        let mut pairs = as_pairs(doc.remove("query"));
        pairs.extend(moved.into_iter().map(|(n, v)| json!([n, v])));
        doc.insert("query".into(), Value::Array(pairs));
    }
    kept
}

/// `url` as a message may show it: without `user:password@`.
fn without_userinfo(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => "(a URL that does not parse)".to_string(),
    }
}

/// A path from a parsed URL: its `{id}` placeholder, which the URL parser
/// percent-encodes (`%7Bid%7D`), given back.
fn placeholder(path: &str) -> String {
    path.replace("%7Bid%7D", "{id}")
}

/// A target: a full URL (its last segments the collection, under its
/// directory as the base URL) or a path under the document's base URL.
/// Returns the path and the URL's query parameters.
pub fn target(
    doc: &mut Map<String, Value>,
    target: &str,
) -> Result<(String, Vec<(String, String)>)> {
    if target.starts_with("http://") || target.starts_with("https://") {
        // (The target is not shown: it may hold a credential.)
        let url = url::Url::parse(target)
            .map_err(|e| Fail::usage(format!("the target is not a URL: {e}")))?;
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let path = url.path();
        let cut = path.rfind('/').map_or(0, |i| i + 1);
        let (dir, last) = path.split_at(cut);
        if !doc.contains_key("baseUrl") {
            let mut base = url.clone();
            base.set_query(None);
            base.set_fragment(None);
            base.set_path(dir);
            doc.insert("baseUrl".into(), json!(base.as_str()));
            return Ok((placeholder(last), query));
        }
        // A base URL was given: the target's path under it.
        let base = doc["baseUrl"].as_str().unwrap_or_default().to_string();
        let mut bare = url.clone();
        bare.set_query(None);
        bare.set_fragment(None);
        return match bare.as_str().strip_prefix(base.as_str()) {
            Some(rest) => Ok((placeholder(rest), query)),
            None => Err(Fail::usage(format!(
                "the target {} is not under the base URL {}",
                without_userinfo(bare.as_str()),
                without_userinfo(&base)
            ))),
        };
    }
    if !doc.contains_key("baseUrl") && !doc.contains_key("preset") {
        return Err(Fail::usage(format!(
            "{target:?}: give a full URL, or a path with --preset or --base-url"
        )));
    }
    match target.split_once('?') {
        None => Ok((target.to_string(), Vec::new())),
        Some((path, q)) => {
            let query = url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect();
            Ok((path.to_string(), query))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        // The `{id}` of a template given as a full URL survives the URL parser.
        let mut doc = Map::new();
        let (path, query) = target(&mut doc, "https://h.example/v1/items/{id}?x=1").unwrap();
        assert_eq!(path, "{id}");
        assert_eq!(doc["baseUrl"], "https://h.example/v1/items/");
        assert_eq!(query, vec![("x".to_string(), "1".to_string())]);
        let mut doc = Map::new();
        doc.insert("baseUrl".into(), json!("https://h.example/v1/"));
        let (path, _) = target(&mut doc, "https://h.example/v1/items/{id}").unwrap();
        assert_eq!(path, "items/{id}");

        // Messages show no user info.
        let mut doc = Map::new();
        doc.insert("baseUrl".into(), json!("https://h.example/v1/"));
        let e = target(&mut doc, "https://bob:hunter2@other.example/v2/items").unwrap_err();
        assert!(!e.message.contains("hunter2"), "{}", e.message);
        let e = target(&mut Map::new(), "https://bob:hunter2@[::1/items").unwrap_err();
        assert!(!e.message.contains("hunter2"), "{}", e.message);
    }

    #[test]
    fn query_credentials_go_to_the_defaults() {
        let mut doc = Map::new();
        doc.insert("query".into(), json!({ "a": "1" }));
        let q = vec![
            ("api_key".to_string(), "k".to_string()),
            ("active".to_string(), "true".to_string()),
        ];
        let kept = query_to_defaults(&mut doc, q.clone(), false);
        assert_eq!(kept, vec![("active".to_string(), "true".to_string())]);
        assert_eq!(doc["query"], json!([["a", "1"], ["api_key", "k"]]));
        let mut doc = Map::new();
        assert!(query_to_defaults(&mut doc, q, true).is_empty());
        assert_eq!(doc["query"], json!([["api_key", "k"], ["active", "true"]]));
    }
}

//! The description of an API: where it lives, how to authenticate, how it pages.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::url::Url;

use super::delta::DeltaFilter;
use super::http::{Header, Method, Request, RequestId};
use super::pacing::Pacing;
use super::pagination::Pagination;
use super::preset::Preset;
use super::redact::Secrets;
use super::retry::RetryPolicy;
use super::schema::{ApiOptions, Origins};
use crate::error::{Error, ErrorKind, Result};

/// How requests authenticate. Credentials are sent only to the API's own
/// origin (scheme, host and port of the base URL): a next-page link or a
/// redirect to another origin is refused, or, where
/// [`ApiBuilder::allow_origins`] allows it, followed without them. `Debug`
/// never prints them.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// A custom header such as `X-Api-Key: <value>`.
    Header {
        /// The header name.
        name: String,
        /// The secret value.
        value: String,
    },
    /// A query parameter such as `?api_key=<value>` (redacted in every message).
    Query {
        /// The parameter name.
        name: String,
        /// The secret value.
        value: String,
    },
    /// Several headers carrying secrets (Supabase: `apikey` and
    /// `Authorization`); see [`Auth::headers`].
    Headers(Vec<(String, String)>),
    /// Tokens asked of a [`TokenProvider`](crate::TokenProvider); see [`Auth::provider`].
    Provider(super::token::Provider),
    /// Tokens asked of an OAuth 2.0 token endpoint; see [`Auth::oauth2`].
    OAuth2(super::token::OAuth2),
}

impl Auth {
    /// HTTP basic authentication.
    pub fn basic(user: impl Into<String>, password: impl Into<String>) -> Self {
        Auth::Basic {
            user: user.into(),
            password: password.into(),
        }
    }
    /// A bearer token.
    pub fn bearer(token: impl Into<String>) -> Self {
        Auth::Bearer(token.into())
    }
    /// A custom header carrying a secret.
    pub fn header(name: impl Into<String>, value: impl Into<String>) -> Self {
        Auth::Header {
            name: name.into(),
            value: value.into(),
        }
    }
    /// A query parameter carrying a secret.
    pub fn query(name: impl Into<String>, value: impl Into<String>) -> Self {
        Auth::Query {
            name: name.into(),
            value: value.into(),
        }
    }

    /// Several headers carrying secrets, sent with every request to the
    /// API's origin and never printed (Supabase's `apikey` and `Authorization`).
    ///
    /// ```
    /// use pagewise::Auth;
    /// let auth = Auth::headers([("apikey", "k3y"), ("Authorization", "Bearer k3y")]);
    /// assert_eq!(format!("{auth:?}"), r#"Headers(["apikey", "Authorization"], <redacted>)"#);
    /// ```
    pub fn headers<N: Into<String>, V: Into<String>>(
        headers: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        Auth::Headers(
            headers
                .into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        )
    }

    /// Tokens from a closure, asked when a request needs one: before the
    /// first request, when the last one expired ([`Token::expires_in`](crate::Token::expires_in)),
    /// and once when the API answers 401 (that request is then sent again,
    /// once, with the new token; a second 401 is an
    /// [`ErrorKind::Auth`] error). One `Api` asks one question at a time,
    /// shared by every request in flight; none is sent while it runs.
    /// The closure returns a bearer token (`String`) or a
    /// [`Token`](crate::Token); its error becomes an [`ErrorKind::Auth`]
    /// error of the request (retried as the retry policy says: nothing was
    /// sent). It runs on the thread that drives the operation: for a token
    /// that takes I/O in an async program, use [`provider_async`](Self::provider_async).
    ///
    /// ```
    /// use pagewise::{Api, Auth};
    /// let api = Api::builder("https://api.example/")
    ///     .auth(Auth::provider(|| Ok::<_, std::io::Error>(std::env::var("TOKEN").unwrap_or_default())))
    ///     .build()
    ///     .unwrap();
    /// # let _ = api;
    /// ```
    #[cfg(not(target_arch = "wasm32"))]
    pub fn provider<F, T, E>(f: F) -> Self
    where
        F: Fn() -> std::result::Result<T, E> + Send + Sync + 'static,
        T: Into<super::token::Token>,
        E: Into<super::token::BoxError>,
    {
        Self::token_provider(super::token::SyncProvider(f))
    }

    /// Tokens from a closure (see the native docs).
    #[cfg(target_arch = "wasm32")]
    pub fn provider<F, T, E>(f: F) -> Self
    where
        F: Fn() -> std::result::Result<T, E> + 'static,
        T: Into<super::token::Token>,
        E: Into<super::token::BoxError>,
    {
        Self::token_provider(super::token::SyncProvider(f))
    }

    /// Tokens from an async closure (a closure returning a future; any
    /// executor), asked as [`provider`](Self::provider) says.
    ///
    /// ```
    /// use pagewise::{Auth, Token};
    /// use std::time::Duration;
    /// let auth = Auth::provider_async(|| async {
    ///     // ask a vault, a token service...
    ///     Ok::<_, std::io::Error>(Token::bearer("t0ken").expires_in(Duration::from_secs(300)))
    /// });
    /// assert!(!format!("{auth:?}").contains("t0ken"));
    /// ```
    #[cfg(not(target_arch = "wasm32"))]
    pub fn provider_async<F, Fut, T, E>(f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = std::result::Result<T, E>> + Send + 'static,
        T: Into<super::token::Token>,
        E: Into<super::token::BoxError>,
    {
        Self::token_provider(super::token::AsyncProvider(f))
    }

    /// Tokens from an async closure (see the native docs).
    #[cfg(target_arch = "wasm32")]
    pub fn provider_async<F, Fut, T, E>(f: F) -> Self
    where
        F: Fn() -> Fut + 'static,
        Fut: std::future::Future<Output = std::result::Result<T, E>> + 'static,
        T: Into<super::token::Token>,
        E: Into<super::token::BoxError>,
    {
        Self::token_provider(super::token::AsyncProvider(f))
    }

    /// Tokens from a [`TokenProvider`](crate::TokenProvider), asked as
    /// [`provider`](Self::provider) says.
    pub fn token_provider(provider: impl super::token::TokenProvider) -> Self {
        Auth::Provider(super::token::Provider(Arc::new(provider)))
    }

    /// Tokens from an OAuth 2.0 token endpoint: see [`OAuth2`](crate::OAuth2).
    pub fn oauth2(config: super::token::OAuth2) -> Self {
        Auth::OAuth2(config)
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Basic { user, .. } => write!(f, "Basic({user:?}, <redacted>)"),
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Auth::Header { name, .. } => write!(f, "Header({name:?}, <redacted>)"),
            Auth::Query { name, .. } => write!(f, "Query({name:?}, <redacted>)"),
            Auth::Headers(h) => {
                let names: Vec<&String> = h.iter().map(|(n, _)| n).collect();
                write!(f, "Headers({names:?}, <redacted>)")
            }
            Auth::Provider(p) => write!(f, "Provider({p:?})"),
            Auth::OAuth2(o) => write!(f, "{o:?}"),
        }
    }
}

/// Builds an API description; see [`Api::builder`](crate::Api::builder).
///
/// Nothing is checked until `build()`, which reports the first problem as an
/// [`ErrorKind::Config`] or [`ErrorKind::Url`] error.
///
/// `Debug` prints no secret: user info in the base URL, the values of
/// headers and query parameters and the credentials are left out.
#[derive(Clone)]
pub struct ApiBuilder {
    /// Every option, as the schema holds them: what the methods below fill
    /// and what `new Client(options)` reads in the npm package.
    options: ApiOptions,
    /// The `on_event` callback (not an option of the schema: code only).
    pub(crate) observer: super::Observer,
}

impl From<ApiOptions> for ApiBuilder {
    /// A builder over options read from a configuration (see
    /// [`schema`](crate::core::schema)); `build()` checks them.
    fn from(options: ApiOptions) -> Self {
        ApiBuilder {
            options,
            observer: super::Observer::default(),
        }
    }
}

impl From<ApiBuilder> for ApiOptions {
    fn from(b: ApiBuilder) -> Self {
        b.options
    }
}

impl fmt::Debug for ApiBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        f.debug_struct("ApiBuilder")
            .field(
                "base",
                &secrets_of(&o.auth, &o.query).redact_url(&o.base_url),
            )
            .field("auth", &o.auth)
            .field("headers", &Redacted(&o.headers))
            .field("query", &Redacted(&o.query))
            .field("records_at", &o.records_at)
            .field("page_size", &o.page_size)
            .field("pagination", &o.pagination)
            .field("concurrency", &o.concurrency)
            .field("window", &o.window)
            .field("timeout", &o.timeout)
            .field("retry", &o.retry)
            .field("pacing", &o.pacing)
            .field("delta", &o.delta)
            .field("allow_origins", &o.allow_origins)
            .field("preset", &o.preset)
            .field("instance", &o.instance)
            .field("api_version", &o.api_version)
            .field("lookup", &o.lookup)
            .field("batch_write", &o.batch_write)
            .finish()
    }
}

/// Name/value pairs printed with their values left out: any header or
/// query parameter may carry a secret (`X-Api-Key`, `?sig=`).
struct Redacted<'a>(&'a [(String, String)]);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| (name, "<redacted>")))
            .finish()
    }
}

/// The secrets of a configuration: the name of the auth query parameter,
/// and the default query parameters whose names say they carry a secret
/// (`sig`, `api_key`, `access_token`…: redacted in messages, and removed
/// from the URLs a checkpoint stores, to be added back to each request).
fn secrets_of(auth: &Option<Auth>, query: &[(String, String)]) -> Secrets {
    let mut secrets = Secrets::default();
    if let Some(Auth::Query { name, .. }) = auth {
        secrets.query_params.push(name.clone());
    }
    for (name, value) in query {
        if is_sensitive_query_name(name) {
            if !secrets.redacted_params.contains(name) {
                secrets.redacted_params.push(name.clone());
            }
            secrets.stored_pairs.push((name.clone(), value.clone()));
        }
    }
    secrets
}

impl ApiBuilder {
    /// The concurrency of an `Api` that sets none.
    pub const DEFAULT_CONCURRENCY: usize = 8;

    pub(crate) fn new(base: impl Into<String>) -> Self {
        ApiBuilder {
            options: ApiOptions::new(base),
            observer: super::Observer::default(),
        }
    }

    /// Calls `f` with each event of the `Api`: requests answered, retries
    /// scheduled, cooldowns, concurrency changes, notices, tokens refreshed
    /// (see [`ApiEvent`](crate::ApiEvent)). The same events go to the
    /// [`log`](https://docs.rs/log) facade whether or not a callback is set.
    ///
    /// `f` runs on the thread that drives the operation (a worker thread
    /// of the blocking client), outside the pacer's lock, while the
    /// operation waits for it: keep it short, and do not wait on the `Api`
    /// from it. A later call replaces the callback.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use pagewise::{Api, ApiEvent};
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = seen.clone();
    /// let api = Api::builder("https://api.example/v1/")
    ///     .on_event(move |e: &ApiEvent| sink.lock().unwrap().push(e.to_string()))
    ///     .build()?;
    /// # drop(api);
    /// # Ok::<(), pagewise::Error>(())
    /// ```
    #[cfg(not(target_arch = "wasm32"))]
    pub fn on_event(mut self, f: impl Fn(&crate::ApiEvent) + Send + Sync + 'static) -> Self {
        self.observer = super::Observer::new(Some(std::sync::Arc::new(f)));
        self
    }

    /// Calls `f` with each event of the `Api` (see the native version:
    /// in WebAssembly, one thread, `f` need not be `Send + Sync`).
    #[cfg(target_arch = "wasm32")]
    pub fn on_event(mut self, f: impl Fn(&crate::ApiEvent) + 'static) -> Self {
        self.observer = super::Observer::new(Some(std::sync::Arc::new(f)));
        self
    }

    /// Lets next-page links and redirects lead to these origins as well as
    /// to the API's own. An origin is a scheme, a host and a port:
    /// `"https://cdn.example"`, `"http://127.0.0.1:8080"` (a trailing `/` is
    /// fine; a path, a query or user info is an [`ErrorKind::Config`] error
    /// at `build()`). Calls add up.
    ///
    /// By default a link or a redirect to another origin than the base URL's
    /// ends the operation with an [`ErrorKind::Origin`] error, before anything
    /// is sent there: the server's answers cannot make a program that runs
    /// pagewise ask for URLs of their choosing (server-side request forgery),
    /// nor move it from `https` to plain `http`. Paths and URLs you pass
    /// yourself are not checked.
    ///
    /// Allowed or not, the credentials ([`auth`](Self::auth)) and the
    /// [`header`](Self::header)s and [`query`](Self::query) parameters
    /// configured here go only to the API's own origin.
    ///
    /// ```
    /// use pagewise::Api;
    /// let api = Api::builder("https://api.example/v1/")
    ///     .allow_origins(["https://cdn.example", "https://api.example:8443"])
    ///     .build()?;
    /// # let _ = api;
    /// assert!(Api::builder("https://api.example/")
    ///     .allow_origins(["https://cdn.example/files/"])
    ///     .build()
    ///     .is_err());
    /// # Ok::<(), pagewise::Error>(())
    /// ```
    pub fn allow_origins<I>(mut self, origins: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let more = origins.into_iter().map(Into::into);
        match &mut self.options.allow_origins {
            Some(Origins::Any) => {}
            Some(Origins::List(list)) => list.extend(more),
            None => self.options.allow_origins = Some(Origins::List(more.collect())),
        }
        self
    }

    /// Lets next-page links and redirects lead to any `http` or `https`
    /// origin, for APIs whose links move between hosts you cannot list (see
    /// [`allow_origins`](Self::allow_origins) for what the default guards
    /// against). Credentials, headers and query parameters configured here
    /// still go only to the API's own origin.
    ///
    /// ```
    /// use pagewise::{Api, Link, Pagination};
    /// let api = Api::builder("https://api.example/v1/")
    ///     .pagination(Pagination::next_url(Link::LinkHeader))
    ///     .allow_any_origin()
    ///     .build()?;
    /// # let _ = api;
    /// # Ok::<(), pagewise::Error>(())
    /// ```
    pub fn allow_any_origin(mut self) -> Self {
        self.options.allow_origins = Some(Origins::Any);
        self
    }

    /// How the API filters on an updated-at field, for delta syncs
    /// (default `?{field}_gte={value}`).
    pub fn delta(mut self, filter: DeltaFilter) -> Self {
        self.options.delta = Some(filter);
        self
    }

    /// The batch lookup `fetch_many` uses when the job names none (a job's
    /// own `.batch(..)` wins). Its path may hold `{collection}`: the job's
    /// template before `/{id}` (`incident` for `fetch_many("incident/{id}", ..)`).
    ///
    /// ```
    /// use pagewise::{Api, BatchLookup};
    /// let api = Api::builder("https://h.example/api/now/table/")
    ///     .lookup(BatchLookup::new("{collection}", "sysparm_query").value("sys_idIN{ids}").records_at("/result"))
    ///     .build()?;
    /// # let _ = api;
    /// # Ok::<(), pagewise::Error>(())
    /// ```
    pub fn lookup(mut self, lookup: crate::core::BatchLookup) -> Self {
        self.options.lookup = Some(lookup);
        self
    }

    /// The batch endpoint the write jobs (`insert_many`, ...) use when the
    /// job names none (a job's own `.batch(..)` wins; the single-record
    /// `create`, `update`, `delete` never batch). Its paths may hold
    /// `{collection}`: the job's path (`Account` for `insert_many("Account", ..)`).
    ///
    /// ```
    /// use pagewise::{Api, BatchWrite};
    /// let api = Api::builder("https://h.example/rest/v1/")
    ///     .batch_write(BatchWrite::new("{collection}").op_field(None).records_field(None))
    ///     .build()?;
    /// # let _ = api;
    /// # Ok::<(), pagewise::Error>(())
    /// ```
    pub fn batch_write(mut self, batch: crate::core::BatchWrite) -> Self {
        self.options.batch_write = Some(batch);
        self
    }

    /// How failed requests are retried (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = Some(policy);
        self
    }

    /// How requests are paced: a fixed rate limit, adaptive concurrency and
    /// rate (default: [`Pacing::default`], adaptive on, no fixed limit). With
    /// adaptive pacing the first 429 pauses every request for its
    /// `Retry-After`; after that the client measures the rate the server
    /// accepts and keeps to it, and a later 429 holds back only its own
    /// request (see [`Pacing::adaptive`]).
    pub fn pacing(mut self, pacing: Pacing) -> Self {
        self.options.pacing = Some(pacing);
        self
    }

    /// How requests authenticate.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.options.auth = Some(auth);
        self
    }

    /// A header sent with every request to the API's origin (scheme, host
    /// and port of the base URL), never to another (see
    /// [`allow_origins`](Self::allow_origins)). `Debug` does not print its value.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.headers.push((name.into(), value.into()));
        self
    }

    /// A query parameter added to every path you ask for on the API's
    /// origin. A URL on another origin never carries it: a next link or a
    /// redirect there that repeats it (name and value) loses it. `Debug` does
    /// not print its value.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.query.push((name.into(), value.into()));
        self
    }

    /// Where the records of a page sit in its body, as a JSON pointer
    /// (RFC 6901): `/data`, `/result/records`, or `""` (the default) for a
    /// body that is a top-level array.
    pub fn records_at(mut self, pointer: impl Into<String>) -> Self {
        self.options.records_at = Some(pointer.into());
        self
    }

    /// Records asked for per page (default 100). Servers that cap the page
    /// size lower are detected; no row is lost.
    pub fn page_size(mut self, size: u64) -> Self {
        self.options.page_size = Some(size);
        self
    }

    /// The pagination dialect (default: offset + limit without a total).
    pub fn pagination(mut self, pagination: impl Into<Pagination>) -> Self {
        self.options.pagination = Some(pagination.into());
        self
    }

    /// The most requests in flight at once, over every client and every
    /// operation made from this `Api` (default 8). Operations can ask for
    /// less, never more.
    pub fn concurrency(mut self, limit: usize) -> Self {
        self.options.concurrency = Some(limit);
        self
    }

    /// The default reorder window of ordered sweeps: how many finished pages
    /// may wait, beyond those in flight, for an earlier page (default: the concurrency).
    pub fn window(mut self, pages: usize) -> Self {
        self.options.window = Some(pages);
        self
    }

    /// How long one request may take (default 30 s); `None` for no limit.
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    // Presets (see `core::preset`).

    /// Names the API: the [`Preset`]'s options go under this builder's
    /// (the base URL, pagination, records, totals, delta filter, lookups,
    /// batch writes, rate-limit handling of its family), whichever order
    /// the calls come in; an option you set replaces the preset's whole,
    /// headers and query parameters replace the preset's of the same name.
    /// The base URL is the preset's, filled in from
    /// [`instance`](Self::instance) and [`api_version`](Self::api_version),
    /// unless the builder has one of its own (a GitHub Enterprise server).
    /// A parameter missing is an [`ErrorKind::Config`] error at `build()`
    /// naming it. Same as [`Api::builder_for`](crate::Api::builder_for).
    ///
    /// ```
    /// use pagewise::{Api, Preset};
    /// let builder = Api::builder("").preset(Preset::ServiceNow).instance("acme").page_size(500);
    /// # let _ = builder;
    /// let missing = Api::builder_for(Preset::ServiceNow).build().unwrap_err();
    /// assert!(missing.to_string().contains("options.instance is missing"));
    /// ```
    pub fn preset(mut self, preset: Preset) -> Self {
        self.options.preset = Some(preset);
        self
    }

    /// The instance's name in the preset's base URL: `acme` for
    /// ServiceNow's `https://acme.service-now.com/api/now/table/`, the My
    /// Domain name for Salesforce's `https://acme.my.salesforce.com/...`.
    pub fn instance(mut self, name: impl Into<String>) -> Self {
        self.options.instance = Some(name.into());
        self
    }

    /// The API version in the preset's base URL (Salesforce: `"60.0"`
    /// unless given).
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.options.api_version = Some(version.into());
        self
    }

    pub(crate) fn build_spec(self) -> Result<ApiSpec> {
        let o = super::preset::resolve_options(self.options)?;
        let this = Resolved {
            base: o.base_url,
            auth: o.auth,
            headers: o.headers,
            query: o.query,
            records_at: o.records_at.unwrap_or_default(),
            page_size: o.page_size.unwrap_or(100),
            pagination: o.pagination.unwrap_or_else(|| Pagination::offset().into()),
            concurrency: o.concurrency.unwrap_or(Self::DEFAULT_CONCURRENCY),
            window: o.window,
            timeout: o.timeout.unwrap_or(Some(Duration::from_secs(30))),
            retry: o.retry.unwrap_or_default(),
            pacing: o.pacing.unwrap_or_default(),
            delta: o.delta.unwrap_or_default(),
            lookup: o.lookup,
            batch_write: o.batch_write,
            any_origin: o.allow_origins == Some(Origins::Any),
            allowed_origins: match o.allow_origins {
                Some(Origins::List(list)) => list,
                _ => Vec::new(),
            },
        };
        this.check()
    }
}

/// The options with their defaults filled in, checked into an [`ApiSpec`].
struct Resolved {
    base: String,
    auth: Option<Auth>,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    records_at: String,
    page_size: u64,
    pagination: Pagination,
    concurrency: usize,
    window: Option<usize>,
    timeout: Option<Duration>,
    retry: RetryPolicy,
    pacing: Pacing,
    delta: DeltaFilter,
    lookup: Option<crate::core::BatchLookup>,
    batch_write: Option<crate::core::BatchWrite>,
    allowed_origins: Vec<String>,
    any_origin: bool,
}

impl Resolved {
    fn check(self) -> Result<ApiSpec> {
        let mut base = Url::parse(&self.base).map_err(|e| {
            Error::new(ErrorKind::Url, format!("base URL is not valid: {e}"))
                .with_url(Secrets::default().redact_url(&self.base))
        })?;
        if base.scheme() != "http" && base.scheme() != "https" {
            return Err(Error::new(
                ErrorKind::Url,
                format!("base URL must be http or https, not {:?}", base.scheme()),
            )
            .with_url(Secrets::default().redact_url(&self.base)));
        }
        if !base.has_host() {
            return Err(Error::new(ErrorKind::Url, "base URL has no host")
                .with_url(Secrets::default().redact_url(&self.base)));
        }
        // `join("items")` must append to the base path, not replace its last segment.
        base.ensure_trailing_slash();
        if self.page_size == 0 {
            return Err(Error::config("page_size must be at least 1"));
        }
        if self.concurrency == 0 {
            return Err(Error::config("concurrency must be at least 1"));
        }
        if let Some((rate, _)) = self.pacing.rate {
            if !(rate.is_finite() && rate > 0.0) {
                // Said in words: formatting an f64 costs the WebAssembly build 14 KB.
                let got = if rate.is_nan() {
                    "NaN"
                } else if rate.is_infinite() {
                    "infinite"
                } else {
                    "zero or negative"
                };
                return Err(Error::config(format!(
                    "the rate limit must be a positive number, not {got}"
                )));
            }
        }
        if self.delta.param.trim().is_empty() {
            return Err(Error::config("the delta filter parameter name is empty"));
        }
        if self.window == Some(0) {
            return Err(Error::config("window must be at least 1"));
        }
        if self.timeout == Some(Duration::ZERO) {
            return Err(Error::config(
                "the timeout must be more than 0 (None, or null in npm, for no limit)",
            ));
        }
        check_pointer("records_at", &self.records_at)?;
        for p in self.pagination.pointers() {
            check_pointer("pagination pointer", p)?;
        }
        for name in self.pagination.param_names() {
            if name.trim().is_empty() {
                return Err(Error::config("a pagination parameter name is empty"));
            }
        }
        if let Pagination::PageNumber(p) = &self.pagination {
            if p.first_page > 1 {
                return Err(Error::config(format!(
                    "first_page must be 0 or 1, not {}",
                    p.first_page
                )));
            }
        }
        for h in self.pagination.header_names() {
            check_header_name(h)?;
        }
        self.pagination.validate()?;
        for (name, value) in &self.headers {
            check_header_name(name)?;
            check_header_value(name, value)?;
        }
        for (name, _) in &self.query {
            if name.is_empty() {
                return Err(Error::config("a default query parameter name is empty"));
            }
        }
        match &self.auth {
            Some(Auth::Header { name, value }) => {
                check_header_name(name)?;
                check_header_value(name, value)?;
            }
            Some(Auth::Query { name, .. }) if name.is_empty() => {
                return Err(Error::config("the auth query parameter name is empty"));
            }
            Some(Auth::Bearer(t)) => check_header_value("Authorization", t)?,
            Some(Auth::Basic { user, .. }) if user.contains(':') => {
                return Err(Error::config("a basic-auth user name cannot contain ':'"));
            }
            Some(Auth::Headers(h)) => {
                for (name, value) in h {
                    check_header_name(name)?;
                    check_header_value(name, value)?;
                }
            }
            Some(Auth::OAuth2(o)) => o.check()?,
            _ => {}
        }
        if base.has_userinfo() {
            return Err(Error::config(
                "put credentials in .auth(Auth::basic(..)), not in the base URL",
            ));
        }
        let allowed_origins = self
            .allowed_origins
            .iter()
            .map(|o| parse_origin(o))
            .collect::<Result<Vec<_>>>()?;
        let secrets = secrets_of(&self.auth, &self.query);
        Ok(ApiSpec {
            base,
            auth: self.auth,
            headers: self.headers,
            query: self.query,
            records_at: self.records_at,
            page_size: self.page_size,
            pagination: self.pagination,
            concurrency: self.concurrency,
            window: self.window,
            timeout: self.timeout,
            retry: self.retry,
            pacing: self.pacing,
            delta: self.delta,
            lookup: self.lookup,
            batch_write: self.batch_write,
            secrets: Arc::new(secrets),
            allowed_origins,
            any_origin: self.any_origin,
            observer: super::Observer::default(),
        })
    }
}

/// The serialized origin of `input`, which must be an `http` or `https`
/// origin and nothing more (no path, query, fragment or user info).
fn parse_origin(input: &str) -> Result<String> {
    let bad = |why: &str| {
        Error::config(format!(
            "allow_origins (allowOrigins in npm): {:?} is not an origin ({why}); \
             write a scheme, a host and a port, like \"https://h.example:8443\"",
            Secrets::default().redact_url(input)
        ))
    };
    let url = Url::parse(input).map_err(|_| bad("not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(bad("not http or https"));
    }
    if url.has_userinfo() {
        return Err(bad("it has a user name or a password"));
    }
    if url.path() != "/" || url.query().is_some() || url.as_str().contains('#') {
        return Err(bad("it has a path, a query or a fragment"));
    }
    url.origin()
        .map(str::to_string)
        .ok_or_else(|| bad("no origin"))
}

fn check_pointer(what: &str, p: &str) -> Result<()> {
    if p.is_empty() || p.starts_with('/') {
        Ok(())
    } else {
        Err(Error::config(format!(
            "{what} must be a JSON pointer: \"\" or starting with '/', got {p:?}"
        )))
    }
}

pub(crate) fn check_header_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::config(format!(
            "{name:?} is not a valid header name"
        )))
    }
}

pub(crate) fn check_header_value(name: &str, value: &str) -> Result<()> {
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        Err(Error::config(format!(
            "the value of header {name:?} contains a line break or NUL"
        )))
    } else {
        Ok(())
    }
}

/// A validated API description: what the core needs to build requests.
#[derive(Clone)]
pub struct ApiSpec {
    pub(crate) base: Url,
    pub(crate) auth: Option<Auth>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) records_at: String,
    pub(crate) page_size: u64,
    pub(crate) pagination: Pagination,
    pub(crate) concurrency: usize,
    pub(crate) window: Option<usize>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry: RetryPolicy,
    pub(crate) pacing: Pacing,
    pub(crate) delta: DeltaFilter,
    /// The default batch lookup of `fetch_many` (`ApiOptions.lookup`).
    pub(crate) lookup: Option<crate::core::BatchLookup>,
    /// The default batch endpoint of the write jobs (`ApiOptions.batchWrite`).
    pub(crate) batch_write: Option<crate::core::BatchWrite>,
    pub(crate) secrets: Arc<Secrets>,
    /// Origins besides the base URL's that links and redirects may lead to (serialized).
    pub(crate) allowed_origins: Vec<String>,
    /// Whether links and redirects may lead to any http(s) origin.
    pub(crate) any_origin: bool,
    /// Where events go: the `log` facade and the `on_event` callback.
    pub(crate) observer: super::Observer,
}

impl fmt::Debug for ApiSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiSpec")
            .field("base", &self.secrets.redact_url(self.base.as_str()))
            .field("auth", &self.auth)
            .field("headers", &Redacted(&self.headers))
            .field("query", &Redacted(&self.query))
            .field("records_at", &self.records_at)
            .field("page_size", &self.page_size)
            .field("pagination", &self.pagination)
            .field("concurrency", &self.concurrency)
            .field("window", &self.window)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("pacing", &self.pacing)
            .field("allowed_origins", &self.allowed_origins)
            .field("any_origin", &self.any_origin)
            .finish()
    }
}

impl ApiSpec {
    /// How failed requests are retried.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// How requests are paced.
    pub fn pacing(&self) -> &Pacing {
        &self.pacing
    }

    /// The base URL (always ending in `/`).
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The shared concurrency limit.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// The default page size.
    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// The pagination dialect.
    pub fn pagination(&self) -> &Pagination {
        &self.pagination
    }

    /// The records pointer.
    pub fn records_at(&self) -> &str {
        &self.records_at
    }

    /// The default reorder window, if set.
    pub fn window(&self) -> Option<usize> {
        self.window
    }

    /// `url` without credentials, for messages.
    pub fn redact(&self, url: &str) -> String {
        self.secrets.redact_url(url)
    }

    /// [`redact`](ApiSpec::redact) of a parsed URL, without parsing it again.
    pub(crate) fn redact_parsed(&self, url: &Url) -> String {
        self.secrets.redact(url.clone())
    }

    /// Resolves `path` (relative to the base URL, absolute path, or full URL)
    /// and adds the default query and `query`.
    pub fn url_for(&self, path: &str, query: &[(String, String)]) -> Result<Url> {
        let rel = path.trim_start_matches('/');
        let target = if path.contains("://") { path } else { rel };
        let mut url = self.base.join(target).map_err(|e| {
            Error::new(ErrorKind::Url, format!("cannot resolve path {path:?}: {e}"))
                .with_url(self.redact(self.base.as_str()))
        })?;
        url.append_query_pairs(
            self.query
                .iter()
                .chain(query)
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        Ok(url)
    }

    /// Whether `url` is on the API's own origin (and may receive credentials).
    pub fn same_origin(&self, url: &Url) -> bool {
        url.same_origin(&self.base)
    }

    /// Checks a URL the server supplied (a next-page link, a redirect target)
    /// before it is followed: it must be `http` or `https` ([`ErrorKind::Url`]
    /// otherwise) and on the API's own origin or one it allows
    /// ([`ErrorKind::Origin`] otherwise). `what` names the link in the message;
    /// the error's URL is the link, credentials removed.
    pub(crate) fn check_link(&self, url: &Url, what: &str) -> Result<()> {
        let origin = match url.origin() {
            Some(o) if matches!(url.scheme(), "http" | "https") => o,
            _ => {
                return Err(Error::new(
                    ErrorKind::Url,
                    format!("the {what} is not an http or https URL"),
                )
                .with_url(self.redact_parsed(url)))
            }
        };
        if self.any_origin
            || self.same_origin(url)
            || self.allowed_origins.iter().any(|o| o == origin)
        {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Origin,
            format!(
                "the {what} leads to {origin}, not to the API's origin {own}; to follow it, \
                 allow that origin: allow_origins([\"{origin}\"]) (allowOrigins in npm), \
                 or any origin: allow_any_origin() (allowOrigins: '*')",
                own = self.base.origin().unwrap_or_default(),
            ),
        )
        .with_url(self.redact_parsed(url)))
    }

    /// Builds a request: default headers always; the configured headers,
    /// query parameters and credentials only for the API's own origin.
    pub(crate) fn request(
        &self,
        id: RequestId,
        method: Method,
        mut url: Url,
        body: Option<Vec<u8>>,
    ) -> Request {
        let mut headers = Vec::with_capacity(self.headers.len() + 2);
        headers.push(Header {
            name: "Accept".into(),
            value: "application/json".into(),
            sensitive: false,
        });
        if body.is_some() {
            headers.push(Header {
                name: "Content-Type".into(),
                value: "application/json".into(),
                sensitive: false,
            });
        }
        if self.same_origin(&url) {
            for (name, value) in &self.headers {
                headers.push(Header {
                    name: name.clone(),
                    value: value.clone(),
                    // Any configured header may carry a secret (X-Tenant-Secret,
                    // a session id): none is printed.
                    sensitive: true,
                });
            }
            match &self.auth {
                Some(Auth::Basic { user, password }) => headers.push(Header {
                    name: "Authorization".into(),
                    value: format!("Basic {}", base64(format!("{user}:{password}").as_bytes())),
                    sensitive: true,
                }),
                Some(Auth::Bearer(token)) => headers.push(Header {
                    name: "Authorization".into(),
                    value: format!("Bearer {token}"),
                    sensitive: true,
                }),
                Some(Auth::Header { name, value }) => headers.push(Header {
                    name: name.clone(),
                    value: value.clone(),
                    sensitive: true,
                }),
                Some(Auth::Query { name, value }) if !url.has_query_param(name) => {
                    url.append_query_pairs([(name.as_str(), value.as_str())]);
                }
                Some(Auth::Headers(h)) => headers.extend(h.iter().map(|(name, value)| Header {
                    name: name.clone(),
                    value: value.clone(),
                    sensitive: true,
                })),
                // Asked for by the driver as the request leaves (shared::Tokens).
                Some(Auth::Provider(_) | Auth::OAuth2(_)) => {}
                Some(Auth::Query { .. }) | None => {}
            }
            // A default query parameter named like a secret is not stored in
            // a checkpoint's URLs: a URL read back from one lacks it.
            if !self.secrets.stored_pairs.is_empty() {
                let have = url.query_pairs();
                let missing: Vec<(&str, &str)> = self
                    .secrets
                    .stored_pairs
                    .iter()
                    .filter(|(name, _)| !have.iter().any(|(k, _)| k == name))
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                url.append_query_pairs(missing);
            }
        } else {
            // A link that carries our secret (or a configured parameter, which
            // may be one) to another origin must not be followed with it.
            let auth_param = match &self.auth {
                Some(Auth::Query { name, .. }) => Some(name.as_str()),
                _ => None,
            };
            let ours = |(k, v): &(String, String)| {
                auth_param == Some(k.as_str()) || self.query.iter().any(|(n, w)| n == k && w == v)
            };
            if url.query().is_some() {
                let mut pairs = url.query_pairs();
                if pairs.iter().any(ours) {
                    pairs.retain(|p| !ours(p));
                    url.set_query_pairs(&pairs, false);
                }
            }
        }
        Request {
            id,
            method,
            url: url.into(),
            headers,
            body,
            timeout: self.timeout,
            records_at: None,
            in_order: None,
            secrets: self.secrets.clone(),
        }
    }
}

/// Whether a query parameter's name says it carries a credential (it holds
/// `auth`, `cookie`, `token`, `key`, `secret`, `sig`, `password`, `passwd`,
/// `session` or `credential`, in any case): such default query parameters
/// ([`ApiBuilder::query`]) are redacted in messages and logs and kept out of
/// the URLs a checkpoint stores. A program that builds an [`Api`](crate::Api)
/// from a URL someone typed can use it to move such parameters into the
/// defaults.
///
/// ```
/// assert!(pagewise::is_sensitive_query_name("api_key"));
/// assert!(pagewise::is_sensitive_query_name("X-Amz-Signature"));
/// assert!(!pagewise::is_sensitive_query_name("updated_at_gte"));
/// ```
pub fn is_sensitive_query_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "auth",
        "cookie",
        "token",
        "key",
        "secret",
        "sig",
        "password",
        "passwd",
        "session",
        "credential",
    ]
    .iter()
    .any(|w| n.contains(w))
}

pub(crate) fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(
            base64(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    fn spec(b: ApiBuilder) -> ApiSpec {
        b.build_spec().unwrap()
    }

    #[test]
    fn paths_resolve_under_the_base() {
        let s = spec(ApiBuilder::new("https://h.example/api/v1").query("a", "1"));
        let u = s.url_for("items", &[("b".into(), "2".into())]).unwrap();
        assert_eq!(u.as_str(), "https://h.example/api/v1/items?a=1&b=2");
        let u = s.url_for("/items", &[]).unwrap();
        assert_eq!(u.as_str(), "https://h.example/api/v1/items?a=1");
    }

    #[test]
    fn credentials_only_to_own_origin() {
        let s = spec(ApiBuilder::new("https://h.example/").auth(Auth::bearer("s3cret")));
        let own = s.request(
            RequestId(1),
            Method::Get,
            Url::parse("https://h.example/x").unwrap(),
            None,
        );
        assert_eq!(own.header("authorization"), Some("Bearer s3cret"));
        let other = s.request(
            RequestId(2),
            Method::Get,
            Url::parse("https://evil.example/x").unwrap(),
            None,
        );
        assert_eq!(other.header("authorization"), None);
        let port = s.request(
            RequestId(3),
            Method::Get,
            Url::parse("https://h.example:8443/x").unwrap(),
            None,
        );
        assert_eq!(port.header("authorization"), None);
        assert!(!format!("{own:?}").contains("s3cret"));
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    fn get(s: &ApiSpec, url: &str) -> Request {
        s.request(RequestId(0), Method::Get, Url::parse(url).unwrap(), None)
    }

    fn names(r: &Request) -> Vec<&str> {
        r.headers.iter().map(|h| h.name.as_str()).collect()
    }

    #[test]
    fn configured_headers_and_query_go_only_to_own_origin() {
        let s = spec(
            ApiBuilder::new("https://h.example/v1/")
                .auth(Auth::bearer("b34rer"))
                .header("X-Api-Key", "k3y")
                .header("X-Tenant", "t3nant")
                .query("sig", "s1g")
                .query("format", "json"),
        );
        let own = get(&s, "https://h.example/v1/items?sig=s1g&format=json&page=2");
        assert_eq!(
            names(&own),
            ["Accept", "X-Api-Key", "X-Tenant", "Authorization"]
        );
        assert_eq!(own.header("x-tenant"), Some("t3nant"));
        assert_eq!(
            own.url,
            "https://h.example/v1/items?sig=s1g&format=json&page=2"
        );
        for away in [
            "https://other.example/v1/items?sig=s1g&format=json&page=2",
            "https://h.example:8443/v1/items?sig=s1g&format=json&page=2",
            // https -> http: the same host over cleartext is another origin.
            "http://h.example/v1/items?sig=s1g&format=json&page=2",
        ] {
            let r = get(&s, away);
            assert_eq!(names(&r), ["Accept"], "{away}");
            let (origin, _) = away.split_once('?').unwrap();
            assert_eq!(r.url, format!("{origin}?page=2"), "{away}");
        }
        // A parameter of the same name with another value is the link's own.
        let r = get(&s, "https://other.example/x?format=csv");
        assert_eq!(r.url, "https://other.example/x?format=csv");
        // A body's Content-Type is not a credential: it goes everywhere.
        let w = s.request(
            RequestId(1),
            Method::Post,
            Url::parse("https://other.example/x").unwrap(),
            Some(b"{}".to_vec()),
        );
        assert_eq!(names(&w), ["Accept", "Content-Type"]);
    }

    #[test]
    fn links_lead_only_to_allowed_origins() {
        let b = || ApiBuilder::new("https://h.example/v1/").auth(Auth::query("api_key", "k3y"));
        let own = spec(b());
        let link = |u: &str| Url::parse(u).unwrap();
        assert!(own
            .check_link(&link("https://h.example/v1/items?page=2"), "next link")
            .is_ok());
        let cases = [
            (
                "https://evil.example/items?api_key=k3y&p=2",
                "https://evil.example",
            ),
            ("https://h.example:8443/items", "https://h.example:8443"),
            ("http://h.example/v1/items", "http://h.example"),
            ("http://127.0.0.1:6379/", "http://127.0.0.1:6379"),
        ];
        for (to, origin) in cases {
            let e = own.check_link(&link(to), "next link").expect_err(to);
            assert_eq!(e.kind(), ErrorKind::Origin, "{to}");
            assert!(e.message().contains(&format!("leads to {origin}")), "{e}");
            assert!(e.message().contains("https://h.example;"), "{e}");
            assert!(
                e.message().contains("allow_origins") && e.message().contains("allowOrigins"),
                "{e}"
            );
            assert!(!e.to_string().contains("k3y"), "{e}");
        }
        let e = own.check_link(&link(cases[0].0), "next link").unwrap_err();
        assert_eq!(
            e.url(),
            Some("https://evil.example/items?api_key=REDACTED&p=2")
        );

        let listed = spec(b().allow_origins(["https://evil.example/", "http://127.0.0.1:6379"]));
        assert!(listed.check_link(&link(cases[0].0), "next link").is_ok());
        assert!(listed.check_link(&link(cases[3].0), "next link").is_ok());
        assert!(listed.check_link(&link(cases[1].0), "next link").is_err());
        assert!(listed.check_link(&link(cases[2].0), "next link").is_err());

        let any = spec(b().allow_any_origin());
        for (to, _) in cases {
            assert!(any.check_link(&link(to), "next link").is_ok(), "{to}");
        }
        // Whatever is allowed, only http and https links are followed.
        for to in [
            "file:///etc/passwd",
            "data:text/plain,x",
            "ftp://h.example/x",
        ] {
            let e = any.check_link(&link(to), "next link").expect_err(to);
            assert_eq!(e.kind(), ErrorKind::Url, "{to}");
        }
    }

    #[test]
    fn allowed_origins_are_checked_at_build() {
        for ok in [
            "https://a.example",
            "https://a.example/",
            "http://127.0.0.1:8080",
            "HTTPS://A.example:443",
        ] {
            let s = spec(ApiBuilder::new("https://h.example/").allow_origins([ok]));
            assert_eq!(s.allowed_origins.len(), 1, "{ok}");
        }
        let s =
            spec(ApiBuilder::new("https://h.example/").allow_origins(["HTTPS://A.example:443/"]));
        assert_eq!(s.allowed_origins, ["https://a.example"]);
        for bad in [
            "a.example",
            "",
            "*",
            "ftp://a.example",
            "https://a.example/api",
            "https://a.example/?x=1",
            "https://a.example/#f",
            "https://user:pa55@a.example",
        ] {
            let err = ApiBuilder::new("https://h.example/")
                .allow_origins([bad])
                .build_spec()
                .expect_err(bad);
            assert_eq!(err.kind(), ErrorKind::Config, "{bad}: {err}");
            assert!(err.message().contains("allow_origins"), "{err}");
            assert!(!err.message().contains("pa55"), "{err}");
        }
    }

    #[test]
    fn debug_prints_no_secret() {
        let b = ApiBuilder::new("https://us3r:pa55@h.example/v1/?api_key=qk3y")
            .auth(Auth::query("api_key", "qk3y"))
            .header("Authorization", "Bearer h3ader")
            .header("X-Api-Key", "xk3y")
            .header("X-Whatever", "wh4tever")
            .query("token", "t0ken")
            .query("sig", "s1g");
        let secrets = [
            "us3r", "pa55", "qk3y", "h3ader", "xk3y", "wh4tever", "t0ken", "s1g",
        ];
        let shown = format!("{b:?}");
        for secret in secrets {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(
            shown.contains("X-Whatever") && shown.contains("sig"),
            "{shown}"
        );
        let s = spec(
            ApiBuilder::new("https://h.example/v1/?api_key=qk3y")
                .auth(Auth::query("api_key", "qk3y"))
                .header("X-Api-Key", "xk3y")
                .header("X-Whatever", "wh4tever")
                .query("token", "t0ken"),
        );
        let shown = format!("{s:?}");
        for secret in secrets {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        // A request's Debug and an error's URL: no configured header value,
        // no value of a query parameter named like a secret.
        let s = spec(
            ApiBuilder::new("https://h.example/v1/")
                .header("X-Whatever", "wh4tever")
                .query("sig", "s1g")
                .query("page_hint", "visible"),
        );
        let url = s.url_for("items", &[]).unwrap();
        let r = s.request(RequestId(1), Method::Get, url.clone(), None);
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("wh4tever") && !shown.contains("s1g"),
            "{shown}"
        );
        assert!(shown.contains("page_hint=visible"), "{shown}");
        let err = s
            .check_link(
                &Url::parse("https://evil.example/x?sig=s1g").unwrap(),
                "next link",
            )
            .unwrap_err();
        assert!(!err.to_string().contains("s1g"), "{err}");
        assert!(err.to_string().contains("allow_any_origin"), "{err}");
    }

    #[test]
    fn query_auth_is_added_and_redacted() {
        let s = spec(ApiBuilder::new("https://h.example/").auth(Auth::query("api_key", "k3y")));
        let r = s.request(
            RequestId(1),
            Method::Get,
            s.url_for("items", &[]).unwrap(),
            None,
        );
        assert_eq!(r.url, "https://h.example/items?api_key=k3y");
        assert_eq!(r.redacted_url(), "https://h.example/items?api_key=REDACTED");
        assert!(!format!("{r:?}").contains("k3y"));
        let away = s.request(
            RequestId(2),
            Method::Get,
            Url::parse("https://other.example/items?api_key=k3y&p=2").unwrap(),
            None,
        );
        assert_eq!(away.url, "https://other.example/items?p=2");
    }

    #[test]
    fn a_bad_rate_limit_is_named_in_words() {
        for (rate, word) in [
            (f64::NAN, "NaN"),
            (f64::INFINITY, "infinite"),
            (0.0, "zero or negative"),
            (-2.5, "zero or negative"),
        ] {
            let err = ApiBuilder::new("https://h.example/")
                .pacing(Pacing::default().rate_limit(rate, 1))
                .build_spec()
                .expect_err("a bad rate");
            assert_eq!(err.kind(), ErrorKind::Config);
            assert!(err.to_string().ends_with(&format!("not {word}")), "{err}");
        }
    }

    #[test]
    fn bad_configuration_is_a_typed_error() {
        let cases: Vec<(ApiBuilder, ErrorKind)> = vec![
            (ApiBuilder::new("not a url"), ErrorKind::Url),
            (ApiBuilder::new("ftp://h.example/"), ErrorKind::Url),
            (
                ApiBuilder::new("https://h.example/").page_size(0),
                ErrorKind::Config,
            ),
            (
                ApiBuilder::new("https://h.example/").concurrency(0),
                ErrorKind::Config,
            ),
            (
                ApiBuilder::new("https://h.example/").records_at("data"),
                ErrorKind::Config,
            ),
            (
                ApiBuilder::new("https://h.example/")
                    .pagination(Pagination::offset().params("", "limit")),
                ErrorKind::Config,
            ),
            (
                ApiBuilder::new("https://h.example/").header("Bad Name", "x"),
                ErrorKind::Config,
            ),
            (
                ApiBuilder::new("https://h.example/").header("X-A", "a\r\nb"),
                ErrorKind::Config,
            ),
            (ApiBuilder::new("https://u:p@h.example/"), ErrorKind::Config),
            (
                ApiBuilder::new("https://h.example/")
                    .pagination(Pagination::page_number().first_page(2)),
                ErrorKind::Config,
            ),
        ];
        for (b, kind) in cases {
            let dbg = format!("{b:?}");
            let err = b.build_spec().expect_err(&dbg);
            assert_eq!(err.kind(), kind, "{dbg}: {err}");
        }
    }
}

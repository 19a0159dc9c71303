//! The one error type of pagewise.

use std::fmt;

/// What went wrong, in one word. Every [`Error`] has exactly one kind.
///
/// The kind is stable and meant for matching; the message and context fields
/// are for people. New kinds may be added in minor releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is invalid: a page size or concurrency of 0, an empty
    /// parameter name, a JSON pointer without a leading `/`, a header name with
    /// illegal characters. Raised by builders, before any request is sent.
    Config,
    /// A URL could not be parsed or resolved: the base URL, a collection path,
    /// a next-page link or a redirect target; or an id of `fetch_many` or
    /// of a write job that cannot be a path segment (empty, `.` or `..`,
    /// which would send the request to another resource): that item's
    /// error, and no request is sent for it.
    Url,
    /// The request never got an HTTP answer: connection refused or reset, DNS
    /// failure, a body cut off mid-way, or any other I/O failure of the transport.
    Transport,
    /// The request or the whole operation ran out of time.
    Timeout,
    /// The server answered with a status that is not a success (and not a
    /// redirect that could be followed). `status` and a body excerpt are set.
    Status,
    /// The server answered 2xx but the body is not a page: not JSON, truncated
    /// JSON, `null` or empty, the records pointer is missing or not an array,
    /// or the total/cursor/next link has the wrong type.
    Decode,
    /// A record is valid JSON but does not deserialize into the caller's type.
    Record,
    /// The API sent the same cursor, next URL or keyset value twice: following
    /// it would loop forever, so the sweep stops instead of repeating rows.
    Loop,
    /// More than 10 redirects were followed for one request.
    Redirect,
    /// A next-page link or a redirect leads to another origin (scheme, host
    /// and port) than the API's, and the API does not allow links there: the
    /// URL is the link (credentials removed), the message names the option
    /// that would allow it ([`ApiBuilder::allow_origins`](crate::ApiBuilder::allow_origins)
    /// or [`allow_any_origin`](crate::ApiBuilder::allow_any_origin); `allowOrigins`
    /// in the npm package). Nothing was sent to that origin.
    Origin,
    /// The operation was cancelled by the caller (dropped stream, abort signal).
    Cancelled,
    /// A sweep with `verify` on ended with fewer (or more) records than the
    /// API's total, or the collection changed under it: the message says how
    /// many are missing.
    Incomplete,
    /// A write was sent and the server took it (2xx), but its answer does
    /// not say what became of this record: a batch answer whose per-record
    /// results are missing, not where
    /// [`BatchWrite::results_at`](crate::BatchWrite::results_at) says, or
    /// fewer or more than the records sent; or a result with neither an ok
    /// flag nor a status. Also a write that may have been processed and was
    /// not sent again: without an idempotency key after a dropped
    /// connection, a timeout or a 5xx answer; with one, when its last try
    /// got no answer.
    /// The record may have been written: it is not a
    /// failure to send again (that may write it twice), but one to check on
    /// the server. Counted apart from failures (`ManyReport::unknown`).
    OutcomeUnknown,
    /// The API announced more than the caller allows: a total above
    /// [`ListOptions::max_total`](crate::ListOptions::max_total) (in an
    /// answer or in a checkpoint). The message names the total and the option.
    /// Also a cursor, next-page link or keyset value longer than
    /// [`MAX_LINK_LEN`](crate::core::MAX_LINK_LEN) (64 KiB): the error names
    /// the page.
    Limit,
    /// Two different pages of a sweep (two page numbers, offsets, cursors)
    /// were answered with exactly the same records: the server ignores the
    /// page asked for, or numbers its pages from another first page (see
    /// [`PageNumber::first_page`](crate::core::PageNumber::first_page)).
    /// Raised before the copy is handed out; the message names both pages.
    /// [`ListOptions::allow_repeated_pages`](crate::ListOptions::allow_repeated_pages)
    /// turns the check off.
    Duplicate,
    /// The credentials could not be had or were refused: a token provider
    /// or an OAuth 2.0 token endpoint failed (the endpoint's `error` and
    /// `error_description` in the message, never a secret), or the API
    /// answered 401 (with a token provider: to a fresh token too).
    Auth,
}

impl ErrorKind {
    /// A short lowercase name: `"config"`, `"status"`, ... (used by the JS bindings).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Url => "url",
            ErrorKind::Transport => "transport",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Status => "status",
            ErrorKind::Decode => "decode",
            ErrorKind::Record => "record",
            ErrorKind::Loop => "loop",
            ErrorKind::Redirect => "redirect",
            ErrorKind::Origin => "origin",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Incomplete => "incomplete",
            ErrorKind::OutcomeUnknown => "outcome-unknown",
            ErrorKind::Limit => "limit",
            ErrorKind::Duplicate => "duplicate",
            ErrorKind::Auth => "auth",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of every pagewise operation.
///
/// It says what went wrong ([`kind`](Error::kind), [`message`](Error::message))
/// and where: the request URL (with credentials removed), the page of the
/// sweep (0-based), the HTTP status and a short excerpt of the body, when
/// they are known. It never contains a credential.
///
/// ```
/// use pagewise::{Api, ErrorKind};
/// let err = Api::builder("not a url").build().unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Url);
/// assert!(err.to_string().contains("not a url"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    inner: Box<Inner>,
}

/// The error an [`Error`] wraps (its [`source`](std::error::Error::source)):
/// shared, so that errors stay `Clone`; `Send + Sync` on every target, so
/// that errors are (in WebAssembly a JavaScript value is kept apart: see
/// `transport::fetch::JsError`).
pub(crate) type Source = std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    message: String,
    url: Option<String>,
    page: Option<u64>,
    status: Option<u16>,
    excerpt: Option<String>,
    source: Option<Source>,
}

/// Errors are equal when what they say is: the wrapped error (which
/// need not be comparable) is left out.
impl PartialEq for Inner {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.message == other.message
            && self.url == other.url
            && self.page == other.page
            && self.status == other.status
            && self.excerpt == other.excerpt
    }
}

impl Eq for Inner {}

/// How many characters of a body an error keeps.
const EXCERPT_CHARS: usize = 200;

impl Error {
    /// A new error of `kind` with a message. Context is added with the `with_*` methods.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                url: None,
                page: None,
                status: None,
                excerpt: None,
                source: None,
            }),
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Config, message)
    }

    /// Replaces the message, keeping the kind and context.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.inner.message = message.into();
        self
    }

    /// Sets the URL the error is about. Pass a URL already stripped of credentials.
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.inner.url = Some(url.into());
        self
    }

    /// Sets the page of the sweep (0-based) the error is about.
    pub fn with_page(mut self, page: u64) -> Self {
        self.inner.page = Some(page);
        self
    }

    /// Sets the HTTP status the error is about.
    pub fn with_status(mut self, status: u16) -> Self {
        self.inner.status = Some(status);
        self
    }

    /// Keeps a short, printable excerpt of a body.
    pub fn with_excerpt(mut self, body: &[u8]) -> Self {
        self.inner.excerpt = Some(excerpt(body));
        self
    }

    /// Sets the error this one wraps, which
    /// [`source()`](std::error::Error::source) returns: what a transport,
    /// a parser or a token provider reported. Its message must hold no
    /// credential (it is printed by error reporters that walk the chain).
    ///
    /// ```
    /// use std::error::Error as _;
    /// use pagewise::{Error, ErrorKind};
    /// let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
    /// let err = Error::new(ErrorKind::Transport, "the connection broke").with_source(io);
    /// assert_eq!(err.source().unwrap().to_string(), "reset by peer");
    /// ```
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        self.inner.source = Some(source.into().into());
        self
    }

    /// Sets (or, with `None`, leaves) the wrapped error.
    pub(crate) fn with_source_of(mut self, source: Option<Source>) -> Self {
        if source.is_some() {
            self.inner.source = source;
        }
        self
    }

    /// What went wrong, in one word.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// What went wrong, in a sentence (without the context fields).
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The URL of the failing request, without credentials.
    pub fn url(&self) -> Option<&str> {
        self.inner.url.as_deref()
    }

    /// The page of the sweep (0-based, in page order) the error is about.
    pub fn page(&self) -> Option<u64> {
        self.inner.page
    }

    /// The HTTP status of the failing answer.
    pub fn status(&self) -> Option<u16> {
        self.inner.status
    }

    /// The first characters of the failing answer's body.
    pub fn excerpt(&self) -> Option<&str> {
        self.inner.excerpt.as_deref()
    }

    /// `true` for failures that may succeed when tried again (transport
    /// failures, timeouts, 408/429/5xx statuses, bodies that are not a page).
    pub fn is_transient(&self) -> bool {
        match self.kind() {
            ErrorKind::Transport | ErrorKind::Timeout | ErrorKind::Decode => true,
            ErrorKind::Status => matches!(self.status(), Some(408 | 429 | 500..=599)),
            _ => false,
        }
    }
}

/// A printable excerpt: valid UTF-8 (lossy), control characters folded, at most
/// [`EXCERPT_CHARS`] characters with an ellipsis when cut.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(EXCERPT_CHARS * 4)]);
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == EXCERPT_CHARS {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    if body.is_empty() {
        out.push_str("(empty body)");
    }
    out
}

/// A duration for a message, as `Duration`'s `Debug` writes it to the
/// millisecond (`30s`, `1.5s`, `250ms`, `0ms`), without pulling Rust's float
/// formatting into the WebAssembly build.
pub(crate) fn duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (secs, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        return format!("{secs}s");
    }
    let frac = format!("{frac:03}");
    format!("{secs}.{}s", frac.trim_end_matches('0'))
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        write!(f, "{} error: {}", i.kind, i.message)?;
        let mut ctx = Vec::new();
        if let Some(url) = &i.url {
            ctx.push(format!("url {url}"));
        }
        if let Some(page) = i.page {
            ctx.push(format!("page {page}"));
        }
        if let Some(status) = i.status {
            ctx.push(format!("status {status}"));
        }
        if !ctx.is_empty() {
            write!(f, " ({})", ctx.join(", "))?;
        }
        if let Some(ex) = &i.excerpt {
            write!(f, ": body starts {ex:?}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Error")
            .field("kind", &i.kind)
            .field("message", &i.message)
            .field("url", &i.url)
            .field("page", &i.page)
            .field("status", &i.status)
            .field("excerpt", &i.excerpt)
            .field("source", &i.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl std::error::Error for Error {
    /// The error this one wraps, if any: the transport's
    /// [`TransportError`](crate::core::TransportError) (and through it what
    /// the HTTP stack reported), serde_json's error for a record or body
    /// that did not decode, a token provider's error.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.inner.source {
            Some(s) => Some(&**s),
            None => None,
        }
    }
}

/// The result type of pagewise.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn durations_read_like_debug() {
        for (d, text) in [
            (Duration::ZERO, "0ms"),
            (Duration::from_micros(1500), "1ms"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_secs(30), "30s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(2250), "2.25s"),
            (Duration::from_millis(61_001), "61.001s"),
        ] {
            assert_eq!(super::duration(d), text);
        }
    }
}

//! Plain request and response values exchanged between the core and a transport.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::redact::Secrets;

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method's name as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifies one request of a state machine, so its answer can be handed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) u64);

impl RequestId {
    /// The number behind the id (unique within one state machine).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// One request header. `sensitive` headers (credentials) are redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    /// The header name.
    pub name: String,
    /// The header value.
    pub value: String,
    /// Whether the value is a credential (never printed).
    pub sensitive: bool,
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sensitive {
            write!(f, "{}: <redacted>", self.name)
        } else {
            write!(f, "{}: {:?}", self.name, self.value)
        }
    }
}

/// A request the core wants sent. Transports send it as is.
#[derive(Clone)]
pub struct Request {
    /// The id to hand back with the answer.
    pub(crate) id: RequestId,
    /// The method.
    pub(crate) method: Method,
    /// The absolute URL, with the query string.
    pub(crate) url: String,
    /// The headers, in order (credentials included when the URL is on the API's origin).
    pub(crate) headers: Vec<Header>,
    /// The body, if any.
    pub(crate) body: Option<Vec<u8>>,
    /// How long the transport may take for this request, if limited.
    pub(crate) timeout: Option<Duration>,
    // The two transport hints below and `Response::attachment` are for the
    // in-crate transports that parse pages themselves (the WebAssembly one):
    // hidden from the docs, read through the hidden accessors.
    /// For a page of a sweep whose records the core only counts (no keyset
    /// field, no delta filter reads them): the JSON pointer of the records
    /// array. A transport that parses bodies itself may then answer a 2xx
    /// with a skeleton (the body with that array's elements replaced by
    /// their indexes, `[0,1,2,...]`) and the records it parsed as the
    /// response's `attachment`: the core reads the
    /// skeleton, and the page's [`Records`](crate::core::Records) carry the
    /// attachment to the caller. Other transports ignore it.
    pub(crate) records_at: Option<String>,
    /// For a page of a sweep that hands pages out in page order (and reads
    /// only the records' count, as for `records_at`):
    /// the sweep (a number its driver gives it, unique among the sweeps
    /// sharing a transport) and the page's place in it, in
    /// page order. Its answer is not handed out before those of earlier
    /// places: a transport that parses bodies itself may leave the body of
    /// one that came early unparsed, as bytes, until the earlier ones are
    /// in (parsed objects held meanwhile cost a garbage collector more than
    /// bytes). Other transports ignore it.
    pub(crate) in_order: Option<(u64, u64)>,
    pub(crate) secrets: Arc<Secrets>,
}

impl Request {
    /// The id to hand back with the answer.
    pub fn id(&self) -> RequestId {
        self.id
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The absolute URL, with the query string (and any credential the API
    /// sends in it: log [`redacted_url`](Request::redacted_url) instead).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The headers, in order (credentials included when the URL is on the
    /// API's origin).
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The body, if any.
    pub fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }

    /// How long the transport may take for this request, if limited.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// See the field `records_at`: a hint for transports that parse pages
    /// themselves. Not part of the API.
    #[doc(hidden)]
    pub fn records_at(&self) -> Option<&str> {
        self.records_at.as_deref()
    }

    /// See the field `in_order`: a hint for transports that parse pages
    /// themselves. Not part of the API.
    #[doc(hidden)]
    pub fn in_order(&self) -> Option<(u64, u64)> {
        self.in_order
    }

    /// The URL with credentials (user info, secret query parameters) replaced,
    /// safe to log or show.
    pub fn redacted_url(&self) -> String {
        self.secrets.redact_url(&self.url)
    }

    /// The value of the first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("id", &self.id)
            .field("method", &self.method)
            .field("url", &self.redacted_url())
            .field("headers", &self.headers)
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// An HTTP answer handed to the core.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub(crate) status: u16,
    /// The headers, in order; names compared case-insensitively.
    pub(crate) headers: Vec<(String, String)>,
    /// The whole body (or, with an `attachment`,
    /// the skeleton that stands for it).
    pub(crate) body: Vec<u8>,
    /// What the transport parsed itself, when it answered a page request
    /// (see `Request::records_at`) with a skeleton body; `None` otherwise.
    pub(crate) attachment: Option<Attachment>,
}

/// The records a transport parsed itself, handed over with a skeleton body
/// (see `Request::records_at`): opaque to the core, which keeps it with
/// the page's records until they are handed out. For the in-crate
/// transports; not part of the API.
#[doc(hidden)]
#[derive(Clone)]
pub struct Attachment {
    value: Arc<dyn Any + Send + Sync>,
    body_len: usize,
    digest: Option<u64>,
}

impl Attachment {
    /// `value` parsed from a body of `body_len` bytes.
    pub fn new(value: impl Any + Send + Sync, body_len: usize) -> Self {
        Attachment {
            value: Arc::new(value),
            body_len,
            digest: None,
        }
    }

    /// Adds a digest of the records the skeleton stands for: a hash of the
    /// records only, never of the rest of the body, that is the same for
    /// the same records. A sweep compares pages' digests (and their record
    /// counts) to catch two pages answered with the same records (see
    /// [`ListOptions::allow_repeated_pages`](crate::ListOptions::allow_repeated_pages));
    /// it cannot hash records it never sees, so without a digest a page
    /// answered with an attachment is not checked. A digest that covers
    /// other members of the body misses a copy whose other members differ
    /// (a server that echoes the page number it was asked for). It may
    /// cover a sample of the records (the npm package's covers the first,
    /// the last and three between, as JSON text): pages whose records
    /// differ only elsewhere then count as the same.
    ///
    /// ```
    /// use pagewise::core::Attachment;
    /// let a = Attachment::new(vec![1, 2, 3], 120).with_digest(0x5eed);
    /// assert_eq!(a.digest(), Some(0x5eed));
    /// ```
    pub fn with_digest(mut self, digest: u64) -> Self {
        self.digest = Some(digest);
        self
    }

    /// The digest set by [`with_digest`](Attachment::with_digest).
    pub fn digest(&self) -> Option<u64> {
        self.digest
    }

    /// The value, if it is a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.value.downcast_ref()
    }

    /// The length of the body the skeleton stands for (counted in progress).
    pub fn body_len(&self) -> usize {
        self.body_len
    }
}

impl PartialEq for Attachment {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.value), Arc::as_ptr(&other.value))
    }
}

impl Eq for Attachment {}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("body_len", &self.body_len)
            .finish_non_exhaustive()
    }
}

impl Response {
    /// A response with a status and a body and no headers (handy in tests).
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: body.into(),
            attachment: None,
        }
    }

    /// An answer with its headers (in order, as received), for transports:
    ///
    /// ```
    /// let r = pagewise::core::Response::from_parts(
    ///     200,
    ///     vec![("X-Total-Count".into(), "2".into())],
    ///     r#"[{"id":1},{"id":2}]"#,
    /// );
    /// assert_eq!(r.header("x-total-count"), Some("2"));
    /// ```
    pub fn from_parts(
        status: u16,
        headers: Vec<(String, String)>,
        body: impl Into<Vec<u8>>,
    ) -> Self {
        Response {
            status,
            headers,
            body: body.into(),
            attachment: None,
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers, in order; names compared case-insensitively.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The whole body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// What a transport that parses pages itself attached. Not part of the API.
    #[doc(hidden)]
    pub fn attachment(&self) -> Option<&Attachment> {
        self.attachment.as_ref()
    }

    /// Attaches what the transport parsed itself (builder style). Not part
    /// of the API.
    #[doc(hidden)]
    pub fn with_attachment(mut self, attachment: Attachment) -> Self {
        self.attachment = Some(attachment);
        self
    }

    /// Adds a header (builder style).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The value of the first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All values of the headers named `name`, in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &crate::error::excerpt(&self.body))
            .finish()
    }
}

/// Why a transport got no HTTP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connection could not be made (refused, DNS, TLS).
    Connect,
    /// The request timed out.
    Timeout,
    /// The connection broke while sending or receiving (reset, body cut short).
    Io,
    /// The request was aborted by the caller.
    Aborted,
    /// Anything else.
    Other,
    /// No credentials to send: the token provider or the OAuth 2.0 token
    /// endpoint failed (nothing was sent to the API).
    Auth,
}

impl TransportErrorKind {
    /// The kind in one lowercase word, as log lines and messages write it
    /// (`timeout`, `connect`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TransportErrorKind::Connect => "connect",
            TransportErrorKind::Timeout => "timeout",
            TransportErrorKind::Io => "io",
            TransportErrorKind::Aborted => "aborted",
            TransportErrorKind::Other => "other",
            TransportErrorKind::Auth => "auth",
        }
    }
}

/// A failure of the transport: no HTTP answer was received.
#[derive(Clone)]
pub struct TransportError {
    /// What kind of failure.
    pub(crate) kind: TransportErrorKind,
    /// A description for people (must not contain credentials).
    pub(crate) message: String,
    /// What the HTTP stack (or a token provider) reported, if kept.
    pub(crate) source: Option<crate::error::Source>,
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportError")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("source", &self.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

/// Equal when the kind and message are (the wrapped error is left out).
impl PartialEq for TransportError {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.message == other.message
    }
}

impl Eq for TransportError {}

impl TransportError {
    /// What kind of failure.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// A description for people (without credentials).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A new transport error.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        TransportError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Keeps the error the HTTP stack reported (`source()` returns it;
    /// the [`Error`](crate::Error) of the failed operation wraps this one).
    /// Its message must hold no credential.
    ///
    /// ```
    /// use std::error::Error as _;
    /// use pagewise::core::{TransportError, TransportErrorKind};
    /// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
    /// let e = TransportError::new(TransportErrorKind::Connect, "connection refused").with_source(io);
    /// assert_eq!(e.to_string(), "connect: connection refused");
    /// assert_eq!(e.source().unwrap().to_string(), "refused");
    /// ```
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        self.source = Some(source.into().into());
        self
    }

    /// Sets (or, with `None`, leaves) the wrapped error.
    pub(crate) fn with_source_of(mut self, source: Option<crate::error::Source>) -> Self {
        if source.is_some() {
            self.source = source;
        }
        self
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.source {
            Some(s) => Some(&**s),
            None => None,
        }
    }
}

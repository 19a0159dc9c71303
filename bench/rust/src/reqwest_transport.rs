//! An example adapter: pagewise's async client over reqwest (HTTP/2
//! capable, on tokio) through [`AsyncTransport`]. It lives beside the
//! benchmark clients so that the library's own build and tests never
//! compile reqwest; copy it into your project to bring reqwest (or adapt it
//! to hyper, surf, ...).
//!
//! ```no_run
//! # async fn run() -> Result<(), pagewise::Error> {
//! let api = pagewise::Api::builder("https://api.example/v1/").build()?;
//! let client = pagewise::Client::with_transport(&api, pagewise_bench::reqwest_transport::ReqwestTransport::new());
//! let one: serde_json::Value = client.get("items/1").await?;
//! # Ok(()) }
//! ```

use pagewise::core::{Request, Response, TransportError, TransportErrorKind};
use pagewise::transport::{AsyncTransport, TransportFuture};

/// Sends pagewise's requests with one [`reqwest::Client`] (its connection
/// pool, HTTP/2 where the server offers it over TLS). Its futures need a
/// tokio runtime: use it from tokio tasks.
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl Default for ReqwestTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl ReqwestTransport {
    /// A transport over a client that follows no redirect (pagewise's core
    /// follows them, to the origins the API allows, keeping credentials on
    /// the API's own origin).
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("pagewise-reqwest/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a reqwest client with a rustls TLS backend builds");
        Self::with_client(client)
    }

    /// A transport over a client you configured. Give it
    /// `redirect(reqwest::redirect::Policy::none())`.
    pub fn with_client(client: reqwest::Client) -> Self {
        ReqwestTransport { client }
    }
}

/// The largest body read (the library's own transports use the same).
const MAX_BODY: usize = 256 << 20;

impl AsyncTransport for ReqwestTransport {
    fn send(&self, request: Request) -> TransportFuture {
        // By name: `Method` may grow (it is `#[non_exhaustive]`).
        let method = match reqwest::Method::from_bytes(request.method().as_str().as_bytes()) {
            Ok(m) => m,
            Err(_) => {
                let name = request.method().as_str();
                return Box::pin(async move {
                    Err(TransportError::new(
                        TransportErrorKind::Other,
                        format!("the method {name} is not one reqwest knows"),
                    ))
                });
            }
        };
        let mut builder = self.client.request(method, request.url());
        for h in request.headers() {
            builder = builder.header(&h.name, &h.value);
        }
        if let Some(body) = request.body() {
            builder = builder.body(body.to_vec());
        }
        if let Some(timeout) = request.timeout() {
            builder = builder.timeout(timeout);
        }
        let url = request.redacted_url();
        Box::pin(async move {
            let answer = builder.send().await.map_err(|e| map_error(e, &url))?;
            let status = answer.status().as_u16();
            let headers: Vec<(String, String)> = answer
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            // Read the body in chunks, up to a limit: memory stays bounded
            // whatever length the server announces or sends.
            let mut answer = answer;
            let mut body = Vec::new();
            while let Some(chunk) = answer.chunk().await.map_err(|e| map_error(e, &url))? {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(TransportError::new(
                        TransportErrorKind::Io,
                        format!("the answer's body is over {MAX_BODY} bytes ({url})"),
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Response::from_parts(status, headers, body))
        })
    }
}

/// reqwest's error as a transport error; its message names the redacted
/// URL, never the one with credentials in its query.
fn map_error(e: reqwest::Error, url: &str) -> TransportError {
    let kind = if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_connect() {
        TransportErrorKind::Connect
    } else if e.is_body() || e.is_decode() || e.is_request() {
        TransportErrorKind::Io
    } else {
        TransportErrorKind::Other
    };
    TransportError::new(kind, format!("{} ({url})", e.without_url()))
}

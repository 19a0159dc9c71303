//! The native default transport: ureq on a bounded set of reusable worker
//! threads, answers delivered through `futures` oneshot channels, so it
//! works on every executor and needs no runtime. The blocking client blocks
//! on the same futures.

use std::io::ErrorKind as IoKind;
use std::sync::Arc;

use futures::channel::oneshot;

use super::pool::Pool;
use super::{AsyncTransport, Lease, TransportFuture};
use crate::core::{Method, Request, Response, TransportError, TransportErrorKind};

/// The largest body read (256 MiB): a larger one is a transport error.
const BODY_LIMIT: u64 = 256 * 1024 * 1024;

/// Worker threads of a transport made with [`UreqTransport::new`].
const DEFAULT_THREADS: usize = 256;

/// Sends requests with one [`ureq::Agent`] (connections pooled and reused)
/// from a bounded set of reusable worker threads: a thread runs one
/// exchange at a time and takes the next request waiting, so threads are
/// started only when every one is busy and fewer than the bound run.
///
/// Proxies from the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
/// `NO_PROXY`, or their lowercase forms) are honoured. Redirects are not
/// followed here: the core follows them, so it can refuse origins the API
/// does not allow and keep credentials and configured headers on the API's
/// own origin. Statuses are answers, not errors. A request whose future is
/// dropped before a thread takes it is never sent; one already on the wire
/// runs to its end (or its timeout) and holds its slot of the concurrency
/// limit until then, so the server never sees more requests than the limit.
///
/// Cheap to clone: clones share the agent and the threads.
///
/// ```no_run
/// use pagewise::transport::UreqTransport;
/// let api = pagewise::Api::builder("https://api.example/").build()?;
/// let transport = UreqTransport::new().max_threads(8);
/// let client = pagewise::Client::with_transport(&api, transport.clone());
/// let blocking = pagewise::blocking::Client::with_transport(&api, transport);
/// # Ok::<(), pagewise::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct UreqTransport {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    agent: ureq::Agent,
    body_limit: u64,
    pool: Arc<Pool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // No request can come any more: let the idle threads go now.
        self.pool.close();
    }
}

impl Default for UreqTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl UreqTransport {
    /// A transport with pagewise's defaults: no automatic redirects,
    /// statuses returned as answers, proxies from the environment, up to 256
    /// idle connections kept, bodies of at most 256 MiB, at most 256 worker
    /// threads; TLS by rustls, or by the platform's library with the Cargo
    /// feature `native-tls`.
    pub fn new() -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_idle_connections(256)
            .max_idle_connections_per_host(256)
            .user_agent(concat!("pagewise/", env!("CARGO_PKG_VERSION")));
        // The Cargo feature `native-tls` asked for the platform's TLS: ureq
        // never picks it by itself (its default provider is rustls).
        #[cfg(feature = "native-tls")]
        let config = config.tls_config(
            ureq::tls::TlsConfig::builder()
                .provider(ureq::tls::TlsProvider::NativeTls)
                .build(),
        );
        let config = config.build();
        Self::with_agent(ureq::Agent::new_with_config(config))
    }

    /// A transport over an agent you configured (proxy, TLS roots, ...).
    /// Set `http_status_as_error(false)` and `max_redirects(0)` on it.
    pub fn with_agent(agent: ureq::Agent) -> Self {
        UreqTransport {
            inner: Arc::new(Inner {
                agent,
                body_limit: BODY_LIMIT,
                pool: Pool::new(DEFAULT_THREADS),
            }),
        }
    }

    /// At most `n` worker threads (at least 1), hence at most `n` exchanges
    /// at once over this transport; further requests wait for a thread.
    /// The default transport of an [`Api`](crate::Api) has as many as the
    /// `Api`'s concurrency.
    pub fn max_threads(self, n: usize) -> Self {
        UreqTransport {
            inner: Arc::new(Inner {
                agent: self.inner.agent.clone(),
                body_limit: self.inner.body_limit,
                pool: Pool::new(n),
            }),
        }
    }

    /// Worker threads alive now (they end after a minute idle).
    pub fn threads(&self) -> usize {
        self.inner.pool.threads()
    }

    /// Runs `job` (which sends and answers) on a worker thread; the future
    /// resolves to what it sent, or to an error if it never ran.
    fn on_worker(
        &self,
        job: impl FnOnce(&Inner, oneshot::Sender<Result<Response, TransportError>>) + Send + 'static,
    ) -> TransportFuture {
        let (tx, rx) = oneshot::channel();
        let inner = self.inner.clone();
        self.inner.pool.spawn(move || {
            // The caller may have gone away while this request waited for a thread.
            if !tx.is_canceled() {
                job(&inner, tx);
            }
        });
        Box::pin(async move {
            rx.await.unwrap_or_else(|_| {
                Err(TransportError::new(
                    TransportErrorKind::Other,
                    "the worker thread ended without an answer",
                ))
            })
        })
    }
}

impl AsyncTransport for UreqTransport {
    fn send(&self, request: Request) -> TransportFuture {
        self.on_worker(move |inner, tx| {
            let _ = tx.send(inner.call(&request));
        })
    }

    fn send_leased(&self, request: Request, mut lease: Lease) -> TransportFuture {
        // The slot is taken and given back on the worker thread: it is held
        // exactly while the exchange runs, however slowly the caller polls.
        self.on_worker(move |inner, tx| {
            lease.acquire_blocking();
            if tx.is_canceled() {
                return;
            }
            let answer = inner.call(&request);
            lease.complete(&answer);
            let _ = tx.send(answer);
        })
    }
}

impl Inner {
    /// Sends `req` and reads the whole answer, on this thread.
    fn call(&self, req: &Request) -> Result<Response, TransportError> {
        let method = match req.method {
            Method::Get => ureq::http::Method::GET,
            Method::Post => ureq::http::Method::POST,
            Method::Put => ureq::http::Method::PUT,
            Method::Patch => ureq::http::Method::PATCH,
            Method::Delete => ureq::http::Method::DELETE,
        };
        let mut builder = ureq::http::Request::builder().method(method).uri(&req.url);
        for h in &req.headers {
            builder = builder.header(&h.name, &h.value);
        }
        let built = match &req.body {
            Some(body) => builder.body(body.clone()).map(|r| self.run(r, req)),
            None => builder.body(()).map(|r| self.run(r, req)),
        };
        match built {
            Ok(result) => result.map_err(|mut e| {
                // Keep a credential carried in the query string out of messages.
                e.message = e.message.replace(&req.url, &req.redacted_url());
                e
            }),
            Err(_) => Err(TransportError::new(
                TransportErrorKind::Other,
                // The http crate's error names the bad header or URI part;
                // a header's value may be a credential, so it is not shown.
                format!(
                    "cannot build the request to {}: a bad URL or header",
                    req.redacted_url()
                ),
            )),
        }
    }

    fn run<B: ureq::AsSendBody>(
        &self,
        http_req: ureq::http::Request<B>,
        req: &Request,
    ) -> Result<Response, TransportError> {
        let http_req = self
            .agent
            .configure_request(http_req)
            .timeout_global(req.timeout)
            .build();
        let mut resp = self.agent.run(http_req).map_err(map_error)?;
        let status = resp.status().as_u16();
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = resp
            .body_mut()
            .with_config()
            .limit(self.body_limit)
            .read_to_vec()
            .map_err(map_error)?;
        Ok(headers.into_iter().fold(
            Response::new(status, body),
            |r, (k, v): (String, String)| r.with_header(k, v),
        ))
    }
}

fn map_error(e: ureq::Error) -> TransportError {
    let kind = match &e {
        ureq::Error::Timeout(_) | ureq::Error::BodyStalled => TransportErrorKind::Timeout,
        ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::Tls(_)
        | ureq::Error::ConnectProxyFailed(_)
        | ureq::Error::InvalidProxyUrl => TransportErrorKind::Connect,
        #[cfg(feature = "rustls")]
        ureq::Error::Rustls(_) => TransportErrorKind::Connect,
        ureq::Error::Io(io) => match io.kind() {
            IoKind::ConnectionRefused | IoKind::AddrNotAvailable | IoKind::NotFound => {
                TransportErrorKind::Connect
            }
            IoKind::TimedOut | IoKind::WouldBlock => TransportErrorKind::Timeout,
            _ => TransportErrorKind::Io,
        },
        ureq::Error::Protocol(_)
        | ureq::Error::Decompress(..)
        | ureq::Error::LargeResponseHeader(..) => TransportErrorKind::Io,
        _ => TransportErrorKind::Other,
    };
    let message = e.to_string();
    TransportError::new(kind, message).with_source(e)
}

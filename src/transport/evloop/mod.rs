//! The native default transport: HTTP/1.1 on one background I/O thread that
//! runs a `mio` poll loop (epoll/kqueue; no async runtime). Requests reach it
//! through a queue and a `mio::Waker`; answers come back through `futures`
//! oneshot channels, which the async client awaits and the blocking client
//! blocks on. A thousand requests in flight cost a thousand sockets, not a
//! thousand threads.
//!
//! It keeps connections alive and reuses them (per scheme, host, port; idle
//! ones close after 15 s, at most 256 are kept), resends a request once on a
//! new connection when a reused one turns out closed before any byte of the
//! answer came, decodes chunked and gzip bodies, speaks TLS through rustls
//! (ring, the webpki roots: what the ureq transport uses), resolves names
//! on short-lived threads (results kept 10 s), and enforces
//! [`Request::timeout`] over the whole exchange. Dropping the answer's
//! future aborts the exchange and frees its slot of the concurrency limit.
//!
//! It does not speak to proxies: when `ALL_PROXY`, `HTTPS_PROXY` or
//! `HTTP_PROXY` (or their lowercase forms) is set, the clients' default
//! constructors use the ureq transports instead, which honour them.

mod conn;
mod dns;
mod http;
mod reactor;

use std::sync::{Arc, OnceLock};

use futures::channel::oneshot;
use rustls::ClientConfig;

use self::reactor::{Job, Outcome, Shared};
use super::{AsyncTransport, Lease, TransportFuture};
use crate::core::{Method, Request, TransportError, TransportErrorKind};

/// Sends requests from one process-wide event-loop thread (see the
/// [module docs](self)). Cheap to clone; every clone and every transport
/// made with [`new`](EvloopTransport::new) share the loop and its
/// connections.
///
/// ```no_run
/// let api = pagewise::Api::builder("https://api.example/").build()?;
/// let client = pagewise::Client::with_transport(&api, pagewise::transport::evloop::EvloopTransport::new());
/// # Ok::<(), pagewise::Error>(())
/// ```
#[derive(Clone)]
pub struct EvloopTransport {
    tls: Arc<ClientConfig>,
}

impl std::fmt::Debug for EvloopTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvloopTransport").finish_non_exhaustive()
    }
}

impl Default for EvloopTransport {
    fn default() -> Self {
        Self::new()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_config(roots: rustls::RootCertStore) -> Result<ClientConfig, rustls::Error> {
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn webpki_roots() -> rustls::RootCertStore {
    rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

fn default_tls() -> Arc<ClientConfig> {
    static TLS: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    TLS.get_or_init(|| {
        // The ring provider supports the safe default versions: this cannot fail.
        Arc::new(tls_config(webpki_roots()).expect("ring supports TLS 1.2 and 1.3"))
    })
    .clone()
}

fn shared() -> Result<&'static Arc<Shared>, TransportError> {
    static LOOP: OnceLock<Result<Arc<Shared>, String>> = OnceLock::new();
    match LOOP.get_or_init(|| Shared::start().map_err(|e| e.to_string())) {
        Ok(s) if s.alive() => Ok(s),
        Ok(_) => Err(TransportError::new(
            TransportErrorKind::Other,
            "the pagewise I/O thread has ended",
        )),
        Err(e) => Err(TransportError::new(
            TransportErrorKind::Other,
            format!("cannot start the pagewise I/O thread: {e}"),
        )),
    }
}

/// Whether a proxy is configured in the environment (the variables ureq reads).
pub(crate) fn proxy_in_env() -> bool {
    [
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

impl EvloopTransport {
    /// The transport with the webpki root certificates (Mozilla's list).
    pub fn new() -> Self {
        EvloopTransport { tls: default_tls() }
    }

    /// The transport trusting, besides the webpki roots, the given extra root
    /// certificates (DER-encoded; e.g. a company CA or a test server's
    /// self-signed certificate). Fails on a certificate that does not parse.
    pub fn with_root_certificates<I, C>(certs: I) -> Result<Self, TransportError>
    where
        I: IntoIterator<Item = C>,
        C: AsRef<[u8]>,
    {
        let mut roots = webpki_roots();
        for (i, der) in certs.into_iter().enumerate() {
            let der = rustls::pki_types::CertificateDer::from(der.as_ref().to_vec());
            roots.add(der).map_err(|e| {
                TransportError::new(
                    TransportErrorKind::Other,
                    format!("extra root certificate {i} is not usable: {e}"),
                )
            })?;
        }
        let config = tls_config(roots)
            .map_err(|e| TransportError::new(TransportErrorKind::Other, e.to_string()))?;
        Ok(EvloopTransport {
            tls: Arc::new(config),
        })
    }

    /// Hands `request` to the loop; the answer comes through the receiver.
    /// Dropping the receiver aborts the exchange.
    pub(crate) fn submit(
        &self,
        request: Request,
        lease: Option<Lease>,
    ) -> oneshot::Receiver<Outcome> {
        let (tx, rx) = oneshot::channel();
        let encoded = http::encode(&request);
        let started = shared();
        match (encoded, started) {
            (Ok((target, bytes)), Ok(shared)) => {
                let mut job = Job::new(
                    target,
                    bytes,
                    false,
                    tx,
                    lease,
                    request.timeout,
                    self.tls.clone(),
                );
                // RFC 9110 9.2.2: only idempotent methods are resent on a
                // fresh connection by the transport; for POST and PATCH the
                // core decides (it resends writes that carry an idempotency key).
                job.resend_if_stale = !matches!(request.method, Method::Post | Method::Patch);
                shared.submit(job)
            }
            (Err(e), _) | (_, Err(e)) => {
                let outcome = Err(e);
                if let Some(lease) = lease {
                    lease.complete(&outcome);
                }
                let _ = tx.send(outcome);
            }
        }
        rx
    }
}

/// Runs `future` on the loop's thread (see `Shared::spawn`); drops it, and
/// says why, if the loop does not run.
pub(crate) fn spawn(future: reactor::LoopFuture) -> Result<(), TransportError> {
    shared()?.spawn(future);
    Ok(())
}

/// The answer of a receiver, or why there is none.
pub(crate) async fn answer(rx: oneshot::Receiver<Outcome>) -> Outcome {
    rx.await.unwrap_or_else(|_| {
        Err(TransportError::new(
            TransportErrorKind::Other,
            "the pagewise I/O thread ended without an answer",
        ))
    })
}

impl AsyncTransport for EvloopTransport {
    fn send(&self, request: Request) -> TransportFuture {
        Box::pin(answer(self.submit(request, None)))
    }

    fn send_leased(&self, request: Request, lease: Lease) -> TransportFuture {
        // The slot is taken and given back on the loop: it is held exactly
        // while the exchange runs, however slowly the caller polls.
        Box::pin(answer(self.submit(request, Some(lease))))
    }
}
#[cfg(test)]
mod tests;

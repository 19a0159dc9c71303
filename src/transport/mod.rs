//! Transports: what actually sends a [`Request`].
//!
//! Natively both clients use [`UreqTransport`] by default (one per `Api`;
//! Cargo feature `ureq`, on by default):
//! ureq on a bounded set of reusable worker threads, answers through
//! futures channels, proxies from the environment honoured. In WebAssembly
//! the async client uses the global `fetch`. Both clients take any
//! [`AsyncTransport`]; bring your own (reqwest for HTTP/2, hyper, surf, ...)
//! by implementing the trait.
//!
//! Transports sit below the driver: they see a [`Request`], the [`Lease`]
//! it holds, and give back a [`Response`].
#![cfg_attr(all(not(target_arch = "wasm32"), feature = "ureq"), doc = "")]
#![cfg_attr(
    all(not(target_arch = "wasm32"), feature = "ureq"),
    doc = "[`UreqTransport`]: crate::transport::UreqTransport"
)]
#![cfg_attr(not(all(not(target_arch = "wasm32"), feature = "ureq")), doc = "")]
#![cfg_attr(
    not(all(not(target_arch = "wasm32"), feature = "ureq")),
    doc = "[`UreqTransport`]: https://docs.rs/pagewise/latest/x86_64-unknown-linux-gnu/pagewise/transport/struct.UreqTransport.html"
)]

use std::future::Future;
use std::pin::Pin;

use crate::core::{Request, Response, TransportError};
pub use crate::shared::Lease;

#[cfg(target_arch = "wasm32")]
pub mod fetch;
#[cfg(all(not(target_arch = "wasm32"), feature = "ureq"))]
mod pool;
#[cfg(all(not(target_arch = "wasm32"), feature = "ureq"))]
mod ureq;

#[cfg(all(not(target_arch = "wasm32"), feature = "ureq"))]
pub use self::ureq::UreqTransport;

/// The future an [`AsyncTransport`] returns: `Send` on native targets, not
/// on wasm32 (browser futures live on one thread).
#[cfg(not(target_arch = "wasm32"))]
pub type TransportFuture =
    Pin<Box<dyn Future<Output = Result<Response, TransportError>> + Send + 'static>>;
/// The future an [`AsyncTransport`] returns: `Send` on native targets, not
/// on wasm32 (browser futures live on one thread).
#[cfg(target_arch = "wasm32")]
pub type TransportFuture =
    Pin<Box<dyn Future<Output = Result<Response, TransportError>> + 'static>>;

/// Sends requests asynchronously, on any executor.
///
/// The returned future must not need a particular runtime to make progress
/// (or the client works only on that runtime), must honour
/// [`Request::timeout`](crate::core::Request::timeout), must not follow
/// redirects (the core does, only to the origins the API allows, keeping
/// credentials and configured headers on the API's own origin), and
/// should stop its work when dropped (that is how cancellation reaches it).
/// Non-2xx statuses are answers, not errors.
///
/// A transport over your own HTTP stack, here an in-memory fake:
///
/// ```
/// use pagewise::core::{Request, Response, TransportError};
/// use pagewise::transport::{AsyncTransport, TransportFuture};
///
/// struct Canned;
///
/// impl AsyncTransport for Canned {
///     fn send(&self, request: Request) -> TransportFuture {
///         // With reqwest: build `client.request(method, request.url())` with
///         // request.headers() and request.body(), await it, and map the status,
///         // headers and bytes into a `Response`.
///         Box::pin(async move {
///             assert!(request.url().starts_with("https://api.example/"));
///             Ok(Response::new(200, r#"[{"id":1},{"id":2}]"#))
///         })
///     }
/// }
///
/// let api = pagewise::Api::builder("https://api.example/")
///     .pagination(pagewise::Pagination::offset())
///     .build()?;
/// let client = pagewise::Client::with_transport(&api, Canned);
/// let one: serde_json::Value = futures::executor::block_on(client.get("items/1"))?;
/// assert_eq!(one[0]["id"], 1);
/// # Ok::<(), pagewise::Error>(())
/// ```
#[cfg(not(target_arch = "wasm32"))]
pub trait AsyncTransport: Send + Sync + 'static {
    /// Sends `request` and resolves to the whole answer.
    fn send(&self, request: Request) -> TransportFuture;

    /// Sends `request` holding `lease`: a slot of the `Api`'s shared
    /// concurrency limit, taken before the exchange starts and given back
    /// (with how the exchange ended, for pacing) as soon as it ends.
    ///
    /// The default waits for the slot, then polls the future of
    /// [`send`](AsyncTransport::send) made beforehand — right for the usual
    /// lazy futures. A transport whose exchange runs elsewhere (a thread, the
    /// browser's event loop) overrides it to take and give back the slot
    /// there, so a caller that is slow to poll never holds a slot idle.
    fn send_leased(&self, request: Request, mut lease: Lease) -> TransportFuture {
        let exchange = self.send(request);
        Box::pin(async move {
            lease.acquire().await;
            let answer = exchange.await;
            lease.complete(&answer);
            answer
        })
    }
}

/// Sends requests asynchronously (wasm32: futures need not be `Send`).
#[cfg(target_arch = "wasm32")]
pub trait AsyncTransport: 'static {
    /// Sends `request` and resolves to the whole answer.
    fn send(&self, request: Request) -> TransportFuture;

    /// Sends `request` holding `lease`: a slot of the `Api`'s shared
    /// concurrency limit, taken before the exchange starts and given back
    /// (with how the exchange ended, for pacing) as soon as it ends.
    ///
    /// The default waits for the slot, then polls the future of
    /// [`send`](AsyncTransport::send) made beforehand — right for the usual
    /// lazy futures. A transport whose exchange runs elsewhere (a thread, the
    /// browser's event loop) overrides it to take and give back the slot
    /// there, so a caller that is slow to poll never holds a slot idle.
    fn send_leased(&self, request: Request, mut lease: Lease) -> TransportFuture {
        let exchange = self.send(request);
        Box::pin(async move {
            lease.acquire().await;
            let answer = exchange.await;
            lease.complete(&answer);
            answer
        })
    }
}

//! The native default async transport: ureq on reusable worker threads,
//! answers delivered through `futures` channels. No runtime needed.

use futures::channel::oneshot;

use super::pool::Pool;
use super::ureq::UreqTransport;
use super::{AsyncTransport, Lease, TransportFuture};
use crate::core::{Request, TransportError, TransportErrorKind};
use std::sync::Arc;

/// Runs each request on a pooled worker thread (threads are reused, not one
/// per request) and delivers the answer through a oneshot channel, so it
/// works on every executor. A request whose future is dropped before a
/// worker picks it up is never sent.
#[derive(Debug, Clone, Default)]
pub struct ThreadedTransport {
    inner: Arc<UreqTransport>,
}

impl ThreadedTransport {
    /// Over the default [`UreqTransport`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Over a ureq transport you configured.
    pub fn with_ureq(inner: UreqTransport) -> Self {
        ThreadedTransport {
            inner: Arc::new(inner),
        }
    }
}

impl AsyncTransport for ThreadedTransport {
    fn send(&self, request: Request) -> TransportFuture {
        let (tx, rx) = oneshot::channel();
        let inner = self.inner.clone();
        Pool::global().spawn(move || {
            if tx.is_canceled() {
                return;
            }
            let _ = tx.send(inner.send(&request));
        });
        answer(rx)
    }

    fn send_leased(&self, request: Request, mut lease: Lease) -> TransportFuture {
        let (tx, rx) = oneshot::channel();
        let inner = self.inner.clone();
        // The slot is taken and given back on the worker thread: it is held
        // exactly while the exchange runs, however slowly the caller polls.
        Pool::global().spawn(move || {
            if tx.is_canceled() {
                return;
            }
            lease.acquire_blocking();
            if tx.is_canceled() {
                return;
            }
            let result = inner.send(&request);
            lease.complete(&result);
            let _ = tx.send(result);
        });
        answer(rx)
    }
}

fn answer(rx: oneshot::Receiver<Result<crate::core::Response, TransportError>>) -> TransportFuture {
    Box::pin(async move {
        rx.await.unwrap_or_else(|_| {
            Err(TransportError::new(
                TransportErrorKind::Other,
                "the worker thread ended without an answer",
            ))
        })
    })
}

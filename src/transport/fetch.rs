//! The browser transport (wasm32): the global `fetch` through gloo-net, an
//! `AbortController` per request for timeouts and cancellation.

use futures::future::{select, Either};
use futures_timer::Delay;
use gloo_net::http::{Method as GlooMethod, RequestBuilder};
use web_sys::AbortController;

use super::{AsyncTransport, Lease, TransportFuture};
use crate::core::{Method, Request, Response, TransportError, TransportErrorKind};

/// Sends requests with the global `fetch` (browsers, web workers, Node 20).
/// Each request has its own `AbortController`: it is aborted when the
/// request times out or when its future is dropped (a cancelled sweep).
/// The browser follows redirects itself, and per the Fetch standard drops
/// `Authorization` on a redirect to another origin.
#[derive(Debug, Clone, Default)]
pub struct FetchTransport {
    _private: (),
}

impl FetchTransport {
    /// A transport over the global `fetch`.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Aborts the fetch if the future is dropped before it finished.
struct AbortOnDrop {
    controller: Option<AbortController>,
}

impl AbortOnDrop {
    fn disarm(&mut self) {
        self.controller = None;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.controller.take() {
            c.abort();
        }
    }
}

fn js_message(e: gloo_net::Error) -> String {
    e.to_string()
}

impl AsyncTransport for FetchTransport {
    fn send_leased(&self, request: Request, mut lease: Lease) -> TransportFuture {
        // Run the exchange as its own task on the browser's event loop, so the
        // slot of the shared limit is given back the moment the answer is in,
        // not when the caller next polls. Dropping the returned future drops
        // the receiver, which ends the task and aborts the fetch.
        let (tx, rx) = futures::channel::oneshot::channel();
        let exchange = self.send(request);
        wasm_bindgen_futures::spawn_local(async move {
            let mut tx = tx;
            let work = async move {
                lease.acquire().await;
                let answer = exchange.await;
                lease.complete(&answer);
                answer
            };
            futures::pin_mut!(work);
            if let Either::Left((answer, _)) = select(work, tx.cancellation()).await {
                let _ = tx.send(answer);
            }
        });
        Box::pin(async move {
            rx.await.unwrap_or_else(|_| {
                Err(TransportError::new(
                    TransportErrorKind::Aborted,
                    "the request was cancelled",
                ))
            })
        })
    }

    fn send(&self, request: Request) -> TransportFuture {
        Box::pin(async move {
            let controller = AbortController::new().map_err(|_| {
                TransportError::new(
                    TransportErrorKind::Other,
                    "AbortController is not available",
                )
            })?;
            let signal = controller.signal();
            let mut guard = AbortOnDrop {
                controller: Some(controller),
            };
            let method = match request.method {
                Method::Get => GlooMethod::GET,
                Method::Post => GlooMethod::POST,
                Method::Put => GlooMethod::PUT,
                Method::Patch => GlooMethod::PATCH,
                Method::Delete => GlooMethod::DELETE,
            };
            let mut builder = RequestBuilder::new(&request.url)
                .method(method)
                .abort_signal(Some(&signal));
            for h in &request.headers {
                builder = builder.header(&h.name, &h.value);
            }
            let built = match &request.body {
                Some(body) => builder.body(js_sys::Uint8Array::from(&body[..])),
                None => builder.build(),
            }
            .map_err(|e| TransportError::new(TransportErrorKind::Other, js_message(e)))?;
            let exchange = async move {
                let resp = built.send().await.map_err(|e| {
                    // fetch rejects with a TypeError for network and CORS failures alike.
                    TransportError::new(
                        TransportErrorKind::Connect,
                        format!("fetch failed: {}", js_message(e)),
                    )
                })?;
                let status = resp.status();
                let headers = resp.headers().entries().collect();
                let body = resp.binary().await.map_err(|e| {
                    TransportError::new(
                        TransportErrorKind::Io,
                        format!("reading the body failed: {}", js_message(e)),
                    )
                })?;
                Ok(Response {
                    status,
                    headers,
                    body,
                })
            };
            let result = match request.timeout {
                None => exchange.await,
                Some(limit) => match select(Box::pin(exchange), Delay::new(limit)).await {
                    Either::Left((r, _)) => r,
                    Either::Right(_) => {
                        // Dropping `guard` below aborts the fetch.
                        return Err(TransportError::new(
                            TransportErrorKind::Timeout,
                            format!("no answer within {limit:?}"),
                        ));
                    }
                },
            };
            guard.disarm();
            result
        })
    }
}

//! The async driver: the run loop as a `poll` function, on any executor.
//! Requests are futures in a `FuturesUnordered`, each holding a limiter
//! permit while in flight; timers come from `futures-timer` (a helper thread
//! natively, browser timers on wasm32), so no runtime is needed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::stream::{FuturesUnordered, StreamExt};
use futures_timer::Delay;
use web_time::Instant;

use crate::api::Api;
use crate::core::{Event, Fetch, ListOptions, RequestId, Response, Sweep, TransportError};
use crate::error::{Error, ErrorKind, Result};
use crate::transport::AsyncTransport;

type Answer = (RequestId, std::result::Result<Response, TransportError>);

#[cfg(not(target_arch = "wasm32"))]
type AnswerFuture = Pin<Box<dyn Future<Output = Answer> + Send>>;
#[cfg(target_arch = "wasm32")]
type AnswerFuture = Pin<Box<dyn Future<Output = Answer>>>;

/// A sweep driven by whoever polls it. Dropping it drops every request in
/// flight (and with them their limiter permits): nothing runs on afterwards.
pub(crate) struct AsyncSweep {
    sweep: Option<Sweep>,
    failed_early: Option<Error>,
    api: Api,
    transport: Arc<dyn AsyncTransport>,
    in_flight: FuturesUnordered<AnswerFuture>,
    timer: Option<(Instant, Delay)>,
}

impl AsyncSweep {
    pub(crate) fn new(api: &Api, transport: Arc<dyn AsyncTransport>, options: ListOptions) -> Self {
        let (sweep, failed_early) = match Sweep::new(api.spec(), options, Instant::now()) {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e)),
        };
        AsyncSweep {
            sweep,
            failed_early,
            api: api.clone(),
            transport,
            in_flight: FuturesUnordered::new(),
            timer: None,
        }
    }

    pub(crate) fn sweep(&self) -> Option<&Sweep> {
        self.sweep.as_ref()
    }

    /// The next page, finish or failure; `Ready(None)` once the sweep ended
    /// and its last event was taken. Notices stay in the report.
    pub(crate) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        if let Some(e) = self.failed_early.take() {
            return Poll::Ready(Some(Event::Failed(e)));
        }
        let Some(sweep) = self.sweep.as_mut() else {
            return Poll::Ready(None);
        };
        loop {
            while let Some(req) = sweep.poll_request() {
                let limiter = self.api.limiter().clone();
                let transport = self.transport.clone();
                self.in_flight.push(Box::pin(async move {
                    let _permit = limiter.acquire().await;
                    let id = req.id;
                    (id, transport.send(req).await)
                }));
            }
            match sweep.poll_event() {
                Some(Event::Notice(_)) => continue,
                Some(ev) => return Poll::Ready(Some(ev)),
                None => {}
            }
            if sweep.is_done() {
                // Answers still in flight belong to a finished or failed sweep.
                self.in_flight = FuturesUnordered::new();
                return Poll::Ready(None);
            }
            if let Poll::Ready(Some((id, answer))) = self.in_flight.poll_next_unpin(cx) {
                sweep.handle_response(id, answer, Instant::now());
                continue;
            }
            match sweep.poll_timeout() {
                Some(at) => {
                    let now = Instant::now();
                    if at <= now {
                        sweep.handle_timeout(now);
                        continue;
                    }
                    if self.timer.as_ref().is_none_or(|(t, _)| *t != at) {
                        self.timer = Some((at, Delay::new(at - now)));
                    }
                    let (_, delay) = self.timer.as_mut().expect("timer just set");
                    if Pin::new(delay).poll(cx).is_ready() {
                        self.timer = None;
                        sweep.handle_timeout(Instant::now());
                        continue;
                    }
                }
                None => {
                    self.timer = None;
                    if self.in_flight.is_empty() {
                        self.sweep = None;
                        return Poll::Ready(Some(Event::Failed(Error::new(
                            ErrorKind::Transport,
                            "internal error: the sweep stalled",
                        ))));
                    }
                }
            }
            return Poll::Pending;
        }
    }
}

/// Runs a single request (and its redirects) asynchronously.
pub(crate) async fn run_fetch(api: &Api, transport: &Arc<dyn AsyncTransport>, fetch: &mut Fetch) -> Result<Response> {
    loop {
        if let Some(outcome) = fetch.poll_event() {
            return outcome;
        }
        let Some(req) = fetch.poll_request() else {
            return Err(Error::new(ErrorKind::Transport, "internal error: the request was lost"));
        };
        let id = req.id;
        let answer = {
            let _permit = api.limiter().acquire().await;
            transport.send(req).await
        };
        fetch.handle_response(id, answer, Instant::now());
    }
}

//! The async driver: the run loop as a `poll` function, on any executor.
//! Requests pass the shared pacer's gate, then run as futures in a
//! `FuturesUnordered`, each holding a lease (pacer ticket and limiter slot)
//! that its transport gives back the moment the exchange ends. Timers come
//! from `futures-timer` (a helper thread natively, browser timers on wasm32),
//! so no runtime is needed.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::stream::{FuturesUnordered, StreamExt};
use futures_timer::Delay;
use web_time::Instant;

use crate::core::{
    ApiEvent, Fetch, Observer, Request, RequestEvent, RequestId, Response, TransportError,
    TARGET_REQUEST,
};
use crate::drive::Machine;
use crate::error::{Error, ErrorKind, Result};
use crate::shared::{Arrivals, Gate, Handles, Tokens};
use crate::transport::AsyncTransport;

type Answer = (RequestId, std::result::Result<Response, TransportError>);

/// An answer, and, for a request sent with a token asked for (not yet
/// sent again for a 401), the request (to send again) and the token's generation.
type Answered = (Answer, Option<(Request, u64)>);

#[cfg(not(target_arch = "wasm32"))]
type AnswerFuture = Pin<Box<dyn Future<Output = Answered> + Send>>;
#[cfg(target_arch = "wasm32")]
type AnswerFuture = Pin<Box<dyn Future<Output = Answered>>>;

/// The requests of one operation: held at the gate, then in flight.
struct Wire {
    gate: Gate,
    transport: Arc<dyn AsyncTransport>,
    in_flight: FuturesUnordered<AnswerFuture>,
    /// Requests whose answer came in ahead of its hand-over.
    arrivals: Arc<Arrivals>,
    timer: Option<(Instant, Delay)>,
    /// The `Api`'s token, when its credentials are asked for.
    tokens: Option<Tokens>,
    /// Requests sent again after a 401 with a new token (not sent a third time).
    resent: HashSet<RequestId>,
    /// Where request events go.
    observer: Observer,
    /// While someone listens: each request in flight's method, URL
    /// (credentials removed) and when it left.
    sent: HashMap<RequestId, (&'static str, String, Instant)>,
}

impl Wire {
    fn new(handles: &Handles, transport: Arc<dyn AsyncTransport>) -> Self {
        Wire {
            gate: handles.gate(),
            transport,
            in_flight: FuturesUnordered::new(),
            arrivals: Arc::default(),
            timer: None,
            tokens: handles.tokens.clone(),
            resent: HashSet::new(),
            observer: handles.observer.clone(),
            sent: HashMap::new(),
        }
    }

    fn push(&mut self, req: Request) {
        self.gate.push(req);
    }

    /// Starts what the pacer admits; returns when to look again if some are
    /// held for a time (held for room, the gate wakes the task itself).
    fn release(&mut self, cx: &Context<'_>) -> Option<Instant> {
        let (ready, wake) = self.gate.release(Instant::now(), cx.waker());
        self.arrivals.register(cx.waker());
        let watch = !ready.is_empty() && self.observer.wants(TARGET_REQUEST, log::Level::Debug);
        for (req, mut lease) in ready {
            let id = req.id;
            if watch {
                self.sent.insert(
                    id,
                    (req.method.as_str(), req.redacted_url(), Instant::now()),
                );
            }
            lease.report_arrival(self.arrivals.clone(), id);
            match &self.tokens {
                Some(tokens) if tokens.wants(&req) => {
                    let resent = self.resent.remove(&id);
                    self.in_flight.push(Box::pin(with_token(
                        tokens.clone(),
                        self.transport.clone(),
                        req,
                        lease,
                        resent,
                    )));
                }
                _ => {
                    let exchange = self.transport.send_leased(req, lease);
                    self.in_flight
                        .push(Box::pin(async move { ((id, exchange.await), None) }));
                }
            }
        }
        wake
    }

    /// A 401 to a request sent with a token asked for: the token is
    /// forgotten and the request goes back to the gate, once, to leave
    /// with a new one. `false` for any other answer.
    fn resend_refused(&mut self, answered: &mut Answered) -> bool {
        let ((id, Ok(resp)), again) = answered else {
            return false;
        };
        if !crate::core::refuses_credentials(resp) {
            return false;
        }
        let (Some(tokens), Some((req, generation))) = (&self.tokens, again.take()) else {
            return false;
        };
        tokens.refused(generation);
        self.resent.insert(*id);
        self.gate.push(req);
        true
    }

    /// An answer, if one is ready. Polling also starts requests just pushed.
    fn poll_answer(&mut self, cx: &mut Context<'_>) -> Option<Answer> {
        loop {
            match self.in_flight.poll_next_unpin(cx) {
                Poll::Ready(Some(mut answered)) => {
                    self.answered(&answered.0);
                    if !self.resend_refused(&mut answered) {
                        return Some(answered.0);
                    }
                    // Back at the gate: look again to release it.
                    cx.waker().wake_by_ref();
                }
                _ => return None,
            }
        }
    }

    /// The request event of `answer`, to whoever listens (the one place
    /// requests are logged: every answer of every operation passes here).
    fn answered(&mut self, (id, answer): &Answer) {
        if self.sent.is_empty() {
            return;
        }
        let Some((method, url, at)) = self.sent.remove(id) else {
            return;
        };
        let elapsed = at.elapsed();
        let event = match answer {
            Ok(resp) => RequestEvent {
                method: method.to_string(),
                url,
                status: Some(resp.status),
                elapsed,
                bytes: resp.body.len() as u64,
                error: None,
            },
            Err(e) => RequestEvent {
                method: method.to_string(),
                url,
                status: None,
                elapsed,
                bytes: 0,
                error: Some(e.to_string()),
            },
        };
        self.observer.emit(ApiEvent::Request(event));
    }

    /// Arms the timer for `at`; `true` if it has already fired.
    fn timer_fired(&mut self, at: Instant, cx: &mut Context<'_>) -> bool {
        let now = Instant::now();
        if at <= now {
            self.timer = None;
            return true;
        }
        // Keep a timer that fires no later than about `at` (an early wake only
        // means one more look). Replacing it drops it, and on wasm32 dropping
        // a polled timer wakes the task: were it replaced whenever `at` moved
        // (a bucket's wait is recomputed in floating point), every poll would wake the next one, a microtask
        // loop that starves the browser's event loop: no answer ever comes in.
        if self
            .timer
            .as_ref()
            .is_none_or(|(t, _)| at + TIMER_SLACK < *t)
        {
            self.timer = Some((at, Delay::new(at - now)));
        }
        let (_, delay) = self.timer.as_mut().expect("timer just set");
        if Pin::new(delay).poll(cx).is_ready() {
            self.timer = None;
            return true;
        }
        false
    }

    fn idle(&self) -> bool {
        self.in_flight.is_empty() && self.gate.held() == 0
    }
}

/// Sends `req` with the `Api`'s token (asked for first if none is held or
/// it is due; a failure to get one is the request's answer, nothing sent).
async fn with_token(
    tokens: Tokens,
    transport: Arc<dyn AsyncTransport>,
    mut req: Request,
    lease: crate::shared::Lease,
    resent: bool,
) -> Answered {
    let id = req.id;
    let granted = match tokens.get(|r| transport.send(r)).await {
        Ok(g) => g,
        Err(e) => return ((id, Err(e)), None),
    };
    let again = (!resent).then(|| (req.clone(), granted.generation));
    req.headers
        .retain(|h| !h.name.eq_ignore_ascii_case(&granted.header.name));
    req.headers.push(granted.header);
    ((id, transport.send_leased(req, lease).await), again)
}

/// How much earlier than the armed timer a new wake-up must be to re-arm it
/// (timers in the browser have millisecond resolution anyway).
const TIMER_SLACK: std::time::Duration = std::time::Duration::from_millis(1);

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A core state machine driven by whoever polls it. Dropping it drops every
/// request in flight: their transports abort them and give their slots
/// back; nothing runs on afterwards.
pub(crate) struct AsyncDriver<M: Machine> {
    machine: Option<M>,
    failed_early: Option<Error>,
    wire: Wire,
}

impl<M: Machine> AsyncDriver<M> {
    /// Drives `machine` (or hands out why it could not start) over
    /// `transport`, its requests paced and limited by `handles`.
    pub(crate) fn new(
        handles: &Handles,
        transport: Arc<dyn AsyncTransport>,
        machine: Result<M>,
    ) -> Self {
        let (machine, failed_early) = match machine {
            Ok(m) => (Some(m), None),
            Err(e) => (None, Some(e)),
        };
        AsyncDriver {
            machine,
            failed_early,
            wire: Wire::new(handles, transport),
        }
    }

    pub(crate) fn machine(&self) -> Option<&M> {
        self.machine.as_ref()
    }

    /// The machine's next event; `Ready(None)` once it has ended and its last
    /// event was taken.
    pub(crate) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<M::Event>> {
        if let Some(e) = self.failed_early.take() {
            return Poll::Ready(Some(M::failed(e)));
        }
        let Some(m) = self.machine.as_mut() else {
            return Poll::Ready(None);
        };
        loop {
            for id in self.wire.arrivals.take() {
                m.handle_arrival(id);
            }
            while let Some(req) = m.poll_request() {
                self.wire.push(req);
            }
            let gate_wake = self.wire.release(cx);
            // Take every answer already in (and start the requests just pushed)
            // before handing out an event: the pipeline keeps moving while the
            // consumer works on what it is given.
            if let Some((id, answer)) = self.wire.poll_answer(cx) {
                m.handle_response(id, answer, Instant::now());
                continue;
            }
            if let Some(ev) = m.poll_event() {
                return Poll::Ready(Some(ev));
            }
            if m.is_done() {
                // Answers still in flight belong to an operation that ended.
                self.wire.in_flight = FuturesUnordered::new();
                return Poll::Ready(None);
            }
            match earliest(m.poll_timeout(), gate_wake) {
                Some(at) => {
                    if self.wire.timer_fired(at, cx) {
                        m.handle_timeout(Instant::now());
                        continue;
                    }
                }
                None => {
                    self.wire.timer = None;
                    if self.wire.idle() && m.in_flight() == 0 {
                        self.machine = None;
                        return Poll::Ready(Some(M::failed(Error::new(
                            ErrorKind::Transport,
                            "internal error: the operation stalled",
                        ))));
                    }
                }
            }
            return Poll::Pending;
        }
    }
}

/// Runs a single request (with its redirects and retries) asynchronously.
pub(crate) async fn run_fetch(
    handles: &Handles,
    transport: &Arc<dyn AsyncTransport>,
    fetch: Fetch,
) -> Result<Response> {
    let mut driver = AsyncDriver::new(handles, transport.clone(), Ok(fetch));
    futures::future::poll_fn(|cx| driver.poll_event(cx))
        .await
        .unwrap_or_else(|| {
            Err(Error::new(
                ErrorKind::Transport,
                "internal error: the request was lost",
            ))
        })
}

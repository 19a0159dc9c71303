//! The blocking driver: the run loop on the caller's thread; requests on
//! the event-loop thread (or, with the ureq transport, on pool threads),
//! answers through oneshot channels the caller's thread parks on.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

use futures::channel::oneshot;
use futures::stream::{FuturesUnordered, StreamExt};
use web_time::Instant;

use crate::api::Api;
use crate::core::{
    Fetch, ListOptions, Request, RequestId, Response, Sweep, TransportError, TransportErrorKind,
};
use crate::drive::lease::{Gate, Lease};
use crate::drive::{next_serial, random_seed, Machine};
use crate::error::{Error, ErrorKind, Result};
use crate::transport::evloop::{self, EvloopTransport};
use crate::transport::pool::Pool;
use crate::transport::ureq::UreqTransport;

type Answer = (RequestId, std::result::Result<Response, TransportError>);
type AnswerFuture = Pin<Box<dyn Future<Output = Answer> + Send>>;

/// What the blocking client sends with.
#[derive(Debug, Clone)]
pub(crate) enum NativeTransport {
    /// The event loop (the default).
    Evloop(EvloopTransport),
    /// ureq, a pool thread per request in flight.
    Ureq(Arc<UreqTransport>),
}

/// Wakes the thread parked in [`Dispatcher::recv`]: an answer arrived, or
/// the pacer's gate handed room to this dispatcher.
struct Signal {
    woken: AtomicBool,
    thread: Mutex<Thread>,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unpark();
    }
}

/// What [`Dispatcher::recv`] got.
pub(crate) enum Received {
    Answer(Answer),
    /// Woken without an answer (the gate was handed room): release again.
    Woken,
    /// The deadline passed.
    Timeout,
}

/// Sends requests, each holding its lease (pacer ticket and limiter slot)
/// exactly while on the wire, and brings the answers back. Dropping it
/// aborts the requests in flight and stops those not yet started.
pub(crate) struct Dispatcher {
    transport: NativeTransport,
    gate: Gate,
    in_flight: FuturesUnordered<AnswerFuture>,
    signal: Arc<Signal>,
    waker: Waker,
    cancelled: Arc<AtomicBool>,
}

impl Dispatcher {
    pub(crate) fn new(api: &Api, transport: NativeTransport) -> Self {
        let signal = Arc::new(Signal {
            woken: AtomicBool::new(false),
            thread: Mutex::new(std::thread::current()),
        });
        let waker = Waker::from(signal.clone());
        Dispatcher {
            signal,
            waker,
            transport,
            gate: Gate::new(api.pacer().clone(), api.limiter().clone()),
            in_flight: FuturesUnordered::new(),
            cancelled: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Queues a request behind the pacer.
    pub(crate) fn push(&mut self, req: Request) {
        self.gate.push(req);
    }

    /// Sends what the pacer admits; returns when to look again if some are
    /// held for a time (held for room, the gate wakes [`recv`](Self::recv)).
    pub(crate) fn release(&mut self) -> Option<Instant> {
        self.park_here();
        let (ready, wake) = self.gate.release(Instant::now(), &self.waker);
        for (req, lease) in ready {
            self.send(req, lease);
        }
        wake
    }

    fn send(&mut self, req: Request, mut lease: Lease) {
        let id = req.id;
        match &self.transport {
            NativeTransport::Evloop(t) => {
                let rx = t.submit(req, Some(lease));
                self.in_flight
                    .push(Box::pin(async move { (id, evloop::answer(rx).await) }));
            }
            NativeTransport::Ureq(t) => {
                let (tx, rx) = oneshot::channel();
                let transport = t.clone();
                let cancelled = self.cancelled.clone();
                Pool::global().spawn(move || {
                    if cancelled.load(Ordering::SeqCst) {
                        return;
                    }
                    lease.acquire_blocking();
                    // The caller may have gone away while this request waited for a slot.
                    if cancelled.load(Ordering::SeqCst) {
                        return;
                    }
                    let answer = transport.send(&req);
                    lease.complete(&answer);
                    let _ = tx.send(answer);
                });
                self.in_flight.push(Box::pin(async move {
                    let answer = rx.await.unwrap_or_else(|_| {
                        Err(TransportError::new(
                            TransportErrorKind::Other,
                            "the worker thread ended without an answer",
                        ))
                    });
                    (id, answer)
                }));
            }
        }
    }

    /// Makes the calling thread the one woken (a blocking iterator may move
    /// between threads from one call to the next).
    fn park_here(&self) {
        let current = std::thread::current();
        let mut thread = self.signal.thread.lock().unwrap_or_else(|e| e.into_inner());
        if thread.id() != current.id() {
            *thread = current;
        }
    }

    /// The next answer or wake-up, waiting at most until `deadline`.
    pub(crate) fn recv(&mut self, deadline: Option<Instant>) -> Received {
        self.park_here();
        let mut cx = Context::from_waker(&self.waker);
        loop {
            match self.in_flight.poll_next_unpin(&mut cx) {
                Poll::Ready(Some(answer)) => return Received::Answer(answer),
                Poll::Ready(None) | Poll::Pending => {}
            }
            if self.signal.woken.swap(false, Ordering::SeqCst) {
                // An answer's wake is seen by the poll above on the next
                // turn; anything else is the gate handing room over.
                match self.in_flight.poll_next_unpin(&mut cx) {
                    Poll::Ready(Some(answer)) => return Received::Answer(answer),
                    _ => return Received::Woken,
                }
            }
            match deadline {
                None => std::thread::park(),
                Some(d) => {
                    let now = Instant::now();
                    if d <= now {
                        return Received::Timeout;
                    }
                    std::thread::park_timeout(d - now);
                }
            }
        }
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A core state machine driven on the caller's thread.
pub(crate) struct Driver<M: Machine> {
    machine: Option<M>,
    dispatcher: Dispatcher,
    failed_early: Option<Error>,
}

impl<M: Machine> Driver<M> {
    pub(crate) fn new(api: &Api, transport: NativeTransport, machine: Result<M>) -> Self {
        let dispatcher = Dispatcher::new(api, transport);
        let (machine, failed_early) = match machine {
            Ok(m) => (Some(m), None),
            Err(e) => (None, Some(e)),
        };
        Driver {
            machine,
            dispatcher,
            failed_early,
        }
    }

    pub(crate) fn machine(&self) -> Option<&M> {
        self.machine.as_ref()
    }

    /// The machine's next event; `None` once it has ended and its last event
    /// was taken.
    pub(crate) fn next_event(&mut self) -> Option<M::Event> {
        if let Some(e) = self.failed_early.take() {
            return Some(M::failed(e));
        }
        let m = self.machine.as_mut()?;
        loop {
            while let Some(req) = m.poll_request() {
                self.dispatcher.push(req);
            }
            let gate_wake = self.dispatcher.release();
            if let Some(ev) = m.poll_event() {
                return Some(ev);
            }
            if m.is_done() {
                return None;
            }
            let wake = earliest(m.poll_timeout(), gate_wake);
            if m.in_flight() == 0 && wake.is_none() {
                // The core always has a request out or a timer set while running.
                self.machine = None;
                return Some(M::failed(Error::new(
                    ErrorKind::Transport,
                    "internal error: the operation stalled",
                )));
            }
            match self.dispatcher.recv(wake) {
                Received::Answer((id, answer)) => m.handle_response(id, answer, Instant::now()),
                Received::Woken => {}
                Received::Timeout => m.handle_timeout(Instant::now()),
            }
        }
    }
}

/// A sweep driven on the caller's thread.
pub(crate) fn sweep(
    api: &Api,
    transport: NativeTransport,
    mut options: ListOptions,
) -> Driver<Sweep> {
    if options.seed.is_none() {
        options = options.seed(random_seed());
    }
    Driver::new(
        api,
        transport,
        Sweep::new(api.spec(), options, Instant::now()).map(|s| s.with_serial(next_serial())),
    )
}

/// Runs a single request (with its redirects and retries) on the caller's thread.
pub(crate) fn run_fetch(api: &Api, transport: &NativeTransport, fetch: Fetch) -> Result<Response> {
    let mut driver = Driver::new(api, transport.clone(), Ok(fetch));
    driver.next_event().unwrap_or_else(|| {
        Err(Error::new(
            ErrorKind::Transport,
            "internal error: the request was lost",
        ))
    })
}

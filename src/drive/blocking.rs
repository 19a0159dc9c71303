//! The blocking driver: the run loop on the caller's thread, requests on pool threads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::task::{Wake, Waker};

use web_time::Instant;

use crate::api::Api;
use crate::core::{Fetch, ListOptions, Request, RequestId, Response, Sweep, TransportError};
use crate::drive::lease::{Gate, Lease};
use crate::drive::{random_seed, Machine};
use crate::error::{Error, ErrorKind, Result};
use crate::transport::pool::Pool;
use crate::transport::ureq::UreqTransport;

type Answer = (RequestId, std::result::Result<Response, TransportError>);

/// What reaches the driver's thread: an answer, or word from the pacer's
/// gate that room was handed to it.
enum Msg {
    Answer(Answer),
    Wake,
}

/// Wakes the driver's thread through its channel.
struct ChannelWaker(Sender<Msg>);

impl Wake for ChannelWaker {
    fn wake(self: Arc<Self>) {
        let _ = self.0.send(Msg::Wake);
    }
}

/// What [`Dispatcher::recv`] got.
pub(crate) enum Received {
    Answer(Answer),
    /// The gate was handed room: release again.
    Woken,
    /// The deadline passed.
    Timeout,
}

/// Sends requests on pool threads, each holding its lease (pacer ticket and
/// limiter slot) exactly while on the wire, and brings the answers back over
/// a channel. Dropping it stops requests not yet started.
pub(crate) struct Dispatcher {
    transport: Arc<UreqTransport>,
    gate: Gate,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    waker: Waker,
    cancelled: Arc<AtomicBool>,
}

impl Dispatcher {
    pub(crate) fn new(api: &Api, transport: Arc<UreqTransport>) -> Self {
        let (tx, rx) = channel();
        let waker = Waker::from(Arc::new(ChannelWaker(tx.clone())));
        Dispatcher {
            waker,
            transport,
            gate: Gate::new(api.pacer().clone(), api.limiter().clone()),
            tx,
            rx,
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
        let (ready, wake) = self.gate.release(Instant::now(), &self.waker);
        for (req, lease) in ready {
            self.send(req, lease);
        }
        wake
    }

    fn send(&self, req: Request, mut lease: Lease) {
        let tx = self.tx.clone();
        let transport = self.transport.clone();
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
            let _ = tx.send(Msg::Answer((req.id, answer)));
        });
    }

    /// The next answer or wake-up, waiting at most until `deadline`.
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Received {
        let msg = match deadline {
            // The dispatcher holds a sender: the channel never disconnects.
            None => self.rx.recv().ok(),
            Some(d) => {
                let wait = d.saturating_duration_since(Instant::now());
                self.rx.recv_timeout(wait).ok()
            }
        };
        match msg {
            Some(Msg::Answer(a)) => Received::Answer(a),
            Some(Msg::Wake) => Received::Woken,
            None => Received::Timeout,
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
    pub(crate) fn new(api: &Api, transport: Arc<UreqTransport>, machine: Result<M>) -> Self {
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
    transport: Arc<UreqTransport>,
    mut options: ListOptions,
) -> Driver<Sweep> {
    if options.seed.is_none() {
        options = options.seed(random_seed());
    }
    Driver::new(
        api,
        transport,
        Sweep::new(api.spec(), options, Instant::now()),
    )
}

/// Runs a single request (with its redirects and retries) on the caller's thread.
pub(crate) fn run_fetch(
    api: &Api,
    transport: &Arc<UreqTransport>,
    fetch: Fetch,
) -> Result<Response> {
    let mut driver = Driver::new(api, transport.clone(), Ok(fetch));
    driver.next_event().unwrap_or_else(|| {
        Err(Error::new(
            ErrorKind::Transport,
            "internal error: the request was lost",
        ))
    })
}

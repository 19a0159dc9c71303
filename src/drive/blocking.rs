//! The blocking driver: the run loop on the caller's thread, requests on pool threads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;

use web_time::Instant;

use crate::api::Api;
use crate::core::{Event, Fetch, ListOptions, Request, RequestId, Response, Sweep, TransportError};
use crate::drive::lease::{Gate, Lease};
use crate::drive::random_seed;
use crate::error::{Error, ErrorKind, Result};
use crate::transport::pool::Pool;
use crate::transport::ureq::UreqTransport;

type Answer = (RequestId, std::result::Result<Response, TransportError>);

/// Sends requests on pool threads, each holding its lease (pacer ticket and
/// limiter slot) exactly while on the wire, and brings the answers back over
/// a channel. Dropping it stops requests not yet started.
pub(crate) struct Dispatcher {
    transport: Arc<UreqTransport>,
    gate: Gate,
    tx: Sender<Answer>,
    rx: Receiver<Answer>,
    cancelled: Arc<AtomicBool>,
}

impl Dispatcher {
    pub(crate) fn new(api: &Api, transport: Arc<UreqTransport>) -> Self {
        let (tx, rx) = channel();
        Dispatcher {
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

    /// Sends what the pacer admits; returns when to look again if some are held.
    pub(crate) fn release(&mut self) -> Option<Instant> {
        let (ready, wake) = self.gate.release(Instant::now());
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
            let _ = tx.send((req.id, answer));
        });
    }

    /// The next answer, waiting at most until `deadline`.
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Option<Answer> {
        match deadline {
            None => self.rx.recv().ok(),
            Some(d) => {
                let wait = d.saturating_duration_since(Instant::now());
                match self.rx.recv_timeout(wait) {
                    Ok(a) => Some(a),
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
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

/// A sweep driven on the caller's thread.
pub(crate) struct BlockingSweep {
    sweep: Option<Sweep>,
    dispatcher: Dispatcher,
    failed_early: Option<Error>,
}

impl BlockingSweep {
    pub(crate) fn new(api: &Api, transport: Arc<UreqTransport>, mut options: ListOptions) -> Self {
        let dispatcher = Dispatcher::new(api, transport);
        if options.seed.is_none() {
            options = options.seed(random_seed());
        }
        match Sweep::new(api.spec(), options, Instant::now()) {
            Ok(s) => BlockingSweep {
                sweep: Some(s),
                dispatcher,
                failed_early: None,
            },
            Err(e) => BlockingSweep {
                sweep: None,
                dispatcher,
                failed_early: Some(e),
            },
        }
    }

    pub(crate) fn sweep(&self) -> Option<&Sweep> {
        self.sweep.as_ref()
    }

    /// The next page, finish or failure; `None` once the sweep has ended and
    /// its last event was taken. Notices stay in the report.
    pub(crate) fn next_event(&mut self) -> Option<Event> {
        if let Some(e) = self.failed_early.take() {
            return Some(Event::Failed(e));
        }
        let sweep = self.sweep.as_mut()?;
        loop {
            while let Some(req) = sweep.poll_request() {
                self.dispatcher.push(req);
            }
            let gate_wake = self.dispatcher.release();
            match sweep.poll_event() {
                Some(Event::Notice(_)) => continue,
                Some(ev) => return Some(ev),
                None => {}
            }
            if sweep.is_done() {
                return None;
            }
            let wake = earliest(sweep.poll_timeout(), gate_wake);
            if sweep.in_flight() == 0 && wake.is_none() {
                // The core always has a request out or a timer set while running.
                self.sweep = None;
                return Some(Event::Failed(Error::new(
                    ErrorKind::Transport,
                    "internal error: the sweep stalled",
                )));
            }
            match self.dispatcher.recv(wake) {
                Some((id, answer)) => sweep.handle_response(id, answer, Instant::now()),
                None => sweep.handle_timeout(Instant::now()),
            }
        }
    }
}

/// Runs a single request (with its redirects and retries) on the caller's thread.
pub(crate) fn run_fetch(
    api: &Api,
    transport: &Arc<UreqTransport>,
    fetch: &mut Fetch,
) -> Result<Response> {
    let mut dispatcher = Dispatcher::new(api, transport.clone());
    loop {
        if let Some(outcome) = fetch.poll_event() {
            return outcome;
        }
        if let Some(req) = fetch.poll_request() {
            dispatcher.push(req);
        }
        let wake = earliest(fetch.poll_timeout(), dispatcher.release());
        match dispatcher.recv(wake) {
            Some((id, answer)) => fetch.handle_response(id, answer, Instant::now()),
            None => fetch.handle_timeout(Instant::now()),
        }
    }
}

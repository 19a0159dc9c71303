//! The blocking driver: the run loop on the caller's thread, requests on pool threads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;

use web_time::Instant;

use crate::api::Api;
use crate::core::{Event, ListOptions, Request, RequestId, Response, Sweep, TransportError};
use crate::drive::limiter::Limiter;
use crate::error::{Error, ErrorKind, Result};
use crate::transport::pool::Pool;
use crate::transport::ureq::UreqTransport;

type Answer = (RequestId, std::result::Result<Response, TransportError>);

/// Sends requests on pool threads, each holding a limiter permit, and brings
/// the answers back over a channel. Dropping it stops requests not yet started.
pub(crate) struct Dispatcher {
    transport: Arc<UreqTransport>,
    limiter: Limiter,
    tx: Sender<Answer>,
    rx: Receiver<Answer>,
    cancelled: Arc<AtomicBool>,
}

impl Dispatcher {
    pub(crate) fn new(transport: Arc<UreqTransport>, limiter: Limiter) -> Self {
        let (tx, rx) = channel();
        Dispatcher {
            transport,
            limiter,
            tx,
            rx,
            cancelled: Arc::new(AtomicBool::new(false)),
        }
    }

    pub(crate) fn send(&self, req: Request) {
        let tx = self.tx.clone();
        let transport = self.transport.clone();
        let limiter = self.limiter.clone();
        let cancelled = self.cancelled.clone();
        Pool::global().spawn(move || {
            if cancelled.load(Ordering::SeqCst) {
                return;
            }
            let _permit = limiter.acquire_blocking();
            // The caller may have gone away while this request waited for a permit.
            if cancelled.load(Ordering::SeqCst) {
                return;
            }
            let answer = transport.send(&req);
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

/// A sweep driven on the caller's thread.
pub(crate) struct BlockingSweep {
    sweep: Option<Sweep>,
    dispatcher: Dispatcher,
    failed_early: Option<Error>,
}

impl BlockingSweep {
    pub(crate) fn new(api: &Api, transport: Arc<UreqTransport>, options: ListOptions) -> Self {
        let dispatcher = Dispatcher::new(transport, api.limiter().clone());
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
                self.dispatcher.send(req);
            }
            match sweep.poll_event() {
                Some(Event::Notice(_)) => continue,
                Some(ev) => return Some(ev),
                None => {}
            }
            if sweep.is_done() {
                return None;
            }
            let deadline = sweep.poll_timeout();
            if sweep.in_flight() == 0 && deadline.is_none() {
                // The core always has a request out or a timer set while running.
                self.sweep = None;
                return Some(Event::Failed(Error::new(
                    ErrorKind::Transport,
                    "internal error: the sweep stalled",
                )));
            }
            match self.dispatcher.recv(deadline) {
                Some((id, answer)) => sweep.handle_response(id, answer, Instant::now()),
                None => sweep.handle_timeout(Instant::now()),
            }
        }
    }
}

/// Runs a single request (and its redirects) on the caller's thread.
pub(crate) fn run_fetch(
    api: &Api,
    transport: &UreqTransport,
    fetch: &mut crate::core::Fetch,
) -> Result<Response> {
    loop {
        if let Some(outcome) = fetch.poll_event() {
            return outcome;
        }
        let Some(req) = fetch.poll_request() else {
            return Err(Error::new(
                ErrorKind::Transport,
                "internal error: the request was lost",
            ));
        };
        let answer = {
            let _permit = api.limiter().acquire_blocking();
            transport.send(&req)
        };
        fetch.handle_response(req.id, answer, Instant::now());
    }
}

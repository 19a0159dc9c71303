//! What a request holds while it is on the wire, and the gate it passes to
//! get there: the shared pacer's admission, then a slot of the shared limit.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use web_time::Instant;

use crate::core::{Admission, Outcome, Pacer, Request, Response, Ticket, TransportError};
use crate::drive::limiter::{Limiter, Permit};

/// The pacer of an `Api`, shared by every operation of every client made from it.
#[derive(Debug, Clone)]
pub(crate) struct SharedPacer(Arc<Mutex<Pacer>>);

impl SharedPacer {
    pub(crate) fn new(pacer: Pacer) -> Self {
        SharedPacer(Arc::new(Mutex::new(pacer)))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Pacer> {
        // A panic elsewhere must not take pacing down with it: the state is
        // counters and instants, always consistent between calls.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A request's claim on the shared resources of its `Api`: the pacer's
/// admission ticket and, once acquired, a slot of the concurrency limit.
///
/// A transport ends it with [`complete`](Lease::complete) as soon as the
/// answer is in, so the slot is free for others even if the caller is slow
/// to look at the answer. Dropping it without completing counts the request
/// as never answered.
#[derive(Debug)]
pub struct Lease {
    limiter: Limiter,
    permit: Option<Permit>,
    ticket: Option<(SharedPacer, Ticket)>,
}

impl Lease {
    pub(crate) fn new(limiter: Limiter, pacer: SharedPacer, ticket: Ticket) -> Self {
        Lease {
            limiter,
            permit: None,
            ticket: Some((pacer, ticket)),
        }
    }

    /// Waits for a slot of the shared concurrency limit.
    pub async fn acquire(&mut self) {
        if self.permit.is_none() {
            self.permit = Some(self.limiter.acquire().await);
        }
    }

    /// Blocks the thread until a slot of the shared concurrency limit is free.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn acquire_blocking(&mut self) {
        if self.permit.is_none() {
            self.permit = Some(self.limiter.acquire_blocking());
        }
    }

    /// Reports how the exchange ended to the pacer and frees the slot.
    pub fn complete(mut self, answer: &Result<Response, TransportError>) {
        if let Some((pacer, ticket)) = self.ticket.take() {
            pacer
                .lock()
                .on_answer(ticket, Outcome::of(answer), Instant::now());
        }
        self.permit = None;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some((pacer, ticket)) = self.ticket.take() {
            pacer
                .lock()
                .on_answer(ticket, Outcome::Dropped, Instant::now());
        }
    }
}

/// How often a gate blocked by other operations' requests looks again.
const RECHECK: Duration = Duration::from_millis(5);

/// Holds a driver's requests until the shared pacer admits them.
pub(crate) struct Gate {
    pacer: SharedPacer,
    limiter: Limiter,
    held: VecDeque<Request>,
}

impl Gate {
    pub(crate) fn new(pacer: SharedPacer, limiter: Limiter) -> Self {
        Gate {
            pacer,
            limiter,
            held: VecDeque::new(),
        }
    }

    pub(crate) fn push(&mut self, request: Request) {
        self.held.push_back(request);
    }

    /// Requests held back now.
    pub(crate) fn held(&self) -> usize {
        self.held.len()
    }

    /// Releases the requests the pacer admits now, in order; returns them and,
    /// if any stay held, when to try again. Requests held only because the
    /// adaptive concurrency is reached are looked at again shortly, since the
    /// answer that frees room may belong to another operation.
    pub(crate) fn release(&mut self, now: Instant) -> (Vec<(Request, Lease)>, Option<Instant>) {
        let mut out = Vec::new();
        let mut pacer = self.pacer.lock();
        while let Some(req) = self.held.front() {
            let _ = req;
            match pacer.admit(now) {
                Admission::Go(ticket) => {
                    let req = self.held.pop_front().expect("front exists");
                    out.push((
                        req,
                        Lease::new(self.limiter.clone(), self.pacer.clone(), ticket),
                    ));
                }
                Admission::WaitUntil(at) => return (out, Some(at)),
                Admission::WaitForAnswer => return (out, Some(now + RECHECK)),
            }
        }
        (out, None)
    }
}

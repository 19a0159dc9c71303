//! What a request holds while it is on the wire, and the gate it passes to
//! get there: the shared pacer's admission, then a slot of the shared limit.
//!
//! Gates that the pacer holds back because its concurrency is reached wait in
//! one first-in-first-out line kept next to the pacer. Every change that can
//! free room (an answer, a dropped lease, a gate that goes away) hands the
//! room to the gates at the front of the line and wakes them; a timer is
//! armed only when the pacer names a time (a cooldown, the rate limit).

use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use web_time::Instant;

use crate::core::{
    Admission, ApiEvent, Observer, Outcome, Pacer, Request, RequestId, Response, Ticket,
    TransportError, TARGET_PACING,
};
use crate::shared::limiter::{Limiter, Permit};

/// The pacer of an `Api`, shared by every operation of every client made from
/// it, with the line of gates waiting for room.
#[derive(Debug, Clone)]
pub(crate) struct SharedPacer(Arc<Mutex<Shared>>);

/// The pacer and the gates waiting for it to have room.
#[derive(Debug)]
pub(crate) struct Shared {
    pacer: Pacer,
    /// Gates waiting for room.
    waiting: Line,
    /// Gates handed room and woken that have not taken it yet: each holds
    /// back one slot of the pacer's concurrency from gates behind it (at
    /// most the concurrency, so a list).
    granted: Vec<u64>,
    next_gate: u64,
    /// Where the pacer's events (cooldowns, concurrency changes) go.
    pub(crate) observer: Observer,
}

/// What the pacer's events are read from, before and after an answer.
#[derive(Clone, Copy, PartialEq)]
struct Snapshot {
    limit: usize,
    cooldown_until: Option<Instant>,
    learnt: bool,
    shedding: bool,
}

impl Snapshot {
    fn of(p: &Pacer) -> Self {
        Snapshot {
            limit: p.concurrency(),
            cooldown_until: p.poll_timeout(),
            learnt: p.learnt_rate().is_some(),
            shedding: p.stats().shedding,
        }
    }
}

/// The pacer's events between `before` and the pacer now, after an answer
/// of `status` (`None`: no answer) with or without `Retry-After`.
fn pacing_events(
    before: Snapshot,
    p: &Pacer,
    status: Option<u16>,
    retry_after: bool,
    now: Instant,
) -> Vec<ApiEvent> {
    let after = Snapshot::of(p);
    let mut events = Vec::new();
    if after == before {
        return events;
    }
    let what = status.map_or_else(|| "no answer".to_string(), |s| s.to_string());
    if let Some(until) = after.cooldown_until {
        if after.cooldown_until != before.cooldown_until && until > now {
            let cause = if retry_after {
                format!("{what} (Retry-After)")
            } else {
                what.clone()
            };
            events.push(ApiEvent::Cooldown {
                wait: until - now,
                cause,
            });
        }
    }
    if after.limit != before.limit {
        events.push(ApiEvent::Concurrency {
            from: before.limit,
            to: after.limit,
            cause: if after.limit < before.limit {
                what
            } else {
                String::new()
            },
        });
    }
    if after.learnt && !before.learnt {
        if let Some(per_second) = p.learnt_rate() {
            events.push(ApiEvent::RateLearnt { per_second });
        }
    }
    if after.shedding != before.shedding {
        events.push(ApiEvent::Shedding { on: after.shedding });
    }
    events
}

/// A first-in-first-out line of gates with their wakers. A gate leaving
/// from the middle leaves a hole, so every operation is O(1) (amortized)
/// even with tens of thousands of gates in line.
#[derive(Debug)]
pub(crate) struct Line {
    slots: VecDeque<Option<(u64, Waker)>>,
    /// The place of `slots[0]`: places are numbered from the front.
    first: u64,
    len: usize,
}

impl Line {
    fn new() -> Self {
        Line {
            slots: VecDeque::new(),
            first: u64::MAX / 2,
            len: 0,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn push(&mut self, gate: u64, waker: &Waker, at_front: bool) -> u64 {
        self.len += 1;
        let entry = Some((gate, waker.clone()));
        if at_front {
            self.slots.push_front(entry);
            self.first -= 1;
            self.first
        } else {
            self.slots.push_back(entry);
            self.first + self.slots.len() as u64 - 1
        }
    }

    /// The waker of `gate`, if it still waits at `place`.
    fn get_mut(&mut self, place: u64, gate: u64) -> Option<&mut Waker> {
        let i = usize::try_from(place.checked_sub(self.first)?).ok()?;
        match self.slots.get_mut(i)? {
            Some((g, waker)) if *g == gate => Some(waker),
            _ => None,
        }
    }

    /// Takes `gate` out of line, if it still waits at `place`.
    fn remove(&mut self, place: u64, gate: u64) {
        if self.get_mut(place, gate).is_some() {
            let i = (place - self.first) as usize;
            self.slots[i] = None;
            self.len -= 1;
            while matches!(self.slots.back(), Some(None)) {
                self.slots.pop_back();
            }
            while matches!(self.slots.front(), Some(None)) {
                self.slots.pop_front();
                self.first += 1;
            }
        }
    }

    fn pop_front(&mut self) -> Option<(u64, Waker)> {
        while let Some(slot) = self.slots.pop_front() {
            self.first += 1;
            if slot.is_some() {
                self.len -= 1;
                return slot;
            }
        }
        None
    }
}

impl Deref for Shared {
    type Target = Pacer;
    fn deref(&self) -> &Pacer {
        &self.pacer
    }
}

impl DerefMut for Shared {
    fn deref_mut(&mut self) -> &mut Pacer {
        &mut self.pacer
    }
}

impl Shared {
    /// Slots of the pacer's concurrency not taken by requests in flight.
    fn room(&self) -> usize {
        self.pacer.room()
    }

    /// Hands free room to the gates at the front of the line; returns the
    /// wakers to call once the lock is released.
    fn dispatch(&mut self) -> Vec<Waker> {
        let mut wake = Vec::new();
        while self.granted.len() < self.room() {
            let Some((gate, waker)) = self.waiting.pop_front() else {
                break;
            };
            self.granted.push(gate);
            wake.push(waker);
        }
        wake
    }

    /// Takes back room handed to `gate`; whether it had any.
    fn ungrant(&mut self, gate: u64) -> bool {
        match self.granted.iter().position(|g| *g == gate) {
            Some(i) => {
                self.granted.swap_remove(i);
                true
            }
            None => false,
        }
    }
}

impl SharedPacer {
    pub(crate) fn new(pacer: Pacer) -> Self {
        SharedPacer(Arc::new(Mutex::new(Shared {
            pacer,
            waiting: Line::new(),
            granted: Vec::new(),
            next_gate: 0,
            observer: Observer::default(),
        })))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panic elsewhere must not take pacing down with it: the state is
        // counters and instants, always consistent between calls.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reports an answer (or its absence) and wakes the gates it made room for.
    fn answer(&self, ticket: Ticket, outcome: Outcome) {
        let (wake, events) = {
            let mut shared = self.lock();
            let now = Instant::now();
            let watch = shared
                .observer
                .wants(TARGET_PACING, log::Level::Info)
                .then(|| Snapshot::of(&shared.pacer));
            let status = match outcome {
                Outcome::Throttled { .. } => Some(429),
                Outcome::Overloaded => Some(503),
                _ => None,
            };
            let retry_after = matches!(
                outcome,
                Outcome::Throttled {
                    retry_after: Some(_)
                }
            );
            shared.pacer.on_answer(ticket, outcome, now);
            let events = watch.map(|b| pacing_events(b, &shared.pacer, status, retry_after, now));
            (
                shared.dispatch(),
                events.map(|e| (e, shared.observer.clone())),
            )
        };
        wake.into_iter().for_each(Waker::wake);
        emit_all(events);
    }

    /// Reports an answer with its headers (rate-limit budgets, a 403 that
    /// is a rate limit) and wakes the gates it made room for.
    fn exchange(&self, ticket: Ticket, answer: &Result<Response, TransportError>) {
        // The wall clock, for an epoch reset in an answer without `Date`.
        let wall = web_time::SystemTime::now()
            .duration_since(web_time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs());
        let (wake, events) = {
            let mut shared = self.lock();
            let now = Instant::now();
            let watch = shared
                .observer
                .wants(TARGET_PACING, log::Level::Info)
                .then(|| Snapshot::of(&shared.pacer));
            shared.pacer.on_exchange(ticket, answer, wall, now);
            let events = watch.map(|b| {
                let (status, retry_after) = match answer {
                    Ok(r) => (Some(r.status), r.header("retry-after").is_some()),
                    Err(_) => (None, false),
                };
                pacing_events(b, &shared.pacer, status, retry_after, now)
            });
            (
                shared.dispatch(),
                events.map(|e| (e, shared.observer.clone())),
            )
        };
        wake.into_iter().for_each(Waker::wake);
        emit_all(events);
    }
}

/// Emits the pacer's events, outside its lock.
fn emit_all(events: Option<(Vec<ApiEvent>, Observer)>) {
    if let Some((events, observer)) = events {
        for e in events {
            observer.emit(e);
        }
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
    /// Whom to tell, and as which request, when it is given back early.
    arrival: Option<(Arc<Arrivals>, RequestId)>,
}

/// Requests of one operation whose lease was given back early
/// ([`Lease::arrived`]): their answers are in, to be handed over later.
#[derive(Debug, Default)]
pub(crate) struct Arrivals {
    ids: Mutex<Vec<RequestId>>,
    waker: futures::task::AtomicWaker,
}

impl Arrivals {
    /// The task to wake when a request arrives.
    pub(crate) fn register(&self, waker: &Waker) {
        self.waker.register(waker);
    }

    /// The requests that arrived since the last call.
    pub(crate) fn take(&self) -> Vec<RequestId> {
        std::mem::take(&mut *self.ids.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn push(&self, id: RequestId) {
        self.ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(id);
        self.waker.wake();
    }
}

impl Lease {
    pub(crate) fn new(limiter: Limiter, pacer: SharedPacer, ticket: Ticket) -> Self {
        Lease {
            limiter,
            permit: None,
            ticket: Some((pacer, ticket)),
            arrival: None,
        }
    }

    /// Has [`arrived`](Lease::arrived) tell `to` that request `id` arrived.
    pub(crate) fn report_arrival(&mut self, to: Arc<Arrivals>, id: RequestId) {
        self.arrival = Some((to, id));
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
        // The slot first, so that a gate woken below finds it free.
        self.permit = None;
        if let Some((pacer, ticket)) = self.ticket.take() {
            pacer.exchange(ticket, answer);
        }
    }

    /// Gives the lease back when a 2xx answer with `status` has come in but
    /// will be handed over later (read or parsed after a wait): the slot is
    /// freed and the pacer counts the answer now, and the operation that
    /// sent the request may send its next one at once rather than when the
    /// answer is handed over. No headers are looked at: a transport that
    /// has them gives them with [`arrived_with_headers`](Lease::arrived_with_headers),
    /// so that a budget announced in rate-limit headers is kept.
    pub fn arrived(self, status: u16) {
        self.arrived_with_headers(&Response::new(status, ""));
    }

    /// [`arrived`](Lease::arrived), with the answer's status and headers
    /// (`head`; its body is not looked at): the pacer reads a budget
    /// announced in rate-limit headers from them as from the answer given
    /// to [`complete`](Lease::complete).
    pub fn arrived_with_headers(mut self, head: &Response) {
        // The slot first, so that a gate woken below finds it free.
        self.permit = None;
        if let Some((pacer, ticket)) = self.ticket.take() {
            pacer.exchange(ticket, &Ok(head.clone()));
        }
        if let Some((to, id)) = self.arrival.take() {
            to.push(id);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some((pacer, ticket)) = self.ticket.take() {
            pacer.answer(ticket, Outcome::Dropped);
        }
    }
}

/// Holds a driver's requests until the shared pacer admits them.
///
/// A gate blocked because the pacer's concurrency is reached waits in the
/// pacer's line with the waker it was last given; it is woken when room is
/// handed to it, and must then call [`release`](Gate::release) again (it
/// holds that room from the gates behind it until it does, or until it is
/// dropped, which passes the room on).
pub(crate) struct Gate {
    pacer: SharedPacer,
    limiter: Limiter,
    held: VecDeque<Request>,
    id: u64,
    /// Its place in the pacer's line, while it waits there.
    place: Option<u64>,
}

impl Gate {
    pub(crate) fn new(pacer: SharedPacer, limiter: Limiter) -> Self {
        let id = {
            let mut shared = pacer.lock();
            shared.next_gate += 1;
            shared.next_gate
        };
        Gate {
            pacer,
            limiter,
            held: VecDeque::new(),
            id,
            place: None,
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
    /// if some stay held for a time the pacer names, when to try again. If
    /// they stay held until room frees up, the gate waits in line and `waker`
    /// is woken when room is handed to it (no time is returned).
    pub(crate) fn release(
        &mut self,
        now: Instant,
        waker: &Waker,
    ) -> (Vec<(Request, Lease)>, Option<Instant>) {
        let mut out = Vec::new();
        if self.held.is_empty() && self.place.is_none() {
            // Only a gate holding requests is ever in line or handed room.
            return (out, None);
        }
        let (wake, retry) = {
            let mut shared = self.pacer.lock();
            let granted = shared.ungrant(self.id);
            if let Some(place) = self.place.take() {
                if self.held.is_empty() {
                    shared.waiting.remove(place, self.id);
                } else if let Some(w) = shared.waiting.get_mut(place, self.id) {
                    // Still in line: keep the place, look again when woken.
                    if !w.will_wake(waker) {
                        *w = waker.clone();
                    }
                    self.place = Some(place);
                    return (out, None);
                }
            }
            // Newcomers queue behind the gates already waiting; room handed
            // to other gates is theirs.
            let mut may_go = granted || shared.waiting.is_empty();
            let mut retry = None;
            while may_go && !self.held.is_empty() {
                if shared.room() <= shared.granted.len() {
                    may_go = false;
                    break;
                }
                match shared.pacer.admit(now) {
                    Admission::Go(ticket) => {
                        let req = self.held.pop_front().expect("checked not empty");
                        out.push((
                            req,
                            Lease::new(self.limiter.clone(), self.pacer.clone(), ticket),
                        ));
                    }
                    Admission::WaitUntil(at) => {
                        // Keep the room until then: the gates behind would
                        // only be told to wait as well.
                        shared.granted.push(self.id);
                        retry = Some(at);
                        break;
                    }
                    Admission::WaitForAnswer => {
                        may_go = false;
                        break;
                    }
                }
            }
            if !may_go && !self.held.is_empty() {
                // A gate that was handed room and lost it keeps its turn.
                let at_front = granted && out.is_empty();
                self.place = Some(shared.waiting.push(self.id, waker, at_front));
            }
            (shared.dispatch(), retry)
        };
        wake.into_iter().for_each(Waker::wake);
        (out, retry)
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        let wake = {
            let mut shared = self.pacer.lock();
            if let Some(place) = self.place.take() {
                shared.waiting.remove(place, self.id);
            }
            // Room handed to this gate goes to the next in line.
            shared.ungrant(self.id);
            shared.dispatch()
        };
        wake.into_iter().for_each(Waker::wake);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Method, Pacing, RequestId};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    struct Op {
        gate: Gate,
        woken: Arc<Count>,
        waker: Waker,
        leases: Vec<Lease>,
    }

    impl Op {
        fn new(pacer: &SharedPacer, limiter: &Limiter, requests: u64) -> Self {
            let mut gate = Gate::new(pacer.clone(), limiter.clone());
            for id in 0..requests {
                gate.push(Request {
                    id: RequestId(id),
                    method: Method::Get,
                    url: "http://example.test/x".into(),
                    headers: Vec::new(),
                    body: None,
                    timeout: None,
                    records_at: None,
                    in_order: None,
                    secrets: Default::default(),
                });
            }
            let woken = Arc::new(Count(AtomicUsize::new(0)));
            let waker = Waker::from(woken.clone());
            Op {
                gate,
                woken,
                waker,
                leases: Vec::new(),
            }
        }

        /// Releases; returns how many requests went and the retry time.
        fn release(&mut self) -> (usize, Option<Instant>) {
            let (out, at) = self.gate.release(Instant::now(), &self.waker);
            let n = out.len();
            self.leases.extend(out.into_iter().map(|(_, lease)| lease));
            (n, at)
        }

        fn woken(&self) -> usize {
            self.woken.0.load(Ordering::SeqCst)
        }

        fn answer(&mut self) {
            let lease = self.leases.remove(0);
            lease.complete(&Ok(Response::new(200, "{}")));
        }
    }

    fn setup(concurrency: usize) -> (SharedPacer, Limiter) {
        let pacing = Pacing::default().adaptive(false);
        (
            SharedPacer::new(Pacer::new(pacing, concurrency)),
            Limiter::new(concurrency),
        )
    }

    #[test]
    fn waiting_gates_are_woken_in_order_by_answers_not_timers() {
        let (pacer, limiter) = setup(2);
        let mut ops: Vec<Op> = (0..6).map(|_| Op::new(&pacer, &limiter, 1)).collect();
        let got: Vec<_> = ops.iter_mut().map(Op::release).collect();
        assert_eq!(got[..2], [(1, None), (1, None)]);
        // Held for room: no time to come back at, a place in line instead.
        assert!(got[2..].iter().all(|g| *g == (0, None)));
        assert_eq!(pacer.lock().waiting.len(), 4);

        // A gate released again before its turn keeps its place.
        assert_eq!(ops[3].release(), (0, None));
        ops[0].answer();
        let woken: Vec<usize> = ops.iter().map(Op::woken).collect();
        assert_eq!(woken, [0, 0, 1, 0, 0, 0]);
        // Room handed to gate 2 is not taken by gate 3.
        assert_eq!(ops[3].release(), (0, None));
        assert_eq!(ops[2].release(), (1, None));

        // A waiting gate that goes away leaves the line (its waker with it).
        let gone = ops.remove(3);
        drop(gone);
        assert_eq!(pacer.lock().waiting.len(), 2);
        ops[1].answer();
        let woken: Vec<usize> = ops.iter().map(Op::woken).collect();
        assert_eq!(woken, [0, 0, 1, 1, 0]);
        // A gate handed room that goes away passes it on.
        let gone = ops.remove(3);
        drop(gone);
        assert_eq!(ops[3].woken(), 1);
        assert_eq!(ops[3].release(), (1, None));
        let shared = pacer.lock();
        assert!(shared.waiting.is_empty() && shared.granted.is_empty());
    }

    #[test]
    fn many_operations_against_a_small_concurrency_never_stall() {
        let (pacer, limiter) = setup(3);
        let mut ops: Vec<Op> = (0..200)
            .map(|i| Op::new(&pacer, &limiter, 1 + i % 4))
            .collect();
        let total: usize = ops.iter().map(|o| o.gate.held()).sum();
        let mut sent = 0;
        let mut rounds = 0;
        let mut seen = vec![0; ops.len()];
        // Only gates that were woken (or never looked yet) are released; an
        // answer is given for the oldest request in flight. Every request
        // must go without any timer.
        let mut fresh = vec![true; ops.len()];
        while sent < total {
            rounds += 1;
            assert!(rounds < 10_000, "stalled with {sent} of {total} sent");
            let mut progressed = false;
            for (i, op) in ops.iter_mut().enumerate() {
                if fresh[i] || op.woken() > seen[i] {
                    fresh[i] = false;
                    seen[i] = op.woken();
                    let (n, at) = op.release();
                    assert_eq!(at, None);
                    sent += n;
                    progressed |= n > 0;
                }
            }
            let in_flight: usize = ops.iter().map(|o| o.leases.len()).sum();
            assert!(in_flight <= 3);
            if let Some(op) = ops.iter_mut().find(|o| !o.leases.is_empty()) {
                op.answer();
                progressed = true;
            }
            assert!(progressed, "stalled with {sent} of {total} sent");
        }
        for op in &mut ops {
            while !op.leases.is_empty() {
                op.answer();
            }
        }
        let shared = pacer.lock();
        assert!(shared.waiting.is_empty() && shared.granted.is_empty());
        assert_eq!(shared.in_flight(), 0);
    }

    #[test]
    fn a_cooldown_is_waited_out_with_a_timer_by_one_gate_per_slot() {
        let (pacer, limiter) = setup(2);
        let mut a = Op::new(&pacer, &limiter, 2);
        assert_eq!(a.release().0, 2);
        let mut b = Op::new(&pacer, &limiter, 1);
        let mut c = Op::new(&pacer, &limiter, 1);
        let mut d = Op::new(&pacer, &limiter, 1);
        assert_eq!(b.release(), (0, None));
        assert_eq!(c.release(), (0, None));
        assert_eq!(d.release(), (0, None));
        let lease = a.leases.remove(0);
        let mut throttled = Response::new(429, "");
        throttled.headers.push(("Retry-After".into(), "1".into()));
        lease.complete(&Ok(throttled));
        assert_eq!((b.woken(), c.woken(), d.woken()), (1, 0, 0));
        let (n, at) = b.release();
        assert_eq!(n, 0);
        assert!(at.is_some(), "a cooldown has a time");
        // b keeps the room it was handed while it waits for that time.
        a.answer();
        assert_eq!((c.woken(), d.woken()), (1, 0));
        assert!(c.release().1.is_some());
        drop(b);
        assert_eq!(d.woken(), 1);
    }
}

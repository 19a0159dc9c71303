//! The engine behind both jobs: queues units, sends them within the
//! concurrency and the window, retries them (through `core/exchange.rs`),
//! hands results out in input or completion order, and keeps the counts.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use web_time::Instant;

use crate::core::api::ApiSpec;
use crate::core::checkpoint::ManyCheckpoint;
use crate::core::exchange::{self, take_request, Verdict};
use crate::core::http::{Header, Request, RequestId, Response, TransportError};
use crate::core::options::Order;
use crate::core::retry::{Failure, Retrier, RetryCause, RetryPolicy, SplitMix64};
use crate::core::usage::ApiUsage;
use crate::error::{Error, ErrorKind, Result};

use super::kind::{DynKind, Out, Read};
use super::report::{ItemEvent, ManyEvent, ManyProgress, ManyReport};
use super::units::{Unit, UnitState, Units};
#[cfg(doc)]
use super::{FetchMany, WriteJob};

/// How many windows of items a job in completion order reads past its
/// oldest item not handed out yet (an item waiting for a retry).
const COMPLETION_SPAN: usize = 16;

/// The engine behind [`FetchMany`] and [`WriteJob`].
pub(super) struct Engine<'i> {
    spec: Arc<ApiSpec>,
    pub(super) kind: Box<dyn DynKind + 'i>,
    /// Items read from the input so far.
    pub(super) read: usize,
    /// Whether the input has ended.
    pub(super) exhausted: bool,
    /// The items of a unit, as cut.
    size: usize,
    /// The checkpoint resumed, if any: its done items are skipped as read.
    resume: Option<ManyCheckpoint>,
    /// The item whose event was taken last: forgotten at the next one.
    last_popped: Option<usize>,
    concurrency: usize,
    window_items: usize,
    order: Order,
    pub(super) units: Units,
    /// Units to send, first item first (heaps: a `BTreeSet` costs about
    /// 30 KB of WebAssembly).
    pub(super) queue: BinaryHeap<Reverse<(usize, u64)>>,
    /// Units waiting for their retry, by due instant.
    waiting: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Requests sent and not answered (at most `concurrency`).
    pub(super) in_flight: Vec<(RequestId, u64)>,
    next_unit: u64,
    next_id: u64,
    /// The results of items `next_emit..read` not handed out yet.
    results: VecDeque<Option<Result<Out>>>,
    /// Items `next_emit..read` handed out or skipped.
    skip: VecDeque<bool>,
    pub(super) next_emit: usize,
    pub(super) events: VecDeque<ManyEvent<Out>>,
    retrier: Retrier,
    /// Two streams, one per half of a 128-bit idempotency key.
    keys: (SplitMix64, SplitMix64),
    report: ManyReport,
    handed: u64,
    throttled_until: Option<Instant>,
    start: Instant,
    pub(super) finished: bool,
    /// Items done before a resume.
    resumed: u64,
    /// Items with a result, in the order the results came (completion order).
    ready: VecDeque<usize>,
    /// The latest instant the driver told (for a job that ends in `poll_request`).
    last_now: Instant,
}

impl<'i> Engine<'i> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        spec: &Arc<ApiSpec>,
        kind: Box<dyn DynKind + 'i>,
        concurrency: Option<usize>,
        order: Order,
        retry: Option<RetryPolicy>,
        seed: u64,
        key_seed: Option<u128>,
        resume: Option<&ManyCheckpoint>,
        now: Instant,
    ) -> Result<Self> {
        crate::core::options::check_sizes(spec.concurrency, None)?;
        if let Some(c) = concurrency {
            crate::core::options::check_sizes(c, None)?;
        }
        let concurrency = concurrency
            .unwrap_or(spec.concurrency)
            .min(spec.concurrency);
        if let (Some(c), Some(n)) = (resume, kind.total()) {
            if c.items != n as u64 {
                return Err(Error::config(format!(
                    "the checkpoint is for {} items, not {n}",
                    c.items
                )));
            }
        }
        let size = kind.unit_size().max(1);
        let mut engine = Engine {
            spec: spec.clone(),
            kind,
            read: 0,
            exhausted: false,
            size,
            resume: resume.cloned(),
            last_popped: None,
            concurrency,
            window_items: (concurrency * 2).max(2).saturating_mul(size),
            order,
            units: Units::default(),
            queue: BinaryHeap::new(),
            waiting: BinaryHeap::new(),
            in_flight: Vec::new(),
            next_unit: 0,
            next_id: 0,
            results: VecDeque::new(),
            skip: VecDeque::new(),
            next_emit: 0,
            events: VecDeque::new(),
            retrier: Retrier::new(retry.unwrap_or_else(|| spec.retry.clone()), seed),
            keys: {
                let k = key_seed.unwrap_or(
                    u128::from(seed ^ 0xA5A5_5A5A_0F0F_F0F0) << 64
                        | u128::from(seed ^ 0x0F0F_F0F0_A5A5_5A5A),
                );
                (SplitMix64((k >> 64) as u64), SplitMix64(k as u64))
            },
            report: ManyReport::default(),
            handed: 0,
            throttled_until: None,
            start: now,
            finished: false,
            resumed: 0,
            ready: VecDeque::new(),
            last_now: now,
        };
        engine.fill();
        engine.emit();
        engine.finish_if_done(now);
        Ok(engine)
    }

    /// The result slot of item `i` (read, not handed out).
    fn slot(&mut self, i: usize) -> &mut Option<Result<Out>> {
        let k = i - self.next_emit;
        &mut self.results[k]
    }

    fn set_result(&mut self, i: usize, r: Result<Out>) {
        *self.slot(i) = Some(r);
        self.ready.push_back(i);
    }

    /// Reads the input into a new unit when none is queued, within the
    /// window (input order) or the events not taken yet (completion order).
    fn fill(&mut self) {
        while self.queue.is_empty() && !self.exhausted {
            // In completion order the results go out as they come, so only
            // an item that waits long (a retry) holds the span back: it may
            // be wider, not to stall the others.
            let span = match self.order {
                Order::Page => self.window_items,
                Order::Completion => self.window_items.saturating_mul(COMPLETION_SPAN),
            };
            let limit = self.next_emit.saturating_add(span);
            if self.read >= limit || self.events.len() >= self.window_items {
                return;
            }
            let mut chunk = Vec::new();
            while chunk.len() < self.size {
                let Some(i) = self.kind.pull() else {
                    self.exhausted = true;
                    break;
                };
                self.read = i + 1;
                self.results.push_back(None);
                self.skip.push_back(false);
                if self.resume.as_ref().is_some_and(|c| c.is_done(i)) {
                    self.skip[i - self.next_emit] = true;
                    self.resumed += 1;
                    self.kind.release(i);
                    continue;
                }
                if let Some(e) = self.kind.refuse(i) {
                    self.set_result(i, Err(e));
                    continue;
                }
                chunk.push(i);
            }
            if !chunk.is_empty() {
                let first = chunk[0];
                let uid = self.add_unit(chunk);
                self.queue.push(Reverse((first, uid)));
            }
            self.emit();
        }
    }

    /// The next event, forgetting the input item of the one before (a
    /// driver reads an item's id right after taking its event).
    pub(super) fn pop_event(&mut self) -> Option<ManyEvent<Out>> {
        let event = self.events.pop_front()?;
        if let Some(i) = self.last_popped.take() {
            self.kind.release(i);
        }
        if let ManyEvent::Item(e) = &event {
            self.last_popped = Some(e.index);
        }
        Some(event)
    }

    /// A new unit of `indices`, not queued yet: its id.
    fn add_unit(&mut self, indices: Vec<usize>) -> u64 {
        let id = self.next_unit;
        self.next_unit += 1;
        let key = self.kind.idempotency_header().map(|_| {
            // A key per request body: the same across retries of it.
            uuid_v4(self.keys.0.next_u64(), self.keys.1.next_u64())
        });
        self.units.insert(
            id,
            Unit {
                indices,
                state: UnitState::Queued,
                retries: 0,
                key,
                url: String::new(),
                method: "",
            },
        );
        id
    }

    pub(super) fn poll_request(&mut self) -> Option<Request> {
        loop {
            if self.in_flight.len() >= self.concurrency {
                return None;
            }
            if self.queue.is_empty() {
                self.fill();
                if self.queue.is_empty() {
                    // The input may have ended with items skipped or refused.
                    self.finish_if_done(self.last_now);
                    return None;
                }
            }
            let &Reverse((first, uid)) = self.queue.peek()?;
            if self.order == Order::Page && first >= self.next_emit + self.window_items {
                return None;
            }
            self.queue.pop();
            let unit = self.units.get_mut(uid).expect("queued unit exists");
            let key = unit.key.clone();
            match self.kind.request(&self.spec, &unit.indices, key.as_deref()) {
                Ok((method, url, body)) => {
                    let id = RequestId(self.next_id);
                    self.next_id += 1;
                    unit.state = UnitState::InFlight;
                    unit.url = self.spec.redact_parsed(&url);
                    unit.method = method.as_str();
                    self.in_flight.push((id, uid));
                    let mut req = self.spec.request(id, method, url, body);
                    for (name, value) in self.kind.headers() {
                        req.headers.push(Header {
                            name: name.clone(),
                            value: value.clone(),
                            sensitive: false,
                        });
                    }
                    if let (Some(name), Some(key)) = (self.kind.idempotency_header(), key) {
                        req.headers.push(Header {
                            name: name.to_string(),
                            value: key,
                            sensitive: false,
                        });
                    }
                    return Some(req);
                }
                Err(e) => {
                    // This unit cannot even be asked for (a bad id, a body
                    // that does not serialize): its items fail, others go on.
                    let unit = self.units.remove(uid).expect("unit exists");
                    for i in unit.indices {
                        self.set_result(i, Err(e.clone()));
                    }
                    self.emit();
                    // That may have been the last unit: the job ends here.
                    self.finish_if_done(self.last_now);
                }
            }
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.waiting.peek().map(|Reverse((at, _))| *at)
    }

    pub(super) fn handle_timeout(&mut self, now: Instant) {
        self.last_now = self.last_now.max(now);
        while let Some(&Reverse((at, uid))) = self.waiting.peek() {
            if at > now {
                break;
            }
            self.waiting.pop();
            if let Some(unit) = self.units.get_mut(uid) {
                unit.state = UnitState::Queued;
                self.queue.push(Reverse((unit.indices[0], uid)));
            }
        }
    }

    pub(super) fn handle_response(
        &mut self,
        id: RequestId,
        answer: std::result::Result<Response, TransportError>,
        now: Instant,
    ) {
        self.last_now = self.last_now.max(now);
        let Some(uid) = take_request(&mut self.in_flight, id) else {
            return;
        };
        self.report.requests += 1;
        if let Some(seen) = answer.as_ref().ok().and_then(ApiUsage::of) {
            ApiUsage::update(&mut self.report.api_usage, seen);
        }
        let url = self.units.get_mut(uid).expect("unit exists").url.clone();
        // A failure of the whole request (no answer, or a status that is
        // retried) is every item's; other answers are read item by item.
        let whole = match &answer {
            Err(e) => Some(exchange::transport_failed(e)),
            Ok(resp) => match exchange::status_failed(resp, &self.retrier) {
                (err, Some(failure)) => Some((err, Some(failure))),
                (_, None) => None,
            },
        };
        if let Some((err, failure)) = whole {
            self.retry_unit(uid, err.with_url(url), failure, now);
        } else {
            let resp = answer.expect("answers that are not failures are responses");
            self.retrier.on_success();
            let unit = self.units.remove(uid).expect("unit exists");
            let Read::PerItem(results) = self.kind.read(&unit.indices, &resp, &url);
            let mut again = Vec::new();
            for (i, r) in unit.indices.iter().zip(results) {
                match r {
                    Ok(v) => self.set_result(*i, Ok(v)),
                    Err((e, Some(f))) if unit.retries < self.retrier_max() => {
                        self.count_retry(f.cause, now, None);
                        again.push((*i, e));
                    }
                    Err((e, _)) => self.set_result(*i, Err(e)),
                }
            }
            if !again.is_empty() {
                // Items the server failed one by one go again, on their own.
                let retries = unit.retries + 1;
                let indices: Vec<usize> = again.iter().map(|(i, _)| *i).collect();
                let uid = self.add_unit(indices);
                let u = self.units.get_mut(uid).expect("just added");
                u.retries = retries;
                u.state = UnitState::Waiting;
                let at = now + self.retrier.backoff(retries - 1);
                self.waiting.push(Reverse((at, uid)));
            }
        }
        self.emit();
        self.finish_if_done(now);
    }

    fn retrier_max(&self) -> u32 {
        self.retrier.max_retries()
    }

    fn count_retry(&mut self, cause: RetryCause, now: Instant, at: Option<Instant>) {
        self.report.retries.add(cause);
        if let (RetryCause::Throttled, Some(at)) = (cause, at) {
            let from = self.throttled_until.map_or(now, |u| u.max(now));
            if at > from {
                self.report.throttled += at - from;
                self.throttled_until = Some(at);
            }
        }
    }

    fn retry_unit(&mut self, uid: u64, err: Error, failure: Option<Failure>, now: Instant) {
        let replay_safe = self.kind.replay_safe();
        let unit = self.units.get_mut(uid).expect("unit exists");
        let verdict = exchange::decide(
            &mut self.retrier,
            unit.retries,
            failure.as_ref(),
            replay_safe,
            now,
            exchange::Attempt {
                observer: &self.spec.observer,
                method: unit.method,
                err: &err,
            },
        );
        match verdict {
            Verdict::RetryAt(at) => {
                unit.retries += 1;
                unit.state = UnitState::Waiting;
                self.waiting.push(Reverse((at, uid)));
                self.count_retry(failure.expect("decided on a failure").cause, now, Some(at));
            }
            other => {
                let retries = unit.retries;
                let err = match other {
                    Verdict::GiveUp(why) => exchange::gave_up(err, retries, why),
                    Verdict::NotReplayable => {
                        let m = format!(
                            "{} (not retried: the request may have been processed, and it has no idempotency key)",
                            err.message()
                        );
                        err.with_message(m)
                    }
                    _ => err,
                };
                // A write that may have been processed and is not sent
                // again (no idempotency key), or that got no answer at all
                // on its last try: whether it was applied is not known.
                let maybe_applied = match (&other, &failure) {
                    (Verdict::NotReplayable, _) => true,
                    (_, Some(f)) => {
                        !f.surely_unsent
                            && matches!(err.kind(), ErrorKind::Transport | ErrorKind::Timeout)
                    }
                    _ => false,
                };
                let err = if maybe_applied && self.kind.writes() {
                    let mut e = Error::new(
                        ErrorKind::OutcomeUnknown,
                        format!(
                            "{} error: {}; the write may have been applied",
                            err.kind(),
                            err.message()
                        ),
                    );
                    if let Some(url) = err.url() {
                        e = e.with_url(url);
                    }
                    e
                } else {
                    err
                };
                let unit = self.units.remove(uid).expect("unit exists");
                for i in unit.indices {
                    self.set_result(i, Err(err.clone()));
                }
            }
        }
    }

    fn emit_one(&mut self, i: usize) {
        let Some(result) = self.slot(i).take() else {
            return;
        };
        match &result {
            Ok(_) => self.report.succeeded += 1,
            Err(e) if e.kind() == ErrorKind::OutcomeUnknown => self.report.unknown += 1,
            Err(_) => self.report.failed += 1,
        }
        self.handed += 1;
        self.events
            .push_back(ManyEvent::Item(ItemEvent { index: i, result }));
    }

    /// Moves `next_emit` past the items handed out or skipped.
    fn advance(&mut self) {
        while self.skip.front() == Some(&true) {
            self.skip.pop_front();
            self.results.pop_front();
            self.next_emit += 1;
        }
    }

    fn emit(&mut self) {
        match self.order {
            Order::Page => loop {
                self.advance();
                if self.results.front().is_none_or(Option::is_none) {
                    break;
                }
                let i = self.next_emit;
                self.emit_one(i);
                self.skip[0] = true;
            },
            Order::Completion => {
                while let Some(i) = self.ready.pop_front() {
                    let Some(k) = i.checked_sub(self.next_emit) else {
                        continue;
                    };
                    if self.skip.get(k) == Some(&false)
                        && self.results.get(k).is_some_and(Option::is_some)
                    {
                        self.emit_one(i);
                        self.skip[k] = true;
                    }
                }
                self.advance();
            }
        }
        if self.order == Order::Page {
            self.ready.clear();
        }
    }

    fn finish_if_done(&mut self, now: Instant) {
        if self.finished || !self.units.is_empty() {
            return;
        }
        // Every unit is done: read on (the input may have more), or end.
        self.fill();
        if self.exhausted && self.units.is_empty() && self.next_emit >= self.read {
            self.finished = true;
            self.report.items = self.read as u64;
            self.report.duration = now.saturating_duration_since(self.start);
            self.events
                .push_back(ManyEvent::Finished(self.report.clone()));
        }
    }

    pub(super) fn checkpoint(&self, held: &[usize]) -> ManyCheckpoint {
        // Done = handed out (or skipped); items whose results are still
        // queued as events (here, or taken by a driver that has not handed
        // them on) are not.
        let mut not_done: Vec<usize> = held.to_vec();
        for ev in &self.events {
            if let ManyEvent::Item(e) = ev {
                not_done.push(e.index);
            }
        }
        not_done.sort_unstable();
        not_done.dedup();
        let done_at = |i: usize| -> bool {
            if not_done.binary_search(&i).is_ok() {
                return false;
            }
            i < self.next_emit || self.skip.get(i - self.next_emit) == Some(&true)
        };
        let mut done: Vec<(u64, u64)> = Vec::new();
        let mut push = |a: u64, b: u64| match done.last_mut() {
            Some(last) if last.1 == a => last.1 = b,
            _ => done.push((a, b)),
        };
        // Items below `next_emit` are all done but the few not handed on.
        let mut start = 0usize;
        for &i in not_done.iter().filter(|i| **i < self.next_emit) {
            if i > start {
                push(start as u64, i as u64);
            }
            start = i + 1;
        }
        if self.next_emit > start {
            push(start as u64, self.next_emit as u64);
        }
        for i in self.next_emit..self.read {
            if done_at(i) {
                push(i as u64, i as u64 + 1);
            }
        }
        // Items not read yet that the resumed checkpoint says are done.
        // The input's length when it is known (said up front, or ended);
        // else the items read so far (or the resumed checkpoint's, if more).
        let mut items = self.kind.total().unwrap_or(self.read).max(self.read) as u64;
        if let Some(c) = &self.resume {
            if !self.exhausted {
                items = items.max(c.items);
                for &(a, b) in &c.done {
                    let a = a.max(self.read as u64);
                    if a < b {
                        push(a, b);
                    }
                }
            }
        }
        ManyCheckpoint {
            version: 1,
            items,
            done,
        }
    }

    pub(super) fn progress(&self, now: Instant) -> ManyProgress {
        let elapsed = now.saturating_duration_since(self.start);
        let queued = self
            .events
            .iter()
            .filter(|e| matches!(e, ManyEvent::Item(_)))
            .count() as u64;
        let done = self.handed - queued;
        // Until the input ends, its length is known only when it said so.
        let whole = if self.exhausted {
            self.read
        } else {
            self.kind.total().unwrap_or(self.read)
        };
        let total = (whole as u64).saturating_sub(self.resumed);
        let eta = if self.finished {
            Some(Duration::ZERO)
        } else if done > 0 && (self.exhausted || self.kind.total().is_some()) {
            // `Duration::mul_f64` panics past what a `Duration` holds: no ETA then.
            let ratio = total.saturating_sub(done) as f64 / done as f64;
            Duration::try_from_secs_f64(elapsed.as_secs_f64() * ratio).ok()
        } else {
            None
        };
        ManyProgress {
            done,
            total,
            failed: self.report.failed,
            unknown: self.report.unknown,
            retries: self.report.retries.total(),
            throttled: self.report.throttled,
            elapsed,
            eta,
        }
    }
}

/// A UUID version 4 string (RFC 9562) from 128 random bits, 6 of which
/// become the version and variant.
fn uuid_v4(hi: u64, lo: u64) -> String {
    let hi = (hi & !0xF000) | 0x4000;
    let lo = (lo & !(0b11 << 62)) | (0b10 << 62);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

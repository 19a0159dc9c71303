//! Many independent items, each with its own result: fetching records by id
//! and writing records, one request per item or in batches. One engine,
//! two public machines: [`FetchMany`] and [`WriteJob`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use super::json::JsonText;
use super::url::Url;
use web_time::Instant;

use super::api::ApiSpec;
use super::checkpoint::ManyCheckpoint;
use super::delta::{field_text, pointer_of};
use super::exchange::{self, take_request, Verdict};
use super::http::{Header, Method, Request, RequestId, Response, TransportError};
use super::options::Order;
use super::page::{self, Body};
use super::retry::{Failure, Retrier, RetryCause, RetryCounts, RetryPolicy, SplitMix64};
use crate::error::{Error, ErrorKind, Result};

/// What a job of many items did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ManyReport {
    /// Items in the job.
    pub items: u64,
    /// Items that succeeded.
    pub succeeded: u64,
    /// Items that failed (each with its own error), not counting those
    /// whose outcome is unknown.
    pub failed: u64,
    /// Writes whose answer did not say whether they were applied (their
    /// error is [`ErrorKind::OutcomeUnknown`]): they may have been written,
    /// so they are neither succeeded nor failed.
    pub unknown: u64,
    /// HTTP requests answered.
    pub requests: u64,
    /// Retries, by cause.
    pub retries: RetryCounts,
    /// Time held back by the server's throttling.
    pub throttled: Duration,
    /// Time from start to end.
    pub duration: Duration,
}

/// How far a job of many items is.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ManyProgress {
    /// Items handed out.
    pub done: u64,
    /// Items in all.
    pub total: u64,
    /// Items that failed so far.
    pub failed: u64,
    /// Writes whose outcome is unknown so far (see [`ManyReport::unknown`]).
    pub unknown: u64,
    /// Requests retried.
    pub retries: u64,
    /// Time held back by throttling.
    pub throttled: Duration,
    /// Time since the start (in this process).
    pub elapsed: Duration,
    /// Estimated time left.
    pub eta: Option<Duration>,
}

/// One item's result, as the job hands it out.
#[derive(Debug, Clone)]
pub struct ItemEvent<T> {
    /// The item's position in the input.
    pub index: usize,
    /// Its result.
    pub result: Result<T>,
}

/// What a many-items machine tells its driver.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ManyEvent<T> {
    /// One item's result.
    Item(ItemEvent<T>),
    /// Every item has its result.
    Finished(ManyReport),
}

/// `id` as a path segment, or the item's [`ErrorKind::Url`] error naming it
/// (see [`super::url::id_segment`]): no request is sent for it.
fn id_segment(id: &str) -> Result<String> {
    super::url::id_segment(id).map_err(|why| Error::new(ErrorKind::Url, why))
}

/// How a unit's answer is read.
enum Read<T> {
    /// One result per index of the unit (in order), `Err(Some(failure))` for an
    /// item that may be retried on its own.
    PerItem(Vec<std::result::Result<T, (Error, Option<Failure>)>>),
}

/// An item's value inside the engine: the JSON text of a fetched record, or
/// the outcome of a write. One type for both kinds, so the engine is compiled
/// once (half the WebAssembly of one engine per kind); as small as a `Vec`
/// (the engine keeps one slot per item).
#[derive(Debug)]
enum Out {
    Bytes(Vec<u8>),
    Written(Box<Written>),
}

impl From<Vec<u8>> for Out {
    fn from(bytes: Vec<u8>) -> Self {
        Out::Bytes(bytes)
    }
}

impl From<Written> for Out {
    fn from(written: Written) -> Self {
        Out::Written(Box::new(written))
    }
}

impl Out {
    fn bytes(self) -> Result<Vec<u8>> {
        match self {
            Out::Bytes(b) => Ok(b),
            Out::Written(_) => Err(Error::new(
                ErrorKind::Transport,
                "internal error: a fetch job got a write outcome",
            )),
        }
    }

    fn written(self) -> Result<Written> {
        match self {
            Out::Written(w) => Ok(*w),
            Out::Bytes(_) => Err(Error::new(
                ErrorKind::Transport,
                "internal error: a write job got a record",
            )),
        }
    }
}

/// An engine event as a kind's own event.
fn map_event<T>(event: ManyEvent<Out>, f: fn(Out) -> Result<T>) -> ManyEvent<T> {
    match event {
        ManyEvent::Item(ItemEvent { index, result }) => ManyEvent::Item(ItemEvent {
            index,
            result: result.and_then(f),
        }),
        ManyEvent::Finished(report) => ManyEvent::Finished(report),
    }
}

/// [`Kind`] behind a pointer, with the engine's [`Out`].
trait DynKind: Send {
    fn request(
        &mut self,
        spec: &ApiSpec,
        indices: &[usize],
        key: Option<&str>,
    ) -> Result<(Method, Url, Option<Vec<u8>>)>;
    fn read(&self, indices: &[usize], resp: &Response, url: &str) -> Read<Out>;
    fn replay_safe(&self) -> bool;
    fn idempotency_header(&self) -> Option<&str>;
    fn unit_size(&self) -> usize;
    fn refuse(&self, index: usize) -> Option<Error>;
    fn writes(&self) -> bool;
}

impl<K: Kind + Send> DynKind for K
where
    K::Out: Into<Out>,
{
    fn request(
        &mut self,
        spec: &ApiSpec,
        indices: &[usize],
        key: Option<&str>,
    ) -> Result<(Method, Url, Option<Vec<u8>>)> {
        Kind::request(self, spec, indices, key)
    }
    fn read(&self, indices: &[usize], resp: &Response, url: &str) -> Read<Out> {
        let Read::PerItem(results) = Kind::read(self, indices, resp, url);
        Read::PerItem(results.into_iter().map(|r| r.map(Into::into)).collect())
    }
    fn replay_safe(&self) -> bool {
        Kind::replay_safe(self)
    }
    fn idempotency_header(&self) -> Option<&str> {
        Kind::idempotency_header(self)
    }
    fn unit_size(&self) -> usize {
        Kind::unit_size(self)
    }
    fn refuse(&self, index: usize) -> Option<Error> {
        Kind::refuse(self, index)
    }
    fn writes(&self) -> bool {
        Kind::writes(self)
    }
}

/// What a kind of job does with a unit (a group of item indices).
trait Kind {
    type Out;
    fn request(
        &mut self,
        spec: &ApiSpec,
        indices: &[usize],
        key: Option<&str>,
    ) -> Result<(Method, Url, Option<Vec<u8>>)>;
    fn read(&self, indices: &[usize], resp: &Response, url: &str) -> Read<Self::Out>;
    /// May the request be sent again after it might have reached the server?
    fn replay_safe(&self) -> bool;
    /// The idempotency header to send, if any.
    fn idempotency_header(&self) -> Option<&str> {
        None
    }
    fn unit_size(&self) -> usize;
    /// The error of item `index` if it cannot be in any request (an id a
    /// batch lookup cannot carry): it fails alone, no request is sent for it.
    fn refuse(&self, _index: usize) -> Option<Error> {
        None
    }
    /// Does a request change the server's data (so that one which may have
    /// reached it and got no answer has an unknown outcome)?
    fn writes(&self) -> bool {
        false
    }
}

#[derive(Debug)]
enum UnitState {
    Queued,
    InFlight,
    Waiting,
}

#[derive(Debug)]
struct Unit {
    indices: Vec<usize>,
    state: UnitState,
    retries: u32,
    key: Option<String>,
    url: String,
}

/// The units of a job by id. Ids are handed out in sequence from 0, so a
/// list indexed by id does (smaller in WebAssembly than a `HashMap`).
#[derive(Default)]
struct Units {
    by_id: Vec<Option<Unit>>,
    live: usize,
}

impl Units {
    fn insert(&mut self, id: u64, unit: Unit) {
        let i = id as usize;
        if self.by_id.len() <= i {
            self.by_id.resize_with(i + 1, || None);
        }
        if self.by_id[i].replace(unit).is_none() {
            self.live += 1;
        }
    }

    fn get_mut(&mut self, id: u64) -> Option<&mut Unit> {
        self.by_id.get_mut(id as usize)?.as_mut()
    }

    fn remove(&mut self, id: u64) -> Option<Unit> {
        let unit = self.by_id.get_mut(id as usize)?.take()?;
        self.live -= 1;
        Some(unit)
    }

    fn is_empty(&self) -> bool {
        self.live == 0
    }
}

/// The engine behind [`FetchMany`] and [`WriteJob`].
struct Engine {
    spec: Arc<ApiSpec>,
    kind: Box<dyn DynKind>,
    n: usize,
    concurrency: usize,
    window_items: usize,
    order: Order,
    units: Units,
    /// Units to send, first item first (heaps: a `BTreeSet` costs about
    /// 30 KB of WebAssembly).
    queue: BinaryHeap<Reverse<(usize, u64)>>,
    /// Units waiting for their retry, by due instant.
    waiting: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Requests sent and not answered (at most `concurrency`).
    in_flight: Vec<(RequestId, u64)>,
    next_unit: u64,
    next_id: u64,
    results: Vec<Option<Result<Out>>>,
    skip: Vec<bool>,
    next_emit: usize,
    events: VecDeque<ManyEvent<Out>>,
    retrier: Retrier,
    /// Two streams, one per half of a 128-bit idempotency key.
    keys: (SplitMix64, SplitMix64),
    report: ManyReport,
    handed: u64,
    throttled_until: Option<Instant>,
    start: Instant,
    finished: bool,
    /// Items done before a resume.
    resumed: u64,
    /// Items with a result, in the order the results came (completion order).
    ready: VecDeque<usize>,
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    fn new(
        spec: &Arc<ApiSpec>,
        kind: Box<dyn DynKind>,
        n: usize,
        concurrency: Option<usize>,
        order: Order,
        retry: Option<RetryPolicy>,
        seed: u64,
        key_seed: Option<u128>,
        resume: Option<&ManyCheckpoint>,
        now: Instant,
    ) -> Result<Self> {
        super::options::check_sizes(spec.concurrency, None)?;
        if let Some(c) = concurrency {
            super::options::check_sizes(c, None)?;
        }
        let concurrency = concurrency
            .unwrap_or(spec.concurrency)
            .min(spec.concurrency);
        if let Some(c) = resume {
            if c.items != n as u64 {
                return Err(Error::config(format!(
                    "the checkpoint is for {} items, not {n}",
                    c.items
                )));
            }
        }
        let size = kind.unit_size().max(1);
        let skip: Vec<bool> = (0..n)
            .map(|i| resume.is_some_and(|c| c.is_done(i)))
            .collect();
        let resumed = skip.iter().filter(|s| **s).count() as u64;
        let mut engine = Engine {
            spec: spec.clone(),
            kind,
            n,
            concurrency,
            window_items: (concurrency * 2).max(2).saturating_mul(size),
            order,
            units: Units::default(),
            queue: BinaryHeap::new(),
            waiting: BinaryHeap::new(),
            in_flight: Vec::new(),
            next_unit: 0,
            next_id: 0,
            results: (0..n).map(|_| None).collect(),
            skip,
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
            report: ManyReport {
                items: n as u64,
                ..ManyReport::default()
            },
            handed: 0,
            throttled_until: None,
            start: now,
            finished: false,
            resumed,
            ready: VecDeque::new(),
        };
        let mut todo: Vec<usize> = (0..n).filter(|i| !engine.skip[*i]).collect();
        todo.retain(|&i| match engine.kind.refuse(i) {
            Some(e) => {
                engine.results[i] = Some(Err(e));
                engine.ready.push_back(i);
                false
            }
            None => true,
        });
        for chunk in todo.chunks(size) {
            let uid = engine.add_unit(chunk.to_vec());
            engine.queue.push(Reverse((chunk[0], uid)));
        }
        engine.emit();
        engine.finish_if_done(now);
        Ok(engine)
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
            },
        );
        id
    }

    fn poll_request(&mut self) -> Option<Request> {
        loop {
            if self.in_flight.len() >= self.concurrency {
                return None;
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
                    self.in_flight.push((id, uid));
                    let mut req = self.spec.request(id, method, url, body);
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
                        self.results[i] = Some(Err(e.clone()));
                        self.ready.push_back(i);
                    }
                    self.emit();
                }
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.waiting.peek().map(|Reverse((at, _))| *at)
    }

    fn handle_timeout(&mut self, now: Instant) {
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

    fn handle_response(
        &mut self,
        id: RequestId,
        answer: std::result::Result<Response, TransportError>,
        now: Instant,
    ) {
        let Some(uid) = take_request(&mut self.in_flight, id) else {
            return;
        };
        self.report.requests += 1;
        let url = self.units.get_mut(uid).expect("unit exists").url.clone();
        // A failure of the whole request (no answer, or a status that is
        // retried) is every item's; other answers are read item by item.
        let whole = match &answer {
            Err(e) => Some(exchange::transport_failed(e)),
            Ok(resp) => match exchange::status_failed(resp) {
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
                    Ok(v) => {
                        self.results[*i] = Some(Ok(v));
                        self.ready.push_back(*i);
                    }
                    Err((e, Some(f))) if unit.retries < self.retrier_max() => {
                        self.count_retry(f.cause, now, None);
                        again.push((*i, e));
                    }
                    Err((e, _)) => {
                        self.results[*i] = Some(Err(e));
                        self.ready.push_back(*i);
                    }
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
                    self.results[i] = Some(Err(err.clone()));
                    self.ready.push_back(i);
                }
            }
        }
    }

    fn emit_one(&mut self, i: usize) {
        let result = self.results[i].take().expect("a result to emit");
        match &result {
            Ok(_) => self.report.succeeded += 1,
            Err(e) if e.kind() == ErrorKind::OutcomeUnknown => self.report.unknown += 1,
            Err(_) => self.report.failed += 1,
        }
        self.handed += 1;
        self.events
            .push_back(ManyEvent::Item(ItemEvent { index: i, result }));
    }

    fn emit(&mut self) {
        match self.order {
            Order::Page => {
                while self.next_emit < self.n {
                    let i = self.next_emit;
                    if self.skip[i] {
                        self.next_emit += 1;
                        continue;
                    }
                    if self.results[i].is_none() {
                        break;
                    }
                    self.emit_one(i);
                    self.skip[i] = true;
                    self.next_emit += 1;
                }
            }
            Order::Completion => {
                while let Some(i) = self.ready.pop_front() {
                    if !self.skip[i] && self.results[i].is_some() {
                        self.emit_one(i);
                        self.skip[i] = true;
                    }
                }
                while self.next_emit < self.n && self.skip[self.next_emit] {
                    self.next_emit += 1;
                }
            }
        }
    }

    fn finish_if_done(&mut self, now: Instant) {
        if !self.finished && self.units.is_empty() && self.next_emit >= self.n {
            self.finished = true;
            self.report.duration = now.saturating_duration_since(self.start);
            self.events
                .push_back(ManyEvent::Finished(self.report.clone()));
        }
    }

    fn checkpoint(&self, held: &[usize]) -> ManyCheckpoint {
        // Done = handed out; items whose results are still queued as events
        // (here, or taken by a driver that has not handed them on) are not.
        let mut done_flags = self.skip.clone();
        for ev in &self.events {
            if let ManyEvent::Item(e) = ev {
                done_flags[e.index] = false;
            }
        }
        for &i in held {
            if let Some(f) = done_flags.get_mut(i) {
                *f = false;
            }
        }
        let mut done = Vec::new();
        let mut i = 0;
        while i < self.n {
            if done_flags[i] {
                let a = i;
                while i < self.n && done_flags[i] {
                    i += 1;
                }
                done.push((a as u64, i as u64));
            } else {
                i += 1;
            }
        }
        ManyCheckpoint {
            version: 1,
            items: self.n as u64,
            done,
        }
    }

    fn progress(&self, now: Instant) -> ManyProgress {
        let elapsed = now.saturating_duration_since(self.start);
        let queued = self
            .events
            .iter()
            .filter(|e| matches!(e, ManyEvent::Item(_)))
            .count() as u64;
        let done = self.handed - queued;
        let total = self.n as u64 - self.resumed;
        let eta = if self.finished {
            Some(Duration::ZERO)
        } else if done > 0 {
            Some(elapsed.mul_f64((total - done) as f64 / done as f64))
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

// ---------------------------------------------------------------------------
// Fetch many

/// Looking several ids up in one request, where the API can:
/// `GET items?ids=1,2,3` or `GET items?id=in.(1,2,3)`.
///
/// ```
/// use pagewise::BatchLookup;
/// let plain = BatchLookup::new("items", "ids").max(100);
/// let postgrest = BatchLookup::new("items", "id").value("in.({ids})");
/// let servicenow = BatchLookup::new("incident", "sysparm_query").value("sys_idIN{ids}").records_at("/result");
/// # let _ = (plain, postgrest, servicenow);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchLookup {
    pub(crate) path: String,
    pub(crate) param: String,
    pub(crate) value: String,
    pub(crate) separator: String,
    pub(crate) max: usize,
    pub(crate) records_at: String,
    pub(crate) id_field: String,
}

impl BatchLookup {
    /// Lookups at `path` with the ids in query parameter `param`
    /// (joined by `,`, at most 100 per request, records at `/items`, matched by `id`).
    pub fn new(path: impl Into<String>, param: impl Into<String>) -> Self {
        BatchLookup {
            path: path.into(),
            param: param.into(),
            value: "{ids}".into(),
            separator: ",".into(),
            max: 100,
            records_at: "/items".into(),
            id_field: "id".into(),
        }
    }
    /// The parameter value, a template over `{ids}` (default `{ids}`).
    pub fn value(mut self, template: impl Into<String>) -> Self {
        self.value = template.into();
        self
    }
    /// What joins the ids (default `,`).
    pub fn separator(mut self, sep: impl Into<String>) -> Self {
        self.separator = sep.into();
        self
    }
    /// Ids per request at most (default 100).
    pub fn max(mut self, n: usize) -> Self {
        self.max = n;
        self
    }
    /// Where the records sit in the answer (JSON pointer, default `/items`).
    pub fn records_at(mut self, pointer: impl Into<String>) -> Self {
        self.records_at = pointer.into();
        self
    }
    /// The record field that holds its id (default `id`).
    pub fn id_field(mut self, field: impl Into<String>) -> Self {
        self.id_field = field.into();
        self
    }
}

struct FetchKind {
    template: String,
    ids: Arc<[String]>,
    batch: Option<BatchLookup>,
}

impl Kind for FetchKind {
    type Out = Vec<u8>;

    fn request(
        &mut self,
        spec: &ApiSpec,
        indices: &[usize],
        _key: Option<&str>,
    ) -> Result<(Method, Url, Option<Vec<u8>>)> {
        match &self.batch {
            None => {
                let segment = id_segment(&self.ids[indices[0]])?;
                let path = self.template.replace("{id}", &segment);
                Ok((Method::Get, spec.url_for(&path, &[])?, None))
            }
            Some(b) => {
                let joined = indices
                    .iter()
                    .map(|i| self.ids[*i].as_str())
                    .collect::<Vec<_>>()
                    .join(&b.separator);
                let value = b.value.replace("{ids}", &joined);
                Ok((
                    Method::Get,
                    spec.url_for(&b.path, &[(b.param.clone(), value)])?,
                    None,
                ))
            }
        }
    }

    fn read(&self, indices: &[usize], resp: &Response, url: &str) -> Read<Vec<u8>> {
        let status_err = |resp: &Response| exchange::status_error(resp).with_url(url.to_string());
        match &self.batch {
            None => Read::PerItem(vec![if (200..300).contains(&resp.status) {
                match page::validate(&resp.body) {
                    Ok(_) => Ok(resp.body.clone()),
                    Err(e) => Err((
                        Error::new(ErrorKind::Decode, e.0)
                            .with_url(url.to_string())
                            .with_excerpt(&resp.body),
                        Some(exchange::bad_body()),
                    )),
                }
            } else {
                Err((status_err(resp), None))
            }]),
            Some(b) => {
                if !(200..300).contains(&resp.status) {
                    let e = status_err(resp);
                    return Read::PerItem(indices.iter().map(|_| Err((e.clone(), None))).collect());
                }
                let bad_body = |msg: String| {
                    let e = Error::new(ErrorKind::Decode, msg)
                        .with_url(url.to_string())
                        .with_excerpt(&resp.body);
                    let f = exchange::bad_body();
                    Read::PerItem(
                        indices
                            .iter()
                            .map(|_| Err((e.clone(), Some(f.clone()))))
                            .collect(),
                    )
                };
                let text = page::text(&resp.body);
                let ranges = match text
                    .clone()
                    .and_then(|t| Body::parse(t, &b.records_at))
                    .and_then(|mut body| body.records())
                {
                    Ok(r) => r,
                    Err(e) => return bad_body(e.0),
                };
                let id_ptr = pointer_of(&b.id_field);
                let mut by_id: HashMap<String, Vec<u8>> = HashMap::new();
                let text = text.unwrap_or_default();
                for r in ranges {
                    let record = text.get(r).unwrap_or_default();
                    if let Some(id) = field_text(record, &id_ptr) {
                        by_id.insert(id, record.as_bytes().to_vec());
                    }
                }
                Read::PerItem(
                    indices
                        .iter()
                        .map(|i| {
                            by_id.remove(&self.ids[*i]).ok_or_else(|| {
                                (
                                    Error::new(
                                        ErrorKind::Status,
                                        format!("no record with id {:?}", self.ids[*i]),
                                    )
                                    .with_url(url.to_string())
                                    .with_status(404),
                                    None,
                                )
                            })
                        })
                        .collect(),
                )
            }
        }
    }

    fn replay_safe(&self) -> bool {
        true
    }

    fn unit_size(&self) -> usize {
        self.batch.as_ref().map_or(1, |b| b.max.max(1))
    }

    /// In a batch, an empty id or one holding the separator: the server
    /// would read no id or several in its place (as a path segment, an
    /// empty id is refused when the request is made).
    fn refuse(&self, index: usize) -> Option<Error> {
        let b = self.batch.as_ref()?;
        let id = &self.ids[index];
        let why = if id.is_empty() {
            format!(
                "the id {id:?} cannot be looked up in a batch: the {:?} parameter would name no record for it",
                b.param
            )
        } else if !b.separator.is_empty() && id.contains(b.separator.as_str()) {
            format!(
                "the id {id:?} holds the batch separator {:?}: the server would read it as several ids",
                b.separator
            )
        } else {
            return None;
        };
        Some(Error::new(ErrorKind::Url, why))
    }
}

/// Fetching many records by id: one `GET` per id from a path template, or a
/// few ids per request through a [`BatchLookup`]. Each id gets its own
/// result (a missing record is that id's 404, not the end of the job),
/// handed out in input order through a bounded window, or in completion order.
pub struct FetchMany {
    engine: Engine,
    ids: Arc<[String]>,
}

impl std::fmt::Debug for FetchMany {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchMany")
            .field("items", &self.ids.len())
            .field("in_flight", &self.engine.in_flight.len())
            .finish_non_exhaustive()
    }
}

/// Options of a `fetch_many` job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ManyOptions {
    pub(crate) concurrency: Option<usize>,
    pub(crate) order: Order,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) seed: Option<u64>,
    pub(crate) resume: Option<ManyCheckpoint>,
    pub(crate) batch: Option<BatchLookup>,
}

impl ManyOptions {
    /// Requests in flight at once (default and maximum: the API's concurrency).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = Some(n);
        self
    }
    /// Input order (`Order::Page`, the default) or completion order.
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }
    /// How failed requests are retried (default: the API's policy).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }
    /// The jitter seed (default: drivers pick one).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
    /// Skips the items a checkpoint says are done.
    pub fn resume(mut self, checkpoint: ManyCheckpoint) -> Self {
        self.resume = Some(checkpoint);
        self
    }
    /// Looks several ids up per request.
    pub fn batch(mut self, lookup: BatchLookup) -> Self {
        self.batch = Some(lookup);
        self
    }
}

impl FetchMany {
    /// A job fetching `ids` from `template` (a path with `{id}`, e.g. `items/{id}`).
    pub fn new(
        spec: &Arc<ApiSpec>,
        template: &str,
        ids: Vec<String>,
        options: ManyOptions,
        now: Instant,
    ) -> Result<Self> {
        if options.batch.is_none() && !template.contains("{id}") {
            return Err(Error::config(format!(
                "the path template {template:?} has no {{id}}"
            )));
        }
        if let Some(b) = &options.batch {
            if b.max == 0 || b.param.is_empty() {
                return Err(Error::config(
                    "a batch lookup needs a parameter name and a max of at least 1",
                ));
            }
        }
        let ids: Arc<[String]> = ids.into();
        let kind = FetchKind {
            template: template.to_string(),
            ids: ids.clone(),
            batch: options.batch.clone(),
        };
        let engine = Engine::new(
            spec,
            Box::new(kind),
            ids.len(),
            options.concurrency,
            options.order,
            options.retry,
            options.seed.unwrap_or(0x005E_ED0F_3A27),
            None,
            options.resume.as_ref(),
            now,
        )?;
        Ok(FetchMany { engine, ids })
    }

    /// The id of item `index`.
    pub fn id(&self, index: usize) -> &str {
        &self.ids[index]
    }
    /// The next request to send.
    #[must_use]
    pub fn poll_request(&mut self) -> Option<Request> {
        self.engine.poll_request()
    }
    /// The next event: an item's JSON text (or error), or the end.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ManyEvent<Vec<u8>>> {
        let event = self.engine.events.pop_front()?;
        Some(map_event(event, Out::bytes))
    }
    /// When a retry is due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.engine.poll_timeout()
    }
    /// Lets time pass.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.engine.handle_timeout(now)
    }
    /// Hands over the answer to request `id`.
    pub fn handle_response(
        &mut self,
        id: RequestId,
        answer: std::result::Result<Response, TransportError>,
        now: Instant,
    ) {
        self.engine.handle_response(id, answer, now)
    }
    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.engine.in_flight.len()
    }
    /// Whether every item was handed out.
    pub fn is_done(&self) -> bool {
        self.engine.finished
    }
    /// Where the job is.
    pub fn checkpoint(&self) -> ManyCheckpoint {
        self.engine.checkpoint(&[])
    }
    /// Where the job is, for a driver that takes events ahead of its
    /// consumer: the items of `held` (the `index` of item events taken from
    /// [`poll_event`](Self::poll_event) but not handed on yet) count as not
    /// done: a job resumed from the checkpoint does them again.
    pub fn checkpoint_holding(&self, held: &[usize]) -> ManyCheckpoint {
        self.engine.checkpoint(held)
    }
    /// How far the job is.
    pub fn progress(&self, now: Instant) -> ManyProgress {
        self.engine.progress(now)
    }
}

// ---------------------------------------------------------------------------
// Writes

/// What a write job does to each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteOp {
    /// Create: `POST {path}` (or `"op":"insert"` in a batch).
    Insert,
    /// Change some fields: `PATCH {path}/{id}`.
    Update,
    /// Create or replace: `PUT {path}/{id}`.
    Upsert,
    /// Remove: `DELETE {path}/{id}` (records may be bare ids).
    Delete,
}

impl WriteOp {
    /// The op's name in a batch body: `insert`, `update`, `upsert`, `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteOp::Insert => "insert",
            WriteOp::Update => "update",
            WriteOp::Upsert => "upsert",
            WriteOp::Delete => "delete",
        }
    }
}

/// A batch endpoint: several records per request, one result per record.
///
/// The body is `{"op": "<op>", "records": [...]}` by default; the answer's
/// per-record results sit at `/results`, each with `ok`, `id`, `status` and
/// `error` members. Every part is configurable.
///
/// ```
/// use pagewise::BatchWrite;
/// let batch = BatchWrite::new("batch/items").results_at("/results").max(200);
/// let bare = BatchWrite::new("bulk").records_field(None).op_field(None); // body: [...]
/// # let _ = (batch, bare);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchWrite {
    pub(crate) path: String,
    pub(crate) op_field: Option<String>,
    pub(crate) records_field: Option<String>,
    pub(crate) results_at: String,
    pub(crate) ok_field: String,
    pub(crate) id_field: String,
    pub(crate) status_field: String,
    pub(crate) error_field: String,
    pub(crate) max: usize,
}

impl BatchWrite {
    /// A batch endpoint at `path` (POST).
    pub fn new(path: impl Into<String>) -> Self {
        BatchWrite {
            path: path.into(),
            op_field: Some("op".into()),
            records_field: Some("records".into()),
            results_at: "/results".into(),
            ok_field: "ok".into(),
            id_field: "id".into(),
            status_field: "status".into(),
            error_field: "error".into(),
            max: 200,
        }
    }
    /// The body member naming the op (`None`: no such member).
    pub fn op_field(mut self, name: Option<&str>) -> Self {
        self.op_field = name.map(str::to_string);
        self
    }
    /// The body member holding the records (`None`: the body is the array).
    pub fn records_field(mut self, name: Option<&str>) -> Self {
        self.records_field = name.map(str::to_string);
        self
    }
    /// Where the per-record results sit in the answer (JSON pointer).
    pub fn results_at(mut self, pointer: impl Into<String>) -> Self {
        self.results_at = pointer.into();
        self
    }
    /// Names of the `ok`, `id`, `status` and `error` members of a result.
    pub fn result_fields(mut self, ok: &str, id: &str, status: &str, error: &str) -> Self {
        self.ok_field = ok.into();
        self.id_field = id.into();
        self.status_field = status.into();
        self.error_field = error.into();
        self
    }
    /// Records per request at most (default 200).
    pub fn max(mut self, n: usize) -> Self {
        self.max = n;
        self
    }
}

/// A write that succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The record's id, as the server gave it (created id for inserts).
    pub id: Option<String>,
    /// The status of the write.
    pub status: u16,
}

/// Options of a write job.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteOptions {
    pub(crate) op: WriteOp,
    pub(crate) path: String,
    pub(crate) batch: Option<BatchWrite>,
    pub(crate) batch_size: Option<usize>,
    pub(crate) concurrency: Option<usize>,
    pub(crate) order: Order,
    pub(crate) idempotency_header: Option<String>,
    pub(crate) id_field: String,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) seed: Option<u64>,
    pub(crate) key_seed: Option<u128>,
    pub(crate) resume: Option<ManyCheckpoint>,
}

impl WriteOptions {
    /// Writes of `op` to the collection at `path`, one request per record,
    /// with an `Idempotency-Key` header so that retries never write twice.
    pub fn new(op: WriteOp, path: impl Into<String>) -> Self {
        WriteOptions {
            op,
            path: path.into(),
            batch: None,
            batch_size: None,
            concurrency: None,
            order: Order::Page,
            idempotency_header: Some("Idempotency-Key".into()),
            id_field: "id".into(),
            retry: None,
            seed: None,
            key_seed: None,
            resume: None,
        }
    }
    /// Through a batch endpoint.
    pub fn batch(mut self, batch: BatchWrite) -> Self {
        self.batch = Some(batch);
        self
    }
    /// Records per batch request (default: the batch endpoint's max).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = Some(n);
        self
    }
    /// Requests in flight at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = Some(n);
        self
    }
    /// Outcomes in input order (default) or completion order.
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }
    /// The idempotency header (default `Idempotency-Key`); `None` sends none,
    /// and then a write that may have reached the server is never retried.
    pub fn idempotency_header(mut self, name: Option<&str>) -> Self {
        self.idempotency_header = name.map(str::to_string);
        self
    }
    /// The record field holding its id, for update, upsert and delete (default `id`).
    pub fn id_field(mut self, field: impl Into<String>) -> Self {
        self.id_field = field.into();
        self
    }
    /// How failed requests are retried.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }
    /// The seed of the retry jitter (default: drivers pick one), and of
    /// the idempotency keys when no [`key_seed`](Self::key_seed) is given.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
    /// 128 random bits the idempotency keys are drawn from (UUID v4
    /// strings, one per request body). The drivers take them from the
    /// operating system's random source (`crypto.getRandomValues` in
    /// WebAssembly), so two processes or tabs never send the same key;
    /// without them the keys derive from [`seed`](Self::seed), which
    /// simulations fix to get the same keys every run.
    ///
    /// ```
    /// use pagewise::core::{WriteJob, WriteOp, WriteOptions};
    /// use pagewise::{Api, JsonText};
    /// let api = Api::builder("https://api.example/").build()?;
    /// let options = WriteOptions::new(WriteOp::Insert, "items").key_seed(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
    /// let record = JsonText::parse(r#"{"name":"a"}"#.to_string()).unwrap();
    /// let mut job = WriteJob::new(api.spec(), vec![record], options, web_time::Instant::now())?;
    /// let request = job.poll_request().unwrap();
    /// let key = request.headers.iter().find(|h| h.name == "Idempotency-Key").unwrap();
    /// // A UUID v4: 8-4-4-4-12 hex digits, version 4.
    /// assert_eq!(key.value.len(), 36);
    /// assert_eq!(&key.value[14..15], "4");
    /// # Ok::<(), pagewise::Error>(())
    /// ```
    pub fn key_seed(mut self, bits: u128) -> Self {
        self.key_seed = Some(bits);
        self
    }
    /// Skips the records a checkpoint says are done.
    pub fn resume(mut self, checkpoint: ManyCheckpoint) -> Self {
        self.resume = Some(checkpoint);
        self
    }
}

struct WriteKind {
    op: WriteOp,
    path: String,
    batch: Option<BatchWrite>,
    size: usize,
    header: Option<String>,
    id_ptr: String,
    records: Arc<[JsonText]>,
}

impl WriteKind {
    fn record_id(&self, i: usize) -> Result<String> {
        let text = self.records[i].as_str();
        if !text.starts_with('{') {
            if let Ok(Some(id)) = page::scalar_text(text.as_bytes()) {
                return Ok(id);
            }
        }
        field_text(text, &self.id_ptr).ok_or_else(|| {
            Error::config(format!(
                "record {i} has no {} to {} it by",
                self.id_ptr.trim_start_matches('/'),
                self.op.as_str()
            ))
        })
    }
}

impl Kind for WriteKind {
    type Out = Written;

    fn request(
        &mut self,
        spec: &ApiSpec,
        indices: &[usize],
        _key: Option<&str>,
    ) -> Result<(Method, Url, Option<Vec<u8>>)> {
        match &self.batch {
            None => {
                let i = indices[0];
                let body = Some(self.records[i].as_str().as_bytes().to_vec());
                let item_path = |id: String| -> Result<String> {
                    Ok(format!(
                        "{}/{}",
                        self.path.trim_end_matches('/'),
                        id_segment(&id)?
                    ))
                };
                Ok(match self.op {
                    WriteOp::Insert => (Method::Post, spec.url_for(&self.path, &[])?, body),
                    WriteOp::Update => (
                        Method::Patch,
                        spec.url_for(&item_path(self.record_id(i)?)?, &[])?,
                        body,
                    ),
                    WriteOp::Upsert => (
                        Method::Put,
                        spec.url_for(&item_path(self.record_id(i)?)?, &[])?,
                        body,
                    ),
                    WriteOp::Delete => (
                        Method::Delete,
                        spec.url_for(&item_path(self.record_id(i)?)?, &[])?,
                        None,
                    ),
                })
            }
            Some(b) => {
                let mut records = String::from("[");
                for (n, i) in indices.iter().enumerate() {
                    if n > 0 {
                        records.push(',');
                    }
                    records.push_str(self.records[*i].as_str());
                }
                records.push(']');
                let body = match &b.records_field {
                    None => records,
                    Some(field) => {
                        let mut obj = String::from("{");
                        if let Some(op) = &b.op_field {
                            obj.push_str(&serde_json::to_string(op).expect("a string serializes"));
                            obj.push(':');
                            obj.push_str(
                                &serde_json::to_string(self.op.as_str())
                                    .expect("a string serializes"),
                            );
                            obj.push(',');
                        }
                        obj.push_str(&serde_json::to_string(field).expect("a string serializes"));
                        obj.push(':');
                        obj.push_str(&records);
                        obj.push('}');
                        obj
                    }
                };
                Ok((
                    Method::Post,
                    spec.url_for(&b.path, &[])?,
                    Some(body.into_bytes()),
                ))
            }
        }
    }

    fn read(&self, indices: &[usize], resp: &Response, url: &str) -> Read<Written> {
        let fail = |status: u16, message: String| {
            let e = Error::new(ErrorKind::Status, message).with_url(url.to_string());
            // A result without a status (`ok: false` alone) has none to report.
            let e = if status == 0 {
                e
            } else {
                e.with_status(status)
            };
            // A server's per-record 429/5xx says that record was not written: safe to send again.
            let f = matches!(status, 408 | 429 | 500..=599).then_some(Failure {
                cause: if status == 429 {
                    RetryCause::Throttled
                } else {
                    RetryCause::ServerError
                },
                retry_after: None,
                surely_unsent: true,
            });
            (e, f)
        };
        match &self.batch {
            None => {
                let r = if (200..300).contains(&resp.status) {
                    let id = match self.op {
                        WriteOp::Insert => std::str::from_utf8(&resp.body)
                            .ok()
                            .and_then(|t| field_text(t, &self.id_ptr)),
                        _ => self.record_id(indices[0]).ok(),
                    };
                    Ok(Written {
                        id,
                        status: resp.status,
                    })
                } else {
                    let (e, _) = fail(resp.status, format!("the server answered {}", resp.status));
                    Err((e.with_excerpt(&resp.body), None))
                };
                Read::PerItem(vec![r])
            }
            Some(b) => {
                if !(200..300).contains(&resp.status) {
                    let e = exchange::status_error(resp).with_url(url.to_string());
                    return Read::PerItem(indices.iter().map(|_| Err((e.clone(), None))).collect());
                }
                let text = page::text(&resp.body);
                let parsed = text
                    .clone()
                    .and_then(|t| Body::parse(t, &b.results_at))
                    .and_then(|mut body| body.records());
                // The server took the batch (2xx): a record whose result
                // cannot be read may well be written. Its outcome is
                // unknown, not failed: sending it again could write it twice.
                let unknown = |why: String| {
                    let e = Error::new(
                        ErrorKind::OutcomeUnknown,
                        format!("the server took the batch, but {why}: the record may have been written"),
                    )
                    .with_url(url.to_string())
                    .with_status(resp.status)
                    .with_excerpt(&resp.body);
                    Read::PerItem(indices.iter().map(|_| Err((e.clone(), None))).collect())
                };
                let ranges = match parsed {
                    Ok(r) if r.len() == indices.len() => r,
                    Ok(r) => {
                        return unknown(format!(
                            "its answer has {} results for {} records (cannot tell which write is which)",
                            r.len(),
                            indices.len()
                        ))
                    }
                    Err(e) => {
                        return unknown(format!(
                            "its per-record results are not at {:?} ({})",
                            b.results_at, e.0
                        ))
                    }
                };
                let body = text.unwrap_or_default();
                let (okp, idp, stp, erp) = (
                    pointer_of(&b.ok_field),
                    pointer_of(&b.id_field),
                    pointer_of(&b.status_field),
                    pointer_of(&b.error_field),
                );
                Read::PerItem(
                    ranges
                        .iter()
                        .map(|r| {
                            let text = body.get(r.clone()).unwrap_or_default();
                            let status = field_text(text, &stp).and_then(|s| s.parse::<u16>().ok());
                            let ok = match (field_text(text, &okp).as_deref(), status) {
                                (Some("true"), _) => true,
                                (Some(_), _) => false,
                                (None, Some(s)) => (200..300).contains(&s),
                                (None, None) => {
                                    let e = Error::new(
                                        ErrorKind::OutcomeUnknown,
                                        format!(
                                            "the record's result has neither {:?} nor {:?}: the record may have been written",
                                            b.ok_field, b.status_field
                                        ),
                                    )
                                    .with_url(url.to_string())
                                    .with_status(resp.status)
                                    .with_excerpt(text.as_bytes());
                                    return Err((e, None));
                                }
                            };
                            if ok {
                                Ok(Written {
                                    id: field_text(text, &idp),
                                    status: status.unwrap_or(200),
                                })
                            } else {
                                let message = field_text(text, &erp)
                                    .unwrap_or_else(|| "the write failed".into());
                                Err(fail(status.unwrap_or(0), message))
                            }
                        })
                        .collect(),
                )
            }
        }
    }

    fn replay_safe(&self) -> bool {
        self.header.is_some()
            || matches!(
                (self.op, &self.batch),
                (WriteOp::Upsert | WriteOp::Delete, None)
            )
    }

    fn idempotency_header(&self) -> Option<&str> {
        self.header.as_deref()
    }

    fn writes(&self) -> bool {
        true
    }

    fn unit_size(&self) -> usize {
        self.size
    }
}

/// Writing many records: one request per record, or batches through a
/// [`BatchWrite`] endpoint. Each record gets its own outcome, in input
/// order (or completion order). Only retriable failures are retried; a write
/// that may have reached the server is sent again only with an idempotency
/// key (on by default), so no record is written twice.
pub struct WriteJob {
    engine: Engine,
}

impl std::fmt::Debug for WriteJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteJob")
            .field("items", &self.engine.n)
            .field("in_flight", &self.engine.in_flight.len())
            .finish_non_exhaustive()
    }
}

impl WriteJob {
    /// A job writing `records` (JSON texts).
    pub fn new(
        spec: &Arc<ApiSpec>,
        records: Vec<JsonText>,
        options: WriteOptions,
        now: Instant,
    ) -> Result<Self> {
        let size = match &options.batch {
            None => 1,
            Some(b) => options.batch_size.unwrap_or(b.max).min(b.max),
        };
        if size == 0 {
            return Err(Error::config("batch_size must be at least 1"));
        }
        let kind = WriteKind {
            op: options.op,
            path: options.path.clone(),
            batch: options.batch.clone(),
            size,
            header: options.idempotency_header.clone(),
            id_ptr: pointer_of(&options.id_field),
            records: records.into(),
        };
        let n = kind.records.len();
        let engine = Engine::new(
            spec,
            Box::new(kind),
            n,
            options.concurrency,
            options.order,
            options.retry,
            options.seed.unwrap_or(0x05EE_D0F3_217E),
            options.key_seed,
            options.resume.as_ref(),
            now,
        )?;
        Ok(WriteJob { engine })
    }

    /// The next request to send.
    #[must_use]
    pub fn poll_request(&mut self) -> Option<Request> {
        self.engine.poll_request()
    }
    /// The next event: a record's outcome, or the end.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ManyEvent<Written>> {
        let event = self.engine.events.pop_front()?;
        Some(map_event(event, Out::written))
    }
    /// When a retry is due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.engine.poll_timeout()
    }
    /// Lets time pass.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.engine.handle_timeout(now)
    }
    /// Hands over the answer to request `id`.
    pub fn handle_response(
        &mut self,
        id: RequestId,
        answer: std::result::Result<Response, TransportError>,
        now: Instant,
    ) {
        self.engine.handle_response(id, answer, now)
    }
    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.engine.in_flight.len()
    }
    /// Whether every record has its outcome.
    pub fn is_done(&self) -> bool {
        self.engine.finished
    }
    /// Where the job is.
    pub fn checkpoint(&self) -> ManyCheckpoint {
        self.engine.checkpoint(&[])
    }
    /// Where the job is, for a driver that takes events ahead of its
    /// consumer: the items of `held` (the `index` of item events taken from
    /// [`poll_event`](Self::poll_event) but not handed on yet) count as not
    /// done: a job resumed from the checkpoint does them again.
    pub fn checkpoint_holding(&self, held: &[usize]) -> ManyCheckpoint {
        self.engine.checkpoint(held)
    }
    /// How far the job is.
    pub fn progress(&self, now: Instant) -> ManyProgress {
        self.engine.progress(now)
    }
}

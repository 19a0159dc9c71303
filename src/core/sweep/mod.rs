//! The sweep: one state machine that pulls every page of a collection in any
//! dialect, plans concurrent fan-out where the total is known, and hands pages
//! out in page order through a bounded reorder window (or in completion order).
//!
//! # States
//!
//! The sweep is `Running` until it hands out [`Event::Finished`] or
//! [`Event::Failed`]; nothing follows either. While it runs, each page of
//! its plan ([`slots`]) goes through these states:
//!
//! ```text
//!                        redirect (answer.rs)
//!              ┌──────────────────────────────────┐
//!              ▼                                  │
//!  planned ┌────────┐ poll_request ┌──────────┐ ──┘  handle_response: a page
//! ───────▶ │ Queued │ ───────────▶ │ InFlight │ ───────────────────────────┐
//!  (plan)  └────────┘              └────┬─────┘                            ▼
//!              ▲                        │ handle_arrival            ┌────────────┐
//!              │ handle_timeout    ┌────▼────┐  handle_response     │    Done    │
//!              │ (retry due)       │ Arrived │ ───────────────────▶ │ (held in   │
//!          ┌───┴─────┐             └─────────┘                      │ the window)│
//!          │ Waiting │ ◀── a transient failure, retried             └─────┬──────┘
//!          └─────────┘     (or, for good: the sweep fails after       │ every page before
//!                           the pages before it are handed out)       ▼ it handed out
//!                                                               Event::Page (poll_event)
//! ```
//!
//! - planned by [`plan`]: the first page at the start, then what each
//!   answer says comes next (a cursor, a link), or pages up to the total,
//!   a few at a time; a checkpoint's pages on resume ([`restore`]);
//! - **Queued → InFlight**: [`Sweep::poll_request`], within the concurrency
//!   and the window;
//! - **InFlight → Arrived**: [`Sweep::handle_arrival`] (optional): off the
//!   wire, still in the window;
//! - **→ Done**, **→ Waiting** or **→ Queued** (a redirect):
//!   [`Sweep::handle_response`] ([`answer`], through `core/exchange.rs`);
//! - **Waiting → Queued**: [`Sweep::handle_timeout`] once the retry is due;
//! - **Done → handed out**: in page order, once every page before it is.
//!
//! Loops and copies are caught on the way ([`digests`]); what the sweep
//! hands out and tells is in [`report`].
//!
//! ```
//! use pagewise::{Api, ErrorKind, ListOptions, Pagination, Total};
//! use pagewise::core::{Event, Response, Sweep};
//! use std::time::Duration;
//! use web_time::Instant;
//!
//! let api = Api::builder("https://api.example/v1/")
//!     .records_at("/data")
//!     .page_size(2)
//!     .pagination(Pagination::offset().total(Total::pointer("/total")))
//!     .build()?;
//! let now = Instant::now();
//! let mut sweep = Sweep::new(api.spec(), ListOptions::new("items"), now)?;
//! // Queued -> InFlight.
//! let first = sweep.poll_request().unwrap();
//! // InFlight -> Waiting: a 503 with Retry-After.
//! let busy = Response::new(503, "busy").with_header("Retry-After", "1");
//! sweep.handle_response(first.id(), Ok(busy), now);
//! assert!(sweep.poll_request().is_none());
//! let due = sweep.poll_timeout().unwrap();
//! assert!(due >= now + Duration::from_secs(1));
//! // Waiting -> Queued -> InFlight, again.
//! sweep.handle_timeout(due);
//! let again = sweep.poll_request().unwrap();
//! assert_eq!(again.url(), first.url());
//! // InFlight -> Arrived -> Done -> handed out; the total plans the next page.
//! sweep.handle_arrival(again.id());
//! sweep.handle_response(again.id(), Ok(Response::new(200, r#"{"total":3,"data":[{"id":1},{"id":2}]}"#)), due);
//! assert!(matches!(sweep.poll_event(), Some(Event::Page(p)) if p.index == 0));
//! let second = sweep.poll_request().unwrap();
//! // InFlight -> Queued: a redirect, followed on the API's origin.
//! let moved = Response::new(302, "").with_header("Location", "/v1/items?offset=2&limit=2&moved=1");
//! sweep.handle_response(second.id(), Ok(moved), due);
//! let moved = sweep.poll_request().unwrap();
//! assert!(moved.url().ends_with("moved=1"));
//! sweep.handle_response(moved.id(), Ok(Response::new(200, r#"{"total":3,"data":[{"id":3}]}"#)), due);
//! assert!(matches!(sweep.poll_event(), Some(Event::Page(p)) if p.index == 1));
//! // Finished.
//! match sweep.poll_event() {
//!     Some(Event::Finished(report)) => {
//!         assert_eq!((report.records, report.retries.server_error + report.retries.throttled), (3, 1))
//!     }
//!     other => panic!("{other:?}"),
//! }
//! assert!(sweep.is_done());
//!
//! // Failed: a 404 is not retried.
//! let mut sweep = Sweep::new(api.spec(), ListOptions::new("gone"), now)?;
//! let request = sweep.poll_request().unwrap();
//! sweep.handle_response(request.id(), Ok(Response::new(404, "no such collection")), now);
//! match sweep.poll_event() {
//!     Some(Event::Failed(e)) => assert_eq!(e.status(), Some(404)),
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), pagewise::Error>(())
//! ```

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};
use std::hash::Hasher;
use std::sync::Arc;
use std::time::Duration;

use super::url::Url;
use web_time::Instant;

use super::api::ApiSpec;
use super::checkpoint::{insert_sorted, Checkpoint, Done, Learnt, PageRef, PendingPage};
use super::delta::Delta;
use super::exchange::{self, take_request, Verdict};
use super::http::{Header, Method, Request, RequestId, Response, TransportError};
use super::options::{check_sizes, ListOptions, Order};
use super::page::{self, Body, DecodeError, Records};
use super::pagination::{Link, Pagination, Total};
use super::retry::{Failure, Retrier, RetryCause};
use super::usage::ApiUsage;
use crate::error::{Error, ErrorKind, Result};

mod answer;
mod digests;
mod plan;
mod report;
mod restore;
mod slots;

use self::digests::{digest, remember, seen_digest, Digests};
pub use self::report::{Event, Notice, Progress, RawPage, Report, MAX_NOTICES};
pub(crate) use self::slots::{Key, Target};
use self::slots::{Slot, SlotState, Slots};

/// The jitter seed of a sweep whose options name none.
const DEFAULT_SEED: u64 = 0x005E_ED0F_5EED;
/// The longest cursor, next-page link or keyset value accepted, in bytes:
/// a longer one is an [`ErrorKind::Limit`] error naming the page. Real ones
/// are far shorter; the sweep holds a few of them (in its plan and its
/// checkpoint), so this bounds what a server can make it hold.
pub const MAX_LINK_LEN: usize = 64 * 1024;
/// How far the reorder window stretches while pages wait out a retry delay:
/// at most this many times concurrency + window pages held or in flight.
/// Each page waiting adds concurrency + window (one page waiting: twice
/// that), so one throttled page does not stop the sweep for its wait, and a
/// server that turns away a share of all requests (load shedding) does not
/// hold a sweep in page order to the pace of its slowest page: a page in
/// seven shed with `Retry-After: 1` keeps a dozen or so waiting at once at
/// concurrency 16, and the pages fetched meanwhile must wait in order.
pub const MAX_RETRY_STRETCH: usize = 16;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    Finished,
    Failed,
}

/// A sweep over a collection: the pagination state machine.
///
/// Drive it with the run-loop contract of the crate docs: after any input,
/// send every request from [`poll_request`](Sweep::poll_request) and take
/// events from [`poll_event`](Sweep::poll_event); then wait for an answer
/// (hand it to [`handle_response`](Sweep::handle_response)) or for
/// [`poll_timeout`](Sweep::poll_timeout) (then call
/// [`handle_timeout`](Sweep::handle_timeout)).
///
/// ```
/// use pagewise::{Api, ListOptions, Pagination, Total};
/// use pagewise::core::{Event, Response, Sweep};
/// use web_time::Instant;
///
/// let api = Api::builder("https://api.example/v1/")
///     .records_at("/data")
///     .page_size(2)
///     .pagination(Pagination::offset().total(Total::pointer("/total")))
///     .build()?;
/// let now = Instant::now();
/// let mut sweep = Sweep::new(api.spec(), ListOptions::new("items"), now)?;
/// let first = sweep.poll_request().unwrap();
/// assert_eq!(first.url(), "https://api.example/v1/items?offset=0&limit=2");
/// assert!(sweep.poll_request().is_none(), "the total is not known yet");
/// sweep.handle_response(first.id(), Ok(Response::new(200, r#"{"total":3,"data":[{"id":1},{"id":2}]}"#)), now);
/// let second = sweep.poll_request().unwrap();
/// assert_eq!(second.url(), "https://api.example/v1/items?offset=2&limit=2");
/// sweep.handle_response(second.id(), Ok(Response::new(200, r#"{"total":3,"data":[{"id":3}]}"#)), now);
/// let mut records = 0;
/// while let Some(event) = sweep.poll_event() {
///     match event {
///         Event::Page(page) => records += page.records.len(),
///         Event::Finished(report) => assert_eq!(report.complete, Some(true)),
///         other => panic!("{other:?}"),
///     }
/// }
/// assert_eq!(records, 3);
/// # Ok::<(), pagewise::Error>(())
/// ```
pub struct Sweep {
    spec: Arc<ApiSpec>,
    collection: Url,
    page_size: u64,
    concurrency: usize,
    window: usize,
    order: Order,
    deadline: Option<Instant>,
    slots: Slots,
    /// Requests sent and not answered (at most `concurrency`, and a few
    /// dropped after a failure): a list is enough, and smaller than a map.
    in_flight: Vec<(RequestId, Key)>,
    /// Requests whose answer has come in but is not handed over yet (see
    /// [`handle_arrival`](Sweep::handle_arrival)): off the wire, so not
    /// counted against `concurrency`; their pages still count in the window.
    arrived: Vec<(RequestId, Key)>,
    next_id: u64,
    /// This sweep's number, given by its driver (see `Request::in_order`).
    serial: u64,
    next_seq: u64,
    events: VecDeque<Event>,
    queued_pages: usize,
    /// Slots in the `Done` state (finished, waiting for an earlier page).
    done_slots: usize,
    /// Finished pages not yet emitted, in completion order.
    ready: VecDeque<Key>,
    state: State,
    start: Instant,
    report: Report,
    // What the dialect has learnt so far.
    total: Option<u64>,
    effective_size: u64,
    fanned_out: bool,
    planned_end: u64,
    largest_page: u64,
    /// Digests ([`seen_digest`]) of every cursor, next URL and keyset value
    /// seen: 8 bytes each, whatever their length.
    seen: HashSet<u64>,
    /// The latest of those seen, as a checkpoint shows them (credentials
    /// removed once, when seen), at most [`SEEN_KEPT`] and [`SEEN_KEPT_BYTES`].
    recent: VecDeque<String>,
    /// The collection's URL as a checkpoint shows it (credentials removed).
    collection_shown: String,
    total_missing_noted: bool,
    retrier: Retrier,
    /// Pages waiting to be retried, by due instant.
    waiting: BinaryHeap<Reverse<(Instant, Key)>>,
    throttled_until: Option<Instant>,
    verify: bool,
    /// A page that failed for good, and its error: raised once every page
    /// before it is handed out.
    failing: Option<(Key, Error)>,
    /// Pages dropped by a failure before they were handed out (the failed
    /// page, the pages after it, those cut off when the sweep failed): a
    /// checkpoint taken after the failure still holds them as pending, so
    /// a sweep resumed from it fetches them (and loses no record).
    abandoned: Vec<(Key, Target, u64)>,
    delta: Option<Delta>,
    /// Records left out by the delta filter (seen at the watermark before).
    dropped: u64,
    /// The largest total accepted from the API.
    max_total: u64,
    /// Digests of pages' records, to catch two pages answered alike
    /// (`None`: repeated pages are allowed).
    digests: Option<Digests>,
    /// An empty page came back before the announced total: no page is
    /// planned any more.
    stopped: bool,
    /// Something seen says rows may be missing even if the count matches.
    doubt: bool,
    /// The JSON body template of POST pages (`ListOptions::body`).
    body: Option<serde_json::Value>,
    /// [`Notice::ApiUsageHigh`] was raised.
    usage_noticed: bool,
}

impl Sweep {
    /// A new sweep of `options.path` on the API `spec`, starting at `now`.
    ///
    /// Fails with [`ErrorKind::Url`] if the collection path does not resolve
    /// and [`ErrorKind::Config`] for a page size, concurrency or window of 0,
    /// or a concurrency or window above [`ListOptions::MAX_CONCURRENCY`] /
    /// [`ListOptions::MAX_WINDOW`].
    pub fn new(spec: &Arc<ApiSpec>, options: ListOptions, now: Instant) -> Result<Self> {
        let page_size = options.page_size.unwrap_or(spec.page_size);
        if page_size == 0 {
            return Err(Error::config("page_size must be at least 1"));
        }
        // The API's own sizes are checked too: an `ApiSpec` may come from
        // somewhere else than `ApiBuilder::build`.
        check_sizes(spec.concurrency, spec.window)?;
        if let Some(c) = options.concurrency {
            check_sizes(c, None)?;
        }
        let concurrency = options
            .concurrency
            .unwrap_or(spec.concurrency)
            .min(spec.concurrency);
        let window = options.window.or(spec.window).unwrap_or(concurrency);
        check_sizes(concurrency, Some(window))?;
        if let Some(template) = &options.body {
            check_body(template, &spec.pagination)?;
        }
        let query = &options.query;
        let from = options
            .resume
            .as_ref()
            .and_then(|c| c.since.clone())
            .or(options.since.clone());
        let mut collection = spec.url_for(&options.path, query)?;
        if let Some(w) = &from {
            // On the whole URL: the parameter may come from the path, the
            // list's query or the API's default query.
            spec.delta.apply(&mut collection, &w.field, &w.value)?;
        }
        let delta = from.map(|w| Delta::new(w, &spec.delta));
        let first = match &spec.pagination {
            Pagination::Offset(_) => Target::Offset {
                offset: 0,
                limit: page_size,
            },
            Pagination::PageNumber(p) => Target::Page(p.first_page),
            Pagination::Cursor(_) => Target::Cursor(None),
            Pagination::NextUrl(n) => {
                let mut url = collection.clone();
                if let Some(limit) = &n.limit_param {
                    url.append_query_pairs([(limit.as_str(), page_size.to_string().as_str())]);
                }
                Target::Url(url)
            }
            Pagination::Keyset(_) => Target::Keyset(None),
        };
        let mut seen = HashSet::new();
        let mut recent = VecDeque::new();
        if let Target::Url(url) = &first {
            // A link back to the first page is a URL seen twice too.
            seen.insert(seen_digest(url.as_str()));
            remember(&mut recent, spec.secrets.strip_url(url.as_str()));
        }
        let mut slots = Slots::default();
        slots.insert((0, 0), Slot::new(first));
        let collection_shown = spec.secrets.strip_url(collection.as_str());
        let mut sweep = Sweep {
            spec: spec.clone(),
            collection,
            page_size,
            concurrency,
            window,
            order: options.order,
            deadline: options.deadline.map(|d| now + d),
            slots,
            in_flight: Vec::new(),
            arrived: Vec::new(),
            next_id: 0,
            // Until the driver numbers the sweep (`with_serial`): the seed,
            // which drivers draw at random for each sweep.
            serial: options.seed.unwrap_or(DEFAULT_SEED),
            next_seq: 1,
            events: VecDeque::new(),
            queued_pages: 0,
            done_slots: 0,
            ready: VecDeque::new(),
            state: State::Running,
            start: now,
            report: Report::default(),
            total: None,
            effective_size: page_size,
            fanned_out: false,
            planned_end: 0,
            largest_page: 0,
            seen,
            recent,
            collection_shown,
            total_missing_noted: false,
            retrier: Retrier::new(
                options.retry.clone().unwrap_or_else(|| spec.retry.clone()),
                options.seed.unwrap_or(DEFAULT_SEED),
            ),
            waiting: BinaryHeap::new(),
            throttled_until: None,
            verify: options.verify,
            failing: None,
            abandoned: Vec::new(),
            delta,
            dropped: 0,
            // A checkpoint saves the total: no more than it can hold.
            max_total: options.max_total.min(Checkpoint::MAX_NUMBER),
            digests: (!options.allow_repeated_pages).then(|| Digests {
                first: None,
                latest: VecDeque::new(),
                kept: concurrency.saturating_add(window).saturating_mul(2),
            }),
            stopped: false,
            doubt: false,
            body: options.body.clone(),
            usage_noticed: false,
        };
        if let Some(c) = options.resume {
            sweep.restore(c)?;
            sweep.top_up();
            // A checkpoint of a sweep that had handed out everything leaves
            // nothing to fetch: the sweep ends at once.
            sweep.finish_if_done();
        }
        Ok(sweep)
    }

    /// Numbers this sweep among those a driver runs side by side in one
    /// transport (see `Request::in_order`): the driver gives each sweep its
    /// own number, as it gives each its own seed. Without it the sweep takes
    /// its seed for a number.
    pub fn with_serial(mut self, serial: u64) -> Self {
        self.serial = serial;
        self
    }

    /// The next request to send, if the sweep wants one now.
    ///
    /// At most `concurrency` requests are outstanding, and only pages within
    /// `concurrency + window` of the oldest page not yet handed out are asked
    /// for, which bounds the pages held in memory. While a page waits out a
    /// retry delay (a server's `Retry-After`, a backoff), the bound doubles, so
    /// the pages after it go on arriving in the meantime; each further page
    /// waiting adds concurrency + window again, up to [`MAX_RETRY_STRETCH`]
    /// times concurrency + window.
    #[must_use]
    pub fn poll_request(&mut self) -> Option<Request> {
        let key = self.next_to_send()?;
        let url = self.url_of(&self.slots[&key]);
        let id = RequestId(self.next_id);
        self.next_id += 1;
        let slot = self.slots.get_mut(&key).expect("slot exists");
        slot.state = SlotState::InFlight;
        slot.sent = Some(url.clone());
        self.in_flight.push((id, key));
        let slot = &self.slots[&key];
        let (method, body) = match &self.body {
            Some(template) => {
                let filled = fill_body(template, &slot.target, self.page_size);
                (Method::Post, Some(filled.to_string().into_bytes()))
            }
            None => (Method::Get, None),
        };
        let range = match slot.target {
            Target::Offset { offset, limit } if self.spec.pagination.range_header() => {
                Some(range_header(offset, limit))
            }
            _ => None,
        };
        let mut request = self.spec.request(id, method, url, body);
        if let Some(range) = range {
            request.headers.push(Header {
                name: "Range-Unit".into(),
                value: "items".into(),
                sensitive: false,
            });
            request.headers.push(Header {
                name: "Range".into(),
                value: range,
                sensitive: false,
            });
        }
        // Only the records' count is read unless a keyset field or the delta
        // filter looks into them: a transport may then parse the body itself.
        if self.delta.is_none() && !matches!(self.spec.pagination, Pagination::Keyset(_)) {
            request.records_at = Some(self.spec.records_at.clone());
            if self.order == Order::Page {
                // Keys in page order as one number: a gap fill between two
                // planned pages sorts between them.
                let place = (key.0 << 16) | u64::from(key.1.min(0xffff));
                request.in_order = Some((self.serial, place));
            }
        }
        Some(request)
    }

    /// The page to ask for next, if one may be asked for now.
    ///
    /// The window counts pages, not positions: a gap fill inserted between
    /// pages already sent must not let more than concurrency + window pages
    /// (more while pages wait out a retry: see `retry_stretch`) be held or
    /// in flight. The
    /// earliest queued page always goes first, so the oldest page not yet
    /// handed out is never starved.
    ///
    /// The oldest page not yet handed out (the first slot) goes whenever the
    /// concurrency allows and the caller has taken its events: the pages
    /// finished after it wait for it, and only it can release them. They may
    /// fill the window: pages fetched while the bound was doubled, when the
    /// page that waited out its retry comes back short and the rest of its
    /// range (a new page, never retried) is the first slot, with the bound
    /// back to concurrency + window. Counting them would keep the sweep
    /// waiting for itself, with nothing in flight and nothing to wait for.
    fn next_to_send(&self) -> Option<Key> {
        if self.state != State::Running || self.in_flight.len() >= self.concurrency {
            return None;
        }
        let (key, slot) = self
            .slots
            .iter()
            .find(|(_, s)| matches!(s.state, SlotState::Queued))?;
        // A page waiting for its retry keeps its place in the window, so later
        // pages cannot fill the window while the oldest page is still missing.
        // While a page waits out its retry delay (a server's `Retry-After` is
        // often a whole second), and until it has gone again, the bound
        // doubles: one throttled page does not stop the sweep for its wait;
        // each further page waiting stretches it again (`retry_stretch`).
        let bound = self
            .concurrency
            .saturating_add(self.window)
            .saturating_mul(self.retry_stretch(slot.retries > 0));
        let held = self.in_flight.len() + self.arrived.len() + self.waiting.len();
        let first = self.slots.first().is_some_and(|(k, _)| k == key);
        // The events not taken yet still count: a slow consumer stops requests.
        let buffered = if first {
            self.queued_pages
        } else {
            self.buffered_pages()
        };
        if held + buffered >= bound {
            return None;
        }
        Some(*key)
    }

    /// How many times concurrency + window pages may be held or in flight
    /// now: once, plus once for each page waiting out a retry delay (and
    /// for a retried page about to go again), at most [`MAX_RETRY_STRETCH`].
    /// Pages waiting out a server's `Retry-After` hold the head of the
    /// window back for as long: the more of them, the more pages the sweep
    /// fetches meanwhile, within the bound.
    fn retry_stretch(&self, sending_retry: bool) -> usize {
        let waiting = self.waiting.len() + usize::from(sending_retry);
        waiting.saturating_add(1).min(MAX_RETRY_STRETCH)
    }

    /// Whether the sweep can go on by itself: it has ended, or it has a
    /// request to send, a request in flight, a timeout to wait for, or pages
    /// for the caller to take (taking them makes room). Otherwise a driver
    /// following the run-loop contract would wait forever.
    fn can_go_on(&self) -> bool {
        self.state != State::Running
            || !self.in_flight.is_empty()
            || !self.arrived.is_empty()
            || self.queued_pages > 0
            || self.poll_timeout().is_some()
    }

    /// The next event for the caller, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        let ev = self.events.pop_front()?;
        if matches!(ev, Event::Page(_)) {
            self.queued_pages -= 1;
            debug_assert!(self.can_go_on(), "a sweep stuck: {self:?}");
        }
        Some(ev)
    }

    /// When the sweep next needs [`handle_timeout`](Sweep::handle_timeout) called.
    #[must_use]
    ///
    /// An instant already past means "now": taking events made room for more
    /// requests, so call [`handle_timeout`](Sweep::handle_timeout) and go back
    /// to [`poll_request`](Sweep::poll_request).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state != State::Running {
            return None;
        }
        // Without this, a driver that sends, then takes every event, then waits
        // would wait forever after an answer that released a full window.
        let wake = self
            .next_to_send()
            .map(|_| self.start + self.report.duration);
        let retry = self.waiting.peek().map(|Reverse((at, _))| *at);
        [wake, self.deadline, retry].into_iter().flatten().min()
    }

    /// Lets time pass: pages whose retry is due are queued again; past the
    /// deadline, the sweep fails with [`ErrorKind::Timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((at, key))) = self.waiting.peek() {
            if at > now {
                break;
            }
            self.waiting.pop();
            if let Some(slot) = self.slots.get_mut(&key) {
                slot.state = SlotState::Queued;
            }
        }
        if self.state == State::Running && self.deadline.is_some_and(|d| now >= d) {
            let err = Error::new(
                ErrorKind::Timeout,
                format!(
                    "the sweep did not finish within its deadline ({})",
                    crate::error::duration(self.deadline.unwrap() - self.start)
                ),
            )
            .with_url(self.spec.redact(self.collection.as_str()));
            self.fail(err);
        }
        debug_assert!(self.can_go_on(), "a sweep stuck: {self:?}");
    }

    /// Tells the sweep that the answer to request `id` has come in and will
    /// be handed over later (a transport that reads or parses a page some
    /// time after it arrived): the request is off the wire, so the next one
    /// may go now, within the concurrency; its page still counts in the
    /// window until [`handle_response`](Sweep::handle_response) hands the
    /// answer over, which must follow. Unknown ids are ignored.
    ///
    /// ```
    /// use pagewise::{Api, ListOptions, Pagination, Total};
    /// use pagewise::core::{Response, Sweep};
    /// use web_time::Instant;
    ///
    /// let api = Api::builder("https://api.example/v1/")
    ///     .records_at("/data")
    ///     .page_size(2)
    ///     .concurrency(1)
    ///     .pagination(Pagination::offset().total(Total::pointer("/total")))
    ///     .build()?;
    /// let now = Instant::now();
    /// let mut sweep = Sweep::new(api.spec(), ListOptions::new("items"), now)?;
    /// let first = sweep.poll_request().unwrap();
    /// sweep.handle_response(first.id(), Ok(Response::new(200, r#"{"total":5,"data":[{"id":1},{"id":2}]}"#)), now);
    /// while sweep.poll_event().is_some() {} // the first page, handed out
    /// let second = sweep.poll_request().unwrap();
    /// assert!(sweep.poll_request().is_none(), "concurrency 1");
    /// // The second page is in, to be parsed later: the third may go.
    /// sweep.handle_arrival(second.id());
    /// let third = sweep.poll_request().unwrap();
    /// assert_eq!(third.url(), "https://api.example/v1/items?offset=4&limit=2");
    /// assert_eq!(sweep.in_flight(), 2);
    /// sweep.handle_response(second.id(), Ok(Response::new(200, r#"{"total":5,"data":[{"id":3},{"id":4}]}"#)), now);
    /// assert_eq!(sweep.in_flight(), 1);
    /// # Ok::<(), pagewise::Error>(())
    /// ```
    pub fn handle_arrival(&mut self, id: RequestId) {
        if let Some(key) = take_request(&mut self.in_flight, id) {
            self.arrived.push((id, key));
        }
    }

    /// Hands the answer to request `id` to the sweep. Answers to unknown ids
    /// (a request of a failed sweep, say) are ignored.
    pub fn handle_response(
        &mut self,
        id: RequestId,
        response: std::result::Result<Response, TransportError>,
        now: Instant,
    ) {
        let Some(key) =
            take_request(&mut self.in_flight, id).or_else(|| take_request(&mut self.arrived, id))
        else {
            return;
        };
        if self.state != State::Running {
            return;
        }
        self.report.requests += 1;
        if let Ok(resp) = &response {
            self.see_usage(resp);
        }
        if !self.slots.contains_key(&key) {
            // A page dropped after a failure further up: nothing to do.
            self.finish_if_done();
            return;
        }
        match self.on_answer(key, response) {
            Ok(()) => {
                self.retrier.on_success();
                self.emit();
            }
            Err(Fail(err, Some(failure))) => self.retry_or_fail(key, err, failure, now),
            Err(Fail(err, None)) => self.fail_at(key, err),
        }
        self.top_up();
        self.report.duration = now.saturating_duration_since(self.start);
        self.finish_if_done();
        debug_assert!(self.can_go_on(), "a sweep stuck: {self:?}");
    }

    /// Pages held by the sweep now: finished but waiting for an earlier page,
    /// or waiting in the event queue.
    pub fn buffered_pages(&self) -> usize {
        self.queued_pages + self.done_slots
    }

    /// Requests sent and not yet answered (counting those whose answer came
    /// in and is not handed over yet).
    pub fn in_flight(&self) -> usize {
        self.in_flight.len() + self.arrived.len()
    }

    /// The report so far (final once [`Event::Finished`] was handed out).
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Whether the sweep has ended (finished or failed).
    pub fn is_done(&self) -> bool {
        self.state != State::Running
    }

    /// How far the sweep is, at `now`.
    pub fn progress(&self, now: Instant) -> Progress {
        let elapsed = now.saturating_duration_since(self.start);
        let pages_total = (self.fanned_out || self.state == State::Finished)
            .then(|| self.report.pages + self.slots.len() as u64 + self.unplanned_pages());
        // Pages still in the event queue have not reached the caller.
        let (mut queued_records, mut queued_pages) = (0u64, 0u64);
        for ev in &self.events {
            if let Event::Page(p) = ev {
                queued_records += p.records.len() as u64;
                queued_pages += 1;
            }
        }
        let pages = self.report.pages - queued_pages;
        let records = self.report.records - queued_records;
        // `Duration::mul_f64` panics past what a `Duration` holds (a bogus
        // total of 2^53 records, a few records in, an hour along): no ETA then.
        let scale = |ratio: f64| Duration::try_from_secs_f64(elapsed.as_secs_f64() * ratio).ok();
        let eta = match (self.total, pages_total) {
            _ if self.state == State::Finished => Some(Duration::ZERO),
            (Some(total), _) if records > 0 => {
                scale(total.saturating_sub(records + self.dropped) as f64 / records as f64)
            }
            (_, Some(pt)) if pages > 0 => scale((pt - pages) as f64 / pages as f64),
            _ => None,
        };
        Progress {
            pages,
            pages_total,
            records,
            records_total: self.total,
            bytes: self.report.bytes,
            retries: self.report.retries.total(),
            retries_by_cause: self.report.retries.clone(),
            throttled: self.report.throttled,
            elapsed,
            eta,
        }
    }

    fn url_of(&self, slot: &Slot) -> Url {
        if let Some(u) = &slot.redirected_to {
            return u.clone();
        }
        let size = self.page_size.to_string();
        let mut url = self.collection.clone();
        if self.body.is_some() {
            // The page parameters go in the body; a next link is the URL.
            if let Target::Url(u) = &slot.target {
                url = u.clone();
            }
            return url;
        }
        match (&slot.target, &self.spec.pagination) {
            (Target::Offset { .. }, Pagination::Offset(o)) if o.range => {}
            (Target::Offset { offset, limit }, Pagination::Offset(o)) => {
                url.append_query_pairs([
                    (o.offset_param.as_str(), offset.to_string().as_str()),
                    (o.limit_param.as_str(), limit.to_string().as_str()),
                ]);
            }
            (Target::Page(n), Pagination::PageNumber(p)) => {
                let n = n.to_string();
                let pairs = [(p.page_param.as_str(), n.as_str())]
                    .into_iter()
                    .chain(p.size_param.as_deref().map(|s| (s, size.as_str())));
                url.append_query_pairs(pairs);
            }
            // The query is only touched when there is something to add (no bare `?`).
            (Target::Cursor(c), Pagination::Cursor(cfg)) => {
                let pairs = c
                    .as_ref()
                    .map(|c| (cfg.cursor_param.as_str(), c.as_str()))
                    .into_iter()
                    .chain(cfg.limit_param.as_deref().map(|l| (l, size.as_str())));
                url.append_query_pairs(pairs);
            }
            (Target::Url(u), _) => url = u.clone(),
            (Target::Keyset(v), Pagination::Keyset(k)) => {
                let value = v.as_ref().map(|v| k.value.replace("{value}", v));
                let pairs = value
                    .as_ref()
                    .map(|v| (k.param.as_str(), v.as_str()))
                    .into_iter()
                    .chain(k.limit_param.as_deref().map(|l| (l, size.as_str())));
                url.append_query_pairs(pairs);
            }
            _ => unreachable!("targets are made for the API's own dialect"),
        }
        url
    }

    fn page_error(&self, key: Key, kind: ErrorKind, message: impl Into<String>) -> Error {
        self.on_page(key, Error::new(kind, message))
    }

    /// `err` about the page at `key`: its URL and number.
    fn on_page(&self, key: Key, err: Error) -> Error {
        let slot = &self.slots[&key];
        let url = slot
            .sent
            .as_ref()
            .map(|u| self.spec.redact_parsed(u))
            .unwrap_or_default();
        err.with_url(url).with_page(key.0)
    }

    /// Keeps the API usage `resp` announces; the first at 90% of the limit
    /// raises [`Notice::ApiUsageHigh`].
    fn see_usage(&mut self, resp: &Response) {
        let Some(seen) = ApiUsage::of(resp) else {
            return;
        };
        ApiUsage::update(&mut self.report.api_usage, seen);
        if seen.is_high() && !std::mem::replace(&mut self.usage_noticed, true) {
            self.notice(Notice::ApiUsageHigh {
                used: seen.used,
                limit: seen.limit,
            });
        }
    }

    fn notice(&mut self, n: Notice) {
        self.spec
            .observer
            .emit_with(crate::core::TARGET_SWEEP, log::Level::Warn, || {
                crate::core::ApiEvent::Notice(n.clone())
            });
        if self.report.notices.len() < MAX_NOTICES {
            self.report.notices.push(n.clone());
        } else {
            self.report.notices_dropped += 1;
        }
        self.events.push_back(Event::Notice(n));
    }

    /// Moves finished pages to the event queue: in page order, only the
    /// finished pages at the head; in completion order, all of them.
    fn emit(&mut self) {
        loop {
            let key = match self.order {
                Order::Page => match self.slots.first() {
                    Some((k, s)) if matches!(s.state, SlotState::Done(_)) => *k,
                    _ => break,
                },
                Order::Completion => match self.ready.pop_front() {
                    Some(k) => k,
                    None => break,
                },
            };
            let slot = self.slots.remove(&key).expect("slot exists");
            let SlotState::Done(records) = slot.state else {
                unreachable!()
            };
            let origin = Some((key, slot.target.clone(), slot.skip));
            self.done_slots -= 1;
            let url = slot
                .sent
                .map(|u| self.spec.redact_parsed(&u))
                .unwrap_or_default();
            self.report.records += records.len() as u64;
            let index = self.report.pages;
            self.report.pages += 1;
            self.queued_pages += 1;
            self.events.push_back(Event::Page(RawPage {
                index,
                url,
                records,
                origin,
            }));
        }
    }

    fn finish_if_done(&mut self) {
        if self.state == State::Running && self.slots.is_empty() {
            if let Some((_, err)) = self.failing.take() {
                self.fail(err);
                return;
            }
            let got = self.report.records + self.dropped;
            self.report.complete = self.total.map(|t| t == got && !self.doubt);
            self.report.watermark = self.delta.as_ref().map(|d| d.reached().clone());
            self.report.changed_during_sweep = self.report.notices.iter().any(|n| {
                matches!(
                    n,
                    Notice::TotalChanged { .. }
                        | Notice::ShortPage { .. }
                        | Notice::OversizedPage { .. }
                )
            }) || self.report.notices_dropped > 0; // TotalMissing and ApiUsageHigh are no change, and come once
            let changed = self.report.changed_during_sweep;
            if self.verify && (self.report.complete == Some(false) || changed) {
                let total = self.total.unwrap_or(0);
                let got = self.report.records + self.dropped;
                let message = if got < total {
                    format!(
                        "the sweep is incomplete: {} of {total} records missing",
                        total - got
                    )
                } else if got > total {
                    format!(
                        "the sweep is not exact: {} records more than the total of {total}",
                        got - total
                    )
                } else {
                    "the collection changed during the sweep (see the report's notices): \
                     rows may have been missed or handed out twice; a keyset or cursor \
                     sweep follows the data"
                        .to_string()
                };
                let err = Error::new(ErrorKind::Incomplete, message)
                    .with_url(self.spec.redact(self.collection.as_str()));
                self.fail(err);
                return;
            }
            self.state = State::Finished;
            let r = &self.report;
            self.spec
                .observer
                .emit_with(crate::core::TARGET_SWEEP, log::Level::Info, || {
                    crate::core::ApiEvent::SweepFinished {
                        records: r.records,
                        pages: r.pages,
                        requests: r.requests,
                        duration: r.duration,
                        complete: r.complete,
                    }
                });
            self.events.push_back(Event::Finished(self.report.clone()));
        }
    }

    /// The page at `key` failed for good. Pages before it still finish and
    /// are handed out (so a caller gets every record up to the failure);
    /// pages after it are dropped; then the sweep fails with `err`.
    fn fail_at(&mut self, key: Key, err: Error) {
        if self.failing.as_ref().is_some_and(|(k, _)| *k < key) {
            return;
        }
        for (k, slot) in self.slots.split_off(&key) {
            if matches!(slot.state, SlotState::Done(_)) {
                self.done_slots -= 1;
            }
            self.abandoned.push((k, slot.target, slot.skip));
        }
        self.waiting.retain(|Reverse((_, k))| *k < key);
        self.ready.retain(|k| *k < key);
        // Requests for dropped pages stay counted in flight until answered
        // (they still occupy the transport); their answers are ignored.
        self.failing = Some((key, err));
        self.emit();
        self.finish_if_done();
    }

    fn fail(&mut self, err: Error) {
        self.state = State::Failed;
        // Pages that finished before the failure and precede it stay deliverable.
        self.emit();
        for (k, slot) in self.slots.split_off(&(0, 0)) {
            self.abandoned.push((k, slot.target, slot.skip));
        }
        self.waiting.clear();
        self.done_slots = 0;
        self.ready.clear();
        self.in_flight.clear();
        self.arrived.clear();
        self.events.push_back(Event::Failed(err));
    }
}

/// A failed answer: the error to report, and how to retry it if it may be.
struct Fail(Error, Option<Failure>);

enum Planned {
    Decode(DecodeError),
    Error(Error),
}

impl From<DecodeError> for Planned {
    fn from(e: DecodeError) -> Self {
        Planned::Decode(e)
    }
}

/// The `Range` header of the records `offset` to `offset + limit - 1`.
fn range_header(offset: u64, limit: u64) -> String {
    let last = offset.saturating_add(limit.max(1) - 1);
    format!("{offset}-{last}")
}

/// The placeholder the dialect's own page parameter needs in a body template.
fn body_placeholder(pagination: &Pagination) -> Option<&'static str> {
    match pagination {
        Pagination::Offset(_) => Some("{offset}"),
        Pagination::PageNumber(_) => Some("{page}"),
        Pagination::Cursor(_) => Some("{cursor}"),
        Pagination::Keyset(_) => Some("{value}"),
        Pagination::NextUrl(_) => None,
    }
}

/// Whether `template` holds the string `placeholder` as a whole value somewhere.
fn has_placeholder(template: &serde_json::Value, placeholder: &str) -> bool {
    use serde_json::Value;
    match template {
        Value::String(s) => s == placeholder,
        Value::Array(a) => a.iter().any(|v| has_placeholder(v, placeholder)),
        Value::Object(o) => o.values().any(|v| has_placeholder(v, placeholder)),
        _ => false,
    }
}

/// A body template must carry the dialect's page parameter: without it every
/// request would ask for the same page.
fn check_body(template: &serde_json::Value, pagination: &Pagination) -> Result<()> {
    if pagination.range_header() {
        return Err(Error::config(
            "a list with a body template pages in the body: it cannot also page with \
             range headers (Offset::range_header)",
        ));
    }
    match body_placeholder(pagination) {
        Some(p) if !has_placeholder(template, p) => Err(Error::config(format!(
            "the body template has no \"{p}\" string for the {} dialect's page \
             parameter: every request would ask for the same page",
            pagination.name()
        ))),
        _ => Ok(()),
    }
}

/// `template` with its placeholders replaced by the page parameters of `target`.
fn fill_body(template: &serde_json::Value, target: &Target, page_size: u64) -> serde_json::Value {
    use serde_json::Value;
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
    let fill = |placeholder: &str| -> Option<Value> {
        Some(match (placeholder, target) {
            ("{offset}", Target::Offset { offset, .. }) => Value::from(*offset),
            ("{limit}", Target::Offset { limit, .. }) => Value::from(*limit),
            ("{limit}", _) => Value::from(page_size),
            ("{page}", Target::Page(n)) => Value::from(*n),
            ("{cursor}", Target::Cursor(c)) => text(c),
            ("{value}", Target::Keyset(v)) => text(v),
            _ => return None,
        })
    };
    fn walk(v: &Value, fill: &dyn Fn(&str) -> Option<Value>) -> Value {
        match v {
            Value::String(s) => fill(s).unwrap_or_else(|| v.clone()),
            Value::Array(a) => Value::Array(a.iter().map(|x| walk(x, fill)).collect()),
            Value::Object(o) => {
                Value::Object(o.iter().map(|(k, x)| (k.clone(), walk(x, fill))).collect())
            }
            _ => v.clone(),
        }
    }
    walk(template, &fill)
}

/// The message of a total above the ceiling.
fn too_large(total: u64, max: u64) -> String {
    if max >= Checkpoint::MAX_NUMBER {
        return format!(
            "the API announced a total of {total} records, more than any sweep accepts \
             ({max}, 2^53 - 1, the largest a checkpoint saves), whatever max_total \
             (npm: maxTotal) is"
        );
    }
    format!(
        "the API announced a total of {total} records, more than max_total ({max}); \
         if the total is right, raise max_total (npm: maxTotal)"
    )
}

fn short(s: &str) -> String {
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(60).collect();
        format!("{cut}…")
    } else {
        s.to_string()
    }
}

impl std::fmt::Debug for Sweep {
    // Written by hand: slots hold URLs that may echo a query credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sweep")
            .field("collection", &self.spec.redact(self.collection.as_str()))
            .field("state", &self.state)
            .field("page_size", &self.page_size)
            .field("concurrency", &self.concurrency)
            .field("window", &self.window)
            .field("order", &self.order)
            .field("planned_pages", &self.slots.len())
            .field("in_flight", &self.in_flight.len())
            .field("arrived", &self.arrived.len())
            .field("buffered_pages", &self.buffered_pages())
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

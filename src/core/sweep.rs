//! The sweep: one state machine that pulls every page of a collection in any
//! dialect, plans concurrent fan-out where the total is known, and hands pages
//! out in page order through a bounded reorder window (or in completion order).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};
use std::hash::Hasher;
use std::sync::Arc;
use std::time::Duration;

use super::url::Url;
use web_time::Instant;

use super::api::ApiSpec;
use super::checkpoint::{insert_sorted, Checkpoint, Done, Learnt, PageRef, PendingPage};
use super::delta::{Delta, Watermark};
use super::exchange::{self, take_request, Verdict};
use super::http::{Method, Request, RequestId, Response, TransportError};
use super::options::{check_sizes, ListOptions, Order};
use super::page::{self, Body, DecodeError, Records};
use super::pagination::{Link, Pagination, Total};
use super::retry::{Failure, Retrier, RetryCause, RetryCounts};
use crate::error::{Error, ErrorKind, Result};

/// The jitter seed of a sweep whose options name none.
const DEFAULT_SEED: u64 = 0x005E_ED0F_5EED;
/// Cursors and page URLs a checkpoint keeps of those seen (the latest), for
/// catching an API that sends one again after the sweep resumed. All of them
/// would make every checkpoint, and taking one, grow with the sweep.
const SEEN_KEPT: usize = 64;
/// Bytes of those cursors and page URLs a checkpoint keeps, at most: the
/// latest ones that fit (at least the latest one).
const SEEN_KEPT_BYTES: usize = 256 * 1024;
/// The longest cursor, next-page link or keyset value accepted, in bytes:
/// a longer one is an [`ErrorKind::Limit`] error naming the page. Real ones
/// are far shorter; the sweep holds a few of them (in its plan and its
/// checkpoint), so this bounds what a server can make it hold.
pub const MAX_LINK_LEN: usize = 64 * 1024;
/// Notices a [`Report`] keeps (the first ones); later ones are counted in
/// [`Report::notices_dropped`]. Each still comes as an [`Event::Notice`].
pub const MAX_NOTICES: usize = 100;

/// One page handed out by a sweep.
#[derive(Debug, Clone)]
pub struct RawPage {
    /// Position of this page in the sweep's page order (0-based).
    pub index: u64,
    /// The URL it was fetched from (credentials removed).
    pub url: String,
    /// Its records.
    pub records: Records,
    /// Which page of the plan this is, and how many of its records were
    /// left out at its start (already handed out before a checkpoint).
    pub(crate) origin: Option<(Key, Target, u64)>,
}

/// Something worth knowing that did not stop the sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// The API's total changed during the sweep: rows were added or removed
    /// while it ran, so an offset or page-number sweep may have missed or
    /// repeated some (a keyset or cursor sweep does not).
    TotalChanged {
        /// The total before.
        from: u64,
        /// The total now.
        to: u64,
        /// The page whose answer carried the new total.
        page: u64,
    },
    /// A page in the middle of a planned sweep had fewer records than asked for.
    /// For offset paging the missing range is fetched again; for page numbers it
    /// cannot be, and rows may be missing.
    ///
    /// An empty page (`got: 0`) before the announced total also ends the
    /// planning of new pages: the collection is taken to end there (the
    /// pages already planned, at most twice concurrency + window, are still
    /// fetched), so a total the server cannot back with records does not
    /// send the sweep through every page up to it. The report then does not
    /// claim the sweep complete.
    ShortPage {
        /// The page.
        page: u64,
        /// Records expected.
        expected: u64,
        /// Records received.
        got: u64,
    },
    /// An offset page had more records than asked for; the extra ones, which
    /// belong to the next page, were left out so no row is handed out twice.
    OversizedPage {
        /// The page.
        page: u64,
        /// Records asked for.
        asked: u64,
        /// Records received.
        got: u64,
    },
    /// A total was configured but the answer had none: the sweep walked pages in sequence.
    TotalMissing {
        /// The page whose answer had no total.
        page: u64,
    },
}

/// What a finished sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Records handed out.
    pub records: u64,
    /// Pages handed out.
    pub pages: u64,
    /// HTTP requests answered (redirects included).
    pub requests: u64,
    /// The total the API announced last, if it announces one.
    pub total: Option<u64>,
    /// `Some(true)` when the records handed out match the announced total
    /// and nothing seen contradicts it, `Some(false)` when they do not, or
    /// when rows may be missing all the same (the total changed during an
    /// offset or page-number sweep, a page-number page came back short, or
    /// an empty page ended the sweep before the total); `None` when the API
    /// announces no total.
    pub complete: Option<bool>,
    /// Time from the sweep's start to its end.
    pub duration: Duration,
    /// The most pages held at once (in the reorder window or waiting to be
    /// taken): at most concurrency + window, or twice that while a page
    /// waits out a retry delay.
    pub max_buffered_pages: usize,
    /// Notices raised along the way, in order: the first [`MAX_NOTICES`]
    /// (100) of them, so that a server that changes its total on every page
    /// does not grow the report with the sweep. Every notice still comes as
    /// an [`Event::Notice`] as it is raised.
    pub notices: Vec<Notice>,
    /// Notices raised once [`notices`](Report::notices) held [`MAX_NOTICES`]:
    /// counted, not kept.
    pub notices_dropped: u64,
    /// Retries, by cause.
    pub retries: RetryCounts,
    /// Time pages spent waiting because the server throttled (429, or 503
    /// with `Retry-After`), overlapping waits counted once.
    pub throttled: Duration,
    /// Bytes of page bodies received.
    pub bytes: u64,
    /// For a delta sync: where the next one starts (store it).
    pub watermark: Option<Watermark>,
    /// `true` when the collection changed under an offset or page-number
    /// sweep (its total changed, or a page came back shorter or longer than
    /// planned): rows may have been missed or handed out twice. Cursor and
    /// keyset sweeps follow the data and are not affected.
    pub changed_during_sweep: bool,
}

/// How far a long operation is, as `on_progress` callbacks receive it.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Progress {
    /// Pages handed out.
    pub pages: u64,
    /// Pages in all, when known (a total was announced, or the sweep ended).
    pub pages_total: Option<u64>,
    /// Records handed out.
    pub records: u64,
    /// Records in all, when the API announces a total.
    pub records_total: Option<u64>,
    /// Bytes of bodies received.
    pub bytes: u64,
    /// Requests retried.
    pub retries: u64,
    /// Time held back by the server's throttling.
    pub throttled: Duration,
    /// Time since the operation started (in this process).
    pub elapsed: Duration,
    /// Estimated time left, when it can be estimated.
    pub eta: Option<Duration>,
}

/// What a sweep tells its driver.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// The next page of records.
    Page(RawPage),
    /// Something worth knowing; also kept in the report.
    Notice(Notice),
    /// The sweep ended: every page was handed out.
    Finished(Report),
    /// The sweep failed; pages handed out before are intact. Nothing follows.
    Failed(Error),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Offset { offset: u64, limit: u64 },
    Page(u64),
    Cursor(Option<String>),
    Url(Url),
    Keyset(Option<String>),
}

#[derive(Debug)]
enum SlotState {
    Queued,
    InFlight,
    /// Failed transiently; queued again at this instant.
    Waiting,
    Done(Records),
}

#[derive(Debug)]
struct Slot {
    target: Target,
    state: SlotState,
    redirects: u8,
    /// Where a redirect sent this page.
    redirected_to: Option<Url>,
    /// The URL last requested for this page.
    sent: Option<Url>,
    /// Retries so far.
    retries: u32,
    /// Records at the start of the page to leave out (handed out before a checkpoint).
    skip: u64,
}

/// Pages are ordered by (planned position, gap-fill number): a gap fill of
/// page 7 is (7, 1) and sorts between (7, 0) and (8, 0).
pub(crate) type Key = (u64, u32);

/// The planned pages by key: a deque kept sorted. Pages are planned at the
/// back and handed out at the front, so that is where it changes; a gap fill
/// goes in the middle. (A `BTreeMap` here costs about 30 KB of WebAssembly.)
#[derive(Default)]
struct Slots(VecDeque<(Key, Slot)>);

impl Slots {
    fn find(&self, key: &Key) -> std::result::Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.cmp(key))
    }

    fn get(&self, key: &Key) -> Option<&Slot> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    fn get_mut(&mut self, key: &Key) -> Option<&mut Slot> {
        self.find(key).ok().map(|i| &mut self.0[i].1)
    }

    fn contains_key(&self, key: &Key) -> bool {
        self.find(key).is_ok()
    }

    /// Puts `slot` at `key`, replacing the slot there.
    fn insert(&mut self, key: Key, slot: Slot) {
        match self.find(&key) {
            Ok(i) => self.0[i].1 = slot,
            Err(i) => self.0.insert(i, (key, slot)),
        }
    }

    /// Puts `slot` at `key` unless a slot is there.
    fn insert_new(&mut self, key: Key, slot: Slot) {
        if let Err(i) = self.find(&key) {
            self.0.insert(i, (key, slot));
        }
    }

    fn remove(&mut self, key: &Key) -> Option<Slot> {
        let i = self.find(key).ok()?;
        self.0.remove(i).map(|(_, s)| s)
    }

    /// Removes the slots at `key` and after it.
    fn split_off(&mut self, key: &Key) -> VecDeque<(Key, Slot)> {
        let i = self.find(key).unwrap_or_else(|i| i);
        self.0.split_off(i)
    }

    fn first(&self) -> Option<&(Key, Slot)> {
        self.0.front()
    }

    fn iter(&self) -> impl Iterator<Item = &(Key, Slot)> {
        self.0.iter()
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

impl std::ops::Index<&Key> for Slots {
    type Output = Slot;

    fn index(&self, key: &Key) -> &Slot {
        self.get(key).expect("the slot exists")
    }
}

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
/// assert_eq!(first.url, "https://api.example/v1/items?offset=0&limit=2");
/// assert!(sweep.poll_request().is_none(), "the total is not known yet");
/// sweep.handle_response(first.id, Ok(Response::new(200, r#"{"total":3,"data":[{"id":1},{"id":2}]}"#)), now);
/// let second = sweep.poll_request().unwrap();
/// assert_eq!(second.url, "https://api.example/v1/items?offset=2&limit=2");
/// sweep.handle_response(second.id, Ok(Response::new(200, r#"{"total":3,"data":[{"id":3}]}"#)), now);
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
}

/// Digests of the records of pages answered: the first page's, kept for the
/// whole sweep, and the latest ones, at most `kept`. The first page is the
/// one a server with another first page number (or one that ignores the
/// page asked for) repeats, whatever the concurrency; the latest ones catch
/// a server that repeats a page near the one asked for (its last page for
/// every page past its end, say). Memory: `kept` digests and URLs.
#[derive(Debug)]
struct Digests {
    first: Option<Digest>,
    latest: VecDeque<Digest>,
    kept: usize,
}

#[derive(Debug, Clone)]
struct Digest {
    hash: u64,
    records: usize,
    key: Key,
    url: Option<Url>,
}

impl Digests {
    /// The page answered with the same records as `d` under another key,
    /// if one is known; otherwise `d` is kept.
    fn check(&mut self, d: Digest) -> Option<Digest> {
        let same = |o: &&Digest| o.hash == d.hash && o.records == d.records && o.key != d.key;
        if let Some(o) = self.first.iter().chain(self.latest.iter()).find(same) {
            return Some(o.clone());
        }
        if d.key == (0, 0) {
            self.first = Some(d);
        } else {
            if self.latest.len() >= self.kept {
                self.latest.pop_front();
            }
            self.latest.push_back(d);
        }
        None
    }
}

/// A digest of a cursor, next URL or keyset value, for loop detection:
/// deterministic (the same on every target and in every run). Two values
/// with the same digest (a chance of about n²/2⁶⁵ in n values) would be
/// taken for a loop: the sweep fails with a Loop error, it never skips
/// or repeats rows.
fn seen_digest(value: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write_usize(value.len());
    h.write(value.as_bytes());
    h.finish()
}

/// Adds `shown` to the latest values a checkpoint keeps, dropping the
/// oldest ones past [`SEEN_KEPT`] values or [`SEEN_KEPT_BYTES`] bytes.
fn remember(recent: &mut VecDeque<String>, shown: String) {
    let mut bytes = shown.len() + recent.iter().map(String::len).sum::<usize>();
    while !recent.is_empty() && (recent.len() >= SEEN_KEPT || bytes > SEEN_KEPT_BYTES) {
        bytes -= recent.pop_front().map_or(0, |r| r.len());
    }
    recent.push_back(shown);
}

/// A digest of a page's records for the check of pages answered alike:
/// their count and the bytes of five of them (the first, the last and three
/// between), each with its length. Deterministic, the same on every target
/// and in every run, and the same work whatever the page's size (hashing
/// every record would cost a fifth of a sweep's CPU). Two different pages
/// of as many records that agree on those five are taken for copies: with
/// records that carry ids that does not happen; for collections of records
/// that repeat, `allow_repeated_pages` turns the check off. The npm
/// package's JavaScript samples the same way (`src/transport/fetch.rs`).
fn digest(text: &str, ranges: &[std::ops::Range<usize>]) -> u64 {
    // `new()` has fixed keys: no randomness, unlike `RandomState`'s hashers.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let n = ranges.len();
    h.write_usize(n);
    if n > 0 {
        let mut last = usize::MAX;
        for i in [0, n / 4, n / 2, n - 1 - n / 4, n - 1] {
            if i == last {
                continue;
            }
            last = i;
            let bytes = text.as_bytes().get(ranges[i].clone()).unwrap_or_default();
            h.write_usize(bytes.len());
            h.write(bytes);
        }
    }
    h.finish()
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
    /// the pages after it go on arriving in the meantime.
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
        let mut request = self.spec.request(id, Method::Get, url, None);
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
    /// (twice that while a page waits out a retry) be held or in flight. The
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
        // doubles: one throttled page does not stop the sweep for its wait.
        let mut bound = self.concurrency.saturating_add(self.window);
        if !self.waiting.is_empty() || slot.retries > 0 {
            bound = bound.saturating_mul(2);
        }
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
    /// sweep.handle_response(first.id, Ok(Response::new(200, r#"{"total":5,"data":[{"id":1},{"id":2}]}"#)), now);
    /// while sweep.poll_event().is_some() {} // the first page, handed out
    /// let second = sweep.poll_request().unwrap();
    /// assert!(sweep.poll_request().is_none(), "concurrency 1");
    /// // The second page is in, to be parsed later: the third may go.
    /// sweep.handle_arrival(second.id);
    /// let third = sweep.poll_request().unwrap();
    /// assert_eq!(third.url, "https://api.example/v1/items?offset=4&limit=2");
    /// assert_eq!(sweep.in_flight(), 2);
    /// sweep.handle_response(second.id, Ok(Response::new(200, r#"{"total":5,"data":[{"id":3},{"id":4}]}"#)), now);
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
            throttled: self.report.throttled,
            elapsed,
            eta,
        }
    }

    /// Where the sweep is: every page not yet handed out, what it learnt,
    /// its counters. Resume with [`ListOptions::resume`](crate::ListOptions::resume).
    pub fn checkpoint(&self) -> Checkpoint {
        let mut pending: Vec<PendingPage> = self
            .slots
            .iter()
            .map(|(k, slot)| PendingPage {
                seq: k.0,
                sub: k.1,
                page: self.page_ref(&slot.target),
                skip: slot.skip,
            })
            .collect();
        // Pages waiting in the event queue have not reached the caller yet.
        let (mut queued_records, mut queued_pages) = (0, 0);
        for ev in &self.events {
            if let Event::Page(p) = ev {
                if let Some((key, target, skip)) = &p.origin {
                    insert_sorted(
                        &mut pending,
                        PendingPage {
                            seq: key.0,
                            sub: key.1,
                            page: self.page_ref(target),
                            skip: *skip,
                        },
                        false,
                    );
                    queued_records += p.records.len() as u64;
                    queued_pages += 1;
                }
            }
        }
        Checkpoint {
            version: Checkpoint::VERSION,
            collection: self.collection_shown.clone(),
            dialect: self.spec.pagination.name().to_string(),
            pending,
            learnt: Learnt {
                total: self.total,
                effective_size: self.effective_size,
                fanned_out: self.fanned_out,
                planned_end: self.planned_end,
                largest_page: self.largest_page,
                next_seq: self.next_seq,
                seen: self.recent.iter().cloned().collect(),
                stopped: self.stopped,
            },
            done: Done {
                records: self.report.records - queued_records,
                pages: self.report.pages - queued_pages,
                requests: self.report.requests,
                retries: self.report.retries.clone(),
                throttled_ms: self.report.throttled.as_millis() as u64,
                dropped: self.dropped,
            },
            since: self.delta.as_ref().map(|d| d.from().clone()),
            reached: self.delta.as_ref().map(|d| d.reached().clone()),
        }
    }

    /// A checkpoint in which a page already handed out is not finished: its
    /// first `consumed` records were, the rest will be fetched again.
    pub(crate) fn checkpoint_with_partial(&self, page: &RawPage, consumed: usize) -> Checkpoint {
        let mut c = self.checkpoint();
        if let Some((key, target, skip)) = &page.origin {
            let left = page.records.len().saturating_sub(consumed) as u64;
            if left > 0 {
                insert_sorted(
                    &mut c.pending,
                    PendingPage {
                        seq: key.0,
                        sub: key.1,
                        page: self.page_ref(target),
                        skip: skip + consumed as u64,
                    },
                    true,
                );
                c.done.records -= left;
                c.done.pages -= 1;
            }
        }
        c
    }

    fn page_ref(&self, target: &Target) -> PageRef {
        match target {
            Target::Offset { offset, limit } => PageRef::Offset {
                offset: *offset,
                limit: *limit,
            },
            Target::Page(n) => PageRef::Page { number: *n },
            Target::Cursor(c) => PageRef::Cursor { cursor: c.clone() },
            Target::Url(u) => PageRef::Url {
                url: self.spec.secrets.strip_url(u.as_str()),
            },
            Target::Keyset(v) => PageRef::Keyset { after: v.clone() },
        }
    }

    /// Replaces the fresh plan with the checkpoint's.
    fn restore(&mut self, c: Checkpoint) -> Result<()> {
        let here = self.collection_shown.clone();
        let dialect = self.spec.pagination.name();
        if c.collection != here || c.dialect != dialect {
            return Err(Error::config(format!(
                "the checkpoint is for {} ({}), not for {here} ({dialect})",
                c.collection, c.dialect
            )));
        }
        if let Some(t) = c.learnt.total.filter(|t| *t > self.max_total) {
            return Err(Error::new(
                ErrorKind::Limit,
                format!("the checkpoint's total: {}", too_large(t, self.max_total)),
            )
            .with_url(self.spec.redact(self.collection.as_str())));
        }
        let first_page = match &self.spec.pagination {
            Pagination::PageNumber(p) => p.first_page,
            _ => 0,
        };
        let bad = |what: String| Error::config(format!("a bad checkpoint: {what}"));
        self.slots.clear();
        for p in c.pending {
            let target = match p.page {
                PageRef::Offset { offset, limit } => Target::Offset { offset, limit },
                PageRef::Page { number } if number < first_page => {
                    return Err(bad(format!(
                        "page {number} is before the first page, {first_page}"
                    )))
                }
                PageRef::Page { number } => Target::Page(number),
                PageRef::Cursor { cursor } => Target::Cursor(cursor),
                PageRef::Url { url } => {
                    let url = Url::parse(&url).map_err(|e| {
                        Error::new(
                            ErrorKind::Url,
                            format!("bad page URL in the checkpoint: {e}"),
                        )
                    })?;
                    self.spec.check_link(&url, "page URL in the checkpoint")?;
                    Target::Url(url)
                }
                PageRef::Keyset { after } => Target::Keyset(after),
            };
            let mut slot = Slot::new(target);
            slot.skip = p.skip;
            self.slots.insert((p.seq, p.sub), slot);
        }
        let l = c.learnt;
        self.total = l.total;
        self.report.total = l.total;
        self.effective_size = l.effective_size.max(1);
        self.fanned_out = l.fanned_out;
        self.planned_end = l.planned_end;
        self.largest_page = l.largest_page;
        self.next_seq = l.next_seq;
        self.stopped = l.stopped;
        if self.fanned_out && first_page > self.planned_end {
            return Err(bad(format!(
                "planned_end {} is before the first page, {first_page}",
                self.planned_end
            )));
        }
        self.seen = l.seen.iter().map(|v| seen_digest(v)).collect();
        self.recent.clear();
        for v in l.seen {
            remember(&mut self.recent, v);
        }
        // Pages still to fetch will announce their links again: those are not loops.
        for (_, slot) in self.slots.iter() {
            match &slot.target {
                Target::Cursor(Some(v)) | Target::Keyset(Some(v)) => {
                    self.seen.remove(&seen_digest(v));
                    self.recent.retain(|r| r != v);
                }
                Target::Url(u) => {
                    self.seen.remove(&seen_digest(u.as_str()));
                    self.recent.retain(|r| r != u.as_str());
                }
                _ => {}
            }
        }
        let d = c.done;
        self.report.records = d.records;
        self.report.pages = d.pages;
        self.report.requests = d.requests;
        self.report.retries = d.retries;
        self.report.throttled = Duration::from_millis(d.throttled_ms);
        self.dropped = d.dropped;
        if let (Some(delta), Some(w)) = (self.delta.as_mut(), c.reached) {
            delta.set_reached(w);
        }
        Ok(())
    }

    fn url_of(&self, slot: &Slot) -> Url {
        if let Some(u) = &slot.redirected_to {
            return u.clone();
        }
        let size = self.page_size.to_string();
        let mut url = self.collection.clone();
        match (&slot.target, &self.spec.pagination) {
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
                let pairs = v
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

    fn on_answer(
        &mut self,
        key: Key,
        response: std::result::Result<Response, TransportError>,
    ) -> std::result::Result<(), Fail> {
        let mut resp = match response {
            Ok(r) => r,
            Err(e) => {
                let (err, failure) = exchange::transport_failed(&e);
                return Err(Fail(self.on_page(key, err), failure));
            }
        };
        if let Some(loc) = exchange::redirect_location(&resp) {
            return self
                .redirect(key, loc.to_string(), resp.status)
                .map_err(|e| Fail(e, None));
        }
        if !(200..300).contains(&resp.status) {
            let (err, failure) = exchange::status_failed(&resp);
            return Err(Fail(self.on_page(key, err), failure));
        }
        // A 2xx that is not a page is a transient failure: retried, then an error.
        let status = resp.status;
        let decode = |this: &Self, body: &[u8], e: DecodeError| {
            Fail(
                this.page_error(key, ErrorKind::Decode, e.0)
                    .with_status(status)
                    .with_excerpt(body),
                Some(exchange::bad_body()),
            )
        };
        let attachment = resp.attachment.take();
        // The body is checked as UTF-8 once, whole, and kept as a `String`.
        let text = match String::from_utf8(std::mem::take(&mut resp.body)) {
            Ok(t) => t,
            Err(e) => {
                let why = DecodeError(format!("body is not UTF-8: {}", e.utf8_error()));
                return Err(decode(self, e.as_bytes(), why));
            }
        };
        let raw = text.as_bytes();
        let (ranges, next) = {
            let spec = self.spec.clone();
            // Rows past the range asked for belong to the next page: keeping
            // them would hand them out twice. They are not even noted (a page
            // of a million `0`s costs the body, not a range per element).
            let limit = match self.slots[&key].target {
                Target::Offset { limit, .. } => Some(limit),
                _ => None,
            };
            let keep = limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
            let mut body = Body::parse_keeping(&text, &spec.records_at, keep)
                .map_err(|e| decode(self, raw, e))?;
            let mut ranges = body.records().map_err(|e| decode(self, raw, e))?;
            if let Some(limit) = limit {
                let got = body.record_count() as u64;
                if got > limit {
                    // The extra records belong to the next offset, asked for
                    // on its own: nothing is lost or repeated, so this alone
                    // does not cast doubt on `complete`.
                    self.notice(Notice::OversizedPage {
                        page: key.0,
                        asked: limit,
                        got,
                    });
                }
            }
            let next = self
                .plan(key, &body, &resp, &text, &ranges)
                .map_err(|e| match e {
                    Planned::Decode(d) => decode(self, raw, d),
                    Planned::Error(e) => Fail(e, None),
                })?;
            // Records parsed by the transport are not in `text` (a skeleton):
            // its digest of the body stands for theirs.
            let hash = match &attachment {
                Some(a) => a.digest(),
                None => Some(digest(&text, &ranges)),
            };
            self.check_repeat(key, hash, ranges.len())
                .map_err(|e| Fail(e, None))?;
            let skip = usize::try_from(self.slots[&key].skip)
                .unwrap_or(usize::MAX)
                .min(ranges.len());
            ranges.drain(..skip);
            if let Some(delta) = self.delta.as_mut() {
                let before = ranges.len();
                ranges.retain(|r| text.get(r.clone()).is_none_or(|t| delta.keep(t)));
                self.dropped += (before - ranges.len()) as u64;
            }
            (ranges, next)
        };
        self.report.bytes += attachment.as_ref().map_or(text.len(), |a| a.body_len()) as u64;
        for (k, target) in next {
            // Nothing past a page that failed for good is fetched any more.
            // A page already planned (after a resume, the re-fetched page before
            // it plans it again) keeps its slot and whatever state it is in.
            if self.failing.as_ref().is_none_or(|(f, _)| k < *f) {
                self.slots.insert_new(k, Slot::new(target));
            }
        }
        let slot = self.slots.get_mut(&key).expect("answered slot exists");
        slot.state = SlotState::Done(page::records(text, ranges, attachment));
        self.done_slots += 1;
        if self.order == Order::Completion {
            self.ready.push_back(key);
        }
        let buffered = self.buffered_pages();
        self.report.max_buffered_pages = self.report.max_buffered_pages.max(buffered);
        Ok(())
    }

    /// Schedules the page again after a transient failure, or ends the sweep
    /// when the policy or the budget says no.
    fn retry_or_fail(&mut self, key: Key, err: Error, failure: Failure, now: Instant) {
        let retries = self.slots[&key].retries;
        // Pages are GETs: always safe to send again.
        match exchange::decide(&mut self.retrier, retries, Some(&failure), true, now) {
            Verdict::RetryAt(at) => {
                self.report.retries.add(failure.cause);
                if failure.cause == RetryCause::Throttled {
                    let from = self.throttled_until.map_or(now, |u| u.max(now));
                    if at > from {
                        self.report.throttled += at - from;
                        self.throttled_until = Some(at);
                    }
                }
                let slot = self.slots.get_mut(&key).expect("slot exists");
                slot.retries += 1;
                slot.state = SlotState::Waiting;
                self.waiting.push(Reverse((at, key)));
            }
            Verdict::GiveUp(why) => self.fail_at(key, exchange::gave_up(err, retries, why)),
            Verdict::NotReplayable | Verdict::Final => self.fail_at(key, err),
        }
    }

    fn redirect(&mut self, key: Key, location: String, status: u16) -> Result<()> {
        let slot = &self.slots[&key];
        let from = slot.sent.as_ref().expect("a sent slot has a URL");
        let what = format!("redirect of page {}", key.0);
        let to = exchange::follow(
            &self.spec,
            from,
            &location,
            status,
            slot.redirects,
            Some(key.0),
            &what,
        )?;
        let slot = self.slots.get_mut(&key).expect("slot exists");
        slot.redirects += 1;
        slot.redirected_to = Some(to);
        slot.state = SlotState::Queued;
        Ok(())
    }

    /// Reads the total and notes changes; `None` when the dialect has no total
    /// configured or the answer lacks it.
    fn read_total(
        &mut self,
        key: Key,
        body: &Body<'_>,
        resp: &Response,
    ) -> std::result::Result<Option<u64>, Planned> {
        let Some(spec) = self.spec.pagination.total() else {
            return Ok(None);
        };
        let found = match spec {
            Total::Header(h) => match resp.header(h) {
                Some(v) => Some(v.trim().parse::<u64>().map_err(|_| {
                    Planned::Decode(DecodeError(format!("header {h} is not a count: {v:?}")))
                })?),
                None => None,
            },
            Total::Pointer(p) => match body.get(p).map_err(Planned::Decode)? {
                Some(v) => page::count(v).map_err(|e| {
                    Planned::Decode(DecodeError(format!("total at {p:?}: {}", e.0)))
                })?,
                None => None,
            },
            Total::ContentRange => resp
                .header("content-range")
                .and_then(page::content_range_total),
        };
        if let Some(t) = found.filter(|t| *t > self.max_total) {
            return Err(Planned::Error(self.page_error(
                key,
                ErrorKind::Limit,
                too_large(t, self.max_total),
            )));
        }
        match (found, self.total) {
            (None, _) => {
                if !self.total_missing_noted {
                    self.total_missing_noted = true;
                    self.notice(Notice::TotalMissing { page: key.0 });
                }
            }
            (Some(t), Some(old)) if t != old => {
                // Rows were added or removed under an offset or page-number
                // sweep: some may have shifted past the pages fetched, even
                // if the count ends up matching the new total.
                self.doubt = true;
                self.notice(Notice::TotalChanged {
                    from: old,
                    to: t,
                    page: key.0,
                });
                self.total = Some(t);
            }
            (Some(t), _) => self.total = Some(t),
        }
        self.report.total = self.total;
        Ok(found)
    }

    /// Decides what comes after the page at `key`: the pages to add to the plan.
    fn plan(
        &mut self,
        key: Key,
        body: &Body<'_>,
        resp: &Response,
        raw: &str,
        ranges: &[std::ops::Range<usize>],
    ) -> std::result::Result<Vec<(Key, Target)>, Planned> {
        let n = ranges.len() as u64;
        let target = self.slots[&key].target.clone();
        let mut next = Vec::new();
        match target {
            Target::Offset { offset, limit } => {
                let total = self.read_total(key, body, resp)?;
                if self.fanned_out {
                    let total = self.total.unwrap_or(0);
                    if n < limit && offset.saturating_add(n) < total {
                        if n > 0 {
                            // Fetch the rest of this page's range: never skip rows.
                            next.push((
                                (key.0, key.1 + 1),
                                Target::Offset {
                                    offset: offset + n,
                                    limit: limit - n,
                                },
                            ));
                        }
                        self.notice(Notice::ShortPage {
                            page: key.0,
                            expected: limit,
                            got: n,
                        });
                        if n == 0 {
                            self.stop_planning();
                        }
                    }
                } else if let (Some(t), true) = (total, key == (0, 0)) {
                    self.fanned_out = true;
                    // A server that caps the page size below what we asked is detected here.
                    self.effective_size = if n > 0 && n < limit && t > n {
                        n
                    } else {
                        limit
                    };
                    self.planned_end = offset.saturating_add(n);
                    // The rest is planned as room frees up (`top_up`).
                    self.stopped = n == 0;
                } else if n > 0 && n >= self.largest_page {
                    next.push((
                        (key.0 + 1, 0),
                        Target::Offset {
                            offset: offset.saturating_add(n),
                            limit,
                        },
                    ));
                }
            }
            Target::Page(p) => {
                let total = self.read_total(key, body, resp)?;
                let first = match &self.spec.pagination {
                    Pagination::PageNumber(c) => c.first_page,
                    _ => unreachable!(),
                };
                if self.fanned_out {
                    let t = self.total.unwrap_or(0);
                    let before = p.saturating_sub(first).saturating_mul(self.effective_size);
                    if n < self.effective_size && before.saturating_add(n) < t {
                        self.notice(Notice::ShortPage {
                            page: key.0,
                            expected: self.effective_size,
                            got: n,
                        });
                        // The rows of a short page cannot be asked for again.
                        self.doubt = true;
                        if n == 0 {
                            self.stop_planning();
                        }
                    }
                } else if let (Some(t), true) = (total, key == (0, 0)) {
                    self.fanned_out = true;
                    let asked = self.page_size;
                    self.effective_size = if n > 0 && n < asked && t > n {
                        n
                    } else {
                        asked
                    };
                    self.planned_end = p.saturating_add(1);
                    self.stopped = n == 0;
                } else if n > 0 && n >= self.largest_page {
                    next.push(((key.0 + 1, 0), Target::Page(p.saturating_add(1))));
                }
            }
            Target::Cursor(_) => {
                let from = match &self.spec.pagination {
                    Pagination::Cursor(c) => c.from.clone(),
                    _ => unreachable!(),
                };
                if let Some(c) = self.read_link(&from, body, resp)? {
                    self.check_new(key, &c, &c, "cursor")?;
                    next.push(((key.0 + 1, 0), Target::Cursor(Some(c))));
                }
            }
            Target::Url(_) => {
                let from = match &self.spec.pagination {
                    Pagination::NextUrl(c) => c.from.clone(),
                    _ => unreachable!(),
                };
                if let Some(link) = self.read_link(&from, body, resp)? {
                    let here = self.slots[&key].sent.clone().expect("sent");
                    let url = here.join(&link).map_err(|e| {
                        Planned::Error(self.page_error(
                            key,
                            ErrorKind::Url,
                            format!("bad next link {:?}: {e}", self.spec.redact(&link)),
                        ))
                    })?;
                    self.spec
                        .check_link(&url, &format!("next link of page {}", key.0))
                        .map_err(|e| Planned::Error(e.with_page(key.0)))?;
                    let shown = self.spec.redact_parsed(&url);
                    self.check_new(key, url.as_str(), &shown, "next URL")?;
                    next.push(((key.0 + 1, 0), Target::Url(url)));
                }
            }
            Target::Keyset(_) => {
                let field = match &self.spec.pagination {
                    Pagination::Keyset(k) => k.field.clone(),
                    _ => unreachable!(),
                };
                if let Some(last) = ranges.last() {
                    let ptr = if field.starts_with('/') {
                        field.clone()
                    } else {
                        format!("/{field}")
                    };
                    let last = raw.get(last.clone()).unwrap_or_default();
                    let value = page::find(last, &ptr)
                        .map_err(Planned::Decode)?
                        .map(page::scalar_text)
                        .transpose()
                        .map_err(|e| {
                            Planned::Decode(DecodeError(format!("keyset field {field:?}: {}", e.0)))
                        })?
                        .flatten()
                        .ok_or_else(|| {
                            Planned::Decode(DecodeError(format!(
                                "the last record of the page has no keyset field {field:?}"
                            )))
                        })?;
                    self.check_new(key, &value, &value, "keyset value")?;
                    if n >= self.largest_page {
                        next.push(((key.0 + 1, 0), Target::Keyset(Some(value))));
                    }
                }
            }
        }
        self.largest_page = self.largest_page.max(n);
        for (k, _) in &next {
            self.next_seq = self.next_seq.max(k.0 + 1);
        }
        Ok(next)
    }

    /// Plans the next pages of a fanned-out sweep (up to the total), as many
    /// as keep `2 * (concurrency + window)` planned: enough that a page is
    /// always there to send when the window has room (the window doubles
    /// while a page waits out a retry), so pages go in the order an
    /// all-at-once plan would send them, while memory stays bounded by the
    /// configuration whatever total the API announces.
    fn top_up(&mut self) {
        if self.state != State::Running
            || !self.fanned_out
            || self.stopped
            || self.failing.is_some()
        {
            return;
        }
        let room = self
            .concurrency
            .saturating_add(self.window)
            .saturating_mul(2);
        while self.slots.len() < room {
            let target = match (&self.spec.pagination, self.total) {
                (Pagination::Offset(_), Some(total)) if self.planned_end < total => {
                    let t = Target::Offset {
                        offset: self.planned_end,
                        limit: self.effective_size,
                    };
                    self.planned_end = self.planned_end.saturating_add(self.effective_size);
                    t
                }
                (Pagination::PageNumber(c), Some(total))
                    if self.planned_end
                        < Self::page_end(c.first_page, total, self.effective_size) =>
                {
                    let t = Target::Page(self.planned_end);
                    self.planned_end += 1;
                    t
                }
                _ => break,
            };
            let seq = self.next_seq;
            self.next_seq = self.next_seq.saturating_add(1);
            self.slots.insert_new((seq, 0), Slot::new(target));
        }
    }

    /// The page number after the last one of a collection of `total` records.
    fn page_end(first: u64, total: u64, size: u64) -> u64 {
        first.saturating_add(total.div_ceil(size.max(1)))
    }

    /// Pages of a fanned-out sweep not planned yet.
    fn unplanned_pages(&self) -> u64 {
        if !self.fanned_out || self.stopped || self.state != State::Running {
            return 0;
        }
        let size = self.effective_size.max(1);
        match (&self.spec.pagination, self.total) {
            (Pagination::Offset(_), Some(t)) => t.saturating_sub(self.planned_end).div_ceil(size),
            (Pagination::PageNumber(c), Some(t)) => {
                Self::page_end(c.first_page, t, size).saturating_sub(self.planned_end)
            }
            _ => 0,
        }
    }

    /// An empty page came back before the total: the collection ends there.
    fn stop_planning(&mut self) {
        self.stopped = true;
        self.doubt = true;
    }

    fn read_link(
        &self,
        from: &Link,
        body: &Body<'_>,
        resp: &Response,
    ) -> std::result::Result<Option<String>, Planned> {
        let value = match from {
            Link::Pointer(p) => match body.get(p).map_err(Planned::Decode)? {
                Some(v) => page::scalar_text(v)
                    .map_err(|e| Planned::Decode(DecodeError(format!("link at {p:?}: {}", e.0))))?,
                None => None,
            },
            Link::Header(h) => resp.header(h).map(str::to_string),
            Link::LinkHeader => page::link_next(resp.headers_named("link")),
        };
        Ok(value
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty()))
    }

    /// `shown` is `value` as the error message may print it (credentials removed).
    fn check_new(
        &mut self,
        key: Key,
        value: &str,
        shown: &str,
        what: &str,
    ) -> std::result::Result<(), Planned> {
        if value.len() > MAX_LINK_LEN {
            return Err(Planned::Error(self.page_error(
                key,
                ErrorKind::Limit,
                format!(
                    "the API sent a {what} of {} bytes ({}), more than the {MAX_LINK_LEN} \
                     accepted",
                    value.len(),
                    short(shown)
                ),
            )));
        }
        if self.seen.insert(seen_digest(value)) {
            remember(&mut self.recent, self.spec.secrets.strip_url(value));
            Ok(())
        } else {
            Err(Planned::Error(self.page_error(
                key,
                ErrorKind::Loop,
                format!(
                    "the API sent the same {what} twice ({}); following it would repeat pages",
                    short(shown)
                ),
            )))
        }
    }

    /// Fails when the page at `key` has the same records as another page
    /// answered before (see [`Digests`]): one of them is a copy, and handing
    /// it out would repeat rows (and leave others out).
    fn check_repeat(&mut self, key: Key, hash: Option<u64>, records: usize) -> Result<()> {
        let (Some(digests), Some(hash), true) = (self.digests.as_mut(), hash, records > 0) else {
            return Ok(());
        };
        let here = Digest {
            hash,
            records,
            key,
            url: self.slots[&key].sent.clone(),
        };
        let Some(other) = digests.check(here) else {
            return Ok(());
        };
        let shown = |u: &Option<Url>| {
            u.as_ref()
                .map_or_else(String::new, |u| self.spec.redact_parsed(u))
        };
        let hint = match &self.spec.pagination {
            Pagination::PageNumber(p) => {
                let other_first = u64::from(p.first_page == 0);
                format!(
                    "is the server's first page {other_first}, not {}? then set first_page \
                     (npm: firstPage) to {other_first}",
                    p.first_page
                )
            }
            _ => "the server seems to ignore the page asked for".to_string(),
        };
        let mut both = [
            (other.key, shown(&other.url)),
            (key, shown(&self.slots[&key].sent)),
        ];
        both.sort_by_key(|(k, _)| *k);
        let [(a, a_url), (b, b_url)] = both;
        Err(self.page_error(
            key,
            ErrorKind::Duplicate,
            format!(
                "pages {} ({a_url}) and {} ({b_url}) were answered with the same {} records: \
                 {hint}; the sweep stops before handing out the copy \
                 (allow_repeated_pages, npm: allowRepeatedPages, turns this check off)",
                a.0, b.0, records,
            ),
        ))
    }

    fn notice(&mut self, n: Notice) {
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
            }) || self.report.notices_dropped > 0; // only TotalMissing is not a change, and it comes once
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
        for (_, slot) in self.slots.split_off(&key) {
            if matches!(slot.state, SlotState::Done(_)) {
                self.done_slots -= 1;
            }
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
        self.slots.clear();
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

impl Slot {
    fn new(target: Target) -> Self {
        Slot {
            target,
            state: SlotState::Queued,
            redirects: 0,
            redirected_to: None,
            sent: None,
            retries: 0,
            skip: 0,
        }
    }
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

//! The sans-IO core in simulated time: no network, no threads, no clock.
//!
//! A small fake API (a function from request URL to `Response`, built over a
//! list of records, for every pagination dialect) answers the requests of a
//! [`Sweep`] or [`Fetch`]; a driver loop follows the run-loop contract of the
//! crate docs and answers requests in a chosen order (first in first out,
//! reverse, seeded shuffle, by priority, or by simulated latency) to model
//! concurrency and out-of-order completion. Tests assert exact request URLs
//! and exact record id sequences.

use std::collections::HashMap;
use std::time::Duration;

use pagewise::core::{
    Event, Fetch, Method, Notice, RawPage, Report, Request, Response, Sweep, TransportError,
    TransportErrorKind,
};
use pagewise::RetryPolicy;
use pagewise::{
    Api, Auth, Checkpoint, Error, ErrorKind, Link, ListOptions, Order, Pagination, Total,
};
use serde_json::{json, Value};
use url::Url;
use web_time::Instant;

const BASE: &str = "https://api.example/v1/";
const ITEMS: &str = "https://api.example/v1/items";

type Answer = Result<Response, TransportError>;
/// How long the request for a URL takes, in simulated time.
type LatencyFn = Box<dyn FnMut(&str) -> Duration>;

// ---------------------------------------------------------------------------
// URLs
// ---------------------------------------------------------------------------

fn off(offset: u64, limit: u64) -> String {
    format!("{ITEMS}?offset={offset}&limit={limit}")
}

fn page_url(page: u64, per: u64) -> String {
    format!("{ITEMS}?page={page}&per_page={per}")
}

fn query(url: &str) -> HashMap<String, String> {
    Url::parse(url)
        .unwrap_or_else(|e| panic!("the fake API got a bad URL {url:?}: {e}"))
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn range(a: u64, b: u64) -> Vec<u64> {
    (a..=b).collect()
}

// ---------------------------------------------------------------------------
// A fake API over a list of records
// ---------------------------------------------------------------------------

/// Where the fake API puts the total.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tot {
    No,
    Header,
    Pointer,
    Range,
}

/// The dialect the fake API speaks.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    /// `?offset=&limit=`
    Offset(Tot),
    /// `?page=&per_page=`, first page number.
    Page(u64, Tot),
    /// `?cursor=tok-<offset>&limit=`, next cursor at `/next_cursor`.
    CursorBody,
    /// Same, next cursor in `X-Next-Cursor`.
    CursorHeader,
    /// `?start=&limit=`, next link at `/links/next`.
    NextBody,
    /// Same, next link in an RFC 8288 `Link` header.
    NextLink,
    /// `?id_gt=&limit=` over ascending ids.
    Keyset,
}

#[derive(Debug, Clone)]
struct Fake {
    ids: Vec<u64>,
    style: Style,
    /// The most records the server hands out per page, whatever is asked.
    cap: u64,
}

fn record(id: u64) -> Value {
    json!({ "id": id, "name": format!("rec-{id}") })
}

/// The next link of the next-URL dialects: relative in several ways, resolved
/// against the URL of the page that holds it. `k` is the number of the linked page.
fn next_link(k: u64, start: u64, limit: u64) -> String {
    match k % 4 {
        1 => format!("items?start={start}&limit={limit}"),
        2 => format!("/v2/list?start={start}&limit={limit}"),
        3 => format!("?start={start}&limit={limit}"),
        _ => format!("https://api.example/v1/items?start={start}&limit={limit}"),
    }
}

impl Fake {
    fn new(style: Style, n: u64) -> Self {
        let ids = if style == Style::Keyset {
            (0..n).map(|i| 10 + 3 * i).collect()
        } else {
            (1..=n).collect()
        };
        Fake {
            ids,
            style,
            cap: u64::MAX,
        }
    }

    fn cap(mut self, cap: u64) -> Self {
        self.cap = cap;
        self
    }

    fn slice(&self, from: u64, take: u64) -> &[u64] {
        let n = self.ids.len();
        let a = (from as usize).min(n);
        let b = (from.saturating_add(take) as usize).min(n);
        &self.ids[a..b]
    }

    fn body(&self, ids: &[u64], extra: &[(&str, Value)], tot: Tot) -> Value {
        let mut body = json!({ "data": ids.iter().map(|&i| record(i)).collect::<Vec<_>>() });
        if tot == Tot::Pointer {
            body["meta"] = json!({ "total": self.ids.len() });
        }
        for (k, v) in extra {
            body[*k] = v.clone();
        }
        body
    }

    fn respond(&self, url: &str) -> Response {
        let q = query(url);
        let num = |k: &str, d: u64| {
            q.get(k)
                .map(|v| {
                    v.parse::<u64>()
                        .unwrap_or_else(|_| panic!("{k}={v:?} in {url}"))
                })
                .unwrap_or(d)
        };
        let n = self.ids.len() as u64;
        match self.style {
            Style::Offset(tot) => {
                let from = num("offset", 0);
                let take = num("limit", 100).min(self.cap);
                self.with_total(from, self.slice(from, take).to_vec(), tot)
            }
            Style::Page(first, tot) => {
                let p = num("page", first);
                assert!(p >= first, "page {p} before the first page {first}");
                let per = num("per_page", 10).min(self.cap);
                let from = (p - first) * per;
                self.with_total(from, self.slice(from, per).to_vec(), tot)
            }
            Style::CursorBody | Style::CursorHeader => {
                let from = q
                    .get("cursor")
                    .map(|c| {
                        c.strip_prefix("tok-")
                            .expect("a cursor of ours")
                            .parse()
                            .unwrap()
                    })
                    .unwrap_or(0);
                let take = num("limit", 100).min(self.cap);
                let ids = self.slice(from, take).to_vec();
                let end = from + ids.len() as u64;
                let next = (end < n).then(|| format!("tok-{end}"));
                if self.style == Style::CursorBody {
                    let body = self.body(&ids, &[("next_cursor", json!(next))], Tot::No);
                    Response::new(200, body.to_string())
                } else {
                    let body = self.body(&ids, &[], Tot::No);
                    // The last page says "no next page" with an empty header.
                    Response::new(200, body.to_string())
                        .with_header("X-Next-Cursor", next.unwrap_or_default())
                }
            }
            Style::NextBody | Style::NextLink => {
                let from = num("start", 0);
                let asked = num("limit", 100);
                let ids = self.slice(from, asked.min(self.cap)).to_vec();
                let end = from + ids.len() as u64;
                let next = (end < n).then(|| next_link(end / asked, end, asked));
                if self.style == Style::NextBody {
                    let body = self.body(&ids, &[("links", json!({ "next": next }))], Tot::No);
                    Response::new(200, body.to_string())
                } else {
                    let body = self.body(&ids, &[], Tot::No);
                    let first = format!("<{ITEMS}?start=0&limit={asked}>; rel=\"first\"");
                    let link = match next {
                        Some(next) => format!("{first}, <{next}>; rel=\"next\""),
                        None => first,
                    };
                    Response::new(200, body.to_string()).with_header("Link", link)
                }
            }
            Style::Keyset => {
                let after = q.get("id_gt").map(|v| v.parse::<u64>().unwrap());
                let take = num("limit", 100).min(self.cap) as usize;
                let ids: Vec<u64> = self
                    .ids
                    .iter()
                    .copied()
                    .filter(|&i| match after {
                        Some(a) => i > a,
                        None => true,
                    })
                    .take(take)
                    .collect();
                Response::new(200, self.body(&ids, &[], Tot::No).to_string())
            }
        }
    }

    fn with_total(&self, from: u64, ids: Vec<u64>, tot: Tot) -> Response {
        let n = self.ids.len();
        let body = self.body(&ids, &[], tot).to_string();
        match tot {
            Tot::No | Tot::Pointer => Response::new(200, body),
            Tot::Header => Response::new(200, body).with_header("X-Total-Count", n.to_string()),
            Tot::Range => {
                let range = if ids.is_empty() {
                    format!("items */{n}")
                } else {
                    format!("items {}-{}/{n}", from, from + ids.len() as u64 - 1)
                };
                Response::new(206, body).with_header("Content-Range", range)
            }
        }
    }

    /// The fake as a server for the driver.
    fn server(self) -> impl FnMut(&Request) -> Answer {
        move |req| Ok(self.respond(&req.url))
    }
}

/// `resp` with its `/data` array cut to its first `keep` records.
fn keep_first(resp: Response, keep: usize) -> Response {
    let mut v: Value = serde_json::from_slice(&resp.body).unwrap();
    v["data"].as_array_mut().unwrap().truncate(keep);
    Response {
        body: v.to_string().into_bytes(),
        ..resp
    }
}

fn redirect(status: u16, location: &str) -> Response {
    Response::new(status, "").with_header("Location", location)
}

// ---------------------------------------------------------------------------
// APIs and sweeps
// ---------------------------------------------------------------------------

fn api(p: impl Into<Pagination>, page_size: u64, concurrency: usize) -> Api {
    api_with(p, page_size, concurrency, |b| b)
}

fn api_with(
    p: impl Into<Pagination>,
    page_size: u64,
    concurrency: usize,
    more: impl FnOnce(pagewise::ApiBuilder) -> pagewise::ApiBuilder,
) -> Api {
    more(
        Api::builder(BASE)
            .records_at("/data")
            .pagination(p)
            .page_size(page_size)
            .concurrency(concurrency),
    )
    .build()
    .expect("a valid API")
}

fn ids_of(page: &RawPage) -> Vec<u64> {
    page.records
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_slice(r).expect("records are JSON");
            v["id"].as_u64().expect("records have an id")
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------

/// In which order the driver answers the requests in flight.
enum Pick {
    /// Oldest first.
    Fifo,
    /// Newest first (the reverse of the order asked).
    Lifo,
    /// A seeded shuffle.
    Seeded(u64),
    /// The first pending request whose URL is earliest in the list; oldest first otherwise.
    Priority(Vec<String>),
    /// Each request completes `latency(url)` after it was sent; earliest first.
    Latency(LatencyFn),
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

struct Pending {
    req: Request,
    due: Instant,
}

/// Runs a sweep against a server in simulated time, checking the core's
/// bounds after every input and recording everything it did.
struct Sim {
    sweep: Sweep,
    server: Box<dyn FnMut(&Request) -> Answer>,
    t0: Instant,
    now: Instant,
    /// Concurrency and window the sweep must respect.
    c: usize,
    w: usize,
    latency: Option<LatencyFn>,
    pending: Vec<Pending>,
    /// Every request, in the order asked.
    requests: Vec<Request>,
    /// URLs in the order answered.
    answered: Vec<String>,
    pages: Vec<RawPage>,
    notices: Vec<Notice>,
    end: Option<Result<Report, Error>>,
    max_in_flight: usize,
    max_buffered: usize,
    /// Pages and records the report counted from a checkpoint resumed.
    resumed: (u64, u64),
}

/// Simulated time one answer takes when not driven by latency.
const STEP: Duration = Duration::from_millis(10);

impl Sim {
    fn new(
        api: &Api,
        opts: ListOptions,
        c: usize,
        w: usize,
        server: impl FnMut(&Request) -> Answer + 'static,
    ) -> Sim {
        let t0 = Instant::now();
        let sweep = Sweep::new(api.spec(), opts, t0).expect("a valid sweep");
        let resumed = (sweep.report().pages, sweep.report().records);
        Sim {
            sweep,
            resumed,
            server: Box::new(server),
            t0,
            now: t0,
            c,
            w,
            latency: None,
            pending: Vec::new(),
            requests: Vec::new(),
            answered: Vec::new(),
            pages: Vec::new(),
            notices: Vec::new(),
            end: None,
            max_in_flight: 0,
            max_buffered: 0,
        }
    }

    /// The most pages the sweep may hold: concurrency + window, doubled
    /// while a page waits out a retry delay (so once a page was retried).
    fn held_bound(&self, report: &Report) -> usize {
        let stretch = if report.retries.total() > 0 { 2 } else { 1 };
        stretch * (self.c + self.w)
    }

    fn check_bounds(&mut self) {
        let (inf, buf) = (self.sweep.in_flight(), self.sweep.buffered_pages());
        assert!(
            inf <= self.c,
            "{inf} requests in flight, concurrency {}",
            self.c
        );
        let bound = self.held_bound(self.sweep.report());
        assert!(
            buf <= bound,
            "{buf} pages buffered, concurrency {} + window {}: at most {bound}",
            self.c,
            self.w
        );
        if !self.sweep.is_done() {
            assert_eq!(
                inf,
                self.pending.len(),
                "in_flight() counts requests not answered"
            );
        }
        self.max_in_flight = self.max_in_flight.max(inf);
        self.max_buffered = self.max_buffered.max(buf);
    }

    /// Step 1 of the contract: send every request the sweep wants. Returns their URLs.
    fn send(&mut self) -> Vec<String> {
        let mut sent = Vec::new();
        while let Some(req) = self.sweep.poll_request() {
            let due = match &mut self.latency {
                Some(l) => self.now + l(&req.url),
                None => self.now,
            };
            sent.push(req.url.clone());
            self.requests.push(req.clone());
            self.pending.push(Pending { req, due });
            self.check_bounds();
        }
        self.check_bounds();
        sent
    }

    /// Step 2: take every event. Returns how many pages came out.
    fn events(&mut self) -> usize {
        let mut pages = 0;
        while let Some(ev) = self.sweep.poll_event() {
            assert!(self.end.is_none(), "an event after the end: {ev:?}");
            match ev {
                Event::Page(p) => {
                    assert_eq!(
                        p.index,
                        self.resumed.0 + self.pages.len() as u64,
                        "page indexes count up"
                    );
                    self.pages.push(p);
                    pages += 1;
                }
                Event::Notice(n) => self.notices.push(n),
                Event::Finished(r) => self.end = Some(Ok(r)),
                Event::Failed(e) => self.end = Some(Err(e)),
                other => panic!("unexpected event {other:?}"),
            }
        }
        self.check_bounds();
        pages
    }

    /// Step 3: hand over the answer to the pending request at `i`.
    fn answer_at(&mut self, i: usize) {
        let p = self.pending.remove(i);
        self.now = match self.latency {
            Some(_) => p.due.max(self.now),
            None => self.now + STEP,
        };
        let answer = (self.server)(&p.req);
        self.answered.push(p.req.url.clone());
        self.sweep.handle_response(p.req.id, answer, self.now);
        self.check_bounds();
    }

    /// Answers the pending request for exactly `url`.
    fn answer(&mut self, url: &str) {
        let i = self
            .pending
            .iter()
            .position(|p| p.req.url == url)
            .unwrap_or_else(|| panic!("{url} is not in flight; in flight: {:?}", self.in_flight()));
        self.answer_at(i);
    }

    fn in_flight(&self) -> Vec<String> {
        self.pending.iter().map(|p| p.req.url.clone()).collect()
    }

    /// Follows the run-loop contract to the end.
    fn run(&mut self, pick: Pick) -> &mut Self {
        let mut rng = match &pick {
            Pick::Seeded(s) => Rng(s.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1),
            _ => Rng(1),
        };
        if let Pick::Latency(_) = pick {
            let Pick::Latency(l) = pick else {
                unreachable!()
            };
            assert!(
                self.pending.is_empty(),
                "latency is set before anything is sent"
            );
            self.latency = Some(l);
            return self.run(Pick::Fifo);
        }
        loop {
            self.send();
            self.events();
            if self.end.is_some() {
                break;
            }
            let deadline = self.sweep.poll_timeout();
            if self.pending.is_empty() {
                let d = deadline.expect("stalled: nothing in flight, no timeout, no end");
                self.now = self.now.max(d);
                self.sweep.handle_timeout(self.now);
                continue;
            }
            let i = match &pick {
                _ if self.latency.is_some() => {
                    // Earliest due; ties go to the request asked first.
                    let min = self.pending.iter().map(|p| p.due).min().unwrap();
                    self.pending.iter().position(|p| p.due == min).unwrap()
                }
                Pick::Fifo => 0,
                Pick::Lifo => self.pending.len() - 1,
                Pick::Seeded(_) => rng.below(self.pending.len()),
                Pick::Priority(order) => order
                    .iter()
                    .find_map(|u| self.pending.iter().position(|p| &p.req.url == u))
                    .unwrap_or(0),
                Pick::Latency(_) => unreachable!(),
            };
            let at = if self.latency.is_some() {
                self.pending[i].due
            } else {
                self.now + STEP
            };
            if let Some(d) = deadline {
                if d <= at {
                    self.now = d;
                    self.sweep.handle_timeout(self.now);
                    continue;
                }
            }
            self.answer_at(i);
        }
        // After the end: nothing more is asked or said, and late answers are ignored.
        assert!(self.sweep.is_done());
        assert!(self.sweep.poll_request().is_none());
        assert!(self.sweep.poll_event().is_none());
        assert_eq!(self.sweep.poll_timeout(), None);
        let pages = self.pages.len();
        while !self.pending.is_empty() {
            let p = self.pending.remove(0);
            let answer = (self.server)(&p.req);
            self.sweep.handle_response(p.req.id, answer, self.now);
            assert!(
                self.sweep.poll_request().is_none(),
                "a request after the end"
            );
            assert!(self.sweep.poll_event().is_none(), "an event after the end");
        }
        assert_eq!(self.pages.len(), pages);
        if let Some(Ok(r)) = &self.end {
            assert_eq!(r.pages, self.resumed.0 + self.pages.len() as u64);
            assert_eq!(r.records, self.resumed.1 + self.ids().len() as u64);
            // The report keeps the first MAX_NOTICES notices and counts the rest.
            let kept = r.notices.len();
            assert!(kept <= pagewise::core::MAX_NOTICES);
            assert_eq!(
                r.notices[..],
                self.notices[..kept],
                "the report keeps the notices"
            );
            assert_eq!(kept as u64 + r.notices_dropped, self.notices.len() as u64);
            let bound = self.held_bound(r);
            assert!(
                r.max_buffered_pages <= bound,
                "report.max_buffered_pages {} > {bound} (concurrency {} + window {})",
                r.max_buffered_pages,
                self.c,
                self.w
            );
            assert_eq!(r.duration, self.now - self.t0);
        }
        self
    }

    /// Every URL asked, in order.
    fn urls(&self) -> Vec<String> {
        self.requests.iter().map(|r| r.url.clone()).collect()
    }

    /// Every record id handed out, in order.
    fn ids(&self) -> Vec<u64> {
        self.pages.iter().flat_map(ids_of).collect()
    }

    fn page_urls(&self) -> Vec<String> {
        self.pages.iter().map(|p| p.url.clone()).collect()
    }

    fn report(&self) -> &Report {
        match &self.end {
            Some(Ok(r)) => r,
            other => panic!("expected the sweep to finish, got {other:?}"),
        }
    }

    fn error(&self) -> &Error {
        match &self.end {
            Some(Err(e)) => e,
            other => panic!("expected the sweep to fail, got {other:?}"),
        }
    }
}

/// Runs `opts` on `api` against `server` with `pick`; concurrency `c`, window `w`.
fn sim(
    api: &Api,
    opts: ListOptions,
    c: usize,
    w: usize,
    pick: Pick,
    server: impl FnMut(&Request) -> Answer + 'static,
) -> Sim {
    let mut s = Sim::new(api, opts, c, w, server);
    s.run(pick);
    s
}

fn items() -> ListOptions {
    ListOptions::new("items")
}

// ---------------------------------------------------------------------------
// Dialects
// ---------------------------------------------------------------------------

#[test]
fn offset_total_from_header_fans_out_in_page_order() {
    let a = api(
        Pagination::offset().total(Total::header("X-Total-Count")),
        5,
        3,
    );
    let s = sim(
        &a,
        items(),
        3,
        3,
        Pick::Lifo,
        Fake::new(Style::Offset(Tot::Header), 23).server(),
    );
    assert_eq!(
        s.urls(),
        vec![off(0, 5), off(5, 5), off(10, 5), off(15, 5), off(20, 5)]
    );
    assert_eq!(s.ids(), range(1, 23));
    assert_eq!(s.page_urls(), s.urls());
    let r = s.report();
    assert_eq!((r.records, r.pages, r.requests), (23, 5, 5));
    assert_eq!((r.total, r.complete), (Some(23), Some(true)));
    assert!(r.notices.is_empty());
    assert_eq!(s.max_in_flight, 3);
    assert_ne!(s.answered, s.urls(), "answers came out of order");
}

#[test]
fn offset_total_from_json_pointer() {
    let a = api(
        Pagination::offset().total(Total::pointer("/meta/total")),
        5,
        4,
    );
    let s = sim(
        &a,
        items(),
        4,
        4,
        Pick::Seeded(7),
        Fake::new(Style::Offset(Tot::Pointer), 23).server(),
    );
    assert_eq!(
        s.urls(),
        vec![off(0, 5), off(5, 5), off(10, 5), off(15, 5), off(20, 5)]
    );
    assert_eq!(s.ids(), range(1, 23));
    assert_eq!(
        (s.report().total, s.report().complete),
        (Some(23), Some(true))
    );
    assert_eq!(s.max_in_flight, 4);
}

#[test]
fn offset_total_from_content_range() {
    let a = api(Pagination::offset().total(Total::ContentRange), 5, 2);
    let s = sim(
        &a,
        items(),
        2,
        2,
        Pick::Fifo,
        Fake::new(Style::Offset(Tot::Range), 12).server(),
    );
    assert_eq!(s.urls(), vec![off(0, 5), off(5, 5), off(10, 5)]);
    assert_eq!(s.ids(), range(1, 12));
    assert_eq!(
        (s.report().total, s.report().complete),
        (Some(12), Some(true))
    );
    assert_eq!(s.max_in_flight, 2);
}

#[test]
fn offset_with_total_configured_but_missing_walks_in_sequence() {
    let a = api(
        Pagination::offset().total(Total::header("X-Total-Count")),
        5,
        4,
    );
    let s = sim(
        &a,
        items(),
        4,
        4,
        Pick::Fifo,
        Fake::new(Style::Offset(Tot::No), 12).server(),
    );
    assert_eq!(s.urls(), vec![off(0, 5), off(5, 5), off(10, 5)]);
    assert_eq!(s.ids(), range(1, 12));
    assert_eq!(s.notices, vec![Notice::TotalMissing { page: 0 }]);
    assert_eq!((s.report().total, s.report().complete), (None, None));
    assert_eq!(s.max_in_flight, 1);
}

#[test]
fn offset_without_total_ends_on_a_shorter_page() {
    let a = api(Pagination::offset(), 5, 4);
    let s = sim(
        &a,
        items(),
        4,
        4,
        Pick::Fifo,
        Fake::new(Style::Offset(Tot::No), 23).server(),
    );
    assert_eq!(
        s.urls(),
        vec![off(0, 5), off(5, 5), off(10, 5), off(15, 5), off(20, 5)]
    );
    assert_eq!(s.ids(), range(1, 23));
    assert_eq!(s.max_in_flight, 1, "no total: one page at a time");
    assert!(s.notices.is_empty(), "no total configured, none missing");
    assert_eq!((s.report().total, s.report().complete), (None, None));
}

#[test]
fn offset_without_total_ends_on_an_empty_page() {
    let a = api(Pagination::offset(), 5, 4);
    let s = sim(
        &a,
        items(),
        4,
        4,
        Pick::Fifo,
        Fake::new(Style::Offset(Tot::No), 20).server(),
    );
    assert_eq!(
        s.urls(),
        vec![off(0, 5), off(5, 5), off(10, 5), off(15, 5), off(20, 5)]
    );
    assert_eq!(s.ids(), range(1, 20));
    assert_eq!(s.pages.len(), 5, "the empty last page is handed out too");
    assert!(s.pages[4].records.is_empty());
}

#[test]
fn offset_without_total_advances_by_records_received() {
    // Asked 10, the server hands out 4: offsets advance by 4, nothing is skipped.
    let a = api(Pagination::offset(), 10, 4);
    let s = sim(
        &a,
        items(),
        4,
        4,
        Pick::Fifo,
        Fake::new(Style::Offset(Tot::No), 12).cap(4).server(),
    );
    assert_eq!(
        s.urls(),
        vec![off(0, 10), off(4, 10), off(8, 10), off(12, 10)]
    );
    assert_eq!(s.ids(), range(1, 12));
}

#[test]
fn page_number_first_page_1_with_total() {
    let p = Pagination::page_number().total(Total::pointer("/meta/total"));
    let a = api(p, 5, 8);
    let s = sim(
        &a,
        items(),
        8,
        8,
        Pick::Lifo,
        Fake::new(Style::Page(1, Tot::Pointer), 23).server(),
    );
    assert_eq!(
        s.urls(),
        (1..=5).map(|p| page_url(p, 5)).collect::<Vec<_>>()
    );
    assert_eq!(s.ids(), range(1, 23));
    assert_eq!(s.max_in_flight, 4, "all four remaining pages at once");
    assert_eq!(
        (s.report().total, s.report().complete),
        (Some(23), Some(true))
    );
}

#[test]
fn page_number_first_page_0_with_total() {
    let p = Pagination::page_number()
        .first_page(0)
        .total(Total::header("X-Total-Count"));
    let a = api(p, 5, 8);
    let s = sim(
        &a,
        items(),
        8,
        8,
        Pick::Seeded(3),
        Fake::new(Style::Page(0, Tot::Header), 25).server(),
    );
    assert_eq!(
        s.urls(),
        (0..=4).map(|p| page_url(p, 5)).collect::<Vec<_>>()
    );
    assert_eq!(s.ids(), range(1, 25));
    assert_eq!(
        (s.report().total, s.report().complete),
        (Some(25), Some(true))
    );
}

#[test]
fn page_number_without_total_first_page_1() {
    let a = api(Pagination::page_number(), 5, 8);
    let s = sim(
        &a,
        items(),
        8,
        8,
        Pick::Fifo,
        Fake::new(Style::Page(1, Tot::No), 23).server(),
    );
    assert_eq!(
        s.urls(),
        (1..=5).map(|p| page_url(p, 5)).collect::<Vec<_>>()
    );
    assert_eq!(s.ids(), range(1, 23));
    assert_eq!(s.max_in_flight, 1);
    // An exact multiple ends on the empty page after it.
    let s = sim(
        &a,
        items(),
        8,
        8,
        Pick::Fifo,
        Fake::new(Style::Page(1, Tot::No), 25).server(),
    );
    assert_eq!(
        s.urls(),
        (1..=6).map(|p| page_url(p, 5)).collect::<Vec<_>>()
    );
    assert_eq!(s.ids(), range(1, 25));
}

#[test]
fn page_number_without_total_first_page_0() {
    let a = api(Pagination::page_number().first_page(0), 5, 8);
    let s = sim(
        &a,
        items(),
        8,
        8,
        Pick::Fifo,
        Fake::new(Style::Page(0, Tot::No), 10).server(),
    );
    assert_eq!(
        s.urls(),
        vec![page_url(0, 5), page_url(1, 5), page_url(2, 5)]
    );
    assert_eq!(s.ids(), range(1, 10));
}

#[test]
fn cursor_from_json_pointer() {
    let a = api(Pagination::cursor(Link::pointer("/next_cursor")), 5, 8);
    let s = sim(
        &a,
        items(),
        8,
        8,
        Pick::Fifo,
        Fake::new(Style::CursorBody, 12).server(),
    );
    assert_eq!(
        s.urls(),
        vec![
            format!("{ITEMS}?limit=5"),
            format!("{ITEMS}?cursor=tok-5&limit=5"),
            format!("{ITEMS}?cursor=tok-10&limit=5"),
        ]
    );
    assert_eq!(s.ids(), range(1, 12));
    assert_eq!(s.max_in_flight, 1);
    assert_eq!((s.report().total, s.report().complete), (None, None));
}

#[test]
fn cursor_from_header() {
    let a = api(Pagination::cursor(Link::header("X-Next-Cursor")), 5, 8);
    let s = sim(
        &a,
        items(),
        8,
        8,
        Pick::Fifo,
        Fake::new(Style::CursorHeader, 15).server(),
    );
    assert_eq!(
        s.urls(),
        vec![
            format!("{ITEMS}?limit=5"),
            format!("{ITEMS}?cursor=tok-5&limit=5"),
            format!("{ITEMS}?cursor=tok-10&limit=5"),
        ]
    );
    assert_eq!(s.ids(), range(1, 15), "an empty header ends the sweep");
}

fn next_urls_23_by_5() -> Vec<String> {
    vec![
        format!("{ITEMS}?limit=5"),
        format!("{ITEMS}?start=5&limit=5"),
        "https://api.example/v2/list?start=10&limit=5".to_string(),
        // "?start=15..." resolved against the page that held it, not the base URL.
        "https://api.example/v2/list?start=15&limit=5".to_string(),
        format!("{ITEMS}?start=20&limit=5"),
    ]
}

#[test]
fn next_url_from_json_pointer_resolves_relative_links_against_the_page() {
    let a = api(Pagination::next_url(Link::pointer("/links/next")), 5, 8);
    let s = sim(
        &a,
        items(),
        8,
        8,
        Pick::Fifo,
        Fake::new(Style::NextBody, 23).server(),
    );
    assert_eq!(s.urls(), next_urls_23_by_5());
    assert_eq!(s.page_urls(), next_urls_23_by_5());
    assert_eq!(s.ids(), range(1, 23));
    assert_eq!(s.max_in_flight, 1);
}

#[test]
fn next_url_from_link_header() {
    let a = api(Pagination::next_url(Link::LinkHeader), 5, 8);
    let s = sim(
        &a,
        items(),
        8,
        8,
        Pick::Fifo,
        Fake::new(Style::NextLink, 23).server(),
    );
    assert_eq!(s.urls(), next_urls_23_by_5());
    assert_eq!(s.ids(), range(1, 23));
}

#[test]
fn keyset_sends_the_last_value() {
    let a = api(Pagination::keyset("id"), 5, 8);
    let fake = Fake::new(Style::Keyset, 12); // ids 10, 13, ..., 43
    let s = sim(&a, items(), 8, 8, Pick::Fifo, fake.clone().server());
    assert_eq!(
        s.urls(),
        vec![
            format!("{ITEMS}?limit=5"),
            format!("{ITEMS}?id_gt=22&limit=5"),
            format!("{ITEMS}?id_gt=37&limit=5"),
        ]
    );
    assert_eq!(s.ids(), fake.ids);
    // An exact multiple ends on the empty page after it.
    let fake = Fake::new(Style::Keyset, 10);
    let s = sim(&a, items(), 8, 8, Pick::Fifo, fake.clone().server());
    assert_eq!(
        s.urls().last().unwrap(),
        &format!("{ITEMS}?id_gt=37&limit=5")
    );
    assert_eq!(s.urls().len(), 3);
    assert_eq!(s.ids(), fake.ids);
}

#[test]
fn default_and_list_query_parameters_come_before_paging_ones() {
    let a = api_with(
        Pagination::offset().total(Total::header("X-Total-Count")),
        5,
        2,
        |b| b.query("v", "2"),
    );
    let opts = items().query("active", "true");
    let s = sim(
        &a,
        opts,
        2,
        2,
        Pick::Fifo,
        Fake::new(Style::Offset(Tot::Header), 7).server(),
    );
    assert_eq!(
        s.urls(),
        vec![
            format!("{ITEMS}?v=2&active=true&offset=0&limit=5"),
            format!("{ITEMS}?v=2&active=true&offset=5&limit=5"),
        ]
    );
    assert_eq!(s.ids(), range(1, 7));
}

#[test]
fn list_options_override_page_size_and_cannot_exceed_api_concurrency() {
    let a = api(
        Pagination::offset().total(Total::header("X-Total-Count")),
        100,
        3,
    );
    let opts = items().page_size(10).concurrency(50);
    let s = sim(
        &a,
        opts,
        3,
        3,
        Pick::Fifo,
        Fake::new(Style::Offset(Tot::Header), 95).server(),
    );
    assert_eq!(
        s.urls(),
        (0..10).map(|k| off(10 * k, 10)).collect::<Vec<_>>()
    );
    assert_eq!(s.max_in_flight, 3);
    assert_eq!(s.ids(), range(1, 95));
    let opts = items().page_size(10).concurrency(2);
    let s = sim(
        &a,
        opts,
        2,
        2,
        Pick::Fifo,
        Fake::new(Style::Offset(Tot::Header), 95).server(),
    );
    assert_eq!(s.max_in_flight, 2);
}

// ---------------------------------------------------------------------------
// Fan-out, reorder window, order
// ---------------------------------------------------------------------------

fn offset_header_api(page_size: u64, c: usize) -> Api {
    api(
        Pagination::offset().total(Total::header("X-Total-Count")),
        page_size,
        c,
    )
}

#[test]
fn first_page_with_total_fans_out_up_to_concurrency_at_once() {
    let a = offset_header_api(10, 4);
    let mut s = Sim::new(
        &a,
        items(),
        4,
        4,
        Fake::new(Style::Offset(Tot::Header), 100).server(),
    );
    assert_eq!(s.send(), vec![off(0, 10)]);
    assert_eq!(
        s.send(),
        Vec::<String>::new(),
        "nothing more before the total is known"
    );
    s.answer(&off(0, 10));
    assert_eq!(
        s.send(),
        vec![off(10, 10), off(20, 10), off(30, 10), off(40, 10)]
    );
    assert_eq!(s.sweep.in_flight(), 4);
    assert_eq!(s.events(), 1);
    s.answer(&off(30, 10));
    assert_eq!(s.send(), vec![off(50, 10)], "one answer frees one slot");
    s.run(Pick::Fifo);
    assert_eq!(s.ids(), range(1, 100));
    assert_eq!(
        s.urls(),
        (0..10).map(|k| off(10 * k, 10)).collect::<Vec<_>>()
    );
}

#[test]
fn shuffled_answers_keep_page_order_within_bounds() {
    for (c, w) in [(1, 1), (2, 1), (3, 2), (4, 4), (8, 1), (5, 10)] {
        for seed in 1..=8 {
            let a = offset_header_api(10, c);
            let opts = items().window(w);
            let s = sim(
                &a,
                opts,
                c,
                w,
                Pick::Seeded(seed),
                Fake::new(Style::Offset(Tot::Header), 157).server(),
            );
            let ctx = format!("c={c} w={w} seed={seed}");
            assert_eq!(
                s.urls(),
                (0..16).map(|k| off(10 * k, 10)).collect::<Vec<_>>(),
                "{ctx}"
            );
            assert_eq!(s.ids(), range(1, 157), "{ctx}");
            assert_eq!(s.max_in_flight, c, "{ctx}");
            assert!(s.max_buffered <= c + w, "{ctx}");
            assert!(s.report().max_buffered_pages <= c + w, "{ctx}");
            assert_eq!(s.report().complete, Some(true), "{ctx}");
        }
    }
}

#[test]
fn reverse_answers_keep_page_order() {
    let a = offset_header_api(10, 4);
    let s = sim(
        &a,
        items().window(2),
        4,
        2,
        Pick::Lifo,
        Fake::new(Style::Offset(Tot::Header), 200).server(),
    );
    assert_eq!(s.ids(), range(1, 200));
    assert_eq!(
        s.page_urls(),
        (0..20).map(|k| off(10 * k, 10)).collect::<Vec<_>>()
    );
    // Newest first: 40, then 50 and 60 as the window allows, then the window is full.
    assert_eq!(
        s.answered[1..5],
        [off(40, 10), off(50, 10), off(60, 10), off(30, 10)]
    );
    assert_eq!(
        s.report().max_buffered_pages,
        6,
        "the whole window was used"
    );
}

#[test]
fn a_slow_page_holds_the_window_and_stops_requests() {
    let (c, w) = (3, 2);
    let a = offset_header_api(10, c);
    let mut s = Sim::new(
        &a,
        items().window(w),
        c,
        w,
        Fake::new(Style::Offset(Tot::Header), 100).server(),
    );
    s.send();
    s.answer(&off(0, 10));
    assert_eq!(s.send(), vec![off(10, 10), off(20, 10), off(30, 10)]);
    assert_eq!(s.events(), 1);
    // Page 1 (offset 10) is slow; everything else answers.
    s.answer(&off(20, 10));
    assert_eq!(s.send(), vec![off(40, 10)]);
    s.answer(&off(30, 10));
    assert_eq!(s.send(), vec![off(50, 10)]);
    s.answer(&off(40, 10));
    assert_eq!(
        s.send(),
        Vec::<String>::new(),
        "window full: pages 1..=5 held or in flight"
    );
    s.answer(&off(50, 10));
    assert_eq!(s.send(), Vec::<String>::new());
    assert_eq!(s.events(), 0, "nothing out of order");
    assert_eq!(s.in_flight(), vec![off(10, 10)]);
    assert_eq!(s.sweep.buffered_pages(), 4);
    s.answer(&off(10, 10));
    assert_eq!(s.sweep.buffered_pages(), 5);
    assert_eq!(s.sweep.report().max_buffered_pages, c + w);
    assert_eq!(s.send(), Vec::<String>::new(), "5 pages wait to be taken");
    assert_eq!(
        s.sweep.poll_timeout(),
        None,
        "a slow consumer is not woken up"
    );
    assert_eq!(s.events(), 5);
    // A driver that took every event after sending is told to come back now,
    // or it would wait forever with nothing in flight.
    assert_eq!(s.sweep.in_flight(), 0);
    let wake = s.sweep.poll_timeout().expect("a wake-up once room is made");
    assert!(wake <= s.now);
    s.sweep.handle_timeout(s.now);
    assert_eq!(s.events(), 0, "waking is not a failure");
    assert_eq!(s.send(), vec![off(60, 10), off(70, 10), off(80, 10)]);
    assert_eq!(s.sweep.poll_timeout(), None);
    assert_eq!(s.ids(), range(1, 60));
    s.run(Pick::Fifo);
    assert_eq!(s.ids(), range(1, 100));
    assert_eq!(s.report().max_buffered_pages, c + w);
}

#[test]
fn a_throttled_page_stretches_the_window_while_it_waits_out_retry_after() {
    // A 429 with `Retry-After: 1` for page 1: the pages after it go on
    // arriving while it waits, up to twice concurrency + window held; the
    // sweep does not stop for the whole second. Once page 1 is in, the
    // bound is concurrency + window again.
    let (c, w) = (2, 2);
    let a = offset_header_api(10, c);
    let fake = Fake::new(Style::Offset(Tot::Header), 200);
    let mut throttled = false;
    let mut s = Sim::new(&a, items().window(w), c, w, move |req| {
        if req.url == off(10, 10) && !throttled {
            throttled = true;
            return Ok(Response::new(429, "slow down").with_header("Retry-After", "1"));
        }
        Ok(fake.respond(&req.url))
    });
    s.send();
    s.answer(&off(0, 10));
    assert_eq!(s.events(), 1);
    assert_eq!(s.send(), vec![off(10, 10), off(20, 10)]);
    s.answer(&off(10, 10));
    // Page 1 waits a second; pages 2.. keep going, 2 at a time.
    let mut sent = s.send();
    while !s.in_flight().is_empty() {
        let next = s.in_flight()[0].clone();
        s.answer(&next);
        assert_eq!(s.events(), 0, "nothing passes page 1");
        sent.extend(s.send());
    }
    // Held: page 1 waiting, pages 2..=8 done: 8 = 2 x (2 + 2).
    assert_eq!(sent.last(), Some(&off(80, 10)), "{sent:?}");
    assert_eq!(s.sweep.buffered_pages(), 2 * (c + w) - 1);
    let due = s.sweep.poll_timeout().expect("page 1 is due");
    assert!(
        due - s.now > Duration::from_millis(900),
        "Retry-After is kept"
    );
    s.now = due;
    s.sweep.handle_timeout(due);
    assert_eq!(s.send(), vec![off(10, 10)], "page 1 goes again first");
    s.answer(&off(10, 10));
    assert_eq!(s.events(), 8, "pages 1..=8 out in order");
    // Back to concurrency + window: 2 in flight, and room for 2 more.
    assert_eq!(s.send(), vec![off(90, 10), off(100, 10)]);
    s.answer(&off(100, 10));
    s.answer(&off(90, 10));
    assert_eq!(s.events(), 2);
    s.run(Pick::Fifo);
    assert_eq!(s.ids(), range(1, 200));
    assert_eq!(s.report().max_buffered_pages, 2 * (c + w));
}

#[test]
fn a_retried_page_that_comes_back_short_still_gets_its_rest_fetched() {
    // Found by the `sweep` fuzz target. Page 1 is throttled; while it waits,
    // pages 2..=8 arrive under the stretched bound (2 x (2 + 2) held). Its
    // retry comes back short: the rest of its range is a new page, never
    // retried, so the bound is concurrency + window again, and 7 pages are
    // held, all waiting for that page. It goes all the same (only it can
    // release them), or the sweep would hold them forever with nothing in
    // flight and nothing to wait for.
    let (c, w) = (2, 2);
    let a = offset_header_api(10, c);
    let fake = Fake::new(Style::Offset(Tot::Header), 100);
    let mut asked = 0;
    let mut s = Sim::new(&a, items().window(w), c, w, move |req| {
        let resp = fake.respond(&req.url);
        if req.url == off(10, 10) {
            asked += 1;
            if asked == 1 {
                return Ok(Response::new(429, "slow down").with_header("Retry-After", "1"));
            }
            return Ok(keep_first(resp, 6));
        }
        Ok(resp)
    });
    s.send();
    s.answer(&off(0, 10));
    assert_eq!(s.events(), 1);
    assert_eq!(s.send(), vec![off(10, 10), off(20, 10)]);
    s.answer(&off(10, 10));
    let mut sent = s.send();
    while !s.in_flight().is_empty() {
        let next = s.in_flight()[0].clone();
        s.answer(&next);
        assert_eq!(s.events(), 0, "nothing passes page 1");
        sent.extend(s.send());
    }
    assert_eq!(sent, (3..=8).map(|k| off(10 * k, 10)).collect::<Vec<_>>());
    assert_eq!(s.sweep.buffered_pages(), 7, "pages 2..=8");
    let due = s.sweep.poll_timeout().expect("page 1 is due");
    s.now = due;
    s.sweep.handle_timeout(due);
    assert_eq!(s.send(), vec![off(10, 10)]);
    s.answer(&off(10, 10)); // ids 11..=16 of 11..=20
    assert_eq!(s.events(), 1, "page 1; pages 2..=8 wait for the rest of it");
    assert_eq!(
        s.notices,
        vec![Notice::ShortPage {
            page: 1,
            expected: 10,
            got: 6
        }]
    );
    assert_eq!(s.sweep.buffered_pages(), 7);
    assert_eq!(
        s.send(),
        vec![off(16, 4)],
        "the rest of page 1 goes, though 7 pages are held"
    );
    s.answer(&off(16, 4));
    assert_eq!(s.events(), 8, "the rest of page 1, then pages 2..=8");
    assert_eq!(s.send(), vec![off(90, 10)]);
    s.run(Pick::Fifo);
    assert_eq!(s.ids(), range(1, 100));
    assert_eq!(
        s.page_urls(),
        [off(0, 10), off(10, 10), off(16, 4)]
            .into_iter()
            .chain((2..=9).map(|k| off(10 * k, 10)))
            .collect::<Vec<_>>()
    );
    assert_eq!(s.report().complete, Some(true));
    assert_eq!(s.report().max_buffered_pages, 2 * (c + w));
}

#[test]
fn a_slow_consumer_stops_requests_at_concurrency_plus_window() {
    let (c, w) = (2, 2);
    let a = offset_header_api(10, c);
    let mut s = Sim::new(
        &a,
        items(),
        c,
        w,
        Fake::new(Style::Offset(Tot::Header), 100).server(),
    );
    s.send();
    s.answer(&off(0, 10));
    assert_eq!(s.send(), vec![off(10, 10), off(20, 10)]);
    s.answer(&off(10, 10));
    assert_eq!(s.send(), vec![off(30, 10)]);
    s.answer(&off(20, 10));
    assert_eq!(s.send(), Vec::<String>::new());
    s.answer(&off(30, 10));
    assert_eq!(
        s.send(),
        Vec::<String>::new(),
        "4 pages wait to be taken: no more requests"
    );
    assert_eq!(s.sweep.in_flight(), 0);
    assert_eq!(s.sweep.buffered_pages(), c + w);
    assert_eq!(
        s.sweep.poll_timeout(),
        None,
        "nothing to do until pages are taken"
    );
    assert_eq!(s.events(), 4);
    assert_eq!(s.sweep.buffered_pages(), 0);
    assert_eq!(s.send(), vec![off(40, 10), off(50, 10)]);
    s.run(Pick::Fifo);
    assert_eq!(s.ids(), range(1, 100));
    assert_eq!(s.report().max_buffered_pages, c + w);
}

#[test]
fn completion_order_hands_pages_out_as_they_arrive() {
    for seed in [3, 11] {
        let a = offset_header_api(10, 4);
        let opts = items().order(Order::Completion);
        let s = sim(
            &a,
            opts,
            4,
            4,
            Pick::Seeded(seed),
            Fake::new(Style::Offset(Tot::Header), 100).server(),
        );
        assert_eq!(s.page_urls(), s.answered, "pages come out in answer order");
        let mut ids = s.ids();
        assert_ne!(ids, range(1, 100), "seed {seed} reorders");
        ids.sort_unstable();
        assert_eq!(ids, range(1, 100), "the exact set of ids");
        assert_eq!(s.report().complete, Some(true));
        assert_eq!(
            s.report().max_buffered_pages,
            1,
            "completion order holds nothing back"
        );
    }
}

#[test]
fn simulated_latency_gives_exact_durations() {
    // 100 ms per request: the first page, then 8 pages 4 at a time.
    let a = offset_header_api(10, 4);
    let s = sim(
        &a,
        items(),
        4,
        4,
        Pick::Latency(Box::new(|_| Duration::from_millis(100))),
        Fake::new(Style::Offset(Tot::Header), 90).server(),
    );
    assert_eq!(s.report().duration, Duration::from_millis(300));
    assert_eq!(s.ids(), range(1, 90));
    let a = offset_header_api(10, 2);
    let s = sim(
        &a,
        items(),
        2,
        2,
        Pick::Latency(Box::new(|_| Duration::from_millis(100))),
        Fake::new(Style::Offset(Tot::Header), 90).server(),
    );
    assert_eq!(s.report().duration, Duration::from_millis(500));
    // A slow page 1 (offset 10) does not stop the others within the window.
    let a = offset_header_api(10, 4);
    let lat = |u: &str| {
        if u.contains("offset=10&") {
            Duration::from_millis(1000)
        } else {
            Duration::from_millis(100)
        }
    };
    let s = sim(
        &a,
        items(),
        4,
        4,
        Pick::Latency(Box::new(lat)),
        Fake::new(Style::Offset(Tot::Header), 90).server(),
    );
    assert_eq!(s.ids(), range(1, 90));
    assert_eq!(s.report().duration, Duration::from_millis(1100));
    assert_eq!(s.answered.last().unwrap(), &off(10, 10));
}

// ---------------------------------------------------------------------------
// Row-losing traps
// ---------------------------------------------------------------------------

#[test]
fn a_server_capping_the_page_size_is_detected_offset() {
    let a = offset_header_api(100, 8);
    let s = sim(
        &a,
        items(),
        8,
        8,
        Pick::Seeded(5),
        Fake::new(Style::Offset(Tot::Header), 1000).cap(40).server(),
    );
    let mut want = vec![off(0, 100)];
    want.extend((1..25).map(|k| off(40 * k, 40)));
    assert_eq!(s.urls(), want);
    assert_eq!(s.ids(), range(1, 1000));
    assert!(s.notices.is_empty(), "{:?}", s.notices);
    assert_eq!(s.report().complete, Some(true));
}

#[test]
fn a_server_capping_the_page_size_is_detected_page_number() {
    let a = api(
        Pagination::page_number().total(Total::pointer("/meta/total")),
        100,
        8,
    );
    let s = sim(
        &a,
        items(),
        8,
        8,
        Pick::Seeded(9),
        Fake::new(Style::Page(1, Tot::Pointer), 1000)
            .cap(40)
            .server(),
    );
    assert_eq!(
        s.urls(),
        (1..=25).map(|p| page_url(p, 100)).collect::<Vec<_>>()
    );
    assert_eq!(s.ids(), range(1, 1000));
    assert!(s.notices.is_empty(), "{:?}", s.notices);
}

#[test]
fn a_short_page_mid_sweep_refetches_the_missing_range() {
    let a = offset_header_api(10, 8);
    let fake = Fake::new(Style::Offset(Tot::Header), 50);
    let s = sim(&a, items(), 8, 8, Pick::Fifo, move |req| {
        let resp = fake.respond(&req.url);
        Ok(if req.url == off(20, 10) {
            keep_first(resp, 6)
        } else {
            resp
        })
    });
    assert_eq!(
        s.urls(),
        vec![
            off(0, 10),
            off(10, 10),
            off(20, 10),
            off(30, 10),
            off(40, 10),
            off(26, 4)
        ]
    );
    assert_eq!(s.ids(), range(1, 50));
    assert_eq!(
        s.notices,
        vec![Notice::ShortPage {
            page: 2,
            expected: 10,
            got: 6
        }]
    );
    assert_eq!(
        s.page_urls(),
        vec![
            off(0, 10),
            off(10, 10),
            off(20, 10),
            off(26, 4),
            off(30, 10),
            off(40, 10)
        ]
    );
    assert_eq!(s.report().complete, Some(true));
}

#[test]
fn a_short_refetch_is_refetched_again() {
    let a = offset_header_api(10, 8);
    let fake = Fake::new(Style::Offset(Tot::Header), 50);
    let s = sim(&a, items(), 8, 8, Pick::Lifo, move |req| {
        let resp = fake.respond(&req.url);
        Ok(match req.url.as_str() {
            u if u == off(20, 10) => keep_first(resp, 6),
            u if u == off(26, 4) => keep_first(resp, 2),
            _ => resp,
        })
    });
    let mut asked = s.urls();
    asked.sort();
    let mut want = vec![
        off(0, 10),
        off(10, 10),
        off(20, 10),
        off(30, 10),
        off(40, 10),
        off(26, 4),
        off(28, 2),
    ];
    want.sort();
    assert_eq!(asked, want);
    assert_eq!(s.ids(), range(1, 50));
    assert_eq!(
        s.notices,
        vec![
            Notice::ShortPage {
                page: 2,
                expected: 10,
                got: 6
            },
            Notice::ShortPage {
                page: 2,
                expected: 4,
                got: 2
            },
        ]
    );
}

#[test]
fn short_pages_under_shuffled_concurrency_lose_no_row() {
    // Every third page answers short, every answer order: no gap, no duplicate.
    for seed in 1..=12 {
        let a = offset_header_api(10, 4);
        let fake = Fake::new(Style::Offset(Tot::Header), 120);
        let mut n = 0;
        let s = sim(
            &a,
            items().window(3),
            4,
            3,
            Pick::Seeded(seed),
            move |req| {
                n += 1;
                let resp = fake.respond(&req.url);
                Ok(if n % 3 == 0 {
                    keep_first(resp, 3)
                } else {
                    resp
                })
            },
        );
        assert_eq!(s.ids(), range(1, 120), "seed {seed}");
        assert_eq!(s.report().complete, Some(true), "seed {seed}");
        assert!(!s.notices.is_empty());
    }
}

#[test]
fn a_refetch_does_not_stretch_the_window() {
    // concurrency 3 + window 1: at most 4 pages held or in flight, refetches included.
    let (c, w) = (3, 1);
    let a = offset_header_api(10, c);
    let fake = Fake::new(Style::Offset(Tot::Header), 100);
    let mut s = Sim::new(&a, items().window(w), c, w, move |req| {
        let resp = fake.respond(&req.url);
        Ok(if req.url == off(20, 10) {
            keep_first(resp, 6)
        } else {
            resp
        })
    });
    s.send();
    s.answer(&off(0, 10));
    assert_eq!(s.send(), vec![off(10, 10), off(20, 10), off(30, 10)]);
    s.events();
    s.answer(&off(30, 10));
    assert_eq!(s.send(), vec![off(40, 10)]);
    s.answer(&off(20, 10)); // short: rows 27..=30 must be fetched again
    s.events();
    // Pages 1 (in flight), 2, 3 (done) and 4 (in flight) fill the window:
    // the refetch waits for room.
    assert_eq!(s.send(), Vec::<String>::new());
    s.answer(&off(40, 10));
    assert_eq!(s.send(), Vec::<String>::new());
    s.answer(&off(10, 10));
    assert_eq!(
        s.events(),
        2,
        "pages 1 and 2; the rest waits for the refetch"
    );
    assert_eq!(
        s.send(),
        vec![off(26, 4), off(50, 10)],
        "the refetch goes first"
    );
    s.run(Pick::Lifo);
    assert_eq!(s.ids(), range(1, 100));
    assert!(s.report().max_buffered_pages <= c + w);
}

#[test]
fn an_empty_page_mid_sweep_is_noticed_and_reported_incomplete() {
    let a = offset_header_api(10, 8);
    let fake = Fake::new(Style::Offset(Tot::Header), 50);
    let s = sim(&a, items(), 8, 8, Pick::Fifo, move |req| {
        let resp = fake.respond(&req.url);
        Ok(if req.url == off(20, 10) {
            keep_first(resp, 0)
        } else {
            resp
        })
    });
    assert_eq!(
        s.notices,
        vec![Notice::ShortPage {
            page: 2,
            expected: 10,
            got: 0
        }]
    );
    let mut want = range(1, 20);
    want.extend(range(31, 50));
    assert_eq!(s.ids(), want);
    assert_eq!(
        s.report().complete,
        Some(false),
        "missing rows show in the report"
    );
}

#[test]
fn a_short_page_number_page_is_noticed() {
    let a = api(
        Pagination::page_number().total(Total::pointer("/meta/total")),
        10,
        8,
    );
    let fake = Fake::new(Style::Page(1, Tot::Pointer), 50);
    let s = sim(&a, items(), 8, 8, Pick::Fifo, move |req| {
        let resp = fake.respond(&req.url);
        Ok(if req.url == page_url(3, 10) {
            keep_first(resp, 6)
        } else {
            resp
        })
    });
    assert_eq!(
        s.urls(),
        (1..=5).map(|p| page_url(p, 10)).collect::<Vec<_>>()
    );
    assert_eq!(
        s.notices,
        vec![Notice::ShortPage {
            page: 2,
            expected: 10,
            got: 6
        }]
    );
    let mut want = range(1, 26);
    want.extend(range(31, 50));
    assert_eq!(s.ids(), want);
    assert_eq!(s.report().complete, Some(false));
}

#[test]
fn a_growing_total_plans_more_pages() {
    let a = offset_header_api(10, 2);
    let mut fake = Fake::new(Style::Offset(Tot::Header), 30);
    let s = sim(&a, items(), 2, 2, Pick::Fifo, move |req| {
        let resp = fake.respond(&req.url);
        if fake.ids.len() == 30 {
            fake.ids.extend(31..=45); // rows added once the sweep has started
        }
        Ok(resp)
    });
    assert_eq!(
        s.urls(),
        (0..5).map(|k| off(10 * k, 10)).collect::<Vec<_>>()
    );
    assert_eq!(s.ids(), range(1, 45));
    assert_eq!(
        s.notices,
        vec![Notice::TotalChanged {
            from: 30,
            to: 45,
            page: 1
        }]
    );
    assert_eq!(
        (s.report().total, s.report().complete),
        (Some(45), Some(false))
    );
    // Every row came, but a sweep cannot tell rows added at the end from
    // rows shifted past the pages it fetched: it does not claim complete.
    assert!(s.report().changed_during_sweep);
}

#[test]
fn a_shrinking_total_is_noticed() {
    let a = offset_header_api(10, 2);
    let mut fake = Fake::new(Style::Offset(Tot::Header), 30);
    let s = sim(&a, items(), 2, 2, Pick::Fifo, move |req| {
        let resp = fake.respond(&req.url);
        fake.ids.truncate(25);
        Ok(resp)
    });
    assert_eq!(s.urls(), vec![off(0, 10), off(10, 10), off(20, 10)]);
    assert_eq!(s.ids(), range(1, 25));
    assert_eq!(
        s.notices,
        vec![Notice::TotalChanged {
            from: 30,
            to: 25,
            page: 1
        }]
    );
    assert_eq!(
        (s.report().total, s.report().complete),
        (Some(25), Some(false))
    );
    // The count matches the new total, but rows removed before the pages
    // fetched would have shifted rows out of them: not claimed complete.
    assert!(s.report().changed_during_sweep);
}

#[test]
fn a_growing_page_number_total_plans_more_pages() {
    let a = api(
        Pagination::page_number()
            .first_page(0)
            .total(Total::header("X-Total-Count")),
        10,
        4,
    );
    let mut fake = Fake::new(Style::Page(0, Tot::Header), 20);
    let s = sim(&a, items(), 4, 4, Pick::Fifo, move |req| {
        let resp = fake.respond(&req.url);
        if fake.ids.len() == 20 {
            fake.ids.extend(21..=35);
        }
        Ok(resp)
    });
    assert_eq!(
        s.urls(),
        (0..4).map(|p| page_url(p, 10)).collect::<Vec<_>>()
    );
    assert_eq!(s.ids(), range(1, 35));
    assert_eq!(
        s.notices,
        vec![Notice::TotalChanged {
            from: 20,
            to: 35,
            page: 1
        }]
    );
}

fn cursor_server(
    cursors: &'static [(&'static str, Option<&'static str>)],
) -> impl FnMut(&Request) -> Answer {
    // (cursor asked, cursor sent back); page k holds ids 10k+1..=10k+2.
    move |req| {
        let q = query(&req.url);
        let asked = q.get("cursor").map(String::as_str).unwrap_or("");
        let k = cursors
            .iter()
            .position(|(c, _)| *c == asked)
            .expect("a known cursor") as u64;
        let next = cursors[k as usize].1;
        let body = json!({ "data": [record(10 * k + 1), record(10 * k + 2)], "next_cursor": next });
        Ok(Response::new(200, body.to_string()))
    }
}

#[test]
fn a_checkpoint_keeps_the_latest_cursors_and_a_resumed_sweep_still_catches_a_loop() {
    // 200 pages by cursor: a checkpoint does not grow with the sweep (it
    // keeps the latest 64 cursors seen; taking one each page stays cheap),
    // and a sweep resumed from it still stops at a recent cursor sent again.
    let a = api(Pagination::cursor(Link::pointer("/next_cursor")), 1, 4);
    let mut s = Sim::new(
        &a,
        items(),
        4,
        4,
        Fake::new(Style::CursorBody, 200).server(),
    );
    for _ in 0..150 {
        let sent = s.send();
        assert_eq!(sent.len(), 1, "a cursor sweep asks one page at a time");
        s.answer(&sent[0]);
        assert_eq!(s.events(), 1);
    }
    let checkpoint = s.sweep.checkpoint();
    let json = checkpoint.to_json();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let seen = v["learnt"]["seen"].as_array().expect("seen cursors");
    assert_eq!(seen.len(), 64, "{json}");
    assert_eq!(seen.last().unwrap(), "tok-150", "the latest kept");
    // Resumed: the next page (cursor tok-150) links back to tok-120.
    let resumed = Checkpoint::from_json(&json).unwrap();
    let fake = Fake::new(Style::CursorBody, 200);
    let s = sim(&a, items().resume(resumed), 4, 4, Pick::Fifo, move |req| {
        if req.url.contains("cursor=tok-150&") {
            let body = json!({ "data": [record(151)], "next_cursor": "tok-120" });
            return Ok(Response::new(200, body.to_string()));
        }
        Ok(fake.respond(&req.url))
    });
    assert_eq!(s.urls(), vec![format!("{ITEMS}?cursor=tok-150&limit=1")]);
    assert_eq!(s.error().kind(), ErrorKind::Loop, "{}", s.error());
    assert!(
        s.ids().is_empty(),
        "the page that links back is not handed out"
    );
}

#[test]
fn a_cursor_seen_twice_is_a_loop() {
    let a = api(
        Pagination::cursor(Link::pointer("/next_cursor")).limit_param(None),
        2,
        4,
    );
    let s = sim(
        &a,
        items(),
        4,
        4,
        Pick::Fifo,
        cursor_server(&[("", Some("A")), ("A", Some("B")), ("B", Some("A"))]),
    );
    assert_eq!(
        s.urls(),
        vec![
            ITEMS.to_string(),
            format!("{ITEMS}?cursor=A"),
            format!("{ITEMS}?cursor=B")
        ]
    );
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Loop);
    assert_eq!(e.url(), Some(format!("{ITEMS}?cursor=B").as_str()));
    assert_eq!(e.page(), Some(2));
    let text = e.to_string();
    assert!(
        text.contains(&format!("{ITEMS}?cursor=B")) && text.contains("page 2"),
        "{text}"
    );
    assert_eq!(
        s.ids(),
        vec![1, 2, 11, 12],
        "pages before the loop are intact, none after"
    );
}

fn link_server(
    links: &'static [(&'static str, Option<&'static str>)],
) -> impl FnMut(&Request) -> Answer {
    // (URL asked, next link); page k holds ids 10k+1..=10k+2.
    move |req| {
        let k = links
            .iter()
            .position(|(u, _)| *u == req.url)
            .unwrap_or_else(|| panic!("unexpected {}", req.url)) as u64;
        let body = json!({ "data": [record(10 * k + 1), record(10 * k + 2)], "next": links[k as usize].1 });
        Ok(Response::new(200, body.to_string()))
    }
}

#[test]
fn a_next_url_seen_twice_is_a_loop() {
    let a = api(
        Pagination::next_url(Link::pointer("/next")).limit_param(None),
        2,
        4,
    );
    let s = sim(
        &a,
        items(),
        4,
        4,
        Pick::Fifo,
        link_server(&[
            ("https://api.example/v1/items", Some("items?p=2")),
            ("https://api.example/v1/items?p=2", Some("/v1/items?p=3")),
            ("https://api.example/v1/items?p=3", Some("?p=2")),
        ]),
    );
    assert_eq!(s.urls().len(), 3);
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Loop);
    assert_eq!(e.url(), Some("https://api.example/v1/items?p=3"));
    assert_eq!(e.page(), Some(2));
    assert!(
        e.to_string().contains("https://api.example/v1/items?p=3"),
        "{e}"
    );
    assert_eq!(s.ids(), vec![1, 2, 11, 12]);
}

#[test]
fn a_next_url_back_to_the_first_page_is_a_loop() {
    let a = api(
        Pagination::next_url(Link::pointer("/next")).limit_param(None),
        2,
        4,
    );
    let s = sim(
        &a,
        items(),
        4,
        4,
        Pick::Fifo,
        link_server(&[
            ("https://api.example/v1/items", Some("items?p=2")),
            (
                "https://api.example/v1/items?p=2",
                Some("https://api.example/v1/items"),
            ),
        ]),
    );
    assert_eq!(
        s.urls(),
        vec![ITEMS.to_string(), format!("{ITEMS}?p=2")],
        "the first page is not fetched again"
    );
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Loop);
    assert_eq!(
        (e.url(), e.page()),
        (Some(format!("{ITEMS}?p=2").as_str()), Some(1))
    );
    assert_eq!(s.ids(), vec![1, 2], "no row handed out twice");
}

#[test]
fn a_keyset_value_that_does_not_advance_is_a_loop() {
    let a = api(Pagination::keyset("id"), 5, 4);
    // The server ignores id_gt: the same page again and again.
    let fake = Fake::new(Style::Keyset, 30);
    let s = sim(&a, items(), 4, 4, Pick::Fifo, move |req| {
        let mut u = Url::parse(&req.url).unwrap();
        u.set_query(Some("limit=5"));
        Ok(fake.respond(u.as_str()))
    });
    assert_eq!(
        s.urls(),
        vec![
            format!("{ITEMS}?limit=5"),
            format!("{ITEMS}?id_gt=22&limit=5")
        ]
    );
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Loop);
    assert_eq!(
        (e.url(), e.page()),
        (Some(format!("{ITEMS}?id_gt=22&limit=5").as_str()), Some(1))
    );
    assert_eq!(s.ids(), vec![10, 13, 16, 19, 22]);
}

#[test]
fn a_keyset_record_without_the_field_is_a_decode_error() {
    let a = api(Pagination::keyset("/meta/id"), 2, 4);
    let s = sim(&a, items(), 4, 4, Pick::Fifo, |_| {
        Ok(Response::new(
            200,
            r#"{"data":[{"meta":{"id":1}},{"id":2}]}"#,
        ))
    });
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert!(e.message().contains("/meta/id"), "{e}");
    assert_eq!(e.url(), Some(format!("{ITEMS}?limit=2").as_str()));
    assert!(s.pages.is_empty());
}

// ---------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------

#[test]
fn a_status_error_on_page_3_hands_out_earlier_pages_only() {
    for (status, body) in [
        (500, r#"{"error":"boom"}"#),
        (404, "<html><h1>Not Found</h1></html>"),
    ] {
        let a = offset_header_api(10, 8);
        let fake = Fake::new(Style::Offset(Tot::Header), 100);
        // Pages 4 and 5 finish first and wait; pages 1 and 2 follow; then page 3 fails.
        let order = vec![
            off(0, 10),
            off(50, 10),
            off(40, 10),
            off(10, 10),
            off(20, 10),
            off(30, 10),
        ];
        let s = sim(
            &a,
            items().retry(RetryPolicy::none()),
            8,
            8,
            Pick::Priority(order.clone()),
            move |req| {
                Ok(if req.url == off(30, 10) {
                    Response::new(status, body)
                } else {
                    fake.respond(&req.url)
                })
            },
        );
        assert_eq!(s.answered[..6], order[..]);
        assert_eq!(s.page_urls(), vec![off(0, 10), off(10, 10), off(20, 10)]);
        assert_eq!(s.ids(), range(1, 30));
        let e = s.error();
        assert_eq!(e.kind(), ErrorKind::Status);
        assert_eq!(e.status(), Some(status));
        assert_eq!(e.url(), Some(off(30, 10).as_str()));
        assert_eq!(e.page(), Some(3));
        assert_eq!(e.excerpt(), Some(body));
        assert_eq!(e.message(), format!("the server answered {status}"));
        assert!(e.to_string().contains(&off(30, 10)));
    }
}

#[test]
fn a_status_error_on_the_first_page() {
    let a = offset_header_api(10, 8);
    let s = sim(&a, items(), 8, 8, Pick::Fifo, |_| {
        Ok(Response::new(503, ""))
    });
    let e = s.error();
    assert_eq!(
        (e.kind(), e.status(), e.page()),
        (ErrorKind::Status, Some(503), Some(0))
    );
    assert_eq!(e.url(), Some(off(0, 10).as_str()));
    assert_eq!(e.excerpt(), Some("(empty body)"));
    assert!(e.is_transient());
    assert!(s.pages.is_empty());
}

#[test]
fn a_failure_in_completion_order_ends_the_stream() {
    let a = offset_header_api(10, 8);
    let fake = Fake::new(Style::Offset(Tot::Header), 100);
    let order = vec![off(0, 10), off(50, 10), off(30, 10)];
    let s = sim(
        &a,
        items().order(Order::Completion).retry(RetryPolicy::none()),
        8,
        8,
        Pick::Priority(order),
        move |req| {
            Ok(if req.url == off(30, 10) {
                Response::new(500, "no")
            } else {
                fake.respond(&req.url)
            })
        },
    );
    // Pages handed out before the failure stay handed out; the pages before
    // the failing one still finish (so every record up to it is delivered);
    // nothing after it is handed out any more.
    let urls = s.page_urls();
    assert_eq!(urls[..2], [off(0, 10), off(50, 10)]);
    let mut rest = urls[2..].to_vec();
    rest.sort();
    assert_eq!(rest, vec![off(10, 10), off(20, 10)]);
    assert_eq!(s.error().page(), Some(3));
}

#[test]
fn bodies_that_are_not_pages_are_decode_errors_naming_the_url() {
    let cases: &[(&str, &str)] = &[
        (
            "<html><body>Service Unavailable</body></html>",
            "not valid JSON",
        ),
        (
            r#"{"meta":{"total":50},"data":[{"id":21},{"id":2"#,
            "not valid JSON",
        ),
        // Records that balance but are not JSON: the page is refused whole,
        // no record of it is handed out or skipped.
        (
            r#"{"meta":{"total":50},"data":[{"id":21},{"id":22,}]}"#,
            "not valid JSON",
        ),
        (
            r#"{"meta":{"total":50},"data":[{"id":21,"s":"a\qb"}]}"#,
            "not valid JSON",
        ),
        (
            r#"{"meta":{"total":50},"data":[{"id":21,"n":01}]}"#,
            "not valid JSON",
        ),
        (r#"{"meta":{"total":50},"data":[]} []"#, "not valid JSON"),
        ("null", "missing"),
        ("", "empty"),
        ("  \n", "empty"),
        (r#"{"meta":{"total":50},"items":[]}"#, "missing"),
        (r#"{"meta":{"total":50},"data":null}"#, "null"),
        (r#"{"meta":{"total":50},"data":{"id":1}}"#, "not an array"),
        (r#"{"meta":{"total":"lots"},"data":[]}"#, "total"),
        (r#"[{"id":1}]"#, "missing"),
    ];
    for (body, what) in cases {
        let a = api(
            Pagination::offset().total(Total::pointer("/meta/total")),
            10,
            4,
        );
        let fake = Fake::new(Style::Offset(Tot::Pointer), 50);
        let s = sim(&a, items(), 4, 4, Pick::Fifo, move |req| {
            Ok(if req.url == off(20, 10) {
                Response::new(200, *body)
            } else {
                fake.respond(&req.url)
            })
        });
        let e = s.error();
        assert_eq!(e.kind(), ErrorKind::Decode, "{body:?}: {e}");
        assert_eq!(e.url(), Some(off(20, 10).as_str()), "{body:?}");
        assert_eq!((e.page(), e.status()), (Some(2), Some(200)), "{body:?}");
        assert!(e.message().contains(what), "{body:?}: {e}");
        assert!(e.to_string().contains(&off(20, 10)), "{e}");
        assert_eq!(s.ids(), range(1, 20), "{body:?}: pages before are intact");
    }
}

#[test]
fn a_top_level_null_body_is_a_decode_error() {
    let a = Api::builder(BASE)
        .pagination(Pagination::offset())
        .build()
        .unwrap();
    let s = sim(&a, items(), 8, 8, Pick::Fifo, |_| {
        Ok(Response::new(200, "null"))
    });
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert!(e.message().contains("null"), "{e}");
    assert_eq!(e.url(), Some(off(0, 100).as_str()));
    // And a top-level array is a page.
    let s = sim(&a, items(), 8, 8, Pick::Fifo, |r| {
        Ok(Response::new(
            200,
            if r.url.contains("offset=0&") {
                r#"[{"id":1},{"id":2}]"#
            } else {
                "[]"
            },
        ))
    });
    assert_eq!(s.ids(), vec![1, 2]);
}

#[test]
fn a_total_header_that_is_not_a_count_is_a_decode_error() {
    let a = offset_header_api(10, 4);
    let s = sim(&a, items(), 4, 4, Pick::Fifo, |_| {
        Ok(Response::new(200, r#"{"data":[]}"#).with_header("X-Total-Count", "many"))
    });
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert!(e.message().contains("X-Total-Count"), "{e}");
}

#[test]
fn transport_errors_map_to_kinds() {
    for (kind, want) in [
        (TransportErrorKind::Connect, ErrorKind::Transport),
        (TransportErrorKind::Io, ErrorKind::Transport),
        (TransportErrorKind::Other, ErrorKind::Transport),
        (TransportErrorKind::Timeout, ErrorKind::Timeout),
        (TransportErrorKind::Aborted, ErrorKind::Cancelled),
    ] {
        let a = offset_header_api(10, 4);
        let fake = Fake::new(Style::Offset(Tot::Header), 50);
        let s = sim(
            &a,
            items().retry(RetryPolicy::none()),
            4,
            4,
            Pick::Fifo,
            move |req| {
                if req.url == off(10, 10) {
                    Err(TransportError::new(kind, "connection reset by peer"))
                } else {
                    Ok(fake.respond(&req.url))
                }
            },
        );
        let e = s.error();
        assert_eq!(e.kind(), want, "{kind:?}");
        assert_eq!(e.message(), "connection reset by peer");
        assert_eq!(
            (e.url(), e.page(), e.status()),
            (Some(off(10, 10).as_str()), Some(1), None)
        );
        assert_eq!(s.ids(), range(1, 10));
    }
}

#[test]
fn a_relative_redirect_is_followed_with_credentials() {
    let a = api_with(
        Pagination::offset().total(Total::header("X-Total-Count")),
        10,
        4,
        |b| b.auth(Auth::bearer("s3cr3t")),
    );
    let fake = Fake::new(Style::Offset(Tot::Header), 25);
    let s = sim(&a, items(), 4, 4, Pick::Fifo, move |req| {
        Ok(if req.url == off(0, 10) {
            redirect(302, "moved/items?offset=0&limit=10")
        } else {
            fake.respond(&req.url)
        })
    });
    let moved = "https://api.example/v1/moved/items?offset=0&limit=10";
    assert_eq!(
        s.urls(),
        vec![off(0, 10), moved.to_string(), off(10, 10), off(20, 10)]
    );
    assert_eq!(s.page_urls()[0], moved, "the page is where it was found");
    assert_eq!(s.ids(), range(1, 25));
    assert_eq!(s.report().requests, 4);
    for r in &s.requests {
        assert_eq!(
            r.header("Authorization"),
            Some("Bearer s3cr3t"),
            "{}",
            r.url
        );
    }
}

/// A server whose page 1 redirects to `to`.
fn redirecting_server(to: &'static str) -> impl FnMut(&Request) -> Answer {
    let fake = Fake::new(Style::Offset(Tot::Header), 25);
    move |req| {
        Ok(if req.url == off(10, 10) {
            redirect(307, to)
        } else {
            fake.respond(&req.url)
        })
    }
}

fn secret_api(more: impl FnOnce(pagewise::ApiBuilder) -> pagewise::ApiBuilder) -> Api {
    api_with(
        Pagination::offset().total(Total::header("X-Total-Count")),
        10,
        4,
        |b| {
            more(
                b.auth(Auth::bearer("s3cr3t"))
                    .header("X-Api-Key", "k3y")
                    .header("X-Tenant", "acme"),
            )
        },
    )
}

#[test]
fn a_redirect_to_another_origin_is_refused_by_default() {
    for cdn in [
        "https://cdn.example/blobs/p1?offset=10&limit=10",
        // https -> http on the same host: another origin, and cleartext.
        "http://api.example/v1/items?offset=10&limit=10",
    ] {
        let s = sim(
            &secret_api(|b| b),
            items(),
            4,
            4,
            Pick::Fifo,
            redirecting_server(cdn),
        );
        assert_eq!(
            s.urls(),
            vec![off(0, 10), off(10, 10), off(20, 10)],
            "nothing sent to {cdn}"
        );
        let e = s.error();
        assert_eq!(e.kind(), ErrorKind::Origin);
        assert_eq!(
            (e.url(), e.page(), e.status()),
            (Some(cdn), Some(1), Some(307))
        );
        assert!(e.message().contains("allow_origins"), "{e}");
        assert_eq!(s.ids(), range(1, 10));
    }
}

#[test]
fn a_redirect_to_an_allowed_origin_drops_credentials_and_headers() {
    let cdn = "https://cdn.example/blobs/p1?offset=10&limit=10";
    let a = secret_api(|b| b.allow_origins(["https://cdn.example"]));
    let s = sim(&a, items(), 4, 4, Pick::Fifo, redirecting_server(cdn));
    assert_eq!(
        s.urls(),
        vec![off(0, 10), off(10, 10), off(20, 10), cdn.to_string()]
    );
    assert_eq!(s.ids(), range(1, 25));
    for r in &s.requests {
        let sent: Vec<&str> = r.headers.iter().map(|h| h.name.as_str()).collect();
        if r.url == cdn {
            assert_eq!(
                sent,
                ["Accept"],
                "nothing configured goes to another origin"
            );
        } else {
            assert_eq!(
                sent,
                ["Accept", "X-Api-Key", "X-Tenant", "Authorization"],
                "{}",
                r.url
            );
        }
    }
}

#[test]
fn a_next_link_to_another_origin_is_refused_by_default_and_followed_bare_when_allowed() {
    let links: &'static [(&'static str, Option<&'static str>)] = &[
        (
            "https://api.example/v1/items?api_key=k3y",
            Some("https://evil.example:8443/x?api_key=k3y&p=2"),
        ),
        ("https://evil.example:8443/x?p=2", Some("?p=3")),
        ("https://evil.example:8443/x?p=3", None),
    ];
    let a = |more: fn(pagewise::ApiBuilder) -> pagewise::ApiBuilder| {
        api_with(
            Pagination::next_url(Link::pointer("/next")).limit_param(None),
            2,
            4,
            move |b| {
                more(
                    b.auth(Auth::query("api_key", "k3y"))
                        .header("X-Api-Key", "hk3y"),
                )
            },
        )
    };
    let s = sim(&a(|b| b), items(), 4, 4, Pick::Fifo, link_server(links));
    assert_eq!(s.urls(), vec![links[0].0]);
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Origin);
    assert_eq!(
        e.url(),
        Some("https://evil.example:8443/x?api_key=REDACTED&p=2")
    );
    assert_eq!(e.page(), Some(0));
    assert!(e.message().contains("https://evil.example:8443"), "{e}");
    assert!(!format!("{e} {e:?}").contains("k3y"), "{e}");

    type More = fn(pagewise::ApiBuilder) -> pagewise::ApiBuilder;
    let allows: [More; 2] = [
        |b| b.allow_origins(["https://evil.example:8443"]),
        |b| b.allow_any_origin(),
    ];
    for allow in allows {
        let s = sim(&a(allow), items(), 4, 4, Pick::Fifo, link_server(links));
        // The configured auth parameter the link carried does not go with it.
        assert_eq!(s.urls(), vec![links[0].0, links[1].0, links[2].0]);
        assert_eq!(s.ids(), vec![1, 2, 11, 12, 21, 22]);
        let sent: Vec<Option<&str>> = s.requests.iter().map(|r| r.header("X-Api-Key")).collect();
        assert_eq!(sent, [Some("hk3y"), None, None]);
    }
}

fn hop_server(hops: u64) -> impl FnMut(&Request) -> Answer {
    let fake = Fake::new(Style::Offset(Tot::Header), 5);
    move |req| {
        let h: u64 = query(&req.url)
            .get("hop")
            .map(|h| h.parse().unwrap())
            .unwrap_or(0);
        Ok(if h < hops {
            redirect(302, &format!("items?hop={}", h + 1))
        } else {
            fake.respond(&off(0, 10))
        })
    }
}

#[test]
fn ten_redirects_are_followed_eleven_are_an_error() {
    let a = offset_header_api(10, 4);
    let s = sim(&a, items(), 4, 4, Pick::Fifo, hop_server(10));
    assert_eq!(s.urls().len(), 11);
    assert_eq!(s.urls()[10], format!("{ITEMS}?hop=10"));
    assert_eq!(s.ids(), range(1, 5));
    assert_eq!(s.report().requests, 11);

    let s = sim(&a, items(), 4, 4, Pick::Fifo, hop_server(11));
    assert_eq!(s.urls().len(), 11, "the 11th redirect is not followed");
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Redirect);
    assert_eq!(
        (e.url(), e.page(), e.status()),
        (Some(format!("{ITEMS}?hop=10").as_str()), Some(0), Some(302))
    );
}

#[test]
fn a_redirect_without_location_is_a_status_error() {
    let a = offset_header_api(10, 4);
    let s = sim(&a, items(), 4, 4, Pick::Fifo, |_| {
        Ok(Response::new(302, ""))
    });
    let e = s.error();
    assert_eq!((e.kind(), e.status()), (ErrorKind::Status, Some(302)));
}

#[test]
fn a_deadline_is_a_timeout() {
    let a = offset_header_api(10, 4);
    let t0 = Instant::now();
    let mut sweep = Sweep::new(a.spec(), items().deadline(Duration::from_secs(5)), t0).unwrap();
    let req = sweep.poll_request().unwrap();
    assert!(sweep.poll_request().is_none());
    assert_eq!(sweep.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    sweep.handle_timeout(t0 + Duration::from_millis(4999));
    assert!(sweep.poll_event().is_none(), "not yet");
    assert_eq!(sweep.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    sweep.handle_timeout(t0 + Duration::from_secs(5));
    let Some(Event::Failed(e)) = sweep.poll_event() else {
        panic!("expected a failure")
    };
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(e.url(), Some(ITEMS));
    assert!(sweep.poll_event().is_none());
    assert!(sweep.is_done());
    assert_eq!(sweep.poll_timeout(), None);
    let late = Fake::new(Style::Offset(Tot::Header), 5).respond(&req.url);
    sweep.handle_response(req.id, Ok(late), t0 + Duration::from_secs(6));
    assert!(sweep.poll_event().is_none() && sweep.poll_request().is_none());

    let mut sweep = Sweep::new(a.spec(), items(), t0).unwrap();
    let _first = sweep.poll_request().unwrap();
    assert_eq!(sweep.poll_timeout(), None, "no deadline, no timeout");
}

#[test]
fn a_deadline_stops_a_slow_sweep_in_simulated_time() {
    // 100 ms per request, 2 at a time: pages 0 | 1 2 | 3 4 | 5 6 ... the deadline at 350 ms.
    let a = offset_header_api(10, 2);
    let s = sim(
        &a,
        items().deadline(Duration::from_millis(350)),
        2,
        2,
        Pick::Latency(Box::new(|_| Duration::from_millis(100))),
        Fake::new(Style::Offset(Tot::Header), 90).server(),
    );
    assert_eq!(s.error().kind(), ErrorKind::Timeout);
    assert_eq!(s.now - s.t0, Duration::from_millis(350));
    assert_eq!(s.ids(), range(1, 50));
    assert_eq!(s.answered.len(), 5);
    assert_eq!(s.urls().len(), 7, "pages 5 and 6 were in flight");
}

// ---------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------

#[test]
fn a_bearer_token_is_never_printed() {
    let secret = "tok-SECRET-4711";
    let a = api_with(
        Pagination::offset().total(Total::header("X-Total-Count")),
        10,
        4,
        |b| b.auth(Auth::bearer(secret)),
    );
    let fake = Fake::new(Style::Offset(Tot::Header), 50);
    let s = sim(&a, items(), 4, 4, Pick::Fifo, move |req| {
        Ok(if req.url == off(20, 10) {
            Response::new(401, "unauthorized")
        } else {
            fake.respond(&req.url)
        })
    });
    for r in &s.requests {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {secret}").as_str())
        );
        assert!(!format!("{r:?}").contains(secret), "{r:?}");
    }
    let e = s.error();
    assert_eq!(e.status(), Some(401));
    assert!(!format!("{e:?}{e}").contains(secret));
    assert!(!format!("{:?}", s.sweep).contains(secret));
    assert!(!format!("{a:?}").contains(secret));
}

#[test]
fn a_query_secret_is_sent_but_never_printed() {
    let secret = "QSECRET42";
    let a = api_with(
        Pagination::offset().total(Total::header("X-Total-Count")),
        10,
        4,
        |b| b.auth(Auth::query("api_key", secret)),
    );
    let fake = Fake::new(Style::Offset(Tot::Header), 50);
    let s = sim(&a, items(), 4, 4, Pick::Fifo, move |req| {
        Ok(if req.url.contains("offset=20&") {
            Response::new(500, "oops")
        } else {
            fake.respond(&req.url)
        })
    });
    assert_eq!(s.urls()[0], format!("{}&api_key={secret}", off(0, 10)));
    for r in &s.requests {
        assert!(r.url.contains(&format!("api_key={secret}")), "{}", r.url);
        assert!(!format!("{r:?}").contains(secret), "{r:?}");
        assert!(!r.redacted_url().contains(secret));
    }
    // Pages and errors name the URL without the key (the key is added when sending).
    assert_eq!(s.page_urls()[0], off(0, 10));
    let e = s.error();
    assert_eq!(e.url(), Some(off(20, 10).as_str()));
    assert!(!format!("{e:?}{e}").contains(secret));
    assert!(!format!("{:?}", s.sweep).contains(secret));
}

#[test]
fn a_next_url_on_another_origin_gets_no_credentials() {
    let a = api_with(
        Pagination::next_url(Link::pointer("/next")).limit_param(None),
        2,
        4,
        |b| {
            b.auth(Auth::bearer("s3cr3t"))
                .allow_origins(["https://mirror.example"])
        },
    );
    let s = sim(
        &a,
        items(),
        4,
        4,
        Pick::Fifo,
        link_server(&[
            (
                "https://api.example/v1/items",
                Some("https://mirror.example/v1/items?p=2"),
            ),
            (
                "https://mirror.example/v1/items?p=2",
                Some("https://api.example/v1/items?p=3"),
            ),
            ("https://api.example/v1/items?p=3", None),
        ]),
    );
    assert_eq!(s.ids(), vec![1, 2, 11, 12, 21, 22]);
    let auth: Vec<Option<&str>> = s
        .requests
        .iter()
        .map(|r| r.header("Authorization"))
        .collect();
    assert_eq!(
        auth,
        vec![Some("Bearer s3cr3t"), None, Some("Bearer s3cr3t")]
    );
}

#[test]
fn a_next_url_on_another_origin_loses_the_query_secret() {
    let a = api_with(
        Pagination::next_url(Link::pointer("/next")).limit_param(None),
        2,
        4,
        |b| {
            b.auth(Auth::query("api_key", "QSECRET42"))
                .allow_origins(["https://mirror.example"])
        },
    );
    let s = sim(
        &a,
        items(),
        4,
        4,
        Pick::Fifo,
        link_server(&[
            (
                "https://api.example/v1/items?api_key=QSECRET42",
                Some("https://mirror.example/v1/items?p=2&api_key=QSECRET42"),
            ),
            ("https://mirror.example/v1/items?p=2", None),
        ]),
    );
    assert_eq!(
        s.urls(),
        vec![
            "https://api.example/v1/items?api_key=QSECRET42",
            "https://mirror.example/v1/items?p=2"
        ]
    );
    assert_eq!(s.ids(), vec![1, 2, 11, 12]);
}

#[test]
fn a_loop_error_does_not_print_a_query_secret() {
    // APIs often echo every query parameter, the key included, into their next links.
    let a = api_with(
        Pagination::next_url(Link::pointer("/next")).limit_param(None),
        2,
        4,
        |b| b.auth(Auth::query("api_key", "QSECRET42")),
    );
    let s = sim(
        &a,
        items(),
        4,
        4,
        Pick::Fifo,
        link_server(&[
            (
                "https://api.example/v1/items?api_key=QSECRET42",
                Some("items?p=2&api_key=QSECRET42"),
            ),
            (
                "https://api.example/v1/items?p=2&api_key=QSECRET42",
                Some("items?p=3&api_key=QSECRET42"),
            ),
            (
                "https://api.example/v1/items?p=3&api_key=QSECRET42",
                Some("items?p=2&api_key=QSECRET42"),
            ),
        ]),
    );
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Loop);
    assert_eq!(
        e.url(),
        Some("https://api.example/v1/items?p=3&api_key=REDACTED")
    );
    assert!(!format!("{e:?}{e}").contains("QSECRET42"), "{e}");
    assert!(
        e.message().contains("p=2&api_key=REDACTED"),
        "the message still names the link: {e}"
    );
}

// ---------------------------------------------------------------------------
// Fetch
// ---------------------------------------------------------------------------

fn fetch_api() -> Api {
    Api::builder(BASE)
        .auth(Auth::bearer("s3cr3t"))
        .build()
        .unwrap()
}

/// Runs a fetch against `server`; returns the URLs asked and the outcome.
fn fetch(
    f: &mut Fetch,
    mut server: impl FnMut(&Request) -> Answer,
) -> (Vec<Request>, pagewise::Result<Response>) {
    let now = Instant::now();
    let mut asked = Vec::new();
    loop {
        let req = f
            .poll_request()
            .expect("a fetch asks until it has an outcome");
        assert!(f.poll_request().is_none(), "one request at a time");
        assert!(f.poll_event().is_none());
        let answer = server(&req);
        asked.push(req.clone());
        f.handle_response(req.id, answer, now);
        if let Some(outcome) = f.poll_event() {
            assert!(f.poll_request().is_none() && f.poll_event().is_none());
            return (asked, outcome);
        }
        assert!(asked.len() < 50, "a fetch that never ends");
    }
}

#[test]
fn fetch_succeeds() {
    let a = fetch_api();
    let q = [("fields".to_string(), "id,name".to_string())];
    let mut f = Fetch::new(a.spec(), Method::Get, "items/7", &q, None).unwrap();
    let (asked, out) = fetch(&mut f, |_| {
        Ok(Response::new(200, r#"{"id":7,"name":"seven"}"#))
    });
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].url,
        "https://api.example/v1/items/7?fields=id%2Cname"
    );
    assert_eq!(asked[0].method, Method::Get);
    assert_eq!(asked[0].header("Authorization"), Some("Bearer s3cr3t"));
    let resp = out.unwrap();
    let v: Value = f.decode(&resp).unwrap();
    assert_eq!(v, json!({"id": 7, "name": "seven"}));
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Wrong {
        id: String,
    }
    let e = f.decode::<Wrong>(&resp).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Record);
    let e = f
        .decode::<Value>(&Response::new(200, "<html>"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert_eq!(
        e.url(),
        Some("https://api.example/v1/items/7?fields=id%2Cname")
    );
}

#[test]
fn fetch_ignores_answers_to_other_ids() {
    let a = fetch_api();
    let mut f = Fetch::new(a.spec(), Method::Get, "items/7", &[], None).unwrap();
    let req = f.poll_request().unwrap();
    let mut other = Fetch::new(a.spec(), Method::Get, "items/8", &[], None).unwrap();
    let _ = other.poll_request().unwrap();
    let r2 = other.poll_request();
    assert!(r2.is_none());
    f.handle_response(req.id, Ok(Response::new(200, "{}")), Instant::now());
    assert!(f.poll_event().unwrap().is_ok());
    // A second answer to an already answered id changes nothing.
    f.handle_response(req.id, Ok(Response::new(500, "{}")), Instant::now());
    assert!(f.poll_event().is_none());
}

#[test]
fn fetch_refuses_a_redirect_to_another_origin_by_default() {
    let a = fetch_api();
    for to in [
        "https://cdn.example/t/7?p=1",
        "http://api.example/v1/things/7",
    ] {
        let mut f = Fetch::new(a.spec(), Method::Get, "items/7", &[], None).unwrap();
        let (asked, out) = fetch(&mut f, |req| {
            Ok(match req.url.as_str() {
                "https://api.example/v1/items/7" => redirect(302, to),
                u => panic!("unexpected {u}"),
            })
        });
        assert_eq!(asked.len(), 1, "nothing sent to {to}");
        let e = out.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Origin);
        assert_eq!((e.url(), e.status()), (Some(to), Some(302)));
        assert!(
            e.message().contains("https://api.example/v1/items/7"),
            "{e}"
        );
        assert!(e.message().contains("allow_origins"), "{e}");
    }
}

#[test]
fn fetch_follows_redirects() {
    let a = Api::builder(BASE)
        .auth(Auth::bearer("s3cr3t"))
        .allow_origins(["https://cdn.example"])
        .build()
        .unwrap();
    let mut f = Fetch::new(a.spec(), Method::Get, "items/7", &[], None).unwrap();
    let (asked, out) = fetch(&mut f, |req| {
        Ok(match req.url.as_str() {
            "https://api.example/v1/items/7" => redirect(301, "/v1/things/7"),
            "https://api.example/v1/things/7" => redirect(302, "https://cdn.example/t/7"),
            "https://cdn.example/t/7" => Response::new(200, r#"{"id":7}"#),
            u => panic!("unexpected {u}"),
        })
    });
    let urls: Vec<&str> = asked.iter().map(|r| r.url.as_str()).collect();
    assert_eq!(
        urls,
        vec![
            "https://api.example/v1/items/7",
            "https://api.example/v1/things/7",
            "https://cdn.example/t/7"
        ]
    );
    let auth: Vec<Option<&str>> = asked.iter().map(|r| r.header("Authorization")).collect();
    assert_eq!(
        auth,
        vec![Some("Bearer s3cr3t"), Some("Bearer s3cr3t"), None]
    );
    assert_eq!(out.unwrap().body, br#"{"id":7}"#);
    assert_eq!(f.url(), "https://cdn.example/t/7");
}

#[test]
fn fetch_303_turns_a_post_into_a_get_and_307_keeps_it() {
    let a = fetch_api();
    for (status, method, body) in [
        (303, Method::Get, None),
        (307, Method::Post, Some(b"{\"a\":1}".to_vec())),
    ] {
        let mut f = Fetch::new(
            a.spec(),
            Method::Post,
            "items",
            &[],
            Some(b"{\"a\":1}".to_vec()),
        )
        .unwrap();
        let (asked, out) = fetch(&mut f, |req| {
            Ok(if req.url.ends_with("/items") {
                redirect(status, "items/9")
            } else {
                Response::new(201, "{}")
            })
        });
        assert_eq!(asked[0].method, Method::Post);
        assert_eq!(asked[0].header("Content-Type"), Some("application/json"));
        assert_eq!(asked[1].url, "https://api.example/v1/items/9");
        assert_eq!(
            (asked[1].method, &asked[1].body),
            (method, &body),
            "{status}"
        );
        assert_eq!(out.unwrap().status, 201);
    }
}

#[test]
fn fetch_404_is_a_status_error() {
    let a = fetch_api();
    let mut f = Fetch::new(a.spec(), Method::Get, "items/404", &[], None).unwrap();
    let (_, out) = fetch(&mut f, |_| {
        Ok(Response::new(404, r#"{"error":"no such item"}"#))
    });
    let e = out.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Status);
    assert_eq!(e.status(), Some(404));
    assert_eq!(e.url(), Some("https://api.example/v1/items/404"));
    assert_eq!(e.excerpt(), Some(r#"{"error":"no such item"}"#));
    assert!(!e.is_transient());
    assert!(!format!("{e:?}{e}").contains("s3cr3t"));
}

#[test]
fn fetch_gives_up_after_ten_redirects() {
    let a = fetch_api();
    let hop = |hops: u64| {
        move |req: &Request| {
            let h: u64 = query(&req.url)
                .get("hop")
                .map(|h| h.parse().unwrap())
                .unwrap_or(0);
            Ok(if h < hops {
                redirect(308, &format!("x?hop={}", h + 1))
            } else {
                Response::new(200, "{}")
            })
        }
    };
    let mut f = Fetch::new(a.spec(), Method::Get, "x", &[], None).unwrap();
    let (asked, out) = fetch(&mut f, hop(10));
    assert_eq!(asked.len(), 11);
    assert!(out.is_ok());
    let mut f = Fetch::new(a.spec(), Method::Get, "x", &[], None).unwrap();
    let (asked, out) = fetch(&mut f, hop(11));
    assert_eq!(asked.len(), 11);
    let e = out.unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::Redirect, Some(308)));
    assert_eq!(e.url(), Some("https://api.example/v1/x?hop=10"));
}

#[test]
fn fetch_transport_errors_map_to_kinds() {
    let a = fetch_api();
    for (kind, want) in [
        (TransportErrorKind::Connect, ErrorKind::Transport),
        (TransportErrorKind::Timeout, ErrorKind::Timeout),
        (TransportErrorKind::Aborted, ErrorKind::Cancelled),
    ] {
        let mut f = Fetch::new(a.spec(), Method::Get, "items", &[], None)
            .unwrap()
            .with_retry(RetryPolicy::none(), 0);
        let (_, out) = fetch(&mut f, |_| Err(TransportError::new(kind, "refused")));
        let e = out.unwrap_err();
        assert_eq!(e.kind(), want);
        assert_eq!(e.url(), Some(ITEMS));
    }
}

#[test]
fn fetch_with_a_query_secret_never_prints_it() {
    let a = Api::builder(BASE)
        .auth(Auth::query("api_key", "QSECRET42"))
        .build()
        .unwrap();
    let mut f = Fetch::new(a.spec(), Method::Get, "items/1", &[], None)
        .unwrap()
        .with_retry(RetryPolicy::none(), 0);
    let (asked, out) = fetch(&mut f, |_| Ok(Response::new(500, "down")));
    assert_eq!(
        asked[0].url,
        "https://api.example/v1/items/1?api_key=QSECRET42"
    );
    assert!(!format!("{:?}", asked[0]).contains("QSECRET42"));
    let e = out.unwrap_err();
    assert_eq!(e.url(), Some("https://api.example/v1/items/1"));
    assert!(!format!("{e:?}{e}{f:?}").contains("QSECRET42"));
}

#[test]
fn a_server_sending_more_than_asked_does_not_repeat_rows() {
    let a = offset_header_api(10, 4);
    let fake = Fake::new(Style::Offset(Tot::Header), 45);
    // The server ignores the limit and sends 15 records per page.
    let s = sim(&a, items(), 4, 4, Pick::Fifo, move |req| {
        let q = query(&req.url);
        let from: u64 = q["offset"].parse().unwrap();
        let ids: Vec<u64> = fake.slice(from, 15).to_vec();
        Ok(fake.with_total(from, ids, Tot::Header))
    });
    assert_eq!(s.ids(), range(1, 45));
    // No row is repeated or lost: the extra records of each page are left
    // out and asked for at their own offset, so complete stands.
    assert_eq!(s.report().complete, Some(true));
    assert!(s.report().changed_during_sweep);
    assert!(
        s.notices.contains(&Notice::OversizedPage {
            page: 0,
            asked: 10,
            got: 15
        }),
        "{:?}",
        s.notices
    );
}

#[test]
fn fetch_retries_transient_failures_after_the_backoff() {
    let a = fetch_api();
    let mut f = Fetch::new(a.spec(), Method::Get, "items/1", &[], None)
        .unwrap()
        .with_retry(RetryPolicy::default(), 9);
    let t0 = Instant::now();
    let mut now = t0;
    let mut answers = vec![
        Ok(Response::new(503, "busy")),
        Ok(Response::new(429, "slow down").with_header("Retry-After", "2")),
        Ok(Response::new(200, r#"{"id":1}"#)),
    ]
    .into_iter();
    let mut sent_at = Vec::new();
    let outcome = loop {
        if let Some(o) = f.poll_event() {
            break o;
        }
        match f.poll_request() {
            Some(req) => {
                sent_at.push(now);
                f.handle_response(req.id, answers.next().unwrap(), now);
            }
            None => {
                now = f.poll_timeout().expect("a retry is scheduled");
                f.handle_timeout(now);
            }
        }
    };
    assert_eq!(outcome.unwrap().status, 200);
    assert_eq!(sent_at.len(), 3);
    // Backoff after the 503 is at most the base delay; after the 429, Retry-After (+ up to 10%).
    assert!(sent_at[1] - sent_at[0] <= Duration::from_millis(200));
    let wait = sent_at[2] - sent_at[1];
    assert!(
        wait >= Duration::from_secs(2) && wait <= Duration::from_millis(2200),
        "{wait:?}"
    );
    // A POST is not sent again after a 503: it may have been processed.
    let mut post = Fetch::new(a.spec(), Method::Post, "items", &[], Some(b"{}".to_vec())).unwrap();
    let req = post.poll_request().unwrap();
    post.handle_response(req.id, Ok(Response::new(503, "")), t0);
    assert_eq!(post.poll_event().unwrap().unwrap_err().status(), Some(503));
}

#[test]
fn transient_failures_are_retried_in_simulated_time_and_counted() {
    let a = offset_header_api(10, 4);
    let fake = Fake::new(Style::Offset(Tot::Header), 50);
    let mut failures_left = 2;
    let mut throttled_once = false;
    let s = sim(&a, items().seed(7), 4, 4, Pick::Fifo, move |req| {
        if req.url == off(20, 10) && failures_left > 0 {
            failures_left -= 1;
            return Ok(Response::new(503, "busy"));
        }
        if req.url == off(40, 10) && !throttled_once {
            throttled_once = true;
            return Ok(Response::new(429, "slow down").with_header("Retry-After", "2"));
        }
        Ok(fake.respond(&req.url))
    });
    assert_eq!(s.ids(), range(1, 50), "every record once, in order");
    let asked = s.urls();
    assert_eq!(
        asked.iter().filter(|u| **u == off(20, 10)).count(),
        3,
        "two retries of the 503s"
    );
    assert_eq!(
        asked.iter().filter(|u| **u == off(40, 10)).count(),
        2,
        "one retry of the 429"
    );
    let r = s.report();
    assert_eq!(r.retries.server_error, 2);
    assert_eq!(r.retries.throttled, 1);
    assert!(
        r.throttled >= Duration::from_secs(2) && r.throttled <= Duration::from_millis(2200),
        "{:?}",
        r.throttled
    );
    assert!(
        r.duration >= Duration::from_secs(2),
        "the sweep waited for Retry-After: {:?}",
        r.duration
    );
    assert_eq!(r.requests, 5 + 2 + 1);
}

#[test]
fn a_retry_budget_spent_ends_the_sweep_with_the_reason() {
    let a = offset_header_api(10, 4);
    let fake = Fake::new(Style::Offset(Tot::Header), 50);
    let policy = RetryPolicy::default().budget(Some(pagewise::RetryBudget {
        capacity: 10,
        retry_cost: 5,
        timeout_cost: 10,
        success_refund: 1,
    }));
    let s = sim(
        &a,
        items().retry(policy).seed(1),
        4,
        4,
        Pick::Fifo,
        move |req| {
            if req.url == off(0, 10) {
                return Ok(fake.respond(&req.url));
            }
            Ok(Response::new(500, "down"))
        },
    );
    let e = s.error();
    assert_eq!(e.status(), Some(500));
    assert!(e.message().contains("retry budget is spent"), "{e}");
    assert_eq!(
        s.ids(),
        range(1, 10),
        "the first page was handed out before the failure"
    );
}

#[path = "common/url_cases.rs"]
mod url_cases;

/// The URL table the WebAssembly test checks too: here its expected values
/// are checked against the `url` crate itself, then through `pagewise::core::Url`.
#[test]
fn url_cases_are_what_the_url_crate_computes() {
    for (base, input, want, same) in url_cases::JOINS {
        let b = Url::parse(base).unwrap();
        match b.join(input) {
            Ok(u) => {
                assert_eq!(u.as_str(), *want, "{base} + {input:?}");
                assert_eq!(u.origin() == b.origin(), *same, "{input:?}");
            }
            Err(_) => assert_eq!(*want, "error", "{base} + {input:?}"),
        }
    }
    url_cases::check();
}

// ---------------------------------------------------------------------------
// Request::in_order
// ---------------------------------------------------------------------------

#[test]
fn pages_of_a_page_order_sweep_name_their_sweep_and_place() {
    let a = api(
        Pagination::offset().total(Total::header("X-Total-Count")),
        5,
        3,
    );
    let run = |opts: ListOptions| {
        sim(
            &a,
            opts,
            3,
            3,
            Pick::Seeded(7),
            Fake::new(Style::Offset(Tot::Header), 43).server(),
        )
    };
    let first = run(items());
    // A sweep's number comes from its driver (`Sweep::with_serial`), by
    // default its seed: drivers draw a seed per sweep.
    let second = run(items().seed(8));
    let place = |s: &Sim| -> Vec<(u64, u64)> {
        s.requests
            .iter()
            .map(|r| r.in_order.expect("a page of a page-order sweep"))
            .collect()
    };
    let (one, two) = (place(&first), place(&second));
    assert_eq!(one.len(), 9);
    // One sweep, one number; another sweep, another.
    assert!(one.iter().all(|&(g, _)| g == one[0].0));
    assert!(two.iter().all(|&(g, _)| g == two[0].0));
    assert_ne!(one[0].0, two[0].0);
    // Places follow the offsets.
    let by_offset: Vec<(u64, u64)> = first
        .requests
        .iter()
        .zip(&one)
        .map(|(r, &(_, p))| (query(&r.url)["offset"].parse().unwrap(), p))
        .collect();
    for pair in by_offset.windows(2) {
        assert_eq!(
            pair[0].0 < pair[1].0,
            pair[0].1 < pair[1].1,
            "{by_offset:?}"
        );
    }
    assert_eq!(first.ids(), range(1, 43));

    // Pages handed out as they come need no order.
    let unordered = run(items().order(Order::Completion));
    assert!(unordered.requests.iter().all(|r| r.in_order.is_none()));
    assert!(unordered.requests.iter().all(|r| r.records_at.is_some()));
}

#[test]
fn an_arrived_answer_frees_its_slot_but_holds_its_place_in_the_window() {
    // 46 records, pages of 5: the first page, then nine more; concurrency 2
    // and a window of 2 (pages sent or held at most 4 ahead of the oldest
    // page not yet handed out).
    let a = api(
        Pagination::offset().total(Total::header("X-Total-Count")),
        5,
        2,
    );
    let mut server = Fake::new(Style::Offset(Tot::Header), 46).server();
    let now = Instant::now();
    let mut sweep = Sweep::new(a.spec(), items().window(2), now).unwrap();
    let first = sweep.poll_request().unwrap();
    sweep.handle_response(first.id, server(&first), now);
    let mut ids = Vec::new();
    let take = |sweep: &mut Sweep, ids: &mut Vec<u64>| {
        while let Some(ev) = sweep.poll_event() {
            match ev {
                Event::Page(p) => ids.extend(ids_of(&p)),
                Event::Finished(r) => assert_eq!(r.complete, Some(true)),
                other => panic!("{other:?}"),
            }
        }
    };
    take(&mut sweep, &mut ids);
    let (p2, p3) = (sweep.poll_request().unwrap(), sweep.poll_request().unwrap());
    assert!(sweep.poll_request().is_none(), "two on the wire");
    // The third page came in first, to be read later: its slot is free.
    sweep.handle_arrival(p3.id);
    assert_eq!(sweep.in_flight(), 2, "arrived, not answered");
    let p4 = sweep.poll_request().expect("the slot of the arrived page");
    assert!(sweep.poll_request().is_none(), "two on the wire again");
    // An id answered already, or one that arrived already, changes nothing.
    sweep.handle_arrival(p3.id);
    sweep.handle_arrival(first.id);
    assert!(sweep.poll_request().is_none());
    sweep.handle_arrival(p4.id);
    let p5 = sweep.poll_request().expect("the slot of the fourth page");
    // Pages 2..5 are out or arrived: the window (2 + 2) is full.
    sweep.handle_arrival(p5.id);
    assert!(
        sweep.poll_request().is_none(),
        "the window holds arrived pages"
    );
    assert_eq!(sweep.in_flight(), 4);
    // Answers of arrived requests are taken like any other, in any order.
    sweep.handle_response(p4.id, server(&p4), now);
    sweep.handle_response(p3.id, server(&p3), now);
    take(&mut sweep, &mut ids);
    assert!(ids.len() == 5, "page 2 is still out: {ids:?}");
    sweep.handle_response(p2.id, server(&p2), now);
    sweep.handle_response(p5.id, server(&p5), now);
    take(&mut sweep, &mut ids);
    assert_eq!(ids, range(1, 25));
    // An arrived answer that turns out bad is retried like any other.
    let p6 = sweep.poll_request().unwrap();
    sweep.handle_arrival(p6.id);
    sweep.handle_response(p6.id, Ok(Response::new(200, "{\"data\": [")), now);
    let mut retried = None;
    for _ in 0..10 {
        sweep.handle_timeout(Instant::now() + Duration::from_secs(60));
        retried = std::iter::from_fn(|| sweep.poll_request()).find(|r| r.url == p6.url);
        if retried.is_some() {
            break;
        }
    }
    assert!(retried.is_some(), "the sixth page is asked for again");
    assert!(sweep.report().retries.bad_body >= 1);
}

// ---------------------------------------------------------------------------
// Trust: totals the server cannot back, pages served twice, bad checkpoints
// ---------------------------------------------------------------------------

/// A server with 3 records that announces `total` of them (where `tot`
/// says), for offset or page-number paging: every page past the first is empty.
fn boasting_server(style: Style, total: u64) -> impl FnMut(&Request) -> Answer {
    move |req| {
        let q = query(&req.url);
        let (first, tot) = match style {
            Style::Offset(tot) => (q["offset"] == "0", tot),
            Style::Page(f, tot) => (q["page"] == f.to_string(), tot),
            _ => unreachable!(),
        };
        let ids: Vec<u64> = if first { vec![1, 2, 3] } else { vec![] };
        let mut body = json!({ "data": ids.iter().map(|&i| record(i)).collect::<Vec<_>>() });
        if tot == Tot::Pointer {
            body["meta"] = json!({ "total": total });
        }
        let resp = Response::new(200, body.to_string());
        Ok(match tot {
            Tot::Header => resp.with_header("X-Total-Count", total.to_string()),
            Tot::Range => {
                let range = if first {
                    format!("items 0-2/{total}")
                } else {
                    format!("items */{total}")
                };
                Response {
                    status: 206,
                    ..resp
                }
                .with_header("Content-Range", range)
            }
            _ => resp,
        })
    }
}

fn total_source(tot: Tot) -> Total {
    match tot {
        Tot::Header => Total::header("X-Total-Count"),
        Tot::Pointer => Total::pointer("/meta/total"),
        Tot::Range => Total::ContentRange,
        Tot::No => unreachable!(),
    }
}

#[test]
fn a_huge_total_with_a_short_first_page_plans_pages_a_few_at_a_time() {
    // 3 records, 100 000 000 announced, 100 asked per page: the first page
    // makes the page size 3 (a server cap, as far as the sweep can tell),
    // which an all-at-once plan turned into 33 million pages (2 GiB, then
    // an abort). Pages are planned 2 × (concurrency + window) ahead, and the
    // first empty page ends the planning.
    let (c, w) = (4, 2);
    for tot in [Tot::Header, Tot::Pointer, Tot::Range] {
        let a = api(Pagination::offset().total(total_source(tot)), 100, c);
        let mut s = Sim::new(
            &a,
            items().window(w),
            c,
            w,
            boasting_server(Style::Offset(tot), 100_000_000),
        );
        s.send();
        s.answer(&off(0, 100));
        s.events();
        let p = s.sweep.progress(s.now);
        assert_eq!(p.pages_total, Some(1 + 33_333_333), "{tot:?}");
        let checkpoint = s.sweep.checkpoint();
        assert_eq!(checkpoint.pages_pending(), 2 * (c + w), "{tot:?}");
        s.run(Pick::Fifo);
        let want: Vec<String> = std::iter::once(off(0, 100))
            .chain((1..=12).map(|k| off(3 * k, 3)))
            .collect();
        assert_eq!(s.urls(), want, "{tot:?}");
        assert_eq!(s.ids(), vec![1, 2, 3]);
        let r = s.report();
        assert_eq!((r.total, r.complete), (Some(100_000_000), Some(false)));
        assert_eq!(
            r.notices[0],
            Notice::ShortPage {
                page: 1,
                expected: 3,
                got: 0
            }
        );
    }
}

#[test]
fn a_huge_page_number_total_plans_pages_a_few_at_a_time() {
    let (c, w) = (3, 3);
    for first in [0, 1] {
        let p = Pagination::page_number()
            .first_page(first)
            .total(Total::header("X-Total-Count"));
        let a = api(p, 10, c);
        let s = sim(
            &a,
            items().window(w),
            c,
            w,
            Pick::Lifo,
            boasting_server(Style::Page(first, Tot::Header), 100_000_000),
        );
        let mut asked = s.urls();
        asked.sort();
        let mut want: Vec<String> = (first..=first + 12).map(|p| page_url(p, 10)).collect();
        want.sort();
        assert_eq!(asked, want);
        assert_eq!(s.ids(), vec![1, 2, 3]);
        assert_eq!(s.report().complete, Some(false));
    }
}

#[test]
fn normal_totals_are_asked_for_in_the_same_order_as_planned_all_at_once() {
    // 1000 pages, concurrency 3 + window 2: the lazily planned sweep sends
    // the very URLs, in the very order, of a plan made all at once.
    let a = offset_header_api(10, 3);
    let s = sim(
        &a,
        items().window(2),
        3,
        2,
        Pick::Seeded(7),
        Fake::new(Style::Offset(Tot::Header), 10_000).server(),
    );
    assert_eq!(
        s.urls(),
        (0..1000).map(|k| off(10 * k, 10)).collect::<Vec<_>>()
    );
    assert_eq!(s.ids(), range(1, 10_000));
    assert_eq!(s.report().complete, Some(true));
}

#[test]
fn a_total_above_max_total_is_a_limit_error() {
    for tot in [Tot::Header, Tot::Pointer, Tot::Range] {
        let a = api(Pagination::offset().total(total_source(tot)), 100, 4);
        // The default ceiling, a billion records.
        let s = sim(
            &a,
            items(),
            4,
            4,
            Pick::Fifo,
            boasting_server(Style::Offset(tot), 1_000_000_001),
        );
        let e = s.error();
        assert_eq!(e.kind(), ErrorKind::Limit, "{tot:?}: {e}");
        assert_eq!(e.url(), Some(off(0, 100).as_str()));
        assert!(e.message().contains("1000000001"), "{e}");
        assert!(e.message().contains("max_total"), "{e}");
        assert!(e.message().contains("maxTotal"), "{e}");
        assert!(s.ids().is_empty(), "nothing of the page is handed out");
        // A lower ceiling of the caller's.
        let s = sim(
            &a,
            items().max_total(50),
            4,
            4,
            Pick::Fifo,
            Fake::new(Style::Offset(tot), 51).server(),
        );
        assert_eq!(s.error().kind(), ErrorKind::Limit);
        assert_eq!(s.urls(), vec![off(0, 100)]);
        // At the ceiling: fine.
        let s = sim(
            &a,
            items().max_total(51),
            4,
            4,
            Pick::Fifo,
            Fake::new(Style::Offset(tot), 51).server(),
        );
        assert_eq!(s.ids(), range(1, 51));
    }
}

#[test]
fn a_total_growing_past_max_total_mid_sweep_is_a_limit_error() {
    let a = offset_header_api(10, 2);
    let mut fake = Fake::new(Style::Offset(Tot::Header), 30);
    let s = sim(&a, items().max_total(40), 2, 2, Pick::Fifo, move |req| {
        let resp = fake.respond(&req.url);
        if fake.ids.len() == 30 {
            fake.ids.extend(31..=45);
        }
        Ok(resp)
    });
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
    assert_eq!((e.page(), e.url()), (Some(1), Some(off(10, 10).as_str())));
    assert_eq!(s.ids(), range(1, 10), "the pages before it are handed out");
}

#[test]
fn a_total_past_what_a_checkpoint_saves_is_a_limit_error_whatever_max_total() {
    // Found by the `sweep` fuzz target: with max_total(u64::MAX), a sweep
    // took a total of 13107332822478252175 and saved it in a checkpoint that
    // Checkpoint::from_json refuses (its numbers stop at 2^53 - 1): a
    // checkpoint the sweep could not be resumed from.
    let a = offset_header_api(100, 2);
    let max = Checkpoint::MAX_NUMBER;
    // The largest total a checkpoint holds: the sweep goes on, and its
    // checkpoint reads back.
    let mut s = Sim::new(
        &a,
        items().max_total(u64::MAX),
        2,
        2,
        boasting_server(Style::Offset(Tot::Header), max),
    );
    s.send();
    s.answer(&off(0, 100));
    assert_eq!(s.events(), 1);
    assert_eq!(s.send(), vec![off(3, 3), off(6, 3)]);
    let c = s.sweep.checkpoint();
    assert!(c.to_json().contains("\"total\":9007199254740991,"));
    assert_eq!(Checkpoint::from_json(&c.to_json()).unwrap(), c);
    // One more is refused as the sweep reads it, whatever max_total says.
    for ceiling in [max + 1, u64::MAX] {
        let s = sim(
            &a,
            items().max_total(ceiling),
            2,
            2,
            Pick::Fifo,
            boasting_server(Style::Offset(Tot::Header), max + 1),
        );
        let e = s.error();
        assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
        assert_eq!(e.url(), Some(off(0, 100).as_str()));
        assert!(e.message().contains("9007199254740992 records"), "{e}");
        assert!(e.message().contains("2^53 - 1"), "{e}");
        assert_eq!(s.urls(), vec![off(0, 100)]);
    }
}

#[test]
fn progress_two_hours_into_a_huge_total_has_no_eta_rather_than_a_panic() {
    // 2^53 - 1 records announced, 3 handed out: two hours in, the estimate
    // (2^53 / 3 times two hours) is past what a `Duration` holds, and
    // `Duration::mul_f64` panicked.
    let a = offset_header_api(100, 2);
    let max = Checkpoint::MAX_NUMBER;
    let mut s = Sim::new(
        &a,
        items().max_total(u64::MAX),
        2,
        2,
        boasting_server(Style::Offset(Tot::Header), max),
    );
    s.send();
    s.answer(&off(0, 100));
    assert_eq!(s.events(), 1);
    let p = s.sweep.progress(s.now);
    assert_eq!((p.records, p.records_total), (3, Some(max)));
    assert!(p.eta.is_some(), "10 ms in: {p:?}");
    let later = s.now + Duration::from_secs(2 * 3600);
    let p = s.sweep.progress(later);
    assert_eq!(p.elapsed, STEP + Duration::from_secs(2 * 3600));
    assert_eq!(p.eta, None);
}

#[test]
fn a_checkpoint_of_a_huge_total_resumes_a_few_pages_at_a_time() {
    let (c, w) = (2, 2);
    let a = offset_header_api(100, c);
    let mut s = Sim::new(
        &a,
        items().window(w),
        c,
        w,
        boasting_server(Style::Offset(Tot::Header), 100_000_000),
    );
    s.send();
    s.answer(&off(0, 100));
    s.events();
    let json = s.sweep.checkpoint().to_json();
    assert!(json.len() < 2_000, "{json}");
    let resumed = Checkpoint::from_json(&json).unwrap();
    let s = sim(
        &a,
        items().window(w).resume(resumed.clone()),
        c,
        w,
        Pick::Fifo,
        boasting_server(Style::Offset(Tot::Header), 100_000_000),
    );
    assert_eq!(s.urls(), (1..=8).map(|k| off(3 * k, 3)).collect::<Vec<_>>());
    assert_eq!(s.report().records, 3, "counted from the checkpoint");
    assert_eq!(s.report().complete, Some(false));
    // Resumed with a lower ceiling: the saved total is refused at once.
    let e = Sweep::new(
        a.spec(),
        items().max_total(1_000).resume(resumed),
        Instant::now(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Limit);
    assert!(e.message().contains("100000000"), "{e}");
}

/// A server whose pages start at 1 and that answers page 0 as page 1
/// (`?page=0` is clamped), over `n` records, 10 a page.
fn first_page_1_server(n: u64, tot: Tot) -> impl FnMut(&Request) -> Answer {
    let fake = Fake::new(Style::Page(1, tot), n);
    move |req| Ok(fake.respond(&req.url.replace("page=0&", "page=1&")))
}

#[test]
fn page_0_served_as_page_1_is_a_duplicate_error_naming_both_pages() {
    for tot in [Tot::Header, Tot::No] {
        let mut p = Pagination::page_number().first_page(0);
        if tot == Tot::Header {
            p = p.total(Total::header("X-Total-Count"));
        }
        let a = api(p, 10, 4);
        let s = sim(
            &a,
            items(),
            4,
            4,
            Pick::Fifo,
            first_page_1_server(2_000, tot),
        );
        let e = s.error();
        assert_eq!(e.kind(), ErrorKind::Duplicate, "{tot:?}: {e}");
        assert_eq!(e.page(), Some(1));
        assert_eq!(e.url(), Some(page_url(1, 10).as_str()));
        for says in [
            "pages 0 (",
            &page_url(0, 10),
            ") and 1 (",
            &page_url(1, 10),
            "same 10 records",
            "first_page",
            "firstPage",
        ] {
            assert!(e.message().contains(says), "{tot:?}: {says:?} in {e}");
        }
        assert_eq!(s.ids(), range(1, 10), "{tot:?}: no copy is handed out");
    }
}

#[test]
fn a_duplicate_arriving_first_still_hands_out_no_copy() {
    // Pages 3 and 5 alike (answered 5 first): the sweep hands out pages 0..=2
    // and stops, whichever of the two came in first.
    let a = offset_header_api(10, 8);
    let fake = Fake::new(Style::Offset(Tot::Header), 100);
    let s = sim(&a, items(), 8, 8, Pick::Lifo, move |req| {
        let url = if req.url == off(30, 10) {
            off(50, 10)
        } else {
            req.url.clone()
        };
        Ok(fake.respond(&url))
    });
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Duplicate, "{e}");
    assert!(e.message().contains("pages 3 ("), "{e}");
    assert!(e.message().contains(") and 5 ("), "{e}");
    assert!(e.message().contains("ignore the page asked for"), "{e}");
    assert_eq!(s.ids(), range(1, 30));
}

#[test]
fn a_server_ignoring_the_offset_without_a_total_is_a_duplicate_error() {
    // Without the check this sweep never ends: every page is full.
    let a = api(Pagination::offset(), 10, 4);
    let fake = Fake::new(Style::Offset(Tot::No), 100);
    let s = sim(&a, items(), 4, 4, Pick::Fifo, move |_| {
        Ok(fake.respond(&off(0, 10)))
    });
    assert_eq!(s.error().kind(), ErrorKind::Duplicate);
    assert_eq!(s.urls(), vec![off(0, 10), off(10, 10)]);
    assert_eq!(s.ids(), range(1, 10));
}

#[test]
fn pages_alike_are_handed_out_with_allow_repeated_pages() {
    // Records that may repeat (the same id here, as the test's driver
    // reads ids; records without one are the usual case): two pages may be
    // byte for byte the same.
    let a = offset_header_api(2, 4);
    let server = |req: &Request| {
        let q = query(&req.url);
        let n = if q["offset"] == "4" { 1 } else { 2 };
        let body = json!({ "data": vec![json!({ "id": 7, "ok": true }); n] });
        Ok(Response::new(200, body.to_string()).with_header("X-Total-Count", "5"))
    };
    let s = sim(&a, items(), 4, 4, Pick::Fifo, server);
    assert_eq!(s.error().kind(), ErrorKind::Duplicate);
    let s = sim(
        &a,
        items().allow_repeated_pages(true),
        4,
        4,
        Pick::Fifo,
        server,
    );
    assert_eq!(s.report().records, 5);
    assert_eq!(s.report().complete, Some(true));
}

#[test]
fn an_empty_page_and_a_repeated_empty_page_are_not_duplicates() {
    // Empty pages carry no rows to repeat: the sweep ends as before.
    let a = api(Pagination::offset(), 5, 2);
    let s = sim(
        &a,
        items(),
        2,
        2,
        Pick::Fifo,
        Fake::new(Style::Offset(Tot::No), 10).server(),
    );
    assert_eq!(s.ids(), range(1, 10));
}

#[test]
fn a_checkpoint_with_counts_at_the_limit_resumes_without_overflow() {
    // The largest numbers a checkpoint may hold count on without overflow
    // (a debug build panicked on `records: u64::MAX`; a release build wrapped).
    let a = offset_header_api(10, 2);
    let mut s = Sim::new(
        &a,
        items(),
        2,
        2,
        Fake::new(Style::Offset(Tot::Header), 30).server(),
    );
    s.send();
    s.answer(&off(0, 10));
    s.events();
    let json = s.sweep.checkpoint().to_json();
    let max = Checkpoint::MAX_NUMBER.to_string();
    let big = json
        .replace("\"records\":10", &format!("\"records\":{max}"))
        .replace("\"requests\":1", &format!("\"requests\":{max}"));
    assert_ne!(big, json);
    let s = sim(
        &a,
        items().resume(Checkpoint::from_json(&big).unwrap()),
        2,
        2,
        Pick::Fifo,
        Fake::new(Style::Offset(Tot::Header), 30).server(),
    );
    assert_eq!(s.report().records, Checkpoint::MAX_NUMBER + 20);
    assert_eq!(s.report().complete, Some(false));
    // One more is refused, as a typed error.
    let over = (Checkpoint::MAX_NUMBER + 1).to_string();
    for bad in [
        json.replace("\"records\":10", &format!("\"records\":{over}")),
        json.replace("\"records\":10", &format!("\"records\":{}", u64::MAX)),
    ] {
        let e = Checkpoint::from_json(&bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains("`records`"), "{e}");
    }
}

#[test]
fn a_checkpoint_page_before_the_first_page_is_a_config_error() {
    let p = Pagination::page_number().total(Total::header("X-Total-Count"));
    let a = api(p, 10, 2);
    let mut s = Sim::new(
        &a,
        items(),
        2,
        2,
        Fake::new(Style::Page(1, Tot::Header), 50).server(),
    );
    s.send();
    s.answer(&page_url(1, 10));
    s.events();
    let json = s.sweep.checkpoint().to_json();
    assert!(json.contains("{\"kind\":\"page\",\"number\":2}"), "{json}");
    let bad = json.replace("\"number\":2}", "\"number\":0}");
    let e = Sweep::new(
        a.spec(),
        items().resume(Checkpoint::from_json(&bad).unwrap()),
        Instant::now(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(e.message().contains("before the first page"), "{e}");
}

// ---------------------------------------------------------------------------
// What a server can make a sweep hold, and what a report may claim
// ---------------------------------------------------------------------------

/// A collection of 1000 rows: 100 of the first 500 are deleted after the
/// first five pages were fetched. An offset sweep then never sees 100 live
/// rows (they shifted into pages already fetched) and hands out 100 deleted
/// ones; the count matches the new total all the same. The report must not
/// say complete (it said `Some(true)` before).
#[test]
fn complete_is_not_claimed_when_rows_were_deleted_under_an_offset_sweep() {
    let a = api(Pagination::offset().total(Total::pointer("/total")), 100, 1);
    let mut rows: Vec<u64> = (0..1000).collect();
    let s = sim(&a, items().window(1), 1, 1, Pick::Fifo, move |req| {
        let q = query(&req.url);
        let off: usize = q["offset"].parse().unwrap();
        let lim: usize = q["limit"].parse().unwrap();
        if off == 500 && rows.len() == 1000 {
            rows.retain(|r| !(100..200).contains(r));
        }
        let page: Vec<Value> = rows
            .iter()
            .skip(off)
            .take(lim)
            .map(|i| json!({ "id": i }))
            .collect();
        Ok(Response::new(
            200,
            json!({"total": rows.len(), "data": page}).to_string(),
        ))
    });
    assert_eq!(
        s.urls(),
        (0..9).map(|k| off(100 * k, 100)).collect::<Vec<_>>()
    );
    // Rows 500..600 shifted to offsets 400..500, already fetched: never handed out.
    let want: Vec<u64> = (0..500).chain(600..1000).collect();
    assert_eq!(s.ids(), want);
    let r = s.report();
    assert_eq!((r.records, r.total), (900, Some(900)));
    assert!(r.changed_during_sweep);
    assert_eq!(
        r.complete,
        Some(false),
        "100 live rows were never handed out"
    );
    assert_eq!(
        r.notices,
        vec![Notice::TotalChanged {
            from: 1000,
            to: 900,
            page: 5
        }]
    );
}

/// A server that flips its total on every page raises a TotalChanged notice
/// per page; the report keeps the first `MAX_NOTICES` and counts the rest
/// (before, it kept one per page, for the whole sweep).
#[test]
fn a_total_that_flips_on_every_page_keeps_the_report_bounded() {
    use pagewise::core::MAX_NOTICES;
    let a = offset_header_api(5, 1);
    let mut n = 0u64;
    let s = sim(&a, items(), 1, 1, Pick::Fifo, move |req| {
        let q = query(&req.url);
        let from: u64 = q["offset"].parse().unwrap();
        let lim: u64 = q["limit"].parse().unwrap();
        n += 1;
        let ids: Vec<Value> = (from + 1..=(from + lim).min(1000))
            .map(|i| json!({ "id": i }))
            .collect();
        let mut resp = Response::new(200, json!({ "data": ids }).to_string());
        // 1000 records; every other answer says 999.
        let total = if n % 2 == 0 { 999 } else { 1000 };
        resp.headers
            .push(("X-Total-Count".into(), total.to_string()));
        Ok(resp)
    });
    let r = s.report();
    let changes = s
        .notices
        .iter()
        .filter(|n| matches!(n, Notice::TotalChanged { .. }))
        .count();
    assert!(changes >= 199, "one TotalChanged event per page: {changes}");
    assert_eq!(r.notices.len(), MAX_NOTICES);
    assert_eq!(r.notices[..], s.notices[..MAX_NOTICES]);
    assert_eq!(r.notices_dropped, (s.notices.len() - MAX_NOTICES) as u64);
    assert!(r.changed_during_sweep);
    assert_eq!(r.complete, Some(false));
}

/// A cursor, next link or keyset value of more than `MAX_LINK_LEN` bytes
/// ends the sweep with a Limit error naming the page, after the pages
/// before it; one of exactly `MAX_LINK_LEN` bytes is followed.
#[test]
fn a_link_longer_than_64_kib_is_a_limit_error_naming_the_page() {
    use pagewise::core::MAX_LINK_LEN;
    assert_eq!(MAX_LINK_LEN, 64 * 1024);
    // The value page `k` hands out (page 2's is one byte too long).
    fn value(k: u64) -> String {
        let len = if k == 2 {
            MAX_LINK_LEN + 1
        } else {
            MAX_LINK_LEN
        };
        let mut v = format!("{k}-");
        v.push_str(&"x".repeat(len - v.len()));
        v
    }
    fn page_of(asked: &str) -> u64 {
        match asked.split_once('-') {
            Some((k, _)) => k.parse::<u64>().unwrap() + 1,
            None => 0,
        }
    }
    let cursor = api(Pagination::cursor(Link::pointer("/next")), 10, 1);
    let next = api(Pagination::next_url(Link::pointer("/next")), 10, 1);
    let keyset = api(Pagination::keyset("k"), 10, 1);
    type Server = fn(&Request) -> Answer;
    let cases: [(&str, &Api, Server); 3] = [
        ("cursor", &cursor, |req| {
            let k = page_of(query(&req.url).get("cursor").map_or("", |c| c.as_str()));
            // The collection ends at page 3 (should page 2's cursor be followed).
            let body = match k {
                0..=2 => json!({"data": [{"id": k}], "next": value(k)}),
                _ => json!({"data": [{"id": k}]}),
            };
            Ok(Response::new(200, body.to_string()))
        }),
        ("next URL", &next, |req| {
            let k = page_of(query(&req.url).get("p").map_or("", |c| c.as_str()));
            // The link's query makes it MAX_LINK_LEN (or one more) bytes long.
            let head = format!("{ITEMS}?p=");
            let v = value(k);
            let link = format!("{head}{}", &v[..v.len() - head.len()]);
            let body = match k {
                0..=2 => json!({"data": [{"id": k}], "next": link}),
                _ => json!({"data": [{"id": k}]}),
            };
            Ok(Response::new(200, body.to_string()))
        }),
        ("keyset value", &keyset, |req| {
            let asked = query(&req.url)
                .into_iter()
                .find(|(n, _)| n != "limit")
                .map(|(_, v)| v);
            let k = page_of(asked.as_deref().unwrap_or(""));
            let body = match k {
                0..=2 => json!({"data": [{"id": k, "k": value(k)}]}),
                _ => json!({"data": []}),
            };
            Ok(Response::new(200, body.to_string()))
        }),
    ];
    for (what, a, server) in cases {
        let s = sim(a, items(), 1, 1, Pick::Fifo, server);
        assert_eq!(
            s.ids(),
            vec![0, 1],
            "{what}: the pages before it are handed out"
        );
        let e = s.error();
        assert_eq!(e.kind(), ErrorKind::Limit, "{what}: {e}");
        assert_eq!(e.page(), Some(2), "{what}: {e}");
        assert!(
            e.message()
                .contains(&format!("a {what} of {} bytes", MAX_LINK_LEN + 1)),
            "{what}: {e}"
        );
    }
}

/// A checkpoint keeps the latest cursors seen up to 256 KiB, whatever their
/// number and length: 20 cursors of 60 KiB leave the latest 4 (before, the
/// latest 64: 3.8 MB per checkpoint).
#[test]
fn a_checkpoint_keeps_at_most_256_kib_of_cursors_seen() {
    const LEN: usize = 60 * 1024;
    let a = api(Pagination::cursor(Link::pointer("/next")), 10, 1);
    let mut sweep = Sweep::new(a.spec(), items(), Instant::now()).unwrap();
    let cursor = |k: u64| format!("{k}-{}", "c".repeat(LEN));
    for k in 0..20u64 {
        let req = sweep.poll_request().expect("a request per page");
        let body = json!({"data": [{"id": k}], "next": cursor(k)});
        sweep.handle_response(
            req.id,
            Ok(Response::new(200, body.to_string())),
            Instant::now(),
        );
        while sweep.poll_event().is_some() {}
    }
    let json = sweep.checkpoint().to_json();
    let c: Value = serde_json::from_str(&json).unwrap();
    let seen: Vec<String> = c["learnt"]["seen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, (16..20).map(cursor).collect::<Vec<_>>());
    assert!(json.len() < 256 * 1024 + 2 * LEN, "{} bytes", json.len());
    // Resumed from it, the sweep goes on at the latest cursor and still
    // catches one it keeps sent again (the page that sends it is not
    // handed out).
    let resumed = Checkpoint::from_json(&json).unwrap();
    let s = sim(&a, items().resume(resumed), 1, 1, Pick::Fifo, move |req| {
        assert_eq!(query(&req.url)["cursor"], cursor(19));
        let body = json!({"data": [{"id": 20}], "next": cursor(18)});
        Ok(Response::new(200, body.to_string()))
    });
    assert_eq!(s.ids(), Vec::<u64>::new());
    assert_eq!(s.error().kind(), ErrorKind::Loop);
}

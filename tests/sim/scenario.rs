//! The one helper of the simulated-time tests: a [`Scenario`] builder.
//!
//! A scenario is an [`Api`] (pagination, page size, concurrency and any
//! further builder calls), the [`ListOptions`] of one sweep, and a simulated
//! server: a [`Fake`] API over a list of records (every pagination dialect),
//! per-URL replies on top of it (a status, a short page, a transport error,
//! always or the first `n` times), or any function from URL to answer. The
//! [`Sim`] it starts follows the run-loop contract of the crate docs in
//! simulated time, answering requests in a chosen [`Pick`] order (first in
//! first out, reverse, seeded shuffle, by priority, or by simulated latency),
//! checks the core's bounds after every input, and records every request,
//! page and notice so tests assert exact request URLs and exact record ids:
//!
//! ```ignore
//! let s = Scenario::new(offset_header(), 5, 3)
//!     .pick(Pick::Lifo)
//!     .fake(Fake::new(Style::Offset(Tot::Header), 23))
//!     .on(off(5, 5), Reply::Short(2))
//!     .run();
//! assert_eq!(s.urls(), [off(0, 5), off(5, 5), /* ... */]);
//! assert_eq!(s.ids(), range(1, 23));
//! ```
//!
//! Every read of a field of [`Request`] or [`Response`] in these tests is in
//! the "Fields" section below.

use std::collections::HashMap;
use std::time::Duration;

use pagewise::core::{
    Event, Fetch, Method, Notice, RawPage, Report, Request, RequestId, Response, Sweep,
    TransportError, TransportErrorKind,
};
use pagewise::{Api, ApiBuilder, Error, ListOptions, Pagination, Total};
use serde_json::{json, Value};
use url::Url;
use web_time::Instant;

pub const BASE: &str = "https://api.example/v1/";
pub const ITEMS: &str = "https://api.example/v1/items";

pub type Answer = Result<Response, TransportError>;
/// A simulated server: the answer to a request for a URL.
pub type Server = Box<dyn FnMut(&str) -> Answer>;
/// How long the request for a URL takes, in simulated time.
pub type LatencyFn = Box<dyn FnMut(&str) -> Duration>;

// ---------------------------------------------------------------------------
// Fields: the only reads of `Request` and `Response` fields
// ---------------------------------------------------------------------------

/// The URL a request is sent to.
pub fn url(req: &Request) -> &str {
    &req.url
}

pub fn id(req: &Request) -> RequestId {
    req.id
}

pub fn method(req: &Request) -> Method {
    req.method
}

/// The body a request sends.
pub fn sent_body(req: &Request) -> Option<&[u8]> {
    req.body.as_deref()
}

/// The names of the headers a request sends, in order.
pub fn header_names(req: &Request) -> Vec<&str> {
    req.headers.iter().map(|h| h.name.as_str()).collect()
}

pub fn in_order(req: &Request) -> Option<(u64, u64)> {
    req.in_order
}

pub fn records_at(req: &Request) -> Option<&str> {
    req.records_at.as_deref()
}

pub fn status(resp: &Response) -> u16 {
    resp.status
}

pub fn body(resp: &Response) -> &[u8] {
    &resp.body
}

/// `resp` with its `/data` array cut to its first `keep` records.
pub fn keep_first(resp: Response, keep: usize) -> Response {
    let mut v: Value = serde_json::from_slice(&resp.body).unwrap();
    v["data"].as_array_mut().unwrap().truncate(keep);
    Response {
        body: v.to_string().into_bytes(),
        ..resp
    }
}

// ---------------------------------------------------------------------------
// URLs, records, answers
// ---------------------------------------------------------------------------

pub fn off(offset: u64, limit: u64) -> String {
    format!("{ITEMS}?offset={offset}&limit={limit}")
}

pub fn page_url(page: u64, per: u64) -> String {
    format!("{ITEMS}?page={page}&per_page={per}")
}

/// The query parameters of `url`.
pub fn query(url: &str) -> HashMap<String, String> {
    Url::parse(url)
        .unwrap_or_else(|e| panic!("the fake API got a bad URL {url:?}: {e}"))
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The number in query parameter `name` of `url`.
pub fn param(url: &str, name: &str) -> u64 {
    let q = query(url);
    q[name]
        .parse()
        .unwrap_or_else(|_| panic!("{name} in {url}"))
}

pub fn range(a: u64, b: u64) -> Vec<u64> {
    (a..=b).collect()
}

pub fn record(id: u64) -> Value {
    json!({ "id": id, "name": format!("rec-{id}") })
}

pub fn redirect(status: u16, location: &str) -> Response {
    Response::new(status, "").with_header("Location", location)
}

/// A 429 with `Retry-After: secs`.
pub fn throttle(secs: u64) -> Response {
    Response::new(429, "slow down").with_header("Retry-After", secs.to_string())
}

pub fn ids_of(page: &RawPage) -> Vec<u64> {
    page.records
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_slice(r).expect("records are JSON");
            v["id"].as_u64().expect("records have an id")
        })
        .collect()
}

// ---------------------------------------------------------------------------
// APIs
// ---------------------------------------------------------------------------

pub fn api(p: impl Into<Pagination>, page_size: u64, concurrency: usize) -> Api {
    api_with(p, page_size, concurrency, |b| b)
}

pub fn api_with(
    p: impl Into<Pagination>,
    page_size: u64,
    concurrency: usize,
    more: impl FnOnce(ApiBuilder) -> ApiBuilder,
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

/// Offset paging with the total in `X-Total-Count`: the most common setup here.
pub fn offset_header() -> Pagination {
    Pagination::offset()
        .total(Total::header("X-Total-Count"))
        .into()
}

pub fn offset_header_api(page_size: u64, c: usize) -> Api {
    api(offset_header(), page_size, c)
}

pub fn items() -> ListOptions {
    ListOptions::new("items")
}

/// The configuration for a total where `tot` says the fake puts it.
pub fn total_source(tot: Tot) -> Total {
    match tot {
        Tot::Header => Total::header("X-Total-Count"),
        Tot::Pointer => Total::pointer("/meta/total"),
        Tot::Range => Total::ContentRange,
        Tot::No => unreachable!(),
    }
}

// ---------------------------------------------------------------------------
// A fake API over a list of records
// ---------------------------------------------------------------------------

/// Where the fake API puts the total.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tot {
    No,
    Header,
    Pointer,
    Range,
}

/// The dialect the fake API speaks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Style {
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
pub struct Fake {
    pub ids: Vec<u64>,
    style: Style,
    /// The most records the server hands out per page, whatever is asked.
    cap: u64,
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
    /// `n` records: ids 1..=n, or 10, 13, 16... for keyset paging.
    pub fn new(style: Style, n: u64) -> Self {
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

    pub fn cap(mut self, cap: u64) -> Self {
        self.cap = cap;
        self
    }

    pub fn slice(&self, from: u64, take: u64) -> &[u64] {
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

    pub fn respond(&self, url: &str) -> Response {
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

    /// The page of `ids` starting at record `from`, with the total where `tot` says.
    pub fn with_total(&self, from: u64, ids: Vec<u64>, tot: Tot) -> Response {
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

    /// The fake as a server.
    pub fn server(self) -> impl FnMut(&str) -> Answer {
        move |url| Ok(self.respond(url))
    }
}

// ---------------------------------------------------------------------------
// Other servers
// ---------------------------------------------------------------------------

/// A server over `fake` that calls `change` on its records after each answer.
pub fn changing(
    mut fake: Fake,
    mut change: impl FnMut(&mut Vec<u64>) + 'static,
) -> impl FnMut(&str) -> Answer {
    move |u| {
        let resp = fake.respond(u);
        change(&mut fake.ids);
        Ok(resp)
    }
}

/// A chain of cursors: (cursor asked, cursor sent back at `/next_cursor`);
/// page k holds ids 10k+1..=10k+2.
pub fn cursor_chain(
    cursors: &'static [(&'static str, Option<&'static str>)],
) -> impl FnMut(&str) -> Answer {
    move |url| {
        let q = query(url);
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

/// A chain of links: (URL asked, next link at `/next`); page k holds ids
/// 10k+1..=10k+2. Any other URL is a test failure.
pub fn link_chain(
    links: &'static [(&'static str, Option<&'static str>)],
) -> impl FnMut(&str) -> Answer {
    move |url| {
        let k = links
            .iter()
            .position(|(u, _)| *u == url)
            .unwrap_or_else(|| panic!("unexpected {url}")) as u64;
        let body = json!({ "data": [record(10 * k + 1), record(10 * k + 2)], "next": links[k as usize].1 });
        Ok(Response::new(200, body.to_string()))
    }
}

/// A server that redirects `?hop=h` to `<to>?hop=h+1` (status `status`)
/// `hops` times, then answers with `last`.
pub fn hops(
    hops: u64,
    status: u16,
    to: &'static str,
    last: Response,
) -> impl FnMut(&str) -> Answer {
    move |url| {
        let h: u64 = query(url)
            .get("hop")
            .map(|h| h.parse().unwrap())
            .unwrap_or(0);
        Ok(if h < hops {
            redirect(status, &format!("{to}?hop={}", h + 1))
        } else {
            last.clone()
        })
    }
}

/// A server with 3 records that announces `total` of them (where `tot`
/// says), for offset or page-number paging: every page past the first is empty.
pub fn boasting(style: Style, total: u64) -> impl FnMut(&str) -> Answer {
    move |url| {
        let q = query(url);
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
        let body = body.to_string();
        Ok(match tot {
            Tot::Header => Response::new(200, body).with_header("X-Total-Count", total.to_string()),
            Tot::Range => {
                let range = if first {
                    format!("items 0-2/{total}")
                } else {
                    format!("items */{total}")
                };
                Response::new(206, body).with_header("Content-Range", range)
            }
            _ => Response::new(200, body),
        })
    }
}

// ---------------------------------------------------------------------------
// The scenario builder
// ---------------------------------------------------------------------------

/// What the server answers for one URL, on top of the fake.
#[derive(Debug, Clone)]
pub enum Reply {
    /// This response.
    With(Response),
    /// The fake's answer with its first `n` records only.
    Short(usize),
    /// A transport error of this kind and message.
    Fail(TransportErrorKind, &'static str),
}

impl From<Response> for Reply {
    fn from(r: Response) -> Self {
        Reply::With(r)
    }
}

struct Rule {
    url: String,
    /// How many more times the rule applies; `None`: always.
    times: Option<usize>,
    reply: Reply,
}

/// An API, the options of a sweep, and a simulated server; see the module docs.
pub struct Scenario {
    pagination: Pagination,
    page_size: u64,
    concurrency: usize,
    more: Vec<Box<dyn FnOnce(ApiBuilder) -> ApiBuilder>>,
    /// An API built elsewhere, used instead of the four fields above.
    given: Option<Api>,
    opts: ListOptions,
    window: Option<usize>,
    bounds: Option<(usize, usize)>,
    pick: Pick,
    fake: Option<Fake>,
    rules: Vec<Rule>,
    serve: Option<Server>,
}

impl Scenario {
    /// An API at [`BASE`] with records at `/data`, listing [`items`].
    pub fn new(p: impl Into<Pagination>, page_size: u64, concurrency: usize) -> Self {
        Scenario {
            pagination: p.into(),
            page_size,
            concurrency,
            more: Vec::new(),
            given: None,
            opts: items(),
            window: None,
            bounds: None,
            pick: Pick::Fifo,
            fake: None,
            rules: Vec::new(),
            serve: None,
        }
    }

    /// A scenario on an API built elsewhere, whose concurrency is `c`.
    pub fn on_api(api: &Api, c: usize) -> Self {
        Scenario {
            given: Some(api.clone()),
            ..Scenario::new(Pagination::offset(), 0, c)
        }
    }

    /// More API builder calls (auth, headers, origins...).
    pub fn api(mut self, more: impl FnOnce(ApiBuilder) -> ApiBuilder + 'static) -> Self {
        self.more.push(Box::new(more));
        self
    }

    /// More list options. A window goes through [`Scenario::window`], a
    /// lower concurrency with [`Scenario::bounds`] too.
    pub fn options(mut self, f: impl FnOnce(ListOptions) -> ListOptions) -> Self {
        self.opts = f(self.opts);
        self
    }

    /// The reorder window: set in the options and checked by the driver.
    pub fn window(mut self, w: usize) -> Self {
        self.opts = self.opts.window(w);
        self.window = Some(w);
        self
    }

    /// The concurrency and window the driver checks, when not the API's
    /// concurrency and the window set (or the concurrency).
    pub fn bounds(mut self, c: usize, w: usize) -> Self {
        self.bounds = Some((c, w));
        self
    }

    /// In which order requests in flight are answered (default: first in, first out).
    pub fn pick(mut self, pick: Pick) -> Self {
        self.pick = pick;
        self
    }

    /// Each request takes `latency(url)` in simulated time.
    pub fn latency(self, latency: impl FnMut(&str) -> Duration + 'static) -> Self {
        self.pick(Pick::Latency(Box::new(latency)))
    }

    /// The fake API answers every URL no rule answers.
    pub fn fake(mut self, fake: Fake) -> Self {
        self.fake = Some(fake);
        self
    }

    /// Any server answers every URL no rule answers.
    pub fn serve(mut self, server: impl FnMut(&str) -> Answer + 'static) -> Self {
        self.serve = Some(Box::new(server));
        self
    }

    /// Every request for exactly `url` gets `reply`.
    pub fn on(mut self, url: impl Into<String>, reply: impl Into<Reply>) -> Self {
        self.rules.push(Rule {
            url: url.into(),
            times: None,
            reply: reply.into(),
        });
        self
    }

    /// The first `n` requests for exactly `url` get `reply` (rules apply in
    /// the order given).
    pub fn on_first(mut self, n: usize, url: impl Into<String>, reply: impl Into<Reply>) -> Self {
        self.rules.push(Rule {
            url: url.into(),
            times: Some(n),
            reply: reply.into(),
        });
        self
    }

    /// The sweep, started: nothing sent yet.
    pub fn start(self) -> Sim {
        let Scenario {
            pagination,
            page_size,
            concurrency,
            more,
            given,
            opts,
            window,
            bounds,
            pick: _,
            fake,
            mut rules,
            mut serve,
        } = self;
        let api = given.unwrap_or_else(|| {
            api_with(pagination, page_size, concurrency, |b| {
                more.into_iter().fold(b, |b, f| f(b))
            })
        });
        let (c, w) = bounds.unwrap_or((concurrency, window.unwrap_or(concurrency)));
        let server = move |u: &str| -> Answer {
            let fake_answer = |fake: &Option<Fake>| {
                fake.as_ref()
                    .unwrap_or_else(|| panic!("no answer for {u}: no fake"))
                    .respond(u)
            };
            if let Some(rule) = rules.iter_mut().find(|r| r.url == u && r.times != Some(0)) {
                if let Some(t) = &mut rule.times {
                    *t -= 1;
                }
                return match &rule.reply {
                    Reply::With(resp) => Ok(resp.clone()),
                    Reply::Short(keep) => Ok(keep_first(fake_answer(&fake), *keep)),
                    Reply::Fail(kind, msg) => Err(TransportError::new(*kind, *msg)),
                };
            }
            match &mut serve {
                Some(serve) => serve(u),
                None => Ok(fake_answer(&fake)),
            }
        };
        Sim::new(api, opts, c, w, server)
    }

    /// The sweep, run to its end.
    pub fn run(mut self) -> Sim {
        let pick = std::mem::replace(&mut self.pick, Pick::Fifo);
        let mut s = self.start();
        s.run(pick);
        s
    }
}

// ---------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------

/// In which order the driver answers the requests in flight.
pub enum Pick {
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

pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: usize) -> usize {
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
pub struct Sim {
    pub api: Api,
    pub sweep: Sweep,
    server: Server,
    pub t0: Instant,
    pub now: Instant,
    /// Concurrency and window the sweep must respect.
    c: usize,
    w: usize,
    latency: Option<LatencyFn>,
    pending: Vec<Pending>,
    /// Every request, in the order asked.
    pub requests: Vec<Request>,
    /// URLs in the order answered.
    pub answered: Vec<String>,
    pub pages: Vec<RawPage>,
    pub notices: Vec<Notice>,
    end: Option<Result<Report, Error>>,
    pub max_in_flight: usize,
    pub max_buffered: usize,
    /// Pages and records the report counted from a checkpoint resumed.
    resumed: (u64, u64),
}

/// Simulated time one answer takes when not driven by latency.
pub const STEP: Duration = Duration::from_millis(10);

impl Sim {
    fn new(
        api: Api,
        opts: ListOptions,
        c: usize,
        w: usize,
        server: impl FnMut(&str) -> Answer + 'static,
    ) -> Sim {
        let t0 = Instant::now();
        let sweep = Sweep::new(api.spec(), opts, t0).expect("a valid sweep");
        let resumed = (sweep.report().pages, sweep.report().records);
        Sim {
            api,
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
    pub fn send(&mut self) -> Vec<String> {
        let mut sent = Vec::new();
        while let Some(req) = self.sweep.poll_request() {
            let due = match &mut self.latency {
                Some(l) => self.now + l(url(&req)),
                None => self.now,
            };
            sent.push(url(&req).to_string());
            self.requests.push(req.clone());
            self.pending.push(Pending { req, due });
            self.check_bounds();
        }
        self.check_bounds();
        sent
    }

    /// Step 2: take every event. Returns how many pages came out.
    pub fn events(&mut self) -> usize {
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
        let answer = (self.server)(url(&p.req));
        self.answered.push(url(&p.req).to_string());
        self.sweep.handle_response(id(&p.req), answer, self.now);
        self.check_bounds();
    }

    /// Answers the pending request for exactly `url`.
    pub fn answer(&mut self, u: &str) {
        let i = self
            .pending
            .iter()
            .position(|p| url(&p.req) == u)
            .unwrap_or_else(|| panic!("{u} is not in flight; in flight: {:?}", self.in_flight()));
        self.answer_at(i);
    }

    /// The URLs of the requests in flight, oldest first.
    pub fn in_flight(&self) -> Vec<String> {
        self.pending
            .iter()
            .map(|p| url(&p.req).to_string())
            .collect()
    }

    /// Lets simulated time pass to the sweep's timeout and hands it over.
    pub fn wait_for_timeout(&mut self) -> Instant {
        let due = self.sweep.poll_timeout().expect("a timeout is set");
        self.now = due;
        self.sweep.handle_timeout(due);
        due
    }

    /// Follows the run-loop contract to the end.
    pub fn run(&mut self, pick: Pick) -> &mut Self {
        let mut rng = match &pick {
            Pick::Seeded(s) => Rng(s.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1),
            _ => Rng(1),
        };
        if let Pick::Latency(l) = pick {
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
                    .find_map(|u| self.pending.iter().position(|p| url(&p.req) == u))
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
            let answer = (self.server)(url(&p.req));
            self.sweep.handle_response(id(&p.req), answer, self.now);
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
    pub fn urls(&self) -> Vec<String> {
        self.requests.iter().map(|r| url(r).to_string()).collect()
    }

    /// The value of header `name` on every request, in order.
    pub fn sent(&self, name: &str) -> Vec<Option<&str>> {
        self.requests.iter().map(|r| r.header(name)).collect()
    }

    /// Every record id handed out, in order.
    pub fn ids(&self) -> Vec<u64> {
        self.pages.iter().flat_map(ids_of).collect()
    }

    /// The URL of every page handed out, in order.
    pub fn page_urls(&self) -> Vec<String> {
        self.pages.iter().map(|p| p.url.clone()).collect()
    }

    pub fn report(&self) -> &Report {
        match &self.end {
            Some(Ok(r)) => r,
            other => panic!("expected the sweep to finish, got {other:?}"),
        }
    }

    pub fn error(&self) -> &Error {
        match &self.end {
            Some(Err(e)) => e,
            other => panic!("expected the sweep to fail, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// Fetch
// ---------------------------------------------------------------------------

/// Runs a fetch against `server`; returns the requests asked and the outcome.
pub fn run_fetch(
    f: &mut Fetch,
    mut server: impl FnMut(&str) -> Answer,
) -> (Vec<Request>, pagewise::Result<Response>) {
    let now = Instant::now();
    let mut asked = Vec::new();
    loop {
        let req = f
            .poll_request()
            .expect("a fetch asks until it has an outcome");
        assert!(f.poll_request().is_none(), "one request at a time");
        assert!(f.poll_event().is_none());
        let answer = server(url(&req));
        asked.push(req.clone());
        f.handle_response(id(&req), answer, now);
        if let Some(outcome) = f.poll_event() {
            assert!(f.poll_request().is_none() && f.poll_event().is_none());
            return (asked, outcome);
        }
        assert!(asked.len() < 50, "a fetch that never ends");
    }
}

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

mod driver;
mod fake;

pub use driver::*;
pub use fake::*;

use std::collections::HashMap;
use std::time::Duration;

use pagewise::core::{
    Method, RawPage, Request, RequestId, Response, TransportError, TransportErrorKind,
};
use pagewise::{Api, ApiBuilder, ListOptions, Pagination, Total};
use serde_json::{json, Value};
use url::Url;

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
    req.url()
}

pub fn id(req: &Request) -> RequestId {
    req.id()
}

pub fn method(req: &Request) -> Method {
    req.method()
}

/// The body a request sends.
pub fn sent_body(req: &Request) -> Option<&[u8]> {
    req.body()
}

/// The names of the headers a request sends, in order.
pub fn header_names(req: &Request) -> Vec<&str> {
    req.headers().iter().map(|h| h.name.as_str()).collect()
}

pub fn in_order(req: &Request) -> Option<(u64, u64)> {
    req.in_order()
}

pub fn records_at(req: &Request) -> Option<&str> {
    req.records_at()
}

pub fn status(resp: &Response) -> u16 {
    resp.status()
}

pub fn body(resp: &Response) -> &[u8] {
    resp.body()
}

/// `resp` with its `/data` array cut to its first `keep` records.
pub fn keep_first(resp: Response, keep: usize) -> Response {
    let mut v: Value = serde_json::from_slice(resp.body()).unwrap();
    v["data"].as_array_mut().unwrap().truncate(keep);
    Response::from_parts(resp.status(), resp.headers().to_vec(), v.to_string())
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

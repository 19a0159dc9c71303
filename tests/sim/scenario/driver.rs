//! The driver: runs a sweep (or a fetch) in simulated time following the
//! run-loop contract, checking the core's bounds after every input.

use std::time::Duration;

use pagewise::core::{Event, Fetch, Notice, RawPage, Report, Request, Response, Sweep};
use pagewise::{Api, Error, ListOptions};
use web_time::Instant;

use super::{id, ids_of, url, Answer, LatencyFn, Server};

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
    pub(super) fn new(
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
        // Once, plus once per page waiting out a retry (at most every
        // retry so far), up to MAX_RETRY_STRETCH.
        let retries = usize::try_from(report.retries.total()).unwrap_or(usize::MAX);
        let stretch = retries
            .saturating_add(1)
            .min(pagewise::core::MAX_RETRY_STRETCH);
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

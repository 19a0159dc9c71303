//! The pacer in front of a sweep against a rate-limited server, in
//! simulated time: the drivers' gate in a few lines (moved here from
//! `tests/core_sim.rs` when the pacer became internal to the crate).

use std::sync::Arc;
use std::time::Duration;

use web_time::Instant;

use super::{Admission, Outcome, Pacer, Pacing, Ticket};
use crate::core::{
    ApiBuilder, Event, ListOptions, Pagination, Request, Response, RetryPolicy, Sweep, Total,
    TransportError, Url,
};

type Answer = Result<Response, TransportError>;

/// An offset API of `n` records with its total in `X-Total-Count`.
struct Fake(u64);

impl Fake {
    fn respond(&self, url: &str) -> Response {
        let q = Url::parse(url).expect("a URL of ours").query_pairs();
        let num = |k: &str, d: u64| {
            q.iter()
                .find(|(n, _)| n == k)
                .map_or(d, |(_, v)| v.parse().expect("a number"))
        };
        let (from, take) = (num("offset", 0), num("limit", 100));
        let to = from.saturating_add(take).min(self.0);
        let records: Vec<String> = (from.min(to)..to)
            .map(|i| format!(r#"{{"id":{id},"name":"rec-{id}"}}"#, id = i + 1))
            .collect();
        Response::new(200, format!(r#"{{"data":[{}]}}"#, records.join(",")))
            .with_header("X-Total-Count", self.0.to_string())
    }
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

/// A rate-limited server.
struct Limited {
    /// Tokens per second, by elapsed time; `None`: no limit at all.
    rate: Option<Box<dyn Fn(Duration) -> f64>>,
    burst: f64,
    /// The smallest `Retry-After`, in seconds.
    retry_after: u64,
    /// 429, or 503 (with `Retry-After`).
    status: u16,
    latency: Duration,
    /// How late the client sees an answer after it came in (up to; uniform):
    /// an event loop busy with other work.
    lag: Duration,
    /// Connections to the server; requests beyond them wait their turn
    /// after the pacer let them go (a browser's 6 per origin).
    connections: Option<usize>,
    /// How late a request goes on the wire after the pacer let it go (up to;
    /// uniform).
    send_lag: Duration,
    /// Requests leave one after another, each this long after the one
    /// before at the earliest: a single-threaded event loop starting them.
    send_cost: Duration,
    /// Load shedding: one request in this many is answered 429 (with
    /// `Retry-After`), whatever the rate, before any rate limit.
    shed: Option<usize>,
    /// Pages handed out as they complete (no reorder window).
    completion: bool,
}

impl Limited {
    fn new(rate: f64, burst: u32) -> Self {
        Limited {
            rate: Some(Box::new(move |_| rate)),
            burst: f64::from(burst),
            retry_after: 1,
            status: 429,
            latency: Duration::from_millis(2),
            lag: Duration::ZERO,
            connections: None,
            send_lag: Duration::ZERO,
            send_cost: Duration::ZERO,
            shed: None,
            completion: false,
        }
    }

    fn unlimited(latency: Duration) -> Self {
        Limited {
            rate: None,
            burst: 0.0,
            retry_after: 1,
            status: 429,
            latency,
            lag: Duration::ZERO,
            connections: None,
            send_lag: Duration::ZERO,
            send_cost: Duration::ZERO,
            shed: None,
            completion: false,
        }
    }

    fn latency(mut self, l: Duration) -> Self {
        self.latency = l;
        self
    }

    fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = secs;
        self
    }
}

/// What a paced sweep did.
#[derive(Debug)]
struct PacedRun {
    took: Duration,
    throttled: u64,
    requests: u64,
    /// Seconds the pacer held every request back.
    paused: f64,
    learnt: Option<f64>,
    /// Throttling answers by whole second of the sweep.
    throttled_at: Vec<u64>,
}

/// Sweeps `pages` pages of 100 at concurrency `c` through a pacer against `server`.
fn paced_sweep(server: Limited, pages: u64, c: usize, pacing: Pacing) -> PacedRun {
    let spec = Arc::new(
        ApiBuilder::new("https://api.example/v1/")
            .records_at("/data")
            .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
            .page_size(100)
            .concurrency(c)
            .pacing(pacing)
            .retry(RetryPolicy::default().max_retries(20))
            .build_spec()
            .expect("a valid API"),
    );
    let fake = Fake(pages * 100);
    let t0 = crate::core::test_origin();
    let mut now = t0;
    let mut options = ListOptions::new("items").seed(7);
    if server.completion {
        options = options.order(crate::core::Order::Completion);
    }
    let mut sweep = Sweep::new(&spec, options, t0).expect("a valid sweep");
    let mut pacer = Pacer::new(spec.pacing().clone(), spec.concurrency());
    let mut held: std::collections::VecDeque<Request> = Default::default();
    let mut flying: Vec<(Request, Ticket, Instant, Answer)> = Vec::new();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (mut tokens, mut last) = (server.burst, t0);
    let mut run = PacedRun {
        took: Duration::ZERO,
        throttled: 0,
        requests: 0,
        paused: 0.0,
        learnt: None,
        throttled_at: Vec::new(),
    };
    let mut records = 0u64;
    let trace = std::env::var_os("PACING_TRACE").is_some();
    let mut last_second = 0;
    // When each connection is free again.
    let mut free: Vec<Instant> = vec![t0; server.connections.unwrap_or(0)];
    let mut next_leave = t0;
    loop {
        while let Some(req) = sweep.poll_request() {
            held.push_back(req);
        }
        let mut done = false;
        while let Some(ev) = sweep.poll_event() {
            match ev {
                Event::Page(p) => records += p.records.len() as u64,
                Event::Finished(_) => done = true,
                Event::Failed(e) => panic!("the sweep failed: {e}"),
                _ => {}
            }
        }
        if done {
            break;
        }
        assert!(now - t0 < Duration::from_secs(3600), "no end in sight");
        // The gate: requests go in order while the pacer admits them.
        let mut gate_wake = None;
        while !held.is_empty() {
            match pacer.admit(now) {
                Admission::Go(ticket) => {
                    let req = held.pop_front().expect("a held request");
                    run.requests += 1;
                    // The server decides when the request arrives, half-way.
                    let jitter = 0.5 + rng.below(1000) as f64 / 1000.0;
                    let latency = server.latency.mul_f64(jitter);
                    let mut up_to = |d: Duration| {
                        // No draw for no lag: the other runs keep their jitter.
                        if d.is_zero() {
                            d
                        } else {
                            d.mul_f64(rng.below(1000) as f64 / 1000.0)
                        }
                    };
                    let (send_lag, lag) = (up_to(server.send_lag), up_to(server.lag));
                    let now = (now + send_lag).max(next_leave);
                    next_leave = now + server.send_cost;
                    // On a free connection, or the first to become free.
                    let start = match free.iter_mut().min() {
                        Some(conn) => {
                            let start = now.max(*conn);
                            *conn = start + latency;
                            start
                        }
                        None => now,
                    };
                    let arrives = start + latency / 2;
                    let shed = server.shed.is_some_and(|n| rng.below(n) == 0);
                    let answer = match &server.rate {
                        _ if shed => {
                            run.throttled += 1;
                            run.throttled_at.push((arrives - t0).as_secs());
                            Ok(Response::new(429, "shed")
                                .with_header("Retry-After", server.retry_after.to_string()))
                        }
                        None => Ok(fake.respond(&req.url)),
                        Some(rate) => {
                            let r = rate(arrives - t0);
                            let dt = arrives.saturating_duration_since(last).as_secs_f64();
                            last = last.max(arrives);
                            tokens = (tokens + dt * r).min(server.burst.max(1.0));
                            if tokens >= 1.0 {
                                tokens -= 1.0;
                                Ok(fake.respond(&req.url))
                            } else {
                                run.throttled += 1;
                                run.throttled_at.push((arrives - t0).as_secs());
                                let wait = ((1.0 - tokens) / r).ceil() as u64;
                                let ra = wait.max(server.retry_after);
                                Ok(Response::new(server.status, "slow down")
                                    .with_header("Retry-After", ra.to_string()))
                            }
                        }
                    };
                    flying.push((req, ticket, start + latency + lag, answer));
                }
                Admission::WaitUntil(at) => {
                    assert!(at > now, "a wait that ends now or before");
                    // Drivers wake up a little late (timers, threads).
                    gate_wake = Some(at + Duration::from_micros(rng.below(3000) as u64));
                    break;
                }
                Admission::WaitForAnswer => break,
            }
        }
        let next_answer = flying.iter().map(|f| f.2).min();
        let next = [next_answer, sweep.poll_timeout(), gate_wake]
            .into_iter()
            .flatten()
            .min()
            .expect("stalled: nothing in flight, nothing to wait for");
        now = now.max(next);
        if next_answer == Some(next) {
            let i = flying.iter().position(|f| f.2 == next).expect("due");
            let (req, ticket, _, answer) = flying.remove(i);
            let before = pacer.learnt_rate();
            pacer.on_answer(ticket, Outcome::of(&answer), now);
            if trace && !matches!(Outcome::of(&answer), Outcome::Ok) {
                eprintln!(
                    "  {:8.3}s throttled: rate {:?} -> {:?}, sent {}",
                    (now - t0).as_secs_f64(),
                    before,
                    pacer.learnt_rate(),
                    run.requests
                );
            }
            if trace && (now - t0).as_secs() > last_second {
                last_second = (now - t0).as_secs();
                eprintln!(
                    "  {last_second:6}s rate {:?}, sent {}",
                    pacer.learnt_rate(),
                    run.requests
                );
            }
            sweep.handle_response(req.id, answer, now);
        } else if sweep.poll_timeout().is_some_and(|t| t <= now) {
            sweep.handle_timeout(now);
        }
    }
    assert_eq!(records, pages * 100, "every record, once");
    run.took = now - t0;
    run.paused = pacer.stats().throttled.as_secs_f64();
    run.learnt = pacer.learnt_rate();
    run
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn paced(name: &str, server: Limited, pages: u64) -> PacedRun {
    let r = paced_sweep(server, pages, 16, Pacing::default());
    eprintln!("{name}: {r:?}");
    r
}

#[test]
fn pacing_reaches_a_token_bucket_rate_with_few_429s() {
    // Benchmark scenario 3: 50/s, bursts of 10, Retry-After: 1, 1,000 pages.
    // Floor: (1,000 - 10) / 50 = 19.8 s. The first fan-out of 16 meets a
    // bucket of 10 (7 429s, one pause for everyone); after that the rate is
    // measured and kept, with a 429 now and then to probe.
    let r = paced("50/s", Limited::new(50.0, 10), 1000);
    assert!(secs(r.took) <= 21.8, "{r:?}");
    assert!(r.throttled <= 11, "{r:?}");
    assert!(r.paused < 1.1, "one pause for everyone, the first: {r:?}");
    let rate = r.learnt.expect("a rate was learnt");
    assert!((48.0..=52.5).contains(&rate), "{r:?}");
    // The same server answering 503 with Retry-After.
    let r = paced(
        "503 at 50/s",
        Limited {
            status: 503,
            ..Limited::new(50.0, 10)
        },
        1000,
    );
    assert!(secs(r.took) <= 21.8 && r.throttled <= 11, "{r:?}");
}

#[test]
fn pacing_against_a_slow_bucket_of_one() {
    // 5/s, burst 1: the whole first fan-out but one is turned away.
    // Floor: 99 / 5 = 19.8 s.
    let r = paced("5/s", Limited::new(5.0, 1), 100);
    assert!(secs(r.took) <= 30.0, "{r:?}");
    assert!(r.throttled <= 30, "{r:?}");
    assert!(r.paused < 1.1, "{r:?}");
}

#[test]
fn pacing_against_a_fast_bucket_with_latency() {
    // 500/s, burst 100, 20 ms: concurrency 16 reaches 800/s, so the bucket
    // runs dry after about 0.3 s. Floor: (1,000 - 100) / 500 = 1.8 s.
    let r = paced(
        "500/s",
        Limited::new(500.0, 100).latency(Duration::from_millis(20)),
        1000,
    );
    assert!(secs(r.took) <= 5.0, "{r:?}");
    // 14 of 1,014 requests in 3.19 s. With the window stretched for every
    // page waiting out a retry (`MAX_RETRY_STRETCH`) the pacer's overshoot
    // showed (23: its lower bound of the rate was 536-541/s for this 500/s
    // bucket); the slow-window experiment holds it back again.
    assert!(r.throttled <= 16, "{r:?}");
    assert!(r.paused <= 1.1, "{r:?}");
}

#[test]
fn pacing_with_a_long_retry_after() {
    // Retry-After: 5. Every throttled request waits 5 s; only the first
    // 429 pauses everyone.
    let r = paced(
        "50/s, Retry-After 5",
        Limited::new(50.0, 10).retry_after(5),
        1000,
    );
    assert!((5.0..5.1).contains(&r.paused), "{r:?}");
    assert!(secs(r.took) <= 36.0, "{r:?}");
    assert!(r.throttled <= 11, "{r:?}");
}

#[test]
fn pacing_follows_a_server_that_slows_down() {
    // 50/s for 8 s, then 20/s: about 400 pages by then, 600 at 20/s after.
    let r = paced(
        "50/s then 20/s",
        Limited {
            rate: Some(Box::new(|t| {
                if t < Duration::from_secs(8) {
                    50.0
                } else {
                    20.0
                }
            })),
            ..Limited::new(50.0, 10)
        },
        1000,
    );
    assert!(secs(r.took) <= 44.0, "{r:?}");
    assert!(r.throttled <= 24, "{r:?}");
    let rate = r.learnt.expect("a rate was learnt");
    assert!((19.0..=21.0).contains(&rate), "{r:?}");
}

#[test]
fn pacing_does_not_slow_a_sweep_that_is_never_throttled() {
    // Latency-bound: 1,000 pages, 50 ms, concurrency 16. Floor: 0.05 +
    // ceil(999 / 16) x 0.05 = 3.2 s (latencies here vary by ±50%).
    let paced = paced_sweep(
        Limited::unlimited(Duration::from_millis(50)),
        1000,
        16,
        Pacing::default(),
    );
    let unpaced = paced_sweep(
        Limited::unlimited(Duration::from_millis(50)),
        1000,
        16,
        Pacing::default().adaptive(false),
    );
    assert_eq!(paced.took, unpaced.took, "{paced:?} {unpaced:?}");
    assert!(secs(paced.took) < 3.4, "{paced:?}");
    assert_eq!((paced.requests, paced.throttled), (1000, 0));
    assert_eq!(paced.learnt, None);
}

#[test]
fn pacing_when_the_first_fan_out_leaves_one_request_after_another() {
    // The npm package in Node: fetches start one after another on one event
    // loop, about 2 ms apart, so the first fan-out of 16 reaches the server
    // over 30 ms and more than its burst of 10 get through. The burst taken
    // from that is too big; the 429 that shows it measures nothing, and the
    // next one starts from a 429 (an empty bucket), whatever the burst. It
    // once took the bucket as full there and settled at 36/s (29.5 s).
    let r = paced(
        "50/s, sends 2 ms apart",
        Limited {
            send_cost: Duration::from_millis(2),
            ..Limited::new(50.0, 10)
        },
        1000,
    );
    assert!(secs(r.took) <= 21.8, "{r:?}");
    assert!(r.throttled <= 20, "{r:?}");
    assert!(r.paused < 1.1, "{r:?}");
    let rate = r.learnt.expect("a rate was learnt");
    assert!((48.0..=52.5).contains(&rate), "{r:?}");
}

#[test]
fn pacing_in_a_browser_with_six_connections_and_late_sends() {
    // The npm package in Chromium: 6 connections per origin (the client's
    // concurrency too), requests on the wire up to 30 ms after the pacer let
    // them go, 20 ms latency. The first fan-out goes out over time, so more
    // than the server's burst of 10 gets through and the burst taken from it
    // is too big: the bounds measured from the full bucket after the first
    // pause rested on it, and the rate once settled at 33/s (46 s).
    for (latency, lag) in [(8, 20), (20, 30)] {
        let r = paced_sweep(
            Limited {
                connections: Some(6),
                send_lag: Duration::from_millis(lag),
                send_cost: Duration::from_millis(2),
                ..Limited::new(50.0, 10).latency(Duration::from_millis(latency))
            },
            1000,
            6,
            Pacing::default(),
        );
        eprintln!("6 connections, {latency} ms, sends up to {lag} ms late: {r:?}");
        assert!(secs(r.took) <= 23.0, "{r:?}");
        assert!(r.throttled <= 20, "{r:?}");
        let rate = r.learnt.expect("a rate was learnt");
        assert!((46.0..=52.5).contains(&rate), "{r:?}");
    }
}

/// A plain retry loop against a load-shedding server, as the benchmark's
/// aiohttp peer does it: `c` workers take the pages in turn (the first
/// alone, for the total), and a 429 sleeps its `Retry-After` holding the
/// worker. Latencies and shedding drawn as in [`paced_sweep`].
fn plain_retry_loop(server: &Limited, pages: u64, c: usize) -> Duration {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let attempt = |rng: &mut Rng| {
        let jitter = 0.5 + rng.below(1000) as f64 / 1000.0;
        let shed = server.shed.is_some_and(|n| rng.below(n) == 0);
        let took = server.latency.mul_f64(jitter);
        if shed {
            took + Duration::from_secs(server.retry_after)
        } else {
            took
        }
    };
    let page = |rng: &mut Rng| {
        let mut total = Duration::ZERO;
        loop {
            let a = attempt(rng);
            total += a;
            if a < Duration::from_secs(server.retry_after) {
                return total;
            }
        }
    };
    let first = page(&mut rng);
    let mut free = vec![first; c];
    for _ in 1..pages {
        let w = free.iter_mut().min().expect("workers");
        *w += page(&mut rng);
    }
    free.into_iter().max().expect("workers")
}

#[test]
fn load_shedding_is_retried_not_learnt() {
    // A proxy answers one request in seven 429 + Retry-After: 1 whatever
    // the rate; 50 ms latency, concurrency 16, 2,000 pages. The pacer once
    // learnt a rate of 12/s from it and took 1.74x as long as a plain loop.
    // In completion order; page order is the next test.
    let server = || Limited {
        shed: Some(7),
        completion: true,
        ..Limited::unlimited(Duration::from_millis(50))
    };
    let plain = plain_retry_loop(&server(), 2000, 16);
    let r = paced_sweep(server(), 2000, 16, Pacing::default());
    eprintln!("shedding 1 in 7: plain retry loop {plain:?}, paced {r:?}");
    // A pacer that learns nothing at all, for scale.
    let none = paced_sweep(
        server(),
        2000,
        16,
        Pacing::default()
            .adaptive(false)
            .max_cooldown(Duration::ZERO),
    );
    eprintln!("  no pacing at all: {none:?}");
    assert!(
        r.took <= plain,
        "{r:?} slower than a plain loop ({plain:?})"
    );
}

#[test]
fn load_shedding_in_page_order_is_no_slower_than_a_plain_loop() {
    // The same proxy in the default page order: a page waiting out its
    // Retry-After holds the head of the reorder window back, and the sweep
    // once took 55 s where a plain loop takes 29 s: the window stretched
    // only to twice concurrency + window. It now stretches by that again
    // for each page waiting, up to MAX_RETRY_STRETCH (27.5 s here).
    let server = || Limited {
        shed: Some(7),
        ..Limited::unlimited(Duration::from_millis(50))
    };
    let plain = plain_retry_loop(&server(), 2000, 16);
    let r = paced_sweep(server(), 2000, 16, Pacing::default());
    eprintln!("shedding 1 in 7, page order: plain retry loop {plain:?}, paced {r:?}");
    assert!(
        r.took <= plain,
        "{r:?} slower than a plain loop ({plain:?})"
    );
}

#[test]
#[ignore = "not reached yet: the shed 429s keep the learnt rate from growing (about 2/s at the end, 206 s); \
            one 429 at a time cannot tell a shed one from a slight overshoot of the bucket, see below"]
fn a_token_bucket_behind_a_load_shedder() {
    // 50/s, bursts of 10, and one request in twenty shed whatever the rate:
    // the pacer keeps the bucket's rate and only retries the shed ones. It
    // once took every shed 429 for a rate limit and ratcheted down to 1/s.
    // Floor: (1,000 - 10) / 50 = 19.8 s (shed requests count against the
    // bucket only once they get through, here: they are turned away first).
    //
    // Why it is not reached (PACING_TRACE=1): a shed 429 at the pace r fits
    // a bucket of rate about r (lo ≈ r(1 - 0.6/m), hi ≈ r(1 + 1.1/m) after m
    // requests since the last 429), exactly what a 429 from pacing slightly
    // above a real bucket fits; so each one sets the rate to target(lo, hi),
    // about 2.5% below r, pins the estimate's upper bound at r (no probe
    // beyond it for PROBE_QUIET), and one in five comes "soon" (< 4
    // requests) and backs off by 0.7. Any rule that treats one 429 at a time
    // alike cannot win: the real-bucket test allows ~4 probe 429s in 19 s,
    // so growth per second / decrease per 429 must stay under ~0.2, while
    // shedding 1 in 20 at 50/s brings 2.4 429s a second: the rate drifts
    // down until 429s are rare (~11/s). Telling them apart needs the pace
    // varied (the share of 429s falls below the bucket's rate, not with
    // shedding) — the window detector in shedding.rs, which here never sees
    // a 0.6x slower window before a window without 429s resets it — and,
    // once found, a rate kept for the bucket (forgetting it sends the pacer
    // into the bucket at full speed).
    // Measured (pacer4): with windows of 48 answers instead of 24 the
    // detector still does not fire. The windows it sees go 23/s (20% 429s,
    // the first fan-out), 18.5/s (2%), then 12-13/s (2-6%) for 30 s: the
    // ratchet slows the pace by 0.65x over 6 s, never the 0.6x it needs, and
    // a window without a 429 resets its reference; it would only fire at
    // ~50 s, after the "soon" back-offs took the pace to 4/s. Reaching 22.8 s
    // needs ~30/s on average from the first seconds, so the pace would have
    // to be varied on purpose within the first 2-3 s, not inferred from the
    // ratchet.
    let r = paced(
        "50/s, shedding 1 in 20",
        Limited {
            shed: Some(20),
            ..Limited::new(50.0, 10)
        },
        1000,
    );
    assert!(secs(r.took) <= 19.8 * 1.15, "{r:?}");
}

/// A sweep in page order against the proxy of
/// `load_shedding_in_page_order_is_no_slower_than_a_plain_loop` shedding one
/// request in `n`: no slower than a plain retry loop.
fn shedding_in_page_order(n: usize) {
    let server = || Limited {
        shed: Some(n),
        ..Limited::unlimited(Duration::from_millis(50))
    };
    let plain = plain_retry_loop(&server(), 2000, 16);
    let r = paced_sweep(server(), 2000, 16, Pacing::default());
    eprintln!("shedding 1 in {n}, page order: plain retry loop {plain:?}, paced {r:?}");
    assert!(
        r.took <= plain,
        "1 in {n}: {r:?} slower than a plain loop ({plain:?})"
    );
}

#[test]
fn load_shedding_of_any_share_in_page_order() {
    // Shares one in five to one in twenty. Below about one in ten shed, the
    // 429s alone do not tell shedding from a rate (their share is a fast
    // bucket's too); the pacer learns a rate from them, then, as episodes
    // keep coming, paces one window at 0.6x on purpose (the experiment in
    // pacer.rs): the share of 429s stays → shedding, each 429 only retries
    // itself. Measured (pacer6):
    //   shed   plain   paced   (before the experiment)
    //   1/5    36.9 s  20.0 s  30.3 s
    //   1/7    29.4 s  23.6 s  27.5 s
    //   1/10   20.4 s  12.3 s  12.3 s
    //   1/12   18.2 s  12.3 s  26.1 s
    //   1/20   12.7 s  11.4 s  19.4 s
    for n in [5usize, 7, 10, 12, 20] {
        shedding_in_page_order(n);
    }
}

#[test]
#[ignore = "not reached yet: 1 in 50 shed, page order: 16.5 s against 9.3 s for a plain loop \
            (19.7 s before the experiment); the sweep's page-order window, not the pacer, holds it"]
fn load_shedding_of_one_in_fifty_in_page_order() {
    // Measured (pacer6): the experiment first starts at 4.6 s (episodes come
    // 1.3-1.5 s apart, the 1 s trigger misses them) and finds shedding at
    // 8.8 s; from then on nothing is paced, yet 2,000 pages take 16.5 s.
    // With no rate ever learnt (every 429 only retried, from the start) the
    // sweep takes 19.2 s: a shed page at the head of the window holds the
    // pages after it for its Retry-After (1 s), and with so few pages
    // waiting the window stretches little (`MAX_RETRY_STRETCH` in
    // sweep/mod.rs), while the plain loop's other workers go on.
    shedding_in_page_order(50);
}

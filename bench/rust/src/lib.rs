//! What every Rust client of the benchmark shares: the command line, the
//! record type, the id check, the retry rule of the peers and the one JSON
//! line each client prints.
//!
//! Command line (the same for every client of the benchmark, in any language):
//!
//! ```text
//! CLIENT --scenario NAME --url URL --concurrency C --page-size P [--ids N]
//! ```
//!
//! `NAME` is `latency`, `throughput`, `politeness`, `memory` or `shedding` (a sweep of
//! `URL/offset/items`), `fetch-many` (`GET URL/items/{id}` for ids 1..=N) or
//! `startup` (load, print, exit: the cost of starting the client).

use std::time::{Duration, Instant};

use serde::Deserialize;

pub mod reqwest_transport;

/// Retries of one request (every client of the benchmark uses the same rule).
pub const MAX_RETRIES: u32 = 10;
/// The first backoff's upper bound when the answer names no `Retry-After`.
pub const BASE_DELAY: Duration = Duration::from_millis(200);
/// The largest backoff.
pub const MAX_DELAY: Duration = Duration::from_secs(20);

/// One record of the test API (about 250 bytes of JSON), every field typed,
/// as a user of serde would write it.
#[derive(Debug, Deserialize)]
pub struct Item {
    pub id: u64,
    pub updated_at: String,
    pub name: String,
    pub category: String,
    pub amount: f64,
    pub active: bool,
    pub description: String,
}

/// What the benchmark asks a client to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Every record of `/offset/items`.
    Sweep,
    /// `GET /items/{id}` for ids 1..=N.
    FetchMany,
    /// Nothing: start, print, exit.
    Startup,
}

/// The command line.
#[derive(Debug, Clone)]
pub struct Args {
    pub scenario: String,
    pub url: String,
    pub concurrency: usize,
    pub page_size: u64,
    pub ids: u64,
}

impl Args {
    /// Parses the command line; exits with a message on a bad one.
    pub fn parse() -> Args {
        let mut args = Args {
            scenario: String::new(),
            url: String::new(),
            concurrency: 16,
            page_size: 100,
            ids: 0,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let value = it
                .next()
                .unwrap_or_else(|| die(&format!("{flag} needs a value")));
            match flag.as_str() {
                "--scenario" => args.scenario = value,
                "--url" => args.url = value.trim_end_matches('/').to_string(),
                "--concurrency" => args.concurrency = number(&flag, &value),
                "--page-size" => args.page_size = number(&flag, &value),
                "--ids" => args.ids = number(&flag, &value),
                _ => die(&format!("unknown flag {flag}")),
            }
        }
        if args.scenario.is_empty() {
            die("--scenario is required");
        }
        if args.url.is_empty() && args.kind() != Kind::Startup {
            die("--url is required");
        }
        if args.kind() == Kind::FetchMany && args.ids == 0 {
            die("fetch-many needs --ids N");
        }
        args
    }

    /// What the scenario asks for.
    pub fn kind(&self) -> Kind {
        match self.scenario.as_str() {
            "latency" | "throughput" | "politeness" | "memory" | "shedding" => Kind::Sweep,
            "fetch-many" => Kind::FetchMany,
            "startup" => Kind::Startup,
            other => die(&format!("unknown scenario {other:?}")),
        }
    }
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> T {
    value
        .parse()
        .unwrap_or_else(|_| die(&format!("{flag} wants a number, got {value:?}")))
}

/// Prints `message` to stderr and exits with status 1.
pub fn die(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1)
}

/// Checks that every id 1..=total arrived exactly once: one bit per id
/// (125 KB for 1,000,000 ids), so that the checker itself barely shows in a
/// client's peak RSS.
#[derive(Debug, Default)]
pub struct Seen {
    bits: Vec<u64>,
    count: u64,
}

impl Seen {
    pub fn new() -> Seen {
        Seen::default()
    }

    fn has(&self, id: u64) -> bool {
        let i = (id / 64) as usize;
        self.bits.get(i).is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    /// Records `id`; a second sighting (or id 0) ends the process.
    pub fn mark(&mut self, id: u64) {
        if id == 0 {
            die("id 0 received: ids start at 1");
        }
        let i = usize::try_from(id / 64).unwrap_or_else(|_| die(&format!("id {id} is too large")));
        if i >= self.bits.len() {
            self.bits.resize((i + 1).max(self.bits.len() * 2), 0);
        }
        if self.has(id) {
            die(&format!("id {id} arrived twice"));
        }
        self.bits[i] |= 1 << (id % 64);
        self.count += 1;
    }

    /// Ids received.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Ends the process unless exactly the ids 1..=total arrived.
    pub fn check(&self, total: u64) {
        if self.count != total {
            let missing = (1..=total).find(|&id| !self.has(id));
            die(&format!(
                "{} ids arrived, expected {total} (first missing: {missing:?})",
                self.count
            ));
        }
    }
}

/// The retry rule of the peers: `Retry-After` if the answer names one (plus
/// up to 10% so that clients told the same instant do not all come back at
/// once, as pagewise does), else full-jitter backoff from 200 ms doubling up
/// to 20 s.
pub fn retry_delay(attempt: u32, retry_after: Option<Duration>, rng: &mut u64) -> Duration {
    match retry_after {
        Some(d) => d + d.mul_f64(unit(rng) * 0.1),
        None => {
            let ceiling = BASE_DELAY
                .saturating_mul(1u32 << attempt.min(16))
                .min(MAX_DELAY);
            ceiling.mul_f64(unit(rng))
        }
    }
}

/// A uniform value in [0, 1) from a splitmix64 state.
pub fn unit(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// A seed from the clock.
pub fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

/// Whether a status is retried (429 and the transient 5xx).
pub fn retried(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// What a client reports.
#[derive(Debug, Default)]
pub struct Outcome {
    pub records: u64,
    /// HTTP requests the client sent (retries included).
    pub requests: u64,
    /// 429 answers the client saw.
    pub throttled: u64,
    /// Requests retried (every cause).
    pub retries: u64,
}

/// Prints the client's one JSON line.
pub fn print(client: &str, args: &Args, started: Instant, o: &Outcome) {
    let line = serde_json::json!({
        "client": client,
        "scenario": args.scenario,
        "records": o.records,
        "requests": o.requests,
        "throttled": o.throttled,
        "retries": o.retries,
        "elapsed_s": started.elapsed().as_secs_f64(),
        "ok": true,
    });
    println!("{line}");
}

/// The API as every pagewise client of the benchmark describes it: offset
/// pagination with the total in `X-Total-Count`, records at `/data`, the
/// scenario's concurrency and page size, and the shared retry rule (10
/// retries; pagewise's own backoff, `Retry-After` honoured, budget and
/// adaptive pacing at their defaults).
pub fn pagewise_api(args: &Args) -> pagewise::Api {
    use pagewise::{Api, Pagination, RetryPolicy, Total};
    // `startup` has no server: the client is still built, just never used.
    let url = if args.url.is_empty() {
        "http://127.0.0.1:9"
    } else {
        &args.url
    };
    Api::builder(format!("{url}/"))
        .records_at("/data")
        .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
        .page_size(args.page_size)
        .concurrency(args.concurrency)
        .retry(
            RetryPolicy::default()
                .max_retries(MAX_RETRIES)
                .base_delay(BASE_DELAY)
                .max_delay(MAX_DELAY),
        )
        .build()
        .unwrap_or_else(|e| die(&format!("api: {e}")))
}

/// The ids of a fetch-many scenario: 1..=n.
pub fn ids(args: &Args) -> Vec<u64> {
    (1..=args.ids).collect()
}

/// A sweep's report checked: complete, and as many records as the total.
pub fn check_report(report: Option<&pagewise::Report>, seen: &Seen) -> pagewise::Report {
    let report = report
        .cloned()
        .unwrap_or_else(|| die("the sweep ended without a report"));
    let total = report
        .total
        .unwrap_or_else(|| die("the sweep reported no total"));
    seen.check(total);
    if report.complete != Some(true) {
        die(&format!("the report says complete = {:?}", report.complete));
    }
    report
}

/// The async pagewise client's work, the same on every executor.
pub async fn pagewise_async(args: &Args, started: &mut Instant) -> Outcome {
    pagewise_async_over(args, started, pagewise::Client::new).await
}

/// [`pagewise_async`] over the client `make` builds for the `Api` (another
/// transport, say).
pub async fn pagewise_async_over(
    args: &Args,
    started: &mut Instant,
    make: impl FnOnce(&pagewise::Api) -> pagewise::Client,
) -> Outcome {
    use futures::StreamExt;
    let api = pagewise_api(args);
    let client = make(&api);
    *started = Instant::now();
    let mut seen = Seen::new();
    match args.kind() {
        Kind::Startup => Outcome::default(),
        Kind::Sweep => {
            let mut stream = client.list("offset/items").stream::<Item>();
            while let Some(item) = stream.next().await {
                let item = item.unwrap_or_else(|e| die(&format!("sweep: {e}")));
                seen.mark(item.id);
            }
            let report = check_report(stream.report(), &seen);
            Outcome {
                records: seen.count(),
                requests: report.requests,
                throttled: report.retries.throttled,
                retries: report.retries.total(),
            }
        }
        Kind::FetchMany => {
            let mut stream = client
                .fetch_many("items/{id}", ids(args))
                .concurrency(args.concurrency)
                .stream::<Item>();
            while let Some((id, item)) = stream.next().await {
                let item = item.unwrap_or_else(|e| die(&format!("id {id}: {e}")));
                if item.id.to_string() != id {
                    die(&format!("asked for id {id}, got {}", item.id));
                }
                seen.mark(item.id);
            }
            seen.check(args.ids);
            let report = stream
                .report()
                .cloned()
                .unwrap_or_else(|| die("fetch_many ended without a report"));
            Outcome {
                records: seen.count(),
                requests: report.requests,
                throttled: report.retries.throttled,
                retries: report.retries.total(),
            }
        }
    }
}

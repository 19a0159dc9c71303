//! The Rust peer: reqwest + tokio, written the way its users write it. The
//! first page gives the total; every other page (or id) is one future, and
//! `buffer_unordered(C)` keeps C of them in flight. Records are deserialized
//! with `resp.json::<Page>()` into the same typed `Item` as pagewise's.
//! Pages are handled in completion order (no reordering).
//!
//! Retry rule (the same as every client's): 429, 500, 502, 503, 504 and
//! connection errors are retried up to 10 times, after `Retry-After` (+ up to
//! 10% jitter) when the answer names one, else after full-jitter backoff from
//! 200 ms doubling to 20 s. The wait holds the request's place in the buffer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use pagewise_bench::{
    die, print, retried, retry_delay, seed, Args, Item, Kind, Outcome, Seen, MAX_RETRIES,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;

static REQUESTS: AtomicU64 = AtomicU64::new(0);
static THROTTLED: AtomicU64 = AtomicU64::new(0);
static RETRIES: AtomicU64 = AtomicU64::new(0);

#[derive(Deserialize)]
struct Page {
    data: Vec<Item>,
    meta: Meta,
}

#[derive(Deserialize)]
struct Meta {
    total: u64,
}

/// GET `url` with the retry rule, deserializing the JSON body.
async fn get<T: DeserializeOwned>(client: &reqwest::Client, url: String) -> Result<T, String> {
    let mut rng = seed() ^ url.len() as u64;
    let mut attempt = 0;
    loop {
        REQUESTS.fetch_add(1, Ordering::Relaxed);
        let wait = match client.get(&url).send().await {
            Ok(resp) if resp.status().is_success() => {
                return resp.json::<T>().await.map_err(|e| format!("{url}: {e}"));
            }
            Ok(resp) if retried(resp.status().as_u16()) => {
                if resp.status().as_u16() == 429 {
                    THROTTLED.fetch_add(1, Ordering::Relaxed);
                }
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .map(Duration::from_secs_f64);
                retry_delay(attempt, retry_after, &mut rng)
            }
            Ok(resp) => return Err(format!("{url}: status {}", resp.status())),
            Err(e) if e.is_connect() || e.is_request() => retry_delay(attempt, None, &mut rng),
            Err(e) => return Err(format!("{url}: {e}")),
        };
        if attempt >= MAX_RETRIES {
            return Err(format!("{url}: gave up after {MAX_RETRIES} retries"));
        }
        attempt += 1;
        RETRIES.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(wait).await;
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .unwrap_or_else(|e| die(&format!("reqwest: {e}")));
    let started = Instant::now();
    let mut seen = Seen::new();
    let page_url = |offset: u64| {
        format!(
            "{}/offset/items?offset={offset}&limit={}",
            args.url, args.page_size
        )
    };
    match args.kind() {
        Kind::Startup => {}
        Kind::Sweep => {
            let first: Page = get(&client, page_url(0)).await.unwrap_or_else(|e| die(&e));
            let total = first.meta.total;
            for item in first.data {
                seen.mark(item.id);
            }
            let offsets = (args.page_size..total).step_by(args.page_size as usize);
            let mut pages = futures::stream::iter(offsets)
                .map(|offset| get::<Page>(&client, page_url(offset)))
                .buffer_unordered(args.concurrency);
            while let Some(page) = pages.next().await {
                for item in page.unwrap_or_else(|e| die(&e)).data {
                    seen.mark(item.id);
                }
            }
            seen.check(total);
        }
        Kind::FetchMany => {
            let mut items = futures::stream::iter(1..=args.ids)
                .map(|id| {
                    let client = &client;
                    let url = format!("{}/items/{id}", args.url);
                    async move { (id, get::<Item>(client, url).await) }
                })
                .buffer_unordered(args.concurrency);
            while let Some((id, item)) = items.next().await {
                let item = item.unwrap_or_else(|e| die(&e));
                if item.id != id {
                    die(&format!("asked for id {id}, got {}", item.id));
                }
                seen.mark(item.id);
            }
            seen.check(args.ids);
        }
    }
    let outcome = Outcome {
        records: seen.count(),
        requests: REQUESTS.load(Ordering::Relaxed),
        throttled: THROTTLED.load(Ordering::Relaxed),
        retries: RETRIES.load(Ordering::Relaxed),
    };
    print("reqwest-tokio", &args, started, &outcome);
}

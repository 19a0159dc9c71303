//! The quickstart: start the built-in test API server (20,000 records, 50 ms
//! latency per request), pull every record with concurrency 1 and then 16,
//! check every id arrived exactly once, and print the speedup; then the same
//! with the async client.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```

use std::collections::HashSet;
use std::time::{Duration, Instant};

use pagewise::{Api, Pagination, Total};
use pagewise_testserver::{Config, TestServer};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Item {
    id: u64,
}

const RECORDS: u64 = 20_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::start(Config {
        records: RECORDS,
        latency: Duration::from_millis(50),
        ..Config::default()
    })?;
    println!(
        "test API server on {} ({RECORDS} records, 50 ms latency)",
        server.url()
    );

    let api = Api::builder(format!("{}/offset/", server.url()))
        .records_at("/data")
        .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
        .page_size(100)
        .concurrency(16)
        .build()?;
    let client = api.blocking();

    let mut seconds = Vec::new();
    for concurrency in [1, 16] {
        let started = Instant::now();
        let (items, report) = client
            .list("items")
            .concurrency(concurrency)
            .collect_with_report::<Item>()?;
        let elapsed = started.elapsed().as_secs_f64();
        check_every_id_once(&items)?;
        println!(
            "blocking, concurrency {concurrency:>2}: {} records, {} pages, {elapsed:.2} s, complete: {:?}",
            report.records,
            report.pages,
            report.complete.unwrap_or(false)
        );
        seconds.push(elapsed);
    }
    println!(
        "speedup with concurrency 16: {:.1}x",
        seconds[0] / seconds[1]
    );

    // The same sweep through the async client, on a plain futures executor
    // (it needs no runtime; tokio, smol or async-std work just as well).
    let client = pagewise::Client::new(&api);
    let started = Instant::now();
    let (items, report) =
        futures::executor::block_on(client.list("items").collect_with_report::<Item>())?;
    check_every_id_once(&items)?;
    println!(
        "async,    concurrency 16: {} records, {} pages, {:.2} s, complete: {:?}",
        report.records,
        report.pages,
        started.elapsed().as_secs_f64(),
        report.complete.unwrap_or(false)
    );
    Ok(())
}

fn check_every_id_once(items: &[Item]) -> Result<(), String> {
    let ids: HashSet<u64> = items.iter().map(|i| i.id).collect();
    if items.len() as u64 != RECORDS
        || ids.len() as u64 != RECORDS
        || !(1..=RECORDS).all(|id| ids.contains(&id))
    {
        return Err(format!(
            "expected ids 1..={RECORDS} once each, got {} records ({} distinct)",
            items.len(),
            ids.len()
        ));
    }
    Ok(())
}

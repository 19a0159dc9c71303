//! A progress bar with indicatif, fed by `on_progress`: records against the
//! announced total, rate, ETA and retries so far.
//!
//!     cargo run --example progress

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use pagewise::{Api, Pagination, Total};
use pagewise_testserver::{Config, TestServer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::start(Config {
        records: 5_000,
        latency: Duration::from_millis(5),
        ..Config::default()
    })?;
    let api = Api::builder(format!("{}/offset/", server.url()))
        .records_at("/data")
        .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
        .page_size(100)
        .concurrency(8)
        .build()?;

    // Hidden when stderr is not a terminal (CI logs get the last line only).
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} records, {per_sec}, ETA {eta} {msg}",
    )?);
    let on_progress = bar.clone();
    let (records, report) = api
        .blocking()
        .list("items")
        .on_progress(move |p| {
            if let Some(total) = p.records_total {
                on_progress.set_length(total);
            }
            on_progress.set_position(p.records);
            on_progress.set_message(format!("{} retries", p.retries));
        })
        .collect_with_report::<serde_json::Value>()?;
    bar.finish();
    println!(
        "progress: {} records, {} pages, complete: {:?}",
        records.len(),
        report.pages,
        report.complete
    );
    assert_eq!(records.len(), 5_000);
    Ok(())
}

//! Your own HTTP stack under pagewise: an `AsyncTransport` wrapping another
//! one (here the built-in ureq transport) to count requests and show the first.
//! The same shape fits reqwest, hyper or an in-memory fake; with
//! `default-features = false` the crate builds without ureq at all.
//!
//!     cargo run --example custom_transport

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use pagewise::core::Request;
use pagewise::transport::{AsyncTransport, TransportFuture, UreqTransport};
use pagewise::{Api, Pagination, Total};
use pagewise_testserver::{Config, TestServer};

struct Counting {
    inner: UreqTransport,
    sent: Arc<AtomicU64>,
}

impl AsyncTransport for Counting {
    fn send(&self, request: Request) -> TransportFuture {
        if self.sent.fetch_add(1, Ordering::Relaxed) == 0 {
            // The URL with any credential removed, safe to log.
            println!(
                "first request: {} {}",
                request.method(),
                request.redacted_url()
            );
        }
        self.inner.send(request)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::start(Config {
        records: 1_000,
        ..Config::default()
    })?;
    let api = Api::builder(format!("{}/offset/", server.url()))
        .records_at("/data")
        .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
        .page_size(100)
        .build()?;
    let sent = Arc::new(AtomicU64::new(0));
    let transport = Counting {
        inner: UreqTransport::new(),
        sent: sent.clone(),
    };
    let client = pagewise::blocking::Client::with_transport(&api, transport);
    let records = client.list("items").collect::<serde_json::Value>()?;
    let sent = sent.load(Ordering::Relaxed);
    println!(
        "custom transport: {} records, {sent} requests",
        records.len()
    );
    assert_eq!(records.len(), 1_000);
    assert_eq!(sent, 10);
    Ok(())
}

//! The async client against the real test server: the same scenario table as
//! the blocking tests, on several executors; a limit shared with a blocking
//! client; bounded memory over a long stream; cancellation by drop.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{scenarios, Item};
use futures::StreamExt;
use pagewise::{Client, ErrorKind, Order};
use pagewise_testserver::{Config, TestServer};

const N: u64 = 1_234;

fn server(records: u64, latency_ms: u64) -> TestServer {
    TestServer::start(Config {
        records,
        latency: Duration::from_millis(latency_ms),
        ..Config::default()
    })
    .expect("test server starts")
}

/// Runs the whole scenario table through the async client.
async fn scenario_table(base: String) {
    let expected: Vec<u64> = (1..=N).collect();
    for c in [1, 16] {
        for s in scenarios(&base, c) {
            let client = Client::new(&s.api);
            let (items, report) = client
                .list("items")
                .page_size(100)
                .collect_with_report::<Item>()
                .await
                .unwrap_or_else(|e| panic!("{} c={c}: {e}", s.name));
            let ids: Vec<u64> = items.iter().map(|i| i.id).collect();
            assert_eq!(ids, expected, "{} c={c}: page order", s.name);
            if s.fans_out {
                assert_eq!(report.complete, Some(true), "{}", s.name);
            }
            let items: Vec<Item> = client
                .list("items")
                .page_size(100)
                .order(Order::Completion)
                .collect()
                .await
                .unwrap_or_else(|e| panic!("{} c={c} completion: {e}", s.name));
            let set: BTreeSet<u64> = items.iter().map(|i| i.id).collect();
            assert_eq!(items.len() as u64, N, "{} c={c}: no duplicates", s.name);
            assert_eq!(set, expected.iter().copied().collect(), "{} c={c}", s.name);
        }
    }
}

#[test]
fn scenario_table_on_futures_executor() {
    let server = server(N, 1);
    futures::executor::block_on(scenario_table(server.url()));
}

#[test]
fn scenario_table_on_smol() {
    let server = server(N, 1);
    smol::block_on(scenario_table(server.url()));
}

#[test]
fn scenario_table_on_tokio_current_thread() {
    let server = server(N, 1);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(scenario_table(server.url()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_table_on_tokio_multi_thread_in_spawned_tasks() {
    let server = server(N, 1);
    // Streams are Send: sweeps can run in spawned tasks.
    let a = tokio::spawn(scenario_table(server.url()));
    let b = tokio::spawn(async move {
        let s = scenarios(&server.url(), 8).remove(0);
        let n = Client::new(&s.api)
            .list("items")
            .stream::<Item>()
            .count()
            .await;
        (n, server)
    });
    a.await.unwrap();
    let (n, _server) = b.await.unwrap();
    assert_eq!(n as u64, N);
}

#[test]
fn get_one_record_async() {
    let server = server(10, 0);
    let api = pagewise::Api::builder(server.url()).build().unwrap();
    let client = Client::new(&api);
    futures::executor::block_on(async {
        let item: Item = client.get("items/3").await.unwrap();
        assert_eq!(item.id, 3);
        let err = client.get::<Item>("items/11").await.unwrap_err();
        assert_eq!((err.kind(), err.status()), (ErrorKind::Status, Some(404)));
    });
}

#[test]
fn blocking_and_async_share_one_limit() {
    let server = server(4_000, 15);
    let s = scenarios(&server.url(), 6).remove(0);
    server.reset();
    let api = s.api.clone();
    let blocking = std::thread::spawn(move || {
        let items: Vec<Item> = api
            .blocking()
            .list("items")
            .page_size(50)
            .collect()
            .unwrap();
        items.len()
    });
    let client = Client::new(&s.api);
    let (a, b) = futures::executor::block_on(async {
        let one = client
            .list("items")
            .page_size(50)
            .order(Order::Completion)
            .collect::<Item>();
        let two = client.list("items").page_size(40).collect::<Item>();
        futures::join!(one, two)
    });
    assert_eq!(blocking.join().unwrap(), 4_000);
    assert_eq!((a.unwrap().len(), b.unwrap().len()), (4_000, 4_000));
    let stats = server.stats();
    assert_eq!(stats.requests, 80 + 80 + 100);
    assert!(
        stats.max_in_flight <= 6,
        "one limit of 6 over three sweeps: {stats:?}"
    );
    assert!(
        stats.max_in_flight >= 4,
        "the three sweeps ran side by side: {stats:?}"
    );
    assert!(s.api.limiter().max_in_use() <= 6);
}

#[test]
fn a_long_stream_keeps_memory_bounded() {
    let server = TestServer::start(Config {
        records: 200_000,
        max_page_size: 1_000,
        ..Config::default()
    })
    .unwrap();
    let s = scenarios(&server.url(), 8).remove(0);
    let client = Client::new(&s.api);
    futures::executor::block_on(async {
        let mut stream = client
            .list("items")
            .page_size(500)
            .window(4)
            .stream::<Item>();
        let mut count = 0u64;
        let mut last = 0;
        let mut most = 0;
        while let Some(item) = stream.next().await {
            let item = item.unwrap();
            assert_eq!(item.id, last + 1, "page order");
            last = item.id;
            count += 1;
            if count % 1_000 == 0 {
                // A slow consumer: the sweep must not run ahead of it.
                std::thread::sleep(Duration::from_millis(1));
            }
            most = most.max(stream.buffered_pages());
        }
        assert_eq!(count, 200_000);
        let report = stream.report().unwrap();
        assert!(most <= 8 + 4, "observed {most} pages buffered");
        assert!(report.max_buffered_pages <= 8 + 4, "{report:?}");
        assert!(
            report.max_buffered_pages >= 2,
            "pages were buffered concurrently: {report:?}"
        );
    });
}

#[test]
fn dropping_a_stream_stops_the_sweep() {
    let server = server(10_000, 30);
    let s = scenarios(&server.url(), 4).remove(0);
    let client = Client::new(&s.api);
    futures::executor::block_on(async {
        let mut stream = client.list("items").page_size(10).stream::<Item>();
        for _ in 0..25 {
            stream.next().await.unwrap().unwrap();
        }
    });
    // The stream was dropped at the end of the block.
    std::thread::sleep(Duration::from_millis(100));
    let after_drop = server.stats().requests;
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        server.stats().requests,
        after_drop,
        "no request started after the drop"
    );
    assert!(after_drop < 20, "{after_drop} requests");
}

/// Requests sent, and answers handed over at each send.
#[derive(Default)]
struct Log {
    handed: usize,
    handed_at_send: Vec<usize>,
}

/// A transport whose answers come in at once but are handed over later, as
/// the npm package's are when it parses a page some time after it arrived:
/// it gives the lease back with `Lease::arrived` as the request goes out.
/// Answers after the first are handed over once five requests went (or
/// after a second, so that a driver that waits for them is seen waiting).
struct ArrivesEarly {
    log: std::sync::Arc<std::sync::Mutex<Log>>,
}

impl pagewise::transport::AsyncTransport for ArrivesEarly {
    fn send(&self, _request: pagewise::core::Request) -> pagewise::transport::TransportFuture {
        unreachable!("the driver sends with a lease")
    }

    fn send_leased(
        &self,
        request: pagewise::core::Request,
        mut lease: pagewise::transport::Lease,
    ) -> pagewise::transport::TransportFuture {
        let log = self.log.clone();
        Box::pin(async move {
            lease.acquire().await;
            {
                let mut log = log.lock().unwrap();
                let handed = log.handed;
                log.handed_at_send.push(handed);
            }
            lease.arrived(200);
            let url = url::Url::parse(request.url()).unwrap();
            let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
            let offset: u64 = q["offset"].parse().unwrap();
            let limit: u64 = q["limit"].parse().unwrap();
            let since = std::time::Instant::now();
            while offset > 0
                && log.lock().unwrap().handed_at_send.len() < 5
                && since.elapsed() < Duration::from_secs(1)
            {
                futures_timer::Delay::new(Duration::from_millis(2)).await;
            }
            log.lock().unwrap().handed += 1;
            let ids: Vec<String> = (offset + 1..=(offset + limit).min(100))
                .map(|id| format!("{{\"id\":{id}}}"))
                .collect();
            Ok(
                pagewise::core::Response::new(200, format!("[{}]", ids.join(",")))
                    .with_header("X-Total-Count", "100"),
            )
        })
    }
}

#[test]
fn a_request_whose_answer_arrived_frees_its_slot_before_the_answer_is_handed_over() {
    let api = pagewise::Api::builder("https://api.example/")
        .pagination(pagewise::Pagination::offset().total(pagewise::Total::header("X-Total-Count")))
        .page_size(10)
        .concurrency(2)
        .build()
        .unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Log::default()));
    let client = Client::with_transport(&api, ArrivesEarly { log: log.clone() });
    let (items, report) = futures::executor::block_on(
        client
            .list("items")
            .window(2)
            .collect_with_report::<serde_json::Value>(),
    )
    .unwrap();
    let ids: Vec<u64> = items.iter().map(|i| i["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, (1..=100).collect::<Vec<_>>());
    assert_eq!(report.requests, 10);
    // After the first page (alone, for the total), four pages go before any
    // answer is handed over: two slots, each given back as its request
    // arrives, within a window of concurrency + window = 4 pages.
    let log = log.lock().unwrap();
    let first_wave = log.handed_at_send.iter().filter(|&&h| h == 1).count();
    assert_eq!(
        first_wave, 4,
        "answers handed over at each send: {:?}",
        log.handed_at_send
    );
}

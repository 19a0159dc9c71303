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

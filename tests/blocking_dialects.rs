//! Every dialect against the real test server, through the blocking client:
//! exact id sequence in page order, exact id set in completion order, with
//! concurrency 1 and 16.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{scenarios, Item};
use pagewise::{Api, ErrorKind, Order, Pagination, Total};
use pagewise_testserver::{Config, TestServer};

const N: u64 = 2_345;

fn server() -> TestServer {
    TestServer::start(Config {
        records: N,
        max_page_size: 1000,
        latency: Duration::from_millis(2),
        ..Config::default()
    })
    .expect("test server starts")
}

#[test]
fn every_dialect_in_page_order_and_completion_order() {
    let server = server();
    let expected: Vec<u64> = (1..=N).collect();
    for c in [1, 16] {
        for s in scenarios(&server.url(), c) {
            let client = s.api.blocking();
            let (items, report) = client
                .list("items")
                .page_size(100)
                .collect_with_report::<Item>()
                .unwrap_or_else(|e| panic!("{} c={c}: {e}", s.name));
            let ids: Vec<u64> = items.iter().map(|i| i.id).collect();
            assert_eq!(ids, expected, "{} c={c}: page order", s.name);
            assert_eq!(report.records, N, "{}", s.name);
            if s.fans_out {
                assert_eq!(report.complete, Some(true), "{}", s.name);
                assert_eq!(report.pages, N.div_ceil(100), "{}", s.name);
            }
            assert!(report.max_buffered_pages <= c + c, "{}: {report:?}", s.name);

            let items: Vec<Item> = client
                .list("items")
                .page_size(100)
                .order(Order::Completion)
                .collect()
                .unwrap_or_else(|e| panic!("{} c={c} completion: {e}", s.name));
            let set: BTreeSet<u64> = items.iter().map(|i| i.id).collect();
            assert_eq!(items.len() as u64, N, "{} c={c}: no duplicates", s.name);
            assert_eq!(
                set,
                expected.iter().copied().collect(),
                "{} c={c}: completion set",
                s.name
            );
        }
    }
}

#[test]
fn fan_out_is_concurrent_and_bounded_by_the_limiter() {
    let server = TestServer::start(Config {
        records: 5_000,
        latency: Duration::from_millis(20),
        ..Config::default()
    })
    .unwrap();
    let s = scenarios(&server.url(), 16).remove(0);
    server.reset();
    let items: Vec<Item> = s
        .api
        .blocking()
        .list("items")
        .page_size(100)
        .collect()
        .unwrap();
    assert_eq!(items.len(), 5_000);
    let stats = server.stats();
    assert_eq!(stats.requests, 50);
    assert!(
        stats.max_in_flight > 1,
        "pages were fetched concurrently: {stats:?}"
    );
    assert!(
        stats.max_in_flight <= 16,
        "never above the limit: {stats:?}"
    );
    assert!(s.api.limiter().max_in_use() <= 16);
}

#[test]
fn a_server_capping_page_size_loses_no_rows() {
    let server = TestServer::start(Config {
        records: 1_234,
        max_page_size: 70,
        ..Config::default()
    })
    .unwrap();
    for s in scenarios(&server.url(), 8) {
        let items: Vec<Item> = s
            .api
            .blocking()
            .list("items")
            .page_size(500)
            .collect()
            .unwrap_or_else(|e| panic!("{}: {e}", s.name));
        let ids: Vec<u64> = items.iter().map(|i| i.id).collect();
        assert_eq!(ids, (1..=1_234).collect::<Vec<_>>(), "{}", s.name);
    }
}

#[test]
fn streaming_iter_and_pages() {
    let server = server();
    let s = scenarios(&server.url(), 4).remove(0);
    let client = s.api.blocking();
    let mut it = client.list("items").page_size(250).iter::<Item>();
    let first: Vec<u64> = it.by_ref().take(10).map(|r| r.unwrap().id).collect();
    assert_eq!(first, (1..=10).collect::<Vec<_>>());
    assert_eq!(it.by_ref().count() as u64, N - 10);
    assert_eq!(it.report().unwrap().records, N);

    let pages: Vec<_> = client
        .list("items")
        .page_size(1000)
        .pages::<Item>()
        .map(|p| p.unwrap())
        .collect();
    assert_eq!(pages.len(), 3);
    assert_eq!(
        pages.iter().map(|p| p.index).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(pages[2].records.len() as u64, N - 2000);
    assert!(pages[1].url.contains("offset=1000"), "{}", pages[1].url);
}

#[test]
fn get_one_record() {
    let server = server();
    let api = Api::builder(server.url()).build().unwrap();
    let item: Item = api.blocking().get("items/7").unwrap();
    assert_eq!(item.id, 7);
    let value: serde_json::Value = api.blocking().get("items/8").unwrap();
    assert_eq!(value["id"], 8);
    let err = api.blocking().get::<Item>("items/999999").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Status);
    assert_eq!(err.status(), Some(404));
    assert!(err.url().unwrap().ends_with("/items/999999"), "{err}");
}

#[test]
fn garbage_answers_are_typed_errors_naming_the_url() {
    let server = server();
    let offset = || Pagination::offset().total(Total::header("X-Total-Count"));
    for (path, records_at, kind) in [
        ("garbage/html", "/data", ErrorKind::Decode),
        ("garbage/json", "/data", ErrorKind::Decode),
        ("garbage/missing", "/data", ErrorKind::Decode),
        ("garbage/null", "", ErrorKind::Decode),
        ("garbage/empty", "", ErrorKind::Decode),
        ("garbage/status/500", "", ErrorKind::Status),
        ("garbage/status/403", "", ErrorKind::Status),
    ] {
        let api = Api::builder(format!("{}/{path}/", server.url()))
            .records_at(records_at)
            .pagination(offset())
            .build()
            .unwrap();
        let err = api
            .blocking()
            .list("items")
            .collect::<Item>()
            .expect_err(path);
        assert_eq!(err.kind(), kind, "{path}: {err}");
        let url = err
            .url()
            .unwrap_or_else(|| panic!("{path}: no url in {err}"));
        assert!(url.contains(path), "{path}: {url}");
        assert_eq!(err.page(), Some(0), "{path}");
        assert!(err.to_string().contains(path), "{path}: {err}");
    }
    // A record of the wrong shape names the page and the record.
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Wrong {
        id: String,
    }
    let s = scenarios(&server.url(), 4).remove(0);
    let err = s
        .api
        .blocking()
        .list("items")
        .collect::<Wrong>()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Record);
    assert!(err.message().contains("record 0"), "{err}");
}

#[test]
fn a_server_that_is_not_there_is_a_transport_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let api = Api::builder(format!("http://127.0.0.1:{port}/"))
        .build()
        .unwrap();
    let err = api.blocking().list("items").collect::<Item>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert!(err.url().unwrap().contains(&port.to_string()));
}

#[test]
fn dropping_the_iterator_stops_the_sweep() {
    let server = TestServer::start(Config {
        records: 10_000,
        latency: Duration::from_millis(30),
        ..Config::default()
    })
    .unwrap();
    let s = scenarios(&server.url(), 4).remove(0);
    let mut it = s.api.blocking().list("items").page_size(10).iter::<Item>();
    for _ in 0..25 {
        it.next().unwrap().unwrap();
    }
    drop(it);
    // Requests already sent may finish; none may start after the drop.
    std::thread::sleep(Duration::from_millis(100));
    let after_drop = server.stats().requests;
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.stats().requests, after_drop);
    assert!(
        after_drop < 20,
        "the sweep stopped early: {after_drop} requests"
    );
}

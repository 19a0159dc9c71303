//! The fault matrix: against a test server that fails on purpose, a
//! 20,000-record sweep yields every id exactly once, through the blocking
//! client and the async client, and the report counts the retries.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{scenarios, Item};
use pagewise::{Api, Client, ErrorKind, Order, Pagination, Report, RetryPolicy, Total};
use pagewise_testserver::{Config, FailPath, Faults, Mutate, RateLimit, RetryAfter, TestServer};

const N: u64 = 20_000;

fn server(faults: Faults) -> TestServer {
    TestServer::start(Config {
        records: N,
        latency: Duration::from_millis(1),
        faults,
        ..Config::default()
    })
    .expect("test server starts")
}

/// The offset dialect with a total, concurrency 16, a 400 ms request timeout.
fn api(server: &TestServer) -> Api {
    Api::builder(format!("{}/offset/", server.url()))
        .records_at("/data")
        .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
        .page_size(100)
        .concurrency(16)
        .timeout(Some(Duration::from_millis(400)))
        .retry(
            RetryPolicy::default()
                .base_delay(Duration::from_millis(20))
                .max_delay(Duration::from_millis(500)),
        )
        .build()
        .unwrap()
}

enum Driver {
    Blocking,
    Async,
}

fn sweep(api: &Api, driver: &Driver, order: Order) -> pagewise::Result<(Vec<Item>, Report)> {
    match driver {
        Driver::Blocking => api
            .blocking()
            .list("items")
            .order(order)
            .collect_with_report(),
        Driver::Async => futures::executor::block_on(
            Client::new(api)
                .list("items")
                .order(order)
                .collect_with_report(),
        ),
    }
}

fn assert_exactly_once(items: &[Item], what: &str) {
    let ids: BTreeSet<u64> = items.iter().map(|i| i.id).collect();
    assert_eq!(
        items.len() as u64,
        N,
        "{what}: {} records, {} distinct",
        items.len(),
        ids.len()
    );
    assert_eq!(ids, (1..=N).collect(), "{what}: the exact id set");
}

/// A fault case: its name, the faults, and the report's count of its retries.
type Case = (&'static str, Faults, fn(&Report) -> u64);

fn matrix() -> Vec<Case> {
    vec![
        (
            "10% 5xx",
            Faults {
                error_rate: 0.10,
                ..Faults::default()
            },
            |r| r.retries.server_error,
        ),
        (
            "429 storm",
            Faults {
                rate_limit: Some(RateLimit {
                    per_second: 150,
                    burst: 5,
                    retry_after: RetryAfter::Seconds,
                }),
                ..Faults::default()
            },
            |r| r.retries.throttled,
        ),
        (
            "dropped connections",
            Faults {
                drop_rate: 0.08,
                ..Faults::default()
            },
            |r| r.retries.transport,
        ),
        (
            "truncated bodies",
            Faults {
                truncate_rate: 0.08,
                empty_rate: 0.02,
                null_rate: 0.02,
                ..Faults::default()
            },
            |r| r.retries.bad_body,
        ),
        (
            "slow responses",
            Faults {
                slow_rate: 0.05,
                slow_ms: 1_500,
                ..Faults::default()
            },
            |r| r.retries.timeout,
        ),
    ]
}

fn run_matrix(driver: Driver) {
    for (name, faults, retries_of) in matrix() {
        let server = server(faults);
        for order in [Order::Page, Order::Completion] {
            // A fresh Api each time: one that already learnt the server's rate
            // would not be throttled again.
            let api = api(&server);
            let (items, report) =
                sweep(&api, &driver, order).unwrap_or_else(|e| panic!("{name}: {e}"));
            eprintln!(
                "{name} {order:?}: {:?}, {:?}, throttled {:?}",
                report.duration, report.retries, report.throttled
            );
            assert_exactly_once(&items, name);
            if order == Order::Page {
                assert!(
                    items.windows(2).all(|w| w[0].id < w[1].id),
                    "{name}: page order"
                );
            }
            assert_eq!(report.complete, Some(true), "{name}: {report:?}");
            assert!(
                retries_of(&report) > 0,
                "{name}: the report counts the retries: {report:?}"
            );
            assert_eq!(
                report.requests,
                report.pages + report.retries.total(),
                "{name}: {report:?}"
            );
        }
    }
}

#[test]
fn fault_matrix_blocking() {
    run_matrix(Driver::Blocking);
}

#[test]
fn fault_matrix_async() {
    run_matrix(Driver::Async);
}

#[test]
fn a_permanent_failure_names_its_page_and_keeps_what_came_before() {
    let server = server(Faults {
        fail_paths: vec![FailPath {
            contains: "offset=5000&".into(),
            status: 404,
        }],
        ..Faults::default()
    });
    let api = api(&server);
    for driver in [Driver::Blocking, Driver::Async] {
        let mut got = Vec::new();
        let err = match driver {
            Driver::Blocking => {
                let mut it = api.blocking().list("items").iter::<Item>();
                loop {
                    match it.next() {
                        Some(Ok(item)) => got.push(item.id),
                        Some(Err(e)) => break e,
                        None => panic!("the sweep must fail"),
                    }
                }
            }
            Driver::Async => futures::executor::block_on(async {
                use futures::StreamExt;
                let mut s = Client::new(&api).list("items").stream::<Item>();
                loop {
                    match s.next().await {
                        Some(Ok(item)) => got.push(item.id),
                        Some(Err(e)) => break e,
                        None => panic!("the sweep must fail"),
                    }
                }
            }),
        };
        assert_eq!(err.kind(), ErrorKind::Status, "{err}");
        assert_eq!(err.status(), Some(404));
        assert_eq!(err.page(), Some(50));
        assert!(
            err.url().unwrap().contains("offset=5000&limit=100"),
            "{err}"
        );
        // 404 is not retried, and every record before the failing page is intact, in order.
        assert!(!err.message().contains("retries"), "{err}");
        let expected: Vec<u64> = (1..=5_000).collect();
        assert!(
            got == expected,
            "records before the failing page: {} (first {:?}, last {:?})",
            got.len(),
            got.first(),
            got.last()
        );
    }
}

#[test]
fn a_dead_server_is_not_hammered_forever() {
    let server = server(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let api = api(&server);
    let err = api.blocking().list("items").collect::<Item>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Status);
    assert!(err.message().contains("after 6 retries"), "{err}");
    // One page, 1 + 6 attempts: the sweep never got past its first page.
    assert_eq!(server.stats().requests, 7);
}

#[test]
fn politeness_against_a_server_rate_limit() {
    // The server allows 100 requests/s (bursts of 10) and answers 429 beyond.
    let server = server(Faults {
        rate_limit: Some(RateLimit {
            per_second: 100,
            burst: 10,
            retry_after: RetryAfter::Seconds,
        }),
        ..Faults::default()
    });
    let api = api(&server);
    let started = std::time::Instant::now();
    let items: Vec<Item> = api.blocking().list("items").collect().unwrap();
    let took = started.elapsed();
    assert_exactly_once(&items, "rate limited");
    let throttled = server.stats().throttled;
    // 200 pages at 100/s is a 2 s floor. Without pacing a client at concurrency 16
    // would get a 429 for most of its requests; with the shared cooldown and the
    // learnt rate it gets a handful.
    assert!(throttled <= 40, "{throttled} answers were 429 ({took:?})");
    assert!(
        api.learnt_rate().is_some(),
        "a rate was learnt from the 429s"
    );
    eprintln!(
        "politeness: {throttled} x 429 for 200 pages in {took:?}, learnt rate {:?}",
        api.learnt_rate()
    );
}

#[test]
fn rows_inserted_during_an_offset_sweep_are_reported_and_keyset_is_exact() {
    let server = server(Faults {
        mutate: Some(Mutate {
            after_requests: 20,
            insert: 150,
            delete: 0,
        }),
        ..Faults::default()
    });
    let s = scenarios(&server.url(), 4);
    let offset = &s.iter().find(|s| s.name == "offset+header").unwrap().api;
    let (items, report) = offset
        .blocking()
        .list("items")
        .page_size(100)
        .collect_with_report::<Item>()
        .unwrap();
    assert!(report.changed_during_sweep, "{report:?}");
    assert!(report
        .notices
        .iter()
        .any(|n| matches!(n, pagewise::Notice::TotalChanged { .. })));
    let err = offset
        .blocking()
        .list("items")
        .page_size(100)
        .verify(true)
        .collect::<Item>();
    // The collection no longer changes, so a second, verified sweep is exact.
    assert!(err.is_ok(), "{err:?}");
    drop(items);

    // Keyset follows the data: the same change mid-sweep comes out exactly once.
    server.set_faults(Faults {
        mutate: Some(Mutate {
            after_requests: 20,
            insert: 150,
            delete: 0,
        }),
        ..Faults::default()
    });
    let before: BTreeSet<u64> = server.ids().into_iter().collect();
    let keyset = &s.iter().find(|s| s.name == "keyset").unwrap().api;
    let (items, report) = keyset
        .blocking()
        .list("items")
        .page_size(100)
        .collect_with_report::<Item>()
        .unwrap();
    let got: Vec<u64> = items.iter().map(|i| i.id).collect();
    let set: BTreeSet<u64> = got.iter().copied().collect();
    assert_eq!(got.len(), set.len(), "no id twice");
    assert!(got.windows(2).all(|w| w[0] < w[1]));
    let after: BTreeSet<u64> = server.ids().into_iter().collect();
    assert_eq!(after.len(), before.len() + 150);
    assert_eq!(set, after, "every row present at the end, once");
    assert!(!report.changed_during_sweep);
}

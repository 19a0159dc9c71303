//! Rate-limit headers and load shedding against the real test server:
//! a sweep larger than a budget announced in headers receives no 429 (each
//! header family, blocking and async clients), and a load-shedding server
//! (a share of 429s whatever the rate) still yields every record once.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::Item;
use pagewise::{Api, Client, Order, Pagination, Total};
use pagewise_testserver::{Budget, BudgetHeaders, Config, Faults, TestServer};

fn server(records: u64, faults: Faults) -> TestServer {
    TestServer::start(Config {
        records,
        latency: Duration::from_millis(2),
        faults,
        ..Config::default()
    })
    .expect("test server starts")
}

fn api(server: &TestServer) -> Api {
    Api::builder(format!("{}/offset/", server.url()))
        .records_at("/data")
        .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
        .page_size(10)
        .concurrency(4)
        .build()
        .unwrap()
}

fn sweep(api: &Api, blocking: bool) -> Vec<Item> {
    if blocking {
        api.blocking()
            .list("items")
            .collect()
            .expect("the sweep ends")
    } else {
        futures::executor::block_on(
            Client::new(api)
                .list("items")
                .order(Order::Completion)
                .collect(),
        )
        .expect("the sweep ends")
    }
}

fn every_record_once(items: &[Item], n: u64) {
    let ids: BTreeSet<u64> = items.iter().map(|i| i.id).collect();
    assert_eq!(items.len() as u64, n, "no duplicates");
    assert_eq!(ids, (1..=n).collect(), "every record");
}

#[test]
fn a_budget_announced_in_headers_is_kept_to() {
    // 12 requests per 700 ms window; 31 pages (the first, then 30): three
    // windows' worth, and not one 429.
    for headers in [BudgetHeaders::XRateLimit, BudgetHeaders::Ietf] {
        for blocking in [true, false] {
            let s = server(
                300,
                Faults {
                    budget: Some(Budget {
                        limit: 12,
                        window_ms: 700,
                        headers,
                    }),
                    ..Faults::default()
                },
            );
            let items = sweep(&api(&s), blocking);
            every_record_once(&items, 300);
            let stats = s.stats();
            assert_eq!(
                stats.throttled, 0,
                "{headers:?} blocking={blocking}: {stats:?}"
            );
            assert!(stats.requests > 12, "larger than the budget: {stats:?}");
        }
    }
}

#[test]
fn load_shedding_still_yields_every_record_once() {
    for blocking in [true, false] {
        let s = server(
            600,
            Faults {
                shed_rate: 1.0 / 7.0,
                ..Faults::default()
            },
        );
        let items = sweep(&api(&s), blocking);
        every_record_once(&items, 600);
        assert!(s.stats().throttled > 0, "{:?}", s.stats());
    }
}

//! Servers that lie: a total no record backs, pages numbered from another
//! first page, and checkpoints no sweep could have saved, through the
//! blocking and the async client. The server is a few lines over a std
//! `TcpListener` on 127.0.0.1, answering from a function of the request
//! target; it counts the requests it answered.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::Item;
use pagewise::{Api, Checkpoint, Client, ErrorKind, Pagination, Report, Total};

/// An answer: extra headers and a JSON body.
type Answer = (Vec<(&'static str, String)>, String);

struct Hostile {
    url: String,
    requests: Arc<AtomicU64>,
}

impl Hostile {
    /// Serves `answer(target)` (`target` is the path and query) on every
    /// request, keeping connections alive, until the test process ends.
    fn start(answer: fn(&str) -> Answer) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicU64::new(0));
        let count = requests.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let count = count.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let target = line.split(' ').nth(1).unwrap_or("/").to_string();
                        // The request's headers, up to the empty line (GETs have no body).
                        loop {
                            let mut h = String::new();
                            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                                return;
                            }
                            if h == "\r\n" || h == "\n" {
                                break;
                            }
                        }
                        count.fetch_add(1, Ordering::SeqCst);
                        let (headers, body) = answer(&target);
                        let mut head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
                            body.len()
                        );
                        for (k, v) in headers {
                            head.push_str(&format!("{k}: {v}\r\n"));
                        }
                        head.push_str("\r\n");
                        if conn
                            .write_all(head.as_bytes())
                            .and_then(|()| conn.write_all(body.as_bytes()))
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        Hostile { url, requests }
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

/// The number after `name=` in `target`.
fn param(target: &str, name: &str) -> u64 {
    let q = target.split_once('?').map_or("", |(_, q)| q);
    q.split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {target}"))
}

fn records(ids: impl Iterator<Item = u64>) -> String {
    let items: Vec<String> = ids
        .map(|i| format!("{{\"id\":{i},\"updated_at\":\"2024\",\"name\":\"rec-{i}\"}}"))
        .collect();
    items.join(",")
}

/// 3 records; 100 000 000 announced in `X-Total-Count` and at `/total`.
fn boasting(target: &str) -> Answer {
    let first = if target.contains("offset=") {
        param(target, "offset") == 0
    } else {
        param(target, "page") == 1
    };
    let data = if first { records(1..=3) } else { String::new() };
    (
        vec![("X-Total-Count", "100000000".to_string())],
        format!("{{\"total\":100000000,\"data\":[{data}]}}"),
    )
}

/// 2 000 records, 10 a page, pages numbered from 1: page 0 is answered as
/// page 1. The total is in `X-Total-Count`.
fn numbered_from_1(target: &str) -> Answer {
    let page = param(target, "page").max(1);
    let from = (page - 1) * 10;
    let ids = (from + 1)..=(from + 10).min(2_000);
    (
        vec![("X-Total-Count", "2000".to_string())],
        format!("{{\"data\":[{}]}}", records(ids)),
    )
}

/// 50 honest records, 10 a page, the total in `X-Total-Count`.
fn honest(target: &str) -> Answer {
    let offset = param(target, "offset");
    let ids = (offset + 1)..=(offset + param(target, "limit")).min(50);
    (
        vec![("X-Total-Count", "50".to_string())],
        format!("{{\"data\":[{}]}}", records(ids)),
    )
}

enum Face {
    Blocking,
    Async,
}

const FACES: [Face; 2] = [Face::Blocking, Face::Async];

fn collect(
    api: &Api,
    face: &Face,
    list: impl Fn(pagewise::ListOptions) -> pagewise::ListOptions,
) -> pagewise::Result<(Vec<Item>, Report)> {
    let options = list(pagewise::ListOptions::new("items"));
    match face {
        Face::Blocking => api
            .blocking()
            .list("items")
            .options(options)
            .collect_with_report(),
        Face::Async => futures::executor::block_on(
            Client::new(api)
                .list("items")
                .options(options)
                .collect_with_report(),
        ),
    }
}

#[test]
fn a_huge_total_over_3_records_ends_after_a_few_requests() {
    // Before: the first page planned 33 333 333 pages at once (2 GiB, then
    // `memory allocation of 2147483648 bytes failed` and an abort).
    let server = Hostile::start(boasting);
    let pagings: [Pagination; 2] = [
        Pagination::offset()
            .total(Total::header("X-Total-Count"))
            .into(),
        Pagination::page_number()
            .total(Total::pointer("/total"))
            .into(),
    ];
    for p in pagings {
        for face in &FACES {
            let api = Api::builder(&server.url)
                .records_at("/data")
                .pagination(p.clone())
                .page_size(100)
                .concurrency(4)
                .window(4)
                .build()
                .unwrap();
            let before = server.requests();
            let (items, report) = collect(&api, face, |o| o).unwrap();
            let ids: Vec<u64> = items.iter().map(|i| i.id).collect();
            assert_eq!(ids, vec![1, 2, 3]);
            assert_eq!(report.total, Some(100_000_000));
            assert_eq!(report.complete, Some(false), "{report:?}");
            assert!(report.changed_during_sweep);
            // The first page, then at most 2 × (concurrency + window) planned.
            let asked = server.requests() - before;
            assert!((2..=17).contains(&asked), "{asked} requests");
            assert_eq!(report.requests, asked);
        }
    }
}

#[test]
fn a_total_above_max_total_is_a_limit_error() {
    let server = Hostile::start(boasting);
    let api = Api::builder(&server.url)
        .records_at("/data")
        .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
        .page_size(100)
        .build()
        .unwrap();
    for face in &FACES {
        let e = collect(&api, face, |o| o.max_total(1_000_000)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
        assert!(e.message().contains("100000000"), "{e}");
        assert!(e.message().contains("max_total"), "{e}");
        assert!(
            e.url().unwrap().ends_with("items?offset=0&limit=100"),
            "{e}"
        );
    }
}

#[test]
fn page_0_served_as_page_1_is_a_duplicate_error() {
    let server = Hostile::start(numbered_from_1);
    for with_total in [true, false] {
        let mut p = Pagination::page_number().first_page(0);
        if with_total {
            p = p.total(Total::header("X-Total-Count"));
        }
        let api = Api::builder(&server.url)
            .records_at("/data")
            .pagination(p)
            .page_size(10)
            .concurrency(4)
            .build()
            .unwrap();
        for face in &FACES {
            let e = collect(&api, face, |o| o).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Duplicate, "{e}");
            assert_eq!(e.page(), Some(1));
            assert!(e.message().contains("items?page=0&per_page=10"), "{e}");
            assert!(e.message().contains("items?page=1&per_page=10"), "{e}");
            assert!(e.message().contains("first_page"), "{e}");
        }
        // What came before the copy was handed out, and nothing else.
        let mut seen = Vec::new();
        for r in api.blocking().list("items").iter::<Item>() {
            match r {
                Ok(item) => seen.push(item.id),
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::Duplicate);
                    break;
                }
            }
        }
        assert_eq!(seen, (1..=10).collect::<Vec<_>>());
    }
}

#[test]
fn a_checkpoint_with_numbers_past_the_limit_is_a_config_error() {
    let server = Hostile::start(honest);
    let api = Api::builder(&server.url)
        .records_at("/data")
        .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
        .page_size(10)
        .concurrency(1)
        .build()
        .unwrap();
    let mut it = api.blocking().list("items").window(1).iter::<Item>();
    for _ in 0..10 {
        it.next().unwrap().unwrap();
    }
    let json = it.checkpoint().unwrap().to_json();
    drop(it);
    assert!(json.contains("\"records\":10,"), "{json}");
    let max = Checkpoint::MAX_NUMBER;
    let at_max = json.replace("\"records\":10,", &format!("\"records\":{max},"));
    for face in &FACES {
        // The largest number allowed counts on without overflow...
        let c = Checkpoint::from_json(&at_max).unwrap();
        let (items, report) = collect(&api, face, |o| o.resume(c.clone())).unwrap();
        assert_eq!(items.len(), 40);
        assert_eq!(report.records, max + 40);
        assert_eq!(report.complete, Some(false));
    }
    // ...one more (or u64::MAX, which panicked in a debug build) is refused.
    for n in [max + 1, u64::MAX] {
        let bad = json.replace("\"records\":10,", &format!("\"records\":{n},"));
        let e = Checkpoint::from_json(&bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        assert!(e.message().contains("`records`"), "{e}");
    }
}

/// `window(usize::MAX)` (a careless "no limit") panicked in `Sweep::new`
/// with overflow checks on and wrapped to a tiny window in release builds
/// and in WebAssembly (npm `window: 4294967295`). A window or concurrency
/// above 65,536 is now a Config error wherever it is set, before any request.
#[test]
fn a_huge_window_or_concurrency_is_a_config_error_not_a_panic() {
    use pagewise::core::Sweep;
    use pagewise::ListOptions;
    const MAX: usize = ListOptions::MAX_WINDOW;
    assert_eq!((MAX, ListOptions::MAX_CONCURRENCY), (65_536, 65_536));
    let server = Hostile::start(honest);
    let builder = || {
        Api::builder(&server.url)
            .records_at("/data")
            .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
            .page_size(10)
    };
    // In the API's description.
    for (what, b) in [
        ("window", builder().window(usize::MAX)),
        ("window", builder().window(MAX + 1)),
        ("concurrency", builder().concurrency(usize::MAX)),
        ("concurrency", builder().concurrency(MAX + 1)),
    ] {
        let e = b.build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        assert!(e.message().contains(&format!("{what} ")), "{e}");
        assert!(e.message().contains("65536"), "{e}");
    }
    let at_max = builder().window(MAX).concurrency(MAX).build().unwrap();
    // In a list's options: the core, both faces.
    let api = builder().concurrency(2).build().unwrap();
    let now = web_time::Instant::now();
    for opts in [
        ListOptions::new("items").window(usize::MAX),
        ListOptions::new("items").window(MAX + 1),
        ListOptions::new("items").concurrency(usize::MAX),
    ] {
        let e = Sweep::new(api.spec(), opts.clone(), now).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        for face in &FACES {
            let e = collect(&api, face, |_| opts.clone()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        }
    }
    assert_eq!(
        server.requests.load(Ordering::Relaxed),
        0,
        "nothing was sent"
    );
    // The maximum itself works.
    Sweep::new(at_max.spec(), ListOptions::new("items").window(MAX), now).unwrap();
    let (items, report) = collect(&api, &Face::Blocking, |o| o.window(MAX)).unwrap();
    assert_eq!(
        (items.len() as u64, report.complete),
        (report.records, Some(true))
    );
    // fetch_many checks its concurrency too.
    let e = api
        .blocking()
        .fetch_many("items/{id}", ["1"])
        .concurrency(usize::MAX)
        .collect::<Item>()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
}

//! End-to-end tests of the test server over real HTTP.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use pagewise_testserver::{Config, Stats, TestServer};
use serde_json::Value;

const N: u64 = 1050;

fn config(records: u64) -> Config {
    Config {
        records,
        ..Config::default()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

struct Got {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("invalid JSON ({e}): {}", self.body))
    }
}

fn into_got(mut resp: ureq::http::Response<ureq::Body>) -> Got {
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    Got {
        status: resp.status().as_u16(),
        headers,
        body: resp.body_mut().read_to_string().unwrap(),
    }
}

fn get(agent: &ureq::Agent, url: &str) -> Got {
    into_got(agent.get(url).call().unwrap())
}

fn ids(values: &Value) -> Vec<u64> {
    values
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {values}"))
        .iter()
        .map(|v| v["id"].as_u64().unwrap())
        .collect()
}

fn expected(n: u64) -> Vec<u64> {
    (1..=n).collect()
}

/// Walks `dialect` to its end with page-size query value `size` (the server
/// clamps it to `max`); returns the ids seen (in order) and the page sizes.
fn walk(server: &TestServer, dialect: &str, size: u64, max: u64) -> (Vec<u64>, Vec<usize>) {
    let agent = agent();
    let base = format!("{}/{dialect}/items", server.url());
    let mut all = Vec::new();
    let mut pages = Vec::new();
    let mut push = |page: Vec<u64>, all: &mut Vec<u64>| {
        pages.push(page.len());
        all.extend(page);
    };
    match dialect {
        "offset" => {
            let mut offset = 0;
            loop {
                let got = get(&agent, &format!("{base}?offset={offset}&limit={size}"));
                assert_eq!(got.status, 200);
                let body = got.json();
                let total = body["meta"]["total"].as_u64().unwrap();
                assert_eq!(
                    got.header("x-total-count"),
                    Some(total.to_string().as_str())
                );
                let page = ids(&body["data"]);
                offset += page.len() as u64;
                let done = page.is_empty() || offset >= total;
                push(page, &mut all);
                if done {
                    break;
                }
            }
        }
        "range" => {
            let mut offset = 0;
            loop {
                let got = get(&agent, &format!("{base}?offset={offset}&limit={size}"));
                let page = ids(&got.json());
                let range = got.header("content-range").unwrap().to_owned();
                let (span, total) = range
                    .strip_prefix("items ")
                    .unwrap()
                    .split_once('/')
                    .unwrap();
                let total: u64 = total.parse().unwrap();
                let (first, last) = span.split_once('-').unwrap();
                assert_eq!(first.parse::<u64>().unwrap(), offset);
                let last: u64 = last.parse().unwrap();
                assert_eq!(last - offset + 1, page.len() as u64);
                offset = last + 1;
                push(page, &mut all);
                if offset >= total {
                    break;
                }
            }
        }
        "page" | "page0" => {
            let first = if dialect == "page" { 1 } else { 0 };
            let mut page_no = first;
            loop {
                let body = get(&agent, &format!("{base}?page={page_no}&per_page={size}")).json();
                assert_eq!(body["page"].as_u64(), Some(page_no));
                let total = body["total"].as_u64().unwrap();
                let page = ids(&body["results"]);
                let empty = page.is_empty();
                push(page, &mut all);
                if empty || all.len() as u64 >= total {
                    break;
                }
                page_no += 1;
            }
        }
        "page-nototal" => {
            let mut page_no = 1;
            loop {
                let body = get(&agent, &format!("{base}?page={page_no}&per_page={size}")).json();
                assert_eq!(body.as_object().unwrap().len(), 1, "only results: {body}");
                let page = ids(&body["results"]);
                let short = (page.len() as u64) < size.min(max);
                push(page, &mut all);
                if short {
                    break;
                }
                page_no += 1;
            }
        }
        "cursor" => {
            let mut url = format!("{base}?limit={size}");
            loop {
                let body = get(&agent, &url).json();
                push(ids(&body["items"]), &mut all);
                match &body["next_cursor"] {
                    Value::Null => break,
                    Value::String(c) => url = format!("{base}?cursor={c}&limit={size}"),
                    other => panic!("bad next_cursor {other}"),
                }
            }
        }
        "cursor-header" => {
            let mut url = format!("{base}?limit={size}");
            loop {
                let got = get(&agent, &url);
                push(ids(&got.json()), &mut all);
                match got.header("x-next-cursor") {
                    None => break,
                    Some(c) => url = format!("{base}?cursor={c}&limit={size}"),
                }
            }
        }
        "link" => {
            let mut url = format!("{base}?per_page={size}");
            loop {
                let got = get(&agent, &url);
                push(ids(&got.json()), &mut all);
                match link_rel(got.header("link").unwrap(), "next") {
                    None => break,
                    Some(next) => url = next,
                }
            }
        }
        "next" => {
            let mut url = format!("{base}?limit={size}");
            loop {
                let body = get(&agent, &url).json();
                push(ids(&body["items"]), &mut all);
                match &body["links"]["next"] {
                    Value::Null => break,
                    // Relative reference: resolves against /next/items.
                    Value::String(next) => url = format!("{}/next/{next}", server.url()),
                    other => panic!("bad next link {other}"),
                }
            }
        }
        "keyset" => {
            let mut after = 0;
            loop {
                let body = get(&agent, &format!("{base}?id_gt={after}&limit={size}")).json();
                let page = ids(&body["items"]);
                let short = (page.len() as u64) < size.min(max);
                if let Some(last) = page.last() {
                    after = *last;
                }
                push(page, &mut all);
                if short {
                    break;
                }
            }
        }
        other => panic!("unknown dialect {other}"),
    }
    (all, pages)
}

fn link_rel(header: &str, rel: &str) -> Option<String> {
    header.split(", ").find_map(|part| {
        let (url, params) = part.split_once(">; ")?;
        (params == format!("rel=\"{rel}\"")).then(|| url.trim_start_matches('<').to_owned())
    })
}

const DIALECTS: &[&str] = &[
    "offset",
    "range",
    "page",
    "page0",
    "page-nototal",
    "cursor",
    "cursor-header",
    "link",
    "next",
    "keyset",
];

#[test]
fn every_dialect_walks_all_ids_once_in_order() {
    let server = TestServer::start(config(N)).unwrap();
    assert_eq!(server.ids(), expected(N));
    for dialect in DIALECTS {
        server.reset();
        let (all, pages) = walk(&server, dialect, 100, 1000);
        assert_eq!(all, expected(N), "{dialect}");
        // 10 full pages and a short one; keyset/page-nototal stop on the
        // short page, so no dialect needs an extra empty page here.
        assert_eq!(pages.len(), 11, "{dialect}: {pages:?}");
        assert!(
            pages[..10].iter().all(|&p| p == 100),
            "{dialect}: {pages:?}"
        );
        assert_eq!(pages[10], 50, "{dialect}");
        assert_eq!(server.stats().requests, 11, "{dialect}");
    }
}

#[test]
fn exact_multiple_has_no_trailing_empty_page_for_next_style_dialects() {
    let server = TestServer::start(config(1000)).unwrap();
    for dialect in ["cursor", "cursor-header", "link", "next", "offset", "range"] {
        server.reset();
        let (all, pages) = walk(&server, dialect, 100, 1000);
        assert_eq!(all, expected(1000), "{dialect}");
        assert_eq!(pages, vec![100; 10], "{dialect}");
    }
}

#[test]
fn page_size_is_clamped_to_max() {
    let server = TestServer::start(Config {
        records: 1200,
        max_page_size: 500,
        ..Config::default()
    })
    .unwrap();
    for dialect in DIALECTS {
        let (all, pages) = walk(&server, dialect, 5000, 500);
        assert_eq!(all, expected(1200), "{dialect}");
        assert_eq!(pages, vec![500, 500, 200], "{dialect}");
    }
}

#[test]
fn defaults_apply_when_parameters_are_missing() {
    let server = TestServer::start(config(N)).unwrap();
    let agent = agent();
    let url = server.url();
    let body = get(&agent, &format!("{url}/offset/items")).json();
    assert_eq!(ids(&body["data"]), expected(100));
    assert_eq!(body["meta"]["total"], N);
    let body = get(&agent, &format!("{url}/page/items")).json();
    assert_eq!(body["page"], 1);
    assert_eq!(ids(&body["results"]), expected(100));
    let body = get(&agent, &format!("{url}/page0/items?page=0")).json();
    assert_eq!(ids(&body["results"]), expected(100));
    let body = get(&agent, &format!("{url}/keyset/items")).json();
    assert_eq!(ids(&body["items"]), expected(100));
    // Empty values count as missing.
    let body = get(&agent, &format!("{url}/cursor/items?cursor=&limit=")).json();
    assert_eq!(ids(&body["items"]), expected(100));
    // limit=0 on offset dialects is a cheap total.
    let got = get(&agent, &format!("{url}/range/items?limit=0"));
    assert_eq!(got.body, "[]");
    assert_eq!(got.header("content-range"), Some("items */1050"));
}

#[test]
fn content_range_format() {
    let server = TestServer::start(config(N)).unwrap();
    let agent = agent();
    let url = format!("{}/range/items", server.url());
    let got = get(&agent, &url);
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-range"), Some("items 0-99/1050"));
    let got = get(&agent, &format!("{url}?offset=1000&limit=100"));
    assert_eq!(got.header("content-range"), Some("items 1000-1049/1050"));
    assert_eq!(ids(&got.json()), (1001..=1050).collect::<Vec<_>>());
    let got = get(&agent, &format!("{url}?offset=1050"));
    assert_eq!(got.header("content-range"), Some("items */1050"));
    assert_eq!(got.body, "[]");
}

#[test]
fn link_header_format() {
    let server = TestServer::start(config(N)).unwrap();
    let agent = agent();
    let base = format!("{}/link/items", server.url());
    let got = get(&agent, &base);
    assert_eq!(
        got.header("link").unwrap(),
        format!(
            "<{base}?page=2&per_page=100>; rel=\"next\", <{base}?page=11&per_page=100>; rel=\"last\""
        )
    );
    let got = get(&agent, &format!("{base}?page=11&per_page=100"));
    let link = got.header("link").unwrap();
    assert_eq!(link_rel(link, "next"), None);
    assert_eq!(
        link_rel(link, "last").unwrap(),
        format!("{base}?page=11&per_page=100")
    );
    assert_eq!(
        link_rel(link, "prev").unwrap(),
        format!("{base}?page=10&per_page=100")
    );
    assert_eq!(
        link_rel(link, "first").unwrap(),
        format!("{base}?page=1&per_page=100")
    );
    // URLs are built from the Host header.
    let got = into_got(
        agent
            .get(&base)
            .header("Host", "example.test:1234")
            .call()
            .unwrap(),
    );
    assert!(
        got.header("link")
            .unwrap()
            .starts_with("<http://example.test:1234/link/items?page=2&per_page=100>; rel=\"next\""),
        "{:?}",
        got.header("link")
    );
}

#[test]
fn next_link_is_relative_and_null_at_end() {
    let server = TestServer::start(config(N)).unwrap();
    let agent = agent();
    let body = get(&agent, &format!("{}/next/items", server.url())).json();
    assert_eq!(body["links"]["next"], "items?after=100&limit=100");
    let body = get(
        &agent,
        &format!("{}/next/items?after=1000&limit=100", server.url()),
    )
    .json();
    assert_eq!(ids(&body["items"]), (1001..=1050).collect::<Vec<_>>());
    assert_eq!(body["links"]["next"], Value::Null);
}

#[test]
fn cursor_header_absent_on_last_page_and_bad_cursor_rejected() {
    let server = TestServer::start(config(N)).unwrap();
    let agent = agent();
    let base = format!("{}/cursor-header/items", server.url());
    let first = get(&agent, &format!("{base}?limit=1000"));
    let cursor = first.header("x-next-cursor").unwrap().to_owned();
    let last = get(&agent, &format!("{base}?cursor={cursor}&limit=1000"));
    assert_eq!(ids(&last.json()), (1001..=1050).collect::<Vec<_>>());
    assert_eq!(last.header("x-next-cursor"), None);
    for bad in ["nonsense", "c12", "1000"] {
        for dialect in ["cursor", "cursor-header"] {
            let got = get(
                &agent,
                &format!("{}/{dialect}/items?cursor={bad}", server.url()),
            );
            assert_eq!(got.status, 400, "{dialect} {bad}");
            assert!(got.json()["error"].is_string());
        }
    }
}

#[test]
fn bad_parameters_are_400() {
    let server = TestServer::start(config(10)).unwrap();
    let agent = agent();
    for path in [
        "/offset/items?offset=abc",
        "/offset/items?limit=-1",
        "/range/items?limit=1.5",
        "/page/items?page=x",
        "/page/items?page=0",
        "/page0/items?per_page=ten",
        "/link/items?page=0",
        "/next/items?after=z",
        "/keyset/items?id_gt=%20",
        "/items/abc",
        "/garbage/status/abc/items",
        "/garbage/status/99/items",
    ] {
        let got = get(&agent, &format!("{}{path}", server.url()));
        assert_eq!(got.status, 400, "{path}: {}", got.body);
        assert_eq!(got.header("content-type"), Some("application/json"));
        assert!(got.json()["error"].is_string(), "{path}");
    }
}

#[test]
fn single_record_and_not_found() {
    let server = TestServer::start(config(N)).unwrap();
    let agent = agent();
    let got = get(&agent, &format!("{}/items/17", server.url()));
    assert_eq!(got.status, 200);
    assert_eq!(Some(got.body.clone()), server.record_json(17));
    assert_eq!(got.json()["id"], 17);
    let got = get(&agent, &format!("{}/items/99999", server.url()));
    assert_eq!(got.status, 404);
    assert_eq!(
        got.json(),
        serde_json::json!({"error": "not found", "id": 99999})
    );
    assert_eq!(server.record_json(99999), None);
    for path in [
        "/nope",
        "/offset/users",
        "/offset/items/extra",
        "/",
        "/garbage/bogus/items",
    ] {
        let got = get(&agent, &format!("{}{path}", server.url()));
        assert_eq!(got.status, 404, "{path}");
        assert_eq!(
            got.json(),
            serde_json::json!({"error": "not found", "path": path})
        );
        assert_eq!(got.header("access-control-allow-origin"), Some("*"));
    }
    let got = into_got(
        agent
            .post(format!("{}/offset/items", server.url()))
            .send_empty()
            .unwrap(),
    );
    assert_eq!(got.status, 405);
}

#[test]
fn record_shape() {
    let server = TestServer::start(config(50)).unwrap();
    for id in 1..=50 {
        let text = server.record_json(id).unwrap();
        assert!((200..=300).contains(&text.len()), "{}", text.len());
        let v: Value = serde_json::from_str(&text).unwrap();
        let obj = v.as_object().unwrap();
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        let mut want = vec![
            "id",
            "updated_at",
            "name",
            "category",
            "amount",
            "active",
            "description",
        ];
        want.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, want);
        assert_eq!(v["id"], id);
        let ts = v["updated_at"].as_str().unwrap();
        assert_eq!(ts.len(), 20);
        assert!(ts.starts_with("2026-") && ts.ends_with('Z'), "{ts}");
        assert!(v["amount"].is_f64() || v["amount"].is_u64());
        assert!(v["active"].is_boolean());
    }
}

#[test]
fn garbage_endpoints() {
    let server = TestServer::start(config(N)).unwrap();
    let agent = agent();
    let url = |kind: &str| format!("{}/garbage/{kind}/items", server.url());

    let got = get(&agent, &url("html"));
    assert_eq!(got.status, 200);
    assert!(got.header("content-type").unwrap().starts_with("text/html"));
    assert_eq!(
        got.body,
        "<!doctype html><html><body><h1>Login required</h1></body></html>"
    );

    let got = get(&agent, &url("json"));
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.body, "{\"data\":[{\"id\":1,\"name\":\"trunc");
    assert!(serde_json::from_str::<Value>(&got.body).is_err());

    let got = get(&agent, &url("missing"));
    assert_eq!(got.body, "{\"rows\":[]}");
    assert_eq!(got.header("x-total-count"), Some("1050"));

    let got = get(&agent, &url("null"));
    assert_eq!(got.body, "null");

    let got = get(&agent, &url("empty"));
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.body, "");

    for code in [400u16, 401, 404, 429, 500, 502, 503] {
        let got = get(&agent, &url(&format!("status/{code}")));
        assert_eq!(got.status, code);
        assert_eq!(
            got.json(),
            serde_json::json!({"error": "injected", "status": code})
        );
    }
}

#[test]
fn cors_on_responses_and_preflight() {
    let server = TestServer::start(config(10)).unwrap();
    let agent = agent();
    let exposed = "X-Total-Count, Content-Range, Link, X-Next-Cursor, Retry-After, X-Request-Id, \
                   RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit, \
                   X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Sforce-Limit-Info";
    for path in [
        "/offset/items",
        "/garbage/status/503/items",
        "/nope",
        "/_stats",
    ] {
        let got = get(&agent, &format!("{}{path}", server.url()));
        assert_eq!(
            got.header("access-control-allow-origin"),
            Some("*"),
            "{path}"
        );
        assert_eq!(
            got.header("access-control-expose-headers"),
            Some(exposed),
            "{path}"
        );
    }
    let got = into_got(
        agent
            .options(format!("{}/offset/items", server.url()))
            .header("Origin", "http://localhost:5173")
            .header("Access-Control-Request-Method", "GET")
            .header("Access-Control-Request-Headers", "x-custom, authorization")
            .call()
            .unwrap(),
    );
    assert_eq!(got.status, 204);
    assert_eq!(got.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        got.header("access-control-allow-methods"),
        Some("GET, POST, PUT, PATCH, DELETE, OPTIONS")
    );
    let allow = got.header("access-control-allow-headers").unwrap();
    assert!(allow.starts_with('*'), "{allow}");
    assert!(allow.contains("x-custom, authorization"), "{allow}");
    assert_eq!(got.header("access-control-max-age"), Some("600"));
    let got = into_got(
        agent
            .options(format!("{}/anything/at/all", server.url()))
            .call()
            .unwrap(),
    );
    assert_eq!(got.status, 204);
    assert_eq!(got.header("access-control-allow-headers"), Some("*"));
    // Preflights are not counted.
    assert_eq!(server.stats().requests, 3);
    assert_eq!(server.log().len(), 3);
}

#[test]
fn stats_track_concurrency_with_latency() {
    let server = TestServer::start(Config {
        records: 100,
        latency: Duration::from_millis(400),
        ..Config::default()
    })
    .unwrap();
    let url = server.url();
    let barrier = Arc::new(Barrier::new(8));
    let started = Instant::now();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let url = format!("{url}/offset/items?offset={i}&limit=1");
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let agent = agent();
                barrier.wait();
                get(&agent, &url).status
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mid = server.stats();
    assert_eq!(mid.in_flight, 8, "{mid:?}");
    for h in handles {
        assert_eq!(h.join().unwrap(), 200);
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(2000),
        "not concurrent: {elapsed:?}"
    );
    assert_eq!(
        server.stats(),
        Stats {
            requests: 8,
            in_flight: 0,
            max_in_flight: 8,
            faults: 0,
            throttled: 0,
        }
    );

    // GET /_stats reports the same and is not counted itself.
    let agent = agent();
    let body = get(&agent, &format!("{url}/_stats")).json();
    assert_eq!(
        body,
        serde_json::json!({
            "requests": 8,
            "in_flight": 0,
            "max_in_flight": 8,
            "faults": 0,
            "throttled": 0
        })
    );
    // Control endpoints do not pay the latency.
    let t = Instant::now();
    let got = into_got(agent.post(format!("{url}/_reset")).send_empty().unwrap());
    assert_eq!(got.status, 204);
    assert!(t.elapsed() < Duration::from_millis(300));
    assert_eq!(
        server.stats(),
        Stats {
            requests: 0,
            in_flight: 0,
            max_in_flight: 0,
            faults: 0,
            throttled: 0,
        }
    );
    assert!(server.log().is_empty());
}

#[test]
fn jitter_stays_in_range() {
    let server = TestServer::start(Config {
        records: 10,
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(40),
        ..Config::default()
    })
    .unwrap();
    let agent = agent();
    for _ in 0..6 {
        let t = Instant::now();
        get(&agent, &format!("{}/keyset/items", server.url()));
        let took = t.elapsed();
        assert!(took >= Duration::from_millis(20), "{took:?}");
        assert!(took < Duration::from_millis(1000), "{took:?}");
    }
}

#[test]
fn log_records_paths_exactly_as_received() {
    let server = TestServer::start(config(N)).unwrap();
    let agent = agent();
    let paths = [
        "/offset/items?offset=100&limit=100",
        "/cursor/items?limit=7&x=%20y",
        "/items/99999",
        "/nope?a=1",
    ];
    for path in paths {
        get(&agent, &format!("{}{path}", server.url()));
        std::thread::sleep(Duration::from_millis(2));
    }
    get(&agent, &format!("{}/_stats", server.url()));
    let log = server.log();
    let got: Vec<(&str, &str, u16)> = log
        .iter()
        .map(|e| (e.method.as_str(), e.path.as_str(), e.status))
        .collect();
    assert_eq!(
        got,
        vec![
            ("GET", paths[0], 200),
            ("GET", paths[1], 200),
            ("GET", paths[2], 404),
            ("GET", paths[3], 404),
        ]
    );
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!(server.stats().requests, 4);
    server.reset();
    assert!(server.log().is_empty());
    assert_eq!(server.stats().requests, 0);
}

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    let fetch = |seed: u64| {
        let server = TestServer::start(Config {
            records: 300,
            seed,
            ..Config::default()
        })
        .unwrap();
        let body = get(
            &agent(),
            &format!("{}/range/items?limit=1000", server.url()),
        )
        .body;
        let first = server.record_json(1).unwrap();
        (body, first)
    };
    let (a, a1) = fetch(42);
    let (b, b1) = fetch(42);
    let (c, c1) = fetch(7);
    assert_eq!(a, b);
    assert_eq!(a1, b1);
    assert_ne!(a, c);
    assert_ne!(a1, c1);
    assert_eq!(ids(&serde_json::from_str(&a).unwrap()), expected(300));
    assert!(a.starts_with(&format!("[{a1},")));
    assert_eq!(ids(&serde_json::from_str(&c).unwrap()), expected(300));
    // updated_at is not monotonic in id.
    let v: Value = serde_json::from_str(&a).unwrap();
    let stamps: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["updated_at"].as_str().unwrap())
        .collect();
    assert!(stamps.windows(2).any(|w| w[0] > w[1]));
}

#[test]
fn keep_alive_serves_pipelined_requests_on_one_connection() {
    let server = TestServer::start(config(10)).unwrap();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(
            b"GET /offset/items?limit=1 HTTP/1.1\r\nHost: x\r\n\r\n\
              GET /keyset/items?limit=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2, "{out}");
    assert_eq!(server.stats().requests, 2);
}

#[test]
fn start_and_drop_repeatedly_with_open_connections() {
    for _ in 0..10 {
        let server = TestServer::start(Config {
            records: 5,
            ..Config::default()
        })
        .unwrap();
        let agent = agent();
        // Leaves a pooled keep-alive connection open across the drop.
        assert_eq!(
            get(&agent, &format!("{}/offset/items", server.url())).status,
            200
        );
        let t = Instant::now();
        drop(server);
        assert!(t.elapsed() < Duration::from_secs(2));
    }
    // A request in progress (sleeping in latency) does not block the drop.
    let server = TestServer::start(Config {
        records: 5,
        latency: Duration::from_secs(30),
        ..Config::default()
    })
    .unwrap();
    let url = format!("{}/offset/items", server.url());
    let addr = server.addr();
    let client = std::thread::spawn(move || agent().get(&url).call().is_err());
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.stats().in_flight, 1);
    let t = Instant::now();
    drop(server);
    assert!(t.elapsed() < Duration::from_secs(3));
    assert!(client.join().unwrap(), "the in-progress request must fail");
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

#[test]
fn test_server_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TestServer>();
}

async fn raw_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn works_from_a_current_thread_runtime() {
    let server = TestServer::start(config(N)).unwrap();
    let out = raw_get(server.addr(), "/page/items?page=2&per_page=3").await;
    assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
    let body = out.split("\r\n\r\n").nth(1).unwrap();
    let v: Value = serde_json::from_str(body).unwrap();
    assert_eq!(ids(&v["results"]), vec![4, 5, 6]);
    assert_eq!(server.stats().requests, 1);
    drop(server); // inside the runtime: must not panic or hang
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_from_a_multi_thread_runtime() {
    let server = TestServer::start(Config {
        records: 20,
        latency: Duration::from_millis(50),
        ..Config::default()
    })
    .unwrap();
    let addr = server.addr();
    let tasks: Vec<_> = (0..4)
        .map(|i| tokio::spawn(async move { raw_get(addr, &format!("/items/{}", i + 1)).await }))
        .collect();
    for task in tasks {
        assert!(task.await.unwrap().starts_with("HTTP/1.1 200 OK"));
    }
    assert_eq!(server.stats().max_in_flight, 4);
    drop(server);
}

#[test]
fn binary_prints_listening_line_and_serves() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pagewise-testserver"))
        .args([
            "--port",
            "0",
            "--records",
            "30",
            "--page-size",
            "7",
            "--seed",
            "9",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected line {line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let body = get(&agent(), &format!("{url}/offset/items")).json();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(ids(&body["data"]), expected(7));
    assert_eq!(body["meta"]["total"], 30);
}

#[test]
fn empty_collection_ends_on_the_first_page() {
    let server = TestServer::start(config(0)).unwrap();
    let agent = agent();
    let url = server.url();
    let got = get(&agent, &format!("{url}/offset/items"));
    assert_eq!(got.body, "{\"data\":[],\"meta\":{\"total\":0}}");
    assert_eq!(got.header("x-total-count"), Some("0"));
    let got = get(&agent, &format!("{url}/range/items"));
    assert_eq!(got.header("content-range"), Some("items */0"));
    let got = get(&agent, &format!("{url}/page/items"));
    assert_eq!(got.body, "{\"results\":[],\"total\":0,\"page\":1}");
    let got = get(&agent, &format!("{url}/cursor/items"));
    assert_eq!(got.body, "{\"items\":[],\"next_cursor\":null}");
    let got = get(&agent, &format!("{url}/cursor-header/items"));
    assert_eq!(
        (got.body.as_str(), got.header("x-next-cursor")),
        ("[]", None)
    );
    let got = get(&agent, &format!("{url}/link/items"));
    assert_eq!(
        got.header("link").unwrap(),
        format!("<{url}/link/items?page=1&per_page=100>; rel=\"last\"")
    );
    let got = get(&agent, &format!("{url}/next/items"));
    assert_eq!(got.body, "{\"items\":[],\"links\":{\"next\":null}}");
    let got = get(&agent, &format!("{url}/keyset/items"));
    assert_eq!(got.body, "{\"items\":[]}");
    assert!(server.ids().is_empty());
}

//! POST-body pagination (`ListOptions::body`) against the test server's
//! endpoints that page in the request body: a search endpoint taking
//! `{from, size}` (offset paging, total at `/hits/total`) and a GraphQL
//! endpoint taking `{query, variables: {first, after}}` (a cursor
//! connection with `pageInfo.hasNextPage` and `totalCount`), on the
//! blocking and the async client, with 5xx faults on some pages. The npm
//! package runs the same pulls in bindings/npm/test/body.test.mjs.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use pagewise::{Api, Client, Link, Pagination, Report, RetryPolicy, Total};
use pagewise_testserver::{Config, Faults, LoggedRequest, TestServer};
use serde_json::{json, Value};

const N: u64 = 3_000;
const PAGE: u64 = 100;

fn server(error_rate: f64) -> TestServer {
    TestServer::start(Config {
        records: N,
        latency: Duration::from_millis(1),
        faults: Faults {
            error_rate,
            ..Faults::default()
        },
        ..Config::default()
    })
    .expect("test server starts")
}

fn retry() -> RetryPolicy {
    RetryPolicy::default()
        .base_delay(Duration::from_millis(5))
        .max_delay(Duration::from_millis(50))
}

/// The search endpoint: offset paging in the body, the total in the answer.
fn search_api(server: &TestServer) -> Api {
    Api::builder(format!("{}/search/", server.url()))
        .records_at("/hits/hits")
        .pagination(Pagination::offset().total(Total::pointer("/hits/total")))
        .page_size(PAGE)
        .concurrency(4)
        .retry(retry())
        .build()
        .expect("a valid api")
}

fn search_body() -> Value {
    json!({ "query": { "match_all": {} }, "from": "{offset}", "size": "{limit}" })
}

/// The GraphQL endpoint: a cursor in the variables, `hasNextPage` ends it.
fn graphql_api(server: &TestServer) -> Api {
    Api::builder(format!("{}/", server.url()))
        .records_at("/data/items/nodes")
        .pagination(
            Pagination::cursor(Link::pointer("/data/items/pageInfo/endCursor"))
                .limit_param(None)
                .more("/data/items/pageInfo/hasNextPage")
                .total(Total::pointer("/data/items/totalCount")),
        )
        .page_size(PAGE)
        .retry(retry())
        .build()
        .expect("a valid api")
}

const QUERY: &str = "query($first: Int!, $after: String) { items(first: $first, after: $after) { totalCount nodes { id name } pageInfo { endCursor hasNextPage } } }";

fn graphql_body() -> Value {
    json!({ "query": QUERY, "variables": { "first": "{limit}", "after": "{cursor}" } })
}

#[derive(Clone, Copy)]
enum Driver {
    Blocking,
    Async,
}

fn pull(driver: Driver, api: &Api, path: &str, body: Value) -> (Vec<Value>, Report) {
    match driver {
        Driver::Blocking => api
            .blocking()
            .list(path)
            .body(body)
            .collect_with_report::<Value>(),
        Driver::Async => {
            let client = Client::new(api);
            futures::executor::block_on(client.list(path).body(body).collect_with_report::<Value>())
        }
    }
    .expect("the pull succeeds")
}

/// Every record of the server, each once.
fn assert_every_record_once(records: &[Value]) {
    let ids: Vec<u64> = records
        .iter()
        .map(|r| r["id"].as_u64().expect("an id"))
        .collect();
    let unique: BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a record came twice");
    assert_eq!(unique, (1..=N).collect::<BTreeSet<u64>>());
}

/// The log's requests, each checked to be a JSON `POST` to `path`, with
/// their bodies parsed.
fn posts(server: &TestServer, path: &str) -> Vec<(LoggedRequest, Value)> {
    server
        .log()
        .into_iter()
        .map(|entry| {
            assert_eq!(entry.method, "POST", "{entry:?}");
            assert_eq!(entry.path, path, "the page parameters are not in the URL");
            assert_eq!(entry.content_type.as_deref(), Some("application/json"));
            let body = entry.body.as_deref().expect("a logged body");
            let body = serde_json::from_str(body).expect("a JSON body");
            (entry, body)
        })
        .collect()
}

/// The injected 5xx answers were retried: each failed body was sent again
/// and answered 200; the report counts those retries.
fn assert_faults_retried(log: &[(LoggedRequest, Value)], report: &Report) -> usize {
    let mut answered: BTreeMap<String, Vec<u16>> = BTreeMap::new();
    for (entry, body) in log {
        answered
            .entry(body.to_string())
            .or_default()
            .push(entry.status);
    }
    let failed = log.iter().filter(|(e, _)| e.status >= 500).count();
    assert!(
        failed > 0,
        "the faults hit no page: change the seed or rate"
    );
    for (body, statuses) in &answered {
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{body}: {statuses:?}"
        );
        assert_eq!(statuses.last(), Some(&200), "{body}: {statuses:?}");
        assert!(statuses.iter().all(|s| *s == 200 || *s >= 500));
    }
    assert_eq!(report.retries.server_error, failed as u64, "{report:?}");
    failed
}

fn search_pull(driver: Driver) {
    let server = server(0.2);
    let api = search_api(&server);
    let (records, report) = pull(driver, &api, "items", search_body());
    assert_every_record_once(&records);
    assert_eq!(report.total, Some(N));
    assert_eq!(report.complete, Some(true), "{report:?}");
    assert_eq!(report.pages, N / PAGE);

    let log = posts(&server, "/search/items");
    assert_faults_retried(&log, &report);
    let froms: BTreeSet<u64> = log
        .iter()
        .filter(|(e, _)| e.status == 200)
        .map(|(_, body)| {
            assert_eq!(body["size"], json!(PAGE), "{body}");
            assert_eq!(body["query"], json!({ "match_all": {} }));
            body["from"].as_u64().expect("from is a number")
        })
        .collect();
    assert_eq!(froms, (0..N / PAGE).map(|p| p * PAGE).collect());
}

fn graphql_pull(driver: Driver) {
    let server = server(0.2);
    let api = graphql_api(&server);
    let (records, report) = pull(driver, &api, "graphql", graphql_body());
    assert_every_record_once(&records);
    assert_eq!(report.total, Some(N));
    assert_eq!(report.complete, Some(true), "{report:?}");
    assert_eq!(report.pages, N / PAGE);

    let log = posts(&server, "/graphql");
    assert_faults_retried(&log, &report);
    let ok: Vec<&Value> = log
        .iter()
        .filter(|(e, _)| e.status == 200)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(
        ok.len() as u64,
        N / PAGE,
        "one request per page, the last ends it"
    );
    assert_eq!(ok[0]["variables"], json!({ "first": PAGE, "after": null }));
    let afters: BTreeSet<&str> = ok[1..]
        .iter()
        .map(|b| {
            assert_eq!(b["query"], json!(QUERY));
            assert_eq!(b["variables"]["first"], json!(PAGE));
            b["variables"]["after"]
                .as_str()
                .expect("a cursor after the first page")
        })
        .collect();
    assert_eq!(afters.len(), ok.len() - 1, "each cursor once");
}

#[test]
fn search_from_size_in_the_body_blocking() {
    search_pull(Driver::Blocking);
}

#[test]
fn search_from_size_in_the_body_async() {
    search_pull(Driver::Async);
}

#[test]
fn graphql_cursor_in_the_variables_blocking() {
    graphql_pull(Driver::Blocking);
}

#[test]
fn graphql_cursor_in_the_variables_async() {
    graphql_pull(Driver::Async);
}

/// The endpoints' error shapes: a body the search endpoint cannot read is a
/// 400 `{"error"}`, a GraphQL one a 400 `{"errors":[{"message"}]}`; both
/// fail the sweep with the status, not retried.
#[test]
fn bad_bodies_are_client_errors() {
    let server = server(0.0);
    let err = search_api(&server)
        .blocking()
        .list("items")
        .body(json!({ "from": "{offset}", "size": "{limit}", "query": "everything" }))
        .collect::<Value>()
        .expect_err("a query that is not an object is refused");
    assert_eq!(err.status(), Some(400), "{err}");

    let err = graphql_api(&server)
        .blocking()
        .list("graphql")
        .body(json!({ "query": QUERY, "variables": { "first": 0, "after": "{cursor}" } }))
        .collect::<Value>()
        .expect_err("first: 0 is refused");
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(server.log().iter().all(|e| e.status == 400));

    // The GraphQL error shape, as a plain client sees it.
    let resp = raw_post(&server, "/graphql", "{\"variables\":{}}");
    assert_eq!(resp.0, 400);
    let body: Value = serde_json::from_str(&resp.1).expect("JSON");
    assert!(body["errors"][0]["message"].is_string(), "{body}");
}

/// `POST path` with `body` over a plain TCP connection, so the test needs
/// no HTTP client of its own.
fn raw_post(server: &TestServer, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(server.addr()).expect("connects");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        server.addr(),
        body.len()
    )
    .expect("writes");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reads");
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

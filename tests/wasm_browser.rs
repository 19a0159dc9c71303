//! The library in headless Chromium, over browser `fetch`, against the test
//! API server on 127.0.0.1 (cross-origin: the server answers with CORS).
//!
//! Run by `scripts/test-all.sh`, which starts the server and passes its URL
//! at compile time in `PAGEWISE_TEST_SERVER`:
//! `cargo test --target wasm32-unknown-unknown --test wasm_browser`.
#![cfg(target_arch = "wasm32")]

mod common;
#[path = "common/url_cases.rs"]
mod url_cases;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{scenarios, Item};
use futures::StreamExt;
use pagewise::{Api, Auth, Client, ErrorKind, Order, Pagination, RetryPolicy, Total};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Records the server was started with (`--records 2345`).
const N: u64 = 2_345;

fn base() -> String {
    option_env!("PAGEWISE_TEST_SERVER")
        .expect("build with PAGEWISE_TEST_SERVER=http://127.0.0.1:PORT (scripts/test-all.sh does)")
        .trim_end_matches('/')
        .to_string()
}

/// Transient failures are retried (6 times by default): quickly, in these tests.
fn quick_retries() -> RetryPolicy {
    RetryPolicy::default()
        .base_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(10))
}

async fn server_requests() -> u64 {
    let api = Api::builder(base()).build().unwrap();
    let stats: serde_json::Value = Client::new(&api).get("_stats").await.unwrap();
    stats["requests"].as_u64().unwrap()
}

/// The platform's `URL` class (the WebAssembly back end of
/// `pagewise::core::Url`) answers as the `url` crate does natively.
#[wasm_bindgen_test]
fn urls_resolve_and_redact_as_natively() {
    url_cases::check();
}

#[wasm_bindgen_test]
async fn every_dialect_in_page_order_and_completion_order() {
    let expected: Vec<u64> = (1..=N).collect();
    for c in [1, 16] {
        for s in scenarios(&base(), c) {
            let client = Client::new(&s.api);
            let (items, report) = client
                .list("items")
                .page_size(100)
                .collect_with_report::<Item>()
                .await
                .unwrap_or_else(|e| panic!("{} c={c}: {e}", s.name));
            let ids: Vec<u64> = items.iter().map(|i| i.id).collect();
            assert_eq!(ids, expected, "{} c={c}", s.name);
            if s.fans_out {
                assert_eq!(report.complete, Some(true), "{}", s.name);
            }
            let items: Vec<Item> = client
                .list("items")
                .page_size(100)
                .order(Order::Completion)
                .collect()
                .await
                .unwrap_or_else(|e| panic!("{} c={c}: {e}", s.name));
            let set: BTreeSet<u64> = items.iter().map(|i| i.id).collect();
            assert_eq!(items.len() as u64, N, "{} c={c}", s.name);
            assert_eq!(set, expected.iter().copied().collect(), "{} c={c}", s.name);
        }
    }
}

#[wasm_bindgen_test]
async fn fan_out_runs_concurrently_under_the_limit() {
    let s = scenarios(&base(), 4).remove(0);
    let client = Client::new(&s.api);
    let items: Vec<Item> = client.list("items").page_size(50).collect().await.unwrap();
    assert_eq!(items.len() as u64, N);
    assert!(s.api.limiter().max_in_use() <= 4);
    assert!(
        s.api.limiter().max_in_use() >= 2,
        "pages were fetched concurrently"
    );
}

#[wasm_bindgen_test]
async fn garbage_answers_are_typed_errors() {
    for (path, records_at, kind) in [
        ("garbage/html", "/data", ErrorKind::Decode),
        ("garbage/json", "/data", ErrorKind::Decode),
        ("garbage/missing", "/data", ErrorKind::Decode),
        ("garbage/null", "", ErrorKind::Decode),
        ("garbage/status/500", "", ErrorKind::Status),
    ] {
        let api = Api::builder(format!("{}/{path}/", base()))
            .records_at(records_at)
            .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
            .build()
            .unwrap();
        let err = Client::new(&api)
            .list("items")
            .collect::<Item>()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{path}: {err}");
        assert!(err.url().unwrap().contains(path), "{path}: {err}");
    }
    let api = Api::builder(base()).build().unwrap();
    let err = Client::new(&api)
        .get::<Item>("items/99999999")
        .await
        .unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Status, Some(404)));
}

#[wasm_bindgen_test]
async fn an_unreachable_server_is_a_transport_error() {
    // Port 9 (discard) is closed on the test machine: fetch rejects.
    let api = Api::builder("http://127.0.0.1:9/")
        .retry(quick_retries())
        .build()
        .unwrap();
    let err = Client::new(&api)
        .list("items")
        .collect::<Item>()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
}

#[wasm_bindgen_test]
async fn a_transport_error_does_not_show_a_secret_of_the_url() {
    let api = Api::builder("http://127.0.0.1:9/")
        .auth(Auth::Query {
            name: "api_key".into(),
            value: "s3cr3t-in-the-query".into(),
        })
        .retry(quick_retries())
        .build()
        .unwrap();
    let err = Client::new(&api)
        .get::<serde_json::Value>("items/1")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("s3cr3t-in-the-query"), "{shown}");
}

#[wasm_bindgen_test]
async fn dropping_a_stream_cancels_the_sweep() {
    // A sequential dialect, so the sweep would run long if not cancelled.
    let s = scenarios(&base(), 4)
        .into_iter()
        .find(|s| s.name == "keyset")
        .unwrap();
    let client = Client::new(&s.api);
    let before = server_requests().await;
    {
        let mut stream = client.list("items").page_size(10).stream::<Item>();
        for expected in 1..=25 {
            assert_eq!(stream.next().await.unwrap().unwrap().id, expected);
        }
    }
    futures_timer::Delay::new(Duration::from_millis(200)).await;
    let after_drop = server_requests().await;
    futures_timer::Delay::new(Duration::from_millis(300)).await;
    let later = server_requests().await;
    // `/_stats` itself is not counted by the server.
    assert_eq!(later, after_drop, "no request started after the drop");
    assert!(
        after_drop - before <= 4,
        "{} requests for 25 records of 10 per page",
        after_drop - before
    );
}

#[wasm_bindgen_test]
async fn per_request_timeout_aborts_the_fetch() {
    // A `fetch` that answers only when aborted: the request's timeout must
    // abort it (a timeout of 0 is a configuration error now, so the answer
    // never comes instead of coming too late).
    let aborted = js_sys::Array::new();
    let fetch = js_sys::Function::new_with_args(
        "url, init",
        "return new Promise((_, reject) => init.signal.addEventListener('abort', () => { \
           this.push(url); reject(new DOMException('aborted', 'AbortError')); }));",
    )
    .bind(&aborted);
    let api = Api::builder(format!("{}/offset/", base()))
        .records_at("/data")
        .timeout(Some(Duration::from_millis(50)))
        .retry(quick_retries())
        .build()
        .unwrap();
    let transport = pagewise::transport::fetch::FetchTransport::new().with_fetch(fetch);
    let err = Client::with_transport(&api, transport)
        .list("items")
        .collect::<Item>()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(aborted.length() >= 1, "the timeout aborted no fetch");
}

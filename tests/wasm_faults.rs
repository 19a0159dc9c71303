//! The fault matrix in headless Chromium: against a test server that fails
//! on purpose (5xx, a 429 storm, dropped connections, truncated bodies, slow
//! answers), a 20,000-record sweep over browser `fetch` yields every id
//! exactly once and the report counts the retries; a permanent 404 names its
//! page and keeps every record before it.
//!
//! Run by `scripts/test-all.sh`, which starts a second server
//! (`--records 20000 --latency-ms 1`) and passes its URL at compile time in
//! `PAGEWISE_FAULT_SERVER`:
//! `cargo test --target wasm32-unknown-unknown --test wasm_faults`.
//!
//! The server's faults are global state, so the whole matrix runs in ONE
//! test function, case after case (the tests of a wasm-bindgen-test binary
//! may run concurrently).
#![cfg(target_arch = "wasm32")]

mod common;

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use common::Item;
use futures::future::{select, Either};
use futures::StreamExt;
use pagewise::{Api, Client, ErrorKind, Pagination, Report, RetryPolicy, Total};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_time::Instant;

wasm_bindgen_test_configure!(run_in_browser);

/// Records the server was started with (`--records 20000`).
const N: u64 = 20_000;

fn base() -> String {
    match option_env!("PAGEWISE_FAULT_SERVER") {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => panic!(
            "build with PAGEWISE_FAULT_SERVER=http://127.0.0.1:PORT of a server started with \
             --records 20000 --latency-ms 1 (scripts/test-all.sh does)"
        ),
    }
}

#[wasm_bindgen]
extern "C" {
    /// A `Response` of `fetch`.
    type ServerAnswer;
    #[wasm_bindgen(method, getter)]
    fn status(this: &ServerAnswer) -> u16;
    #[wasm_bindgen(method)]
    fn text(this: &ServerAnswer) -> js_sys::Promise;

    /// The global `fetch(url, init)`.
    #[wasm_bindgen(js_namespace = globalThis, js_name = fetch)]
    fn fetch_text(url: &str, init: &JsValue) -> js_sys::Promise;
}

/// `method url` with an optional text body: the status and the body text.
async fn call(method: &str, url: &str, body: Option<&str>) -> (u16, String) {
    let init = js_sys::Object::new();
    js_sys::Reflect::set(&init, &"method".into(), &method.into()).expect("init.method");
    if let Some(body) = body {
        js_sys::Reflect::set(&init, &"body".into(), &body.into()).expect("init.body");
    }
    let resp: ServerAnswer = JsFuture::from(fetch_text(url, &init))
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e:?}"))
        .unchecked_into();
    let status = resp.status();
    let text = JsFuture::from(resp.text())
        .await
        .unwrap_or_else(|e| panic!("the body of {method} {url}: {e:?}"))
        .as_string()
        .unwrap_or_default();
    (status, text)
}

/// `POST /_faults` with `faults` (the JSON form of the server's `Faults`),
/// then `POST /_reset` so that `/_stats` counts this case only. The body is
/// sent as text: a simple CORS request, no preflight.
async fn set_faults(faults: &str) {
    let (status, text) = call("POST", &format!("{}/_faults", base()), Some(faults)).await;
    assert_eq!(status, 204, "POST /_faults {faults}: {text}");
    let (status, _) = call("POST", &format!("{}/_reset", base()), None).await;
    assert_eq!(status, 204, "POST /_reset");
}

/// `DELETE /_faults`: no faults any more.
async fn clear_faults() {
    let (status, _) = call("DELETE", &format!("{}/_faults", base()), None).await;
    assert_eq!(status, 204, "DELETE /_faults");
}

/// `GET /_stats`: `{ requests, in_flight, max_in_flight, faults, throttled }`.
async fn stats() -> serde_json::Value {
    let (status, text) = call("GET", &format!("{}/_stats", base()), None).await;
    assert_eq!(status, 200, "GET /_stats: {text}");
    serde_json::from_str(&text).expect("/_stats is JSON")
}

/// `work`, or a panic naming `what` after `secs` seconds.
async fn within<T>(secs: u64, what: &str, work: impl Future<Output = T>) -> T {
    let work = std::pin::pin!(work);
    let timer = futures_timer::Delay::new(Duration::from_secs(secs));
    match select(work, timer).await {
        Either::Left((out, _)) => out,
        Either::Right(_) => panic!("{what}: not done within {secs} s"),
    }
}

/// The offset dialect with a total, 100 records a page, concurrency 16 (the
/// browser runs 6 at once per origin over HTTP/1.1 and queues the rest), a
/// 400 ms request timeout, quick retries. A fresh one per case: the pacer of
/// an `Api` that already learnt the server's rate would not be throttled.
fn api() -> Api {
    Api::builder(format!("{}/offset/", base()))
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
        .expect("a valid Api")
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
    assert!(
        items.windows(2).all(|w| w[0].id < w[1].id),
        "{what}: page order"
    );
}

/// A fault, the server's JSON for it, and the retry counter it must move.
struct Case {
    name: &'static str,
    faults: &'static str,
    retries: fn(&Report) -> u64,
}

const MATRIX: &[Case] = &[
    Case {
        name: "10% 5xx",
        faults: r#"{"error_rate":0.1}"#,
        retries: |r| r.retries.server_error,
    },
    Case {
        name: "429 storm",
        faults: r#"{"rate_limit":{"per_second":150,"burst":5,"retry_after":"seconds"}}"#,
        retries: |r| r.retries.throttled,
    },
    Case {
        name: "dropped connections",
        faults: r#"{"drop_rate":0.08}"#,
        retries: |r| r.retries.transport,
    },
    Case {
        name: "truncated bodies",
        faults: r#"{"truncate_rate":0.08}"#,
        retries: |r| r.retries.bad_body,
    },
    Case {
        name: "slow responses",
        faults: r#"{"slow_rate":0.05,"slow_ms":1500}"#,
        retries: |r| r.retries.timeout,
    },
];

#[wasm_bindgen_test]
async fn the_fault_matrix_in_sequence() {
    clear_faults().await;
    let all = Instant::now();
    for case in MATRIX {
        set_faults(case.faults).await;
        let api = api();
        let started = Instant::now();
        let (items, report) = within(
            40,
            case.name,
            Client::new(&api)
                .list("items")
                .collect_with_report::<Item>(),
        )
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let server = stats().await;
        console_log!(
            "{}: {:?}, {} requests, {:?}, throttled {:?}; server: {} requests, {} faults, {} x 429; pacer: {:?}",
            case.name,
            started.elapsed(),
            report.requests,
            report.retries,
            report.throttled,
            server["requests"],
            server["faults"],
            server["throttled"],
            api.pacing_stats(),
        );
        assert_exactly_once(&items, case.name);
        assert_eq!(report.complete, Some(true), "{}: {report:?}", case.name);
        assert!(
            (case.retries)(&report) > 0,
            "{}: the report counts the retries: {report:?}",
            case.name
        );
        assert_eq!(
            report.requests,
            report.pages + report.retries.total(),
            "{}: {report:?}",
            case.name
        );
    }

    // A permanent failure: the page at offset 5000 is a 404, every time.
    set_faults(r#"{"fail_paths":[{"contains":"offset=5000&","status":404}]}"#).await;
    let api = api();
    let (got, err) = within(30, "a permanent 404", async {
        let mut got = Vec::new();
        let mut stream = Client::new(&api).list("items").stream::<Item>();
        loop {
            match stream.next().await {
                Some(Ok(item)) => got.push(item.id),
                Some(Err(e)) => break (got, e),
                None => panic!("the sweep must fail at offset 5000"),
            }
        }
    })
    .await;
    assert_eq!(err.kind(), ErrorKind::Status, "{err}");
    assert_eq!(err.status(), Some(404), "{err}");
    assert_eq!(err.page(), Some(50), "{err}");
    let url = err.url().expect("the error names its url");
    assert!(url.contains("offset=5000&limit=100"), "{err}");
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

    clear_faults().await;
    console_log!("the fault matrix took {:?}", all.elapsed());
}

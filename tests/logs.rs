//! Request logs through the `log` facade and the `on_event` observer,
//! against the test server.
#![cfg(not(target_arch = "wasm32"))]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pagewise::{Api, ApiBuilder, ApiEvent, Auth, Client, Pagination, RetryPolicy, Total};
use pagewise_testserver::{Config, Faults, RateLimit, RetryAfter, TestServer};

const SECRET: &str = "s3cr3t-query-key";

/// A logger keeping every `pagewise*` record as `(target, level, line)`.
struct Capture(Mutex<Vec<(String, log::Level, String)>>);

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.target().starts_with("pagewise")
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            let mut lines = self.0.lock().unwrap();
            lines.push((r.target().to_string(), r.level(), r.args().to_string()));
        }
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

fn server(records: u64, faults: Faults) -> TestServer {
    TestServer::start(Config {
        records,
        faults,
        ..Config::default()
    })
    .expect("test server starts")
}

fn builder(server: &TestServer) -> ApiBuilder {
    Api::builder(format!("{}/offset/", server.url()))
        .auth(Auth::query("api_key", SECRET))
        .records_at("/data")
        .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
        .page_size(100)
        .concurrency(16)
        .retry(
            RetryPolicy::default()
                .max_retries(20)
                .base_delay(Duration::from_millis(10))
                .max_delay(Duration::from_millis(200)),
        )
}

/// Parses `GET <url> -> <status> in <ms> ms (<bytes> bytes)`.
fn request_line(line: &str) -> Option<(&str, &str, u16, u64, u64)> {
    let (method, rest) = line.split_once(' ')?;
    let (url, rest) = rest.split_once(" -> ")?;
    let (status, rest) = rest.split_once(" in ")?;
    let (ms, rest) = rest.split_once(" ms (")?;
    let bytes = rest.strip_suffix(" bytes)")?;
    Some((
        method,
        url,
        status.parse().ok()?,
        ms.parse().ok()?,
        bytes.parse().ok()?,
    ))
}

// One test: the logger is global to the process.
#[test]
fn requests_retries_and_pacing_are_logged_without_credentials() {
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

    // A plain sweep: one debug line per request, one info line at the end.
    let plain = server(1000, Faults::default());
    let api = builder(&plain).build().unwrap();
    let items: Vec<serde_json::Value> = api.blocking().list("items").collect().unwrap();
    assert_eq!(items.len(), 1000);
    let lines = std::mem::take(&mut *CAPTURE.0.lock().unwrap());
    assert!(
        lines.iter().all(|(_, _, l)| !l.contains(SECRET)),
        "a secret in the log: {lines:#?}"
    );
    let requests: Vec<_> = lines
        .iter()
        .filter(|(t, _, l)| t == "pagewise::request" && l.contains(&plain.url()))
        .collect();
    // (The other tests of this file log too: lines are told apart by URL.)
    assert_eq!(requests.len(), 10, "{lines:#?}");
    for (_, level, line) in &requests {
        assert_eq!(*level, log::Level::Debug);
        let (method, url, status, _ms, bytes) =
            request_line(line).unwrap_or_else(|| panic!("not a request line: {line}"));
        assert_eq!((method, status), ("GET", 200), "{line}");
        assert!(
            url.starts_with(&format!("{}/offset/items?", plain.url())),
            "{line}"
        );
        assert!(
            url.contains("api_key="),
            "the parameter is named, its value removed: {line}"
        );
        assert!(bytes > 0, "{line}");
    }
    assert!(
        lines.iter().any(|(t, level, l)| t == "pagewise::sweep"
            && *level == log::Level::Info
            && l.starts_with("sweep finished: 1000 records, 10 pages, 10 requests")
            && l.ends_with("complete: yes")),
        "{lines:#?}"
    );

    // Against a rate limit: retries with their cause, and the pacer's
    // cooldown and concurrency changes.
    let limited = server(
        5000,
        Faults {
            rate_limit: Some(RateLimit {
                per_second: 50,
                burst: 5,
                retry_after: RetryAfter::Seconds,
            }),
            ..Faults::default()
        },
    );
    let api = builder(&limited).build().unwrap();
    let items: Vec<serde_json::Value> = api.blocking().list("items").collect().unwrap();
    assert_eq!(items.len(), 5000);
    let lines = std::mem::take(&mut *CAPTURE.0.lock().unwrap());
    assert!(
        lines.iter().all(|(_, _, l)| !l.contains(SECRET)),
        "{lines:#?}"
    );
    let retry = lines
        .iter()
        .find(|(t, _, l)| {
            t == "pagewise::request" && l.starts_with("retry ") && l.contains(&limited.url())
        })
        .unwrap_or_else(|| panic!("no retry line: {lines:#?}"));
    assert_eq!(retry.1, log::Level::Info);
    assert!(
        retry.2.contains(" after 429 (throttled): GET http"),
        "{}",
        retry.2
    );
    assert!(retry.2.starts_with("retry 1 of 20 in "), "{}", retry.2);
    assert!(
        lines
            .iter()
            .any(|(t, _, l)| t == "pagewise::request" && l.contains(" -> 429 in ")),
        "the 429s are request lines too"
    );
    let pacing: Vec<&str> = lines
        .iter()
        .filter(|(t, _, _)| t == "pagewise::pacing")
        .map(|(_, _, l)| l.as_str())
        .collect();
    assert!(
        pacing
            .iter()
            .any(|l| l.starts_with("concurrency 16 -> ") && l.ends_with(" (429)")),
        "no concurrency change after 429s: {pacing:#?}"
    );
    assert!(
        pacing
            .iter()
            .any(|l| l.starts_with("429 (Retry-After): every request waits ")),
        "no cooldown: {pacing:#?}"
    );
}

fn recorder() -> (
    Arc<Mutex<Vec<ApiEvent>>>,
    impl Fn(&ApiEvent) + Send + Sync + 'static,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    (seen, move |e: &ApiEvent| {
        sink.lock().unwrap().push(e.clone())
    })
}

fn check_events(events: &[ApiEvent], server: &TestServer) {
    let requests: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ApiEvent::Request(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(requests.len(), 3, "{events:#?}");
    for r in requests {
        assert_eq!(
            (r.method.as_str(), r.status, r.error.as_deref()),
            ("GET", Some(200), None)
        );
        assert!(
            r.url.starts_with(&server.url()) && !r.url.contains(SECRET),
            "{}",
            r.url
        );
        assert!(r.bytes > 0);
    }
    assert!(matches!(
        events.last(),
        Some(ApiEvent::SweepFinished {
            records: 250,
            pages: 3,
            complete: Some(true),
            ..
        })
    ));
}

#[test]
fn on_event_sees_each_request_blocking() {
    let s = server(250, Faults::default());
    let (seen, f) = recorder();
    let api = builder(&s).on_event(f).build().unwrap();
    let items: Vec<serde_json::Value> = api.blocking().list("items").collect().unwrap();
    assert_eq!(items.len(), 250);
    check_events(&seen.lock().unwrap(), &s);
}

#[test]
fn on_event_sees_each_request_async() {
    let s = server(250, Faults::default());
    let (seen, f) = recorder();
    let api = builder(&s).on_event(f).build().unwrap();
    let items: Vec<serde_json::Value> =
        futures::executor::block_on(Client::new(&api).list("items").collect()).unwrap();
    assert_eq!(items.len(), 250);
    check_events(&seen.lock().unwrap(), &s);
}

#[test]
fn a_transport_failure_is_an_event_with_its_error() {
    // Nothing listens on this port once the server is gone.
    let url = {
        let s = server(1, Faults::default());
        s.url()
    };
    let (seen, f) = recorder();
    let api = Api::builder(format!("{url}/offset/"))
        .retry(RetryPolicy::none())
        .on_event(f)
        .build()
        .unwrap();
    let err = api
        .blocking()
        .get::<serde_json::Value>("items/1")
        .unwrap_err();
    let events = seen.lock().unwrap();
    let Some(ApiEvent::Request(r)) = events.first() else {
        panic!("{events:#?}")
    };
    assert_eq!(r.status, None);
    // The kind in lowercase, then what the transport said.
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.starts_with("connect: ")),
        "{r:?}"
    );
    assert!(ApiEvent::Request(r.clone())
        .to_string()
        .contains(" -> failed after "));
    drop(err);
}

/// The error chain of `e`: each `source()` as text, outermost first.
fn chain(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = e.source();
    while let Some(s) = at {
        out.push(s.to_string());
        at = s.source();
    }
    out
}

#[test]
fn a_transport_failure_has_the_transport_error_as_source() {
    let url = {
        let s = server(1, Faults::default());
        s.url()
    };
    let api = Api::builder(format!("{url}/offset/"))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let err = api
        .blocking()
        .get::<serde_json::Value>("items/1")
        .unwrap_err();
    let source = std::error::Error::source(&err).expect("a source");
    let transport = source
        .downcast_ref::<pagewise::core::TransportError>()
        .unwrap_or_else(|| panic!("not a TransportError: {source}"));
    assert_eq!(
        transport.kind(),
        pagewise::core::TransportErrorKind::Connect
    );
    assert!(
        transport.to_string().starts_with("connect: "),
        "{transport}"
    );
    // And through it, what ureq reported.
    let below = chain(&err);
    assert!(below.len() >= 2, "{below:?}");
}

#[test]
fn a_json_error_is_the_source_of_a_record_error() {
    let text = pagewise::JsonText::parse(r#"{"id": "x"}"#).unwrap();
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Item {
        id: u64,
    }
    let err = text.deserialize::<Item>().unwrap_err();
    assert_eq!(err.kind(), pagewise::ErrorKind::Record);
    let source = std::error::Error::source(&err).expect("a source");
    assert!(
        source.downcast_ref::<serde_json::Error>().is_some(),
        "{source}"
    );

    // A record of a sweep that does not fit its type: the same.
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Named {
        id: String,
    }
    let s = server(5, Faults::default());
    let api = builder(&s).build().unwrap();
    let err = match api.blocking().list("items").collect::<Vec<Named>>() {
        Ok(v) => panic!("the ids are numbers: {v:?}"),
        Err(e) => e,
    };
    assert_eq!(err.kind(), pagewise::ErrorKind::Record, "{err}");
    let source = std::error::Error::source(&err).expect("a source");
    assert!(
        source.downcast_ref::<serde_json::Error>().is_some(),
        "{source}"
    );
}

#[derive(Debug)]
struct VaultDown;

impl std::fmt::Display for VaultDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the vault is down")
    }
}

impl std::error::Error for VaultDown {}

#[test]
fn a_token_providers_error_is_the_source_of_the_auth_error() {
    let s = server(5, Faults::default());
    let api = Api::builder(format!("{}/offset/", s.url()))
        .auth(Auth::provider(|| Err::<pagewise::Token, _>(VaultDown)))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let err = api
        .blocking()
        .get::<serde_json::Value>("items/1")
        .unwrap_err();
    assert_eq!(err.kind(), pagewise::ErrorKind::Auth, "{err}");
    let mut at = std::error::Error::source(&err);
    let mut found = false;
    while let Some(e) = at {
        found |= e.downcast_ref::<VaultDown>().is_some();
        at = e.source();
    }
    assert!(found, "{:?}", chain(&err));
}

#[test]
fn errors_compare_without_their_source() {
    use pagewise::{Error, ErrorKind};
    let plain = Error::new(ErrorKind::Transport, "broke");
    let wrapped = plain.clone().with_source(VaultDown);
    assert_eq!(plain, wrapped);
    assert_eq!(
        std::error::Error::source(&wrapped.clone()).map(|s| s.to_string()),
        Some("the vault is down".to_string())
    );
    assert!(std::error::Error::source(&plain).is_none());
}

/// A callback may ask its `Api` how pacing goes (`pacing_stats`,
/// `current_concurrency`, `learnt_rate`) from any event, 429s and
/// concurrency changes included: no event is given while a lock it needs is held.
#[test]
fn a_callback_may_ask_its_api_about_pacing() {
    let limited = server(
        1500,
        Faults {
            rate_limit: Some(RateLimit {
                per_second: 50,
                burst: 5,
                retry_after: RetryAfter::Seconds,
            }),
            ..Faults::default()
        },
    );
    let api_cell: Arc<std::sync::OnceLock<Api>> = Arc::default();
    let asked = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (cell, count) = (api_cell.clone(), asked.clone());
    let api = builder(&limited)
        .on_event(move |_e: &ApiEvent| {
            if let Some(api) = cell.get() {
                let _ = api.pacing_stats();
                let _ = api.current_concurrency();
                let _ = api.learnt_rate();
                count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        })
        .build()
        .unwrap();
    let _ = api_cell.set(api.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let n = api
            .blocking()
            .list("items")
            .collect::<serde_json::Value>()
            .map(|v| v.len());
        let _ = tx.send(n);
    });
    let n = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the sweep ends (a callback asking its Api must not deadlock)");
    assert_eq!(n.unwrap(), 1500);
    assert!(asked.load(std::sync::atomic::Ordering::Relaxed) > 15);
}

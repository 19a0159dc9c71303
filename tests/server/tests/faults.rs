//! Fault injection over real HTTP: every fault kind, the control endpoint,
//! seeding, and the binary's flags.

mod common;

use std::io::{BufRead as _, BufReader};
use std::time::{Duration, Instant};

use common::{agent, ids, now_secs, parse_http_date, raw, raw_get};
use pagewise_testserver::{Config, FailPath, Faults, Mutate, RateLimit, RetryAfter, TestServer};
use serde_json::{json, Value};

fn server_with(records: u64, faults: Faults) -> TestServer {
    TestServer::start(Config {
        records,
        faults,
        ..Config::default()
    })
    .unwrap()
}

fn statuses(server: &TestServer, n: usize) -> Vec<u16> {
    (0..n)
        .map(|i| raw_get(server.addr(), &format!("/offset/items?offset={i}&limit=1")).status)
        .collect()
}

#[test]
fn error_rate_replaces_answers_with_injected_5xx_but_not_control_paths() {
    let server = server_with(
        50,
        Faults {
            error_rate: 1.0,
            ..Faults::default()
        },
    );
    let mut seen = Vec::new();
    for i in 0..24 {
        let got = raw_get(server.addr(), &format!("/keyset/items?id_gt={i}"));
        assert!(matches!(got.status, 500 | 502 | 503), "{}", got.status);
        assert_eq!(
            got.json(),
            json!({"error": "injected", "status": got.status})
        );
        assert_eq!(got.header("access-control-allow-origin"), Some("*"));
        seen.push(got.status);
    }
    for code in [500, 502, 503] {
        assert!(seen.contains(&code), "{code} never drawn: {seen:?}");
    }
    // Control endpoints and preflights are never faulted (nor counted).
    let stats = raw_get(server.addr(), "/_stats");
    assert_eq!(stats.status, 200);
    assert_eq!(stats.json()["faults"], 24);
    let preflight = raw(server.addr(), "OPTIONS", "/offset/items", &[], "");
    assert_eq!(preflight.status, 204);
    assert_eq!(raw_get(server.addr(), "/_faults").status, 200);
    let stats = server.stats();
    assert_eq!((stats.requests, stats.faults, stats.throttled), (24, 24, 0));
    assert!(server.log().iter().all(|e| e.status >= 500));
}

#[test]
fn decisions_are_seeded_reproducible_and_restart_with_set_faults() {
    let faults = Faults {
        error_rate: 0.3,
        ..Faults::default()
    };
    let start = |seed| {
        TestServer::start(Config {
            records: 100,
            seed,
            faults: faults.clone(),
            ..Config::default()
        })
        .unwrap()
    };
    let a = start(7);
    let first = statuses(&a, 100);
    assert_eq!(first, statuses(&start(7), 100), "same seed, same answers");
    assert_ne!(first, statuses(&start(8), 100), "other seed, other answers");
    let errors = first.iter().filter(|&&s| s >= 500).count();
    assert!((15..=45).contains(&errors), "{errors} errors of 100 at 0.3");
    assert!(first.iter().all(|&s| s == 200 || s >= 500));
    // Setting the faults again restarts their run.
    a.set_faults(faults.clone());
    assert_eq!(statuses(&a, 100), first);
    assert_eq!(a.stats().faults as usize, 2 * errors);
    // And so does POST /_faults.
    let body = serde_json::to_string(&faults).unwrap();
    assert_eq!(raw(a.addr(), "POST", "/_faults", &[], &body).status, 204);
    assert_eq!(statuses(&a, 100), first);
}

#[test]
fn rate_limit_answers_429_with_retry_after_seconds_and_refills() {
    let server = server_with(
        20,
        Faults {
            rate_limit: Some(RateLimit {
                per_second: 5,
                burst: 2,
                retry_after: RetryAfter::Seconds,
            }),
            ..Faults::default()
        },
    );
    assert_eq!(raw_get(server.addr(), "/offset/items").status, 200);
    assert_eq!(raw_get(server.addr(), "/keyset/items").status, 200);
    let got = raw_get(server.addr(), "/items/3");
    assert_eq!(got.status, 429);
    assert_eq!(got.json(), json!({"error": "rate limited"}));
    // The next token is at most 200 ms away: rounded up, at least 1.
    assert_eq!(got.header("retry-after"), Some("1"));
    // Writes share the bucket (and nothing is written when throttled).
    let post = raw(server.addr(), "POST", "/items", &[], r#"{"name":"x"}"#);
    assert_eq!(post.status, 429);
    assert_eq!(server.ids().len(), 20);
    // Control paths are not limited.
    assert_eq!(raw_get(server.addr(), "/_stats").status, 200);
    // One token is back after 200 ms.
    std::thread::sleep(Duration::from_millis(260));
    assert_eq!(raw_get(server.addr(), "/items/3").status, 200);
    assert_eq!(raw_get(server.addr(), "/items/3").status, 429);
    let stats = server.stats();
    assert_eq!((stats.requests, stats.throttled, stats.faults), (6, 3, 0));

    // A slow bucket: Retry-After covers the whole wait.
    server.set_faults(Faults {
        rate_limit: Some(RateLimit {
            per_second: 1,
            burst: 1,
            retry_after: RetryAfter::Seconds,
        }),
        ..Faults::default()
    });
    assert_eq!(raw_get(server.addr(), "/items/1").status, 200);
    let got = raw_get(server.addr(), "/items/1");
    assert_eq!((got.status, got.header("retry-after")), (429, Some("1")));
}

#[test]
fn rate_limit_retry_after_as_http_date_or_absent() {
    let server = server_with(20, Faults::default());
    let set = |form: &str| {
        let body = json!({"rate_limit": {"per_second": 1, "burst": 1, "retry_after": form}});
        let got = raw(server.addr(), "POST", "/_faults", &[], &body.to_string());
        assert_eq!(got.status, 204, "{}", got.text());
    };
    set("http-date");
    assert_eq!(
        server.faults().rate_limit.unwrap().retry_after,
        RetryAfter::HttpDate
    );
    assert_eq!(raw_get(server.addr(), "/offset/items").status, 200);
    let before = now_secs();
    let got = raw_get(server.addr(), "/offset/items");
    assert_eq!(got.status, 429);
    let date = got.header("retry-after").unwrap();
    let at = parse_http_date(date);
    assert!(
        at > before && at <= now_secs() + 2,
        "{date} vs now {before}"
    );

    set("none");
    assert_eq!(raw_get(server.addr(), "/offset/items").status, 200);
    let got = raw_get(server.addr(), "/offset/items");
    assert_eq!(got.status, 429);
    assert_eq!(got.header("retry-after"), None);
    assert_eq!(got.json(), json!({"error": "rate limited"}));
}

#[test]
fn dropped_connection_sends_a_short_body_to_a_raw_client() {
    let server = server_with(
        100,
        Faults {
            drop_rate: 1.0,
            ..Faults::default()
        },
    );
    let got = raw_get(server.addr(), "/offset/items?limit=50");
    assert_eq!(got.status, 200);
    let announced = got.content_length.expect("Content-Length of the full body");
    assert!(announced > 10_000, "{announced}");
    assert!(!got.complete(), "the body must be cut short");
    assert!(!got.body.is_empty() && got.body.len() < announced);
    assert!(got.body.starts_with(b"{\"data\":[{\"id\":1,"));

    // Through a real client: an I/O error while reading the body.
    let mut resp = agent()
        .get(format!("{}/range/items", server.url()))
        .call()
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.body_mut().read_to_string().is_err());

    // A dropped write was not applied.
    let got = raw(server.addr(), "POST", "/items", &[], r#"{"name":"lost"}"#);
    assert!(!got.complete());
    assert_eq!(server.ids().len(), 100);
    assert_eq!(server.write_count(101), 0);
    assert_eq!(server.stats().faults, 3);
}

#[test]
fn truncated_empty_and_null_bodies_are_well_framed() {
    let server = server_with(100, Faults::default());
    let path = "/page/items?per_page=20";
    let whole = raw_get(server.addr(), path);
    assert_eq!(whole.status, 200);

    server.set_faults(Faults {
        truncate_rate: 1.0,
        ..Faults::default()
    });
    let got = raw_get(server.addr(), path);
    assert_eq!(got.status, 200);
    assert!(got.complete(), "Content-Length matches the cut body");
    assert_eq!(got.body, whole.body[..whole.body.len() / 2]);
    assert!(serde_json::from_slice::<Value>(&got.body).is_err());
    // Only 200s are altered.
    let missing = raw_get(server.addr(), "/items/99999");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"], "not found");

    server.set_faults(Faults {
        empty_rate: 1.0,
        ..Faults::default()
    });
    let got = raw_get(server.addr(), path);
    assert_eq!(
        (got.status, got.content_length, got.text()),
        (200, Some(0), "")
    );

    server.set_faults(Faults {
        null_rate: 1.0,
        ..Faults::default()
    });
    let got = raw_get(server.addr(), path);
    assert_eq!((got.status, got.text()), (200, "null"));
    assert!(got.complete());
    assert_eq!(server.stats().faults, 3);
}

#[test]
fn slow_answers_exceed_a_client_timeout() {
    let server = server_with(
        10,
        Faults {
            slow_rate: 1.0,
            slow_ms: 400,
            ..Faults::default()
        },
    );
    let t = Instant::now();
    assert_eq!(raw_get(server.addr(), "/offset/items").status, 200);
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    let impatient: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_millis(150)))
        .build()
        .into();
    assert!(impatient
        .get(format!("{}/offset/items", server.url()))
        .call()
        .is_err());
    // Control endpoints are not slowed.
    let t = Instant::now();
    assert_eq!(raw_get(server.addr(), "/_stats").status, 200);
    assert!(t.elapsed() < Duration::from_millis(300));
    // The answer the impatient client gave up on may never be finished
    // (hyper drops a request whose connection closed), so not counted.
    std::thread::sleep(Duration::from_millis(300));
    let faults = server.stats().faults;
    assert!((1..=2).contains(&faults), "{faults}");
}

#[test]
fn fail_paths_fail_every_time() {
    let server = server_with(
        1000,
        Faults {
            fail_paths: vec![
                FailPath {
                    contains: "offset=500&".into(),
                    status: 404,
                },
                FailPath {
                    contains: "/items/7".into(),
                    status: 410,
                },
            ],
            ..Faults::default()
        },
    );
    for _ in 0..3 {
        let got = raw_get(server.addr(), "/offset/items?offset=500&limit=100");
        assert_eq!(got.status, 404);
        assert_eq!(got.json(), json!({"error": "injected", "status": 404}));
        assert_eq!(raw_get(server.addr(), "/items/7").status, 410);
    }
    assert_eq!(
        raw_get(server.addr(), "/offset/items?offset=400&limit=100").status,
        200
    );
    // `offset=500&` needs the `&`.
    assert_eq!(
        raw_get(server.addr(), "/offset/items?limit=100&offset=500").status,
        200
    );
    assert_eq!(server.stats().faults, 6);
}

#[test]
fn mutate_shifts_rows_under_an_offset_sweep() {
    let server = server_with(
        1050,
        Faults {
            mutate: Some(Mutate {
                after_requests: 2,
                insert: 5,
                delete: 3,
            }),
            ..Faults::default()
        },
    );
    let before = server.ids();
    // Control requests do not count toward `after_requests`.
    raw_get(server.addr(), "/_stats");
    let mut seen = Vec::new();
    let mut offset = 0;
    let mut totals = Vec::new();
    loop {
        let body = raw_get(
            server.addr(),
            &format!("/offset/items?offset={offset}&limit=100"),
        )
        .json();
        let page = ids(&body["data"]);
        let total = body["meta"]["total"].as_u64().unwrap();
        totals.push(total);
        offset += page.len() as u64;
        seen.extend(page);
        if offset >= total {
            break;
        }
    }
    // Pages 1 and 2 saw the original rows; then ids 1, 8 and 15 went away,
    // so the rows shifted by 3: ids 201..=203 were never served.
    assert_eq!(&totals[..3], &[1050, 1050, 1052]);
    assert_eq!(seen[..200], before[..200]);
    assert_eq!(seen[200], 204);
    for id in [201, 202, 203] {
        assert!(!seen.contains(&id), "{id}");
    }
    assert_eq!(&seen[seen.len() - 5..], &[1051, 1052, 1053, 1054, 1055]);
    let after = server.ids();
    assert_eq!(after.len(), 1052);
    for id in [1, 8, 15] {
        assert!(!after.contains(&id));
    }
    assert!(after.contains(&22));
    // Inserted records are newer than every seeded one.
    let newest = |id: u64| server.record_value(id).unwrap()["updated_at"].clone();
    let max_seeded = (2..=1050)
        .filter_map(|id| server.record_value(id))
        .map(|v| v["updated_at"].as_str().unwrap().to_owned())
        .max()
        .unwrap();
    assert!(newest(1051).as_str().unwrap() > max_seeded.as_str());
    // Once only.
    for _ in 0..3 {
        raw_get(server.addr(), "/offset/items");
    }
    assert_eq!(server.ids(), after);
    assert_eq!(server.stats().faults, 0);
}

#[test]
fn control_endpoint_reads_validates_and_clears_faults() {
    let server = server_with(10, Faults::default());
    let got = raw_get(server.addr(), "/_faults");
    assert_eq!(got.status, 200);
    assert_eq!(got.header("access-control-allow-origin"), Some("*"));
    let shown = got.json();
    assert_eq!(shown["error_rate"], 0.0);
    assert_eq!(shown["rate_limit"], Value::Null);
    assert_eq!(shown["fail_paths"], json!([]));

    let wanted = json!({
        "error_rate": 0.25,
        "drop_rate": 0.1,
        "slow_rate": 0.5,
        "slow_ms": 10,
        "fail_paths": [{"contains": "page=3", "status": 503}],
        "mutate": {"after_requests": 100, "insert": 1, "delete": 1},
        "ack_loss_rate": 0.5
    });
    let got = raw(server.addr(), "POST", "/_faults", &[], &wanted.to_string());
    assert_eq!(got.status, 204, "{}", got.text());
    let faults = server.faults();
    assert_eq!(faults.error_rate, 0.25);
    assert_eq!(faults.slow_ms, 10);
    assert_eq!(faults.fail_paths[0].contains, "page=3");
    assert_eq!(faults.mutate.unwrap().after_requests, 100);
    assert_eq!(faults.null_rate, 0.0);
    let shown = raw_get(server.addr(), "/_faults").json();
    assert_eq!(serde_json::from_value::<Faults>(shown).unwrap(), faults);

    for bad in [
        "not json",
        "[]",
        r#"{"error_rate": 1.5}"#,
        r#"{"drop_rate": -0.1}"#,
        r#"{"eror_rate": 0.1}"#,
        r#"{"rate_limit": {"per_second": 1}}"#,
        r#"{"rate_limit": {"per_second": 1, "burst": 1, "retry_after": "later"}}"#,
        r#"{"fail_paths": [{"contains": "x", "status": 99}]}"#,
    ] {
        let got = raw(server.addr(), "POST", "/_faults", &[], bad);
        assert_eq!(got.status, 400, "{bad}");
        assert!(got.json()["error"].is_string());
    }
    assert_eq!(server.faults(), faults, "rejected bodies change nothing");

    assert_eq!(
        raw(server.addr(), "DELETE", "/_faults", &[], "").status,
        204
    );
    assert_eq!(server.faults(), Faults::default());
    assert_eq!(raw(server.addr(), "PUT", "/_faults", &[], "{}").status, 405);
    assert_eq!(
        server.stats().requests,
        0,
        "control requests are not counted"
    );
}

#[test]
fn binary_fault_flags() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pagewise-testserver"))
        .args([
            "--port",
            "0",
            "--records",
            "30",
            "--rate-limit-per-second",
            "1",
            "--rate-limit-burst",
            "2",
            "--retry-after",
            "http-date",
            "--error-rate",
            "0.5",
            "--drop-rate",
            "0.1",
            "--truncate-rate",
            "0.1",
            "--slow-rate",
            "0.2",
            "--slow-ms",
            "5",
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
        .unwrap()
        .to_owned();
    let addr = url.strip_prefix("http://").unwrap().parse().unwrap();
    let shown = raw_get(addr, "/_faults").json();
    // Burst 2: the third request is throttled.
    for _ in 0..2 {
        raw_get(addr, "/offset/items?limit=1");
    }
    let third = raw_get(addr, "/offset/items?limit=1");
    let _ = child.kill();
    let _ = child.wait();
    let faults: Faults = serde_json::from_value(shown).unwrap();
    assert_eq!(
        faults.rate_limit,
        Some(RateLimit {
            per_second: 1,
            burst: 2,
            retry_after: RetryAfter::HttpDate
        })
    );
    assert_eq!(
        (faults.error_rate, faults.drop_rate, faults.truncate_rate),
        (0.5, 0.1, 0.1)
    );
    assert_eq!((faults.slow_rate, faults.slow_ms), (0.2, 5));
    assert_eq!(third.status, 429);
    parse_http_date(third.header("retry-after").unwrap());

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_pagewise-testserver"))
        .args(["--port", "0", "--error-rate", "2"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

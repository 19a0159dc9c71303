//! Checkpoints: what they keep (latest cursors, within 256 KiB), resuming
//! from them, and numbers or pages they must refuse.

use pagewise::core::{Response, Sweep};
use pagewise::{Checkpoint, ErrorKind, Link, Pagination, Total};
use serde_json::{json, Value};
use web_time::Instant;

use crate::scenario::*;

#[test]
fn a_checkpoint_keeps_the_latest_cursors_and_a_resumed_sweep_still_catches_a_loop() {
    // 200 pages by cursor: a checkpoint does not grow with the sweep (it
    // keeps the latest 64 cursors seen; taking one each page stays cheap),
    // and a sweep resumed from it still stops at a recent cursor sent again.
    let scenario = || {
        Scenario::new(Pagination::cursor(Link::pointer("/next_cursor")), 1, 4)
            .fake(Fake::new(Style::CursorBody, 200))
    };
    let mut s = scenario().start();
    for _ in 0..150 {
        let sent = s.send();
        assert_eq!(sent.len(), 1, "a cursor sweep asks one page at a time");
        s.answer(&sent[0]);
        assert_eq!(s.events(), 1);
    }
    let checkpoint = s.sweep.checkpoint();
    let json = checkpoint.to_json();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let seen = v["learnt"]["seen"].as_array().expect("seen cursors");
    assert_eq!(seen.len(), 64, "{json}");
    assert_eq!(seen.last().unwrap(), "tok-150", "the latest kept");
    // Resumed: the next page (cursor tok-150) links back to tok-120.
    let resumed = Checkpoint::from_json(&json).unwrap();
    let body = json!({ "data": [record(151)], "next_cursor": "tok-120" });
    let s = scenario()
        .options(|o| o.resume(resumed))
        .on(
            format!("{ITEMS}?cursor=tok-150&limit=1"),
            Response::new(200, body.to_string()),
        )
        .run();
    assert_eq!(s.urls(), vec![format!("{ITEMS}?cursor=tok-150&limit=1")]);
    assert_eq!(s.error().kind(), ErrorKind::Loop, "{}", s.error());
    assert!(
        s.ids().is_empty(),
        "the page that links back is not handed out"
    );
}

/// A checkpoint keeps the latest cursors seen up to 256 KiB, whatever their
/// number and length: 20 cursors of 60 KiB leave the latest 4 (before, the
/// latest 64: 3.8 MB per checkpoint).
#[test]
fn a_checkpoint_keeps_at_most_256_kib_of_cursors_seen() {
    const LEN: usize = 60 * 1024;
    let a = api(Pagination::cursor(Link::pointer("/next")), 10, 1);
    let mut sweep = Sweep::new(a.spec(), items(), Instant::now()).unwrap();
    let cursor = |k: u64| format!("{k}-{}", "c".repeat(LEN));
    for k in 0..20u64 {
        let req = sweep.poll_request().expect("a request per page");
        let body = json!({"data": [{"id": k}], "next": cursor(k)});
        sweep.handle_response(
            id(&req),
            Ok(Response::new(200, body.to_string())),
            Instant::now(),
        );
        while sweep.poll_event().is_some() {}
    }
    let json = sweep.checkpoint().to_json();
    let c: Value = serde_json::from_str(&json).unwrap();
    let seen: Vec<String> = c["learnt"]["seen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, (16..20).map(cursor).collect::<Vec<_>>());
    assert!(json.len() < 256 * 1024 + 2 * LEN, "{} bytes", json.len());
    // Resumed from it, the sweep goes on at the latest cursor and still
    // catches one it keeps sent again (the page that sends it is not
    // handed out).
    let resumed = Checkpoint::from_json(&json).unwrap();
    let s = Scenario::new(Pagination::cursor(Link::pointer("/next")), 10, 1)
        .options(|o| o.resume(resumed))
        .serve(move |u| {
            assert_eq!(query(u)["cursor"], cursor(19));
            let body = json!({"data": [{"id": 20}], "next": cursor(18)});
            Ok(Response::new(200, body.to_string()))
        })
        .run();
    assert_eq!(s.ids(), Vec::<u64>::new());
    assert_eq!(s.error().kind(), ErrorKind::Loop);
}

#[test]
fn a_checkpoint_of_a_huge_total_resumes_a_few_pages_at_a_time() {
    let (c, w) = (2, 2);
    let scenario = || {
        Scenario::new(offset_header(), 100, c)
            .window(w)
            .serve(boasting(Style::Offset(Tot::Header), 100_000_000))
    };
    let mut s = scenario().start();
    s.send();
    s.answer(&off(0, 100));
    s.events();
    let json = s.sweep.checkpoint().to_json();
    assert!(json.len() < 2_000, "{json}");
    let resumed = Checkpoint::from_json(&json).unwrap();
    let again = resumed.clone();
    let s = scenario().options(|o| o.resume(again)).run();
    assert_eq!(s.urls(), (1..=8).map(|k| off(3 * k, 3)).collect::<Vec<_>>());
    assert_eq!(s.report().records, 3, "counted from the checkpoint");
    assert_eq!(s.report().complete, Some(false));
    // Resumed with a lower ceiling: the saved total is refused at once.
    let e = Sweep::new(
        s.api.spec(),
        items().max_total(1_000).resume(resumed),
        Instant::now(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Limit);
    assert!(e.message().contains("100000000"), "{e}");
}

#[test]
fn a_checkpoint_with_counts_at_the_limit_resumes_without_overflow() {
    // The largest numbers a checkpoint may hold count on without overflow
    // (a debug build panicked on `records: u64::MAX`; a release build wrapped).
    let scenario =
        || Scenario::new(offset_header(), 10, 2).fake(Fake::new(Style::Offset(Tot::Header), 30));
    let mut s = scenario().start();
    s.send();
    s.answer(&off(0, 10));
    s.events();
    let json = s.sweep.checkpoint().to_json();
    let max = Checkpoint::MAX_NUMBER.to_string();
    let big = json
        .replace("\"records\":10", &format!("\"records\":{max}"))
        .replace("\"requests\":1", &format!("\"requests\":{max}"));
    assert_ne!(big, json);
    let s = scenario()
        .options(|o| o.resume(Checkpoint::from_json(&big).unwrap()))
        .run();
    assert_eq!(s.report().records, Checkpoint::MAX_NUMBER + 20);
    assert_eq!(s.report().complete, Some(false));
    // One more is refused, as a typed error.
    let over = (Checkpoint::MAX_NUMBER + 1).to_string();
    for bad in [
        json.replace("\"records\":10", &format!("\"records\":{over}")),
        json.replace("\"records\":10", &format!("\"records\":{}", u64::MAX)),
    ] {
        let e = Checkpoint::from_json(&bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains("`records`"), "{e}");
    }
}

#[test]
fn a_checkpoint_page_before_the_first_page_is_a_config_error() {
    let p = Pagination::page_number().total(Total::header("X-Total-Count"));
    let mut s = Scenario::new(p, 10, 2)
        .fake(Fake::new(Style::Page(1, Tot::Header), 50))
        .start();
    s.send();
    s.answer(&page_url(1, 10));
    s.events();
    let json = s.sweep.checkpoint().to_json();
    assert!(json.contains("{\"kind\":\"page\",\"number\":2}"), "{json}");
    let bad = json.replace("\"number\":2}", "\"number\":0}");
    let e = Sweep::new(
        s.api.spec(),
        items().resume(Checkpoint::from_json(&bad).unwrap()),
        Instant::now(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(e.message().contains("before the first page"), "{e}");
}

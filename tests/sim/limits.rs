//! Ceilings: totals past `max_total` or past what a checkpoint holds, an
//! estimate past what a `Duration` holds, links past 64 KiB.

use std::time::Duration;

use pagewise::core::{Response, MAX_LINK_LEN};
use pagewise::{Checkpoint, ErrorKind, Link, Pagination};
use serde_json::json;

use crate::scenario::*;

#[test]
fn a_total_above_max_total_is_a_limit_error() {
    for tot in [Tot::Header, Tot::Pointer, Tot::Range] {
        let scenario = || Scenario::new(Pagination::offset().total(total_source(tot)), 100, 4);
        // The default ceiling, a billion records.
        let s = scenario()
            .serve(boasting(Style::Offset(tot), 1_000_000_001))
            .run();
        let e = s.error();
        assert_eq!(e.kind(), ErrorKind::Limit, "{tot:?}: {e}");
        assert_eq!(e.url(), Some(off(0, 100).as_str()));
        assert!(e.message().contains("1000000001"), "{e}");
        assert!(e.message().contains("max_total"), "{e}");
        assert!(e.message().contains("maxTotal"), "{e}");
        assert!(s.ids().is_empty(), "nothing of the page is handed out");
        // A lower ceiling of the caller's.
        let s = scenario()
            .options(|o| o.max_total(50))
            .fake(Fake::new(Style::Offset(tot), 51))
            .run();
        assert_eq!(s.error().kind(), ErrorKind::Limit);
        assert_eq!(s.urls(), vec![off(0, 100)]);
        // At the ceiling: fine.
        let s = scenario()
            .options(|o| o.max_total(51))
            .fake(Fake::new(Style::Offset(tot), 51))
            .run();
        assert_eq!(s.ids(), range(1, 51));
    }
}

#[test]
fn a_total_growing_past_max_total_mid_sweep_is_a_limit_error() {
    let s = Scenario::new(offset_header(), 10, 2)
        .options(|o| o.max_total(40))
        .serve(changing(Fake::new(Style::Offset(Tot::Header), 30), |ids| {
            if ids.len() == 30 {
                ids.extend(31..=45);
            }
        }))
        .run();
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
    assert_eq!((e.page(), e.url()), (Some(1), Some(off(10, 10).as_str())));
    assert_eq!(s.ids(), range(1, 10), "the pages before it are handed out");
}

#[test]
fn a_total_past_what_a_checkpoint_saves_is_a_limit_error_whatever_max_total() {
    // Found by the `sweep` fuzz target: with max_total(u64::MAX), a sweep
    // took a total of 13107332822478252175 and saved it in a checkpoint that
    // Checkpoint::from_json refuses (its numbers stop at 2^53 - 1): a
    // checkpoint the sweep could not be resumed from.
    let max = Checkpoint::MAX_NUMBER;
    let scenario = |ceiling: u64, total: u64| {
        Scenario::new(offset_header(), 100, 2)
            .options(|o| o.max_total(ceiling))
            .serve(boasting(Style::Offset(Tot::Header), total))
    };
    // The largest total a checkpoint holds: the sweep goes on, and its
    // checkpoint reads back.
    let mut s = scenario(u64::MAX, max).start();
    s.send();
    s.answer(&off(0, 100));
    assert_eq!(s.events(), 1);
    assert_eq!(s.send(), vec![off(3, 3), off(6, 3)]);
    let c = s.sweep.checkpoint();
    assert!(c.to_json().contains("\"total\":9007199254740991,"));
    assert_eq!(Checkpoint::from_json(&c.to_json()).unwrap(), c);
    // One more is refused as the sweep reads it, whatever max_total says.
    for ceiling in [max + 1, u64::MAX] {
        let s = scenario(ceiling, max + 1).run();
        let e = s.error();
        assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
        assert_eq!(e.url(), Some(off(0, 100).as_str()));
        assert!(e.message().contains("9007199254740992 records"), "{e}");
        assert!(e.message().contains("2^53 - 1"), "{e}");
        assert_eq!(s.urls(), vec![off(0, 100)]);
    }
}

#[test]
fn progress_two_hours_into_a_huge_total_has_no_eta_rather_than_a_panic() {
    // 2^53 - 1 records announced, 3 handed out: two hours in, the estimate
    // (2^53 / 3 times two hours) is past what a `Duration` holds, and
    // `Duration::mul_f64` panicked.
    let max = Checkpoint::MAX_NUMBER;
    let mut s = Scenario::new(offset_header(), 100, 2)
        .options(|o| o.max_total(u64::MAX))
        .serve(boasting(Style::Offset(Tot::Header), max))
        .start();
    s.send();
    s.answer(&off(0, 100));
    assert_eq!(s.events(), 1);
    let p = s.sweep.progress(s.now);
    assert_eq!((p.records, p.records_total), (3, Some(max)));
    assert!(p.eta.is_some(), "10 ms in: {p:?}");
    let later = s.now + Duration::from_secs(2 * 3600);
    let p = s.sweep.progress(later);
    assert_eq!(p.elapsed, STEP + Duration::from_secs(2 * 3600));
    assert_eq!(p.eta, None);
}

/// A cursor, next link or keyset value of more than `MAX_LINK_LEN` bytes
/// ends the sweep with a Limit error naming the page, after the pages
/// before it; one of exactly `MAX_LINK_LEN` bytes is followed.
#[test]
fn a_link_longer_than_64_kib_is_a_limit_error_naming_the_page() {
    assert_eq!(MAX_LINK_LEN, 64 * 1024);
    // The value page `k` hands out (page 2's is one byte too long).
    fn value(k: u64) -> String {
        let len = if k == 2 {
            MAX_LINK_LEN + 1
        } else {
            MAX_LINK_LEN
        };
        let mut v = format!("{k}-");
        v.push_str(&"x".repeat(len - v.len()));
        v
    }
    fn page_of(asked: &str) -> u64 {
        match asked.split_once('-') {
            Some((k, _)) => k.parse::<u64>().unwrap() + 1,
            None => 0,
        }
    }
    type Server = fn(&str) -> Answer;
    let cases: [(&str, Pagination, Server); 3] = [
        (
            "cursor",
            Pagination::cursor(Link::pointer("/next")).into(),
            |u| {
                let k = page_of(query(u).get("cursor").map_or("", |c| c.as_str()));
                // The collection ends at page 3 (should page 2's cursor be followed).
                let body = match k {
                    0..=2 => json!({"data": [{"id": k}], "next": value(k)}),
                    _ => json!({"data": [{"id": k}]}),
                };
                Ok(Response::new(200, body.to_string()))
            },
        ),
        (
            "next URL",
            Pagination::next_url(Link::pointer("/next")).into(),
            |u| {
                let k = page_of(query(u).get("p").map_or("", |c| c.as_str()));
                // The link's query makes it MAX_LINK_LEN (or one more) bytes long.
                let head = format!("{ITEMS}?p=");
                let v = value(k);
                let link = format!("{head}{}", &v[..v.len() - head.len()]);
                let body = match k {
                    0..=2 => json!({"data": [{"id": k}], "next": link}),
                    _ => json!({"data": [{"id": k}]}),
                };
                Ok(Response::new(200, body.to_string()))
            },
        ),
        ("keyset value", Pagination::keyset("k").into(), |u| {
            let asked = query(u)
                .into_iter()
                .find(|(n, _)| n != "limit")
                .map(|(_, v)| v);
            let k = page_of(asked.as_deref().unwrap_or(""));
            let body = match k {
                0..=2 => json!({"data": [{"id": k, "k": value(k)}]}),
                _ => json!({"data": []}),
            };
            Ok(Response::new(200, body.to_string()))
        }),
    ];
    for (what, p, server) in cases {
        let s = Scenario::new(p, 10, 1).serve(server).run();
        assert_eq!(
            s.ids(),
            vec![0, 1],
            "{what}: the pages before it are handed out"
        );
        let e = s.error();
        assert_eq!(e.kind(), ErrorKind::Limit, "{what}: {e}");
        assert_eq!(e.page(), Some(2), "{what}: {e}");
        assert!(
            e.message()
                .contains(&format!("a {what} of {} bytes", MAX_LINK_LEN + 1)),
            "{what}: {e}"
        );
    }
}

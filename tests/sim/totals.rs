//! Totals that change during a sweep, totals a server cannot back, and what
//! a report may claim.

use pagewise::core::{Notice, Response, MAX_NOTICES};
use pagewise::{Pagination, Total};
use serde_json::{json, Value};

use crate::scenario::*;

#[test]
fn a_growing_total_plans_more_pages() {
    let s = Scenario::new(offset_header(), 10, 2)
        .serve(changing(Fake::new(Style::Offset(Tot::Header), 30), |ids| {
            if ids.len() == 30 {
                ids.extend(31..=45); // rows added once the sweep has started
            }
        }))
        .run();
    assert_eq!(
        s.urls(),
        (0..5).map(|k| off(10 * k, 10)).collect::<Vec<_>>()
    );
    assert_eq!(s.ids(), range(1, 45));
    assert_eq!(
        s.notices,
        vec![Notice::TotalChanged {
            from: 30,
            to: 45,
            page: 1
        }]
    );
    assert_eq!(
        (s.report().total, s.report().complete),
        (Some(45), Some(false))
    );
    // Every row came, but a sweep cannot tell rows added at the end from
    // rows shifted past the pages it fetched: it does not claim complete.
    assert!(s.report().changed_during_sweep);
}

#[test]
fn a_shrinking_total_is_noticed() {
    let s = Scenario::new(offset_header(), 10, 2)
        .serve(changing(Fake::new(Style::Offset(Tot::Header), 30), |ids| {
            ids.truncate(25)
        }))
        .run();
    assert_eq!(s.urls(), vec![off(0, 10), off(10, 10), off(20, 10)]);
    assert_eq!(s.ids(), range(1, 25));
    assert_eq!(
        s.notices,
        vec![Notice::TotalChanged {
            from: 30,
            to: 25,
            page: 1
        }]
    );
    assert_eq!(
        (s.report().total, s.report().complete),
        (Some(25), Some(false))
    );
    // The count matches the new total, but rows removed before the pages
    // fetched would have shifted rows out of them: not claimed complete.
    assert!(s.report().changed_during_sweep);
}

#[test]
fn a_growing_page_number_total_plans_more_pages() {
    let p = Pagination::page_number()
        .first_page(0)
        .total(Total::header("X-Total-Count"));
    let s = Scenario::new(p, 10, 4)
        .serve(changing(
            Fake::new(Style::Page(0, Tot::Header), 20),
            |ids| {
                if ids.len() == 20 {
                    ids.extend(21..=35);
                }
            },
        ))
        .run();
    assert_eq!(
        s.urls(),
        (0..4).map(|p| page_url(p, 10)).collect::<Vec<_>>()
    );
    assert_eq!(s.ids(), range(1, 35));
    assert_eq!(
        s.notices,
        vec![Notice::TotalChanged {
            from: 20,
            to: 35,
            page: 1
        }]
    );
}

/// A collection of 1000 rows: 100 of the first 500 are deleted after the
/// first five pages were fetched. An offset sweep then never sees 100 live
/// rows (they shifted into pages already fetched) and hands out 100 deleted
/// ones; the count matches the new total all the same. The report must not
/// say complete (it said `Some(true)` before).
#[test]
fn complete_is_not_claimed_when_rows_were_deleted_under_an_offset_sweep() {
    let mut rows: Vec<u64> = (0..1000).collect();
    let s = Scenario::new(Pagination::offset().total(Total::pointer("/total")), 100, 1)
        .window(1)
        .serve(move |u| {
            let (off, lim) = (param(u, "offset") as usize, param(u, "limit") as usize);
            if off == 500 && rows.len() == 1000 {
                rows.retain(|r| !(100..200).contains(r));
            }
            let page: Vec<Value> = rows
                .iter()
                .skip(off)
                .take(lim)
                .map(|i| json!({ "id": i }))
                .collect();
            Ok(Response::new(
                200,
                json!({"total": rows.len(), "data": page}).to_string(),
            ))
        })
        .run();
    assert_eq!(
        s.urls(),
        (0..9).map(|k| off(100 * k, 100)).collect::<Vec<_>>()
    );
    // Rows 500..600 shifted to offsets 400..500, already fetched: never handed out.
    let want: Vec<u64> = (0..500).chain(600..1000).collect();
    assert_eq!(s.ids(), want);
    let r = s.report();
    assert_eq!((r.records, r.total), (900, Some(900)));
    assert!(r.changed_during_sweep);
    assert_eq!(
        r.complete,
        Some(false),
        "100 live rows were never handed out"
    );
    assert_eq!(
        r.notices,
        vec![Notice::TotalChanged {
            from: 1000,
            to: 900,
            page: 5
        }]
    );
}

/// A server that flips its total on every page raises a TotalChanged notice
/// per page; the report keeps the first `MAX_NOTICES` and counts the rest
/// (before, it kept one per page, for the whole sweep).
#[test]
fn a_total_that_flips_on_every_page_keeps_the_report_bounded() {
    let mut n = 0u64;
    let s = Scenario::new(offset_header(), 5, 1)
        .serve(move |u| {
            let (from, lim) = (param(u, "offset"), param(u, "limit"));
            n += 1;
            let ids: Vec<Value> = (from + 1..=(from + lim).min(1000))
                .map(|i| json!({ "id": i }))
                .collect();
            // 1000 records; every other answer says 999.
            let total = if n % 2 == 0 { 999 } else { 1000 };
            Ok(Response::new(200, json!({ "data": ids }).to_string())
                .with_header("X-Total-Count", total.to_string()))
        })
        .run();
    let r = s.report();
    let changes = s
        .notices
        .iter()
        .filter(|n| matches!(n, Notice::TotalChanged { .. }))
        .count();
    assert!(changes >= 199, "one TotalChanged event per page: {changes}");
    assert_eq!(r.notices.len(), MAX_NOTICES);
    assert_eq!(r.notices[..], s.notices[..MAX_NOTICES]);
    assert_eq!(r.notices_dropped, (s.notices.len() - MAX_NOTICES) as u64);
    assert!(r.changed_during_sweep);
    assert_eq!(r.complete, Some(false));
}

#[test]
fn a_huge_total_with_a_short_first_page_plans_pages_a_few_at_a_time() {
    // 3 records, 100 000 000 announced, 100 asked per page: the first page
    // makes the page size 3 (a server cap, as far as the sweep can tell),
    // which an all-at-once plan turned into 33 million pages (2 GiB, then
    // an abort). Pages are planned 2 × (concurrency + window) ahead, and the
    // first empty page ends the planning.
    let (c, w) = (4, 2);
    for tot in [Tot::Header, Tot::Pointer, Tot::Range] {
        let mut s = Scenario::new(Pagination::offset().total(total_source(tot)), 100, c)
            .window(w)
            .serve(boasting(Style::Offset(tot), 100_000_000))
            .start();
        s.send();
        s.answer(&off(0, 100));
        s.events();
        let p = s.sweep.progress(s.now);
        assert_eq!(p.pages_total, Some(1 + 33_333_333), "{tot:?}");
        let checkpoint = s.sweep.checkpoint();
        assert_eq!(checkpoint.pages_pending(), 2 * (c + w), "{tot:?}");
        s.run(Pick::Fifo);
        let want: Vec<String> = std::iter::once(off(0, 100))
            .chain((1..=12).map(|k| off(3 * k, 3)))
            .collect();
        assert_eq!(s.urls(), want, "{tot:?}");
        assert_eq!(s.ids(), vec![1, 2, 3]);
        let r = s.report();
        assert_eq!((r.total, r.complete), (Some(100_000_000), Some(false)));
        assert_eq!(
            r.notices[0],
            Notice::ShortPage {
                page: 1,
                expected: 3,
                got: 0
            }
        );
    }
}

#[test]
fn a_huge_page_number_total_plans_pages_a_few_at_a_time() {
    let (c, w) = (3, 3);
    for first in [0, 1] {
        let p = Pagination::page_number()
            .first_page(first)
            .total(Total::header("X-Total-Count"));
        let s = Scenario::new(p, 10, c)
            .window(w)
            .pick(Pick::Lifo)
            .serve(boasting(Style::Page(first, Tot::Header), 100_000_000))
            .run();
        let mut asked = s.urls();
        asked.sort();
        let mut want: Vec<String> = (first..=first + 12).map(|p| page_url(p, 10)).collect();
        want.sort();
        assert_eq!(asked, want);
        assert_eq!(s.ids(), vec![1, 2, 3]);
        assert_eq!(s.report().complete, Some(false));
    }
}

#[test]
fn normal_totals_are_asked_for_in_the_same_order_as_planned_all_at_once() {
    // 1000 pages, concurrency 3 + window 2: the lazily planned sweep sends
    // the very URLs, in the very order, of a plan made all at once.
    let s = Scenario::new(offset_header(), 10, 3)
        .window(2)
        .pick(Pick::Seeded(7))
        .fake(Fake::new(Style::Offset(Tot::Header), 10_000))
        .run();
    assert_eq!(
        s.urls(),
        (0..1000).map(|k| off(10 * k, 10)).collect::<Vec<_>>()
    );
    assert_eq!(s.ids(), range(1, 10_000));
    assert_eq!(s.report().complete, Some(true));
}

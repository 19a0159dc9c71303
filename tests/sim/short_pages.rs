//! Row-losing traps: servers that cap the page size, answer short or empty
//! pages mid-sweep, or send more than asked.

use pagewise::core::Notice;
use pagewise::{Pagination, Total};

use crate::scenario::*;

#[test]
fn a_server_capping_the_page_size_is_detected_offset() {
    let s = Scenario::new(offset_header(), 100, 8)
        .pick(Pick::Seeded(5))
        .fake(Fake::new(Style::Offset(Tot::Header), 1000).cap(40))
        .run();
    let mut want = vec![off(0, 100)];
    want.extend((1..25).map(|k| off(40 * k, 40)));
    assert_eq!(s.urls(), want);
    assert_eq!(s.ids(), range(1, 1000));
    assert!(s.notices.is_empty(), "{:?}", s.notices);
    assert_eq!(s.report().complete, Some(true));
}

#[test]
fn a_server_capping_the_page_size_is_detected_page_number() {
    let s = Scenario::new(
        Pagination::page_number().total(Total::pointer("/meta/total")),
        100,
        8,
    )
    .pick(Pick::Seeded(9))
    .fake(Fake::new(Style::Page(1, Tot::Pointer), 1000).cap(40))
    .run();
    assert_eq!(
        s.urls(),
        (1..=25).map(|p| page_url(p, 100)).collect::<Vec<_>>()
    );
    assert_eq!(s.ids(), range(1, 1000));
    assert!(s.notices.is_empty(), "{:?}", s.notices);
}

#[test]
fn a_short_page_mid_sweep_refetches_the_missing_range() {
    let s = Scenario::new(offset_header(), 10, 8)
        .fake(Fake::new(Style::Offset(Tot::Header), 50))
        .on(off(20, 10), Reply::Short(6))
        .run();
    assert_eq!(
        s.urls(),
        vec![
            off(0, 10),
            off(10, 10),
            off(20, 10),
            off(30, 10),
            off(40, 10),
            off(26, 4)
        ]
    );
    assert_eq!(s.ids(), range(1, 50));
    assert_eq!(
        s.notices,
        vec![Notice::ShortPage {
            page: 2,
            expected: 10,
            got: 6
        }]
    );
    assert_eq!(
        s.page_urls(),
        vec![
            off(0, 10),
            off(10, 10),
            off(20, 10),
            off(26, 4),
            off(30, 10),
            off(40, 10)
        ]
    );
    assert_eq!(s.report().complete, Some(true));
}

#[test]
fn a_short_refetch_is_refetched_again() {
    let s = Scenario::new(offset_header(), 10, 8)
        .pick(Pick::Lifo)
        .fake(Fake::new(Style::Offset(Tot::Header), 50))
        .on(off(20, 10), Reply::Short(6))
        .on(off(26, 4), Reply::Short(2))
        .run();
    let mut asked = s.urls();
    asked.sort();
    let mut want = vec![
        off(0, 10),
        off(10, 10),
        off(20, 10),
        off(30, 10),
        off(40, 10),
        off(26, 4),
        off(28, 2),
    ];
    want.sort();
    assert_eq!(asked, want);
    assert_eq!(s.ids(), range(1, 50));
    assert_eq!(
        s.notices,
        vec![
            Notice::ShortPage {
                page: 2,
                expected: 10,
                got: 6
            },
            Notice::ShortPage {
                page: 2,
                expected: 4,
                got: 2
            },
        ]
    );
}

#[test]
fn short_pages_under_shuffled_concurrency_lose_no_row() {
    // Every third page answers short, every answer order: no gap, no duplicate.
    for seed in 1..=12 {
        let fake = Fake::new(Style::Offset(Tot::Header), 120);
        let mut n = 0;
        let s = Scenario::new(offset_header(), 10, 4)
            .window(3)
            .pick(Pick::Seeded(seed))
            .serve(move |u| {
                n += 1;
                let resp = fake.respond(u);
                Ok(if n % 3 == 0 {
                    keep_first(resp, 3)
                } else {
                    resp
                })
            })
            .run();
        assert_eq!(s.ids(), range(1, 120), "seed {seed}");
        assert_eq!(s.report().complete, Some(true), "seed {seed}");
        assert!(!s.notices.is_empty());
    }
}

#[test]
fn a_refetch_does_not_stretch_the_window() {
    // concurrency 3 + window 1: at most 4 pages held or in flight, refetches included.
    let (c, w) = (3, 1);
    let mut s = Scenario::new(offset_header(), 10, c)
        .window(w)
        .fake(Fake::new(Style::Offset(Tot::Header), 100))
        .on(off(20, 10), Reply::Short(6))
        .start();
    s.send();
    s.answer(&off(0, 10));
    assert_eq!(s.send(), vec![off(10, 10), off(20, 10), off(30, 10)]);
    s.events();
    s.answer(&off(30, 10));
    assert_eq!(s.send(), vec![off(40, 10)]);
    s.answer(&off(20, 10)); // short: rows 27..=30 must be fetched again
    s.events();
    // Pages 1 (in flight), 2, 3 (done) and 4 (in flight) fill the window:
    // the refetch waits for room.
    assert_eq!(s.send(), Vec::<String>::new());
    s.answer(&off(40, 10));
    assert_eq!(s.send(), Vec::<String>::new());
    s.answer(&off(10, 10));
    assert_eq!(
        s.events(),
        2,
        "pages 1 and 2; the rest waits for the refetch"
    );
    assert_eq!(
        s.send(),
        vec![off(26, 4), off(50, 10)],
        "the refetch goes first"
    );
    s.run(Pick::Lifo);
    assert_eq!(s.ids(), range(1, 100));
    assert!(s.report().max_buffered_pages <= c + w);
}

#[test]
fn an_empty_page_mid_sweep_is_noticed_and_reported_incomplete() {
    let s = Scenario::new(offset_header(), 10, 8)
        .fake(Fake::new(Style::Offset(Tot::Header), 50))
        .on(off(20, 10), Reply::Short(0))
        .run();
    assert_eq!(
        s.notices,
        vec![Notice::ShortPage {
            page: 2,
            expected: 10,
            got: 0
        }]
    );
    let mut want = range(1, 20);
    want.extend(range(31, 50));
    assert_eq!(s.ids(), want);
    assert_eq!(
        s.report().complete,
        Some(false),
        "missing rows show in the report"
    );
}

#[test]
fn a_short_page_number_page_is_noticed() {
    let s = Scenario::new(
        Pagination::page_number().total(Total::pointer("/meta/total")),
        10,
        8,
    )
    .fake(Fake::new(Style::Page(1, Tot::Pointer), 50))
    .on(page_url(3, 10), Reply::Short(6))
    .run();
    assert_eq!(
        s.urls(),
        (1..=5).map(|p| page_url(p, 10)).collect::<Vec<_>>()
    );
    assert_eq!(
        s.notices,
        vec![Notice::ShortPage {
            page: 2,
            expected: 10,
            got: 6
        }]
    );
    let mut want = range(1, 26);
    want.extend(range(31, 50));
    assert_eq!(s.ids(), want);
    assert_eq!(s.report().complete, Some(false));
}

#[test]
fn a_server_sending_more_than_asked_does_not_repeat_rows() {
    let fake = Fake::new(Style::Offset(Tot::Header), 45);
    // The server ignores the limit and sends 15 records per page.
    let s = Scenario::new(offset_header(), 10, 4)
        .serve(move |u| {
            let from = param(u, "offset");
            let ids: Vec<u64> = fake.slice(from, 15).to_vec();
            Ok(fake.with_total(from, ids, Tot::Header))
        })
        .run();
    assert_eq!(s.ids(), range(1, 45));
    // No row is repeated or lost: the extra records of each page are left
    // out and asked for at their own offset, so complete stands.
    assert_eq!(s.report().complete, Some(true));
    assert!(s.report().changed_during_sweep);
    assert!(
        s.notices.contains(&Notice::OversizedPage {
            page: 0,
            asked: 10,
            got: 15
        }),
        "{:?}",
        s.notices
    );
}

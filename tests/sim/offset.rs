//! Offset and page-number paging: totals from a header, a JSON pointer or
//! `Content-Range`, or none; query parameters and per-list options.

use pagewise::core::Notice;
use pagewise::{Pagination, Total};

use crate::scenario::*;

#[test]
fn offset_total_from_header_fans_out_in_page_order() {
    let s = Scenario::new(offset_header(), 5, 3)
        .pick(Pick::Lifo)
        .fake(Fake::new(Style::Offset(Tot::Header), 23))
        .run();
    assert_eq!(
        s.urls(),
        vec![off(0, 5), off(5, 5), off(10, 5), off(15, 5), off(20, 5)]
    );
    assert_eq!(s.ids(), range(1, 23));
    assert_eq!(s.page_urls(), s.urls());
    let r = s.report();
    assert_eq!((r.records, r.pages, r.requests), (23, 5, 5));
    assert_eq!((r.total, r.complete), (Some(23), Some(true)));
    assert!(r.notices.is_empty());
    assert_eq!(s.max_in_flight, 3);
    assert_ne!(s.answered, s.urls(), "answers came out of order");
}

#[test]
fn offset_total_from_json_pointer() {
    let s = Scenario::new(
        Pagination::offset().total(Total::pointer("/meta/total")),
        5,
        4,
    )
    .pick(Pick::Seeded(7))
    .fake(Fake::new(Style::Offset(Tot::Pointer), 23))
    .run();
    assert_eq!(
        s.urls(),
        vec![off(0, 5), off(5, 5), off(10, 5), off(15, 5), off(20, 5)]
    );
    assert_eq!(s.ids(), range(1, 23));
    assert_eq!(
        (s.report().total, s.report().complete),
        (Some(23), Some(true))
    );
    assert_eq!(s.max_in_flight, 4);
}

#[test]
fn offset_total_from_content_range() {
    let s = Scenario::new(Pagination::offset().total(Total::ContentRange), 5, 2)
        .fake(Fake::new(Style::Offset(Tot::Range), 12))
        .run();
    assert_eq!(s.urls(), vec![off(0, 5), off(5, 5), off(10, 5)]);
    assert_eq!(s.ids(), range(1, 12));
    assert_eq!(
        (s.report().total, s.report().complete),
        (Some(12), Some(true))
    );
    assert_eq!(s.max_in_flight, 2);
}

#[test]
fn offset_with_total_configured_but_missing_walks_in_sequence() {
    let s = Scenario::new(offset_header(), 5, 4)
        .fake(Fake::new(Style::Offset(Tot::No), 12))
        .run();
    assert_eq!(s.urls(), vec![off(0, 5), off(5, 5), off(10, 5)]);
    assert_eq!(s.ids(), range(1, 12));
    assert_eq!(s.notices, vec![Notice::TotalMissing { page: 0 }]);
    assert_eq!((s.report().total, s.report().complete), (None, None));
    assert_eq!(s.max_in_flight, 1);
}

#[test]
fn offset_without_total_ends_on_a_shorter_page() {
    let s = Scenario::new(Pagination::offset(), 5, 4)
        .fake(Fake::new(Style::Offset(Tot::No), 23))
        .run();
    assert_eq!(
        s.urls(),
        vec![off(0, 5), off(5, 5), off(10, 5), off(15, 5), off(20, 5)]
    );
    assert_eq!(s.ids(), range(1, 23));
    assert_eq!(s.max_in_flight, 1, "no total: one page at a time");
    assert!(s.notices.is_empty(), "no total configured, none missing");
    assert_eq!((s.report().total, s.report().complete), (None, None));
}

#[test]
fn offset_without_total_ends_on_an_empty_page() {
    let s = Scenario::new(Pagination::offset(), 5, 4)
        .fake(Fake::new(Style::Offset(Tot::No), 20))
        .run();
    assert_eq!(
        s.urls(),
        vec![off(0, 5), off(5, 5), off(10, 5), off(15, 5), off(20, 5)]
    );
    assert_eq!(s.ids(), range(1, 20));
    assert_eq!(s.pages.len(), 5, "the empty last page is handed out too");
    assert!(s.pages[4].records.is_empty());
}

#[test]
fn offset_without_total_advances_by_records_received() {
    // Asked 10, the server hands out 4: offsets advance by 4, nothing is skipped.
    let s = Scenario::new(Pagination::offset(), 10, 4)
        .fake(Fake::new(Style::Offset(Tot::No), 12).cap(4))
        .run();
    assert_eq!(
        s.urls(),
        vec![off(0, 10), off(4, 10), off(8, 10), off(12, 10)]
    );
    assert_eq!(s.ids(), range(1, 12));
}

#[test]
fn page_number_first_page_1_with_total() {
    let p = Pagination::page_number().total(Total::pointer("/meta/total"));
    let s = Scenario::new(p, 5, 8)
        .pick(Pick::Lifo)
        .fake(Fake::new(Style::Page(1, Tot::Pointer), 23))
        .run();
    assert_eq!(
        s.urls(),
        (1..=5).map(|p| page_url(p, 5)).collect::<Vec<_>>()
    );
    assert_eq!(s.ids(), range(1, 23));
    assert_eq!(s.max_in_flight, 4, "all four remaining pages at once");
    assert_eq!(
        (s.report().total, s.report().complete),
        (Some(23), Some(true))
    );
}

#[test]
fn page_number_first_page_0_with_total() {
    let p = Pagination::page_number()
        .first_page(0)
        .total(Total::header("X-Total-Count"));
    let s = Scenario::new(p, 5, 8)
        .pick(Pick::Seeded(3))
        .fake(Fake::new(Style::Page(0, Tot::Header), 25))
        .run();
    assert_eq!(
        s.urls(),
        (0..=4).map(|p| page_url(p, 5)).collect::<Vec<_>>()
    );
    assert_eq!(s.ids(), range(1, 25));
    assert_eq!(
        (s.report().total, s.report().complete),
        (Some(25), Some(true))
    );
}

#[test]
fn page_number_without_total_first_page_1() {
    let run = |n| {
        Scenario::new(Pagination::page_number(), 5, 8)
            .fake(Fake::new(Style::Page(1, Tot::No), n))
            .run()
    };
    let s = run(23);
    assert_eq!(
        s.urls(),
        (1..=5).map(|p| page_url(p, 5)).collect::<Vec<_>>()
    );
    assert_eq!(s.ids(), range(1, 23));
    assert_eq!(s.max_in_flight, 1);
    // An exact multiple ends on the empty page after it.
    let s = run(25);
    assert_eq!(
        s.urls(),
        (1..=6).map(|p| page_url(p, 5)).collect::<Vec<_>>()
    );
    assert_eq!(s.ids(), range(1, 25));
}

#[test]
fn page_number_without_total_first_page_0() {
    let s = Scenario::new(Pagination::page_number().first_page(0), 5, 8)
        .fake(Fake::new(Style::Page(0, Tot::No), 10))
        .run();
    assert_eq!(
        s.urls(),
        vec![page_url(0, 5), page_url(1, 5), page_url(2, 5)]
    );
    assert_eq!(s.ids(), range(1, 10));
}

#[test]
fn default_and_list_query_parameters_come_before_paging_ones() {
    let s = Scenario::new(offset_header(), 5, 2)
        .api(|b| b.query("v", "2"))
        .options(|o| o.query("active", "true"))
        .fake(Fake::new(Style::Offset(Tot::Header), 7))
        .run();
    assert_eq!(
        s.urls(),
        vec![
            format!("{ITEMS}?v=2&active=true&offset=0&limit=5"),
            format!("{ITEMS}?v=2&active=true&offset=5&limit=5"),
        ]
    );
    assert_eq!(s.ids(), range(1, 7));
}

#[test]
fn list_options_override_page_size_and_cannot_exceed_api_concurrency() {
    let s = Scenario::new(offset_header(), 100, 3)
        .options(|o| o.page_size(10).concurrency(50))
        .fake(Fake::new(Style::Offset(Tot::Header), 95))
        .run();
    assert_eq!(
        s.urls(),
        (0..10).map(|k| off(10 * k, 10)).collect::<Vec<_>>()
    );
    assert_eq!(s.max_in_flight, 3);
    assert_eq!(s.ids(), range(1, 95));
    let s = Scenario::new(offset_header(), 100, 3)
        .options(|o| o.page_size(10).concurrency(2))
        .bounds(2, 2)
        .fake(Fake::new(Style::Offset(Tot::Header), 95))
        .run();
    assert_eq!(s.max_in_flight, 2);
}

//! Pages served twice: a server that ignores the page asked for is a
//! Duplicate error, unless repeated pages are allowed.

use pagewise::core::Response;
use pagewise::{ErrorKind, Pagination, Total};
use serde_json::json;

use crate::scenario::*;

/// A server whose pages start at 1 and that answers page 0 as page 1
/// (`?page=0` is clamped), over `n` records, 10 a page.
fn first_page_1_server(n: u64, tot: Tot) -> impl FnMut(&str) -> Answer {
    let fake = Fake::new(Style::Page(1, tot), n);
    move |u| Ok(fake.respond(&u.replace("page=0&", "page=1&")))
}

#[test]
fn page_0_served_as_page_1_is_a_duplicate_error_naming_both_pages() {
    for tot in [Tot::Header, Tot::No] {
        let mut p = Pagination::page_number().first_page(0);
        if tot == Tot::Header {
            p = p.total(Total::header("X-Total-Count"));
        }
        let s = Scenario::new(p, 10, 4)
            .serve(first_page_1_server(2_000, tot))
            .run();
        let e = s.error();
        assert_eq!(e.kind(), ErrorKind::Duplicate, "{tot:?}: {e}");
        assert_eq!(e.page(), Some(1));
        assert_eq!(e.url(), Some(page_url(1, 10).as_str()));
        for says in [
            "pages 0 (",
            &page_url(0, 10),
            ") and 1 (",
            &page_url(1, 10),
            "same 10 records",
            "first_page",
            "firstPage",
        ] {
            assert!(e.message().contains(says), "{tot:?}: {says:?} in {e}");
        }
        assert_eq!(s.ids(), range(1, 10), "{tot:?}: no copy is handed out");
    }
}

#[test]
fn a_duplicate_arriving_first_still_hands_out_no_copy() {
    // Pages 3 and 5 alike (answered 5 first): the sweep hands out pages 0..=2
    // and stops, whichever of the two came in first.
    let fake = Fake::new(Style::Offset(Tot::Header), 100);
    let s = Scenario::new(offset_header(), 10, 8)
        .pick(Pick::Lifo)
        .on(off(30, 10), fake.respond(&off(50, 10)))
        .fake(fake)
        .run();
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Duplicate, "{e}");
    assert!(e.message().contains("pages 3 ("), "{e}");
    assert!(e.message().contains(") and 5 ("), "{e}");
    assert!(e.message().contains("ignore the page asked for"), "{e}");
    assert_eq!(s.ids(), range(1, 30));
}

#[test]
fn a_server_ignoring_the_offset_without_a_total_is_a_duplicate_error() {
    // Without the check this sweep never ends: every page is full.
    let fake = Fake::new(Style::Offset(Tot::No), 100);
    let s = Scenario::new(Pagination::offset(), 10, 4)
        .serve(move |_| Ok(fake.respond(&off(0, 10))))
        .run();
    assert_eq!(s.error().kind(), ErrorKind::Duplicate);
    assert_eq!(s.urls(), vec![off(0, 10), off(10, 10)]);
    assert_eq!(s.ids(), range(1, 10));
}

#[test]
fn pages_alike_are_handed_out_with_allow_repeated_pages() {
    // Records that may repeat (the same id here, as the test's driver
    // reads ids; records without one are the usual case): two pages may be
    // byte for byte the same.
    let server = |u: &str| {
        let n = if param(u, "offset") == 4 { 1 } else { 2 };
        let body = json!({ "data": vec![json!({ "id": 7, "ok": true }); n] });
        Ok(Response::new(200, body.to_string()).with_header("X-Total-Count", "5"))
    };
    let s = Scenario::new(offset_header(), 2, 4).serve(server).run();
    assert_eq!(s.error().kind(), ErrorKind::Duplicate);
    let s = Scenario::new(offset_header(), 2, 4)
        .options(|o| o.allow_repeated_pages(true))
        .serve(server)
        .run();
    assert_eq!(s.report().records, 5);
    assert_eq!(s.report().complete, Some(true));
}

#[test]
fn an_empty_page_and_a_repeated_empty_page_are_not_duplicates() {
    // Empty pages carry no rows to repeat: the sweep ends as before.
    let s = Scenario::new(Pagination::offset(), 5, 2)
        .fake(Fake::new(Style::Offset(Tot::No), 10))
        .run();
    assert_eq!(s.ids(), range(1, 10));
}

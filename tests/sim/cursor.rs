//! Cursor paging: the next cursor from a JSON pointer or a header, and loops.

use pagewise::{ErrorKind, Link, Pagination};

use crate::scenario::*;

#[test]
fn cursor_from_json_pointer() {
    let s = Scenario::new(Pagination::cursor(Link::pointer("/next_cursor")), 5, 8)
        .fake(Fake::new(Style::CursorBody, 12))
        .run();
    assert_eq!(
        s.urls(),
        vec![
            format!("{ITEMS}?limit=5"),
            format!("{ITEMS}?cursor=tok-5&limit=5"),
            format!("{ITEMS}?cursor=tok-10&limit=5"),
        ]
    );
    assert_eq!(s.ids(), range(1, 12));
    assert_eq!(s.max_in_flight, 1);
    assert_eq!((s.report().total, s.report().complete), (None, None));
}

#[test]
fn cursor_from_header() {
    let s = Scenario::new(Pagination::cursor(Link::header("X-Next-Cursor")), 5, 8)
        .fake(Fake::new(Style::CursorHeader, 15))
        .run();
    assert_eq!(
        s.urls(),
        vec![
            format!("{ITEMS}?limit=5"),
            format!("{ITEMS}?cursor=tok-5&limit=5"),
            format!("{ITEMS}?cursor=tok-10&limit=5"),
        ]
    );
    assert_eq!(s.ids(), range(1, 15), "an empty header ends the sweep");
}

#[test]
fn a_cursor_seen_twice_is_a_loop() {
    let s = Scenario::new(
        Pagination::cursor(Link::pointer("/next_cursor")).limit_param(None),
        2,
        4,
    )
    .serve(cursor_chain(&[
        ("", Some("A")),
        ("A", Some("B")),
        ("B", Some("A")),
    ]))
    .run();
    assert_eq!(
        s.urls(),
        vec![
            ITEMS.to_string(),
            format!("{ITEMS}?cursor=A"),
            format!("{ITEMS}?cursor=B")
        ]
    );
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Loop);
    assert_eq!(e.url(), Some(format!("{ITEMS}?cursor=B").as_str()));
    assert_eq!(e.page(), Some(2));
    let text = e.to_string();
    assert!(
        text.contains(&format!("{ITEMS}?cursor=B")) && text.contains("page 2"),
        "{text}"
    );
    assert_eq!(
        s.ids(),
        vec![1, 2, 11, 12],
        "pages before the loop are intact, none after"
    );
}

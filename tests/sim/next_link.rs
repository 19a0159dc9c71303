//! Next-URL paging: links from a JSON pointer or a `Link` header, resolved
//! against the page that holds them, and loops.

use pagewise::{ErrorKind, Link, Pagination};

use crate::scenario::*;

fn next_urls_23_by_5() -> Vec<String> {
    vec![
        format!("{ITEMS}?limit=5"),
        format!("{ITEMS}?start=5&limit=5"),
        "https://api.example/v2/list?start=10&limit=5".to_string(),
        // "?start=15..." resolved against the page that held it, not the base URL.
        "https://api.example/v2/list?start=15&limit=5".to_string(),
        format!("{ITEMS}?start=20&limit=5"),
    ]
}

#[test]
fn next_url_from_json_pointer_resolves_relative_links_against_the_page() {
    let s = Scenario::new(Pagination::next_url(Link::pointer("/links/next")), 5, 8)
        .fake(Fake::new(Style::NextBody, 23))
        .run();
    assert_eq!(s.urls(), next_urls_23_by_5());
    assert_eq!(s.page_urls(), next_urls_23_by_5());
    assert_eq!(s.ids(), range(1, 23));
    assert_eq!(s.max_in_flight, 1);
}

#[test]
fn next_url_from_link_header() {
    let s = Scenario::new(Pagination::next_url(Link::LinkHeader), 5, 8)
        .fake(Fake::new(Style::NextLink, 23))
        .run();
    assert_eq!(s.urls(), next_urls_23_by_5());
    assert_eq!(s.ids(), range(1, 23));
}

fn links_at_next() -> Scenario {
    Scenario::new(
        Pagination::next_url(Link::pointer("/next")).limit_param(None),
        2,
        4,
    )
}

#[test]
fn a_next_url_seen_twice_is_a_loop() {
    let s = links_at_next()
        .serve(link_chain(&[
            ("https://api.example/v1/items", Some("items?p=2")),
            ("https://api.example/v1/items?p=2", Some("/v1/items?p=3")),
            ("https://api.example/v1/items?p=3", Some("?p=2")),
        ]))
        .run();
    assert_eq!(s.urls().len(), 3);
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Loop);
    assert_eq!(e.url(), Some("https://api.example/v1/items?p=3"));
    assert_eq!(e.page(), Some(2));
    assert!(
        e.to_string().contains("https://api.example/v1/items?p=3"),
        "{e}"
    );
    assert_eq!(s.ids(), vec![1, 2, 11, 12]);
}

#[test]
fn a_next_url_back_to_the_first_page_is_a_loop() {
    let s = links_at_next()
        .serve(link_chain(&[
            ("https://api.example/v1/items", Some("items?p=2")),
            (
                "https://api.example/v1/items?p=2",
                Some("https://api.example/v1/items"),
            ),
        ]))
        .run();
    assert_eq!(
        s.urls(),
        vec![ITEMS.to_string(), format!("{ITEMS}?p=2")],
        "the first page is not fetched again"
    );
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Loop);
    assert_eq!(
        (e.url(), e.page()),
        (Some(format!("{ITEMS}?p=2").as_str()), Some(1))
    );
    assert_eq!(s.ids(), vec![1, 2], "no row handed out twice");
}

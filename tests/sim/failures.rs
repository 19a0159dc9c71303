//! Failures: status errors, bodies that are not pages, transport errors;
//! the pages before a failure are handed out, none after.

use pagewise::core::{Response, TransportErrorKind};
use pagewise::{Api, ErrorKind, Order, Pagination, RetryPolicy, Total};

use crate::scenario::*;

#[test]
fn a_status_error_on_page_3_hands_out_earlier_pages_only() {
    for (status, body) in [
        (500, r#"{"error":"boom"}"#),
        (404, "<html><h1>Not Found</h1></html>"),
    ] {
        // Pages 4 and 5 finish first and wait; pages 1 and 2 follow; then page 3 fails.
        let order = vec![
            off(0, 10),
            off(50, 10),
            off(40, 10),
            off(10, 10),
            off(20, 10),
            off(30, 10),
        ];
        let s = Scenario::new(offset_header(), 10, 8)
            .options(|o| o.retry(RetryPolicy::none()))
            .pick(Pick::Priority(order.clone()))
            .fake(Fake::new(Style::Offset(Tot::Header), 100))
            .on(off(30, 10), Response::new(status, body))
            .run();
        assert_eq!(s.answered[..6], order[..]);
        assert_eq!(s.page_urls(), vec![off(0, 10), off(10, 10), off(20, 10)]);
        assert_eq!(s.ids(), range(1, 30));
        let e = s.error();
        assert_eq!(e.kind(), ErrorKind::Status);
        assert_eq!(e.status(), Some(status));
        assert_eq!(e.url(), Some(off(30, 10).as_str()));
        assert_eq!(e.page(), Some(3));
        assert_eq!(e.excerpt(), Some(body));
        assert_eq!(e.message(), format!("the server answered {status}"));
        assert!(e.to_string().contains(&off(30, 10)));
    }
}

#[test]
fn a_status_error_on_the_first_page() {
    let s = Scenario::new(offset_header(), 10, 8)
        .serve(|_| Ok(Response::new(503, "")))
        .run();
    let e = s.error();
    assert_eq!(
        (e.kind(), e.status(), e.page()),
        (ErrorKind::Status, Some(503), Some(0))
    );
    assert_eq!(e.url(), Some(off(0, 10).as_str()));
    assert_eq!(e.excerpt(), Some("(empty body)"));
    assert!(e.is_transient());
    assert!(s.pages.is_empty());
}

#[test]
fn a_failure_in_completion_order_ends_the_stream() {
    let s = Scenario::new(offset_header(), 10, 8)
        .options(|o| o.order(Order::Completion).retry(RetryPolicy::none()))
        .pick(Pick::Priority(vec![off(0, 10), off(50, 10), off(30, 10)]))
        .fake(Fake::new(Style::Offset(Tot::Header), 100))
        .on(off(30, 10), Response::new(500, "no"))
        .run();
    // Pages handed out before the failure stay handed out; the pages before
    // the failing one still finish (so every record up to it is delivered);
    // nothing after it is handed out any more.
    let urls = s.page_urls();
    assert_eq!(urls[..2], [off(0, 10), off(50, 10)]);
    let mut rest = urls[2..].to_vec();
    rest.sort();
    assert_eq!(rest, vec![off(10, 10), off(20, 10)]);
    assert_eq!(s.error().page(), Some(3));
}

#[test]
fn bodies_that_are_not_pages_are_decode_errors_naming_the_url() {
    let cases: &[(&str, &str)] = &[
        (
            "<html><body>Service Unavailable</body></html>",
            "not valid JSON",
        ),
        (
            r#"{"meta":{"total":50},"data":[{"id":21},{"id":2"#,
            "not valid JSON",
        ),
        // Records that balance but are not JSON: the page is refused whole,
        // no record of it is handed out or skipped.
        (
            r#"{"meta":{"total":50},"data":[{"id":21},{"id":22,}]}"#,
            "not valid JSON",
        ),
        (
            r#"{"meta":{"total":50},"data":[{"id":21,"s":"a\qb"}]}"#,
            "not valid JSON",
        ),
        (
            r#"{"meta":{"total":50},"data":[{"id":21,"n":01}]}"#,
            "not valid JSON",
        ),
        (r#"{"meta":{"total":50},"data":[]} []"#, "not valid JSON"),
        ("null", "missing"),
        ("", "empty"),
        ("  \n", "empty"),
        (r#"{"meta":{"total":50},"items":[]}"#, "missing"),
        (r#"{"meta":{"total":50},"data":null}"#, "null"),
        (r#"{"meta":{"total":50},"data":{"id":1}}"#, "not an array"),
        (r#"{"meta":{"total":"lots"},"data":[]}"#, "total"),
        (r#"[{"id":1}]"#, "missing"),
    ];
    for (body, what) in cases {
        let s = Scenario::new(
            Pagination::offset().total(Total::pointer("/meta/total")),
            10,
            4,
        )
        .fake(Fake::new(Style::Offset(Tot::Pointer), 50))
        .on(off(20, 10), Response::new(200, *body))
        .run();
        let e = s.error();
        assert_eq!(e.kind(), ErrorKind::Decode, "{body:?}: {e}");
        assert_eq!(e.url(), Some(off(20, 10).as_str()), "{body:?}");
        assert_eq!((e.page(), e.status()), (Some(2), Some(200)), "{body:?}");
        assert!(e.message().contains(what), "{body:?}: {e}");
        assert!(e.to_string().contains(&off(20, 10)), "{e}");
        assert_eq!(s.ids(), range(1, 20), "{body:?}: pages before are intact");
    }
}

#[test]
fn a_top_level_null_body_is_a_decode_error() {
    // No `records_at`: the whole body is the page. The scenario's API has
    // one, so this sweep runs on an API of its own.
    let a = Api::builder(BASE)
        .pagination(Pagination::offset())
        .build()
        .unwrap();
    let s = Scenario::on_api(&a, 8)
        .serve(|_| Ok(Response::new(200, "null")))
        .run();
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert!(e.message().contains("null"), "{e}");
    assert_eq!(e.url(), Some(off(0, 100).as_str()));
    // And a top-level array is a page.
    let s = Scenario::on_api(&a, 8)
        .serve(|u| {
            Ok(Response::new(
                200,
                if u.contains("offset=0&") {
                    r#"[{"id":1},{"id":2}]"#
                } else {
                    "[]"
                },
            ))
        })
        .run();
    assert_eq!(s.ids(), vec![1, 2]);
}

#[test]
fn a_total_header_that_is_not_a_count_is_a_decode_error() {
    let s = Scenario::new(offset_header(), 10, 4)
        .serve(|_| Ok(Response::new(200, r#"{"data":[]}"#).with_header("X-Total-Count", "many")))
        .run();
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert!(e.message().contains("X-Total-Count"), "{e}");
}

#[test]
fn transport_errors_map_to_kinds() {
    for (kind, want) in [
        (TransportErrorKind::Connect, ErrorKind::Transport),
        (TransportErrorKind::Io, ErrorKind::Transport),
        (TransportErrorKind::Other, ErrorKind::Transport),
        (TransportErrorKind::Timeout, ErrorKind::Timeout),
        (TransportErrorKind::Aborted, ErrorKind::Cancelled),
    ] {
        let s = Scenario::new(offset_header(), 10, 4)
            .options(|o| o.retry(RetryPolicy::none()))
            .fake(Fake::new(Style::Offset(Tot::Header), 50))
            .on(off(10, 10), Reply::Fail(kind, "connection reset by peer"))
            .run();
        let e = s.error();
        assert_eq!(e.kind(), want, "{kind:?}");
        assert_eq!(e.message(), "connection reset by peer");
        assert_eq!(
            (e.url(), e.page(), e.status()),
            (Some(off(10, 10).as_str()), Some(1), None)
        );
        assert_eq!(s.ids(), range(1, 10));
    }
}

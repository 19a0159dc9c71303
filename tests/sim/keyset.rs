//! Keyset paging: the last value of a page asks for the next, loops, and
//! records without the field.

use pagewise::core::Response;
use pagewise::{ErrorKind, Pagination};
use url::Url;

use crate::scenario::*;

#[test]
fn keyset_sends_the_last_value() {
    let run = |fake: &Fake| {
        Scenario::new(Pagination::keyset("id"), 5, 8)
            .fake(fake.clone())
            .run()
    };
    let fake = Fake::new(Style::Keyset, 12); // ids 10, 13, ..., 43
    let s = run(&fake);
    assert_eq!(
        s.urls(),
        vec![
            format!("{ITEMS}?limit=5"),
            format!("{ITEMS}?id_gt=22&limit=5"),
            format!("{ITEMS}?id_gt=37&limit=5"),
        ]
    );
    assert_eq!(s.ids(), fake.ids);
    // An exact multiple ends on the empty page after it.
    let fake = Fake::new(Style::Keyset, 10);
    let s = run(&fake);
    assert_eq!(
        s.urls().last().unwrap(),
        &format!("{ITEMS}?id_gt=37&limit=5")
    );
    assert_eq!(s.urls().len(), 3);
    assert_eq!(s.ids(), fake.ids);
}

#[test]
fn a_keyset_value_that_does_not_advance_is_a_loop() {
    // The server ignores id_gt: the same page again and again.
    let fake = Fake::new(Style::Keyset, 30);
    let s = Scenario::new(Pagination::keyset("id"), 5, 4)
        .serve(move |u| {
            let mut u = Url::parse(u).unwrap();
            u.set_query(Some("limit=5"));
            Ok(fake.respond(u.as_str()))
        })
        .run();
    assert_eq!(
        s.urls(),
        vec![
            format!("{ITEMS}?limit=5"),
            format!("{ITEMS}?id_gt=22&limit=5")
        ]
    );
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Loop);
    assert_eq!(
        (e.url(), e.page()),
        (Some(format!("{ITEMS}?id_gt=22&limit=5").as_str()), Some(1))
    );
    assert_eq!(s.ids(), vec![10, 13, 16, 19, 22]);
}

#[test]
fn a_keyset_record_without_the_field_is_a_decode_error() {
    let s = Scenario::new(Pagination::keyset("/meta/id"), 2, 4)
        .serve(|_| {
            Ok(Response::new(
                200,
                r#"{"data":[{"meta":{"id":1}},{"id":2}]}"#,
            ))
        })
        .run();
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert!(e.message().contains("/meta/id"), "{e}");
    assert_eq!(e.url(), Some(format!("{ITEMS}?limit=2").as_str()));
    assert!(s.pages.is_empty());
}

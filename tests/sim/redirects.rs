//! Redirects of a sweep: relative ones followed with credentials, other
//! origins refused unless allowed (and then sent nothing configured), at
//! most ten.

use pagewise::core::Response;
use pagewise::{ApiBuilder, Auth, ErrorKind};

use crate::scenario::*;

/// 25 records, whose page 1 redirects to `to`, on an API with credentials.
fn page_1_redirects_to(to: &'static str, more: fn(ApiBuilder) -> ApiBuilder) -> Scenario {
    Scenario::new(offset_header(), 10, 4)
        .api(move |b| {
            more(
                b.auth(Auth::bearer("s3cr3t"))
                    .header("X-Api-Key", "k3y")
                    .header("X-Tenant", "acme"),
            )
        })
        .fake(Fake::new(Style::Offset(Tot::Header), 25))
        .on(off(10, 10), redirect(307, to))
}

#[test]
fn a_relative_redirect_is_followed_with_credentials() {
    let s = Scenario::new(offset_header(), 10, 4)
        .api(|b| b.auth(Auth::bearer("s3cr3t")))
        .fake(Fake::new(Style::Offset(Tot::Header), 25))
        .on(off(0, 10), redirect(302, "moved/items?offset=0&limit=10"))
        .run();
    let moved = "https://api.example/v1/moved/items?offset=0&limit=10";
    assert_eq!(
        s.urls(),
        vec![off(0, 10), moved.to_string(), off(10, 10), off(20, 10)]
    );
    assert_eq!(s.page_urls()[0], moved, "the page is where it was found");
    assert_eq!(s.ids(), range(1, 25));
    assert_eq!(s.report().requests, 4);
    assert_eq!(s.sent("Authorization"), [Some("Bearer s3cr3t"); 4]);
}

#[test]
fn a_redirect_to_another_origin_is_refused_by_default() {
    for cdn in [
        "https://cdn.example/blobs/p1?offset=10&limit=10",
        // https -> http on the same host: another origin, and cleartext.
        "http://api.example/v1/items?offset=10&limit=10",
    ] {
        let s = page_1_redirects_to(cdn, |b| b).run();
        assert_eq!(
            s.urls(),
            vec![off(0, 10), off(10, 10), off(20, 10)],
            "nothing sent to {cdn}"
        );
        let e = s.error();
        assert_eq!(e.kind(), ErrorKind::Origin);
        assert_eq!(
            (e.url(), e.page(), e.status()),
            (Some(cdn), Some(1), Some(307))
        );
        assert!(e.message().contains("allow_origins"), "{e}");
        assert_eq!(s.ids(), range(1, 10));
    }
}

#[test]
fn a_redirect_to_an_allowed_origin_drops_credentials_and_headers() {
    let cdn = "https://cdn.example/blobs/p1?offset=10&limit=10";
    let s = page_1_redirects_to(cdn, |b| b.allow_origins(["https://cdn.example"])).run();
    assert_eq!(
        s.urls(),
        vec![off(0, 10), off(10, 10), off(20, 10), cdn.to_string()]
    );
    assert_eq!(s.ids(), range(1, 25));
    for r in &s.requests {
        if url(r) == cdn {
            assert_eq!(
                header_names(r),
                ["Accept"],
                "nothing configured goes to another origin"
            );
        } else {
            assert_eq!(
                header_names(r),
                ["Accept", "X-Api-Key", "X-Tenant", "Authorization"],
                "{}",
                url(r)
            );
        }
    }
}

#[test]
fn ten_redirects_are_followed_eleven_are_an_error() {
    let run = |n| {
        let page = Fake::new(Style::Offset(Tot::Header), 5).respond(&off(0, 10));
        Scenario::new(offset_header(), 10, 4)
            .serve(hops(n, 302, "items", page))
            .run()
    };
    let s = run(10);
    assert_eq!(s.urls().len(), 11);
    assert_eq!(s.urls()[10], format!("{ITEMS}?hop=10"));
    assert_eq!(s.ids(), range(1, 5));
    assert_eq!(s.report().requests, 11);

    let s = run(11);
    assert_eq!(s.urls().len(), 11, "the 11th redirect is not followed");
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Redirect);
    assert_eq!(
        (e.url(), e.page(), e.status()),
        (Some(format!("{ITEMS}?hop=10").as_str()), Some(0), Some(302))
    );
}

#[test]
fn a_redirect_without_location_is_a_status_error() {
    let s = Scenario::new(offset_header(), 10, 4)
        .serve(|_| Ok(Response::new(302, "")))
        .run();
    let e = s.error();
    assert_eq!((e.kind(), e.status()), (ErrorKind::Status, Some(302)));
}

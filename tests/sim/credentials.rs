//! Credentials: sent where configured, never printed, never sent to
//! another origin (next links included), redacted in errors.

use pagewise::core::Response;
use pagewise::{ApiBuilder, Auth, ErrorKind, Link, Pagination};

use crate::scenario::*;

/// Next links at `/next`, no limit parameter, pages of 2.
fn links_at_next(more: impl FnOnce(ApiBuilder) -> ApiBuilder + 'static) -> Scenario {
    Scenario::new(
        Pagination::next_url(Link::pointer("/next")).limit_param(None),
        2,
        4,
    )
    .api(more)
}

#[test]
fn a_next_link_to_another_origin_is_refused_by_default_and_followed_bare_when_allowed() {
    let links: &'static [(&'static str, Option<&'static str>)] = &[
        (
            "https://api.example/v1/items?api_key=k3y",
            Some("https://evil.example:8443/x?api_key=k3y&p=2"),
        ),
        ("https://evil.example:8443/x?p=2", Some("?p=3")),
        ("https://evil.example:8443/x?p=3", None),
    ];
    type More = fn(ApiBuilder) -> ApiBuilder;
    let run = |allow: More| {
        links_at_next(move |b| {
            allow(
                b.auth(Auth::query("api_key", "k3y"))
                    .header("X-Api-Key", "hk3y"),
            )
        })
        .serve(link_chain(links))
        .run()
    };
    let s = run(|b| b);
    assert_eq!(s.urls(), vec![links[0].0]);
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Origin);
    assert_eq!(
        e.url(),
        Some("https://evil.example:8443/x?api_key=REDACTED&p=2")
    );
    assert_eq!(e.page(), Some(0));
    assert!(e.message().contains("https://evil.example:8443"), "{e}");
    assert!(!format!("{e} {e:?}").contains("k3y"), "{e}");

    let allows: [More; 2] = [
        |b| b.allow_origins(["https://evil.example:8443"]),
        |b| b.allow_any_origin(),
    ];
    for allow in allows {
        let s = run(allow);
        // The configured auth parameter the link carried does not go with it.
        assert_eq!(s.urls(), vec![links[0].0, links[1].0, links[2].0]);
        assert_eq!(s.ids(), vec![1, 2, 11, 12, 21, 22]);
        assert_eq!(s.sent("X-Api-Key"), [Some("hk3y"), None, None]);
    }
}

#[test]
fn a_bearer_token_is_never_printed() {
    let secret = "tok-SECRET-4711";
    let s = Scenario::new(offset_header(), 10, 4)
        .api(move |b| b.auth(Auth::bearer(secret)))
        .fake(Fake::new(Style::Offset(Tot::Header), 50))
        .on(off(20, 10), Response::new(401, "unauthorized"))
        .run();
    for r in &s.requests {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {secret}").as_str())
        );
        assert!(!format!("{r:?}").contains(secret), "{r:?}");
    }
    let e = s.error();
    assert_eq!(e.status(), Some(401));
    assert!(!format!("{e:?}{e}").contains(secret));
    assert!(!format!("{:?}", s.sweep).contains(secret));
    assert!(!format!("{:?}", s.api).contains(secret));
}

#[test]
fn a_query_secret_is_sent_but_never_printed() {
    let secret = "QSECRET42";
    let s = Scenario::new(offset_header(), 10, 4)
        .api(move |b| b.auth(Auth::query("api_key", secret)))
        .fake(Fake::new(Style::Offset(Tot::Header), 50))
        .on(
            format!("{}&api_key={secret}", off(20, 10)),
            Response::new(500, "oops"),
        )
        .run();
    assert_eq!(s.urls()[0], format!("{}&api_key={secret}", off(0, 10)));
    for r in &s.requests {
        assert!(url(r).contains(&format!("api_key={secret}")), "{}", url(r));
        assert!(!format!("{r:?}").contains(secret), "{r:?}");
        assert!(!r.redacted_url().contains(secret));
    }
    // Pages and errors name the URL without the key (the key is added when sending).
    assert_eq!(s.page_urls()[0], off(0, 10));
    let e = s.error();
    assert_eq!(e.url(), Some(off(20, 10).as_str()));
    assert!(!format!("{e:?}{e}").contains(secret));
    assert!(!format!("{:?}", s.sweep).contains(secret));
}

#[test]
fn a_next_url_on_another_origin_gets_no_credentials() {
    let s = links_at_next(|b| {
        b.auth(Auth::bearer("s3cr3t"))
            .allow_origins(["https://mirror.example"])
    })
    .serve(link_chain(&[
        (
            "https://api.example/v1/items",
            Some("https://mirror.example/v1/items?p=2"),
        ),
        (
            "https://mirror.example/v1/items?p=2",
            Some("https://api.example/v1/items?p=3"),
        ),
        ("https://api.example/v1/items?p=3", None),
    ]))
    .run();
    assert_eq!(s.ids(), vec![1, 2, 11, 12, 21, 22]);
    assert_eq!(
        s.sent("Authorization"),
        vec![Some("Bearer s3cr3t"), None, Some("Bearer s3cr3t")]
    );
}

#[test]
fn a_next_url_on_another_origin_loses_the_query_secret() {
    let s = links_at_next(|b| {
        b.auth(Auth::query("api_key", "QSECRET42"))
            .allow_origins(["https://mirror.example"])
    })
    .serve(link_chain(&[
        (
            "https://api.example/v1/items?api_key=QSECRET42",
            Some("https://mirror.example/v1/items?p=2&api_key=QSECRET42"),
        ),
        ("https://mirror.example/v1/items?p=2", None),
    ]))
    .run();
    assert_eq!(
        s.urls(),
        vec![
            "https://api.example/v1/items?api_key=QSECRET42",
            "https://mirror.example/v1/items?p=2"
        ]
    );
    assert_eq!(s.ids(), vec![1, 2, 11, 12]);
}

#[test]
fn a_loop_error_does_not_print_a_query_secret() {
    // APIs often echo every query parameter, the key included, into their next links.
    let s = links_at_next(|b| b.auth(Auth::query("api_key", "QSECRET42")))
        .serve(link_chain(&[
            (
                "https://api.example/v1/items?api_key=QSECRET42",
                Some("items?p=2&api_key=QSECRET42"),
            ),
            (
                "https://api.example/v1/items?p=2&api_key=QSECRET42",
                Some("items?p=3&api_key=QSECRET42"),
            ),
            (
                "https://api.example/v1/items?p=3&api_key=QSECRET42",
                Some("items?p=2&api_key=QSECRET42"),
            ),
        ]))
        .run();
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Loop);
    assert_eq!(
        e.url(),
        Some("https://api.example/v1/items?p=3&api_key=REDACTED")
    );
    assert!(!format!("{e:?}{e}").contains("QSECRET42"), "{e}");
    assert!(
        e.message().contains("p=2&api_key=REDACTED"),
        "the message still names the link: {e}"
    );
}

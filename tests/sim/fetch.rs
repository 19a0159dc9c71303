//! One request with `Fetch`: redirects, status and transport errors,
//! retries, and secrets never printed.

use std::time::Duration;

use pagewise::core::{Fetch, Method, Response, TransportError, TransportErrorKind};
use pagewise::{Api, Auth, ErrorKind, RetryPolicy};
use serde_json::{json, Value};
use web_time::Instant;

use crate::scenario::*;

fn fetch_api() -> Api {
    Api::builder(BASE)
        .auth(Auth::bearer("s3cr3t"))
        .build()
        .unwrap()
}

#[test]
fn fetch_succeeds() {
    let a = fetch_api();
    let q = [("fields".to_string(), "id,name".to_string())];
    let mut f = Fetch::new(a.spec(), Method::Get, "items/7", &q, None).unwrap();
    let (asked, out) = run_fetch(&mut f, |_| {
        Ok(Response::new(200, r#"{"id":7,"name":"seven"}"#))
    });
    assert_eq!(asked.len(), 1);
    assert_eq!(
        url(&asked[0]),
        "https://api.example/v1/items/7?fields=id%2Cname"
    );
    assert_eq!(method(&asked[0]), Method::Get);
    assert_eq!(asked[0].header("Authorization"), Some("Bearer s3cr3t"));
    let resp = out.unwrap();
    let v: Value = f.decode(&resp).unwrap();
    assert_eq!(v, json!({"id": 7, "name": "seven"}));
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Wrong {
        id: String,
    }
    let e = f.decode::<Wrong>(&resp).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Record);
    let e = f
        .decode::<Value>(&Response::new(200, "<html>"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert_eq!(
        e.url(),
        Some("https://api.example/v1/items/7?fields=id%2Cname")
    );
}

#[test]
fn fetch_ignores_answers_to_other_ids() {
    let a = fetch_api();
    let mut f = Fetch::new(a.spec(), Method::Get, "items/7", &[], None).unwrap();
    let req = f.poll_request().unwrap();
    let mut other = Fetch::new(a.spec(), Method::Get, "items/8", &[], None).unwrap();
    let _ = other.poll_request().unwrap();
    let r2 = other.poll_request();
    assert!(r2.is_none());
    f.handle_response(id(&req), Ok(Response::new(200, "{}")), Instant::now());
    assert!(f.poll_event().unwrap().is_ok());
    // A second answer to an already answered id changes nothing.
    f.handle_response(id(&req), Ok(Response::new(500, "{}")), Instant::now());
    assert!(f.poll_event().is_none());
}

#[test]
fn fetch_refuses_a_redirect_to_another_origin_by_default() {
    let a = fetch_api();
    for to in [
        "https://cdn.example/t/7?p=1",
        "http://api.example/v1/things/7",
    ] {
        let mut f = Fetch::new(a.spec(), Method::Get, "items/7", &[], None).unwrap();
        let (asked, out) = run_fetch(&mut f, |u| {
            Ok(match u {
                "https://api.example/v1/items/7" => redirect(302, to),
                u => panic!("unexpected {u}"),
            })
        });
        assert_eq!(asked.len(), 1, "nothing sent to {to}");
        let e = out.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Origin);
        assert_eq!((e.url(), e.status()), (Some(to), Some(302)));
        assert!(
            e.message().contains("https://api.example/v1/items/7"),
            "{e}"
        );
        assert!(e.message().contains("allow_origins"), "{e}");
    }
}

#[test]
fn fetch_follows_redirects() {
    let a = Api::builder(BASE)
        .auth(Auth::bearer("s3cr3t"))
        .allow_origins(["https://cdn.example"])
        .build()
        .unwrap();
    let mut f = Fetch::new(a.spec(), Method::Get, "items/7", &[], None).unwrap();
    let (asked, out) = run_fetch(&mut f, |u| {
        Ok(match u {
            "https://api.example/v1/items/7" => redirect(301, "/v1/things/7"),
            "https://api.example/v1/things/7" => redirect(302, "https://cdn.example/t/7"),
            "https://cdn.example/t/7" => Response::new(200, r#"{"id":7}"#),
            u => panic!("unexpected {u}"),
        })
    });
    let urls: Vec<&str> = asked.iter().map(url).collect();
    assert_eq!(
        urls,
        vec![
            "https://api.example/v1/items/7",
            "https://api.example/v1/things/7",
            "https://cdn.example/t/7"
        ]
    );
    let auth: Vec<Option<&str>> = asked.iter().map(|r| r.header("Authorization")).collect();
    assert_eq!(
        auth,
        vec![Some("Bearer s3cr3t"), Some("Bearer s3cr3t"), None]
    );
    assert_eq!(body(&out.unwrap()), br#"{"id":7}"#);
    assert_eq!(f.url(), "https://cdn.example/t/7");
}

#[test]
fn fetch_303_turns_a_post_into_a_get_and_307_keeps_it() {
    let a = fetch_api();
    for (code, method_after, body) in [
        (303, Method::Get, None),
        (307, Method::Post, Some(&b"{\"a\":1}"[..])),
    ] {
        let mut f = Fetch::new(
            a.spec(),
            Method::Post,
            "items",
            &[],
            Some(b"{\"a\":1}".to_vec()),
        )
        .unwrap();
        let (asked, out) = run_fetch(&mut f, |u| {
            Ok(if u.ends_with("/items") {
                redirect(code, "items/9")
            } else {
                Response::new(201, "{}")
            })
        });
        assert_eq!(method(&asked[0]), Method::Post);
        assert_eq!(asked[0].header("Content-Type"), Some("application/json"));
        assert_eq!(url(&asked[1]), "https://api.example/v1/items/9");
        assert_eq!(
            (method(&asked[1]), sent_body(&asked[1])),
            (method_after, body),
            "{code}"
        );
        assert_eq!(status(&out.unwrap()), 201);
    }
}

#[test]
fn fetch_404_is_a_status_error() {
    let a = fetch_api();
    let mut f = Fetch::new(a.spec(), Method::Get, "items/404", &[], None).unwrap();
    let (_, out) = run_fetch(&mut f, |_| {
        Ok(Response::new(404, r#"{"error":"no such item"}"#))
    });
    let e = out.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Status);
    assert_eq!(e.status(), Some(404));
    assert_eq!(e.url(), Some("https://api.example/v1/items/404"));
    assert_eq!(e.excerpt(), Some(r#"{"error":"no such item"}"#));
    assert!(!e.is_transient());
    assert!(!format!("{e:?}{e}").contains("s3cr3t"));
}

#[test]
fn fetch_gives_up_after_ten_redirects() {
    let a = fetch_api();
    let hop = |n| hops(n, 308, "x", Response::new(200, "{}"));
    let mut f = Fetch::new(a.spec(), Method::Get, "x", &[], None).unwrap();
    let (asked, out) = run_fetch(&mut f, hop(10));
    assert_eq!(asked.len(), 11);
    assert!(out.is_ok());
    let mut f = Fetch::new(a.spec(), Method::Get, "x", &[], None).unwrap();
    let (asked, out) = run_fetch(&mut f, hop(11));
    assert_eq!(asked.len(), 11);
    let e = out.unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::Redirect, Some(308)));
    assert_eq!(e.url(), Some("https://api.example/v1/x?hop=10"));
}

#[test]
fn fetch_transport_errors_map_to_kinds() {
    let a = fetch_api();
    for (kind, want) in [
        (TransportErrorKind::Connect, ErrorKind::Transport),
        (TransportErrorKind::Timeout, ErrorKind::Timeout),
        (TransportErrorKind::Aborted, ErrorKind::Cancelled),
    ] {
        let mut f = Fetch::new(a.spec(), Method::Get, "items", &[], None)
            .unwrap()
            .with_retry(RetryPolicy::none(), 0);
        let (_, out) = run_fetch(&mut f, |_| Err(TransportError::new(kind, "refused")));
        let e = out.unwrap_err();
        assert_eq!(e.kind(), want);
        assert_eq!(e.url(), Some(ITEMS));
    }
}

#[test]
fn fetch_with_a_query_secret_never_prints_it() {
    let a = Api::builder(BASE)
        .auth(Auth::query("api_key", "QSECRET42"))
        .build()
        .unwrap();
    let mut f = Fetch::new(a.spec(), Method::Get, "items/1", &[], None)
        .unwrap()
        .with_retry(RetryPolicy::none(), 0);
    let (asked, out) = run_fetch(&mut f, |_| Ok(Response::new(500, "down")));
    assert_eq!(
        url(&asked[0]),
        "https://api.example/v1/items/1?api_key=QSECRET42"
    );
    assert!(!format!("{:?}", asked[0]).contains("QSECRET42"));
    let e = out.unwrap_err();
    assert_eq!(e.url(), Some("https://api.example/v1/items/1"));
    assert!(!format!("{e:?}{e}{f:?}").contains("QSECRET42"));
}

#[test]
fn fetch_retries_transient_failures_after_the_backoff() {
    let a = fetch_api();
    let mut f = Fetch::new(a.spec(), Method::Get, "items/1", &[], None)
        .unwrap()
        .with_retry(RetryPolicy::default(), 9);
    let t0 = Instant::now();
    let mut now = t0;
    let mut answers = vec![
        Ok(Response::new(503, "busy")),
        Ok(throttle(2)),
        Ok(Response::new(200, r#"{"id":1}"#)),
    ]
    .into_iter();
    let mut sent_at = Vec::new();
    let outcome = loop {
        if let Some(o) = f.poll_event() {
            break o;
        }
        match f.poll_request() {
            Some(req) => {
                sent_at.push(now);
                f.handle_response(id(&req), answers.next().unwrap(), now);
            }
            None => {
                now = f.poll_timeout().expect("a retry is scheduled");
                f.handle_timeout(now);
            }
        }
    };
    assert_eq!(status(&outcome.unwrap()), 200);
    assert_eq!(sent_at.len(), 3);
    // Backoff after the 503 is at most the base delay; after the 429, Retry-After (+ up to 10%).
    assert!(sent_at[1] - sent_at[0] <= Duration::from_millis(200));
    let wait = sent_at[2] - sent_at[1];
    assert!(
        wait >= Duration::from_secs(2) && wait <= Duration::from_millis(2200),
        "{wait:?}"
    );
    // A POST is not sent again after a 503: it may have been processed.
    let mut post = Fetch::new(a.spec(), Method::Post, "items", &[], Some(b"{}".to_vec())).unwrap();
    let req = post.poll_request().unwrap();
    post.handle_response(id(&req), Ok(Response::new(503, "")), t0);
    assert_eq!(post.poll_event().unwrap().unwrap_err().status(), Some(503));
}

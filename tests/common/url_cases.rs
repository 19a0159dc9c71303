//! URL cases whose expected values were computed with the `url` crate (the
//! native back end of `pagewise::core::Url`). The native tests check them
//! natively; `tests/wasm_browser.rs` checks that the WebAssembly build, which
//! parses with the platform's `URL` class, gives the same answers.
#![allow(dead_code)]

use pagewise::core::Url;
use pagewise::{Api, Auth};

/// (base, input, what `base.join(input)` gives or "error", same origin as base).
pub const JOINS: &[(&str, &str, &str, bool)] = &[
    (
        "https://h.example/api/",
        "items",
        "https://h.example/api/items",
        true,
    ),
    (
        "https://h.example/api/",
        "/v2/items?x=1",
        "https://h.example/v2/items?x=1",
        true,
    ),
    (
        "https://h.example/api/items?page=1",
        "?page=2",
        "https://h.example/api/items?page=2",
        true,
    ),
    (
        "https://h.example/api/items?page=1",
        "../other#f",
        "https://h.example/other#f",
        true,
    ),
    (
        "https://h.example/api/",
        "https://other.example:8443/x",
        "https://other.example:8443/x",
        false,
    ),
    (
        "https://h.example/api/",
        "//cdn.example/y",
        "https://cdn.example/y",
        false,
    ),
    (
        "https://h.example/a/b",
        "c d/é?q=a b&r=ü#frag x",
        "https://h.example/a/c%20d/%C3%A9?q=a%20b&r=%C3%BC#frag%20x",
        true,
    ),
    (
        "https://h.example/",
        "https://MÜNCHEN.example/x",
        "https://xn--mnchen-3ya.example/x",
        false,
    ),
    (
        "https://h.example/",
        "https://xn--mnchen-3ya.example/x",
        "https://xn--mnchen-3ya.example/x",
        false,
    ),
    (
        "https://h.example/",
        "http://[::1]:80/x",
        "http://[::1]/x",
        false,
    ),
    (
        "https://h.example/",
        "http://0x7f.1/",
        "http://127.0.0.1/",
        false,
    ),
    (
        "https://h.example/",
        "https://H.example:443/./a/../b/%2e/c",
        "https://h.example/b/c",
        true,
    ),
    (
        "https://h.example/",
        "https://u:p@h.example/x",
        "https://u:p@h.example/x",
        true,
    ),
    ("https://h.example/", "http://exa mple/", "error", false),
    (
        "https://h.example/",
        "https://h.example:99999/",
        "error",
        false,
    ),
    (
        "https://h.example/",
        "mailto:x@y.example",
        "mailto:x@y.example",
        false,
    ),
    (
        "https://h.example/",
        "\t /tab\n",
        "https://h.example/tab",
        true,
    ),
    (
        "https://h.example/",
        "https://h.example/%zz%41?%zz",
        "https://h.example/%zz%41?%zz",
        true,
    ),
    (
        "https://h.example/",
        "https://h.example/x?q='\"<>`{}",
        "https://h.example/x?q=%27%22%3C%3E`{}",
        true,
    ),
    (
        "https://h.example/",
        "data:text/plain,x",
        "data:text/plain,x",
        false,
    ),
    (
        "http://127.0.0.1:8080/api/",
        "http://127.0.0.1:8080/next?cursor=a%2Bb",
        "http://127.0.0.1:8080/next?cursor=a%2Bb",
        true,
    ),
    (
        "http://127.0.0.1:8080/api/",
        "http://localhost:8080/next",
        "http://localhost:8080/next",
        false,
    ),
];

/// (URL, what an API with `Auth::query("api_key", ..)` shows of it in messages).
pub const REDACTED: &[(&str, &str)] = &[
    (
        "https://bob:pw@h.example/x?api_key=abc&page=2#f",
        "https://h.example/x?api_key=REDACTED&page=2#f",
    ),
    (
        "https://h.example/x?a=1&api_key=z&b=%zz+y",
        "https://h.example/x?a=1&api_key=REDACTED&b=%25zz+y",
    ),
    (
        "https://other.example/?api_key",
        "https://other.example/?api_key=REDACTED",
    ),
    ("not a url ?api_key=zz", "not a url "),
    ("https://h.example/?", "https://h.example/?"),
    ("https://:pw@h.example:8443/", "https://h.example:8443/"),
];

/// (path, what `url_for(path, [("q", "a&b=c d")])` gives under
/// `https://h.example/api` with default query `k=v w/ü`).
pub const URL_FOR: &[(&str, &str)] = &[
    (
        "items",
        "https://h.example/api/items?k=v+w%2F%C3%BC&q=a%26b%3Dc+d",
    ),
    (
        "/items/7",
        "https://h.example/api/items/7?k=v+w%2F%C3%BC&q=a%26b%3Dc+d",
    ),
    (
        "a b/ü?x=1",
        "https://h.example/api/a%20b/%C3%BC?x=1&k=v+w%2F%C3%BC&q=a%26b%3Dc+d",
    ),
    (
        "https://other.example/x?y",
        "https://other.example/x?y&k=v+w%2F%C3%BC&q=a%26b%3Dc+d",
    ),
    ("../up", "https://h.example/up?k=v+w%2F%C3%BC&q=a%26b%3Dc+d"),
];

/// Checks every table; panics with the failing case.
pub fn check() {
    for (base, input, want, same) in JOINS {
        let b = Url::parse(base).unwrap();
        match b.join(input) {
            Ok(u) => {
                assert_eq!(u.as_str(), *want, "{base} + {input:?}");
                assert_eq!(u.same_origin(&b), *same, "origin of {input:?}");
                assert_eq!(Url::parse(u.as_str()).unwrap(), u, "reparse {want}");
            }
            Err(e) => assert_eq!("error", *want, "{base} + {input:?}: {e}"),
        }
    }
    let api = Api::builder("https://h.example/api")
        .query("k", "v w/ü")
        .auth(Auth::query("api_key", "s3cret"))
        .build()
        .unwrap();
    let spec = api.spec();
    for (url, want) in REDACTED {
        assert_eq!(spec.redact(url), *want, "{url}");
    }
    for (path, want) in URL_FOR {
        let u = spec
            .url_for(path, &[("q".to_string(), "a&b=c d".to_string())])
            .unwrap();
        assert_eq!(u.as_str(), *want, "{path}");
    }
}

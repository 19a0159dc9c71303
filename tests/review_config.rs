//! Review (issue 19): secrets in configuration mistakes, the delta joiner,
//! window overflow.
#![cfg(not(target_arch = "wasm32"))]

use pagewise::core::Sweep;
use pagewise::{Api, Auth, DeltaFilter, ErrorKind, ListOptions, Pagination, Watermark};
use web_time::Instant;

/// A base URL written without its scheme (`user:password@host/…`) parses as
/// a URL of scheme `user`: the build error quotes it whole, password
/// included, and so does `Debug` of the builder.
#[test]
fn a_base_url_without_scheme_does_not_print_its_password() {
    let b = Api::builder("admin:hunter2@api.example/v1/").auth(Auth::bearer("tok"));
    let debug = format!("{b:?}");
    let e = b.build().unwrap_err();
    let shown = format!("{e} {:?} {}", e.url(), debug);
    assert!(!shown.contains("hunter2"), "{shown}");
}

/// A list whose path already has the delta parameter twice: with a joiner,
/// only the first gets the filter, the second goes out as it was, so the
/// parameter is sent twice (one of them unfiltered) — SECURITY.md says "it
/// is never sent twice or silently ignored".
#[test]
fn the_delta_parameter_present_twice_is_not_sent_twice() {
    let api = Api::builder("https://example.service-now.com/api/now/table/")
        .pagination(Pagination::offset().params("sysparm_offset", "sysparm_limit"))
        .delta(DeltaFilter::new("sysparm_query", "{field}>={value}").joiner("^"))
        .build()
        .unwrap();
    let options = ListOptions::new("incident?sysparm_query=active=true")
        .query("sysparm_query", "priority=1")
        .since(Watermark::new("sys_updated_on", "2026-01-01"));
    let mut s = Sweep::new(api.spec(), options, Instant::now()).unwrap();
    let url = s.poll_request().unwrap().url;
    let n = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .filter(|(k, _)| k == "sysparm_query")
        .count();
    assert_eq!(n, 1, "{url}");
}

/// `window(usize::MAX)` (a careless "no limit") panics in `Sweep::new` with
/// overflow checks on (debug builds), and wraps to a tiny window in release
/// builds and in WebAssembly (npm `window: 4294967295`).
#[test]
fn a_huge_window_is_a_config_error_not_a_panic() {
    let api = Api::builder("https://api.example/").build().unwrap();
    let r = std::panic::catch_unwind(|| {
        Sweep::new(api.spec(), ListOptions::new("items").window(usize::MAX), Instant::now())
            .map(|_| ())
            .map_err(|e| e.kind())
    });
    match r {
        Ok(Ok(())) | Ok(Err(ErrorKind::Config)) => {}
        Ok(Err(k)) => panic!("{k:?}"),
        Err(_) => panic!("Sweep::new panicked on window(usize::MAX)"),
    }
}

/// A credential configured as a default query parameter (`.query("access_token", …)`,
/// which `Debug` and error messages redact as a secret) is written into every
/// checkpoint: the collection URL and each pending page URL carry it.
/// SECURITY.md §2: checkpoints "hold no credential".
#[test]
fn a_checkpoint_holds_no_secret_named_default_query_parameter() {
    let api = Api::builder("https://api.example/v1/")
        .query("access_token", "s3cr3t-value")
        .pagination(Pagination::next_url(pagewise::Link::pointer("/next")))
        .records_at("/data")
        .build()
        .unwrap();
    let s = Sweep::new(api.spec(), ListOptions::new("items"), Instant::now()).unwrap();
    let json = s.checkpoint().to_json();
    assert!(!json.contains("s3cr3t-value"), "{json}");
}

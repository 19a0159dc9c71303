//! A server whose pages start at 1, asked for page 0, that echoes the page
//! asked for in its body: the records repeat while the bodies differ. The
//! duplicate check compares records, not bodies (the Node face of the same
//! server is in bindings/npm/test/hostile.test.mjs).
#![cfg(not(target_arch = "wasm32"))]

use pagewise::core::Report;
use pagewise::core::{Event, Request, Response, Sweep};
use pagewise::{Api, Error, ErrorKind, ListOptions, Pagination, Total};
use web_time::Instant;

#[allow(dead_code)] // `records` and `urls` say what happened when a test fails
struct Run {
    records: Vec<serde_json::Value>,
    end: Result<Report, Error>,
    urls: Vec<String>,
}

/// FIFO driver: answers every request with `server`, drains events.
fn run(api: &Api, opts: ListOptions, mut server: impl FnMut(&Request, usize) -> Response) -> Run {
    let now = Instant::now();
    let mut s = Sweep::new(api.spec(), opts, now).unwrap();
    let mut records = Vec::new();
    let mut urls = Vec::new();
    let mut end = None;
    let mut n = 0;
    for _ in 0..10_000 {
        let mut reqs = Vec::new();
        while let Some(r) = s.poll_request() {
            reqs.push(r);
        }
        for r in reqs {
            urls.push(r.url().to_owned());
            let resp = server(&r, n);
            n += 1;
            s.handle_response(r.id(), Ok(resp), now);
        }
        while let Some(e) = s.poll_event() {
            match e {
                Event::Page(p) => {
                    for r in p.records.iter() {
                        records.push(serde_json::from_slice(r).unwrap());
                    }
                }
                Event::Finished(r) => end = Some(Ok(r)),
                Event::Failed(e) => end = Some(Err(e)),
                _ => {}
            }
        }
        if s.is_done() {
            break;
        }
        if let Some(t) = s.poll_timeout() {
            s.handle_timeout(t);
        }
    }
    Run {
        records,
        end: end.expect("the sweep ends"),
        urls,
    }
}

fn q(url: &str, name: &str) -> Option<u64> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.parse().unwrap())
}

/// Caught as a Duplicate error before page 1's records are handed out twice.
#[test]
fn page_zero_served_as_page_one_with_an_echo_is_a_duplicate_natively() {
    let api = Api::builder("https://api.example/v1/")
        .records_at("/data")
        .page_size(10)
        .concurrency(2)
        .pagination(
            Pagination::page_number()
                .first_page(0)
                .total(Total::header("X-Total-Count")),
        )
        .build()
        .unwrap();
    let r = run(&api, ListOptions::new("items"), |req, _| {
        let asked = q(req.url(), "page").unwrap();
        let page = asked.max(1);
        let data: Vec<_> = ((page - 1) * 10 + 1..=(page * 10).min(100))
            .map(|i| serde_json::json!({ "id": i }))
            .collect();
        Response::new(
            200,
            serde_json::json!({"page": asked, "data": data}).to_string(),
        )
        .with_header("X-Total-Count", "100")
    });
    assert_eq!(r.end.unwrap_err().kind(), ErrorKind::Duplicate);
}

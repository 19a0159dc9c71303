//! The helper dialects of issue 21: keyset value templates and `more`
//! pointers, totals on cursor and next-link dialects, optional totals,
//! offset through range headers, POST-body pagination, and delta filters
//! that write their watermark in another format or into SOQL.
//!
//! Each test drives a [`Sweep`] by hand against a server that sees the
//! whole request (method, headers, body), not only its URL.

use std::collections::HashMap;

use pagewise::core::{Checkpoint, Event, Notice, Request, Response, Sweep};
use pagewise::{
    Api, ApiBuilder, DeltaFilter, DeltaFormat, ErrorKind, Link, ListOptions, Pagination, Report,
    RetryPolicy, Total, Watermark,
};
use serde_json::{json, Value};
use web_time::Instant;

const BASE: &str = "https://api.example/v1/";

fn api(p: impl Into<Pagination>, page_size: u64) -> ApiBuilder {
    Api::builder(BASE)
        .records_at("/data")
        .pagination(p)
        .page_size(page_size)
        .concurrency(4)
        .retry(RetryPolicy::none())
}

/// What a sweep did: the requests it sent, the ids it handed out, its end.
struct Run {
    requests: Vec<Request>,
    ids: Vec<Value>,
    end: Result<Report, pagewise::Error>,
    sweep: Sweep,
}

impl Run {
    fn urls(&self) -> Vec<String> {
        self.requests.iter().map(|r| r.url().to_string()).collect()
    }
    fn report(&self) -> &Report {
        self.end.as_ref().expect("the sweep finished")
    }
    fn error(&self) -> &pagewise::Error {
        self.end.as_ref().expect_err("the sweep failed")
    }
    fn bodies(&self) -> Vec<Value> {
        self.requests
            .iter()
            .map(|r| serde_json::from_slice(r.body().expect("a body")).unwrap())
            .collect()
    }
}

fn ids(page: &pagewise::core::RawPage) -> Vec<Value> {
    page.records
        .iter()
        .map(|r| serde_json::from_slice::<Value>(r).unwrap()["id"].clone())
        .collect()
}

/// Runs a sweep to its end, answering every request with `server`, at most
/// `stop_after` pages handed out (then the sweep is left as it is).
fn run_until(
    api: &Api,
    options: ListOptions,
    stop_after: usize,
    mut server: impl FnMut(&Request) -> Response,
) -> Run {
    let now = Instant::now();
    let mut sweep = Sweep::new(api.spec(), options, now).expect("a sweep");
    let (mut requests, mut ids_seen, mut pages) = (Vec::new(), Vec::new(), 0);
    let mut pending = Vec::new();
    loop {
        while let Some(r) = sweep.poll_request() {
            pending.push(r);
        }
        while let Some(ev) = sweep.poll_event() {
            match ev {
                Event::Page(p) => {
                    ids_seen.extend(ids(&p));
                    pages += 1;
                    if pages == stop_after {
                        return Run {
                            requests,
                            ids: ids_seen,
                            end: Err(pagewise::Error::new(ErrorKind::Config, "stopped")),
                            sweep,
                        };
                    }
                }
                Event::Finished(r) => {
                    return Run {
                        requests,
                        ids: ids_seen,
                        end: Ok(r),
                        sweep,
                    }
                }
                Event::Failed(e) => {
                    return Run {
                        requests,
                        ids: ids_seen,
                        end: Err(e),
                        sweep,
                    }
                }
                _ => {}
            }
        }
        if pending.is_empty() {
            match sweep.poll_timeout() {
                Some(at) => sweep.handle_timeout(at),
                None => panic!("a sweep stuck"),
            }
            continue;
        }
        let r = pending.remove(0);
        let answer = server(&r);
        sweep.handle_response(r.id(), Ok(answer), now);
        requests.push(r);
    }
}

fn run(api: &Api, options: ListOptions, server: impl FnMut(&Request) -> Response) -> Run {
    run_until(api, options, usize::MAX, server)
}

fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn data(ids: impl IntoIterator<Item = u64>) -> Vec<Value> {
    ids.into_iter().map(|i| json!({ "id": i })).collect()
}

fn nums(ids: impl IntoIterator<Item = u64>) -> Vec<Value> {
    ids.into_iter().map(Value::from).collect()
}

// ---------------------------------------------------------------------------
// Keyset: value templates and `more`
// ---------------------------------------------------------------------------

/// A PostgREST table of ids 1..=n answering `id=gt.<v>`.
fn postgrest(n: u64) -> impl FnMut(&Request) -> Response {
    move |r| {
        let q = query(r.url());
        let after = q
            .get("id")
            .map(|v| v.strip_prefix("gt.").expect("gt.").parse::<u64>().unwrap())
            .unwrap_or(0);
        let limit: u64 = q["limit"].parse().unwrap();
        let rows = data((after + 1..=n).take(limit as usize));
        Response::new(200, json!({ "data": rows }).to_string())
    }
}

#[test]
fn keyset_value_template_sends_postgrest_filters() {
    let api = api(Pagination::keyset("id").param("id").value("gt.{value}"), 4)
        .build()
        .unwrap();
    let s = run(&api, ListOptions::new("items"), postgrest(10));
    assert_eq!(
        s.urls(),
        vec![
            format!("{BASE}items?limit=4"),
            format!("{BASE}items?id=gt.4&limit=4"),
            format!("{BASE}items?id=gt.8&limit=4"),
        ]
    );
    assert_eq!(s.ids, nums(1..=10));
    assert_eq!(s.report().records, 10);
}

#[test]
fn a_keyset_value_template_without_value_is_a_config_error() {
    let e = api(Pagination::keyset("id").param("id").value("gt.42"), 4)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("\"gt.42\""), "{e}");
    assert!(e.to_string().contains("{value}"), "{e}");
    // The same from the option schema.
    let options: pagewise::ApiOptions = serde_json::from_value(json!({
        "baseUrl": BASE,
        "pagination": { "type": "keyset", "field": "id", "param": "id", "value": "gt." }
    }))
    .unwrap();
    let e = ApiBuilder::from(options).build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
}

/// Stripe: `starting_after=<last id>`, `has_more`.
fn stripe(n: u64, lie: Option<Value>) -> impl FnMut(&Request) -> Response {
    move |r| {
        let q = query(r.url());
        let after = q
            .get("starting_after")
            .map(|v| v.parse::<u64>().unwrap())
            .unwrap_or(0);
        let limit: u64 = q["limit"].parse().unwrap();
        // A short page (2 of 3) in the middle: has_more still says go on.
        let take = if after == 3 { 2 } else { limit };
        let ids: Vec<u64> = (after + 1..=n).take(take as usize).collect();
        let more = ids.last().is_some_and(|l| *l < n);
        let more = lie.clone().unwrap_or(Value::Bool(more));
        Response::new(
            200,
            json!({ "object": "list", "data": data(ids), "has_more": more }).to_string(),
        )
    }
}

#[test]
fn keyset_more_pointer_follows_has_more() {
    let p = Pagination::keyset("id")
        .param("starting_after")
        .more("/has_more");
    let api = api(p, 3).build().unwrap();
    // 9 records: pages 1-3, 4-5 (short, has_more true), 6-8, 9: no empty page asked for.
    let s = run(&api, ListOptions::new("customers"), stripe(9, None));
    assert_eq!(s.ids, nums(1..=9));
    assert_eq!(s.requests.len(), 4);
    // 6 records: the page 4-5 is short, 6 follows; the last full page
    // (has_more false) ends the sweep: no request for an empty page.
    let s = run(&api, ListOptions::new("customers"), stripe(8, None));
    assert_eq!(s.ids, nums(1..=8));
    assert_eq!(
        query(s.urls().last().unwrap())
            .get("starting_after")
            .map(String::as_str),
        Some("5")
    );
    // has_more false on a full first page: the sweep ends there.
    let s = run(
        &api,
        ListOptions::new("customers"),
        stripe(100, Some(Value::Bool(false))),
    );
    assert_eq!((s.ids.len(), s.requests.len()), (3, 1));
}

#[test]
fn a_more_member_that_is_not_a_boolean_is_a_decode_error_naming_the_page() {
    let p = Pagination::keyset("id")
        .param("starting_after")
        .more("/has_more");
    let api = api(p, 3).build().unwrap();
    let s = run(
        &api,
        ListOptions::new("customers"),
        stripe(9, Some(json!("yes"))),
    );
    let e = s.error();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert_eq!(e.page(), Some(0));
    assert!(e.to_string().contains("/has_more"), "{e}");
    assert!(e.to_string().contains("not a boolean"), "{e}");
}

#[test]
fn cursor_more_false_ends_even_with_a_cursor() {
    let p = Pagination::cursor(Link::pointer("/next"))
        .more("/more")
        .total(Total::pointer("/count"));
    let api = api(p, 2).build().unwrap();
    let s = run(&api, ListOptions::new("items"), |r| {
        let page: u64 = query(r.url())
            .get("cursor")
            .map_or(0, |c| c.parse().unwrap());
        // Every page names a next cursor; the third says no more.
        let body = json!({
            "data": data([page * 2 + 1, page * 2 + 2]),
            "next": (page + 1).to_string(),
            "more": page < 2,
            "count": 6,
        });
        Response::new(200, body.to_string())
    });
    assert_eq!(s.ids, nums(1..=6));
    assert_eq!(s.requests.len(), 3);
    assert_eq!(
        (s.report().total, s.report().complete),
        (Some(6), Some(true))
    );
}

// ---------------------------------------------------------------------------
// Totals on cursor and next-link dialects; optional totals
// ---------------------------------------------------------------------------

#[test]
fn next_url_reads_salesforce_total_size_for_the_report() {
    let p = Pagination::next_url(Link::pointer("/nextRecordsUrl"))
        .limit_param(None)
        .total(Total::pointer("/totalSize"));
    let api = Api::builder(BASE)
        .records_at("/records")
        .pagination(p)
        .build()
        .unwrap();
    let s = run(
        &api,
        ListOptions::new("query").query("q", "SELECT Id FROM Account"),
        |r| {
            let second = r.url().contains("query/01g-2");
            let body = if second {
                json!({ "totalSize": 3, "done": true, "records": data([3]) })
            } else {
                json!({ "totalSize": 3, "done": false, "nextRecordsUrl": "/v1/query/01g-2",
                    "records": data([1, 2]) })
            };
            Response::new(200, body.to_string())
        },
    );
    assert_eq!(s.urls().len(), 2, "no fan-out from the total");
    assert_eq!(s.report().total, Some(3));
    assert_eq!(s.report().complete, Some(true));
    // A total that does not match the records says so.
    let s = run(&api, ListOptions::new("query"), |_| {
        Response::new(
            200,
            json!({ "totalSize": 5, "records": data([1]) }).to_string(),
        )
    });
    assert_eq!(
        (s.report().total, s.report().complete),
        (Some(5), Some(false))
    );
}

/// JSON:API offset paging with `meta.total` when `with_total`.
fn jsonapi(n: u64, with_total: bool) -> impl FnMut(&Request) -> Response {
    move |r| {
        let q = query(r.url());
        let offset: u64 = q["page[offset]"].parse().unwrap();
        let limit: u64 = q["page[limit]"].parse().unwrap();
        let mut body = json!({ "data": data((offset + 1..=n).take(limit as usize)) });
        if with_total {
            body["meta"] = json!({ "total": n });
        }
        Response::new(200, body.to_string())
    }
}

#[test]
fn an_optional_total_missing_walks_in_sequence_without_a_notice() {
    let p = Pagination::offset()
        .params("page[offset]", "page[limit]")
        .total(Total::pointer("/meta/total").optional());
    let api = api(p, 4).build().unwrap();
    let s = run(&api, ListOptions::new("articles"), jsonapi(10, false));
    assert_eq!(s.ids, nums(1..=10));
    assert_eq!(s.requests.len(), 3);
    assert!(s.report().notices.is_empty(), "{:?}", s.report().notices);
    assert_eq!(s.report().total, None);
    // Where present, it fans out as any total.
    let s = run(&api, ListOptions::new("articles"), jsonapi(10, true));
    assert_eq!(s.ids, nums(1..=10));
    assert_eq!(
        (s.report().total, s.report().complete),
        (Some(10), Some(true))
    );
    // A required total missing still says so.
    let p = Pagination::offset()
        .params("page[offset]", "page[limit]")
        .total(Total::pointer("/meta/total"));
    let api = self::api(p, 4).build().unwrap();
    let s = run(&api, ListOptions::new("articles"), jsonapi(10, false));
    assert_eq!(s.report().notices, vec![Notice::TotalMissing { page: 0 }]);
}

#[test]
fn totals_read_from_the_option_schema() {
    let read = |v: Value| serde_json::from_value::<Pagination>(v);
    let p =
        read(json!({ "type": "offset", "total": { "pointer": "/meta/total", "optional": true } }))
            .unwrap();
    assert_eq!(
        p,
        Pagination::offset()
            .total(Total::pointer("/meta/total").optional())
            .into()
    );
    let p = read(json!({ "type": "next", "from": { "pointer": "/nextRecordsUrl" }, "total": { "pointer": "/totalSize" } }))
        .unwrap();
    assert_eq!(
        p,
        Pagination::next_url(Link::pointer("/nextRecordsUrl"))
            .total(Total::pointer("/totalSize"))
            .into()
    );
    let p = read(json!({ "type": "offset", "total": "content-range" })).unwrap();
    assert_eq!(p, Pagination::offset().total(Total::ContentRange).into());
    let p = read(json!({ "type": "offset", "total": { "content-range": true, "optional": true } }))
        .unwrap();
    assert_eq!(
        p,
        Pagination::offset()
            .total(Total::ContentRange.optional())
            .into()
    );
    let p = read(
        json!({ "type": "keyset", "field": "id", "param": "starting_after", "more": "/has_more" }),
    )
    .unwrap();
    assert_eq!(
        p,
        Pagination::keyset("id")
            .param("starting_after")
            .more("/has_more")
            .into()
    );
    let p = read(json!({ "type": "offset", "range": true })).unwrap();
    assert_eq!(p, Pagination::offset().range_header().into());
    let e =
        read(json!({ "type": "offset", "total": { "header": "X", "pointer": "/t" } })).unwrap_err();
    assert!(e.to_string().contains("one of"), "{e}");
    let e = read(json!({ "type": "page", "more": "/has_more" })).unwrap_err();
    assert!(e.to_string().contains("unknown field `more`"), "{e}");
}

// ---------------------------------------------------------------------------
// Offset through range headers (PostgREST)
// ---------------------------------------------------------------------------

/// A PostgREST table of ids 1..=n read with `Range`; counted when `count`.
fn ranged(n: u64, count: bool) -> impl FnMut(&Request) -> Response {
    move |r| {
        assert_eq!(r.header("Range-Unit"), Some("items"));
        let range = r.header("Range").expect("a Range header");
        let (a, b) = range.split_once('-').unwrap();
        let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
        if a >= n && n > 0 {
            return Response::new(416, "{}").with_header("Content-Range", format!("*/{n}"));
        }
        let ids: Vec<u64> = (a + 1..=n.min(b + 1)).collect();
        let last = a + ids.len() as u64;
        let total = if count { n.to_string() } else { "*".into() };
        let status = if count && (ids.len() as u64) < n {
            206
        } else {
            200
        };
        Response::new(status, json!({ "data": data(ids) }).to_string()).with_header(
            "Content-Range",
            format!("{a}-{}/{total}", last.saturating_sub(1)),
        )
    }
}

#[test]
fn offset_with_range_headers_fans_out_from_content_range() {
    let api = api(Pagination::offset().range_header(), 4).build().unwrap();
    let s = run(&api, ListOptions::new("todos"), ranged(10, true));
    let ranges: Vec<&str> = s
        .requests
        .iter()
        .map(|r| r.header("Range").unwrap())
        .collect();
    assert_eq!(ranges, vec!["0-3", "4-7", "8-11"]);
    // No offset or limit parameters.
    assert!(
        s.urls().iter().all(|u| u == &format!("{BASE}todos")),
        "{:?}",
        s.urls()
    );
    assert_eq!(s.ids, nums(1..=10));
    assert_eq!(
        (s.report().total, s.report().complete),
        (Some(10), Some(true))
    );
}

#[test]
fn offset_with_range_headers_and_no_count_walks_until_416() {
    let api = api(Pagination::offset().range_header(), 5).build().unwrap();
    let s = run(&api, ListOptions::new("todos"), ranged(10, false));
    let ranges: Vec<&str> = s
        .requests
        .iter()
        .map(|r| r.header("Range").unwrap())
        .collect();
    assert_eq!(ranges, vec!["0-4", "5-9", "10-14"]);
    assert_eq!(s.ids, nums(1..=10));
    assert!(s.report().notices.is_empty(), "{:?}", s.report().notices);
    assert_eq!(s.report().total, None);
}

// ---------------------------------------------------------------------------
// POST-body pagination
// ---------------------------------------------------------------------------

#[test]
fn graphql_cursor_in_variables() {
    let p = Pagination::cursor(Link::pointer("/data/items/pageInfo/endCursor")).limit_param(None);
    let api = Api::builder(BASE)
        .records_at("/data/items/nodes")
        .pagination(p)
        .page_size(2)
        .build()
        .unwrap();
    let template = json!({
        "query": "query($first: Int, $after: String) { items(first: $first, after: $after) { nodes { id } } }",
        "variables": { "first": "{limit}", "after": "{cursor}" }
    });
    let s = run(&api, ListOptions::new("graphql").body(template), |r| {
        assert_eq!(r.method().as_str(), "POST");
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        let body: Value = serde_json::from_slice(r.body().unwrap()).unwrap();
        let after = body["variables"]["after"]
            .as_str()
            .map_or(0, |c| c.parse().unwrap());
        let first = body["variables"]["first"].as_u64().unwrap();
        let ids: Vec<u64> = (after + 1..=5).take(first as usize).collect();
        let end = ids.last().copied().filter(|l| *l < 5);
        Response::new(
            200,
            json!({ "data": { "items": { "nodes": data(ids),
                "pageInfo": { "endCursor": end.map(|e| e.to_string()) } } } })
            .to_string(),
        )
    });
    assert_eq!(s.ids, nums(1..=5));
    let vars: Vec<Value> = s.bodies().iter().map(|b| b["variables"].clone()).collect();
    assert_eq!(
        vars,
        vec![
            json!({ "first": 2, "after": null }),
            json!({ "first": 2, "after": "2" }),
            json!({ "first": 2, "after": "4" }),
        ]
    );
    assert!(s.urls().iter().all(|u| u == &format!("{BASE}graphql")));
}

/// A search endpoint paging with `{ from, size }` in the body, total at `/hits/total`.
fn search(n: u64) -> impl FnMut(&Request) -> Response {
    move |r| {
        let body: Value = serde_json::from_slice(r.body().unwrap()).unwrap();
        let (from, size) = (
            body["from"].as_u64().unwrap(),
            body["size"].as_u64().unwrap(),
        );
        assert_eq!(body["query"], json!({ "match_all": {} }));
        Response::new(
            200,
            json!({ "hits": { "total": n, "hits": data((from + 1..=n).take(size as usize)) } })
                .to_string(),
        )
    }
}

fn search_api() -> Api {
    Api::builder(BASE)
        .records_at("/hits/hits")
        .pagination(Pagination::offset().total(Total::pointer("/hits/total")))
        .page_size(3)
        .concurrency(2)
        .build()
        .unwrap()
}

fn search_body() -> Value {
    json!({ "query": { "match_all": {} }, "from": "{offset}", "size": "{limit}" })
}

#[test]
fn search_from_size_in_the_body_fans_out() {
    let api = search_api();
    let s = run(
        &api,
        ListOptions::new("_search").body(search_body()),
        search(10),
    );
    assert_eq!(s.ids, nums(1..=10));
    let froms: Vec<u64> = s
        .bodies()
        .iter()
        .map(|b| b["from"].as_u64().unwrap())
        .collect();
    assert_eq!(froms, vec![0, 3, 6, 9]);
    assert_eq!(
        (s.report().total, s.report().complete),
        (Some(10), Some(true))
    );
}

#[test]
fn a_body_page_is_retried_as_a_read() {
    let api = Api::builder(BASE)
        .records_at("/hits/hits")
        .pagination(Pagination::offset().total(Total::pointer("/hits/total")))
        .page_size(3)
        .retry(RetryPolicy::default().max_retries(2))
        .build()
        .unwrap();
    let mut first = true;
    let mut inner = search(5);
    let s = run(
        &api,
        ListOptions::new("_search").body(search_body()),
        move |r| {
            if std::mem::take(&mut first) {
                return Response::new(503, "busy").with_header("Retry-After", "0");
            }
            inner(r)
        },
    );
    assert_eq!(s.ids, nums(1..=5));
    assert_eq!(s.report().retries.total(), 1);
    assert_eq!(s.requests.len(), 3, "the first page twice, then the second");
}

#[test]
fn a_body_template_without_the_dialect_placeholder_is_a_config_error() {
    let now = Instant::now();
    let e = Sweep::new(
        search_api().spec(),
        ListOptions::new("_search").body(json!({ "from": 0, "size": "{limit}" })),
        now,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("\"{offset}\""), "{e}");
}

#[test]
fn a_body_paginated_sweep_resumes_from_its_checkpoint() {
    let api = search_api();
    let options = || ListOptions::new("_search").body(search_body());
    let s = run_until(&api, options(), 2, search(10));
    assert_eq!(s.ids, nums(1..=6));
    let json = s.sweep.checkpoint().to_json();
    let resumed = Checkpoint::from_json(&json).unwrap();
    let s = run(&api, options().resume(resumed), search(10));
    assert_eq!(s.ids, nums(7..=10));
    assert!(s.bodies().iter().all(|b| b["from"].as_u64().unwrap() >= 6));
    assert_eq!(s.report().complete, Some(true));
}

#[test]
fn a_keyset_template_sweep_resumes_from_its_checkpoint() {
    let api = api(Pagination::keyset("id").param("id").value("gt.{value}"), 3)
        .build()
        .unwrap();
    let s = run_until(&api, ListOptions::new("items"), 2, postgrest(10));
    assert_eq!(s.ids, nums(1..=6));
    let json = s.sweep.checkpoint().to_json();
    let resumed = Checkpoint::from_json(&json).unwrap();
    let s = run(
        &api,
        ListOptions::new("items").resume(resumed),
        postgrest(10),
    );
    assert_eq!(s.ids, nums(7..=10));
    assert_eq!(
        query(&s.urls()[0]).get("id").map(String::as_str),
        Some("gt.6")
    );
}

// ---------------------------------------------------------------------------
// Delta formats and SOQL
// ---------------------------------------------------------------------------

fn first_query(
    filter: DeltaFilter,
    options: ListOptions,
) -> pagewise::Result<HashMap<String, String>> {
    let api = api(Pagination::offset(), 10).delta(filter).build().unwrap();
    let mut sweep = Sweep::new(api.spec(), options, Instant::now())?;
    Ok(query(sweep.poll_request().unwrap().url()))
}

#[test]
fn delta_formats_convert_the_watermark() {
    let cases = [
        (
            DeltaFormat::AsIs,
            "2026-01-02T04:04:05.123+01:00",
            "2026-01-02T04:04:05.123+01:00",
        ),
        (
            DeltaFormat::Rfc3339,
            "2026-01-02T04:04:05.123+01:00",
            "2026-01-02T03:04:05Z",
        ),
        (
            DeltaFormat::ServiceNow,
            "2026-01-02T03:04:05.000+0000",
            "2026-01-02 03:04:05",
        ),
        (
            DeltaFormat::Soql,
            "2026-01-02 03:04:05",
            "2026-01-02T03:04:05Z",
        ),
        (DeltaFormat::Unix, "2026-01-02T03:04:05Z", "1767323045"),
        (DeltaFormat::Rfc3339, "1767323045", "2026-01-02T03:04:05Z"),
        (DeltaFormat::ServiceNow, "2026-01-02", "2026-01-02 00:00:00"),
    ];
    for (format, from, sent) in cases {
        let filter = DeltaFilter::new("{field}_gte", "{value}").format(format);
        let q = first_query(
            filter,
            ListOptions::new("items").since(Watermark::new("updated_at", from)),
        )
        .unwrap();
        assert_eq!(q["updated_at_gte"], sent, "{format:?} of {from}");
    }
}

#[test]
fn an_unparsable_watermark_is_a_config_error_naming_it() {
    let filter = DeltaFilter::new("{field}_gte", "{value}").format(DeltaFormat::ServiceNow);
    let e = first_query(
        filter,
        ListOptions::new("items").since(Watermark::new("updated_at", "last tuesday")),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("\"last tuesday\""), "{e}");
}

#[test]
fn soql_compose_writes_into_the_q_parameter() {
    let since = || Watermark::new("LastModifiedDate", "2026-01-02T03:04:05.000+0000");
    let q = |soql: &str| {
        first_query(
            DeltaFilter::soql(),
            ListOptions::new("query").query("q", soql).since(since()),
        )
        .map(|q| q["q"].clone())
    };
    assert_eq!(
        q("SELECT Id FROM Account").unwrap(),
        "SELECT Id FROM Account WHERE LastModifiedDate >= 2026-01-02T03:04:05Z"
    );
    assert_eq!(
        q("select Id from Account where Name = 'x' or Name = 'y' order by Id limit 5").unwrap(),
        "select Id from Account where (Name = 'x' or Name = 'y') AND LastModifiedDate >= 2026-01-02T03:04:05Z order by Id limit 5"
    );
    // Keywords inside a string literal or a subquery are not clauses; `Order` is an object.
    assert_eq!(
        q("SELECT Id, (SELECT Id FROM Items WHERE x = 1 ORDER BY Id) FROM Order WHERE Note = 'it\\'s ORDER BY LIMIT' LIMIT 10").unwrap(),
        "SELECT Id, (SELECT Id FROM Items WHERE x = 1 ORDER BY Id) FROM Order WHERE (Note = 'it\\'s ORDER BY LIMIT') AND LastModifiedDate >= 2026-01-02T03:04:05Z LIMIT 10"
    );
    assert_eq!(
        q("SELECT Name FROM Contact OFFSET 10").unwrap(),
        "SELECT Name FROM Contact WHERE LastModifiedDate >= 2026-01-02T03:04:05Z OFFSET 10"
    );
    // Without a q parameter there is nothing to write into.
    let e = first_query(
        DeltaFilter::soql(),
        ListOptions::new("query").since(since()),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
}

#[test]
fn a_formatted_delta_drops_records_before_the_watermark() {
    // The filter is sent in whole seconds: the server answers records from
    // 03:04:05.000, and those before the watermark (.500) were seen before.
    let api = api(Pagination::offset(), 10)
        .delta(DeltaFilter::new("{field}_gte", "{value}").format(DeltaFormat::Rfc3339))
        .build()
        .unwrap();
    let mut w = Watermark::new("updated_at", "2026-01-02T03:04:05.500Z");
    w.ids = vec!["2".into()];
    let s = run(&api, ListOptions::new("items").since(w), |r| {
        assert_eq!(query(r.url())["updated_at_gte"], "2026-01-02T03:04:05Z");
        if query(r.url())["offset"] != "0" {
            return Response::new(200, r#"{"data":[]}"#);
        }
        let rows = json!([
            { "id": 1, "updated_at": "2026-01-02T03:04:05.100Z" },
            { "id": 2, "updated_at": "2026-01-02T04:04:05.500+01:00" },
            { "id": 3, "updated_at": "2026-01-02T03:04:05.500Z" },
            { "id": 4, "updated_at": "2026-01-02T03:04:06Z" },
        ]);
        Response::new(200, json!({ "data": rows }).to_string())
    });
    assert_eq!(s.ids, nums([3, 4]));
    let reached = s.report().watermark.clone().unwrap();
    assert_eq!(reached.value, "2026-01-02T03:04:06Z");
}

#[test]
fn delta_options_read_from_the_schema() {
    let f: DeltaFilter = serde_json::from_value(json!({
        "param": "q", "value": "{field} >= {value}", "format": "soql", "compose": "soql"
    }))
    .unwrap();
    assert_eq!(f, DeltaFilter::soql());
    let f: DeltaFilter = serde_json::from_value(json!({
        "param": "sysparm_query", "value": "{field}>={value}", "joiner": "^", "format": "servicenow"
    }))
    .unwrap();
    assert_eq!(
        f,
        DeltaFilter::new("sysparm_query", "{field}>={value}")
            .joiner("^")
            .format(DeltaFormat::ServiceNow)
    );
    let e = serde_json::from_value::<DeltaFilter>(json!({
        "param": "q", "value": "{value}", "format": "iso"
    }))
    .unwrap_err();
    assert!(e.to_string().contains("unknown variant"), "{e}");
}

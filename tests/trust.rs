//! Issue 19 ("Trust"): ids that would be dot segments, idempotency keys,
//! write outcomes that the answer does not tell, and delta filters that
//! compose with a query parameter the request already has. The core in
//! simulated time (exact URLs), then both native clients against the test
//! server.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeSet;

use pagewise::core::{
    FetchMany, ManyEvent, ManyOptions, Response, Sweep, WriteJob, WriteOp, WriteOptions,
};
use pagewise::{
    Api, BatchWrite, Client, DeltaFilter, ErrorKind, JsonText, ListOptions, Pagination, Watermark,
};
use pagewise_testserver::{Config, Faults, TestServer};
use serde_json::json;
use web_time::Instant;

const BASE: &str = "https://api.example/api/";

/// Runs a many-items machine to its end, answering every request with
/// `answer`: the requests sent (`METHOD url`) and the item results.
macro_rules! run {
    ($job:expr, $answer:expr) => {{
        let job = &mut $job;
        let now = Instant::now();
        let mut sent = Vec::new();
        let mut items = Vec::new();
        loop {
            let mut progressed = false;
            while let Some(req) = job.poll_request() {
                sent.push(format!("{} {}", req.method.as_str(), req.url));
                job.handle_response(req.id, Ok($answer), now);
                progressed = true;
            }
            while let Some(ev) = job.poll_event() {
                progressed = true;
                if let ManyEvent::Item(e) = ev {
                    items.push((e.index, e.result.map(|_| ())));
                }
            }
            if !progressed {
                break;
            }
        }
        assert!(job.is_done());
        (sent, items)
    }};
}

fn core_api() -> Api {
    Api::builder(BASE).build().unwrap()
}

/// What the ids of the issue become: `..` and `.` are errors naming the
/// id, `%2e%2e` is encoded again (`%252e%252e`, a plain segment) and `/`
/// stays inside its segment.
const IDS: [&str; 6] = ["1", "..", ".", "", "%2e%2e", "a/b"];

fn check_id_errors(items: &[(usize, pagewise::Result<()>)]) {
    assert_eq!(items.len(), IDS.len());
    for (i, r) in items {
        match IDS[*i] {
            "1" | "%2e%2e" | "a/b" => assert!(r.is_ok(), "{}: {r:?}", IDS[*i]),
            id => {
                let e = r.as_ref().unwrap_err();
                assert_eq!(e.kind(), ErrorKind::Url, "{e}");
                if id.is_empty() {
                    assert!(e.message().contains("empty id"), "{e}");
                } else {
                    assert!(e.message().contains(&format!("{id:?}")), "{e}");
                }
            }
        }
    }
}

#[test]
fn fetch_many_sends_no_request_for_an_id_that_is_a_dot_segment() {
    let api = core_api();
    let ids = IDS.iter().map(|s| s.to_string()).collect();
    let mut job = FetchMany::new(
        api.spec(),
        "items/{id}",
        ids,
        ManyOptions::default(),
        Instant::now(),
    )
    .unwrap();
    let (sent, items) = run!(job, Response::new(200, "{}"));
    assert_eq!(
        sent,
        [
            "GET https://api.example/api/items/1",
            "GET https://api.example/api/items/%252e%252e",
            "GET https://api.example/api/items/a%2Fb",
        ]
    );
    check_id_errors(&items);
}

#[test]
fn write_jobs_send_no_request_for_an_id_that_is_a_dot_segment() {
    let api = core_api();
    for (op, method) in [
        (WriteOp::Update, "PATCH"),
        (WriteOp::Upsert, "PUT"),
        (WriteOp::Delete, "DELETE"),
    ] {
        let records = IDS
            .iter()
            .map(|id| JsonText::parse(json!({ "id": id }).to_string()).unwrap())
            .collect();
        let mut job = WriteJob::new(
            api.spec(),
            records,
            WriteOptions::new(op, "items"),
            Instant::now(),
        )
        .unwrap();
        let (sent, items) = run!(job, Response::new(200, "{}"));
        assert_eq!(
            sent,
            [
                format!("{method} https://api.example/api/items/1"),
                format!("{method} https://api.example/api/items/%252e%252e"),
                format!("{method} https://api.example/api/items/a%2Fb"),
            ],
            "{op:?}"
        );
        check_id_errors(&items);
    }
}

fn server() -> TestServer {
    TestServer::start(Config {
        records: 20,
        ..Config::default()
    })
    .unwrap()
}

fn server_api(server: &TestServer) -> Api {
    Api::builder(format!("{}/api/", server.url()))
        .concurrency(4)
        .build()
        .unwrap()
}

/// The issue's `delete_many` with ids `..` and `.`: they sent `DELETE /api/`
/// and `DELETE /api/items/` and reported both Ok.
#[test]
fn delete_many_of_dot_ids_deletes_nothing_else_blocking_and_async() {
    let server = server();
    let api = server_api(&server);
    let ids = ["..", ".", "3"];
    let blocking = api.blocking().delete_many("items", ids).run().unwrap();
    let asynch =
        futures::executor::block_on(Client::new(&api).delete_many("items", ids).run()).unwrap();
    for outcomes in [&blocking, &asynch] {
        for o in &outcomes[..2] {
            let e = o.result.as_ref().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Url, "{e}");
        }
    }
    assert!(blocking[2].result.is_ok());
    // The second delete of 3 is a 404: it was sent, and only it.
    assert_eq!(asynch[2].result.as_ref().unwrap_err().status(), Some(404));
    let log: Vec<String> = server
        .log()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(log, ["DELETE /api/items/3", "DELETE /api/items/3"]);
    assert_eq!(server.ids().len(), 19);

    // fetch_many too.
    let got = api
        .blocking()
        .fetch_many("items/{id}", ["..", "4"])
        .collect::<JsonText>()
        .unwrap();
    assert_eq!(got[0].1.as_ref().unwrap_err().kind(), ErrorKind::Url);
    assert!(got[1].1.is_ok());
    let got = futures::executor::block_on(
        Client::new(&api)
            .fetch_many("items/{id}", [".", "4"])
            .collect::<JsonText>(),
    )
    .unwrap();
    assert_eq!(got[0].1.as_ref().unwrap_err().kind(), ErrorKind::Url);
    assert!(got[1].1.is_ok());
    assert_eq!(server.log().len(), 4);
}

fn is_uuid_v4(key: &str) -> bool {
    let b = key.as_bytes();
    key.len() == 36
        && [8, 13, 18, 23].iter().all(|i| b[*i] == b'-')
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
        && key
            .bytes()
            .enumerate()
            .all(|(i, c)| [8, 13, 18, 23].contains(&i) || matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// Keys are random UUID v4s: two clients (blocking and async) starting
/// their writes at once send distinct keys, and a retried write resends
/// its own key.
#[test]
fn idempotency_keys_are_random_uuids_and_retries_keep_theirs() {
    let server = server();
    let api = server_api(&server);
    let records: Vec<_> = (0..8).map(|i| json!({ "name": format!("k{i}") })).collect();
    let blocking = api.blocking();
    let client = Client::new(&api);
    std::thread::scope(|s| {
        let a = s.spawn(|| blocking.insert_many("items", records.clone()).run());
        let b = s.spawn(|| {
            futures::executor::block_on(client.insert_many("items", records.clone()).run())
        });
        for outcomes in [a.join().unwrap().unwrap(), b.join().unwrap().unwrap()] {
            assert!(outcomes.iter().all(|o| o.result.is_ok()));
        }
    });
    let keys: Vec<String> = server
        .log()
        .into_iter()
        .map(|r| r.idempotency_key.expect("every write has a key"))
        .collect();
    assert_eq!(keys.len(), 16);
    for k in &keys {
        assert!(is_uuid_v4(k), "{k:?} is not a UUID v4");
    }
    assert_eq!(keys.iter().collect::<BTreeSet<_>>().len(), 16, "{keys:?}");

    // Every answer lost after the write: each retry resends its key.
    server.reset();
    server.set_faults(Faults {
        ack_loss_rate: 1.0,
        ..Faults::default()
    });
    let api = Api::builder(format!("{}/api/", server.url()))
        .retry(
            pagewise::RetryPolicy::default()
                .max_retries(2)
                .base_delay(std::time::Duration::from_millis(1)),
        )
        .build()
        .unwrap();
    let out = api
        .blocking()
        .insert_many("items", vec![json!({"name": "once"})])
        .run()
        .unwrap();
    assert!(out[0].result.is_err());
    let keys: Vec<String> = server
        .log()
        .into_iter()
        .filter_map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys.len(), 3, "the write and its 2 retries");
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
}

/// 450 records through Salesforce's composite endpoint, one rejected.
fn composite_records() -> Vec<serde_json::Value> {
    (0..450)
        .map(|i| json!({ "name": format!("sf-{i}"), "reject": i == 123 }))
        .collect()
}

fn salesforce() -> BatchWrite {
    BatchWrite::new("composite/sobjects")
        .op_field(None)
        .results_at("")
        .result_fields("success", "id", "status", "errors/0/message")
}

#[test]
fn a_salesforce_composite_batch_reports_what_the_server_did() {
    let server = server();
    let api = server_api(&server);
    let (blocking, report) = api
        .blocking()
        .insert_many("items", composite_records())
        .batch(salesforce())
        .run_with_report()
        .unwrap();
    assert_eq!(
        (report.succeeded, report.failed, report.unknown),
        (449, 1, 0)
    );
    let e = blocking[123].result.as_ref().unwrap_err();
    assert_eq!((e.kind(), e.message()), (ErrorKind::Status, "rejected"));
    assert_eq!(e.status(), None, "the result has no HTTP status: {e}");
    let asynch = futures::executor::block_on(
        Client::new(&api)
            .insert_many("items", composite_records())
            .batch(salesforce())
            .run(),
    )
    .unwrap();
    assert_eq!(asynch.iter().filter(|o| o.result.is_ok()).count(), 449);
    assert_eq!(server.ids().len(), 20 + 2 * 449);
}

/// The npm case, in Rust: the batch's results are not where the
/// job looks for them. The records were written: their outcome is
/// unknown, not failed.
#[test]
fn written_records_whose_results_cannot_be_read_are_unknown_not_failed() {
    let server = server();
    let api = server_api(&server);
    let misread = [
        // Results looked for at `/results` (the default): not there.
        BatchWrite::new("composite/sobjects").op_field(None),
        // Results found, but neither an ok flag nor a status in them.
        BatchWrite::new("composite/sobjects")
            .op_field(None)
            .results_at("")
            .result_fields("done", "id", "code", "errors/0/message"),
    ];
    for batch in misread {
        let (outcomes, report) = api
            .blocking()
            .insert_many("items", composite_records())
            .batch(batch.clone())
            .run_with_report()
            .unwrap();
        assert_eq!(
            (report.succeeded, report.failed, report.unknown),
            (0, 0, 450)
        );
        let asynch = futures::executor::block_on(
            Client::new(&api)
                .insert_many("items", composite_records())
                .batch(batch)
                .run(),
        )
        .unwrap();
        for o in outcomes.iter().chain(&asynch) {
            let e = o.result.as_ref().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e}");
            assert!(e.message().contains("may have been written"), "{e}");
        }
    }
    assert_eq!(server.ids().len(), 20 + 4 * 449);
}

/// A write without an idempotency key whose answer was lost: it may have
/// landed (here it did), so it is unknown, not failed.
#[test]
fn a_write_whose_answer_was_lost_is_unknown_blocking_and_async() {
    let server = TestServer::start(Config {
        records: 0,
        faults: Faults {
            ack_loss_rate: 1.0,
            ..Faults::default()
        },
        ..Config::default()
    })
    .unwrap();
    let api = server_api(&server);
    let blocking = api
        .blocking()
        .insert_many("items", vec![json!({"name": "once"})])
        .idempotency_header(None)
        .run_with_report()
        .unwrap();
    let asynch = futures::executor::block_on(
        Client::new(&api)
            .insert_many("items", vec![json!({"name": "twice"})])
            .idempotency_header(None)
            .run_with_report(),
    )
    .unwrap();
    for (outcomes, report) in [blocking, asynch] {
        let e = outcomes[0].result.as_ref().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e}");
        assert_eq!((report.failed, report.unknown), (0, 1));
    }
    assert_eq!(server.ids().len(), 2, "each written once");
}

fn servicenow(joiner: Option<&str>) -> Api {
    let mut filter = DeltaFilter::new("sysparm_query", "{field}>={value}");
    if let Some(j) = joiner {
        filter = filter.joiner(j);
    }
    Api::builder("https://x.service-now.com/api/now/table/")
        .query("sysparm_display_value", "false")
        .pagination(Pagination::offset().params("sysparm_offset", "sysparm_limit"))
        .page_size(50)
        .delta(filter)
        .build()
        .unwrap()
}

fn first_url(api: &Api, options: ListOptions) -> pagewise::Result<String> {
    let mut sweep = Sweep::new(api.spec(), options, Instant::now())?;
    Ok(sweep.poll_request().unwrap().url)
}

#[test]
fn a_delta_filter_joins_a_query_parameter_the_request_already_has() {
    let since = Watermark::new("sys_updated_on", "2026-01-02 03:04:05");
    let api = servicenow(Some("^"));
    // From the list's query.
    let url = first_url(
        &api,
        ListOptions::new("incident")
            .query("sysparm_query", "active=true")
            .since(since.clone()),
    )
    .unwrap();
    assert_eq!(
        url,
        "https://x.service-now.com/api/now/table/incident?sysparm_display_value=false\
         &sysparm_query=active%3Dtrue%5Esys_updated_on%3E%3D2026-01-02+03%3A04%3A05\
         &sysparm_offset=0&sysparm_limit=50"
    );
    // From the path's own query: the same request.
    let from_path = first_url(
        &api,
        ListOptions::new("incident?sysparm_query=active%3Dtrue").since(since.clone()),
    )
    .unwrap();
    assert_eq!(
        from_path,
        "https://x.service-now.com/api/now/table/incident\
         ?sysparm_query=active%3Dtrue%5Esys_updated_on%3E%3D2026-01-02+03%3A04%3A05\
         &sysparm_display_value=false&sysparm_offset=0&sysparm_limit=50"
    );
    // Without one: added as its own parameter.
    let url = first_url(&api, ListOptions::new("incident").since(since.clone())).unwrap();
    assert_eq!(
        url,
        "https://x.service-now.com/api/now/table/incident?sysparm_display_value=false\
         &sysparm_query=sys_updated_on%3E%3D2026-01-02+03%3A04%3A05\
         &sysparm_offset=0&sysparm_limit=50"
    );
    // A filter without a joiner never sends the parameter twice.
    let e = first_url(
        &servicenow(None),
        ListOptions::new("incident")
            .query("sysparm_query", "active=true")
            .since(since),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.message().contains("joiner"), "{e}");
}

/// The same against the test server (which reads ServiceNow's
/// `sysparm_query`), through both clients: one `sysparm_query`, the rows
/// changed since the watermark and no others.
#[test]
fn a_delta_filter_joins_the_list_query_blocking_and_async() {
    let server = server();
    let api = Api::builder(format!("{}/offset/", server.url()))
        .records_at("/data")
        .delta(DeltaFilter::new("sysparm_query", "{field}>={value}").joiner("^"))
        .build()
        .unwrap();
    let stamp = |id: u64| {
        server.record_value(id).unwrap()["updated_at"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mark = stamp(15);
    let want: BTreeSet<u64> = server
        .ids()
        .into_iter()
        .filter(|id| stamp(*id) >= mark)
        .collect();
    assert!(!want.is_empty() && want.len() < 20, "{want:?}");
    let since = Watermark::new("updated_at", mark.clone());
    let ids = |records: Vec<serde_json::Value>| -> BTreeSet<u64> {
        records.iter().map(|r| r["id"].as_u64().unwrap()).collect()
    };
    let blocking = api
        .blocking()
        .list("items")
        .query("sysparm_query", "active=true")
        .since(since.clone())
        .collect()
        .unwrap();
    let asynch = futures::executor::block_on(
        Client::new(&api)
            .list("items")
            .query("sysparm_query", "active=true")
            .since(since)
            .collect(),
    )
    .unwrap();
    assert_eq!(ids(blocking), want);
    assert_eq!(ids(asynch), want);
    let firsts: Vec<String> = server
        .log()
        .into_iter()
        .filter(|r| r.path.contains("offset=0&"))
        .map(|r| r.path)
        .collect();
    let query = pagewise_query(&format!("active=true^updated_at>={mark}"));
    assert_eq!(
        firsts,
        [
            format!("/offset/items?sysparm_query={query}&offset=0&limit=100"),
            format!("/offset/items?sysparm_query={query}&offset=0&limit=100")
        ]
    );
}

/// `value` form-encoded, as the client writes query values.
fn pagewise_query(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

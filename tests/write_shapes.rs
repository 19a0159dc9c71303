//! Batch endpoints of other shapes, single-record operations and lazy
//! input, against the test server, on the blocking and the async clients.
#![cfg(not(target_arch = "wasm32"))]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use pagewise::{Api, BatchLookup, BatchResults, BatchWrite, Client, ErrorKind, JsonText};
use pagewise_testserver::{Config, TestServer};
use serde_json::{json, Value};

fn server(records: u64) -> TestServer {
    TestServer::start(Config {
        records,
        max_batch: 1_000,
        ..Config::default()
    })
    .unwrap()
}

fn api(server: &TestServer) -> Api {
    Api::builder(server.url())
        .concurrency(8)
        .retry(pagewise::RetryPolicy::default().base_delay(Duration::from_millis(20)))
        .build()
        .unwrap()
}

fn rows() -> BatchWrite {
    BatchWrite::new("shapes/rows/items")
        .op_field(None)
        .records_field(Some("rows"))
        .results(BatchResults::AllOrNothing)
        .ok_at("/ok")
}

/// The regression: `{"rows": [...]}` answered `{"ok": true}`:
/// 5,000 rows written once, reported written.
#[test]
fn rows_answered_ok_are_reported_written_once() {
    let server = server(0);
    let api = api(&server);
    let records = (0..5_000).map(|i| json!({"name": format!("r{i}")}));
    let (out, report) = api
        .blocking()
        .insert_many("items", records)
        .batch(rows())
        .run_with_report()
        .unwrap();
    assert_eq!(out.len(), 5_000);
    assert!(out.iter().all(|o| o.result.is_ok()));
    assert_eq!(
        (report.succeeded, report.failed, report.unknown),
        (5_000, 0, 0)
    );
    assert_eq!(report.requests, 25);
    assert_eq!(server.ids().len(), 5_000);
    // A rejected batch: a 200 with ok false fails its records, writes nothing.
    let records = vec![json!({"name": "a"}), json!({"name": "b", "reject": true})];
    let out = futures::executor::block_on(
        Client::new(&api)
            .insert_many("items", records)
            .batch(rows())
            .run(),
    )
    .unwrap();
    assert!(out
        .iter()
        .all(|o| o.result.as_ref().unwrap_err().kind() == ErrorKind::Status));
    assert_eq!(server.ids().len(), 5_000);
}

#[test]
fn single_rows_and_postgrest_bulk_bodies() {
    let server = server(0);
    let api = api(&server);
    let row = BatchWrite::new("shapes/row/items")
        .op_field(None)
        .records_field(Some("row"))
        .single(true)
        .results(BatchResults::AllOrNothing)
        .ok_at("/ok");
    let out = api
        .blocking()
        .insert_many("items", (0..3).map(|i| json!({"name": i})))
        .batch(row)
        .run()
        .unwrap();
    assert!(out.iter().all(|o| o.result.is_ok()));
    assert_eq!(server.ids().len(), 3);
    // PostgREST: return=representation hands the rows back by position.
    let bulk = BatchWrite::new("shapes/bulk/{collection}")
        .op_field(None)
        .records_field(None)
        .header("Prefer", "return=representation")
        .results(BatchResults::ByPosition)
        .results_at("");
    let out = futures::executor::block_on(
        Client::new(&api)
            .insert_many("items", (0..10).map(|i| json!({"name": i})))
            .batch(bulk)
            .run(),
    )
    .unwrap();
    let ids: Vec<_> = out
        .iter()
        .map(|o| o.result.as_ref().unwrap().id.clone().unwrap())
        .collect();
    assert_eq!(ids.len(), 10);
    assert_eq!(
        server.record_value(ids[4].parse().unwrap()).unwrap()["name"],
        4
    );
    // return=minimal: 201 and no body, all or nothing — from the Api's default.
    let api = Api::builder(server.url())
        .batch_write(
            BatchWrite::new("shapes/bulk/{collection}")
                .op_field(None)
                .records_field(None)
                .header("Prefer", "return=minimal")
                .results(BatchResults::AllOrNothing),
        )
        .build()
        .unwrap();
    let (out, report) = api
        .blocking()
        .insert_many("items", (0..7).map(|i| json!({"name": i})))
        .run_with_report()
        .unwrap();
    assert!(out.iter().all(|o| o.result.is_ok()));
    assert_eq!((report.succeeded, report.requests), (7, 1));
    assert_eq!(server.ids().len(), 20);
}

#[test]
fn salesforce_shaped_collections() {
    let server = server(0);
    let api = api(&server);
    let batch = BatchWrite::new("composite/sobjects")
        .op_field(None)
        .members(json!({"allOrNone": false}))
        .item_members(json!({"attributes": {"type": "Account"}}))
        .results_at("")
        .result_fields("success", "id", "status", "message")
        .errors_field("errors")
        .max(200);
    let records = vec![
        json!({"name": "a"}),
        json!({"name": "b", "reject": true}),
        json!({"name": "c"}),
    ];
    let out = api
        .blocking()
        .insert_many("items", records)
        .batch(batch)
        .run()
        .unwrap();
    assert!(out[0].result.is_ok() && out[2].result.is_ok());
    let e = out[1].result.as_ref().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Status);
    assert!(
        e.message()
            .contains("FIELD_CUSTOM_VALIDATION_EXCEPTION: rejected"),
        "{e}"
    );
    let id: u64 = out[0]
        .result
        .as_ref()
        .unwrap()
        .id
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        server.record_value(id).unwrap()["attributes"]["type"],
        "Account"
    );
}

#[test]
fn single_record_operations_on_both_clients() {
    let server = server(10);
    let api = api(&server);
    let c = api.blocking();
    let created: Value = c.create("items", json!({"name": "new"})).unwrap();
    let id = created["id"].as_u64().unwrap();
    assert_eq!(server.record_value(id).unwrap()["name"], "new");
    let changed: Value = c
        .update("items/{id}", json!({"id": id, "name": "changed"}))
        .unwrap();
    assert_eq!(changed["name"], "changed");
    let raw: JsonText = c
        .update(&format!("items/{id}"), json!({"size": 3}))
        .unwrap();
    assert!(raw.as_str().contains("\"size\":3"));
    c.delete::<()>(&format!("items/{id}")).unwrap();
    assert!(server.record_value(id).is_none());
    // A typed error: the record is gone.
    let e = c.delete::<()>(&format!("items/{id}")).unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::Status, Some(404)));
    let e = c
        .update::<Value>("items/{id}", json!({"name": "no id"}))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    // The async client.
    let client = Client::new(&api);
    let created: Value =
        futures::executor::block_on(client.create("items", json!({"name": "async"}))).unwrap();
    let id = created["id"].as_u64().unwrap();
    let gone: Option<Value> =
        futures::executor::block_on(client.delete(&format!("items/{id}"))).unwrap();
    assert!(gone.is_none());
}

#[test]
fn lazy_input_feeds_jobs_from_a_list() {
    let server = server(3_000);
    let api = api(&server);
    let c = api.blocking();
    // A list iterator feeds fetch_many: ids are read as the job goes.
    let read = Arc::new(AtomicUsize::new(0));
    let counter = read.clone();
    let lister = Api::builder(format!("{}/offset/", server.url().trim_end_matches('/')))
        .records_at("/data")
        .build()
        .unwrap()
        .blocking();
    let ids = lister.list("items").iter::<Value>().map(move |r| {
        counter.fetch_add(1, Ordering::SeqCst);
        r.unwrap()["id"].as_u64().unwrap()
    });
    let mut job = c
        .fetch_many("items/{id}", ids)
        .batch(BatchLookup::new("items", "ids").max(50))
        .iter::<Value>();
    let first = job.next().unwrap();
    assert!(first.1.is_ok());
    assert!(
        read.load(Ordering::SeqCst) < 3_000,
        "the input was read ahead of the job"
    );
    assert_eq!(job.count() + 1, 3_000);
    // Borrowed input works too, and the async stream.
    let ids: Vec<u64> = (1..=100).collect();
    let got: Vec<_> = futures::executor::block_on(
        Client::new(&api)
            .fetch_many("items/{id}", &ids)
            .stream::<Value>()
            .collect::<Vec<_>>(),
    );
    assert_eq!(got.len(), 100);
    assert!(got.iter().all(|(_, r)| r.is_ok()));
    // A write job over a generator: records are serialized as they go.
    let out = c
        .insert_many("items", (0..1_000).map(|i| json!({"name": i})))
        .batch(BatchWrite::new("batch/items").max(100))
        .run()
        .unwrap();
    assert_eq!(out.len(), 1_000);
    assert_eq!(server.ids().len(), 4_000);
}

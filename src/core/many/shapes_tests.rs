//! The shapes of batch endpoints ([`BatchWrite`]): bodies, requests and
//! the ways answers tell outcomes, hostile answers among them.

use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::core::api::ApiSpec;
use crate::core::http::{Method, Request, Response};
use crate::core::ManyCheckpoint;
use crate::core::{ApiBuilder, JsonText};
use crate::error::ErrorKind;

fn spec(b: ApiBuilder) -> Arc<ApiSpec> {
    Arc::new(b.build_spec().unwrap())
}

fn api() -> Arc<ApiSpec> {
    spec(ApiBuilder::new("https://api.example/v1/"))
}

fn records(n: usize) -> Vec<JsonText> {
    (0..n)
        .map(|i| JsonText::parse(format!(r#"{{"id":"r{i}","name":"n{i}"}}"#)).unwrap())
        .collect()
}

/// Runs `job` to its end, answering each request with `answer`: the
/// requests seen, each item's result (`Ok(id)` or the error kind and
/// message) and the report.
#[allow(clippy::type_complexity)]
fn run(
    mut job: WriteJob,
    mut answer: impl FnMut(&Request) -> Response,
) -> (
    Vec<Request>,
    Vec<Result<Option<String>, (ErrorKind, String)>>,
    ManyReport,
) {
    let now = crate::core::test_origin();
    let mut seen = Vec::new();
    let mut pending = Vec::new();
    let mut out = Vec::new();
    for _ in 0..100_000 {
        while let Some(r) = job.poll_request() {
            pending.push(r.id());
            seen.push(r);
        }
        while let Some(e) = job.poll_event() {
            match e {
                ManyEvent::Item(i) => out.push(
                    i.result
                        .map(|w| w.id)
                        .map_err(|e| (e.kind(), e.message().to_string())),
                ),
                ManyEvent::Finished(r) => return (seen, out, r),
            }
        }
        if pending.is_empty() {
            if let Some(t) = job.poll_timeout() {
                job.handle_timeout(t);
                continue;
            }
            panic!("stuck");
        }
        for id in std::mem::take(&mut pending) {
            let r = seen.iter().find(|s| s.id() == id).unwrap();
            let resp = answer(r);
            job.handle_response(id, Ok(resp), now);
        }
    }
    panic!("no end")
}

fn body(r: &Request) -> serde_json::Value {
    serde_json::from_slice(r.body().expect("a body")).unwrap()
}

fn job(records: Vec<JsonText>, op: WriteOp, batch: BatchWrite) -> WriteJob<'static> {
    let options = WriteOptions::new(op, "items")
        .batch(batch)
        .idempotency_header(None);
    WriteJob::new(&api(), records, options, crate::core::test_origin()).unwrap()
}

#[test]
fn rows_answered_ok_true_are_written_once_not_errors() {
    // The issue's regression: {"rows": [...]} answered by {"ok": true}.
    let batch = BatchWrite::new("rows")
        .op_field(None)
        .records_field(Some("rows"))
        .results(BatchResults::AllOrNothing)
        .ok_at("/ok");
    let (seen, out, report) = run(job(records(5000), WriteOp::Insert, batch), |r| {
        assert_eq!(body(r)["rows"].as_array().unwrap().len(), 200);
        Response::new(200, r#"{"ok": true}"#)
    });
    assert_eq!(seen.len(), 25);
    assert_eq!(
        (report.succeeded, report.failed, report.unknown),
        (5000, 0, 0)
    );
    assert_eq!(out[7], Ok(Some("r7".into())));
}

#[test]
fn all_or_nothing_failures_and_hostile_answers() {
    let batch = BatchWrite::new("rows")
        .op_field(None)
        .records_field(Some("rows"))
        .results(BatchResults::AllOrNothing)
        .ok_at("/ok");
    // A 2xx with ok false: nothing was written, every record failed.
    let (_, out, report) = run(job(records(3), WriteOp::Insert, batch.clone()), |_| {
        Response::new(200, r#"{"ok": false, "error": "duplicate key"}"#)
    });
    assert_eq!((report.failed, report.unknown), (3, 0));
    assert_eq!(out[0], Err((ErrorKind::Status, "duplicate key".into())));
    // An error answer fails every record with it.
    let (_, out, report) = run(job(records(3), WriteOp::Insert, batch.clone()), |_| {
        Response::new(422, r#"{"message": "bad row"}"#)
    });
    assert_eq!(report.failed, 3);
    assert_eq!(out[2].as_ref().unwrap_err().0, ErrorKind::Status);
    // Not JSON, or no ok member: the batch may be written; unknown, never failed.
    for hostile in [
        "<html>gateway</html>",
        r#"{"status": "done"}"#,
        r#"{"ok": "yes"}"#,
        "",
    ] {
        let (_, out, report) = run(job(records(3), WriteOp::Insert, batch.clone()), |_| {
            Response::new(200, hostile)
        });
        assert_eq!((report.unknown, report.failed), (3, 0), "{hostile}");
        assert_eq!(out[0].as_ref().unwrap_err().0, ErrorKind::OutcomeUnknown);
    }
    // Without okAt, a 2xx with any body (PostgREST return=minimal: 201, empty) succeeds all.
    let plain = BatchWrite::new("items")
        .op_field(None)
        .records_field(None)
        .results(BatchResults::AllOrNothing);
    let (seen, _, report) = run(job(records(3), WriteOp::Insert, plain), |_| {
        Response::new(201, "")
    });
    assert_eq!(report.succeeded, 3);
    assert!(body(&seen[0]).is_array());
}

#[test]
fn the_default_shape_does_not_fail_what_may_be_written() {
    // {"ok": true} where per-item results were expected: unknown, not failed.
    let (_, out, report) = run(
        job(records(2), WriteOp::Insert, BatchWrite::new("b")),
        |_| Response::new(200, r#"{"ok": true}"#),
    );
    assert_eq!((report.unknown, report.failed, report.succeeded), (2, 0, 0));
    assert_eq!(out[0].as_ref().unwrap_err().0, ErrorKind::OutcomeUnknown);
}

#[test]
fn by_position_results_are_the_rows_written() {
    let batch = BatchWrite::new("{collection}")
        .op_field(None)
        .records_field(None)
        .header("Prefer", "return=representation")
        .results(BatchResults::ByPosition)
        .results_at("");
    let (seen, out, report) = run(job(records(3), WriteOp::Insert, batch.clone()), |r| {
        Response::new(201, r.body().unwrap().to_vec())
    });
    assert_eq!(seen[0].url(), "https://api.example/v1/items");
    assert!(seen[0]
        .headers()
        .iter()
        .any(|h| h.name == "Prefer" && h.value == "return=representation"));
    assert_eq!(report.succeeded, 3);
    assert_eq!(out[1], Ok(Some("r1".into())));
    // A wrong count of results: which is which cannot be told.
    let (_, out, report) = run(job(records(3), WriteOp::Insert, batch.clone()), |_| {
        Response::new(201, r#"[{"id":"r0"}]"#)
    });
    assert_eq!((report.unknown, report.failed), (3, 0));
    assert!(out[0]
        .as_ref()
        .unwrap_err()
        .1
        .contains("1 results for 3 records"));
    // Non-JSON.
    let (_, _, report) = run(job(records(3), WriteOp::Insert, batch), |_| {
        Response::new(201, "not json")
    });
    assert_eq!(report.unknown, 3);
}

#[test]
fn by_id_results_match_records_by_id() {
    let batch = BatchWrite::new("items/bulk")
        .op_field(None)
        .records_field(Some("rows"))
        .results(BatchResults::ById)
        .results_at("/rows");
    // Out of order, one missing, one unknown id.
    let (_, out, report) = run(job(records(3), WriteOp::Upsert, batch.clone()), |_| {
        Response::new(200, r#"{"rows":[{"id":"r2"},{"id":"r0"},{"id":"zz"}]}"#)
    });
    assert_eq!(out[0], Ok(Some("r0".into())));
    assert_eq!(out[2], Ok(Some("r2".into())));
    assert_eq!(out[1].as_ref().unwrap_err().0, ErrorKind::OutcomeUnknown);
    assert!(out[1]
        .as_ref()
        .unwrap_err()
        .1
        .contains("no result for id \"r1\""));
    assert_eq!((report.succeeded, report.unknown), (2, 1));
    // More results than records.
    let (_, _, report) = run(job(records(1), WriteOp::Upsert, batch), |_| {
        Response::new(200, r#"{"rows":[{"id":"r0"},{"id":"r0"}]}"#)
    });
    assert_eq!(report.unknown, 1);
}

fn salesforce() -> BatchWrite {
    BatchWrite::new("composite/sobjects")
        .op_field(None)
        .members(json!({"allOrNone": false}))
        .item_members(json!({"attributes": {"type": "Account"}}))
        .results_at("")
        .result_fields("success", "id", "status", "message")
        .errors_field("errors")
        .method(WriteOp::Update, "PATCH")
        .method(WriteOp::Upsert, "patch")
        .path_for(WriteOp::Upsert, "composite/sobjects/Account/Ext__c")
        .method(WriteOp::Delete, "DELETE")
        .delete_ids_param("ids")
        .max(200)
}

#[test]
fn salesforce_collections_insert_update_upsert_delete() {
    let answer = |r: &Request| {
        let n = match r.body() {
            Some(_) => body(r)["records"].as_array().unwrap().len(),
            None => 2,
        };
        let mut items: Vec<serde_json::Value> = (0..n)
            .map(|i| json!({"id": format!("001{i}"), "success": true, "errors": []}))
            .collect();
        items[1] = json!({"id": null, "success": false, "errors": [
            {"statusCode": "DUPLICATE_VALUE", "message": "duplicate value found", "fields": ["Name"]}]});
        Response::new(200, serde_json::to_vec(&items).unwrap())
    };
    let (seen, out, report) = run(job(records(3), WriteOp::Insert, salesforce()), answer);
    assert_eq!(seen[0].method(), Method::Post);
    assert_eq!(seen[0].url(), "https://api.example/v1/composite/sobjects");
    let b = body(&seen[0]);
    assert_eq!(b["allOrNone"], json!(false));
    assert_eq!(b["records"][0]["attributes"], json!({"type": "Account"}));
    assert_eq!(b["records"][0]["name"], json!("n0"));
    assert_eq!(out[0], Ok(Some("0010".into())));
    assert_eq!(
        out[1],
        Err((
            ErrorKind::Status,
            "DUPLICATE_VALUE: duplicate value found".into()
        ))
    );
    assert_eq!((report.succeeded, report.failed), (2, 1));

    let (seen, _, _) = run(job(records(3), WriteOp::Update, salesforce()), answer);
    assert_eq!(seen[0].method(), Method::Patch);
    let (seen, _, _) = run(job(records(3), WriteOp::Upsert, salesforce()), answer);
    assert_eq!(
        (seen[0].method(), seen[0].url()),
        (
            Method::Patch,
            "https://api.example/v1/composite/sobjects/Account/Ext__c"
        )
    );
    let (seen, out, _) = run(job(records(2), WriteOp::Delete, salesforce()), answer);
    assert_eq!(seen[0].method(), Method::Delete);
    assert_eq!(
        seen[0].url(),
        "https://api.example/v1/composite/sobjects?ids=r0%2Cr1&allOrNone=false"
    );
    assert!(seen[0].body().is_none());
    assert_eq!(out[0], Ok(Some("0010".into())));
}

#[test]
fn single_row_bodies_and_fixed_members() {
    let batch = BatchWrite::new("row")
        .op_field(None)
        .records_field(Some("row"))
        .single(true)
        .members(json!({"return": true}))
        .results(BatchResults::AllOrNothing);
    let (seen, _, report) = run(job(records(3), WriteOp::Insert, batch), |_| {
        Response::new(200, "{}")
    });
    assert_eq!(seen.len(), 3);
    assert_eq!(
        body(&seen[1]),
        json!({"return": true, "row": {"id": "r1", "name": "n1"}})
    );
    assert_eq!(report.succeeded, 3);
}

#[test]
fn a_bad_shape_is_refused_at_the_start() {
    let start = |b: BatchWrite| {
        WriteJob::new(
            &api(),
            records(1),
            WriteOptions::new(WriteOp::Insert, "items").batch(b),
            crate::core::test_origin(),
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
    };
    assert!(start(BatchWrite::new("b").method(WriteOp::Insert, "FETCH"))
        .unwrap_err()
        .contains("not \"FETCH\""));
    assert!(start(
        BatchWrite::new("b")
            .records_field(None)
            .members(json!({"a": 1}))
    )
    .unwrap_err()
    .contains("fixed members"));
    assert!(start(BatchWrite::new("b").header("Bad Name", "x")).is_err());
    // Item members need object records.
    let job = WriteJob::new(
        &api(),
        vec![JsonText::parse("7".to_string()).unwrap()],
        WriteOptions::new(WriteOp::Insert, "items")
            .batch(BatchWrite::new("b").item_members(json!({"t": 1}))),
        crate::core::test_origin(),
    )
    .unwrap();
    let (seen, out, _) = run(job, |_| unreachable!());
    assert!(seen.is_empty());
    assert_eq!(out[0].as_ref().unwrap_err().0, ErrorKind::Config);
}

#[test]
fn the_apis_defaults_serve_every_collection() {
    let spec = spec(
        ApiBuilder::new("https://api.example/v1/")
            .batch_write(BatchWrite::new("{collection}/batch"))
            .lookup(BatchLookup::new("{collection}", "ids")),
    );
    let now = crate::core::test_origin();
    let options = WriteOptions::new(WriteOp::Insert, "things").idempotency_header(None);
    let mut w = WriteJob::new(&spec, records(2), options.clone(), now).unwrap();
    assert_eq!(
        w.poll_request().unwrap().url(),
        "https://api.example/v1/things/batch"
    );
    // The job's own choice wins.
    let mut w = WriteJob::new(&spec, records(2), options.clone().no_batch(), now).unwrap();
    assert_eq!(
        w.poll_request().unwrap().url(),
        "https://api.example/v1/things"
    );
    let mut w = WriteJob::new(
        &spec,
        records(2),
        options.batch(BatchWrite::new("own")),
        now,
    )
    .unwrap();
    assert_eq!(
        w.poll_request().unwrap().url(),
        "https://api.example/v1/own"
    );
    // A single-record operation never batches.
    let single = WriteOptions::new(WriteOp::Update, "things").single("things/r0");
    let mut w = WriteJob::new(&spec, records(1), single, now).unwrap();
    let r = w.poll_request().unwrap();
    assert_eq!(
        (r.method(), r.url()),
        (Method::Patch, "https://api.example/v1/things/r0")
    );

    let ids = vec!["1".to_string(), "2".to_string()];
    let mut f = FetchMany::new(
        &spec,
        "widgets/{id}",
        ids.clone(),
        ManyOptions::default(),
        now,
    )
    .unwrap();
    assert_eq!(
        f.poll_request().unwrap().url(),
        "https://api.example/v1/widgets?ids=1%2C2"
    );
    let mut f = FetchMany::new(
        &spec,
        "widgets/{id}",
        ids,
        ManyOptions::default().no_batch(),
        now,
    )
    .unwrap();
    assert_eq!(
        f.poll_request().unwrap().url(),
        "https://api.example/v1/widgets/1"
    );
}

#[test]
fn the_new_members_read_from_the_schema() {
    let w: WriteOptions = crate::core::schema::from_json(
        r#"{"batch":{"path":"composite/sobjects","opField":null,"members":{"allOrNone":false},
            "itemMembers":{"attributes":{"type":"Account"}},"results":"by-id","okAt":"/ok",
            "single":false,"methods":{"update":"PATCH","delete":"DELETE"},
            "paths":{"upsert":"x/{collection}"},"deleteIdsParam":"ids",
            "headers":{"Prefer":"return=representation"},
            "resultFields":{"ok":"success","errors":"errors"}}}"#,
    )
    .unwrap();
    let b = w.batch.unwrap();
    assert_eq!(b.results, BatchResults::ById);
    assert_eq!(b.method_of(WriteOp::Update), Method::Patch);
    assert_eq!(b.method_of(WriteOp::Insert), Method::Post);
    assert_eq!(b.path_of(WriteOp::Upsert), "x/{collection}");
    assert_eq!(b.errors_field.as_deref(), Some("errors"));
    assert_eq!(
        b.headers,
        vec![("Prefer".to_string(), "return=representation".to_string())]
    );
    let e = crate::core::schema::from_json::<WriteOptions>(
        r#"{"batch":{"path":"b","methods":{"insert":"FETCH"}}}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("FETCH"), "{e}");
    let e = crate::core::schema::from_json::<WriteOptions>(
        r#"{"batch":{"path":"b","results":"some"}}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("results"), "{e}");
    let w: WriteOptions = crate::core::schema::from_json(r#"{"batch":null}"#).unwrap();
    assert!(w.unbatched && w.batch.is_none());
    let m: ManyOptions = crate::core::schema::from_json(r#"{"batch":null}"#).unwrap();
    assert!(m.unbatched);
    let a: crate::core::ApiOptions = crate::core::schema::from_json(
        r#"{"baseUrl":"https://h.example/","lookup":{"path":"{collection}","param":"ids"},"batchWrite":{"path":"{collection}/batch"}}"#,
    )
    .unwrap();
    assert!(a.lookup.is_some() && a.batch_write.is_some());
}

/// An iterator of `n` ids counting how many were read.
fn counted(
    n: usize,
    read: Arc<std::sync::atomic::AtomicUsize>,
) -> impl Iterator<Item = crate::error::Result<String>> + Send {
    (0..n).map(move |i| {
        read.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(i.to_string())
    })
}

#[test]
fn lazy_input_is_read_as_the_job_goes() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let spec = spec(ApiBuilder::new("https://api.example/v1/").concurrency(4));
    let now = crate::core::test_origin();
    for order in [crate::core::Order::Page, crate::core::Order::Completion] {
        let read = Arc::new(AtomicUsize::new(0));
        let options = ManyOptions::default()
            .order(order)
            .batch(BatchLookup::new("items", "ids").max(10));
        let mut job = FetchMany::lazy(
            &spec,
            "items/{id}",
            counted(100_000, read.clone()),
            options,
            now,
        )
        .unwrap();
        let (mut handed, mut most_ahead) = (0usize, 0usize);
        let mut in_flight = Vec::new();
        loop {
            while let Some(r) = job.poll_request() {
                in_flight.push(r);
            }
            most_ahead = most_ahead.max(read.load(Ordering::SeqCst) - handed);
            let mut finished = false;
            while let Some(e) = job.poll_event() {
                match e {
                    ManyEvent::Item(i) => {
                        assert!(i.result.is_ok());
                        handed += 1;
                    }
                    ManyEvent::Finished(r) => {
                        assert_eq!((r.items, r.succeeded), (100_000, 100_000));
                        finished = true;
                    }
                }
            }
            if finished {
                break;
            }
            for r in in_flight.drain(..) {
                let q = r.url().split("ids=").nth(1).unwrap().to_string();
                let ids: Vec<String> = q
                    .split("%2C")
                    .map(|s| format!(r#"{{"id":"{s}"}}"#))
                    .collect();
                let body = format!(r#"{{"items":[{}]}}"#, ids.join(","));
                job.handle_response(r.id(), Ok(Response::new(200, body)), now);
            }
        }
        assert_eq!(handed, 100_000);
        // Read ahead: at most the window (2 × concurrency units of 10) and a unit.
        assert!(most_ahead <= 90, "{order:?}: {most_ahead} ids read ahead");
    }
}

#[test]
fn a_checkpoint_of_lazy_input_resumes_on_the_same_input() {
    use std::sync::atomic::AtomicUsize;
    let spec = api();
    let now = crate::core::test_origin();
    // An input of unknown length (a filter hides it).
    let ids = || counted(50, Arc::new(AtomicUsize::new(0))).filter(|_| true);
    let mut job = FetchMany::lazy(&spec, "items/{id}", ids(), ManyOptions::default(), now).unwrap();
    // Answer the first 5 requests, then take a checkpoint.
    let mut answered = 0;
    let mut done = Vec::new();
    while answered < 5 {
        let r = job.poll_request().unwrap();
        job.handle_response(r.id(), Ok(Response::new(200, "{}")), now);
        answered += 1;
        while let Some(ManyEvent::Item(i)) = job.poll_event() {
            done.push(i.index);
        }
    }
    let checkpoint = job.checkpoint();
    assert_eq!(checkpoint.done_count(), done.len() as u64);
    assert!(checkpoint.items >= 5);
    let json = checkpoint.to_json();
    let checkpoint = ManyCheckpoint::from_json(&json).unwrap();
    // Resumed on the same input: the done ids are skipped, the rest fetched.
    let mut job = FetchMany::lazy(
        &spec,
        "items/{id}",
        ids(),
        ManyOptions::default().resume(checkpoint.clone()),
        now,
    )
    .unwrap();
    // A checkpoint taken before anything new was done keeps the old done items.
    assert_eq!(job.checkpoint().done_count(), checkpoint.done_count());
    let mut urls = Vec::new();
    loop {
        while let Some(r) = job.poll_request() {
            urls.push(r.url().to_string());
            job.handle_response(r.id(), Ok(Response::new(200, "{}")), now);
        }
        match job.poll_event() {
            Some(ManyEvent::Finished(r)) => {
                assert_eq!(r.succeeded, 45);
                break;
            }
            Some(_) => {}
            None => panic!(
                "stuck: read {} next_emit {} exhausted {} units {} queue {} events {}",
                job.engine.read,
                job.engine.next_emit,
                job.engine.exhausted,
                job.engine.units.is_empty(),
                job.engine.queue.len(),
                job.engine.events.len()
            ),
        }
    }
    assert_eq!(urls.len(), 45);
    assert!(!urls
        .iter()
        .any(|u| u.ends_with("/items/0") || u.ends_with("/items/4")));
    let end = job.checkpoint();
    assert_eq!((end.items, end.done_count()), (50, 50));
}

#[test]
fn an_input_item_that_failed_is_that_items_error() {
    let records = vec![
        Ok(JsonText::parse(r#"{"id":"a"}"#.to_string()).unwrap()),
        Err(crate::Error::config(
            "record 1 does not serialize to JSON: NaN",
        )),
        Ok(JsonText::parse(r#"{"id":"c"}"#.to_string()).unwrap()),
    ];
    let job = WriteJob::lazy(
        &api(),
        records.into_iter(),
        WriteOptions::new(WriteOp::Insert, "items").idempotency_header(None),
        crate::core::test_origin(),
    )
    .unwrap();
    let (seen, out, report) = run(job, |_| Response::new(201, r#"{"id":"x"}"#));
    assert_eq!(seen.len(), 2);
    assert_eq!(out[1].as_ref().unwrap_err().0, ErrorKind::Config);
    assert_eq!((report.succeeded, report.failed), (2, 1));
}

#[test]
fn an_api_default_batch_that_cannot_tell_the_op_refuses_updates_and_deletes() {
    // PostgREST's default batch is a POST of an array to the table (an
    // insert): an update or delete sent that way would insert the rows.
    let spec =
        spec(ApiBuilder::new("https://db.example/rest/v1/").preset(crate::core::Preset::PostgRest));
    let now = crate::core::test_origin();
    for op in [WriteOp::Update, WriteOp::Delete] {
        let options = WriteOptions::new(op, "items").idempotency_header(None);
        let e = WriteJob::new(&spec, records(2), options, now)
            .err()
            .unwrap_or_else(|| panic!("{op:?} would be POSTed as an insert"));
        assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    }
    // Inserts and upserts (Prefer: resolution=merge-duplicates) are batched.
    for op in [WriteOp::Insert, WriteOp::Upsert] {
        let options = WriteOptions::new(op, "items").idempotency_header(None);
        let mut w = WriteJob::new(&spec, records(2), options, now).unwrap();
        assert_eq!(w.poll_request().unwrap().method(), Method::Post);
    }
    // Given for the job itself, a batch is the job's to choose.
    let options = WriteOptions::new(WriteOp::Update, "items")
        .batch(
            BatchWrite::new("items/bulk")
                .op_field(None)
                .records_field(None),
        )
        .idempotency_header(None);
    assert!(WriteJob::new(&spec, records(2), options, now).is_ok());
}

#[test]
fn delete_ids_param_refuses_an_id_with_the_separator() {
    // `?ids=a,b`: an id holding a comma would name two records, and the
    // server would delete one the caller never asked to delete.
    let recs = vec![
        JsonText::parse(r#"{"id":"001A,001B"}"#).unwrap(),
        JsonText::parse(r#"{"id":"001C"}"#).unwrap(),
    ];
    let (seen, out, _) = run(job(recs, WriteOp::Delete, salesforce()), |_| {
        Response::new(200, "[]")
    });
    for r in &seen {
        assert!(!r.url().contains("001A%2C001B%2C"), "{}", r.url());
        assert!(!r.url().contains("001A%2C001B"), "{}", r.url());
    }
    assert!(out.iter().any(|o| o.is_err()), "{out:?}");
}

//! fetch_many and batched writes against the test server.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::StreamExt;
use pagewise::{Api, BatchLookup, BatchWrite, Client, ErrorKind, Order};
use pagewise_testserver::{Config, Faults, TestServer};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize)]
struct Item {
    id: u64,
}

fn api(server: &TestServer, concurrency: usize) -> Api {
    Api::builder(server.url())
        .concurrency(concurrency)
        .retry(pagewise::RetryPolicy::default().base_delay(Duration::from_millis(20)))
        .build()
        .unwrap()
}

/// 49,000 ids that exist and 1,000 (2%) that do not, shuffled.
fn ids() -> Vec<u64> {
    let mut ids: Vec<u64> = (1..=49_000).chain(1_000_001..=1_001_000).collect();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for i in (1..ids.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ids.swap(i, (x % (i as u64 + 1)) as usize);
    }
    ids
}

fn check_answers(ids: &[u64], got: &[(String, pagewise::Result<Item>)], what: &str) {
    assert_eq!(got.len(), ids.len(), "{what}: every id answered");
    let mut seen = BTreeSet::new();
    for (id, r) in got {
        let id: u64 = id.parse().unwrap();
        assert!(seen.insert(id), "{what}: id {id} answered twice");
        match r {
            Ok(item) => {
                assert_eq!(item.id, id, "{what}");
                assert!(id <= 49_000);
            }
            Err(e) => {
                assert!(id > 1_000_000, "{what}: id {id} failed: {e}");
                assert_eq!(
                    (e.kind(), e.status()),
                    (ErrorKind::Status, Some(404)),
                    "{what}: {e}"
                );
            }
        }
    }
    assert_eq!(
        seen,
        ids.iter().copied().collect(),
        "{what}: the exact id set"
    );
}

#[test]
fn fetch_many_50000_ids_one_request_each() {
    let server = TestServer::start(Config {
        records: 49_000,
        latency: Duration::from_millis(2),
        ..Config::default()
    })
    .unwrap();
    let ids = ids();
    let api = api(&server, 64);
    let got = api
        .blocking()
        .fetch_many("items/{id}", &ids)
        .collect::<Item>()
        .unwrap();
    // Input order by default.
    let order: Vec<u64> = got.iter().map(|(id, _)| id.parse().unwrap()).collect();
    assert_eq!(order, ids);
    check_answers(&ids, &got, "blocking");
    assert_eq!(server.stats().requests, 50_000);
    assert!(server.stats().max_in_flight <= 64);
}

#[test]
fn fetch_many_in_batches_async_and_in_completion_order() {
    let server = TestServer::start(Config {
        records: 49_000,
        latency: Duration::from_millis(2),
        ..Config::default()
    })
    .unwrap();
    let ids = ids();
    let api = api(&server, 16);
    let client = Client::new(&api);
    let got: Vec<(String, pagewise::Result<Item>)> = futures::executor::block_on(
        client
            .fetch_many("items/{id}", &ids)
            .batch(BatchLookup::new("items", "ids").max(250))
            .order(Order::Completion)
            .stream::<Item>()
            .collect(),
    );
    check_answers(&ids, &got, "batched");
    assert_eq!(server.stats().requests, 200, "50,000 ids in batches of 250");
}

#[test]
fn fetch_many_retries_and_resumes() {
    let server = TestServer::start(Config {
        records: 3_000,
        faults: Faults {
            error_rate: 0.1,
            ..Faults::default()
        },
        ..Config::default()
    })
    .unwrap();
    let ids: Vec<u64> = (1..=3_000).collect();
    let api = api(&server, 8);
    let mut it = api.blocking().fetch_many("items/{id}", &ids).iter::<Item>();
    let first: Vec<u64> = it
        .by_ref()
        .take(1_000)
        .map(|(id, r)| {
            assert!(r.is_ok(), "{id}: 5xx are retried");
            id.parse().unwrap()
        })
        .collect();
    let checkpoint = it.checkpoint().unwrap();
    drop(it);
    let json = checkpoint.to_json();
    let rest = api
        .blocking()
        .fetch_many("items/{id}", &ids)
        .resume(pagewise::ManyCheckpoint::from_json(&json).unwrap())
        .collect::<Item>()
        .unwrap();
    let all: Vec<u64> = first
        .into_iter()
        .chain(rest.iter().map(|(id, _)| id.parse::<u64>().unwrap()))
        .collect();
    assert_eq!(all, ids);
    assert!(rest.iter().all(|(_, r)| r.is_ok()));
}

/// 10,000 records, about 3% of which the server rejects (422), written
/// through a server that fails 5% of requests and loses 3% of its answers
/// after writing.
fn records() -> Vec<serde_json::Value> {
    (0..10_000)
        .map(|i| json!({ "name": format!("job-{i}"), "n": i, "reject": i % 33 == 7 }))
        .collect()
}

fn check_writes(
    server: &TestServer,
    before: &BTreeSet<u64>,
    outcomes: &[pagewise::WriteOutcome],
    what: &str,
) {
    assert_eq!(outcomes.len(), 10_000, "{what}: one outcome per record");
    let mut by_name: BTreeMap<String, u64> = BTreeMap::new();
    for id in server.ids() {
        if before.contains(&id) {
            continue;
        }
        let v = server.record_value(id).unwrap();
        let name = v["name"].as_str().unwrap().to_string();
        assert!(
            by_name.insert(name.clone(), id).is_none(),
            "{what}: {name} written twice"
        );
        assert_eq!(
            server.write_count(id),
            1,
            "{what}: record {id} written more than once"
        );
    }
    for (i, o) in outcomes.iter().enumerate() {
        assert_eq!(o.index, i, "{what}: input order");
        let name = format!("job-{i}");
        match &o.result {
            Ok(w) => {
                let id: u64 = w.id.as_deref().unwrap().parse().unwrap();
                assert_eq!(
                    by_name.get(&name),
                    Some(&id),
                    "{what}: outcome {i} matches the server"
                );
            }
            Err(e) => {
                assert_eq!(i % 33, 7, "{what}: record {i} failed: {e}");
                assert_eq!(e.status(), Some(422), "{what}: {e}");
                assert!(
                    !by_name.contains_key(&name),
                    "{what}: a rejected record was written"
                );
            }
        }
    }
    assert_eq!(
        by_name.len(),
        outcomes.iter().filter(|o| o.result.is_ok()).count()
    );
}

#[test]
fn a_batched_write_job_writes_each_record_exactly_once() {
    let server = TestServer::start(Config {
        records: 10,
        faults: Faults {
            error_rate: 0.05,
            ack_loss_rate: 0.03,
            ..Faults::default()
        },
        ..Config::default()
    })
    .unwrap();
    let before: BTreeSet<u64> = server.ids().into_iter().collect();
    let api = api(&server, 8);
    let (outcomes, report) = api
        .blocking()
        .insert_many("items", records())
        .batch(BatchWrite::new("batch/items"))
        .batch_size(100)
        .run_with_report()
        .unwrap();
    check_writes(&server, &before, &outcomes, "batched");
    assert!(report.retries.total() > 0, "{report:?}");
    assert_eq!(
        report.failed,
        outcomes.iter().filter(|o| o.result.is_err()).count() as u64
    );
}

#[test]
fn a_per_record_write_job_writes_each_record_exactly_once() {
    let server = TestServer::start(Config {
        records: 10,
        faults: Faults {
            error_rate: 0.05,
            ack_loss_rate: 0.03,
            ..Faults::default()
        },
        ..Config::default()
    })
    .unwrap();
    let before: BTreeSet<u64> = server.ids().into_iter().collect();
    let api = api(&server, 16);
    let outcomes =
        futures::executor::block_on(Client::new(&api).insert_many("items", records()).run())
            .unwrap();
    check_writes(&server, &before, &outcomes, "per record");
}

#[test]
fn without_an_idempotency_key_a_write_that_may_have_landed_is_not_resent() {
    let server = TestServer::start(Config {
        records: 10,
        faults: Faults {
            ack_loss_rate: 1.0,
            ..Faults::default()
        },
        ..Config::default()
    })
    .unwrap();
    let api = api(&server, 2);
    let outcomes = api
        .blocking()
        .insert_many("items", vec![json!({"name": "once"})])
        .idempotency_header(None)
        .run()
        .unwrap();
    let err = outcomes[0].result.as_ref().unwrap_err();
    assert!(err.message().contains("not retried"), "{err}");
    // It was written once, and not again.
    let written: Vec<u64> = server.ids().into_iter().filter(|id| *id > 10).collect();
    assert_eq!(written.len(), 1);
    assert_eq!(server.write_count(written[0]), 1);
}

#[test]
fn update_upsert_and_delete_many() {
    let server = TestServer::start(Config {
        records: 100,
        ..Config::default()
    })
    .unwrap();
    let api = api(&server, 8);
    let c = api.blocking();
    let out = c
        .update_many(
            "items",
            (1..=10).map(|id| json!({"id": id, "name": "changed"})),
        )
        .run()
        .unwrap();
    assert!(out.iter().all(|o| o.result.is_ok()));
    assert_eq!(server.record_value(5).unwrap()["name"], "changed");
    let out = c
        .upsert_many("items", vec![json!({"id": 50, "name": "replaced"})])
        .run()
        .unwrap();
    assert_eq!(out[0].result.as_ref().unwrap().id.as_deref(), Some("50"));
    assert_eq!(server.record_value(50).unwrap()["name"], "replaced");
    // Through the batch endpoint, an upsert of a new id creates it.
    let out = c
        .upsert_many("items", vec![json!({"id": 500, "name": "new"})])
        .batch(BatchWrite::new("batch/items"))
        .run()
        .unwrap();
    assert_eq!(out[0].result.as_ref().unwrap().status, 201);
    assert_eq!(server.record_value(500).unwrap()["name"], "new");
    let out = c.delete_many("items", vec![1, 2, 999_999]).run().unwrap();
    assert!(out[0].result.is_ok() && out[1].result.is_ok());
    assert_eq!(out[2].result.as_ref().unwrap_err().status(), Some(404));
    assert!(server.record_value(1).is_none());
}

/// Thousands of single `get`s at once against a concurrency of 3: each is an
/// operation with its own gate waiting in the pacer's line; none may stall,
/// and operations dropped while waiting must not keep the line from moving.
#[test]
fn many_concurrent_gets_against_a_small_concurrency_never_stall() {
    let server = TestServer::start(Config {
        records: 3_000,
        latency: Duration::from_millis(1),
        ..Config::default()
    })
    .unwrap();
    let api = api(&server, 3);
    let client = Client::new(&api);
    futures::executor::block_on(async {
        // Started and then dropped while waiting for room.
        let paths: Vec<String> = (1..=3_000u64).map(|id| format!("items/{id}")).collect();
        let mut dropped: Vec<_> = paths[..500]
            .iter()
            .map(|p| Box::pin(client.get::<Item>(p)))
            .collect();
        // Most are left waiting for room. Not all: a get that finds room
        // sends its request, and on a loaded machine its answer (1 ms away)
        // can be in before that same poll ends, so it is done at once.
        let mut waiting = 0;
        for f in &mut dropped {
            if futures::poll!(f.as_mut()).is_pending() {
                waiting += 1;
            }
        }
        assert!(waiting >= 400, "only {waiting} of 500 were left waiting");
        drop(dropped);
        let got = futures::future::join_all(paths.iter().map(|p| client.get::<Item>(p))).await;
        for (i, r) in got.into_iter().enumerate() {
            assert_eq!(r.unwrap().id, i as u64 + 1);
        }
    });
    assert!(server.stats().max_in_flight <= 3);

    // The blocking client on many threads shares the same line.
    std::thread::scope(|s| {
        for t in 0..16u64 {
            let api = &api;
            s.spawn(move || {
                for id in (1..=100u64).map(|i| t * 100 + i) {
                    let item: Item = api.blocking().get(&format!("items/{id}")).unwrap();
                    assert_eq!(item.id, id);
                }
            });
        }
    });
    assert!(server.stats().max_in_flight <= 3);
}

/// `JsonText` instead of a type: records and answers as the server wrote
/// them (checked, not parsed), and texts written as they are.
#[test]
fn json_text_passes_records_through_every_path() {
    use pagewise::JsonText;
    let server = TestServer::start(Config {
        records: 300,
        ..Config::default()
    })
    .unwrap();
    let api = api(&server, 4);
    let blocking = api.blocking();
    let client = Client::new(&api);
    let lists = Api::builder(format!("{}/offset/", server.url()))
        .records_at("/data")
        .pagination(pagewise::Pagination::offset().total(pagewise::Total::header("X-Total-Count")))
        .page_size(50)
        .concurrency(4)
        .build()
        .unwrap();

    // get: the body, byte for byte (outer whitespace trimmed).
    let one: JsonText = blocking.get("items/7").unwrap();
    assert_eq!(one.as_str(), server.record_json(7).unwrap().trim());
    let same: JsonText = futures::executor::block_on(client.get("items/7")).unwrap();
    assert_eq!(same, one);
    assert_eq!(one.deserialize::<Item>().unwrap().id, 7);

    // list: every record's own text.
    let all: Vec<JsonText> = lists.blocking().list("items").collect().unwrap();
    assert_eq!(all.len(), 300);
    for (i, t) in all.iter().enumerate() {
        assert_eq!(t.as_str(), server.record_json(i as u64 + 1).unwrap().trim());
    }
    let streamed: Vec<JsonText> =
        futures::executor::block_on(Client::new(&lists).list("items").collect()).unwrap();
    assert_eq!(streamed, all);

    // fetch_many: a text per id; a missing id is its 404.
    let got = blocking
        .fetch_many("items/{id}", [3u64, 999_999, 5])
        .collect::<JsonText>()
        .unwrap();
    assert_eq!(got[0].1.as_ref().unwrap(), &all[2]);
    assert_eq!(got[1].1.as_ref().unwrap_err().status(), Some(404));
    assert_eq!(got[2].1.as_ref().unwrap(), &all[4]);
    let got = futures::executor::block_on(
        client
            .fetch_many("items/{id}", [5u64])
            .batch(BatchLookup::new("items", "ids"))
            .collect::<JsonText>(),
    )
    .unwrap();
    assert_eq!(
        got[0].1.as_ref().unwrap().deserialize::<Item>().unwrap().id,
        5
    );

    // Writes: texts go out as they are, mixed with nothing else.
    let texts: Vec<JsonText> = (0..3)
        .map(|i| JsonText::parse(format!(r#"{{ "name" : "text-{i}" }}"#)).unwrap())
        .collect();
    let before: BTreeSet<u64> = server.ids().into_iter().collect();
    let outcomes = blocking.insert_many("items", &texts).run().unwrap();
    let outcomes2 =
        futures::executor::block_on(client.insert_many("items", texts.clone()).run()).unwrap();
    let mut names: Vec<String> = server
        .ids()
        .into_iter()
        .filter(|id| !before.contains(id))
        .map(|id| {
            server.record_value(id).unwrap()["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["text-0", "text-0", "text-1", "text-1", "text-2", "text-2"]
    );
    assert!(outcomes.iter().chain(&outcomes2).all(|o| o.result.is_ok()));

    // A body that is not JSON is a decode error naming the URL, not a panic.
    assert!(JsonText::parse("{\"name\": }").is_err());
}

/// The async stream of a job on the event loop's thread: the loop runs
/// ahead of the consumer, yet a checkpoint counts only what the consumer
/// took (resuming loses nothing and repeats nothing), progress never counts
/// more than that, and dropping the stream stops the requests.
#[test]
fn an_async_job_run_on_the_loop_checkpoints_what_was_taken_and_stops_when_dropped() {
    let server = TestServer::start(Config {
        records: 3_000,
        latency: Duration::from_millis(1),
        ..Config::default()
    })
    .unwrap();
    let ids: Vec<u64> = (1..=3_000).collect();
    let api = api(&server, 16);
    let client = Client::new(&api);
    let max_done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = max_done.clone();
    let mut stream = client
        .fetch_many("items/{id}", &ids)
        .on_progress(move |p| {
            seen.fetch_max(p.done, std::sync::atomic::Ordering::SeqCst);
        })
        .stream::<Item>();
    let first: Vec<u64> = futures::executor::block_on(async {
        let mut first = Vec::new();
        while first.len() < 700 {
            let (id, r) = stream.next().await.unwrap();
            assert_eq!(r.unwrap().id.to_string(), id);
            first.push(id.parse().unwrap());
        }
        // Let the loop run ahead of this consumer.
        futures_timer::Delay::new(Duration::from_millis(100)).await;
        first
    });
    assert!(
        max_done.load(std::sync::atomic::Ordering::SeqCst) <= 700,
        "progress counts only what the consumer took"
    );
    let checkpoint = stream.checkpoint().unwrap();
    assert_eq!(checkpoint.done_count(), 700);
    drop(stream);
    std::thread::sleep(Duration::from_millis(100));
    let after_drop = server.stats().requests;
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        server.stats().requests,
        after_drop,
        "no request after the drop"
    );
    assert!(
        after_drop < 3_000,
        "the job stopped early ({after_drop} requests)"
    );

    let rest = futures::executor::block_on(
        client
            .fetch_many("items/{id}", &ids)
            .resume(checkpoint)
            .collect::<Item>(),
    )
    .unwrap();
    let all: Vec<u64> = first
        .into_iter()
        .chain(rest.iter().map(|(id, _)| id.parse::<u64>().unwrap()))
        .collect();
    assert_eq!(all, ids);
}

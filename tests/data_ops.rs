//! Data operations against the test server: delta sync with a watermark,
//! checkpoint and resume across clients, progress.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{scenarios, Item};
use futures::StreamExt;
use pagewise::{Checkpoint, Client, Order, Progress, Watermark};
use pagewise_testserver::{Config, TestServer};

fn server(records: u64, latency_ms: u64) -> TestServer {
    TestServer::start(Config {
        records,
        latency: Duration::from_millis(latency_ms),
        ..Config::default()
    })
    .expect("test server starts")
}

#[test]
fn delta_sync_returns_exactly_what_changed_and_the_watermark_round_trips() {
    let server = server(5_000, 0);
    for name in ["offset+header", "keyset", "cursor in body"] {
        let s = scenarios(&server.url(), 8)
            .into_iter()
            .find(|s| s.name == name)
            .unwrap();
        let client = s.api.blocking();
        let (all, report) = client
            .list("items")
            .since(Watermark::new("updated_at", "1970-01-01T00:00:00Z"))
            .collect_with_report::<Item>()
            .unwrap();
        let before = server.ids().len();
        assert_eq!(all.len(), before, "{name}: the first sync gets everything");
        let mark = report
            .watermark
            .expect("a delta sync reports its watermark");
        let newest = all.iter().map(|i| i.updated_at.clone()).max().unwrap();
        assert_eq!(mark.value, newest, "{name}");
        assert!(!mark.ids.is_empty());

        // The watermark is stored as JSON and read back later.
        let stored = serde_json::to_string(&mark).unwrap();
        let mark: Watermark = serde_json::from_str(&stored).unwrap();

        // Nothing changed: nothing comes back (records at the watermark were seen).
        let (none, r) = client
            .list("items")
            .since(mark.clone())
            .collect_with_report::<Item>()
            .unwrap();
        assert!(
            none.is_empty(),
            "{name}: {} records came back unchanged",
            none.len()
        );
        assert_eq!(r.watermark.as_ref(), Some(&mark));

        let ids = server.ids();
        let updated: Vec<u64> = ids
            .iter()
            .copied()
            .step_by(ids.len() / 500)
            .take(500)
            .collect();
        server.update(&updated);
        let inserted = server.insert(100);
        let (changed, r) = client
            .list("items")
            .since(mark)
            .collect_with_report::<Item>()
            .unwrap();
        let got: BTreeSet<u64> = changed.iter().map(|i| i.id).collect();
        let expected: BTreeSet<u64> = updated.iter().chain(&inserted).copied().collect();
        assert_eq!(changed.len(), 600, "{name}: each changed record once");
        assert_eq!(got, expected, "{name}: exactly the changed records");
        let next = r.watermark.unwrap();
        assert!(next.value > newest, "{name}: the watermark moved on");
    }
}

#[test]
fn a_sweep_dropped_halfway_resumes_from_its_checkpoint_in_a_new_client() {
    let server = server(10_000, 2);
    for order in [Order::Page, Order::Completion] {
        let s = scenarios(&server.url(), 8).remove(0);
        server.reset();
        let path = std::env::temp_dir().join(format!(
            "pagewise-checkpoint-{}-{order:?}.json",
            std::process::id()
        ));
        let mut first: Vec<u64> = Vec::new();
        {
            let mut it = s
                .api
                .blocking()
                .list("items")
                .page_size(100)
                .order(order)
                .iter::<Item>();
            for item in it.by_ref().take(4_321) {
                first.push(item.unwrap().id);
            }
            let checkpoint = it.checkpoint().unwrap();
            std::fs::write(&path, checkpoint.to_json()).unwrap();
            // The iterator is dropped here, mid-sweep.
        }
        // Requests in flight at the drop still finish (and are logged): wait for them.
        std::thread::sleep(Duration::from_millis(300));
        let log_before: Vec<String> = server.log().into_iter().map(|r| r.path).collect();

        // Another client (another Api, as another process would have).
        let s2 = scenarios(&server.url(), 8).remove(0);
        let checkpoint = Checkpoint::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(checkpoint.records_done(), 4_321);
        let (rest, report) = s2
            .api
            .blocking()
            .list("items")
            .page_size(100)
            .order(order)
            .resume(checkpoint)
            .collect_with_report::<Item>()
            .unwrap();
        let mut all: Vec<u64> = first.clone();
        all.extend(rest.iter().map(|i| i.id));
        let set: BTreeSet<u64> = all.iter().copied().collect();
        assert_eq!(all.len(), 10_000, "{order:?}: every record once");
        assert_eq!(set.len(), 10_000);
        if order == Order::Page {
            assert_eq!(all, (1..=10_000).collect::<Vec<_>>());
        }
        assert_eq!(report.records, 10_000, "the report covers the whole sweep");
        assert_eq!(report.complete, Some(true));

        // No page that was finished before the drop is fetched again.
        let finished_pages: BTreeSet<u64> = first
            .iter()
            .map(|id| (id - 1) / 100)
            .filter(|p| (p * 100 + 1..=p * 100 + 100).all(|id| first.contains(&id)))
            .collect();
        let after: Vec<String> = server
            .log()
            .into_iter()
            .map(|r| r.path)
            .skip(log_before.len())
            .collect();
        let mut fetched_after: BTreeMap<u64, usize> = BTreeMap::new();
        for p in &after {
            let offset: u64 = p
                .split("offset=")
                .nth(1)
                .unwrap()
                .split('&')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            *fetched_after.entry(offset / 100).or_default() += 1;
        }
        for page in &finished_pages {
            assert!(
                !fetched_after.contains_key(page),
                "{order:?}: finished page {page} fetched again"
            );
        }
        let twice: Vec<_> = fetched_after.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            twice.is_empty(),
            "{order:?}: pages fetched twice after resuming: {twice:?} of {after:?}"
        );
        std::fs::remove_file(&path).ok();
    }
}

#[test]
fn a_checkpoint_taken_in_an_async_stream_resumes_in_the_blocking_client() {
    let server = server(3_000, 0);
    let s = scenarios(&server.url(), 8)
        .into_iter()
        .find(|s| s.name == "cursor in body")
        .unwrap();
    let client = Client::new(&s.api);
    let (first, checkpoint) = futures::executor::block_on(async {
        let mut stream = client.list("items").page_size(100).stream::<Item>();
        let mut got = Vec::new();
        while got.len() < 1_234 {
            got.push(stream.next().await.unwrap().unwrap().id);
        }
        (got, stream.checkpoint().unwrap())
    });
    let json = checkpoint.to_json();
    let rest: Vec<Item> = s
        .api
        .blocking()
        .list("items")
        .page_size(100)
        .resume(Checkpoint::from_json(&json).unwrap())
        .collect()
        .unwrap();
    let all: Vec<u64> = first
        .into_iter()
        .chain(rest.into_iter().map(|i| i.id))
        .collect();
    assert_eq!(all, (1..=3_000).collect::<Vec<_>>());
    // A checkpoint for another collection or dialect is refused.
    let other = scenarios(&server.url(), 8).remove(0);
    let err = other
        .api
        .blocking()
        .list("items")
        .resume(Checkpoint::from_json(&json).unwrap())
        .collect::<Item>()
        .unwrap_err();
    assert_eq!(err.kind(), pagewise::ErrorKind::Config, "{err}");
    assert!(Checkpoint::from_json("{\"nope\":1}").is_err());
}

#[test]
fn progress_is_monotonic_and_ends_at_the_report() {
    let server = server(5_000, 1);
    let s = scenarios(&server.url(), 8).remove(0);
    let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let sink = seen.clone();
    let (_, report) = s
        .api
        .blocking()
        .list("items")
        .page_size(100)
        .on_progress(move |p| sink.lock().unwrap().push(p.clone()))
        .collect_with_report::<Item>()
        .unwrap();
    let seen = seen.lock().unwrap();
    assert!(
        seen.len() >= 50,
        "{} progress calls for 50 pages",
        seen.len()
    );
    for w in seen.windows(2) {
        assert!(
            w[1].pages >= w[0].pages && w[1].records >= w[0].records && w[1].bytes >= w[0].bytes
        );
        assert!(w[1].elapsed >= w[0].elapsed);
    }
    assert!(seen
        .iter()
        .skip(1)
        .all(|p| p.pages_total == Some(50) && p.records_total == Some(5_000)));
    assert!(seen[seen.len() / 2].eta.is_some());
    let last = seen.last().unwrap();
    assert_eq!(
        (last.pages, last.records, last.bytes),
        (report.pages, report.records, report.bytes)
    );
    assert_eq!(last.eta, Some(Duration::ZERO));

    // The async client calls it too.
    let count = Arc::new(Mutex::new(0u64));
    let c2 = count.clone();
    let n = futures::executor::block_on(
        Client::new(&s.api)
            .list("items")
            .page_size(500)
            .on_progress(move |p| *c2.lock().unwrap() = p.records)
            .stream::<Item>()
            .count(),
    );
    assert_eq!(n, 5_000);
    assert_eq!(*count.lock().unwrap(), 5_000);
}

#[test]
fn resuming_a_finished_sweep_ends_at_once() {
    let server = server(500, 0);
    let s = scenarios(&server.url(), 4).remove(0);
    let mut it = s.api.blocking().list("items").iter::<Item>();
    assert_eq!(it.by_ref().count(), 500);
    let done = it.checkpoint().unwrap();
    assert!(done.is_finished());
    let (rest, report) = s
        .api
        .blocking()
        .list("items")
        .resume(done.clone())
        .collect_with_report::<Item>()
        .unwrap();
    assert!(rest.is_empty());
    assert_eq!(report.records, 500);
    let n = futures::executor::block_on(
        Client::new(&s.api)
            .list("items")
            .resume(done)
            .stream::<Item>()
            .count(),
    );
    assert_eq!(n, 0);
}

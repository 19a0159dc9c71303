//! The states of a unit, seen from inside the engine (the module doc's
//! doctest sees only what a job hands out).

use std::sync::Arc;
use std::time::Duration;

use super::units::UnitState;
use super::*;
use crate::core::http::Response;
use crate::core::{ApiBuilder, JsonText};

fn states(job: &WriteJob) -> Vec<(Vec<usize>, &'static str)> {
    let units = &job.engine.units;
    (0..64)
        .filter_map(|id| units_get(units, id))
        .map(|u| {
            let state = match u.state {
                UnitState::Queued => "queued",
                UnitState::InFlight => "in flight",
                UnitState::Waiting => "waiting",
            };
            (u.indices.clone(), state)
        })
        .collect()
}

fn units_get(units: &super::units::Units, id: u64) -> Option<&super::units::Unit> {
    units.get(id)
}

#[test]
fn the_states_in_turn() {
    let spec = Arc::new(
        ApiBuilder::new("https://api.example/")
            .build_spec()
            .unwrap(),
    );
    let records = ["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"]
        .map(|r| JsonText::parse(r.to_string()).unwrap())
        .to_vec();
    let options = WriteOptions::new(WriteOp::Insert, "items")
        .batch(BatchWrite::new("batch").max(2))
        .seed(7);
    let now = crate::core::test_origin();
    let mut job = WriteJob::new(&spec, records, options, now).unwrap();
    // The input is read as units are sent: one unit waits to go.
    assert_eq!(states(&job), [(vec![0, 1], "queued")]);
    let first = job.poll_request().unwrap();
    let second = job.poll_request().unwrap();
    assert_eq!(
        states(&job),
        [(vec![0, 1], "in flight"), (vec![2], "in flight")]
    );
    // The whole request failed and is retried: the unit waits.
    job.handle_response(second.id, Ok(Response::new(503, "busy")), now);
    assert_eq!(
        states(&job),
        [(vec![0, 1], "in flight"), (vec![2], "waiting")]
    );
    // One record of a batch failed alone: a new unit of it waits; the
    // answered unit is gone, its other item has its result.
    let answer = r#"{"results":[{"ok":true},{"ok":false,"status":429}]}"#;
    job.handle_response(first.id, Ok(Response::new(200, answer)), now);
    assert_eq!(states(&job), [(vec![2], "waiting"), (vec![1], "waiting")]);
    // Retries due: queued, then in flight again, with the same key for the
    // same body and a new key for the new one.
    let later = now + Duration::from_secs(60);
    job.handle_timeout(later);
    assert_eq!(states(&job), [(vec![2], "queued"), (vec![1], "queued")]);
    let key = |r: &crate::core::Request| r.header("Idempotency-Key").unwrap().to_string();
    let again: Vec<_> = std::iter::from_fn(|| job.poll_request()).collect();
    assert_eq!(again.len(), 2);
    assert!(again.iter().any(|r| key(r) == key(&second)));
    assert!(again.iter().all(|r| key(r) != key(&first)));
    for r in again {
        job.handle_response(
            r.id,
            Ok(Response::new(200, r#"{"results":[{"ok":true}]}"#)),
            later,
        );
    }
    assert!(states(&job).is_empty());
    let mut items = 0;
    while let Some(event) = job.poll_event() {
        match event {
            ManyEvent::Item(item) => items += usize::from(item.result.is_ok()),
            ManyEvent::Finished(report) => assert_eq!(report.succeeded, 3),
        }
    }
    assert_eq!(items, 3);
    assert!(job.is_done());
}

//! Retries of a sweep in simulated time: backoff, `Retry-After`, counts,
//! and a retry budget spent.

use std::time::Duration;

use pagewise::core::Response;
use pagewise::{RetryBudget, RetryPolicy};

use crate::scenario::*;

#[test]
fn transient_failures_are_retried_in_simulated_time_and_counted() {
    let s = Scenario::new(offset_header(), 10, 4)
        .options(|o| o.seed(7))
        .fake(Fake::new(Style::Offset(Tot::Header), 50))
        .on_first(2, off(20, 10), Response::new(503, "busy"))
        .on_first(1, off(40, 10), throttle(2))
        .run();
    assert_eq!(s.ids(), range(1, 50), "every record once, in order");
    let asked = s.urls();
    assert_eq!(
        asked.iter().filter(|u| **u == off(20, 10)).count(),
        3,
        "two retries of the 503s"
    );
    assert_eq!(
        asked.iter().filter(|u| **u == off(40, 10)).count(),
        2,
        "one retry of the 429"
    );
    let r = s.report();
    assert_eq!(r.retries.server_error, 2);
    assert_eq!(r.retries.throttled, 1);
    assert!(
        r.throttled >= Duration::from_secs(2) && r.throttled <= Duration::from_millis(2200),
        "{:?}",
        r.throttled
    );
    assert!(
        r.duration >= Duration::from_secs(2),
        "the sweep waited for Retry-After: {:?}",
        r.duration
    );
    assert_eq!(r.requests, 5 + 2 + 1);
}

#[test]
fn a_retry_budget_spent_ends_the_sweep_with_the_reason() {
    let policy = RetryPolicy::default().budget(Some(RetryBudget {
        capacity: 10,
        retry_cost: 5,
        timeout_cost: 10,
        success_refund: 1,
    }));
    let fake = Fake::new(Style::Offset(Tot::Header), 50);
    let s = Scenario::new(offset_header(), 10, 4)
        .options(|o| o.retry(policy).seed(1))
        .on(off(0, 10), fake.respond(&off(0, 10)))
        .serve(|_| Ok(Response::new(500, "down")))
        .run();
    let e = s.error();
    assert_eq!(e.status(), Some(500));
    assert!(e.message().contains("retry budget is spent"), "{e}");
    assert_eq!(
        s.ids(),
        range(1, 10),
        "the first page was handed out before the failure"
    );
}

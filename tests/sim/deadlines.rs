//! The deadline of a sweep: a Timeout error at the deadline, in simulated time.

use std::time::Duration;

use pagewise::core::{Event, Sweep};
use pagewise::ErrorKind;
use web_time::Instant;

use crate::scenario::*;

#[test]
fn a_deadline_is_a_timeout() {
    let a = offset_header_api(10, 4);
    let t0 = Instant::now();
    let mut sweep = Sweep::new(a.spec(), items().deadline(Duration::from_secs(5)), t0).unwrap();
    let req = sweep.poll_request().unwrap();
    assert!(sweep.poll_request().is_none());
    assert_eq!(sweep.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    sweep.handle_timeout(t0 + Duration::from_millis(4999));
    assert!(sweep.poll_event().is_none(), "not yet");
    assert_eq!(sweep.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    sweep.handle_timeout(t0 + Duration::from_secs(5));
    let Some(Event::Failed(e)) = sweep.poll_event() else {
        panic!("expected a failure")
    };
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(e.url(), Some(ITEMS));
    assert!(sweep.poll_event().is_none());
    assert!(sweep.is_done());
    assert_eq!(sweep.poll_timeout(), None);
    let late = Fake::new(Style::Offset(Tot::Header), 5).respond(url(&req));
    sweep.handle_response(id(&req), Ok(late), t0 + Duration::from_secs(6));
    assert!(sweep.poll_event().is_none() && sweep.poll_request().is_none());

    let mut sweep = Sweep::new(a.spec(), items(), t0).unwrap();
    let _first = sweep.poll_request().unwrap();
    assert_eq!(sweep.poll_timeout(), None, "no deadline, no timeout");
}

#[test]
fn a_deadline_stops_a_slow_sweep_in_simulated_time() {
    // 100 ms per request, 2 at a time: pages 0 | 1 2 | 3 4 | 5 6 ... the deadline at 350 ms.
    let s = Scenario::new(offset_header(), 10, 2)
        .options(|o| o.deadline(Duration::from_millis(350)))
        .latency(|_| Duration::from_millis(100))
        .fake(Fake::new(Style::Offset(Tot::Header), 90))
        .run();
    assert_eq!(s.error().kind(), ErrorKind::Timeout);
    assert_eq!(s.now - s.t0, Duration::from_millis(350));
    assert_eq!(s.ids(), range(1, 50));
    assert_eq!(s.answered.len(), 5);
    assert_eq!(s.urls().len(), 7, "pages 5 and 6 were in flight");
}

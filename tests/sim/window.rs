//! Fan-out and the reorder window, step by step: what is sent when, what is
//! held, and how a retried or slow page stretches or holds the window.

use std::time::Duration;

use pagewise::core::{Event, Notice, Response, Sweep};
use web_time::Instant;

use crate::scenario::*;

fn offset_by_10(c: usize) -> Scenario {
    Scenario::new(offset_header(), 10, c)
}

#[test]
fn first_page_with_total_fans_out_up_to_concurrency_at_once() {
    let mut s = offset_by_10(4)
        .fake(Fake::new(Style::Offset(Tot::Header), 100))
        .start();
    assert_eq!(s.send(), vec![off(0, 10)]);
    assert_eq!(
        s.send(),
        Vec::<String>::new(),
        "nothing more before the total is known"
    );
    s.answer(&off(0, 10));
    assert_eq!(
        s.send(),
        vec![off(10, 10), off(20, 10), off(30, 10), off(40, 10)]
    );
    assert_eq!(s.sweep.in_flight(), 4);
    assert_eq!(s.events(), 1);
    s.answer(&off(30, 10));
    assert_eq!(s.send(), vec![off(50, 10)], "one answer frees one slot");
    s.run(Pick::Fifo);
    assert_eq!(s.ids(), range(1, 100));
    assert_eq!(
        s.urls(),
        (0..10).map(|k| off(10 * k, 10)).collect::<Vec<_>>()
    );
}

#[test]
fn a_slow_page_holds_the_window_and_stops_requests() {
    let (c, w) = (3, 2);
    let mut s = offset_by_10(c)
        .window(w)
        .fake(Fake::new(Style::Offset(Tot::Header), 100))
        .start();
    s.send();
    s.answer(&off(0, 10));
    assert_eq!(s.send(), vec![off(10, 10), off(20, 10), off(30, 10)]);
    assert_eq!(s.events(), 1);
    // Page 1 (offset 10) is slow; everything else answers.
    s.answer(&off(20, 10));
    assert_eq!(s.send(), vec![off(40, 10)]);
    s.answer(&off(30, 10));
    assert_eq!(s.send(), vec![off(50, 10)]);
    s.answer(&off(40, 10));
    assert_eq!(
        s.send(),
        Vec::<String>::new(),
        "window full: pages 1..=5 held or in flight"
    );
    s.answer(&off(50, 10));
    assert_eq!(s.send(), Vec::<String>::new());
    assert_eq!(s.events(), 0, "nothing out of order");
    assert_eq!(s.in_flight(), vec![off(10, 10)]);
    assert_eq!(s.sweep.buffered_pages(), 4);
    s.answer(&off(10, 10));
    assert_eq!(s.sweep.buffered_pages(), 5);
    assert_eq!(s.sweep.report().max_buffered_pages, c + w);
    assert_eq!(s.send(), Vec::<String>::new(), "5 pages wait to be taken");
    assert_eq!(
        s.sweep.poll_timeout(),
        None,
        "a slow consumer is not woken up"
    );
    assert_eq!(s.events(), 5);
    // A driver that took every event after sending is told to come back now,
    // or it would wait forever with nothing in flight.
    assert_eq!(s.sweep.in_flight(), 0);
    let wake = s.sweep.poll_timeout().expect("a wake-up once room is made");
    assert!(wake <= s.now);
    s.sweep.handle_timeout(s.now);
    assert_eq!(s.events(), 0, "waking is not a failure");
    assert_eq!(s.send(), vec![off(60, 10), off(70, 10), off(80, 10)]);
    assert_eq!(s.sweep.poll_timeout(), None);
    assert_eq!(s.ids(), range(1, 60));
    s.run(Pick::Fifo);
    assert_eq!(s.ids(), range(1, 100));
    assert_eq!(s.report().max_buffered_pages, c + w);
}

#[test]
fn a_throttled_page_stretches_the_window_while_it_waits_out_retry_after() {
    // A 429 with `Retry-After: 1` for page 1: the pages after it go on
    // arriving while it waits, up to twice concurrency + window held; the
    // sweep does not stop for the whole second. Once page 1 is in, the
    // bound is concurrency + window again.
    let (c, w) = (2, 2);
    let mut s = offset_by_10(c)
        .window(w)
        .fake(Fake::new(Style::Offset(Tot::Header), 200))
        .on_first(1, off(10, 10), throttle(1))
        .start();
    s.send();
    s.answer(&off(0, 10));
    assert_eq!(s.events(), 1);
    assert_eq!(s.send(), vec![off(10, 10), off(20, 10)]);
    s.answer(&off(10, 10));
    // Page 1 waits a second; pages 2.. keep going, 2 at a time.
    let mut sent = s.send();
    while !s.in_flight().is_empty() {
        let next = s.in_flight()[0].clone();
        s.answer(&next);
        assert_eq!(s.events(), 0, "nothing passes page 1");
        sent.extend(s.send());
    }
    // Held: page 1 waiting, pages 2..=8 done: 8 = 2 x (2 + 2).
    assert_eq!(sent.last(), Some(&off(80, 10)), "{sent:?}");
    assert_eq!(s.sweep.buffered_pages(), 2 * (c + w) - 1);
    let due = s.sweep.poll_timeout().expect("page 1 is due");
    assert!(
        due - s.now > Duration::from_millis(900),
        "Retry-After is kept"
    );
    s.wait_for_timeout();
    assert_eq!(s.send(), vec![off(10, 10)], "page 1 goes again first");
    s.answer(&off(10, 10));
    assert_eq!(s.events(), 8, "pages 1..=8 out in order");
    // Back to concurrency + window: 2 in flight, and room for 2 more.
    assert_eq!(s.send(), vec![off(90, 10), off(100, 10)]);
    s.answer(&off(100, 10));
    s.answer(&off(90, 10));
    assert_eq!(s.events(), 2);
    s.run(Pick::Fifo);
    assert_eq!(s.ids(), range(1, 200));
    assert_eq!(s.report().max_buffered_pages, 2 * (c + w));
}

#[test]
fn a_retried_page_that_comes_back_short_still_gets_its_rest_fetched() {
    // Found by the `sweep` fuzz target. Page 1 is throttled; while it waits,
    // pages 2..=8 arrive under the stretched bound (2 x (2 + 2) held). Its
    // retry comes back short: the rest of its range is a new page, never
    // retried, so the bound is concurrency + window again, and 7 pages are
    // held, all waiting for that page. It goes all the same (only it can
    // release them), or the sweep would hold them forever with nothing in
    // flight and nothing to wait for.
    let (c, w) = (2, 2);
    let mut s = offset_by_10(c)
        .window(w)
        .fake(Fake::new(Style::Offset(Tot::Header), 100))
        .on_first(1, off(10, 10), throttle(1))
        .on(off(10, 10), Reply::Short(6))
        .start();
    s.send();
    s.answer(&off(0, 10));
    assert_eq!(s.events(), 1);
    assert_eq!(s.send(), vec![off(10, 10), off(20, 10)]);
    s.answer(&off(10, 10));
    let mut sent = s.send();
    while !s.in_flight().is_empty() {
        let next = s.in_flight()[0].clone();
        s.answer(&next);
        assert_eq!(s.events(), 0, "nothing passes page 1");
        sent.extend(s.send());
    }
    assert_eq!(sent, (3..=8).map(|k| off(10 * k, 10)).collect::<Vec<_>>());
    assert_eq!(s.sweep.buffered_pages(), 7, "pages 2..=8");
    s.wait_for_timeout();
    assert_eq!(s.send(), vec![off(10, 10)]);
    s.answer(&off(10, 10)); // ids 11..=16 of 11..=20
    assert_eq!(s.events(), 1, "page 1; pages 2..=8 wait for the rest of it");
    assert_eq!(
        s.notices,
        vec![Notice::ShortPage {
            page: 1,
            expected: 10,
            got: 6
        }]
    );
    assert_eq!(s.sweep.buffered_pages(), 7);
    assert_eq!(
        s.send(),
        vec![off(16, 4)],
        "the rest of page 1 goes, though 7 pages are held"
    );
    s.answer(&off(16, 4));
    assert_eq!(s.events(), 8, "the rest of page 1, then pages 2..=8");
    assert_eq!(s.send(), vec![off(90, 10)]);
    s.run(Pick::Fifo);
    assert_eq!(s.ids(), range(1, 100));
    assert_eq!(
        s.page_urls(),
        [off(0, 10), off(10, 10), off(16, 4)]
            .into_iter()
            .chain((2..=9).map(|k| off(10 * k, 10)))
            .collect::<Vec<_>>()
    );
    assert_eq!(s.report().complete, Some(true));
    assert_eq!(s.report().max_buffered_pages, 2 * (c + w));
}

#[test]
fn a_slow_consumer_stops_requests_at_concurrency_plus_window() {
    let (c, w) = (2, 2);
    let mut s = offset_by_10(c)
        .fake(Fake::new(Style::Offset(Tot::Header), 100))
        .start();
    s.send();
    s.answer(&off(0, 10));
    assert_eq!(s.send(), vec![off(10, 10), off(20, 10)]);
    s.answer(&off(10, 10));
    assert_eq!(s.send(), vec![off(30, 10)]);
    s.answer(&off(20, 10));
    assert_eq!(s.send(), Vec::<String>::new());
    s.answer(&off(30, 10));
    assert_eq!(
        s.send(),
        Vec::<String>::new(),
        "4 pages wait to be taken: no more requests"
    );
    assert_eq!(s.sweep.in_flight(), 0);
    assert_eq!(s.sweep.buffered_pages(), c + w);
    assert_eq!(
        s.sweep.poll_timeout(),
        None,
        "nothing to do until pages are taken"
    );
    assert_eq!(s.events(), 4);
    assert_eq!(s.sweep.buffered_pages(), 0);
    assert_eq!(s.send(), vec![off(40, 10), off(50, 10)]);
    s.run(Pick::Fifo);
    assert_eq!(s.ids(), range(1, 100));
    assert_eq!(s.report().max_buffered_pages, c + w);
}

#[test]
fn an_arrived_answer_frees_its_slot_but_holds_its_place_in_the_window() {
    // 46 records, pages of 5: the first page, then nine more; concurrency 2
    // and a window of 2 (pages sent or held at most 4 ahead of the oldest
    // page not yet handed out).
    let a = api(offset_header(), 5, 2);
    let mut server = Fake::new(Style::Offset(Tot::Header), 46).server();
    let now = Instant::now();
    let mut sweep = Sweep::new(a.spec(), items().window(2), now).unwrap();
    let first = sweep.poll_request().unwrap();
    sweep.handle_response(id(&first), server(url(&first)), now);
    let mut ids = Vec::new();
    let take = |sweep: &mut Sweep, ids: &mut Vec<u64>| {
        while let Some(ev) = sweep.poll_event() {
            match ev {
                Event::Page(p) => ids.extend(ids_of(&p)),
                Event::Finished(r) => assert_eq!(r.complete, Some(true)),
                other => panic!("{other:?}"),
            }
        }
    };
    take(&mut sweep, &mut ids);
    let (p2, p3) = (sweep.poll_request().unwrap(), sweep.poll_request().unwrap());
    assert!(sweep.poll_request().is_none(), "two on the wire");
    // The third page came in first, to be read later: its slot is free.
    sweep.handle_arrival(id(&p3));
    assert_eq!(sweep.in_flight(), 2, "arrived, not answered");
    let p4 = sweep.poll_request().expect("the slot of the arrived page");
    assert!(sweep.poll_request().is_none(), "two on the wire again");
    // An id answered already, or one that arrived already, changes nothing.
    sweep.handle_arrival(id(&p3));
    sweep.handle_arrival(id(&first));
    assert!(sweep.poll_request().is_none());
    sweep.handle_arrival(id(&p4));
    let p5 = sweep.poll_request().expect("the slot of the fourth page");
    // Pages 2..5 are out or arrived: the window (2 + 2) is full.
    sweep.handle_arrival(id(&p5));
    assert!(
        sweep.poll_request().is_none(),
        "the window holds arrived pages"
    );
    assert_eq!(sweep.in_flight(), 4);
    // Answers of arrived requests are taken like any other, in any order.
    sweep.handle_response(id(&p4), server(url(&p4)), now);
    sweep.handle_response(id(&p3), server(url(&p3)), now);
    take(&mut sweep, &mut ids);
    assert!(ids.len() == 5, "page 2 is still out: {ids:?}");
    sweep.handle_response(id(&p2), server(url(&p2)), now);
    sweep.handle_response(id(&p5), server(url(&p5)), now);
    take(&mut sweep, &mut ids);
    assert_eq!(ids, range(1, 25));
    // An arrived answer that turns out bad is retried like any other.
    let p6 = sweep.poll_request().unwrap();
    sweep.handle_arrival(id(&p6));
    sweep.handle_response(id(&p6), Ok(Response::new(200, "{\"data\": [")), now);
    let mut retried = None;
    for _ in 0..10 {
        sweep.handle_timeout(Instant::now() + Duration::from_secs(60));
        retried = std::iter::from_fn(|| sweep.poll_request()).find(|r| url(r) == url(&p6));
        if retried.is_some() {
            break;
        }
    }
    assert!(retried.is_some(), "the sixth page is asked for again");
    assert!(sweep.report().retries.bad_body >= 1);
}

//! Page order under any answer order (shuffled, reverse, by latency), and
//! completion order.

use std::time::Duration;

use pagewise::Order;

use crate::scenario::*;

#[test]
fn shuffled_answers_keep_page_order_within_bounds() {
    for (c, w) in [(1, 1), (2, 1), (3, 2), (4, 4), (8, 1), (5, 10)] {
        for seed in 1..=8 {
            let s = Scenario::new(offset_header(), 10, c)
                .window(w)
                .pick(Pick::Seeded(seed))
                .fake(Fake::new(Style::Offset(Tot::Header), 157))
                .run();
            let ctx = format!("c={c} w={w} seed={seed}");
            assert_eq!(
                s.urls(),
                (0..16).map(|k| off(10 * k, 10)).collect::<Vec<_>>(),
                "{ctx}"
            );
            assert_eq!(s.ids(), range(1, 157), "{ctx}");
            assert_eq!(s.max_in_flight, c, "{ctx}");
            assert!(s.max_buffered <= c + w, "{ctx}");
            assert!(s.report().max_buffered_pages <= c + w, "{ctx}");
            assert_eq!(s.report().complete, Some(true), "{ctx}");
        }
    }
}

#[test]
fn reverse_answers_keep_page_order() {
    let s = Scenario::new(offset_header(), 10, 4)
        .window(2)
        .pick(Pick::Lifo)
        .fake(Fake::new(Style::Offset(Tot::Header), 200))
        .run();
    assert_eq!(s.ids(), range(1, 200));
    assert_eq!(
        s.page_urls(),
        (0..20).map(|k| off(10 * k, 10)).collect::<Vec<_>>()
    );
    // Newest first: 40, then 50 and 60 as the window allows, then the window is full.
    assert_eq!(
        s.answered[1..5],
        [off(40, 10), off(50, 10), off(60, 10), off(30, 10)]
    );
    assert_eq!(
        s.report().max_buffered_pages,
        6,
        "the whole window was used"
    );
}

#[test]
fn completion_order_hands_pages_out_as_they_arrive() {
    for seed in [3, 11] {
        let s = Scenario::new(offset_header(), 10, 4)
            .options(|o| o.order(Order::Completion))
            .pick(Pick::Seeded(seed))
            .fake(Fake::new(Style::Offset(Tot::Header), 100))
            .run();
        assert_eq!(s.page_urls(), s.answered, "pages come out in answer order");
        let mut ids = s.ids();
        assert_ne!(ids, range(1, 100), "seed {seed} reorders");
        ids.sort_unstable();
        assert_eq!(ids, range(1, 100), "the exact set of ids");
        assert_eq!(s.report().complete, Some(true));
        assert_eq!(
            s.report().max_buffered_pages,
            1,
            "completion order holds nothing back"
        );
    }
}

#[test]
fn simulated_latency_gives_exact_durations() {
    let run = |c, latency: fn(&str) -> Duration| {
        Scenario::new(offset_header(), 10, c)
            .latency(latency)
            .fake(Fake::new(Style::Offset(Tot::Header), 90))
            .run()
    };
    // 100 ms per request: the first page, then 8 pages 4 at a time.
    let s = run(4, |_| Duration::from_millis(100));
    assert_eq!(s.report().duration, Duration::from_millis(300));
    assert_eq!(s.ids(), range(1, 90));
    let s = run(2, |_| Duration::from_millis(100));
    assert_eq!(s.report().duration, Duration::from_millis(500));
    // A slow page 1 (offset 10) does not stop the others within the window.
    let s = run(4, |u| {
        if u.contains("offset=10&") {
            Duration::from_millis(1000)
        } else {
            Duration::from_millis(100)
        }
    });
    assert_eq!(s.ids(), range(1, 90));
    assert_eq!(s.report().duration, Duration::from_millis(1100));
    assert_eq!(s.answered.last().unwrap(), &off(10, 10));
}

#[test]
fn pages_of_a_page_order_sweep_name_their_sweep_and_place() {
    let run = |order: Order, seed: Option<u64>| {
        Scenario::new(offset_header(), 5, 3)
            .options(|o| {
                let o = o.order(order);
                match seed {
                    Some(s) => o.seed(s),
                    None => o,
                }
            })
            .pick(Pick::Seeded(7))
            .fake(Fake::new(Style::Offset(Tot::Header), 43))
            .run()
    };
    let first = run(Order::Page, None);
    // A sweep's number comes from its driver (`Sweep::with_serial`), by
    // default its seed: drivers draw a seed per sweep.
    let second = run(Order::Page, Some(8));
    let place = |s: &Sim| -> Vec<(u64, u64)> {
        s.requests
            .iter()
            .map(|r| in_order(r).expect("a page of a page-order sweep"))
            .collect()
    };
    let (one, two) = (place(&first), place(&second));
    assert_eq!(one.len(), 9);
    // One sweep, one number; another sweep, another.
    assert!(one.iter().all(|&(g, _)| g == one[0].0));
    assert!(two.iter().all(|&(g, _)| g == two[0].0));
    assert_ne!(one[0].0, two[0].0);
    // Places follow the offsets.
    let by_offset: Vec<(u64, u64)> = first
        .urls()
        .iter()
        .zip(&one)
        .map(|(u, &(_, p))| (param(u, "offset"), p))
        .collect();
    for pair in by_offset.windows(2) {
        assert_eq!(
            pair[0].0 < pair[1].0,
            pair[0].1 < pair[1].1,
            "{by_offset:?}"
        );
    }
    assert_eq!(first.ids(), range(1, 43));

    // Pages handed out as they come need no order.
    let unordered = run(Order::Completion, None);
    assert!(unordered.requests.iter().all(|r| in_order(r).is_none()));
    assert!(unordered.requests.iter().all(|r| records_at(r).is_some()));
}

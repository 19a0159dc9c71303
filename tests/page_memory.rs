//! Memory for a page follows the records kept, not the elements scanned
//! (issue 19): an offset page of two million tiny records `[0,0,…]`, of
//! which the sweep keeps the 100 it asked for, costs its body and little
//! more. Before, the scanner noted a byte range (16 bytes) per element
//! before the offset logic kept `limit` of them: 8 bytes of ranges per byte
//! of body.
//!
//! A counting allocator measures the peak; this file holds one test, so no
//! other test allocates while it measures.

use std::sync::atomic::Ordering::Relaxed;

use pagewise::core::{Event, Notice, Response, Sweep};
use pagewise::{Api, ListOptions, Pagination};
use web_time::Instant;

#[path = "common/counting.rs"]
mod counting;
use counting::*;

#[test]
fn a_page_of_tiny_records_costs_its_body_not_a_range_per_element() {
    const N: usize = 2_000_000;
    let mut body = Vec::with_capacity(2 * N + 1);
    body.push(b'[');
    for i in 0..N {
        if i > 0 {
            body.push(b',');
        }
        body.push(b'0');
    }
    body.push(b']');
    let body_len = body.len();
    let api = Api::builder("https://api.example/v1/")
        .records_at("")
        .pagination(Pagination::offset())
        .page_size(100)
        .concurrency(1)
        .build()
        .unwrap();
    let now = Instant::now();
    let mut sweep = Sweep::new(api.spec(), ListOptions::new("items"), now).unwrap();
    let mut body = Some(body);
    let mut kept = Vec::new();
    let mut notices = Vec::new();
    // The body exists already: what the sweep adds to it is measured.
    let base = NOW.load(Relaxed);
    PEAK.store(base, Relaxed);
    while !sweep.is_done() {
        while let Some(req) = sweep.poll_request() {
            let b = body.take().unwrap_or_else(|| b"[]".to_vec());
            sweep.handle_response(req.id(), Ok(Response::new(200, b)), now);
        }
        while let Some(e) = sweep.poll_event() {
            match e {
                Event::Page(p) => kept.push(p.records.len()),
                Event::Notice(n) => notices.push(n),
                Event::Failed(e) => panic!("{e}"),
                _ => {}
            }
        }
    }
    let added = PEAK.load(Relaxed) - base;
    assert_eq!(kept.iter().sum::<usize>(), 100, "{kept:?}");
    assert!(
        notices.contains(&Notice::OversizedPage {
            page: 0,
            asked: 100,
            got: N as u64,
        }),
        "{notices:?}"
    );
    // A range per element would be 16 bytes per 2 bytes of body (32 MB here).
    assert!(
        added < body_len / 4,
        "the sweep held {added} bytes on top of a body of {body_len}"
    );
}

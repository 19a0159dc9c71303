//! Memory a server can grow per page (issue 19): loop detection used to keep
//! every cursor (and every next URL, every keyset value) of the whole sweep
//! as a string, so a server that hands out long, distinct cursors made the
//! client's memory grow with the number of pages: 42 MB after 100 pages of
//! 256 KiB cursors, 117 MB after 400. It now keeps an 8-byte digest of each
//! (and cursors over 64 KiB are a Limit error, see tests/sim/limits.rs).
//!
//! A counting allocator measures what the sweep holds; this file holds one
//! test, so no other test allocates while it measures.

use std::sync::atomic::Ordering::Relaxed;

use pagewise::core::{Event, Response, Sweep};
use pagewise::{Api, Link, ListOptions, Pagination};
use web_time::Instant;

#[path = "common/counting.rs"]
mod counting;
use counting::*;

/// Live bytes held by a cursor sweep after `pages` pages whose cursors are
/// `cursor_len` bytes each (every page handed out and dropped).
fn held_after(pages: usize, cursor_len: usize) -> usize {
    let api = Api::builder("https://api.example/v1/")
        .records_at("/data")
        .pagination(Pagination::cursor(Link::pointer("/next")))
        .concurrency(1)
        .build()
        .unwrap();
    let now = Instant::now();
    let base = NOW.load(Relaxed);
    let mut sweep = Sweep::new(api.spec(), ListOptions::new("items"), now).unwrap();
    let mut served = 0usize;
    let mut held = 0;
    loop {
        while let Some(req) = sweep.poll_request() {
            served += 1;
            let body = if served > pages {
                r#"{"data":[]}"#.to_string()
            } else {
                // A distinct cursor of `cursor_len` bytes.
                let mut c = format!("{served}-");
                c.push_str(&"x".repeat(cursor_len));
                format!(r#"{{"data":[{{"id":{served}}}],"next":"{c}"}}"#)
            };
            sweep.handle_response(req.id(), Ok(Response::new(200, body)), now);
        }
        while let Some(e) = sweep.poll_event() {
            if let Event::Failed(e) = e {
                panic!("{e}");
            }
        }
        if served == pages {
            held = NOW.load(Relaxed) - base;
        }
        if sweep.is_done() {
            break;
        }
    }
    held
}

#[test]
fn loop_detection_memory_does_not_grow_with_the_pages_a_server_sends() {
    // Just under the 64 KiB a cursor may have.
    const CURSOR: usize = 60 * 1024;
    let a = held_after(100, CURSOR);
    let b = held_after(400, CURSOR);
    eprintln!(
        "held after 100 pages: {} MB; after 400 pages: {} MB",
        a >> 20,
        b >> 20
    );
    // Bounded by configuration: b ≈ a (it grew by one cursor per page).
    assert!(
        b < a + 10 * CURSOR,
        "memory grows with the pages a server sends: {} MB after 100 pages, {} MB after 400",
        a >> 20,
        b >> 20
    );
}

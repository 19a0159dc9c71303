//! Review tests: a blocking client used inside the loop over another of
//! its iterators (same Api), and slots after a dropped stream.
#![cfg(not(target_arch = "wasm32"))]

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use pagewise::{Api, Pagination, RetryPolicy, Total};

#[path = "common/raw_http.rs"]
mod raw_http;
use raw_http::read_head;

/// 30 records at /items?offset=&limit= (X-Total-Count: 30), and /one/N.
fn serve(delay: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || conn(stream, delay));
        }
    });
    addr
}

fn conn(stream: TcpStream, delay: Duration) {
    let mut r = BufReader::new(stream.try_clone().unwrap());
    let mut w = stream;
    while let Some(head) = read_head(&mut r) {
        std::thread::sleep(delay);
        let path = head.split(' ').nth(1).unwrap_or("").to_string();
        let body = if let Some(id) = path.strip_prefix("/one/") {
            format!("{{\"id\":{id}}}")
        } else {
            let q = |k: &str| {
                path.split(['?', '&'])
                    .find_map(|p| p.strip_prefix(&format!("{k}=")))
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            let (off, lim) = (q("offset"), q("limit").max(1));
            let ids: Vec<String> = (off..(off + lim).min(30))
                .map(|i| format!("{{\"id\":{i}}}"))
                .collect();
            format!("[{}]", ids.join(","))
        };
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Total-Count: 30\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if w.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

fn api(addr: SocketAddr, concurrency: usize) -> Api {
    Api::builder(format!("http://{addr}/"))
        .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
        .page_size(5)
        .concurrency(concurrency)
        .retry(RetryPolicy::none())
        .timeout(Some(Duration::from_secs(5)))
        .build()
        .unwrap()
}

/// Runs `f` on a thread; fails if it has not ended within `limit`.
fn within(limit: Duration, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    rx.recv_timeout(limit)
        .expect("deadlock: the operation did not end");
}

#[test]
fn a_get_inside_the_loop_over_a_list_of_the_same_api_completes() {
    for concurrency in [1, 2] {
        let addr = serve(Duration::from_millis(5));
        within(Duration::from_secs(20), move || {
            let api = api(addr, concurrency);
            let client = api.blocking();
            let mut n = 0;
            for item in client.list("items").iter::<serde_json::Value>() {
                let item = item.unwrap();
                let one: serde_json::Value = client.get(&format!("one/{}", item["id"])).unwrap();
                assert_eq!(one["id"], item["id"]);
                n += 1;
            }
            assert_eq!(n, 30);
        });
    }
}

#[test]
fn a_dropped_stream_gives_its_slots_back_once_the_calls_on_the_wire_end() {
    use futures::StreamExt;
    // Answers after 1.5 s; requests time out after 1 s.
    let addr = serve(Duration::from_millis(1500));
    let api = Api::builder(format!("http://{addr}/"))
        .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
        .page_size(5)
        .concurrency(4)
        .retry(RetryPolicy::none())
        .timeout(Some(Duration::from_secs(1)))
        .build()
        .unwrap();
    let client = pagewise::Client::new(&api);
    {
        let mut s = client.list("items").stream::<serde_json::Value>();
        futures::executor::block_on(async {
            futures::future::select(
                s.next(),
                futures_timer::Delay::new(Duration::from_millis(200)),
            )
            .await;
        });
        drop(s);
    }
    // The first page is on the wire (its slot held until it times out).
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        api.limiter().in_use(),
        0,
        "slots still held after the calls ended"
    );
    // The Api still works (the answers now come after the timeout: a timeout error).
    let err = api
        .blocking()
        .get::<serde_json::Value>("one/1")
        .unwrap_err();
    assert_eq!(err.kind(), pagewise::ErrorKind::Timeout, "{err}");
    assert_eq!(api.limiter().in_use(), 0);
}

//! The native default transport (ureq on worker threads) against small
//! hand-written servers and the test server: framing, gzip, keep-alive
//! reuse, bounded threads, timeouts, hostile answers, faults; both clients.
#![cfg(not(target_arch = "wasm32"))]

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use futures::executor::block_on;
use pagewise::transport::UreqTransport;
use pagewise::{Api, Client, ErrorKind, JsonText, Pagination, RetryPolicy};

#[path = "common/raw_http.rs"]
mod raw_http;
use raw_http::read_head;

/// A server calling `handler(connection number, stream)` per connection;
/// returns its address and the count of connections accepted.
fn serve(
    handler: impl Fn(usize, TcpStream) + Send + Sync + 'static,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let handler = Arc::new(handler);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let n = c.fetch_add(1, Ordering::SeqCst);
            let h = handler.clone();
            std::thread::spawn(move || h(n, stream));
        }
    });
    (addr, count)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// An API at `addr` whose requests are not retried (each failure shows).
fn api_at(addr: SocketAddr) -> Api {
    Api::builder(format!("http://{addr}/"))
        .retry(RetryPolicy::none())
        .timeout(Some(Duration::from_secs(20)))
        .build()
        .unwrap()
}

/// Answers every request on the connection by its path.
fn answer_by_path(_: usize, stream: TcpStream) {
    let mut r = BufReader::new(stream.try_clone().unwrap());
    let mut w = stream;
    while let Some(head) = read_head(&mut r) {
        let lower = head.to_ascii_lowercase();
        assert!(lower.contains("accept-encoding: gzip"), "{head}");
        let path = head.split(' ').nth(1).unwrap_or("").to_string();
        let reply: Vec<u8> = match path.as_str() {
            "/chunked" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n".to_vec(),
            "/gzip" => {
                let body = gzip(b"{\"zipped\":true}");
                let mut v = format!(
                    "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                v.extend_from_slice(&body);
                v
            }
            _ => {
                let body = format!("{{\"path\":\"{path}\"}}");
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len())
                    .into_bytes()
            }
        };
        if w.write_all(&reply).is_err() {
            return;
        }
    }
}

#[test]
fn chunked_gzip_and_keep_alive_reuse_across_both_clients() {
    let (addr, conns) = serve(answer_by_path);
    let api = api_at(addr);
    let blocking = api.blocking();
    let client = Client::new(&api);
    for i in 0..10 {
        let a: JsonText = blocking.get("chunked").unwrap();
        assert_eq!(a.as_str(), "[1,2]");
        let a: serde_json::Value = blocking.get("gzip").unwrap();
        assert_eq!(a["zipped"], true);
        let a: serde_json::Value = block_on(client.get(&format!("p{i}"))).unwrap();
        assert_eq!(a["path"], format!("/p{i}"));
    }
    // Thirty sequential exchanges from two clients of one Api: one connection.
    assert_eq!(conns.load(Ordering::SeqCst), 1);
}

#[test]
fn requests_run_on_a_bounded_set_of_reused_threads() {
    let server = pagewise_testserver::TestServer::start(pagewise_testserver::Config {
        records: 200,
        latency: Duration::from_millis(5),
        ..Default::default()
    })
    .unwrap();
    let api = Api::builder(server.url()).concurrency(8).build().unwrap();
    let transport = UreqTransport::new().max_threads(3);
    let client = Client::with_transport(&api, transport.clone());
    let ids: Vec<u64> = (1..=120).collect();
    let got = block_on(
        client
            .fetch_many("items/{id}", &ids)
            .collect::<serde_json::Value>(),
    )
    .unwrap();
    assert_eq!(got.len(), 120);
    assert!(got.iter().all(|(_, r)| r.is_ok()));
    let threads = transport.threads();
    assert!((1..=3).contains(&threads), "{threads} threads");
    // The same threads serve the blocking client over the same transport.
    let blocking = pagewise::blocking::Client::with_transport(&api, transport.clone());
    let again = blocking
        .fetch_many("items/{id}", &ids)
        .collect::<serde_json::Value>()
        .unwrap();
    assert_eq!(again.len(), 120);
    assert!(transport.threads() <= 3);
    // The Api's limit held across it all.
    assert!(api.limiter().max_in_use() <= 8);
}

#[test]
fn an_unreachable_host_or_port_is_a_transport_error_without_secrets() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for base in [
        format!("http://127.0.0.1:{port}/"),
        "http://no-such-host.invalid/".to_string(),
    ] {
        let api = Api::builder(base.clone())
            .retry(RetryPolicy::none())
            .auth(pagewise::Auth::query("api_key", "s3cr3t-value"))
            .build()
            .unwrap();
        let err = api.blocking().get::<JsonText>("items/1").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transport, "{base}: {err}");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(err.url().is_some(), "{err}");
    }
}

/// A server that reads the request, holds it, and reports when its client went away.
fn holding_server() -> (SocketAddr, mpsc::Receiver<&'static str>) {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let (addr, _) = serve(move |_, stream| {
        let tx = tx.lock().unwrap().clone();
        let mut r = BufReader::new(stream);
        if read_head(&mut r).is_some() {
            let _ = tx.send("request");
            let mut rest = Vec::new();
            let _ = r.read_to_end(&mut rest);
            let _ = tx.send("closed");
        }
    });
    (addr, rx)
}

#[test]
fn a_slow_answer_times_out_and_its_connection_closes() {
    let (addr, rx) = holding_server();
    let api = Api::builder(format!("http://{addr}/"))
        .retry(RetryPolicy::none())
        .timeout(Some(Duration::from_millis(200)))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = api.blocking().get::<JsonText>("slow").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok("request"));
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok("closed"));
}

fn reply_with(raw: &'static [u8]) -> SocketAddr {
    serve(move |_, stream| {
        let mut r = BufReader::new(stream.try_clone().unwrap());
        let mut w = stream;
        if read_head(&mut r).is_some() {
            let _ = w.write_all(raw);
        }
    })
    .0
}

#[test]
fn hostile_answers_are_typed_errors_not_panics() {
    let cases: [&'static [u8]; 4] = [
        // A body cut short.
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        // Not HTTP.
        b"SPDY/9 banana\r\n\r\n",
        // A chunked body cut short.
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        // Gzip that is not.
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope",
    ];
    for raw in cases {
        let api = api_at(reply_with(raw));
        let err = api.blocking().get::<JsonText>("x").unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Transport | ErrorKind::Decode),
            "{}: {err}",
            String::from_utf8_lossy(raw)
        );
        assert!(err.url().is_some_and(|u| u.ends_with("/x")), "{err}");
    }
    // Headers past any sane size.
    let (addr, _) = serve(|_, stream| {
        let mut r = BufReader::new(stream.try_clone().unwrap());
        let mut w = stream;
        if read_head(&mut r).is_some() {
            let _ = w.write_all(b"HTTP/1.1 200 OK\r\n");
            let line = format!("X-Big: {}\r\n", "a".repeat(4000));
            for _ in 0..40 {
                if w.write_all(line.as_bytes()).is_err() {
                    return;
                }
            }
        }
    });
    let err = api_at(addr).blocking().get::<JsonText>("x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    // Until close: the body is what came.
    let api = api_at(reply_with(b"HTTP/1.0 200 OK\r\n\r\n[1]"));
    assert_eq!(api.blocking().get::<JsonText>("x").unwrap().as_str(), "[1]");
}

#[test]
fn both_clients_survive_faults_over_the_default_transport() {
    let server = pagewise_testserver::TestServer::start(pagewise_testserver::Config {
        records: 300,
        faults: pagewise_testserver::Faults {
            error_rate: 0.1,
            drop_rate: 0.1,
            truncate_rate: 0.05,
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap();
    let api = Api::builder(format!("{}/offset/", server.url()))
        .records_at("/data")
        .pagination(Pagination::offset())
        .build()
        .unwrap();
    let ids: Vec<u64> = api
        .blocking()
        .list("items")
        .page_size(20)
        .iter::<serde_json::Value>()
        .map(|r| r.unwrap()["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, (1..=300).collect::<Vec<_>>());
    let client = Client::new(&api);
    let n = block_on(async {
        use futures::StreamExt;
        let mut n = 0;
        let mut s = client
            .list("items")
            .page_size(20)
            .stream::<serde_json::Value>();
        while let Some(r) = s.next().await {
            r.unwrap();
            n += 1;
        }
        n
    });
    assert_eq!(n, 300);
    assert!(server.stats().faults > 0);
}

/// The cost of handing each request to a worker thread and its answer back:
/// the blocking client over the default transport against the same client
/// over a transport that runs ureq on the polling thread. Prints timings;
/// asserts nothing about them (`cargo test --release --test
/// native_transport -- --ignored --nocapture handoff`).
#[test]
#[ignore = "a measurement, not a check"]
fn handoff_cost() {
    use pagewise::core::{Request, Response, TransportError, TransportErrorKind};
    use pagewise::transport::{AsyncTransport, TransportFuture};

    struct Inline(ureq::Agent);
    impl AsyncTransport for Inline {
        fn send(&self, request: Request) -> TransportFuture {
            let out = self
                .0
                .get(request.url())
                .call()
                .map_err(|e| TransportError::new(TransportErrorKind::Io, e.to_string()))
                .and_then(|mut r| {
                    let status = r.status().as_u16();
                    r.body_mut()
                        .read_to_vec()
                        .map(|b| Response::new(status, b))
                        .map_err(|e| TransportError::new(TransportErrorKind::Io, e.to_string()))
                });
            Box::pin(async move { out })
        }
    }

    let server = pagewise_testserver::TestServer::start(pagewise_testserver::Config {
        records: 10,
        ..Default::default()
    })
    .unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let api = Api::builder(server.url()).concurrency(4).build().unwrap();
    let pooled = api.blocking();
    let inline = pagewise::blocking::Client::with_transport(&api, Inline(agent));
    let n = 2000;
    for round in 0..3 {
        let t = Instant::now();
        for _ in 0..n {
            let _: JsonText = inline.get("items/1").unwrap();
        }
        let here = t.elapsed() / n;
        let t = Instant::now();
        for _ in 0..n {
            let _: JsonText = pooled.get("items/1").unwrap();
        }
        let there = t.elapsed() / n;
        eprintln!(
            "round {round}: on the caller's thread {here:?}/request, on a worker {there:?}/request: hand-off {:?}",
            there.saturating_sub(here)
        );
    }
}

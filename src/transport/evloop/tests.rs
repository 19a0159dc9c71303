//! The event-loop transport against small hand-written servers: framing,
//! gzip, keep-alive reuse, stale connections, timeouts, cancellation, TLS.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use futures::executor::block_on;

use super::EvloopTransport;
use crate::core::Secrets;
use crate::core::{Header, Method, RequestId};
use crate::core::{Request, Response, TransportError, TransportErrorKind};
use crate::transport::AsyncTransport;

fn request(url: String, timeout: Option<Duration>) -> Request {
    Request {
        id: RequestId(1),
        method: Method::Get,
        url,
        headers: vec![Header {
            name: "X-Test".into(),
            value: "1".into(),
            sensitive: false,
        }],
        body: None,
        timeout,
        records_at: None,
        in_order: None,
        secrets: Arc::new(Secrets::default()),
    }
}

fn get(t: &EvloopTransport, url: String) -> Result<Response, TransportError> {
    block_on(t.send(request(url, Some(Duration::from_secs(20)))))
}

/// Reads one request head; `None` at end of stream.
fn read_head(r: &mut impl BufRead) -> Option<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        if line == "\r\n" {
            return Some(head);
        }
        head.push_str(&line);
    }
}

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

/// Answers every request on the connection by its path.
fn answer_by_path(_: usize, stream: TcpStream) {
    let mut r = BufReader::new(stream.try_clone().unwrap());
    let mut w = stream;
    while let Some(head) = read_head(&mut r) {
        assert!(head.contains("Accept-Encoding: gzip\r\n"), "{head}");
        assert!(head.contains("X-Test: 1\r\n"), "{head}");
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
            "/empty" => b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(),
            _ => format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{path}", path.len()).into_bytes(),
        };
        if w.write_all(&reply).is_err() {
            return;
        }
    }
}

#[test]
fn chunked_gzip_and_keep_alive_reuse() {
    let (addr, conns) = serve(answer_by_path);
    let t = EvloopTransport::new();
    for i in 0..10 {
        let a = get(&t, format!("http://{addr}/chunked")).unwrap();
        assert_eq!((a.status, &a.body[..]), (200, &b"[1,2]"[..]));
        let a = get(&t, format!("http://{addr}/gzip")).unwrap();
        assert_eq!(a.body, b"{\"zipped\":true}");
        assert!(a
            .headers
            .iter()
            .all(|(n, _)| !n.eq_ignore_ascii_case("content-encoding")));
        let a = get(&t, format!("http://{addr}/empty")).unwrap();
        assert_eq!((a.status, a.body.len()), (204, 0));
        let a = get(&t, format!("http://{addr}/p{i}?q=1")).unwrap();
        assert_eq!(a.body, format!("/p{i}?q=1").as_bytes());
    }
    // Forty sequential exchanges, one connection.
    assert_eq!(conns.load(Ordering::SeqCst), 1);
}

#[test]
fn concurrent_requests_use_parallel_connections_and_all_arrive() {
    let (addr, conns) = serve(answer_by_path);
    let t = EvloopTransport::new();
    let futs: Vec<_> = (0..50)
        .map(|i| t.send(request(format!("http://{addr}/n{i}"), None)))
        .collect();
    let answers = block_on(futures::future::join_all(futs));
    for (i, a) in answers.into_iter().enumerate() {
        assert_eq!(a.unwrap().body, format!("/n{i}").as_bytes());
    }
    let opened = conns.load(Ordering::SeqCst);
    assert!((1..=50).contains(&opened), "{opened}");
    // Afterwards they are all reused, none opened.
    let again: Vec<_> = (0..opened)
        .map(|i| t.send(request(format!("http://{addr}/m{i}"), None)))
        .collect();
    assert!(block_on(futures::future::join_all(again))
        .iter()
        .all(Result::is_ok));
    assert_eq!(conns.load(Ordering::SeqCst), opened);
}

/// Connection 0 answers one request, then reads the next and closes without
/// a word (as a server timing out an idle connection just as the request
/// arrives). Later connections answer.
fn closes_after_one_answer() -> (SocketAddr, Arc<AtomicUsize>) {
    serve(|n, stream| {
        if n > 0 {
            return answer_by_path(n, stream);
        }
        let mut r = BufReader::new(stream.try_clone().unwrap());
        let mut w = stream;
        read_head(&mut r).unwrap();
        w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
        let _ = read_head(&mut r);
    })
}

#[test]
fn a_pooled_connection_the_server_closed_is_retried_once_on_a_new_one() {
    let (addr, conns) = closes_after_one_answer();
    let t = EvloopTransport::new();
    assert_eq!(get(&t, format!("http://{addr}/a")).unwrap().body, b"ok");
    assert_eq!(get(&t, format!("http://{addr}/b")).unwrap().body, b"/b");
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[test]
fn a_post_on_a_pooled_connection_the_server_closed_is_not_resent() {
    // As above, but the second request is a POST: the server may have read
    // it, so the transport does not send it again (the core decides, and
    // resends only writes that carry an idempotency key).
    let (addr, conns) = closes_after_one_answer();
    let t = EvloopTransport::new();
    assert_eq!(get(&t, format!("http://{addr}/a")).unwrap().body, b"ok");
    let mut post = request(format!("http://{addr}/b"), Some(Duration::from_secs(20)));
    post.method = Method::Post;
    post.body = Some(b"{}".to_vec());
    let err = block_on(t.send(post)).unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Io, "{err:?}");
    assert_eq!(conns.load(Ordering::SeqCst), 1);
}

#[test]
fn a_server_closing_idle_connections_is_noticed() {
    let (addr, conns) = serve(|n, stream| {
        let mut r = BufReader::new(stream.try_clone().unwrap());
        let mut w = stream;
        if read_head(&mut r).is_some() {
            let body = format!("c{n}");
            let _ = write!(w, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{body}");
        }
        // Closes the idle connection at once.
    });
    let t = EvloopTransport::new();
    for _ in 0..3 {
        let a = get(&t, format!("http://{addr}/x")).unwrap();
        assert_eq!(a.status, 200);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(conns.load(Ordering::SeqCst), 3);
}

#[test]
fn a_connection_closed_before_any_answer_fails_without_a_second_retry() {
    let (addr, conns) = serve(|_, stream| {
        let mut r = BufReader::new(stream);
        let _ = read_head(&mut r);
    });
    let t = EvloopTransport::new();
    let err = get(&t, format!("http://{addr}/x")).unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Io, "{err}");
    assert!(err.message.contains("closed before an answer"), "{err}");
    // A fresh connection is not retried.
    assert_eq!(conns.load(Ordering::SeqCst), 1);
}

fn reply_with(raw: &'static [u8]) -> (SocketAddr, Arc<AtomicUsize>) {
    serve(move |_, stream| {
        let mut r = BufReader::new(stream.try_clone().unwrap());
        let mut w = stream;
        if read_head(&mut r).is_some() {
            let _ = w.write_all(raw);
        }
    })
}

/// 700 kB of bytes that differ from one offset to the next.
fn big_body() -> Vec<u8> {
    (0..700_000u32).map(|i| (i % 251) as u8).collect()
}

#[test]
fn large_bodies_arrive_whole_and_bytes_past_the_end_spoil_the_connection() {
    let (addr, conns) = serve(|_, stream| {
        let mut r = BufReader::new(stream.try_clone().unwrap());
        let mut w = stream;
        let body = big_body();
        while let Some(head) = read_head(&mut r) {
            let head_of = |n: usize| format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n");
            let ok = if head.starts_with("GET /chunked ") {
                // The same bytes in chunks of 300,001, each written in pieces.
                let mut ok = w
                    .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .is_ok();
                for chunk in body.chunks(300_001) {
                    ok &= w
                        .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                        .is_ok();
                    for piece in chunk.chunks(70_001) {
                        std::thread::sleep(Duration::from_millis(2));
                        ok &= w.write_all(piece).is_ok();
                    }
                    ok &= w.write_all(b"\r\n").is_ok();
                }
                ok && w.write_all(b"0\r\n\r\n").is_ok()
            } else if head.starts_with("GET /big ") {
                // The head with the body's first bytes, then the rest in
                // uneven pieces (a connection reads the body into its room,
                // more than one read's worth).
                let mut first = head_of(body.len()).into_bytes();
                first.extend_from_slice(&body[..10]);
                let mut ok = w.write_all(&first).is_ok();
                for piece in body[10..].chunks(70_001) {
                    std::thread::sleep(Duration::from_millis(2));
                    ok &= w.write_all(piece).is_ok();
                }
                ok
            } else {
                // "ok", but the body's last bytes come later, with bytes
                // past its announced end.
                let ok = w.write_all(format!("{}o", head_of(2)).as_bytes()).is_ok();
                std::thread::sleep(Duration::from_millis(50));
                ok && w.write_all(b"kJUNK").is_ok()
            };
            if !ok {
                return;
            }
        }
    });
    let t = EvloopTransport::new();
    for path in ["big", "chunked", "big"] {
        let a = get(&t, format!("http://{addr}/{path}")).unwrap();
        assert!(
            a.body == big_body(),
            "{path}: a body of {} bytes",
            a.body.len()
        );
    }
    assert_eq!(conns.load(Ordering::SeqCst), 1);
    let a = get(&t, format!("http://{addr}/extra")).unwrap();
    assert_eq!(a.body, b"ok");
    // The connection that carried bytes past an answer is not used again.
    let a = get(&t, format!("http://{addr}/big")).unwrap();
    assert!(a.body == big_body(), "a body of {} bytes", a.body.len());
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[test]
fn hostile_answers_are_typed_errors() {
    let t = EvloopTransport::new();
    let (addr, _) = reply_with(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    let err = get(&t, format!("http://{addr}/")).unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Io);
    assert!(err.message.contains("cut short"), "{err}");

    let (addr, _) = reply_with(b"SPDY/9 banana\r\n\r\n");
    let err = get(&t, format!("http://{addr}/")).unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Io, "{err}");

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
    let err = get(&t, format!("http://{addr}/")).unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Io, "{err}");
    assert!(err.message.contains("larger than"), "{err}");

    let (addr, _) = reply_with(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab");
    let err = get(&t, format!("http://{addr}/")).unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Io, "{err}");

    // Until close: the body is what came.
    let (addr, _) = reply_with(b"HTTP/1.0 200 OK\r\n\r\n[1]");
    assert_eq!(get(&t, format!("http://{addr}/")).unwrap().body, b"[1]");
}

#[test]
fn connection_refused_is_a_connect_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = get(&EvloopTransport::new(), format!("http://127.0.0.1:{port}/")).unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Connect, "{err}");
    let err = get(
        &EvloopTransport::new(),
        "http://no-such-host.invalid/".into(),
    )
    .unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Connect, "{err}");
}

/// A server that reads the request and reports when its client went away.
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
fn a_slow_answer_times_out() {
    let (addr, rx) = holding_server();
    let t = EvloopTransport::new();
    let err = block_on(t.send(request(
        format!("http://{addr}/slow"),
        Some(Duration::from_millis(200)),
    )))
    .unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Timeout, "{err}");
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok("request"));
    // The timed-out connection is closed, not pooled.
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok("closed"));
}

#[test]
fn dropping_the_future_aborts_the_exchange() {
    let (addr, rx) = holding_server();
    let t = EvloopTransport::new();
    let fut = t.send(request(format!("http://{addr}/hold"), None));
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok("request"));
    drop(fut);
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok("closed"));
}

#[test]
fn dropping_a_leased_request_frees_its_slot() {
    use crate::core::{Pacer, Pacing};
    use crate::drive::lease::{Gate, SharedPacer};
    use crate::drive::limiter::Limiter;
    let (addr, rx) = holding_server();
    let limiter = Limiter::new(1);
    let mut gate = Gate::new(
        SharedPacer::new(Pacer::new(Pacing::default(), 1)),
        limiter.clone(),
    );
    gate.push(request(format!("http://{addr}/hold"), None));
    let (mut ready, _) = gate.release(web_time::Instant::now(), futures::task::noop_waker_ref());
    let (req, lease) = ready.pop().unwrap();
    let fut = EvloopTransport::new().send_leased(req, lease);
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok("request"));
    assert_eq!(limiter.in_use(), 1);
    drop(fut);
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok("closed"));
    for _ in 0..1000 {
        if limiter.in_use() == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(limiter.in_use(), 0);
}

#[test]
fn tls_with_an_extra_root_certificate() {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_der = cert.cert.der().to_vec();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(super::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .unwrap(),
    );
    let (addr, conns) = serve(move |_, stream| {
        let conn = rustls::ServerConnection::new(config.clone()).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, stream);
        loop {
            let mut r = BufReader::new(&mut tls);
            let Some(head) = read_head(&mut r) else {
                return;
            };
            // A body, if any: answered with its size.
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .map_or(0, |v| v.trim().parse().unwrap());
            let mut body = vec![0u8; len];
            r.read_exact(&mut body).unwrap();
            drop(r);
            let mut path = head.split(' ').nth(1).unwrap_or("").to_string();
            if path == "/big" {
                // Read into the body's room from what rustls decrypted,
                // records and pieces of uneven sizes.
                let body = big_body();
                let _ = write!(
                    tls,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                for piece in body.chunks(50_003) {
                    if tls.write_all(piece).is_err() || tls.flush().is_err() {
                        return;
                    }
                }
                continue;
            }
            if let Some(how) = path.strip_prefix("/cut-") {
                // 10 of 1,000 bytes, then the end: with or without close_notify.
                let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789");
                let _ = tls.flush();
                std::thread::sleep(Duration::from_millis(20));
                if how == "notify" {
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                }
                let _ = tls.sock.shutdown(std::net::Shutdown::Both);
                return;
            }
            if len > 0 {
                path = format!("{len} bytes");
            }
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{path}",
                path.len()
            );
            if tls.write_all(reply.as_bytes()).is_err() || tls.flush().is_err() {
                return;
            }
        }
    });
    let url = |p: &str| format!("https://localhost:{}{p}", addr.port());
    let t = EvloopTransport::with_root_certificates([cert_der]).unwrap();
    for i in 0..5 {
        let a = get(&t, url(&format!("/secure{i}"))).unwrap();
        assert_eq!(a.body, format!("/secure{i}").as_bytes());
    }
    // A body larger than rustls's default plaintext buffer.
    let mut post = request(url("/upload"), Some(Duration::from_secs(20)));
    post.method = Method::Post;
    post.body = Some(vec![b'x'; 300_000]);
    let a = block_on(t.send(post)).unwrap();
    assert_eq!(a.body, b"300000 bytes");
    // And a larger one down, twice on the same connection.
    for _ in 0..2 {
        let a = get(&t, url("/big")).unwrap();
        assert!(a.body == big_body(), "a body of {} bytes", a.body.len());
    }
    assert_eq!(conns.load(Ordering::SeqCst), 1);
    // A body cut short, the peer closing with or without close_notify.
    for how in ["notify", "reset"] {
        let err = get(&t, url(&format!("/cut-{how}"))).unwrap_err();
        assert_eq!(err.kind, TransportErrorKind::Io, "{how}: {err}");
        assert!(
            err.message.contains("cut short") && err.message.contains("(10 bytes read)"),
            "{how}: {err}"
        );
    }
    // Without the extra root the certificate is not trusted.
    let err = get(&EvloopTransport::new(), url("/x")).unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Connect, "{err}");
    assert!(err.message.contains("TLS"), "{err}");
    assert!(EvloopTransport::with_root_certificates([b"not a cert".to_vec()]).is_err());
}

#[test]
fn the_blocking_client_and_the_async_client_work_over_it() {
    let server = pagewise_testserver::TestServer::start(pagewise_testserver::Config {
        records: 250,
        ..Default::default()
    })
    .unwrap();
    let api = crate::Api::builder(format!("{}/offset/", server.url()))
        .records_at("/data")
        .pagination(crate::Pagination::offset())
        .build()
        .unwrap();
    let blocking = crate::blocking::Client::with_evloop(&api, EvloopTransport::new());
    let n = blocking
        .list("items")
        .page_size(50)
        .iter::<serde_json::Value>()
        .map(Result::unwrap)
        .count();
    assert_eq!(n, 250);
    let api = crate::Api::builder(server.url()).build().unwrap();
    let client = crate::Client::with_transport(&api, EvloopTransport::new());
    let one: serde_json::Value = block_on(client.get("items/7")).unwrap();
    assert_eq!(one["id"], 7);
}

#[test]
fn the_ureq_transports_stay_available_and_survive_faults() {
    use crate::transport::threaded::ThreadedTransport;
    use crate::transport::ureq::UreqTransport;
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
    let api = crate::Api::builder(format!("{}/offset/", server.url()))
        .records_at("/data")
        .pagination(crate::Pagination::offset())
        .build()
        .unwrap();
    for blocking in [
        crate::blocking::Client::with_transport(&api, UreqTransport::new()),
        crate::blocking::Client::with_evloop(&api, EvloopTransport::new()),
    ] {
        let ids: Vec<u64> = blocking
            .list("items")
            .page_size(20)
            .iter::<serde_json::Value>()
            .map(|r| r.unwrap()["id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, (1..=300).collect::<Vec<_>>());
    }
    let client = crate::Client::with_transport(&api, ThreadedTransport::new());
    let pages = block_on(async {
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
    assert_eq!(pages, 300);
    assert!(server.stats().faults > 0);
}

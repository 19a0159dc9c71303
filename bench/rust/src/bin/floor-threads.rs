//! Not a peer: a reference for what this machine and this server allow in
//! `fetch-many`. One OS thread per unit of concurrency, each with one
//! blocking keep-alive socket (TCP_NODELAY), writing `GET /items/{id}` and
//! reading the answer by its `Content-Length`, decoding each record into
//! `Item`. No retries, no pacing, no event loop, no hand-off between threads:
//! the least a client can add to the server's own time per request.
//! Only `--scenario fetch-many` over `http://` is supported.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use pagewise_bench::{die, print, Args, Item, Kind, Outcome, Seen};

fn main() {
    let args = Args::parse();
    if args.kind() != Kind::FetchMany {
        die("floor-threads only runs fetch-many");
    }
    let addr = args
        .url
        .strip_prefix("http://")
        .unwrap_or_else(|| die("floor-threads needs an http:// URL"))
        .trim_end_matches('/')
        .to_string();
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(1));
    let seen = Arc::new(Mutex::new(Seen::new()));
    let threads: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (next, seen, addr, n) = (next.clone(), seen.clone(), addr.clone(), args.ids);
            std::thread::spawn(move || {
                let stream = TcpStream::connect(&addr).unwrap_or_else(|e| die(&format!("{e}")));
                stream.set_nodelay(true).ok();
                let mut w = stream.try_clone().unwrap_or_else(|e| die(&format!("{e}")));
                let mut r = BufReader::with_capacity(16 * 1024, stream);
                let mut line = String::new();
                let mut body = Vec::new();
                loop {
                    let id = next.fetch_add(1, Ordering::Relaxed);
                    if id > n {
                        return;
                    }
                    write!(w, "GET /items/{id} HTTP/1.1\r\nHost: {addr}\r\n\r\n")
                        .unwrap_or_else(|e| die(&format!("write: {e}")));
                    let mut len = None;
                    let mut first = true;
                    loop {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            die("the server closed the connection");
                        }
                        if first {
                            if !line.starts_with("HTTP/1.1 200") {
                                die(&format!("id {id}: {}", line.trim()));
                            }
                            first = false;
                        }
                        let l = line.trim_end();
                        if l.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = l.split_once(':') {
                            if k.eq_ignore_ascii_case("content-length") {
                                len = v.trim().parse::<usize>().ok();
                            }
                        }
                    }
                    let len = len.unwrap_or_else(|| die("no Content-Length"));
                    body.resize(len, 0);
                    r.read_exact(&mut body)
                        .unwrap_or_else(|e| die(&format!("read: {e}")));
                    let item: Item = serde_json::from_slice(&body)
                        .unwrap_or_else(|e| die(&format!("id {id}: {e}")));
                    if item.id != id {
                        die(&format!("asked for id {id}, got {}", item.id));
                    }
                    seen.lock().unwrap().mark(item.id);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap_or_else(|_| die("a thread panicked"));
    }
    let seen = seen.lock().unwrap();
    seen.check(args.ids);
    let o = Outcome {
        records: seen.count(),
        requests: seen.count(),
        ..Outcome::default()
    };
    print("floor-threads", &args, started, &o);
}

//! The default transport honours a proxy set in the environment. Its own
//! test binary: the environment is the process's.
#![cfg(not(target_arch = "wasm32"))]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use pagewise::{Api, JsonText, RetryPolicy};

#[test]
fn the_default_transport_goes_through_the_proxy_in_the_environment() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut w = stream;
            // A head at a time: a CONNECT opens a tunnel (answered, then the
            // request comes through it), a request in absolute form is answered.
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).map_or(true, |n| n == 0) {
                    break;
                }
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).map_or(true, |n| n == 0) || h == "\r\n" {
                        break;
                    }
                }
                let line = line.trim_end().to_string();
                let _ = tx.send(line.clone());
                if line.starts_with("CONNECT ") {
                    let _ = w.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                    continue;
                }
                let body = r#"{"via":"proxy"}"#;
                let _ = write!(
                    w,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
            }
        }
    });
    for var in [
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        std::env::remove_var(var);
    }
    std::env::set_var("HTTP_PROXY", format!("http://{addr}"));
    std::env::set_var("http_proxy", format!("http://{addr}"));

    let api = Api::builder("http://pagewise-proxy-test.invalid/v1/")
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let got: JsonText = api.blocking().get("items/1").unwrap();
    assert_eq!(got.as_str(), r#"{"via":"proxy"}"#);
    // The proxy saw the request for the API's host (in absolute form, or
    // through a tunnel it was asked to open to that host).
    let seen: Vec<String> = rx.try_iter().collect();
    assert!(
        seen.iter()
            .any(|l| l.contains("pagewise-proxy-test.invalid")),
        "{seen:?}"
    );
}

//! Where server-supplied URLs may lead, through the real clients (blocking
//! and async) over real sockets: a next link or a redirect from the API to
//! another origin (another port of 127.0.0.1) is refused by default, and
//! followed without any configured credential, header or query parameter
//! when the API allows that origin.

#![cfg(not(target_arch = "wasm32"))]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use pagewise::{Api, ApiBuilder, Auth, Client, Error, ErrorKind, Link, Pagination};
use serde_json::Value;

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a server answers: status, extra headers, body.
type Answer = (u16, Vec<(String, String)>, String);

/// A tiny HTTP/1.1 server on 127.0.0.1 that records every request and
/// answers each with `answer(target)` on a connection it then closes.
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn start(answer: impl Fn(&str) -> Answer + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                if let Some(req) = read_request(&conn) {
                    let (status, headers, body) = answer(&req.target);
                    log.lock().unwrap().push(req);
                    let mut out = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n",
                        body.len()
                    );
                    for (n, v) in headers {
                        out.push_str(&format!("{n}: {v}\r\n"));
                    }
                    out.push_str("\r\n");
                    out.push_str(&body);
                    let _ = (&conn).write_all(out.as_bytes());
                }
            }
        });
        Server { port, seen }
    }

    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn read_request(conn: &TcpStream) -> Option<Seen> {
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let target = line.split(' ').nth(1)?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':')?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    Some(Seen { target, headers })
}

fn ok(body: Value) -> Answer {
    (200, Vec::new(), body.to_string())
}

/// The other origin: it serves the last page and the thing a redirect leads to.
fn other_server() -> Server {
    Server::start(|target| {
        if target.starts_with("/thing") {
            ok(serde_json::json!({ "id": 7 }))
        } else {
            ok(serde_json::json!({ "data": [{ "id": 3 }, { "id": 4 }], "next": null }))
        }
    })
}

/// The API: its first page links to `next`, its `/moved` redirects to `to`.
fn api_server(next: String, to: String) -> Server {
    Server::start(move |target| {
        if target.starts_with("/moved") {
            (302, vec![("Location".into(), to.clone())], String::new())
        } else {
            ok(serde_json::json!({ "data": [{ "id": 1 }, { "id": 2 }], "next": next }))
        }
    })
}

/// Everything that must stay on the API's origin.
fn secrets(b: ApiBuilder) -> ApiBuilder {
    b.pagination(Pagination::next_url(Link::pointer("/next")).limit_param(None))
        .records_at("/data")
        .header("X-Api-Key", "k3y")
        .header("X-Tenant", "acme")
        .query("sig", "s1g")
}

/// Both servers and the APIs over them: (own, other, base).
fn servers(auth: Auth) -> (Server, Server, ApiBuilder) {
    let other = other_server();
    // A server echoes what it was sent in its links: the auth parameter too.
    let key = match auth {
        Auth::Query { .. } => "&api_key=qk3y",
        _ => "",
    };
    let next = format!("{}/items?sig=s1g{key}&page=2", other.origin());
    let to = format!("{}/thing/7?sig=s1g{key}", other.origin());
    let own = api_server(next, to);
    let base = secrets(Api::builder(format!("{}/", own.origin()))).auth(auth);
    (own, other, base)
}

fn ids(records: &[Value]) -> Vec<u64> {
    records.iter().map(|r| r["id"].as_u64().unwrap()).collect()
}

fn assert_refused(e: &Error, other: &Server, what: &str) {
    assert_eq!(e.kind(), ErrorKind::Origin, "{what}: {e}");
    let url = e.url().unwrap_or_default();
    assert!(
        url.starts_with(&other.origin()),
        "{what}: the link is named: {e}"
    );
    assert!(!url.contains("qk3y"), "{what}: no credential in {url}");
    assert!(e.message().contains("allow_origins"), "{what}: {e}");
    assert!(
        other.seen().is_empty(),
        "{what}: nothing was sent to the other origin"
    );
}

/// What reached the other origin carries nothing that was configured.
fn assert_bare(other: &Server, what: &str) {
    let seen = other.seen();
    assert!(!seen.is_empty(), "{what}: the link was followed");
    for r in seen {
        for name in ["Authorization", "X-Api-Key", "X-Tenant"] {
            assert_eq!(r.header(name), None, "{what}: {name} went to {}", r.target);
        }
        assert!(!r.target.contains("s1g"), "{what}: {}", r.target);
        assert!(!r.target.contains("qk3y"), "{what}: {}", r.target);
    }
}

/// The API's own server got every configured header and credential.
fn assert_own_got_them(own: &Server, what: &str) {
    for r in own.seen() {
        assert_eq!(r.header("X-Api-Key"), Some("k3y"), "{what}");
        assert_eq!(r.header("X-Tenant"), Some("acme"), "{what}");
        assert!(r.target.contains("sig=s1g"), "{what}: {}", r.target);
    }
}

#[test]
fn blocking_next_link_to_another_origin() {
    let (own, other, base) = servers(Auth::bearer("b34rer"));
    let err = base
        .clone()
        .build()
        .unwrap()
        .blocking()
        .list("items")
        .collect::<Value>();
    assert_refused(&err.unwrap_err(), &other, "default");

    let api = base.allow_origins([other.origin()]).build().unwrap();
    let records = api.blocking().list("items").collect::<Value>().unwrap();
    assert_eq!(ids(&records), [1, 2, 3, 4]);
    assert_bare(&other, "allowed");
    assert_own_got_them(&own, "allowed");
    assert!(own
        .seen()
        .iter()
        .all(|r| r.header("Authorization") == Some("Bearer b34rer")));
}

#[test]
fn blocking_redirect_to_another_origin() {
    let (own, other, base) = servers(Auth::query("api_key", "qk3y"));
    let err = base
        .clone()
        .build()
        .unwrap()
        .blocking()
        .get::<Value>("moved")
        .unwrap_err();
    assert_refused(&err, &other, "default");
    assert!(!format!("{err} {err:?}").contains("qk3y"), "{err}");

    let api = base.allow_any_origin().build().unwrap();
    let thing = api.blocking().get::<Value>("moved").unwrap();
    assert_eq!(thing["id"], 7);
    assert_bare(&other, "allowed");
    assert_own_got_them(&own, "allowed");
    assert!(own.seen().iter().all(|r| r.target.contains("api_key=qk3y")));
}

#[test]
fn async_next_link_to_another_origin() {
    futures::executor::block_on(async {
        let (own, other, base) = servers(Auth::bearer("b34rer"));
        let api = base.clone().build().unwrap();
        let err = Client::new(&api).list("items").collect::<Value>().await;
        assert_refused(&err.unwrap_err(), &other, "default");

        let api = base.allow_origins([other.origin()]).build().unwrap();
        let records = Client::new(&api)
            .list("items")
            .collect::<Value>()
            .await
            .unwrap();
        assert_eq!(ids(&records), [1, 2, 3, 4]);
        assert_bare(&other, "allowed");
        assert_own_got_them(&own, "allowed");
    });
}

#[test]
fn async_redirect_to_another_origin() {
    futures::executor::block_on(async {
        let (own, other, base) = servers(Auth::query("api_key", "qk3y"));
        let api = base.clone().build().unwrap();
        let err = Client::new(&api).get::<Value>("moved").await.unwrap_err();
        assert_refused(&err, &other, "default");
        assert!(!format!("{err} {err:?}").contains("qk3y"), "{err}");

        let api = base.allow_origins([other.origin()]).build().unwrap();
        let thing = Client::new(&api).get::<Value>("moved").await.unwrap();
        assert_eq!(thing["id"], 7);
        assert_bare(&other, "allowed");
        assert_own_got_them(&own, "allowed");
    });
}

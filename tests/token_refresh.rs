//! Tokens that expire: OAuth 2.0 and token providers against the test
//! server's token endpoint (tokens lasting 2 s), on the blocking and the
//! async client. The long sweep runs `PAGEWISE_TOKEN_SWEEP_SECS` seconds
//! (default 10; the figure is 60).

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Item;
use pagewise::{Api, Auth, ClientAuth, ErrorKind, OAuth2, Order, Pagination, Total};
use pagewise_testserver::{Config, OAuthConfig, TestServer};

const SECRET: &str = "s3cret-client";

fn server(records: u64, latency_ms: u64, lifetime_ms: u64, salesforce: bool) -> TestServer {
    let s = TestServer::start(Config {
        records,
        latency: Duration::from_millis(latency_ms),
        max_page_size: 1000,
        ..Config::default()
    })
    .expect("test server starts");
    s.enable_oauth(OAuthConfig {
        client_id: "cid".into(),
        client_secret: SECRET.into(),
        lifetime_ms,
        salesforce,
        refresh_token: Some("rt-0".into()),
    });
    s
}

fn api(server: &TestServer, auth: Auth, concurrency: usize) -> Api {
    Api::builder(format!("{}/offset/", server.url()))
        .records_at("/data")
        .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
        .concurrency(concurrency)
        .auth(auth)
        .build()
        .unwrap()
}

fn token_url(server: &TestServer) -> String {
    format!("{}/oauth2/token", server.url())
}

/// A token from the endpoint, asked over a plain socket (what a program's
/// own token code would do).
fn mint(server: &TestServer) -> String {
    let body = format!("grant_type=client_credentials&client_id=cid&client_secret={SECRET}");
    let mut s = TcpStream::connect(server.addr()).unwrap();
    write!(
        s,
        "POST /oauth2/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let json = &out[out.find("\r\n\r\n").unwrap() + 4..];
    let json = &json[json.find('{').unwrap()..=json.rfind('}').unwrap()];
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

fn sweep_secs() -> u64 {
    std::env::var("PAGEWISE_TOKEN_SWEEP_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

/// Records for a sweep of about `secs` seconds at concurrency 16, pages of
/// 20, 100 ms per request.
fn records_for(secs: u64) -> u64 {
    secs * 16 * 10 * 20
}

fn check_sweep(server: &TestServer, items: &[Item], records: u64, elapsed: Duration) {
    let ids: BTreeSet<u64> = items.iter().map(|i| i.id).collect();
    assert_eq!(items.len() as u64, records, "every record once");
    assert_eq!(ids.len() as u64, records);
    let stats = server.oauth_stats();
    // A token lasts 2 s and is asked again 0.2 s before: one call per
    // 1.8 s of sweep, +1 (the first), +1 allowed.
    let expiries = (elapsed.as_secs_f64() / 1.8).ceil() as u64;
    eprintln!(
        "{records} records in {elapsed:?}: {} token calls, {} refused, {} requests",
        stats.token_calls,
        stats.refused,
        server.stats().requests
    );
    assert!(
        stats.token_calls <= expiries + 2,
        "{} token calls for {expiries} expiries",
        stats.token_calls
    );
    assert!(
        stats.token_calls * 20 < server.stats().requests,
        "not once per request"
    );
}

#[test]
fn oauth2_sweep_blocking_tokens_expiring_every_2s() {
    let records = records_for(sweep_secs());
    let server = server(records, 100, 2000, false);
    let api = api(
        &server,
        Auth::oauth2(OAuth2::client_credentials(token_url(&server), "cid", SECRET).scope("read")),
        16,
    );
    let started = Instant::now();
    let items: Vec<Item> = api
        .blocking()
        .list("items")
        .page_size(20)
        .order(Order::Completion)
        .collect()
        .unwrap();
    check_sweep(&server, &items, records, started.elapsed());
}

#[test]
fn oauth2_refresh_token_sweep_async_basic_client_auth() {
    let records = records_for(sweep_secs());
    let server = server(records, 100, 2000, false);
    let api = api(
        &server,
        Auth::oauth2(
            OAuth2::refresh_token(token_url(&server), "cid", Some(SECRET.into()), "rt-0")
                .client_auth(ClientAuth::Basic),
        ),
        16,
    );
    let client = pagewise::Client::new(&api);
    let started = Instant::now();
    let items: Vec<Item> = futures::executor::block_on(
        client
            .list("items")
            .page_size(20)
            .order(Order::Completion)
            .collect(),
    )
    .unwrap();
    // Each refresh used the rotated refresh token (the endpoint accepts each once).
    check_sweep(&server, &items, records, started.elapsed());
}

#[test]
fn salesforce_answer_without_expires_in_refreshes_on_401() {
    let server = server(600, 20, 150, true);
    let api = api(
        &server,
        Auth::oauth2(OAuth2::client_credentials(
            token_url(&server),
            "cid",
            SECRET,
        )),
        4,
    );
    let items: Vec<Item> = api
        .blocking()
        .list("items")
        .page_size(10)
        .collect()
        .unwrap();
    assert_eq!(items.len(), 600);
    let stats = server.oauth_stats();
    assert!(stats.token_calls >= 2, "{stats:?}");
    assert!(stats.refused >= 1, "{stats:?}");
}

#[test]
fn provider_sync_and_async() {
    let server = Arc::new(server(500, 5, 60_000, false));
    let calls = Arc::new(AtomicU64::new(0));
    let (s, c) = (server.clone(), calls.clone());
    let sync = api(
        &server,
        Auth::provider(move || {
            c.fetch_add(1, Ordering::SeqCst);
            Ok::<_, std::io::Error>(mint(&s))
        }),
        8,
    );
    let items: Vec<Item> = sync
        .blocking()
        .list("items")
        .page_size(25)
        .collect()
        .unwrap();
    assert_eq!(items.len(), 500);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "asked once, kept");

    let s = server.clone();
    let asynch = api(
        &server,
        Auth::provider_async(move || {
            let s = s.clone();
            async move { Ok::<_, std::io::Error>(pagewise::Token::bearer(mint(&s))) }
        }),
        8,
    );
    let items: Vec<Item> = futures::executor::block_on(
        pagewise::Client::new(&asynch)
            .list("items")
            .page_size(25)
            .collect(),
    )
    .unwrap();
    assert_eq!(items.len(), 500);
}

#[test]
fn provider_failing_once_loses_no_page() {
    let server = Arc::new(server(400, 5, 60_000, false));
    let calls = Arc::new(AtomicU64::new(0));
    let (s, c) = (server.clone(), calls.clone());
    // Tokens that last 1 ms (shorter than a request): asked again and
    // again; the third ask fails.
    let api = api(
        &server,
        Auth::provider(move || {
            if c.fetch_add(1, Ordering::SeqCst) == 2 {
                return Err("the vault is down".into());
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
                pagewise::Token::bearer(mint(&s)).expires_in(Duration::from_millis(1)),
            )
        }),
        4,
    );
    let items: Vec<Item> = api
        .blocking()
        .list("items")
        .page_size(10)
        .collect()
        .unwrap();
    let ids: BTreeSet<u64> = items.iter().map(|i| i.id).collect();
    assert_eq!((items.len(), ids.len()), (400, 400));
    assert!(calls.load(Ordering::SeqCst) >= 3);
}

#[test]
fn provider_error_is_a_typed_auth_error() {
    let server = server(100, 0, 60_000, false);
    let api = api(
        &server,
        Auth::provider(|| Err::<String, _>("no token for you")),
        4,
    );
    let err = api.blocking().list("items").collect::<Item>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.message().contains("no token for you"), "{err}");
    assert_eq!(server.stats().requests, 0, "nothing sent without a token");
}

#[test]
fn refused_twice_is_an_auth_error() {
    let server = server(100, 0, 60_000, false);
    let calls = Arc::new(AtomicU64::new(0));
    let c = calls.clone();
    let api = api(
        &server,
        Auth::provider(move || {
            c.fetch_add(1, Ordering::SeqCst);
            Ok::<_, std::io::Error>("not-a-token-b0gus")
        }),
        1,
    );
    let err = api.blocking().get::<Item>("items/1").unwrap_err();
    assert_eq!(
        (err.kind(), err.status()),
        (ErrorKind::Auth, Some(401)),
        "{err}"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "asked again once, on the 401"
    );
    assert_eq!(server.oauth_stats().refused, 2, "sent twice");
    assert!(!err.to_string().contains("b0gus"));
    assert!(!format!("{err:?}").contains("b0gus"));
}

#[test]
fn concurrent_401s_ask_once() {
    let server = Arc::new(server(100, 50, 60_000, false));
    let calls = Arc::new(AtomicU64::new(0));
    let (s, c) = (server.clone(), calls.clone());
    // The first token is stale: 16 requests in flight are refused together.
    let api = Api::builder(format!("{}/", server.url()))
        .concurrency(16)
        .auth(Auth::provider(move || {
            if c.fetch_add(1, Ordering::SeqCst) == 0 {
                Ok::<_, std::io::Error>("stale".to_string())
            } else {
                Ok(mint(&s))
            }
        }))
        .build()
        .unwrap();
    let client = pagewise::Client::new(&api);
    let got = futures::executor::block_on(futures::future::join_all((1..=16).map(|i| {
        let client = &client;
        async move { client.get::<Item>(&format!("items/{i}")).await }
    })));
    for (i, g) in got.into_iter().enumerate() {
        assert_eq!(g.unwrap().id, i as u64 + 1);
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "one refresh for 16 refusals"
    );
    assert_eq!(server.oauth_stats().refused, 16);
}

#[test]
fn token_endpoint_errors_are_typed_without_secrets() {
    let server = server(10, 0, 60_000, false);
    let wrong = "wr0ng-s3cret";
    let api = api(
        &server,
        Auth::oauth2(OAuth2::client_credentials(token_url(&server), "cid", wrong)),
        2,
    );
    let err = api.blocking().get::<Item>("items/1").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.message().contains("invalid_client"), "{err}");
    for text in [err.to_string(), format!("{err:?}"), format!("{api:?}")] {
        assert!(!text.contains(wrong), "{text}");
    }
    let rt = OAuth2::refresh_token(token_url(&server), "cid", Some(SECRET.into()), "r3fresh");
    let b = Api::builder(server.url()).auth(Auth::oauth2(rt));
    assert!(!format!("{b:?}").contains("r3fresh"));
    assert!(!format!("{b:?}").contains(SECRET));
    let h = Api::builder(server.url()).auth(Auth::headers([
        ("apikey", "k3y"),
        ("Authorization", "Bearer k3y"),
    ]));
    assert!(!format!("{h:?}").contains("k3y"));
}

#[test]
fn token_url_over_plain_http_elsewhere_is_refused() {
    let err = Api::builder("https://api.example/")
        .auth(Auth::oauth2(OAuth2::client_credentials(
            "http://login.example/token",
            "cid",
            SECRET,
        )))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(!err.to_string().contains(SECRET));
}

#[test]
fn tokens_go_to_the_api_origin_only() {
    // A redirect to another (allowed) origin is followed without the token.
    let server = server(10, 0, 60_000, false);
    let other = TestServer::start(Config::default()).unwrap();
    let api = Api::builder(format!("{}/", server.url()))
        .allow_origins([other.url()])
        .auth(Auth::oauth2(OAuth2::client_credentials(
            token_url(&server),
            "cid",
            SECRET,
        )))
        .build()
        .unwrap();
    // The other server has no OAuth: it would answer anyway; what matters
    // is the token is not asked for a request that goes elsewhere.
    let item: Item = api
        .blocking()
        .get(&format!("{}/items/2", other.url()))
        .unwrap();
    assert_eq!(item.id, 2);
    assert_eq!(server.oauth_stats().token_calls, 0);
}

//! `pagewise-testserver`: a fast, deterministic HTTP/1.1 server that serves a
//! seeded collection of JSON records in every pagination dialect the
//! `pagewise` SDK speaks. Used by tests, benchmarks, examples and the
//! browser dashboard.
//!
//! ```no_run
//! use pagewise_testserver::{Config, TestServer};
//!
//! let server = TestServer::start(Config { records: 1050, ..Config::default() }).unwrap();
//! println!("offset API at {}/offset/items", server.url());
//! assert_eq!(server.ids().len(), 1050);
//! ```
//!
//! The server runs on its own thread with its own tokio runtime, so it can be
//! started (and dropped) from plain synchronous code as well as from inside an
//! async runtime such as `#[tokio::test]`.
//!
//! Endpoints (the collection is always `items`):
//!
//! | path | query | shape |
//! | --- | --- | --- |
//! | `/offset/items` | `offset`, `limit` | `{"data":[..],"meta":{"total":N}}` + `X-Total-Count` |
//! | `/range/items` | `offset`, `limit` | `[..]` + `Content-Range: items a-b/N` |
//! | `/page/items` | `page` (from 1), `per_page` | `{"results":[..],"total":N,"page":p}` |
//! | `/page0/items` | `page` (from 0), `per_page` | same |
//! | `/page-nototal/items` | `page` (from 1), `per_page` | `{"results":[..]}` |
//! | `/cursor/items` | `cursor`, `limit` | `{"items":[..],"next_cursor":"..."\|null}` |
//! | `/cursor-header/items` | `cursor`, `limit` | `[..]` + `X-Next-Cursor` |
//! | `/link/items` | `page` (from 1), `per_page` | `[..]` + RFC 8288 `Link` |
//! | `/next/items` | `after`, `limit` | `{"items":[..],"links":{"next":"items?after=..."\|null}}` |
//! | `/keyset/items` | `id_gt`, `limit` | `{"items":[..]}` |
//! | `/items/{id}` | | the record, or 404 |
//! | `/garbage/{html,json,missing,null,empty}/items` | | malformed answers |
//! | `/garbage/status/{code}/items` | | that status |
//! | `GET /_stats`, `POST /_reset` | | control, not counted |

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod server;
mod store;

use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::store::Store;

/// How the server is set up. All fields are public; start from
/// [`Config::default`] and override what you need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Number of records; ids are `1..=records`.
    pub records: u64,
    /// Seed for record contents and latency jitter. Same seed, same bytes.
    pub seed: u64,
    /// Page size used when `limit` / `per_page` is missing.
    pub default_page_size: u64,
    /// Upper bound that `limit` / `per_page` (and the default) are clamped to.
    pub max_page_size: u64,
    /// Fixed delay applied before answering each counted request.
    pub latency: Duration,
    /// Extra uniform random delay in `[0, jitter)` added to `latency`.
    pub jitter: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            records: 1000,
            seed: 42,
            default_page_size: 100,
            max_page_size: 1000,
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
        }
    }
}

/// Request counters, as returned by [`TestServer::stats`] and `GET /_stats`.
/// Control requests (`/_stats`, `/_reset`) and CORS preflights are not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Counted requests since start or the last reset.
    pub requests: u64,
    /// Requests being handled right now (including their latency).
    pub in_flight: u64,
    /// High-water mark of `in_flight` since start or the last reset.
    pub max_in_flight: u64,
}

/// One counted request, as recorded in the request log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// HTTP method, e.g. `"GET"`.
    pub method: String,
    /// Path and query exactly as received, e.g. `"/offset/items?offset=100&limit=100"`.
    pub path: String,
    /// Status code of the response.
    pub status: u16,
    /// Time since the server started at which the request arrived.
    pub at: Duration,
}

/// State shared between the handle and the server's tasks.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) store: RwLock<Store>,
    pub(crate) addr: SocketAddr,
    pub(crate) started: Instant,
    pub(crate) requests: AtomicU64,
    pub(crate) in_flight: AtomicU64,
    pub(crate) max_in_flight: AtomicU64,
    pub(crate) log: Mutex<Vec<LoggedRequest>>,
    /// splitmix64 state of the latency-jitter RNG (advanced atomically).
    pub(crate) jitter_rng: AtomicU64,
}

impl Shared {
    pub(crate) fn stats(&self) -> Stats {
        Stats {
            requests: self.requests.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            max_in_flight: self.max_in_flight.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn reset(&self) {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.requests.store(0, Ordering::Relaxed);
        self.max_in_flight
            .store(self.in_flight.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    pub(crate) fn read_store(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running test server. Dropping it stops the server (stops accepting,
/// closes connections, ends its runtime thread).
pub struct TestServer {
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.shared.addr)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl TestServer {
    /// Starts a server on `127.0.0.1` with an OS-assigned port. Returns once
    /// the listener is bound, so requests can be sent right away.
    pub fn start(config: Config) -> io::Result<TestServer> {
        TestServer::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Starts a server bound to `addr` (port 0 picks a free port).
    pub fn start_on(config: Config, addr: SocketAddr) -> io::Result<TestServer> {
        let std_listener = StdTcpListener::bind(addr)?;
        std_listener.set_nonblocking(true)?;
        let local_addr = std_listener.local_addr()?;

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pagewise-testserver-worker")
            .enable_all()
            .build()?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener)?
        };

        let store = Store::generate(config.seed, config.records);
        let shared = Arc::new(Shared {
            jitter_rng: AtomicU64::new(store::mix64(config.seed ^ 0x6A09_E667_F3BC_C908)),
            config,
            store: RwLock::new(store),
            addr: local_addr,
            started: Instant::now(),
            requests: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
        });

        let (tx, rx) = oneshot::channel();
        let task_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("pagewise-testserver".into())
            .spawn(move || {
                runtime.block_on(server::serve(listener, task_shared, rx));
                // Cancels the connection tasks still open (keep-alive).
                runtime.shutdown_timeout(Duration::from_secs(1));
            })?;

        Ok(TestServer {
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// Base URL without a trailing slash, e.g. `"http://127.0.0.1:40123"`.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// The address the server is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// Current request counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// The request log (counted requests only), in order of arrival.
    pub fn log(&self) -> Vec<LoggedRequest> {
        let mut log = self
            .shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        // Entries are appended on completion; present them by arrival.
        log.sort_by_key(|entry| entry.at);
        log
    }

    /// Clears the request log and the counters (like `POST /_reset`).
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// The ids currently in the collection, ascending.
    pub fn ids(&self) -> Vec<u64> {
        self.shared.read_store().ids().to_vec()
    }

    /// The serialized JSON of record `id` exactly as served, if it exists.
    pub fn record_json(&self, id: u64) -> Option<String> {
        self.shared
            .read_store()
            .get(id)
            .map(|body| String::from_utf8_lossy(body).into_owned())
    }

    /// Blocks until the server stops (it only stops on its own if its
    /// thread fails); meant for the binary, which serves until killed.
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            // The runtime lives and dies on its own thread, so joining is safe
            // even when dropped from inside another tokio runtime.
            let _ = thread.join();
        }
    }
}

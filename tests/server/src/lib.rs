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
//! | `/items` | `ids=1,2,3` or `id=in.(1,2,3)` | `{"items":[..]}`: those that exist, in the order asked |
//! | `/garbage/{html,json,missing,null,empty}/items` | | malformed answers |
//! | `/garbage/status/{code}/items` | | that status |
//! | `GET /_stats`, `POST /_reset` | | control, not counted |
//! | `POST /search/items` | body `{"from":n,"size":n,"query":{..}}` | `{"took":0,"hits":{"total":N,"hits":[..]}}` (Elasticsearch-like; a bad body is a `400`) |
//! | `POST /graphql` | body `{"query":"..items..","variables":{"first":n,"after":cursor\|null}}` | `{"data":{"items":{"totalCount":N,"nodes":[..],"pageInfo":{"endCursor":".."\|null,"hasNextPage":bool}}}}`; a bad body is a `400` `{"errors":[{"message":".."}]}` |
//! | `GET /_log` | | the counted requests as JSON: `[{"method","path","status","at_ms","content_type","body"}]` (since start or the last reset; `body` when at most 4 KiB) |
//! | `GET`/`POST`/`DELETE /_faults` | | the live [`Faults`] as JSON, not counted |
//! | `POST /_touch` (a JSON array of ids), `POST /_insert?n=N` | | [`TestServer::update`] and [`TestServer::insert`] for clients in another process, not counted |
//! | `POST /oauth2/token`, `GET`/`POST`/`DELETE /_oauth` | | OAuth 2.0 token endpoint and expiring bearer tokens, off until [`TestServer::enable_oauth`] (see [`OAuthConfig`]) |
//!
//! The demo (`cargo run --release -p pagewise-testserver -- --demo`,
//! [`Config::demo`]): 200,000 records, 30 ms latency, a rate limit of 100
//! requests per second (burst 20; `429` with `Retry-After` beyond it) and
//! 0.5 % 5xx, plus static files: the repository's `www/` (the dashboard)
//! under `/www/` and the npm package under `/npm/` (only `index.js`,
//! `index.d.ts`, `wasm/**`) and uPlot's two files from `node_modules/` under
//! `/vendor/uplot/`, found from this crate's directory at build time
//! and overridable with `--www-dir` / `--npm-dir` / `--vendor-dir`
//! ([`Config::www_dir`], [`Config::npm_dir`], [`Config::vendor_dir`]). `--no-cors`
//! ([`Config::cors`]) drops every CORS header. Static answers are not counted, logged, delayed or
//! faulted; they carry `Cache-Control: no-store`; there are no directory
//! listings, and `..` (also percent-encoded), absolute paths, hidden files
//! and symlinks out of the root are a `404`. Without a `www/` folder,
//! `/www/` answers `404` saying so.
//! The binary prints the URL to open (`http://127.0.0.1:<port>/www/`) and
//! one line describing the demo API.
//!
//! API families (ServiceNow `/api/now/table/…`, Salesforce
//! `/services/data/v60.0/…`, GitHub `/repos/{o}/{r}/issues`, JSON:API
//! `/jsonapi/…`, PostgREST `/rest/v1/…`, Stripe-style `/v1/…`) serve the
//! same store in those APIs' own wire formats; see `FAMILIES.md` and
//! [`FamilyConfig`].
//!
//! Every list endpoint (the dialects above) also takes an `updated_at`
//! filter, applied before paging (totals count the filtered records, order
//! stays by id): `updated_at_gt=<RFC 3339>` / `updated_at_gte=<RFC 3339>`,
//! ServiceNow style `sysparm_query=updated_at>VALUE` / `updated_at>=VALUE`
//! (clauses joined by `^`; unknown clauses are ignored; `VALUE` may also be
//! `YYYY-MM-DD HH:MM:SS`, UTC), and PostgREST style `updated_at=gt.VALUE` /
//! `updated_at=gte.VALUE`. Several filters all apply; an invalid timestamp
//! is a `400`.
//!
//! Writes, on `/items` and `/api/items` (answers are the stored record as
//! JSON, which always has the server-set `id` and `updated_at` first):
//!
//! | request | answer |
//! | --- | --- |
//! | `POST /items` + JSON object | `201` + record (new id = highest id ever + 1) |
//! | `PUT /items/{id}` + JSON object | `200` + record (fields replaced), `404` if missing |
//! | `PATCH /items/{id}` + JSON object | `200` + record (top-level fields set), `404` if missing |
//! | `DELETE /items/{id}` | `204`, `404` if missing |
//! | `POST /batch/items` + `{"op":..,"records":[..]}` | `200` + `{"results":[..]}`, one per record |
//! | `POST /composite/sobjects` + `{"records":[..]}` | creates each; `200` + `[{"id","success","errors"}]` (Salesforce's shape) |
//!
//! A body that is not a JSON object is a `400`; a record with
//! `"reject": true` is a `422` `{"error":"rejected","id":..}`. Batch `op` is
//! `insert` (create, `201`), `update` (merge like `PATCH`, `200`/`404`),
//! `upsert` (replace like `PUT`, `200`, or create with the given id or a new
//! one, `201`) or `delete` (records are objects with an `id` or bare ids;
//! `204`/`404`); each result is `{"ok":true,"id":N,"status":S}` or
//! `{"ok":false,"status":S,"error":"..",("id":N)}`. More than
//! [`Config::max_batch`] records is a `413`. A write request with an
//! `Idempotency-Key` header is applied once: a repeat with the same key,
//! method, path and body replays the first answer (with header
//! `Idempotent-Replayed: true`) without writing; the same key with a
//! different request is a `422`.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod body;
mod body_paging;
mod families;
mod faults;
mod oauth;
mod server;
mod static_files;
mod store;
mod time;
mod timer;
mod writes;

use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

pub use crate::families::{FamilyConfig, SecondaryLimit};
use crate::faults::FaultState;
pub use crate::faults::{Budget, BudgetHeaders, FailPath, Faults, Mutate, RateLimit, RetryAfter};
pub use crate::oauth::{OAuthConfig, OAuthStats};
use crate::store::Store;

/// How the server is set up. All fields are public; start from
/// [`Config::default`] and override what you need.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Number of records; ids are `1..=records`.
    pub records: u64,
    /// Seed for record contents, latency jitter and fault decisions. Same
    /// seed, same bytes.
    pub seed: u64,
    /// Page size used when `limit` / `per_page` is missing.
    pub default_page_size: u64,
    /// Upper bound that `limit` / `per_page` (and the default) are clamped to.
    pub max_page_size: u64,
    /// Fixed delay applied before answering each counted request.
    pub latency: Duration,
    /// Extra uniform random delay in `[0, jitter)` added to `latency`.
    pub jitter: Duration,
    /// Faults injected from the start; change them with
    /// [`TestServer::set_faults`] or `POST /_faults`.
    pub faults: Faults,
    /// Most records one `POST /batch/items` may carry; more is a `413`.
    pub max_batch: u64,
    /// Settings of the API families (ServiceNow, Salesforce, GitHub,
    /// JSON:API, PostgREST, Stripe routes; see `FAMILIES.md`).
    pub families: FamilyConfig,
    /// Serve the files of this folder under `/www/` (the dashboard; see
    /// [`Config::demo`]). `None` (the default): `/www/` is not served. A
    /// folder that does not exist answers `404` with a note that the
    /// dashboard is not built in this checkout.
    pub www_dir: Option<PathBuf>,
    /// Serve the npm package from this folder under `/npm/`: only
    /// `index.js`, `index.d.ts` and `wasm/**`. `None` (the default): not
    /// served.
    pub npm_dir: Option<PathBuf>,
    /// A `node_modules` folder whose dashboard libraries (uPlot's ES module
    /// and stylesheet, nothing else) are served under `/vendor/`
    /// (`/vendor/uplot/uPlot.esm.js`). `None` (the default): not served.
    pub vendor_dir: Option<PathBuf>,
    /// Answer with CORS headers (the default, `true`). `false`: no
    /// `Access-Control-*` header on any answer, preflights included, so a
    /// browser page of another origin cannot read the API (a CORS-refusing
    /// server, to test how clients report it).
    pub cors: bool,
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
            faults: Faults::default(),
            max_batch: 200,
            families: FamilyConfig::default(),
            www_dir: None,
            npm_dir: None,
            vendor_dir: None,
            cors: true,
        }
    }
}

impl Config {
    /// Records of the demo API.
    pub const DEMO_RECORDS: u64 = 200_000;

    /// The demo (`pagewise-testserver --demo`): 200,000 records, 30 ms
    /// latency, a token-bucket rate limit of 100 requests per second (burst
    /// 20; beyond it `429` with `Retry-After`), 0.5 % of answers a
    /// `500`/`502`/`503`, and the repository's `www/`, `bindings/npm/` and
    /// uPlot served under `/www/`, `/npm/` and `/vendor/` (see
    /// [`Config::repo_www_dir`]).
    ///
    /// With the npm package's default page size of 100 that is 2,000
    /// pages. A browser's 6 connections to an `http:` origin ask for about
    /// 180 requests per second at this latency: the dashboard's sweep meets
    /// 429s (the pacer then learns the rate) and about ten 5xx, and
    /// completes in about 20 s.
    pub fn demo() -> Config {
        Config {
            records: Config::DEMO_RECORDS,
            latency: Duration::from_millis(30),
            faults: Faults {
                error_rate: 0.005,
                rate_limit: Some(RateLimit {
                    per_second: 100,
                    burst: 20,
                    retry_after: RetryAfter::Seconds,
                }),
                ..Faults::default()
            },
            www_dir: Some(Config::repo_www_dir()),
            npm_dir: Some(Config::repo_npm_dir()),
            vendor_dir: Some(Config::repo_vendor_dir()),
            ..Config::default()
        }
    }

    /// The repository's `www/` (the dashboard), found from this crate's
    /// directory at build time (`CARGO_MANIFEST_DIR/../..`).
    pub fn repo_www_dir() -> PathBuf {
        static_files::repo_root().join("www")
    }

    /// The repository's npm package, `bindings/npm/`, found like
    /// [`Config::repo_www_dir`].
    pub fn repo_npm_dir() -> PathBuf {
        static_files::repo_root().join("bindings").join("npm")
    }

    /// The repository's `node_modules/` (after `npm ci` at its root), found
    /// like [`Config::repo_www_dir`].
    pub fn repo_vendor_dir() -> PathBuf {
        static_files::repo_root().join("node_modules")
    }

    /// One line saying what the demo API is, e.g. for the binary to print.
    pub fn api_summary(&self) -> String {
        let mut line = format!(
            "{} records (ids 1..={}) in every dialect, e.g. /offset/items; {} ms latency",
            self.records,
            self.records,
            self.latency.as_millis()
        );
        if let Some(limit) = self.faults.rate_limit {
            line.push_str(&format!(
                "; rate limit {}/s (burst {}), 429 with Retry-After beyond it",
                limit.per_second, limit.burst
            ));
        }
        if self.faults.error_rate > 0.0 {
            line.push_str(&format!(
                "; {}% of answers a 5xx",
                self.faults.error_rate * 100.0
            ));
        }
        line
    }
}

/// Request counters, as returned by [`TestServer::stats`] and `GET /_stats`.
/// Control requests (`/_stats`, `/_reset`, `/_faults`) and CORS preflights
/// are not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Counted requests since start or the last reset.
    pub requests: u64,
    /// Requests being handled right now (including their latency).
    pub in_flight: u64,
    /// High-water mark of `in_flight` since start or the last reset.
    pub max_in_flight: u64,
    /// Answers altered by an injected fault (error, fail path, drop,
    /// truncation, empty or `null` body, slow, lost acknowledgement), since
    /// start or the last reset. `429`s are counted in `throttled` instead.
    pub faults: u64,
    /// `429` answers sent by the rate limit, since start or the last reset.
    pub throttled: u64,
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
    /// The request's `Idempotency-Key` header, if it had one.
    pub idempotency_key: Option<String>,
    /// The request's `Content-Type` header, if it had one.
    pub content_type: Option<String>,
    /// The request body (lossy UTF-8), when it had one of at most 4 KiB.
    pub body: Option<String>,
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
    pub(crate) fault_state: Mutex<FaultState>,
    pub(crate) faults: AtomicU64,
    pub(crate) throttled: AtomicU64,
    /// Budgets and cursors of the API families.
    pub(crate) families: families::State,
    pub(crate) oauth: oauth::OAuth,
}

impl Shared {
    /// Changes the records `ids` (see [`TestServer::update`]; also `POST /_touch`).
    pub(crate) fn touch(&self, ids: &[u64]) {
        let mut store = self.write_store();
        for &id in ids {
            store.touch(id);
        }
    }

    pub(crate) fn stats(&self) -> Stats {
        Stats {
            requests: self.requests.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            max_in_flight: self.max_in_flight.load(Ordering::Relaxed),
            faults: self.faults.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn reset(&self) {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.requests.store(0, Ordering::Relaxed);
        self.faults.store(0, Ordering::Relaxed);
        self.throttled.store(0, Ordering::Relaxed);
        self.families.reset();
        self.max_in_flight
            .store(self.in_flight.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    pub(crate) fn read_store(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write_store(&self) -> std::sync::RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn fault_state(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.fault_state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the live faults and restarts their run: request numbering
    /// (and so the seeded decisions) from 1, a full rate-limit bucket, and a
    /// pending `mutate`.
    pub(crate) fn set_faults(&self, faults: Faults) {
        *self.fault_state() = FaultState::new(faults);
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
            fault_state: Mutex::new(FaultState::new(config.faults.clone())),
            faults: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            jitter_rng: AtomicU64::new(store::mix64(config.seed ^ 0x6A09_E667_F3BC_C908)),
            config,
            store: RwLock::new(store),
            addr: local_addr,
            started: Instant::now(),
            requests: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
            families: families::State::default(),
            oauth: oauth::OAuth::default(),
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

    /// Turns on the OAuth 2.0 token endpoint (`POST /oauth2/token`) and
    /// bearer tokens that expire: every data route then answers 401
    /// without a valid token (see the `oauth` module's docs).
    pub fn enable_oauth(&self, config: OAuthConfig) {
        self.shared.oauth.enable(config);
    }

    /// What the token endpoint has seen since it was enabled.
    pub fn oauth_stats(&self) -> OAuthStats {
        self.shared.oauth.stats()
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

    /// The record `id` as JSON, if it exists.
    pub fn record_value(&self, id: u64) -> Option<serde_json::Value> {
        self.shared
            .read_store()
            .get(id)
            .and_then(|body| serde_json::from_slice(body).ok())
    }

    /// How many times record `id` was created or written (by HTTP writes,
    /// [`TestServer::insert`], [`TestServer::update`] or a `mutate` fault);
    /// deleting does not count and does not reset it. Seeded records start
    /// at 0. A replayed idempotent request does not count.
    pub fn write_count(&self, id: u64) -> u64 {
        self.shared.read_store().write_count(id)
    }

    /// Adds `n` seeded records with new ids (above every id ever used) and
    /// fresh `updated_at` stamps; returns their ids.
    pub fn insert(&self, n: u64) -> Vec<u64> {
        self.shared.write_store().insert_generated(n)
    }

    /// Changes the records `ids` (missing ones are skipped): each gets an
    /// `updated_at` later than every other record's (the store clock
    /// advances one second per change) and its `revision` field is
    /// incremented (absent counts as 0).
    pub fn update(&self, ids: &[u64]) {
        self.shared.touch(ids);
    }

    /// Removes the records `ids` (missing ones are skipped). Ids are never
    /// reused.
    pub fn delete(&self, ids: &[u64]) {
        let mut store = self.shared.write_store();
        for &id in ids {
            store.remove(id);
        }
    }

    /// Replaces the injected faults, like `POST /_faults`. Restarts their
    /// run: request numbering for the seeded decisions starts again at 1,
    /// the rate-limit bucket is full again and `mutate` is pending again.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.set_faults(faults);
    }

    /// The injected faults in effect.
    pub fn faults(&self) -> Faults {
        self.shared.fault_state().faults().clone()
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

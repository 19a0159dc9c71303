//! # pagewise
//!
//! Move records through paginated JSON REST APIs, fast and politely: pull
//! every record of a collection concurrently where the API allows it, in page
//! order, with flat memory and no row lost — from blocking Rust, async Rust on
//! any executor, or a browser.
//!
//! ```no_run
//! use pagewise::{Api, Auth, Pagination, Total};
//! use serde::Deserialize;
//!
//! #[derive(Debug, Deserialize)]
//! struct Incident { id: u64, name: String }
//!
//! let api = Api::builder("https://api.example/v1/")
//!     .auth(Auth::bearer(std::env::var("TOKEN").unwrap_or_default()))
//!     .records_at("/data")                                   // where records sit in a page
//!     .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
//!     .page_size(500)
//!     .concurrency(16)                                       // one limit for every client of this Api
//!     .build()?;
//!
//! let (incidents, report) = api.blocking().list("incidents").collect_with_report::<Incident>()?;
//! println!("{} incidents in {:?}, complete: {:?}", incidents.len(), report.duration, report.complete);
//! # Ok::<(), pagewise::Error>(())
//! ```
//!
//! ## The shape
//!
//! ```text
//!             pure, no IO, no clock, no randomness of its own
//!  ┌──────────────────────────── core ─────────────────────────────┐
//!  │ Request/Response values   pagination dialects (state machines)│
//!  │ sweep planner (fan-out, reorder window)   retry, pacing        │
//!  └──────────────────────────────▲────────────────────────────────┘
//!        poll_request / handle_response(resp, now) / poll_timeout
//!         shared handles: limiter (async-lock) + pacer, one per Api
//!                                 │
//!                  ┌──────────────┴─────────────┐
//!                  │ the async driver (futures) │  the only loop
//!                  └───▲───────────────────▲────┘
//!      blocks on it    │                   │ awaits it
//!     blocking::Client │                   │ Client, the npm package
//!                      │                   │
//!   transports: ureq on worker threads (native) · fetch (wasm32) · your AsyncTransport
//! ```
//!
//! Modules depend one way: `core` ← shared handles (limiter, pacer) ←
//! [`transport`] ← the driver ← the facades ([`Client`],
//! [`blocking::Client`], [`List`], the many-items
//! jobs) ← the bindings.
#![cfg_attr(not(target_arch = "wasm32"), doc = "")]
#![cfg_attr(
    not(target_arch = "wasm32"),
    doc = "[`blocking::Client`]: crate::blocking::Client"
)]
#![cfg_attr(target_arch = "wasm32", doc = "")]
#![cfg_attr(
    target_arch = "wasm32",
    doc = "[`blocking::Client`]: https://docs.rs/pagewise/latest/x86_64-unknown-linux-gnu/pagewise/blocking/struct.Client.html"
)]
//!
//!
//! The [`core`] never does I/O and never reads a clock: every method that
//! needs time takes `now`. Drivers feed it answers and time.
//!
//! ## The run-loop contract
//!
//! Every state machine of the core ([`core::Sweep`], [`core::Fetch`]) speaks
//! the same vocabulary, and every driver follows the same loop:
//!
//! 1. After any input (creation, an answer, a timeout), send every request
//!    [`poll_request`](core::Sweep::poll_request) returns, until it returns `None`.
//! 2. Take events with [`poll_event`](core::Sweep::poll_event) until it
//!    returns `None`. (A streaming driver may take them as its consumer is
//!    ready: the sweep does not ask for pages beyond its window meanwhile.)
//! 3. Wait for the earliest of: an answer to a request in flight — hand it to
//!    [`handle_response(id, answer, now)`](core::Sweep::handle_response) — or
//!    the instant [`poll_timeout`](core::Sweep::poll_timeout) returned — call
//!    [`handle_timeout(now)`](core::Sweep::handle_timeout). Then go to 1.
//!
//! The sweep ends with exactly one [`core::Event::Finished`] or
//! [`core::Event::Failed`]; pages handed out before a failure are intact.
//!
//! ## Pagination dialects
//!
//! [`Pagination`] covers offset + limit (total from a header, a JSON pointer
//! or `Content-Range`), page numbers (first page 0 or 1), cursor tokens (from
//! a JSON pointer or a header), next URLs (from a JSON pointer or an RFC 8288
//! `Link` header) and keyset (`field > last`). Where the total is known after
//! the first page, the remaining pages are fetched concurrently, planned a
//! few at a time as room frees up (so memory depends on the concurrency and
//! the window, never on the total the server announces); otherwise pages are
//! walked in sequence.
//!
//! Rules that keep every row: a short page does not end an offset sweep whose
//! total says more rows remain (the missing range is fetched); a server that
//! caps the page size below the one asked for is detected from the first
//! page; without a total, a sweep ends on an empty page or on a page shorter
//! than the ones before; a cursor, next URL or keyset value seen twice is an
//! [`ErrorKind::Loop`] error rather than an endless sweep; a total that
//! changes during a sweep is reported ([`core::Notice::TotalChanged`]).
//!
//! Rules that keep a hostile or broken server from misleading a sweep: a
//! total above [`ListOptions::max_total`] is an [`ErrorKind::Limit`] error;
//! an empty page before the announced total ends the planning of new pages
//! (the sweep ends with a [`core::Notice::ShortPage`] and is not reported
//! complete) rather than asking for every page up to the total; two pages
//! answered with the same records are an [`ErrorKind::Duplicate`] error,
//! raised before the copy is handed out (see
//! [`ListOptions::allow_repeated_pages`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod api;
#[cfg(not(target_arch = "wasm32"))]
pub mod blocking;
mod client;
pub mod core;
mod drive;
mod error;
mod list;
mod many;
mod shared;
pub mod transport;
mod url_parse;

pub use crate::api::Api;
pub use crate::client::{
    Client, FetchManyStream, PageStream, RawPageStream, RecordStream, WriteStream,
};
pub use crate::core::is_sensitive_query_name;
pub use crate::core::Preset;
pub use crate::core::{
    ApiBuilder, ApiOptions, Auth, Checkpoint, DeltaFilter, Link, ListOptions, Notice, Order,
    Pacing, Pagination, Progress, Report, RetryBudget, RetryCause, RetryCounts, RetryPolicy, Total,
    Watermark,
};
pub use crate::core::{ApiEvent, RequestEvent, RetryEvent};
pub use crate::core::{ApiUsage, DeltaCompose, DeltaFormat};
pub use crate::core::{
    BatchLookup, BatchResults, BatchWrite, FromJson, JsonText, ManyCheckpoint, ManyProgress,
    ManyReport, ToJson, WriteOp, Written,
};
pub use crate::core::{BoxError, ClientAuth, Grant, OAuth2, Token, TokenFuture, TokenProvider};
pub use crate::error::{Error, ErrorKind, Result};
pub use crate::list::{List, Page};
pub use crate::many::{FetchManyJob, WriteManyJob, WriteOutcome};
pub use crate::shared::{Limiter, Permit};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

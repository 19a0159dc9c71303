//! Many independent items, each with its own result: fetching records by id
//! and writing records, one request per item or in batches. One engine,
//! two public machines: [`FetchMany`] and [`WriteJob`].
//!
//! # States
//!
//! A job is running until it hands out [`ManyEvent::Finished`]; nothing
//! follows it. Its items travel in units ([`units`]): one item per request,
//! or a batch of them ([`BatchLookup`], [`BatchWrite`]). Each unit goes
//! through these states, and each item ends with a result of its own:
//!
//! ```text
//!  read: units of unit_size items      an item no request can carry (an id a
//!    │                                 batch cannot hold, an empty path segment):
//!    ▼                                 its error, and no request ─────────────┐
//! ┌────────┐ poll_request ┌──────────┐                                        ▼
//! │ Queued │ ───────────▶ │ InFlight │ ── handle_response: read ───▶ ┌─────────────┐
//! └────────┘              └────┬─────┘    item by item (fetch.rs,    │  a result   │
//!     ▲                        │          write.rs), or failed for   │ (Ok or Err) │
//!     │ handle_timeout         │          good (not retried, given   └──────┬──────┘
//!     │ (retry due)            │          up, outcome unknown)              │ input order (in
//! ┌───┴─────┐                  │ no answer, a status retried, or the        │ the window) or
//! │ Waiting │ ◀────────────────┘ items of a batch the server failed         ▼ completion order
//! └─────────┘   one by one (a new unit of them)     ManyEvent::Item (poll_event)
//!                                       every item handed out: ManyEvent::Finished
//! ```
//!
//! - **new**: [`FetchMany::new`] or [`WriteJob::new`] (or `lazy`, over an
//!   iterator) read the items as units are needed, within the window, and
//!   cut them into units ([`engine`], [`input`]; a checkpoint's done items
//!   are skipped as they are read, and only the items between the oldest
//!   not handed out and the newest read are kept);
//! - **Queued → InFlight**: `poll_request`, within the concurrency and (in
//!   input order) the window; the request is the kind's ([`kind`]): a `GET`
//!   by id or a batch lookup ([`fetch`]), a write or a batch body ([`write`](mod@write));
//! - **InFlight → a result**: `handle_response`, each item's own (a 404 is
//!   that item's error, not the job's);
//! - **InFlight → Waiting**: `handle_response` with no answer or a status
//!   retried, as `core/exchange.rs` decides; a write that may have been
//!   applied goes again only with an idempotency key, else its outcome is
//!   [`ErrorKind::OutcomeUnknown`](crate::ErrorKind::OutcomeUnknown);
//! - **Waiting → Queued**: `handle_timeout` once the retry is due;
//! - **a result → handed out**: `poll_event`; what the jobs hand out and
//!   tell is in [`report`], their options in [`options`].
//!
//! `tests::the_states_in_turn` walks the units' states from inside the engine.
//!
//! ```
//! use pagewise::core::{FetchMany, ManyEvent, ManyOptions, Response, WriteJob, WriteOp, WriteOptions};
//! use pagewise::core::{TransportError, TransportErrorKind};
//! use pagewise::{Api, BatchWrite, ErrorKind, JsonText};
//! use web_time::Instant;
//!
//! let api = Api::builder("https://api.example/v1/").concurrency(2).build()?;
//! let now = Instant::now();
//! let ids = ["1", "2", ""].map(String::from).to_vec();
//! let mut job = FetchMany::new(api.spec(), "items/{id}", ids, ManyOptions::default(), now)?;
//! // Queued -> InFlight: one unit per id, two at a time.
//! let one = job.poll_request().unwrap();
//! let two = job.poll_request().unwrap();
//! assert_eq!(two.url(), "https://api.example/v1/items/2");
//! // InFlight -> a result: a 404 is item 1's own error, not retried.
//! job.handle_response(two.id(), Ok(Response::new(404, "no such item")), now);
//! // Queued -> a result: an empty id is no path segment; no request is sent.
//! assert!(job.poll_request().is_none());
//! assert!(job.poll_event().is_none(), "input order: item 0 comes first");
//! // InFlight -> Waiting: a 503 with Retry-After.
//! let busy = Response::new(503, "busy").with_header("Retry-After", "1");
//! job.handle_response(one.id(), Ok(busy), now);
//! let due = job.poll_timeout().unwrap();
//! // Waiting -> Queued -> InFlight, again.
//! job.handle_timeout(due);
//! let again = job.poll_request().unwrap();
//! assert_eq!(again.url(), one.url());
//! // InFlight -> a result; then every result is handed out, in input order.
//! job.handle_response(again.id(), Ok(Response::new(200, r#"{"id":1}"#)), due);
//! let mut results = Vec::new();
//! while let Some(event) = job.poll_event() {
//!     match event {
//!         ManyEvent::Item(item) => results.push((item.index, item.result.map_err(|e| e.kind()))),
//!         ManyEvent::Finished(report) => {
//!             assert_eq!((report.succeeded, report.failed, report.retries.total()), (1, 2, 1))
//!         }
//!         other => panic!("{other:?}"),
//!     }
//! }
//! assert_eq!(results[0], (0, Ok(br#"{"id":1}"#.to_vec())));
//! assert_eq!(results[1], (1, Err(ErrorKind::Status)));
//! assert_eq!(results[2], (2, Err(ErrorKind::Url)));
//! assert!(job.is_done());
//!
//! // A batch write without idempotency keys.
//! let records = [r#"{"name":"a"}"#, r#"{"name":"b"}"#].map(|r| JsonText::parse(r.to_string()).unwrap());
//! let options = WriteOptions::new(WriteOp::Insert, "items")
//!     .batch(BatchWrite::new("batch/items"))
//!     .idempotency_header(None);
//! let mut job = WriteJob::new(api.spec(), records.to_vec(), options, now)?;
//! let batch = job.poll_request().unwrap();
//! assert_eq!(batch.url(), "https://api.example/v1/batch/items");
//! // InFlight -> a result for record 0; record 1, failed alone by the
//! // server (not written), -> Waiting in a unit of its own.
//! let answer = r#"{"results":[{"ok":true,"id":"7"},{"ok":false,"status":503,"error":"busy"}]}"#;
//! job.handle_response(batch.id(), Ok(Response::new(200, answer)), now);
//! let due = job.poll_timeout().unwrap();
//! job.handle_timeout(due);
//! let alone = job.poll_request().unwrap();
//! assert_eq!(alone.body(), Some(&br#"{"op":"insert","records":[{"name":"b"}]}"#[..]));
//! // InFlight -> a result, failed for good: the connection broke, the write
//! // may have been applied and has no idempotency key to send it again with.
//! let reset = TransportError::new(TransportErrorKind::Io, "connection reset");
//! job.handle_response(alone.id(), Err(reset), due);
//! match job.poll_event() {
//!     Some(ManyEvent::Item(item)) => assert_eq!(item.result?.id.as_deref(), Some("7")),
//!     other => panic!("{other:?}"),
//! }
//! match job.poll_event() {
//!     Some(ManyEvent::Item(item)) => {
//!         assert_eq!(item.result.unwrap_err().kind(), ErrorKind::OutcomeUnknown)
//!     }
//!     other => panic!("{other:?}"),
//! }
//! match job.poll_event() {
//!     Some(ManyEvent::Finished(report)) => assert_eq!((report.succeeded, report.unknown), (1, 1)),
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), pagewise::Error>(())
//! ```

mod engine;
mod fetch;
mod input;
mod kind;
mod options;
mod report;
mod units;
mod write;

pub use self::fetch::FetchMany;
pub use self::options::{
    BatchLookup, BatchResults, BatchWrite, ManyOptions, WriteOp, WriteOptions,
};
pub use self::report::{ItemEvent, ManyEvent, ManyProgress, ManyReport, Written};
pub use self::write::WriteJob;

#[cfg(test)]
mod shapes_tests;
#[cfg(test)]
mod tests;

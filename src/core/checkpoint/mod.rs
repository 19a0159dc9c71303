//! Checkpoints: where a machine got to, as a value that survives the
//! process: a sweep's [`Checkpoint`] and a job's [`ManyCheckpoint`], both
//! JSON (serde), both checked when read so that a resumed machine never
//! counts past what it could have saved.
//!
//! # The life of a checkpoint
//!
//! ```text
//!   Sweep::checkpoint()        to_json()              from_json()
//!  ┌─────────┐  taken   ┌────────────┐  stored  ┌──────┐  parsed, validated ┌────────────┐
//!  │ running │ ───────▶ │ Checkpoint │ ───────▶ │ JSON │ ─────────────────▶ │ Checkpoint │
//!  └─────────┘          └────────────┘          └──────┘  (or a Config error)└─────┬──────┘
//!       ▲                                                                         │
//!       └──────────────── ListOptions::resume: a new sweep with its plan ─────────┘
//!                         (no page handed out before is fetched again)
//! ```
//!
//! - **taken**: [`Sweep::checkpoint`](crate::core::Sweep::checkpoint) at any
//!   time: the pages planned and not handed out ([`plan`]), what the sweep
//!   learnt about the collection ([`learnt`]), its counters ([`done`]).
//! - **stored**: [`Checkpoint::to_json`]; no credential is ever in it.
//! - **read**: [`Checkpoint::from_json`] ([`read`]): anything no sweep could
//!   have saved is an [`ErrorKind::Config`] error.
//! - **resumed**: [`ListOptions::resume`](crate::ListOptions::resume), for the
//!   same collection in the same dialect.
//!
//! ```
//! use pagewise::{Api, Checkpoint, ListOptions, Pagination, Total};
//! use pagewise::core::{Event, Response, Sweep};
//! use web_time::Instant;
//!
//! let api = Api::builder("https://api.example/v1/")
//!     .records_at("/data")
//!     .page_size(2)
//!     .concurrency(1)
//!     .pagination(Pagination::offset().total(Total::pointer("/total")))
//!     .build()?;
//! let now = Instant::now();
//! // running: the first page is handed out, then the process stops.
//! let mut sweep = Sweep::new(api.spec(), ListOptions::new("items"), now)?;
//! let first = sweep.poll_request().unwrap();
//! sweep.handle_response(first.id(), Ok(Response::new(200, r#"{"total":3,"data":[{"id":1},{"id":2}]}"#)), now);
//! assert!(matches!(sweep.poll_event(), Some(Event::Page(_))));
//! // taken, stored, read.
//! let json = sweep.checkpoint().to_json();
//! let checkpoint = Checkpoint::from_json(&json)?;
//! assert_eq!(checkpoint.records_done(), 2);
//! // resumed: only the page not handed out is asked for.
//! let mut again = Sweep::new(api.spec(), ListOptions::new("items").resume(checkpoint), now)?;
//! let rest = again.poll_request().unwrap();
//! assert_eq!(rest.url(), "https://api.example/v1/items?offset=2&limit=2");
//! again.handle_response(rest.id(), Ok(Response::new(200, r#"{"total":3,"data":[{"id":3}]}"#)), now);
//! assert!(matches!(again.poll_event(), Some(Event::Page(p)) if p.records.len() == 1));
//! assert!(matches!(again.poll_event(), Some(Event::Finished(r)) if r.records == 3));
//! # Ok::<(), pagewise::Error>(())
//! ```

mod done;
mod job;
mod learnt;
mod plan;
mod read;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use super::delta::Watermark;
use crate::error::{Error, ErrorKind, Result};

pub(crate) use self::done::Done;
pub use self::job::ManyCheckpoint;
pub(crate) use self::learnt::Learnt;
pub(crate) use self::plan::{insert_sorted, PageRef, PendingPage};

/// Where a sweep got to: the pages it has not handed out yet (and, for the
/// page being read, how many of its records were), what it learnt about
/// the collection, and its counters. Serializable as JSON, so a sweep can
/// be resumed in another process, or moved between the native and the
/// browser build, with [`ListOptions::resume`](crate::ListOptions::resume).
/// Resuming fetches no page that was already handed out.
///
/// Credentials are never stored in it.
///
/// ```
/// # use pagewise::core::Checkpoint;
/// # fn demo(checkpoint: Checkpoint) -> pagewise::Result<()> {
/// let json = checkpoint.to_json();
/// std::fs::write("sweep.checkpoint.json", &json).unwrap();
/// let again = Checkpoint::from_json(&json)?;
/// assert_eq!(again, checkpoint);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub(crate) version: u32,
    pub(crate) collection: String,
    pub(crate) dialect: String,
    #[serde(deserialize_with = "crate::core::json::objects")]
    pub(crate) pending: Vec<PendingPage>,
    #[serde(deserialize_with = "crate::core::json::object")]
    pub(crate) learnt: Learnt,
    #[serde(deserialize_with = "crate::core::json::object")]
    pub(crate) done: Done,
    /// For a delta sync: the watermark it started from (the filter sent)…
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::core::json::object_or_null"
    )]
    pub(crate) since: Option<Watermark>,
    /// …and the one reached so far.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::core::json::object_or_null"
    )]
    pub(crate) reached: Option<Watermark>,
}

impl Checkpoint {
    pub(crate) const VERSION: u32 = 1;

    /// The checkpoint as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a checkpoint serializes")
    }

    /// The largest number a checkpoint may hold: 2^53 - 1, the largest
    /// integer JavaScript represents exactly. No sweep counts that far, and
    /// counting on from it cannot overflow.
    pub const MAX_NUMBER: u64 = (1 << 53) - 1;

    /// A checkpoint from JSON made by [`to_json`](Checkpoint::to_json);
    /// anything else is an [`ErrorKind::Config`] error, and so is a number
    /// that no sweep could have saved (above [`MAX_NUMBER`](Checkpoint::MAX_NUMBER),
    /// a page size of 0, more records left out of a page than it holds, a
    /// page numbered past the sweep's count).
    ///
    /// ```
    /// use pagewise::{Checkpoint, ErrorKind};
    /// let json = r#"{"version":1,"collection":"https://h/items","dialect":"offset",
    ///   "pending":[],"learnt":{"total":null,"effective_size":10,"fanned_out":false,
    ///   "planned_end":0,"largest_page":0,"next_seq":1,"seen":[]},
    ///   "done":{"records":18446744073709551615,"pages":1,"requests":1,
    ///   "retries":{"throttled":0,"server_error":0,"timeout":0,"transport":0,"bad_body":0},
    ///   "throttled_ms":0}}"#;
    /// let err = Checkpoint::from_json(json).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Config);
    /// assert!(err.message().contains("`records`"), "{}", err.message());
    /// ```
    pub fn from_json(json: &str) -> Result<Self> {
        let c = read::from_json::<Checkpoint>(json)
            .and_then(|c| c.validate().map(|()| c))
            .map_err(|e| {
                Error::new(ErrorKind::Config, format!("not a pagewise checkpoint: {e}"))
            })?;
        if c.version != Self::VERSION {
            return Err(Error::config(format!(
                "checkpoint version {} is not supported (this pagewise reads version {})",
                c.version,
                Self::VERSION
            )));
        }
        Ok(c)
    }

    /// Checks every number against what a sweep can have saved.
    fn validate(&self) -> std::result::Result<(), String> {
        let at_most = |name: &str, n: u64| {
            if n > Self::MAX_NUMBER {
                Err(format!(
                    "invalid value for `{name}`: {n} is more than {}",
                    Self::MAX_NUMBER
                ))
            } else {
                Ok(())
            }
        };
        let l = &self.learnt;
        let d = &self.done;
        let r = &d.retries;
        for (name, n) in [
            ("total", l.total.unwrap_or(0)),
            ("effective_size", l.effective_size),
            ("planned_end", l.planned_end),
            ("largest_page", l.largest_page),
            ("next_seq", l.next_seq),
            ("records", d.records),
            ("pages", d.pages),
            ("requests", d.requests),
            ("throttled", r.throttled),
            ("server_error", r.server_error),
            ("timeout", r.timeout),
            ("transport", r.transport),
            ("bad_body", r.bad_body),
            ("throttled_ms", d.throttled_ms),
            ("dropped", d.dropped),
        ] {
            at_most(name, n)?;
        }
        if l.effective_size == 0 {
            return Err("invalid value for `effective_size`: 0, expected at least 1".into());
        }
        for p in &self.pending {
            at_most("seq", p.seq)?;
            at_most("skip", p.skip)?;
            // Records of one page left out: a page never holds 2^32 records
            // (a body is far below 4 GiB), and on 32-bit targets (wasm) a
            // larger count would be cut short to a `usize`.
            if p.skip > u64::from(u32::MAX) {
                return Err(format!(
                    "invalid value for `skip`: {} is more than {}",
                    p.skip,
                    u32::MAX
                ));
            }
            if p.seq >= l.next_seq {
                return Err(format!(
                    "invalid value for `seq`: {}, expected less than `next_seq` ({})",
                    p.seq, l.next_seq
                ));
            }
            if p.sub == u32::MAX {
                return Err(format!("invalid value for `sub`: {}", p.sub));
            }
            match p.page {
                PageRef::Offset { offset, limit } => {
                    at_most("offset", offset)?;
                    at_most("limit", limit)?;
                    if limit == 0 || p.skip >= limit {
                        return Err(format!(
                            "invalid page: limit {limit} with {} records left out, expected \
                             a limit of at least 1 and fewer left out",
                            p.skip
                        ));
                    }
                }
                PageRef::Page { number } => at_most("number", number)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Records handed out before the checkpoint.
    pub fn records_done(&self) -> u64 {
        self.done.records
    }

    /// Pages handed out before the checkpoint.
    pub fn pages_done(&self) -> u64 {
        self.done.pages
    }

    /// Pages planned and not handed out yet. More may follow: pages found
    /// as the sweep goes on (dialects that walk in sequence), and pages up
    /// to the total, which a sweep plans only a few at a time (at most twice
    /// concurrency + window ahead), so a checkpoint stays small whatever the
    /// total.
    pub fn pages_pending(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing is left to fetch.
    pub fn is_finished(&self) -> bool {
        self.pending.is_empty()
    }
}

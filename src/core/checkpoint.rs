//! Checkpoints: where a sweep got to, as a value that survives the process.

use serde::{Deserialize, Serialize};

use super::delta::Watermark;
use super::retry::RetryCounts;
use crate::error::{Error, ErrorKind, Result};

/// One page a sweep still has to hand out, as stored in a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum PageRef {
    Offset { offset: u64, limit: u64 },
    Page { number: u64 },
    Cursor { cursor: Option<String> },
    Url { url: String },
    Keyset { after: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingPage {
    pub seq: u64,
    pub sub: u32,
    pub page: PageRef,
    /// Records at the start of the page already handed out.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skip: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What the sweep had learnt about the collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Learnt {
    pub total: Option<u64>,
    pub effective_size: u64,
    pub fanned_out: bool,
    pub planned_end: u64,
    pub largest_page: u64,
    pub next_seq: u64,
    pub seen: Vec<String>,
}

/// Counters of the part of the sweep already done.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Done {
    pub records: u64,
    pub pages: u64,
    pub requests: u64,
    pub retries: RetryCounts,
    pub throttled_ms: u64,
    #[serde(default)]
    pub dropped: u64,
}

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
    pub(crate) pending: Vec<PendingPage>,
    pub(crate) learnt: Learnt,
    pub(crate) done: Done,
    /// For a delta sync: the watermark it started from (the filter sent)…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) since: Option<Watermark>,
    /// …and the one reached so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) reached: Option<Watermark>,
}

impl Checkpoint {
    pub(crate) const VERSION: u32 = 1;

    /// The checkpoint as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a checkpoint always serializes")
    }

    /// A checkpoint from JSON made by [`to_json`](Checkpoint::to_json);
    /// anything else is an [`ErrorKind::Config`] error.
    pub fn from_json(json: &str) -> Result<Self> {
        let c: Checkpoint = serde_json::from_str(json).map_err(|e| {
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

    /// Records handed out before the checkpoint.
    pub fn records_done(&self) -> u64 {
        self.done.records
    }

    /// Pages handed out before the checkpoint.
    pub fn pages_done(&self) -> u64 {
        self.done.pages
    }

    /// Pages still to fetch (more may be found as the sweep goes on, for
    /// dialects that walk in sequence).
    pub fn pages_pending(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing is left to fetch.
    pub fn is_finished(&self) -> bool {
        self.pending.is_empty()
    }
}

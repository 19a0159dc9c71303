//! A job's checkpoint: which of its items are done.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where a job of many items got to: which items are done. Serializable as
/// JSON; resume with the same items in the same order and nothing done is
/// sent again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManyCheckpoint {
    pub(crate) version: u32,
    pub(crate) items: u64,
    /// Done items, as half-open index ranges.
    pub(crate) done: Vec<(u64, u64)>,
}

impl ManyCheckpoint {
    /// The checkpoint as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a job checkpoint serializes")
    }

    /// A checkpoint from [`to_json`](ManyCheckpoint::to_json)'s output.
    pub fn from_json(json: &str) -> Result<Self> {
        let c = super::read::from_json::<Self>(json)
            .map_err(|e| Error::config(format!("not a pagewise job checkpoint: {e}")))?;
        c.check()?;
        Ok(c)
    }

    /// What this version writes: a known version, and done ranges that are
    /// ordered, apart and within the items (so no count over them can
    /// overflow or underflow).
    pub(crate) fn check(&self) -> Result<()> {
        if self.version != 1 {
            return Err(Error::config(format!(
                "job checkpoint version {} is not supported (this pagewise reads version 1)",
                self.version
            )));
        }
        let mut end = 0;
        for &(a, b) in &self.done {
            if a < end || b <= a || b > self.items {
                return Err(Error::config(format!(
                    "not a pagewise job checkpoint: done range [{a}, {b}) is not ordered \
                     after {end} and within {} items",
                    self.items
                )));
            }
            end = b;
        }
        Ok(())
    }

    /// Items done before the checkpoint.
    pub fn done_count(&self) -> u64 {
        self.done.iter().map(|(a, b)| b - a).sum()
    }

    pub(crate) fn is_done(&self, i: usize) -> bool {
        let i = i as u64;
        self.done.iter().any(|(a, b)| *a <= i && i < *b)
    }
}

//! The counters of the part of a sweep already done, as a checkpoint keeps them.

use serde::{Deserialize, Serialize};

use crate::core::retry::RetryCounts;

/// Counters of the part of the sweep already done.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Done {
    pub records: u64,
    pub pages: u64,
    pub requests: u64,
    #[serde(deserialize_with = "crate::core::json::object")]
    pub retries: RetryCounts,
    pub throttled_ms: u64,
    #[serde(default)]
    pub dropped: u64,
}

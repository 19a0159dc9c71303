//! What a sweep had learnt about the collection, as a checkpoint keeps it.

use serde::{Deserialize, Serialize};

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
    /// An empty page came back before the total: no page is planned any more.
    #[serde(default, skip_serializing_if = "is_false")]
    pub stopped: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

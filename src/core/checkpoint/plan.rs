//! The pages a sweep still has to hand out, as a checkpoint stores them.

use serde::{Deserialize, Serialize};

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

/// A page of the plan: its place in page order (`seq`, and `sub` for a
/// gap fill), which page it is, and how many of its records were handed
/// out before the checkpoint.
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

/// Inserts `page` into `pending` (in page order) in its place: before or
/// after the pages with the same key. (Cheaper than a sort here, and in the
/// WebAssembly module: each `sort_by_key` brings its own copy of the sort.)
pub(crate) fn insert_sorted(pending: &mut Vec<PendingPage>, page: PendingPage, before_same: bool) {
    let key = (page.seq, page.sub);
    let at = pending.partition_point(|p| {
        let k = (p.seq, p.sub);
        k < key || (k == key && !before_same)
    });
    pending.insert(at, page);
}

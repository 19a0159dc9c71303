//! The pages a sweep still has to hand out, as a checkpoint stores them.

use serde::{Deserialize, Serialize};

/// One page a sweep still has to hand out, as stored in a checkpoint.
/// Read through [`PageShape`]: serde's internally tagged enums buffer every
/// member first, which costs the WebAssembly module about 5 KB gzipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "PageShape")]
pub(crate) enum PageRef {
    Offset { offset: u64, limit: u64 },
    Page { number: u64 },
    Cursor { cursor: Option<String> },
    Url { url: String },
    Keyset { after: Option<String> },
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum PageKind {
    Offset,
    Page,
    Cursor,
    Url,
    Keyset,
}

/// A [`PageRef`] as its JSON has it: the `kind` and every member of every
/// kind, checked against the kind after.
#[derive(Deserialize)]
struct PageShape {
    kind: PageKind,
    offset: Option<u64>,
    limit: Option<u64>,
    number: Option<u64>,
    cursor: Option<String>,
    url: Option<String>,
    after: Option<String>,
}

impl TryFrom<PageShape> for PageRef {
    type Error = String;
    fn try_from(p: PageShape) -> Result<Self, String> {
        fn need<T>(v: Option<T>, name: &str) -> Result<T, String> {
            v.ok_or_else(|| format!("missing field `{name}`"))
        }
        Ok(match p.kind {
            PageKind::Offset => PageRef::Offset {
                offset: need(p.offset, "offset")?,
                limit: need(p.limit, "limit")?,
            },
            PageKind::Page => PageRef::Page {
                number: need(p.number, "number")?,
            },
            PageKind::Cursor => PageRef::Cursor { cursor: p.cursor },
            PageKind::Url => PageRef::Url {
                url: need(p.url, "url")?,
            },
            PageKind::Keyset => PageRef::Keyset { after: p.after },
        })
    }
}

/// A page of the plan: its place in page order (`seq`, and `sub` for a
/// gap fill), which page it is, and how many of its records were handed
/// out before the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingPage {
    pub seq: u64,
    pub sub: u32,
    #[serde(deserialize_with = "crate::core::json::object")]
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

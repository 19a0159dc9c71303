//! Options of a list operation, shared by every facade.

use std::time::Duration;

use super::checkpoint::Checkpoint;
use super::delta::Watermark;
use super::retry::RetryPolicy;

/// In which order a sweep hands out pages (`"page"` or `"completion"` in
/// the option schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Order {
    /// Page order, as the API orders them (default). Pages that finish early
    /// wait in a bounded reorder window.
    #[default]
    Page,
    /// The order in which pages arrive: lowest latency, no reordering.
    Completion,
}

/// What to pull and how: the options of `list(collection)` in every facade.
///
/// ```
/// use pagewise::{ListOptions, Order};
/// let opts = ListOptions::new("items")
///     .query("active", "true")
///     .page_size(500)
///     .concurrency(16)
///     .order(Order::Completion);
/// assert_eq!(opts.path(), "items");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ListOptions {
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) page_size: Option<u64>,
    pub(crate) concurrency: Option<usize>,
    pub(crate) window: Option<usize>,
    pub(crate) order: Order,
    pub(crate) deadline: Option<Duration>,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) verify: bool,
    pub(crate) seed: Option<u64>,
    pub(crate) since: Option<Watermark>,
    pub(crate) resume: Option<Checkpoint>,
    pub(crate) max_total: u64,
    pub(crate) allow_repeated_pages: bool,
    pub(crate) body: Option<serde_json::Value>,
}

impl ListOptions {
    /// Options for the collection at `path` (relative to the API's base URL).
    pub fn new(path: impl Into<String>) -> Self {
        ListOptions {
            path: path.into(),
            query: Vec::new(),
            page_size: None,
            concurrency: None,
            window: None,
            order: Order::Page,
            deadline: None,
            retry: None,
            verify: false,
            seed: None,
            since: None,
            resume: None,
            max_total: Self::DEFAULT_MAX_TOTAL,
            allow_repeated_pages: false,
            body: None,
        }
    }

    /// The default of [`max_total`](ListOptions::max_total): a billion records.
    pub const DEFAULT_MAX_TOTAL: u64 = 1_000_000_000;

    /// The largest concurrency accepted (by [`ApiBuilder::build`](crate::ApiBuilder::build),
    /// a sweep and a `fetch_many`/`write_many` job): 65,536. More is an
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) error, not "no limit".
    pub const MAX_CONCURRENCY: usize = 65_536;

    /// The largest reorder window accepted: 65,536 pages. More (say
    /// `usize::MAX` meant as "no limit") is an
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) error.
    pub const MAX_WINDOW: usize = 65_536;

    /// Adds a query parameter (a filter, a field list, ...).
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }
    /// Records per page (default: the API's).
    pub fn page_size(mut self, size: u64) -> Self {
        self.page_size = Some(size);
        self
    }
    /// Pages in flight at once (default and maximum: the API's concurrency;
    /// at most [`MAX_CONCURRENCY`](ListOptions::MAX_CONCURRENCY)).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = Some(n);
        self
    }
    /// Finished pages that may wait for an earlier one in ordered mode
    /// (default: the API's window, else the concurrency; at most
    /// [`MAX_WINDOW`](ListOptions::MAX_WINDOW), more is a Config error).
    pub fn window(mut self, pages: usize) -> Self {
        self.window = Some(pages);
        self
    }
    /// Page order (default) or completion order.
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }
    /// An overall deadline for the whole sweep.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }
    /// How failed requests are retried (default: the API's policy).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }
    /// Turns a sweep that ends with fewer (or more) records than the API's
    /// total, or during which the collection visibly changed under an offset
    /// or page-number sweep, into an
    /// [`ErrorKind::Incomplete`](crate::ErrorKind::Incomplete) error saying
    /// how many are missing (default off: the report says it). As many rows
    /// inserted as deleted between two pages leave no trace in the total:
    /// only a keyset or cursor sweep is exact under such changes.
    pub fn verify(mut self, on: bool) -> Self {
        self.verify = on;
        self
    }
    /// The seed of the retry jitter (default: drivers pick one at random), for
    /// reproducible runs.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
    /// Only the records changed since `watermark` (a delta sync): the API's
    /// [`DeltaFilter`](crate::DeltaFilter) is added to the query, and the
    /// report's `watermark` says where the next sync starts.
    pub fn since(mut self, watermark: Watermark) -> Self {
        self.since = Some(watermark);
        self
    }
    /// Continues a sweep from a checkpoint taken earlier (in this process or
    /// another, natively or in a browser): finished pages are not fetched again.
    pub fn resume(mut self, checkpoint: Checkpoint) -> Self {
        self.resume = Some(checkpoint);
        self
    }
    /// The largest total a sweep accepts from the API (default
    /// [`DEFAULT_MAX_TOTAL`](ListOptions::DEFAULT_MAX_TOTAL), a billion
    /// records). An answer announcing more (in a header, the body or
    /// `Content-Range`, on any page), or a checkpoint that saved more, ends
    /// the sweep with an [`ErrorKind::Limit`](crate::ErrorKind::Limit) error
    /// naming the total and the URL. Memory does not depend on the total
    /// (pages are planned a few at a time, as room frees up); the ceiling
    /// stops a sweep from taking a bogus total at its word. A ceiling above
    /// [`Checkpoint::MAX_NUMBER`](crate::Checkpoint::MAX_NUMBER) (2^53 - 1)
    /// counts as that: a checkpoint could not save a larger total.
    ///
    /// ```
    /// use pagewise::ListOptions;
    /// let opts = ListOptions::new("events").max_total(20_000_000_000);
    /// # let _ = opts;
    /// ```
    pub fn max_total(mut self, records: u64) -> Self {
        self.max_total = records;
        self
    }
    /// Accepts two pages answered with the same records (default off).
    ///
    /// By default a sweep remembers a digest of the first page's records and
    /// of the latest pages' (twice concurrency + window of them), and ends
    /// with an [`ErrorKind::Duplicate`](crate::ErrorKind::Duplicate) error
    /// when another page comes back with exactly the same records, before
    /// that copy is handed out: the server ignored the page or offset asked
    /// for (a server whose pages start at 1 answering page 0 as page 1 is the
    /// usual case; see [`PageNumber::first_page`](crate::core::PageNumber::first_page)).
    /// Turn this on only for a collection whose records may repeat byte for
    /// byte over a whole page (records without an id, say).
    ///
    /// ```
    /// use pagewise::ListOptions;
    /// let opts = ListOptions::new("heartbeats").allow_repeated_pages(true);
    /// # let _ = opts;
    /// ```
    pub fn allow_repeated_pages(mut self, on: bool) -> Self {
        self.allow_repeated_pages = on;
        self
    }
    /// Pages asked for with `POST` and this JSON body instead of query
    /// parameters (GraphQL variables, search endpoints that page in the
    /// body). Every string value of the template that is exactly
    /// `"{offset}"`, `"{limit}"`, `"{page}"`, `"{cursor}"` or `"{value}"`
    /// (a keyset's last value) is replaced by that page's parameter: the
    /// numbers as JSON numbers, a cursor or keyset value as a string
    /// (`null` on the first page). The page-size is `"{limit}"` in every
    /// dialect. The dialect's own parameter must have its placeholder
    /// (`"{offset}"` for offset paging, `"{page}"`, `"{cursor}"`,
    /// `"{value}"`), or the sweep fails to start with a
    /// [`Config`](crate::ErrorKind::Config) error; a next-URL dialect
    /// needs none (the link is the URL). The request is a read: retried
    /// like any page. Records, cursors and totals are read from the answer
    /// as for `GET` pages.
    ///
    /// ```
    /// use pagewise::ListOptions;
    /// use serde_json::json;
    /// // GraphQL, with `Pagination::cursor(Link::pointer("/data/items/pageInfo/endCursor"))`:
    /// let graphql = ListOptions::new("graphql").body(json!({
    ///     "query": "query($first: Int, $after: String) { items(first: $first, after: $after) { ... } }",
    ///     "variables": { "first": "{limit}", "after": "{cursor}" }
    /// }));
    /// // A search endpoint paging with `{ from, size }` (offset paging):
    /// let search = ListOptions::new("_search").body(json!({
    ///     "query": { "match_all": {} }, "from": "{offset}", "size": "{limit}"
    /// }));
    /// # let _ = (graphql, search);
    /// ```
    pub fn body(mut self, template: serde_json::Value) -> Self {
        self.body = Some(template);
        self
    }
    /// The collection path.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// Checks a concurrency and a window against 0 and the maxima
/// ([`ListOptions::MAX_CONCURRENCY`], [`ListOptions::MAX_WINDOW`]): a Config
/// error names the option. Every sum and product of the two then fits in a
/// `usize`, on every target.
pub(crate) fn check_sizes(concurrency: usize, window: Option<usize>) -> crate::error::Result<()> {
    use crate::error::Error;
    if concurrency == 0 {
        return Err(Error::config("concurrency must be at least 1"));
    }
    if concurrency > ListOptions::MAX_CONCURRENCY {
        return Err(Error::config(format!(
            "concurrency {concurrency} is more than the maximum, {}",
            ListOptions::MAX_CONCURRENCY
        )));
    }
    match window {
        Some(0) => Err(Error::config("window must be at least 1")),
        Some(w) if w > ListOptions::MAX_WINDOW => Err(Error::config(format!(
            "window {w} is more than the maximum, {}",
            ListOptions::MAX_WINDOW
        ))),
        _ => Ok(()),
    }
}

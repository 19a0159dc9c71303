//! The list builder shared by every facade: the same options under the same
//! names, whatever client runs the sweep.

use std::time::Duration;

use std::sync::Arc;

use crate::core::{Checkpoint, ListOptions, Order, Progress, Watermark};
use crate::drive::ProgressFn;

/// A list operation being set up: `client.list("items")`, then options, then
/// a terminal call of the client's kind — `.iter()`, `.collect()`, `.pages()`
/// on a [`blocking::Client`](crate::blocking::Client); `.stream()`,
/// `.collect().await`, `.pages()` on an async [`Client`](crate::Client).
#[derive(Debug, Clone)]
#[must_use = "a list does nothing until a terminal call such as collect()"]
pub struct List<C> {
    pub(crate) client: C,
    pub(crate) options: ListOptions,
    pub(crate) progress: Option<ProgressFn>,
}

impl<C> List<C> {
    pub(crate) fn new(client: C, path: &str) -> Self {
        List {
            client,
            options: ListOptions::new(path),
            progress: None,
        }
    }

    /// Adds a query parameter (a filter, a field list, ...).
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options = self.options.query(name, value);
        self
    }
    /// Records per page (default: the API's).
    pub fn page_size(mut self, size: u64) -> Self {
        self.options = self.options.page_size(size);
        self
    }
    /// Pages in flight at once (default and maximum: the API's concurrency).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.options = self.options.concurrency(n);
        self
    }
    /// Finished pages that may wait for an earlier one in page order
    /// (default: the concurrency). Memory holds at most concurrency + window
    /// pages, twice that while a page waits out a retry delay (a server's
    /// `Retry-After`), so that one throttled page does not stop the sweep.
    pub fn window(mut self, pages: usize) -> Self {
        self.options = self.options.window(pages);
        self
    }
    /// Page order (default) or completion order.
    pub fn order(mut self, order: Order) -> Self {
        self.options = self.options.order(order);
        self
    }
    /// An overall deadline for the whole sweep.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.options = self.options.deadline(deadline);
        self
    }
    /// How failed requests are retried (default: the API's policy).
    pub fn retry(mut self, policy: crate::RetryPolicy) -> Self {
        self.options = self.options.retry(policy);
        self
    }
    /// Turns a sweep that ends with fewer (or more) records than the API's
    /// total into an [`ErrorKind::Incomplete`](crate::ErrorKind::Incomplete) error.
    pub fn verify(mut self, on: bool) -> Self {
        self.options = self.options.verify(on);
        self
    }
    /// Only the records changed since `watermark` (a delta sync). The
    /// report's `watermark` is where the next sync starts; ties at the
    /// watermark are handled as [`DeltaFilter`](crate::DeltaFilter) explains.
    pub fn since(mut self, watermark: Watermark) -> Self {
        self.options = self.options.since(watermark);
        self
    }
    /// The largest total accepted from the API (default a billion records):
    /// a larger one is an [`ErrorKind::Limit`](crate::ErrorKind::Limit)
    /// error. See [`ListOptions::max_total`].
    pub fn max_total(mut self, records: u64) -> Self {
        self.options = self.options.max_total(records);
        self
    }
    /// Accepts two pages answered with the same records (default off: an
    /// [`ErrorKind::Duplicate`](crate::ErrorKind::Duplicate) error). See
    /// [`ListOptions::allow_repeated_pages`].
    pub fn allow_repeated_pages(mut self, on: bool) -> Self {
        self.options = self.options.allow_repeated_pages(on);
        self
    }
    /// Continues from a checkpoint taken earlier (here or in another
    /// process, natively or in a browser): pages handed out before are not
    /// fetched again.
    pub fn resume(mut self, checkpoint: Checkpoint) -> Self {
        self.options = self.options.resume(checkpoint);
        self
    }
    /// Calls `f` after every page handed out and once at the end, with the
    /// pages, records, bytes, retries and throttling so far, and an ETA.
    /// The last call matches the final report.
    pub fn on_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(ProgressFn(Arc::new(f)));
        self
    }
    /// Replaces every option at once (the path too).
    pub fn options(mut self, options: ListOptions) -> Self {
        self.options = options;
        self
    }
    /// The options as set so far.
    pub fn current_options(&self) -> &ListOptions {
        &self.options
    }
}

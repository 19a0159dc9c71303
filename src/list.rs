//! The list operation shared by every facade: the builder (the same options
//! under the same names, whatever client runs the sweep) and what its
//! streams and iterators keep between calls.

use std::time::Duration;

use std::sync::Arc;

use crate::core::{
    Checkpoint, Event, FromJson, ListOptions, Order, Progress, RawPage, Report, Sweep, Watermark,
};
use crate::error::{Error, ErrorKind, Result};

/// One page of records of your type, as `.pages()` hands them out.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// Position of the page in the sweep's page order (0-based).
    pub index: u64,
    /// The URL it was fetched from (credentials removed).
    pub url: String,
    /// Its records.
    pub records: Vec<T>,
}

/// A list operation being set up: `client.list("items")`, then options, then
/// a terminal call of the client's kind — `.iter()`, `.collect()`, `.pages()`
/// on a [`blocking::Client`][blocking-client]; `.stream()`,
/// `.collect().await`, `.pages()` on an async [`Client`](crate::Client).
#[cfg_attr(not(target_arch = "wasm32"), doc = "")]
#[cfg_attr(
    not(target_arch = "wasm32"),
    doc = "[blocking-client]: crate::blocking::Client"
)]
#[cfg_attr(target_arch = "wasm32", doc = "")]
#[cfg_attr(
    target_arch = "wasm32",
    doc = "[blocking-client]: https://docs.rs/pagewise/latest/x86_64-unknown-linux-gnu/pagewise/blocking/struct.Client.html"
)]
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
    /// pages; while pages wait out a retry delay (a server's `Retry-After`),
    /// that again for each, up to
    /// [`MAX_RETRY_STRETCH`](crate::core::MAX_RETRY_STRETCH) times, so that
    /// throttled pages do not stop the sweep.
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
    /// Pages asked for with `POST` and this JSON body template, the page
    /// parameters written into its `"{offset}"`, `"{limit}"`, `"{page}"`,
    /// `"{cursor}"` or `"{value}"` strings. See [`ListOptions::body`].
    pub fn body(mut self, template: serde_json::Value) -> Self {
        self.options = self.options.body(template);
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

    /// The same list, to be run by `client` (the blocking facade runs its
    /// lists on the async client it wraps).
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub(crate) fn with_client<D>(self, client: D) -> List<D> {
        List {
            client,
            options: self.options,
            progress: self.progress,
        }
    }
}

/// Deserializes record `i` of `page` into `T`, naming the page and URL on failure.
/// Records are read from `&str` (the core checked the body's UTF-8 once):
/// serde_json then does not check each string's UTF-8 again.
pub(crate) fn decode_record<T: FromJson>(page: &RawPage, i: usize) -> Result<T> {
    if page.records.attachment().is_some() {
        // A transport that parsed the records itself left only their
        // indexes here (for the npm package's JavaScript side).
        return Err(Error::new(
            ErrorKind::Record,
            "the transport kept the page's records parsed on its side: read them from there",
        )
        .with_url(page.url.clone())
        .with_page(page.index));
    }
    let text = page.records.get_str(i).unwrap_or_default();
    T::from_checked_json(text).map_err(|(_, e)| {
        Error::new(
            ErrorKind::Record,
            format!("record {i} of the page does not fit the requested type: {e}"),
        )
        .with_url(page.url.clone())
        .with_page(page.index)
        .with_excerpt(text.as_bytes())
        .with_source_of(e.source())
    })
}

/// Deserializes every record of `page`.
pub(crate) fn decode_page<T: FromJson>(page: &RawPage) -> Result<Vec<T>> {
    (0..page.records.len())
        .map(|i| decode_record(page, i))
        .collect()
}

/// What a record or page iterator keeps between calls, the same for the
/// blocking `Iterator`s and the async `Stream`s.
#[derive(Default)]
pub(crate) struct Cursor {
    page: Option<RawPage>,
    next: usize,
    report: Option<Report>,
    done: bool,
    progress: Option<ProgressFn>,
    told: Option<(u64, bool)>,
    pages_taken: u64,
}

/// An `on_progress` callback.
#[derive(Clone)]
pub(crate) struct ProgressFn(pub(crate) Arc<dyn Fn(&Progress) + Send + Sync>);

impl std::fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressFn")
    }
}

impl Cursor {
    pub(crate) fn new(progress: Option<ProgressFn>) -> Self {
        Cursor {
            progress,
            ..Cursor::default()
        }
    }

    /// Calls the progress callback if a page was handed out or the sweep ended
    /// since it was last called.
    pub(crate) fn tick(&mut self, sweep: Option<&Sweep>) {
        let (Some(cb), Some(sweep)) = (&self.progress, sweep) else {
            return;
        };
        let state = (self.pages_taken, sweep.is_done());
        if self.told != Some(state) {
            self.told = Some(state);
            (cb.0)(&sweep.progress(web_time::Instant::now()));
        }
    }

    /// A checkpoint of `sweep` that counts the page being read as read only
    /// as far as the caller took records from it.
    pub(crate) fn checkpoint(&self, sweep: &Sweep) -> Checkpoint {
        match &self.page {
            Some(page) => sweep.checkpoint_with_partial(page, self.next),
            None => sweep.checkpoint(),
        }
    }

    /// The next record of the page being read, if any is left.
    pub(crate) fn next_record<T: FromJson>(&mut self) -> Option<Result<T>> {
        let page = self.page.as_ref()?;
        if self.next >= page.records.len() {
            self.page = None;
            return None;
        }
        let r = decode_record(page, self.next);
        self.next += 1;
        if r.is_err() {
            // A record that does not fit ends the iteration: nothing is skipped silently.
            self.done = true;
            self.page = None;
        }
        Some(r)
    }

    /// Whether the iteration has ended (after `next_record` ran dry).
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// Takes the driver's next event for a record iterator: a page to read,
    /// the end, or an error to hand out.
    pub(crate) fn absorb(&mut self, event: Option<Event>) -> Option<Error> {
        match event {
            None => self.done = true,
            Some(Event::Page(p)) => {
                self.pages_taken += 1;
                self.page = Some(p);
                self.next = 0;
            }
            Some(Event::Finished(r)) => {
                self.report = Some(r);
                self.done = true;
            }
            Some(Event::Failed(e)) => {
                self.done = true;
                return Some(e);
            }
            Some(_) => {}
        }
        None
    }

    /// Takes the driver's next event for a raw page iterator.
    pub(crate) fn absorb_raw(&mut self, event: Option<Event>) -> Option<Result<RawPage>> {
        match event {
            Some(Event::Page(p)) => {
                self.pages_taken += 1;
                Some(Ok(p))
            }
            other => self.absorb(other).map(Err),
        }
    }

    /// Takes the driver's next event for a page iterator.
    pub(crate) fn absorb_page<T: FromJson>(
        &mut self,
        event: Option<Event>,
    ) -> Option<Result<Page<T>>> {
        match event {
            Some(Event::Page(p)) => {
                self.pages_taken += 1;
                let page = decode_page(&p).map(|records| Page {
                    index: p.index,
                    url: p.url,
                    records,
                });
                self.done = page.is_err();
                Some(page)
            }
            other => self.absorb(other).map(Err),
        }
    }

    /// The final report, once the sweep finished.
    pub(crate) fn report(&self) -> Option<&Report> {
        self.report.as_ref()
    }
}

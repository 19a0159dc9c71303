//! The blocking client: plain values and `Iterator`s, requests on reusable
//! threads bounded by the `Api`'s shared limiter.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::api::Api;
use crate::core::{Event, Fetch, ListOptions, Method, Order, RawPage, Report};
use crate::drive::blocking::{run_fetch, BlockingSweep};
use crate::drive::{decode_page, decode_record};
use crate::error::Result;
use crate::transport::ureq::UreqTransport;
use crate::Page;

/// A blocking client of one [`Api`]. Cheap to clone; clones share the
/// connection pool and the `Api`'s concurrency limit.
///
/// ```no_run
/// use pagewise::{Api, Pagination, Total};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Item { id: u64 }
///
/// let api = Api::builder("https://api.example/v1/")
///     .records_at("/data")
///     .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
///     .concurrency(16)
///     .build()?;
/// let client = api.blocking();
/// for item in client.list("items").page_size(500).iter::<Item>() {
///     let item = item?;
///     println!("{}", item.id);
/// }
/// let one: Item = client.get("items/42")?;
/// # Ok::<(), pagewise::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    api: Api,
    transport: Arc<UreqTransport>,
}

impl Client {
    /// A client of `api` with the default ureq transport.
    pub fn new(api: &Api) -> Self {
        Self::with_transport(api, UreqTransport::new())
    }

    /// A client of `api` over a transport you configured.
    pub fn with_transport(api: &Api, transport: UreqTransport) -> Self {
        Client {
            api: api.clone(),
            transport: Arc::new(transport),
        }
    }

    /// The API this client talks to.
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// `GET path` (relative to the base URL) and deserialize the JSON body:
    /// into your type, or `serde_json::Value`.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.get_with_query(path, &[])
    }

    /// `GET path?query` and deserialize the JSON body.
    pub fn get_with_query<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T> {
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut fetch = Fetch::new(self.api.spec(), Method::Get, path, &query, None)?;
        let resp = run_fetch(&self.api, &self.transport, &mut fetch)?;
        fetch.decode(&resp)
    }

    /// Every record of the collection at `path`: set options on the returned
    /// [`List`], then take `.iter()`, `.collect()` or `.pages()`.
    pub fn list(&self, path: &str) -> List<'_> {
        List {
            client: self,
            options: ListOptions::new(path),
        }
    }
}

/// A list operation being set up; see [`Client::list`].
#[derive(Debug, Clone)]
#[must_use = "a list does nothing until you call iter(), collect() or pages()"]
pub struct List<'c> {
    client: &'c Client,
    options: ListOptions,
}

impl List<'_> {
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
    /// Finished pages that may wait for an earlier one in page order.
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
    /// All options at once.
    pub fn options(mut self, options: ListOptions) -> Self {
        self.options = options;
        self
    }

    /// A streaming iterator over the records: memory holds at most
    /// concurrency + window pages. After an `Err` it yields nothing more.
    pub fn iter<T: DeserializeOwned>(self) -> ListIter<T> {
        ListIter {
            driver: BlockingSweep::new(
                &self.client.api,
                self.client.transport.clone(),
                self.options,
            ),
            page: None,
            next: 0,
            report: None,
            done: false,
            _t: PhantomData,
        }
    }

    /// Every record, in one `Vec`.
    pub fn collect<T: DeserializeOwned>(self) -> Result<Vec<T>> {
        self.collect_with_report().map(|(v, _)| v)
    }

    /// Every record and the sweep's report.
    pub fn collect_with_report<T: DeserializeOwned>(self) -> Result<(Vec<T>, Report)> {
        let mut it = self.iter::<T>();
        let mut out = Vec::new();
        for r in &mut it {
            out.push(r?);
        }
        let report = it.report().cloned().unwrap_or_default();
        Ok((out, report))
    }

    /// A streaming iterator over whole pages.
    pub fn pages<T: DeserializeOwned>(self) -> PageIter<T> {
        PageIter {
            driver: BlockingSweep::new(
                &self.client.api,
                self.client.transport.clone(),
                self.options,
            ),
            report: None,
            done: false,
            _t: PhantomData,
        }
    }
}

/// Records of a sweep, one at a time; see [`List::iter`]. Dropping it stops
/// the sweep: no request starts afterwards.
pub struct ListIter<T> {
    driver: BlockingSweep,
    page: Option<RawPage>,
    next: usize,
    report: Option<Report>,
    done: bool,
    _t: PhantomData<fn() -> T>,
}

impl<T> ListIter<T> {
    /// The final report, once the iterator has returned `None`.
    pub fn report(&self) -> Option<&Report> {
        self.report.as_ref()
    }

    /// Pages held in memory by the sweep right now (excluding the one being read).
    pub fn buffered_pages(&self) -> usize {
        self.driver.sweep().map_or(0, |s| s.buffered_pages())
    }

    /// The report so far, while the sweep runs.
    pub fn progress(&self) -> Option<&Report> {
        self.driver.sweep().map(|s| s.report())
    }
}

impl<T: DeserializeOwned> Iterator for ListIter<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        loop {
            if let Some(page) = &self.page {
                if self.next < page.records.len() {
                    let i = self.next;
                    self.next += 1;
                    let r = decode_record(page, i);
                    if r.is_err() {
                        self.done = true;
                        self.page = None;
                    }
                    return Some(r);
                }
                self.page = None;
            }
            if self.done {
                return None;
            }
            match self.driver.next_event()? {
                Event::Page(p) => {
                    self.page = Some(p);
                    self.next = 0;
                }
                Event::Finished(r) => {
                    self.report = Some(r);
                    self.done = true;
                }
                Event::Failed(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
                _ => {}
            }
        }
    }
}

/// Pages of a sweep; see [`List::pages`].
pub struct PageIter<T> {
    driver: BlockingSweep,
    report: Option<Report>,
    done: bool,
    _t: PhantomData<fn() -> T>,
}

impl<T> PageIter<T> {
    /// The final report, once the iterator has returned `None`.
    pub fn report(&self) -> Option<&Report> {
        self.report.as_ref()
    }
}

impl<T: DeserializeOwned> Iterator for PageIter<T> {
    type Item = Result<Page<T>>;

    fn next(&mut self) -> Option<Result<Page<T>>> {
        while !self.done {
            match self.driver.next_event()? {
                Event::Page(p) => {
                    let page = decode_page(&p).map(|records| Page {
                        index: p.index,
                        url: p.url,
                        records,
                    });
                    self.done = page.is_err();
                    return Some(page);
                }
                Event::Finished(r) => {
                    self.report = Some(r);
                    self.done = true;
                }
                Event::Failed(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
                _ => {}
            }
        }
        None
    }
}

//! The blocking client: plain values and `Iterator`s, requests on reusable
//! threads bounded by the `Api`'s shared limiter.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::core::FromJson;
use crate::core::ToJson;

use crate::api::Api;
use crate::core::{Checkpoint, Fetch, Method, RawPage, Report};
use crate::core::{FetchMany, ManyCheckpoint, ManyReport, Sweep, WriteJob, WriteOp};
use crate::drive::asynch::AsyncDriver;
use crate::drive::blocking::NativeTransport;
use crate::drive::blocking::{self as driver, run_fetch, Driver};
use crate::drive::offload::Offloaded;
use crate::drive::{Cursor, Machine};
use crate::error::Result;
use crate::list::List;
use crate::many::{
    decode_item, FetchManyJob, ManyCursor, ManyDrive, ManyMachine, Step, WriteManyJob, WriteOutcome,
};
use crate::transport::evloop::EvloopTransport;
use crate::transport::ureq::UreqTransport;
use crate::transport::AsyncTransport;
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
    transport: NativeTransport,
}

impl Client {
    /// A client of `api` with the default transport: the event loop
    /// ([`EvloopTransport`]: one I/O thread for every request in flight). When
    /// a proxy is set in the environment (`HTTPS_PROXY`, `HTTP_PROXY`,
    /// `ALL_PROXY`), ureq instead ([`UreqTransport`]), which honours it.
    pub fn new(api: &Api) -> Self {
        if crate::transport::evloop::proxy_in_env() {
            Self::with_transport(api, UreqTransport::new())
        } else {
            Self::with_evloop(api, EvloopTransport::new())
        }
    }

    /// A client of `api` over a ureq transport you configured (proxy, TLS,
    /// ...): each request in flight runs on a pool thread.
    pub fn with_transport(api: &Api, transport: UreqTransport) -> Self {
        Client {
            api: api.clone(),
            transport: NativeTransport::Ureq(Arc::new(transport)),
        }
    }

    /// A client of `api` over an event-loop transport you configured (e.g.
    /// [`EvloopTransport::with_root_certificates`]).
    pub fn with_evloop(api: &Api, transport: EvloopTransport) -> Self {
        Client {
            api: api.clone(),
            transport: NativeTransport::Evloop(transport),
        }
    }

    /// The API this client talks to.
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// `GET path` (relative to the base URL) and deserialize the JSON body:
    /// into your type, `serde_json::Value`, or [`JsonText`](crate::JsonText) for the text itself.
    pub fn get<T: FromJson>(&self, path: &str) -> Result<T> {
        self.get_with_query(path, &[])
    }

    /// `GET path?query` and deserialize the JSON body.
    pub fn get_with_query<T: FromJson>(&self, path: &str, query: &[(&str, &str)]) -> Result<T> {
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let fetch = Fetch::new(self.api.spec(), Method::Get, path, &query, None)?
            .with_retry(self.api.spec().retry().clone(), crate::drive::random_seed());
        let url = fetch.url();
        let resp = run_fetch(&self.api, &self.transport, fetch)?;
        crate::core::decode_json(&resp, &url)
    }

    /// Fetches the record of every id, one `GET` per id from `template` (a
    /// path with `{id}`, e.g. `items/{id}`), or several ids per request with
    /// `.batch(..)`. Each id gets its own result; a missing record is that
    /// id's 404, not the end of the job.
    pub fn fetch_many<I, S>(&self, template: &str, ids: I) -> FetchManyJob<&Client>
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        FetchManyJob::new(
            self,
            template,
            ids.into_iter().map(|s| s.to_string()).collect(),
        )
    }

    /// Creates records (`POST path`, or a batch endpoint): one outcome per record.
    pub fn insert_many<R: ToJson>(
        &self,
        path: &str,
        records: impl IntoIterator<Item = R>,
    ) -> WriteManyJob<&Client> {
        WriteManyJob::new(self, WriteOp::Insert, path, records)
    }

    /// Changes records (`PATCH path/{id}`, or a batch endpoint).
    pub fn update_many<R: ToJson>(
        &self,
        path: &str,
        records: impl IntoIterator<Item = R>,
    ) -> WriteManyJob<&Client> {
        WriteManyJob::new(self, WriteOp::Update, path, records)
    }

    /// Creates or replaces records (`PUT path/{id}`, or a batch endpoint).
    pub fn upsert_many<R: ToJson>(
        &self,
        path: &str,
        records: impl IntoIterator<Item = R>,
    ) -> WriteManyJob<&Client> {
        WriteManyJob::new(self, WriteOp::Upsert, path, records)
    }

    /// Deletes records (`DELETE path/{id}`, or a batch endpoint); records may be bare ids.
    pub fn delete_many<R: ToJson>(
        &self,
        path: &str,
        records: impl IntoIterator<Item = R>,
    ) -> WriteManyJob<&Client> {
        WriteManyJob::new(self, WriteOp::Delete, path, records)
    }

    /// Every record of the collection at `path`: set options on the returned
    /// [`List`], then take `.iter()`, `.collect()` or `.pages()`.
    pub fn list(&self, path: &str) -> List<&Client> {
        List::new(self, path)
    }
}

impl List<&Client> {
    /// A streaming iterator over the records: memory holds at most
    /// concurrency + window pages (twice that while a page waits out a retry
    /// delay, such as a server's `Retry-After`). After an `Err` it yields
    /// nothing more.
    pub fn iter<T: FromJson>(self) -> ListIter<T> {
        ListIter {
            driver: driver::sweep(
                &self.client.api,
                self.client.transport.clone(),
                self.options,
            ),
            cursor: Cursor::new(self.progress),
            _t: PhantomData,
        }
    }

    /// Every record, in one `Vec`.
    pub fn collect<T: FromJson>(self) -> Result<Vec<T>> {
        self.collect_with_report().map(|(v, _)| v)
    }

    /// Every record and the sweep's report.
    pub fn collect_with_report<T: FromJson>(self) -> Result<(Vec<T>, Report)> {
        let mut it = self.iter::<T>();
        let mut out = Vec::new();
        for r in &mut it {
            out.push(r?);
        }
        let report = it.report().cloned().unwrap_or_default();
        Ok((out, report))
    }

    /// A streaming iterator over whole pages.
    pub fn pages<T: FromJson>(self) -> PageIter<T> {
        PageIter {
            driver: driver::sweep(
                &self.client.api,
                self.client.transport.clone(),
                self.options,
            ),
            cursor: Cursor::new(self.progress),
            _t: PhantomData,
        }
    }
}

impl List<&Client> {
    /// An iterator over pages whose records are left as JSON text: nothing
    /// is deserialized, for passing records on as they are.
    pub fn raw_pages(self) -> RawPageIter {
        RawPageIter {
            driver: driver::sweep(
                &self.client.api,
                self.client.transport.clone(),
                self.options,
            ),
            cursor: Cursor::new(self.progress),
        }
    }
}

/// Pages of JSON text; see [`List::raw_pages`](List#method.raw_pages).
pub struct RawPageIter {
    driver: Driver<Sweep>,
    cursor: Cursor,
}

impl RawPageIter {
    /// The final report, once the iterator has returned `None`.
    pub fn report(&self) -> Option<&Report> {
        self.cursor.report()
    }

    /// Where the sweep is now, to resume it later with `.resume(checkpoint)`
    /// (here or in another process). Records already taken from this
    /// iterator are not handed out again; `None` if the sweep could not start.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        self.driver.machine().map(|s| self.cursor.checkpoint(s))
    }
}

impl Iterator for RawPageIter {
    type Item = Result<RawPage>;

    fn next(&mut self) -> Option<Result<RawPage>> {
        while !self.cursor.is_done() {
            let taken = self.cursor.absorb_raw(self.driver.next_event());
            self.cursor.tick(self.driver.machine());
            if let Some(p) = taken {
                return Some(p);
            }
        }
        None
    }
}

/// Records of a sweep, one at a time; see [`List::iter`](List#method.iter).
/// Dropping it stops the sweep: no request starts afterwards.
pub struct ListIter<T> {
    driver: Driver<Sweep>,
    cursor: Cursor,
    _t: PhantomData<fn() -> T>,
}

impl<T> ListIter<T> {
    /// The final report, once the iterator has returned `None`.
    pub fn report(&self) -> Option<&Report> {
        self.cursor.report()
    }

    /// Where the sweep is now, to resume it later with `.resume(checkpoint)`
    /// (here or in another process). Records already taken from this
    /// iterator are not handed out again; `None` if the sweep could not start.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        self.driver.machine().map(|s| self.cursor.checkpoint(s))
    }

    /// Pages held in memory by the sweep right now (excluding the one being read).
    pub fn buffered_pages(&self) -> usize {
        self.driver.machine().map_or(0, |s| s.buffered_pages())
    }

    /// The report so far, while the sweep runs.
    pub fn progress(&self) -> Option<&Report> {
        self.driver.machine().map(|s| s.report())
    }
}

impl<T: FromJson> Iterator for ListIter<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        loop {
            if let Some(r) = self.cursor.next_record() {
                return Some(r);
            }
            if self.cursor.is_done() {
                return None;
            }
            let failed = self.cursor.absorb(self.driver.next_event());
            self.cursor.tick(self.driver.machine());
            if let Some(e) = failed {
                return Some(Err(e));
            }
        }
    }
}

/// Pages of a sweep; see [`List::pages`](List#method.pages).
pub struct PageIter<T> {
    driver: Driver<Sweep>,
    cursor: Cursor,
    _t: PhantomData<fn() -> T>,
}

impl<T> PageIter<T> {
    /// The final report, once the iterator has returned `None`.
    pub fn report(&self) -> Option<&Report> {
        self.cursor.report()
    }

    /// Where the sweep is now, to resume it later with `.resume(checkpoint)`
    /// (here or in another process). Records already taken from this
    /// iterator are not handed out again; `None` if the sweep could not start.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        self.driver.machine().map(|s| self.cursor.checkpoint(s))
    }
}

impl<T: FromJson> Iterator for PageIter<T> {
    type Item = Result<Page<T>>;

    fn next(&mut self) -> Option<Result<Page<T>>> {
        while !self.cursor.is_done() {
            let taken = self.cursor.absorb_page(self.driver.next_event());
            self.cursor.tick(self.driver.machine());
            if let Some(p) = taken {
                return Some(p);
            }
        }
        None
    }
}

impl FetchManyJob<&Client> {
    /// The results as they come: `(id, record or error)`, in input order by default.
    pub fn iter<T: FromJson>(self) -> FetchManyIter<T> {
        let machine = self.machine(self.client.api.spec(), crate::drive::random_seed());
        FetchManyIter {
            driver: ManyDriver::new(&self.client.api, &self.client.transport, machine),
            cursor: ManyCursor::new(self.progress),
            _t: PhantomData,
        }
    }

    /// Every result. The outer error is for a job that could not start (a
    /// bad template, say); each id's own failure is in its result.
    pub fn collect<T: FromJson>(self) -> Result<Vec<(String, Result<T>)>> {
        let mut out = Vec::new();
        let mut it = self.iter::<T>();
        while let Some(item) = it.next_item() {
            out.push(item?);
        }
        Ok(out)
    }
}

/// Drives a many-items job: over the event loop, on the loop's own thread
/// (an answer and the next request cross no thread); over ureq, here.
enum ManyDriver<M: Machine> {
    Here(Driver<M>),
    Loop(Offloaded<M>),
}

impl<M> ManyDriver<M>
where
    M: Machine + Send + 'static,
    M::Event: Send + 'static,
{
    fn new(api: &Api, transport: &NativeTransport, machine: Result<M>) -> Self {
        match transport {
            NativeTransport::Evloop(t) => {
                let t: Arc<dyn AsyncTransport> = Arc::new(t.clone());
                ManyDriver::Loop(Offloaded::start(AsyncDriver::new(api, t, machine)))
            }
            NativeTransport::Ureq(_) => {
                ManyDriver::Here(Driver::new(api, transport.clone(), machine))
            }
        }
    }
}

impl<M: Machine> ManyDriver<M> {
    fn next_event(&mut self) -> Option<M::Event> {
        match self {
            ManyDriver::Here(d) => d.next_event(),
            ManyDriver::Loop(o) => o.next_event_blocking(),
        }
    }
}

impl<M: ManyMachine> ManyDrive<M> for ManyDriver<M> {
    fn with_machine_held<R>(&self, f: impl FnOnce(Option<&M>, &[usize]) -> R) -> R {
        match self {
            ManyDriver::Here(d) => f(d.machine(), &[]),
            ManyDriver::Loop(o) => o.with_machine_held(f),
        }
    }
}

/// The results of a `fetch_many` job; see [`FetchManyJob::iter`](FetchManyJob#method.iter).
pub struct FetchManyIter<T> {
    driver: ManyDriver<FetchMany>,
    cursor: ManyCursor,
    _t: PhantomData<fn() -> T>,
}

impl<T: FromJson> FetchManyIter<T> {
    fn next_item(&mut self) -> Option<Result<(String, Result<T>)>> {
        loop {
            if self.cursor.done {
                return None;
            }
            let event = self.driver.next_event();
            let step = self.cursor.step(event);
            let driver = &self.driver;
            self.cursor.tick(|| driver.progress());
            match step {
                Step::Item(i, r) => {
                    let id = self
                        .driver
                        .with_machine(|m| m.map(|m| m.id(i).to_string()))
                        .unwrap_or_default();
                    let r = r.and_then(|bytes| decode_item(&id, bytes));
                    return Some(Ok((id, r)));
                }
                Step::Failed(e) => return Some(Err(e)),
                Step::Continue => {}
                Step::End => return None,
            }
        }
    }

    /// The job's report, once the iterator has ended.
    pub fn report(&self) -> Option<&ManyReport> {
        self.cursor.report.as_ref()
    }

    /// Which ids are done, to resume the job later with `.resume(checkpoint)`.
    pub fn checkpoint(&self) -> Option<ManyCheckpoint> {
        self.driver.checkpoint()
    }
}

impl<T: FromJson> Iterator for FetchManyIter<T> {
    type Item = (String, Result<T>);

    fn next(&mut self) -> Option<(String, Result<T>)> {
        match self.next_item()? {
            Ok(item) => Some(item),
            Err(e) => Some((String::new(), Err(e))),
        }
    }
}

impl WriteManyJob<&Client> {
    /// The outcomes as they come, in input order by default.
    pub fn iter(self) -> WriteIter {
        let machine = self.machine(self.client.api.spec(), crate::drive::random_seed());
        WriteIter {
            driver: ManyDriver::new(&self.client.api, &self.client.transport, machine),
            cursor: ManyCursor::new(self.progress),
        }
    }

    /// Runs the job: one outcome per record, in input order. The outer error
    /// is for a job that could not start (a record that does not serialize).
    pub fn run(self) -> Result<Vec<WriteOutcome>> {
        self.run_with_report().map(|(v, _)| v)
    }

    /// Runs the job and returns its report too.
    pub fn run_with_report(self) -> Result<(Vec<WriteOutcome>, ManyReport)> {
        let mut it = self.iter();
        let mut out = Vec::new();
        while let Some(o) = it.next_outcome() {
            out.push(o?);
        }
        out.sort_by_key(|o| o.index);
        Ok((out, it.cursor.report.take().unwrap_or_default()))
    }
}

/// The outcomes of a write job; see [`WriteManyJob::iter`](WriteManyJob#method.iter).
pub struct WriteIter {
    driver: ManyDriver<WriteJob>,
    cursor: ManyCursor,
}

impl WriteIter {
    fn next_outcome(&mut self) -> Option<Result<WriteOutcome>> {
        loop {
            if self.cursor.done {
                return None;
            }
            let event = self.driver.next_event();
            let step = self.cursor.step(event);
            let driver = &self.driver;
            self.cursor.tick(|| driver.progress());
            match step {
                Step::Item(index, result) => return Some(Ok(WriteOutcome { index, result })),
                Step::Failed(e) => return Some(Err(e)),
                Step::Continue => {}
                Step::End => return None,
            }
        }
    }

    /// The job's report, once the iterator has ended.
    pub fn report(&self) -> Option<&ManyReport> {
        self.cursor.report.as_ref()
    }

    /// Which records are done, to resume the job later with `.resume(checkpoint)`.
    pub fn checkpoint(&self) -> Option<ManyCheckpoint> {
        self.driver.checkpoint()
    }
}

impl Iterator for WriteIter {
    type Item = Result<WriteOutcome>;

    fn next(&mut self) -> Option<Result<WriteOutcome>> {
        self.next_outcome()
    }
}

//! The async client: `Future`s and `Stream`s on any executor.

use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::core::FromJson;
use crate::core::ToJson;
use futures::{ready, Stream};

use web_time::Instant;

use crate::api::Api;
use crate::core::{Checkpoint, Fetch, Method, RawPage, Report};
use crate::core::{FetchMany, ManyCheckpoint, ManyProgress, ManyReport, Sweep, WriteJob, WriteOp};
use crate::drive::asynch::{run_fetch, AsyncDriver};
use crate::drive::{next_serial, random_seed};
use crate::error::Result;
use crate::list::{Cursor, List, Page};
use crate::many::{
    decode_item, FetchManyJob, ManyCursor, ManyMachine, Step, WriteManyJob, WriteOutcome,
};
use crate::transport::AsyncTransport;

/// An async client of one [`Api`], usable on any executor (tokio, smol,
/// async-std, `futures::executor`, a GUI event loop, the browser). It has the
/// same operations, under the same names and options, as
/// [`blocking::Client`][blocking-client], and shares the `Api`'s
/// concurrency limit with every other client of it.
///
/// ```no_run
/// use futures::StreamExt;
/// use pagewise::{Api, Pagination, Total};
///
/// # async fn run() -> Result<(), pagewise::Error> {
/// let api = Api::builder("https://api.example/v1/")
///     .records_at("/data")
///     .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
///     .build()?;
/// let client = pagewise::Client::new(&api);
/// let mut records = client.list("items").stream::<serde_json::Value>();
/// while let Some(record) = records.next().await {
///     println!("{}", record?["id"]);
/// }
/// # Ok(()) }
/// ```
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
#[derive(Clone)]
pub struct Client {
    api: Api,
    transport: Arc<dyn AsyncTransport>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of `api` with the default transport: natively
    /// [`UreqTransport`](crate::transport::UreqTransport) on as many worker
    /// threads as the `Api`'s concurrency, one per `Api` (every client made
    /// with `new`, blocking or async, shares its connections). Proxies set
    /// in the environment are honoured. Needs the Cargo feature `ureq` (on
    /// by default); without it use [`Client::with_transport`].
    #[cfg(all(not(target_arch = "wasm32"), feature = "ureq"))]
    pub fn new(api: &Api) -> Self {
        Self::with_transport(api, api.default_transport())
    }

    /// A client of `api` with the default transport on wasm32,
    /// [`FetchTransport`](crate::transport::fetch::FetchTransport): the
    /// global `fetch` (browsers, Web Workers, Node).
    #[cfg(target_arch = "wasm32")]
    pub fn new(api: &Api) -> Self {
        Self::with_transport(api, crate::transport::fetch::FetchTransport::new())
    }

    /// A client of `api` over your own transport.
    pub fn with_transport(api: &Api, transport: impl AsyncTransport) -> Self {
        Client {
            api: api.clone(),
            transport: Arc::new(transport),
        }
    }

    /// A driver of `machine` over this client's transport and its `Api`'s
    /// shared limiter and pacer.
    fn drive<M: crate::drive::Machine>(&self, machine: Result<M>) -> AsyncDriver<M> {
        AsyncDriver::new(self.api.handles(), self.transport.clone(), machine)
    }

    /// A driver of a sweep with `options`.
    fn sweep(&self, mut options: crate::core::ListOptions) -> AsyncDriver<Sweep> {
        if options.seed.is_none() {
            options = options.seed(random_seed());
        }
        self.drive(
            Sweep::new(self.api.spec(), options, Instant::now())
                .map(|s| s.with_serial(next_serial())),
        )
    }

    /// The API this client talks to.
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// `GET path` (relative to the base URL) and deserialize the JSON body
    /// (into any `Deserialize` type, or [`JsonText`](crate::JsonText) for the text itself).
    pub async fn get<T: FromJson>(&self, path: &str) -> Result<T> {
        self.get_with_query(path, &[]).await
    }

    /// `GET path?query` and deserialize the JSON body.
    pub async fn get_with_query<T: FromJson>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T> {
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let fetch = Fetch::new(self.api.spec(), Method::Get, path, &query, None)?
            .with_retry(self.api.spec().retry().clone(), random_seed());
        let url = fetch.url();
        let resp = run_fetch(self.api.handles(), &self.transport, fetch).await?;
        crate::core::decode_json(&resp, &url)
    }

    /// Fetches the record of every id, one `GET` per id from `template` (a
    /// path with `{id}`), or several ids per request with `.batch(..)`. Each
    /// id gets its own result; a missing record is that id's 404.
    ///
    /// The ids are read as the job goes (memory bounded by the job's
    /// window, not by their number): any `IntoIterator`, such as the ids of
    /// a `list` stream's records.
    pub fn fetch_many<'i, I, S>(&self, template: &str, ids: I) -> FetchManyJob<'i, &Client>
    where
        I: IntoIterator<Item = S>,
        I::IntoIter: Send + 'i,
        S: ToString,
    {
        FetchManyJob::new(
            self,
            template,
            crate::many::Source::new(ids.into_iter().map(|s| Ok(s.to_string()))),
        )
    }

    /// Creates records (`POST path`, or a batch endpoint): one outcome per record.
    pub fn insert_many<'i, I>(&self, path: &str, records: I) -> WriteManyJob<'i, &Client>
    where
        I: IntoIterator,
        I::Item: ToJson,
        I::IntoIter: Send + 'i,
    {
        WriteManyJob::new(self, WriteOp::Insert, path, records)
    }

    /// Changes records (`PATCH path/{id}`, or a batch endpoint).
    pub fn update_many<'i, I>(&self, path: &str, records: I) -> WriteManyJob<'i, &Client>
    where
        I: IntoIterator,
        I::Item: ToJson,
        I::IntoIter: Send + 'i,
    {
        WriteManyJob::new(self, WriteOp::Update, path, records)
    }

    /// Creates or replaces records (`PUT path/{id}`, or a batch endpoint).
    pub fn upsert_many<'i, I>(&self, path: &str, records: I) -> WriteManyJob<'i, &Client>
    where
        I: IntoIterator,
        I::Item: ToJson,
        I::IntoIter: Send + 'i,
    {
        WriteManyJob::new(self, WriteOp::Upsert, path, records)
    }

    /// Deletes records (`DELETE path/{id}`, or a batch endpoint); records may be bare ids.
    pub fn delete_many<'i, I>(&self, path: &str, records: I) -> WriteManyJob<'i, &Client>
    where
        I: IntoIterator,
        I::Item: ToJson,
        I::IntoIter: Send + 'i,
    {
        WriteManyJob::new(self, WriteOp::Delete, path, records)
    }

    /// Creates one record: `POST path` with `record` as the body, with an
    /// `Idempotency-Key` and the retries of the write jobs; the server's
    /// answer decoded as `T` (`serde_json::Value`, your type, [`JsonText`](crate::JsonText),
    /// or `()`; an empty answer reads as `null`). An error of kind
    /// [`OutcomeUnknown`](crate::ErrorKind::OutcomeUnknown) means the record
    /// may have been created: look before sending it again.
    ///
    /// ```no_run
    /// # async fn run(client: pagewise::Client) -> pagewise::Result<()> {
    /// let created: serde_json::Value = client.create("items", serde_json::json!({"name": "a"})).await?;
    /// # Ok(()) }
    /// ```
    pub async fn create<T: FromJson>(&self, path: &str, record: impl ToJson) -> Result<T> {
        self.write_one(WriteOp::Insert, path, Some(record.to_json()))
            .await
    }

    /// Changes one record: `PATCH path` with `record` as the body. A path
    /// with `{id}` (`items/{id}`) takes the record's `id` field in its
    /// place; another path is the record's own URL (`items/7`). Retries,
    /// idempotency and errors as [`create`](Self::create).
    pub async fn update<T: FromJson>(&self, path: &str, record: impl ToJson) -> Result<T> {
        self.write_one(WriteOp::Update, path, Some(record.to_json()))
            .await
    }

    /// Deletes one record: `DELETE path` (`items/7`). Retries and errors as
    /// [`create`](Self::create); the answer as `T` (`()` for `204 No Content`).
    pub async fn delete<T: FromJson>(&self, path: &str) -> Result<T> {
        self.write_one(WriteOp::Delete, path, None).await
    }

    async fn write_one<T: FromJson>(
        &self,
        op: WriteOp,
        path: &str,
        record: Option<std::result::Result<crate::core::JsonText, String>>,
    ) -> Result<T> {
        let record = record.map(|r| {
            r.map_err(|e| {
                crate::Error::config(format!("the record does not serialize to JSON: {e}"))
            })
        });
        let (options, records) = crate::many::single_write(op, path, record, random_seed())?;
        let machine = WriteJob::new(self.api.spec(), records, options, Instant::now());
        let mut driver = self.drive(machine);
        loop {
            match futures::future::poll_fn(|cx| driver.poll_event(cx)).await {
                Some(crate::core::ManyEvent::Item(e)) => {
                    return crate::many::single_answer(e.result?, path)
                }
                Some(_) => {}
                None => {
                    return Err(crate::Error::new(
                        crate::ErrorKind::Transport,
                        "internal error: a single write ended without an outcome",
                    ))
                }
            }
        }
    }

    /// Every record of the collection at `path`: set options on the returned
    /// [`List`], then take `.stream()`, `.collect().await` or `.pages()`.
    pub fn list(&self, path: &str) -> List<&Client> {
        List::new(self, path)
    }
}

impl List<&Client> {
    /// A stream of the records: memory holds at most concurrency + window
    /// pages (while pages wait out a retry delay, such as a server's
    /// `Retry-After`, that again for each, up to
    /// [`MAX_RETRY_STRETCH`](crate::core::MAX_RETRY_STRETCH) times). After an `Err` it yields nothing more.
    /// Dropping it cancels the sweep: no request starts afterwards.
    pub fn stream<T: FromJson>(self) -> RecordStream<T> {
        RecordStream {
            driver: self.client.sweep(self.options),
            cursor: Cursor::new(self.progress),
            _t: PhantomData,
        }
    }

    /// Every record, in one `Vec`.
    pub async fn collect<T: FromJson>(self) -> Result<Vec<T>> {
        self.collect_with_report().await.map(|(v, _)| v)
    }

    /// Every record and the sweep's report.
    pub async fn collect_with_report<T: FromJson>(self) -> Result<(Vec<T>, Report)> {
        use futures::StreamExt;
        let mut stream = self.stream::<T>();
        let mut out = Vec::new();
        while let Some(r) = stream.next().await {
            out.push(r?);
        }
        let report = stream.report().cloned().unwrap_or_default();
        Ok((out, report))
    }

    /// A stream of whole pages.
    pub fn pages<T: FromJson>(self) -> PageStream<T> {
        PageStream {
            driver: self.client.sweep(self.options),
            cursor: Cursor::new(self.progress),
            _t: PhantomData,
        }
    }
}

impl List<&Client> {
    /// A stream of pages whose records are left as JSON text: nothing is
    /// deserialized, for passing records on as they are.
    pub fn raw_pages(self) -> RawPageStream {
        RawPageStream {
            driver: self.client.sweep(self.options),
            cursor: Cursor::new(self.progress),
        }
    }
}

/// Pages of JSON text as a [`Stream`]; see [`List::raw_pages`](List#method.raw_pages).
pub struct RawPageStream {
    driver: AsyncDriver<Sweep>,
    cursor: Cursor,
}

impl RawPageStream {
    /// The final report, once the stream has ended.
    pub fn report(&self) -> Option<&Report> {
        self.cursor.report()
    }

    /// Where the sweep is now, to resume it later with `.resume(checkpoint)`
    /// (here or in another process). Records already taken from this
    /// iterator are not handed out again; `None` if the sweep could not start.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        self.driver.machine().map(|s| self.cursor.checkpoint(s))
    }

    /// The report so far, while the sweep runs.
    pub fn progress(&self) -> Option<&Report> {
        self.driver.machine().map(|s| s.report())
    }
}

impl Stream for RawPageStream {
    type Item = Result<RawPage>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<RawPage>>> {
        let this = &mut *self;
        while !this.cursor.is_done() {
            let event = ready!(this.driver.poll_event(cx));
            let taken = this.cursor.absorb_raw(event);
            this.cursor.tick(this.driver.machine());
            if let Some(p) = taken {
                return Poll::Ready(Some(p));
            }
        }
        Poll::Ready(None)
    }
}

/// The records of a sweep as a [`Stream`]; see [`List::stream`](List#method.stream).
pub struct RecordStream<T> {
    driver: AsyncDriver<Sweep>,
    cursor: Cursor,
    _t: PhantomData<fn() -> T>,
}

impl<T> RecordStream<T> {
    /// The final report, once the stream has ended.
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

impl<T: FromJson> Stream for RecordStream<T> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        let this = &mut *self;
        loop {
            if let Some(r) = this.cursor.next_record() {
                return Poll::Ready(Some(r));
            }
            if this.cursor.is_done() {
                return Poll::Ready(None);
            }
            let event = ready!(this.driver.poll_event(cx));
            let failed = this.cursor.absorb(event);
            this.cursor.tick(this.driver.machine());
            if let Some(e) = failed {
                return Poll::Ready(Some(Err(e)));
            }
        }
    }
}

/// The pages of a sweep as a [`Stream`]; see [`List::pages`](List#method.pages).
pub struct PageStream<T> {
    driver: AsyncDriver<Sweep>,
    cursor: Cursor,
    _t: PhantomData<fn() -> T>,
}

impl<T> PageStream<T> {
    /// The final report, once the stream has ended.
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

impl<T: FromJson> Stream for PageStream<T> {
    type Item = Result<Page<T>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Page<T>>>> {
        let this = &mut *self;
        while !this.cursor.is_done() {
            let event = ready!(this.driver.poll_event(cx));
            let taken = this.cursor.absorb_page(event);
            this.cursor.tick(this.driver.machine());
            if let Some(p) = taken {
                return Poll::Ready(Some(p));
            }
        }
        Poll::Ready(None)
    }
}

impl<'i> FetchManyJob<'i, &Client> {
    /// A stream of the results, `(id, record or error)`, in input order by default.
    pub fn stream<T: FromJson>(self) -> FetchManyStream<'i, T> {
        let machine = self.machine(self.client.api.spec(), random_seed());
        FetchManyStream {
            driver: self.client.drive(machine),
            cursor: ManyCursor::new(self.progress),
            _t: PhantomData,
        }
    }

    /// Every result. The outer error is for a job that could not start.
    pub async fn collect<T: FromJson>(self) -> Result<Vec<(String, Result<T>)>> {
        let mut stream = self.stream::<T>();
        let mut out = Vec::new();
        while let Some(item) = futures::future::poll_fn(|cx| stream.poll_item(cx)).await {
            out.push(item?);
        }
        Ok(out)
    }
}

/// The results of a `fetch_many` job as a [`Stream`].
pub struct FetchManyStream<'i, T> {
    driver: AsyncDriver<FetchMany<'i>>,
    cursor: ManyCursor,
    _t: PhantomData<fn() -> T>,
}

/// One id's outcome: the id and its record (or why there is none).
type IdItem<T> = (String, Result<T>);

impl<T: FromJson> FetchManyStream<'_, T> {
    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<IdItem<T>>>> {
        loop {
            if self.cursor.done {
                return Poll::Ready(None);
            }
            let event = ready!(self.driver.poll_event(cx));
            let step = self.cursor.step(event);
            self.cursor.tick(|| many_progress(&self.driver));
            match step {
                Step::Item(i, r) => {
                    let id = self
                        .driver
                        .machine()
                        .map(|m| m.id(i).to_string())
                        .unwrap_or_default();
                    return Poll::Ready(Some(Ok((
                        id.clone(),
                        r.and_then(|b| decode_item(&id, b)),
                    ))));
                }
                Step::Failed(e) => return Poll::Ready(Some(Err(e))),
                Step::Continue => {}
                Step::End => return Poll::Ready(None),
            }
        }
    }

    /// The job's report, once the stream has ended.
    pub fn report(&self) -> Option<&ManyReport> {
        self.cursor.report.as_ref()
    }

    /// Which ids are done, to resume the job later.
    pub fn checkpoint(&self) -> Option<ManyCheckpoint> {
        self.driver.machine().map(ManyMachine::checkpoint)
    }
}

impl<T: FromJson> Stream for FetchManyStream<'_, T> {
    type Item = (String, Result<T>);

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_item(cx)
            .map(|o| o.map(|r| r.unwrap_or_else(|e| (String::new(), Err(e)))))
    }
}

impl<'i> WriteManyJob<'i, &Client> {
    /// A stream of the outcomes, in input order by default.
    pub fn stream(self) -> WriteStream<'i> {
        let machine = self.machine(self.client.api.spec(), random_seed());
        WriteStream {
            driver: self.client.drive(machine),
            cursor: ManyCursor::new(self.progress),
        }
    }

    /// Runs the job: one outcome per record, in input order.
    pub async fn run(self) -> Result<Vec<WriteOutcome>> {
        self.run_with_report().await.map(|(v, _)| v)
    }

    /// Runs the job and returns its report too.
    pub async fn run_with_report(self) -> Result<(Vec<WriteOutcome>, ManyReport)> {
        use futures::StreamExt;
        let mut stream = self.stream();
        let mut out = Vec::new();
        while let Some(o) = stream.next().await {
            out.push(o?);
        }
        out.sort_by_key(|o| o.index);
        Ok((out, stream.cursor.report.take().unwrap_or_default()))
    }
}

/// The outcomes of a write job as a [`Stream`].
pub struct WriteStream<'i> {
    driver: AsyncDriver<WriteJob<'i>>,
    cursor: ManyCursor,
}

impl WriteStream<'_> {
    /// The job's report, once the stream has ended.
    pub fn report(&self) -> Option<&ManyReport> {
        self.cursor.report.as_ref()
    }

    /// Which records are done, to resume the job later.
    pub fn checkpoint(&self) -> Option<ManyCheckpoint> {
        self.driver.machine().map(ManyMachine::checkpoint)
    }
}

impl Stream for WriteStream<'_> {
    type Item = Result<WriteOutcome>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.cursor.done {
                return Poll::Ready(None);
            }
            let event = ready!(this.driver.poll_event(cx));
            let step = this.cursor.step(event);
            this.cursor.tick(|| many_progress(&this.driver));
            match step {
                Step::Item(index, result) => {
                    return Poll::Ready(Some(Ok(WriteOutcome { index, result })))
                }
                Step::Failed(e) => return Poll::Ready(Some(Err(e))),
                Step::Continue => {}
                Step::End => return Poll::Ready(None),
            }
        }
    }
}

/// The progress of a many-items job, if it started.
fn many_progress<M: ManyMachine>(driver: &AsyncDriver<M>) -> Option<ManyProgress> {
    driver.machine().map(|m| m.progress_at(Instant::now()))
}

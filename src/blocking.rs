//! The blocking client: plain values and `Iterator`s. It mirrors the async
//! [`Client`](crate::Client) operation for operation (same names, same
//! builders, same options) and runs the same driver, blocking the calling
//! thread on it; requests run on the transport's worker threads, bounded by
//! the `Api`'s shared limiter.

use std::ops::{Deref, DerefMut};

use futures::{Stream, StreamExt};

use crate::api::Api;
use crate::client::{FetchManyStream, PageStream, RawPageStream, RecordStream, WriteStream};
use crate::core::{FromJson, ManyReport, Report, ToJson};
use crate::drive::block_on::block_on;
use crate::error::Result;
use crate::list::List;
use crate::many::{FetchManyJob, WriteManyJob, WriteOutcome};
use crate::transport::AsyncTransport;

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
    inner: crate::Client,
}

impl Client {
    /// A client of `api` with the default transport,
    /// [`UreqTransport`](crate::transport::UreqTransport), shared with every
    /// other client of `api` made with `new` (see [`Client::new`](crate::Client::new)).
    /// Needs the Cargo feature `ureq` (on by default); without it use
    /// [`Client::with_transport`].
    #[cfg(feature = "ureq")]
    pub fn new(api: &Api) -> Self {
        Client {
            inner: crate::Client::new(api),
        }
    }

    /// A client of `api` over a transport you chose: a
    /// [`UreqTransport`][ureq-transport] you configured
    /// (proxy, TLS roots, threads), or any [`AsyncTransport`] (the calling
    /// thread blocks on its futures).
    #[cfg_attr(feature = "ureq", doc = "")]
    #[cfg_attr(
        feature = "ureq",
        doc = "[ureq-transport]: crate::transport::UreqTransport"
    )]
    #[cfg_attr(not(feature = "ureq"), doc = "")]
    #[cfg_attr(
        not(feature = "ureq"),
        doc = "[ureq-transport]: https://docs.rs/pagewise/latest/x86_64-unknown-linux-gnu/pagewise/transport/struct.UreqTransport.html"
    )]
    pub fn with_transport(api: &Api, transport: impl AsyncTransport) -> Self {
        Client {
            inner: crate::Client::with_transport(api, transport),
        }
    }

    /// The API this client talks to.
    pub fn api(&self) -> &Api {
        self.inner.api()
    }

    /// The async client this one blocks on (same `Api`, same transport).
    pub fn as_async(&self) -> &crate::Client {
        &self.inner
    }

    /// `GET path` (relative to the base URL) and deserialize the JSON body:
    /// into your type, `serde_json::Value`, or [`JsonText`](crate::JsonText) for the text itself.
    pub fn get<T: FromJson>(&self, path: &str) -> Result<T> {
        block_on(self.inner.get(path))
    }

    /// `GET path?query` and deserialize the JSON body.
    pub fn get_with_query<T: FromJson>(&self, path: &str, query: &[(&str, &str)]) -> Result<T> {
        block_on(self.inner.get_with_query(path, query))
    }

    /// Fetches the record of every id, one `GET` per id from `template` (a
    /// path with `{id}`, e.g. `items/{id}`), or several ids per request with
    /// `.batch(..)`. Each id gets its own result; a missing record is that
    /// id's 404, not the end of the job.
    ///
    /// The ids are read as the job goes (memory bounded by the job's
    /// window, not by their number): any `IntoIterator`, such as the ids of
    /// a `list` iterator's records.
    pub fn fetch_many<'i, I, S>(&self, template: &str, ids: I) -> FetchManyJob<'i, &Client>
    where
        I: IntoIterator<Item = S>,
        I::IntoIter: Send + 'i,
        S: ToString,
    {
        self.inner.fetch_many(template, ids).with_client(self)
    }

    /// Creates records (`POST path`, or a batch endpoint): one outcome per record.
    pub fn insert_many<'i, I>(&self, path: &str, records: I) -> WriteManyJob<'i, &Client>
    where
        I: IntoIterator,
        I::Item: ToJson,
        I::IntoIter: Send + 'i,
    {
        self.inner.insert_many(path, records).with_client(self)
    }

    /// Changes records (`PATCH path/{id}`, or a batch endpoint).
    pub fn update_many<'i, I>(&self, path: &str, records: I) -> WriteManyJob<'i, &Client>
    where
        I: IntoIterator,
        I::Item: ToJson,
        I::IntoIter: Send + 'i,
    {
        self.inner.update_many(path, records).with_client(self)
    }

    /// Creates or replaces records (`PUT path/{id}`, or a batch endpoint).
    pub fn upsert_many<'i, I>(&self, path: &str, records: I) -> WriteManyJob<'i, &Client>
    where
        I: IntoIterator,
        I::Item: ToJson,
        I::IntoIter: Send + 'i,
    {
        self.inner.upsert_many(path, records).with_client(self)
    }

    /// Deletes records (`DELETE path/{id}`, or a batch endpoint); records may be bare ids.
    pub fn delete_many<'i, I>(&self, path: &str, records: I) -> WriteManyJob<'i, &Client>
    where
        I: IntoIterator,
        I::Item: ToJson,
        I::IntoIter: Send + 'i,
    {
        self.inner.delete_many(path, records).with_client(self)
    }

    /// Creates one record: `POST path` with `record` as the body, with an
    /// `Idempotency-Key` and the retries of the write jobs; the server's
    /// answer decoded as `T` (an empty answer reads as `null`). See
    /// [`crate::Client::create`].
    ///
    /// ```no_run
    /// # fn run(client: pagewise::blocking::Client) -> pagewise::Result<()> {
    /// let created: serde_json::Value = client.create("items", serde_json::json!({"name": "a"}))?;
    /// let changed: serde_json::Value = client.update("items/{id}", serde_json::json!({"id": 7, "name": "b"}))?;
    /// client.delete::<()>("items/7")?;
    /// # Ok(()) }
    /// ```
    pub fn create<T: FromJson>(&self, path: &str, record: impl ToJson) -> Result<T> {
        block_on(self.inner.create(path, record))
    }

    /// Changes one record: `PATCH path` (`items/{id}` takes the record's
    /// `id` field). See [`crate::Client::update`].
    pub fn update<T: FromJson>(&self, path: &str, record: impl ToJson) -> Result<T> {
        block_on(self.inner.update(path, record))
    }

    /// Deletes one record: `DELETE path`. See [`crate::Client::delete`].
    pub fn delete<T: FromJson>(&self, path: &str) -> Result<T> {
        block_on(self.inner.delete(path))
    }

    /// Every record of the collection at `path`: set options on the returned
    /// [`List`], then take `.iter()`, `.collect()` or `.pages()`.
    pub fn list(&self, path: &str) -> List<&Client> {
        self.inner.list(path).with_client(self)
    }
}

impl Api {
    /// A blocking client over this API (native targets), with the default
    /// transport shared by every client of this `Api` (Cargo feature `ureq`,
    /// on by default).
    #[cfg(feature = "ureq")]
    pub fn blocking(&self) -> Client {
        Client::new(self)
    }
}

impl<'a> List<&'a Client> {
    /// The same list on the async client this one blocks on.
    fn on_async(self) -> List<&'a crate::Client> {
        let inner = &self.client.inner;
        self.with_client(inner)
    }

    /// A streaming iterator over the records: memory holds at most
    /// concurrency + window pages (while pages wait out a retry delay, such
    /// as a server's `Retry-After`, that again for each, up to
    /// [`MAX_RETRY_STRETCH`](crate::core::MAX_RETRY_STRETCH) times). After an `Err` it yields
    /// nothing more. Dropping it stops the sweep: no request starts afterwards.
    pub fn iter<T: FromJson>(self) -> ListIter<T> {
        Blocking(self.on_async().stream())
    }

    /// Every record, in one `Vec`.
    pub fn collect<T: FromJson>(self) -> Result<Vec<T>> {
        block_on(self.on_async().collect())
    }

    /// Every record and the sweep's report.
    pub fn collect_with_report<T: FromJson>(self) -> Result<(Vec<T>, Report)> {
        block_on(self.on_async().collect_with_report())
    }

    /// A streaming iterator over whole pages.
    pub fn pages<T: FromJson>(self) -> PageIter<T> {
        Blocking(self.on_async().pages())
    }

    /// An iterator over pages whose records are left as JSON text: nothing
    /// is deserialized, for passing records on as they are.
    pub fn raw_pages(self) -> RawPageIter {
        Blocking(self.on_async().raw_pages())
    }
}

impl<'i> FetchManyJob<'i, &Client> {
    /// The results as they come: `(id, record or error)`, in input order by default.
    pub fn iter<T: FromJson>(self) -> FetchManyIter<'i, T> {
        let inner = &self.client.inner;
        Blocking(self.with_client(inner).stream())
    }

    /// Every result. The outer error is for a job that could not start (a
    /// bad template, say); each id's own failure is in its result.
    pub fn collect<T: FromJson>(self) -> Result<Vec<(String, Result<T>)>> {
        let inner = &self.client.inner;
        block_on(self.with_client(inner).collect())
    }
}

impl<'i> WriteManyJob<'i, &Client> {
    /// The outcomes as they come, in input order by default.
    pub fn iter(self) -> WriteIter<'i> {
        let inner = &self.client.inner;
        Blocking(self.with_client(inner).stream())
    }

    /// Runs the job: one outcome per record, in input order. The outer error
    /// is for a job that could not start (a record that does not serialize).
    pub fn run(self) -> Result<Vec<WriteOutcome>> {
        let inner = &self.client.inner;
        block_on(self.with_client(inner).run())
    }

    /// Runs the job and returns its report too.
    pub fn run_with_report(self) -> Result<(Vec<WriteOutcome>, ManyReport)> {
        let inner = &self.client.inner;
        block_on(self.with_client(inner).run_with_report())
    }
}

/// A stream of the async client as an [`Iterator`]: each `next()` blocks
/// the calling thread until the stream's next item. The stream's own
/// methods (`report()`, `checkpoint()`, `progress()`, ...) are reachable
/// through it (it dereferences to the stream). Dropping it drops the
/// stream, which stops the operation: no request starts afterwards.
#[derive(Debug)]
pub struct Blocking<S>(S);

impl<S> Blocking<S> {
    /// The stream it blocks on.
    pub fn into_inner(self) -> S {
        self.0
    }
}

impl<S> Deref for Blocking<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.0
    }
}

impl<S> DerefMut for Blocking<S> {
    fn deref_mut(&mut self) -> &mut S {
        &mut self.0
    }
}

impl<S: Stream + Unpin> Iterator for Blocking<S> {
    type Item = S::Item;

    fn next(&mut self) -> Option<S::Item> {
        block_on(self.0.next())
    }
}

/// Records of a sweep, one at a time; see [`List::iter`](List#method.iter).
pub type ListIter<T> = Blocking<RecordStream<T>>;
/// Pages of a sweep; see [`List::pages`](List#method.pages).
pub type PageIter<T> = Blocking<PageStream<T>>;
/// Pages of JSON text; see [`List::raw_pages`](List#method.raw_pages).
pub type RawPageIter = Blocking<RawPageStream>;
/// The results of a `fetch_many` job; see [`FetchManyJob::iter`](FetchManyJob#method.iter).
pub type FetchManyIter<'i, T> = Blocking<FetchManyStream<'i, T>>;
/// The outcomes of a write job; see [`WriteManyJob::iter`](WriteManyJob#method.iter).
pub type WriteIter<'i> = Blocking<WriteStream<'i>>;

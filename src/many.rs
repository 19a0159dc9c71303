//! Builders of the jobs of many items (`fetch_many`, `insert_many`, ...),
//! shared by every facade: the same options under the same names.

use std::sync::Arc;

use crate::core::JsonText;
use crate::core::ToJson;
use web_time::Instant;

use crate::core::{
    BatchLookup, BatchWrite, FetchMany, ManyCheckpoint, ManyOptions, ManyProgress, Order,
    RetryPolicy, WriteJob, WriteOp, WriteOptions,
};
use crate::drive::Machine;
use crate::error::{Error, Result};

/// What the facades ask of a many-items machine besides driving it.
pub(crate) trait ManyMachine: Machine {
    fn progress_at(&self, now: Instant) -> ManyProgress;
    fn checkpoint(&self) -> ManyCheckpoint;
}

impl ManyMachine for FetchMany<'_> {
    fn progress_at(&self, now: Instant) -> ManyProgress {
        self.progress(now)
    }
    fn checkpoint(&self) -> ManyCheckpoint {
        FetchMany::checkpoint(self)
    }
}

impl ManyMachine for WriteJob<'_> {
    fn progress_at(&self, now: Instant) -> ManyProgress {
        self.progress(now)
    }
    fn checkpoint(&self) -> ManyCheckpoint {
        WriteJob::checkpoint(self)
    }
}

/// An `on_progress` callback of a job of many items.
#[derive(Clone)]
pub(crate) struct ManyProgressFn(pub(crate) Arc<dyn Fn(&ManyProgress) + Send + Sync>);

impl std::fmt::Debug for ManyProgressFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ManyProgressFn")
    }
}

/// The iterator behind a job's input.
type Items<'i, T> = Box<dyn Iterator<Item = Result<T>> + Send + 'i>;

/// A job's input, read as the job goes: taken by the job's one run.
pub(crate) struct Source<'i, T>(Arc<std::sync::Mutex<Option<Items<'i, T>>>>);

impl<T> Clone for Source<'_, T> {
    fn clone(&self) -> Self {
        Source(self.0.clone())
    }
}

impl<T> std::fmt::Debug for Source<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Source")
    }
}

impl<'i, T> Source<'i, T> {
    pub(crate) fn new(iter: impl Iterator<Item = Result<T>> + Send + 'i) -> Self {
        Source(Arc::new(std::sync::Mutex::new(Some(Box::new(iter)))))
    }

    /// The input, for the one run of the job (its clones share it).
    fn take(&self) -> Result<Items<'i, T>> {
        self.0
            .lock()
            .ok()
            .and_then(|mut s| s.take())
            .ok_or_else(|| {
                Error::config(
                    "the job's input was already read by a run of this job (or a clone of it): a job runs once",
                )
            })
    }
}

/// A `fetch_many` job being set up: `client.fetch_many("items/{id}", ids)`,
/// then options, then a terminal call of the client's kind (`.iter()` /
/// `.collect()` on a blocking client, `.stream()` / `.collect().await` on
/// an async one). Each id gets its own result; a missing record is that
/// id's [`ErrorKind::Status`](crate::ErrorKind::Status) 404.
///
/// The ids are read as the job goes, not collected first: any
/// `IntoIterator` (a `Vec`, a range, the ids of a `list` iterator), with
/// memory bounded by the job's window. A job runs once (a clone shares its
/// input). A checkpoint records positions in the input: resume with the
/// same ids in the same order.
#[derive(Debug, Clone)]
#[must_use = "a job does nothing until a terminal call such as collect()"]
pub struct FetchManyJob<'i, C> {
    pub(crate) client: C,
    pub(crate) template: String,
    pub(crate) ids: Source<'i, String>,
    pub(crate) options: ManyOptions,
    pub(crate) progress: Option<ManyProgressFn>,
}

impl<'i, C> FetchManyJob<'i, C> {
    pub(crate) fn new(client: C, template: &str, ids: Source<'i, String>) -> Self {
        FetchManyJob {
            client,
            template: template.to_string(),
            ids,
            options: ManyOptions::default(),
            progress: None,
        }
    }
    /// Requests in flight at once (default and maximum: the API's concurrency).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.options = self.options.concurrency(n);
        self
    }
    /// Results in input order (`Order::Page`, the default) or completion order.
    pub fn order(mut self, order: Order) -> Self {
        self.options = self.options.order(order);
        self
    }
    /// Looks several ids up per request (`items?ids=1,2,3`).
    pub fn batch(mut self, lookup: BatchLookup) -> Self {
        self.options = self.options.batch(lookup);
        self
    }
    /// One `GET` per id, even when the API has a default lookup
    /// ([`ApiBuilder::lookup`](crate::ApiBuilder::lookup)).
    pub fn no_batch(mut self) -> Self {
        self.options = self.options.no_batch();
        self
    }
    /// How failed requests are retried (default: the API's policy).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options = self.options.retry(policy);
        self
    }
    /// Skips the ids a checkpoint says are done (pass the same ids).
    pub fn resume(mut self, checkpoint: ManyCheckpoint) -> Self {
        self.options = self.options.resume(checkpoint);
        self
    }
    /// Calls `f` as results come in, with counts, retries and an ETA.
    pub fn on_progress(mut self, f: impl Fn(&ManyProgress) + Send + Sync + 'static) -> Self {
        self.progress = Some(ManyProgressFn(Arc::new(f)));
        self
    }

    /// The same job, to be run by `client`.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub(crate) fn with_client<D>(self, client: D) -> FetchManyJob<'i, D> {
        FetchManyJob {
            client,
            template: self.template,
            ids: self.ids,
            options: self.options,
            progress: self.progress,
        }
    }

    pub(crate) fn machine(
        &self,
        spec: &Arc<crate::core::ApiSpec>,
        seed: u64,
    ) -> Result<FetchMany<'i>> {
        let mut options = self.options.clone();
        if options.seed.is_none() {
            options = options.seed(seed);
        }
        FetchMany::lazy(
            spec,
            &self.template,
            self.ids.take()?,
            options,
            Instant::now(),
        )
    }
}

/// A write job being set up: `client.insert_many("items", records)` (or
/// `update_many`, `upsert_many`, `delete_many`), then options, then `.run()`
/// (or `.iter()` / `.stream()`): one outcome per record, in input order.
///
/// The records are read and serialized as the job goes, not collected
/// first: any `IntoIterator`, with memory bounded by the job's window
/// (concurrency × batch size). A record that does not serialize is that
/// record's error. A job runs once (a clone shares its input). A checkpoint
/// records positions in the input: resume with the same records in the
/// same order.
#[derive(Debug, Clone)]
#[must_use = "a job does nothing until a terminal call such as run()"]
pub struct WriteManyJob<'i, C> {
    pub(crate) client: C,
    pub(crate) records: Source<'i, JsonText>,
    pub(crate) options: WriteOptions,
    pub(crate) progress: Option<ManyProgressFn>,
}

impl<'i, C> WriteManyJob<'i, C> {
    pub(crate) fn new<I>(client: C, op: WriteOp, path: &str, records: I) -> Self
    where
        I: IntoIterator,
        I::Item: ToJson,
        I::IntoIter: Send + 'i,
    {
        let records = Source::new(records.into_iter().enumerate().map(|(i, r)| {
            r.to_json().map_err(|e| {
                Error::new(
                    crate::ErrorKind::Config,
                    format!("record {i} does not serialize to JSON: {e}"),
                )
            })
        }));
        WriteManyJob {
            client,
            records,
            options: WriteOptions::new(op, path),
            progress: None,
        }
    }
    /// Through a batch endpoint, several records per request.
    pub fn batch(mut self, batch: BatchWrite) -> Self {
        self.options = self.options.batch(batch);
        self
    }
    /// One request per record, even when the API has a default batch
    /// endpoint ([`ApiBuilder::batch_write`](crate::ApiBuilder::batch_write)).
    pub fn no_batch(mut self) -> Self {
        self.options = self.options.no_batch();
        self
    }
    /// Records per batch request (default: the batch endpoint's max).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.options = self.options.batch_size(n);
        self
    }
    /// Requests in flight at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.options = self.options.concurrency(n);
        self
    }
    /// Outcomes in input order (default) or completion order.
    pub fn order(mut self, order: Order) -> Self {
        self.options = self.options.order(order);
        self
    }
    /// The idempotency header (default `Idempotency-Key`); `None` sends none,
    /// and then a write that may have reached the server is not retried.
    pub fn idempotency_header(mut self, name: Option<&str>) -> Self {
        self.options = self.options.idempotency_header(name);
        self
    }
    /// The record field holding its id, for update, upsert and delete (default `id`).
    pub fn id_field(mut self, field: impl Into<String>) -> Self {
        self.options = self.options.id_field(field);
        self
    }
    /// How failed requests are retried.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options = self.options.retry(policy);
        self
    }
    /// Skips the records a checkpoint says are done (pass the same records).
    pub fn resume(mut self, checkpoint: ManyCheckpoint) -> Self {
        self.options = self.options.resume(checkpoint);
        self
    }
    /// Calls `f` as outcomes come in.
    pub fn on_progress(mut self, f: impl Fn(&ManyProgress) + Send + Sync + 'static) -> Self {
        self.progress = Some(ManyProgressFn(Arc::new(f)));
        self
    }

    /// The same job, to be run by `client`.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub(crate) fn with_client<D>(self, client: D) -> WriteManyJob<'i, D> {
        WriteManyJob {
            client,
            records: self.records,
            options: self.options,
            progress: self.progress,
        }
    }

    pub(crate) fn machine(
        &self,
        spec: &Arc<crate::core::ApiSpec>,
        seed: u64,
    ) -> Result<WriteJob<'i>> {
        let mut options = self.options.clone();
        if options.seed.is_none() {
            options = options.seed(seed);
        }
        if options.key_seed.is_none() {
            options = options.key_seed(crate::drive::random_bits());
        }
        WriteJob::lazy(spec, self.records.take()?, options, Instant::now())
    }
}

/// One record's outcome in a write job.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WriteOutcome {
    /// The record's position in the input.
    pub index: usize,
    /// What became of it: the written record's id and status, or the error.
    pub result: Result<crate::core::Written>,
}

/// What the many-items iterators and streams keep between calls, the same
/// for the blocking and the async facades.
#[derive(Default)]
pub(crate) struct ManyCursor {
    pub(crate) report: Option<crate::core::ManyReport>,
    pub(crate) done: bool,
    progress: Option<ManyProgressFn>,
}

/// What a many-items event becomes for the caller.
pub(crate) enum Step<T> {
    Item(usize, Result<T>),
    /// The job could not start: one error, then nothing.
    Failed(Error),
    Continue,
    End,
}

impl ManyCursor {
    pub(crate) fn new(progress: Option<ManyProgressFn>) -> Self {
        ManyCursor {
            progress,
            ..ManyCursor::default()
        }
    }

    pub(crate) fn step<T>(&mut self, event: Option<crate::core::ManyEvent<T>>) -> Step<T> {
        use crate::core::ManyEvent;
        match event {
            None => {
                self.done = true;
                Step::End
            }
            Some(ManyEvent::Item(e)) if e.index == usize::MAX => {
                self.done = true;
                Step::Failed(
                    e.result
                        .err()
                        .expect("a job that could not start has an error"),
                )
            }
            Some(ManyEvent::Item(e)) => Step::Item(e.index, e.result),
            Some(ManyEvent::Finished(r)) => {
                self.report = Some(r);
                self.done = true;
                Step::Continue
            }
        }
    }

    /// Calls the progress callback, if any, with what `progress` computes.
    pub(crate) fn tick(&self, progress: impl FnOnce() -> Option<ManyProgress>) {
        if let Some(cb) = &self.progress {
            if let Some(p) = progress() {
                (cb.0)(&p);
            }
        }
    }
}

/// Deserializes a fetched record, naming its id on failure.
pub(crate) fn decode_item<T: crate::core::FromJson>(id: &str, bytes: Vec<u8>) -> Result<T> {
    T::from_json_bytes(&bytes).map_err(|(_, e)| {
        Error::new(
            crate::ErrorKind::Record,
            format!("the record of id {id:?} does not fit the requested type: {e}"),
        )
        .with_excerpt(&bytes)
        .with_source_of(e.source())
    })
}

/// The job of a single-record operation (`create`, `update`, `delete`):
/// its options and its one record. `update`'s path may hold `{id}`,
/// filled from the record's `id` field; a path without it is the record's
/// own URL.
pub(crate) fn single_write(
    op: WriteOp,
    path: &str,
    record: Option<std::result::Result<JsonText, Error>>,
    seed: u64,
) -> Result<(WriteOptions, Vec<JsonText>)> {
    let record = match record {
        Some(r) => r?,
        None => JsonText::parse("null".to_string()).map_err(|_| Error::config("null"))?,
    };
    let options = WriteOptions::new(op, path)
        .single(path)
        .seed(seed)
        .key_seed(crate::drive::random_bits());
    Ok((options, vec![record]))
}

/// The server's answer to a single-record operation, as `T`. An empty body
/// (`204 No Content`) reads as `null` (so `()`, `Option<T>` and
/// `serde_json::Value` take it).
pub(crate) fn single_answer<T: crate::core::FromJson>(
    written: crate::core::Written,
    url: &str,
) -> Result<T> {
    let body = written.answer().unwrap_or_default();
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"null"
    } else {
        body
    };
    T::from_json_bytes(body).map_err(|(kind, e)| {
        Error::new(
            kind,
            format!(
                "the write succeeded ({}), but its answer is not the expected JSON: {e} \
                 (do not send it again: it was applied)",
                written.status
            ),
        )
        .with_url(url.to_string())
        .with_status(written.status)
        .with_excerpt(body)
        .with_source_of(e.source())
    })
}

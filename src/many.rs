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

impl ManyMachine for FetchMany {
    fn progress_at(&self, now: Instant) -> ManyProgress {
        self.progress(now)
    }
    fn checkpoint(&self) -> ManyCheckpoint {
        FetchMany::checkpoint(self)
    }
}

impl ManyMachine for WriteJob {
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

/// A `fetch_many` job being set up: `client.fetch_many("items/{id}", ids)`,
/// then options, then a terminal call of the client's kind (`.iter()` /
/// `.collect()` on a blocking client, `.stream()` / `.collect().await` on
/// an async one). Each id gets its own result; a missing record is that
/// id's [`ErrorKind::Status`](crate::ErrorKind::Status) 404.
#[derive(Debug, Clone)]
#[must_use = "a job does nothing until a terminal call such as collect()"]
pub struct FetchManyJob<C> {
    pub(crate) client: C,
    pub(crate) template: String,
    pub(crate) ids: Vec<String>,
    pub(crate) options: ManyOptions,
    pub(crate) progress: Option<ManyProgressFn>,
}

impl<C> FetchManyJob<C> {
    pub(crate) fn new(client: C, template: &str, ids: Vec<String>) -> Self {
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
    pub(crate) fn with_client<D>(self, client: D) -> FetchManyJob<D> {
        FetchManyJob {
            client,
            template: self.template,
            ids: self.ids,
            options: self.options,
            progress: self.progress,
        }
    }

    pub(crate) fn machine(&self, spec: &Arc<crate::core::ApiSpec>, seed: u64) -> Result<FetchMany> {
        let mut options = self.options.clone();
        if options.seed.is_none() {
            options = options.seed(seed);
        }
        FetchMany::new(
            spec,
            &self.template,
            self.ids.clone(),
            options,
            Instant::now(),
        )
    }
}

/// A write job being set up: `client.insert_many("items", records)` (or
/// `update_many`, `upsert_many`, `delete_many`), then options, then `.run()`
/// (or `.iter()` / `.stream()`): one outcome per record, in input order.
#[derive(Debug, Clone)]
#[must_use = "a job does nothing until a terminal call such as run()"]
pub struct WriteManyJob<C> {
    pub(crate) client: C,
    pub(crate) records: std::result::Result<Vec<JsonText>, Error>,
    pub(crate) options: WriteOptions,
    pub(crate) progress: Option<ManyProgressFn>,
}

impl<C> WriteManyJob<C> {
    pub(crate) fn new<R: ToJson>(
        client: C,
        op: WriteOp,
        path: &str,
        records: impl IntoIterator<Item = R>,
    ) -> Self {
        let records = records
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.to_json().map_err(|e| {
                    Error::config(format!("record {i} does not serialize to JSON: {e}"))
                })
            })
            .collect();
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
    pub(crate) fn with_client<D>(self, client: D) -> WriteManyJob<D> {
        WriteManyJob {
            client,
            records: self.records,
            options: self.options,
            progress: self.progress,
        }
    }

    pub(crate) fn machine(&self, spec: &Arc<crate::core::ApiSpec>, seed: u64) -> Result<WriteJob> {
        let mut options = self.options.clone();
        if options.seed.is_none() {
            options = options.seed(seed);
        }
        if options.key_seed.is_none() {
            options = options.key_seed(crate::drive::random_bits());
        }
        let records = self.records.clone()?;
        WriteJob::new(spec, records, options, Instant::now())
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
    })
}

//! Builders of the jobs of many items (`fetch_many`, `insert_many`, ...),
//! shared by every facade: the same options under the same names.

use std::sync::Arc;
use std::task::{Context, Poll};

use crate::core::JsonText;
use crate::core::ToJson;
use web_time::Instant;

use crate::core::{
    BatchLookup, BatchWrite, FetchMany, ManyCheckpoint, ManyOptions, ManyProgress, Order,
    RetryPolicy, WriteJob, WriteOp, WriteOptions,
};
use crate::drive::asynch::AsyncDriver;
use crate::drive::Machine;
use crate::error::{Error, Result};
use crate::transport::AsyncTransport;

/// What the facades ask of a many-items machine besides driving it.
pub(crate) trait ManyMachine: Machine {
    fn progress_at(&self, now: Instant) -> ManyProgress;
    fn checkpoint_holding(&self, held: &[usize]) -> ManyCheckpoint;
}

impl ManyMachine for FetchMany {
    fn progress_at(&self, now: Instant) -> ManyProgress {
        self.progress(now)
    }
    fn checkpoint_holding(&self, held: &[usize]) -> ManyCheckpoint {
        FetchMany::checkpoint_holding(self, held)
    }
}

impl ManyMachine for WriteJob {
    fn progress_at(&self, now: Instant) -> ManyProgress {
        self.progress(now)
    }
    fn checkpoint_holding(&self, held: &[usize]) -> ManyCheckpoint {
        WriteJob::checkpoint_holding(self, held)
    }
}

/// What the facades read of a many-items job's machine, wherever its
/// driver runs. A driver on the event loop's thread takes events ahead of
/// the caller: the items it holds count as not done.
pub(crate) trait ManyDrive<M: ManyMachine> {
    /// `f` on the machine (`None` if it never started) and the items taken
    /// from it that the caller has not had yet.
    fn with_machine_held<R>(&self, f: impl FnOnce(Option<&M>, &[usize]) -> R) -> R;

    fn with_machine<R>(&self, f: impl FnOnce(Option<&M>) -> R) -> R {
        self.with_machine_held(|m, _| f(m))
    }

    fn progress(&self) -> Option<ManyProgress> {
        self.with_machine_held(|m, held| {
            m.map(|m| {
                let mut p = m.progress_at(Instant::now());
                p.done = p.done.saturating_sub(held.len() as u64);
                p
            })
        })
    }

    fn checkpoint(&self) -> Option<ManyCheckpoint> {
        self.with_machine_held(|m, held| m.map(|m| m.checkpoint_holding(held)))
    }
}

/// Drives a many-items job for the async facade: over the event-loop
/// transport, on the loop's own thread (an answer and the next request
/// cross no thread; see `drive::offload`); over any other transport, polled
/// by the caller's executor.
pub(crate) enum PolledMany<M: Machine> {
    Here(AsyncDriver<M>),
    #[cfg(not(target_arch = "wasm32"))]
    Loop(crate::drive::offload::Offloaded<M>),
}

impl<M: ManyMachine + Send + 'static> PolledMany<M>
where
    M::Event: Send + 'static,
{
    pub(crate) fn new(
        api: &crate::Api,
        transport: &Arc<dyn AsyncTransport>,
        on_loop: bool,
        machine: Result<M>,
    ) -> Self {
        let driver = AsyncDriver::new(api, transport.clone(), machine);
        #[cfg(not(target_arch = "wasm32"))]
        if on_loop {
            return PolledMany::Loop(crate::drive::offload::Offloaded::start(driver));
        }
        let _ = on_loop;
        PolledMany::Here(driver)
    }
}

impl<M: ManyMachine> PolledMany<M> {
    pub(crate) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<M::Event>> {
        match self {
            PolledMany::Here(d) => d.poll_event(cx),
            #[cfg(not(target_arch = "wasm32"))]
            PolledMany::Loop(o) => o.poll_event(cx),
        }
    }
}

impl<M: ManyMachine> ManyDrive<M> for PolledMany<M> {
    fn with_machine_held<R>(&self, f: impl FnOnce(Option<&M>, &[usize]) -> R) -> R {
        match self {
            PolledMany::Here(d) => f(d.machine(), &[]),
            #[cfg(not(target_arch = "wasm32"))]
            PolledMany::Loop(o) => o.with_machine_held(f),
        }
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

//! The exported client and cursor.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{select, Either};
use futures::{FutureExt, StreamExt};
use futures_timer::Delay;
use js_sys::{Array, Promise};
use pagewise::JsonText;
use pagewise::{
    Checkpoint, FetchManyStream, ManyProgress, ManyReport, Progress, RawPageStream, Report,
    WriteStream,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::abort::{AbortWatch, Reason, Stop, Stopped};
use crate::{config, convert};

/// Runs `work` until it finishes or `stop` trips, whichever comes first.
/// On a trip, `work` is dropped (and with it every request it had started).
async fn until_stopped<F: Future + Unpin>(
    work: F,
    stop: Option<&Rc<Stop>>,
) -> Result<F::Output, Reason> {
    match stop {
        None => Ok(work.await),
        Some(stop) => {
            if let Some(reason) = stop.reason() {
                return Err(reason);
            }
            match select(work, Stopped(stop.clone())).await {
                Either::Left((out, _)) => Ok(out),
                Either::Right((reason, _)) => Err(reason),
            }
        }
    }
}

/// A promise of `work`'s JSON answer, parsed; `signal` stops it (with kind
/// `cancelled`), dropping the requests it had started.
fn json_promise(
    signal: Option<web_sys::AbortSignal>,
    work: impl Future<Output = pagewise::Result<JsonText>> + 'static,
) -> Promise {
    let stop = Rc::new(Stop::default());
    let watch = signal.map(|s| AbortWatch::new(s, stop.clone(), || {}));
    future_to_promise(async move {
        let outcome = until_stopped(Box::pin(work), watch.as_ref().map(|_| &stop)).await;
        drop(watch);
        match outcome {
            Err(_) => Err(convert::cancelled()),
            Ok(Err(e)) => Err(convert::error(&e)),
            Ok(Ok(body)) => convert::parse(body.as_str(), None),
        }
    })
}

/// An async pagewise client over the global `fetch` (or `options.fetch`
/// in Node), the engine of the JS `Client`.
#[wasm_bindgen]
pub struct RawClient {
    inner: pagewise::Client,
}

#[wasm_bindgen]
impl RawClient {
    /// A client from its options object; throws a `PagewiseError` (kind
    /// `config` or `url`) for bad options.
    #[wasm_bindgen(constructor)]
    /// `options` is the JSON text of the data options, `bad` the first
    /// value JSON could not hold (see `encodeOptions` in index.js).
    /// `token`: the function of `auth: { type: 'provider', token }`;
    /// `events`: a function called with each `ApiEvent` (`onRequest` and
    /// `onEvent`, dispatched by index.js).
    pub fn new(
        options: &str,
        bad: Option<String>,
        fetch: JsValue,
        token: JsValue,
        events: JsValue,
    ) -> Result<RawClient, JsValue> {
        let (api, fetch) =
            config::api(options, bad, fetch, token, events).map_err(|e| convert::error(&e))?;
        // Pages are parsed once, by `JSON.parse`, and handed out as parsed.
        let mut transport = pagewise::transport::fetch::FetchTransport::with_parsed_pages();
        if let Some(f) = fetch {
            transport = transport.with_fetch(f);
        }
        Ok(RawClient {
            inner: pagewise::Client::with_transport(&api, transport),
        })
    }

    /// `GET path` with `options` `{ query, signal }`, resolving to the
    /// parsed JSON body.
    pub fn get(
        &self,
        path: String,
        options: &str,
        bad: Option<String>,
        signal: JsValue,
    ) -> Result<Promise, JsValue> {
        let query = config::get_options(options, bad).map_err(|e| convert::error(&e))?;
        let signal = config::signal(signal).map_err(|e| convert::error(&e))?;
        let client = self.inner.clone();
        Ok(json_promise(signal, async move {
            let pairs: Vec<(&str, &str)> = query
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            client.get_with_query::<JsonText>(&path, &pairs).await
        }))
    }

    /// One record written: `op` is `create`, `update` or `delete`; `record`
    /// its JSON text (none for a delete); the options `{ signal }`.
    /// Resolves to the parsed answer (`null` for an empty one).
    #[wasm_bindgen(js_name = writeOne)]
    pub fn write_one(
        &self,
        op: String,
        path: String,
        record: Option<String>,
        options: &str,
        bad: Option<String>,
        signal: JsValue,
    ) -> Result<Promise, JsValue> {
        let query = config::get_options(options, bad).map_err(|e| convert::error(&e))?;
        if !query.is_empty() {
            return Err(convert::error(&pagewise::Error::new(
                pagewise::ErrorKind::Config,
                "options.query: create, update and delete take no query parameters (put them in the path)",
            )));
        }
        let signal = config::signal(signal).map_err(|e| convert::error(&e))?;
        let record = match record {
            None => None,
            Some(text) => Some(JsonText::parse(text).map_err(|_| {
                convert::error(&pagewise::Error::new(
                    pagewise::ErrorKind::Config,
                    "the record is not JSON",
                ))
            })?),
        };
        let client = self.inner.clone();
        Ok(json_promise(signal, async move {
            match (op.as_str(), record) {
                ("create", Some(r)) => client.create(&path, r).await,
                ("update", Some(r)) => client.update(&path, r).await,
                _ => client.delete(&path).await,
            }
        }))
    }

    /// Opens a `fetchMany` job: `template` with `{id}`, the ids, the options
    /// `{ batch, order, concurrency, retry, signal, resume }`.
    #[wasm_bindgen(js_name = fetchMany)]
    pub fn fetch_many(
        &self,
        template: &str,
        ids: Vec<String>,
        options: &str,
        bad: Option<String>,
        signal: JsValue,
    ) -> Result<RawMany, JsValue> {
        let retry = self.inner.api().spec().retry().clone();
        let (many, batch) =
            config::fetch_many_options(options, bad, &retry).map_err(|e| convert::error(&e))?;
        let signal = config::signal(signal).map_err(|e| convert::error(&e))?;
        let progress: Arc<Mutex<Option<ManyProgress>>> = Arc::default();
        let cell = progress.clone();
        let mut job = self
            .inner
            .fetch_many(template, ids)
            .on_progress(move |p| *cell.lock().unwrap() = Some(p.clone()));
        match batch {
            Some(Some(b)) => job = job.batch(b),
            Some(None) => job = job.no_batch(),
            None => {}
        }
        if let Some(o) = many.order {
            job = job.order(o);
        }
        if let Some(n) = many.concurrency {
            job = job.concurrency(n);
        }
        if let Some(r) = many.retry {
            job = job.retry(r);
        }
        if let Some(c) = many.resume {
            job = job.resume(c);
        }
        let stream = ManyStream::Fetch(job.stream::<JsonText>());
        Ok(RawMany::new(stream, progress, signal))
    }

    /// Opens a write job: `op` is `insert`, `update`, `upsert` or `delete`;
    /// `records` are JSON texts.
    #[wasm_bindgen(js_name = writeMany)]
    pub fn write_many(
        &self,
        op: &str,
        path: &str,
        records: Vec<String>,
        options: &str,
        bad: Option<String>,
        signal: JsValue,
    ) -> Result<RawMany, JsValue> {
        let retry = self.inner.api().spec().retry().clone();
        let (many, w) =
            config::write_options(options, bad, &retry).map_err(|e| convert::error(&e))?;
        let signal = config::signal(signal).map_err(|e| convert::error(&e))?;
        let records: Vec<JsonText> = records
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                JsonText::parse(r).map_err(|_| {
                    convert::error(&pagewise::Error::new(
                        pagewise::ErrorKind::Config,
                        format!("record {i} is not JSON"),
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        let progress: Arc<Mutex<Option<ManyProgress>>> = Arc::default();
        let cell = progress.clone();
        let job = match op {
            "update" => self.inner.update_many(path, records),
            "upsert" => self.inner.upsert_many(path, records),
            "delete" => self.inner.delete_many(path, records),
            _ => self.inner.insert_many(path, records),
        };
        let mut job = job.on_progress(move |p| *cell.lock().unwrap() = Some(p.clone()));
        match w.batch {
            Some(Some(b)) => job = job.batch(b),
            Some(None) => job = job.no_batch(),
            None => {}
        }
        if let Some(n) = w.batch_size {
            job = job.batch_size(n);
        }
        if let Some(h) = w.idempotency_header {
            job = job.idempotency_header(h.as_deref());
        }
        if let Some(f) = w.id_field {
            job = job.id_field(f);
        }
        if let Some(o) = many.order {
            job = job.order(o);
        }
        if let Some(n) = many.concurrency {
            job = job.concurrency(n);
        }
        if let Some(r) = many.retry {
            job = job.retry(r);
        }
        if let Some(c) = many.resume {
            job = job.resume(c);
        }
        let stream = ManyStream::Write(job.stream());
        Ok(RawMany::new(stream, progress, signal))
    }

    /// What the client's shared pacer has done so far: `{ throttles,
    /// throttledMs, decreases, increases, concurrency, learntRate }`.
    #[wasm_bindgen(js_name = pacingStats)]
    pub fn pacing_stats(&self) -> JsValue {
        let api = self.inner.api();
        convert::pacing_stats(
            &api.pacing_stats(),
            api.current_concurrency(),
            api.learnt_rate(),
            api.limiter().in_use(),
        )
    }

    /// Opens a sweep of the collection at `path` with the list `options`
    /// (`{ query, order, pageSize, concurrency, window, deadlineMs, retry,
    /// verify, signal }`). It sends nothing until the first `next()`.
    pub fn pages(
        &self,
        path: &str,
        options: &str,
        bad: Option<String>,
        signal: JsValue,
    ) -> Result<RawCursor, JsValue> {
        let retry = self.inner.api().spec().retry().clone();
        let (options, finished) =
            config::list_options(path, options, bad, &retry).map_err(|e| convert::error(&e))?;
        let signal = config::signal(signal).map_err(|e| convert::error(&e))?;
        let progress: Arc<Mutex<Option<Progress>>> = Arc::default();
        let cell = progress.clone();
        let stream = self
            .inner
            .list(path)
            .options(options)
            .on_progress(move |p| *cell.lock().unwrap() = Some(p.clone()))
            .raw_pages();
        // A sweep resumed from a checkpoint with nothing left to fetch ends
        // at once (the library's driver would wait for answers that never come).
        let (stream, report, snapshots) = match finished {
            None => (Some(stream), None, Vec::new()),
            Some(c) => (None, Some(Report::default()), vec![(0, c)]),
        };
        let state = Rc::new(CursorState {
            stream: RefCell::new(stream),
            report: RefCell::new(report),
            progress,
            snapshots: RefCell::new(snapshots),
            calls: std::cell::Cell::new(0),
            stop: Rc::new(Stop::default()),
        });
        let watch = signal.map(|s| {
            let parked = Rc::downgrade(&state);
            AbortWatch::new(s, state.stop.clone(), move || {
                // Between two `next()` calls the stream waits here, its
                // requests still in flight: drop it now, which aborts them.
                if let Some(state) = parked.upgrade() {
                    if let Ok(mut slot) = state.stream.try_borrow_mut() {
                        slot.take();
                    }
                }
            })
        });
        Ok(RawCursor {
            state,
            _watch: watch,
        })
    }
}

/// The engine of a job of many items.
enum ManyStream {
    Fetch(FetchManyStream<'static, JsonText>),
    Write(WriteStream<'static>),
}

struct ManyState {
    stream: RefCell<Option<ManyStream>>,
    /// The checkpoint as of the end of the stream (it is dropped then).
    last: RefCell<Option<String>>,
    report: RefCell<Option<ManyReport>>,
    progress: Arc<Mutex<Option<ManyProgress>>>,
    stop: Rc<Stop>,
}

/// A job of many items (the engine of `fetchMany`, `insertMany`, ...): its
/// results a batch at a time.
#[wasm_bindgen]
pub struct RawMany {
    state: Rc<ManyState>,
    _watch: Option<AbortWatch>,
}

impl Drop for RawMany {
    fn drop(&mut self) {
        self.close();
    }
}

fn many_checkpoint(stream: &ManyStream) -> Option<String> {
    match stream {
        ManyStream::Fetch(s) => s.checkpoint(),
        ManyStream::Write(s) => s.checkpoint(),
    }
    .map(|c| c.to_json())
}

#[wasm_bindgen]
impl RawMany {
    /// Resolves to an array of at most `max` results (at least one), or to
    /// `undefined` at the end: `{ id, record }` / `{ id, error }` for a
    /// fetch, `{ index, ok, id, status }` / `{ index, ok, error }` for a write.
    ///
    /// After the first result, it takes those that are ready and, with
    /// `linger_ms > 0`, keeps the job going for up to that long for more
    /// (fewer, larger batches for a caller that collects them all: one
    /// promise per batch instead of one per result).
    pub fn next(&self, max: u32, linger_ms: u32) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let taken = state.stream.borrow_mut().take();
            if state.stop.reason() == Some(Reason::Aborted) {
                return Err(convert::cancelled());
            }
            let Some(mut stream) = taken else {
                return Ok(JsValue::UNDEFINED);
            };
            let out = Array::new();
            let mut fetched = Vec::new();
            let mut taken = 0;
            let mut ended = false;
            let mut linger = None;
            while taken < max.max(1) {
                let next = match &mut stream {
                    ManyStream::Fetch(s) => Either::Left(s.next().map(ManyItem::from)),
                    ManyStream::Write(s) => Either::Right(s.next().map(ManyItem::from)),
                };
                futures::pin_mut!(next);
                let item = if taken == 0 {
                    match until_stopped(next, Some(&state.stop)).await {
                        Ok(item) => item,
                        Err(Reason::Aborted) => return Err(convert::cancelled()),
                        Err(Reason::Closed) => return Ok(JsValue::UNDEFINED),
                    }
                } else {
                    match (&mut next).now_or_never() {
                        Some(item) => item,
                        None if linger_ms == 0 => break,
                        None => {
                            let timer = linger.get_or_insert_with(|| {
                                Delay::new(Duration::from_millis(linger_ms.into()))
                            });
                            // The job goes on while it waits: its requests
                            // are sent from this poll.
                            match until_stopped(select(next, timer), Some(&state.stop)).await {
                                Ok(Either::Left((item, _))) => item,
                                Ok(Either::Right(_)) => break,
                                Err(Reason::Aborted) => return Err(convert::cancelled()),
                                // Closed while it waited: what it has is
                                // handed out; the next call says the end.
                                Err(Reason::Closed) => break,
                            }
                        }
                    }
                };
                match item {
                    ManyItem::End => {
                        ended = true;
                        break;
                    }
                    ManyItem::Failed(e) => return Err(convert::error(&e)),
                    ManyItem::Js(v) => {
                        out.push(&v);
                    }
                    ManyItem::Fetched(id, r) => fetched.push((id, r)),
                }
                taken += 1;
            }
            // A job is either a fetch or a write: one of the two is empty.
            let out = if fetched.is_empty() {
                out
            } else {
                convert::fetched(fetched)
            };
            if ended {
                *state.last.borrow_mut() = many_checkpoint(&stream);
                *state.report.borrow_mut() = match &stream {
                    ManyStream::Fetch(s) => s.report().cloned(),
                    ManyStream::Write(s) => s.report().cloned(),
                };
            } else if state.stop.reason().is_none() {
                *state.stream.borrow_mut() = Some(stream);
            } else {
                // Closed while this call had the job: what it hands out counts.
                *state.last.borrow_mut() = many_checkpoint(&stream);
            }
            if out.length() == 0 {
                return Ok(JsValue::UNDEFINED);
            }
            Ok(out.into())
        })
    }

    /// Ends the job now: requests in flight are aborted.
    pub fn close(&self) {
        self.state.stop.trip(Reason::Closed);
        if let Ok(mut slot) = self.state.stream.try_borrow_mut() {
            if let Some(s) = slot.take() {
                *self.state.last.borrow_mut() = many_checkpoint(&s);
            }
        }
    }

    /// Which items are done (handed out), as checkpoint JSON for `resume`.
    pub fn checkpoint(&self) -> Result<String, JsValue> {
        let now = self
            .state
            .stream
            .try_borrow()
            .ok()
            .and_then(|s| s.as_ref().and_then(many_checkpoint));
        now.or_else(|| self.state.last.borrow().clone())
            .ok_or_else(|| {
                convert::error(&pagewise::Error::new(
                    pagewise::ErrorKind::Config,
                    "no checkpoint: the job has not started, or it could not start",
                ))
            })
    }

    /// `{ done, total, failed, retries, throttledMs, elapsedMs, etaMs }`
    /// as of the last result handed out; `null` before.
    pub fn progress(&self) -> JsValue {
        match &*self.state.progress.lock().unwrap() {
            Some(p) => convert::many_progress(p),
            None => JsValue::NULL,
        }
    }

    /// Whether the job ended and reported.
    #[wasm_bindgen(js_name = hasReport)]
    pub fn has_report(&self) -> bool {
        self.state.report.borrow().is_some()
    }
}

/// One result of a job: a fetch's result (converted with the rest of its
/// batch, in one `JSON.parse`), or a write's outcome, converted.
enum ManyItem {
    Fetched(String, pagewise::Result<JsonText>),
    Js(JsValue),
    Failed(pagewise::Error),
    End,
}

impl From<Option<(String, pagewise::Result<JsonText>)>> for ManyItem {
    fn from(item: Option<(String, pagewise::Result<JsonText>)>) -> Self {
        match item {
            None => ManyItem::End,
            // The stream's way of saying that the job could not start.
            Some((id, Err(e))) if id.is_empty() && e.kind() == pagewise::ErrorKind::Config => {
                ManyItem::Failed(e)
            }
            Some((id, r)) => ManyItem::Fetched(id, r),
        }
    }
}

impl From<Option<pagewise::Result<pagewise::WriteOutcome>>> for ManyItem {
    fn from(item: Option<pagewise::Result<pagewise::WriteOutcome>>) -> Self {
        match item {
            None => ManyItem::End,
            Some(Err(e)) => ManyItem::Failed(e),
            Some(Ok(o)) => ManyItem::Js(convert::written(&o)),
        }
    }
}

impl RawMany {
    fn new(
        stream: ManyStream,
        progress: Arc<Mutex<Option<ManyProgress>>>,
        signal: Option<web_sys::AbortSignal>,
    ) -> RawMany {
        let state = Rc::new(ManyState {
            stream: RefCell::new(Some(stream)),
            last: RefCell::new(None),
            report: RefCell::new(None),
            progress,
            stop: Rc::new(Stop::default()),
        });
        let watch = signal.map(|s| {
            let parked = Rc::downgrade(&state);
            AbortWatch::new(s, state.stop.clone(), move || {
                if let Some(state) = parked.upgrade() {
                    if let Ok(mut slot) = state.stream.try_borrow_mut() {
                        slot.take();
                    }
                }
            })
        });
        RawMany {
            state,
            _watch: watch,
        }
    }
}

struct CursorState {
    /// The stream between two `next()` calls; taken out while one runs.
    stream: RefCell<Option<RawPageStream>>,
    /// The final report, once the sweep finished.
    report: RefCell<Option<Report>>,
    /// The progress as of the last page handed out.
    progress: Arc<Mutex<Option<Progress>>>,
    /// `(n, checkpoint)`: where the sweep was before the `n`th page (0-based)
    /// was taken from it; the last few only.
    snapshots: RefCell<Vec<(u32, Checkpoint)>>,
    /// `next()` calls so far.
    calls: std::cell::Cell<u32>,
    stop: Rc<Stop>,
}

/// One sweep, a page at a time (the engine of `list`, `stream` and `pages`).
#[wasm_bindgen]
pub struct RawCursor {
    state: Rc<CursorState>,
    /// Kept for its `Drop`: the abort listener lives as long as the cursor.
    _watch: Option<AbortWatch>,
}

impl Drop for RawCursor {
    /// A cursor freed (or garbage-collected) with a `next()` still pending
    /// wakes it, so that it drops the sweep instead of waiting forever.
    fn drop(&mut self) {
        self.close();
    }
}

#[wasm_bindgen]
impl RawCursor {
    /// Resolves to the next page, `{ index, url, total, records }`, or to
    /// `undefined` once the sweep has ended (or the cursor was closed);
    /// rejects with a `PagewiseError`. Call it again only once it settled.
    pub fn next(&self) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let taken = state.stream.borrow_mut().take();
            if state.stop.reason() == Some(Reason::Aborted) {
                return Err(convert::cancelled());
            }
            let Some(mut stream) = taken else {
                return Ok(JsValue::UNDEFINED);
            };
            let n = state.calls.get();
            state.calls.set(n + 1);
            if let Some(c) = stream.checkpoint() {
                let mut snaps = state.snapshots.borrow_mut();
                snaps.retain(|(k, _)| k + 2 > n);
                snaps.push((n, c));
            }
            let item = match until_stopped(stream.next(), Some(&state.stop)).await {
                Ok(item) => item,
                Err(Reason::Aborted) => return Err(convert::cancelled()),
                Err(Reason::Closed) => return Ok(JsValue::UNDEFINED),
            };
            match item {
                None => {
                    *state.report.borrow_mut() = stream.report().cloned();
                    Ok(JsValue::UNDEFINED)
                }
                Some(Err(e)) => Err(convert::error(&e)),
                Some(Ok(page)) => {
                    let total = stream.progress().and_then(|r| r.total);
                    let js = convert::page(&page, total);
                    if state.stop.reason().is_none() {
                        *state.stream.borrow_mut() = Some(stream);
                    }
                    js
                }
            }
        })
    }

    /// Ends the sweep now: drops the stream, which aborts the requests in
    /// flight; no request starts afterwards. A pending `next()` resolves to
    /// `undefined`.
    pub fn close(&self) {
        self.state.stop.trip(Reason::Closed);
        if let Ok(mut slot) = self.state.stream.try_borrow_mut() {
            slot.take();
        }
    }

    /// The progress of the sweep as of the last page `next()` resolved to
    /// (`null` before the first): `{ pages, pagesTotal, records,
    /// recordsTotal, bytes, retries, throttledMs, elapsedMs, etaMs }`.
    pub fn progress(&self) -> JsValue {
        match &*self.state.progress.lock().unwrap() {
            Some(p) => convert::progress(p),
            None => JsValue::NULL,
        }
    }

    /// A checkpoint (JSON) of the sweep with the pages before the `page`th
    /// one `next()` resolved to (0-based) handed out, and the first
    /// `consumed` records of that page: resumable with the `resume` option
    /// or natively with `Checkpoint::from_json`.
    /// `whole`: the page was read to its end.
    pub fn checkpoint(&self, page: u32, consumed: u32, whole: bool) -> Result<String, JsValue> {
        let snaps = self.state.snapshots.borrow();
        let find = |n: u32| snaps.iter().find(|(k, _)| *k == n).map(|(_, c)| c);
        if whole {
            if let Some(after) = find(page + 1) {
                return Ok(after.to_json());
            }
        }
        let Some(before) = find(page) else {
            return Err(convert::error(&pagewise::Error::new(
                pagewise::ErrorKind::Config,
                "no checkpoint: the stream has not started, or the sweep could not start",
            )));
        };
        if consumed == 0 {
            return Ok(before.to_json());
        }
        // The page in hand is the first pending page of the checkpoint taken
        // before it (pages are handed out in page order): its first
        // `consumed` records count as handed out.
        convert::skip_records(&before.to_json(), consumed)
    }

    /// The final report once `next()` resolved to `undefined` at the end of
    /// the sweep; `null` before, or if the sweep failed or was stopped.
    pub fn report(&self) -> JsValue {
        match &*self.state.report.borrow() {
            Some(r) => convert::report(r),
            None => JsValue::NULL,
        }
    }
}

//! The exported client and cursor.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use futures::future::{select, Either};
use futures::StreamExt;
use js_sys::Promise;
use pagewise::{RawPageStream, Report};
use serde_json::value::RawValue;
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

/// An async pagewise client over the global `fetch` (the engine of the JS `Client`).
#[wasm_bindgen]
pub struct RawClient {
    inner: pagewise::Client,
}

#[wasm_bindgen]
impl RawClient {
    /// A client from its options object; throws a `PagewiseError` (kind
    /// `config` or `url`) for bad options.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<RawClient, JsValue> {
        let api = config::api(options).map_err(|e| convert::error(&e))?;
        Ok(RawClient {
            inner: pagewise::Client::new(&api),
        })
    }

    /// `GET path` with `options` `{ query, signal }`, resolving to the
    /// parsed JSON body.
    pub fn get(&self, path: String, options: JsValue) -> Result<Promise, JsValue> {
        let (query, signal) = config::get_options(options).map_err(|e| convert::error(&e))?;
        let client = self.inner.clone();
        let stop = Rc::new(Stop::default());
        let watch = signal.map(|s| AbortWatch::new(s, stop.clone(), || {}));
        Ok(future_to_promise(async move {
            let pairs: Vec<(&str, &str)> = query
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let work = Box::pin(client.get_with_query::<Box<RawValue>>(&path, &pairs));
            let outcome = until_stopped(work, watch.as_ref().map(|_| &stop)).await;
            drop(watch);
            match outcome {
                Err(_) => Err(convert::cancelled()),
                Ok(Err(e)) => Err(convert::error(&e)),
                Ok(Ok(body)) => convert::parse(body.get(), None),
            }
        }))
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
        )
    }

    /// Opens a sweep of the collection at `path` with the list `options`
    /// (`{ query, order, pageSize, concurrency, window, deadlineMs, retry,
    /// verify, signal }`). It sends nothing until the first `next()`.
    pub fn pages(&self, path: &str, options: JsValue) -> Result<RawCursor, JsValue> {
        let retry = self.inner.api().spec().retry().clone();
        let (options, signal) =
            config::list_options(path, options, &retry).map_err(|e| convert::error(&e))?;
        let stream = self.inner.list(path).options(options).raw_pages();
        let state = Rc::new(CursorState {
            stream: RefCell::new(Some(stream)),
            report: RefCell::new(None),
            progress: Cell::new((0, Duration::ZERO)),
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

struct CursorState {
    /// The stream between two `next()` calls; taken out while one runs.
    stream: RefCell<Option<RawPageStream>>,
    /// The final report, once the sweep finished.
    report: RefCell<Option<Report>>,
    /// Retries and throttled time so far, as of the last page handed out.
    progress: Cell<(u64, Duration)>,
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
                    let so_far = stream.progress();
                    let total = so_far.and_then(|r| r.total);
                    if let Some(r) = so_far {
                        state.progress.set((r.retries.total(), r.throttled));
                    }
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

    /// `{ retries, throttledMs }` of the sweep so far, as of the last page
    /// `next()` resolved to: retries of every cause, time throttled.
    pub fn progress(&self) -> JsValue {
        let (retries, throttled) = self.state.progress.get();
        convert::progress(retries, throttled)
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

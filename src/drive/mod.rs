//! Drivers: the loops that feed the sans-IO core with answers and time.
//! This is the only place (with `transport`) that reads a clock or blocks.

pub(crate) mod asynch;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) mod blocking;
pub(crate) mod lease;
pub(crate) mod limiter;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) mod offload;

use crate::core::FromJson;

use std::sync::Arc;

use web_time::Instant;

use crate::core::{
    Checkpoint, Event, Fetch, FetchMany, ItemEvent, ManyEvent, Progress, RawPage, Report, Request,
    RequestId, Response, Sweep, TransportError, WriteJob, Written,
};
use crate::error::{Error, ErrorKind, Result};
use crate::Page;

/// What the drivers drive: every state machine of the core speaks this
/// vocabulary (see the run-loop contract in the crate docs).
pub(crate) trait Machine {
    type Event;
    fn poll_request(&mut self) -> Option<Request>;
    fn poll_event(&mut self) -> Option<Self::Event>;
    fn poll_timeout(&self) -> Option<Instant>;
    fn handle_timeout(&mut self, now: Instant);
    fn handle_response(
        &mut self,
        id: RequestId,
        answer: std::result::Result<Response, TransportError>,
        now: Instant,
    );
    /// The answer to `id` came in and will be handed over later (its lease
    /// was given back early, see [`Lease::arrived`](crate::transport::Lease::arrived)).
    fn handle_arrival(&mut self, _id: RequestId) {}
    fn in_flight(&self) -> usize;
    fn is_done(&self) -> bool;
    /// The event that ends the machine with `e`.
    fn failed(e: Error) -> Self::Event;
    /// The item an event hands out, for a many-items job (see
    /// `offload`: events taken ahead of the consumer are not done yet).
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    fn item_index(_event: &Self::Event) -> Option<usize> {
        None
    }
}

macro_rules! machine {
    ($ty:ty, $event:ty, $failed:expr $(, $item:expr)? $(; $arrival:ident)?) => {
        impl Machine for $ty {
            type Event = $event;
            fn poll_request(&mut self) -> Option<Request> {
                <$ty>::poll_request(self)
            }
            fn poll_event(&mut self) -> Option<Self::Event> {
                <$ty>::poll_event(self)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$ty>::poll_timeout(self)
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$ty>::handle_timeout(self, now)
            }
            fn handle_response(
                &mut self,
                id: RequestId,
                answer: std::result::Result<Response, TransportError>,
                now: Instant,
            ) {
                <$ty>::handle_response(self, id, answer, now)
            }
            fn in_flight(&self) -> usize {
                <$ty>::in_flight(self)
            }
            fn is_done(&self) -> bool {
                <$ty>::is_done(self)
            }
            fn failed(e: Error) -> Self::Event {
                $failed(e)
            }
            $(
                fn item_index(event: &Self::Event) -> Option<usize> {
                    $item(event)
                }
            )?
            $(
                fn handle_arrival(&mut self, id: RequestId) {
                    <$ty>::$arrival(self, id)
                }
            )?
        }
    };
}

machine!(Sweep, Event, Event::Failed; handle_arrival);
machine!(Fetch, Result<Response>, Err);
machine!(
    FetchMany,
    ManyEvent<Vec<u8>>,
    |e: Error| ManyEvent::Item(ItemEvent {
        index: usize::MAX,
        result: Err(e)
    }),
    many_item
);
machine!(
    WriteJob,
    ManyEvent<Written>,
    |e: Error| ManyEvent::Item(ItemEvent {
        index: usize::MAX,
        result: Err(e)
    }),
    many_item
);

/// The item a many-items event hands out.
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
fn many_item<T>(event: &ManyEvent<T>) -> Option<usize> {
    match event {
        ManyEvent::Item(e) if e.index != usize::MAX => Some(e.index),
        _ => None,
    }
}

/// A number for a sweep, unique in the process: the transports that parse
/// pages themselves tell sweeps apart by it (`Request::in_order`).
pub(crate) fn next_serial() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);
    NEXT_SERIAL.fetch_add(1, Ordering::Relaxed)
}

/// A seed for retry jitter: different per operation.
pub(crate) fn random_seed() -> u64 {
    random_bits() as u64
}

/// 128 bits from the operating system's random source (in WebAssembly,
/// `crypto.getRandomValues`): the seed of idempotency keys, which must
/// differ between processes and tabs that start a write at the same
/// instant. A clock and a counter do not: in WebAssembly the clock counts
/// milliseconds and each tab's counter starts at 0.
pub(crate) fn random_bits() -> u128 {
    let mut bytes = [0u8; 16];
    if getrandom::getrandom(&mut bytes).is_ok() {
        return u128::from_le_bytes(bytes);
    }
    // No random source (an exotic platform): the clock and a counter,
    // still distinct within this process.
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    nanos ^ u128::from(COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)) << 64
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

//! The driver: the one loop that feeds the sans-IO core with answers and
//! time ([`asynch::AsyncDriver`], polled by any executor), and
//! [`block_on`](block_on::block_on), on which the blocking facade runs it.
//! This is the only place (with `transport`) that reads a clock or blocks.
//!
//! Below: the core, the shared handles (limiter, pacer), the
//! [`AsyncTransport`](crate::transport::AsyncTransport) trait. The driver
//! names no concrete transport and no `Api`.

pub(crate) mod asynch;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) mod block_on;

use web_time::Instant;

use crate::core::{
    Event, Fetch, FetchMany, ItemEvent, ManyEvent, Request, RequestId, Response, Sweep,
    TransportError, WriteJob, Written,
};
use crate::error::{Error, Result};

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
}

macro_rules! machine {
    ($ty:ty, $event:ty, $failed:expr $(; $arrival:ident)?) => {
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
                fn handle_arrival(&mut self, id: RequestId) {
                    <$ty>::$arrival(self, id)
                }
            )?
        }
    };
}

machine!(Sweep, Event, Event::Failed; handle_arrival);
machine!(Fetch, Result<Response>, Err);
machine!(FetchMany<'_>, ManyEvent<Vec<u8>>, |e: Error| {
    ManyEvent::Item(ItemEvent {
        index: usize::MAX,
        result: Err(e),
    })
});
machine!(
    WriteJob<'_>,
    ManyEvent<Written>,
    |e: Error| ManyEvent::Item(ItemEvent {
        index: usize::MAX,
        result: Err(e)
    })
);

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

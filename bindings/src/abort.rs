//! Stopping work from JS: an `AbortSignal` (or the consumer closing a
//! cursor) trips a [`Stop`] flag; a future waiting on it wakes, and whoever
//! races it against the work drops the work. Dropping the work is what
//! cancels: the sweep's fetch futures abort their requests when dropped.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::AbortSignal;

/// Why work was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The caller's `AbortSignal` fired: the operation fails as cancelled.
    Aborted,
    /// The consumer closed the cursor (an early `break`): it simply ends.
    Closed,
}

/// A one-shot flag with a waker.
#[derive(Debug, Default)]
pub(crate) struct Stop {
    reason: Cell<Option<Reason>>,
    waker: RefCell<Option<Waker>>,
}

impl Stop {
    /// Trips the flag (the first reason wins) and wakes the waiting future.
    pub(crate) fn trip(&self, reason: Reason) {
        if self.reason.get().is_none() {
            self.reason.set(Some(reason));
        }
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Why it was tripped, if it was.
    pub(crate) fn reason(&self) -> Option<Reason> {
        self.reason.get()
    }
}

/// Resolves once the flag is tripped.
pub(crate) struct Stopped(pub(crate) Rc<Stop>);

impl Future for Stopped {
    type Output = Reason;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reason> {
        match self.0.reason() {
            Some(r) => Poll::Ready(r),
            None => {
                let mut slot = self.0.waker.borrow_mut();
                if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *slot = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

/// An `abort` listener on a signal, removed again when this is dropped.
pub(crate) struct AbortWatch {
    signal: AbortSignal,
    listener: Closure<dyn FnMut()>,
}

impl AbortWatch {
    /// Trips `stop` (and runs `then`) when `signal` aborts; at once if it
    /// has already aborted.
    pub(crate) fn new(
        signal: AbortSignal,
        stop: Rc<Stop>,
        mut then: impl FnMut() + 'static,
    ) -> Self {
        if signal.aborted() {
            stop.trip(Reason::Aborted);
        }
        let listener = Closure::wrap(Box::new(move || {
            stop.trip(Reason::Aborted);
            then();
        }) as Box<dyn FnMut()>);
        // Adding a listener to a real AbortSignal cannot fail; the JS layer
        // checked that it is one.
        let _ = signal.add_event_listener_with_callback("abort", listener.as_ref().unchecked_ref());
        AbortWatch { signal, listener }
    }
}

impl Drop for AbortWatch {
    fn drop(&mut self) {
        let _ = self
            .signal
            .remove_event_listener_with_callback("abort", self.listener.as_ref().unchecked_ref());
    }
}

//! Runs a future to its end on the calling thread: the blocking facade runs
//! the one async driver this way. The waker unparks the thread.
//!
//! Not `futures::executor::block_on`: that one refuses to run inside
//! another of its kind (it panics), and a blocking client may be used from
//! a progress callback of another, or from a task of an executor that
//! blocks on its futures.

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::Thread;

use futures::task::{waker_ref, ArcWake};

/// Wakes the thread it was made on.
struct Unpark {
    thread: Thread,
    woken: AtomicBool,
}

impl ArcWake for Unpark {
    fn wake_by_ref(this: &Arc<Self>) {
        this.woken.store(true, Ordering::Release);
        this.thread.unpark();
    }
}

thread_local! {
    static UNPARK: Arc<Unpark> = Arc::new(Unpark {
        thread: std::thread::current(),
        woken: AtomicBool::new(false),
    });
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Polls `future` on this thread until it is ready, parking in between.
///
/// ```ignore
/// assert_eq!(block_on(async { 1 + 1 }), 2);
/// ```
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let unpark = UNPARK.with(Arc::clone);
    let waker = waker_ref(&unpark);
    let mut cx = Context::from_waker(&waker);
    DEPTH.with(|d| d.set(d.get() + 1));
    let out = loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            break out;
        }
        while !unpark.woken.swap(false, Ordering::Acquire) {
            std::thread::park();
        }
    };
    let depth = DEPTH.with(|d| {
        d.set(d.get() - 1);
        d.get()
    });
    if depth > 0 {
        // Nested in another `block_on` on this thread, which shares the flag:
        // a wake meant for it may have been taken here. It looks once more.
        unpark.woken.store(true, Ordering::Release);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::block_on;
    use std::time::Duration;

    #[test]
    fn waits_for_a_wake_from_another_thread_and_nests() {
        let (tx, rx) = futures::channel::oneshot::channel();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let _ = tx.send(7);
        });
        let got = block_on(async {
            let inner = block_on(async { 1 });
            rx.await.unwrap() + inner
        });
        assert_eq!(got, 8);
    }
}

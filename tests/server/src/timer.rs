//! The server's latency, waited to about a tenth of a millisecond.
//!
//! tokio's timer counts whole milliseconds and rounds a deadline up, and its
//! driver sleeps in whole milliseconds too: a 20 ms sleep ended 1.2–1.4 ms
//! late on this kind of machine (measured with the benchmark's
//! `floor-threads` client at concurrency 1: 21.37 ms per request). A
//! benchmark's floor assumes the configured latency, so the answers wait here
//! instead: one thread keeps the deadlines in a heap and sleeps on a condition
//! variable until the earliest (a futex with a nanosecond timeout).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

struct Due {
    at: Instant,
    seq: u64,
    tx: oneshot::Sender<()>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    // Reversed: the heap's top is the earliest deadline.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

#[derive(Default)]
struct Timer {
    heap: Mutex<(BinaryHeap<Due>, u64)>,
    changed: Condvar,
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<&'static Timer> = OnceLock::new();
    TIMER.get_or_init(|| {
        let t: &'static Timer = Box::leak(Box::default());
        std::thread::Builder::new()
            .name("testserver-timer".into())
            .spawn(move || t.run())
            .expect("the timer thread starts");
        t
    })
}

impl Timer {
    fn run(&self) {
        let mut guard = self.heap.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let now = Instant::now();
            while guard.0.peek().is_some_and(|d| d.at <= now) {
                if let Some(due) = guard.0.pop() {
                    let _ = due.tx.send(());
                }
            }
            guard = match guard.0.peek().map(|d| d.at - now) {
                Some(wait) => {
                    self.changed
                        .wait_timeout(guard, wait)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self.changed.wait(guard).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }

    fn add(&self, at: Instant) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let mut guard = self.heap.lock().unwrap_or_else(|e| e.into_inner());
        let seq = guard.1;
        guard.1 += 1;
        let earliest = guard.0.peek().is_none_or(|d| at < d.at);
        guard.0.push(Due { at, seq, tx });
        drop(guard);
        if earliest {
            self.changed.notify_one();
        }
        rx
    }
}

/// Waits `d` (measured from now) to within about 0.1 ms.
pub(crate) async fn sleep(d: Duration) {
    if d.is_zero() {
        return;
    }
    let _ = timer().add(Instant::now() + d).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sleeps_end_in_order_and_not_early() {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for ms in [30u64, 10, 20, 10, 0] {
            tasks.push(tokio::spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                (ms, start.elapsed())
            }));
        }
        for t in tasks {
            let (ms, took) = t.await.unwrap();
            assert!(
                took >= Duration::from_millis(ms),
                "{ms} ms ended after {took:?}"
            );
        }
    }
}

//! A bounded set of reusable worker threads for blocking HTTP calls: a
//! thread is started only when no idle one can take a job and fewer than the
//! bound run; jobs beyond the bound wait in line. Threads end after a
//! minute idle, or at once when the pool is closed (its transport dropped).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send + 'static>;

const IDLE_EXIT: Duration = Duration::from_secs(60);

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    idle: usize,
    threads: usize,
    closed: bool,
}

pub(crate) struct Pool {
    state: Mutex<State>,
    wake: Condvar,
    max_threads: usize,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("max_threads", &self.max_threads)
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool of at most `max_threads` threads (at least 1).
    pub(crate) fn new(max_threads: usize) -> Arc<Self> {
        Arc::new(Pool {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            max_threads: max_threads.max(1),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Jobs run outside the lock and their panics are caught: the state
        // is always consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `job` on a pool thread: an idle one, a new one if the bound
    /// allows, else the first to finish what it is doing.
    pub(crate) fn spawn(self: &Arc<Self>, job: impl FnOnce() + Send + 'static) {
        let mut st = self.lock();
        st.queue.push_back(Box::new(job));
        if st.idle >= st.queue.len() {
            drop(st);
            self.wake.notify_one();
            return;
        }
        if st.threads >= self.max_threads {
            return;
        }
        st.threads += 1;
        drop(st);
        let pool = self.clone();
        let started = std::thread::Builder::new()
            .name("pagewise-io".into())
            .spawn(move || pool.work());
        if started.is_err() {
            // No thread: the job waits for a running one; with none at all it
            // is dropped, which its sender sees as a transport error.
            let mut st = self.lock();
            st.threads -= 1;
            if st.threads == 0 {
                st.queue.clear();
            }
        }
    }

    /// Threads alive now.
    pub(crate) fn threads(&self) -> usize {
        self.lock().threads
    }

    /// Ends the idle threads now and the others after their job.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_all();
    }

    fn work(&self) {
        let mut st = self.lock();
        loop {
            if let Some(job) = st.queue.pop_front() {
                drop(st);
                // A panicking job must not take the thread's accounting down with it.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                st = self.lock();
                continue;
            }
            if st.closed {
                st.threads -= 1;
                return;
            }
            st.idle += 1;
            let (guard, timeout) = self
                .wake
                .wait_timeout(st, IDLE_EXIT)
                .unwrap_or_else(|e| e.into_inner());
            st = guard;
            st.idle -= 1;
            if timeout.timed_out() && st.queue.is_empty() {
                st.threads -= 1;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn threads_are_bounded_and_reused() {
        let pool = Pool::new(3);
        let done = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 0..30 {
            let done = done.clone();
            let tx = tx.clone();
            pool.spawn(move || {
                std::thread::sleep(Duration::from_millis(2));
                done.fetch_add(1, Ordering::SeqCst);
                let _ = tx.send(std::thread::current().id());
            });
            assert!(pool.threads() <= 3);
        }
        let ids: std::collections::HashSet<_> = (0..30)
            .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        assert_eq!(done.load(Ordering::SeqCst), 30);
        assert!(ids.len() <= 3, "{} threads", ids.len());
        pool.close();
        for _ in 0..1000 {
            if pool.threads() == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(pool.threads(), 0);
    }
}

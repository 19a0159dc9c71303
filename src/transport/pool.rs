//! A pool of reusable worker threads for blocking HTTP calls: threads are
//! started on demand, reused for later requests, and end after a minute idle.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send + 'static>;

const IDLE_EXIT: Duration = Duration::from_secs(60);
const MAX_THREADS: usize = 1024;

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    idle: usize,
    threads: usize,
}

pub(crate) struct Pool {
    state: Mutex<State>,
    wake: Condvar,
}

impl Pool {
    /// The process-wide pool.
    pub(crate) fn global() -> &'static Arc<Pool> {
        static POOL: OnceLock<Arc<Pool>> = OnceLock::new();
        POOL.get_or_init(|| {
            Arc::new(Pool {
                state: Mutex::new(State::default()),
                wake: Condvar::new(),
            })
        })
    }

    /// Runs `job` on a pool thread, starting one if none is idle.
    pub(crate) fn spawn(self: &Arc<Self>, job: impl FnOnce() + Send + 'static) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.queue.push_back(Box::new(job));
        // Each idle thread can take one queued job; start a thread for the rest.
        if st.idle >= st.queue.len() {
            self.wake.notify_one();
        } else if st.threads < MAX_THREADS {
            st.threads += 1;
            drop(st);
            let pool = self.clone();
            let started = std::thread::Builder::new()
                .name("pagewise-io".into())
                .spawn(move || pool.work());
            if started.is_err() {
                let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                st.threads -= 1;
            }
        }
    }

    /// Threads alive now (for tests and diagnostics).
    #[allow(dead_code)]
    pub(crate) fn threads(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).threads
    }

    fn work(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(job) = st.queue.pop_front() {
                drop(st);
                // A panicking job must not take the thread's accounting down with it.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                continue;
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

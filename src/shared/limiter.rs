//! The one concurrency limiter shared by every client made from an `Api`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_lock::{Semaphore, SemaphoreGuardArc};

/// Bounds the requests in flight across every client, facade and operation
/// made from one [`Api`](crate::Api): a blocking thread and an async task
/// pulling through the same `Api` share one limit.
///
/// ```
/// let limiter = pagewise::Limiter::new(2);
/// let a = limiter.try_acquire().unwrap();
/// let _b = limiter.try_acquire().unwrap();
/// assert!(limiter.try_acquire().is_none());
/// drop(a);
/// assert_eq!(limiter.in_use(), 1);
/// assert_eq!(limiter.max_in_use(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct Limiter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    sem: Arc<Semaphore>,
    limit: usize,
    in_use: AtomicUsize,
    max_in_use: AtomicUsize,
}

/// A slot of the limiter, given back when dropped.
#[derive(Debug)]
pub struct Permit {
    _guard: SemaphoreGuardArc,
    inner: Arc<Inner>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.inner.in_use.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Limiter {
    /// A limiter allowing `limit` holders at once (at least 1).
    pub fn new(limit: usize) -> Self {
        let limit = limit.max(1);
        Limiter {
            inner: Arc::new(Inner {
                sem: Arc::new(Semaphore::new(limit)),
                limit,
                in_use: AtomicUsize::new(0),
                max_in_use: AtomicUsize::new(0),
            }),
        }
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.inner.limit
    }

    /// Permits held now.
    pub fn in_use(&self) -> usize {
        self.inner.in_use.load(Ordering::SeqCst)
    }

    /// The most permits ever held at once.
    pub fn max_in_use(&self) -> usize {
        self.inner.max_in_use.load(Ordering::SeqCst)
    }

    fn permit(&self, guard: SemaphoreGuardArc) -> Permit {
        let now = self.inner.in_use.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner.max_in_use.fetch_max(now, Ordering::SeqCst);
        Permit {
            _guard: guard,
            inner: self.inner.clone(),
        }
    }

    /// Waits for a permit (any executor; no runtime needed).
    pub async fn acquire(&self) -> Permit {
        let guard = self.inner.sem.acquire_arc().await;
        self.permit(guard)
    }

    /// A permit if one is free now.
    pub fn try_acquire(&self) -> Option<Permit> {
        self.inner.sem.try_acquire_arc().map(|g| self.permit(g))
    }

    /// Blocks the thread until a permit is free (native targets only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn acquire_blocking(&self) -> Permit {
        let guard = self.inner.sem.acquire_arc_blocking();
        self.permit(guard)
    }
}

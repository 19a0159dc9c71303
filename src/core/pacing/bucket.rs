//! A token bucket: the fixed rate limit, and the learnt rate.

use std::time::Duration;

use web_time::Instant;

/// A token bucket.
#[derive(Debug, Clone)]
pub(super) struct Bucket {
    pub(super) per_second: f64,
    pub(super) burst: f64,
    pub(super) tokens: f64,
    pub(super) at: Option<Instant>,
}

impl Bucket {
    pub(super) fn new(per_second: f64, burst: f64) -> Self {
        Bucket {
            per_second,
            burst,
            tokens: burst,
            at: None,
        }
    }

    pub(super) fn refill(&mut self, now: Instant) {
        if let Some(at) = self.at {
            let dt = now.saturating_duration_since(at).as_secs_f64();
            self.tokens = (self.tokens + dt * self.per_second).min(self.burst);
        }
        self.at = Some(now);
    }

    /// `None` if a token is there now, else when the next one will be.
    pub(super) fn wait(&mut self, now: Instant) -> Option<Instant> {
        self.refill(now);
        let secs = (1.0 - self.tokens) / self.per_second.max(1e-9);
        // Waits that round to less than a microsecond are no wait: rounding
        // must not make a driver spin on the same instant.
        if self.tokens >= 1.0 || secs < 1e-6 {
            self.tokens = self.tokens.max(1.0);
            None
        } else {
            Some(now + Duration::from_secs_f64(secs.min(3600.0)))
        }
    }

    pub(super) fn take(&mut self) {
        self.tokens -= 1.0;
    }
}

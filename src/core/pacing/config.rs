//! What a pacer is told: a fixed rate limit, adaptive pacing, cooldowns.

use std::time::Duration;

/// How requests are paced, for every operation of an `Api`.
///
/// ```
/// use pagewise::Pacing;
/// let pacing = Pacing::default()          // adaptive concurrency and rate: on
///     .rate_limit(50.0, 10)               // and never above 50 requests/s, bursts of 10
///     .adaptive(true);
/// # let _ = pacing;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Pacing {
    pub(crate) rate: Option<(f64, u32)>,
    pub(crate) adaptive: bool,
    pub(crate) cooldown_without_retry_after: Duration,
    pub(crate) max_cooldown: Duration,
}

impl Default for Pacing {
    /// No fixed rate limit; adaptive concurrency and rate on; a 429 without
    /// `Retry-After` pauses the client for 1 s; no pause longer than 120 s.
    fn default() -> Self {
        Pacing {
            rate: None,
            adaptive: true,
            cooldown_without_retry_after: Duration::from_secs(1),
            max_cooldown: Duration::from_secs(120),
        }
    }
}

impl Pacing {
    /// At most `per_second` requests per second, in bursts of at most `burst`.
    pub fn rate_limit(mut self, per_second: f64, burst: u32) -> Self {
        self.rate = Some((per_second, burst.max(1)));
        self
    }
    /// Adapt to the server (default on).
    ///
    /// On 503 (without `Retry-After`), 502, 504 or a timeout, halve the
    /// concurrency (at most once per round of requests); after a window of
    /// successes, add one again. It stays between 1 and the configured one.
    ///
    /// On 429 (or 503 with `Retry-After`), learn the server's rate: the first
    /// one pauses every request for its `Retry-After` (and halves the
    /// concurrency), and the rate then starts from what the first burst got
    /// through and grows quickly until the next 429. From then on each 429
    /// measures the rate the server's bucket refills at, from the requests it
    /// let through since the last one, and the client keeps to just under it;
    /// such a 429 holds back only its own request (which still waits its
    /// `Retry-After`), not the others. When the first burst went out over
    /// time (a browser's six connections per origin), the server refilled
    /// while it went, its burst is a guess and the first measurement with
    /// it too: the rate backs off from the one turned away, and the next
    /// 429 measures it from an empty bucket; if the bounds it gives contradict
    /// each other, the burst was taken too large and is lowered until they
    /// agree. The rate is probed upwards slowly,
    /// faster the longer no 429 comes, so a server that allows more is found.
    /// Several 429s in a row too soon to measure anything back the rate off,
    /// and pause everyone again.
    ///
    /// Off: every 429 pauses every request for its `Retry-After`, and
    /// nothing is learnt.
    pub fn adaptive(mut self, on: bool) -> Self {
        self.adaptive = on;
        self
    }
    /// How long a 429 without `Retry-After` pauses the client, when it pauses
    /// it (see [`adaptive`](Pacing::adaptive); default 1 s).
    pub fn cooldown_without_retry_after(mut self, d: Duration) -> Self {
        self.cooldown_without_retry_after = d;
        self
    }
    /// The longest pause a `Retry-After` can impose (default 120 s).
    pub fn max_cooldown(mut self, d: Duration) -> Self {
        self.max_cooldown = d;
        self
    }
}

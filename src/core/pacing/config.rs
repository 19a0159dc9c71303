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
    pub(crate) rate_limit_headers: bool,
}

impl Default for Pacing {
    /// No fixed rate limit; adaptive concurrency and rate on; rate-limit
    /// headers followed; a 429 without `Retry-After` pauses the client for
    /// 1 s; no pause longer than 120 s.
    fn default() -> Self {
        Pacing {
            rate: None,
            adaptive: true,
            cooldown_without_retry_after: Duration::from_secs(1),
            max_cooldown: Duration::from_secs(120),
            rate_limit_headers: true,
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
    /// Follow the budget a server announces in rate-limit headers (default on).
    ///
    /// Read from every answer: `RateLimit-Limit` / `-Remaining` / `-Reset`
    /// (IETF draft; reset in seconds), the combined `RateLimit: limit=..,
    /// remaining=.., reset=..` field (or its structured form `r=..;t=..`),
    /// and `X-RateLimit-Limit` / `-Remaining` / `-Reset` (GitHub and many
    /// others; a reset above 10⁹ is an instant in seconds since 1970,
    /// measured against the answer's `Date`). Half of what remains may go at
    /// once; the rest is spread evenly over the time to the reset, and at
    /// remaining 0 every request waits for the reset, so the client slows
    /// down before the server says 429. Requests sent after the answer that
    /// told the budget count against it. Values that are not a non-negative
    /// number are ignored; a reset further than
    /// [`max_cooldown`](Pacing::max_cooldown) is waited for that long, then
    /// one request asks again.
    ///
    /// ```
    /// use pagewise::Pacing;
    /// let pacing = Pacing::default().rate_limit_headers(false); // ignore them
    /// # let _ = pacing;
    /// ```
    pub fn rate_limit_headers(mut self, on: bool) -> Self {
        self.rate_limit_headers = on;
        self
    }
}

//! What a pacer has done so far.

use std::time::Duration;

/// What the pacer has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PacerStats {
    /// Throttling answers (429 / 503 with `Retry-After`) received.
    pub throttles: u64,
    /// Time during which a cooldown held every request back.
    pub throttled: Duration,
    /// Times the adaptive concurrency was halved.
    pub decreases: u64,
    /// Times it grew by one.
    pub increases: u64,
    /// The 429s were found not to come from a rate (load shedding): they
    /// are retried, and nothing is learnt from them.
    pub shedding: bool,
}

//! The budget a server announces in its rate-limit headers, kept to: the
//! remaining requests spread over the time to the reset, and none at all
//! once they are spent, until the reset.

use std::time::Duration;

use web_time::Instant;

use super::bucket::Bucket;
use super::headers::Budget;

/// Share of the remaining budget that may go at once; the rest is spread
/// evenly over the time to the reset. A sweep smaller than half the budget
/// is never slowed down.
const BURST_SHARE: f64 = 0.5;

/// What the quota says about a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Go,
    WaitUntil(Instant),
    /// Spent, and the reset is past: wait for an answer to say the new budget.
    WaitForAnswer,
}

/// The budget the newest answer announced, less the requests sent since.
#[derive(Debug, Clone)]
pub(super) struct Quota {
    /// Requests that may still go before the reset.
    left: f64,
    /// When the window resets (never later than the longest cooldown).
    reset_at: Option<Instant>,
    /// The reset was further away than the longest cooldown: at the
    /// clamped one, only one request goes to ask again.
    clamped: bool,
    /// The window's size, if said: what may go after the reset before an
    /// answer tells the new budget.
    limit: Option<f64>,
    /// The admission the newest reading came with: older answers are stale.
    seq: u64,
    spread: Option<Bucket>,
}

impl Quota {
    /// The first reading.
    pub(super) fn new() -> Self {
        Quota {
            left: f64::INFINITY,
            reset_at: None,
            clamped: false,
            limit: None,
            seq: 0,
            spread: None,
        }
    }

    /// Reads the budget announced by the answer to admission `seq`;
    /// `last_seq` is the newest admission (requests sent after `seq` are
    /// not counted in what the server said was left).
    pub(super) fn read(
        &mut self,
        budget: Budget,
        seq: u64,
        last_seq: u64,
        now: Instant,
        max_wait: Duration,
    ) {
        if seq < self.seq {
            return;
        }
        self.seq = seq;
        let since = last_seq.saturating_sub(seq) as f64;
        self.left = (budget.remaining as f64 - since).max(0.0);
        self.limit = budget.limit.map(|l| l as f64);
        self.clamped = budget.reset > max_wait;
        self.reset_at = Some(now + budget.reset.min(max_wait));
        let secs = budget.reset.as_secs_f64().max(1e-3);
        let burst = (self.left * BURST_SHARE).max(1.0);
        let per_second = self.left / secs;
        let mut b = self
            .spread
            .take()
            .unwrap_or_else(|| Bucket::new(per_second, burst));
        b.refill(now);
        b.per_second = per_second.max(1e-6);
        b.burst = burst;
        b.tokens = b.tokens.min(burst);
        self.spread = Some(b);
    }

    /// May a request go now (`in_flight` requests are unanswered)?
    pub(super) fn check(&mut self, now: Instant, in_flight: usize) -> Verdict {
        if let Some(reset) = self.reset_at {
            if now >= reset {
                // A new window: the whole of it, or a single request when
                // the reset named was beyond what we wait.
                self.left = if self.clamped {
                    1.0
                } else {
                    self.limit.unwrap_or(f64::INFINITY).max(1.0)
                };
                self.reset_at = None;
                self.spread = None;
            }
        }
        match self.reset_at {
            Some(reset) if self.left < 1.0 => Verdict::WaitUntil(reset),
            Some(reset) => match self.spread.as_mut().and_then(|b| b.wait(now)) {
                Some(at) => Verdict::WaitUntil(at.min(reset)),
                None => Verdict::Go,
            },
            None if self.left < 1.0 && in_flight > 0 => Verdict::WaitForAnswer,
            None => Verdict::Go,
        }
    }

    /// A request went.
    pub(super) fn take(&mut self) {
        self.left = (self.left - 1.0).max(0.0);
        if let Some(b) = self.spread.as_mut() {
            b.take();
        }
    }
}

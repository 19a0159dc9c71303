//! Measuring the server's rate from what it let through and what it turned away.

use web_time::Instant;

/// Where between the bounds of the server's rate the learnt rate settles.
const TARGET_SHARE: f64 = 0.25;
/// Tokens of slack in a fit, for requests that reach the server in another order.
pub(super) const SLACK: f64 = 0.1;
/// Seconds of slack in a fit, for requests that reach the server sooner or later.
const TIME_SLACK: f64 = 0.005;

/// Where a measurement of the server's rate starts: an instant at which the
/// server's bucket was full (the first request, the end of a pause) or empty
/// (a 429), the tokens it then held, and the requests admitted since.
#[derive(Debug, Clone)]
pub(super) struct Mark {
    pub(super) at: Instant,
    pub(super) tokens: f64,
    /// `(sequence number, admitted at)`, oldest first; `complete` while none
    /// was dropped for room.
    pub(super) sent: std::collections::VecDeque<Sent>,
    pub(super) complete: bool,
}

/// A request admitted since a mark: its sequence number, when it left and,
/// once answered, when the answer came.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sent {
    pub(super) seq: u64,
    pub(super) at: Instant,
    pub(super) answered: Option<Instant>,
}

/// The rates of a token bucket with `burst` tokens that let every request
/// of `sent` through and turned away one at `rejected`: `(lo, hi)`, the
/// bucket holding `tokens` (± half a token) at `start` if that is known.
pub(super) fn fit(
    sent: &[(Instant, Instant)],
    rejected: Instant,
    start: Option<(Instant, f64)>,
    burst: f64,
) -> (f64, f64) {
    let secs = |a: Instant, b: Instant| b.saturating_duration_since(a).as_secs_f64();
    // The server saw each request between its leaving and its answer: the
    // lower bound takes the longest such window, the upper one a window a
    // little shorter than the times they left.
    let shorter = |dt: f64| (dt - TIME_SLACK).max(TIME_SLACK);
    let mut lo: f64 = 0.0;
    let mut hi: f64 = 0.0;
    // Every request of sent[i..=j] got a token: at most the burst was there
    // at sent[i], the rest was refilled by sent[j].
    for (j, &(_, aj)) in sent.iter().enumerate() {
        for (i, &(si, _)) in sent[..j].iter().enumerate() {
            let n = (j - i + 1) as f64 - burst - SLACK;
            if n > 0.0 {
                lo = lo.max(n / secs(si, aj).max(TIME_SLACK));
            }
        }
        if let Some((at, tokens)) = start {
            let n = (j + 1) as f64 - (tokens + 0.5) - SLACK;
            if n > 0.0 {
                lo = lo.max(n / secs(at, aj).max(TIME_SLACK));
            }
        }
    }
    // The rejected one found no token: since some sent[i], more were asked
    // for than the burst and the refill gave. The server saw sent[i] before
    // its answer came and the rejected one after it left: the window is at
    // least that long, however late requests went on the wire after they
    // were let go (a browser's).
    let m = sent.len();
    for (i, &(_, ai)) in sent.iter().enumerate() {
        let n = (m - i + 1) as f64 - burst + SLACK;
        hi = hi.max(n / shorter(secs(ai, rejected)));
    }
    if let Some((at, tokens)) = start {
        let n = (m + 1) as f64 - (tokens - 0.5) + SLACK;
        hi = hi.max(n / shorter(secs(at, rejected)));
    }
    (lo, hi)
}

/// The rate to settle at, between the bounds of the server's rate: near the
/// lower one, which the server surely sustains.
pub(super) fn target(lo: f64, hi: f64) -> f64 {
    lo + (hi - lo).max(0.0) * TARGET_SHARE
}

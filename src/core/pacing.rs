//! Pacing: when the next request may go. One pacer serves every operation of
//! an `Api`, so a learnt rate or concurrency applies to the whole client, and
//! the first 429 pauses all of them. Pure: time comes in as `now`.
//!
//! The learnt rate comes from treating the server as a token bucket. A 429
//! says the bucket was empty when that request arrived; every request let
//! through before it since a known point (the bucket full at the start or
//! after a pause, or empty at the previous 429) bounds the bucket's rate from
//! below, and the 429 itself bounds it from above (see `fit`). The burst is
//! what the first fan-out got through, less what the bucket refilled
//! meanwhile. The rate settles near the lower bound, and probes upwards
//! slowly, and faster the longer no 429 comes.

use std::time::Duration;

use web_time::Instant;

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

/// Whether a request may be sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Send it now; hand the ticket back with its answer.
    Go(Ticket),
    /// Not before this instant (a cooldown or the rate limit).
    WaitUntil(Instant),
    /// Not until a request in flight is answered (the adaptive concurrency is reached).
    WaitForAnswer,
}

/// Proof that the pacer admitted a request; give it back with the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    seq: u64,
}

/// How an admitted request ended, as far as pacing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Any answer that is not a throttle or overload (success or a client error).
    Ok,
    /// 429, or 503 with `Retry-After`: the server asks us to slow down.
    Throttled {
        /// The server's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// 503 (without `Retry-After`) or 502/504, a timeout: the server is struggling.
    Overloaded,
    /// The request was never answered (cancelled, connection failed).
    Dropped,
}

impl Outcome {
    /// Classifies an answer (or its absence) for pacing.
    pub fn of(answer: &Result<super::http::Response, super::http::TransportError>) -> Outcome {
        use super::http::TransportErrorKind;
        match answer {
            Ok(resp) => Outcome::of_status(resp.status, super::retry::retry_after(resp)),
            Err(e) if e.kind == TransportErrorKind::Timeout => Outcome::Overloaded,
            Err(_) => Outcome::Dropped,
        }
    }

    /// Classifies an answer with `status` and the `Retry-After` it named, if any.
    pub fn of_status(status: u16, retry_after: Option<Duration>) -> Outcome {
        match status {
            429 => Outcome::Throttled { retry_after },
            503 if retry_after.is_some() => Outcome::Throttled { retry_after },
            502..=504 => Outcome::Overloaded,
            _ => Outcome::Ok,
        }
    }
}

/// What the pacer has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PacerStats {
    /// Throttling answers (429 / 503 with `Retry-After`) received.
    pub throttles: u64,
    /// Time during which a cooldown held every request back.
    pub throttled: Duration,
    /// Times the adaptive concurrency was halved.
    pub decreases: u64,
    /// Times it grew by one.
    pub increases: u64,
}

/// Growth of the learnt rate per second before the server's rate is
/// measured (after the first pause) and while it is below the estimate.
const RAMP_PER_SECOND: f64 = 8.0;
/// The slowest growth of the learnt rate per second once it is at the
/// estimate: a probe, so a server that allows more is found in time. An
/// estimate known only roughly is probed faster, by its uncertainty a second.
const PROBE_PER_SECOND: f64 = 0.003;
/// Seconds without a 429 before the learnt rate probes beyond the upper
/// bound of the server's rate; the probe then speeds up with the square of
/// the time (four times as fast after twice that time).
const PROBE_QUIET: f64 = 10.0;
/// The fastest probe, for an estimate known only roughly.
const MAX_PROBE_PER_SECOND: f64 = 0.2;
/// Where between the bounds of the server's rate the learnt rate settles.
const TARGET_SHARE: f64 = 0.25;
/// Successes since the last 429 below which a new one says the rate we
/// pace at is too high.
const MIN_MEASURED: f64 = 4.0;
/// Multiplicative decrease on a 429 that came too soon to measure anything.
const BACKOFF: f64 = 0.7;
/// Throttling episodes in a row that measured nothing before every request
/// is paused again for the whole `Retry-After`.
const UNMEASURED_LIMIT: u32 = 4;
/// Tokens of slack in a fit, for requests that reach the server in another order.
const SLACK: f64 = 0.1;
/// Seconds of slack in a fit, for requests that reach the server sooner or later.
const TIME_SLACK: f64 = 0.005;
/// Throttling episodes remembered for measuring over a longer time.
const EMPTIES: usize = 16;
/// Seconds of requests the learnt rate lets a driver that woke late catch up on.
const LATE: f64 = 0.05;
/// Admissions remembered for measuring the server's rate.
const LOG: usize = 512;

/// A token bucket.
#[derive(Debug, Clone)]
struct Bucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    at: Option<Instant>,
}

impl Bucket {
    fn new(per_second: f64, burst: f64) -> Self {
        Bucket {
            per_second,
            burst,
            tokens: burst,
            at: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        if let Some(at) = self.at {
            let dt = now.saturating_duration_since(at).as_secs_f64();
            self.tokens = (self.tokens + dt * self.per_second).min(self.burst);
        }
        self.at = Some(now);
    }

    /// `None` if a token is there now, else when the next one will be.
    fn wait(&mut self, now: Instant) -> Option<Instant> {
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

    fn take(&mut self) {
        self.tokens -= 1.0;
    }
}

/// Where a measurement of the server's rate starts: an instant at which the
/// server's bucket was full (the first request, the end of a pause) or empty
/// (a 429), the tokens it then held, and the requests admitted since.
#[derive(Debug, Clone)]
struct Mark {
    at: Instant,
    tokens: f64,
    /// `(sequence number, admitted at)`, oldest first; `complete` while none
    /// was dropped for room.
    sent: std::collections::VecDeque<Sent>,
    complete: bool,
}

/// A request admitted since a mark: its sequence number, when it left and,
/// once answered, when the answer came.
#[derive(Debug, Clone, Copy)]
struct Sent {
    seq: u64,
    at: Instant,
    answered: Option<Instant>,
}

/// The rates of a token bucket with `burst` tokens that let every request
/// of `sent` through and turned away one at `rejected`: `(lo, hi)`, the
/// bucket holding `tokens` (± half a token) at `start` if that is known.
fn fit(
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
fn target(lo: f64, hi: f64) -> f64 {
    lo + (hi - lo).max(0.0) * TARGET_SHARE
}

/// The pacing state shared by every operation of an `Api`.
#[derive(Debug, Clone)]
pub struct Pacer {
    config: Pacing,
    max_concurrency: usize,
    limit: usize,
    in_flight: usize,
    seq: u64,
    successes: usize,
    /// Answers to requests sent before this sequence number cannot cause
    /// another decrease: one decrease per round, as TCP does per RTT.
    decrease_epoch: u64,
    /// Likewise for throttling: 429s to requests sent before this sequence
    /// number belong to an episode already handled.
    throttle_epoch: u64,
    cooldown_until: Option<Instant>,
    /// A pause for everyone is under way: the server's bucket refills, so a
    /// measurement starts afresh when it ends.
    paused: bool,
    fixed: Option<Bucket>,
    learnt: Option<Bucket>,
    /// Bounds of the server's sustained rate, as measured so far.
    estimate: Option<(f64, f64)>,
    /// The first throttling episode: successes of the requests sent before
    /// it was handled, until the first throttled request left; and the
    /// first request sent after it.
    first: Option<(f64, f64)>,
    first_seq: u64,
    /// The server's burst as the first throttling episode showed it.
    burst: f64,
    /// Successful answers since the start.
    accepted: u64,
    mark: Option<Mark>,
    /// Throttling episodes in a row that measured nothing.
    unmeasured: u32,
    /// The last throttling episodes since the last pause: when, and the
    /// successes counted by then.
    empties: std::collections::VecDeque<(Instant, f64)>,
    grown_at: Option<Instant>,
    stats: PacerStats,
}

impl Pacer {
    /// A pacer for at most `max_concurrency` requests in flight.
    pub fn new(config: Pacing, max_concurrency: usize) -> Self {
        let fixed = config.rate.map(|(r, b)| Bucket::new(r, f64::from(b)));
        Pacer {
            config,
            max_concurrency: max_concurrency.max(1),
            limit: max_concurrency.max(1),
            in_flight: 0,
            seq: 0,
            successes: 0,
            decrease_epoch: 0,
            throttle_epoch: 0,
            cooldown_until: None,
            paused: false,
            fixed,
            learnt: None,
            estimate: None,
            first: None,
            first_seq: 0,
            burst: 1.0,
            accepted: 0,
            mark: None,
            unmeasured: 0,
            empties: std::collections::VecDeque::new(),
            grown_at: None,
            stats: PacerStats::default(),
        }
    }

    /// May a request go now?
    #[must_use]
    pub fn admit(&mut self, now: Instant) -> Admission {
        if let Some(until) = self.cooldown_until {
            if now < until {
                return Admission::WaitUntil(until);
            }
            self.cooldown_until = None;
        }
        if self.paused {
            self.resume(now);
        }
        if self.room() == 0 {
            return Admission::WaitForAnswer;
        }
        let waits = [
            self.fixed.as_mut().and_then(|b| b.wait(now)),
            self.learnt.as_mut().and_then(|b| b.wait(now)),
        ];
        if let Some(at) = waits.into_iter().flatten().max() {
            return Admission::WaitUntil(at);
        }
        for b in [self.fixed.as_mut(), self.learnt.as_mut()]
            .into_iter()
            .flatten()
        {
            b.take();
        }
        self.in_flight += 1;
        self.seq += 1;
        if self.config.adaptive {
            let mark = self.mark.get_or_insert_with(|| Mark {
                at: now,
                tokens: f64::INFINITY,
                sent: Default::default(),
                complete: true,
            });
            if mark.sent.len() >= LOG {
                mark.sent.pop_front();
                mark.complete = false;
            }
            mark.sent.push_back(Sent {
                seq: self.seq,
                at: now,
                answered: None,
            });
        }
        Admission::Go(Ticket { seq: self.seq })
    }

    /// The end of a pause for everyone: the server's bucket had time to fill.
    fn resume(&mut self, now: Instant) {
        self.paused = false;
        if let (Some((n1, d1)), None) = (self.first, self.estimate) {
            // Everything the first burst got through is in by now.
            self.burst = n1.max(1.0);
            if let Some(b) = self.learnt.as_mut() {
                b.per_second = b.per_second.max(n1 / d1.max(1.0)).max(0.1);
                b.burst = self.burst;
                b.tokens = self.burst;
                b.at = Some(now);
            }
        }
        self.mark = Some(Mark {
            at: now,
            tokens: self.burst,
            sent: Default::default(),
            complete: true,
        });
        self.grown_at = Some(now);
    }

    /// The answer to an admitted request.
    pub fn on_answer(&mut self, ticket: Ticket, outcome: Outcome, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Some(mark) = self.mark.as_mut() {
            let first = mark.sent.front().map_or(u64::MAX, |s| s.seq);
            if let Some(s) = ticket
                .seq
                .checked_sub(first)
                .and_then(|i| mark.sent.get_mut(i as usize))
                .filter(|s| s.seq == ticket.seq)
            {
                s.answered = Some(now);
            }
        }
        match outcome {
            Outcome::Ok => {
                self.accepted += 1;
                if let (Some((n1, _)), None) = (self.first.as_mut(), self.estimate) {
                    if ticket.seq < self.first_seq {
                        *n1 += 1.0;
                    }
                }
                self.successes += 1;
                if self.config.adaptive
                    && self.successes >= self.limit
                    && self.limit < self.max_concurrency
                {
                    self.limit += 1;
                    self.successes = 0;
                    self.stats.increases += 1;
                }
                self.grow(now);
            }
            Outcome::Throttled { retry_after } => {
                self.stats.throttles += 1;
                let wait = retry_after
                    .unwrap_or(self.config.cooldown_without_retry_after)
                    .min(self.config.max_cooldown);
                if !self.config.adaptive {
                    self.pause(now + wait, now);
                } else if ticket.seq <= self.throttle_epoch {
                    // Sent before the episode was handled: part of it. A pause
                    // under way lasts until every such request may retry.
                    if self.paused {
                        self.pause(now + wait, now);
                    }
                } else {
                    self.throttle_epoch = self.seq;
                    self.throttled(ticket, wait, now);
                }
            }
            Outcome::Overloaded => {
                if self.config.adaptive {
                    self.decrease(ticket);
                }
            }
            Outcome::Dropped => {}
        }
    }

    /// A new throttling episode: learn what the server allows.
    fn throttled(&mut self, ticket: Ticket, wait: Duration, now: Instant) {
        let Some(learnt) = self.learnt.as_mut() else {
            // Nothing known: everyone waits. The rate starts at what the
            // server let through before it said no, spread over the pause,
            // once every answer of that first burst is in.
            // Until the throttled request left: the server said no after.
            let d1 = self.mark.as_ref().map_or(0.0, |m| {
                let sent = m
                    .sent
                    .iter()
                    .find(|s| s.seq == ticket.seq)
                    .map_or(now, |s| s.at);
                sent.saturating_duration_since(m.at).as_secs_f64()
            });
            self.first = Some((self.accepted as f64, d1));
            // Successes of requests sent before now still count (below).
            self.first_seq = self.seq + 1;
            self.learnt = Some(Bucket::new(0.1, 1.0));
            self.pause(now + wait, now);
            self.decrease(ticket);
            return;
        };
        // When the throttled request reached the server, its bucket was
        // empty; the requests sent since the mark before it got through.
        let mut measured = None;
        if let Some(mark) = &self.mark {
            let sent: Vec<(Instant, Instant)> = mark
                .sent
                .iter()
                .filter(|s| s.seq < ticket.seq)
                .map(|s| (s.at, s.answered.unwrap_or(now)))
                .collect();
            let rejected = mark.sent.iter().find(|s| s.seq == ticket.seq).map(|s| s.at);
            if let Some(rejected) = rejected {
                let start =
                    (mark.complete && mark.tokens.is_finite()).then_some((mark.at, mark.tokens));
                let (mut lo, mut hi) = fit(&sent, rejected, start, self.burst);
                // The first burst was the server's burst plus what it refilled
                // meanwhile: with the rate known, the burst is known better.
                // Only from a mark where the bucket was full (the end of the
                // first pause): from a 429's it was empty, whatever the burst.
                let from_full = mark.tokens >= 1.0;
                if let Some((n1, d1)) = self.first.filter(|_| self.estimate.is_none() && from_full)
                {
                    // At most that burst: the rate found with it is a lower
                    // bound, so the burst found with that rate is smaller
                    // still, and both settle. Never above a burst a 429
                    // already showed to be smaller.
                    for _ in 0..32 {
                        // Refill shows only in whole tokens: one to spare.
                        let burst = (n1 - (lo * d1 - 1.0).max(0.0)).min(self.burst).max(1.0);
                        let start = start.map(|(at, _)| (at, burst));
                        (lo, hi) = fit(&sent, rejected, start, burst);
                        let settled = (self.burst - burst).abs() < 0.5;
                        self.burst = burst;
                        if settled {
                            break;
                        }
                    }
                }
                // Bounds that contradict each other say the burst is smaller
                // than taken (more got through in the first fan-out than the
                // server holds, as it refilled while they went): the largest
                // smaller burst that fits what was seen.
                let mut burst = self.burst;
                while lo > hi && burst > 1.0 {
                    burst = (burst - 1.0).max(1.0);
                    let start = start.map(|(at, tokens)| (at, tokens.min(burst)));
                    (lo, hi) = fit(&sent, rejected, start, burst);
                    if hi >= lo {
                        self.burst = burst;
                    }
                }
                // Since each earlier 429 without a pause between, the bucket
                // was empty and what got through was refilled: a lower bound
                // over a longer time. An older one the new upper bound
                // contradicts is from before the server changed its rate.
                let accepted = self.accepted as f64;
                self.empties.retain(|(at, n)| {
                    let dt = now.saturating_duration_since(*at).as_secs_f64();
                    let r = (accepted - n - 1.0 - SLACK) / dt.max(1e-3);
                    if r > hi {
                        return false;
                    }
                    lo = lo.max(r);
                    true
                });
                // A 429 soon after the last one, at the rate we pace at: that
                // rate is too high, whatever a burst of one could explain.
                let soon = mark.tokens < 1.0 && (sent.len() as f64) < MIN_MEASURED;
                if lo > 0.0 && hi >= lo && !soon {
                    measured = Some((lo, hi));
                }
            }
        }
        let full = self.mark.as_ref().is_some_and(|m| m.tokens >= 1.0);
        let rate = match measured {
            None if full => {
                // Turned away within what we took for the server's burst:
                // the burst is smaller. Nothing is known of the rate yet.
                let through = self
                    .mark
                    .as_ref()
                    .map_or(0, |m| m.sent.iter().filter(|s| s.seq < ticket.seq).count());
                self.burst = self.burst.min(through as f64).max(1.0);
                learnt.per_second
            }
            Some((lo, hi)) => {
                self.unmeasured = 0;
                // From the full bucket after the first pause, when the first
                // fan-out went out over time (a browser's few connections)
                // and the server refilled meanwhile by a token or more: its
                // burst was a guess, and so are these bounds, a short burst
                // being all they saw. Back off from the rate turned away, as
                // for a 429 too soon to measure, and keep ramping: the next
                // 429 measures from an empty bucket, whatever the burst.
                let guessed = full
                    && self.estimate.is_none()
                    && self.first.is_some_and(|(_, d1)| hi * d1 >= 1.0);
                // Earlier bounds this measurement does not contradict still
                // hold: keep the tighter of both.
                let (lo, hi) = match self.estimate {
                    Some((l, h)) if l <= hi => (lo.max(l), if h >= lo { hi.min(h) } else { hi }),
                    _ => (lo, hi),
                };
                if guessed {
                    let rate = (learnt.per_second * BACKOFF).max(lo);
                    // The burst that goes with that rate: what the first
                    // fan-out got through, less what the server refilled
                    // meanwhile at that rate.
                    if let Some((n1, d1)) = self.first {
                        self.burst = (n1 - rate * d1).max(1.0).min(self.burst);
                    }
                    rate
                } else {
                    self.estimate = Some((lo, hi));
                    if full {
                        // After a ramp the upper bound is loose: start low.
                        lo
                    } else {
                        target(lo, hi)
                    }
                }
            }
            None => {
                // Too soon to measure: far too fast. Back off, and forget
                // bounds the server no longer keeps to.
                self.unmeasured += 1;
                let rate = learnt.per_second * BACKOFF;
                self.estimate = Some((rate * BACKOFF, learnt.per_second));
                rate
            }
        };
        learnt.per_second = rate.max(0.1);
        // A little slack for a driver that wakes late, within the server's burst.
        // (max/min rather than clamp: clamp's panic message would pull
        // float formatting into the WebAssembly build.)
        learnt.burst = (learnt.per_second * LATE).max(1.0).min(self.burst.max(1.0));
        learnt.tokens = 0.0;
        learnt.at = Some(now);
        self.grown_at = Some(now);
        if self.empties.len() >= EMPTIES {
            self.empties.pop_front();
        }
        self.empties.push_back((now, self.accepted as f64));
        self.mark = Some(Mark {
            at: now,
            tokens: 0.5,
            sent: Default::default(),
            complete: true,
        });
        if self.unmeasured >= UNMEASURED_LIMIT {
            self.unmeasured = 0;
            self.pause(now + wait, now);
            self.decrease(ticket);
        }
    }

    /// Raises the learnt rate: quickly up to the estimate, then slowly.
    fn grow(&mut self, now: Instant) {
        let dt = self
            .grown_at
            .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64())
            .min(1.0);
        self.grown_at = Some(now);
        if self.paused {
            return;
        }
        let Some(b) = self.learnt.as_mut() else {
            return;
        };
        // Growth by answers, not by time alone: at most a quarter per answer.
        let step = |per_second: f64| 1.0 + (per_second * dt).min(0.25);
        let mut rate = b.per_second;
        match self.estimate {
            Some((lo, hi)) if rate >= target(lo, hi) => {
                // Slowly up to the upper bound; beyond it only after a while
                // without a 429, then faster the longer none came.
                let quiet = self.mark.as_ref().map_or(0.0, |m| {
                    now.saturating_duration_since(m.at).as_secs_f64() / PROBE_QUIET
                });
                let g = if rate < hi {
                    PROBE_PER_SECOND.max((hi - lo) / lo / 8.0)
                } else {
                    PROBE_PER_SECOND * (quiet - 1.0).max(0.0).powi(2)
                };
                rate *= step(g.min(MAX_PROBE_PER_SECOND));
            }
            Some((lo, hi)) => rate = (rate * step(RAMP_PER_SECOND)).min(target(lo, hi)),
            None => rate *= step(RAMP_PER_SECOND),
        }
        // Never above what the first burst reached: the server allows less.
        if let Some((n1, d1)) = self.first.filter(|_| self.estimate.is_none()) {
            rate = rate.min((n1 / d1.max(1e-3)).max(b.per_second));
        }
        b.per_second = rate;
    }

    /// Holds every request back until `until`.
    fn pause(&mut self, until: Instant, now: Instant) {
        let from = self.cooldown_until.map_or(now, |u| u.max(now));
        if until > from {
            self.stats.throttled += until - from;
            self.cooldown_until = Some(until);
        }
        self.paused = true;
        self.empties.clear();
    }

    fn decrease(&mut self, ticket: Ticket) {
        if ticket.seq > self.decrease_epoch {
            self.limit = (self.limit / 2).max(1);
            self.successes = 0;
            self.decrease_epoch = self.seq;
            self.stats.decreases += 1;
        }
    }

    /// When [`admit`](Pacer::admit) may say yes again, if it said `WaitUntil`.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.cooldown_until
    }

    /// The concurrency the pacer allows now (adaptive, ≤ the configured one).
    pub fn concurrency(&self) -> usize {
        self.limit
    }

    /// Requests admitted and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Slots of the concurrency not taken by requests in flight: while it is
    /// 0, [`admit`](Self::admit) answers [`Admission::WaitForAnswer`].
    pub fn room(&self) -> usize {
        self.limit.saturating_sub(self.in_flight)
    }

    /// The learnt rate limit, if a 429 taught one.
    pub fn learnt_rate(&self) -> Option<f64> {
        self.learnt.as_ref().map(|b| b.per_second)
    }

    /// What the pacer has done so far.
    pub fn stats(&self) -> &PacerStats {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(p: &mut Pacer, now: Instant) -> Ticket {
        match p.admit(now) {
            Admission::Go(t) => t,
            other => panic!("expected Go, got {other:?}"),
        }
    }

    #[test]
    fn a_429_pauses_every_request_until_the_cooldown_ends() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Pacing::default().adaptive(false), 8);
        let tickets: Vec<Ticket> = (0..4).map(|_| go(&mut p, t0)).collect();
        p.on_answer(
            tickets[0],
            Outcome::Throttled {
                retry_after: Some(Duration::from_secs(2)),
            },
            t0,
        );
        // Every other request now waits, not only the throttled one.
        assert_eq!(
            p.admit(t0 + Duration::from_millis(10)),
            Admission::WaitUntil(t0 + Duration::from_secs(2))
        );
        assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(2)));
        // A later 429 with a shorter Retry-After does not shorten the pause; a longer one extends it.
        p.on_answer(
            tickets[1],
            Outcome::Throttled {
                retry_after: Some(Duration::from_secs(1)),
            },
            t0,
        );
        assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(2)));
        p.on_answer(
            tickets[2],
            Outcome::Throttled {
                retry_after: Some(Duration::from_secs(3)),
            },
            t0 + Duration::from_secs(1),
        );
        assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(4)));
        assert_eq!(p.stats().throttled, Duration::from_secs(4));
        assert_eq!(p.stats().throttles, 3);
        assert!(matches!(
            p.admit(t0 + Duration::from_secs(4)),
            Admission::Go(_)
        ));
        // Without Retry-After: the configured pause (1 s), clamped maximum for huge ones.
        let mut p = Pacer::new(
            Pacing::default()
                .adaptive(false)
                .max_cooldown(Duration::from_secs(5)),
            2,
        );
        let t = go(&mut p, t0);
        p.on_answer(t, Outcome::Throttled { retry_after: None }, t0);
        assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(1)));
        let t = go(&mut p, t0 + Duration::from_secs(1));
        p.on_answer(
            t,
            Outcome::Throttled {
                retry_after: Some(Duration::from_secs(3600)),
            },
            t0 + Duration::from_secs(1),
        );
        assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(6)));
    }

    #[test]
    fn aimd_halves_once_per_round_and_grows_by_one_per_window() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Pacing::default(), 16);
        let round: Vec<Ticket> = (0..16).map(|_| go(&mut p, t0)).collect();
        assert_eq!(p.admit(t0), Admission::WaitForAnswer);
        // Three 503s from the same round: one decrease.
        for t in &round[..3] {
            p.on_answer(*t, Outcome::Overloaded, t0);
        }
        assert_eq!(p.concurrency(), 8);
        assert_eq!(p.stats().decreases, 1);
        for t in &round[3..] {
            p.on_answer(*t, Outcome::Ok, t0);
        }
        // 13 successes at limit 8: one increase, then 5 towards the next window.
        assert_eq!(p.concurrency(), 9);
        // A failure of a request sent after the decrease halves again.
        let t = go(&mut p, t0);
        p.on_answer(t, Outcome::Overloaded, t0);
        assert_eq!(p.concurrency(), 4);
        // Never below 1, never above the configured maximum.
        for _ in 0..10 {
            let t = go(&mut p, t0);
            p.on_answer(t, Outcome::Overloaded, t0);
        }
        assert_eq!(p.concurrency(), 1);
        for _ in 0..1000 {
            let t = go(&mut p, t0);
            p.on_answer(t, Outcome::Ok, t0);
        }
        assert_eq!(p.concurrency(), 16);
        // Adaptive off: the limit never moves.
        let mut p = Pacer::new(Pacing::default().adaptive(false), 4);
        let t = go(&mut p, t0);
        p.on_answer(t, Outcome::Overloaded, t0);
        assert_eq!(p.concurrency(), 4);
    }

    #[test]
    fn a_fixed_rate_limit_spaces_requests() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Pacing::default().rate_limit(10.0, 2), 64);
        go(&mut p, t0);
        go(&mut p, t0);
        match p.admit(t0) {
            Admission::WaitUntil(at) => assert_eq!(at, t0 + Duration::from_millis(100)),
            other => panic!("{other:?}"),
        }
        go(&mut p, t0 + Duration::from_millis(100));
        // 1 s later the burst is back, but no more than the burst.
        let t1 = t0 + Duration::from_millis(1100);
        go(&mut p, t1);
        go(&mut p, t1);
        assert!(matches!(p.admit(t1), Admission::WaitUntil(_)));
    }

    /// A token bucket server: `(accepted, tokens, at)`.
    fn serve(bucket: &mut (f64, Instant), rate: f64, burst: f64, now: Instant) -> bool {
        let dt = now.saturating_duration_since(bucket.1).as_secs_f64();
        bucket.0 = (bucket.0 + dt * rate).min(burst);
        bucket.1 = now;
        if bucket.0 >= 1.0 {
            bucket.0 -= 1.0;
            true
        } else {
            false
        }
    }

    #[test]
    fn a_fit_brackets_the_rate_of_the_bucket_that_answered() {
        // Requests every 15 ms (66/s) at a bucket of 50/s, burst 10, full at t0.
        let t0 = Instant::now();
        let mut bucket = (10.0, t0);
        let mut sent = Vec::new();
        let mut at = t0;
        let rejected = loop {
            if !serve(&mut bucket, 50.0, 10.0, at) {
                break at;
            }
            sent.push((at, at + Duration::from_millis(2)));
            at += Duration::from_millis(15);
        };
        let (lo, hi) = fit(&sent, rejected, Some((t0, 10.0)), 10.0);
        assert!(lo <= 50.0 && 50.0 <= hi, "{lo}..{hi}");
        assert!(lo > 45.0 && hi < 56.0, "{lo}..{hi}");
    }

    #[test]
    fn after_the_first_pause_a_429_slows_the_rate_without_pausing_everyone() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Pacing::default(), 16);
        let mut bucket = (10.0, t0);
        let mut now = t0;
        let mut throttles = 0;
        let mut lone = 0;
        // Requests as fast as the pacer lets them go, each answered at once.
        for _ in 0..600 {
            let ticket = loop {
                match p.admit(now) {
                    Admission::Go(t) => break t,
                    Admission::WaitUntil(at) => now = at,
                    Admission::WaitForAnswer => unreachable!("answered at once"),
                }
            };
            now += Duration::from_millis(1);
            if serve(&mut bucket, 50.0, 10.0, now) {
                p.on_answer(ticket, Outcome::Ok, now);
            } else {
                throttles += 1;
                p.on_answer(
                    ticket,
                    Outcome::Throttled {
                        retry_after: Some(Duration::from_secs(1)),
                    },
                    now,
                );
                if throttles > 1 {
                    // Once a rate is known, only the throttled request waits.
                    assert_eq!(p.poll_timeout(), None, "a lone 429 paused everyone");
                    lone += 1;
                } else {
                    assert_eq!(p.poll_timeout(), Some(now + Duration::from_secs(1)));
                }
            }
        }
        assert!(lone >= 1, "a second 429 came and measured the rate");
        assert!(throttles <= 6, "{throttles} 429s");
        assert_eq!(p.stats().throttled, Duration::from_secs(1));
        let rate = p.learnt_rate().expect("a rate was learnt");
        assert!((47.0..=52.0).contains(&rate), "{rate}");
        // 600 requests at 50/s with a burst of 10 and one pause of 1 s: 12.8 s.
        let took = (now - t0).as_secs_f64();
        assert!(took < 13.5, "{took}");
    }

    #[test]
    fn without_adaptive_pacing_a_429_pauses_everyone_and_nothing_is_learnt() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Pacing::default().adaptive(false), 4);
        for i in 0..3u64 {
            let now = t0 + Duration::from_secs(2 * i);
            let t = go(&mut p, now);
            p.on_answer(
                t,
                Outcome::Throttled {
                    retry_after: Some(Duration::from_secs(1)),
                },
                now,
            );
            assert_eq!(p.poll_timeout(), Some(now + Duration::from_secs(1)));
        }
        assert_eq!(p.learnt_rate(), None);
        assert_eq!(p.concurrency(), 4);
    }
}

//! Pacing: when the next request may go. One pacer serves every operation of
//! an `Api`, so a 429 seen by one request pauses all of them, and a learnt
//! rate or concurrency applies to the whole client. Pure: time comes in as `now`.

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
    /// Adapt to the server (default on): on 429 or 503, halve the
    /// concurrency (at most once per round of requests) and, on 429, slow the
    /// rate to below what the server accepted; after a window of successes,
    /// add one to the concurrency and raise the rate slowly again. The
    /// concurrency stays between 1 and the configured one.
    pub fn adaptive(mut self, on: bool) -> Self {
        self.adaptive = on;
        self
    }
    /// How long a 429 without `Retry-After` pauses the client (default 1 s).
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
            Ok(resp) => {
                let retry_after = super::retry::retry_after(resp);
                match resp.status {
                    429 => Outcome::Throttled { retry_after },
                    503 if retry_after.is_some() => Outcome::Throttled { retry_after },
                    502..=504 => Outcome::Overloaded,
                    _ => Outcome::Ok,
                }
            }
            Err(e) if e.kind == TransportErrorKind::Timeout => Outcome::Overloaded,
            Err(_) => Outcome::Dropped,
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

/// 100 ms slots of successes kept: five seconds.
const SLOTS: u64 = 50;

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
    cooldown_until: Option<Instant>,
    fixed: Option<Bucket>,
    learnt: Option<Bucket>,
    /// Successful answers in the last five seconds, by 100 ms slot.
    recent: [(u64, u32); SLOTS as usize],
    grown_at: Option<Instant>,
    /// Recent cooldowns, to leave out of rate measurements.
    pauses: std::collections::VecDeque<(Instant, Instant)>,
    origin: Option<Instant>,
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
            cooldown_until: None,
            fixed,
            learnt: None,
            recent: [(u64::MAX, 0); SLOTS as usize],
            grown_at: None,
            pauses: std::collections::VecDeque::new(),
            origin: None,
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
        if self.in_flight >= self.limit {
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
        Admission::Go(Ticket { seq: self.seq })
    }

    /// The answer to an admitted request.
    pub fn on_answer(&mut self, ticket: Ticket, outcome: Outcome, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        match outcome {
            Outcome::Ok => {
                self.count_success(now);
                self.successes += 1;
                if self.config.adaptive
                    && self.successes >= self.limit
                    && self.limit < self.max_concurrency
                {
                    self.limit += 1;
                    self.successes = 0;
                    self.stats.increases += 1;
                }
                if let Some(b) = self.learnt.as_mut() {
                    // Probe back up slowly: 2% a second.
                    let dt = self
                        .grown_at
                        .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64());
                    b.per_second *= 1.0 + 0.02 * dt.min(1.0);
                    b.burst = b.per_second.clamp(1.0, 4.0);
                }
                self.grown_at = Some(now);
            }
            Outcome::Throttled { retry_after } => {
                self.stats.throttles += 1;
                let wait = retry_after
                    .unwrap_or(self.config.cooldown_without_retry_after)
                    .min(self.config.max_cooldown);
                let until = now + wait;
                let from = self.cooldown_until.map_or(now, |u| u.max(now));
                if until > from {
                    self.stats.throttled += until - from;
                    self.cooldown_until = Some(until);
                    self.pauses.push_back((from, until));
                    while self.pauses.len() > 64 {
                        self.pauses.pop_front();
                    }
                }
                if self.config.adaptive {
                    if ticket.seq > self.decrease_epoch {
                        // What the server accepted over the last seconds, pauses
                        // included, is what it sustains: bursts average out.
                        let accepted = self.accepted_per_second(now);
                        let rate = match &self.learnt {
                            Some(b) => b.per_second.min(accepted),
                            None => accepted,
                        };
                        let rate = (rate * 0.8).max(0.5);
                        self.learnt = Some(Bucket::new(rate, rate.clamp(1.0, 4.0)));
                    }
                    self.decrease(ticket);
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

    fn decrease(&mut self, ticket: Ticket) {
        if ticket.seq > self.decrease_epoch {
            self.limit = (self.limit / 2).max(1);
            self.successes = 0;
            self.decrease_epoch = self.seq;
            self.stats.decreases += 1;
        }
    }

    fn slot(now: Instant, origin: Instant) -> u64 {
        (now.saturating_duration_since(origin).as_millis() / 100) as u64
    }

    fn count_success(&mut self, now: Instant) {
        let origin = self.origin(now);
        let s = Self::slot(now, origin);
        let cell = &mut self.recent[(s % SLOTS) as usize];
        if cell.0 != s {
            *cell = (s, 0);
        }
        cell.1 += 1;
    }

    /// Successful answers per second over the last five seconds (or since
    /// the first request, if sooner; at least 50 ms).
    fn accepted_per_second(&mut self, now: Instant) -> f64 {
        let origin = self.origin(now);
        let s = Self::slot(now, origin);
        let n: u32 = self
            .recent
            .iter()
            .filter(|(slot, _)| *slot != u64::MAX && *slot + SLOTS > s && *slot <= s)
            .map(|(_, n)| *n)
            .sum();
        let window = SLOTS as f64 / 10.0;
        let since = now
            .saturating_duration_since(origin)
            .as_secs_f64()
            .min(window);
        // Time we spent paused by our own cooldowns says nothing of what the
        // server would have accepted: count only the time we were sending.
        let from = now - Duration::from_secs_f64(since);
        let paused: f64 = self
            .pauses
            .iter()
            .map(|(a, b)| {
                let a = (*a).max(from);
                let b = (*b).min(now);
                b.saturating_duration_since(a).as_secs_f64()
            })
            .sum();
        f64::from(n.max(1)) / (since - paused).max(0.05)
    }

    /// A fixed origin for the 100 ms slots.
    fn origin(&mut self, now: Instant) -> Instant {
        *self.origin.get_or_insert(now)
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

    #[test]
    fn a_429_teaches_a_rate_below_what_the_server_accepted() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Pacing::default(), 16);
        // 50 successes within the last second, then a 429.
        for i in 0..50u64 {
            let now = t0 + Duration::from_millis(i * 20);
            let t = go(&mut p, now);
            p.on_answer(t, Outcome::Ok, now);
        }
        let now = t0 + Duration::from_millis(1000);
        let t = go(&mut p, now);
        p.on_answer(
            t,
            Outcome::Throttled {
                retry_after: Some(Duration::from_secs(1)),
            },
            now,
        );
        let rate = p.learnt_rate().expect("a rate was learnt");
        assert!((38.0..=42.0).contains(&rate), "{rate}");
        // After the cooldown, requests are spaced at the learnt rate.
        let after = now + Duration::from_secs(1);
        let mut sent = 0;
        let mut at = after;
        while at < after + Duration::from_secs(1) {
            match p.admit(at) {
                Admission::Go(t) => {
                    sent += 1;
                    p.on_answer(t, Outcome::Ok, at);
                }
                Admission::WaitUntil(next) => at = next,
                Admission::WaitForAnswer => unreachable!(),
            }
        }
        assert!(
            (36..=46).contains(&sent),
            "{sent} requests in the second after the cooldown"
        );
    }
}

//! The pacer: admits requests, learns from their answers.

use std::time::Duration;

use web_time::Instant;

use super::bucket::Bucket;
use super::estimate::{fit, target, Mark, Sent, SLACK};
use super::quota::{self, Quota};
use super::shedding::{Change, Shedding};
use super::{Admission, Outcome, PacerStats, Pacing, Ticket};
use crate::core::http::{Response, TransportError};

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
/// Successes since the last 429 below which a new one says the rate we
/// pace at is too high.
const MIN_MEASURED: f64 = 4.0;
/// Multiplicative decrease on a 429 that came too soon to measure anything.
const BACKOFF: f64 = 0.7;
/// Throttling episodes in a row that measured nothing before every request
/// is paused again for the whole `Retry-After`.
const UNMEASURED_LIMIT: u32 = 4;
/// Throttling episodes remembered for measuring over a longer time.
const EMPTIES: usize = 16;
/// Seconds of requests the learnt rate lets a driver that woke late catch up on.
const LATE: f64 = 0.05;
/// Admissions remembered for measuring the server's rate.
const LOG: usize = 512;
/// A 429 this soon (seconds) after the episode before, with the rate
/// learnt: time to vary the pace and see whether the 429s come from a rate.
const EXPERIMENT_TRIGGER: f64 = 1.0;
/// The experiment's pace must be at most this share of the learnt rate
/// (else it varies nothing: the learnt rate already went down).
const EXPERIMENT_SLOWER: f64 = 0.95;
/// The experiment's pace, a share of the reference window's.
const EXPERIMENT_PACE: f64 = 0.6;
/// 429s the slow window expects at the reference's share.
const EXPERIMENT_EXPECTS: f64 = 3.0;
/// The slow window's answers, at least and at most.
const EXPERIMENT_MIN: u32 = 16;
const EXPERIMENT_MAX: u32 = 400;
/// The slow window's share of 429s that says shedding, of the reference's.
const EXPERIMENT_SAME: f64 = 0.34;
/// The slow window's share of 429s that says a limit, of the reference's.
const EXPERIMENT_MORE: f64 = 3.0;
/// Seconds without another experiment once one found a real limit.
const EXPERIMENT_QUIET: f64 = 30.0;

/// A window paced slower on purpose: against a rate limit its 429s stop,
/// against load shedding their share stays.
#[derive(Debug, Clone, Copy)]
struct Experiment {
    /// Answers to requests sent after this one count.
    start_seq: u64,
    /// The learnt rate held while it runs.
    held: f64,
    /// The pace it holds.
    pace: f64,
    ref_share: f64,
    window: u32,
    answers: u32,
    throttles: u32,
    /// When its first answer came.
    since: Option<Instant>,
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
    /// The budget announced in rate-limit headers.
    quota: Quota,
    /// A 403 with `Retry-After` or a spent budget is a throttle.
    forbidden_rate_limit: bool,
    /// Whether the 429s come from a rate at all.
    shedding: Shedding,
    experiment: Option<Experiment>,
    /// No experiment before then.
    experiment_after: Option<Instant>,
    /// The last throttling episode while a rate was learnt, not paused.
    last_episode: Option<Instant>,
    /// Answers and 429s since the reference window started (the end of a
    /// pause or of an experiment), and when it did.
    reference: (u32, u32, Option<Instant>),
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
            quota: Quota::new(),
            forbidden_rate_limit: false,
            shedding: Shedding::default(),
            experiment: None,
            experiment_after: None,
            last_episode: None,
            reference: (0, 0, None),
            stats: PacerStats::default(),
        }
    }

    /// Counts a 403 with `Retry-After`, or with a rate-limit header saying
    /// the budget is spent, as a throttle (GitHub's primary and secondary
    /// rate limits); see `RetryPolicy::forbidden_rate_limit`.
    #[must_use]
    pub fn forbidden_rate_limit(mut self, on: bool) -> Self {
        self.forbidden_rate_limit = on;
        self
    }

    /// The answer (or its absence) to an admitted request: reads the
    /// rate-limit headers it carries (when `Pacing::rate_limit_headers` is
    /// on), then learns from how it ended. `wall` is the client's clock in
    /// seconds since 1970 (for an epoch reset in an answer without `Date`).
    pub fn on_exchange(
        &mut self,
        ticket: Ticket,
        answer: &Result<Response, TransportError>,
        wall: Option<u64>,
        now: Instant,
    ) {
        if let (Ok(resp), true) = (answer, self.config.rate_limit_headers) {
            if let Some(b) = super::headers::budget(resp, wall) {
                self.quota
                    .read(b, ticket.seq, self.seq, now, self.config.max_cooldown);
            }
        }
        let outcome = match answer {
            Ok(resp)
                if self.forbidden_rate_limit && crate::core::retry::forbidden_throttle(resp) =>
            {
                Outcome::Throttled {
                    retry_after: crate::core::retry::throttle_wait(resp),
                }
            }
            _ => Outcome::of(answer),
        };
        self.on_answer(ticket, outcome, now);
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
        let quota = match self.quota.check(now, self.in_flight) {
            quota::Verdict::Go => None,
            quota::Verdict::WaitUntil(at) => Some(at),
            quota::Verdict::WaitForAnswer => return Admission::WaitForAnswer,
        };
        let waits = [
            quota,
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
        self.quota.take();
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
        self.reference = (0, 0, Some(now));
        self.last_episode = None;
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
        if self.config.adaptive {
            let throttled = matches!(outcome, Outcome::Throttled { .. });
            if matches!(outcome, Outcome::Ok) || throttled {
                self.reference.0 += 1;
                self.reference.1 += u32::from(throttled);
                self.experiment_answer(ticket, throttled, now);
                match self.shedding.observe(throttled, now) {
                    Some(Change::Found) => self.forget_rate(),
                    Some(Change::Lost) => self.stats.shedding = false,
                    None => {}
                }
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
                } else if self.experiment.is_some() {
                    // The pace is held: the slow window's 429s are counted,
                    // not learnt from; each waits its own Retry-After.
                } else if self.shedding.on {
                    // Rate-independent: the request waits its Retry-After
                    // (the retry), nobody else does, nothing is learnt.
                } else if ticket.seq <= self.throttle_epoch {
                    // Sent before the episode was handled: part of it. A pause
                    // under way lasts until every such request may retry.
                    if self.paused {
                        self.pause(now + wait, now);
                    }
                } else {
                    self.throttle_epoch = self.seq;
                    if !self.start_experiment(now) {
                        self.throttled(ticket, wait, now);
                    }
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

    /// A new throttling episode: starts an experiment if 429s keep coming
    /// soon after each other with a rate learnt, and none ran lately.
    fn start_experiment(&mut self, now: Instant) -> bool {
        if self.paused || self.estimate.is_none() {
            return false;
        }
        let Some(learnt) = self.learnt.as_mut() else {
            return false;
        };
        let soon = self
            .last_episode
            .replace(now)
            .is_some_and(|t| now.saturating_duration_since(t).as_secs_f64() <= EXPERIMENT_TRIGGER);
        // Since the 429 before, enough requests went to measure what got
        // through: not a 429 right on another's heels (a pace far too fast,
        // backed off from as ever).
        let sent_rate = self.mark.as_ref().and_then(|m| {
            let secs = now.saturating_duration_since(m.at).as_secs_f64();
            (m.tokens < 1.0 && m.complete && secs > 0.0 && m.sent.len() as f64 >= MIN_MEASURED)
                .then(|| m.sent.len() as f64 / secs)
        });
        let measured = sent_rate.is_some();
        if !soon || !measured || self.experiment_after.is_some_and(|t| now < t) {
            return false;
        }
        let (answers, throttles, since) = self.reference;
        let Some(since) = since else {
            return false;
        };
        let secs = now.saturating_duration_since(since).as_secs_f64();
        if answers < EXPERIMENT_MIN || throttles < 2 || secs <= 0.0 {
            return false;
        }
        let ref_share = f64::from(throttles) / f64::from(answers);
        let pace = EXPERIMENT_PACE * f64::from(answers) / secs;
        if pace > EXPERIMENT_SLOWER * learnt.per_second {
            return false;
        }
        let window =
            ((EXPERIMENT_EXPECTS / ref_share).ceil() as u32).clamp(EXPERIMENT_MIN, EXPERIMENT_MAX);
        self.experiment = Some(Experiment {
            start_seq: self.seq,
            held: learnt.per_second,
            pace: pace.min(learnt.per_second).max(0.1),
            ref_share,
            window,
            answers: 0,
            throttles: 0,
            since: None,
        });
        learnt.per_second = pace.min(learnt.per_second).max(0.1);
        debug_assert!(self.experiment.is_some_and(|e| e.pace == learnt.per_second));
        learnt.burst = 1.0;
        learnt.tokens = 0.0;
        learnt.at = Some(now);
        true
    }

    /// Counts an answer into the experiment running, and concludes it once
    /// its window is full.
    fn experiment_answer(&mut self, ticket: Ticket, throttled: bool, now: Instant) {
        let Some(e) = self.experiment.as_mut() else {
            return;
        };
        if ticket.seq <= e.start_seq {
            return;
        }
        e.since.get_or_insert(now);
        e.answers += 1;
        e.throttles += u32::from(throttled);
        // Far more 429s than the reference's share: paced above a limit
        // that slowed down, not shedding.
        let ref_share = e.ref_share;
        let too_many = move |answers: u32, throttles: u32| {
            f64::from(throttles) > EXPERIMENT_MORE * ref_share * f64::from(answers) + 2.0
        };
        if e.answers < e.window && !too_many(e.answers, e.throttles) {
            return;
        }
        let e = *e;
        self.experiment = None;
        self.reference = (0, 0, Some(now));
        self.last_episode = None;
        let share = f64::from(e.throttles) / f64::from(e.answers);
        if share >= EXPERIMENT_SAME * e.ref_share
            && e.throttles > 0
            && !too_many(e.answers, e.throttles)
        {
            self.shedding.found(share);
            self.forget_rate();
            return;
        }
        // A real limit, no experiment for a while.
        self.experiment_after = Some(now + Duration::from_secs_f64(EXPERIMENT_QUIET));
        if too_many(e.answers, e.throttles) {
            // Turned away at the slow pace too: the server's rate is below
            // it. The 429 that showed it is learnt from as any other, from
            // the pace held (the caller goes on to `throttled`); what was
            // learnt before the server slowed down goes.
            self.estimate = None;
            self.empties.clear();
            return;
        }
        // Back to the rate held, the server's bucket refilled meanwhile.
        if let Some(b) = self.learnt.as_mut() {
            b.per_second = e.held;
            b.burst = (b.per_second * LATE).max(1.0).min(self.burst.max(1.0));
            b.tokens = 0.0;
            b.at = Some(now);
        }
        self.grown_at = Some(now);
        self.mark = Some(Mark {
            at: now,
            tokens: self.burst,
            sent: Default::default(),
            complete: true,
        });
    }

    /// The 429s do not come from a rate: what was learnt from them goes,
    /// and so does the concurrency they cost.
    fn forget_rate(&mut self) {
        self.stats.shedding = true;
        self.learnt = None;
        self.estimate = None;
        self.first = None;
        self.unmeasured = 0;
        self.empties.clear();
        self.limit = self.max_concurrency;
        self.successes = 0;
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
        if self.paused || self.experiment.is_some() {
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

    #[allow(dead_code)] // the machine's vocabulary; the drivers do not ask (yet)
    /// When [`admit`](Pacer::admit) may say yes again, if it said `WaitUntil`.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.cooldown_until
    }

    /// The concurrency the pacer allows now (adaptive, ≤ the configured one).
    pub fn concurrency(&self) -> usize {
        self.limit
    }

    #[allow(dead_code)] // the machine's vocabulary; the drivers do not ask (yet)
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

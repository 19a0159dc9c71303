//! Telling a rate limit from 429s that do not come from a rate (a proxy
//! shedding a share of requests whatever the rate, a flaky gateway).
//!
//! Answers are counted in windows. Against a rate limit, a client that
//! sends slower either stops being turned away or still gets the same
//! number of requests through per second (the server's rate). Against load
//! shedding, the share of 429s stays the same however slowly the client
//! goes, and what gets through falls with the rate it sends at. When a
//! window shows that — sent markedly slower than the window before, the
//! share of 429s not lower, the successes per second down with the rate —
//! the 429s are taken as rate-independent: the learnt rate is dropped and
//! such 429s are only retried. Should the share then climb well above the
//! one seen (a real limit after all), the pacer learns again.

use web_time::Instant;

/// Answers in a window.
const WINDOW: u32 = 24;
/// Windows in a row that must show it.
const SPAN: usize = 3;
/// Those windows sent at most this share of the reference's rate.
const SLOWER: f64 = 0.6;
/// The share of 429s did not fall: at least this share of the reference's.
const SAME_SHARE: f64 = 0.5;
/// What got through fell with the rate: at most this share of the reference's.
const FEWER_THROUGH: f64 = 0.7;
/// Below this share of 429s, nothing is concluded.
const MIN_SHARE: f64 = 0.02;

#[derive(Debug, Clone, Copy, Default)]
struct Level {
    answers: u32,
    throttles: u32,
    secs: f64,
}

impl Level {
    fn rate(&self) -> f64 {
        f64::from(self.answers) / self.secs.max(1e-3)
    }
    fn share(&self) -> f64 {
        f64::from(self.throttles) / f64::from(self.answers.max(1))
    }
    fn through(&self) -> f64 {
        f64::from(self.answers - self.throttles) / self.secs.max(1e-3)
    }
    fn add(self, o: Level) -> Level {
        Level {
            answers: self.answers + o.answers,
            throttles: self.throttles + o.throttles,
            secs: self.secs + o.secs,
        }
    }
}

/// What a window concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    /// The 429s are rate-independent.
    Found,
    /// They come from a rate after all.
    Lost,
}

/// The detector.
#[derive(Debug, Clone, Default)]
pub(super) struct Shedding {
    /// 429s are rate-independent: retried, not learnt from.
    pub(super) on: bool,
    /// The share of 429s when that was found.
    share: f64,
    cur: Level,
    since: Option<Instant>,
    /// The fastest window with 429s since the last window without any.
    reference: Option<Level>,
    /// The windows since, newest last (at most `SPAN`).
    recent: std::collections::VecDeque<Level>,
}

impl Shedding {
    /// An experiment found the 429s rate-independent, at this share.
    pub(super) fn found(&mut self, share: f64) {
        self.on = true;
        self.share = share;
        self.reference = None;
        self.recent.clear();
        self.cur = Level::default();
        self.since = None;
    }

    /// An answer came: a 429 (`throttled`) or a success.
    pub(super) fn observe(&mut self, throttled: bool, now: Instant) -> Option<Change> {
        let since = *self.since.get_or_insert(now);
        self.cur.answers += 1;
        self.cur.throttles += u32::from(throttled);
        if self.cur.answers < WINDOW {
            return None;
        }
        self.cur.secs = now.saturating_duration_since(since).as_secs_f64();
        let cur = std::mem::take(&mut self.cur);
        self.since = Some(now);
        if self.on {
            if cur.throttles >= 4 && cur.share() > (2.0 * self.share).max(self.share + 0.25) {
                self.on = false;
                self.reference = None;
                self.recent.clear();
                return Some(Change::Lost);
            }
            return None;
        }
        if cur.throttles == 0 {
            self.reference = None;
            self.recent.clear();
            return None;
        }
        match self.reference {
            Some(r) if r.rate() >= cur.rate() => {}
            _ => {
                self.reference = Some(cur);
                self.recent.clear();
                return None;
            }
        }
        let r = self.reference?;
        if self.recent.len() == SPAN {
            self.recent.pop_front();
        }
        self.recent.push_back(cur);
        if self.recent.len() < SPAN {
            return None;
        }
        let all = self.recent.iter().fold(Level::default(), |a, l| a.add(*l));
        let found = all.rate() <= SLOWER * r.rate()
            && all.share() >= MIN_SHARE.max(SAME_SHARE * r.share())
            && all.through() <= FEWER_THROUGH * r.through();
        if found {
            self.on = true;
            self.share = all.share();
            return Some(Change::Found);
        }
        None
    }
}

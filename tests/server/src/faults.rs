//! Fault injection: the public [`Faults`] description and the seeded,
//! per-request decisions taken from it.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hyper::header::HeaderValue;
use hyper::StatusCode;
use serde::{Deserialize, Serialize};

use crate::store::{mix64, SplitMix64};
use crate::time::format_http_date;

/// Faults injected into the answers of data endpoints (never into the
/// `/_…` control endpoints or CORS preflights). [`Faults::default`] injects
/// nothing.
///
/// Every random decision is drawn from a splitmix64 stream keyed by
/// `(Config::seed, n)`, where `n` numbers the data requests since the faults
/// were last set (from 1), so a run is reproducible given the same request
/// order. A request takes at most one of the mutually exclusive faults:
/// one uniform draw `u` in `[0, 1)` picks, in this order, `error_rate`,
/// `drop_rate`, `truncate_rate`, `empty_rate`, `null_rate`, `ack_loss_rate`
/// (each rate is the width of its slice; the rest means no fault). Body
/// faults (`truncate`, `empty`, `null`) only alter `200` answers of
/// `GET`; `ack_loss` only applies to writes. A second draw decides
/// `slow_rate`, independently.
///
/// The JSON form (for `POST /_faults`) has the same field names; missing
/// fields take their defaults, unknown fields are rejected.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Share of answers replaced by a `500`, `502` or `503` (drawn among the
    /// three) with body `{"error":"injected","status":N}`. On writes the
    /// write is not applied.
    pub error_rate: f64,
    /// A token bucket over all data requests; beyond it, `429`.
    pub rate_limit: Option<RateLimit>,
    /// Share of answers whose connection is dropped mid-body: status and a
    /// `Content-Length` for the full body are sent, then half the body, then
    /// the connection closes. On writes the write is not applied.
    pub drop_rate: f64,
    /// Share of `200` answers whose JSON body is cut in half (with a
    /// `Content-Length` that matches the cut body).
    pub truncate_rate: f64,
    /// Share of `200` answers sent with an empty body.
    pub empty_rate: f64,
    /// Share of `200` answers sent with the body `null`.
    pub null_rate: f64,
    /// Share of answers delayed by `slow_ms` on top of the configured latency.
    pub slow_rate: f64,
    /// The extra delay of a slow answer, in milliseconds.
    pub slow_ms: u64,
    /// Permanent failures: a request whose path and query contains
    /// `contains` is answered `status` every time.
    pub fail_paths: Vec<FailPath>,
    /// A one-time change of the collection after some requests.
    pub mutate: Option<Mutate>,
    /// Share of writes that ARE applied but whose answer is lost: replaced by
    /// a `503` or by a dropped connection (half and half).
    pub ack_loss_rate: f64,
    /// A budget announced in rate-limit headers on every data answer.
    pub budget: Option<Budget>,
    /// Load shedding: share of data requests answered `429` with
    /// `Retry-After: 1`, whatever the rate (drawn before the other faults).
    pub shed_rate: f64,
}

/// A fixed-window budget: `limit` data requests per window of `window_ms`
/// (windows start when the faults are set). Every data answer announces
/// it in `headers`' form; a request beyond it is answered `429` with
/// `Retry-After` (seconds to the window's end, rounded up) and the headers
/// saying 0 remain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Requests per window (at least 1 is used).
    pub limit: u32,
    /// The window, in milliseconds (at least 1 is used).
    pub window_ms: u64,
    /// The header family.
    #[serde(default)]
    pub headers: BudgetHeaders,
}

/// The header family of a [`Budget`]. JSON: `"x-rate-limit"`, `"ietf"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BudgetHeaders {
    /// `X-RateLimit-Limit` / `-Remaining` / `-Reset`, the reset in seconds
    /// since 1970 (GitHub's form).
    #[default]
    XRateLimit,
    /// `RateLimit-Limit` / `-Remaining` / `-Reset`, the reset in seconds
    /// from now (the IETF draft's form).
    Ietf,
}

impl Budget {
    /// The headers announcing `remaining` with `left` to the window's end.
    fn headers(&self, remaining: u32, left: Duration) -> Vec<(&'static str, HeaderValue)> {
        let secs = left.as_secs_f64().ceil().max(1.0) as u64;
        let (names, reset) = match self.headers {
            BudgetHeaders::XRateLimit => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64();
                (
                    [
                        "x-ratelimit-limit",
                        "x-ratelimit-remaining",
                        "x-ratelimit-reset",
                    ],
                    (now + left.as_secs_f64()).ceil() as u64,
                )
            }
            BudgetHeaders::Ietf => (
                ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"],
                secs,
            ),
        };
        vec![
            (names[0], HeaderValue::from(self.limit.max(1))),
            (names[1], HeaderValue::from(remaining)),
            (names[2], HeaderValue::from(reset)),
        ]
    }
}

/// A token bucket: `burst` tokens, refilled at `per_second` tokens per
/// second; each data request takes one. A request finding no token is
/// answered `429` with body `{"error":"rate limited"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Refill rate in tokens per second. `0` never refills (`Retry-After`
    /// then says 3600 seconds).
    pub per_second: u32,
    /// Bucket capacity (at least 1 is used); the bucket starts full.
    pub burst: u32,
    /// The form of the `Retry-After` header of `429` answers.
    #[serde(default)]
    pub retry_after: RetryAfter,
}

/// The form of `Retry-After` on `429` answers: the time until the next
/// token is available, rounded up to whole seconds and at least 1 second.
/// JSON: `"seconds"`, `"http-date"`, `"none"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetryAfter {
    /// Delay in seconds, e.g. `Retry-After: 2`.
    #[default]
    Seconds,
    /// An IMF-fixdate, e.g. `Retry-After: Sun, 01 Mar 2026 00:00:02 GMT`.
    HttpDate,
    /// No `Retry-After` header.
    None,
}

/// A permanent failure, see [`Faults::fail_paths`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailPath {
    /// Substring of the path and query, e.g. `"offset=500&"`.
    pub contains: String,
    /// Status to answer, `200..=599` (other values answer `500`), with body
    /// `{"error":"injected","status":N}`.
    pub status: u16,
}

/// A one-time change of the collection, so that rows shift under an offset
/// sweep: the first `after_requests` data requests (since the faults were
/// set) see the collection unchanged; right before request number
/// `after_requests + 1` is handled, `insert` new records are added (new ids
/// above all others, fresh `updated_at`) and `delete` records are removed:
/// every 7th present id starting from the smallest (`1, 8, 15, …` on a fresh
/// collection), then the lowest remaining ones if that was not enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mutate {
    /// Requests answered before the change.
    pub after_requests: u64,
    /// Records to add.
    pub insert: u64,
    /// Records to remove.
    pub delete: u64,
}

impl Faults {
    /// Checks the ranges: every rate finite and within `0.0..=1.0`, every
    /// fail-path status within `200..=599`.
    pub(crate) fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("error_rate", self.error_rate),
            ("drop_rate", self.drop_rate),
            ("truncate_rate", self.truncate_rate),
            ("empty_rate", self.empty_rate),
            ("null_rate", self.null_rate),
            ("slow_rate", self.slow_rate),
            ("ack_loss_rate", self.ack_loss_rate),
            ("shed_rate", self.shed_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be within 0.0..=1.0, got {rate}"));
            }
        }
        if let Some(fail) = self
            .fail_paths
            .iter()
            .find(|f| !(200..=599).contains(&f.status))
        {
            return Err(format!(
                "fail_paths status must be within 200..=599, got {}",
                fail.status
            ));
        }
        Ok(())
    }
}

/// The fault chosen for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fault {
    None,
    /// A `fail_paths` match: answer this status.
    FailPath(StatusCode),
    /// Out of tokens (or shed): `429`, with this `Retry-After` if any.
    Throttle(Option<HeaderValue>),
    /// Answer this 5xx instead (writes: not applied).
    Error(StatusCode),
    /// Drop the connection mid-body (writes: not applied).
    Drop,
    Truncate,
    Empty,
    Null,
    /// Apply the write, then answer `503` (or drop the connection if `drop`).
    AckLoss {
        drop: bool,
    },
}

/// Everything decided for one request.
#[derive(Debug)]
pub(crate) struct Decision {
    pub(crate) fault: Fault,
    /// Extra delay of a slow answer.
    pub(crate) slow: Duration,
    /// Apply this change to the collection before handling the request.
    pub(crate) mutate: Option<Mutate>,
    /// Headers added to the answer, whatever it is (a [`Budget`]'s).
    pub(crate) headers: Vec<(&'static str, HeaderValue)>,
}

impl Decision {
    pub(crate) const NONE: Decision = Decision {
        fault: Fault::None,
        slow: Duration::ZERO,
        mutate: None,
        headers: Vec::new(),
    };
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn full(limit: &RateLimit) -> Bucket {
        Bucket {
            tokens: f64::from(limit.burst.max(1)),
            last: Instant::now(),
        }
    }

    /// Takes a token, or says how long until one is available.
    fn take(&mut self, limit: &RateLimit, now: Instant) -> Result<(), Duration> {
        let rate = f64::from(limit.per_second);
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * rate).min(f64::from(limit.burst.max(1)));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else if rate > 0.0 {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        } else {
            Err(Duration::from_secs(3600))
        }
    }
}

/// The live fault configuration and its run state.
#[derive(Debug)]
pub(crate) struct FaultState {
    faults: Arc<Faults>,
    /// Data requests since the faults were set.
    seq: u64,
    mutated: bool,
    bucket: Option<Bucket>,
    /// The budget's windows start here; requests counted in the current one.
    window: (Instant, u64, u32),
}

const FAULT_SALT: u64 = 0xA409_3822_299F_31D0;

/// A uniform value in `[0, 1)` from 53 random bits.
fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

impl FaultState {
    pub(crate) fn new(faults: Faults) -> FaultState {
        FaultState {
            bucket: faults.rate_limit.as_ref().map(Bucket::full),
            faults: Arc::new(faults),
            seq: 0,
            mutated: false,
            window: (Instant::now(), 0, 0),
        }
    }

    /// Counts a request against the budget: its headers, and whether it
    /// is over it.
    fn spend(
        &mut self,
        budget: &Budget,
        now: Instant,
    ) -> (Vec<(&'static str, HeaderValue)>, Option<Duration>) {
        let window = Duration::from_millis(budget.window_ms.max(1));
        let (start, index, used) = &mut self.window;
        let elapsed = now.saturating_duration_since(*start);
        let current = (elapsed.as_nanos() / window.as_nanos()) as u64;
        if current != *index {
            *index = current;
            *used = 0;
        }
        let end = window.saturating_mul(u32::try_from(current + 1).unwrap_or(u32::MAX));
        let left = end.saturating_sub(elapsed);
        let limit = budget.limit.max(1);
        if *used >= limit {
            return (budget.headers(0, left), Some(left));
        }
        *used += 1;
        (budget.headers(limit - *used, left), None)
    }

    pub(crate) fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Decides the faults of the next data request with path and query
    /// `target`. `write` is any method but GET/HEAD; body faults only apply
    /// to `get` requests.
    pub(crate) fn decide(&mut self, seed: u64, target: &str, write: bool, get: bool) -> Decision {
        self.seq += 1;
        let faults = Arc::clone(&self.faults);
        let mut decision = Decision::NONE;
        if let Some(mutate) = faults.mutate {
            if !self.mutated && self.seq > mutate.after_requests {
                self.mutated = true;
                decision.mutate = Some(mutate);
            }
        }
        if let Some(fail) = faults
            .fail_paths
            .iter()
            .find(|f| target.contains(&f.contains))
        {
            decision.fault = Fault::FailPath(
                StatusCode::from_u16(fail.status)
                    .ok()
                    .filter(|s| (200..=599).contains(&s.as_u16()))
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            );
        } else if let (Some(limit), Some(bucket)) = (&faults.rate_limit, &mut self.bucket) {
            if let Err(wait) = bucket.take(limit, Instant::now()) {
                decision.fault = Fault::Throttle(retry_after(limit.retry_after, wait));
                return decision;
            }
        }
        let mut rng = SplitMix64::new(mix64(seed ^ FAULT_SALT) ^ mix64(self.seq));
        if decision.fault == Fault::None && faults.shed_rate > 0.0 {
            // Its own stream: the other faults' draws stay as they were.
            let mut shed = SplitMix64::new(mix64(seed ^ FAULT_SALT ^ 0x5ED) ^ mix64(self.seq));
            if unit(shed.next_u64()) < faults.shed_rate {
                decision.fault = Fault::Throttle(Some(HeaderValue::from(1u64)));
                return decision;
            }
        }
        if let Some(budget) = &faults.budget {
            let (headers, over) = self.spend(budget, Instant::now());
            decision.headers = headers;
            if let (Fault::None, Some(wait)) = (&decision.fault, over) {
                decision.fault = Fault::Throttle(retry_after(RetryAfter::Seconds, wait));
                return decision;
            }
        }

        let u = unit(rng.next_u64());
        let slow = unit(rng.next_u64());
        let pick = rng.next_u64();
        if slow < faults.slow_rate && faults.slow_ms > 0 {
            decision.slow = Duration::from_millis(faults.slow_ms);
        }
        if decision.fault != Fault::None {
            return decision;
        }

        let mut acc = 0.0;
        let mut slice = |rate: f64| {
            if rate > 0.0 {
                acc += rate;
            }
            u < acc
        };
        decision.fault = if slice(faults.error_rate) {
            Fault::Error(
                [
                    StatusCode::INTERNAL_SERVER_ERROR,
                    StatusCode::BAD_GATEWAY,
                    StatusCode::SERVICE_UNAVAILABLE,
                ][(pick % 3) as usize],
            )
        } else if slice(faults.drop_rate) {
            if write || get {
                Fault::Drop
            } else {
                Fault::None
            }
        } else if slice(faults.truncate_rate) {
            if get {
                Fault::Truncate
            } else {
                Fault::None
            }
        } else if slice(faults.empty_rate) {
            if get {
                Fault::Empty
            } else {
                Fault::None
            }
        } else if slice(faults.null_rate) {
            if get {
                Fault::Null
            } else {
                Fault::None
            }
        } else if slice(faults.ack_loss_rate) && write {
            Fault::AckLoss {
                drop: pick % 2 == 1,
            }
        } else {
            Fault::None
        };
        decision
    }
}

/// The `Retry-After` value for a wait of `wait`.
fn retry_after(form: RetryAfter, wait: Duration) -> Option<HeaderValue> {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    match form {
        RetryAfter::Seconds => Some(HeaderValue::from(secs)),
        RetryAfter::HttpDate => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            // Whole seconds, rounded up: the date is never before the token.
            let at = now.as_secs() + u64::from(now.subsec_nanos() > 0) + secs;
            HeaderValue::from_str(&format_http_date(at)).ok()
        }
        RetryAfter::None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_round_trips_and_defaults() {
        let faults = Faults {
            error_rate: 0.25,
            rate_limit: Some(RateLimit {
                per_second: 5,
                burst: 2,
                retry_after: RetryAfter::HttpDate,
            }),
            fail_paths: vec![FailPath {
                contains: "offset=500&".into(),
                status: 404,
            }],
            mutate: Some(Mutate {
                after_requests: 3,
                insert: 1,
                delete: 2,
            }),
            ..Faults::default()
        };
        let text = serde_json::to_string(&faults).unwrap();
        assert!(text.contains("\"retry_after\":\"http-date\""), "{text}");
        assert_eq!(serde_json::from_str::<Faults>(&text).unwrap(), faults);
        assert_eq!(
            serde_json::from_str::<Faults>("{}").unwrap(),
            Faults::default()
        );
        let partial: Faults = serde_json::from_str(
            r#"{"null_rate":0.5,"rate_limit":{"per_second":1,"burst":1},"mutate":{"delete":1}}"#,
        )
        .unwrap();
        assert_eq!(partial.null_rate, 0.5);
        assert_eq!(partial.rate_limit.unwrap().retry_after, RetryAfter::Seconds);
        assert_eq!(partial.mutate.unwrap().after_requests, 0);
        assert!(serde_json::from_str::<Faults>(r#"{"eror_rate":1}"#).is_err());
        assert!(Faults {
            drop_rate: 1.5,
            ..Faults::default()
        }
        .validate()
        .is_err());
        assert!(Faults {
            error_rate: f64::NAN,
            ..Faults::default()
        }
        .validate()
        .is_err());
        assert!(faults.validate().is_ok());
    }

    #[test]
    fn decisions_are_seeded_and_shares_hold() {
        let faults = Faults {
            error_rate: 0.2,
            truncate_rate: 0.1,
            slow_rate: 0.5,
            slow_ms: 7,
            ..Faults::default()
        };
        let run = |seed| {
            let mut state = FaultState::new(faults.clone());
            (0..2000)
                .map(|_| {
                    let d = state.decide(seed, "/offset/items", false, true);
                    (d.fault, d.slow)
                })
                .collect::<Vec<_>>()
        };
        let a = run(1);
        assert_eq!(a, run(1));
        assert_ne!(a, run(2));
        let errors = a
            .iter()
            .filter(|(f, _)| matches!(f, Fault::Error(_)))
            .count();
        let truncs = a.iter().filter(|(f, _)| *f == Fault::Truncate).count();
        let slow = a.iter().filter(|(_, s)| !s.is_zero()).count();
        assert!((300..500).contains(&errors), "{errors}");
        assert!((130..270).contains(&truncs), "{truncs}");
        assert!((850..1150).contains(&slow), "{slow}");
        for code in [500, 502, 503] {
            assert!(a
                .iter()
                .any(|(f, _)| *f == Fault::Error(StatusCode::from_u16(code).unwrap())));
        }
    }

    #[test]
    fn body_faults_skip_writes_and_ack_loss_skips_reads() {
        let mut state = FaultState::new(Faults {
            truncate_rate: 0.5,
            ack_loss_rate: 0.5,
            ..Faults::default()
        });
        let mut acks = 0;
        for _ in 0..200 {
            match state.decide(0, "/items", true, false).fault {
                Fault::AckLoss { .. } => acks += 1,
                Fault::None => {}
                other => panic!("{other:?}"),
            }
        }
        assert!((60..140).contains(&acks), "{acks}");
        for _ in 0..200 {
            let fault = state.decide(0, "/items/1", false, true).fault;
            assert!(matches!(fault, Fault::None | Fault::Truncate), "{fault:?}");
        }
    }

    #[test]
    fn a_budget_announced_in_headers_and_load_shedding() {
        let mut state = FaultState::new(Faults {
            budget: Some(Budget {
                limit: 3,
                window_ms: 60_000,
                headers: BudgetHeaders::Ietf,
            }),
            ..Faults::default()
        });
        let remaining = |d: &Decision| d.headers[1].1.to_str().unwrap().to_string();
        for left in ["2", "1", "0"] {
            let d = state.decide(0, "/items", false, true);
            assert_eq!((&d.fault, remaining(&d)), (&Fault::None, left.to_string()));
            assert_eq!(d.headers[2].0, "ratelimit-reset");
        }
        let d = state.decide(0, "/items", false, true);
        assert!(matches!(d.fault, Fault::Throttle(Some(_))), "{d:?}");
        assert_eq!(remaining(&d), "0");
        let mut state = FaultState::new(Faults {
            shed_rate: 0.25,
            ..Faults::default()
        });
        let shed = (0..2000)
            .filter(|_| {
                matches!(
                    state.decide(3, "/items", false, true).fault,
                    Fault::Throttle(_)
                )
            })
            .count();
        assert!((400..600).contains(&shed), "{shed}");
    }

    #[test]
    fn bucket_refills() {
        let limit = RateLimit {
            per_second: 10,
            burst: 2,
            retry_after: RetryAfter::Seconds,
        };
        let mut bucket = Bucket::full(&limit);
        let t0 = bucket.last;
        assert!(bucket.take(&limit, t0).is_ok());
        assert!(bucket.take(&limit, t0).is_ok());
        let wait = bucket.take(&limit, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        assert!(bucket.take(&limit, t0 + Duration::from_millis(50)).is_err());
        assert!(bucket.take(&limit, t0 + Duration::from_millis(101)).is_ok());
        assert_eq!(
            retry_after(RetryAfter::Seconds, Duration::from_millis(100)),
            Some(HeaderValue::from(1u64))
        );
        assert_eq!(
            retry_after(RetryAfter::Seconds, Duration::from_millis(2100)),
            Some(HeaderValue::from(3u64))
        );
        assert_eq!(retry_after(RetryAfter::None, Duration::from_secs(1)), None);
    }
}

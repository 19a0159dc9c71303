//! Retry decisions: what is worth trying again, when, and when to stop.
//! Pure: the clock comes in as `now`, randomness from a seed the driver gives.

use std::time::Duration;

use web_time::Instant;

use super::http::{Response, TransportError, TransportErrorKind};

/// Why a request is tried again. Counted in the report, cause by cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RetryCause {
    /// 429 Too Many Requests (or 503 with `Retry-After`): the server asked us to slow down.
    Throttled,
    /// 500, 502, 503 or 504.
    ServerError,
    /// 408, or the transport gave up waiting.
    Timeout,
    /// The connection failed or broke (refused, reset, body cut short).
    Transport,
    /// A 2xx whose body is not a page: invalid or truncated JSON, empty, `null`,
    /// the records pointer missing.
    BadBody,
}

impl RetryCause {
    /// A short lowercase name (`"throttled"`, `"server_error"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RetryCause::Throttled => "throttled",
            RetryCause::ServerError => "server_error",
            RetryCause::Timeout => "timeout",
            RetryCause::Transport => "transport",
            RetryCause::BadBody => "bad_body",
        }
    }
}

/// Retries per cause, as the report counts them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct RetryCounts {
    /// 429s (and 503s with `Retry-After`) retried.
    pub throttled: u64,
    /// 5xx answers retried.
    pub server_error: u64,
    /// Timeouts retried.
    pub timeout: u64,
    /// Transport failures retried.
    pub transport: u64,
    /// Bodies that were not a page, retried.
    pub bad_body: u64,
}

impl RetryCounts {
    /// Adds one retry of `cause`.
    pub fn add(&mut self, cause: RetryCause) {
        *self.get_mut(cause) += 1;
    }

    fn get_mut(&mut self, cause: RetryCause) -> &mut u64 {
        match cause {
            RetryCause::Throttled => &mut self.throttled,
            RetryCause::ServerError => &mut self.server_error,
            RetryCause::Timeout => &mut self.timeout,
            RetryCause::Transport => &mut self.transport,
            RetryCause::BadBody => &mut self.bad_body,
        }
    }

    /// Retries of every cause.
    pub fn total(&self) -> u64 {
        self.throttled + self.server_error + self.timeout + self.transport + self.bad_body
    }
}

/// How failed requests are retried: exponential backoff with full jitter,
/// `Retry-After` honoured (seconds or HTTP date, clamped), and an overall
/// retry budget so that a dead server is not hammered forever.
///
/// ```
/// use std::time::Duration;
/// use pagewise::RetryPolicy;
/// let policy = RetryPolicy::default()
///     .max_retries(8)
///     .base_delay(Duration::from_millis(100))
///     .max_delay(Duration::from_secs(10))
///     .max_retry_after(Duration::from_secs(60));
/// assert_eq!(policy.get_max_retries(), 8);
/// let never = RetryPolicy::none();
/// assert_eq!(never.get_max_retries(), 0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    max_retries: u32,
    base_delay: Duration,
    max_delay: Duration,
    max_retry_after: Duration,
    budget: Option<RetryBudget>,
    forbidden_rate_limit: bool,
}

impl Default for RetryPolicy {
    /// 6 retries per request, backoff from 200 ms up to 20 s with full
    /// jitter, `Retry-After` honoured up to 120 s, and the default budget.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(120),
            budget: Some(RetryBudget::default()),
            forbidden_rate_limit: false,
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..Self::default()
        }
    }
    /// Retries of one request before its failure ends the operation.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }
    /// The first backoff's upper bound; it doubles with each retry.
    pub fn base_delay(mut self, d: Duration) -> Self {
        self.base_delay = d;
        self
    }
    /// The largest backoff.
    pub fn max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }
    /// The longest `Retry-After` honoured; longer ones are clamped to it.
    pub fn max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }
    /// The retry budget shared by every request of an operation; `None`
    /// for no budget (only `max_retries` bounds retries).
    pub fn budget(mut self, budget: Option<RetryBudget>) -> Self {
        self.budget = budget;
        self
    }
    /// Treat a 403 that carries `Retry-After`, or a rate-limit header saying
    /// the budget is spent (`X-RateLimit-Remaining: 0`, `RateLimit-Remaining:
    /// 0`), as a rate limit (default off): it is retried after the wait the
    /// server names (`Retry-After`, else the rate-limit reset; at most
    /// [`max_retry_after`](RetryPolicy::max_retry_after)) and pauses the
    /// pacer, like a 429, instead of failing at once. GitHub answers its
    /// primary and secondary rate limits so. Any other 403 still fails at once.
    ///
    /// ```
    /// use pagewise::RetryPolicy;
    /// let github = RetryPolicy::default().forbidden_rate_limit(true);
    /// assert!(github.get_forbidden_rate_limit());
    /// ```
    pub fn forbidden_rate_limit(mut self, on: bool) -> Self {
        self.forbidden_rate_limit = on;
        self
    }
    /// Whether a 403 may be a rate limit (see [`forbidden_rate_limit`](RetryPolicy::forbidden_rate_limit)).
    pub fn get_forbidden_rate_limit(&self) -> bool {
        self.forbidden_rate_limit
    }
    /// Retries of one request allowed.
    pub fn get_max_retries(&self) -> u32 {
        self.max_retries
    }
}

/// A token bucket bounding the retries of one operation, in the spirit of
/// the AWS SDKs' retry quota: each retry takes tokens (a timeout more than
/// other failures), each success gives one back. When the bucket is empty,
/// failures are not retried, so a server that is down is not hammered.
/// Throttling answers that name a `Retry-After` take no tokens: waiting as
/// asked is exactly what the server wants.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryBudget {
    /// Tokens at the start (and at most).
    pub capacity: u32,
    /// Tokens a retry takes.
    pub retry_cost: u32,
    /// Tokens a retry after a timeout takes.
    pub timeout_cost: u32,
    /// Tokens a success gives back.
    pub success_refund: u32,
}

impl Default for RetryBudget {
    /// 500 tokens, 5 a retry, 10 a timeout retry, 1 back per success.
    fn default() -> Self {
        RetryBudget {
            capacity: 500,
            retry_cost: 5,
            timeout_cost: 10,
            success_refund: 1,
        }
    }
}

/// Why a request that ran out of retries was not retried.
pub(crate) const NO_RETRIES_LEFT: &str = "no retries left for this request";

/// What a failed attempt was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub cause: RetryCause,
    /// How long the server asked us to wait, if it did.
    pub retry_after: Option<Duration>,
    /// The request certainly never reached the server (the connection was
    /// refused), so even a non-idempotent one may be sent again.
    pub surely_unsent: bool,
}

/// The decision for a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Try again at this instant.
    RetryAt(Instant),
    /// Do not retry: the reason, for the error message.
    GiveUp(&'static str),
}

/// The retry state of one operation: policy, budget and jitter source.
#[derive(Debug, Clone)]
pub(crate) struct Retrier {
    policy: RetryPolicy,
    tokens: u32,
    rng: SplitMix64,
}

impl Retrier {
    pub(crate) fn new(policy: RetryPolicy, seed: u64) -> Self {
        let tokens = policy.budget.as_ref().map_or(u32::MAX, |b| b.capacity);
        Retrier {
            policy,
            tokens,
            rng: SplitMix64(seed),
        }
    }

    /// Decides about attempt number `retries_so_far + 1` failing with `failure`.
    pub(crate) fn decide(
        &mut self,
        retries_so_far: u32,
        failure: &Failure,
        now: Instant,
    ) -> Decision {
        if retries_so_far >= self.policy.max_retries {
            return Decision::GiveUp(NO_RETRIES_LEFT);
        }
        let free = failure.cause == RetryCause::Throttled && failure.retry_after.is_some();
        if let (Some(budget), false) = (&self.policy.budget, free) {
            let cost = if failure.cause == RetryCause::Timeout {
                budget.timeout_cost
            } else {
                budget.retry_cost
            };
            if self.tokens < cost {
                return Decision::GiveUp("the retry budget is spent: too many failures");
            }
            self.tokens -= cost;
        }
        let delay = match failure.retry_after {
            Some(asked) => {
                // Honour the server's wish, plus up to 10% so that clients
                // told the same instant do not all come back at once.
                let asked = asked.min(self.policy.max_retry_after);
                asked + asked.mul_f64(self.rng.unit() * 0.1)
            }
            None => self.backoff(retries_so_far),
        };
        Decision::RetryAt(now + delay)
    }

    /// Full jitter: uniform in [0, min(max_delay, base * 2^n)].
    pub(crate) fn backoff(&mut self, n: u32) -> Duration {
        let ceiling = self
            .policy
            .base_delay
            .saturating_mul(1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX))
            .min(self.policy.max_delay);
        ceiling.mul_f64(self.rng.unit())
    }

    /// Whether a 403 may be a rate limit.
    pub(crate) fn forbidden_rate_limit(&self) -> bool {
        self.policy.forbidden_rate_limit
    }

    /// Retries allowed per request.
    pub(crate) fn max_retries(&self) -> u32 {
        self.policy.max_retries
    }

    /// A success gives budget back.
    pub(crate) fn on_success(&mut self) {
        if let Some(b) = &self.policy.budget {
            self.tokens = (self.tokens + b.success_refund).min(b.capacity);
        }
    }

    /// Tokens left (for tests and reports).
    #[allow(dead_code)]
    pub(crate) fn tokens(&self) -> u32 {
        self.tokens
    }
}

/// Classifies a transport failure.
pub(crate) fn transport_failure(e: &TransportError) -> Option<Failure> {
    let cause = match e.kind {
        TransportErrorKind::Timeout => RetryCause::Timeout,
        TransportErrorKind::Connect | TransportErrorKind::Io | TransportErrorKind::Other => {
            RetryCause::Transport
        }
        TransportErrorKind::Aborted => return None,
        // No token: nothing went to the API (asked again at the retry).
        TransportErrorKind::Auth => RetryCause::Transport,
    };
    Some(Failure {
        cause,
        retry_after: None,
        surely_unsent: matches!(
            e.kind,
            TransportErrorKind::Connect | TransportErrorKind::Auth
        ),
    })
}

/// Classifies an answer that is not a success; `None` when it must not be
/// retried (400, 401, 403, 404, 422 and every other status not listed). With
/// `forbidden_rate_limit`, a 403 that [`forbidden_throttle`] recognises is
/// a throttle.
pub(crate) fn status_failure(resp: &Response, forbidden_rate_limit: bool) -> Option<Failure> {
    let retry_after = throttle_wait(resp);
    let cause = match resp.status {
        429 => RetryCause::Throttled,
        403 if forbidden_rate_limit && forbidden_throttle(resp) => RetryCause::Throttled,
        503 if retry_after.is_some() => RetryCause::Throttled,
        408 => RetryCause::Timeout,
        500 | 502 | 503 | 504 => RetryCause::ServerError,
        _ => return None,
    };
    Some(Failure {
        cause,
        retry_after,
        surely_unsent: false,
    })
}

/// A 403 that is a rate limit rather than a refusal: it names a
/// `Retry-After`, or a rate-limit header says the budget is spent.
pub(crate) fn forbidden_throttle(resp: &Response) -> bool {
    resp.status == 403
        && (resp.header("retry-after").is_some() || super::pacing::headers::spent(resp))
}

/// How long a throttling answer asks us to wait: its `Retry-After`, else,
/// when its rate-limit headers say the budget is spent, the time to their
/// reset (measured against the answer's `Date` for an epoch reset).
pub(crate) fn throttle_wait(resp: &Response) -> Option<Duration> {
    retry_after(resp).or_else(|| {
        super::pacing::headers::budget(resp, None)
            .filter(|b| b.remaining == 0)
            .map(|b| b.reset)
    })
}

/// The `Retry-After` of an answer: delta-seconds, or an HTTP date measured
/// against the answer's own `Date` header (so clock skew between client and
/// server does not matter). A date without a `Date` header to measure from,
/// or a value that is neither form, is ignored.
pub(crate) fn retry_after(resp: &Response) -> Option<Duration> {
    let value = resp.header("retry-after")?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // Fractional seconds, read without `f64` (see `Decimal`).
    if let Some(d) = super::delta::Decimal::parse(value).and_then(|d| d.to_duration(86_400)) {
        return Some(d);
    }
    let at = http_date(value)?;
    let date = http_date(resp.header("date")?)?;
    Some(Duration::from_secs(at.saturating_sub(date)))
}

/// Seconds since 1970 of an HTTP date in any of its three forms (RFC 9110
/// §5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`, `Sunday, 06-Nov-94 08:49:37
/// GMT`, `Sun Nov  6 08:49:37 1994`, read by the `httpdate` crate (strict:
/// the weekday must be the date's, years run from 1970 to 9999).
pub(crate) fn http_date(text: &str) -> Option<u64> {
    let at = httpdate::parse_http_date(text).ok()?;
    at.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// A small, seedable generator: enough for jitter, and the same on every target.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(pub u64);

impl SplitMix64 {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(cause: RetryCause, retry_after: Option<u64>) -> Failure {
        Failure {
            cause,
            retry_after: retry_after.map(Duration::from_secs),
            surely_unsent: false,
        }
    }

    #[test]
    fn backoff_stays_within_full_jitter_bounds_and_is_seeded() {
        let policy = RetryPolicy::default()
            .base_delay(Duration::from_millis(100))
            .max_delay(Duration::from_secs(2));
        let mut a = Retrier::new(policy.clone(), 7);
        let mut b = Retrier::new(policy, 7);
        for n in 0..12 {
            let ceiling = Duration::from_millis(100 * (1 << n)).min(Duration::from_secs(2));
            let (x, y) = (a.backoff(n), b.backoff(n));
            assert_eq!(x, y, "same seed, same jitter");
            assert!(x <= ceiling, "attempt {n}: {x:?} > {ceiling:?}");
        }
        // Full jitter spreads: over many draws both halves of the range appear.
        let mut r = Retrier::new(RetryPolicy::default(), 1);
        let draws: Vec<Duration> = (0..200).map(|_| r.backoff(3)).collect();
        let ceiling = Duration::from_millis(1600);
        assert!(draws.iter().any(|d| *d < ceiling / 4));
        assert!(draws.iter().any(|d| *d > ceiling * 3 / 4));
        assert_ne!(
            Retrier::new(RetryPolicy::default(), 1).backoff(5),
            Retrier::new(RetryPolicy::default(), 2).backoff(5)
        );
    }

    #[test]
    fn retry_after_is_honoured_and_clamped() {
        let now = crate::core::test_origin();
        let mut r = Retrier::new(
            RetryPolicy::default().max_retry_after(Duration::from_secs(30)),
            3,
        );
        match r.decide(0, &failure(RetryCause::Throttled, Some(4)), now) {
            Decision::RetryAt(at) => {
                let d = at - now;
                assert!(
                    d >= Duration::from_secs(4) && d <= Duration::from_millis(4400),
                    "{d:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        match r.decide(0, &failure(RetryCause::Throttled, Some(3600)), now) {
            Decision::RetryAt(at) => assert!(at - now <= Duration::from_secs(33)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn retry_after_forms() {
        let r = |v: &str| retry_after(&Response::new(429, "").with_header("Retry-After", v));
        assert_eq!(r("7"), Some(Duration::from_secs(7)));
        assert_eq!(r("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(r("soon"), None);
        let dated = Response::new(429, "")
            .with_header("Date", "Wed, 21 Oct 2026 07:28:00 GMT")
            .with_header("Retry-After", "Wed, 21 Oct 2026 07:28:09 GMT");
        assert_eq!(retry_after(&dated), Some(Duration::from_secs(9)));
        let past = Response::new(429, "")
            .with_header("Date", "Wed, 21 Oct 2026 07:28:00 GMT")
            .with_header("Retry-After", "Wed, 21 Oct 2026 07:27:00 GMT");
        assert_eq!(retry_after(&past), Some(Duration::ZERO));
        // A date with nothing to measure it against is not guessed at.
        assert_eq!(r("Wed, 21 Oct 2026 07:28:09 GMT"), None);
    }

    #[test]
    fn statuses_are_classified() {
        let c = |s: u16| status_failure(&Response::new(s, ""), false).map(|f| f.cause);
        assert_eq!(c(429), Some(RetryCause::Throttled));
        assert_eq!(c(503), Some(RetryCause::ServerError));
        assert_eq!(
            status_failure(
                &Response::new(503, "").with_header("Retry-After", "2"),
                false
            )
            .map(|f| f.cause),
            Some(RetryCause::Throttled)
        );
        for s in [500, 502, 504] {
            assert_eq!(c(s), Some(RetryCause::ServerError), "{s}");
        }
        assert_eq!(c(408), Some(RetryCause::Timeout));
        for s in [400, 401, 403, 404, 409, 422] {
            assert_eq!(c(s), None, "{s} must fail at once");
        }
    }

    #[test]
    fn a_forbidden_rate_limit_is_a_throttle_when_enabled() {
        let limited = Response::new(403, "")
            .with_header("Date", "Wed, 21 Oct 2026 07:28:00 GMT")
            .with_header("X-RateLimit-Remaining", "0")
            .with_header("X-RateLimit-Reset", "1792567690");
        let secondary = Response::new(403, "").with_header("Retry-After", "60");
        let refused = Response::new(403, "").with_header("X-RateLimit-Remaining", "10");
        for r in [&limited, &secondary, &refused] {
            assert_eq!(status_failure(r, false), None, "off by default");
        }
        let f = status_failure(&limited, true).expect("a throttle");
        assert_eq!(f.cause, RetryCause::Throttled);
        assert_eq!(
            f.retry_after,
            Some(Duration::from_secs(10)),
            "until the reset"
        );
        let f = status_failure(&secondary, true).expect("a throttle");
        assert_eq!(f.retry_after, Some(Duration::from_secs(60)));
        assert_eq!(status_failure(&refused, true), None, "a refusal stays one");
        assert_eq!(status_failure(&Response::new(403, ""), true), None);
        // A 429 without Retry-After waits for the reset its headers name.
        let r = Response::new(429, "")
            .with_header("RateLimit-Remaining", "0")
            .with_header("RateLimit-Reset", "3");
        assert_eq!(
            status_failure(&r, false).and_then(|f| f.retry_after),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn max_retries_and_budget_end_retrying() {
        let now = crate::core::test_origin();
        let mut r = Retrier::new(RetryPolicy::default().max_retries(2), 1);
        let f = failure(RetryCause::ServerError, None);
        assert!(matches!(r.decide(0, &f, now), Decision::RetryAt(_)));
        assert!(matches!(r.decide(1, &f, now), Decision::RetryAt(_)));
        assert!(matches!(r.decide(2, &f, now), Decision::GiveUp(_)));

        let budget = RetryBudget {
            capacity: 20,
            retry_cost: 5,
            timeout_cost: 10,
            success_refund: 1,
        };
        let mut r = Retrier::new(RetryPolicy::default().budget(Some(budget)), 1);
        assert!(matches!(
            r.decide(0, &failure(RetryCause::Timeout, None), now),
            Decision::RetryAt(_)
        ));
        assert!(matches!(r.decide(0, &f, now), Decision::RetryAt(_)));
        assert!(matches!(r.decide(0, &f, now), Decision::RetryAt(_)));
        assert_eq!(r.tokens(), 0);
        assert!(matches!(r.decide(0, &f, now), Decision::GiveUp(_)));
        // Throttling with Retry-After costs nothing: it is still retried.
        assert!(matches!(
            r.decide(0, &failure(RetryCause::Throttled, Some(1)), now),
            Decision::RetryAt(_)
        ));
        for _ in 0..5 {
            r.on_success();
        }
        assert!(matches!(r.decide(0, &f, now), Decision::RetryAt(_)));
        assert!(matches!(r.decide(0, &f, now), Decision::GiveUp(_)));
    }

    #[test]
    fn http_dates_in_their_three_forms() {
        for t in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "  Sun, 06 Nov 1994 08:49:37 GMT \t",
        ] {
            assert_eq!(http_date(t), Some(784_111_777), "{t:?}");
        }
        assert_eq!(http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        for t in [
            "",
            "Mon, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Wed, 31 Dec 1969 23:59:59 GMT",
            "1994-11-06T08:49:37Z",
        ] {
            assert_eq!(http_date(t), None, "{t:?}");
        }
    }
}

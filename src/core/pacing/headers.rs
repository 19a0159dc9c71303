//! Rate-limit headers: the budget a server announces with its answers.
//!
//! Read, in this order (the first family present wins):
//! - `RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset` (IETF
//!   draft, reset in delta seconds; GitLab sends an epoch instant there,
//!   read as one above [`EPOCH_FROM`] when the answer's `Date` or the
//!   client's clock says now);
//! - `RateLimit: limit=100, remaining=50, reset=30` (the combined field of
//!   later drafts) or `RateLimit: "default";r=50;t=30` (its structured form,
//!   `r` remaining, `t` seconds to reset);
//! - `X-RateLimit-Limit` / `X-RateLimit-Remaining` / `X-RateLimit-Reset`
//!   (GitHub and many others; reset as epoch seconds when it is above
//!   [`EPOCH_FROM`], else delta seconds).
//!
//! Values that are not a non-negative number are ignored, and so is a
//! family without both a remaining count and a reset.

use std::time::Duration;

use crate::core::http::Response;

/// A reset above this many seconds is an instant (seconds since 1970), not a
/// delay: 10⁹ seconds is 2001, and no window lasts 31 years.
pub(crate) const EPOCH_FROM: u64 = 1_000_000_000;

/// The budget announced with one answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Budget {
    /// Requests of the window, if said.
    pub(crate) limit: Option<u64>,
    /// Requests left in the window.
    pub(crate) remaining: u64,
    /// Until the window resets, measured from the answer.
    pub(crate) reset: Duration,
}

/// A whole number of seconds or requests: digits only (a sign, a fraction,
/// anything else is not one), saturating at `u64::MAX`.
fn count(text: &str) -> Option<u64> {
    let t = text.trim().trim_matches('"');
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(t.parse::<u64>().unwrap_or(u64::MAX))
}

/// A number of seconds, whole or with a fraction (`1.5`); saturating.
fn seconds(text: &str) -> Option<Duration> {
    let t = text.trim().trim_matches('"');
    if let Some(n) = count(t) {
        return Some(Duration::from_secs(n));
    }
    // No float parsing of hostile text: digits '.' digits, read as millis.
    let (whole, frac) = t.split_once('.')?;
    let whole = count(whole)?;
    if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis: u64 = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0, |m, b| m * 10 + u64::from(b - b'0'));
    Some(Duration::from_secs(whole).saturating_add(Duration::from_millis(millis)))
}

/// The budget an answer announces, if any. `wall` is the client's clock in
/// seconds since 1970, used for an epoch reset when the answer has no
/// `Date` header to measure it against (the server's `Date` is preferred:
/// clock skew then does not matter).
pub(crate) fn budget(resp: &Response, wall: Option<u64>) -> Option<Budget> {
    ietf(resp, wall)
        .or_else(|| combined(resp))
        .or_else(|| x_rate_limit(resp, wall))
}

fn ietf(resp: &Response, wall: Option<u64>) -> Option<Budget> {
    let remaining = count(resp.header("ratelimit-remaining")?)?;
    let raw = resp.header("ratelimit-reset")?;
    // Delta seconds in the draft; GitLab sends an instant (`1580393717`):
    // read as one when it is above the epoch threshold and a clock says now.
    let now = || {
        resp.header("date")
            .and_then(crate::core::retry::http_date)
            .or(wall)
    };
    let reset = match (count(raw), now()) {
        (Some(at), Some(now)) if at > EPOCH_FROM => Duration::from_secs(at.saturating_sub(now)),
        _ => seconds(raw)?,
    };
    Some(Budget {
        limit: resp.header("ratelimit-limit").and_then(count),
        remaining,
        reset,
    })
}

fn combined(resp: &Response) -> Option<Budget> {
    let field = resp.header("ratelimit")?;
    // Only the first policy of a list: `"a";r=1;t=2, "b";r=5;t=9` names
    // several, and the first is the one this request counted against.
    let (mut limit, mut remaining, mut reset) = (None, None, None);
    for part in field.split([',', ';']) {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "limit" | "q" if limit.is_none() => limit = count(value),
            "remaining" | "r" if remaining.is_none() => remaining = count(value),
            "reset" | "t" if reset.is_none() => reset = seconds(value),
            _ => {}
        }
    }
    Some(Budget {
        limit,
        remaining: remaining?,
        reset: reset?,
    })
}

fn x_rate_limit(resp: &Response, wall: Option<u64>) -> Option<Budget> {
    let remaining = count(resp.header("x-ratelimit-remaining")?)?;
    let raw = resp.header("x-ratelimit-reset")?;
    let reset = match count(raw) {
        Some(at) if at > EPOCH_FROM => {
            let now = resp
                .header("date")
                .and_then(crate::core::retry::http_date)
                .or(wall)?;
            Duration::from_secs(at.saturating_sub(now))
        }
        _ => seconds(raw)?,
    };
    Some(Budget {
        limit: resp.header("x-ratelimit-limit").and_then(count),
        remaining,
        reset,
    })
}

/// Whether an answer says the budget is spent (a remaining count of 0 in
/// any family), for telling a 403 that is a rate limit from one that is not.
pub(crate) fn spent(resp: &Response) -> bool {
    let zero = |name: &str| resp.header(name).and_then(count) == Some(0);
    zero("ratelimit-remaining")
        || zero("x-ratelimit-remaining")
        || combined(resp).is_some_and(|b| b.remaining == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(headers: &[(&str, &str)]) -> Response {
        headers
            .iter()
            .fold(Response::new(200, "{}"), |r, &(n, v)| r.with_header(n, v))
    }

    #[test]
    fn the_three_families() {
        let b = budget(
            &with(&[
                ("RateLimit-Limit", "100"),
                ("RateLimit-Remaining", "42"),
                ("RateLimit-Reset", "7"),
            ]),
            None,
        );
        assert_eq!(
            b,
            Some(Budget {
                limit: Some(100),
                remaining: 42,
                reset: Duration::from_secs(7)
            })
        );
        let b = budget(
            &with(&[("RateLimit", "limit=100, remaining=3, reset=2")]),
            None,
        );
        assert_eq!(b.map(|b| (b.limit, b.remaining)), Some((Some(100), 3)));
        let b = budget(&with(&[("RateLimit", "\"default\";r=9;t=1.5")]), None).unwrap();
        assert_eq!((b.remaining, b.reset), (9, Duration::from_millis(1500)));
        // GitHub: epoch seconds, against the answer's Date.
        let b = budget(
            &with(&[
                ("Date", "Wed, 21 Oct 2026 07:28:00 GMT"),
                ("X-RateLimit-Limit", "5000"),
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", "1792567690"),
            ]),
            None,
        )
        .unwrap();
        assert_eq!(b.reset, Duration::from_secs(1_792_567_690 - 1_792_567_680));
        // Without a Date, the client's clock; without either, nothing.
        let r = with(&[
            ("X-RateLimit-Remaining", "5"),
            ("X-RateLimit-Reset", "1792567690"),
        ]);
        assert_eq!(
            budget(&r, Some(1_792_567_689)).map(|b| b.reset),
            Some(Duration::from_secs(1))
        );
        assert_eq!(budget(&r, None), None);
        // Delta seconds under the epoch threshold.
        let r = with(&[("X-RateLimit-Remaining", "5"), ("X-RateLimit-Reset", "60")]);
        assert_eq!(
            budget(&r, None).map(|b| b.reset),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn an_epoch_ratelimit_reset_is_an_instant() {
        // GitLab: `RateLimit-Reset` is Unix time, not the draft's delta.
        let r = with(&[
            ("Date", "Thu, 30 Jan 2020 14:14:16 GMT"),
            ("RateLimit-Limit", "600"),
            ("RateLimit-Remaining", "0"),
            ("RateLimit-Reset", "1580393717"),
        ]);
        assert_eq!(
            budget(&r, None).map(|b| b.reset),
            Some(Duration::from_secs(61))
        );
    }

    #[test]
    fn garbage_is_ignored() {
        for (rem, reset) in [
            ("-1", "5"),
            ("5", "-5"),
            ("lots", "5"),
            ("5", "soon"),
            ("", "5"),
            ("5", "1e9"),
            ("5", "NaN"),
            ("0x10", "5"),
            ("5", "1."),
        ] {
            let r = with(&[("RateLimit-Remaining", rem), ("RateLimit-Reset", reset)]);
            assert_eq!(budget(&r, None), None, "{rem:?} {reset:?}");
        }
        // Huge values saturate rather than fail; the pacer clamps the wait.
        let r = with(&[
            ("RateLimit-Remaining", "99999999999999999999999"),
            ("RateLimit-Reset", "99999999999999999999999"),
        ]);
        let b = budget(&r, None).unwrap();
        assert_eq!(b.remaining, u64::MAX);
        assert!(b.reset >= Duration::from_secs(u64::MAX / 2));
        // A reset in the past is now.
        let r = with(&[
            ("Date", "Wed, 21 Oct 2026 07:28:00 GMT"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", "1700000000"),
        ]);
        assert_eq!(budget(&r, None).map(|b| b.reset), Some(Duration::ZERO));
        assert_eq!(budget(&with(&[("RateLimit", "nonsense")]), None), None);
        assert!(spent(&with(&[("X-RateLimit-Remaining", "0")])));
        assert!(!spent(&with(&[("X-RateLimit-Remaining", "1")])));
        assert!(spent(&with(&[(
            "RateLimit",
            "limit=5, remaining=0, reset=3"
        )])));
    }
}

//! The API request usage an API announces on its answers: Salesforce's
//! `Sforce-Limit-Info: api-usage=18/15000` (requests used of the org's
//! daily API request limit). Read by sweeps and jobs of many items for
//! their reports; a value that does not parse is ignored.

use crate::core::http::Response;

/// Requests used of an API's request limit, as the API announced it
/// (Salesforce's `Sforce-Limit-Info` header: the org's daily API request
/// limit, counted over the last 24 hours).
///
/// ```
/// use pagewise::ApiUsage;
/// let usage = ApiUsage::parse("api-usage=13600/15000").unwrap();
/// assert_eq!((usage.used, usage.limit), (13600, 15000));
/// assert!(usage.is_high());
/// assert_eq!(ApiUsage::parse("api-usage=lots"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiUsage {
    /// Requests used.
    pub used: u64,
    /// The limit (at least 1).
    pub limit: u64,
}

impl ApiUsage {
    /// The header read: `Sforce-Limit-Info`.
    pub const HEADER: &'static str = "Sforce-Limit-Info";

    /// The usage at which a sweep raises
    /// [`Notice::ApiUsageHigh`](crate::Notice::ApiUsageHigh): 90% of the limit.
    pub const HIGH_PERCENT: u64 = 90;

    /// The `api-usage=used/limit` entry of a `Sforce-Limit-Info` value
    /// (entries are separated by commas, as in `api-usage=25/5000,
    /// per-app-api-usage=17/250(appName=app)`; the first `api-usage` entry
    /// counts). `None` when there is none, or it is not two unsigned decimal
    /// numbers of at most 19 digits with a limit of at least 1.
    pub fn parse(value: &str) -> Option<ApiUsage> {
        value.split(',').find_map(|entry| {
            let (key, rest) = entry.trim().split_once('=')?;
            if !key.trim().eq_ignore_ascii_case("api-usage") {
                return None;
            }
            let (used, limit) = rest.trim().split_once('/')?;
            let (used, limit) = (number(used.trim())?, number(limit.trim())?);
            (limit > 0).then_some(ApiUsage { used, limit })
        })
    }

    /// The usage announced by `response`'s `Sforce-Limit-Info` headers (the
    /// first one that parses), if any.
    pub(crate) fn of(response: &Response) -> Option<ApiUsage> {
        response
            .headers_named(Self::HEADER)
            .find_map(ApiUsage::parse)
    }

    /// Whether usage reached [`HIGH_PERCENT`](Self::HIGH_PERCENT) (90%) of
    /// the limit.
    pub fn is_high(&self) -> bool {
        u128::from(self.used) * 100 >= u128::from(self.limit) * u128::from(Self::HIGH_PERCENT)
    }

    /// The later of two announcements: answers of concurrent requests come
    /// back in any order, so a lower count against the same limit is an
    /// older one; a different limit is news.
    pub(crate) fn update(current: &mut Option<ApiUsage>, seen: ApiUsage) {
        match current {
            Some(c) if c.limit == seen.limit && c.used > seen.used => {}
            _ => *current = Some(seen),
        }
    }
}

/// An unsigned decimal of 1 to 19 ASCII digits (no sign, no spaces).
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(used: u64, limit: u64) -> Option<ApiUsage> {
        Some(ApiUsage { used, limit })
    }

    #[test]
    fn parses_salesforce_values() {
        assert_eq!(ApiUsage::parse("api-usage=18/15000"), usage(18, 15000));
        assert_eq!(
            ApiUsage::parse(" API-Usage = 18 / 15000 "),
            usage(18, 15000)
        );
        assert_eq!(
            ApiUsage::parse("api-usage=25/5000, per-app-api-usage=17/250(appName=sample-app)"),
            usage(25, 5000)
        );
        assert_eq!(
            ApiUsage::parse("per-app-api-usage=17/250(appName=a),api-usage=30/5000"),
            usage(30, 5000)
        );
        // Over the limit (Salesforce lets an org go a little past it).
        assert_eq!(
            ApiUsage::parse("api-usage=15100/15000"),
            usage(15100, 15000)
        );
        assert_eq!(
            ApiUsage::parse("api-usage=0/9999999999999999999"),
            usage(0, 9_999_999_999_999_999_999)
        );
    }

    #[test]
    fn hostile_values_are_ignored() {
        for bad in [
            "",
            "api-usage",
            "api-usage=",
            "api-usage=18",
            "api-usage=/15000",
            "api-usage=18/",
            "api-usage=18/0",
            "api-usage=-1/15000",
            "api-usage=+1/15000",
            "api-usage=1.5/15000",
            "api-usage=18/15000/3",
            "api-usage=1e3/15000",
            "api-usage=99999999999999999999/15000",
            "api-usage=18/18446744073709551616",
            "api-usage=١٨/15000",
            "per-app-api-usage=17/250",
            "apiusage=18/15000",
            "api-usage=18/15000(appName=x)",
            ",,,,",
            "=/",
        ] {
            assert_eq!(ApiUsage::parse(bad), None, "{bad:?}");
        }
        let long = format!("api-usage={}/1", "9".repeat(100_000));
        assert_eq!(ApiUsage::parse(&long), None);
    }

    #[test]
    fn high_from_ninety_percent_without_overflow() {
        let high = |used, limit| ApiUsage { used, limit }.is_high();
        assert!(!high(13_499, 15_000));
        assert!(high(13_500, 15_000));
        assert!(high(20_000, 15_000));
        assert!(!high(0, 1));
        assert!(high(1, 1));
        assert!(high(u64::MAX, u64::MAX));
        assert!(!high(u64::MAX / 2, u64::MAX));
    }

    #[test]
    fn reads_the_response_header_and_keeps_the_latest() {
        let resp = Response::new(200, "{}")
            .with_header("sforce-limit-info", "garbage")
            .with_header("Sforce-Limit-Info", "api-usage=7/100");
        assert_eq!(ApiUsage::of(&resp), usage(7, 100));
        assert_eq!(ApiUsage::of(&Response::new(200, "{}")), None);

        let mut current = None;
        ApiUsage::update(
            &mut current,
            ApiUsage {
                used: 7,
                limit: 100,
            },
        );
        ApiUsage::update(
            &mut current,
            ApiUsage {
                used: 5,
                limit: 100,
            },
        );
        assert_eq!(current, usage(7, 100), "an older answer, come late");
        ApiUsage::update(
            &mut current,
            ApiUsage {
                used: 9,
                limit: 100,
            },
        );
        assert_eq!(current, usage(9, 100));
        ApiUsage::update(
            &mut current,
            ApiUsage {
                used: 3,
                limit: 200,
            },
        );
        assert_eq!(current, usage(3, 200), "a new limit is news");
    }
}

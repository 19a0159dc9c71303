//! Calendar arithmetic without dependencies: RFC 3339 formatting and parsing
//! (second precision, UTC) and IMF-fixdate HTTP dates.

/// Formats a Unix timestamp (seconds, UTC) as RFC 3339 with second precision.
pub(crate) fn format_rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Formats a Unix timestamp as an IMF-fixdate (RFC 9110), e.g.
/// `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) fn format_http_date(secs: u64) -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-since-epoch to proleptic Gregorian date.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Howard Hinnant's proleptic Gregorian date to days since the epoch.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A parsed instant: whole seconds since the epoch (UTC) and whether a
/// non-zero fraction of a second followed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Instant {
    pub(crate) secs: i64,
    pub(crate) fraction: bool,
}

/// Parses an RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
/// `t` and a space are accepted in place of `T`, and a space in place of
/// the `+` of the offset (what `+` becomes in a form-encoded query). With
/// `zone_optional`, a missing offset means UTC (ServiceNow style
/// `YYYY-MM-DD HH:MM:SS`).
pub(crate) fn parse_rfc3339(text: &str, zone_optional: bool) -> Option<Instant> {
    let b = text.as_bytes();
    if b.len() < 19 || !text.is_ascii() {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = &text[range];
        digits
            .bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| digits.parse().ok())
            .flatten()
    };
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    if day == 0 || civil_from_days(days) != (i64::from(year), month, day) {
        return None;
    }

    let mut rest = &text[19..];
    let mut fraction = false;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let digits = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        fraction = after_dot[..digits].bytes().any(|c| c != b'0');
        rest = &after_dot[digits..];
    }
    let offset_secs: i64 = match rest.as_bytes() {
        [] if zone_optional => 0,
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-' | b' '), h1, h2, b':', m1, m2] => {
            let hh = [*h1, *h2];
            let mm = [*m1, *m2];
            if !hh.iter().chain(&mm).all(u8::is_ascii_digit) {
                return None;
            }
            let h = i64::from((hh[0] - b'0') * 10 + (hh[1] - b'0'));
            let m = i64::from((mm[0] - b'0') * 10 + (mm[1] - b'0'));
            if h > 23 || m > 59 {
                return None;
            }
            let magnitude = h * 3600 + m * 60;
            if *sign == b'-' {
                -magnitude
            } else {
                magnitude
            }
        }
        _ => return None,
    };
    let local = days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    Some(Instant {
        secs: local - offset_secs,
        fraction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        for secs in [
            0,
            1,
            951_782_400,
            1_767_225_600,
            1_772_323_200,
            4_102_444_799,
        ] {
            let text = format_rfc3339(secs);
            assert_eq!(
                parse_rfc3339(&text, false),
                Some(Instant {
                    secs: secs as i64,
                    fraction: false
                }),
                "{text}"
            );
        }
    }

    #[test]
    fn rfc3339_variants() {
        let base = 1_772_323_200; // 2026-03-01T00:00:00Z
        let p = |s: &str| parse_rfc3339(s, false).map(|i| (i.secs, i.fraction));
        assert_eq!(p("2026-03-01T00:00:00Z"), Some((base, false)));
        assert_eq!(p("2026-03-01t00:00:00z"), Some((base, false)));
        assert_eq!(p("2026-03-01 00:00:00Z"), Some((base, false)));
        assert_eq!(p("2026-03-01T00:00:00.000Z"), Some((base, false)));
        assert_eq!(p("2026-03-01T00:00:00.25Z"), Some((base, true)));
        assert_eq!(p("2026-03-01T02:00:00+02:00"), Some((base, false)));
        assert_eq!(p("2026-03-01T02:00:00 02:00"), Some((base, false)));
        assert_eq!(p("2026-02-28T22:00:00-02:00"), Some((base, false)));
        for bad in [
            "",
            "2026-03-01",
            "2026-03-01T00:00:00",
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-03-01T24:00:00Z",
            "2026-03-01T00:00:00.Z",
            "2026-03-01T00:00:00+0200",
            "2026/03/01T00:00:00Z",
            "2026-03-01T00:00:00Zjunk",
            "yesterday",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
        assert_eq!(
            parse_rfc3339("2026-03-01 00:00:00", true).map(|i| i.secs),
            Some(base)
        );
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            format_http_date(784_111_777),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            format_http_date(1_772_323_200),
            "Sun, 01 Mar 2026 00:00:00 GMT"
        );
    }
}

//! Delta sync: only the records changed since a watermark, with ties at the
//! watermark neither lost nor repeated.

use std::cmp::Ordering;
use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::page;

/// How an API filters on an updated-at field: a query parameter whose name
/// and value are templates over `{field}` and `{value}`.
///
/// The filter must be inclusive (`>=`): records updated exactly at the
/// watermark are fetched again, and those already seen (their ids are kept
/// in the [`Watermark`]) are dropped, so a record updated in the same
/// second as the previous sync is never lost, and none is repeated.
///
/// ```
/// use pagewise::DeltaFilter;
/// let plain = DeltaFilter::new("{field}_gte", "{value}");           // ?updated_at_gte=2026-…
/// let servicenow = DeltaFilter::new("sysparm_query", "{field}>={value}");
/// let postgrest = DeltaFilter::new("{field}", "gte.{value}");
/// # let _ = (plain, servicenow, postgrest);
/// ```
///
/// When the request already has the filter's parameter (a list with
/// `sysparm_query=active=true`), the filter joins its value with
/// [`joiner`](DeltaFilter::joiner) (`^` for ServiceNow): one
/// `sysparm_query=active=true^sys_updated_on>=…`, never the parameter twice.
///
/// ```
/// use pagewise::{Api, DeltaFilter, ListOptions, Watermark};
/// use pagewise::core::Sweep;
/// let api = Api::builder("https://example.service-now.com/api/now/table/")
///     .pagination(pagewise::Pagination::offset().params("sysparm_offset", "sysparm_limit"))
///     .delta(DeltaFilter::new("sysparm_query", "{field}>={value}").joiner("^"))
///     .build()?;
/// let options = ListOptions::new("incident")
///     .query("sysparm_query", "active=true")
///     .since(Watermark::new("sys_updated_on", "2026-01-01 00:00:00"));
/// let mut sweep = Sweep::new(api.spec(), options, web_time::Instant::now())?;
/// let first = sweep.poll_request().unwrap();
/// assert_eq!(
///     first.url(),
///     "https://example.service-now.com/api/now/table/incident\
///      ?sysparm_query=active%3Dtrue%5Esys_updated_on%3E%3D2026-01-01+00%3A00%3A00\
///      &sysparm_offset=0&sysparm_limit=100"
/// );
/// # Ok::<(), pagewise::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaFilter {
    pub(crate) param: String,
    pub(crate) value: String,
    pub(crate) id_field: String,
    pub(crate) joiner: Option<String>,
    pub(crate) format: DeltaFormat,
    pub(crate) compose: DeltaCompose,
}

/// How the watermark's value is written when the filter is sent: the
/// records may carry their updated-at field in one format (RFC 3339 with an
/// offset or fractions of a second, Salesforce's `2026-01-02T03:04:05.000+0000`,
/// ServiceNow's `2026-01-02 03:04:05`, unix seconds, or a bare
/// `2026-01-02`) and the API's filter want another.
///
/// Every format but [`AsIs`](DeltaFormat::AsIs) writes the instant in UTC,
/// in whole seconds (rounded down: the filter is inclusive, so a record in
/// the same second is fetched again and dropped, never lost), and compares
/// the records' values with the watermark as instants, whatever format
/// each is written in. A watermark none of those formats reads is a
/// [`Config`](crate::ErrorKind::Config) error naming it, when the sweep starts.
/// In the option schema: `format: 'as-is' | 'rfc3339' | 'servicenow' | 'soql' | 'unix'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DeltaFormat {
    /// The value as the records carry it (the default).
    #[default]
    AsIs,
    /// `2026-01-02T03:04:05Z`.
    Rfc3339,
    /// ServiceNow's `2026-01-02 03:04:05` (UTC, as the Table API reads it).
    #[serde(rename = "servicenow")]
    ServiceNow,
    /// A SOQL date-time literal, unquoted: `2026-01-02T03:04:05Z`.
    Soql,
    /// Seconds since 1970-01-01T00:00:00Z: `1767323045`.
    Unix,
}

/// Where the filter goes: a query parameter of its own (or joined to the
/// request's, see [`DeltaFilter::joiner`]), or into a SOQL query.
/// In the option schema: `compose: 'param' | 'soql'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DeltaCompose {
    /// `param=value` (the default).
    #[default]
    Param,
    /// The condition (the filter's value template) is written into the
    /// SOQL query of the filter's parameter (`q`): `WHERE cond`, or `AND
    /// cond` after the existing conditions (in parentheses), before
    /// `GROUP BY`, `ORDER BY`, `LIMIT`, `OFFSET` and the like. Keywords
    /// are read in any case, outside string literals and subqueries.
    Soql,
}

impl Default for DeltaFilter {
    /// `?{field}_gte={value}`, records identified by `id`.
    fn default() -> Self {
        DeltaFilter::new("{field}_gte", "{value}")
    }
}

impl DeltaFilter {
    /// A filter sent as `param=value`, both templates over `{field}` and `{value}`.
    pub fn new(param: impl Into<String>, value: impl Into<String>) -> Self {
        DeltaFilter {
            param: param.into(),
            value: value.into(),
            id_field: "id".into(),
            joiner: None,
            format: DeltaFormat::AsIs,
            compose: DeltaCompose::Param,
        }
    }

    /// Salesforce: the condition `{field} >= {value}` written into the SOQL
    /// of the `q` parameter, the value as a SOQL date-time literal.
    ///
    /// ```
    /// use pagewise::{Api, DeltaFilter, Link, ListOptions, Pagination, Watermark};
    /// use pagewise::core::Sweep;
    /// let api = Api::builder("https://acme.my.salesforce.com/services/data/v60.0/")
    ///     .pagination(Pagination::next_url(Link::pointer("/nextRecordsUrl")).limit_param(None))
    ///     .delta(DeltaFilter::soql())
    ///     .build()?;
    /// let options = ListOptions::new("query")
    ///     .query("q", "SELECT Id FROM Account WHERE Name LIKE 'A%' ORDER BY Id LIMIT 10")
    ///     .since(Watermark::new("LastModifiedDate", "2026-01-02T03:04:05.000+0000"));
    /// let mut sweep = Sweep::new(api.spec(), options, web_time::Instant::now())?;
    /// let url = sweep.poll_request().unwrap().url().to_string();
    /// let q = url::Url::parse(&url).unwrap().query_pairs().find(|(k, _)| k == "q").unwrap().1.into_owned();
    /// assert_eq!(
    ///     q,
    ///     "SELECT Id FROM Account WHERE (Name LIKE 'A%') AND LastModifiedDate >= 2026-01-02T03:04:05Z ORDER BY Id LIMIT 10"
    /// );
    /// # Ok::<(), pagewise::Error>(())
    /// ```
    pub fn soql() -> Self {
        DeltaFilter::new("q", "{field} >= {value}")
            .format(DeltaFormat::Soql)
            .compose(DeltaCompose::Soql)
    }

    /// How the watermark is written when the filter is sent (default
    /// [`DeltaFormat::AsIs`]).
    ///
    /// ```
    /// use pagewise::{DeltaFilter, DeltaFormat};
    /// // Records carry RFC 3339; ServiceNow's query wants its own format.
    /// let servicenow = DeltaFilter::new("sysparm_query", "{field}>={value}")
    ///     .joiner("^")
    ///     .format(DeltaFormat::ServiceNow);
    /// # let _ = servicenow;
    /// ```
    pub fn format(mut self, format: DeltaFormat) -> Self {
        self.format = format;
        self
    }

    /// Where the filter goes (default [`DeltaCompose::Param`]).
    pub fn compose(mut self, compose: DeltaCompose) -> Self {
        self.compose = compose;
        self
    }

    /// What joins the filter to a value the request already has for the
    /// same parameter: `existing{joiner}filter` (`^` for ServiceNow's
    /// `sysparm_query`, `,` for a list of conditions). Without a joiner, a
    /// request that already has the parameter is a
    /// [`Config`](crate::ErrorKind::Config) error: sending it twice would
    /// let the API take either one (often the first, so every record
    /// comes back, silently).
    pub fn joiner(mut self, joiner: impl Into<String>) -> Self {
        self.joiner = Some(joiner.into());
        self
    }

    /// The record field (or JSON pointer) that identifies a record (default `id`).
    pub fn id_field(mut self, field: impl Into<String>) -> Self {
        self.id_field = field.into();
        self
    }

    /// The filter's parameter and value for `field >= value`. A field given
    /// as a JSON pointer (`/attributes/updated_at`, JSON:API) is named in
    /// the templates by its last segment (`updated_at`).
    pub(crate) fn pair(&self, field: &str, value: &str) -> (String, String) {
        let field = match field.strip_prefix('/') {
            Some(p) => p.rsplit('/').next().unwrap_or(p),
            None => field,
        };
        let fill = |t: &str| t.replace("{field}", field).replace("{value}", value);
        (fill(&self.param), fill(&self.value))
    }

    /// Adds the filter for `field >= value` to `url`'s query: a new
    /// parameter, or joined to the one the URL already has. When the URL
    /// has the parameter more than once (in the path's query and in the
    /// list's), the values are joined in order, then the filter: one
    /// parameter, where the first was. The rest of the query is left as it
    /// was written.
    pub(crate) fn apply(
        &self,
        url: &mut super::url::Url,
        field: &str,
        value: &str,
    ) -> crate::Result<()> {
        let value = self.write_value(value)?;
        let (name, filter) = self.pair(field, &value);
        let existing = url.query_values(&name);
        if self.compose == DeltaCompose::Soql {
            let [query] = existing.as_slice() else {
                return Err(crate::Error::new(
                    crate::ErrorKind::Config,
                    format!(
                        "the delta filter writes into the SOQL query of the parameter {name:?}, \
                         which the request has {} times (give the query once)",
                        existing.len()
                    ),
                ));
            };
            let composed = soql_with(query, &filter);
            url.replace_query_param(&name, &composed);
            return Ok(());
        }
        if existing.is_empty() {
            url.append_query_pairs([(name.as_str(), filter.as_str())]);
            return Ok(());
        }
        let Some(joiner) = &self.joiner else {
            return Err(crate::Error::new(
                crate::ErrorKind::Config,
                format!(
                    "the request already has the query parameter {name:?} that the delta filter sets: \
                     give the filter a joiner (DeltaFilter::joiner, e.g. \"^\" for ServiceNow) to combine them"
                ),
            ));
        };
        let mut joined = String::new();
        for v in existing.iter().filter(|v| !v.is_empty()) {
            joined.push_str(v);
            joined.push_str(joiner);
        }
        joined.push_str(&filter);
        url.replace_query_param(&name, &joined);
        Ok(())
    }
}

impl DeltaFilter {
    /// The watermark's value written in this filter's format.
    pub(crate) fn write_value(&self, value: &str) -> crate::Result<String> {
        if self.format == DeltaFormat::AsIs {
            return Ok(value.to_string());
        }
        let bad = |why: &str| {
            crate::Error::new(
                crate::ErrorKind::Config,
                format!(
                    "the delta watermark {value:?} {why} (format {:?} needs a date-time: \
                     RFC 3339, 2026-01-02T03:04:05.000+0000, 2026-01-02 03:04:05, \
                     2026-01-02 or unix seconds)",
                    self.format
                ),
            )
        };
        let at = parse_instant(value).ok_or_else(|| bad("is not a date-time pagewise reads"))?;
        let at = at
            .to_offset(time::UtcOffset::UTC)
            .replace_nanosecond(0)
            .map_err(|_| bad("is out of range"))?;
        if self.format == DeltaFormat::Unix {
            return Ok(at.unix_timestamp().to_string());
        }
        let text = at
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|_| bad("cannot be written in RFC 3339 (a year beyond 0000-9999)"))?;
        Ok(match self.format {
            DeltaFormat::ServiceNow => text.trim_end_matches('Z').replacen('T', " ", 1),
            _ => text,
        })
    }
}

/// A date-time in one of the formats records carry, read by the `time`
/// crate: RFC 3339; with an offset written without a colon (`+0000`,
/// Salesforce); with a space for the `T` and no offset (ServiceNow, UTC); a
/// bare date (midnight UTC); or unix seconds (with fractions dropped).
pub(crate) fn parse_instant(text: &str) -> Option<time::OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;
    let t = text.trim();
    if !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        let whole = t.split('.').next().unwrap_or(t);
        if let Ok(secs) = whole.parse::<i64>() {
            return OffsetDateTime::from_unix_timestamp(secs).ok();
        }
    }
    if let Ok(at) = OffsetDateTime::parse(t, &Rfc3339) {
        return Some(at);
    }
    let b = t.as_bytes();
    let mut normal = t.to_string();
    if b.len() == 10 {
        normal.push_str("T00:00:00Z");
    } else if b.len() == 19 && b[10] == b' ' {
        // ServiceNow: `2026-01-02 03:04:05`, in UTC.
        normal.replace_range(10..11, "T");
        normal.push('Z');
    } else if b.len() > 24 {
        // Salesforce: `+0000`, an offset without its colon.
        let sign = b[b.len() - 5];
        if (sign == b'+' || sign == b'-') && b[b.len() - 4..].iter().all(u8::is_ascii_digit) {
            normal.insert(b.len() - 2, ':');
        }
    }
    OffsetDateTime::parse(&normal, &Rfc3339).ok()
}

/// Compares two values of the updated-at field: as instants when both are
/// date-times the filter reads (a filter with a format), else as
/// [`compare`] does.
fn compare_values(a: &str, b: &str, timed: bool) -> Ordering {
    if timed {
        if let (Some(x), Some(y)) = (parse_instant(a), parse_instant(b)) {
            return x.cmp(&y);
        }
    }
    compare(a, b)
}

/// `query` (SOQL) with `condition` added to its `WHERE` clause, or as a new
/// `WHERE` clause before the clauses that follow it.
pub(crate) fn soql_with(query: &str, condition: &str) -> String {
    let words = soql_words(query);
    let find = |word: &str, from: usize| {
        words
            .iter()
            .position(|(start, w)| *start >= from && w.eq_ignore_ascii_case(word))
    };
    // The clauses that may follow WHERE, in any case, at the top level.
    const AFTER: [&str; 8] = [
        "WITH", "GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET", "FOR", "UPDATE",
    ];
    let where_at = find("WHERE", 0).map(|i| words[i].0);
    let from = where_at.unwrap_or(0);
    let end = words
        .iter()
        .enumerate()
        .filter(|(_, (start, _))| *start > from)
        .find(|(i, (_, w))| {
            AFTER.iter().any(|k| w.eq_ignore_ascii_case(k))
                // `ORDER` and `GROUP` start a clause only before `BY`
                // (`FROM Order` names an object).
                && (!(w.eq_ignore_ascii_case("ORDER") || w.eq_ignore_ascii_case("GROUP"))
                    || words.get(i + 1).is_some_and(|(_, n)| n.eq_ignore_ascii_case("BY")))
        })
        .map_or(query.len(), |(_, (start, _))| *start);
    let head = query[..end].trim_end();
    let tail = &query[end..];
    let sep = if tail.is_empty() { "" } else { " " };
    match where_at {
        Some(w) => {
            let existing = query[w + "WHERE".len()..end].trim();
            let keyword = &query[w..w + "WHERE".len()];
            format!(
                "{} {keyword} ({existing}) AND {condition}{sep}{tail}",
                query[..w].trim_end()
            )
        }
        None => format!("{head} WHERE {condition}{sep}{tail}"),
    }
}

/// The words of a SOQL query at its top level (outside string literals and
/// parentheses), with their byte offsets.
fn soql_words(query: &str) -> Vec<(usize, &str)> {
    let b = query.as_bytes();
    let mut words = Vec::new();
    let (mut i, mut depth) = (0, 0usize);
    while i < b.len() {
        match b[i] {
            b'\'' => {
                // A string literal: `\'` and `\\` escape.
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'(' => {
                depth += 1;
                i += 1;
            }
            b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.')
                {
                    i += 1;
                }
                if depth == 0 {
                    words.push((start, &query[start..i]));
                }
            }
            _ => i += 1,
        }
    }
    words
}

/// Where a delta sync got to: the highest value of the field seen, and the
/// ids of the records that had exactly that value. Store it (it is
/// serializable) and pass it to the next sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    /// The updated-at field.
    pub field: String,
    /// Its highest value seen, as sent back to the API.
    pub value: String,
    /// Ids of the records whose field had exactly `value`.
    pub ids: Vec<String>,
}

impl Watermark {
    /// A watermark at `value` with no record seen there yet (a first sync
    /// from a point in time).
    pub fn new(field: impl Into<String>, value: impl Into<String>) -> Self {
        Watermark {
            field: field.into(),
            value: value.into(),
            ids: Vec::new(),
        }
    }
}

/// Compares two field values: as numbers when both are numbers, otherwise
/// as text (ISO 8601 timestamps in one format sort correctly as text).
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    match (Decimal::parse(a), Decimal::parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

/// A number written in decimal, read exactly (no `f64`: its parser and
/// tables cost the WebAssembly module about 10 KB, and it rounds large
/// integers). Reads what Rust's `f64` parser reads: an optional sign,
/// digits with an optional `.`, an optional exponent; `inf`, `infinity`
/// and `nan` in any case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decimal {
    NaN,
    Inf {
        negative: bool,
    },
    /// `0.digits × 10^exp`, `digits` without leading or trailing zeros
    /// (empty for zero).
    Finite {
        negative: bool,
        digits: Vec<u8>,
        exp: i64,
    },
}

impl Decimal {
    pub(crate) fn parse(text: &str) -> Option<Decimal> {
        let (negative, rest) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let lower = rest.to_ascii_lowercase();
        if lower == "inf" || lower == "infinity" {
            return Some(Decimal::Inf { negative });
        }
        if lower == "nan" {
            return Some(Decimal::NaN);
        }
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if int.len() + frac.len() == 0 || !all_digits(int) || !all_digits(frac) {
            return None;
        }
        let mut exp = match exponent {
            None => 0,
            Some(e) => {
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                if digits.is_empty() || !all_digits(digits) {
                    return None;
                }
                // Saturates far beyond any f64 (whose exponents end near ±330).
                let n = digits.bytes().fold(0i64, |n, d| {
                    (n * 10 + i64::from(d - b'0')).min(1_000_000_000_000)
                });
                if e.starts_with('-') {
                    -n
                } else {
                    n
                }
            }
        };
        exp += int.len() as i64;
        let mut digits: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
        let lead = digits.iter().take_while(|d| **d == b'0').count();
        digits.drain(..lead);
        exp -= lead as i64;
        while digits.last() == Some(&b'0') {
            digits.pop();
        }
        if digits.is_empty() {
            exp = 0;
        }
        Some(Decimal::Finite {
            negative,
            digits,
            exp,
        })
    }

    /// The value as a position on the number line: -1 for -∞, 1 for +∞,
    /// 0 for finite numbers (then compared by magnitude: exponent, then digits).
    fn infinity(&self) -> i8 {
        match self {
            Decimal::Inf { negative: true } => -1,
            Decimal::Inf { negative: false } => 1,
            _ => 0,
        }
    }

    /// As `f64::partial_cmp`, but exact, and NaN is equal to everything
    /// (as `compare` has always treated it).
    pub(crate) fn cmp(&self, other: &Decimal) -> Ordering {
        use Decimal::{Finite, NaN};
        match (self, other) {
            (NaN, _) | (_, NaN) => Ordering::Equal,
            (
                Finite {
                    negative: na,
                    digits: da,
                    exp: ea,
                },
                Finite {
                    negative: nb,
                    digits: db,
                    exp: eb,
                },
            ) => {
                let sign = |n: bool, d: &Vec<u8>| {
                    if d.is_empty() {
                        0
                    } else if n {
                        -1
                    } else {
                        1
                    }
                };
                let (sa, sb) = (sign(*na, da), sign(*nb, db));
                if sa != sb || sa == 0 {
                    return sa.cmp(&sb);
                }
                let magnitude = ea.cmp(eb).then_with(|| da.cmp(db));
                if sa < 0 {
                    magnitude.reverse()
                } else {
                    magnitude
                }
            }
            _ => self.infinity().cmp(&other.infinity()),
        }
    }

    /// A non-negative number of seconds as a duration (nanoseconds beyond
    /// are dropped), at most `max_secs`; `None` for a negative number,
    /// NaN or infinity.
    pub(crate) fn to_duration(&self, max_secs: u64) -> Option<std::time::Duration> {
        let Decimal::Finite {
            negative,
            digits,
            exp,
        } = self
        else {
            return None;
        };
        if digits.is_empty() {
            return Some(std::time::Duration::ZERO);
        }
        if *negative {
            return None;
        }
        // Nanoseconds: digits × 10^(exp + 9 - len); at most 20 digits matter.
        let shift = exp + 9 - digits.len() as i64;
        if *exp > 20 {
            return Some(std::time::Duration::from_secs(max_secs));
        }
        let mut nanos: u128 = 0;
        for d in digits
            .iter()
            .take((digits.len() as i64 + shift.min(0)).max(0) as usize)
        {
            nanos = nanos * 10 + u128::from(d - b'0');
        }
        for _ in 0..shift.max(0) {
            nanos *= 10;
        }
        let max = u128::from(max_secs) * 1_000_000_000;
        let nanos = nanos.min(max);
        Some(std::time::Duration::new(
            (nanos / 1_000_000_000) as u64,
            (nanos % 1_000_000_000) as u32,
        ))
    }
}

pub(crate) fn pointer_of(field: &str) -> String {
    if field.starts_with('/') {
        field.to_string()
    } else {
        format!("/{field}")
    }
}

/// Reads a scalar field of a record as text.
/// `None` when the record is not valid JSON, lacks the field or the field is
/// not a scalar.
pub(crate) fn field_text(record: &str, ptr: &str) -> Option<String> {
    let value = page::find(record, ptr).ok()??;
    page::scalar_text(value).ok()?
}

/// The delta state of one sweep: what to drop, and the watermark reached.
///
/// The ids at the watermark's value are looked up in hash sets (`from_ids`,
/// `reached_ids`, the same ids as the watermarks' `ids` vectors, which keep
/// their order): a sync where many records share one value (a bulk update
/// in one second) costs time linear in the records, not quadratic. The ids
/// kept are not capped: a record dropped from them would be handed out
/// again by the next sync.
#[derive(Debug, Clone)]
pub(crate) struct Delta {
    field_ptr: String,
    id_ptr: String,
    from: Watermark,
    from_ids: HashSet<String>,
    reached: Watermark,
    reached_ids: HashSet<String>,
    /// Values compared as instants (the filter has a format), and records
    /// before the watermark dropped: a filter sent in whole seconds asks
    /// for some of them again.
    timed: bool,
}

impl Delta {
    pub(crate) fn new(from: Watermark, filter: &DeltaFilter) -> Self {
        let from_ids: HashSet<String> = from.ids.iter().cloned().collect();
        Delta {
            field_ptr: pointer_of(&from.field),
            id_ptr: pointer_of(&filter.id_field),
            reached: from.clone(),
            reached_ids: from_ids.clone(),
            from_ids,
            from,
            timed: filter.format != DeltaFormat::AsIs,
        }
    }

    /// Whether to keep a record; updates the watermark reached with it.
    pub(crate) fn keep(&mut self, record: &str) -> bool {
        let value = field_text(record, &self.field_ptr);
        let id = field_text(record, &self.id_ptr);
        if let (Some(v), Some(id)) = (&value, &id) {
            let same = if self.timed {
                compare_values(v, &self.from.value, true) == Ordering::Equal
            } else {
                *v == self.from.value
            };
            if same && self.from_ids.contains(id) {
                return false;
            }
        }
        if let Some(v) = value {
            if self.timed {
                if let (Some(x), Some(y)) = (parse_instant(&v), parse_instant(&self.from.value)) {
                    if x < y {
                        return false;
                    }
                }
            }
            match compare_values(&v, &self.reached.value, self.timed) {
                Ordering::Greater => {
                    self.reached.value = v;
                    self.reached.ids = id.into_iter().collect();
                    self.reached_ids = self.reached.ids.iter().cloned().collect();
                }
                Ordering::Equal => {
                    if let Some(id) = id {
                        if self.reached_ids.insert(id.clone()) {
                            self.reached.ids.push(id);
                        }
                    }
                }
                Ordering::Less => {}
            }
        }
        true
    }

    pub(crate) fn from(&self) -> &Watermark {
        &self.from
    }

    pub(crate) fn reached(&self) -> &Watermark {
        &self.reached
    }

    pub(crate) fn set_reached(&mut self, w: Watermark) {
        self.reached_ids = w.ids.iter().cloned().collect();
        self.reached = w;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soql_conditions_go_before_the_clauses_that_follow_where() {
        let c = "D >= 1";
        let cases = [
            ("SELECT Id FROM A", "SELECT Id FROM A WHERE D >= 1"),
            ("SELECT Id FROM A ", "SELECT Id FROM A WHERE D >= 1"),
            ("SELECT Id FROM A ORDER BY Id", "SELECT Id FROM A WHERE D >= 1 ORDER BY Id"),
            ("SELECT Id FROM A\norder\tby Id", "SELECT Id FROM A WHERE D >= 1 order\tby Id"),
            ("SELECT Id FROM A LIMIT 5", "SELECT Id FROM A WHERE D >= 1 LIMIT 5"),
            ("SELECT Id FROM A OFFSET 5", "SELECT Id FROM A WHERE D >= 1 OFFSET 5"),
            (
                "SELECT Id FROM A WhErE x = 1 OR y = 2 LIMIT 5",
                "SELECT Id FROM A WhErE (x = 1 OR y = 2) AND D >= 1 LIMIT 5",
            ),
            // A subquery's WHERE and ORDER BY are its own.
            (
                "SELECT Id, (SELECT Id FROM B WHERE z = 1 ORDER BY Id) FROM A ORDER BY Id",
                "SELECT Id, (SELECT Id FROM B WHERE z = 1 ORDER BY Id) FROM A WHERE D >= 1 ORDER BY Id",
            ),
            // Keywords in string literals (with an escaped quote) are text.
            (
                "SELECT Id FROM A WHERE N = 'x\\' LIMIT 1 WHERE' ORDER BY Id",
                "SELECT Id FROM A WHERE (N = 'x\\' LIMIT 1 WHERE') AND D >= 1 ORDER BY Id",
            ),
            // `Order` the object, `Limit__c` a field.
            (
                "SELECT Limit__c FROM Order GROUP BY Limit__c",
                "SELECT Limit__c FROM Order WHERE D >= 1 GROUP BY Limit__c",
            ),
        ];
        for (query, want) in cases {
            assert_eq!(soql_with(query, c), want, "{query}");
        }
    }

    #[test]
    fn instants_are_read_from_the_formats_records_carry() {
        let at = |t: &str| parse_instant(t).map(|d| d.unix_timestamp());
        let want = Some(1_767_323_045);
        for t in [
            "2026-01-02T03:04:05Z",
            "2026-01-02T04:04:05+01:00",
            "2026-01-02T03:04:05.999Z",
            "2026-01-02T03:04:05.000+0000",
            "2026-01-02T01:04:05.000-0200",
            "2026-01-02 03:04:05",
            "1767323045",
            "1767323045.25",
        ] {
            assert_eq!(at(t), want, "{t}");
        }
        assert_eq!(at("2026-01-02"), Some(1_767_312_000));
        for bad in [
            "",
            "yesterday",
            "2026-13-02T03:04:05Z",
            "2026-01-02T03:04",
            "--",
            "99999999999999999999",
        ] {
            assert_eq!(at(bad), None, "{bad}");
        }
    }

    #[test]
    fn ties_at_the_watermark_are_dropped_once_and_new_ones_kept() {
        let from = Watermark {
            field: "updated_at".into(),
            value: "2026-03-01T00:00:00Z".into(),
            ids: vec!["7".into()],
        };
        let mut d = Delta::new(from, &DeltaFilter::default());
        assert!(
            !d.keep(r#"{"id":7,"updated_at":"2026-03-01T00:00:00Z"}"#),
            "seen last time"
        );
        assert!(
            d.keep(r#"{"id":8,"updated_at":"2026-03-01T00:00:00Z"}"#),
            "same second, not seen"
        );
        assert!(d.keep(r#"{"id":9,"updated_at":"2026-03-02T00:00:00Z"}"#));
        assert!(d.keep(r#"{"id":10,"updated_at":"2026-03-02T00:00:00Z"}"#));
        assert_eq!(d.reached().value, "2026-03-02T00:00:00Z");
        assert_eq!(d.reached().ids, vec!["9".to_string(), "10".to_string()]);
        assert_eq!(compare("10", "9"), Ordering::Greater);
        assert_eq!(
            compare("9007199254740993", "9007199254740992"),
            Ordering::Greater
        );
        assert_eq!(compare("2026-01-02", "2026-01-10"), Ordering::Less);
        assert_eq!(
            DeltaFilter::new("sysparm_query", "{field}>={value}").pair("sys_updated_on", "2026"),
            ("sysparm_query".into(), "sys_updated_on>=2026".into())
        );
    }

    #[test]
    fn numbers_compare_as_f64_does_but_exactly() {
        let numbers = [
            "-inf", "-1e3", "-12.5", "-12.25", "-1", "-0.5", "0", "-0", "+0.0", "0e99", "1e-400",
            "0.001", ".5", "5.", "5", "5.0", "+5", "005", "5e0", "50e-1", "12.25", "12.5", "13",
            "1E3", "1e+3", "1000.000", "1.5e300", "Infinity", "INF",
        ];
        for a in numbers {
            for b in numbers {
                let (x, y): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
                let want = x.partial_cmp(&y).unwrap();
                // f64 rounds 1e-400 to 0; exact, it is above 0 and below 0.001.
                if (a == "1e-400") != (b == "1e-400") && (x == 0.0 || y == 0.0) {
                    continue;
                }
                assert_eq!(compare(a, b), want, "{a} vs {b}");
            }
            assert_eq!(compare(a, "NaN"), Ordering::Equal, "{a}");
        }
        assert_eq!(compare("1e-400", "0"), Ordering::Greater);
        assert_eq!(compare("1e-400", "-0.001"), Ordering::Greater);
        assert_eq!(compare("1e400", "1e500"), Ordering::Less);
        for text in [
            "", "-", "+", ".", "e5", "1e", "1e+", "1.2.3", "1_0", "0x10", " 1", "١", "in",
        ] {
            assert_eq!(Decimal::parse(text), None, "{text:?}");
            assert!(text.parse::<f64>().is_err(), "{text:?}");
            assert_eq!(compare(text, "5"), text.cmp("5"));
        }
    }

    #[test]
    fn seconds_read_as_durations() {
        use std::time::Duration;
        let secs = |t: &str| Decimal::parse(t).and_then(|d| d.to_duration(86_400));
        assert_eq!(secs("1.5"), Some(Duration::from_millis(1_500)));
        assert_eq!(secs("0.000000001"), Some(Duration::from_nanos(1)));
        assert_eq!(secs("0.0000000019"), Some(Duration::from_nanos(1)));
        assert_eq!(secs("2e1"), Some(Duration::from_secs(20)));
        assert_eq!(secs("-0"), Some(Duration::ZERO));
        assert_eq!(secs("86400.5"), Some(Duration::from_secs(86_400)));
        assert_eq!(secs("1e30"), Some(Duration::from_secs(86_400)));
        assert_eq!(
            secs("123456789012345678901234.5"),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(secs("-1"), None);
        assert_eq!(secs("inf"), None);
        assert_eq!(secs("NaN"), None);
    }
}

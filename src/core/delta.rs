//! Delta sync: only the records changed since a watermark, with ties at the
//! watermark neither lost nor repeated.

use std::cmp::Ordering;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaFilter {
    pub(crate) param: String,
    pub(crate) value: String,
    pub(crate) id_field: String,
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
        }
    }

    /// The record field (or JSON pointer) that identifies a record (default `id`).
    pub fn id_field(mut self, field: impl Into<String>) -> Self {
        self.id_field = field.into();
        self
    }

    pub(crate) fn pair(&self, field: &str, value: &str) -> (String, String) {
        let fill = |t: &str| t.replace("{field}", field).replace("{value}", value);
        (fill(&self.param), fill(&self.value))
    }
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
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.cmp(b),
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
#[derive(Debug, Clone)]
pub(crate) struct Delta {
    field_ptr: String,
    id_ptr: String,
    from: Watermark,
    reached: Watermark,
}

impl Delta {
    pub(crate) fn new(from: Watermark, filter: &DeltaFilter) -> Self {
        Delta {
            field_ptr: pointer_of(&from.field),
            id_ptr: pointer_of(&filter.id_field),
            reached: from.clone(),
            from,
        }
    }

    /// Whether to keep a record; updates the watermark reached with it.
    pub(crate) fn keep(&mut self, record: &str) -> bool {
        let value = field_text(record, &self.field_ptr);
        let id = field_text(record, &self.id_ptr);
        if let (Some(v), Some(id)) = (&value, &id) {
            if *v == self.from.value && self.from.ids.contains(id) {
                return false;
            }
        }
        if let Some(v) = value {
            match compare(&v, &self.reached.value) {
                Ordering::Greater => {
                    self.reached.value = v;
                    self.reached.ids = id.into_iter().collect();
                }
                Ordering::Equal => {
                    if let Some(id) = id {
                        if !self.reached.ids.contains(&id) {
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
        self.reached = w;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(compare("2026-01-02", "2026-01-10"), Ordering::Less);
        assert_eq!(
            DeltaFilter::new("sysparm_query", "{field}>={value}").pair("sys_updated_on", "2026"),
            ("sysparm_query".into(), "sys_updated_on>=2026".into())
        );
    }
}

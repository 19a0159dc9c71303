//! The seeded record collection: generation of deterministic records and the
//! mutable, ordered store they live in.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use bytes::Bytes;
use serde_json::{Map, Value};

pub(crate) use crate::time::format_rfc3339;

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The splitmix64 finaliser: a good 64-bit mixing function.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A tiny seeded PRNG (splitmix64). Same seed, same sequence, on every platform.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix64(self.state)
    }

    /// Uniform-ish value in `0..n` (n > 0); the modulo bias is irrelevant here.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const ADJECTIVES: &[&str] = &[
    "Amber", "Brisk", "Cobalt", "Dusty", "Eager", "Frosty", "Gilded", "Hollow", "Ivory", "Jolly",
    "Keen", "Lunar", "Mellow", "Nimble", "Opal", "Proud", "Quiet", "Rustic", "Silent", "Tidy",
    "Umber", "Vivid", "Woven", "Young", "Zesty",
];

const NOUNS: &[&str] = &[
    "Anchor", "Badger", "Canyon", "Delta", "Ember", "Falcon", "Glacier", "Harbor", "Island",
    "Jasper", "Kettle", "Lantern", "Meadow", "Nebula", "Orchard", "Pebble", "Quarry", "Raven",
    "Summit", "Thistle", "Urchin", "Valley", "Willow", "Yarrow", "Zephyr",
];

const CATEGORIES: &[&str] = &[
    "books", "garden", "hardware", "kitchen", "music", "outdoor", "office", "toys",
];

const WORDS: &[&str] = &[
    "alpha",
    "bright",
    "careful",
    "durable",
    "elegant",
    "fresh",
    "gentle",
    "handy",
    "ideal",
    "light",
    "modern",
    "neat",
    "original",
    "practical",
    "quick",
    "reliable",
    "simple",
    "sturdy",
    "trusty",
    "useful",
    "versatile",
    "warm",
    "compact",
    "classic",
    "crafted",
    "daily",
    "for",
    "the",
    "with",
    "and",
    "every",
    "home",
    "season",
    "friend",
    "workshop",
    "journey",
];

/// Approximate size the serialized records aim for, in bytes.
const TARGET_RECORD_LEN: usize = 250;

/// Seconds from the Unix epoch to 2026-01-01T00:00:00Z.
const YEAR_2026_START: u64 = 1_767_225_600;
const SECONDS_IN_2026: u64 = 365 * 86_400;

/// Generates the serialized JSON of record `id` for `seed`. Pure: same inputs,
/// same bytes.
#[cfg(test)]
pub(crate) fn generate_record(seed: u64, id: u64) -> Bytes {
    generate_record_at(seed, id, None).0
}

/// Generates record `id` for `seed`, with its seeded `updated_at` or, when
/// given, `stamp` instead; returns the bytes and the `updated_at` used.
fn generate_record_at(seed: u64, id: u64, stamp: Option<u64>) -> (Bytes, u64) {
    let mut rng = SplitMix64::new(mix64(seed ^ GOLDEN_GAMMA) ^ mix64(id.wrapping_add(1)));
    let seeded = YEAR_2026_START + rng.below(SECONDS_IN_2026);
    let stamp = stamp.unwrap_or(seeded);
    let updated_at = format_rfc3339(stamp);
    let name = format!("{} {}", rng.pick(ADJECTIVES), rng.pick(NOUNS));
    let category = rng.pick(CATEGORIES);
    let cents = rng.below(1_000_000);
    let active = rng.below(4) != 0;
    let target = TARGET_RECORD_LEN - 8 + rng.below(17) as usize;

    let mut out = String::with_capacity(TARGET_RECORD_LEN + 32);
    let _ = write!(
        out,
        "{{\"id\":{id},\"updated_at\":\"{updated_at}\",\"name\":\"{name}\",\"category\":\"{category}\",\"amount\":{}.{:02},\"active\":{active},\"description\":\"",
        cents / 100,
        cents % 100
    );
    // `"}` closes the description and the object.
    let mut first = true;
    while out.len() + 2 < target {
        let word = rng.pick(WORDS);
        let sep = usize::from(!first);
        if out.len() + sep + word.len() + 2 > target + 6 && !first {
            break;
        }
        if !first {
            out.push(' ');
        }
        out.push_str(word);
        first = false;
    }
    out.push_str("\"}");
    (Bytes::from(out), stamp)
}

/// Serializes a written record: `id` and `updated_at` first (set by the
/// server), then the other fields of `fields` in map order.
fn render(id: u64, stamp: u64, fields: &Map<String, Value>) -> Bytes {
    let mut out = format!("{{\"id\":{id},\"updated_at\":\"{}\"", format_rfc3339(stamp));
    for (key, value) in fields {
        if key == "id" || key == "updated_at" {
            continue;
        }
        out.push(',');
        out.push_str(&Value::String(key.clone()).to_string());
        out.push(':');
        out.push_str(&value.to_string());
    }
    out.push('}');
    Bytes::from(out)
}

/// The fields of a stored record (they always are a JSON object).
fn fields_of(body: &[u8]) -> Map<String, Value> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// A response remembered under an `Idempotency-Key`.
#[derive(Debug, Clone)]
pub(crate) struct Remembered {
    /// Method, path and body of the request that produced it.
    pub(crate) fingerprint: (String, String, Bytes),
    pub(crate) status: u16,
    pub(crate) body: Bytes,
}

/// The mutable record collection: id -> serialized record, plus an ordered
/// view (ids ascending, with the matching bodies and `updated_at` stamps)
/// that is cheap to slice by offset. The view is kept in step with every
/// mutation.
#[derive(Debug, Default)]
pub(crate) struct Store {
    seed: u64,
    records: BTreeMap<u64, (Bytes, u64)>,
    ids: Vec<u64>,
    bodies: Vec<Bytes>,
    stamps: Vec<u64>,
    /// The latest `updated_at` handed out; every change advances it by one
    /// second, so changed records are later than all others.
    clock: u64,
    /// Ids are never reused: the next new record gets this one.
    next_id: u64,
    /// How many times each id was created or written (survives deletion).
    writes: HashMap<u64, u64>,
    /// `Idempotency-Key` -> the response first given for it.
    idempotency: HashMap<String, Remembered>,
}

impl Store {
    /// The seeded collection of ids `1..=n`.
    pub(crate) fn generate(seed: u64, n: u64) -> Store {
        let records: BTreeMap<u64, (Bytes, u64)> = (1..=n)
            .map(|id| (id, generate_record_at(seed, id, None)))
            .collect();
        let clock = records
            .values()
            .map(|(_, stamp)| *stamp)
            .max()
            .unwrap_or(YEAR_2026_START);
        let mut store = Store {
            seed,
            records,
            clock,
            next_id: n + 1,
            ..Store::default()
        };
        store.rebuild_view();
        store
    }

    /// Rebuilds the ordered view from `records`.
    fn rebuild_view(&mut self) {
        self.ids.clear();
        self.bodies.clear();
        self.stamps.clear();
        self.ids.reserve(self.records.len());
        self.bodies.reserve(self.records.len());
        self.stamps.reserve(self.records.len());
        for (id, (body, stamp)) in &self.records {
            self.ids.push(*id);
            self.bodies.push(body.clone());
            self.stamps.push(*stamp);
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.ids.len() as u64
    }

    pub(crate) fn ids(&self) -> &[u64] {
        &self.ids
    }

    pub(crate) fn get(&self, id: u64) -> Option<&Bytes> {
        self.records.get(&id).map(|(body, _)| body)
    }

    /// `updated_at` of record `id` (Unix seconds).
    pub(crate) fn stamp(&self, id: u64) -> Option<u64> {
        self.records.get(&id).map(|(_, stamp)| *stamp)
    }

    pub(crate) fn contains(&self, id: u64) -> bool {
        self.records.contains_key(&id)
    }

    /// How many times record `id` was created or written.
    pub(crate) fn write_count(&self, id: u64) -> u64 {
        self.writes.get(&id).copied().unwrap_or(0)
    }

    /// The records with `updated_at >= min_stamp` (all when `None`), by id.
    pub(crate) fn view(&self, min_stamp: Option<u64>) -> View<'_> {
        match min_stamp {
            None => View {
                ids: Cow::Borrowed(&self.ids),
                bodies: Cow::Borrowed(&self.bodies),
            },
            Some(min) => {
                let mut ids = Vec::new();
                let mut bodies = Vec::new();
                for ((id, body), stamp) in self.ids.iter().zip(&self.bodies).zip(&self.stamps) {
                    if *stamp >= min {
                        ids.push(*id);
                        bodies.push(body.clone());
                    }
                }
                View {
                    ids: Cow::Owned(ids),
                    bodies: Cow::Owned(bodies),
                }
            }
        }
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// Stores `body` as record `id` (new or replaced) and counts the write.
    fn put(&mut self, id: u64, body: Bytes, stamp: u64) {
        self.records.insert(id, (body.clone(), stamp));
        match self.ids.binary_search(&id) {
            Ok(pos) => {
                self.bodies[pos] = body;
                self.stamps[pos] = stamp;
            }
            Err(pos) => {
                self.ids.insert(pos, id);
                self.bodies.insert(pos, body);
                self.stamps.insert(pos, stamp);
            }
        }
        *self.writes.entry(id).or_insert(0) += 1;
        self.next_id = self.next_id.max(id.saturating_add(1));
    }

    /// Creates a record from `fields` under a new id; returns id and body.
    pub(crate) fn create(&mut self, fields: &Map<String, Value>) -> (u64, Bytes) {
        let id = self.next_id;
        (id, self.create_with_id(id, fields))
    }

    /// Creates (or overwrites) record `id` from `fields`.
    pub(crate) fn create_with_id(&mut self, id: u64, fields: &Map<String, Value>) -> Bytes {
        let stamp = self.tick();
        let body = render(id, stamp, fields);
        self.put(id, body.clone(), stamp);
        body
    }

    /// Replaces the fields of record `id`; `None` if it does not exist.
    pub(crate) fn replace(&mut self, id: u64, fields: &Map<String, Value>) -> Option<Bytes> {
        if !self.contains(id) {
            return None;
        }
        Some(self.create_with_id(id, fields))
    }

    /// Sets the top-level fields of `patch` on record `id`.
    pub(crate) fn merge(&mut self, id: u64, patch: &Map<String, Value>) -> Option<Bytes> {
        let mut fields = fields_of(self.get(id)?);
        for (key, value) in patch {
            fields.insert(key.clone(), value.clone());
        }
        Some(self.create_with_id(id, &fields))
    }

    /// Removes record `id`; whether it existed.
    pub(crate) fn remove(&mut self, id: u64) -> bool {
        if self.records.remove(&id).is_none() {
            return false;
        }
        if let Ok(pos) = self.ids.binary_search(&id) {
            self.ids.remove(pos);
            self.bodies.remove(pos);
            self.stamps.remove(pos);
        }
        true
    }

    /// Inserts `n` seeded records with new ids and fresh `updated_at`.
    pub(crate) fn insert_generated(&mut self, n: u64) -> Vec<u64> {
        (0..n)
            .map(|_| {
                let id = self.next_id;
                let stamp = self.tick();
                let (body, _) = generate_record_at(self.seed, id, Some(stamp));
                self.put(id, body, stamp);
                id
            })
            .collect()
    }

    /// Changes record `id`: a later `updated_at` and `revision` + 1.
    pub(crate) fn touch(&mut self, id: u64) -> bool {
        let Some((body, _)) = self.records.get(&id) else {
            return false;
        };
        let mut fields = fields_of(body);
        let revision = fields.get("revision").and_then(Value::as_u64).unwrap_or(0);
        fields.insert("revision".to_owned(), Value::from(revision + 1));
        self.create_with_id(id, &fields);
        true
    }

    /// The scheduled change of [`crate::Mutate`]: inserts `insert` records,
    /// then deletes `delete` records picked from the lowest ids: every 7th
    /// present id starting from the smallest (then the lowest remaining).
    pub(crate) fn mutate(&mut self, insert: u64, delete: u64) {
        self.insert_generated(insert);
        let delete = usize::try_from(delete).unwrap_or(usize::MAX);
        let mut doomed: Vec<u64> = self.ids.iter().step_by(7).take(delete).copied().collect();
        if doomed.len() < delete {
            let extra: Vec<u64> = self
                .ids
                .iter()
                .filter(|id| !doomed.contains(id))
                .take(delete - doomed.len())
                .copied()
                .collect();
            doomed.extend(extra);
        }
        for id in doomed {
            self.remove(id);
        }
    }

    /// The response remembered under `key`, if any.
    pub(crate) fn remembered(&self, key: &str) -> Option<&Remembered> {
        self.idempotency.get(key)
    }

    /// Remembers the response given for `key`.
    pub(crate) fn remember(&mut self, key: String, remembered: Remembered) {
        self.idempotency.insert(key, remembered);
    }
}

/// An ordered list of records (ids ascending) to page through: the whole
/// store, or the part of it a filter kept.
#[derive(Debug)]
pub(crate) struct View<'a> {
    ids: Cow<'a, [u64]>,
    bodies: Cow<'a, [Bytes]>,
}

impl View<'_> {
    pub(crate) fn len(&self) -> u64 {
        self.ids.len() as u64
    }

    pub(crate) fn ids(&self) -> &[u64] {
        &self.ids
    }

    /// Position of the first record with id > `after`.
    pub(crate) fn position_after(&self, after: u64) -> usize {
        self.ids.partition_point(|&id| id <= after)
    }

    /// `start..start+len`, clamped to the bounds.
    pub(crate) fn window(&self, start: u64, len: u64) -> (&[u64], &[Bytes]) {
        let total = self.ids.len();
        let start = usize::try_from(start).unwrap_or(usize::MAX).min(total);
        let end = start
            .saturating_add(usize::try_from(len).unwrap_or(usize::MAX))
            .min(total);
        (&self.ids[start..end], &self.bodies[start..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formatting() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(YEAR_2026_START), "2026-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339(YEAR_2026_START + SECONDS_IN_2026 - 1),
            "2026-12-31T23:59:59Z"
        );
        assert_eq!(format_rfc3339(1_772_323_200), "2026-03-01T00:00:00Z");
    }

    #[test]
    fn records_are_deterministic_and_about_250_bytes() {
        for id in 1..=2000 {
            let a = generate_record(42, id);
            assert_eq!(a, generate_record(42, id));
            assert_ne!(a, generate_record(43, id));
            assert!(
                (220..=280).contains(&a.len()),
                "len {} for id {id}",
                a.len()
            );
            let text = std::str::from_utf8(&a).unwrap();
            assert!(text.starts_with(&format!("{{\"id\":{id},\"updated_at\":\"2026-")));
            assert!(text.ends_with("\"}"));
        }
    }

    #[test]
    fn window_and_position() {
        let store = Store::generate(1, 10);
        assert_eq!(store.len(), 10);
        let view = store.view(None);
        assert_eq!(view.window(8, 5).0, &[9, 10]);
        assert!(view.window(20, 5).0.is_empty());
        assert!(view.window(u64::MAX, u64::MAX).0.is_empty());
        assert_eq!(view.position_after(0), 0);
        assert_eq!(view.position_after(3), 3);
        assert_eq!(view.position_after(99), 10);
    }

    #[test]
    fn generated_stamp_matches_body_and_clock_is_latest() {
        let store = Store::generate(5, 50);
        for id in 1..=50 {
            let text = std::str::from_utf8(store.get(id).unwrap()).unwrap();
            let stamp = format_rfc3339(store.stamp(id).unwrap());
            assert!(text.contains(&format!("\"updated_at\":\"{stamp}\"")));
            assert!(store.stamp(id).unwrap() <= store.clock);
        }
    }

    #[test]
    fn writes_keep_the_view_in_step() {
        let mut store = Store::generate(1, 10);
        let before = store.clock;
        let fields: Map<String, Value> =
            serde_json::from_str(r#"{"id":999,"name":"x","updated_at":"junk"}"#).unwrap();
        let (id, body) = store.create(&fields);
        assert_eq!(id, 11);
        assert_eq!(store.stamp(11), Some(before + 1));
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            format!(
                r#"{{"id":11,"updated_at":"{}","name":"x"}}"#,
                format_rfc3339(before + 1)
            )
        );
        assert!(store.remove(11));
        assert!(!store.remove(11));
        // Ids are not reused.
        assert_eq!(store.create(&Map::new()).0, 12);
        assert_eq!(store.write_count(11), 1);
        assert!(store.touch(3));
        assert_eq!(fields_of(store.get(3).unwrap())["revision"], 1);
        assert!(store.view(Some(before + 1)).ids() == [3, 12]);
        store.mutate(2, 3);
        // Every 7th of 1..=10,12,13,14 (ids 1 and 8), then the lowest left.
        assert_eq!(store.ids(), &[3, 4, 5, 6, 7, 9, 10, 12, 13, 14][..]);
        let view = store.view(None);
        assert_eq!(view.ids(), store.ids());
        assert_eq!(view.window(0, 100).1.len(), 10);
    }
}

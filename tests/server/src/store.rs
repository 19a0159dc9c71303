//! The seeded record collection: generation of deterministic records and the
//! mutable, ordered store they live in.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use bytes::Bytes;

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

/// Generates the serialized JSON of record `id` for `seed`. Pure: same inputs,
/// same bytes.
pub(crate) fn generate_record(seed: u64, id: u64) -> Bytes {
    let mut rng = SplitMix64::new(mix64(seed ^ GOLDEN_GAMMA) ^ mix64(id.wrapping_add(1)));
    let updated_at = format_rfc3339(YEAR_2026_START + rng.below(SECONDS_IN_2026));
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
    Bytes::from(out)
}

/// The mutable record collection: id -> serialized record, plus an ordered
/// view (ids ascending, with the matching bodies) that is cheap to slice by
/// offset. The view is rebuilt on every mutation.
#[derive(Debug, Default)]
pub(crate) struct Store {
    records: BTreeMap<u64, Bytes>,
    ids: Vec<u64>,
    bodies: Vec<Bytes>,
}

impl Store {
    /// The seeded collection of ids `1..=n`.
    pub(crate) fn generate(seed: u64, n: u64) -> Store {
        let records = (1..=n).map(|id| (id, generate_record(seed, id))).collect();
        let mut store = Store {
            records,
            ids: Vec::new(),
            bodies: Vec::new(),
        };
        store.rebuild_view();
        store
    }

    /// Rebuilds the ordered view; call after every mutation of `records`.
    pub(crate) fn rebuild_view(&mut self) {
        self.ids.clear();
        self.bodies.clear();
        self.ids.reserve(self.records.len());
        self.bodies.reserve(self.records.len());
        for (id, body) in &self.records {
            self.ids.push(*id);
            self.bodies.push(body.clone());
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.ids.len() as u64
    }

    pub(crate) fn ids(&self) -> &[u64] {
        &self.ids
    }

    pub(crate) fn get(&self, id: u64) -> Option<&Bytes> {
        self.records.get(&id)
    }

    /// Position in the ordered view of the first record with id > `after`.
    pub(crate) fn position_after(&self, after: u64) -> usize {
        self.ids.partition_point(|&id| id <= after)
    }

    /// `start..start+len` of the ordered view, clamped to its bounds.
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
        assert_eq!(store.window(8, 5).0, &[9, 10]);
        assert!(store.window(20, 5).0.is_empty());
        assert!(store.window(u64::MAX, u64::MAX).0.is_empty());
        assert_eq!(store.position_after(0), 0);
        assert_eq!(store.position_after(3), 3);
        assert_eq!(store.position_after(99), 10);
    }
}

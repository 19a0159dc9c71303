//! Loops and copies: the cursors and links seen, and digests of pages answered.

use super::*;

/// Cursors and page URLs a checkpoint keeps of those seen (the latest), for
/// catching an API that sends one again after the sweep resumed. All of them
/// would make every checkpoint, and taking one, grow with the sweep.
const SEEN_KEPT: usize = 64;
/// Bytes of those cursors and page URLs a checkpoint keeps, at most: the
/// latest ones that fit (at least the latest one).
const SEEN_KEPT_BYTES: usize = 256 * 1024;
/// Digests of the records of pages answered: the first page's, kept for the
/// whole sweep, and the latest ones, at most `kept`. The first page is the
/// one a server with another first page number (or one that ignores the
/// page asked for) repeats, whatever the concurrency; the latest ones catch
/// a server that repeats a page near the one asked for (its last page for
/// every page past its end, say). Memory: `kept` digests and URLs.
#[derive(Debug)]
pub(super) struct Digests {
    pub(super) first: Option<Digest>,
    pub(super) latest: VecDeque<Digest>,
    pub(super) kept: usize,
}

#[derive(Debug, Clone)]
pub(super) struct Digest {
    pub(super) hash: u64,
    pub(super) records: usize,
    pub(super) key: Key,
    pub(super) url: Option<Url>,
}

impl Digests {
    /// The page answered with the same records as `d` under another key,
    /// if one is known; otherwise `d` is kept.
    pub(super) fn check(&mut self, d: Digest) -> Option<Digest> {
        let same = |o: &&Digest| o.hash == d.hash && o.records == d.records && o.key != d.key;
        if let Some(o) = self.first.iter().chain(self.latest.iter()).find(same) {
            return Some(o.clone());
        }
        if d.key == (0, 0) {
            self.first = Some(d);
        } else {
            if self.latest.len() >= self.kept {
                self.latest.pop_front();
            }
            self.latest.push_back(d);
        }
        None
    }
}

/// A digest of a cursor, next URL or keyset value, for loop detection:
/// deterministic (the same on every target and in every run). Two values
/// with the same digest (a chance of about n²/2⁶⁵ in n values) would be
/// taken for a loop: the sweep fails with a Loop error, it never skips
/// or repeats rows.
pub(super) fn seen_digest(value: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write_usize(value.len());
    h.write(value.as_bytes());
    h.finish()
}

/// Adds `shown` to the latest values a checkpoint keeps, dropping the
/// oldest ones past [`SEEN_KEPT`] values or [`SEEN_KEPT_BYTES`] bytes.
pub(super) fn remember(recent: &mut VecDeque<String>, shown: String) {
    let mut bytes = shown.len() + recent.iter().map(String::len).sum::<usize>();
    while !recent.is_empty() && (recent.len() >= SEEN_KEPT || bytes > SEEN_KEPT_BYTES) {
        bytes -= recent.pop_front().map_or(0, |r| r.len());
    }
    recent.push_back(shown);
}

/// A digest of a page's records for the check of pages answered alike:
/// their count and the bytes of five of them (the first, the last and three
/// between), each with its length. Deterministic, the same on every target
/// and in every run, and the same work whatever the page's size (hashing
/// every record would cost a fifth of a sweep's CPU). Two different pages
/// of as many records that agree on those five are taken for copies: with
/// records that carry ids that does not happen; for collections of records
/// that repeat, `allow_repeated_pages` turns the check off. The npm
/// package's JavaScript samples the same way (`src/transport/fetch.rs`).
pub(super) fn digest(text: &str, ranges: &[std::ops::Range<usize>]) -> u64 {
    // `new()` has fixed keys: no randomness, unlike `RandomState`'s hashers.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let n = ranges.len();
    h.write_usize(n);
    if n > 0 {
        let mut last = usize::MAX;
        for i in [0, n / 4, n / 2, n - 1 - n / 4, n - 1] {
            if i == last {
                continue;
            }
            last = i;
            let bytes = text.as_bytes().get(ranges[i].clone()).unwrap_or_default();
            h.write_usize(bytes.len());
            h.write(bytes);
        }
    }
    h.finish()
}

impl Sweep {
    /// Fails when the page at `key` has the same records as another page
    /// answered before (see [`Digests`]): one of them is a copy, and handing
    /// it out would repeat rows (and leave others out).
    pub(super) fn check_repeat(
        &mut self,
        key: Key,
        hash: Option<u64>,
        records: usize,
    ) -> Result<()> {
        let (Some(digests), Some(hash), true) = (self.digests.as_mut(), hash, records > 0) else {
            return Ok(());
        };
        let here = Digest {
            hash,
            records,
            key,
            url: self.slots[&key].sent.clone(),
        };
        let Some(other) = digests.check(here) else {
            return Ok(());
        };
        let shown = |u: &Option<Url>| {
            u.as_ref()
                .map_or_else(String::new, |u| self.spec.redact_parsed(u))
        };
        let hint = match &self.spec.pagination {
            Pagination::PageNumber(p) => {
                let other_first = u64::from(p.first_page == 0);
                format!(
                    "is the server's first page {other_first}, not {}? then set first_page \
                     (npm: firstPage) to {other_first}",
                    p.first_page
                )
            }
            _ => "the server seems to ignore the page asked for".to_string(),
        };
        let mut both = [
            (other.key, shown(&other.url)),
            (key, shown(&self.slots[&key].sent)),
        ];
        both.sort_by_key(|(k, _)| *k);
        let [(a, a_url), (b, b_url)] = both;
        Err(self.page_error(
            key,
            ErrorKind::Duplicate,
            format!(
                "pages {} ({a_url}) and {} ({b_url}) were answered with the same {} records: \
                 {hint}; the sweep stops before handing out the copy \
                 (allow_repeated_pages, npm: allowRepeatedPages, turns this check off)",
                a.0, b.0, records,
            ),
        ))
    }
}

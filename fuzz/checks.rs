//! The checks of the fuzz targets, one function per target taking the
//! fuzzer's bytes. Shared (by `#[path]`) by the cargo-fuzz targets in
//! `fuzz/fuzz_targets/` and by `tests/fuzz_stable.rs`, which runs them on
//! stable over a fixed-seed pseudo-random corpus grown from [`seeds`].
//!
//! Each check panics when the code under test is wrong: a panic inside it, a
//! verdict that differs from the reference (serde_json, the `url` crate,
//! `httpdate`), a broken round trip, or a sweep that does not end or holds
//! more than its bounds.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use pagewise::core::__fuzz as fz;
use pagewise::core::{
    Event, ManyCheckpoint, Request, Response, Sweep, TransportError, TransportErrorKind, Url,
};
use pagewise::{Api, Checkpoint, Link, ListOptions, Order, Pagination, Total};
use web_time::Instant;

/// A target's check.
pub type Check = fn(&[u8]);

/// The fuzz targets, by name.
pub const TARGETS: &[(&str, Check)] = &[
    ("scanner", scanner),
    ("link", link),
    ("retry_after", retry_after),
    ("content_range", content_range),
    ("http_date", http_date),
    ("checkpoint", checkpoint),
    ("url_join", url_join),
    ("sweep", sweep),
];

// ---------------------------------------------------------------------------
// Reading the fuzzer's bytes
// ---------------------------------------------------------------------------

/// The fuzzer's bytes read as choices: 0 (the first choice) once they run out.
pub struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// A number below `n` (`n` at most 65536).
    pub fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        let v = if n <= 256 {
            self.byte() as usize
        } else {
            (self.byte() as usize) << 8 | self.byte() as usize
        };
        v % n
    }

    pub fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len())]
    }

    /// Up to `max` bytes.
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let n = self.below(max + 1);
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = start + n;
        &self.data[start..end]
    }

    pub fn text(&mut self, max: usize) -> String {
        String::from_utf8_lossy(self.bytes(max)).into_owned()
    }

    /// What is left.
    pub fn rest(&mut self) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        self.pos = self.data.len();
        &self.data[start..]
    }
}

// ---------------------------------------------------------------------------
// scanner: the page scanner against serde_json
// ---------------------------------------------------------------------------

/// A JSON value in which the first of duplicate keys wins, as the scanner's
/// pointers follow them (serde_json's `Value` keeps the last).
#[derive(Debug, Clone, PartialEq)]
enum J {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    fn get(&self, token: &str) -> Option<&J> {
        match self {
            J::Obj(members) => members.iter().find(|(k, _)| k == token).map(|(_, v)| v),
            J::Arr(items) => {
                // RFC 6901 indexes, as the scanner reads them (`usize::from_str`).
                let i: usize = token.parse().ok()?;
                items.get(i)
            }
            _ => None,
        }
    }

    fn pointer(&self, ptr: &str) -> Option<&J> {
        if ptr.is_empty() {
            return Some(self);
        }
        ptr[1..]
            .split('/')
            .try_fold(self, |v, t| v.get(&t.replace("~1", "/").replace("~0", "~")))
    }
}

impl<'de> serde::Deserialize<'de> for J {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<J, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = J;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<J, E> {
                Ok(J::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<J, E> {
                Ok(J::Bool(b))
            }
            fn visit_u64<E>(self, n: u64) -> Result<J, E> {
                Ok(J::Num(n as f64))
            }
            fn visit_i64<E>(self, n: i64) -> Result<J, E> {
                Ok(J::Num(n as f64))
            }
            fn visit_f64<E>(self, n: f64) -> Result<J, E> {
                Ok(J::Num(n))
            }
            fn visit_str<E>(self, s: &str) -> Result<J, E> {
                Ok(J::Str(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<J, E> {
                Ok(J::Str(s))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<J, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(J::Arr(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<J, A::Error> {
                let mut v = Vec::new();
                while let Some((k, x)) = a.next_entry::<String, J>()? {
                    v.push((k, x));
                }
                Ok(J::Obj(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// The records pointers the scanner follows in the fuzz target.
const POINTERS: &[&str] = &["", "/data", "/data/0", "/a~1b", "/0", "/d/x/1", "/"];

/// The page scanner and serde_json agree on whether a body is JSON; and on a
/// body that is, the scanner finds the records serde_json finds at the
/// pointer (the first `keep` of them, and how many there are).
pub fn scanner(data: &[u8]) {
    let mut d = Bytes::new(data);
    let mode = d.byte();
    let ptr = POINTERS[(mode & 7) as usize % POINTERS.len()];
    let keep = [usize::MAX, 0, 1, 3][(mode >> 3 & 3) as usize];
    let raw = d.rest();
    // Sometimes the bytes are the records array of a page.
    let wrapped;
    let (body, ptr) = if mode & 0x20 != 0 {
        wrapped = [&b"{\"meta\":{},\"data\":"[..], raw, b"}"].concat();
        (&wrapped[..], "/data")
    } else {
        (raw, ptr)
    };
    scan_body(body, ptr, keep);
}

fn scan_body(body: &[u8], ptr: &str, keep: usize) {
    let ours = fz::validate(body);
    let theirs = serde_json::from_slice::<J>(body);
    if let Err(e) = &theirs {
        // serde_json stops at 128 levels, the scanner at 1024.
        if e.to_string().contains("recursion limit") {
            return;
        }
    }
    assert_eq!(
        ours.is_ok(),
        theirs.is_ok(),
        "{:?}: scanner {ours:?}, serde_json {theirs:?}",
        String::from_utf8_lossy(body)
    );
    let (Ok(()), Ok(value)) = (ours, theirs) else {
        return;
    };
    let text = std::str::from_utf8(body).expect("JSON is UTF-8");
    let found = fz::page_records(text, ptr, keep);
    match value.pointer(ptr) {
        Some(J::Arr(items)) => {
            let (ranges, count) = found.unwrap_or_else(|e| panic!("{text:?} at {ptr:?}: {e}"));
            assert_eq!(count, items.len(), "{text:?} at {ptr:?}");
            assert_eq!(ranges.len(), items.len().min(keep), "{text:?} at {ptr:?}");
            for (r, item) in ranges.iter().zip(items) {
                let record = &text[r.clone()];
                assert_eq!(record, record.trim(), "{text:?}: a record with whitespace");
                let parsed: J = serde_json::from_str(record)
                    .unwrap_or_else(|e| panic!("{text:?}: record {record:?}: {e}"));
                assert_eq!(&parsed, item, "{text:?}: record {record:?}");
            }
        }
        _ => assert!(found.is_err(), "{text:?} at {ptr:?}: {found:?}"),
    }
    // The same value, read by pointer from the page.
    if let Ok(got) = fz::page_get(text, ptr, ptr) {
        let want = value.pointer(ptr);
        match (got, want) {
            (Some(g), Some(w)) => assert_eq!(&serde_json::from_str::<J>(&g).unwrap(), w),
            (g, w) => assert_eq!(g.is_some(), w.is_some(), "{text:?} at {ptr:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// link: the RFC 8288 `Link` reader
// ---------------------------------------------------------------------------

/// Any `Link` values: no panic, and what comes out is a target written
/// between `<` and `>` in them. A value built with a `rel="next"` link is
/// read back.
pub fn link(data: &[u8]) {
    let mut d = Bytes::new(data);
    let target = d.text(40).replace(['<', '>'], "");
    let rel = d.pick(&[
        "rel=next",
        "rel=\"next\"",
        "REL=\"prev next\"",
        "rel = next",
    ]);
    let text = String::from_utf8_lossy(d.rest()).into_owned();
    let values: Vec<&str> = text.split('\n').collect();
    if let Some(t) = fz::link_next(&values) {
        assert!(!t.contains('>'), "{t:?}");
        assert!(text.contains(&format!("<{t}>")), "{text:?} gave {t:?}");
    }
    // A first link whose parameters are clean (no quote left open) decides.
    let before = values[0].replace(['<', '>', '"', ','], "");
    let built = format!("<{target}>; {rel}, {before}");
    assert_eq!(fz::link_next(&[&built]), Some(target.clone()), "{built:?}");
    let built = format!("<a>; rel=\"prev\"; title=\"x,<y>\", <{target}>; {rel}");
    assert_eq!(fz::link_next(&[&built]), Some(target), "{built:?}");
}

// ---------------------------------------------------------------------------
// retry_after, http_date: `Retry-After` and `Date`
// ---------------------------------------------------------------------------

fn httpdate_secs(t: &str) -> Option<u64> {
    httpdate::parse_http_date(t)
        .ok()
        .map(|d| d.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs())
}

/// HTTP dates read as the `httpdate` crate reads them; a date made by it is
/// read back.
pub fn http_date(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    assert_eq!(fz::http_date(&text), httpdate_secs(&text), "{text:?}");
    if data.len() >= 5 {
        let secs = u64::from_le_bytes([data[0], data[1], data[2], data[3], data[4], 0, 0, 0])
            % 253_402_300_800;
        let imf = httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(fz::http_date(&imf), Some(secs), "{imf}");
    }
}

/// `Retry-After` (with a `Date`): no panic; delta-seconds are read as such,
/// and two HTTP dates as their difference.
pub fn retry_after(data: &[u8]) {
    let mut d = Bytes::new(data);
    let date = d.text(40);
    let value = String::from_utf8_lossy(d.rest()).into_owned();
    let mut resp = Response::new(503, "").with_header("Retry-After", value.clone());
    if !date.is_empty() {
        resp = resp.with_header("Date", date.clone());
    }
    let got = fz::retry_after(&resp);
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        assert_eq!(got, Some(Duration::from_secs(secs)), "{value:?}");
    } else if let (Some(at), Some(now)) = (httpdate_secs(v), httpdate_secs(date.trim())) {
        if fz::http_date(&date).is_some() {
            assert_eq!(
                got,
                Some(Duration::from_secs(at.saturating_sub(now))),
                "{value:?}"
            );
        }
    } else if let Some(w) = got {
        // Fractional seconds, at most a day.
        assert!(
            w <= Duration::from_secs(86_400) || httpdate_secs(v).is_some(),
            "{value:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// content_range
// ---------------------------------------------------------------------------

/// `Content-Range` totals: no panic; a total is the digits after the last
/// `/`; one written in the header is read back.
pub fn content_range(data: &[u8]) {
    let mut d = Bytes::new(data);
    let total = u64::from_le_bytes(std::array::from_fn(|_| d.byte()));
    let text = String::from_utf8_lossy(d.rest()).into_owned();
    if let Some(t) = fz::content_range_total(&text) {
        let after = text.rsplit_once('/').unwrap().1.trim();
        assert_eq!(after.parse::<u64>().ok(), Some(t), "{text:?}");
    }
    let unit = text.replace('/', "");
    assert_eq!(
        fz::content_range_total(&format!("{unit} 0-9/{total}")),
        Some(total)
    );
    assert_eq!(fz::content_range_total(&format!("{unit} 0-9/*")), None);
}

// ---------------------------------------------------------------------------
// checkpoint
// ---------------------------------------------------------------------------

/// `Checkpoint::from_json` and `ManyCheckpoint::from_json` never panic, and
/// what they read is written back as JSON that reads the same (by them and
/// by the serde derives).
pub fn checkpoint(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(c) = Checkpoint::from_json(&text) {
        checkpoint_round_trip(&c);
    }
    if let Ok(c) = ManyCheckpoint::from_json(&text) {
        let json = c.to_json();
        assert_eq!(
            ManyCheckpoint::from_json(&json).ok(),
            Some(c.clone()),
            "{json}"
        );
        assert_eq!(
            serde_json::from_str::<ManyCheckpoint>(&json).ok(),
            Some(c),
            "{json}"
        );
    }
}

fn checkpoint_round_trip(c: &Checkpoint) {
    let json = c.to_json();
    let again = Checkpoint::from_json(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
    assert_eq!(&again, c, "{json}");
    let derived: Checkpoint =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: serde: {e}"));
    assert_eq!(&derived, c, "{json}");
}

// ---------------------------------------------------------------------------
// url_join: the core's URL operations against the `url` crate
// ---------------------------------------------------------------------------

const BASES: &[&str] = &[
    "https://api.example/v1/",
    "https://u:p@api.example:8443/v1/items?page=2&x=%20y#frag",
    "http://h.example",
    "https://h.example/a/b/c?q",
    "http://[::1]:80/x/",
    "file:///tmp/x",
    "data:text/plain,hi",
    "mailto:a@b.example",
    "foo://host/p?q#f",
];

const PAIRS: &[(&str, &str)] = &[
    ("k", "v"),
    ("a b", "c&d=e"),
    ("é", "/?#"),
    ("", ""),
    ("+", "%"),
];

/// Parsing and joining are the `url` crate's (natively); the WebAssembly
/// build's fast path for plain relative links gives what it gives; reading
/// and changing the query, the user info and the path on the serialization
/// gives what the `url` crate does.
pub fn url_join(data: &[u8]) {
    let mut d = Bytes::new(data);
    let choice = d.byte();
    let base_text = if choice < 0x40 {
        BASES[choice as usize % BASES.len()].to_string()
    } else {
        d.text(60)
    };
    let input = String::from_utf8_lossy(d.rest()).into_owned();
    let ours = Url::parse(&base_text);
    let theirs = url::Url::parse(&base_text);
    assert_eq!(
        ours.as_ref().map(Url::as_str).ok(),
        theirs.as_ref().map(url::Url::as_str).ok(),
        "{base_text:?}"
    );
    let (Ok(base), Ok(reference)) = (ours, theirs) else {
        return;
    };
    check_url(&base, &reference);
    let joined = reference.join(&input);
    let ours = base.join(&input);
    assert_eq!(
        ours.as_ref().map(Url::as_str).ok(),
        joined.as_ref().map(url::Url::as_str).ok(),
        "{base_text:?} + {input:?}"
    );
    if let Some(fast) = fz::join_plain(&base, &input) {
        assert_eq!(
            Some(fast.as_str()),
            joined.as_ref().map(url::Url::as_str).ok(),
            "fast path: {base_text:?} + {input:?}"
        );
    }
    if let (Ok(u), Ok(r)) = (ours, joined) {
        check_url(&u, &r);
        assert_eq!(
            u.same_origin(&base),
            r.origin() == reference.origin() && r.origin().is_tuple()
        );
        // Query pairs from the input, appended and set.
        let pairs: Vec<(&str, &str)> = (0..d.below(3)).map(|_| d.pick(PAIRS)).collect();
        let k = input.get(..input.len().min(8)).unwrap_or("");
        let mut all = pairs.clone();
        all.push((k, "x"));
        let ours = fz::append_query_pairs(&u, &all);
        let mut r2 = r.clone();
        r2.query_pairs_mut().extend_pairs(all.iter().copied());
        assert_eq!(ours.as_str(), r2.as_str(), "append {all:?} to {u:?}");
        let owned: Vec<(String, String)> = all
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let set = fz::set_query_pairs(&u, &owned, false);
        let mut r3 = r.clone();
        r3.query_pairs_mut()
            .clear()
            .extend_pairs(all.iter().copied());
        assert_eq!(set.as_str(), r3.as_str(), "set {all:?} on {u:?}");
        let none = fz::set_query_pairs(&u, &[], false);
        let mut r4 = r.clone();
        r4.set_query(None);
        assert_eq!(none.as_str(), r4.as_str(), "no query on {u:?}");
        for changed in [ours, set, none] {
            assert_eq!(
                Url::parse(changed.as_str()).ok().as_ref(),
                Some(&changed),
                "not stable when parsed again"
            );
        }
    }
}

/// The core's readings of a URL are the `url` crate's.
fn check_url(u: &Url, r: &url::Url) {
    assert_eq!(u.as_str(), r.as_str());
    assert_eq!(u.scheme(), r.scheme(), "{r}");
    assert_eq!(u.path(), r.path(), "{r}");
    assert_eq!(u.query(), r.query(), "{r}");
    let (has_host, has_userinfo, pairs) = fz::url_parts(u);
    assert_eq!(has_host, r.host_str().is_some_and(|h| !h.is_empty()), "{r}");
    assert_eq!(
        has_userinfo,
        !r.username().is_empty() || r.password().is_some(),
        "{r}"
    );
    let theirs: Vec<(String, String)> = r.query_pairs().into_owned().collect();
    assert_eq!(pairs, theirs, "{r}");
    let cleared = fz::clear_userinfo(u);
    let mut rc = r.clone();
    if rc.set_username("").is_ok() && rc.set_password(None).is_ok() {
        assert_eq!(cleared.as_str(), rc.as_str(), "no userinfo: {r}");
    }
    let slashed = fz::ensure_trailing_slash(u);
    assert!(slashed.path().ends_with('/'), "{slashed:?}");
    if r.has_host() || r.path().starts_with('/') {
        assert_eq!(
            Url::parse(slashed.as_str()).ok().as_ref(),
            Some(&slashed),
            "{r}"
        );
    }
}

// ---------------------------------------------------------------------------
// sweep: a whole sweep in simulated time, answered by the fuzzer
// ---------------------------------------------------------------------------

/// The most answers read from the input: after them, as once the input runs
/// out, every answer is an empty page, which ends any sweep (an empty page
/// before the total stops the planning). Totals are any `u64`: the sweep
/// plans pages as room frees up, not up to the total.
const MAX_ANSWERS: u64 = 1000;

/// The most requests a sweep may make for an input of `n` bytes, with
/// concurrency `c` and window `w`: one per answer read from the input (each
/// reads a byte at least), then one for each page planned (at most
/// 2 × (c + w)), each refetch of a short page among those held (as many),
/// and each in flight.
fn max_requests(n: usize, c: usize, w: usize) -> u64 {
    (n as u64).min(MAX_ANSWERS) + 4 * (c + w) as u64 + 2 * c as u64 + 16
}

/// A sweep of any dialect, answered by the fuzzer (statuses, headers,
/// bodies, transport errors, answer order), ends; holds no more requests
/// than its concurrency and no more pages than its bounds; hands out records
/// that are JSON; and its checkpoints read back as they were.
pub fn sweep(data: &[u8]) {
    let mut d = Bytes::new(data);
    let dialect = d.below(11);
    let p: Pagination = match dialect {
        0 => Pagination::offset().into(),
        1 => Pagination::offset()
            .total(Total::header("X-Total-Count"))
            .into(),
        2 => Pagination::offset()
            .total(Total::pointer("/meta/total"))
            .into(),
        3 => Pagination::offset().total(Total::ContentRange).into(),
        4 => Pagination::page_number().into(),
        5 => Pagination::page_number()
            .first_page(0)
            .total(Total::pointer("/meta/total"))
            .into(),
        6 => Pagination::cursor(Link::pointer("/next")).into(),
        7 => Pagination::cursor(Link::header("X-Next-Cursor")).into(),
        8 => Pagination::next_url(Link::pointer("/links/next")).into(),
        9 => Pagination::next_url(Link::LinkHeader).into(),
        _ => Pagination::keyset("id").into(),
    };
    let page_size = 1 + d.below(5) as u64;
    let c = 1 + d.below(4);
    let w = 1 + d.below(4);
    let flags = d.byte();
    let order = if flags & 1 == 0 {
        Order::Page
    } else {
        Order::Completion
    };
    let api = Api::builder("https://api.example/v1/")
        .records_at("/data")
        .pagination(p)
        .page_size(page_size)
        .concurrency(c)
        .build()
        .expect("a valid API");
    let mut opts = ListOptions::new("items")
        .window(w)
        .order(order)
        .seed(u64::from(d.byte()));
    if flags & 2 != 0 {
        // Any total is accepted (the default stops at a billion).
        opts = opts.max_total(u64::MAX);
    }
    if flags & 4 != 0 {
        opts = opts.allow_repeated_pages(true);
    }
    let t0 = Instant::now();
    let mut now = t0;
    let mut s = Sweep::new(api.spec(), opts, now).expect("a valid sweep");
    let mut pending: Vec<Request> = Vec::new();
    let (mut requests, mut records, mut steps, mut answers) = (0u64, 0u64, 0u64, 0u64);
    let mut ended = false;
    let limit = max_requests(data.len(), c, w);
    loop {
        steps += 1;
        assert!(steps < 4 * limit + 1000, "the sweep does not end");
        if let Some(t) = s.poll_timeout() {
            if t <= now {
                s.handle_timeout(now);
            }
        }
        while let Some(r) = s.poll_request() {
            requests += 1;
            assert!(
                requests <= limit,
                "{requests} requests for {} bytes, concurrency {c}, window {w}",
                data.len()
            );
            pending.push(r);
        }
        assert!(
            s.in_flight() <= c,
            "{} in flight, concurrency {c}",
            s.in_flight()
        );
        while let Some(e) = s.poll_event() {
            assert!(!ended, "an event after the end: {e:?}");
            match e {
                Event::Page(page) => {
                    for r in page.records.iter() {
                        if let Err(e) = serde_json::from_slice::<J>(r) {
                            panic!(
                                "a record that is not JSON: {:?}: {e}",
                                String::from_utf8_lossy(r)
                            );
                        }
                    }
                    records += page.records.len() as u64;
                }
                Event::Finished(report) => {
                    assert_eq!(report.records, records);
                    ended = true;
                }
                Event::Failed(_) => ended = true,
                _ => {}
            }
        }
        // Once, plus once per page waiting out a retry (at most every retry
        // so far), up to MAX_RETRY_STRETCH.
        let retries = usize::try_from(s.report().retries.total()).unwrap_or(usize::MAX);
        let stretch = retries
            .saturating_add(1)
            .min(pagewise::core::MAX_RETRY_STRETCH);
        let bound = stretch * (c + w);
        assert!(
            s.buffered_pages() <= bound,
            "{} pages held",
            s.buffered_pages()
        );
        // Progress is arithmetic on whatever totals the API announced, and
        // may be asked for at any time (here, also half a million years on).
        let _ = s.progress(now);
        let _ = s.progress(now + Duration::from_secs(1 << 44));
        if s.is_done() {
            assert!(ended, "done without a last event");
            break;
        }
        if !pending.is_empty() {
            let req = pending.remove(d.below(pending.len()));
            now += Duration::from_millis(1 + d.below(50) as u64);
            answers += 1;
            let answer = if answers > MAX_ANSWERS {
                empty_page()
            } else {
                answer(&mut d, &req, page_size)
            };
            s.handle_response(req.id(), answer, now);
            if d.byte() & 7 == 0 {
                checkpoint_round_trip(&s.checkpoint());
            }
        } else if let Some(t) = s.poll_timeout() {
            now = now.max(t);
            s.handle_timeout(now);
        } else {
            panic!("stuck: not done, nothing in flight, nothing to wait for");
        }
    }
    checkpoint_round_trip(&s.checkpoint());
}

const LINKS: &[&str] = &[
    "items?after=",
    "/v1/items?p=",
    "https://api.example/v1/items?x=",
    "https://other.example/items?x=",
    "?page=",
    "//api.example/v1/items?y=",
    "javascript:alert(",
    "http://[::1/",
    "",
];

/// Large totals worth announcing: around the default `max_total` (a
/// billion), the edges of an f64's integers and of a `u64`.
const LARGE_TOTALS: &[u64] = &[
    100_000_000,
    1_000_000_000,
    1_000_000_001,
    1 << 32,
    (1 << 53) + 1,
    i64::MAX as u64,
    u64::MAX - 1,
    u64::MAX,
];

fn empty_page() -> Result<Response, TransportError> {
    Ok(Response::new(200, "{\"data\":[]}"))
}

fn answer(d: &mut Bytes<'_>, req: &Request, page_size: u64) -> Result<Response, TransportError> {
    if d.is_empty() {
        return empty_page();
    }
    let kind = d.byte();
    let token = |d: &mut Bytes<'_>| format!("t{}", d.below(8));
    let link = |d: &mut Bytes<'_>| format!("{}{}", d.pick(LINKS), d.below(8));
    let total = |d: &mut Bytes<'_>| -> String {
        match d.below(8) {
            0 => d
                .pick(&[
                    "-1",
                    "abc",
                    "1e3",
                    "",
                    " 7 ",
                    "18446744073709551616",
                    "\"5\"",
                ])
                .to_string(),
            1 => d.pick(LARGE_TOTALS).to_string(),
            2 => u64::from_le_bytes(std::array::from_fn(|_| d.byte())).to_string(),
            _ => d.below(65).to_string(),
        }
    };
    let mut headers: BTreeMap<&str, String> = BTreeMap::new();
    let flags = d.byte();
    if flags & 1 != 0 {
        headers.insert("X-Total-Count", total(d));
    }
    if flags & 2 != 0 {
        let t = total(d);
        headers.insert("Content-Range", format!("items 0-{}/{t}", page_size - 1));
    }
    if flags & 4 != 0 {
        headers.insert("Link", format!("<{}>; rel=\"next\"", link(d)));
    }
    if flags & 8 != 0 {
        headers.insert("X-Next-Cursor", token(d));
    }
    if flags & 16 != 0 {
        let v = d.pick(&[
            "0",
            "1",
            "2.5",
            "120",
            "99999",
            "Wed, 21 Oct 2026 07:28:09 GMT",
            "x",
        ]);
        headers.insert("Retry-After", v.to_string());
        headers.insert("Date", "Wed, 21 Oct 2026 07:28:00 GMT".to_string());
    }
    let respond = |status: u16, body: Vec<u8>, headers: BTreeMap<&str, String>| {
        headers
            .into_iter()
            .fold(Response::new(status, body), |r, (k, v)| r.with_header(k, v))
    };
    match kind % 16 {
        0 => {
            // (An abort is the caller's: it ends the sweep, so it is rare.)
            let k = match d.below(16) {
                0 => TransportErrorKind::Aborted,
                1..=4 => TransportErrorKind::Connect,
                5..=8 => TransportErrorKind::Timeout,
                9..=12 => TransportErrorKind::Io,
                _ => TransportErrorKind::Other,
            };
            Err(TransportError::new(
                k,
                format!("fuzz: no answer to {}", req.url()),
            ))
        }
        1 => {
            let status = d.pick(&[429, 500, 502, 503, 404, 400, 304, 204, 199, 999]);
            Ok(respond(status, d.bytes(20).to_vec(), headers))
        }
        2 => {
            let status = d.pick(&[301, 302, 303, 307, 308]);
            headers.insert("Location", link(d));
            Ok(respond(status, Vec::new(), headers))
        }
        3 => Ok(respond(200, d.bytes(200).to_vec(), headers)),
        _ => {
            let n = d.below(2 * page_size as usize + 2);
            let mut id = d.below(4) as u64;
            let mut recs = Vec::new();
            for _ in 0..n {
                id += d.below(3) as u64;
                recs.push(match d.below(8) {
                    0 => format!("{{\"id\":\"{id}\",\"s\":\"\\ud83d\\ude00\"}}"),
                    1 => format!("{{\"n\":{id}}}"),
                    2 => format!("{id}"),
                    _ => format!("{{\"id\":{id}}}"),
                });
            }
            let mut body = format!("{{\"data\":[{}]", recs.join(","));
            if d.byte() & 1 == 0 {
                body += &format!(",\"meta\":{{\"total\":{}}}", total(d));
            }
            if d.byte() & 1 == 0 {
                body += &format!(",\"next\":\"{}\"", token(d));
            }
            if d.byte() & 1 == 0 {
                body += &format!(",\"links\":{{\"next\":\"{}\"}}", link(d));
            }
            body.push('}');
            Ok(respond(200, body.into_bytes(), headers))
        }
    }
}

// ---------------------------------------------------------------------------
// Seeds
// ---------------------------------------------------------------------------

/// A few inputs per target, to start from (the stable run mutates them; the
/// fuzz corpus may start from them too: see fuzz/README.md).
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let s = |v: &[&str]| v.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
    match target {
        "scanner" => s(&[
            "\x00[{\"id\":1},{\"id\":2,\"s\":\"a\\\"b\"}]",
            "\x01{\"data\":[1,2.5e3,-0,true,null,\"\\ud83d\\ude00\"],\"meta\":{\"total\":2}}",
            "\x20[{\"a\":[1,{\"b\":\"]}\"}]},2]",
            "\x03{\"a/b\":[[],{}],\"a\\/b\":1}",
            "\x21[\"\\udd83\",1e9345,1e-9345]",
            "\x09[[[[[[[[0]]]]]]]]",
        ]),
        "link" => s(&[
            "/p2\x01<https://a.example/x?page=1>; rel=\"prev\", <https://a.example/x?page=3&a=1,2>; rel=\"next\"",
            "x\x02</p2>; title=\"a, b\"; rel=next\n</p3>; rel=last",
        ]),
        "retry_after" => s(&[
            "\x1dWed, 21 Oct 2026 07:28:00 GMTWed, 21 Oct 2026 07:28:09 GMT",
            "\x00120",
            "\x00 2.5 ",
            "\x18Sun Nov  6 08:49:37 1994Sunday, 06-Nov-94 08:49:47 GMT",
        ]),
        "content_range" => s(&["\x01\x02\x03\x04\x05\x06\x07\x08items 0-99/20000", "abcdefghitems */5"]),
        "http_date" => s(&[
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ]),
        "checkpoint" => s(&[
            r#"{"version":1,"collection":"https://api.example/v1/items","dialect":"offset","pending":[{"seq":1,"sub":0,"page":{"kind":"offset","offset":2,"limit":2}},{"seq":2,"sub":0,"page":{"kind":"offset","offset":4,"limit":2}}],"learnt":{"total":7,"effective_size":2,"fanned_out":true,"planned_end":8,"largest_page":2,"next_seq":4,"seen":[]},"done":{"records":2,"pages":1,"requests":1,"retries":{"throttled":0,"server_error":0,"timeout":0,"transport":0,"bad_body":0},"throttled_ms":0,"dropped":0}}"#,
            r#"{"version":1,"collection":"https://api.example/v1/items","dialect":"cursor","pending":[{"seq":1,"sub":0,"page":{"kind":"cursor","cursor":"cé\"1"}}],"learnt":{"total":null,"effective_size":2,"fanned_out":false,"planned_end":0,"largest_page":2,"next_seq":2,"seen":["cé\"1"]},"done":{"records":2,"pages":1,"requests":1,"retries":{"throttled":0,"server_error":0,"timeout":0,"transport":0,"bad_body":0},"throttled_ms":0,"dropped":0}}"#,
            r#"{"version":1,"collection":"https://api.example/v1/items","dialect":"keyset","pending":[{"seq":1,"sub":0,"page":{"kind":"keyset","after":"2"}}],"learnt":{"total":null,"effective_size":2,"fanned_out":false,"planned_end":0,"largest_page":2,"next_seq":2,"seen":["2"]},"done":{"records":2,"pages":1,"requests":1,"retries":{"throttled":0,"server_error":0,"timeout":0,"transport":0,"bad_body":0},"throttled_ms":0,"dropped":0}}"#,
            r#"{"version":1,"items":10,"done":[[0,3],[5,6]]}"#,
        ]),
        "url_join" => s(&[
            "\x00items?page=2",
            "\x01../other#f",
            "\x03/v2/items?x=1",
            "\x00https://other.example:8443/x",
            "\x02?page=2",
            "\x7fhttp://u@h.example/a/b\x01c/d",
            "\x05a%2e%2E/b",
        ]),
        "sweep" => {
            // Each dialect, then answers from a fixed pseudo-random stream.
            let mut x = 0x2545_f491_4f6c_dd1du64;
            let mut v = Vec::new();
            for dialect in 0..11u8 {
                let mut input = vec![dialect, 1, 1, 1, dialect, 7];
                input.extend((0..400).map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 24) as u8
                }));
                v.push(input);
            }
            v
        }
        _ => Vec::new(),
    }
}

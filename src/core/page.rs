//! Reading a page out of a body without building a JSON tree: records are
//! located as byte ranges of the body and deserialized later, once, into the
//! caller's type.
//!
//! A body is read in one pass ([`scan`]): a scanner with its own stack (no
//! recursion, depth capped at [`MAX_DEPTH`]) walks the bytes, follows the
//! records pointer, notes each record's byte range and each top-level
//! member, and checks on the way everything serde_json would: structure,
//! numbers (and that an `f64` holds them), literals, escapes (surrogates
//! only in pairs), control characters and UTF-8 in strings.
//! So a body that is not one valid JSON value (truncated, HTML, garbage
//! after the value, a record like `{"id":1,}`) is refused whole, as "not a
//! page" (a `Decode` error, retried), and every record handed out is a
//! valid JSON text; a record that is valid JSON but not of the caller's
//! type fails when it is deserialized (a `Record` error naming the page).
//! The total, cursor or next link are then read from their own small
//! slices, found through the top-level members.

use std::fmt;
use std::ops::Range;

use super::http::Attachment;

/// The records of one page: the body and where each record sits in it.
///
/// The whole body was checked as JSON when the page was read, so each
/// record is a valid JSON text (UTF-8); whether it fits a type is known
/// when it is deserialized.
#[derive(Clone, PartialEq, Eq)]
pub struct Records {
    /// The body, checked as UTF-8 once, so that records deserialize from
    /// `&str` (serde_json then skips checking each string's UTF-8 again).
    body: String,
    ranges: Vec<Range<usize>>,
    /// The records as a transport parsed them (the body is then a skeleton).
    attachment: Option<Attachment>,
}

impl Records {
    /// Records taken from JSON texts (handy in tests and for hand-made pages).
    pub fn from_json<I, S>(records: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut body = String::new();
        let mut ranges = Vec::new();
        for r in records {
            let start = body.len();
            body.push_str(r.as_ref());
            ranges.push(start..body.len());
        }
        Records {
            body,
            ranges,
            attachment: None,
        }
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The JSON text of record `i`.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.ranges.get(i).map(|r| &self.body.as_bytes()[r.clone()])
    }

    /// The JSON text of record `i`, as `str`.
    pub(crate) fn get_str(&self, i: usize) -> Option<&str> {
        // Records start and end at ASCII bytes of JSON syntax: char boundaries.
        self.ranges.get(i).and_then(|r| self.body.get(r.clone()))
    }

    /// The JSON texts of all records, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.ranges.iter().map(|r| &self.body.as_bytes()[r.clone()])
    }

    /// The records as one JSON text, `a,b,c` without the brackets, when they
    /// sit side by side in one array of the body (separated by a comma and
    /// whitespace only), so that `[` + this + `]` is a JSON array of exactly
    /// these records; `Some(b"")` when there are none, `None` when they do
    /// not sit together (records dropped from the middle of a page, records
    /// made with [`Records::from_json`]).
    ///
    /// ```
    /// use pagewise::core::Records;
    /// let r = Records::from_json(["{\"id\":1}"]);
    /// assert_eq!(r.joined(), Some(&b"{\"id\":1}"[..]));
    /// ```
    pub fn joined(&self) -> Option<&[u8]> {
        let (Some(first), Some(last)) = (self.ranges.first(), self.ranges.last()) else {
            return Some(&[]);
        };
        let body = self.body.as_bytes();
        for w in self.ranges.windows(2) {
            let gap = body.get(w[0].end..w[1].start)?;
            let mut commas = 0;
            for &b in gap {
                match b {
                    b',' => commas += 1,
                    b' ' | b'\t' | b'\n' | b'\r' => {}
                    _ => return None,
                }
            }
            if commas != 1 {
                return None;
            }
        }
        Some(&body[first.start..last.end])
    }

    /// Bytes of body held for these records.
    pub fn body_len(&self) -> usize {
        self.body.len()
    }

    /// The records as the transport parsed them, when it answered with a
    /// skeleton (see `Request::records_at`): the texts of these records are
    /// then their indexes in what it parsed. For the in-crate transports;
    /// not part of the API.
    #[doc(hidden)]
    pub fn attachment(&self) -> Option<&Attachment> {
        self.attachment.as_ref()
    }
}

impl fmt::Debug for Records {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Records")
            .field("len", &self.len())
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Why a body is not a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError(pub String);

type DResult<T> = std::result::Result<T, DecodeError>;

/// Containers nested deeper than this make a body "not a page": the scanner
/// keeps its stack on the heap, so this bounds memory, not recursion.
/// serde_json refuses records nested deeper than 128 levels anyway.
const MAX_DEPTH: usize = 1024;

/// One reference token of a JSON pointer, unescaped (`~1` is `/`, `~0` is `~`).
struct Token {
    name: String,
    /// The token as an array index, when it is one.
    index: Option<usize>,
}

fn tokens(pointer: &str) -> Vec<Token> {
    if pointer.is_empty() {
        return Vec::new();
    }
    pointer
        .get(1..)
        .unwrap_or("")
        .split('/')
        .map(|t| {
            let name = t.replace("~1", "/").replace("~0", "~");
            Token {
                index: name.parse().ok(),
                name,
            }
        })
        .collect()
}

/// What one pass over a JSON text found.
#[derive(Default)]
struct Scan {
    /// The whole value, without the whitespace around it.
    root: Range<usize>,
    /// The value the pointer points at (first match of each key), if any.
    target: Option<Range<usize>>,
    /// When `elements` was asked and the target is an array: its first
    /// elements, at most `keep` of them (the others are checked and counted,
    /// not noted: memory follows the records kept, not the elements read).
    elements: Vec<Range<usize>>,
    /// How many elements the target array has, kept or not.
    count: usize,
    /// When `members` was asked and the root is an object: its members,
    /// each a key (with its quotes) and a value.
    members: Vec<(Range<usize>, Range<usize>)>,
}

/// The byte at `i`, or 0 (never valid where a byte is expected) past the end.
#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
fn ws(b: &[u8], mut i: usize) -> usize {
    // Most calls find no whitespace: anything above a space ends it at once.
    while let Some(&c) = b.get(i) {
        if c > b' ' || !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
            break;
        }
        i += 1;
    }
    i
}

#[cold]
#[inline(never)]
fn too_deep() -> DecodeError {
    DecodeError(format!("body is nested more than {MAX_DEPTH} levels deep"))
}

#[cold]
#[inline(never)]
fn syntax(b: &[u8], i: usize, what: &str) -> DecodeError {
    if i >= b.len() {
        DecodeError(format!(
            "body is not valid JSON: it ends early, at byte {i}, expecting {what} (truncated?)"
        ))
    } else {
        DecodeError(format!(
            "body is not valid JSON: expected {what} at byte {i}, found {}",
            crate::error::excerpt(&b[i..b.len().min(i + 16)])
        ))
    }
}

/// Where the run of plain string characters starting at `i` ends: the first
/// `"`, `\` or control character at or after `i`, looked for 16 bytes at a
/// time; or where fewer than 16 bytes are left (the caller reads those one
/// by one).
///
/// On x86_64 with SSE2 (every x86_64 CPU): three byte compares, one mask.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn plain_run(b: &[u8], mut i: usize) -> usize {
    use safe_arch::{
        cmp_eq_mask_i8_m128i as eq, load_unaligned_m128i, move_mask_i8_m128i,
        set_splat_i8_m128i as splat, sub_saturating_u8_m128i, zeroed_m128i,
    };
    let quote = splat(b'"' as i8);
    let backslash = splat(b'\\' as i8);
    let control = splat(0x1F);
    let zero = zeroed_m128i();
    while let Some(chunk) = b.get(i..i + 16) {
        let x = load_unaligned_m128i(chunk.try_into().unwrap_or(&[0; 16]));
        // A control character is at most 0x1F: subtracting 0x1F (unsigned,
        // saturating) leaves 0.
        let m = eq(x, quote) | eq(x, backslash) | eq(sub_saturating_u8_m128i(x, control), zero);
        let mask = move_mask_i8_m128i(m) as u32;
        if mask != 0 {
            return i + mask.trailing_zeros() as usize;
        }
        i += 16;
    }
    i
}

/// Elsewhere, SWAR: 8 bytes at a time in a `u64` (in the WebAssembly
/// build, a `u128` is two `i64`s and more code).
#[cfg(not(target_arch = "x86_64"))]
#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
fn plain_run(b: &[u8], mut i: usize) -> usize {
    const LO: u64 = u64::MAX / 0xFF;
    const HI: u64 = LO * 0x80;
    // The lowest flag is always exact (borrows only make false flags above it).
    let zero = |y: u64| y.wrapping_sub(LO) & !y;
    while let Some(chunk) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let m = (zero(x ^ (LO * b'"' as u64))
            | zero(x ^ (LO * b'\\' as u64))
            | (x.wrapping_sub(LO * 0x20) & !x))
            & HI;
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i
}

/// Skips a string whose opening quote is at `i - 1`; returns the index after
/// the closing quote. Checks escapes (a `\u` surrogate only in a pair, as
/// serde_json reading a string does) and control characters; the text is
/// UTF-8 already (a `&str`), so every string the scanner accepts is one
/// serde_json accepts.
#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
fn string(b: &[u8], mut i: usize) -> DResult<usize> {
    loop {
        i = plain_run(b, i);
        match at(b, i) {
            b'"' => return Ok(i + 1),
            b'\\' => match at(b, i + 1) {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' => {
                    let hex = b.get(i + 2..i + 6).unwrap_or(&[]);
                    if hex.len() != 4 || !hex.iter().all(u8::is_ascii_hexdigit) {
                        return Err(syntax(b, i, "four hex digits after \\u"));
                    }
                    // `\uD800` to `\uDFFF`: UTF-16 surrogates, rare.
                    if hex[0] | 0x20 == b'd' && hex[1] > b'7' {
                        i = surrogates(b, i)?;
                    } else {
                        i += 6;
                    }
                }
                _ => return Err(syntax(b, i, "a valid escape")),
            },
            _ if i >= b.len() => return Err(syntax(b, i, "`\"`")),
            0x20.. => i += 1,
            _ => return Err(syntax(b, i, "no control character in a string")),
        }
    }
}

/// Skips the escape `\uDxxx` at `i` (a surrogate) and the one after it,
/// which must complete the pair: a leading surrogate (`\uD800` to `\uDBFF`)
/// then a trailing one (`\uDC00` to `\uDFFF`). A lone surrogate is no
/// character: serde_json refuses it in a string.
#[cold]
#[inline(never)]
fn surrogates(b: &[u8], i: usize) -> DResult<usize> {
    let lead = hex4(b.get(i + 2..i + 6)).unwrap_or(0);
    if !(0xD800..=0xDBFF).contains(&lead) {
        return Err(syntax(
            b,
            i,
            "no lone trailing surrogate (`\\uDC00` to `\\uDFFF`)",
        ));
    }
    let j = i + 6;
    match (b.get(j..j + 2), hex4(b.get(j + 2..j + 6))) {
        (Some(b"\\u"), Some(0xDC00..=0xDFFF)) => Ok(j + 6),
        _ => Err(syntax(
            b,
            j,
            "a trailing surrogate (`\\uDC00` to `\\uDFFF`) after a leading one",
        )),
    }
}

/// Checks that the number `b[start..end]`, whose integer part ends at
/// `int_end`, is one serde_json reads: a value too large for an `f64`
/// (`1e400`, 400 digits) is an error there ("number out of range"), a value
/// too small reads as 0. Nearly every number is plainly in range (below
/// 10^300, from the digits and the exponent); the rest, rare, are read by
/// serde_json itself, which rounds as it does.
#[cold]
#[inline(never)]
fn in_range(b: &[u8], start: usize, int_end: usize, end: usize) -> DResult<usize> {
    let text = &b[start..end];
    let int_digits = (int_end - start - usize::from(text[0] == b'-')) as i64;
    let exponent = match text.iter().position(|&c| c == b'e' || c == b'E') {
        None => 0,
        Some(e) => {
            let (negative, digits) = match text[e + 1] {
                b'-' => (true, &text[e + 2..]),
                b'+' => (false, &text[e + 2..]),
                _ => (false, &text[e + 1..]),
            };
            // At most 18 digits fit an i64; more is "huge" either way.
            let v = digits
                .iter()
                .take(18)
                .fold(0i64, |n, &c| n * 10 + i64::from(c - b'0'));
            let v = if digits.len() > 18 { i64::MAX / 2 } else { v };
            if negative {
                -v
            } else {
                v
            }
        }
    };
    if int_digits + exponent <= 300 || serde_json::from_slice::<f64>(text).is_ok() {
        Ok(end)
    } else {
        Err(syntax(
            b,
            start,
            "a number an f64 can hold (at most about 1.8e308)",
        ))
    }
}

#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
fn digits(b: &[u8], mut i: usize) -> usize {
    while at(b, i).is_ascii_digit() {
        i += 1;
    }
    i
}

/// Skips a number, `true`, `false` or `null` at `i`.
#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
fn scalar(b: &[u8], mut i: usize) -> DResult<usize> {
    let word = |w: &[u8]| {
        if b.get(i..i + w.len()) == Some(w) {
            Ok(i + w.len())
        } else {
            Err(syntax(b, i, "a JSON value"))
        }
    };
    match at(b, i) {
        b't' => word(b"true"),
        b'f' => word(b"false"),
        b'n' => word(b"null"),
        b'-' | b'0'..=b'9' => {
            let start = i;
            if at(b, i) == b'-' {
                i += 1;
            }
            match at(b, i) {
                b'0' => i += 1,
                b'1'..=b'9' => i = digits(b, i + 1),
                _ => return Err(syntax(b, start, "a number")),
            }
            let int_end = i;
            if at(b, i) == b'.' {
                if !at(b, i + 1).is_ascii_digit() {
                    return Err(syntax(b, i + 1, "a digit"));
                }
                i = digits(b, i + 1);
            }
            if let b'e' | b'E' = at(b, i) {
                i += 1;
                if let b'+' | b'-' = at(b, i) {
                    i += 1;
                }
                if !at(b, i).is_ascii_digit() {
                    return Err(syntax(b, i, "a digit"));
                }
                i = digits(b, i);
                return in_range(b, start, int_end, i);
            }
            // Up to 300 digits is less than 10^300, far from `f64::MAX`.
            if int_end - start > 300 {
                return in_range(b, start, int_end, i);
            }
            Ok(i)
        }
        _ => Err(syntax(b, i, "a JSON value")),
    }
}

/// Whether the key at `key` (with its quotes) is `name`.
fn key_is(b: &[u8], key: Range<usize>, name: &str) -> bool {
    let raw = &b[key.start + 1..key.end - 1];
    if raw.contains(&b'\\') {
        unescape(raw).is_ok_and(|k| k == name)
    } else {
        raw == name.as_bytes()
    }
}

/// Reads a key at `i` and the colon after it; returns the key (with its
/// quotes) and where its value starts. `here` tells whether the value is on
/// the pointer's path: `inner` (the object is the deepest container on it)
/// and the key is the pointer's next token.
#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
fn key(
    b: &[u8],
    i: usize,
    d: usize,
    ptr: &[Token],
    inner: bool,
    here: &mut bool,
) -> DResult<(Range<usize>, usize)> {
    let (end, value) = member(b, i)?;
    *here = inner && d <= ptr.len() && key_is(b, i..end, &ptr[d - 1].name);
    Ok((i..end, value))
}

/// Skips the value at `i`, at nesting depth `depth`, checking it as
/// [`scan`] does (with the same messages), and returns where it ends: the
/// scanner's path for a record, which needs no pointer to follow and no
/// ranges but its own. `kinds` is scratch space (the containers open inside
/// the value: `true` for an object), empty on return.
#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
fn skip_value(b: &[u8], mut i: usize, depth: usize, kinds: &mut Vec<bool>) -> DResult<usize> {
    kinds.clear();
    loop {
        // At the start of a value.
        match at(b, i) {
            c @ (b'{' | b'[') => {
                if depth + kinds.len() >= MAX_DEPTH {
                    return Err(too_deep());
                }
                let object = c == b'{';
                i = ws(b, i + 1);
                if at(b, i) == if object { b'}' } else { b']' } {
                    i += 1;
                } else {
                    kinds.push(object);
                    if object {
                        i = member(b, i)?.1;
                    }
                    continue;
                }
            }
            b'"' => i = string(b, i + 1)?,
            _ => i = scalar(b, i)?,
        }
        // After a value: close what it ends, up to the next value.
        loop {
            let Some(&object) = kinds.last() else {
                return Ok(i);
            };
            i = ws(b, i);
            match at(b, i) {
                b',' => {
                    i = ws(b, i + 1);
                    if object {
                        i = member(b, i)?.1;
                    }
                    break;
                }
                c @ (b'}' | b']') if (c == b'}') == object => {
                    kinds.pop();
                    i += 1;
                }
                _ => {
                    return Err(syntax(
                        b,
                        i,
                        if object { "`,` or `}`" } else { "`,` or `]`" },
                    ))
                }
            }
        }
    }
}

/// Reads a member's key at `i` and the colon after it; returns where the
/// key ends (after its closing quote) and where the value starts.
#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
fn member(b: &[u8], i: usize) -> DResult<(usize, usize)> {
    if at(b, i) != b'"' {
        return Err(syntax(b, i, "a key (a string)"));
    }
    let end = string(b, i + 1)?;
    let j = ws(b, end);
    if at(b, j) != b':' {
        return Err(syntax(b, j, "`:`"));
    }
    Ok((end, ws(b, j + 1)))
}

/// One container on the scanner's stack.
struct Frame {
    object: bool,
    start: usize,
}

/// Checks that `b` is one JSON value (whitespace around it allowed) in a
/// single pass over its bytes, without recursion and without building
/// anything, while following `ptr`: notes where its target is, and (when
/// asked) the byte ranges of the target array's first `keep` elements (and
/// how many there are) and of the root object's members.
///
/// Everything serde_json checks is checked here too (structure, numbers,
/// literals, escapes, control characters and UTF-8 inside strings), so a
/// body this accepts holds records that are valid JSON texts.
fn scan(b: &[u8], ptr: &[Token], elements: bool, keep: usize, members: bool) -> DResult<Scan> {
    let n = ptr.len();
    let mut out = Scan::default();
    let mut i = ws(b, 0);
    if i >= b.len() {
        return Err(DecodeError("body is empty".into()));
    }
    out.root.start = i;
    let mut stack: Vec<Frame> = Vec::new();
    // Stack entries on the pointer's path (the root always is).
    let mut on_path = 0;
    // Whether the pointer is still being followed.
    let mut matching = true;
    // Index of the next element in the deepest on-path array.
    let mut index = 0;
    // Whether the value about to start is on the pointer's path.
    let mut here = true;
    let mut target_open = false;
    // Elements of the target array sit at this depth.
    let mut element_depth = usize::MAX;
    // The key of the root member being read.
    let mut member_key = 0..0;
    // The containers open inside a record (see `skip_value`).
    let mut kinds = Vec::new();
    'value: loop {
        let depth = stack.len();
        if here {
            here = false;
            if depth == n {
                target_open = true;
                matching = false;
                if elements && at(b, i) == b'[' {
                    element_depth = depth + 1;
                }
            } else if let b'{' | b'[' = at(b, i) {
                on_path = depth + 1;
                index = 0;
            } else {
                matching = false;
            }
        }
        let (mut start, mut end);
        if depth == element_depth {
            // A record: checked on its own path.
            start = i;
            i = skip_value(b, i, depth, &mut kinds)?;
            end = i;
        } else {
            match at(b, i) {
                c @ (b'{' | b'[') => {
                    if depth >= MAX_DEPTH {
                        return Err(too_deep());
                    }
                    let object = c == b'{';
                    let open = i;
                    stack.push(Frame { object, start: i });
                    i = ws(b, i + 1);
                    let close = if object { b'}' } else { b']' };
                    if at(b, i) == close {
                        stack.pop();
                        start = open;
                        i += 1;
                        end = i;
                        if depth < on_path {
                            matching = false;
                        }
                    } else if object {
                        let inner = matching && on_path == depth + 1;
                        let (k, j) = key(b, i, depth + 1, ptr, inner, &mut here)?;
                        if depth == 0 {
                            member_key = k;
                        }
                        i = j;
                        continue 'value;
                    } else {
                        here = matching
                            && on_path == depth + 1
                            && depth < n
                            && ptr[depth].index == Some(0);
                        continue 'value;
                    }
                }
                b'"' => {
                    start = i;
                    i = string(b, i + 1)?;
                    end = i;
                }
                _ => {
                    start = i;
                    i = scalar(b, i)?;
                    end = i;
                }
            }
        }
        // A value [start, end) ended; close the containers it ends.
        loop {
            let d = stack.len();
            if d == element_depth {
                if out.count < keep {
                    out.elements.push(start..end);
                }
                out.count += 1;
            } else if target_open && d == n {
                target_open = false;
                element_depth = usize::MAX;
                out.target = Some(start..end);
            }
            if members && d == 1 && stack[0].object {
                out.members.push((member_key.clone(), start..end));
            }
            i = ws(b, i);
            let Some(top) = stack.last() else {
                if i < b.len() {
                    return Err(syntax(b, i, "the end of the body"));
                }
                out.root.end = end;
                return Ok(out);
            };
            match at(b, i) {
                b',' => {
                    i = ws(b, i + 1);
                    let inner = matching && on_path == d;
                    if top.object {
                        let (k, j) = key(b, i, d, ptr, inner, &mut here)?;
                        if d == 1 {
                            member_key = k;
                        }
                        i = j;
                    } else if inner {
                        index += 1;
                        here = d <= n && ptr[d - 1].index == Some(index);
                    }
                    continue 'value;
                }
                c @ (b'}' | b']') if (c == b'}') == top.object => {
                    start = top.start;
                    stack.pop();
                    if d <= on_path {
                        matching = false;
                    }
                    i += 1;
                    end = i;
                }
                _ => {
                    return Err(syntax(
                        b,
                        i,
                        if top.object {
                            "`,` or `}`"
                        } else {
                            "`,` or `]`"
                        },
                    ))
                }
            }
        }
    }
}

/// `body` as text: a body that is not UTF-8 is not JSON.
pub(crate) fn text(body: &[u8]) -> DResult<&str> {
    std::str::from_utf8(body).map_err(|e| DecodeError(format!("body is not UTF-8: {e}")))
}

/// Checks that `body` is one JSON value; returns it as text.
pub(crate) fn validate(body: &[u8]) -> DResult<&str> {
    let t = text(body)?;
    scan(t.as_bytes(), &[], false, 0, false).map(|_| t)
}

/// The value at RFC 6901 `pointer` in the JSON text `json` (checked whole on
/// the way); `Ok(None)` when a member or element on the way is missing.
pub(crate) fn find<'a>(json: &'a str, pointer: &str) -> DResult<Option<&'a [u8]>> {
    let b = json.as_bytes();
    let s = scan(b, &tokens(pointer), false, 0, false)?;
    Ok(s.target.map(|r| &b[r]))
}

/// A page's body, read in one pass: where its records are and, for a body
/// that is an object, where each top-level member is, so that the total,
/// cursor or next link are read from their own small slices.
pub(crate) struct Body<'a> {
    text: &'a str,
    bytes: &'a [u8],
    scan: Scan,
    records_at: &'a str,
}

impl<'a> Body<'a> {
    /// Checks `body` (see [`scan`]) and finds the records array at the
    /// pointer `records_at` and each record in it.
    pub(crate) fn parse(body: &'a str, records_at: &'a str) -> DResult<Self> {
        Self::parse_keeping(body, records_at, usize::MAX)
    }

    /// [`Body::parse`], noting only the first `keep` records (all are
    /// checked and counted: see [`Body::record_count`]).
    pub(crate) fn parse_keeping(body: &'a str, records_at: &'a str, keep: usize) -> DResult<Self> {
        let scan = scan(body.as_bytes(), &tokens(records_at), true, keep, true)?;
        Ok(Body {
            text: body,
            bytes: body.as_bytes(),
            scan,
            records_at,
        })
    }

    /// The value at `ptr`; `Ok(None)` when it is missing.
    pub(crate) fn get(&self, ptr: &str) -> DResult<Option<&'a [u8]>> {
        let b = self.bytes;
        if ptr.is_empty() {
            return Ok(Some(&b[self.scan.root.clone()]));
        }
        if ptr == self.records_at {
            return Ok(self.scan.target.clone().map(|r| &b[r]));
        }
        // Values start and end at ASCII bytes of JSON syntax: char boundaries.
        let text = |r: Range<usize>| {
            self.text
                .get(r)
                .ok_or_else(|| DecodeError("a value is not on a char boundary".into()))
        };
        let root = text(self.scan.root.clone())?;
        if !root.starts_with('{') {
            return find(root, ptr);
        }
        let rest = &ptr[1..];
        let (first, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let first = first.replace("~1", "/").replace("~0", "~");
        match self
            .scan
            .members
            .iter()
            .find(|(k, _)| key_is(b, k.clone(), &first))
        {
            Some((_, v)) => find(text(v.clone())?, tail),
            None => Ok(None),
        }
    }

    /// How many records the records array holds, kept or not (0 when the
    /// records are missing or not an array).
    pub(crate) fn record_count(&self) -> usize {
        self.scan.count
    }

    /// Byte ranges (in the body) of the records (the first `keep` of them).
    pub(crate) fn records(&mut self) -> DResult<Vec<Range<usize>>> {
        let ptr = self.records_at;
        let Some(target) = self.scan.target.clone() else {
            return Err(DecodeError(format!(
                "the records pointer {ptr:?} is missing from the body"
            )));
        };
        let text = &self.bytes[target];
        if !text.starts_with(b"[") {
            let what = if text == b"null" {
                "null"
            } else {
                "not an array"
            };
            return Err(DecodeError(if ptr.is_empty() {
                format!("the body is {what}, expected an array of records")
            } else {
                format!("the records at {ptr:?} are {what}, expected an array")
            }));
        }
        Ok(std::mem::take(&mut self.scan.elements))
    }
}

/// The text of a JSON string's contents `raw` (between its quotes) with its
/// escapes resolved (the one JSON string reader of the core: page members,
/// checkpoints). Fails, as serde_json does, on a malformed escape and on a
/// `\u` escape that is a lone surrogate.
pub(crate) fn unescape(raw: &[u8]) -> Result<String, &'static str> {
    const BAD: &str = "invalid escape";
    const LEADING: &str = "lone leading surrogate in hex escape";
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(n) = raw[i..].iter().position(|&c| c == b'\\') {
        out.extend_from_slice(&raw[i..i + n]);
        i += n;
        let c = match raw.get(i + 1).ok_or(BAD)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = hex4(raw.get(i + 2..i + 6)).ok_or(BAD)?;
                i += 4;
                let code = match hi {
                    0xD800..=0xDBFF => {
                        if raw.get(i + 2..i + 4) != Some(b"\\u") {
                            return Err(LEADING);
                        }
                        let lo = hex4(raw.get(i + 4..i + 8)).ok_or(BAD)?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return Err(LEADING);
                        }
                        i += 6;
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    }
                    _ => hi,
                };
                char::from_u32(code).ok_or("lone trailing surrogate in hex escape")?
            }
            _ => return Err(BAD),
        };
        i += 2;
        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
    }
    out.extend_from_slice(&raw[i..]);
    String::from_utf8(out).map_err(|_| "invalid unicode code point")
}

/// Four hex digits as a number.
fn hex4(h: Option<&[u8]>) -> Option<u32> {
    h?.iter().try_fold(0u32, |n, &c| {
        let d = (c as char).to_digit(16)?;
        Some(n * 16 + d)
    })
}

/// Records of `body` at `ranges`, keeping the body (and what the transport
/// parsed, when `body` is a skeleton).
pub(crate) fn records(
    body: String,
    ranges: Vec<Range<usize>>,
    attachment: Option<Attachment>,
) -> Records {
    Records {
        body,
        ranges,
        attachment,
    }
}

/// A JSON scalar as the text to send back: strings unescaped, numbers and
/// booleans as written; `None` for `null`. Objects and arrays are an error.
/// `v` is one JSON value as the scanner found it.
pub(crate) fn scalar_text(v: &[u8]) -> DResult<Option<String>> {
    match v.first() {
        Some(b'"') if v.len() >= 2 && v.ends_with(b"\"") => unescape(&v[1..v.len() - 1])
            .map(Some)
            .map_err(|_| DecodeError(format!("bad string: {}", crate::error::excerpt(v)))),
        Some(b'n') if v == b"null" => Ok(None),
        Some(b'{' | b'[') => Err(DecodeError(format!(
            "expected a string or number, found {}",
            crate::error::excerpt(v)
        ))),
        // A number or boolean the scanner checked: ASCII.
        _ => Ok(Some(String::from_utf8_lossy(v).into_owned())),
    }
}

/// A JSON value as a count: a non-negative integer, or a string holding one.
pub(crate) fn count(v: &[u8]) -> DResult<Option<u64>> {
    match scalar_text(v)? {
        None => Ok(None),
        Some(s) => s
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| DecodeError(format!("expected a count, found {s:?}"))),
    }
}

/// The total of a `Content-Range` header (`items 0-99/20000`); `None` when `*`.
pub(crate) fn content_range_total(value: &str) -> Option<u64> {
    let (_, total) = value.rsplit_once('/')?;
    total.trim().parse().ok()
}

/// The `rel="next"` target of RFC 8288 `Link` header values.
pub(crate) fn link_next<'a>(values: impl Iterator<Item = &'a str>) -> Option<String> {
    for value in values {
        let mut rest = value;
        while let Some(open) = rest.find('<') {
            let after = &rest[open + 1..];
            let close = after.find('>')?;
            let target = &after[..close];
            let params_start = &after[close + 1..];
            // Parameters run to the next link, which starts after a comma outside quotes.
            let mut end = params_start.len();
            let mut in_quotes = false;
            for (i, c) in params_start.char_indices() {
                match c {
                    '"' => in_quotes = !in_quotes,
                    ',' if !in_quotes => {
                        end = i;
                        break;
                    }
                    _ => {}
                }
            }
            let params = &params_start[..end];
            for param in params.split(';') {
                let Some((k, v)) = param.split_once('=') else {
                    continue;
                };
                if k.trim().eq_ignore_ascii_case("rel") {
                    let v = v.trim().trim_matches('"');
                    if v.split_ascii_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
                    {
                        return Some(target.to_string());
                    }
                }
            }
            rest = &params_start[end..];
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<'a>(b: &'a [u8], records_at: &'a str) -> DResult<Body<'a>> {
        Body::parse(text(b)?, records_at)
    }

    fn find_b<'a>(b: &'a [u8], ptr: &str) -> DResult<Option<&'a [u8]>> {
        find(text(b)?, ptr)
    }

    #[test]
    fn joined_records() {
        let body = r#"{"data":[ {"id":1} ,
 {"id":2,"s":"a,b"},{"id":3}],"meta":{}}"#
            .to_string();
        let ranges = Body::parse(&body, "/data").unwrap().records().unwrap();
        let all = records(body.clone(), ranges.clone(), None);
        let joined = std::str::from_utf8(all.joined().unwrap()).unwrap();
        let parsed: Vec<serde_json::Value> = serde_json::from_str(&format!("[{joined}]")).unwrap();
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[1]["s"], "a,b");
        let tail = records(body.clone(), ranges[1..].to_vec(), None);
        assert!(tail.joined().unwrap().starts_with(br#"{"id":2"#));
        let holed = records(
            body.clone(),
            vec![ranges[0].clone(), ranges[2].clone()],
            None,
        );
        assert_eq!(holed.joined(), None);
        assert_eq!(records(body, Vec::new(), None).joined(), Some(&b""[..]));
        assert_eq!(Records::from_json(["1", "2"]).joined(), None);
    }

    #[test]
    fn pointers_and_records() {
        let body =
            br#"{"meta":{"total":"3","a/b":7},"data":[{"id":1},{"id":2,"s":"x\"y"},{"id":3}]}"#;
        let mut b = parse(body, "/data").unwrap();
        assert_eq!(
            count(b.get("/meta/total").unwrap().unwrap()).unwrap(),
            Some(3)
        );
        assert_eq!(b.get("/meta/a~1b").unwrap().unwrap(), b"7");
        assert_eq!(b.get("/data/1/id").unwrap().unwrap(), b"2");
        assert!(b.get("/nope").unwrap().is_none());
        let ranges = b.records().unwrap();
        let texts: Vec<&[u8]> = ranges.iter().map(|r| &body[r.clone()]).collect();
        assert_eq!(
            texts,
            vec![
                &br#"{"id":1}"#[..],
                br#"{"id":2,"s":"x\"y"}"#,
                br#"{"id":3}"#
            ]
        );
        let mut m = parse(body, "/meta").unwrap();
        assert!(m.records().unwrap_err().0.contains("not an array"));
        let mut m = parse(body, "/missing").unwrap();
        assert!(m.records().unwrap_err().0.contains("missing"));
    }

    #[test]
    fn only_the_records_kept_are_noted_all_are_checked_and_counted() {
        let body = format!("{{\"data\":[{}0],\"n\":1}}", "0,".repeat(9_999));
        let mut b = Body::parse_keeping(&body, "/data", 3).unwrap();
        assert_eq!(b.record_count(), 10_000);
        assert_eq!(b.get("/n").unwrap(), Some(&b"1"[..]));
        let ranges = b.records().unwrap();
        assert_eq!(ranges.len(), 3);
        assert!(ranges.capacity() <= 4, "{}", ranges.capacity());
        assert_eq!(&body[ranges[2].clone()], "0");
        // Keeping none still checks every element.
        let bad = format!("[{}01]", "0,".repeat(100));
        assert!(Body::parse_keeping(&bad, "", 0).is_err());
        let mut all = Body::parse(&body, "/data").unwrap();
        assert_eq!(all.records().unwrap().len(), 10_000);
    }

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(parse(b"", "").is_err());
        assert!(parse(b"<html>", "/data").is_err());
        assert!(parse(br#"{"data":[{"id":1,"#, "/data").is_err());
        let mut b = parse(b"null", "").unwrap();
        assert!(b.records().unwrap_err().0.contains("null"));
    }

    /// The scanner accepts exactly what serde_json accepts when it reads
    /// values (ignoring a string, serde_json does not check its UTF-8).
    /// Bodies right and wrong, for the scanner against serde_json.
    const CASES: &[&[u8]] = &[
        b"{}",
        b"[]",
        b" [ 1 , 2 ] ",
        b"\t\r\n{ \"a\" :\n1 }\n",
        b"{\"a\":1,}",
        b"[1,]",
        b"[,1]",
        b"{\"a\" 1}",
        b"{1:2}",
        b"{\"a\":1 \"b\":2}",
        b"[1 2]",
        b"{\"a\"}",
        b"{,}",
        b"[1,,2]",
        b"{\"a\":}",
        b"\"abc\"",
        br#""a\"b""#,
        br#""a\\""#,
        br#""a\\\"b""#,
        br#""a\\"b""#,
        br#""\u00e9\uD83D\uDE00""#,
        br#""\u00g9""#,
        br#""\u12""#,
        br#""\x""#,
        br#""\/\b\f\n\r\t""#,
        b"\"a\tb\"",
        b"\"a\x01b\"",
        b"\"a\x7fb\"",
        "\"é ü 😀 \u{10FFFF}\"".as_bytes(),
        b"\"\xff\"",
        b"\"\xc0\x80\"",
        b"\"\xed\xa0\x80\"",
        b"\"\xe2\x82\"",
        b"\"\xe2\x82",
        b"\"\xf4\x90\x80\x80\"",
        b"\"abc",
        b"\"abc\\",
        b"0",
        b"-0",
        b"01",
        b"1.",
        b".5",
        b"1e5",
        b"1E+5",
        b"1e",
        b"-",
        b"--1",
        b"1.5e-3",
        b"+1",
        b"1x",
        b"tru",
        b"true",
        b"truex",
        b"nul",
        b"null",
        b"false",
        b"[true,false,null]",
        b"{\"a\":[]}",
        b"{} x",
        b"{}{}",
        b"[]]",
        b"[}",
        b"{]",
        b"[[[",
        b"]",
        b"",
        b"  ",
        b"<html>",
        b"{\"a\":1}}",
        b"[{\"a\":[1,{\"b\":\"]}\"}]},2]",
        b"{\"a\":{\"b\":{\"c\":[[],[{}]]}}}",
        b"[\"a very long string of more than eight bytes with no escapes at all\"]",
        b"[\"long string with an escape at the end of a chunk 1234\\\"5678\"]",
        b"\xef\xbb\xbf{}",
        b"[1]\x00",
        b"{\"a\":nul}",
        b"[-]",
        b"[1.e5]",
        b"[1e+]",
        // UTF-16 surrogates: only in pairs, as serde_json reads strings.
        br#""\ud800""#,
        br#""\uDBFF""#,
        br#""\udd83""#,
        br#""\udc00""#,
        br#""\uDFFF\ud800""#,
        br#""\ud800\u0041""#,
        br#""\ud800x""#,
        br#""\ud800\n""#,
        br#""\ud800\""#,
        br#""\ud800\u""#,
        br#""\ud800\udc0""#,
        br#""\ud800\ud800""#,
        br#""\ud800\udc00""#,
        br#""\uDBFF\uDFFF""#,
        br#""\ud83d\ude00\udc00""#,
        br#""\ud7ff\ue000\uD7FF\uE000""#,
        br#"{"\ud800":1}"#,
        br#"{"\ud83d\ude00":1}"#,
        // Numbers out of an f64's range are errors, too small ones are 0.
        b"1e9345",
        b"-1e9345",
        b"1E+400",
        b"1e-9345",
        b"0e9345",
        b"0.0e99999999999999999999",
        b"1e2147483647",
        b"1e2147483648",
        b"1e-2147483648",
        b"1e99999999999999999999",
        b"1e308",
        b"1e309",
        b"10e307",
        b"0.1e310",
        b"1.7976931348623157e308",
        b"1.7976931348623158e308",
        b"1.7976931348623159e308",
        b"-1.8e308",
        b"179769313486231570000000000000000000000e270",
        b"179769313486231580000000000000000000000e270",
        b"0.00000000000000000000000000000000000000001e330",
        b"123456789012345678901234567890e-400",
        b"[1e400]",
        b"{\"a\":-1e400}",
    ];

    #[test]
    fn records_are_checked_as_any_value_is() {
        // Each case as a record (read on the record's own path) and as an
        // element of an array that is not the records (the general path):
        // the same verdict as serde_json, and the same message.
        let long = long_numbers();
        for c in CASES.iter().copied().chain(long.iter().map(|c| &c[..])) {
            let mut body = b"[".to_vec();
            body.extend_from_slice(c);
            body.extend_from_slice(b",1]");
            let Ok(text) = std::str::from_utf8(&body) else {
                continue;
            };
            let as_record = Body::parse(text, "").and_then(|mut b| b.records());
            let as_value = validate(&body);
            let theirs = serde_json::from_slice::<serde_json::Value>(&body);
            assert_eq!(as_record.is_ok(), theirs.is_ok(), "{text:?}: {as_record:?}");
            assert_eq!(
                as_record.as_ref().err().map(|e| e.0.clone()),
                as_value.err().map(|e| e.0),
                "{text:?}"
            );
            if let Ok(ranges) = as_record {
                assert_eq!(ranges.len(), 2, "{text:?}");
                assert_eq!(&body[ranges[0].clone()], c.trim_ascii(), "{text:?}");
            }
        }
        // Nesting up to the limit and past it, counted from the body's root
        // (the array around the record is one level).
        for pairs in [MAX_DEPTH / 2 - 1, MAX_DEPTH / 2] {
            let record = format!("{}0{}", "[{\"a\":".repeat(pairs), "}]".repeat(pairs));
            let body = format!("[{record}]");
            let as_record = Body::parse(&body, "").and_then(|mut b| b.records());
            let as_value = validate(body.as_bytes());
            assert_eq!(
                as_record.as_ref().err().map(|e| e.0.clone()),
                as_value.as_ref().err().map(|e| e.0.clone()),
                "{pairs} pairs"
            );
            assert_eq!(as_record.is_ok(), 2 * pairs < MAX_DEPTH, "{pairs} pairs");
        }
    }

    /// Long numbers: digits past 300 are where the range check begins.
    fn long_numbers() -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for n in [299, 300, 301, 308, 309, 310, 400, 5000] {
            let digits = |d: &str| format!("1{}", d.repeat(n - 1));
            for text in [
                digits("0"),
                digits("9"),
                format!("-{}", digits("0")),
                format!("{}.5", digits("0")),
                format!("{}e-50", digits("0")),
                format!("{}e-1", digits("9")),
                format!("{}e1", digits("0")),
                format!("0.{}1e{n}", "0".repeat(n)),
                format!("1.{}e308", "9".repeat(n)),
                format!("0.{}", "7".repeat(n)),
            ] {
                out.push(text.into_bytes());
            }
        }
        out
    }

    #[test]
    fn scanner_agrees_with_serde_json() {
        let long = long_numbers();
        let cases = CASES.iter().copied().chain(long.iter().map(|c| &c[..]));
        for c in cases {
            let ours = validate(c);
            let theirs = serde_json::from_slice::<serde_json::Value>(c);
            assert_eq!(
                ours.is_ok(),
                theirs.is_ok(),
                "{:?}: ours {ours:?}, serde_json {theirs:?}",
                String::from_utf8_lossy(c)
            );
        }
    }

    #[test]
    fn strings_are_read_right_at_every_offset_of_a_chunk() {
        // What ends or breaks a run of plain characters, placed at every
        // offset across several 16-byte chunks, judged as serde_json does.
        let specials: &[&[u8]] = &[
            b"\\\"",
            b"\\\\",
            b"\\n",
            b"\\u00e9",
            b"\\x",
            b"\\",
            b"\"",
            b"\x01",
            b"\x1f",
            b"\n",
            b" ",
            b"\x7f",
            "é".as_bytes(),
            "😀".as_bytes(),
            b"\xff",
        ];
        for special in specials {
            for at in 0..40 {
                let mut text = b"[{\"k\":\"".to_vec();
                text.extend(std::iter::repeat_n(b'a', at));
                text.extend_from_slice(special);
                text.extend(std::iter::repeat_n(b'b', 40 - at));
                text.extend_from_slice(b"\"},2]");
                let theirs = serde_json::from_slice::<serde_json::Value>(&text);
                let ours = std::str::from_utf8(&text)
                    .map_err(|e| DecodeError(e.to_string()))
                    .and_then(|t| Body::parse(t, ""))
                    .and_then(|mut b| b.records());
                match (&ours, &theirs) {
                    (Ok(ranges), Ok(_)) => {
                        assert_eq!(ranges.len(), 2);
                        assert_eq!(&text[ranges[1].clone()], b"2", "{at} {special:?}");
                    }
                    (Err(_), Err(_)) => {}
                    _ => panic!("{at} {special:?}: ours {ours:?}, serde_json {theirs:?}"),
                }
            }
        }
    }

    #[test]
    fn records_with_strings_nesting_whitespace_and_unicode() {
        let body = "{ \"meta\" : { \"total\" : 3 } ,\n \"data\" : [\n \
            {\"s\":\"a\\\"],}b\",\"t\":\"\\\\\"} ,\n\
            {\"n\":[1,[2,{\"x\":[]}]],\"o\":{\"data\":[9]}} ,\
            \t\"é😀\"\r\n] , \"after\" : [ 7 ] }"
            .as_bytes();
        let mut b = parse(body, "/data").unwrap();
        let texts: Vec<&[u8]> = b.records().unwrap().into_iter().map(|r| &body[r]).collect();
        assert_eq!(
            texts,
            vec![
                &b"{\"s\":\"a\\\"],}b\",\"t\":\"\\\\\"}"[..],
                b"{\"n\":[1,[2,{\"x\":[]}]],\"o\":{\"data\":[9]}}",
                "\"é😀\"".as_bytes(),
            ]
        );
        assert_eq!(b.get("/meta/total").unwrap(), Some(&b"3"[..]));
        assert_eq!(b.get("/after/0").unwrap(), Some(&b"7"[..]));
        assert_eq!(b.get("/data/1/n/1/1/x").unwrap(), Some(&b"[]"[..]));
        assert_eq!(b.get("/data/2").unwrap(), Some("\"é😀\"".as_bytes()));
        assert_eq!(b.get("/data/3").unwrap(), None);
        // A top-level array.
        let top = b" [ {\"id\":1} , 2 ,[3]] ";
        let mut b = parse(top, "").unwrap();
        let ranges = b.records().unwrap();
        assert_eq!(ranges.len(), 3);
        assert_eq!(&top[ranges[2].clone()], b"[3]");
        assert_eq!(b.get("").unwrap(), Some(&top[1..top.len() - 1]));
        assert_eq!(b.get("/0/id").unwrap(), Some(&b"1"[..]));
        // An empty records array, and records elsewhere than first.
        let mut b = parse(br#"{"a":{"data":[1]},"data":[]}"#, "/data").unwrap();
        assert!(b.records().unwrap().is_empty());
    }

    #[test]
    fn pointer_tokens_escapes_indexes_and_first_match() {
        let body = br#"{"a/b":{"m~n":[10,[20,21],{"":5}]},"a\/b":1,"k\u0065y":[1,2],"key":[3]}"#;
        assert_eq!(find_b(body, "/a~1b/m~0n/0").unwrap(), Some(&b"10"[..]));
        assert_eq!(find_b(body, "/a~1b/m~0n/1/1").unwrap(), Some(&b"21"[..]));
        assert_eq!(find_b(body, "/a~1b/m~0n/2/").unwrap(), Some(&b"5"[..]));
        assert_eq!(find_b(body, "/a~1b/m~0n/3").unwrap(), None);
        assert_eq!(find_b(body, "/a~1b/m~0n/x").unwrap(), None);
        assert_eq!(find_b(body, "/a~1b/m~0n/0/deeper").unwrap(), None);
        // `"k\u0065y"` is the key `key`: the first of the two wins.
        assert_eq!(find_b(body, "/key").unwrap(), Some(&b"[1,2]"[..]));
        let mut b = parse(body, "/key").unwrap();
        assert_eq!(b.records().unwrap().len(), 2);
        assert_eq!(b.get("/a~1b/m~0n/1/0").unwrap(), Some(&b"20"[..]));
        assert_eq!(b.get("/k~1y").unwrap(), None);
        // Pointers into a body that is not an object.
        assert_eq!(find_b(b"[[1,2],[3,4]]", "/1/0").unwrap(), Some(&b"3"[..]));
        assert_eq!(find_b(b"null", "/data").unwrap(), None);
        assert_eq!(find_b(b"\"s\"", "").unwrap(), Some(&b"\"s\""[..]));
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let deep = |n: usize| {
            let mut v = vec![b'['; n];
            v.extend(std::iter::repeat_n(b']', n));
            v
        };
        assert!(validate(&deep(MAX_DEPTH)).is_ok());
        let e = validate(&deep(MAX_DEPTH + 1)).unwrap_err();
        assert!(e.0.contains("nested"), "{e:?}");
        // Far deeper than any stack would take, and unbalanced: still an error.
        let e = validate(&vec![b'['; 10_000_000]).unwrap_err();
        assert!(e.0.contains("nested"), "{e:?}");
        let e = parse(&[b'{'; 3], "/data").err().unwrap();
        assert!(e.0.contains("not valid JSON"), "{e:?}");
    }

    #[test]
    fn bodies_that_are_not_pages_say_why() {
        let err = |b: &[u8]| {
            text(b)
                .and_then(|t| Body::parse(t, "/data"))
                .err()
                .unwrap()
                .0
        };
        assert!(err(b"").contains("empty"));
        assert!(err(b" \n ").contains("empty"));
        assert!(err(b"<html><body>502</body></html>").contains("not valid JSON"));
        assert!(err(br#"{"data":[{"id":1},{"id":2"#).contains("truncated"));
        assert!(err(br#"{"data":[{"id":1,}]}"#).contains("not valid JSON"));
        assert!(err(br#"{"data":[]} trailing"#).contains("end of the body"));
        assert!(err(br#"{"data":[}"#).contains("not valid JSON"));
        assert!(err(b"{\"data\":[\"\xff\"]}").contains("UTF-8"));
        assert!(validate(b"[\"\xff\"]").unwrap_err().0.contains("UTF-8"));
        assert!(err(b"{\"data\":[\"a\x02\"]}").contains("control"));
        let mut b = parse(b"null", "").unwrap();
        assert!(b.records().unwrap_err().0.contains("null"));
        let mut b = parse(b"null", "/data").unwrap();
        assert!(b.records().unwrap_err().0.contains("missing"));
        let mut b = parse(br#"{"data":null}"#, "/data").unwrap();
        assert!(b.records().unwrap_err().0.contains("null"));
        let mut b = parse(br#"{"data":{"id":1}}"#, "/data").unwrap();
        assert!(b.records().unwrap_err().0.contains("not an array"));
    }

    #[test]
    fn scalars_read_from_slices() {
        assert_eq!(scalar_text(br#""a\"b""#).unwrap().as_deref(), Some("a\"b"));
        assert_eq!(scalar_text(b"12.5").unwrap().as_deref(), Some("12.5"));
        assert_eq!(scalar_text(b"null").unwrap(), None);
        assert!(scalar_text(b"{}").is_err());
        assert_eq!(count(br#""42""#).unwrap(), Some(42));
        assert!(count(b"-1").is_err());
    }

    #[test]
    fn unescape_agrees_with_serde_json() {
        let cases = [
            r#""""#,
            r#""plain""#,
            r#""a\"b\\c\/d""#,
            r#""\b\f\n\r\t""#,
            r#""\u0041\u00e9\u20AC""#,
            r#""\ud83d\ude00 smile""#,
            r#""é ünïcödé 😀""#,
            r#""\u0000""#,
            r#""\ud800""#,
            r#""\udc00""#,
            r#""\ud800\u0041""#,
            r#""\ud800x""#,
            r#""\ud83d\ude0""#,
            r#""\x""#,
            r#""\u12""#,
            r#""\u12g4""#,
            r#""tail\""#,
        ];
        for case in cases {
            let theirs = serde_json::from_str::<String>(case).ok();
            let ours = unescape(&case.as_bytes()[1..case.len() - 1]).ok();
            assert_eq!(ours, theirs, "{case}");
        }
        assert_eq!(
            scalar_text(br#""\ud800""#).unwrap_err().0,
            r#"bad string: "\ud800""#
        );
        assert!(key_is(br#""\u0069d""#, 0..9, "id"));
        assert!(!key_is(br#""\u0069e""#, 0..9, "id"));
    }

    #[test]
    fn link_header() {
        let h = r#"<https://a.example/x?page=1>; rel="prev", <https://a.example/x?page=3&a=1,2>; rel="next", <https://a.example/x?page=9>; rel="last""#;
        assert_eq!(
            link_next([h].into_iter()).as_deref(),
            Some("https://a.example/x?page=3&a=1,2")
        );
        assert_eq!(
            link_next([r#"</p2>; title="a, b"; rel=next"#].into_iter()).as_deref(),
            Some("/p2")
        );
        assert_eq!(link_next([r#"</p0>; rel="prev""#].into_iter()), None);
        assert_eq!(content_range_total("items 0-99/20000"), Some(20000));
        assert_eq!(content_range_total("items */5"), Some(5));
        assert_eq!(content_range_total("items 0-9/*"), None);
    }
}

//! Reading a page out of a body without building a JSON tree: records are
//! located as byte ranges of the body and deserialized later, once, into the
//! caller's type.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// The records of one page: the body and where each record sits in it.
#[derive(Clone, PartialEq, Eq)]
pub struct Records {
    body: Vec<u8>,
    ranges: Vec<Range<usize>>,
}

impl Records {
    /// Records taken from JSON texts (handy in tests and for hand-made pages).
    pub fn from_json<I, S>(records: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut body = Vec::new();
        let mut ranges = Vec::new();
        for r in records {
            let start = body.len();
            body.extend_from_slice(r.as_ref().as_bytes());
            ranges.push(start..body.len());
        }
        Records { body, ranges }
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
        self.ranges.get(i).map(|r| &self.body[r.clone()])
    }

    /// The JSON texts of all records, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.ranges.iter().map(|r| &self.body[r.clone()])
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
        for w in self.ranges.windows(2) {
            let gap = self.body.get(w[0].end..w[1].start)?;
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
        Some(&self.body[first.start..last.end])
    }

    /// Bytes of body held for these records.
    pub fn body_len(&self) -> usize {
        self.body.len()
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

fn parse_raw(text: &str) -> DResult<&RawValue> {
    serde_json::from_str::<&RawValue>(text)
        .map_err(|e| DecodeError(format!("body is not valid JSON: {e}")))
}

/// Finds the member `key` of an object, or element `key` of an array, without
/// parsing anything else into values.
fn child<'a>(node: &'a RawValue, key: &str) -> DResult<Option<&'a RawValue>> {
    let text = node.get();
    match text.as_bytes().first() {
        Some(b'{') => {
            let mut de = serde_json::Deserializer::from_str(text);
            FindMember { key }
                .deserialize(&mut de)
                .map_err(|e| DecodeError(format!("bad JSON object: {e}")))
        }
        Some(b'[') => {
            let Ok(index) = key.parse::<usize>() else {
                return Ok(None);
            };
            let mut de = serde_json::Deserializer::from_str(text);
            FindElement { index }
                .deserialize(&mut de)
                .map_err(|e| DecodeError(format!("bad JSON array: {e}")))
        }
        _ => Ok(None),
    }
}

/// Resolves an RFC 6901 JSON pointer. `Ok(None)` when a member is missing.
pub(crate) fn pointer<'a>(root: &'a RawValue, pointer: &str) -> DResult<Option<&'a RawValue>> {
    if pointer.is_empty() {
        return Ok(Some(root));
    }
    let mut node = root;
    for token in pointer[1..].split('/') {
        let token = token.replace("~1", "/").replace("~0", "~");
        match child(node, &token)? {
            Some(n) => node = n,
            None => return Ok(None),
        }
    }
    Ok(Some(node))
}

/// The parsed body of a page: its root, from which pointers are read.
pub(crate) struct Body<'a> {
    text: &'a str,
    /// The root, for a body that is not an object.
    root: Option<&'a RawValue>,
    /// The members of a top-level object, read in the one pass that also
    /// checks the body: pointers into the body (records, total, cursor)
    /// start here instead of scanning the whole body again each.
    members: Option<Vec<(Cow<'a, str>, &'a RawValue)>>,
}

impl<'a> Body<'a> {
    pub(crate) fn parse(body: &'a [u8]) -> DResult<Self> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(DecodeError("body is empty".into()));
        }
        let text = std::str::from_utf8(body)
            .map_err(|e| DecodeError(format!("body is not UTF-8: {e}")))?;
        if text.trim_start().starts_with('{') {
            let bad = |e: serde_json::Error| DecodeError(format!("body is not valid JSON: {e}"));
            let mut de = serde_json::Deserializer::from_str(text);
            let members = Members.deserialize(&mut de).map_err(bad)?;
            de.end().map_err(bad)?;
            Ok(Body {
                text,
                root: None,
                members: Some(members),
            })
        } else {
            Ok(Body {
                text,
                root: Some(parse_raw(text)?),
                members: None,
            })
        }
    }

    pub(crate) fn get(&self, ptr: &str) -> DResult<Option<&'a RawValue>> {
        let Some(members) = &self.members else {
            return pointer(
                self.root.expect("a body that is not an object has a root"),
                ptr,
            );
        };
        if ptr.is_empty() {
            return parse_raw(self.text).map(Some);
        }
        let rest = &ptr[1..];
        let (first, tail) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let first = first.replace("~1", "/").replace("~0", "~");
        match members.iter().find(|(k, _)| *k == first) {
            Some((_, v)) => pointer(v, tail),
            None => Ok(None),
        }
    }

    /// Byte ranges of the records array at `ptr`, relative to `body`.
    pub(crate) fn records(&self, body: &'a [u8], ptr: &str) -> DResult<Vec<Range<usize>>> {
        let node = match self.get(ptr)? {
            Some(n) => n,
            None => {
                return Err(DecodeError(format!(
                    "the records pointer {ptr:?} is missing from the body"
                )))
            }
        };
        let text = node.get();
        if !text.starts_with('[') {
            let what = if text == "null" {
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
        let items: Vec<&RawValue> = serde_json::from_str(text)
            .map_err(|e| DecodeError(format!("bad records array: {e}")))?;
        let base = body.as_ptr() as usize;
        Ok(items
            .into_iter()
            .map(|r| {
                let start = r.get().as_ptr() as usize - base;
                start..start + r.get().len()
            })
            .collect())
    }
}

/// Records of `body` at `ranges`, keeping the body.
pub(crate) fn records(body: Vec<u8>, ranges: Vec<Range<usize>>) -> Records {
    Records { body, ranges }
}

/// A JSON scalar as the text to send back: strings unescaped, numbers and
/// booleans as written; `None` for `null`. Objects and arrays are an error.
pub(crate) fn scalar_text(v: &RawValue) -> DResult<Option<String>> {
    let t = v.get();
    match t.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(t)
            .map(Some)
            .map_err(|e| DecodeError(format!("bad string: {e}"))),
        Some(b'n') if t == "null" => Ok(None),
        Some(b'{' | b'[') => Err(DecodeError(format!(
            "expected a string or number, found {}",
            crate::error::excerpt(t.as_bytes())
        ))),
        _ => Ok(Some(t.to_string())),
    }
}

/// A JSON value as a count: a non-negative integer, or a string holding one.
pub(crate) fn count(v: &RawValue) -> DResult<Option<u64>> {
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

/// Every member of an object, values left as raw JSON.
struct Members;

impl<'de> DeserializeSeed<'de> for Members {
    type Value = Vec<(Cow<'de, str>, &'de RawValue)>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Members {
    type Value = Vec<(Cow<'de, str>, &'de RawValue)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            out.push((key.0, map.next_value::<&RawValue>()?));
        }
        Ok(out)
    }
}

/// A key, borrowed from the body when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

struct FindMember<'k> {
    key: &'k str,
}

impl<'de> DeserializeSeed<'de> for FindMember<'_> {
    type Value = Option<&'de RawValue>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FindMember<'_> {
    type Value = Option<&'de RawValue>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(is_key) = map.next_key_seed(KeyIs { key: self.key })? {
            if is_key && found.is_none() {
                found = Some(map.next_value::<&RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

struct KeyIs<'k> {
    key: &'k str,
}

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.key)
    }
}

struct FindElement {
    index: usize,
}

impl<'de> DeserializeSeed<'de> for FindElement {
    type Value = Option<&'de RawValue>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for FindElement {
    type Value = Option<&'de RawValue>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut i = 0;
        let mut found = None;
        loop {
            if i == self.index {
                match seq.next_element::<&RawValue>()? {
                    Some(v) => found = Some(v),
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            i += 1;
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_records() {
        let body = br#"{"data":[ {"id":1} ,
 {"id":2,"s":"a,b"},{"id":3}],"meta":{}}"#
            .to_vec();
        let ranges = Body::parse(&body).unwrap().records(&body, "/data").unwrap();
        let all = records(body.clone(), ranges.clone());
        let joined = std::str::from_utf8(all.joined().unwrap()).unwrap();
        let parsed: Vec<serde_json::Value> = serde_json::from_str(&format!("[{joined}]")).unwrap();
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[1]["s"], "a,b");
        let tail = records(body.clone(), ranges[1..].to_vec());
        assert!(tail.joined().unwrap().starts_with(br#"{"id":2"#));
        let holed = records(body.clone(), vec![ranges[0].clone(), ranges[2].clone()]);
        assert_eq!(holed.joined(), None);
        assert_eq!(records(body, Vec::new()).joined(), Some(&b""[..]));
        assert_eq!(Records::from_json(["1", "2"]).joined(), None);
    }

    #[test]
    fn pointers_and_records() {
        let body =
            br#"{"meta":{"total":"3","a/b":7},"data":[{"id":1},{"id":2,"s":"x\"y"},{"id":3}]}"#;
        let b = Body::parse(body).unwrap();
        assert_eq!(
            count(b.get("/meta/total").unwrap().unwrap()).unwrap(),
            Some(3)
        );
        assert_eq!(b.get("/meta/a~1b").unwrap().unwrap().get(), "7");
        assert_eq!(b.get("/data/1/id").unwrap().unwrap().get(), "2");
        assert!(b.get("/nope").unwrap().is_none());
        let ranges = b.records(body, "/data").unwrap();
        let texts: Vec<&[u8]> = ranges.iter().map(|r| &body[r.clone()]).collect();
        assert_eq!(
            texts,
            vec![
                &br#"{"id":1}"#[..],
                br#"{"id":2,"s":"x\"y"}"#,
                br#"{"id":3}"#
            ]
        );
        assert!(b
            .records(body, "/meta")
            .unwrap_err()
            .0
            .contains("not an array"));
        assert!(b
            .records(body, "/missing")
            .unwrap_err()
            .0
            .contains("missing"));
    }

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(Body::parse(b"").is_err());
        assert!(Body::parse(b"<html>").is_err());
        assert!(Body::parse(br#"{"data":[{"id":1,"#).is_err());
        let b = Body::parse(b"null").unwrap();
        assert!(b.records(b"null", "").unwrap_err().0.contains("null"));
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

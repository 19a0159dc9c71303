//! JSON values kept as text ([`JsonText`]), and what records and answers
//! decode into ([`FromJson`]) or encode from ([`ToJson`]).

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde::Serialize;

use super::page;
use crate::error::{Error, ErrorKind};

/// One JSON value kept as its text, checked to be well-formed JSON but not
/// parsed into a value.
///
/// Ask for it where you would ask for your own type, to pass records through
/// untouched (to a file, a queue, another API) without paying for a
/// deserialization: `client.get::<JsonText>(..)`, `.collect::<JsonText>()`,
/// `.fetch_many(..).collect::<JsonText>()`; and hand it to the write jobs
/// (`insert_many`, …) to send text you already have as it is.
///
/// ```
/// use pagewise::core::JsonText;
///
/// let t = JsonText::parse(r#" {"id": 1, "name": "a"} "#)?;
/// assert_eq!(t.as_str(), r#"{"id": 1, "name": "a"}"#); // outer whitespace trimmed
/// assert!(JsonText::parse("{\"id\": 1,}").is_err());
/// # Ok::<(), pagewise::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct JsonText(Box<str>);

impl JsonText {
    /// Checks that `text` is exactly one JSON value (whitespace around it is
    /// allowed and dropped). A [`ErrorKind::Decode`] error with an excerpt
    /// otherwise.
    pub fn parse(text: impl Into<String>) -> crate::Result<JsonText> {
        let text = text.into();
        match page::validate(text.as_bytes()) {
            Ok(_) => Ok(JsonText::trimmed(text)),
            Err(e) => Err(Error::new(ErrorKind::Decode, format!("not JSON: {}", e.0))
                .with_excerpt(text.as_bytes())),
        }
    }

    /// Text the scanner has checked: kept, without the whitespace around it.
    pub(crate) fn trimmed(text: String) -> JsonText {
        let ws = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r');
        let t = text.trim_matches(ws);
        if t.len() == text.len() {
            JsonText(text.into_boxed_str())
        } else {
            JsonText(t.into())
        }
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The JSON text, owned.
    pub fn into_string(self) -> String {
        self.0.into()
    }

    /// Deserializes the text into `T` (with serde_json).
    ///
    /// ```
    /// # use pagewise::core::JsonText;
    /// let n: u32 = JsonText::parse("7")?.deserialize()?;
    /// assert_eq!(n, 7);
    /// # Ok::<(), pagewise::Error>(())
    /// ```
    pub fn deserialize<T: DeserializeOwned>(&self) -> crate::Result<T> {
        serde_json::from_str(&self.0).map_err(|e| {
            Error::new(
                ErrorKind::Record,
                format!("does not fit the requested type: {e}"),
            )
            .with_excerpt(self.0.as_bytes())
            .with_source(e)
        })
    }
}

impl fmt::Display for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonText({})", &self.0)
    }
}

impl AsRef<str> for JsonText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<JsonText> for String {
    fn from(t: JsonText) -> String {
        t.into_string()
    }
}

/// What records and answers decode into: every type serde can deserialize
/// (`T: serde::de::DeserializeOwned`, including `serde_json::Value`), and
/// [`JsonText`] for the text as it came.
///
/// You do not implement it: derive or implement `Deserialize` instead. A
/// function generic over `T: DeserializeOwned` can pass `T` on as it is.
pub trait FromJson: Sized {
    /// Decodes one JSON value the scanner has already checked.
    #[doc(hidden)]
    fn from_checked_json(text: &str) -> Result<Self, (ErrorKind, JsonFailure)>;
    /// Decodes bytes nobody has checked yet (an answer's body).
    #[doc(hidden)]
    fn from_json_bytes(bytes: &[u8]) -> Result<Self, (ErrorKind, JsonFailure)>;
}

/// Why JSON did not decode: the message (its `Display`) and the parser's
/// error, which the [`Error`] made of it wraps.
#[doc(hidden)]
#[derive(Debug)]
pub struct JsonFailure {
    message: String,
    source: Option<crate::error::Source>,
}

impl JsonFailure {
    /// The parser's error, for [`Error::source`](std::error::Error::source).
    pub(crate) fn source(&self) -> Option<crate::error::Source> {
        self.source.clone()
    }
}

impl From<serde_json::Error> for JsonFailure {
    fn from(e: serde_json::Error) -> Self {
        JsonFailure {
            message: e.to_string(),
            source: Some(std::sync::Arc::new(e)),
        }
    }
}

impl fmt::Display for JsonFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The kind of a serde_json error: data that does not fit the type is a
/// record error, anything else a decode error.
fn kind_of(e: &serde_json::Error) -> ErrorKind {
    if e.is_data() {
        ErrorKind::Record
    } else {
        ErrorKind::Decode
    }
}

impl<T: DeserializeOwned> FromJson for T {
    fn from_checked_json(text: &str) -> Result<Self, (ErrorKind, JsonFailure)> {
        serde_json::from_str(text).map_err(|e| (kind_of(&e), e.into()))
    }
    fn from_json_bytes(bytes: &[u8]) -> Result<Self, (ErrorKind, JsonFailure)> {
        serde_json::from_slice(bytes).map_err(|e| (kind_of(&e), e.into()))
    }
}

impl FromJson for JsonText {
    fn from_checked_json(text: &str) -> Result<Self, (ErrorKind, JsonFailure)> {
        Ok(JsonText::trimmed(text.to_string()))
    }
    fn from_json_bytes(bytes: &[u8]) -> Result<Self, (ErrorKind, JsonFailure)> {
        let text = page::validate(bytes).map_err(|e| {
            let failure = JsonFailure {
                message: e.0,
                source: None,
            };
            (ErrorKind::Decode, failure)
        })?;
        Ok(JsonText::trimmed(text.to_string()))
    }
}

/// What write jobs send: every type serde can serialize, and [`JsonText`]
/// (sent as it is).
///
/// You do not implement it: derive or implement `Serialize` instead.
pub trait ToJson {
    /// The record as JSON text; the message of a serializer's error.
    #[doc(hidden)]
    fn to_json(&self) -> Result<JsonText, String>;
}

impl<T: Serialize + ?Sized> ToJson for T {
    fn to_json(&self) -> Result<JsonText, String> {
        serde_json::to_string(self)
            .map(|s| JsonText(s.into_boxed_str()))
            .map_err(|e| e.to_string())
    }
}

impl ToJson for JsonText {
    fn to_json(&self) -> Result<JsonText, String> {
        Ok(self.clone())
    }
}

impl ToJson for &JsonText {
    fn to_json(&self) -> Result<JsonText, String> {
        Ok((*self).clone())
    }
}

// ---------------------------------------------------------------------------
// Structs read from objects only

/// `T` read from `json`, which must hold one object. Every struct read
/// here (the option schema, checkpoints) is read through [`object`], whose
/// [`de::value::MapAccessDeserializer`] compiles in only the derived
/// `visit_map`: serde_json's `deserialize_struct` also reads a struct from
/// an array (its members in order), which neither options nor checkpoints
/// mean, and each such `visit_seq` costs the WebAssembly module (about
/// 3 KB gzipped for the option types).
pub(crate) fn object_from_str<T: DeserializeOwned>(json: &str) -> serde_json::Result<T> {
    let mut d = serde_json::Deserializer::from_str(json);
    let value = object(&mut d)?;
    d.end()?;
    Ok(value)
}

/// `T` read from an object only (see [`object_from_str`]); for
/// `#[serde(deserialize_with = "..")]` on a member holding a struct.
pub(crate) fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<T, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(m))
        }
    }
    d.deserialize_map(V(std::marker::PhantomData))
}

/// A struct [`object`] reads.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        object(d).map(Object)
    }
}

/// [`object`] or `null` (`None`).
pub(crate) fn object_or_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Ok(Option::<Object<T>>::deserialize(d)?.map(|o| o.0))
}

/// An array of [`object`]s.
pub(crate) fn objects<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Vec::<Object<T>>::deserialize(d)?
        .into_iter()
        .map(|o| o.0)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_checks_and_trims() {
        assert_eq!(JsonText::parse(" [1, 2]\n").unwrap().as_str(), "[1, 2]");
        assert_eq!(JsonText::parse("\"x\"").unwrap().to_string(), "\"x\"");
        for bad in ["", " ", "{", "[1,]", "01", "1 2", "{\"a\":1,}", "nul"] {
            let e = JsonText::parse(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Decode, "{bad:?}");
        }
    }

    #[test]
    fn decodes_as_text_or_as_a_type() {
        let t = JsonText::from_json_bytes(b" {\"id\": 3} ").unwrap();
        assert_eq!(t.as_str(), "{\"id\": 3}");
        assert!(JsonText::from_json_bytes(b"<html>").is_err());
        let v: serde_json::Value = FromJson::from_json_bytes(b"{\"id\": 3}").unwrap();
        assert_eq!(v["id"], 3);
        let (kind, _) = <u32 as FromJson>::from_json_bytes(b"\"x\"").unwrap_err();
        assert_eq!(kind, ErrorKind::Record);
        let (kind, _) = <u32 as FromJson>::from_json_bytes(b"nope").unwrap_err();
        assert_eq!(kind, ErrorKind::Decode);
        assert_eq!(t.deserialize::<serde_json::Value>().unwrap()["id"], 3);
    }

    #[test]
    fn encodes_types_and_passes_text_through() {
        let t = JsonText::parse("{ \"a\" : 1 }").unwrap();
        assert_eq!(t.to_json().unwrap().as_str(), "{ \"a\" : 1 }");
        assert_eq!(<&JsonText as ToJson>::to_json(&&t).unwrap(), t);
        assert_eq!(
            serde_json::json!({"a": 1}).to_json().unwrap().as_str(),
            "{\"a\":1}"
        );
    }
}

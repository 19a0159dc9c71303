//! The URL parser the core's [`Url`](crate::core::Url) stands on: a leaf, so
//! that the core itself names no platform.
//!
//! Natively the `url` crate; in WebAssembly the platform's own `URL` class
//! (browsers, workers, Node 20+), which implements the same WHATWG URL
//! Standard, so the npm package does not carry a second URL parser and its
//! IDNA tables. Both give the standard serialization and the serialized
//! origin; the core works on those.

/// A parsed URL: its serialization, and its serialized origin (`None` for
/// an opaque origin).
pub(crate) type Parsed = (String, Option<String>);

/// Parses `input` (absolute), or resolves it against `base` (an absolute
/// URL's serialization). The error says why, without the input (which may
/// hold a credential).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn parse(base: Option<&str>, input: &str) -> Result<Parsed, String> {
    let parsed = match base {
        None => ::url::Url::parse(input),
        Some(base) => ::url::Url::parse(base).and_then(|b| b.join(input)),
    };
    let u = parsed.map_err(|e| e.to_string())?;
    let origin = match u.origin() {
        o @ ::url::Origin::Tuple(..) => Some(o.ascii_serialization()),
        ::url::Origin::Opaque(_) => None,
    };
    Ok((u.into(), origin))
}

/// Parses `input` (absolute), or resolves it against `base` (an absolute
/// URL's serialization). The error says why, without the input (which may
/// hold a credential).
///
/// Where an engine departs from the standard this follows the engine, except
/// for hosts: Chromium percent-encodes characters the standard forbids in a
/// host (`http://exa mple/` is `http://exa%20mple/` there, an error in Node
/// and in the `url` crate); here, as natively, they are errors.
#[cfg(target_arch = "wasm32")]
pub(crate) fn parse(base: Option<&str>, input: &str) -> Result<Parsed, String> {
    let parsed = match base {
        None => web_sys::Url::new(input),
        Some(base) => web_sys::Url::new_with_base(input, base),
    };
    // The engines' messages differ and some quote the input: one fixed
    // message instead.
    let u = parsed.map_err(|_| String::from("invalid URL"))?;
    // No valid host of these schemes has a `%`.
    let special = matches!(
        u.protocol().as_str(),
        "http:" | "https:" | "ws:" | "wss:" | "ftp:"
    );
    if special && u.host().contains('%') {
        return Err("invalid domain character".into());
    }
    let origin = u.origin();
    Ok((u.href(), (origin != "null").then_some(origin)))
}
